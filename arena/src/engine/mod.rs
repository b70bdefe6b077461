//! The match engine: one match ([`runner`]), who meets whom ([`schedule`]), where games start
//! ([`openings`]), seeds ([`seeds`]), sums of results ([`tally`]), sequential tests over them
//! ([`sprt`]), and tournaments played in parallel and stored as they go ([`tournament`]).

pub mod openings;
pub mod runner;
pub mod schedule;
pub mod seeds;
pub mod sprt;
pub mod tally;
pub mod tournament;
