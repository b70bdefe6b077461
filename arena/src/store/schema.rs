//! The store's schema, its version, and the upgrades of older stores.

use rusqlite::Connection;

use crate::error::{Context, Result, bail};

/// Marks a SQLite file as an Arena store ("AREN").
const APPLICATION_ID: i64 = 0x4152_454e;
/// The schema version this code writes.
pub const SCHEMA_VERSION: i64 = 5;

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
    rejected INTEGER NOT NULL DEFAULT 0,
    request TEXT,
    PRIMARY KEY (tournament_id, match_idx, ordinal)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints (
    name TEXT PRIMARY KEY,
    generation INTEGER NOT NULL,
    hash TEXT NOT NULL,
    path TEXT NOT NULL,
    status TEXT NOT NULL,
    dataset TEXT
);
CREATE TABLE IF NOT EXISTS lineage_edges (
    parent TEXT NOT NULL REFERENCES checkpoints(name),
    child TEXT NOT NULL REFERENCES checkpoints(name),
    gate TEXT,
    PRIMARY KEY (parent, child)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS generations (
    generation INTEGER PRIMARY KEY,
    tournament_id INTEGER REFERENCES tournaments(id),
    champion TEXT NOT NULL,
    summary TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS generation_ratings (
    generation INTEGER NOT NULL REFERENCES generations(generation),
    agent TEXT NOT NULL,
    checkpoint_hash TEXT,
    rating REAL NOT NULL,
    ci_low REAL NOT NULL,
    ci_high REAL NOT NULL,
    games INTEGER NOT NULL,
    score REAL NOT NULL,
    PRIMARY KEY (generation, agent)
) WITHOUT ROWID;
";

/// Brings a schema-1 store to schema 2: matches gain the judge seat's agent.
const MIGRATE_FROM_1: &str = "ALTER TABLE matches ADD COLUMN judge INTEGER;";
/// Brings a schema-2 or -3 store to schema 4: turns say whether the engine rejected them.
const MIGRATE_TURNS_TO_4: &str = "ALTER TABLE turns ADD COLUMN rejected INTEGER NOT NULL DEFAULT 0;";
/// Brings a schema-2 to -4 store to schema 5: turns of served models keep their request.
const MIGRATE_TURNS_TO_5: &str = "ALTER TABLE turns ADD COLUMN request TEXT;";

/// Checks that `conn` is an Arena store (or empty), upgrades an older schema, and sets WAL.
pub fn init(conn: &Connection) -> Result<()> {
    let application_id: i64 =
        conn.query_row("PRAGMA application_id", [], |r| r.get(0)).context("not a SQLite database")?;
    let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table'", [], |r| r.get(0))?;
    if application_id != APPLICATION_ID && (application_id != 0 || tables > 0) {
        bail!(
            "this SQLite file belongs to another program (application_id {application_id:#x}); refusing to write to it"
        );
    }
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        bail!("written by a newer Arena (schema {version}; this one reads up to {SCHEMA_VERSION})");
    }
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if version == 1 && tables > 0 {
        conn.execute_batch(MIGRATE_FROM_1).context("cannot upgrade the store from schema 1")?;
    }
    // Schema 1 had no turns table (the schema below creates it whole); 2 and 3 lack the column.
    if (2..4).contains(&version) && tables > 0 {
        conn.execute_batch(MIGRATE_TURNS_TO_4)
            .with_context(|| format!("cannot upgrade the store from schema {version}"))?;
    }
    if (2..5).contains(&version) && tables > 0 {
        conn.execute_batch(MIGRATE_TURNS_TO_5)
            .with_context(|| format!("cannot upgrade the store from schema {version}"))?;
    }
    if mode != "wal" {
        bail!("cannot switch to WAL journaling (got {mode})");
    }
    // Schema 3 only added tables, which the schema creates when missing.
    conn.execute_batch(&format!(
        "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;
         PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {SCHEMA_VERSION}; {SCHEMA}"
    ))?;
    Ok(())
}
