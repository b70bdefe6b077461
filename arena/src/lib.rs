//! The Arena engine: the work behind each `arena` command, kept out of the binary so it is testable.

pub mod cmd_checkpoint;
pub mod cmd_evolve;
pub mod cmd_export;
pub mod cmd_games;
pub mod cmd_llm;
pub mod cmd_ratings;
pub mod cmd_tournament;
pub mod dataset;
pub mod evolve;
pub mod export;
pub mod files;
pub mod judging;
pub mod lineage;
pub mod openings;
pub mod results;
pub mod runner;
pub mod schedule;
pub mod seeds;
pub mod store;
pub mod tally;
pub mod text_filter;
pub mod tournament;
pub mod train;

/// The canonical spec of a config's game (what records and reports show).
pub fn tournament_game_spec(config: &tournament::TournamentConfig) -> anyhow::Result<String> {
    Ok(games::load_game(&config.game)?.spec().to_string())
}
