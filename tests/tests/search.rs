//! Search agents in real matches: UCT with 200 simulations beats random play at connect four.

use arena::Resources;
use arena::engine::tournament::{RunOptions, TournamentConfig};

#[test]
fn mcts_200_beats_random_in_at_least_95_percent_of_connect_four_games() {
    let config: TournamentConfig = toml::from_str(
        r#"
game = "connect_four"
agents = ["mcts(sims=200)", "random"]
games_per_pairing = 200
openings = { random_plies = 2 }
seed = 7
"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let outcome = run_tournament_or_panic(&config);
    let totals = outcome.tally.totals(0);
    let score = totals.points / totals.games as f64;
    assert_eq!(totals.games, 200);
    assert!(score >= 0.95, "mcts(sims=200) scored {:.1}% against random", 100.0 * score);
}

fn run_tournament_or_panic(config: &TournamentConfig) -> arena::engine::tournament::TournamentOutcome {
    let options = RunOptions { threads: 2, ..RunOptions::default() };
    arena::engine::tournament::run_tournament(config, &Resources::new(), &options, &arena::Silent)
        .unwrap_or_else(|e| panic!("{e:#}"))
}
