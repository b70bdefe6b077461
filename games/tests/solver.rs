//! The exact solvers against published solved positions (`testdata/connect_four.json`: Pons'
//! benchmark and blog positions and random positions solved by two independent solvers).

mod common;

use common::{game, testdata};
use games::solver::ConnectFourSolver;

fn columns(text: &str) -> Vec<u32> {
    text.bytes().map(|b| u32::from(b - b'1')).collect()
}

#[test]
fn connect_four_scores_match_the_solved_test_positions() {
    let facts = testdata("connect_four.json");
    let positions = facts["test_positions"]["positions"].as_array().cloned().unwrap_or_default();
    assert_eq!(positions.len(), 20);
    let game = game("connect_four");
    let mut solver = ConnectFourSolver::for_game(game.as_ref()).unwrap_or_else(|| panic!("connect four"));
    let mut checked_moves = 0;
    for position in &positions {
        let moves = columns(position["moves"].as_str().unwrap_or_default());
        let want = position["score"].as_i64().map(|s| s as i32);
        let got = solver.score(&moves).unwrap_or_else(|e| panic!("{}: {e}", position["moves"]));
        assert_eq!(got, want, "score of {}", position["moves"]);
        let Some(expected) = position["move_scores"].as_array() else { continue };
        let scores = solver.move_scores(&moves, None).unwrap_or_else(|e| panic!("{e}"));
        let expected: Vec<Option<i32>> = expected.iter().map(|s| s.as_i64().map(|s| s as i32)).collect();
        assert_eq!(scores, expected, "move scores of {}", position["moves"]);
        // The cheaper search for the optimal moves alone finds the same ones.
        let top = scores.iter().flatten().copied().max();
        let best: Vec<u32> = (0..7).filter(|&c| scores[c as usize].is_some() && scores[c as usize] == top).collect();
        let found = solver.best_moves_until(&moves, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(found, top.map(|t| (t, best)), "best moves of {}", position["moves"]);
        checked_moves += 1;
    }
    assert!(checked_moves >= 18, "{checked_moves}");
}

#[test]
fn a_depth_limited_search_sees_wins_and_losses_within_its_horizon_only() {
    let game = game("connect_four");
    let mut solver = ConnectFourSolver::for_game(game.as_ref()).unwrap_or_else(|| panic!("connect four"));
    // x has three in column 1 and o must block: with depth 1 the blocking move is the only
    // non-losing one, and a one-move win is seen at any depth.
    let moves = columns("121212");
    let shallow = solver.move_scores(&moves, Some(1)).unwrap_or_else(|e| panic!("{e}"));
    assert!(shallow[0].is_some_and(|s| s > 0), "{shallow:?}");
    let exact = solver.move_scores(&moves, None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(exact[0], shallow[0]);
    // From the empty board a depth-2 search sees nothing decisive: every move looks drawn,
    // while the exact solution prefers the centre.
    let shallow = solver.move_scores(&[], Some(2)).unwrap_or_else(|e| panic!("{e}"));
    assert!(shallow.iter().all(|s| *s == Some(0)), "{shallow:?}");
}
