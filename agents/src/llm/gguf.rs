//! Reading GGUF files defensively: the header, typed metadata look-ups that name the file and the
//! key in their errors, and tensors checked against the file's size before they are read.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use candle_core::Device;
use candle_core::quantized::QTensor;
use candle_core::quantized::gguf_file::{Content, Value};

use super::LlmError;

/// An open GGUF file: its parsed header and a reader for its tensors.
pub(crate) struct GgufFile {
    pub path: PathBuf,
    pub content: Content,
    reader: BufReader<File>,
    size: u64,
    /// Tensors that replace the file's own (a fine-tuned model merged in memory), each handed out
    /// once.
    overrides: HashMap<String, QTensor>,
}

impl GgufFile {
    pub fn open(path: &Path) -> Result<Self, LlmError> {
        let file = File::open(path).map_err(|e| LlmError::io(path, e))?;
        let mut reader = BufReader::new(file);
        let size = reader.seek(SeekFrom::End(0)).map_err(|e| LlmError::io(path, e))?;
        reader.seek(SeekFrom::Start(0)).map_err(|e| LlmError::io(path, e))?;
        let content = Content::read(&mut reader)
            .map_err(|e| LlmError::Format { path: path.to_path_buf(), message: e.to_string() })?;
        Ok(GgufFile { path: path.to_path_buf(), content, reader, size, overrides: HashMap::new() })
    }

    /// Replaces tensors of the file by `overrides` (each must be a tensor the file has, with
    /// the same shape): [`GgufFile::tensor`] returns them instead of reading the file.
    pub fn with_overrides(mut self, overrides: HashMap<String, QTensor>) -> Result<Self, LlmError> {
        for (name, tensor) in &overrides {
            let info = self
                .content
                .tensor_infos
                .get(name)
                .ok_or_else(|| LlmError::MissingTensor { path: self.path.clone(), name: name.clone() })?;
            if info.shape.dims() != tensor.shape().dims() {
                return Err(LlmError::tensor(
                    &self.path,
                    name,
                    format!(
                        "replaced by a tensor of shape {:?}; the file's is {:?}",
                        tensor.shape().dims(),
                        info.shape.dims()
                    ),
                ));
            }
        }
        self.overrides = overrides;
        Ok(self)
    }

    pub fn metadata(&self) -> Metadata<'_> {
        Metadata { path: &self.path, content: &self.content }
    }

    pub fn has_tensor(&self, name: &str) -> bool {
        self.content.tensor_infos.contains_key(name)
    }

    /// Reads tensor `name`, after checking that its declared size fits in the file.
    pub fn tensor(&mut self, name: &str) -> Result<QTensor, LlmError> {
        if let Some(tensor) = self.overrides.remove(name) {
            return Ok(tensor);
        }
        let info = self
            .content
            .tensor_infos
            .get(name)
            .ok_or_else(|| LlmError::MissingTensor { path: self.path.clone(), name: name.to_string() })?;
        let elements =
            info.shape.dims().iter().try_fold(1usize, |n, &d| n.checked_mul(d)).filter(|&n| n > 0).ok_or_else(
                || LlmError::tensor(&self.path, name, format!("impossible shape {:?}", info.shape.dims())),
            )?;
        let block = info.ggml_dtype.block_size();
        if !elements.is_multiple_of(block) {
            return Err(LlmError::tensor(
                &self.path,
                name,
                format!("{elements} elements are not a whole number of {:?} blocks", info.ggml_dtype),
            ));
        }
        let bytes = (elements / block).checked_mul(info.ggml_dtype.type_size()).map(|b| b as u64);
        let end =
            bytes.and_then(|b| b.checked_add(info.offset)).and_then(|b| b.checked_add(self.content.tensor_data_offset));
        if end.is_none_or(|end| end > self.size) {
            return Err(LlmError::tensor(&self.path, name, "its data runs past the end of the file (truncated file?)"));
        }
        self.content.tensor(&mut self.reader, name, &Device::Cpu).map_err(|e| LlmError::tensor(&self.path, name, e))
    }
}

/// Typed access to a GGUF file's metadata.
#[derive(Clone, Copy)]
pub(crate) struct Metadata<'a> {
    pub path: &'a Path,
    pub content: &'a Content,
}

impl<'a> Metadata<'a> {
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.content.metadata.get(key)
    }

    fn missing(&self, key: &str) -> LlmError {
        LlmError::MissingKey { path: self.path.to_path_buf(), key: key.to_string() }
    }

    pub fn bad(&self, key: &str, message: impl std::fmt::Display) -> LlmError {
        LlmError::BadMetadata { path: self.path.to_path_buf(), key: key.to_string(), message: message.to_string() }
    }

    pub fn string(&self, key: &str) -> Result<&'a str, LlmError> {
        match self.get(key) {
            None => Err(self.missing(key)),
            Some(Value::String(s)) => Ok(s),
            Some(other) => Err(self.bad(key, format!("expected a string, found {:?}", other.value_type()))),
        }
    }

    pub fn opt_string(&self, key: &str) -> Result<Option<&'a str>, LlmError> {
        if self.get(key).is_none() { Ok(None) } else { self.string(key).map(Some) }
    }

    /// A non-negative integer of any integer type.
    pub fn usize(&self, key: &str) -> Result<usize, LlmError> {
        let value = self.get(key).ok_or_else(|| self.missing(key))?;
        as_u64(value)
            .and_then(|v| usize::try_from(v).ok())
            .ok_or_else(|| self.bad(key, format!("expected a non-negative integer, found {value:?}")))
    }

    pub fn opt_usize(&self, key: &str) -> Result<Option<usize>, LlmError> {
        if self.get(key).is_none() { Ok(None) } else { self.usize(key).map(Some) }
    }

    /// A float (or an integer read as one).
    pub fn opt_f32(&self, key: &str) -> Result<Option<f32>, LlmError> {
        let Some(value) = self.get(key) else { return Ok(None) };
        let number = match value {
            Value::F32(v) => *v as f64,
            Value::F64(v) => *v,
            other => as_u64(other).map(|v| v as f64).ok_or_else(|| self.bad(key, "expected a number"))?,
        };
        if !number.is_finite() {
            return Err(self.bad(key, format!("{number} is not a finite number")));
        }
        Ok(Some(number as f32))
    }

    pub fn array(&self, key: &str) -> Result<&'a [Value], LlmError> {
        match self.get(key) {
            None => Err(self.missing(key)),
            Some(Value::Array(values)) => Ok(values),
            Some(other) => Err(self.bad(key, format!("expected an array, found {:?}", other.value_type()))),
        }
    }

    pub fn string_array(&self, key: &str) -> Result<Vec<&'a str>, LlmError> {
        self.array(key)?
            .iter()
            .enumerate()
            .map(|(i, value)| match value {
                Value::String(s) => Ok(s.as_str()),
                other => Err(self.bad(key, format!("element {i} is a {:?}, not a string", other.value_type()))),
            })
            .collect()
    }
}

pub(crate) fn as_u64(value: &Value) -> Option<u64> {
    match *value {
        Value::U8(v) => Some(v.into()),
        Value::U16(v) => Some(v.into()),
        Value::U32(v) => Some(v.into()),
        Value::U64(v) => Some(v),
        Value::I8(v) => u64::try_from(v).ok(),
        Value::I16(v) => u64::try_from(v).ok(),
        Value::I32(v) => u64::try_from(v).ok(),
        Value::I64(v) => u64::try_from(v).ok(),
        _ => None,
    }
}

pub(crate) fn as_i64(value: &Value) -> Option<i64> {
    match *value {
        Value::I8(v) => Some(v.into()),
        Value::I16(v) => Some(v.into()),
        Value::I32(v) => Some(v.into()),
        Value::I64(v) => Some(v),
        _ => as_u64(value).and_then(|v| i64::try_from(v).ok()),
    }
}
