//! Every registered game, and variants of their parameters, passes the conformance kit.

mod common;

use games::conformance::{Config, check};

fn passes(spec: &str, playouts: usize) {
    let game = common::game(spec);
    let report =
        check(game.as_ref(), &Config { playouts, seed: 7 }).unwrap_or_else(|violation| panic!("{spec}: {violation}"));
    assert_eq!(report.playouts, playouts);
    assert!(report.longest_game <= game.facts().max_game_length);
    assert_eq!(report.wins_by_player.iter().sum::<usize>() + report.ties, playouts);
}

#[test]
fn every_registered_game_passes_the_conformance_kit() {
    // A game process has no defaults to load; its examples are checked in tests/process.rs.
    for registration in games::BUILTIN.iter().filter(|r| r.name != games::process::PROC) {
        passes(registration.name, 2000);
    }
}

#[test]
fn parameter_variants_pass_the_conformance_kit() {
    for spec in [
        "connect_four(rows=4,columns=5,connect=3)",
        "connect_four(rows=7,columns=8,connect=5)",
        "connect_four(rows=3,columns=16,connect=3)",
        // Lines as long as the board is tall: the line check shifts past 64 bits.
        "connect_four(rows=16,columns=3,connect=16)",
        "connect_four(rows=2,columns=16,connect=16)",
        "hex(size=5,swap=true)",
        "hex(size=2)",
        "debate(judge=oracle)",
        "debate(rounds=1,items=300)",
        "debate(rounds=3,judge=oracle,items=300)",
        "debate(rounds=3,judge=seat,items=300)",
        "quiz(items=50,kinds=comparison)",
        "quiz(items=300,seed=9,kinds=letter_count+largest)",
        "deduction(numbers=2,questions=0)",
        "deduction(numbers=100,questions=20)",
        "negotiation(max_count=1,turns=1,scenarios=1)",
        "negotiation(max_count=5,turns=20,scenarios=50,seed=3)",
    ] {
        passes(spec, 1000);
    }
}

#[test]
fn conformance_runs_are_reproducible() {
    let game = common::game("connect_four");
    let config = Config { playouts: 300, seed: 11 };
    let first = check(game.as_ref(), &config).unwrap_or_else(|v| panic!("{v}"));
    let second = check(game.as_ref(), &config).unwrap_or_else(|v| panic!("{v}"));
    assert_eq!(first, second);
}

#[test]
fn board_games_declare_their_symmetries() {
    let names = |spec: &str| -> Vec<&'static str> { common::game(spec).symmetries().iter().map(|s| s.name).collect() };
    assert_eq!(names("connect_four"), ["mirror"]);
    assert_eq!(names("tic_tac_toe").len(), 7);
    assert_eq!(names("othello"), ["rotate180", "transpose", "antitranspose"]);
    assert_eq!(names("hex(size=5,swap=true)"), ["rotate180"]);
    assert!(names("kuhn_poker").is_empty());
    // Connect four's mirror: column a is column g, and the observation's rows are reversed left-right.
    let mirror = &common::game("connect_four").symmetries()[0];
    assert_eq!((mirror.action(0), mirror.action(3), mirror.action(6)), (6, 3, 0));
    let game = common::game("connect_four");
    let mut state = game.new_initial_state();
    games::apply_move_list(state.as_mut(), "1 1 2").expect("legal moves");
    let mut image = game.new_initial_state();
    games::apply_move_list(image.as_mut(), "7 7 6").expect("legal moves");
    let (mut a, mut b, mut transformed) = (vec![0.0; 126], vec![0.0; 126], Vec::new());
    state.observation_tensor(1, &mut a);
    image.observation_tensor(1, &mut b);
    mirror.transform_observation(&a, &mut transformed);
    assert_eq!(transformed, b);
}
