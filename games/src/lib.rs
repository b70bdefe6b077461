//! Game rules for Arena: the `Game`/`State` API, a registry of games by name with parameters,
//! text and tensor observations, replayable records, perft, and a conformance kit every game passes.
//!
//! ```
//! let game = games::load_game("connect_four(rows=6,columns=7)")?;
//! let mut state = game.new_initial_state();
//! games::apply_move_list(state.as_mut(), "4 4 5")?;
//! assert_eq!(state.current_player(), Some(1));
//! # Ok::<(), games::Error>(())
//! ```

mod board;
pub mod conformance;
pub mod connect_four;
pub mod debate;
pub mod deduction;
mod error;
mod game;
pub mod hex;
pub mod kuhn_poker;
pub mod negotiation;
pub mod othello;
mod params;
pub mod perft;
pub mod playout;
pub mod process;
pub mod quiz;
mod record;
mod registry;
pub mod solver;
mod spec;
pub mod tic_tac_toe;

pub use error::{Error, Result};
pub use game::{
    Action, Board, BoardLayout, Game, GameFacts, GameRef, Information, InputKind, Player, State, Symmetry, Turn,
    Utility, record_of, returns,
};
pub use params::{ParamDef, ParamKind, ParamValue, Params};
pub use record::{GameRecord, Move, apply_move_list};
pub use registry::{BUILTIN, GameRegistration, Registry, load_game, shared};
pub use spec::Spec;
