//! Ranks and rank intervals: the ranks a player can take given everyone's confidence intervals,
//! as Chatbot Arena shows them.
//!
//! Best rank = 1 + the number of players whose lower bound is above this player's upper bound;
//! worst rank = n − the number of players whose upper bound is below this player's lower bound.

/// A player's rank (1 is best) and the range of ranks the confidence intervals allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RankInterval {
    /// 1 + the number of players rated strictly higher.
    pub rank: usize,
    /// The best rank the intervals allow.
    pub best: usize,
    /// The worst rank the intervals allow.
    pub worst: usize,
}

/// Each player's rank: 1 + the number of players with a strictly higher rating (ties share a rank).
pub fn ranks(ratings: &[f64]) -> Vec<usize> {
    ratings.iter().map(|r| 1 + ratings.iter().filter(|other| *other > r).count()).collect()
}

/// Rank intervals from point ratings and `(low, high)` confidence intervals.
pub fn rank_intervals(ratings: &[f64], intervals: &[(f64, f64)]) -> Vec<RankInterval> {
    let n = intervals.len();
    ranks(ratings)
        .into_iter()
        .zip(intervals)
        .map(|(rank, &(low, high))| RankInterval {
            rank,
            best: 1 + intervals.iter().filter(|(other_low, _)| *other_low > high).count(),
            worst: n - intervals.iter().filter(|(_, other_high)| *other_high < low).count(),
        })
        .collect()
}
