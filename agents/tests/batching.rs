//! Batch invariance: a position's network outputs are bit-identical whether it is evaluated alone
//! or batched with others, wherever it sits in the batch, and whatever the inference threads.

use std::sync::Arc;
use std::time::Duration;

use agents::checkpoint::Checkpoint;
use agents::evaluator::{
    BatchConfig, BatchingEvaluator, DirectEvaluator, Evaluation, Evaluator, InferenceThreads, Position,
};
use agents::network::{Architecture, InferenceNet, Kernels, Network, Scratch};
use games::{Action, load_game};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

fn candle_network(game: &str, architecture: &str) -> Network {
    let game = load_game(game).expect("game");
    let architecture = Architecture::parse(architecture).expect("architecture");
    let checkpoint = Checkpoint::init(&game, architecture, 7).expect("init");
    // Norms start as the identity (scale 1, shift 0); give each channel its own so that a kernel
    // applying the wrong channel's scale or shift shows.
    for (name, var) in checkpoint.vars() {
        if name.ends_with(".scale") || name.ends_with(".shift") {
            let values: Vec<f32> =
                (0..var.elem_count()).map(|i| 0.5 + ((i * 37 + name.len()) % 11) as f32 / 10.0).collect();
            var.set(&candle_core::Tensor::new(values, &candle_core::Device::Cpu).expect("tensor")).expect("set");
        }
    }
    checkpoint.network().clone()
}

fn network(game: &str, architecture: &str) -> Arc<InferenceNet> {
    Arc::new(candle_network(game, architecture).inference().expect("inference"))
}

/// `rows` random observations, one-hot-ish like board planes but with noise in the low bits.
fn observations(network: &InferenceNet, rows: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    (0..rows)
        .map(|_| {
            (0..network.observation_size())
                .map(|_| if rng.random_bool(0.4) { rng.random::<f32>() } else { 0.0 })
                .collect()
        })
        .collect()
}

fn infer(network: &InferenceNet, threads: &InferenceThreads, rows: &[&Vec<f32>]) -> (Vec<u32>, Vec<u32>) {
    let flat: Vec<f32> = rows.iter().flat_map(|row| row.iter().copied()).collect();
    let (mut logits, mut values) = (vec![0.0; rows.len() * network.actions()], vec![0.0; rows.len()]);
    threads.infer(network, &mut Vec::new(), &flat, &mut logits, &mut values).expect("infer");
    (logits.iter().map(|v| v.to_bits()).collect(), values.iter().map(|v| v.to_bits()).collect())
}

/// Evaluates every row alone, then in batches of several sizes and orders, and compares bits.
fn assert_batch_invariant(network: &InferenceNet) {
    let actions = network.actions();
    let rows = observations(network, 45, 11);
    let single = InferenceThreads::new(1).expect("threads");
    let alone: Vec<(Vec<u32>, Vec<u32>)> = rows.iter().map(|row| infer(network, &single, &[row])).collect();

    let two = InferenceThreads::new(2).expect("threads");
    for threads in [&single, &two] {
        for batch in [2, 3, 4, 5, 7, 16, 17, 45] {
            // Reversed order, so each row lands at other places within the blocks.
            for order in [false, true] {
                let mut indices: Vec<usize> = (0..rows.len()).collect();
                if order {
                    indices.reverse();
                }
                for chunk in indices.chunks(batch) {
                    let batch_rows: Vec<&Vec<f32>> = chunk.iter().map(|&i| &rows[i]).collect();
                    let (logits, values) = infer(network, threads, &batch_rows);
                    for (k, &i) in chunk.iter().enumerate() {
                        assert_eq!(
                            &logits[k * actions..(k + 1) * actions],
                            &alone[i].0[..],
                            "row {i} at place {k} of a batch of {}: logits differ from alone",
                            chunk.len()
                        );
                        assert_eq!(values[k], alone[i].1[0], "row {i} at place {k}: value differs from alone");
                    }
                }
            }
        }
    }
}

#[test]
fn mlp_inference_does_not_depend_on_the_batch() {
    assert_batch_invariant(&network("tic_tac_toe", "mlp(hidden=48,layers=2)"));
    assert_batch_invariant(&network("connect_four", "mlp(hidden=96,layers=3)"));
}

#[test]
fn the_detected_kernels_give_the_portable_builds_bits() {
    let single = InferenceThreads::new(1).expect("threads");
    for (game, architecture) in [
        ("connect_four", "mlp(hidden=96,layers=3)"),
        ("connect_four", "resnet(channels=16,blocks=2,norm=true)"),
        ("othello", "resnet(channels=8,blocks=1)"),
    ] {
        let detected = candle_network(game, architecture).inference().expect("inference");
        assert_eq!(detected.kernels(), Kernels::detect());
        let portable = detected.clone().with_kernels(Kernels::portable());
        let rows = observations(&detected, 37, 5);
        let refs: Vec<&Vec<f32>> = rows.iter().collect();
        assert_eq!(
            infer(&detected, &single, &refs),
            infer(&portable, &single, &refs),
            "{game} {architecture}: {} and portable kernels differ",
            detected.kernels().name()
        );
    }
}

#[test]
fn resnet_inference_does_not_depend_on_the_batch() {
    assert_batch_invariant(&network("connect_four", "resnet(channels=16,blocks=2)"));
    assert_batch_invariant(&network("othello", "resnet(channels=8,blocks=1)"));
    assert_batch_invariant(&network("connect_four", "resnet(channels=16,blocks=2,norm=true)"));
}

/// The search kernels compute what candle's training forward pass computes (to rounding).
fn assert_agrees_with_candle(game: &str, architecture: &str) {
    let candle = candle_network(game, architecture);
    let network = candle.inference().expect("inference");
    let rows = observations(&network, 10, 3);
    let flat: Vec<f32> = rows.iter().flatten().copied().collect();
    let (mut logits, mut values) = (vec![0.0; 10 * network.actions()], vec![0.0; 10]);
    network.infer(&mut Scratch::default(), &flat, &mut logits, &mut values).expect("infer");
    let input = candle_core::Tensor::from_slice(&flat, (10, network.observation_size()), &candle_core::Device::Cpu)
        .expect("tensor");
    let (batch_logits, batch_values) = candle.forward(&input).expect("forward");
    let batch_logits = batch_logits.flatten_all().and_then(|t| t.to_vec1::<f32>()).expect("logits");
    let batch_values = batch_values.to_vec1::<f32>().expect("values");
    assert_eq!(logits.len(), batch_logits.len());
    for (a, b) in logits.iter().zip(&batch_logits).chain(values.iter().zip(&batch_values)) {
        assert!((a - b).abs() < 1e-4 * (1.0 + b.abs()), "{architecture}: kernels {a} vs candle {b}");
    }
    assert!(values.iter().all(|v| (-1.0..=1.0).contains(v)));
}

#[test]
fn search_kernels_compute_what_candle_computes() {
    assert_agrees_with_candle("tic_tac_toe", "mlp(hidden=20,layers=2)");
    assert_agrees_with_candle("tic_tac_toe", "mlp(hidden=20,layers=0)");
    assert_agrees_with_candle("connect_four", "resnet(channels=8,blocks=2)");
    assert_agrees_with_candle("hex(size=5)", "resnet(channels=5,blocks=1)");
    assert_agrees_with_candle("othello", "resnet(channels=3,blocks=0)");
    assert_agrees_with_candle("connect_four", "resnet(channels=8,blocks=2,norm=true)");
    assert_agrees_with_candle("hex(size=5)", "resnet(channels=5,blocks=1,norm=true)");
}

#[test]
fn a_trained_network_needs_a_new_frozen_copy() {
    let checkpoint = Checkpoint::init(
        &load_game("tic_tac_toe").expect("game"),
        Architecture::parse("mlp(hidden=4,layers=1)").expect("mlp"),
        1,
    )
    .expect("init");
    let frozen = checkpoint.network().inference().expect("inference");
    let (_, bias) = checkpoint.vars().iter().find(|(name, _)| name == "value.bias").expect("value bias");
    bias.set(&bias.as_tensor().affine(1.0, 0.25).expect("shift")).expect("set");
    let later = checkpoint.network().inference().expect("inference");
    let observation = vec![0.0; 27];
    let value = |net: &InferenceNet| {
        let (mut logits, mut values) = (vec![0.0; 9], vec![0.0; 1]);
        net.infer(&mut Scratch::default(), &observation, &mut logits, &mut values).expect("infer");
        values[0]
    };
    assert_ne!(value(&frozen), value(&later));
}

/// Legal-action sets of varied sizes: position `i` drops every third action, offset by `i`.
fn legal_sets(count: usize, actions: usize) -> Vec<Vec<Action>> {
    (0..count).map(|i| (0..actions as Action).filter(|&a| (a as usize + i + 1) % 3 != 1).collect()).collect()
}

#[test]
fn batching_evaluator_gives_the_direct_evaluators_results() {
    let network = network("connect_four", "resnet(channels=8,blocks=1)");
    let rows = observations(&network, 12, 5);
    let legal = legal_sets(rows.len(), network.actions());
    let positions: Vec<Position<'_>> =
        rows.iter().zip(&legal).map(|(observation, legal)| Position { observation, legal }).collect();

    let mut direct = DirectEvaluator::new(network.clone());
    let mut alone = Vec::new();
    for position in &positions {
        let mut out = Vec::new();
        direct.evaluate(std::slice::from_ref(position), &mut out).expect("direct");
        alone.push(out.remove(0));
    }
    for (evaluation, position) in alone.iter().zip(&positions) {
        assert_eq!(evaluation.priors.len(), position.legal.len());
        let sum: f32 = evaluation.priors.iter().sum();
        assert!((sum - 1.0).abs() < 1e-5, "priors sum to {sum}");
    }

    // A long wait and a batch of exactly 12: the inference thread runs one forward pass of all.
    let config = BatchConfig { max_batch: positions.len(), max_wait: Duration::from_secs(5) };
    let batching =
        BatchingEvaluator::start(network, InferenceThreads::new(2).expect("threads"), config).expect("start");
    let mut client = batching.client();
    let mut together: Vec<Evaluation> = Vec::new();
    client.evaluate(&positions, &mut together).expect("batched");
    assert_eq!(batching.stats().batches, 1);
    assert_eq!(batching.stats().positions, 12);
    for (a, b) in alone.iter().zip(&together) {
        assert_eq!(a.value.to_bits(), b.value.to_bits());
        assert_eq!(
            a.priors.iter().map(|p| p.to_bits()).collect::<Vec<_>>(),
            b.priors.iter().map(|p| p.to_bits()).collect::<Vec<_>>()
        );
    }
}

#[test]
fn evaluators_reject_observations_of_the_wrong_size() {
    let network = network("tic_tac_toe", "mlp(hidden=8,layers=1)");
    let short = vec![0.0; 5];
    let position = Position { observation: &short, legal: &[0, 1] };
    let mut out = Vec::new();
    let mut direct = DirectEvaluator::new(network.clone());
    let error = direct.evaluate(&[position], &mut out).expect_err("wrong size");
    assert!(error.to_string().contains("5 floats"), "{error}");
    let batching =
        BatchingEvaluator::start(network, InferenceThreads::new(1).expect("threads"), BatchConfig::default())
            .expect("start");
    let error = batching.client().evaluate(&[position], &mut out).expect_err("wrong size");
    assert!(error.to_string().contains("27"), "{error}");
}

#[test]
fn evaluation_of_an_action_outside_the_network_is_an_error() {
    let network = network("tic_tac_toe", "mlp(hidden=8,layers=1)");
    let observation = vec![0.0; 27];
    let mut direct = DirectEvaluator::new(network);
    let error = direct
        .evaluate(&[Position { observation: &observation, legal: &[3, 9] }], &mut Vec::new())
        .expect_err("action 9");
    assert!(error.to_string().contains("legal action 9"), "{error}");
}
