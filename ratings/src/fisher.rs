//! Standard errors of a Bradley–Terry fit from the observed Fisher information (the inverse of
//! minus the Hessian of the log-likelihood), respecting the anchors.
//!
//! Anchored players have no uncertainty. Without anchors the ratings have mean 0, and the
//! covariance is that of the mean-centred ratings (`A C Aᵀ` with `A = I - 11ᵀ/n`). With Davidson's
//! model the draw parameter's uncertainty is accounted for (the ratings' block of the full inverse).
//!
//! With the half-win draw model these errors assume each game's score varies like a coin flip; a
//! draw scores ½ with no variance, so with many draws they are conservative (wider than the
//! bootstrap's, about 15% with 20% draws).

use crate::bradley_terry::{Config, Fit, Problem};
use crate::linalg::spd_inverse;
use crate::logistic::ELO_PER_LOGIT;
use crate::normal;
use crate::pair_counts::PairCounts;
use crate::{Error, Result};

/// The covariance matrix of the ratings, in Elo².
#[derive(Debug, Clone, PartialEq)]
pub struct Covariance {
    players: usize,
    /// Row-major `players × players`.
    matrix: Vec<f64>,
}

impl Covariance {
    /// The number of players.
    pub fn players(&self) -> usize {
        self.players
    }

    /// `Cov(rating i, rating j)` in Elo².
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.matrix[i * self.players + j]
    }

    /// Player `i`'s standard error, in Elo.
    pub fn standard_error(&self, i: usize) -> f64 {
        self.get(i, i).max(0.0).sqrt()
    }

    /// All standard errors, in Elo.
    pub fn standard_errors(&self) -> Vec<f64> {
        (0..self.players).map(|i| self.standard_error(i)).collect()
    }

    /// The standard error of `rating i - rating j`, in Elo.
    pub fn difference_standard_error(&self, i: usize, j: usize) -> f64 {
        (self.get(i, i) + self.get(j, j) - 2.0 * self.get(i, j)).max(0.0).sqrt()
    }

    /// `rating ± z · SE` intervals at confidence `level` (0.95 gives ± 1.96 SE): `(low, high)` per player.
    pub fn intervals(&self, ratings: &[f64], level: f64) -> Vec<(f64, f64)> {
        let z = normal::two_sided_z(level);
        ratings
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let half = z * self.standard_error(i);
                (r - half, r + half)
            })
            .collect()
    }
}

/// The covariance of `fit`'s ratings; `counts` and `config` must be those it was fitted with.
pub fn covariance(counts: &PairCounts, config: &Config, fit: &Fit) -> Result<Covariance> {
    let n = counts.players();
    if fit.ratings.len() != n {
        return Err(Error::InvalidConfig(format!(
            "the fit has {} ratings but the counts have {n} players",
            fit.ratings.len()
        )));
    }
    let problem = Problem::new(counts, config)?;
    let theta: Vec<f64> = fit.ratings.iter().map(|r| r / ELO_PER_LOGIT).collect();
    let phi = fit.draw_parameter.filter(|nu| *nu > 0.0).map(f64::ln);
    let (_, information) = problem.gradient_and_information(&theta, phi);
    let m = problem.dim();
    let inverse = if m == 0 {
        Vec::new()
    } else {
        spd_inverse(&information, m)
            .ok_or_else(|| Error::InvalidConfig("the information matrix is singular at this fit".to_owned()))?
    };
    let slots = problem.slots();
    let mut matrix = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            if let (Some(a), Some(b)) = (slots[i], slots[j]) {
                matrix[i * n + j] = inverse[a * m + b] * ELO_PER_LOGIT * ELO_PER_LOGIT;
            }
        }
    }
    if config.anchors.is_empty() {
        center(&mut matrix, n);
    }
    Ok(Covariance { players: n, matrix })
}

/// `C ← A C A` with `A = I - 11ᵀ/n`: the covariance of mean-centred ratings.
fn center(matrix: &mut [f64], n: usize) {
    let nf = n as f64;
    let row_means: Vec<f64> = (0..n).map(|i| matrix[i * n..(i + 1) * n].iter().sum::<f64>() / nf).collect();
    let total_mean = row_means.iter().sum::<f64>() / nf;
    // C is symmetric, so column means equal row means.
    for i in 0..n {
        for j in 0..n {
            matrix[i * n + j] += total_mean - row_means[i] - row_means[j];
        }
    }
}
