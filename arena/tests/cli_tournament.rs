//! `arena play` and `arena tournament` end to end: reports, configs, schedules, SPRT, errors, and
//! results that do not depend on the number of threads.

mod common;

use common::{arena, json};

#[test]
fn play_reports_the_score_with_error_bars_and_speed() {
    let (ok, out, err) =
        arena(&["play", "--game", "connect_four", "--agents", "first", "random", "--games", "200", "--json"]);
    assert!(ok, "{err}");
    let report = json(&out);
    assert_eq!(report["games"], 200);
    let (w, d, l) = (report["wins"].as_u64(), report["draws"].as_u64(), report["losses"].as_u64());
    assert_eq!(w.zip(d).zip(l).map(|((w, d), l)| w + d + l), Some(200));
    assert!(report["games_per_s"].as_f64().is_some_and(|v| v > 0.0));
    // Stacking one column beats random play most of the time.
    assert!(report["score"].as_f64().is_some_and(|s| s > 0.6), "{report}");
    assert!(report["score_error_95"].as_f64().is_some_and(|e| e > 0.0 && e < 0.1), "{report}");
    assert_eq!(report["pentanomial"].as_array().map(|p| p.iter().filter_map(|c| c.as_u64()).sum::<u64>()), Some(100));

    let (ok, out, err) = arena(&["play", "--game", "tic_tac_toe", "--agents", "random", "first", "--games", "6"]);
    assert!(ok, "{err}");
    assert!(out.contains("random vs first") && out.contains("games 6:") && out.contains("games/s"), "{out}");
}

#[test]
fn results_do_not_depend_on_the_number_of_threads() {
    let run = |threads: &str| {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let db = dir.path().join("t.db");
        let db_text = db.to_string_lossy().to_string();
        let (ok, out, err) = arena(&[
            "play",
            "--game",
            "connect_four",
            "--agents",
            "random",
            "random",
            "--games",
            "3000",
            "--openings",
            "random:4",
            "--threads",
            threads,
            "--db",
            &db_text,
            "--json",
        ]);
        assert!(ok, "{err}");
        let report = json(&out);
        let conn = rusqlite::Connection::open(&db).unwrap_or_else(|e| panic!("{e}"));
        let moves: Vec<String> = conn
            .prepare("SELECT moves FROM matches ORDER BY idx")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .unwrap_or_else(|e| panic!("{e}"));
        ((report["wins"].clone(), report["draws"].clone(), report["pentanomial"].clone()), moves)
    };
    let (one, one_moves) = run("1");
    let (two, two_moves) = run("2");
    assert_eq!(one, two);
    assert_eq!(one_moves.len(), 3000);
    assert_eq!(one_moves, two_moves, "every game identical, move for move");
    // Openings: each game pair shares its first four moves.
    assert_eq!(
        one_moves[0].split(',').take(4).collect::<Vec<_>>(),
        one_moves[1].split(',').take(4).collect::<Vec<_>>()
    );
}

#[test]
fn sprt_stops_a_match_once_it_decides() {
    let (ok, out, err) = arena(&[
        "play",
        "--game",
        "connect_four",
        "--agents",
        "first",
        "random",
        "--games",
        "20000",
        "--sprt",
        "elo0=0,elo1=20,alpha=0.05,beta=0.05",
        "--json",
    ]);
    assert!(ok, "{err}");
    let report = json(&out);
    assert!(report["games"].as_u64().is_some_and(|g| g < 20000), "{report}");
    assert_eq!(report["sprt"]["decision"], "accept_h1", "{report}");
    assert!(report["stopped"].as_str().is_some_and(|s| s.contains("SPRT")));
    let (ok, _, err) = arena(&["play", "--game", "connect_four", "--agents", "first", "random", "--sprt", "elo0=0"]);
    assert!(!ok);
    assert!(err.contains("--sprt") && err.contains("elo1"), "{err}");
}

#[test]
fn tournament_from_a_config_file_prints_standings_and_crosstable() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = dir.path().join("swiss.toml");
    std::fs::write(
        &config,
        r#"
game = "connect_four(rows=5,columns=6)"
schedule = "swiss"
rounds = 3
games_per_pairing = 4
seed = 11
agents = ["random", "first", { name = "python", spec = "random" }, "random"]
"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let config_text = config.to_string_lossy().to_string();
    let (ok, out, err) = arena(&["tournament", "--config", &config_text, "--json"]);
    assert!(ok, "{err}");
    let report = json(&out);
    assert_eq!(report["games"], 3 * 2 * 4, "3 rounds of 2 pairings of 4 games");
    let names: Vec<&str> =
        report["standings"].as_array().into_iter().flatten().filter_map(|s| s["name"].as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(sorted, ["first", "python", "random", "random#2"]);
    let random = report["standings"].as_array().into_iter().flatten().find(|s| s["name"] == "random");
    assert_eq!(random.map(|s| s["rating"].as_f64()), Some(Some(0.0)), "ratings are anchored at random = 0");

    let (ok, out, err) = arena(&["tournament", "--config", &config_text, "--schedule", "knockout"]);
    assert!(ok, "{err}");
    assert!(out.contains("knockout tournament") && out.contains("crosstable"), "{out}");
}

#[test]
fn bad_configs_and_agents_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "game = \"tic_tac_toe\"\nagents = [\"random\", \"first\"]\ngames = 3\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let (ok, _, err) = arena(&["tournament", "--config", &config.to_string_lossy()]);
    assert!(!ok);
    assert!(err.contains("bad.toml") && err.contains("games"), "{err}");

    let (ok, _, err) = arena(&["play", "--game", "tic_tac_toe", "--agents", "random", "alphazero"]);
    assert!(!ok);
    assert!(err.contains("unknown agent `alphazero`") && err.contains("random"), "{err}");

    let (ok, _, err) = arena(&["play", "--game", "tic_tac_toe", "--agents", "random", "cmd(timeout=3)"]);
    assert!(!ok);
    assert!(err.contains("timeout") && err.contains("timeout_ms"), "{err}");

    let (ok, _, err) = arena(&["tournament", "--game", "tic_tac_toe", "--agents", "random"]);
    assert!(!ok);
    assert!(err.contains("at least two agents"), "{err}");

    let (ok, _, err) =
        arena(&["play", "--game", "tic_tac_toe", "--agents", "random", "first", "--openings", "/no/such/file"]);
    assert!(!ok);
    assert!(err.contains("/no/such/file"), "{err}");

    let openings = dir.path().join("openings.txt");
    std::fs::write(&openings, "# two openings\na1 b2\nb2 z9\n").unwrap_or_else(|e| panic!("{e}"));
    let (ok, _, err) = arena(&[
        "play",
        "--game",
        "tic_tac_toe",
        "--agents",
        "random",
        "first",
        "--openings",
        &openings.to_string_lossy(),
    ]);
    assert!(!ok);
    assert!(err.contains("line 3") && err.contains("z9"), "{err}");
}

#[test]
fn an_in_process_search_that_overruns_its_time_loses_on_time() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = dir.path().join("time.db");
    let db_text = db.to_string_lossy().to_string();
    // Without the time limit each of mcts's moves would run for hours.
    let (ok, out, err) = arena(&[
        "play",
        "--game",
        "connect_four",
        "--agents",
        "mcts(sims=100000000)",
        "random",
        "--games",
        "4",
        "--time-per-move-ms",
        "50",
        "--db",
        &db_text,
        "--json",
    ]);
    assert!(ok, "{err}");
    let report = json(&out);
    assert_eq!(report["games"], 4);
    assert_eq!(report["losses"], 4, "every one of mcts's games is lost: {report}");
    assert_eq!(report["end_reasons"], serde_json::json!({"timeout": 4}), "{report}");
    let conn = rusqlite::Connection::open(&db).unwrap_or_else(|e| panic!("{e}"));
    let stored: Vec<(String, i64, String)> = conn
        .prepare("SELECT end_reason, fault_seat, fault_detail FROM matches ORDER BY idx")
        .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stored.len(), 4);
    for (index, (reason, seat, detail)) in stored.iter().enumerate() {
        assert_eq!(reason, "timeout");
        // Seats alternate: mcts sits in seat 0 in even games, seat 1 in odd ones.
        assert_eq!(*seat, (index % 2) as i64, "{detail}");
        assert!(!detail.is_empty());
    }
}

#[test]
fn shared_store_flags_are_refused_on_a_file_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = dir.path().join("t.db");
    let db_text = db.to_string_lossy().into_owned();
    let (ok, _, stderr) = arena(&[
        "tournament",
        "--game",
        "tic_tac_toe",
        "--agents",
        "random",
        "random",
        "--db",
        &db_text,
        "--workers-only",
    ]);
    assert!(!ok && stderr.contains("--workers-only needs a store that workers share"), "{stderr}");
    assert!(!db.exists(), "nothing was written");
    let (ok, _, stderr) = arena(&["worker", "--db", &db_text]);
    assert!(!ok && stderr.contains("give a postgres:// URL"), "{stderr}");
    let (ok, _, stderr) = arena(&["store", "copy", "--from", &db_text, "--to", "elsewhere.db"]);
    assert!(!ok && stderr.contains("does not exist"), "{stderr}");
}

#[test]
fn a_person_is_refused_a_shared_store_before_anything_is_asked_or_written() {
    // No server listens there: the refusal comes before any connection (and before any prompt).
    let (ok, stdout, stderr) = arena(&[
        "play",
        "--game",
        "tic_tac_toe",
        "--agents",
        "human",
        "random",
        "--db",
        "postgres://nobody@127.0.0.1:9/none",
    ]);
    assert!(!ok && stderr.contains("`human` is a person at this terminal"), "{stderr}");
    assert!(!stderr.contains("Your move") && stdout.is_empty(), "{stderr}{stdout}");
}
