//! The real model: SmolLM2-135M-Instruct plays tic-tac-toe and debates. Runs when the model was
//! fetched (`scripts/fetch-model.sh`, which CI runs); skipped with a note otherwise, unless
//! `ARENA_REQUIRE_MODEL=1` (set by CI) makes a missing model a failure.

mod common;

use std::path::PathBuf;

use arena::store::Store;
use common::{json, run_ok};

/// The Q8_0 copy of the fetched model, made on first use next to it.
fn smollm2() -> Option<PathBuf> {
    let cache = std::env::var_os("ARENA_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/arena")))?
        .join("models");
    let q4 = cache.join("SmolLM2-135M-Instruct.Q4_1.gguf");
    let q8 = cache.join("SmolLM2-135M-Instruct.Q8_0.gguf");
    if !q4.exists() {
        assert!(
            std::env::var("ARENA_REQUIRE_MODEL").as_deref() != Ok("1"),
            "ARENA_REQUIRE_MODEL=1 but {} is missing: run scripts/fetch-model.sh",
            q4.display()
        );
        eprintln!("skipped: {} not fetched (scripts/fetch-model.sh)", q4.display());
        return None;
    }
    if !q8.exists() {
        agents::llm::convert_to_q8_0(&q4, &q8).unwrap_or_else(|e| panic!("{e}"));
    }
    Some(q8)
}

#[test]
fn smollm2_plays_tic_tac_toe_and_a_debate() {
    let Some(model) = smollm2() else { return };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let llm = format!("llm(model={},temperature=0)", model.display());

    // Tic-tac-toe against random, both seat orders, greedy answers.
    let db = dir.path().join("ttt.db");
    let report = json(&run_ok(&[
        "play",
        "--game",
        "tic_tac_toe",
        "--agents",
        &llm,
        "random",
        "--games",
        "2",
        "--db",
        db.to_str().unwrap_or_default(),
        "--json",
    ]));
    assert_eq!(report["games"], 2, "{report}");
    let store = Store::open(&db).unwrap_or_else(|e| panic!("{e:#}"));
    let finished = store.finished(1).unwrap_or_else(|e| panic!("{e:#}"));
    assert!(
        finished.iter().any(|m| m.end == arena::engine::runner::EndKind::Normal),
        "SmolLM2 finished no game without a forfeit: {finished:?}"
    );
    let turns = store.turns(1).unwrap_or_else(|e| panic!("{e:#}"));
    let accepted: Vec<_> = turns.values().flatten().collect();
    assert!(accepted.len() >= 3, "SmolLM2 made only {} accepted moves", accepted.len());
    for turn in accepted {
        assert_eq!(turn.trace.tokens.len(), turn.trace.logprobs.len());
        assert!(turn.trace.logprobs.iter().all(|p| p.is_finite() && *p <= 0.0));
    }

    // One debate (both seat orders of one proposition), SmolLM2 arguing and judging.
    let db = dir.path().join("debate.db");
    let debater = format!("llm(model={},max_tokens=48)", model.display());
    let report = json(&run_ok(&[
        "play",
        "--game",
        "debate(rounds=1)",
        "--agents",
        &debater,
        &debater,
        "--judge",
        &llm,
        "--games",
        "2",
        "--db",
        db.to_str().unwrap_or_default(),
        "--json",
    ]));
    assert_eq!(report["games"], 2, "{report}");
    let store = Store::open(&db).unwrap_or_else(|e| panic!("{e:#}"));
    let turns = store.turns(1).unwrap_or_else(|e| panic!("{e:#}"));
    let speakers: std::collections::BTreeSet<usize> = turns.values().flatten().map(|t| t.seat).collect();
    assert!(speakers.contains(&0) && speakers.contains(&1), "both debaters spoke: {speakers:?}");
    let judges = report["judges"].as_array().cloned().unwrap_or_default();
    assert_eq!(judges.len(), 1, "{report}");
}
