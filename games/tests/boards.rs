//! The boards the report draws: each board game's cells after known moves.

use games::{BoardLayout, apply_move_list, load_game};

fn board_after(game: &str, moves: &str) -> games::Board {
    let game = load_game(game).unwrap_or_else(|e| panic!("{e}"));
    let mut state = game.new_initial_state();
    apply_move_list(state.as_mut(), moves).unwrap_or_else(|e| panic!("{e}"));
    state.board().unwrap_or_else(|| panic!("{} has a board", game.spec()))
}

#[test]
fn each_board_game_draws_its_pieces_where_they_stand() {
    // Connect four: the first disc lands in the bottom row (the last row drawn), the reply on it.
    let c4 = board_after("connect_four", "4 4");
    assert_eq!((c4.rows, c4.columns, c4.layout), (6, 7, BoardLayout::Square));
    assert_eq!(&c4.cells[35..], "...0...");
    assert_eq!(&c4.cells[28..35], "...1...");
    assert_eq!(c4.cells.matches('.').count(), 40);
    // Tic-tac-toe: x in the centre, o in the corner a1 (row 1 is the top row).
    let ttt = board_after("tic_tac_toe", "b2 a1");
    assert_eq!(ttt.cells, "1...0....");
    assert_eq!(ttt.pieces, ["x".to_string(), "o".to_string()]);
    // Othello: the four centre discs, then black's first move flips one.
    let othello = board_after("othello", "");
    assert_eq!(othello.cells.matches('0').count(), 2);
    assert_eq!(othello.cells.matches('1').count(), 2);
    let othello = board_after("othello", "d3");
    assert_eq!((othello.cells.matches('0').count(), othello.cells.matches('1').count()), (4, 1));
    // Hex: a rhombus.
    let hex = board_after("hex(size=5)", "c3");
    assert_eq!((hex.rows, hex.layout, hex.cells.chars().nth(12)), (5, BoardLayout::Hex, Some('0')));
    // Games without a board have none.
    let kuhn = load_game("kuhn_poker").unwrap_or_else(|e| panic!("{e}"));
    assert!(kuhn.new_initial_state().board().is_none());
}
