//! Typed agent configurations: [`AgentConfig`] is what an agent spec string says, checked, so the
//! engine passes agents around as values rather than as text to parse again. Its text form
//! ([`Display`](std::fmt::Display), and serde) is the canonical spec, which parses back to an
//! equal config.
//!
//! Parsing checks names and parameters only: it never opens a file or starts a program (a
//! config read back from a store is data). Files are opened when an agent is built
//! ([`AgentFactory::build_config`](crate::AgentFactory::build_config)).

use std::fmt;
use std::path::{Path, PathBuf};

use games::{Params, Spec};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::mcts::{MCTS_PARAMS, MctsConfig};
use crate::puct::{CHECKPOINT_PARAMS, PlayoutCap, PuctConfig, RootNoise};
use crate::registry::{BUILTIN, Error};

/// An agent as a value: the built-in agents with typed settings, every other agent as its spec.
#[derive(Clone, Debug, PartialEq)]
pub enum AgentConfig {
    /// `random`: uniformly random legal moves.
    Random,
    /// `first`: the lowest legal move.
    First,
    /// `mcts(sims=N, c=C, seed=S)`: UCT search with random rollouts.
    Mcts(MctsConfig),
    /// `checkpoint(path=DIR, ...)`: a network checkpoint playing by PUCT search.
    Checkpoint(CheckpointAgentConfig),
    /// Any other agent (`cmd`, `llm`, `jury`) as its canonical spec text, its name and parameters
    /// checked; built from the text.
    Spec(String),
}

/// The settings of the `checkpoint` agent, as its spec gives them (see
/// [`CHECKPOINT_PARAMS`] for the ranges).
#[derive(Clone, Debug, PartialEq)]
pub struct CheckpointAgentConfig {
    /// The checkpoint directory.
    pub path: PathBuf,
    /// PUCT simulations per move (0: play the network's policy).
    pub sims: usize,
    /// 0: the most visited move; otherwise visits^(1/T) sampling.
    pub temperature: f64,
    /// Use the temperature only for this many plies from the start (0: always).
    pub temperature_plies: usize,
    /// The exploration constant.
    pub c_puct: f64,
    /// Dirichlet noise on the root priors.
    pub noise: bool,
    /// The Dirichlet concentration of the root noise.
    pub noise_alpha: f64,
    /// The share of the root priors replaced by noise.
    pub noise_fraction: f64,
    /// Playout cap randomisation: when above 0, a move searches `sims` only with probability
    /// `full_search_share` and otherwise this many simulations, without noise and without a
    /// policy (so it is no training target). 0: every move searches `sims`.
    pub fast_sims: usize,
    pub full_search_share: f64,
    /// Tree reuse between moves (see [`PuctConfig::reuse_tree`]).
    pub reuse: bool,
    /// Positions where the side to move wins at once are valued exactly (see
    /// [`PuctConfig::win_check`]).
    pub win_check: bool,
    /// The search's per-ply discount of backed-up values (see [`PuctConfig::discount`]).
    pub discount: f64,
}

const CHECKPOINT: &str = "checkpoint";
const MCTS: &str = "mcts";
const LLM: &str = "llm";

impl CheckpointAgentConfig {
    /// The checkpoint in `path` with every other setting at its spec default (100 simulations,
    /// temperature 0, c_puct 1.5, no noise; alpha 0.3 and fraction 0.25 when noise is turned on).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        CheckpointAgentConfig {
            path: path.into(),
            sims: 100,
            temperature: 0.0,
            temperature_plies: 0,
            c_puct: 1.5,
            noise: false,
            noise_alpha: 0.3,
            noise_fraction: 0.25,
            fast_sims: 0,
            full_search_share: 0.25,
            reuse: false,
            win_check: false,
            discount: 0.0,
        }
    }

    /// The settings from the `checkpoint` agent's checked parameters.
    pub(crate) fn from_params(params: &Params) -> Result<Self, Error> {
        let path = params.text("path");
        if path.trim().is_empty() {
            return Err(games::Error::BadParameter {
                owner: "agent `checkpoint`".to_string(),
                param: "path".to_string(),
                value: path.to_string(),
                reason: "give the checkpoint directory, e.g. checkpoint(path=runs/gen0)".to_string(),
            }
            .into());
        }
        Ok(CheckpointAgentConfig {
            path: PathBuf::from(path),
            sims: params.int("sims") as usize,
            temperature: params.float("temperature"),
            temperature_plies: params.int("temperature_plies") as usize,
            c_puct: params.float("c_puct"),
            noise: params.bool("noise"),
            noise_alpha: params.float("noise_alpha"),
            noise_fraction: params.float("noise_fraction"),
            fast_sims: params.int("fast_sims") as usize,
            full_search_share: params.float("full_search_share"),
            reuse: params.bool("reuse"),
            win_check: params.bool("win_check"),
            discount: params.float("discount"),
        })
    }

    /// The canonical spec: every parameter, in the order of [`CHECKPOINT_PARAMS`], the playout
    /// cap's, tree reuse, the win check and the discount only when they are on (so specs written before they
    /// existed keep their text). (A path that is not valid Unicode is written lossily.)
    pub fn spec(&self) -> Spec {
        let spec = Spec::new(CHECKPOINT)
            .with("path", self.path.display())
            .with("sims", self.sims)
            .with("temperature", self.temperature)
            .with("temperature_plies", self.temperature_plies)
            .with("c_puct", self.c_puct)
            .with("noise", self.noise)
            .with("noise_alpha", self.noise_alpha)
            .with("noise_fraction", self.noise_fraction);
        let spec = if self.fast_sims == 0 {
            spec
        } else {
            spec.with("fast_sims", self.fast_sims).with("full_search_share", self.full_search_share)
        };
        let spec = if self.reuse { spec.with("reuse", true) } else { spec };
        let spec = if self.win_check { spec.with("win_check", true) } else { spec };
        if self.discount > 0.0 { spec.with("discount", self.discount) } else { spec }
    }

    /// Checks the settings against the ranges a spec must respect, with the same errors.
    pub fn validate(&self) -> Result<(), Error> {
        let params = Params::from_spec("agent `checkpoint`", CHECKPOINT_PARAMS, &self.spec())?;
        CheckpointAgentConfig::from_params(&params).map(|_| ())
    }

    /// The search settings these give.
    pub fn puct(&self) -> PuctConfig {
        PuctConfig {
            simulations: self.sims,
            c_puct: self.c_puct as f32,
            temperature: self.temperature as f32,
            temperature_plies: match self.temperature_plies {
                0 => None,
                plies => Some(plies),
            },
            noise: self.noise.then_some(RootNoise { alpha: self.noise_alpha, fraction: self.noise_fraction as f32 }),
            playout_cap: (self.fast_sims > 0).then_some(PlayoutCap {
                fast_simulations: self.fast_sims,
                full_search_share: self.full_search_share as f32,
            }),
            reuse_tree: self.reuse,
            win_check: self.win_check,
            discount: self.discount as f32,
        }
    }
}

impl MctsConfig {
    /// The settings from the `mcts` agent's checked parameters.
    pub(crate) fn from_params(params: &Params) -> Self {
        MctsConfig {
            simulations: params.int("sims") as u32,
            exploration: params.float("c"),
            seed: params.int("seed") as u64,
        }
    }

    /// The canonical spec: `mcts(sims=N,c=C,seed=S)`.
    pub fn spec(&self) -> Spec {
        Spec::new(MCTS).with("sims", self.simulations).with("c", self.exploration).with("seed", self.seed)
    }

    /// Checks the settings against the ranges a spec must respect, with the same errors.
    pub fn validate(&self) -> Result<(), Error> {
        Params::from_spec("agent `mcts`", MCTS_PARAMS, &self.spec())?;
        Ok(())
    }
}

/// The built-in agent called `name`, or the error listing the known ones.
pub(crate) fn registration(name: &str) -> Result<&'static crate::AgentRegistration, Error> {
    BUILTIN.iter().find(|a| a.name == name).ok_or_else(|| Error::UnknownAgent {
        name: name.to_string(),
        known: BUILTIN.iter().map(|a| a.name).chain([crate::jury::JURY]).collect::<Vec<_>>().join(", "),
    })
}

impl AgentConfig {
    /// Parses and checks an agent spec: the typed agents' parameters exactly as when building
    /// them; for the others, the name and the parameters (a jury's members recursively), keeping
    /// the canonical text. Opens no file and starts no program.
    pub fn parse(spec: &str) -> Result<AgentConfig, Error> {
        let parsed = Spec::parse(spec)?;
        if parsed.name == crate::jury::JURY {
            crate::jury::check_members(&parsed)?;
            return Ok(AgentConfig::Spec(parsed.to_string()));
        }
        let registration = registration(&parsed.name)?;
        let params = Params::from_spec(&format!("agent `{}`", registration.name), registration.params, &parsed)?;
        Ok(match registration.name {
            "random" => AgentConfig::Random,
            "first" => AgentConfig::First,
            MCTS => AgentConfig::Mcts(MctsConfig::from_params(&params)),
            CHECKPOINT => AgentConfig::Checkpoint(CheckpointAgentConfig::from_params(&params)?),
            LLM => {
                // Checked as when building (a model named, a known `choice`); kept as its text.
                crate::llm_agent::LlmAgentConfig::from_params(&params)?;
                AgentConfig::Spec(parsed.to_string())
            }
            crate::human::HUMAN => {
                crate::human::check_via(&params)?;
                AgentConfig::Spec(parsed.to_string())
            }
            _ => AgentConfig::Spec(parsed.to_string()),
        })
    }

    /// The agent's name (`random`, `mcts`, `llm`, ...).
    pub fn name(&self) -> &str {
        match self {
            AgentConfig::Random => "random",
            AgentConfig::First => "first",
            AgentConfig::Mcts(_) => MCTS,
            AgentConfig::Checkpoint(_) => CHECKPOINT,
            AgentConfig::Spec(text) => text.split('(').next().unwrap_or(text).trim(),
        }
    }

    /// Checks a config made in code as [`AgentConfig::parse`] checks a spec.
    pub fn validate(&self) -> Result<(), Error> {
        match self {
            AgentConfig::Random | AgentConfig::First => Ok(()),
            AgentConfig::Mcts(config) => config.validate(),
            AgentConfig::Checkpoint(config) => config.validate(),
            AgentConfig::Spec(text) => AgentConfig::parse(text).map(|_| ()),
        }
    }
}

/// A model an agent reads, named by where its spec says it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelFile {
    /// A network checkpoint directory (`checkpoint(path=DIR)`).
    Checkpoint(PathBuf),
    /// A language model: a GGUF file or a fine-tuned checkpoint directory (`llm(model=...)`).
    Language(PathBuf),
    /// A language model's context file (`context=FILE`, or a checkpoint directory's
    /// `context.json`).
    Context(PathBuf),
}

impl ModelFile {
    pub fn path(&self) -> &Path {
        match self {
            ModelFile::Checkpoint(path) | ModelFile::Language(path) | ModelFile::Context(path) => path,
        }
    }
}

impl AgentConfig {
    /// The models this agent reads (a jury's members' too), in the order its spec names them;
    /// none for agents that read no model. A spec that does not parse names none.
    pub fn model_files(&self) -> Vec<ModelFile> {
        match self {
            AgentConfig::Checkpoint(config) => vec![ModelFile::Checkpoint(config.path.clone())],
            AgentConfig::Spec(text) => {
                let Ok(spec) = Spec::parse(text) else { return Vec::new() };
                if spec.name == crate::jury::JURY {
                    return spec
                        .args
                        .iter()
                        .filter_map(|(_, member)| AgentConfig::parse(member).ok())
                        .flat_map(|member| member.model_files())
                        .collect();
                }
                let (model, context) = language_files(&spec);
                model.map(ModelFile::Language).into_iter().chain(context.map(ModelFile::Context)).collect()
            }
            AgentConfig::Random | AgentConfig::First | AgentConfig::Mcts(_) => Vec::new(),
        }
    }

    /// This agent reading the model at `from` from `to` instead (wherever its spec names it, a
    /// jury's members included); every other setting unchanged.
    pub fn with_model_file(&self, from: &Path, to: &Path) -> AgentConfig {
        match self {
            AgentConfig::Checkpoint(config) if config.path == from => {
                AgentConfig::Checkpoint(CheckpointAgentConfig { path: to.to_path_buf(), ..config.clone() })
            }
            AgentConfig::Spec(text) => {
                let Ok(mut spec) = Spec::parse(text) else { return self.clone() };
                if spec.name == crate::jury::JURY {
                    for (_, member) in &mut spec.args {
                        if let Ok(config) = AgentConfig::parse(member) {
                            *member = config.with_model_file(from, to).to_string();
                        }
                    }
                } else if let (model, context) = language_files(&spec)
                    && (model.as_deref() == Some(from) || context.as_deref() == Some(from))
                {
                    // A checkpoint directory's own context is named, so that it stays when the
                    // model moves (a fetched copy holds the weights only).
                    if let Some(context) = context.filter(|_| spec.get("context").is_none()) {
                        spec.args.push(("context".to_string(), context.display().to_string()));
                    }
                    let key = if model.as_deref() == Some(from) { "model" } else { "context" };
                    for (name, value) in &mut spec.args {
                        if name == key {
                            *value = to.display().to_string();
                        }
                    }
                } else {
                    return self.clone();
                }
                AgentConfig::Spec(spec.to_string())
            }
            _ => self.clone(),
        }
    }
}

/// The model path of an `llm(...)` spec and the context file it reads (`~` expanded); an
/// `openai(...)` spec's context file; nothing for other agents or a bad spec.
fn language_files(spec: &Spec) -> (Option<PathBuf>, Option<PathBuf>) {
    let params = |name: &str| {
        let registration = registration(name).ok()?;
        Params::from_spec(&format!("agent `{name}`"), registration.params, spec).ok()
    };
    match spec.name.as_str() {
        LLM => match params(LLM).and_then(|p| crate::llm_agent::LlmAgentConfig::from_params(&p).ok()) {
            Some(config) => {
                let context = config.context_file();
                (Some(config.model), context)
            }
            None => (None, None),
        },
        "openai" => (None, params("openai").and_then(|p| crate::openai::OpenAiConfig::from_params(&p).ok()?.context)),
        _ => (None, None),
    }
}

impl From<MctsConfig> for AgentConfig {
    fn from(config: MctsConfig) -> Self {
        AgentConfig::Mcts(config)
    }
}

impl From<CheckpointAgentConfig> for AgentConfig {
    fn from(config: CheckpointAgentConfig) -> Self {
        AgentConfig::Checkpoint(config)
    }
}

impl std::str::FromStr for AgentConfig {
    type Err = Error;

    fn from_str(spec: &str) -> Result<Self, Error> {
        AgentConfig::parse(spec)
    }
}

impl fmt::Display for AgentConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AgentConfig::Random => f.write_str("random"),
            AgentConfig::First => f.write_str("first"),
            AgentConfig::Mcts(config) => config.spec().fmt(f),
            AgentConfig::Checkpoint(config) => config.spec().fmt(f),
            AgentConfig::Spec(text) => f.write_str(text),
        }
    }
}

impl Serialize for AgentConfig {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AgentConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        AgentConfig::parse(&text).map_err(|e| serde::de::Error::custom(format!("agent `{text}`: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(spec: &str) -> AgentConfig {
        AgentConfig::parse(spec).unwrap_or_else(|e| panic!("{spec}: {e}"))
    }

    fn error(spec: &str) -> String {
        match AgentConfig::parse(spec) {
            Ok(config) => panic!("{spec} parsed as {config:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn model_files_are_found_and_moved_in_every_agent_that_reads_one() {
        let checkpoint = parse("checkpoint(path=runs/g1,sims=8)");
        assert_eq!(checkpoint.model_files(), vec![ModelFile::Checkpoint("runs/g1".into())]);
        let moved = checkpoint.with_model_file(Path::new("runs/g1"), Path::new("/cache/abc"));
        assert_eq!(moved, parse("checkpoint(path=/cache/abc,sims=8)"));

        let llm = parse("llm(model=\"m dir/a.gguf\",temperature=0)");
        assert_eq!(llm.model_files(), vec![ModelFile::Language("m dir/a.gguf".into())]);
        let moved = llm.with_model_file(Path::new("m dir/a.gguf"), Path::new("/c/x.gguf"));
        assert_eq!(moved.to_string(), parse("llm(model=/c/x.gguf,temperature=0)").to_string());
        assert_eq!(llm.with_model_file(Path::new("other.gguf"), Path::new("/c/x.gguf")), llm);

        let jury = parse("jury(a=llm(model=a.gguf),b=random,c=\"llm(model=b.gguf,temperature=1)\")");
        assert_eq!(
            jury.model_files(),
            vec![ModelFile::Language("a.gguf".into()), ModelFile::Language("b.gguf".into())]
        );
        let moved = jury.with_model_file(Path::new("b.gguf"), Path::new("/c/b.gguf"));
        assert_eq!(
            moved.model_files(),
            vec![ModelFile::Language("a.gguf".into()), ModelFile::Language("/c/b.gguf".into())]
        );
        assert!(parse("mcts(sims=5)").model_files().is_empty() && AgentConfig::Random.model_files().is_empty());
    }

    #[test]
    fn specs_parse_into_typed_configs_with_the_spec_defaults() {
        assert_eq!(parse("random"), AgentConfig::Random);
        assert_eq!(parse(" first "), AgentConfig::First);
        assert_eq!(parse("mcts"), AgentConfig::Mcts(MctsConfig::default()));
        assert_eq!(
            parse("mcts(sims=50,seed=3)"),
            AgentConfig::Mcts(MctsConfig { simulations: 50, seed: 3, ..MctsConfig::default() })
        );
        assert_eq!(
            parse("checkpoint(path=runs/gen3)"),
            AgentConfig::Checkpoint(CheckpointAgentConfig::new("runs/gen3"))
        );
        let config = CheckpointAgentConfig {
            sims: 8,
            temperature: 0.5,
            temperature_plies: 10,
            c_puct: 2.0,
            noise: true,
            noise_alpha: 0.1,
            noise_fraction: 0.5,
            ..CheckpointAgentConfig::new("a b")
        };
        let spec = r#"checkpoint(noise=true, path="a b", sims=8, temperature=0.5, temperature_plies=10, c_puct=2,
            noise_alpha=0.1, noise_fraction=0.5)"#;
        assert_eq!(parse(spec), AgentConfig::Checkpoint(config.clone()));
        assert_eq!(
            config.puct(),
            PuctConfig {
                simulations: 8,
                c_puct: 2.0,
                temperature: 0.5,
                temperature_plies: Some(10),
                noise: Some(RootNoise { alpha: 0.1, fraction: 0.5 }),
                playout_cap: None,
                reuse_tree: false,
                win_check: false,
                discount: 0.0,
            }
        );
        let capped = parse("checkpoint(path=p,sims=200,fast_sims=30,full_search_share=0.2)");
        let AgentConfig::Checkpoint(capped) = capped else { panic!("a checkpoint config") };
        assert_eq!(capped.puct().playout_cap, Some(PlayoutCap { fast_simulations: 30, full_search_share: 0.2 }));
        assert!(capped.spec().to_string().ends_with("fast_sims=30,full_search_share=0.2)"));
        let AgentConfig::Checkpoint(reusing) = parse("checkpoint(path=p,reuse=true)") else { panic!("a checkpoint") };
        assert!(reusing.puct().reuse_tree && reusing.spec().to_string().ends_with("noise_fraction=0.25,reuse=true)"));
        let AgentConfig::Checkpoint(checking) = parse("checkpoint(path=p,win_check=true)") else {
            panic!("a checkpoint")
        };
        assert!(
            checking.puct().win_check && checking.spec().to_string().ends_with("noise_fraction=0.25,win_check=true)")
        );
        let AgentConfig::Checkpoint(discounting) = parse("checkpoint(path=p,discount=0.02)") else {
            panic!("a checkpoint")
        };
        assert_eq!(discounting.puct().discount, 0.02);
        assert!(discounting.spec().to_string().ends_with("noise_fraction=0.25,discount=0.02)"));
        assert_eq!(CheckpointAgentConfig::new("x").puct(), PuctConfig::default());
        // Every other agent keeps its (canonical) spec text.
        assert_eq!(
            parse("cmd( program = \"python3 bot.py\" )"),
            AgentConfig::Spec(r#"cmd(program="python3 bot.py")"#.into())
        );
        assert_eq!(parse("llm(model=m.gguf)").name(), "llm");
        assert_eq!(parse("jury(a=random,b=mcts(sims=5))"), AgentConfig::Spec("jury(a=random,b=mcts(sims=5))".into()));
    }

    #[test]
    fn bad_specs_are_refused_with_their_reasons() {
        assert!(error("nosuch").contains("unknown agent `nosuch`"));
        assert!(error("mcts(sims=0)").contains("sims"));
        assert!(error("mcts(c=-1)").contains("`c`") || error("mcts(c=-1)").contains("c"));
        assert!(error("random(x=1)").contains("x"));
        assert!(error("checkpoint").contains("give the checkpoint directory"));
        assert!(error("checkpoint(path=a,sims=-1)").contains("sims"));
        assert!(error("checkpoint(path=a,noise=maybe)").contains("noise"));
        assert!(error("llm(model=m.gguf,top_p=2)").contains("top_p"));
        assert!(error("llm(temperature=0)").contains("give the GGUF file"));
        let bad_choice = error("llm(model=m.gguf,choice=best)");
        assert!(
            bad_choice.contains("choice") && bad_choice.contains("best") && bad_choice.contains("scored"),
            "{bad_choice}"
        );
        assert!(error("cmd(prog=x)").contains("prog"));
        assert!(error("jury").contains("needs members"));
        assert!(error("jury(a=random,b=nosuch)").contains("nosuch"));
        // Configs made in code are checked the same way when built.
        let bad = AgentConfig::Mcts(MctsConfig { simulations: 0, ..MctsConfig::default() });
        assert!(bad.validate().is_err_and(|e| e.to_string().contains("sims")));
        let bad = CheckpointAgentConfig { noise_fraction: 2.0, ..CheckpointAgentConfig::new("a") };
        assert!(bad.validate().is_err_and(|e| e.to_string().contains("noise_fraction")));
        let bad = CheckpointAgentConfig { temperature: f64::NAN, ..CheckpointAgentConfig::new("a") };
        assert!(bad.validate().is_err_and(|e| e.to_string().contains("temperature")));
        assert!(CheckpointAgentConfig::new("").validate().is_err());
        assert!(CheckpointAgentConfig::new("a").validate().is_ok());
    }

    #[test]
    fn the_text_form_is_canonical_and_parses_back_to_an_equal_config() {
        let configs = [
            AgentConfig::Random,
            AgentConfig::First,
            AgentConfig::Mcts(MctsConfig::default()),
            AgentConfig::Mcts(MctsConfig { simulations: 7, exploration: 0.1 + 0.2, seed: u64::MAX >> 1 }),
            AgentConfig::Checkpoint(CheckpointAgentConfig::new("runs/gen3")),
            AgentConfig::Checkpoint(CheckpointAgentConfig {
                temperature: 1.0 / 3.0,
                noise: true,
                ..CheckpointAgentConfig::new(r#"/tmp/my "best" net, v2=(final"#)
            }),
            AgentConfig::Checkpoint(CheckpointAgentConfig::new(r"C:\nets\gen 1")),
            AgentConfig::Checkpoint(CheckpointAgentConfig::new("nets/gen(1)")),
            AgentConfig::Spec(r#"cmd(program="python3 \"bot\".py, fast")"#.to_string()),
            AgentConfig::Spec("jury(a=llm(model=m.gguf,temperature=1),b=random)".to_string()),
            AgentConfig::Spec("llm(model=m.gguf,choice=scored,temperature=0)".to_string()),
            AgentConfig::Spec("llm(model=m.gguf,choice=text)".to_string()),
            AgentConfig::Spec("jury(a=llm(model=m.gguf,choice=scored),b=llm(model=m.gguf))".to_string()),
        ];
        for config in configs {
            let text = config.to_string();
            assert_eq!(AgentConfig::parse(&text).ok(), Some(config.clone()), "{text}");
            assert_eq!(parse(&text).to_string(), text);
            // Serde writes the same text, and reads it back.
            let json = serde_json::to_string(&config).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(json, serde_json::to_string(&text).unwrap_or_default());
            let back: AgentConfig = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
            assert_eq!(back, config);
        }
        assert_eq!(parse("mcts").to_string(), "mcts(sims=200,c=1.4142135623730951,seed=0)");
        // `choice` is kept as written; leaving it out (the default, `text`) keeps older specs as they were.
        assert_eq!(parse("llm( model = m.gguf, choice = scored )").to_string(), "llm(model=m.gguf,choice=scored)");
        assert_eq!(parse("llm(model=m.gguf)").to_string(), "llm(model=m.gguf)");
        assert_eq!(
            parse("checkpoint(path=runs/gen3)").to_string(),
            "checkpoint(path=runs/gen3,sims=100,temperature=0,temperature_plies=0,c_puct=1.5,noise=false,\
             noise_alpha=0.3,noise_fraction=0.25)"
        );
        let error = serde_json::from_str::<AgentConfig>("\"mcts(sims=0)\"").err().map(|e| e.to_string());
        assert!(error.unwrap_or_default().contains("mcts(sims=0)"));
    }
}
