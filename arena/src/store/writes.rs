//! Writing to the store: tournaments with their agents, scheduled matches, results with their
//! language-model turns (each match finished exactly once), and an evolve run's checkpoints,
//! lineage edges and generations with their ratings.

use super::backend::{Sql, Value, params};
use super::{AgentRow, CheckpointRow, GenerationRow, RatingRow, ScheduledMatch, Store};
use crate::engine::runner::{EndReason, MatchResult};
use crate::engine::tally::score_of_seat0;
use crate::error::Result;

/// Rows written by one statement (well under SQLite's and PostgreSQL's parameter limits).
const ROWS_PER_STATEMENT: usize = 256;

/// `(?1, ?2), (?3, ?4)` for `rows` rows of `columns` values, from `?{offset+1}`; `casts` gives
/// each column's type where the database must be told it (values in a `FROM` list).
fn value_lists(rows: usize, columns: usize, casts: &[&str]) -> String {
    let mut text = String::with_capacity(rows * columns * 8);
    for row in 0..rows {
        text.push_str(if row == 0 { "(" } else { ", (" });
        for column in 0..columns {
            if column > 0 {
                text.push_str(", ");
            }
            let n = row * columns + column + 1;
            match casts.get(column) {
                Some(ty) => text.push_str(&format!("CAST(?{n} AS {ty})")),
                None => text.push_str(&format!("?{n}")),
            }
        }
        text.push(')');
    }
    text
}

/// Finishes the matches of `rows` that are still unfinished, many per statement, with their
/// turns; `worker` names who played them. Which rows were written, in order.
pub(super) fn write_results(
    sql: &mut dyn Sql,
    tournament: i64,
    rows: &[ResultRow],
    worker: Option<&str>,
) -> Result<Vec<bool>> {
    const COLUMNS: [&str; 11] =
        ["{int}", "TEXT", "{real}", "TEXT", "{int}", "TEXT", "{int}", "TEXT", "TEXT", "TEXT", "TEXT"];
    let mut written = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        // The VALUES list's columns are column1, column2, ... in both databases.
        let statement = format!(
            "UPDATE matches SET finished = 1, returns = v.column2, score0 = v.column3, end_reason = v.column4,
             fault_seat = v.column5, fault_detail = v.column6, length = v.column7, moves = v.column8,
             move_micros = v.column9, worker = v.column10, trajectory = v.column11, lease_owner = NULL,
             lease_until = NULL
             FROM (VALUES {}) AS v
             WHERE matches.tournament_id = ?{} AND matches.idx = v.column1 AND matches.finished = 0
             RETURNING matches.idx",
            value_lists(chunk.len(), COLUMNS.len(), &COLUMNS),
            chunk.len() * COLUMNS.len() + 1
        );
        let mut params = Vec::with_capacity(chunk.len() * COLUMNS.len() + 1);
        for row in chunk {
            params.extend([
                Value::from(row.index as i64),
                Value::from(&row.returns),
                Value::from(row.score0),
                Value::from(row.end_reason),
                Value::from(row.fault_seat),
                Value::from(row.fault_detail.as_ref()),
                Value::from(row.length),
                Value::from(row.moves.as_ref()),
                Value::from(row.move_micros.as_ref()),
                Value::from(worker),
                Value::from(row.trajectory.as_ref()),
            ]);
        }
        params.push(Value::from(tournament));
        let done: std::collections::HashSet<i64> =
            sql.query(&statement, &params)?.iter().map(|r| r.int(0)).collect::<Result<_>>()?;
        for row in chunk {
            let was_written = done.contains(&(row.index as i64));
            if was_written {
                row.write_turns(sql, tournament)?;
            }
            written.push(was_written);
        }
    }
    Ok(written)
}

impl Store {
    /// Adds a tournament with its agents, the judges that fill a judge seat and the files they and
    /// the game read; returns its id.
    pub fn create_tournament(
        &mut self,
        game: &str,
        config: &str,
        agents: &[AgentRow],
        judges: &[AgentRow],
        files: &[super::TournamentFile],
    ) -> Result<i64> {
        self.transaction(|sql| {
            let id = sql.query_int(
                "INSERT INTO tournaments (game, config) VALUES (?1, ?2) RETURNING id",
                params![game, config],
            )?;
            for (idx, agent) in agents.iter().enumerate() {
                sql.execute(
                    "INSERT INTO agents (tournament_id, idx, name, spec, checkpoint_hash) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![id, idx as i64, &agent.name, &agent.spec, agent.checkpoint_hash.as_ref()],
                )?;
            }
            for (idx, judge) in judges.iter().enumerate() {
                sql.execute(
                    "INSERT INTO judges (tournament_id, idx, name, spec) VALUES (?1, ?2, ?3, ?4)",
                    params![id, idx as i64, &judge.name, &judge.spec],
                )?;
            }
            Store::write_tournament_files(sql, id, files)?;
            Ok(id)
        })
    }

    /// Records scheduled matches; those already scheduled are left as they are.
    pub fn schedule(&mut self, tournament: i64, matches: &[ScheduledMatch]) -> Result<()> {
        let rows = matches
            .iter()
            .map(|ScheduledMatch { index, pairing, seed, opening, judge }| {
                Ok(vec![
                    Value::from(tournament),
                    Value::from(*index as i64),
                    Value::from(pairing.round),
                    Value::from(pairing.seats[0] as i64),
                    Value::from(pairing.seats[1] as i64),
                    Value::from(*seed as i64),
                    Value::from(pairing.opening as i64),
                    Value::from(serde_json::to_string(opening)?),
                    Value::from(judge.map(|j| j as i64)),
                ])
            })
            .collect::<Result<Vec<_>>>()?;
        self.transaction(|sql| {
            // Many rows a statement: a server answers each statement with a round trip.
            for chunk in rows.chunks(ROWS_PER_STATEMENT) {
                let sql_text = format!(
                    "INSERT INTO matches (tournament_id, idx, round, seat0, seat1, seed, pair, opening, judge)
                     VALUES {} ON CONFLICT DO NOTHING",
                    value_lists(chunk.len(), 9, &[])
                );
                let params: Vec<Value> = chunk.iter().flatten().cloned().collect();
                sql.execute(&sql_text, &params)?;
            }
            Ok(())
        })
    }

    /// Writes finished matches in one transaction. A match already finished is not written again.
    pub fn record(&mut self, tournament: i64, results: &[(u64, MatchResult)]) -> Result<()> {
        let rows =
            results.iter().map(|(index, result)| ResultRow::new(*index, result, false)).collect::<Result<Vec<_>>>()?;
        self.transaction(|sql| {
            write_results(sql, tournament, &rows, None)?;
            Ok(())
        })
    }

    /// Marks a tournament finished.
    pub fn finish_tournament(&mut self, tournament: i64) -> Result<()> {
        self.run(|sql| {
            sql.execute(
                "UPDATE tournaments SET finished_at = {now} WHERE id = ?1 AND finished_at IS NULL",
                params![tournament],
            )
        })?;
        Ok(())
    }

    /// Records a checkpoint of an evolve run and the edges from its parents (by name), with the
    /// gate's result on each edge as JSON; recording it again replaces it.
    pub fn record_checkpoint(
        &mut self,
        checkpoint: &CheckpointRow,
        parents: &[&str],
        gate: Option<&str>,
    ) -> Result<()> {
        self.transaction(|sql| {
            sql.execute(
                "INSERT INTO checkpoints (name, generation, hash, path, status, dataset) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (name) DO UPDATE SET generation = excluded.generation, hash = excluded.hash,
                 path = excluded.path, status = excluded.status, dataset = excluded.dataset",
                params![
                    &checkpoint.name,
                    checkpoint.generation,
                    &checkpoint.hash,
                    &checkpoint.path,
                    checkpoint.status.as_str(),
                    checkpoint.dataset.as_ref()
                ],
            )?;
            for parent in parents {
                sql.execute(
                    "INSERT INTO lineage_edges (parent, child, gate) VALUES (?1, ?2, ?3)
                     ON CONFLICT (parent, child) DO UPDATE SET gate = excluded.gate",
                    params![*parent, &checkpoint.name, gate],
                )?;
            }
            Ok(())
        })
    }

    /// Records a generation (its summary as JSON) with each agent's rating in its tournament;
    /// recording it again replaces it.
    pub fn record_generation(&mut self, generation: &GenerationRow, ratings: &[RatingRow]) -> Result<()> {
        self.transaction(|sql| {
            sql.execute("DELETE FROM generation_ratings WHERE generation = ?1", params![generation.generation])?;
            sql.execute(
                "INSERT INTO generations (generation, tournament_id, champion, summary) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (generation) DO UPDATE SET tournament_id = excluded.tournament_id,
                 champion = excluded.champion, summary = excluded.summary",
                params![generation.generation, generation.tournament_id, &generation.champion, &generation.summary],
            )?;
            for r in ratings {
                sql.execute(
                    "INSERT INTO generation_ratings (generation, agent, checkpoint_hash, rating, ci_low, ci_high, games, score)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![
                        generation.generation,
                        &r.agent,
                        r.checkpoint_hash.as_ref(),
                        r.rating,
                        r.ci_low,
                        r.ci_high,
                        r.games as i64,
                        r.score
                    ],
                )?;
            }
            Ok(())
        })
    }
}

/// A result as its columns, serialized once (outside the transaction).
pub(super) struct ResultRow {
    pub index: u64,
    pub returns: String,
    pub score0: f64,
    pub end_reason: &'static str,
    pub fault_seat: Option<i64>,
    pub fault_detail: Option<String>,
    pub length: i64,
    pub moves: Option<String>,
    pub move_micros: Option<String>,
    /// The trajectory as JSON, where kept for the store (games workers play for training).
    pub trajectory: Option<String>,
    /// The language-model turns: seat, ply, messages, completion, tokens, logprobs, rejected, request.
    pub turns: Vec<[Value; 8]>,
}

impl ResultRow {
    /// The row of `result`; with `keep_trajectory`, its trajectory too (when it has one).
    pub fn new(index: u64, result: &MatchResult, keep_trajectory: bool) -> Result<ResultRow> {
        let (fault_seat, fault_detail) = match &result.end {
            EndReason::Fault { seat, detail, .. } => (Some(*seat as i64), Some(detail.clone())),
            _ => (None, None),
        };
        let keep_moves = !result.moves.is_empty();
        let turns = result
            .turns
            .iter()
            .map(|turn| {
                Ok([
                    Value::from(turn.seat as i64),
                    Value::from(turn.ply as i64),
                    Value::from(serde_json::to_string(&turn.trace.messages)?),
                    Value::from(&turn.trace.completion),
                    Value::from(serde_json::to_string(&turn.trace.tokens)?),
                    Value::from(serde_json::to_string(&turn.trace.logprobs)?),
                    Value::from(turn.rejected),
                    Value::from(turn.trace.request.as_ref().map(serde_json::to_string).transpose()?),
                ])
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(ResultRow {
            index,
            returns: serde_json::to_string(&result.returns)?,
            score0: score_of_seat0(&result.returns),
            end_reason: result.end.kind().as_str(),
            fault_seat,
            fault_detail,
            length: result.length as i64,
            moves: keep_moves.then(|| serde_json::to_string(&result.moves)).transpose()?,
            move_micros: keep_moves.then(|| serde_json::to_string(&result.move_micros)).transpose()?,
            trajectory: (keep_trajectory && !result.trajectory.is_empty())
                .then(|| serde_json::to_string(&result.trajectory))
                .transpose()?,
            turns,
        })
    }

    /// Stores the match's language-model turns (once it is written).
    pub(super) fn write_turns(&self, sql: &mut dyn Sql, tournament: i64) -> Result<()> {
        for (ordinal, turn) in self.turns.iter().enumerate() {
            let mut row = vec![Value::from(tournament), Value::from(self.index as i64), Value::from(ordinal as i64)];
            row.extend(turn.iter().cloned());
            sql.execute(
                "INSERT INTO turns (tournament_id, match_idx, ordinal, seat, ply, messages, completion, tokens, logprobs, rejected, request)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT DO NOTHING",
                &row,
            )?;
        }
        Ok(())
    }
}
