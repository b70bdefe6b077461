//! Helpers every test crate of the workspace shares: running a built program and reading its
//! output and JSON. The tests of the engine library live in `tests/tests/`; the tests of the
//! `arena` binary live beside it (`arena/tests/`), where Cargo tells them where the binary is.

use std::path::Path;
use std::process::Command;

/// What a program run printed.
#[derive(Debug)]
pub struct Output {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `program ARGS`, failing the test if it cannot be started.
pub fn run_program(program: &Path, args: &[&str]) -> Output {
    let output =
        Command::new(program).args(args).output().unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    Output {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs `program ARGS`, failing the test with its output unless it succeeds; returns stdout.
pub fn run_ok(program: &Path, args: &[&str]) -> String {
    let output = run_program(program, args);
    assert!(output.success, "{} {args:?} failed:\n{}\n{}", program.display(), output.stderr, output.stdout);
    output.stdout
}

/// Parses JSON output, failing the test with the text.
pub fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}
