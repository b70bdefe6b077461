//! Agents that play games: the `Agent` trait, what an agent sees (`View`), and the agents
//! themselves — `random`, `first`, and external programs (`cmd`). Agents are built from spec
//! strings like games: `load_agent("cmd(program=\"python3 bot.py\")")`.

mod agent;
pub mod chat;
pub mod checkpoint;
pub mod command;
pub mod evaluator;
pub mod jury;
pub mod llm;
pub mod llm_agent;
pub mod mcts;
pub mod network;
pub mod puct;
pub mod random;
mod registry;

pub use agent::{Agent, AgentError, AgentRng, Decision, Reply, View};
pub use chat::{ChatMessage, TextTrace};
pub use checkpoint::Checkpoint;
pub use puct::PuctAgent;
pub use registry::{AgentRegistration, BUILTIN, Error, load_agent};
