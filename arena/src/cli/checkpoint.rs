//! `arena checkpoint`: make a randomly initialised network checkpoint (`init`) and show what a
//! checkpoint holds (`info`).

use std::io::Write;
use std::path::PathBuf;

use agents::checkpoint::Checkpoint;
use agents::network::Architecture;
use anyhow::{Context, Result};
use serde_json::json;

/// Arguments of `arena checkpoint`.
#[derive(Debug, clap::Args)]
pub struct CheckpointArgs {
    #[command(subcommand)]
    pub command: CheckpointCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum CheckpointCommand {
    /// Make a randomly initialised (generation 0) checkpoint; the same seed gives the same weights.
    Init(InitArgs),
    /// Show a checkpoint's game, architecture, size, lineage, hash and training summary.
    Info(InfoArgs),
}

/// Arguments of `arena checkpoint init`.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// The game, e.g. `tic_tac_toe` or `connect_four(rows=6,columns=7)`.
    #[arg(long)]
    pub game: String,
    /// The network: `mlp(hidden=64,layers=2)` (any game) or `resnet(channels=32,blocks=2)`
    /// (games with [planes, rows, columns] observations).
    #[arg(long, default_value = "resnet(channels=32,blocks=2)")]
    pub arch: String,
    /// Seed of the initial weights.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The directory to create (it must not already hold a checkpoint).
    #[arg(long)]
    pub out: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `arena checkpoint info`.
#[derive(Debug, clap::Args)]
pub struct InfoArgs {
    /// The checkpoint directory.
    pub dir: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs `arena checkpoint ...`.
pub fn checkpoint(args: &CheckpointArgs, registry: &games::Registry, out: &mut dyn Write) -> Result<()> {
    match &args.command {
        CheckpointCommand::Init(args) => init(args, registry, out),
        CheckpointCommand::Info(args) => info(args, registry, out),
    }
}

/// `arena checkpoint init`.
fn init(args: &InitArgs, registry: &games::Registry, out: &mut dyn Write) -> Result<()> {
    let game = registry.load(&args.game).with_context(|| format!("--game {}", args.game))?;
    let architecture = Architecture::parse(&args.arch).with_context(|| "--arch")?;
    let mut checkpoint = Checkpoint::init(&game, architecture, args.seed).context("cannot make the checkpoint")?;
    checkpoint.save(&args.out).with_context(|| format!("cannot save the checkpoint to {}", args.out.display()))?;
    report(&checkpoint, &args.out, args.json, out)
}

/// `arena checkpoint info`.
fn info(args: &InfoArgs, registry: &games::Registry, out: &mut dyn Write) -> Result<()> {
    let checkpoint = Checkpoint::load_in(&args.dir, registry)
        .with_context(|| format!("cannot load the checkpoint in {}", args.dir.display()))?;
    report(&checkpoint, &args.dir, args.json, out)
}

fn report(checkpoint: &Checkpoint, dir: &std::path::Path, as_json: bool, out: &mut dyn Write) -> Result<()> {
    let info = checkpoint.info();
    if as_json {
        let report = json!({
            "dir": dir.display().to_string(),
            "format": info.format,
            "game": info.game,
            "architecture": info.architecture.to_string(),
            "architecture_fields": info.architecture,
            "parameters": checkpoint.parameter_count(),
            "generation": info.generation,
            "parents": info.parents,
            "hash": info.model_sha256,
            "created": info.created,
            "init_seed": info.init_seed,
            "training": info.training,
            "optimizer_state": checkpoint.optimizer().map(|state| state.tensors.len()),
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
        return Ok(());
    }
    writeln!(out, "checkpoint    {}", dir.display())?;
    writeln!(out, "game          {}", info.game)?;
    writeln!(out, "architecture  {}", info.architecture)?;
    writeln!(out, "parameters    {}", checkpoint.parameter_count())?;
    writeln!(out, "generation    {}", info.generation)?;
    let parents = if info.parents.is_empty() { "none".to_string() } else { info.parents.join(", ") };
    writeln!(out, "parents       {parents}")?;
    writeln!(out, "hash          {}", info.model_sha256)?;
    writeln!(out, "created       {}", info.created)?;
    if let Some(seed) = info.init_seed {
        writeln!(out, "init seed     {seed}")?;
    }
    match &info.training {
        Some(training) => writeln!(out, "training      {}", serde_json::Value::Object(training.clone()))?,
        None => writeln!(out, "training      none")?,
    }
    if let Some(state) = checkpoint.optimizer() {
        writeln!(out, "optimizer     {} tensors", state.tensors.len())?;
    }
    Ok(())
}
