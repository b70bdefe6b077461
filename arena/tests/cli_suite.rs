//! `arena suite make` and `arena suite` end to end.

mod common;

use common::{arena, json};

#[test]
fn a_made_suite_scores_the_solver_perfect_and_random_below() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let suite = dir.path().join("ttt.jsonl");
    let suite_text = suite.to_string_lossy().to_string();
    let (ok, out, err) = arena(&[
        "suite",
        "make",
        "--game",
        "tic_tac_toe",
        "--positions",
        "40",
        "--plies",
        "1..5",
        "--out",
        &suite_text,
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("wrote 40 positions"), "{out}");
    let score = |agent: &str| {
        let (ok, out, err) =
            arena(&["suite", "--game", "tic_tac_toe", "--suite", &suite_text, "--agent", agent, "--json"]);
        assert!(ok, "{err}");
        json(&out)
    };
    let solver = score("solver");
    assert_eq!(solver["overall"]["optimal"]["share"], 1.0, "{solver}");
    let random = score("random");
    assert!(random["overall"]["optimal"]["share"].as_f64().is_some_and(|s| s < 1.0), "{random}");
    assert!(random["stages"].as_array().is_some_and(|s| !s.is_empty()), "{random}");
    // Answers, and the refusals of agents and outputs that cannot work.
    let answers = dir.path().join("answers.jsonl");
    let (ok, _, err) = arena(&[
        "suite",
        "--game",
        "tic_tac_toe",
        "--suite",
        &suite_text,
        "--agent",
        "first",
        "--answers",
        &answers.to_string_lossy(),
    ]);
    assert!(ok, "{err}");
    assert_eq!(std::fs::read_to_string(&answers).unwrap_or_default().lines().count(), 40);
    let (ok, _, err) = arena(&[
        "suite",
        "--game",
        "tic_tac_toe",
        "--suite",
        &suite_text,
        "--agent",
        "solver",
        "--answers",
        &suite_text,
    ]);
    assert!(!ok && err.contains("is the input"), "{err}");
    let (ok, _, err) = arena(&["suite", "--game", "connect_four", "--suite", &suite_text, "--agent", "solver"]);
    assert!(!ok && err.contains("line 1"), "{err}");
    let (ok, _, err) = arena(&["suite", "make", "--game", "othello", "--positions", "3", "--out", "-"]);
    assert!(!ok && err.contains("has none yet"), "{err}");
}
