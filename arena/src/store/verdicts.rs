//! Matches that wait for a person's decision (a debate's verdict on `arena serve`'s judge page):
//! parked as they stand (`finished = 2`, their moves and language-model turns kept, no result), shown
//! to a person under a one-use token, and finished once with the decision. A decision posted with a
//! token that was never shown for that match, or used already, or for a match decided meanwhile,
//! changes nothing.

use games::Move;

use super::Store;
use super::backend::{Value, params};
use super::writes::ResultRow;
use crate::engine::runner::{AwaitedMatch, EndReason, MatchResult};
use crate::error::{Context, Result};

/// `matches.finished` of a parked match (0: to play, 1: finished).
const AWAITING: i64 = 2;

/// A parked match, as the judge page needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct AwaitingMatch {
    pub tournament: i64,
    pub index: u64,
    /// The tournament's canonical game spec.
    pub game: String,
    /// The agents (indices) in seats 0 and 1, and the judge (an index into the judges).
    pub seats: [usize; 2],
    pub judge: Option<usize>,
    /// Every move so far: replayed, they give the position whose decision is awaited.
    pub moves: Vec<Move>,
    pub move_micros: Vec<u32>,
}

/// What became of a posted decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecisionPosted {
    /// Stored: the match is finished.
    Recorded,
    /// No form for this match was shown under this token.
    NotShown,
    /// The token was used already.
    Used,
    /// The match is no longer waiting (decided under another token).
    AlreadyDecided,
}

/// A person's stored decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredVerdict {
    pub tournament: i64,
    pub index: u64,
    pub verdict: String,
    pub person: String,
    pub decided_at: String,
}

impl Store {
    /// Parks matches that wait for a decision made elsewhere (each still unfinished; others are
    /// left as they are), with their moves and turns; `worker` names who played them so far.
    pub fn park(&self, tournament: i64, awaited: &[(u64, AwaitedMatch)], worker: Option<&str>) -> Result<()> {
        let rows = awaited
            .iter()
            .map(|(index, a)| {
                // The moves and turns so far, in a result's columns (its returns unused).
                let so_far = MatchResult {
                    returns: Vec::new(),
                    end: EndReason::Normal,
                    length: a.length,
                    moves: a.moves.clone(),
                    move_micros: a.move_micros.clone(),
                    trajectory: Vec::new(),
                    turns: a.turns.clone(),
                };
                ResultRow::new(*index, &so_far, false)
            })
            .collect::<Result<Vec<_>>>()?;
        self.transaction(|sql| {
            for row in &rows {
                let parked = sql.execute(
                    "UPDATE matches SET finished = ?3, end_reason = 'awaiting', length = ?4, moves = ?5,
                     move_micros = ?6, worker = ?7, lease_owner = NULL, lease_until = NULL
                     WHERE tournament_id = ?1 AND idx = ?2 AND finished = 0",
                    params![
                        tournament,
                        row.index as i64,
                        AWAITING,
                        row.length,
                        row.moves.as_ref(),
                        row.move_micros.as_ref(),
                        worker
                    ],
                )?;
                if parked > 0 {
                    row.write_turns(sql, tournament)?;
                }
            }
            Ok(())
        })
    }

    /// The matches of a tournament that wait for a decision.
    pub fn awaiting(&self, tournament: i64) -> Result<Vec<u64>> {
        let rows = self.run(|s| {
            s.query(
                "SELECT idx FROM matches WHERE tournament_id = ?1 AND finished = ?2 ORDER BY idx",
                params![tournament, AWAITING],
            )
        })?;
        rows.iter().map(|r| Ok(r.int(0)? as u64)).collect()
    }

    /// Every waiting match of the store, oldest tournament first: (tournament, index, game).
    pub fn awaiting_list(&self) -> Result<Vec<(i64, u64, String)>> {
        let rows = self.run(|s| {
            s.query(
                "SELECT m.tournament_id, m.idx, t.game FROM matches m JOIN tournaments t ON t.id = m.tournament_id
                 WHERE m.finished = ?1 ORDER BY m.tournament_id, m.idx",
                params![AWAITING],
            )
        })?;
        rows.iter().map(|r| Ok((r.int(0)?, r.int(1)? as u64, r.text(2)?))).collect()
    }

    /// One waiting match; `None` when there is no such match or it does not wait (any more).
    pub fn awaiting_match(&self, tournament: i64, index: u64) -> Result<Option<AwaitingMatch>> {
        let row = self.run(|s| {
            s.query_opt(
                "SELECT t.game, m.seat0, m.seat1, m.judge, m.moves, m.move_micros FROM matches m
                 JOIN tournaments t ON t.id = m.tournament_id
                 WHERE m.tournament_id = ?1 AND m.idx = ?2 AND m.finished = ?3",
                params![tournament, index as i64, AWAITING],
            )
        })?;
        let Some(row) = row else { return Ok(None) };
        let what = || format!("store {}: tournament {tournament}, match {index}", self.location());
        let moves: Vec<Move> = serde_json::from_str(&row.opt_text(4)?.unwrap_or_else(|| "[]".into()))
            .with_context(|| format!("{}: its moves", what()))?;
        let move_micros: Vec<u32> = serde_json::from_str(&row.opt_text(5)?.unwrap_or_else(|| "[]".into()))
            .with_context(|| format!("{}: its move times", what()))?;
        Ok(Some(AwaitingMatch {
            tournament,
            index,
            game: row.text(0)?,
            seats: [row.int(1)? as usize, row.int(2)? as usize],
            judge: row.opt_int(3)?.map(|j| j as usize),
            moves,
            move_micros,
        }))
    }

    /// Notes that the waiting match was shown under `token` (a one-use ticket for its decision).
    pub fn record_awaiting_shown(&self, token: &str, tournament: i64, index: u64) -> Result<()> {
        self.run(|s| {
            s.execute(
                "INSERT INTO verdicts (token, tournament_id, match_idx) VALUES (?1, ?2, ?3)",
                params![token, tournament, index as i64],
            )
        })?;
        Ok(())
    }

    /// Finishes the waiting match with `result`, the person's decision `verdict` (its move's name)
    /// by `person`, if `token` was shown for it and is unused and the match still waits.
    pub fn decide_awaiting(
        &self,
        token: &str,
        tournament: i64,
        index: u64,
        verdict: &str,
        person: &str,
        result: &MatchResult,
    ) -> Result<DecisionPosted> {
        let row = ResultRow::new(index, result, false)?;
        self.transaction(|s| {
            let ticket = s.query_opt(
                "SELECT verdict FROM verdicts WHERE token = ?1 AND tournament_id = ?2 AND match_idx = ?3",
                params![token, tournament, index as i64],
            )?;
            match ticket {
                None => return Ok(DecisionPosted::NotShown),
                Some(ticket) if ticket.opt_text(0)?.is_some() => return Ok(DecisionPosted::Used),
                Some(_) => {}
            }
            let finished = s.execute(
                "UPDATE matches SET finished = 1, returns = ?4, score0 = ?5, end_reason = ?6, fault_seat = ?7,
                 fault_detail = ?8, length = ?9, moves = ?10, move_micros = ?11
                 WHERE tournament_id = ?1 AND idx = ?2 AND finished = ?3",
                &[
                    Value::from(tournament),
                    Value::from(index as i64),
                    Value::from(AWAITING),
                    Value::from(&row.returns),
                    Value::from(row.score0),
                    Value::from(row.end_reason),
                    Value::from(row.fault_seat),
                    Value::from(row.fault_detail.as_ref()),
                    Value::from(row.length),
                    Value::from(row.moves.as_ref()),
                    Value::from(row.move_micros.as_ref()),
                ],
            )?;
            if finished == 0 {
                return Ok(DecisionPosted::AlreadyDecided);
            }
            s.execute(
                "UPDATE verdicts SET verdict = ?2, person = ?3, decided_at = ({now}) WHERE token = ?1",
                params![token, verdict, person],
            )?;
            Ok(DecisionPosted::Recorded)
        })
    }

    /// The person's decision on a match, if one was given here.
    pub fn verdict(&self, tournament: i64, index: u64) -> Result<Option<StoredVerdict>> {
        let row = self.run(|s| {
            s.query_opt(
                "SELECT verdict, person, decided_at FROM verdicts
                 WHERE tournament_id = ?1 AND match_idx = ?2 AND verdict IS NOT NULL",
                params![tournament, index as i64],
            )
        })?;
        row.map(|r| {
            Ok(StoredVerdict {
                tournament,
                index,
                verdict: r.text(0)?,
                person: r.opt_text(1)?.unwrap_or_default(),
                decided_at: r.opt_text(2)?.unwrap_or_default(),
            })
        })
        .transpose()
    }
}
