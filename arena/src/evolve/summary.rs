//! What each generation did (`generations/gen-N.json`, and the store's `generations` table):
//! the champion with its rating, every agent's rating, the dataset, training, gates and time —
//! the basis of `arena history`.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::run_dir::RunDir;
use crate::error::{Result, bail};
use crate::training::{DatasetStats, TrainReport};

/// One agent's rating in a generation's tournament.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RatedAgent {
    pub name: String,
    pub rating: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub games: u64,
    pub score: f64,
}

/// How a gate decided.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum GateDecision {
    /// The SPRT accepted H1: the child is stronger by `elo1`.
    AcceptedH1 { llr: f64 },
    /// The SPRT accepted H0: the child is not stronger.
    AcceptedH0 { llr: f64 },
    /// The SPRT had not decided after the most games; the score against the threshold decided.
    Threshold { llr: f64, score: f64, threshold: f64 },
}

impl GateDecision {
    /// Whether the child was promoted.
    pub fn promoted(&self) -> bool {
        match *self {
            GateDecision::AcceptedH1 { .. } => true,
            GateDecision::AcceptedH0 { .. } => false,
            GateDecision::Threshold { score, threshold, .. } => score >= threshold,
        }
    }
}

impl fmt::Display for GateDecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            GateDecision::AcceptedH1 { llr } => write!(f, "SPRT accepted H1 (LLR {llr:.2})"),
            GateDecision::AcceptedH0 { llr } => write!(f, "SPRT accepted H0 (LLR {llr:.2})"),
            GateDecision::Threshold { llr, score, threshold } => write!(
                f,
                "SPRT undecided (LLR {llr:.2}); score {:.1}% against threshold {:.1}%",
                100.0 * score,
                100.0 * threshold
            ),
        }
    }
}

/// A gate: a child against its parent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GateResult {
    pub child: String,
    pub parent: String,
    pub games: u64,
    pub score: f64,
    pub decision: GateDecision,
    /// The SPRT's log-likelihood ratio after each batch: (games so far, LLR).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trace: Vec<(u64, f64)>,
    /// The SPRT's bounds (accept H0 at or below the first, H1 at or above the second).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bounds: Option<(f64, f64)>,
    /// A person's decision on a child that passed (`arena evolve --approve`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<Approval>,
}

/// A person's decision on a promotion, and who made it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub approved: bool,
    pub by: String,
}

impl GateResult {
    /// Whether the child joins the population: it passed its gate, and no person vetoed it.
    pub fn promoted(&self) -> bool {
        self.decision.promoted() && self.approval.as_ref().is_none_or(|a| a.approved)
    }

    /// What became of the child.
    pub fn status(&self) -> super::lineage::Status {
        use super::lineage::Status;
        match (&self.approval, self.decision.promoted()) {
            (_, false) => Status::Rejected,
            (Some(approval), true) if !approval.approved => Status::Vetoed,
            _ => Status::Promoted,
        }
    }
}

/// The champion on the run's position suite.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SuiteAccuracy {
    /// With its raw policy (`sims=0`).
    pub raw: crate::suite::SuiteScore,
    /// With the search it plays tournaments with.
    pub search: crate::suite::SuiteScore,
    /// The raw policy per stage of the game (the suite's `stage` groups, such as `plies 10-14`):
    /// where in a game the champion errs most.
    #[serde(default)]
    pub raw_stages: Vec<crate::suite::SuiteScore>,
}

/// What one generation did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GenerationSummary {
    pub generation: u32,
    pub champion: String,
    pub champion_rating: f64,
    pub champion_ci: (f64, f64),
    /// The champion's score against each anchor in the tournament.
    pub champion_vs_anchors: Vec<(String, f64)>,
    pub ratings: Vec<RatedAgent>,
    pub tournament_games: u64,
    /// The generation's tournament in the run's store.
    #[serde(default)]
    pub tournament_id: Option<i64>,
    pub parents: Vec<String>,
    pub dataset: Option<DatasetStats>,
    pub training: Vec<(String, TrainReport)>,
    pub gates: Vec<GateResult>,
    /// The population after this generation.
    pub population: Vec<String>,
    /// Seconds spent in each step.
    pub seconds: Vec<(String, f64)>,
    /// A language-model run's data, fine-tuning and held-out evaluation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<super::LanguageGeneration>,
    /// The champion on the run's position suite, where it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suite: Option<SuiteAccuracy>,
    /// Honesty checks against the generation before ([`super::flags`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<super::flags::Flag>,
    /// Each parent's PFSP opponents: its score against each in the tournament and the games each
    /// got (board-game runs with `pfsp_share` above 0).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pfsp: Vec<super::pfsp::OpponentDraw>,
}

/// Reads every generation summary of a run directory, in order.
pub fn history(run_dir: &Path) -> Result<Vec<GenerationSummary>> {
    if !run_dir.join(super::run_dir::RECORD_FILE).exists() {
        bail!("{} is not an evolve run directory (no {})", run_dir.display(), super::run_dir::RECORD_FILE);
    }
    let run = RunDir::at(run_dir);
    let mut summaries = Vec::new();
    for generation in 1.. {
        match run.summary(generation)? {
            Some(summary) => summaries.push(summary),
            None => break,
        }
    }
    Ok(summaries)
}
