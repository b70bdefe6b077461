//! `arena serve`: the web app over a store serves the report's views built from the store at each
//! request (a game stored after the server started shows on the next visit), escapes what the store
//! holds, answers unknown pages 404 and other methods 405, and binds to 127.0.0.1 by default. Its
//! vote page shows two anonymous answers, stores one vote per shown pair as a battle that
//! `arena ratings` reads, and refuses malformed, replayed and never-shown votes. Its approve page
//! decides the promotions an `arena evolve --approve web` run waits on.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use arena::engine::runner::{EndReason, MatchResult, TextTurn};
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

/// Posts `form` (already encoded) to `url` as a form.
fn post_form(url: &str, form: &str) -> (u16, String) {
    let mut response = ok(http().post(url).header("Content-Type", "application/x-www-form-urlencoded").send(form));
    (response.status().as_u16(), ok(response.body_mut().read_to_string()))
}

/// A store `name` in `dir` holding a tic-tac-toe tournament of `random` against `first`.
fn games_store(dir: &std::path::Path, name: &str, games: &str) -> std::path::PathBuf {
    let db = dir.join(name);
    let db_text = db.to_string_lossy().into_owned();
    run_ok(&[
        "tournament",
        "--game",
        "tic_tac_toe",
        "--agents",
        "random",
        "first",
        "--games-per-pairing",
        games,
        "--db",
        &db_text,
    ]);
    db
}

/// `arena serve` of the store `db` on a free port of 127.0.0.1.
fn serve_store(db: &std::path::Path) -> WebServer {
    ok(WebServer::start(&ServeConfig { db: db.into(), run: None, host: "127.0.0.1".into(), port: 0 }, |_| {}))
}

/// An agent name that is markup.
const PLANTED: &str = "<script>window.__pwned=1</script>";

#[test]
fn the_web_app_shows_the_store_as_it_is_now_escaped() {
    let dir = ok(tempfile::tempdir());
    let db = games_store(dir.path(), "games.db", "4");
    let server = serve_store(&db);
    let url = server.url();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let (status, page) = fetch("GET", &url);
    assert_eq!(status, 200);
    assert!(page.contains("random") && page.contains("first") && page.contains("<svg"), "the leaderboard and charts");

    // A game stored now, by an agent whose name is markup (against `random`, so the ratings
    // connect): shown on the next visit, as text.
    {
        let result = MatchResult {
            returns: vec![1.0, -1.0],
            end: EndReason::Normal,
            length: 5,
            moves: [0, 3, 1, 4, 2].into_iter().map(games::Move::Action).collect(),
            move_micros: vec![0; 5],
            trajectory: vec![],
            turns: vec![],
        };
        store_one_match(&db, "tic_tac_toe", [(PLANTED, "random"), ("random", "random")], result);
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

    let db = games_store(dir.path(), "games.db", "2");
    let mut child = ok(Command::new(env!("CARGO_BIN_EXE_arena"))
        .args(["serve", "--quiet", "--port", "0", "--db"])
        .arg(&db)
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

/// A store with one quiz match in which `alpha` and `beta` answered the same question.
fn quiz_store(db: &std::path::Path, answer_alpha: &str, answer_beta: &str) {
    let question = "What is 2 + 2? <b>Answer</b> with a number.";
    let trace = |text: &str| agents::TextTrace {
        messages: vec![agents::ChatMessage::system("Answer briefly."), agents::ChatMessage::user(question)],
        completion: text.into(),
        tokens: vec![],
        logprobs: vec![],
        request: None,
    };
    let result = MatchResult {
        returns: vec![1.0, -1.0],
        end: EndReason::Normal,
        length: 3,
        moves: vec![
            games::Move::Action(0),
            games::Move::Text(answer_alpha.into()),
            games::Move::Text(answer_beta.into()),
        ],
        move_micros: vec![0, 0, 0],
        trajectory: vec![],
        turns: vec![
            TextTurn { seat: 0, ply: 1, trace: trace(answer_alpha), rejected: false },
            TextTurn { seat: 1, ply: 2, trace: trace(answer_beta), rejected: false },
        ],
    };
    let model = "llm(model=m.gguf)";
    store_one_match(db, "quiz(items=3,kinds=addition)", [("alpha", model), ("beta", model)], result);
}

/// Stores `result` as the one match of a new tournament of `game` between `agents` (name, spec).
fn store_one_match(db: &std::path::Path, game: &str, agents: [(&str, &str); 2], result: MatchResult) {
    let mut store = ok(Store::open(db));
    let rows = agents.map(|(name, spec)| AgentRow { name: name.into(), spec: spec.into(), checkpoint_hash: None });
    let id = ok(store.create_tournament(game, "{}", &rows, &[], &[]));
    let pairing = Pairing { round: 1, seats: [0, 1], opening: 0 };
    ok(store.schedule(id, &[ScheduledMatch { index: 0, pairing, seed: 1, opening: vec![], judge: None }]));
    ok(store.record(id, &[(0, result)]));
}

#[test]
fn a_vote_is_stored_once_as_a_battle_and_bad_votes_store_nothing() {
    let dir = ok(tempfile::tempdir());
    let db = dir.path().join("quiz.db");
    quiz_store(&db, "4", &format!("{PLANTED} five"));
    let server = serve_store(&db);
    let vote_url = format!("{}vote", server.url());
    let (status, page) = fetch("GET", &vote_url);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("What is 2 + 2? &lt;b&gt;Answer&lt;/b&gt;"), "the prompt, escaped: {page}");
    assert!(page.contains("&lt;script&gt;window.__pwned=1&lt;/script&gt; five") && !page.contains(PLANTED), "{page}");
    assert!(!page.contains("alpha") && !page.contains("beta"), "the answers are anonymous");
    let token = common::form_token(&page);
    let a_is_alpha = page.find("id=\"answer-a\">4<").is_some();

    // Bad posts: no choice, an unknown choice, a token never shown, not a form.
    for form in
        [format!("token={token}"), format!("token={token}&choice=c"), format!("token={token}&token={token}&choice=a")]
    {
        let (status, text) = post_form(&vote_url, &form);
        assert_eq!(status, 400, "{form}: {text}");
    }
    let (status, _) = post_form(&vote_url, &format!("token={}&choice=a", "0".repeat(32)));
    assert_eq!(status, 404, "a pair that was never shown");
    let mut response =
        ok(http().post(&vote_url).header("Content-Type", "text/plain").send(format!("token={token}&choice=a")));
    assert_eq!(response.status().as_u16(), 415, "{}", ok(response.body_mut().read_to_string()));
    assert!(ok(Store::open(&db).and_then(|s| s.votes(None))).is_empty(), "nothing stored by a bad post");

    // A vote for beta's answer (alpha won the game, so the two split), then the names revealed;
    // a replay is refused.
    let choice = if a_is_alpha { "b" } else { "a" };
    let (status, page) = post_form(&vote_url, &format!("token={token}&choice={choice}&voter=ana"));
    assert_eq!(status, 200, "{page}");
    let revealed = if a_is_alpha {
        "A was <b>alpha</b> and B was <b>beta</b>"
    } else {
        "A was <b>beta</b> and B was <b>alpha</b>"
    };
    assert!(page.contains(revealed), "{page}");
    let (status, _) = post_form(&vote_url, &format!("token={token}&choice={choice}"));
    assert_eq!(status, 409, "a second vote on the same pair");
    let votes = ok(Store::open(&db).and_then(|s| s.votes(None)));
    assert_eq!(votes.len(), 1);
    let (_, page) = fetch("GET", &vote_url);
    assert!(page.contains("Nothing to vote on"), "the only pair has its vote: {page}");

    // `arena ratings` reads the vote with the game: one win each.
    let ratings = common::json(&run_ok(&["ratings", "--db", &db.to_string_lossy(), "--json"]));
    let player =
        |name: &str| ratings.as_array().and_then(|p| p.iter().find(|p| p["name"] == name)).cloned().unwrap_or_default();
    for name in ["alpha", "beta"] {
        assert_eq!(player(name)["games"], 2, "{ratings}");
        assert_eq!(player(name)["score"], 0.5, "{ratings}");
    }
}

#[test]
fn a_person_votes_in_chromium_and_planted_markup_never_runs() {
    let dir = ok(tempfile::tempdir());
    let db = dir.path().join("quiz.db");
    let planted = "<img src=x onerror=\"window.__pwned=1\"><script>window.__pwned=2</script>";
    quiz_store(&db, "4", &format!("{planted} five"));
    let server = serve_store(&db);
    let mut browser = common::browser::Browser::launch();
    browser.open_url(&format!("{}vote", server.url()));
    let text = |browser: &mut common::browser::Browser, id: &str| {
        browser.eval(&format!("document.getElementById('{id}').textContent")).as_str().unwrap_or_default().to_string()
    };
    assert!(text(&mut browser, "prompt").contains("What is 2 + 2? <b>Answer</b>"), "the prompt as text");
    let answers = [text(&mut browser, "answer-a"), text(&mut browser, "answer-b")];
    assert!(answers.iter().any(|a| a.contains(planted)), "the planted answer is shown as text: {answers:?}");
    browser.eval("document.getElementById('vote-tie').click()");
    browser.wait_for_load("the vote's answer");
    let revealed = text(&mut browser, "revealed");
    assert!(revealed.contains("alpha") && revealed.contains("beta") && revealed.contains("a tie"), "{revealed}");
    assert_eq!(browser.eval("typeof window.__pwned"), serde_json::json!("undefined"), "planted markup ran");
    assert!(browser.errors.is_empty(), "console errors: {:?}", browser.errors);
    let votes = ok(Store::open(&db).and_then(|s| s.votes(None)));
    assert_eq!(votes.len(), 1);
    assert_eq!(votes[0].choice, arena::store::VoteChoice::Tie);
    let ratings = common::json(&run_ok(&["ratings", "--db", &db.to_string_lossy(), "--json"]));
    let games: Vec<&serde_json::Value> = ratings.as_array().into_iter().flatten().map(|p| &p["games"]).collect();
    assert_eq!(games, [2, 2], "the game and the vote, for each: {ratings}");
    // The leaderboard counts it: each agent has its game and the vote.
    browser.open_url(&server.url());
    assert!(browser.errors.is_empty(), "console errors on the leaderboard: {:?}", browser.errors);
}

#[test]
fn a_promotion_vetoed_on_the_approve_page_is_recorded_in_the_run_lineage() {
    let dir = ok(tempfile::tempdir());
    let config = dir.path().join("approve.toml");
    ok(std::fs::write(&config, common::approval_config(1)));
    let run = dir.path().join("run");
    let mut evolve = ok(Command::new(env!("CARGO_BIN_EXE_arena"))
        .args(["evolve", "--quiet", "--threads", "1", "--approve", "web", "--config"])
        .arg(&config)
        .arg("--run-dir")
        .arg(&run)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn());
    // The run waits with its request in its store.
    let db = run.join("arena.db");
    let started = std::time::Instant::now();
    while !(db.exists() && Store::open(&db).and_then(|s| s.pending_approvals()).is_ok_and(|p| !p.is_empty())) {
        assert!(started.elapsed().as_secs() < 120, "no approval request after 120 s");
        assert!(ok(evolve.try_wait()).is_none(), "the run ended before asking");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let server = serve_store(&db);
    let approve_url = format!("{}approve", server.url());
    let (status, text) = post_form(&approve_url, "decision=veto");
    assert_eq!(status, 400, "no token: {text}");
    let (status, _) = post_form(&approve_url, &format!("token={}&decision=veto", "0".repeat(32)));
    assert_eq!(status, 404, "a token no request has");

    let mut browser = common::browser::Browser::launch();
    browser.open_url(&approve_url);
    let request = browser.eval("document.getElementById('request').textContent");
    let request = request.as_str().unwrap_or_default();
    assert!(request.contains("promote g1c0 over its parent g0") && request.contains("Sample gate games"), "{request}");
    let token =
        browser.eval("document.querySelector('input[name=token]').value").as_str().unwrap_or_default().to_string();
    browser.eval("document.getElementById('by').value = 'bo'");
    browser.eval("document.getElementById('veto').click()");
    browser.wait_for_load("the decision's answer");
    let decided = browser.eval("document.getElementById('decided').textContent");
    assert!(decided.as_str().is_some_and(|t| t.contains("Vetoed by bo")), "{decided}");
    assert!(browser.errors.is_empty(), "console errors: {:?}", browser.errors);
    let (status, _) = post_form(&approve_url, &format!("token={token}&decision=approve"));
    assert_eq!(status, 409, "a second decision is refused");

    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = ok(evolve.try_wait()) {
            break status;
        }
        assert!(started.elapsed().as_secs() < 120, "the run did not go on after the decision");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let mut stderr = String::new();
    if let Some(mut pipe) = evolve.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
    }
    assert!(status.success(), "{stderr}");
    let lineage: serde_json::Value = ok(serde_json::from_str(&ok(std::fs::read_to_string(run.join("lineage.json")))));
    let child =
        lineage["nodes"].as_array().and_then(|n| n.iter().find(|e| e["name"] == "g1c0")).cloned().unwrap_or_default();
    assert_eq!(child["status"], "vetoed", "{lineage}");
    assert_eq!(child["gate"]["approval"], serde_json::json!({"approved": false, "by": "bo"}));

    // `--run`: the leaderboard page is the run's report (its lineage and history).
    let run_server = ok(WebServer::start(
        &ServeConfig { db: db.as_path().into(), run: Some(run.clone()), host: "127.0.0.1".into(), port: 0 },
        |_| {},
    ));
    let (status, page) = fetch("GET", &run_server.url());
    assert!(status == 200 && page.contains("id=\"lineage\"") && page.contains("g1c0"), "{status}");
}

/// Posts a form without following a redirect: the status, the `Location` and the body.
fn post_form_here(url: &str, form: &str) -> (u16, String, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into();
    let mut response = ok(agent.post(url).header("Content-Type", "application/x-www-form-urlencoded").send(form));
    let location = response.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    (response.status().as_u16(), location, ok(response.body_mut().read_to_string()))
}

/// The game page once it waits for a move (or has ended), and the number its forms carry.
fn waiting_page(url: &str) -> (String, Option<String>) {
    let started = std::time::Instant::now();
    loop {
        let (status, page) = fetch("GET", url);
        assert_eq!(status, 200, "{page}");
        if let Some(at) = page.find("name=\"turn\" value=\"") {
            let rest = &page[at + 19..];
            let turn = rest[..rest.find('"').unwrap_or(0)].to_string();
            return (page, Some(turn));
        }
        if page.contains("id=\"result\"") {
            return (page, None);
        }
        assert!(started.elapsed().as_secs() < 30, "the game page never waited for a move: {page}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn a_person_plays_in_the_browser_pages_and_the_game_is_stored() {
    let dir = ok(tempfile::tempdir());
    let db = games_store(dir.path(), "play.db", "2");
    let server = serve_store(&db);
    let play_url = format!("{}play", server.url());
    let (status, form) = fetch("GET", &play_url);
    assert!(
        status == 200 && form.contains("<option value=\"connect_four\">") && !form.contains("value=\"debate\""),
        "{form}"
    );
    // Games that are not two-player games of moves, unknown agents and seats are refused.
    for (bad, why) in [
        ("game=debate&opponent=first&seat=0", "not a two-player game of moves"),
        ("game=tic_tac_toe&opponent=nosuch&seat=0", "nosuch"),
        ("game=tic_tac_toe&opponent=first&seat=2", "0 or 1"),
        ("game=tic_tac_toe&opponent=human&seat=0", "an agent, not `human`"),
    ] {
        let (status, _, text) = post_form_here(&play_url, bad);
        assert!(status == 400 && text.contains(why), "{bad}: {status} {text}");
    }

    let (status, location, _) = post_form_here(&play_url, "game=tic_tac_toe&opponent=first&seat=0&name=ana");
    assert_eq!(status, 303);
    assert!(location.starts_with("/play/"), "{location}");
    let game_url = format!("{}{}", server.url(), &location[1..]);
    let (page, turn) = waiting_page(&game_url);
    assert!(page.contains("You play X") && page.contains("id=\"move-a1\""), "{page}");
    let first_turn = turn.unwrap_or_default();
    // An unreadable move is refused with the engine's reason, and asked again.
    let (status, _, _) = post_form_here(&game_url, &format!("turn={first_turn}&move=zz"));
    assert_eq!(status, 303);
    let (page, turn) = waiting_page(&game_url);
    assert!(page.contains("Not accepted: cannot read `zz`"), "{page}");
    let mut turn = turn.unwrap_or_default();
    // A form of a position no longer waiting (replayed) changes nothing.
    let (status, _, _) = post_form_here(&game_url, &format!("turn={first_turn}&move=a1"));
    assert_eq!(status, 409);
    // a1, b2, c3 against `first` (b1, c1): the diagonal.
    for cell in ["a1", "b2", "c3"] {
        let (status, _, text) = post_form_here(&game_url, &format!("turn={turn}&move={cell}"));
        assert_eq!(status, 303, "{text}");
        let (page, next) = waiting_page(&game_url);
        turn = next.unwrap_or_default();
        if cell == "c3" {
            assert!(page.contains("You won (finished); stored as tournament 2."), "{page}");
        }
    }
    let (status, _) = fetch("GET", &format!("{}play/{}", server.url(), "0".repeat(32)));
    assert_eq!(status, 404);
    let store = ok(Store::open(&db));
    let finished = ok(store.finished(2));
    assert_eq!(finished.len(), 1);
    assert_eq!(finished[0].score0, 1.0, "ana, in seat 0, won");
    let names: Vec<String> = ok(store.agents(2)).into_iter().map(|a| a.name).collect();
    assert_eq!(names, ["ana", "first"]);
    assert_eq!(ok(store.match_moves(2))[&0].len(), 5, "the refused move is not among the moves");
}

#[test]
fn a_person_plays_a_game_to_its_end_in_chromium() {
    let dir = ok(tempfile::tempdir());
    let db = games_store(dir.path(), "play.db", "2");
    let server = serve_store(&db);
    let mut browser = common::browser::Browser::launch();
    browser.open_url(&format!("{}play", server.url()));
    browser.eval(
        "document.getElementById('game').value = 'tic_tac_toe'; document.getElementById('opponent').value = 'first'",
    );
    browser.eval("document.getElementById('name').value = '<b>bo</b>'");
    browser.eval("document.getElementById('start').click()");
    browser.wait_for_load("the game page");
    let present = |browser: &mut common::browser::Browser, id: &str| {
        let started = std::time::Instant::now();
        while browser.eval(&format!("document.getElementById('{id}') !== null")) != serde_json::json!(true) {
            assert!(started.elapsed().as_secs() < 30, "no #{id} on the page");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    };
    for cell in ["a1", "b2", "c3"] {
        present(&mut browser, &format!("move-{cell}"));
        browser.eval(&format!("document.getElementById('move-{cell}').click()"));
        browser.wait_for_load("the page after a move");
    }
    present(&mut browser, "result");
    let result = browser.eval("document.getElementById('result').textContent");
    assert!(result.as_str().is_some_and(|t| t.starts_with("You won")), "{result}");
    assert!(browser.errors.is_empty(), "console errors: {:?}", browser.errors);
    let names: Vec<String> = ok(Store::open(&db).and_then(|s| s.agents(2))).into_iter().map(|a| a.name).collect();
    assert_eq!(names, ["<b>bo</b>", "first"], "the name is stored as typed (and shown escaped)");
}

#[test]
fn a_person_judges_a_debate_between_two_models_and_the_verdict_is_stored() {
    let dir = ok(tempfile::tempdir());
    let model = tiny_model(dir.path());
    let db = games_store(dir.path(), "judge.db", "2");
    let server = serve_store(&db);
    let judge_url = format!("{}judge/new", server.url());
    // Greedy debaters: what they say does not depend on the match's (random) seed.
    let debater = format!("llm(model={},max_tokens=12,temperature=0)", model.display());
    let encoded = |text: &str| form_text(text);
    // A game without a judge seat, and a debater that cannot speak, are refused.
    let (status, _, text) =
        post_form_here(&judge_url, &format!("spec=tic_tac_toe&pro={}&con={}", encoded(&debater), encoded(&debater)));
    assert!(status == 400 && text.contains("no judge seat"), "{text}");
    let (status, _, text) =
        post_form_here(&judge_url, &format!("spec={}&pro=random&con=random", encoded("debate(rounds=1)")));
    assert!(status == 400 && text.contains("pro `random`"), "{text}");

    let form = format!(
        "spec={}&pro={}&con={}&name=cy",
        encoded("debate(rounds=1,max_chars=400)"),
        encoded(&debater),
        encoded(&format!("llm(model={},max_tokens=10,temperature=0)", model.display()))
    );
    let (status, location, text) = post_form_here(&judge_url, &form);
    assert_eq!(status, 303, "{text}");
    let game_url = format!("{}{}", server.url(), &location[1..]);
    let (page, turn) = waiting_page(&game_url);
    assert!(page.contains("id=\"move-pro\"") && page.contains("id=\"move-con\"") && page.contains("Pro:"), "{page}");
    let (status, _, _) = post_form_here(&game_url, &format!("turn={}&move=pro", turn.unwrap_or_default()));
    assert_eq!(status, 303);
    let (page, _) = waiting_page(&game_url);
    assert!(page.contains("Your verdict was"), "{page}");
    let store = ok(Store::open(&db));
    let judges: Vec<String> = ok(store.judges(2)).into_iter().map(|j| j.name).collect();
    assert_eq!(judges, ["cy"]);
    let finished = ok(store.finished(2));
    assert_eq!(finished.len(), 1);
    assert_eq!(finished[0].judge, Some(0));
    assert_eq!(finished[0].returns[0], 1.0, "the verdict `pro` gives Pro the debate");
}

/// A tiny language model in `dir` (random weights; its context holds a debate's prompt).
fn tiny_model(dir: &std::path::Path) -> std::path::PathBuf {
    let model = dir.join("tiny.gguf");
    ok(agents::llm::tiny::write_tiny_llama(
        &model,
        &agents::llm::tiny::TinyConfig { context: 2048, ..Default::default() },
        11,
    ));
    model
}

/// `text` as a form value.
fn form_text(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The one-use token of a judge page.
fn judge_token(url: &str) -> (String, String) {
    let (status, page) = fetch("GET", url);
    assert_eq!(status, 200, "{page}");
    (common::form_token(&page), page)
}

/// Waits until tournament 1 of `db` has `count` debates parked for a verdict.
fn wait_for_parked(db: &std::path::Path, count: usize, tournament: &mut std::process::Child) {
    let started = std::time::Instant::now();
    loop {
        let parked = Store::open(db).and_then(|s| s.awaiting(1)).unwrap_or_default();
        if parked.len() == count {
            return;
        }
        if let Ok(Some(status)) = tournament.try_wait() {
            panic!("the tournament ended ({status}) with {} parked debates, not {count}", parked.len());
        }
        assert!(started.elapsed().as_secs() < 120, "{} debates parked, not {count}", parked.len());
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn debates_wait_for_a_persons_verdict_on_the_judge_page_across_a_kill() {
    let dir = ok(tempfile::tempdir());
    let model = tiny_model(dir.path());
    let db = dir.path().join("debates.db");
    let db_text = db.to_string_lossy().into_owned();
    let pro = format!("llm(model={},max_tokens=12,temperature=0)", model.display());
    let con = format!("llm(model={},max_tokens=10,temperature=0)", model.display());
    let args = |resume: bool| {
        let mut args = vec![
            "tournament".to_string(),
            "--game".into(),
            "debate(rounds=1,max_chars=400)".into(),
            "--agents".into(),
            pro.clone(),
            con.clone(),
            "--judge".into(),
            "human(via=web)".into(),
            "--db".into(),
            db_text.clone(),
        ];
        if resume {
            args.push("--resume".into());
        }
        args
    };
    // A person on the web needs a store to wait in; `via` takes terminal or web.
    let no_store: Vec<String> = args(false).into_iter().take(8).collect();
    let no_store: Vec<&str> = no_store.iter().map(String::as_str).collect();
    let (done, _, stderr) = common::arena(&no_store);
    assert!(!done && stderr.contains("a person on the web") && stderr.contains("--db"), "{stderr}");
    let (done, _, stderr) =
        common::arena(&["tournament", "--game", "debate", "--agents", "random", "random", "--judge", "human(via=fax)"]);
    assert!(!done && stderr.contains("via") && stderr.contains("terminal") && stderr.contains("web"), "{stderr}");

    // The tournament plays both debates up to the verdict, parks them, and waits; killed there,
    // it resumes without playing them again.
    let spawn = |resume: bool| {
        Command::new(env!("CARGO_BIN_EXE_arena"))
            .args(args(resume))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start arena: {e}"))
    };
    let mut tournament = spawn(false);
    wait_for_parked(&db, 2, &mut tournament);
    ok(tournament.kill());
    ok(tournament.wait());
    let parked_moves = ok(Store::open(&db).and_then(|s| s.awaiting_match(1, 0))).map(|m| m.moves);

    let server = serve_store(&db);
    let (status, list) = fetch("GET", &format!("{}judge", server.url()));
    assert!(status == 200 && list.contains("href=\"/judge/1/0\"") && list.contains("href=\"/judge/1/1\""), "{list}");
    let first_url = format!("{}judge/1/0", server.url());
    let (token, page) = judge_token(&first_url);
    assert!(
        page.contains("id=\"verdict-pro\"") && page.contains("id=\"verdict-con\"") && page.contains("Pro:"),
        "{page}"
    );
    assert!(!page.contains("llm(model="), "the debaters are anonymous until the verdict: {page}");
    let (other_token, _) = judge_token(&format!("{}judge/1/1", server.url()));

    // Bad posts store nothing: no token, an unknown verdict, a token never shown, a token shown
    // for another match, a match that does not wait.
    for (form, expected) in [
        ("verdict=pro".to_string(), 400),
        (format!("token={token}&verdict=maybe"), 400),
        (format!("token={}&verdict=pro", "0".repeat(32)), 404),
        (format!("token={other_token}&verdict=pro"), 404),
    ] {
        let (status, _, text) = post_form_here(&first_url, &form);
        assert_eq!(status, expected, "{form}: {text}");
    }
    let (status, _, _) = post_form_here(&format!("{}judge/1/7", server.url()), &format!("token={token}&verdict=pro"));
    assert_eq!(status, 409, "a match that does not wait");
    assert_eq!(ok(Store::open(&db).and_then(|s| s.awaiting(1))), [0, 1], "nothing decided by a bad post");

    // The verdict finishes the stored match; the names are revealed; the form cannot be used again.
    let (status, location, text) = post_form_here(&first_url, &format!("token={token}&verdict=pro&name=ana"));
    assert_eq!((status, location.as_str()), (303, "/judge/1/0"), "{text}");
    let (_, page) = fetch("GET", &first_url);
    assert!(page.contains("Verdict <b>pro</b> by ana") && page.contains("llm(model="), "{page}");
    let (status, _, _) = post_form_here(&first_url, &format!("token={token}&verdict=con"));
    assert_eq!(status, 409, "a replayed verdict");
    let store = ok(Store::open(&db));
    assert_eq!(ok(store.awaiting(1)), [1]);
    let finished = ok(store.finished(1));
    assert_eq!((finished.len(), finished[0].returns[0]), (1, 1.0), "the verdict `pro` gives Pro the debate");
    let verdict = ok(store.verdict(1, 0)).unwrap_or_else(|| panic!("no verdict stored"));
    assert_eq!((verdict.verdict.as_str(), verdict.person.as_str()), ("pro", "ana"));
    let stored_moves = ok(store.match_moves(1)).remove(&0).unwrap_or_default();
    let parked_moves = parked_moves.unwrap_or_default();
    assert_eq!(stored_moves.len(), parked_moves.len() + 1, "the debate as parked, and the verdict");
    assert_eq!(stored_moves[..parked_moves.len()], parked_moves[..]);

    // The resumed tournament waits for the other verdict, given in Chromium, then ends.
    let tournament = spawn(true);
    let mut browser = common::browser::Browser::launch();
    browser.open_url(&format!("{}judge", server.url()));
    let links = browser.eval("[...document.querySelectorAll('a.awaiting')].map(a => a.getAttribute('href')).join(' ')");
    assert_eq!(links, serde_json::json!("/judge/1/1"), "only the undecided debate is listed");
    browser.eval("document.querySelector('a.awaiting').click()");
    browser.wait_for_load("the debate's page");
    browser.eval("document.getElementById('name').value = '<b>bo</b>'");
    browser.eval("document.getElementById('verdict-pro').click()");
    browser.wait_for_load("the verdict's page");
    let revealed = browser.eval("document.getElementById('revealed').textContent");
    assert!(revealed.as_str().is_some_and(|t| t.contains("Verdict pro by <b>bo</b>")), "{revealed}");
    assert!(browser.errors.is_empty(), "console errors: {:?}", browser.errors);
    let output = ok(tournament.wait_with_output());
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("judges"), "the judges' report: {stdout}");
    let store = ok(Store::open(&db));
    assert!(ok(store.tournament(1)).finished_at.is_some(), "the tournament is finished");
    let finished = ok(store.finished(1));
    assert_eq!(finished.len(), 2);
    // The seats were swapped in the second debate: each debater won once.
    assert_eq!(finished[1].returns[..2], [1.0, -1.0], "the verdict `pro` gives Pro the debate");
    let ratings = common::json(&run_ok(&["ratings", "--db", &db_text, "--json"]));
    let games: Vec<&serde_json::Value> = ratings.as_array().into_iter().flatten().map(|p| &p["games"]).collect();
    assert_eq!(games, [2, 2], "both debates count in the ratings: {ratings}");
}
