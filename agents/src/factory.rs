//! [`AgentFactory`]: builds agents and owns what they share — loaded checkpoints, language models
//! and the batching generators that run them — so that the agents of one tournament (one per
//! worker thread) load each file once and answer in shared batches, and everything is released
//! when the factory and its agents are gone. No process-wide caches: two factories share nothing.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use games::{Params, Registry, Spec};

use crate::agent::Agent;
use crate::checkpoint::{CheckpointError, INFO_FILE, SharedCheckpoint, read_info};
use crate::config::{AgentConfig, registration};
use crate::jury::{JURY, Jury};
use crate::llm::{Generator, GeneratorConfig, LlmError, LlmModel, finetuned};
use crate::mcts::MctsAgent;
use crate::openai::Slots;
use crate::random::{FirstLegalAgent, RandomAgent};
use crate::registry::Error;

/// Builds agents, sharing the weights they load: agents built by one factory that name the same
/// checkpoint share one copy of its network, and those naming the same language model share one
/// loaded model and, per batch size, one generator thread that batches their answers across
/// threads. The factory keeps what it loaded until it is dropped; the weights are freed (and the
/// generator threads end) once the factory and every agent it built are dropped.
///
/// A checkpoint is known by its canonical directory and the content hash its `checkpoint.json`
/// records; a language model by its canonical path, size and modification time. A file that
/// changed is loaded again (and replaces the factory's old copy; agents holding it keep it).
///
/// ```no_run
/// # fn run() -> Result<(), agents::Error> {
/// let factory = agents::AgentFactory::new();
/// // One agent per worker thread; the network is loaded once.
/// let workers: Vec<_> = (0..4).map(|_| factory.build("checkpoint(path=runs/gen3,sims=200)")).collect::<Result<_, _>>()?;
/// # drop(workers); Ok(()) }
/// ```
#[derive(Default)]
pub struct AgentFactory {
    /// The games checkpoints may be for.
    games: Registry,
    checkpoints: Mutex<Vec<CheckpointEntry>>,
    models: Mutex<Vec<ModelEntry>>,
    generators: Mutex<Vec<GeneratorEntry>>,
    /// Limits on requests in flight to a server, by URL and limit (`openai` agents).
    request_slots: Mutex<Vec<(String, usize, Arc<Slots>)>>,
}

struct CheckpointEntry {
    /// Canonical.
    dir: PathBuf,
    hash: String,
    checkpoint: Arc<SharedCheckpoint>,
}

/// A model file as it is on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ModelKey {
    /// Canonical.
    path: PathBuf,
    size: u64,
    modified: Option<SystemTime>,
}

impl ModelKey {
    /// A GGUF file, or a fine-tuned checkpoint directory (known by its `checkpoint.json`, which
    /// is written last).
    fn of(path: &Path) -> Result<ModelKey, LlmError> {
        let canonical = path.canonicalize().map_err(|e| LlmError::Io { path: path.to_path_buf(), source: e })?;
        let file = if canonical.is_dir() {
            if !finetuned::is_finetuned_dir(&canonical) {
                return Err(LlmError::Format {
                    path: path.to_path_buf(),
                    message: format!(
                        "a directory without {}: neither a GGUF file nor a fine-tuned checkpoint",
                        finetuned::CHECKPOINT_FILE
                    ),
                });
            }
            // A checkpoint that changed only its context plays its base's weights: keyed by that
            // file, so that every context on the same weights shares one model and generator.
            let record = finetuned::FinetuneRecord::read(&canonical)?;
            if record.is_context_only() {
                let base = &record.base;
                let bytes = std::fs::metadata(&base.path).map_err(|e| LlmError::io(&base.path, e))?.len();
                if bytes != base.bytes {
                    return Err(LlmError::Format {
                        path: base.path.clone(),
                        message: format!(
                            "{bytes} bytes, but the checkpoint {} was written for {} bytes of SHA-256 {}",
                            path.display(),
                            base.bytes,
                            base.sha256
                        ),
                    });
                }
                return ModelKey::of(&base.path);
            }
            canonical.join(finetuned::CHECKPOINT_FILE)
        } else {
            canonical.clone()
        };
        let metadata = std::fs::metadata(&file).map_err(|e| LlmError::Io { path: file.clone(), source: e })?;
        Ok(ModelKey { path: canonical, size: metadata.len(), modified: metadata.modified().ok() })
    }
}

struct ModelEntry {
    key: ModelKey,
    model: Arc<LlmModel>,
}

struct GeneratorEntry {
    key: ModelKey,
    batch: usize,
    generator: Generator,
}

/// Locks one of the factory's lists; a panic while it was held leaves nothing half-written
/// (entries are pushed whole), so a poisoned lock is used as it is.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl AgentFactory {
    /// A factory that has loaded nothing yet, for checkpoints of the built-in games.
    pub fn new() -> Self {
        AgentFactory::default()
    }

    /// A factory for checkpoints of the games of `games` (the built-in ones plus a program's own).
    pub fn with_games(games: Registry) -> Self {
        AgentFactory { games, ..AgentFactory::default() }
    }

    /// Builds an agent from a spec string such as `random`, `mcts(sims=800)` or
    /// `checkpoint(path=runs/gen3)` (see [`AgentConfig::parse`]).
    pub fn build(&self, spec: &str) -> Result<Box<dyn Agent>, Error> {
        self.build_config(&AgentConfig::parse(spec)?)
    }

    /// Builds the agent of `config` (its settings checked as a spec's would be), loading or sharing
    /// its checkpoint or model.
    pub fn build_config(&self, config: &AgentConfig) -> Result<Box<dyn Agent>, Error> {
        match config {
            AgentConfig::Random => Ok(Box::new(RandomAgent)),
            AgentConfig::First => Ok(Box::new(FirstLegalAgent)),
            AgentConfig::Mcts(config) => {
                config.validate()?;
                Ok(Box::new(MctsAgent::new(*config)))
            }
            AgentConfig::Checkpoint(config) => Ok(Box::new(crate::puct::checkpoint_agent(config, self)?)),
            AgentConfig::Spec(text) => self.build_spec(text),
        }
    }

    /// Builds an agent from its spec through the registry.
    fn build_spec(&self, text: &str) -> Result<Box<dyn Agent>, Error> {
        let spec = Spec::parse(text)?;
        // A jury's arguments are its members, under any keys: no fixed parameter list to check.
        if spec.name == JURY {
            return Ok(Box::new(Jury::from_spec(&spec, self)?));
        }
        let registration = registration(&spec.name)?;
        let params = Params::from_spec(&format!("agent `{}`", registration.name), registration.params, &spec)?;
        (registration.create)(&params, self)
    }

    /// The checkpoint in `dir`, loaded and verified the first time and shared afterwards (while
    /// `checkpoint.json` records the same content hash).
    pub fn checkpoint(&self, dir: &Path) -> Result<Arc<SharedCheckpoint>, CheckpointError> {
        if !dir.is_dir() {
            return Err(CheckpointError::NoDirectory(dir.to_path_buf()));
        }
        let canonical =
            dir.canonicalize().map_err(|source| CheckpointError::Read { path: dir.to_path_buf(), source })?;
        let recorded = read_info(&canonical.join(INFO_FILE))?.model_sha256;
        // Held while loading, so workers starting together load the file once.
        let mut checkpoints = lock(&self.checkpoints);
        if let Some(entry) = checkpoints.iter().find(|e| e.dir == canonical && e.hash == recorded) {
            return Ok(entry.checkpoint.clone());
        }
        let checkpoint = Arc::new(SharedCheckpoint::load(&canonical, &self.games)?);
        checkpoints.retain(|e| e.dir != canonical);
        checkpoints.push(CheckpointEntry {
            dir: canonical,
            hash: checkpoint.info.model_sha256.clone(),
            checkpoint: checkpoint.clone(),
        });
        Ok(checkpoint)
    }

    /// The language model in the GGUF file or fine-tuned checkpoint directory `path`, loaded the first time and shared afterwards
    /// (while the file keeps its size and modification time).
    pub fn llm_model(&self, path: &Path) -> Result<Arc<LlmModel>, LlmError> {
        let key = ModelKey::of(path)?;
        // Held while loading, so agents starting together load the file once.
        let mut models = lock(&self.models);
        if let Some(entry) = models.iter().find(|e| e.key == key) {
            return Ok(entry.model.clone());
        }
        let model = if key.path.is_dir() { finetuned::load_finetuned(&key.path)? } else { LlmModel::load(&key.path)? };
        // Once per model and process: the speed of a game of language models depends on it.
        if let Some(note) = model.conversion_note() {
            eprintln!("note: {note}");
        }
        models.retain(|e| e.key.path != key.path);
        models.push(ModelEntry { key, model: model.clone() });
        Ok(model)
    }

    /// The batching generator of the model in `path` with batches of at most `batch` answers,
    /// started the first time and shared afterwards: the agents holding it answer together.
    pub fn generator(&self, path: &Path, batch: usize) -> Result<Generator, LlmError> {
        let key = ModelKey::of(path)?;
        let mut generators = lock(&self.generators);
        if let Some(entry) = generators.iter().find(|e| e.key == key && e.batch == batch) {
            return Ok(entry.generator.clone());
        }
        let model = self.llm_model(path)?;
        let generator = Generator::start(model, GeneratorConfig::batch(batch))?;
        // Generators of an older version of the file go (their agents keep them while they live).
        generators.retain(|e| e.key.path != key.path || e.key == key);
        generators.push(GeneratorEntry { key, batch, generator: generator.clone() });
        Ok(generator)
    }
}

impl AgentFactory {
    /// The limit of `limit` requests in flight to the server at `url`, shared by every agent of
    /// this factory that names both.
    pub(crate) fn request_slots(&self, url: &str, limit: usize) -> Arc<Slots> {
        let mut all = lock(&self.request_slots);
        if let Some((_, _, slots)) = all.iter().find(|(u, l, _)| u == url && *l == limit) {
            return slots.clone();
        }
        let slots = Slots::new(limit);
        all.push((url.to_string(), limit, slots.clone()));
        slots
    }
}

impl fmt::Debug for AgentFactory {
    /// What the factory holds (a list being loaded into right now shows as busy).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn keys<T>(list: &Mutex<Vec<T>>, key: impl Fn(&T) -> String) -> Vec<String> {
            match list.try_lock() {
                Ok(list) => list.iter().map(key).collect(),
                Err(std::sync::TryLockError::Poisoned(poisoned)) => poisoned.into_inner().iter().map(key).collect(),
                Err(std::sync::TryLockError::WouldBlock) => vec!["<busy>".to_string()],
            }
        }
        f.debug_struct("AgentFactory")
            .field("checkpoints", &keys(&self.checkpoints, |e| e.dir.display().to_string()))
            .field("models", &keys(&self.models, |e| e.key.path.display().to_string()))
            .field("generators", &keys(&self.generators, |e| format!("{} (batch {})", e.key.path.display(), e.batch)))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use games::load_game;
    use rand::SeedableRng;

    use super::*;
    use crate::checkpoint::Checkpoint;
    use crate::config::CheckpointAgentConfig;
    use crate::llm::tiny::{TinyConfig, write_tiny_llama};
    use crate::llm_agent::LlmAgent;
    use crate::network::Architecture;
    use crate::{AgentRng, Reply, View};

    fn ok<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
        result.unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_factory_is_send_sync_debug_and_default() {
        fn check<T: Send + Sync + std::fmt::Debug + Default>() {}
        check::<AgentFactory>();
        let dir = saved_checkpoint();
        let factory = AgentFactory::new();
        ok(factory.checkpoint(dir.path()));
        let text = format!("{factory:?}");
        assert!(text.contains("checkpoints: [\"") && text.contains("models: []"), "{text}");
    }

    /// A tic-tac-toe checkpoint saved in a new temporary directory.
    fn saved_checkpoint() -> tempfile::TempDir {
        let game = ok(load_game("tic_tac_toe"));
        let dir = ok(tempfile::tempdir());
        let architecture = ok(Architecture::parse("mlp(hidden=8,layers=1)"));
        ok(ok(Checkpoint::init(&game, architecture, 1)).save(dir.path()));
        dir
    }

    /// Plays the first move of tic-tac-toe with `agent`.
    fn first_move(agent: &mut dyn Agent) -> Reply {
        let game = ok(load_game("tic_tac_toe"));
        let state = game.new_initial_state();
        let mut legal = Vec::new();
        state.legal_actions(&mut legal);
        let view = View::new(game.as_ref(), state.as_ref(), 0, &legal);
        ok(agent.act(&view, &mut AgentRng::seed_from_u64(3))).reply
    }

    #[test]
    fn agents_of_one_factory_share_a_checkpoint_which_is_freed_with_them() {
        let dir = saved_checkpoint();
        let factory = AgentFactory::new();
        let spec = format!("checkpoint(path=\"{}\",sims=4)", dir.path().display());
        let mut by_spec = ok(factory.build(&spec));
        let config = CheckpointAgentConfig { sims: 4, ..CheckpointAgentConfig::new(dir.path()) };
        let mut by_config = ok(factory.build_config(&AgentConfig::Checkpoint(config.clone())));
        let typed = ok(crate::puct::checkpoint_agent(&config, &factory));

        let shared = ok(factory.checkpoint(dir.path()));
        assert!(typed.shared_checkpoint().is_some_and(|c| Arc::ptr_eq(c, &shared)));
        // The factory, three agents and `shared`.
        assert_eq!(Arc::strong_count(&shared), 5);
        assert_eq!(first_move(by_spec.as_mut()), first_move(by_config.as_mut()));

        // Another factory shares nothing with this one.
        let other = AgentFactory::new();
        assert!(!Arc::ptr_eq(&ok(other.checkpoint(dir.path())), &shared));

        let (weights, record) = (Arc::downgrade(&shared.network), Arc::downgrade(&shared));
        drop((by_spec, by_config, typed, shared, factory));
        assert!(record.upgrade().is_none() && weights.upgrade().is_none(), "the weights outlived their users");
    }

    #[test]
    fn a_changed_checkpoint_directory_is_loaded_again() {
        let dir = saved_checkpoint();
        let factory = AgentFactory::new();
        let first = ok(factory.checkpoint(dir.path()));
        for file in [crate::checkpoint::INFO_FILE, crate::checkpoint::MODEL_FILE] {
            ok(std::fs::remove_file(dir.path().join(file)));
        }
        let game = ok(load_game("tic_tac_toe"));
        let architecture = ok(Architecture::parse("mlp(hidden=8,layers=1)"));
        ok(ok(Checkpoint::init(&game, architecture, 2)).save(dir.path()));
        let second = ok(factory.checkpoint(dir.path()));
        assert_ne!(first.info.model_sha256, second.info.model_sha256);
        assert!(Arc::ptr_eq(&second, &ok(factory.checkpoint(dir.path()))));
    }

    #[test]
    fn agents_of_one_factory_share_a_language_model_and_its_generator_thread() {
        let dir = ok(tempfile::tempdir());
        let path = dir.path().join("tiny model.gguf");
        ok(write_tiny_llama(&path, &TinyConfig::default(), 7));
        let factory = AgentFactory::new();
        let spec =
            |batch: usize| AgentConfig::Spec(format!("llm(model=\"{}\",batch={batch},temperature=0)", path.display()));
        let mut first = ok(factory.build_config(&spec(4)));
        let mut second = ok(factory.build_config(&spec(4)));
        let third = ok(factory.build_config(&spec(2)));

        let generator = ok(factory.generator(&path, 4));
        let model = ok(factory.llm_model(&path));
        assert!(Arc::ptr_eq(generator.model(), &model));
        assert!(ok(factory.generator(&path, 4)).ptr_eq(&generator));
        assert!(!ok(factory.generator(&path, 2)).ptr_eq(&generator), "one generator per batch size");
        let config = crate::llm_agent::LlmAgentConfig {
            model: path.clone(),
            temperature: 0.0,
            top_p: 1.0,
            max_tokens: 8,
            move_tokens: 8,
            system: None,
            context: None,
            retries: 0,
            batch: 4,
            seed: 0,
            choice: crate::llm_agent::Choice::Text,
        };
        let typed = ok(LlmAgent::new(config, &factory));
        assert!(typed.generator().ptr_eq(&generator));
        // Greedy answers from one model are the same, whichever agent gives them.
        assert_eq!(first_move(first.as_mut()), first_move(second.as_mut()));

        let ended = generator.ended_signal();
        let weights = Arc::downgrade(&model);
        assert!(!ended.has_ended());
        drop((first, second, third, typed, generator, model, factory));
        assert!(ended.has_ended(), "the generator thread outlived its handles");
        assert!(weights.upgrade().is_none(), "the model outlived its users");
    }

    #[test]
    fn load_agent_shares_nothing_between_calls() {
        let dir = saved_checkpoint();
        let spec = format!("checkpoint(path=\"{}\")", dir.path().display());
        let factory = AgentFactory::new();
        let shared = ok(factory.checkpoint(dir.path()));
        let agent = ok(crate::load_agent(&spec));
        // Built by its own factory: this factory's copy has no other user.
        assert_eq!(Arc::strong_count(&shared), 2);
        drop(agent);
    }
}
