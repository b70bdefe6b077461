//! The `arena` command: argument parsing and dispatch; the work lives in the `arena` library.

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "arena", version, about = "Self-play arena and tournament engine")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Fit ratings (Bradley–Terry, Elo, Glicko-2, TrueSkill, Weng-Lin) to game results.
    Ratings(arena::cmd_ratings::RatingsArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let outcome = match &cli.command {
        Command::Ratings(args) => arena::cmd_ratings::run(args),
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
