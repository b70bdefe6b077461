//! A scripted HTTP server for tests of HTTP clients: each request is recorded and answered as a
//! handler says — a JSON reply with any status and headers, raw bytes, a hang, or a closed
//! connection — and the most requests in flight at once is counted.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How the server answers one request.
#[derive(Clone, Debug)]
pub enum Answer {
    /// A reply with this status, body (sent as JSON) and extra headers.
    Json { status: u16, body: String, headers: Vec<(String, String)> },
    /// These bytes as the whole response, then the connection closes.
    Raw(String),
    /// Nothing for this long, then the connection closes.
    Hang(Duration),
    /// The connection closes at once, without a reply.
    Close,
}

impl Answer {
    /// A 200 reply with `body`.
    pub fn ok(body: serde_json::Value) -> Answer {
        Answer::Json { status: 200, body: body.to_string(), headers: Vec::new() }
    }

    /// An error reply in OpenAI's form.
    pub fn error(status: u16, message: &str) -> Answer {
        let body = serde_json::json!({ "error": { "message": message, "type": "server_error" } });
        Answer::Json { status, body: body.to_string(), headers: Vec::new() }
    }
}

/// A request as the server read it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// The path and query (`/v1/chat/completions`).
    pub path: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The body as JSON (`Null` if it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

type Handler = dyn Fn(&Recorded, usize) -> Answer + Send + Sync;

/// The server; it stops when dropped.
#[allow(missing_debug_implementations)]
pub struct FakeServer {
    /// `http://127.0.0.1:PORT/v1`.
    pub url: String,
    pub port: u16,
    requests: Arc<Mutex<Vec<Recorded>>>,
    in_flight: Arc<AtomicUsize>,
    max_in_flight: Arc<AtomicUsize>,
    stopped: Arc<AtomicBool>,
}

impl FakeServer {
    /// Starts a server on a free port of 127.0.0.1 answering each request as `handler` says (it is
    /// given the request and its index, from 0, in arrival order).
    pub fn start(handler: impl Fn(&Recorded, usize) -> Answer + Send + Sync + 'static) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("cannot listen: {e}"));
        Self::serve(listener, Arc::new(handler))
    }

    /// Starts a server on `port` of 127.0.0.1 (a server coming back on the port of one stopped).
    pub fn start_on(port: u16, handler: impl Fn(&Recorded, usize) -> Answer + Send + Sync + 'static) -> FakeServer {
        let listener =
            TcpListener::bind(("127.0.0.1", port)).unwrap_or_else(|e| panic!("cannot listen on {port}: {e}"));
        Self::serve(listener, Arc::new(handler))
    }

    fn serve(listener: TcpListener, handler: Arc<Handler>) -> FakeServer {
        let port = listener.local_addr().map(|a| a.port()).unwrap_or_else(|e| panic!("{e}"));
        let server = FakeServer {
            url: format!("http://127.0.0.1:{port}/v1"),
            port,
            requests: Arc::default(),
            in_flight: Arc::default(),
            max_in_flight: Arc::default(),
            stopped: Arc::default(),
        };
        let (requests, in_flight, max_in_flight, stopped) =
            (server.requests.clone(), server.in_flight.clone(), server.max_in_flight.clone(), server.stopped.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (handler, requests, in_flight, max_in_flight) =
                    (handler.clone(), requests.clone(), in_flight.clone(), max_in_flight.clone());
                std::thread::spawn(move || {
                    answer_connection(stream, handler.as_ref(), &requests, &in_flight, &max_in_flight)
                });
            }
        });
        server
    }

    /// Every request read so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The most requests that were being answered at once.
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::SeqCst);
        // Wakes the accepting thread, which sees the flag and closes the listener.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Reads one request and answers it; the request counts as in flight from when it was read to
/// when its answer is decided (a client may send its next request as soon as it has the reply).
fn answer_connection(
    stream: TcpStream,
    handler: &Handler,
    requests: &Mutex<Vec<Recorded>>,
    in_flight: &AtomicUsize,
    max_in_flight: &AtomicUsize,
) {
    let Some(request) = read_request(&stream) else { return };
    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    max_in_flight.fetch_max(now, Ordering::SeqCst);
    let index = {
        let mut all = requests.lock().unwrap_or_else(|p| p.into_inner());
        all.push(request.clone());
        all.len() - 1
    };
    let mut stream = stream;
    let answer = handler(&request, index);
    in_flight.fetch_sub(1, Ordering::SeqCst);
    match answer {
        Answer::Json { status, body, headers } => {
            let mut head = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            for (name, value) in headers {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            let _ = stream.write_all(format!("{head}\r\n{body}").as_bytes());
        }
        Answer::Raw(bytes) => {
            let _ = stream.write_all(bytes.as_bytes());
        }
        Answer::Hang(duration) => std::thread::sleep(duration),
        Answer::Close => {}
    }
    let _ = stream.flush();
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

fn read_request(stream: &TcpStream) -> Option<Recorded> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    let length = headers.iter().find(|(n, _)| n == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).ok()?;
    Some(Recorded { method, path, headers, body: String::from_utf8_lossy(&body).into_owned() })
}
