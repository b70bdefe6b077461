//! Elo ratings, updated game by game (`skillratings::elo`).

use skillratings::elo::{EloConfig, EloRating, elo};

use super::{Rating, replay};
use crate::{GameResult, Result};

/// Settings of incremental Elo.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// The update rule; default: K = 32.
    pub elo: EloConfig,
    /// Every player's starting rating; default: 1000.
    pub initial: f64,
}

impl Default for Config {
    fn default() -> Self {
        Self { elo: EloConfig::new(), initial: EloRating::new().rating }
    }
}

/// Each player's Elo rating after `games` in order.
pub fn ratings(players: usize, games: &[GameResult], config: &Config) -> Result<Vec<Rating>> {
    let initial = EloRating { rating: config.initial };
    let final_ratings = replay(players, games, initial, |a, b, o| elo(a, b, o, &config.elo))?;
    Ok(final_ratings.into_iter().map(|r| Rating { rating: r.rating, uncertainty: None }).collect())
}
