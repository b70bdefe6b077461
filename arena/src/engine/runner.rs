//! Playing one match: seat the agents, run the game to its end, and turn any agent fault (an
//! illegal or unreadable move, an error, a panic, a time-out) into a lost game with its reason.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use agents::{Agent, AgentError, AgentRng, Decision, Reply, TextTrace, View};
use games::playout::sample_chance;
use games::{Action, GameRef, Information, InputKind, Move, Player, State, Turn, Utility};
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use crate::engine::seeds::stream_seed;

/// How much of a match is kept beyond its outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Keep {
    /// Returns, end reason and length only: the fastest.
    Outcome,
    /// Also the moves and the time of each decision.
    #[default]
    Moves,
    /// Also, per decision, the observation tensor, the agent's policy and value (training data).
    Trajectory,
}

/// Limits a match is played under.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// The game is stopped (and scored as it stands, a draw in board games) after this many moves.
    pub max_moves: Option<usize>,
    /// A decision that takes longer loses the game.
    pub time_per_move: Option<Duration>,
}

/// One match to play.
#[derive(Clone, Copy, Debug)]
pub struct MatchSetup<'a> {
    pub game: &'a GameRef,
    /// Seeds chance and each seat's agent RNG.
    pub seed: u64,
    /// Moves played before the agents take over (an opening).
    pub opening: &'a [Action],
    pub limits: Limits,
    pub keep: Keep,
}

/// How a fault ended a game.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// A legal-looking answer that is not legal here.
    IllegalAction,
    /// Text that does not read as an action.
    Unparseable,
    /// A panic, or an error the agent reported (its program died, it cannot play this game).
    Crash,
    /// Too slow.
    Timeout,
    /// An answer longer than the agent may give (an external program's line over its cap).
    TooLong,
    /// The player gave up (a person resigned or left).
    Resigned,
}

impl FaultKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::IllegalAction => "illegal_action",
            FaultKind::Unparseable => "unparseable",
            FaultKind::Crash => "crash",
            FaultKind::Timeout => "timeout",
            FaultKind::TooLong => "too_long",
            FaultKind::Resigned => "resigned",
        }
    }
}

/// How a match ended, without the details: what the store keeps in `end_reason` and tallies count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EndKind {
    Normal,
    MaxLength,
    Fault(FaultKind),
}

impl EndKind {
    /// Every kind, in report order.
    pub const ALL: [EndKind; 8] = [
        EndKind::Normal,
        EndKind::MaxLength,
        EndKind::Fault(FaultKind::IllegalAction),
        EndKind::Fault(FaultKind::Unparseable),
        EndKind::Fault(FaultKind::Crash),
        EndKind::Fault(FaultKind::Timeout),
        EndKind::Fault(FaultKind::TooLong),
        EndKind::Fault(FaultKind::Resigned),
    ];

    /// The position in [`EndKind::ALL`].
    pub fn index(self) -> usize {
        match self {
            EndKind::Normal => 0,
            EndKind::MaxLength => 1,
            EndKind::Fault(FaultKind::IllegalAction) => 2,
            EndKind::Fault(FaultKind::Unparseable) => 3,
            EndKind::Fault(FaultKind::Crash) => 4,
            EndKind::Fault(FaultKind::Timeout) => 5,
            EndKind::Fault(FaultKind::TooLong) => 6,
            EndKind::Fault(FaultKind::Resigned) => 7,
        }
    }

    /// `normal`, `max_length` or the fault kind, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            EndKind::Normal => "normal",
            EndKind::MaxLength => "max_length",
            EndKind::Fault(kind) => kind.as_str(),
        }
    }

    /// The kind in words, for people: `finished`, `move limit`, `illegal move`, ...
    pub fn describe(self) -> &'static str {
        match self {
            EndKind::Normal => "finished",
            EndKind::MaxLength => "move limit",
            EndKind::Fault(FaultKind::IllegalAction) => "illegal move",
            EndKind::Fault(FaultKind::Unparseable) => "unreadable answer",
            EndKind::Fault(FaultKind::Crash) => "crash",
            EndKind::Fault(FaultKind::Timeout) => "out of time",
            EndKind::Fault(FaultKind::TooLong) => "answer too long",
            EndKind::Fault(FaultKind::Resigned) => "resigned",
        }
    }

    /// The kind a stored label names.
    pub fn from_label(label: &str) -> Option<EndKind> {
        EndKind::ALL.into_iter().find(|kind| kind.as_str() == label)
    }
}

impl std::fmt::Display for EndKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a match ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum EndReason {
    /// The game reached a terminal state.
    Normal,
    /// The move limit was reached.
    MaxLength,
    /// The agent in `seat` lost the game by a fault.
    Fault { seat: usize, kind: FaultKind, detail: String },
}

impl EndReason {
    pub fn kind(&self) -> EndKind {
        match self {
            EndReason::Normal => EndKind::Normal,
            EndReason::MaxLength => EndKind::MaxLength,
            EndReason::Fault { kind, .. } => EndKind::Fault(*kind),
        }
    }

    /// The seat that lost by a fault, if one did.
    pub fn fault_seat(&self) -> Option<usize> {
        match self {
            EndReason::Fault { seat, .. } => Some(*seat),
            _ => None,
        }
    }
}

/// One decision of a trajectory: what the player saw and what it chose.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub player: Player,
    pub observation: Vec<f32>,
    pub action: Move,
    pub policy: Option<Vec<(Action, f32)>>,
    pub value: Option<f32>,
}

/// One answer of a language model in a match: who gave it, at which move, and its trace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TextTurn {
    pub seat: Player,
    /// The move's number in the game (0 = the first move, chance and opening moves included).
    pub ply: usize,
    pub trace: TextTrace,
    /// The engine rejected this answer (illegal or unreadable); the agent answered again at the
    /// same ply, or lost the game. Rejected answers against the accepted one of the same decision
    /// are preference data.
    #[serde(default)]
    pub rejected: bool,
}

/// The result of a match.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MatchResult {
    /// Each seat's return (faults: the faulty seat gets the game's minimum).
    pub returns: Vec<f64>,
    pub end: EndReason,
    /// Moves played, opening and chance moves included.
    pub length: usize,
    /// The moves, when kept.
    pub moves: Vec<Move>,
    /// Microseconds each agent decision took, when kept.
    pub move_micros: Vec<u32>,
    /// Per decision, when kept.
    pub trajectory: Vec<Step>,
    /// The accepted answers of agents that report text traces (language models), when moves are kept.
    pub turns: Vec<TextTurn>,
}

/// A match stopped where a seat's decision is made elsewhere and later (a person's verdict on
/// `arena serve`): the moves so far, to store and to finish once the decision comes.
#[derive(Clone, Debug, PartialEq)]
pub struct AwaitedMatch {
    /// The seat whose decision is awaited.
    pub seat: Player,
    /// Who decides, and where.
    pub detail: String,
    /// Moves played, opening and chance moves included.
    pub length: usize,
    /// Every move so far (kept whatever the keep level: the match goes on from them).
    pub moves: Vec<Move>,
    /// Microseconds each agent decision took, when kept.
    pub move_micros: Vec<u32>,
    /// The accepted answers of agents that report text traces, when moves are kept.
    pub turns: Vec<TextTurn>,
}

/// A match that could not be played at all (as opposed to one an agent lost by a fault), or
/// that waits for a decision made elsewhere.
#[derive(Debug, thiserror::Error)]
pub enum MatchError {
    /// The opening has an illegal move (openings are checked when a schedule is built).
    #[error("bad opening: {0}")]
    BadOpening(games::Error),
    /// The game's own code panicked: a bug in the game, not in an agent.
    #[error("the game panicked (a bug in the game's rules): {0}")]
    GamePanicked(String),
    /// A seat's decision is awaited elsewhere; only tournaments with a store can keep such a match.
    #[error("seat {} waits for {}: only a tournament with a store (--db) can keep the match until then", .0.seat, .0.detail)]
    Awaited(Box<AwaitedMatch>),
}

/// Plays one match between `agents` (one per seat, in seat order).
///
/// Everything an agent does wrong is a fault inside the result; only a bad opening or a panic in
/// the game's own code is an error.
pub fn play_match(setup: &MatchSetup<'_>, agents: &mut [&mut dyn Agent]) -> Result<MatchResult, MatchError> {
    play_match_with(setup, agents, &mut MatchScratch::default())
}

/// Buffers a worker reuses from match to match, so the match loop does not allocate per game.
#[derive(Debug, Default)]
pub struct MatchScratch {
    legal: Vec<Action>,
    outcomes: Vec<(Action, f64)>,
    rngs: Vec<AgentRng>,
}

/// [`play_match`] with buffers kept between matches.
pub fn play_match_with(
    setup: &MatchSetup<'_>,
    agents: &mut [&mut dyn Agent],
    scratch: &mut MatchScratch,
) -> Result<MatchResult, MatchError> {
    let game = setup.game;
    let facts = game.facts();
    assert_eq!(agents.len(), facts.players, "one agent per seat");
    let mut state = game.new_initial_state();
    for (i, &action) in setup.opening.iter().enumerate() {
        state.apply(action).map_err(|e| {
            MatchError::BadOpening(games::Error::BadMove {
                number: i + 1,
                text: action.to_string(),
                error: Box::new(e),
            })
        })?;
    }
    scratch.rngs.clear();
    scratch
        .rngs
        .extend((0..facts.players).map(|seat| AgentRng::seed_from_u64(stream_seed(setup.seed, 1 + seat as u64))));
    let MatchScratch { legal, outcomes, rngs } = scratch;
    let mut run = Run {
        setup,
        legal,
        length: setup.opening.len(),
        move_micros: Vec::new(),
        trajectory: Vec::new(),
        turns: Vec::new(),
        awaited: None,
    };
    // One unwind guard for the whole game (a guard per call would cost a few percent of the hot
    // loop); `in_agent` says whose code was running when a panic hit.
    let mut in_agent: Option<usize> = None;
    let played = catch_unwind(AssertUnwindSafe(|| run.play(state.as_mut(), agents, outcomes, rngs, &mut in_agent)));
    let end = match played {
        Ok(end) => end,
        Err(panic) => match in_agent {
            Some(seat) => {
                Fault { kind: FaultKind::Crash, detail: format!("panicked: {}", panic_text(&panic)) }.at(seat)
            }
            None => return Err(MatchError::GamePanicked(panic_text(&panic))),
        },
    };
    if let Some((seat, detail)) = run.awaited.take() {
        return Err(MatchError::Awaited(Box::new(AwaitedMatch {
            seat,
            detail,
            length: run.length,
            moves: state.history(),
            move_micros: run.move_micros,
            turns: run.turns,
        })));
    }
    Ok(run.finish(state.as_ref(), agents, end))
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic payload".to_string())
}

/// A fault before its seat is known.
struct Fault {
    kind: FaultKind,
    detail: String,
}

impl Fault {
    fn at(self, seat: usize) -> EndReason {
        EndReason::Fault { seat, kind: self.kind, detail: bounded_detail(self.detail) }
    }
}

/// The most of a fault's detail kept (in bytes): a 5 MB garbage answer is recorded as its
/// beginning and its length, not whole.
pub const FAULT_DETAIL_MAX_BYTES: usize = 2048;

/// `detail` cut to [`FAULT_DETAIL_MAX_BYTES`] (at a character boundary), saying how long it was.
pub fn bounded_detail(mut detail: String) -> String {
    if detail.len() <= FAULT_DETAIL_MAX_BYTES {
        return detail;
    }
    let total = detail.len();
    let mut cut = FAULT_DETAIL_MAX_BYTES;
    while !detail.is_char_boundary(cut) {
        cut -= 1;
    }
    detail.truncate(cut);
    detail.push_str(&format!("… ({total} bytes in all)"));
    detail
}

impl From<AgentError> for Fault {
    fn from(error: AgentError) -> Self {
        match error {
            // In whole milliseconds: an agent stopped at its deadline reports the time it had
            // left when it started (a hair under the limit).
            AgentError::Timeout(after) => Fault {
                kind: FaultKind::Timeout,
                detail: format!("no answer within {:.0} ms", after.as_secs_f64() * 1e3),
            },
            error @ AgentError::TooLong { .. } => Fault { kind: FaultKind::TooLong, detail: error.to_string() },
            AgentError::Garbled(detail) => Fault { kind: FaultKind::Unparseable, detail },
            AgentError::Resigned(detail) => Fault { kind: FaultKind::Resigned, detail },
            // Not a fault: `Run::decide` stops the match before this is used.
            AgentError::Awaited(detail) => Fault { kind: FaultKind::Crash, detail },
            error => Fault { kind: FaultKind::Crash, detail: error.to_string() },
        }
    }
}

/// The state of a match in progress, besides the game state.
struct Run<'a> {
    setup: &'a MatchSetup<'a>,
    legal: &'a mut Vec<Action>,
    /// Moves played so far, opening included.
    length: usize,
    move_micros: Vec<u32>,
    trajectory: Vec<Step>,
    turns: Vec<TextTurn>,
    /// The seat whose decision is awaited elsewhere, and who makes it: the match stops there.
    awaited: Option<(Player, String)>,
}

impl Run<'_> {
    /// Plays from the current state to the end; `in_agent` is set to the seat whose code runs.
    fn play(
        &mut self,
        state: &mut dyn State,
        agents: &mut [&mut dyn Agent],
        outcomes: &mut Vec<(Action, f64)>,
        rngs: &mut [AgentRng],
        in_agent: &mut Option<usize>,
    ) -> EndReason {
        let game = self.setup.game;
        let facts = game.facts();
        for (seat, agent) in agents.iter_mut().enumerate() {
            *in_agent = Some(seat);
            if let Err(error) = agent.start(game, seat) {
                return Fault::from(error).at(seat);
            }
        }
        *in_agent = None;
        let observers: Vec<usize> = (0..agents.len()).filter(|&seat| agents[seat].observes_moves()).collect();
        let mut chance_rng = AgentRng::seed_from_u64(stream_seed(self.setup.seed, 0));
        // Chance outcomes of imperfect-information games may be private (a dealt card): withheld.
        let hidden_chance = facts.information == Information::Imperfect;
        let timing = self.setup.keep >= Keep::Moves || self.setup.limits.time_per_move.is_some();
        loop {
            let actor = state.turn();
            if actor == Turn::Terminal {
                return EndReason::Normal;
            }
            if self.setup.limits.max_moves.is_some_and(|max| self.length >= max) {
                return EndReason::MaxLength;
            }
            let played = match actor {
                Turn::Player(player) => {
                    match self.decide(state, &mut *agents[player], player, &mut rngs[player], timing, in_agent) {
                        Ok(action) => action,
                        Err(fault) => return fault.at(player),
                    }
                }
                _ => {
                    state.chance_outcomes(outcomes);
                    let action = sample_chance(outcomes, &mut chance_rng);
                    state.apply_unchecked(action);
                    (!hidden_chance).then_some(action)
                }
            };
            self.length += 1;
            for &seat in &observers {
                *in_agent = Some(seat);
                agents[seat].observe(actor, played);
            }
            *in_agent = None;
        }
    }

    /// Asks `agent` for a move (with the retries it allows) and applies it. Returns the action, or
    /// `None` for a text move.
    fn decide(
        &mut self,
        state: &mut dyn State,
        agent: &mut dyn Agent,
        player: Player,
        rng: &mut AgentRng,
        timing: bool,
        in_agent: &mut Option<usize>,
    ) -> Result<Option<Action>, Fault> {
        let game = self.setup.game.as_ref();
        state.legal_actions(self.legal);
        let limit = self.setup.limits.time_per_move;
        let keep = self.setup.keep;
        let mut feedback: Option<String> = None;
        let mut rejected = 0;
        loop {
            let started = timing.then(Instant::now);
            // In-process agents stop their work at the deadline and answer with a time-out.
            let deadline = started.zip(limit).map(|(started, limit)| started + limit);
            let view =
                View::new(game, state, player, self.legal).with_feedback(feedback.as_deref()).with_deadline(deadline);
            *in_agent = Some(player);
            let answer = agent.act(&view, rng);
            *in_agent = None;
            // Read the answer in place: moving it out first costs a store-forwarding stall per
            // move, a measurable share of a fast game's time.
            let decision = match &answer {
                Ok(decision) => decision,
                Err(AgentError::Awaited(detail)) => {
                    self.awaited = Some((player, detail.clone()));
                    return Err(Fault { kind: FaultKind::Crash, detail: detail.clone() });
                }
                Err(error) => return Err(Fault::from(error.clone())),
            };
            if let Some(started) = started {
                let elapsed = started.elapsed();
                if let Some(limit) = limit.filter(|&limit| elapsed > limit) {
                    return Err(Fault {
                        kind: FaultKind::Timeout,
                        detail: format!("took {elapsed:?}, the limit is {limit:?}"),
                    });
                }
                if keep >= Keep::Moves {
                    self.move_micros.push(elapsed.as_micros().min(u32::MAX as u128) as u32);
                }
            }
            let observation = (keep == Keep::Trajectory).then(|| {
                let mut tensor = vec![0.0; game.facts().observation_size()];
                state.observation_tensor(player, &mut tensor);
                tensor
            });
            let resolved = resolve(state, self.legal, decision);
            if keep >= Keep::Moves
                && let Some(trace) = &decision.trace
            {
                let rejected = resolved.is_err();
                self.turns.push(TextTurn { seat: player, ply: self.length, trace: (**trace).clone(), rejected });
            }
            match resolved {
                Ok(played) => {
                    if let (Some(observation), Ok(decision)) = (observation, answer) {
                        let action = match (played, decision.reply) {
                            (Some(action), _) | (None, Reply::Action(action)) => Move::Action(action),
                            (None, Reply::Text(text)) => Move::Text(text),
                        };
                        let (policy, value) = (decision.policy, decision.value);
                        self.trajectory.push(Step { player, observation, action, policy, value });
                    }
                    return Ok(played);
                }
                Err(fault) => {
                    rejected += 1;
                    if rejected > agent.retries() {
                        return Err(fault);
                    }
                    feedback = Some(bounded_detail(fault.detail));
                }
            }
        }
    }

    /// The end of the game: final returns (a fault costs the faulty seat), moves, `finish` calls.
    fn finish(self, state: &dyn State, agents: &mut [&mut dyn Agent], end: EndReason) -> MatchResult {
        let facts = self.setup.game.facts();
        let returns = match &end {
            EndReason::Fault { seat, .. } => forfeit_returns(facts, *seat),
            _ => (0..facts.players).map(|p| state.player_return(p)).collect(),
        };
        for agent in agents.iter_mut() {
            // A panic here changes nothing: the game is over.
            let _ = catch_unwind(AssertUnwindSafe(|| agent.finish(&returns)));
        }
        MatchResult {
            returns,
            end,
            length: self.length,
            moves: if self.setup.keep >= Keep::Moves { state.history() } else { Vec::new() },
            move_micros: self.move_micros,
            trajectory: self.trajectory,
            turns: self.turns,
        }
    }
}

/// The faulty seat gets the game's minimum; in zero-sum games the others share its loss.
fn forfeit_returns(facts: &games::GameFacts, faulty: usize) -> Vec<f64> {
    let others = (facts.players - 1).max(1) as f64;
    (0..facts.players)
        .map(|p| match (p == faulty, facts.utility) {
            (true, _) => facts.min_return,
            (false, Utility::ZeroSum) => -facts.min_return / others,
            (false, Utility::GeneralSum) => facts.max_return,
        })
        .collect()
}

/// Applies an agent's decision; a wrong answer is a fault whose detail is quoted back on a retry.
/// `legal` holds the legal actions at a discrete turn (empty at a text turn).
fn resolve(state: &mut dyn State, legal: &[Action], decision: &Decision) -> Result<Option<Action>, Fault> {
    // Discrete turns list their legal actions; only an empty list needs the (virtual) question.
    let discrete = !legal.is_empty() || state.input_kind() == InputKind::Discrete;
    match (&decision.reply, discrete) {
        (Reply::Action(action), true) => apply_checked(state, legal, *action).map(Some),
        (Reply::Text(text), true) => {
            let action =
                state.parse_action(text).map_err(|e| Fault { kind: FaultKind::Unparseable, detail: e.to_string() })?;
            apply_checked(state, legal, action).map(Some)
        }
        (Reply::Text(text), false) => state
            .apply_text(text)
            .map(|()| None)
            .map_err(|e| Fault { kind: FaultKind::Unparseable, detail: e.to_string() }),
        (Reply::Action(action), false) => {
            Err(Fault { kind: FaultKind::Unparseable, detail: format!("this turn takes text, not action id {action}") })
        }
    }
}

fn apply_checked(state: &mut dyn State, legal: &[Action], action: Action) -> Result<Action, Fault> {
    // A scan of the short legal list: no call into the game, no unpredictable branches.
    if legal.contains(&action) {
        state.apply_unchecked(action);
        Ok(action)
    } else {
        let text = state.action_to_string(action);
        let legal: Vec<String> = legal.iter().map(|&a| state.action_to_string(a)).collect();
        Err(Fault {
            kind: FaultKind::IllegalAction,
            detail: format!("`{text}` is not legal here; legal moves: {}", legal.join(" ")),
        })
    }
}
