//! Schedules: which agents meet, in which seats, in which order — round robin, gauntlet, Swiss and
//! knockout.
//!
//! A schedule is a pure function from the results so far to the list of matches determined so far
//! ([`plan`]). Each call returns a prefix-extension of the previous one, so match indices are stable:
//! a resumed tournament re-plans from its stored results and gets the same indices, seats and seeds.
//! Games between two agents come in pairs with swapped seats and a shared opening, so the first-move
//! advantage cancels.

use serde::{Deserialize, Serialize};

/// The kind of schedule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScheduleKind {
    /// Every agent meets every other.
    #[default]
    RoundRobin,
    /// The first agent meets each of the others.
    Gauntlet,
    /// Rounds pairing agents of similar score, avoiding repeated pairings (at most agents − 1
    /// rounds, or `agents` when odd); an odd one out gets a bye.
    Swiss,
    /// A seeded single-elimination bracket; tied pairings play tie-break game pairs.
    Knockout,
}

impl ScheduleKind {
    /// Every kind with its name in configs and on the command line.
    pub const NAMES: [(&'static str, ScheduleKind); 4] = [
        ("round-robin", ScheduleKind::RoundRobin),
        ("gauntlet", ScheduleKind::Gauntlet),
        ("swiss", ScheduleKind::Swiss),
        ("knockout", ScheduleKind::Knockout),
    ];

    /// The name in configs and on the command line (`round-robin`, ...).
    pub fn name(self) -> &'static str {
        ScheduleKind::NAMES.iter().find(|(_, kind)| *kind == self).map_or("", |(name, _)| name)
    }
}

impl std::fmt::Display for ScheduleKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Tie-break game pairs a knockout pairing plays at most before the higher seed goes through.
pub const MAX_TIEBREAK_PAIRS: u32 = 3;

/// What a schedule needs to know.
#[derive(Clone, Copy, Debug)]
pub struct ScheduleSpec {
    pub kind: ScheduleKind,
    pub agents: usize,
    pub games_per_pairing: u32,
    /// Swiss rounds (default: ceil(log2(agents)) + 1).
    pub rounds: Option<u32>,
}

/// One scheduled game.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pairing {
    /// The round (1-based); tie-break games keep their round.
    pub round: u32,
    /// Agent indices by seat.
    pub seats: [usize; 2],
    /// Which opening (an index into the tournament's openings, or the random opening number).
    pub opening: u64,
}

/// The matches determined by the results so far, in index order.
///
/// `finished[i]` is match `i`'s score for seat 0 (1, 0.5 or 0), or `None` while it is unfinished;
/// it may be shorter than the plan.
pub fn plan(spec: &ScheduleSpec, finished: &[Option<f64>]) -> Vec<Pairing> {
    let mut planner = Planner { spec, finished, out: Vec::new(), openings: 0 };
    match spec.kind {
        ScheduleKind::RoundRobin => {
            let pairs: Vec<(usize, usize)> =
                (0..spec.agents).flat_map(|i| (i + 1..spec.agents).map(move |j| (i, j))).collect();
            planner.games_between(1, &pairs, spec.games_per_pairing);
        }
        ScheduleKind::Gauntlet => {
            let pairs: Vec<(usize, usize)> = (1..spec.agents).map(|j| (0, j)).collect();
            planner.games_between(1, &pairs, spec.games_per_pairing);
        }
        ScheduleKind::Swiss => planner.swiss(),
        ScheduleKind::Knockout => planner.knockout(),
    }
    planner.out
}

/// Number of rounds a Swiss tournament plays by default.
pub fn default_swiss_rounds(agents: usize) -> u32 {
    (agents.max(2) as f64).log2().ceil() as u32 + 1
}

struct Planner<'a> {
    spec: &'a ScheduleSpec,
    finished: &'a [Option<f64>],
    out: Vec<Pairing>,
    openings: u64,
}

impl Planner<'_> {
    /// Game pairs between each pairing: pair k of every pairing before pair k+1 of any, so early
    /// results cover every pairing. Each game pair shares an opening, seats swapped.
    fn games_between(&mut self, round: u32, pairs: &[(usize, usize)], games: u32) {
        for pair_number in 0..games.div_ceil(2) {
            for &(a, b) in pairs {
                let opening = self.openings;
                self.openings += 1;
                self.out.push(Pairing { round, seats: [a, b], opening });
                if 2 * pair_number + 1 < games {
                    self.out.push(Pairing { round, seats: [b, a], opening });
                }
            }
        }
    }

    /// Whether every match planned so far has finished.
    fn all_finished(&self) -> bool {
        (0..self.out.len()).all(|i| self.finished.get(i).copied().flatten().is_some())
    }

    /// Scores of `a` and `b` in the planned, finished games of `round` between them.
    fn scores_between(&self, round: u32, a: usize, b: usize) -> (f64, f64) {
        let mut scores = (0.0, 0.0);
        for (i, pairing) in self.out.iter().enumerate().filter(|(_, p)| p.round == round) {
            let Some(score) = self.finished.get(i).copied().flatten() else { continue };
            match pairing.seats {
                [x, y] if x == a && y == b => scores = (scores.0 + score, scores.1 + 1.0 - score),
                [x, y] if x == b && y == a => scores = (scores.0 + 1.0 - score, scores.1 + score),
                _ => {}
            }
        }
        scores
    }

    fn swiss(&mut self) {
        let n = self.spec.agents;
        let rounds = self.spec.rounds.unwrap_or_else(|| default_swiss_rounds(n));
        let mut points = vec![0.0f64; n];
        let mut met = vec![vec![false; n]; n];
        let mut had_bye = vec![false; n];
        for round in 1..=rounds {
            if !self.all_finished() {
                return;
            }
            // Standings from every finished game so far, byes counted as won games.
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by(|&a, &b| points[b].total_cmp(&points[a]).then(a.cmp(&b)));
            if n % 2 == 1 {
                let bye = order.iter().rev().copied().find(|&p| !had_bye[p]).unwrap_or(order[n - 1]);
                had_bye[bye] = true;
                points[bye] += self.spec.games_per_pairing as f64;
                order.retain(|&p| p != bye);
            }
            let pairs =
                pair_without_repeats(&order, &met).unwrap_or_else(|| order.chunks(2).map(|c| (c[0], c[1])).collect());
            for &(a, b) in &pairs {
                met[a][b] = true;
                met[b][a] = true;
            }
            let start = self.out.len();
            self.games_between(round, &pairs, self.spec.games_per_pairing);
            for (i, pairing) in self.out.iter().enumerate().skip(start) {
                if let Some(score) = self.finished.get(i).copied().flatten() {
                    points[pairing.seats[0]] += score;
                    points[pairing.seats[1]] += 1.0 - score;
                }
            }
        }
    }

    fn knockout(&mut self) {
        let n = self.spec.agents;
        // Bracket slots in seed order; seeds beyond n are byes.
        let mut alive: Vec<Option<usize>> =
            bracket_order(n.next_power_of_two()).into_iter().map(|s| (s < n).then_some(s)).collect();
        let mut round = 1;
        while alive.len() > 1 {
            let ties: Vec<(usize, usize)> = alive
                .chunks(2)
                .filter_map(|slot| match slot {
                    [Some(a), Some(b)] => Some((*a, *b)),
                    _ => None,
                })
                .collect();
            self.games_between(round, &ties, self.spec.games_per_pairing);
            let mut tiebreaks = 0;
            loop {
                if !self.all_finished() {
                    return;
                }
                let undecided: Vec<(usize, usize)> = ties
                    .iter()
                    .copied()
                    .filter(|&(a, b)| {
                        let (x, y) = self.scores_between(round, a, b);
                        x == y
                    })
                    .collect();
                if undecided.is_empty() || tiebreaks == MAX_TIEBREAK_PAIRS {
                    break;
                }
                self.games_between(round, &undecided, 2);
                tiebreaks += 1;
            }
            alive = alive
                .chunks(2)
                .map(|slot| match slot {
                    [Some(a), Some(b)] => {
                        let (x, y) = self.scores_between(round, *a, *b);
                        // Still level after the tie-breaks: the higher seed (lower index) goes through.
                        Some(if x > y || (x == y && a < b) { *a } else { *b })
                    }
                    [one, other] => one.or(*other),
                    [one] => *one,
                    _ => None,
                })
                .collect();
            round += 1;
        }
    }
}

/// Seeds in bracket order for a bracket of `size` (a power of two): 0 meets size-1, and the best
/// two seeds can only meet in the final.
fn bracket_order(size: usize) -> Vec<usize> {
    let mut order = vec![0usize];
    while order.len() < size {
        let next = order.len() * 2;
        order = order.iter().flat_map(|&s| [s, next - 1 - s]).collect();
    }
    order
}

/// Pairs players in standing order, each with the best-placed opponent it has not met, backtracking
/// where needed. `None` if no such pairing exists.
fn pair_without_repeats(order: &[usize], met: &[Vec<bool>]) -> Option<Vec<(usize, usize)>> {
    let Some((&first, rest)) = order.split_first() else { return Some(Vec::new()) };
    for (k, &opponent) in rest.iter().enumerate() {
        if met[first][opponent] {
            continue;
        }
        let remaining: Vec<usize> = rest.iter().enumerate().filter(|&(i, _)| i != k).map(|(_, &p)| p).collect();
        if let Some(mut pairs) = pair_without_repeats(&remaining, met) {
            pairs.insert(0, (first, opponent));
            return Some(pairs);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: ScheduleKind, agents: usize, games: u32) -> ScheduleSpec {
        ScheduleSpec { kind, agents, games_per_pairing: games, rounds: None }
    }

    /// Plays a schedule to its end with `score(seats)` deciding each game.
    fn run(spec: &ScheduleSpec, score: impl Fn([usize; 2]) -> f64) -> (Vec<Pairing>, Vec<Option<f64>>) {
        let mut finished: Vec<Option<f64>> = Vec::new();
        loop {
            let planned = plan(spec, &finished);
            if planned.len() == finished.len() {
                return (planned, finished);
            }
            for pairing in &planned[finished.len()..] {
                finished.push(Some(score(pairing.seats)));
            }
        }
    }

    #[test]
    fn round_robin_plays_every_pairing_with_seats_alternated() {
        let (planned, _) = run(&spec(ScheduleKind::RoundRobin, 4, 4), |_| 0.5);
        assert_eq!(planned.len(), 6 * 4);
        for i in 0..4 {
            for j in 0..4 {
                let as_first = planned.iter().filter(|p| p.seats == [i, j]).count();
                assert_eq!(as_first, if i == j { 0 } else { 2 }, "{i} vs {j}");
            }
        }
        // Game pairs share an opening with seats swapped.
        assert_eq!(planned[0].seats, [0, 1]);
        assert_eq!(planned[1].seats, [1, 0]);
        assert_eq!(planned[0].opening, planned[1].opening);
        assert_ne!(planned[0].opening, planned[2].opening);
        // An odd number of games gives the last pair one game.
        assert_eq!(plan(&spec(ScheduleKind::RoundRobin, 3, 3), &[]).len(), 9);
    }

    #[test]
    fn gauntlet_pits_the_first_agent_against_each_other() {
        let planned = plan(&spec(ScheduleKind::Gauntlet, 4, 2), &[]);
        assert_eq!(planned.len(), 6);
        assert!(planned.iter().all(|p| p.seats.contains(&0)));
    }

    #[test]
    fn swiss_never_repeats_a_pairing_and_gives_byes() {
        let strength = |seats: [usize; 2]| if seats[0] < seats[1] { 1.0 } else { 0.0 };
        let spec = ScheduleSpec { kind: ScheduleKind::Swiss, agents: 7, games_per_pairing: 2, rounds: Some(4) };
        let (planned, _) = run(&spec, strength);
        let mut pairs: Vec<(usize, usize)> =
            planned.iter().map(|p| (p.seats[0].min(p.seats[1]), p.seats[0].max(p.seats[1]))).collect();
        assert_eq!(planned.len(), 4 * 3 * 2, "3 pairings of 2 games per round, one bye");
        pairs.sort();
        pairs.dedup();
        assert_eq!(pairs.len(), 4 * 3, "no pairing twice");
        for round in 1..=4 {
            let playing: Vec<usize> = planned.iter().filter(|p| p.round == round).flat_map(|p| p.seats).collect();
            let mut distinct = playing.clone();
            distinct.sort();
            distinct.dedup();
            assert_eq!(distinct.len(), 6, "round {round}: everyone but the bye plays once");
        }
        // Round 2 pairs the round-1 winners with each other: 0 won its game pair in round 1.
        let round_two: Vec<[usize; 2]> = planned.iter().filter(|p| p.round == 2).map(|p| p.seats).collect();
        assert!(round_two.iter().any(|s| s.contains(&0)));
    }

    #[test]
    fn knockout_bracket_sends_the_stronger_agent_through() {
        // Lower index is stronger and wins every game: seed 0 must win the final against seed 1.
        let strength = |seats: [usize; 2]| if seats[0] < seats[1] { 1.0 } else { 0.0 };
        let (planned, _) = run(&spec(ScheduleKind::Knockout, 6, 2), strength);
        let last_round = planned.iter().map(|p| p.round).max();
        assert_eq!(last_round, Some(3));
        let final_seats: Vec<[usize; 2]> = planned.iter().filter(|p| p.round == 3).map(|p| p.seats).collect();
        assert!(final_seats.iter().all(|s| s.contains(&0) && s.contains(&1)), "{final_seats:?}");
        // Seeds 0 and 1 have byes in round 1 of a 6-agent bracket.
        assert!(planned.iter().filter(|p| p.round == 1).all(|p| !p.seats.contains(&0) && !p.seats.contains(&1)));
    }

    #[test]
    fn knockout_plays_tiebreak_pairs_when_level() {
        // Every game is drawn: each tie plays its pair, then MAX_TIEBREAK_PAIRS tie-break pairs.
        let (planned, _) = run(&spec(ScheduleKind::Knockout, 2, 2), |_| 0.5);
        assert_eq!(planned.len(), 2 + 2 * MAX_TIEBREAK_PAIRS as usize);
        let (planned, _) = run(&spec(ScheduleKind::Knockout, 2, 2), |seats| if seats[0] == 1 { 1.0 } else { 0.5 });
        assert_eq!(planned.len(), 2, "decided without tie-breaks");
    }

    #[test]
    fn plans_extend_their_earlier_prefixes() {
        let strength = |seats: [usize; 2]| if (seats[0] + seats[1]).is_multiple_of(3) { 1.0 } else { 0.0 };
        for kind in [ScheduleKind::Swiss, ScheduleKind::Knockout] {
            let spec = spec(kind, 5, 2);
            let (full, finished) = run(&spec, strength);
            for cut in 0..finished.len() {
                let partial = plan(&spec, &finished[..cut]);
                assert_eq!(&full[..partial.len()], &partial[..], "{kind:?} cut at {cut}");
            }
        }
    }
}
