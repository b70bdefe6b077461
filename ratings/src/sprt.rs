//! The sequential probability ratio test of H0: elo = elo0 against H1: elo = elo1, for deciding
//! a match as it runs (generalized SPRT, as in fastchess and fishtest, after Michel Van den Bergh).
//!
//! Outcomes are a multinomial over scores `a_k` (trinomial: 0, ½, 1 per game; pentanomial: 0, ¼,
//! ½, ¾, 1 per game of a pair). Under each hypothesis the distribution is the maximum likelihood
//! one whose mean is the score the logistic Elo model expects at elo0 (or elo1):
//! `p*_k = p̂_k / (1 + λ (a_k − s))`, λ solving `Σ p̂_k (a_k − s) / (1 + λ (a_k − s)) = 0`. The
//! log-likelihood ratio is `LLR = Σ n_k ln(p*₁_k / p*₀_k)`; the test accepts H1 at
//! `LLR ≥ ln((1 − β) / α)` and H0 at `LLR ≤ ln(β / (1 − α))`.
//!
//! When any outcome has a zero count, 0.5 is added to every count first (as fastchess does for
//! trinomial counts), so that the constrained estimates exist from the first game on.

use std::str::FromStr;

use crate::logistic::expected_score;
use crate::paired::{Pentanomial, Trinomial};
use crate::{Error, Result};

/// An SPRT's hypotheses and error rates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Config {
    /// Elo difference under H0.
    pub elo0: f64,
    /// Elo difference under H1 (greater than `elo0`).
    pub elo1: f64,
    /// False positive rate: accepting H1 when H0 holds.
    pub alpha: f64,
    /// False negative rate: accepting H0 when H1 holds.
    pub beta: f64,
}

/// What the test says so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The LLR reached the lower bound: the difference is elo0 (or less).
    AcceptH0,
    /// The LLR reached the upper bound: the difference is elo1 (or more).
    AcceptH1,
    /// Keep playing.
    Continue,
}

impl Decision {
    /// `accept_h0`, `accept_h1` or `continue`: the label JSON output uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::AcceptH0 => "accept_h0",
            Decision::AcceptH1 => "accept_h1",
            Decision::Continue => "continue",
        }
    }

    /// The decision in words, with the test's hypotheses.
    pub fn describe(self, config: &Config) -> String {
        match self {
            Decision::AcceptH0 => format!("H0 accepted: the difference is {} Elo or less", config.elo0),
            Decision::AcceptH1 => format!("H1 accepted: the difference is {} Elo or more", config.elo1),
            Decision::Continue => "undecided: more games needed".to_string(),
        }
    }
}

impl Config {
    /// A test of elo0 against elo1 with error rates alpha and beta, checked for sense.
    pub fn new(elo0: f64, elo1: f64, alpha: f64, beta: f64) -> Result<Self> {
        let config = Self { elo0, elo1, alpha, beta };
        config.check().map_err(|problem| Error::InvalidConfig(format!("SPRT: {problem}")))?;
        Ok(config)
    }

    /// Parses `elo0=0,elo1=10,alpha=0.05,beta=0.05` (all four keys, any order, spaces allowed).
    pub fn parse(spec: &str) -> Result<Self> {
        let fail = |problem: String| Error::SprtSpec { spec: spec.to_owned(), problem };
        let mut values: [Option<f64>; 4] = [None; 4];
        const KEYS: [&str; 4] = ["elo0", "elo1", "alpha", "beta"];
        for item in spec.split(',').map(str::trim) {
            if item.is_empty() {
                return Err(fail("empty item; expected key=value pairs separated by commas".to_owned()));
            }
            let Some((key, value)) = item.split_once('=') else {
                return Err(fail(format!("'{item}' is not key=value")));
            };
            let (key, value) = (key.trim(), value.trim());
            let Some(slot) = KEYS.iter().position(|k| k.eq_ignore_ascii_case(key)) else {
                return Err(fail(format!("unknown key '{key}'; expected elo0, elo1, alpha and beta")));
            };
            if values[slot].is_some() {
                return Err(fail(format!("'{key}' is given twice")));
            }
            let number: f64 = value
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite())
                .ok_or_else(|| fail(format!("{key}: '{value}' is not a finite number")))?;
            values[slot] = Some(number);
        }
        let missing: Vec<&str> = KEYS.iter().zip(&values).filter(|(_, v)| v.is_none()).map(|(k, _)| *k).collect();
        let [Some(elo0), Some(elo1), Some(alpha), Some(beta)] = values else {
            return Err(fail(format!("missing {}", missing.join(", "))));
        };
        let config = Self { elo0, elo1, alpha, beta };
        config.check().map_err(fail)?;
        Ok(config)
    }

    fn check(&self) -> std::result::Result<(), String> {
        if !(self.elo0.is_finite() && self.elo1.is_finite()) {
            return Err("elo0 and elo1 must be finite".to_owned());
        }
        if self.elo0 >= self.elo1 {
            return Err(format!("elo0 ({}) must be less than elo1 ({})", self.elo0, self.elo1));
        }
        for (name, value) in [("alpha", self.alpha), ("beta", self.beta)] {
            if !(value > 0.0 && value < 1.0) {
                return Err(format!("{name} ({value}) must be between 0 and 1"));
            }
        }
        if self.alpha + self.beta >= 1.0 {
            return Err(format!("alpha + beta ({}) must be less than 1", self.alpha + self.beta));
        }
        Ok(())
    }

    /// `(lower, upper)` = `(ln(β / (1 − α)), ln((1 − β) / α))`.
    pub fn bounds(&self) -> (f64, f64) {
        ((self.beta / (1.0 - self.alpha)).ln(), ((1.0 - self.beta) / self.alpha).ln())
    }

    /// The decision for a log-likelihood ratio.
    pub fn decision(&self, llr: f64) -> Decision {
        let (lower, upper) = self.bounds();
        if llr >= upper {
            Decision::AcceptH1
        } else if llr <= lower {
            Decision::AcceptH0
        } else {
            Decision::Continue
        }
    }

    /// The LLR of trinomial counts (0 with no games).
    pub fn llr_trinomial(&self, counts: &Trinomial) -> f64 {
        let (counts, scores) = counts.by_score();
        llr(&counts, &scores, self.elo0, self.elo1)
    }

    /// The LLR of pentanomial counts (0 with no pairs).
    pub fn llr_pentanomial(&self, counts: &Pentanomial) -> f64 {
        let (counts, scores) = counts.by_score();
        llr(&counts, &scores, self.elo0, self.elo1)
    }
}

impl FromStr for Config {
    type Err = Error;

    fn from_str(spec: &str) -> Result<Self> {
        Self::parse(spec)
    }
}

/// The generalized SPRT log-likelihood ratio of outcomes with per-game `scores` (in `[0, 1]`,
/// including 0 and 1) seen `counts` times, for H1: `elo1` against H0: `elo0`.
pub fn llr(counts: &[f64], scores: &[f64], elo0: f64, elo1: f64) -> f64 {
    let total: f64 = counts.iter().sum();
    if total <= 0.0 {
        return 0.0;
    }
    let regularize = if counts.contains(&0.0) { 0.5 } else { 0.0 };
    let counts: Vec<f64> = counts.iter().map(|c| c + regularize).collect();
    let total: f64 = counts.iter().sum();
    let empirical: Vec<f64> = counts.iter().map(|c| c / total).collect();
    let lambda0 = tilt(&empirical, scores, expected_score(elo0));
    let lambda1 = tilt(&empirical, scores, expected_score(elo1));
    let (s0, s1) = (expected_score(elo0), expected_score(elo1));
    counts
        .iter()
        .zip(scores)
        .filter(|(c, _)| **c > 0.0)
        .map(|(c, a)| c * ((1.0 + lambda0 * (a - s0)).ln() - (1.0 + lambda1 * (a - s1)).ln()))
        .sum()
}

/// The maximum likelihood distribution with mean `target`: `p_k / (1 + λ (a_k − target))`.
pub fn constrained_mle(empirical: &[f64], scores: &[f64], target: f64) -> Vec<f64> {
    let lambda = tilt(empirical, scores, target);
    empirical.iter().zip(scores).map(|(p, a)| p / (1.0 + lambda * (a - target))).collect()
}

/// λ with `Σ p_k d_k / (1 + λ d_k) = 0`, `d_k = a_k − target`, by bisection (the sum decreases in λ).
fn tilt(empirical: &[f64], scores: &[f64], target: f64) -> f64 {
    let deviations = || empirical.iter().zip(scores).filter(|(p, _)| **p > 0.0).map(|(p, a)| (*p, a - target));
    let high_d = deviations().map(|(_, d)| d).fold(f64::NEG_INFINITY, f64::max);
    let low_d = deviations().map(|(_, d)| d).fold(f64::INFINITY, f64::min);
    if !(high_d > 0.0 && low_d < 0.0) {
        return 0.0;
    }
    let f = |lambda: f64| deviations().map(|(p, d)| p * d / (1.0 + lambda * d)).sum::<f64>();
    let (mut lo, mut hi) = (-1.0 / high_d, -1.0 / low_d);
    for _ in 0..2000 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if f(mid) > 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}
