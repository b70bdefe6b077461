//! Position evaluation for search: a network's policy over the legal actions (softmax of their
//! logits, renormalised) and its value, either directly in the caller's turn ([`DirectEvaluator`])
//! or through one inference thread that batches the requests of many games in flight
//! ([`BatchingEvaluator`]).
//!
//! Both give bit-identical results for a position, whatever it is batched with
//! ([`InferenceNet::infer`] is batch-invariant by construction), so a seeded game plays the same
//! moves either way.
//!
//! Threads: a direct evaluator computes in its caller's thread and nowhere else, so game workers
//! using it need no other threads. A batching evaluator computes on its [`InferenceThreads`]:
//! with one thread, the inference thread itself; with `n > 1`, a rayon pool of `n` threads over
//! which each batch's positions are split (the inference thread waits meanwhile). Budget the
//! cores as game workers + inference threads.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use games::Action;

use rayon::prelude::*;

use crate::network::{InferenceNet, NetworkError, Scratch};

/// Errors from evaluating positions.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EvaluatorError {
    /// The network failed, or was given input it cannot take.
    #[error("network evaluation failed: {0}")]
    Network(String),
    /// The batching evaluator's inference thread is gone.
    #[error("the inference thread has stopped")]
    Stopped,
    /// The inference threads could not be started.
    #[error("cannot start inference threads: {0}")]
    Threads(String),
}

impl From<NetworkError> for EvaluatorError {
    fn from(error: NetworkError) -> Self {
        EvaluatorError::Network(error.to_string())
    }
}

/// A position to evaluate: the observation of the player to move and that player's legal actions.
#[derive(Clone, Copy, Debug)]
pub struct Position<'a> {
    pub observation: &'a [f32],
    pub legal: &'a [Action],
}

/// A network's view of a position.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Evaluation {
    /// Probabilities of the legal actions, in the order given, summing to 1.
    pub priors: Vec<f32>,
    /// The value for the player to move, in [-1, 1].
    pub value: f32,
}

/// Evaluates positions with a policy-value network.
pub trait Evaluator: Send + std::fmt::Debug {
    /// Writes one evaluation per position into `out` (resized to `positions.len()`; the priors'
    /// buffers are reused, so a steady caller does not allocate).
    fn evaluate(&mut self, positions: &[Position<'_>], out: &mut Vec<Evaluation>) -> Result<(), EvaluatorError>;
}

/// The threads a batching evaluator's forward passes run on.
#[derive(Clone, Debug)]
pub struct InferenceThreads {
    /// `None` for one thread: the calling thread computes.
    pool: Option<Arc<rayon::ThreadPool>>,
    count: usize,
}

impl InferenceThreads {
    /// `threads` (at least 1) threads: with 1, the caller's own; otherwise a pool named `inference-N`.
    pub fn new(threads: usize) -> Result<Self, EvaluatorError> {
        let count = threads.max(1);
        if count == 1 {
            return Ok(InferenceThreads { pool: None, count });
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(count)
            .thread_name(|i| format!("inference-{i}"))
            .build()
            .map_err(|e| EvaluatorError::Threads(e.to_string()))?;
        Ok(InferenceThreads { pool: Some(Arc::new(pool)), count })
    }

    pub fn count(&self) -> usize {
        self.count
    }

    /// Evaluates the positions in `observations`, split into one contiguous share per thread
    /// (`scratch` holds a buffer set per thread and is grown as needed). Results are the same
    /// whatever the number of threads.
    pub fn infer(
        &self,
        network: &InferenceNet,
        scratch: &mut Vec<Scratch>,
        observations: &[f32],
        logits: &mut [f32],
        values: &mut [f32],
    ) -> Result<(), NetworkError> {
        scratch.resize_with(self.count, Scratch::default);
        let rows = values.len();
        match &self.pool {
            Some(pool) if rows > 1 => {
                let share = rows.div_ceil(self.count);
                let observation_size = network.observation_size();
                pool.install(|| {
                    observations
                        .par_chunks(share * observation_size)
                        .zip(logits.par_chunks_mut(share * network.actions()))
                        .zip(values.par_chunks_mut(share))
                        .zip(scratch.par_iter_mut())
                        .try_for_each(|(((observations, logits), values), scratch)| {
                            network.infer(scratch, observations, logits, values)
                        })
                })
            }
            _ => network.infer(&mut scratch[0], observations, logits, values),
        }
    }
}

/// Turns a network's output row into priors over `legal` (softmax restricted to the legal
/// actions) and checks the inputs.
fn legal_priors(logits: &[f32], legal: &[Action], priors: &mut Vec<f32>) -> Result<(), EvaluatorError> {
    priors.clear();
    let mut max = f32::NEG_INFINITY;
    for &action in legal {
        let logit = *logits.get(action as usize).ok_or_else(|| {
            EvaluatorError::Network(format!("legal action {action} is outside the network's {} actions", logits.len()))
        })?;
        max = max.max(logit);
    }
    let mut sum = 0.0;
    for &action in legal {
        let weight = (logits[action as usize] - max).exp();
        sum += weight;
        priors.push(weight);
    }
    if !(sum.is_finite() && sum > 0.0) {
        return Err(EvaluatorError::Network(format!("policy logits are not finite: {logits:?}")));
    }
    for prior in priors.iter_mut() {
        *prior /= sum;
    }
    Ok(())
}

fn check_observation(network: &InferenceNet, observation: &[f32]) -> Result<(), EvaluatorError> {
    if observation.len() != network.observation_size() {
        return Err(EvaluatorError::Network(format!(
            "an observation of {} floats; the network takes {}",
            observation.len(),
            network.observation_size()
        )));
    }
    Ok(())
}

/// Evaluates in the caller's thread: one forward pass per call.
#[derive(Debug)]
pub struct DirectEvaluator {
    network: Arc<InferenceNet>,
    scratch: Scratch,
    observations: Vec<f32>,
    logits: Vec<f32>,
    values: Vec<f32>,
}

impl DirectEvaluator {
    pub fn new(network: Arc<InferenceNet>) -> Self {
        DirectEvaluator {
            network,
            scratch: Scratch::default(),
            observations: Vec::new(),
            logits: Vec::new(),
            values: Vec::new(),
        }
    }
}

impl Evaluator for DirectEvaluator {
    fn evaluate(&mut self, positions: &[Position<'_>], out: &mut Vec<Evaluation>) -> Result<(), EvaluatorError> {
        out.resize_with(positions.len(), Evaluation::default);
        self.observations.clear();
        for position in positions {
            check_observation(&self.network, position.observation)?;
            self.observations.extend_from_slice(position.observation);
        }
        let actions = self.network.actions();
        self.logits.resize(positions.len() * actions, 0.0);
        self.values.resize(positions.len(), 0.0);
        self.network.infer(&mut self.scratch, &self.observations, &mut self.logits, &mut self.values)?;
        for (i, (position, evaluation)) in positions.iter().zip(out.iter_mut()).enumerate() {
            legal_priors(&self.logits[i * actions..(i + 1) * actions], position.legal, &mut evaluation.priors)?;
            evaluation.value = self.values[i];
        }
        Ok(())
    }
}

/// How a [`BatchingEvaluator`] forms batches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchConfig {
    /// The most positions in one forward pass.
    pub max_batch: usize,
    /// How long the first request of a batch waits for others before the batch runs anyway.
    pub max_wait: Duration,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig { max_batch: 64, max_wait: Duration::from_micros(500) }
    }
}

/// One position sent to the inference thread; its buffers travel back in the [`Answer`] so the
/// client reuses them.
#[derive(Debug)]
struct Request {
    observation: Vec<f32>,
    legal: Vec<Action>,
    priors: Vec<f32>,
    /// The position's index in its client's call.
    index: usize,
    reply: Sender<Answer>,
}

#[derive(Debug)]
struct Answer {
    observation: Vec<f32>,
    legal: Vec<Action>,
    priors: Vec<f32>,
    index: usize,
    value: Result<f32, EvaluatorError>,
}

/// Counts of the work done, for reports and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BatchStats {
    /// Forward passes run.
    pub batches: u64,
    /// Positions evaluated.
    pub positions: u64,
}

#[derive(Debug, Default)]
struct Counters {
    batches: AtomicU64,
    positions: AtomicU64,
    /// Set when the inference thread ends, however it ends, so waiting clients do not hang.
    stopped: AtomicBool,
}

/// Marks the inference thread stopped when dropped (also on unwinding).
struct StopFlag<'a>(&'a Counters);

impl Drop for StopFlag<'_> {
    fn drop(&mut self) {
        self.0.stopped.store(true, Ordering::Release);
    }
}

/// One inference thread serving many games: clients ([`BatchingEvaluator::client`], one per game
/// worker) send positions over a channel; the thread gathers up to `max_batch` of them (waiting at
/// most `max_wait` after the first), runs one forward pass and sends each client its answers.
///
/// The thread ends when the evaluator and all its clients are dropped (it is not joined on drop,
/// since clients may outlive the evaluator).
#[derive(Debug)]
pub struct BatchingEvaluator {
    requests: Sender<Request>,
    network: Arc<InferenceNet>,
    counters: Arc<Counters>,
}

impl BatchingEvaluator {
    /// Starts the inference thread; forward passes run on `threads`.
    pub fn start(
        network: Arc<InferenceNet>,
        threads: InferenceThreads,
        config: BatchConfig,
    ) -> Result<Self, EvaluatorError> {
        let (requests, incoming) = crossbeam_channel::unbounded();
        let counters = Arc::new(Counters::default());
        {
            let (network, counters) = (network.clone(), counters.clone());
            // Detached: it ends by itself when the last sender (evaluator or client) is dropped.
            std::thread::Builder::new()
                .name("inference-batcher".to_string())
                .spawn(move || serve(&network, &threads, config, &incoming, &counters))
                .map_err(|e| EvaluatorError::Threads(e.to_string()))?;
        }
        Ok(BatchingEvaluator { requests, network, counters })
    }

    /// A handle for one game worker (an [`Evaluator`]).
    pub fn client(&self) -> BatchingClient {
        let (reply, answers) = crossbeam_channel::unbounded();
        BatchingClient {
            network: self.network.clone(),
            counters: self.counters.clone(),
            requests: self.requests.clone(),
            reply,
            answers,
            spare: Vec::new(),
        }
    }

    pub fn stats(&self) -> BatchStats {
        BatchStats {
            batches: self.counters.batches.load(Ordering::Relaxed),
            positions: self.counters.positions.load(Ordering::Relaxed),
        }
    }
}

/// The inference thread's loop.
fn serve(
    network: &InferenceNet,
    threads: &InferenceThreads,
    config: BatchConfig,
    incoming: &Receiver<Request>,
    counters: &Counters,
) {
    let _stop_flag = StopFlag(counters);
    let max_batch = config.max_batch.max(1);
    let mut batch: Vec<Request> = Vec::with_capacity(max_batch);
    let (mut observations, mut logits, mut values, mut scratch) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let actions = network.actions();
    while let Ok(first) = incoming.recv() {
        batch.push(first);
        let deadline = Instant::now() + config.max_wait;
        while batch.len() < max_batch {
            let next = if config.max_wait.is_zero() {
                incoming.try_recv().map_err(|e| match e {
                    TryRecvError::Empty => RecvTimeoutError::Timeout,
                    TryRecvError::Disconnected => RecvTimeoutError::Disconnected,
                })
            } else {
                incoming.recv_deadline(deadline)
            };
            match next {
                Ok(request) => batch.push(request),
                Err(_) => break,
            }
        }
        observations.clear();
        for request in &batch {
            observations.extend_from_slice(&request.observation);
        }
        logits.resize(batch.len() * actions, 0.0);
        values.resize(batch.len(), 0.0);
        // A panic in a forward pass becomes an error for this batch's games, not a dead thread.
        let result = catch_unwind(AssertUnwindSafe(|| {
            threads.infer(network, &mut scratch, &observations, &mut logits, &mut values)
        }))
        .unwrap_or_else(|_| Err(NetworkError::BadInput("the forward pass panicked".to_string())));
        counters.batches.fetch_add(1, Ordering::Relaxed);
        counters.positions.fetch_add(batch.len() as u64, Ordering::Relaxed);
        for (i, request) in batch.drain(..).enumerate() {
            let Request { observation, legal, mut priors, index, reply } = request;
            let value = match &result {
                Ok(()) => {
                    legal_priors(&logits[i * actions..(i + 1) * actions], &legal, &mut priors).map(|()| values[i])
                }
                Err(error) => Err(EvaluatorError::Network(error.to_string())),
            };
            // A client that has gone away no longer needs its answer.
            let _ = reply.send(Answer { observation, legal, priors, index, value });
        }
    }
}

/// A game worker's handle on a [`BatchingEvaluator`].
#[derive(Debug)]
pub struct BatchingClient {
    network: Arc<InferenceNet>,
    counters: Arc<Counters>,
    requests: Sender<Request>,
    reply: Sender<Answer>,
    answers: Receiver<Answer>,
    /// Buffers returned by earlier answers, for the next requests.
    spare: Vec<(Vec<f32>, Vec<Action>, Vec<f32>)>,
}

impl BatchingClient {
    /// The next answer; an error once the inference thread has ended without answering (the
    /// client holds a reply sender itself, so the channel alone would never say so).
    fn receive(&self) -> Result<Answer, EvaluatorError> {
        loop {
            match self.answers.recv_timeout(Duration::from_millis(100)) {
                Ok(answer) => return Ok(answer),
                Err(RecvTimeoutError::Timeout) if !self.counters.stopped.load(Ordering::Acquire) => continue,
                Err(_) => return self.answers.try_recv().map_err(|_| EvaluatorError::Stopped),
            }
        }
    }
}

impl Evaluator for BatchingClient {
    fn evaluate(&mut self, positions: &[Position<'_>], out: &mut Vec<Evaluation>) -> Result<(), EvaluatorError> {
        out.resize_with(positions.len(), Evaluation::default);
        for position in positions {
            check_observation(&self.network, position.observation)?;
        }
        for (index, position) in positions.iter().enumerate() {
            let (mut observation, mut legal, priors) = self.spare.pop().unwrap_or_default();
            observation.clear();
            observation.extend_from_slice(position.observation);
            legal.clear();
            legal.extend_from_slice(position.legal);
            let request = Request { observation, legal, priors, index, reply: self.reply.clone() };
            self.requests.send(request).map_err(|_| EvaluatorError::Stopped)?;
        }
        let mut failure = None;
        for _ in 0..positions.len() {
            let answer = self.receive()?;
            let evaluation = &mut out[answer.index];
            match answer.value {
                Ok(value) => {
                    evaluation.value = value;
                    evaluation.priors.clear();
                    evaluation.priors.extend_from_slice(&answer.priors);
                }
                Err(error) => failure = Some(error),
            }
            self.spare.push((answer.observation, answer.legal, answer.priors));
        }
        failure.map_or(Ok(()), Err)
    }
}
