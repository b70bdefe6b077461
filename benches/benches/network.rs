//! Benchmarks of network inference and PUCT search: positions/s of a small connect four resnet
//! at batch 1, 64 and 256 (search kernels on 1 and 2 threads, and candle's forward pass for
//! comparison); the portable build of the kernels against the one the CPU gets (AVX2) on evolve's
//! default MLP and the resnet; and PUCT simulations/s with the default MLP, the resnet and a
//! tic-tac-toe MLP.

use std::sync::Arc;

use agents::checkpoint::Checkpoint;
use agents::evaluator::InferenceThreads;
use agents::network::{Architecture, InferenceNet, Kernels, Scratch};
use agents::puct::PuctConfig;
use agents::{Agent, AgentRng, PuctAgent, View};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rand::SeedableRng;

const RESNET: &str = "resnet(channels=32,blocks=2)";
/// Evolve's default network.
const DEFAULT_MLP: &str = "mlp(hidden=256,layers=2)";

fn checkpoint(game: &str, architecture: &str) -> Checkpoint {
    let game = games::load_game(game).unwrap_or_else(|e| panic!("{e}"));
    let architecture = Architecture::parse(architecture).unwrap_or_else(|e| panic!("{e}"));
    Checkpoint::init(&game, architecture, 1).unwrap_or_else(|e| panic!("{e}"))
}

/// Observations of positions from seeded random playouts (varied, like a search's leaves).
fn observations(game: &str, count: usize) -> Vec<f32> {
    let game = games::load_game(game).unwrap_or_else(|e| panic!("{e}"));
    let size = game.facts().observation_size();
    let mut rng = AgentRng::seed_from_u64(3);
    let (mut out, mut legal) = (Vec::with_capacity(count * size), Vec::new());
    while out.len() < count * size {
        let mut state = game.new_initial_state();
        while let Some(player) = state.current_player() {
            let mut observation = vec![0.0; size];
            state.observation_tensor(player, &mut observation);
            out.extend_from_slice(&observation);
            if out.len() == count * size {
                break;
            }
            state.legal_actions(&mut legal);
            state.apply_unchecked(legal[rand::Rng::random_range(&mut rng, 0..legal.len())]);
        }
    }
    out
}

fn inference(c: &mut Criterion) {
    let checkpoint = checkpoint("connect_four", RESNET);
    let network: InferenceNet = checkpoint.network().inference().unwrap_or_else(|e| panic!("{e}"));
    let all = observations("connect_four", 256);
    let size = network.observation_size();
    let mut group = c.benchmark_group("connect_four_resnet32x2");
    for batch in [1usize, 64, 256] {
        let observations = &all[..batch * size];
        group.throughput(Throughput::Elements(batch as u64));
        for threads in [1usize, 2] {
            if batch == 1 && threads > 1 {
                continue;
            }
            let pool = InferenceThreads::new(threads).unwrap_or_else(|e| panic!("{e}"));
            let (mut scratch, mut logits, mut values) =
                (Vec::new(), vec![0.0; batch * network.actions()], vec![0.0; batch]);
            group.bench_function(BenchmarkId::new(format!("kernels_{threads}_threads"), batch), |b| {
                b.iter(|| pool.infer(&network, &mut scratch, observations, &mut logits, &mut values))
            });
        }
        let tensor = candle_core::Tensor::from_slice(observations, (batch, size), &candle_core::Device::Cpu)
            .unwrap_or_else(|e| panic!("{e}"));
        group.bench_function(BenchmarkId::new("candle_forward", batch), |b| {
            b.iter(|| checkpoint.network().forward(&tensor))
        });
    }
    group.finish();

    // A single evaluation through the kernels with reused buffers: the per-leaf cost of search.
    let mut scratch = Scratch::default();
    let (mut logits, mut values) = (vec![0.0; network.actions()], vec![0.0; 1]);
    c.bench_function("connect_four_resnet32x2_single_position", |b| {
        b.iter(|| network.infer(&mut scratch, &all[..size], &mut logits, &mut values))
    });
}

/// The same inference with the portable kernels and with the detected ones, one thread.
fn kernels(c: &mut Criterion) {
    let all = observations("connect_four", 16);
    let mut group = c.benchmark_group("kernels");
    for architecture in [DEFAULT_MLP, RESNET] {
        let detected = checkpoint("connect_four", architecture).network().inference().unwrap_or_else(|e| panic!("{e}"));
        let size = detected.observation_size();
        for batch in [1usize, 16] {
            group.throughput(Throughput::Elements(batch as u64));
            for network in [detected.clone().with_kernels(Kernels::portable()), detected.clone()] {
                let mut scratch = Scratch::default();
                let (mut logits, mut values) = (vec![0.0; batch * network.actions()], vec![0.0; batch]);
                let id = BenchmarkId::new(format!("{architecture}_{}", network.kernels().name()), batch);
                group.bench_function(id, |b| {
                    b.iter(|| network.infer(&mut scratch, &all[..batch * size], &mut logits, &mut values))
                });
            }
        }
    }
    group.finish();
}

fn search(c: &mut Criterion) {
    let mut group = c.benchmark_group("puct");
    group.sample_size(10);
    for (game_spec, architecture, sims) in [
        ("connect_four", DEFAULT_MLP, 200usize),
        ("connect_four", RESNET, 200),
        ("tic_tac_toe", "mlp(hidden=64,layers=2)", 400),
    ] {
        let checkpoint = checkpoint(game_spec, architecture);
        let game = Arc::clone(checkpoint.game());
        let config = PuctConfig { simulations: sims, ..PuctConfig::default() };
        let mut agent = PuctAgent::from_checkpoint(&checkpoint, config).unwrap_or_else(|e| panic!("{e}"));
        let state = game.new_initial_state();
        let mut legal = Vec::new();
        state.legal_actions(&mut legal);
        let mut rng = AgentRng::seed_from_u64(1);
        group.throughput(Throughput::Elements(sims as u64));
        group.bench_function(BenchmarkId::new("simulations", format!("{game_spec}_{architecture}")), |b| {
            b.iter(|| agent.act(&View::new(game.as_ref(), state.as_ref(), 0, &legal), &mut rng))
        });
    }
    group.finish();
}

criterion_group!(benches, inference, kernels, search);
criterion_main!(benches);
