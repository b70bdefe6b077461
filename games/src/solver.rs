//! Exact solvers: the game-theoretic value of a position and of each move, for fixed anchors
//! (the `solver` agent) and solver-labelled position suites.
//!
//! Connect four is solved on bitboards after Pascal Pons' solver: negamax with alpha-beta over
//! null windows, a transposition table of upper bounds (one word a slot, prefetched, on huge pages:
//! its lookups are what the search waits on), moves that lose at once pruned, and the
//! rest tried centre first, then by how many threats they make. Scores follow Pons: 0 for a draw,
//! and for a win `(cells + 1 − discs the winner has played when it wins)`, halved — positive
//! when the side to move wins, negative when it loses; faster wins score higher. A depth-limited
//! search gives weaker, still exact-within-its-horizon players.
//!
//! Small games (tic-tac-toe) are solved by memoised negamax over the generic [`State`] API.

use std::collections::HashMap;

use std::time::Instant;

use crate::error::{Error, Result};
use crate::game::{Action, Game, State, Turn};

/// The discrete moves of a position's history (a solver's input), text moves left out.
pub fn action_history(state: &dyn State) -> Vec<Action> {
    state.history().iter().filter_map(|m| if let crate::Move::Action(a) = m { Some(*a) } else { None }).collect()
}

/// A connect four board as the solver sees it (Pons' layout: column-major, `rows + 1` bits a
/// column, the top bit of each column a sentinel).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Board {
    rows: u32,
    columns: u32,
    connect: u32,
    /// Discs of the side to move.
    current: u64,
    /// Every disc.
    mask: u64,
    moves: u32,
    /// The bottom cell of every column, and every cell of the board: fixed for a board size,
    /// kept here because every node needs them.
    bottom_row: u64,
    board_mask: u64,
}

impl Board {
    fn stride(&self) -> u32 {
        self.rows + 1
    }
    fn cells(&self) -> u32 {
        self.rows * self.columns
    }
    fn bottom(&self, column: u32) -> u64 {
        1 << (column * self.stride())
    }
    fn top(&self, column: u32) -> u64 {
        1 << (column * self.stride() + self.rows - 1)
    }
    fn column_mask(&self, column: u32) -> u64 {
        ((1u64 << self.rows) - 1) << (column * self.stride())
    }
    fn empty(rows: u32, columns: u32, connect: u32) -> Board {
        let mut board = Board { rows, columns, connect, current: 0, mask: 0, moves: 0, bottom_row: 0, board_mask: 0 };
        board.bottom_row = (0..columns).fold(0, |bits, column| bits | board.bottom(column));
        board.board_mask = (0..columns).fold(0, |bits, column| bits | board.column_mask(column));
        board
    }
    fn can_play(&self, column: u32) -> bool {
        self.mask & self.top(column) == 0
    }
    /// The cell a disc dropped in each playable column lands on.
    fn possible(&self) -> u64 {
        (self.mask + self.bottom_row) & self.board_mask
    }
    /// Plays a move given as its landing cell.
    fn play_cell(&mut self, cell: u64) {
        self.current ^= self.mask;
        self.mask |= cell;
        self.moves += 1;
    }
    fn play(&mut self, column: u32) {
        self.play_cell((self.mask + self.bottom(column)) & self.column_mask(column));
    }
    /// Whether `discs` hold a line of `connect`.
    fn has_line(&self, discs: u64) -> bool {
        let stride = self.stride();
        [1, stride, stride + 1, stride - 1].into_iter().any(|d| {
            let mut run = discs;
            for k in 1..self.connect {
                run &= discs.checked_shr(k * d).unwrap_or(0);
            }
            run != 0
        })
    }
    /// The empty cells (playable now or later) that would complete a line for `discs`.
    fn winning_cells(&self, discs: u64) -> u64 {
        let empty = self.board_mask & !self.mask;
        if self.connect != 4 {
            let mut winning = 0;
            let mut cells = empty;
            while cells != 0 {
                let cell = cells & cells.wrapping_neg();
                cells ^= cell;
                if self.has_line(discs | cell) {
                    winning |= cell;
                }
            }
            return winning;
        }
        // Pons' shifts: for each direction, the cells that complete three in a line.
        let h = self.stride();
        let p = discs;
        // Vertical: three above... only upward completion is possible.
        let mut r = (p << 1) & (p << 2) & (p << 3);
        for d in [h, h - 1, h + 1] {
            let mut t = (p << d) & (p << (2 * d));
            r |= t & (p << (3 * d));
            r |= t & (p >> d);
            t = (p >> d) & (p >> (2 * d));
            r |= t & (p << d);
            r |= t & (p >> (3 * d));
        }
        r & empty
    }
    /// Whether the side to move wins by dropping in `column`.
    fn wins_with(&self, column: u32) -> bool {
        self.winning_cells(self.current) & self.possible() & self.column_mask(column) != 0
    }
    /// The moves (landing cells) that do not hand the opponent an immediate win; empty when every
    /// move loses. Assumes the side to move cannot win at once.
    fn non_losing_moves(&self) -> u64 {
        let possible = self.possible();
        let opponent_wins = self.winning_cells(self.current ^ self.mask);
        let forced = possible & opponent_wins;
        let mut moves = possible;
        if forced != 0 {
            if forced & (forced - 1) != 0 {
                return 0; // two threats at once: lost
            }
            moves = forced;
        }
        // Never play below an opponent's winning cell.
        moves & !(opponent_wins >> 1)
    }
    /// Positions that differ only by the order of their moves share a key.
    fn key(&self) -> u64 {
        self.current.wrapping_add(self.mask)
    }
    /// How good a move looks before searching it: the threats it makes.
    fn move_score(&self, cell: u64) -> u32 {
        (self.winning_cells(self.current | cell) & !(self.mask | cell)).count_ones()
    }
    /// The score of a win for the side to move at its next move.
    fn win_now_score(&self) -> i32 {
        (self.cells() as i32 + 1 - self.moves as i32) / 2
    }
}

/// Upper bounds of position scores, by key (a fixed-size table, newer entries replace older).
///
/// One `u64` a slot, so a lookup touches one cache line. The key is scrambled by a multiplication
/// with an odd constant (a bijection of `u64`): its top bits choose the slot and the rest, plus
/// one (zero marks an empty slot), is kept above the bound's byte. Slot and tag together give the
/// whole key back, so no two positions are ever confused, and no division is needed.
struct Table {
    entries: Vec<u64>,
}

/// Table slots, as a power of two: 2^23 slots of 8 bytes, 64 MiB.
const TABLE_BITS: u32 = 23;
/// Bits of the scrambled key kept in an entry (the rest choose the slot).
const TAG_BITS: u32 = 64 - TABLE_BITS;
/// The odd multiplier that scrambles keys (2^64 / the golden ratio: neighbouring keys spread).
const SCRAMBLE: u64 = 0x9E37_79B9_7F4A_7C15;

impl Table {
    fn new() -> Self {
        let table = Table { entries: vec![0; 1 << TABLE_BITS] };
        ask_for_huge_pages(&table.entries);
        table
    }
    fn slot(key: u64) -> usize {
        (key.wrapping_mul(SCRAMBLE) >> TAG_BITS) as usize
    }
    fn tag(key: u64) -> u64 {
        ((key.wrapping_mul(SCRAMBLE) & ((1 << TAG_BITS) - 1)) + 1) << 8
    }
    fn get(&self, key: u64) -> Option<i32> {
        let entry = self.entries[Self::slot(key)];
        (entry & !0xff == Self::tag(key)).then_some(entry as u8 as i8 as i32)
    }
    /// Starts loading `key`'s slot into the cache, so that a lookup soon after does not wait on
    /// memory (lookups are random over tens of megabytes: most miss every cache).
    fn prefetch(&self, key: u64) {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            let address = self.entries.as_ptr().wrapping_add(Self::slot(key)).cast::<i8>();
            // SAFETY: a prefetch is a hint that never faults and reads nothing into the program;
            // the address lies inside `entries` anyway.
            #[allow(unsafe_code, unused_unsafe)]
            unsafe {
                _mm_prefetch::<_MM_HINT_T0>(address);
            }
        }
    }
    fn put(&mut self, key: u64, value: i32) {
        self.entries[Self::slot(key)] = Self::tag(key) | u64::from(value as i8 as u8);
    }
}

/// Asks the kernel to back `memory` with huge pages where it can: lookups land all over a table
/// of tens of megabytes, and with 4 KiB pages nearly every one also misses the TLB.
fn ask_for_huge_pages(memory: &[u64]) {
    #[cfg(target_os = "linux")]
    {
        const HUGE_PAGE: usize = 2 << 20;
        let start = memory.as_ptr() as usize;
        let end = start + std::mem::size_of_val(memory);
        let aligned_start = start.next_multiple_of(HUGE_PAGE);
        let aligned_end = end / HUGE_PAGE * HUGE_PAGE;
        if aligned_end > aligned_start {
            // SAFETY: madvise(2) only advises; the range lies inside `memory`, which stays
            // allocated, and MADV_HUGEPAGE changes neither its contents nor its validity. A
            // refusal (no transparent huge pages) leaves ordinary pages, so its result is ignored.
            #[allow(unsafe_code)]
            unsafe {
                libc::madvise(aligned_start as *mut libc::c_void, aligned_end - aligned_start, libc::MADV_HUGEPAGE);
            }
        }
    }
}

/// The connect four solver: reusable across positions of one board size (its table of bounds
/// stays valid, so later positions of the same game solve faster).
pub struct ConnectFourSolver {
    rows: u32,
    columns: u32,
    connect: u32,
    table: Table,
    /// Columns in search order: centre first.
    order: Vec<u32>,
    /// Positions searched since the solver was made.
    pub nodes: u64,
    /// When the current search must stop (checked every few thousand positions).
    deadline: Option<Instant>,
    /// Set when the current search ran past its deadline: its values are not used or kept.
    interrupted: bool,
}

impl std::fmt::Debug for ConnectFourSolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectFourSolver").field("rows", &self.rows).field("columns", &self.columns).finish()
    }
}

/// The most columns of a board the game allows.
const MAX_COLUMNS: usize = 16;

impl ConnectFourSolver {
    /// A solver for `connect_four(rows, columns, connect)` boards; `None` for other games.
    pub fn for_game(game: &dyn Game) -> Option<Self> {
        let spec = game.spec();
        if spec.name != "connect_four" {
            return None;
        }
        let number = |name: &str| spec.get(name).and_then(|v| v.parse::<u32>().ok());
        let (rows, columns, connect) = (number("rows")?, number("columns")?, number("connect")?);
        if columns as usize > MAX_COLUMNS {
            return None;
        }
        let centre = columns / 2;
        let mut order: Vec<u32> = (0..columns).collect();
        // Centre first, then alternating outwards (left before right).
        order.sort_by_key(|&c| (c.abs_diff(centre) * 2 + u32::from(c > centre), c));
        Some(ConnectFourSolver {
            rows,
            columns,
            connect,
            table: Table::new(),
            order,
            nodes: 0,
            deadline: None,
            interrupted: false,
        })
    }

    /// The board after `moves` (column indices from 0), or an error naming the first bad move.
    fn board(&self, moves: &[Action]) -> Result<Board> {
        let mut board = Board::empty(self.rows, self.columns, self.connect);
        for (i, &column) in moves.iter().enumerate() {
            let bad = |reason: &str| Error::NotSupported(format!("move {} (column {}): {reason}", i + 1, column + 1));
            if column >= self.columns || !board.can_play(column) {
                return Err(bad("not playable"));
            }
            if board.wins_with(column) && i + 1 < moves.len() {
                return Err(bad("the game was already won"));
            }
            board.play(column);
        }
        Ok(board)
    }

    /// The exact score of the position after `moves` for the side to move (see the module docs),
    /// or `None` when the game is already over.
    pub fn score(&mut self, moves: &[Action]) -> Result<Option<i32>> {
        self.deadline = None;
        self.interrupted = false;
        let board = self.board(moves)?;
        if board.moves > 0 && board.has_line(board.current ^ board.mask) || board.moves == board.cells() {
            return Ok(None);
        }
        Ok(Some(self.solve(&board, None)))
    }

    /// Each legal move's exact score for the side to move (`None` for a full column), after
    /// `moves`; with `depth`, searched only that many plies ahead (unknown beyond counts as a draw).
    pub fn move_scores(&mut self, moves: &[Action], depth: Option<u32>) -> Result<Vec<Option<i32>>> {
        let scores = self.move_scores_until(moves, depth, None)?;
        Ok(scores.unwrap_or_default())
    }

    /// [`ConnectFourSolver::move_scores`], given up at `deadline`: `Ok(None)` when it passed
    /// first (nothing of the unfinished search is kept).
    pub fn move_scores_until(
        &mut self,
        moves: &[Action],
        depth: Option<u32>,
        deadline: Option<Instant>,
    ) -> Result<Option<Vec<Option<i32>>>> {
        self.deadline = deadline;
        self.interrupted = false;
        let board = self.board(moves)?;
        let mut scores = vec![None; self.columns as usize];
        for column in 0..self.columns {
            if !board.can_play(column) {
                continue;
            }
            scores[column as usize] = Some(if board.wins_with(column) {
                board.win_now_score()
            } else {
                let mut child = board;
                child.play(column);
                if child.moves == child.cells() { 0 } else { -self.solve(&child, depth.map(|d| d.saturating_sub(1))) }
            });
            if self.interrupted {
                return Ok(None);
            }
        }
        Ok(Some(scores))
    }

    /// The position's exact score and its optimal moves after `moves` (those whose score equals
    /// the position's), given up at `deadline` (`Ok(None)`). Cheaper than [`move_scores`]
    /// (`ConnectFourSolver::move_scores`): the position is solved once and each move only tested
    /// against that score with a null window.
    pub fn best_moves_until(
        &mut self,
        moves: &[Action],
        deadline: Option<Instant>,
    ) -> Result<Option<(i32, Vec<Action>)>> {
        self.deadline = deadline;
        self.interrupted = false;
        let board = self.board(moves)?;
        let playable: Vec<u32> = self.order.iter().copied().filter(|&c| board.can_play(c)).collect();
        let winning: Vec<Action> = playable.iter().copied().filter(|&c| board.wins_with(c)).collect();
        if !winning.is_empty() {
            return Ok(Some((board.win_now_score(), winning)));
        }
        let score = self.solve(&board, None);
        let mut best = Vec::new();
        for column in playable {
            let mut child = board;
            child.play(column);
            let optimal = if child.moves == child.cells() {
                score == 0
            } else if child.possible() & child.winning_cells(child.current) != 0 {
                -child.win_now_score() == score
            } else {
                // The child's score is at least -score (the position's score is the best move's);
                // it is exactly that when it is not above it.
                self.negamax(&child, -score, -score + 1, None) <= -score
            };
            if self.interrupted {
                return Ok(None);
            }
            if optimal {
                best.push(column);
            }
        }
        best.sort_unstable();
        Ok(Some((score, best)))
    }

    /// The exact score (or within `depth` plies) of a position where the side to move cannot win
    /// at once and the game is not over.
    fn solve(&mut self, board: &Board, depth: Option<u32>) -> i32 {
        if board.possible() & board.winning_cells(board.current) != 0 {
            return board.win_now_score();
        }
        let cells = board.cells() as i32;
        let mut min = -(cells - board.moves as i32) / 2;
        let mut max = (cells + 1 - board.moves as i32) / 2;
        // Iterative deepening by null windows, halving the score range.
        while min < max && !self.interrupted {
            let mut middle = min + (max - min) / 2;
            if middle <= 0 && min / 2 < middle {
                middle = min / 2;
            } else if middle >= 0 && max / 2 > middle {
                middle = max / 2;
            }
            let result = self.negamax(board, middle, middle + 1, depth);
            if result <= middle {
                max = result;
            } else {
                min = result;
            }
        }
        min
    }

    /// Negamax with alpha-beta; the side to move cannot win at once. `depth`: plies left, `None`
    /// for no limit.
    fn negamax(&mut self, board: &Board, mut alpha: i32, mut beta: i32, depth: Option<u32>) -> i32 {
        self.nodes += 1;
        if self.interrupted {
            return 0;
        }
        if self.nodes.is_multiple_of(4096) && self.deadline.is_some_and(|at| Instant::now() >= at) {
            self.interrupted = true;
            return 0;
        }
        let moves = board.non_losing_moves();
        if moves == 0 {
            return -(board.cells() as i32 - board.moves as i32) / 2;
        }
        if board.moves + 2 >= board.cells() {
            return 0;
        }
        if depth == Some(0) {
            return 0.clamp(alpha, beta);
        }
        let lowest = -(board.cells() as i32 - 2 - board.moves as i32) / 2;
        if alpha < lowest {
            alpha = lowest;
            if alpha >= beta {
                return alpha;
            }
        }
        let mut highest = (board.cells() as i32 - 1 - board.moves as i32) / 2;
        // Depth-limited values are not exact: the table holds only full searches.
        if depth.is_none()
            && let Some(bound) = self.table.get(board.key())
        {
            highest = bound + (-(board.cells() as i32) / 2 - 1);
        }
        if beta > highest {
            beta = highest;
            if alpha >= beta {
                return beta;
            }
        }
        // Non-losing moves, best-looking first (stable: centre first among equals). On the stack:
        // this runs at every node, where a heap allocation would cost as much as the rest.
        let mut candidates = [(0u32, 0u64); MAX_COLUMNS];
        let mut count = 0;
        for &column in &self.order {
            let cell = moves & board.column_mask(column);
            if cell != 0 {
                let mut child = *board;
                child.play_cell(cell);
                self.table.prefetch(child.key());
                let entry = (board.move_score(cell), cell);
                // Insertion sort, descending scores, earlier entries first among equals.
                let mut at = count;
                while at > 0 && candidates[at - 1].0 < entry.0 {
                    candidates[at] = candidates[at - 1];
                    at -= 1;
                }
                candidates[at] = entry;
                count += 1;
            }
        }
        for &(_, cell) in &candidates[..count] {
            let mut child = *board;
            child.play_cell(cell);
            let score = -self.negamax(&child, -beta, -alpha, depth.map(|d| d - 1));
            if score >= beta {
                return score;
            }
            if score > alpha {
                alpha = score;
            }
        }
        // Depth-limited and interrupted values are not exact: the table keeps full searches only.
        if depth.is_none() && !self.interrupted {
            self.table.put(board.key(), alpha - (-(board.cells() as i32) / 2 - 1));
        }
        alpha
    }
}

/// Each legal move's exact value (the return of the player to move after it, under perfect play)
/// in a small game, by memoised negamax over the generic API: for tic-tac-toe and games of its
/// size. Keys are the positions' renderings plus their move counts.
#[derive(Debug, Default)]
pub struct SmallGameSolver {
    values: HashMap<String, f64>,
}

impl SmallGameSolver {
    pub fn new() -> Self {
        SmallGameSolver::default()
    }

    /// The value of `state` for the player to move; `None` at chance nodes, which this solver
    /// does not handle.
    pub fn value(&mut self, state: &dyn State) -> Option<f64> {
        let player = match state.turn() {
            Turn::Terminal => return None,
            Turn::Chance => return None,
            Turn::Player(p) => p,
        };
        let key = format!("{}|{}", state.render(), state.history().len());
        if let Some(&value) = self.values.get(&key) {
            return Some(value);
        }
        let mut legal = Vec::new();
        state.legal_actions(&mut legal);
        let mut best = f64::NEG_INFINITY;
        for action in legal {
            let value = self.after(state, action, player)?;
            best = best.max(value);
        }
        self.values.insert(key, best);
        Some(best)
    }

    /// The value for `player` of playing `action` in `state`.
    pub fn after(&mut self, state: &dyn State, action: Action, player: usize) -> Option<f64> {
        let mut child = state.clone_box();
        child.apply(action).ok()?;
        match child.turn() {
            Turn::Terminal => Some(child.player_return(player)),
            Turn::Chance => None,
            // Two-player zero-sum: the opponent's value, negated; the same player again, as is.
            Turn::Player(next) if next == player => self.value(child.as_ref()),
            Turn::Player(_) => self.value(child.as_ref()).map(|v| -v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::load_game;

    fn solver(spec: &str) -> ConnectFourSolver {
        let game = load_game(spec).unwrap_or_else(|e| panic!("{e}"));
        ConnectFourSolver::for_game(game.as_ref()).unwrap_or_else(|| panic!("a connect four game"))
    }

    fn moves(text: &str) -> Vec<Action> {
        text.bytes().map(|b| (b - b'1') as Action).collect()
    }

    #[test]
    fn the_table_never_confuses_two_keys_that_share_a_slot() {
        let mut table = Table::new();
        let first = 0x0123_4567_89ab_u64;
        let slot = Table::slot(first);
        let second = (first + 1..).find(|&key| Table::slot(key) == slot).unwrap_or_else(|| panic!("a second key"));
        table.put(first, -7);
        assert_eq!(table.get(first), Some(-7));
        assert_eq!(table.get(second), None, "a key sharing the slot is not found");
        table.put(second, 12);
        assert_eq!((table.get(first), table.get(second)), (None, Some(12)), "the newer entry replaces the older");
        // The largest keys a 64-bit board can make keep their bounds exactly too.
        table.put(u64::MAX, 0);
        assert_eq!(table.get(u64::MAX), Some(0));
    }

    #[test]
    fn pons_blog_positions_have_their_published_scores() {
        let mut solver = solver("connect_four");
        assert_eq!(solver.score(&moves("4455")).ok().flatten(), Some(18));
        assert_eq!(solver.score(&moves("44455554221")).ok().flatten(), Some(-15));
    }

    #[test]
    fn small_boards_are_solved_and_bad_histories_refused() {
        // 4x4 connect four is a draw.
        let mut small = solver("connect_four(rows=4,columns=4)");
        assert_eq!(small.score(&[]).ok().flatten(), Some(0));
        // Small boards, the generic line check (connect 3) and Pons' shifts (connect 4): every
        // move's outcome agrees with plain memoised negamax over the game's own rules.
        for spec in [
            "connect_four(rows=3,columns=3,connect=3)",
            "connect_four(rows=3,columns=4,connect=3)",
            "connect_four(rows=4,columns=4,connect=3)",
            "connect_four(rows=4,columns=4,connect=4)",
        ] {
            let game = load_game(spec).unwrap_or_else(|e| panic!("{e}"));
            let mut bitboard = solver(spec);
            let mut generic = SmallGameSolver::new();
            let mut state = game.new_initial_state();
            // The empty board and a few positions along a game.
            for ply in 0..4u32 {
                let history = action_history(state.as_ref());
                let scores = bitboard.move_scores(&history, None).unwrap_or_else(|e| panic!("{e}"));
                let mut legal = Vec::new();
                state.legal_actions(&mut legal);
                for &action in &legal {
                    let exact = generic.after(state.as_ref(), action, ply as usize % 2);
                    let score = scores[action as usize].map(|s| f64::from(s.signum()));
                    assert_eq!(score, exact, "{spec} after {history:?}, move {action}");
                }
                if legal.is_empty() {
                    break;
                }
                state.apply(legal[legal.len() / 2]).unwrap_or_else(|e| panic!("{e}"));
                if state.is_terminal() {
                    break;
                }
            }
        }
        let mut c4 = solver("connect_four");
        assert!(c4.score(&moves("1111111")).is_err(), "a full column");
        assert!(c4.score(&moves("1212121")).ok() == Some(None), "a won game has no score");
        assert!(c4.score(&moves("12121213")).is_err(), "moves after a win");
    }

    #[test]
    fn tic_tac_toe_is_a_draw_with_every_first_move() {
        let game = load_game("tic_tac_toe").unwrap_or_else(|e| panic!("{e}"));
        let state = game.new_initial_state();
        let mut solver = SmallGameSolver::new();
        assert_eq!(solver.value(state.as_ref()), Some(0.0));
        for action in 0..9 {
            assert_eq!(solver.after(state.as_ref(), action, 0), Some(0.0), "first move {action}");
        }
    }
}
