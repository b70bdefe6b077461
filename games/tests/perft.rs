//! Perft counts of every game against published values (see `testdata/*.json` for sources).

mod common;

use common::{game, testdata, u64s};
use games::perft::{EndedGames, perft};

fn check_perft(spec: &str, expected: &[u64], ended: EndedGames) {
    let game = game(spec);
    let state = game.new_initial_state();
    for (depth, &want) in expected.iter().enumerate() {
        assert_eq!(perft(state.as_ref(), depth as u32, ended), want, "{spec} perft({depth})");
    }
}

#[test]
fn tic_tac_toe_perft_matches_published_counts_to_the_end() {
    let facts = testdata("tic_tac_toe.json");
    let expected = u64s(&facts["perft"]["values"]);
    assert_eq!(expected.len(), 10);
    check_perft("tic_tac_toe", &expected, EndedGames::NotCounted);
}

#[test]
fn connect_four_perft_matches_published_counts_to_depth_8() {
    let facts = testdata("connect_four.json");
    let expected = u64s(&facts["perft"]["values"]);
    check_perft("connect_four", &expected[..=8], EndedGames::NotCounted);
}
