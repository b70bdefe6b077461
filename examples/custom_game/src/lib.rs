//! `take_away`: a game defined outside the `games` crate, against its public API only.
//!
//! A pile of `stones` (default 21); the players take turns removing 1..=`max_take` stones
//! (default 3); whoever takes the last stone wins (+1, the other gets -1). Action `a` takes `a + 1`
//! stones and is written `take N`; a bare `N` is read too. The player to move loses exactly when
//! the pile is a multiple of `max_take + 1`.
//!
//! A program makes the game known by registering [`REGISTRATION`] in a [`Registry`]; [`registry`]
//! returns the built-in games plus this one:
//!
//! ```
//! let game = custom_game::registry().load("take_away(stones=10,max_take=2)")?;
//! let mut state = game.new_initial_state();
//! games::apply_move_list(state.as_mut(), "2 2 2")?;
//! assert_eq!(state.render().lines().next(), Some("take_away: 4 of 10 stones left, take 1..2 per move"));
//! # Ok::<(), games::Error>(())
//! ```

use games::{
    Action, Error, Game, GameFacts, GameRegistration, Information, InputKind, Move, ParamDef, ParamKind, Params,
    Player, Registry, Result, Spec, State, Turn, Utility, shared,
};

/// The game's registered name.
pub const NAME: &str = "take_away";

/// The largest pile the game allows (the observation has one cell per pile size `0..=MAX_STONES`).
pub const MAX_STONES: u32 = 63;

/// The largest `max_take` the game allows (actions are single digits).
pub const MAX_TAKE: u32 = 9;

/// Cells of one observation plane: pile sizes `0..=MAX_STONES`.
const CELLS: usize = MAX_STONES as usize + 1;

/// The parameters, with their ranges and defaults; the registry validates specs against them.
pub const PARAMS: &[ParamDef] = &[
    ParamDef {
        name: "stones",
        kind: ParamKind::Int { min: 1, max: MAX_STONES as i64 },
        default: "21",
        doc: "stones in the pile at the start",
    },
    ParamDef {
        name: "max_take",
        kind: ParamKind::Int { min: 1, max: MAX_TAKE as i64 },
        default: "3",
        doc: "most stones one move may take",
    },
];

/// How the registry finds and builds the game by name.
pub const REGISTRATION: GameRegistration = GameRegistration {
    name: NAME,
    summary: "take-away (one-pile Nim): take 1..max_take stones per move, taking the last stone wins; moves `take N` or `N`",
    params: PARAMS,
    create: create_from_params,
};

fn create_from_params(params: &Params) -> Result<games::GameRef> {
    // The registry has checked both ranges, so the conversions cannot fail; `TakeAway::new`
    // checks again and reports any value it cannot take.
    let int = |name: &str| u32::try_from(params.int(name)).unwrap_or(u32::MAX);
    Ok(shared(TakeAway::new(int("stones"), int("max_take"))?))
}

/// The built-in games plus `take_away`.
pub fn registry() -> Registry {
    let mut registry = Registry::default();
    registry.register(REGISTRATION);
    registry
}

/// The rules of take-away with its parameters.
#[derive(Debug)]
pub struct TakeAway {
    stones: u8,
    max_take: u8,
    facts: GameFacts,
}

impl TakeAway {
    /// The game with a pile of `stones` (1..=63) and moves of 1..=`max_take` (1..=9) stones; the
    /// error names the parameter out of range.
    pub fn new(stones: u32, max_take: u32) -> Result<Self> {
        let check = |param: &str, value: u32, max: u32| -> Result<u8> {
            if (1..=max).contains(&value) {
                u8::try_from(value).map_err(|_| out_of_range(param, value, max))
            } else {
                Err(out_of_range(param, value, max))
            }
        };
        let stones_u8 = check("stones", stones, MAX_STONES)?;
        let max_take_u8 = check("max_take", max_take, MAX_TAKE)?;
        let facts = GameFacts {
            name: NAME,
            players: 2,
            chance: false,
            information: Information::Perfect,
            utility: Utility::ZeroSum,
            num_distinct_actions: max_take as usize,
            max_chance_outcomes: 0,
            // Every move takes at least one stone.
            max_game_length: stones as usize,
            // Plane 0: one-hot of the stones left; plane 1: all ones when the observer is to move.
            observation_shape: vec![2, CELLS],
            min_return: -1.0,
            max_return: 1.0,
            input: InputKind::Discrete,
        };
        Ok(TakeAway { stones: stones_u8, max_take: max_take_u8, facts })
    }

    /// Stones in the pile at the start.
    pub fn stones(&self) -> u32 {
        u32::from(self.stones)
    }

    /// Most stones one move may take.
    pub fn max_take(&self) -> u32 {
        u32::from(self.max_take)
    }
}

fn out_of_range(param: &str, value: u32, max: u32) -> Error {
    Error::BadParameter {
        owner: format!("game `{NAME}`"),
        param: param.to_string(),
        value: value.to_string(),
        reason: format!("must be in 1..={max}"),
    }
}

impl Game for TakeAway {
    fn facts(&self) -> &GameFacts {
        &self.facts
    }

    fn spec(&self) -> Spec {
        // Every parameter, in the order of `PARAMS`: the canonical form the registry builds too.
        Spec::new(NAME).with("stones", self.stones).with("max_take", self.max_take)
    }

    fn new_initial_state(&self) -> Box<dyn State> {
        Box::new(TakeAwayState {
            start: self.stones,
            max_take: self.max_take,
            left: self.stones,
            moves: 0,
            history: [0; MAX_STONES as usize],
        })
    }
}

/// A take-away position. Plain data with a fixed-size history, so cloning and moving never
/// allocate.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TakeAwayState {
    start: u8,
    max_take: u8,
    /// Stones left in the pile.
    left: u8,
    /// Moves played so far; `history[..moves]` are their actions.
    moves: u8,
    history: [u8; MAX_STONES as usize],
}

impl TakeAwayState {
    /// Stones left in the pile.
    pub fn stones_left(&self) -> u32 {
        u32::from(self.left)
    }

    fn to_move(&self) -> Player {
        usize::from(self.moves % 2)
    }

    /// The player who took the last stone, once the pile is empty.
    fn winner(&self) -> Option<Player> {
        (self.left == 0 && self.moves > 0).then(|| usize::from((self.moves - 1) % 2))
    }

    /// Legal actions are `0..legal_count()`.
    fn legal_count(&self) -> u32 {
        u32::from(self.max_take.min(self.left))
    }
}

fn player_name(player: Player) -> &'static str {
    if player == 0 { "first player" } else { "second player" }
}

impl State for TakeAwayState {
    fn turn(&self) -> Turn {
        if self.left == 0 { Turn::Terminal } else { Turn::Player(self.to_move()) }
    }

    fn legal_actions(&self, out: &mut Vec<Action>) {
        out.clear();
        out.extend(0..self.legal_count());
    }

    fn is_legal(&self, action: Action) -> bool {
        action < self.legal_count()
    }

    fn apply_unchecked(&mut self, action: Action) {
        // An illegal action leaves a corrupt but memory-safe state, as the trait allows.
        let take = u8::try_from(action.saturating_add(1)).unwrap_or(u8::MAX);
        self.left = self.left.saturating_sub(take);
        if let Some(slot) = self.history.get_mut(usize::from(self.moves)) {
            *slot = take - 1;
            self.moves += 1;
        }
    }

    fn player_return(&self, player: Player) -> f64 {
        match self.winner() {
            Some(winner) if winner == player => 1.0,
            Some(_) => -1.0,
            None => 0.0,
        }
    }

    fn action_to_string(&self, action: Action) -> String {
        if action < u32::from(self.max_take) { format!("take {}", action + 1) } else { format!("#{action}") }
    }

    fn parse_action(&self, text: &str) -> Result<Action> {
        let bad = |reason: String| Error::ParseAction { text: text.to_string(), reason };
        let trimmed = text.trim();
        let lower = trimmed.to_ascii_lowercase();
        let number = lower.strip_prefix("take").map_or(lower.as_str(), str::trim_start);
        let max = self.max_take;
        // Plain digits only: `u32::from_str` would also take "+2".
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(format!("expected `take N` or `N` with N in 1..={max}")));
        }
        match number.parse::<u32>() {
            Ok(n) if (1..=u32::from(max)).contains(&n) => Ok(n - 1),
            _ => Err(bad(format!("a move takes 1..={max} stones"))),
        }
    }

    fn observation_string(&self, player: Player) -> String {
        let you = player_name(player);
        format!(
            "Take-away: players alternately take 1 to {} stones from one pile; whoever takes the last stone wins. You are the {you}.\n{}",
            self.max_take,
            self.render()
        )
    }

    fn observation_tensor(&self, player: Player, out: &mut [f32]) {
        out.fill(0.0);
        let (pile, turn) = out.split_at_mut(CELLS.min(out.len()));
        if let Some(cell) = pile.get_mut(usize::from(self.left)) {
            *cell = 1.0;
        }
        if self.left > 0 && self.to_move() == player {
            turn.fill(1.0);
        }
    }

    fn history(&self) -> Vec<Move> {
        let played = self.history.get(..usize::from(self.moves)).unwrap_or_default();
        played.iter().map(|&a| Move::Action(Action::from(a))).collect()
    }

    fn render(&self) -> String {
        let status = match self.winner() {
            Some(winner) => format!("the {} took the last stone and wins", player_name(winner)),
            None => format!("{} to move", player_name(self.to_move())),
        };
        format!(
            "{NAME}: {} of {} stones left, take 1..{} per move\n{}\n{status}\n",
            self.left,
            self.start,
            self.max_take,
            "o".repeat(usize::from(self.left))
        )
    }

    fn clone_box(&self) -> Box<dyn State> {
        Box::new(self.clone())
    }
}
