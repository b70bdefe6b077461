//! The state of an unfinished fine-tuning run, saved in its output directory so that a killed run
//! resumes to the same weights: `training-state.json` (the settings, the steps done, the loss
//! curve) pointing at `training-state-{step}.safetensors` (the trained tensors, AdamW's moments
//! and, for DPO, the reference log-probabilities). The tensors are written first and the JSON
//! renamed into place after them, so a kill at any instant leaves the last complete state.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::{Settings, StepRecord};
use crate::error::{Context, Error, Result, bail};
use crate::files::write_atomically;

pub const STATE_FILE: &str = "training-state.json";

/// What `training-state.json` holds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SavedState {
    pub settings: Settings,
    /// Optimizer steps done.
    pub step: u64,
    pub loss_curve: Vec<StepRecord>,
    /// The tensors file, in the same directory.
    pub tensors: String,
}

/// Everything a resumed run needs, read back.
pub struct LoadedState {
    pub saved: SavedState,
    /// `var.{name}`, `opt.{key}`, `ref.chosen`, `ref.rejected`.
    pub tensors: HashMap<String, Tensor>,
}

impl LoadedState {
    /// The tensors whose names start with `prefix`, by the rest of their name.
    pub fn with_prefix(&self, prefix: &str) -> BTreeMap<String, Tensor> {
        self.tensors
            .iter()
            .filter_map(|(name, tensor)| name.strip_prefix(prefix).map(|rest| (rest.to_string(), tensor.clone())))
            .collect()
    }
}

/// Reads the state in `dir`, if there is one, and checks that it was saved with `settings`.
pub fn load(dir: &Path, settings: &Settings) -> Result<Option<LoadedState>> {
    let path = dir.join(STATE_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let text = crate::error::read_text(&path)?;
    let saved: SavedState =
        serde_json::from_str(&text).with_context(|| format!("{}: not a fine-tuning state", path.display()))?;
    let recorded = serde_json::to_value(&saved.settings)?;
    let asked = serde_json::to_value(settings)?;
    if recorded != asked {
        let differing = differing_keys(&recorded, &asked);
        bail!(
            "{}: the run was started with other settings ({}); resume it with the same ones, or start a new --out",
            path.display(),
            differing.join(", ")
        );
    }
    let tensors_path = dir.join(&saved.tensors);
    let tensors = candle_core::safetensors::load(&tensors_path, &Device::Cpu)
        .with_context(|| format!("cannot read the saved training state {}", tensors_path.display()))?;
    Ok(Some(LoadedState { saved, tensors }))
}

/// Saves the state: the tensors to a new file, then the JSON pointing at it, then the previous
/// tensors file is removed.
pub fn save(dir: &Path, saved: &SavedState, tensors: &HashMap<String, Tensor>) -> Result<()> {
    let tensors_path = dir.join(&saved.tensors);
    let partial = dir.join(format!(".{}.partial", saved.tensors));
    candle_core::safetensors::save(tensors, &partial)
        .with_context(|| format!("cannot write the training state {}", partial.display()))?;
    std::fs::rename(&partial, &tensors_path).map_err(|e| Error::io("cannot move into place", &tensors_path, e))?;
    let previous = previous_tensors(dir);
    write_atomically(&dir.join(STATE_FILE), (serde_json::to_string_pretty(saved)? + "\n").as_bytes())?;
    for old in previous.into_iter().filter(|p| *p != tensors_path) {
        let _ = std::fs::remove_file(old);
    }
    Ok(())
}

/// Removes the state once the run's outputs are written.
pub fn remove(dir: &Path) {
    for old in previous_tensors(dir) {
        let _ = std::fs::remove_file(old);
    }
    let _ = std::fs::remove_file(dir.join(STATE_FILE));
}

pub fn tensors_file(step: u64) -> String {
    format!("training-state-{step}.safetensors")
}

fn previous_tensors(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("training-state-") && n.ends_with(".safetensors"))
        })
        .collect()
}

/// The keys whose values differ between two JSON objects (nested keys joined by dots).
fn differing_keys(a: &serde_json::Value, b: &serde_json::Value) -> Vec<String> {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter()
                .flat_map(|key| {
                    let (x, y) = (a.get(key).unwrap_or(&Value::Null), b.get(key).unwrap_or(&Value::Null));
                    differing_keys(x, y)
                        .into_iter()
                        .map(move |inner| if inner.is_empty() { key.clone() } else { format!("{key}.{inner}") })
                })
                .collect()
        }
        _ if a == b => Vec::new(),
        _ => vec![String::new()],
    }
}
