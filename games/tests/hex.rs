//! Hex against the counts and solved values in `testdata/hex.json`, plus the swap rule, parameters and text.

mod common;

use std::collections::{BTreeSet, HashMap, HashSet};

use common::{game, testdata, u64s};
use games::perft::{EndedGames, perft};
use games::{Action, Error, State, load_game};

/// The entry of `testdata/hex.json` for the n × n board.
fn board_facts(n: u64) -> serde_json::Value {
    let facts = testdata("hex.json");
    let boards = facts["boards"].as_array().unwrap_or_else(|| panic!("hex.json has no boards"));
    boards
        .iter()
        .find(|b| b["n"].as_u64() == Some(n))
        .cloned()
        .unwrap_or_else(|| panic!("hex.json has no {n}x{n} board"))
}

fn spec(n: u64) -> String {
    format!("hex(size={n})")
}

fn apply_text(state: &mut dyn State, text: &str) {
    state.apply_text(text).unwrap_or_else(|e| panic!("{text}: {e}"));
}

#[test]
fn hex_perft_matches_published_counts() {
    // 4x4 stops at depth 7 (57,657,600 sequences, about 1.7 s at opt-level 1; depth 8 is about ten
    // times that). 4x4 games end from ply 7 on, so 2x2 and 3x3, run to the end of every game, are
    // what check that finished games are not expanded.
    for (n, depth) in [(2, 4), (3, 9), (4, 7)] {
        let expected = u64s(&board_facts(n)["perft"]);
        let game = game(&spec(n));
        let state = game.new_initial_state();
        for (d, &want) in expected.iter().enumerate().take(depth + 1) {
            assert_eq!(perft(state.as_ref(), d as u32, EndedGames::NotCounted), want, "{n}x{n} perft({d})");
        }
    }
}

/// The board as one byte per cell (0 empty, 1 player 0, 2 player 1), read from the observation planes.
fn board_key(state: &dyn State, buffer: &mut [f32]) -> Vec<u8> {
    state.observation_tensor(0, buffer);
    let cells = buffer.len() / 3;
    (0..cells)
        .map(|cell| {
            if buffer[cell] == 1.0 {
                1
            } else if buffer[cells + cell] == 1.0 {
                2
            } else {
                0
            }
        })
        .collect()
}

#[test]
fn hex_distinct_positions_match_published_counts() {
    for n in [2, 3] {
        let facts = board_facts(n);
        let (want_positions, want_won) = (u64s(&facts["positions_by_ply"]), u64s(&facts["won_positions_by_ply"]));
        let game = game(&spec(n));
        let mut buffer = vec![0.0; game.facts().observation_size()];
        let mut layer = vec![game.new_initial_state()];
        let (mut positions, mut won) = (Vec::new(), Vec::new());
        let mut actions = Vec::new();
        while !layer.is_empty() {
            positions.push(layer.len() as u64);
            won.push(layer.iter().filter(|s| s.is_terminal()).count() as u64);
            let mut seen = HashSet::new();
            let mut next = Vec::new();
            for state in layer.iter().filter(|s| !s.is_terminal()) {
                state.legal_actions(&mut actions);
                for &action in &actions {
                    let mut child = state.clone();
                    child.apply_unchecked(action);
                    if seen.insert(board_key(child.as_ref(), &mut buffer)) {
                        next.push(child);
                    }
                }
            }
            layer = next;
        }
        assert_eq!(positions, want_positions, "{n}x{n} positions by ply");
        assert_eq!(won, want_won, "{n}x{n} won positions by ply");
    }
}

/// Whether the player to move wins with perfect play; `key` packs the board two bits per cell.
fn side_to_move_wins(state: &dyn State, size: u64, key: u64, memo: &mut HashMap<u64, bool>) -> bool {
    if let Some(&known) = memo.get(&key) {
        return known;
    }
    let player = state.current_player().unwrap_or_else(|| panic!("solving a finished game"));
    let mut actions = Vec::new();
    state.legal_actions(&mut actions);
    // Central cells first: they win most often, which cuts the search short.
    let n = size as i64;
    actions.sort_by_key(|&action| {
        let (row, column) = (2 * (action as i64 / n) - (n - 1), 2 * (action as i64 % n) - (n - 1));
        row.abs() + column.abs() + (row + column).abs()
    });
    let wins = actions.iter().any(|&action| {
        let child_key = key | (player as u64 + 1) << (2 * action);
        // Only unfinished positions are memoised, so a known child needs no copy of the state.
        if let Some(&child_wins) = memo.get(&child_key) {
            return !child_wins;
        }
        let mut child = state.clone_box();
        child.apply_unchecked(action);
        // Hex has no draws, so a finished game was won by the mover.
        child.is_terminal() || !side_to_move_wins(child.as_ref(), size, child_key, memo)
    });
    memo.insert(key, wins);
    wins
}

#[test]
fn hex_winning_first_moves_match_solved_values() {
    // 4x4 is included: the memoised solve (about 370,000 positions) takes under a second at opt-level 1.
    for n in [2, 3, 4] {
        let facts = board_facts(n);
        let want: BTreeSet<String> = facts["winning_first_moves"]
            .as_array()
            .unwrap_or_else(|| panic!("winning_first_moves is not an array"))
            .iter()
            .map(|name| name.as_str().unwrap_or_else(|| panic!("not a cell name: {name}")).to_string())
            .collect();
        let game = game(&spec(n));
        let state = game.new_initial_state();
        let mut memo = HashMap::new();
        let mut actions = Vec::new();
        state.legal_actions(&mut actions);
        let winning: BTreeSet<String> = actions
            .iter()
            .filter(|&&action| {
                let mut child = state.clone();
                child.apply_unchecked(action);
                !side_to_move_wins(child.as_ref(), n, 1 << (2 * action), &mut memo)
            })
            .map(|&action| state.action_to_string(action))
            .collect();
        assert_eq!(winning, want, "{n}x{n} winning first moves");
        let first_player_wins = facts["first_player_wins"].as_bool();
        assert_eq!(Some(side_to_move_wins(state.as_ref(), n, 0, &mut memo)), first_player_wins, "{n}x{n}");
    }
}

#[test]
fn swap_is_legal_only_as_the_second_move_and_mirrors_the_stone() {
    let game = game("hex(size=5,swap=true)");
    assert_eq!(game.facts().num_distinct_actions, 26);
    assert_eq!(game.facts().max_game_length, 26);
    let mut state = game.new_initial_state();
    let swap = state.parse_action("swap").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(swap, 25);
    assert_eq!(state.parse_action(" SWAP ").ok(), Some(swap));
    assert!(!state.is_legal(swap), "no stone to swap yet");
    assert!(state.apply(swap).is_err());

    apply_text(state.as_mut(), "c1");
    let mut actions = Vec::new();
    state.legal_actions(&mut actions);
    assert_eq!(actions.last(), Some(&swap), "swap comes last, in increasing order");
    assert_eq!(state.action_to_string(swap), "swap");
    state.apply(swap).unwrap_or_else(|e| panic!("{e}"));

    // c1 = (0, 2) becomes o's stone on a3 = (2, 0).
    let owner = |state: &dyn State, name: &str| {
        let cell = state.parse_action(name).unwrap_or_else(|e| panic!("{e}")) as usize;
        let mut planes = vec![0.0; 75];
        state.observation_tensor(1, &mut planes);
        [planes[cell], planes[25 + cell], planes[50 + cell]]
    };
    assert_eq!(owner(state.as_ref(), "a3"), [1.0, 0.0, 0.0], "a3 holds o's stone");
    assert_eq!(owner(state.as_ref(), "c1"), [0.0, 0.0, 1.0], "c1 is empty again");
    assert_eq!(state.current_player(), Some(0));
    assert!(state.is_legal(state.parse_action("c1").unwrap_or_else(|e| panic!("{e}"))));
    assert!(!state.is_legal(swap), "swap only as the second move");
    assert_eq!(state.history(), vec![games::Move::Action(2), games::Move::Action(swap)]);
    assert!(state.render().lines().nth(3).is_some_and(|row| row.contains('o')), "{}", state.render());

    // Not after a different second move either.
    let mut later = game.new_initial_state();
    apply_text(later.as_mut(), "c1");
    apply_text(later.as_mut(), "d4");
    assert!(!later.is_legal(swap));
    later.legal_actions(&mut actions);
    assert!(!actions.contains(&swap));
}

#[test]
fn swapping_a_diagonal_stone_keeps_the_cell_and_changes_its_colour() {
    let game = game("hex(size=2,swap=true)");
    let mut state = game.new_initial_state();
    apply_text(state.as_mut(), "a1");
    apply_text(state.as_mut(), "swap");
    let mut planes = vec![0.0; 12];
    state.observation_tensor(1, &mut planes);
    assert_eq!(planes[..4], [1.0, 0.0, 0.0, 0.0], "a1 is o's");
    assert_eq!(planes[4..8], [0.0; 4], "x has no stone");
    assert!(!state.is_terminal(), "one stone joins no edges on 2x2");
    // o's b2 does not touch a1 ((0,0) and (1,1) are not neighbours); x's a2 joins b1 to the bottom.
    for (text, over) in [("b1", false), ("b2", false), ("a2", true)] {
        apply_text(state.as_mut(), text);
        assert_eq!(state.is_terminal(), over, "after {text}");
    }
    assert_eq!(state.player_return(0), 1.0);
    assert_eq!(state.player_return(1), -1.0);
}

#[test]
fn without_the_swap_rule_swap_is_not_an_action() {
    let game = game("hex(size=5)");
    assert_eq!(game.facts().num_distinct_actions, 25);
    assert_eq!(game.facts().max_game_length, 25);
    let mut state = game.new_initial_state();
    apply_text(state.as_mut(), "c1");
    match state.parse_action("swap") {
        Err(Error::ParseAction { reason, .. }) => assert!(reason.contains("swap"), "{reason}"),
        other => panic!("swap without the rule: {other:?}"),
    }
    assert!(!state.is_legal(25));
    let before = state.render();
    assert!(state.apply(25).is_err());
    assert_eq!(state.render(), before);
}

#[test]
fn bad_parameters_are_rejected_naming_the_parameter() {
    for (text, param) in [
        ("hex(size=1)", "size"),
        ("hex(size=20)", "size"),
        ("hex(size=abc)", "size"),
        ("hex(swap=maybe)", "swap"),
        ("hex(colour=1)", "colour"),
    ] {
        match load_game(text) {
            Err(e) => assert!(e.to_string().contains(&format!("`{param}")), "{text}: {e}"),
            Ok(game) => panic!("{text} loaded as {}", game.spec()),
        }
    }
}

#[test]
fn spec_and_facts_are_canonical() {
    let game = game("hex");
    assert_eq!(game.spec().to_string(), "hex(size=11,swap=false)");
    let facts = game.facts();
    assert_eq!((facts.name, facts.players, facts.chance), ("hex", 2, false));
    assert_eq!(facts.observation_shape, vec![3, 11, 11]);
    assert_eq!((facts.min_return, facts.max_return), (-1.0, 1.0));
    let swap = common::game("hex(swap=true,size=7)");
    assert_eq!(swap.spec().to_string(), "hex(size=7,swap=true)");
    assert_eq!(load_game(&swap.spec().to_string()).map(|g| g.spec()).ok(), Some(swap.spec()));
}

#[test]
fn every_cell_name_round_trips_and_bad_names_are_rejected() {
    for n in [2, 11, 19] {
        let game = game(&spec(n));
        let state = game.new_initial_state();
        for action in 0..(n * n) as Action {
            let name = state.action_to_string(action);
            assert_eq!(state.parse_action(&name).ok(), Some(action), "{name}");
            assert_eq!(state.parse_action(&name.to_uppercase()).ok(), Some(action), "{name}");
        }
    }
    let state = game("hex(size=11)").new_initial_state();
    assert_eq!(state.parse_action("a11").ok(), Some(110));
    assert_eq!(state.parse_action("k1").ok(), Some(10));
    for bad in ["z1", "a0", "a12", "l1", "", "a", "11", "swap"] {
        match state.parse_action(bad) {
            Err(Error::ParseAction { .. }) => {}
            other => panic!("`{bad}` read as {other:?}"),
        }
    }
}

#[test]
fn illegal_actions_leave_the_state_unchanged() {
    let game = game("hex(size=3)");
    let mut state = game.new_initial_state();
    apply_text(state.as_mut(), "b2");
    let before = state.clone();
    for action in [4, 9, 10, u32::MAX] {
        assert!(!state.is_legal(action), "{action}");
        assert!(state.apply(action).is_err(), "{action}");
        assert_eq!(state.render(), before.render());
        assert_eq!(state.history(), before.history());
    }
}

#[test]
fn the_game_ends_at_the_first_connection() {
    let game = game("hex(size=3)");
    let mut state = game.new_initial_state();
    // o joins a1-b1-c1 left to right along row 1 while x wanders.
    for text in ["a2", "a1", "c3", "b1", "b3"] {
        apply_text(state.as_mut(), text);
        assert!(!state.is_terminal(), "after {text}");
    }
    apply_text(state.as_mut(), "c1");
    assert!(state.is_terminal());
    assert_eq!((state.player_return(0), state.player_return(1)), (-1.0, 1.0));
    let mut actions = vec![0];
    state.legal_actions(&mut actions);
    assert!(actions.is_empty());
    assert!((0..10).all(|a| !state.is_legal(a)));
    let text = state.observation_string(1);
    assert!(text.contains("left and right") && text.contains("o wins"), "{text}");
}

#[test]
fn observation_string_names_the_goal_and_whose_move_it_is() {
    let game = game("hex(size=11)");
    let mut state = game.new_initial_state();
    apply_text(state.as_mut(), "f6");
    let x = state.observation_string(0);
    let o = state.observation_string(1);
    assert!(x.contains("top and bottom") && x.contains("o to move"), "{x}");
    assert!(o.contains("left and right") && o.contains("columns a and k"), "{o}");
    assert!(x.contains(&state.render()));
    // Two-digit rows keep the rhombus aligned: row 11 is indented eleven spaces after its label.
    let last = state.render().lines().last().map(str::to_string).unwrap_or_default();
    assert!(last.starts_with("11           ."), "{last:?}");
}

#[test]
fn render_draws_a_rhombus_with_x_and_o() {
    let mut state = game("hex(size=3)").new_initial_state();
    apply_text(state.as_mut(), "a1");
    apply_text(state.as_mut(), "b2");
    assert_eq!(state.render(), "  a b c\n1 x . .\n2  . o .\n3   . . .\n");
}
