//! The `human` agent at a terminal: `arena play` driven through a pseudo-terminal, as a person
//! would use it — the board and the legal moves shown, an unreadable and an illegal move refused
//! with the engine's reason and asked again, `undo` refused, a game played to the end and stored
//! like any other; Ctrl-D forfeits cleanly.

mod common;

use std::path::Path;
use std::process::Command;

use arena::store::Store;
use rexpect::session::{PtySession, spawn_command};

fn ok<T, E: std::fmt::Debug>(result: Result<T, E>) -> T {
    result.unwrap_or_else(|e| panic!("{e:?}"))
}

/// `arena play` of one tic-tac-toe game, the person (seat 0, X) against `first` (the lowest
/// legal cell), stored in `db`, in a pseudo-terminal.
fn play_against_first(db: &Path) -> PtySession {
    let mut command = Command::new(env!("CARGO_BIN_EXE_arena"));
    command.args(["play", "--game", "tic_tac_toe", "--agents", "human", "first", "--games", "1", "--db"]).arg(db);
    ok(spawn_command(command, Some(60_000)))
}

#[test]
fn a_person_plays_a_game_at_the_terminal_through_refused_moves_to_a_win() {
    let dir = ok(tempfile::tempdir());
    let db = dir.path().join("human.db");
    let mut terminal = play_against_first(&db);
    ok(terminal.exp_string("you play seat 0"));
    ok(terminal.exp_string("You play X"));
    ok(terminal.exp_string("Legal moves: "));
    ok(terminal.exp_string("Your move"));
    ok(terminal.send_line("zz"));
    ok(terminal.exp_string("Not accepted:"));
    ok(terminal.exp_string("Your move"));
    // X takes cell 1; `first` answers with cell 2.
    ok(terminal.send_line("1"));
    ok(terminal.exp_string("Seat 1 played"));
    ok(terminal.exp_string("Your move"));
    ok(terminal.send_line("undo"));
    ok(terminal.exp_string("Undo is not allowed"));
    // Cell 2 is taken: the engine says so, and the person is asked again.
    ok(terminal.send_line("2"));
    ok(terminal.exp_string("Not accepted:"));
    ok(terminal.send_line("5"));
    ok(terminal.exp_string("Seat 1 played"));
    ok(terminal.exp_string("Your move"));
    // 1, 5, 9: the diagonal.
    ok(terminal.send_line("9"));
    ok(terminal.exp_string("Game over: you won"));
    ok(terminal.exp_eof());

    let store = ok(Store::open(&db));
    let finished = ok(store.finished(1));
    assert_eq!(finished.len(), 1);
    assert_eq!(finished[0].score0, 1.0, "the person (seat 0) won");
    let moves = ok(store.match_moves(1));
    assert_eq!(moves.len(), 1);
    assert_eq!(moves[&0].len(), 5, "five moves stored, none of the refused ones: {moves:?}");
}

#[test]
fn ctrl_d_forfeits_the_game_and_the_run_ends_cleanly() {
    let dir = ok(tempfile::tempdir());
    let db = dir.path().join("left.db");
    let mut terminal = play_against_first(&db);
    ok(terminal.exp_string("Your move"));
    ok(terminal.send_control('d'));
    ok(terminal.exp_eof());
    let store = ok(Store::open(&db));
    let finished = ok(store.finished(1));
    assert_eq!(finished.len(), 1);
    assert_eq!(finished[0].score0, 0.0, "a forfeit is a loss");
    assert_eq!(finished[0].fault_seat, Some(0));
    assert_eq!(finished[0].end.as_str(), "resigned");
    assert!(finished[0].fault_detail.as_deref().is_some_and(|d| d.contains("end of input")), "{:?}", finished[0]);
}

#[test]
fn evolve_asks_a_person_before_each_promotion_and_records_the_veto_in_the_lineage() {
    let dir = ok(tempfile::tempdir());
    let config = dir.path().join("approve.toml");
    ok(std::fs::write(&config, common::approval_config(2)));
    let run = dir.path().join("run");
    let mut command = Command::new(env!("CARGO_BIN_EXE_arena"));
    command.args(["evolve", "--quiet", "--threads", "1", "--approve", "--approver", "ana", "--config"]);
    command.arg(&config).arg("--run-dir").arg(&run);
    let mut terminal = ok(spawn_command(command, Some(120_000)));
    ok(terminal.exp_string("promote g1c0 over its parent g0?"));
    ok(terminal.exp_string("Sample gate games:"));
    ok(terminal.exp_string("Approve g1c0 (approve/veto)?"));
    ok(terminal.send_line("approve"));
    ok(terminal.exp_string("promote g1c1 over its parent g0?"));
    ok(terminal.exp_string("Approve g1c1 (approve/veto)?"));
    ok(terminal.send_line("veto"));
    ok(terminal.exp_string("Vetoed"));
    ok(terminal.exp_eof());

    let lineage: serde_json::Value = ok(serde_json::from_str(&ok(std::fs::read_to_string(run.join("lineage.json")))));
    let node = |name: &str| {
        lineage["nodes"].as_array().and_then(|n| n.iter().find(|e| e["name"] == name)).cloned().unwrap_or_default()
    };
    assert_eq!(node("g1c0")["status"], "promoted");
    assert_eq!(node("g1c0")["gate"]["approval"], serde_json::json!({"approved": true, "by": "ana"}));
    assert_eq!(node("g1c1")["status"], "vetoed");
    assert_eq!(node("g1c1")["gate"]["approval"], serde_json::json!({"approved": false, "by": "ana"}));
    let summary: serde_json::Value =
        ok(serde_json::from_str(&ok(std::fs::read_to_string(run.join("generations/gen-1.json")))));
    let population: Vec<&str> =
        summary["population"].as_array().into_iter().flatten().filter_map(|p| p.as_str()).collect();
    assert!(population.contains(&"g1c0") && !population.contains(&"g1c1"), "{population:?}");
    // The store keeps the veto with the checkpoint.
    let store = ok(Store::open(&run.join("arena.db")));
    let vetoed = ok(store.checkpoints()).into_iter().find(|c| c.0.name == "g1c1").map(|c| c.0.status.as_str());
    assert_eq!(vetoed, Some("vetoed"));
}
