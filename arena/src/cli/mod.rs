//! The command line: one module per group of commands, each turning flags into the library's
//! typed requests and its results into text or JSON.

mod bars;
mod checkpoint;
mod evolve;
mod export;
mod finetune;
mod games;
mod llm;
mod ratings;
mod report;
mod serve;
mod suite;
mod tournament;
mod worker;

use std::io::Write;

use arena::Resources;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Parser, Subcommand};

pub use bars::Bars;

#[derive(Debug, Parser)]
#[command(name = "arena", version, about = "Self-play arena and tournament engine")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The self-evolution loop: tournaments, ratings, self-play, training, gates, lineage.
    Evolve(evolve::EvolveArgs),
    /// Each generation's champion with its rating and interval, from an evolve run.
    History(evolve::HistoryArgs),
    /// Write a self-contained HTML report of an evolve run or a store (plots, tables, lineage).
    Report(report::ReportArgs),
    /// List the registered games with their facts and parameters.
    Games(games::GamesArgs),
    /// Count move sequences to a depth (check a game against published counts) and report nodes/s.
    Perft(games::PerftArgs),
    /// Show the position after a list of moves.
    Show(games::ShowArgs),
    /// Run the conformance kit (seeded random playouts checking every API rule) on a game.
    Check(games::CheckArgs),
    /// Play a match between two agents; report the score with error bars and games/s.
    Play(tournament::PlayArgs),
    /// Run a tournament (round robin, gauntlet, Swiss, knockout); print standings and a crosstable.
    Tournament(tournament::TournamentArgs),
    /// Fit ratings (Bradley–Terry, Elo, Glicko-2, TrueSkill, Weng-Lin) to game results.
    Ratings(ratings::RatingsArgs),
    /// Make a randomly initialised network checkpoint (`init`) or show one (`info`).
    Checkpoint(checkpoint::CheckpointArgs),
    /// Generate text with a language model (GGUF); reports prompt and generation tokens/s.
    Generate(llm::GenerateArgs),
    /// Serve a GGUF model or fine-tuned checkpoint over the OpenAI API (chat, completions with logprobs).
    ServeModel(llm::ServeModelArgs),
    /// Serve a web app over a store: the leaderboard, rating history and games, live.
    Serve(serve::ServeArgs),
    /// Re-quantize a GGUF model (to Q8_0, which runs faster here than Q4 formats).
    ConvertModel(llm::ConvertArgs),
    /// Fine-tune a language model (GGUF) on SFT or preference data: LoRA or full, or an external trainer.
    Finetune(finetune::FinetuneArgs),
    /// Write training data from a store: SFT chats, preference pairs or arena battles (filtered).
    Export(export::ExportArgs),
    /// Score an agent's moves on a solver-labelled position suite (or `suite make` one).
    Suite(suite::SuiteArgs),
    /// Play the matches a shared store (PostgreSQL) puts out, under leases, until stopped.
    Worker(worker::WorkerArgs),
    /// Work on a store as a whole: `copy` it between SQLite and PostgreSQL.
    Store(worker::StoreArgs),
}

impl Cli {
    /// The compute threads a command asked for, where it sets them (`generate --threads`,
    /// `finetune --threads`).
    pub fn compute_threads(&self) -> Option<usize> {
        match &self.command {
            Command::Generate(args) => args.threads,
            Command::ServeModel(args) => args.threads,
            Command::Finetune(args) => args.threads,
            _ => None,
        }
    }

    /// Whether candle's element-wise pool should have one thread, unless the environment says
    /// otherwise: in training its spinning workers compete with the matrix products' threads
    /// (see `agents::llm::trainable`). Training a board-game network with candle's pool at 2 on
    /// 2 cores ran at 65 steps/s against 368 with one thread (`arena checkpoint train`, while
    /// another process ran). Language-model evolve runs keep the pool: their inference's
    /// quantized products need it.
    pub fn single_candle_thread(&self) -> bool {
        match &self.command {
            Command::Finetune(_) => true,
            Command::Checkpoint(args) => matches!(args.command, checkpoint::CheckpointCommand::Train(_)),
            // A config that cannot be read fails the command later, with its own message.
            Command::Evolve(args) => args.config().is_ok_and(|config| config.llm.is_none()),
            _ => false,
        }
    }
}

/// Runs the command with the built-in games.
pub fn run(cli: &Cli, out: &mut dyn Write) -> anyhow::Result<()> {
    let resources = Resources::new();
    match &cli.command {
        Command::Evolve(args) => evolve::evolve(args, &resources, out),
        Command::History(args) => evolve::history(args, out),
        Command::Report(args) => report::report(args, out),
        Command::Games(args) => games::games(args, resources.games(), out),
        Command::Perft(args) => games::perft(args, resources.games(), out),
        Command::Show(args) => games::show(args, resources.games(), out),
        Command::Check(args) => games::check(args, resources.games(), out),
        Command::Play(args) => tournament::play(args, &resources, out),
        Command::Tournament(args) => tournament::tournament(args, &resources, out),
        Command::Ratings(args) => ratings::ratings(args, out),
        Command::Checkpoint(args) => checkpoint::checkpoint(args, resources.games(), out),
        Command::Generate(args) => llm::generate(args, out),
        Command::ConvertModel(args) => llm::convert(args, out),
        Command::ServeModel(args) => llm::serve_model(args, out),
        Command::Serve(args) => serve::serve(args, out),
        Command::Export(args) => export::export(args, out),
        Command::Finetune(args) => finetune::finetune(args, out),
        Command::Suite(args) => suite::suite(args, &resources, out),
        Command::Worker(args) => worker::worker(args, &resources, out),
        Command::Store(args) => worker::store(args, out),
    }
}

/// Makes candle's thread count explicit before any thread starts: `threads` where a command set
/// it, else the environment's, else the machine's cores. Without `RAYON_NUM_THREADS`, candle-core
/// re-reads /proc/cpuinfo on every matrix product (about 40 µs each), which dominates training.
/// With `single_candle_thread`, candle's element-wise pool gets one thread unless
/// `CANDLE_NUM_THREADS` is set.
#[allow(unsafe_code)]
pub fn set_thread_budget(threads: Option<usize>, single_candle_thread: bool) {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    for variable in ["RAYON_NUM_THREADS", "CANDLE_NUM_THREADS"] {
        let value = match threads {
            _ if single_candle_thread && variable == "CANDLE_NUM_THREADS" => {
                if std::env::var_os(variable).is_some() {
                    continue;
                }
                "1".to_string()
            }
            Some(threads) => threads.max(1).to_string(),
            None if std::env::var_os(variable).is_some() => continue,
            None => cores.to_string(),
        };
        // SAFETY: called first thing in `main`, before this process starts any other thread,
        // so nothing can read the environment concurrently.
        unsafe { std::env::set_var(variable, value) };
    }
}

/// The cores of this machine: never more compute threads than cores. Every command's
/// `--threads` defaults to it (the results never depend on the thread count, except training's
/// last bits).
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// A flag parser for a count that must be at least 1 (`--threads`, `--games`, `--rounds`, limits):
/// 0 is refused with the reason rather than run as something else.
pub fn at_least_one<T>(text: &str) -> Result<T, String>
where
    T: std::str::FromStr + From<u8> + PartialOrd,
    T::Err: std::fmt::Display,
{
    let value: T = text.trim().parse().map_err(|e| format!("`{text}` is not a whole number: {e}"))?;
    if value < T::from(1) {
        return Err("must be at least 1 (leave the flag out for the default)".to_string());
    }
    Ok(value)
}

/// A flag parser for one of the library's enums, from its table of names (which `--help` lists).
pub fn named<T>(names: &'static [(&'static str, T)]) -> impl TypedValueParser<Value = T>
where
    T: Copy + Send + Sync + 'static,
{
    PossibleValuesParser::new(names.iter().map(|(name, _)| *name)).try_map(move |text: String| {
        names.iter().find(|(name, _)| *name == text).map(|&(_, value)| value).ok_or(format!("unknown value `{text}`"))
    })
}

/// Untrusted text (agent names, model output, fault details) made safe for a terminal: control
/// characters (an escape sequence, a carriage return, a bell) are shown escaped, `\u{1b}`, instead
/// of reaching the terminal raw. Line breaks and tabs are kept unless `single_line`.
pub fn printable_text(text: &str, single_line: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let kept = !c.is_control() || (!single_line && (c == '\n' || c == '\t'));
        if kept {
            out.push(c);
        } else {
            out.extend(c.escape_default());
        }
    }
    out
}

/// [`printable_text`] on one line: for names and table cells.
pub fn printable(text: &str) -> String {
    printable_text(text, true)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    /// Every flag of every command says what it is for, and `--json` and `--threads` are offered
    /// wherever results are printed or work is spread.
    #[test]
    fn every_flag_has_help_text() {
        let cli = Cli::command();
        let mut missing = Vec::new();
        for command in cli.get_subcommands() {
            let mut commands = vec![(command.get_name().to_string(), command)];
            while let Some((path, command)) = commands.pop() {
                for sub in command.get_subcommands() {
                    commands.push((format!("{path} {}", sub.get_name()), sub));
                }
                for arg in command.get_arguments() {
                    let id = arg.get_id().as_str();
                    if id == "help" || id == "version" {
                        continue;
                    }
                    if arg.get_help().is_none() && arg.get_long_help().is_none() {
                        missing.push(format!("{path} {id}"));
                    }
                }
            }
        }
        assert!(missing.is_empty(), "flags without help text: {missing:?}");
    }

    #[test]
    fn counts_of_zero_are_refused_and_terminal_text_is_escaped() {
        assert_eq!(at_least_one::<usize>("3"), Ok(3));
        assert!(at_least_one::<usize>("0").is_err_and(|e| e.contains("at least 1")));
        assert!(at_least_one::<u32>("-1").is_err());
        assert_eq!(printable("a\u{1b}[31mb\r"), "a\\u{1b}[31mb\\r");
        assert_eq!(printable_text("line 1\nline 2\tx", false), "line 1\nline 2\tx");
        assert_eq!(printable("line 1\nline 2"), "line 1\\nline 2");
    }
}
