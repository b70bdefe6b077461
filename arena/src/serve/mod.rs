//! `arena serve`: a small web app over a store, for people. It serves the report's views — the
//! leaderboard with intervals, the crosstable, the rating history and the game viewer — built
//! from the store at each request, so a page always shows what the store holds now. It binds to
//! 127.0.0.1 unless told otherwise. Playing, voting and judging in the browser are not there yet.

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::error::{Error, Result};
use crate::report::{Source, render};
use crate::store::StoreLocation;

/// How `arena serve` serves.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// The store shown: a SQLite file, an evolve run's store, or a PostgreSQL database.
    pub db: StoreLocation,
    /// The address to bind (127.0.0.1 by default; 0.0.0.0 to serve other machines).
    pub host: String,
    /// 0 picks a free port (printed when serving).
    pub port: u16,
}

/// One answered request, for the log.
#[derive(Clone, Debug, PartialEq)]
pub struct Served {
    pub method: String,
    pub path: String,
    pub status: u16,
}

/// A running web app.
pub struct WebServer {
    address: SocketAddr,
    server: Arc<tiny_http::Server>,
    acceptor: Option<JoinHandle<()>>,
}

/// The pages served, for 404 answers.
const PAGES: &str = "/ (the store's report), /health";

impl WebServer {
    /// Checks the store can be read, binds, and serves from a thread of its own.
    pub fn start(config: &ServeConfig, log: impl Fn(&Served) + Send + Sync + 'static) -> Result<WebServer> {
        if !config.db.exists() {
            return Err(Error::Invalid(format!("store {} does not exist: nothing to serve", config.db)));
        }
        // A store that cannot be read fails here, not at the first visitor.
        render(&Source::Store(config.db.clone()))?;
        let server = tiny_http::Server::http((config.host.as_str(), config.port))
            .map_err(|e| Error::Invalid(format!("cannot listen on {}:{}: {e}", config.host, config.port)))?;
        let address = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| Error::Invalid(format!("{}:{} is not an IP address", config.host, config.port)))?;
        let server = Arc::new(server);
        let acceptor = {
            let (server, db) = (server.clone(), config.db.clone());
            std::thread::Builder::new()
                .name("arena-serve".to_string())
                .spawn(move || {
                    for request in server.incoming_requests() {
                        let served = answer(request, &db);
                        log(&served);
                    }
                })
                .map_err(|e| Error::Invalid(format!("cannot start the server thread: {e}")))?
        };
        Ok(WebServer { address, server, acceptor: Some(acceptor) })
    }

    /// `http://HOST:PORT/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.address)
    }

    /// Serves until the process ends.
    pub fn wait(mut self) {
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

impl std::fmt::Debug for WebServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebServer").field("address", &self.address).finish()
    }
}

impl Drop for WebServer {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// Routes one request and answers it.
fn answer(request: tiny_http::Request, db: &StoreLocation) -> Served {
    use tiny_http::Method;
    let method = request.method().to_string();
    let path = request.url().split('?').next().unwrap_or("").to_string();
    let (status, content_type, body) = match (request.method(), path.as_str()) {
        (Method::Get | Method::Head, "/") => match render(&Source::Store(db.clone())) {
            Ok((page, _, _)) => (200, "text/html; charset=utf-8", page),
            Err(error) => (500, "text/plain; charset=utf-8", format!("cannot read store {db}: {error:#}\n")),
        },
        (Method::Get | Method::Head, "/health") => (200, "text/plain; charset=utf-8", "ok\n".to_string()),
        (_, "/" | "/health") => (405, "text/plain; charset=utf-8", format!("{method} is not allowed on {path}\n")),
        _ => (404, "text/plain; charset=utf-8", format!("no such page: {path} (served: {PAGES})\n")),
    };
    let mut response = tiny_http::Response::from_string(body).with_status_code(status);
    for (name, value) in [
        ("Content-Type", content_type),
        // Every text on the page is escaped; this keeps a slip from running anything foreign.
        (
            "Content-Security-Policy",
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:",
        ),
        ("X-Content-Type-Options", "nosniff"),
        ("Cache-Control", "no-store"),
    ] {
        if let Ok(header) = tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
            response.add_header(header);
        }
    }
    // A visitor who left before the answer costs nothing.
    let _ = request.respond(response);
    Served { method, path, status }
}
