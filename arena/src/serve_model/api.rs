//! The OpenAI API as `arena serve-model` answers it: `/v1/models`, `/v1/chat/completions` and
//! `/v1/completions` (with `echo` and `logprobs`) over a batching [`Generator`]. Requests are
//! read strictly: a field the server cannot honour (streaming, several choices, penalties, top
//! alternatives) gets a 400 that names it rather than being ignored.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use agents::ChatMessage;
use agents::llm::{Completion, FinishReason, Generator, LlmError, SamplingParams};
use serde_json::{Map, Value, json};

/// The longest answer when a chat request gives no `max_tokens`.
const DEFAULT_CHAT_TOKENS: usize = 512;
/// The longest answer when a completion request gives no `max_tokens` (OpenAI's default).
const DEFAULT_COMPLETION_TOKENS: usize = 16;
/// The most prompts one completion request may carry.
const MAX_PROMPTS: usize = 64;
/// The most stop strings (OpenAI's limit).
const MAX_STOPS: usize = 4;

/// An HTTP status and a JSON body.
#[derive(Debug, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    fn ok(body: Value) -> Self {
        Reply { status: 200, body }
    }

    /// An error in OpenAI's form.
    pub fn error(status: u16, kind: &str, message: impl Into<String>, param: Option<&str>) -> Self {
        let body = json!({ "error": { "message": message.into(), "type": kind, "param": param, "code": Value::Null } });
        Reply { status, body }
    }

    fn bad(message: impl Into<String>, param: &str) -> Self {
        Reply::error(400, "invalid_request_error", message, Some(param))
    }
}

/// The model being served and its generator.
#[derive(Debug)]
pub struct Api {
    /// The name `/v1/models` lists and requests must name.
    pub name: String,
    pub generator: Generator,
    /// Seeds requests that give none.
    unseeded: AtomicU64,
    /// Numbers the reply ids.
    replies: AtomicU64,
}

/// What a request's body asks for, field by field.
struct Fields<'a>(&'a Map<String, Value>);

impl<'a> Fields<'a> {
    fn get(&self, name: &str) -> Option<&'a Value> {
        self.0.get(name).filter(|v| !v.is_null())
    }

    fn number(&self, name: &str, default: f64, min: f64, max: f64) -> Result<f64, Reply> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => match v.as_f64() {
                Some(x) if (min..=max).contains(&x) => Ok(x),
                _ => Err(Reply::bad(format!("`{name}` must be a number from {min} to {max}, not {v}"), name)),
            },
        }
    }

    fn count(&self, names: &[&str], default: usize, max: usize) -> Result<usize, Reply> {
        for name in names {
            if let Some(v) = self.get(name) {
                return match v.as_u64() {
                    Some(n) if n as usize <= max => Ok(n as usize),
                    _ => Err(Reply::bad(format!("`{name}` must be a whole number up to {max}, not {v}"), name)),
                };
            }
        }
        Ok(default)
    }

    fn flag(&self, name: &str) -> Result<bool, Reply> {
        match self.get(name) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => Err(Reply::bad(format!("`{name}` must be true or false, not {v}"), name)),
        }
    }

    /// Refuses a field set to anything but its neutral value.
    fn unsupported(&self, name: &str, neutral: &[Value], what: &str) -> Result<(), Reply> {
        match self.get(name) {
            Some(v) if !neutral.contains(v) => Err(Reply::bad(format!("{what} (`{name}`) is not supported yet"), name)),
            _ => Ok(()),
        }
    }

    fn stops(&self) -> Result<Vec<String>, Reply> {
        let stops = match self.get("stop") {
            None => Vec::new(),
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(list)) => list
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| Reply::bad("`stop` must be a string or a list of strings", "stop"))?,
            Some(_) => return Err(Reply::bad("`stop` must be a string or a list of strings", "stop")),
        };
        if stops.len() > MAX_STOPS || stops.iter().any(String::is_empty) {
            return Err(Reply::bad(format!("`stop` takes 1 to {MAX_STOPS} non-empty strings"), "stop"));
        }
        Ok(stops)
    }
}

/// Cuts `text` before the first of `stops`; whether one was found.
fn cut_at_stop(text: &mut String, stops: &[String]) -> bool {
    match stops.iter().filter_map(|s| text.find(s.as_str())).min() {
        Some(at) => {
            text.truncate(at);
            true
        }
        None => false,
    }
}

fn finish_reason(completion: &Completion, stopped: bool) -> &'static str {
    if stopped || completion.finish == FinishReason::Stop { "stop" } else { "length" }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A model error as the client's fault (400) or the server's (500).
fn model_error(error: LlmError) -> Reply {
    match error {
        LlmError::PromptTooLong { .. } | LlmError::BadRequest(_) | LlmError::Tokenizer { .. } => {
            Reply::error(400, "invalid_request_error", error.to_string(), None)
        }
        other => Reply::error(500, "server_error", other.to_string(), None),
    }
}

impl Api {
    pub fn new(name: String, generator: Generator) -> Self {
        let seed = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        Api { name, generator, unseeded: AtomicU64::new(seed), replies: AtomicU64::new(0) }
    }

    /// `GET /v1/models`.
    pub fn models(&self) -> Reply {
        Reply::ok(json!({
            "object": "list",
            "data": [{ "id": self.name, "object": "model", "created": 0, "owned_by": "arena" }],
        }))
    }

    /// Checks the request's JSON object, its model name and the fields no endpoint supports.
    fn fields<'a>(&self, body: &'a Value) -> Result<Fields<'a>, Reply> {
        let object = body.as_object().ok_or_else(|| Reply::bad("the request body must be a JSON object", "body"))?;
        let fields = Fields(object);
        if let Some(model) = fields.get("model") {
            match model.as_str() {
                Some(name) if name == self.name => {}
                _ => {
                    return Err(Reply::error(
                        404,
                        "invalid_request_error",
                        format!("model {model} is not served here; this server serves `{}`", self.name),
                        Some("model"),
                    ));
                }
            }
        }
        fields.unsupported("stream", &[json!(false)], "streaming")?;
        fields.unsupported("n", &[json!(1)], "more than one choice")?;
        fields.unsupported("best_of", &[json!(1)], "best-of sampling")?;
        fields.unsupported("presence_penalty", &[json!(0), json!(0.0)], "a presence penalty")?;
        fields.unsupported("frequency_penalty", &[json!(0), json!(0.0)], "a frequency penalty")?;
        fields.unsupported("logit_bias", &[json!({})], "a logit bias")?;
        fields.unsupported("grammar", &[], "grammar-constrained sampling")?;
        fields.unsupported("tools", &[json!([])], "tool calls")?;
        fields.unsupported("response_format", &[json!({ "type": "text" })], "a response format")?;
        Ok(fields)
    }

    fn sampling(&self, fields: &Fields<'_>, max_tokens: usize) -> Result<SamplingParams, Reply> {
        let seed = match fields.get("seed") {
            None => self.unseeded.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed),
            Some(v) => v.as_i64().map(|s| s as u64).ok_or_else(|| Reply::bad("`seed` must be an integer", "seed"))?,
        };
        Ok(SamplingParams {
            temperature: fields.number("temperature", 1.0, 0.0, 2.0)? as f32,
            top_p: fields.number("top_p", 1.0, f64::MIN_POSITIVE, 1.0)? as f32,
            max_tokens,
            seed,
            ignore_stop: false,
        })
    }

    fn id(&self, prefix: &str) -> String {
        format!("{prefix}-{}-{}", now(), self.replies.fetch_add(1, Ordering::Relaxed))
    }

    /// `POST /v1/chat/completions`.
    pub fn chat(&self, body: &Value) -> Reply {
        self.chat_reply(body).unwrap_or_else(|reply| reply)
    }

    fn chat_reply(&self, body: &Value) -> Result<Reply, Reply> {
        let fields = self.fields(body)?;
        let messages = chat_messages(fields.get("messages"))?;
        if fields.get("top_logprobs").and_then(Value::as_u64).is_some_and(|n| n > 0) {
            return Err(Reply::bad("top alternatives (`top_logprobs` above 0) are not supported yet", "top_logprobs"));
        }
        let logprobs = fields.flag("logprobs")?;
        let stops = fields.stops()?;
        let max_tokens = fields.count(&["max_completion_tokens", "max_tokens"], DEFAULT_CHAT_TOKENS, 1 << 20)?;
        if max_tokens == 0 {
            return Err(Reply::bad("`max_tokens` must be at least 1", "max_tokens"));
        }
        let params = self.sampling(&fields, max_tokens)?;
        let mut completion = self.generator.generate(&messages, &params).map_err(model_error)?;
        let stopped = cut_at_stop(&mut completion.text, &stops);
        let tokenizer = self.generator.model().tokenizer();
        let mut choice = json!({
            "index": 0,
            "message": { "role": "assistant", "content": completion.text },
            "finish_reason": finish_reason(&completion, stopped),
            "logprobs": Value::Null,
        });
        if logprobs {
            let content: Vec<Value> = completion
                .tokens
                .iter()
                .zip(&completion.logprobs)
                .filter(|(t, _)| !tokenizer.stop_tokens().contains(t))
                .map(|(&token, &logprob)| {
                    let text = tokenizer.decode(&[token]).unwrap_or_default();
                    json!({ "token": text, "logprob": logprob, "bytes": text.as_bytes(), "top_logprobs": [] })
                })
                .collect();
            choice["logprobs"] = json!({ "content": content });
        }
        Ok(Reply::ok(json!({
            "id": self.id("chatcmpl"),
            "object": "chat.completion",
            "created": now(),
            "model": self.name,
            "system_fingerprint": Value::Null,
            "choices": [choice],
            "usage": usage(completion.prompt_tokens, completion.cached_prompt_tokens, completion.tokens.len()),
        })))
    }

    /// `POST /v1/completions`.
    pub fn complete(&self, body: &Value) -> Reply {
        self.complete_reply(body).unwrap_or_else(|reply| reply)
    }

    fn complete_reply(&self, body: &Value) -> Result<Reply, Reply> {
        let fields = self.fields(body)?;
        fields.unsupported("suffix", &[json!("")], "a suffix")?;
        let echo = fields.flag("echo")?;
        let logprobs = match fields.get("logprobs") {
            None => false,
            Some(v) => match v.as_u64() {
                Some(0) => true,
                Some(_) => {
                    return Err(Reply::bad(
                        "top alternatives (`logprobs` above 0) are not supported yet; logprobs=0 gives each token's log-probability",
                        "logprobs",
                    ));
                }
                None => return Err(Reply::bad("`logprobs` must be a whole number", "logprobs")),
            },
        };
        let stops = fields.stops()?;
        let max_tokens = fields.count(&["max_tokens"], DEFAULT_COMPLETION_TOKENS, 1 << 20)?;
        let tokenizer = self.generator.model().tokenizer();
        let prompts = self.prompts(fields.get("prompt"))?;
        if prompts.iter().any(|(_, tokens)| tokens.is_empty()) {
            return Err(Reply::bad("a prompt is empty", "prompt"));
        }
        let mut echoed = match echo && logprobs {
            true => self.echoed_logprobs(prompts.iter().map(|(_, tokens)| tokens.as_slice()).collect())?,
            false => Vec::new(),
        };
        let (mut choices, mut prompt_tokens, mut cached_tokens, mut completion_tokens) = (Vec::new(), 0, 0, 0);
        for (index, (text, tokens)) in prompts.into_iter().enumerate() {
            prompt_tokens += tokens.len();
            let completion = match max_tokens {
                0 => None,
                _ => Some(
                    self.generator
                        .generate_tokens(tokens.clone(), &self.sampling(&fields, max_tokens)?)
                        .map_err(model_error)?,
                ),
            };
            let mut generated = completion.as_ref().map_or_else(String::new, |c| c.text.clone());
            let stopped = cut_at_stop(&mut generated, &stops);
            completion_tokens += completion.as_ref().map_or(0, |c| c.tokens.len());
            cached_tokens += completion.as_ref().map_or(0, |c| c.cached_prompt_tokens);
            let mut choice = json!({
                "index": index,
                "text": if echo { format!("{text}{generated}") } else { generated },
                "finish_reason": completion.as_ref().map_or("length", |c| finish_reason(c, stopped)),
                "logprobs": Value::Null,
            });
            if logprobs {
                let mut listed: Vec<(u32, Option<f32>)> = Vec::new();
                if echo {
                    listed.extend(tokens.iter().copied().zip(std::mem::take(&mut echoed[index])));
                }
                if let Some(completion) = &completion {
                    let kept = completion.tokens.iter().filter(|t| !tokenizer.stop_tokens().contains(t)).count();
                    listed.extend(
                        completion.tokens.iter().copied().zip(completion.logprobs.iter().map(|&l| Some(l))).take(kept),
                    );
                }
                let (mut strings, mut offsets, mut offset) = (Vec::new(), Vec::new(), 0usize);
                for (token, _) in &listed {
                    let text = tokenizer.decode(&[*token]).map_err(model_error)?;
                    offsets.push(offset);
                    offset += text.chars().count();
                    strings.push(text);
                }
                choice["logprobs"] = json!({
                    "tokens": strings,
                    "token_logprobs": listed.iter().map(|(_, l)| *l).collect::<Vec<_>>(),
                    "top_logprobs": Value::Null,
                    "text_offset": offsets,
                });
            }
            choices.push(choice);
        }
        Ok(Reply::ok(json!({
            "id": self.id("cmpl"),
            "object": "text_completion",
            "created": now(),
            "model": self.name,
            "choices": choices,
            "usage": usage(prompt_tokens, cached_tokens, completion_tokens),
        })))
    }

    /// Each prompt's tokens' log-probabilities (`None` for the first token), their common
    /// prefix run once: one request to the generator scores the prefix's own tokens and every
    /// prompt's remaining tokens as continuations of it. (The scores are those of each prompt
    /// alone: the generator's rows do not depend on their batch.)
    fn echoed_logprobs(&self, prompts: Vec<&[u32]>) -> Result<Vec<Vec<Option<f32>>>, Reply> {
        let shortest = prompts.iter().map(|p| p.len()).min().unwrap_or(0);
        let first = prompts.first().copied().unwrap_or(&[]);
        // Every prompt keeps at least one token of its own after the prefix.
        let common = (0..shortest.saturating_sub(1)).take_while(|&i| prompts.iter().all(|p| p[i] == first[i])).count();
        if common == 0 {
            // No shared token (or a one-token prompt): each prompt is scored alone.
            return prompts.iter().map(|p| self.echoed_logprobs_alone(p)).collect();
        }
        let tails: Vec<Vec<u32>> = prompts.iter().map(|p| p[common..].to_vec()).collect();
        let (prefix, scored) = self
            .generator
            .score_tokens_with_prompt_until(first[..common].to_vec(), tails, None)
            .map_err(model_error)?;
        Ok(scored
            .into_iter()
            .map(|s| {
                let own = prefix.iter().chain(&s.logprobs).map(|&l| Some(l));
                std::iter::once(None).chain(own).collect()
            })
            .collect())
    }

    /// [`Api::echoed_logprobs`] of one prompt.
    fn echoed_logprobs_alone(&self, prompt: &[u32]) -> Result<Vec<Option<f32>>, Reply> {
        let Some((&last, head)) = prompt.split_last().filter(|(_, head)| !head.is_empty()) else {
            return Ok(vec![None; prompt.len()]);
        };
        let (own, scored) = self
            .generator
            .score_tokens_with_prompt_until(head.to_vec(), vec![vec![last]], None)
            .map_err(model_error)?;
        let last = scored.into_iter().next().map(|s| s.logprobs).unwrap_or_default();
        Ok(std::iter::once(None).chain(own.iter().chain(&last).map(|&l| Some(l))).collect())
    }

    /// The prompts of a completion request, as text and tokens: a string, a list of strings, a
    /// list of token ids, or a list of such lists. Special tokens written in text
    /// (`<|im_start|>`) are read as such.
    fn prompts(&self, prompt: Option<&Value>) -> Result<Vec<(String, Vec<u32>)>, Reply> {
        let tokenizer = self.generator.model().tokenizer();
        let bad = || Reply::bad("`prompt` must be a string, a list of strings, or token ids", "prompt");
        let from_text = |text: &str| tokenizer.encode(text).map(|t| (text.to_string(), t)).map_err(model_error);
        let from_ids = |ids: &[Value]| -> Result<(String, Vec<u32>), Reply> {
            let ids: Vec<u32> =
                ids.iter().map(|v| v.as_u64().map(|i| i as u32)).collect::<Option<_>>().ok_or_else(bad)?;
            let text = tokenizer.decode(&ids).map_err(model_error)?;
            Ok((text, ids))
        };
        let prompts = match prompt.ok_or_else(|| Reply::bad("`prompt` is required", "prompt"))? {
            Value::String(text) => vec![from_text(text)?],
            Value::Array(items) if items.iter().all(Value::is_string) => {
                items.iter().map(|v| from_text(v.as_str().unwrap_or(""))).collect::<Result<_, _>>()?
            }
            Value::Array(items) if items.iter().all(Value::is_number) => vec![from_ids(items)?],
            Value::Array(items) if items.iter().all(Value::is_array) => items
                .iter()
                .map(|v| from_ids(v.as_array().map(Vec::as_slice).unwrap_or(&[])))
                .collect::<Result<_, _>>()?,
            _ => return Err(bad()),
        };
        if prompts.is_empty() || prompts.len() > MAX_PROMPTS {
            return Err(Reply::bad(format!("give 1 to {MAX_PROMPTS} prompts"), "prompt"));
        }
        Ok(prompts)
    }
}

/// Token counts as OpenAI reports them: `cached` prompt tokens were read from the prefix cache.
fn usage(prompt: usize, cached: usize, completion: usize) -> Value {
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": { "cached_tokens": cached },
    })
}

/// The chat of a request: roles `system`, `user`, `assistant` (or `developer`, read as system);
/// content as a string or a list of text parts.
fn chat_messages(messages: Option<&Value>) -> Result<Vec<ChatMessage>, Reply> {
    let list = messages
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty())
        .ok_or_else(|| Reply::bad("`messages` must be a non-empty list", "messages"))?;
    list.iter()
        .enumerate()
        .map(|(i, message)| {
            let role = match message.get("role").and_then(Value::as_str) {
                Some(role @ ("system" | "user" | "assistant")) => role,
                Some("developer") => "system",
                other => {
                    return Err(Reply::bad(
                        format!("messages[{i}].role must be system, user or assistant, not {other:?}"),
                        "messages",
                    ));
                }
            };
            let content = match message.get("content") {
                Some(Value::String(text)) => text.clone(),
                Some(Value::Array(parts)) => parts
                    .iter()
                    .map(|p| match (p.get("type").and_then(Value::as_str), p.get("text").and_then(Value::as_str)) {
                        (Some("text"), Some(text)) => Ok(text),
                        _ => Err(Reply::bad(format!("messages[{i}]: only text parts are supported"), "messages")),
                    })
                    .collect::<Result<Vec<_>, _>>()?
                    .join(""),
                _ => return Err(Reply::bad(format!("messages[{i}].content must be text"), "messages")),
            };
            Ok(ChatMessage::new(role, content))
        })
        .collect()
}
