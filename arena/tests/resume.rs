//! A tournament killed at any instant (kill -9 of the real process) and resumed ends with exactly
//! the scheduled games and the same results as a run that was never interrupted.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};

const ARGS: [&str; 12] = [
    "tournament",
    "--game",
    "tic_tac_toe",
    "--agents",
    "random",
    "first",
    "random",
    "--games-per-pairing",
    "30000",
    "--seed",
    "5",
    "--json",
];

fn arena(db: &Path, extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_arena"));
    command.args(ARGS).arg("--db").arg(db).args(["--threads", "2"]).args(extra);
    command
}

fn finished(db: &Path) -> i64 {
    Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|c| c.query_row("SELECT count(*) FROM matches WHERE finished = 1", [], |r| r.get(0)))
        .unwrap_or(0)
}

/// A stored match: index, seats, seed, returns, end reason, moves.
type Row = (i64, i64, i64, i64, Option<String>, Option<String>, Option<String>);

/// Every scheduled match with its result, in index order.
fn matches(db: &Path) -> Vec<Row> {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap_or_else(|e| panic!("{e}"));
    let mut statement = conn
        .prepare("SELECT idx, seat0, seat1, seed, returns, end_reason, moves FROM matches ORDER BY idx")
        .unwrap_or_else(|e| panic!("{e}"));
    statement
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)))
        .and_then(|rows| rows.collect())
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn killed_tournament_resumes_without_losing_or_repeating_games() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let reference = dir.path().join("reference.db");
    let status = arena(&reference, &[]).stdout(Stdio::null()).status().unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success());
    let expected = matches(&reference);
    let total = expected.len() as i64;
    assert_eq!(total, 3 * 30000);
    assert!(expected.iter().all(|m| m.4.is_some()), "the reference run finished every game");

    // Kill the run three times at different points, resuming each time.
    let killed = dir.path().join("killed.db");
    let mut kills = 0;
    for threshold in [total / 10, total / 3, 2 * total / 3] {
        let resume: &[&str] = if kills == 0 { &[] } else { &["--resume"] };
        let mut child = arena(&killed, resume)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{e}"));
        let started = Instant::now();
        while finished(&killed) < threshold && started.elapsed() < Duration::from_secs(120) {
            if child.try_wait().ok().flatten().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        if child.try_wait().ok().flatten().is_none() {
            child.kill().unwrap_or_else(|e| panic!("{e}")); // SIGKILL: no chance to clean up
            kills += 1;
        }
        let _ = child.wait();
        let done = finished(&killed);
        assert!(done <= total, "never more than the scheduled games: {done}");
    }
    assert!(kills >= 1, "the run was killed at least once before it finished");
    assert!(finished(&killed) < total, "the last kill left games to play");

    let output = arena(&killed, &["--resume"]).output().unwrap_or_else(|e| panic!("{e}"));
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report["games"].as_i64(), Some(total), "the standings count every game once");
    assert_eq!(matches(&killed), expected, "same games, same results, nothing lost or repeated");
}

#[test]
fn resume_refuses_a_store_of_another_tournament() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = dir.path().join("other.db");
    let status = Command::new(env!("CARGO_BIN_EXE_arena"))
        .args(["play", "--game", "connect_four", "--agents", "random", "first", "--games", "4", "--json", "--db"])
        .arg(&db)
        .stdout(Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success());
    let output = arena(&db, &["--resume"]).output().unwrap_or_else(|e| panic!("{e}"));
    assert!(!output.status.success());
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(error.contains("different config") && error.contains("other.db"), "{error}");

    let not_a_store = dir.path().join("not_a_store.db");
    Connection::open(&not_a_store)
        .and_then(|c| c.execute_batch("CREATE TABLE t (x)"))
        .unwrap_or_else(|e| panic!("{e}"));
    let output = arena(&not_a_store, &[]).output().unwrap_or_else(|e| panic!("{e}"));
    assert!(!output.status.success());
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(error.contains("another program") && error.contains("not_a_store.db"), "{error}");
}
