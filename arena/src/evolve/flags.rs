//! Honesty checks of a generation against the one before it: warnings that a run is improving
//! by its own measure and not by a fixed one — ratings rising while held-out accuracy falls,
//! replies growing longer without getting more accurate, and the data filter removing a rising
//! share of the model's outputs. Each compares two counts with a one-sided two-proportion z-test
//! at the 5% level, so a change within noise raises nothing.

use serde::{Deserialize, Serialize};

use super::summary::GenerationSummary;

/// What a flag warns of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagKind {
    /// The champion's rating rose while its held-out accuracy fell.
    RatingUpHeldOutDown,
    /// The champion's replies grew longer without a gain in held-out accuracy.
    LengthExploitation,
    /// The text filter removed a larger share of the generation's outputs.
    Degeneration,
}

impl FlagKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FlagKind::RatingUpHeldOutDown => "rating up, held-out down",
            FlagKind::LengthExploitation => "length exploitation",
            FlagKind::Degeneration => "degeneration",
        }
    }
}

/// One warning about a generation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Flag {
    pub kind: FlagKind,
    /// What was measured, in a sentence.
    pub detail: String,
}

/// The z value of a one-sided test at the 5% level.
const Z_5_PERCENT: f64 = 1.645;
/// Replies must grow by at least this share, and this many characters, to count as longer.
const LONGER_SHARE: f64 = 0.25;
const LONGER_CHARS: f64 = 10.0;

/// Whether `a` hits of `n` is a significantly lower proportion than `b` of `m` (pooled one-sided
/// two-proportion z-test at 5%).
pub fn significantly_lower((a, n): (u64, u64), (b, m): (u64, u64)) -> bool {
    if n == 0 || m == 0 {
        return false;
    }
    let (p1, p2) = (a as f64 / n as f64, b as f64 / m as f64);
    let pooled = (a + b) as f64 / (n + m) as f64;
    let se = (pooled * (1.0 - pooled) * (1.0 / n as f64 + 1.0 / m as f64)).sqrt();
    se > 0.0 && (p2 - p1) / se > Z_5_PERCENT
}

/// The champion's held-out accuracy (hits, of): a language-model run's quiz or judge accuracy,
/// else a board-game run's raw-policy suite accuracy.
fn held_out_accuracy(summary: &GenerationSummary) -> Option<(u64, u64)> {
    let language = summary.language.as_ref().and_then(|l| l.held_out.as_ref()).and_then(|h| h.accuracy_counts());
    language.or_else(|| summary.suite.as_ref().map(|s| (s.raw.optimal.hits, s.raw.optimal.positions)))
}

fn percent((hits, of): (u64, u64)) -> String {
    format!("{:.1}% ({hits} of {of})", 100.0 * hits as f64 / of.max(1) as f64)
}

/// The texts the filter checked in the generation's data and how many it removed.
fn filter_removed(summary: &GenerationSummary) -> Option<(u64, u64)> {
    let report = &summary.language.as_ref()?.data.as_ref()?.filter;
    Some(((report.total - report.kept) as u64, report.total as u64))
}

/// The flags of `current` against `previous` (the generation before it).
pub fn flags(previous: &GenerationSummary, current: &GenerationSummary) -> Vec<Flag> {
    let mut flags = Vec::new();
    let accuracy = (held_out_accuracy(previous), held_out_accuracy(current));
    if let (Some(before), Some(now)) = accuracy
        && current.champion_rating > previous.champion_rating
        && significantly_lower(now, before)
    {
        flags.push(Flag {
            kind: FlagKind::RatingUpHeldOutDown,
            detail: format!(
                "the champion's rating rose from {:+.0} to {:+.0} while its held-out accuracy fell from {} to {}",
                previous.champion_rating,
                current.champion_rating,
                percent(before),
                percent(now)
            ),
        });
    }
    let length = |s: &GenerationSummary| s.language.as_ref()?.held_out.as_ref()?.mean_reply_chars;
    if let (Some(before), Some(now)) = (length(previous), length(current))
        && now >= before * (1.0 + LONGER_SHARE)
        && now >= before + LONGER_CHARS
    {
        let gained = match accuracy {
            (Some(before), Some(now)) => significantly_lower(before, now),
            _ => false,
        };
        if !gained {
            flags.push(Flag {
                kind: FlagKind::LengthExploitation,
                detail: format!(
                    "the champion's held-out replies grew from {before:.0} to {now:.0} characters on average without a significant gain in held-out accuracy"
                ),
            });
        }
    }
    if let (Some(before), Some(now)) = (filter_removed(previous), filter_removed(current))
        && significantly_lower(before, now)
    {
        flags.push(Flag {
            kind: FlagKind::Degeneration,
            detail: format!(
                "the text filter removed {} of the generation's outputs, up from {}",
                percent(now),
                percent(before)
            ),
        });
    }
    flags
}

/// One line per flag of every generation, `generation N: kind: detail`.
pub fn describe(summaries: &[GenerationSummary]) -> Vec<String> {
    summaries
        .iter()
        .flat_map(|s| {
            s.flags.iter().map(move |f| format!("generation {}: {}: {}", s.generation, f.kind.as_str(), f.detail))
        })
        .collect()
}
