//! Connect four on bitboards, with rows, columns and the connect length as parameters.
//!
//! Layout (Pons): column-major, each column has `rows + 1` bits (a sentinel bit on top), so
//! shifting by the stride moves one column and no line wraps around the board.

use arrayvec::ArrayVec;

use crate::board::{Outcome, board_game_facts, fill_planes, unknown_action};
use crate::error::{Error, Result};
use crate::game::{Action, Game, GameFacts, Player, State, Turn};
use crate::params::{ParamDef, ParamKind, Params};
use crate::record::Move;
use crate::registry::{GameRegistration, shared};
use crate::spec::Spec;

pub const REGISTRATION: GameRegistration = GameRegistration {
    name: "connect_four",
    summary: "drop discs into columns; connect a line of `connect` to win; columns 1..N (or a, b, ...)",
    params: &[
        ParamDef { name: "rows", kind: ParamKind::Int { min: 2, max: 16 }, default: "6", doc: "rows of the board" },
        ParamDef {
            name: "columns",
            kind: ParamKind::Int { min: 2, max: 16 },
            default: "7",
            doc: "columns of the board",
        },
        ParamDef {
            name: "connect",
            kind: ParamKind::Int { min: 2, max: 16 },
            default: "4",
            doc: "discs in a line to win",
        },
    ],
    create: |params: &Params| Ok(shared(ConnectFour::new(params)?)),
};

/// The rules of connect four for one board size.
#[derive(Debug)]
pub struct ConnectFour {
    facts: GameFacts,
    geometry: Geometry,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Geometry {
    rows: u8,
    columns: u8,
    connect: u8,
    /// The top cell of every column (a column is full when its top cell is taken).
    top_row: u64,
}

impl Geometry {
    fn stride(self) -> u32 {
        self.rows as u32 + 1
    }
    fn top_bit(self, column: u32) -> u64 {
        1 << (column * self.stride() + self.rows as u32 - 1)
    }
    fn bottom_bit(self, column: u32) -> u64 {
        1 << (column * self.stride())
    }
    fn column_mask(self, column: u32) -> u64 {
        ((1u64 << self.rows) - 1) << (column * self.stride())
    }
    fn bit(self, row: usize, column: usize) -> u64 {
        1 << (column as u32 * self.stride() + row as u32)
    }
    fn cells(self) -> usize {
        self.rows as usize * self.columns as usize
    }
}

impl ConnectFour {
    fn new(params: &Params) -> Result<Self> {
        let (rows, columns, connect) = (params.int("rows"), params.int("columns"), params.int("connect"));
        if (rows + 1) * columns > 64 {
            return Err(Error::BadParameter {
                owner: "game `connect_four`".to_string(),
                param: "rows".to_string(),
                value: rows.to_string(),
                reason: format!(
                    "the board must fit a 64-bit bitboard: (rows + 1) * columns = {} > 64",
                    (rows + 1) * columns
                ),
            });
        }
        if connect > rows.max(columns) {
            return Err(Error::BadParameter {
                owner: "game `connect_four`".to_string(),
                param: "connect".to_string(),
                value: connect.to_string(),
                reason: format!("no line of {connect} fits a {rows}x{columns} board"),
            });
        }
        let mut geometry = Geometry { rows: rows as u8, columns: columns as u8, connect: connect as u8, top_row: 0 };
        geometry.top_row = (0..columns as u32).fold(0, |bits, column| bits | geometry.top_bit(column));
        Ok(ConnectFour {
            facts: board_game_facts(
                "connect_four",
                columns as usize,
                geometry.cells(),
                vec![3, rows as usize, columns as usize],
            ),
            geometry,
        })
    }
}

impl Game for ConnectFour {
    fn facts(&self) -> &GameFacts {
        &self.facts
    }
    fn spec(&self) -> Spec {
        let g = self.geometry;
        Spec::new("connect_four").with("rows", g.rows).with("columns", g.columns).with("connect", g.connect)
    }
    fn new_initial_state(&self) -> Box<dyn State> {
        Box::new(ConnectFourState::new(self.geometry))
    }
    /// The left-right mirror.
    fn symmetries(&self) -> Vec<crate::game::Symmetry> {
        let (rows, columns) = (self.geometry.rows as usize, self.geometry.columns as usize);
        let last = columns as Action - 1;
        vec![crate::game::Symmetry::of_grid(
            "mirror",
            [3, rows, columns],
            |r, c| (r, columns - 1 - c),
            columns,
            |a| last - a,
        )]
    }
}

/// A connect four position.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ConnectFourState {
    geometry: Geometry,
    /// Discs of each player.
    discs: [u64; 2],
    history: ArrayVec<u8, 64>,
    outcome: Outcome,
}

impl ConnectFourState {
    fn new(geometry: Geometry) -> Self {
        ConnectFourState { geometry, discs: [0; 2], history: ArrayVec::new(), outcome: Outcome::Ongoing }
    }

    fn to_move(&self) -> Player {
        self.history.len() & 1
    }

    fn occupied(&self) -> u64 {
        self.discs[0] | self.discs[1]
    }

    fn owner(&self, row: usize, column: usize) -> Option<Player> {
        let bit = self.geometry.bit(row, column);
        (0..2).find(|&p| self.discs[p] & bit != 0)
    }

    fn has_line(&self, discs: u64) -> bool {
        let g = self.geometry;
        let stride = g.stride();
        let n = g.connect as u32;
        if n == 4 {
            // The usual length, tested first and without branches between the directions (rows
            // are at most 16, so no shift here passes the word).
            let line = |d: u32| {
                let pairs = discs & (discs >> d);
                pairs & (pairs >> (2 * d))
            };
            return line(1) | line(stride) | line(stride + 1) | line(stride - 1) != 0;
        }
        [1, stride, stride + 1, stride - 1].into_iter().any(|d| {
            let mut run = discs;
            for k in 1..n {
                // A line longer than the board is wide (or tall) shifts past 64 bits: nothing left.
                run &= discs.checked_shr(k * d).unwrap_or(0);
            }
            run != 0
        })
    }
}

impl State for ConnectFourState {
    fn turn(&self) -> Turn {
        self.outcome.turn(self.to_move())
    }

    fn legal_actions(&self, out: &mut Vec<Action>) {
        out.clear();
        if self.outcome != Outcome::Ongoing {
            return;
        }
        let occupied = self.occupied();
        let columns = self.geometry.columns as usize;
        if occupied & self.geometry.top_row == 0 {
            out.extend(0..columns as u32);
            return;
        }
        // Branch-free: every column is written and only the playable ones are kept (in random
        // play a branch per column mispredicts often enough to double this function's time).
        out.resize(columns, 0);
        let mut count = 0;
        for column in 0..columns as u32 {
            out[count] = column;
            count += usize::from(occupied & self.geometry.top_bit(column) == 0);
        }
        out.truncate(count);
    }

    fn is_legal(&self, action: Action) -> bool {
        self.outcome == Outcome::Ongoing
            && action < self.geometry.columns as u32
            && self.occupied() & self.geometry.top_bit(action) == 0
    }

    fn apply_unchecked(&mut self, action: Action) {
        let g = self.geometry;
        let player = self.to_move();
        let landing = (self.occupied() + g.bottom_bit(action)) & g.column_mask(action);
        self.discs[player] |= landing;
        self.history.push(action as u8);
        if self.has_line(self.discs[player]) {
            self.outcome = Outcome::Win(player);
        } else if self.history.len() == g.cells() {
            self.outcome = Outcome::Draw;
        }
    }

    fn player_return(&self, player: Player) -> f64 {
        self.outcome.return_for(player)
    }

    fn action_to_string(&self, action: Action) -> String {
        if action >= self.geometry.columns as u32 {
            return unknown_action(action);
        }
        (action + 1).to_string()
    }

    fn parse_action(&self, text: &str) -> Result<Action> {
        let columns = self.geometry.columns as u32;
        let trimmed = text.trim();
        let bad = || Error::ParseAction {
            text: text.to_string(),
            reason: format!("columns are 1..{columns} (or a..{})", (b'a' + columns as u8 - 1) as char),
        };
        if let Ok(n) = trimmed.parse::<u32>() {
            return if (1..=columns).contains(&n) { Ok(n - 1) } else { Err(bad()) };
        }
        let mut chars = trimmed.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) if c.is_ascii_alphabetic() => {
                let column = c.to_ascii_lowercase() as u32 - 'a' as u32;
                if column < columns { Ok(column) } else { Err(bad()) }
            }
            _ => Err(bad()),
        }
    }

    fn observation_string(&self, player: Player) -> String {
        let status = match self.outcome {
            Outcome::Ongoing => format!("{} to move.", ["x", "o"][self.to_move()]),
            other => format!("Game over: {}.", other.describe(["x", "o"])),
        };
        format!(
            "Connect four ({} in a line wins). You play {}.\n{}{status}",
            self.geometry.connect,
            ["x", "o"][player],
            self.render()
        )
    }

    fn observation_tensor(&self, player: Player, out: &mut [f32]) {
        let (rows, columns) = (self.geometry.rows as usize, self.geometry.columns as usize);
        // Tensor rows run top to bottom, as the board is drawn.
        fill_planes(out, rows * columns, |cell| self.owner(rows - 1 - cell / columns, cell % columns), player);
    }

    fn history(&self) -> Vec<Move> {
        self.history.iter().map(|&a| Move::Action(a as Action)).collect()
    }

    fn render(&self) -> String {
        let (rows, columns) = (self.geometry.rows as usize, self.geometry.columns as usize);
        let mut s = String::new();
        for row in (0..rows).rev() {
            for column in 0..columns {
                s.push(match self.owner(row, column) {
                    Some(0) => 'x',
                    Some(_) => 'o',
                    None => '.',
                });
            }
            s.push('\n');
        }
        for column in 0..columns {
            s.push_str(&((column + 1) % 10).to_string());
        }
        s.push('\n');
        s
    }

    fn board(&self) -> Option<crate::Board> {
        let (rows, columns) = (self.geometry.rows as usize, self.geometry.columns as usize);
        // Row 0 of the drawing is the top row, the last one a disc can reach.
        Some(crate::Board::from_owners(rows, columns, crate::BoardLayout::Square, ["red", "gold"], |row, column| {
            self.owner(rows - 1 - row, column)
        }))
    }

    fn clone_box(&self) -> Box<dyn State> {
        Box::new(self.clone())
    }
}
