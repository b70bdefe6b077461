//! The Arena engine as a library: matches, schedules and tournaments ([`engine`]), the store
//! (SQLite, or PostgreSQL shared by workers: [`store`]), Bradley–Terry standings with intervals
//! ([`standings`]), the self-evolution
//! loop ([`evolve`]), training on self-play ([`training`]) and text data from language-model
//! matches ([`text_data`]). The `arena` binary (`src/main.rs` and `src/cli/`) parses flags and
//! prints; everything it does goes through these typed functions, which a program of its own can
//! call with its own games registered in [`Resources`].

pub mod engine;
pub mod error;
pub mod evolve;
pub mod files;
pub mod progress;
pub mod report;
pub mod resources;
pub mod serve;
pub mod serve_model;
pub mod standings;
pub mod store;
pub mod suite;
pub mod text_data;
pub mod training;

pub use error::{Error, Result};
pub use progress::{Progress, Silent};
pub use resources::Resources;
