//! Language models end to end on a tiny randomly initialised llama GGUF that the tests write:
//! games with re-prompts and forfeits, debates with judges, stored traces, exports, determinism.

mod common;

use std::path::{Path, PathBuf};

use agents::llm::tiny::{TinyConfig, write_tiny_llama};
use arena::engine::runner::{EndKind, FaultKind};
use arena::store::Store;
use common::{arena, json, run_ok};

fn tiny_model(dir: &Path) -> PathBuf {
    let path = dir.join("tiny.gguf");
    write_tiny_llama(&path, &TinyConfig { context: 4096, ..TinyConfig::default() }, 7)
        .unwrap_or_else(|e| panic!("{e}"));
    path
}

/// `arena export --db DB --format FORMAT --out DIR/FORMAT.jsonl --json`: the report and the lines.
fn export(db: &Path, format: &str) -> (serde_json::Value, Vec<serde_json::Value>) {
    let out = db.with_file_name(format!("{format}.jsonl"));
    let (db_text, out_text) = (db.to_str().unwrap_or_default(), out.to_str().unwrap_or_default());
    let report = json(&run_ok(&["export", "--db", db_text, "--format", format, "--out", out_text, "--json"]));
    (report, read_lines(&out))
}

fn read_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).lines().map(json).collect()
}

/// A debate tournament between two sampling settings of the tiny model, judged in turn by
/// `random` and `first` (which always says `pro`).
fn debate(model: &Path, db: &Path, threads: &str) -> serde_json::Value {
    let model = model.display();
    let a = format!("llm(model={model},temperature=1,max_tokens=12)");
    let b = format!("llm(model={model},temperature=0.5,max_tokens=12,seed=3)");
    json(&run_ok(&[
        "tournament",
        "--game",
        "debate(rounds=1,items=50)",
        "--agents",
        &a,
        &b,
        "--judge",
        "random",
        "--judge",
        "first",
        "--games-per-pairing",
        "8",
        "--threads",
        threads,
        "--db",
        db.to_str().unwrap_or_default(),
        "--json",
    ]))
}

#[test]
fn debates_store_traces_report_judges_and_export_datasets() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let model = tiny_model(dir.path());
    let db = dir.path().join("debate.db");
    let report = debate(&model, &db, "1");
    assert_eq!(report["games"], 8, "{report}");

    // Judges alternate by game pair; `first` always decides for pro, the side that speaks first.
    let judges = report["judges"].as_array().cloned().unwrap_or_default();
    let first =
        judges.iter().find(|j| j["name"] == "first").unwrap_or_else(|| panic!("no report for `first`: {report}"));
    assert!(first["verdicts"].as_u64().unwrap_or(0) > 0, "{first}");
    assert_eq!(first["picked_pro"], 1.0);
    assert_eq!(first["consistent"], 1.0, "the same verdict whoever argues: {first}");
    let bias = first["pro_bias"].as_f64().unwrap_or(f64::NAN);
    let truth = first["pro_true"].as_f64().unwrap_or(f64::NAN);
    assert!((bias - (1.0 - truth)).abs() < 1e-9 && (first["accuracy"].as_f64().unwrap_or(-1.0) - truth).abs() < 1e-9);

    // Every accepted utterance is stored with its prompt, completion and token log-probabilities.
    let store = Store::open(&db).unwrap_or_else(|e| panic!("{e:#}"));
    let turns = store.turns(1).unwrap_or_else(|e| panic!("{e:#}"));
    let all: Vec<_> = turns.values().flatten().collect();
    assert!(!all.is_empty(), "no language-model turns stored");
    for turn in &all {
        let trace = &turn.trace;
        assert!(turn.seat < 2, "only the debaters are language models here");
        assert_eq!(trace.tokens.len(), trace.logprobs.len());
        assert!(trace.logprobs.iter().all(|p| p.is_finite() && *p <= 0.0), "{:?}", trace.logprobs);
        assert_eq!(trace.messages.last().map(|m| m.role.as_str()), Some("user"));
        assert!(trace.messages.iter().any(|m| m.content.contains("Proposition:")), "{:?}", trace.messages);
        assert!(!trace.completion.trim().is_empty());
    }
    drop(store);

    // Exports: SFT of the winners' turns, preference pairs, battles.
    let (summary, lines) = export(&db, "sft");
    assert_eq!(summary["written"].as_u64(), Some(lines.len() as u64), "{summary}");
    assert_eq!(summary["matches"], 8);
    for line in &lines {
        let messages = line["messages"].as_array().cloned().unwrap_or_default();
        assert_eq!(messages.last().map(|m| m["role"].clone()), Some(serde_json::json!("assistant")), "{line}");
    }
    let (_, lines) = export(&db, "battles");
    assert_eq!(lines.len(), 8);
    for line in &lines {
        assert!(["random", "first"].contains(&line["judge"].as_str().unwrap_or_default()), "{line}");
        assert!(["model_a", "model_b", "tie"].contains(&line["winner"].as_str().unwrap_or_default()), "{line}");
    }
    let (summary, lines) = export(&db, "preference");
    for line in lines {
        assert!(line["prompt"].is_array() && line["chosen"].is_array() && line["rejected"].is_array(), "{line}");
    }
    assert!(summary["removed"].is_object(), "{summary}");

    // The same tournament on two threads (answers batched together) plays the same games.
    let db2 = dir.path().join("debate2.db");
    let again = debate(&model, &db2, "2");
    assert_eq!(again["judges"], report["judges"]);
    let stored = |db: &Path| {
        let store = Store::open(db).unwrap_or_else(|e| panic!("{e:#}"));
        let turns = store.turns(1).unwrap_or_else(|e| panic!("{e:#}"));
        let finished = store.finished(1).unwrap_or_else(|e| panic!("{e:#}"));
        (turns, finished.into_iter().map(|m| (m.index, m.returns, m.end)).collect::<Vec<_>>())
    };
    assert_eq!(stored(&db), stored(&db2), "1 and 2 threads must give the same debates");
}

#[test]
fn a_model_that_cannot_answer_loses_by_forfeit_with_the_reason() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let model = tiny_model(dir.path());
    let db = dir.path().join("ttt.db");
    let agent = format!("llm(model={},temperature=1,retries=1)", model.display());
    let report = json(&run_ok(&[
        "play",
        "--game",
        "tic_tac_toe",
        "--agents",
        &agent,
        "random",
        "--games",
        "2",
        "--db",
        db.to_str().unwrap_or_default(),
        "--json",
    ]));
    assert_eq!(report["games"], 2);
    let store = Store::open(&db).unwrap_or_else(|e| panic!("{e:#}"));
    for m in store.finished(1).unwrap_or_else(|e| panic!("{e:#}")) {
        // A random tiny model rarely names a cell; whatever happened is recorded with its reason.
        match m.end {
            EndKind::Normal => assert!(m.fault_detail.is_none()),
            EndKind::Fault(FaultKind::Unparseable | FaultKind::IllegalAction) => {
                let detail = m.fault_detail.clone().unwrap_or_default();
                assert!(!detail.is_empty(), "{m:?}");
            }
            other => panic!("unexpected ending {other}: {m:?}"),
        }
    }
}

#[test]
fn a_model_choosing_by_scores_never_forfeits_and_its_rejected_free_text_answers_become_pairs() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let model = tiny_model(dir.path());
    let db = dir.path().join("scored.db");
    let scored = format!("llm(model={},choice=scored)", model.display());
    let free = format!("llm(model={},temperature=1,retries=2)", model.display());
    let report = json(&run_ok(&[
        "play",
        "--game",
        "tic_tac_toe",
        "--agents",
        &scored,
        &free,
        "--games",
        "4",
        "--db",
        db.to_str().unwrap_or_default(),
        "--json",
    ]));
    assert_eq!(report["games"], 4);
    let store = Store::open(&db).unwrap_or_else(|e| panic!("{e:#}"));
    let finished = store.finished(1).unwrap_or_else(|e| panic!("{e:#}"));
    let turns = store.turns(1).unwrap_or_else(|e| panic!("{e:#}"));
    for m in &finished {
        // Seats alternate: the scored agent (agent 0) never loses by a fault.
        let scored_seat = m.seats.iter().position(|&agent| agent == 0);
        assert!(m.fault_seat.is_none() || m.fault_seat != scored_seat, "{m:?}");
        for turn in turns.get(&m.index).into_iter().flatten().filter(|t| Some(t.seat) == scored_seat) {
            assert!(!turn.rejected, "a scored choice is always legal: {turn:?}");
            assert_eq!(turn.trace.tokens.len(), turn.trace.logprobs.len());
        }
    }
    // The free-text model's unreadable answers are kept, marked, and paired with the answers taken.
    let rejected = turns.values().flatten().filter(|t| t.rejected).count();
    let (summary, lines) = export(&db, "preference");
    let pairs = lines.iter().filter(|l| l["meta"]["pair"] == "rejected_answer").count();
    assert_eq!(summary["rejection_pairs"].as_u64(), Some(pairs as u64), "{summary}");
    // A random tiny model seldom names a cell: there are rejected answers to pair.
    assert!(rejected > 0 && pairs <= rejected, "{pairs} pairs from {rejected} rejected answers");
}

#[test]
fn an_oracle_debate_needs_no_judge_and_refuses_one() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let model = tiny_model(dir.path());
    let a = format!("llm(model={},max_tokens=8)", model.display());
    let db = dir.path().join("oracle.db");
    let game = "debate(rounds=1,judge=oracle,items=20)";
    let args =
        ["play", "--game", game, "--agents", &a, &a, "--games", "2", "--db", db.to_str().unwrap_or_default(), "--json"];
    let report = json(&run_ok(&args));
    assert_eq!(report["games"], 2);
    // Both seat orders of one proposition: the oracle gives each debater one win.
    assert_eq!(
        report["wins"].as_u64().unwrap_or(0) + report["losses"].as_u64().unwrap_or(0),
        2 - report["draws"].as_u64().unwrap_or(0)
    );
    assert!(export(&db, "battles").1.iter().all(|l| l["judge"] == "oracle"));

    let (ok, _, stderr) = arena(&["play", "--game", game, "--agents", &a, &a, "--judge", "random", "--games", "2"]);
    assert!(!ok && stderr.contains("no judge seat"), "{stderr}");
    let (ok, _, stderr) = arena(&["play", "--game", "debate", "--agents", &a, &a, "--games", "2"]);
    assert!(!ok && stderr.contains("judge seat"), "{stderr}");
}

#[test]
fn bad_model_files_get_errors_naming_them() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let garbage = dir.path().join("garbage.gguf");
    std::fs::write(&garbage, b"this is not a model").unwrap_or_else(|e| panic!("{e}"));
    for (path, expected) in [(garbage.clone(), "garbage.gguf"), (dir.path().join("missing.gguf"), "missing.gguf")] {
        let agent = format!("llm(model={})", path.display());
        let (ok, _, stderr) = arena(&["play", "--game", "tic_tac_toe", "--agents", &agent, "random", "--games", "2"]);
        assert!(!ok && stderr.contains(expected), "{stderr}");
    }
    let (ok, _, stderr) = arena(&["play", "--game", "tic_tac_toe", "--agents", "llm", "random", "--games", "2"]);
    assert!(!ok && stderr.contains("model"), "{stderr}");
}

#[test]
fn convert_model_writes_a_q8_0_copy_that_plays() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let source = dir.path().join("f32.gguf");
    let config = TinyConfig { weights: agents::llm::tiny::TinyWeights::F32, context: 4096, ..TinyConfig::default() };
    write_tiny_llama(&source, &config, 5).unwrap_or_else(|e| panic!("{e}"));
    let target = dir.path().join("q8.gguf");
    run_ok(&[
        "convert-model",
        "--to",
        "q8_0",
        source.to_str().unwrap_or_default(),
        target.to_str().unwrap_or_default(),
    ]);
    let out = run_ok(&[
        "generate",
        "--model",
        target.to_str().unwrap_or_default(),
        "--prompt",
        "hello",
        "--max-tokens",
        "4",
        "--json",
    ]);
    assert!(out.contains("Q8_0") || out.contains("q8_0"), "{out}");
    let (ok, _, stderr) = arena(&[
        "convert-model",
        "--to",
        "q4_1",
        source.to_str().unwrap_or_default(),
        target.to_str().unwrap_or_default(),
    ]);
    assert!(!ok && stderr.contains("not supported"), "{stderr}");
}
