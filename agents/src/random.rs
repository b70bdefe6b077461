//! Simple fixed agents: `random` (uniform over legal actions) and `first` (the lowest legal action).

use games::{Game, InputKind, Player};
use rand::Rng;

use crate::agent::{Agent, AgentError, AgentRng, Decision, View};

/// Refuses a seat that takes free text, which an agent choosing among legal moves cannot write.
pub(crate) fn discrete_seat_only(name: &str, game: &dyn Game, player: Player) -> Result<(), AgentError> {
    match game.seat_input(player) {
        InputKind::Discrete => Ok(()),
        InputKind::Text => Err(AgentError::NotSupported(format!(
            "`{name}` chooses among legal moves and cannot write the free text that seat {player} of `{}` takes",
            game.facts().name
        ))),
    }
}

/// Plays a uniformly random legal action: the anchor every rating starts from.
#[derive(Debug, Default, Clone, Copy)]
pub struct RandomAgent;

impl Agent for RandomAgent {
    fn check_seat(&self, game: &dyn Game, player: Player) -> Result<(), AgentError> {
        discrete_seat_only("random", game, player)
    }

    fn act(&mut self, view: &View<'_>, rng: &mut AgentRng) -> Result<Decision, AgentError> {
        let legal = view.legal_actions();
        if legal.is_empty() {
            return Err(AgentError::NotSupported("`random` cannot write free text".to_string()));
        }
        Ok(Decision::action(legal[rng.random_range(0..legal.len())]))
    }
}

/// Always plays the lowest legal action: deterministic, weak, and handy in tests.
#[derive(Debug, Default, Clone, Copy)]
pub struct FirstLegalAgent;

impl Agent for FirstLegalAgent {
    fn check_seat(&self, game: &dyn Game, player: Player) -> Result<(), AgentError> {
        discrete_seat_only("first", game, player)
    }

    fn act(&mut self, view: &View<'_>, _rng: &mut AgentRng) -> Result<Decision, AgentError> {
        view.legal_actions()
            .first()
            .map(|&a| Decision::action(a))
            .ok_or_else(|| AgentError::NotSupported("`first` cannot write free text".to_string()))
    }
}
