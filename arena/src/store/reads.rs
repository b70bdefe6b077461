//! Reading the store: tournaments, their agents and judges, finished matches (with their end
//! read back as a typed [`EndKind`]), language-model turns, and an evolve run's generations.

use std::collections::BTreeMap;

use agents::TextTrace;
use rusqlite::params;

use super::{AgentRow, CheckpointRow, CheckpointStatus, FinishedMatch, GenerationRow, RatingRow, Store, TournamentRow};
use crate::engine::runner::{EndKind, TextTurn};
use crate::error::{Context, Error, Result};

impl Store {
    /// Every tournament, oldest first.
    pub fn tournaments(&self) -> Result<Vec<TournamentRow>> {
        let mut statement =
            self.conn.prepare("SELECT id, game, config, created_at, finished_at FROM tournaments ORDER BY id")?;
        let rows = statement.query_map([], |r| {
            Ok(TournamentRow {
                id: r.get(0)?,
                game: r.get(1)?,
                config: r.get(2)?,
                created_at: r.get(3)?,
                finished_at: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// One tournament by id.
    pub fn tournament(&self, id: i64) -> Result<TournamentRow> {
        self.tournaments()?
            .into_iter()
            .find(|t| t.id == id)
            .with_context(|| format!("store {} has no tournament {id}", self.path.display()))
    }

    /// The agents of a tournament, by index.
    pub fn agents(&self, tournament: i64) -> Result<Vec<AgentRow>> {
        let mut statement = self
            .conn
            .prepare("SELECT name, spec, checkpoint_hash FROM agents WHERE tournament_id = ?1 ORDER BY idx")?;
        let rows = statement.query_map([tournament], |r| {
            Ok(AgentRow { name: r.get(0)?, spec: r.get(1)?, checkpoint_hash: r.get(2)? })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// The judges of a tournament (the agents in a judge seat), by index.
    pub fn judges(&self, tournament: i64) -> Result<Vec<AgentRow>> {
        let mut statement = self.conn.prepare("SELECT name, spec FROM judges WHERE tournament_id = ?1 ORDER BY idx")?;
        let rows = statement
            .query_map([tournament], |r| Ok(AgentRow { name: r.get(0)?, spec: r.get(1)?, checkpoint_hash: None }))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Number of scheduled matches of a tournament.
    pub fn scheduled_count(&self, tournament: i64) -> Result<u64> {
        let n: i64 =
            self.conn.query_row("SELECT count(*) FROM matches WHERE tournament_id = ?1", [tournament], |r| r.get(0))?;
        Ok(n as u64)
    }

    /// The finished matches of a tournament, by index.
    pub fn finished(&self, tournament: i64) -> Result<Vec<FinishedMatch>> {
        let mut statement = self.conn.prepare(
            "SELECT idx, round, seat0, seat1, returns, score0, end_reason, fault_seat, length, pair, judge, fault_detail
             FROM matches WHERE tournament_id = ?1 AND finished = 1 ORDER BY idx",
        )?;
        let rows = statement.query_map([tournament], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, u32>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, f64>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, Option<i64>>(7)?,
                r.get::<_, i64>(8)?,
                r.get::<_, i64>(9)?,
                r.get::<_, Option<i64>>(10)?,
                r.get::<_, Option<String>>(11)?,
            ))
        })?;
        let mut finished = Vec::new();
        for row in rows {
            let (
                index,
                round,
                seat0,
                seat1,
                returns,
                score0,
                end_reason,
                fault_seat,
                length,
                pair,
                judge,
                fault_detail,
            ) = row?;
            let returns: Vec<f64> = serde_json::from_str(&returns)
                .with_context(|| format!("store {}: match {index} has unreadable returns", self.path.display()))?;
            let end = EndKind::from_label(&end_reason).ok_or_else(|| {
                Error::Invalid(format!(
                    "store {}: match {index} ended in an unknown way `{end_reason}`",
                    self.path.display()
                ))
            })?;
            finished.push(FinishedMatch {
                index: index as u64,
                round,
                seats: [seat0 as usize, seat1 as usize],
                pair: pair as u64,
                returns,
                score0,
                end,
                fault_seat: fault_seat.map(|s| s as usize),
                fault_detail,
                length: length as usize,
                judge: judge.map(|j| j as usize),
            });
        }
        Ok(finished)
    }

    /// The moves of every finished match of a tournament that kept them, by match index.
    pub fn match_moves(&self, tournament: i64) -> Result<BTreeMap<u64, Vec<games::Move>>> {
        let mut statement = self.conn.prepare(
            "SELECT idx, moves FROM matches WHERE tournament_id = ?1 AND finished = 1 AND moves IS NOT NULL",
        )?;
        let rows = statement.query_map([tournament], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
        let mut moves = BTreeMap::new();
        for row in rows {
            let (index, text) = row?;
            let list: Vec<games::Move> = serde_json::from_str(&text)
                .with_context(|| format!("store {}: match {index} has unreadable moves", self.path.display()))?;
            moves.insert(index as u64, list);
        }
        Ok(moves)
    }

    /// The language-model turns of every finished match of a tournament, by match index, in play order.
    pub fn turns(&self, tournament: i64) -> Result<BTreeMap<u64, Vec<TextTurn>>> {
        let mut statement = self.conn.prepare(
            "SELECT match_idx, seat, ply, messages, completion, tokens, logprobs, rejected, request FROM turns
             WHERE tournament_id = ?1 ORDER BY match_idx, ordinal",
        )?;
        let rows = statement.query_map([tournament], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, bool>(7)?,
                r.get::<_, Option<String>>(8)?,
            ))
        })?;
        let mut turns: BTreeMap<u64, Vec<TextTurn>> = Default::default();
        for row in rows {
            let (index, seat, ply, messages, completion, tokens, logprobs, rejected, request) = row?;
            let unreadable = || format!("store {}: match {index} has an unreadable turn", self.path.display());
            let trace = TextTrace {
                messages: serde_json::from_str(&messages).with_context(unreadable)?,
                completion,
                tokens: serde_json::from_str(&tokens).with_context(unreadable)?,
                logprobs: serde_json::from_str(&logprobs).with_context(unreadable)?,
                request: request.map(|r| serde_json::from_str(&r)).transpose().with_context(unreadable)?,
            };
            let turn = TextTurn { seat: seat as usize, ply: ply as usize, trace, rejected };
            turns.entry(index as u64).or_default().push(turn);
        }
        Ok(turns)
    }

    /// Every checkpoint recorded by an evolve run, by generation and name, with its parents.
    pub fn checkpoints(&self) -> Result<Vec<(CheckpointRow, Vec<String>)>> {
        let mut statement = self.conn.prepare(
            "SELECT name, generation, hash, path, status, dataset FROM checkpoints ORDER BY generation, name",
        )?;
        let rows = statement
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, u32>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, Option<String>>(5)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut parents = self.conn.prepare("SELECT parent FROM lineage_edges WHERE child = ?1 ORDER BY parent")?;
        let mut checkpoints = Vec::new();
        for (name, generation, hash, path, status, dataset) in rows {
            let status = CheckpointStatus::from_label(&status).ok_or_else(|| {
                Error::Invalid(format!(
                    "store {}: checkpoint {name} has an unknown status `{status}`",
                    self.path.display()
                ))
            })?;
            let of = parents.query_map([&name], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
            checkpoints.push((CheckpointRow { name, generation, hash, path, status, dataset }, of));
        }
        Ok(checkpoints)
    }

    /// Every recorded generation, in order.
    pub fn generations(&self) -> Result<Vec<GenerationRow>> {
        let mut statement = self
            .conn
            .prepare("SELECT generation, tournament_id, champion, summary FROM generations ORDER BY generation")?;
        let rows = statement.query_map([], |r| {
            Ok(GenerationRow {
                generation: r.get(0)?,
                tournament_id: r.get(1)?,
                champion: r.get(2)?,
                summary: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Every agent's rating in a generation's tournament, best first.
    pub fn generation_ratings(&self, generation: u32) -> Result<Vec<RatingRow>> {
        let mut statement = self.conn.prepare(
            "SELECT agent, checkpoint_hash, rating, ci_low, ci_high, games, score FROM generation_ratings
             WHERE generation = ?1 ORDER BY rating DESC, agent",
        )?;
        let rows = statement.query_map(params![generation], |r| {
            Ok(RatingRow {
                agent: r.get(0)?,
                checkpoint_hash: r.get(1)?,
                rating: r.get(2)?,
                ci_low: r.get(3)?,
                ci_high: r.get(4)?,
                games: r.get::<_, i64>(5)? as u64,
                score: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }
}
