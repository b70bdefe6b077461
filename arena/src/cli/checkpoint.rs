//! `arena checkpoint`: make a randomly initialised network checkpoint (`init`), show what a
//! checkpoint holds (`info`), and train one on self-play datasets into a new checkpoint (`train`,
//! which reports training steps/s).

use std::io::Write;
use std::path::{Path, PathBuf};

use agents::checkpoint::Checkpoint;
use agents::context::{AgentContext, CONTEXT_FILE, TurnKind, agent_hash};
use agents::llm::finetuned::{self, FinetuneRecord};
use agents::network::Architecture;
use anyhow::{Context, Result};
use arena::training::{Dataset, Schedule, TrainConfig, train_on_threads};

use super::{Bars, at_least_one, default_threads};
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
    /// Train a checkpoint on self-play datasets (an evolve run's `datasets/gen-N.safetensors`)
    /// into a new checkpoint, with evolve's trainer; reports steps/s and positions/s.
    Train(TrainArgs),
}

/// Arguments of `arena checkpoint train`.
#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// The checkpoint to start from (its weights and optimizer state).
    #[arg(long)]
    pub from: PathBuf,
    /// Datasets to train on, joined in the order given.
    #[arg(long = "data", value_name = "FILE", required = true, num_args = 1..)]
    pub data: Vec<PathBuf>,
    /// The directory of the new checkpoint (it must not already hold one).
    #[arg(long)]
    pub out: PathBuf,
    /// Passes over the data (default: the trainer's).
    #[arg(long, value_parser = at_least_one::<usize>)]
    pub epochs: Option<usize>,
    /// Positions per training step (default: the trainer's).
    #[arg(long, value_parser = at_least_one::<usize>)]
    pub batch_size: Option<usize>,
    /// AdamW's learning rate (default: the trainer's).
    #[arg(long)]
    pub learning_rate: Option<f64>,
    /// AdamW's decoupled weight decay (default: the trainer's).
    #[arg(long)]
    pub weight_decay: Option<f64>,
    /// Weight of the value loss against the policy loss.
    #[arg(long)]
    pub value_weight: Option<f64>,
    /// `constant` or `cosine` (from the learning rate down to a tenth of it).
    #[arg(long, value_parser = ["constant", "cosine"])]
    pub schedule: Option<String>,
    /// Seed of the shuffling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Threads of the tensor work (the same count gives the same weights).
    #[arg(long, default_value_t = default_threads(), value_parser = at_least_one::<usize>)]
    pub threads: usize,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
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
    /// The checkpoint directory: a network's, or a language model's (fine-tuned, or with a
    /// `context.json`); or a context file.
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
        CheckpointCommand::Train(args) => train(args, registry, out),
    }
}

/// `arena checkpoint train`.
fn train(args: &TrainArgs, registry: &games::Registry, out: &mut dyn Write) -> Result<()> {
    let parent = Checkpoint::load_in(&args.from, registry)
        .with_context(|| format!("--from: cannot load the checkpoint in {}", args.from.display()))?;
    let mut data = Dataset::default();
    for path in &args.data {
        let (part, _) = Dataset::load(path).with_context(|| format!("--data {}", path.display()))?;
        data.extend(&part)
            .with_context(|| format!("--data {}: it does not fit the datasets before it", path.display()))?;
    }
    let defaults = TrainConfig::default();
    let config = TrainConfig {
        epochs: args.epochs.unwrap_or(defaults.epochs),
        batch_size: args.batch_size.unwrap_or(defaults.batch_size),
        learning_rate: args.learning_rate.unwrap_or(defaults.learning_rate),
        weight_decay: args.weight_decay.unwrap_or(defaults.weight_decay),
        value_weight: args.value_weight.unwrap_or(defaults.value_weight),
        schedule: match args.schedule.as_deref() {
            Some("cosine") => Schedule::Cosine,
            Some(_) => Schedule::Constant,
            None => defaults.schedule,
        },
    };
    let rates = [
        ("--learning-rate", config.learning_rate, config.learning_rate > 0.0),
        ("--weight-decay", config.weight_decay, config.weight_decay >= 0.0),
        ("--value-weight", config.value_weight, config.value_weight >= 0.0),
    ];
    for (flag, value, in_range) in rates {
        if !value.is_finite() || !in_range {
            anyhow::bail!(
                "{flag} {value}: must be a finite number above 0 (the weight decay and value weight may be 0)"
            );
        }
    }
    let mut child = parent.child()?;
    let progress = Bars::new(!args.json);
    let report = train_on_threads(&mut child, &data, &config, args.seed, args.threads, &progress)
        .with_context(|| format!("training {} on {} positions", args.from.display(), data.len()))?;
    let data_names: Vec<String> = args.data.iter().map(|p| p.display().to_string()).collect();
    child.set_training(json!({ "datasets": data_names, "config": config, "seed": args.seed, "report": report }));
    child.save(&args.out).with_context(|| format!("--out: cannot save the checkpoint to {}", args.out.display()))?;
    let seconds = report.seconds.max(f64::MIN_POSITIVE);
    let steps_per_second = report.steps as f64 / seconds;
    let positions_per_second = (report.positions * config.epochs) as f64 / seconds;
    if args.json {
        let document = json!({
            "checkpoint": args.out.display().to_string(),
            "hash": child.hash(),
            "architecture": child.info().architecture.to_string(),
            "threads": args.threads,
            "config": config,
            "report": report,
            "steps_per_second": steps_per_second,
            "positions_per_second": positions_per_second,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&document)?)?;
        return Ok(());
    }
    writeln!(
        out,
        "trained {} ({}) from {} on {} positions: {} steps of {} in {:.1} s on {} thread{}",
        args.out.display(),
        child.info().architecture,
        args.from.display(),
        report.positions,
        report.steps,
        config.batch_size.min(report.positions),
        report.seconds,
        args.threads,
        if args.threads == 1 { "" } else { "s" }
    )?;
    writeln!(out, "speed: {steps_per_second:.1} steps/s, {positions_per_second:.0} positions/s")?;
    writeln!(
        out,
        "loss: policy {:.4} → {:.4}, value {:.4} → {:.4} (first epoch → last epoch)",
        report.first_epoch_policy_loss,
        report.last_epoch_policy_loss,
        report.first_epoch_value_loss,
        report.last_epoch_value_loss
    )?;
    Ok(())
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
    let dir = &args.dir;
    // A network's checkpoint and a language model's share the record's name, not its format.
    let language = dir.is_file() || FinetuneRecord::read(dir).is_ok() || dir.join(CONTEXT_FILE).is_file();
    if language {
        return language_info(dir, args.json, out);
    }
    let checkpoint = Checkpoint::load_in(&args.dir, registry)
        .with_context(|| format!("cannot load the checkpoint in {}", args.dir.display()))?;
    report(&checkpoint, &args.dir, args.json, out)
}

/// `arena checkpoint info` of a language model's checkpoint directory or of a context file: its
/// weights (the fine-tuning record), its context, and the hash naming both.
fn language_info(path: &Path, as_json: bool, out: &mut dyn Write) -> Result<()> {
    if path.extension().is_some_and(|e| e == "gguf") {
        anyhow::bail!(
            "{} is a GGUF model: `arena checkpoint info` reads checkpoint directories and context files (`arena generate --info` reads a GGUF)",
            path.display()
        );
    }
    let (record, context_file) = if path.is_file() {
        (None, Some(path.to_path_buf()))
    } else {
        let record = finetuned::is_finetuned_dir(path)
            .then(|| FinetuneRecord::read(path))
            .transpose()
            .with_context(|| format!("cannot read the checkpoint in {}", path.display()))?;
        (record, Some(path.join(CONTEXT_FILE)).filter(|f| f.is_file()))
    };
    let context = context_file.as_deref().map(AgentContext::load).transpose()?;
    let weights = match &record {
        Some(record) => match record.weights_file(path) {
            Some(file) => Some(finetuned::sha256_file(&file)?.0),
            None => None,
        },
        None => None,
    };
    let hash = weights.as_deref().map(|w| agent_hash(w, context.as_ref().map(AgentContext::sha256).as_deref()));
    if as_json {
        let report = json!({
            "path": path.display().to_string(),
            "record": record,
            "weights_sha256": weights,
            "context_file": context_file.as_ref().map(|f| f.display().to_string()),
            "context_sha256": context.as_ref().map(AgentContext::sha256),
            "context": context,
            "hash": hash,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
        return Ok(());
    }
    writeln!(out, "checkpoint    {}", path.display())?;
    if let Some(record) = &record {
        let kind = if record.is_context_only() {
            "language model: its base's weights, its own context".to_string()
        } else {
            let lora = record.lora.as_ref().map(|l| format!(" r{} α{} on {}", l.rank, l.alpha, l.targets));
            format!("language model fine-tuned ({} {}{})", record.method, record.mode, lora.unwrap_or_default())
        };
        writeln!(out, "kind          {kind}")?;
        writeln!(out, "base          {} (SHA-256 {})", record.base.path.display(), record.base.sha256)?;
        if let Some(merged) = &record.merged {
            writeln!(out, "merged        {} (SHA-256 {})", merged.path.display(), merged.sha256)?;
        }
        if let Some(adapter) = &record.adapter {
            writeln!(out, "adapter       {} (SHA-256 {})", adapter.path.display(), adapter.sha256)?;
        }
        if let Some(operator) = record.training.get("operator").and_then(|o| o.as_str()) {
            writeln!(out, "operator      {operator}")?;
        }
    }
    match (&context, &context_file) {
        (Some(context), Some(file)) => {
            let turns = |turn| context.examples.iter().filter(|e| e.turn == Some(turn)).count();
            writeln!(
                out,
                "context       {} (SHA-256 {}): {} examples ({} move, {} text, {} any turn), {} lessons",
                file.display(),
                context.sha256(),
                context.examples.len(),
                turns(TurnKind::Move),
                turns(TurnKind::Text),
                context.examples.iter().filter(|e| e.turn.is_none()).count(),
                context.lessons.len()
            )?;
            match &context.system {
                Some(system) => writeln!(out, "system        {}", system.trim().replace('\n', "\n              "))?,
                None => writeln!(out, "system        the agent's own (none in the context)")?,
            }
            for lesson in &context.lessons {
                writeln!(out, "lesson        {}", lesson.trim())?;
            }
        }
        _ => writeln!(out, "context       none")?,
    }
    if let Some(hash) = hash {
        writeln!(out, "hash          {hash}")?;
    }
    Ok(())
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
