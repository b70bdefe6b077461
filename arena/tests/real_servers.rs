//! Real servers with the real model: `openai(...)` agents play tic-tac-toe and a debate through
//! llama.cpp's server (PyPI's `llama-cpp-python[server]`, which `.ci/run` starts on SmolLM2 and
//! names in `ARENA_LLAMA_SERVER`) and through `arena serve-model`, in chat and completion modes,
//! with scored and grammar choices; the official `openai` Python client (`ARENA_PYTHON`) checks
//! `arena serve-model`. Skipped with a note where the server, the client or the model is missing,
//! unless `ARENA_REQUIRE_SERVERS=1` (set by CI) makes that a failure.

mod common;

use std::path::Path;

use arena::engine::runner::{EndKind, FaultKind};
use arena::serve_model::{ModelServer, ServeModelConfig};
use arena::store::{FinishedMatch, Store};
use common::{json, run_ok, smollm2};

/// The value of `variable`, or `None` with a note (a failure under `ARENA_REQUIRE_SERVERS=1`).
fn required(variable: &str, what: &str) -> Option<String> {
    match std::env::var(variable) {
        Ok(value) if !value.is_empty() => Some(value),
        _ => {
            assert!(
                std::env::var("ARENA_REQUIRE_SERVERS").as_deref() != Ok("1"),
                "ARENA_REQUIRE_SERVERS=1 but {variable} ({what}) is not set"
            );
            eprintln!("skipped: {variable} ({what}) is not set");
            None
        }
    }
}

/// Plays `games` tic-tac-toe games of `agent` against `random` and returns them.
fn tic_tac_toe(agent: &str, games: usize, db: &Path) -> Vec<FinishedMatch> {
    let report = json(&run_ok(&[
        "play",
        "--game",
        "tic_tac_toe",
        "--agents",
        agent,
        "random",
        "--games",
        &games.to_string(),
        "--threads",
        "2",
        "--db",
        db.to_str().unwrap_or_default(),
        "--json",
    ]));
    assert_eq!(report["games"], games, "{report}");
    let store = Store::open(db).unwrap_or_else(|e| panic!("{e:#}"));
    store.finished(1).unwrap_or_else(|e| panic!("{e:#}"))
}

/// Games the agent in seat list position 0 (`agent`) lost by a fault of its own.
fn own_faults(games: &[FinishedMatch]) -> Vec<(EndKind, Option<String>)> {
    games
        .iter()
        .filter(|g| g.fault_seat.is_some_and(|seat| g.seats[seat] == 0))
        .map(|g| (g.end, g.fault_detail.clone()))
        .collect()
}

/// Tic-tac-toe in every mode and a judged debate through the server at `url`.
fn play_through(url: &str, dir: &Path, tag: &str) {
    // Written moves, chat and completion: they may be illegal (a small model), but never a crash.
    for (i, agent) in [
        format!("openai(url={url},temperature=0,move_tokens=8)"),
        format!("openai(url={url},mode=completion,temperature=0,move_tokens=8)"),
    ]
    .iter()
    .enumerate()
    {
        let games = tic_tac_toe(agent, 2, &dir.join(format!("{tag}-text-{i}.db")));
        for (end, detail) in own_faults(&games) {
            assert!(
                matches!(end, EndKind::Fault(FaultKind::IllegalAction | FaultKind::Unparseable)),
                "{agent}: {end:?} {detail:?}"
            );
        }
    }
    // Scored choices never forfeit.
    let scored = format!("openai(url={url},mode=completion,choice=scored,temperature=0)");
    let games = tic_tac_toe(&scored, 2, &dir.join(format!("{tag}-scored.db")));
    assert!(own_faults(&games).is_empty(), "{:?}", own_faults(&games));

    // A debate: chat debaters, a scored judge.
    let db = dir.join(format!("{tag}-debate.db"));
    let debater = format!("openai(url={url},temperature=0.7,max_tokens=24,seed=1)");
    let report = json(&run_ok(&[
        "tournament",
        "--game",
        "debate(rounds=1,items=20)",
        "--agents",
        &debater,
        &format!("openai(url={url},mode=completion,temperature=0.7,max_tokens=24,seed=2)"),
        "--judge",
        &scored,
        "--games-per-pairing",
        "1",
        "--db",
        db.to_str().unwrap_or_default(),
        "--json",
    ]));
    assert_eq!(report["games"], 1, "{report}");
    let store = Store::open(&db).unwrap_or_else(|e| panic!("{e:#}"));
    let finished = store.finished(1).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(finished[0].end, EndKind::Normal, "{finished:?}");
    let turns = store.turns(1).unwrap_or_else(|e| panic!("{e:#}"));
    let verdict = turns.values().flatten().find(|t| t.seat == games::debate::JUDGE_SEAT);
    let verdict = verdict.unwrap_or_else(|| panic!("no verdict stored"));
    assert!(["pro", "con"].contains(&verdict.trace.completion.as_str()));
    assert!(turns.values().flatten().all(|t| t.trace.request.as_ref().is_some_and(|r| r.url == url)));
}

#[test]
fn openai_agents_play_through_llama_cpp_server() {
    let Some(url) = required("ARENA_LLAMA_SERVER", "the base URL of llama.cpp's server on SmolLM2") else { return };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    play_through(&url, dir.path(), "llama");
    // Grammar-constrained moves are always legal moves.
    let grammar = format!("openai(url={url},choice=grammar,temperature=0.7)");
    let games = tic_tac_toe(&grammar, 2, &dir.path().join("grammar.db"));
    assert!(own_faults(&games).is_empty(), "{:?}", own_faults(&games));
}

#[test]
fn openai_agents_and_the_openai_client_use_arena_serve_model() {
    let Some(model) = smollm2() else { return };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = ServeModelConfig { port: 0, ..ServeModelConfig::new(&model) };
    let server = ModelServer::start(&config, |_| {}).unwrap_or_else(|e| panic!("{e:#}"));
    play_through(&server.url(), dir.path(), "serve");

    let Some(python) = required("ARENA_PYTHON", "a Python with the `openai` package") else { return };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/openai_client_check.py");
    let output = std::process::Command::new(&python)
        .arg(&script)
        .arg(server.url())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}{stdout}", String::from_utf8_lossy(&output.stderr));
    let report = json(&stdout);
    assert_eq!(report["models"][0], server.name());
    assert_eq!(report["chat"], report["chat_again"], "a seeded greedy answer is the same twice");
    assert!(report["chat_logprobs"].as_u64().is_some_and(|n| n > 0), "{report}");
    assert_eq!(report["echo"], "<|im_start|>user\nYour move:<|im_end|>\n<|im_start|>assistant\nb2<|im_end|>");
    let logprobs = report["token_logprobs"].as_array().cloned().unwrap_or_default();
    assert!(logprobs[0].is_null() && logprobs[1..].iter().all(|l| l.as_f64().is_some_and(|l| l <= 0.0)), "{report}");
    assert_eq!(report["stream_refused"]["status"], 400);
    assert_eq!(report["wrong_model"]["status"], 404);
}
