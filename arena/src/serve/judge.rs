//! The judge page: the debates (and any match) that wait for a person's decision — a tournament
//! whose judge is `human(via=web)` parks each debate at its verdict — listed, each shown as the
//! judge seat sees it, debaters anonymous, under a one-use token; the verdict posted finishes the
//! stored match, and the debaters' names are revealed. A post without a token shown for that match,
//! a second post of one, a move that is not legal there, or a malformed post gets a 4xx and stores
//! nothing.

use games::{GameRecord, Player, State, Turn};

use super::{Page, layout};
use crate::engine::runner::{EndReason, MatchResult};
use crate::report::html::escape;
use crate::resources::Resources;
use crate::store::{AwaitingMatch, DecisionPosted, Store, StoreLocation, is_token, one_use_token};

/// The longest name kept.
const MAX_NAME_CHARS: usize = 80;

/// The debates waiting for a verdict, and the way to judge a new one live.
pub(super) fn list(db: &StoreLocation) -> Page {
    let waiting = match Store::connect(db).and_then(|store| store.awaiting_list()) {
        Ok(waiting) => waiting,
        Err(error) => return Page::text(500, format!("cannot read store {db}: {error:#}\n")),
    };
    let rows: String = waiting
        .iter()
        .map(|(tournament, index, game)| {
            format!(
                "<li><a href=\"/judge/{tournament}/{index}\" class=\"awaiting\">tournament {tournament}, match {index}</a> \
                 — {}</li>",
                escape(game)
            )
        })
        .collect();
    let listed = if waiting.is_empty() {
        "<p id=\"none\">No debate waits for a verdict. A tournament whose judge is <code>human(via=web)</code> \
         leaves each of its debates here.</p>"
            .to_string()
    } else {
        format!("<p>{} wait for a verdict:</p><ul id=\"awaiting\">{rows}</ul>", waiting.len())
    };
    let body =
        format!("{listed}<p><a href=\"/judge/new\" id=\"new\">Judge a new debate between two agents, live</a></p>");
    Page::html(200, layout("Debates to judge", &body))
}

/// `/judge/T/I`: the tournament and match a path names.
pub(super) fn parse_path(rest: &str) -> Option<(i64, u64)> {
    let (tournament, index) = rest.split_once('/')?;
    let digits = |s: &str| !s.is_empty() && s.len() <= 18 && s.bytes().all(|b| b.is_ascii_digit());
    (digits(tournament) && digits(index)).then(|| Some((tournament.parse().ok()?, index.parse().ok()?)))?
}

/// The position a waiting match stopped at, and the seat to decide.
fn position(waiting: &AwaitingMatch) -> Result<(usize, Box<dyn State>, Player), Page> {
    let game = Resources::new()
        .load_game(&waiting.game)
        .map_err(|e| Page::text(500, format!("cannot load the game `{}`: {e:#}\n", waiting.game)))?;
    let record = GameRecord { game: waiting.game.clone(), moves: waiting.moves.clone() };
    let state = record.replay_on(game.as_ref()).map_err(|e| {
        Page::text(
            500,
            format!(
                "tournament {}, match {}: its stored moves do not replay: {e}\n",
                waiting.tournament, waiting.index
            ),
        )
    })?;
    match state.turn() {
        Turn::Player(seat) => Ok((game.facts().players, state, seat)),
        _ => Err(Page::text(
            500,
            format!("tournament {}, match {}: no seat is to move where it waits\n", waiting.tournament, waiting.index),
        )),
    }
}

/// A waiting match as its deciding seat sees it, with the verdicts as buttons; or, once decided,
/// the decision with the names revealed.
pub(super) fn show(db: &StoreLocation, tournament: i64, index: u64) -> Page {
    let store = match Store::connect(db) {
        Ok(store) => store,
        Err(error) => return Page::text(500, format!("cannot open store {db}: {error:#}\n")),
    };
    let waiting = match store.awaiting_match(tournament, index) {
        Ok(Some(waiting)) => waiting,
        Ok(None) => return decided(&store, tournament, index),
        Err(error) => return Page::text(500, format!("{error:#}\n")),
    };
    let (_, state, seat) = match position(&waiting) {
        Ok(found) => found,
        Err(page) => return page,
    };
    let token = match one_use_token().and_then(|token| {
        store.record_awaiting_shown(&token, tournament, index)?;
        Ok(token)
    }) {
        Ok(token) => token,
        Err(error) => return Page::text(500, format!("cannot record the form in store {db}: {error:#}\n")),
    };
    let mut legal = Vec::new();
    state.legal_actions(&mut legal);
    let buttons: String = legal
        .iter()
        .map(|&action| {
            let name = state.action_to_string(action);
            format!("<button name=\"verdict\" value=\"{0}\" id=\"verdict-{0}\">{0}</button>", escape(&name))
        })
        .collect();
    let body = format!(
        "<p>You sit in seat {seat}; the players are anonymous until you decide.</p>\
         <pre class=\"prompt\" id=\"transcript\">{transcript}</pre>\
         <form method=\"post\" action=\"/judge/{tournament}/{index}\"><input type=\"hidden\" name=\"token\" value=\"{token}\">\
         <p><label>Your name (optional) <input name=\"name\" id=\"name\" maxlength=\"{MAX_NAME_CHARS}\"></label></p>\
         <p>Your verdict: {buttons}</p></form>",
        transcript = escape(state.observation_string(seat).trim_end()),
        token = escape(&token),
    );
    Page::html(200, layout(&format!("Tournament {tournament}, match {index}: your verdict"), &body))
}

/// A decided match: who decided what, the players revealed, and the end as the game shows it.
fn decided(store: &Store, tournament: i64, index: u64) -> Page {
    let verdict = match store.verdict(tournament, index) {
        Ok(Some(verdict)) => verdict,
        Ok(None) => {
            return Page::text(404, format!("tournament {tournament} has no match {index} waiting for a verdict\n"));
        }
        Err(error) => return Page::text(500, format!("{error:#}\n")),
    };
    let revealed = store.finished(tournament).and_then(|finished| {
        let names: Vec<String> = store.agents(tournament)?.into_iter().map(|a| a.name).collect();
        Ok(finished.into_iter().find(|m| m.index == index).map(|m| {
            let name = |seat: usize| m.seats.get(seat).and_then(|&i| names.get(i)).cloned().unwrap_or_default();
            (name(0), name(1), m.score0)
        }))
    });
    let (first, second) = match revealed {
        Ok(Some((first, second, _))) => (first, second),
        Ok(None) => {
            return Page::text(500, format!("tournament {tournament}, match {index}: decided but not finished\n"));
        }
        Err(error) => return Page::text(500, format!("{error:#}\n")),
    };
    let end = store
        .match_moves(tournament)
        .ok()
        .and_then(|mut moves| moves.remove(&index))
        .zip(store.tournament(tournament).ok())
        .and_then(|(moves, row)| GameRecord { game: row.game, moves }.replay().ok())
        .map(|(_, state)| state.render())
        .unwrap_or_default();
    let body = format!(
        "<p id=\"revealed\">Verdict <b>{verdict}</b> by {person}. Seat 0 was <b>{first}</b>, seat 1 was <b>{second}</b>.</p>\
         <pre class=\"prompt\" id=\"end\">{end}</pre>\
         <p><a href=\"/judge\" id=\"next\">Other debates</a> · <a href=\"/\">Leaderboard</a></p>",
        verdict = escape(&verdict.verdict),
        person = escape(&verdict.person),
        first = escape(&first),
        second = escape(&second),
        end = escape(end.trim_end()),
    );
    Page::html(200, layout(&format!("Tournament {tournament}, match {index}: decided"), &body))
}

/// Takes a posted verdict: the stored match finished with it, once.
pub(super) fn decide(db: &StoreLocation, tournament: i64, index: u64, form: &[(String, String)]) -> Page {
    let field = |name: &str| super::field(form, name);
    let (Some(token), Some(verdict)) = (field("token").filter(|t| is_token(t)), field("verdict")) else {
        return Page::text(400, "a verdict needs one `token` of a form shown and one `verdict`\n".into());
    };
    let person: String = field("name").unwrap_or("").trim().chars().take(MAX_NAME_CHARS).collect();
    let person = if person.is_empty() { "anonymous".to_string() } else { person };
    let store = match Store::connect(db) {
        Ok(store) => store,
        Err(error) => return Page::text(500, format!("cannot open store {db}: {error:#}\n")),
    };
    let waiting = match store.awaiting_match(tournament, index) {
        Ok(Some(waiting)) => waiting,
        Ok(None) => {
            return Page::text(
                409,
                "this match does not wait for a verdict (decided already, or never parked)\n".into(),
            );
        }
        Err(error) => return Page::text(500, format!("{error:#}\n")),
    };
    let (players, mut state, seat) = match position(&waiting) {
        Ok(found) => found,
        Err(page) => return page,
    };
    let mut legal = Vec::new();
    state.legal_actions(&mut legal);
    let Some(&action) = legal.iter().find(|&&a| state.action_to_string(a) == verdict) else {
        let names: Vec<String> = legal.iter().map(|&a| state.action_to_string(a)).collect();
        return Page::text(400, format!("`{verdict}` is not a verdict here; the verdicts: {}\n", names.join(", ")));
    };
    state.apply_unchecked(action);
    if state.turn() != Turn::Terminal {
        return Page::text(
            409,
            format!("the game goes on after seat {seat}'s decision; this page takes only decisions that end it\n"),
        );
    }
    let result = MatchResult {
        returns: (0..players).map(|p| state.player_return(p)).collect(),
        end: EndReason::Normal,
        length: waiting.moves.len() + 1,
        moves: state.history(),
        // The person's time is not measured.
        move_micros: waiting.move_micros.clone(),
        trajectory: Vec::new(),
        turns: Vec::new(),
    };
    match store.decide_awaiting(token, tournament, index, verdict, &person, &result) {
        Ok(DecisionPosted::Recorded) => Page::redirect(&format!("/judge/{tournament}/{index}")),
        Ok(DecisionPosted::NotShown) => Page::text(404, "no form for this match was shown with this token\n".into()),
        Ok(DecisionPosted::Used) => Page::text(409, "this form was used already\n".into()),
        Ok(DecisionPosted::AlreadyDecided) => Page::text(409, "this match was decided meanwhile\n".into()),
        Err(error) => Page::text(500, format!("cannot record the verdict in store {db}: {error:#}\n")),
    }
}
