//! People's votes between two anonymous answers to the same prompt (`arena serve`'s vote page):
//! each pair shown gets a one-use token; a vote names the token, so a vote for a pair that was
//! never shown, or a second vote on one, changes nothing. Votes are battles the ratings read with
//! the machines' games.

use super::Store;
use super::backend::params;
use crate::error::{Result, bail};

/// Two answers by different agents to the same prompt in one stored match.
#[derive(Clone, Debug, PartialEq)]
pub struct AnswerPair {
    pub tournament: i64,
    pub match_index: u64,
    /// The turns' ordinals in the match, in the order shown (A, B).
    pub ordinals: [usize; 2],
    pub agents: [String; 2],
    pub prompt: String,
    pub answers: [String; 2],
}

impl AnswerPair {
    /// The same pair shown the other way round.
    pub fn swapped(self) -> AnswerPair {
        let [a, b] = self.ordinals;
        let [agent_a, agent_b] = self.agents;
        let [answer_a, answer_b] = self.answers;
        AnswerPair { ordinals: [b, a], agents: [agent_b, agent_a], answers: [answer_b, answer_a], ..self }
    }
}

/// What a person chose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VoteChoice {
    A,
    B,
    Tie,
    BothBad,
}

impl VoteChoice {
    pub fn parse(text: &str) -> Option<VoteChoice> {
        Some(match text {
            "a" => VoteChoice::A,
            "b" => VoteChoice::B,
            "tie" => VoteChoice::Tie,
            "both_bad" => VoteChoice::BothBad,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            VoteChoice::A => "a",
            VoteChoice::B => "b",
            VoteChoice::Tie => "tie",
            VoteChoice::BothBad => "both_bad",
        }
    }

    /// A's score as a battle: a win, a loss, or a draw (both bad counts as a tie, as in Chatbot
    /// Arena).
    pub fn score_of_a(self) -> f64 {
        match self {
            VoteChoice::A => 1.0,
            VoteChoice::B => 0.0,
            VoteChoice::Tie | VoteChoice::BothBad => 0.5,
        }
    }
}

/// What became of a vote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VoteOutcome {
    /// Recorded; the agents behind A and B, revealed.
    Recorded([String; 2]),
    /// No pair was shown with this token.
    NotShown,
    /// The pair has its vote already.
    AlreadyVoted,
}

/// A stored vote, as a battle.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredVote {
    pub tournament: i64,
    pub agents: [String; 2],
    pub choice: VoteChoice,
}

impl Store {
    /// The tournaments that hold language-model turns, newest first.
    pub fn tournaments_with_turns(&self) -> Result<Vec<i64>> {
        let rows =
            self.run(|s| s.query("SELECT DISTINCT tournament_id FROM turns ORDER BY tournament_id DESC", params![]))?;
        rows.iter().map(|r| r.int(0)).collect()
    }

    /// The pairs of a tournament no one has voted on: in each finished match, two accepted answers
    /// by different agents to the same prompt (the same last user message), such as both seats of
    /// a quiz answering its question.
    pub fn answer_pairs(&self, tournament: i64) -> Result<Vec<AnswerPair>> {
        let names: Vec<String> = self.agents(tournament)?.into_iter().map(|a| a.name).collect();
        let seats: std::collections::BTreeMap<u64, [usize; 2]> =
            self.finished(tournament)?.into_iter().map(|m| (m.index, m.seats)).collect();
        let voted = self.run(|s| {
            s.query(
                "SELECT match_idx, ordinal_a, ordinal_b FROM votes WHERE tournament_id = ?1 AND choice IS NOT NULL",
                params![tournament],
            )
        })?;
        let voted: Vec<(u64, usize, usize)> = voted
            .iter()
            .map(|r| Ok((r.int(0)? as u64, r.int(1)? as usize, r.int(2)? as usize)))
            .collect::<Result<_>>()?;
        let is_voted = |m: u64, a: usize, b: usize| {
            voted.iter().any(|&(vm, va, vb)| vm == m && ((va, vb) == (a, b) || (va, vb) == (b, a)))
        };
        let mut pairs = Vec::new();
        for (match_index, turns) in self.turns(tournament)? {
            let Some(seated) = seats.get(&match_index) else { continue };
            let prompt_of =
                |k: usize| turns[k].trace.messages.iter().rev().find(|m| m.role == "user").map(|m| m.content.clone());
            for a in 0..turns.len() {
                for b in a + 1..turns.len() {
                    let (first, second) = (&turns[a], &turns[b]);
                    if first.rejected || second.rejected || first.seat == second.seat || is_voted(match_index, a, b) {
                        continue;
                    }
                    let (Some(prompt), Some(other)) = (prompt_of(a), prompt_of(b)) else { continue };
                    let agent = |seat: usize| seated.get(seat).and_then(|&i| names.get(i)).cloned();
                    let (Some(agent_a), Some(agent_b)) = (agent(first.seat), agent(second.seat)) else { continue };
                    if prompt != other
                        || first.trace.completion.trim().is_empty()
                        || second.trace.completion.trim().is_empty()
                    {
                        continue;
                    }
                    pairs.push(AnswerPair {
                        tournament,
                        match_index,
                        ordinals: [a, b],
                        agents: [agent_a, agent_b],
                        prompt,
                        answers: [first.trace.completion.clone(), second.trace.completion.clone()],
                    });
                }
            }
        }
        Ok(pairs)
    }

    /// Notes that `pair` was shown under `token` (a one-use ticket for its vote).
    pub fn record_shown(&self, token: &str, pair: &AnswerPair) -> Result<()> {
        self.run(|s| {
            s.execute(
                "INSERT INTO votes (token, tournament_id, match_idx, ordinal_a, ordinal_b, agent_a, agent_b)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    token,
                    pair.tournament,
                    pair.match_index as i64,
                    pair.ordinals[0] as i64,
                    pair.ordinals[1] as i64,
                    &pair.agents[0],
                    &pair.agents[1]
                ],
            )
        })?;
        Ok(())
    }

    /// Records `choice` by `voter` on the pair shown under `token`, once.
    pub fn cast_vote(&self, token: &str, choice: VoteChoice, voter: &str) -> Result<VoteOutcome> {
        self.transaction(|s| {
            let updated = s.query(
                "UPDATE votes SET choice = ?2, voter = ?3, voted_at = ({now}) WHERE token = ?1 AND choice IS NULL
                 RETURNING agent_a, agent_b",
                params![token, choice.as_str(), voter],
            )?;
            if let Some(row) = updated.first() {
                return Ok(VoteOutcome::Recorded([row.text(0)?, row.text(1)?]));
            }
            let known = s.query_int("SELECT count(*) FROM votes WHERE token = ?1", params![token])?;
            Ok(if known > 0 { VoteOutcome::AlreadyVoted } else { VoteOutcome::NotShown })
        })
    }

    /// The votes cast (of one tournament, or all), in the order cast.
    pub fn votes(&self, tournament: Option<i64>) -> Result<Vec<StoredVote>> {
        let rows = self.run(|s| {
            s.query(
                "SELECT tournament_id, agent_a, agent_b, choice FROM votes
                 WHERE choice IS NOT NULL AND (?1 < 0 OR tournament_id = ?1) ORDER BY voted_at, token",
                params![tournament.unwrap_or(-1)],
            )
        })?;
        rows.iter()
            .map(|r| {
                let label = r.text(3)?;
                let Some(choice) = VoteChoice::parse(&label) else {
                    bail!("the store holds a vote `{label}`, which this Arena does not know");
                };
                Ok(StoredVote { tournament: r.int(0)?, agents: [r.text(1)?, r.text(2)?], choice })
            })
            .collect()
    }
}
