//! Self-play: each parent plays itself with PUCT search, root noise and a temperature for the
//! first plies, keeping trajectories; the games become the generation's filtered dataset, and a
//! child trains on the datasets of the last few generations (the replay window). With PFSP a share
//! of the games is played against the opponents that beat the parent most ([`super::pfsp`]).

use agents::{AgentConfig, CheckpointAgentConfig};
use games::GameRef;

use super::Generation;
use super::anchors::anchors;
use super::pfsp::{self, OpponentDraw};
use super::selection::RatedGeneration;
use crate::engine::openings::OpeningSource;
use crate::engine::runner::Keep;
use crate::engine::seeds::{EvolveStream, evolve_seed};
use crate::engine::tournament::{AgentEntry, RunOptions, TournamentConfig, run_tournament};
use crate::error::{Context, Result};
use crate::training::{Dataset, DatasetStats, Targets};

impl Generation<'_> {
    /// Each parent's PFSP opponents and their games ([`super::pfsp`]); none when PFSP is off.
    pub(super) fn pfsp_plan(&self, parents: &[String], rated: &RatedGeneration) -> Vec<OpponentDraw> {
        let config = self.config;
        let games = (config.pfsp_share * config.selfplay_games as f64).round() as u32;
        if games == 0 {
            return Vec::new();
        }
        parents
            .iter()
            .flat_map(|parent| {
                let candidates = rated.opponents_of(parent, config.pfsp_anchors);
                pfsp::allocate(parent, &candidates, config.pfsp_weighting, games)
            })
            .collect()
    }

    /// Self-play of each parent against itself, and its PFSP games against the opponents of
    /// `plan`; the filtered dataset of the generation.
    pub(super) fn selfplay(
        &self,
        generation: u32,
        parents: &[String],
        game: &GameRef,
        rated: &RatedGeneration,
        plan: &[OpponentDraw],
    ) -> Result<DatasetStats> {
        let config = self.config;
        let path = self.run.dataset_path(generation);
        if path.exists() {
            return Ok(Dataset::load(&path)?.1);
        }
        // On a shared store, workers play the self-play games too (and a resumed run finds them).
        let options = match self.shared_store() {
            true => RunOptions { collect_results: true, ..self.stored_run() },
            false => RunOptions { threads: self.options.threads, collect_results: true, ..RunOptions::default() },
        };
        let mut games = Vec::new();
        for (p, parent) in parents.iter().enumerate() {
            let entry = AgentEntry::new(parent.clone(), AgentConfig::Checkpoint(self.selfplay_search(parent)));
            let opponents: Vec<&OpponentDraw> = plan.iter().filter(|d| &d.parent == parent && d.games > 0).collect();
            let pfsp_games: u32 = opponents.iter().map(|d| d.games).sum();
            let twin_games = config.selfplay_games - pfsp_games;
            if twin_games > 0 {
                let twin = AgentEntry::new(format!("{parent}#2"), entry.agent.clone());
                let selfplay = TournamentConfig {
                    games_per_pairing: twin_games,
                    seed: evolve_seed(config.seed, generation, EvolveStream::SelfPlay { parent: p }),
                    ..self.selfplay_tournament(vec![entry.clone(), twin])
                };
                self.progress.log(&format!("generation {generation}: self-play of {parent}, {twin_games} games"));
                let outcome = run_tournament(&selfplay, self.resources, &options, self.progress)?;
                games.extend(outcome.results.into_iter().map(|(_, r)| r));
            }
            for draw in opponents {
                let Some(candidate) = rated.ratings.iter().position(|r| r.name == draw.opponent) else {
                    continue;
                };
                let opponent = if candidate < rated.first_anchor {
                    AgentEntry::new(
                        draw.opponent.clone(),
                        AgentConfig::Checkpoint(self.selfplay_search(&draw.opponent)),
                    )
                } else {
                    anchors(config)
                        .into_iter()
                        .find(|a| a.name == draw.opponent)
                        .with_context(|| format!("PFSP opponent {} is not an anchor of the run", draw.opponent))?
                };
                let pfsp = TournamentConfig {
                    games_per_pairing: draw.games,
                    seed: evolve_seed(config.seed, generation, EvolveStream::Pfsp { parent: p, opponent: candidate }),
                    ..self.selfplay_tournament(vec![entry.clone(), opponent])
                };
                self.progress.log(&format!(
                    "generation {generation}: PFSP of {parent} against {} (scored {:.0}% in the tournament), {} games",
                    draw.opponent,
                    100.0 * draw.score,
                    draw.games
                ));
                let outcome = run_tournament(&pfsp, self.resources, &options, self.progress)?;
                games.extend(pfsp::learner_games(outcome.results, &outcome.planned, 0));
            }
        }
        let facts = game.facts();
        let targets = Targets {
            observation_size: facts.observation_size(),
            actions: facts.num_distinct_actions,
            value_mix: config.value_mix,
            result_discount: config.result_discount,
            symmetries: if config.symmetries { game.symmetries() } else { Vec::new() },
        };
        let (dataset, stats) =
            Dataset::from_games(&games, &targets, evolve_seed(config.seed, generation, EvolveStream::DatasetShuffle));
        self.progress.log(&format!(
            "generation {generation}: dataset {} positions from {} games ({} symmetric images, {} duplicates merged, {} dropped for seat balance, {} faults, {} at the move limit)",
            stats.positions,
            stats.games,
            stats.symmetric_images,
            stats.duplicates_merged,
            stats.dropped_for_seat_balance,
            stats.dropped_faults,
            stats.dropped_max_length
        ));
        dataset.save(&path, &stats)?;
        Ok(stats)
    }

    /// A checkpoint as it plays self-play: root noise and a temperature for the first plies vary
    /// the games.
    fn selfplay_search(&self, name: &str) -> CheckpointAgentConfig {
        let config = self.config;
        CheckpointAgentConfig {
            temperature: config.selfplay_temperature,
            temperature_plies: config.selfplay_temperature_plies as usize,
            noise: true,
            fast_sims: config.selfplay_fast_sims as usize,
            full_search_share: config.selfplay_full_share,
            reuse: config.selfplay_tree_reuse,
            ..self.checkpoint(name, config.selfplay_sims)
        }
    }

    /// A self-play or PFSP match-up that keeps trajectories.
    fn selfplay_tournament(&self, agents: Vec<AgentEntry>) -> TournamentConfig {
        TournamentConfig {
            keep: Keep::Trajectory,
            openings: match self.config.selfplay_random_plies {
                0 => OpeningSource::None,
                plies => OpeningSource::RandomPlyRange(0, plies),
            },
            ..TournamentConfig::new(self.config.game.clone(), agents)
        }
    }

    /// The datasets of the last `replay_window` generations, oldest first; with
    /// `replay_positions`, only the newest positions up to that many (the oldest generation that
    /// crosses the limit gives its last rows).
    pub(super) fn replay_window(&self, generation: u32) -> Result<Dataset> {
        let first = generation.saturating_sub(self.config.replay_window.max(1) - 1).max(1);
        let limit = match self.config.replay_positions {
            0 => usize::MAX,
            n => n,
        };
        let mut newest_first = Vec::new();
        let mut positions = 0;
        for g in (first..=generation).rev() {
            if positions >= limit {
                break;
            }
            let (dataset, _) = Dataset::load(&self.run.dataset_path(g))?;
            let keep = dataset.len().min(limit - positions);
            positions += keep;
            newest_first.push(dataset.last_rows(keep));
        }
        let mut window = Dataset::default();
        for dataset in newest_first.iter().rev() {
            window.extend(dataset)?;
        }
        Ok(window)
    }
}
