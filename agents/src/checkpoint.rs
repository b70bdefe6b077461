//! Checkpoints: a directory holding a network's weights (`model.safetensors`) and what they are
//! (`checkpoint.json`: format, game, architecture, generation, parents, training summary, creation
//! time, content hash), with an optional `optimizer.safetensors` that training carries along.
//!
//! A checkpoint is named by its content hash (the SHA-256 of `model.safetensors`), and a saved
//! directory is never overwritten, so a hash in a lineage always means the same weights.
//!
//! Training a child from a parent:
//! ```no_run
//! # use agents::checkpoint::Checkpoint;
//! # fn train() -> Result<(), Box<dyn std::error::Error>> {
//! let parent = Checkpoint::load("runs/gen3".as_ref())?;
//! let mut child = parent.child()?; // a copy of the weights: generation 4, parents [gen3's hash]
//! let vars = child.var_map().all_vars(); // give these to the optimiser
//! // ... forward with child.network().forward(&observations)?, backprop, step ...
//! child.set_training(serde_json::json!({"games": 5000, "steps": 1000}));
//! child.save("runs/gen4".as_ref())?;
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use candle_core::{Device, Tensor, Var};
use candle_nn::VarMap;
use games::{GameRef, Registry, load_game};
use safetensors::tensor::{Dtype, TensorView};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::network::{Architecture, InferenceNet, Init, NamedVars, Network, NetworkError, ParameterSource, SeededInit};

/// The version of the checkpoint layout this code writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// The weights.
pub const MODEL_FILE: &str = "model.safetensors";
/// What the weights are.
pub const INFO_FILE: &str = "checkpoint.json";
/// Optimiser state (e.g. AdamW moments), when training saved one.
pub const OPTIMIZER_FILE: &str = "optimizer.safetensors";

/// Errors from creating, saving and loading checkpoints. Each names the file it is about.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("checkpoint directory {} does not exist", .0.display())]
    NoDirectory(PathBuf),
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
    #[error("{} already holds a checkpoint (checkpoints are never overwritten; save to a new directory)", .0.display())]
    Exists(PathBuf),
    #[error("{} is not valid checkpoint JSON: {reason}", path.display())]
    Json { path: PathBuf, reason: String },
    #[error("{} has format version {found}; this build reads version {FORMAT_VERSION}", path.display())]
    Format { path: PathBuf, found: String },
    #[error("{}: {reason}", path.display())]
    Game { path: PathBuf, reason: String },
    #[error("{} is for game `{found}`, not `{wanted}`", path.display())]
    WrongGame { path: PathBuf, found: String, wanted: String },
    #[error("{} is not a valid safetensors file: {reason}", path.display())]
    Safetensors { path: PathBuf, reason: String },
    #[error("{} does not match its recorded hash: checkpoint.json says {expected}, the file hashes to {actual}", path.display())]
    HashMismatch { path: PathBuf, expected: String, actual: String },
    #[error("{}: {source}", path.display())]
    Model { path: PathBuf, source: NetworkError },
    #[error("{}: tensor `{tensor}` {reason}", path.display())]
    BadTensor { path: PathBuf, tensor: String, reason: String },
    #[error("{}: tensor `{tensor}` is not part of architecture `{architecture}`", path.display())]
    UnexpectedTensor { path: PathBuf, tensor: String, architecture: String },
    #[error("{0}")]
    Network(#[from] NetworkError),
}

type Result<T, E = CheckpointError> = std::result::Result<T, E>;

/// What `checkpoint.json` holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointInfo {
    /// [`FORMAT_VERSION`] when written.
    pub format: u32,
    /// The game's canonical spec, e.g. `connect_four(rows=6,columns=7,connect=4)`.
    pub game: String,
    pub architecture: Architecture,
    /// 0 for a randomly initialised network; a child is its parent's generation + 1.
    pub generation: u32,
    /// The content hashes of the checkpoints this one was trained from.
    pub parents: Vec<String>,
    /// What the training saw and did (free-form: games, positions, steps, losses, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training: Option<serde_json::Map<String, Value>>,
    /// The seed of the random initialisation, for generation-0 checkpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_seed: Option<u64>,
    /// When the checkpoint was made, RFC 3339 in UTC.
    pub created: String,
    /// SHA-256 (hex) of `model.safetensors`: the checkpoint's name.
    pub model_sha256: String,
    /// SHA-256 (hex) of `optimizer.safetensors`, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optimizer_sha256: Option<String>,
}

/// Optimiser state saved beside the model (`optimizer.safetensors`), e.g. AdamW's first and
/// second moments keyed by parameter name plus a step count. The checkpoint only carries it.
#[derive(Clone, Debug, Default)]
pub struct OptimizerState {
    pub tensors: BTreeMap<String, Tensor>,
}

/// A network with its weights and its record.
#[derive(Debug)]
pub struct Checkpoint {
    info: CheckpointInfo,
    game: GameRef,
    network: Network,
    vars: NamedVars,
    optimizer: Option<OptimizerState>,
}

impl Checkpoint {
    /// A randomly initialised (generation 0) network of `architecture` for `game`. The same seed
    /// gives bit-identical weights, so the same content hash.
    pub fn init(game: &GameRef, architecture: Architecture, seed: u64) -> Result<Checkpoint> {
        let (network, vars) = Network::build(architecture, game.facts(), &mut SeededInit::new(seed))?;
        let mut checkpoint = Checkpoint {
            info: CheckpointInfo {
                format: FORMAT_VERSION,
                game: game.spec().to_string(),
                architecture,
                generation: 0,
                parents: Vec::new(),
                training: None,
                init_seed: Some(seed),
                created: rfc3339_utc(SystemTime::now()),
                model_sha256: String::new(),
                optimizer_sha256: None,
            },
            game: game.clone(),
            network,
            vars,
            optimizer: None,
        };
        checkpoint.info.model_sha256 = sha256_hex(&checkpoint.model_bytes()?);
        Ok(checkpoint)
    }

    /// Reads and verifies the checkpoint in `dir`: the JSON, the format version, the game, the
    /// hash of `model.safetensors`, and every tensor's presence, type, shape and finiteness
    /// against the architecture (and the optimiser file's hash, when there is one).
    pub fn load(dir: &Path) -> Result<Checkpoint> {
        Checkpoint::load_in(dir, &Registry::default())
    }

    /// [`Checkpoint::load`] for a checkpoint of a game of `games` (the built-in games plus those a
    /// program registered).
    pub fn load_in(dir: &Path, games: &Registry) -> Result<Checkpoint> {
        if !dir.is_dir() {
            return Err(CheckpointError::NoDirectory(dir.to_path_buf()));
        }
        let info_path = dir.join(INFO_FILE);
        let info = read_info(&info_path)?;
        let game = games.load(&info.game).map_err(|e| CheckpointError::Game {
            path: info_path.clone(),
            reason: format!("game `{}`: {e}", info.game),
        })?;
        let canonical = game.spec().to_string();
        if canonical != info.game {
            return Err(CheckpointError::Game {
                path: info_path,
                reason: format!("game spec `{}` is not canonical (expected `{canonical}`)", info.game),
            });
        }

        let model_path = dir.join(MODEL_FILE);
        let bytes = read(&model_path)?;
        let tensors = parse_safetensors(&model_path, &bytes)?;
        let actual = sha256_hex(&bytes);
        if actual != info.model_sha256 {
            return Err(CheckpointError::HashMismatch { path: model_path, expected: info.model_sha256, actual });
        }
        let mut source = FromFile { path: &model_path, tensors, error: None };
        let built = Network::build(info.architecture, game.facts(), &mut source);
        if let Some(error) = source.error.take() {
            return Err(error);
        }
        let (network, vars) = built.map_err(|source| CheckpointError::Model { path: model_path.clone(), source })?;
        if let Some(tensor) = source.tensors.keys().min().cloned() {
            return Err(CheckpointError::UnexpectedTensor {
                path: model_path.clone(),
                tensor,
                architecture: info.architecture.to_string(),
            });
        }

        let optimizer = match &info.optimizer_sha256 {
            None => None,
            Some(expected) => {
                let path = dir.join(OPTIMIZER_FILE);
                let bytes = read(&path)?;
                let actual = sha256_hex(&bytes);
                if &actual != expected {
                    return Err(CheckpointError::HashMismatch { path, expected: expected.clone(), actual });
                }
                let tensors = parse_safetensors(&path, &bytes)?
                    .into_iter()
                    .map(|(name, view)| Ok((name.clone(), tensor_from_view(&path, &name, &view)?)))
                    .collect::<Result<BTreeMap<_, _>>>()?;
                Some(OptimizerState { tensors })
            }
        };
        Ok(Checkpoint { info, game, network, vars, optimizer })
    }

    /// [`Checkpoint::load`], then checks that the checkpoint is for `game` (a spec, compared in
    /// canonical form).
    pub fn load_for(dir: &Path, game: &str) -> Result<Checkpoint> {
        let wanted = load_game(game)
            .map_err(|e| CheckpointError::Game { path: dir.to_path_buf(), reason: format!("game `{game}`: {e}") })?
            .spec()
            .to_string();
        let checkpoint = Checkpoint::load(dir)?;
        if checkpoint.info.game != wanted {
            return Err(CheckpointError::WrongGame {
                path: dir.join(INFO_FILE),
                found: checkpoint.info.game.clone(),
                wanted,
            });
        }
        Ok(checkpoint)
    }

    /// Writes the checkpoint into `dir` (created if missing), which must not already hold one.
    /// The content hash is recomputed from the current weights (training changes them), written
    /// to `checkpoint.json` and returned. Files are written whole and renamed into place, and
    /// `checkpoint.json` last, so a directory with `checkpoint.json` is complete.
    pub fn save(&mut self, dir: &Path) -> Result<String> {
        for name in [INFO_FILE, MODEL_FILE] {
            if dir.join(name).exists() {
                return Err(CheckpointError::Exists(dir.to_path_buf()));
            }
        }
        fs::create_dir_all(dir).map_err(|source| CheckpointError::Write { path: dir.to_path_buf(), source })?;
        let model = self.model_bytes()?;
        self.info.model_sha256 = sha256_hex(&model);
        write_atomically(&dir.join(MODEL_FILE), &model)?;
        self.info.optimizer_sha256 = match &self.optimizer {
            None => None,
            Some(state) => {
                let bytes = serialize(state.tensors.iter().map(|(name, tensor)| (name.as_str(), tensor)))?;
                write_atomically(&dir.join(OPTIMIZER_FILE), &bytes)?;
                Some(sha256_hex(&bytes))
            }
        };
        let json = serde_json::to_string_pretty(&self.info)
            .map_err(|e| CheckpointError::Json { path: dir.join(INFO_FILE), reason: e.to_string() })?;
        write_atomically(&dir.join(INFO_FILE), format!("{json}\n").as_bytes())?;
        Ok(self.info.model_sha256.clone())
    }

    /// A copy to train: the same weights in new variables, generation + 1, this checkpoint as
    /// its parent, no training summary yet, a new creation time, and a copy of the optimiser
    /// state (to continue from).
    pub fn child(&self) -> Result<Checkpoint> {
        let mut source = CopyOf { vars: &self.vars };
        let (network, vars) = Network::build(self.info.architecture, self.game.facts(), &mut source)?;
        let optimizer = match &self.optimizer {
            None => None,
            Some(state) => Some(OptimizerState {
                tensors: state
                    .tensors
                    .iter()
                    .map(|(name, tensor)| Ok((name.clone(), tensor.copy()?)))
                    .collect::<Result<_, candle_core::Error>>()
                    .map_err(NetworkError::from)?,
            }),
        };
        Ok(Checkpoint {
            info: CheckpointInfo {
                generation: self.info.generation + 1,
                parents: vec![self.info.model_sha256.clone()],
                training: None,
                init_seed: None,
                created: rfc3339_utc(SystemTime::now()),
                ..self.info.clone()
            },
            game: self.game.clone(),
            network,
            vars,
            optimizer,
        })
    }

    /// The record (as last loaded or saved; the hash is refreshed by [`Checkpoint::save`]).
    pub fn info(&self) -> &CheckpointInfo {
        &self.info
    }

    /// The content hash: SHA-256 (hex) of `model.safetensors` as last loaded, made or saved.
    pub fn hash(&self) -> &str {
        &self.info.model_sha256
    }

    pub fn game(&self) -> &GameRef {
        &self.game
    }

    pub fn network(&self) -> &Network {
        &self.network
    }

    /// The trainable parameters with their names, in the network's order. They share storage with
    /// the network: updating a `Var` (an optimiser step, `Var::set`) changes the network.
    pub fn vars(&self) -> &NamedVars {
        &self.vars
    }

    /// The parameters as a candle `VarMap` (sharing storage with the network), for
    /// `candle_nn::AdamW::new(var_map.all_vars(), ...)` and the like.
    pub fn var_map(&self) -> VarMap {
        let map = VarMap::new();
        {
            let mut data = map.data().lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            for (name, var) in &self.vars {
                data.insert(name.clone(), var.clone());
            }
        }
        map
    }

    /// Number of scalar parameters.
    pub fn parameter_count(&self) -> usize {
        Network::parameter_count(&self.vars)
    }

    /// Sets the training summary written to `checkpoint.json` (a JSON object; anything else is
    /// stored as `{"summary": value}`).
    pub fn set_training(&mut self, summary: Value) {
        self.info.training = Some(match summary {
            Value::Object(map) => map,
            other => serde_json::Map::from_iter([("summary".to_string(), other)]),
        });
    }

    /// Overrides the lineage (e.g. a child of several parents).
    pub fn set_lineage(&mut self, generation: u32, parents: Vec<String>) {
        self.info.generation = generation;
        self.info.parents = parents;
    }

    /// The optimiser state carried with the checkpoint.
    pub fn optimizer(&self) -> Option<&OptimizerState> {
        self.optimizer.as_ref()
    }

    /// Sets (or clears) the optimiser state saved beside the model.
    pub fn set_optimizer(&mut self, state: Option<OptimizerState>) {
        self.optimizer = state;
    }

    /// `model.safetensors` as it would be written now: the tensors in name order, f32 little-endian,
    /// no metadata (so the bytes, and the hash, depend on the weights alone).
    pub fn model_bytes(&self) -> Result<Vec<u8>> {
        serialize(self.vars.iter().map(|(name, var)| (name.as_str(), var.as_tensor())))
    }
}

/// A checkpoint loaded for play: its record and its weights frozen for search, shared read-only by
/// the agents of one [`AgentFactory`](crate::AgentFactory) (see
/// [`AgentFactory::checkpoint`](crate::AgentFactory::checkpoint)).
#[derive(Debug)]
pub struct SharedCheckpoint {
    pub dir: PathBuf,
    pub info: CheckpointInfo,
    pub network: Arc<InferenceNet>,
}

impl SharedCheckpoint {
    /// Loads and verifies the checkpoint in `dir`, a checkpoint of a game of `games` (see
    /// [`Checkpoint::load_in`]), and freezes its weights for play. Nothing is shared:
    /// [`AgentFactory::checkpoint`](crate::AgentFactory::checkpoint) loads each checkpoint once
    /// for all the agents it builds.
    pub fn load(dir: &Path, games: &Registry) -> Result<SharedCheckpoint> {
        let checkpoint = Checkpoint::load_in(dir, games)?;
        let network = Arc::new(checkpoint.network().inference()?);
        Ok(SharedCheckpoint { dir: dir.to_path_buf(), info: checkpoint.info, network })
    }
}

fn read(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).map_err(|source| CheckpointError::Read { path: path.to_path_buf(), source })
}

pub(crate) fn read_info(path: &Path) -> Result<CheckpointInfo> {
    let text = fs::read_to_string(path).map_err(|source| match source.kind() {
        ErrorKind::NotFound if path.parent().is_some_and(|dir| !dir.exists()) => {
            CheckpointError::NoDirectory(path.parent().map(Path::to_path_buf).unwrap_or_default())
        }
        _ => CheckpointError::Read { path: path.to_path_buf(), source },
    })?;
    let json_error = |reason: String| CheckpointError::Json { path: path.to_path_buf(), reason };
    let value: Value = serde_json::from_str(&text).map_err(|e| json_error(e.to_string()))?;
    // The version first, so a newer layout gets a clear message rather than a field error.
    match value.get("format") {
        Some(Value::Number(n)) if n.as_u64() == Some(FORMAT_VERSION as u64) => {}
        Some(other) => return Err(CheckpointError::Format { path: path.to_path_buf(), found: other.to_string() }),
        None => return Err(json_error("no `format` field (is this a checkpoint.json?)".to_string())),
    }
    if let Some(architecture) = value.get("architecture") {
        serde_json::from_value::<Architecture>(architecture.clone())
            .map_err(|e| json_error(format!("architecture {architecture}: {e}")))?;
    }
    serde_json::from_value(value).map_err(|e| json_error(e.to_string()))
}

fn parse_safetensors<'a>(path: &Path, bytes: &'a [u8]) -> Result<HashMap<String, TensorView<'a>>> {
    let parsed = safetensors::SafeTensors::deserialize(bytes)
        .map_err(|e| CheckpointError::Safetensors { path: path.to_path_buf(), reason: e.to_string() })?;
    Ok(parsed.iter().map(|(name, view)| (name.to_string(), view)).collect())
}

/// An f32 tensor from a safetensors view; other types and non-finite values are errors.
fn tensor_from_view(path: &Path, name: &str, view: &TensorView<'_>) -> Result<Tensor> {
    let bad =
        |reason: String| CheckpointError::BadTensor { path: path.to_path_buf(), tensor: name.to_string(), reason };
    if view.dtype() != Dtype::F32 {
        return Err(bad(format!("has type {:?}; checkpoints hold F32", view.dtype())));
    }
    let values: Vec<f32> = view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    if let Some(index) = values.iter().position(|v| !v.is_finite()) {
        return Err(bad(format!("holds a non-finite value ({}) at flat index {index}", values[index])));
    }
    Tensor::from_vec(values, view.shape(), &Device::Cpu).map_err(|e| bad(e.to_string()))
}

/// Parameters read from a file, checked against what the network asks for.
struct FromFile<'a> {
    path: &'a Path,
    tensors: HashMap<String, TensorView<'a>>,
    /// A problem with the file itself (type, non-finite values), reported with the file's name.
    error: Option<CheckpointError>,
}

impl ParameterSource for FromFile<'_> {
    fn parameter(&mut self, name: &str, shape: &[usize], _init: Init) -> Result<Var, NetworkError> {
        let view = self
            .tensors
            .remove(name)
            .ok_or_else(|| NetworkError::MissingTensor { name: name.to_string(), expected: shape.to_vec() })?;
        if view.shape() != shape {
            return Err(NetworkError::ShapeMismatch {
                name: name.to_string(),
                expected: shape.to_vec(),
                found: view.shape().to_vec(),
            });
        }
        match tensor_from_view(self.path, name, &view) {
            Ok(tensor) => Ok(Var::from_tensor(&tensor)?),
            Err(error) => {
                let summary = NetworkError::BadInput(error.to_string());
                self.error = Some(error);
                Err(summary)
            }
        }
    }
}

/// Parameters copied from another network's variables (a child's starting point).
struct CopyOf<'a> {
    vars: &'a NamedVars,
}

impl ParameterSource for CopyOf<'_> {
    fn parameter(&mut self, name: &str, shape: &[usize], _init: Init) -> Result<Var, NetworkError> {
        let (_, var) = self
            .vars
            .iter()
            .find(|(n, _)| n == name)
            .ok_or_else(|| NetworkError::MissingTensor { name: name.to_string(), expected: shape.to_vec() })?;
        Ok(Var::from_tensor(&var.as_tensor().copy()?)?)
    }
}

/// Safetensors bytes of f32 tensors, sorted by name, without metadata.
fn serialize<'a>(tensors: impl Iterator<Item = (&'a str, &'a Tensor)>) -> Result<Vec<u8>> {
    let mut encoded: Vec<(&str, Vec<usize>, Vec<u8>)> = Vec::new();
    for (name, tensor) in tensors {
        let values = tensor
            .flatten_all()
            .and_then(|t| t.to_dtype(candle_core::DType::F32))
            .and_then(|t| t.to_vec1::<f32>())
            .map_err(NetworkError::from)?;
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        encoded.push((name, tensor.dims().to_vec(), bytes));
    }
    encoded.sort_by(|a, b| a.0.cmp(b.0));
    let views = encoded
        .iter()
        .map(|(name, shape, bytes)| Ok((*name, TensorView::new(Dtype::F32, shape.clone(), bytes)?)))
        .collect::<std::result::Result<Vec<_>, safetensors::SafeTensorError>>()
        .map_err(|e| NetworkError::BadInput(format!("cannot encode tensors: {e}")))?;
    safetensors::serialize(views, None)
        .map_err(|e| NetworkError::BadInput(format!("cannot encode tensors: {e}")).into())
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let partial = path.with_extension("partial");
    let write_error = |source| CheckpointError::Write { path: path.to_path_buf(), source };
    fs::write(&partial, bytes).map_err(write_error)?;
    fs::rename(&partial, path).map_err(write_error)
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Bytes as lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `2025-01-31T12:34:56Z`: RFC 3339 in UTC, to the second.
pub fn rfc3339_utc(time: SystemTime) -> String {
    let seconds = match time.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(since) => since.as_secs() as i64,
        Err(before) => -(before.duration().as_secs() as i64),
    };
    let (days, of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    // Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", of_day / 3600, of_day % 3600 / 60, of_day % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rfc3339_matches_known_instants() {
        let at = |secs| rfc3339_utc(SystemTime::UNIX_EPOCH + Duration::from_secs(secs));
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(at(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}
