//! Incremental ratings applied in game order, through the `skillratings` crate: Elo, Glicko-2,
//! TrueSkill and Weng-Lin. Unlike Bradley–Terry they depend on the order of the games.
//!
//! Each module has a `Config` (the `skillratings` configuration and the players' starting rating)
//! and a `ratings(players, games, config)` function giving each player's final [`Rating`].

pub mod elo;
pub mod glicko2;
pub mod trueskill;
pub mod weng_lin;

use skillratings::Outcomes;

use crate::Result;
use crate::game::{GameResult, Outcome};

/// A player's rating after all games, with its uncertainty where the method has one
/// (Glicko-2's deviation, TrueSkill's and Weng-Lin's σ; Elo has none).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rating {
    /// The rating, on the method's own scale.
    pub rating: f64,
    /// One standard deviation of the rating, on the same scale.
    pub uncertainty: Option<f64>,
}

/// Applies `update` to every game in order, starting all `players` from `initial`.
pub(crate) fn replay<R: Copy>(
    players: usize,
    games: &[GameResult],
    initial: R,
    mut update: impl FnMut(&R, &R, &Outcomes) -> (R, R),
) -> Result<Vec<R>> {
    let mut ratings = vec![initial; players];
    for (index, game) in games.iter().enumerate() {
        let outcome = match game.validate(index, players)? {
            Outcome::Win => Outcomes::WIN,
            Outcome::Draw => Outcomes::DRAW,
            Outcome::Loss => Outcomes::LOSS,
        };
        let (a, b) = update(&ratings[game.first], &ratings[game.second], &outcome);
        ratings[game.first] = a;
        ratings[game.second] = b;
    }
    Ok(ratings)
}
