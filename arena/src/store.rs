//! The store: an embedded SQLite file (WAL) with tournaments, their agents, scheduled and finished
//! matches, results and move lists. Anything that reads SQL can read it.
//!
//! Crash safety: results are written in transactions; a match row is finished exactly once (the
//! update only applies to unfinished rows), so a run killed at any instant and resumed neither loses
//! nor double-counts a game.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use agents::TextTrace;

use crate::runner::{EndReason, MatchResult, TextTurn};
use crate::schedule::Pairing;

/// Marks a SQLite file as an Arena store ("AREN").
const APPLICATION_ID: i64 = 0x4152_454e;
/// The schema version this code writes.
const SCHEMA_VERSION: i64 = 2;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS tournaments (
    id INTEGER PRIMARY KEY,
    game TEXT NOT NULL,
    config TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    finished_at TEXT
);
CREATE TABLE IF NOT EXISTS agents (
    tournament_id INTEGER NOT NULL REFERENCES tournaments(id),
    idx INTEGER NOT NULL,
    name TEXT NOT NULL,
    spec TEXT NOT NULL,
    checkpoint_hash TEXT,
    PRIMARY KEY (tournament_id, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS matches (
    tournament_id INTEGER NOT NULL REFERENCES tournaments(id),
    idx INTEGER NOT NULL,
    round INTEGER NOT NULL,
    seat0 INTEGER NOT NULL,
    seat1 INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    pair INTEGER NOT NULL,
    opening TEXT NOT NULL,
    finished INTEGER NOT NULL DEFAULT 0,
    returns TEXT,
    score0 REAL,
    end_reason TEXT,
    fault_seat INTEGER,
    fault_detail TEXT,
    length INTEGER,
    moves TEXT,
    move_micros TEXT,
    judge INTEGER,
    PRIMARY KEY (tournament_id, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS judges (
    tournament_id INTEGER NOT NULL REFERENCES tournaments(id),
    idx INTEGER NOT NULL,
    name TEXT NOT NULL,
    spec TEXT NOT NULL,
    PRIMARY KEY (tournament_id, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS turns (
    tournament_id INTEGER NOT NULL,
    match_idx INTEGER NOT NULL,
    ordinal INTEGER NOT NULL,
    seat INTEGER NOT NULL,
    ply INTEGER NOT NULL,
    messages TEXT NOT NULL,
    completion TEXT NOT NULL,
    tokens TEXT NOT NULL,
    logprobs TEXT NOT NULL,
    PRIMARY KEY (tournament_id, match_idx, ordinal)
) WITHOUT ROWID;
";

/// Brings a schema-1 store up to date: matches gain the judge seat's agent.
const MIGRATE_FROM_1: &str = "ALTER TABLE matches ADD COLUMN judge INTEGER;";

/// An open store.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

/// A tournament as stored.
#[derive(Clone, Debug, Serialize)]
pub struct TournamentRow {
    pub id: i64,
    pub game: String,
    pub config: String,
    pub created_at: String,
    pub finished_at: Option<String>,
}

/// An agent of a tournament as stored.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AgentRow {
    pub name: String,
    pub spec: String,
    pub checkpoint_hash: Option<String>,
}

/// A finished match as stored.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FinishedMatch {
    pub index: u64,
    pub round: u32,
    pub seats: [usize; 2],
    /// The game pair (and opening) number: the two games of a pair share it.
    pub pair: u64,
    pub returns: Vec<f64>,
    /// Seat 0's score: 1 win, 0.5 draw, 0 loss.
    pub score0: f64,
    pub end_reason: String,
    pub fault_seat: Option<usize>,
    pub fault_detail: Option<String>,
    pub length: usize,
    /// The judge (index into the tournament's judges) in the judge seat, for games that have one.
    pub judge: Option<usize>,
}

/// A match as scheduled: its index, seats, seed, opening and judge.
#[derive(Clone, Debug, PartialEq)]
pub struct ScheduledMatch {
    pub index: u64,
    pub pairing: Pairing,
    pub seed: u64,
    pub opening: Vec<u32>,
    pub judge: Option<usize>,
}

impl Store {
    /// Opens (or creates) a store; a file that is not an Arena store is refused, untouched.
    pub fn open(path: &Path) -> Result<Store> {
        let conn = Connection::open(path).with_context(|| format!("cannot open store {}", path.display()))?;
        let store = Store { conn, path: path.to_path_buf() };
        store.init().with_context(|| format!("store {}", path.display()))?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn init(&self) -> Result<()> {
        let application_id: i64 =
            self.conn.query_row("PRAGMA application_id", [], |r| r.get(0)).context("not a SQLite database")?;
        let tables: i64 =
            self.conn.query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table'", [], |r| r.get(0))?;
        if application_id != APPLICATION_ID && (application_id != 0 || tables > 0) {
            bail!(
                "this SQLite file belongs to another program (application_id {application_id:#x}); refusing to write to it"
            );
        }
        let version: i64 = self.conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            bail!("written by a newer Arena (schema {version}; this one reads up to {SCHEMA_VERSION})");
        }
        let mode: String = self.conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if version == 1 && tables > 0 {
            self.conn.execute_batch(MIGRATE_FROM_1).context("cannot upgrade the store from schema 1")?;
        }
        if mode != "wal" {
            bail!("cannot switch to WAL journaling (got {mode})");
        }
        self.conn.execute_batch(&format!(
            "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;
             PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {SCHEMA_VERSION}; {SCHEMA}"
        ))?;
        Ok(())
    }

    /// Adds a tournament with its agents; returns its id.
    pub fn create_tournament(&mut self, game: &str, config: &str, agents: &[AgentRow]) -> Result<i64> {
        self.create_tournament_with_judges(game, config, agents, &[])
    }

    /// Adds a tournament with its agents and the judges that fill a judge seat; returns its id.
    pub fn create_tournament_with_judges(
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
                "INSERT OR IGNORE INTO turns (tournament_id, match_idx, ordinal, seat, ply, messages, completion, tokens, logprobs)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
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
                    crate::tally::score_of_seat0(&result.returns),
                    result.end.label(),
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
                        ])?;
                    }
                }
            }
        }
        tx.commit()?;
        Ok(())
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
            finished.push(FinishedMatch {
                index: index as u64,
                round,
                seats: [seat0 as usize, seat1 as usize],
                pair: pair as u64,
                returns,
                score0,
                end_reason,
                fault_seat: fault_seat.map(|s| s as usize),
                fault_detail,
                length: length as usize,
                judge: judge.map(|j| j as usize),
            });
        }
        Ok(finished)
    }

    /// The stored moves of one match, if they were kept.
    pub fn moves(&self, tournament: i64, index: u64) -> Result<Option<Vec<games::Move>>> {
        let text: Option<Option<String>> = self
            .conn
            .query_row(
                "SELECT moves FROM matches WHERE tournament_id = ?1 AND idx = ?2",
                params![tournament, index as i64],
                |r| r.get(0),
            )
            .optional()?;
        match text.flatten() {
            None => Ok(None),
            Some(text) => Ok(Some(serde_json::from_str(&text).context("unreadable move list")?)),
        }
    }

    /// The language-model turns of every finished match of a tournament, by match index, in play order.
    pub fn turns(&self, tournament: i64) -> Result<std::collections::BTreeMap<u64, Vec<TextTurn>>> {
        let mut statement = self.conn.prepare(
            "SELECT match_idx, seat, ply, messages, completion, tokens, logprobs FROM turns
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
            ))
        })?;
        let mut turns: std::collections::BTreeMap<u64, Vec<TextTurn>> = Default::default();
        for row in rows {
            let (index, seat, ply, messages, completion, tokens, logprobs) = row?;
            let unreadable = || format!("store {}: match {index} has an unreadable turn", self.path.display());
            let trace = TextTrace {
                messages: serde_json::from_str(&messages).with_context(unreadable)?,
                completion,
                tokens: serde_json::from_str(&tokens).with_context(unreadable)?,
                logprobs: serde_json::from_str(&logprobs).with_context(unreadable)?,
            };
            turns.entry(index as u64).or_default().push(TextTurn { seat: seat as usize, ply: ply as usize, trace });
        }
        Ok(turns)
    }

    /// Marks a tournament finished.
    pub fn finish_tournament(&mut self, tournament: i64) -> Result<()> {
        self.conn.execute(
            "UPDATE tournaments SET finished_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = ?1 AND finished_at IS NULL",
            [tournament],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::Pairing;

    #[test]
    fn a_schema_1_store_is_upgraded_and_keeps_its_matches() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("old.db");
        let row = AgentRow { name: "a".to_string(), spec: "random".to_string(), checkpoint_hash: None };
        {
            let mut store = Store::open(&path).unwrap_or_else(|e| panic!("{e:#}"));
            let id = store
                .create_tournament("tic_tac_toe", "{}", &[row.clone(), row.clone()])
                .unwrap_or_else(|e| panic!("{e:#}"));
            let pairing = Pairing { round: 1, seats: [0, 1], opening: 0 };
            let scheduled = ScheduledMatch { index: 0, pairing, seed: 9, opening: Vec::new(), judge: None };
            store.schedule(id, &[scheduled]).unwrap_or_else(|e| panic!("{e:#}"));
            // Back to what schema 1 had: no judge column, no judges or turns tables.
            store
                .conn
                .execute_batch("ALTER TABLE matches DROP COLUMN judge; DROP TABLE judges; DROP TABLE turns; PRAGMA user_version = 1;")
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let store = Store::open(&path).unwrap_or_else(|e| panic!("{e:#}"));
        let version: i64 =
            store.conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(version, SCHEMA_VERSION);
        assert_eq!(store.scheduled_count(1).unwrap_or_else(|e| panic!("{e:#}")), 1);
        assert!(store.judges(1).unwrap_or_else(|e| panic!("{e:#}")).is_empty());
        assert!(store.turns(1).unwrap_or_else(|e| panic!("{e:#}")).is_empty());
        assert!(store.finished(1).unwrap_or_else(|e| panic!("{e:#}")).is_empty());
    }
}
