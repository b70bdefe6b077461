//! The fixed anchors of a board-game run: `random` (the rating zero) and a ladder of
//! `mcts(sims=N)` agents, calibrated once by a round robin among themselves before generation 1
//! (`anchors.json`) and held at those ratings in every generation's fit, so that every
//! generation's ratings share one scale and a champion's rating rises as it passes each rung.

use std::path::Path;

use agents::AgentConfig;
use agents::mcts::MctsConfig;
use serde::{Deserialize, Serialize};

use super::Generation;
use super::config::EvolveConfig;
use super::summary::RatedAgent;
use crate::engine::openings::OpeningSource;
use crate::engine::seeds::{EvolveStream, evolve_seed};
use crate::engine::tournament::{AgentEntry, TournamentConfig, run_tournament};
use crate::error::{Context, Result, read_text};
use crate::files::write_atomically;
use crate::standings::{anchored_at_zero, fit_with_intervals};

/// The calibration's file in the run directory.
pub const FILE: &str = "anchors.json";

/// The anchors' ratings from their calibration round robin.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    pub games_per_pairing: u32,
    pub games: u64,
    /// Every anchor in tournament order (`random` first), with its rating and 95% interval.
    pub anchors: Vec<RatedAgent>,
    /// The calibration tournament in the run's store.
    pub tournament_id: Option<i64>,
}

impl Calibration {
    /// The anchors held at their calibrated ratings, as players `first..` of a fit.
    pub fn fixed_from(&self, first: usize) -> ratings::bradley_terry::Config {
        let anchors = self
            .anchors
            .iter()
            .enumerate()
            .map(|(k, anchor)| ratings::bradley_terry::Anchor { player: first + k, rating: anchor.rating })
            .collect();
        ratings::bradley_terry::Config::anchored(anchors)
    }

    /// One line: each anchor's rating and interval.
    pub fn describe(&self) -> String {
        self.anchors
            .iter()
            .map(|a| format!("{} {:+.0} [{:+.0}, {:+.0}]", a.name, a.rating, a.ci_low, a.ci_high))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The anchors: `random` (the rating zero) first, then `mcts(sims=N)` for each distinct count of
/// `anchor_ladder` and `anchor_sims`, weakest first.
pub fn anchors(config: &EvolveConfig) -> Vec<AgentEntry> {
    let mut sims: Vec<u32> = config.anchor_ladder.iter().copied().chain([config.anchor_sims]).collect();
    sims.sort_unstable();
    sims.dedup();
    let mut entries = vec![AgentEntry::new("random", AgentConfig::Random)];
    for simulations in sims {
        let mcts = AgentConfig::Mcts(MctsConfig { simulations, ..MctsConfig::default() });
        entries.push(AgentEntry::new(format!("mcts(sims={simulations})"), mcts));
    }
    entries
}

/// The run's calibration, if it has been made.
pub fn read(run_dir: &Path) -> Result<Option<Calibration>> {
    let path = run_dir.join(FILE);
    if !path.exists() {
        return Ok(None);
    }
    let text = read_text(&path)?;
    Ok(Some(serde_json::from_str(&text).with_context(|| format!("anchor calibration {}", path.display()))?))
}

impl Generation<'_> {
    /// The anchors' calibration: read from the run directory, or played and written there. It
    /// uses generation 0's tournament and bootstrap seeds, which no generation uses.
    pub(super) fn calibrated_anchors(&self) -> Result<Calibration> {
        if let Some(calibration) = read(self.run.path())? {
            return Ok(calibration);
        }
        let config = self.config;
        let tournament = TournamentConfig {
            openings: OpeningSource::RandomPlies(config.opening_plies),
            games_per_pairing: config.anchor_calibration_games,
            seed: evolve_seed(config.seed, 0, EvolveStream::Tournament),
            ..TournamentConfig::new(config.game.clone(), anchors(config))
        };
        self.progress.log(&format!(
            "calibrating the anchors: a round robin of {} agents, {} games per pairing",
            tournament.agents.len(),
            tournament.games_per_pairing
        ));
        let outcome = run_tournament(&tournament, self.resources, &self.stored_run(), self.progress)?;
        let counts = outcome.tally.pair_counts_with_virtual_draws(1);
        let fit = fit_with_intervals(&counts, &anchored_at_zero(Some(0)), self.interval_method(0))
            .context("rating the anchors' calibration")?;
        let calibration = Calibration {
            games_per_pairing: config.anchor_calibration_games,
            games: outcome.tally.games(),
            anchors: RatedAgent::all_of(&outcome, &fit),
            tournament_id: outcome.tournament_id,
        };
        write_atomically(&self.run.path().join(FILE), serde_json::to_string_pretty(&calibration)?.as_bytes())?;
        self.progress.log(&format!("anchors calibrated and held fixed: {}", calibration.describe()));
        Ok(calibration)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ladder_is_random_then_each_distinct_mcts_strength_weakest_first() {
        let names = |config: &EvolveConfig| anchors(config).into_iter().map(|a| a.name).collect::<Vec<_>>();
        let config = EvolveConfig { anchor_sims: 1000, anchor_ladder: vec![100, 20], ..EvolveConfig::default() };
        assert_eq!(names(&config), ["random", "mcts(sims=20)", "mcts(sims=100)", "mcts(sims=1000)"]);
        let config = EvolveConfig { anchor_sims: 20, anchor_ladder: vec![20, 100, 20], ..EvolveConfig::default() };
        assert_eq!(names(&config), ["random", "mcts(sims=20)", "mcts(sims=100)"]);
        let config = EvolveConfig { anchor_sims: 200, anchor_ladder: Vec::new(), ..EvolveConfig::default() };
        assert_eq!(names(&config), ["random", "mcts(sims=200)"], "the two anchors of earlier runs");
    }

    #[test]
    fn a_calibration_holds_each_anchor_at_its_rating_after_the_checkpoints() {
        let rated = |name: &str, rating: f64| RatedAgent {
            name: name.to_string(),
            rating,
            ci_low: rating - 50.0,
            ci_high: rating + 50.0,
            games: 200,
            score: 0.5,
        };
        let calibration = Calibration {
            games_per_pairing: 100,
            games: 300,
            anchors: vec![rated("random", 0.0), rated("mcts(sims=20)", 340.0)],
            tournament_id: None,
        };
        let fixed = calibration.fixed_from(3);
        let held: Vec<(usize, f64)> = fixed.anchors.iter().map(|a| (a.player, a.rating)).collect();
        assert_eq!(held, [(3, 0.0), (4, 340.0)]);
        assert_eq!(calibration.describe(), "random +0 [-50, +50], mcts(sims=20) +340 [+290, +390]");
    }
}
