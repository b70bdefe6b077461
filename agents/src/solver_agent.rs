//! `solver(depth=N)`: perfect play from an exact solver (connect four on any board the game
//! supports, tic-tac-toe), or, with `depth`, play exact only within that many plies: anchors of
//! known strength between `random` and perfect. Among equally good moves it draws one with the
//! match's RNG, so its games vary and stay reproducible.

use games::solver::{ConnectFourSolver, SmallGameSolver, action_history};
use games::{Action, Game, ParamDef, ParamKind, Params, Player};
use rand::Rng;

use crate::agent::{Agent, AgentError, AgentRng, Deadline, Decision, Reply, View};

/// The `solver` agent's parameters.
pub const SOLVER_PARAMS: &[ParamDef] = &[ParamDef {
    name: "depth",
    kind: ParamKind::Int { min: 0, max: 64 },
    default: "0",
    doc: "plies searched ahead (0: to the end of the game, perfect play; connect four only)",
}];

/// The games with an exact solver.
const SOLVED: &str = "connect_four (any board), tic_tac_toe";

/// An agent that plays from an exact solver.
#[derive(Debug, Default)]
pub struct SolverAgent {
    /// Plies searched; `None` to the end.
    depth: Option<u32>,
    /// The connect four solver of the board last played (its table of bounds kept between moves).
    connect_four: Option<(String, Box<ConnectFourSolver>)>,
    small: SmallGameSolver,
}

impl SolverAgent {
    /// A perfect player (`depth` `None`) or one that searches `depth` plies.
    pub fn new(depth: Option<u32>) -> Self {
        SolverAgent { depth, ..SolverAgent::default() }
    }

    pub(crate) fn from_params(params: &Params) -> Self {
        SolverAgent::new(match params.int("depth") {
            0 => None,
            depth => Some(depth as u32),
        })
    }

    /// Each legal move's value for the player to move (higher is better), or `None` past the
    /// deadline.
    fn values(
        &mut self,
        view: &View<'_>,
        deadline: Option<&Deadline>,
    ) -> Result<Option<Vec<(Action, f64)>>, AgentError> {
        let game = view.game();
        let state =
            view.full_state().ok_or_else(|| AgentError::NotSupported("the solver needs the full state".to_string()))?;
        let legal = view.legal_actions();
        if game.facts().name == "connect_four" {
            let spec = game.spec().to_string();
            if self.connect_four.as_ref().is_none_or(|(kept, _)| *kept != spec) {
                let solver = ConnectFourSolver::for_game(game)
                    .ok_or_else(|| AgentError::NotSupported(format!("no solver for {spec}")))?;
                self.connect_four = Some((spec, Box::new(solver)));
            }
            let Some((_, solver)) = self.connect_four.as_mut() else { return Ok(None) };
            let history = action_history(state);
            if self.depth.is_none() {
                // Perfect play needs the optimal moves only, not every move's score.
                let found = solver
                    .best_moves_until(&history, deadline.map(Deadline::at))
                    .map_err(|e| AgentError::Crashed(format!("the solver refused the position: {e}")))?;
                return Ok(found.map(|(score, best)| {
                    legal.iter().map(|&a| (a, if best.contains(&a) { f64::from(score) } else { f64::MIN })).collect()
                }));
            }
            let scores = solver
                .move_scores_until(&history, self.depth, deadline.map(Deadline::at))
                .map_err(|e| AgentError::Crashed(format!("the solver refused the position: {e}")))?;
            return Ok(scores.map(|scores| {
                legal
                    .iter()
                    .filter_map(|&a| scores.get(a as usize).copied().flatten().map(|s| (a, f64::from(s))))
                    .collect()
            }));
        }
        let player = view.player();
        let mut values = Vec::with_capacity(legal.len());
        for &action in legal {
            let value = self
                .small
                .after(state, action, player)
                .ok_or_else(|| AgentError::NotSupported(format!("the solver cannot solve {}", game.spec())))?;
            values.push((action, value));
        }
        Ok(Some(values))
    }
}

impl Agent for SolverAgent {
    fn check_seat(&self, game: &dyn Game, _player: Player) -> Result<(), AgentError> {
        match (game.facts().name, self.depth) {
            ("connect_four", _) | ("tic_tac_toe", None) => Ok(()),
            ("tic_tac_toe", Some(_)) => Err(AgentError::NotSupported(
                "solver(depth=...) is for connect four; tic-tac-toe is solved to the end (leave depth out)".to_string(),
            )),
            (name, _) => {
                Err(AgentError::NotSupported(format!("no exact solver for `{name}` yet (solved games: {SOLVED})")))
            }
        }
    }

    fn act(&mut self, view: &View<'_>, rng: &mut AgentRng) -> Result<Decision, AgentError> {
        let deadline = Deadline::of(view);
        let values = match self.values(view, deadline.as_ref())? {
            Some(values) => values,
            None => return Err(deadline.map_or(AgentError::Timeout(Default::default()), |d| d.error())),
        };
        let best = values.iter().map(|&(_, v)| v).fold(f64::NEG_INFINITY, f64::max);
        let choices: Vec<Action> = values.iter().filter(|&&(_, v)| v == best).map(|&(a, _)| a).collect();
        let Some(&action) = choices.get(rng.random_range(0..choices.len().max(1))) else {
            return Err(AgentError::NotSupported("the solver found no legal move".to_string()));
        };
        let share = 1.0 / choices.len() as f32;
        Ok(Decision {
            reply: Reply::Action(action),
            policy: Some(choices.iter().map(|&a| (a, share)).collect()),
            value: Some(best.signum() as f32),
            trace: None,
        })
    }
}
