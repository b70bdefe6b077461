//! Tallies of finished matches: standings, crosstable, game-pair (pentanomial) counts and end
//! reasons. Tallies merge, and merging is order-independent, so the totals are the same whatever
//! order the games finished in and however many threads played them.

use std::collections::BTreeMap;

use ratings::paired::{Pentanomial, Trinomial};

use crate::engine::runner::EndKind;

/// Seat 0's score from the returns: 1 if it did better than seat 1, 0.5 if equal, 0 if worse.
pub fn score_of_seat0(returns: &[f64]) -> f64 {
    match returns {
        [a, b, ..] if a > b => 1.0,
        [a, b, ..] if a < b => 0.0,
        _ => 0.5,
    }
}

/// One agent's totals.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct AgentTotals {
    pub games: u64,
    pub points: f64,
    pub wins: u64,
    pub draws: u64,
    pub losses: u64,
    /// Games this agent lost by a fault.
    pub faults: u64,
}

/// One game lost by a fault, shown as the example of its kind.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct FaultExample {
    /// The match's index in its tournament.
    pub match_index: u64,
    /// The seat that lost by the fault.
    pub seat: usize,
    /// The faulty player (an index into the tournament's agents), `None` for a judge.
    pub agent: Option<usize>,
    /// The faulty judge (an index into the tournament's judges), when the judge seat faulted.
    pub judge: Option<usize>,
    /// What went wrong (bounded, as stored).
    pub detail: String,
}

/// Finished matches, summed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tally {
    agents: usize,
    /// `wdl[i * agents + j]`: i's wins, draws and losses against j (either seat).
    wdl: Vec<[u64; 3]>,
    totals: Vec<AgentTotals>,
    /// Completed game pairs at `low * agents + high`, from the lower index's side.
    pairs: Vec<Pentanomial>,
    /// Game pairs with one game finished: (opening number, low agent, high agent, low's score).
    /// The two games of a pair are usually played one after the other, so the match is found at
    /// the end of this short list.
    half_pairs: Vec<(u64, usize, usize, f64)>,
    /// Games per way of ending, counted by [`EndKind::index`].
    end_reasons: [u64; EndKind::ALL.len()],
    /// For each way of ending by a fault, the game with the lowest match index that ended so: the
    /// lowest, so the example is the same whatever order the games finished in.
    fault_examples: [Option<FaultExample>; EndKind::ALL.len()],
    games: u64,
}

impl Tally {
    pub fn new(agents: usize) -> Self {
        Tally {
            agents,
            wdl: vec![[0; 3]; agents * agents],
            pairs: vec![Pentanomial::default(); agents * agents],
            totals: vec![AgentTotals::default(); agents],
            ..Tally::default()
        }
    }

    /// Adds a finished game between `seats` (agent indices), with seat 0's score. `pair_key` joins
    /// the two games of a game pair (they share their opening number).
    pub fn add(&mut self, seats: [usize; 2], score0: f64, end: EndKind, fault_seat: Option<usize>, pair_key: u64) {
        self.games += 1;
        self.end_reasons[end.index()] += 1;
        for (seat, agent) in seats.into_iter().enumerate() {
            let score = if seat == 0 { score0 } else { 1.0 - score0 };
            let opponent = seats[1 - seat];
            let slot = if score == 1.0 {
                0
            } else if score == 0.5 {
                1
            } else {
                2
            };
            self.wdl[agent * self.agents + opponent][slot] += 1;
            let totals = &mut self.totals[agent];
            totals.games += 1;
            totals.points += score;
            match slot {
                0 => totals.wins += 1,
                1 => totals.draws += 1,
                _ => totals.losses += 1,
            }
            if fault_seat == Some(seat) {
                totals.faults += 1;
            }
        }
        let (low, score_low) = if seats[0] < seats[1] { (seats[0], score0) } else { (seats[1], 1.0 - score0) };
        self.join_pair(pair_key, low, seats[0].max(seats[1]), score_low);
    }

    /// Keeps `example` as the example of `kind` if it is the earliest game seen that ended so.
    pub fn note_fault(&mut self, kind: EndKind, example: FaultExample) {
        let slot = &mut self.fault_examples[kind.index()];
        if slot.as_ref().is_none_or(|kept| example.match_index < kept.match_index) {
            *slot = Some(example);
        }
    }

    fn join_pair(&mut self, key: u64, low: usize, high: usize, score_low: f64) {
        match self.half_pairs.iter().rposition(|&(k, ..)| k == key) {
            Some(position) => {
                let (_, _, _, first) = self.half_pairs.swap_remove(position);
                // Both scores are 1, 0.5 or 0, so the pair is always valid.
                let _ = self.pairs[low * self.agents + high].add_pair(first, score_low);
            }
            None => self.half_pairs.push((key, low, high, score_low)),
        }
    }

    /// Adds everything in `other` (a tally of other games of the same tournament).
    pub fn merge(&mut self, other: Tally) {
        if self.agents == 0 {
            *self = other;
            return;
        }
        self.games += other.games;
        for (mine, theirs) in self.wdl.iter_mut().zip(&other.wdl) {
            for k in 0..3 {
                mine[k] += theirs[k];
            }
        }
        for (mine, theirs) in self.totals.iter_mut().zip(&other.totals) {
            mine.games += theirs.games;
            mine.points += theirs.points;
            mine.wins += theirs.wins;
            mine.draws += theirs.draws;
            mine.losses += theirs.losses;
            mine.faults += theirs.faults;
        }
        for (mine, theirs) in self.pairs.iter_mut().zip(&other.pairs) {
            for k in 0..5 {
                mine.counts[k] += theirs.counts[k];
            }
        }
        for (mine, theirs) in self.end_reasons.iter_mut().zip(other.end_reasons) {
            *mine += theirs;
        }
        for (kind, example) in EndKind::ALL.into_iter().zip(other.fault_examples) {
            if let Some(example) = example {
                self.note_fault(kind, example);
            }
        }
        for (key, low, high, score) in other.half_pairs {
            self.join_pair(key, low, high, score);
        }
    }

    pub fn games(&self) -> u64 {
        self.games
    }

    pub fn agents(&self) -> usize {
        self.agents
    }

    pub fn totals(&self, agent: usize) -> &AgentTotals {
        &self.totals[agent]
    }

    /// Agent `i`'s wins, draws and losses against `j`.
    pub fn head_to_head(&self, i: usize, j: usize) -> Trinomial {
        let [w, d, l] = self.wdl[i * self.agents + j];
        Trinomial::new(w, d, l)
    }

    /// Game-pair counts between `i` and `j`, from `i`'s side.
    pub fn game_pairs(&self, i: usize, j: usize) -> Pentanomial {
        let counts = self.pairs[i.min(j) * self.agents + i.max(j)].counts;
        if i <= j {
            Pentanomial::new(counts)
        } else {
            Pentanomial::new([counts[4], counts[3], counts[2], counts[1], counts[0]])
        }
    }

    /// How many games ended each way, in [`EndKind::ALL`] order; ways no game ended are left out.
    pub fn end_reasons(&self) -> Vec<(EndKind, u64)> {
        EndKind::ALL.into_iter().zip(self.end_reasons).filter(|&(_, n)| n > 0).collect()
    }

    /// The ways games were lost by faults, with how many and the earliest game of each, in
    /// [`EndKind::ALL`] order.
    pub fn faults(&self) -> Vec<(EndKind, u64, &FaultExample)> {
        EndKind::ALL
            .into_iter()
            .zip(self.end_reasons)
            .zip(&self.fault_examples)
            .filter_map(|((kind, n), example)| Some((kind, n, example.as_ref()?)))
            .collect()
    }

    /// [`Tally::end_reasons`] by label (`normal`, `max_length`, `timeout`, ...), for JSON.
    pub fn end_reason_labels(&self) -> BTreeMap<&'static str, u64> {
        self.end_reasons().into_iter().map(|(kind, n)| (kind.as_str(), n)).collect()
    }

    /// The pooled counts the ratings crate fits.
    pub fn pair_counts(&self) -> ratings::PairCounts {
        self.pair_counts_with_virtual_draws(0)
    }

    /// The pooled counts with `draws` virtual drawn games added to every pairing that played
    /// (BayesElo's prior): an agent that won every game then gets a large but finite rating.
    pub fn pair_counts_with_virtual_draws(&self, draws: u64) -> ratings::PairCounts {
        let mut counts = ratings::PairCounts::new(self.agents);
        let mut game = 0;
        for i in 0..self.agents {
            // Each game is in the matrix twice (from each side): take it from the lower index's side.
            for j in i + 1..self.agents {
                let [w, d, l] = self.wdl[i * self.agents + j];
                let d = if w + d + l > 0 { d + draws } else { d };
                for (n, score) in [(w, 1.0), (d, 0.5), (l, 0.0)] {
                    for _ in 0..n {
                        // Indices are in range and scores valid by construction.
                        let _ = counts.add(game, &ratings::GameResult { first: i, second: j, score });
                        game += 1;
                    }
                }
            }
        }
        counts
    }
}
