//! `arena serve`: the web app over a store serves the report's views built from the store at each
//! request (a game stored after the server started shows on the next visit), escapes what the store
//! holds, answers unknown pages 404 and other methods 405, and binds to 127.0.0.1 by default.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use arena::engine::runner::{EndReason, MatchResult};
use arena::engine::schedule::Pairing;
use arena::serve::{ServeConfig, WebServer};
use arena::store::{AgentRow, ScheduledMatch, Store};
use common::run_ok;

fn ok<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
    result.unwrap_or_else(|e| panic!("{e}"))
}

fn http() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

/// The status and body of `method` on `url`.
fn fetch(method: &str, url: &str) -> (u16, String) {
    let mut response = match method {
        "GET" => ok(http().get(url).call()),
        "POST" => ok(http().post(url).send("vote=a")),
        other => panic!("{other}"),
    };
    (response.status().as_u16(), ok(response.body_mut().read_to_string()))
}

/// An agent name that is markup.
const PLANTED: &str = "<script>window.__pwned=1</script>";

#[test]
fn the_web_app_shows_the_store_as_it_is_now_escaped() {
    let dir = ok(tempfile::tempdir());
    let db = dir.path().join("games.db");
    let db_text = db.to_string_lossy().into_owned();
    run_ok(&[
        "tournament",
        "--game",
        "tic_tac_toe",
        "--agents",
        "random",
        "first",
        "--games-per-pairing",
        "4",
        "--db",
        &db_text,
    ]);
    let server =
        ok(WebServer::start(&ServeConfig { db: db.as_path().into(), host: "127.0.0.1".into(), port: 0 }, |_| {}));
    let url = server.url();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let (status, page) = fetch("GET", &url);
    assert_eq!(status, 200);
    assert!(page.contains("random") && page.contains("first") && page.contains("<svg"), "the leaderboard and charts");

    // A game stored now, by an agent whose name is markup (against `random`, so the ratings
    // connect): shown on the next visit, as text.
    {
        let mut store = ok(Store::open(&db));
        let row = |name: &str| AgentRow { name: name.into(), spec: "random".into(), checkpoint_hash: None };
        let id = ok(store.create_tournament("tic_tac_toe", "{}", &[row(PLANTED), row("random")], &[], &[]));
        let scheduled = ScheduledMatch {
            index: 0,
            pairing: Pairing { round: 1, seats: [0, 1], opening: 0 },
            seed: 1,
            opening: vec![],
            judge: None,
        };
        ok(store.schedule(id, &[scheduled]));
        let result = MatchResult {
            returns: vec![1.0, -1.0],
            end: EndReason::Normal,
            length: 5,
            moves: [0, 3, 1, 4, 2].into_iter().map(games::Move::Action).collect(),
            move_micros: vec![0; 5],
            trajectory: vec![],
            turns: vec![],
        };
        ok(store.record(id, &[(0, result)]));
    }
    let (status, page) = fetch("GET", &url);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("&lt;script&gt;window.__pwned=1"), "the planted name is shown escaped");
    assert!(!page.contains(PLANTED), "the planted name never appears as markup");

    assert_eq!(fetch("GET", &format!("{url}health")), (200, "ok\n".to_string()));
    let (status, text) = fetch("GET", &format!("{url}nowhere"));
    assert!(status == 404 && text.contains("no such page: /nowhere"), "{status} {text}");
    let (status, text) = fetch("POST", &url);
    assert!(status == 405 && text.contains("POST is not allowed"), "{status} {text}");
}

#[test]
fn arena_serve_prints_where_it_serves_and_refuses_a_missing_store() {
    let dir = ok(tempfile::tempdir());
    let missing = dir.path().join("none.db");
    let (done, _, stderr) = common::arena(&["serve", "--db", &missing.to_string_lossy(), "--port", "0"]);
    assert!(!done && stderr.contains("does not exist"), "{stderr}");
    assert!(!missing.exists(), "no store is created to be served");

    let db = dir.path().join("games.db");
    let db_text = db.to_string_lossy().into_owned();
    run_ok(&[
        "tournament",
        "--game",
        "tic_tac_toe",
        "--agents",
        "random",
        "first",
        "--games-per-pairing",
        "2",
        "--db",
        &db_text,
    ]);
    let mut child = ok(Command::new(env!("CARGO_BIN_EXE_arena"))
        .args(["serve", "--quiet", "--port", "0", "--db", &db_text])
        .stdout(Stdio::piped())
        .spawn());
    let mut line = String::new();
    if let Some(stdout) = child.stdout.take() {
        ok(BufReader::new(stdout).read_line(&mut line));
    }
    let url = line.split(" at ").nth(1).unwrap_or_default().trim().to_string();
    let (status, page) = fetch("GET", &url);
    let _ = child.kill();
    let _ = child.wait();
    assert!(url.starts_with("http://127.0.0.1:"), "{line}");
    assert!(status == 200 && page.contains("first"), "{status}");
}
