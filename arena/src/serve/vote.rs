//! The vote page: two anonymous answers by different agents to the same prompt (drawn among the
//! pairs no one has voted on, in a random order), buttons "A is better / B is better / tie / both
//! bad", and the names revealed after the vote. Each pair shown carries a one-use token: a post
//! without a shown pair's token, a second post of one, or a malformed post gets a 4xx and stores
//! nothing.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use super::{Page, layout};
use crate::report::html::escape;
use crate::store::{AnswerPair, Store, StoreLocation, VoteChoice, VoteOutcome, is_token, one_use_token};

/// The longest voter name kept.
const MAX_VOTER_CHARS: usize = 80;

/// A new pair to vote on (or a page saying there is none).
pub(super) fn show(db: &StoreLocation) -> Page {
    match draw(db) {
        Ok(Some((token, pair))) => Page::html(200, layout("Which answer is better?", &ballot(&token, &pair))),
        Ok(None) => Page::html(
            200,
            layout(
                "Nothing to vote on",
                "<p>The store holds no two answers by different agents to the same prompt that are still \
                 waiting for a vote (a quiz tournament between language models makes some).</p>",
            ),
        ),
        Err(error) => Page::text(500, format!("cannot draw a pair from store {db}: {error:#}\n")),
    }
}

/// Draws a pair no one has voted on, shows it in a random order, and records it under a new token.
fn draw(db: &StoreLocation) -> crate::error::Result<Option<(String, AnswerPair)>> {
    let store = Store::connect(db)?;
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::from_os_rng();
    let mut tournaments = store.tournaments_with_turns()?;
    tournaments.shuffle(&mut rng);
    for tournament in tournaments {
        let mut pairs = store.answer_pairs(tournament)?;
        if pairs.is_empty() {
            continue;
        }
        let mut pair = pairs.swap_remove(rng.random_range(0..pairs.len()));
        if rng.random_bool(0.5) {
            pair = pair.swapped();
        }
        let token = one_use_token()?;
        store.record_shown(&token, &pair)?;
        return Ok(Some((token, pair)));
    }
    Ok(None)
}

/// The prompt, the two answers and the form.
fn ballot(token: &str, pair: &AnswerPair) -> String {
    format!(
        "<p>The prompt:</p><div class=\"prompt\" id=\"prompt\">{prompt}</div>\
         <div class=\"answers\"><div><h2>A</h2><div class=\"answer\" id=\"answer-a\">{a}</div></div>\
         <div><h2>B</h2><div class=\"answer\" id=\"answer-b\">{b}</div></div></div>\
         <form method=\"post\" action=\"/vote\"><input type=\"hidden\" name=\"token\" value=\"{token}\">\
         <p><label>Your name (optional) <input name=\"voter\" maxlength=\"{MAX_VOTER_CHARS}\"></label></p>\
         <button name=\"choice\" value=\"a\" id=\"vote-a\">A is better</button>\
         <button name=\"choice\" value=\"b\" id=\"vote-b\">B is better</button>\
         <button name=\"choice\" value=\"tie\" id=\"vote-tie\">Tie</button>\
         <button name=\"choice\" value=\"both_bad\" id=\"vote-both-bad\">Both are bad</button></form>",
        prompt = escape(&pair.prompt),
        a = escape(&pair.answers[0]),
        b = escape(&pair.answers[1]),
        token = escape(token),
    )
}

/// Records a posted vote and reveals who answered.
pub(super) fn cast(db: &StoreLocation, form: &[(String, String)]) -> Page {
    let field = |name: &str| super::field(form, name);
    let token = field("token").filter(|t| is_token(t));
    let choice = field("choice").and_then(VoteChoice::parse);
    let (Some(token), Some(choice)) = (token, choice) else {
        return Page::text(
            400,
            "a vote needs one `token` of a pair shown and one `choice`: a, b, tie or both_bad\n".into(),
        );
    };
    let voter: String = field("voter").unwrap_or("").trim().chars().take(MAX_VOTER_CHARS).collect();
    let voter = if voter.is_empty() { "anonymous".to_string() } else { voter };
    let outcome = Store::connect(db).and_then(|store| store.cast_vote(token, choice, &voter));
    match outcome {
        Ok(VoteOutcome::Recorded([a, b])) => {
            let verdict = match choice {
                VoteChoice::A => "you found A better",
                VoteChoice::B => "you found B better",
                VoteChoice::Tie => "a tie",
                VoteChoice::BothBad => "both bad",
            };
            Page::html(
                200,
                layout(
                    "Thank you",
                    &format!(
                        "<p id=\"revealed\">A was <b>{}</b> and B was <b>{}</b>: {verdict}.</p>\
                         <p><a href=\"/vote\" id=\"next\">Another pair</a> · <a href=\"/\">Leaderboard</a></p>",
                        escape(&a),
                        escape(&b)
                    ),
                ),
            )
        }
        Ok(VoteOutcome::AlreadyVoted) => Page::text(409, "this pair has its vote already\n".into()),
        Ok(VoteOutcome::NotShown) => Page::text(404, "no pair was shown with this token\n".into()),
        Err(error) => Page::text(500, format!("cannot record the vote in store {db}: {error:#}\n")),
    }
}
