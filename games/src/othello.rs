//! Othello (Reversi) on bitboards: 8×8, black (player 0) first, forced passes are a ply.
//!
//! Layout: bit `row * 8 + column`, with a1 the top-left corner (row 0, column 0) and rows
//! numbered 1..8 downwards. A move is the cell index; [`PASS`] is the forced pass. Moves and flips
//! come from shifting whole bitboards one step in each of the 8 directions, masking the column
//! that a horizontal or diagonal shift would wrap into.

use arrayvec::ArrayVec;

use crate::board::{Outcome, board_game_facts, cell_name, fill_planes, parse_cell, unknown_action};
use crate::error::{Error, Result};
use crate::game::{Action, Game, GameFacts, Player, State, Turn};
use crate::params::Params;
use crate::record::Move;
use crate::registry::{GameRegistration, shared};
use crate::spec::Spec;

pub const REGISTRATION: GameRegistration = GameRegistration {
    name: "othello",
    summary: "8x8 Othello (Reversi): bracket lines of opponent discs to flip them; black first; cells a1..h8 (a1 top-left), `pass` when forced",
    params: &[],
    create: |_: &Params| Ok(shared(Othello::new())),
};

/// The side of the board.
const SIZE: usize = 8;
/// Cells on the board.
const CELLS: usize = SIZE * SIZE;
/// The forced pass: the only legal action when the player to move has no disc move.
pub const PASS: Action = CELLS as Action;

/// At most 60 disc moves (one per empty cell at the start). A pass is legal only when the opponent
/// can move, so every pass is followed by a disc move: passes ≤ disc moves, and a game has at most
/// 120 plies.
const MAX_GAME_LENGTH: usize = 2 * (CELLS - 4);

/// Every cell except column a: where a shift towards higher columns would wrap in from column h.
const NOT_COLUMN_A: u64 = 0xfefe_fefe_fefe_fefe;
/// Every cell except column h: where a shift towards lower columns would wrap in from column a.
const NOT_COLUMN_H: u64 = 0x7f7f_7f7f_7f7f_7f7f;

/// The 8 directions as (bit step, mask of cells a shifted disc may land on).
const DIRECTIONS: [(i32, u64); 8] = [
    (1, NOT_COLUMN_A),  // right
    (-1, NOT_COLUMN_H), // left
    (8, u64::MAX),      // down
    (-8, u64::MAX),     // up
    (9, NOT_COLUMN_A),  // down-right
    (7, NOT_COLUMN_H),  // down-left
    (-7, NOT_COLUMN_A), // up-right
    (-9, NOT_COLUMN_H), // up-left
];

/// Moves every disc one step in a direction; discs that would leave the board are dropped.
#[inline(always)]
fn shift(bits: u64, (step, mask): (i32, u64)) -> u64 {
    if step > 0 { (bits << step) & mask } else { (bits >> -step) & mask }
}

/// Opponent discs reachable from `from` in one direction through an unbroken run of `opponent`.
/// A run holds at most 6 discs, since it needs a cell at each end.
#[inline(always)]
fn opponent_run(from: u64, opponent: u64, direction: (i32, u64)) -> u64 {
    let mut run = shift(from, direction) & opponent;
    for _ in 0..5 {
        run |= shift(run, direction) & opponent;
    }
    run
}

/// The empty cells where `mover` may place a disc: those that bracket a run of `opponent` discs.
fn legal_moves(mover: u64, opponent: u64) -> u64 {
    let empty = !(mover | opponent);
    let mut moves = 0;
    for direction in DIRECTIONS {
        moves |= shift(opponent_run(mover, opponent, direction), direction) & empty;
    }
    moves
}

/// The opponent discs that a disc placed on `placed` flips.
fn flips(mover: u64, opponent: u64, placed: u64) -> u64 {
    let mut flipped = 0;
    for direction in DIRECTIONS {
        let run = opponent_run(placed, opponent, direction);
        if shift(run, direction) & mover != 0 {
            flipped |= run;
        }
    }
    flipped
}

/// The rules of Othello.
#[derive(Debug)]
pub struct Othello {
    facts: GameFacts,
}

impl Othello {
    pub fn new() -> Self {
        Othello { facts: board_game_facts("othello", CELLS + 1, MAX_GAME_LENGTH, vec![3, SIZE, SIZE]) }
    }
}

impl Default for Othello {
    fn default() -> Self {
        Self::new()
    }
}

impl Game for Othello {
    fn facts(&self) -> &GameFacts {
        &self.facts
    }
    fn spec(&self) -> Spec {
        Spec::new("othello")
    }
    fn new_initial_state(&self) -> Box<dyn State> {
        Box::new(OthelloState::new())
    }
    /// The start (white d4 e5, black d5 e4) is kept by the half turn and both diagonal reflections.
    fn symmetries(&self) -> Vec<crate::game::Symmetry> {
        crate::board::square_symmetries(SIZE, 1, &["rotate180", "transpose", "antitranspose"])
    }
}

/// The players' names in text, black (player 0) first.
const NAMES: [&str; 2] = ["black (x)", "white (o)"];

/// An Othello position.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OthelloState {
    /// Discs of each player: black (0), white (1).
    discs: [u64; 2],
    /// Disc moves of the player to move; cached because `apply` computes them to detect the end.
    moves: u64,
    /// Cells played and [`PASS`]es; a pass is a ply, so its length's parity gives the player to move.
    history: ArrayVec<u8, 128>,
    outcome: Outcome,
}

impl Default for OthelloState {
    fn default() -> Self {
        Self::new()
    }
}

impl OthelloState {
    /// The standard start: white on d4 and e5, black on d5 and e4.
    pub fn new() -> Self {
        // Rows and columns count from 0 here: d4 is (3, 3), e5 is (4, 4).
        let bit = |row: usize, column: usize| 1u64 << (row * SIZE + column);
        let black = bit(4, 3) | bit(3, 4);
        let white = bit(3, 3) | bit(4, 4);
        OthelloState {
            discs: [black, white],
            moves: legal_moves(black, white),
            history: ArrayVec::new(),
            outcome: Outcome::Ongoing,
        }
    }

    fn to_move(&self) -> Player {
        self.history.len() & 1
    }

    fn owner(&self, cell: usize) -> Option<Player> {
        (0..2).find(|&p| self.discs[p] >> cell & 1 == 1)
    }

    fn disc_counts(&self) -> [u32; 2] {
        [self.discs[0].count_ones(), self.discs[1].count_ones()]
    }

    /// The player to move must pass: no disc move, but the game goes on.
    fn must_pass(&self) -> bool {
        self.outcome == Outcome::Ongoing && self.moves == 0
    }
}

impl State for OthelloState {
    fn turn(&self) -> Turn {
        self.outcome.turn(self.to_move())
    }

    fn legal_actions(&self, out: &mut Vec<Action>) {
        out.clear();
        if self.outcome != Outcome::Ongoing {
            return;
        }
        if self.moves == 0 {
            out.push(PASS);
            return;
        }
        let mut remaining = self.moves;
        while remaining != 0 {
            out.push(remaining.trailing_zeros());
            remaining &= remaining - 1;
        }
    }

    fn is_legal(&self, action: Action) -> bool {
        match action {
            PASS => self.must_pass(),
            cell if cell < PASS => self.outcome == Outcome::Ongoing && self.moves >> cell & 1 == 1,
            _ => false,
        }
    }

    fn apply_unchecked(&mut self, action: Action) {
        let player = self.to_move();
        if action != PASS {
            // The remainder keeps an out-of-range id (unspecified behaviour) from overflowing the shift.
            let placed = 1u64 << (action % PASS);
            let flipped = flips(self.discs[player], self.discs[1 - player], placed);
            self.discs[player] |= placed | flipped;
            self.discs[1 - player] &= !flipped;
        }
        self.history.push(action as u8);
        let (next, other) = (self.discs[1 - player], self.discs[player]);
        self.moves = legal_moves(next, other);
        if self.moves == 0 && legal_moves(other, next) == 0 {
            let [black, white] = self.disc_counts();
            self.outcome = match black.cmp(&white) {
                std::cmp::Ordering::Greater => Outcome::Win(0),
                std::cmp::Ordering::Less => Outcome::Win(1),
                std::cmp::Ordering::Equal => Outcome::Draw,
            };
        }
    }

    fn player_return(&self, player: Player) -> f64 {
        self.outcome.return_for(player)
    }

    fn action_to_string(&self, action: Action) -> String {
        match action {
            PASS => "pass".to_string(),
            cell if cell < PASS => cell_name(cell as usize / SIZE, cell as usize % SIZE),
            _ => unknown_action(action),
        }
    }

    fn parse_action(&self, text: &str) -> Result<Action> {
        if text.trim().eq_ignore_ascii_case("pass") {
            return Ok(PASS);
        }
        match parse_cell(text, SIZE, SIZE) {
            Ok((row, column)) => Ok((row * SIZE + column) as Action),
            Err(Error::ParseAction { text, reason }) => {
                Err(Error::ParseAction { text, reason: format!("{reason}; or `pass` when no disc move is legal") })
            }
            Err(other) => Err(other),
        }
    }

    fn observation_string(&self, player: Player) -> String {
        let [black, white] = self.disc_counts();
        let status = match self.outcome {
            Outcome::Ongoing if self.moves == 0 => {
                format!("{} has no legal move and must pass.", capitalized(NAMES[self.to_move()]))
            }
            Outcome::Ongoing => format!("{} to move.", capitalized(NAMES[self.to_move()])),
            other => format!("Game over: {} ({black}-{white}).", other.describe(NAMES)),
        };
        format!(
            "Othello. You play {}.\n{}Discs: black (x) {black}, white (o) {white}.\n{status}",
            NAMES[player],
            self.render()
        )
    }

    fn observation_tensor(&self, player: Player, out: &mut [f32]) {
        fill_planes(out, CELLS, |cell| self.owner(cell), player);
    }

    fn history(&self) -> Vec<Move> {
        self.history.iter().map(|&a| Move::Action(a as Action)).collect()
    }

    fn render(&self) -> String {
        let mut s = String::from("  a b c d e f g h\n");
        for row in 0..SIZE {
            s.push_str(&(row + 1).to_string());
            for column in 0..SIZE {
                s.push(' ');
                s.push(match self.owner(row * SIZE + column) {
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
        Some(crate::Board::from_owners(SIZE, SIZE, crate::BoardLayout::Square, ["black", "white"], |row, column| {
            self.owner(row * SIZE + column)
        }))
    }

    fn clone_box(&self) -> Box<dyn State> {
        Box::new(self.clone())
    }
}

/// `black (x)` → `Black (x)`, for the start of a sentence.
fn capitalized(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}
