//! `arena serve`: a small web app over a store, for people. It serves the report's views — the
//! leaderboard with intervals, the crosstable, the rating history and the game viewer — built
//! from the store at each request, so a page always shows what the store holds now; and a vote
//! page ([`vote`]): two anonymous answers to the same prompt, the person's choice stored as a
//! battle that the ratings read; and an approve page ([`approve`]) where a person decides on the
//! promotions a run started with `arena evolve --approve web` waits on; and a play page ([`play`])
//! where a person plays a board game against any agent, or judges a debate between two agents
//! live (`/judge/new`), the game stored like any other; and a judge page ([`judge`]) listing the
//! stored debates that wait for a person's verdict. It binds to 127.0.0.1 unless told otherwise.

mod approve;
mod judge;
mod play;
mod vote;

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
    /// An evolve run whose report (rating history, lineage, generations) the leaderboard page
    /// shows, instead of the store's alone.
    pub run: Option<std::path::PathBuf>,
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
const PAGES: &str = "/ (the store's report), /play, /judge, /judge/new, /vote, /approve, /health";

impl WebServer {
    /// Checks the store can be read, binds, and serves from a thread of its own.
    pub fn start(config: &ServeConfig, log: impl Fn(&Served) + Send + Sync + 'static) -> Result<WebServer> {
        if !config.db.exists() {
            return Err(Error::Invalid(format!("store {} does not exist: nothing to serve", config.db)));
        }
        // A store that cannot be read fails here, not at the first visitor.
        if has_results(&config.db)? || config.run.is_some() {
            render(&source(config))?;
        }
        let (server, address) = crate::serve_model::bind(&config.host, config.port)?;
        let server = Arc::new(server);
        let acceptor = {
            let (server, db, report) = (server.clone(), config.db.clone(), source(config));
            let sessions = Arc::new(play::Sessions::default());
            std::thread::Builder::new()
                .name("arena-serve".to_string())
                .spawn(move || {
                    for request in server.incoming_requests() {
                        let served = answer(request, &db, &report, &sessions);
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

/// What the leaderboard page reports on: the run, or the store.
fn source(config: &ServeConfig) -> Source {
    match &config.run {
        Some(run) => Source::Run(run.clone()),
        None => Source::Store(config.db.clone()),
    }
}

/// Whether the store holds a finished game or a vote (what the leaderboard is made of).
fn has_results(db: &StoreLocation) -> Result<bool> {
    let store = crate::store::Store::connect(db)?;
    for tournament in store.tournaments()? {
        if store.finished_count(tournament.id)? > 0 {
            return Ok(true);
        }
    }
    Ok(!store.votes(None)?.is_empty())
}

/// An answer: status, content type, body, and where a redirect points.
struct Page {
    status: u16,
    content_type: &'static str,
    body: String,
    location: Option<String>,
}

impl Page {
    fn html(status: u16, body: String) -> Page {
        Page { status, content_type: "text/html; charset=utf-8", body, location: None }
    }

    fn text(status: u16, body: String) -> Page {
        Page { status, content_type: "text/plain; charset=utf-8", body, location: None }
    }

    /// 303: see the page at `path` (after a form post).
    fn redirect(path: &str) -> Page {
        Page { location: Some(path.to_string()), ..Page::text(303, format!("see {path}\n")) }
    }
}

/// The one value of a form field; `None` when it is missing or given twice.
fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    let mut values = form.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str());
    match (values.next(), values.next()) {
        (Some(value), None) => Some(value),
        _ => None,
    }
}

/// Routes one request and answers it.
fn answer(
    mut request: tiny_http::Request,
    db: &StoreLocation,
    report: &Source,
    sessions: &Arc<play::Sessions>,
) -> Served {
    use tiny_http::Method;
    let method = request.method().to_string();
    let path = request.url().split('?').next().unwrap_or("").to_string();
    let page = match (request.method(), path.as_str()) {
        (Method::Get | Method::Head, "/") => match has_results(db) {
            Ok(false) if matches!(report, Source::Store(_)) => Page::html(
                200,
                layout(
                    "No finished games yet",
                    "<p id=\"empty\">The store holds no finished game and no vote yet: play a game, judge the \
                     debates that wait for a verdict, or run a tournament into this store.</p>",
                ),
            ),
            _ => match render(report) {
                Ok((page, _, _)) => Page::html(200, page),
                Err(error) => Page::text(500, format!("cannot read store {db}: {error:#}\n")),
            },
        },
        (Method::Get | Method::Head, "/health") => Page::text(200, "ok\n".to_string()),
        (Method::Get | Method::Head, "/vote") => vote::show(db),
        (Method::Post, "/vote") => match read_form(&mut request) {
            Ok(form) => vote::cast(db, &form),
            Err(page) => page,
        },
        (Method::Get | Method::Head, "/approve") => approve::show(db),
        (Method::Post, "/approve") => match read_form(&mut request) {
            Ok(form) => approve::decide(db, &form),
            Err(page) => page,
        },
        (Method::Get | Method::Head, "/play") => play::new_game_form(),
        (Method::Post, "/play") => match read_form(&mut request) {
            Ok(form) => play::start(sessions, db, &form),
            Err(page) => page,
        },
        (Method::Get | Method::Head, "/judge") => judge::list(db),
        (Method::Get | Method::Head, "/judge/new") => play::new_debate_form(),
        (Method::Post, "/judge/new") => match read_form(&mut request) {
            Ok(form) => play::start_debate(sessions, db, &form),
            Err(page) => page,
        },
        (method, awaited) if awaited.starts_with("/judge/") => match (method, judge::parse_path(&awaited[7..])) {
            (_, None) => {
                Page::text(404, format!("no such page: {path} (a debate to judge is /judge/TOURNAMENT/MATCH)\n"))
            }
            (Method::Get | Method::Head, Some((tournament, index))) => judge::show(db, tournament, index),
            (Method::Post, Some((tournament, index))) => match read_form(&mut request) {
                Ok(form) => judge::decide(db, tournament, index, &form),
                Err(page) => page,
            },
            _ => Page::text(405, format!("{method} is not allowed on {path}\n")),
        },
        (Method::Get | Method::Head, game) if game.starts_with("/play/") => play::show(sessions, &game[6..]),
        (Method::Post, game) if game.starts_with("/play/") => match read_form(&mut request) {
            Ok(form) => play::post_move(sessions, &game[6..], &form),
            Err(page) => page,
        },
        (_, "/" | "/health" | "/vote" | "/approve" | "/play" | "/judge" | "/judge/new") => {
            Page::text(405, format!("{method} is not allowed on {path}\n"))
        }
        _ => Page::text(404, format!("no such page: {path} (served: {PAGES})\n")),
    };
    let status = page.status;
    let mut response = tiny_http::Response::from_string(page.body).with_status_code(status);
    if let Some(location) = page.location.as_deref()
        && let Ok(header) = tiny_http::Header::from_bytes(&b"Location"[..], location.as_bytes())
    {
        response.add_header(header);
    }
    for (name, value) in [
        ("Content-Type", page.content_type),
        // Every text on the page is escaped; this keeps a slip from running anything foreign.
        (
            "Content-Security-Policy",
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; form-action 'self'",
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

/// The most a form post may carry.
const MAX_FORM_BYTES: usize = 4096;

/// A posted form's fields (`application/x-www-form-urlencoded`), or the error page: 413 when too
/// large, 415 for another encoding, 400 when unreadable.
fn read_form(request: &mut tiny_http::Request) -> std::result::Result<Vec<(String, String)>, Page> {
    use std::io::Read;
    let form_type = request
        .headers()
        .iter()
        .any(|h| h.field.equiv("Content-Type") && h.value.as_str().starts_with("application/x-www-form-urlencoded"));
    if !form_type {
        return Err(Page::text(415, "post a form (application/x-www-form-urlencoded)\n".to_string()));
    }
    if request.body_length().is_some_and(|length| length > MAX_FORM_BYTES) {
        return Err(Page::text(413, format!("a form of at most {MAX_FORM_BYTES} bytes\n")));
    }
    let mut body = Vec::new();
    request
        .as_reader()
        .take(MAX_FORM_BYTES as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|e| Page::text(400, format!("cannot read the form: {e}\n")))?;
    if body.len() > MAX_FORM_BYTES {
        return Err(Page::text(413, format!("a form of at most {MAX_FORM_BYTES} bytes\n")));
    }
    Ok(form_urlencoded::parse(&body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
}

/// A page around `body`, in the report's plain style.
fn layout(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><style>\
         body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}}\
         .answers{{display:grid;grid-template-columns:1fr 1fr;gap:1rem}}\
         .answer,.prompt{{white-space:pre-wrap;border:1px solid #ccc;border-radius:6px;padding:.8rem;background:#fafafa}}\
         button{{font-size:1rem;margin:.3rem;padding:.4rem 1rem}} nav a{{margin-right:1rem}}</style></head>\
         <body><nav><a href=\"/\">Leaderboard</a><a href=\"/play\">Play</a><a href=\"/judge\">Judge</a><a href=\"/vote\">Vote</a><a href=\"/approve\">Approve</a></nav><h1>{title}</h1>{body}</body></html>",
        title = crate::report::html::escape(title)
    )
}
