//! The batching generator: one server thread owns the forward passes of a model and batches the
//! answers that many threads ask for, continuously. Requests join between steps, finished answers
//! leave, and each step runs every active sequence's new tokens (a whole prompt for a newcomer,
//! one token for the others) through one forward pass.
//!
//! A sequence's tokens do not depend on what it was batched with (see [`LlmModel::forward`]), so
//! a seeded answer is the same alone or in a crowd.
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
use super::model::LlmModel;
use super::sampling::SamplingParams;
use crate::chat::ChatMessage;

/// How a [`Generator`] batches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GeneratorConfig {
    /// The most sequences in one forward step; later requests wait for a place.
    pub max_batch: usize,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        GeneratorConfig { max_batch: 8 }
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
    /// Tokens generated.
    pub generated_tokens: u64,
}

#[derive(Debug, Default)]
struct Counters {
    steps: AtomicU64,
    sequences: AtomicU64,
    prompt_tokens: AtomicU64,
    generated_tokens: AtomicU64,
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
    prompt: Vec<u32>,
    params: SamplingParams,
    submitted: Instant,
    deadline: Option<Instant>,
    reply: Sender<Result<RawCompletion, LlmError>>,
}

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
            std::thread::Builder::new()
                .name("llm-generator".to_string())
                .spawn(move || {
                    let _end_flag = EndFlag(&counters);
                    serve(&model, max_batch, &incoming, &counters)
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

    /// Sends a request to the server thread and waits for its answer, until `deadline` if any.
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
        let job = Job { prompt, params: params.clone(), submitted: Instant::now(), deadline, reply };
        let requests = self.shared.requests.as_ref().ok_or(LlmError::Stopped)?;
        requests.send(job).map_err(|_| LlmError::Stopped)?;
        // The server drops the reply sender if it dies without answering.
        let raw = match deadline {
            None => answer.recv().map_err(|_| LlmError::Stopped)??,
            Some(deadline) => match answer.recv_deadline(deadline) {
                Ok(raw) => raw?,
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => return Err(LlmError::DeadlinePassed),
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return Err(LlmError::Stopped),
            },
        };
        let timing = raw.timing;
        Ok((raw.decode(&self.shared.model)?, timing))
    }

    pub fn stats(&self) -> GeneratorStats {
        let c = &self.shared.counters;
        GeneratorStats {
            steps: c.steps.load(Ordering::Relaxed),
            sequences: c.sequences.load(Ordering::Relaxed),
            prompt_tokens: c.prompt_tokens.load(Ordering::Relaxed),
            generated_tokens: c.generated_tokens.load(Ordering::Relaxed),
        }
    }
}

/// An answer in progress and where to send it.
struct Active {
    sequence: Sequence,
    deadline: Option<Instant>,
    reply: Sender<Result<RawCompletion, LlmError>>,
}

/// Whether `deadline` is set and has passed.
fn passed(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|deadline| Instant::now() >= deadline)
}

/// The server thread's loop: admit waiting requests up to `max_batch`, drop the answers whose
/// deadline has passed, run a step, hand out the finished answers; sleep on the channel when
/// idle; end when every handle is gone.
fn serve(model: &LlmModel, max_batch: usize, incoming: &Receiver<Job>, counters: &Counters) {
    let mut active: Vec<Active> = Vec::with_capacity(max_batch);
    let admit = |job: Job, active: &mut Vec<Active>| {
        if passed(job.deadline) {
            let _ = job.reply.send(Err(LlmError::DeadlinePassed));
            return;
        }
        match Sequence::new(model, job.prompt, &job.params, job.submitted) {
            Ok(sequence) => active.push(Active { sequence, deadline: job.deadline, reply: job.reply }),
            Err(error) => {
                let _ = job.reply.send(Err(error));
            }
        }
    };
    loop {
        if active.is_empty() {
            match incoming.recv() {
                Ok(job) => admit(job, &mut active),
                Err(_) => return,
            }
        }
        while active.len() < max_batch {
            match incoming.try_recv() {
                Ok(job) => admit(job, &mut active),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        if active.iter().any(|a| a.deadline.is_some()) {
            active.retain(|a| {
                let late = passed(a.deadline);
                if late {
                    let _ = a.reply.send(Err(LlmError::DeadlinePassed));
                }
                !late
            });
        }
        if active.is_empty() {
            continue;
        }
        let prompt_tokens: usize =
            active.iter().filter(|a| a.sequence.is_prefill()).map(|a| a.sequence.pending()).sum();
        let generated = active.len();
        // A panic in a forward pass becomes an error for this step's answers, not a dead thread.
        let result = catch_unwind(AssertUnwindSafe(|| {
            let mut steps: Vec<_> = active.iter_mut().map(|a| a.sequence.step()).collect();
            model.forward(&mut steps)
        }))
        .unwrap_or_else(|_| Err(LlmError::Compute("the forward pass panicked".to_string())));
        counters.steps.fetch_add(1, Ordering::Relaxed);
        counters.sequences.fetch_add(active.len() as u64, Ordering::Relaxed);
        counters.prompt_tokens.fetch_add(prompt_tokens as u64, Ordering::Relaxed);
        counters.generated_tokens.fetch_add(generated as u64, Ordering::Relaxed);
        let logits = match result {
            Ok(logits) => logits,
            Err(error) => {
                let message = error.to_string();
                for a in active.drain(..) {
                    let _ = a.reply.send(Err(LlmError::Compute(message.clone())));
                }
                continue;
            }
        };
        let vocab = model.config().vocab_size;
        let mut kept = Vec::with_capacity(active.len());
        for (i, mut a) in active.drain(..).enumerate() {
            match a.sequence.accept(model, &logits[i * vocab..(i + 1) * vocab]) {
                Ok(false) => kept.push(a),
                Ok(true) => {
                    let _ = a.reply.send(Ok(a.sequence.into_tokens()));
                }
                Err(error) => {
                    let _ = a.reply.send(Err(error));
                }
            }
        }
        active = kept;
    }
}
