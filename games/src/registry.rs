//! The registry: games by name with parameters, `load_game("connect_four(rows=6,columns=7)")`.
//!
//! Adding a game is one file (a module with a `REGISTRATION`) and one line in [`BUILTIN`].

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::game::GameRef;
use crate::params::{ParamDef, Params};
use crate::spec::Spec;
use crate::{connect_four, debate, deduction, hex, kuhn_poker, negotiation, othello, process, quiz, tic_tac_toe};

/// How a game is found and built by name.
#[derive(Clone, Copy, Debug)]
pub struct GameRegistration {
    pub name: &'static str,
    /// One line saying what the game is.
    pub summary: &'static str,
    pub params: &'static [ParamDef],
    /// Builds the game from validated parameters; may reject combinations of them.
    pub create: fn(&Params) -> Result<GameRef>,
}

/// The games that come with the crate.
pub const BUILTIN: &[GameRegistration] = &[
    tic_tac_toe::REGISTRATION,
    connect_four::REGISTRATION,
    othello::REGISTRATION,
    hex::REGISTRATION,
    kuhn_poker::REGISTRATION,
    debate::REGISTRATION,
    quiz::REGISTRATION,
    deduction::REGISTRATION,
    negotiation::REGISTRATION,
    process::REGISTRATION,
];

/// A set of games by name: the built-in ones plus any a program registers.
#[derive(Clone, Debug)]
pub struct Registry {
    games: Vec<GameRegistration>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry { games: BUILTIN.to_vec() }
    }
}

impl Registry {
    /// Adds a game; a later registration of the same name replaces the earlier one.
    pub fn register(&mut self, registration: GameRegistration) {
        self.games.retain(|g| g.name != registration.name);
        self.games.push(registration);
    }

    /// Every registration, in registration order.
    pub fn games(&self) -> &[GameRegistration] {
        &self.games
    }

    /// Finds a registration by name; the error lists the known names.
    pub fn find(&self, name: &str) -> Result<&GameRegistration> {
        self.games.iter().find(|g| g.name == name).ok_or_else(|| Error::UnknownGame {
            name: name.to_string(),
            known: self.games.iter().map(|g| g.name).collect::<Vec<_>>().join(", "),
        })
    }

    /// Builds a game from a spec string.
    pub fn load(&self, spec: &str) -> Result<GameRef> {
        let spec = Spec::parse(spec)?;
        let registration = self.find(&spec.name)?;
        // A game process takes any parameters: its program checks them.
        if registration.name == process::PROC {
            return process::load(&spec);
        }
        let params = Params::from_spec(&format!("game `{}`", registration.name), registration.params, &spec)?;
        (registration.create)(&params)
    }
}

/// Builds a built-in game from a spec string such as `hex(size=9,swap=true)`.
pub fn load_game(spec: &str) -> Result<GameRef> {
    Registry::default().load(spec)
}

/// Wraps a game value for the registry's `create` functions.
pub fn shared<G: crate::game::Game + 'static>(game: G) -> GameRef {
    Arc::new(game)
}
