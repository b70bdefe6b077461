//! Matches: outcomes, reproducibility, and faults that cost only the faulty agent its game.

use std::time::Duration;

use agents::{Agent, AgentError, AgentRng, Decision, View, load_agent};
use arena::engine::runner::{EndReason, FaultKind, Keep, Limits, MatchSetup, play_match};
use games::{GameRecord, GameRef, Turn, load_game};

fn game(spec: &str) -> GameRef {
    load_game(spec).unwrap_or_else(|e| panic!("{e}"))
}

fn agent(spec: &str) -> Box<dyn Agent> {
    load_agent(spec).unwrap_or_else(|e| panic!("{e}"))
}

fn setup(game: &GameRef, seed: u64) -> MatchSetup<'_> {
    MatchSetup { game, seed, opening: &[], limits: Limits::default(), keep: Keep::Moves }
}

fn play(setup: &MatchSetup<'_>, a: &mut dyn Agent, b: &mut dyn Agent) -> arena::engine::runner::MatchResult {
    play_match(setup, &mut [a, b]).unwrap_or_else(|e| panic!("{e}"))
}

/// An agent that misbehaves in one way, then (with retries) may correct itself.
#[derive(Debug)]
enum Misbehaving {
    Panics,
    Illegal,
    Garbage,
    Sleeps(Duration),
    Errs,
    /// Answers garbage once, then the first legal move; counts the feedback it saw.
    LearnsFromFeedback {
        seen: Vec<String>,
    },
}

impl Agent for Misbehaving {
    fn act(&mut self, view: &View<'_>, _rng: &mut AgentRng) -> Result<Decision, AgentError> {
        match self {
            Misbehaving::Panics => panic!("the agent's own bug"),
            Misbehaving::Illegal => Ok(Decision::action(1000)),
            Misbehaving::Garbage => Ok(Decision::text("my move is the best one")),
            Misbehaving::Sleeps(time) => {
                std::thread::sleep(*time);
                Ok(Decision::action(view.legal_actions()[0]))
            }
            Misbehaving::Errs => Err(AgentError::Crashed("model file vanished".to_string())),
            Misbehaving::LearnsFromFeedback { seen } => match view.feedback() {
                None => Ok(Decision::text("middle please")),
                Some(feedback) => {
                    seen.push(feedback.to_string());
                    Ok(Decision::text(view.action_to_string(view.legal_actions()[0])))
                }
            },
        }
    }
    fn retries(&self) -> usize {
        matches!(self, Misbehaving::LearnsFromFeedback { .. }) as usize
    }
}

#[test]
fn a_match_is_a_pure_function_of_its_seed() {
    let game = game("connect_four");
    let first = play(&setup(&game, 5), &mut *agent("random"), &mut *agent("random"));
    let again = play(&setup(&game, 5), &mut *agent("random"), &mut *agent("random"));
    let other = play(&setup(&game, 6), &mut *agent("random"), &mut *agent("random"));
    assert_eq!(first.moves, again.moves);
    assert_eq!(first.returns, again.returns);
    assert_ne!(first.moves, other.moves);
    assert_eq!(first.end, EndReason::Normal);
    assert_eq!(first.length, first.moves.len());
    assert_eq!(first.move_micros.len(), first.length);
    // The kept moves replay to a finished game with the same returns.
    let record = GameRecord { game: game.spec().to_string(), moves: first.moves.clone() };
    let (_, state) = record.replay().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(state.turn(), Turn::Terminal);
    assert_eq!(games::returns(state.as_ref(), 2), first.returns);
}

#[test]
fn each_fault_loses_the_game_for_the_faulty_seat_only() {
    let game = game("tic_tac_toe");
    let cases: Vec<(Misbehaving, FaultKind, &str)> = vec![
        (Misbehaving::Panics, FaultKind::Crash, "the agent's own bug"),
        (Misbehaving::Illegal, FaultKind::IllegalAction, "not legal"),
        (Misbehaving::Garbage, FaultKind::Unparseable, "my move is the best one"),
        (Misbehaving::Errs, FaultKind::Crash, "model file vanished"),
    ];
    for (mut bad, kind, detail_part) in cases {
        for bad_seat in 0..2 {
            let mut good = agent("random");
            let result = if bad_seat == 0 {
                play(&setup(&game, 1), &mut bad, &mut *good)
            } else {
                play(&setup(&game, 1), &mut *good, &mut bad)
            };
            match &result.end {
                EndReason::Fault { seat, kind: k, detail } => {
                    assert_eq!((*seat, *k), (bad_seat, kind), "{detail}");
                    assert!(detail.contains(detail_part), "{detail}");
                }
                other => panic!("{bad:?} ended {other:?}"),
            }
            assert_eq!(result.returns[bad_seat], -1.0);
            assert_eq!(result.returns[1 - bad_seat], 1.0);
        }
    }
}

#[test]
fn a_slow_agent_loses_on_time() {
    let game = game("tic_tac_toe");
    let mut setup = setup(&game, 3);
    setup.limits.time_per_move = Some(Duration::from_millis(20));
    let result = play(&setup, &mut *agent("random"), &mut Misbehaving::Sleeps(Duration::from_millis(60)));
    assert!(matches!(result.end, EndReason::Fault { seat: 1, kind: FaultKind::Timeout, .. }), "{:?}", result.end);
}

#[test]
fn an_agent_with_retries_sees_the_error_and_corrects_itself() {
    let game = game("connect_four");
    let mut learner = Misbehaving::LearnsFromFeedback { seen: Vec::new() };
    let result = play(&setup(&game, 9), &mut learner, &mut *agent("random"));
    assert_eq!(result.end, EndReason::Normal);
    let Misbehaving::LearnsFromFeedback { seen } = learner else { unreachable!() };
    assert!(!seen.is_empty());
    assert!(seen[0].contains("middle please") && seen[0].contains("1..7"), "{}", seen[0]);
}

#[test]
fn the_move_limit_stops_a_game_as_a_draw() {
    let game = game("connect_four");
    let mut setup = setup(&game, 2);
    setup.limits.max_moves = Some(5);
    let result = play(&setup, &mut *agent("first"), &mut *agent("random"));
    assert_eq!(result.end, EndReason::MaxLength);
    assert_eq!((result.length, result.returns.clone()), (5, vec![0.0, 0.0]));
}

#[test]
fn openings_are_played_before_the_agents_and_bad_openings_are_errors() {
    let game = game("connect_four");
    let mut setup = setup(&game, 2);
    let opening = [3, 3, 4];
    setup.opening = &opening;
    let result = play(&setup, &mut *agent("random"), &mut *agent("random"));
    assert_eq!(&result.moves[..3], &[games::Move::Action(3), games::Move::Action(3), games::Move::Action(4)]);
    assert_eq!(result.move_micros.len(), result.length - 3);
    let bad = [9];
    setup.opening = &bad;
    assert!(play_match(&setup, &mut [&mut *agent("random"), &mut *agent("random")]).is_err());
}

#[test]
fn trajectories_keep_observations_and_moves_of_every_decision() {
    let game = game("tic_tac_toe");
    let mut setup = setup(&game, 4);
    setup.keep = Keep::Trajectory;
    let result = play(&setup, &mut *agent("random"), &mut *agent("random"));
    assert_eq!(result.trajectory.len(), result.length);
    for (step, mv) in result.trajectory.iter().zip(&result.moves) {
        assert_eq!(&step.action, mv);
        assert_eq!(step.observation.len(), 27);
    }
    assert_eq!(result.trajectory[0].observation[18..].iter().sum::<f32>(), 9.0, "the first view is an empty board");
}

/// Records what it is told, to check hidden chance outcomes are withheld.
#[derive(Debug, Default)]
struct Listener {
    told: Vec<(Turn, Option<u32>)>,
}

impl Agent for Listener {
    fn act(&mut self, view: &View<'_>, _rng: &mut AgentRng) -> Result<Decision, AgentError> {
        assert!(view.full_state().is_none(), "imperfect-information games hide the state");
        Ok(Decision::action(view.legal_actions()[0]))
    }
    fn observes_moves(&self) -> bool {
        true
    }
    fn observe(&mut self, actor: Turn, action: Option<u32>) {
        self.told.push((actor, action));
    }
}

#[test]
fn agents_are_not_told_private_chance_outcomes() {
    let game = game("kuhn_poker");
    let mut listener = Listener::default();
    let result = play(&setup(&game, 8), &mut listener, &mut *agent("random"));
    assert_eq!(result.end, EndReason::Normal);
    assert_eq!(&listener.told[..2], &[(Turn::Chance, None), (Turn::Chance, None)]);
    assert!(listener.told[2..].iter().all(|(_, action)| action.is_some()));
}

/// Answers with a language-model-like trace: garbage first, then the first legal move.
#[derive(Debug)]
struct TracedRetrier;

impl Agent for TracedRetrier {
    fn act(&mut self, view: &View<'_>, _rng: &mut AgentRng) -> Result<Decision, AgentError> {
        let text = match view.feedback() {
            None => "my move is the best one".to_string(),
            Some(_) => view.action_to_string(view.legal_actions()[0]),
        };
        let trace = agents::TextTrace {
            messages: vec![agents::ChatMessage::user(view.feedback().unwrap_or("Your move:"))],
            completion: text.clone(),
            tokens: vec![1],
            logprobs: vec![-1.0],
            request: None,
        };
        Ok(Decision { trace: Some(Box::new(trace)), ..Decision::text(text) })
    }

    fn retries(&self) -> usize {
        1
    }
}

#[test]
fn rejected_answers_are_kept_as_turns_marked_rejected() {
    let game = game("tic_tac_toe");
    let mut first = agent("first");
    let result = play(&setup(&game, 3), &mut TracedRetrier, first.as_mut());
    assert_eq!(result.end, EndReason::Normal);
    // Seat 0 moves at plies 0, 2, 4, ...: each decision is one rejected answer, then the one taken.
    assert!(!result.turns.is_empty());
    for pair in result.turns.chunks(2) {
        assert!(pair[0].rejected && !pair[1].rejected, "{pair:?}");
        assert_eq!((pair[0].seat, pair[0].ply), (pair[1].seat, pair[1].ply));
        assert_eq!(pair[0].trace.completion, "my move is the best one");
    }
    assert_eq!(result.turns.len() % 2, 0);
}
