//! Quiz task sets: generated questions with exact answers, and user sets read from JSONL; and how
//! a reply is read as an answer.
//!
//! The generated set ([`generate`]) is a pure function of `(seed, items, kinds)`; item `i` depends
//! only on the seed, the kinds and `i` (one random stream read in order), so a larger set extends a
//! smaller one. Each item's kind is drawn uniformly from the allowed kinds; the answer is computed
//! from the random values, never written by hand.
//!
//! A user set ([`load_jsonl`]) is a file of JSON lines, one task per line:
//! `{"question": "What is 7 × 8?", "answer": 56, "kind": "multiplication"}`. `answer` is a whole
//! number (a JSON number or a string of digits) or yes/no (`true`/`false`, or the strings `"yes"`
//! and `"no"`); `kind` is optional (`custom` by default); other fields are ignored; blank lines
//! are skipped.

use std::fmt;
use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::debate::propositions::{ItemFile, WORDS, preview, read_item_file};
use crate::error::{Error, Result};

/// A task's exact answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Answer {
    Number(i64),
    YesNo(bool),
}

impl fmt::Display for Answer {
    /// The canonical text: `42`, `yes` or `no`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Answer::Number(n) => write!(f, "{n}"),
            Answer::YesNo(true) => f.write_str("yes"),
            Answer::YesNo(false) => f.write_str("no"),
        }
    }
}

/// One question with its exact answer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Task {
    pub question: String,
    pub answer: Answer,
    /// One of [`KINDS`] for generated items, free text for user sets.
    pub kind: String,
}

impl Task {
    /// What the reply must be, as the prompt says it.
    pub fn format_words(&self) -> &'static str {
        match self.answer {
            Answer::Number(_) => "the answer only, as a whole number (for example: 42)",
            Answer::YesNo(_) => "yes or no only",
        }
    }

    /// Reads `reply` as an answer of this task's type (see [`read_number`] and [`read_yes_no`]).
    pub fn read(&self, reply: &str) -> Result<Answer> {
        match self.answer {
            Answer::Number(_) => read_number(reply).map(Answer::Number),
            Answer::YesNo(_) => read_yes_no(reply).map(Answer::YesNo),
        }
    }
}

/// The kinds of generated tasks, each with an example question. Sized for small models: the
/// numbers are small, the lists short.
pub const KINDS: &[(&str, &str)] = &[
    ("addition", "What is 23 + 18?"),
    ("subtraction", "What is 83 - 27?"),
    ("multiplication", "What is 7 × 8?"),
    ("letter_count", "How many times does the letter \"s\" appear in the word \"mississippi\"?"),
    ("largest", "What is the largest of these numbers: 41, 7, 23, 15?"),
    ("even_count", "How many even numbers are in this list: 3, 8, 10, 7, 12, 14?"),
    ("comparison", "Is 9 × 6 greater than 50?"),
];

/// The kind given to items of a user file that name none.
pub const DEFAULT_KIND: &str = "custom";

/// Reads a `kinds` parameter: `all`, or kind names separated by `+` (e.g. `addition+multiplication`).
pub fn parse_kinds(text: &str) -> std::result::Result<Vec<&'static str>, String> {
    if text.trim() == "all" {
        return Ok(KINDS.iter().map(|(k, _)| *k).collect());
    }
    let mut kinds = Vec::new();
    for name in text.split('+').map(str::trim) {
        let Some((kind, _)) = KINDS.iter().find(|(k, _)| *k == name) else {
            let known: Vec<&str> = KINDS.iter().map(|(k, _)| *k).collect();
            return Err(format!("unknown kind `{name}`; expected `all` or some of {} joined by `+`", known.join(", ")));
        };
        if !kinds.contains(kind) {
            kinds.push(*kind);
        }
    }
    Ok(kinds)
}

/// The generated set: `items` tasks from `seed`, each of a kind drawn uniformly from `kinds`
/// (names from [`KINDS`]; an unknown name generates additions).
pub fn generate(seed: u64, items: usize, kinds: &[&str]) -> Vec<Task> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let kinds = if kinds.is_empty() { vec!["addition"] } else { kinds.to_vec() };
    (0..items)
        .map(|_| {
            let kind = kinds[rng.random_range(0..kinds.len())];
            generate_one(&mut rng, kind)
        })
        .collect()
}

fn generate_one(rng: &mut Xoshiro256PlusPlus, kind: &str) -> Task {
    let number = |question: String, n: i64| (question, Answer::Number(n));
    let (question, answer) = match kind {
        "subtraction" => {
            let a = rng.random_range(10..=99i64);
            let b = rng.random_range(1..a);
            number(format!("What is {a} - {b}?"), a - b)
        }
        "multiplication" => {
            let (a, b) = (rng.random_range(2..=12i64), rng.random_range(2..=12i64));
            number(format!("What is {a} × {b}?"), a * b)
        }
        "letter_count" => {
            let word = WORDS[rng.random_range(0..WORDS.len())];
            let letters: Vec<char> = word.chars().collect();
            let letter = letters[rng.random_range(0..letters.len())];
            let count = letters.iter().filter(|&&c| c == letter).count() as i64;
            number(format!("How many times does the letter \"{letter}\" appear in the word \"{word}\"?"), count)
        }
        "largest" => {
            let numbers = distinct_numbers(rng, 4, 99);
            let largest = numbers.iter().copied().max().unwrap_or(0);
            number(format!("What is the largest of these numbers: {}?", join(&numbers)), largest)
        }
        "even_count" => {
            let numbers: Vec<i64> = (0..6).map(|_| rng.random_range(1..=20)).collect();
            let evens = numbers.iter().filter(|&&n| n % 2 == 0).count() as i64;
            number(format!("How many even numbers are in this list: {}?", join(&numbers)), evens)
        }
        "comparison" => {
            let (a, b) = (rng.random_range(2..=12i64), rng.random_range(2..=12i64));
            let product = a * b;
            // A threshold near the product, never equal to it.
            let gap = rng.random_range(1..=product / 5 + 2);
            let threshold = if rng.random_bool(0.5) { product + gap } else { (product - gap).max(0) };
            (format!("Is {a} × {b} greater than {threshold}?"), Answer::YesNo(product > threshold))
        }
        _ => {
            let (a, b) = (rng.random_range(1..=50i64), rng.random_range(1..=50i64));
            number(format!("What is {a} + {b}?"), a + b)
        }
    };
    Task { question, answer, kind: kind.to_string() }
}

fn distinct_numbers(rng: &mut Xoshiro256PlusPlus, count: usize, max: i64) -> Vec<i64> {
    let mut numbers = Vec::with_capacity(count);
    while numbers.len() < count {
        let n = rng.random_range(1..=max);
        if !numbers.contains(&n) {
            numbers.push(n);
        }
    }
    numbers
}

fn join(numbers: &[i64]) -> String {
    numbers.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
}

/// Number words a reply may use instead of digits.
const NUMBER_WORDS: &[(&str, i64)] = &[
    ("zero", 0),
    ("none", 0),
    ("one", 1),
    ("once", 1),
    ("two", 2),
    ("twice", 2),
    ("three", 3),
    ("thrice", 3),
    ("four", 4),
    ("five", 5),
    ("six", 6),
    ("seven", 7),
    ("eight", 8),
    ("nine", 9),
    ("ten", 10),
    ("eleven", 11),
    ("twelve", 12),
];

/// Reads a whole-number answer: the first number after the reply's last `=` if it has one (so
/// `7 × 8 = 56` reads 56), else the first number in the reply. A number is a run of digits
/// (with a `-` right before it when that starts a word: `-3`, not `5-3`) or a number word from
/// zero to twelve (`twice` is 2).
pub fn read_number(reply: &str) -> Result<i64> {
    let after_equals = reply.rfind('=').map_or(reply, |at| &reply[at + 1..]);
    let mut at = 0;
    while let Some(c) = after_equals[at..].chars().next() {
        let start = at;
        if c.is_ascii_digit() || c.is_alphabetic() {
            // The run of characters of the same class (digits, or letters).
            let same = |d: char| if c.is_ascii_digit() { d.is_ascii_digit() } else { d.is_alphabetic() };
            at += after_equals[at..].find(|d: char| !same(d)).unwrap_or(after_equals.len() - at);
            let run = &after_equals[start..at];
            if c.is_ascii_digit() {
                let mut before = after_equals[..start].chars().rev().peekable();
                let negative = before.next() == Some('-') && before.peek().is_none_or(|b| !b.is_alphanumeric());
                let value: i64 = run.parse().map_err(|_| Error::ParseAction {
                    text: preview(reply),
                    reason: format!("the number {run} is too large"),
                })?;
                return Ok(if negative { -value } else { value });
            }
            let word = run.to_lowercase();
            if let Some((_, value)) = NUMBER_WORDS.iter().find(|(w, _)| *w == word) {
                return Ok(*value);
            }
        } else {
            at += c.len_utf8();
        }
    }
    Err(Error::ParseAction {
        text: preview(reply.trim()),
        reason: "the reply has no number; reply with the answer as a whole number, for example: 42".to_string(),
    })
}

/// Reads a yes/no answer as [`crate::debate::parse_verdict`] reads a verdict: `yes`, `true`,
/// `correct` mean yes; `no`, `false`, `incorrect` mean no; a word after `not` counts for the other
/// side; the reply must name exactly one side.
pub fn read_yes_no(reply: &str) -> Result<bool> {
    crate::debate::parse_verdict(reply).map(|side| side == crate::debate::PRO).map_err(|_| Error::ParseAction {
        text: preview(reply.trim()),
        reason: "the reply must say yes or no (one of them, once)".to_string(),
    })
}

/// Reads a user set from a JSONL file. Errors name the file, the line and the problem.
pub fn load_jsonl(path: impl AsRef<Path>) -> Result<Vec<Task>> {
    let example = "{\"question\": \"What is 7 × 8?\", \"answer\": 56}";
    read_item_file(path.as_ref(), ItemFile { game: "quiz", param: "tasks", items: "tasks", example }, parse_task_line)
}

/// Reads one task from a JSON line; the error says what is wrong with it.
pub fn parse_task_line(line: &str) -> std::result::Result<Task, String> {
    use serde_json::Value;
    let value: Value = serde_json::from_str(line).map_err(|e| format!("bad JSON: {e}"))?;
    let Some(object) = value.as_object() else {
        return Err(format!("expected a JSON object, found `{}`", preview(line)));
    };
    let question = match object.get("question") {
        None => return Err("missing field \"question\"".to_string()),
        Some(Value::String(s)) if s.trim().is_empty() => return Err("the question is empty".to_string()),
        Some(Value::String(s)) => s.trim().to_string(),
        Some(other) => return Err(format!("\"question\" must be a string, found {other}")),
    };
    let answer = match object.get("answer") {
        None => return Err("missing field \"answer\"".to_string()),
        Some(Value::Bool(b)) => Answer::YesNo(*b),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(n) => Answer::Number(n),
            None => return Err(format!("\"answer\" must be a whole number or yes/no, found {n}")),
        },
        Some(Value::String(s)) => match s.trim().to_lowercase().as_str() {
            "yes" | "true" => Answer::YesNo(true),
            "no" | "false" => Answer::YesNo(false),
            digits => match digits.parse::<i64>() {
                Ok(n) => Answer::Number(n),
                Err(_) => return Err(format!("\"answer\" must be a whole number or yes/no, found \"{s}\"")),
            },
        },
        Some(other) => return Err(format!("\"answer\" must be a whole number or yes/no, found {other}")),
    };
    let kind = match object.get("kind") {
        None | Some(Value::Null) => DEFAULT_KIND.to_string(),
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
        Some(other) => return Err(format!("\"kind\" must be a non-empty string, found {other}")),
    };
    Ok(Task { question, answer, kind })
}

/// Works out the answer of a question written in one of the generated forms, from its text alone:
/// `What is <expression>?` (whole numbers, `+`, `-`, `×`/`*`/`x`, parentheses), `Is <expression>
/// greater/less than <number>?`, `How many times does the letter "c" appear in the word "w"?`,
/// `What is the largest/smallest of these numbers: a, b, c?` and `How many even/odd numbers are in
/// this list: a, b, c?`. Returns the answer and the form's kind, or `None` for any other text (a
/// question the arena cannot check). Case and surrounding spaces do not matter.
pub fn solve(question: &str) -> Option<(Answer, &'static str)> {
    let text = question.trim().trim_end_matches('?').trim();
    let lower = text.to_lowercase();
    if let Some(rest) = lower.strip_prefix("how many times does the letter ") {
        let quoted: Vec<&str> = rest.split('"').collect();
        // `"c" appear in the word "w"`: quoted[1] is the letter, quoted[3] the word.
        if quoted.len() != 5 || !quoted[2].trim().starts_with("appear") || quoted[1].chars().count() != 1 {
            return None;
        }
        let (letter, word) = (quoted[1], quoted[3]);
        if word.is_empty() || !word.chars().all(char::is_alphabetic) || !quoted[4].trim().is_empty() {
            return None;
        }
        return Some((Answer::Number(word.matches(letter).count() as i64), "letter_count"));
    }
    for (prefix, largest) in
        [("what is the largest of these numbers:", true), ("what is the smallest of these numbers:", false)]
    {
        if let Some(list) = lower.strip_prefix(prefix) {
            let numbers = number_list(list)?;
            let pick = if largest { numbers.iter().max() } else { numbers.iter().min() };
            return pick.map(|&n| (Answer::Number(n), "largest"));
        }
    }
    for (prefix, even) in
        [("how many even numbers are in this list:", true), ("how many odd numbers are in this list:", false)]
    {
        if let Some(list) = lower.strip_prefix(prefix) {
            let numbers = number_list(list)?;
            let count = numbers.iter().filter(|&&n| (n % 2 == 0) == even).count() as i64;
            return Some((Answer::Number(count), "even_count"));
        }
    }
    if let Some(rest) = lower.strip_prefix("is ") {
        for (relation, greater) in [(" greater than ", true), (" less than ", false)] {
            if let Some((left, right)) = rest.split_once(relation) {
                let value = Expression::evaluate(left)?;
                let threshold: i64 = right.trim().parse().ok()?;
                let kind = "comparison";
                return Some((Answer::YesNo(if greater { value > threshold } else { value < threshold }), kind));
            }
        }
        return None;
    }
    let expression = lower.strip_prefix("what is ")?;
    let value = Expression::evaluate(expression)?;
    let kind = if expression.contains(['×', '*', 'x']) {
        "multiplication"
    } else if expression.contains('-') && !expression.contains('+') {
        "subtraction"
    } else {
        "addition"
    };
    Some((Answer::Number(value), kind))
}

/// The value of a small arithmetic expression (whole numbers, `+ - × * x`, parentheses; `×`
/// binds tighter), or `None` for any other text or a value beyond ±10^12.
pub fn evaluate_expression(text: &str) -> Option<i64> {
    Expression::evaluate(text)
}

/// `a, b, c` (two to twenty whole numbers).
pub(crate) fn number_list(text: &str) -> Option<Vec<i64>> {
    let numbers: Option<Vec<i64>> = text.split(',').map(|n| n.trim().parse().ok()).collect();
    numbers.filter(|n| (2..=20).contains(&n.len()))
}

/// A small arithmetic expression: whole numbers, `+ - × * x`, parentheses; `×` binds tighter.
/// Values stay within ±10^12 (larger ones are refused, not wrapped).
struct Expression<'a> {
    tokens: Vec<&'a str>,
    at: usize,
}

const EXPRESSION_LIMIT: i64 = 1_000_000_000_000;

impl<'a> Expression<'a> {
    fn evaluate(text: &'a str) -> Option<i64> {
        let mut tokens = Vec::new();
        let mut rest = text.trim();
        while let Some(c) = rest.chars().next() {
            let width = if c.is_ascii_digit() {
                rest.find(|d: char| !d.is_ascii_digit()).unwrap_or(rest.len())
            } else if c.is_whitespace() {
                rest = rest.trim_start();
                continue;
            } else if matches!(c, '+' | '-' | '×' | '*' | 'x' | '(' | ')') {
                c.len_utf8()
            } else {
                return None;
            };
            tokens.push(&rest[..width]);
            rest = &rest[width..];
        }
        if tokens.len() > 40 {
            return None;
        }
        let mut parser = Expression { tokens, at: 0 };
        let value = parser.sum()?;
        (parser.at == parser.tokens.len()).then_some(value)
    }

    fn next_is(&self, options: &[&str]) -> Option<&'a str> {
        self.tokens.get(self.at).copied().filter(|t| options.contains(t))
    }

    fn sum(&mut self) -> Option<i64> {
        let mut value = self.product()?;
        while let Some(op) = self.next_is(&["+", "-"]) {
            self.at += 1;
            let right = self.product()?;
            value = if op == "+" { value.checked_add(right)? } else { value.checked_sub(right)? };
        }
        (value.abs() <= EXPRESSION_LIMIT).then_some(value)
    }

    fn product(&mut self) -> Option<i64> {
        let mut value = self.atom()?;
        while self.next_is(&["×", "*", "x"]).is_some() {
            self.at += 1;
            value = value.checked_mul(self.atom()?)?;
            if value.abs() > EXPRESSION_LIMIT {
                return None;
            }
        }
        Some(value)
    }

    fn atom(&mut self) -> Option<i64> {
        let token = *self.tokens.get(self.at)?;
        self.at += 1;
        if token == "(" {
            let value = self.sum()?;
            self.next_is(&[")"])?;
            self.at += 1;
            return Some(value);
        }
        let value: i64 = token.parse().ok()?;
        (value <= EXPRESSION_LIMIT).then_some(value)
    }
}
