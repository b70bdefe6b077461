//! Benchmark of UCT search: simulations per second from the connect four opening position.

use agents::mcts::{MctsAgent, MctsConfig};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

fn mcts_simulations(c: &mut Criterion) {
    let game = games::load_game("connect_four").unwrap_or_else(|e| panic!("{e}"));
    let root = game.new_initial_state();
    let simulations = 1000;
    let mut group = c.benchmark_group("mcts");
    group.throughput(Throughput::Elements(simulations as u64));
    let mut agent = MctsAgent::new(MctsConfig { simulations, ..MctsConfig::default() });
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    group.bench_function("connect_four_opening_1000_sims", |b| {
        b.iter(|| agent.search(root.as_ref(), 2, &mut rng).len())
    });
    group.finish();
}

criterion_group!(benches, mcts_simulations);
criterion_main!(benches);
