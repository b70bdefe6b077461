//! Match statistics over trinomial (win/draw/loss) and pentanomial (game pairs with swapped seats)
//! counts: score, Elo difference with a 95% error bar, and LOS, as fastchess reports them.
//!
//! The error bar maps the score's 95% normal interval `score ± 1.96 σ/√n` through the Elo
//! formula and takes half its width. For pentanomial counts the samples are game pairs, whose
//! variance already holds the correlation between the two games of a pair (same opening).

use crate::game::Outcome;
use crate::logistic::elo_difference;
use crate::normal::{self, Z_95};
use crate::{Error, Result};

/// Wins, draws and losses of one player (or engine) over a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Trinomial {
    /// Games won.
    pub wins: u64,
    /// Games drawn.
    pub draws: u64,
    /// Games lost.
    pub losses: u64,
}

/// Counts of game pairs by the pair's points, 0 to 2 in half points: index `2 · points`, so
/// `[LL, LD, WL + DD, WD, WW]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pentanomial {
    /// Pairs scoring 0, 0.5, 1, 1.5 and 2 points.
    pub counts: [u64; 5],
}

/// Statistics of a match.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MatchStats {
    /// Games (trinomial) or game pairs (pentanomial).
    pub samples: u64,
    /// Points per game, 0 to 1.
    pub score: f64,
    /// The Elo difference the score implies (±∞ for a score of 1 or 0).
    pub elo: f64,
    /// Half-width of the 95% interval of the Elo difference.
    pub elo_error_95: f64,
    /// Likelihood of superiority: the probability that the player is the stronger.
    pub los: f64,
}

impl Trinomial {
    /// Counts with these wins, draws and losses.
    pub fn new(wins: u64, draws: u64, losses: u64) -> Self {
        Self { wins, draws, losses }
    }

    /// Adds one game's outcome.
    pub fn add(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Win => self.wins += 1,
            Outcome::Draw => self.draws += 1,
            Outcome::Loss => self.losses += 1,
        }
    }

    /// Games counted.
    pub fn games(&self) -> u64 {
        self.wins + self.draws + self.losses
    }

    /// The counts in score order `[losses, draws, wins]`, with their scores `[0, 0.5, 1]`.
    pub(crate) fn by_score(&self) -> ([f64; 3], [f64; 3]) {
        ([self.losses as f64, self.draws as f64, self.wins as f64], [0.0, 0.5, 1.0])
    }

    /// Score, Elo difference ± 95% error, and LOS = Φ((W − L) / √(W + L)).
    pub fn stats(&self) -> Result<MatchStats> {
        let (counts, scores) = self.by_score();
        let mut stats = stats(&counts, &scores)?;
        let decisive = (self.wins + self.losses) as f64;
        stats.los =
            if decisive > 0.0 { normal::cdf((self.wins as f64 - self.losses as f64) / decisive.sqrt()) } else { 0.5 };
        Ok(stats)
    }

    /// Share of games drawn (NaN with no games).
    pub fn draw_ratio(&self) -> f64 {
        self.draws as f64 / self.games() as f64
    }
}

impl Pentanomial {
    /// Counts `[LL, LD, WL + DD, WD, WW]`.
    pub fn new(counts: [u64; 5]) -> Self {
        Self { counts }
    }

    /// Adds a pair of games (seats swapped), each score 1, 0.5 or 0 from the same player's side.
    pub fn add_pair(&mut self, first: f64, second: f64) -> Result<()> {
        let (Some(a), Some(b)) = (Outcome::from_score(first), Outcome::from_score(second)) else {
            let score = if Outcome::from_score(first).is_none() { first } else { second };
            return Err(Error::InvalidScore { game: self.pairs() as usize, score });
        };
        self.counts[(2.0 * (a.score() + b.score())) as usize] += 1;
        Ok(())
    }

    /// Pairs counted.
    pub fn pairs(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The counts with their per-game scores `[0, 0.25, 0.5, 0.75, 1]`.
    pub(crate) fn by_score(&self) -> ([f64; 5], [f64; 5]) {
        (self.counts.map(|c| c as f64), [0.0, 0.25, 0.5, 0.75, 1.0])
    }

    /// Score, Elo difference ± 95% error, and LOS = Φ((score − ½) / σ), σ the score's standard error.
    pub fn stats(&self) -> Result<MatchStats> {
        let (counts, scores) = self.by_score();
        stats(&counts, &scores)
    }
}

/// Statistics of samples taking the values `scores` with frequencies `counts`.
fn stats(counts: &[f64], scores: &[f64]) -> Result<MatchStats> {
    let n: f64 = counts.iter().sum();
    if n == 0.0 {
        return Err(Error::NoGames);
    }
    let score = counts.iter().zip(scores).map(|(c, s)| c * s).sum::<f64>() / n;
    let variance = counts.iter().zip(scores).map(|(c, s)| c * (s - score) * (s - score)).sum::<f64>() / n;
    let standard_error = (variance / n).sqrt();
    let low = elo_difference((score - Z_95 * standard_error).max(0.0));
    let high = elo_difference((score + Z_95 * standard_error).min(1.0));
    let los = if standard_error > 0.0 {
        normal::cdf((score - 0.5) / standard_error)
    } else if score > 0.5 {
        1.0
    } else if score < 0.5 {
        0.0
    } else {
        0.5
    };
    Ok(MatchStats { samples: n as u64, score, elo: elo_difference(score), elo_error_95: (high - low) / 2.0, los })
}
