//! The conformance kit fails on broken games: each fault planted in a wrapper is reported by name.

mod common;

use games::conformance::{Config, check};
use games::{Action, Game, GameFacts, Move, Player, Result, Spec, State, Turn};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Fault {
    None,
    MaxLengthTooShort,
    TextDoesNotRoundTrip,
    AcceptsOccupiedCells,
    TensorLeftUnwritten,
    /// Declares a mirror that moves the observation's cells but not the actions.
    SymmetryMissesActions,
    /// Declares a symmetry whose action table is one short.
    SymmetryTooShort,
}

#[derive(Debug)]
struct Faulty {
    inner: games::GameRef,
    facts: GameFacts,
    fault: Fault,
}

impl Faulty {
    fn new(fault: Fault) -> Self {
        let inner = common::game("tic_tac_toe");
        let mut facts = inner.facts().clone();
        if fault == Fault::MaxLengthTooShort {
            facts.max_game_length = 6;
        }
        Faulty { inner, facts, fault }
    }
}

impl Game for Faulty {
    fn facts(&self) -> &GameFacts {
        &self.facts
    }
    fn spec(&self) -> Spec {
        self.inner.spec()
    }
    fn new_initial_state(&self) -> Box<dyn State> {
        Box::new(FaultyState { inner: self.inner.new_initial_state(), fault: self.fault })
    }
    fn symmetries(&self) -> Vec<games::Symmetry> {
        let mut symmetries = self.inner.symmetries();
        match self.fault {
            Fault::SymmetryMissesActions => {
                symmetries.push(games::Symmetry::of_grid("bad mirror", [3, 3, 3], |r, c| (r, 2 - c), 9, |a| a))
            }
            Fault::SymmetryTooShort => symmetries[0].actions.pop().map(drop).unwrap_or(()),
            _ => {}
        }
        symmetries
    }
}

#[derive(Clone, Debug)]
struct FaultyState {
    inner: Box<dyn State>,
    fault: Fault,
}

impl State for FaultyState {
    fn turn(&self) -> Turn {
        self.inner.turn()
    }
    fn legal_actions(&self, out: &mut Vec<Action>) {
        self.inner.legal_actions(out)
    }
    fn is_legal(&self, action: Action) -> bool {
        match self.fault {
            Fault::AcceptsOccupiedCells => action < 9 && !self.inner.is_terminal(),
            _ => self.inner.is_legal(action),
        }
    }
    fn apply_unchecked(&mut self, action: Action) {
        self.inner.apply_unchecked(action)
    }
    fn player_return(&self, player: Player) -> f64 {
        self.inner.player_return(player)
    }
    fn action_to_string(&self, action: Action) -> String {
        match self.fault {
            Fault::TextDoesNotRoundTrip => format!("cell {action}"),
            _ => self.inner.action_to_string(action),
        }
    }
    fn parse_action(&self, text: &str) -> Result<Action> {
        self.inner.parse_action(text)
    }
    fn observation_string(&self, player: Player) -> String {
        self.inner.observation_string(player)
    }
    fn observation_tensor(&self, player: Player, out: &mut [f32]) {
        self.inner.observation_tensor(player, out);
        if self.fault == Fault::TensorLeftUnwritten {
            out[0] = f32::NAN;
        }
    }
    fn history(&self) -> Vec<Move> {
        self.inner.history()
    }
    fn render(&self) -> String {
        self.inner.render()
    }
    fn clone_box(&self) -> Box<dyn State> {
        Box::new(self.clone())
    }
}

#[test]
fn conformance_kit_reports_each_planted_fault_by_rule() {
    let config = Config { playouts: 200, seed: 1 };
    assert!(check(&Faulty::new(Fault::None), &config).is_ok(), "the faultless wrapper passes");
    for (fault, rule) in [
        (Fault::MaxLengthTooShort, "max_game_length"),
        (Fault::TextDoesNotRoundTrip, "action_text_round_trips"),
        (Fault::AcceptsOccupiedCells, "is_legal_matches_legal_actions"),
        (Fault::TensorLeftUnwritten, "observation_tensor_filled"),
        (Fault::SymmetryMissesActions, "symmetry_keeps_observations"),
        (Fault::SymmetryTooShort, "symmetry_shapes"),
    ] {
        match check(&Faulty::new(fault), &config) {
            Ok(report) => panic!("{fault:?} went unnoticed: {report:?}"),
            Err(violation) => assert_eq!(violation.rule, rule, "{fault:?}: {violation}"),
        }
    }
}
