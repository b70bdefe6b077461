//! Agents by spec string, like games: `random`, `first`, `cmd(program="python3 bot.py")`.

use std::time::Duration;

use games::{ParamDef, ParamKind, Params, Spec};

use crate::agent::Agent;
use crate::command::CommandAgent;
use crate::mcts::{MctsAgent, MctsConfig};
use crate::random::{FirstLegalAgent, RandomAgent};

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

/// How an agent is found and built by name.
#[derive(Clone, Copy, Debug)]
pub struct AgentRegistration {
    pub name: &'static str,
    pub summary: &'static str,
    pub params: &'static [ParamDef],
    pub create: fn(&Params) -> Result<Box<dyn Agent>, Error>,
}

/// The agents that come with the crate.
pub const BUILTIN: &[AgentRegistration] = &[
    AgentRegistration {
        name: "random",
        summary: "uniformly random legal moves (the anchor at rating 0)",
        params: &[],
        create: |_| Ok(Box::new(RandomAgent)),
    },
    AgentRegistration {
        name: "first",
        summary: "always the lowest legal move (deterministic and weak)",
        params: &[],
        create: |_| Ok(Box::new(FirstLegalAgent)),
    },
    AgentRegistration {
        name: "mcts",
        summary: "UCT search with random rollouts (perfect-information games): the fixed anchor",
        params: &[
            ParamDef {
                name: "sims",
                kind: ParamKind::Int { min: 1, max: 10_000_000 },
                default: "200",
                doc: "simulations per move",
            },
            ParamDef {
                name: "c",
                kind: ParamKind::Float { min: 0.0, max: 100.0 },
                default: "1.4142135623730951",
                doc: "UCB1 exploration constant",
            },
            ParamDef {
                name: "seed",
                kind: ParamKind::Int { min: 0, max: i64::MAX },
                default: "0",
                doc: "mixed into the engine's seed",
            },
        ],
        create: |params| {
            Ok(Box::new(MctsAgent::new(MctsConfig {
                simulations: params.int("sims") as u32,
                exploration: params.float("c"),
                seed: params.int("seed") as u64,
            })))
        },
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
        create: |params| {
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
        name: "llm",
        summary: "a language model (GGUF, llama architecture) answering in text; plays any game and debates",
        params: crate::llm_agent::LLM_PARAMS,
        create: crate::llm_agent::create_llm_agent,
    },
    AgentRegistration {
        name: "checkpoint",
        summary: "a policy-value network checkpoint playing by PUCT search (perfect-information games)",
        params: crate::puct::CHECKPOINT_PARAMS,
        create: crate::puct::create_checkpoint_agent,
    },
];

/// Builds an agent from a spec string such as `random` or `cmd(program="./bot")`.
pub fn load_agent(spec: &str) -> Result<Box<dyn Agent>, Error> {
    let parsed = Spec::parse(spec)?;
    // A jury's arguments are its members, under any keys: no fixed parameter list to check.
    if parsed.name == crate::jury::JURY {
        return Ok(Box::new(crate::jury::Jury::from_spec(&parsed)?));
    }
    let registration = BUILTIN.iter().find(|a| a.name == parsed.name).ok_or_else(|| Error::UnknownAgent {
        name: parsed.name.clone(),
        known: BUILTIN.iter().map(|a| a.name).chain([crate::jury::JURY]).collect::<Vec<_>>().join(", "),
    })?;
    let params = Params::from_spec(&format!("agent `{}`", registration.name), registration.params, &parsed)?;
    (registration.create)(&params)
}
