//! Reading the store: tournaments, their agents and judges, finished matches (with their end
//! read back as a typed [`EndKind`]), language-model turns, and an evolve run's generations.

use std::collections::BTreeMap;

use agents::TextTrace;

use super::backend::params;
use super::{AgentRow, CheckpointRow, CheckpointStatus, FinishedMatch, GenerationRow, RatingRow, Store, TournamentRow};
use crate::engine::runner::{EndKind, EndReason, MatchResult, TextTurn};
use crate::error::{Context, Error, Result};

impl Store {
    /// Every tournament, oldest first.
    pub fn tournaments(&self) -> Result<Vec<TournamentRow>> {
        let rows = self.run(|sql| {
            sql.query("SELECT id, game, config, created_at, finished_at FROM tournaments ORDER BY id", params![])
        })?;
        rows.iter()
            .map(|r| {
                Ok(TournamentRow {
                    id: r.int(0)?,
                    game: r.text(1)?,
                    config: r.text(2)?,
                    created_at: r.text(3)?,
                    finished_at: r.opt_text(4)?,
                })
            })
            .collect()
    }

    /// One tournament by id.
    pub fn tournament(&self, id: i64) -> Result<TournamentRow> {
        self.tournaments()?
            .into_iter()
            .find(|t| t.id == id)
            .with_context(|| format!("store {} has no tournament {id}", self.location))
    }

    /// The agents of a tournament, by index.
    pub fn agents(&self, tournament: i64) -> Result<Vec<AgentRow>> {
        let rows = self.run(|sql| {
            sql.query(
                "SELECT name, spec, checkpoint_hash FROM agents WHERE tournament_id = ?1 ORDER BY idx",
                params![tournament],
            )
        })?;
        rows.iter()
            .map(|r| Ok(AgentRow { name: r.text(0)?, spec: r.text(1)?, checkpoint_hash: r.opt_text(2)? }))
            .collect()
    }

    /// The judges of a tournament (the agents in a judge seat), by index.
    pub fn judges(&self, tournament: i64) -> Result<Vec<AgentRow>> {
        let rows = self.run(|sql| {
            sql.query("SELECT name, spec FROM judges WHERE tournament_id = ?1 ORDER BY idx", params![tournament])
        })?;
        rows.iter().map(|r| Ok(AgentRow { name: r.text(0)?, spec: r.text(1)?, checkpoint_hash: None })).collect()
    }

    /// Number of scheduled matches of a tournament.
    pub fn scheduled_count(&self, tournament: i64) -> Result<u64> {
        let n = self
            .run(|sql| sql.query_int("SELECT count(*) FROM matches WHERE tournament_id = ?1", params![tournament]))?;
        Ok(n as u64)
    }

    /// Number of finished matches of a tournament.
    pub fn finished_count(&self, tournament: i64) -> Result<u64> {
        let n = self.run(|sql| {
            sql.query_int("SELECT count(*) FROM matches WHERE tournament_id = ?1 AND finished = 1", params![tournament])
        })?;
        Ok(n as u64)
    }

    /// The finished matches of a tournament, by index.
    pub fn finished(&self, tournament: i64) -> Result<Vec<FinishedMatch>> {
        let rows = self.run(|sql| {
            sql.query(
                "SELECT idx, round, seat0, seat1, returns, score0, end_reason, fault_seat, length, pair, judge, fault_detail
                 FROM matches WHERE tournament_id = ?1 AND finished = 1 ORDER BY idx",
                params![tournament],
            )
        })?;
        let mut finished = Vec::with_capacity(rows.len());
        for r in rows {
            let index = r.int(0)?;
            let returns = r.text(4)?;
            let returns: Vec<f64> = serde_json::from_str(&returns)
                .with_context(|| format!("store {}: match {index} has unreadable returns", self.location))?;
            let end_reason = r.text(6)?;
            let end = EndKind::from_label(&end_reason).ok_or_else(|| {
                Error::Invalid(format!("store {}: match {index} ended in an unknown way `{end_reason}`", self.location))
            })?;
            finished.push(FinishedMatch {
                index: index as u64,
                round: r.int(1)? as u32,
                seats: [r.int(2)? as usize, r.int(3)? as usize],
                pair: r.int(9)? as u64,
                returns,
                score0: r.real(5)?,
                end,
                fault_seat: r.opt_int(7)?.map(|s| s as usize),
                fault_detail: r.opt_text(11)?,
                length: r.int(8)? as usize,
                judge: r.opt_int(10)?.map(|j| j as usize),
            });
        }
        Ok(finished)
    }

    /// Every finished match of a tournament as a full result (moves, times, trajectories and
    /// turns where they were stored), by match index: what a process gets back of games that
    /// workers played for it.
    pub fn stored_results(&self, tournament: i64) -> Result<Vec<(u64, MatchResult)>> {
        let rows = self.run(|sql| {
            sql.query(
                "SELECT idx, returns, end_reason, fault_seat, fault_detail, length, moves, move_micros, trajectory
                 FROM matches WHERE tournament_id = ?1 AND finished = 1 ORDER BY idx",
                params![tournament],
            )
        })?;
        let mut turns = self.turns(tournament)?;
        let mut results = Vec::with_capacity(rows.len());
        for r in rows {
            let index = r.int(0)?;
            let unreadable = || format!("store {}: match {index} has an unreadable result", self.location);
            let end_reason = r.text(2)?;
            let end = match EndKind::from_label(&end_reason) {
                Some(EndKind::Normal) => EndReason::Normal,
                Some(EndKind::MaxLength) => EndReason::MaxLength,
                Some(EndKind::Fault(kind)) => EndReason::Fault {
                    seat: r.opt_int(3)?.unwrap_or_default() as usize,
                    kind,
                    detail: r.opt_text(4)?.unwrap_or_default(),
                },
                None => {
                    return Err(Error::Invalid(format!(
                        "store {}: match {index} ended in an unknown way `{end_reason}`",
                        self.location
                    )));
                }
            };
            let json_or_empty = |column: usize| -> Result<Option<String>> { r.opt_text(column) };
            let result = MatchResult {
                returns: serde_json::from_str(&r.text(1)?).with_context(unreadable)?,
                end,
                length: r.int(5)? as usize,
                moves: json_or_empty(6)?
                    .map(|t| serde_json::from_str(&t))
                    .transpose()
                    .with_context(unreadable)?
                    .unwrap_or_default(),
                move_micros: json_or_empty(7)?
                    .map(|t| serde_json::from_str(&t))
                    .transpose()
                    .with_context(unreadable)?
                    .unwrap_or_default(),
                trajectory: json_or_empty(8)?
                    .map(|t| serde_json::from_str(&t))
                    .transpose()
                    .with_context(unreadable)?
                    .unwrap_or_default(),
                turns: turns.remove(&(index as u64)).unwrap_or_default(),
            };
            results.push((index as u64, result));
        }
        Ok(results)
    }

    /// The moves of every finished match of a tournament that kept them, by match index.
    pub fn match_moves(&self, tournament: i64) -> Result<BTreeMap<u64, Vec<games::Move>>> {
        let rows = self.run(|sql| {
            sql.query(
                "SELECT idx, moves FROM matches WHERE tournament_id = ?1 AND finished = 1 AND moves IS NOT NULL",
                params![tournament],
            )
        })?;
        let mut moves = BTreeMap::new();
        for r in rows {
            let index = r.int(0)?;
            let list: Vec<games::Move> = serde_json::from_str(&r.text(1)?)
                .with_context(|| format!("store {}: match {index} has unreadable moves", self.location))?;
            moves.insert(index as u64, list);
        }
        Ok(moves)
    }

    /// The language-model turns of every finished match of a tournament, by match index, in play order.
    pub fn turns(&self, tournament: i64) -> Result<BTreeMap<u64, Vec<TextTurn>>> {
        let rows = self.run(|sql| {
            sql.query(
                "SELECT match_idx, seat, ply, messages, completion, tokens, logprobs, rejected, request FROM turns
                 WHERE tournament_id = ?1 ORDER BY match_idx, ordinal",
                params![tournament],
            )
        })?;
        let mut turns: BTreeMap<u64, Vec<TextTurn>> = Default::default();
        for r in rows {
            let index = r.int(0)?;
            let unreadable = || format!("store {}: match {index} has an unreadable turn", self.location);
            let trace = TextTrace {
                messages: serde_json::from_str(&r.text(3)?).with_context(unreadable)?,
                completion: r.text(4)?,
                tokens: serde_json::from_str(&r.text(5)?).with_context(unreadable)?,
                logprobs: serde_json::from_str(&r.text(6)?).with_context(unreadable)?,
                request: r.opt_text(8)?.map(|t| serde_json::from_str(&t)).transpose().with_context(unreadable)?,
            };
            let turn = TextTurn { seat: r.int(1)? as usize, ply: r.int(2)? as usize, trace, rejected: r.int(7)? != 0 };
            turns.entry(index as u64).or_default().push(turn);
        }
        Ok(turns)
    }

    /// Every checkpoint recorded by an evolve run, by generation and name, with its parents.
    pub fn checkpoints(&self) -> Result<Vec<(CheckpointRow, Vec<String>)>> {
        let (rows, edges) = self.run(|sql| {
            let rows = sql.query(
                "SELECT name, generation, hash, path, status, dataset FROM checkpoints ORDER BY generation, name",
                params![],
            )?;
            let edges = sql.query("SELECT child, parent FROM lineage_edges ORDER BY child, parent", params![])?;
            Ok((rows, edges))
        })?;
        let mut parents: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for edge in edges {
            parents.entry(edge.text(0)?).or_default().push(edge.text(1)?);
        }
        parents.values_mut().for_each(|list| list.sort());
        let mut checkpoints = Vec::with_capacity(rows.len());
        for r in rows {
            let name = r.text(0)?;
            let status = r.text(4)?;
            let status = CheckpointStatus::from_label(&status).ok_or_else(|| {
                Error::Invalid(format!("store {}: checkpoint {name} has an unknown status `{status}`", self.location))
            })?;
            let of = parents.remove(&name).unwrap_or_default();
            let row = CheckpointRow {
                generation: r.int(1)? as u32,
                hash: r.text(2)?,
                path: r.text(3)?,
                status,
                dataset: r.opt_text(5)?,
                name,
            };
            checkpoints.push((row, of));
        }
        // Text is ordered here, byte by byte: a server's collation must not change the order.
        checkpoints.sort_by(|(a, _), (b, _)| (a.generation, &a.name).cmp(&(b.generation, &b.name)));
        Ok(checkpoints)
    }

    /// Every recorded generation, in order.
    pub fn generations(&self) -> Result<Vec<GenerationRow>> {
        let rows = self.run(|sql| {
            sql.query(
                "SELECT generation, tournament_id, champion, summary FROM generations ORDER BY generation",
                params![],
            )
        })?;
        rows.iter()
            .map(|r| {
                Ok(GenerationRow {
                    generation: r.int(0)? as u32,
                    tournament_id: r.opt_int(1)?,
                    champion: r.text(2)?,
                    summary: r.text(3)?,
                })
            })
            .collect()
    }

    /// Every agent's rating in a generation's tournament, best first.
    pub fn generation_ratings(&self, generation: u32) -> Result<Vec<RatingRow>> {
        let rows = self.run(|sql| {
            sql.query(
                "SELECT agent, checkpoint_hash, rating, ci_low, ci_high, games, score FROM generation_ratings
                 WHERE generation = ?1 ORDER BY rating DESC, agent",
                params![generation],
            )
        })?;
        rows.iter()
            .map(|r| {
                Ok(RatingRow {
                    agent: r.text(0)?,
                    checkpoint_hash: r.opt_text(1)?,
                    rating: r.real(2)?,
                    ci_low: r.real(3)?,
                    ci_high: r.real(4)?,
                    games: r.int(5)? as u64,
                    score: r.real(6)?,
                })
            })
            .collect::<Result<Vec<RatingRow>>>()
            .map(|mut ratings| {
                ratings.sort_by(|a, b| b.rating.total_cmp(&a.rating).then_with(|| a.agent.cmp(&b.agent)));
                ratings
            })
    }
}
