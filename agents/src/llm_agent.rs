//! `llm(model=FILE.gguf, ...)`: a language model as a player. It reads its text observation and
//! the legal moves, answers in words, and the answer is read back into a move; a rejected answer
//! is shown the engine's error and asked again (a bounded number of times). Every answer keeps its
//! prompt, completion and token log-probabilities for the trajectory.
//!
//! With `choice=scored` the agent does not write its moves: at a discrete turn (a move, a judge's
//! verdict) it scores every legal move by the log-probability the model gives to that move's text
//! ([`View::action_to_string`], what the engine reads back) followed by `<|im_end|>` as the whole
//! reply to the same prompt, and plays the likeliest (ties: the lowest action id), or with a
//! temperature above 0 draws one from `softmax(score / temperature)` with the engine's seeded
//! RNG. It always plays a legal move, so it never forfeits for an unreadable answer. The
//! decision's policy is the model's probabilities renormalized over the legal moves
//! (`softmax(score)`), and its trace is the chosen move's text with that move's tokens and their
//! log-probabilities. The end token is part of the score so that a move that is a prefix of
//! another (`a1` of `a10`) does not win for being short. All moves of a decision are scored in
//! the shared generator (the prompt runs once, then every move continues it, see
//! `llm/score.rs`). `top_p` does not apply to scored choices; text turns (a debater's argument)
//! are generated as in `choice=text`, the default.
//!
//! With a deadline ([`View::deadline`]) the answer is abandoned when it passes (the generator
//! stops producing or scoring it too), and the agent answers [`AgentError::Timeout`].

use std::path::{Path, PathBuf};

use games::{Action, InputKind, ParamDef, ParamKind, Params};
use rand::{Rng, RngCore, SeedableRng};

use crate::agent::{Agent, AgentError, AgentRng, Deadline, Decision, Reply, View};
use crate::chat::{ChatMessage, TextTrace};
use crate::context::{AgentContext, CONTEXT_FILE, ContextError, TurnKind};
use crate::factory::AgentFactory;
use crate::llm::{Generator, LlmError, SamplingParams};
use crate::registry::Error;

// The parameters `llm(...)` and `openai(...)` share: the same prompts, sampling and re-prompts.
pub(crate) const TEMPERATURE_PARAM: ParamDef = ParamDef {
    name: "temperature",
    kind: ParamKind::Float { min: 0.0, max: 5.0 },
    default: "0.7",
    doc: "sampling temperature; 0 picks the likeliest token",
};

pub(crate) const TOP_P_PARAM: ParamDef = ParamDef {
    name: "top_p",
    kind: ParamKind::Float { min: 0.001, max: 1.0 },
    default: "0.95",
    doc: "nucleus sampling: the likeliest tokens summing to this probability",
};

pub(crate) const MAX_TOKENS_PARAM: ParamDef = ParamDef {
    name: "max_tokens",
    kind: ParamKind::Int { min: 1, max: 32768 },
    default: "128",
    doc: "longest answer at a text turn (an argument), in tokens",
};

pub(crate) const MOVE_TOKENS_PARAM: ParamDef = ParamDef {
    name: "move_tokens",
    kind: ParamKind::Int { min: 1, max: 32768 },
    default: "16",
    doc: "longest answer at a move or verdict, in tokens",
};

pub(crate) const SYSTEM_PARAM: ParamDef = ParamDef {
    name: "system",
    kind: ParamKind::Text,
    default: "",
    doc: "system prompt (a default that fits the turn if empty)",
};

pub(crate) const CONTEXT_PARAM: ParamDef = ParamDef {
    name: "context",
    kind: ParamKind::Text,
    default: "",
    doc: "a context file (system prompt, few-shot examples, lessons; see `agents::context`)",
};

pub(crate) const RETRIES_PARAM: ParamDef = ParamDef {
    name: "retries",
    kind: ParamKind::Int { min: 0, max: 10 },
    default: "2",
    doc: "rejected answers it is asked to correct before the game is lost",
};

pub(crate) const SEED_PARAM: ParamDef = ParamDef {
    name: "seed",
    kind: ParamKind::Int { min: 0, max: i64::MAX },
    default: "0",
    doc: "mixed into the engine's seed",
};

/// The parameters of `llm(...)`.
pub const LLM_PARAMS: &[ParamDef] = &[
    ParamDef {
        name: "model",
        kind: ParamKind::Text,
        default: "",
        doc: "path of a GGUF file (llama architecture) or a checkpoint directory (its `context.json` too)",
    },
    TEMPERATURE_PARAM,
    TOP_P_PARAM,
    MAX_TOKENS_PARAM,
    MOVE_TOKENS_PARAM,
    SYSTEM_PARAM,
    CONTEXT_PARAM,
    RETRIES_PARAM,
    ParamDef {
        name: "batch",
        kind: ParamKind::Int { min: 1, max: 256 },
        default: "8",
        doc: "most answers generated together (across concurrent games) by the shared generator",
    },
    SEED_PARAM,
    ParamDef {
        name: "choice",
        kind: ParamKind::Text,
        default: "text",
        doc: "`text`: moves and verdicts are written and read back; `scored`: the legal move whose text the model \
              finds likeliest is played (sampled from softmax(score / temperature) above 0)",
    },
];

/// How an `llm` agent chooses at a discrete turn (a move, a verdict).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Choice {
    /// It writes an answer, which is read back into a move (and may be rejected).
    #[default]
    Text,
    /// It scores every legal move's text by its log-probability and plays the best (or samples).
    Scored,
}

impl Choice {
    /// The value of `choice=` for this choice.
    pub fn as_str(self) -> &'static str {
        match self {
            Choice::Text => "text",
            Choice::Scored => "scored",
        }
    }

    /// The choice written `text`, or the error naming what is accepted.
    pub fn parse(text: &str) -> Result<Choice, Error> {
        match text.trim() {
            "text" => Ok(Choice::Text),
            "scored" => Ok(Choice::Scored),
            other => Err(games::Error::BadParameter {
                owner: "agent `llm`".to_string(),
                param: "choice".to_string(),
                value: other.to_string(),
                reason: "expected `text` (write the move) or `scored` (play the legal move the model scores highest)"
                    .to_string(),
            }
            .into()),
        }
    }
}

/// How an `llm` agent answers.
#[derive(Clone, Debug, PartialEq)]
pub struct LlmAgentConfig {
    pub model: PathBuf,
    pub temperature: f32,
    pub top_p: f32,
    pub max_tokens: usize,
    /// The longest answer at a discrete turn (a move, a verdict).
    pub move_tokens: usize,
    /// The system prompt; `None` for the default of the turn's kind.
    pub system: Option<String>,
    /// The context file named by `context=` (see [`Self::context_file`] for the one read).
    pub context: Option<PathBuf>,
    pub retries: usize,
    /// The shared generator's largest batch.
    pub batch: usize,
    pub seed: u64,
    /// Written or scored moves and verdicts.
    pub choice: Choice,
}

impl LlmAgentConfig {
    /// The settings from the `llm` agent's checked parameters (a model must be named; `choice`
    /// must be `text` or `scored`). Opens no file.
    pub(crate) fn from_params(params: &Params) -> Result<Self, Error> {
        let model = params.text("model");
        if model.trim().is_empty() {
            return Err(games::Error::BadParameter {
                owner: "agent `llm`".to_string(),
                param: "model".to_string(),
                value: String::new(),
                reason: "give the GGUF file, e.g. llm(model=~/.cache/arena/models/SmolLM2-135M-Instruct.Q8_0.gguf)"
                    .to_string(),
            }
            .into());
        }
        let system = params.text("system");
        let context = params.text("context").trim();
        Ok(LlmAgentConfig {
            model: expand_home(model),
            temperature: params.float("temperature") as f32,
            top_p: params.float("top_p") as f32,
            max_tokens: params.int("max_tokens") as usize,
            move_tokens: params.int("move_tokens") as usize,
            system: (!system.trim().is_empty()).then(|| system.to_string()),
            context: (!context.is_empty()).then(|| expand_home(context)),
            retries: params.int("retries") as usize,
            batch: params.int("batch") as usize,
            seed: params.int("seed") as u64,
            choice: Choice::parse(params.text("choice"))?,
        })
    }
}

impl LlmAgentConfig {
    /// The context file the agent reads: `context=`, else the `context.json` of a checkpoint
    /// directory given as the model; `None` without one.
    pub fn context_file(&self) -> Option<PathBuf> {
        self.context.clone().or_else(|| implicit_context(&self.model))
    }
}

/// The `context.json` of a checkpoint directory `model`, if it holds one.
pub(crate) fn implicit_context(model: &Path) -> Option<PathBuf> {
    let file = model.join(CONTEXT_FILE);
    (model.is_dir() && file.is_file()).then_some(file)
}

/// The context an agent plays with: the file's, checked, or an empty one. A system prompt given
/// both by `system=` and by the file is refused (which one would win is not obvious).
pub(crate) fn load_context(file: Option<&Path>, system: Option<&str>) -> Result<AgentContext, ContextError> {
    let Some(file) = file else { return Ok(AgentContext::new()) };
    let context = AgentContext::load(file)?;
    if context.system.is_some() && system.is_some() {
        return Err(ContextError {
            path: file.to_path_buf(),
            message: "has a system prompt and the agent's `system=` gives another: keep one".to_string(),
        });
    }
    Ok(context)
}

/// Builds an `llm` agent from its checked parameters, its model and generator shared through
/// `factory`.
pub fn create_llm_agent(params: &Params, factory: &AgentFactory) -> Result<Box<dyn Agent>, Error> {
    let config = LlmAgentConfig::from_params(params)?;
    Ok(Box::new(LlmAgent::new(config, factory).map_err(|e| Error::Model(e.to_string()))?))
}

/// `~/x` to `$HOME/x`, as a shell would.
pub(crate) fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => Path::new(&home).join(rest),
        _ => PathBuf::from(path),
    }
}

/// A language model playing through a shared batching [`Generator`].
#[derive(Debug)]
pub struct LlmAgent {
    config: LlmAgentConfig,
    generator: Generator,
    chat: DecisionChat,
}

impl LlmAgent {
    /// Loads the model and starts its generator, or shares those `factory` already has (one
    /// generator per model and batch size, so agents of concurrent games batch together), and
    /// reads its context file.
    pub fn new(config: LlmAgentConfig, factory: &AgentFactory) -> Result<Self, LlmError> {
        let context = load_context(config.context_file().as_deref(), config.system.as_deref())
            .map_err(|e| LlmError::Context(e.to_string()))?;
        let generator = factory.generator(&config.model, config.batch)?;
        Ok(LlmAgent::with_generator(config, generator).with_context(context))
    }

    /// An agent answering through `generator` (whose model is used; `config.model` and
    /// `config.batch` only name it in messages).
    pub fn with_generator(config: LlmAgentConfig, generator: Generator) -> Self {
        let chat = DecisionChat::new(config.system.clone(), AgentContext::new());
        LlmAgent { config, generator, chat }
    }

    /// The agent prompting with `context` (checked by [`AgentContext::load`] or built in code).
    pub fn with_context(mut self, context: AgentContext) -> Self {
        self.chat = DecisionChat::new(self.config.system.clone(), context);
        self
    }

    /// The generator this agent's answers come from.
    pub fn generator(&self) -> &Generator {
        &self.generator
    }

    /// The agent's error for a failure of the model: a timeout if the deadline passed.
    fn model_error(&self, error: LlmError, deadline: Option<Deadline>) -> AgentError {
        match (error, deadline) {
            (LlmError::DeadlinePassed, Some(deadline)) => deadline.error(),
            (e, _) => AgentError::Crashed(format!("language model {}: {e}", self.config.model.display())),
        }
    }

    /// A `choice=scored` decision at a discrete turn with legal moves: scores every legal move's
    /// text as the reply to the chat, then plays the best or draws one (seeded by `seed`).
    fn act_scored(&mut self, view: &View<'_>, seed: u64, deadline: Option<Deadline>) -> Result<Decision, AgentError> {
        let legal = view.legal_actions();
        let texts: Vec<String> = legal.iter().map(|&a| view.action_to_string(a)).collect();
        let scores = self
            .generator
            .score_replies_until(&self.chat.messages, &texts, deadline.map(|d| d.at()))
            .map_err(|e| self.model_error(e, deadline))?;
        let totals: Vec<f32> = scores.iter().map(|s| s.logprob).collect();
        let source = format!("language model {}", self.config.model.display());
        let mut scores = scores;
        scored_decision(&mut self.chat, legal, &texts, &totals, (self.config.temperature, seed), &source, |pick| {
            let chosen = scores.swap_remove(pick);
            (chosen.tokens, chosen.logprobs, None)
        })
    }
}

impl Agent for LlmAgent {
    fn act(&mut self, view: &View<'_>, rng: &mut AgentRng) -> Result<Decision, AgentError> {
        let deadline = Deadline::of(view);
        self.chat.begin(view);
        let seed = decision_seed(rng, self.config.seed);
        if self.config.choice == Choice::Scored
            && view.input_kind() == InputKind::Discrete
            && !view.legal_actions().is_empty()
        {
            return self.act_scored(view, seed, deadline);
        }
        let params = SamplingParams {
            temperature: self.config.temperature,
            top_p: self.config.top_p,
            max_tokens: match view.input_kind() {
                InputKind::Text => self.config.max_tokens,
                InputKind::Discrete => self.config.move_tokens,
            },
            seed,
            ignore_stop: false,
        };
        let completion = self
            .generator
            .generate_until(&self.chat.messages, &params, deadline.map(|d| d.at()))
            .map_err(|e| self.model_error(e, deadline))?;
        let reply = match view.input_kind() {
            InputKind::Text => Reply::Text(completion.text.trim().to_string()),
            InputKind::Discrete => read_move(view, &completion.text),
        };
        self.chat.answered(&completion.text);
        let mut decision = Decision { reply, policy: None, value: None, trace: None };
        decision.trace = Some(Box::new(completion.trace(&self.chat.messages)));
        Ok(decision)
    }

    fn retries(&self) -> usize {
        self.config.retries
    }
}

/// The chat of one decision, shared by the language-model agents (`llm`, `openai`): the prompt,
/// then each rejected answer and the engine's error quoted back.
#[derive(Debug, Default)]
pub(crate) struct DecisionChat {
    pub(crate) messages: Vec<ChatMessage>,
    /// The last answer given, quoted back if the engine rejects it.
    last_answer: Option<String>,
    /// The agent's `system=`, if given.
    system: Option<String>,
    context: AgentContext,
}

impl DecisionChat {
    /// The chat of an agent prompting with `system` (else the turn's default) and `context`.
    pub(crate) fn new(system: Option<String>, context: AgentContext) -> Self {
        DecisionChat { messages: Vec::new(), last_answer: None, system, context }
    }

    /// Starts the chat of a fresh decision, or, when the engine rejected the last answer,
    /// continues it with that answer and the engine's message.
    pub(crate) fn begin(&mut self, view: &View<'_>) {
        match (view.feedback(), self.last_answer.take()) {
            (Some(feedback), Some(answer)) if !self.messages.is_empty() => {
                self.messages.push(ChatMessage::assistant(answer));
                self.messages.push(ChatMessage::user(retry_message(view, feedback)));
            }
            _ => self.messages = decision_prompt(view, self.system.as_deref(), &self.context),
        }
    }

    /// Records the answer given, to quote it back if it is rejected.
    pub(crate) fn answered(&mut self, answer: &str) {
        self.last_answer = Some(answer.to_string());
    }
}

/// The prompt of a fresh decision: the system prompt (the context's, else `system`, else a
/// default that fits the turn) with the context's lessons, its examples for the turn's kind, then
/// the observation and, at a move, the legal moves.
pub(crate) fn decision_prompt(view: &View<'_>, system: Option<&str>, context: &AgentContext) -> Vec<ChatMessage> {
    let turn = if view.input_kind() == InputKind::Text { TurnKind::Text } else { TurnKind::Move };
    let system = system.map_or_else(|| default_system(view.game().facts().name, turn), str::to_string);
    let observation = view.observation_string();
    let user = match turn {
        TurnKind::Text => observation,
        TurnKind::Move => {
            format!("{observation}\n\nChoose one of these moves: {}.\n{MOVE_CUE}", legal_moves_text(view))
        }
    };
    context.messages(turn, &system, user)
}

/// How a prompt at a move ends (and how [`prompt_turn`] knows one).
const MOVE_CUE: &str = "Your move:";

/// The system prompt a language-model agent plays `game` with when it is given none, at a turn
/// of kind `turn`.
pub fn default_system(game: &str, turn: TurnKind) -> String {
    match turn {
        TurnKind::Text => "You are a concise, careful participant in a text game. Follow the instructions and answer in a few sentences."
            .to_string(),
        TurnKind::Move => format!("You are a {} player. You answer with a single move and nothing else.", game.replace('_', " ")),
    }
}

/// The kind of turn a decision's last user message (as [`decision_prompt`] writes it) asked for.
pub fn prompt_turn(user: &str) -> TurnKind {
    if user.trim_end().ends_with(MOVE_CUE) { TurnKind::Move } else { TurnKind::Text }
}

/// The message that quotes a rejected answer's error.
fn retry_message(view: &View<'_>, feedback: &str) -> String {
    if view.input_kind() == InputKind::Text {
        format!("Your answer was rejected: {feedback}\nPlease answer again.")
    } else {
        format!(
            "Your answer was rejected: {feedback}\nChoose one of these moves: {}.\n{MOVE_CUE}",
            legal_moves_text(view)
        )
    }
}

/// The decision of a scored choice among `legal` (their `texts`, scored `totals`): the move
/// [`choose_scored`] picks with `(temperature, seed)`, the policy `softmax(totals)`, and the trace
/// of the chosen text, whose tokens, log-probabilities and request `chosen` gives. Scores that
/// are not finite numbers are an error of `source` (the model or server).
pub(crate) fn scored_decision(
    chat: &mut DecisionChat,
    legal: &[Action],
    texts: &[String],
    totals: &[f32],
    (temperature, seed): (f32, u64),
    source: &str,
    chosen: impl FnOnce(usize) -> (Vec<u32>, Vec<f32>, Option<crate::chat::ServedRequest>),
) -> Result<Decision, AgentError> {
    if totals.len() != legal.len() || totals.iter().any(|s| !s.is_finite()) {
        return Err(AgentError::Crashed(format!("{source}: the scores of the legal moves are not finite numbers")));
    }
    let pick = choose_scored(legal, totals, temperature, seed);
    chat.answered(&texts[pick]);
    let (tokens, logprobs, request) = chosen(pick);
    let trace =
        TextTrace { messages: chat.messages.clone(), completion: texts[pick].clone(), tokens, logprobs, request };
    Ok(Decision {
        reply: Reply::Action(legal[pick]),
        policy: Some(legal.iter().copied().zip(softmax(totals, 1.0)).collect()),
        value: None,
        trace: Some(Box::new(trace)),
    })
}

/// The seed of one decision: the engine's draw mixed with the agent's own `seed`.
pub(crate) fn decision_seed(rng: &mut AgentRng, seed: u64) -> u64 {
    rng.next_u64() ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// The index of the move to play among `legal` scored `scores` (finite, one per move): at
/// temperature 0 the best score (ties: the lowest action id); above, a draw from
/// `softmax(score / temperature)` by a generator seeded with `seed`.
pub(crate) fn choose_scored(legal: &[Action], scores: &[f32], temperature: f32, seed: u64) -> usize {
    let best = (0..scores.len())
        .reduce(|b, i| match scores[i].total_cmp(&scores[b]) {
            std::cmp::Ordering::Greater => i,
            std::cmp::Ordering::Equal if legal[i] < legal[b] => i,
            _ => b,
        })
        .unwrap_or(0);
    if temperature <= 0.0 {
        return best;
    }
    let weights = softmax(scores, temperature);
    let target = crate::agent::AgentRng::seed_from_u64(seed).random::<f64>();
    let mut cumulative = 0.0;
    for (i, &w) in weights.iter().enumerate() {
        cumulative += w as f64;
        if cumulative > target {
            return i;
        }
    }
    // Rounding left the sum a hair below the draw: the last move with any weight.
    weights.iter().rposition(|&w| w > 0.0).unwrap_or(best)
}

/// `softmax(scores / temperature)` (temperature > 0), computed in f64.
pub(crate) fn softmax(scores: &[f32], temperature: f32) -> Vec<f32> {
    let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let weights: Vec<f64> = scores.iter().map(|&s| ((s - max) as f64 / temperature as f64).exp()).collect();
    let total: f64 = weights.iter().sum();
    weights.iter().map(|w| (w / total) as f32).collect()
}

/// The legal moves as the game writes them, comma-separated.
pub(crate) fn legal_moves_text(view: &View<'_>) -> String {
    view.legal_actions().iter().map(|&a| view.action_to_string(a)).collect::<Vec<_>>().join(", ")
}

/// Reads a move out of a model's answer: the whole answer if it names a legal move, else the
/// first word that does (models wrap moves in sentences: "I play b2."), else the first word that
/// names a move at all (the engine then says why it is illegal), else the answer as it is (the
/// engine quotes the game's parse error back).
pub(crate) fn read_move(view: &View<'_>, answer: &str) -> Reply {
    let answer = answer.trim();
    let legal = |a: &Action| view.legal_actions().contains(a);
    if let Some(action) = view.parse_action(answer).ok().filter(legal) {
        return Reply::Action(action);
    }
    let words: Vec<&str> = answer
        .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|w| !w.is_empty())
        .collect();
    let parsed: Vec<Action> = words.iter().filter_map(|w| view.parse_action(w).ok()).collect();
    match parsed.iter().find(|a| legal(a)).or(parsed.first()) {
        Some(&action) => Reply::Action(action),
        None => Reply::Text(answer.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use games::load_game;

    fn ok<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
        result.unwrap_or_else(|e| panic!("{e}"))
    }

    /// A tiny model (context 1024, so games' prompts fit) in a temporary directory and a factory.
    fn tiny_model() -> (tempfile::TempDir, PathBuf, AgentFactory) {
        use crate::llm::tiny::{TinyConfig, write_tiny_llama};
        let dir = ok(tempfile::tempdir());
        let path = dir.path().join("tiny.gguf");
        ok(write_tiny_llama(&path, &TinyConfig { context: 1024, ..TinyConfig::default() }, 21));
        (dir, path, AgentFactory::new())
    }

    fn scored_agent(factory: &AgentFactory, path: &Path, extra: &str) -> Box<dyn Agent> {
        ok(factory.build(&format!("llm(model=\"{}\",choice=scored{extra})", path.display())))
    }

    /// `ln p(token)` from one row of logits, in f64.
    fn log_softmax_at(logits: &[f32], token: u32) -> f64 {
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
        let log_sum = logits.iter().map(|&v| (v as f64 - max).exp()).sum::<f64>().ln();
        logits[token as usize] as f64 - max - log_sum
    }

    /// Each reply's per-token log-probabilities, recomputed without the scoring code: the prompt
    /// in one plain forward pass, then the reply one token at a time on a copy of its cache.
    fn plain_logprobs(model: &crate::llm::LlmModel, messages: &[ChatMessage], reply: &str) -> Vec<f64> {
        use crate::llm::SeqStep;
        let tokenizer = model.tokenizer();
        let prompt = ok(tokenizer.chat_prompt(messages));
        let mut tokens = ok(tokenizer.encode_plain(reply));
        tokens.push(ok(tokenizer.token_to_id("<|im_end|>").ok_or("no <|im_end|>")));
        let mut cache = model.new_cache();
        let mut logits = ok(model.forward(&mut [SeqStep { cache: &mut cache, tokens: &prompt }]));
        let mut logprobs = Vec::new();
        for (i, &token) in tokens.iter().enumerate() {
            logprobs.push(log_softmax_at(&logits, token));
            if i + 1 < tokens.len() {
                logits = ok(model.forward(&mut [SeqStep { cache: &mut cache, tokens: &[token] }]));
            }
        }
        logprobs
    }

    #[test]
    fn scored_moves_are_legal_and_the_likeliest_by_an_independent_count() {
        use rand::SeedableRng;
        let (_dir, path, factory) = tiny_model();
        let model = ok(factory.llm_model(&path));
        let mut agent = scored_agent(&factory, &path, ",temperature=0");
        let game = ok(load_game("tic_tac_toe"));
        let mut decisions = 0;
        for seed in 0..40u64 {
            // A random position: up to 7 random plies.
            let mut rng = AgentRng::seed_from_u64(seed);
            let mut state = game.new_initial_state();
            let mut legal = Vec::new();
            for _ in 0..seed % 8 {
                state.legal_actions(&mut legal);
                if state.is_terminal() || legal.is_empty() {
                    break;
                }
                let action = legal[rng.random_range(0..legal.len())];
                ok(state.apply(action));
            }
            let Some(player) = state.current_player() else { continue };
            state.legal_actions(&mut legal);
            let view = View::new(game.as_ref(), state.as_ref(), player, &legal);
            let decision = ok(agent.act(&view, &mut AgentRng::seed_from_u64(seed)));
            decisions += 1;

            let Reply::Action(action) = decision.reply else { panic!("a scored move is an action: {decision:?}") };
            assert!(legal.contains(&action), "{action} is not legal in\n{}", state.render());
            let policy = decision.policy.clone().unwrap_or_else(|| panic!("no policy"));
            assert_eq!(policy.iter().map(|&(a, _)| a).collect::<Vec<_>>(), legal);
            let total: f32 = policy.iter().map(|&(_, p)| p).sum();
            assert!((total - 1.0).abs() < 1e-5 && policy.iter().all(|&(_, p)| p >= 0.0), "{policy:?}");

            let trace = decision.trace.as_deref().unwrap_or_else(|| panic!("no trace"));
            let text = view.action_to_string(action);
            assert_eq!(trace.completion, text);
            assert_eq!(trace.tokens, ok(model.tokenizer().reply_tokens(&text)));
            assert_eq!(trace.tokens.last(), Some(&2), "the reply ends with <|im_end|>");

            // The same scores, counted independently.
            let scores: Vec<Vec<f64>> =
                legal.iter().map(|&a| plain_logprobs(&model, &trace.messages, &view.action_to_string(a))).collect();
            let totals: Vec<f64> = scores.iter().map(|s| s.iter().sum()).collect();
            let best = totals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let chosen = legal.iter().position(|&a| a == action).unwrap_or_else(|| panic!("not legal"));
            assert!(totals[chosen] >= best - 1e-4, "chose {text} ({}), the best scores {best}", totals[chosen]);
            let runner_up = totals.iter().enumerate().filter(|&(i, _)| i != chosen).map(|(_, &t)| t);
            if runner_up.fold(f64::NEG_INFINITY, f64::max) < best - 1e-3 {
                let argmax = totals.iter().position(|&t| t == best).unwrap_or(usize::MAX);
                assert_eq!(chosen, argmax);
            }
            for (logprob, expected) in trace.logprobs.iter().zip(&scores[chosen]) {
                assert!((*logprob as f64 - expected).abs() < 1e-4, "{:?} against {:?}", trace.logprobs, scores[chosen]);
            }
            let norm = totals.iter().map(|t| (t - best).exp()).sum::<f64>();
            for (&(_, p), t) in policy.iter().zip(&totals) {
                assert!((p as f64 - (t - best).exp() / norm).abs() < 1e-4, "{policy:?} against {totals:?}");
            }
        }
        assert!(decisions >= 30, "only {decisions} positions were tried");
    }

    #[test]
    fn scored_choices_break_ties_by_the_lowest_action_and_sample_by_the_softmax() {
        // Ties at temperature 0: the lowest action id, whatever the order given.
        assert_eq!(choose_scored(&[3, 5, 7], &[-1.0, -0.5, -0.5], 0.0, 0), 1);
        assert_eq!(choose_scored(&[7, 5, 3], &[-0.5, -0.5, -1.0], 0.0, 0), 1);
        assert_eq!(choose_scored(&[0], &[-30.0], 2.0, 9), 0);
        // With a temperature, draws follow softmax(score / temperature): here 1/4 and 3/4.
        let scores = [0.0, 3f32.ln() * 2.0];
        let draws = 4000;
        let second = (0..draws).filter(|&seed| choose_scored(&[0, 1], &scores, 2.0, seed) == 1).count();
        let share = second as f64 / draws as f64;
        assert!((share - 0.75).abs() < 0.03, "{share}");
        let probabilities = softmax(&scores, 2.0);
        assert!((probabilities[0] - 0.25).abs() < 1e-6 && (probabilities[1] - 0.75).abs() < 1e-6);
    }

    #[test]
    fn scored_sampling_is_seeded() {
        use rand::SeedableRng;
        let (_dir, path, factory) = tiny_model();
        let mut agent = scored_agent(&factory, &path, ",temperature=3");
        let mut again = scored_agent(&factory, &path, ",temperature=3");
        let mut other_seed = scored_agent(&factory, &path, ",temperature=3,seed=5");
        let game = ok(load_game("tic_tac_toe"));
        let state = game.new_initial_state();
        let mut legal = Vec::new();
        state.legal_actions(&mut legal);
        let view = View::new(game.as_ref(), state.as_ref(), 0, &legal);
        let mut seen = std::collections::BTreeSet::new();
        let mut differ = 0;
        for seed in 0..24 {
            let decision = ok(agent.act(&view, &mut AgentRng::seed_from_u64(seed)));
            assert_eq!(decision, ok(again.act(&view, &mut AgentRng::seed_from_u64(seed))));
            let other = ok(other_seed.act(&view, &mut AgentRng::seed_from_u64(seed)));
            differ += usize::from(other.reply != decision.reply);
            // The policy is the model's, whatever the draw.
            assert_eq!(other.policy, decision.policy);
            let Reply::Action(action) = decision.reply else { panic!("{decision:?}") };
            seen.insert(action);
        }
        assert!(seen.len() > 1, "24 draws at temperature 3 all chose {seen:?}");
        assert!(differ > 0, "the agent's seed does not change its draws");
    }

    #[test]
    fn a_scored_judge_answers_pro_or_con_and_debaters_still_write() {
        use rand::SeedableRng;
        let (_dir, path, factory) = tiny_model();
        let mut agent = scored_agent(&factory, &path, ",temperature=0,max_tokens=16");
        let game = ok(load_game("debate(rounds=1,items=10)"));
        let mut state = game.new_initial_state();
        ok(state.apply(3));
        let mut legal = Vec::new();
        state.legal_actions(&mut legal);
        // A debater's turn takes text: it is generated, as with choice=text.
        let view = View::new(game.as_ref(), state.as_ref(), 0, &legal);
        let argument = ok(agent.act(&view, &mut AgentRng::seed_from_u64(1)));
        assert!(matches!(argument.reply, Reply::Text(_)), "{argument:?}");
        assert!(argument.policy.is_none() && argument.trace.is_some());
        ok(state.apply_text("It is true."));
        ok(state.apply_text("It is false."));
        state.legal_actions(&mut legal);
        assert_eq!(legal, [games::debate::PRO, games::debate::CON]);
        let view = View::new(game.as_ref(), state.as_ref(), games::debate::JUDGE_SEAT, &legal);
        let verdict = ok(agent.act(&view, &mut AgentRng::seed_from_u64(1)));
        let Reply::Action(action) = verdict.reply else { panic!("{verdict:?}") };
        assert!(legal.contains(&action));
        let completion = verdict.trace.as_ref().map(|t| t.completion.clone()).unwrap_or_default();
        assert_eq!(completion, if action == games::debate::PRO { "pro" } else { "con" });
        let policy = verdict.policy.unwrap_or_default();
        assert_eq!(policy.len(), 2);
        assert!((policy.iter().map(|&(_, p)| p).sum::<f32>() - 1.0).abs() < 1e-6);
        // The engine takes the verdict.
        ok(state.apply(action));
        assert!(state.is_terminal());
    }

    #[test]
    fn a_scored_decision_past_its_deadline_is_a_timeout() {
        use rand::SeedableRng;
        use std::time::{Duration, Instant};
        let (_dir, path, factory) = tiny_model();
        let mut agent = scored_agent(&factory, &path, ",temperature=0");
        let game = ok(load_game("tic_tac_toe"));
        let state = game.new_initial_state();
        let mut legal = Vec::new();
        state.legal_actions(&mut legal);
        let view = View::new(game.as_ref(), state.as_ref(), 0, &legal);
        let act = |agent: &mut Box<dyn Agent>, view: &View<'_>| agent.act(view, &mut AgentRng::seed_from_u64(2));
        let answer = act(&mut agent, &view.with_deadline(Some(Instant::now())));
        assert!(matches!(answer, Err(AgentError::Timeout(_))), "{answer:?}");
        let without = ok(act(&mut agent, &view));
        let later = view.with_deadline(Some(Instant::now() + Duration::from_secs(3600)));
        assert_eq!(ok(act(&mut agent, &later)), without);
        // The generator itself refuses scoring nobody waits for.
        let generator = ok(factory.generator(&path, 8));
        let answer =
            generator.score_replies_until(&[ChatMessage::user("hi")], &["a1".to_string()], Some(Instant::now()));
        assert!(matches!(answer, Err(LlmError::DeadlinePassed)), "{answer:?}");
    }

    #[test]
    fn a_context_shapes_the_prompt_from_a_file_or_a_checkpoint_directory() {
        use crate::config::{AgentConfig, ModelFile};
        use crate::context::CONTEXT_FILE;
        use crate::llm::finetuned::{FileRecord, FinetuneRecord};
        use rand::SeedableRng;
        let (dir, path, factory) = tiny_model();
        let context = r#"{"system": "You play tic-tac-toe well.",
            "examples": [{"turn": "move", "user": "An earlier board", "assistant": "b2"},
                         {"turn": "text", "user": "Argue", "assistant": "No."}],
            "lessons": ["Block two in a row."]}"#;
        let file = dir.path().join("ttt.json");
        ok(std::fs::write(&file, context));
        let game = ok(load_game("tic_tac_toe"));
        let state = game.new_initial_state();
        let mut legal = Vec::new();
        state.legal_actions(&mut legal);
        let view = View::new(game.as_ref(), state.as_ref(), 0, &legal);
        let prompt = |agent: &mut Box<dyn Agent>| {
            let decision = ok(agent.act(&view, &mut AgentRng::seed_from_u64(3)));
            decision.trace.unwrap_or_else(|| panic!("no trace")).messages
        };
        let spec = format!("llm(model=\"{}\",choice=scored,context=\"{}\")", path.display(), file.display());
        let messages = prompt(&mut ok(factory.build(&spec)));
        let roles: Vec<&str> = messages.iter().map(|m| m.role.as_str()).collect();
        assert_eq!(roles, ["system", "user", "assistant", "user"], "the move example only: {messages:?}");
        assert_eq!(
            messages[0].content,
            "You play tic-tac-toe well.\n\nLessons from your earlier games:\n- Block two in a row."
        );
        assert_eq!((messages[1].content.as_str(), messages[2].content.as_str()), ("An earlier board", "b2"));
        assert!(messages[3].content.ends_with("Your move:"), "{}", messages[3].content);

        // A system prompt in both places is refused; a bad file is named with its field.
        let both = format!("llm(model=\"{}\",system=\"Play.\",context=\"{}\")", path.display(), file.display());
        let error = factory.build(&both).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("context") && error.contains("keep one"), "{error}");
        let bad = dir.path().join("bad.json");
        ok(std::fs::write(&bad, r#"{"lessons": [""]}"#));
        let error = factory
            .build(&format!("llm(model=\"{}\",context=\"{}\")", path.display(), bad.display()))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("bad.json") && error.contains("lessons[0] is empty"), "{error}");

        // A checkpoint directory holding a context and the record of the weights it keeps: the
        // same prompt, and the same model (one copy, one generator) as the base file.
        let checkpoint = dir.path().join("g1c0");
        ok(std::fs::create_dir(&checkpoint));
        ok(std::fs::copy(&file, checkpoint.join(CONTEXT_FILE)));
        let base = ok(FileRecord::of(&path, path.clone()));
        ok(FinetuneRecord::context_only(base, serde_json::json!({"operator": "lessons"})).write(&checkpoint));
        let in_dir = format!("llm(model=\"{}\",choice=scored)", checkpoint.display());
        assert_eq!(prompt(&mut ok(factory.build(&in_dir))), messages);
        assert!(std::sync::Arc::ptr_eq(&ok(factory.llm_model(&checkpoint)), &ok(factory.llm_model(&path))));
        // Its files: the weights and the context; moving the weights keeps the context named.
        let config = ok(AgentConfig::parse(&in_dir));
        let context_file = checkpoint.join(CONTEXT_FILE);
        assert_eq!(
            config.model_files(),
            vec![ModelFile::Language(checkpoint.clone()), ModelFile::Context(context_file.clone())]
        );
        let moved = config.with_model_file(&checkpoint, Path::new("/cache/w/model.gguf"));
        assert_eq!(
            moved.model_files(),
            vec![ModelFile::Language("/cache/w/model.gguf".into()), ModelFile::Context(context_file.clone())]
        );
        let both_moved = moved.with_model_file(&context_file, Path::new("/cache/c/context.json"));
        assert_eq!(both_moved.model_files()[1], ModelFile::Context("/cache/c/context.json".into()));
    }

    #[test]
    fn choice_text_is_the_default_and_answers_as_before() {
        use rand::SeedableRng;
        let (_dir, path, factory) = tiny_model();
        let spec = |extra: &str| format!("llm(model=\"{}\",temperature=1,move_tokens=8{extra})", path.display());
        let mut default = ok(factory.build(&spec("")));
        let mut text = ok(factory.build(&spec(",choice=text")));
        let game = ok(load_game("tic_tac_toe"));
        let state = game.new_initial_state();
        let mut legal = Vec::new();
        state.legal_actions(&mut legal);
        let view = View::new(game.as_ref(), state.as_ref(), 0, &legal);
        for seed in 0..4 {
            let a = ok(default.act(&view, &mut AgentRng::seed_from_u64(seed)));
            assert_eq!(a, ok(text.act(&view, &mut AgentRng::seed_from_u64(seed))));
            assert!(a.policy.is_none(), "a written move has no policy");
        }
        let error = factory.build(&spec(",choice=vote")).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("choice") && error.contains("scored"), "{error}");
    }

    fn reply_in_opening(game: &str, answer: &str) -> Reply {
        let game = load_game(game).unwrap_or_else(|e| panic!("{e}"));
        let mut state = game.new_initial_state();
        state.apply(4).unwrap_or_else(|e| panic!("{e}"));
        let mut legal = Vec::new();
        state.legal_actions(&mut legal);
        let view = View::new(game.as_ref(), state.as_ref(), 1, &legal);
        read_move(&view, answer)
    }

    #[test]
    fn moves_are_read_out_of_sentences() {
        // Tic-tac-toe cells are written a1..c3; b2 (action 4) is taken.
        assert_eq!(reply_in_opening("tic_tac_toe", "a1"), Reply::Action(0));
        assert_eq!(reply_in_opening("tic_tac_toe", "  I will play c3.\n"), Reply::Action(8));
        // The first legal move named wins over an illegal one named before it.
        assert_eq!(reply_in_opening("tic_tac_toe", "Not b2 but a1!"), Reply::Action(0));
        // Only an illegal move: passed on so the engine can say why.
        assert_eq!(reply_in_opening("tic_tac_toe", "b2"), Reply::Action(4));
        assert_eq!(reply_in_opening("tic_tac_toe", "no idea"), Reply::Text("no idea".to_string()));
    }

    #[test]
    fn an_answer_past_its_deadline_is_a_timeout() {
        use crate::llm::tiny::{TinyConfig, write_tiny_llama};
        use rand::SeedableRng;
        use std::time::{Duration, Instant};

        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("tiny.gguf");
        write_tiny_llama(&path, &TinyConfig::default(), 5).unwrap_or_else(|e| panic!("{e}"));
        let factory = AgentFactory::new();
        let spec = format!("llm(model=\"{}\",temperature=0,move_tokens=64)", path.display());
        let mut agent = factory.build(&spec).unwrap_or_else(|e| panic!("{e}"));
        let game = load_game("tic_tac_toe").unwrap_or_else(|e| panic!("{e}"));
        let state = game.new_initial_state();
        let mut legal = Vec::new();
        state.legal_actions(&mut legal);
        let view = View::new(game.as_ref(), state.as_ref(), 0, &legal);
        let act = |agent: &mut Box<dyn Agent>, view: &View<'_>| agent.act(view, &mut AgentRng::seed_from_u64(2));

        let passed = view.with_deadline(Some(Instant::now()));
        let answer = act(&mut agent, &passed);
        assert!(matches!(answer, Err(AgentError::Timeout(_))), "{answer:?}");
        // The generator stays usable, and an answer in time is the same with a deadline as without.
        let without = act(&mut agent, &view).unwrap_or_else(|e| panic!("{e}"));
        let later = view.with_deadline(Some(Instant::now() + Duration::from_secs(3600)));
        let with = act(&mut agent, &later).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(without, with);

        // The generator itself: a request whose deadline has passed is not answered.
        let generator = factory.generator(&path, 8).unwrap_or_else(|e| panic!("{e}"));
        let chat = [ChatMessage::user("hello")];
        let answer = generator.generate_until(&chat, &SamplingParams::greedy(32), Some(Instant::now()));
        assert!(matches!(answer, Err(LlmError::DeadlinePassed)), "{answer:?}");
    }
}
