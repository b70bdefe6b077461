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
}
