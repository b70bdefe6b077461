//! `llm(model=FILE.gguf, ...)`: a language model as a player. It reads its text observation and
//! the legal moves, answers in words, and the answer is read back into a move; a rejected answer
//! is shown the engine's error and asked again (a bounded number of times). Every answer keeps its
//! prompt, completion and token log-probabilities for the trajectory.
//!
//! With a deadline ([`View::deadline`]) the answer is abandoned when it passes (the generator
//! stops producing it too), and the agent answers [`AgentError::Timeout`].

use std::path::{Path, PathBuf};

use games::{Action, InputKind, ParamDef, ParamKind, Params};
use rand::RngCore;

use crate::agent::{Agent, AgentError, AgentRng, Deadline, Decision, Reply, View};
use crate::chat::ChatMessage;
use crate::factory::AgentFactory;
use crate::llm::{Generator, LlmError, SamplingParams};
use crate::registry::Error;

/// The parameters of `llm(...)`.
pub const LLM_PARAMS: &[ParamDef] = &[
    ParamDef { name: "model", kind: ParamKind::Text, default: "", doc: "path of a GGUF file (llama architecture)" },
    ParamDef {
        name: "temperature",
        kind: ParamKind::Float { min: 0.0, max: 5.0 },
        default: "0.7",
        doc: "sampling temperature; 0 picks the likeliest token",
    },
    ParamDef {
        name: "top_p",
        kind: ParamKind::Float { min: 0.001, max: 1.0 },
        default: "0.95",
        doc: "nucleus sampling: the likeliest tokens summing to this probability",
    },
    ParamDef {
        name: "max_tokens",
        kind: ParamKind::Int { min: 1, max: 8192 },
        default: "128",
        doc: "longest answer at a text turn (an argument), in tokens",
    },
    ParamDef {
        name: "move_tokens",
        kind: ParamKind::Int { min: 1, max: 8192 },
        default: "16",
        doc: "longest answer at a move or verdict, in tokens",
    },
    ParamDef {
        name: "system",
        kind: ParamKind::Text,
        default: "",
        doc: "system prompt (a default that fits the turn if empty)",
    },
    ParamDef {
        name: "retries",
        kind: ParamKind::Int { min: 0, max: 10 },
        default: "2",
        doc: "rejected answers it is asked to correct before the game is lost",
    },
    ParamDef {
        name: "batch",
        kind: ParamKind::Int { min: 1, max: 256 },
        default: "8",
        doc: "most answers generated together (across concurrent games) by the shared generator",
    },
    ParamDef {
        name: "seed",
        kind: ParamKind::Int { min: 0, max: i64::MAX },
        default: "0",
        doc: "mixed into the engine's seed",
    },
];

/// How an `llm` agent answers.
#[derive(Clone, Debug, PartialEq)]
pub struct LlmAgentConfig {
    pub model: PathBuf,
    pub temperature: f32,
    pub top_p: f32,
    pub max_tokens: usize,
    /// The longest answer at a discrete turn (a move, a verdict).
    pub move_tokens: usize,
    /// The system prompt; `None` for the default of the turn's kind.
    pub system: Option<String>,
    pub retries: usize,
    /// The shared generator's largest batch.
    pub batch: usize,
    pub seed: u64,
}

/// Builds an `llm` agent from its checked parameters, its model and generator shared through
/// `factory`.
pub fn create_llm_agent(params: &Params, factory: &AgentFactory) -> Result<Box<dyn Agent>, Error> {
    let model = params.text("model");
    if model.trim().is_empty() {
        return Err(games::Error::BadParameter {
            owner: "agent `llm`".to_string(),
            param: "model".to_string(),
            value: String::new(),
            reason: "give the GGUF file, e.g. llm(model=~/.cache/arena/models/SmolLM2-135M-Instruct.Q8_0.gguf)"
                .to_string(),
        }
        .into());
    }
    let system = params.text("system");
    let config = LlmAgentConfig {
        model: expand_home(model),
        temperature: params.float("temperature") as f32,
        top_p: params.float("top_p") as f32,
        max_tokens: params.int("max_tokens") as usize,
        move_tokens: params.int("move_tokens") as usize,
        system: (!system.trim().is_empty()).then(|| system.to_string()),
        retries: params.int("retries") as usize,
        batch: params.int("batch") as usize,
        seed: params.int("seed") as u64,
    };
    Ok(Box::new(LlmAgent::new(config, factory).map_err(|e| Error::Model(e.to_string()))?))
}

/// `~/x` to `$HOME/x`, as a shell would.
fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => Path::new(&home).join(rest),
        _ => PathBuf::from(path),
    }
}

/// A language model playing through a shared batching [`Generator`].
#[derive(Debug)]
pub struct LlmAgent {
    config: LlmAgentConfig,
    generator: Generator,
    /// The chat of the current decision: the prompt, then each rejected answer and its error.
    chat: Vec<ChatMessage>,
    /// The last answer given, quoted back in the chat if it is rejected.
    last_answer: Option<String>,
}

impl LlmAgent {
    /// Loads the model and starts its generator, or shares those `factory` already has (one
    /// generator per model and batch size, so agents of concurrent games batch together).
    pub fn new(config: LlmAgentConfig, factory: &AgentFactory) -> Result<Self, LlmError> {
        let generator = factory.generator(&config.model, config.batch)?;
        Ok(LlmAgent::with_generator(config, generator))
    }

    /// An agent answering through `generator` (whose model is used; `config.model` and
    /// `config.batch` only name it in messages).
    pub fn with_generator(config: LlmAgentConfig, generator: Generator) -> Self {
        LlmAgent { config, generator, chat: Vec::new(), last_answer: None }
    }

    /// The generator this agent's answers come from.
    pub fn generator(&self) -> &Generator {
        &self.generator
    }

    /// The prompt of a fresh decision.
    fn prompt(&self, view: &View<'_>) -> Vec<ChatMessage> {
        let game = view.game().facts().name;
        let text_turn = view.input_kind() == InputKind::Text;
        let system = self.config.system.clone().unwrap_or_else(|| {
            if text_turn {
                "You are a concise, careful participant in a text game. Follow the instructions and answer in a few sentences."
                    .to_string()
            } else {
                format!("You are a {} player. You answer with a single move and nothing else.", game.replace('_', " "))
            }
        });
        let observation = view.observation_string();
        let user = if text_turn {
            observation
        } else {
            format!("{observation}\n\nChoose one of these moves: {}.\nYour move:", legal_moves_text(view))
        };
        vec![ChatMessage::system(system), ChatMessage::user(user)]
    }

    /// The message that quotes a rejected answer's error.
    fn retry_message(view: &View<'_>, feedback: &str) -> String {
        if view.input_kind() == InputKind::Text {
            format!("Your answer was rejected: {feedback}\nPlease answer again.")
        } else {
            format!(
                "Your answer was rejected: {feedback}\nChoose one of these moves: {}.\nYour move:",
                legal_moves_text(view)
            )
        }
    }
}

impl Agent for LlmAgent {
    fn act(&mut self, view: &View<'_>, rng: &mut AgentRng) -> Result<Decision, AgentError> {
        let deadline = Deadline::of(view);
        match (view.feedback(), self.last_answer.take()) {
            (Some(feedback), Some(answer)) if !self.chat.is_empty() => {
                self.chat.push(ChatMessage::assistant(answer));
                self.chat.push(ChatMessage::user(Self::retry_message(view, feedback)));
            }
            _ => self.chat = self.prompt(view),
        }
        let params = SamplingParams {
            temperature: self.config.temperature,
            top_p: self.config.top_p,
            max_tokens: match view.input_kind() {
                InputKind::Text => self.config.max_tokens,
                InputKind::Discrete => self.config.move_tokens,
            },
            seed: rng.next_u64() ^ self.config.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15),
        };
        let completion = self.generator.generate_until(&self.chat, &params, deadline.map(|d| d.at())).map_err(|e| {
            match (e, deadline) {
                (LlmError::DeadlinePassed, Some(deadline)) => deadline.error(),
                (e, _) => AgentError::Crashed(format!("language model {}: {e}", self.config.model.display())),
            }
        })?;
        let reply = match view.input_kind() {
            InputKind::Text => Reply::Text(completion.text.trim().to_string()),
            InputKind::Discrete => read_move(view, &completion.text),
        };
        self.last_answer = Some(completion.text.clone());
        let mut decision = Decision { reply, policy: None, value: None, trace: None };
        decision.trace = Some(Box::new(completion.trace(&self.chat)));
        Ok(decision)
    }

    fn retries(&self) -> usize {
        self.config.retries
    }
}

/// The legal moves as the game writes them, comma-separated.
fn legal_moves_text(view: &View<'_>) -> String {
    view.legal_actions().iter().map(|&a| view.action_to_string(a)).collect::<Vec<_>>().join(", ")
}

/// Reads a move out of a model's answer: the whole answer if it names a legal move, else the
/// first word that does (models wrap moves in sentences: "I play b2."), else the first word that
/// names a move at all (the engine then says why it is illegal), else the answer as it is (the
/// engine quotes the game's parse error back).
fn read_move(view: &View<'_>, answer: &str) -> Reply {
    let answer = answer.trim();
    let legal = |a: &Action| view.legal_actions().contains(a);
    if let Some(action) = view.parse_action(answer).ok().filter(legal) {
        return Reply::Action(action);
    }
    let words: Vec<&str> = answer
        .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|w| !w.is_empty())
        .collect();
    let parsed: Vec<Action> = words.iter().filter_map(|w| view.parse_action(w).ok()).collect();
    match parsed.iter().find(|a| legal(a)).or(parsed.first()) {
        Some(&action) => Reply::Action(action),
        None => Reply::Text(answer.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use games::load_game;

    fn reply_in_opening(game: &str, answer: &str) -> Reply {
        let game = load_game(game).unwrap_or_else(|e| panic!("{e}"));
        let mut state = game.new_initial_state();
        state.apply(4).unwrap_or_else(|e| panic!("{e}"));
        let mut legal = Vec::new();
        state.legal_actions(&mut legal);
        let view = View::new(game.as_ref(), state.as_ref(), 1, &legal);
        read_move(&view, answer)
    }

    #[test]
    fn moves_are_read_out_of_sentences() {
        // Tic-tac-toe cells are written a1..c3; b2 (action 4) is taken.
        assert_eq!(reply_in_opening("tic_tac_toe", "a1"), Reply::Action(0));
        assert_eq!(reply_in_opening("tic_tac_toe", "  I will play c3.\n"), Reply::Action(8));
        // The first legal move named wins over an illegal one named before it.
        assert_eq!(reply_in_opening("tic_tac_toe", "Not b2 but a1!"), Reply::Action(0));
        // Only an illegal move: passed on so the engine can say why.
        assert_eq!(reply_in_opening("tic_tac_toe", "b2"), Reply::Action(4));
        assert_eq!(reply_in_opening("tic_tac_toe", "no idea"), Reply::Text("no idea".to_string()));
    }

    #[test]
    fn an_answer_past_its_deadline_is_a_timeout() {
        use crate::llm::tiny::{TinyConfig, write_tiny_llama};
        use rand::SeedableRng;
        use std::time::{Duration, Instant};

        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("tiny.gguf");
        write_tiny_llama(&path, &TinyConfig::default(), 5).unwrap_or_else(|e| panic!("{e}"));
        let factory = AgentFactory::new();
        let spec = format!("llm(model=\"{}\",temperature=0,move_tokens=64)", path.display());
        let mut agent = factory.build(&spec).unwrap_or_else(|e| panic!("{e}"));
        let game = load_game("tic_tac_toe").unwrap_or_else(|e| panic!("{e}"));
        let state = game.new_initial_state();
        let mut legal = Vec::new();
        state.legal_actions(&mut legal);
        let view = View::new(game.as_ref(), state.as_ref(), 0, &legal);
        let act = |agent: &mut Box<dyn Agent>, view: &View<'_>| agent.act(view, &mut AgentRng::seed_from_u64(2));

        let passed = view.with_deadline(Some(Instant::now()));
        let answer = act(&mut agent, &passed);
        assert!(matches!(answer, Err(AgentError::Timeout(_))), "{answer:?}");
        // The generator stays usable, and an answer in time is the same with a deadline as without.
        let without = act(&mut agent, &view).unwrap_or_else(|e| panic!("{e}"));
        let later = view.with_deadline(Some(Instant::now() + Duration::from_secs(3600)));
        let with = act(&mut agent, &later).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(without, with);

        // The generator itself: a request whose deadline has passed is not answered.
        let generator = factory.generator(&path, 8).unwrap_or_else(|e| panic!("{e}"));
        let chat = [ChatMessage::user("hello")];
        let answer = generator.generate_until(&chat, &SamplingParams::greedy(32), Some(Instant::now()));
        assert!(matches!(answer, Err(LlmError::DeadlinePassed)), "{answer:?}");
    }
}
