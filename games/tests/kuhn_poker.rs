//! Kuhn poker against the published facts in `testdata/kuhn_poker.json`: the equilibrium family's
//! exact value (-1/18) and NashConv (0) computed with rationals through the public `State` API,
//! hidden information, returns, chance nodes, and text.

mod common;

use std::collections::{HashMap, HashSet};

use common::{game, testdata};
use games::kuhn_poker::KuhnPokerState;
use games::{Action, Error, Information, InputKind, Player, State, Turn, Utility, apply_move_list};
use num_rational::Ratio;

type Q = Ratio<i64>;

/// A strategy profile: information-state key -> probability of action 1 ("bet").
type Profile = HashMap<String, Q>;

/// The histories of one information set, each with its counterfactual reach probability.
type Histories = Vec<(Box<dyn State>, Q)>;

// ---------------------------------------------------------------------------------------------
// Reading the JSON's figures.

/// Reads `-1/18`, `1/3`, `0`.
fn rational(text: &str) -> Q {
    let text = text.trim();
    let parse = |s: &str| s.trim().parse::<i64>().unwrap_or_else(|e| panic!("`{text}` is not a rational: {e}"));
    match text.split_once('/') {
        Some((n, d)) => Q::new(parse(n), parse(d)),
        None => Q::from_integer(parse(text)),
    }
}

/// Evaluates the family's formulas: sums of products of `alpha` and rationals (`alpha + 1/3`, `3*alpha`).
fn formula(text: &str, alpha: Q) -> Q {
    text.split('+')
        .map(|term| {
            term.split('*').map(|factor| if factor.trim() == "alpha" { alpha } else { rational(factor) }).product::<Q>()
        })
        .sum()
}

fn json_str(value: &serde_json::Value) -> &str {
    value.as_str().unwrap_or_else(|| panic!("expected a string: {value}"))
}

/// The JSON names the first decision `root`; the game's keys are `<card>:<betting>`, so `K:`.
fn game_key(json_key: &str) -> String {
    json_key.replace(":root", ":")
}

/// The equilibrium family's profile for `alpha`. With `clamp`, a formula outside [0, 1] is read as
/// the nearest probability (the control alpha = 2/5 asks K:root to bet with "probability" 6/5).
fn family_profile(alpha: Q, clamp: bool) -> Profile {
    let facts = testdata("kuhn_poker.json");
    let family = &facts["equilibrium_family"];
    let mut profile = Profile::new();
    for side in ["player1", "player2"] {
        let entries = family[side].as_object().unwrap_or_else(|| panic!("{side} is not an object"));
        for (key, value) in entries {
            let mut p = formula(json_str(value), alpha);
            if clamp {
                p = p.clamp(Q::from_integer(0), Q::from_integer(1));
            }
            profile.insert(game_key(key), p);
        }
    }
    assert_eq!(profile.len(), 12);
    profile
}

// ---------------------------------------------------------------------------------------------
// An exact evaluator over the public `State` API.

fn new_state() -> Box<dyn State> {
    game("kuhn_poker").new_initial_state()
}

fn child(state: &dyn State, action: Action) -> Box<dyn State> {
    let mut next = state.clone_box();
    next.apply(action).unwrap_or_else(|e| panic!("applying {action}: {e}"));
    next
}

/// A chance probability as an exact rational: it must be 1/k for a small k.
fn exact_probability(p: f64) -> Q {
    let k = (1.0 / p).round();
    assert!((1.0..=64.0).contains(&k) && (p - 1.0 / k).abs() < 1e-12, "chance probability {p} is not 1/k");
    Q::new(1, k as i64)
}

/// A terminal return as an exact rational: returns are whole chips.
fn exact_return(state: &dyn State, player: Player) -> Q {
    let r = state.player_return(player);
    assert!(r.fract() == 0.0 && r.abs() <= 1e6, "return {r} is not a whole number of chips");
    Q::from_integer(r as i64)
}

fn chance_outcomes(state: &dyn State) -> Vec<(Action, Q)> {
    let mut outcomes = Vec::new();
    state.chance_outcomes(&mut outcomes);
    let exact: Vec<(Action, Q)> = outcomes.iter().map(|&(a, p)| (a, exact_probability(p))).collect();
    assert_eq!(exact.iter().map(|&(_, p)| p).sum::<Q>(), Q::from_integer(1), "chance outcomes sum to 1");
    exact
}

/// The probabilities of actions 0 (pass) and 1 (bet) under `profile` at a decision node.
fn action_probabilities(state: &dyn State, player: Player, profile: &Profile) -> [(Action, Q); 2] {
    let mut legal = Vec::new();
    state.legal_actions(&mut legal);
    assert_eq!(legal, [0, 1], "every decision is pass or bet");
    let key = state.information_state_string(player);
    let bet = *profile.get(&key).unwrap_or_else(|| panic!("the profile has no entry for `{key}`"));
    assert!(bet >= Q::from_integer(0) && bet <= Q::from_integer(1), "`{key}`: {bet} is not a probability");
    [(0, Q::from_integer(1) - bet), (1, bet)]
}

/// The exact expected return of `player` when everyone plays `profile`.
fn expected_return(state: &dyn State, profile: &Profile, player: Player) -> Q {
    match state.turn() {
        Turn::Terminal => exact_return(state, player),
        Turn::Chance => chance_outcomes(state)
            .into_iter()
            .map(|(a, p)| p * expected_return(child(state, a).as_ref(), profile, player))
            .sum(),
        Turn::Player(mover) => action_probabilities(state, mover, profile)
            .into_iter()
            .map(|(a, p)| p * expected_return(child(state, a).as_ref(), profile, player))
            .sum(),
    }
}

/// A best response of `player` to the other players' part of `profile`, over information sets:
/// the action chosen at an information set maximises the sum over its histories of the
/// counterfactual reach (chance times opponents) times the action's value, the deeper information
/// sets choosing first (recursively). This is exact for perfect-recall games such as Kuhn poker.
struct BestResponse<'a> {
    player: Player,
    profile: &'a Profile,
    /// The histories of each of `player`'s information sets with their counterfactual reach.
    infosets: HashMap<String, Histories>,
    choice: HashMap<String, Action>,
}

impl<'a> BestResponse<'a> {
    fn new(root: &dyn State, player: Player, profile: &'a Profile) -> Self {
        let mut br = BestResponse { player, profile, infosets: HashMap::new(), choice: HashMap::new() };
        br.collect(root, Q::from_integer(1));
        br
    }

    fn collect(&mut self, state: &dyn State, reach: Q) {
        match state.turn() {
            Turn::Terminal => {}
            Turn::Chance => {
                for (a, p) in chance_outcomes(state) {
                    self.collect(child(state, a).as_ref(), reach * p);
                }
            }
            Turn::Player(mover) if mover == self.player => {
                let key = state.information_state_string(mover);
                self.infosets.entry(key).or_default().push((state.clone_box(), reach));
                let mut legal = Vec::new();
                state.legal_actions(&mut legal);
                for a in legal {
                    self.collect(child(state, a).as_ref(), reach);
                }
            }
            Turn::Player(mover) => {
                for (a, p) in action_probabilities(state, mover, self.profile) {
                    self.collect(child(state, a).as_ref(), reach * p);
                }
            }
        }
    }

    fn best_action(&mut self, key: &str) -> Action {
        if let Some(&a) = self.choice.get(key) {
            return a;
        }
        let histories = self.infosets.get(key).unwrap_or_else(|| panic!("`{key}` was never reached")).clone();
        let mut legal = Vec::new();
        histories[0].0.legal_actions(&mut legal);
        let mut best: Option<(Action, Q)> = None;
        for a in legal {
            let total: Q = histories.iter().map(|(h, reach)| *reach * self.value(child(h.as_ref(), a).as_ref())).sum();
            if best.is_none_or(|(_, v)| total > v) {
                best = Some((a, total));
            }
        }
        let (a, _) = best.unwrap_or_else(|| panic!("`{key}` has no legal action"));
        self.choice.insert(key.to_string(), a);
        a
    }

    /// The value for `player` of `state` when `player` plays the best response.
    fn value(&mut self, state: &dyn State) -> Q {
        match state.turn() {
            Turn::Terminal => exact_return(state, self.player),
            Turn::Chance => {
                chance_outcomes(state).into_iter().map(|(a, p)| p * self.value(child(state, a).as_ref())).sum()
            }
            Turn::Player(mover) if mover == self.player => {
                let a = self.best_action(&state.information_state_string(mover));
                self.value(child(state, a).as_ref())
            }
            Turn::Player(mover) => action_probabilities(state, mover, self.profile)
                .into_iter()
                .map(|(a, p)| p * self.value(child(state, a).as_ref()))
                .sum(),
        }
    }
}

fn best_response_value(profile: &Profile, player: Player) -> Q {
    let root = new_state();
    let mut br = BestResponse::new(root.as_ref(), player, profile);
    br.value(root.as_ref())
}

/// Sum over players of (best-response value - value under the profile).
fn nash_conv(profile: &Profile) -> Q {
    let root = new_state();
    (0..2).map(|p| best_response_value(profile, p) - expected_return(root.as_ref(), profile, p)).sum()
}

fn exact_checks() -> Vec<serde_json::Value> {
    let facts = testdata("kuhn_poker.json");
    let checks = facts["equilibrium_family"]["exact_check"].as_array().unwrap_or_else(|| panic!("exact_check")).clone();
    assert_eq!(checks.len(), 5);
    checks
}

// ---------------------------------------------------------------------------------------------
// The equilibrium.

#[test]
fn kuhn_poker_equilibrium_value_is_minus_one_eighteenth_exactly() {
    let facts = testdata("kuhn_poker.json");
    let game_value = rational(json_str(&facts["game_value_player1"]));
    assert_eq!(game_value, Q::new(-1, 18));
    let root = new_state();
    for check in exact_checks() {
        let alpha = rational(json_str(&check["alpha"]));
        let profile = family_profile(alpha, false);
        let v0 = expected_return(root.as_ref(), &profile, 0);
        let v1 = expected_return(root.as_ref(), &profile, 1);
        assert_eq!(v0, game_value, "alpha = {alpha}");
        assert_eq!(v0, rational(json_str(&check["value"])), "alpha = {alpha}");
        assert_eq!(v0 + v1, Q::from_integer(0), "zero-sum, alpha = {alpha}");
    }
}

#[test]
fn kuhn_poker_equilibrium_has_zero_nash_conv() {
    for check in exact_checks() {
        let alpha = rational(json_str(&check["alpha"]));
        let profile = family_profile(alpha, false);
        let br0 = best_response_value(&profile, 0);
        let br1 = best_response_value(&profile, 1);
        assert_eq!(br0, rational(json_str(&check["p1_best_response_value"])), "alpha = {alpha}");
        assert_eq!(br1, rational(json_str(&check["p2_best_response_value"])), "alpha = {alpha}");
        assert_eq!(nash_conv(&profile), rational(json_str(&check["nash_conv"])), "alpha = {alpha}");
        assert_eq!(nash_conv(&profile), Q::from_integer(0), "alpha = {alpha}");
    }
    // The control: alpha = 2/5 is outside the family and can be exploited.
    let control = family_profile(Q::new(2, 5), true);
    assert_eq!(nash_conv(&control), Q::new(1, 30));
}

#[test]
fn kuhn_poker_best_response_to_always_bet_exploits_it() {
    // The evaluator on a strategy far from equilibrium: everyone always bets, so every hand is a
    // 2-chip showdown worth 0 on average. The information-set best response must agree with a
    // brute-force search over each player's 64 pure strategies, and it gains something.
    let profile: Profile = ["J", "Q", "K"]
        .iter()
        .flat_map(|c| ["", "p", "b", "pb"].map(|h| (format!("{c}:{h}"), Q::from_integer(1))))
        .collect();
    let root = new_state();
    assert_eq!(expected_return(root.as_ref(), &profile, 0), Q::from_integer(0));
    for player in 0..2 {
        assert_eq!(
            best_response_value(&profile, player),
            brute_force_best_response(&profile, player),
            "player {player}"
        );
    }
    assert!(nash_conv(&profile) > Q::from_integer(0));
}

/// The best response by enumerating every pure strategy of `player` (64 for each Kuhn player).
fn brute_force_best_response(profile: &Profile, player: Player) -> Q {
    let keys: Vec<String> =
        profile.keys().filter(|k| k.split_once(':').map(|(_, h)| h.len() % 2) == Some(player)).cloned().collect();
    assert_eq!(keys.len(), 6);
    let root = new_state();
    (0..1u32 << keys.len())
        .map(|bits| {
            let mut pure = profile.clone();
            for (i, key) in keys.iter().enumerate() {
                pure.insert(key.clone(), Q::from_integer(i64::from(bits >> i & 1)));
            }
            expected_return(root.as_ref(), &pure, player)
        })
        .max()
        .unwrap_or_else(|| panic!("no pure strategy"))
}

// ---------------------------------------------------------------------------------------------
// The game's facts, tree and returns.

#[test]
fn kuhn_poker_facts_and_registration() {
    let game = game("kuhn_poker");
    let facts = game.facts();
    assert_eq!(facts.name, "kuhn_poker");
    assert_eq!(facts.players, 2);
    assert!(facts.chance);
    assert_eq!(facts.information, Information::Imperfect);
    assert_eq!(facts.utility, Utility::ZeroSum);
    assert_eq!(facts.num_distinct_actions, 2);
    assert_eq!(facts.max_chance_outcomes, 3);
    assert_eq!(facts.max_game_length, 5);
    assert_eq!(facts.observation_shape, vec![11]);
    assert_eq!((facts.min_return, facts.max_return), (-2.0, 2.0));
    assert_eq!(facts.input, InputKind::Discrete);
    assert_eq!(game.spec().to_string(), "kuhn_poker");
    let registration = games::Registry::default();
    let found = registration.find("kuhn_poker").unwrap_or_else(|e| panic!("{e}"));
    assert!(found.params.is_empty());
    assert!(!found.summary.is_empty());
}

/// Every state of the tree, in depth-first order.
fn all_states() -> Vec<Box<dyn State>> {
    fn walk(state: Box<dyn State>, out: &mut Vec<Box<dyn State>>) {
        let mut actions = Vec::new();
        match state.turn() {
            Turn::Chance => actions.extend(chance_outcomes(state.as_ref()).into_iter().map(|(a, _)| a)),
            Turn::Player(_) => state.legal_actions(&mut actions),
            Turn::Terminal => {}
        }
        for a in actions {
            walk(child(state.as_ref(), a), out);
        }
        out.push(state);
    }
    let mut out = Vec::new();
    walk(new_state(), &mut out);
    out
}

#[test]
fn kuhn_poker_tree_has_six_deals_thirty_hands_and_the_published_information_sets() {
    let facts = testdata("kuhn_poker.json");
    let states = all_states();
    let deals = states.iter().filter(|s| s.history().len() == 2).count();
    assert_eq!(deals as u64, facts["num_deals"].as_u64().unwrap_or_default());
    let terminals: Vec<_> = states.iter().filter(|s| s.is_terminal()).collect();
    assert_eq!(terminals.len(), 30);
    assert!(terminals.iter().all(|s| s.history().len() <= game("kuhn_poker").facts().max_game_length));

    for (player, side) in ["player1", "player2"].into_iter().enumerate() {
        let expected: HashSet<String> = facts["information_sets"][side]
            .as_array()
            .unwrap_or_else(|| panic!("{side}"))
            .iter()
            .map(|k| game_key(json_str(k)))
            .collect();
        let found: HashSet<String> = states
            .iter()
            .filter(|s| s.current_player() == Some(player))
            .map(|s| s.information_state_string(player))
            .collect();
        assert_eq!(found, expected, "{side}");
    }
    let total = facts["num_information_sets"].as_u64().unwrap_or_default();
    assert_eq!(total, 12);

    let perft: Vec<u64> = (0..=6).map(|d| games::perft::perft(new_state().as_ref(), d, Default::default())).collect();
    assert_eq!(perft, [1, 3, 6, 12, 24, 12, 0]);
}

/// The state after dealing `cards` and playing `betting` (`p`/`b` letters).
fn play(cards: [Action; 2], betting: &str) -> Box<dyn State> {
    let mut state = new_state();
    for card in cards {
        state.apply(card).unwrap_or_else(|e| panic!("deal {card}: {e}"));
    }
    for letter in betting.chars() {
        let action = state.parse_action(&letter.to_string()).unwrap_or_else(|e| panic!("{e}"));
        state.apply(action).unwrap_or_else(|e| panic!("{betting}: {e}"));
    }
    state
}

#[test]
fn kuhn_poker_returns_follow_the_published_conventions() {
    let facts = testdata("kuhn_poker.json");
    let terminal =
        facts["conventions"]["terminal_histories"].as_object().unwrap_or_else(|| panic!("terminal_histories"));
    assert_eq!(terminal.len(), 5);
    for c0 in 0..3 {
        for c1 in (0..3).filter(|&c| c != c0) {
            let showdown = if c0 > c1 { 1.0 } else { -1.0 };
            for history in terminal.keys() {
                let state = play([c0, c1], history);
                assert!(state.is_terminal(), "{history}");
                let expected = match history.as_str() {
                    "pp" => showdown,
                    "bp" => 1.0,
                    "pbp" => -1.0,
                    "bb" | "pbb" => 2.0 * showdown,
                    other => panic!("unexpected terminal history {other}"),
                };
                assert_eq!(state.player_return(0), expected, "{c0}{c1}{history}");
                assert_eq!(state.player_return(1), -expected, "{c0}{c1}{history}");
                assert_eq!(games::returns(state.as_ref(), 2), vec![expected, -expected]);
            }
            for history in ["", "p", "b", "pb"] {
                let state = play([c0, c1], history);
                assert_eq!(state.current_player(), Some(history.len() % 2), "{history}");
                assert_eq!(state.player_return(0), 0.0);
            }
        }
    }
}

#[test]
fn kuhn_poker_chance_nodes_deal_each_card_once() {
    let mut state = new_state();
    assert_eq!(state.turn(), Turn::Chance);
    assert_eq!(chance_outcomes(state.as_ref()), vec![(0, Q::new(1, 3)), (1, Q::new(1, 3)), (2, Q::new(1, 3))]);
    let mut legal = Vec::new();
    state.legal_actions(&mut legal);
    assert!(legal.is_empty(), "no player actions at a chance node");
    for a in [0, 1, 2, 3, 4, 100, u32::MAX] {
        assert_eq!(state.is_legal(a), a < 3, "root, {a}");
    }
    state.apply(1).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(state.turn(), Turn::Chance);
    assert_eq!(chance_outcomes(state.as_ref()), vec![(0, Q::new(1, 2)), (2, Q::new(1, 2))]);
    for a in [0, 1, 2, 3, 4, 100, u32::MAX] {
        assert_eq!(state.is_legal(a), a == 0 || a == 2, "second deal, {a}");
    }
    state.apply(2).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(state.turn(), Turn::Player(0));
    let mut outcomes = vec![(7, 0.5)];
    state.chance_outcomes(&mut outcomes);
    assert!(outcomes.is_empty(), "no chance outcomes at a decision");
    for a in [0, 1, 2, 3, 100, u32::MAX] {
        assert_eq!(state.is_legal(a), a < 2, "decision, {a}");
    }
    let done = play([1, 2], "bb");
    for a in [0, 1, 2, u32::MAX] {
        assert!(!done.is_legal(a), "terminal, {a}");
    }
}

#[test]
fn kuhn_poker_rejects_dealing_a_card_twice_and_leaves_the_state_unchanged() {
    let mut state = KuhnPokerState::default();
    state.apply(2).unwrap_or_else(|e| panic!("{e}"));
    let before = state.clone();
    let err = state.apply(2).err().unwrap_or_else(|| panic!("dealing K twice was accepted"));
    assert!(matches!(err, Error::IllegalAction { id: 2, .. }), "{err}");
    assert_eq!(state, before);
    let err = state.apply(3).err().unwrap_or_else(|| panic!("a fourth card was accepted"));
    assert!(matches!(err, Error::IllegalAction { id: 3, .. }), "{err}");
    assert_eq!(state, before);
    assert!(state.apply_text("K").is_err());
    assert_eq!(state, before);
    // Player actions out of range and moves after the end are rejected too.
    state.apply(0).unwrap_or_else(|e| panic!("{e}"));
    let before = state.clone();
    assert!(state.apply(2).is_err());
    assert!(state.apply(u32::MAX).is_err());
    assert_eq!(state, before);
    let mut done = play([0, 1], "pp");
    let record = done.history();
    assert!(done.apply(0).is_err());
    assert_eq!(done.history(), record);
}

// ---------------------------------------------------------------------------------------------
// Hidden information.

/// The betting sequences from a dealt state, every prefix included (`""`, `p`, `pb`, `pbp`, ...).
fn betting_sequences() -> Vec<String> {
    fn walk(state: &dyn State, prefix: String, out: &mut Vec<String>) {
        let mut legal = Vec::new();
        state.legal_actions(&mut legal);
        for a in legal {
            let letter = if a == 0 { "p" } else { "b" };
            walk(child(state, a).as_ref(), format!("{prefix}{letter}"), out);
        }
        out.push(prefix);
    }
    let mut out = Vec::new();
    walk(play([0, 1], "").as_ref(), String::new(), &mut out);
    assert_eq!(out.len(), 9);
    out
}

/// What `player` can see of a state.
fn view(state: &dyn State, player: Player) -> (String, Vec<f32>, String) {
    let mut tensor = vec![f32::NAN; 11];
    state.observation_tensor(player, &mut tensor);
    (state.observation_string(player), tensor, state.information_state_string(player))
}

#[test]
fn kuhn_poker_players_never_see_the_opponents_card() {
    let sequences = betting_sequences();
    for observer in 0..2 {
        let other = 1 - observer;
        for own in 0..3 {
            let others: Vec<Action> = (0..3).filter(|&c| c != own).collect();
            for history in &sequences {
                let deal = |theirs: Action| {
                    let mut cards = [0; 2];
                    cards[observer] = own;
                    cards[other] = theirs;
                    play(cards, history)
                };
                let (a, b) = (deal(others[0]), deal(others[1]));
                assert_ne!(a.render(), b.render(), "render shows both cards");
                assert_eq!(
                    view(a.as_ref(), observer),
                    view(b.as_ref(), observer),
                    "player {observer}, card {own}, {history}"
                );
            }
        }
        // Different own cards are told apart.
        let mine = |own: Action| {
            let mut cards = [0; 2];
            cards[observer] = own;
            cards[other] = if own == 2 { 1 } else { 2 };
            view(play(cards, "").as_ref(), observer)
        };
        assert_ne!(mine(0), mine(1));
    }
    // While dealing: player 1 cannot see player 0's card.
    let dealt = |card: Action| {
        let mut state = new_state();
        state.apply(card).unwrap_or_else(|e| panic!("{e}"));
        state
    };
    for card in 1..3 {
        assert_eq!(view(dealt(0).as_ref(), 1), view(dealt(card).as_ref(), 1));
        assert_ne!(view(dealt(0).as_ref(), 0), view(dealt(card).as_ref(), 0));
    }
}

#[test]
fn kuhn_poker_observation_tensor_layout() {
    // Player 1 holds Q after "pb": player one-hot, card one-hot, round 1 pass, round 2 bet.
    let state = play([2, 1], "pb");
    let (_, tensor, key) = view(state.as_ref(), 1);
    let mut expected = vec![0.0; 11];
    expected[1] = 1.0; // player 1
    expected[2 + 1] = 1.0; // Q
    expected[5] = 1.0; // round 1: pass
    expected[7 + 1] = 1.0; // round 2: bet
    assert_eq!(tensor, expected);
    assert_eq!(key, "Q:pb");
    assert_eq!(state.information_state_string(0), "K:pb");
    assert_eq!(play([0, 2], "").information_state_string(0), "J:");
}

#[test]
fn kuhn_poker_observation_text_reads_well() {
    let state = play([2, 0], "p");
    let text = state.observation_string(1);
    assert!(text.contains("Your card: J"), "{text}");
    assert!(text.contains("your opponent checked"), "{text}");
    assert!(text.contains("Pot: 2 chips"), "{text}");
    assert!(text.contains("pass") && text.contains("bet"), "{text}");
    let other = state.observation_string(0);
    assert!(other.contains("Your card: K") && other.contains("opponent is to act"), "{other}");

    let folded = play([0, 2], "pbp");
    assert!(folded.observation_string(0).contains("you folded"), "{}", folded.observation_string(0));
    assert!(folded.observation_string(1).contains("you win 1 chip"), "{}", folded.observation_string(1));
    let showdown = play([0, 2], "bb");
    assert!(showdown.observation_string(0).contains("showdown"), "{}", showdown.observation_string(0));
    let render = showdown.render();
    assert!(render.contains('J') && render.contains('K') && render.contains("player 1 wins 2"), "{render}");
}

// ---------------------------------------------------------------------------------------------
// Text.

#[test]
fn kuhn_poker_parses_actions_and_explains_errors() {
    let mut state = new_state();
    for (text, card) in [("J", 0), (" q ", 1), ("K", 2), ("king", 2), ("deal Q", 1), ("Jack", 0)] {
        assert_eq!(state.parse_action(text).unwrap_or_else(|e| panic!("{text}: {e}")), card, "{text}");
    }
    for text in ["p", "bet", "A", "", "0", "JQ"] {
        let err = state.parse_action(text).err().unwrap_or_else(|| panic!("`{text}` was read as a deal"));
        assert!(matches!(err, Error::ParseAction { .. }), "{err}");
        assert!(err.to_string().contains("J, Q or K"), "{err}");
    }
    assert_eq!(state.action_to_string(0), "deal J");
    assert_eq!(state.action_to_string(2), "deal K");

    let played = apply_move_list(state.as_mut(), "KJ").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(played, 2);
    for (text, action) in
        [("p", 0), ("PASS", 0), (" check ", 0), ("Fold", 0), ("b", 1), ("bet", 1), ("CALL", 1), ("B\n", 1)]
    {
        assert_eq!(state.parse_action(text).unwrap_or_else(|e| panic!("{text}: {e}")), action, "{text}");
    }
    for text in ["raise", "", "2", "1", "x", "K", "pb", "all in"] {
        let err = state.parse_action(text).err().unwrap_or_else(|| panic!("`{text}` was read as an action"));
        assert!(matches!(err, Error::ParseAction { .. }), "{err}");
        let message = err.to_string();
        for accepted in ["pass", "p,", "check", "fold", "bet", "b,", "call"] {
            assert!(message.contains(accepted), "`{message}` does not list `{accepted}`");
        }
    }
    assert_eq!(state.action_to_string(0), "pass");
    assert_eq!(state.action_to_string(1), "bet");

    state.apply_text("check").unwrap_or_else(|e| panic!("{e}"));
    state.apply_text("bet").unwrap_or_else(|e| panic!("{e}"));
    assert!(state.apply_text("raise").is_err());
    state.apply_text("call").unwrap_or_else(|e| panic!("{e}"));
    assert!(state.is_terminal());
    assert_eq!(state.player_return(0), 2.0);
}

#[test]
fn kuhn_poker_action_names_read_back_at_every_node() {
    for state in all_states() {
        let actions: Vec<Action> = match state.turn() {
            Turn::Chance => chance_outcomes(state.as_ref()).into_iter().map(|(a, _)| a).collect(),
            Turn::Player(_) => {
                let mut legal = Vec::new();
                state.legal_actions(&mut legal);
                legal
            }
            Turn::Terminal => Vec::new(),
        };
        for a in actions {
            let text = state.action_to_string(a);
            assert_eq!(state.parse_action(&text).unwrap_or_else(|e| panic!("{text}: {e}")), a, "{text}");
        }
        // Out-of-range actions have a name too (used in error messages) and never panic.
        assert!(!state.action_to_string(u32::MAX).is_empty());
    }
}

#[test]
fn kuhn_poker_move_lists_and_records_replay() {
    let mut state = new_state();
    let played = apply_move_list(state.as_mut(), "QKpbp").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(played, 5);
    assert!(state.is_terminal());
    assert_eq!(state.player_return(0), -1.0);
    let record = games::record_of(game("kuhn_poker").as_ref(), state.as_ref());
    let (_, replayed) =
        games::GameRecord::from_json(&record.to_json()).and_then(|r| r.replay()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(replayed.history(), state.history());
    assert_eq!(replayed.render(), state.render());

    let mut twice = new_state();
    let err = apply_move_list(twice.as_mut(), "K K").err().unwrap_or_else(|| panic!("K dealt twice"));
    assert!(matches!(err, Error::BadMove { number: 2, .. }), "{err}");
    assert_eq!(twice.history().len(), 1);
}

#[test]
fn kuhn_poker_random_playouts_end_within_the_bounds() {
    use rand::SeedableRng;
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(7);
    let mut buffer = Vec::new();
    let mut seen = HashSet::new();
    for _ in 0..2000 {
        let mut state = new_state();
        let moves = games::playout::random_playout(state.as_mut(), &mut rng, &mut buffer);
        assert!(state.is_terminal() && (4..=5).contains(&moves));
        let r = state.player_return(0);
        assert!((-2.0..=2.0).contains(&r) && r != 0.0);
        assert_eq!(r + state.player_return(1), 0.0);
        seen.insert(state.render());
    }
    assert_eq!(seen.len(), 30, "every hand turns up");
}
