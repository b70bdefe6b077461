//! Self-play: each parent plays itself with PUCT search, root noise and a temperature for the
//! first plies, keeping trajectories; the games become the generation's filtered dataset, and a
//! child trains on the datasets of the last few generations (the replay window).

use agents::{AgentConfig, CheckpointAgentConfig};
use games::GameRef;

use super::Generation;
use crate::engine::openings::OpeningSource;
use crate::engine::runner::Keep;
use crate::engine::seeds::{EvolveStream, evolve_seed};
use crate::engine::tournament::{AgentEntry, RunOptions, TournamentConfig, run_tournament};
use crate::error::Result;
use crate::training::{Dataset, DatasetStats, Targets};

impl Generation<'_> {
    /// Self-play of each parent against itself; the filtered dataset of the generation.
    pub(super) fn selfplay(&self, generation: u32, parents: &[String], game: &GameRef) -> Result<DatasetStats> {
        let config = self.config;
        let path = self.run.dataset_path(generation);
        if path.exists() {
            return Ok(Dataset::load(&path)?.1);
        }
        let mut games = Vec::new();
        for (p, parent) in parents.iter().enumerate() {
            // Root noise and a temperature for the first plies vary the games.
            let search = CheckpointAgentConfig {
                temperature: config.selfplay_temperature,
                temperature_plies: config.selfplay_temperature_plies as usize,
                noise: true,
                fast_sims: config.selfplay_fast_sims as usize,
                full_search_share: config.selfplay_full_share,
                reuse: config.selfplay_tree_reuse,
                ..self.checkpoint(parent, config.selfplay_sims)
            };
            let entry = AgentEntry::new(parent.clone(), AgentConfig::Checkpoint(search));
            let twin = AgentEntry::new(format!("{parent}#2"), entry.agent.clone());
            let selfplay = TournamentConfig {
                games_per_pairing: config.selfplay_games,
                seed: evolve_seed(config.seed, generation, EvolveStream::SelfPlay { parent: p }),
                keep: Keep::Trajectory,
                openings: match config.selfplay_random_plies {
                    0 => OpeningSource::None,
                    plies => OpeningSource::RandomPlyRange(0, plies),
                },
                ..TournamentConfig::new(config.game.clone(), vec![entry, twin])
            };
            self.progress
                .log(&format!("generation {generation}: self-play of {parent}, {} games", config.selfplay_games));
            let options = RunOptions { threads: self.options.threads, collect_results: true, ..RunOptions::default() };
            let outcome = run_tournament(&selfplay, self.resources, &options, self.progress)?;
            games.extend(outcome.results.into_iter().map(|(_, r)| r));
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
