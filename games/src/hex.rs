//! Hex on an n × n rhombus, with the board size and the swap rule as parameters.
//!
//! Cell (r, c) has index `r * size + c` and name `cell_name(r, c)` (a1 is the top-left acute
//! corner). Player 0 (x) connects the top edge to the bottom edge, player 1 (o) the left edge to the
//! right edge. Wins are found with a union-find over the cells plus four edge nodes, updated as each
//! stone is placed, so a move costs a few near-constant-time unions rather than a flood fill.

use crate::board::{Outcome, board_game_facts, cell_name, fill_planes, parse_cell};
use crate::error::{Error, Result};
use crate::game::{Action, Game, GameFacts, Player, State, Turn};
use crate::params::{ParamDef, ParamKind, Params};
use crate::record::Move;
use crate::registry::{GameRegistration, shared};
use crate::spec::Spec;

/// The smallest board: a 1 × 1 board is won by the first stone, so it is no game.
const MIN_SIZE: i64 = 2;
/// The largest board: columns are named by single letters a..s, as on the usual 19 × 19 boards.
const MAX_SIZE: i64 = 19;

/// The text of the swap action.
const SWAP: &str = "swap";

pub const REGISTRATION: GameRegistration = GameRegistration {
    name: "hex",
    summary: "join your two edges of an n x n rhombus: x top-bottom, o left-right; cells a1 (top-left)..; `swap` if swap=true",
    params: &[
        ParamDef {
            name: "size",
            kind: ParamKind::Int { min: MIN_SIZE, max: MAX_SIZE },
            default: "11",
            doc: "cells along each edge",
        },
        ParamDef { name: "swap", kind: ParamKind::Bool, default: "false", doc: "o may swap on move two" },
    ],
    create: |params: &Params| Ok(shared(Hex::new(params)?)),
};

/// Neighbour offsets (row, column) on the rhombus.
const NEIGHBOURS: [(isize, isize); 6] = [(0, -1), (0, 1), (-1, 0), (1, 0), (-1, 1), (1, -1)];

/// The rules of hex for one board size and swap setting.
#[derive(Debug)]
pub struct Hex {
    facts: GameFacts,
    size: u8,
    swap_rule: bool,
}

impl Hex {
    fn new(params: &Params) -> Result<Self> {
        let size = params.int("size");
        // The registry checks the range already; this guards callers that build `Params` otherwise.
        if !(MIN_SIZE..=MAX_SIZE).contains(&size) {
            return Err(Error::BadParameter {
                owner: "game `hex`".to_string(),
                param: "size".to_string(),
                value: size.to_string(),
                reason: format!("must be in {MIN_SIZE}..={MAX_SIZE}"),
            });
        }
        let swap_rule = params.bool("swap");
        let cells = (size * size) as usize;
        let actions = cells + usize::from(swap_rule);
        Ok(Hex {
            // A swap replaces a stone without adding one, so it adds one move at most: the longest
            // game has as many moves as there are actions.
            facts: board_game_facts("hex", actions, actions, vec![3, size as usize, size as usize]),
            size: size as u8,
            swap_rule,
        })
    }
}

impl Game for Hex {
    fn facts(&self) -> &GameFacts {
        &self.facts
    }
    fn spec(&self) -> Spec {
        Spec::new("hex").with("size", self.size).with("swap", self.swap_rule)
    }
    fn new_initial_state(&self) -> Box<dyn State> {
        Box::new(HexState::new(self.size, self.swap_rule))
    }
    /// A half turn keeps each player's pair of edges (the swap action stays the swap).
    fn symmetries(&self) -> Vec<crate::game::Symmetry> {
        crate::board::square_symmetries(self.size as usize, usize::from(self.swap_rule), &["rotate180"])
    }
}

/// A hex position.
///
/// Every buffer is sized for the whole game when the state is made, so applying a move never
/// allocates (a clone of a `Vec` keeps its length, which is why the history is a full-length
/// buffer with a count rather than a growing `Vec`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HexState {
    size: u8,
    swap_rule: bool,
    /// Owner of each cell, by index (a `u8` keeps the board small to copy).
    stones: Vec<Option<u8>>,
    /// Union-find parents: the cells, then the edge nodes top, bottom (player 0), left, right (player 1).
    parent: Vec<u16>,
    /// The actions played, in the first `plies` entries; the rest stays zero.
    moves: Vec<u16>,
    plies: usize,
    outcome: Outcome,
}

impl HexState {
    fn new(size: u8, swap_rule: bool) -> Self {
        let cells = size as usize * size as usize;
        HexState {
            size,
            swap_rule,
            stones: vec![None; cells],
            parent: (0..(cells + 4) as u16).collect(),
            moves: vec![0; cells + usize::from(swap_rule)],
            plies: 0,
            outcome: Outcome::Ongoing,
        }
    }

    fn cells(&self) -> usize {
        self.stones.len()
    }

    /// The action id of the swap (one past the last cell).
    fn swap_action(&self) -> Action {
        self.cells() as Action
    }

    fn to_move(&self) -> Player {
        self.plies % 2
    }

    /// Whether the swap is open now: the rule is on and exactly one stone has been played.
    fn swap_available(&self) -> bool {
        self.swap_rule && self.plies == 1 && self.outcome == Outcome::Ongoing
    }

    /// The two edge nodes `player` must join.
    fn edges(&self, player: Player) -> (usize, usize) {
        let first = self.cells() + 2 * player;
        (first, first + 1)
    }

    fn root(&mut self, mut node: usize) -> usize {
        // Path halving: each step points a node at its grandparent, keeping trees shallow.
        while self.parent[node] as usize != node {
            let grandparent = self.parent[self.parent[node] as usize];
            self.parent[node] = grandparent;
            node = grandparent as usize;
        }
        node
    }

    fn union(&mut self, a: usize, b: usize) {
        let (root_a, root_b) = (self.root(a), self.root(b));
        // Linking under the larger index makes edge nodes (the largest) the roots of edge groups;
        // with path halving this is fast enough for boards of at most 361 cells.
        if root_a != root_b {
            let (low, high) = (root_a.min(root_b), root_a.max(root_b));
            self.parent[low] = high as u16;
        }
    }

    /// Puts `player`'s stone on `cell` and joins it to its friendly neighbours and edges.
    fn place(&mut self, cell: usize, player: Player) {
        let size = self.size as usize;
        let (row, column) = (cell / size, cell % size);
        self.stones[cell] = Some(player as u8);
        for (dr, dc) in NEIGHBOURS {
            let (Some(r), Some(c)) = (row.checked_add_signed(dr), column.checked_add_signed(dc)) else { continue };
            if r < size && c < size && self.stones[r * size + c] == Some(player as u8) {
                self.union(cell, r * size + c);
            }
        }
        let (near_edge, far_edge) = self.edges(player);
        let along = if player == 0 { row } else { column };
        if along == 0 {
            self.union(cell, near_edge);
        }
        if along == size - 1 {
            self.union(cell, far_edge);
        }
    }

    /// Replaces the first stone by the second player's stone on the mirrored cell.
    fn swap_first_stone(&mut self) {
        let size = self.size as usize;
        let first = self.moves[0] as usize;
        let mirrored = (first % size) * size + first / size;
        self.stones[first] = None;
        // A union-find cannot remove a stone; with one stone on the board a reset is just as cheap.
        for (node, parent) in self.parent.iter_mut().enumerate() {
            *parent = node as u16;
        }
        self.place(mirrored, 1);
    }

    fn connected(&mut self, player: Player) -> bool {
        let (near_edge, far_edge) = self.edges(player);
        self.root(near_edge) == self.root(far_edge)
    }

    fn owner(&self, cell: usize) -> Option<Player> {
        self.stones[cell].map(Player::from)
    }

    fn stone_char(&self, cell: usize) -> char {
        match self.owner(cell) {
            Some(0) => 'x',
            Some(_) => 'o',
            None => '.',
        }
    }
}

impl State for HexState {
    fn turn(&self) -> Turn {
        self.outcome.turn(self.to_move())
    }

    fn legal_actions(&self, out: &mut Vec<Action>) {
        out.clear();
        if self.outcome != Outcome::Ongoing {
            return;
        }
        out.extend(self.stones.iter().enumerate().filter(|(_, s)| s.is_none()).map(|(cell, _)| cell as Action));
        if self.swap_available() {
            out.push(self.swap_action());
        }
    }

    fn is_legal(&self, action: Action) -> bool {
        if self.outcome != Outcome::Ongoing {
            return false;
        }
        match self.stones.get(action as usize) {
            Some(stone) => stone.is_none(),
            None => action == self.swap_action() && self.swap_available(),
        }
    }

    fn apply_unchecked(&mut self, action: Action) {
        let player = self.to_move();
        if action == self.swap_action() {
            self.swap_first_stone();
        } else {
            self.place(action as usize, player);
        }
        self.moves[self.plies] = action as u16;
        self.plies += 1;
        // Only the mover's groups changed, so only the mover can have just connected.
        if self.connected(player) {
            self.outcome = Outcome::Win(player);
        }
    }

    fn player_return(&self, player: Player) -> f64 {
        self.outcome.return_for(player)
    }

    fn action_to_string(&self, action: Action) -> String {
        let size = self.size as usize;
        let cell = action as usize;
        if cell < self.cells() {
            cell_name(cell / size, cell % size)
        } else if self.swap_rule && action == self.swap_action() {
            SWAP.to_string()
        } else {
            // Reached only when reporting an illegal action id.
            format!("#{action}")
        }
    }

    fn parse_action(&self, text: &str) -> Result<Action> {
        let size = self.size as usize;
        if text.trim().eq_ignore_ascii_case(SWAP) {
            return if self.swap_rule {
                Ok(self.swap_action())
            } else {
                Err(Error::ParseAction { text: text.to_string(), reason: "this game has no swap rule".to_string() })
            };
        }
        let (row, column) = parse_cell(text, size, size)?;
        Ok((row * size + column) as Action)
    }

    fn observation_string(&self, player: Player) -> String {
        let size = self.size as usize;
        let last_column = (b'a' + self.size - 1) as char;
        let goal = if player == 0 {
            format!("You play x: connect the top and bottom edges (rows 1 and {size}).")
        } else {
            format!("You play o: connect the left and right edges (columns a and {last_column}).")
        };
        let swap = if self.swap_rule { " Swap rule: o may answer the first move with `swap`." } else { "" };
        let status = match self.outcome {
            Outcome::Ongoing => format!("{} to move.", ["x", "o"][self.to_move()]),
            other => format!("Game over: {}.", other.describe(["x", "o"])),
        };
        format!("Hex {size}x{size}.{swap} {goal}\n{}{status}", self.render())
    }

    fn observation_tensor(&self, player: Player, out: &mut [f32]) {
        fill_planes(out, self.cells(), |cell| self.owner(cell), player);
    }

    fn history(&self) -> Vec<Move> {
        self.moves[..self.plies].iter().map(|&a| Move::Action(Action::from(a))).collect()
    }

    fn render(&self) -> String {
        let size = self.size as usize;
        let label_width = size.to_string().len();
        let mut s = " ".repeat(label_width + 1);
        let letters: Vec<String> = (0..size).map(|c| ((b'a' + c as u8) as char).to_string()).collect();
        s.push_str(&letters.join(" "));
        s.push('\n');
        for row in 0..size {
            // One more space per row draws the rhombus, so each cell sits between its hex neighbours.
            s.push_str(&format!("{:>label_width$}{}", row + 1, " ".repeat(row + 1)));
            for column in 0..size {
                if column > 0 {
                    s.push(' ');
                }
                s.push(self.stone_char(row * size + column));
            }
            s.push('\n');
        }
        s
    }

    fn board(&self) -> Option<crate::Board> {
        let size = self.size as usize;
        Some(crate::Board::from_owners(size, size, crate::BoardLayout::Hex, ["red", "blue"], |row, column| {
            self.owner(row * size + column)
        }))
    }

    fn clone_box(&self) -> Box<dyn State> {
        Box::new(self.clone())
    }
}
