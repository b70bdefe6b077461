//! `arena evolve` (the self-evolution loop) and `arena history` (its rating progress).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use arena::Resources;
use arena::evolve::{EvolveConfig, EvolveOptions, GenerationSummary};

use super::{Bars, default_threads};

/// Arguments of `arena evolve`.
#[derive(Debug, clap::Args)]
pub struct EvolveArgs {
    /// A TOML config with every setting (see `EvolveConfig`); flags below override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The run's name: it lives in `runs/NAME/`.
    #[arg(long, default_value = "default")]
    pub name: String,
    /// The run directory (default `runs/NAME`).
    #[arg(long)]
    pub run_dir: Option<PathBuf>,
    #[arg(long)]
    pub game: Option<String>,
    #[arg(long)]
    pub generations: Option<u32>,
    /// Checkpoints kept in the population.
    #[arg(long)]
    pub population: Option<usize>,
    /// PUCT simulations per move in self-play.
    #[arg(long)]
    pub sims: Option<u32>,
    /// Games per pairing in each generation's tournament.
    #[arg(long)]
    pub games_per_pairing: Option<u32>,
    /// Self-play games per parent.
    #[arg(long)]
    pub selfplay_games: Option<u32>,
    #[arg(long)]
    pub seed: Option<u64>,
    /// Worker threads (game workers, each running its own forward passes; training uses as many).
    #[arg(long, default_value_t = default_threads())]
    pub threads: usize,
    /// Continue a killed run.
    #[arg(long)]
    pub resume: bool,
    /// No progress bars.
    #[arg(long)]
    pub quiet: bool,
}

impl EvolveArgs {
    pub fn config(&self) -> Result<EvolveConfig> {
        let mut config = match &self.config {
            Some(path) => EvolveConfig::from_toml_file(path)?,
            None => EvolveConfig::default(),
        };
        if let Some(game) = &self.game {
            config.game = game.clone();
        }
        config.generations = self.generations.unwrap_or(config.generations);
        config.population = self.population.unwrap_or(config.population);
        config.selfplay_sims = self.sims.unwrap_or(config.selfplay_sims);
        config.tournament_games_per_pairing = self.games_per_pairing.unwrap_or(config.tournament_games_per_pairing);
        config.selfplay_games = self.selfplay_games.unwrap_or(config.selfplay_games);
        config.seed = self.seed.unwrap_or(config.seed);
        Ok(config)
    }
}

/// Runs the evolve loop and prints the rating history.
pub fn evolve(args: &EvolveArgs, resources: &Resources, out: &mut dyn Write) -> Result<()> {
    let config = args.config()?;
    let run_dir = args.run_dir.clone().unwrap_or_else(|| PathBuf::from("runs").join(&args.name));
    let options = EvolveOptions { run_dir: run_dir.clone(), threads: args.threads.max(1), resume: args.resume };
    let started = std::time::Instant::now();
    let summaries = arena::evolve::evolve(&config, &options, resources, &Bars::new(!args.quiet))?;
    writeln!(
        out,
        "evolve run {} — {} in {:.0} s on {} threads",
        run_dir.display(),
        config.game,
        started.elapsed().as_secs_f64(),
        options.threads
    )?;
    write_history(out, &summaries)?;
    writeln!(out, "lineage: {0}/lineage.json, {0}/lineage.dot; history: arena history --run {0}", run_dir.display())?;
    Ok(())
}

/// Arguments of `arena history`.
#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// The run directory.
    #[arg(long, default_value = "runs/default")]
    pub run: PathBuf,
    #[arg(long)]
    pub json: bool,
}

/// Prints each generation's champion with its rating, interval, scores against the anchors,
/// games, dataset size, gates and time.
pub fn history(args: &HistoryArgs, out: &mut dyn Write) -> Result<()> {
    let summaries = arena::evolve::history(&args.run)?;
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&summaries)?)?;
        return Ok(());
    }
    write_history(out, &summaries)
}

fn write_history(out: &mut dyn Write, summaries: &[GenerationSummary]) -> Result<()> {
    let anchors: Vec<String> =
        summaries.first().map(|s| s.champion_vs_anchors.iter().map(|(a, _)| a.clone()).collect()).unwrap_or_default();
    write!(out, "{:>4}  {:<8}  {:>7}  {:>15}", "gen", "champion", "rating", "95% CI")?;
    for anchor in &anchors {
        write!(out, "  {:>15}", format!("vs {anchor}"))?;
    }
    writeln!(out, "  {:>6}  {:>8}  {:>15}  {:>7}", "games", "data", "gates", "seconds")?;
    for s in summaries {
        write!(
            out,
            "{:>4}  {:<8}  {:>+7.0}  {:>15}",
            s.generation,
            s.champion,
            s.champion_rating,
            format!("[{:+.0}, {:+.0}]", s.champion_ci.0, s.champion_ci.1)
        )?;
        for anchor in &anchors {
            let score =
                s.champion_vs_anchors.iter().find(|(a, _)| a == anchor).map(|(_, v)| format!("{:.0}%", 100.0 * v));
            write!(out, "  {:>15}", score.unwrap_or_default())?;
        }
        let promoted = s.gates.iter().filter(|g| g.promoted()).count();
        let gates =
            if s.gates.is_empty() { "—".to_string() } else { format!("{promoted}/{} promoted", s.gates.len()) };
        let data = s.dataset.as_ref().map(|d| d.positions.to_string()).unwrap_or_else(|| "—".to_string());
        let seconds: f64 = s.seconds.iter().map(|(_, t)| t).sum();
        writeln!(out, "  {:>6}  {:>8}  {:>15}  {:>7.0}", s.tournament_games, data, gates, seconds)?;
    }
    if let Some(last) = summaries.iter().rev().find(|s| !s.seconds.is_empty()) {
        let parts: Vec<String> = last.seconds.iter().map(|(step, t)| format!("{step} {t:.0} s")).collect();
        writeln!(out, "time in generation {}: {}", last.generation, parts.join(", "))?;
    }
    Ok(())
}
