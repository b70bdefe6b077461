//! The gate: a paired match of a child against its parent, played in batches of game pairs and
//! stopped by SPRT between batches. The decision depends only on whole batches, so it does not
//! depend on the thread count or on a kill and resume.

use ratings::sprt::Decision;

use super::{GateDecision, GateResult, Generation};
use crate::engine::openings::OpeningSource;
use crate::engine::seeds::{EvolveStream, evolve_seed};
use crate::engine::sprt::{SprtState, sprt_state};
use crate::engine::tally::Tally;
use crate::engine::tournament::{TournamentConfig, run_tournament};
use crate::error::Result;

/// Games per gate batch (five game pairs): the SPRT is checked between batches.
pub const GATE_BATCH: u32 = 10;

impl Generation<'_> {
    /// The gate of `child` against `parent`, and the store's ids of its tournaments.
    pub(super) fn gate(&self, generation: u32, child: &str, parent: &str) -> Result<(GateResult, Vec<i64>)> {
        let config = self.config;
        let test = config.gate_test()?;
        let batches = config.gate_games.div_ceil(GATE_BATCH);
        let mut tally = Tally::new(2);
        let mut state = SprtState { llr: 0.0, decision: Decision::Continue };
        let mut trace = Vec::new();
        let mut tournaments = Vec::new();
        for batch in 0..batches {
            let games = GATE_BATCH.min(config.gate_games - batch * GATE_BATCH);
            let agents = vec![self.tournament_agent(child)?, self.tournament_agent(parent)?];
            let match_config = TournamentConfig {
                judges: self.judges(false, &agents)?,
                games_per_pairing: games,
                openings: OpeningSource::RandomPlies(config.opening_plies),
                seed: evolve_seed(config.seed, generation, EvolveStream::Gate { batch }),
                ..TournamentConfig::new(config.game.clone(), agents)
            };
            let outcome = run_tournament(&match_config, self.resources, &self.stored_run(), self.progress)?;
            tournaments.extend(outcome.tournament_id);
            tally.merge(outcome.tally);
            state = sprt_state(&test, &tally);
            trace.push((tally.head_to_head(0, 1).games(), state.llr));
            if state.decision != Decision::Continue {
                break;
            }
        }
        let t = tally.head_to_head(0, 1);
        let score = (t.wins as f64 + 0.5 * t.draws as f64) / t.games().max(1) as f64;
        let decision = match state.decision {
            Decision::AcceptH1 => GateDecision::AcceptedH1 { llr: state.llr },
            Decision::AcceptH0 => GateDecision::AcceptedH0 { llr: state.llr },
            Decision::Continue => GateDecision::Threshold { llr: state.llr, score, threshold: config.gate_threshold },
        };
        let gate = GateResult {
            child: child.into(),
            parent: parent.into(),
            games: t.games(),
            score,
            decision,
            trace,
            bounds: Some(test.bounds()),
            approval: None,
        };
        self.progress.log(&format!(
            "generation {generation}: gate {child} vs {parent}: {:.1}% over {} games, {decision} → {}",
            100.0 * score,
            t.games(),
            if gate.promoted() { "promoted" } else { "rejected" }
        ));
        Ok((gate, tournaments))
    }
}
