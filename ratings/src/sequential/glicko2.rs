//! Glicko-2 ratings, updated game by game (`skillratings::glicko2`), each game its own period.

use skillratings::glicko2::{Glicko2Config, Glicko2Rating, glicko2};

use super::{Rating, replay};
use crate::{GameResult, Result};

/// Settings of incremental Glicko-2.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// The update rule; default: τ = 0.5.
    pub glicko2: Glicko2Config,
    /// Every player's starting rating; default: 1500, deviation 350, volatility 0.06.
    pub initial: Glicko2Rating,
}

impl Default for Config {
    fn default() -> Self {
        Self { glicko2: Glicko2Config::new(), initial: Glicko2Rating::new() }
    }
}

/// Each player's Glicko-2 rating and deviation after `games` in order.
pub fn ratings(players: usize, games: &[GameResult], config: &Config) -> Result<Vec<Rating>> {
    let final_ratings = replay(players, games, config.initial, |a, b, o| glicko2(a, b, o, &config.glicko2))?;
    Ok(final_ratings.into_iter().map(|r| Rating { rating: r.rating, uncertainty: Some(r.deviation) }).collect())
}
