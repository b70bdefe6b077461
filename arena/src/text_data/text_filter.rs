//! Quality and safety filter for texts that become training targets (language-model turns exported
//! by `arena export`): each rule can be turned off, the first rule that matches rejects the text,
//! and a [`FilterReport`] counts what each rule removed.
//!
//! The rules, in the order they are tried (which is also the report's order):
//!
//! - `min_chars` / `max_chars`: the text's length in characters, surrounding whitespace trimmed
//!   (`0` turns either rule off);
//! - `empty`: no letter or digit at all (only whitespace, punctuation or symbols);
//! - `refusal`: a common refusal phrase ("I cannot", "I can't", "I'm sorry, but", "As an AI",
//!   "I am unable", "I won't", ...) starting within the first 80 characters, case-insensitive, as
//!   whole words. Deliberately simple: a debate turn opening with "I cannot see why ..." is
//!   rejected too;
//! - `degenerate`: a run of 20 or more identical characters; or, in a text of 40 characters or
//!   more, a 40-character chunk (chunks start every 40 characters, and the text's last 40
//!   characters are one more) with fewer than 25% distinct characters, i.e. under 10 (per chunk,
//!   because a whole-text ratio falls with length); or a control character other than `\n` and `\t`;
//! - `repetitive`: 20 or more words of which more than 50% of the word 3-grams repeat an earlier
//!   3-gram (words compared lowercased, outer punctuation stripped); or the same line 3 or more
//!   times (lines compared trimmed; lines with no letter or digit, such as board borders, are not
//!   counted);
//! - `blocklist`: a listed word or phrase as whole words, case-insensitive (texts and phrases are
//!   compared as sequences of letter-and-digit words, so punctuation between the words of a phrase
//!   does not matter), from `blocklist = [...]` and/or the lines of `blocklist_file` (`#` starts a
//!   comment).
//!
//! A filter config in TOML (every field optional; shown with the defaults, blocklist aside):
//!
//! ```toml
//! min_chars = 1          # 0 = off
//! max_chars = 4000       # 0 = off
//! empty = true
//! refusal = true
//! degenerate = true
//! repetitive = true
//! blocklist = ["some phrase", "word"]
//! blocklist_file = "blocklist.txt"   # relative to the config file's folder
//! ```

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::{Context, Error, Result, bail};
use serde::{Deserialize, Serialize};

/// How many characters from the start of a text the refusal rule looks at.
pub const REFUSAL_WINDOW: usize = 80;
/// The degenerate rule's longest allowed run of one character is one less than this.
pub const DEGENERATE_RUN: usize = 20;
/// The degenerate rule's chunk length for the distinct-character share.
pub const DEGENERATE_CHUNK: usize = 40;
/// The repetitive rule looks at 3-grams only in texts with at least this many words.
pub const REPETITIVE_MIN_WORDS: usize = 20;
/// The repetitive rule's limit on how often one line may appear.
pub const REPETITIVE_LINE_COUNT: usize = 3;

/// Refusal phrasings, lowercase, with straight apostrophes (texts' curly ones are straightened).
pub const REFUSAL_PHRASES: &[&str] = &[
    "i cannot",
    "i can't",
    "i can not",
    "i'm sorry, but",
    "i'm sorry but",
    "i am sorry, but",
    "i am sorry but",
    "i apologize, but",
    "as an ai",
    "as a language model",
    "i am unable",
    "i'm unable",
    "i am not able to",
    "i'm not able to",
    "i won't",
    "i must decline",
];

/// One filter rule, in the order the rules are tried.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    MinChars,
    MaxChars,
    Empty,
    Refusal,
    Degenerate,
    Repetitive,
    Blocklist,
}

impl Rule {
    /// Every rule, in the order they are tried.
    pub const ALL: [Rule; 7] = [
        Rule::MinChars,
        Rule::MaxChars,
        Rule::Empty,
        Rule::Refusal,
        Rule::Degenerate,
        Rule::Repetitive,
        Rule::Blocklist,
    ];

    /// The rule's name as in the config and the JSON report.
    pub fn name(self) -> &'static str {
        match self {
            Rule::MinChars => "min_chars",
            Rule::MaxChars => "max_chars",
            Rule::Empty => "empty",
            Rule::Refusal => "refusal",
            Rule::Degenerate => "degenerate",
            Rule::Repetitive => "repetitive",
            Rule::Blocklist => "blocklist",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The filter's settings, as read from TOML (see the module docs for an example).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilterConfig {
    /// Shortest text kept, in characters after trimming; 0 turns the rule off.
    pub min_chars: usize,
    /// Longest text kept, in characters after trimming; 0 turns the rule off.
    pub max_chars: usize,
    /// Reject texts with no letter or digit.
    pub empty: bool,
    /// Reject texts with a refusal phrase near the start.
    pub refusal: bool,
    /// Reject long runs of one character, too few distinct characters, control characters.
    pub degenerate: bool,
    /// Reject texts that repeat their 3-grams or lines.
    pub repetitive: bool,
    /// Words or phrases that reject a text (whole words, case-insensitive).
    pub blocklist: Vec<String>,
    /// A file with one word or phrase per line (`#` starts a comment); a relative path is taken
    /// from the config file's folder.
    pub blocklist_file: Option<PathBuf>,
}

impl Default for FilterConfig {
    fn default() -> Self {
        FilterConfig {
            min_chars: 1,
            max_chars: 4000,
            empty: true,
            refusal: true,
            degenerate: true,
            repetitive: true,
            blocklist: Vec::new(),
            blocklist_file: None,
        }
    }
}

impl FilterConfig {
    /// Every rule turned off: the filter keeps every text.
    pub fn off() -> Self {
        FilterConfig {
            min_chars: 0,
            max_chars: 0,
            empty: false,
            refusal: false,
            degenerate: false,
            repetitive: false,
            blocklist: Vec::new(),
            blocklist_file: None,
        }
    }

    /// Parses a config from TOML text; `origin` names the source in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self> {
        let config: FilterConfig = toml::from_str(text).map_err(|e| Error::Invalid(format!("{origin}: {e}")))?;
        config.check().map_err(|e| Error::Invalid(format!("{origin}: {e}")))?;
        Ok(config)
    }

    /// Refuses settings that keep no text at all.
    pub fn check(&self) -> Result<()> {
        if self.min_chars > 0 && self.max_chars > 0 && self.min_chars > self.max_chars {
            bail!(
                "min_chars ({}) is above max_chars ({}): no text could pass; lower min_chars or raise max_chars",
                self.min_chars,
                self.max_chars
            );
        }
        Ok(())
    }

    /// Reads a config file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io("cannot read filter config", path, e))?;
        Self::from_toml(&text, &path.display().to_string())
    }
}

/// Splits a text into lowercase words of letters and digits.
fn words_of(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

/// Blocked phrases, indexed by their first word.
#[derive(Clone, Debug, Default, PartialEq)]
struct Blocklist {
    /// Phrases by first word; a one-word phrase is stored with an empty rest.
    by_first: HashMap<String, Vec<Vec<String>>>,
    len: usize,
}

impl Blocklist {
    /// Adds a phrase; false when it has no letter or digit (it could never match).
    fn add(&mut self, phrase: &str) -> bool {
        let mut words = words_of(phrase);
        if words.is_empty() {
            return false;
        }
        let first = words.remove(0);
        let entry = self.by_first.entry(first).or_default();
        if !entry.contains(&words) {
            entry.push(words);
            self.len += 1;
        }
        true
    }

    fn matches(&self, text: &str) -> bool {
        if self.by_first.is_empty() {
            return false;
        }
        let words = words_of(text);
        words.iter().enumerate().any(|(i, word)| {
            self.by_first.get(word).is_some_and(|rests| {
                rests
                    .iter()
                    .any(|rest| words.get(i + 1..i + 1 + rest.len()).is_some_and(|next| next == rest.as_slice()))
            })
        })
    }
}

/// A ready filter: the config with its blocklist loaded.
#[derive(Clone, Debug, PartialEq)]
pub struct TextFilter {
    config: FilterConfig,
    blocklist: Blocklist,
}

impl Default for TextFilter {
    /// The default rules, no blocklist.
    fn default() -> Self {
        TextFilter { config: FilterConfig::default(), blocklist: Blocklist::default() }
    }
}

impl TextFilter {
    /// Builds a filter, reading `blocklist_file` (a relative path is joined to `base_dir`).
    pub fn new(config: FilterConfig, base_dir: &Path) -> Result<Self> {
        config.check()?;
        let mut blocklist = Blocklist::default();
        for (i, phrase) in config.blocklist.iter().enumerate() {
            if !blocklist.add(phrase) {
                bail!("blocklist entry {} ({phrase:?}) has no letter or digit", i + 1);
            }
        }
        if let Some(file) = &config.blocklist_file {
            let path = if file.is_relative() { base_dir.join(file) } else { file.clone() };
            let text = std::fs::read_to_string(&path).map_err(|e| Error::io("cannot read blocklist file", &path, e))?;
            for (n, line) in text.lines().enumerate() {
                let phrase = line.split('#').next().unwrap_or("").trim();
                if !phrase.is_empty() && !blocklist.add(phrase) {
                    bail!("{}:{}: blocklist entry {phrase:?} has no letter or digit", path.display(), n + 1);
                }
            }
        }
        Ok(TextFilter { config, blocklist })
    }

    /// Reads a TOML filter config; its `blocklist_file` is taken relative to the config's folder.
    pub fn load(path: &Path) -> Result<Self> {
        let config = FilterConfig::load(path)?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::new(config, base).with_context(|| format!("in filter config {}", path.display()))
    }

    /// A filter that keeps everything.
    pub fn off() -> Self {
        TextFilter { config: FilterConfig::off(), blocklist: Blocklist::default() }
    }

    pub fn config(&self) -> &FilterConfig {
        &self.config
    }

    /// How many distinct phrases the blocklist holds.
    pub fn blocklist_len(&self) -> usize {
        self.blocklist.len
    }

    /// Checks a text: `Err(rule)` names the first rule that rejects it.
    pub fn check(&self, text: &str) -> Result<(), Rule> {
        let c = &self.config;
        let trimmed = text.trim();
        let chars = trimmed.chars().count();
        if c.min_chars > 0 && chars < c.min_chars {
            return Err(Rule::MinChars);
        }
        if c.max_chars > 0 && chars > c.max_chars {
            return Err(Rule::MaxChars);
        }
        if c.empty && !trimmed.chars().any(char::is_alphanumeric) {
            return Err(Rule::Empty);
        }
        if c.refusal && is_refusal(trimmed) {
            return Err(Rule::Refusal);
        }
        if c.degenerate && is_degenerate(text) {
            return Err(Rule::Degenerate);
        }
        if c.repetitive && is_repetitive(text) {
            return Err(Rule::Repetitive);
        }
        if self.blocklist.matches(text) {
            return Err(Rule::Blocklist);
        }
        Ok(())
    }

    /// Checks a text and counts the outcome in `report`; true when the text is kept.
    pub fn apply(&self, text: &str, report: &mut FilterReport) -> bool {
        report.record(self.check(text))
    }
}

/// A refusal phrase, as whole words, starting within the first [`REFUSAL_WINDOW`] characters.
pub fn is_refusal(text: &str) -> bool {
    let longest = REFUSAL_PHRASES.iter().map(|p| p.chars().count()).max().unwrap_or(0);
    let head: String =
        text.chars().take(REFUSAL_WINDOW + longest + 1).flat_map(char::to_lowercase).map(straighten).collect();
    let is_word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    REFUSAL_PHRASES.iter().any(|phrase| {
        head.match_indices(phrase).any(|(at, _)| {
            let before = head[..at].chars().next_back();
            let after = head[at + phrase.len()..].chars().next();
            head[..at].chars().count() < REFUSAL_WINDOW && !is_word(before) && !is_word(after)
        })
    })
}

fn straighten(c: char) -> char {
    match c {
        '\u{2018}' | '\u{2019}' | '\u{02BC}' => '\'',
        _ => c,
    }
}

/// A run of [`DEGENERATE_RUN`] identical characters, a [`DEGENERATE_CHUNK`]-character chunk with
/// under 25% distinct characters, or a control character other than `\n` and `\t`.
pub fn is_degenerate(text: &str) -> bool {
    if text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return true;
    }
    let chars: Vec<char> = text.chars().collect();
    if chars.chunk_by(|a, b| a == b).any(|run| run.len() >= DEGENERATE_RUN) {
        return true;
    }
    if chars.len() < DEGENERATE_CHUNK {
        return false;
    }
    // Chunks start every 40 characters; the last one is the text's final 40 characters.
    let last = chars.len() - DEGENERATE_CHUNK;
    (0..=last).step_by(DEGENERATE_CHUNK).chain([last]).any(|start| {
        let distinct = chars[start..start + DEGENERATE_CHUNK].iter().collect::<HashSet<_>>().len();
        distinct * 4 < DEGENERATE_CHUNK
    })
}

/// Over half of the word 3-grams repeated (in texts of 20 words or more), or one line (with a letter
/// or digit) 3 times or more.
pub fn is_repetitive(text: &str) -> bool {
    let words: Vec<String> = text
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase())
        .filter(|w| !w.is_empty())
        .collect();
    if words.len() >= REPETITIVE_MIN_WORDS {
        let mut seen = HashSet::new();
        let grams = words.windows(3).count();
        let repeats = words.windows(3).filter(|gram| !seen.insert(*gram)).count();
        if repeats * 2 > grams {
            return true;
        }
    }
    let mut lines: HashMap<&str, usize> = HashMap::new();
    for line in text.lines().map(str::trim).filter(|l| l.chars().any(char::is_alphanumeric)) {
        let count = lines.entry(line).or_insert(0);
        *count += 1;
        if *count >= REPETITIVE_LINE_COUNT {
            return true;
        }
    }
    false
}

/// What an export did: matches read, texts checked and what each rule removed, pairs skipped,
/// lines written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilterReport {
    /// Matches read.
    pub matches: usize,
    /// Matches that ended by a fault (left out of `sft` and `preference`, kept in `battles`).
    pub faulted_matches: usize,
    /// Texts the filter checked.
    pub total: usize,
    /// Texts removed, per rule (every rule present, in rule order).
    pub removed: BTreeMap<Rule, usize>,
    /// Texts the filter kept.
    pub kept: usize,
    /// Preference pairs skipped because chosen and rejected were the same text.
    pub identical_pairs: usize,
    /// Preference pairs written from an answer the engine rejected (illegal or unreadable) against
    /// the one it took at the same decision.
    pub rejection_pairs: usize,
    /// Preference pairs written from a judged debate: the right verdict against the wrong one.
    #[serde(default)]
    pub verdict_pairs: usize,
    /// JSON lines written.
    pub written: usize,
}

impl Default for FilterReport {
    fn default() -> Self {
        FilterReport {
            matches: 0,
            faulted_matches: 0,
            total: 0,
            removed: Rule::ALL.iter().map(|&r| (r, 0)).collect(),
            kept: 0,
            identical_pairs: 0,
            rejection_pairs: 0,
            verdict_pairs: 0,
            written: 0,
        }
    }
}

impl FilterReport {
    /// Counts one check's outcome; true when the text is kept.
    pub fn record(&mut self, outcome: Result<(), Rule>) -> bool {
        self.total += 1;
        match outcome {
            Ok(()) => {
                self.kept += 1;
                true
            }
            Err(rule) => {
                *self.removed.entry(rule).or_insert(0) += 1;
                false
            }
        }
    }

    /// How many texts `rule` removed.
    pub fn removed_by(&self, rule: Rule) -> usize {
        self.removed.get(&rule).copied().unwrap_or(0)
    }
}

impl fmt::Display for FilterReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rows: Vec<(String, usize)> = vec![
            ("matches".into(), self.matches),
            ("faulted matches".into(), self.faulted_matches),
            ("texts checked".into(), self.total),
        ];
        rows.extend(Rule::ALL.iter().map(|&r| (format!("removed by {r}"), self.removed_by(r))));
        rows.extend([
            ("kept".into(), self.kept),
            ("identical pairs".into(), self.identical_pairs),
            ("rejection pairs".into(), self.rejection_pairs),
            ("verdict pairs".into(), self.verdict_pairs),
            ("lines written".into(), self.written),
        ]);
        let label_width = rows.iter().map(|(l, _)| l.len() + 1).max().unwrap_or(0);
        let number_width = rows.iter().map(|(_, n)| n.to_string().len()).max().unwrap_or(1);
        for (label, n) in rows {
            writeln!(f, "{:<label_width$} {n:>number_width$}", format!("{label}:"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const NORMAL: &[&str] = &[
        "17 + 25 is 42, so the statement holds.",
        "My opponent claims the sum is odd, but 17 + 25 = 42, and 42 is even. The statement holds.",
        "e2e4",
        "I play the centre column because it blocks the diagonal threat and keeps my options open on both \
         sides of the board; after that, the opponent has to answer on the left or lose the game.",
    ];

    fn rejects(filter: &TextFilter, text: &str, rule: Rule) {
        assert_eq!(filter.check(text), Err(rule), "{text:?}");
    }

    fn with(config: FilterConfig) -> TextFilter {
        TextFilter::new(config, Path::new(".")).unwrap()
    }

    #[test]
    fn normal_texts_pass_every_rule() {
        let filter = with(FilterConfig { blocklist: vec!["kill".into(), "bad phrase".into()], ..Default::default() });
        for text in NORMAL {
            assert_eq!(filter.check(text), Ok(()), "{text:?}");
        }
        // Whole words only: "skill" and "badphrase" are not blocked.
        assert_eq!(filter.check("It takes skill; a bad, phrased answer."), Ok(()));
    }

    #[test]
    fn each_rule_rejects_its_case_and_can_be_turned_off() {
        let long = "word ".repeat(900) + "and more different words";
        let cases: Vec<(Rule, String)> = vec![
            (Rule::MinChars, "  ".into()),
            (Rule::MaxChars, long),
            (Rule::Empty, "?! ... --".into()),
            (Rule::Refusal, "I'm sorry, but I cannot help with that.".into()),
            (Rule::Refusal, "Well. As an AI model, I have no opinion.".into()),
            (Rule::Refusal, "i can\u{2019}t do that".into()),
            (Rule::Refusal, "I won't.".into()),
            (Rule::Degenerate, "The answer is 4!!!!!!!!!!!!!!!!!!!!!!!!!".into()),
            (Rule::Degenerate, "ha ha ha ha ha ha ha ha ha ha ha ha ha ha ha ha ha".into()),
            (Rule::Degenerate, "move\u{7}e4".into()),
            (
                Rule::Repetitive,
                "the pro side is right and the pro side is right and the pro side is right and the pro side is right"
                    .into(),
            ),
            (Rule::Repetitive, "Point one.\nIt holds.\nPoint one.\nIt holds.\nPoint one.".into()),
            (Rule::Blocklist, "This contains a Bad  Phrase, sadly.".into()),
            (Rule::Blocklist, "They will KILL the king.".into()),
        ];
        let base = FilterConfig { blocklist: vec!["kill".into(), "bad phrase".into()], ..Default::default() };
        let filter = with(base.clone());
        for (rule, text) in &cases {
            rejects(&filter, text, *rule);
            let mut off = base.clone();
            match rule {
                Rule::MinChars => off.min_chars = 0,
                Rule::MaxChars => off.max_chars = 0,
                Rule::Empty => off.empty = false,
                Rule::Refusal => off.refusal = false,
                Rule::Degenerate => off.degenerate = false,
                Rule::Repetitive => off.repetitive = false,
                Rule::Blocklist => off.blocklist.clear(),
            }
            assert_ne!(with(off).check(text), Err(*rule), "{rule} off: {text:?}");
        }
        // Everything off keeps everything.
        for (_, text) in &cases {
            assert_eq!(TextFilter::off().check(text), Ok(()));
        }
    }

    #[test]
    fn refusal_only_near_the_start_and_as_whole_words() {
        let filter = TextFilter::default();
        let late = format!("{} I cannot agree.", "The opponent's argument fails for three clear reasons. ".repeat(2));
        assert!(late.find("I cannot").unwrap() > REFUSAL_WINDOW);
        assert_eq!(filter.check(&late), Ok(()));
        assert_eq!(filter.check("Hi cannot-style wording, as an aide would say."), Ok(()));
        // Documented simplicity: a debate turn starting with "I cannot" is rejected.
        rejects(&filter, "I cannot see why the statement is false.", Rule::Refusal);
    }

    #[test]
    fn degenerate_distinct_share_is_per_chunk() {
        // A long normal text has few distinct characters overall but plenty per 40-character chunk.
        let text = "The statement holds because the sum of seventeen and twenty-five is forty-two, which is even; \
                    my opponent's claim that it is odd confuses the digits with the number they write.";
        assert!(text.chars().collect::<HashSet<_>>().len() * 4 < text.chars().count());
        assert!(!is_degenerate(text));
        let board = "X | O | X\n---------\nO | X | O\n---------\nX | O | X";
        // A known cost of the rule (turn it off for games that draw boards): a drawing of 40+
        // characters has under 25% distinct characters.
        assert!(is_degenerate(board));
        // A 100-character text: the tail chunk is still 40 characters (13 distinct are enough).
        assert!(!is_degenerate(&"the pro side is right and ".repeat(4)[..100]));
        assert!(!is_degenerate("short"));
        assert!(!is_degenerate("tab\tand\nnewline are fine"));
    }

    #[test]
    fn rules_are_tried_in_order() {
        // Empty and degenerate both apply; empty comes first.
        rejects(&TextFilter::default(), "!!!!!!!!!!!!!!!!!!!!!!!!!", Rule::Empty);
        // Too long and refusing: max_chars comes first.
        rejects(&TextFilter::default(), &format!("I cannot. {}", "x y ".repeat(3000)), Rule::MaxChars);
    }

    #[test]
    fn report_counts_exactly_and_displays_a_table() {
        let filter = TextFilter::default();
        let mut report = FilterReport::default();
        for text in ["ok then", "", "I cannot do that", "As an AI I refuse", "fine", "zzzzzzzzzzzzzzzzzzzzzzzz"] {
            filter.apply(text, &mut report);
        }
        assert_eq!(report.total, 6);
        assert_eq!(report.kept, 2);
        assert_eq!(report.removed_by(Rule::MinChars), 1);
        assert_eq!(report.removed_by(Rule::Refusal), 2);
        assert_eq!(report.removed_by(Rule::Degenerate), 1);
        assert_eq!(report.removed_by(Rule::Blocklist), 0);
        assert_eq!(report.removed.len(), Rule::ALL.len());
        let table = report.to_string();
        assert!(table.contains("removed by refusal:    2"), "{table}");
        let widths: HashSet<usize> = table.lines().map(str::len).collect();
        assert_eq!(widths.len(), 1, "aligned: {table}");
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["removed"]["refusal"], 2);
        assert_eq!(json["kept"], 2);
        let back: FilterReport = serde_json::from_value(json).unwrap();
        assert_eq!(back, report);
    }

    #[test]
    fn config_parses_toml_with_defaults_and_rejects_unknown_fields() {
        let config =
            FilterConfig::from_toml("max_chars = 100\nrefusal = false\nblocklist = [\"foo\"]\n", "f.toml").unwrap();
        assert_eq!(
            config,
            FilterConfig { max_chars: 100, refusal: false, blocklist: vec!["foo".into()], ..Default::default() }
        );
        assert_eq!(FilterConfig::from_toml("", "f.toml").unwrap(), FilterConfig::default());
        let err =
            FilterConfig::from_toml("min_chars = 1\nrefusals = true\n", "my-filter.toml").unwrap_err().to_string();
        assert!(err.contains("my-filter.toml") && err.contains("line 2"), "{err}");
        let err = FilterConfig::from_toml("min_chars = 50\nmax_chars = 10\n", "f.toml").unwrap_err().to_string();
        assert!(err.contains("f.toml") && err.contains("min_chars (50) is above max_chars (10)"), "{err}");
        let made_in_code = FilterConfig { min_chars: 50, max_chars: 10, ..FilterConfig::default() };
        assert!(TextFilter::new(made_in_code, Path::new(".")).is_err());
        // Either bound off (0) is fine.
        assert!(FilterConfig::from_toml("min_chars = 50\nmax_chars = 0\n", "f.toml").is_ok());
    }

    #[test]
    fn loads_blocklist_file_relative_to_config_and_names_bad_lines() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("words.txt"), "# blocked words\nbanned\n\nvery bad thing  # a phrase\n")
            .unwrap();
        let config_path = dir.path().join("filter.toml");
        std::fs::write(&config_path, "blocklist = [\"extra\"]\nblocklist_file = \"words.txt\"\n").unwrap();
        let filter = TextFilter::load(&config_path).unwrap();
        assert_eq!(filter.blocklist_len(), 3);
        rejects(&filter, "That is BANNED.", Rule::Blocklist);
        rejects(&filter, "a very bad thing indeed", Rule::Blocklist);
        rejects(&filter, "one extra word", Rule::Blocklist);
        assert_eq!(filter.check("a very bad idea; things happen"), Ok(()));
        assert_eq!(filter.check("blocked words"), Ok(()), "comments are not entries");

        std::fs::write(dir.path().join("words.txt"), "fine\n\n  ---  \n").unwrap();
        let err = format!("{:#}", TextFilter::load(&config_path).unwrap_err());
        assert!(err.contains("words.txt:3"), "{err}");

        std::fs::remove_file(dir.path().join("words.txt")).unwrap();
        let err = format!("{:#}", TextFilter::load(&config_path).unwrap_err());
        assert!(err.contains("words.txt"), "{err}");
    }
}
