//! Ratings from game results: Elo family, Bradley–Terry with confidence intervals, SPRT. Pure math, no I/O.
//!
//! Players are dense indices `0..n`; the caller keeps their names (a [`Roster`] does that).
//! Results go in as [`GameResult`]s, are pooled into [`PairCounts`], and every order-independent
//! method (Bradley–Terry, its bootstrap) works on those counts, so the same records give the same
//! ratings bit for bit whatever the order in which the games finished.
//!
//! | module | what |
//! |---|---|
//! | [`game`], [`roster`], [`pair_counts`] | results, names, aggregated counts |
//! | [`logistic`] | the Elo scale: expected score from an Elo difference and back |
//! | [`sequential`] | Elo, Glicko-2, TrueSkill, Weng-Lin applied in game order (through `skillratings`) |
//! | [`bradley_terry`] | maximum likelihood over all results at once, draws as half wins or Davidson |
//! | [`fisher`] | standard errors from the inverse Hessian, respecting the anchors |
//! | [`bootstrap`] | seeded, thread-count-independent bootstrap confidence intervals |
//! | [`los`], [`rank`] | likelihood of superiority, rank intervals |
//! | [`paired`] | trinomial and pentanomial match statistics (score, Elo ± error, LOS) |
//! | [`proportion`] | a share of successes with its Wilson interval |
//! | [`sprt`] | generalized SPRT over trinomial and pentanomial counts |

pub mod bootstrap;
pub mod bradley_terry;
mod error;
pub mod fisher;
pub mod game;
mod identifiability;
mod linalg;
pub mod logistic;
pub mod los;
pub mod normal;
pub mod pair_counts;
pub mod paired;
pub mod proportion;
pub mod rank;
pub mod roster;
pub mod sequential;
pub mod sprt;

pub use error::{Error, PlayerList, Result};
pub use game::GameResult;
pub use pair_counts::PairCounts;
pub use roster::Roster;
