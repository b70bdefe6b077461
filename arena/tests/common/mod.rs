//! Helpers of the `arena` binary's tests: the shared ones of `arena-tests`, pointed at the binary.
#![allow(dead_code, unused_imports)] // each test binary uses its own subset

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

/// `arena evolve --quiet --threads 2 --config CONFIG --run-dir RUN`, with `--resume` if asked.
pub fn evolve_command(config: &Path, run: &Path, resume: bool) -> std::process::Command {
    let mut command = std::process::Command::new(binary());
    command.args(["evolve", "--quiet", "--threads", "2", "--config"]).arg(config).arg("--run-dir").arg(run);
    if resume {
        command.arg("--resume");
    }
    command
}

/// A stored game: tournament, index, returns, moves.
pub type StoredGame = (i64, i64, String, Option<String>);

/// Every game in a run's store, in tournament and match order.
pub fn stored_games(run: &Path) -> Vec<StoredGame> {
    let conn = rusqlite::Connection::open(run.join("arena.db")).unwrap_or_else(|e| panic!("{e}"));
    conn.prepare("SELECT tournament_id, idx, returns, moves FROM matches ORDER BY tournament_id, idx")
        .and_then(|mut s| {
            s.query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get::<_, Option<String>>(2)?.unwrap_or_default(), r.get(3)?))
            })?
            .collect()
        })
        .unwrap_or_else(|e| panic!("{e}"))
}
