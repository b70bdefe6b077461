//! Helpers of the `arena` binary's tests: the shared ones of `arena-tests`, pointed at the binary.
#![allow(dead_code)] // each test binary uses its own subset

use std::path::Path;

pub use arena_tests::json;

fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_arena"))
}

/// Runs `arena ARGS`; returns (success, stdout, stderr).
pub fn arena(args: &[&str]) -> (bool, String, String) {
    let output = arena_tests::run_program(binary(), args);
    (output.success, output.stdout, output.stderr)
}

/// Runs `arena ARGS`, failing the test with its output unless it succeeds; returns stdout.
pub fn run_ok(args: &[&str]) -> String {
    arena_tests::run_ok(binary(), args)
}
