//! A headless Chromium driven over the DevTools protocol, for the tests of pages people view
//! (the report, `arena serve`).

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

/// The system Chromium: `$ARENA_CHROMIUM`, else `chromium`, `chromium-browser` or
/// `google-chrome` on the PATH.
pub fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("ARENA_CHROMIUM") {
        return PathBuf::from(path);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            if dir.join(name).is_file() {
                return dir.join(name);
            }
        }
    }
    panic!("no Chromium found: install Debian's `chromium` package (.ci/run does) or set ARENA_CHROMIUM");
}

/// A headless Chromium and one page of it, attached through the DevTools protocol.
pub struct Browser {
    child: Child,
    socket: WebSocket<MaybeTlsStream<TcpStream>>,
    session: String,
    next_id: u64,
    /// Console errors, uncaught exceptions and error log entries, as text.
    pub errors: Vec<String>,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub fn launch() -> Browser {
        let profile = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut child = Command::new(chromium())
            .args(["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--remote-debugging-port=0"])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(["--window-size=1200,900", "about:blank"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start Chromium: {e}"));
        let stderr = child.stderr.take().unwrap_or_else(|| panic!("Chromium's stderr"));
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    let _ = sender.send(url.trim().to_string());
                }
            }
        });
        let url = receiver
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("Chromium's DevTools address: {e}"));
        let (socket, _) = tungstenite::connect(url.as_str()).unwrap_or_else(|e| panic!("DevTools at {url}: {e}"));
        if let MaybeTlsStream::Plain(stream) = socket.get_ref() {
            stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap_or_else(|e| panic!("{e}"));
        }
        let mut browser =
            Browser { child, socket, session: String::new(), next_id: 0, errors: Vec::new(), _profile: profile };
        let target = browser.call("Target.createTarget", json!({ "url": "about:blank" }));
        let attached =
            browser.call("Target.attachToTarget", json!({ "targetId": target["targetId"], "flatten": true }));
        browser.session = attached["sessionId"].as_str().unwrap_or_default().to_string();
        for domain in ["Runtime.enable", "Log.enable", "Page.enable"] {
            browser.call(domain, json!({}));
        }
        browser
    }

    /// Sends a command (to the page once attached) and returns its result; events read on the
    /// way are checked for errors.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if !self.session.is_empty() {
            message["sessionId"] = json!(self.session);
        }
        self.socket.send(Message::text(message.to_string())).unwrap_or_else(|e| panic!("{method}: {e}"));
        loop {
            let reply = self.next_message();
            if reply["id"] == json!(id) {
                if let Some(error) = reply.get("error") {
                    panic!("{method}: {error}");
                }
                return reply["result"].clone();
            }
        }
    }

    /// The next message; an event that reports an error is kept in `errors`.
    fn next_message(&mut self) -> Value {
        loop {
            match self.socket.read().unwrap_or_else(|e| panic!("DevTools connection: {e}")) {
                Message::Text(text) => {
                    let value: Value = serde_json::from_str(text.as_str()).unwrap_or_else(|e| panic!("{e}: {text}"));
                    self.note_error(&value);
                    return value;
                }
                Message::Close(_) => panic!("Chromium closed the DevTools connection"),
                _ => continue,
            }
        }
    }

    fn note_error(&mut self, event: &Value) {
        let params = &event["params"];
        match event["method"].as_str() {
            Some("Runtime.exceptionThrown") => self.errors.push(format!("exception: {}", params["exceptionDetails"])),
            Some("Runtime.consoleAPICalled") if matches!(params["type"].as_str(), Some("error" | "assert")) => {
                self.errors.push(format!("console: {}", params["args"]))
            }
            Some("Log.entryAdded") if params["entry"]["level"] == "error" => {
                self.errors.push(format!("log: {}", params["entry"]["text"]))
            }
            _ => {}
        }
    }

    /// Opens `path` and waits for its load event.
    pub fn open(&mut self, path: &Path) {
        self.open_url(&format!("file://{}", path.display()));
    }

    /// Opens `url` and waits for its load event.
    pub fn open_url(&mut self, url: &str) {
        self.call("Page.navigate", json!({ "url": url }));
        self.wait_for_load(url);
    }

    /// Waits for the page's next load event (after a navigation, a click on a link or a button).
    pub fn wait_for_load(&mut self, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if self.next_message()["method"] == "Page.loadEventFired" {
                return;
            }
        }
        panic!("{what} did not finish loading");
    }

    /// The value of a JavaScript expression in the page.
    pub fn eval(&mut self, expression: &str) -> Value {
        let result = self.call("Runtime.evaluate", json!({ "expression": expression, "returnByValue": true }));
        if let Some(exception) = result.get("exceptionDetails") {
            panic!("{expression}: {exception}");
        }
        result["result"]["value"].clone()
    }

    /// A PNG of the whole page, kept at `path`.
    pub fn screenshot(&mut self, path: &Path) {
        let shot = self.call("Page.captureScreenshot", json!({ "format": "png", "captureBeyondViewport": true }));
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("screenshot: {e}"));
        assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "a screenshot of {} bytes", png.len());
        std::fs::write(path, png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
