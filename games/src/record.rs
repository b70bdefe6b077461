//! Game records (game spec plus move list) and replaying moves from records and from text.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::game::{Action, Game, GameRef, InputKind, State};
use crate::registry::load_game;

/// One move of a record: a discrete action, or the text a text environment took.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Move {
    Action(Action),
    Text(String),
}

/// A compact, replayable record of a game: the canonical game spec and the moves from the start.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GameRecord {
    pub game: String,
    pub moves: Vec<Move>,
}

impl GameRecord {
    /// Loads the game (a built-in one) and replays every move, checking each one.
    pub fn replay(&self) -> Result<(GameRef, Box<dyn State>)> {
        let game = load_game(&self.game)?;
        let state = self.replay_on(game.as_ref())?;
        Ok((game, state))
    }

    /// Replays every move on `game` (which must be the record's game), checking each one.
    pub fn replay_on(&self, game: &dyn Game) -> Result<Box<dyn State>> {
        let mut state = game.new_initial_state();
        for (i, mv) in self.moves.iter().enumerate() {
            let applied = match mv {
                Move::Action(action) => state.apply(*action),
                Move::Text(text) => state.apply_text(text),
            };
            applied.map_err(|source| Error::BadMove {
                number: i + 1,
                text: match mv {
                    Move::Action(a) => a.to_string(),
                    Move::Text(t) => t.clone(),
                },
                error: Box::new(source),
            })?;
        }
        Ok(state)
    }

    /// The record as one line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| unreachable!("a record always serializes: {e}"))
    }

    /// Reads a record from JSON.
    pub fn from_json(text: &str) -> Result<GameRecord> {
        serde_json::from_str(text).map_err(|e| Error::BadRecord(e.to_string()))
    }
}

/// Plays a list of moves written as text (`"4 4 5 3"`, `"d3, c5"`, or compact `"4453"`, `"d3c5"`),
/// applying each to `state`. An error names the move's number and text; the moves before it stay
/// applied. A text turn takes the whole remaining token.
pub fn apply_move_list(state: &mut dyn State, moves: &str) -> Result<usize> {
    let mut number = 0;
    for token in moves.split(|c: char| c.is_whitespace() || c == ',' || c == ';').filter(|t| !t.is_empty()) {
        let mut rest = token;
        while !rest.is_empty() {
            number += 1;
            let fail =
                |text: &str, source: Error| Error::BadMove { number, text: text.to_string(), error: Box::new(source) };
            if state.input_kind() == InputKind::Text {
                state.apply_text(rest).map_err(|e| fail(rest, e))?;
                break;
            }
            // The whole token first; otherwise the longest prefix that reads as an action.
            let (text, action) = match state.parse_action(rest) {
                Ok(action) => (rest, action),
                Err(whole) => (1..rest.len())
                    .rev()
                    .filter(|&n| rest.is_char_boundary(n))
                    .find_map(|n| state.parse_action(&rest[..n]).ok().map(|a| (&rest[..n], a)))
                    .ok_or_else(|| fail(rest, whole))?,
            };
            state.apply(action).map_err(|e| fail(text, e))?;
            rest = &rest[text.len()..];
        }
    }
    Ok(number)
}
