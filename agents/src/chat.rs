//! Chat messages and the trace of one language-model answer (prompt, completion, token log-probs).

use serde::{Deserialize, Serialize};

/// One message of a chat: `system`, `user` or `assistant`, and its text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: String,
    pub content: String,
}

impl ChatMessage {
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
        ChatMessage { role: role.into(), content: content.into() }
    }

    pub fn system(content: impl Into<String>) -> Self {
        Self::new("system", content)
    }

    pub fn user(content: impl Into<String>) -> Self {
        Self::new("user", content)
    }

    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new("assistant", content)
    }
}

/// What a language model was asked and what it answered, token by token.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TextTrace {
    /// The prompt as chat messages (earlier rejected answers and the errors quoted back included).
    pub messages: Vec<ChatMessage>,
    /// The generated text, stop token excluded.
    pub completion: String,
    /// The sampled token ids.
    pub tokens: Vec<u32>,
    /// Each sampled token's log-probability under the model (temperature 1, before top-p).
    pub logprobs: Vec<f32>,
    /// For a model behind an HTTP server (`openai(...)`), what was asked of it and what it said
    /// about itself; `None` for in-process models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<ServedRequest>,
}

/// The request behind an answer from a served model, kept with the turn so that the answer can be
/// asked for again: the server, the model as the server named it, the sampling settings and seed.
/// Never holds the API key.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ServedRequest {
    /// The server's base URL (no user name, password or query).
    pub url: String,
    /// `chat/completions` or `completions`.
    pub endpoint: String,
    /// The model asked for.
    pub model: String,
    /// The model the server said answered (its `model` field), if it said.
    pub served_model: Option<String>,
    /// `text`, `scored` or `grammar`.
    pub choice: String,
    pub temperature: f32,
    pub top_p: f32,
    pub max_tokens: usize,
    /// The seed sent (`None`: none was sent, and the answer cannot be asked for again).
    pub seed: Option<u64>,
    /// `cache_prompt` as sent (`false` for seeded requests, so a cached prefix cannot change them).
    pub cache_prompt: Option<bool>,
    /// HTTP requests made for this answer (retries included; a scored choice asks once per move).
    pub requests: u32,
    /// Tokens the server counted (`usage`), summed over the requests.
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// The server's `finish_reason` for a written answer.
    pub finish_reason: Option<String>,
    /// The server's `system_fingerprint`, if it sent one.
    pub system_fingerprint: Option<String>,
}
