//! Quiz: two players answer the same question, each without seeing the other's reply; the rules
//! check each answer against the task's exact answer. The verifiable tasks of self-training and
//! rejection sampling.
//!
//! Spec: `quiz(tasks=generated,items=2000,seed=0,kinds=all,max_chars=200)`.
//!
//! Moves, in order:
//! 1. a chance move draws the task: outcome `i` (written `task i`) is item `i` of the set, each
//!    with probability `1 / items`. Paired games that share the opening replay the same task;
//! 2. seat 0's reply, then seat 1's: text turns ([`InputKind::Text`]) taken by
//!    [`State::apply_text`]. A reply must be at most `max_chars` characters and must read as an
//!    answer of the task's type ([`Task::read`]: the first number after the last `=`, else the
//!    first number; or yes/no); otherwise it is refused with the reason, and the state is unchanged.
//!
//! Returns: each player +1 if its answer equals the task's answer, else −1, independently (general
//! sum: both can be right). So the better answer wins a game, and two right (or two wrong) answers
//! draw. Returns are 0 before the end.
//!
//! Information: imperfect. No observation contains the answer or the other player's reply (at
//! the end it shows the player's own reply as read); [`State::render`] shows everything. The
//! observation text is the question and how to answer; the tensor has shape `[7]`: the phase
//! one-hot (drawing, seat 0 to answer, seat 1 to answer, over), the observer's seat one-hot, and
//! 1 if the observer is to act.

pub mod tasks;

use std::sync::Arc;

use crate::debate::propositions::preview;
use crate::error::{Error, Result};
use crate::game::{Action, Game, GameFacts, Information, InputKind, Player, State, Turn, Utility};
use crate::params::{ParamDef, ParamKind, Params};
use crate::record::Move;
use crate::registry::{GameRegistration, shared};
use crate::spec::Spec;

pub use tasks::{Answer, KINDS, Task, generate, load_jsonl};

/// The quiz's parameters, in canonical order.
pub const PARAMS: &[ParamDef] = &[
    ParamDef {
        name: "tasks",
        kind: ParamKind::Text,
        default: "generated",
        doc: "`generated` (small arithmetic, counting and comparison questions) or the path of a JSONL file of \
              {\"question\": text, \"answer\": whole number or yes/no, \"kind\": optional text}",
    },
    ParamDef {
        name: "items",
        kind: ParamKind::Int { min: 1, max: 100_000 },
        default: "2000",
        doc: "how many tasks the generated set has (ignored for a file)",
    },
    ParamDef {
        name: "seed",
        kind: ParamKind::Int { min: 0, max: i64::MAX },
        default: "0",
        doc: "seed of the generated set (ignored for a file); another seed is a held-out set",
    },
    ParamDef {
        name: "kinds",
        kind: ParamKind::Text,
        default: "all",
        doc: "the generated kinds: `all`, or names joined by `+` (addition, subtraction, multiplication, \
              letter_count, largest, even_count, comparison)",
    },
    ParamDef {
        name: "max_chars",
        kind: ParamKind::Int { min: 1, max: 100_000 },
        default: "200",
        doc: "longest reply accepted, in characters",
    },
];

pub const REGISTRATION: GameRegistration = GameRegistration {
    name: "quiz",
    summary: "quiz: both players answer the same question with an exact answer (arithmetic, counting, \
              comparisons, or a task file); each scores +1 if right, -1 if wrong",
    params: PARAMS,
    create: |params: &Params| Ok(shared(Quiz::new(params)?)),
};

/// Length of the observation tensor.
const TENSOR_SIZE: usize = 7;

#[derive(Debug)]
struct Rules {
    tasks: Vec<Task>,
    max_chars: usize,
}

/// The quiz with its task set.
#[derive(Debug)]
pub struct Quiz {
    facts: GameFacts,
    params: Params,
    rules: Arc<Rules>,
}

impl Quiz {
    /// Builds the game from validated parameters; a bad `kinds` value or task file is an error.
    pub fn new(params: &Params) -> Result<Quiz> {
        let bad = |param: &str, value: &str, reason: String| Error::BadParameter {
            owner: "game `quiz`".to_string(),
            param: param.to_string(),
            value: value.to_string(),
            reason,
        };
        let kinds = tasks::parse_kinds(params.text("kinds")).map_err(|e| bad("kinds", params.text("kinds"), e))?;
        let tasks = match params.text("tasks") {
            "generated" => generate(params.int("seed") as u64, params.int("items") as usize, &kinds),
            "" => return Err(bad("tasks", "", "expected `generated` or the path of a JSONL file".to_string())),
            path => load_jsonl(path)?,
        };
        let facts = GameFacts {
            name: "quiz",
            players: 2,
            chance: true,
            information: Information::Imperfect,
            utility: Utility::GeneralSum,
            num_distinct_actions: 1,
            max_chance_outcomes: tasks.len(),
            max_game_length: 3,
            observation_shape: vec![TENSOR_SIZE],
            min_return: -1.0,
            max_return: 1.0,
            input: InputKind::Text,
        };
        Ok(Quiz {
            facts,
            params: params.clone(),
            rules: Arc::new(Rules { tasks, max_chars: params.int("max_chars") as usize }),
        })
    }

    /// The task set, in chance-outcome order.
    pub fn tasks(&self) -> &[Task] {
        &self.rules.tasks
    }

    /// The quiz of a spec such as `quiz(seed=3)`, as its concrete type (the registry gives a
    /// `dyn Game`), for code that needs the tasks.
    pub fn from_spec(spec: &str) -> Result<Quiz> {
        let spec = Spec::parse(spec)?;
        if spec.name != "quiz" {
            return Err(Error::NotSupported(format!("`{spec}` is not a quiz")));
        }
        Quiz::new(&Params::from_spec("game `quiz`", PARAMS, &spec)?)
    }
}

impl Game for Quiz {
    fn facts(&self) -> &GameFacts {
        &self.facts
    }
    fn spec(&self) -> Spec {
        self.params.to_spec("quiz", PARAMS)
    }
    fn new_initial_state(&self) -> Box<dyn State> {
        Box::new(QuizState { rules: Arc::clone(&self.rules), task: None, replies: Vec::new() })
    }
}

/// A quiz in progress: the drawn task and the replies so far (seat 0's first), each with the
/// answer it was read as.
#[derive(Clone, Debug)]
pub struct QuizState {
    rules: Arc<Rules>,
    task: Option<u32>,
    replies: Vec<(String, Answer)>,
}

impl QuizState {
    fn drawn(&self) -> Option<&Task> {
        self.task.and_then(|i| self.rules.tasks.get(i as usize))
    }

    fn check_player(player: Player) {
        assert!(player < 2, "a quiz has players 0 and 1, not {player}");
    }

    fn answering(&self) -> Option<Player> {
        (self.task.is_some() && self.replies.len() < 2).then_some(self.replies.len())
    }

    fn take_reply(&mut self, text: &str) -> Result<()> {
        let Some(task) = self.drawn() else {
            return Err(Error::ParseAction { text: preview(text), reason: "the task is not drawn yet".to_string() });
        };
        let length = text.chars().count();
        if length > self.rules.max_chars {
            return Err(Error::ParseAction {
                text: preview(text),
                reason: format!(
                    "the reply is {length} characters long and the limit is {}; reply with {}",
                    self.rules.max_chars,
                    task.format_words()
                ),
            });
        }
        let answer = task.read(text)?;
        self.replies.push((text.trim().to_string(), answer));
        Ok(())
    }
}

impl State for QuizState {
    fn turn(&self) -> Turn {
        match (self.task, self.answering()) {
            (None, _) => Turn::Chance,
            (Some(_), Some(p)) => Turn::Player(p),
            (Some(_), None) => Turn::Terminal,
        }
    }

    fn legal_actions(&self, out: &mut Vec<Action>) {
        out.clear();
    }

    fn chance_outcomes(&self, out: &mut Vec<(Action, f64)>) {
        out.clear();
        if self.task.is_none() {
            let n = self.rules.tasks.len();
            let p = 1.0 / n as f64;
            out.extend((0..n as Action).map(|i| (i, p)));
        }
    }

    fn is_legal(&self, action: Action) -> bool {
        self.task.is_none() && (action as usize) < self.rules.tasks.len()
    }

    fn apply_unchecked(&mut self, action: Action) {
        // Out-of-range draws are clamped so that even an illegal call cannot panic later.
        if self.task.is_none() {
            let last = self.rules.tasks.len().saturating_sub(1) as Action;
            self.task = Some(action.min(last));
        }
    }

    fn input_kind(&self) -> InputKind {
        if self.answering().is_some() { InputKind::Text } else { InputKind::Discrete }
    }

    fn apply_text(&mut self, text: &str) -> Result<()> {
        if self.answering().is_some() {
            return self.take_reply(text);
        }
        let action = self.parse_action(text)?;
        self.apply(action)
    }

    fn player_return(&self, player: Player) -> f64 {
        match (self.drawn(), self.replies.get(player)) {
            (Some(task), Some((_, answer))) if self.replies.len() == 2 => {
                if *answer == task.answer {
                    1.0
                } else {
                    -1.0
                }
            }
            _ => 0.0,
        }
    }

    fn action_to_string(&self, action: Action) -> String {
        if (action as usize) < self.rules.tasks.len() {
            format!("task {action}")
        } else {
            format!("invalid task {action} (the set has {})", self.rules.tasks.len())
        }
    }

    fn parse_action(&self, text: &str) -> Result<Action> {
        if self.answering().is_some() {
            return Err(Error::ParseAction {
                text: preview(text),
                reason: "this turn takes a free-text reply, not an action".to_string(),
            });
        }
        let word = text.trim().to_ascii_lowercase();
        let number = word.strip_prefix("task").unwrap_or(&word).trim();
        number.parse::<Action>().map_err(|_| Error::ParseAction {
            text: preview(text),
            reason: format!("the draw names an item of the task set: `task N` with N in 0..{}", self.rules.tasks.len()),
        })
    }

    fn observation_string(&self, player: Player) -> String {
        Self::check_player(player);
        let Some(task) = self.drawn() else { return "Quiz. The question is being drawn.".to_string() };
        let mut s = format!("Question: {}\nReply with {}.", task.question, task.format_words());
        if let Some((reply, answer)) = self.replies.get(player) {
            s.push_str(&format!("\nYour reply: {reply} (read as {answer})."));
        }
        s
    }

    fn observation_tensor(&self, player: Player, out: &mut [f32]) {
        Self::check_player(player);
        assert_eq!(out.len(), TENSOR_SIZE, "observation buffer has the wrong size");
        out.fill(0.0);
        let phase = match (self.task, self.answering()) {
            (None, _) => 0,
            (Some(_), Some(p)) => 1 + p,
            (Some(_), None) => 3,
        };
        out[phase] = 1.0;
        out[4 + player] = 1.0;
        out[6] = if self.answering() == Some(player) { 1.0 } else { 0.0 };
    }

    fn history(&self) -> Vec<Move> {
        let mut moves = Vec::with_capacity(3);
        moves.extend(self.task.map(Move::Action));
        moves.extend(self.replies.iter().map(|(reply, _)| Move::Text(reply.clone())));
        moves
    }

    fn render(&self) -> String {
        let mut s = format!("quiz: {} tasks, max {} characters\n", self.rules.tasks.len(), self.rules.max_chars);
        match (self.task, self.drawn()) {
            (Some(i), Some(task)) => {
                s.push_str(&format!("task {i} ({}): {}\nanswer: {}\n", task.kind, task.question, task.answer));
            }
            _ => s.push_str("task: not drawn yet\n"),
        }
        for (seat, (reply, answer)) in self.replies.iter().enumerate() {
            s.push_str(&format!("seat {seat}: {reply} (read as {answer})\n"));
        }
        let status = match self.turn() {
            Turn::Chance => "drawing the task".to_string(),
            Turn::Player(p) => format!("seat {p} to answer"),
            Turn::Terminal => format!("over: returns {:+} {:+}", self.player_return(0), self.player_return(1)),
        };
        s.push_str(&status);
        s.push('\n');
        s
    }

    fn clone_box(&self) -> Box<dyn State> {
        Box::new(self.clone())
    }
}
