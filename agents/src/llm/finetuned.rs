//! Fine-tuned language models as checkpoint directories, and merging adapters into weights.
//!
//! A directory holds `checkpoint.json` (a [`FinetuneRecord`]: the base GGUF's path and SHA-256,
//! the method, the data file and how it was trained), `adapter.safetensors` (the trained tensors;
//! see `trainable::adapter` for the format) and, when merged, `model.gguf` (Q8_0, the fast
//! inference path's format). `llm(model=DIR)` plays either form: the merged file when there is
//! one, otherwise the base file with the adapter merged in memory — after checking that the base
//! is still the file the adapter was trained on.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{DType, Device, Tensor};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::convert::{ConvertSummary, write_q8_0};
use super::gguf::GgufFile;
use super::trainable::adapter;
use super::{LlmError, LlmModel};

/// The record of a fine-tuned checkpoint directory.
pub const CHECKPOINT_FILE: &str = "checkpoint.json";
/// The merged model in a checkpoint directory.
pub const MERGED_FILE: &str = "model.gguf";
/// The value of [`FinetuneRecord::format`].
pub const CHECKPOINT_FORMAT: &str = "arena-llm-checkpoint-1";
/// The method and mode of a checkpoint that changed only its context (`context.json`): its
/// weights are the `base` file's, unchanged.
pub const CONTEXT_MODE: &str = "context";

/// A file a checkpoint depends on, as it was when the checkpoint was written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// Absolute for files outside the checkpoint directory; a bare name for files inside it.
    pub path: PathBuf,
    pub sha256: String,
    pub bytes: u64,
}

impl FileRecord {
    /// Records the file at `path` as it is now, under the name `recorded`.
    pub fn of(path: &Path, recorded: PathBuf) -> Result<Self, LlmError> {
        let (sha256, bytes) = sha256_file(path)?;
        Ok(FileRecord { path: recorded, sha256, bytes })
    }

    /// Checks that the file at `path` (this record's file, resolved) is still the one recorded.
    pub fn verify(&self, path: &Path, what: &str) -> Result<(), LlmError> {
        let (sha256, _) = sha256_file(path)?;
        if sha256 != self.sha256 {
            return Err(LlmError::Format {
                path: path.to_path_buf(),
                message: format!(
                    "{what} changed since the checkpoint was written (SHA-256 recorded {}, now {sha256})",
                    self.sha256
                ),
            });
        }
        Ok(())
    }
}

/// The LoRA settings of an adapter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoraRecord {
    pub rank: usize,
    pub alpha: f64,
    /// Short names, comma-separated (`q,k,v,o,gate,up,down`).
    pub targets: String,
}

/// What `checkpoint.json` of a fine-tuned language model says.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FinetuneRecord {
    /// [`CHECKPOINT_FORMAT`].
    pub format: String,
    /// The GGUF the training started from.
    pub base: FileRecord,
    /// `sft`, `dpo`, or `external` (a trainer program).
    pub method: String,
    /// `lora` or `full`; `merged` when only a merged model was produced (an external trainer).
    pub mode: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lora: Option<LoraRecord>,
    /// `adapter.safetensors`, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adapter: Option<FileRecord>,
    /// `model.gguf`, when merged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged: Option<FileRecord>,
    /// The training data file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<FileRecord>,
    /// How it was trained (settings, loss curve, speed), as the trainer wrote it; not needed to
    /// load the model.
    #[serde(default)]
    pub training: serde_json::Value,
}

impl FinetuneRecord {
    /// Reads `checkpoint.json` of the directory `dir`.
    pub fn read(dir: &Path) -> Result<Self, LlmError> {
        let path = dir.join(CHECKPOINT_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| LlmError::io(&path, e))?;
        let record: FinetuneRecord = serde_json::from_str(&text).map_err(|e| LlmError::Format {
            path: path.clone(),
            message: format!("not a fine-tuned checkpoint record: {e}"),
        })?;
        if record.format != CHECKPOINT_FORMAT {
            return Err(LlmError::Format {
                path,
                message: format!("format {:?}; this version reads {CHECKPOINT_FORMAT:?}", record.format),
            });
        }
        if record.adapter.is_none() && record.merged.is_none() && record.mode != CONTEXT_MODE {
            return Err(LlmError::Format { path, message: "records neither an adapter nor a merged model".into() });
        }
        Ok(record)
    }

    /// The record of a checkpoint that keeps the weights of `base` and changes only its context.
    pub fn context_only(base: FileRecord, training: serde_json::Value) -> Self {
        FinetuneRecord {
            format: CHECKPOINT_FORMAT.to_string(),
            base,
            method: CONTEXT_MODE.to_string(),
            mode: CONTEXT_MODE.to_string(),
            lora: None,
            adapter: None,
            merged: None,
            data: None,
            training,
        }
    }

    /// Whether the checkpoint keeps its base's weights (only its context changed).
    pub fn is_context_only(&self) -> bool {
        self.mode == CONTEXT_MODE && self.adapter.is_none() && self.merged.is_none()
    }

    /// The GGUF the checkpoint in `dir` plays with as it is on disk: its merged model, or for a
    /// context-only checkpoint its base; `None` for an adapter to merge in memory.
    pub fn weights_file(&self, dir: &Path) -> Option<PathBuf> {
        match &self.merged {
            Some(merged) => Some(dir.join(&merged.path)),
            None if self.is_context_only() => Some(self.base.path.clone()),
            None => None,
        }
    }

    /// Writes it as `checkpoint.json` of `dir` (through a partial file renamed into place).
    pub fn write(&self, dir: &Path) -> Result<(), LlmError> {
        let path = dir.join(CHECKPOINT_FILE);
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| LlmError::Format { path: path.clone(), message: format!("cannot encode: {e}") })?;
        let partial = dir.join(format!("{CHECKPOINT_FILE}.partial"));
        std::fs::write(&partial, text + "\n")
            .and_then(|()| std::fs::rename(&partial, &path))
            .map_err(|e| LlmError::io(&path, e))
    }
}

/// Whether `path` is a fine-tuned checkpoint directory (has a `checkpoint.json`).
pub fn is_finetuned_dir(path: &Path) -> bool {
    path.is_dir() && path.join(CHECKPOINT_FILE).is_file()
}

/// Loads the model of the fine-tuned checkpoint in `dir`: its merged GGUF when it has one (its
/// hash checked), otherwise its base with the adapter merged in memory (both hashes checked).
pub fn load_finetuned(dir: &Path) -> Result<Arc<LlmModel>, LlmError> {
    let record = FinetuneRecord::read(dir)?;
    if let Some(merged) = &record.merged {
        let path = dir.join(&merged.path);
        merged.verify(&path, "the merged model")?;
        return LlmModel::load(&path);
    }
    if record.is_context_only() {
        record.base.verify(&record.base.path, "the model whose weights it keeps")?;
        return LlmModel::load(&record.base.path);
    }
    let adapter = record
        .adapter
        .as_ref()
        .ok_or_else(|| LlmError::MissingTensor { path: dir.join(CHECKPOINT_FILE), name: "adapter".to_string() })?;
    let adapter_path = dir.join(&adapter.path);
    adapter.verify(&adapter_path, "the adapter")?;
    record.base.verify(&record.base.path, "the base model")?;
    let mut file = GgufFile::open(&record.base.path)?;
    let merged = merged_tensors(&mut file, &adapter_path)?;
    LlmModel::from_file(file.with_overrides(merged)?)
}

/// Writes `output`: the base GGUF at `base` with the adapter at `adapter` merged into its
/// weights, every matrix Q8_0 (see [`super::convert_to_q8_0`]).
pub fn write_merged(base: &Path, adapter_path: &Path, output: &Path) -> Result<ConvertSummary, LlmError> {
    let mut file = GgufFile::open(base)?;
    let merged = merged_tensors(&mut file, adapter_path)?;
    write_q8_0(file.with_overrides(merged)?, output)
}

/// Checks that the adapter at `adapter_path` fits the base GGUF at `base` (its header, its tensor
/// names and shapes) by merging it in memory; returns its mode (`lora` or `full`) and LoRA
/// settings, and how many weights it changes.
pub fn check_adapter(base: &Path, adapter_path: &Path) -> Result<(String, Option<LoraRecord>, usize), LlmError> {
    let mut file = GgufFile::open(base)?;
    let merged = merged_tensors(&mut file, adapter_path)?;
    if merged.is_empty() {
        return Err(LlmError::Format {
            path: adapter_path.to_path_buf(),
            message: "the adapter changes no weight".into(),
        });
    }
    let (header, _) = adapter::read_all(adapter_path)?;
    let mode = header.get("mode").cloned().unwrap_or_default();
    let lora = match mode.as_str() {
        "lora" => Some(LoraRecord {
            rank: header.get("rank").and_then(|v| v.parse().ok()).unwrap_or(0),
            alpha: header.get("alpha").and_then(|v| v.parse().ok()).unwrap_or(0.0),
            targets: header.get("targets").cloned().unwrap_or_default(),
        }),
        _ => None,
    };
    Ok((mode, lora, merged.len()))
}

/// The weights the adapter at `adapter_path` changes, merged and quantized: in LoRA mode
/// `W + (alpha / rank) · B A` for each adapted projection, in full mode every stored weight.
/// Matrices whose rows are a multiple of 32 long become Q8_0, the rest F32.
fn merged_tensors(file: &mut GgufFile, adapter_path: &Path) -> Result<HashMap<String, QTensor>, LlmError> {
    merged_from(file, adapter_path, adapter::read_all(adapter_path)?)
}

/// [`merged_tensors`] from the adapter file's contents, already read.
fn merged_from(
    file: &mut GgufFile,
    adapter_path: &Path,
    (header, tensors): adapter::AdapterContents,
) -> Result<HashMap<String, QTensor>, LlmError> {
    let format = [("format".to_string(), adapter::FORMAT.to_string())];
    adapter::check_header(adapter_path, &header, &format)?;
    let bad = |key: &str, message: String| LlmError::BadMetadata {
        path: adapter_path.to_path_buf(),
        key: key.to_string(),
        message,
    };
    let mode = header.get("mode").ok_or_else(|| bad("mode", "missing".into()))?;
    let mut merged = HashMap::new();
    match mode.as_str() {
        "full" => {
            for (name, tensor) in tensors {
                let Some(info) = file.content.tensor_infos.get(&name) else {
                    return Err(LlmError::tensor(adapter_path, &name, "the base model has no such tensor"));
                };
                if info.shape.dims() != tensor.dims() {
                    return Err(LlmError::tensor(
                        adapter_path,
                        &name,
                        format!("shape {:?}; the base model's is {:?}", tensor.dims(), info.shape.dims()),
                    ));
                }
                merged.insert(name.clone(), quantize(adapter_path, &name, &tensor)?);
            }
        }
        "lora" => {
            let number = |key: &str| -> Result<f64, LlmError> {
                header
                    .get(key)
                    .and_then(|v| v.parse::<f64>().ok())
                    .filter(|v| v.is_finite() && *v > 0.0)
                    .ok_or_else(|| bad(key, "missing or not a positive number".into()))
            };
            let (rank, alpha) = (number("rank")?, number("alpha")?);
            let scale = alpha / rank;
            let by_name: HashMap<&str, &Tensor> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
            for (name, a) in &tensors {
                let Some(base_name) = name.strip_suffix(".lora_a") else {
                    if !name.ends_with(".lora_b") {
                        return Err(LlmError::tensor(adapter_path, name, "neither a lora_a nor a lora_b tensor"));
                    }
                    continue;
                };
                let b_name = format!("{base_name}.lora_b");
                let b = by_name.get(b_name.as_str()).ok_or_else(|| LlmError::MissingTensor {
                    path: adapter_path.to_path_buf(),
                    name: b_name.clone(),
                })?;
                let weight = file.tensor(base_name)?.dequantize(&Device::Cpu)?;
                let (out, inputs) = weight.dims2()?;
                let (a_rank, a_in) = a.dims2()?;
                let (b_out, b_rank) = b.dims2()?;
                if a_in != inputs || b_out != out || a_rank != b_rank || a_rank as f64 != rank {
                    return Err(LlmError::tensor(
                        adapter_path,
                        base_name,
                        format!(
                            "adapter shapes A {:?} and B {:?} do not fit the base weight [{out}, {inputs}] at rank {rank}",
                            a.dims(),
                            b.dims()
                        ),
                    ));
                }
                let delta = (b.to_dtype(DType::F32)?.matmul(&a.to_dtype(DType::F32)?)? * scale)?;
                merged.insert(base_name.to_string(), quantize(adapter_path, base_name, &(weight + delta)?)?);
            }
        }
        other => return Err(bad("mode", format!("{other:?}; lora or full expected"))),
    }
    Ok(merged)
}

fn quantize(path: &Path, name: &str, tensor: &Tensor) -> Result<QTensor, LlmError> {
    let tensor = tensor.to_dtype(DType::F32)?;
    let dtype = match tensor.dims() {
        [_, cols] if cols.is_multiple_of(32) => GgmlDType::Q8_0,
        _ => GgmlDType::F32,
    };
    QTensor::quantize(&tensor, dtype).map_err(|e| LlmError::tensor(path, name, format!("cannot quantize: {e}")))
}

/// The SHA-256 (hex) and size of the file at `path`, read in pieces.
pub fn sha256_file(path: &Path) -> Result<(String, u64), LlmError> {
    let mut file = std::fs::File::open(path).map_err(|e| LlmError::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = file.read(&mut buffer).map_err(|e| LlmError::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        bytes += n as u64;
    }
    Ok((crate::checkpoint::hex(&hasher.finalize()), bytes))
}
