//! Matches a game's own program could not play (a game process that died, hung or contradicted
//! itself): marked so that no worker claims them again (`finished = 3`), with the message and who
//! met it, until the tournament is resumed, which puts them back to be played. The messages stay
//! as a record of what went wrong.

use super::Store;
use super::backend::params;
use crate::error::Result;

/// `matches.finished` of a match its game could not play (0: to play, 1: finished, 2: parked).
const BROKEN: i64 = 3;

impl Store {
    /// Marks unfinished matches of `tournament` as broken with their messages; `worker` names the
    /// process that met the failure (`None`: the tournament's own).
    pub fn mark_broken(&self, tournament: i64, broken: &[(u64, String)], worker: Option<&str>) -> Result<()> {
        if broken.is_empty() {
            return Ok(());
        }
        self.transaction(|sql| {
            for (index, message) in broken {
                let marked = sql.execute(
                    "UPDATE matches SET finished = ?3, end_reason = 'broken', worker = ?4,
                     lease_owner = NULL, lease_until = NULL
                     WHERE tournament_id = ?1 AND idx = ?2 AND finished = 0",
                    params![tournament, *index as i64, BROKEN, worker],
                )?;
                if marked > 0 {
                    sql.execute(
                        "INSERT INTO broken_matches (tournament_id, idx, worker, message) VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT (tournament_id, idx) DO UPDATE SET worker = excluded.worker,
                             message = excluded.message, recorded_at = excluded.recorded_at",
                        params![tournament, *index as i64, worker, message.as_str()],
                    )?;
                }
            }
            Ok(())
        })
    }

    /// The broken matches of a tournament with their messages, by index.
    pub fn broken(&self, tournament: i64) -> Result<Vec<(u64, String)>> {
        let rows = self.run(|s| {
            s.query(
                "SELECT m.idx, b.message FROM matches m
                 LEFT JOIN broken_matches b ON b.tournament_id = m.tournament_id AND b.idx = m.idx
                 WHERE m.tournament_id = ?1 AND m.finished = ?2 ORDER BY m.idx",
                params![tournament, BROKEN],
            )
        })?;
        rows.iter()
            .map(|r| Ok((r.int(0)? as u64, r.opt_text(1)?.unwrap_or_else(|| "no message recorded".into()))))
            .collect()
    }

    /// Puts a tournament's broken matches back to be played (a resumed tournament tries them
    /// again); how many.
    pub fn retry_broken(&self, tournament: i64) -> Result<u64> {
        self.run(|s| {
            s.execute(
                "UPDATE matches SET finished = 0, end_reason = NULL, worker = NULL
                 WHERE tournament_id = ?1 AND finished = ?2",
                params![tournament, BROKEN],
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::store::Store;

    #[test]
    fn broken_matches_are_not_claimed_until_retried_and_keep_their_message() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut store = Store::open(&dir.path().join("broken.db")).unwrap_or_else(|e| panic!("{e:#}"));
        let id = super::super::leases::three_scheduled_matches(&mut store);
        store.mark_broken(id, &[(1, "the game died".into())], Some("w")).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(store.broken(id).unwrap_or_else(|e| panic!("{e:#}")), vec![(1, "the game died".to_string())]);
        let claimed = |store: &Store| -> Vec<u64> {
            let claims = store.claim("owner", 10, 60_000, Some(id), &[]).unwrap_or_else(|e| panic!("{e:#}"));
            store.release_leases("owner", None).unwrap_or_else(|e| panic!("{e:#}"));
            claims.iter().map(|c| c.index).collect()
        };
        assert_eq!(claimed(&store), vec![0, 2], "a broken match is not handed out");
        assert_eq!(store.retry_broken(id).unwrap_or_else(|e| panic!("{e:#}")), 1);
        assert!(store.broken(id).unwrap_or_else(|e| panic!("{e:#}")).is_empty());
        assert_eq!(claimed(&store), vec![0, 1, 2], "retried, it is played again");
        // Broken again, the newer message is the one shown.
        store.mark_broken(id, &[(1, "it hung".into())], None).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(store.broken(id).unwrap_or_else(|e| panic!("{e:#}")), vec![(1, "it hung".to_string())]);
    }
}
