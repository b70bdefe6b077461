//! Benchmarks of the match engine: one match through the runner, and whole tournaments on 1 and 2
//! threads, in memory and with every game's moves stored in SQLite.

use agents::load_agent;
use arena::engine::runner::{Keep, Limits, MatchScratch, MatchSetup, play_match_with};
use arena::engine::tournament::{AgentEntry, RunOptions, TournamentConfig, run_tournament};
use arena::{Resources, Silent};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn single_match(c: &mut Criterion) {
    let game = games::load_game("connect_four").unwrap_or_else(|e| panic!("{e}"));
    let mut first = load_agent("random").unwrap_or_else(|e| panic!("{e}"));
    let mut second = load_agent("random").unwrap_or_else(|e| panic!("{e}"));
    let mut scratch = MatchScratch::default();
    let mut group = c.benchmark_group("match");
    group.throughput(Throughput::Elements(1));
    for keep in [Keep::Outcome, Keep::Moves] {
        let mut seed = 0;
        group.bench_function(BenchmarkId::new("connect_four_random_vs_random", format!("{keep:?}")), |b| {
            b.iter(|| {
                seed += 1;
                let setup = MatchSetup { game: &game, seed, opening: &[], limits: Limits::default(), keep };
                play_match_with(&setup, &mut [first.as_mut(), second.as_mut()], &mut scratch)
            })
        });
    }
    group.finish();
}

fn config(games: u32, keep: Keep) -> TournamentConfig {
    let agents = AgentEntry::from_specs(&["random".into(), "random".into()]).unwrap_or_else(|e| panic!("{e}"));
    TournamentConfig { games_per_pairing: games, keep, ..TournamentConfig::new("connect_four", agents) }
}

fn tournaments(c: &mut Criterion) {
    let resources = Resources::new();
    let mut group = c.benchmark_group("tournament");
    group.sample_size(10);
    let games = 200_000;
    group.throughput(Throughput::Elements(games as u64));
    for threads in [1, 2] {
        let config = config(games, Keep::Outcome);
        group.bench_function(BenchmarkId::new("connect_four_in_memory", threads), |b| {
            b.iter(|| {
                let options = RunOptions { threads, ..RunOptions::default() };
                run_tournament(&config, &resources, &options, &Silent).map(|o| o.tally.games())
            })
        });
    }
    let stored_games = 50_000;
    group.throughput(Throughput::Elements(stored_games as u64));
    for threads in [1, 2] {
        let config = config(stored_games, Keep::Moves);
        group.bench_function(BenchmarkId::new("connect_four_stored_with_moves", threads), |b| {
            b.iter(|| {
                let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
                let options =
                    RunOptions { threads, db: Some(dir.path().join("bench.db").into()), ..RunOptions::default() };
                run_tournament(&config, &resources, &options, &Silent).map(|o| o.tally.games())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, single_match, tournaments);
criterion_main!(benches);
