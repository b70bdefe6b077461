//! The crate's error type: every error names the input it is about.

/// Errors from loading games, parsing actions and applying moves.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A spec string such as `connect_four(rows=6` that does not parse.
    #[error("bad spec `{spec}`: {reason}")]
    BadSpec { spec: String, reason: String },

    /// A game name the registry does not know.
    #[error("unknown game `{name}`; registered games: {known}")]
    UnknownGame { name: String, known: String },

    /// A parameter the game (or agent) does not take; `owner` reads like "game `hex`".
    #[error("{owner} has no parameter `{param}`; accepted parameters: {accepted}")]
    UnknownParameter { owner: String, param: String, accepted: String },

    /// A parameter with a value of the wrong kind or out of range; `owner` reads like "game `hex`".
    #[error("{owner}: parameter `{param}={value}` is invalid: {reason}")]
    BadParameter { owner: String, param: String, value: String, reason: String },

    /// An action that is not legal in the current position; the state is unchanged.
    #[error("illegal action `{action}` ({id}) in this position:\n{position}")]
    IllegalAction { action: String, id: u32, position: String },

    /// Text that does not name an action of the game.
    #[error("cannot read `{text}` as an action: {reason}")]
    ParseAction { text: String, reason: String },

    /// A move in a list of moves (a record, a `--moves` argument) that failed.
    #[error("move {number} (`{text}`): {error}")]
    BadMove { number: usize, text: String, error: Box<Error> },

    /// A game record that cannot be read.
    #[error("bad game record: {0}")]
    BadRecord(String),

    /// A game program (`proc`) that failed to start or answered nonsense: what went wrong.
    #[error("{0}")]
    GameProgram(String),

    /// A request the game does not support (for example text input to a board game).
    #[error("not supported: {0}")]
    NotSupported(String),
}

/// Result type of the `games` crate.
pub type Result<T> = std::result::Result<T, Error>;
