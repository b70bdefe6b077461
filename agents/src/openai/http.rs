//! The HTTP side of `openai(...)` agents: JSON requests to an OpenAI-compatible server under a
//! shared limit on requests in flight, retried with jittered exponential backoff on connection
//! errors, timeouts, unreadable replies, 429 and 5xx, with errors that name the server and the
//! problem and never the API key.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use serde_json::Value;

/// The longest reply body read (a reply is a few kilobytes; this only stops a runaway server).
const MAX_REPLY_BYTES: u64 = 16 << 20;
/// The first wait before a retry; it doubles per retry up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// The longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// A limit on requests in flight, shared by every agent of a factory that names the same server
/// and limit (the agents of concurrent games).
#[derive(Debug)]
pub(crate) struct Slots {
    limit: usize,
    in_use: Mutex<usize>,
    freed: Condvar,
}

/// A place taken in [`Slots`]; given back when dropped.
pub(crate) struct Slot<'a>(&'a Slots);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut in_use = self.0.in_use.lock().unwrap_or_else(|p| p.into_inner());
        *in_use -= 1;
        self.0.freed.notify_one();
    }
}

impl Slots {
    pub(crate) fn new(limit: usize) -> Arc<Self> {
        Arc::new(Slots { limit: limit.max(1), in_use: Mutex::new(0), freed: Condvar::new() })
    }

    /// Waits for a place, until `deadline` if any (`None` when it passed first).
    fn acquire(&self, deadline: Option<Instant>) -> Option<Slot<'_>> {
        let mut in_use = self.in_use.lock().unwrap_or_else(|p| p.into_inner());
        while *in_use >= self.limit {
            in_use = match deadline {
                None => self.freed.wait(in_use).unwrap_or_else(|p| p.into_inner()),
                Some(deadline) => {
                    let left = deadline.checked_duration_since(Instant::now())?;
                    self.freed.wait_timeout(in_use, left).unwrap_or_else(|p| p.into_inner()).0
                }
            };
        }
        *in_use += 1;
        Some(Slot(self))
    }
}

/// Why a request to the server failed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum HttpError {
    /// No connection, or it broke before a reply.
    #[error("cannot reach {url}: {message}")]
    Unreachable { url: String, message: String },
    /// The server answered with an error status.
    #[error("{url} answered HTTP {status}: {message}")]
    Status { url: String, status: u16, message: String },
    /// The reply is not the JSON asked for.
    #[error("{url} sent an unreadable reply: {message}")]
    Malformed { url: String, message: String },
    /// No reply within the request's time limit.
    #[error("{url} did not answer within {after:?}")]
    TimedOut { url: String, after: Duration },
    /// The decision's deadline passed before an answer.
    #[error("the move's deadline passed before the server answered")]
    DeadlinePassed,
    /// The API key's environment variable is not set.
    #[error("environment variable {0} (named by api_key_env) is not set or empty")]
    MissingKey(String),
}

impl HttpError {
    /// Whether asking again may succeed.
    fn is_transient(&self) -> bool {
        match self {
            HttpError::Unreachable { .. } | HttpError::TimedOut { .. } | HttpError::Malformed { .. } => true,
            HttpError::Status { status, .. } => *status == 429 || *status >= 500,
            HttpError::DeadlinePassed | HttpError::MissingKey(_) => false,
        }
    }

    /// Whether the server looks down (rather than answering badly): no connection, or a gateway
    /// saying the server behind it is.
    fn is_down(&self) -> bool {
        matches!(self, HttpError::Unreachable { .. }) || matches!(self, HttpError::Status { status: 502..=504, .. })
    }
}

/// How failed requests are retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RetryPolicy {
    /// Retries after the first attempt, for transient failures.
    pub retries: u32,
    /// Keep retrying, without limit, while the server is down (until the deadline, if any).
    pub wait_when_down: bool,
}

/// A JSON reply and the attempts it took.
#[derive(Debug)]
pub(crate) struct Answer {
    pub body: Value,
    pub attempts: u32,
}

/// One OpenAI-compatible server, as an agent talks to it.
pub(crate) struct Endpoint {
    /// The base URL, ending before `/chat/completions` (`http://host:port/v1`).
    base: String,
    /// The base URL without user information or query, for messages and traces.
    public: String,
    api_key_env: Option<String>,
    http: ureq::Agent,
    slots: Arc<Slots>,
    timeout: Duration,
    policy: RetryPolicy,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("url", &self.public)
            .field("api_key_env", &self.api_key_env)
            .field("timeout", &self.timeout)
            .field("policy", &self.policy)
            .finish()
    }
}

impl Endpoint {
    pub(crate) fn new(
        base: &str,
        api_key_env: Option<String>,
        slots: Arc<Slots>,
        timeout: Duration,
        policy: RetryPolicy,
    ) -> Self {
        let http: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let base = base.trim_end_matches('/').to_string();
        Endpoint { public: public_url(&base), base, api_key_env, http, slots, timeout, policy }
    }

    /// The base URL as shown in messages and traces (no credentials, no query).
    pub(crate) fn public_url(&self) -> &str {
        &self.public
    }

    /// Posts `body` to `path` (`/chat/completions`), retrying as the policy says.
    pub(crate) fn post(&self, path: &str, body: &Value, deadline: Option<Instant>) -> Result<Answer, HttpError> {
        let text = body.to_string();
        self.with_retries(deadline, |timeout| self.once(path, Some(&text), timeout))
    }

    /// Gets `path` (`/models`), retrying as the policy says.
    pub(crate) fn get(&self, path: &str, deadline: Option<Instant>) -> Result<Answer, HttpError> {
        self.with_retries(deadline, |timeout| self.once(path, None, timeout))
    }

    fn with_retries(
        &self,
        deadline: Option<Instant>,
        attempt: impl Fn(Duration) -> Result<(Value, Option<Duration>), (HttpError, Option<Duration>)>,
    ) -> Result<Answer, HttpError> {
        let mut attempts = 0u32;
        let mut retries_left = self.policy.retries;
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(jitter_seed());
        loop {
            let timeout = match deadline {
                Some(deadline) => {
                    let left = deadline.checked_duration_since(Instant::now()).ok_or(HttpError::DeadlinePassed)?;
                    left.min(self.timeout)
                }
                None => self.timeout,
            };
            let slot = self.slots.acquire(deadline).ok_or(HttpError::DeadlinePassed)?;
            attempts += 1;
            let result = attempt(timeout);
            drop(slot);
            let (error, retry_after) = match result {
                Ok((body, _)) => return Ok(Answer { body, attempts }),
                Err(failure) => failure,
            };
            let past_deadline = |at: Instant| deadline.is_some_and(|deadline| at >= deadline);
            if past_deadline(Instant::now()) {
                return Err(HttpError::DeadlinePassed);
            }
            let waiting = self.policy.wait_when_down && error.is_down();
            if !error.is_transient() || (!waiting && retries_left == 0) {
                return Err(error);
            }
            if !waiting {
                retries_left -= 1;
            }
            // Equal jitter: half the backoff, plus up to as much again at random.
            let backoff = FIRST_BACKOFF.saturating_mul(1 << attempts.min(16)).min(MAX_BACKOFF) / 2;
            let mut pause = backoff + backoff.mul_f64(rng.random::<f64>());
            if let Some(after) = retry_after {
                pause = pause.max(after.min(MAX_RETRY_AFTER));
            }
            if past_deadline(Instant::now() + pause) {
                return Err(HttpError::DeadlinePassed);
            }
            std::thread::sleep(pause);
        }
    }

    /// One request: the reply's JSON, or the error and the server's `Retry-After`.
    fn once(
        &self,
        path: &str,
        body: Option<&str>,
        timeout: Duration,
    ) -> Result<(Value, Option<Duration>), (HttpError, Option<Duration>)> {
        let url = format!("{}{path}", self.base);
        let shown = format!("{}{path}", self.public);
        let key = match &self.api_key_env {
            Some(name) => match std::env::var(name) {
                Ok(key) if !key.is_empty() => Some(key),
                _ => return Err((HttpError::MissingKey(name.clone()), None)),
            },
            None => None,
        };
        let redact = |text: String| match &key {
            Some(key) => text.replace(key.as_str(), "[api key]"),
            None => text,
        };
        let failure = |error: ureq::Error| match error {
            ureq::Error::Timeout(_) => HttpError::TimedOut { url: shown.clone(), after: timeout },
            other => HttpError::Unreachable { url: shown.clone(), message: redact(other.to_string()) },
        };
        let authorization = key.as_ref().map(|key| format!("Bearer {key}"));
        let response = match body {
            Some(body) => {
                let mut request = self.http.post(&url).config().timeout_global(Some(timeout)).build();
                request = request.header("Content-Type", "application/json");
                if let Some(value) = &authorization {
                    request = request.header("Authorization", value);
                }
                request.send(body)
            }
            None => {
                let mut request = self.http.get(&url).config().timeout_global(Some(timeout)).build();
                if let Some(value) = &authorization {
                    request = request.header("Authorization", value);
                }
                request.call()
            }
        };
        let mut response = response.map_err(|e| (failure(e), None))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64);
        let text = response
            .body_mut()
            .with_config()
            .limit(MAX_REPLY_BYTES)
            .read_to_string()
            .map_err(|e| (failure(e), retry_after))?;
        if !(200..300).contains(&status) {
            let message = redact(error_message(&text));
            return Err((HttpError::Status { url: shown, status, message }, retry_after));
        }
        match serde_json::from_str::<Value>(&text) {
            Ok(value) if value.is_object() => Ok((value, None)),
            Ok(_) => Err((HttpError::Malformed { url: shown, message: "the reply is not a JSON object".into() }, None)),
            Err(e) => Err((
                HttpError::Malformed { url: shown, message: redact(format!("{e} (reply began `{}`)", excerpt(&text))) },
                None,
            )),
        }
    }
}

/// The message of an error reply: OpenAI's `{"error": {"message": ...}}`, or the body's start.
fn error_message(body: &str) -> String {
    let parsed = serde_json::from_str::<Value>(body).ok();
    let message = parsed.as_ref().and_then(|v| {
        let error = v.get("error")?;
        error.get("message").and_then(Value::as_str).or_else(|| error.as_str()).map(str::to_string)
    });
    message
        .or_else(|| parsed.as_ref().and_then(|v| v.get("detail")).map(|d| d.to_string()))
        .unwrap_or_else(|| excerpt(body))
}

/// The first 200 characters of `text`, on one line.
fn excerpt(text: &str) -> String {
    let mut short: String = text.chars().take(200).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short.replace(['\n', '\r'], " ")
}

/// `url` without user information (`user:password@`) or query.
pub(crate) fn public_url(url: &str) -> String {
    let url = url.split(['?', '#']).next().unwrap_or(url);
    let (scheme, rest) = url.split_once("://").map_or(("", url), |(s, r)| (s, r));
    let (host, path) = rest.split_once('/').map_or((rest, None), |(h, p)| (h, Some(p)));
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let scheme = if scheme.is_empty() { String::new() } else { format!("{scheme}://") };
    match path {
        Some(path) => format!("{scheme}{host}/{path}"),
        None => format!("{scheme}{host}"),
    }
}

/// A seed for the backoff's jitter, which needs no reproducibility (it only spreads retries).
fn jitter_seed() -> u64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    nanos as u64 ^ std::process::id() as u64 ^ (&nanos as *const u128 as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_urls_lose_credentials_and_queries() {
        assert_eq!(public_url("http://u:secret@host:8080/v1?key=abc"), "http://host:8080/v1");
        assert_eq!(public_url("https://api.example.com/v1"), "https://api.example.com/v1");
        assert_eq!(public_url("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert_eq!(public_url("u:pw@host/v1"), "host/v1");
    }

    #[test]
    fn error_messages_come_from_openai_error_bodies() {
        assert_eq!(error_message(r#"{"error": {"message": "bad model", "type": "x"}}"#), "bad model");
        assert_eq!(error_message(r#"{"error": "overloaded"}"#), "overloaded");
        assert_eq!(error_message("<html>\nBad Gateway</html>"), "<html> Bad Gateway</html>");
        assert!(error_message(&"x".repeat(500)).ends_with('…'));
    }

    #[test]
    fn slots_bound_the_requests_in_flight() {
        let slots = Slots::new(2);
        let a = slots.acquire(None);
        let b = slots.acquire(None);
        assert!(a.is_some() && b.is_some());
        // Full: a request with a deadline gives up.
        assert!(slots.acquire(Some(Instant::now() + Duration::from_millis(20))).is_none());
        drop(a);
        assert!(slots.acquire(Some(Instant::now() + Duration::from_millis(20))).is_some());
    }
}
