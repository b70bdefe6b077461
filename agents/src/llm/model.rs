//! A llama-architecture model from a GGUF file and its forward pass over ragged batches: several
//! sequences, each bringing its new tokens (a whole prompt, or one token when decoding), share
//! every linear layer as one `[tokens, hidden]` matrix product, while RoPE and attention run per
//! sequence against that sequence's own [`KvCache`].
//!
//! The quantized matrix products quantize each activation row on its own and compute each output
//! from that row alone, and everything else here works row by row or sequence by sequence, so a
//! sequence's logits do not depend on what else is in the batch.
//!
//! Inside the crate a step may also continue a read-only *prefix* cache (a prompt that several
//! continuations share, run once) and ask for the logits after every new token rather than the
//! last only ([`Step`]); that is how candidate replies are scored (`score.rs`). A sequence with a
//! prefix computes exactly what it would with the prefix's positions copied into its own cache.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::quantized::{GgmlDType, QMatMul, QStorage, QTensor};
use candle_core::{Device, Module, Tensor};

use super::LlmError;
use super::gguf::{GgufFile, Metadata};
use super::q8::{self, Q8Matrix};
use super::tokenizer::LlmTokenizer;

/// The shape of a llama model, from its GGUF metadata.
#[derive(Clone, Debug, PartialEq)]
pub struct LlmConfig {
    pub architecture: String,
    /// Rows of the token embedding (the tokenizer's vocabulary may be smaller).
    pub vocab_size: usize,
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub ffn: usize,
    /// Leading dimensions of each head that RoPE rotates (interleaved pairs).
    pub rope_dim: usize,
    pub rope_theta: f32,
    pub rms_eps: f32,
    /// The most positions a sequence may hold (prompt and answer).
    pub context: usize,
}

impl LlmConfig {
    pub(crate) fn from_metadata(metadata: Metadata<'_>) -> Result<Self, LlmError> {
        let architecture = metadata.string("general.architecture")?.to_string();
        if architecture != "llama" {
            return Err(LlmError::Architecture { path: metadata.path.to_path_buf(), architecture });
        }
        let key = |name: &str| format!("{architecture}.{name}");
        let positive = |name: &str, value: usize| -> Result<usize, LlmError> {
            if value == 0 { Err(metadata.bad(&key(name), "must be positive")) } else { Ok(value) }
        };
        let hidden = positive("embedding_length", metadata.usize(&key("embedding_length"))?)?;
        let layers = positive("block_count", metadata.usize(&key("block_count"))?)?;
        let heads = positive("attention.head_count", metadata.usize(&key("attention.head_count"))?)?;
        let kv_heads = match metadata.opt_usize(&key("attention.head_count_kv"))? {
            Some(kv) => positive("attention.head_count_kv", kv)?,
            None => heads,
        };
        if !heads.is_multiple_of(kv_heads) {
            return Err(metadata.bad(
                &key("attention.head_count_kv"),
                format!("{heads} heads cannot share {kv_heads} key/value heads"),
            ));
        }
        let head_dim = match metadata.opt_usize(&key("attention.key_length"))? {
            Some(dim) => dim,
            None if hidden.is_multiple_of(heads) => hidden / heads,
            None => {
                return Err(metadata.bad(
                    &key("attention.head_count"),
                    format!("{heads} heads do not divide the embedding length {hidden}"),
                ));
            }
        };
        if head_dim == 0 || !head_dim.is_multiple_of(2) {
            return Err(metadata.bad(&key("attention.key_length"), format!("head size {head_dim} must be even")));
        }
        let ffn = positive("feed_forward_length", metadata.usize(&key("feed_forward_length"))?)?;
        let rope_dim = metadata.opt_usize(&key("rope.dimension_count"))?.unwrap_or(head_dim);
        if rope_dim > head_dim || !rope_dim.is_multiple_of(2) {
            return Err(metadata.bad(
                &key("rope.dimension_count"),
                format!("{rope_dim} must be even and at most the head size {head_dim}"),
            ));
        }
        let rope_theta = metadata.opt_f32(&key("rope.freq_base"))?.unwrap_or(10_000.0);
        let rms_eps = metadata.opt_f32(&key("attention.layer_norm_rms_epsilon"))?.unwrap_or(1e-5);
        if rope_theta <= 0.0 || rms_eps < 0.0 {
            return Err(metadata.bad(&key("rope.freq_base"), "rope base and norm epsilon must be positive"));
        }
        let context = positive("context_length", metadata.usize(&key("context_length"))?)?;
        Ok(LlmConfig {
            architecture,
            vocab_size: 0,
            hidden,
            layers,
            heads,
            kv_heads,
            head_dim,
            ffn,
            rope_dim,
            rope_theta,
            rms_eps,
            context,
        })
    }

    pub(crate) fn q_dim(&self) -> usize {
        self.heads * self.head_dim
    }

    pub(crate) fn kv_dim(&self) -> usize {
        self.kv_heads * self.head_dim
    }
}

/// A linear layer (or several sharing their input, fused into one product when their weights
/// have the same quantization) whose output is `[rows, total width]`, row-major.
#[derive(Debug)]
enum Projection {
    One(Linear),
    Split(Vec<(QMatMul, usize)>),
}

/// One weight matrix: our Q8_0 kernel where the CPU has it (see [`Q8Matrix`]), candle's
/// quantized product otherwise. Chosen once per model, so every batch takes the same path.
#[derive(Debug)]
enum Linear {
    Q8(Q8Matrix),
    Candle(QMatMul),
}

impl Linear {
    fn new(tensor: QTensor) -> Result<Self, candle_core::Error> {
        if let Some(q8) = Self::q8(&tensor)? {
            return Ok(Linear::Q8(q8));
        }
        Ok(Linear::Candle(QMatMul::from_qtensor(tensor)?))
    }

    fn from_arc(tensor: Arc<QTensor>) -> Result<Self, candle_core::Error> {
        if let Some(q8) = Self::q8(&tensor)? {
            return Ok(Linear::Q8(q8));
        }
        Ok(Linear::Candle(QMatMul::from_arc(tensor)?))
    }

    fn q8(tensor: &QTensor) -> Result<Option<Q8Matrix>, candle_core::Error> {
        if tensor.dtype() != GgmlDType::Q8_0 || !q8::available() {
            return Ok(None);
        }
        let Ok((n, k)) = tensor.shape().dims2() else { return Ok(None) };
        Ok(Q8Matrix::from_gguf_bytes(&tensor.data()?, n, k))
    }

    /// `input` (`[rows, k]`) times the weight transposed.
    fn forward(&self, input: Vec<f32>, rows: usize, k: usize) -> Result<Vec<f32>, candle_core::Error> {
        match self {
            Linear::Q8(weight) => Ok(weight.forward(&input, rows)),
            Linear::Candle(weight) => {
                let x = Tensor::from_vec(input, (rows, k), &Device::Cpu)?;
                weight.forward(&x)?.flatten_all()?.to_vec1::<f32>()
            }
        }
    }
}

impl Projection {
    /// Fuses `parts` (weights `[width_i, k]`) by stacking their rows, which changes no output
    /// value: each output is the dot product of one weight row with the input row.
    fn new(parts: Vec<QTensor>) -> Result<Self, candle_core::Error> {
        let dtype = parts.first().map(QTensor::dtype);
        let fusable = parts.iter().all(|p| {
            Some(p.dtype()) == dtype
                && p.shape().dims2().is_ok_and(|(_, k)| k.is_multiple_of(p.dtype().block_size()))
                && !matches!(p.dtype(), GgmlDType::F32 | GgmlDType::F16 | GgmlDType::BF16)
        });
        match (fusable, dtype) {
            (true, Some(dtype)) if parts.len() > 1 => {
                let k = parts[0].shape().dims2()?.1;
                let rows: usize = parts.iter().map(|p| p.shape().dims()[0]).sum();
                let mut data = Vec::new();
                for part in &parts {
                    data.extend_from_slice(&part.data()?);
                }
                let storage = QStorage::from_data(std::borrow::Cow::Owned(data), &Device::Cpu, dtype)?;
                Ok(Projection::One(Linear::new(QTensor::new(storage, (rows, k))?)?))
            }
            _ if parts.len() == 1 => {
                let part = parts.into_iter().next().ok_or_else(|| candle_core::Error::Msg("no weights".into()))?;
                Ok(Projection::One(Linear::new(part)?))
            }
            _ => parts
                .into_iter()
                .map(|p| {
                    let width = p.shape().dims()[0];
                    Ok((QMatMul::from_qtensor(p)?, width))
                })
                .collect::<Result<Vec<_>, candle_core::Error>>()
                .map(Projection::Split),
        }
    }

    fn forward(&self, input: Vec<f32>, rows: usize, k: usize) -> Result<Vec<f32>, candle_core::Error> {
        match self {
            Projection::One(weight) => weight.forward(input, rows, k),
            Projection::Split(parts) => {
                let x = Tensor::from_vec(input, (rows, k), &Device::Cpu)?;
                let outputs = parts
                    .iter()
                    .map(|(w, _)| w.forward(&x)?.flatten_all()?.to_vec1::<f32>())
                    .collect::<Result<Vec<_>, _>>()?;
                let total: usize = parts.iter().map(|(_, width)| width).sum();
                let mut out = Vec::with_capacity(rows * total);
                for row in 0..rows {
                    for (output, (_, width)) in outputs.iter().zip(parts) {
                        out.extend_from_slice(&output[row * width..(row + 1) * width]);
                    }
                }
                Ok(out)
            }
        }
    }
}

/// Where token embeddings are looked up.
#[derive(Debug)]
enum TokenEmbedding {
    /// The file's `token_embd.weight`, as stored.
    Table(Arc<QTensor>),
    /// The rows of the tied output projection (the same weights, kept once).
    OutputRows,
}

#[derive(Debug)]
struct Layer {
    attn_norm: Vec<f32>,
    /// Queries, keys and values: `[q_dim + 2 kv_dim]` per row.
    qkv: Projection,
    attn_output: Linear,
    ffn_norm: Vec<f32>,
    /// Gate and up projections: `[2 ffn]` per row.
    gate_up: Projection,
    down: Linear,
}

/// Keys and values of the positions a sequence has seen, per layer, `[position][kv_heads][head]`
/// (keys already rotated). Made by [`LlmModel::new_cache`].
#[derive(Clone, Debug)]
pub struct KvCache {
    len: usize,
    kv_dim: usize,
    keys: Vec<Vec<f32>>,
    values: Vec<Vec<f32>>,
}

impl KvCache {
    /// Positions held.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Forgets everything, keeping the memory for the next sequence.
    pub fn clear(&mut self) {
        self.truncate(0);
    }

    /// Keeps the first `len` positions (a shared prompt prefix, say).
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
        for (keys, values) in self.keys.iter_mut().zip(&mut self.values) {
            keys.truncate(self.len * self.kv_dim);
            values.truncate(self.len * self.kv_dim);
        }
    }

    /// A new cache holding a copy of this one's first `len` positions (at most all of them), with
    /// room for `room` positions more.
    pub fn copy_prefix(&self, len: usize, room: usize) -> KvCache {
        let len = len.min(self.len);
        let copy = |parts: &[Vec<f32>]| -> Vec<Vec<f32>> {
            parts
                .iter()
                .map(|part| {
                    let mut kept = Vec::with_capacity((len + room) * self.kv_dim);
                    kept.extend_from_slice(&part[..len * self.kv_dim]);
                    kept
                })
                .collect()
        };
        KvCache { len, kv_dim: self.kv_dim, keys: copy(&self.keys), values: copy(&self.values) }
    }

    /// Bytes the positions held take.
    pub fn bytes(&self) -> usize {
        self.len * self.kv_dim * 2 * self.keys.len() * std::mem::size_of::<f32>()
    }

    /// Makes room for `positions` more positions without reallocating.
    pub fn reserve(&mut self, positions: usize) {
        for (keys, values) in self.keys.iter_mut().zip(&mut self.values) {
            keys.reserve(positions * self.kv_dim);
            values.reserve(positions * self.kv_dim);
        }
    }
}

/// One sequence's part of a forward step: its cache and the tokens that follow it.
#[derive(Debug)]
pub struct SeqStep<'a> {
    pub cache: &'a mut KvCache,
    pub tokens: &'a [u32],
}

/// One sequence's part of a forward step, in full: a [`SeqStep`], plus the read-only cache of a
/// prefix that comes before `cache`'s positions (a shared prompt: `cache` then holds only this
/// sequence's own positions after it) and whether the step returns the logits after every one of
/// `tokens` (`every_row`) or after the last only.
#[derive(Debug)]
pub(crate) struct Step<'a> {
    pub cache: &'a mut KvCache,
    pub tokens: &'a [u32],
    pub prefix: Option<&'a KvCache>,
    pub every_row: bool,
}

impl<'a> From<SeqStep<'a>> for Step<'a> {
    fn from(step: SeqStep<'a>) -> Self {
        Step { cache: step.cache, tokens: step.tokens, prefix: None, every_row: false }
    }
}

impl Step<'_> {
    /// Positions before this step's tokens: the prefix's and the sequence's own.
    fn start(&self) -> usize {
        self.prefix.map_or(0, |p| p.len) + self.cache.len
    }

    /// Rows of logits this step returns.
    pub fn output_rows(&self) -> usize {
        if self.every_row { self.tokens.len() } else { 1 }
    }
}

/// A loaded llama model: weights, tokenizer and shape. Immutable, so one model serves any number
/// of threads and sequences.
#[derive(Debug)]
pub struct LlmModel {
    path: PathBuf,
    config: LlmConfig,
    tokenizer: LlmTokenizer,
    embedding: TokenEmbedding,
    layers: Vec<Layer>,
    output_norm: Vec<f32>,
    output: Linear,
    weight_type: GgmlDType,
}

impl LlmModel {
    /// Loads a llama GGUF model (weights stay quantized as stored).
    pub fn load(path: impl AsRef<Path>) -> Result<Arc<LlmModel>, LlmError> {
        LlmModel::from_file(GgufFile::open(path.as_ref())?)
    }

    /// Loads the model of an open GGUF file (whose tensors may be replaced in memory).
    pub(crate) fn from_file(mut file: GgufFile) -> Result<Arc<LlmModel>, LlmError> {
        let path = file.path.clone();
        let path = path.as_path();
        let mut config = LlmConfig::from_metadata(file.metadata())?;
        let tokenizer = LlmTokenizer::from_metadata(file.metadata())?;
        let (hidden, q_dim, kv_dim, ffn) = (config.hidden, config.q_dim(), config.kv_dim(), config.ffn);

        let embedding = read_matrix(&mut file, "token_embd.weight", None, hidden)?;
        config.vocab_size = embedding.shape().dims()[0];
        if tokenizer.vocab_size() > config.vocab_size {
            return Err(LlmError::tensor(
                path,
                "token_embd.weight",
                format!("{} rows for a vocabulary of {} tokens", config.vocab_size, tokenizer.vocab_size()),
            ));
        }
        let weight_type = file
            .content
            .tensor_infos
            .get("blk.0.ffn_down.weight")
            .map(|info| info.ggml_dtype)
            .unwrap_or(embedding.dtype());
        let mut layers = Vec::with_capacity(config.layers);
        for i in 0..config.layers {
            let name = |part: &str| format!("blk.{i}.{part}.weight");
            let qkv = vec![
                read_matrix(&mut file, &name("attn_q"), Some(q_dim), hidden)?,
                read_matrix(&mut file, &name("attn_k"), Some(kv_dim), hidden)?,
                read_matrix(&mut file, &name("attn_v"), Some(kv_dim), hidden)?,
            ];
            let gate_up = vec![
                read_matrix(&mut file, &name("ffn_gate"), Some(ffn), hidden)?,
                read_matrix(&mut file, &name("ffn_up"), Some(ffn), hidden)?,
            ];
            let attn_output = read_matrix(&mut file, &name("attn_output"), Some(hidden), q_dim)?;
            let down = read_matrix(&mut file, &name("ffn_down"), Some(hidden), ffn)?;
            layers.push(Layer {
                attn_norm: read_vector(&mut file, &name("attn_norm"), hidden)?,
                qkv: Projection::new(qkv).map_err(|e| LlmError::tensor(path, &name("attn_q"), e))?,
                attn_output: qmatmul(path, &name("attn_output"), attn_output)?,
                ffn_norm: read_vector(&mut file, &name("ffn_norm"), hidden)?,
                gate_up: Projection::new(gate_up).map_err(|e| LlmError::tensor(path, &name("ffn_gate"), e))?,
                down: qmatmul(path, &name("ffn_down"), down)?,
            });
        }
        let output_norm = read_vector(&mut file, "output_norm.weight", hidden)?;
        let embedding = Arc::new(embedding);
        let (embedding, output) = if file.has_tensor("output.weight") {
            let output = read_matrix(&mut file, "output.weight", Some(config.vocab_size), hidden)?;
            (TokenEmbedding::Table(embedding), qmatmul(path, "output.weight", output)?)
        } else {
            let output =
                Linear::from_arc(embedding.clone()).map_err(|e| LlmError::tensor(path, "token_embd.weight", e))?;
            // Tied: where the output projection made its own copy of the weights (our Q8_0
            // layout), tokens are looked up in that copy and the file's one is dropped.
            match output {
                Linear::Q8(_) => (TokenEmbedding::OutputRows, output),
                Linear::Candle(_) => (TokenEmbedding::Table(embedding), output),
            }
        };
        Ok(Arc::new(LlmModel {
            path: path.to_path_buf(),
            config,
            tokenizer,
            embedding,
            layers,
            output_norm,
            output,
            weight_type,
        }))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn config(&self) -> &LlmConfig {
        &self.config
    }

    pub fn tokenizer(&self) -> &LlmTokenizer {
        &self.tokenizer
    }

    /// Whether the token embedding is held apart from the output projection (untied weights, or
    /// tied weights that the output projection reads in place).
    #[cfg(test)]
    pub(crate) fn holds_embedding_apart(&self) -> bool {
        matches!(self.embedding, TokenEmbedding::Table(_))
    }

    /// A suggestion to convert the file, where its weights have a format that runs here at a
    /// fraction of Q8_0's speed (Q4_1 as SmolLM2 ships: about a quarter, see the README).
    pub fn conversion_note(&self) -> Option<String> {
        let fast = matches!(self.weight_type, GgmlDType::Q8_0 | GgmlDType::F32 | GgmlDType::F16 | GgmlDType::BF16);
        (!fast).then(|| {
            format!(
                "{} has {:?} weights, which run here at a fraction of Q8_0's speed; \
                 `arena convert-model --to q8_0 {} OUT.gguf` writes a faster copy",
                self.path.display(),
                self.weight_type,
                self.path.display()
            )
        })
    }

    /// The quantization of the feed-forward weights (`Q8_0`, `Q4_1`, ...), for reports.
    pub fn weight_type(&self) -> String {
        format!("{:?}", self.weight_type)
    }

    /// An empty cache for one sequence of this model.
    pub fn new_cache(&self) -> KvCache {
        KvCache {
            len: 0,
            kv_dim: self.config.kv_dim(),
            keys: vec![Vec::new(); self.config.layers],
            values: vec![Vec::new(); self.config.layers],
        }
    }

    /// Runs one step for every sequence in `seqs`: appends its tokens to its cache and returns
    /// the logits after its last token, `[seqs.len(), vocab_size]` row-major. On error the
    /// caches are left as they were.
    pub fn forward(&self, seqs: &mut [SeqStep<'_>]) -> Result<Vec<f32>, LlmError> {
        let mut steps: Vec<Step<'_>> = seqs
            .iter_mut()
            .map(|s| Step { cache: &mut *s.cache, tokens: s.tokens, prefix: None, every_row: false })
            .collect();
        self.forward_steps(&mut steps)
    }

    /// [`LlmModel::forward`] over [`Step`]s: appends each step's tokens to its own cache (after
    /// its prefix, if any) and returns, step after step, [`Step::output_rows`] rows of logits
    /// (`vocab_size` each). On error the caches are left as they were.
    pub(crate) fn forward_steps(&self, steps: &mut [Step<'_>]) -> Result<Vec<f32>, LlmError> {
        for step in steps.iter() {
            self.check(step)?;
        }
        let starts: Vec<usize> = steps.iter().map(|s| s.cache.len).collect();
        let result = self.forward_unchecked(steps);
        match result {
            Ok(logits) => {
                for step in steps.iter_mut() {
                    step.cache.len += step.tokens.len();
                }
                Ok(logits)
            }
            Err(error) => {
                for (step, &start) in steps.iter_mut().zip(&starts) {
                    step.cache.len = start;
                    step.cache.truncate(start);
                }
                Err(error)
            }
        }
    }

    /// Whether `cache` was made by this model (or one of the same shape).
    fn fits(&self, cache: &KvCache) -> bool {
        cache.kv_dim == self.config.kv_dim() && cache.keys.len() == self.config.layers
    }

    fn check(&self, step: &Step<'_>) -> Result<(), LlmError> {
        if !self.fits(step.cache) || step.prefix.is_some_and(|p| !self.fits(p)) {
            return Err(LlmError::BadRequest("the KV cache belongs to another model".to_string()));
        }
        if step.tokens.is_empty() {
            return Err(LlmError::BadRequest("a sequence in the step has no tokens".to_string()));
        }
        if let Some(&bad) = step.tokens.iter().find(|&&t| t as usize >= self.config.vocab_size) {
            return Err(LlmError::BadRequest(format!(
                "token {bad} is outside the vocabulary of {}",
                self.config.vocab_size
            )));
        }
        let end = step.start() + step.tokens.len();
        if end > self.config.context {
            return Err(LlmError::PromptTooLong { prompt: end, context: self.config.context });
        }
        Ok(())
    }

    fn forward_unchecked(&self, steps: &mut [Step<'_>]) -> Result<Vec<f32>, LlmError> {
        let c = &self.config;
        let (hidden, q_dim) = (c.hidden, c.q_dim());
        let ids: Vec<u32> = steps.iter().flat_map(|s| s.tokens.iter().copied()).collect();
        let rows = ids.len();
        let positions: Vec<usize> = steps
            .iter()
            .flat_map(|s| {
                let start = s.start();
                start..start + s.tokens.len()
            })
            .collect();
        let rope = RopeTable::new(c, &positions);
        let mut x: Vec<f32> = match (&self.embedding, &self.output) {
            (TokenEmbedding::OutputRows, Linear::Q8(table)) => table.rows(&ids),
            (TokenEmbedding::Table(table), _) => {
                let ids = Tensor::from_vec(ids, rows, &Device::Cpu)?;
                table.embedding(&ids)?.flatten_all()?.to_vec1()?
            }
            (TokenEmbedding::OutputRows, Linear::Candle(_)) => {
                return Err(LlmError::Compute("the token embedding was dropped without a copy to read".into()));
            }
        };
        let attention = Attention::new(c);
        for (l, layer) in self.layers.iter().enumerate() {
            let h = rms_norm(&x, &layer.attn_norm, c.rms_eps);
            let mut qkv = layer.qkv.forward(h, rows, hidden)?;
            let attn = attention.run(l, steps, &mut qkv, &rope);
            add_assign(&mut x, &layer.attn_output.forward(attn, rows, q_dim)?);
            let h = rms_norm(&x, &layer.ffn_norm, c.rms_eps);
            let gate_up = layer.gate_up.forward(h, rows, hidden)?;
            let act = swiglu(&gate_up, c.ffn);
            add_assign(&mut x, &layer.down.forward(act, rows, c.ffn)?);
        }
        // Logits for each sequence's last position, or for all its positions if it asks.
        let out_rows: usize = steps.iter().map(Step::output_rows).sum();
        let mut last = Vec::with_capacity(out_rows * hidden);
        let mut end = 0;
        for step in steps.iter() {
            end += step.tokens.len();
            let first = end - step.output_rows();
            last.extend_from_slice(&x[first * hidden..end * hidden]);
        }
        let last = rms_norm(&last, &self.output_norm, c.rms_eps);
        Ok(self.output.forward(last, out_rows, hidden)?)
    }
}

pub(crate) fn read_matrix(
    file: &mut GgufFile,
    name: &str,
    rows: Option<usize>,
    cols: usize,
) -> Result<QTensor, LlmError> {
    let tensor = file.tensor(name)?;
    match tensor.shape().dims2() {
        Ok((r, k)) if k == cols && rows.is_none_or(|rows| rows == r) => Ok(tensor),
        _ => Err(LlmError::tensor(
            &file.path,
            name,
            format!(
                "shape {:?}, expected [{}, {cols}]",
                tensor.shape().dims(),
                rows.map_or("rows".to_string(), |r| r.to_string())
            ),
        )),
    }
}

pub(crate) fn read_vector(file: &mut GgufFile, name: &str, len: usize) -> Result<Vec<f32>, LlmError> {
    let tensor = file.tensor(name)?;
    if tensor.shape().dims() != [len] {
        return Err(LlmError::tensor(&file.path, name, format!("shape {:?}, expected [{len}]", tensor.shape().dims())));
    }
    tensor.dequantize(&Device::Cpu).and_then(|t| t.to_vec1::<f32>()).map_err(|e| LlmError::tensor(&file.path, name, e))
}

fn qmatmul(path: &Path, name: &str, tensor: QTensor) -> Result<Linear, LlmError> {
    Linear::new(tensor).map_err(|e| LlmError::tensor(path, name, e))
}

/// `x / rms(x) * weight`, row by row.
fn rms_norm(x: &[f32], weight: &[f32], eps: f32) -> Vec<f32> {
    let dim = weight.len();
    let mut out = Vec::with_capacity(x.len());
    for row in x.chunks_exact(dim) {
        let mean = row.iter().map(|v| v * v).sum::<f32>() / dim as f32;
        let scale = 1.0 / (mean + eps).sqrt();
        out.extend(row.iter().zip(weight).map(|(v, w)| v * scale * w));
    }
    out
}

fn add_assign(x: &mut [f32], y: &[f32]) {
    for (a, b) in x.iter_mut().zip(y) {
        *a += b;
    }
}

/// `silu(gate) * up` from rows of `[gate (ffn), up (ffn)]`.
fn swiglu(gate_up: &[f32], ffn: usize) -> Vec<f32> {
    let mut out = vec![0.0; gate_up.len() / 2];
    for (row, out) in gate_up.chunks_exact(2 * ffn).zip(out.chunks_exact_mut(ffn)) {
        let (gate, up) = row.split_at(ffn);
        super::simd::silu_mul(gate, up, out);
    }
    out
}

/// Cosines and sines of each row's position, `[rows, rope_dim / 2]`.
struct RopeTable {
    cos: Vec<f32>,
    sin: Vec<f32>,
    half: usize,
}

impl RopeTable {
    fn new(c: &LlmConfig, positions: &[usize]) -> Self {
        let half = c.rope_dim / 2;
        let freqs: Vec<f32> = (0..half).map(|i| 1.0 / c.rope_theta.powf((2 * i) as f32 / c.rope_dim as f32)).collect();
        let (mut cos, mut sin) =
            (Vec::with_capacity(positions.len() * half), Vec::with_capacity(positions.len() * half));
        for &position in positions {
            for &freq in &freqs {
                let angle = position as f32 * freq;
                cos.push(angle.cos());
                sin.push(angle.sin());
            }
        }
        RopeTable { cos, sin, half }
    }

    /// Rotates the interleaved pairs `(2i, 2i + 1)` of each head in `x` (GGUF llama layout).
    fn apply(&self, row: usize, x: &mut [f32], head_dim: usize) {
        let cos = &self.cos[row * self.half..(row + 1) * self.half];
        let sin = &self.sin[row * self.half..(row + 1) * self.half];
        for head in x.chunks_exact_mut(head_dim) {
            for (pair, (c, s)) in head.chunks_exact_mut(2).zip(cos.iter().zip(sin)) {
                let (a, b) = (pair[0], pair[1]);
                pair[0] = a * c - b * s;
                pair[1] = a * s + b * c;
            }
        }
    }
}

/// Causal self-attention of each sequence's new rows against its cache.
struct Attention {
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    q_dim: usize,
    kv_dim: usize,
    scale: f32,
}

/// What one row of a step attends to: the prefix's keys and values, then its sequence's own.
struct RowKeys<'a> {
    prefix_keys: &'a [f32],
    prefix_values: &'a [f32],
    keys: &'a [f32],
    values: &'a [f32],
    /// The sequence's own positions this row sees (its earlier ones and itself).
    visible: usize,
}

thread_local! {
    /// Attention scores of one (row, head), reused by each thread of the pool.
    static SCORES: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl Attention {
    fn new(c: &LlmConfig) -> Self {
        Attention {
            heads: c.heads,
            kv_heads: c.kv_heads,
            head_dim: c.head_dim,
            q_dim: c.q_dim(),
            kv_dim: c.kv_dim(),
            scale: 1.0 / (c.head_dim as f32).sqrt(),
        }
    }

    /// Rotates queries and keys in `qkv` (`[rows, q_dim + 2 kv_dim]`), appends keys and values to
    /// layer `layer` of each sequence's cache and returns the attention output `[rows, q_dim]`.
    /// A sequence with a prefix attends to the prefix's positions first, then to its own, in the
    /// order (and with the arithmetic) of one cache holding both. Each (row, head) is computed
    /// alone, in a fixed order, whichever pool thread takes it.
    fn run(&self, layer: usize, seqs: &mut [Step<'_>], qkv: &mut [f32], rope: &RopeTable) -> Vec<f32> {
        let (q_dim, kv_dim, hd) = (self.q_dim, self.kv_dim, self.head_dim);
        let width = q_dim + 2 * kv_dim;
        let mut row = 0;
        for seq in seqs.iter_mut() {
            let start = seq.cache.len;
            let (keys, values) = (&mut seq.cache.keys[layer], &mut seq.cache.values[layer]);
            keys.truncate(start * kv_dim);
            values.truncate(start * kv_dim);
            for j in 0..seq.tokens.len() {
                let line = &mut qkv[(row + j) * width..(row + j + 1) * width];
                let (q, kv) = line.split_at_mut(q_dim);
                let (k, v) = kv.split_at_mut(kv_dim);
                rope.apply(row + j, q, hd);
                rope.apply(row + j, k, hd);
                keys.extend_from_slice(k);
                values.extend_from_slice(v);
            }
            row += seq.tokens.len();
        }
        let rows: Vec<RowKeys<'_>> = seqs
            .iter()
            .flat_map(|seq| {
                let (prefix_keys, prefix_values): (&[f32], &[f32]) = match seq.prefix {
                    Some(prefix) => {
                        let held = prefix.len * kv_dim;
                        (&prefix.keys[layer][..held], &prefix.values[layer][..held])
                    }
                    None => (&[], &[]),
                };
                let (keys, values) = (&seq.cache.keys[layer][..], &seq.cache.values[layer][..]);
                (0..seq.tokens.len()).map(move |j| RowKeys {
                    prefix_keys,
                    prefix_values,
                    keys,
                    values,
                    visible: seq.cache.len + j + 1,
                })
            })
            .collect();
        let mut out = vec![0.0; rows.len() * q_dim];
        let qkv = &*qkv;
        let group = self.heads / self.kv_heads;
        super::pool::for_each_chunk_mut(&mut out, hd, |item, o| {
            let (row, h) = (item / self.heads, item % self.heads);
            let q = &qkv[row * width + h * hd..row * width + (h + 1) * hd];
            let keys = &rows[row];
            let prefix_len = keys.prefix_keys.len() / kv_dim;
            let segments = [
                super::simd::Segment { keys: keys.prefix_keys, values: keys.prefix_values, positions: prefix_len },
                super::simd::Segment { keys: keys.keys, values: keys.values, positions: keys.visible },
            ];
            let layout = super::simd::KvLayout { stride: kv_dim, offset: (h / group) * hd };
            SCORES.with_borrow_mut(|scores| super::simd::attend(q, &segments, layout, self.scale, scores, o));
        });
        out
    }
}
