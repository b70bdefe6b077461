//! `arena evolve` with language models, on a tiny random GGUF the test writes: one generation end
//! to end (tournament with the base model and `random`, held-out games, self-play, data through the
//! filter, LoRA fine-tuning, gate, lineage, history); a debate run with the population as judges;
//! and a run killed with kill -9 and resumed that ends in the same state as one never interrupted.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use agents::llm::finetuned::{MERGED_FILE, sha256_file};
use agents::llm::tiny::{TinyConfig, write_tiny_llama};
use common::{StoredGame, arena, evolve_command, evolve_decisions, run_ok, stored_games};
use serde_json::json;

fn ok<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
    result.unwrap_or_else(|e| panic!("{e}"))
}

/// A tiny model whose context holds a tic-tac-toe prompt (its tokenizer spends a token per byte).
fn tiny_model(dir: &Path) -> PathBuf {
    let model = dir.join("tiny.gguf");
    ok(write_tiny_llama(&model, &TinyConfig { context: 2048, ..TinyConfig::default() }, 11));
    model
}

/// One generation of tic-tac-toe: scored moves (a random tiny model cannot write a cell), so the
/// games end normally and have winners whose turns become SFT data.
fn tictactoe_config(dir: &Path, model: &Path) -> PathBuf {
    let text = format!(
        r#"
game = "tic_tac_toe"
generations = 1
population = 2
league = 1
tournament_games_per_pairing = 4
opening_plies = 1
selfplay_games = 6
gate_games = 4
bootstrap = 20

[llm]
model = "{}"
agent = "llm(choice=scored,temperature=1)"
method = "sft"
lora_rank = 4
lora_targets = "q,v"
epochs = 2
learning_rate = 0.002
batch_tokens = 4096
max_len = 2048
max_examples = 12
heldout_games = 4
heldout_opponents = ["base", "random"]
"#,
        model.display()
    );
    let path = dir.join("llm-ttt.toml");
    ok(std::fs::write(&path, text));
    path
}

fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    ok(serde_json::from_str(&text))
}

/// Everything a run decided: the generation summaries without their timings, the lineage (names,
/// model hashes, gates), every stored game and every stored turn's text.
fn final_state(run: &Path) -> (Vec<serde_json::Value>, serde_json::Value, Vec<StoredGame>, Vec<String>) {
    let (summaries, lineage) = evolve_decisions(run);
    let conn = ok(rusqlite::Connection::open(run.join("arena.db")));
    let games = stored_games(run);
    let turns = ok(conn
        .prepare("SELECT completion FROM turns ORDER BY tournament_id, match_idx, ordinal")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect()));
    (summaries, lineage, games, turns)
}

#[test]
fn one_language_model_generation_goes_end_to_end() {
    let dir = ok(tempfile::tempdir());
    let model = tiny_model(dir.path());
    let config = tictactoe_config(dir.path(), &model);
    let run = dir.path().join("run");
    let output = ok(evolve_command(&config, &run, false).output());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}\n{stdout}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("held-out evaluation") && stdout.contains("vs random"), "{stdout}");

    // The first generation: the base model (g0) rated with the base model at zero, data from its
    // tournament and self-play, one LoRA child merged into a GGUF, a gate against g0.
    let first = read_json(&run.join("generations/gen-1.json"));
    let ratings = first["ratings"].as_array().cloned().unwrap_or_default();
    let rating_of = |name: &str| ratings.iter().find(|r| r["name"] == name).map(|r| r["rating"].clone());
    assert_eq!(rating_of("base"), Some(json!(0.0)), "{first}");
    assert!(rating_of("g0").is_some() && rating_of("random").is_some(), "{first}");
    let language = &first["language"];
    let data = &language["data"];
    assert_eq!(data["kind"], "sft");
    assert!(data["filter"]["matches"].as_u64().is_some_and(|n| n >= 10), "tournament and self-play: {data}");
    let kept = data["kept"].as_u64().unwrap_or(0);
    assert!(kept > 0 && kept <= 12, "at most max_examples lines kept: {data}");
    let lines = ok(std::fs::read_to_string(run.join("datasets/gen-1.sft.jsonl")));
    assert_eq!(lines.lines().count() as u64, kept);
    for line in lines.lines() {
        let value: serde_json::Value = ok(serde_json::from_str(line));
        let messages = value["messages"].as_array().cloned().unwrap_or_default();
        assert_eq!(messages.last().map(|m| m["role"].clone()), Some(json!("assistant")), "{line}");
    }
    let training = &language["training"][0];
    assert_eq!((training["child"].as_str(), training["parent"].as_str()), (Some("g1c0"), Some("g0")));
    assert!(training["steps"].as_u64().is_some_and(|n| n >= 2), "{training}");
    assert!(
        training["last_loss"].as_f64() < training["first_loss"].as_f64(),
        "two epochs on the same lines lower the loss: {training}"
    );
    let held_out = &language["held_out"];
    assert_eq!(held_out["champion"], first["champion"]);
    let random = held_out["scores"].as_array().and_then(|s| s.iter().find(|s| s["opponent"] == "random")).cloned();
    assert_eq!(random.map(|r| r["games"].clone()), Some(json!(4)), "{held_out}");
    let gate = &first["gates"][0];
    assert_eq!((gate["child"].as_str(), gate["parent"].as_str()), (Some("g1c0"), Some("g0")));
    assert!(gate["games"].as_u64().is_some_and(|n| n > 0), "{gate}");

    // The lineage: g0 is the base model file, the child its checkpoint with the merged model's hash.
    let lineage = read_json(&run.join("lineage.json"));
    let nodes = lineage["nodes"].as_array().cloned().unwrap_or_default();
    assert_eq!(nodes.len(), 2, "{lineage}");
    assert_eq!(nodes[0]["hash"].as_str(), Some(ok(sha256_file(&model)).0.as_str()));
    let child = run.join("checkpoints/g1c0");
    assert_eq!(nodes[1]["hash"].as_str(), Some(ok(sha256_file(&child.join(MERGED_FILE))).0.as_str()));
    assert_eq!(lineage["edges"], common::json("[[0, 1]]"));

    // The final rating generation, the history, and the child playing as a checkpoint directory.
    let last = read_json(&run.join("generations/gen-2.json"));
    assert!(last["language"]["held_out"]["scores"].as_array().is_some_and(|s| !s.is_empty()), "{last}");
    let history = run_ok(&["history", "--run", run.to_str().unwrap_or_default()]);
    assert!(history.contains("held-out evaluation") && history.contains("rating vs base"), "{history}");
    let spec = format!("llm(model={},choice=scored)", child.display());
    let played = run_ok(&["play", "--game", "tic_tac_toe", "--agents", &spec, "random", "--games", "2"]);
    assert!(played.contains("games 2"), "{played}");
}

#[test]
fn a_debate_run_rates_debaters_and_measures_the_champion_as_a_judge() {
    let dir = ok(tempfile::tempdir());
    let model = tiny_model(dir.path());
    let text = format!(
        r#"
game = "debate(rounds=1,max_chars=200)"
generations = 1
population = 1
league = 0
tournament_games_per_pairing = 2
opening_plies = 0
selfplay_games = 2
gate_games = 2
bootstrap = 10

[llm]
model = "{}"
agent = "llm(choice=scored,temperature=1,max_tokens=8)"
judge = "population"
method = "sft"
lora_rank = 2
lora_targets = "q"
batch_tokens = 4096
max_len = 2048
max_examples = 8
heldout_games = 4
heldout_opponents = ["base"]
heldout_game = "debate(rounds=1,max_chars=200,seed=99)"
"#,
        model.display()
    );
    let config = dir.path().join("llm-debate.toml");
    ok(std::fs::write(&config, text));
    let run = dir.path().join("run");
    let output = ok(evolve_command(&config, &run, false).output());
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let first = read_json(&run.join("generations/gen-1.json"));
    // No `random` in a free-text game; the base model is the anchor.
    let names: Vec<String> = first["ratings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["name"].as_str().map(String::from))
        .collect();
    assert_eq!(names, ["g0", "base"], "{first}");
    let judge = &first["language"]["held_out"]["judge"];
    assert_eq!(judge["verdicts"], json!(4), "the champion judged the four held-out debates: {first}");
    let accuracy = judge["accuracy"].as_f64().unwrap_or(-1.0);
    assert!((0.0..=1.0).contains(&accuracy) && judge["accuracy_low"].as_f64() <= Some(accuracy), "{judge}");
    assert_eq!(first["language"]["held_out"]["game"], "debate(rounds=1,max_chars=200,seed=99)");
    // The judged games are in the store with their judges: the population judged the rating games.
    let conn = ok(rusqlite::Connection::open(run.join("arena.db")));
    let judged: i64 = ok(conn.query_row("SELECT count(*) FROM matches WHERE judge IS NOT NULL", [], |r| r.get(0)));
    assert!(judged >= 2 + 2 + 4, "rating, self-play and held-out games were judged: {judged}");
}

#[test]
fn a_killed_language_model_run_resumes_to_the_same_final_state() {
    let dir = ok(tempfile::tempdir());
    let model = tiny_model(dir.path());
    let config = tictactoe_config(dir.path(), &model);
    let reference = dir.path().join("reference");
    let status = ok(evolve_command(&config, &reference, false).stderr(Stdio::null()).stdout(Stdio::null()).status());
    assert!(status.success());

    // Kill the run (SIGKILL) as each of these artifacts appears, then resume.
    let run = dir.path().join("killed");
    let markers = ["datasets/gen-1.json", "checkpoints/g1c0/training-state.json", "lineage.dot"];
    let kills = common::kill_at_markers_then_resume(&config, &run, &markers, |run, marker| match marker {
        // The lineage is written once at the start; wait for the child's entry.
        "lineage.dot" => std::fs::read_to_string(run.join(marker)).is_ok_and(|t| t.contains("g1c0")),
        _ => run.join(marker).exists(),
    });
    assert!(kills >= 1, "the run was killed at least once");
    let expected = final_state(&reference);
    let resumed = final_state(&run);
    assert_eq!(resumed.0, expected.0, "the same generation summaries");
    assert_eq!(resumed.1, expected.1, "the same checkpoints, bit for bit (same model hashes)");
    assert_eq!(resumed.2, expected.2, "the same games");
    assert_eq!(resumed.3, expected.3, "the same turns");
}

/// Runs `arena evolve` on each config text: it must fail with an error containing its expected
/// text, before the run directory is started.
fn each_fails_before_any_work(dir: &Path, cases: impl IntoIterator<Item = (String, &'static str)>) {
    for (k, (bad, expected)) in cases.into_iter().enumerate() {
        let path = dir.join(format!("bad-{k}.toml"));
        ok(std::fs::write(&path, bad));
        let run = dir.join(format!("bad-run-{k}"));
        let (success, _, stderr) = arena(&[
            "evolve",
            "--quiet",
            "--config",
            path.to_str().unwrap_or_default(),
            "--run-dir",
            run.to_str().unwrap_or_default(),
        ]);
        assert!(!success && stderr.contains(expected), "case {k}: {stderr}");
        assert!(!run.join("run.json").exists(), "case {k}: nothing is started");
    }
}

#[test]
fn language_model_configs_are_checked_before_any_work() {
    let dir = ok(tempfile::tempdir());
    let model = tiny_model(dir.path());
    let config = tictactoe_config(dir.path(), &model);
    let text = ok(std::fs::read_to_string(&config));
    let cases = [
        (text.replace(&model.display().to_string(), "/nowhere/model.gguf"), "/nowhere/model.gguf"),
        (text.replace("llm(choice=scored,temperature=1)", "mcts(sims=10)"), "llm(...)"),
        (text.replace("llm(choice=scored,temperature=1)", "llm(model=x.gguf)"), "leave out `model`"),
        (text.replace("lora_targets = \"q,v\"", "lora_targets = \"q,nose\""), "nose"),
        (text.replace("heldout_opponents = [\"base\", \"random\"]", "heldout_opponents = [\"nobody\"]"), "nobody"),
    ];
    each_fails_before_any_work(dir.path(), cases);
    // --model is for language-model runs only.
    let board = dir.path().join("board.toml");
    ok(std::fs::write(&board, "game = \"tic_tac_toe\"\n"));
    let (success, _, stderr) =
        arena(&["evolve", "--config", board.to_str().unwrap_or_default(), "--model", "x.gguf", "--run-dir", "unused"]);
    assert!(!success && stderr.contains("--model is for language-model runs"), "{stderr}");
}

#[test]
fn kuhn_poker_evolves_as_a_text_game_too() {
    let dir = ok(tempfile::tempdir());
    let model = tiny_model(dir.path());
    let config = tictactoe_config(dir.path(), &model);
    let text = ok(std::fs::read_to_string(&config)).replace("game = \"tic_tac_toe\"", "game = \"kuhn_poker\"");
    ok(std::fs::write(&config, text));
    let run = dir.path().join("run");
    let output = ok(evolve_command(&config, &run, false).output());
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let first = read_json(&run.join("generations/gen-1.json"));
    assert!(first["language"]["data"]["kept"].as_u64().is_some_and(|n| n > 0), "{first}");
    assert!(run.join("checkpoints/g1c0").join(MERGED_FILE).exists());
    let names: Vec<&str> =
        first["ratings"].as_array().into_iter().flatten().filter_map(|r| r["name"].as_str()).collect();
    assert_eq!(names, ["g0", "base", "random"]);
}

/// Writes a task file of `(question, answer)` lines.
fn task_file(path: &Path, tasks: &[(&str, i64)]) {
    let lines: Vec<String> =
        tasks.iter().map(|(q, a)| json!({ "question": q, "answer": a, "kind": "addition" }).to_string()).collect();
    ok(std::fs::write(path, lines.join("\n") + "\n"));
}

/// A quiz run whose labels come from `labels`: six training tasks with one-digit answers (so a
/// tiny random model's digits are sometimes right) and a seventh that is also a held-out question.
fn quiz_config(dir: &Path, model: &Path, labels: &str) -> PathBuf {
    let train = dir.join("train.jsonl");
    task_file(
        &train,
        &[
            ("What is 1 + 1?", 2),
            ("What is 2 + 1?", 3),
            ("What is 2 + 2?", 4),
            ("What is 3 + 2?", 5),
            ("What is 1 + 0?", 1),
            ("What is 4 + 3?", 7),
            ("What is 3 + 3?", 6),
        ],
    );
    let held = dir.join("held.jsonl");
    task_file(&held, &[("What is 2 + 2?", 4), ("What is 5 + 3?", 8), ("What is 0 + 0?", 0)]);
    // The tiny model writes random bytes, which the default filter removes as degenerate.
    let filter = dir.join("filter.toml");
    ok(std::fs::write(&filter, "degenerate = false\nrepetitive = false\n"));
    let text = format!(
        r#"
game = "quiz(tasks={train})"
generations = 1
population = 2
league = 1
tournament_games_per_pairing = 2
opening_plies = 1
selfplay_games = 1
gate_games = 2
bootstrap = 10

[llm]
model = "{model}"
agent = "llm(temperature=1,max_tokens=12)"
method = "sft"
labels = "{labels}"
min_agreement = 0.0
tasks_per_generation = 10
samples_per_task = 8
lora_rank = 2
lora_targets = "q"
batch_tokens = 4096
max_len = 2048
max_examples = 50
heldout_games = 6
heldout_opponents = []
heldout_game = "quiz(tasks={held})"
filter = "{filter}"
"#,
        filter = filter.display(),
        train = train.display(),
        held = held.display(),
        model = model.display()
    );
    let path = dir.join(format!("quiz-{labels}.toml"));
    ok(std::fs::write(&path, text));
    path
}

#[test]
fn a_quiz_run_trains_on_verified_answers_and_measures_held_out_accuracy() {
    let dir = ok(tempfile::tempdir());
    let model = tiny_model(dir.path());
    let config = quiz_config(dir.path(), &model, "verifier");
    let run = dir.path().join("run");
    let output = ok(evolve_command(&config, &run, false).output());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}\n{stdout}", String::from_utf8_lossy(&output.stderr));
    let first = read_json(&run.join("generations/gen-1.json"));
    let data = &first["language"]["data"];
    // "What is 2 + 2?" is a held-out question: it is never drawn for training.
    assert_eq!(data["held_out_overlap"], json!(1), "{data}");
    let labels = &data["labels"];
    assert_eq!(labels["source"], "verifier");
    let samples = labels["samples"]["accuracy"]["positions"].as_u64().unwrap_or(0);
    assert!(samples > 0 && samples <= 6 * 8, "six tasks, eight samples each at most: {labels}");
    assert!(labels["samples"]["tasks"].as_u64().is_some_and(|t| t <= 6), "{labels}");
    // The verifier's labels are right by construction; each task some sample solved has one.
    assert_eq!(labels["label_accuracy"]["hits"], labels["label_accuracy"]["positions"], "{labels}");
    assert_eq!(labels["labeled_tasks"], labels["samples"]["solved_tasks"], "{labels}");
    // Each SFT line answers its task with the exact answer, never for the held-out question.
    let answers = [2, 3, 4, 5, 1, 7, 6];
    let lines = ok(std::fs::read_to_string(run.join("datasets/gen-1.sft.jsonl")));
    assert_eq!(lines.lines().count() as u64, data["kept"].as_u64().unwrap_or(99));
    assert!(!lines.is_empty(), "the tiny model's digits solved no task with this seed: {labels}");
    for line in lines.lines() {
        let value: serde_json::Value = ok(serde_json::from_str(line));
        let task = value["meta"]["task"].as_u64().unwrap_or(99) as usize;
        assert_ne!(task, 2, "the held-out question was trained on: {line}");
        assert_eq!(value["messages"][2]["content"], json!(answers[task].to_string()), "{line}");
    }
    // The champion's held-out accuracy: three tasks, each a game pair (four answers) at most.
    for generation in ["gen-1", "gen-2"] {
        let summary = read_json(&run.join(format!("generations/{generation}.json")));
        let accuracy = &summary["language"]["held_out"]["accuracy"];
        let asked = accuracy["accuracy"]["positions"].as_u64().unwrap_or(0);
        assert!(asked > 0 && asked <= 12 && accuracy["tasks"].as_u64() <= Some(3), "{summary}");
    }
    assert!(stdout.contains("held-out accuracy") && stdout.contains("pass rate"), "{stdout}");
    assert!(stdout.contains("held-out accuracy by task kind") && stdout.contains("addition"), "{stdout}");
    assert!(stdout.contains("flags: none") || stdout.contains("FLAGS"), "{stdout}");

    // Majority labels, the truth unseen: the report still scores them against it. Two
    // generations with a curriculum: the second draw weighs each kind by the first's errors.
    let config = quiz_config(dir.path(), &model, "majority");
    // DPO this time: the plurality answer against the others.
    let text = ok(std::fs::read_to_string(&config)).replace("generations = 1", "generations = 2");
    let text = text.replace("method = \"sft\"", "method = \"dpo\"");
    ok(std::fs::write(&config, text.replace("[llm]", "[llm]\ncurriculum = true")));
    let run = dir.path().join("run-majority");
    let output = ok(evolve_command(&config, &run, false).output());
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let data = read_json(&run.join("datasets/gen-1.json"));
    let labels = data["labels"].clone();
    assert_eq!(labels["source"], "majority");
    assert_eq!(data["kind"], "preference");
    let pairs = ok(std::fs::read_to_string(run.join("datasets/gen-1.preference.jsonl")));
    assert!(!pairs.is_empty(), "{data}");
    for line in pairs.lines() {
        let pair: serde_json::Value = ok(serde_json::from_str(line));
        assert_ne!(pair["chosen"][0]["content"], pair["rejected"][0]["content"], "{line}");
    }
    let training = &read_json(&run.join("generations/gen-1.json"))["language"]["training"][0];
    assert_eq!(training["method"], "dpo", "{training}");
    let (hits, labeled) = (labels["label_accuracy"]["hits"].as_u64(), labels["label_accuracy"]["positions"].as_u64());
    assert!(hits <= labeled && labeled == labels["labeled_tasks"].as_u64(), "{labels}");
    let addition = &labels["samples"]["by_kind"][0];
    assert_eq!(addition["kind"], "addition");
    let error_rate = 1.0 - addition["right"].as_f64().unwrap_or(0.0) / addition["of"].as_f64().unwrap_or(1.0);
    let second = read_json(&run.join("datasets/gen-2.json"));
    let weight = second["kind_weights"]["addition"].as_f64().unwrap_or(-1.0);
    assert!((weight - (error_rate + 0.1)).abs() < 1e-9, "{weight} against {error_rate}: {second}");
    assert!(read_json(&run.join("datasets/gen-1.json")).get("kind_weights").is_none(), "no curriculum before data");
}

#[test]
fn task_labels_need_a_quiz() {
    let dir = ok(tempfile::tempdir());
    let model = tiny_model(dir.path());
    let config = quiz_config(dir.path(), &model, "verifier");
    let text = ok(std::fs::read_to_string(&config));
    let cases = [
        (text.replacen("game = \"quiz(", "game = \"tic_tac_toe\"\n# (", 1), "the run's game must be a quiz"),
        (text.replace("samples_per_task = 8", "samples_per_task = 6"), "multiple of 4"),
        (text.replace("labels = \"verifier\"", "labels = \"oracle\""), "oracle"),
        (text.replace("min_agreement = 0.0", "min_agreement = 1.5"), "min_agreement"),
        (
            text.replace("labels = \"verifier\"", "labels = \"games\"\nproposals_per_generation = 4"),
            "or debate propositions (a debate game)",
        ),
    ];
    each_fails_before_any_work(dir.path(), cases);
}

#[test]
fn self_instruct_records_every_proposal_with_its_verdict_and_resumes_to_the_same_pool() {
    let dir = ok(tempfile::tempdir());
    let model = tiny_model(dir.path());
    let config = quiz_config(dir.path(), &model, "verifier");
    let text = ok(std::fs::read_to_string(&config)).replace("generations = 1", "generations = 2");
    ok(std::fs::write(&config, text.replace("[llm]", "[llm]\nproposals_per_generation = 9")));
    let run = dir.path().join("run");
    let output = ok(evolve_command(&config, &run, false).output());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}\n{stdout}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("proposals kept"), "{stdout}");
    for generation in 1..=2 {
        // Every proposal is recorded: who proposed it, the kind asked for, the reply and the verdict.
        let records = ok(std::fs::read_to_string(run.join(format!("tasks/gen-{generation}.proposals.jsonl"))));
        let records: Vec<serde_json::Value> = records.lines().map(|l| ok(serde_json::from_str(l))).collect();
        assert_eq!(records.len(), 9, "generation {generation}");
        let data = read_json(&run.join(format!("datasets/gen-{generation}.json")));
        let report = &data["proposals"];
        assert_eq!(report["proposed"], json!(9), "{report}");
        let rejected: u64 = report["rejected"].as_object().into_iter().flatten().filter_map(|(_, n)| n.as_u64()).sum();
        assert_eq!(report["accepted"].as_u64().unwrap_or(99) + rejected, 9, "{report}");
        let reasons = ["filtered", "too_short", "too_long", "uncheckable", "duplicate", "near_duplicate"];
        for record in &records {
            assert!(record["proposer"].as_str().is_some_and(|p| p.starts_with('g')), "{record}");
            assert!(record["reply"].is_string() && record["asked_kind"].is_string(), "{record}");
            if let Some(reason) = record["rejected"].as_str() {
                assert!(reasons.contains(&reason), "{record}");
                assert!(report["rejected"][reason].as_u64().is_some_and(|n| n > 0), "{record}: {report}");
            } else {
                assert!(record["answer"].is_string(), "a kept proposal has the arena's answer: {record}");
            }
        }
        // The generation's quiz: the run's seven tasks and every proposal kept so far.
        let tasks = ok(std::fs::read_to_string(run.join(format!("tasks/gen-{generation}.jsonl"))));
        assert_eq!(tasks.lines().count() as u64, 7 + report["pool"].as_u64().unwrap_or(99), "{report}");
    }
    // A resumed run, its last generation's files removed, rebuilds the same pool and data.
    let before = final_state(&run);
    for file in ["generations/gen-2.json", "generations/gen-3.json", "datasets/gen-2.json", "tasks/gen-2.jsonl"] {
        ok(std::fs::remove_file(run.join(file)));
    }
    let output = ok(evolve_command(&config, &run, true).output());
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(final_state(&run), before);
}

#[test]
fn debate_self_instruct_debates_on_the_grown_proposition_set_and_resumes_to_the_same_pool() {
    let dir = ok(tempfile::tempdir());
    let model = tiny_model(dir.path());
    let text = format!(
        r#"
game = "debate(rounds=1,max_chars=200,items=6)"
generations = 2
population = 1
league = 0
tournament_games_per_pairing = 2
opening_plies = 0
selfplay_games = 4
gate_games = 2
bootstrap = 10

[llm]
model = "{}"
agent = "llm(choice=scored,temperature=1,max_tokens=8)"
judge = "base"
method = "sft"
proposals_per_generation = 3
lora_rank = 2
lora_targets = "q"
batch_tokens = 4096
max_len = 2048
max_examples = 8
heldout_games = 2
heldout_opponents = ["base"]
heldout_game = "debate(rounds=1,max_chars=200,seed=99)"
"#,
        model.display()
    );
    let config = dir.path().join("llm-debate-instruct.toml");
    ok(std::fs::write(&config, text));
    let run = dir.path().join("run");
    let output = ok(evolve_command(&config, &run, false).output());
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let conn = ok(rusqlite::Connection::open(run.join("arena.db")));
    for generation in 1..=2 {
        let records = ok(std::fs::read_to_string(run.join(format!("tasks/gen-{generation}.proposals.jsonl"))));
        let records: Vec<serde_json::Value> = records.lines().map(|l| ok(serde_json::from_str(l))).collect();
        assert_eq!(records.len(), 3, "generation {generation}");
        let kinds: Vec<&str> = records.iter().filter_map(|r| r["asked_kind"].as_str()).collect();
        assert_eq!(kinds, ["addition", "subtraction", "multiplication"], "the debate kinds in turn");
        let report = &read_json(&run.join(format!("datasets/gen-{generation}.json")))["proposals"];
        assert_eq!(report["proposed"], json!(3), "{report}");
        // The generation's proposition file: the run's six propositions and the kept proposals,
        // each with its truth, in the debate's own file format.
        let path = run.join(format!("tasks/gen-{generation}.jsonl"));
        let lines = ok(std::fs::read_to_string(&path));
        assert_eq!(lines.lines().count() as u64, 6 + report["pool"].as_u64().unwrap_or(99), "{report}");
        for proposition in ok(games::debate::load_jsonl(&path)) {
            // Every truth in the file is the arena's own (the generated ones and any proposal).
            let checked = games::debate::check_claim(&proposition.text);
            assert_eq!(checked, Some((proposition.truth, proposition.kind.as_str())), "{proposition:?}");
        }
        // The generation's self-play debated on that file.
        let spec = format!("tasks/gen-{generation}.jsonl");
        let played: i64 = ok(conn.query_row(
            "SELECT count(*) FROM matches m JOIN tournaments t ON m.tournament_id = t.id WHERE instr(t.game, ?1) > 0",
            [&spec],
            |r| r.get(0),
        ));
        assert_eq!(played, 4, "generation {generation}: self-play on {spec}");
    }
    // A resumed run, its last generation's files removed, rebuilds the same pool and data.
    let before = final_state(&run);
    for file in ["generations/gen-2.json", "generations/gen-3.json", "datasets/gen-2.json", "tasks/gen-2.jsonl"] {
        ok(std::fs::remove_file(run.join(file)));
    }
    let output = ok(evolve_command(&config, &run, true).output());
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(final_state(&run), before);
}

#[test]
fn language_models_evolve_on_the_text_games_for_reasoning() {
    let dir = ok(tempfile::tempdir());
    // The games' rules and offers take more bytes (the tiny tokenizer's tokens) than tic-tac-toe.
    let model = dir.path().join("tiny.gguf");
    ok(write_tiny_llama(&model, &TinyConfig { context: 4096, ..TinyConfig::default() }, 11));
    let base = ok(std::fs::read_to_string(tictactoe_config(dir.path(), &model)));
    for game in ["deduction(numbers=8,questions=3)", "negotiation(max_count=2,turns=4,scenarios=50)"] {
        let text = base
            .replace("game = \"tic_tac_toe\"", &format!("game = \"{game}\""))
            .replace("opening_plies = 1\n", "")
            .replace("max_len = 2048", "max_len = 4096");
        let name = game.split('(').next().unwrap_or(game);
        let config = dir.path().join(format!("{name}.toml"));
        ok(std::fs::write(&config, text));
        let run = dir.path().join(name);
        let output = ok(evolve_command(&config, &run, false).output());
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{game}: {}\n{stdout}", String::from_utf8_lossy(&output.stderr));
        let first = read_json(&run.join("generations/gen-1.json"));
        let kept = first["language"]["data"]["kept"].as_u64().unwrap_or(0);
        assert!(kept > 0, "{game}: won games' turns are training data: {}", first["language"]["data"]);
        let store = ok(rusqlite::Connection::open(run.join("arena.db")));
        let normal: i64 =
            ok(store.query_row("SELECT count(*) FROM matches WHERE end_reason = 'normal'", [], |r| r.get(0)));
        assert!(normal > 0, "{game}: games end by the rules");
    }
}
