//! Copying a whole store into an empty one, across databases: `arena store copy` moves a SQLite
//! file to a PostgreSQL server (to share it with workers) and back (to archive or hand it on).

use super::Store;
use super::backend::{Dialect, Value, params};
use crate::error::{Result, bail};

/// Every table with its columns, parents before children.
const TABLES: &[(&str, &[&str])] = &[
    ("tournaments", &["id", "game", "config", "created_at", "finished_at"]),
    ("agents", &["tournament_id", "idx", "name", "spec", "checkpoint_hash"]),
    ("judges", &["tournament_id", "idx", "name", "spec"]),
    (
        "matches",
        &[
            "tournament_id",
            "idx",
            "round",
            "seat0",
            "seat1",
            "seed",
            "pair",
            "opening",
            "finished",
            "returns",
            "score0",
            "end_reason",
            "fault_seat",
            "fault_detail",
            "length",
            "moves",
            "move_micros",
            "judge",
            "lease_owner",
            "lease_until",
            "worker",
            "trajectory",
        ],
    ),
    (
        "turns",
        &[
            "tournament_id",
            "match_idx",
            "ordinal",
            "seat",
            "ply",
            "messages",
            "completion",
            "tokens",
            "logprobs",
            "rejected",
            "request",
        ],
    ),
    ("checkpoints", &["name", "generation", "hash", "path", "status", "dataset"]),
    ("lineage_edges", &["parent", "child", "gate"]),
    ("generations", &["generation", "tournament_id", "champion", "summary"]),
    (
        "generation_ratings",
        &["generation", "agent", "checkpoint_hash", "rating", "ci_low", "ci_high", "games", "score"],
    ),
    ("faults", &["tournament_id", "idx", "worker", "detail", "recorded_at"]),
    ("refusals", &["tournament_id", "worker", "detail", "recorded_at"]),
    ("broken_matches", &["tournament_id", "idx", "worker", "message", "recorded_at"]),
    ("workers", &["owner", "name", "started_at", "heartbeat_ms", "games"]),
    ("tournament_files", &["tournament_id", "role", "idx", "path", "kind", "hash"]),
    (
        "approvals",
        &["id", "run", "child", "generation", "request", "token", "asked_at", "approved", "decided_by", "decided_at"],
    ),
    (
        "votes",
        &[
            "token",
            "tournament_id",
            "match_idx",
            "ordinal_a",
            "ordinal_b",
            "agent_a",
            "agent_b",
            "shown_at",
            "choice",
            "voter",
            "voted_at",
        ],
    ),
    ("verdicts", &["token", "tournament_id", "match_idx", "shown_at", "verdict", "person", "decided_at"]),
    ("content_parts", &["hash", "file", "part", "bytes"]),
];

/// Rows copied per statement batch (one transaction per table).
const ROWS_PER_COMMIT: usize = 2000;

impl Store {
    /// Copies every row of `self` into `to`, which must hold nothing yet; the rows copied per
    /// table. Ids are kept, so `--tournament N` names the same tournament in both.
    pub fn copy_to(&self, to: &Store, mut progress: impl FnMut(&str, usize)) -> Result<Vec<(&'static str, usize)>> {
        for (table, _) in TABLES {
            let rows = to.run(|s| s.query_int(&format!("SELECT count(*) FROM {table}"), params![]))?;
            if rows > 0 {
                bail!("store {} is not empty ({table} has {rows} rows): copy into a new store", to.location);
            }
        }
        let mut copied = Vec::new();
        for (table, columns) in TABLES {
            if *table == "content_parts" {
                copied.push((*table, self.copy_content_parts(to, &mut progress)?));
                continue;
            }
            let list = columns.join(", ");
            let rows = self.run(|s| s.query(&format!("SELECT {list} FROM {table}"), params![]))?;
            let placeholders: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
            let insert = format!("INSERT INTO {table} ({list}) VALUES ({})", placeholders.join(", "));
            for chunk in rows.chunks(ROWS_PER_COMMIT) {
                to.transaction(|s| {
                    for row in chunk {
                        s.execute(&insert, &row.0)?;
                    }
                    Ok(())
                })?;
                progress(table, chunk.len());
            }
            copied.push((*table, rows.len()));
        }
        // New tournaments (and approval requests) continue after the copied ids.
        if to.lock()?.dialect() == Dialect::Postgres {
            for table in ["tournaments", "approvals"] {
                to.run(|s| {
                    s.query(
                        &format!(
                            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), coalesce(max(id), 0) + 1, false) FROM {table}"
                        ),
                        &[] as &[Value],
                    )
                })?;
            }
        }
        Ok(copied)
    }

    /// Copies the stored contents part by part (each up to 32 MiB: never a whole table in memory).
    fn copy_content_parts(&self, to: &Store, progress: &mut impl FnMut(&str, usize)) -> Result<usize> {
        let keys =
            self.run(|s| s.query("SELECT hash, file, part FROM content_parts ORDER BY hash, file, part", params![]))?;
        for key in &keys {
            let (hash, file, part) = (key.text(0)?, key.text(1)?, key.int(2)?);
            let row = self.run(|s| {
                s.query_opt(
                    "SELECT bytes FROM content_parts WHERE hash = ?1 AND file = ?2 AND part = ?3",
                    params![&hash, &file, part],
                )
            })?;
            let Some(row) = row else { continue };
            let values = [Value::from(&hash), Value::from(&file), Value::Int(part), Value::Bytes(row.bytes(0)?)];
            to.run(|s| {
                s.execute("INSERT INTO content_parts (hash, file, part, bytes) VALUES (?1, ?2, ?3, ?4)", &values)
            })?;
            progress("content_parts", 1);
        }
        Ok(keys.len())
    }
}
