//! Scoring given continuations of a prompt (candidate replies: the legal moves of a game, a
//! judge's verdicts) by their log-probability under the model, without generating.
//!
//! The prompt runs once, in one forward step, into its own cache; then every continuation is fed
//! in further steps as its own sequence that continues the prompt's cache read-only (a prefix,
//! see [`Step`]), with the logits after every one of its tokens. Continuation `c = t1..tn` gets
//! `log p(t1 | prompt)` from the prompt's step and `log p(tk | prompt, t1..tk-1)` from its own
//! rows, so it feeds `n - 1` tokens. A step feeds at most [`ROWS_PER_STEP`] continuation tokens
//! (more continuations take more steps), which bounds the logits held at once.
//!
//! Every row is computed as it would be alone (see [`LlmModel::forward`]), so a continuation's
//! score does not depend on the other continuations, on how they are split into steps, or on the
//! other work of the batch: the same as a plain forward pass over prompt and continuation.

use serde::{Deserialize, Serialize};

use super::LlmError;
use super::model::{KvCache, LlmModel, Step};
use super::prefix::Reused;
use super::sampling::Normalizer;
use crate::chat::ChatMessage;

/// The most continuation tokens fed in one scoring step (each returns a row of logits).
pub(crate) const ROWS_PER_STEP: usize = 256;

/// How likely the model finds one continuation of a prompt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContinuationScore {
    /// The continuation's tokens.
    pub tokens: Vec<u32>,
    /// Each token's log-probability given the prompt and the tokens before it (temperature 1,
    /// computed as for generated tokens).
    pub logprobs: Vec<f32>,
    /// Their sum, in order: the continuation's log-probability.
    pub logprob: f32,
}

/// The scoring of one request in progress: the prompt's step, then the continuations' steps.
#[derive(Debug)]
pub(crate) struct Scoring {
    prompt: Vec<u32>,
    prompt_cache: KvCache,
    /// Prompt tokens fed so far (or taken from the prefix cache).
    fed: usize,
    /// Prompt tokens taken from the prefix cache.
    reused: usize,
    /// With the prompt's own log-probabilities asked for: those of its tokens after the first,
    /// so far. The prompt then runs in steps of at most [`ROWS_PER_STEP`] tokens, every row kept.
    prompt_logprobs: Option<Vec<f32>>,
    continuations: Vec<Vec<u32>>,
    logprobs: Vec<Vec<f32>>,
    /// The continuations the next step feeds (once the prompt has run).
    chunk: Vec<usize>,
    /// The first continuation not yet in a chunk.
    next: usize,
    /// Own caches of the chunk's continuations, reused from chunk to chunk.
    caches: Vec<KvCache>,
}

impl Scoring {
    /// Checks the request: a non-empty prompt, at least one continuation, none empty, every
    /// token in the vocabulary, and room in the context for the prompt and the longest one.
    pub fn new(model: &LlmModel, prompt: Vec<u32>, continuations: Vec<Vec<u32>>) -> Result<Self, LlmError> {
        let vocab = model.config().vocab_size;
        let context = model.config().context;
        if prompt.is_empty() {
            return Err(LlmError::BadRequest("the prompt is empty".to_string()));
        }
        if continuations.is_empty() {
            return Err(LlmError::BadRequest("there are no continuations to score".to_string()));
        }
        if let Some(i) = continuations.iter().position(Vec::is_empty) {
            return Err(LlmError::BadRequest(format!("continuation {i} has no tokens")));
        }
        if let Some(&bad) = prompt.iter().chain(continuations.iter().flatten()).find(|&&t| t as usize >= vocab) {
            return Err(LlmError::BadRequest(format!("token {bad} is outside the vocabulary of {vocab}")));
        }
        let longest = continuations.iter().map(Vec::len).max().unwrap_or(1);
        let needed = prompt.len() + longest - 1;
        if needed > context {
            return Err(LlmError::PromptTooLong { prompt: needed, context });
        }
        let mut prompt_cache = model.new_cache();
        prompt_cache.reserve(prompt.len());
        Ok(Scoring {
            logprobs: continuations.iter().map(|c| Vec::with_capacity(c.len())).collect(),
            prompt,
            prompt_cache,
            fed: 0,
            reused: 0,
            prompt_logprobs: None,
            continuations,
            chunk: Vec::new(),
            next: 0,
            caches: Vec::new(),
        })
    }

    /// Also computes the log-probability of every prompt token after the first (see
    /// [`Scoring::finish_with_prompt`]).
    pub fn with_prompt_logprobs(mut self) -> Self {
        self.prompt_logprobs = Some(Vec::with_capacity(self.prompt.len()));
        self
    }

    /// Starts from the cached keys and values of the prompt's first tokens (not with
    /// [`Scoring::with_prompt_logprobs`], whose prompt rows must all run).
    pub fn starting_from(mut self, reused: Reused) -> Self {
        if self.prompt_logprobs.is_none() && self.fed == 0 && reused.len < self.prompt.len() {
            self.fed = reused.len;
            self.reused = reused.len;
            self.prompt_cache = reused.cache;
        }
        self
    }

    /// The prompt's tokens, how many of them came from the prefix cache, and (once it has run)
    /// their keys and values.
    pub fn prompt_kv(&self) -> (&[u32], usize, &KvCache) {
        (&self.prompt, self.reused, &self.prompt_cache)
    }

    /// Whether the next step runs (part of) the prompt.
    pub fn is_prefill(&self) -> bool {
        self.fed < self.prompt.len()
    }

    /// The prompt tokens the next step feeds, when it is a prefill step.
    fn prompt_chunk(&self) -> usize {
        let left = self.prompt.len() - self.fed;
        if self.prompt_logprobs.is_some() { left.min(ROWS_PER_STEP) } else { left }
    }

    /// Tokens the next step feeds.
    pub fn pending(&self) -> usize {
        if self.is_prefill() {
            self.prompt_chunk()
        } else {
            self.chunk.iter().map(|&i| self.continuations[i].len() - 1).sum()
        }
    }

    /// Rows of logits the next step returns.
    pub fn output_rows(&self) -> usize {
        match (self.is_prefill(), self.prompt_logprobs.is_some()) {
            (true, true) => self.prompt_chunk(),
            (true, false) => 1,
            (false, _) => self.pending(),
        }
    }

    /// This request's part of the next forward step.
    pub fn steps(&mut self) -> Vec<Step<'_>> {
        if self.is_prefill() {
            let tokens = &self.prompt[self.fed..self.fed + self.prompt_chunk()];
            let every_row = self.prompt_logprobs.is_some();
            return vec![Step { cache: &mut self.prompt_cache, tokens, prefix: None, every_row }];
        }
        let prefix = &self.prompt_cache;
        let continuations = &self.continuations;
        self.chunk
            .iter()
            .zip(self.caches.iter_mut())
            .map(|(&i, cache)| {
                let tokens = &continuations[i];
                Step { cache, tokens: &tokens[..tokens.len() - 1], prefix: Some(prefix), every_row: true }
            })
            .collect()
    }

    /// Takes the logits of the step made of [`Scoring::steps`] (its [`Scoring::output_rows`]
    /// rows); true when every continuation is scored.
    pub fn accept(&mut self, model: &LlmModel, logits: &[f32]) -> Result<bool, LlmError> {
        let vocab = model.config().vocab_size;
        let rows = self.output_rows();
        if logits.len() != rows * vocab {
            return Err(LlmError::Compute(format!(
                "a scoring step returned {} logits for {rows} rows of {vocab}",
                logits.len()
            )));
        }
        if self.is_prefill() {
            let chunk = self.prompt_chunk();
            let rows: Vec<&[f32]> = logits.chunks_exact(vocab).collect();
            if let Some(prompt_logprobs) = &mut self.prompt_logprobs {
                // Row j predicts the token after prompt position fed + j.
                for (j, row) in rows.iter().enumerate() {
                    if let Some(&next) = self.prompt.get(self.fed + j + 1) {
                        prompt_logprobs.push(Normalizer::of(row)?.logprob(row, next as usize));
                    }
                }
            }
            self.fed += chunk;
            if self.is_prefill() {
                return Ok(false);
            }
            let last = rows.last().copied().ok_or_else(|| LlmError::Compute("a scoring step is short".to_string()))?;
            let normalizer = Normalizer::of(last)?;
            for (continuation, logprobs) in self.continuations.iter().zip(&mut self.logprobs) {
                logprobs.push(normalizer.logprob(last, continuation[0] as usize));
            }
        } else {
            let mut rows = logits.chunks_exact(vocab);
            for &i in &self.chunk {
                for &token in &self.continuations[i][1..] {
                    let row = rows.next().ok_or_else(|| LlmError::Compute("a scoring step is short".to_string()))?;
                    self.logprobs[i].push(Normalizer::of(row)?.logprob(row, token as usize));
                }
            }
        }
        self.plan_chunk(model);
        Ok(self.chunk.is_empty())
    }

    /// Chooses the continuations of the next step: the next ones with tokens to feed, up to
    /// [`ROWS_PER_STEP`] tokens (at least one continuation).
    fn plan_chunk(&mut self, model: &LlmModel) {
        self.chunk.clear();
        let mut rows = 0;
        while let Some(continuation) = self.continuations.get(self.next) {
            let fed = continuation.len() - 1;
            if fed > 0 {
                if !self.chunk.is_empty() && rows + fed > ROWS_PER_STEP {
                    break;
                }
                self.chunk.push(self.next);
                rows += fed;
            }
            self.next += 1;
        }
        while self.caches.len() < self.chunk.len() {
            self.caches.push(model.new_cache());
        }
        for cache in &mut self.caches {
            cache.clear();
        }
    }

    /// The prompt's log-probabilities (with [`Scoring::with_prompt_logprobs`]; else `None`) and the
    /// continuations' scores.
    pub fn finish_with_prompt(mut self) -> (Option<Vec<f32>>, Vec<ContinuationScore>) {
        let prompt = self.prompt_logprobs.take();
        (prompt, self.finish())
    }

    /// The scores, in the order of the continuations.
    pub fn finish(self) -> Vec<ContinuationScore> {
        self.continuations
            .into_iter()
            .zip(self.logprobs)
            .map(|(tokens, logprobs)| {
                let logprob = logprobs.iter().sum();
                ContinuationScore { tokens, logprobs, logprob }
            })
            .collect()
    }
}

impl LlmModel {
    /// Scores each of `continuations` as a continuation of the token sequence `prompt`, in the
    /// calling thread (no batching with other work; candle's pool does the products).
    pub fn score_tokens(
        &self,
        prompt: Vec<u32>,
        continuations: Vec<Vec<u32>>,
    ) -> Result<Vec<ContinuationScore>, LlmError> {
        let mut scoring = Scoring::new(self, prompt, continuations)?;
        loop {
            let logits = self.forward_steps(&mut scoring.steps())?;
            if scoring.accept(self, &logits)? {
                return Ok(scoring.finish());
            }
        }
    }

    /// Scores each of `replies` as the whole answer to a chat: its text then `<|im_end|>` (see
    /// [`super::LlmTokenizer::reply_tokens`]) after the ChatML prompt of `messages`.
    pub fn score_replies(
        &self,
        messages: &[ChatMessage],
        replies: &[String],
    ) -> Result<Vec<ContinuationScore>, LlmError> {
        let tokenizer = self.tokenizer();
        let prompt = tokenizer.chat_prompt(messages)?;
        let continuations = replies.iter().map(|r| tokenizer.reply_tokens(r)).collect::<Result<_, _>>()?;
        self.score_tokens(prompt, continuations)
    }
}
