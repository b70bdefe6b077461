//! Promotions waiting for a person (`arena evolve --approve web`): the run puts each request into
//! the store and waits; `arena serve`'s approve page shows it and records the decision, once, for
//! the request's one-use token.

use super::Store;
use super::backend::{Value, params};
use crate::error::Result;

/// A one-use token (128 bits from the operating system, hex) for a form shown to a person.
pub fn one_use_token() -> Result<String> {
    use rand::TryRngCore;
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| crate::error::Error::Invalid(format!("no randomness from the operating system: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Whether `text` has the shape of a token.
pub fn is_token(text: &str) -> bool {
    text.len() == 32 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A request as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredApproval {
    pub id: i64,
    pub run: String,
    pub child: String,
    pub generation: u32,
    /// The request as the run wrote it (JSON).
    pub request: String,
    pub token: String,
    /// `None` while no one has decided.
    pub decision: Option<(bool, String)>,
}

/// What became of a decision posted for a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecisionOutcome {
    Recorded,
    /// No request has this token.
    Unknown,
    /// Decided already.
    AlreadyDecided,
}

impl Store {
    /// The request of `run` for `child`, put in the store if it is not there yet (a resumed run
    /// finds its own); its id.
    pub fn request_approval(&self, run: &str, child: &str, generation: u32, request: &str, token: &str) -> Result<i64> {
        self.transaction(|s| {
            if let Some(row) =
                s.query_opt("SELECT id FROM approvals WHERE run = ?1 AND child = ?2", params![run, child])?
            {
                return row.int(0);
            }
            s.query_int(
                "INSERT INTO approvals (run, child, generation, request, token) VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
                params![run, child, generation as i64, request, token],
            )
        })
    }

    /// A request by id.
    pub fn approval(&self, id: i64) -> Result<Option<StoredApproval>> {
        Ok(self.approvals_where("id = ?1", params![id])?.pop())
    }

    /// The requests no one has decided, oldest first.
    pub fn pending_approvals(&self) -> Result<Vec<StoredApproval>> {
        self.approvals_where("approved IS NULL", params![])
    }

    fn approvals_where(&self, condition: &str, values: &[Value]) -> Result<Vec<StoredApproval>> {
        let rows = self.run(|s| {
            s.query(
                &format!(
                    "SELECT id, run, child, generation, request, token, approved, decided_by FROM approvals
                     WHERE {condition} ORDER BY id"
                ),
                values,
            )
        })?;
        rows.iter()
            .map(|r| {
                let decision = match (r.opt_int(6)?, r.opt_text(7)?) {
                    (Some(approved), by) => Some((approved != 0, by.unwrap_or_default())),
                    (None, _) => None,
                };
                Ok(StoredApproval {
                    id: r.int(0)?,
                    run: r.text(1)?,
                    child: r.text(2)?,
                    generation: r.int(3)? as u32,
                    request: r.text(4)?,
                    token: r.text(5)?,
                    decision,
                })
            })
            .collect()
    }

    /// Records a person's decision on the request with `token`, once.
    pub fn decide_approval(&self, token: &str, approved: bool, by: &str) -> Result<DecisionOutcome> {
        self.transaction(|s| {
            let updated = s.query(
                "UPDATE approvals SET approved = ?2, decided_by = ?3, decided_at = ({now})
                 WHERE token = ?1 AND approved IS NULL RETURNING id",
                params![token, approved as i64, by],
            )?;
            if !updated.is_empty() {
                return Ok(DecisionOutcome::Recorded);
            }
            let known = s.query_int("SELECT count(*) FROM approvals WHERE token = ?1", params![token])?;
            Ok(if known > 0 { DecisionOutcome::AlreadyDecided } else { DecisionOutcome::Unknown })
        })
    }
}
