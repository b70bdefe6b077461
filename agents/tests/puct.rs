//! PUCT search with a network: sims=0 plays the policy, search finds wins and handles chance,
//! the same seed gives the same game, batching changes nothing, and unsuitable games are refused.

use std::sync::Arc;
use std::time::{Duration, Instant};

use agents::checkpoint::Checkpoint;
use agents::evaluator::{BatchConfig, BatchingEvaluator, DirectEvaluator, Evaluator, InferenceThreads, Position};
use agents::network::Architecture;
use agents::puct::{PuctConfig, RootNoise};
use agents::{
    Agent, AgentConfig, AgentError, AgentFactory, AgentRng, CheckpointAgentConfig, Decision, PuctAgent, Reply, View,
    load_agent,
};
use games::playout::sample_chance;
use games::{
    Action, Game, GameFacts, GameRef, Information, InputKind, Move, Player, Spec, State, Turn, Utility,
    apply_move_list, load_game,
};
use rand::SeedableRng;

fn checkpoint(game: &GameRef, architecture: &str, seed: u64) -> Checkpoint {
    Checkpoint::init(game, Architecture::parse(architecture).expect("architecture"), seed).expect("init")
}

fn agent(checkpoint: &Checkpoint, config: PuctConfig) -> PuctAgent {
    PuctAgent::from_checkpoint(checkpoint, config).expect("agent")
}

fn act(agent: &mut dyn Agent, game: &GameRef, state: &dyn State, seed: u64) -> Result<Decision, AgentError> {
    let player = state.current_player().expect("a player to move");
    let mut legal = Vec::new();
    state.legal_actions(&mut legal);
    agent.act(&View::new(game.as_ref(), state, player, &legal), &mut AgentRng::seed_from_u64(seed))
}

/// Plays a whole game as the engine would (a seeded RNG per seat, chance from its own stream);
/// returns every decision.
fn play(game: &GameRef, agents: &mut [&mut dyn Agent], seed: u64) -> Vec<Decision> {
    let mut state = game.new_initial_state();
    let mut rngs: Vec<AgentRng> = (0..2).map(|seat| AgentRng::seed_from_u64(seed * 10 + seat)).collect();
    let mut chance_rng = AgentRng::seed_from_u64(seed * 10 + 9);
    for (seat, agent) in agents.iter_mut().enumerate() {
        agent.start(game, seat).expect("start");
    }
    let (mut legal, mut outcomes, mut decisions) = (Vec::new(), Vec::new(), Vec::new());
    loop {
        match state.turn() {
            Turn::Terminal => return decisions,
            Turn::Chance => {
                state.chance_outcomes(&mut outcomes);
                state.apply(sample_chance(&outcomes, &mut chance_rng)).expect("chance");
            }
            Turn::Player(player) => {
                state.legal_actions(&mut legal);
                let view = View::new(game.as_ref(), state.as_ref(), player, &legal);
                let decision = agents[player].act(&view, &mut rngs[player]).expect("act");
                let Reply::Action(action) = decision.reply else { panic!("text reply") };
                state.apply(action).expect("legal move");
                decisions.push(decision);
            }
        }
    }
}

/// A decision with its floats as bits: (move, policy, value).
type DecisionBits = (Reply, Vec<(Action, u32)>, u32);

fn bits(decisions: &[Decision]) -> Vec<DecisionBits> {
    decisions
        .iter()
        .map(|d| {
            let policy = d.policy.as_ref().expect("policy").iter().map(|&(a, p)| (a, p.to_bits())).collect();
            (d.reply.clone(), policy, d.value.expect("value").to_bits())
        })
        .collect()
}

#[test]
fn with_no_simulations_the_agent_plays_the_network_policy() {
    let game = load_game("tic_tac_toe").expect("game");
    let checkpoint = checkpoint(&game, "mlp(hidden=32,layers=1)", 9);
    let state = game.new_initial_state();
    let legal: Vec<Action> = (0..9).collect();
    let mut observation = vec![0.0; 27];
    state.observation_tensor(0, &mut observation);
    let mut direct = DirectEvaluator::new(Arc::new(checkpoint.network().inference().expect("inference")));
    let mut evaluations = Vec::new();
    direct.evaluate(&[Position { observation: &observation, legal: &legal }], &mut evaluations).expect("evaluate");
    let priors = &evaluations[0].priors;

    let greedy = PuctConfig { simulations: 0, temperature: 0.0, ..PuctConfig::default() };
    let decision = act(&mut agent(&checkpoint, greedy), &game, state.as_ref(), 1).expect("act");
    let best = (0..9).fold(0, |best, a| if priors[a] > priors[best] { a } else { best });
    assert_eq!(decision.reply, Reply::Action(best as Action));
    let policy = decision.policy.expect("policy");
    assert_eq!(policy, legal.iter().map(|&a| (a, priors[a as usize])).collect::<Vec<_>>());
    assert_eq!(decision.value, Some(evaluations[0].value));

    // At temperature 1 moves are drawn from the priors.
    let mut sampler = agent(&checkpoint, PuctConfig { simulations: 0, temperature: 1.0, ..PuctConfig::default() });
    let mut counts = [0usize; 9];
    let mut rng = AgentRng::seed_from_u64(5);
    let view = View::new(game.as_ref(), state.as_ref(), 0, &legal);
    for _ in 0..4000 {
        let Reply::Action(action) = sampler.act(&view, &mut rng).expect("act").reply else { panic!("text") };
        counts[action as usize] += 1;
    }
    for action in 0..9 {
        let share = counts[action] as f32 / 4000.0;
        assert!((share - priors[action]).abs() < 0.03, "action {action}: drawn {share}, prior {}", priors[action]);
    }
}

/// Tic-tac-toe after `a1 a2 b1 b2`, where x wins at once with c1, and a small untrained network:
/// the game, the checkpoint, the position and the winning move.
fn x_wins_at_c1() -> (GameRef, Checkpoint, Box<dyn State>, Action) {
    let game = load_game("tic_tac_toe").expect("game");
    let checkpoint = checkpoint(&game, "mlp(hidden=16,layers=1)", 2);
    let mut state = game.new_initial_state();
    apply_move_list(state.as_mut(), "a1 a2 b1 b2").expect("moves");
    let win = state.parse_action("c1").expect("c1");
    (game, checkpoint, state, win)
}

#[test]
fn search_takes_an_immediate_win_and_reports_visit_shares() {
    let (game, checkpoint, state, win) = x_wins_at_c1();
    let mut searcher = agent(&checkpoint, PuctConfig { simulations: 300, ..PuctConfig::default() });
    let decision = act(&mut searcher, &game, state.as_ref(), 3).expect("act");
    assert_eq!(decision.reply, Reply::Action(win));
    let policy = decision.policy.clone().expect("policy");
    let mut legal = Vec::new();
    state.legal_actions(&mut legal);
    assert_eq!(policy.iter().map(|&(a, _)| a).collect::<Vec<_>>(), legal);
    let total: f32 = policy.iter().map(|&(_, p)| p).sum();
    assert!((total - 1.0).abs() < 1e-5, "{total}");
    let share = policy.iter().find(|&&(a, _)| a == win).map(|&(_, p)| p).unwrap_or(0.0);
    assert!(share > 0.5, "the winning move got {share} of the visits");
    assert!(decision.value.expect("value") > 0.5, "{decision:?}");
}

#[test]
fn the_discount_values_a_win_less_for_each_ply_it_lies_away() {
    // x wins at once with c1. Every simulation reaches the root at least one ply up, so with a
    // discount of 0.2 the root keeps at most 0.8 of each backed-up value (its own first
    // evaluation aside); without it the root is valued near a sure win.
    let (game, checkpoint, state, win) = x_wins_at_c1();
    let sims = 300;
    let search = |discount: f32| {
        let config = PuctConfig { simulations: sims, win_check: true, discount, ..PuctConfig::default() };
        let decision = act(&mut agent(&checkpoint, config), &game, state.as_ref(), 3).expect("act");
        assert_eq!(decision.reply, Reply::Action(win), "discount {discount}");
        decision.value.expect("value")
    };
    let plain = search(0.0);
    let discounted = search(0.2);
    assert!(plain > 0.85, "{plain}");
    let bound = (1.0 + 0.8 * sims as f32) / (sims + 1) as f32;
    assert!(discounted <= bound + 1e-6 && discounted > 0.6, "{discounted} against at most {bound}");
}

/// The visit share of each legal move of connect four after `moves`, searched by an untrained
/// network with `simulations`, with or without the win check; and the move chosen.
fn connect_four_visits(moves: &str, network_seed: u64, simulations: usize, win_check: bool) -> (Vec<f32>, Action) {
    let game = load_game("connect_four").expect("game");
    let checkpoint = checkpoint(&game, "mlp(hidden=16,layers=1)", network_seed);
    let mut state = game.new_initial_state();
    apply_move_list(state.as_mut(), moves).expect("moves");
    let mut searcher = agent(&checkpoint, PuctConfig { simulations, win_check, ..PuctConfig::default() });
    let decision = act(&mut searcher, &game, state.as_ref(), 3).expect("act");
    let shares = decision.policy.expect("policy").iter().map(|&(_, share)| share).collect();
    let Reply::Action(action) = decision.reply else { panic!("an action") };
    (shares, action)
}

#[test]
fn the_win_check_refutes_moves_that_let_the_opponent_win_at_once() {
    // x holds a1 b1 c1: o must block in column 4 (action 3); every other move loses at once.
    let block: Action = 3;
    for network_seed in 0..6 {
        let (checked, chosen) = connect_four_visits("1 1 2 2 3", network_seed, 21, true);
        assert_eq!(chosen, block, "network {network_seed}: {checked:?}");
        // Each losing move is refuted by the one simulation that reaches it.
        for (action, &share) in checked.iter().enumerate() {
            if action as Action != block {
                assert!(share <= 2.0 / 21.0, "network {network_seed}: move {action} got {share} of the visits");
            }
        }
        // Without the check the untrained network must find x's reply itself: the losing moves
        // keep more of the visits.
        let (unchecked, _) = connect_four_visits("1 1 2 2 3", network_seed, 21, false);
        let losing = |shares: &[f32]| {
            shares.iter().enumerate().filter(|&(a, _)| a as Action != block).map(|(_, s)| s).sum::<f32>()
        };
        assert!(losing(&unchecked) > losing(&checked), "network {network_seed}: {unchecked:?} vs {checked:?}");
    }
    // The root itself is searched as usual: a win at once is taken, with its children to show.
    let (shares, chosen) = connect_four_visits("1 5 2 5 3 6", 0, 21, true);
    assert_eq!((chosen, shares.len()), (3, 7), "{shares:?}");
}

#[test]
fn the_same_seed_gives_the_same_game() {
    let game = load_game("connect_four").expect("game");
    let checkpoint = checkpoint(&game, "resnet(channels=4,blocks=1)", 4);
    let config = PuctConfig {
        simulations: 12,
        temperature: 1.0,
        noise: Some(RootNoise { alpha: 0.5, fraction: 0.25 }),
        ..PuctConfig::default()
    };
    let run = |seed| {
        let (mut first, mut second) = (agent(&checkpoint, config), agent(&checkpoint, config));
        bits(&play(&game, &mut [&mut first, &mut second], seed))
    };
    let once = run(1);
    assert_eq!(once, run(1));
    assert_ne!(once, run(2), "different seeds should give different games");
}

#[test]
fn batching_with_other_games_in_flight_changes_nothing() {
    let game = load_game("connect_four").expect("game");
    let checkpoint = checkpoint(&game, "resnet(channels=8,blocks=1)", 6);
    let config = PuctConfig {
        simulations: 16,
        temperature: 1.0,
        noise: Some(RootNoise { alpha: 1.0, fraction: 0.25 }),
        ..PuctConfig::default()
    };
    let seeds = [11u64, 12, 13, 14];
    let direct: Vec<_> = seeds
        .iter()
        .map(|&seed| {
            let (mut first, mut second) = (agent(&checkpoint, config), agent(&checkpoint, config));
            bits(&play(&game, &mut [&mut first, &mut second], seed))
        })
        .collect();

    let network = Arc::new(checkpoint.network().inference().expect("inference"));
    let batch = BatchConfig { max_batch: 8, max_wait: Duration::from_millis(2) };
    let batching = BatchingEvaluator::start(network, InferenceThreads::new(1).expect("threads"), batch).expect("start");
    let spec = checkpoint.info().game.clone();
    let batched: Vec<_> = std::thread::scope(|scope| {
        let workers: Vec<_> = seeds
            .iter()
            .map(|&seed| {
                let (a, b): (Box<dyn Evaluator>, Box<dyn Evaluator>) =
                    (Box::new(batching.client()), Box::new(batching.client()));
                let (game, spec) = (&game, &spec);
                scope.spawn(move || {
                    let mut first = PuctAgent::new(spec.clone(), "batched", a, config);
                    let mut second = PuctAgent::new(spec.clone(), "batched", b, config);
                    bits(&play(game, &mut [&mut first, &mut second], seed))
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("worker")).collect()
    });
    for (seed, (a, b)) in seeds.iter().zip(direct.iter().zip(&batched)) {
        assert_eq!(a, b, "game {seed} differs when batched");
    }
    let stats = batching.stats();
    let decisions: usize = direct.iter().map(Vec::len).sum();
    // One evaluation per decision's root and per simulation that did not end on a terminal node.
    assert!(stats.positions as usize <= decisions * (config.simulations + 1) && stats.positions as usize >= decisions);
    eprintln!("batched {} positions in {} forward passes", stats.positions, stats.batches);
}

/// A perfect-information game with chance: player 0 picks `safe` (wins with probability 0.8)
/// or `risky` (wins with probability 0.3); a chance move then decides.
#[derive(Debug)]
struct LuckyDraw {
    facts: GameFacts,
}

#[derive(Clone, Debug, Default)]
struct LuckyDrawState {
    pick: Option<Action>,
    won: Option<bool>,
}

impl LuckyDraw {
    fn new() -> Self {
        LuckyDraw {
            facts: GameFacts {
                name: "lucky_draw",
                players: 2,
                chance: true,
                information: Information::Perfect,
                utility: Utility::ZeroSum,
                num_distinct_actions: 2,
                max_chance_outcomes: 2,
                max_game_length: 2,
                observation_shape: vec![2],
                min_return: -1.0,
                max_return: 1.0,
                input: InputKind::Discrete,
            },
        }
    }
}

impl Game for LuckyDraw {
    fn facts(&self) -> &GameFacts {
        &self.facts
    }
    fn spec(&self) -> Spec {
        Spec::new("lucky_draw")
    }
    fn new_initial_state(&self) -> Box<dyn State> {
        Box::new(LuckyDrawState::default())
    }
}

impl State for LuckyDrawState {
    fn turn(&self) -> Turn {
        match (self.pick, self.won) {
            (None, _) => Turn::Player(0),
            (Some(_), None) => Turn::Chance,
            _ => Turn::Terminal,
        }
    }
    fn legal_actions(&self, out: &mut Vec<Action>) {
        out.clear();
        if self.pick.is_none() {
            out.extend([0, 1]);
        }
    }
    fn chance_outcomes(&self, out: &mut Vec<(Action, f64)>) {
        out.clear();
        if let (Some(pick), None) = (self.pick, self.won) {
            let win = if pick == 0 { 0.8 } else { 0.3 };
            out.extend([(0, 1.0 - win), (1, win)]);
        }
    }
    fn is_legal(&self, action: Action) -> bool {
        action < 2 && self.turn() != Turn::Terminal
    }
    fn apply_unchecked(&mut self, action: Action) {
        match self.pick {
            None => self.pick = Some(action),
            Some(_) => self.won = Some(action == 1),
        }
    }
    fn player_return(&self, player: Player) -> f64 {
        match self.won {
            Some(won) if won == (player == 0) => 1.0,
            Some(_) => -1.0,
            None => 0.0,
        }
    }
    fn action_to_string(&self, action: Action) -> String {
        action.to_string()
    }
    fn parse_action(&self, text: &str) -> games::Result<Action> {
        text.parse().map_err(|_| games::Error::ParseAction { text: text.to_string(), reason: "0 or 1".to_string() })
    }
    fn observation_string(&self, _player: Player) -> String {
        format!("{self:?}")
    }
    fn observation_tensor(&self, _player: Player, out: &mut [f32]) {
        out[0] = self.pick.map_or(0.0, |p| p as f32 + 1.0);
        out[1] = self.won.map_or(0.0, |w| if w { 1.0 } else { -1.0 });
    }
    fn history(&self) -> Vec<Move> {
        self.pick.into_iter().chain(self.won.map(Action::from)).map(Move::Action).collect()
    }
    fn render(&self) -> String {
        format!("{self:?}")
    }
    fn clone_box(&self) -> Box<dyn State> {
        Box::new(self.clone())
    }
}

#[test]
fn search_averages_over_chance_outcomes() {
    let game: GameRef = Arc::new(LuckyDraw::new());
    let checkpoint = checkpoint(&game, "mlp(hidden=8,layers=1)", 1);
    let mut searcher = agent(&checkpoint, PuctConfig { simulations: 400, ..PuctConfig::default() });
    let decision = act(&mut searcher, &game, game.new_initial_state().as_ref(), 7).expect("act");
    assert_eq!(decision.reply, Reply::Action(0), "{decision:?}");
    // The safe pick is worth 0.8 - 0.2 = 0.6; the root value tends to it as visits concentrate.
    let value = decision.value.expect("value");
    assert!((0.3..0.8).contains(&value), "root value {value}");
}

#[test]
fn imperfect_information_games_are_not_supported() {
    let game = load_game("kuhn_poker").expect("game");
    let checkpoint = checkpoint(&game, "mlp(hidden=8,layers=1)", 1);
    let mut searcher = agent(&checkpoint, PuctConfig::default());
    let error = searcher.start(&game, 0).expect_err("kuhn poker");
    assert!(
        matches!(&error, AgentError::NotSupported(text) if text.contains("kuhn_poker") && text.contains("hidden")),
        "{error}"
    );
    let mut state = game.new_initial_state();
    state.apply(0).expect("deal");
    state.apply(1).expect("deal");
    let error = act(&mut searcher, &game, state.as_ref(), 1).expect_err("kuhn poker");
    assert!(error.to_string().contains("kuhn_poker"), "{error}");
}

#[test]
fn a_network_for_another_game_is_refused() {
    let tic_tac_toe = load_game("tic_tac_toe").expect("game");
    let connect_four = load_game("connect_four").expect("game");
    let mut searcher = agent(&checkpoint(&tic_tac_toe, "mlp(hidden=8,layers=1)", 1), PuctConfig::default());
    let error = searcher.start(&connect_four, 0).expect_err("wrong game").to_string();
    assert!(error.contains("tic_tac_toe") && error.contains("connect_four"), "{error}");
}

#[test]
fn the_checkpoint_agent_loads_by_spec_and_shares_weights() {
    let game = load_game("tic_tac_toe").expect("game");
    let temp = tempfile::tempdir().expect("tempdir");
    checkpoint(&game, "mlp(hidden=8,layers=1)", 1).save(temp.path()).expect("save");
    let spec = format!("checkpoint(path={},sims=8,temperature=0.5,noise=true)", temp.path().display());
    let factory = AgentFactory::new();
    let (mut first, mut second) = (factory.build(&spec).expect("agent"), factory.build(&spec).expect("agent"));
    let decisions = play(&game, &mut [first.as_mut(), second.as_mut()], 3);
    assert!(!decisions.is_empty());
    let shared = factory.checkpoint(temp.path()).expect("shared");
    assert!(Arc::ptr_eq(&shared, &factory.checkpoint(temp.path()).expect("shared")));
    // Held by the factory, the two agents and `shared`.
    assert_eq!(Arc::strong_count(&shared), 4);

    // The typed config plays the same game as its spec.
    let config =
        CheckpointAgentConfig { sims: 8, temperature: 0.5, noise: true, ..CheckpointAgentConfig::new(temp.path()) };
    let config = AgentConfig::Checkpoint(config);
    let (mut first, mut second) =
        (factory.build_config(&config).expect("agent"), factory.build_config(&config).expect("agent"));
    assert_eq!(bits(&play(&game, &mut [first.as_mut(), second.as_mut()], 3)), bits(&decisions));

    let error =
        load_agent(&format!("checkpoint(path={},sims=-1)", temp.path().display())).expect_err("sims").to_string();
    assert!(error.contains("sims"), "{error}");
    let error = load_agent("checkpoint(path=/no/such/checkpoint)").expect_err("missing").to_string();
    assert!(error.contains("/no/such/checkpoint") && error.contains("does not exist"), "{error}");
}

#[test]
fn a_checkpoint_agent_stops_at_its_deadline() {
    let game = load_game("tic_tac_toe").expect("game");
    let temp = tempfile::tempdir().expect("tempdir");
    checkpoint(&game, "mlp(hidden=8,layers=1)", 1).save(temp.path()).expect("save");
    // Millions of simulations: minutes of work without a deadline.
    let mut agent = load_agent(&format!("checkpoint(path={},sims=10000000)", temp.path().display())).expect("agent");
    let state = game.new_initial_state();
    let mut legal = Vec::new();
    state.legal_actions(&mut legal);
    let deadline = Instant::now() + Duration::from_millis(50);
    let view = View::new(game.as_ref(), state.as_ref(), 0, &legal).with_deadline(Some(deadline));
    let answer = agent.act(&view, &mut AgentRng::seed_from_u64(1));
    assert!(matches!(answer, Err(AgentError::Timeout(_))), "{answer:?}");

    // Searches that end in time give the same decisions with a deadline as without.
    let config =
        CheckpointAgentConfig { sims: 50, temperature: 1.0, noise: true, ..CheckpointAgentConfig::new(temp.path()) };
    let mut searcher = AgentFactory::new().build_config(&AgentConfig::Checkpoint(config)).expect("agent");
    let without = act(searcher.as_mut(), &game, state.as_ref(), 5).expect("act");
    let view = View::new(game.as_ref(), state.as_ref(), 0, &legal)
        .with_deadline(Some(Instant::now() + Duration::from_secs(3600)));
    let with = searcher.act(&view, &mut AgentRng::seed_from_u64(5)).expect("act");
    assert_eq!(bits(&[without]), bits(&[with]));
}

#[test]
fn playout_cap_searches_fully_at_the_given_share_and_only_full_searches_report_a_policy() {
    let game = load_game("connect_four").expect("game");
    let checkpoint = checkpoint(&game, "mlp(hidden=16,layers=1)", 5);
    let config = PuctConfig {
        simulations: 40,
        noise: Some(RootNoise { alpha: 1.0, fraction: 0.25 }),
        playout_cap: Some(agents::puct::PlayoutCap { fast_simulations: 2, full_search_share: 0.3 }),
        ..PuctConfig::default()
    };
    let mut searcher = agent(&checkpoint, config);
    let state = game.new_initial_state();
    let decisions: Vec<Decision> =
        (0..200).map(|seed| act(&mut searcher, &game, state.as_ref(), seed).expect("act")).collect();
    let full = decisions.iter().filter(|d| d.policy.is_some()).count();
    // 60 expected; a binomial(200, 0.3) lies in 40..80 with overwhelming probability.
    assert!((40..80).contains(&full), "{full} of 200 moves searched fully");
    for decision in decisions.iter().filter_map(|d| d.policy.as_ref()) {
        // Forty simulations spread over the seven columns: each share is a multiple of 1/40.
        let total: f32 = decision.iter().map(|&(_, p)| p).sum();
        assert!(
            (total - 1.0).abs() < 1e-5 && decision.iter().all(|&(_, p)| (p * 40.0 - (p * 40.0).round()).abs() < 1e-3)
        );
    }
    // The same seed makes the same choice between a fast and a full search.
    let again = act(&mut searcher, &game, state.as_ref(), 7).expect("act");
    assert_eq!(again.policy.is_some(), decisions[7].policy.is_some());
}

#[test]
fn tree_reuse_keeps_the_subtree_two_plies_on_and_a_new_game_starts_afresh() {
    use agents::puct::Search;
    let game = load_game("connect_four").expect("game");
    let checkpoint = checkpoint(&game, "mlp(hidden=16,layers=1)", 3);
    let network = Arc::new(checkpoint.network().inference().expect("inference"));
    let mut evaluator = DirectEvaluator::new(network);
    let facts = game.facts();
    let config = PuctConfig { simulations: 200, reuse_tree: true, ..PuctConfig::default() };
    let mut rng = AgentRng::seed_from_u64(1);
    let mut search = Search::default();
    let mut state = game.new_initial_state();
    let first = search.run(state.as_ref(), facts, &mut evaluator, &config, &mut rng).expect("search");
    assert_eq!(first.root_visits, 201);
    state.apply(first.action).expect("legal");
    state.apply(3).expect("legal");
    let second = search.run(state.as_ref(), facts, &mut evaluator, &config, &mut rng).expect("search");
    assert!(second.root_visits > 201, "visits below the new root were kept: {}", second.root_visits);
    // The kept tree searches as a fresh one would, only further: its policy still sums to one.
    assert!((second.policy.iter().map(|&(_, p)| p).sum::<f32>() - 1.0).abs() < 1e-5);
    // A position that does not continue the kept one (another game) starts from an empty tree.
    let other = game.new_initial_state();
    let fresh = search.run(other.as_ref(), facts, &mut evaluator, &config, &mut rng).expect("search");
    assert_eq!(fresh.root_visits, 201);
    // Without reuse every search starts afresh.
    let plain = PuctConfig { reuse_tree: false, ..config };
    let mut once = Search::default();
    let mut state = game.new_initial_state();
    let first = once.run(state.as_ref(), facts, &mut evaluator, &plain, &mut rng).expect("search");
    state.apply(first.action).expect("legal");
    state.apply(3).expect("legal");
    assert_eq!(once.run(state.as_ref(), facts, &mut evaluator, &plain, &mut rng).expect("search").root_visits, 201);
}

#[test]
fn a_reusing_agent_plays_reproducible_games_and_forgets_its_tree_between_games() {
    let game = load_game("connect_four").expect("game");
    let checkpoint = checkpoint(&game, "mlp(hidden=16,layers=1)", 4);
    let config = PuctConfig { simulations: 30, temperature: 1.0, reuse_tree: true, ..PuctConfig::default() };
    let (mut first, mut second) = (agent(&checkpoint, config), agent(&checkpoint, config));
    let once = bits(&play(&game, &mut [&mut first, &mut second], 5));
    // The same agents again (start() drops the trees): the same game.
    assert_eq!(once, bits(&play(&game, &mut [&mut first, &mut second], 5)));
    let (mut fresh_first, mut fresh_second) = (agent(&checkpoint, config), agent(&checkpoint, config));
    assert_eq!(once, bits(&play(&game, &mut [&mut fresh_first, &mut fresh_second], 5)));
}
