//! Re-quantizing a GGUF model to Q8_0, whose products candle runs much faster on x86 than the
//! 4-bit formats small models ship in (and which quantizes each activation row the same way).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use candle_core::Device;
use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};

use super::LlmError;
use super::gguf::GgufFile;

/// llama.cpp's `general.file_type` for "mostly Q8_0".
const FILE_TYPE_MOSTLY_Q8_0: u32 = 7;

/// What a conversion did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConvertSummary {
    /// Tensors written.
    pub tensors: usize,
    /// Matrices re-quantized to Q8_0.
    pub requantized: usize,
    /// Vectors (norms) written as F32.
    pub vectors: usize,
    /// Tensors copied as they were (already Q8_0, or rows not a multiple of 32).
    pub kept: usize,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// Writes `output`: `input` with every matrix whose rows are a multiple of 32 long re-quantized to
/// Q8_0, vectors as F32, other tensors and all metadata copied. Written to a temporary file
/// beside `output`, then renamed.
pub fn convert_to_q8_0(input: &Path, output: &Path) -> Result<ConvertSummary, LlmError> {
    write_q8_0(GgufFile::open(input)?, output)
}

/// Writes the tensors of `file` (with its in-memory replacements) to `output` as
/// [`convert_to_q8_0`] does.
pub(crate) fn write_q8_0(mut file: GgufFile, output: &Path) -> Result<ConvertSummary, LlmError> {
    let input = file.path.clone();
    let input = input.as_path();
    let mut names: Vec<(u64, String)> =
        file.content.tensor_infos.iter().map(|(name, info)| (info.offset, name.clone())).collect();
    names.sort();
    let mut summary = ConvertSummary {
        tensors: 0,
        requantized: 0,
        vectors: 0,
        kept: 0,
        bytes_in: std::fs::metadata(input).map_err(|e| LlmError::io(input, e))?.len(),
        bytes_out: 0,
    };
    let mut tensors = Vec::with_capacity(names.len());
    for (_, name) in &names {
        let tensor = file.tensor(name)?;
        let dims = tensor.shape().dims().to_vec();
        let converted = match dims.as_slice() {
            [_, cols] if cols.is_multiple_of(32) && tensor.dtype() != GgmlDType::Q8_0 => {
                summary.requantized += 1;
                Some(GgmlDType::Q8_0)
            }
            [_] => {
                summary.vectors += 1;
                (tensor.dtype() != GgmlDType::F32).then_some(GgmlDType::F32)
            }
            _ => {
                summary.kept += 1;
                None
            }
        };
        let tensor = match converted {
            Some(dtype) => tensor
                .dequantize(&Device::Cpu)
                .and_then(|t| QTensor::quantize(&t, dtype))
                .map_err(|e| LlmError::tensor(input, name, format!("cannot convert to {dtype:?}: {e}")))?,
            None => tensor,
        };
        tensors.push((name.as_str(), tensor));
    }
    summary.tensors = tensors.len();

    let file_type = Value::U32(FILE_TYPE_MOSTLY_Q8_0);
    let mut metadata: Vec<(&str, &Value)> = file
        .content
        .metadata
        .iter()
        // The writer aligns tensor data to 32 bytes, the default, whatever the input said.
        .filter(|(key, _)| key.as_str() != "general.alignment" && key.as_str() != "general.file_type")
        .map(|(key, value)| (key.as_str(), value))
        .collect();
    metadata.push(("general.file_type", &file_type));
    metadata.sort_by_key(|(key, _)| *key);
    let tensor_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(name, t)| (*name, t)).collect();

    let temporary = temporary_path(output);
    let written = (|| -> Result<(), LlmError> {
        let out = File::create(&temporary).map_err(|e| LlmError::io(&temporary, e))?;
        let mut writer = BufWriter::new(out);
        gguf_file::write(&mut writer, &metadata, &tensor_refs)
            .map_err(|e| LlmError::Format { path: temporary.clone(), message: format!("cannot write: {e}") })?;
        writer.flush().map_err(|e| LlmError::io(&temporary, e))?;
        writer.get_ref().sync_all().map_err(|e| LlmError::io(&temporary, e))?;
        Ok(())
    })();
    if let Err(error) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(error);
    }
    std::fs::rename(&temporary, output).map_err(|e| {
        let _ = std::fs::remove_file(&temporary);
        LlmError::io(output, e)
    })?;
    summary.bytes_out = std::fs::metadata(output).map_err(|e| LlmError::io(output, e))?.len();
    Ok(summary)
}

fn temporary_path(output: &Path) -> PathBuf {
    let mut name = output.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(format!(".tmp-{}", std::process::id()));
    output.with_file_name(name)
}
