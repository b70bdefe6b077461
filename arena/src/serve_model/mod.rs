//! `arena serve-model`: an OpenAI-compatible HTTP server over the arena's own batched inference,
//! so that a GGUF model or an evolved checkpoint can be measured by any tool that speaks the
//! OpenAI API (and played by `openai(...)` agents).
//!
//! One thread accepts requests; a request beyond the queue's bound is answered 503 at once (with
//! `Retry-After`), and the others go to a pool of handler threads, whose concurrent requests the
//! [`Generator`] batches. Bodies over the size bound get 413 before they are read. The server
//! binds to 127.0.0.1 unless told otherwise.

mod api;

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Instant;

use agents::llm::{Generator, GeneratorConfig, LlmModel, finetuned};
use serde_json::Value;

pub use self::api::{Api, Reply};
use crate::error::{Error, Result};

/// How `arena serve-model` serves.
#[derive(Clone, Debug)]
pub struct ServeModelConfig {
    /// A GGUF file or a fine-tuned checkpoint directory.
    pub model: PathBuf,
    /// The name `/v1/models` lists (default: the file's stem or the directory's name).
    pub name: Option<String>,
    /// The address to bind (127.0.0.1 by default; 0.0.0.0 to serve other machines).
    pub host: String,
    /// 0 picks a free port (printed when serving).
    pub port: u16,
    /// The most answers batched in one forward step.
    pub batch: usize,
    /// Requests answered at once by handler threads (the generator batches theirs).
    pub handlers: usize,
    /// Requests waiting or being answered beyond which new ones get 503.
    pub max_queue: usize,
    /// The largest request body read.
    pub max_body_bytes: usize,
}

impl ServeModelConfig {
    pub fn new(model: impl Into<PathBuf>) -> Self {
        ServeModelConfig {
            model: model.into(),
            name: None,
            host: "127.0.0.1".to_string(),
            port: 8080,
            batch: 8,
            handlers: 16,
            max_queue: 64,
            max_body_bytes: 1 << 20,
        }
    }
}

/// One request answered, for the log.
#[derive(Clone, Debug)]
pub struct Served {
    pub method: String,
    pub path: String,
    pub status: u16,
    pub seconds: f64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

/// A running server; [`ModelServer::stop`] ends it (so does dropping it).
pub struct ModelServer {
    address: SocketAddr,
    name: String,
    server: Arc<tiny_http::Server>,
    acceptor: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for ModelServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelServer").field("address", &self.address).field("name", &self.name).finish()
    }
}

/// An HTTP server listening on `host:port` (port 0: a free one), and the address it got.
pub(crate) fn bind(host: &str, port: u16) -> Result<(tiny_http::Server, SocketAddr)> {
    let server = tiny_http::Server::http((host, port))
        .map_err(|e| Error::Invalid(format!("cannot listen on {host}:{port}: {e}")))?;
    let address =
        server.server_addr().to_ip().ok_or_else(|| Error::Invalid(format!("{host}:{port} is not an IP address")))?;
    Ok((server, address))
}

/// The name a model file or checkpoint directory is served under.
fn default_name(path: &Path) -> String {
    let name = if path.is_dir() { path.file_name() } else { path.file_stem() };
    name.map_or_else(|| "model".to_string(), |n| n.to_string_lossy().into_owned())
}

impl ModelServer {
    /// Loads the model, binds the address and starts answering; `log` is told of each request.
    pub fn start(config: &ServeModelConfig, log: impl Fn(&Served) + Send + Sync + 'static) -> Result<ModelServer> {
        for (value, flag) in [(config.batch, "batch"), (config.handlers, "handlers"), (config.max_queue, "max-queue")] {
            if value == 0 {
                return Err(Error::Invalid(format!("--{flag} must be at least 1")));
            }
        }
        let model = if config.model.is_dir() {
            finetuned::load_finetuned(&config.model)?
        } else {
            LlmModel::load(&config.model)?
        };
        let generator = Generator::start(model, GeneratorConfig::batch(config.batch))?;
        let name = config.name.clone().unwrap_or_else(|| default_name(&config.model));
        let (server, address) = crate::serve_model::bind(&config.host, config.port)?;
        let server = Arc::new(server);
        let api = Arc::new(Api::new(name.clone(), generator));
        let acceptor = {
            let (server, config, log) = (server.clone(), config.clone(), Arc::new(log));
            std::thread::Builder::new()
                .name("serve-model".to_string())
                .spawn(move || accept(&server, &api, &config, log))
                .map_err(|e| Error::Invalid(format!("cannot start the server thread: {e}")))?
        };
        Ok(ModelServer { address, name, server, acceptor: Some(acceptor) })
    }

    /// `http://HOST:PORT/v1`.
    pub fn url(&self) -> String {
        format!("http://{}/v1", self.address)
    }

    /// The model's name in the API.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Serves until the process ends.
    pub fn wait(mut self) {
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }

    /// Stops accepting; requests being answered finish.
    pub fn stop(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        self.server.unblock();
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

impl Drop for ModelServer {
    fn drop(&mut self) {
        self.shut_down();
    }
}

type Log = Arc<dyn Fn(&Served) + Send + Sync>;

/// Accepts requests until the server is unblocked: answers at once those over the queue's bound
/// or the body limit, and hands the others to the handler pool.
fn accept(server: &tiny_http::Server, api: &Arc<Api>, config: &ServeModelConfig, log: Log) {
    let (work, queue) = crossbeam_channel::bounded::<(tiny_http::Request, Instant)>(config.max_queue);
    let pending = Arc::new(AtomicUsize::new(0));
    let handlers: Vec<JoinHandle<()>> = (0..config.handlers)
        .filter_map(|i| {
            let (queue, api, pending, log, limit) =
                (queue.clone(), api.clone(), pending.clone(), log.clone(), config.max_body_bytes);
            std::thread::Builder::new()
                .name(format!("serve-model-{i}"))
                .spawn(move || {
                    for (request, received) in queue.iter() {
                        answer(request, received, &api, limit, log.as_ref());
                        pending.fetch_sub(1, Ordering::SeqCst);
                    }
                })
                .ok()
        })
        .collect();
    while let Ok(request) = server.recv() {
        let received = Instant::now();
        if pending.load(Ordering::SeqCst) >= config.max_queue {
            let reply = Reply::error(
                503,
                "server_busy",
                format!("the server is busy: {} requests are waiting or being answered", config.max_queue),
                None,
            );
            respond(request, &reply, received, log.as_ref(), Some(1));
            continue;
        }
        pending.fetch_add(1, Ordering::SeqCst);
        if let Err(
            crossbeam_channel::TrySendError::Full((request, _))
            | crossbeam_channel::TrySendError::Disconnected((request, _)),
        ) = work.try_send((request, received))
        {
            pending.fetch_sub(1, Ordering::SeqCst);
            let reply = Reply::error(503, "server_busy", "the server is busy", None);
            respond(request, &reply, received, log.as_ref(), Some(1));
        }
    }
    drop(work);
    for handler in handlers {
        let _ = handler.join();
    }
}

/// Routes one request and answers it.
fn answer(
    mut request: tiny_http::Request,
    received: Instant,
    api: &Api,
    limit: usize,
    log: &(dyn Fn(&Served) + Send + Sync),
) {
    use tiny_http::Method;
    let path = request.url().split('?').next().unwrap_or("").trim_end_matches('/').to_string();
    let post = |handler: fn(&Api, &Value) -> Reply, request: &mut tiny_http::Request| -> Reply {
        match read_json(request, limit) {
            Ok(body) => handler(api, &body),
            Err(reply) => reply,
        }
    };
    let reply = match (request.method(), path.as_str()) {
        (Method::Get, "/v1/models") => api.models(),
        (Method::Get, "/health") => Reply { status: 200, body: serde_json::json!({ "status": "ok" }) },
        (Method::Post, "/v1/chat/completions") => post(Api::chat, &mut request),
        (Method::Post, "/v1/completions") => post(Api::complete, &mut request),
        (_, "/v1/models" | "/health" | "/v1/chat/completions" | "/v1/completions") => {
            Reply::error(405, "invalid_request_error", format!("{} is not allowed on {path}", request.method()), None)
        }
        _ => Reply::error(
            404,
            "invalid_request_error",
            format!("no such endpoint: {path} (served: /v1/models, /v1/chat/completions, /v1/completions)"),
            None,
        ),
    };
    respond(request, &reply, received, log, None);
}

/// The request's body as JSON, or the error reply: 413 over `limit` bytes, 400 if not JSON.
fn read_json(request: &mut tiny_http::Request, limit: usize) -> std::result::Result<Value, Reply> {
    let too_large =
        || Reply::error(413, "invalid_request_error", format!("the request body is over {limit} bytes"), None);
    if request.body_length().is_some_and(|length| length > limit) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    request
        .as_reader()
        .take(limit as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|e| Reply::error(400, "invalid_request_error", format!("cannot read the request body: {e}"), None))?;
    if body.len() > limit {
        return Err(too_large());
    }
    serde_json::from_slice(&body)
        .map_err(|e| Reply::error(400, "invalid_request_error", format!("the request body is not JSON: {e}"), None))
}

fn respond(
    request: tiny_http::Request,
    reply: &Reply,
    received: Instant,
    log: &(dyn Fn(&Served) + Send + Sync),
    retry_after: Option<u32>,
) {
    let served = Served {
        method: request.method().to_string(),
        path: request.url().to_string(),
        status: reply.status,
        seconds: received.elapsed().as_secs_f64(),
        prompt_tokens: reply.body.pointer("/usage/prompt_tokens").and_then(Value::as_u64).unwrap_or(0),
        completion_tokens: reply.body.pointer("/usage/completion_tokens").and_then(Value::as_u64).unwrap_or(0),
    };
    let mut response = tiny_http::Response::from_string(reply.body.to_string()).with_status_code(reply.status);
    if let Ok(header) = tiny_http::Header::from_bytes("Content-Type", "application/json") {
        response.add_header(header);
    }
    if let Some(seconds) = retry_after
        && let Ok(header) = tiny_http::Header::from_bytes("Retry-After", seconds.to_string())
    {
        response.add_header(header);
    }
    // A client that went away is no error of the server's.
    let _ = request.respond(response);
    log(&served);
}
