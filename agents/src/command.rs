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
//! How the program runs: the `program` line is given to `sh -c` as it is (so `cd bots && python3
//! bot.py`, `FOO=1 ./bot` and pipelines work), in the arena's working directory, with the arena's
//! environment, in a process group of its own. One process plays game after game; it is started
//! again for the next game after it exits, hangs past its time, or answers more than
//! [`MAX_ANSWER_BYTES`] on one line. Whenever the arena is done with a process (one of those, the
//! end of the run, Ctrl-C or a termination signal through [`end_all_programs`]) its whole group
//! is killed, so programs it started in the background go with it.
//!
//! Every line is bounded: an answer over [`MAX_ANSWER_BYTES`] is the fault "answer too long" (the
//! rest of the line is never buffered), bytes that are not UTF-8 are an unreadable answer, and
//! only the last [`STDERR_LINES`] lines of stderr, each cut to [`STDERR_LINE_BYTES`], are kept
//! for error messages.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use games::{GameRef, InputKind, Player};
use rand::RngCore;
use serde_json::json;

use crate::agent::{Agent, AgentError, AgentRng, Decision, View};

/// The longest answer line a program may write (64 KiB); a longer one loses the game.
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Lines of the program's stderr kept for error messages.
pub const STDERR_LINES: usize = 20;

/// The most of one stderr line kept.
pub const STDERR_LINE_BYTES: usize = 1024;

/// How much of a bad answer an error quotes.
const EXCERPT_BYTES: usize = 200;

/// How long a program whose input was closed may take to exit before its group is killed.
const EXIT_GRACE: Duration = Duration::from_millis(200);

/// The process groups of every program running now, so a signal handler can end them all. A
/// process-wide list because signals are process-wide: the arena's Ctrl-C must reach bots that
/// live in their own groups (the terminal's Ctrl-C no longer does).
static LIVE_GROUPS: Mutex<Vec<u32>> = Mutex::new(Vec::new());

fn live_groups() -> MutexGuard<'static, Vec<u32>> {
    LIVE_GROUPS.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Kills the process group of every external program running now (with everything they started).
/// The `arena` command calls it on Ctrl-C and termination signals before it exits.
pub fn end_all_programs() {
    for &group in live_groups().iter() {
        kill_group(group);
    }
}

fn kill_group(group: u32) {
    // SAFETY: kill(2) has no memory-safety preconditions; a negative pid names a process group.
    #[allow(unsafe_code)]
    unsafe {
        libc::kill(-(group as libc::pid_t), libc::SIGKILL);
    }
}

/// An agent played by an external program.
#[derive(Debug)]
pub struct CommandAgent {
    program: String,
    timeout: Duration,
    retries: usize,
    game_spec: String,
    process: Option<Running>,
}

/// One line the program wrote, read within bounds.
#[derive(Debug, Clone, PartialEq)]
enum Line {
    Text(String),
    /// Over the limit: the line's beginning (the rest is skipped, never buffered).
    TooLong {
        excerpt: String,
    },
    /// Not UTF-8: the line read lossily.
    NotUtf8 {
        lossy: String,
    },
}

#[derive(Debug)]
struct Running {
    child: Child,
    /// Lines to write to the program's stdin; a writer thread owns the pipe, so a program that
    /// stops reading never blocks the arena (its answer times out instead).
    input: Option<Sender<String>>,
    lines: Receiver<Line>,
    stderr: Arc<Mutex<VecDeque<String>>>,
}

impl Running {
    /// The process group (the shell's pid: it leads its own group).
    fn group(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Running {
    /// Closes the program's input, gives it a moment to exit, then kills its whole group.
    fn drop(&mut self) {
        self.input = None;
        let until = Instant::now() + EXIT_GRACE;
        while Instant::now() < until && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(5));
        }
        let group = self.group();
        kill_group(group);
        let _ = self.child.wait();
        live_groups().retain(|&g| g != group);
    }
}

/// Reads one line of at most `limit` bytes (without its newline). Past the limit it stops and
/// answers [`Line::TooLong`]; the caller skips the rest with [`skip_line`]. `None` at the end.
fn read_bounded_line(reader: &mut impl BufRead, limit: usize) -> std::io::Result<Option<Line>> {
    let mut line = Vec::new();
    loop {
        let available = fill(reader)?;
        if available.is_empty() {
            return Ok((!line.is_empty()).then(|| finish_line(line)));
        }
        let newline = available.iter().position(|&b| b == b'\n');
        let end = newline.unwrap_or(available.len());
        if line.len() + end > limit {
            let room = limit.saturating_sub(line.len());
            line.extend_from_slice(&available[..room.min(end)]);
            let consumed = room.min(end);
            reader.consume(consumed);
            return Ok(Some(Line::TooLong { excerpt: excerpt(&line) }));
        }
        line.extend_from_slice(&available[..end]);
        let consumed = newline.map_or(end, |n| n + 1);
        reader.consume(consumed);
        if newline.is_some() {
            return Ok(Some(finish_line(line)));
        }
    }
}

/// The reader's buffered bytes, read again after an interrupted read (empty at the end).
fn fill(reader: &mut impl BufRead) -> std::io::Result<&[u8]> {
    loop {
        match reader.fill_buf() {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            // Re-borrowed here: returning the match's borrow would hold it across the loop.
            Ok(_) => return reader.fill_buf(),
            Err(e) => return Err(e),
        }
    }
}

/// Discards input up to and including the next newline.
fn skip_line(reader: &mut impl BufRead) -> std::io::Result<()> {
    loop {
        let available = fill(reader)?;
        if available.is_empty() {
            return Ok(());
        }
        match available.iter().position(|&b| b == b'\n') {
            Some(n) => {
                reader.consume(n + 1);
                return Ok(());
            }
            None => {
                let all = available.len();
                reader.consume(all);
            }
        }
    }
}

fn finish_line(mut bytes: Vec<u8>) -> Line {
    if bytes.last() == Some(&b'\r') {
        bytes.pop();
    }
    match String::from_utf8(bytes) {
        Ok(text) => Line::Text(text),
        Err(e) => Line::NotUtf8 { lossy: String::from_utf8_lossy(e.as_bytes()).into_owned() },
    }
}

/// The beginning of `bytes` as text, for error messages.
fn excerpt(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(EXCERPT_BYTES)];
    let mut text = String::from_utf8_lossy(cut).into_owned();
    if bytes.len() > EXCERPT_BYTES {
        text.push('…');
    }
    text
}

/// Sends the program's stdout lines to `sender`, each bounded, until it ends.
fn forward_lines(stdout: impl Read, sender: Sender<Line>) {
    let mut reader = BufReader::new(stdout);
    while let Ok(Some(line)) = read_bounded_line(&mut reader, MAX_ANSWER_BYTES) {
        let too_long = matches!(line, Line::TooLong { .. });
        if sender.send(line).is_err() || (too_long && skip_line(&mut reader).is_err()) {
            break;
        }
    }
}

/// Keeps the last [`STDERR_LINES`] lines of the program's stderr, each bounded.
fn keep_stderr(stderr: impl Read, kept: Arc<Mutex<VecDeque<String>>>) {
    let mut reader = BufReader::new(stderr);
    while let Ok(Some(line)) = read_bounded_line(&mut reader, STDERR_LINE_BYTES) {
        let text = match line {
            Line::Text(text) => text,
            Line::NotUtf8 { lossy } => lossy,
            Line::TooLong { excerpt } => {
                if skip_line(&mut reader).is_err() {
                    break;
                }
                excerpt
            }
        };
        if let Ok(mut kept) = kept.lock() {
            if kept.len() == STDERR_LINES {
                kept.pop_front();
            }
            kept.push_back(text);
        }
    }
}

impl CommandAgent {
    /// `program` runs through `sh -c` (see the module docs); each move must be answered within
    /// `timeout`.
    pub fn new(program: impl Into<String>, timeout: Duration, retries: usize) -> Self {
        CommandAgent { program: program.into(), timeout, retries, game_spec: String::new(), process: None }
    }

    fn spawn(&self) -> Result<Running, AgentError> {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(&self.program)
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| AgentError::Crashed(format!("cannot start `{}`: {e}", self.program)))?;
        live_groups().push(child.id());
        let (Some(mut stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            kill_group(child.id());
            let _ = child.wait();
            live_groups().retain(|&g| g != child.id());
            return Err(AgentError::Crashed(format!("`{}` started without its pipes", self.program)));
        };
        let (input, to_write) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in to_write {
                if stdin.write_all(line.as_bytes()).and_then(|()| stdin.flush()).is_err() {
                    break;
                }
            }
        });
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || forward_lines(stdout, sender));
        let kept = Arc::new(Mutex::new(VecDeque::new()));
        let sink = Arc::clone(&kept);
        std::thread::spawn(move || keep_stderr(stderr, sink));
        Ok(Running { child, input: Some(input), lines, stderr: kept })
    }

    /// Ends the process (and its group) and describes how it ended, with its last stderr lines.
    fn bury(&mut self, what: &str) -> AgentError {
        let Some(mut running) = self.process.take() else {
            return AgentError::Crashed(what.to_string());
        };
        let status = match running.child.try_wait() {
            Ok(Some(status)) => format!(" ({status})"),
            _ => String::new(),
        };
        let stderr = Arc::clone(&running.stderr);
        kill_group(running.group());
        // Give the stderr reader a moment to collect the program's last words.
        std::thread::sleep(Duration::from_millis(20));
        drop(running);
        let tail = stderr.lock().map(|lines| lines.iter().cloned().collect::<Vec<_>>().join("\n")).unwrap_or_default();
        let tail = if tail.is_empty() { String::new() } else { format!("; its stderr ends:\n{tail}") };
        AgentError::Crashed(format!("`{}` {what}{status}{tail}", self.program))
    }

    fn send(&mut self, message: &serde_json::Value) -> Result<(), AgentError> {
        let Some(running) = self.process.as_mut() else {
            return Err(AgentError::Crashed(format!("`{}` is not running", self.program)));
        };
        let sent = running.input.as_ref().is_some_and(|input| input.send(format!("{message}\n")).is_ok());
        if sent { Ok(()) } else { Err(self.bury("stopped reading its input")) }
    }
}

impl Agent for CommandAgent {
    fn start(&mut self, game: &GameRef, player: Player) -> Result<(), AgentError> {
        let alive = match self.process.as_mut() {
            Some(running) => matches!(running.child.try_wait(), Ok(None)),
            None => false,
        };
        if !alive {
            // Dropping the old process ends its group (and anything it left running).
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
        match line {
            Line::Text(line) => Ok(read_answer(&line, view.input_kind())),
            Line::TooLong { excerpt } => {
                // It may still be writing: the next game gets a fresh process.
                let _ = self.bury("answered too long a line");
                Err(AgentError::TooLong { limit: MAX_ANSWER_BYTES, excerpt })
            }
            Line::NotUtf8 { lossy } => Err(AgentError::Garbled(format!(
                "`{}` answered bytes that are not UTF-8: `{}`",
                self.program,
                excerpt(lossy.as_bytes())
            ))),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], limit: usize) -> Vec<Line> {
        let mut reader = BufReader::with_capacity(7, input);
        let mut out = Vec::new();
        while let Ok(Some(line)) = read_bounded_line(&mut reader, limit) {
            let too_long = matches!(line, Line::TooLong { .. });
            out.push(line);
            if too_long && skip_line(&mut reader).is_err() {
                break;
            }
        }
        out
    }

    #[test]
    fn lines_are_read_within_their_bound_whatever_the_buffer_size() {
        let text = |s: &str| Line::Text(s.to_string());
        assert_eq!(lines(b"a\nbc\r\n\nlast", 10), vec![text("a"), text("bc"), text(""), text("last")]);
        // Exactly at the limit is fine; one byte more is too long, and the rest of that line is
        // skipped without being kept.
        assert_eq!(lines(b"0123456789\n", 10), vec![text("0123456789")]);
        assert_eq!(
            lines(b"0123456789X and much more\nnext\n", 10),
            vec![Line::TooLong { excerpt: "0123456789".to_string() }, text("next")]
        );
        assert_eq!(lines(b"\xff\xfeok\n", 10), vec![Line::NotUtf8 { lossy: "\u{fffd}\u{fffd}ok".to_string() }]);
        // A line that never ends is cut at the limit.
        let endless = vec![b'x'; 1000];
        assert!(matches!(lines(&endless, 100).as_slice(), [Line::TooLong { excerpt }] if excerpt.len() == 100));
    }

    #[test]
    fn excerpts_are_short() {
        let long = "é".repeat(500);
        let cut = excerpt(long.as_bytes());
        assert!(cut.len() <= EXCERPT_BYTES + '…'.len_utf8() + 3 && cut.ends_with('…'), "{cut}");
    }
}
