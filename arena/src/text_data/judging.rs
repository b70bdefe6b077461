//! Judge hygiene for games with a judge seat (debates): each judge's accuracy against the ground
//! truth, its pull towards the side that speaks first, its consistency when the debaters swap
//! seats, and a rating on the Elo scale.
//!
//! Games with a judge seat follow the debate convention: seat 0 argues that the proposition is
//! true (and speaks first unless the game says `first=con`), seat 1 that it is false, and seat 2 judges; the side the verdict picks
//! gets the higher return, and the judge's return is positive exactly when its verdict was right.

use std::collections::BTreeMap;

use ratings::logistic::elo_difference;
use ratings::proportion::wilson;
use serde::Serialize;

use crate::engine::runner::EndKind;
use crate::engine::tournament::{TournamentConfig, TournamentOutcome};
use crate::error::Result;
use crate::standings::LEVEL;
use crate::store::Store;

/// One verdict, read off a finished game.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The judge (an index into the tournament's judges).
    pub judge: usize,
    /// The game pair: both seat orders of one proposition share it.
    pub pair: u64,
    /// Whether the judge decided for the first speaker (the proposition is true).
    pub picked_pro: bool,
    /// Whether the proposition is true.
    pub pro_true: bool,
    /// Whether pro spoke first (`debate(first=pro)`, the default).
    pub pro_first: bool,
}

impl Verdict {
    /// The verdict of a game that ended normally with returns `[pro, con, judge]`; `None` for a
    /// game without a judge seat or one decided by a fault (no verdict was given).
    pub fn from_game(
        judge: Option<usize>,
        pair: u64,
        returns: &[f64],
        ended_normally: bool,
        pro_first: bool,
    ) -> Option<Verdict> {
        let (judge, [pro, con, judge_return]) = (judge?, <[f64; 3]>::try_from(returns).ok()?);
        if !ended_normally || pro == con {
            return None;
        }
        let picked_pro = pro > con;
        let right = judge_return > 0.0;
        Some(Verdict { judge, pair, picked_pro, pro_true: picked_pro == right, pro_first })
    }

    pub fn correct(&self) -> bool {
        self.picked_pro == self.pro_true
    }

    /// Whether the judge decided for the side that spoke first.
    pub fn picked_first(&self) -> bool {
        self.picked_pro == self.pro_first
    }

    /// Whether the side that spoke first was right.
    pub fn first_true(&self) -> bool {
        self.pro_true == self.pro_first
    }
}

/// Whether pro speaks first in a game of `spec` whose moves begin with `moves` (the first is the
/// drawn proposition, which decides the order under `first=random`).
pub fn pro_speaks_first(spec: &str, moves: &[games::Move]) -> bool {
    let first = games::Spec::parse(spec)
        .ok()
        .and_then(|s| s.get("first").and_then(games::debate::FirstSpeaker::parse))
        .unwrap_or(games::debate::FirstSpeaker::Pro);
    let proposition = match moves.first() {
        Some(games::Move::Action(index)) => *index as u64,
        _ => 0,
    };
    first.seat(proposition) == 0
}

/// The verdicts of a tournament: from its store when there is one (a resumed run's earlier games
/// count), else from the results the run collected. Under `first=random` the speaking order of a
/// game comes from its moves; a game without them counts pro as first.
pub fn verdicts(config: &TournamentConfig, outcome: &TournamentOutcome, store: Option<&Store>) -> Result<Vec<Verdict>> {
    let game = &outcome.game;
    Ok(match (store, outcome.tournament_id) {
        (Some(store), Some(id)) => stored_verdicts(store, id, game)?,
        _ => outcome
            .results
            .iter()
            .filter_map(|(index, result)| {
                let pairing = outcome.planned.get(*index as usize)?;
                let normal = result.end.kind() == EndKind::Normal;
                let pro_first = pro_speaks_first(game, &result.moves);
                Verdict::from_game(config.judge_of(pairing), pairing.opening, &result.returns, normal, pro_first)
            })
            .collect(),
    })
}

/// The verdicts of stored tournament `id` of `game`.
pub fn stored_verdicts(store: &Store, id: i64, game: &str) -> Result<Vec<Verdict>> {
    let moves = store.match_moves(id)?;
    Ok(store
        .finished(id)?
        .iter()
        .filter_map(|m| {
            let pro_first = pro_speaks_first(game, moves.get(&m.index).map_or(&[], Vec::as_slice));
            Verdict::from_game(m.judge, m.pair, &m.returns, m.end == EndKind::Normal, pro_first)
        })
        .collect())
}

/// The report of every judge of a store's tournaments, a judge being one name across them.
pub fn store_report(store: &Store) -> Result<Vec<JudgeReport>> {
    let mut names: Vec<String> = Vec::new();
    let mut verdicts = Vec::new();
    for tournament in store.tournaments()? {
        let judges = store.judges(tournament.id)?;
        if judges.is_empty() {
            continue;
        }
        let global: Vec<usize> = judges
            .iter()
            .map(|judge| match names.iter().position(|n| n == &judge.name) {
                Some(k) => k,
                None => {
                    names.push(judge.name.clone());
                    names.len() - 1
                }
            })
            .collect();
        for verdict in stored_verdicts(store, tournament.id, &tournament.game)? {
            let Some(&judge) = global.get(verdict.judge) else { continue };
            // Pairs are per tournament: the tournament's id keeps them apart.
            let pair = (tournament.id as u64) << 32 | (verdict.pair & 0xffff_ffff);
            verdicts.push(Verdict { judge, pair, ..verdict });
        }
    }
    Ok(report(&names, &verdicts))
}

/// The report of every judge of a tournament (empty when it has none).
pub fn tournament_report(
    config: &TournamentConfig,
    outcome: &TournamentOutcome,
    store: Option<&Store>,
) -> Result<Vec<JudgeReport>> {
    if config.judges.is_empty() {
        return Ok(Vec::new());
    }
    let names: Vec<String> = config.judges.iter().map(|j| j.name.clone()).collect();
    Ok(report(&names, &verdicts(config, outcome, store)?))
}

/// One judge's figures.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct JudgeReport {
    pub name: String,
    pub verdicts: u64,
    pub correct: u64,
    /// Share of right verdicts with its 95% Wilson interval.
    pub accuracy: f64,
    pub accuracy_low: f64,
    pub accuracy_high: f64,
    /// 400·log10(odds of a right verdict): the Bradley–Terry rating against a coin-flipping judge at
    /// 0 (from the accuracy with half a right and half a wrong verdict added, so it stays finite),
    /// with the interval carried over from the accuracy's (`None`: unbounded, at 0% or 100%).
    pub rating: f64,
    pub rating_low: Option<f64>,
    pub rating_high: Option<f64>,
    /// How often it decided for pro, and how often pro was right.
    pub picked_pro: f64,
    pub pro_true: f64,
    /// `picked_pro - pro_true`: positive when it leans to pro.
    pub pro_bias: f64,
    /// How often it decided for the side that spoke first, how often that side was right, and
    /// the difference: positive when it leans to the first speaker. Equal to the pro figures
    /// when pro always spoke first; tournaments with `debate(first=con)` tell the two leans apart
    /// (with verdicts from both orders, `pro_bias` and `first_bias` are separate measurements).
    pub picked_first: f64,
    pub first_true: f64,
    pub first_bias: f64,
    /// Pairs (both seat orders of a proposition) it judged twice, and the share where it gave the
    /// same verdict both times (the debaters swapped; the truth did not).
    pub pairs: u64,
    pub consistent: f64,
    /// 95% intervals: the lean to pro (normal approximation of the mean per-verdict difference
    /// `picked pro − pro true`) and the consistency (Wilson).
    #[serde(default)]
    pub pro_bias_interval: (f64, f64),
    #[serde(default)]
    pub consistent_interval: (f64, f64),
}

/// The report of every judge that gave a verdict, in judge order.
pub fn report(names: &[String], verdicts: &[Verdict]) -> Vec<JudgeReport> {
    let mut by_judge: BTreeMap<usize, Vec<&Verdict>> = BTreeMap::new();
    for verdict in verdicts {
        by_judge.entry(verdict.judge).or_default().push(verdict);
    }
    by_judge
        .into_iter()
        .map(|(judge, verdicts)| {
            let n = verdicts.len() as u64;
            let correct = verdicts.iter().filter(|v| v.correct()).count() as u64;
            let accuracy = wilson(correct, n, LEVEL);
            let (low, high) = (accuracy.low, accuracy.high);
            let share =
                |f: &dyn Fn(&Verdict) -> bool| verdicts.iter().filter(|v| f(v)).count() as f64 / n.max(1) as f64;
            let picked_pro = share(&|v| v.picked_pro);
            let pro_true = share(&|v| v.pro_true);
            let picked_first = share(&|v| v.picked_first());
            let first_true = share(&|v| v.first_true());
            let mut pairs: BTreeMap<u64, Vec<bool>> = BTreeMap::new();
            for v in &verdicts {
                pairs.entry(v.pair).or_default().push(v.picked_pro);
            }
            let judged_twice: Vec<&Vec<bool>> = pairs.values().filter(|p| p.len() == 2).collect();
            let same = judged_twice.iter().filter(|p| p[0] == p[1]).count() as u64;
            let consistent = same as f64 / judged_twice.len().max(1) as f64;
            let consistency = wilson(same, judged_twice.len() as u64, LEVEL);
            // Each verdict's `picked pro − pro true` is −1, 0 or 1; the lean is their mean.
            let differences: Vec<f64> =
                verdicts.iter().map(|v| f64::from(u8::from(v.picked_pro)) - f64::from(u8::from(v.pro_true))).collect();
            let mean = differences.iter().sum::<f64>() / n.max(1) as f64;
            let variance = differences.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (n.max(2) - 1) as f64;
            let half = 1.959963984540054 * (variance / n.max(1) as f64).sqrt();
            let smoothed = (correct as f64 + 0.5) / (n as f64 + 1.0);
            JudgeReport {
                name: names.get(judge).cloned().unwrap_or_else(|| format!("judge #{judge}")),
                verdicts: n,
                correct,
                accuracy: accuracy.share,
                accuracy_low: low,
                accuracy_high: high,
                rating: elo_difference(smoothed),
                rating_low: (low > 0.0).then(|| elo_difference(low)),
                rating_high: (high < 1.0).then(|| elo_difference(high)),
                picked_pro,
                pro_true,
                pro_bias: picked_pro - pro_true,
                picked_first,
                first_true,
                first_bias: picked_first - first_true,
                pairs: judged_twice.len() as u64,
                consistent,
                pro_bias_interval: ((mean - half).max(-1.0), (mean + half).min(1.0)),
                consistent_interval: (consistency.low, consistency.high),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(judge: usize, pair: u64, picked_pro: bool, pro_true: bool) -> Verdict {
        Verdict { judge, pair, picked_pro, pro_true, pro_first: true }
    }

    #[test]
    fn verdicts_follow_the_debate_returns() {
        // Pro won and the judge was right: the proposition is true.
        assert_eq!(Verdict::from_game(Some(1), 4, &[1.0, -1.0, 1.0], true, true), Some(verdict(1, 4, true, true)));
        // Pro won but the judge was wrong: it is false.
        assert_eq!(Verdict::from_game(Some(0), 4, &[1.0, -1.0, -1.0], true, true), Some(verdict(0, 4, true, false)));
        assert_eq!(Verdict::from_game(Some(0), 4, &[-1.0, 1.0, 1.0], true, true), Some(verdict(0, 4, false, false)));
        // Faults, two-seat games and games without a judge give no verdict.
        assert_eq!(Verdict::from_game(Some(0), 4, &[-1.0, 1.0, 1.0], false, true), None);
        assert_eq!(Verdict::from_game(Some(0), 4, &[-1.0, 1.0], true, true), None);
        assert_eq!(Verdict::from_game(None, 4, &[-1.0, 1.0, 1.0], true, true), None);
    }

    #[test]
    fn report_counts_accuracy_bias_and_consistency() {
        let names = vec!["always-pro".to_string(), "oracle-like".to_string()];
        let mut verdicts = Vec::new();
        for pair in 0..10 {
            let truth = pair % 2 == 0;
            for _ in 0..2 {
                verdicts.push(verdict(0, pair, true, truth));
                verdicts.push(verdict(1, pair, truth, truth));
            }
        }
        let reports = report(&names, &verdicts);
        assert_eq!(reports.len(), 2);
        let (pro, right) = (&reports[0], &reports[1]);
        assert_eq!((pro.verdicts, pro.correct), (20, 10));
        assert!((pro.accuracy - 0.5).abs() < 1e-12 && pro.rating.abs() < 1e-9);
        assert!((pro.pro_bias - 0.5).abs() < 1e-12, "{pro:?}");
        assert_eq!((pro.pairs, pro.consistent), (10, 1.0));
        assert_eq!(right.correct, 20);
        assert!(right.pro_bias.abs() < 1e-12);
        assert!(right.rating > 400.0 && right.rating_low.is_some_and(|low| low > 0.0), "{right:?}");
        assert_eq!(right.rating_high, None, "a perfect record has no upper bound");
        assert!(right.accuracy_low > 0.8 && right.accuracy_high == 1.0);
        // The lean to pro: half the verdicts +1, half 0, so 0.5 ± 1.96·sqrt(0.25·20/19 / 20).
        let half = 1.959963984540054 * (0.25 * 20.0 / 19.0 / 20.0f64).sqrt();
        assert!((pro.pro_bias_interval.0 - (0.5 - half)).abs() < 1e-12, "{pro:?}");
        assert!((pro.pro_bias_interval.1 - (0.5 + half)).abs() < 1e-12, "{pro:?}");
        assert_eq!(right.pro_bias_interval, (0.0, 0.0), "no lean, no spread");
        // 10 of 10 pairs consistent: Wilson's interval reaches 1 and stays above 0.7.
        assert!(pro.consistent_interval.1 == 1.0 && pro.consistent_interval.0 > 0.7, "{pro:?}");
    }

    /// With both speaking orders, a judge that always picks the first speaker shows a lean to the
    /// first speaker and none to pro; one that always picks pro, the other way round.
    #[test]
    fn both_speaking_orders_tell_a_lean_to_pro_from_a_lean_to_the_first_speaker() {
        let names = vec!["first-speaker".to_string(), "always-pro".to_string()];
        let mut verdicts = Vec::new();
        for pair in 0..20 {
            let (truth, pro_first) = (pair % 2 == 0, pair % 4 < 2);
            verdicts.push(Verdict { judge: 0, pair, picked_pro: pro_first, pro_true: truth, pro_first });
            verdicts.push(Verdict { judge: 1, pair, picked_pro: true, pro_true: truth, pro_first });
        }
        let reports = report(&names, &verdicts);
        let (first, pro) = (&reports[0], &reports[1]);
        assert!((first.first_bias - 0.5).abs() < 1e-12 && first.pro_bias.abs() < 1e-12, "{first:?}");
        assert!((pro.pro_bias - 0.5).abs() < 1e-12 && pro.first_bias.abs() < 1e-12, "{pro:?}");
        assert!(pro_speaks_first("debate(rounds=1)", &[]) && pro_speaks_first("debate(first=pro)", &[]));
        assert!(!pro_speaks_first("debate(rounds=1,first=con)", &[]));
    }

    #[test]
    fn the_speaking_order_comes_from_the_spec_and_under_random_from_the_drawn_proposition() {
        use games::Move;
        assert!(pro_speaks_first("debate(rounds=2)", &[]));
        assert!(!pro_speaks_first("debate(first=con)", &[Move::Action(5)]));
        let orders: Vec<bool> = (0..20).map(|p| pro_speaks_first("debate(first=random)", &[Move::Action(p)])).collect();
        assert!(orders.contains(&true) && orders.contains(&false), "{orders:?}");
        for (p, &pro_first) in orders.iter().enumerate() {
            assert_eq!(pro_first, games::debate::FirstSpeaker::Random.seat(p as u64) == 0);
        }
    }
}
