//! Tic-tac-toe: 3×3, X (player 0) first, three in a line wins.

use arrayvec::ArrayVec;

use crate::board::{Outcome, board_game_facts, cell_name, fill_planes, parse_cell, unknown_action};
use crate::error::{Error, Result};
use crate::game::{Action, Game, GameFacts, Player, State, Turn};
use crate::params::Params;
use crate::record::Move;
use crate::registry::{GameRegistration, shared};
use crate::spec::Spec;

pub const REGISTRATION: GameRegistration = GameRegistration {
    name: "tic_tac_toe",
    summary: "3x3 noughts and crosses; X moves first; cells a1..c3 (a1 top-left) or 1..9 in reading order",
    params: &[],
    create: |_: &Params| Ok(shared(TicTacToe::new())),
};

const LINES: [u16; 8] = [0o007, 0o070, 0o700, 0o111, 0o222, 0o444, 0o421, 0o124];

/// The rules of tic-tac-toe.
#[derive(Debug)]
pub struct TicTacToe {
    facts: GameFacts,
}

impl TicTacToe {
    pub fn new() -> Self {
        TicTacToe { facts: board_game_facts("tic_tac_toe", 9, 9, vec![3, 3, 3]) }
    }
}

impl Default for TicTacToe {
    fn default() -> Self {
        Self::new()
    }
}

impl Game for TicTacToe {
    fn facts(&self) -> &GameFacts {
        &self.facts
    }
    fn spec(&self) -> Spec {
        Spec::new("tic_tac_toe")
    }
    fn new_initial_state(&self) -> Box<dyn State> {
        Box::new(TicTacToeState::default())
    }
    fn symmetries(&self) -> Vec<crate::game::Symmetry> {
        crate::board::square_symmetries(
            3,
            0,
            &["rotate90", "rotate180", "rotate270", "mirror", "flip", "transpose", "antitranspose"],
        )
    }
}

/// A tic-tac-toe position: one bitmask of cells per player (bit = row * 3 + column).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct TicTacToeState {
    marks: [u16; 2],
    history: ArrayVec<u8, 9>,
    outcome: Outcome,
}

impl TicTacToeState {
    fn to_move(&self) -> Player {
        self.history.len() % 2
    }
    fn owner(&self, cell: usize) -> Option<Player> {
        (0..2).find(|&p| self.marks[p] >> cell & 1 == 1)
    }
}

impl State for TicTacToeState {
    fn turn(&self) -> Turn {
        self.outcome.turn(self.to_move())
    }

    fn legal_actions(&self, out: &mut Vec<Action>) {
        out.clear();
        if self.outcome != Outcome::Ongoing {
            return;
        }
        let occupied = self.marks[0] | self.marks[1];
        out.extend((0..9).filter(|c| occupied >> c & 1 == 0));
    }

    fn is_legal(&self, action: Action) -> bool {
        self.outcome == Outcome::Ongoing && action < 9 && (self.marks[0] | self.marks[1]) >> action & 1 == 0
    }

    fn apply_unchecked(&mut self, action: Action) {
        let player = self.to_move();
        self.marks[player] |= 1 << action;
        self.history.push(action as u8);
        let mine = self.marks[player];
        #[allow(clippy::manual_contains)] // a false positive: this asks whether `mine` covers a line
        if LINES.iter().any(|&line| mine & line == line) {
            self.outcome = Outcome::Win(player);
        } else if self.history.len() == 9 {
            self.outcome = Outcome::Draw;
        }
    }

    fn player_return(&self, player: Player) -> f64 {
        self.outcome.return_for(player)
    }

    fn action_to_string(&self, action: Action) -> String {
        if action >= 9 {
            return unknown_action(action);
        }
        let cell = action as usize;
        cell_name(cell / 3, cell % 3)
    }

    fn parse_action(&self, text: &str) -> Result<Action> {
        let trimmed = text.trim();
        if let Ok(n) = trimmed.parse::<u32>() {
            return match n {
                1..=9 => Ok(n - 1),
                _ => Err(Error::ParseAction {
                    text: text.to_string(),
                    reason: "cell numbers are 1..9 in reading order".to_string(),
                }),
            };
        }
        let (row, column) = parse_cell(trimmed, 3, 3)?;
        Ok((row * 3 + column) as Action)
    }

    fn observation_string(&self, player: Player) -> String {
        let you = ["X", "O"][player];
        let status = match self.outcome {
            Outcome::Ongoing => format!("{} to move.", ["X", "O"][self.to_move()]),
            other => format!("Game over: {}.", other.describe(["X", "O"])),
        };
        format!("Tic-tac-toe. You play {you}.\n{}{status}", self.render())
    }

    fn observation_tensor(&self, player: Player, out: &mut [f32]) {
        fill_planes(out, 9, |c| self.owner(c), player);
    }

    fn history(&self) -> Vec<Move> {
        self.history.iter().map(|&a| Move::Action(a as Action)).collect()
    }

    fn render(&self) -> String {
        let mut s = String::from("  a b c\n");
        for row in 0..3 {
            s.push_str(&format!("{}", row + 1));
            for column in 0..3 {
                s.push(' ');
                s.push(match self.owner(row * 3 + column) {
                    Some(0) => 'x',
                    Some(_) => 'o',
                    None => '.',
                });
            }
            s.push('\n');
        }
        s
    }

    fn board(&self) -> Option<crate::Board> {
        Some(crate::Board::from_owners(3, 3, crate::BoardLayout::Square, ["x", "o"], |row, column| {
            self.owner(row * 3 + column)
        }))
    }

    fn clone_box(&self) -> Box<dyn State> {
        Box::new(self.clone())
    }
}
