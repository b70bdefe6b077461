//! Prioritised fictitious self-play (AlphaStar's PFSP) for board-game runs: a share of each
//! parent's self-play games goes to opponents of the generation's tournament, each getting games
//! by how often it beat the parent there, and only the parent's own moves in those games become
//! training positions — the next generation learns most where its parent loses most.

use serde::{Deserialize, Serialize};

use crate::engine::runner::MatchResult;
use crate::engine::schedule::Pairing;

/// How an opponent's weight follows the parent's score `x` against it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Weighting {
    /// `(1 − x)²`: the opponents that beat the parent most get most games; one it always beats
    /// gets none.
    #[default]
    Hard,
    /// `x (1 − x)`: the opponents of about equal strength get most games; one the parent always
    /// beats or always loses to gets none.
    Variance,
}

impl Weighting {
    /// The weight of an opponent against which the parent scored `score` (0 to 1).
    pub fn weight(self, score: f64) -> f64 {
        let x = score.clamp(0.0, 1.0);
        match self {
            Weighting::Hard => (1.0 - x) * (1.0 - x),
            Weighting::Variance => x * (1.0 - x),
        }
    }
}

/// A candidate opponent of one parent, with its record in the generation's tournament.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    pub name: String,
    /// Its index among the tournament's agents.
    pub index: usize,
    /// The parent's score against it (wins and half the draws over games).
    pub score: f64,
    pub games: u64,
}

/// One opponent of a parent's PFSP games: its record against the parent and the games it got.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpponentDraw {
    pub parent: String,
    pub opponent: String,
    /// The parent's score against it in the generation's tournament.
    pub score: f64,
    /// Tournament games the score comes from.
    pub tournament_games: u64,
    /// Its share of the PFSP games' weight (the weights of one parent's opponents sum to 1).
    pub weight: f64,
    /// PFSP games the parent plays against it.
    pub games: u32,
}

/// Splits `games` among `candidates` in proportion to their weights, in pairs of games (each
/// opponent meets the parent from both seats), by largest remainder; ties go to the candidate
/// listed first. Every candidate is listed, with its games (possibly 0). When no candidate has
/// any weight (the parent beat them all every time), no game goes to them: the caller plays those
/// games as self-play.
pub fn allocate(parent: &str, candidates: &[Candidate], weighting: Weighting, games: u32) -> Vec<OpponentDraw> {
    let weights: Vec<f64> = candidates.iter().map(|c| weighting.weight(c.score)).collect();
    let total: f64 = weights.iter().sum();
    let pairs = games / 2;
    let mut draws: Vec<OpponentDraw> = candidates
        .iter()
        .zip(&weights)
        .map(|(c, w)| OpponentDraw {
            parent: parent.to_string(),
            opponent: c.name.clone(),
            score: c.score,
            tournament_games: c.games,
            weight: if total > 1e-12 { w / total } else { 0.0 },
            games: 0,
        })
        .collect();
    if total <= 1e-12 || pairs == 0 {
        return draws;
    }
    let quotas: Vec<f64> = draws.iter().map(|d| d.weight * pairs as f64).collect();
    let mut given = 0;
    for (draw, quota) in draws.iter_mut().zip(&quotas) {
        let whole = quota.floor() as u32;
        draw.games = 2 * whole;
        given += whole;
    }
    let mut by_remainder: Vec<usize> = (0..draws.len()).collect();
    by_remainder.sort_by(|&a, &b| (quotas[b] - quotas[b].floor()).total_cmp(&(quotas[a] - quotas[a].floor())));
    for &i in by_remainder.iter().take((pairs - given) as usize) {
        draws[i].games += 2;
    }
    draws
}

/// The games of a parent (agent `learner` of the schedule `planned`) against one opponent, each
/// trajectory cut to the parent's own decisions: the opponent's moves come from another model
/// and are not the parent's to learn. A game whose seats are unknown is left out.
pub fn learner_games(results: Vec<(u64, MatchResult)>, planned: &[Pairing], learner: usize) -> Vec<MatchResult> {
    results
        .into_iter()
        .filter_map(|(index, mut result)| {
            let seats = planned.get(usize::try_from(index).ok()?)?.seats;
            result.trajectory.retain(|step| seats.get(step.player) == Some(&learner));
            Some(result)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidates(scores: &[f64]) -> Vec<Candidate> {
        scores
            .iter()
            .enumerate()
            .map(|(i, &score)| Candidate { name: format!("o{i}"), index: i, score, games: 20 })
            .collect()
    }

    #[test]
    fn weights_follow_the_losses() {
        assert_eq!(Weighting::Hard.weight(1.0), 0.0);
        assert_eq!(Weighting::Hard.weight(0.0), 1.0);
        assert_eq!(Weighting::Hard.weight(0.5), 0.25);
        assert_eq!(Weighting::Variance.weight(0.0), 0.0);
        assert_eq!(Weighting::Variance.weight(1.0), 0.0);
        assert_eq!(Weighting::Variance.weight(0.5), 0.25);
        assert!(Weighting::Hard.weight(0.2) > Weighting::Hard.weight(0.6));
    }

    #[test]
    fn games_go_in_pairs_to_the_opponents_that_beat_the_parent() {
        // Scores 1.0, 0.5 and 0.0: weights 0, 0.25 and 1 → shares 0, 0.2, 0.8 of 50 pairs.
        let draws = allocate("p", &candidates(&[1.0, 0.5, 0.0]), Weighting::Hard, 100);
        let games: Vec<u32> = draws.iter().map(|d| d.games).collect();
        assert_eq!(games, vec![0, 20, 80]);
        assert!((draws[2].weight - 0.8).abs() < 1e-12);
        assert!(draws.iter().all(|d| d.parent == "p" && d.tournament_games == 20));
    }

    #[test]
    fn the_remainder_goes_by_largest_fraction_and_every_game_is_given() {
        // Three equal weights over 5 pairs: 1.67 each, two get the spare pairs.
        let draws = allocate("p", &candidates(&[0.3, 0.3, 0.3]), Weighting::Hard, 11);
        let games: Vec<u32> = draws.iter().map(|d| d.games).collect();
        assert_eq!(games.iter().sum::<u32>(), 10, "an odd game is left to self-play");
        assert!(games.iter().all(|g| g % 2 == 0 && (2..=4).contains(g)), "{games:?}");
    }

    #[test]
    fn a_parent_that_beat_everyone_plays_no_pfsp_game() {
        let draws = allocate("p", &candidates(&[1.0, 1.0]), Weighting::Hard, 40);
        assert!(draws.iter().all(|d| d.games == 0 && d.weight == 0.0));
        assert!(allocate("p", &[], Weighting::Hard, 40).is_empty());
    }

    #[test]
    fn only_the_learners_steps_stay() {
        use crate::engine::runner::{EndReason, Step};
        use games::Move;
        let step = |player| Step { player, observation: vec![], action: Move::Action(0), policy: None, value: None };
        let game = MatchResult {
            returns: vec![1.0, -1.0],
            end: EndReason::Normal,
            length: 3,
            moves: vec![],
            move_micros: vec![],
            trajectory: vec![step(0), step(1), step(0)],
            turns: vec![],
        };
        let planned =
            vec![Pairing { round: 1, seats: [0, 1], opening: 0 }, Pairing { round: 1, seats: [1, 0], opening: 0 }];
        let kept = learner_games(vec![(0, game.clone()), (1, game.clone()), (7, game)], &planned, 0);
        assert_eq!(kept.len(), 2, "the game outside the schedule is left out");
        assert_eq!(kept[0].trajectory.iter().map(|s| s.player).collect::<Vec<_>>(), vec![0, 0]);
        assert_eq!(kept[1].trajectory.iter().map(|s| s.player).collect::<Vec<_>>(), vec![1]);
    }
}
