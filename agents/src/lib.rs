//! Agents that play games: the `Agent` trait, what an agent sees (`View`), and the agents
//! themselves — `random`, `first`, `mcts`, network checkpoints (`checkpoint`), external programs
//! (`cmd`), language models in-process (`llm`) or behind an OpenAI-compatible server (`openai`),
//! and juries. Agents are built from spec strings like games, or
//! from typed [`AgentConfig`]s, through an [`AgentFactory`] that shares the weights they load:
//! `AgentFactory::new().build("cmd(program=\"python3 bot.py\")")`.

mod agent;
pub mod chat;
pub mod checkpoint;
pub mod command;
mod config;
pub mod context;
pub mod evaluator;
mod factory;
pub mod human;
pub mod jury;
pub mod llm;
pub mod llm_agent;
pub mod mcts;
pub mod network;
pub mod openai;
pub mod puct;
pub mod random;
mod registry;
pub mod solver_agent;

pub use agent::{Agent, AgentError, AgentRng, Deadline, Decision, Reply, View};
pub use chat::{ChatMessage, ServedRequest, TextTrace};
pub use checkpoint::Checkpoint;
pub use config::{AgentConfig, CheckpointAgentConfig, ModelFile};
pub use factory::AgentFactory;
pub use puct::PuctAgent;
pub use registry::{AgentRegistration, BUILTIN, CreateAgent, Error, load_agent};
