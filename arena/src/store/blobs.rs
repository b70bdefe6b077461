//! Checkpoints by content: the files a checkpoint agent needs to play (its record and weights),
//! stored under the SHA-256 of its weights, so a worker on a machine without the checkpoint's
//! folder can fetch it and check it before it plays.

use super::Store;
use super::backend::{Value, params};
use crate::error::Result;

/// The most a checkpoint may weigh (its record and weights together) to be kept in the store;
/// bigger ones reach workers through a shared folder. 256 MiB holds every board-game network
/// and the small language models of the tests; a PostgreSQL value may be up to 1 GB.
pub const MAX_STORED_CHECKPOINT_BYTES: u64 = 256 << 20;

impl Store {
    /// Whether the files of the checkpoint with weights `hash` are in the store.
    pub fn has_checkpoint_files(&self, hash: &str) -> Result<bool> {
        Ok(self.run(|s| s.query_int("SELECT count(*) FROM checkpoint_files WHERE hash = ?1", params![hash]))? > 0)
    }

    /// Stores a checkpoint's files (name and bytes) under `hash`, in one transaction; files
    /// already there are kept.
    pub fn put_checkpoint_files(&self, hash: &str, files: &[(String, Vec<u8>)]) -> Result<()> {
        self.transaction(|s| {
            for (name, bytes) in files {
                s.execute(
                    "INSERT INTO checkpoint_files (hash, file, bytes) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                    &[Value::from(hash), Value::from(name), Value::Bytes(bytes.clone())],
                )?;
            }
            Ok(())
        })
    }

    /// The files stored for the checkpoint with weights `hash` (none if it is not there).
    pub fn checkpoint_files(&self, hash: &str) -> Result<Vec<(String, Vec<u8>)>> {
        let rows = self.run(|s| {
            s.query("SELECT file, bytes FROM checkpoint_files WHERE hash = ?1 ORDER BY file", params![hash])
        })?;
        rows.iter().map(|r| Ok((r.text(0)?, r.bytes(1)?))).collect()
    }
}
