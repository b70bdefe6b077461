//! `cmd(program=...)`: an external program plays through a line protocol, so an agent written in
//! any language can join a tournament.
//!
//! The protocol (one JSON object per line on the program's stdin; answers on its stdout):
//! - `{"type":"start","game":SPEC,"player":P}` before each game; no answer.
//! - `{"type":"move","game":SPEC,"player":P,"observation":TEXT,"legal":[{"id":N,"text":T},...],
//!   "time_left_ms":MS,"feedback":ERROR_OR_NULL,"seed":N}`; the program answers one line: `{"action":"4"}`
//!   (the action's text), `{"id":3}`, or the bare text `4`. At text turns `legal` is empty and the
//!   answer's text is the utterance.
//! - `{"type":"end","returns":[...]}` after each game; no answer.
//!
//! `seed` comes from the agent's RNG, which the engine seeds from the match: a program that draws
//! its random choices from it plays the same games however many threads run the tournament.
//!
//! A program that exits, hangs past its time, or writes garbage loses that game; it is started
//! again for its next game. Its stderr is kept (last lines) for the error message.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use games::{GameRef, InputKind, Player};
use rand::RngCore;
use serde_json::json;

use crate::agent::{Agent, AgentError, AgentRng, Decision, View};

/// Lines of the program's stderr kept for error messages.
const STDERR_LINES: usize = 20;

/// An agent played by an external program.
#[derive(Debug)]
pub struct CommandAgent {
    program: String,
    timeout: Duration,
    retries: usize,
    game_spec: String,
    process: Option<Running>,
}

#[derive(Debug)]
struct Running {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    stderr: Arc<Mutex<VecDeque<String>>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl CommandAgent {
    /// `program` runs through `sh -c`; each move must be answered within `timeout`.
    pub fn new(program: impl Into<String>, timeout: Duration, retries: usize) -> Self {
        CommandAgent { program: program.into(), timeout, retries, game_spec: String::new(), process: None }
    }

    fn spawn(&self) -> Result<Running, AgentError> {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(format!("exec {}", self.program))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| AgentError::Crashed(format!("cannot start `{}`: {e}", self.program)))?;
        let (Some(stdin), Some(stdout), Some(stderr)) = (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(AgentError::Crashed(format!("`{}` started without its pipes", self.program)));
        };
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let kept = Arc::new(Mutex::new(VecDeque::new()));
        let sink = Arc::clone(&kept);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Ok(mut kept) = sink.lock() {
                    if kept.len() == STDERR_LINES {
                        kept.pop_front();
                    }
                    kept.push_back(line);
                }
            }
        });
        Ok(Running { child, stdin, lines, stderr: kept })
    }

    /// Ends the process and describes how it ended, with its last stderr lines.
    fn bury(&mut self, what: &str) -> AgentError {
        let Some(mut running) = self.process.take() else {
            return AgentError::Crashed(what.to_string());
        };
        let status = match running.child.try_wait() {
            Ok(Some(status)) => format!(" ({status})"),
            _ => String::new(),
        };
        let _ = running.child.kill();
        // Give the stderr reader a moment to collect the program's last words.
        std::thread::sleep(Duration::from_millis(20));
        let tail =
            running.stderr.lock().map(|lines| lines.iter().cloned().collect::<Vec<_>>().join("\n")).unwrap_or_default();
        let tail = if tail.is_empty() { String::new() } else { format!("; its stderr ends:\n{tail}") };
        AgentError::Crashed(format!("`{}` {what}{status}{tail}", self.program))
    }

    fn send(&mut self, message: &serde_json::Value) -> Result<(), AgentError> {
        let Some(running) = self.process.as_mut() else {
            return Err(AgentError::Crashed(format!("`{}` is not running", self.program)));
        };
        let written = writeln!(running.stdin, "{message}").and_then(|()| running.stdin.flush());
        match written {
            Ok(()) => Ok(()),
            Err(e) => Err(self.bury(&format!("stopped reading its input ({e})"))),
        }
    }
}

impl Agent for CommandAgent {
    fn start(&mut self, game: &GameRef, player: Player) -> Result<(), AgentError> {
        let alive = match self.process.as_mut() {
            Some(running) => matches!(running.child.try_wait(), Ok(None)),
            None => false,
        };
        if !alive {
            self.process = None;
            self.process = Some(self.spawn()?);
        }
        self.game_spec = game.spec().to_string();
        self.send(&json!({"type": "start", "game": self.game_spec, "player": player}))
    }

    fn act(&mut self, view: &View<'_>, rng: &mut AgentRng) -> Result<Decision, AgentError> {
        let legal: Vec<_> =
            view.legal_actions().iter().map(|&id| json!({"id": id, "text": view.action_to_string(id)})).collect();
        let timeout = view.time_left().map_or(self.timeout, |left| left.min(self.timeout));
        self.send(&json!({
            "type": "move",
            "game": self.game_spec,
            "player": view.player(),
            "observation": view.observation_string(),
            "legal": legal,
            "time_left_ms": timeout.as_millis() as u64,
            "feedback": view.feedback(),
            "seed": rng.next_u64(),
        }))?;
        let Some(running) = self.process.as_ref() else {
            return Err(AgentError::Crashed(format!("`{}` is not running", self.program)));
        };
        let line = match running.lines.recv_timeout(timeout) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => {
                let _ = self.bury("timed out");
                return Err(AgentError::Timeout(timeout));
            }
            Err(RecvTimeoutError::Disconnected) => return Err(self.bury("exited")),
        };
        Ok(read_answer(&line, view.input_kind()))
    }

    fn finish(&mut self, returns: &[f64]) {
        if self.process.is_some() {
            let _ = self.send(&json!({"type": "end", "returns": returns}));
        }
    }

    fn retries(&self) -> usize {
        self.retries
    }
}

/// Reads `{"action": TEXT}`, `{"id": N}` or a bare line of text. Anything unreadable is passed on as
/// text, so the engine's parse error quotes it back.
fn read_answer(line: &str, input: InputKind) -> Decision {
    let trimmed = line.trim();
    if let Ok(serde_json::Value::Object(object)) = serde_json::from_str::<serde_json::Value>(trimmed) {
        if let Some(id) = object.get("id").and_then(|v| v.as_u64()).filter(|_| input == InputKind::Discrete) {
            return Decision::action(id.min(u32::MAX as u64) as u32);
        }
        if let Some(text) = object.get("action").and_then(|v| v.as_str()) {
            return Decision::text(text);
        }
    }
    Decision::text(trimmed)
}
