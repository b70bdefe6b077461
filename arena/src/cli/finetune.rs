//! `arena finetune`: train a language model (GGUF) on SFT or preference JSON lines — LoRA or all
//! weights, in candle — or hand the job to an external trainer program; report loss, tokens/s and
//! peak memory.

use std::io::Write;
use std::path::PathBuf;

use agents::llm::trainable::{LoraConfig, TrainMode, parse_targets};
use anyhow::Result;
use arena::training::finetune::{FinetuneConfig, FinetuneOptions, Method, external, finetune as run_finetune};
use clap::Args;

use super::{Bars, named};

#[derive(Args, Debug, Clone)]
pub struct FinetuneArgs {
    /// The base model (GGUF, llama architecture, ChatML).
    #[arg(long)]
    pub model: PathBuf,
    /// Training data, JSON lines: TRL `messages` for sft, `prompt`/`chosen`/`rejected` for dpo
    /// (what `arena export` writes).
    #[arg(long)]
    pub data: PathBuf,
    /// sft: learn the assistant's answers; dpo: prefer chosen answers over rejected ones.
    #[arg(long, value_parser = named(Method::NAMES), default_value = "sft")]
    pub method: Method,
    /// The checkpoint directory to create (new or empty; or an unfinished run with --resume).
    #[arg(long)]
    pub out: PathBuf,
    /// LoRA rank.
    #[arg(long, default_value_t = 8)]
    pub lora_rank: usize,
    /// LoRA alpha: the adapters' update is scaled by alpha / rank.
    #[arg(long, default_value_t = 16.0)]
    pub lora_alpha: f64,
    /// The projections adapted in every block: any of q,k,v,o,gate,up,down.
    #[arg(long, default_value = "q,k,v,o,gate,up,down")]
    pub lora_targets: String,
    /// Train every weight instead of LoRA adapters (for tiny models: it needs about four times
    /// the model's f32 size in memory).
    #[arg(long)]
    pub full: bool,
    /// Passes over the data.
    #[arg(long, default_value_t = 1, value_parser = super::at_least_one::<u32>)]
    pub epochs: u32,
    /// Learning rate (constant). Default: 2e-4 for LoRA, 1e-5 with --full.
    #[arg(long)]
    pub lr: Option<f64>,
    /// AdamW's decoupled weight decay.
    #[arg(long, default_value_t = 0.0)]
    pub weight_decay: f64,
    /// The most tokens per optimizer step (sequences × the longest, padding included).
    #[arg(long, default_value_t = 512)]
    pub batch_tokens: usize,
    /// Examples longer than this many tokens are left out (and counted).
    #[arg(long, default_value_t = 512)]
    pub max_len: usize,
    /// DPO's beta: how far the model may move from the reference.
    #[arg(long, default_value_t = 0.1)]
    pub beta: f64,
    /// Seeds the data order and the LoRA initialisation.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Also write model.gguf: the adapter merged into the base, Q8_0.
    #[arg(long)]
    pub merge: bool,
    /// Save the training state every this many steps (and after every epoch).
    #[arg(long, default_value_t = 50)]
    pub save_every: u64,
    /// Continue the unfinished run in --out (with the same settings).
    #[arg(long)]
    pub resume: bool,
    /// Train with this program instead, run by `sh -c` with {data}, {base}, {out} and {method}
    /// replaced (shell-quoted); it must leave adapter.safetensors or model.gguf in {out}.
    #[arg(long)]
    pub trainer_cmd: Option<String>,
    /// Threads for the matrix products (rayon). Default: RAYON_NUM_THREADS, else the cores.
    /// Candle's element-wise pool gets 1 thread unless CANDLE_NUM_THREADS says otherwise (its
    /// spinning workers slow training down).
    #[arg(long, value_parser = super::at_least_one::<usize>)]
    pub threads: Option<usize>,
    /// Hide the progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Print one JSON document (the report) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `arena finetune`.
pub fn finetune(args: &FinetuneArgs, out: &mut dyn Write) -> Result<()> {
    let bars = Bars::new(!args.quiet && !args.json);
    if let Some(template) = &args.trainer_cmd {
        let report = external::train_external(template, &args.model, &args.data, args.method, &args.out, &bars)?;
        if args.json {
            writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
        } else {
            writeln!(
                out,
                "{}: {} checkpoint from the trainer in {:.1} s ({} weights changed); play it with llm(model={})",
                report.out.display(),
                report.mode,
                report.seconds,
                report.changed_weights,
                report.out.display()
            )?;
        }
        return Ok(());
    }
    let mode = if args.full {
        TrainMode::Full
    } else {
        let targets = parse_targets(&args.lora_targets).map_err(|e| anyhow::anyhow!("--lora-targets: {e}"))?;
        TrainMode::Lora(LoraConfig { rank: args.lora_rank, alpha: args.lora_alpha, targets, seed: args.seed })
    };
    let config = FinetuneConfig {
        mode,
        epochs: args.epochs,
        learning_rate: args.lr.unwrap_or(if args.full { 1e-5 } else { 2e-4 }),
        weight_decay: args.weight_decay,
        batch_tokens: args.batch_tokens,
        max_len: args.max_len,
        beta: args.beta,
        seed: args.seed,
        merge: args.merge,
        save_every: args.save_every,
        ..FinetuneConfig::new(&args.model, &args.data, args.method)
    };
    let options = FinetuneOptions { out: args.out.clone(), resume: args.resume };
    let report = run_finetune(&config, &options, &bars)?;
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
        return Ok(());
    }
    let (first, last) = report.loss_change(5).unwrap_or((f64::NAN, f64::NAN));
    writeln!(
        out,
        "{} {} on {} examples ({} longer than --max-len left out): {} steps{}, loss {first:.4} -> {last:.4} \
         (mean of the first and last 5 steps)",
        report.settings.method.as_str(),
        report.settings.mode,
        report.examples,
        report.too_long,
        report.steps,
        if report.resumed_at > 0 { format!(" (resumed at {})", report.resumed_at) } else { String::new() },
    )?;
    if let Some(point) = report.loss_curve.last()
        && let (Some(margin), Some(accuracy)) = (point.margin, point.accuracy)
    {
        writeln!(out, "last step: reward margin {margin:.3}, chosen preferred in {:.0}% of pairs", accuracy * 100.0)?;
    }
    writeln!(
        out,
        "speed: {:.1} training tokens/s over {:.1} s ({} trainable parameters; {}); peak memory {}",
        report.tokens_per_second,
        report.train_seconds,
        report.trainable_parameters,
        report.threads,
        report.peak_rss_bytes.map_or("unknown".to_string(), |b| format!("{:.0} MB", b as f64 / 1e6)),
    )?;
    if let Some(merged) = &report.merged {
        writeln!(out, "merged model: {} ({:.1} MB)", merged.path.display(), merged.bytes as f64 / 1e6)?;
    }
    writeln!(out, "checkpoint: {}; play it with llm(model={})", report.out.display(), report.out.display())?;
    Ok(())
}
