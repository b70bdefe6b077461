//! Games played by an external program: `proc(program="python3 nim.py", heaps=3)` starts the
//! program and speaks JSON lines with it (one request per line on its standard input, one answer
//! per line on its standard output; see `examples/games/arena_game.py` for the protocol, and
//! `examples/games/nim.py` for a complete game).
//!
//! Requests and answers:
//! - `{"cmd":"start","params":{...},"moves":[...]}` → `{"facts":{...},"state":STATE}`: a new game
//!   with the spec's parameters (all but `program` and `timeout_ms`; numbers and booleans as JSON
//!   values), the moves played from its start; the game's facts and the state reached.
//! - `{"cmd":"apply","action":A}` and `{"cmd":"apply_text","text":"..."}` → `{"state":STATE}`, or
//!   `{"error":"why"}` for a move the game refuses (the state unchanged).
//! - `{"cmd":"observe","player":P}` → `{"text":"...","tensor":[...]}` (the tensor of the facts'
//!   `observation_shape`; `information_state` too for games whose observation lacks the history).
//! - `{"cmd":"action_to_string","action":A}` → `{"text":"..."}`; `{"cmd":"parse_action",
//!   "text":"..."}` → `{"action":A}` or `{"error":"why"}`; `{"cmd":"render"}` → `{"text":"..."}`.
//!
//! STATE is `{"turn":P|"chance"|"terminal","legal":[...],"names":[...],"chance":[[A,P],...],
//! "returns":[...],"input":"discrete"|"text"}`: the player to move, the legal actions in
//! increasing order with their names, the chance outcomes with probabilities, the returns (at the
//! end), and what the decision takes. A state is the program's position after a list of moves: a
//! state of ours keeps its moves and the last answer, so turns, legal moves and returns cost no
//! round trip, and a program is brought to another state by replaying its moves (`start` with
//! `moves`). Programs are kept in a pool, one per thread that plays at once.
//!
//! A program that dies, hangs past `timeout_ms`, writes something that is not an answer, or
//! contradicts itself (a move it listed as legal refused) stops the match it was serving with a
//! message naming the game and what went wrong (the engine reports it; the run goes on).

use std::collections::{HashSet, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::game::{Action, Game, GameFacts, GameRef, Information, InputKind, Player, State, Turn, Utility};
use crate::params::{ParamDef, ParamKind};
use crate::record::Move;
use crate::registry::GameRegistration;
use crate::spec::Spec;

/// The name of game processes in specs.
pub const PROC: &str = "proc";

/// `proc`'s own parameters; every other one goes to the program.
pub const PROC_PARAMS: &[ParamDef] = &[
    ParamDef {
        name: "program",
        kind: ParamKind::Text,
        default: "",
        doc: "the command line of the game program (run with sh -c)",
    },
    ParamDef {
        name: "timeout_ms",
        kind: ParamKind::Int { min: 1, max: 3_600_000 },
        default: "10000",
        doc: "the longest the program may take to answer one request",
    },
];

pub const REGISTRATION: GameRegistration = GameRegistration {
    name: PROC,
    summary: "a game played by an external program speaking JSON lines (see examples/games/nim.py); other parameters go to it",
    params: PROC_PARAMS,
    create: |_| Err(Error::NotSupported("`proc` games are built from their spec by the registry".into())),
};

/// Whether a panic's text is a game program stopping its match (which the engine reports, so a
/// program's panic hook need not print it).
pub fn is_stopped_match(text: &str) -> bool {
    text.starts_with("game `proc(") && text.contains(" failed after ")
}

/// The most lines of the program's standard error kept for messages.
const STDERR_LINES: usize = 8;
/// The longest answer line read (a bigger one is garbage).
const MAX_LINE_BYTES: usize = 16 << 20;

/// A state as the program describes it.
#[derive(Clone, Debug, Default, PartialEq)]
struct Summary {
    turn: Option<Turn>,
    legal: Vec<Action>,
    names: Vec<String>,
    chance: Vec<(Action, f64)>,
    returns: Vec<f64>,
    input: Option<InputKind>,
}

#[derive(Deserialize)]
struct WireState {
    turn: Value,
    #[serde(default)]
    legal: Vec<Action>,
    #[serde(default)]
    names: Vec<String>,
    #[serde(default)]
    chance: Vec<(Action, f64)>,
    #[serde(default)]
    returns: Vec<f64>,
    #[serde(default)]
    input: Option<String>,
}

#[derive(Deserialize)]
struct WireFacts {
    name: String,
    players: usize,
    num_actions: usize,
    #[serde(default)]
    max_chance_outcomes: usize,
    max_game_length: usize,
    #[serde(default)]
    observation_shape: Vec<usize>,
    min_return: f64,
    max_return: f64,
    #[serde(default = "zero_sum")]
    utility: String,
    #[serde(default = "perfect")]
    information: String,
    #[serde(default)]
    input: Option<String>,
}

fn zero_sum() -> String {
    "zero_sum".into()
}

fn perfect() -> String {
    "perfect".into()
}

/// A running game program.
struct Program {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<std::io::Result<String>>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    /// The moves of the state the program is in.
    at: Vec<Move>,
}

impl Drop for Program {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a game process shares among its states: the spec, facts and the pool of programs.
struct Shared {
    spec: Spec,
    /// The spec as text, for messages.
    label: String,
    program: String,
    params: serde_json::Map<String, Value>,
    timeout: Duration,
    facts: GameFacts,
    idle: Mutex<Vec<Program>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcGame").field("spec", &self.label).finish()
    }
}

/// A game played by an external program.
#[derive(Debug)]
pub struct ProcGame {
    shared: Arc<Shared>,
    initial: Arc<Summary>,
}

/// Builds `proc(program=..., ...)`: starts the program once to learn its facts and first state.
pub fn load(spec: &Spec) -> Result<GameRef> {
    let bad = |param: &str, value: &str, reason: &str| Error::BadParameter {
        owner: format!("game `{PROC}`"),
        param: param.to_string(),
        value: value.to_string(),
        reason: reason.to_string(),
    };
    let program = spec.get("program").unwrap_or("").trim().to_string();
    if program.is_empty() {
        return Err(bad("program", "", "give the command that runs the game, e.g. proc(program=\"python3 nim.py\")"));
    }
    let timeout_ms = match spec.get("timeout_ms") {
        None => 10_000,
        Some(text) => text
            .parse::<u64>()
            .ok()
            .filter(|ms| (1..=3_600_000).contains(ms))
            .ok_or_else(|| bad("timeout_ms", text, "milliseconds, 1 to 3600000"))?,
    };
    let mut params = serde_json::Map::new();
    for (key, value) in &spec.args {
        if key != "program" && key != "timeout_ms" {
            params.insert(key.clone(), wire_value(value));
        }
    }
    let label = spec.to_string();
    let mut shared = Shared {
        spec: spec.clone(),
        label: label.clone(),
        program,
        params,
        timeout: Duration::from_millis(timeout_ms),
        facts: placeholder_facts(),
        idle: Mutex::new(Vec::new()),
    };
    let program = shared.program.clone();
    let failed = |message: String| Error::GameProgram(format!("game program `{program}`: {message}"));
    let (mut first, answer) = shared.spawn(&[]).map_err(failed)?;
    let facts = answer.get("facts").cloned().ok_or_else(|| failed("its answer to `start` has no `facts`".into()))?;
    let facts: WireFacts =
        serde_json::from_value(facts).map_err(|e| failed(format!("its `facts` do not read: {e}")))?;
    shared.facts = game_facts(facts).map_err(failed)?;
    let initial = shared.summary(&answer).map_err(failed)?;
    first.at.clear();
    let shared = Arc::new(shared);
    shared.put_back(first);
    Ok(Arc::new(ProcGame { shared, initial: Arc::new(initial) }))
}

/// A spec value as JSON: numbers and booleans as such, the rest as text.
fn wire_value(text: &str) -> Value {
    if let Ok(int) = text.parse::<i64>() {
        return json!(int);
    }
    if let Ok(float) = text.parse::<f64>()
        && float.is_finite()
    {
        return json!(float);
    }
    match text {
        "true" => json!(true),
        "false" => json!(false),
        _ => json!(text),
    }
}

fn placeholder_facts() -> GameFacts {
    GameFacts {
        name: PROC,
        players: 2,
        chance: false,
        information: Information::Perfect,
        utility: Utility::ZeroSum,
        num_distinct_actions: 0,
        max_chance_outcomes: 0,
        max_game_length: 0,
        observation_shape: Vec::new(),
        min_return: 0.0,
        max_return: 0.0,
        input: InputKind::Discrete,
    }
}

/// A name kept for the life of the process (facts name games by `&'static str`); each distinct
/// name is kept once.
fn interned(name: &str) -> &'static str {
    static NAMES: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);
    let mut names = NAMES.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let names = names.get_or_insert_with(HashSet::new);
    if let Some(&known) = names.get(name) {
        return known;
    }
    let kept: &'static str = Box::leak(name.to_string().into_boxed_str());
    names.insert(kept);
    kept
}

fn input_kind(text: Option<&str>) -> std::result::Result<Option<InputKind>, String> {
    match text {
        None => Ok(None),
        Some("discrete") => Ok(Some(InputKind::Discrete)),
        Some("text") => Ok(Some(InputKind::Text)),
        Some(other) => Err(format!("input `{other}`: expected `discrete` or `text`")),
    }
}

fn game_facts(facts: WireFacts) -> std::result::Result<GameFacts, String> {
    if facts.name.is_empty() || !facts.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return Err(format!("its name `{}` is not a plain name (letters, digits, `_`, `-`)", facts.name));
    }
    if !(1..=16).contains(&facts.players) {
        return Err(format!("{} players: 1 to 16 are supported", facts.players));
    }
    if facts.num_actions == 0 || facts.max_game_length == 0 {
        return Err("num_actions and max_game_length must be at least 1".into());
    }
    if !(facts.min_return.is_finite() && facts.max_return.is_finite() && facts.min_return <= facts.max_return) {
        return Err(format!("returns from {} to {}: not a range", facts.min_return, facts.max_return));
    }
    let utility = match facts.utility.as_str() {
        "zero_sum" => Utility::ZeroSum,
        "general_sum" => Utility::GeneralSum,
        other => return Err(format!("utility `{other}`: expected `zero_sum` or `general_sum`")),
    };
    let information = match facts.information.as_str() {
        "perfect" => Information::Perfect,
        "imperfect" => Information::Imperfect,
        other => return Err(format!("information `{other}`: expected `perfect` or `imperfect`")),
    };
    Ok(GameFacts {
        name: interned(&facts.name),
        players: facts.players,
        chance: facts.max_chance_outcomes > 0,
        information,
        utility,
        num_distinct_actions: facts.num_actions,
        max_chance_outcomes: facts.max_chance_outcomes,
        max_game_length: facts.max_game_length,
        observation_shape: facts.observation_shape,
        min_return: facts.min_return,
        max_return: facts.max_return,
        input: input_kind(facts.input.as_deref())?.unwrap_or(InputKind::Discrete),
    })
}

impl Shared {
    /// Starts a program at the state after `moves`; the program and its answer to `start`.
    fn spawn(&self, moves: &[Move]) -> std::result::Result<(Program, Value), String> {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(&self.program)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start `{}`: {e}", self.program))?;
        let (Some(stdin), Some(stdout), Some(stderr)) = (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            return Err("its standard streams could not be opened".into());
        };
        let (sender, lines) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                let mut line = String::new();
                let read = std::io::Read::take(&mut reader, MAX_LINE_BYTES as u64 + 1).read_line(&mut line);
                let end = matches!(read, Ok(0) | Err(_));
                if sender.send(read.map(|_| line)).is_err() || end {
                    return;
                }
            }
        });
        let kept = Arc::new(Mutex::new(VecDeque::new()));
        let stderr_lines = kept.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(|l| l.ok()) {
                let mut kept = stderr_lines.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                if kept.len() == STDERR_LINES {
                    kept.pop_front();
                }
                kept.push_back(line);
            }
        });
        let mut program = Program { child, stdin, lines, stderr: kept, at: Vec::new() };
        let answer = self.ask(&mut program, &json!({"cmd": "start", "params": self.params, "moves": moves}))?;
        if let Some(error) = answer.get("error") {
            return Err(format!("it refused to start: {}", text_of(error)));
        }
        program.at = moves.to_vec();
        Ok((program, answer))
    }

    /// Sends one request and reads its answer (a JSON object).
    fn ask(&self, program: &mut Program, request: &Value) -> std::result::Result<Value, String> {
        let mut line = request.to_string();
        line.push('\n');
        if let Err(e) = program.stdin.write_all(line.as_bytes()).and_then(|()| program.stdin.flush()) {
            return Err(self.dead(program, &format!("cannot write to it ({e})")));
        }
        let answer = match program.lines.recv_timeout(self.timeout) {
            Ok(Ok(answer)) if answer.is_empty() => return Err(self.dead(program, "it closed its output")),
            Ok(Ok(answer)) => answer,
            Ok(Err(e)) => return Err(self.dead(program, &format!("cannot read its output ({e})"))),
            Err(RecvTimeoutError::Timeout) => {
                let _ = program.child.kill();
                return Err(format!("no answer within {} ms to {}", self.timeout.as_millis(), request));
            }
            Err(RecvTimeoutError::Disconnected) => return Err(self.dead(program, "it closed its output")),
        };
        if answer.len() > MAX_LINE_BYTES {
            return Err(format!("an answer over {MAX_LINE_BYTES} bytes to {request}"));
        }
        match serde_json::from_str::<Value>(answer.trim()) {
            Ok(value @ Value::Object(_)) => Ok(value),
            _ => Err(format!("`{}` is not a JSON object answering {request}", shortened(answer.trim()))),
        }
    }

    /// Why the program stopped answering: its exit status and last lines of standard error.
    fn dead(&self, program: &mut Program, what: &str) -> String {
        std::thread::sleep(Duration::from_millis(20));
        let status = match program.child.try_wait() {
            Ok(Some(status)) => format!("; it exited ({status})"),
            _ => String::new(),
        };
        let stderr = program.stderr.lock().map(|lines| lines.iter().cloned().collect::<Vec<_>>().join("\n"));
        let stderr = stderr.ok().filter(|s| !s.is_empty()).map(|s| format!("; its last error output:\n{s}"));
        format!("{what}{status}{}", stderr.unwrap_or_default())
    }

    /// A program at the state after `moves`: an idle one already there or on the way (the moves
    /// left applied), else one restarted there.
    fn at(&self, moves: &[Move]) -> std::result::Result<Program, String> {
        let found = {
            let mut idle = self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let best = (0..idle.len())
                .filter(|&i| moves.starts_with(&idle[i].at))
                .max_by_key(|&i| idle[i].at.len())
                .or(if idle.is_empty() { None } else { Some(idle.len() - 1) });
            best.map(|i| idle.swap_remove(i))
        };
        let Some(mut program) = found else { return self.spawn(moves).map(|(program, _)| program) };
        if program.at.as_slice() == moves {
            return Ok(program);
        }
        // A few moves on: apply them; otherwise one `start` with all of them.
        let (request, applied) = if moves.starts_with(&program.at) && moves.len() - program.at.len() <= 2 {
            (None, program.at.len())
        } else {
            (Some(json!({"cmd": "start", "params": self.params, "moves": moves})), moves.len())
        };
        if let Some(request) = request {
            let answer = self.ask(&mut program, &request)?;
            if let Some(error) = answer.get("error") {
                return Err(format!("it refused to replay its own moves: {}", text_of(error)));
            }
            program.at = moves.to_vec();
            return Ok(program);
        }
        for mv in &moves[applied..] {
            let request = match mv {
                Move::Action(action) => json!({"cmd": "apply", "action": action}),
                Move::Text(text) => json!({"cmd": "apply_text", "text": text}),
            };
            let answer = self.ask(&mut program, &request)?;
            if let Some(error) = answer.get("error") {
                return Err(format!("it refused a move it had accepted before: {}", text_of(error)));
            }
            program.at.push(mv.clone());
        }
        Ok(program)
    }

    fn put_back(&self, program: Program) {
        self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(program);
    }

    /// Runs `request` on a program at `moves`; the answer (an `error` answer included).
    fn query(&self, moves: &[Move], request: &Value) -> std::result::Result<Value, String> {
        let mut program = self.at(moves)?;
        let answer = self.ask(&mut program, request)?;
        self.put_back(program);
        Ok(answer)
    }

    /// Applies `mv` on a program at `moves`: the new state's summary, or the game's reason for
    /// refusing it (`Ok(Err(..))`).
    fn apply(&self, moves: &[Move], mv: &Move) -> std::result::Result<std::result::Result<Summary, String>, String> {
        let mut program = self.at(moves)?;
        let request = match mv {
            Move::Action(action) => json!({"cmd": "apply", "action": action}),
            Move::Text(text) => json!({"cmd": "apply_text", "text": text}),
        };
        let answer = self.ask(&mut program, &request)?;
        if let Some(error) = answer.get("error") {
            self.put_back(program);
            return Ok(Err(text_of(error)));
        }
        let summary = self.summary(&answer)?;
        program.at.push(mv.clone());
        self.put_back(program);
        Ok(Ok(summary))
    }

    /// Reads and checks an answer's `state`.
    fn summary(&self, answer: &Value) -> std::result::Result<Summary, String> {
        let state = answer.get("state").cloned().ok_or("an answer without `state`")?;
        let wire: WireState = serde_json::from_value(state).map_err(|e| format!("its `state` does not read: {e}"))?;
        let facts = &self.facts;
        let turn = match &wire.turn {
            Value::String(s) if s == "chance" => Turn::Chance,
            Value::String(s) if s == "terminal" => Turn::Terminal,
            Value::Number(n) => match n.as_u64() {
                Some(p) if (p as usize) < facts.players => Turn::Player(p as usize),
                _ => return Err(format!("turn {n}: not a player of {}", facts.players)),
            },
            other => return Err(format!("turn {other}: expected a player, \"chance\" or \"terminal\"")),
        };
        let input = input_kind(wire.input.as_deref())?;
        let text_turn = input == Some(InputKind::Text);
        if let Turn::Player(_) = turn {
            if wire.legal.is_empty() && !text_turn {
                return Err("a player is to move but no move is legal".into());
            }
            if wire.legal.windows(2).any(|w| w[0] >= w[1]) {
                return Err(format!("legal actions {:?}: not in increasing order", wire.legal));
            }
            if let Some(&a) = wire.legal.iter().find(|&&a| a as usize >= facts.num_distinct_actions) {
                return Err(format!("legal action {a}: over num_actions {}", facts.num_distinct_actions));
            }
            if wire.names.len() != wire.legal.len() {
                return Err(format!("{} names for {} legal actions", wire.names.len(), wire.legal.len()));
            }
        }
        if turn == Turn::Chance {
            let total: f64 = wire.chance.iter().map(|(_, p)| p).sum();
            if wire.chance.is_empty() || (total - 1.0).abs() > 1e-6 || wire.chance.iter().any(|(_, p)| *p <= 0.0) {
                return Err(format!("chance outcomes {:?}: positive probabilities summing to 1 expected", wire.chance));
            }
        }
        if turn == Turn::Terminal {
            if wire.returns.len() != facts.players {
                return Err(format!("{} returns at the end for {} players", wire.returns.len(), facts.players));
            }
            if let Some(r) =
                wire.returns.iter().find(|r| !(facts.min_return - 1e-9..=facts.max_return + 1e-9).contains(*r))
            {
                return Err(format!("return {r}: outside {}..{}", facts.min_return, facts.max_return));
            }
        }
        let (legal, names) =
            if matches!(turn, Turn::Player(_)) { (wire.legal, wire.names) } else { (Vec::new(), Vec::new()) };
        Ok(Summary { turn: Some(turn), legal, names, chance: wire.chance, returns: wire.returns, input })
    }
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn shortened(text: &str) -> String {
    match text.char_indices().nth(200) {
        Some((cut, _)) => format!("{}… ({} bytes)", &text[..cut], text.len()),
        None => text.to_string(),
    }
}

impl Game for ProcGame {
    fn facts(&self) -> &GameFacts {
        &self.shared.facts
    }

    fn spec(&self) -> Spec {
        self.shared.spec.clone()
    }

    fn new_initial_state(&self) -> Box<dyn State> {
        Box::new(ProcState { shared: self.shared.clone(), moves: Vec::new(), summary: self.initial.clone() })
    }
}

/// A position of a game process: its moves, and the program's description of it.
#[derive(Clone)]
pub struct ProcState {
    shared: Arc<Shared>,
    moves: Vec<Move>,
    summary: Arc<Summary>,
}

impl std::fmt::Debug for ProcState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcState").field("game", &self.shared.label).field("moves", &self.moves.len()).finish()
    }
}

impl ProcState {
    /// Stops the match: the game process failed (the engine reports the message).
    fn broken(&self, message: &str) -> ! {
        panic!("game `{}` failed after {} moves: {message}", self.shared.label, self.moves.len())
    }

    fn ask(&self, request: Value) -> Value {
        match self.shared.query(&self.moves, &request) {
            Ok(answer) => answer,
            Err(message) => self.broken(&message),
        }
    }

    fn play(&mut self, mv: Move) -> std::result::Result<(), String> {
        match self.shared.apply(&self.moves, &mv) {
            Ok(Ok(summary)) => {
                self.moves.push(mv);
                self.summary = Arc::new(summary);
                Ok(())
            }
            Ok(Err(reason)) => Err(reason),
            Err(message) => self.broken(&message),
        }
    }
}

impl State for ProcState {
    fn turn(&self) -> Turn {
        self.summary.turn.unwrap_or(Turn::Terminal)
    }

    fn legal_actions(&self, out: &mut Vec<Action>) {
        out.clear();
        out.extend_from_slice(&self.summary.legal);
    }

    fn chance_outcomes(&self, out: &mut Vec<(Action, f64)>) {
        out.clear();
        if self.turn() == Turn::Chance {
            out.extend_from_slice(&self.summary.chance);
        }
    }

    fn is_legal(&self, action: Action) -> bool {
        match self.turn() {
            Turn::Chance => self.summary.chance.iter().any(|&(a, _)| a == action),
            Turn::Player(_) => self.summary.legal.binary_search(&action).is_ok(),
            Turn::Terminal => false,
        }
    }

    fn apply_unchecked(&mut self, action: Action) {
        if let Err(reason) = self.play(Move::Action(action)) {
            self.broken(&format!("it refused action {action}, which it had listed as legal: {reason}"));
        }
    }

    fn input_kind(&self) -> InputKind {
        self.summary.input.unwrap_or(InputKind::Discrete)
    }

    fn apply_text(&mut self, text: &str) -> Result<()> {
        if self.input_kind() == InputKind::Discrete {
            let action = self.parse_action(text)?;
            return self.apply(action);
        }
        self.play(Move::Text(text.to_string())).map_err(|reason| Error::ParseAction { text: text.to_string(), reason })
    }

    fn player_return(&self, player: Player) -> f64 {
        self.summary.returns.get(player).copied().unwrap_or(0.0)
    }

    fn action_to_string(&self, action: Action) -> String {
        if let Ok(i) = self.summary.legal.binary_search(&action) {
            return self.summary.names[i].clone();
        }
        match self.shared.query(&self.moves, &json!({"cmd": "action_to_string", "action": action})) {
            Ok(answer) => {
                answer.get("text").and_then(Value::as_str).map_or_else(|| format!("#{action}"), str::to_string)
            }
            // Never panics (errors and logs call it): a placeholder.
            Err(_) => format!("#{action}"),
        }
    }

    fn parse_action(&self, text: &str) -> Result<Action> {
        let wanted = text.trim();
        if let Some(i) = self.summary.names.iter().position(|name| name == wanted) {
            return Ok(self.summary.legal[i]);
        }
        let answer = self.ask(json!({"cmd": "parse_action", "text": wanted}));
        if let Some(error) = answer.get("error") {
            return Err(Error::ParseAction { text: text.to_string(), reason: text_of(error) });
        }
        match answer.get("action").and_then(Value::as_u64) {
            Some(action)
                if (action as usize)
                    < self.shared.facts.num_distinct_actions.max(self.shared.facts.max_chance_outcomes) =>
            {
                Ok(action as Action)
            }
            _ => self.broken(&format!("`parse_action` answered {}", shortened(&answer.to_string()))),
        }
    }

    fn observation_string(&self, player: Player) -> String {
        let answer = self.ask(json!({"cmd": "observe", "player": player}));
        match answer.get("text") {
            Some(Value::String(text)) => text.clone(),
            _ => self.broken("`observe` answered without `text`"),
        }
    }

    fn observation_tensor(&self, player: Player, out: &mut [f32]) {
        let answer = self.ask(json!({"cmd": "observe", "player": player}));
        let tensor: Vec<f32> = answer
            .get("tensor")
            .and_then(Value::as_array)
            .map(|values| values.iter().map(|v| v.as_f64().unwrap_or(f64::NAN) as f32).collect())
            .unwrap_or_default();
        if tensor.len() != out.len() || tensor.iter().any(|v| !v.is_finite()) {
            self.broken(&format!(
                "`observe` gave a tensor of {} numbers for observation_shape {:?} ({} expected, all finite)",
                tensor.len(),
                self.shared.facts.observation_shape,
                out.len()
            ));
        }
        out.copy_from_slice(&tensor);
    }

    fn information_state_string(&self, player: Player) -> String {
        let answer = self.ask(json!({"cmd": "observe", "player": player}));
        match (answer.get("information_state"), answer.get("text")) {
            (Some(Value::String(key)), _) | (None, Some(Value::String(key))) => key.clone(),
            _ => self.broken("`observe` answered without `text`"),
        }
    }

    fn history(&self) -> Vec<Move> {
        self.moves.clone()
    }

    fn render(&self) -> String {
        // Never panics: errors and logs call it.
        match self.shared.query(&self.moves, &json!({"cmd": "render"})) {
            Ok(answer) => answer
                .get("text")
                .and_then(Value::as_str)
                .map_or_else(|| format!("(game `{}`: no render)", self.shared.label), str::to_string),
            Err(message) => format!("(game `{}` cannot render: {message})", self.shared.label),
        }
    }

    fn clone_box(&self) -> Box<dyn State> {
        Box::new(self.clone())
    }
}
