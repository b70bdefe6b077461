//! Bootstrap confidence intervals for Bradley–Terry ratings: refit on resampled results.
//!
//! Each replicate draws as many games as there are, with replacement. Drawing games with
//! replacement is the same as drawing the counts of every (first, second, outcome) cell from a
//! multinomial, which this does cell by cell with binomials: the cost is independent of the number
//! of games. Replicate `k` uses its own RNG seeded from `(seed, k)`, and replicates run in parallel
//! on the current rayon pool, so the result is the same for any number of threads.

use rand::SeedableRng;
use rand_distr::{Binomial, Distribution};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;

use crate::bradley_terry::{self, Fit};
use crate::pair_counts::PairCounts;
use crate::{Error, Result};

/// Settings of a bootstrap.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Config {
    /// Replicates to fit. Default: 1000.
    pub replicates: usize,
    /// The seed every replicate's RNG derives from. Default: 0.
    pub seed: u64,
    /// Confidence level of the percentile intervals. Default: 0.95.
    pub level: f64,
}

impl Default for Config {
    fn default() -> Self {
        Self { replicates: 1000, seed: 0, level: 0.95 }
    }
}

/// The bootstrap distribution of the ratings.
#[derive(Debug, Clone, PartialEq)]
pub struct Bootstrap {
    /// Percentile confidence interval `(low, high)` of each player's rating, in Elo.
    pub intervals: Vec<(f64, f64)>,
    /// Standard deviation of each player's rating over the replicates, in Elo.
    pub standard_errors: Vec<f64>,
    /// Ratings of every replicate that could be fitted, in replicate order.
    pub samples: Vec<Vec<f64>>,
    /// Replicates whose resampled results could not be fitted (e.g. a player won every game drawn);
    /// they are left out of the intervals.
    pub failed: usize,
}

/// Bootstraps the fit of `counts` under `fit_config`.
pub fn bootstrap(counts: &PairCounts, fit_config: &bradley_terry::Config, config: &Config) -> Result<Bootstrap> {
    if config.replicates == 0 {
        return Err(Error::InvalidConfig("bootstrap needs at least one replicate".to_owned()));
    }
    if !(config.level > 0.0 && config.level < 1.0) {
        return Err(Error::InvalidConfig(format!("confidence level {} is not between 0 and 1", config.level)));
    }
    let cells: Vec<_> = counts.cells().collect();
    let total: u64 = cells.iter().map(|c| c.3).sum();
    if total == 0 {
        return Err(Error::NoGames);
    }
    let fits: Vec<Result<Fit>> = (0..config.replicates)
        .into_par_iter()
        .map(|k| {
            let mut rng = replicate_rng(config.seed, k as u64);
            let mut sample = PairCounts::new(counts.players());
            let (mut games_left, mut weight_left) = (total, total);
            for &(first, second, outcome, count) in &cells {
                if games_left == 0 {
                    break;
                }
                let p = (count as f64 / weight_left as f64).min(1.0);
                let drawn = Binomial::new(games_left, p).map_or(games_left, |b| b.sample(&mut rng));
                sample.add_outcome(first, second, outcome, drawn);
                games_left -= drawn;
                weight_left -= count;
            }
            bradley_terry::fit(&sample, fit_config)
        })
        .collect();
    let mut samples = Vec::with_capacity(fits.len());
    let mut first_error = None;
    for fit in fits {
        match fit {
            Ok(fit) => samples.push(fit.ratings),
            Err(error) => {
                first_error.get_or_insert(error);
            }
        }
    }
    if samples.is_empty() {
        let first = first_error.unwrap_or(Error::NoGames);
        return Err(Error::BootstrapFailed { replicates: config.replicates, first: Box::new(first) });
    }
    let n = counts.players();
    let tail = (1.0 - config.level) / 2.0;
    let mut intervals = Vec::with_capacity(n);
    let mut standard_errors = Vec::with_capacity(n);
    for player in 0..n {
        let mut values: Vec<f64> = samples.iter().map(|s| s[player]).collect();
        values.sort_by(f64::total_cmp);
        intervals.push((quantile(&values, tail), quantile(&values, 1.0 - tail)));
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (values.len().max(2) - 1) as f64;
        standard_errors.push(var.sqrt());
    }
    Ok(Bootstrap { intervals, standard_errors, failed: config.replicates - samples.len(), samples })
}

/// The RNG of replicate `index`: a function of `(seed, index)` only.
pub fn replicate_rng(seed: u64, index: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(mix(seed ^ mix(index.wrapping_add(0x9E37_79B9_7F4A_7C15))))
}

/// SplitMix64's finalizer: a bijective mixing of 64 bits.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The `q`-quantile of sorted `values`, interpolating linearly between order statistics.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let position = q * (sorted.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = (below + 1).min(sorted.len() - 1);
    let fraction = position - below as f64;
    sorted[below] + fraction * (sorted[above] - sorted[below])
}
