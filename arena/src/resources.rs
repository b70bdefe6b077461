//! What a run may use, held explicitly: the games it knows (the built-in ones plus any a program
//! registers) and the agent factory that loads checkpoints and language models once and shares
//! them between workers. Dropping the handle frees the models; nothing is cached process-wide.

use agents::{Agent, AgentConfig, AgentFactory};
use games::{Game, GameRef, Player, Registry};

use crate::error::{Context, Error, Result};

/// The games and loaded models of a run; tournaments and evolve runs receive it.
#[derive(Debug, Default)]
pub struct Resources {
    games: Registry,
    agents: AgentFactory,
}

impl Resources {
    /// The built-in games, no model loaded yet.
    pub fn new() -> Self {
        Resources::default()
    }

    /// The games of `registry` (the built-in ones plus a program's own).
    pub fn with_games(registry: Registry) -> Self {
        Resources { agents: AgentFactory::with_games(registry.clone()), games: registry }
    }

    pub fn games(&self) -> &Registry {
        &self.games
    }

    /// Builds a game from its spec; the error names the spec.
    pub fn load_game(&self, spec: &str) -> Result<GameRef> {
        self.games.load(spec).with_context(|| format!("game `{spec}`"))
    }

    /// The agent factory (checkpoints and language models loaded once, shared by its agents).
    pub fn agents(&self) -> &AgentFactory {
        &self.agents
    }

    /// Builds an agent, sharing loaded models with every other agent built here.
    pub fn build_agent(&self, agent: &AgentConfig) -> Result<Box<dyn Agent>> {
        Ok(self.agents.build_config(agent)?)
    }

    /// Builds an agent once to check it before a run starts: a bad spec or model, or an agent that
    /// cannot play one of `seats` of `game`, fails at once. Returns the content hash of a
    /// checkpoint agent's weights.
    pub fn check_agent(&self, agent: &AgentConfig, game: &dyn Game, seats: &[Player]) -> Result<Option<String>> {
        let built = self.build_agent(agent)?;
        for &seat in seats {
            built
                .check_seat(game, seat)
                .map_err(|reason| Error::Invalid(format!("cannot play seat {seat} of {}: {reason}", game.spec())))?;
        }
        Ok(match agent {
            AgentConfig::Checkpoint(checkpoint) => {
                Some(self.agents.checkpoint(&checkpoint.path)?.info.model_sha256.clone())
            }
            _ => None,
        })
    }
}
