//! The real model: SmolLM2-135M-Instruct plays tic-tac-toe and debates. Runs when the model was
//! fetched (`scripts/fetch-model.sh`, which CI runs); skipped with a note otherwise, unless
//! `ARENA_REQUIRE_MODEL=1` (set by CI) makes a missing model a failure.

mod common;

use arena::store::Store;
use common::{json, run_ok, smollm2};

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

    // One debate (both seat orders of one proposition), SmolLM2 arguing and judging. The judge
    // weighs the verdicts by log-probability, so it always gives one (a greedy text judge's
    // wording depends on the last bits of the arithmetic, which may change with the kernels).
    let db = dir.path().join("debate.db");
    let debater = format!("llm(model={},max_tokens=48)", model.display());
    let judge = format!("llm(model={},choice=scored)", model.display());
    let report = json(&run_ok(&[
        "play",
        "--game",
        "debate(rounds=1)",
        "--agents",
        &debater,
        &debater,
        "--judge",
        &judge,
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
