//! Leases: how worker processes share a store's unfinished matches. A worker claims a batch
//! (`FOR UPDATE SKIP LOCKED` on PostgreSQL, the write lock on SQLite), each match leased to it
//! until a deadline on the database's clock that its heartbeat pushes on; a dead worker's leases
//! run out and its matches go to others. A result is written only while its match is unfinished:
//! a second result for a finished match (a re-issued lease) is compared with the stored one, and
//! a difference is recorded as a fault, never as a second result.

use super::Store;
use super::backend::{Sql, params};
use super::writes::{ResultRow, write_results};
use crate::engine::runner::MatchResult;
use crate::error::{Context, Result};

/// A match leased to a worker: what it needs to play it.
#[derive(Clone, Debug, PartialEq)]
pub struct Claim {
    pub tournament: i64,
    pub index: u64,
    pub seats: [usize; 2],
    pub seed: u64,
    pub opening: Vec<u32>,
    pub judge: Option<usize>,
}

/// What became of a batch of results.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecordOutcome {
    /// Results stored.
    pub written: usize,
    /// Results for matches already finished with the same result (a re-issued lease).
    pub duplicates: usize,
    /// Results for matches already finished with a different result: recorded as faults.
    pub faults: usize,
}

impl std::ops::AddAssign for RecordOutcome {
    fn add_assign(&mut self, other: RecordOutcome) {
        self.written += other.written;
        self.duplicates += other.duplicates;
        self.faults += other.faults;
    }
}

/// A match that two workers played with different results.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredFault {
    pub tournament: i64,
    pub index: u64,
    pub worker: String,
    pub detail: String,
}

impl Store {
    /// Leases up to `limit` matches to `owner` for `lease_ms`: unfinished ones whose lease is
    /// free or ran out, of unfinished tournaments (only `only` when given, none of `skip`),
    /// oldest first.
    pub fn claim(
        &self,
        owner: &str,
        limit: usize,
        lease_ms: i64,
        only: Option<i64>,
        skip: &[i64],
    ) -> Result<Vec<Claim>> {
        // Ids are integers: written into the text, they cannot inject anything.
        let skip = if skip.is_empty() {
            String::new()
        } else {
            let ids: Vec<String> = skip.iter().map(i64::to_string).collect();
            format!("AND tournament_id NOT IN ({})", ids.join(", "))
        };
        let sql = format!(
            "UPDATE matches SET lease_owner = ?1, lease_until = {{now_ms}} + ?2
             WHERE (tournament_id, idx) IN (
                 SELECT tournament_id, idx FROM matches
                 WHERE finished = 0 AND (lease_until IS NULL OR lease_until < {{now_ms}})
                   AND tournament_id = coalesce(?3, tournament_id) {skip}
                   AND tournament_id IN (SELECT id FROM tournaments WHERE finished_at IS NULL)
                 ORDER BY tournament_id, idx LIMIT ?4 {{skip_locked}})
             RETURNING tournament_id, idx, seat0, seat1, seed, opening, judge"
        );
        let rows = self.transaction(|s| s.query(&sql, params![owner, lease_ms, only, limit as i64]))?;
        let mut claims = rows
            .iter()
            .map(|r| {
                let index = r.int(1)?;
                let opening = serde_json::from_str(&r.text(5)?)
                    .with_context(|| format!("store {}: match {index} has an unreadable opening", self.location))?;
                Ok(Claim {
                    tournament: r.int(0)?,
                    index: index as u64,
                    seats: [r.int(2)? as usize, r.int(3)? as usize],
                    seed: r.int(4)? as u64,
                    opening,
                    judge: r.opt_int(6)?.map(|j| j as usize),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        claims.sort_by_key(|c| (c.tournament, c.index));
        Ok(claims)
    }

    /// Pushes the deadline of every unfinished match leased to `owner` to `lease_ms` from now,
    /// and notes the worker's heartbeat and games; the number of leases renewed.
    pub fn renew_leases(&self, owner: &str, name: &str, lease_ms: i64, games: u64) -> Result<u64> {
        self.transaction(|s| {
            s.execute(
                "INSERT INTO workers (owner, name, heartbeat_ms, games) VALUES (?1, ?2, {now_ms}, ?3)
                 ON CONFLICT (owner) DO UPDATE SET heartbeat_ms = excluded.heartbeat_ms, games = excluded.games",
                params![owner, name, games as i64],
            )?;
            s.execute(
                "UPDATE matches SET lease_until = {now_ms} + ?2 WHERE lease_owner = ?1 AND finished = 0",
                params![owner, lease_ms],
            )
        })
    }

    /// Gives back `owner`'s leases (of one tournament, or all) so others need not wait for them
    /// to run out.
    pub fn release_leases(&self, owner: &str, tournament: Option<i64>) -> Result<u64> {
        self.run(|s| {
            s.execute(
                "UPDATE matches SET lease_owner = NULL, lease_until = NULL
                 WHERE lease_owner = ?1 AND finished = 0 AND tournament_id = coalesce(?2, tournament_id)",
                params![owner, tournament],
            )
        })
    }

    /// Writes the results of leased matches in one transaction; each match is finished once, and
    /// a result for a finished match is checked against the stored one (see the module's note).
    pub fn record_claimed(
        &self,
        tournament: i64,
        results: &[(u64, MatchResult)],
        worker: &str,
    ) -> Result<RecordOutcome> {
        // The trajectories too: the process that planned these games may need them for training.
        let rows =
            results.iter().map(|(index, result)| ResultRow::new(*index, result, true)).collect::<Result<Vec<_>>>()?;
        self.transaction(|s| {
            let mut outcome = RecordOutcome::default();
            let written = write_results(s, tournament, &rows, Some(worker))?;
            for (row, written) in rows.iter().zip(written) {
                if written {
                    outcome.written += 1;
                    continue;
                }
                match difference(s, tournament, row)? {
                    None => outcome.duplicates += 1,
                    Some(detail) => {
                        s.execute(
                            "INSERT INTO faults (tournament_id, idx, worker, detail) VALUES (?1, ?2, ?3, ?4)",
                            params![tournament, row.index as i64, worker, detail],
                        )?;
                        outcome.faults += 1;
                    }
                }
            }
            Ok(outcome)
        })
    }

    /// The faults recorded for a tournament: matches that two workers played differently.
    pub fn faults(&self, tournament: i64) -> Result<Vec<StoredFault>> {
        let rows = self.run(|s| {
            s.query(
                "SELECT idx, worker, detail FROM faults WHERE tournament_id = ?1 ORDER BY idx, recorded_at",
                params![tournament],
            )
        })?;
        rows.iter()
            .map(|r| Ok(StoredFault { tournament, index: r.int(0)? as u64, worker: r.text(1)?, detail: r.text(2)? }))
            .collect()
    }

    /// Notes that `worker` will not play `tournament`, and why (for the process following it).
    pub fn record_refusal(&self, tournament: i64, worker: &str, detail: &str) -> Result<()> {
        self.run(|s| {
            s.execute(
                "INSERT INTO refusals (tournament_id, worker, detail) VALUES (?1, ?2, ?3)",
                params![tournament, worker, detail],
            )
        })?;
        Ok(())
    }

    /// The workers that will not play a tournament, with their reasons, in the order they said so.
    pub fn refusals(&self, tournament: i64) -> Result<Vec<(String, String)>> {
        let rows = self.run(|s| {
            s.query(
                "SELECT worker, detail FROM refusals WHERE tournament_id = ?1 ORDER BY recorded_at",
                params![tournament],
            )
        })?;
        rows.iter().map(|r| Ok((r.text(0)?, r.text(1)?))).collect()
    }

    /// The name of the worker that played each finished match of a tournament (none for matches
    /// played in the process that planned them), by match index.
    pub fn match_workers(&self, tournament: i64) -> Result<Vec<(u64, Option<String>)>> {
        let rows = self.run(|s| {
            s.query(
                "SELECT idx, worker FROM matches WHERE tournament_id = ?1 AND finished = 1 ORDER BY idx",
                params![tournament],
            )
        })?;
        rows.iter().map(|r| Ok((r.int(0)? as u64, r.opt_text(1)?))).collect()
    }
}

/// How the stored result of a finished match differs from `row` (timings aside), if it does.
fn difference(s: &mut dyn Sql, tournament: i64, row: &ResultRow) -> Result<Option<String>> {
    let stored = s
        .query_opt(
            "SELECT returns, end_reason, length, moves, fault_seat FROM matches WHERE tournament_id = ?1 AND idx = ?2",
            params![tournament, row.index as i64],
        )?
        .with_context(|| format!("tournament {tournament} has no match {}", row.index))?;
    let (returns, end, length, moves, fault_seat) =
        (stored.text(0)?, stored.text(1)?, stored.int(2)?, stored.opt_text(3)?, stored.opt_int(4)?);
    let same_moves = match (&moves, &row.moves) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    };
    if returns == row.returns
        && end == row.end_reason
        && length == row.length
        && fault_seat == row.fault_seat
        && same_moves
    {
        return Ok(None);
    }
    Ok(Some(format!(
        "played again with a different result: stored {end} with returns {returns} after {length} moves, \
         this time {} with returns {} after {} moves{}",
        row.end_reason,
        row.returns,
        row.length,
        if same_moves { "" } else { " (the moves differ)" }
    )))
}

/// A tic-tac-toe tournament of two agents with three scheduled matches (seeds 7, 8, 9, opening
/// `[4]`); its id.
#[cfg(test)]
pub(super) fn three_scheduled_matches(store: &mut Store) -> i64 {
    use crate::engine::schedule::Pairing;
    use crate::store::{AgentRow, ScheduledMatch};
    let row = AgentRow { name: "a".to_string(), spec: "random".to_string(), checkpoint_hash: None };
    let id =
        store.create_tournament("tic_tac_toe", "{}", &[row.clone(), row], &[], &[]).unwrap_or_else(|e| panic!("{e:#}"));
    let scheduled: Vec<ScheduledMatch> = (0..3)
        .map(|index| ScheduledMatch {
            index,
            pairing: Pairing { round: 1, seats: [0, 1], opening: index },
            seed: 7 + index,
            opening: vec![4],
            judge: None,
        })
        .collect();
    store.schedule(id, &scheduled).unwrap_or_else(|e| panic!("{e:#}"));
    id
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::runner::EndReason;

    fn result(returns: Vec<f64>, length: usize) -> MatchResult {
        MatchResult {
            returns,
            end: EndReason::Normal,
            length,
            moves: Vec::new(),
            move_micros: Vec::new(),
            trajectory: Vec::new(),
            turns: Vec::new(),
        }
    }

    #[test]
    fn leases_run_out_and_a_second_result_is_checked_not_stored() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut store = Store::open(&dir.path().join("leases.db")).unwrap_or_else(|e| panic!("{e:#}"));
        let id = three_scheduled_matches(&mut store);

        let first = store.claim("w1", 2, 60_000, None, &[]).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(first.iter().map(|c| c.index).collect::<Vec<_>>(), vec![0, 1]);
        assert_eq!((first[1].seed, first[1].opening.clone()), (8, vec![4]));
        // Leased matches are not handed out twice while the lease holds.
        let second = store.claim("w2", 5, 60_000, None, &[]).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(second.iter().map(|c| c.index).collect::<Vec<_>>(), vec![2]);
        // A tournament to skip gets nothing claimed.
        assert!(store.claim("w3", 5, 0, None, &[id]).unwrap_or_else(|e| panic!("{e:#}")).is_empty());

        // w1 dies: its leases (here, of zero length) run out and w3 gets its matches.
        store
            .run(|s| s.execute("UPDATE matches SET lease_until = 0 WHERE lease_owner = 'w1'", &[]))
            .unwrap_or_else(|e| panic!("{e:#}"));
        let reissued = store.claim("w3", 5, 60_000, None, &[]).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(reissued.iter().map(|c| c.index).collect::<Vec<_>>(), vec![0, 1]);
        let outcome =
            store.record_claimed(id, &[(0, result(vec![1.0, -1.0], 5))], "w3").unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(outcome, RecordOutcome { written: 1, duplicates: 0, faults: 0 });
        // w1 was only slow: its same result is a duplicate, its different one a fault; neither is stored.
        let late = [(0, result(vec![1.0, -1.0], 5)), (1, result(vec![0.0, 0.0], 9))];
        let outcome = store.record_claimed(id, &late, "w1").unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(outcome, RecordOutcome { written: 1, duplicates: 1, faults: 0 });
        let outcome =
            store.record_claimed(id, &[(1, result(vec![-1.0, 1.0], 6))], "w3").unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(outcome, RecordOutcome { written: 0, duplicates: 0, faults: 1 });
        let faults = store.faults(id).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(faults.len(), 1);
        assert_eq!((faults[0].index, faults[0].worker.as_str()), (1, "w3"));
        assert!(faults[0].detail.contains("different result"), "{}", faults[0].detail);
        let finished = store.finished(id).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(finished.iter().map(|m| (m.index, m.length)).collect::<Vec<_>>(), vec![(0, 5), (1, 9)]);
        assert_eq!(
            store.match_workers(id).unwrap_or_else(|e| panic!("{e:#}")),
            vec![(0, Some("w3".to_string())), (1, Some("w1".to_string()))]
        );
        // Heartbeats renew only the worker's unfinished leases; releasing frees them at once.
        assert_eq!(store.renew_leases("w2", "w2", 60_000, 0).unwrap_or_else(|e| panic!("{e:#}")), 1);
        assert_eq!(store.release_leases("w2", None).unwrap_or_else(|e| panic!("{e:#}")), 1);
        let freed = store.claim("w4", 5, 60_000, None, &[]).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(freed.iter().map(|c| c.index).collect::<Vec<_>>(), vec![2]);
        // A worker that will not play a tournament leaves its reason for the process following it.
        store.record_refusal(id, "w6", "no checkpoint here").unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(
            store.refusals(id).unwrap_or_else(|e| panic!("{e:#}")),
            vec![("w6".to_string(), "no checkpoint here".to_string())]
        );
        // A finished tournament hands out nothing.
        store.release_leases("w4", None).unwrap_or_else(|e| panic!("{e:#}"));
        store.finish_tournament(id).unwrap_or_else(|e| panic!("{e:#}"));
        assert!(store.claim("w5", 5, 60_000, None, &[]).unwrap_or_else(|e| panic!("{e:#}")).is_empty());
    }
}
