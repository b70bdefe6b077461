//! Generating an answer: one sequence's state from prompt to stop ([`Sequence`], shared by the
//! single-threaded [`LlmModel::generate`] and the batching server) and the finished
//! [`Completion`].

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::LlmError;
use super::model::{KvCache, LlmModel, SeqStep};
use super::prefix::Reused;
use super::sampling::{Sampler, SamplingParams};
use crate::chat::{ChatMessage, TextTrace};

/// Why an answer ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FinishReason {
    /// The model produced a stop token (`<|im_end|>` or end of sequence).
    Stop,
    /// `max_tokens` were generated, or the context is full.
    Length,
}

/// A generated answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    /// The answer's text, stop token excluded.
    pub text: String,
    /// The sampled tokens, the stop token included when `finish` is `Stop`.
    pub tokens: Vec<u32>,
    /// Each sampled token's log-probability under the model (temperature 1, before top-p).
    pub logprobs: Vec<f32>,
    /// Tokens in the prompt.
    pub prompt_tokens: usize,
    /// Of those, the ones whose keys and values came from the prefix cache instead of being fed.
    #[serde(default)]
    pub cached_prompt_tokens: usize,
    pub finish: FinishReason,
}

impl Completion {
    /// The trace of this answer to `messages`.
    pub fn trace(&self, messages: &[ChatMessage]) -> TextTrace {
        TextTrace {
            messages: messages.to_vec(),
            completion: self.text.clone(),
            tokens: self.tokens.clone(),
            logprobs: self.logprobs.clone(),
            request: None,
        }
    }
}

/// Where an answer's time went.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timing {
    /// Waiting for a place in the batch.
    pub queued: Duration,
    /// From admission to the first token (the prompt's forward step).
    pub prompt: Duration,
    /// From the first token to the last.
    pub decode: Duration,
}

impl Timing {
    pub fn total(&self) -> Duration {
        self.queued + self.prompt + self.decode
    }
}

/// One answer in progress: its cache, the tokens to feed next, what it has sampled.
#[derive(Debug)]
pub(crate) struct Sequence {
    cache: KvCache,
    sampler: Sampler,
    prompt: Vec<u32>,
    /// Prompt tokens whose keys and values came from the prefix cache.
    reused: usize,
    /// Tokens for the next forward step: the prompt (after what was reused), then each sampled
    /// token.
    pending: Vec<u32>,
    tokens: Vec<u32>,
    logprobs: Vec<f32>,
    prompt_tokens: usize,
    max_tokens: usize,
    ignore_stop: bool,
    finish: Option<FinishReason>,
    submitted: Instant,
    admitted: Instant,
    first_token: Option<Instant>,
}

impl Sequence {
    /// Starts an answer to `prompt`, from the cached keys and values of its first tokens if
    /// `reused` (they are what feeding those tokens would make).
    pub fn new(
        model: &LlmModel,
        prompt: Vec<u32>,
        params: &SamplingParams,
        submitted: Instant,
        reused: Option<Reused>,
    ) -> Result<Self, LlmError> {
        params.validate()?;
        let context = model.config().context;
        if prompt.is_empty() {
            return Err(LlmError::BadRequest("the prompt is empty".to_string()));
        }
        if prompt.len() > context {
            return Err(LlmError::PromptTooLong { prompt: prompt.len(), context });
        }
        let room = (prompt.len() + params.max_tokens).min(context);
        let (cache, reused) = match reused {
            Some(Reused { len, mut cache }) if len < prompt.len() && cache.len() == len => {
                cache.reserve(room - len);
                (cache, len)
            }
            _ => {
                let mut cache = model.new_cache();
                cache.reserve(room);
                (cache, 0)
            }
        };
        Ok(Sequence {
            cache,
            sampler: Sampler::new(params),
            prompt_tokens: prompt.len(),
            pending: prompt[reused..].to_vec(),
            prompt,
            reused,
            tokens: Vec::new(),
            logprobs: Vec::new(),
            max_tokens: params.max_tokens,
            ignore_stop: params.ignore_stop,
            finish: None,
            submitted,
            admitted: Instant::now(),
            first_token: None,
        })
    }

    /// Whether the next step feeds the prompt.
    pub fn is_prefill(&self) -> bool {
        self.cache.len() == self.reused
    }

    /// The prompt's tokens, how many of them came from the prefix cache, and (once the prompt
    /// has run, before the first sampled token is fed) the cache that holds exactly them.
    pub fn prompt_kv(&self) -> (&[u32], usize, &KvCache) {
        (&self.prompt, self.reused, &self.cache)
    }

    /// Tokens the next step feeds.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// This sequence's part of the next forward step.
    pub fn step(&mut self) -> SeqStep<'_> {
        SeqStep { cache: &mut self.cache, tokens: &self.pending }
    }

    /// Samples from the logits of the last step; true when the answer is finished.
    pub fn accept(&mut self, model: &LlmModel, logits: &[f32]) -> Result<bool, LlmError> {
        let (token, logprob) = self.sampler.sample(logits)?;
        self.tokens.push(token);
        self.logprobs.push(logprob);
        self.first_token.get_or_insert_with(Instant::now);
        self.pending.clear();
        self.pending.push(token);
        if !self.ignore_stop && model.tokenizer().stop_tokens().contains(&token) {
            self.finish = Some(FinishReason::Stop);
        } else if self.tokens.len() >= self.max_tokens || self.cache.len() >= model.config().context {
            self.finish = Some(FinishReason::Length);
        }
        Ok(self.finish.is_some())
    }

    /// The finished answer's tokens (decode them with [`RawCompletion::decode`]).
    pub fn into_tokens(self) -> RawCompletion {
        let first_token = self.first_token.unwrap_or(self.admitted);
        let timing = Timing {
            queued: self.admitted.saturating_duration_since(self.submitted),
            prompt: first_token.saturating_duration_since(self.admitted),
            decode: first_token.elapsed(),
        };
        RawCompletion {
            timing,
            tokens: self.tokens,
            logprobs: self.logprobs,
            prompt_tokens: self.prompt_tokens,
            cached_prompt_tokens: self.reused,
            finish: self.finish.unwrap_or(FinishReason::Length),
        }
    }
}

/// A finished answer before its text is decoded.
#[derive(Debug)]
pub(crate) struct RawCompletion {
    pub timing: Timing,
    pub tokens: Vec<u32>,
    pub logprobs: Vec<f32>,
    pub prompt_tokens: usize,
    pub cached_prompt_tokens: usize,
    pub finish: FinishReason,
}

impl RawCompletion {
    pub fn decode(self, model: &LlmModel) -> Result<Completion, LlmError> {
        let text_tokens = match self.finish {
            FinishReason::Stop => &self.tokens[..self.tokens.len().saturating_sub(1)],
            FinishReason::Length => &self.tokens[..],
        };
        let text = model.tokenizer().decode(text_tokens)?;
        Ok(Completion {
            text,
            tokens: self.tokens,
            logprobs: self.logprobs,
            prompt_tokens: self.prompt_tokens,
            cached_prompt_tokens: self.cached_prompt_tokens,
            finish: self.finish,
        })
    }
}

impl LlmModel {
    /// Answers a chat in the calling thread (no batching; candle's pool does the products).
    pub fn generate(&self, messages: &[ChatMessage], params: &SamplingParams) -> Result<Completion, LlmError> {
        let prompt = self.tokenizer().chat_prompt(messages)?;
        self.generate_tokens(prompt, params)
    }

    /// Continues the token sequence `prompt` in the calling thread.
    pub fn generate_tokens(&self, prompt: Vec<u32>, params: &SamplingParams) -> Result<Completion, LlmError> {
        let mut sequence = Sequence::new(self, prompt, params, Instant::now(), None)?;
        loop {
            let logits = self.forward(&mut [sequence.step()])?;
            if sequence.accept(self, &logits)? {
                return sequence.into_tokens().decode(self);
            }
        }
    }
}
