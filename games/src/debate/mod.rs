//! Debate: two debaters argue whether a proposition is true; a judge seat (or the ground truth) decides.
//!
//! Spec: `debate(rounds=2,judge=seat,propositions=generated,items=2000,seed=0,first=pro,max_chars=1200)`.
//!
//! Seats: 0 = Pro (argues the proposition is true), 1 = Con (argues it is false), 2 = the judge
//! (only with `judge=seat`; with `judge=oracle` there are 2 players and the ground truth is the
//! verdict, decided by the rules, so the rules never call an agent).
//!
//! Moves, in order:
//! 1. a chance move draws the proposition: outcome `i` (written `proposition i`) is item `i` of the
//!    set, each with probability `1 / items`. Paired games that share the opening therefore replay
//!    the same proposition with the seats swapped;
//! 2. `rounds` rounds of a Pro utterance then a Con utterance (Con first with `first=con`): text turns
//!    ([`InputKind::Text`], no discrete legal actions), taken by [`State::apply_text`]; the text is
//!    trimmed and must be non-empty and at most `max_chars` characters;
//! 3. with `judge=seat`, the judge's verdict: action 0 = `pro` (the proposition is true), 1 = `con`
//!    (it is false). The judge's text is read forgivingly (see [`parse_verdict`]).
//!
//! Returns: the debater whose side the verdict picks gets +1, the other −1; the judge gets +1 for a
//! verdict equal to the ground truth and −1 otherwise. `judge=oracle` is zero-sum for the two
//! debaters; `judge=seat` is general-sum. Returns are 0 before the end.
//!
//! Information: imperfect. No observation ever contains the ground truth (not even at the end:
//! with `judge=oracle` the returns tell it); [`State::render`] shows it, for people and logs.
//! `observation_string(player)` is the proposition, the player's role and instructions, the round,
//! and the transcript so far (`Pro:` / `Con:` lines, continuation lines indented), and at the end
//! the judge's verdict. The information-state key is the observation (it holds the whole public
//! history). The observation tensor has shape `[10]`:
//! - 0..5: the phase, one-hot: drawing the proposition, Pro to speak, Con to speak, judge to
//!   decide, over;
//! - 5..8: the observer's role, one-hot: Pro, Con, judge;
//! - 8: rounds completed / rounds;
//! - 9: 1 if the observer is to act, else 0.

pub mod propositions;

use std::fmt;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::game::{Action, Game, GameFacts, Information, InputKind, Player, State, Turn, Utility};
use crate::params::{ParamDef, ParamKind, Params};
use crate::record::Move;
use crate::registry::{GameRegistration, shared};
use crate::spec::Spec;

pub use propositions::{Proposition, check_claim, generate, load_jsonl};

/// The debate's parameters, in canonical order.
pub const PARAMS: &[ParamDef] = &[
    ParamDef {
        name: "rounds",
        kind: ParamKind::Int { min: 1, max: 10 },
        default: "2",
        doc: "rounds of argument; in each, both sides speak once (Pro first unless first=con)",
    },
    ParamDef {
        name: "judge",
        kind: ParamKind::Text,
        default: "seat",
        doc: "`seat`: a third player (seat 2) gives the verdict; `oracle`: no judge seat, the ground truth is the verdict",
    },
    ParamDef {
        name: "propositions",
        kind: ParamKind::Text,
        default: "generated",
        doc: "`generated` (checkable arithmetic, counting, ordering and logic claims) or the path of a JSONL file \
              of {\"proposition\": text, \"truth\": bool, \"kind\": optional text}",
    },
    ParamDef {
        name: "items",
        kind: ParamKind::Int { min: 1, max: 100_000 },
        default: "2000",
        doc: "how many propositions the generated set has (ignored for a file)",
    },
    ParamDef {
        name: "seed",
        kind: ParamKind::Int { min: 0, max: i64::MAX },
        default: "0",
        doc: "seed of the generated set (ignored for a file)",
    },
    ParamDef {
        name: "first",
        kind: ParamKind::Text,
        default: "pro",
        doc: "who speaks first in every round: `pro`, `con`, or `random` (drawn from the proposition's index, so \
              both games of a pair share it; a judge's lean to the first speaker and to pro can then be told \
              apart in one tournament)",
    },
    ParamDef {
        name: "max_chars",
        kind: ParamKind::Int { min: 1, max: 1_000_000 },
        default: "1200",
        doc: "longest utterance accepted, in characters",
    },
];

pub const REGISTRATION: GameRegistration = GameRegistration {
    name: "debate",
    summary: "debate: Pro argues a proposition is true, Con that it is false, for some rounds of free text; \
              a judge seat (or the ground truth, judge=oracle) gives the verdict",
    params: PARAMS,
    create: |params: &Params| Ok(shared(Debate::new(params)?)),
};

/// Verdict action: Pro's side, the proposition is true.
pub const PRO: Action = 0;
/// Verdict action: Con's side, the proposition is false.
pub const CON: Action = 1;
/// The judge's seat with `judge=seat`.
pub const JUDGE_SEAT: Player = 2;
/// Length of the observation tensor.
const TENSOR_SIZE: usize = 10;

/// Who gives the verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Judge {
    /// A third player, seat 2.
    Seat,
    /// The ground truth, applied by the rules.
    Oracle,
}

/// What every state of one game shares.
struct Rules {
    propositions: Vec<Proposition>,
    rounds: usize,
    judge: Judge,
    max_chars: usize,
    /// Who speaks first in every round.
    first: FirstSpeaker,
}

/// Who speaks first in every round of a debate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FirstSpeaker {
    Pro,
    Con,
    /// Drawn per proposition: a fixed function of its index, so both games of a pair (the same
    /// proposition, seats swapped) have the same order, and a replay gives it back.
    Random,
}

impl FirstSpeaker {
    /// `pro`, `con` or `random`, as the spec's `first` parameter says.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pro" => Some(FirstSpeaker::Pro),
            "con" => Some(FirstSpeaker::Con),
            "random" => Some(FirstSpeaker::Random),
            _ => None,
        }
    }

    /// The seat that speaks first (0 Pro, 1 Con) in the debate of proposition `index`.
    pub fn seat(self, proposition: u64) -> Player {
        match self {
            FirstSpeaker::Pro => 0,
            FirstSpeaker::Con => 1,
            FirstSpeaker::Random => (crate::playout::mix_seed(proposition ^ 0x0066_6972_7374) & 1) as Player,
        }
    }
}

impl fmt::Debug for Rules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rules")
            .field("propositions", &self.propositions.len())
            .field("rounds", &self.rounds)
            .field("judge", &self.judge)
            .field("max_chars", &self.max_chars)
            .field("first", &self.first)
            .finish()
    }
}

/// The rules of a debate with its parameters and proposition set.
#[derive(Debug)]
pub struct Debate {
    facts: GameFacts,
    params: Params,
    rules: Arc<Rules>,
}

impl Debate {
    /// Builds the game from validated parameters; a bad `judge` value or proposition file is an error.
    pub fn new(params: &Params) -> Result<Debate> {
        let bad = |param: &str, value: &str, reason: &str| Error::BadParameter {
            owner: "game `debate`".to_string(),
            param: param.to_string(),
            value: value.to_string(),
            reason: reason.to_string(),
        };
        let judge = match params.text("judge") {
            "seat" => Judge::Seat,
            "oracle" => Judge::Oracle,
            other => {
                return Err(bad("judge", other, "expected `seat` (a judge player) or `oracle` (the ground truth)"));
            }
        };
        let propositions = match params.text("propositions") {
            "generated" => {
                let seed = params.int("seed") as u64;
                propositions::generate(seed, params.int("items") as usize)
            }
            "" => return Err(bad("propositions", "", "expected `generated` or the path of a JSONL file")),
            path => load_jsonl(path)?,
        };
        let first = match FirstSpeaker::parse(params.text("first")) {
            Some(first) => first,
            None => return Err(bad("first", params.text("first"), "expected `pro`, `con` or `random`")),
        };
        let rounds = params.int("rounds") as usize;
        let max_chars = params.int("max_chars") as usize;
        let players = if judge == Judge::Seat { 3 } else { 2 };
        let facts = GameFacts {
            name: "debate",
            players,
            chance: true,
            information: Information::Imperfect,
            utility: if judge == Judge::Seat { Utility::GeneralSum } else { Utility::ZeroSum },
            num_distinct_actions: 2,
            max_chance_outcomes: propositions.len(),
            max_game_length: 1 + 2 * rounds + usize::from(judge == Judge::Seat),
            observation_shape: vec![TENSOR_SIZE],
            min_return: -1.0,
            max_return: 1.0,
            input: InputKind::Text,
        };
        Ok(Debate {
            facts,
            params: params.clone(),
            rules: Arc::new(Rules { propositions, rounds, judge, max_chars, first }),
        })
    }

    /// The debate a spec such as `debate(items=200)` describes; any other game is an error.
    pub fn from_spec(spec: &str) -> Result<Debate> {
        let spec = Spec::parse(spec)?;
        if spec.name != "debate" {
            return Err(Error::NotSupported(format!("`{spec}` is not a debate")));
        }
        Debate::new(&Params::from_spec("game `debate`", PARAMS, &spec)?)
    }

    /// The proposition set, in chance-outcome order.
    pub fn propositions(&self) -> &[Proposition] {
        &self.rules.propositions
    }

    /// Who gives the verdict.
    pub fn judge(&self) -> Judge {
        self.rules.judge
    }

    /// Who speaks first in every round.
    pub fn first_speaker(&self) -> FirstSpeaker {
        self.rules.first
    }
}

impl Game for Debate {
    fn facts(&self) -> &GameFacts {
        &self.facts
    }
    fn spec(&self) -> Spec {
        self.params.to_spec("debate", PARAMS)
    }
    fn new_initial_state(&self) -> Box<dyn State> {
        Box::new(DebateState {
            rules: Arc::clone(&self.rules),
            proposition: None,
            utterances: Vec::new(),
            verdict: None,
        })
    }
    fn seat_input(&self, player: Player) -> InputKind {
        // The debaters speak; the judge seat (2) picks a verdict.
        if player == 2 { InputKind::Discrete } else { InputKind::Text }
    }
}

/// A debate in progress: the drawn proposition, the utterances so far (in speaking order), the verdict.
#[derive(Clone, Debug)]
pub struct DebateState {
    rules: Arc<Rules>,
    proposition: Option<u32>,
    utterances: Vec<String>,
    verdict: Option<Action>,
}

/// The stage of a debate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Draw,
    Speak(Player),
    Judge,
    Over,
}

const ROLE: [&str; 3] = ["Pro", "Con", "the judge"];

impl DebateState {
    fn phase(&self) -> Phase {
        if self.proposition.is_none() {
            Phase::Draw
        } else if self.utterances.len() < 2 * self.rules.rounds {
            Phase::Speak(self.speaker_of(self.utterances.len()))
        } else if self.rules.judge == Judge::Seat && self.verdict.is_none() {
            Phase::Judge
        } else {
            Phase::Over
        }
    }

    /// The seat of utterance `index`.
    fn speaker_of(&self, index: usize) -> Player {
        (self.first() + index) % 2
    }

    /// The seat that speaks first in this debate (Pro before the draw).
    fn first(&self) -> Player {
        self.rules.first.seat(u64::from(self.proposition.unwrap_or(0)))
    }

    /// "Pro speaks first, then Con" (or the other way round).
    fn order_words(&self) -> String {
        let first = self.first();
        format!("{} speaks first, then {}", ROLE[first], ROLE[1 - first])
    }

    fn drawn(&self) -> Option<&Proposition> {
        self.proposition.and_then(|i| self.rules.propositions.get(i as usize))
    }

    /// The verdict that ends the game: the judge's, or the truth with `judge=oracle`.
    fn final_verdict(&self) -> Option<Action> {
        if self.phase() != Phase::Over {
            return None;
        }
        match self.rules.judge {
            Judge::Seat => self.verdict,
            Judge::Oracle => self.drawn().map(|p| if p.truth { PRO } else { CON }),
        }
    }

    fn players(&self) -> usize {
        if self.rules.judge == Judge::Seat { 3 } else { 2 }
    }

    fn check_player(&self, player: Player) {
        assert!(player < self.players(), "this debate has players 0..{}, not {player}", self.players());
    }

    /// The transcript: `Pro: ...` / `Con: ...` lines with the round they belong to.
    fn transcript(&self) -> String {
        if self.utterances.is_empty() {
            return "(no arguments yet)\n".to_string();
        }
        let mut s = String::new();
        for (i, text) in self.utterances.iter().enumerate() {
            if i % 2 == 0 {
                s.push_str(&format!("[Round {}]\n", i / 2 + 1));
            }
            s.push_str(if self.speaker_of(i) == 0 { "Pro: " } else { "Con: " });
            // Continuation lines are indented, so only the labels start a line.
            s.push_str(&text.replace('\n', "\n    "));
            s.push('\n');
        }
        s
    }

    fn rounds_done(&self) -> usize {
        self.utterances.len() / 2
    }

    fn verdict_words(verdict: Action) -> &'static str {
        if verdict == PRO { "pro (the proposition is true)" } else { "con (the proposition is false)" }
    }

    fn take_utterance(&mut self, speaker: Player, text: &str) -> Result<()> {
        let text = text.trim();
        let who = ROLE[speaker];
        if text.is_empty() {
            return Err(Error::ParseAction {
                text: String::new(),
                reason: format!("{who}'s argument is empty; write the argument as plain text"),
            });
        }
        let length = text.chars().count();
        if length > self.rules.max_chars {
            return Err(Error::ParseAction {
                text: propositions::preview(text),
                reason: format!(
                    "{who}'s argument is {length} characters long and the limit is {}; shorten it by at least {} \
                     characters and send it again",
                    self.rules.max_chars,
                    length - self.rules.max_chars
                ),
            });
        }
        self.utterances.push(text.to_string());
        Ok(())
    }
}

/// The judge's verdict words: Pro's side (action 0), then Con's side (action 1).
const PRO_WORDS: [&str; 4] = ["pro", "true", "yes", "correct"];
const CON_WORDS: [&str; 4] = ["con", "false", "no", "incorrect"];

/// Reads a verdict as a language model may write it: case, punctuation and surrounding words are
/// ignored; the words `pro`, `true`, `yes`, `correct` mean 0 (the proposition is true) and `con`,
/// `false`, `no`, `incorrect` mean 1 (it is false); a word right after `not`, `never` or `n't`
/// counts for the other side (`not true` is con). The text must name exactly one side.
pub fn parse_verdict(text: &str) -> Result<Action> {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    let mut sides = [false; 2];
    for (i, word) in words.iter().enumerate() {
        let side = if PRO_WORDS.contains(word) {
            0
        } else if CON_WORDS.contains(word) {
            1
        } else {
            continue;
        };
        let negated = i > 0 && matches!(words[i - 1], "not" | "never" | "t");
        sides[if negated { 1 - side } else { side }] = true;
    }
    let problem = match sides {
        [true, false] => return Ok(PRO),
        [false, true] => return Ok(CON),
        [true, true] => "it names both sides",
        [false, false] => "it names neither side",
    };
    Err(Error::ParseAction {
        text: propositions::preview(text.trim()),
        reason: format!(
            "{problem}; answer with one word: `pro` if the proposition is true or `con` if it is false \
             (also accepted: {} for pro; {} for con)",
            PRO_WORDS[1..].join(", "),
            CON_WORDS[1..].join(", ")
        ),
    })
}

impl State for DebateState {
    fn turn(&self) -> Turn {
        match self.phase() {
            Phase::Draw => Turn::Chance,
            Phase::Speak(p) => Turn::Player(p),
            Phase::Judge => Turn::Player(JUDGE_SEAT),
            Phase::Over => Turn::Terminal,
        }
    }

    fn legal_actions(&self, out: &mut Vec<Action>) {
        out.clear();
        if self.phase() == Phase::Judge {
            out.extend([PRO, CON]);
        }
    }

    fn chance_outcomes(&self, out: &mut Vec<(Action, f64)>) {
        out.clear();
        if self.phase() == Phase::Draw {
            let n = self.rules.propositions.len();
            let p = 1.0 / n as f64;
            out.extend((0..n as Action).map(|i| (i, p)));
        }
    }

    fn is_legal(&self, action: Action) -> bool {
        match self.phase() {
            Phase::Draw => (action as usize) < self.rules.propositions.len(),
            Phase::Judge => action <= CON,
            Phase::Speak(_) | Phase::Over => false,
        }
    }

    fn apply_unchecked(&mut self, action: Action) {
        // Out-of-range actions are clamped so that even an illegal call cannot panic later.
        match self.phase() {
            Phase::Draw => {
                let last = self.rules.propositions.len().saturating_sub(1) as Action;
                self.proposition = Some(action.min(last));
            }
            Phase::Judge => self.verdict = Some(action.min(CON)),
            Phase::Speak(_) | Phase::Over => {}
        }
    }

    fn input_kind(&self) -> InputKind {
        if matches!(self.phase(), Phase::Speak(_)) { InputKind::Text } else { InputKind::Discrete }
    }

    fn apply_text(&mut self, text: &str) -> Result<()> {
        match self.phase() {
            Phase::Speak(speaker) => self.take_utterance(speaker, text),
            _ => {
                let action = self.parse_action(text)?;
                self.apply(action)
            }
        }
    }

    fn player_return(&self, player: Player) -> f64 {
        let Some(verdict) = self.final_verdict() else { return 0.0 };
        let won = match player {
            0 => verdict == PRO,
            1 => verdict == CON,
            _ => self.drawn().is_some_and(|p| p.truth == (verdict == PRO)),
        };
        if won { 1.0 } else { -1.0 }
    }

    fn action_to_string(&self, action: Action) -> String {
        match (self.phase(), action) {
            (Phase::Draw, _) if (action as usize) < self.rules.propositions.len() => format!("proposition {action}"),
            (Phase::Draw, _) => {
                format!("invalid proposition {action} (the set has {})", self.rules.propositions.len())
            }
            (_, PRO) => "pro".to_string(),
            (_, CON) => "con".to_string(),
            (_, _) => format!("invalid verdict {action} (0 = pro, 1 = con)"),
        }
    }

    fn parse_action(&self, text: &str) -> Result<Action> {
        match self.phase() {
            Phase::Draw => {
                let word = text.trim().to_ascii_lowercase();
                let number = word.strip_prefix("proposition").unwrap_or(&word).trim();
                let number = number.strip_prefix('#').unwrap_or(number);
                number.parse::<Action>().map_err(|_| Error::ParseAction {
                    text: propositions::preview(text),
                    reason: format!(
                        "the draw names an item of the proposition set: `proposition N` with N in 0..{}",
                        self.rules.propositions.len()
                    ),
                })
            }
            Phase::Speak(speaker) => Err(Error::ParseAction {
                text: propositions::preview(text),
                reason: format!("{}'s turn takes a free-text argument, not an action", ROLE[speaker]),
            }),
            Phase::Judge | Phase::Over => parse_verdict(text),
        }
    }

    fn observation_string(&self, player: Player) -> String {
        self.check_player(player);
        let rules = &self.rules;
        let rounds = rules.rounds;
        let mut s = String::from("Debate.\n");
        match self.drawn() {
            Some(p) => s.push_str(&format!("Proposition: \"{}\"\n", p.text)),
            None => s.push_str("Proposition: not drawn yet.\n"),
        }
        let plural = if rounds == 1 { "round" } else { "rounds" };
        let decider = match rules.judge {
            Judge::Seat => "a judge then decides from the arguments which side is right".to_string(),
            Judge::Oracle => {
                "then the ground truth decides: Pro wins if the proposition is true, Con if it is false".to_string()
            }
        };
        match player {
            0 | 1 => {
                let (side, other, other_side) =
                    if player == 0 { ("TRUE", "Con", "FALSE") } else { ("FALSE", "Pro", "TRUE") };
                s.push_str(&format!(
                    "You are {}: argue that the proposition is {side}. Your opponent, {other}, argues that it is \
                     {other_side}. The debate has {rounds} {plural}; in each, {order}; {decider}. \
                     You score +1 if the verdict is on your side and -1 if not.\n",
                    ROLE[player],
                    order = self.order_words(),
                ));
            }
            _ => s.push_str(&format!(
                "You are the judge. Pro argues that the proposition is TRUE, Con that it is FALSE, over {rounds} \
                 {plural} ({order} in each). Decide from the arguments, and your own reasoning, whether the \
                 proposition is true. You score +1 if your verdict is right and -1 if it is wrong.\n",
                order = self.order_words(),
            )),
        }
        let phase = self.phase();
        match phase {
            Phase::Draw => {}
            Phase::Speak(_) => s.push_str(&format!("Round {} of {rounds}.\n", self.rounds_done() + 1)),
            Phase::Judge | Phase::Over => s.push_str(&format!("All {rounds} {plural} are over.\n")),
        }
        if phase != Phase::Draw {
            s.push_str("Transcript:\n");
            s.push_str(&self.transcript());
        }
        match phase {
            Phase::Draw => s.push_str("The proposition is being drawn."),
            Phase::Speak(speaker) if speaker == player => s.push_str(&format!(
                "Your turn: write your argument for round {} as plain text, at most {} characters.",
                self.rounds_done() + 1,
                rules.max_chars
            )),
            Phase::Speak(speaker) => s.push_str(&format!("{} is to speak.", ROLE[speaker])),
            Phase::Judge if player == JUDGE_SEAT => {
                s.push_str("Your turn: answer `pro` if the proposition is true or `con` if it is false.")
            }
            Phase::Judge => s.push_str("The judge is deciding."),
            Phase::Over => match (rules.judge, self.verdict) {
                (Judge::Seat, Some(v)) => {
                    s.push_str(&format!("The debate is over. The judge's verdict: {}.", Self::verdict_words(v)))
                }
                _ => s.push_str("The debate is over; the ground truth decides the winner."),
            },
        }
        s
    }

    fn observation_tensor(&self, player: Player, out: &mut [f32]) {
        self.check_player(player);
        assert_eq!(out.len(), TENSOR_SIZE, "observation buffer has the wrong size");
        out.fill(0.0);
        let (phase, to_act) = match self.phase() {
            Phase::Draw => (0, None),
            Phase::Speak(p) => (1 + p, Some(p)),
            Phase::Judge => (3, Some(JUDGE_SEAT)),
            Phase::Over => (4, None),
        };
        out[phase] = 1.0;
        out[5 + player.min(2)] = 1.0;
        out[8] = self.rounds_done() as f32 / self.rules.rounds as f32;
        out[9] = if to_act == Some(player) { 1.0 } else { 0.0 };
    }

    fn history(&self) -> Vec<Move> {
        let mut moves = Vec::with_capacity(2 + self.utterances.len());
        moves.extend(self.proposition.map(Move::Action));
        moves.extend(self.utterances.iter().cloned().map(Move::Text));
        moves.extend(self.verdict.map(Move::Action));
        moves
    }

    fn render(&self) -> String {
        let rules = &self.rules;
        let judge = match rules.judge {
            Judge::Seat => "judge seat",
            Judge::Oracle => "oracle judge",
        };
        let mut s = format!("debate: {} round(s), {judge}, max {} characters\n", rules.rounds, rules.max_chars);
        match (self.proposition, self.drawn()) {
            (Some(i), Some(p)) => s.push_str(&format!(
                "proposition {i} of {} ({}): {}\nground truth: {}\n",
                rules.propositions.len(),
                p.kind,
                p.text,
                if p.truth { "TRUE" } else { "FALSE" }
            )),
            _ => s.push_str("proposition: not drawn yet\n"),
        }
        if self.proposition.is_some() {
            s.push_str(&self.transcript());
        }
        match self.verdict {
            Some(v) => s.push_str(&format!("verdict: {}\n", Self::verdict_words(v))),
            None if rules.judge == Judge::Oracle && self.phase() == Phase::Over => {
                s.push_str("verdict: the ground truth\n")
            }
            None => {}
        }
        let status = match self.phase() {
            Phase::Draw => "drawing the proposition".to_string(),
            Phase::Speak(p) => format!("{} to speak in round {}", ROLE[p], self.rounds_done() + 1),
            Phase::Judge => "the judge to decide".to_string(),
            Phase::Over => {
                let returns: Vec<String> =
                    (0..self.players()).map(|p| format!("{:+}", self.player_return(p))).collect();
                format!("over: returns {}", returns.join(" "))
            }
        };
        s.push_str(&status);
        s.push('\n');
        s
    }

    fn clone_box(&self) -> Box<dyn State> {
        Box::new(self.clone())
    }
}
