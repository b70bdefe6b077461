//! Small language models run in-process: GGUF llama models loaded with candle's quantized tensors,
//! their tokenizer rebuilt from the GGUF metadata, our own forward pass (ragged batches of
//! sequences, each with its own KV cache), seeded sampling, the scoring of given replies by their
//! log-probability, and a batching [`Generator`] thread that many agents share.
//!
//! Threads: the quantized matrix products run on candle's process-wide pool (`candle_core`'s
//! barrier pool: the calling thread plus `CANDLE_NUM_THREADS - 1` workers, or
//! `RAYON_NUM_THREADS - 1`, or one per core, fixed when candle first computes), and so does
//! attention, a (row, head) pair per item. The rest of a forward pass (norms, RoPE, sampling) runs
//! on the calling thread. A [`Generator`]
//! calls the forward pass from its one server thread, so budget the cores as game workers +
//! `CANDLE_NUM_THREADS`.

mod convert;
pub mod finetuned;
mod generate;
mod gguf;
mod model;
mod pool;
mod prefix;
mod q8;
mod sampling;
mod score;
mod server;
mod simd;
#[cfg(test)]
mod tests;
#[cfg(any(test, feature = "test-fixtures"))]
#[doc(hidden)]
pub mod tiny;
mod tokenizer;
pub mod trainable;

use std::path::{Path, PathBuf};

pub use convert::{ConvertSummary, convert_to_q8_0};
pub use generate::{Completion, FinishReason, Timing};
pub use model::{KvCache, LlmConfig, LlmModel, SeqStep};
pub use sampling::{Sampler, SamplingParams};
pub use score::ContinuationScore;
pub use server::{Generator, GeneratorConfig, GeneratorStats};
pub use tokenizer::LlmTokenizer;

/// Errors from loading, converting or running a language model.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// The file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// The file is not a readable GGUF file (wrong magic, truncated, corrupt header).
    #[error("{}: not a readable GGUF file: {message}", path.display())]
    Format { path: PathBuf, message: String },
    /// A metadata key the model needs is absent.
    #[error("{}: missing metadata key {key}", path.display())]
    MissingKey { path: PathBuf, key: String },
    /// A metadata value has the wrong type or an impossible value.
    #[error("{}: metadata key {key}: {message}", path.display())]
    BadMetadata { path: PathBuf, key: String, message: String },
    /// The model's architecture is not one we can run.
    #[error("{}: architecture {architecture} not supported yet (only llama)", path.display())]
    Architecture { path: PathBuf, architecture: String },
    /// A tensor the model needs is absent.
    #[error("{}: missing tensor {name}", path.display())]
    MissingTensor { path: PathBuf, name: String },
    /// A tensor has the wrong shape or cannot be read.
    #[error("{}: tensor {name}: {message}", path.display())]
    BadTensor { path: PathBuf, name: String, message: String },
    /// The tokenizer metadata cannot be turned into a tokenizer, or text cannot be encoded.
    #[error("{}: tokenizer: {message}", path.display())]
    Tokenizer { path: PathBuf, message: String },
    /// The prompt does not fit in the model's context.
    #[error("the prompt has {prompt} tokens; the model's context holds {context}")]
    PromptTooLong { prompt: usize, context: usize },
    /// Sampling parameters or a request that cannot be served.
    #[error("invalid request: {0}")]
    BadRequest(String),
    /// The forward pass failed.
    #[error("model computation failed: {0}")]
    Compute(String),
    /// The answer was not finished by its deadline (see [`Generator::generate_until`] and
    /// [`Generator::score_replies_until`]).
    #[error("the answer was not finished by its deadline")]
    DeadlinePassed,
    /// The generator's server thread is gone.
    #[error("the generator thread has stopped")]
    Stopped,
    /// The agent's context file cannot be used (the message names the file).
    #[error("{0}")]
    Context(String),
    /// A thread could not be started.
    #[error("cannot start the generator thread: {0}")]
    Thread(String),
    /// A feature asked for that does not exist yet (another quantization type, ...).
    #[error("{0}")]
    Unsupported(String),
}

impl LlmError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        LlmError::Io { path: path.to_path_buf(), source }
    }

    pub(crate) fn tensor(path: &Path, name: &str, message: impl std::fmt::Display) -> Self {
        LlmError::BadTensor { path: path.to_path_buf(), name: name.to_string(), message: message.to_string() }
    }
}

impl From<candle_core::Error> for LlmError {
    fn from(error: candle_core::Error) -> Self {
        LlmError::Compute(error.to_string())
    }
}
