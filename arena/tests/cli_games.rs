//! End-to-end tests of the game commands through the real `arena` binary.

mod common;

use common::{arena, json};

/// A published figure from `games/testdata` (each file cites its sources).
fn published(file: &str, pointer: &str) -> u64 {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../games/testdata").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    json(&text).pointer(pointer).and_then(|v| v.as_u64()).unwrap_or_else(|| panic!("{file} has no {pointer}"))
}

#[test]
fn games_lists_every_registered_game_with_its_facts() {
    let (ok, out, err) = arena(&["games", "--json"]);
    assert!(ok, "{err}");
    let listed = json(&out);
    let names: Vec<&str> = listed.as_array().into_iter().flatten().filter_map(|g| g["name"].as_str()).collect();
    assert_eq!(
        names,
        [
            "tic_tac_toe",
            "connect_four",
            "othello",
            "hex",
            "kuhn_poker",
            "debate",
            "quiz",
            "deduction",
            "negotiation",
            "proc"
        ]
    );
    let hex = &listed[3];
    assert_eq!(hex["default_spec"], "hex(size=11,swap=false)");
    assert_eq!(hex["facts"]["num_distinct_actions"], 121);
    assert_eq!(hex["parameters"][0]["name"], "size");
}

#[test]
fn perft_reports_published_counts_and_speed() {
    let (ok, out, err) = arena(&["perft", "--game", "connect_four", "--depth", "7", "--json"]);
    assert!(ok, "{err}");
    let report = json(&out);
    assert_eq!(report["count"].as_u64(), Some(published("connect_four.json", "/perft/values/7")));
    assert!(report["nodes_per_s"].as_f64().is_some_and(|v| v > 0.0), "{report}");

    let (ok, out, err) = arena(&["perft", "--game", "othello", "--depth", "9", "--count-ended-games", "--json"]);
    assert!(ok, "{err}");
    assert_eq!(json(&out)["count"].as_u64(), Some(published("othello.json", "/perft/values/9")));

    let (ok, out, err) = arena(&["perft", "--game", "hex(size=3)", "--depth", "4", "--divide", "--json"]);
    assert!(ok, "{err}");
    let report = json(&out);
    let divided: u64 = report["divide"].as_object().into_iter().flatten().filter_map(|(_, n)| n.as_u64()).sum();
    assert_eq!(report["count"].as_u64(), Some(published("hex.json", "/boards/1/perft/4")));
    assert_eq!(Some(divided), report["count"].as_u64());
}

#[test]
fn show_renders_the_position_after_compact_moves() {
    let (ok, out, err) = arena(&["show", "--game", "connect_four", "--moves", "4453"]);
    assert!(ok, "{err}");
    assert!(out.contains("..oxx..") && out.contains("...o..."), "{out}");
    assert!(out.contains("player 0 to move"), "{out}");

    let (ok, out, err) = arena(&["show", "--game", "tic_tac_toe", "--moves", "a1 b1 a2 b2 a3", "--json"]);
    assert!(ok, "{err}");
    let shown = json(&out);
    assert_eq!(shown["returns"], serde_json::json!([1.0, -1.0]));
    assert_eq!(shown["record"]["moves"], serde_json::json!([0, 1, 3, 4, 6]));
}

#[test]
fn show_hides_the_opponents_card_from_a_player() {
    let (ok, with_king, err) = arena(&["show", "--game", "kuhn_poker", "--moves", "J K b", "--player", "0"]);
    assert!(ok, "{err}");
    assert!(with_king.contains("Your card: J"), "{with_king}");
    // Player 0's view is the same whichever card player 1 holds; the full render differs.
    let (_, with_queen, _) = arena(&["show", "--game", "kuhn_poker", "--moves", "J Q b", "--player", "0"]);
    assert_eq!(with_king, with_queen);
    let (_, full_king, _) = arena(&["show", "--game", "kuhn_poker", "--moves", "J K b"]);
    let (_, full_queen, _) = arena(&["show", "--game", "kuhn_poker", "--moves", "J Q b"]);
    assert_ne!(full_king, full_queen);
}

#[test]
fn bad_input_gets_errors_naming_it() {
    let (ok, _, err) = arena(&["show", "--game", "connect_four", "--moves", "4 4 9 3"]);
    assert!(!ok);
    assert!(err.contains("move 3 (`9`)") && err.contains("1..7"), "{err}");

    let (ok, _, err) = arena(&["show", "--game", "chess"]);
    assert!(!ok);
    assert!(err.contains("unknown game `chess`") && err.contains("connect_four"), "{err}");

    let (ok, _, err) = arena(&["perft", "--game", "hex(size=40)", "--depth", "1"]);
    assert!(!ok);
    assert!(err.contains("size=40") && err.contains("2..=19"), "{err}");

    let (ok, _, err) = arena(&["show", "--game", "tic_tac_toe", "--player", "2"]);
    assert!(!ok);
    assert!(err.contains("--player 2"), "{err}");
}

#[test]
fn check_runs_the_conformance_kit() {
    let (ok, out, err) = arena(&["check", "--game", "hex(size=5,swap=true)", "--playouts", "300", "--json"]);
    assert!(ok, "{err}");
    let report = json(&out);
    assert_eq!(report["playouts"], 300);
    assert_eq!(report["game"], "hex(size=5,swap=true)");
}

/// `examples/games/NAME` as a game process spec with `params`.
fn example_game(name: &str, params: &str) -> String {
    let path = common::example_games().join(name);
    format!("proc(program=\"python3 {}\"{params})", path.display())
}

#[test]
fn a_game_process_is_checked_played_and_a_broken_match_stops_only_itself() {
    let nim = example_game("nim.py", ",heaps=2-3");
    let (ok, out, err) = arena(&["check", "--game", &nim, "--playouts", "50"]);
    assert!(ok && out.contains("conformance passed"), "{out}{err}");
    let (ok, out, err) = arena(&["perft", "--game", &nim, "--depth", "2", "--json"]);
    // The first moves leave 1-3, 0-3, 2-2, 2-1 and 2-0: then 4 + 3 + 4 + 3 + 2 moves.
    assert!(ok && json(&out)["count"].as_u64() == Some(16), "{out}{err}");

    // A program that dies whenever the second heap comes down to 1: those matches are not
    // played, the others are stored, and the command says which failed and why.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let crashy = common::write_crashy_nim(dir.path());
    let game = format!("proc(program=\"python3 {}\",heaps=3-4-5)", crashy.display());
    let db = dir.path().join("nim.db");
    let db_text = db.to_string_lossy().into_owned();
    let args =
        ["play", "--game", &game, "--agents", "random", "first", "--games", "20", "--threads", "2", "--db", &db_text];
    let (ok, out, err) = arena(&args);
    assert!(!ok, "{out}");
    assert!(err.contains("matches could not be played") && err.contains("--resume"), "{err}");
    assert!(err.contains("heap two ran low") && err.contains("crashy_nim.py"), "{err}");
    let store = arena::store::Store::open(&db).unwrap_or_else(|e| panic!("{e}"));
    let finished = store.finished(1).unwrap_or_else(|e| panic!("{e}")).len();
    let broken: usize = err
        .split(" matches could not be played")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(broken > 0 && finished > 0 && finished + broken == 20, "{finished} stored, {broken} broken: {err}");
    assert!(store.tournament(1).unwrap_or_else(|e| panic!("{e}")).finished_at.is_none(), "left open for --resume");
    // The store says which matches broke and why.
    let marked = store.broken(1).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(marked.len(), broken);
    assert!(marked.iter().all(|(_, message)| message.contains("heap two ran low")), "{marked:?}");
    drop(store);

    // With the program mended, --resume plays the broken matches again and ends the tournament.
    common::mend_crashy_nim(&crashy);
    let (ok, out, err) = arena(&with_resume(&args));
    assert!(ok, "{out}{err}");
    let store = arena::store::Store::open(&db).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(store.finished(1).unwrap_or_else(|e| panic!("{e}")).len(), 20);
    assert!(store.broken(1).unwrap_or_else(|e| panic!("{e}")).is_empty());
    assert!(store.tournament(1).unwrap_or_else(|e| panic!("{e}")).finished_at.is_some());
}

fn with_resume<'a>(args: &[&'a str]) -> Vec<&'a str> {
    args.iter().copied().chain(["--resume"]).collect()
}
