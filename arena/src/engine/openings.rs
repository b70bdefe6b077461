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
    /// Each game pair starts after a number of random plies drawn evenly from `min..=max`
    /// (self-play from positions its own games would rarely reach).
    RandomPlyRange(u32, u32),
    /// Move lists, one per line (`#` starts a comment), as `arena show --moves` reads them.
    File(PathBuf),
    /// Move lists given directly (a program's own openings, such as chosen quiz tasks); game pair
    /// `k` starts from list `k mod len`, each checked before the first game.
    Listed(Vec<Vec<Action>>),
}

impl OpeningSource {
    /// Reads `--openings`: `none`, `random:K`, `random:A..B`, or a file path.
    pub fn parse(text: &str) -> Result<Self> {
        if text == "none" {
            return Ok(OpeningSource::None);
        }
        if let Some(plies) = text.strip_prefix("random:") {
            let number = |part: &str| {
                part.trim().parse::<u32>().map_err(|e| {
                    Error::Invalid(format!(
                        "--openings `{text}`: expected random:K or random:A..B with numbers of plies ({e})"
                    ))
                })
            };
            if let Some((min, max)) = plies.split_once("..") {
                let (min, max) = (number(min)?, number(max)?);
                if min > max {
                    bail!("--openings `{text}`: the range {min}..{max} is empty");
                }
                return Ok(OpeningSource::RandomPlyRange(min, max));
            }
            return Ok(OpeningSource::RandomPlies(number(plies)?));
        }
        Ok(OpeningSource::File(PathBuf::from(text)))
    }
}

/// The openings of one tournament, resolved to action lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Openings {
    None,
    /// Generated on demand from the tournament seed and the opening number, with a number of
    /// plies drawn from `min..=max` (the same number when they are equal).
    Random {
        min: u32,
        max: u32,
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
            &OpeningSource::RandomPlies(plies) => Openings::random(game, plies, plies, seed),
            &OpeningSource::RandomPlyRange(min, max) => Openings::random(game, min, max, seed),
            OpeningSource::File(path) => read_file(path, game).map(Openings::Listed),
            OpeningSource::Listed(list) => {
                if list.is_empty() {
                    bail!("the tournament's list of openings is empty");
                }
                for (k, moves) in list.iter().enumerate() {
                    let mut state = game.new_initial_state();
                    for &action in moves {
                        state.apply(action).with_context(|| format!("opening {k} of the tournament's list"))?;
                    }
                }
                Ok(Openings::Listed(list.clone()))
            }
        }
    }

    fn random(game: &dyn Game, min: u32, max: u32, seed: u64) -> Result<Openings> {
        if max as usize >= game.facts().max_game_length {
            let plies = if min == max { max.to_string() } else { format!("{min}..{max}") };
            bail!("--openings random:{plies}: {} lasts at most {} moves", game.spec(), game.facts().max_game_length);
        }
        Ok(Openings::Random { min, max, seed })
    }

    /// The moves of opening number `k`.
    pub fn get(&self, game: &dyn Game, k: u64) -> Vec<Action> {
        match *self {
            Openings::None => Vec::new(),
            Openings::Random { min, max, seed } => {
                let seed = opening_seed(seed, k);
                // The count has a stream of its own, so a fixed count keeps the openings it had.
                let plies = if min == max {
                    min
                } else {
                    Xoshiro256PlusPlus::seed_from_u64(stream_seed(seed, u64::MAX)).random_range(min..=max)
                };
                random_opening(game, plies, seed)
            }
            Openings::Listed(ref list) => list[(k % list.len() as u64) as usize].clone(),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn connect_four() -> games::GameRef {
        games::load_game("connect_four").unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn random_openings_parse_a_count_or_a_range_and_refuse_bad_ones() {
        assert_eq!(OpeningSource::parse("random:4").ok(), Some(OpeningSource::RandomPlies(4)));
        assert_eq!(OpeningSource::parse("random:0..12").ok(), Some(OpeningSource::RandomPlyRange(0, 12)));
        for (text, problem) in [("random:5..2", "is empty"), ("random:a..3", "random:A..B"), ("random:", "random:K")] {
            let error = OpeningSource::parse(text).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(error.contains(text) && error.contains(problem), "{text}: {error}");
        }
        let game = connect_four();
        let too_long = Openings::resolve(&OpeningSource::RandomPlyRange(0, 42), game.as_ref(), 0);
        assert!(too_long.is_err_and(|e| e.to_string().contains("random:0..42")), "a range past the game's end");
    }

    #[test]
    fn a_range_of_plies_varies_the_opening_length_within_it_and_a_fixed_count_is_kept() {
        let game = connect_four();
        let ranged =
            Openings::resolve(&OpeningSource::RandomPlyRange(2, 9), game.as_ref(), 7).unwrap_or_else(|e| panic!("{e}"));
        let lengths: Vec<usize> = (0..200).map(|k| ranged.get(game.as_ref(), k).len()).collect();
        assert!(lengths.iter().all(|n| (2..=9).contains(n)), "{lengths:?}");
        for n in 2..=9 {
            assert!(lengths.contains(&n), "every length of the range is drawn: {n} missing from {lengths:?}");
        }
        assert_eq!(
            ranged.get(game.as_ref(), 5),
            ranged.get(game.as_ref(), 5),
            "an opening is a function of its number"
        );
        // A range of one count is that count, with the very openings `random:K` gives.
        let fixed =
            Openings::resolve(&OpeningSource::RandomPlies(6), game.as_ref(), 7).unwrap_or_else(|e| panic!("{e}"));
        let one =
            Openings::resolve(&OpeningSource::RandomPlyRange(6, 6), game.as_ref(), 7).unwrap_or_else(|e| panic!("{e}"));
        for k in 0..20 {
            assert_eq!(fixed.get(game.as_ref(), k), one.get(game.as_ref(), k));
            assert_eq!(fixed.get(game.as_ref(), k).len(), 6);
        }
    }
}
