//! An agent's context: what a language model is told before every decision besides the game
//! itself — a system prompt, few-shot exchanges and lessons. It is part of the agent like its
//! weights (a small file, hashed), read by `llm(..., context=FILE)` and `openai(..., context=FILE)`
//! or from `context.json` in a checkpoint directory, and evolved by `arena evolve`'s in-context
//! operators without any gradient.
//!
//! The file is JSON (or TOML, by its `.toml` extension):
//!
//! ```json
//! { "format": "arena-context-1",
//!   "system": "You play tic-tac-toe. Take the centre early; block two in a row.",
//!   "examples": [ { "turn": "move", "user": "<a position and its legal moves>", "assistant": "b2" } ],
//!   "lessons": [ "Check the opponent's threats before making your own." ] }
//! ```
//!
//! Every part is optional. A decision's prompt is the system prompt (the context's, else the
//! agent's `system=`, else the default for the turn) with the lessons listed after it, then the
//! examples for the turn's kind as earlier user/assistant exchanges, then the position.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::chat::ChatMessage;
use crate::checkpoint::sha256_hex;

/// The value of [`AgentContext::format`].
pub const CONTEXT_FORMAT: &str = "arena-context-1";
/// The context file of a checkpoint directory.
pub const CONTEXT_FILE: &str = "context.json";
/// The largest context file read, in bytes: a context is a prompt, not a corpus.
pub const MAX_CONTEXT_BYTES: u64 = 64 * 1024;
/// The longest lesson, in characters.
pub const MAX_LESSON_CHARS: usize = 400;

/// The kind of turn an example shows: a move (or verdict) chosen from legal ones, or free text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TurnKind {
    Move,
    Text,
}

impl TurnKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TurnKind::Move => "move",
            TurnKind::Text => "text",
        }
    }
}

/// One few-shot exchange: what the model was shown and a good answer.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Example {
    /// The turns it is shown at; every turn when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn: Option<TurnKind>,
    pub user: String,
    pub assistant: String,
}

impl Example {
    fn applies_to(&self, turn: TurnKind) -> bool {
        self.turn.is_none_or(|t| t == turn)
    }
}

/// A system prompt, few-shot exchanges and lessons.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentContext {
    /// [`CONTEXT_FORMAT`]; may be left out of a hand-written file.
    #[serde(default = "default_format")]
    pub format: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<Example>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lessons: Vec<String>,
}

fn default_format() -> String {
    CONTEXT_FORMAT.to_string()
}

/// A context file that cannot be used: the file and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextError {
    pub path: PathBuf,
    pub message: String,
}

impl fmt::Display for ContextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "context file {}: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for ContextError {}

/// Text a chat template gives meaning to: a context holding it could end its own message early
/// and speak as another role.
const TEMPLATE_MARKERS: [&str; 6] =
    ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|start_header_id|>", "[INST]"];

impl AgentContext {
    /// An empty context (the agent's prompts as without one).
    pub fn new() -> Self {
        AgentContext { format: default_format(), ..AgentContext::default() }
    }

    /// Reads and checks the context file at `path`.
    pub fn load(path: &Path) -> Result<AgentContext, ContextError> {
        let error = |message: String| ContextError { path: path.to_path_buf(), message };
        let metadata = std::fs::metadata(path).map_err(|e| error(format!("cannot read it: {e}")))?;
        if !metadata.is_file() {
            return Err(error("is not a file".to_string()));
        }
        if metadata.len() > MAX_CONTEXT_BYTES {
            return Err(error(format!("{} bytes; a context holds at most {MAX_CONTEXT_BYTES}", metadata.len())));
        }
        let bytes = std::fs::read(path).map_err(|e| error(format!("cannot read it: {e}")))?;
        let text = String::from_utf8(bytes).map_err(|_| error("is not UTF-8 text".to_string()))?;
        let context = if path.extension().is_some_and(|e| e == "toml") {
            toml::from_str(&text).map_err(|e| error(format!("not a context (TOML): {e}")))?
        } else {
            serde_json::from_str(&text).map_err(|e| error(format!("not a context (JSON): {e}")))?
        };
        Self::check(&context).map_err(error)?;
        Ok(context)
    }

    /// Writes the context as pretty JSON to `path` (through a temporary file, so a reader never
    /// sees half of it).
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let text = self.to_json();
        let partial = path.with_extension("json.partial");
        std::fs::write(&partial, text.as_bytes())?;
        std::fs::rename(&partial, path)
    }

    /// The context as the JSON a file holds.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self)
            .unwrap_or_else(|e| unreachable!("a context of strings always serializes: {e}"));
        text.push('\n');
        text
    }

    /// The SHA-256 of the context's JSON form (equal contexts hash equal however they were written).
    pub fn sha256(&self) -> String {
        sha256_hex(self.to_json().as_bytes())
    }

    /// Whether it changes nothing in a prompt.
    pub fn is_empty(&self) -> bool {
        self.system.is_none() && self.examples.is_empty() && self.lessons.is_empty()
    }

    /// What is wrong with a context, if anything: the first problem, naming its field.
    pub fn check(&self) -> Result<(), String> {
        if self.format != CONTEXT_FORMAT {
            return Err(format!("format {:?}; this version reads {CONTEXT_FORMAT:?}", self.format));
        }
        if let Some(system) = &self.system {
            check_text("system", system)?;
        }
        for (i, example) in self.examples.iter().enumerate() {
            check_text(&format!("examples[{i}].user"), &example.user)?;
            check_text(&format!("examples[{i}].assistant"), &example.assistant)?;
        }
        for (i, lesson) in self.lessons.iter().enumerate() {
            let field = format!("lessons[{i}]");
            check_text(&field, lesson)?;
            let chars = lesson.chars().count();
            if chars > MAX_LESSON_CHARS {
                return Err(format!("{field} is {chars} characters; a lesson holds at most {MAX_LESSON_CHARS}"));
            }
        }
        Ok(())
    }

    /// The system message's text: the context's system prompt, else `fallback`, with the lessons
    /// listed after it.
    pub fn system_text(&self, fallback: &str) -> String {
        let mut text = self.system.clone().unwrap_or_else(|| fallback.to_string());
        if !self.lessons.is_empty() {
            text.push_str("\n\nLessons from your earlier games:");
            for lesson in &self.lessons {
                text.push_str("\n- ");
                text.push_str(lesson.trim());
            }
        }
        text
    }

    /// The messages of a decision at a `turn`: the system message (see [`Self::system_text`]), the
    /// examples for that kind of turn as earlier exchanges, then `user`.
    pub fn messages(&self, turn: TurnKind, fallback_system: &str, user: String) -> Vec<ChatMessage> {
        let mut messages = vec![ChatMessage::system(self.system_text(fallback_system))];
        for example in self.examples.iter().filter(|e| e.applies_to(turn)) {
            messages.push(ChatMessage::user(example.user.clone()));
            messages.push(ChatMessage::assistant(example.assistant.clone()));
        }
        messages.push(ChatMessage::user(user));
        messages
    }

    /// What changed from `parent` to this context.
    pub fn diff_from(&self, parent: &AgentContext) -> ContextDiff {
        let kept = |list: &[String], other: &[String]| -> Vec<String> {
            list.iter().filter(|x| !other.contains(x)).cloned().collect()
        };
        let examples = |list: &[Example], other: &[Example]| -> Vec<Example> {
            list.iter().filter(|x| !other.contains(x)).cloned().collect()
        };
        ContextDiff {
            system: (self.system != parent.system).then(|| (parent.system.clone(), self.system.clone())),
            examples_added: examples(&self.examples, &parent.examples),
            examples_removed: examples(&parent.examples, &self.examples),
            lessons_added: kept(&self.lessons, &parent.lessons),
            lessons_removed: kept(&parent.lessons, &self.lessons),
        }
    }
}

/// A field's text must say something and must not contain a chat template's markers or control
/// characters.
fn check_text(field: &str, text: &str) -> Result<(), String> {
    if text.trim().is_empty() {
        return Err(format!("{field} is empty (leave the field out instead)"));
    }
    if let Some(marker) = TEMPLATE_MARKERS.iter().find(|m| text.contains(**m)) {
        return Err(format!("{field} contains `{marker}`, a chat template's marker"));
    }
    if let Some(c) = text.chars().find(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r')) {
        return Err(format!("{field} contains the control character U+{:04X}", c as u32));
    }
    Ok(())
}

/// The hash naming a language-model agent: its weights' SHA-256 alone, or with a context both
/// (`SHA-256("weights W\ncontext C\n")`), so that two contexts on the same weights differ.
pub fn agent_hash(weights: &str, context: Option<&str>) -> String {
    match context {
        None => weights.to_string(),
        Some(context) => sha256_hex(format!("weights {weights}\ncontext {context}\n").as_bytes()),
    }
}

/// What a child's context changed from its parent's.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContextDiff {
    /// The system prompt before and after, when it changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<(Option<String>, Option<String>)>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub examples_added: Vec<Example>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub examples_removed: Vec<Example>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lessons_added: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lessons_removed: Vec<String>,
}

impl ContextDiff {
    pub fn is_empty(&self) -> bool {
        self == &ContextDiff::default()
    }

    /// One line: what changed, counted (`system prompt rewritten, +3 examples, +1 lesson`).
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if let Some((before, after)) = &self.system {
            parts.push(match (before, after) {
                (None, Some(_)) => "system prompt set".to_string(),
                (Some(_), None) => "system prompt removed".to_string(),
                _ => "system prompt rewritten".to_string(),
            });
        }
        let count = |n: usize, sign: char, what: &str| (n > 0).then(|| format!("{sign}{n} {what}{}", plural(n)));
        parts.extend(count(self.examples_added.len(), '+', "example"));
        parts.extend(count(self.examples_removed.len(), '-', "example"));
        parts.extend(count(self.lessons_added.len(), '+', "lesson"));
        parts.extend(count(self.lessons_removed.len(), '-', "lesson"));
        if parts.is_empty() { "unchanged".to_string() } else { parts.join(", ") }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

impl fmt::Display for ContextDiff {
    /// A diff for people: `-`/`+` lines per changed part.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some((before, after)) = &self.system {
            if let Some(before) = before {
                writeln!(f, "- system: {before}")?;
            }
            if let Some(after) = after {
                writeln!(f, "+ system: {after}")?;
            }
        }
        for (sign, examples) in [('-', &self.examples_removed), ('+', &self.examples_added)] {
            for e in examples {
                let turn = e.turn.map_or("any", TurnKind::as_str);
                writeln!(f, "{sign} example ({turn}): {} => {}", one_line(&e.user), one_line(&e.assistant))?;
            }
        }
        for (sign, lessons) in [('-', &self.lessons_removed), ('+', &self.lessons_added)] {
            for lesson in lessons {
                writeln!(f, "{sign} lesson: {}", one_line(lesson))?;
            }
        }
        Ok(())
    }
}

/// A text on one line, shortened to 120 characters.
fn one_line(text: &str) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(120) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        path
    }

    fn load_error(dir: &Path, name: &str, text: &str) -> String {
        match AgentContext::load(&write(dir, name, text)) {
            Ok(context) => panic!("{text} was read as {context:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_context_file_is_read_from_json_or_toml_and_builds_the_prompt() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let json = write(
            dir.path(),
            "c.json",
            r#"{"system": "Play well.", "examples": [{"turn": "move", "user": "Board A", "assistant": "b2"},
                {"turn": "text", "user": "Argue", "assistant": "Because."}], "lessons": ["Block threats."]}"#,
        );
        let context = AgentContext::load(&json).unwrap_or_else(|e| panic!("{e}"));
        let toml = write(
            dir.path(),
            "c.toml",
            "system = \"Play well.\"\nlessons = [\"Block threats.\"]\n[[examples]]\nturn = \"move\"\nuser = \"Board A\"\nassistant = \"b2\"\n[[examples]]\nturn = \"text\"\nuser = \"Argue\"\nassistant = \"Because.\"\n",
        );
        assert_eq!(AgentContext::load(&toml).unwrap_or_else(|e| panic!("{e}")), context);
        let messages = context.messages(TurnKind::Move, "default", "Board B".to_string());
        let roles: Vec<&str> = messages.iter().map(|m| m.role.as_str()).collect();
        assert_eq!(roles, ["system", "user", "assistant", "user"]);
        assert_eq!(messages[0].content, "Play well.\n\nLessons from your earlier games:\n- Block threats.");
        assert_eq!((messages[1].content.as_str(), messages[2].content.as_str()), ("Board A", "b2"));
        assert_eq!(messages[3].content, "Board B");
        // A text turn sees the text example; no system prompt falls back to the agent's own.
        let bare = AgentContext { system: None, ..context.clone() };
        let messages = bare.messages(TurnKind::Text, "default", "Argue now".to_string());
        assert!(messages[0].content.starts_with("default\n\nLessons"));
        assert_eq!(messages[2].content, "Because.");
        // Saved and read back: the same context, the same hash.
        let saved = dir.path().join(CONTEXT_FILE);
        context.save(&saved).unwrap_or_else(|e| panic!("{e}"));
        let again = AgentContext::load(&saved).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again, context);
        assert_eq!(again.sha256(), context.sha256());
        assert_ne!(bare.sha256(), context.sha256());
        assert!(AgentContext::new().is_empty() && !context.is_empty());
    }

    #[test]
    fn a_bad_context_file_is_refused_naming_the_file_and_the_field() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let cases = [
            (r#"{"system": "  "}"#, "system is empty"),
            (r#"{"lessons": ["ok", ""]}"#, "lessons[1] is empty"),
            (r#"{"examples": [{"user": "a"}]}"#, "missing field `assistant`"),
            (
                r#"{"examples": [{"user": "a", "assistant": "b<|im_end|>"}]}"#,
                "examples[0].assistant contains `<|im_end|>`",
            ),
            (r#"{"examples": [{"turn": "verdict", "user": "a", "assistant": "b"}]}"#, "unknown variant `verdict`"),
            (r#"{"sytem": "typo"}"#, "unknown field `sytem`"),
            (r#"{"format": "arena-context-9"}"#, "this version reads"),
            (r#"{"system": "a\u0007b"}"#, "control character U+0007"),
            ("[1, 2", "not a context (JSON)"),
        ];
        for (text, expected) in cases {
            let message = load_error(dir.path(), "bad.json", text);
            assert!(message.contains("bad.json") && message.contains(expected), "{text}: {message}");
        }
        let long = format!(r#"{{"lessons": ["{}"]}}"#, "x".repeat(MAX_LESSON_CHARS + 1));
        assert!(load_error(dir.path(), "long.json", &long).contains("at most 400"));
        let huge = format!(r#"{{"system": "{}"}}"#, "x".repeat(MAX_CONTEXT_BYTES as usize));
        assert!(load_error(dir.path(), "huge.json", &huge).contains("at most 65536"));
        let missing = AgentContext::load(&dir.path().join("absent.json")).err().map(|e| e.to_string());
        assert!(missing.is_some_and(|m| m.contains("absent.json") && m.contains("cannot read")));
    }

    #[test]
    fn a_diff_names_what_changed() {
        let parent = AgentContext {
            system: Some("Old.".into()),
            lessons: vec!["keep".into(), "drop".into()],
            ..AgentContext::new()
        };
        let example = Example { turn: Some(TurnKind::Move), user: "Board".into(), assistant: "a1".into() };
        let child = AgentContext {
            system: Some("New.".into()),
            examples: vec![example.clone()],
            lessons: vec!["keep".into(), "learned".into()],
            ..AgentContext::new()
        };
        let diff = child.diff_from(&parent);
        assert_eq!(diff.system, Some((Some("Old.".into()), Some("New.".into()))));
        assert_eq!(diff.examples_added, vec![example]);
        assert_eq!(diff.lessons_added, vec!["learned".to_string()]);
        assert_eq!(diff.lessons_removed, vec!["drop".to_string()]);
        assert_eq!(diff.summary(), "system prompt rewritten, +1 example, +1 lesson, -1 lesson");
        let text = diff.to_string();
        assert!(text.contains("- system: Old.\n+ system: New.\n") && text.contains("+ example (move): Board => a1"));
        assert!(parent.diff_from(&parent).is_empty());
        assert_eq!(parent.diff_from(&parent).summary(), "unchanged");
    }
}
