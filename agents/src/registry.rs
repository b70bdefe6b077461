//! Agents by spec string, like games: `random`, `first`, `cmd(program="python3 bot.py")`; the
//! registry of built-in agents and their parameters.

use std::time::Duration;

use games::{ParamDef, ParamKind, Params};

use crate::agent::Agent;
use crate::command::CommandAgent;
use crate::config::AgentConfig;
use crate::factory::AgentFactory;
use crate::mcts::{MCTS_PARAMS, MctsConfig};

/// Errors from agent specs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unknown agent `{name}`; known agents: {known}")]
    UnknownAgent { name: String, known: String },
    #[error(transparent)]
    Spec(#[from] games::Error),
    /// A model file that cannot be used.
    #[error("{0}")]
    Model(String),
}

/// Builds an agent from its checked parameters; models and checkpoints are loaded (or shared)
/// through the factory.
pub type CreateAgent = fn(&Params, &AgentFactory) -> Result<Box<dyn Agent>, Error>;

/// How an agent is found and built by name.
#[derive(Clone, Copy, Debug)]
pub struct AgentRegistration {
    pub name: &'static str,
    pub summary: &'static str,
    pub params: &'static [ParamDef],
    pub create: CreateAgent,
}

/// The agents that come with the crate.
pub const BUILTIN: &[AgentRegistration] = &[
    AgentRegistration {
        name: "random",
        summary: "uniformly random legal moves (the anchor at rating 0)",
        params: &[],
        create: |_, factory| factory.build_config(&AgentConfig::Random),
    },
    AgentRegistration {
        name: "first",
        summary: "always the lowest legal move (deterministic and weak)",
        params: &[],
        create: |_, factory| factory.build_config(&AgentConfig::First),
    },
    AgentRegistration {
        name: "mcts",
        summary: "UCT search with random rollouts (perfect-information games): the fixed anchor",
        params: MCTS_PARAMS,
        create: |params, factory| factory.build_config(&AgentConfig::Mcts(MctsConfig::from_params(params))),
    },
    AgentRegistration {
        name: "solver",
        summary: "perfect play from an exact solver (connect four, tic-tac-toe); depth=N: exact within N plies",
        params: crate::solver_agent::SOLVER_PARAMS,
        create: |params, _| Ok(Box::new(crate::solver_agent::SolverAgent::from_params(params))),
    },
    AgentRegistration {
        name: "cmd",
        summary: "an external program speaking JSON lines on stdin/stdout (see examples/random_bot.py)",
        params: &[
            ParamDef { name: "program", kind: ParamKind::Text, default: "", doc: "command line, run with sh -c" },
            ParamDef {
                name: "timeout_ms",
                kind: ParamKind::Int { min: 1, max: 3_600_000 },
                default: "5000",
                doc: "time allowed per move",
            },
            ParamDef {
                name: "retries",
                kind: ParamKind::Int { min: 0, max: 10 },
                default: "0",
                doc: "rejected answers it may correct before losing",
            },
        ],
        create: |params, _| {
            let program = params.text("program");
            if program.trim().is_empty() {
                return Err(games::Error::BadParameter {
                    owner: "agent `cmd`".to_string(),
                    param: "program".to_string(),
                    value: String::new(),
                    reason: "give the command to run, e.g. cmd(program=\"python3 bot.py\")".to_string(),
                }
                .into());
            }
            let timeout = Duration::from_millis(params.int("timeout_ms") as u64);
            Ok(Box::new(CommandAgent::new(program, timeout, params.int("retries") as usize)))
        },
    },
    AgentRegistration {
        name: crate::human::HUMAN,
        summary: "a person: at the terminal (sees the position, types moves; Ctrl-D resigns), or via=web: \
                  a debate's verdict given later on `arena serve`",
        params: crate::human::HUMAN_PARAMS,
        create: |params, _| crate::human::create_human_agent(params),
    },
    AgentRegistration {
        name: "llm",
        summary: "a language model (GGUF, llama architecture) answering in text; plays any game and debates",
        params: crate::llm_agent::LLM_PARAMS,
        create: crate::llm_agent::create_llm_agent,
    },
    AgentRegistration {
        name: "openai",
        summary: "a language model behind an OpenAI-compatible server (llama.cpp, vLLM, arena serve-model, an API)",
        params: crate::openai::OPENAI_PARAMS,
        create: crate::openai::create_openai_agent,
    },
    AgentRegistration {
        name: "checkpoint",
        summary: "a policy-value network checkpoint playing by PUCT search (perfect-information games)",
        params: crate::puct::CHECKPOINT_PARAMS,
        create: crate::puct::create_checkpoint_agent,
    },
];

/// Builds an agent from a spec string such as `random` or `cmd(program="./bot")`.
///
/// A convenience for one-off agents: each call uses a fresh [`AgentFactory`], so nothing is
/// shared between the agents of two calls (each `checkpoint` or `llm` agent loads its own weights,
/// and each `llm` agent gets its own generator thread). Build agents that should share weights and
/// batch together through one factory ([`AgentFactory::build`]).
pub fn load_agent(spec: &str) -> Result<Box<dyn Agent>, Error> {
    AgentFactory::new().build(spec)
}
