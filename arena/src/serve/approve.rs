//! The approve page: the promotions a run started with `arena evolve --approve web` is waiting
//! on, oldest first, each with its gate, measures and sample games; a person gives a name and
//! approves or vetoes. Each request carries a one-use token: a decision without a pending
//! request's token, a second decision, or a malformed post gets a 4xx and stores nothing.

use super::{Page, layout};
use crate::evolve::approval::ApprovalRequest;
use crate::report::html::escape;
use crate::store::{DecisionOutcome, Store, StoreLocation, is_token};

/// The longest name kept.
const MAX_NAME_CHARS: usize = 80;

/// The pending requests, the oldest with its form.
pub(super) fn show(db: &StoreLocation) -> Page {
    let pending = match Store::connect(db).and_then(|store| store.pending_approvals()) {
        Ok(pending) => pending,
        Err(error) => return Page::text(500, format!("cannot read store {db}: {error:#}\n")),
    };
    let Some(first) = pending.first() else {
        return Page::html(
            200,
            layout(
                "No promotion is waiting",
                "<p>No run started with <code>--approve web</code> is waiting for a decision.</p>",
            ),
        );
    };
    // The run wrote the request; shown as text whatever it holds.
    let described = serde_json::from_str::<ApprovalRequest>(&first.request)
        .map(|request| request.describe())
        .unwrap_or_else(|_| first.request.clone());
    let others = if pending.len() > 1 {
        format!("<p>{} more waiting after this one.</p>", pending.len() - 1)
    } else {
        String::new()
    };
    let body = format!(
        "<p>Run <code>{run}</code>, generation {generation}: promote <b>{child}</b>?</p>\
         <pre class=\"prompt\" id=\"request\">{described}</pre>\
         <form method=\"post\" action=\"/approve\"><input type=\"hidden\" name=\"token\" value=\"{token}\">\
         <p><label>Your name <input name=\"by\" id=\"by\" maxlength=\"{MAX_NAME_CHARS}\"></label></p>\
         <button name=\"decision\" value=\"approve\" id=\"approve\">Approve</button>\
         <button name=\"decision\" value=\"veto\" id=\"veto\">Veto</button></form>{others}",
        run = escape(&first.run),
        generation = first.generation,
        child = escape(&first.child),
        described = escape(described.trim()),
        token = escape(&first.token),
    );
    Page::html(200, layout("A promotion waits for you", &body))
}

/// Records a posted decision.
pub(super) fn decide(db: &StoreLocation, form: &[(String, String)]) -> Page {
    let field = |name: &str| super::field(form, name);
    let token = field("token").filter(|t| is_token(t));
    let approved = match field("decision") {
        Some("approve") => Some(true),
        Some("veto") => Some(false),
        _ => None,
    };
    let (Some(token), Some(approved)) = (token, approved) else {
        return Page::text(
            400,
            "a decision needs one `token` of a pending request and `decision`: approve or veto\n".into(),
        );
    };
    let by: String = field("by").unwrap_or("").trim().chars().take(MAX_NAME_CHARS).collect();
    let by = if by.is_empty() { "anonymous".to_string() } else { by };
    match Store::connect(db).and_then(|store| store.decide_approval(token, approved, &by)) {
        Ok(DecisionOutcome::Recorded) => Page::html(
            200,
            layout(
                "Recorded",
                &format!(
                    "<p id=\"decided\">{} by {}. The run goes on.</p><p><a href=\"/approve\">Next</a></p>",
                    if approved { "Approved" } else { "Vetoed" },
                    escape(&by)
                ),
            ),
        ),
        Ok(DecisionOutcome::AlreadyDecided) => Page::text(409, "this promotion has its decision already\n".into()),
        Ok(DecisionOutcome::Unknown) => Page::text(404, "no promotion waits under this token\n".into()),
        Err(error) => Page::text(500, format!("cannot record the decision in store {db}: {error:#}\n")),
    }
}
