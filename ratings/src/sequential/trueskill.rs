//! TrueSkill ratings, updated game by game (`skillratings::trueskill`).

use skillratings::trueskill::{TrueSkillConfig, TrueSkillRating, trueskill};

use super::{Rating, replay};
use crate::{GameResult, Result};

/// Settings of incremental TrueSkill.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// The update rule; default: draw probability 0.1, β = 25/6, dynamics 25/300.
    pub trueskill: TrueSkillConfig,
    /// Every player's starting rating; default: μ = 25, σ = 25/3.
    pub initial: TrueSkillRating,
}

impl Default for Config {
    fn default() -> Self {
        Self { trueskill: TrueSkillConfig::new(), initial: TrueSkillRating::new() }
    }
}

/// Each player's TrueSkill μ and σ after `games` in order.
pub fn ratings(players: usize, games: &[GameResult], config: &Config) -> Result<Vec<Rating>> {
    let final_ratings = replay(players, games, config.initial, |a, b, o| trueskill(a, b, o, &config.trueskill))?;
    Ok(final_ratings.into_iter().map(|r| Rating { rating: r.rating, uncertainty: Some(r.uncertainty) }).collect())
}
