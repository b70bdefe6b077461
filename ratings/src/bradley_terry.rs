//! Bradley–Terry maximum likelihood over all results at once (order-independent), on the Elo scale.
//!
//! `P(i beats j) = 1 / (1 + e^{θj - θi})`; ratings are `400 / ln 10 · θ`, so a 400-point gap is a
//! 10:1 expected score. Draws count as half a win for each side ([`DrawModel::HalfWin`], what
//! Chatbot Arena and most tools do), or follow Davidson's model ([`DrawModel::Davidson`]), which
//! also estimates a draw parameter ν.
//!
//! The fit is Newton's method with a backtracking line search on the pooled [`PairCounts`]: each
//! step costs `O(pairs + players³)`, independent of the number of games, and it converges in about
//! ten steps. Ratings are fixed by anchors ([`Anchor`]) or, with none, have mean 0.

use crate::identifiability;
use crate::linalg::{cholesky, cholesky_solve};
use crate::logistic::ELO_PER_LOGIT;
use crate::pair_counts::{PairCounts, PooledPair};
use crate::{Error, PlayerList, Result};

/// How draws enter the likelihood.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DrawModel {
    /// A draw is half a win and half a loss: `L = Σ s ln P(i beats j) + (1 - s) ln P(j beats i)`.
    #[default]
    HalfWin,
    /// Davidson (1970): `P(i wins) ∝ πi`, `P(j wins) ∝ πj`, `P(draw) ∝ ν √(πi πj)` with
    /// `π = e^θ`; ν is estimated with the ratings.
    Davidson,
}

/// A player whose rating is fixed, e.g. a random agent at 0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Anchor {
    /// The player's index.
    pub player: usize,
    /// The fixed rating, in Elo.
    pub rating: f64,
}

/// Settings of a Bradley–Terry fit.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// How draws enter the likelihood. Default: [`DrawModel::HalfWin`].
    pub draw_model: DrawModel,
    /// Players with fixed ratings. Default: none, and then the ratings have mean 0.
    pub anchors: Vec<Anchor>,
    /// Newton stops when its largest step is below this many Elo. Default: 1e-10.
    pub tolerance: f64,
    /// Newton steps before giving up with [`Error::NotConverged`]. Default: 100.
    pub max_iterations: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self { draw_model: DrawModel::HalfWin, anchors: Vec::new(), tolerance: 1e-10, max_iterations: 100 }
    }
}

impl Config {
    /// The default configuration with these anchors.
    pub fn anchored(anchors: Vec<Anchor>) -> Self {
        Self { anchors, ..Self::default() }
    }
}

/// A fitted Bradley–Terry model.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    /// Each player's rating, in Elo.
    pub ratings: Vec<f64>,
    /// The log-likelihood (natural log) at the estimate.
    pub log_likelihood: f64,
    /// The draw model that was fitted.
    pub draw_model: DrawModel,
    /// Davidson's ν (`None` for [`DrawModel::HalfWin`]; 0 when no game was drawn). Two equal
    /// players draw with probability `ν / (2 + ν)`.
    pub draw_parameter: Option<f64>,
    /// Newton steps taken.
    pub iterations: usize,
}

impl Fit {
    /// Player `i`'s expected score against `j` under the fitted model.
    pub fn expected_score(&self, i: usize, j: usize) -> f64 {
        let x = (self.ratings[i] - self.ratings[j]) / ELO_PER_LOGIT;
        match self.draw_parameter {
            Some(nu) if self.draw_model == DrawModel::Davidson => {
                let [win, draw, _] = davidson_probabilities(x / 2.0, nu.ln());
                win + draw / 2.0
            }
            _ => sigmoid(x),
        }
    }
}

/// Fits ratings to `counts`; an error names players whose ratings the results cannot determine.
pub fn fit(counts: &PairCounts, config: &Config) -> Result<Fit> {
    let problem = Problem::new(counts, config)?;
    let (theta, phi, iterations) = problem.solve(config)?;
    let log_likelihood = problem.log_likelihood(&theta, phi);
    let mut ratings: Vec<f64> = theta.iter().map(|t| t * ELO_PER_LOGIT).collect();
    if config.anchors.is_empty() {
        let mean = ratings.iter().sum::<f64>() / ratings.len() as f64;
        ratings.iter_mut().for_each(|r| *r -= mean);
    }
    for anchor in &config.anchors {
        ratings[anchor.player] = anchor.rating;
    }
    let draw_parameter = match config.draw_model {
        DrawModel::HalfWin => None,
        DrawModel::Davidson => Some(phi.map_or(0.0, f64::exp)),
    };
    Ok(Fit { ratings, log_likelihood, draw_model: config.draw_model, draw_parameter, iterations })
}

/// The fitting problem: pooled pairs, which parameters are free, and the likelihood's derivatives.
#[derive(Debug)]
pub(crate) struct Problem {
    pairs: Vec<PooledPair>,
    /// Each player's position in the parameter vector, `None` when the rating is fixed.
    slot: Vec<Option<usize>>,
    /// θ of each player at the start: the anchor's value for fixed players, 0 for the others.
    start: Vec<f64>,
    /// Whether the Davidson draw parameter φ = ln ν is the last parameter.
    davidson: bool,
    /// Number of free parameters.
    dim: usize,
    /// Share of games drawn (for φ's starting value).
    draw_rate: f64,
}

impl Problem {
    /// Validates `config` against `counts` and checks the ratings are identifiable.
    pub(crate) fn new(counts: &PairCounts, config: &Config) -> Result<Self> {
        let n = counts.players();
        if config.tolerance.is_nan() || config.tolerance <= 0.0 {
            return Err(Error::InvalidConfig(format!("tolerance {} must be positive", config.tolerance)));
        }
        let games = counts.total_games();
        if games == 0 {
            return Err(Error::NoGames);
        }
        let mut start = vec![0.0; n];
        let mut slot: Vec<Option<usize>> = vec![Some(0); n];
        for anchor in &config.anchors {
            let problem = if anchor.player >= n {
                Some(format!("no such player among {n} players"))
            } else if !anchor.rating.is_finite() {
                Some(format!("rating {} is not a finite number", anchor.rating))
            } else if slot[anchor.player].is_none() {
                Some("anchored twice".to_owned())
            } else {
                None
            };
            if let Some(problem) = problem {
                return Err(Error::InvalidAnchor { player: PlayerList::new(vec![anchor.player]), problem });
            }
            slot[anchor.player] = None;
            start[anchor.player] = anchor.rating / ELO_PER_LOGIT;
        }
        let anchored: Vec<usize> = config.anchors.iter().map(|a| a.player).collect();
        identifiability::check(counts, &anchored)?;
        if anchored.is_empty() {
            // Ratings are determined up to a shift: hold player 0 at 0 while fitting.
            slot[0] = None;
        }
        let mut dim = 0;
        for s in slot.iter_mut().flatten() {
            *s = dim;
            dim += 1;
        }
        let draws = counts.total_draws();
        let davidson = config.draw_model == DrawModel::Davidson && draws > 0;
        if davidson && draws == games {
            return Err(Error::DrawParameter(
                "every game is a draw, so the draw parameter has no finite estimate".to_owned(),
            ));
        }
        if davidson {
            dim += 1;
        }
        Ok(Self { pairs: counts.pooled_pairs(), slot, start, davidson, dim, draw_rate: draws as f64 / games as f64 })
    }

    /// Number of free parameters (free ratings, then φ for Davidson).
    pub(crate) fn dim(&self) -> usize {
        self.dim
    }

    /// Position of each player's θ among the free parameters (`None` when fixed).
    pub(crate) fn slots(&self) -> &[Option<usize>] {
        &self.slot
    }

    /// Newton's method with backtracking from the start values: `(θ, φ, steps taken)`.
    fn solve(&self, config: &Config) -> Result<(Vec<f64>, Option<f64>, usize)> {
        let mut theta = self.start.clone();
        let mut phi = self.davidson.then(|| (2.0 * self.draw_rate / (1.0 - self.draw_rate)).ln());
        let mut ll = self.log_likelihood(&theta, phi);
        let tolerance = config.tolerance / ELO_PER_LOGIT;
        for iteration in 1..=config.max_iterations {
            let (mut step, information) = self.gradient_and_information(&theta, phi);
            let Some(factor) = cholesky(&information, self.dim) else {
                return Err(Error::NotConverged { iterations: iteration });
            };
            cholesky_solve(&factor, self.dim, &mut step);
            let mut t = 1.0;
            let (mut new_theta, mut new_phi, mut new_ll);
            loop {
                (new_theta, new_phi) = self.moved(&theta, phi, &step, t);
                new_ll = self.log_likelihood(&new_theta, new_phi);
                if new_ll >= ll - 1e-12 * (1.0 + ll.abs()) || t < 1e-12 {
                    break;
                }
                t *= 0.5;
            }
            let largest = step.iter().fold(0.0f64, |m, s| m.max((s * t).abs()));
            theta = new_theta;
            phi = new_phi;
            ll = new_ll;
            if !largest.is_finite() {
                break;
            }
            if largest < tolerance {
                return Ok((theta, phi, iteration));
            }
        }
        Err(Error::NotConverged { iterations: config.max_iterations })
    }

    /// The parameters moved by `t · step`.
    fn moved(&self, theta: &[f64], phi: Option<f64>, step: &[f64], t: f64) -> (Vec<f64>, Option<f64>) {
        let mut new_theta = theta.to_vec();
        for (p, s) in self.slot.iter().enumerate() {
            if let Some(k) = *s {
                new_theta[p] += t * step[k];
            }
        }
        let new_phi = phi.map(|phi| phi + t * step[self.dim - 1]);
        (new_theta, new_phi)
    }

    /// The log-likelihood at `theta` (all players) and `phi` (Davidson's ln ν).
    pub(crate) fn log_likelihood(&self, theta: &[f64], phi: Option<f64>) -> f64 {
        let mut ll = 0.0;
        for pair in &self.pairs {
            let d = theta[pair.i] - theta[pair.j];
            ll += match phi {
                None => -pair.score_i() * softplus(-d) - pair.score_j() * softplus(d),
                Some(phi) => {
                    let x = d / 2.0;
                    (pair.wins_i - pair.wins_j) * x + pair.draws * phi - pair.games() * log_z(x, phi)
                }
            };
        }
        ll
    }

    /// The gradient of the log-likelihood over the free parameters, and the observed information
    /// (minus the Hessian), row-major `dim × dim`.
    pub(crate) fn gradient_and_information(&self, theta: &[f64], phi: Option<f64>) -> (Vec<f64>, Vec<f64>) {
        let m = self.dim;
        let mut gradient = vec![0.0; m];
        let mut information = vec![0.0; m * m];
        for pair in &self.pairs {
            let (si, sj) = (self.slot[pair.i], self.slot[pair.j]);
            let d = theta[pair.i] - theta[pair.j];
            let n = pair.games();
            let (g, w) = match phi {
                None => {
                    let p = sigmoid(d);
                    (pair.score_i() - n * p, n * p * (1.0 - p))
                }
                Some(phi) => {
                    let [pi, pd, pj] = davidson_probabilities(d / 2.0, phi);
                    let diff = pi - pj;
                    let g = 0.5 * (pair.wins_i - pair.wins_j) - 0.5 * n * diff;
                    let w = 0.25 * n * ((pi + pj) - diff * diff);
                    let cross = -0.5 * n * diff * pd;
                    let f = m - 1;
                    gradient[f] += pair.draws - n * pd;
                    information[f * m + f] += n * pd * (1.0 - pd);
                    if let Some(a) = si {
                        information[a * m + f] += cross;
                        information[f * m + a] += cross;
                    }
                    if let Some(b) = sj {
                        information[b * m + f] -= cross;
                        information[f * m + b] -= cross;
                    }
                    (g, w)
                }
            };
            if let Some(a) = si {
                gradient[a] += g;
                information[a * m + a] += w;
            }
            if let Some(b) = sj {
                gradient[b] -= g;
                information[b * m + b] += w;
            }
            if let (Some(a), Some(b)) = (si, sj) {
                information[a * m + b] -= w;
                information[b * m + a] -= w;
            }
        }
        (gradient, information)
    }
}

/// `1 / (1 + e^{-x})`.
fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// `ln(1 + e^x)`, without overflow.
fn softplus(x: f64) -> f64 {
    if x > 0.0 { x + (-x).exp().ln_1p() } else { x.exp().ln_1p() }
}

/// `ln(e^x + e^{-x} + e^φ)`.
fn log_z(x: f64, phi: f64) -> f64 {
    let top = x.abs().max(phi);
    top + ((x - top).exp() + (-x - top).exp() + (phi - top).exp()).ln()
}

/// Davidson's `[P(i wins), P(draw), P(j wins)]` for half-difference `x = (θi - θj) / 2`, `φ = ln ν`.
fn davidson_probabilities(x: f64, phi: f64) -> [f64; 3] {
    let z = log_z(x, phi);
    [(x - z).exp(), (phi - z).exp(), (-x - z).exp()]
}
