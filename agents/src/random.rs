//! Simple fixed agents: `random` (uniform over legal actions) and `first` (the lowest legal action).

use crate::agent::{Agent, AgentError, AgentRng, Decision, View};
use rand::Rng;

/// Plays a uniformly random legal action: the anchor every rating starts from.
#[derive(Debug, Default, Clone, Copy)]
pub struct RandomAgent;

impl Agent for RandomAgent {
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
    fn act(&mut self, view: &View<'_>, _rng: &mut AgentRng) -> Result<Decision, AgentError> {
        view.legal_actions()
            .first()
            .map(|&a| Decision::action(a))
            .ok_or_else(|| AgentError::NotSupported("`first` cannot write free text".to_string()))
    }
}
