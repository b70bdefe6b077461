//! `arena finetune` as a user runs it, on a tiny random GGUF the test writes: a run killed with
//! SIGKILL and resumed ends with the same adapter as one that was not killed; the checkpoint
//! plays in `arena play`; bad flags get clear errors.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use agents::llm::tiny::{TinyConfig, write_tiny_llama};
use common::{arena, json, run_ok};

fn ok<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
    result.unwrap_or_else(|e| panic!("{e}"))
}

fn text(path: &Path) -> &str {
    path.to_str().unwrap_or_default()
}

/// A tiny model, and an SFT file of 40 one-cell answers.
fn fixtures(dir: &Path) -> (PathBuf, PathBuf) {
    let model = dir.join("tiny.gguf");
    ok(write_tiny_llama(&model, &TinyConfig { context: 1024, ..TinyConfig::default() }, 3));
    let lines: String = (0..40)
        .map(|i| {
            let line = serde_json::json!({"messages": [
                {"role": "user", "content": format!("Position {i}: your move?")},
                {"role": "assistant", "content": format!("{}{}", ["a", "b", "c"][i % 3], 1 + i % 3)},
            ]});
            format!("{line}\n")
        })
        .collect();
    let data = dir.join("sft.jsonl");
    ok(std::fs::write(&data, lines));
    (model, data)
}

fn finetune_args<'a>(model: &'a Path, data: &'a Path, out: &'a Path) -> Vec<&'a str> {
    vec![
        "finetune",
        "--model",
        text(model),
        "--data",
        text(data),
        "--out",
        text(out),
        "--epochs",
        "40",
        "--batch-tokens",
        "96",
        "--lora-rank",
        "4",
        "--lr",
        "1e-3",
        "--save-every",
        "3",
        "--threads",
        "1",
        "--json",
    ]
}

fn adapter_tensors(dir: &Path) -> Vec<(String, Vec<u32>)> {
    let tensors = ok(candle_core::safetensors::load(dir.join("adapter.safetensors"), &candle_core::Device::Cpu));
    let mut bits: Vec<(String, Vec<u32>)> = tensors
        .into_iter()
        .map(|(name, t)| {
            let values = ok(t.flatten_all().and_then(|t| t.to_vec1::<f32>()));
            (name, values.iter().map(|v| v.to_bits()).collect())
        })
        .collect();
    bits.sort();
    bits
}

fn saved_step(out: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(out.join("training-state.json")).ok()?;
    json(&text)["step"].as_u64()
}

#[test]
fn a_killed_finetune_resumes_to_the_same_adapter_and_the_checkpoint_plays() {
    let dir = ok(tempfile::tempdir());
    let (model, data) = fixtures(dir.path());
    let whole = dir.path().join("whole");
    let report = json(&run_ok(&finetune_args(&model, &data, &whole)));
    let steps = report["steps"].as_u64().unwrap_or(0);
    assert!(steps >= 40 * 4, "{report}");

    // Killed (SIGKILL) once a state is saved, and again after the resume saved more.
    let killed = dir.path().join("killed");
    let mut kills = 0;
    for _ in 0..2 {
        let mut args = finetune_args(&model, &data, &killed);
        if kills > 0 {
            args.push("--resume");
        }
        let mut child = ok(Command::new(env!("CARGO_BIN_EXE_arena"))
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn());
        let before = saved_step(&killed).unwrap_or(0);
        let started = Instant::now();
        while saved_step(&killed).unwrap_or(0) <= before && started.elapsed() < Duration::from_secs(120) {
            std::thread::sleep(Duration::from_millis(20));
        }
        if ok(child.try_wait()).is_none() {
            ok(child.kill());
            kills += 1;
        }
        ok(child.wait());
    }
    assert!(kills >= 1, "the run was killed at least once");
    assert!(!killed.join("checkpoint.json").exists(), "the killed run did not finish");
    let resumed = json(&run_ok(&[finetune_args(&model, &data, &killed), vec!["--resume"]].concat()));
    assert!(resumed["resumed_at"].as_u64().unwrap_or(0) > 0, "{resumed}");
    assert_eq!(resumed["loss_curve"], report["loss_curve"], "the same losses, step by step");
    assert!(adapter_tensors(&whole) == adapter_tensors(&killed), "the resumed adapter differs");

    // The checkpoint plays, and its games are stored.
    let spec = format!("llm(model={},choice=scored)", text(&killed));
    let played =
        json(&run_ok(&["play", "--game", "tic_tac_toe", "--agents", &spec, "random", "--games", "2", "--json"]));
    assert_eq!(played["games"], 2, "{played}");
}

#[test]
fn bad_finetune_input_gets_clear_errors() {
    let dir = ok(tempfile::tempdir());
    let (model, data) = fixtures(dir.path());
    let out = dir.path().join("out");
    let cases: [(Vec<&str>, &str); 5] = [
        (vec!["--lora-targets", "q,attention"], "--lora-targets"),
        (vec!["--max-len", "1"], "--max-len at least 2"),
        (vec!["--weight-decay", "nan"], "the weight decay must be zero or positive"),
        (vec!["--method", "ppo"], "ppo"),
        (vec!["--method", "dpo", "--beta", "0"], "--beta must be a positive number"),
    ];
    for (extra, expected) in cases {
        let args = [finetune_args(&model, &data, &out), extra.clone()].concat();
        let (success, _, stderr) = arena(&args);
        assert!(!success && stderr.contains(expected), "{extra:?}: {stderr}");
    }
    let missing = dir.path().join("missing.jsonl");
    let (success, _, stderr) = arena(&finetune_args(&model, &missing, &out));
    assert!(!success && stderr.contains("missing.jsonl"), "{stderr}");
    // A directory that is not a checkpoint, given as a model.
    let spec = format!("llm(model={})", text(dir.path()));
    let (success, _, stderr) = arena(&["play", "--game", "tic_tac_toe", "--agents", &spec, "random", "--games", "2"]);
    assert!(!success && stderr.contains("neither a GGUF file nor a fine-tuned checkpoint"), "{stderr}");
}
