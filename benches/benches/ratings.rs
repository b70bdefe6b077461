//! Benchmarks of the rating fits: pooling 1,000,000 results among 50 players, the Bradley–Terry
//! fit on the pooled counts, its Hessian standard errors, and a 100-replicate bootstrap.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use ratings::bootstrap::{self, bootstrap};
use ratings::bradley_terry::{self, Config};
use ratings::{GameResult, PairCounts, fisher, logistic};

const PLAYERS: usize = 50;
const GAMES: usize = 1_000_000;

/// A million games among 50 players spread over 1000 Elo, about 20% draws.
fn games() -> Vec<GameResult> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let strength: Vec<f64> = (0..PLAYERS).map(|p| 20.0 * p as f64).collect();
    (0..GAMES)
        .map(|_| {
            let first = rng.random_range(0..PLAYERS);
            let second = (first + rng.random_range(1..PLAYERS)) % PLAYERS;
            let p = logistic::expected_score(strength[first] - strength[second]);
            let u: f64 = rng.random();
            let score = if u < p - 0.1 {
                1.0
            } else if u < p + 0.1 {
                0.5
            } else {
                0.0
            };
            GameResult { first, second, score }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let games = games();
    let counts = PairCounts::from_games(PLAYERS, &games).expect("generated games are valid");
    let config = Config::default();
    let fit = bradley_terry::fit(&counts, &config).expect("generated games are rateable");

    let mut group = c.benchmark_group("ratings");
    group.sample_size(10);
    group.bench_function("aggregate 1M results, 50 players", |b| {
        b.iter(|| PairCounts::from_games(PLAYERS, black_box(&games)))
    });
    group.bench_function("bt fit, 1M results, 50 players (pooled)", |b| {
        b.iter(|| bradley_terry::fit(black_box(&counts), &config))
    });
    group.bench_function("bt hessian standard errors, 50 players", |b| {
        b.iter(|| fisher::covariance(black_box(&counts), &config, &fit))
    });
    let boot = bootstrap::Config { replicates: 100, seed: 1, level: 0.95 };
    group.bench_function("bt bootstrap, 100 replicates of 1M results", |b| {
        b.iter(|| bootstrap(black_box(&counts), &config, &boot))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
