//! Helpers every test crate of the workspace shares: running a built program and reading its
//! output and JSON. The tests of the engine library live in `tests/tests/`; the tests of the
//! `arena` binary live beside it (`arena/tests/`), where Cargo tells them where the binary is.
//! [`fake_http`] is a scripted HTTP server for the tests of HTTP clients.

pub mod fake_http;

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

/// Writes a Python bot to `path` that starts `sleep 1000` in the background (its pid appended to
/// `pids`) and answers every move with the first legal one, after running `before_answer` (Python
/// with the message in `m`, indented by 8 spaces).
pub fn write_spawning_bot(path: &Path, pids: &Path, before_answer: &str) {
    let script = format!(
        r#"import json, subprocess, sys, time
child = subprocess.Popen(["sleep", "1000"])
with open({pids:?}, "a") as f:
    f.write(str(child.pid) + "\n")
for line in sys.stdin:
    m = json.loads(line)
    if m["type"] == "move":
{before_answer}
        print(json.dumps({{"id": m["legal"][0]["id"]}}), flush=True)
"#
    );
    std::fs::write(path, script).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// Whether process `pid` is gone (or a zombie waiting for its reaper).
pub fn process_gone(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

/// The processes of `pids` still running after waiting up to five seconds for them to go.
pub fn still_running(pids: &[&str]) -> Vec<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !pids.iter().all(|pid| process_gone(pid)) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    pids.iter().filter(|pid| !process_gone(pid)).map(|pid| pid.to_string()).collect()
}
