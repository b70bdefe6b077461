//! Openings: positions the agents start from, so a tournament is not decided by the first moves
//! alone — K random plies from a seed, or a file of move lists.

use std::path::{Path, PathBuf};

use games::{Action, Game, Move, State, apply_move_list};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use crate::engine::seeds::{opening_seed, stream_seed};
use crate::error::{Context, Error, Result, bail};

/// Where openings come from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpeningSource {
    /// Every game starts from the initial position.
    #[default]
    None,
    /// Each game pair starts after this many uniformly random legal plies (chance moves included).
    RandomPlies(u32),
    /// Move lists, one per line (`#` starts a comment), as `arena show --moves` reads them.
    File(PathBuf),
}

impl OpeningSource {
    /// Reads `--openings`: `none`, `random:K`, or a file path.
    pub fn parse(text: &str) -> Result<Self> {
        if text == "none" {
            return Ok(OpeningSource::None);
        }
        if let Some(plies) = text.strip_prefix("random:") {
            let plies = plies.parse().map_err(|e| {
                Error::Invalid(format!("--openings `{text}`: expected random:K with K a number of plies ({e})"))
            })?;
            return Ok(OpeningSource::RandomPlies(plies));
        }
        Ok(OpeningSource::File(PathBuf::from(text)))
    }
}

/// The openings of one tournament, resolved to action lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Openings {
    None,
    /// Generated on demand from the tournament seed and the opening number.
    Random {
        plies: u32,
        seed: u64,
    },
    /// Read from a file; opening `k` is line `k mod len`.
    Listed(Vec<Vec<Action>>),
}

impl Openings {
    /// Resolves a source for `game`: a file is read and every line checked now, with its line number
    /// in any error.
    pub fn resolve(source: &OpeningSource, game: &dyn Game, seed: u64) -> Result<Openings> {
        match source {
            OpeningSource::None => Ok(Openings::None),
            OpeningSource::RandomPlies(plies) => {
                if *plies as usize >= game.facts().max_game_length {
                    bail!(
                        "--openings random:{plies}: {} lasts at most {} moves",
                        game.spec(),
                        game.facts().max_game_length
                    );
                }
                Ok(Openings::Random { plies: *plies, seed })
            }
            OpeningSource::File(path) => read_file(path, game).map(Openings::Listed),
        }
    }

    /// The moves of opening number `k`.
    pub fn get(&self, game: &dyn Game, k: u64) -> Vec<Action> {
        match self {
            Openings::None => Vec::new(),
            Openings::Random { plies, seed } => random_opening(game, *plies, opening_seed(*seed, k)),
            Openings::Listed(list) => list[(k % list.len() as u64) as usize].clone(),
        }
    }
}

/// `plies` random legal moves that do not end the game; another seed is tried where a game ends.
fn random_opening(game: &dyn Game, plies: u32, seed: u64) -> Vec<Action> {
    let mut buffer = Vec::new();
    let mut outcomes = Vec::new();
    for attempt in 0u64.. {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(stream_seed(seed, attempt));
        let mut state = game.new_initial_state();
        let mut moves = Vec::with_capacity(plies as usize);
        while moves.len() < plies as usize && !state.is_terminal() {
            let action = if state.current_player().is_some() {
                state.legal_actions(&mut buffer);
                if buffer.is_empty() {
                    break; // a text turn: openings stop before it
                }
                buffer[rng.random_range(0..buffer.len())]
            } else {
                state.chance_outcomes(&mut outcomes);
                games::playout::sample_chance(&outcomes, &mut rng)
            };
            state.apply_unchecked(action);
            moves.push(action);
        }
        if !state.is_terminal() || attempt >= 1000 {
            return moves;
        }
    }
    unreachable!("the loop returns")
}

fn read_file(path: &Path, game: &dyn Game) -> Result<Vec<Vec<Action>>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io("cannot read openings file", path, e))?;
    let mut openings = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let mut state: Box<dyn State> = game.new_initial_state();
        apply_move_list(state.as_mut(), line)
            .with_context(|| format!("openings file {} line {}", path.display(), number + 1))?;
        if state.is_terminal() {
            bail!("openings file {} line {}: the game is already over after `{line}`", path.display(), number + 1);
        }
        let moves = state
            .history()
            .into_iter()
            .map(|m| match m {
                Move::Action(a) => Ok(a),
                Move::Text(_) => Err(Error::Invalid(format!(
                    "openings file {} line {}: text moves are not supported in openings",
                    path.display(),
                    number + 1
                ))),
            })
            .collect::<Result<Vec<_>>>()?;
        openings.push(moves);
    }
    if openings.is_empty() {
        bail!("openings file {} has no openings", path.display());
    }
    Ok(openings)
}
