//! Training children from their parents' weights: policy cross-entropy against the search's visit
//! shares plus the squared error of the value head against the game outcome, minimised with AdamW.
//!
//! AdamW is written here (a few lines over candle tensors) rather than taken from candle-nn because
//! its moments must be saved in the checkpoint: a resumed run then trains exactly as an
//! uninterrupted one.

use std::collections::BTreeMap;

use agents::checkpoint::{Checkpoint, OptimizerState};
use candle_core::{D, DType, Device, Tensor, Var};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use crate::error::{Context, Result, bail};
use crate::progress::Progress;
use crate::training::dataset::Dataset;

/// Training settings. In a config file every field is optional (the defaults fill the rest).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    pub learning_rate: f64,
    pub weight_decay: f64,
    pub batch_size: usize,
    pub epochs: usize,
    /// Weight of the value loss against the policy loss.
    pub value_weight: f64,
    /// How the learning rate changes over a child's training.
    pub schedule: Schedule,
}

/// The learning rate over one training run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    /// `learning_rate` throughout.
    #[default]
    Constant,
    /// A half cosine from `learning_rate` down to a tenth of it at the last step: large steps
    /// early, fine ones late, which settles the weights instead of leaving them where the last
    /// large step threw them.
    Cosine,
}

impl Schedule {
    /// The learning rate of step `step` (from 0) of `steps`.
    pub fn rate(self, base: f64, step: usize, steps: usize) -> f64 {
        match self {
            Schedule::Constant => base,
            Schedule::Cosine => {
                let progress = if steps > 1 { step as f64 / (steps - 1) as f64 } else { 1.0 };
                let floor = base / 10.0;
                floor + (base - floor) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
            }
        }
    }
}

impl Default for TrainConfig {
    fn default() -> Self {
        // Three epochs with a cosine schedule, as the evolve loop trains: with connect four's
        // mirror images six epochs at a constant rate over-fitted its replay window (the value
        // loss fell to a third of the first epoch's while the suite share fell).
        TrainConfig {
            learning_rate: 2e-3,
            weight_decay: 1e-4,
            batch_size: 128,
            epochs: 3,
            value_weight: 1.0,
            schedule: Schedule::Cosine,
        }
    }
}

/// What a training run did, for the checkpoint's record and the generation summary.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainReport {
    pub positions: usize,
    pub steps: usize,
    /// Mean losses over the first and the last epoch.
    pub first_epoch_policy_loss: f64,
    pub first_epoch_value_loss: f64,
    pub last_epoch_policy_loss: f64,
    pub last_epoch_value_loss: f64,
    pub seconds: f64,
    /// Each epoch's mean (policy, value) loss, in order: the training loss curve.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub epoch_losses: Vec<(f64, f64)>,
}

const BETA1: f64 = 0.9;
const BETA2: f64 = 0.999;
const EPSILON: f64 = 1e-8;

/// AdamW whose state (moments and step count) can be saved and restored.
struct AdamW {
    vars: Vec<(String, Var)>,
    first: Vec<Tensor>,
    second: Vec<Tensor>,
    step: u64,
    config: TrainConfig,
}

impl AdamW {
    fn new(vars: Vec<(String, Var)>, state: Option<&OptimizerState>, config: TrainConfig) -> Result<AdamW> {
        let mut first = Vec::with_capacity(vars.len());
        let mut second = Vec::with_capacity(vars.len());
        let saved = |key: String, like: &Var| -> Result<Tensor> {
            match state.and_then(|s| s.tensors.get(&key)) {
                Some(t) if t.dims() == like.dims() => Ok(t.clone()),
                Some(t) => bail!("optimizer state `{key}` has shape {:?}, the parameter {:?}", t.dims(), like.dims()),
                None => Ok(Tensor::zeros(like.dims(), DType::F32, &Device::Cpu)?),
            }
        };
        for (name, var) in &vars {
            first.push(saved(format!("m.{name}"), var)?);
            second.push(saved(format!("v.{name}"), var)?);
        }
        let step = match state.and_then(|s| s.tensors.get("step")) {
            Some(t) => t.to_vec1::<f32>()?.first().copied().unwrap_or(0.0) as u64,
            None => 0,
        };
        Ok(AdamW { vars, first, second, step, config })
    }

    /// One step at learning rate `lr`.
    fn apply(&mut self, gradients: &candle_core::backprop::GradStore, lr: f64) -> Result<()> {
        self.step += 1;
        let correction1 = 1.0 - BETA1.powi(self.step as i32);
        let correction2 = 1.0 - BETA2.powi(self.step as i32);
        for (k, (_, var)) in self.vars.iter().enumerate() {
            let Some(gradient) = gradients.get(var.as_tensor()) else { continue };
            // A gradient computed from tracked activations (a convolution's kernel) is itself
            // tracked: kept in the moments it would hold every earlier step's graph alive.
            let gradient = gradient.detach();
            let gradient = &gradient;
            let m = ((&self.first[k] * BETA1)? + (gradient * (1.0 - BETA1))?)?;
            let v = ((&self.second[k] * BETA2)? + (gradient.sqr()? * (1.0 - BETA2))?)?;
            let update = ((&m / correction1)? / ((&v / correction2)?.sqrt()? + EPSILON)?)?;
            let decayed = (var.as_tensor() * (1.0 - lr * self.config.weight_decay))?;
            var.set(&(decayed - (update * lr)?)?)?;
            self.first[k] = m;
            self.second[k] = v;
        }
        Ok(())
    }

    fn state(&self) -> Result<OptimizerState> {
        let mut tensors = BTreeMap::new();
        for (k, (name, _)) in self.vars.iter().enumerate() {
            tensors.insert(format!("m.{name}"), self.first[k].clone());
            tensors.insert(format!("v.{name}"), self.second[k].clone());
        }
        tensors.insert("step".to_string(), Tensor::new(&[self.step as f32], &Device::Cpu)?);
        Ok(OptimizerState { tensors })
    }
}

/// [`train`] with its tensor work on `threads` threads (a pool of its own, so the thread budget
/// is explicit and the same count gives the same weights).
pub fn train_on_threads(
    checkpoint: &mut Checkpoint,
    data: &Dataset,
    config: &TrainConfig,
    seed: u64,
    threads: usize,
    progress: &dyn Progress,
) -> Result<TrainReport> {
    let threads = threads.max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| crate::error::Error::Invalid(format!("cannot start {threads} training threads: {e}")))?;
    pool.install(|| train(checkpoint, data, config, seed, progress))
}

/// Trains `checkpoint` in place on `data` (shuffled with `seed`); carries the optimizer state in
/// the checkpoint. `progress` is told of each step with the current loss.
pub fn train(
    checkpoint: &mut Checkpoint,
    data: &Dataset,
    config: &TrainConfig,
    seed: u64,
    progress: &dyn Progress,
) -> Result<TrainReport> {
    let network = checkpoint.network();
    if data.observation_size != network.observation_size() || data.actions != network.actions() {
        bail!(
            "the dataset (observations {}, actions {}) does not fit the network (observations {}, actions {})",
            data.observation_size,
            data.actions,
            network.observation_size(),
            network.actions()
        );
    }
    if data.is_empty() {
        bail!("the dataset is empty: nothing to train on");
    }
    let started = std::time::Instant::now();
    let mut optimizer = AdamW::new(checkpoint.vars().clone(), checkpoint.optimizer(), *config)?;
    let n = data.len();
    let batch = config.batch_size.clamp(1, n);
    let steps_per_epoch = n.div_ceil(batch);
    progress.begin("steps", (steps_per_epoch * config.epochs) as u64);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut order: Vec<usize> = (0..n).collect();
    let mut report = TrainReport { positions: n, ..TrainReport::default() };
    let device = Device::Cpu;
    for epoch in 0..config.epochs {
        order.shuffle(&mut rng);
        let (mut policy_sum, mut value_sum) = (0.0, 0.0);
        for rows in order.chunks(batch) {
            let gather = |source: &[f32], width: usize| -> Vec<f32> {
                rows.iter().flat_map(|&r| source[r * width..(r + 1) * width].iter().copied()).collect()
            };
            let observations = Tensor::from_vec(
                gather(&data.observations, data.observation_size),
                (rows.len(), data.observation_size),
                &device,
            )?;
            let targets = Tensor::from_vec(gather(&data.policies, data.actions), (rows.len(), data.actions), &device)?;
            let values = Tensor::from_vec(gather(&data.values, 1), rows.len(), &device)?;
            let (logits, predicted) = checkpoint.network().forward(&observations).context("forward pass")?;
            let log_probabilities = candle_nn::ops::log_softmax(&logits, D::Minus1)?;
            let policy_loss = (targets * log_probabilities)?.sum(D::Minus1)?.neg()?.mean_all()?;
            let value_loss = (predicted.flatten_all()? - values)?.sqr()?.mean_all()?;
            let loss = (&policy_loss + (&value_loss * config.value_weight)?)?;
            let lr = config.schedule.rate(config.learning_rate, report.steps, steps_per_epoch * config.epochs);
            optimizer.apply(&loss.backward()?, lr)?;
            let (p, v) = (policy_loss.to_scalar::<f32>()? as f64, value_loss.to_scalar::<f32>()? as f64);
            policy_sum += p * rows.len() as f64;
            value_sum += v * rows.len() as f64;
            report.steps += 1;
            progress.status(&format!("epoch {}/{} policy {p:.3} value {v:.3}", epoch + 1, config.epochs));
            progress.set_done(report.steps as u64);
        }
        let (policy, value) = (policy_sum / n as f64, value_sum / n as f64);
        if epoch == 0 {
            report.first_epoch_policy_loss = policy;
            report.first_epoch_value_loss = value;
        }
        report.last_epoch_policy_loss = policy;
        report.last_epoch_value_loss = value;
        report.epoch_losses.push((policy, value));
    }
    progress.end();
    checkpoint.set_optimizer(Some(optimizer.state()?));
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}
