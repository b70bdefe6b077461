//! Differentiable operations the trainable model needs that candle lacks or computes wastefully:
//! a product with a frozen weight (the gradient flows to the input only), interleaved RoPE with
//! its backward pass (the inverse rotation), causal attention weights (the scaled, masked
//! softmax of `q kᵀ` in one node, keeping one `t × t` block per head instead of six), and the
//! log-probability of given target tokens (a fused log-softmax and gather, whose backward pass is
//! `one-hot - softmax`).
//!
//! Each works on f32 and f64 CPU tensors (f64 for the finite-difference gradient checks).

use std::sync::Arc;

use rayon::prelude::*;

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp1, CustomOp2, DType, Device, Layout, Result, Shape, Tensor, WithDType, bail};

/// The float types the operations accept.
trait Real: WithDType {
    fn exp(self) -> Self;
    fn to_storage(data: Vec<Self>) -> CpuStorage;
}

impl Real for f32 {
    fn exp(self) -> Self {
        f32::exp(self)
    }

    fn to_storage(data: Vec<Self>) -> CpuStorage {
        CpuStorage::F32(data)
    }
}

impl Real for f64 {
    fn exp(self) -> Self {
        f64::exp(self)
    }

    fn to_storage(data: Vec<Self>) -> CpuStorage {
        CpuStorage::F64(data)
    }
}

/// The contiguous part of `data` that `layout` describes.
fn contiguous<'a, T>(data: &'a [T], layout: &Layout, op: &str) -> Result<&'a [T]> {
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => bail!("{op}: the input must be contiguous"),
    }
}

/// `x` (`[rows, in]`) times a frozen weight (`[out, in]`) transposed. Candle's own product would
/// also compute the gradient of the weight on the way back — as much work as the product
/// itself, and thrown away for a frozen weight; this one computes only the input's gradient,
/// `grad · weight`.
#[derive(Debug)]
pub(super) struct FrozenLinear {
    weight: Tensor,
}

impl FrozenLinear {
    pub fn new(weight: Tensor) -> Self {
        FrozenLinear { weight }
    }
}

impl CustomOp1 for FrozenLinear {
    fn name(&self) -> &'static str {
        "frozen-linear"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (rows, k) = layout.shape().dims2()?;
        let x = match storage {
            CpuStorage::F32(data) => {
                Tensor::from_slice(contiguous(data, layout, self.name())?, (rows, k), &Device::Cpu)?
            }
            CpuStorage::F64(data) => {
                Tensor::from_slice(contiguous(data, layout, self.name())?, (rows, k), &Device::Cpu)?
            }
            other => bail!("{}: f32 or f64 input expected, found {:?}", self.name(), other.dtype()),
        };
        let y = x.matmul(&self.weight.t()?)?;
        let shape = y.shape().clone();
        let y = y.flatten_all()?;
        let storage = match y.dtype() {
            DType::F32 => CpuStorage::F32(y.to_vec1()?),
            _ => CpuStorage::F64(y.to_vec1()?),
        };
        Ok((storage, shape))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(grad.matmul(&self.weight)?))
    }
}

/// Rotary position embedding on rows of heads (`[batch × seq_len, heads × head_dim]`, the row
/// `r` at position `r % seq_len`): the interleaved pairs `(2i, 2i + 1)` of each head's first
/// `2 × half` dimensions are rotated by `position × frequency_i`, with the same f32 cosines and
/// sines and the same arithmetic as the inference path (`model.rs`). Its backward pass is the
/// inverse rotation.
#[derive(Clone, Debug)]
pub(super) struct Rope {
    /// `[seq_len, half]` each.
    cos: Arc<Vec<f32>>,
    sin: Arc<Vec<f32>>,
    seq_len: usize,
    head_dim: usize,
    half: usize,
    inverse: bool,
}

impl Rope {
    /// The table for positions `0..seq_len` of a model with these RoPE frequencies.
    pub fn new(frequencies: &[f32], seq_len: usize, head_dim: usize) -> Self {
        let half = frequencies.len();
        let (mut cos, mut sin) = (Vec::with_capacity(seq_len * half), Vec::with_capacity(seq_len * half));
        for position in 0..seq_len {
            for &frequency in frequencies {
                let angle = position as f32 * frequency;
                cos.push(angle.cos());
                sin.push(angle.sin());
            }
        }
        Rope { cos: Arc::new(cos), sin: Arc::new(sin), seq_len, head_dim, half, inverse: false }
    }

    fn rotate<T: Real>(&self, x: &[T], width: usize) -> Vec<T> {
        let mut out = x.to_vec();
        let half = self.half;
        for (row, line) in out.chunks_exact_mut(width).enumerate() {
            let position = row % self.seq_len;
            let cos = &self.cos[position * half..(position + 1) * half];
            let sin = &self.sin[position * half..(position + 1) * half];
            for head in line.chunks_exact_mut(self.head_dim) {
                for (pair, (&c, &s)) in head.chunks_exact_mut(2).zip(cos.iter().zip(sin)) {
                    let c = T::from_f64(c as f64);
                    let s = T::from_f64(if self.inverse { -s } else { s } as f64);
                    let (a, b) = (pair[0], pair[1]);
                    pair[0] = a * c - b * s;
                    pair[1] = a * s + b * c;
                }
            }
        }
        out
    }
}

impl CustomOp1 for Rope {
    fn name(&self) -> &'static str {
        "rope-interleaved"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (rows, width) = layout.shape().dims2()?;
        if !width.is_multiple_of(self.head_dim) || !rows.is_multiple_of(self.seq_len) {
            bail!("{}: shape [{rows}, {width}] is not rows of {}-wide heads", self.name(), self.head_dim);
        }
        let storage = match storage {
            CpuStorage::F32(data) => f32::to_storage(self.rotate(contiguous(data, layout, self.name())?, width)),
            CpuStorage::F64(data) => f64::to_storage(self.rotate(contiguous(data, layout, self.name())?, width)),
            other => bail!("{}: f32 or f64 input expected, found {:?}", self.name(), other.dtype()),
        };
        Ok((storage, layout.shape().clone()))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let inverse = Rope { inverse: !self.inverse, ..self.clone() };
        Ok(Some(grad.contiguous()?.apply_op1(inverse)?))
    }
}

/// The log-probability of one target token per row of logits (`[rows, vocab]` to `[rows]`):
/// `logit[target] - max - ln Σ exp(logit - max)`, the sum accumulated in f64. The backward pass
/// gives row `r` the gradient `grad[r] × (one-hot(target) - softmax(logits))`.
#[derive(Clone, Debug)]
pub(super) struct TargetLogProb {
    targets: Arc<Vec<u32>>,
}

impl TargetLogProb {
    pub fn new(targets: Vec<u32>) -> Self {
        TargetLogProb { targets: Arc::new(targets) }
    }

    fn check(&self, rows: usize, vocab: usize) -> Result<()> {
        if rows != self.targets.len() {
            bail!("target-log-prob: {rows} rows of logits for {} targets", self.targets.len());
        }
        if let Some(&bad) = self.targets.iter().find(|&&t| t as usize >= vocab) {
            bail!("target-log-prob: target {bad} is outside the vocabulary of {vocab}");
        }
        Ok(())
    }

    /// Per row: the maximum and `ln Σ exp(logit - max)`.
    fn normalizers<T: Real>(row: &[T]) -> (T, f64) {
        let max = row.iter().copied().fold(T::from_f64(f64::NEG_INFINITY), |m, v| if v > m { v } else { m });
        let sum: f64 = row.iter().map(|&v| (v - max).exp().to_f64()).sum();
        (max, sum.ln())
    }

    fn forward<T: Real>(&self, logits: &[T], vocab: usize) -> Vec<T> {
        logits
            .chunks_exact(vocab)
            .zip(self.targets.iter())
            .map(|(row, &target)| {
                let (max, log_sum) = Self::normalizers(row);
                T::from_f64((row[target as usize] - max).to_f64() - log_sum)
            })
            .collect()
    }

    /// `logprobs` are the forward pass's results: `logit[target] - logprob[target]` is the row's
    /// `max + ln Σ exp(logit - max)`, so the softmax costs one pass over the row, not two.
    fn backward<T: Real>(&self, logits: &[T], logprobs: &[T], grad: &[T], vocab: usize) -> Vec<T> {
        let mut out = Vec::with_capacity(logits.len());
        let rows = logits.chunks_exact(vocab).zip(self.targets.iter()).zip(logprobs.iter().zip(grad));
        for ((row, &target), (&logprob, &g)) in rows {
            let shift = row[target as usize] - logprob;
            let start = out.len();
            out.extend(row.iter().map(|&v| T::from_f64(0.0) - g * (v - shift).exp()));
            out[start + target as usize] += g;
        }
        out
    }
}

impl CustomOp1 for TargetLogProb {
    fn name(&self) -> &'static str {
        "target-log-prob"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (rows, vocab) = layout.shape().dims2()?;
        self.check(rows, vocab)?;
        let storage = match storage {
            CpuStorage::F32(data) => f32::to_storage(self.forward(contiguous(data, layout, self.name())?, vocab)),
            CpuStorage::F64(data) => f64::to_storage(self.forward(contiguous(data, layout, self.name())?, vocab)),
            other => bail!("{}: f32 or f64 input expected, found {:?}", self.name(), other.dtype()),
        };
        Ok((storage, Shape::from(rows)))
    }

    fn bwd(&self, arg: &Tensor, res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let (rows, vocab) = arg.dims2()?;
        self.check(rows, vocab)?;
        let gradient = match arg.dtype() {
            DType::F32 => {
                let logits = arg.flatten_all()?.to_vec1::<f32>()?;
                let data = self.backward(&logits, &res.to_vec1::<f32>()?, &grad.to_vec1::<f32>()?, vocab);
                Tensor::from_vec(data, (rows, vocab), arg.device())?
            }
            DType::F64 => {
                let logits = arg.flatten_all()?.to_vec1::<f64>()?;
                let data = self.backward(&logits, &res.to_vec1::<f64>()?, &grad.to_vec1::<f64>()?, vocab);
                Tensor::from_vec(data, (rows, vocab), arg.device())?
            }
            other => bail!("{}: f32 or f64 input expected, found {other:?}", self.name()),
        };
        Ok(Some(gradient))
    }
}

/// Causal attention weights: `softmax(scale · q kᵀ + mask)` for queries `[b, kv_heads, group ×
/// t, head_dim]` (each key/value head's `group` query heads one after another, the row `r` at
/// position `r % t`) against keys `[b, kv_heads, t, head_dim]`, giving `[b, kv_heads, group × t,
/// t]` with zeros where a key comes after the query.
///
/// Why one node: written as candle operations (product, scale, mask, maximum, exponential,
/// division) the graph kept six `t × t` blocks per head and layer alive until the backward pass,
/// most of the memory of a step on long sequences. This node keeps only its result `P`, from
/// which the backward pass gets the scores' gradient `scale · P ⊙ (G - Σⱼ G P)` and through it the
/// gradients of `q` and `k`.
#[derive(Clone, Debug)]
pub(super) struct CausalAttention {
    seq_len: usize,
    scale: f64,
}

impl CausalAttention {
    pub fn new(seq_len: usize, scale: f64) -> Self {
        CausalAttention { seq_len, scale }
    }

    /// The softmax of each row of `scores` (`t` wide) in place, scaled and masked.
    fn softmax<T: Real>(&self, scores: &mut [T]) {
        let (t, scale) = (self.seq_len, T::from_f64(self.scale));
        let rows_per_task = (4096 / t).max(1);
        scores.par_chunks_mut(rows_per_task * t).enumerate().for_each(|(task, rows)| {
            for (i, row) in rows.chunks_exact_mut(t).enumerate() {
                let visible = (task * rows_per_task + i) % t + 1;
                let (seen, hidden) = row.split_at_mut(visible);
                let mut max = T::from_f64(f64::NEG_INFINITY);
                for v in seen.iter_mut() {
                    *v *= scale;
                    if *v > max {
                        max = *v;
                    }
                }
                let mut sum = T::from_f64(0.0);
                for v in seen.iter_mut() {
                    *v = (*v - max).exp();
                    sum += *v;
                }
                for v in seen.iter_mut() {
                    *v /= sum;
                }
                hidden.fill(T::from_f64(0.0));
            }
        });
    }

    /// The scores' gradient from the weights `p` and their gradient `g`, row by row.
    fn scores_gradient<T: Real>(&self, p: &[T], g: &[T]) -> Vec<T> {
        let (t, scale) = (self.seq_len, T::from_f64(self.scale));
        let mut out = vec![T::from_f64(0.0); p.len()];
        out.par_chunks_mut(t).zip(p.par_chunks(t).zip(g.par_chunks(t))).for_each(|(out, (p, g))| {
            let mut dot = T::from_f64(0.0);
            for (&p, &g) in p.iter().zip(g) {
                dot += p * g;
            }
            for ((o, &p), &g) in out.iter_mut().zip(p).zip(g) {
                *o = scale * p * (g - dot);
            }
        });
        out
    }
}

impl CustomOp2 for CausalAttention {
    fn name(&self) -> &'static str {
        "causal-attention"
    }

    fn cpu_fwd(
        &self,
        q: &CpuStorage,
        q_layout: &Layout,
        k: &CpuStorage,
        k_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (b, kv_heads, rows, head_dim) = q_layout.shape().dims4()?;
        if k_layout.shape().dims4()? != (b, kv_heads, self.seq_len, head_dim) || !rows.is_multiple_of(self.seq_len) {
            bail!("{}: queries {:?} against keys {:?}", self.name(), q_layout.shape(), k_layout.shape());
        }
        let tensor = |storage: &CpuStorage, layout: &Layout| -> Result<Tensor> {
            let shape = layout.shape().clone();
            match storage {
                CpuStorage::F32(data) => {
                    Tensor::from_slice(contiguous(data, layout, self.name())?, shape, &Device::Cpu)
                }
                CpuStorage::F64(data) => {
                    Tensor::from_slice(contiguous(data, layout, self.name())?, shape, &Device::Cpu)
                }
                other => bail!("{}: f32 or f64 input expected, found {:?}", self.name(), other.dtype()),
            }
        };
        let scores = tensor(q, q_layout)?.matmul(&tensor(k, k_layout)?.t()?)?;
        let shape = scores.shape().clone();
        let scores = scores.flatten_all()?;
        let storage = match scores.dtype() {
            DType::F32 => {
                let mut data = scores.to_vec1::<f32>()?;
                self.softmax(&mut data);
                f32::to_storage(data)
            }
            _ => {
                let mut data = scores.to_vec1::<f64>()?;
                self.softmax(&mut data);
                f64::to_storage(data)
            }
        };
        Ok((storage, shape))
    }

    fn bwd(&self, q: &Tensor, k: &Tensor, res: &Tensor, grad: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let shape = res.shape().clone();
        let (p, g) = (res.flatten_all()?, grad.flatten_all()?);
        let scores_gradient = match res.dtype() {
            DType::F32 => {
                Tensor::from_vec(self.scores_gradient(&p.to_vec1::<f32>()?, &g.to_vec1::<f32>()?), shape, res.device())?
            }
            DType::F64 => {
                Tensor::from_vec(self.scores_gradient(&p.to_vec1::<f64>()?, &g.to_vec1::<f64>()?), shape, res.device())?
            }
            other => bail!("{}: f32 or f64 input expected, found {other:?}", self.name()),
        };
        let q_gradient = scores_gradient.matmul(k)?;
        let k_gradient = scores_gradient.t()?.matmul(q)?;
        Ok((Some(q_gradient), Some(k_gradient)))
    }
}
