//! Choosing the next token from logits: greedy at temperature 0, otherwise temperature and
//! nucleus (top-p) sampling from a seeded generator, so the same seed and prompt give the same
//! text. Each choice comes with its log-probability under the model (temperature 1, no top-p).

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use super::LlmError;

/// How to sample an answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SamplingParams {
    /// 0 for greedy (argmax); otherwise logits are divided by it.
    pub temperature: f32,
    /// Sample among the most likely tokens whose probabilities sum to at least this (1 = all).
    pub top_p: f32,
    /// The most tokens to generate (a stop token included).
    pub max_tokens: usize,
    /// Seeds this answer's random choices.
    pub seed: u64,
    /// Generate `max_tokens` whatever is sampled, stop tokens included (for measuring speed on a
    /// fixed amount of work, as llama.cpp's `--ignore-eos`).
    #[serde(default)]
    pub ignore_stop: bool,
}

impl Default for SamplingParams {
    fn default() -> Self {
        SamplingParams { temperature: 0.7, top_p: 0.95, max_tokens: 256, seed: 0, ignore_stop: false }
    }
}

impl SamplingParams {
    /// Greedy decoding of at most `max_tokens` tokens.
    pub fn greedy(max_tokens: usize) -> Self {
        SamplingParams { temperature: 0.0, top_p: 1.0, max_tokens, seed: 0, ignore_stop: false }
    }

    pub fn validate(&self) -> Result<(), LlmError> {
        if !(self.temperature.is_finite() && self.temperature >= 0.0) {
            return Err(LlmError::BadRequest(format!("temperature {} must be 0 or more", self.temperature)));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(LlmError::BadRequest(format!("top_p {} must be in (0, 1]", self.top_p)));
        }
        if self.max_tokens == 0 {
            return Err(LlmError::BadRequest("max_tokens must be at least 1".to_string()));
        }
        Ok(())
    }
}

/// What turns one row of logits into log-probabilities (temperature 1): its largest logit (the
/// first, where several are largest) and `ln Σ exp(logit - max)`. Generated and scored tokens get
/// their log-probabilities from it, so the two agree exactly.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Normalizer {
    pub argmax: usize,
    pub max: f32,
    pub log_sum: f32,
}

impl Normalizer {
    /// The normalizer of `logits`; an error if any is NaN or none is finite.
    pub fn of(logits: &[f32]) -> Result<Self, LlmError> {
        let (argmax, max) = logits
            .iter()
            .enumerate()
            .fold((0, f32::NEG_INFINITY), |(bi, bv), (i, &v)| if v > bv { (i, v) } else { (bi, bv) });
        if !max.is_finite() || logits.iter().any(|v| v.is_nan()) {
            return Err(LlmError::Compute("the logits are not finite".to_string()));
        }
        let log_sum = super::simd::sum_exp_below(logits, max).ln() as f32;
        Ok(Normalizer { argmax, max, log_sum })
    }

    /// The log-probability of `token` (an index into `logits`, which must be the row this was made of).
    pub fn logprob(&self, logits: &[f32], token: usize) -> f32 {
        logits[token] - self.max - self.log_sum
    }
}

/// One sequence's sampler: its parameters and its random generator.
#[derive(Clone, Debug)]
pub struct Sampler {
    temperature: f32,
    top_p: f32,
    rng: Xoshiro256PlusPlus,
    /// Candidate (weight, token) pairs, reused.
    candidates: Vec<(f32, u32)>,
}

impl Sampler {
    pub fn new(params: &SamplingParams) -> Self {
        Sampler {
            temperature: params.temperature,
            top_p: params.top_p,
            rng: Xoshiro256PlusPlus::seed_from_u64(params.seed),
            candidates: Vec::new(),
        }
    }

    /// Picks a token from `logits` and returns it with its log-probability (temperature 1).
    pub fn sample(&mut self, logits: &[f32]) -> Result<(u32, f32), LlmError> {
        let normalizer = Normalizer::of(logits)?;
        let token = if self.temperature == 0.0 { normalizer.argmax } else { self.draw(logits, normalizer.max) };
        Ok((token as u32, normalizer.logprob(logits, token)))
    }

    /// A token drawn with probabilities `exp((logit - max) / temperature)`, within the top-p nucleus.
    fn draw(&mut self, logits: &[f32], max: f32) -> usize {
        let inverse = 1.0 / self.temperature;
        let weight = |v: f32| ((v - max) * inverse).exp();
        let total: f64 = logits.iter().map(|&v| weight(v) as f64).sum();
        let u: f64 = self.rng.random::<f64>();
        if self.top_p >= 1.0 {
            let target = u * total;
            let mut cumulative = 0.0;
            for (i, &v) in logits.iter().enumerate() {
                cumulative += weight(v) as f64;
                if cumulative > target {
                    return i;
                }
            }
            return logits.len() - 1;
        }
        // The nucleus: the heaviest tokens (ties to the lower id) until their mass reaches top_p.
        let order = |a: &(f32, u32), b: &(f32, u32)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
        let needed = self.top_p as f64 * total;
        let mut k = 64.min(logits.len());
        loop {
            self.candidates.clear();
            self.candidates.extend(logits.iter().enumerate().map(|(i, &v)| (weight(v), i as u32)));
            if k < self.candidates.len() {
                self.candidates.select_nth_unstable_by(k - 1, order);
                self.candidates.truncate(k);
            }
            self.candidates.sort_unstable_by(order);
            let mut mass = 0.0;
            let mut kept = None;
            for (n, &(w, _)) in self.candidates.iter().enumerate() {
                mass += w as f64;
                if mass >= needed {
                    kept = Some((n + 1, mass));
                    break;
                }
            }
            let (kept, mass) = match kept {
                Some(found) => found,
                None if k >= logits.len() => (self.candidates.len(), mass),
                None => {
                    k = (k * 4).min(logits.len());
                    continue;
                }
            };
            let target = u * mass;
            let mut cumulative = 0.0;
            for &(w, token) in &self.candidates[..kept] {
                cumulative += w as f64;
                if cumulative > target {
                    return token as usize;
                }
            }
            return self.candidates[kept - 1].1 as usize;
        }
    }
}
