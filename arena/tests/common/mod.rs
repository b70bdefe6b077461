//! Helpers of the `arena` binary's tests: the shared ones of `arena-tests`, pointed at the binary.
#![allow(dead_code, unused_imports)] // each test binary uses its own subset

use std::path::{Path, PathBuf};

pub use arena_tests::json;

pub mod browser;

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

/// Runs `arena evolve` on `config` into `run` once per marker (resuming after the first), killing
/// it (SIGKILL: no chance to clean up) as soon as `seen(run, marker)`, then resumes it to the end.
/// Returns how many times it was killed.
pub fn kill_at_markers_then_resume(
    config: &Path,
    run: &Path,
    markers: &[&str],
    seen: impl Fn(&Path, &str) -> bool,
) -> usize {
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let mut kills = 0;
    for (k, marker) in markers.iter().enumerate() {
        let mut child = evolve_command(config, run, k > 0)
            .stderr(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{e}"));
        let started = Instant::now();
        while !seen(run, marker) && started.elapsed() < Duration::from_secs(300) {
            if child.try_wait().ok().flatten().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        if child.try_wait().ok().flatten().is_none() {
            child.kill().unwrap_or_else(|e| panic!("{e}"));
            kills += 1;
        }
        let _ = child.wait();
    }
    let output = evolve_command(config, run, true).output().unwrap_or_else(|e| panic!("{e}"));
    assert!(output.status.success(), "the resumed run: {}", String::from_utf8_lossy(&output.stderr));
    kills
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

/// The Q8_0 copy of the fetched SmolLM2-135M-Instruct, made on first use next to it; `None` (with
/// a note) when the model was not fetched, unless `ARENA_REQUIRE_MODEL=1` makes that a failure.
pub fn smollm2() -> Option<PathBuf> {
    let cache = std::env::var_os("ARENA_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/arena")))?
        .join("models");
    let q4 = cache.join("SmolLM2-135M-Instruct.Q4_1.gguf");
    let q8 = cache.join("SmolLM2-135M-Instruct.Q8_0.gguf");
    if !q4.exists() {
        assert!(
            std::env::var("ARENA_REQUIRE_MODEL").as_deref() != Ok("1"),
            "ARENA_REQUIRE_MODEL=1 but {} is missing: run scripts/fetch-model.sh",
            q4.display()
        );
        eprintln!("skipped: {} not fetched (scripts/fetch-model.sh)", q4.display());
        return None;
    }
    if !q8.exists() {
        agents::llm::convert_to_q8_0(&q4, &q8).unwrap_or_else(|e| panic!("{e}"));
    }
    Some(q8)
}

/// What an evolve run decided: its generation summaries without their timings (a language-model
/// run's fine-tuning speed included), and its lineage (names, weight hashes, gates).
pub fn evolve_decisions(run: &Path) -> (Vec<serde_json::Value>, serde_json::Value) {
    let mut summaries = Vec::new();
    for generation in 1.. {
        let path = run.join("generations").join(format!("gen-{generation}.json"));
        let Ok(text) = std::fs::read_to_string(&path) else { break };
        let mut summary: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        summary["seconds"] = serde_json::Value::Null;
        if let Some(training) = summary["training"].as_array_mut() {
            for entry in training {
                entry[1]["seconds"] = serde_json::Value::Null;
            }
        }
        // A language-model run's fine-tuning speed.
        for training in summary["language"]["training"].as_array_mut().into_iter().flatten() {
            training["tokens_per_second"] = serde_json::Value::Null;
            training["train_seconds"] = serde_json::Value::Null;
        }
        summaries.push(summary);
    }
    let lineage = std::fs::read_to_string(run.join("lineage.json")).unwrap_or_else(|e| panic!("{e}"));
    (summaries, serde_json::from_str(&lineage).unwrap_or_else(|e| panic!("{e}")))
}

/// A tiny tic-tac-toe evolve config (one generation, `children` children) whose gates always pass
/// (no SPRT decision in 10 games, threshold 0), so every child's promotion is put to a person.
pub fn approval_config(children: u32) -> String {
    format!(
        "game = \"tic_tac_toe\"\ngenerations = 1\nchildren_per_parent = {children}\narchitecture = \"mlp(hidden=16,layers=1)\"\n\
         anchor_sims = 10\ntournament_games_per_pairing = 4\ntournament_sims = 4\nselfplay_games = 20\nselfplay_sims = 4\n\
         gate_games = 10\ngate_sprt = \"elo0=0,elo1=60,alpha=0.0001,beta=0.0001\"\ngate_threshold = 0.0\nbootstrap = 10\n\
         [train]\nlearning_rate = 0.002\nweight_decay = 0.0001\nbatch_size = 32\nepochs = 1\nvalue_weight = 1.0\n"
    )
}

/// The one-use token in a served page's form (`arena serve`'s vote, judge and approve pages).
pub fn form_token(page: &str) -> String {
    let start = page.find("name=\"token\" value=\"").map(|i| i + 20).unwrap_or_else(|| panic!("no token: {page}"));
    page[start..start + 32].to_string()
}

/// `examples/games`, where the example game programs live.
pub fn example_games() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/games")
}

/// Writes `crashy_nim.py` into `dir`: the example nim, except that its program dies (exit 4,
/// "heap two ran low" on stderr) whenever the second heap comes down to 1. Its path.
pub fn write_crashy_nim(dir: &Path) -> PathBuf {
    let path = dir.join("crashy_nim.py");
    write_nim_program(
        &path,
        "class Crashy(Nim):\n    def apply(self, s, action):\n        Nim.apply(self, s, action)\n\
         \x20       if s['heaps'][1] == 1:\n            sys.stderr.write('heap two ran low\\n'); sys.exit(4)\n\
         serve(Crashy)\n",
    );
    path
}

/// Mends a program written by [`write_crashy_nim`]: it serves the example nim as it is.
pub fn mend_crashy_nim(path: &Path) {
    write_nim_program(path, "serve(Nim)\n");
}

fn write_nim_program(path: &Path, body: &str) {
    let head = format!(
        "import sys\nsys.path.insert(0, {:?})\nfrom arena_game import serve\nfrom nim import Nim\n",
        example_games().display().to_string()
    );
    std::fs::write(path, head + body).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}
