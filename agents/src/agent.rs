//! The `Agent` trait: what a player is, what it sees (`View`), and what it answers (`Decision`).

use std::time::{Duration, Instant};

use games::{Action, Game, GameRef, Information, InputKind, Player, State};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::chat::TextTrace;

/// The RNG the engine gives each agent, seeded from the match seed and the seat.
pub type AgentRng = Xoshiro256PlusPlus;

/// What an agent sees when it must act: its own observation, never hidden information.
///
/// Perfect-information games also expose the whole state ([`View::full_state`]) for search agents;
/// in imperfect-information games it is withheld, so no agent can peek at hidden cards.
#[derive(Clone, Copy)]
pub struct View<'a> {
    game: &'a dyn Game,
    state: &'a dyn State,
    player: Player,
    /// Kept as the `Vec` the engine filled: reading its length here, when the agent asks, rather
    /// than when the view is built avoids a store-forwarding stall on every move.
    legal: &'a Vec<Action>,
    feedback: Option<&'a str>,
    time_left: Option<Duration>,
    deadline: Option<Instant>,
}

impl std::fmt::Debug for View<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("View").field("game", &self.game.spec().to_string()).field("player", &self.player).finish()
    }
}

impl<'a> View<'a> {
    /// A view of `state` for `player`, who is to move; `legal` are its legal actions.
    #[allow(clippy::ptr_arg)] // see the field
    pub fn new(game: &'a dyn Game, state: &'a dyn State, player: Player, legal: &'a Vec<Action>) -> Self {
        View { game, state, player, legal, feedback: None, time_left: None, deadline: None }
    }

    /// The same view with the error of a previous, rejected answer to quote back to the agent.
    pub fn with_feedback(mut self, feedback: Option<&'a str>) -> Self {
        self.feedback = feedback;
        self
    }

    /// The same view with the time the agent has left for this move (for information: only a
    /// deadline, [`View::with_deadline`], is enforced by in-process agents).
    pub fn with_time_left(mut self, time_left: Option<Duration>) -> Self {
        self.time_left = time_left;
        self
    }

    /// The same view with the instant by which the agent must answer. In-process agents that work
    /// for long (`mcts`, `checkpoint`, `llm`, `jury`) check it as they go and answer
    /// [`AgentError::Timeout`] once it has passed; without one they work as long as they need.
    pub fn with_deadline(mut self, deadline: Option<Instant>) -> Self {
        self.deadline = deadline;
        self
    }

    pub fn game(&self) -> &'a dyn Game {
        self.game
    }

    /// The player this agent is seated as.
    pub fn player(&self) -> Player {
        self.player
    }

    /// The legal actions, in increasing order (empty at turns that take text).
    pub fn legal_actions(&self) -> &'a [Action] {
        self.legal
    }

    /// Whether this turn takes a discrete action or free text.
    pub fn input_kind(&self) -> InputKind {
        self.state.input_kind()
    }

    /// Why the previous answer to this same decision was rejected, if it was.
    pub fn feedback(&self) -> Option<&'a str> {
        self.feedback
    }

    /// Time left for this move, where the match has a time limit: until the deadline when there
    /// is one (zero once it has passed), else as given to [`View::with_time_left`].
    pub fn time_left(&self) -> Option<Duration> {
        match self.deadline {
            Some(deadline) => Some(deadline.saturating_duration_since(Instant::now())),
            None => self.time_left,
        }
    }

    /// The instant by which the agent must answer, if there is one.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// The observation as text (what a language model reads).
    pub fn observation_string(&self) -> String {
        self.state.observation_string(self.player)
    }

    /// The observation as floats, written into `out` (length `game().facts().observation_size()`).
    pub fn observation_tensor(&self, out: &mut [f32]) {
        self.state.observation_tensor(self.player, out)
    }

    /// A key equal exactly for positions this player cannot tell apart.
    pub fn information_state_string(&self) -> String {
        self.state.information_state_string(self.player)
    }

    pub fn action_to_string(&self, action: Action) -> String {
        self.state.action_to_string(action)
    }

    pub fn parse_action(&self, text: &str) -> games::Result<Action> {
        self.state.parse_action(text)
    }

    /// The whole state, for search, in perfect-information games only.
    pub fn full_state(&self) -> Option<&'a dyn State> {
        (self.game.facts().information == Information::Perfect).then_some(self.state)
    }
}

/// A deadline as an agent checks it while it works: [`Deadline::check`] costs one clock read.
/// Made when an agent starts a decision, so its timeout error says how long it was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deadline {
    at: Instant,
    /// The time from the start of the work to the deadline.
    allowed: Duration,
}

impl Deadline {
    /// A deadline at `at`, for work starting now.
    pub fn starting_now(at: Instant) -> Self {
        Deadline { at, allowed: at.saturating_duration_since(Instant::now()) }
    }

    /// The deadline of a view, if it has one, for work starting now.
    pub fn of(view: &View<'_>) -> Option<Self> {
        view.deadline().map(Deadline::starting_now)
    }

    pub fn at(&self) -> Instant {
        self.at
    }

    /// Whether the deadline has passed.
    pub fn passed(&self) -> bool {
        Instant::now() >= self.at
    }

    /// The error of work that ran past the deadline: [`AgentError::Timeout`] with the time allowed.
    pub fn error(&self) -> AgentError {
        AgentError::Timeout(self.allowed)
    }

    /// `Err(self.error())` once the deadline has passed.
    pub fn check(&self) -> Result<(), AgentError> {
        if self.passed() { Err(self.error()) } else { Ok(()) }
    }
}

/// An agent's answer: the move, and what it knows about the position where it has it.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub reply: Reply,
    /// The agent's policy as (action, probability) pairs (search visit shares, network priors).
    pub policy: Option<Vec<(Action, f32)>>,
    /// The agent's estimate of its own return.
    pub value: Option<f32>,
    /// For language models: the prompt, completion and token log-probabilities behind the reply.
    pub trace: Option<Box<TextTrace>>,
}

impl Decision {
    /// A bare action, with no policy or value.
    pub fn action(action: Action) -> Self {
        Decision { reply: Reply::Action(action), policy: None, value: None, trace: None }
    }

    /// A text answer (parsed by the engine at discrete turns, taken as it is at text turns).
    pub fn text(text: impl Into<String>) -> Self {
        Decision { reply: Reply::Text(text.into()), policy: None, value: None, trace: None }
    }
}

/// A move as an agent gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// An action id; the engine checks it is legal.
    Action(Action),
    /// Text: at discrete turns the engine parses it with the game's `parse_action`.
    Text(String),
}

/// Why an agent could not answer. The engine scores the game as lost by that agent.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AgentError {
    /// The agent did not answer in time.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The agent (or its program) failed.
    #[error("crashed: {0}")]
    Crashed(String),
    /// The agent does not support this game.
    #[error("not supported: {0}")]
    NotSupported(String),
    /// The agent's answer could not be read at all (bytes that are not text).
    #[error("unreadable answer: {0}")]
    Garbled(String),
    /// The player gave up (a person resigned, or left: end of input).
    #[error("resigned: {0}")]
    Resigned(String),
    /// The agent's answer was longer than it may be (`limit` bytes); `excerpt` is its beginning.
    #[error("answer too long: over {limit} bytes (it began `{excerpt}`)")]
    TooLong { limit: usize, excerpt: String },
    /// The decision is made elsewhere and later (a person's verdict on `arena serve`): the match
    /// waits, stored as it stands, instead of being played on.
    #[error("awaited: {0}")]
    Awaited(String),
}

/// A player: chooses moves from its own view, with an RNG the engine seeded.
///
/// The engine calls `start` before each game, `act` when the agent must move (possibly again with
/// feedback, for agents that allow retries), and `observe` after every move so agents that keep
/// state can follow the game. An agent lives in one worker thread at a time.
pub trait Agent: Send + std::fmt::Debug {
    /// Whether this agent can play seat `player` of `game`, asked once before a tournament's
    /// first game: an agent that cannot (free text it cannot write, hidden information its search
    /// needs, a network trained for another game) is refused with this reason rather than losing
    /// every game. Agents that can play anything keep the default.
    fn check_seat(&self, game: &dyn Game, player: Player) -> Result<(), AgentError> {
        let _ = (game, player);
        Ok(())
    }

    /// Called before each game, with the agent's seat.
    fn start(&mut self, game: &GameRef, player: Player) -> Result<(), AgentError> {
        let _ = (game, player);
        Ok(())
    }

    /// Chooses a move.
    fn act(&mut self, view: &View<'_>, rng: &mut AgentRng) -> Result<Decision, AgentError>;

    /// Whether this agent wants [`Agent::observe`] calls. Agents that keep state across moves
    /// return true; the engine skips the calls for the others (a measurable cost in fast games).
    fn observes_moves(&self) -> bool {
        false
    }

    /// Told of each move played by anyone, if [`Agent::observes_moves`]. Chance outcomes of
    /// imperfect-information games are withheld (`None`): they may be private (a dealt card).
    fn observe(&mut self, actor: games::Turn, action: Option<Action>) {
        let _ = (actor, action);
    }

    /// Called after each game with every player's return.
    fn finish(&mut self, returns: &[f64]) {
        let _ = returns;
    }

    /// How many rejected answers (unparseable or illegal) the engine lets this agent retry, with the
    /// error quoted back through [`View::feedback`], before the game is lost.
    fn retries(&self) -> usize {
        0
    }
}
