//! The evolve loop end to end on a tiny configuration, and a run killed (kill -9) and resumed that
//! ends in the same state as one that was never interrupted.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use common::{StoredGame, evolve_command, evolve_decisions, stored_games};

const TINY: &str = r#"
game = "tic_tac_toe"
generations = 2
architecture = "mlp(hidden=32,layers=2)"
anchor_sims = 20
tournament_games_per_pairing = 6
tournament_sims = 8
selfplay_games = 60
selfplay_sims = 8
gate_games = 20
bootstrap = 20
[train]
learning_rate = 0.002
weight_decay = 0.0001
batch_size = 32
epochs = 3
value_weight = 1.0
"#;

fn write_config(dir: &Path) -> PathBuf {
    let path = dir.join("tiny.toml");
    std::fs::write(&path, TINY).unwrap_or_else(|e| panic!("{e}"));
    path
}

/// Everything a run decided: generation summaries without their timings, the lineage (names,
/// weight hashes, gates), and every stored game.
fn final_state(run: &Path) -> (Vec<serde_json::Value>, serde_json::Value, Vec<StoredGame>) {
    let (summaries, lineage) = evolve_decisions(run);
    let games = stored_games(run);
    (summaries, lineage, games)
}

#[test]
fn a_tiny_evolve_run_goes_end_to_end() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = write_config(dir.path());
    let run = dir.path().join("run");
    let output = evolve_command(&config, &run, false).output().unwrap_or_else(|e| panic!("{e}"));
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("vs random") && stdout.contains("champion"), "{stdout}");
    assert!(stdout.contains("anchors, held at their ratings from a round robin of 300 games: random +0"), "{stdout}");
    for file in [
        "run.json",
        "arena.db",
        "lineage.json",
        "lineage.dot",
        "datasets/gen-1.safetensors",
        "datasets/gen-2.safetensors",
        "checkpoints/g0/model.safetensors",
        "checkpoints/g1c0/checkpoint.json",
        "generations/gen-3.json",
    ] {
        assert!(run.join(file).exists(), "{file} is written");
    }
    let (summaries, lineage, _) = final_state(&run);
    assert_eq!(summaries.len(), 3, "two generations and a final rating");
    let first = &summaries[0];
    assert!(first["dataset"]["positions"].as_u64().is_some_and(|n| n > 0), "{first}");
    assert_eq!(first["gates"].as_array().map(Vec::len), Some(1));
    assert_eq!(lineage["nodes"].as_array().map(Vec::len), Some(3), "g0 and one child per generation");
    // The store holds the same run: checkpoints with their hashes and parents, each generation
    // with every agent's rating, and the weights behind each rated checkpoint.
    let store = arena::store::Store::open(&run.join("arena.db")).unwrap_or_else(|e| panic!("{e:#}"));
    let checkpoints = store.checkpoints().unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(checkpoints.len(), 3, "{checkpoints:?}");
    for node in lineage["nodes"].as_array().into_iter().flatten() {
        let name = node["name"].as_str().unwrap_or_default();
        let (row, parents) =
            checkpoints.iter().find(|(c, _)| c.name == name).unwrap_or_else(|| panic!("{name} stored"));
        assert_eq!(Some(row.hash.as_str()), node["hash"].as_str(), "{name}");
        assert_eq!(parents.is_empty(), name == "g0", "{name}: {parents:?}");
    }
    let generations = store.generations().unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(generations.iter().map(|g| g.generation).collect::<Vec<_>>(), [1, 2, 3]);
    let rated = store.generation_ratings(2).unwrap_or_else(|e| panic!("{e:#}"));
    let stored_ratings: Vec<&str> = rated.iter().map(|r| r.agent.as_str()).collect();
    assert!(stored_ratings.contains(&"random") && stored_ratings.contains(&"g0"), "{stored_ratings:?}");
    let g0 = rated.iter().find(|r| r.agent == "g0").unwrap_or_else(|| panic!("g0 rated"));
    let g0_hash = checkpoints.iter().find(|(c, _)| c.name == "g0").map(|(c, _)| c.hash.clone());
    assert_eq!(g0.checkpoint_hash, g0_hash);
    let random = rated.iter().find(|r| r.agent == "random").unwrap_or_else(|| panic!("random rated"));
    assert_eq!(random.rating, 0.0, "the anchor");
    // The anchors were calibrated once, among themselves, and held at those ratings in every
    // generation: `random` at 0, then the mcts ladder (the default rungs and `anchor_sims`).
    let calibration = arena::evolve::anchors::read(&run)
        .unwrap_or_else(|e| panic!("{e:#}"))
        .unwrap_or_else(|| panic!("anchors.json is written"));
    let names: Vec<&str> = calibration.anchors.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["random", "mcts(sims=20)", "mcts(sims=100)"]);
    assert_eq!(calibration.games, 3 * 100, "a round robin of 100 games per pairing");
    let rating = |name: &str| calibration.anchors.iter().find(|a| a.name == name).map(|a| a.rating);
    assert_eq!(rating("random"), Some(0.0));
    assert!(rating("mcts(sims=20)") > Some(100.0) && rating("mcts(sims=100)") > Some(100.0), "{calibration:?}");
    for summary in &summaries {
        for anchor in &calibration.anchors {
            let held = summary["ratings"].as_array().into_iter().flatten().find(|r| r["name"] == anchor.name.as_str());
            let held = held.unwrap_or_else(|| panic!("{} rated in {summary}", anchor.name));
            assert_eq!(held["rating"].as_f64(), Some(anchor.rating), "{} held at its calibration", anchor.name);
            assert_eq!(held["ci_low"].as_f64(), Some(anchor.ci_low));
        }
    }
    // The agents of each stored tournament carry the hash of the weights that played.
    let conn = rusqlite::Connection::open(run.join("arena.db")).unwrap_or_else(|e| panic!("{e}"));
    let hashed: i64 = conn
        .query_row(
            "SELECT count(*) FROM agents WHERE spec LIKE 'checkpoint(%' AND checkpoint_hash IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let checkpoint_agents: i64 = conn
        .query_row("SELECT count(*) FROM agents WHERE spec LIKE 'checkpoint(%'", [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(checkpoint_agents > 0 && hashed == checkpoint_agents, "{hashed} of {checkpoint_agents}");
    // The training lowered the losses on its data.
    let report = &first["training"][0][1];
    assert!(report["last_epoch_policy_loss"].as_f64() < report["first_epoch_policy_loss"].as_f64(), "{report}");

    let history = std::process::Command::new(env!("CARGO_BIN_EXE_arena"))
        .args(["history", "--json", "--run"])
        .arg(&run)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(history.status.success());
    let history: serde_json::Value = serde_json::from_slice(&history.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(history.as_array().map(Vec::len), Some(3));

    // A second start in the same directory without --resume is refused.
    let again = evolve_command(&config, &run, false).output().unwrap_or_else(|e| panic!("{e}"));
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--resume"));
}

#[test]
fn a_killed_evolve_run_resumes_to_the_same_final_state() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = write_config(dir.path());
    let reference = dir.path().join("reference");
    let status = evolve_command(&config, &reference, false)
        .stderr(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success());

    // Kill the run as each of these artifacts appears, then resume.
    let run = dir.path().join("killed");
    let markers = ["datasets/gen-1.safetensors", "checkpoints/g1c0/checkpoint.json", "generations/gen-2.json"];
    let kills = common::kill_at_markers_then_resume(&config, &run, &markers, |run, marker| run.join(marker).exists());
    assert!(kills >= 1, "the run was killed at least once");
    let (expected_summaries, expected_lineage, expected_games) = final_state(&reference);
    let (summaries, lineage, games) = final_state(&run);
    assert_eq!(summaries, expected_summaries);
    assert_eq!(lineage, expected_lineage, "same checkpoints, bit for bit (same weight hashes)");
    assert_eq!(games.len(), expected_games.len());
    assert_eq!(games, expected_games);
}

#[test]
fn a_run_with_a_suite_measures_every_champion_on_it() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let suite = dir.path().join("ttt.jsonl");
    let (ok, _, err) = common::arena(&[
        "suite",
        "make",
        "--game",
        "tic_tac_toe",
        "--positions",
        "30",
        "--plies",
        "1..7",
        "--out",
        &suite.to_string_lossy(),
    ]);
    assert!(ok, "{err}");
    let config = dir.path().join("one.toml");
    let one_generation = TINY.replace("generations = 2", "generations = 1");
    std::fs::write(&config, format!("suite = {:?}\n{one_generation}", suite.to_string_lossy()))
        .unwrap_or_else(|e| panic!("{e}"));
    let run = dir.path().join("run");
    let output = evolve_command(&config, &run, false).output().unwrap_or_else(|e| panic!("{e}"));
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let (summaries, _, _) = final_state(&run);
    assert_eq!(summaries.len(), 2);
    for summary in &summaries {
        for measured in ["raw", "search"] {
            let optimal = &summary["suite"][measured]["optimal"];
            assert_eq!(optimal["positions"], 30, "{summary}");
            let share = optimal["share"].as_f64().unwrap_or(-1.0);
            assert!((0.0..=1.0).contains(&share), "{optimal}");
        }
        // The raw policy per stage of the game: the stages cover the suite.
        let stages = summary["suite"]["raw_stages"].as_array().cloned().unwrap_or_default();
        assert!(stages.len() >= 2, "plies 1-5 and 6-7: {summary}");
        let positions: u64 = stages.iter().filter_map(|s| s["optimal"]["positions"].as_u64()).sum();
        let hits: u64 = stages.iter().filter_map(|s| s["optimal"]["hits"].as_u64()).sum();
        assert_eq!((positions, Some(hits)), (30, summary["suite"]["raw"]["optimal"]["hits"].as_u64()), "{summary}");
    }
    let history = common::run_ok(&["history", "--run", &run.to_string_lossy()]);
    assert!(history.contains("suite (the champion's optimal moves"), "{history}");
    assert!(history.contains("suite accuracy by stage") && history.contains("plies 1-5"), "{history}");
    // A suite that does not fit the game stops the run before any work.
    std::fs::write(&suite, "{\"moves\": \"\", \"best\": [\"z9\"]}\n").unwrap_or_else(|e| panic!("{e}"));
    let output = evolve_command(&config, &dir.path().join("other"), false).output().unwrap_or_else(|e| panic!("{e}"));
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("line 1"));
    assert!(!dir.path().join("other").exists());
}

#[test]
fn learning_options_shape_the_data_each_generation_trains_on() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = dir.path().join("learning.toml");
    let options = "symmetries = true\nvalue_mix = 0.5\nresult_discount = 0.05\nselfplay_fast_sims = 2\n\
                   selfplay_full_share = 0.5\nselfplay_tree_reuse = true\nreplay_positions = 300\n\
                   selfplay_random_plies = 4\nsearch_win_check = true\nsearch_discount = 0.1\n";
    let learning = TINY.replace("value_weight = 1.0", "value_weight = 1.0\nschedule = \"cosine\"");
    std::fs::write(&config, format!("{options}{learning}")).unwrap_or_else(|e| panic!("{e}"));
    let run = dir.path().join("run");
    let output = evolve_command(&config, &run, false).output().unwrap_or_else(|e| panic!("{e}"));
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let (summaries, _, _) = final_state(&run);
    let dataset = &summaries[0]["dataset"];
    // Fast moves are no policy targets; every kept position adds its seven images.
    let count = |field: &str| dataset[field].as_u64().unwrap_or_else(|| panic!("{field} in {dataset}"));
    let seen = count("positions_seen");
    let fast = count("positions_without_policy");
    assert!(fast > seen / 4 && fast < 3 * seen / 4, "about half the moves are fast: {dataset}");
    assert_eq!(count("symmetric_images"), 7 * (seen - fast), "{dataset}");
    assert_eq!(dataset["value_mix"], 0.5);
    // The second child trains on the newest 300 of two generations' positions.
    let trained = summaries[1]["training"][0][1]["positions"].as_u64().unwrap_or(0);
    assert_eq!(trained, 300, "{}", summaries[1]);
    // The run's checkpoints search with the win check and the discount in tournaments and gates.
    let conn = rusqlite::Connection::open(run.join("arena.db")).unwrap_or_else(|e| panic!("{e}"));
    let specs: Vec<String> = conn
        .prepare("SELECT spec FROM agents WHERE spec LIKE 'checkpoint(%'")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!specs.is_empty() && specs.iter().all(|s| s.contains("win_check=true,discount=0.1)")), "{specs:?}");
}

#[test]
fn every_shipped_config_reads_and_the_board_game_ones_pass_the_checks() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs");
    let mut board_games = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let config = arena::evolve::EvolveConfig::from_toml_file(&path).unwrap_or_else(|e| panic!("{e:#}"));
        // A language-model config's full checks need the model file (fetched by
        // scripts/fetch-model.sh); the checks against its game do not.
        match &config.llm {
            None => {
                arena::evolve::config::check_config(&config).unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
                board_games += 1;
            }
            Some(language) => {
                language.check_game(&config.game).unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
                if path.file_name().is_some_and(|n| n.to_string_lossy().starts_with("llm-self")) {
                    assert_ne!(language.labels, arena::text_data::answers::Labels::Games, "{}", path.display());
                }
            }
        }
    }
    assert!(board_games >= 3, "connect-four-strong, othello-resnet and hex7-resnet are board-game configs");
    // A partial `[train]` table sets its fields and keeps the trainer's defaults for the rest.
    let othello = arena::evolve::EvolveConfig::from_toml_file(&dir.join("othello-resnet.toml"))
        .unwrap_or_else(|e| panic!("{e:#}"));
    let defaults = arena::training::TrainConfig::default();
    assert_eq!(othello.train, arena::training::TrainConfig { epochs: 1, ..defaults });
    assert_eq!(arena::evolve::EvolveConfig::default().train, defaults);
}

#[test]
fn pfsp_plays_part_of_self_play_against_the_opponents_that_beat_the_parent_and_resumes_the_same() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = dir.path().join("pfsp.toml");
    let text = format!("pfsp_share = 0.5\npfsp_anchors = true\npfsp_weighting = \"hard\"\n{TINY}");
    std::fs::write(&config, text).unwrap_or_else(|e| panic!("{e}"));
    let run = dir.path().join("run");
    let output = evolve_command(&config, &run, false).output().unwrap_or_else(|e| panic!("{e}"));
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains("PFSP opponents"));
    let (summaries, _, _) = final_state(&run);
    for summary in &summaries[..2] {
        let parent = summary["parents"][0].as_str().unwrap_or_default();
        let draws = summary["pfsp"].as_array().cloned().unwrap_or_default();
        let opponents: Vec<&str> = draws.iter().filter_map(|d| d["opponent"].as_str()).collect();
        // Every other agent of the tournament is a candidate (the anchors too, by the config).
        assert!(opponents.contains(&"random") && opponents.contains(&"mcts(sims=20)"), "{opponents:?}");
        assert!(!opponents.contains(&parent), "{opponents:?}");
        let games: Vec<u64> = draws.iter().filter_map(|d| d["games"].as_u64()).collect();
        assert!(games.iter().all(|g| g % 2 == 0), "games in pairs: {games:?}");
        let weights: f64 = draws.iter().filter_map(|d| d["weight"].as_f64()).sum();
        // Half of the 60 self-play games go to opponents, by weight (1 − score)².
        assert_eq!(games.iter().sum::<u64>(), 30, "{draws:?}");
        assert!((weights - 1.0).abs() < 1e-9, "{draws:?}");
        for draw in &draws {
            let (score, weight) = (draw["score"].as_f64().unwrap_or(-1.0), draw["weight"].as_f64().unwrap_or(-1.0));
            assert!((0.0..=1.0).contains(&score), "{draw}");
            if score == 1.0 {
                assert_eq!((weight, draw["games"].as_u64()), (0.0, Some(0)), "a beaten opponent gets no games");
            }
        }
        assert_eq!(summary["dataset"]["games"], 60, "30 self-play and 30 PFSP games: {}", summary["dataset"]);
    }
    // The PFSP games are redone identically when the dataset is gone.
    let before = final_state(&run);
    for file in ["generations/gen-2.json", "generations/gen-3.json", "datasets/gen-2.safetensors"] {
        std::fs::remove_file(run.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    }
    let output = evolve_command(&config, &run, true).output().unwrap_or_else(|e| panic!("{e}"));
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(final_state(&run), before);

    // Settings that cannot run fail before any work.
    for (setting, message) in
        [("pfsp_share = 1.5\n", "pfsp_share are shares"), ("pfsp_weighting = \"softest\"\n", "pfsp_weighting")]
    {
        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, format!("{setting}{TINY}")).unwrap_or_else(|e| panic!("{e}"));
        let output =
            evolve_command(&bad, &dir.path().join("bad-run"), false).output().unwrap_or_else(|e| panic!("{e}"));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success() && stderr.contains(message), "{setting}: {stderr}");
        assert!(!dir.path().join("bad-run/generations").exists(), "{setting}");
    }
}

#[test]
fn a_game_process_evolves_like_a_built_in_game() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let nim = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/games/nim.py");
    let game = format!("game = 'proc(program=\"python3 {}\",heaps=2-3-4)'", nim.display());
    let text = TINY
        .replace("game = \"tic_tac_toe\"", &game)
        .replace("generations = 2", "generations = 1")
        .replace("selfplay_games = 60", "selfplay_games = 20");
    let config = dir.path().join("nim.toml");
    std::fs::write(&config, text).unwrap_or_else(|e| panic!("{e}"));
    let run = dir.path().join("run");
    let output = evolve_command(&config, &run, false).output().unwrap_or_else(|e| panic!("{e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}\n{stdout}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("vs random") && stdout.contains("champion"), "{stdout}");
    let (summaries, lineage) = evolve_decisions(&run);
    assert_eq!(summaries.len(), 2, "one generation and the final rating");
    assert!(lineage["nodes"].as_array().is_some_and(|n| n.len() >= 2), "a child was trained: {lineage}");
    let games = stored_games(&run);
    assert!(games.iter().all(|g| !g.2.is_empty()), "every stored game finished");
}
