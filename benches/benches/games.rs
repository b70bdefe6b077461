//! Benchmarks of the game hot paths through the generic `dyn State` API: random playouts and perft.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use games::perft::{EndedGames, perft};
use games::playout::random_playout;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

fn load(spec: &str) -> games::GameRef {
    games::load_game(spec).unwrap_or_else(|e| panic!("{spec}: {e}"))
}

/// Whole random games per second: a fresh state, uniform random legal moves to the end.
fn random_playouts(c: &mut Criterion) {
    let mut group = c.benchmark_group("random_playout");
    group.throughput(Throughput::Elements(1));
    for spec in ["tic_tac_toe", "connect_four", "othello", "hex(size=11)", "kuhn_poker"] {
        let game = load(spec);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        let mut buffer = Vec::with_capacity(128);
        group.bench_function(BenchmarkId::from_parameter(spec), |b| {
            b.iter(|| {
                let mut state = game.new_initial_state();
                random_playout(state.as_mut(), &mut rng, &mut buffer)
            })
        });
    }
    group.finish();
}

/// Perft at a moderate depth: move generation and apply, no randomness.
fn perft_counts(c: &mut Criterion) {
    let mut group = c.benchmark_group("perft");
    group.sample_size(10);
    for (spec, depth, ended) in [
        ("tic_tac_toe", 9, EndedGames::NotCounted),
        ("connect_four", 7, EndedGames::NotCounted),
        ("othello", 7, EndedGames::CountedAsLeaf),
        ("hex(size=4)", 6, EndedGames::NotCounted),
    ] {
        let state = load(spec).new_initial_state();
        let leaves = perft(state.as_ref(), depth, ended);
        group.throughput(Throughput::Elements(leaves));
        group.bench_function(BenchmarkId::new(spec, depth), |b| b.iter(|| perft(state.as_ref(), depth, ended)));
    }
    group.finish();
}

criterion_group!(benches, random_playouts, perft_counts);
criterion_main!(benches);
