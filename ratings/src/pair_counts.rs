//! Results pooled into counts: wins, draws and losses per ordered pair of players.
//!
//! Counts are integers, so pooling is exact and independent of the order of the games; every
//! order-independent method in this crate (Bradley–Terry, its bootstrap) starts from here.

use crate::Result;
use crate::game::{GameResult, Outcome};

/// Wins, draws and losses of `first` against `second`, per ordered pair (first, second).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairCounts {
    players: usize,
    /// `[wins, draws, losses]` of first `i` against second `j` at `i * players + j`.
    wdl: Vec<[u64; 3]>,
}

/// One player's totals over all their games.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PlayerTotals {
    /// Games won.
    pub wins: u64,
    /// Games drawn.
    pub draws: u64,
    /// Games lost.
    pub losses: u64,
}

impl PlayerTotals {
    /// Games played.
    pub fn games(&self) -> u64 {
        self.wins + self.draws + self.losses
    }

    /// Points scored: wins + draws / 2.
    pub fn points(&self) -> f64 {
        self.wins as f64 + 0.5 * self.draws as f64
    }

    /// Points per game, 0 to 1 (NaN with no games).
    pub fn score(&self) -> f64 {
        self.points() / self.games() as f64
    }

    /// Share of games drawn, 0 to 1 (NaN with no games).
    pub fn draw_rate(&self) -> f64 {
        self.draws as f64 / self.games() as f64
    }
}

/// Counts of one unordered pair `i < j`, pooled over both seatings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PooledPair {
    /// The lower index.
    pub i: usize,
    /// The higher index.
    pub j: usize,
    /// Games `i` won against `j`.
    pub wins_i: f64,
    /// Draws between them.
    pub draws: f64,
    /// Games `j` won against `i`.
    pub wins_j: f64,
}

impl PooledPair {
    /// Games between the two.
    pub fn games(&self) -> f64 {
        self.wins_i + self.draws + self.wins_j
    }

    /// Points `i` scored against `j`.
    pub fn score_i(&self) -> f64 {
        self.wins_i + 0.5 * self.draws
    }

    /// Points `j` scored against `i`.
    pub fn score_j(&self) -> f64 {
        self.wins_j + 0.5 * self.draws
    }
}

impl PairCounts {
    /// No games among `players` players.
    pub fn new(players: usize) -> Self {
        Self { players, wdl: vec![[0; 3]; players * players] }
    }

    /// Pools `games` among `players` players; an invalid game is an error naming its position.
    pub fn from_games(players: usize, games: &[GameResult]) -> Result<Self> {
        let mut counts = Self::new(players);
        for (index, game) in games.iter().enumerate() {
            let outcome = game.validate(index, players)?;
            counts.add_outcome(game.first, game.second, outcome, 1);
        }
        Ok(counts)
    }

    /// Adds one game (number `game` in the caller's list, for the error message).
    pub fn add(&mut self, game: usize, result: &GameResult) -> Result<()> {
        let outcome = result.validate(game, self.players)?;
        self.add_outcome(result.first, result.second, outcome, 1);
        Ok(())
    }

    /// Adds `count` games of `first` against `second` with this outcome.
    ///
    /// # Panics
    /// If a player index is out of range (callers validate first).
    pub(crate) fn add_outcome(&mut self, first: usize, second: usize, outcome: Outcome, count: u64) {
        let slot = match outcome {
            Outcome::Win => 0,
            Outcome::Draw => 1,
            Outcome::Loss => 2,
        };
        self.wdl[first * self.players + second][slot] += count;
    }

    /// The number of players.
    pub fn players(&self) -> usize {
        self.players
    }

    /// `[wins, draws, losses]` of `first` against `second` with `first` listed first
    /// (zeros for an index out of range).
    pub fn ordered(&self, first: usize, second: usize) -> [u64; 3] {
        if first >= self.players || second >= self.players {
            return [0; 3];
        }
        self.wdl[first * self.players + second]
    }

    /// Games `i` won against `j`, in either seat.
    pub fn wins(&self, i: usize, j: usize) -> u64 {
        self.ordered(i, j)[0] + self.ordered(j, i)[2]
    }

    /// Draws between `i` and `j`, in either seating.
    pub fn draws(&self, i: usize, j: usize) -> u64 {
        self.ordered(i, j)[1] + self.ordered(j, i)[1]
    }

    /// Games between `i` and `j`, in either seating (the pooled N matrix).
    pub fn games(&self, i: usize, j: usize) -> u64 {
        self.wins(i, j) + self.draws(i, j) + self.wins(j, i)
    }

    /// Points `i` scored against `j`: wins + draws / 2 (the pooled S matrix).
    pub fn score(&self, i: usize, j: usize) -> f64 {
        self.wins(i, j) as f64 + 0.5 * self.draws(i, j) as f64
    }

    /// The pooled N matrix, row-major `players × players`: games between `i` and `j`.
    pub fn n_matrix(&self) -> Vec<f64> {
        let n = self.players;
        (0..n * n).map(|k| self.games(k / n, k % n) as f64).collect()
    }

    /// The pooled S matrix, row-major `players × players`: points `i` scored against `j`.
    pub fn s_matrix(&self) -> Vec<f64> {
        let n = self.players;
        (0..n * n).map(|k| self.score(k / n, k % n)).collect()
    }

    /// All games counted.
    pub fn total_games(&self) -> u64 {
        self.wdl.iter().map(|c| c[0] + c[1] + c[2]).sum()
    }

    /// All drawn games counted.
    pub fn total_draws(&self) -> u64 {
        self.wdl.iter().map(|c| c[1]).sum()
    }

    /// Player `i`'s totals over all opponents and seats.
    pub fn totals(&self, i: usize) -> PlayerTotals {
        let mut t = PlayerTotals::default();
        for j in 0..self.players {
            t.wins += self.wins(i, j);
            t.draws += self.draws(i, j);
            t.losses += self.wins(j, i);
        }
        t
    }

    /// The unordered pairs that played, pooled over both seatings, in increasing `(i, j)` order.
    pub fn pooled_pairs(&self) -> Vec<PooledPair> {
        let n = self.players;
        let mut pairs = Vec::new();
        for i in 0..n {
            for j in i + 1..n {
                let (wins_i, draws, wins_j) = (self.wins(i, j), self.draws(i, j), self.wins(j, i));
                if wins_i + draws + wins_j > 0 {
                    pairs.push(PooledPair { i, j, wins_i: wins_i as f64, draws: draws as f64, wins_j: wins_j as f64 });
                }
            }
        }
        pairs
    }

    /// The non-empty cells `(first, second, outcome, count)` in a fixed order.
    pub(crate) fn cells(&self) -> impl Iterator<Item = (usize, usize, Outcome, u64)> + '_ {
        let n = self.players;
        self.wdl.iter().enumerate().flat_map(move |(k, c)| {
            [(Outcome::Win, c[0]), (Outcome::Draw, c[1]), (Outcome::Loss, c[2])]
                .into_iter()
                .filter(|&(_, count)| count > 0)
                .map(move |(outcome, count)| (k / n, k % n, outcome, count))
        })
    }
}
