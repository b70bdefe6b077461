//! Standings: the one Bradley–Terry fit with 95% intervals (from the Hessian or a seeded
//! bootstrap) that tournaments, evolve generations and `arena ratings` share; the ratings report
//! of results files and stores ([`report`]); and the reading of those files ([`results`]).

pub mod report;
pub mod results;

use ratings::bradley_terry::{self, Anchor};
use ratings::{PairCounts, fisher};
use serde::Serialize;

use crate::engine::tally::Tally;

/// Confidence level of every interval in the standings.
pub const LEVEL: f64 = 0.95;

/// Where the intervals come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntervalMethod {
    /// Rating ± z·SE from the inverse Hessian (respecting the anchors).
    Hessian,
    /// Percentiles of `replicates` seeded bootstrap refits.
    Bootstrap { replicates: usize, seed: u64 },
}

/// A Bradley–Terry fit with its intervals.
#[derive(Clone, Debug, PartialEq)]
pub struct RatingFit {
    /// The maximum-likelihood fit: ratings on the Elo scale, Davidson's draw parameter.
    pub fit: bradley_terry::Fit,
    pub intervals: Vec<(f64, f64)>,
    pub standard_errors: Vec<f64>,
    /// Bootstrap replicates that could not be fitted and were left out.
    pub failed_replicates: usize,
}

impl RatingFit {
    pub fn ratings(&self) -> &[f64] {
        &self.fit.ratings
    }
}

/// Fits `counts` with `config` and adds 95% intervals by `method`.
pub fn fit_with_intervals(
    counts: &PairCounts,
    config: &bradley_terry::Config,
    method: IntervalMethod,
) -> ratings::Result<RatingFit> {
    let fit = bradley_terry::fit(counts, config)?;
    let (intervals, standard_errors, failed_replicates) = match method {
        IntervalMethod::Hessian => {
            let covariance = fisher::covariance(counts, config, &fit)?;
            (covariance.intervals(&fit.ratings, LEVEL), covariance.standard_errors(), 0)
        }
        IntervalMethod::Bootstrap { replicates, seed } => {
            let boot = ratings::bootstrap::bootstrap(
                counts,
                config,
                &ratings::bootstrap::Config { replicates, seed, level: LEVEL },
            )?;
            (boot.intervals, boot.standard_errors, boot.failed)
        }
    };
    Ok(RatingFit { fit, intervals, standard_errors, failed_replicates })
}

/// The fit config with `anchor` (an agent index) at rating 0, or ratings of mean 0 without one.
pub fn anchored_at_zero(anchor: Option<usize>) -> bradley_terry::Config {
    bradley_terry::Config::anchored(anchor.map(|player| Anchor { player, rating: 0.0 }).into_iter().collect())
}

/// One line of a tournament's standings.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Standing {
    pub rank: usize,
    pub name: String,
    pub rating: Option<f64>,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    pub games: u64,
    pub points: f64,
    pub score: f64,
    pub draws: f64,
    pub faults: u64,
}

/// A tournament's standings, best first, and why there are no ratings when there are none.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Standings {
    pub rows: Vec<Standing>,
    pub rating_note: Option<String>,
}

/// Standings ordered by Bradley–Terry rating with Hessian intervals, `anchor` (an agent index) at
/// 0 or mean 0 without one; by points where no fit exists (the note says why).
pub fn standings(names: &[String], tally: &Tally, anchor: Option<usize>) -> Standings {
    let fitted = fit_with_intervals(&tally.pair_counts(), &anchored_at_zero(anchor), IntervalMethod::Hessian);
    let (fit, rating_note) = match fitted {
        Ok(fit) => (Some(fit), None),
        Err(e) => (None, Some(format!("no Bradley–Terry fit: {e}"))),
    };
    let mut order: Vec<usize> = (0..names.len()).collect();
    match &fit {
        Some(fit) => order.sort_by(|&a, &b| fit.ratings()[b].total_cmp(&fit.ratings()[a]).then(a.cmp(&b))),
        None => order.sort_by(|&a, &b| tally.totals(b).points.total_cmp(&tally.totals(a).points).then(a.cmp(&b))),
    }
    let rows = order
        .iter()
        .enumerate()
        .map(|(rank, &i)| {
            let totals = tally.totals(i);
            let games = totals.games.max(1) as f64;
            Standing {
                rank: rank + 1,
                name: names[i].clone(),
                rating: fit.as_ref().map(|f| f.ratings()[i]),
                ci_low: fit.as_ref().map(|f| f.intervals[i].0),
                ci_high: fit.as_ref().map(|f| f.intervals[i].1),
                games: totals.games,
                points: totals.points,
                score: totals.points / games,
                draws: totals.draws as f64 / games,
                faults: totals.faults,
            }
        })
        .collect();
    Standings { rows, rating_note }
}
