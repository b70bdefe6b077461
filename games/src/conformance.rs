//! The conformance kit: seeded random playouts that check every rule of the game API.
//!
//! Any game runs it with one call, `conformance::check(game.as_ref(), &Config::default())`; the
//! test suite runs it over every registered game, so a new game gets these tests for free. The same
//! checks back `arena check --game SPEC`.

use std::fmt;

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::game::{Action, Game, InputKind, State, Turn, Utility, record_of};
use crate::playout::sample_chance;
use crate::record::{GameRecord, Move};

/// How many playouts to run and from which seed.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Number of random games played to the end.
    pub playouts: usize,
    /// Seed of the first playout; playout `i` uses `seed + i`.
    pub seed: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config { playouts: 2000, seed: 0 }
    }
}

/// What a passing run saw.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Report {
    pub game: String,
    pub playouts: usize,
    /// Moves played in all playouts (chance moves included).
    pub moves: usize,
    pub longest_game: usize,
    /// Terminal positions where each player's return was the highest and unshared.
    pub wins_by_player: Vec<usize>,
    /// Terminal positions where the highest return was shared.
    pub ties: usize,
    /// Number of individual checks that passed.
    pub checks: u64,
}

impl Report {
    /// Mean number of moves per game.
    pub fn mean_length(&self) -> f64 {
        self.moves as f64 / self.playouts.max(1) as f64
    }
}

/// A broken rule, with the game record that reproduces it.
#[derive(Clone, Debug)]
pub struct Violation {
    pub rule: &'static str,
    pub detail: String,
    /// The moves up to the position where the rule broke.
    pub record: GameRecord,
    pub playout: usize,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "rule `{}` broken in playout {}: {}\nreproduce with this record: {}",
            self.rule,
            self.playout,
            self.detail,
            self.record.to_json()
        )
    }
}

impl std::error::Error for Violation {}

/// Everything observable about a state, to compare states through the API alone.
#[derive(Debug, PartialEq)]
struct Fingerprint {
    turn: Turn,
    legal: Vec<Action>,
    chance: Vec<(Action, u64)>,
    history: Vec<Move>,
    render: String,
    observations: Vec<String>,
    tensors: Vec<Vec<u32>>,
    returns: Vec<u64>,
}

fn fingerprint(game: &dyn Game, state: &dyn State) -> Fingerprint {
    let facts = game.facts();
    let mut legal = Vec::new();
    state.legal_actions(&mut legal);
    let mut chance = Vec::new();
    state.chance_outcomes(&mut chance);
    let mut tensor = vec![0.0f32; facts.observation_size()];
    let mut tensors = Vec::new();
    for player in 0..facts.players {
        state.observation_tensor(player, &mut tensor);
        tensors.push(tensor.iter().map(|x| x.to_bits()).collect());
    }
    Fingerprint {
        turn: state.turn(),
        legal,
        chance: chance.into_iter().map(|(a, p)| (a, p.to_bits())).collect(),
        history: state.history(),
        render: state.render(),
        observations: (0..facts.players).map(|p| state.observation_string(p)).collect(),
        tensors,
        returns: (0..facts.players).map(|p| state.player_return(p).to_bits()).collect(),
    }
}

/// Runs the kit on `game`: `config.playouts` seeded random games, every rule checked at every move.
pub fn check(game: &dyn Game, config: &Config) -> Result<Report, Violation> {
    check_with_progress(game, config, &mut |_| {})
}

/// [`check`], calling `done` with the number of playouts finished after each one (for a progress
/// display).
pub fn check_with_progress(game: &dyn Game, config: &Config, done: &mut dyn FnMut(usize)) -> Result<Report, Violation> {
    let facts = game.facts();
    let mut report = Report {
        game: game.spec().to_string(),
        playouts: config.playouts,
        moves: 0,
        longest_game: 0,
        wins_by_player: vec![0; facts.players],
        ties: 0,
        checks: 0,
    };
    for playout in 0..config.playouts {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(config.seed.wrapping_add(playout as u64));
        let mut checker = Checker { game, playout, checks: 0 };
        let state = checker.play(&mut rng)?;
        report.checks += checker.checks;
        let length = state.history().len();
        report.moves += length;
        report.longest_game = report.longest_game.max(length);
        let returns: Vec<f64> = (0..facts.players).map(|p| state.player_return(p)).collect();
        let best = returns.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let winners: Vec<usize> = (0..facts.players).filter(|&p| returns[p] == best).collect();
        match winners.as_slice() {
            [only] => report.wins_by_player[*only] += 1,
            _ => report.ties += 1,
        }
        done(playout + 1);
    }
    Ok(report)
}

struct Checker<'a> {
    game: &'a dyn Game,
    playout: usize,
    checks: u64,
}

impl Checker<'_> {
    fn ensure(
        &mut self,
        ok: bool,
        rule: &'static str,
        state: &dyn State,
        detail: impl FnOnce() -> String,
    ) -> Result<(), Violation> {
        self.checks += 1;
        if ok {
            return Ok(());
        }
        Err(Violation { rule, detail: detail(), record: record_of(self.game, state), playout: self.playout })
    }

    /// Plays one random game, checking each position; returns the final state.
    fn play(&mut self, rng: &mut Xoshiro256PlusPlus) -> Result<Box<dyn State>, Violation> {
        let facts = self.game.facts();
        let mut state = self.game.new_initial_state();
        let mut moves = 0usize;
        loop {
            self.check_position(state.as_ref())?;
            if state.is_terminal() {
                self.check_terminal(state.as_ref(), moves)?;
                return Ok(state);
            }
            let s = state.as_ref();
            self.ensure(moves < facts.max_game_length, "max_game_length", s, || {
                format!("the game goes on after {moves} moves; the declared maximum is {}", facts.max_game_length)
            })?;
            let before = fingerprint(self.game, s);
            let chosen = self.choose(s, rng);
            // The checked path and the unchecked path agree, and cloning keeps states equal.
            let mut checked = state.clone_box();
            let applied = match &chosen {
                Move::Action(a) => checked.apply(*a),
                Move::Text(t) => checked.apply_text(t),
            };
            self.ensure(applied.is_ok(), "legal_action_applies", s, || {
                format!(
                    "applying legal move {chosen:?} failed: {}",
                    applied.as_ref().err().map(|e| e.to_string()).unwrap_or_default()
                )
            })?;
            match chosen {
                Move::Action(a) => state.apply_unchecked(a),
                Move::Text(_) => {
                    state = checked.clone_box();
                }
            }
            moves += 1;
            let after = fingerprint(self.game, state.as_ref());
            self.ensure(
                after == fingerprint(self.game, checked.as_ref()),
                "apply_is_deterministic",
                state.as_ref(),
                || "apply and apply_unchecked (or two clones) gave different states".to_string(),
            )?;
            self.ensure(after != before, "apply_changes_state", state.as_ref(), || {
                "a move left every observable part of the state unchanged".to_string()
            })?;
            self.ensure(after.history.len() == moves, "history_records_moves", state.as_ref(), || {
                format!("history has {} moves after {moves} were played", after.history.len())
            })?;
        }
    }

    fn choose(&self, state: &dyn State, rng: &mut Xoshiro256PlusPlus) -> Move {
        match state.turn() {
            Turn::Chance => {
                let mut outcomes = Vec::new();
                state.chance_outcomes(&mut outcomes);
                Move::Action(sample_chance(&outcomes, rng))
            }
            _ if state.input_kind() == InputKind::Text => {
                // Reads as an answer in every text game: a debate takes any text, a quiz a number or yes/no.
                Move::Text(format!("Yes: {}, I hold.", rng.random_range(0..1000)))
            }
            _ => {
                let mut legal = Vec::new();
                state.legal_actions(&mut legal);
                Move::Action(legal[rng.random_range(0..legal.len())])
            }
        }
    }

    fn check_position(&mut self, state: &dyn State) -> Result<(), Violation> {
        let facts = self.game.facts();
        let print = fingerprint(self.game, state);
        let clone = state.clone_box();
        self.ensure(fingerprint(self.game, clone.as_ref()) == print, "clone_is_equal", state, || {
            "a clone differs from its original".to_string()
        })?;

        // A board to draw has one cell per row and column, each empty or a seat's piece.
        if let Some(board) = state.board() {
            self.ensure(
                board.cells.chars().count() == board.rows * board.columns
                    && board.cells.chars().all(|c| matches!(c, '.' | '0' | '1')),
                "board_is_well_formed",
                state,
                || format!("board {}x{} has cells {:?}", board.rows, board.columns, board.cells),
            )?;
        }

        // Legal actions and chance outcomes are consistent with whose turn it is.
        let (legal, chance) = (&print.legal, &print.chance);
        match print.turn {
            Turn::Terminal => {
                self.ensure(legal.is_empty() && chance.is_empty(), "terminal_has_no_moves", state, || {
                    format!("terminal state lists actions {legal:?} / outcomes {chance:?}")
                })?;
            }
            Turn::Player(p) => {
                self.ensure(p < facts.players, "player_in_range", state, || format!("player {p} to move"))?;
                self.ensure(chance.is_empty(), "no_chance_outcomes_at_player_nodes", state, || {
                    format!("a player node lists chance outcomes {chance:?}")
                })?;
                if state.input_kind() == InputKind::Discrete {
                    self.ensure(!legal.is_empty(), "legal_actions_non_empty", state, || {
                        "a player must move but has no legal action".to_string()
                    })?;
                    self.ensure(legal.windows(2).all(|w| w[0] < w[1]), "legal_actions_sorted", state, || {
                        format!("legal actions are not strictly increasing: {legal:?}")
                    })?;
                    self.ensure(
                        legal.iter().all(|&a| (a as usize) < facts.num_distinct_actions),
                        "actions_in_range",
                        state,
                        || format!("actions {legal:?} exceed num_distinct_actions {}", facts.num_distinct_actions),
                    )?;
                }
            }
            Turn::Chance => {
                let total: f64 = chance.iter().map(|&(_, p)| f64::from_bits(p)).sum();
                self.ensure(
                    !chance.is_empty() && (total - 1.0).abs() < 1e-9,
                    "chance_outcomes_sum_to_one",
                    state,
                    || format!("chance outcomes {chance:?} sum to {total}"),
                )?;
                self.ensure(
                    chance.iter().all(|&(a, p)| (a as usize) < facts.max_chance_outcomes && f64::from_bits(p) > 0.0),
                    "chance_outcomes_in_range",
                    state,
                    || format!("outcomes {chance:?} with max_chance_outcomes {}", facts.max_chance_outcomes),
                )?;
                self.ensure(legal.is_empty(), "no_player_actions_at_chance_nodes", state, || {
                    format!("a chance node lists player actions {legal:?}")
                })?;
            }
        }

        // is_legal agrees with the lists, and illegal actions are rejected without a trace.
        let allowed: Vec<Action> =
            if print.turn == Turn::Chance { chance.iter().map(|&(a, _)| a).collect() } else { legal.clone() };
        let space = if print.turn == Turn::Chance { facts.max_chance_outcomes } else { facts.num_distinct_actions };
        let mut illegal = Vec::new();
        for action in (0..=space as Action).chain([Action::MAX]) {
            let expected = allowed.contains(&action);
            self.ensure(state.is_legal(action) == expected, "is_legal_matches_legal_actions", state, || {
                format!("is_legal({action}) = {} but the listed moves are {allowed:?}", !expected)
            })?;
            if !expected {
                illegal.push(action);
            }
        }
        // Applying is costlier to check: probe the first, the middle and the last illegal id.
        let picks = [0, illegal.len() / 2, illegal.len().saturating_sub(1)];
        for action in picks.iter().filter_map(|&i| illegal.get(i).copied()) {
            let mut probe = state.clone_box();
            let result = probe.apply(action);
            self.ensure(result.is_err(), "illegal_action_rejected", state, || {
                format!("illegal action {action} was accepted")
            })?;
            self.ensure(
                fingerprint(self.game, probe.as_ref()) == print,
                "illegal_action_leaves_state_unchanged",
                state,
                || format!("rejecting action {action} changed the state"),
            )?;
        }

        // Every listed move's text reads back as that move, and texts are distinct.
        let mut texts = Vec::with_capacity(allowed.len());
        for &action in &allowed {
            let text = state.action_to_string(action);
            let parsed = state.parse_action(&text);
            self.ensure(matches!(parsed, Ok(a) if a == action), "action_text_round_trips", state, || {
                format!("action {action} is written `{text}` which reads back as {parsed:?}")
            })?;
            texts.push(text);
        }
        texts.sort();
        texts.dedup();
        self.ensure(texts.len() == allowed.len(), "action_texts_distinct", state, || {
            "two legal moves have the same text".to_string()
        })?;

        // Observation tensors fill exactly the declared size with finite values.
        for player in 0..facts.players {
            let mut tensor = vec![f32::NAN; facts.observation_size()];
            state.observation_tensor(player, &mut tensor);
            self.ensure(tensor.iter().all(|x| x.is_finite()), "observation_tensor_filled", state, || {
                format!(
                    "player {player}'s observation leaves entries unwritten or not finite (shape {:?})",
                    facts.observation_shape
                )
            })?;
            self.ensure(!print.observations[player].is_empty(), "observation_text_non_empty", state, || {
                format!("player {player}'s observation text is empty")
            })?;
        }
        Ok(())
    }

    fn check_terminal(&mut self, state: &dyn State, moves: usize) -> Result<(), Violation> {
        let facts = self.game.facts();
        self.ensure(moves <= facts.max_game_length, "max_game_length", state, || {
            format!("the game lasted {moves} moves; the declared maximum is {}", facts.max_game_length)
        })?;
        let returns: Vec<f64> = (0..facts.players).map(|p| state.player_return(p)).collect();
        if facts.utility == Utility::ZeroSum {
            let sum: f64 = returns.iter().sum();
            self.ensure(sum.abs() < 1e-9, "zero_sum_returns", state, || format!("returns {returns:?} sum to {sum}"))?;
        }
        self.ensure(
            returns.iter().all(|&r| r >= facts.min_return && r <= facts.max_return),
            "returns_in_range",
            state,
            || format!("returns {returns:?} outside {}..={}", facts.min_return, facts.max_return),
        )?;
        // The record survives JSON and replays to the same state.
        let record = record_of(self.game, state);
        let reread = GameRecord::from_json(&record.to_json());
        self.ensure(reread.as_ref().ok() == Some(&record), "record_json_round_trips", state, || {
            format!("record changed through JSON: {reread:?}")
        })?;
        let replayed = record.replay_on(self.game);
        let same = matches!(&replayed, Ok(s) if fingerprint(self.game, s.as_ref()) == fingerprint(self.game, state));
        self.ensure(same, "record_replays_exactly", state, || match &replayed {
            Ok(_) => "the replayed state differs".to_string(),
            Err(e) => format!("replay failed: {e}"),
        })?;
        self.check_symmetries(state)
    }

    /// Replays the finished game through each declared symmetry: the transformed moves are legal
    /// and give, position by position, the transformed legal moves and observations, and the same
    /// returns.
    fn check_symmetries(&mut self, finished: &dyn State) -> Result<(), Violation> {
        let facts = self.game.facts();
        let history = finished.history();
        let (mut tensor, mut image_tensor, mut expected_tensor) = (Vec::new(), Vec::new(), Vec::new());
        let (mut legal, mut image_legal) = (Vec::new(), Vec::new());
        for symmetry in self.game.symmetries() {
            let name = symmetry.name;
            let mut sorted = symmetry.actions.clone();
            sorted.sort_unstable();
            let permutes = sorted.iter().enumerate().all(|(i, &a)| a as usize == i);
            self.ensure(
                permutes
                    && symmetry.actions.len() == facts.num_distinct_actions
                    && symmetry.observation_source.len() == facts.observation_size()
                    && symmetry.observation_source.iter().all(|&i| i < facts.observation_size()),
                "symmetry_shapes",
                finished,
                || {
                    format!(
                        "symmetry `{name}` must permute the {} actions and index the {} observation values",
                        facts.num_distinct_actions,
                        facts.observation_size()
                    )
                },
            )?;
            let mut original = self.game.new_initial_state();
            let mut image = self.game.new_initial_state();
            for ply in 0..=history.len() {
                let (o, i) = (original.as_ref(), image.as_ref());
                o.legal_actions(&mut legal);
                i.legal_actions(&mut image_legal);
                let mut mapped: Vec<Action> = legal.iter().map(|&a| symmetry.action(a)).collect();
                mapped.sort_unstable();
                self.ensure(o.turn() == i.turn() && mapped == image_legal, "symmetry_keeps_legal_moves", o, || {
                    format!(
                        "after {ply} moves under `{name}`: legal moves map to {mapped:?}, the image has {image_legal:?}"
                    )
                })?;
                for player in 0..facts.players {
                    tensor.resize(facts.observation_size(), 0.0);
                    image_tensor.resize(facts.observation_size(), 0.0);
                    o.observation_tensor(player, &mut tensor);
                    i.observation_tensor(player, &mut image_tensor);
                    symmetry.transform_observation(&tensor, &mut expected_tensor);
                    self.ensure(expected_tensor == image_tensor, "symmetry_keeps_observations", o, || {
                        format!(
                            "after {ply} moves under `{name}`: player {player}'s observation is not the transformed one"
                        )
                    })?;
                }
                if o.is_terminal() {
                    let same = (0..facts.players).all(|p| o.player_return(p) == i.player_return(p));
                    self.ensure(same, "symmetry_keeps_returns", o, || {
                        format!("the game ends with different returns under `{name}`")
                    })?;
                }
                let Some(Move::Action(action)) = history.get(ply) else { break };
                let image_action = if original.turn() == Turn::Chance { *action } else { symmetry.action(*action) };
                original.apply_unchecked(*action);
                let applied = image.apply(image_action);
                self.ensure(applied.is_ok(), "symmetry_keeps_legal_moves", original.as_ref(), || {
                    format!("under `{name}` move {ply} ({action} -> {image_action}) is illegal in the image")
                })?;
            }
        }
        Ok(())
    }
}
