//! Runs the `custom-game` program for each command and checks what it prints (and, for evolve,
//! what it leaves in the run directory).

use std::process::{Command, Output};

fn run(args: &[&str]) -> String {
    let output: Output = Command::new(env!("CARGO_BIN_EXE_custom-game"))
        .args(args)
        .env("RAYON_NUM_THREADS", "1")
        .output()
        .unwrap_or_else(|e| panic!("cannot run custom-game: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "custom-game {args:?} failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    stdout
}

fn run_failing(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_custom-game"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run custom-game: {e}"));
    assert!(!output.status.success(), "custom-game {args:?} succeeded");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The number after the last `: ` or ` = ` on the first line that starts with `prefix` (agent
/// names are their canonical specs, which may list more parameters than were written).
fn number_after(stdout: &str, prefix: &str) -> f64 {
    let line = stdout.lines().find(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("no `{prefix}` in:\n{stdout}"));
    let rest = line.rsplit_once(": ").or_else(|| line.rsplit_once(" = ")).map_or("", |(_, rest)| rest);
    let number = rest.split_whitespace().next().unwrap_or_default();
    number.parse().unwrap_or_else(|_| panic!("no number after `{prefix}` in `{line}`"))
}

#[test]
fn perft_counts() {
    let stdout = run(&["perft", "3"]);
    assert!(stdout.contains("perft(3) = 27"), "{stdout}");
    assert!(stdout.contains("take_away(stones=21,max_take=3)"), "{stdout}");
    let stdout = run(&["perft", "3", "take_away(stones=4)"]);
    assert!(stdout.contains("perft(3) = 4"), "{stdout}");
    // The built-in games are still there.
    let stdout = run(&["perft", "2", "tic_tac_toe"]);
    assert!(stdout.contains("perft(2) = 72"), "{stdout}");
}

#[test]
fn conformance_check_passes() {
    let stdout = run(&["check"]);
    assert!(stdout.contains("conformance passed"), "{stdout}");
    let stdout = run(&["check", "take_away(stones=63,max_take=9)"]);
    assert!(stdout.contains("conformance passed"), "{stdout}");
}

#[test]
fn bad_input_is_reported() {
    let stderr = run_failing(&["perft", "3", "take_away(stones=99)"]);
    assert!(stderr.contains("stones") && stderr.contains("99"), "{stderr}");
    let stderr = run_failing(&["perft", "three"]);
    assert!(stderr.contains("three") && stderr.contains("usage"), "{stderr}");
    let stderr = run_failing(&["dance"]);
    assert!(stderr.contains("usage"), "{stderr}");
}

#[test]
fn mcts_beats_random_in_a_tournament() {
    let stdout = run(&["tournament"]);
    assert!(stdout.contains("game: take_away(stones=21,max_take=3)"), "{stdout}");
    assert_eq!(number_after(&stdout, "games:"), 20.0, "{stdout}");
    let mcts = number_after(&stdout, "mcts(");
    let random = number_after(&stdout, "random");
    assert_eq!(mcts + random, 20.0, "{stdout}");
    assert!(mcts > random, "{stdout}");
    // Take-away is solved and 200 simulations see far enough to play (nearly) perfectly.
    assert!(mcts >= 16.0, "{stdout}");
}

#[test]
fn evolve_runs_a_generation() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let run_dir = dir.path().join("run");
    let stdout = run(&["evolve", run_dir.to_str().unwrap_or_else(|| panic!("temp path is not UTF-8"))]);
    assert!(stdout.contains("generation 1: champion"), "{stdout}");
    assert!(stdout.contains("generation 2: champion"), "{stdout}");
    // The run directory holds both generations' summaries, readable through the library.
    let summaries = arena::evolve::history(&run_dir).unwrap_or_else(|e| panic!("{e}"));
    let generations: Vec<u32> = summaries.iter().map(|s| s.generation).collect();
    assert_eq!(generations, vec![1, 2], "{stdout}");
    assert!(summaries[0].dataset.is_some(), "generation 1 played self-play games");
    assert!(!summaries[0].gates.is_empty(), "generation 1 trained and gated a child");
}
