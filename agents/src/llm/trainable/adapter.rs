//! The adapter file (conventionally `adapter.safetensors`): a model's trained tensors under their
//! names, and a header (safetensors `__metadata__`) saying what they are — format, mode, rank,
//! alpha, targets — so that a file only loads into a model it fits.
//!
//! Tensor names: in LoRA mode `blk.{layer}.{projection}.weight.lora_a` (`[rank, in]`) and
//! `.lora_b` (`[out, rank]`), the projection as GGUF names it (`attn_q`, `attn_k`, `attn_v`,
//! `attn_output`, `ffn_gate`, `ffn_up`, `ffn_down`) — the names llama.cpp gives LoRA adapters;
//! in full mode every weight under its GGUF name (`token_embd.weight`, `blk.0.attn_norm.weight`,
//! ..., `output.weight` unless the output is tied to the embedding). Values are stored in the
//! model's float type, little-endian, so a save and a load give back the same bits.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor, Var};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::llm::LlmError;

/// The usual file name of an adapter in a checkpoint directory.
pub const ADAPTER_FILE: &str = "adapter.safetensors";

/// The value of the `format` header key.
pub(crate) const FORMAT: &str = "arena-llm-adapter-1";

/// A tensor of an adapter file: its name and shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdapterTensor {
    pub name: String,
    pub shape: Vec<usize>,
}

fn invalid(path: &Path, message: String) -> LlmError {
    LlmError::io(path, std::io::Error::new(std::io::ErrorKind::InvalidData, message))
}

/// Writes `tensors` and `header` to `path`, which must not exist yet (a partial file beside it
/// is renamed into place once whole). Returns what it wrote, in name order.
pub(super) fn write(
    path: &Path,
    tensors: &[(String, Var)],
    header: HashMap<String, String>,
) -> Result<Vec<AdapterTensor>, LlmError> {
    if path.exists() {
        return Err(LlmError::io(
            path,
            std::io::Error::new(std::io::ErrorKind::AlreadyExists, "already exists; an adapter is never overwritten"),
        ));
    }
    let mut encoded: Vec<(&str, Vec<usize>, Dtype, Vec<u8>)> = Vec::with_capacity(tensors.len());
    for (name, var) in tensors {
        let tensor = var.as_tensor().flatten_all()?;
        let (dtype, bytes) = match tensor.dtype() {
            DType::F32 => (Dtype::F32, tensor.to_vec1::<f32>()?.iter().flat_map(|v| v.to_le_bytes()).collect()),
            DType::F64 => (Dtype::F64, tensor.to_vec1::<f64>()?.iter().flat_map(|v| v.to_le_bytes()).collect()),
            other => return Err(LlmError::tensor(path, name, format!("cannot save a {other:?} tensor"))),
        };
        encoded.push((name, var.dims().to_vec(), dtype, bytes));
    }
    encoded.sort_by(|a, b| a.0.cmp(b.0));
    let views = encoded
        .iter()
        .map(|(name, shape, dtype, bytes)| {
            TensorView::new(*dtype, shape.clone(), bytes)
                .map(|view| (*name, view))
                .map_err(|e| LlmError::tensor(path, name, e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let bytes = safetensors::serialize(views, Some(header))
        .map_err(|e| invalid(path, format!("cannot encode the adapter: {e}")))?;
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = Path::new(&partial);
    let written = std::fs::write(partial, &bytes).and_then(|()| std::fs::rename(partial, path));
    if let Err(error) = written {
        let _ = std::fs::remove_file(partial);
        return Err(LlmError::io(path, error));
    }
    Ok(encoded.into_iter().map(|(name, shape, _, _)| AdapterTensor { name: name.to_string(), shape }).collect())
}

/// An adapter file's header and its tensors by name (sorted).
pub(crate) type AdapterContents = (HashMap<String, String>, Vec<(String, Tensor)>);

/// Every tensor of the adapter file at `path` (f32 or f64 as stored) by name, and its header.
pub(crate) fn read_all(path: &Path) -> Result<AdapterContents, LlmError> {
    let bytes = std::fs::read(path).map_err(|e| LlmError::io(path, e))?;
    let (_, metadata) = SafeTensors::read_metadata(&bytes)
        .map_err(|e| invalid(path, format!("not a readable safetensors file: {e}")))?;
    let file =
        SafeTensors::deserialize(&bytes).map_err(|e| invalid(path, format!("not a readable safetensors file: {e}")))?;
    let header = metadata.metadata().clone().unwrap_or_default();
    let mut tensors = Vec::new();
    for (name, view) in file.tensors() {
        let data = view.data();
        let tensor = match view.dtype() {
            Dtype::F32 => {
                let values: Vec<f32> =
                    data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
                Tensor::from_vec(values, view.shape(), &Device::Cpu)
            }
            Dtype::F64 => {
                let values: Vec<f64> = data
                    .chunks_exact(8)
                    .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
                    .collect();
                Tensor::from_vec(values, view.shape(), &Device::Cpu)
            }
            other => return Err(LlmError::tensor(path, &name, format!("type {other:?}; f32 or f64 expected"))),
        };
        tensors.push((name.clone(), tensor.map_err(|e| LlmError::tensor(path, &name, e))?));
    }
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    Ok((header, tensors))
}

/// Checks that `found` has every key of `wanted` with the same value (numbers compared as
/// numbers; in `wanted`'s order, so the first difference named is the most telling).
pub(crate) fn check_header(
    path: &Path,
    found: &HashMap<String, String>,
    wanted: &[(String, String)],
) -> Result<(), LlmError> {
    for (key, wanted) in wanted {
        let Some(value) = found.get(key) else {
            return Err(LlmError::MissingKey { path: path.to_path_buf(), key: key.clone() });
        };
        let same = match (value.parse::<f64>(), wanted.parse::<f64>()) {
            (Ok(a), Ok(b)) => a == b,
            _ => value == wanted,
        };
        if !same {
            return Err(LlmError::BadMetadata {
                path: path.to_path_buf(),
                key: key.clone(),
                message: format!("the file has {value:?}; this model has {wanted:?}"),
            });
        }
    }
    Ok(())
}

/// Reads the file at `path` for a model whose trainable tensors are `expected` and whose header
/// would be `header` (see [`check_header`]): the file must hold exactly the expected tensors,
/// each with its shape. Returns the values in `expected`'s order, converted to each variable's
/// float type; nothing is changed.
pub(super) fn read(
    path: &Path,
    expected: &[(String, Var)],
    header: &[(String, String)],
) -> Result<Vec<Tensor>, LlmError> {
    let (found, tensors) = read_all(path)?;
    check_header(path, &found, header)?;
    if let Some((extra, _)) = tensors.iter().find(|(name, _)| !expected.iter().any(|(n, _)| n == name)) {
        return Err(LlmError::tensor(path, extra, "not a tensor this model trains"));
    }
    let mut values = Vec::with_capacity(expected.len());
    for (name, var) in expected {
        let Some((_, tensor)) = tensors.iter().find(|(n, _)| n == name) else {
            return Err(LlmError::MissingTensor { path: path.to_path_buf(), name: name.clone() });
        };
        if tensor.dims() != var.dims() {
            return Err(LlmError::tensor(path, name, format!("shape {:?}, expected {:?}", tensor.dims(), var.dims())));
        }
        values.push(tensor.to_dtype(var.dtype()).map_err(|e| LlmError::tensor(path, name, e))?);
    }
    Ok(values)
}
