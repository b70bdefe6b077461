//! The game API's promises: registry errors, parameters, text actions, checked moves, records.

mod common;

use games::{Error, GameRecord, Move, Turn, apply_move_list, load_game};

fn error_text(spec: &str) -> String {
    match load_game(spec) {
        Ok(game) => panic!("{spec} loaded as {:?}", game.spec()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn unknown_game_error_lists_the_registered_games() {
    let text = error_text("chess");
    for name in ["tic_tac_toe", "connect_four", "othello", "hex", "kuhn_poker"] {
        assert!(text.contains(name), "{text}");
    }
}

#[test]
fn bad_parameters_are_named_with_what_is_accepted() {
    let text = error_text("connect_four(depth=3)");
    assert!(text.contains("depth") && text.contains("rows") && text.contains("columns"), "{text}");
    let text = error_text("connect_four(rows=x)");
    assert!(text.contains("rows=x") && text.contains("integer"), "{text}");
    let text = error_text("connect_four(rows=1)");
    assert!(text.contains("2..=16"), "{text}");
    let text = error_text("connect_four(rows=9,columns=9)");
    assert!(text.contains("64"), "{text}");
    let text = error_text("connect_four(rows=3,columns=3,connect=5)");
    assert!(text.contains("connect"), "{text}");
    let text = error_text("tic_tac_toe(size=4)");
    assert!(text.contains("size") && text.contains("none"), "{text}");
    let text = error_text("connect_four(rows=6");
    assert!(text.contains("closing"), "{text}");
}

#[test]
fn canonical_specs_list_every_parameter_and_reload_to_the_same_game() {
    let game = common::game("connect_four(columns=8)");
    assert_eq!(game.spec().to_string(), "connect_four(rows=6,columns=8,connect=4)");
    let again = common::game(&game.spec().to_string());
    assert_eq!(again.facts(), game.facts());
    assert_eq!(game.facts().num_distinct_actions, 8);
    assert_eq!(game.facts().observation_shape, vec![3, 6, 8]);
}

#[test]
fn connect_four_reads_columns_as_numbers_or_letters() {
    let game = common::game("connect_four");
    let state = game.new_initial_state();
    assert_eq!(state.parse_action("4").ok(), Some(3));
    assert_eq!(state.parse_action(" d ").ok(), Some(3));
    assert_eq!(state.parse_action("G").ok(), Some(6));
    for bad in ["0", "8", "h", "", "4.5", "dd", "-1"] {
        match state.parse_action(bad) {
            Err(Error::ParseAction { reason, .. }) => assert!(reason.contains("1..7"), "{bad}: {reason}"),
            other => panic!("{bad:?} gave {other:?}"),
        }
    }
}

#[test]
fn illegal_action_is_rejected_and_leaves_the_state_unchanged() {
    let game = common::game("connect_four(rows=2,columns=4)");
    let mut state = game.new_initial_state();
    apply_move_list(state.as_mut(), "1 1").unwrap_or_else(|e| panic!("{e}"));
    let before = (state.render(), state.history());
    match state.apply(0) {
        Err(Error::IllegalAction { action, id, position }) => {
            assert_eq!((action.as_str(), id), ("1", 0));
            assert!(position.contains("xo") || position.contains('x'), "{position}");
        }
        other => panic!("a full column was accepted: {other:?}"),
    }
    assert_eq!((state.render(), state.history()), before);
}

#[test]
fn move_lists_read_separated_and_compact_forms() {
    let game = common::game("connect_four");
    for text in ["4 4 5 3", "4,4,5,3", "4453", "d d e c", "ddec"] {
        let mut state = game.new_initial_state();
        let played = apply_move_list(state.as_mut(), text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(played, 4);
        assert_eq!(state.history(), vec![Move::Action(3), Move::Action(3), Move::Action(4), Move::Action(2)], "{text}");
    }
    let mut state = game.new_initial_state();
    match apply_move_list(state.as_mut(), "4 4 9 3") {
        Err(Error::BadMove { number, text, .. }) => assert_eq!((number, text.as_str()), (3, "9")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn connect_four_detects_wins_in_every_direction_and_draws() {
    let game = common::game("connect_four");
    // Sequences whose last move wins, checked with an independent array-based referee.
    for (moves, winner) in [
        ("76443416772", 0),      // horizontal
        ("5447634112", 1),       // horizontal
        ("42165745414", 0),      // vertical
        ("235255725272", 1),     // vertical
        ("562556545364453", 0),  // rising diagonal
        ("65772465467357", 1),   // rising diagonal
        ("611362443221451", 0),  // falling diagonal
        ("3412453612337554", 1), // falling diagonal
    ] {
        let mut state = game.new_initial_state();
        let (all_but_last, last) = moves.split_at(moves.len() - 1);
        apply_move_list(state.as_mut(), all_but_last).unwrap_or_else(|e| panic!("{moves}: {e}"));
        assert_eq!(state.turn(), Turn::Player(winner), "{moves}: the game ended early\n{}", state.render());
        apply_move_list(state.as_mut(), last).unwrap_or_else(|e| panic!("{moves}: {e}"));
        assert_eq!(state.turn(), Turn::Terminal, "{moves}\n{}", state.render());
        assert_eq!(state.player_return(winner), 1.0);
        assert_eq!(state.player_return(1 - winner), -1.0);
    }
    // A full 2x2 board with connect 2 cannot be drawn, but connect 3 on it always is.
    let game = common::game("connect_four(rows=2,columns=2,connect=2)");
    let mut state = game.new_initial_state();
    apply_move_list(state.as_mut(), "1 2 1").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(state.player_return(0), 1.0);
    let game = common::game("connect_four(rows=2,columns=3,connect=3)");
    let mut state = game.new_initial_state();
    apply_move_list(state.as_mut(), "1 2 3 1 2 3").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((state.turn(), state.player_return(0)), (Turn::Terminal, 0.0));
}

#[test]
fn records_round_trip_through_json_and_replay_exactly() {
    let game = common::game("connect_four(rows=5,columns=6)");
    let mut state = game.new_initial_state();
    apply_move_list(state.as_mut(), "3 4 3 4 1").unwrap_or_else(|e| panic!("{e}"));
    let record = games::record_of(game.as_ref(), state.as_ref());
    let json = record.to_json();
    assert_eq!(json, r#"{"game":"connect_four(rows=5,columns=6,connect=4)","moves":[2,3,2,3,0]}"#);
    let (_, replayed) = GameRecord::from_json(&json).and_then(|r| r.replay()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(replayed.render(), state.render());
    let broken = GameRecord { game: record.game.clone(), moves: vec![Move::Action(9)] };
    match broken.replay() {
        Err(Error::BadMove { number: 1, .. }) => {}
        other => panic!("{other:?}"),
    }
    assert!(matches!(GameRecord::from_json("{\"game\":1}"), Err(Error::BadRecord(_))));
}

#[test]
fn observation_tensor_shows_the_board_from_the_observer_side() {
    let game = common::game("tic_tac_toe");
    let mut state = game.new_initial_state();
    apply_move_list(state.as_mut(), "b2 a1").unwrap_or_else(|e| panic!("{e}"));
    let mut x_view = vec![0.0; 27];
    let mut o_view = vec![0.0; 27];
    state.observation_tensor(0, &mut x_view);
    state.observation_tensor(1, &mut o_view);
    // Plane 0 holds the observer's marks, plane 1 the opponent's, plane 2 the empty cells.
    assert_eq!((x_view[4], x_view[9]), (1.0, 1.0));
    assert_eq!((o_view[0], o_view[13]), (1.0, 1.0));
    assert_eq!(x_view[18..].iter().sum::<f32>(), 7.0);
}
