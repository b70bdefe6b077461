//! Tests of `take_away` through the games crate alone: the conformance kit, perft against counts
//! derived independently, the solved game checked by minimax, and errors for bad input.

use std::collections::HashMap;

use custom_game::{REGISTRATION, registry};
use games::perft::{EndedGames, perft};
use games::{Action, GameRef, Move, State, Turn, apply_move_list, conformance};

fn load(spec: &str) -> GameRef {
    registry().load(spec).unwrap_or_else(|e| panic!("{spec}: {e}"))
}

fn spec(stones: u32, max_take: u32) -> String {
    format!("take_away(stones={stones},max_take={max_take})")
}

/// Parameter sets covering the edges: one stone, one per move, more per move than stones, the maxima.
const PARAMETER_SETS: &[(u32, u32)] = &[(21, 3), (1, 1), (1, 9), (7, 1), (5, 9), (10, 2), (63, 9), (63, 1), (30, 4)];

#[test]
fn conformance_kit_passes() {
    for &(stones, max_take) in PARAMETER_SETS {
        let game = load(&spec(stones, max_take));
        let report = conformance::check(game.as_ref(), &conformance::Config { playouts: 300, seed: 7 })
            .unwrap_or_else(|violation| panic!("{}: {violation}", spec(stones, max_take)));
        assert_eq!(report.ties, 0, "take_away has no draws");
        assert!(report.longest_game <= stones as usize);
        assert_eq!(report.wins_by_player.iter().sum::<usize>(), report.playouts);
    }
}

#[test]
fn default_and_canonical_specs() {
    let game = load("take_away");
    assert_eq!(game.spec().to_string(), "take_away(stones=21,max_take=3)");
    assert_eq!(load("take_away(max_take=5)").spec().to_string(), "take_away(stones=21,max_take=5)");
    // The canonical spec loads the same game back.
    let again = load(&game.spec().to_string());
    assert_eq!(again.facts(), game.facts());
    let facts = game.facts();
    assert_eq!(facts.players, 2);
    assert_eq!(facts.num_distinct_actions, 3);
    assert_eq!(facts.max_game_length, 21);
    assert_eq!(facts.observation_shape, vec![2, 64]);
    assert_eq!(facts.observation_size(), 128);
}

#[test]
fn registry_keeps_the_builtin_games() {
    let registry = registry();
    assert!(registry.find("take_away").is_ok());
    assert!(registry.find("tic_tac_toe").is_ok());
    assert!(registry.load("connect_four").is_ok());
    assert_eq!(registry.games().iter().filter(|g| g.name == REGISTRATION.name).count(), 1);
    // The default registry does not know the game: a program registers it.
    let unknown = error_text(games::load_game("take_away"));
    assert!(unknown.contains("take_away"), "{unknown}");
}

/// Sequences of exactly `depth` moves from a pile of `left`, counted on the rules alone.
fn count_sequences(left: u32, max_take: u32, depth: u32) -> u64 {
    if depth == 0 {
        return 1;
    }
    (1..=max_take.min(left)).map(|take| count_sequences(left - take, max_take, depth - 1)).sum()
}

#[test]
fn perft_by_hand() {
    // 21 stones, 1..3 per move: nothing runs out in 3 moves, so 3^depth.
    let game = load("take_away");
    let counts: Vec<u64> =
        (0..=4).map(|d| perft(game.new_initial_state().as_ref(), d, EndedGames::NotCounted)).collect();
    assert_eq!(counts, vec![1, 3, 9, 27, 81]);
    // 4 stones, 1..3: depth 2 = 3 + 2 + 1 (from 3, 2, 1 left); depth 3 = (2 + 1 + 0) + (1 + 0) + 0.
    let game = load(&spec(4, 3));
    let counts: Vec<u64> =
        (0..=5).map(|d| perft(game.new_initial_state().as_ref(), d, EndedGames::NotCounted)).collect();
    assert_eq!(counts, vec![1, 3, 6, 4, 1, 0]);
}

#[test]
fn perft_matches_an_independent_count() {
    for &(stones, max_take) in PARAMETER_SETS.iter().chain(&[(12, 3), (9, 2), (20, 5)]) {
        let game = load(&spec(stones, max_take));
        let state = game.new_initial_state();
        for depth in 0..=6u32 {
            let expected = count_sequences(stones, max_take, depth);
            assert_eq!(
                perft(state.as_ref(), depth, EndedGames::NotCounted),
                expected,
                "perft({depth}) of {}",
                spec(stones, max_take)
            );
            if stones >= depth * max_take {
                assert_eq!(expected, u64::from(max_take).pow(depth), "closed form");
            }
        }
    }
}

/// Stones left, from the initial pile and the moves played (action `a` takes `a + 1`).
fn stones_left(start: u32, state: &dyn State) -> u32 {
    let taken: u32 = state
        .history()
        .iter()
        .map(|m| match m {
            Move::Action(a) => a + 1,
            Move::Text(t) => panic!("take_away recorded text {t:?}"),
        })
        .sum();
    start - taken
}

/// The value of `state` for the player to move (+1 win, -1 loss), searching every move with the
/// game's own API. `memo` (by stones left and player to move) is optional; without it the search
/// is a plain exhaustive minimax. Every position searched is checked against the solved rule.
fn negamax(state: &dyn State, start: u32, max_take: u32, mut memo: Option<&mut HashMap<(u32, usize), f64>>) -> f64 {
    let left = stones_left(start, state);
    let player = match state.turn() {
        Turn::Player(p) => p,
        Turn::Terminal => {
            // The player who just moved took the last stone: the player "to move" lost.
            assert_eq!(left, 0);
            let winner = (state.history().len() + 1) % 2;
            assert_eq!(state.player_return(winner), 1.0);
            assert_eq!(state.player_return(1 - winner), -1.0);
            return -1.0;
        }
        Turn::Chance => panic!("take_away has no chance nodes"),
    };
    assert_eq!(player, state.history().len() % 2);
    if let Some(&value) = memo.as_ref().and_then(|m| m.get(&(left, player))) {
        return value;
    }
    let mut actions: Vec<Action> = Vec::new();
    state.legal_actions(&mut actions);
    assert_eq!(actions, (0..max_take.min(left)).collect::<Vec<_>>());
    let mut best = f64::NEG_INFINITY;
    for action in actions {
        let mut child = state.clone_box();
        child.apply(action).unwrap_or_else(|e| panic!("{e}"));
        best = best.max(-negamax(child.as_ref(), start, max_take, memo.as_deref_mut()));
    }
    let loses = left % (max_take + 1) == 0;
    assert_eq!(best, if loses { -1.0 } else { 1.0 }, "{left} stones, 1..{max_take} per move");
    if let Some(m) = memo {
        m.insert((left, player), best);
    }
    best
}

#[test]
fn solved_by_exhaustive_minimax() {
    // Plain minimax over the whole tree (every move sequence) for small games.
    for &(stones, max_take) in &[(12, 3), (15, 2), (10, 4), (9, 1), (8, 9)] {
        let game = load(&spec(stones, max_take));
        negamax(game.new_initial_state().as_ref(), stones, max_take, None);
    }
    // Every pile size and several move limits, with positions remembered.
    for max_take in [1, 2, 3, 5, 9] {
        for stones in 1..=63 {
            let game = load(&spec(stones, max_take));
            let value = negamax(game.new_initial_state().as_ref(), stones, max_take, Some(&mut HashMap::new()));
            assert_eq!(value < 0.0, stones % (max_take + 1) == 0, "{}", spec(stones, max_take));
        }
    }
}

#[test]
fn move_text_round_trips_and_reads_bare_numbers() {
    let game = load(&spec(21, 9));
    let state = game.new_initial_state();
    assert_eq!(state.action_to_string(0), "take 1");
    assert_eq!(state.action_to_string(8), "take 9");
    for text in ["take 3", "3", " Take 3 ", "TAKE3", "take  3"] {
        assert_eq!(state.parse_action(text).unwrap_or_else(|e| panic!("{text}: {e}")), 2, "{text}");
    }
    let mut state = game.new_initial_state();
    assert_eq!(apply_move_list(state.as_mut(), "99, take2").unwrap_or_else(|e| panic!("{e}")), 3);
    assert_eq!(
        state.history(),
        vec![Move::Action(8), Move::Action(8), Move::Action(1)],
        "compact and spaced moves read the same"
    );
    // One stone left: the game's only move wins it for the second player.
    state.apply_text("1").unwrap_or_else(|e| panic!("{e}"));
    assert!(state.is_terminal());
    assert_eq!((state.player_return(0), state.player_return(1)), (-1.0, 1.0));
    assert!(state.render().contains("second player took the last stone and wins"), "{}", state.render());
}

#[test]
fn observation_tensor_shows_pile_and_turn() {
    let game = load(&spec(5, 2));
    let mut state = game.new_initial_state();
    state.apply(1).unwrap_or_else(|e| panic!("{e}")); // 3 left, second player to move
    let mut tensor = vec![f32::NAN; game.facts().observation_size()];
    for player in 0..2 {
        state.observation_tensor(player, &mut tensor);
        let ones: Vec<usize> = (0..64).filter(|&i| tensor[i] == 1.0).collect();
        assert_eq!(ones, vec![3]);
        assert!(tensor[..64].iter().all(|&x| x == 0.0 || x == 1.0));
        let turn_plane = &tensor[64..];
        assert!(turn_plane.iter().all(|&x| x == if player == 1 { 1.0 } else { 0.0 }), "player {player}");
    }
    assert!(state.observation_string(1).contains("3 of 5 stones left"), "{}", state.observation_string(1));
}

/// The text of an error that `result` must be.
fn error_text<T: std::fmt::Debug>(result: games::Result<T>) -> String {
    match result {
        Ok(value) => panic!("expected an error, got {value:?}"),
        Err(e) => e.to_string(),
    }
}

fn error_of(spec: &str) -> String {
    match registry().load(spec) {
        Ok(game) => panic!("{spec} loaded as {}", game.spec()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_parameters_are_named() {
    for (spec, needles) in [
        ("take_away(stones=0)", &["stones", "0", "1..=63"][..]),
        ("take_away(stones=64)", &["stones", "64", "1..=63"]),
        ("take_away(max_take=0)", &["max_take", "0", "1..=9"]),
        ("take_away(max_take=10)", &["max_take", "10", "1..=9"]),
        ("take_away(stones=many)", &["stones", "many", "integer"]),
        ("take_away(pile=3)", &["pile", "stones", "max_take"]),
    ] {
        let error = error_of(spec);
        for needle in needles {
            assert!(error.contains(needle), "error for {spec} lacks `{needle}`: {error}");
        }
        assert!(error.contains("take_away"), "{error}");
    }
    let direct = error_text(custom_game::TakeAway::new(64, 3));
    assert!(direct.contains("stones") && direct.contains("64"), "{direct}");
    let direct = error_text(custom_game::TakeAway::new(21, 10));
    assert!(direct.contains("max_take") && direct.contains("10"), "{direct}");
}

#[test]
fn bad_moves_are_named_and_change_nothing() {
    let game = load("take_away");
    let state = game.new_initial_state();
    for (text, needle) in [
        ("take 4", "1..=3"),
        ("0", "1..=3"),
        ("banana", "take N"),
        ("take", "take N"),
        ("+2", "take N"),
        ("", "take N"),
    ] {
        let error = error_text(state.parse_action(text));
        assert!(error.contains(&format!("`{text}`")) && error.contains(needle), "{text}: {error}");
    }

    // Two stones left: taking three is illegal and the state stays as it was.
    let mut state = load(&spec(2, 3)).new_initial_state();
    let before = state.render();
    let error = error_text(state.apply_text("take 3"));
    assert!(error.contains("take 3") && error.contains("2 of 2 stones left"), "{error}");
    assert_eq!(state.render(), before);
    assert!(state.history().is_empty());
    let error = error_text(state.apply(3));
    assert!(error.contains("#3"), "{error}");

    // Moves after the end are refused and the list's error names the move.
    let mut state = game.new_initial_state();
    let error = error_text(apply_move_list(state.as_mut(), "3 3 3 3 3 3 3 1"));
    assert!(error.contains("move 8") && error.contains("`1`"), "{error}");
    assert!(state.is_terminal());
    assert_eq!(state.history().len(), 7);
    assert_eq!(state.player_return(0), 1.0, "the first player took the 21st stone");
}
