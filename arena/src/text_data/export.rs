//! Training and evaluation data from language-model matches, as JSON lines: supervised turns of the
//! winners (`sft`), winner-versus-loser answers to the same prompt (`preference`), and one record
//! per match (`battles`).
//!
//! A seat *won* when its return is the match's maximum and that maximum is strictly greater than
//! the minimum; it *lost* when its return is the minimum and max > min. In debates with a judge seat
//! the returns are `[pro, con, judge]`, the judge +1 when its verdict was right, so a right judge
//! counts as a winner (its verdicts become training data too).
//!
//! The formats, one JSON object per line:
//!
//! - `sft` (TRL `SFTTrainer`, conversational): one line per turn of a winning seat,
//!   `{"messages": [...prompt..., {"role": "assistant", "content": completion}], "meta": {"tournament",
//!   "match", "seat", "agent", "ply", "game"}}`. The completion passes the [`TextFilter`] or is left out.
//! - `preference` (TRL conversational preference): `{"prompt": [...], "chosen": [{"role": "assistant",
//!   "content": ...}], "rejected": [...], "meta": {"chosen": {...}, "rejected": {...}}}`, pairing a
//!   winner's and a loser's answers to the same prompt (identical message lists). Turns are grouped by
//!   prompt in first-seen order (over all matches, in the order given); within a group the winners'
//!   turns are zipped with the losers' in order, each used once. Then, from every match (faulted ones
//!   too), each answer the engine rejected (an illegal or unreadable move; `meta.pair` is
//!   `"rejected_answer"`) against the answer it took at the same decision, with the rejected
//!   answer's prompt. Then, from every judged debate that ended normally, each verdict of the judge
//!   seat against the verdict the truth calls for (`meta.pair` is `"verdict"`): chosen the right
//!   verdict (`pro` or `con`), rejected the judge's answer when it was wrong, else the wrong
//!   verdict. A pair whose two texts are identical is skipped (counted); then the chosen
//!   text must pass the filter (the rejected one is not checked).
//! - `battles` (FastChat arena-battle fields plus ours): one line per match with two seats or more,
//!   `{"model_a", "model_b", "winner": "model_a"|"model_b"|"tie" (returns[0] vs returns[1]), "judge"
//!   (the judge's name, "oracle", or "rules"), "game", "tournament", "match", "fault", "turns":
//!   [{"seat", "agent", "content", "rejected"}]}`. Not filtered.
//!
//! Rejected answers are never `sft` targets: an answer accepted after retries is written with its
//! decision's first prompt (the rejected answers and the engine's replies left out). Matches that ended by a fault are left out of `sft`
//! and of the winner-versus-loser pairs (a forfeit says little about the turns before it) and kept
//! in `battles` (a forfeit is a result); the report counts them.

use std::collections::HashMap;
use std::io::{self, Write};

use agents::ChatMessage;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use games::Spec;

use crate::engine::runner::TextTurn;
use crate::store::Store;
use crate::text_data::text_filter::{FilterReport, TextFilter};

/// One finished match with its language-model turns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExportedMatch {
    pub tournament: i64,
    /// The match's index in the tournament.
    pub index: u64,
    /// The canonical game spec, e.g. `debate(rounds=2,...)`.
    pub game: String,
    /// The agent name per seat (seat 0, 1, and 2 = the judge in debates).
    pub seat_agents: Vec<String>,
    /// Who decided: the judge seat's agent name, `"oracle"`, or `None` (a board game's rules).
    pub judge: Option<String>,
    /// The return per seat.
    pub returns: Vec<f64>,
    /// `Some(reason)` when the game ended by a fault (a forfeit).
    pub fault: Option<String>,
    /// The seat whose fault ended the game.
    #[serde(default)]
    pub fault_seat: Option<usize>,
    /// The language-model turns in play order.
    pub turns: Vec<TextTurn>,
    /// The moves from the start (opening and chance moves included), where the store kept them.
    #[serde(default)]
    pub moves: Vec<games::Move>,
}

impl ExportedMatch {
    /// The lowest and highest return, when there are returns.
    fn return_range(&self) -> Option<(f64, f64)> {
        let mut values = self.returns.iter().copied().filter(|r| !r.is_nan());
        let first = values.next()?;
        Some(values.fold((first, first), |(lo, hi), r| (lo.min(r), hi.max(r))))
    }

    /// Whether `seat` won: its return is the maximum and the maximum is above the minimum.
    pub fn won(&self, seat: usize) -> bool {
        match (self.return_range(), self.returns.get(seat)) {
            (Some((lo, hi)), Some(&r)) => hi > lo && r == hi,
            _ => false,
        }
    }

    /// Whether `seat` lost: its return is the minimum and the maximum is above the minimum.
    pub fn lost(&self, seat: usize) -> bool {
        match (self.return_range(), self.returns.get(seat)) {
            (Some((lo, hi)), Some(&r)) => hi > lo && r == lo,
            _ => false,
        }
    }

    /// The agent at `seat` (empty when the seat is unknown).
    pub fn agent(&self, seat: usize) -> &str {
        self.seat_agents.get(seat).map_or("", String::as_str)
    }

    /// In a judged debate that ended normally, the right verdict and the wrong one (`pro`/`con`),
    /// as the returns `[pro, con, judge]` tell them: the judge's return is positive when its
    /// verdict was right.
    fn right_verdict(&self) -> Option<(&'static str, &'static str)> {
        self.judge.as_ref().filter(|j| *j != "oracle")?;
        let [pro, con, judge] = <[f64; 3]>::try_from(self.returns.as_slice()).ok()?;
        if pro == con {
            return None;
        }
        let pro_right = (pro > con) == (judge > 0.0);
        Some(if pro_right { ("pro", "con") } else { ("con", "pro") })
    }

    /// Where a turn came from, for the `meta` fields.
    fn source(&self, turn: &TextTurn) -> Value {
        json!({
            "tournament": self.tournament,
            "match": self.index,
            "seat": turn.seat,
            "agent": self.agent(turn.seat),
            "ply": turn.ply,
            "game": self.game,
        })
    }
}

/// The judge's seat in debates.
const JUDGE_SEAT: usize = 2;

/// The export formats of `arena export --format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Winners' turns as chat transcripts (TRL SFTTrainer `messages`).
    Sft,
    /// Winner-versus-loser answers to the same prompt (TRL conversational preference).
    Preference,
    /// One record per match (FastChat arena-battle fields).
    Battles,
}

impl Format {
    /// Every format with its name on the command line.
    pub const NAMES: [(&'static str, Format); 3] =
        [("sft", Format::Sft), ("preference", Format::Preference), ("battles", Format::Battles)];
}

/// Reads the finished matches of a store's tournaments with their language-model turns.
pub fn exported_matches(store: &Store, tournament: Option<i64>) -> crate::error::Result<Vec<ExportedMatch>> {
    let tournaments = match tournament {
        Some(id) => vec![store.tournament(id)?],
        None => store.tournaments()?,
    };
    let mut matches = Vec::new();
    for t in tournaments {
        let agents = store.agents(t.id)?;
        let judges = store.judges(t.id)?;
        let oracle = Spec::parse(&t.game).is_ok_and(|spec| spec.get("judge") == Some("oracle"));
        let mut turns = store.turns(t.id)?;
        let mut moves = store.match_moves(t.id)?;
        for m in store.finished(t.id)? {
            let missing = |what: &str, index: usize| {
                crate::error::Error::Invalid(format!(
                    "store {} is inconsistent (damaged?): tournament {} match {} names {what} {index}, which the \
                     tournament does not list",
                    store.location(),
                    t.id,
                    m.index
                ))
            };
            let name = |index: usize| agents.get(index).map(|a| a.name.clone()).ok_or_else(|| missing("agent", index));
            let mut seat_agents = vec![name(m.seats[0])?, name(m.seats[1])?];
            let judge = match m.judge {
                Some(j) => {
                    let judge = judges.get(j).map(|a| a.name.clone()).ok_or_else(|| missing("judge", j))?;
                    seat_agents.push(judge.clone());
                    Some(judge)
                }
                None => oracle.then(|| "oracle".to_string()),
            };
            let fault = m
                .fault_seat
                .map(|seat| format!("{} by seat {seat}: {}", m.end, m.fault_detail.clone().unwrap_or_default()));
            let turns = turns.remove(&m.index).unwrap_or_default().into_iter().collect();
            let moves = moves.remove(&m.index).unwrap_or_default();
            matches.push(ExportedMatch {
                tournament: t.id,
                index: m.index,
                game: t.game.clone(),
                seat_agents,
                judge,
                returns: m.returns,
                fault,
                fault_seat: m.fault_seat,
                turns,
                moves,
            });
        }
    }
    Ok(matches)
}

/// Writes `matches` in `format`; see the module docs for each format's lines.
pub fn export(
    format: Format,
    matches: &[ExportedMatch],
    filter: &TextFilter,
    out: &mut impl Write,
) -> io::Result<FilterReport> {
    match format {
        Format::Sft => write_sft(matches, filter, out),
        Format::Preference => write_preference(matches, filter, out),
        Format::Battles => write_battles(matches, out),
    }
}

/// Writes one JSON line and counts it.
pub(crate) fn write_line(out: &mut impl Write, value: &Value, report: &mut FilterReport) -> io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")?;
    report.written += 1;
    Ok(())
}

fn assistant(content: &str) -> ChatMessage {
    ChatMessage::assistant(content)
}

/// Counts the matches and the faulted ones; yields the matches without a fault.
fn unfaulted<'a>(matches: &'a [ExportedMatch], report: &mut FilterReport) -> Vec<&'a ExportedMatch> {
    report.matches += matches.len();
    report.faulted_matches += matches.iter().filter(|m| m.fault.is_some()).count();
    matches.iter().filter(|m| m.fault.is_none()).collect()
}

/// `sft`: one line per turn of a winning seat whose completion passes the filter.
pub fn write_sft(matches: &[ExportedMatch], filter: &TextFilter, out: &mut impl Write) -> io::Result<FilterReport> {
    write_sft_from(matches, Forfeits::Skip, filter, out)
}

/// What `sft` does with matches that ended by a fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forfeits {
    /// Leave them out (the export's default: a forfeit says little about the turns before it).
    Skip,
    /// Keep the accepted turns of the seat that won by the opponent's forfeit: where a model
    /// forfeits most games (a small model that cannot yet answer in the game's notation), they
    /// are the only examples of answers the game accepts.
    KeepWinners,
}

/// `sft` with a choice of what to do with faulted matches (they are counted either way).
pub fn write_sft_from(
    matches: &[ExportedMatch],
    forfeits: Forfeits,
    filter: &TextFilter,
    out: &mut impl Write,
) -> io::Result<FilterReport> {
    let mut report = FilterReport::default();
    let kept: Vec<&ExportedMatch> = match forfeits {
        Forfeits::Skip => unfaulted(matches, &mut report),
        Forfeits::KeepWinners => {
            unfaulted(matches, &mut report);
            matches.iter().collect()
        }
    };
    for m in kept {
        for turn in m.turns.iter().filter(|t| m.won(t.seat) && !t.rejected) {
            if !filter.apply(&turn.trace.completion, &mut report) {
                continue;
            }
            let mut messages = first_prompt(m, turn).to_vec();
            messages.push(assistant(&turn.trace.completion));
            write_line(out, &json!({ "messages": messages, "meta": m.source(turn) }), &mut report)?;
        }
    }
    Ok(report)
}

/// The prompt of `turn`'s decision as first asked: an answer accepted after retries carries the
/// rejected answers and the engine's replies in its messages, and every assistant message of an
/// SFT line is a target, so they are left out. The decision's first answer (the first turn of the
/// same seat and ply) was given to exactly that prompt; assistant messages before it are the
/// agent's few-shot examples and stay.
pub(crate) fn first_prompt<'a>(m: &'a ExportedMatch, turn: &'a TextTurn) -> &'a [ChatMessage] {
    let first = m.turns.iter().find(|t| t.seat == turn.seat && t.ply == turn.ply).unwrap_or(turn);
    &first.trace.messages
}

/// Rewrites the answer of every accepted turn at a move (not a free-text turn) as the move's
/// canonical text, as the game writes it (`b2`, `bet`): the model's own choice in the notation
/// its prompt asks for, without the words around it. Needs the matches' moves (a match without
/// them is left as it is). Returns how many answers changed.
pub fn canonical_answers(matches: &mut [ExportedMatch], games: &games::Registry) -> crate::error::Result<usize> {
    let mut changed = 0;
    for m in matches.iter_mut().filter(|m| !m.moves.is_empty()) {
        let game = games.load(&m.game)?;
        let mut state = game.new_initial_state();
        for (ply, played) in m.moves.iter().enumerate() {
            if let games::Move::Action(action) = played {
                let text = state.action_to_string(*action);
                for turn in m.turns.iter_mut().filter(|t| t.ply == ply && !t.rejected) {
                    if turn.trace.completion != text {
                        turn.trace.completion = text.clone();
                        changed += 1;
                    }
                }
            }
            match played {
                games::Move::Action(action) => state.apply(*action)?,
                games::Move::Text(text) => state.apply_text(text)?,
            }
        }
    }
    Ok(changed)
}

/// One prompt's winners' and losers' turns, in order.
#[derive(Default)]
struct PromptGroup<'a> {
    prompt: &'a [ChatMessage],
    winners: Vec<(&'a ExportedMatch, &'a TextTurn)>,
    losers: Vec<(&'a ExportedMatch, &'a TextTurn)>,
}

/// `preference`: winner-versus-loser pairs over identical prompts (see the module docs for the
/// pairing); the chosen text passes the filter.
pub fn write_preference(
    matches: &[ExportedMatch],
    filter: &TextFilter,
    out: &mut impl Write,
) -> io::Result<FilterReport> {
    let mut report = FilterReport::default();
    let mut groups: Vec<PromptGroup> = Vec::new();
    let mut index: HashMap<Vec<(&str, &str)>, usize> = HashMap::new();
    for m in unfaulted(matches, &mut report) {
        for turn in m.turns.iter().filter(|t| !t.rejected) {
            let (won, lost) = (m.won(turn.seat), m.lost(turn.seat));
            if !won && !lost {
                continue;
            }
            let messages = &turn.trace.messages;
            let key: Vec<(&str, &str)> = messages.iter().map(|c| (c.role.as_str(), c.content.as_str())).collect();
            let slot = *index.entry(key).or_insert_with(|| {
                groups.push(PromptGroup { prompt: messages, ..PromptGroup::default() });
                groups.len() - 1
            });
            let group = &mut groups[slot];
            let side = if won { &mut group.winners } else { &mut group.losers };
            side.push((m, turn));
        }
    }
    let mut pairs = PairWriter { filter, out, report: &mut report };
    for group in &groups {
        for (&(wm, winner), &(lm, loser)) in group.winners.iter().zip(&group.losers) {
            let meta = json!({ "chosen": wm.source(winner), "rejected": lm.source(loser) });
            pairs.write(group.prompt, &winner.trace.completion, &loser.trace.completion, meta)?;
        }
    }
    for m in matches {
        for (i, turn) in m.turns.iter().enumerate().filter(|(_, t)| t.rejected) {
            // The answer the engine took at the same decision, after this one was rejected.
            let same_decision = |t: &&TextTurn| !t.rejected && t.seat == turn.seat && t.ply == turn.ply;
            let Some(accepted) = m.turns[i + 1..].iter().find(same_decision) else { continue };
            let meta = json!({ "chosen": m.source(accepted), "rejected": m.source(turn), "pair": "rejected_answer" });
            if pairs.write(&turn.trace.messages, &accepted.trace.completion, &turn.trace.completion, meta)? {
                pairs.report.rejection_pairs += 1;
            }
        }
    }
    for m in matches.iter().filter(|m| m.fault.is_none()) {
        let Some((right, wrong)) = m.right_verdict() else { continue };
        for turn in m.turns.iter().filter(|t| t.seat == JUDGE_SEAT && !t.rejected) {
            let answer = turn.trace.completion.trim();
            // The judge's answer as the debate read it (a jury member may dissent from the
            // verdict the returns score): a right answer, however worded, is never the rejected side.
            let answered_right =
                games::debate::parse_verdict(answer).is_ok_and(|side| (side == games::debate::PRO) == (right == "pro"));
            let rejected = if answered_right { wrong } else { answer };
            let meta = json!({ "chosen": "truth", "rejected": m.source(turn), "pair": "verdict" });
            if pairs.write(&turn.trace.messages, right, rejected, meta)? {
                pairs.report.verdict_pairs += 1;
            }
        }
    }
    Ok(report)
}

/// Writes preference pairs: identical texts are skipped (counted), the chosen text must pass the
/// filter.
struct PairWriter<'a, W: Write> {
    filter: &'a TextFilter,
    out: &'a mut W,
    report: &'a mut FilterReport,
}

impl<W: Write> PairWriter<'_, W> {
    /// Writes one pair; whether it was written.
    fn write(&mut self, prompt: &[ChatMessage], chosen: &str, rejected: &str, meta: Value) -> io::Result<bool> {
        if chosen == rejected {
            self.report.identical_pairs += 1;
            return Ok(false);
        }
        if !self.filter.apply(chosen, self.report) {
            return Ok(false);
        }
        let line = json!({
            "prompt": prompt,
            "chosen": [assistant(chosen)],
            "rejected": [assistant(rejected)],
            "meta": meta,
        });
        write_line(self.out, &line, self.report)?;
        Ok(true)
    }
}

/// `battles`: one line per match with two seats or more (faulted matches included, nothing filtered).
pub fn write_battles(matches: &[ExportedMatch], out: &mut impl Write) -> io::Result<FilterReport> {
    let mut report = FilterReport { matches: matches.len(), ..FilterReport::default() };
    for m in matches {
        if m.fault.is_some() {
            report.faulted_matches += 1;
        }
        let (Some(&a), Some(&b)) = (m.returns.first(), m.returns.get(1)) else { continue };
        if m.seat_agents.len() < 2 {
            continue;
        }
        let winner = if a > b {
            "model_a"
        } else if b > a {
            "model_b"
        } else {
            "tie"
        };
        let turns: Vec<Value> = m
            .turns
            .iter()
            .map(|t| {
                json!({ "seat": t.seat, "agent": m.agent(t.seat), "content": t.trace.completion, "rejected": t.rejected })
            })
            .collect();
        let line = json!({
            "model_a": m.agent(0),
            "model_b": m.agent(1),
            "winner": winner,
            "judge": m.judge.as_deref().unwrap_or("rules"),
            "game": m.game,
            "tournament": m.tournament,
            "match": m.index,
            "fault": m.fault,
            "turns": turns,
        });
        write_line(out, &line, &mut report)?;
    }
    Ok(report)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::text_data::text_filter::Rule;
    use agents::TextTrace;

    fn trace(prompt: &[(&str, &str)], completion: &str) -> TextTrace {
        TextTrace {
            messages: prompt.iter().map(|&(r, c)| ChatMessage::new(r, c)).collect(),
            completion: completion.into(),
            tokens: vec![1, 2],
            logprobs: vec![-0.5, -0.25],
            request: None,
        }
    }

    fn turn(seat: usize, ply: usize, prompt: &[(&str, &str)], completion: &str) -> TextTurn {
        TextTurn { seat, ply, trace: trace(prompt, completion), rejected: false }
    }

    fn rejected_turn(seat: usize, ply: usize, prompt: &[(&str, &str)], completion: &str) -> TextTurn {
        TextTurn { rejected: true, ..turn(seat, ply, prompt, completion) }
    }

    fn debate(index: u64, returns: [f64; 3], turns: Vec<TextTurn>) -> ExportedMatch {
        ExportedMatch {
            tournament: 7,
            index,
            game: "debate(rounds=1)".into(),
            seat_agents: vec!["alice".into(), "bob".into(), "judy".into()],
            judge: Some("judy".into()),
            returns: returns.to_vec(),
            fault: None,
            fault_seat: None,
            turns,
            moves: Vec::new(),
        }
    }

    const PRO: &[(&str, &str)] = &[("system", "You argue for."), ("user", "Is 17 + 25 = 42?")];
    const CON: &[(&str, &str)] = &[("system", "You argue against."), ("user", "Is 17 + 25 = 42?")];
    const JUDGE: &[(&str, &str)] = &[("system", "You judge."), ("user", "Who is right?")];

    fn lines(bytes: &[u8]) -> Vec<Value> {
        std::str::from_utf8(bytes).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    fn run(format: Format, matches: &[ExportedMatch], filter: &TextFilter) -> (Vec<Value>, FilterReport) {
        let mut out = Vec::new();
        let report = export(format, matches, filter, &mut out).unwrap();
        assert!(out.is_empty() || out.ends_with(b"\n"));
        let lines = lines(&out);
        assert_eq!(lines.len(), report.written);
        (lines, report)
    }

    #[test]
    fn won_and_lost_follow_the_returns() {
        let m = debate(0, [1.0, -1.0, 1.0], vec![]);
        assert!(m.won(0) && !m.lost(0));
        assert!(m.lost(1) && !m.won(1));
        assert!(m.won(2), "a right judge counts as a winner");
        assert!(!m.won(3) && !m.lost(3));
        let draw = debate(0, [0.0, 0.0, 0.0], vec![]);
        assert!((0..3).all(|s| !draw.won(s) && !draw.lost(s)));
        let three = ExportedMatch { returns: vec![1.0, 0.0, -1.0], ..draw };
        assert!(three.won(0) && !three.won(1) && !three.lost(1) && three.lost(2));
    }

    #[test]
    fn sft_keeps_winners_turns_only_and_skips_faulted_matches() {
        let turns = vec![
            turn(0, 0, PRO, "17 + 25 is 42, so the statement holds."),
            turn(1, 1, CON, "It is 41."),
            turn(2, 2, JUDGE, "Pro is right."),
        ];
        let won = debate(3, [1.0, -1.0, 1.0], turns.clone());
        let faulted = ExportedMatch { fault: Some("timeout".into()), ..debate(4, [1.0, -1.0, 1.0], turns.clone()) };
        let drawn = debate(5, [0.0, 0.0, 0.0], turns);
        let (lines, report) = run(Format::Sft, &[won, faulted, drawn], &TextFilter::default());
        assert_eq!(lines.len(), 2);
        assert_eq!(report.matches, 3);
        assert_eq!(report.faulted_matches, 1);
        assert_eq!((report.total, report.kept, report.written), (2, 2, 2));

        let first = &lines[0];
        let messages = first["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 3);
        assert_eq!(messages[0], json!({"role": "system", "content": "You argue for."}));
        assert_eq!(messages[2], json!({"role": "assistant", "content": "17 + 25 is 42, so the statement holds."}));
        assert_eq!(
            first["meta"],
            json!({"tournament": 7, "match": 3, "seat": 0, "agent": "alice", "ply": 0, "game": "debate(rounds=1)"})
        );
        assert_eq!(lines[1]["meta"]["agent"], "judy");
        assert_eq!(lines[1]["messages"][2]["content"], "Pro is right.");
    }

    #[test]
    fn sft_filters_the_completion() {
        let m = debate(
            0,
            [1.0, -1.0, 1.0],
            vec![
                turn(0, 0, PRO, "I'm sorry, but I cannot argue that."),
                turn(0, 2, PRO, "Yes: 42."),
                turn(2, 3, JUDGE, ""),
            ],
        );
        let (lines, report) = run(Format::Sft, std::slice::from_ref(&m), &TextFilter::default());
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0]["meta"]["ply"], 2);
        assert_eq!((report.total, report.kept), (3, 1));
        assert_eq!(report.removed_by(Rule::Refusal), 1);
        assert_eq!(report.removed_by(Rule::MinChars), 1);
        let (lines, _) = run(Format::Sft, &[m], &TextFilter::off());
        assert_eq!(lines.len(), 3);
    }

    #[test]
    fn preference_pairs_identical_prompts_winner_chosen_in_order() {
        let other: &[(&str, &str)] = &[("system", "You argue for."), ("user", "Is 2 + 2 = 5?")];
        let matches = vec![
            // Pro wins: pro's answer is a winner for PRO, con's a loser for CON.
            debate(0, [1.0, -1.0, 1.0], vec![turn(0, 0, PRO, "pro wins A"), turn(1, 1, CON, "con loses A")]),
            // Con wins: con's answer is a winner for CON, pro's a loser for PRO.
            debate(1, [-1.0, 1.0, -1.0], vec![turn(0, 0, PRO, "pro loses B"), turn(1, 1, CON, "con wins B")]),
            debate(2, [-1.0, 1.0, -1.0], vec![turn(0, 0, PRO, "pro loses C"), turn(0, 2, other, "no partner")]),
            // A faulted match contributes nothing.
            ExportedMatch {
                fault: Some("illegal move".into()),
                ..debate(3, [1.0, -1.0, 1.0], vec![turn(0, 0, PRO, "faulted"), turn(1, 1, CON, "faulted con")])
            },
            // A draw has no winners or losers.
            debate(4, [0.0, 0.0, 0.0], vec![turn(0, 0, PRO, "drawn")]),
        ];
        let (lines, report) = run(Format::Preference, &matches, &TextFilter::default());
        assert_eq!(report.faulted_matches, 1);
        assert_eq!(lines.len(), 2);
        // First group: PRO (seen first); winner A zipped with the first loser, B (C is left over).
        assert_eq!(
            lines[0]["prompt"],
            json!([{"role": "system", "content": "You argue for."}, {"role": "user", "content": "Is 17 + 25 = 42?"}])
        );
        assert_eq!(lines[0]["chosen"], json!([{"role": "assistant", "content": "pro wins A"}]));
        assert_eq!(lines[0]["rejected"], json!([{"role": "assistant", "content": "pro loses B"}]));
        assert_eq!(lines[0]["meta"]["chosen"]["match"], 0);
        assert_eq!(lines[0]["meta"]["rejected"]["match"], 1);
        assert_eq!(lines[0]["meta"]["rejected"]["agent"], "alice");
        // Second group: CON.
        assert_eq!(lines[1]["prompt"][0]["content"], "You argue against.");
        assert_eq!(lines[1]["chosen"][0]["content"], "con wins B");
        assert_eq!(lines[1]["rejected"][0]["content"], "con loses A");
        assert_eq!(lines[1]["meta"]["chosen"]["agent"], "bob");

        // Deterministic: the same input gives the same bytes.
        let mut a = Vec::new();
        let mut b = Vec::new();
        write_preference(&matches, &TextFilter::default(), &mut a).unwrap();
        write_preference(&matches, &TextFilter::default(), &mut b).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn preference_prompts_must_match_exactly() {
        let near: &[(&str, &str)] = &[("system", "You argue for."), ("user", "Is 17 + 25 = 42? ")];
        let matches = vec![
            debate(0, [1.0, -1.0, 1.0], vec![turn(0, 0, PRO, "yes")]),
            debate(1, [-1.0, 1.0, -1.0], vec![turn(0, 0, near, "no")]),
        ];
        let (lines, _) = run(Format::Preference, &matches, &TextFilter::default());
        assert!(lines.is_empty());
    }

    #[test]
    fn preference_skips_identical_pairs_and_filters_only_the_chosen() {
        let matches = vec![
            debate(0, [1.0, -1.0, 1.0], vec![turn(0, 0, PRO, "same"), turn(1, 1, CON, "I cannot lose")]),
            debate(1, [-1.0, 1.0, -1.0], vec![turn(0, 0, PRO, "same"), turn(1, 1, CON, "fine answer")]),
            debate(2, [1.0, -1.0, 1.0], vec![turn(0, 0, PRO, "As an AI, no.")]),
            debate(3, [-1.0, 1.0, -1.0], vec![turn(0, 0, PRO, "As an AI, I refuse.")]),
            debate(4, [1.0, -1.0, 1.0], vec![turn(0, 0, PRO, "good")]),
            debate(5, [-1.0, 1.0, -1.0], vec![turn(0, 0, PRO, "I won't.")]),
        ];
        let (lines, report) = run(Format::Preference, &matches, &TextFilter::default());
        // PRO pairs: (same, same) identical; (As an AI.., As an AI..) chosen refused; (good, I won't) kept.
        // CON pair: chosen "fine answer", rejected "I cannot lose" (a bad rejected text is fine).
        assert_eq!(report.identical_pairs, 1);
        assert_eq!(report.total, 3);
        assert_eq!(report.removed_by(Rule::Refusal), 1);
        assert_eq!(report.kept, 2);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["chosen"][0]["content"], "good");
        assert_eq!(lines[0]["rejected"][0]["content"], "I won't.");
        assert_eq!(lines[1]["chosen"][0]["content"], "fine answer");
        assert_eq!(lines[1]["rejected"][0]["content"], "I cannot lose");
    }

    #[test]
    fn battles_give_winner_tie_judge_and_keep_faults() {
        let board = |index, returns: Vec<f64>, fault: Option<&str>| ExportedMatch {
            tournament: 1,
            index,
            game: "tictactoe".into(),
            seat_agents: vec!["llm-a".into(), "llm-b".into()],
            judge: None,
            returns,
            fault: fault.map(Into::into),
            fault_seat: None,
            turns: vec![turn(0, 0, PRO, "4"), turn(1, 1, CON, "0")],
            moves: Vec::new(),
        };
        let matches = vec![
            board(0, vec![1.0, -1.0], None),
            board(1, vec![-1.0, 1.0], Some("illegal move")),
            board(2, vec![0.0, 0.0], None),
            debate(3, [-1.0, 1.0, 1.0], vec![turn(2, 2, JUDGE, "Con is right.")]),
            ExportedMatch { judge: Some("oracle".into()), ..debate(4, [0.5, 0.5, 0.0], vec![]) },
            ExportedMatch { seat_agents: vec!["solo".into()], returns: vec![1.0], ..board(5, vec![], None) },
        ];
        let (lines, report) = run(Format::Battles, &matches, &TextFilter::default());
        assert_eq!(lines.len(), 5, "the one-seat match is left out");
        assert_eq!((report.matches, report.faulted_matches, report.total), (6, 1, 0));
        let winners: Vec<&str> = lines.iter().map(|l| l["winner"].as_str().unwrap()).collect();
        assert_eq!(winners, ["model_a", "model_b", "tie", "model_b", "tie"]);
        let judges: Vec<&str> = lines.iter().map(|l| l["judge"].as_str().unwrap()).collect();
        assert_eq!(judges, ["rules", "rules", "rules", "judy", "oracle"]);
        assert_eq!(lines[0]["model_a"], "llm-a");
        assert_eq!(lines[0]["model_b"], "llm-b");
        assert_eq!(lines[0]["game"], "tictactoe");
        assert_eq!(lines[0]["tournament"], 1);
        assert_eq!(lines[0]["match"], 0);
        assert_eq!(lines[0]["fault"], Value::Null);
        assert_eq!(lines[1]["fault"], "illegal move");
        assert_eq!(
            lines[0]["turns"],
            json!([
                {"seat": 0, "agent": "llm-a", "content": "4", "rejected": false},
                {"seat": 1, "agent": "llm-b", "content": "0", "rejected": false}
            ])
        );
        assert_eq!(
            lines[3]["turns"],
            json!([{"seat": 2, "agent": "judy", "content": "Con is right.", "rejected": false}])
        );
    }

    #[test]
    fn rejected_answers_pair_with_the_answer_taken_and_are_never_sft_targets() {
        const MOVE: &[(&str, &str)] = &[("system", "You play."), ("user", "Your move:")];
        const RETRY: &[(&str, &str)] = &[("system", "You play."), ("user", "Your move:"), ("user", "Illegal.")];
        let turns = vec![
            rejected_turn(0, 0, MOVE, "the best one"),
            turn(0, 0, RETRY, "b2"),
            turn(1, 1, MOVE, "a1"),
            // Rejected at ply 2, then rejected again: no answer was taken, no pair.
            rejected_turn(0, 2, MOVE, "zz"),
        ];
        // Seat 0 won; a faulted match gives rejection pairs too.
        let won = ExportedMatch { returns: vec![1.0, -1.0], ..debate(0, [1.0, -1.0, 0.0], turns.clone()) };
        let faulted = ExportedMatch { fault: Some("unparseable".into()), ..won.clone() };
        let (sft, _) = run(Format::Sft, std::slice::from_ref(&won), &TextFilter::default());
        let last = |line: &Value| line["messages"].as_array().and_then(|m| m.last()).cloned();
        let completions: Vec<Value> = sft.iter().filter_map(last).map(|m| m["content"].clone()).collect();
        assert_eq!(completions, [json!("b2")], "rejected answers are not SFT targets");

        let (pairs, report) = run(Format::Preference, &[won, faulted], &TextFilter::default());
        let rejection: Vec<&Value> = pairs.iter().filter(|l| l["meta"]["pair"] == "rejected_answer").collect();
        assert_eq!(rejection.len(), 2, "one per match: {pairs:?}");
        assert_eq!(report.rejection_pairs, 2);
        let pair = rejection[0];
        assert_eq!(pair["chosen"][0]["content"], "b2");
        assert_eq!(pair["rejected"][0]["content"], "the best one");
        assert_eq!(pair["prompt"][1]["content"], "Your move:", "the rejected answer's own prompt");
        assert_eq!(pair["meta"]["rejected"]["ply"], 0);

        let (battles, _) = run(Format::Battles, &[debate(0, [1.0, -1.0, 0.0], turns)], &TextFilter::off());
        assert_eq!(battles[0]["turns"][0]["rejected"], true);
        assert_eq!(battles[0]["turns"][1]["rejected"], false);
    }

    #[test]
    fn matches_round_trip_and_formats_parse() {
        let m = debate(0, [1.0, -1.0, 1.0], vec![turn(0, 0, PRO, "yes")]);
        let back: ExportedMatch = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_eq!(back, m);
        let names: Vec<&str> = Format::NAMES.iter().map(|(name, _)| *name).collect();
        assert_eq!(names, ["sft", "preference", "battles"]);
        // The command-line names are the serde names.
        for (name, format) in Format::NAMES {
            assert_eq!(serde_json::to_value(format).unwrap(), json!(name));
        }
    }

    #[test]
    fn write_errors_are_returned() {
        struct Broken;
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::other("disk full"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let m = debate(0, [1.0, -1.0, 1.0], vec![turn(0, 0, PRO, "yes")]);
        assert!(write_sft(std::slice::from_ref(&m), &TextFilter::default(), &mut Broken).is_err());
        assert!(write_battles(&[m], &mut Broken).is_err());
    }

    #[test]
    fn an_answer_accepted_after_retries_is_exported_with_its_first_prompt_only() {
        let retried = [
            ("system", "Play."),
            ("user", "Your move?"),
            ("assistant", "Basketball."),
            ("user", "Your answer was rejected. Your move?"),
        ];
        let m = debate(
            0,
            [1.0, -1.0, 1.0],
            vec![rejected_turn(0, 0, &retried[..2], "Basketball."), turn(0, 0, &retried, "b2")],
        );
        let (lines, _) = run(Format::Sft, &[m], &TextFilter::default());
        assert_eq!(lines.len(), 1);
        assert_eq!(
            lines[0]["messages"],
            json!([
                {"role": "system", "content": "Play."},
                {"role": "user", "content": "Your move?"},
                {"role": "assistant", "content": "b2"},
            ]),
            "the rejected answer is no target"
        );
    }

    #[test]
    fn a_few_shot_prompt_is_exported_whole_and_its_retries_are_not() {
        let few_shot = [("system", "Play."), ("user", "Earlier board"), ("assistant", "a1"), ("user", "Your move?")];
        let retried = [few_shot.as_slice(), &[("assistant", "Basketball."), ("user", "Rejected. Your move?")]].concat();
        let m = debate(
            0,
            [1.0, -1.0, 1.0],
            vec![
                turn(0, 0, &few_shot, "b2"),
                rejected_turn(1, 1, &few_shot, "Basketball."),
                turn(1, 1, &retried, "c3"),
            ],
        );
        let (lines, _) = run(Format::Sft, &[m], &TextFilter::default());
        assert_eq!(lines.len(), 1, "the winner's turn only");
        let messages = lines[0]["messages"].as_array().cloned().unwrap_or_default();
        assert_eq!(messages.len(), 5, "{messages:?}");
        assert_eq!(messages[2], json!({"role": "assistant", "content": "a1"}), "the example stays");
        assert_eq!(messages[4], json!({"role": "assistant", "content": "b2"}));
        let m = debate(
            0,
            [-1.0, 1.0, 1.0],
            vec![rejected_turn(1, 1, &few_shot, "Basketball."), turn(1, 1, &retried, "c3")],
        );
        let (lines, _) = run(Format::Sft, &[m], &TextFilter::default());
        let messages = lines[0]["messages"].as_array().cloned().unwrap_or_default();
        assert_eq!(messages.len(), 5, "the retry is left out, the example kept: {messages:?}");
        assert_eq!(messages[4], json!({"role": "assistant", "content": "c3"}));
    }

    #[test]
    fn canonical_answers_replace_the_words_around_a_move_with_the_move() {
        let registry = games::Registry::default();
        let mut m = ExportedMatch {
            tournament: 1,
            index: 0,
            game: "tic_tac_toe".into(),
            seat_agents: vec!["llm".into(), "random".into()],
            judge: None,
            returns: vec![1.0, -1.0],
            fault: None,
            fault_seat: None,
            turns: vec![
                rejected_turn(0, 1, PRO, "I think so."),
                turn(0, 1, PRO, "I will play b2, the centre."),
                turn(0, 3, PRO, "a1"),
            ],
            // An opening move (c1), then the model's b2, random's c3, the model's a1.
            moves: [2, 4, 8, 0].into_iter().map(games::Move::Action).collect(),
        };
        let changed = canonical_answers(std::slice::from_mut(&mut m), &registry).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(changed, 1);
        let texts: Vec<&str> = m.turns.iter().map(|t| t.trace.completion.as_str()).collect();
        assert_eq!(texts, ["I think so.", "b2", "a1"], "rejected answers stay as written");
        // A move list the game refuses is an error naming the problem, not a silent skip.
        m.moves = vec![games::Move::Action(4), games::Move::Action(4)];
        assert!(canonical_answers(std::slice::from_mut(&mut m), &registry).is_err());
    }

    #[test]
    fn judged_debates_give_the_right_verdict_against_the_wrong_one() {
        let matches = vec![
            // The judge picked pro and was right: chosen "pro", rejected "con".
            debate(0, [1.0, -1.0, 1.0], vec![turn(2, 4, JUDGE, "pro")]),
            // The judge picked pro and was wrong: chosen "con", rejected its answer as written.
            debate(1, [1.0, -1.0, -1.0], vec![turn(2, 4, JUDGE, "Pro, clearly.")]),
            // The judge was right in other words: chosen "pro", rejected "con".
            debate(5, [1.0, -1.0, 1.0], vec![turn(2, 4, JUDGE, "It is true.")]),
            // A draw, a faulted match and an oracle decide nothing.
            debate(2, [0.0, 0.0, 0.0], vec![turn(2, 4, JUDGE, "pro")]),
            ExportedMatch {
                fault: Some("timeout".into()),
                ..debate(3, [1.0, -1.0, 1.0], vec![turn(2, 4, JUDGE, "pro")])
            },
            ExportedMatch {
                judge: Some("oracle".into()),
                ..debate(4, [1.0, -1.0, 1.0], vec![turn(2, 4, JUDGE, "pro")])
            },
        ];
        let (lines, report) = run(Format::Preference, &matches, &TextFilter::default());
        assert_eq!(report.verdict_pairs, 3);
        // The judges' turns share a prompt: a right one against the wrong one is also a
        // winner-versus-loser pair, first; then the verdict pairs.
        assert_eq!(lines.len(), 4);
        let lines: Vec<_> = lines.into_iter().filter(|l| l["meta"]["pair"] == "verdict").collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(
            (lines[0]["chosen"][0]["content"].as_str(), lines[0]["rejected"][0]["content"].as_str()),
            (Some("pro"), Some("con"))
        );
        assert_eq!(
            (lines[1]["chosen"][0]["content"].as_str(), lines[1]["rejected"][0]["content"].as_str()),
            (Some("con"), Some("Pro, clearly."))
        );
        assert_eq!(
            (lines[2]["chosen"][0]["content"].as_str(), lines[2]["rejected"][0]["content"].as_str()),
            (Some("pro"), Some("con"))
        );
        assert_eq!(lines[1]["meta"]["pair"], "verdict");
        assert_eq!(
            lines[1]["prompt"],
            json!([{"role": "system", "content": "You judge."}, {"role": "user", "content": "Who is right?"}])
        );
    }
}
