//! In-context self-evolution on a tiny random GGUF the test writes: one generation whose three
//! children are made by the experience, lessons and mutation operators from a starting context;
//! each child is a valid context checkpoint, recorded in the lineage with its operator and diff,
//! shown by `arena history`, the report and `arena checkpoint info`; a bad starting context is
//! refused before any work; a run killed while it makes its children resumes to the same lineage.

mod common;

use std::path::{Path, PathBuf};

use agents::context::AgentContext;
use agents::llm::tiny::{TinyConfig, write_tiny_llama};
use common::{arena, evolve_command, evolve_decisions, run_ok};

fn ok<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
    result.unwrap_or_else(|e| panic!("{e}"))
}

fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    ok(serde_json::from_str(&text))
}

/// A tiny model (context 4096: its tokenizer spends a token per byte, and a context with examples
/// makes long prompts), a starting context, and a one-generation in-context config.
fn setup(dir: &Path) -> (PathBuf, PathBuf) {
    let model = dir.join("tiny.gguf");
    ok(write_tiny_llama(&model, &TinyConfig { context: 4096, ..TinyConfig::default() }, 11));
    let context = dir.join("start.json");
    ok(std::fs::write(
        &context,
        r#"{"system": "You play tic-tac-toe. Answer with one cell.", "lessons": ["Take the centre if it is free."]}"#,
    ));
    // A random model writes bytes, not sentences: the filter is off so that its lessons and
    // rewrites are judged by the context's own checks alone.
    let filter = dir.join("filter.toml");
    ok(std::fs::write(
        &filter,
        "min_chars = 0\nmax_chars = 0\nempty = false\nrefusal = false\ndegenerate = false\nrepetitive = false\n",
    ));
    let text = format!(
        r#"
game = "tic_tac_toe"
generations = 1
population = 3
parents = 1
children_per_parent = 3
league = 1
tournament_games_per_pairing = 4
opening_plies = 1
selfplay_games = 8
gate_games = 4
bootstrap = 20

[llm]
model = "{}"
agent = "llm(choice=scored,temperature=1)"
operators = ["experience", "lessons", "mutation"]
context = "{}"
context_examples = 2
context_tokens = 1200
lessons_per_child = 3
max_lessons = 3
heldout_games = 4
heldout_opponents = ["base", "random"]
filter = "{}"
"#,
        model.display(),
        context.display(),
        filter.display()
    );
    let config = dir.join("in-context.toml");
    ok(std::fs::write(&config, text));
    (model, config)
}

#[test]
fn context_operators_make_valid_children_recorded_and_resumed_to_the_same_lineage() {
    let dir = ok(tempfile::tempdir());
    let (_model, config) = setup(dir.path());
    let run = dir.path().join("run");
    let output = ok(evolve_command(&config, &run, false).output());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}\n{stdout}", String::from_utf8_lossy(&output.stderr));

    // g0 keeps a copy of the starting context; every child is a context checkpoint of its own.
    let start = ok(AgentContext::load(&run.join("contexts/g0.json")));
    assert_eq!(start.lessons, vec!["Take the centre if it is free.".to_string()]);
    let first = read_json(&run.join("generations/gen-1.json"));
    let children = first["language"]["contexts"].as_array().cloned().unwrap_or_default();
    let operators: Vec<&str> = children.iter().filter_map(|c| c["operator"].as_str()).collect();
    assert_eq!(operators, ["experience", "lessons", "mutation"], "{first}");
    assert!(children.iter().all(|c| c["skipped"].is_null()), "each operator made its child: {first}");
    for child in &children {
        let name = child["child"].as_str().unwrap_or_default();
        let checkpoint = run.join("checkpoints").join(name);
        let context = ok(AgentContext::load(&checkpoint.join("context.json")));
        assert_eq!(child["context_sha256"].as_str(), Some(context.sha256().as_str()));
        assert_eq!(child["parent"], "g0");
        let diff = context.diff_from(&start);
        assert!(!diff.is_empty(), "{name} changed its context");
        match child["operator"].as_str() {
            Some("experience") => {
                let report = &child["experience"];
                assert!(context.examples.len() <= 2 && !context.examples.is_empty(), "{report}");
                assert!(report["tokens"].as_u64().is_some_and(|t| t <= 1200), "{report}");
                for example in &context.examples {
                    // Canonical moves: the cell alone, as the game writes it.
                    let cell = example.assistant.as_str();
                    assert!(cell.len() == 2 && "abc".contains(&cell[..1]) && "123".contains(&cell[1..]), "{cell}");
                    assert!(example.user.contains("Choose one of these moves"), "{}", example.user);
                }
                assert_eq!(context.system, start.system, "only the examples change");
            }
            Some("lessons") => {
                let r = &child["lessons"];
                let count = |k: &str| r[k].as_u64().unwrap_or(0);
                assert_eq!(
                    count("written"),
                    count("kept") + count("empty") + count("too_long") + count("filtered") + count("duplicates"),
                    "every lesson written is kept or counted as dropped: {r}"
                );
                assert!(count("kept") >= 1 && context.lessons.len() <= 3, "{r}");
                assert_eq!(context.lessons.len() as u64, 1 + count("kept") - count("retired"), "{r}");
            }
            Some("mutation") => {
                let instruction = child["mutation"]["instruction"].as_str().unwrap_or_default();
                let pool = arena::evolve::contexts::DEFAULT_MUTATION_INSTRUCTIONS;
                assert!(pool.contains(&instruction), "{instruction}");
                assert_ne!(context.system, start.system, "the system prompt was rewritten");
                assert_eq!(context.lessons, start.lessons);
            }
            other => panic!("unexpected operator {other:?}"),
        }
        // `arena checkpoint info` reads it as a language-model checkpoint.
        let info = run_ok(&["checkpoint", "info", checkpoint.to_str().unwrap_or_default()]);
        assert!(info.contains("its base's weights") && info.contains("context") && info.contains(name), "{info}");
    }
    // The pool learned from the mutation child's gate, and the champion rewrote its best
    // instruction into a new one (or the rewrite was refused and nothing was added).
    let pool = &first["language"]["pool"];
    let records = pool["pool"].as_array().cloned().unwrap_or_default();
    let tried: u64 = records.iter().filter_map(|r| r["children"].as_u64()).sum();
    assert_eq!(tried, 1, "{pool}");
    assert!(pool["rewritten"].is_string(), "{pool}");
    assert_eq!(records.len(), 6 + usize::from(pool["added"].is_string()), "{pool}");

    // The lineage: each child with its operator, its change, and a hash of weights and context.
    let lineage = read_json(&run.join("lineage.json"));
    let nodes = lineage["nodes"].as_array().cloned().unwrap_or_default();
    assert_eq!(nodes.len(), 1 + children.len(), "{lineage}");
    let mut hashes: Vec<&str> = nodes.iter().filter_map(|n| n["hash"].as_str()).collect();
    hashes.dedup();
    assert_eq!(hashes.len(), nodes.len(), "contexts on the same weights hash apart: {lineage}");
    for node in &nodes[1..] {
        assert!(node["operator"].is_string() && node["context"].is_string(), "{node}");
    }
    let history = run_ok(&["history", "--run", run.to_str().unwrap_or_default()]);
    assert!(history.contains("context children") && history.contains("experience"), "{history}");
    let report = ok(std::fs::read_to_string(run.join("report.html")));
    assert!(report.contains("id=\"contexts\"") || report.contains("Contexts"), "the report shows the contexts");

    // Killed while it makes its children, then resumed: the same lineage and summaries.
    let killed = dir.path().join("killed");
    let markers = ["checkpoints/g1c0/context.json", "checkpoints/g1c2/checkpoint.json"];
    let kills =
        common::kill_at_markers_then_resume(&config, &killed, &markers, |run, marker| run.join(marker).exists());
    assert!(kills >= 1, "the run was killed at least once");
    let expected = evolve_decisions(&run);
    let got = evolve_decisions(&killed);
    assert_eq!(got.0, expected.0, "the same generation summaries");
    // The lineage names its checkpoints by path inside the run: the same relative paths.
    assert_eq!(got.1, expected.1, "the same lineage, hashes included");
}

#[test]
fn a_bad_starting_context_is_refused_before_any_work() {
    let dir = ok(tempfile::tempdir());
    let (_model, config) = setup(dir.path());
    ok(std::fs::write(dir.path().join("start.json"), r#"{"lessons": ["fine", "<|im_start|>system"]}"#));
    let run = dir.path().join("run");
    let start = || {
        let (config, run) = (config.to_str().unwrap_or_default(), run.to_str().unwrap_or_default());
        arena(&["evolve", "--quiet", "--config", config, "--run-dir", run])
    };
    let (success, _, stderr) = start();
    assert!(!success && stderr.contains("start.json") && stderr.contains("lessons[1]"), "{stderr}");
    assert!(!run.join("run.json").exists(), "nothing is started");
    // Context and system prompt belong to the run's contexts, not to the agent spec.
    let text = ok(std::fs::read_to_string(&config));
    ok(std::fs::write(&config, text.replace("llm(choice=scored,temperature=1)", "llm(choice=scored,context=x.json)")));
    let (success, _, stderr) = start();
    assert!(!success && stderr.contains("[llm] context = FILE"), "{stderr}");
}
