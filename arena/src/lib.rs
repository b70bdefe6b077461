//! The Arena engine: the work behind each `arena` command, kept out of the binary so it is testable.

pub mod cmd_games;
pub mod cmd_ratings;
pub mod results;
pub mod runner;
pub mod schedule;
pub mod seeds;
