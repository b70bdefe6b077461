//! The store's schema, its version, and the upgrades of older stores.

use rusqlite::Connection;

use super::backend::{Db, Dialect, params};
use crate::error::{Context, Result, bail};

/// Marks a SQLite file as an Arena store ("AREN").
const APPLICATION_ID: i64 = 0x4152_454e;
/// The schema version this code writes.
pub const SCHEMA_VERSION: i64 = 10;

/// The tables, written once for both databases (see [`Dialect::render`] for the tokens).
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS tournaments (
    id {id},
    game TEXT NOT NULL,
    config TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT ({now}),
    finished_at TEXT
);
CREATE TABLE IF NOT EXISTS agents (
    tournament_id {int} NOT NULL REFERENCES tournaments(id),
    idx {int} NOT NULL,
    name TEXT NOT NULL,
    spec TEXT NOT NULL,
    checkpoint_hash TEXT,
    PRIMARY KEY (tournament_id, idx)
) {without_rowid};
CREATE TABLE IF NOT EXISTS matches (
    tournament_id {int} NOT NULL REFERENCES tournaments(id),
    idx {int} NOT NULL,
    round {int} NOT NULL,
    seat0 {int} NOT NULL,
    seat1 {int} NOT NULL,
    seed {int} NOT NULL,
    pair {int} NOT NULL,
    opening TEXT NOT NULL,
    finished {int} NOT NULL DEFAULT 0,
    returns TEXT,
    score0 {real},
    end_reason TEXT,
    fault_seat {int},
    fault_detail TEXT,
    length {int},
    moves TEXT,
    move_micros TEXT,
    judge {int},
    lease_owner TEXT,
    lease_until {int},
    worker TEXT,
    trajectory TEXT,
    PRIMARY KEY (tournament_id, idx)
) {without_rowid};
CREATE TABLE IF NOT EXISTS judges (
    tournament_id {int} NOT NULL REFERENCES tournaments(id),
    idx {int} NOT NULL,
    name TEXT NOT NULL,
    spec TEXT NOT NULL,
    PRIMARY KEY (tournament_id, idx)
) {without_rowid};
CREATE TABLE IF NOT EXISTS turns (
    tournament_id {int} NOT NULL,
    match_idx {int} NOT NULL,
    ordinal {int} NOT NULL,
    seat {int} NOT NULL,
    ply {int} NOT NULL,
    messages TEXT NOT NULL,
    completion TEXT NOT NULL,
    tokens TEXT NOT NULL,
    logprobs TEXT NOT NULL,
    rejected {int} NOT NULL DEFAULT 0,
    request TEXT,
    PRIMARY KEY (tournament_id, match_idx, ordinal)
) {without_rowid};
CREATE TABLE IF NOT EXISTS checkpoints (
    name TEXT PRIMARY KEY,
    generation {int} NOT NULL,
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
) {without_rowid};
CREATE TABLE IF NOT EXISTS generations (
    generation {int} PRIMARY KEY,
    tournament_id {int} REFERENCES tournaments(id),
    champion TEXT NOT NULL,
    summary TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS generation_ratings (
    generation {int} NOT NULL REFERENCES generations(generation),
    agent TEXT NOT NULL,
    checkpoint_hash TEXT,
    rating {real} NOT NULL,
    ci_low {real} NOT NULL,
    ci_high {real} NOT NULL,
    games {int} NOT NULL,
    score {real} NOT NULL,
    PRIMARY KEY (generation, agent)
) {without_rowid};
CREATE INDEX IF NOT EXISTS matches_pending ON matches (tournament_id, idx) WHERE finished = 0;
CREATE INDEX IF NOT EXISTS matches_leased ON matches (lease_owner) WHERE finished = 0;
CREATE TABLE IF NOT EXISTS faults (
    tournament_id {int} NOT NULL,
    idx {int} NOT NULL,
    worker TEXT NOT NULL,
    detail TEXT NOT NULL,
    recorded_at TEXT NOT NULL DEFAULT ({now})
);
CREATE TABLE IF NOT EXISTS broken_matches (
    tournament_id {int} NOT NULL,
    idx {int} NOT NULL,
    worker TEXT,
    message TEXT NOT NULL,
    recorded_at TEXT NOT NULL DEFAULT ({now}),
    PRIMARY KEY (tournament_id, idx)
) {without_rowid};
CREATE TABLE IF NOT EXISTS refusals (
    tournament_id {int} NOT NULL,
    worker TEXT NOT NULL,
    detail TEXT NOT NULL,
    recorded_at TEXT NOT NULL DEFAULT ({now})
);
CREATE TABLE IF NOT EXISTS tournament_files (
    tournament_id {int} NOT NULL REFERENCES tournaments(id),
    role TEXT NOT NULL,
    idx {int} NOT NULL,
    path TEXT NOT NULL,
    kind TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (tournament_id, role, idx, path)
) {without_rowid};
CREATE TABLE IF NOT EXISTS content_parts (
    hash TEXT NOT NULL,
    file TEXT NOT NULL,
    part {int} NOT NULL,
    bytes {bytes} NOT NULL,
    PRIMARY KEY (hash, file, part)
) {without_rowid};
CREATE TABLE IF NOT EXISTS votes (
    token TEXT PRIMARY KEY,
    tournament_id {int} NOT NULL,
    match_idx {int} NOT NULL,
    ordinal_a {int} NOT NULL,
    ordinal_b {int} NOT NULL,
    agent_a TEXT NOT NULL,
    agent_b TEXT NOT NULL,
    shown_at TEXT NOT NULL DEFAULT ({now}),
    choice TEXT,
    voter TEXT,
    voted_at TEXT
);
CREATE TABLE IF NOT EXISTS verdicts (
    token TEXT PRIMARY KEY,
    tournament_id {int} NOT NULL,
    match_idx {int} NOT NULL,
    shown_at TEXT NOT NULL DEFAULT ({now}),
    verdict TEXT,
    person TEXT,
    decided_at TEXT
);
CREATE TABLE IF NOT EXISTS approvals (
    id {id},
    run TEXT NOT NULL,
    child TEXT NOT NULL,
    generation {int} NOT NULL,
    request TEXT NOT NULL,
    token TEXT NOT NULL UNIQUE,
    asked_at TEXT NOT NULL DEFAULT ({now}),
    approved {int},
    decided_by TEXT,
    decided_at TEXT,
    UNIQUE (run, child)
);
CREATE TABLE IF NOT EXISTS workers (
    owner TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    started_at TEXT NOT NULL DEFAULT ({now}),
    heartbeat_ms {int} NOT NULL,
    games {int} NOT NULL DEFAULT 0
);
";

/// Brings a schema-1 store to schema 2: matches gain the judge seat's agent.
const MIGRATE_FROM_1: &str = "ALTER TABLE matches ADD COLUMN judge INTEGER;";
/// Brings a schema-2 or -3 store to schema 4: turns say whether the engine rejected them.
const MIGRATE_TURNS_TO_4: &str = "ALTER TABLE turns ADD COLUMN rejected INTEGER NOT NULL DEFAULT 0;";
/// Brings a schema-2 to -4 store to schema 5: turns of served models keep their request.
const MIGRATE_TURNS_TO_5: &str = "ALTER TABLE turns ADD COLUMN request TEXT;";
/// Brings a schema-1 to -5 store to schema 6: matches gain a worker's lease, the worker that
/// played them and (for games played by workers for training) the trajectory (the faults,
/// refusals and workers tables are created whole).
const MIGRATE_MATCHES_TO_6: &str = "ALTER TABLE matches ADD COLUMN lease_owner TEXT;
ALTER TABLE matches ADD COLUMN lease_until INTEGER;
ALTER TABLE matches ADD COLUMN worker TEXT;
ALTER TABLE matches ADD COLUMN trajectory TEXT;";
/// Brings a schema-6 store to schema 7 (after the schema has created `content_parts` and
/// `tournament_files`): checkpoint copies move into parts.
const MIGRATE_CHECKPOINT_FILES_TO_7: &str = "INSERT INTO content_parts (hash, file, part, bytes)
    SELECT hash, file, 0, bytes FROM checkpoint_files WHERE true ON CONFLICT DO NOTHING;
DROP TABLE checkpoint_files;";

/// Checks that `conn` is an Arena store (or empty), upgrades an older schema, and sets WAL.
pub fn init_sqlite(conn: &Connection) -> Result<()> {
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
    if (1..6).contains(&version) && tables > 0 {
        conn.execute_batch(MIGRATE_MATCHES_TO_6)
            .with_context(|| format!("cannot upgrade the store from schema {version}"))?;
    }
    if mode != "wal" {
        bail!("cannot switch to WAL journaling (got {mode})");
    }
    // Schema 3 only added tables, which the schema creates when missing.
    conn.execute_batch(&format!(
        "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;
         PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {SCHEMA_VERSION}; {}",
        Dialect::Sqlite.render(SCHEMA)
    ))?;
    let checkpoint_files: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'checkpoint_files'",
        [],
        |r| r.get(0),
    )?;
    if checkpoint_files > 0 {
        conn.execute_batch(MIGRATE_CHECKPOINT_FILES_TO_7).context("cannot upgrade the store from schema 6")?;
    }
    Ok(())
}

/// Checks that a PostgreSQL database is an Arena store (or holds no tables), and creates or
/// upgrades the schema: the same tables as SQLite's, with the marker and version in `arena_meta`.
/// An advisory lock keeps workers that start together from creating the tables twice.
pub fn init_postgres(db: &mut Db) -> Result<()> {
    db.transaction(|sql| {
        sql.execute("SELECT pg_advisory_xact_lock(?1)", params![APPLICATION_ID])?;
        let tables = sql.query_int(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()",
            params![],
        )?;
        let marked = sql.query_int(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'arena_meta'",
            params![],
        )?;
        if tables > 0 && marked == 0 {
            bail!("this database holds {tables} tables of another program (no arena_meta table); refusing to write to it");
        }
        if marked > 0 {
            let version = sql
                .query_opt("SELECT value FROM arena_meta WHERE key = 'schema_version'", params![])?
                .map(|row| row.text(0))
                .transpose()?
                .unwrap_or_default();
            let version: i64 = version
                .parse()
                .map_err(|_| crate::error::Error::Invalid(format!("arena_meta has a bad schema_version `{version}`")))?;
            if version > SCHEMA_VERSION {
                bail!("written by a newer Arena (schema {version}; this one reads up to {SCHEMA_VERSION})");
            }
        }
        sql.batch(SCHEMA)?;
        // PostgreSQL stores start at schema 6; 7 moved checkpoint copies into parts.
        let checkpoint_files = sql.query_int(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'checkpoint_files'",
            params![],
        )?;
        if checkpoint_files > 0 {
            sql.batch(MIGRATE_CHECKPOINT_FILES_TO_7)?;
        }
        sql.batch(
            "CREATE TABLE IF NOT EXISTS arena_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             INSERT INTO arena_meta (key, value) VALUES ('application', 'arena') ON CONFLICT (key) DO NOTHING;",
        )?;
        sql.execute(
            "INSERT INTO arena_meta (key, value) VALUES ('schema_version', ?1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![SCHEMA_VERSION.to_string()],
        )?;
        Ok(())
    })
}
