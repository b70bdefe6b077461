//! Training moves a network towards its targets: on a small synthetic dataset the policy loss
//! and the value loss fall, and the optimizer state travels with the checkpoint, free of any
//! step's graph.

use agents::checkpoint::Checkpoint;
use agents::network::Architecture;
use arena::training::dataset::Dataset;
use arena::training::{TrainConfig, train};

fn synthetic(game: &games::GameRef) -> Dataset {
    // Positions after one move each; the target policy always says "play column 4" and the value
    // target says the player to move wins when x stands in the centre, loses otherwise.
    let facts = game.facts();
    let mut data = Dataset {
        observation_size: facts.observation_size(),
        actions: facts.num_distinct_actions,
        ..Dataset::default()
    };
    let mut buffer = vec![0.0; facts.observation_size()];
    for first in 0..7u32 {
        let mut state = game.new_initial_state();
        state.apply(first).unwrap_or_else(|e| panic!("{e}"));
        state.observation_tensor(1, &mut buffer);
        data.observations.extend_from_slice(&buffer);
        let mut policy = vec![0.0; facts.num_distinct_actions];
        policy[3] = 1.0;
        data.policies.extend(policy);
        data.values.push(if first == 3 { -1.0 } else { 1.0 });
    }
    data
}

#[test]
fn training_lowers_both_losses_and_keeps_the_optimizer_state() {
    let game = games::load_game("connect_four").unwrap_or_else(|e| panic!("{e}"));
    for architecture in ["mlp(hidden=32,layers=2)", "resnet(channels=8,blocks=1)"] {
        let architecture = Architecture::parse(architecture).unwrap_or_else(|e| panic!("{e}"));
        let mut checkpoint = Checkpoint::init(&game, architecture, 3).unwrap_or_else(|e| panic!("{e}"));
        let data = synthetic(&game);
        let config = TrainConfig { learning_rate: 3e-3, epochs: 60, batch_size: 7, ..TrainConfig::default() };
        let report = train(&mut checkpoint, &data, &config, 1, &arena::Silent).unwrap_or_else(|e| panic!("{e:#}"));
        assert!(report.last_epoch_policy_loss < 0.5 * report.first_epoch_policy_loss, "{architecture}: {report:?}");
        assert!(report.last_epoch_value_loss < 0.5 * report.first_epoch_value_loss, "{architecture}: {report:?}");
        let state = checkpoint.optimizer().unwrap_or_else(|| panic!("the optimizer state is kept"));
        assert!(state.tensors.contains_key("step"));
        // A moment that kept its gradient's graph would hold every step's activations alive:
        // training a resnet on othello grew by 50 MB a step until the machine ran out of memory.
        let tracked: Vec<&String> = state.tensors.iter().filter(|(_, t)| t.track_op()).map(|(k, _)| k).collect();
        assert!(tracked.is_empty(), "{architecture}: moments holding a graph: {tracked:?}");
    }
}

#[test]
fn the_cosine_schedule_falls_from_the_rate_to_a_tenth_and_trains_too() {
    use arena::training::Schedule;
    let rate = |step| Schedule::Cosine.rate(0.01, step, 101);
    assert!((rate(0) - 0.01).abs() < 1e-12);
    assert!((rate(50) - 0.0055).abs() < 1e-12, "halfway: the mean of the two ends");
    assert!((rate(100) - 0.001).abs() < 1e-12);
    assert!((1..=100).all(|s| rate(s) < rate(s - 1)), "falls at every step");
    assert_eq!(Schedule::Constant.rate(0.01, 70, 101), 0.01);
    assert_eq!(Schedule::Cosine.rate(0.01, 0, 1), 0.001, "a single step takes the final rate");

    let game = games::load_game("connect_four").unwrap_or_else(|e| panic!("{e}"));
    let architecture = Architecture::parse("mlp(hidden=32,layers=2)").unwrap_or_else(|e| panic!("{e}"));
    let mut checkpoint = Checkpoint::init(&game, architecture, 3).unwrap_or_else(|e| panic!("{e}"));
    let config = TrainConfig {
        learning_rate: 3e-3,
        epochs: 60,
        batch_size: 7,
        schedule: Schedule::Cosine,
        ..TrainConfig::default()
    };
    let report =
        train(&mut checkpoint, &synthetic(&game), &config, 1, &arena::Silent).unwrap_or_else(|e| panic!("{e:#}"));
    assert!(report.last_epoch_policy_loss < 0.5 * report.first_epoch_policy_loss, "{report:?}");
}
