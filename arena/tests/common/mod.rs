//! Helpers shared by the end-to-end tests: running the `arena` binary and reading its JSON.
#![allow(dead_code)] // each test binary uses its own subset

use std::process::Command;

/// Runs `arena ARGS`; returns (success, stdout, stderr).
pub fn arena(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_arena"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run arena: {e}"));
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Runs `arena ARGS`, failing the test with its output unless it succeeds; returns stdout.
pub fn run_ok(args: &[&str]) -> String {
    let (ok, stdout, stderr) = arena(args);
    assert!(ok, "arena {args:?} failed:\n{stderr}\n{stdout}");
    stdout
}

/// Parses JSON output, failing the test with the text.
pub fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}
