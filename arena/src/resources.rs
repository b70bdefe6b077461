//! What a run may use, held explicitly: the games it knows (the built-in ones plus any a program
//! registers) and the agent factory that loads checkpoints and language models once and shares
//! them between workers. Dropping the handle frees the models; nothing is cached process-wide.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use agents::checkpoint::sha256_hex;
use agents::llm::finetuned::{FinetuneRecord, is_finetuned_dir, sha256_file};
use agents::{Agent, AgentConfig, AgentFactory};
use games::{Game, GameRef, Player, Registry};

use crate::error::{Context, Error, Result};
use crate::store::ContentKind;

/// The games and loaded models of a run; tournaments and evolve runs receive it.
#[derive(Debug, Default)]
pub struct Resources {
    games: Registry,
    agents: AgentFactory,
    /// File hashes by canonical path, size and modification time: a model is read once per
    /// process to hash it, however many tournaments name it.
    hashes: Mutex<HashMap<FileKey, String>>,
}

/// A file as it is on disk: its canonical path, size and modification time.
type FileKey = (PathBuf, u64, Option<SystemTime>);

impl Resources {
    /// The built-in games, no model loaded yet.
    pub fn new() -> Self {
        Resources::default()
    }

    /// The games of `registry` (the built-in ones plus a program's own).
    pub fn with_games(registry: Registry) -> Self {
        Resources { agents: AgentFactory::with_games(registry.clone()), games: registry, hashes: Mutex::default() }
    }

    pub fn games(&self) -> &Registry {
        &self.games
    }

    /// Builds a game from its spec; the error names the spec.
    pub fn load_game(&self, spec: &str) -> Result<GameRef> {
        self.games.load(spec).with_context(|| format!("game `{spec}`"))
    }

    /// The agent factory (checkpoints and language models loaded once, shared by its agents).
    pub fn agents(&self) -> &AgentFactory {
        &self.agents
    }

    /// Builds an agent, sharing loaded models with every other agent built here.
    pub fn build_agent(&self, agent: &AgentConfig) -> Result<Box<dyn Agent>> {
        Ok(self.agents.build_config(agent)?)
    }

    /// The content hash of what `path` holds, taken as `kind` says: a checkpoint's weights hash
    /// (the checkpoint loaded and verified); a language model's GGUF file (a fine-tuned
    /// directory's merged file, or for an adapter without one, the hash of its adapter's and its
    /// base's hashes); a data file's bytes.
    pub fn content_hash(&self, kind: ContentKind, path: &Path) -> Result<String> {
        match kind {
            ContentKind::Checkpoint => Ok(self.agents.checkpoint(path)?.info.model_sha256.clone()),
            ContentKind::Model if is_finetuned_dir(path) => {
                let record = FinetuneRecord::read(path)?;
                match (&record.merged, &record.adapter) {
                    (Some(merged), _) => self.file_hash(&path.join(&merged.path)),
                    (None, Some(adapter)) => {
                        let pair = format!("adapter {}\nbase {}\n", adapter.sha256, record.base.sha256);
                        Ok(sha256_hex(pair.as_bytes()))
                    }
                    // Context-only: the weights are its base's (its context is a file of its own).
                    (None, None) => self.file_hash(&record.base.path),
                }
            }
            ContentKind::Model | ContentKind::Data => self.file_hash(path),
        }
    }

    /// The SHA-256 of the file at `path`, read once per process while it keeps its size and time.
    fn file_hash(&self, path: &Path) -> Result<String> {
        let metadata = std::fs::metadata(path).map_err(|e| Error::io("cannot read", path, e))?;
        if !metadata.is_file() {
            return Err(Error::Invalid(format!("{} is not a file", path.display())));
        }
        let canonical = path.canonicalize().map_err(|e| Error::io("cannot read", path, e))?;
        let key = (canonical, metadata.len(), metadata.modified().ok());
        if let Some(hash) = self.hashes.lock().ok().and_then(|hashes| hashes.get(&key).cloned()) {
            return Ok(hash);
        }
        let (hash, _) = sha256_file(path)?;
        if let Ok(mut hashes) = self.hashes.lock() {
            hashes.insert(key, hash.clone());
        }
        Ok(hash)
    }

    /// Builds an agent once to check it before a run starts: a bad spec or model, or an agent that
    /// cannot play one of `seats` of `game`, fails at once. Returns the content hash of a
    /// checkpoint agent's weights.
    pub fn check_agent(&self, agent: &AgentConfig, game: &dyn Game, seats: &[Player]) -> Result<Option<String>> {
        let built = self.build_agent(agent)?;
        for &seat in seats {
            built
                .check_seat(game, seat)
                .map_err(|reason| Error::Invalid(format!("cannot play seat {seat} of {}: {reason}", game.spec())))?;
        }
        Ok(match agent {
            AgentConfig::Checkpoint(checkpoint) => {
                Some(self.agents.checkpoint(&checkpoint.path)?.info.model_sha256.clone())
            }
            _ => None,
        })
    }
}
