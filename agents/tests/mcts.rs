//! UCT search: finds forced wins in solved connect four positions, is reproducible, refuses
//! imperfect-information games, and stops at its deadline.

use std::time::{Duration, Instant};

use agents::mcts::{MctsAgent, MctsConfig};
use agents::{Agent, AgentError, AgentFactory, AgentRng, Reply, View, load_agent};
use games::{apply_move_list, load_game};
use rand::SeedableRng;

/// Solved positions from `games/testdata/connect_four.json` (sources inside it).
fn solved_positions() -> Vec<serde_json::Value> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../games/testdata/connect_four.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let facts: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    facts["test_positions"]["positions"].as_array().cloned().unwrap_or_default()
}

fn decide(agent: &mut dyn Agent, game: &str, moves: &str, seed: u64) -> Result<agents::Decision, AgentError> {
    let game = load_game(game).unwrap_or_else(|e| panic!("{e}"));
    let mut state = game.new_initial_state();
    apply_move_list(state.as_mut(), moves).unwrap_or_else(|e| panic!("{moves}: {e}"));
    let mut legal = Vec::new();
    state.legal_actions(&mut legal);
    let player = state.current_player().unwrap_or_else(|| panic!("a player moves"));
    let view = View::new(game.as_ref(), state.as_ref(), player, &legal);
    agent.act(&view, &mut AgentRng::seed_from_u64(seed))
}

#[test]
fn mcts_finds_the_winning_moves_of_solved_connect_four_positions() {
    let mut checked = 0;
    for position in solved_positions() {
        // Forced wins within five plies: the side to move wins with its third move at the latest.
        if position["result"] != "win" || position["plies_to_end"].as_u64().is_none_or(|p| p > 5) {
            continue;
        }
        let moves = position["moves"].as_str().unwrap_or_default();
        let best: Vec<u64> =
            position["best_moves"].as_array().into_iter().flatten().filter_map(|m| m.as_u64()).collect();
        if best.is_empty() {
            continue;
        }
        let mut mcts = MctsAgent::new(MctsConfig { simulations: 20_000, ..MctsConfig::default() });
        let decision = decide(&mut mcts, "connect_four", moves, 1).unwrap_or_else(|e| panic!("{e}"));
        let Reply::Action(action) = decision.reply else { panic!("an action") };
        assert!(best.contains(&(action as u64 + 1)), "{moves}: played column {}, winning columns {best:?}", action + 1);
        assert!(
            decision.value.is_some_and(|v| v > 0.0),
            "{moves}: a won position has a positive value: {:?}",
            decision.value
        );
        checked += 1;
    }
    assert!(checked >= 4, "the test data holds at least four short forced wins, checked {checked}");
}

#[test]
fn mcts_takes_an_immediate_win_and_blocks_an_immediate_loss() {
    // x to move with three in column 1: play 1 and win.
    let mut mcts = load_agent("mcts(sims=500)").unwrap_or_else(|e| panic!("{e}"));
    let win = decide(mcts.as_mut(), "connect_four", "121212", 3).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(win.reply, Reply::Action(0));
    // o to move; x threatens column 1: block it.
    let block = decide(mcts.as_mut(), "connect_four", "12131", 3).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(block.reply, Reply::Action(0));
}

#[test]
fn mcts_is_reproducible_and_reports_visit_shares() {
    let run = |seed: u64, agent_seed: u64| {
        let mut mcts = MctsAgent::new(MctsConfig { simulations: 300, seed: agent_seed, ..MctsConfig::default() });
        decide(&mut mcts, "connect_four", "44", seed).unwrap_or_else(|e| panic!("{e}"))
    };
    assert_eq!(run(5, 0), run(5, 0));
    assert_ne!(run(5, 0).policy, run(6, 0).policy);
    assert_ne!(run(5, 0).policy, run(5, 1).policy);
    let policy = run(5, 0).policy.unwrap_or_default();
    assert_eq!(policy.len(), 7);
    let total: f32 = policy.iter().map(|(_, p)| p).sum();
    assert!((total - 1.0).abs() < 1e-5, "visit shares sum to one: {total}");
}

#[test]
fn mcts_plays_games_with_chance_but_refuses_hidden_information() {
    let mut mcts = load_agent("mcts(sims=50)").unwrap_or_else(|e| panic!("{e}"));
    match decide(mcts.as_mut(), "kuhn_poker", "J Q", 1) {
        Err(AgentError::NotSupported(reason)) => {
            assert!(reason.contains("kuhn_poker") && reason.contains("imperfect"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert!(load_agent("mcts(sims=0)").is_err());
    assert!(load_agent("mcts(c=-1)").is_err());
}

#[test]
fn mcts_stops_at_its_deadline() {
    let game = load_game("connect_four").unwrap_or_else(|e| panic!("{e}"));
    let state = game.new_initial_state();
    let mut legal = Vec::new();
    state.legal_actions(&mut legal);
    let deadline = Instant::now() + Duration::from_millis(50);
    let view = View::new(game.as_ref(), state.as_ref(), 0, &legal).with_deadline(Some(deadline));
    // A hundred million simulations (more than a spec allows): hours of work without a deadline.
    let mut agent = MctsAgent::new(MctsConfig { simulations: 100_000_000, ..MctsConfig::default() });
    let answer = agent.act(&view, &mut AgentRng::seed_from_u64(1));
    assert!(matches!(answer, Err(AgentError::Timeout(_))), "{answer:?}");
    // The most a spec allows, through the factory.
    let mut agent = AgentFactory::new().build("mcts(sims=10000000)").unwrap_or_else(|e| panic!("{e}"));
    let view = view.with_deadline(Some(Instant::now() + Duration::from_millis(50)));
    let answer = agent.act(&view, &mut AgentRng::seed_from_u64(1));
    assert!(matches!(answer, Err(AgentError::Timeout(_))), "{answer:?}");
    // A deadline already passed: no search at all.
    let view = view.with_deadline(Some(Instant::now()));
    assert!(matches!(agent.act(&view, &mut AgentRng::seed_from_u64(1)), Err(AgentError::Timeout(_))));
    assert_eq!(view.time_left(), Some(Duration::ZERO));
}

#[test]
fn a_search_that_ends_in_time_is_the_same_with_a_deadline() {
    let game = load_game("tic_tac_toe").unwrap_or_else(|e| panic!("{e}"));
    let state = game.new_initial_state();
    let mut legal = Vec::new();
    state.legal_actions(&mut legal);
    let view = View::new(game.as_ref(), state.as_ref(), 0, &legal);
    let mut agent = MctsAgent::new(MctsConfig { simulations: 300, ..MctsConfig::default() });
    let without = agent.act(&view, &mut AgentRng::seed_from_u64(9)).unwrap_or_else(|e| panic!("{e}"));
    let view = view.with_deadline(Some(Instant::now() + Duration::from_secs(3600)));
    let with = agent.act(&view, &mut AgentRng::seed_from_u64(9)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(without, with);
}
