//! Rating a generation and selecting from it: a round robin of the population, the league of
//! earlier champions and the fixed anchors (`random` and the `mcts` ladder held at their
//! calibrated ratings, [`super::anchors`]; for language models the base model at 0 and `random`
//! where it can play), Bradley–Terry ratings with one virtual draw per pairing and bootstrap
//! intervals; the champion and parents are the best by the lower end of their interval.

use agents::AgentConfig;

use super::anchors::{Calibration, anchors};
use super::language::BASE;
use super::pfsp::Candidate;
use super::{Generation, RatedAgent};
use crate::engine::openings::OpeningSource;
use crate::engine::seeds::{EvolveStream, evolve_seed};
use crate::engine::tally::Tally;
use crate::engine::tournament::{AgentEntry, RunOptions, TournamentConfig, TournamentOutcome, run_tournament};
use crate::error::{Context, Result};
use crate::standings::{IntervalMethod, RatingFit, anchored_at_zero, fit_with_intervals};

/// A rated generation.
#[derive(Clone, Debug)]
pub struct RatedGeneration {
    /// Every agent of the tournament, in tournament order.
    pub ratings: Vec<RatedAgent>,
    /// The population, best first by the lower end of the interval (then the rating).
    pub ranked: Vec<RatedAgent>,
    /// The champion's score against each anchor.
    pub vs_anchors: Vec<(String, f64)>,
    pub games: u64,
    pub tournament_id: Option<i64>,
    /// Every head-to-head record of the tournament (agents in tournament order).
    pub tally: Tally,
    /// The index of the first anchor: the agents before it are the population and the league.
    pub first_anchor: usize,
}

impl RatedGeneration {
    /// The best of the population.
    pub fn champion(&self) -> &RatedAgent {
        &self.ranked[0]
    }

    /// The `count` best of the population (at least one).
    pub fn parents(&self, count: usize) -> Vec<String> {
        self.ranked.iter().take(count.max(1)).map(|r| r.name.clone()).collect()
    }

    /// The opponents `parent` met in the tournament, with its score against each: the population
    /// and the league, and the anchors too when `with_anchors`.
    pub fn opponents_of(&self, parent: &str, with_anchors: bool) -> Vec<Candidate> {
        let Some(learner) = self.ratings.iter().position(|r| r.name == parent) else {
            return Vec::new();
        };
        let last = if with_anchors { self.ratings.len() } else { self.first_anchor };
        (0..last)
            .filter(|&i| i != learner)
            .filter_map(|i| {
                let record = self.tally.head_to_head(learner, i);
                Some(Candidate {
                    name: self.ratings[i].name.clone(),
                    index: i,
                    score: score(&self.tally, learner, i)?,
                    games: record.games(),
                })
            })
            .collect()
    }
}

/// The league: the latest earlier champions that are not in the population, each once (a
/// checkpoint that was champion in several generations is one agent), at most `size`.
pub fn league(champions: &[String], population: &[String], size: usize) -> Vec<String> {
    let mut league: Vec<String> = Vec::with_capacity(size);
    for champion in champions.iter().rev() {
        if league.len() == size {
            break;
        }
        if !population.contains(champion) && !league.contains(champion) {
            league.push(champion.clone());
        }
    }
    league
}

/// One side's score in a head-to-head record, 0 to 1.
fn score(tally: &Tally, agent: usize, opponent: usize) -> Option<f64> {
    let t = tally.head_to_head(agent, opponent);
    (t.games() > 0).then(|| (t.wins as f64 + 0.5 * t.draws as f64) / t.games() as f64)
}

impl RatedAgent {
    /// Every agent of a tournament with its fitted rating, interval, games and score.
    pub fn all_of(outcome: &TournamentOutcome, fit: &RatingFit) -> Vec<RatedAgent> {
        outcome
            .names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let totals = outcome.tally.totals(i);
                RatedAgent {
                    name: name.clone(),
                    rating: fit.ratings()[i],
                    ci_low: fit.intervals[i].0,
                    ci_high: fit.intervals[i].1,
                    games: totals.games,
                    score: totals.points / totals.games.max(1) as f64,
                }
            })
            .collect()
    }
}

impl Generation<'_> {
    /// The intervals of a generation's fit (generation 0: the anchors' calibration).
    pub(super) fn interval_method(&self, generation: u32) -> IntervalMethod {
        match self.config.bootstrap {
            0 => IntervalMethod::Hessian,
            replicates => IntervalMethod::Bootstrap {
                replicates,
                seed: evolve_seed(self.config.seed, generation, EvolveStream::Bootstrap),
            },
        }
    }

    /// The generation's tournament and its ratings; a board-game run's anchors are held at their
    /// `calibration` ratings.
    pub(super) fn rate(
        &self,
        generation: u32,
        population: &[String],
        league: &[String],
        calibration: Option<&Calibration>,
    ) -> Result<RatedGeneration> {
        let config = self.config;
        let mut agents: Vec<AgentEntry> =
            population.iter().chain(league).map(|name| self.tournament_agent(name)).collect::<Result<_>>()?;
        // The anchors follow the checkpoints. Networks: `random` (the rating zero) and the
        // `mcts` ladder. Language models: the base model (the rating zero; it plays as an anchor
        // even while `g0`, the same model, is in the population, so that no member of the
        // population has the anchor's zero-width interval) and `random` where the game has moves
        // to choose from.
        let zero = agents.len();
        let mut references = Vec::new();
        if self.config.llm.is_some() {
            references.push((BASE.to_string(), agents.len()));
            agents.push(self.base_agent()?);
            if !self.text_only_game()? {
                references.push(("random".to_string(), agents.len()));
                agents.push(AgentEntry::new("random", AgentConfig::Random));
            }
        } else {
            for anchor in anchors(config) {
                references.push((anchor.name.clone(), agents.len()));
                agents.push(anchor);
            }
        }
        let judges = self.judges(true, &agents)?;
        let tournament = TournamentConfig {
            openings: OpeningSource::RandomPlies(config.opening_plies),
            games_per_pairing: config.tournament_games_per_pairing,
            seed: evolve_seed(config.seed, generation, EvolveStream::Tournament),
            judges,
            ..TournamentConfig::new(config.game.clone(), agents)
        };
        self.progress.log(&format!("generation {generation}: tournament of {} agents", tournament.agents.len()));
        let outcome = run_tournament(&tournament, self.resources, &self.stored_run(), self.progress)?;
        // One virtual draw per pairing keeps an unbeaten agent's rating finite (BayesElo's prior).
        let counts = outcome.tally.pair_counts_with_virtual_draws(1);
        let fit_config = match calibration {
            Some(calibration) => calibration.fixed_from(zero),
            None => anchored_at_zero(Some(zero)),
        };
        let fit = fit_with_intervals(&counts, &fit_config, self.interval_method(generation))
            .context("rating the generation's tournament")?;
        let mut ratings = RatedAgent::all_of(&outcome, &fit);
        if let Some(calibration) = calibration {
            // A held anchor has no interval of its own in this fit: report its calibration's.
            for (rated, calibrated) in ratings[zero..].iter_mut().zip(&calibration.anchors) {
                (rated.ci_low, rated.ci_high) = (calibrated.ci_low, calibrated.ci_high);
            }
        }
        let mut ranked: Vec<RatedAgent> = ratings[..population.len()].to_vec();
        ranked.sort_by(|a, b| b.ci_low.total_cmp(&a.ci_low).then(b.rating.total_cmp(&a.rating)));
        let champion = ratings.iter().position(|r| r.name == ranked[0].name).context("the champion is not rated")?;
        let vs_anchors = references
            .iter()
            .filter_map(|(name, index)| Some((name.clone(), score(&outcome.tally, champion, *index)?)))
            .collect();
        Ok(RatedGeneration {
            ratings,
            ranked,
            vs_anchors,
            games: outcome.tally.games(),
            tournament_id: outcome.tournament_id,
            tally: outcome.tally,
            first_anchor: zero,
        })
    }

    /// Runs stored in the run's store, resumable, with a new tournament per config.
    pub(super) fn stored_run(&self) -> RunOptions {
        RunOptions {
            threads: self.options.threads,
            db: Some(self.store_location()),
            workers_only: self.options.workers_only,
            resume: true,
            start_if_missing: true,
            ..RunOptions::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_champion_of_several_generations_enters_the_league_once() {
        let champions = names(&["g0", "g1c0", "g3c0", "g3c0", "g3c0"]);
        assert_eq!(league(&champions, &names(&["g5c0", "g4c0"]), 2), names(&["g3c0", "g1c0"]));
        assert_eq!(league(&champions, &names(&["g3c0"]), 2), names(&["g1c0", "g0"]));
        assert_eq!(league(&champions, &names(&["g3c0"]), 0), names(&[]));
        assert_eq!(league(&[], &names(&["g0"]), 2), names(&[]));
    }
}
