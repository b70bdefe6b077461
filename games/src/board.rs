//! Helpers shared by the two-player board games: outcomes, cell names like `c3`, observation planes.

use crate::error::{Error, Result};
use crate::game::Player;

/// How a two-player game stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) enum Outcome {
    #[default]
    Ongoing,
    Win(Player),
    Draw,
}

impl Outcome {
    /// +1 for the winner, -1 for the loser, 0 for a draw or an unfinished game.
    pub(crate) fn return_for(self, player: Player) -> f64 {
        match self {
            Outcome::Win(winner) if winner == player => 1.0,
            Outcome::Win(_) => -1.0,
            Outcome::Ongoing | Outcome::Draw => 0.0,
        }
    }

    /// Whose turn it is: `to_move` while the game goes on.
    pub(crate) fn turn(self, to_move: Player) -> crate::game::Turn {
        match self {
            Outcome::Ongoing => crate::game::Turn::Player(to_move),
            _ => crate::game::Turn::Terminal,
        }
    }

    pub(crate) fn describe(self, names: [&str; 2]) -> String {
        match self {
            Outcome::Ongoing => "in progress".to_string(),
            Outcome::Win(p) => format!("{} wins", names[p]),
            Outcome::Draw => "draw".to_string(),
        }
    }
}

/// `c3`: column letter (a = column 0) and row number (1 = row 0).
pub(crate) fn cell_name(row: usize, column: usize) -> String {
    format!("{}{}", (b'a' + column as u8) as char, row + 1)
}

/// Reads a cell name (`c3`, `C3`) on a board of `rows` × `columns`, returning (row, column).
pub(crate) fn parse_cell(text: &str, rows: usize, columns: usize) -> Result<(usize, usize)> {
    let cell = text.trim();
    let bad = |reason: String| Error::ParseAction { text: text.to_string(), reason };
    let mut chars = cell.chars();
    let letter = chars.next().ok_or_else(|| bad("empty".to_string()))?.to_ascii_lowercase();
    let last_column = (b'a' + columns as u8 - 1) as char;
    if !letter.is_ascii_lowercase() {
        return Err(bad(format!("expected a cell such as a1 (columns a..{last_column}, rows 1..{rows})")));
    }
    let column = (letter as u8 - b'a') as usize;
    let digits = chars.as_str();
    // Plain digits without a leading zero: `usize::from_str` would also take "+1" and "01".
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.starts_with('0') {
        return Err(bad(format!("expected a cell such as a1 (columns a..{last_column}, rows 1..{rows})")));
    }
    let row: usize = digits.parse().map_err(|_| bad(format!("no such cell: rows are 1..{rows}")))?;
    if column >= columns || row == 0 || row > rows {
        return Err(bad(format!("no such cell: columns are a..{last_column}, rows 1..{rows}")));
    }
    Ok((row - 1, column))
}

/// Fills three planes (the observer's stones, the opponent's, empty cells) of `cells` floats each.
pub(crate) fn fill_planes(out: &mut [f32], cells: usize, owner: impl Fn(usize) -> Option<Player>, observer: Player) {
    assert_eq!(out.len(), 3 * cells, "observation buffer has the wrong size");
    out.fill(0.0);
    for cell in 0..cells {
        let plane = match owner(cell) {
            Some(p) if p == observer => 0,
            Some(_) => 1,
            None => 2,
        };
        out[plane * cells + cell] = 1.0;
    }
}

/// The text of an action id that names no move of the game (error messages still show it).
pub(crate) fn unknown_action(action: crate::game::Action) -> String {
    format!("#{action}")
}

/// The facts of a two-player, zero-sum, perfect-information board game without chance, with
/// returns -1..1 and an observation of three planes.
pub(crate) fn board_game_facts(
    name: &'static str,
    num_distinct_actions: usize,
    max_game_length: usize,
    observation_shape: Vec<usize>,
) -> crate::game::GameFacts {
    use crate::game::{GameFacts, Information, InputKind, Utility};
    GameFacts {
        name,
        players: 2,
        chance: false,
        information: Information::Perfect,
        utility: Utility::ZeroSum,
        num_distinct_actions,
        max_chance_outcomes: 0,
        max_game_length,
        observation_shape,
        min_return: -1.0,
        max_return: 1.0,
        input: InputKind::Discrete,
    }
}

/// The symmetries of a square `size × size` board of three planes whose actions are its cells
/// (`row * size + column`) followed by `extra` actions that no symmetry moves (a pass, a swap),
/// chosen by name among the dihedral group's seven non-identity elements.
pub(crate) fn square_symmetries(size: usize, extra: usize, names: &[&'static str]) -> Vec<crate::game::Symmetry> {
    let last = size - 1;
    let map = move |name: &str, r: usize, c: usize| -> (usize, usize) {
        match name {
            "rotate90" => (c, last - r),
            "rotate180" => (last - r, last - c),
            "rotate270" => (last - c, r),
            "mirror" => (r, last - c),
            "flip" => (last - r, c),
            "transpose" => (c, r),
            _ => (last - c, last - r), // "antitranspose"
        }
    };
    let cells = size * size;
    names
        .iter()
        .map(|&name| {
            crate::game::Symmetry::of_grid(
                name,
                [3, size, size],
                |r, c| map(name, r, c),
                cells + extra,
                |a| {
                    let a = a as usize;
                    if a < cells {
                        let (r, c) = map(name, a / size, a % size);
                        (r * size + c) as crate::game::Action
                    } else {
                        a as crate::game::Action
                    }
                },
            )
        })
        .collect()
}
