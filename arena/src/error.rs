//! The engine's errors: one enum whose variants keep the failing crate's error as their source and
//! name the file or item concerned, so `error: store runs/x/arena.db: …: …` reads as a chain.

use std::fmt;
use std::path::{Path, PathBuf};

/// Every way the engine can fail.
///
/// `{}` shows one link of the chain (the convention `anyhow` and the binary rely on); `{:#}`
/// shows the whole chain, `context: cause: cause`. [`Error::Context`] adds what was being done,
/// keeping the inner error as its source.
#[derive(Debug)]
pub enum Error {
    /// A game spec, a move list or the rules.
    Game(games::Error),
    /// An agent spec or a model an agent needs.
    Agent(agents::Error),
    Checkpoint(agents::checkpoint::CheckpointError),
    Network(agents::network::NetworkError),
    LanguageModel(agents::llm::LlmError),
    Ratings(ratings::Error),
    /// A match that could not be played (a bad opening, a bug in a game's rules).
    Match(crate::engine::runner::MatchError),
    /// Reading or writing a file or folder.
    Io {
        /// What was being done: `cannot read`, `cannot write`, ...
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// The SQLite store.
    Store {
        path: PathBuf,
        source: rusqlite::Error,
    },
    Sql(rusqlite::Error),
    /// The PostgreSQL store.
    Postgres(postgres::Error),
    Json(serde_json::Error),
    Toml(toml::de::Error),
    Tensor(candle_core::Error),
    Safetensors(safetensors::SafeTensorError),
    /// Bad input or a request that cannot be met: the message names the input and the problem.
    Invalid(String),
    /// What was being done when `source` failed.
    Context {
        context: String,
        source: Box<Error>,
    },
}

impl Error {
    /// The error this one wraps or was caused by, as `std::error::Error::source` gives it (the
    /// wrapped errors of other crates show through: their message is this link's).
    fn wrapped(&self) -> Option<&(dyn std::error::Error + 'static)> {
        use std::error::Error as _;
        match self {
            Error::Game(e) => e.source(),
            Error::Agent(e) => e.source(),
            Error::Checkpoint(e) => e.source(),
            Error::Network(e) => e.source(),
            Error::LanguageModel(e) => e.source(),
            Error::Ratings(e) => e.source(),
            Error::Match(e) => e.source(),
            Error::Io { source, .. } => Some(source),
            Error::Store { source, .. } => Some(source),
            Error::Sql(e) => e.source(),
            Error::Postgres(e) => e.source(),
            Error::Json(e) => e.source(),
            Error::Toml(e) => e.source(),
            Error::Tensor(e) => e.source(),
            Error::Safetensors(e) => e.source(),
            Error::Invalid(_) => None,
            Error::Context { source, .. } => Some(source.as_ref()),
        }
    }

    /// This link's message alone.
    fn link(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Game(e) => write!(f, "{e}"),
            Error::Agent(e) => write!(f, "{e}"),
            Error::Checkpoint(e) => write!(f, "{e}"),
            Error::Network(e) => write!(f, "{e}"),
            Error::LanguageModel(e) => write!(f, "{e}"),
            Error::Ratings(e) => write!(f, "{e}"),
            Error::Match(e) => write!(f, "{e}"),
            Error::Io { action, path, .. } => write!(f, "{action} {}", path.display()),
            Error::Store { path, .. } => write!(f, "store {}", path.display()),
            Error::Sql(e) => write!(f, "{e}"),
            Error::Postgres(e) => write!(f, "{e}"),
            Error::Json(e) => write!(f, "{e}"),
            Error::Toml(e) => write!(f, "{e}"),
            Error::Tensor(e) => write!(f, "{e}"),
            Error::Safetensors(e) => write!(f, "{e}"),
            Error::Invalid(message) => f.write_str(message),
            Error::Context { context, .. } => f.write_str(context),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.link(f)?;
        if f.alternate() {
            let mut next = self.wrapped();
            while let Some(source) = next {
                write!(f, ": {source}")?;
                next = source.source();
            }
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.wrapped()
    }
}

/// `?` converts the errors of the crates below into the matching variant.
macro_rules! from_errors {
    ($($variant:ident($source:ty)),* $(,)?) => {
        $(impl From<$source> for Error {
            fn from(error: $source) -> Self {
                Error::$variant(error)
            }
        })*
    };
}

from_errors!(
    Game(games::Error),
    Agent(agents::Error),
    Checkpoint(agents::checkpoint::CheckpointError),
    Network(agents::network::NetworkError),
    LanguageModel(agents::llm::LlmError),
    Ratings(ratings::Error),
    Match(crate::engine::runner::MatchError),
    Sql(rusqlite::Error),
    Postgres(postgres::Error),
    Json(serde_json::Error),
    Toml(toml::de::Error),
    Tensor(candle_core::Error),
    Safetensors(safetensors::SafeTensorError),
);

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An I/O error on `path`.
    pub fn io(action: &'static str, path: &Path, source: std::io::Error) -> Self {
        Error::Io { action, path: path.to_path_buf(), source }
    }
}

/// Adds what was being done to an error, keeping the error as the source (like `anyhow`'s
/// `Context`, for the crate's own enum).
pub trait Context<T> {
    fn context(self, context: impl Into<String>) -> Result<T>;
    fn with_context<C: Into<String>>(self, context: impl FnOnce() -> C) -> Result<T>;
}

impl<T, E: Into<Error>> Context<T> for std::result::Result<T, E> {
    fn context(self, context: impl Into<String>) -> Result<T> {
        self.map_err(|e| Error::Context { context: context.into(), source: Box::new(e.into()) })
    }

    fn with_context<C: Into<String>>(self, context: impl FnOnce() -> C) -> Result<T> {
        self.map_err(|e| Error::Context { context: context().into(), source: Box::new(e.into()) })
    }
}

impl<T> Context<T> for Option<T> {
    fn context(self, context: impl Into<String>) -> Result<T> {
        self.ok_or_else(|| Error::Invalid(context.into()))
    }

    fn with_context<C: Into<String>>(self, context: impl FnOnce() -> C) -> Result<T> {
        self.ok_or_else(|| Error::Invalid(context().into()))
    }
}

/// Returns early with [`Error::Invalid`] and a formatted message.
macro_rules! bail {
    ($($message:tt)*) => {
        return Err($crate::error::Error::Invalid(format!($($message)*)))
    };
}
pub(crate) use bail;

/// Reads a text file; the error names it.
pub fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::io("cannot read", path, e))
}

impl From<agents::context::ContextError> for Error {
    /// A context file that cannot be used: its message names the file and the field.
    fn from(e: agents::context::ContextError) -> Self {
        Error::Invalid(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_keeps_the_source_chain() {
        let inner: Result<()> = Err(Error::Invalid("the inner problem".into()));
        let Err(outer) = inner.context("loading the thing") else { panic!("an error stays an error") };
        assert_eq!(outer.to_string(), "loading the thing");
        assert_eq!(format!("{outer:#}"), "loading the thing: the inner problem");
        let source = std::error::Error::source(&outer).map(|s| s.to_string());
        assert_eq!(source.as_deref(), Some("the inner problem"));
    }
}
