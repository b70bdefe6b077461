//! `custom-game`: registers `take_away` and runs perft, the conformance kit, a short tournament and
//! a very short evolve run through the arena library (not the `arena` command).
//!
//! ```text
//! custom-game perft DEPTH [GAME]     move sequences of DEPTH moves (GAME defaults to take_away)
//! custom-game check [GAME]           the games crate's conformance kit
//! custom-game tournament             mcts(sims=200) against random at take_away, 20 games
//! custom-game evolve RUN_DIR [GAME]  one generation of the self-evolution loop, into RUN_DIR
//! ```

use std::error::Error;
use std::path::PathBuf;
use std::process::ExitCode;

use arena::Resources;
use arena::engine::tournament::{AgentEntry, RunOptions, TournamentConfig, run_tournament};
use arena::evolve::{EvolveConfig, EvolveOptions, evolve};
use games::perft::{EndedGames, perft};

const USAGE: &str = "usage: custom-game perft DEPTH [GAME] | check [GAME] | tournament | evolve RUN_DIR [GAME]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // The error and what caused it, outermost first.
            let mut message = format!("error: {error}");
            let mut source = error.source();
            while let Some(cause) = source {
                message.push_str(&format!("\n  caused by: {cause}"));
                source = cause.source();
            }
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<(), Box<dyn Error>> {
    // The program's games: the built-in ones plus take_away.
    let resources = Resources::with_games(custom_game::registry());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["perft", depth, rest @ ..] if rest.len() <= 1 => {
            let depth: u32 =
                depth.parse().map_err(|_| format!("perft: DEPTH `{depth}` is not a whole number\n{USAGE}"))?;
            let game = resources.load_game(rest.first().copied().unwrap_or(custom_game::NAME))?;
            let count = perft(game.new_initial_state().as_ref(), depth, EndedGames::NotCounted);
            println!("game: {}", game.spec());
            println!("perft({depth}) = {count}");
        }
        ["check", rest @ ..] if rest.len() <= 1 => {
            let game = resources.load_game(rest.first().copied().unwrap_or(custom_game::NAME))?;
            let report = games::conformance::check(game.as_ref(), &games::conformance::Config::default())?;
            println!("game: {}", report.game);
            println!(
                "conformance passed: {} playouts, {} moves, {} checks",
                report.playouts, report.moves, report.checks
            );
        }
        ["tournament"] => {
            let agents = AgentEntry::from_specs(&["mcts(sims=200)".to_string(), "random".to_string()])?;
            let config = TournamentConfig {
                games_per_pairing: 20,
                seed: 1,
                ..TournamentConfig::new("take_away(stones=21)", agents)
            };
            let options = RunOptions { threads: 1, ..RunOptions::default() };
            let outcome = run_tournament(&config, &resources, &options, &arena::Silent)?;
            println!("game: {}", outcome.game);
            println!("games: {}", outcome.tally.games());
            for (i, name) in outcome.names.iter().enumerate() {
                println!("{name}: {} points", outcome.tally.totals(i).points);
            }
        }
        ["evolve", run_dir, rest @ ..] if rest.len() <= 1 => {
            let config = EvolveConfig {
                game: rest.first().copied().unwrap_or(custom_game::NAME).into(),
                generations: 1,
                tournament_games_per_pairing: 2,
                selfplay_games: 8,
                selfplay_sims: 8,
                tournament_sims: 8,
                anchor_sims: 8,
                gate_games: 4,
                bootstrap: 0,
                architecture: "mlp(hidden=16,layers=1)".into(),
                ..EvolveConfig::default()
            };
            let options = EvolveOptions::new(PathBuf::from(run_dir), 1);
            let summaries = evolve(&config, &options, &resources, &arena::Silent)?;
            for summary in &summaries {
                println!(
                    "generation {}: champion {} rating {:+.0}",
                    summary.generation, summary.champion, summary.champion_rating
                );
            }
        }
        _ => return Err(USAGE.into()),
    }
    Ok(())
}
