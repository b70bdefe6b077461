//! External trainers: any program (TRL, Axolotl, a script of one's own) that trains from a data
//! file and a base model into an output directory, run through the shell with `{data}`, `{base}`,
//! `{out}` and `{method}` replaced by shell-quoted values. What it leaves in `{out}` is checked
//! before any agent can use it — `adapter.safetensors` in the arena's adapter format (see
//! `agents::llm::trainable`), merged into the base in memory to check every name and shape, or a
//! merged `model.gguf` of the base's architecture and shape — and recorded in `checkpoint.json`
//! with its hashes, like a checkpoint trained here.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use agents::llm::LlmModel;
use agents::llm::finetuned::{CHECKPOINT_FORMAT, FileRecord, FinetuneRecord, MERGED_FILE, check_adapter};
use agents::llm::trainable::ADAPTER_FILE;
use serde::{Deserialize, Serialize};

use super::{Method, absolute, prepare_output};
use crate::error::{Context, Error, Result, bail};
use crate::progress::Progress;

/// What an external trainer did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExternalReport {
    pub out: PathBuf,
    /// The command as run, placeholders replaced.
    pub command: String,
    pub seconds: f64,
    /// `lora`, `full` or `merged`.
    pub mode: String,
    /// Weights the adapter changes (0 for a merged model).
    pub changed_weights: usize,
}

/// Runs `template` to train `base` on `data` by `method` into `out` (new or empty), checks what
/// it produced and writes `checkpoint.json`.
pub fn train_external(
    template: &str,
    base: &Path,
    data: &Path,
    method: Method,
    out: &Path,
    progress: &dyn Progress,
) -> Result<ExternalReport> {
    if !template.contains("{out}") {
        bail!("--trainer-cmd must name where to write with {{out}}: {template}");
    }
    prepare_output(out, false)?;
    let base_record = FileRecord::of(base, absolute(base)?)?;
    let data_record = FileRecord::of(data, absolute(data)?)?;
    let out_absolute = absolute(out)?;
    let command = template
        .replace("{data}", &shell_quote(&data_record.path.to_string_lossy()))
        .replace("{base}", &shell_quote(&base_record.path.to_string_lossy()))
        .replace("{out}", &shell_quote(&out_absolute.to_string_lossy()))
        .replace("{method}", method.as_str());
    progress.log(&format!("running the trainer: {command}"));
    let started = Instant::now();
    let output = Command::new("sh")
        .arg("-c")
        .arg(&command)
        .stdin(Stdio::null())
        // Its chatter goes to our stderr, never into our stdout (which may be a JSON report).
        .stdout(Stdio::from(std::io::stderr()))
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| Error::io("cannot start the trainer command (sh -c)", Path::new("sh"), e))?;
    let seconds = started.elapsed().as_secs_f64();
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(12).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        bail!("the trainer command `{command}` failed ({}); its last words:\n{}", output.status, tail.join("\n"));
    }
    for line in String::from_utf8_lossy(&output.stderr).lines() {
        progress.log(line);
    }

    let adapter_path = out.join(ADAPTER_FILE);
    let merged_path = out.join(MERGED_FILE);
    let (mode, lora, changed_weights, adapter, merged) = if adapter_path.is_file() {
        let (mode, lora, changed) = check_adapter(base, &adapter_path).with_context(|| {
            format!("the trainer's adapter {} does not fit {}", adapter_path.display(), base.display())
        })?;
        (mode, lora, changed, Some(FileRecord::of(&adapter_path, PathBuf::from(ADAPTER_FILE))?), None)
    } else if merged_path.is_file() {
        let trained = LlmModel::load(&merged_path)
            .with_context(|| format!("the trainer's model {} cannot be loaded", merged_path.display()))?;
        let original = LlmModel::load(base)?;
        if trained.config() != original.config() {
            bail!(
                "the trainer's model {} has another shape than the base {}: {:?} against {:?}",
                merged_path.display(),
                base.display(),
                trained.config(),
                original.config()
            );
        }
        ("merged".to_string(), None, 0, None, Some(FileRecord::of(&merged_path, PathBuf::from(MERGED_FILE))?))
    } else {
        bail!(
            "the trainer command `{command}` succeeded but wrote neither {ADAPTER_FILE} nor {MERGED_FILE} into {}",
            out.display()
        );
    };
    let report = ExternalReport { out: out.to_path_buf(), command, seconds, mode: mode.clone(), changed_weights };
    let record = FinetuneRecord {
        format: CHECKPOINT_FORMAT.to_string(),
        base: base_record,
        method: format!("external-{}", method.as_str()),
        mode,
        lora,
        adapter,
        merged,
        data: Some(data_record),
        training: serde_json::to_value(&report)?,
    };
    record.write(out)?;
    Ok(report)
}

/// `text` in single quotes for `sh`.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}
