//! A trainable llama model for fine-tuning in candle: the same GGUF files as the inference path
//! (`model.rs`: its configuration and tensor reading are shared), the weights dequantized to f32
//! (or f64, for gradient checks) candle tensors, and either LoRA adapters on chosen projections
//! (the base frozen) or every weight trainable (`full`, for tiny models).
//!
//! The forward pass computes what `model.rs` computes — RMSNorm, interleaved RoPE with the same
//! f32 cosines and sines, causal grouped-query attention, SwiGLU, tied or separate output — but
//! on candle's autograd graph and for every position of a batch.
//!
//! Batches: sequences of different lengths are right-padded (with token 0) to the longest one
//! and run as one `[batch × length]` block of rows. Attention is causal, so a real position only
//! ever sees earlier real positions: padding changes none of a sequence's logits (beyond the
//! rounding of a differently shaped matrix product), and the padded positions' own logits are
//! never used by [`TrainableLlama::sequence_logprobs`]. Padding costs compute: batch sequences of
//! similar lengths.
//!
//! Threads: candle's f32 matrix products run on rayon's global pool (`RAYON_NUM_THREADS`
//! threads), its element-wise operations on candle's barrier pool (the caller and
//! `CANDLE_NUM_THREADS - 1` workers, which spin a while after each operation before sleeping).
//! With both at the core count a spinning worker can compete with the product's threads: on 2
//! cores a LoRA step on SmolLM2-135M once took 1.7× as long with `CANDLE_NUM_THREADS=2` as with
//! `CANDLE_NUM_THREADS=1` (benches/benches/finetune.rs); after the batch copies were removed,
//! the two settings measured the same in `arena finetune`. `arena finetune` trains with
//! `CANDLE_NUM_THREADS=1`; a process that also runs inference (an `arena evolve` of language
//! models) keeps candle's pool at the core count, which the quantized products of inference
//! need. A step is bound by the f32 products (about
//! 40 GFLOP/s on those 2 cores).

mod adamw;
pub(crate) mod adapter;
mod lora;
mod ops;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{D, DType, Device, Tensor, Var};

pub use adamw::{AdamW, AdamWConfig};
pub use adapter::{ADAPTER_FILE, AdapterTensor};
pub use lora::{LoraConfig, LoraTarget, format_targets, parse_targets};

use super::LlmError;
use super::gguf::GgufFile;
use super::model::{LlmConfig, read_matrix, read_vector};
use super::tokenizer::LlmTokenizer;
use lora::Adapter;
use ops::{CausalAttention, FrozenLinear, Rope, TargetLogProb};

/// What a [`TrainableLlama`] trains.
#[derive(Clone, Debug, PartialEq)]
pub enum TrainMode {
    /// LoRA adapters on the chosen projections; the base weights stay frozen.
    Lora(LoraConfig),
    /// Every weight: embedding, norms, projections and output.
    Full,
}

impl TrainMode {
    fn name(&self) -> &'static str {
        match self {
            TrainMode::Lora(_) => "lora",
            TrainMode::Full => "full",
        }
    }
}

/// A weight the model reads: a frozen constant or a trained variable.
#[derive(Clone, Debug)]
enum Weight {
    Frozen(Tensor),
    Trained(Var),
}

impl Weight {
    fn new(tensor: Tensor, trained: bool) -> Result<Self, candle_core::Error> {
        if trained { Var::from_tensor(&tensor).map(Weight::Trained) } else { Ok(Weight::Frozen(tensor)) }
    }

    fn tensor(&self) -> &Tensor {
        match self {
            Weight::Frozen(tensor) => tensor,
            Weight::Trained(var) => var.as_tensor(),
        }
    }
}

/// A projection `x Wᵀ`, with its adapter if it has one.
#[derive(Clone, Debug)]
struct Linear {
    /// `[out, in]`.
    weight: Weight,
    adapter: Option<Adapter>,
}

impl Linear {
    /// `x` is `[rows, in]`; the result `[rows, out]`.
    fn forward(&self, x: &Tensor) -> Result<Tensor, candle_core::Error> {
        let base = match &self.weight {
            Weight::Frozen(weight) => x.apply_op1(FrozenLinear::new(weight.clone()))?,
            Weight::Trained(weight) => x.matmul(&weight.as_tensor().t()?)?,
        };
        match &self.adapter {
            None => Ok(base),
            Some(adapter) => base + adapter.forward(x)?,
        }
    }
}

#[derive(Debug)]
struct Layer {
    attn_norm: Weight,
    /// q, k, v, o, gate, up, down: in [`LoraTarget::ALL`]'s order.
    projections: [Linear; 7],
    ffn_norm: Weight,
}

impl Layer {
    fn projection(&self, target: LoraTarget) -> &Linear {
        &self.projections[target as usize]
    }
}

/// A llama model whose forward pass is differentiable, for fine-tuning. See the module
/// documentation for batches and padding.
#[derive(Debug)]
pub struct TrainableLlama {
    path: PathBuf,
    config: LlmConfig,
    tokenizer: LlmTokenizer,
    mode: TrainMode,
    dtype: DType,
    embedding: Weight,
    layers: Vec<Layer>,
    output_norm: Weight,
    /// The output projection; the embedding itself when tied (the same variable in full mode).
    output: Linear,
    tied_output: bool,
    /// RoPE frequencies, `rope_dim / 2` of them, computed as the inference path computes them.
    rope_frequencies: Vec<f32>,
}

/// A checked, right-padded batch of token sequences.
struct Batch {
    /// `[size × length]`.
    ids: Tensor,
    size: usize,
    length: usize,
}

impl TrainableLlama {
    /// Loads the llama GGUF model at `path` for training in `mode`, its weights dequantized to
    /// `dtype` (`F32`; `F64` for precise gradient checks).
    pub fn load(path: impl AsRef<Path>, mode: TrainMode, dtype: DType) -> Result<Self, LlmError> {
        let path = path.as_ref();
        if !matches!(dtype, DType::F32 | DType::F64) {
            return Err(LlmError::Unsupported(format!("training in {dtype:?}: only f32 and f64 are supported")));
        }
        if let TrainMode::Lora(lora) = &mode {
            lora.validate()?;
        }
        let full = mode == TrainMode::Full;
        let mut file = GgufFile::open(path)?;
        let mut config = LlmConfig::from_metadata(file.metadata())?;
        let tokenizer = LlmTokenizer::from_metadata(file.metadata())?;
        let (hidden, q_dim, kv_dim, ffn) = (config.hidden, config.q_dim(), config.kv_dim(), config.ffn);

        let embedding = matrix(&mut file, "token_embd.weight", None, hidden, dtype)?;
        config.vocab_size = embedding.dims()[0];
        if tokenizer.vocab_size() > config.vocab_size {
            return Err(LlmError::tensor(
                path,
                "token_embd.weight",
                format!("{} rows for a vocabulary of {} tokens", config.vocab_size, tokenizer.vocab_size()),
            ));
        }
        let embedding = weight(path, "token_embd.weight", embedding, full)?;
        let mut layers = Vec::with_capacity(config.layers);
        for i in 0..config.layers {
            let mut projections = Vec::with_capacity(LoraTarget::ALL.len());
            for target in LoraTarget::ALL {
                let name = format!("blk.{i}.{}.weight", target.gguf_name());
                let (outputs, inputs) = match target {
                    LoraTarget::Q => (q_dim, hidden),
                    LoraTarget::K | LoraTarget::V => (kv_dim, hidden),
                    LoraTarget::O => (hidden, q_dim),
                    LoraTarget::Gate | LoraTarget::Up => (ffn, hidden),
                    LoraTarget::Down => (hidden, ffn),
                };
                let tensor = matrix(&mut file, &name, Some(outputs), inputs, dtype)?;
                let adapter = match &mode {
                    TrainMode::Lora(lora) if lora.adapts(target) => Some(
                        Adapter::new(&name, inputs, outputs, lora, dtype)
                            .map_err(|e| LlmError::tensor(path, &name, e))?,
                    ),
                    _ => None,
                };
                projections.push(Linear { weight: weight(path, &name, tensor, full)?, adapter });
            }
            let projections: [Linear; 7] = projections
                .try_into()
                .map_err(|_| LlmError::Compute("a block has the wrong number of projections".to_string()))?;
            let norm = |file: &mut GgufFile, part: &str| -> Result<Weight, LlmError> {
                let name = format!("blk.{i}.{part}.weight");
                let tensor = vector(file, &name, hidden, dtype)?;
                weight(path, &name, tensor, full)
            };
            layers.push(Layer {
                attn_norm: norm(&mut file, "attn_norm")?,
                projections,
                ffn_norm: norm(&mut file, "ffn_norm")?,
            });
        }
        let output_norm = vector(&mut file, "output_norm.weight", hidden, dtype)?;
        let output_norm = weight(path, "output_norm.weight", output_norm, full)?;
        let tied_output = !file.has_tensor("output.weight");
        let output = if tied_output {
            Linear { weight: embedding.clone(), adapter: None }
        } else {
            let tensor = matrix(&mut file, "output.weight", Some(config.vocab_size), hidden, dtype)?;
            Linear { weight: weight(path, "output.weight", tensor, full)?, adapter: None }
        };
        let half = config.rope_dim / 2;
        let rope_frequencies =
            (0..half).map(|i| 1.0 / config.rope_theta.powf((2 * i) as f32 / config.rope_dim as f32)).collect();
        Ok(TrainableLlama {
            path: path.to_path_buf(),
            config,
            tokenizer,
            mode,
            dtype,
            embedding,
            layers,
            output_norm,
            output,
            tied_output,
            rope_frequencies,
        })
    }

    /// The GGUF file the base weights came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn config(&self) -> &LlmConfig {
        &self.config
    }

    pub fn tokenizer(&self) -> &LlmTokenizer {
        &self.tokenizer
    }

    pub fn mode(&self) -> &TrainMode {
        &self.mode
    }

    /// The float type of the weights and of every result.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// The trained variables with their names, in a fixed order: in full mode every weight under
    /// its GGUF name (embedding, then block by block, then the output norm and output); in LoRA
    /// mode `blk.{i}.{projection}.weight.lora_a` and `.lora_b`, block by block. They share storage
    /// with the model: an optimizer step (`Var::set`) changes the model.
    pub fn trainable_vars(&self) -> Vec<(String, Var)> {
        let mut vars = Vec::new();
        let mut push = |name: String, weight: &Weight| {
            if let Weight::Trained(var) = weight {
                vars.push((name, var.clone()));
            }
        };
        push("token_embd.weight".to_string(), &self.embedding);
        for (i, layer) in self.layers.iter().enumerate() {
            push(format!("blk.{i}.attn_norm.weight"), &layer.attn_norm);
            push(format!("blk.{i}.ffn_norm.weight"), &layer.ffn_norm);
            for target in LoraTarget::ALL {
                push(format!("blk.{i}.{}.weight", target.gguf_name()), &layer.projection(target).weight);
            }
        }
        push("output_norm.weight".to_string(), &self.output_norm);
        if !self.tied_output {
            push("output.weight".to_string(), &self.output.weight);
        }
        for (i, layer) in self.layers.iter().enumerate() {
            for target in LoraTarget::ALL {
                if let Some(adapter) = &layer.projection(target).adapter {
                    let name = format!("blk.{i}.{}.weight", target.gguf_name());
                    vars.push((format!("{name}.lora_a"), adapter.a.clone()));
                    vars.push((format!("{name}.lora_b"), adapter.b.clone()));
                }
            }
        }
        vars
    }

    /// How many numbers training changes.
    pub fn trainable_parameters(&self) -> usize {
        self.trainable_vars().iter().map(|(_, var)| var.elem_count()).sum()
    }

    /// The logits after every position of every sequence: `[sequences, longest, vocab_size]`,
    /// right-padded (rows past a sequence's end are meaningless). On the autograd graph.
    pub fn forward<S: AsRef<[u32]>>(&self, sequences: &[S]) -> Result<Tensor, LlmError> {
        let batch = self.batch(sequences)?;
        let hidden = self.hidden_states(&batch)?;
        let logits = self.output.forward(&self.rms_norm(&hidden, &self.output_norm)?)?;
        Ok(logits.reshape((batch.size, batch.length, self.config.vocab_size))?)
    }

    /// Per sequence, the sum of the log-probabilities of its target tokens given the tokens
    /// before them: `[sequences]`, on the autograd graph. `targets[s][t]` marks token `t` of
    /// sequence `s` as a target (the model's prediction after position `t - 1`), so
    /// `targets[s][0]` must be false; `targets[s]` is as long as `sequences[s]`. The building
    /// block of SFT (targets: the assistant's tokens) and DPO. Only the positions that predict
    /// a target go through the output layer.
    pub fn sequence_logprobs<S: AsRef<[u32]>, M: AsRef<[bool]>>(
        &self,
        sequences: &[S],
        targets: &[M],
    ) -> Result<Tensor, LlmError> {
        let batch = self.batch(sequences)?;
        let picked = picked_targets(&batch, sequences, targets)?;
        let zeros = Tensor::zeros(batch.size, self.dtype, &Device::Cpu)?;
        if picked.rows.is_empty() {
            return Ok(zeros);
        }
        let logprobs = self.target_logprobs(&batch, &picked)?;
        let owners = Tensor::new(picked.owners.as_slice(), &Device::Cpu)?;
        Ok(zeros.index_add(&owners, &logprobs, 0)?)
    }

    /// The SFT loss: minus the mean log-probability of all target tokens of the batch (each
    /// target token weighs the same, whichever sequence it is in). A scalar on the autograd
    /// graph; an error if no token is a target.
    pub fn sft_loss<S: AsRef<[u32]>, M: AsRef<[bool]>>(
        &self,
        sequences: &[S],
        targets: &[M],
    ) -> Result<Tensor, LlmError> {
        let batch = self.batch(sequences)?;
        let picked = picked_targets(&batch, sequences, targets)?;
        if picked.rows.is_empty() {
            return Err(LlmError::BadRequest("the batch has no target tokens: nothing to learn".to_string()));
        }
        let logprobs = self.target_logprobs(&batch, &picked)?;
        Ok((logprobs.sum_all()?.neg()? / picked.rows.len() as f64)?)
    }

    /// Saves the trained tensors to `path` (conventionally [`ADAPTER_FILE`]; never overwriting a
    /// file) and returns their names and shapes. See the `adapter` module for the format.
    pub fn save_adapter(&self, path: impl AsRef<Path>) -> Result<Vec<AdapterTensor>, LlmError> {
        let mut header: HashMap<String, String> = self.adapter_header().into_iter().collect();
        let base = self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        header.insert("base".to_string(), base);
        header.insert("dtype".to_string(), format!("{:?}", self.dtype).to_lowercase());
        adapter::write(path.as_ref(), &self.trainable_vars(), header)
    }

    /// Loads trained tensors saved by [`TrainableLlama::save_adapter`] from a model of the same
    /// shape and mode (and, for LoRA, rank, alpha and targets), and returns their names and
    /// shapes. Checks everything before changing anything: on error the model is as it was.
    pub fn load_adapter(&self, path: impl AsRef<Path>) -> Result<Vec<AdapterTensor>, LlmError> {
        let path = path.as_ref();
        let vars = self.trainable_vars();
        let values = adapter::read(path, &vars, &self.adapter_header())?;
        for ((name, var), value) in vars.iter().zip(&values) {
            var.set(value).map_err(|e| LlmError::tensor(path, name, e))?;
        }
        Ok(vars.iter().map(|(name, var)| AdapterTensor { name: name.clone(), shape: var.dims().to_vec() }).collect())
    }

    /// The header keys an adapter file of this model must have, with their values.
    fn adapter_header(&self) -> Vec<(String, String)> {
        let mut header = vec![
            ("format".to_string(), adapter::FORMAT.to_string()),
            ("mode".to_string(), self.mode.name().to_string()),
        ];
        if let TrainMode::Lora(lora) = &self.mode {
            header.push(("rank".to_string(), lora.rank.to_string()));
            header.push(("alpha".to_string(), lora.alpha.to_string()));
            header.push(("targets".to_string(), format_targets(&lora.targets)));
        }
        header
    }

    /// Checks the sequences and pads them into one block of token ids.
    fn batch<S: AsRef<[u32]>>(&self, sequences: &[S]) -> Result<Batch, LlmError> {
        let bad = |message: String| Err(LlmError::BadRequest(message));
        if sequences.is_empty() {
            return bad("an empty batch".to_string());
        }
        let length = sequences.iter().map(|s| s.as_ref().len()).max().unwrap_or(0);
        let mut ids = Vec::with_capacity(sequences.len() * length);
        for (s, sequence) in sequences.iter().enumerate() {
            let sequence = sequence.as_ref();
            if sequence.is_empty() {
                return bad(format!("sequence {s} of the batch has no tokens"));
            }
            if sequence.len() > self.config.context {
                return Err(LlmError::PromptTooLong { prompt: sequence.len(), context: self.config.context });
            }
            if let Some(&token) = sequence.iter().find(|&&t| t as usize >= self.config.vocab_size) {
                return bad(format!(
                    "sequence {s}: token {token} is outside the vocabulary of {}",
                    self.config.vocab_size
                ));
            }
            ids.extend_from_slice(sequence);
            ids.resize((s + 1) * length, 0);
        }
        let size = sequences.len();
        Ok(Batch { ids: Tensor::from_vec(ids, size * length, &Device::Cpu)?, size, length })
    }

    /// The residual stream after the last block, `[size × length, hidden]` (before the output
    /// norm).
    fn hidden_states(&self, batch: &Batch) -> Result<Tensor, candle_core::Error> {
        let c = &self.config;
        let (b, t) = (batch.size, batch.length);
        let (heads, kv_heads, head_dim) = (c.heads, c.kv_heads, c.head_dim);
        let group = heads / kv_heads;
        let rope = Rope::new(&self.rope_frequencies, t, head_dim);
        let scale = 1.0 / (head_dim as f64).sqrt();
        let mut x = self.embedding.tensor().embedding(&batch.ids)?;
        for layer in &self.layers {
            let h = self.rms_norm(&x, &layer.attn_norm)?;
            let q = layer.projection(LoraTarget::Q).forward(&h)?.apply_op1(rope.clone())?;
            let k = layer.projection(LoraTarget::K).forward(&h)?.apply_op1(rope.clone())?;
            let v = layer.projection(LoraTarget::V).forward(&h)?;
            // Each key/value head serves `group` consecutive query heads: lay those heads' rows
            // one after another, `[b, kv_heads, group × t, head_dim]`, against `[b, kv_heads, t,
            // head_dim]` keys and values.
            let q = q.reshape((b, t, kv_heads, group, head_dim))?.permute((0, 2, 3, 1, 4))?.contiguous()?.reshape((
                b,
                kv_heads,
                group * t,
                head_dim,
            ))?;
            let k = k.reshape((b, t, kv_heads, head_dim))?.transpose(1, 2)?.contiguous()?;
            let v = v.reshape((b, t, kv_heads, head_dim))?.transpose(1, 2)?.contiguous()?;
            let attention = q.apply_op2(&k, CausalAttention::new(t, scale))?.matmul(&v)?;
            let attention = attention
                .reshape((b, kv_heads, group, t, head_dim))?
                .permute((0, 3, 1, 2, 4))?
                .reshape((b * t, heads * head_dim))?;
            x = (x + layer.projection(LoraTarget::O).forward(&attention)?)?;
            let h = self.rms_norm(&x, &layer.ffn_norm)?;
            let gate = layer.projection(LoraTarget::Gate).forward(&h)?;
            let up = layer.projection(LoraTarget::Up).forward(&h)?;
            x = (x + layer.projection(LoraTarget::Down).forward(&(gate.silu()? * up)?)?)?;
        }
        Ok(x)
    }

    /// `x / √(mean(x²) + eps) · weight`, row by row (`[rows, hidden]`).
    fn rms_norm(&self, x: &Tensor, weight: &Weight) -> Result<Tensor, candle_core::Error> {
        let mean = x.sqr()?.mean_keepdim(D::Minus1)?;
        let scale = (mean + self.config.rms_eps as f64)?.sqrt()?;
        x.broadcast_div(&scale)?.broadcast_mul(weight.tensor())
    }

    /// The log-probability of each picked target, `[targets]`.
    fn target_logprobs(&self, batch: &Batch, picked: &Picked) -> Result<Tensor, LlmError> {
        let hidden = self.hidden_states(batch)?;
        let rows = Tensor::new(picked.rows.as_slice(), &Device::Cpu)?;
        let hidden = self.rms_norm(&hidden.index_select(&rows, 0)?, &self.output_norm)?;
        let logits = self.output.forward(&hidden)?;
        Ok(logits.apply_op1(TargetLogProb::new(picked.tokens.clone()))?)
    }
}

/// The targets of a batch: for each, the row of the position that predicts it, the token, and
/// the sequence it belongs to.
struct Picked {
    rows: Vec<u32>,
    tokens: Vec<u32>,
    owners: Vec<u32>,
}

fn picked_targets<S: AsRef<[u32]>, M: AsRef<[bool]>>(
    batch: &Batch,
    sequences: &[S],
    targets: &[M],
) -> Result<Picked, LlmError> {
    let bad = |message: String| Err(LlmError::BadRequest(message));
    if targets.len() != sequences.len() {
        return bad(format!("{} target masks for {} sequences", targets.len(), sequences.len()));
    }
    let mut picked = Picked { rows: Vec::new(), tokens: Vec::new(), owners: Vec::new() };
    for (s, (sequence, mask)) in sequences.iter().zip(targets).enumerate() {
        let (sequence, mask) = (sequence.as_ref(), mask.as_ref());
        if mask.len() != sequence.len() {
            return bad(format!("sequence {s} has {} tokens and {} target flags", sequence.len(), mask.len()));
        }
        if mask.first() == Some(&true) {
            return bad(format!("sequence {s}: its first token cannot be a target (nothing before it predicts it)"));
        }
        for (t, (&token, &target)) in sequence.iter().zip(mask).enumerate() {
            if target {
                picked.rows.push((s * batch.length + t - 1) as u32);
                picked.tokens.push(token);
                picked.owners.push(s as u32);
            }
        }
    }
    Ok(picked)
}

fn matrix(file: &mut GgufFile, name: &str, rows: Option<usize>, cols: usize, dtype: DType) -> Result<Tensor, LlmError> {
    let tensor = read_matrix(file, name, rows, cols)?;
    tensor.dequantize(&Device::Cpu).and_then(|t| t.to_dtype(dtype)).map_err(|e| LlmError::tensor(&file.path, name, e))
}

fn vector(file: &mut GgufFile, name: &str, len: usize, dtype: DType) -> Result<Tensor, LlmError> {
    let values = read_vector(file, name, len)?;
    Tensor::from_vec(values, len, &Device::Cpu)
        .and_then(|t| t.to_dtype(dtype))
        .map_err(|e| LlmError::tensor(&file.path, name, e))
}

fn weight(path: &Path, name: &str, tensor: Tensor, trained: bool) -> Result<Weight, LlmError> {
    Weight::new(tensor, trained).map_err(|e| LlmError::tensor(path, name, e))
}
