//! Files by content: what a tournament's agents and game read (checkpoints, language models, data
//! files), stored under their SHA-256 in parts, so a worker on a machine without them can fetch
//! them and check them before it plays; and each tournament's list of those files.

use std::io::{Read, Write};
use std::path::Path;

use super::Store;
use super::backend::{Value, params};
use crate::error::{Error, Result, bail};

/// The most a stored content may weigh (all its files together); bigger ones reach workers through
/// a shared folder (their hash still checked). 2 GiB holds every board-game network and language
/// models up to about 2 billion parameters in Q8_0.
pub const MAX_STORED_CONTENT_BYTES: u64 = 2 << 30;
/// The size of one stored part: small enough for any database value and a modest buffer.
const PART_BYTES: usize = 32 << 20;

/// What a file of a tournament holds (how its hash is taken and how a worker uses a fetched copy).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContentKind {
    /// A network checkpoint directory; the hash is its weights' (as its record states).
    Checkpoint,
    /// A language model: a GGUF file, or a fine-tuned directory (the hash of the GGUF it plays).
    Model,
    /// A file a game reads (tasks, propositions).
    Data,
}

impl ContentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ContentKind::Checkpoint => "checkpoint",
            ContentKind::Model => "model",
            ContentKind::Data => "data",
        }
    }

    fn parse(text: &str) -> Result<Self> {
        Ok(match text {
            "checkpoint" => ContentKind::Checkpoint,
            "model" => ContentKind::Model,
            "data" => ContentKind::Data,
            other => bail!("the store lists a tournament file of kind `{other}`, which this Arena does not know"),
        })
    }
}

/// Who reads a tournament file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileRole {
    Game,
    Agent,
    Judge,
}

impl FileRole {
    pub fn as_str(self) -> &'static str {
        match self {
            FileRole::Game => "game",
            FileRole::Agent => "agent",
            FileRole::Judge => "judge",
        }
    }

    fn parse(text: &str) -> Result<Self> {
        Ok(match text {
            "game" => FileRole::Game,
            "agent" => FileRole::Agent,
            "judge" => FileRole::Judge,
            other => bail!("the store lists a tournament file read by `{other}`, which this Arena does not know"),
        })
    }
}

/// A file a tournament's game, agent or judge reads, as its spec names it, with its content hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TournamentFile {
    pub role: FileRole,
    /// The agent's or judge's index (0 for the game).
    pub index: usize,
    /// The path as the spec names it.
    pub path: String,
    pub kind: ContentKind,
    pub hash: String,
}

/// Whether `hash` is a SHA-256 in hex (what the store names contents by).
pub fn is_sha256(hash: &str) -> bool {
    hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit())
}

impl Store {
    /// Lists the files a new tournament's game, agents and judges read (inside the transaction
    /// that creates it).
    pub(super) fn write_tournament_files(
        sql: &mut dyn super::backend::Sql,
        tournament: i64,
        files: &[TournamentFile],
    ) -> Result<()> {
        for file in files {
            sql.execute(
                "INSERT INTO tournament_files (tournament_id, role, idx, path, kind, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT DO NOTHING",
                params![tournament, file.role.as_str(), file.index as i64, &file.path, file.kind.as_str(), &file.hash],
            )?;
        }
        Ok(())
    }

    /// The files a tournament's game, agents and judges read, as recorded when it was planned.
    pub fn tournament_files(&self, tournament: i64) -> Result<Vec<TournamentFile>> {
        let rows = self.run(|s| {
            s.query(
                "SELECT role, idx, path, kind, hash FROM tournament_files WHERE tournament_id = ?1 ORDER BY role, idx, path",
                params![tournament],
            )
        })?;
        rows.iter()
            .map(|r| {
                Ok(TournamentFile {
                    role: FileRole::parse(&r.text(0)?)?,
                    index: r.int(1)? as usize,
                    path: r.text(2)?,
                    kind: ContentKind::parse(&r.text(3)?)?,
                    hash: r.text(4)?,
                })
            })
            .collect()
    }

    /// Whether the store holds the content `hash`.
    pub fn has_content(&self, hash: &str) -> Result<bool> {
        Ok(self.run(|s| s.query_int("SELECT count(*) FROM content_parts WHERE hash = ?1", params![hash]))? > 0)
    }

    /// Stores the files (a name and the path to read it from) of the content `hash`, in parts,
    /// in one transaction (a worker sees all of it or none); parts already there are kept.
    pub fn put_content(&self, hash: &str, files: &[(String, &Path)]) -> Result<()> {
        self.put_content_in_parts(hash, files, PART_BYTES)
    }

    pub(super) fn put_content_in_parts(&self, hash: &str, files: &[(String, &Path)], part_bytes: usize) -> Result<()> {
        self.transaction(|s| {
            for (name, path) in files {
                let mut file = std::fs::File::open(path).map_err(|e| Error::io("cannot read", path, e))?;
                let mut part = 0i64;
                loop {
                    let mut buffer = Vec::with_capacity(part_bytes);
                    (&mut file)
                        .take(part_bytes as u64)
                        .read_to_end(&mut buffer)
                        .map_err(|e| Error::io("cannot read", path, e))?;
                    // An empty file still has its (empty) part 0, so it is listed.
                    if buffer.is_empty() && part > 0 {
                        break;
                    }
                    let last = buffer.len() < part_bytes;
                    s.execute(
                        "INSERT INTO content_parts (hash, file, part, bytes) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                        &[Value::from(hash), Value::from(name), Value::Int(part), Value::Bytes(buffer)],
                    )?;
                    part += 1;
                    if last {
                        break;
                    }
                }
            }
            Ok(())
        })
    }

    /// The files of the content `hash` with their number of parts (none if it is not stored).
    pub fn content_files(&self, hash: &str) -> Result<Vec<(String, i64)>> {
        let rows = self.run(|s| {
            s.query(
                "SELECT file, count(*), max(part) FROM content_parts WHERE hash = ?1 GROUP BY file ORDER BY file",
                params![hash],
            )
        })?;
        rows.iter()
            .map(|r| {
                let (file, parts, last) = (r.text(0)?, r.int(1)?, r.int(2)?);
                if last + 1 != parts {
                    bail!(
                        "the store's copy of {hash} misses parts of `{file}` ({parts} parts, the last numbered {last})"
                    );
                }
                Ok((file, parts))
            })
            .collect()
    }

    /// Writes the file `file` of the content `hash` (all `parts` of it) to `out`.
    pub fn read_content_file(&self, hash: &str, file: &str, parts: i64, out: &mut dyn Write) -> Result<()> {
        for part in 0..parts {
            let bytes = self.run(|s| {
                s.query_opt(
                    "SELECT bytes FROM content_parts WHERE hash = ?1 AND file = ?2 AND part = ?3",
                    params![hash, file, part],
                )
            })?;
            let Some(row) = bytes else { bail!("the store's copy of {hash} lost part {part} of `{file}`") };
            out.write_all(&row.bytes(0)?)
                .map_err(|e| Error::Invalid(format!("cannot write `{file}` of {hash}: {e}")))?;
        }
        Ok(())
    }
}
