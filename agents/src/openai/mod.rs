//! `openai(url=..., model=...)`: a language model behind an OpenAI-compatible HTTP server
//! (llama.cpp's server, vLLM, Ollama, a hosted API, `arena serve-model`) as a player, judge or
//! debater, with the prompts, move reading, re-prompts and traces of `llm(...)`.
//!
//! - `mode=chat` posts the decision's messages to `/chat/completions`; `mode=completion` writes
//!   them as a ChatML prompt (what `llm(...)` reads) and posts it to `/completions`.
//! - `choice=scored` (completion mode) plays the legal move whose text the server's model finds
//!   likeliest as the whole reply, like `llm(..., choice=scored)`: one request per legal move,
//!   asking the log-probabilities of the prompt's tokens back (`echo`, `logprobs=0`; the one token
//!   generated is not counted), the move's tokens and the end of turn summed; with
//!   `batch_prompts=true` all moves go in one request as a list of prompts. `choice=grammar` sends a GBNF grammar
//!   (llama.cpp's `grammar` field) that allows only the legal moves' texts.
//! - Requests in flight are limited per server and limit (`concurrency`), shared by every agent of
//!   the factory; failures that may pass (no connection, timeouts, unreadable replies, 429, 5xx)
//!   are retried with jittered exponential backoff (`http_retries`); `on_down=wait` keeps waiting
//!   while the server is down. A request that still fails makes the agent crash at that move: the
//!   game is forfeited with the reason recorded, and the tournament goes on.
//! - Each answer's trace keeps the request ([`ServedRequest`]): seed, sampling settings, the model
//!   as the server named it. Seeded requests (`reproducible=true`, the default) send
//!   `cache_prompt: false`, so that a cached prefix cannot change an answer.
//! - The API key is read from the environment variable `api_key_env` names, at each request; it
//!   is never stored, logged or printed (errors replace it if a server echoes it).

mod http;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use games::{InputKind, ParamDef, ParamKind, Params};
use serde_json::{Value, json};

pub use self::http::HttpError;
pub(crate) use self::http::Slots;
use self::http::{Endpoint, RetryPolicy};
use crate::agent::{Agent, AgentError, AgentRng, Deadline, Decision, Reply, View};
use crate::chat::{ServedRequest, TextTrace};
use crate::factory::AgentFactory;
use crate::llm::LlmTokenizer;
use crate::llm_agent::{
    CONTEXT_PARAM, DecisionChat, MAX_TOKENS_PARAM, MOVE_TOKENS_PARAM, RETRIES_PARAM, SEED_PARAM, SYSTEM_PARAM,
    TEMPERATURE_PARAM, TOP_P_PARAM, decision_seed, read_move, scored_decision,
};
use crate::registry::Error;

/// The text that closes a ChatML turn: the end of a scored reply, the stop of a completion.
const END_OF_TURN: &str = "<|im_end|>";

/// The parameters of `openai(...)`.
pub const OPENAI_PARAMS: &[ParamDef] = &[
    ParamDef {
        name: "url",
        kind: ParamKind::Text,
        default: "",
        doc: "the server's OpenAI API base, e.g. http://127.0.0.1:8080/v1",
    },
    ParamDef {
        name: "model",
        kind: ParamKind::Text,
        default: "",
        doc: "the model to ask for (empty: the first the server lists at /models)",
    },
    ParamDef {
        name: "api_key_env",
        kind: ParamKind::Text,
        default: "",
        doc: "environment variable holding the API key (sent as a bearer token; never stored)",
    },
    ParamDef {
        name: "mode",
        kind: ParamKind::Text,
        default: "chat",
        doc: "`chat`: /chat/completions with the messages; `completion`: /completions with a ChatML prompt",
    },
    ParamDef {
        name: "choice",
        kind: ParamKind::Text,
        default: "text",
        doc: "`text`: moves are written and read back; `scored` (completion mode): the legal move the model scores \
              highest; `grammar`: the reply is constrained to the legal moves by a GBNF grammar",
    },
    TEMPERATURE_PARAM,
    TOP_P_PARAM,
    MAX_TOKENS_PARAM,
    MOVE_TOKENS_PARAM,
    SYSTEM_PARAM,
    CONTEXT_PARAM,
    RETRIES_PARAM,
    SEED_PARAM,
    ParamDef {
        name: "reproducible",
        kind: ParamKind::Bool,
        default: "true",
        doc: "send each request's seed and turn the server's prompt cache off (cache_prompt=false)",
    },
    ParamDef {
        name: "logprobs",
        kind: ParamKind::Bool,
        default: "false",
        doc: "ask for the written tokens' log-probabilities, kept in the trace",
    },
    ParamDef {
        name: "batch_prompts",
        kind: ParamKind::Bool,
        default: "false",
        doc: "scored choices send every legal move's prompt in one request (servers that take a list of prompts: \
              vLLM, arena serve-model, which scores their shared prefix once; not llama.cpp's)",
    },
    ParamDef {
        name: "timeout_ms",
        kind: ParamKind::Int { min: 1, max: 3_600_000 },
        default: "120000",
        doc: "time allowed for one HTTP request",
    },
    ParamDef {
        name: "http_retries",
        kind: ParamKind::Int { min: 0, max: 100 },
        default: "4",
        doc: "retries of a request that failed in a way that may pass (no connection, timeout, 429, 5xx, bad JSON)",
    },
    ParamDef {
        name: "concurrency",
        kind: ParamKind::Int { min: 1, max: 4096 },
        default: "8",
        doc: "most requests in flight to this server, over all games of the run",
    },
    ParamDef {
        name: "on_down",
        kind: ParamKind::Text,
        default: "forfeit",
        doc: "when the server stays unreachable: `forfeit` the game, or `wait` until it is back",
    },
];

/// How the prompt is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `/chat/completions` with the messages; the server applies the model's chat template.
    Chat,
    /// `/completions` with the messages written as a ChatML prompt.
    Completion,
}

/// How a discrete turn (a move, a verdict) is chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServedChoice {
    Text,
    Scored,
    Grammar,
}

impl ServedChoice {
    fn as_str(self) -> &'static str {
        match self {
            ServedChoice::Text => "text",
            ServedChoice::Scored => "scored",
            ServedChoice::Grammar => "grammar",
        }
    }
}

/// How an `openai` agent answers.
#[derive(Clone, Debug, PartialEq)]
pub struct OpenAiConfig {
    pub url: String,
    /// Empty: the first model the server lists.
    pub model: String,
    pub api_key_env: Option<String>,
    pub mode: Mode,
    pub choice: ServedChoice,
    pub temperature: f32,
    pub top_p: f32,
    pub max_tokens: usize,
    pub move_tokens: usize,
    pub system: Option<String>,
    /// The context file (`context=`): system prompt, few-shot examples, lessons.
    pub context: Option<std::path::PathBuf>,
    pub retries: usize,
    pub seed: u64,
    pub reproducible: bool,
    pub logprobs: bool,
    pub batch_prompts: bool,
    pub timeout: Duration,
    pub http_retries: u32,
    pub concurrency: usize,
    pub wait_when_down: bool,
}

fn bad(param: &str, value: &str, reason: impl Into<String>) -> Error {
    games::Error::BadParameter {
        owner: "agent `openai`".to_string(),
        param: param.to_string(),
        value: value.to_string(),
        reason: reason.into(),
    }
    .into()
}

impl OpenAiConfig {
    /// The settings from the agent's checked parameters. Contacts no server.
    pub(crate) fn from_params(params: &Params) -> Result<Self, Error> {
        let url = params.text("url").trim().to_string();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(bad(
                "url",
                &self::http::public_url(&url),
                "give the server's API base with its scheme, e.g. openai(url=http://127.0.0.1:8080/v1)",
            ));
        }
        let mode = match params.text("mode").trim() {
            "chat" => Mode::Chat,
            "completion" => Mode::Completion,
            other => return Err(bad("mode", other, "expected `chat` or `completion`")),
        };
        let choice = match params.text("choice").trim() {
            "text" => ServedChoice::Text,
            "scored" => ServedChoice::Scored,
            "grammar" => ServedChoice::Grammar,
            other => return Err(bad("choice", other, "expected `text`, `scored` or `grammar`")),
        };
        if choice == ServedChoice::Scored && mode != Mode::Completion {
            return Err(bad(
                "choice",
                "scored",
                "scored choices need the prompt's log-probabilities, which only /completions gives: add mode=completion",
            ));
        }
        let wait_when_down = match params.text("on_down").trim() {
            "forfeit" => false,
            "wait" => true,
            other => return Err(bad("on_down", other, "expected `forfeit` or `wait`")),
        };
        let api_key_env = params.text("api_key_env").trim().to_string();
        if !api_key_env.is_empty() && !api_key_env.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(bad(
                "api_key_env",
                &api_key_env,
                "the name of an environment variable (letters, digits, _), not the key",
            ));
        }
        let system = params.text("system");
        let context = params.text("context").trim();
        Ok(OpenAiConfig {
            url,
            model: params.text("model").trim().to_string(),
            api_key_env: (!api_key_env.is_empty()).then_some(api_key_env),
            mode,
            choice,
            temperature: params.float("temperature") as f32,
            top_p: params.float("top_p") as f32,
            max_tokens: params.int("max_tokens") as usize,
            move_tokens: params.int("move_tokens") as usize,
            system: (!system.trim().is_empty()).then(|| system.to_string()),
            context: (!context.is_empty()).then(|| crate::llm_agent::expand_home(context)),
            retries: params.int("retries") as usize,
            seed: params.int("seed") as u64,
            reproducible: params.bool("reproducible"),
            logprobs: params.bool("logprobs"),
            batch_prompts: params.bool("batch_prompts"),
            timeout: Duration::from_millis(params.int("timeout_ms") as u64),
            http_retries: params.int("http_retries") as u32,
            concurrency: params.int("concurrency") as usize,
            wait_when_down,
        })
    }
}

/// Builds an `openai` agent from its checked parameters; its limit on requests in flight is shared
/// through `factory` with the other agents naming the same server and limit.
pub fn create_openai_agent(params: &Params, factory: &AgentFactory) -> Result<Box<dyn Agent>, Error> {
    let config = OpenAiConfig::from_params(params)?;
    if let Some(name) = &config.api_key_env
        && std::env::var(name).map_or(true, |key| key.is_empty())
    {
        return Err(Error::Model(format!(
            "agent `openai`: environment variable {name} (named by api_key_env) is not set or empty"
        )));
    }
    let context = crate::llm_agent::load_context(config.context.as_deref(), config.system.as_deref())
        .map_err(|e| Error::Model(format!("agent `openai`: {e}")))?;
    let slots = factory.request_slots(&config.url, config.concurrency);
    Ok(Box::new(OpenAiAgent::new(config, slots).with_context(context)))
}

/// A language model behind an OpenAI-compatible server.
#[derive(Debug)]
pub struct OpenAiAgent {
    config: OpenAiConfig,
    endpoint: Endpoint,
    /// The model asked for: the configured one, or the server's first, asked once.
    model: Mutex<Option<String>>,
    chat: DecisionChat,
}

/// What one reply said, beyond its text.
#[derive(Debug, Default)]
struct ReplyFacts {
    served_model: Option<String>,
    finish_reason: Option<String>,
    system_fingerprint: Option<String>,
    prompt_tokens: u64,
    completion_tokens: u64,
}

impl ReplyFacts {
    fn of(body: &Value) -> Self {
        let usage = |key: &str| body.pointer(&format!("/usage/{key}")).and_then(Value::as_u64).unwrap_or(0);
        ReplyFacts {
            served_model: body.get("model").and_then(Value::as_str).map(str::to_string),
            finish_reason: body.pointer("/choices/0/finish_reason").and_then(Value::as_str).map(str::to_string),
            system_fingerprint: body.get("system_fingerprint").and_then(Value::as_str).map(str::to_string),
            prompt_tokens: usage("prompt_tokens"),
            completion_tokens: usage("completion_tokens"),
        }
    }
}

impl OpenAiAgent {
    pub(crate) fn new(config: OpenAiConfig, slots: Arc<Slots>) -> Self {
        let policy = RetryPolicy { retries: config.http_retries, wait_when_down: config.wait_when_down };
        let endpoint = Endpoint::new(&config.url, config.api_key_env.clone(), slots, config.timeout, policy);
        let model = (!config.model.is_empty()).then(|| config.model.clone());
        let chat = DecisionChat::new(config.system.clone(), crate::context::AgentContext::new());
        OpenAiAgent { config, endpoint, model: Mutex::new(model), chat }
    }

    /// The agent prompting with `context`.
    pub(crate) fn with_context(mut self, context: crate::context::AgentContext) -> Self {
        self.chat = DecisionChat::new(self.config.system.clone(), context);
        self
    }

    /// The agent's error for a failed request.
    fn http_error(&self, error: HttpError, deadline: Option<Deadline>) -> AgentError {
        match (error, deadline) {
            (HttpError::DeadlinePassed, Some(deadline)) => deadline.error(),
            (error, _) => AgentError::Crashed(format!("openai {}: {error}", self.endpoint.public_url())),
        }
    }

    /// The model to ask for: configured, or the first the server lists (asked once).
    fn model(&self, deadline: Option<Deadline>) -> Result<String, AgentError> {
        let mut model = self.model.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(name) = model.as_ref() {
            return Ok(name.clone());
        }
        let answer =
            self.endpoint.get("/models", deadline.map(|d| d.at())).map_err(|e| self.http_error(e, deadline))?;
        let first = answer.body.pointer("/data/0/id").and_then(Value::as_str).ok_or_else(|| {
            AgentError::Crashed(format!(
                "openai {}: /models lists no model; name one with model=",
                self.endpoint.public_url()
            ))
        })?;
        *model = Some(first.to_string());
        Ok(first.to_string())
    }

    /// The sampling fields every request carries, and the seed sent (if any).
    fn sampling(&self, body: &mut Value, max_tokens: usize, seed: u64) -> Option<u64> {
        body["temperature"] = json!(self.config.temperature);
        body["top_p"] = json!(self.config.top_p);
        body["max_tokens"] = json!(max_tokens);
        if !self.config.reproducible {
            return None;
        }
        // Servers take seeds of at most 32 or 63 bits; the low 31 bits fit all of them.
        let seed = seed & 0x7fff_ffff;
        body["seed"] = json!(seed);
        body["cache_prompt"] = json!(false);
        Some(seed)
    }

    fn record(&self, endpoint: &str, model: &str, max_tokens: usize, seed: Option<u64>) -> ServedRequest {
        ServedRequest {
            url: self.endpoint.public_url().to_string(),
            endpoint: endpoint.to_string(),
            model: model.to_string(),
            choice: self.config.choice.as_str().to_string(),
            temperature: self.config.temperature,
            top_p: self.config.top_p,
            max_tokens,
            seed,
            cache_prompt: seed.map(|_| false),
            ..ServedRequest::default()
        }
    }

    /// A written answer (a move read back, a verdict, an argument), in either mode; with
    /// `choice=grammar` at a discrete turn, constrained to the legal moves.
    fn act_written(&mut self, view: &View<'_>, seed: u64, deadline: Option<Deadline>) -> Result<Decision, AgentError> {
        let model = self.model(deadline)?;
        let discrete = view.input_kind() == InputKind::Discrete;
        let max_tokens = if discrete { self.config.move_tokens } else { self.config.max_tokens };
        let (path, mut body) = match self.config.mode {
            Mode::Chat => ("/chat/completions", json!({ "model": model, "messages": self.chat.messages })),
            Mode::Completion => (
                "/completions",
                json!({
                    "model": model,
                    "prompt": LlmTokenizer::chat_text(&self.chat.messages),
                    "stop": [END_OF_TURN],
                }),
            ),
        };
        let sent_seed = self.sampling(&mut body, max_tokens, seed);
        if self.config.choice == ServedChoice::Grammar && discrete && !view.legal_actions().is_empty() {
            let moves: Vec<String> = view.legal_actions().iter().map(|&a| view.action_to_string(a)).collect();
            body["grammar"] = json!(choice_grammar(&moves));
        }
        if self.config.logprobs {
            body["logprobs"] = match self.config.mode {
                Mode::Chat => json!(true),
                Mode::Completion => json!(0),
            };
        }
        let answer =
            self.endpoint.post(path, &body, deadline.map(|d| d.at())).map_err(|e| self.http_error(e, deadline))?;
        let malformed = |what: &str| {
            AgentError::Crashed(format!("openai {}{path}: the reply has no {what}", self.endpoint.public_url()))
        };
        let choice = answer.body.pointer("/choices/0").ok_or_else(|| malformed("choices[0]"))?;
        let text = match self.config.mode {
            // A null content (a refusal, a tool call) is an empty answer: the engine rejects it.
            Mode::Chat => match choice.pointer("/message/content") {
                Some(Value::String(text)) => text.clone(),
                Some(Value::Null) => String::new(),
                _ => return Err(malformed("choices[0].message.content")),
            },
            Mode::Completion => {
                choice.get("text").and_then(Value::as_str).ok_or_else(|| malformed("choices[0].text"))?.to_string()
            }
        };
        let logprobs = match self.config.mode {
            Mode::Chat => choice
                .pointer("/logprobs/content")
                .and_then(Value::as_array)
                .map(|tokens| tokens.iter().filter_map(|t| t.get("logprob")?.as_f64()).map(|l| l as f32).collect()),
            Mode::Completion => choice
                .pointer("/logprobs/token_logprobs")
                .and_then(Value::as_array)
                .map(|l| l.iter().filter_map(Value::as_f64).map(|l| l as f32).collect()),
        }
        .unwrap_or_default();
        let facts = ReplyFacts::of(&answer.body);
        let mut request = self.record(&path[1..], &model, max_tokens, sent_seed);
        request.requests = answer.attempts;
        request.served_model = facts.served_model;
        request.finish_reason = facts.finish_reason;
        request.system_fingerprint = facts.system_fingerprint;
        request.prompt_tokens = facts.prompt_tokens;
        request.completion_tokens = facts.completion_tokens;

        let reply = if discrete { read_move(view, &text) } else { Reply::Text(text.trim().to_string()) };
        self.chat.answered(&text);
        let trace = TextTrace {
            messages: self.chat.messages.clone(),
            completion: text,
            tokens: Vec::new(),
            logprobs,
            request: Some(request),
        };
        Ok(Decision { reply, policy: None, value: None, trace: Some(Box::new(trace)) })
    }

    /// A scored choice: every legal move's text, then the end of turn, scored as the reply to the
    /// ChatML prompt by the server's log-probabilities; the best played (or one drawn).
    fn act_scored(&mut self, view: &View<'_>, seed: u64, deadline: Option<Deadline>) -> Result<Decision, AgentError> {
        let model = self.model(deadline)?;
        let prompt = LlmTokenizer::chat_text(&self.chat.messages);
        let legal = view.legal_actions();
        let texts: Vec<String> = legal.iter().map(|&a| view.action_to_string(a)).collect();
        // As sent: one token, greedy, no cache (the draw among the moves is the agent's own).
        let mut request = self.record("completions", &model, 1, None);
        request.temperature = 0.0;
        request.top_p = 1.0;
        request.cache_prompt = Some(false);
        // One request per move, or one for all (a list of prompts, a choice per prompt).
        let groups: Vec<Vec<usize>> = match self.config.batch_prompts {
            true => vec![(0..texts.len()).collect()],
            false => (0..texts.len()).map(|i| vec![i]).collect(),
        };
        let mut scores = Vec::with_capacity(texts.len());
        for group in groups {
            let prompts: Vec<String> = group.iter().map(|&i| format!("{prompt}{}{END_OF_TURN}", texts[i])).collect();
            // Some servers generate a token before they answer; it is not counted.
            let body = json!({
                "model": model,
                "prompt": if self.config.batch_prompts { json!(prompts) } else { json!(prompts[0]) },
                "max_tokens": 1,
                "temperature": 0.0,
                "echo": true,
                "logprobs": 0,
                "cache_prompt": false,
            });
            let answer = self
                .endpoint
                .post("/completions", &body, deadline.map(|d| d.at()))
                .map_err(|e| self.http_error(e, deadline))?;
            let facts = ReplyFacts::of(&answer.body);
            request.requests += answer.attempts;
            request.prompt_tokens += facts.prompt_tokens;
            request.served_model = facts.served_model.or(request.served_model.take());
            let choices = answer.body.get("choices").and_then(Value::as_array).cloned().unwrap_or_default();
            // The generated tokens: usage counts them for a lone prompt; in a list, the text says.
            let usage = answer.body.pointer("/usage/completion_tokens").and_then(Value::as_u64);
            let generated = usage.filter(|_| group.len() == 1).map(|n| n as usize);
            for (position, &i) in group.iter().enumerate() {
                let choice =
                    choices.iter().find(|c| c.get("index").and_then(Value::as_u64).unwrap_or(0) == position as u64);
                let scored = choice
                    .ok_or_else(|| format!("the reply has no choice {position}"))
                    .and_then(|choice| echoed_choice_logprobs(choice, generated, &prompt, &texts[i]));
                scores.push(scored.map_err(|message| {
                    AgentError::Crashed(format!(
                        "openai {}/completions cannot score `{}`: {message}",
                        self.endpoint.public_url(),
                        texts[i]
                    ))
                })?);
            }
        }
        let totals: Vec<f32> = scores.iter().map(|s| s.iter().sum()).collect();
        let source = format!("openai {}", self.endpoint.public_url());
        scored_decision(&mut self.chat, legal, &texts, &totals, (self.config.temperature, seed), &source, |pick| {
            (Vec::new(), scores.swap_remove(pick), Some(request))
        })
    }
}

impl Agent for OpenAiAgent {
    fn act(&mut self, view: &View<'_>, rng: &mut AgentRng) -> Result<Decision, AgentError> {
        let deadline = Deadline::of(view);
        if deadline.is_some_and(|d| d.at() <= Instant::now()) {
            return Err(deadline.map_or(AgentError::Timeout(Duration::ZERO), |d| d.error()));
        }
        self.chat.begin(view);
        let seed = decision_seed(rng, self.config.seed);
        if self.config.choice == ServedChoice::Scored
            && view.input_kind() == InputKind::Discrete
            && !view.legal_actions().is_empty()
        {
            return self.act_scored(view, seed, deadline);
        }
        self.act_written(view, seed, deadline)
    }

    fn retries(&self) -> usize {
        self.config.retries
    }
}

/// A GBNF grammar whose sentences are exactly `moves`.
pub fn choice_grammar(moves: &[String]) -> String {
    let alternatives: Vec<String> = moves.iter().map(|m| serde_json::to_string(m).unwrap_or_default()).collect();
    format!("root ::= {}", alternatives.join(" | "))
}

/// The log-probabilities of the tokens of `reply` (a move's text) and the end of turn that close
/// the echoed completion of `prompt`, from one choice's `logprobs` (`tokens`, `token_logprobs`).
///
/// The reply's tokens are found from the end of the echoed tokens, not by `text_offset`: servers
/// disagree on offsets (llama.cpp's Python server counts them in text whose special tokens are
/// written as nothing). The tokens the server generated after the prompt (`generated` of them
/// where the server counted them, else those spelling the choice's text after the prompt) are
/// dropped; then
/// the last token must be the end of turn (spelled `<|im_end|>`, or empty), and the tokens before
/// it must spell `reply` exactly.
fn echoed_choice_logprobs(
    choice: &Value,
    generated: Option<usize>,
    prompt: &str,
    reply: &str,
) -> Result<Vec<f32>, String> {
    let logprobs = choice.get("logprobs").filter(|v| !v.is_null()).ok_or(
        "the reply has no logprobs (the server must support `echo` with `logprobs` on /completions, as llama.cpp's \
         Python server started with logits_all, vLLM and `arena serve-model` do)",
    )?;
    let tokens = logprobs.get("tokens").and_then(Value::as_array).ok_or("the reply has no logprobs.tokens")?;
    let values = logprobs.get("token_logprobs").and_then(Value::as_array).ok_or("the reply has no token_logprobs")?;
    if tokens.len() != values.len() {
        return Err(format!("{} tokens for {} token log-probabilities", tokens.len(), values.len()));
    }
    let tokens: Vec<&str> = tokens.iter().map(|t| t.as_str()).collect::<Option<_>>().ok_or("a token is not text")?;
    let generated = match generated {
        Some(count) => count,
        None => {
            let text = choice.get("text").and_then(Value::as_str).unwrap_or("");
            let after =
                text.strip_prefix(prompt).and_then(|t| t.strip_prefix(reply)).and_then(|t| t.strip_prefix(END_OF_TURN));
            let after = after.ok_or("the reply's text does not echo the prompt")?;
            let mut spelled = String::new();
            let count = tokens.iter().rev().take_while(|t| {
                let more = spelled.len() < after.len();
                if more {
                    spelled.insert_str(0, t);
                }
                more
            });
            count.count()
        }
    };
    let echoed = tokens.len().checked_sub(generated).ok_or("fewer tokens than the server says it generated")?;
    let end = echoed.checked_sub(1).ok_or("no token was echoed (the server did not echo the prompt)")?;
    if !(tokens[end].is_empty() || tokens[end] == END_OF_TURN) {
        return Err(format!("the echoed prompt ends with `{}`, not with the end of turn {END_OF_TURN}", tokens[end]));
    }
    let mut spelled = String::new();
    let mut first = end;
    while spelled.len() < reply.len() {
        first = first.checked_sub(1).ok_or("the echoed tokens are shorter than the reply")?;
        spelled.insert_str(0, tokens[first]);
        if !reply.ends_with(spelled.as_str()) {
            return Err(format!("the reply's tokens are not separate from the prompt's (`{spelled}` ends `{reply}`)"));
        }
    }
    values[first..=end]
        .iter()
        .map(|v| v.as_f64().map(|l| l as f32).ok_or_else(|| "a reply token has no log-probability".to_string()))
        .collect()
}

#[cfg(test)]
mod tests;
