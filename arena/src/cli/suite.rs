//! `arena suite`: an agent's moves scored against a solver-labelled position suite, and
//! `arena suite make`: such a suite written from varied games.

use std::io::Write;
use std::path::PathBuf;

use agents::AgentConfig;
use anyhow::{Context, Result, bail};
use arena::Progress;
use arena::Resources;
use arena::suite::{MakeOptions, SuiteReport, make_suite, read_suite, run_suite};
use clap::{Args, Subcommand};

use super::{Bars, at_least_one, default_threads, printable};

/// Arguments of `arena suite`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SuiteArgs {
    #[command(subcommand)]
    pub command: Option<SuiteCommand>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum SuiteCommand {
    /// Write a solver-labelled suite from varied games (connect four, tic-tac-toe).
    Make(MakeArgs),
}

/// Scoring an agent on a suite.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The game, e.g. `connect_four`.
    #[arg(long)]
    pub game: Option<String>,
    /// The suite: JSON lines of `moves`, `best` and optionally `values`, `stage`, `id`.
    #[arg(long)]
    pub suite: Option<PathBuf>,
    /// The agent answering, e.g. `checkpoint(path=runs/default/checkpoints/g14c0,sims=0)`.
    #[arg(long)]
    pub agent: Option<String>,
    /// Positions answered at once (default: this machine's cores); answers do not depend on it.
    #[arg(long, default_value_t = default_threads(), value_parser = at_least_one::<usize>)]
    pub threads: usize,
    /// Seed of the agents' random choices (each position's derives from it and its number).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Write every answer as JSON lines here (`-`: standard output).
    #[arg(long)]
    pub answers: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Making a suite.
#[derive(Debug, Args)]
pub struct MakeArgs {
    /// The game, e.g. `connect_four`.
    #[arg(long)]
    pub game: String,
    /// How many positions.
    #[arg(long, value_parser = at_least_one::<usize>)]
    pub positions: usize,
    /// The plies from the start, `A..B` (inclusive).
    #[arg(long, default_value = "10..30")]
    pub plies: String,
    /// Seed of the games the positions come from.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Positions labelled at once (each thread has its own solver); the suite does not depend
    /// on it.
    #[arg(long, default_value_t = default_threads(), value_parser = at_least_one::<usize>)]
    pub threads: usize,
    /// The suite file to write (JSON lines; `-`: standard output).
    #[arg(long)]
    pub out: PathBuf,
    /// Print a JSON summary instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs `arena suite` or `arena suite make`.
pub fn suite(args: &SuiteArgs, resources: &Resources, out: &mut dyn Write) -> Result<()> {
    match &args.command {
        Some(SuiteCommand::Make(make)) => make_command(make, resources, out),
        None => run_command(&args.run, resources, out),
    }
}

fn run_command(args: &RunArgs, resources: &Resources, out: &mut dyn Write) -> Result<()> {
    let (Some(game), Some(suite), Some(agent)) = (&args.game, &args.suite, &args.agent) else {
        bail!("give --game SPEC, --suite FILE and --agent SPEC (or `arena suite make` to write a suite)");
    };
    let game = resources.load_game(game)?;
    let positions = read_suite(suite, game.as_ref())?;
    let agent = AgentConfig::parse(agent).with_context(|| format!("agent `{agent}`"))?;
    let answers =
        args.answers.as_deref().map(|path| arena::files::Output::checked(path, &[suite.as_path()])).transpose()?;
    let bars = Bars::new(!args.json);
    let report = run_suite(&game, &positions, &agent, resources, args.threads, args.seed, &bars)?;
    if let Some(answers) = &answers {
        answers.write(arena::files::json_lines(&report.answers)?.as_bytes(), out)?;
    }
    if args.json {
        writeln!(out, "{}", serde_json::to_string(&report)?)?;
    } else if answers.as_ref().is_none_or(|a| !a.is_stdout()) {
        write_report(out, &report)?;
    }
    Ok(())
}

fn write_report(out: &mut dyn Write, report: &SuiteReport) -> Result<()> {
    writeln!(out, "{} — {} on {} positions", report.game, printable(&report.agent), report.overall.optimal.positions)?;
    writeln!(out, "{:<16}  {:>34}  {:>34}  {:>6}", "stage", "optimal moves (95% CI)", "value kept (95% CI)", "faults")?;
    for score in std::iter::once(&report.overall).chain(&report.stages) {
        let kept = score.keeps_value.map_or("—".to_string(), |s| s.to_string());
        writeln!(out, "{:<16}  {:>34}  {:>34}  {:>6}", score.stage, score.optimal.to_string(), kept, score.faults)?;
    }
    writeln!(
        out,
        "{:.2} s, {:.1} positions/s on {} thread{}",
        report.seconds,
        report.overall.optimal.positions as f64 / report.seconds.max(1e-9),
        report.threads,
        if report.threads == 1 { "" } else { "s" }
    )?;
    Ok(())
}

fn make_command(args: &MakeArgs, resources: &Resources, out: &mut dyn Write) -> Result<()> {
    let plies = args
        .plies
        .split_once("..")
        .and_then(|(a, b)| Some((a.trim().parse::<usize>().ok()?, b.trim().parse::<usize>().ok()?)))
        .with_context(|| format!("--plies `{}`: expected A..B, e.g. 10..30", args.plies))?;
    let game = resources.load_game(&args.game)?;
    let output = arena::files::Output::checked(&args.out, &[])?;
    let bars = Bars::new(!args.json && !output.is_stdout());
    let started = std::time::Instant::now();
    let options = MakeOptions { positions: args.positions, plies, seed: args.seed, threads: args.threads };
    let lines = make_suite(&game, &options, &bars)?;
    bars.end();
    output.write(arena::files::json_lines(&lines)?.as_bytes(), out)?;
    if output.is_stdout() {
        return Ok(());
    }
    let seconds = started.elapsed().as_secs_f64();
    if args.json {
        let summary = serde_json::json!({"game": game.spec().to_string(), "positions": lines.len(), "out": args.out, "seconds": seconds});
        writeln!(out, "{summary}")?;
    } else {
        writeln!(
            out,
            "wrote {} positions of {} to {} in {seconds:.1} s",
            lines.len(),
            game.spec(),
            args.out.display()
        )?;
    }
    Ok(())
}
