//! Writing to the store: tournaments with their agents, scheduled matches, results with their
//! language-model turns (each match finished exactly once), and an evolve run's checkpoints,
//! lineage edges and generations with their ratings.

use rusqlite::params;

use super::{AgentRow, CheckpointRow, GenerationRow, RatingRow, ScheduledMatch, Store};
use crate::engine::runner::{EndReason, MatchResult};
use crate::engine::tally::score_of_seat0;
use crate::error::Result;

impl Store {
    /// Adds a tournament with its agents and the judges that fill a judge seat; returns its id.
    pub fn create_tournament(
        &mut self,
        game: &str,
        config: &str,
        agents: &[AgentRow],
        judges: &[AgentRow],
    ) -> Result<i64> {
        let tx = self.conn.transaction()?;
        tx.execute("INSERT INTO tournaments (game, config) VALUES (?1, ?2)", params![game, config])?;
        let id = tx.last_insert_rowid();
        for (idx, agent) in agents.iter().enumerate() {
            tx.execute(
                "INSERT INTO agents (tournament_id, idx, name, spec, checkpoint_hash) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, idx as i64, agent.name, agent.spec, agent.checkpoint_hash],
            )?;
        }
        for (idx, judge) in judges.iter().enumerate() {
            tx.execute(
                "INSERT INTO judges (tournament_id, idx, name, spec) VALUES (?1, ?2, ?3, ?4)",
                params![id, idx as i64, judge.name, judge.spec],
            )?;
        }
        tx.commit()?;
        Ok(id)
    }

    /// Records scheduled matches; those already scheduled are left as they are.
    pub fn schedule(&mut self, tournament: i64, matches: &[ScheduledMatch]) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO matches (tournament_id, idx, round, seat0, seat1, seed, pair, opening, judge)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            for ScheduledMatch { index, pairing, seed, opening, judge } in matches {
                insert.execute(params![
                    tournament,
                    *index as i64,
                    pairing.round,
                    pairing.seats[0] as i64,
                    pairing.seats[1] as i64,
                    *seed as i64,
                    pairing.opening as i64,
                    serde_json::to_string(opening)?,
                    judge.map(|j| j as i64),
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Writes finished matches in one transaction. A match already finished is not written again.
    pub fn record(&mut self, tournament: i64, results: &[(u64, MatchResult)]) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut update = tx.prepare_cached(
                "UPDATE matches SET finished = 1, returns = ?3, score0 = ?4, end_reason = ?5, fault_seat = ?6,
                 fault_detail = ?7, length = ?8, moves = ?9, move_micros = ?10
                 WHERE tournament_id = ?1 AND idx = ?2 AND finished = 0",
            )?;
            let mut insert_turn = tx.prepare_cached(
                "INSERT OR IGNORE INTO turns (tournament_id, match_idx, ordinal, seat, ply, messages, completion, tokens, logprobs, rejected, request)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?;
            for (index, result) in results {
                let (fault_seat, fault_detail) = match &result.end {
                    EndReason::Fault { seat, detail, .. } => (Some(*seat as i64), Some(detail.as_str())),
                    _ => (None, None),
                };
                let keep_moves = !result.moves.is_empty();
                let written = update.execute(params![
                    tournament,
                    *index as i64,
                    serde_json::to_string(&result.returns)?,
                    score_of_seat0(&result.returns),
                    result.end.kind().as_str(),
                    fault_seat,
                    fault_detail,
                    result.length as i64,
                    keep_moves.then(|| serde_json::to_string(&result.moves)).transpose()?,
                    keep_moves.then(|| serde_json::to_string(&result.move_micros)).transpose()?,
                ])?;
                if written == 1 {
                    for (ordinal, turn) in result.turns.iter().enumerate() {
                        insert_turn.execute(params![
                            tournament,
                            *index as i64,
                            ordinal as i64,
                            turn.seat as i64,
                            turn.ply as i64,
                            serde_json::to_string(&turn.trace.messages)?,
                            turn.trace.completion,
                            serde_json::to_string(&turn.trace.tokens)?,
                            serde_json::to_string(&turn.trace.logprobs)?,
                            turn.rejected,
                            turn.trace.request.as_ref().map(serde_json::to_string).transpose()?,
                        ])?;
                    }
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Marks a tournament finished.
    pub fn finish_tournament(&mut self, tournament: i64) -> Result<()> {
        self.conn.execute(
            "UPDATE tournaments SET finished_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = ?1 AND finished_at IS NULL",
            [tournament],
        )?;
        Ok(())
    }

    /// Records a checkpoint of an evolve run and the edges from its parents (by name), with the
    /// gate's result on each edge as JSON; recording it again replaces it.
    pub fn record_checkpoint(
        &mut self,
        checkpoint: &CheckpointRow,
        parents: &[&str],
        gate: Option<&str>,
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT OR REPLACE INTO checkpoints (name, generation, hash, path, status, dataset)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                checkpoint.name,
                checkpoint.generation,
                checkpoint.hash,
                checkpoint.path,
                checkpoint.status.as_str(),
                checkpoint.dataset
            ],
        )?;
        for parent in parents {
            tx.execute(
                "INSERT OR REPLACE INTO lineage_edges (parent, child, gate) VALUES (?1, ?2, ?3)",
                params![parent, checkpoint.name, gate],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Records a generation (its summary as JSON) with each agent's rating in its tournament;
    /// recording it again replaces it.
    pub fn record_generation(&mut self, generation: &GenerationRow, ratings: &[RatingRow]) -> Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM generation_ratings WHERE generation = ?1", [generation.generation])?;
        tx.execute(
            "INSERT OR REPLACE INTO generations (generation, tournament_id, champion, summary) VALUES (?1, ?2, ?3, ?4)",
            params![generation.generation, generation.tournament_id, generation.champion, generation.summary],
        )?;
        for r in ratings {
            tx.execute(
                "INSERT INTO generation_ratings (generation, agent, checkpoint_hash, rating, ci_low, ci_high, games, score)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    generation.generation,
                    r.agent,
                    r.checkpoint_hash,
                    r.rating,
                    r.ci_low,
                    r.ci_high,
                    r.games as i64,
                    r.score
                ],
            )?;
        }
        tx.commit()?;
        Ok(())
    }
}
