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
    /// The self-evolution loop: tournaments, ratings, self-play, training, gates, lineage.
    Evolve(arena::cmd_evolve::EvolveArgs),
    /// Each generation's champion with its rating and interval, from an evolve run.
    History(arena::cmd_evolve::HistoryArgs),
    /// List the registered games with their facts and parameters.
    Games(arena::cmd_games::GamesArgs),
    /// Count move sequences to a depth (check a game against published counts) and report nodes/s.
    Perft(arena::cmd_games::PerftArgs),
    /// Show the position after a list of moves.
    Show(arena::cmd_games::ShowArgs),
    /// Run the conformance kit (seeded random playouts checking every API rule) on a game.
    Check(arena::cmd_games::CheckArgs),
    /// Play a match between two agents; report the score with error bars and games/s.
    Play(arena::cmd_tournament::PlayArgs),
    /// Run a tournament (round robin, gauntlet, Swiss, knockout); print standings and a crosstable.
    Tournament(arena::cmd_tournament::TournamentArgs),
    /// Fit ratings (Bradley–Terry, Elo, Glicko-2, TrueSkill, Weng-Lin) to game results.
    Ratings(arena::cmd_ratings::RatingsArgs),
    /// Make a randomly initialised network checkpoint (`init`) or show one (`info`).
    Checkpoint(arena::cmd_checkpoint::CheckpointArgs),
    /// Generate text with a language model (GGUF); reports prompt and generation tokens/s.
    Generate(arena::cmd_llm::GenerateArgs),
    /// Re-quantize a GGUF model (to Q8_0, which runs faster here than Q4 formats).
    ConvertModel(arena::cmd_llm::ConvertArgs),
    /// Write training data from a store: SFT chats, preference pairs or arena battles (filtered).
    Export(arena::cmd_export::ExportArgs),
}

/// Makes candle's thread count explicit before any thread starts. Without `RAYON_NUM_THREADS`,
/// candle-core re-reads /proc/cpuinfo on every matrix product (about 40 µs each), which dominates
/// training; the budget is the machine's cores unless the user set the variables.
#[allow(unsafe_code)]
fn set_thread_budget() {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).to_string();
    for variable in ["RAYON_NUM_THREADS", "CANDLE_NUM_THREADS"] {
        if std::env::var_os(variable).is_none() {
            // SAFETY: called first thing in `main`, before this process starts any other thread,
            // so nothing can read the environment concurrently.
            unsafe { std::env::set_var(variable, &cores) };
        }
    }
}

fn main() -> std::process::ExitCode {
    set_thread_budget();
    let cli = Cli::parse();
    let mut stdout = std::io::stdout().lock();
    let outcome = match &cli.command {
        Command::Evolve(args) => arena::cmd_evolve::run(args, &mut stdout),
        Command::History(args) => arena::cmd_evolve::history_command(args, &mut stdout),
        Command::Games(args) => arena::cmd_games::games(args, &mut stdout),
        Command::Perft(args) => arena::cmd_games::perft_command(args, &mut stdout),
        Command::Show(args) => arena::cmd_games::show(args, &mut stdout),
        Command::Check(args) => arena::cmd_games::check(args, &mut stdout),
        Command::Play(args) => arena::cmd_tournament::play(args, &mut stdout),
        Command::Tournament(args) => arena::cmd_tournament::tournament(args, &mut stdout),
        Command::Ratings(args) => arena::cmd_ratings::run(args),
        Command::Checkpoint(args) => arena::cmd_checkpoint::run(args, &mut stdout),
        Command::Generate(args) => arena::cmd_llm::run_generate(args, &mut stdout),
        Command::ConvertModel(args) => arena::cmd_llm::run_convert(args, &mut stdout),
        Command::Export(args) => arena::cmd_export::run(args, &mut stdout),
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
