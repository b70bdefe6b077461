//! Fine-tuning language models in candle: SFT or DPO over TRL-format JSON lines, LoRA adapters or
//! every weight, AdamW with its state saved as it goes (a killed run resumes to the same
//! weights), and a checkpoint directory that `llm(model=DIR)` plays — or an external trainer
//! program whose output is checked before anything uses it ([`external`]).
//!
//! The output directory, when training is done: `adapter.safetensors`, `checkpoint.json` (see
//! `agents::llm::finetuned`: the base's path and SHA-256, the data file's, the settings, the loss
//! curve, tokens/s, peak memory) and, when merged, `model.gguf` (Q8_0). `checkpoint.json` is
//! written last: a directory without it is an unfinished run.
//!
//! Schedule: a constant learning rate. Each epoch visits every example once in the seeded,
//! length-grouped order of [`data::epoch_batches`]. DPO's reference is the starting model (for
//! LoRA, the frozen base: its adapters start at zero), its log-probabilities computed once before
//! the first step and saved with the state.

pub mod data;
pub mod external;
mod state;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use agents::llm::finetuned::{CHECKPOINT_FILE, CHECKPOINT_FORMAT, FileRecord, FinetuneRecord, LoraRecord, MERGED_FILE};
use agents::llm::trainable::{ADAPTER_FILE, AdamW, AdamWConfig, LoraConfig, TrainMode, TrainableLlama, format_targets};
use agents::llm::{ConvertSummary, finetuned};
use candle_core::{DType, Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::error::{Context, Error, Result, bail};
use crate::progress::Progress;
use data::{DataKind, DataSet, Example, epoch_batches};

/// How a model learns from the data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Supervised fine-tuning: maximise the assistant tokens' log-probability.
    Sft,
    /// Direct preference optimisation against the starting model.
    Dpo,
}

impl Method {
    pub const NAMES: &'static [(&'static str, Method)] = &[("sft", Method::Sft), ("dpo", Method::Dpo)];

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Sft => "sft",
            Method::Dpo => "dpo",
        }
    }

    fn data_kind(self) -> DataKind {
        match self {
            Method::Sft => DataKind::Sft,
            Method::Dpo => DataKind::Preference,
        }
    }
}

/// What to train, on what, and how.
#[derive(Clone, Debug, PartialEq)]
pub struct FinetuneConfig {
    /// The base GGUF.
    pub base: PathBuf,
    /// The JSON-lines data file.
    pub data: PathBuf,
    pub method: Method,
    /// LoRA adapters (their rank, alpha, targets and initialisation seed) or every weight.
    pub mode: TrainMode,
    pub epochs: u32,
    pub learning_rate: f64,
    pub weight_decay: f64,
    /// The most tokens (rows × longest sequence, padding included) in one optimizer step.
    pub batch_tokens: usize,
    /// Longer examples are left out (counted).
    pub max_len: usize,
    /// DPO's inverse temperature.
    pub beta: f64,
    /// Orders the data.
    pub seed: u64,
    /// Also write `model.gguf`, the adapter merged into the base (Q8_0).
    pub merge: bool,
    /// Save the training state every this many steps (and after every epoch).
    pub save_every: u64,
}

impl FinetuneConfig {
    /// LoRA rank 8 (alpha 16) on every projection, 1 epoch, learning rate 2e-4 (1e-5 for full
    /// fine-tuning), 512 tokens a step, at most 512 tokens an example, beta 0.1, seed 0, saving
    /// every 50 steps.
    pub fn new(base: impl Into<PathBuf>, data: impl Into<PathBuf>, method: Method) -> Self {
        FinetuneConfig {
            base: base.into(),
            data: data.into(),
            method,
            mode: TrainMode::Lora(LoraConfig::default()),
            epochs: 1,
            learning_rate: 2e-4,
            weight_decay: 0.0,
            batch_tokens: 512,
            max_len: 512,
            beta: 0.1,
            seed: 0,
            merge: false,
            save_every: 50,
        }
    }

    fn validate(&self) -> Result<()> {
        if self.epochs == 0 {
            bail!("--epochs must be at least 1");
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            bail!("--lr must be a positive number, not {}", self.learning_rate);
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            bail!("the weight decay must be zero or positive, not {}", self.weight_decay);
        }
        if self.batch_tokens == 0 || self.max_len < 2 {
            bail!("--batch-tokens must be positive and --max-len at least 2");
        }
        if self.method == Method::Dpo && !(self.beta.is_finite() && self.beta > 0.0) {
            bail!("--beta must be a positive number, not {}", self.beta);
        }
        if self.save_every == 0 {
            bail!("--save-every must be at least 1 step");
        }
        Ok(())
    }
}

/// Where the checkpoint goes, and whether to continue an unfinished run there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FinetuneOptions {
    pub out: PathBuf,
    pub resume: bool,
}

/// The settings a run is recorded with; a resumed run must have the same.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub method: Method,
    pub mode: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lora: Option<LoraSettings>,
    pub epochs: u32,
    pub learning_rate: f64,
    pub weight_decay: f64,
    pub batch_tokens: usize,
    pub max_len: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beta: Option<f64>,
    pub seed: u64,
    pub base_sha256: String,
    pub data_sha256: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoraSettings {
    pub rank: usize,
    pub alpha: f64,
    pub targets: String,
    pub seed: u64,
}

/// One optimizer step, as the loss curve records it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub step: u64,
    pub epoch: u32,
    pub loss: f64,
    /// Real tokens (no padding) through the model in this step.
    pub tokens: usize,
    /// DPO: the mean of `beta · ((chosen − reference) − (rejected − reference))` log-probability
    /// differences, and the fraction of pairs where it is positive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub margin: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<f64>,
}

/// What a fine-tuning run did (also written into `checkpoint.json` under `training`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FinetuneReport {
    pub out: PathBuf,
    pub settings: Settings,
    pub examples: usize,
    pub too_long: usize,
    pub identical_pairs: usize,
    pub trainable_parameters: usize,
    pub steps: u64,
    /// The step a resumed run started from (0 for a fresh run).
    pub resumed_at: u64,
    /// Real tokens through the model per second of optimizer steps, in this process.
    pub tokens_per_second: f64,
    /// Seconds of training in this process (loading and saving excluded).
    pub train_seconds: f64,
    /// The process's peak resident memory, where the system reports it (Linux).
    pub peak_rss_bytes: Option<u64>,
    /// The compute threads: rayon's pool (matrix products) and candle's element-wise pool.
    pub threads: String,
    pub loss_curve: Vec<StepRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged: Option<MergeSummary>,
}

/// The merged model written with `--merge`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MergeSummary {
    pub path: PathBuf,
    pub bytes: u64,
    pub requantized: usize,
}

impl FinetuneReport {
    /// The mean loss of the first and of the last `n` steps.
    pub fn loss_change(&self, n: usize) -> Option<(f64, f64)> {
        let curve = &self.loss_curve;
        if curve.is_empty() {
            return None;
        }
        let n = n.clamp(1, curve.len());
        let mean = |points: &[StepRecord]| points.iter().map(|p| p.loss).sum::<f64>() / points.len() as f64;
        Some((mean(&curve[..n]), mean(&curve[curve.len() - n..])))
    }
}

/// Fine-tunes `config.base` on `config.data` into `options.out`; see the module documentation.
pub fn finetune(config: &FinetuneConfig, options: &FinetuneOptions, progress: &dyn Progress) -> Result<FinetuneReport> {
    config.validate()?;
    let out = &options.out;
    prepare_output(out, options.resume)?;
    let base_record = FileRecord::of(&config.base, absolute(&config.base)?)?;
    let data_record = FileRecord::of(&config.data, absolute(&config.data)?)?;
    let settings = settings(config, &base_record, &data_record);

    progress.log(&format!("loading {} for {} training", config.base.display(), settings.mode));
    let model = TrainableLlama::load(&config.base, config.mode.clone(), DType::F32)
        .with_context(|| format!("cannot load the base model {}", config.base.display()))?;
    let data = DataSet::read(&config.data, config.method.data_kind(), model.tokenizer(), config.max_len)?;
    let context = model.config().context;
    if let Some(example) = data.examples.iter().find(|e| e.sequences().iter().any(|s| s.len() > context)) {
        let longest = example.sequences().iter().map(|s| s.len()).max().unwrap_or(0);
        bail!(
            "{}: an example of {longest} tokens does not fit the model's context of {context}; lower --max-len",
            config.data.display()
        );
    }
    let epochs: Vec<Vec<Vec<usize>>> = (0..config.epochs)
        .map(|epoch| epoch_batches(&data.examples, config.batch_tokens, config.seed, u64::from(epoch)))
        .collect();
    let total_steps: u64 = epochs.iter().map(|e| e.len() as u64).sum();

    let vars = model.trainable_vars();
    let adamw_config = AdamWConfig {
        learning_rate: config.learning_rate,
        weight_decay: config.weight_decay,
        ..AdamWConfig::default()
    };
    let mut optimizer = AdamW::new(vars.clone(), adamw_config)?;
    let mut loss_curve = Vec::new();
    let mut reference: Option<Reference> = None;
    let mut step = 0u64;
    if options.resume
        && let Some(loaded) = state::load(out, &settings)?
    {
        for (name, var) in &vars {
            let value = loaded
                .tensors
                .get(&format!("var.{name}"))
                .with_context(|| format!("the saved training state in {} lacks {name}", out.display()))?;
            var.set(value).with_context(|| format!("cannot restore {name}"))?;
        }
        optimizer.restore(&loaded.with_prefix("opt."))?;
        if config.method == Method::Dpo {
            reference = Some(Reference::from_state(&loaded, data.examples.len())?);
        }
        step = loaded.saved.step;
        loss_curve = loaded.saved.loss_curve;
        progress.log(&format!("resuming {} at step {step} of {total_steps}", out.display()));
    }
    let resumed_at = step;
    if config.method == Method::Dpo && reference.is_none() {
        progress.log("computing the reference log-probabilities (once)");
        reference = Some(Reference::compute(&model, &data.examples, &epochs[0], progress)?);
    }

    progress.begin("steps", total_steps);
    progress.set_done(step);
    let mut trained_tokens = 0usize;
    let mut train_seconds = 0.0f64;
    let mut index = 0u64;
    for (epoch, batches) in epochs.iter().enumerate() {
        for (position, batch) in batches.iter().enumerate() {
            index += 1;
            if index <= step {
                continue;
            }
            let started = Instant::now();
            let examples: Vec<&Example> = batch.iter().map(|&i| &data.examples[i]).collect();
            let outcome = match config.method {
                Method::Sft => sft_step(&model, &examples)?,
                Method::Dpo => {
                    let reference = reference.as_ref().context("the DPO reference was not computed")?;
                    dpo_step(&model, &examples, batch, reference, config.beta)?
                }
            };
            if !outcome.loss.is_finite() {
                bail!("the loss became {} at step {index}; lower --lr", outcome.loss);
            }
            optimizer.step(&outcome.gradients)?;
            train_seconds += started.elapsed().as_secs_f64();
            trained_tokens += outcome.tokens;
            step = index;
            loss_curve.push(StepRecord {
                step,
                epoch: epoch as u32 + 1,
                loss: outcome.loss,
                tokens: outcome.tokens,
                margin: outcome.margin,
                accuracy: outcome.accuracy,
            });
            progress.set_done(step);
            progress.status(&format!(
                "epoch {}/{} loss {:.4} {:.0} tok/s",
                epoch + 1,
                config.epochs,
                outcome.loss,
                trained_tokens as f64 / train_seconds.max(1e-9)
            ));
            let epoch_end = position + 1 == batches.len();
            if step.is_multiple_of(config.save_every) || epoch_end {
                save_state(out, &settings, step, &loss_curve, &vars, &optimizer, reference.as_ref())?;
            }
        }
    }
    progress.end();

    let report = FinetuneReport {
        out: out.clone(),
        settings: settings.clone(),
        examples: data.examples.len(),
        too_long: data.too_long,
        identical_pairs: data.identical,
        trainable_parameters: model.trainable_parameters(),
        steps: step,
        resumed_at,
        tokens_per_second: if train_seconds > 0.0 { trained_tokens as f64 / train_seconds } else { 0.0 },
        train_seconds,
        peak_rss_bytes: peak_rss_bytes(),
        threads: threads_description(),
        loss_curve,
        merged: None,
    };
    write_checkpoint(&model, config, out, report, base_record, data_record, progress)
}

/// The output directory must be new or empty, unless resuming an unfinished run.
fn prepare_output(out: &Path, resume: bool) -> Result<()> {
    if out.join(CHECKPOINT_FILE).exists() {
        bail!("{} already holds a finished checkpoint; choose another --out", out.display());
    }
    if out.exists() {
        let mut entries = std::fs::read_dir(out).map_err(|e| Error::io("cannot read", out, e))?;
        if !resume && entries.next().is_some() {
            bail!(
                "{} already exists and is not empty; choose another --out, or --resume an unfinished run",
                out.display()
            );
        }
    }
    std::fs::create_dir_all(out).map_err(|e| Error::io("cannot create", out, e))
}

fn absolute(path: &Path) -> Result<PathBuf> {
    path.canonicalize().map_err(|e| Error::io("cannot find", path, e))
}

fn settings(config: &FinetuneConfig, base: &FileRecord, data: &FileRecord) -> Settings {
    let (mode, lora) = match &config.mode {
        TrainMode::Lora(lora) => (
            "lora",
            Some(LoraSettings {
                rank: lora.rank,
                alpha: lora.alpha,
                targets: format_targets(&lora.targets),
                seed: lora.seed,
            }),
        ),
        TrainMode::Full => ("full", None),
    };
    Settings {
        method: config.method,
        mode: mode.to_string(),
        lora,
        epochs: config.epochs,
        learning_rate: config.learning_rate,
        weight_decay: config.weight_decay,
        batch_tokens: config.batch_tokens,
        max_len: config.max_len,
        beta: (config.method == Method::Dpo).then_some(config.beta),
        seed: config.seed,
        base_sha256: base.sha256.clone(),
        data_sha256: data.sha256.clone(),
    }
}

/// One step's loss, gradients and measurements.
struct StepOutcome {
    loss: f64,
    gradients: candle_core::backprop::GradStore,
    tokens: usize,
    margin: Option<f64>,
    accuracy: Option<f64>,
}

/// The sequences of some examples, in order (a pair's chosen then rejected), as the model takes
/// them.
struct BatchSequences<'a> {
    tokens: Vec<&'a [u32]>,
    targets: Vec<&'a [bool]>,
}

impl<'a> BatchSequences<'a> {
    fn of(examples: &[&'a Example]) -> Self {
        let sequences: Vec<&data::Sequence> = examples.iter().flat_map(|e| e.sequences()).collect();
        BatchSequences {
            tokens: sequences.iter().map(|s| s.tokens.as_slice()).collect(),
            targets: sequences.iter().map(|s| s.targets.as_slice()).collect(),
        }
    }

    /// Real tokens (no padding).
    fn token_count(&self) -> usize {
        self.tokens.iter().map(|t| t.len()).sum()
    }
}

fn sft_step(model: &TrainableLlama, examples: &[&Example]) -> Result<StepOutcome> {
    let batch = BatchSequences::of(examples);
    let loss = model.sft_loss(&batch.tokens, &batch.targets)?;
    let gradients = loss.backward()?;
    Ok(StepOutcome {
        loss: loss.to_scalar::<f32>()? as f64,
        gradients,
        tokens: batch.token_count(),
        margin: None,
        accuracy: None,
    })
}

/// The reference model's log-probabilities of every pair's chosen and rejected answers.
struct Reference {
    chosen: Vec<f64>,
    rejected: Vec<f64>,
}

impl Reference {
    fn compute(
        model: &TrainableLlama,
        examples: &[Example],
        batches: &[Vec<usize>],
        progress: &dyn Progress,
    ) -> Result<Self> {
        let mut reference = Reference { chosen: vec![0.0; examples.len()], rejected: vec![0.0; examples.len()] };
        progress.begin("batches", batches.len() as u64);
        for (done, batch) in batches.iter().enumerate() {
            let batch_examples: Vec<&Example> = batch.iter().map(|&i| &examples[i]).collect();
            let sequences = BatchSequences::of(&batch_examples);
            let values = pair_logprobs(model, &sequences, batch_examples.len())?.detach().to_vec1::<f32>()?;
            for (k, &i) in batch.iter().enumerate() {
                reference.chosen[i] = values[2 * k] as f64;
                reference.rejected[i] = values[2 * k + 1] as f64;
            }
            progress.set_done(done as u64 + 1);
        }
        progress.end();
        Ok(reference)
    }

    fn from_state(loaded: &state::LoadedState, examples: usize) -> Result<Self> {
        let read = |key: &str| -> Result<Vec<f64>> {
            let values = loaded
                .tensors
                .get(key)
                .with_context(|| format!("the saved training state lacks the DPO reference {key}"))?
                .to_vec1::<f64>()?;
            if values.len() != examples {
                bail!("the saved DPO reference has {} values for {examples} pairs", values.len());
            }
            Ok(values)
        };
        Ok(Reference { chosen: read("ref.chosen")?, rejected: read("ref.rejected")? })
    }

    fn tensors(&self) -> Result<[(String, Tensor); 2]> {
        Ok([
            ("ref.chosen".to_string(), Tensor::new(self.chosen.as_slice(), &Device::Cpu)?),
            ("ref.rejected".to_string(), Tensor::new(self.rejected.as_slice(), &Device::Cpu)?),
        ])
    }
}

/// `[2 × pairs]`: chosen, rejected, chosen, rejected, ... log-probabilities of the answers.
fn pair_logprobs(model: &TrainableLlama, batch: &BatchSequences<'_>, pairs: usize) -> Result<Tensor> {
    if batch.tokens.len() != 2 * pairs {
        bail!("DPO needs preference pairs");
    }
    Ok(model.sequence_logprobs(&batch.tokens, &batch.targets)?)
}

/// DPO: `−log σ(β ((π_c − ref_c) − (π_r − ref_r)))`, averaged over the pairs.
fn dpo_step(
    model: &TrainableLlama,
    examples: &[&Example],
    indices: &[usize],
    reference: &Reference,
    beta: f64,
) -> Result<StepOutcome> {
    let pairs = examples.len();
    let batch = BatchSequences::of(examples);
    let logprobs = pair_logprobs(model, &batch, pairs)?.reshape((pairs, 2))?;
    let chosen = logprobs.narrow(1, 0, 1)?.squeeze(1)?;
    let rejected = logprobs.narrow(1, 1, 1)?.squeeze(1)?;
    let reference_difference: Vec<f32> =
        indices.iter().map(|&i| (reference.chosen[i] - reference.rejected[i]) as f32).collect();
    let reference_difference = Tensor::new(reference_difference.as_slice(), &Device::Cpu)?;
    let margins = (((chosen - rejected)? - reference_difference)? * beta)?;
    // −log σ(x) = relu(−x) + log(1 + exp(−|x|)), stable for any x.
    let losses = (margins.neg()?.relu()? + (margins.abs()?.neg()?.exp()? + 1.0)?.log()?)?;
    let loss = losses.mean_all()?;
    let gradients = loss.backward()?;
    let margin_values = margins.detach().to_vec1::<f32>()?;
    Ok(StepOutcome {
        loss: loss.to_scalar::<f32>()? as f64,
        gradients,
        tokens: batch.token_count(),
        margin: Some(margin_values.iter().map(|&m| m as f64).sum::<f64>() / pairs as f64),
        accuracy: Some(margin_values.iter().filter(|&&m| m > 0.0).count() as f64 / pairs as f64),
    })
}

fn save_state(
    out: &Path,
    settings: &Settings,
    step: u64,
    loss_curve: &[StepRecord],
    vars: &[(String, candle_core::Var)],
    optimizer: &AdamW,
    reference: Option<&Reference>,
) -> Result<()> {
    let mut tensors: HashMap<String, Tensor> =
        vars.iter().map(|(name, var)| (format!("var.{name}"), var.as_tensor().clone())).collect();
    for (key, tensor) in optimizer.state()? {
        tensors.insert(format!("opt.{key}"), tensor);
    }
    if let Some(reference) = reference {
        tensors.extend(reference.tensors()?);
    }
    let saved = state::SavedState {
        settings: settings.clone(),
        step,
        loss_curve: loss_curve.to_vec(),
        tensors: state::tensors_file(step),
    };
    state::save(out, &saved, &tensors)
}

/// Writes the adapter, the merged model if asked, then `checkpoint.json`; removes the state.
fn write_checkpoint(
    model: &TrainableLlama,
    config: &FinetuneConfig,
    out: &Path,
    mut report: FinetuneReport,
    base: FileRecord,
    data: FileRecord,
    progress: &dyn Progress,
) -> Result<FinetuneReport> {
    // Outputs of an earlier attempt that died before `checkpoint.json` are incomplete: replace.
    for stale in [ADAPTER_FILE, MERGED_FILE] {
        let _ = std::fs::remove_file(out.join(stale));
    }
    let adapter_path = out.join(ADAPTER_FILE);
    model.save_adapter(&adapter_path)?;
    let adapter = FileRecord::of(&adapter_path, PathBuf::from(ADAPTER_FILE))?;
    let merged = if config.merge {
        progress.log("merging the adapter into the base model (Q8_0)");
        let merged_path = out.join(MERGED_FILE);
        let summary: ConvertSummary = finetuned::write_merged(&config.base, &adapter_path, &merged_path)?;
        report.merged = Some(MergeSummary {
            path: merged_path.clone(),
            bytes: summary.bytes_out,
            requantized: summary.requantized,
        });
        Some(FileRecord::of(&merged_path, PathBuf::from(MERGED_FILE))?)
    } else {
        None
    };
    let lora =
        report.settings.lora.as_ref().map(|l| LoraRecord { rank: l.rank, alpha: l.alpha, targets: l.targets.clone() });
    let record = FinetuneRecord {
        format: CHECKPOINT_FORMAT.to_string(),
        base,
        method: config.method.as_str().to_string(),
        mode: report.settings.mode.clone(),
        lora,
        adapter: Some(adapter),
        merged,
        data: Some(data),
        training: serde_json::to_value(&report)?,
    };
    record.write(out)?;
    state::remove(out);
    Ok(report)
}

/// The peak resident memory of this process (`VmHWM`), on Linux.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kilobytes: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kilobytes * 1024)
}

fn threads_description() -> String {
    let read = |name: &str| std::env::var(name).unwrap_or_else(|_| "unset".to_string());
    format!("RAYON_NUM_THREADS={} CANDLE_NUM_THREADS={}", read("RAYON_NUM_THREADS"), read("CANDLE_NUM_THREADS"))
}
