//! The game API: `Game` (immutable rules and parameters, shared across threads) and `State` (one position).
//!
//! Board games take small `Copy` integer actions and write their legal actions into a caller's
//! buffer, so a playout allocates nothing per move. Text environments (debates) declare
//! `InputKind::Text` at the turns where they take free text and receive it through
//! [`State::apply_text`]; their records keep the text.

use std::fmt;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::record::{GameRecord, Move};
use crate::spec::Spec;

/// An action: a small integer in `0..num_distinct_actions` (or `0..max_chance_outcomes` at chance nodes).
pub type Action = u32;

/// A player's index, `0..players`.
pub type Player = usize;

/// Whose turn it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Turn {
    /// A player must act.
    Player(Player),
    /// Chance acts: sample one of [`State::chance_outcomes`].
    Chance,
    /// The game is over.
    Terminal,
}

/// How much of the state each player sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Information {
    Perfect,
    Imperfect,
}

/// How the players' returns relate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Utility {
    /// Returns sum to zero in every terminal state.
    ZeroSum,
    /// No constraint.
    GeneralSum,
}

/// What a decision takes: one of the discrete actions, or free text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    Discrete,
    Text,
}

/// The facts a game states once about itself (OpenSpiel's `GameType` plus the sizes).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct GameFacts {
    /// The registered name, e.g. `connect_four`.
    pub name: &'static str,
    pub players: usize,
    /// Whether the game has chance nodes.
    pub chance: bool,
    pub information: Information,
    pub utility: Utility,
    /// Player actions are `0..num_distinct_actions`.
    pub num_distinct_actions: usize,
    /// Chance outcomes are `0..max_chance_outcomes` (0 for games without chance).
    pub max_chance_outcomes: usize,
    /// No game lasts more moves than this (chance moves included).
    pub max_game_length: usize,
    /// Shape of [`State::observation_tensor`].
    pub observation_shape: Vec<usize>,
    pub min_return: f64,
    pub max_return: f64,
    /// Whether any decision takes free text.
    pub input: InputKind,
}

impl GameFacts {
    /// Number of floats in an observation tensor.
    pub fn observation_size(&self) -> usize {
        self.observation_shape.iter().product()
    }
}

/// The rules of a game with its parameters. Immutable and shared (`Arc<dyn Game>`) across threads.
pub trait Game: Send + Sync + fmt::Debug {
    /// The game's facts.
    fn facts(&self) -> &GameFacts;

    /// The canonical spec with every parameter, e.g. `connect_four(rows=6,columns=7,connect=4)`.
    fn spec(&self) -> Spec;

    /// The starting position.
    fn new_initial_state(&self) -> Box<dyn State>;

    /// What `player`'s decisions take: free text if any of them does (a debater), else discrete
    /// actions. Lets the engine refuse, before the first game, an agent that cannot fill a seat.
    fn seat_input(&self, player: Player) -> InputKind {
        let _ = player;
        self.facts().input
    }

    /// The board's symmetries other than the identity: transformations that map the rules and the
    /// starting position onto themselves (connect four's mirror, a square board's rotations and
    /// reflections). Training multiplies its data by them. None by default; the conformance kit
    /// checks every one a game declares.
    fn symmetries(&self) -> Vec<Symmetry> {
        Vec::new()
    }
}

/// A symmetry of a game: how it moves the cells of the observation tensor and the action ids.
/// Playing the transformed actions from the start gives the transformed positions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Symmetry {
    /// A short name, e.g. `mirror` or `rotate180`.
    pub name: &'static str,
    /// Element `i` of a transformed observation is element `observation_source[i]` of the original.
    pub observation_source: Vec<usize>,
    /// Action `a` becomes `actions[a]`.
    pub actions: Vec<Action>,
}

impl Symmetry {
    /// The symmetry of a `[planes, rows, columns]` board that moves cell `(r, c)` to `cell(r, c)`
    /// in every plane and action `a` to `action(a)`, for `actions` action ids.
    pub fn of_grid(
        name: &'static str,
        shape: [usize; 3],
        cell: impl Fn(usize, usize) -> (usize, usize),
        actions: usize,
        action: impl Fn(Action) -> Action,
    ) -> Symmetry {
        let [planes, rows, columns] = shape;
        let mut observation_source = vec![0; planes * rows * columns];
        for plane in 0..planes {
            for row in 0..rows {
                for column in 0..columns {
                    let (to_row, to_column) = cell(row, column);
                    let base = plane * rows * columns;
                    observation_source[base + to_row * columns + to_column] = base + row * columns + column;
                }
            }
        }
        Symmetry { name, observation_source, actions: (0..actions as Action).map(action).collect() }
    }

    /// Writes the transformed `observation` into `out` (resized to fit).
    pub fn transform_observation(&self, observation: &[f32], out: &mut Vec<f32>) {
        out.clear();
        out.extend(self.observation_source.iter().map(|&i| observation.get(i).copied().unwrap_or(0.0)));
    }

    /// The transformed action (an id outside the table is kept as it is).
    pub fn action(&self, action: Action) -> Action {
        self.actions.get(action as usize).copied().unwrap_or(action)
    }
}

/// One position of a game: cheap to clone, applies actions, reports returns and observations.
pub trait State: Send + Sync + fmt::Debug {
    /// Whose turn it is.
    fn turn(&self) -> Turn;

    /// Writes the legal actions of the player to move into `out` (cleared first), in increasing
    /// order. Empty at chance and terminal nodes and at turns that take text.
    fn legal_actions(&self, out: &mut Vec<Action>);

    /// Writes the chance outcomes with their probabilities into `out` (cleared first); empty unless
    /// it is chance's turn.
    fn chance_outcomes(&self, out: &mut Vec<(Action, f64)>) {
        out.clear();
    }

    /// Whether `action` is legal now (for the player to move, or as a chance outcome).
    fn is_legal(&self, action: Action) -> bool;

    /// Applies an action known to be legal. For an illegal action the result is unspecified (a
    /// corrupt state or a panic) but never undefined behaviour: no unsafe code relies on it.
    fn apply_unchecked(&mut self, action: Action);

    /// Applies an action after checking it; an illegal action leaves the state unchanged.
    fn apply(&mut self, action: Action) -> Result<()> {
        if self.is_terminal() || !self.is_legal(action) {
            return Err(Error::IllegalAction {
                action: self.action_to_string(action),
                id: action,
                position: self.render(),
            });
        }
        self.apply_unchecked(action);
        Ok(())
    }

    /// What the current decision takes. Board games always take discrete actions.
    fn input_kind(&self) -> InputKind {
        InputKind::Discrete
    }

    /// Applies a move given as text: for discrete turns it is parsed with [`State::parse_action`];
    /// text environments take the text itself.
    fn apply_text(&mut self, text: &str) -> Result<()> {
        let action = self.parse_action(text)?;
        self.apply(action)
    }

    /// The return of `player` in a terminal state (0 before the end, unless the game has rewards).
    fn player_return(&self, player: Player) -> f64;

    /// The text form of an action in this position, e.g. `4` (a connect four column) or `c3`.
    /// Never panics: an id that names no move gets a placeholder such as `#99`.
    fn action_to_string(&self, action: Action) -> String;

    /// Reads an action from text as a person or a model would write it; the error says why not.
    /// Only the spelling is checked here, not legality.
    fn parse_action(&self, text: &str) -> Result<Action>;

    /// What `player` sees, as text (what a language model reads). Never hidden information.
    fn observation_string(&self, player: Player) -> String;

    /// What `player` sees, as floats written into `out` (length [`GameFacts::observation_size`]).
    fn observation_tensor(&self, player: Player, out: &mut [f32]);

    /// A key for `player`'s information state: equal exactly when the player cannot tell the
    /// positions apart. Defaults to the observation text (right for perfect recall games whose
    /// observation includes the history).
    fn information_state_string(&self, player: Player) -> String {
        self.observation_string(player)
    }

    /// The moves played from the initial state (chance outcomes included).
    fn history(&self) -> Vec<Move>;

    /// The full position as text, hidden information included (for people, logs and errors).
    /// Never panics, whatever the state.
    fn render(&self) -> String;

    /// The position as a board to draw (the report's game viewer); `None` for games without one
    /// (text games, card games).
    fn board(&self) -> Option<Board> {
        None
    }

    /// A boxed copy.
    fn clone_box(&self) -> Box<dyn State>;

    /// Whether the game is over.
    fn is_terminal(&self) -> bool {
        self.turn() == Turn::Terminal
    }

    /// The player to move, if a player is to move.
    fn current_player(&self) -> Option<Player> {
        match self.turn() {
            Turn::Player(p) => Some(p),
            _ => None,
        }
    }
}

impl Clone for Box<dyn State> {
    fn clone(&self) -> Self {
        self.clone_box()
    }
}

impl fmt::Display for dyn State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

/// A board to draw: its cells row by row from the top, each empty or holding a seat's piece.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Board {
    pub rows: usize,
    pub columns: usize,
    /// One character per cell, row by row from the top: `.` empty, `0` or `1` the seat's piece.
    pub cells: String,
    pub layout: BoardLayout,
    /// How each seat's pieces look: a mark such as `x`, or a colour name such as `red`.
    pub pieces: [String; 2],
}

/// How a board's cells sit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BoardLayout {
    /// A grid.
    Square,
    /// A rhombus of hexagons: each row sits half a cell right of the row above.
    Hex,
}

impl Board {
    /// A board of `rows` × `columns` whose cell `(row, column)` (row 0 at the top) holds
    /// `owner(row, column)`'s piece.
    pub fn from_owners(
        rows: usize,
        columns: usize,
        layout: BoardLayout,
        pieces: [&str; 2],
        owner: impl Fn(usize, usize) -> Option<Player>,
    ) -> Board {
        let mut cells = String::with_capacity(rows * columns);
        for row in 0..rows {
            for column in 0..columns {
                cells.push(match owner(row, column) {
                    Some(0) => '0',
                    Some(_) => '1',
                    None => '.',
                });
            }
        }
        Board { rows, columns, cells, layout, pieces: pieces.map(str::to_string) }
    }
}

/// Returns of all players, in player order.
pub fn returns(state: &dyn State, players: usize) -> Vec<f64> {
    (0..players).map(|p| state.player_return(p)).collect()
}

/// The record of a state: its game's canonical spec and its moves.
pub fn record_of(game: &dyn Game, state: &dyn State) -> GameRecord {
    GameRecord { game: game.spec().to_string(), moves: state.history() }
}

/// A shared handle to a game.
pub type GameRef = Arc<dyn Game>;
