//! Self-instruct: quiz tasks or debate propositions a model proposes, validated by the arena before
//! any is used. A proposal is kept only if its text passes the [`TextFilter`] (quality and
//! safety), it is within the length limits, the arena can work out the answer or the truth itself
//! ([`games::quiz::tasks::solve`], [`games::debate::propositions::check_claim`]: the model's own
//! answer, if it gives one, is never trusted), and it is neither a duplicate of an item in the
//! pool (the same normalised text) nor a near-duplicate (word-trigram Jaccard overlap at or above
//! a threshold).

use std::collections::{BTreeMap, HashSet};

use games::debate::propositions::{self as debate_propositions, check_claim};
use games::quiz::tasks::{self as quiz_tasks, solve};
use serde::{Deserialize, Serialize};

use super::text_filter::TextFilter;

/// Why a proposal was not kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rejection {
    /// The text filter removed it (refusal, degenerate, blocklisted, ...).
    Filtered,
    TooShort,
    TooLong,
    /// No question or claim in a form the arena can check.
    Uncheckable,
    /// The same normalised text as a task in the pool.
    Duplicate,
    /// Too many word trigrams in common with a task in the pool.
    NearDuplicate,
}

impl Rejection {
    pub const ALL: [Rejection; 6] = [
        Rejection::Filtered,
        Rejection::TooShort,
        Rejection::TooLong,
        Rejection::Uncheckable,
        Rejection::Duplicate,
        Rejection::NearDuplicate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Rejection::Filtered => "filtered",
            Rejection::TooShort => "too_short",
            Rejection::TooLong => "too_long",
            Rejection::Uncheckable => "uncheckable",
            Rejection::Duplicate => "duplicate",
            Rejection::NearDuplicate => "near_duplicate",
        }
    }
}

/// The limits a proposal's question must keep.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    pub min_chars: usize,
    pub max_chars: usize,
    /// Word-trigram Jaccard overlap at or above which a question is a near-duplicate.
    pub near_duplicate: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { min_chars: 10, max_chars: 200, near_duplicate: 0.8 }
    }
}

/// The question's words in lower case, punctuation dropped (arithmetic signs kept as words of
/// their own), one space between them.
pub fn normalize(question: &str) -> String {
    let mut spaced = String::with_capacity(question.len() + 8);
    for c in question.to_lowercase().chars() {
        if "+-×*()".contains(c) {
            // Each sign is a word of its own: `23+18` is `23 + 18`.
            spaced.extend([' ', c, ' ']);
        } else if c == '>' || c == '<' {
            // A comparison sign says what its words say: `38 × 4 > 150` repeats
            // `38 × 4 is greater than 150`.
            spaced.push_str(if c == '>' { " is greater than " } else { " is less than " });
        } else if c.is_alphanumeric() {
            spaced.push(c);
        } else {
            spaced.push(' ');
        }
    }
    spaced.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The word trigrams of a normalised question (the whole text, for fewer than three words).
fn trigrams(normalized: &str) -> HashSet<String> {
    let words: Vec<&str> = normalized.split(' ').collect();
    if words.len() < 3 {
        return std::iter::once(normalized.to_string()).collect();
    }
    words.windows(3).map(|w| w.join(" ")).collect()
}

fn jaccard(a: &HashSet<String>, b: &HashSet<String>) -> f64 {
    let union = a.union(b).count();
    if union == 0 { 0.0 } else { a.intersection(b).count() as f64 / union as f64 }
}

/// The tasks a proposal must not repeat: the run's task set and every proposal kept so far.
#[derive(Clone, Debug, Default)]
pub struct TaskPool {
    normalized: HashSet<String>,
    trigrams: Vec<HashSet<String>>,
}

impl TaskPool {
    pub fn new<'a>(questions: impl IntoIterator<Item = &'a str>) -> TaskPool {
        let mut pool = TaskPool::default();
        for question in questions {
            pool.add(question);
        }
        pool
    }

    /// The pool proposals for `target` are checked against: `items` (the run's tasks or
    /// propositions and the proposals kept before) and the examples the proposal prompts show, so
    /// a copied example is a duplicate.
    pub fn for_proposals<'a>(target: Target, items: impl IntoIterator<Item = &'a str>) -> TaskPool {
        TaskPool::new(items.into_iter().chain(target.kinds().iter().map(|(_, example)| *example)))
    }

    pub fn add(&mut self, question: &str) {
        let normalized = normalize(question);
        self.trigrams.push(trigrams(&normalized));
        self.normalized.insert(normalized);
    }

    pub fn len(&self) -> usize {
        self.trigrams.len()
    }

    pub fn is_empty(&self) -> bool {
        self.trigrams.is_empty()
    }

    /// Whether `question` repeats a pool task, exactly or nearly.
    fn repeats(&self, question: &str, threshold: f64) -> Option<Rejection> {
        let normalized = normalize(question);
        if self.normalized.contains(&normalized) {
            return Some(Rejection::Duplicate);
        }
        let mine = trigrams(&normalized);
        self.trigrams.iter().any(|theirs| jaccard(&mine, theirs) >= threshold).then_some(Rejection::NearDuplicate)
    }
}

/// The question in a model's reply: the first line with a `?` (else the first non-empty line),
/// without a leading `Question:` label or quotes, up to and including its first `?`.
pub fn extract_question(reply: &str) -> String {
    let lines: Vec<&str> = reply.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let line = lines.iter().find(|l| l.contains('?')).or(lines.first()).copied().unwrap_or("");
    let mut text = line;
    for label in ["question:", "q:", "new question:"] {
        if text.to_lowercase().starts_with(label) {
            text = text[label.len()..].trim_start();
        }
    }
    let text = text.trim_matches(|c: char| c == '"' || c == '\'' || c == '*' || c.is_whitespace());
    match text.find('?') {
        Some(at) => text[..=at].to_string(),
        None => text.to_string(),
    }
}

/// What a model is asked to propose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Quiz questions with exact answers (`quiz` runs).
    QuizTasks,
    /// Debate propositions the arena can check, true or false (`debate` runs).
    DebatePropositions,
}

/// A proposal the arena kept: its text, the arena's answer (`42`, `yes`; for a proposition `true`
/// or `false`) and its kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposed {
    pub text: String,
    pub answer: String,
    pub kind: String,
}

impl Target {
    /// The kinds the prompts ask for in turn, each with the example its prompt shows.
    pub fn kinds(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Target::QuizTasks => quiz_tasks::KINDS,
            Target::DebatePropositions => debate_propositions::KINDS,
        }
    }

    /// The item in a model's reply: a quiz question ([`extract_question`]) or a claim
    /// ([`extract_claim`]).
    pub fn extract(self, reply: &str) -> String {
        match self {
            Target::QuizTasks => extract_question(reply),
            Target::DebatePropositions => extract_claim(reply),
        }
    }

    /// The arena's own answer and the kind of an item, or `None` when it cannot check it.
    fn check(self, text: &str) -> Option<(String, &'static str)> {
        match self {
            Target::QuizTasks => solve(text).map(|(answer, kind)| (answer.to_string(), kind)),
            Target::DebatePropositions => check_claim(text).map(|(truth, kind)| (truth.to_string(), kind)),
        }
    }

    /// The kind proposal `index` asks for: the kinds in turn.
    pub fn asked_kind(self, index: usize) -> &'static str {
        let kinds = self.kinds();
        kinds[index % kinds.len()].0
    }

    /// The prompt (system, user) that asks for proposal `index`, with its kind's example.
    pub fn prompt(self, index: usize) -> (String, String) {
        let kinds = self.kinds();
        let (kind, example) = kinds[index % kinds.len()];
        let kind = kind.replace('_', " ");
        match self {
            Target::QuizTasks => (
                "You write short quiz questions with exact answers.".to_string(),
                format!(
                    "Write one new quiz question of the kind \"{kind}\", like this one: {example}\nUse different numbers or words. Write only the question."
                ),
            ),
            Target::DebatePropositions => (
                "You write short factual claims for a debate. A claim may be true or false.".to_string(),
                format!(
                    "Write one new claim of the kind \"{kind}\", in the same form as this one: {example}\nUse different numbers or words. Write only the claim."
                ),
            ),
        }
    }
}

/// The claim in a model's reply: the first non-empty line, without quotes or emphasis around it
/// and without a short label before a colon (`Claim:`, `Subtraction:`, `The new claim is:` — at
/// most five words and no digit, so a claim's own text is never cut).
pub fn extract_claim(reply: &str) -> String {
    let bare =
        |text: &str| text.trim_matches(|c: char| c == '"' || c == '\'' || c == '*' || c.is_whitespace()).to_string();
    let line = bare(reply.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or(""));
    match line.split_once(':') {
        Some((label, rest))
            if label.split_whitespace().count() <= 5 && !label.contains(|c: char| c.is_ascii_digit()) =>
        {
            bare(rest)
        }
        _ => line,
    }
}

/// Validates one reply against the pool; the item (with the arena's own answer) or why not.
pub fn validate(
    reply: &str,
    target: Target,
    pool: &TaskPool,
    filter: &TextFilter,
    limits: &Limits,
) -> Result<Proposed, Rejection> {
    if filter.check(reply).is_err() {
        return Err(Rejection::Filtered);
    }
    let text = target.extract(reply);
    let length = text.chars().count();
    if length < limits.min_chars {
        return Err(Rejection::TooShort);
    }
    if length > limits.max_chars {
        return Err(Rejection::TooLong);
    }
    let (answer, kind) = target.check(&text).ok_or(Rejection::Uncheckable)?;
    if let Some(rejection) = pool.repeats(&text, limits.near_duplicate) {
        return Err(rejection);
    }
    Ok(Proposed { text, answer, kind: kind.to_string() })
}

/// One proposal and what became of it (a line of `tasks/gen-N.proposals.jsonl`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProposalRecord {
    pub proposer: String,
    pub generation: u32,
    /// The kind the prompt asked for.
    pub asked_kind: String,
    pub reply: String,
    /// The question (or claim) read from the reply.
    pub question: String,
    /// Why it was not kept; `None` for a kept proposal.
    pub rejected: Option<Rejection>,
    /// The arena's answer (a claim's truth: `true` or `false`), for accepted proposals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// What a generation's proposals came to.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProposalReport {
    pub proposed: usize,
    pub accepted: usize,
    /// Rejections by reason (every reason present).
    pub rejected: BTreeMap<Rejection, usize>,
    /// Proposals kept so far in the run, this generation's included.
    pub pool: usize,
}

impl ProposalReport {
    pub fn new() -> ProposalReport {
        ProposalReport { rejected: Rejection::ALL.iter().map(|&r| (r, 0)).collect(), ..ProposalReport::default() }
    }

    pub fn count(&mut self, verdict: Result<(), Rejection>) {
        self.proposed += 1;
        match verdict {
            Ok(()) => self.accepted += 1,
            Err(rejection) => *self.rejected.entry(rejection).or_default() += 1,
        }
    }
}
