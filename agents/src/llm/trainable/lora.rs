//! LoRA adapters (Hu et al., 2021): which projections they adapt, their shapes, their seeded
//! initialisation and their forward pass.
//!
//! A frozen projection `W` (`[out, in]`) becomes `W + (alpha / rank) · B · A`, with `A`
//! (`[rank, in]`) drawn uniformly from `±1 / √in` (PyTorch's Kaiming-uniform with `a = √5`, as
//! PEFT initialises it) and `B` (`[out, rank]`) zero, so an untrained adapter changes nothing.
//! `A` is drawn from an RNG seeded by the configuration's seed and the tensor's name, so a
//! tensor's initial values do not depend on which other targets are chosen.

use std::fmt;
use std::str::FromStr;

use candle_core::{DType, Device, Tensor, Var};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::llm::LlmError;

/// A projection of a llama block that can carry an adapter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LoraTarget {
    /// Queries, `attn_q`.
    Q,
    /// Keys, `attn_k`.
    K,
    /// Values, `attn_v`.
    V,
    /// The attention output, `attn_output`.
    O,
    /// The feed-forward gate, `ffn_gate`.
    Gate,
    /// The feed-forward up projection, `ffn_up`.
    Up,
    /// The feed-forward down projection, `ffn_down`.
    Down,
}

impl LoraTarget {
    /// Every target, in the order of a block's computation.
    pub const ALL: [LoraTarget; 7] = [
        LoraTarget::Q,
        LoraTarget::K,
        LoraTarget::V,
        LoraTarget::O,
        LoraTarget::Gate,
        LoraTarget::Up,
        LoraTarget::Down,
    ];

    /// The short name used in configurations: `q`, `k`, `v`, `o`, `gate`, `up`, `down`.
    pub fn short_name(self) -> &'static str {
        match self {
            LoraTarget::Q => "q",
            LoraTarget::K => "k",
            LoraTarget::V => "v",
            LoraTarget::O => "o",
            LoraTarget::Gate => "gate",
            LoraTarget::Up => "up",
            LoraTarget::Down => "down",
        }
    }

    /// The projection's name in GGUF files (`blk.N.<name>.weight`).
    pub fn gguf_name(self) -> &'static str {
        match self {
            LoraTarget::Q => "attn_q",
            LoraTarget::K => "attn_k",
            LoraTarget::V => "attn_v",
            LoraTarget::O => "attn_output",
            LoraTarget::Gate => "ffn_gate",
            LoraTarget::Up => "ffn_up",
            LoraTarget::Down => "ffn_down",
        }
    }
}

impl fmt::Display for LoraTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.short_name())
    }
}

impl FromStr for LoraTarget {
    type Err = LlmError;

    /// A short name (`q`) or a GGUF name (`attn_q`).
    fn from_str(text: &str) -> Result<Self, LlmError> {
        LoraTarget::ALL.into_iter().find(|t| t.short_name() == text || t.gguf_name() == text).ok_or_else(|| {
            let names: Vec<&str> = LoraTarget::ALL.iter().map(|t| t.short_name()).collect();
            LlmError::BadRequest(format!("unknown LoRA target {text:?}; the targets are {}", names.join(", ")))
        })
    }
}

/// Parses a comma-separated list of targets (`q,k,v,o` or `all`).
pub fn parse_targets(text: &str) -> Result<Vec<LoraTarget>, LlmError> {
    if text.trim() == "all" {
        return Ok(LoraTarget::ALL.to_vec());
    }
    text.split(',').map(|part| part.trim().parse()).collect()
}

/// Formats targets as [`parse_targets`] reads them.
pub fn format_targets(targets: &[LoraTarget]) -> String {
    targets.iter().map(|t| t.short_name()).collect::<Vec<_>>().join(",")
}

/// The adapters a LoRA model trains.
#[derive(Clone, Debug, PartialEq)]
pub struct LoraConfig {
    pub rank: usize,
    /// The update `B · A` is scaled by `alpha / rank`.
    pub alpha: f64,
    /// The projections adapted in every block (each at most once).
    pub targets: Vec<LoraTarget>,
    /// Seeds the initial `A` matrices.
    pub seed: u64,
}

impl Default for LoraConfig {
    /// Rank 8, alpha 16, every projection, seed 0.
    fn default() -> Self {
        LoraConfig { rank: 8, alpha: 16.0, targets: LoraTarget::ALL.to_vec(), seed: 0 }
    }
}

impl LoraConfig {
    /// `alpha / rank`.
    pub fn scale(&self) -> f64 {
        self.alpha / self.rank as f64
    }

    /// Whether `target` carries an adapter.
    pub fn adapts(&self, target: LoraTarget) -> bool {
        self.targets.contains(&target)
    }

    pub(super) fn validate(&self) -> Result<(), LlmError> {
        let bad = |message: String| Err(LlmError::BadRequest(format!("LoRA configuration: {message}")));
        if self.rank == 0 {
            return bad("the rank must be positive".into());
        }
        if !self.alpha.is_finite() || self.alpha <= 0.0 {
            return bad(format!("alpha must be a positive number, not {}", self.alpha));
        }
        if self.targets.is_empty() {
            return bad("no targets".into());
        }
        for (i, target) in self.targets.iter().enumerate() {
            if self.targets[..i].contains(target) {
                return bad(format!("target {target} is listed twice"));
            }
        }
        Ok(())
    }
}

/// One adapter: `x ↦ (scale · x Aᵀ) Bᵀ` (scaled at rank width, the narrowest).
#[derive(Clone, Debug)]
pub(super) struct Adapter {
    /// `[rank, in]`.
    pub a: Var,
    /// `[out, rank]`, zero at first.
    pub b: Var,
    pub scale: f64,
}

impl Adapter {
    /// A fresh adapter for the projection `name` (`[out, in]`).
    pub fn new(
        name: &str,
        inputs: usize,
        outputs: usize,
        config: &LoraConfig,
        dtype: DType,
    ) -> Result<Self, candle_core::Error> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(config.seed ^ fnv1a(name));
        let bound = 1.0 / (inputs as f32).sqrt();
        let a: Vec<f32> = (0..config.rank * inputs).map(|_| rng.random_range(-bound..bound)).collect();
        let a = Tensor::from_vec(a, (config.rank, inputs), &Device::Cpu)?.to_dtype(dtype)?;
        let b = Tensor::zeros((outputs, config.rank), dtype, &Device::Cpu)?;
        Ok(Adapter { a: Var::from_tensor(&a)?, b: Var::from_tensor(&b)?, scale: config.scale() })
    }

    /// `x` is `[rows, in]`; the result `[rows, out]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor, candle_core::Error> {
        (x.matmul(&self.a.as_tensor().t()?)? * self.scale)?.matmul(&self.b.as_tensor().t()?)
    }
}

/// 64-bit FNV-1a of a name, to give each tensor its own seed.
fn fnv1a(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ byte as u64).wrapping_mul(0x0000_0100_0000_01b3))
}
