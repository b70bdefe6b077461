//! Answers to verifiable tasks (quiz games), grouped by task, and the training labels made from
//! them: the verifier's (the task's exact answer, on the tasks some sample got right: rejection
//! sampling) or the samples' own (the plurality answer: self-consistency, the truth unseen). The
//! statistics say whether either helps: the samples' pass rate, and how often the labels are right.
//!
//! Data lines, in the formats of [`super::export`]:
//! - SFT: one line per labeled task, the task's first prompt and its label as the reply;
//! - preference: per task, each sample that agrees with the label (chosen) against one that does
//!   not (rejected), zipped in order, each used once.
//!
//! With `canonical`, replies are written as their answer's canonical text (`56`, `yes`); otherwise
//! as the model wrote them (a label's text is then the first agreeing sample's). Every sample's
//! written text passes the [`TextFilter`] (counted in the report); one that fails is never a
//! chosen text and never an SFT reply. Votes count every readable sample, filtered or not.

use std::collections::BTreeMap;
use std::io::{self, Write};

use agents::ChatMessage;
use games::quiz::{Answer, Quiz};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::export::{ExportedMatch, first_prompt, write_line};
use super::text_filter::{FilterReport, TextFilter};
use crate::suite::Share;

/// Where the training labels of verifiable tasks come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Labels {
    /// The winners' turns of the generation's games (or winner-versus-loser pairs): no tasks.
    #[default]
    Games,
    /// The exact answer, on tasks that some sample answered right (rejection sampling).
    Verifier,
    /// The plurality answer of the samples (self-consistency), without the truth.
    Majority,
}

impl Labels {
    pub fn as_str(self) -> &'static str {
        match self {
            Labels::Games => "games",
            Labels::Verifier => "verifier",
            Labels::Majority => "majority",
        }
    }
}

/// One sample: a seat's reply to a task.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub task: u32,
    /// The task's kind (`addition`, ...).
    pub kind: String,
    pub agent: String,
    /// The decision's first prompt.
    pub prompt: Vec<ChatMessage>,
    /// The reply as written; `None` when the seat forfeited (no readable reply).
    pub reply: Option<String>,
    /// The reply read as an answer.
    pub answer: Option<Answer>,
    pub correct: bool,
}

/// The samples of every seat of every quiz match: accepted replies, and a forfeit as an
/// unreadable sample. Matches of other games, or without their moves, are skipped.
pub fn samples(matches: &[ExportedMatch], quiz: &Quiz) -> Vec<Sample> {
    let mut out = Vec::new();
    for m in matches {
        let Some(games::Move::Action(task)) = m.moves.first() else { continue };
        let Some(truth) = quiz.tasks().get(*task as usize) else { continue };
        for seat in 0..2 {
            let name = m.agent(seat);
            let accepted = m.turns.iter().find(|t| t.seat == seat && !t.rejected);
            let first = m.turns.iter().find(|t| t.seat == seat);
            let sample = match (accepted, first) {
                (Some(turn), _) => {
                    let reply = turn.trace.completion.trim().to_string();
                    let answer = truth.read(&reply).ok();
                    Sample {
                        task: *task,
                        kind: truth.kind.clone(),
                        agent: name.to_string(),
                        prompt: first_prompt(m, turn).to_vec(),
                        correct: answer == Some(truth.answer),
                        answer,
                        reply: Some(reply),
                    }
                }
                // Every answer rejected: the seat forfeited.
                (None, Some(turn)) if m.fault_seat == Some(seat) => Sample {
                    task: *task,
                    kind: truth.kind.clone(),
                    agent: name.to_string(),
                    prompt: first_prompt(m, turn).to_vec(),
                    reply: None,
                    answer: None,
                    correct: false,
                },
                _ => continue,
            };
            out.push(sample);
        }
    }
    out
}

/// How a set of samples did against the hidden truth.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AnswerStats {
    /// Right samples of all samples (a forfeit is a wrong one), with its 95% interval.
    pub accuracy: Share,
    pub tasks: usize,
    /// Tasks with at least one right sample (pass@k).
    pub solved_tasks: usize,
    /// Samples without a readable reply.
    pub forfeits: usize,
    /// The mean length of the readable replies, in characters.
    pub mean_chars: f64,
    /// Right samples of all, per task kind, in kind order.
    #[serde(default)]
    pub by_kind: Vec<KindScore>,
}

/// Right samples of all, for one kind of task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindScore {
    pub kind: String,
    pub right: u64,
    pub of: u64,
}

impl KindScore {
    pub fn accuracy(&self) -> f64 {
        self.right as f64 / self.of.max(1) as f64
    }
}

impl AnswerStats {
    pub fn of(samples: &[Sample]) -> AnswerStats {
        let correct = samples.iter().filter(|s| s.correct).count() as u64;
        let by_task = by_task(samples);
        let replies: Vec<usize> = samples.iter().filter_map(|s| s.reply.as_ref().map(|r| r.chars().count())).collect();
        AnswerStats {
            accuracy: Share::of(correct, samples.len() as u64),
            tasks: by_task.len(),
            solved_tasks: by_task.values().filter(|group| group.iter().any(|s| s.correct)).count(),
            forfeits: samples.iter().filter(|s| s.reply.is_none()).count(),
            mean_chars: replies.iter().sum::<usize>() as f64 / replies.len().max(1) as f64,
            by_kind: by_kind(samples),
        }
    }

    /// The kinds from the weakest (lowest accuracy) up; ties in kind order.
    pub fn weakest_kinds(&self) -> Vec<&KindScore> {
        let mut kinds: Vec<&KindScore> = self.by_kind.iter().collect();
        kinds.sort_by(|a, b| a.accuracy().total_cmp(&b.accuracy()));
        kinds
    }
}

fn by_kind(samples: &[Sample]) -> Vec<KindScore> {
    let mut kinds: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for sample in samples {
        let entry = kinds.entry(sample.kind.as_str()).or_default();
        entry.0 += u64::from(sample.correct);
        entry.1 += 1;
    }
    kinds.into_iter().map(|(kind, (right, of))| KindScore { kind: kind.to_string(), right, of }).collect()
}

/// The curriculum's weight of each kind for the next draw of training tasks: its error rate in
/// `stats` plus `floor` (so a mastered kind still appears). Kinds `stats` never saw weigh 1.
pub fn kind_weights(stats: &AnswerStats, floor: f64) -> BTreeMap<String, f64> {
    stats.by_kind.iter().map(|k| (k.kind.clone(), 1.0 - k.accuracy() + floor)).collect()
}

fn by_task(samples: &[Sample]) -> BTreeMap<u32, Vec<&Sample>> {
    let mut groups: BTreeMap<u32, Vec<&Sample>> = BTreeMap::new();
    for sample in samples {
        groups.entry(sample.task).or_default().push(sample);
    }
    groups
}

/// A task's training label.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskLabel {
    pub task: u32,
    pub answer: Answer,
    /// Whether the label equals the task's exact answer (never used for training; reported).
    pub correct: bool,
    /// The share of the task's samples that gave this answer.
    pub agreement: f64,
}

/// The labels from `source` (not [`Labels::Games`], which labels nothing): the verifier labels the
/// tasks some sample got right with the exact answer; the majority labels each task with its
/// plurality answer when that answer is unique and at least `min_agreement` of the task's samples
/// (forfeits included) gave it.
pub fn label(samples: &[Sample], quiz: &Quiz, source: Labels, min_agreement: f64) -> Vec<TaskLabel> {
    let mut labels = Vec::new();
    for (task, group) in by_task(samples) {
        let Some(truth) = quiz.tasks().get(task as usize).map(|t| t.answer) else { continue };
        let share =
            |answer: Answer| group.iter().filter(|s| s.answer == Some(answer)).count() as f64 / group.len() as f64;
        let chosen = match source {
            Labels::Games => None,
            Labels::Verifier => group.iter().any(|s| s.correct).then_some(truth),
            Labels::Majority => {
                let mut votes: BTreeMap<Answer, usize> = BTreeMap::new();
                for answer in group.iter().filter_map(|s| s.answer) {
                    *votes.entry(answer).or_default() += 1;
                }
                let top = votes.values().copied().max().unwrap_or(0);
                let mut leaders = votes.iter().filter(|(_, n)| **n == top).map(|(a, _)| *a);
                match (leaders.next(), leaders.next()) {
                    (Some(answer), None) if share(answer) >= min_agreement => Some(answer),
                    _ => None,
                }
            }
        };
        if let Some(answer) = chosen {
            labels.push(TaskLabel { task, answer, correct: answer == truth, agreement: share(answer) });
        }
    }
    labels
}

/// What a generation's samples and labels came to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LabelReport {
    pub source: Labels,
    /// The samples against the truth: the pass rate, pass@k, forfeits, reply length.
    pub samples: AnswerStats,
    /// Tasks that got a label.
    pub labeled_tasks: usize,
    /// The labels against the truth (for the verifier always right).
    pub label_accuracy: Share,
}

impl LabelReport {
    pub fn new(source: Labels, samples: &[Sample], labels: &[TaskLabel]) -> LabelReport {
        let right = labels.iter().filter(|l| l.correct).count() as u64;
        LabelReport {
            source,
            samples: AnswerStats::of(samples),
            labeled_tasks: labels.len(),
            label_accuracy: Share::of(right, labels.len() as u64),
        }
    }
}

/// The text a reply is written as: the answer's canonical text, or as the model wrote it.
fn reply_text(sample: &Sample, canonical: bool) -> Option<String> {
    match (canonical, sample.answer, &sample.reply) {
        (true, Some(answer), _) => Some(answer.to_string()),
        (false, _, Some(reply)) => Some(reply.clone()),
        _ => None,
    }
}

/// Checks every sample's written reply with the filter (in order, counted in `report`); whether
/// each passed.
fn filtered(samples: &[Sample], filter: &TextFilter, report: &mut FilterReport) -> Vec<bool> {
    samples.iter().map(|s| s.reply.as_ref().is_some_and(|reply| filter.apply(reply, report))).collect()
}

/// SFT lines: per label, the first agreeing sample that passed the filter, its prompt and reply.
pub fn write_label_sft(
    samples: &[Sample],
    labels: &[TaskLabel],
    canonical: bool,
    filter: &TextFilter,
    out: &mut impl Write,
) -> io::Result<FilterReport> {
    let mut report = FilterReport::default();
    let passed = filtered(samples, filter, &mut report);
    for label in labels {
        let chosen = samples
            .iter()
            .zip(&passed)
            .find(|(s, ok)| **ok && s.task == label.task && s.answer == Some(label.answer))
            .and_then(|(s, _)| Some((s, reply_text(s, canonical)?)));
        let Some((sample, reply)) = chosen else { continue };
        let mut messages = sample.prompt.clone();
        messages.push(ChatMessage::assistant(&reply));
        let meta = json!({ "task": label.task, "agent": sample.agent, "agreement": label.agreement });
        write_line(out, &json!({ "messages": messages, "meta": meta }), &mut report)?;
    }
    Ok(report)
}

/// Preference lines: per label, agreeing samples that passed the filter (chosen) zipped with the
/// disagreeing readable ones (rejected); identical texts are skipped (counted).
pub fn write_label_preference(
    samples: &[Sample],
    labels: &[TaskLabel],
    canonical: bool,
    filter: &TextFilter,
    out: &mut impl Write,
) -> io::Result<FilterReport> {
    let mut report = FilterReport::default();
    let passed = filtered(samples, filter, &mut report);
    for label in labels {
        let of_task = || samples.iter().zip(&passed).filter(|(s, _)| s.task == label.task);
        let chosen = of_task().filter(|(s, ok)| **ok && s.answer == Some(label.answer)).map(|(s, _)| s);
        let rejected = of_task().filter(|(s, _)| s.answer.is_some_and(|a| a != label.answer)).map(|(s, _)| s);
        for (good, bad) in chosen.zip(rejected) {
            let (Some(good_text), Some(bad_text)) = (reply_text(good, canonical), reply_text(bad, canonical)) else {
                continue;
            };
            if good_text == bad_text {
                report.identical_pairs += 1;
                continue;
            }
            let line = json!({
                "prompt": good.prompt,
                "chosen": [ChatMessage::assistant(&good_text)],
                "rejected": [ChatMessage::assistant(&bad_text)],
                "meta": { "task": label.task, "chosen": good.agent, "rejected": bad.agent },
            });
            write_line(out, &line, &mut report)?;
        }
    }
    Ok(report)
}
