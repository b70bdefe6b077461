//! The crate's error type: every error names the input (game, player, spec) and what is wrong.

use std::fmt;

/// Result of this crate's fallible functions.
pub type Result<T> = std::result::Result<T, Error>;

/// Players named in an error: their indices, and their names once [`Error::with_names`] added them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlayerList {
    /// The players' indices, ascending.
    pub indices: Vec<usize>,
    /// Their names, in the same order, when known.
    pub names: Option<Vec<String>>,
}

impl PlayerList {
    pub(crate) fn new(mut indices: Vec<usize>) -> Self {
        indices.sort_unstable();
        Self { indices, names: None }
    }
}

impl fmt::Display for PlayerList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 10;
        let noun = if self.indices.len() == 1 { "player" } else { "players" };
        write!(f, "{noun} ")?;
        for (k, &index) in self.indices.iter().take(SHOWN).enumerate() {
            if k > 0 {
                write!(f, ", ")?;
            }
            match self.names.as_ref().and_then(|names| names.get(k)) {
                Some(name) => write!(f, "'{name}'")?,
                None => write!(f, "#{index}")?,
            }
        }
        if self.indices.len() > SHOWN {
            write!(f, " and {} more", self.indices.len() - SHOWN)?;
        }
        Ok(())
    }
}

/// Everything that can go wrong in this crate.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A game names a player index outside `0..players`.
    #[error("game {game}: player index {player} is out of range for {players} players")]
    PlayerOutOfRange { game: usize, player: usize, players: usize },
    /// A game pits a player against itself.
    #[error("game {game}: player #{player} plays against itself")]
    SelfPlay { game: usize, player: usize },
    /// A game's score is not 1, 0.5 or 0.
    #[error("game {game}: score {score} is not 1, 0.5 or 0")]
    InvalidScore { game: usize, score: f64 },
    /// There is nothing to rate.
    #[error("no games to rate")]
    NoGames,
    /// Some players are not connected to the others by games, so their ratings are not determined.
    #[error("{players} cannot be rated: no chain of games connects them with {reference}")]
    Disconnected { players: PlayerList, reference: String },
    /// Some players won (or lost) every game against everyone else: their maximum likelihood
    /// rating is infinite.
    #[error(
        "{players} {} every game against the other players, so the maximum likelihood rating is {}infinite",
        if *won { "won" } else { "lost" },
        if *won { "+" } else { "-" }
    )]
    Unbounded { players: PlayerList, won: bool },
    /// An anchor is malformed (unknown player, given twice, not finite).
    #[error("anchor for {player}: {problem}")]
    InvalidAnchor { player: PlayerList, problem: String },
    /// The Davidson draw parameter has no finite estimate.
    #[error("Davidson draw model: {0}")]
    DrawParameter(String),
    /// Newton's method did not reach the tolerance.
    #[error("the Bradley–Terry fit did not converge in {iterations} iterations")]
    NotConverged { iterations: usize },
    /// A configuration value is out of its range.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// An SPRT specification string could not be parsed.
    #[error("invalid SPRT specification '{spec}': {problem}")]
    SprtSpec { spec: String, problem: String },
    /// Every bootstrap replicate failed to fit.
    #[error("bootstrap: all {replicates} replicates failed; the first failure: {first}")]
    BootstrapFailed { replicates: usize, first: Box<Error> },
}

impl Error {
    /// Adds the players' names (looked up by index in `names`) to the players this error lists,
    /// so that it reads `player 'alice'` instead of `player #3`.
    #[must_use]
    pub fn with_names<S: AsRef<str>>(self, names: &[S]) -> Self {
        let name = |list: PlayerList| PlayerList {
            names: Some(
                list.indices
                    .iter()
                    .map(|&i| names.get(i).map_or_else(|| format!("#{i}"), |s| s.as_ref().to_owned()))
                    .collect(),
            ),
            indices: list.indices,
        };
        match self {
            Self::Disconnected { players, reference } => Self::Disconnected { players: name(players), reference },
            Self::Unbounded { players, won } => Self::Unbounded { players: name(players), won },
            Self::InvalidAnchor { player, problem } => Self::InvalidAnchor { player: name(player), problem },
            Self::BootstrapFailed { replicates, first } => {
                Self::BootstrapFailed { replicates, first: Box::new(first.with_names(names)) }
            }
            other => other,
        }
    }

    /// The players this error is about, if it is about particular players.
    pub fn players(&self) -> &[usize] {
        match self {
            Self::Disconnected { players, .. }
            | Self::Unbounded { players, .. }
            | Self::InvalidAnchor { player: players, .. } => &players.indices,
            Self::PlayerOutOfRange { player, .. } | Self::SelfPlay { player, .. } => std::slice::from_ref(player),
            _ => &[],
        }
    }
}
