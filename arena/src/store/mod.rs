//! The store: an embedded SQLite file (WAL), or a PostgreSQL database that worker processes on
//! many machines share ([`backend`], [`leases`]), with tournaments, their agents, scheduled and finished
//! matches, results, move lists and language-model turns, and an evolve run's checkpoints (with
//! their content hashes), lineage edges, generations and ratings per generation. Anything that
//! reads SQL can read it: one file answers "which weights played this game, and what was their
//! rating in generation 7".
//!
//! Crash safety: results are written in transactions; a match row is finished exactly once (the
//! update only applies to unfinished rows), so a run killed at any instant and resumed neither loses
//! nor double-counts a game. On a shared store, matches are leased to workers and a result that
//! arrives for a finished match is compared with it, never stored twice.

mod approvals;
mod backend;
mod broken;
mod content;
mod copy;
mod leases;
mod reads;
mod schema;
mod verdicts;
mod votes;
mod writes;

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::Connection;
use serde::Serialize;

use crate::engine::runner::EndKind;
use crate::engine::schedule::Pairing;
use crate::error::{Context, Error, Result};
pub use approvals::{DecisionOutcome, StoredApproval, is_token, one_use_token};
pub use backend::StoreLocation;
use backend::{Db, Sql};
pub use content::{ContentKind, FileRole, MAX_STORED_CONTENT_BYTES, TournamentFile, is_sha256};
pub use leases::{Claim, RecordOutcome, StoredFault};
pub use schema::SCHEMA_VERSION;
pub use verdicts::{AwaitingMatch, DecisionPosted, StoredVerdict};
pub use votes::{AnswerPair, StoredVote, VoteChoice, VoteOutcome};

/// An open store.
#[derive(Debug)]
pub struct Store {
    /// Reads take `&self`; the connection is used by one statement at a time.
    db: Mutex<Db>,
    location: StoreLocation,
}

impl Store {
    /// Opens (or creates) a SQLite store; a file that is not an Arena store is refused, untouched,
    /// and a damaged one (SQLite's `quick_check` finds a bad page or index) is refused with an
    /// error that says so, before anything reads half its rows.
    pub fn open(path: &Path) -> Result<Store> {
        let store_error = |source| Error::Store { path: path.to_path_buf(), source };
        let existed = std::fs::metadata(path).is_ok_and(|m| m.len() > 0);
        let conn = Connection::open(path).map_err(store_error)?;
        if existed {
            check_integrity(&conn, path)?;
        }
        schema::init_sqlite(&conn).with_context(|| format!("store {}", path.display()))?;
        Ok(Store { db: Mutex::new(Db::Sqlite(conn)), location: StoreLocation::Sqlite(path.to_path_buf()) })
    }

    /// Opens a store wherever it lives: a SQLite file, or a PostgreSQL database (created tables
    /// and all when empty; one holding another program's tables is refused).
    pub fn connect(location: &StoreLocation) -> Result<Store> {
        match location {
            StoreLocation::Sqlite(path) => Store::open(path),
            StoreLocation::Postgres(url) => {
                let context = || format!("store {location}");
                let mut db = Db::connect_postgres(url).with_context(context)?;
                schema::init_postgres(&mut db).with_context(context)?;
                Ok(Store { db: Mutex::new(db), location: location.clone() })
            }
        }
    }

    /// Where the store lives (shown with any password hidden).
    pub fn location(&self) -> &StoreLocation {
        &self.location
    }

    fn lock(&self) -> Result<MutexGuard<'_, Db>> {
        self.db.lock().map_err(|_| Error::Invalid(format!("store {}: a thread using it panicked", self.location)))
    }

    /// Runs `f` on the connection (reads, single statements).
    fn run<T>(&self, f: impl FnMut(&mut dyn Sql) -> Result<T>) -> Result<T> {
        self.lock()?.run(f)
    }

    /// Runs `f` in one transaction.
    fn transaction<T>(&self, f: impl FnMut(&mut dyn Sql) -> Result<T>) -> Result<T> {
        self.lock()?.transaction(f)
    }

    #[cfg(test)]
    fn execute_batch(&self, sql: &str) -> Result<()> {
        self.run(|s| s.batch(sql))
    }
}

/// Runs SQLite's `quick_check` (every page and index, not the cross-checks of `integrity_check`);
/// a damaged store is an error naming the first problems found.
fn check_integrity(conn: &Connection, path: &Path) -> Result<()> {
    let damaged = |detail: String| {
        Error::Invalid(format!(
            "store {} is damaged ({detail}); nothing was read from it. Restore it from a backup, or save what \
             is readable with `sqlite3 {} .recover | sqlite3 recovered.db`",
            path.display(),
            path.display()
        ))
    };
    let problems: Vec<String> = match conn.prepare("PRAGMA quick_check(5)").and_then(|mut statement| {
        statement.query_map([], |row| row.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<String>>>()
    }) {
        Ok(problems) => problems,
        // Not a database at all is the schema check's to report; a damaged one says so here.
        Err(rusqlite::Error::SqliteFailure(e, message)) if e.code == rusqlite::ErrorCode::DatabaseCorrupt => {
            return Err(damaged(message.unwrap_or_else(|| e.to_string())));
        }
        Err(_) => return Ok(()),
    };
    if problems.len() == 1 && problems[0] == "ok" {
        return Ok(());
    }
    Err(damaged(format!("SQLite's check: {}", problems.join("; "))))
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
    /// The content hash of a checkpoint agent's weights.
    pub checkpoint_hash: Option<String>,
}

/// A finished match as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct FinishedMatch {
    pub index: u64,
    pub round: u32,
    pub seats: [usize; 2],
    /// The game pair (and opening) number: the two games of a pair share it.
    pub pair: u64,
    pub returns: Vec<f64>,
    /// Seat 0's score: 1 win, 0.5 draw, 0 loss.
    pub score0: f64,
    pub end: EndKind,
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

/// What became of a checkpoint of an evolve run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckpointStatus {
    /// The run's first checkpoint.
    Initial,
    /// A child that passed its gate.
    Promoted,
    /// A child that failed its gate.
    Rejected,
    /// A child that passed its gate and that a person vetoed (`arena evolve --approve`).
    Vetoed,
}

impl CheckpointStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckpointStatus::Initial => "initial",
            CheckpointStatus::Promoted => "promoted",
            CheckpointStatus::Rejected => "rejected",
            CheckpointStatus::Vetoed => "vetoed",
        }
    }

    pub fn from_label(label: &str) -> Option<Self> {
        [CheckpointStatus::Initial, CheckpointStatus::Promoted, CheckpointStatus::Rejected, CheckpointStatus::Vetoed]
            .into_iter()
            .find(|s| s.as_str() == label)
    }
}

/// A checkpoint of an evolve run as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckpointRow {
    pub name: String,
    pub generation: u32,
    /// The content hash of the weights.
    pub hash: String,
    /// The checkpoint directory, relative to the run directory.
    pub path: String,
    pub status: CheckpointStatus,
    /// The dataset it was trained on, relative to the run directory.
    pub dataset: Option<String>,
}

/// A generation of an evolve run as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct GenerationRow {
    pub generation: u32,
    /// The generation's rating tournament.
    pub tournament_id: Option<i64>,
    pub champion: String,
    /// The generation summary as JSON (what `generations/gen-N.json` holds).
    pub summary: String,
}

/// One agent's rating in a generation's tournament.
#[derive(Clone, Debug, PartialEq)]
pub struct RatingRow {
    pub agent: String,
    /// The content hash of its weights, for checkpoints.
    pub checkpoint_hash: Option<String>,
    pub rating: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub games: u64,
    pub score: f64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::schedule::Pairing;

    /// Undoes schemas 8 and 7: votes, tournament files and stored contents.
    const BACK_TO_SCHEMA_6: &str =
        "DROP TABLE approvals; DROP TABLE votes; DROP TABLE tournament_files; DROP TABLE content_parts;";
    /// Undoes schemas 8 to 6: the leases, the worker column, the faults and workers tables.
    const BACK_TO_SCHEMA_5: &str = "DROP TABLE approvals; DROP TABLE votes; DROP TABLE tournament_files; DROP TABLE content_parts;
        DROP INDEX matches_pending; DROP INDEX matches_leased;
        ALTER TABLE matches DROP COLUMN lease_owner; ALTER TABLE matches DROP COLUMN lease_until;
        ALTER TABLE matches DROP COLUMN worker; ALTER TABLE matches DROP COLUMN trajectory; DROP TABLE faults; DROP TABLE refusals; DROP TABLE workers;";

    #[test]
    fn a_schema_6_store_keeps_its_checkpoint_copies_as_stored_contents() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("six.db");
        {
            let store = Store::open(&path).unwrap_or_else(|e| panic!("{e:#}"));
            store
                .execute_batch(&format!(
                    "{BACK_TO_SCHEMA_6} CREATE TABLE checkpoint_files (hash TEXT NOT NULL, file TEXT NOT NULL,
                     bytes BLOB NOT NULL, PRIMARY KEY (hash, file)) WITHOUT ROWID;
                     INSERT INTO checkpoint_files VALUES ('abc', 'model.safetensors', x'0102'), ('abc', 'checkpoint.json', x'7b7d');
                     PRAGMA user_version = 6;"
                ))
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let store = Store::open(&path).unwrap_or_else(|e| panic!("{e:#}"));
        let files = store.content_files("abc").unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(files, vec![("checkpoint.json".to_string(), 1), ("model.safetensors".to_string(), 1)]);
        let mut bytes = Vec::new();
        store.read_content_file("abc", "model.safetensors", 1, &mut bytes).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(bytes, [1, 2]);
        let tables =
            store.run(|s| s.query_int("SELECT count(*) FROM sqlite_master WHERE name = 'checkpoint_files'", &[]));
        assert_eq!(tables.unwrap_or_else(|e| panic!("{e}")), 0);
    }

    #[test]
    fn contents_are_stored_in_parts_and_read_back_whole() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = Store::open(&dir.path().join("parts.db")).unwrap_or_else(|e| panic!("{e:#}"));
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let (big, empty) = (dir.path().join("big.bin"), dir.path().join("empty.bin"));
        std::fs::write(&big, &data).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(&empty, b"").unwrap_or_else(|e| panic!("{e}"));
        let files = [("big".to_string(), big.as_path()), ("empty".to_string(), empty.as_path())];
        store.put_content_in_parts("h", &files, 4096).unwrap_or_else(|e| panic!("{e:#}"));
        assert!(store.has_content("h").unwrap_or(false) && !store.has_content("other").unwrap_or(true));
        let listed = store.content_files("h").unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(listed, vec![("big".to_string(), 3), ("empty".to_string(), 1)]);
        let mut read = Vec::new();
        store.read_content_file("h", "big", 3, &mut read).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(read, data);
        // Stored again (another planner): nothing doubles.
        store.put_content_in_parts("h", &files, 4096).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(store.content_files("h").unwrap_or_else(|e| panic!("{e:#}")), listed);
        // A lost part is named, not silently skipped.
        store
            .execute_batch("DELETE FROM content_parts WHERE file = 'big' AND part = 1")
            .unwrap_or_else(|e| panic!("{e}"));
        let error = match store.content_files("h") {
            Ok(files) => panic!("read {files:?} with a part missing"),
            Err(error) => error.to_string(),
        };
        assert!(error.contains("misses parts of `big`"), "{error}");
    }

    #[test]
    fn a_schema_1_store_is_upgraded_and_keeps_its_matches() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("old.db");
        let row = AgentRow { name: "a".to_string(), spec: "random".to_string(), checkpoint_hash: None };
        {
            let mut store = Store::open(&path).unwrap_or_else(|e| panic!("{e:#}"));
            let id = store
                .create_tournament("tic_tac_toe", "{}", &[row.clone(), row.clone()], &[], &[])
                .unwrap_or_else(|e| panic!("{e:#}"));
            let pairing = Pairing { round: 1, seats: [0, 1], opening: 0 };
            let scheduled = ScheduledMatch { index: 0, pairing, seed: 9, opening: Vec::new(), judge: None };
            store.schedule(id, &[scheduled]).unwrap_or_else(|e| panic!("{e:#}"));
            // Back to what schema 1 had: no judge column, no judges or turns tables.
            store
                .execute_batch(&format!(
                    "{BACK_TO_SCHEMA_5} ALTER TABLE matches DROP COLUMN judge; DROP TABLE judges; DROP TABLE turns; PRAGMA user_version = 1;"
                ))
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let store = Store::open(&path).unwrap_or_else(|e| panic!("{e:#}"));
        let version = store.run(|s| s.query_int("PRAGMA user_version", &[])).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(version, SCHEMA_VERSION);
        assert_eq!(store.scheduled_count(1).unwrap_or_else(|e| panic!("{e:#}")), 1);
        assert!(store.judges(1).unwrap_or_else(|e| panic!("{e:#}")).is_empty());
        assert!(store.turns(1).unwrap_or_else(|e| panic!("{e:#}")).is_empty());
        assert!(store.finished(1).unwrap_or_else(|e| panic!("{e:#}")).is_empty());
        // Schema 3's tables of an evolve run are there, empty.
        assert!(store.generations().unwrap_or_else(|e| panic!("{e:#}")).is_empty());
        assert!(store.checkpoints().unwrap_or_else(|e| panic!("{e:#}")).is_empty());
    }

    #[test]
    fn a_schema_3_store_is_upgraded_and_its_turns_are_accepted_answers() {
        use crate::engine::runner::{EndReason, MatchResult, TextTurn};
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("three.db");
        let row = AgentRow { name: "a".to_string(), spec: "random".to_string(), checkpoint_hash: None };
        let trace = agents::TextTrace {
            messages: vec![agents::ChatMessage::user("Your move:")],
            completion: "a1".into(),
            tokens: vec![5],
            logprobs: vec![-0.5],
            request: None,
        };
        {
            let mut store = Store::open(&path).unwrap_or_else(|e| panic!("{e:#}"));
            let id = store
                .create_tournament("tic_tac_toe", "{}", &[row.clone(), row.clone()], &[], &[])
                .unwrap_or_else(|e| panic!("{e:#}"));
            let pairing = Pairing { round: 1, seats: [0, 1], opening: 0 };
            let scheduled = ScheduledMatch { index: 0, pairing, seed: 9, opening: Vec::new(), judge: None };
            store.schedule(id, &[scheduled]).unwrap_or_else(|e| panic!("{e:#}"));
            let turn = TextTurn { seat: 0, ply: 0, trace: trace.clone(), rejected: false };
            let result = MatchResult {
                returns: vec![1.0, -1.0],
                end: EndReason::Normal,
                length: 5,
                moves: vec![games::Move::Action(0)],
                move_micros: vec![1],
                trajectory: Vec::new(),
                turns: vec![turn],
            };
            store.record(id, &[(0, result)]).unwrap_or_else(|e| panic!("{e:#}"));
            // Back to schema 3: turns without the rejected column.
            store
                .execute_batch(&format!(
                    "{BACK_TO_SCHEMA_5} ALTER TABLE turns DROP COLUMN rejected; ALTER TABLE turns DROP COLUMN request; PRAGMA user_version = 3;"
                ))
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let store = Store::open(&path).unwrap_or_else(|e| panic!("{e:#}"));
        let turns = store.turns(1).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(turns[&0], vec![TextTurn { seat: 0, ply: 0, trace, rejected: false }]);
    }

    #[test]
    fn generations_ratings_and_lineage_round_trip() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut store = Store::open(&dir.path().join("run.db")).unwrap_or_else(|e| panic!("{e:#}"));
        let checkpoint = |name: &str, generation, status| CheckpointRow {
            name: name.to_string(),
            generation,
            hash: format!("hash-{name}"),
            path: format!("checkpoints/{name}"),
            status,
            dataset: (generation > 0).then(|| format!("datasets/gen-{generation}.safetensors")),
        };
        let g0 = checkpoint("g0", 0, CheckpointStatus::Initial);
        let g1 = checkpoint("g1c0", 1, CheckpointStatus::Rejected);
        store.record_checkpoint(&g0, &[], None).unwrap_or_else(|e| panic!("{e:#}"));
        store.record_checkpoint(&g1, &["g0"], Some("{\"score\":0.4}")).unwrap_or_else(|e| panic!("{e:#}"));
        let stored = store.checkpoints().unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(stored, vec![(g0, vec![]), (g1, vec!["g0".to_string()])]);

        let generation =
            GenerationRow { generation: 1, tournament_id: None, champion: "g0".into(), summary: "{}".into() };
        let rating = |agent: &str, rating| RatingRow {
            agent: agent.to_string(),
            checkpoint_hash: (agent == "g0").then(|| "hash-g0".to_string()),
            rating,
            ci_low: rating - 50.0,
            ci_high: rating + 50.0,
            games: 40,
            score: 0.5,
        };
        let ratings = vec![rating("g0", 120.0), rating("random", 0.0)];
        store.record_generation(&generation, &ratings).unwrap_or_else(|e| panic!("{e:#}"));
        // Recording a generation again (a resumed run) replaces it.
        store.record_generation(&generation, &ratings).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(store.generations().unwrap_or_else(|e| panic!("{e:#}")), vec![generation]);
        assert_eq!(store.generation_ratings(1).unwrap_or_else(|e| panic!("{e:#}")), ratings);
    }
}
