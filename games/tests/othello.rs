//! Othello: perft against the published counts, the text forms of moves, forced passes and the end.

mod common;

use common::{game, testdata, u64s};
use games::othello::PASS;
use games::perft::{EndedGames, perft};
use games::playout::random_playout;
use games::{Action, Error, State, Turn, returns};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

fn legal(state: &dyn State) -> Vec<Action> {
    let mut actions = Vec::new();
    state.legal_actions(&mut actions);
    actions
}

/// Discs of black (player 0) and white, read from the observation planes of player 0.
fn disc_counts(state: &dyn State) -> (usize, usize) {
    let mut planes = vec![0.0; 3 * 64];
    state.observation_tensor(0, &mut planes);
    let count = |plane: &[f32]| plane.iter().filter(|&&v| v == 1.0).count();
    (count(&planes[..64]), count(&planes[64..128]))
}

#[test]
fn othello_perft_matches_published_counts_to_depth_9() {
    let facts = testdata("othello.json");
    let expected = u64s(&facts["perft"]["values"]);
    let state = game("othello").new_initial_state();
    // Depth 9 needs the forced pass to be a ply (3005320 otherwise). Depth 10 has its own test.
    for (depth, &want) in expected.iter().enumerate().take(10) {
        assert_eq!(perft(state.as_ref(), depth as u32, EndedGames::CountedAsLeaf), want, "othello perft({depth})");
    }
}

#[test]
fn othello_perft_matches_published_count_at_depth_10() {
    let facts = testdata("othello.json");
    let expected = u64s(&facts["perft"]["values"]);
    let state = game("othello").new_initial_state();
    // About 0.5 s in the opt-level-1 test profile; it also counts the 228 games ended at ply 9.
    assert_eq!(perft(state.as_ref(), 10, EndedGames::CountedAsLeaf), expected[10], "othello perft(10)");
}

#[test]
fn facts_and_start_position() {
    let game = game("othello");
    let facts = game.facts();
    assert_eq!(facts.name, "othello");
    assert_eq!(facts.num_distinct_actions, 65);
    assert_eq!(PASS, 64, "the pass comes after the 64 cells");
    assert_eq!(facts.observation_shape, vec![3, 8, 8]);
    assert_eq!(game.spec().to_string(), "othello");
    let state = game.new_initial_state();
    assert_eq!(state.turn(), Turn::Player(0));
    assert_eq!(disc_counts(state.as_ref()), (2, 2));
    let names: Vec<String> = legal(state.as_ref()).iter().map(|&a| state.action_to_string(a)).collect();
    assert_eq!(names, ["d3", "c4", "f5", "e6"]);
    let text = state.observation_string(0);
    assert!(text.starts_with("Othello. You play black (x).\n  a b c d e f g h\n"), "{text}");
    assert!(text.contains("4 . . . o x . . .\n5 . . . x o . . .\n"), "{text}");
    assert!(text.ends_with("Black (x) to move."), "{text}");
}

#[test]
fn a_move_flips_the_bracketed_discs() -> games::Result<()> {
    let mut state = game("othello").new_initial_state();
    state.apply_text("d3")?;
    assert_eq!(disc_counts(state.as_ref()), (4, 1));
    assert!(state.render().contains("3 . . . x . . . .\n4 . . . x x . . .\n5 . . . x o . . .\n"));
    assert_eq!(state.turn(), Turn::Player(1));
    let names: Vec<String> = legal(state.as_ref()).iter().map(|&a| state.action_to_string(a)).collect();
    assert_eq!(names, ["c3", "e3", "c5"]);
    Ok(())
}

#[test]
fn text_round_trips_and_rejects_other_text() -> games::Result<()> {
    let state = game("othello").new_initial_state();
    // d3: column d (3), rank 3 (row 2).
    assert_eq!(state.parse_action("d3")?, 2 * 8 + 3);
    assert_eq!(state.parse_action("D3")?, 2 * 8 + 3);
    assert_eq!(state.parse_action("pass")?, PASS);
    assert_eq!(state.parse_action(" PASS ")?, PASS);
    for action in 0..=PASS {
        assert_eq!(state.parse_action(&state.action_to_string(action))?, action);
    }
    for bad in ["z9", "", "d9", "i1", "a0", "pas", "d3 d4"] {
        match state.parse_action(bad) {
            Err(Error::ParseAction { reason, .. }) => assert!(reason.contains("pass"), "{bad}: {reason}"),
            other => panic!("{bad:?} should not parse: {other:?}"),
        }
    }
    Ok(())
}

#[test]
fn illegal_actions_are_rejected_and_leave_the_state_unchanged() {
    let mut state = game("othello").new_initial_state();
    let (render, history) = (state.render(), state.history());
    assert!(matches!(state.apply_text("a1"), Err(Error::IllegalAction { .. })));
    for action in [PASS, PASS + 1, 1000, u32::MAX] {
        assert!(!state.is_legal(action));
        assert!(matches!(state.apply(action), Err(Error::IllegalAction { .. })));
    }
    assert_eq!(state.render(), render);
    assert_eq!(state.history(), history);
}

#[test]
fn a_player_without_a_disc_move_must_pass_and_the_other_moves() {
    let othello = game("othello");
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(2024);
    let mut passes = 0;
    let mut actions = Vec::new();
    for _ in 0..200 {
        let mut state = othello.new_initial_state();
        while let Turn::Player(player) = state.turn() {
            state.legal_actions(&mut actions);
            if actions.contains(&PASS) {
                assert_eq!(actions, [PASS], "a pass is the only legal action when it is legal");
                assert!(state.observation_string(player).ends_with("must pass."));
                assert!((0..64).all(|cell| !state.is_legal(cell)));
                let mut after = state.clone();
                after.apply(PASS).unwrap_or_else(|e| panic!("the forced pass is legal: {e}"));
                assert_eq!(after.turn(), Turn::Player(1 - player), "after a pass the other player moves");
                assert!(!legal(after.as_ref()).contains(&PASS), "passes are never consecutive");
                passes += 1;
            } else {
                assert!(!state.is_legal(PASS));
            }
            let action = actions[rng.random_range(0..actions.len())];
            state.apply(action).unwrap_or_else(|e| panic!("a legal action: {e}"));
        }
    }
    assert!(passes > 0, "200 random games should contain a forced pass");
}

#[test]
fn the_game_ends_when_neither_side_can_move_and_returns_follow_the_disc_counts() {
    let othello = game("othello");
    let max_length = othello.facts().max_game_length;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
    let mut buffer = Vec::new();
    let mut decided = 0;
    for _ in 0..300 {
        let mut state = othello.new_initial_state();
        let plies = random_playout(state.as_mut(), &mut rng, &mut buffer);
        assert!(state.is_terminal());
        assert_eq!(plies, state.history().len());
        assert!(plies <= max_length);
        assert!(legal(state.as_ref()).is_empty());
        let (black, white) = disc_counts(state.as_ref());
        let expected = match black.cmp(&white) {
            std::cmp::Ordering::Greater => [1.0, -1.0],
            std::cmp::Ordering::Less => [-1.0, 1.0],
            std::cmp::Ordering::Equal => [0.0, 0.0],
        };
        assert_eq!(returns(state.as_ref(), 2), expected, "{black}-{white}\n{}", state.render());
        assert!(state.observation_string(1).contains("Game over"));
        decided += usize::from(black != white);
    }
    assert!(decided > 0, "random games are not all drawn");
}

/// The first forced passes come at ply 8 and the first finished games at ply 9 (the facts file
/// counts them): a check of the pass and end rules that does not rely on perft's totals.
#[test]
fn first_passes_and_first_finished_games_match_the_counted_figures() {
    let facts = testdata("othello.json");
    let stats = &facts["node_stats_pass_is_ply"]["values"];
    let want = |depth: &str, key: &str| stats[depth][key].as_u64().unwrap_or(0);
    let mut passes = [0u64; 10];
    let mut finished = [0u64; 10];
    let mut buffers = vec![Vec::new(); 10];
    walk(game("othello").new_initial_state().as_ref(), 0, 9, &mut passes, &mut finished, &mut buffers);
    for depth in 0..=9 {
        let key = depth.to_string();
        assert_eq!(passes[depth], want(&key, "pass"), "forced passes at depth {depth}");
        assert_eq!(finished[depth], want(&key, "terminal"), "finished games at depth {depth}");
    }
}

fn walk(
    state: &dyn State,
    depth: usize,
    max_depth: usize,
    passes: &mut [u64],
    finished: &mut [u64],
    buffers: &mut [Vec<Action>],
) {
    let (mine, deeper) = buffers.split_first_mut().unwrap_or_else(|| unreachable!("one buffer per depth"));
    state.legal_actions(mine);
    if state.is_terminal() {
        finished[depth] += 1;
        return;
    }
    if mine.as_slice() == [PASS] {
        passes[depth] += 1;
    }
    if depth == max_depth {
        return;
    }
    for &action in mine.iter() {
        let mut child = state.clone_box();
        child.apply_unchecked(action);
        walk(child.as_ref(), depth + 1, max_depth, passes, finished, deeper);
    }
}
