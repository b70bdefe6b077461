//! Weng-Lin (OpenSkill) ratings, updated game by game (`skillratings::weng_lin`).

use skillratings::weng_lin::{WengLinConfig, WengLinRating, weng_lin};

use super::{Rating, replay};
use crate::{GameResult, Result};

/// Settings of incremental Weng-Lin.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// The update rule; default: β = 25/6, uncertainty tolerance 1e-6.
    pub weng_lin: WengLinConfig,
    /// Every player's starting rating; default: μ = 25, σ = 25/3.
    pub initial: WengLinRating,
}

impl Default for Config {
    fn default() -> Self {
        Self { weng_lin: WengLinConfig::new(), initial: WengLinRating::new() }
    }
}

/// Each player's Weng-Lin μ and σ after `games` in order.
pub fn ratings(players: usize, games: &[GameResult], config: &Config) -> Result<Vec<Rating>> {
    let final_ratings = replay(players, games, config.initial, |a, b, o| weng_lin(a, b, o, &config.weng_lin))?;
    Ok(final_ratings.into_iter().map(|r| Rating { rating: r.rating, uncertainty: Some(r.uncertainty) }).collect())
}
