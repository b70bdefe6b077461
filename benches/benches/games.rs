//! Benchmarks of the game hot paths through the generic `dyn State` API: random playouts and perft,
//! and a hand-written connect four bitboard loop as the yardstick for the generic path.

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

/// One random 7×6 connect four game, hand-written on bitboards with nothing generic: the fastest
/// plain loop, to measure what the generic API costs. Same RNG and the same way of drawing a legal
/// column as [`random_playout`]. Returns the number of moves played.
fn bitboard_random_game(rng: &mut Xoshiro256PlusPlus) -> usize {
    use rand::Rng;
    const STRIDE: u32 = 7; // six rows and a sentinel bit a column
    fn has_four(discs: u64) -> bool {
        [1, STRIDE, STRIDE + 1, STRIDE - 1].into_iter().any(|d| {
            let pairs = discs & (discs >> d);
            pairs & (pairs >> (2 * d)) != 0
        })
    }
    let mut discs = [0u64; 2];
    let mut occupied = 0u64;
    let mut legal = [0u32; 7];
    for ply in 0..42 {
        let mut count = 0;
        for column in 0..7 {
            if occupied & (1 << (column * STRIDE + 5)) == 0 {
                legal[count] = column;
                count += 1;
            }
        }
        let column = legal[rng.random_range(0..count)];
        let landing = (occupied + (1 << (column * STRIDE))) & (0x3f << (column * STRIDE));
        occupied |= landing;
        discs[ply & 1] |= landing;
        if has_four(discs[ply & 1]) {
            return ply + 1;
        }
    }
    42
}

/// Random connect four games per second, hand-written against the generic path (the ratio the
/// generic engine is held to).
fn generic_against_bitboard(c: &mut Criterion) {
    let mut group = c.benchmark_group("connect_four_random_game");
    group.throughput(Throughput::Elements(1));
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    group.bench_function("bitboard_loop", |b| b.iter(|| bitboard_random_game(&mut rng)));
    let game = load("connect_four");
    let mut buffer = Vec::with_capacity(16);
    group.bench_function("generic_api", |b| {
        b.iter(|| {
            let mut state = game.new_initial_state();
            random_playout(state.as_mut(), &mut rng, &mut buffer)
        })
    });
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

criterion_group!(benches, generic_against_bitboard, random_playouts, perft_counts);
criterion_main!(benches);
