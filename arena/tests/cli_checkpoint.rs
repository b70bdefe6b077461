//! `arena checkpoint init|info` through the real binary, and the `checkpoint` agent playing whole
//! games through the engine with its policies and values in the trajectory.

mod common;

use common::{arena, json};

use std::path::Path;

use agents::load_agent;
use arena::engine::runner::{EndReason, Keep, Limits, MatchSetup, play_match};

fn init(dir: &Path, game: &str, arch: &str, seed: u64) -> serde_json::Value {
    let dir = dir.to_str().unwrap_or_else(|| panic!("temporary path is not UTF-8"));
    let seed = seed.to_string();
    let (ok, out, err) =
        arena(&["checkpoint", "init", "--game", game, "--arch", arch, "--seed", &seed, "--out", dir, "--json"]);
    assert!(ok, "{err}");
    json(&out)
}

#[test]
fn init_makes_a_checkpoint_and_info_shows_what_it_holds() {
    let temp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = temp.path().join("gen0");
    let made = init(&dir, "tic_tac_toe", "mlp(hidden=16,layers=2)", 7);
    let dir_text = dir.to_str().unwrap_or_default();

    let (ok, out, err) = arena(&["checkpoint", "info", dir_text, "--json"]);
    assert!(ok, "{err}");
    let info = json(&out);
    assert_eq!(info, made);
    assert_eq!(info["game"], "tic_tac_toe");
    assert_eq!(info["architecture"], "mlp(hidden=16,layers=2)");
    assert_eq!(info["parameters"], (27 * 16 + 16) + (16 * 16 + 16) + (16 * 9 + 9) + (16 + 1));
    assert_eq!(info["generation"], 0);
    assert_eq!(info["parents"], serde_json::json!([]));
    assert_eq!(info["init_seed"], 7);
    let hash = info["hash"].as_str().unwrap_or_default();
    assert!(hash.len() == 64 && hash.chars().all(|c| c.is_ascii_hexdigit()), "{hash}");
    let created = info["created"].as_str().unwrap_or_default();
    assert!(created.len() == 20 && created.ends_with('Z') && created.as_bytes()[10] == b'T', "{created}");

    let (ok, text, err) = arena(&["checkpoint", "info", dir_text]);
    assert!(ok, "{err}");
    for expected in [
        "game          tic_tac_toe",
        "architecture  mlp(hidden=16,layers=2)",
        "generation    0",
        "parents       none",
        hash,
        "training      none",
    ] {
        assert!(text.contains(expected), "missing `{expected}` in:\n{text}");
    }

    // The same seed gives the same weights, so the same hash; another seed does not.
    let again = init(&temp.path().join("again"), "tic_tac_toe", "mlp(hidden=16,layers=2)", 7);
    assert_eq!(again["hash"], info["hash"]);
    let other = init(&temp.path().join("other"), "tic_tac_toe", "mlp(hidden=16,layers=2)", 8);
    assert_ne!(other["hash"], info["hash"]);

    let resnet = init(&temp.path().join("c4"), "connect_four", "resnet(channels=4,blocks=1)", 0);
    assert_eq!(resnet["game"], "connect_four(rows=6,columns=7,connect=4)");
    assert_eq!(resnet["architecture"], "resnet(channels=4,blocks=1)");
}

#[test]
fn bad_input_to_init_and_info_is_an_error_naming_it() {
    let temp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = temp.path().join("gen0");
    let dir_text = dir.to_str().unwrap_or_default();
    init(&dir, "tic_tac_toe", "mlp(hidden=4,layers=1)", 0);

    let (ok, _, err) = arena(&["checkpoint", "init", "--game", "tic_tac_toe", "--arch", "mlp", "--out", dir_text]);
    assert!(!ok && err.contains("already holds a checkpoint") && err.contains(dir_text), "{err}");

    let other = temp.path().join("other");
    let other_text = other.to_str().unwrap_or_default();
    let (ok, _, err) =
        arena(&["checkpoint", "init", "--game", "tic_tac_toe", "--arch", "transformer", "--out", other_text]);
    assert!(!ok && err.contains("unknown architecture `transformer`"), "{err}");
    let (ok, _, err) = arena(&["checkpoint", "init", "--game", "kuhn_poker", "--arch", "resnet", "--out", other_text]);
    assert!(!ok && err.contains("[planes, rows, columns]"), "{err}");
    let (ok, _, err) = arena(&["checkpoint", "init", "--game", "chess", "--out", other_text]);
    assert!(!ok && err.contains("unknown game `chess`"), "{err}");
    assert!(!other.exists(), "a failed init left {other_text} behind");

    let missing = temp.path().join("missing");
    let (ok, _, err) = arena(&["checkpoint", "info", missing.to_str().unwrap_or_default()]);
    assert!(!ok && err.contains("does not exist") && err.contains("missing"), "{err}");

    let model = dir.join("model.safetensors");
    let bytes = std::fs::read(&model).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&model, &bytes[..bytes.len() - 7]).unwrap_or_else(|e| panic!("{e}"));
    let (ok, _, err) = arena(&["checkpoint", "info", dir_text]);
    assert!(!ok && err.contains(model.to_str().unwrap_or_default()), "{err}");
}

#[test]
fn a_checkpoint_agent_plays_legal_games_and_records_policies_and_values() {
    let temp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    init(temp.path(), "tic_tac_toe", "mlp(hidden=16,layers=1)", 3);
    let spec = format!("checkpoint(path={},sims=16)", temp.path().display());
    let game = games::load_game("tic_tac_toe").unwrap_or_else(|e| panic!("{e}"));
    let mut network = load_agent(&spec).unwrap_or_else(|e| panic!("{e}"));
    let mut random = load_agent("random").unwrap_or_else(|e| panic!("{e}"));
    for seed in 0..6u64 {
        let network_seat = (seed % 2) as usize;
        let setup = MatchSetup { game: &game, seed, opening: &[], limits: Limits::default(), keep: Keep::Trajectory };
        let mut seats: [&mut dyn agents::Agent; 2] =
            if network_seat == 0 { [network.as_mut(), random.as_mut()] } else { [random.as_mut(), network.as_mut()] };
        let result = play_match(&setup, &mut seats).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(result.end, EndReason::Normal, "game {seed}: {:?}", result.end);
        assert_eq!(result.trajectory.len(), result.length);
        let mut state = game.new_initial_state();
        for step in &result.trajectory {
            assert_eq!(step.observation.len(), 27);
            let games::Move::Action(played) = step.action else { panic!("text move") };
            if step.player == network_seat {
                let policy = step.policy.as_ref().unwrap_or_else(|| panic!("game {seed}: no policy"));
                let total: f32 = policy.iter().map(|&(_, p)| p).sum();
                assert!((total - 1.0).abs() < 1e-5, "policy sums to {total}");
                assert!(policy.iter().all(|&(action, _)| state.is_legal(action)), "policy has illegal actions");
                assert!(policy.iter().any(|&(action, p)| action == played && p > 0.0), "the move played has no visits");
                let value = step.value.unwrap_or_else(|| panic!("game {seed}: no value"));
                assert!((-1.0..=1.0).contains(&value), "value {value}");
            } else {
                assert!(step.policy.is_none() && step.value.is_none());
            }
            state.apply(played).unwrap_or_else(|e| panic!("{e}"));
        }
        assert!(state.is_terminal());
    }

    let (ok, out, err) =
        arena(&["play", "--game", "tic_tac_toe", "--agents", &spec, "random", "--games", "6", "--json"]);
    assert!(ok, "{err}");
    let report = json(&out);
    assert_eq!(report["games"], 6);
    assert_eq!(report["end_reasons"], serde_json::json!({"normal": 6}), "{report}");
}

/// A tic-tac-toe dataset whose every target says "take the centre" and "the side to move wins".
fn centre_dataset(path: &Path) {
    use arena::training::{Dataset, DatasetStats};
    let game = games::load_game("tic_tac_toe").unwrap_or_else(|e| panic!("{e}"));
    let (size, actions) = (game.facts().observation_size(), game.facts().num_distinct_actions);
    let first_moves = [0u32, 1, 2, 3, 5, 6, 7, 8];
    let observations = first_moves
        .iter()
        .flat_map(|&first| {
            let mut state = game.new_initial_state();
            state.apply(first).unwrap_or_else(|e| panic!("{e}"));
            let mut observation = vec![0.0; size];
            state.observation_tensor(1, &mut observation);
            observation
        })
        .collect();
    let centre = (0..actions).map(|action| if action == 4 { 1.0 } else { 0.0 });
    let data = Dataset {
        observation_size: size,
        actions,
        observations,
        policies: first_moves.iter().flat_map(|_| centre.clone()).collect(),
        values: vec![1.0; first_moves.len()],
    };
    data.save(path, &DatasetStats::default()).unwrap_or_else(|e| panic!("{e:#}"));
}

#[test]
fn train_makes_a_child_checkpoint_from_datasets_and_reports_its_speed() {
    let temp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let parent = temp.path().join("parent");
    let made = init(&parent, "tic_tac_toe", "mlp(hidden=16,layers=2)", 3);
    let data = temp.path().join("centre.safetensors");
    centre_dataset(&data);
    let child = temp.path().join("child");
    let path = |p: &Path| p.to_str().unwrap_or_else(|| panic!("temporary path is not UTF-8")).to_string();
    let (parent_text, data_text, child_text) = (path(&parent), path(&data), path(&child));
    let train = |out: &str, data: &[&str]| {
        let mut args = vec!["checkpoint", "train", "--from", &parent_text, "--out", out, "--data"];
        args.extend_from_slice(data);
        args.extend(["--epochs", "40", "--batch-size", "4", "--learning-rate", "0.01", "--threads", "1", "--json"]);
        arena(&args)
    };
    // Joining the same file twice doubles the data.
    let (ok, out, err) = train(&child_text, &[&data_text, &data_text]);
    assert!(ok, "{err}");
    let trained = json(&out);
    assert_eq!(trained["report"]["positions"], 16);
    assert_eq!(trained["report"]["steps"], 40 * 4);
    assert!(trained["steps_per_second"].as_f64().is_some_and(|s| s > 0.0), "{trained}");
    let (first, last) = (&trained["report"]["first_epoch_policy_loss"], &trained["report"]["last_epoch_policy_loss"]);
    assert!(last.as_f64() < first.as_f64().map(|f| 0.5 * f), "the policy loss falls: {trained}");

    let (ok, out, err) = arena(&["checkpoint", "info", &child_text, "--json"]);
    assert!(ok, "{err}");
    let info = json(&out);
    assert_eq!(info["generation"], 1);
    assert_eq!(info["parents"], serde_json::json!([made["hash"]]));
    assert_eq!(info["hash"], trained["hash"]);
    assert_eq!(info["training"]["datasets"][0], data_text.as_str());
    assert_eq!(info["optimizer_state"].as_u64().map(|n| n > 0), Some(true));
    // The trained child's policy takes the centre in a position it was trained on.
    let checkpoint = agents::checkpoint::Checkpoint::load(&child).unwrap_or_else(|e| panic!("{e}"));
    let game = games::load_game("tic_tac_toe").unwrap_or_else(|e| panic!("{e}"));
    let mut state = game.new_initial_state();
    state.apply(0).unwrap_or_else(|e| panic!("{e}"));
    let mut observation = vec![0.0; game.facts().observation_size()];
    state.observation_tensor(1, &mut observation);
    let input = candle_core::Tensor::from_vec(observation, (1, 27), &candle_core::Device::Cpu)
        .unwrap_or_else(|e| panic!("{e}"));
    let (logits, _) = checkpoint.network().forward(&input).unwrap_or_else(|e| panic!("{e}"));
    let logits = logits.flatten_all().and_then(|l| l.to_vec1::<f32>()).unwrap_or_else(|e| panic!("{e}"));
    let best = (0..logits.len()).max_by(|&a, &b| logits[a].total_cmp(&logits[b]));
    assert_eq!(best, Some(4), "the child learned its targets: {logits:?}");

    // Bad input: a directory that holds a checkpoint, a missing file, a dataset of another game.
    let (ok, _, err) = train(&child_text, &[&data_text]);
    assert!(!ok && err.contains("--out") && err.contains("already holds a checkpoint"), "{err}");
    let missing = path(&temp.path().join("missing.safetensors"));
    let (ok, _, err) = train(&path(&temp.path().join("other")), &[&missing]);
    assert!(!ok && err.contains("--data") && err.contains("missing.safetensors"), "{err}");
    let connect_four = temp.path().join("c4");
    init(&connect_four, "connect_four", "mlp(hidden=8,layers=1)", 1);
    let (ok, _, err) = arena(&[
        "checkpoint",
        "train",
        "--from",
        &path(&connect_four),
        "--data",
        &data_text,
        "--out",
        &path(&temp.path().join("c4-child")),
    ]);
    assert!(!ok && err.contains("does not fit the network"), "{err}");
    let (ok, _, err) = arena(&[
        "checkpoint",
        "train",
        "--from",
        &parent_text,
        "--data",
        &data_text,
        "--out",
        &path(&temp.path().join("nan")),
        "--learning-rate",
        "NaN",
    ]);
    assert!(!ok && err.contains("--learning-rate NaN"), "{err}");
    assert!(!temp.path().join("c4-child").exists(), "nothing is written after a failure");
}
