//! Reading results files into games: CSV `white,black,result` and Chatbot Arena battles
//! (`model_a`, `model_b`, `winner`) as JSON lines or a JSON array.
//!
//! The format comes from the extension (`.csv`, `.jsonl`/`.ndjson`, `.json`) or else from the
//! first line. Names are interned into a [`Roster`]; a malformed line is an error naming the file
//! and the line. The CSV reader is a hand-rolled line parser: a million lines take well under a
//! second.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use crate::error::{Context, Error, Result, bail};
use ratings::{GameResult, Roster};
use serde::Deserialize;

/// Games read from a results file, with the players' names.
#[derive(Debug, Clone)]
pub struct Results {
    /// The file they came from.
    pub source: PathBuf,
    /// Players in order of first appearance.
    pub roster: Roster,
    /// The games in file order, scored from the first-named player's side.
    pub games: Vec<GameResult>,
}

/// The layout of a results file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated with a header naming `white`, `black` and `result` (other columns ignored).
    Csv,
    /// One Chatbot Arena battle object per line.
    JsonLines,
    /// A JSON array of Chatbot Arena battle objects.
    JsonArray,
}

/// Reads a results file, detecting its format.
pub fn read(path: &Path) -> Result<Results> {
    let bytes = std::fs::read(path).map_err(|e| Error::io("cannot read results file", path, e))?;
    let text = match std::str::from_utf8(&bytes) {
        Ok(text) => text,
        Err(error) => {
            let line = 1 + bytes[..error.valid_up_to()].iter().filter(|&&b| b == b'\n').count();
            bail!("{} line {line}: not valid UTF-8 text", path.display());
        }
    };
    let format = detect_format(path, text);
    parse(path, text, format)
}

/// Reads the finished games of a store: one tournament, or every tournament in it (agents with the
/// same name across tournaments are the same player), in tournament and match order, then the
/// votes people cast between the agents' answers (`arena serve`), in the order cast.
pub fn from_store(location: &crate::store::StoreLocation, tournament: Option<i64>) -> Result<Results> {
    if !location.exists() {
        bail!("store {location} does not exist");
    }
    let store = crate::store::Store::connect(location)?;
    let tournaments = match tournament {
        Some(id) => vec![store.tournament(id)?],
        None => store.tournaments()?,
    };
    let mut roster = Roster::new();
    let mut games = Vec::new();
    for t in &tournaments {
        let players: Vec<usize> = store.agents(t.id)?.iter().map(|a| roster.intern(&a.name)).collect();
        for m in store.finished(t.id)? {
            let (Some(&first), Some(&second)) = (players.get(m.seats[0]), players.get(m.seats[1])) else {
                bail!("store {}: tournament {} match {} seats unknown agents {:?}", location, t.id, m.index, m.seats);
            };
            games.push(GameResult { first, second, score: m.score0 });
        }
    }
    // People's votes between two answers are battles too.
    for vote in store.votes(tournament)? {
        let (first, second) = (roster.intern(&vote.agents[0]), roster.intern(&vote.agents[1]));
        games.push(GameResult { first, second, score: vote.choice.score_of_a() });
    }
    if games.is_empty() {
        bail!(
            "store {} has no finished games{}",
            location,
            tournament.map(|id| format!(" in tournament {id}")).unwrap_or_default()
        );
    }
    // Shown in messages only: a URL appears with its password hidden.
    Ok(Results { source: PathBuf::from(location.to_string()), roster, games })
}

/// The format of `text` read from `path`: by extension, else by its first non-blank line.
pub fn detect_format(path: &Path, text: &str) -> Format {
    let extension = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    let first = text.trim_start_matches('\u{feff}').trim_start();
    match extension.as_deref() {
        Some("csv") => Format::Csv,
        Some("jsonl" | "ndjson") => Format::JsonLines,
        _ if first.starts_with('[') => Format::JsonArray,
        _ if first.starts_with('{') => Format::JsonLines,
        Some("json") => Format::JsonArray,
        _ => Format::Csv,
    }
}

/// Parses `text` in `format`; `path` names the file in errors.
pub fn parse(path: &Path, text: &str, format: Format) -> Result<Results> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = Reader { path, roster: Roster::new(), games: Vec::new() };
    match format {
        Format::Csv => reader.csv(text)?,
        Format::JsonLines => reader.json_lines(text)?,
        Format::JsonArray => reader.json_array(text)?,
    }
    if reader.games.is_empty() {
        bail!("{}: no games in the file", path.display());
    }
    Ok(Results { source: path.to_owned(), roster: reader.roster, games: reader.games })
}

/// One Chatbot Arena battle; other fields (judge, turn, language, …) are ignored.
#[derive(Debug, Deserialize)]
struct Battle<'a> {
    #[serde(borrow)]
    model_a: Cow<'a, str>,
    #[serde(borrow)]
    model_b: Cow<'a, str>,
    #[serde(borrow)]
    winner: Cow<'a, str>,
}

struct Reader<'p> {
    path: &'p Path,
    roster: Roster,
    games: Vec<GameResult>,
}

impl Reader<'_> {
    fn csv(&mut self, text: &str) -> Result<()> {
        let mut lines = text.lines().enumerate().map(|(i, line)| (i + 1, line));
        let mut fields: Vec<Cow<'_, str>> = Vec::new();
        let Some((header_line, header)) = lines.by_ref().find(|(_, line)| !line.trim().is_empty()) else {
            return Ok(());
        };
        split_csv(header, &mut fields).map_err(|e| self.line_error(header_line, &e))?;
        let column = |name: &str| fields.iter().position(|f| f.trim().eq_ignore_ascii_case(name));
        let (Some(white), Some(black), Some(result)) = (column("white"), column("black"), column("result")) else {
            let found: Vec<&str> = fields.iter().map(|f| f.trim()).collect();
            bail!(
                "{}: the header must name the columns white, black and result (found: {})",
                self.at(header_line),
                found.join(", ")
            );
        };
        let needed = white.max(black).max(result) + 1;
        for (number, line) in lines {
            if line.trim().is_empty() {
                continue;
            }
            split_csv(line, &mut fields).map_err(|e| self.line_error(number, &e))?;
            if fields.len() < needed {
                bail!("{}: expected at least {needed} comma-separated fields, found {}", self.at(number), fields.len());
            }
            let score = parse_result(fields[result].trim()).ok_or_else(|| {
                Error::Invalid(format!(
                    "{}: result '{}' is not one of 1, 0.5, 0, 1-0, 1/2-1/2, 0-1",
                    self.at(number),
                    fields[result].trim()
                ))
            })?;
            self.add(fields[white].trim(), fields[black].trim(), score, ("white", "black"))
                .map_err(|e| self.line_error(number, &e))?;
        }
        Ok(())
    }

    fn json_lines(&mut self, text: &str) -> Result<()> {
        for (index, line) in text.lines().enumerate() {
            let number = index + 1;
            if line.trim().is_empty() {
                continue;
            }
            let battle: Battle<'_> = serde_json::from_str(line).with_context(|| self.at(number))?;
            self.battle(&battle).map_err(|e| self.line_error(number, &e))?;
        }
        Ok(())
    }

    fn json_array(&mut self, text: &str) -> Result<()> {
        let battles: Vec<Battle<'_>> = serde_json::from_str(text).with_context(|| self.path.display().to_string())?;
        for (index, battle) in battles.iter().enumerate() {
            self.battle(battle)
                .map_err(|e| Error::Invalid(format!("{} battle {}: {e}", self.path.display(), index + 1)))?;
        }
        Ok(())
    }

    fn battle(&mut self, battle: &Battle<'_>) -> Result<(), String> {
        let score = match battle.winner.trim() {
            "model_a" => 1.0,
            "model_b" => 0.0,
            "tie" | "tie (bothbad)" => 0.5,
            other => {
                return Err(format!("winner '{other}' is not one of model_a, model_b, tie, tie (bothbad)"));
            }
        };
        self.add(battle.model_a.trim(), battle.model_b.trim(), score, ("model_a", "model_b"))
    }

    /// Adds a game; the error is the problem, without the place.
    fn add(&mut self, first: &str, second: &str, score: f64, columns: (&str, &str)) -> Result<(), String> {
        let (first_column, second_column) = columns;
        if first.is_empty() || second.is_empty() {
            let column = if first.is_empty() { first_column } else { second_column };
            return Err(format!("{column} is empty"));
        }
        if first == second {
            return Err(format!("{first_column} and {second_column} are the same player '{first}'"));
        }
        let first = self.roster.intern(first);
        let second = self.roster.intern(second);
        self.games.push(GameResult { first, second, score });
        Ok(())
    }

    fn at(&self, line: usize) -> String {
        format!("{} line {line}", self.path.display())
    }

    fn line_error(&self, line: usize, problem: &str) -> Error {
        Error::Invalid(format!("{}: {problem}", self.at(line)))
    }
}

/// A result from white's side: 1 / 0.5 / 0 or PGN style 1-0 / 1/2-1/2 / 0-1.
fn parse_result(field: &str) -> Option<f64> {
    match field {
        "1" | "1.0" | "1-0" => Some(1.0),
        "0.5" | ".5" | "1/2" | "1/2-1/2" | "½-½" | "0.5-0.5" => Some(0.5),
        "0" | "0.0" | "0-1" => Some(0.0),
        _ => None,
    }
}

/// Splits one CSV line into `fields` (cleared first). Quoted fields may hold commas and `""`.
fn split_csv<'a>(line: &'a str, fields: &mut Vec<Cow<'a, str>>) -> Result<(), String> {
    fields.clear();
    let line = line.strip_suffix('\r').unwrap_or(line);
    if !line.contains('"') {
        fields.extend(line.split(',').map(Cow::Borrowed));
        return Ok(());
    }
    let mut rest = line;
    loop {
        let trimmed = rest.trim_start();
        if let Some(quoted) = trimmed.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let end = loop {
                match chars.next() {
                    Some((i, '"')) => {
                        if quoted[i + 1..].starts_with('"') {
                            value.push('"');
                            chars.next();
                        } else {
                            break i + 1;
                        }
                    }
                    Some((_, c)) => value.push(c),
                    None => return Err("a quoted field is not closed".to_owned()),
                }
            };
            fields.push(Cow::Owned(value));
            let after = quoted[end..].trim_start();
            match after.strip_prefix(',') {
                Some(next) => rest = next,
                None if after.is_empty() => return Ok(()),
                None => return Err("unexpected text after a quoted field".to_owned()),
            }
        } else {
            match rest.split_once(',') {
                Some((field, next)) => {
                    fields.push(Cow::Borrowed(field));
                    rest = next;
                }
                None => {
                    fields.push(Cow::Borrowed(rest));
                    return Ok(());
                }
            }
        }
    }
}
