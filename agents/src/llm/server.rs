//! The batching generator: one server thread owns the forward passes of a model and batches the
//! answers that many threads ask for, continuously. Requests join between steps, finished answers
//! leave, and each step runs every active sequence's new tokens (a whole prompt for a newcomer,
//! one token for the others) through one forward pass.
//!
//! It also scores given replies ([`Generator::score_replies_until`]): such a request runs its
//! prompt in one step and its candidate continuations in the next (see `score.rs`), batched with
//! whatever else is in flight, and counts as one sequence of the batch.
//!
//! A sequence's tokens do not depend on what it was batched with (see [`LlmModel::forward`]), so
//! a seeded answer is the same alone or in a crowd, and so are a reply's scores.
//!
//! A newcomer starts from the longest cached prefix of its prompt (see `prefix.rs`): the prompts
//! of one agent share their system prompt and examples, which then run once.
//!
//! A request may carry a deadline ([`Generator::generate_until`]): its caller stops waiting at the
//! deadline, and the server drops the sequence before its next step (or refuses it on admission),
//! so an answer nobody waits for costs at most one more step. The thread ends, and is joined,
//! when the last handle is dropped; only then is the model it holds released.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender, TryRecvError};

use super::LlmError;
use super::generate::{Completion, RawCompletion, Sequence, Timing};
use super::model::{KvCache, LlmModel, Step};
use super::prefix::PrefixCache;
use super::sampling::SamplingParams;
use super::score::{ContinuationScore, Scoring};
use crate::chat::ChatMessage;

/// How a [`Generator`] batches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GeneratorConfig {
    /// The most sequences in one forward step; later requests wait for a place.
    pub max_batch: usize,
    /// Bytes of keys and values kept for prompt prefixes that later prompts may share (0: none,
    /// every prompt runs whole).
    pub prefix_cache_bytes: usize,
}

impl GeneratorConfig {
    /// The prefix cache's default size: room for a few dozen prompts of a small model.
    pub const DEFAULT_PREFIX_CACHE_BYTES: usize = 256 << 20;

    /// Batches of at most `max_batch`, with the default prefix cache.
    pub fn batch(max_batch: usize) -> Self {
        GeneratorConfig { max_batch, prefix_cache_bytes: Self::DEFAULT_PREFIX_CACHE_BYTES }
    }
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        GeneratorConfig::batch(8)
    }
}

/// Counts of the work done, for reports and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GeneratorStats {
    /// Forward steps run.
    pub steps: u64,
    /// Sequences summed over steps (`sequences / steps` is the mean batch size).
    pub sequences: u64,
    /// Prompt tokens processed.
    pub prompt_tokens: u64,
    /// Prompt tokens whose keys and values came from the prefix cache (not counted in
    /// `prompt_tokens`).
    pub cached_prompt_tokens: u64,
    /// Tokens generated.
    pub generated_tokens: u64,
    /// Tokens of scored continuations fed (the prompts of scoring requests count as prompt tokens).
    pub scored_tokens: u64,
}

#[derive(Debug, Default)]
struct Counters {
    steps: AtomicU64,
    sequences: AtomicU64,
    prompt_tokens: AtomicU64,
    cached_prompt_tokens: AtomicU64,
    generated_tokens: AtomicU64,
    scored_tokens: AtomicU64,
    /// Set when the server thread ends, however it ends.
    ended: AtomicBool,
}

/// Marks the server thread ended when dropped (also on unwinding).
struct EndFlag<'a>(&'a Counters);

impl Drop for EndFlag<'_> {
    fn drop(&mut self) {
        self.0.ended.store(true, Ordering::Release);
    }
}

/// Whether a generator's server thread has ended; outlives the generator (for tests).
#[cfg(test)]
#[derive(Clone, Debug)]
pub(crate) struct EndedSignal(Arc<Counters>);

#[cfg(test)]
impl EndedSignal {
    pub(crate) fn has_ended(&self) -> bool {
        self.0.ended.load(Ordering::Acquire)
    }
}

#[derive(Debug)]
struct Job {
    request: Request,
    submitted: Instant,
    deadline: Option<Instant>,
}

/// What a job asks for, and where its answer goes.
#[derive(Debug)]
enum Request {
    Generate {
        prompt: Vec<u32>,
        params: SamplingParams,
        reply: Sender<Result<RawCompletion, LlmError>>,
    },
    Score {
        prompt: Vec<u32>,
        continuations: Vec<Vec<u32>>,
        /// Also the prompt's own tokens' log-probabilities.
        prompt_logprobs: bool,
        reply: Sender<Result<Scored, LlmError>>,
    },
}

/// The prompt's log-probabilities (when asked for) and the continuations' scores.
type Scored = (Option<Vec<f32>>, Vec<ContinuationScore>);

#[derive(Debug)]
struct Shared {
    model: Arc<LlmModel>,
    /// `None` only while dropping: the thread sees the channel close and ends.
    requests: Option<Sender<Job>>,
    counters: Arc<Counters>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Shared {
    /// Closes the request channel and waits for the server thread to end (it finishes the step it
    /// is in, then drops the answers nobody waits for any more), so the model is released when
    /// the last handle is gone.
    fn drop(&mut self) {
        drop(self.requests.take());
        if let Some(thread) = self.thread.take()
            && thread.thread().id() != std::thread::current().id()
        {
            // A panicked server thread has nothing more to say here.
            let _ = thread.join();
        }
    }
}

/// A handle on a batching server thread; clone it for each user (all clones share the thread).
/// The thread ends when the last handle is dropped (that drop waits for it).
#[derive(Clone, Debug)]
pub struct Generator {
    shared: Arc<Shared>,
}

impl Generator {
    /// Starts the server thread for `model`.
    pub fn start(model: Arc<LlmModel>, config: GeneratorConfig) -> Result<Self, LlmError> {
        let (requests, incoming) = crossbeam_channel::unbounded();
        let counters = Arc::new(Counters::default());
        let thread = {
            let (model, counters) = (model.clone(), counters.clone());
            let max_batch = config.max_batch.max(1);
            let prefixes = PrefixCache::new(config.prefix_cache_bytes);
            std::thread::Builder::new()
                .name("llm-generator".to_string())
                .spawn(move || {
                    let _end_flag = EndFlag(&counters);
                    serve(&model, max_batch, prefixes, &incoming, &counters)
                })
                .map_err(|e| LlmError::Thread(e.to_string()))?
        };
        Ok(Generator { shared: Arc::new(Shared { model, requests: Some(requests), counters, thread: Some(thread) }) })
    }

    pub fn model(&self) -> &Arc<LlmModel> {
        &self.shared.model
    }

    /// Whether `self` and `other` are handles on the same server thread.
    pub fn ptr_eq(&self, other: &Generator) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// Says, even after every handle is gone, whether the server thread has ended.
    #[cfg(test)]
    pub(crate) fn ended_signal(&self) -> EndedSignal {
        EndedSignal(self.shared.counters.clone())
    }

    /// Answers a chat (ChatML prompt); blocks until the answer is finished. Tokenizing and
    /// decoding happen in the calling thread.
    pub fn generate(&self, messages: &[ChatMessage], params: &SamplingParams) -> Result<Completion, LlmError> {
        self.generate_timed(messages, params).map(|(completion, _)| completion)
    }

    /// [`Generator::generate`] that gives up at `deadline` with [`LlmError::DeadlinePassed`]
    /// (the server stops generating the answer too). Without a deadline it is `generate`.
    pub fn generate_until(
        &self,
        messages: &[ChatMessage],
        params: &SamplingParams,
        deadline: Option<Instant>,
    ) -> Result<Completion, LlmError> {
        let prompt = self.shared.model.tokenizer().chat_prompt(messages)?;
        self.submit(prompt, params, deadline).map(|(completion, _)| completion)
    }

    /// [`Generator::generate`], also saying where the time went.
    pub fn generate_timed(
        &self,
        messages: &[ChatMessage],
        params: &SamplingParams,
    ) -> Result<(Completion, Timing), LlmError> {
        let prompt = self.shared.model.tokenizer().chat_prompt(messages)?;
        self.generate_tokens_timed(prompt, params)
    }

    /// Continues the token sequence `prompt`; blocks until the answer is finished.
    pub fn generate_tokens(&self, prompt: Vec<u32>, params: &SamplingParams) -> Result<Completion, LlmError> {
        self.generate_tokens_timed(prompt, params).map(|(completion, _)| completion)
    }

    /// [`Generator::generate_tokens`], also saying where the time went.
    pub fn generate_tokens_timed(
        &self,
        prompt: Vec<u32>,
        params: &SamplingParams,
    ) -> Result<(Completion, Timing), LlmError> {
        self.submit(prompt, params, None)
    }

    /// Scores each of `replies` as the whole answer to a chat (its text, then `<|im_end|>`; see
    /// [`super::LlmTokenizer::reply_tokens`]) by its log-probability under the model, without
    /// generating; blocks until done, or until `deadline` with [`LlmError::DeadlinePassed`].
    /// The scores are those of [`LlmModel::score_replies`], whatever else the batch holds.
    pub fn score_replies_until(
        &self,
        messages: &[ChatMessage],
        replies: &[String],
        deadline: Option<Instant>,
    ) -> Result<Vec<ContinuationScore>, LlmError> {
        let tokenizer = self.shared.model.tokenizer();
        let prompt = tokenizer.chat_prompt(messages)?;
        let continuations = replies.iter().map(|r| tokenizer.reply_tokens(r)).collect::<Result<_, _>>()?;
        self.score_tokens_until(prompt, continuations, deadline)
    }

    /// Scores each of `continuations` as a continuation of the token sequence `prompt` (see
    /// [`LlmModel::score_tokens`]), until `deadline` if any.
    pub fn score_tokens_until(
        &self,
        prompt: Vec<u32>,
        continuations: Vec<Vec<u32>>,
        deadline: Option<Instant>,
    ) -> Result<Vec<ContinuationScore>, LlmError> {
        self.score(prompt, continuations, false, deadline).map(|(_, scores)| scores)
    }

    /// [`Generator::score_tokens_until`] that also gives the log-probability of every prompt
    /// token after the first (the prompt runs once, in steps of at most 256 tokens whose every
    /// row is kept): what an echoed completion with `logprobs` reports, for prompts that share
    /// `prompt` as a prefix.
    pub fn score_tokens_with_prompt_until(
        &self,
        prompt: Vec<u32>,
        continuations: Vec<Vec<u32>>,
        deadline: Option<Instant>,
    ) -> Result<(Vec<f32>, Vec<ContinuationScore>), LlmError> {
        self.score(prompt, continuations, true, deadline).map(|(prompt, scores)| (prompt.unwrap_or_default(), scores))
    }

    fn score(
        &self,
        prompt: Vec<u32>,
        continuations: Vec<Vec<u32>>,
        prompt_logprobs: bool,
        deadline: Option<Instant>,
    ) -> Result<Scored, LlmError> {
        let context = self.shared.model.config().context;
        let longest = continuations.iter().map(Vec::len).max().unwrap_or(1).max(1);
        if prompt.len() + longest - 1 > context {
            return Err(LlmError::PromptTooLong { prompt: prompt.len() + longest - 1, context });
        }
        let (reply, answer) = crossbeam_channel::bounded(1);
        self.send(Request::Score { prompt, continuations, prompt_logprobs, reply }, deadline)?;
        wait(&answer, deadline)
    }

    /// Sends a generation request to the server thread and waits for its answer, until `deadline`
    /// if any.
    fn submit(
        &self,
        prompt: Vec<u32>,
        params: &SamplingParams,
        deadline: Option<Instant>,
    ) -> Result<(Completion, Timing), LlmError> {
        params.validate()?;
        let context = self.shared.model.config().context;
        if prompt.len() > context {
            return Err(LlmError::PromptTooLong { prompt: prompt.len(), context });
        }
        let (reply, answer) = crossbeam_channel::bounded(1);
        self.send(Request::Generate { prompt, params: params.clone(), reply }, deadline)?;
        let raw = wait(&answer, deadline)?;
        let timing = raw.timing;
        Ok((raw.decode(&self.shared.model)?, timing))
    }

    fn send(&self, request: Request, deadline: Option<Instant>) -> Result<(), LlmError> {
        let job = Job { request, submitted: Instant::now(), deadline };
        let requests = self.shared.requests.as_ref().ok_or(LlmError::Stopped)?;
        requests.send(job).map_err(|_| LlmError::Stopped)
    }

    pub fn stats(&self) -> GeneratorStats {
        let c = &self.shared.counters;
        GeneratorStats {
            steps: c.steps.load(Ordering::Relaxed),
            sequences: c.sequences.load(Ordering::Relaxed),
            prompt_tokens: c.prompt_tokens.load(Ordering::Relaxed),
            cached_prompt_tokens: c.cached_prompt_tokens.load(Ordering::Relaxed),
            generated_tokens: c.generated_tokens.load(Ordering::Relaxed),
            scored_tokens: c.scored_tokens.load(Ordering::Relaxed),
        }
    }
}

/// Waits for the server's answer on `answer`, until `deadline` if any. (The server drops the
/// reply sender if it dies without answering.)
fn wait<T>(answer: &Receiver<Result<T, LlmError>>, deadline: Option<Instant>) -> Result<T, LlmError> {
    match deadline {
        None => answer.recv().map_err(|_| LlmError::Stopped)?,
        Some(deadline) => match answer.recv_deadline(deadline) {
            Ok(result) => result,
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => Err(LlmError::DeadlinePassed),
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => Err(LlmError::Stopped),
        },
    }
}

/// Work in progress and where to send its answer.
enum Work {
    Generate { sequence: Sequence, reply: Sender<Result<RawCompletion, LlmError>> },
    Score { scoring: Scoring, reply: Sender<Result<Scored, LlmError>> },
}

impl Work {
    /// Starts the work of `request` (from the longest prefix of its prompt in `prefixes`), or
    /// answers it with the error that prevents it.
    fn start(model: &LlmModel, request: Request, submitted: Instant, prefixes: &mut PrefixCache) -> Option<Work> {
        match request {
            Request::Generate { prompt, params, reply } => {
                let room = (prompt.len() + params.max_tokens).min(model.config().context);
                let reused = prefixes.reuse(&prompt, room);
                match Sequence::new(model, prompt, &params, submitted, reused) {
                    Ok(sequence) => Some(Work::Generate { sequence, reply }),
                    Err(error) => {
                        let _ = reply.send(Err(error));
                        None
                    }
                }
            }
            Request::Score { prompt, continuations, prompt_logprobs, reply } => {
                let reused = if prompt_logprobs { None } else { prefixes.reuse(&prompt, prompt.len()) };
                match Scoring::new(model, prompt, continuations) {
                    Ok(scoring) if prompt_logprobs => {
                        Some(Work::Score { scoring: scoring.with_prompt_logprobs(), reply })
                    }
                    Ok(scoring) => Some(Work::Score {
                        scoring: match reused {
                            Some(reused) => scoring.starting_from(reused),
                            None => scoring,
                        },
                        reply,
                    }),
                    Err(error) => {
                        let _ = reply.send(Err(error));
                        None
                    }
                }
            }
        }
    }

    /// Answers with `error` (nobody may be waiting any more: then nothing happens).
    fn fail(&self, error: LlmError) {
        match self {
            Work::Generate { reply, .. } => {
                let _ = reply.send(Err(error));
            }
            Work::Score { reply, .. } => {
                let _ = reply.send(Err(error));
            }
        }
    }

    /// Whether the next step feeds (part of) the prompt.
    fn is_prefill(&self) -> bool {
        match self {
            Work::Generate { sequence, .. } => sequence.is_prefill(),
            Work::Score { scoring, .. } => scoring.is_prefill(),
        }
    }

    /// The prompt, how many of its tokens came from the prefix cache, and the keys and values
    /// that hold exactly it once it has run.
    fn prompt_kv(&self) -> (&[u32], usize, &KvCache) {
        match self {
            Work::Generate { sequence, .. } => sequence.prompt_kv(),
            Work::Score { scoring, .. } => scoring.prompt_kv(),
        }
    }

    /// Rows of logits this work's part of the next step returns.
    fn output_rows(&self) -> usize {
        match self {
            Work::Generate { .. } => 1,
            Work::Score { scoring, .. } => scoring.output_rows(),
        }
    }

    /// This work's part of the next step.
    fn steps(&mut self) -> Vec<Step<'_>> {
        match self {
            Work::Generate { sequence, .. } => vec![sequence.step().into()],
            Work::Score { scoring, .. } => scoring.steps(),
        }
    }

    /// Takes the logits of its part of the step; `Some(self)` while it goes on, `None` once it
    /// has answered (with its result or an error).
    fn accept(mut self, model: &LlmModel, logits: &[f32]) -> Option<Work> {
        let finished = match &mut self {
            Work::Generate { sequence, .. } => sequence.accept(model, logits),
            Work::Score { scoring, .. } => scoring.accept(model, logits),
        };
        match finished {
            Ok(false) => return Some(self),
            Err(error) => self.fail(error),
            Ok(true) => match self {
                Work::Generate { sequence, reply } => {
                    let _ = reply.send(Ok(sequence.into_tokens()));
                }
                Work::Score { scoring, reply } => {
                    let _ = reply.send(Ok(scoring.finish_with_prompt()));
                }
            },
        }
        None
    }
}

/// Work in progress and its deadline.
struct Active {
    work: Work,
    deadline: Option<Instant>,
}

/// Whether `deadline` is set and has passed.
fn passed(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|deadline| Instant::now() >= deadline)
}

/// The server thread's loop: admit waiting requests up to `max_batch`, drop the work whose
/// deadline has passed, run a step, hand out the finished answers; sleep on the channel when
/// idle; end when every handle is gone.
fn serve(model: &LlmModel, max_batch: usize, mut prefixes: PrefixCache, incoming: &Receiver<Job>, counters: &Counters) {
    let mut active: Vec<Active> = Vec::with_capacity(max_batch);
    let admit = |job: Job, active: &mut Vec<Active>, prefixes: &mut PrefixCache| {
        if passed(job.deadline) {
            match job.request {
                Request::Generate { reply, .. } => {
                    let _ = reply.send(Err(LlmError::DeadlinePassed));
                }
                Request::Score { reply, .. } => {
                    let _ = reply.send(Err(LlmError::DeadlinePassed));
                }
            }
            return;
        }
        if let Some(work) = Work::start(model, job.request, job.submitted, prefixes) {
            counters.cached_prompt_tokens.fetch_add(work.prompt_kv().1 as u64, Ordering::Relaxed);
            active.push(Active { work, deadline: job.deadline });
        }
    };
    loop {
        if active.is_empty() {
            match incoming.recv() {
                Ok(job) => admit(job, &mut active, &mut prefixes),
                Err(_) => return,
            }
        }
        while active.len() < max_batch {
            match incoming.try_recv() {
                Ok(job) => admit(job, &mut active, &mut prefixes),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        if active.iter().any(|a| a.deadline.is_some()) {
            active.retain(|a| {
                let late = passed(a.deadline);
                if late {
                    a.work.fail(LlmError::DeadlinePassed);
                }
                !late
            });
        }
        if active.is_empty() {
            continue;
        }
        let (mut prompt_tokens, mut generated, mut scored) = (0, 0, 0);
        for a in &active {
            match &a.work {
                Work::Generate { sequence, .. } => {
                    generated += 1;
                    if sequence.is_prefill() {
                        prompt_tokens += sequence.pending();
                    }
                }
                Work::Score { scoring, .. } if scoring.is_prefill() => prompt_tokens += scoring.pending(),
                Work::Score { scoring, .. } => scored += scoring.pending(),
            }
        }
        let rows: Vec<usize> = active.iter().map(|a| a.work.output_rows()).collect();
        let prefill: Vec<bool> = active.iter().map(|a| a.work.is_prefill()).collect();
        // A panic in a forward pass becomes an error for this step's answers, not a dead thread.
        let result = catch_unwind(AssertUnwindSafe(|| {
            let mut steps: Vec<Step<'_>> = active.iter_mut().flat_map(|a| a.work.steps()).collect();
            model.forward_steps(&mut steps)
        }))
        .unwrap_or_else(|_| Err(LlmError::Compute("the forward pass panicked".to_string())));
        counters.steps.fetch_add(1, Ordering::Relaxed);
        counters.sequences.fetch_add(active.len() as u64, Ordering::Relaxed);
        counters.prompt_tokens.fetch_add(prompt_tokens as u64, Ordering::Relaxed);
        counters.generated_tokens.fetch_add(generated as u64, Ordering::Relaxed);
        counters.scored_tokens.fetch_add(scored as u64, Ordering::Relaxed);
        let logits = match result {
            Ok(logits) => logits,
            Err(error) => {
                let message = error.to_string();
                for a in active.drain(..) {
                    a.work.fail(LlmError::Compute(message.clone()));
                }
                continue;
            }
        };
        let vocab = model.config().vocab_size;
        let mut kept = Vec::with_capacity(active.len());
        let mut offset = 0;
        for ((a, rows), prefill) in active.drain(..).zip(rows).zip(prefill) {
            if prefill && !a.work.is_prefill() {
                let (prompt, reused, kv) = a.work.prompt_kv();
                prefixes.offer(prompt, reused, kv);
            }
            let part = logits.get(offset * vocab..(offset + rows) * vocab).unwrap_or(&[]);
            offset += rows;
            if let Some(work) = a.work.accept(model, part) {
                kept.push(Active { work, deadline: a.deadline });
            }
        }
        active = kept;
    }
}
