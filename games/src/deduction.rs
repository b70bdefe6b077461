//! Deduction: each player holds a secret number; players take turns asking yes/no questions about
//! the other's number, and win by naming it. Made for language models: every move is a question
//! or a guess written in words, the answers are the truth, and winning takes reasoning (keeping
//! the numbers every answer still allows, halving them) rather than following a format.
//!
//! Spec: `deduction(numbers=16,questions=5)`. Two chance moves deal player 0's and player 1's
//! secret (1..=numbers, uniform). Then players alternate, player 0 first. A move asks about the
//! opponent's number — `ask >= K` (K in 2..=numbers), `ask even`, `ask multiple of 3` — and the
//! game answers truthfully for both players to see; or it guesses — `guess K`. A right guess wins
//! (+1, the other −1); a wrong guess loses. A player who has asked `questions` questions must
//! guess. Actions: `0..numbers-1` ask `>= K` with K = action + 2, `numbers-1` asks even,
//! `numbers` asks multiple of 3, `numbers+1..=2*numbers` guess K = action − numbers. A chance
//! outcome `c` deals the number `c + 1`. In move lists (`arena show --moves`) the one-word forms
//! `>=9`, `even`, `mult3`, `=7` and a bare number for a deal read too.
//!
//! Each player sees their own number, every question and answer, and how many questions each may
//! still ask, never the opponent's number.

use crate::error::{Error, Result};
use crate::game::{Action, Game, GameFacts, Information, InputKind, Player, State, Turn, Utility};
use crate::params::{ParamDef, ParamKind, Params};
use crate::record::Move;
use crate::registry::{GameRegistration, shared};
use crate::spec::Spec;

pub const REGISTRATION: GameRegistration = GameRegistration {
    name: "deduction",
    summary: "each player holds a secret number; ask yes/no questions about the other's (`ask >= 9`, `ask even`, \
              `ask multiple of 3`) and win by naming it (`guess 7`); a wrong guess loses",
    params: &[
        ParamDef {
            name: "numbers",
            kind: ParamKind::Int { min: 2, max: 100 },
            default: "16",
            doc: "secrets are 1..=numbers",
        },
        ParamDef {
            name: "questions",
            kind: ParamKind::Int { min: 0, max: 20 },
            default: "5",
            doc: "questions each player may ask before guessing",
        },
    ],
    create: |params: &Params| {
        Ok(shared(Deduction::new(params.int("numbers") as usize, params.int("questions") as usize)))
    },
};

/// The rules with their parameters.
#[derive(Debug)]
pub struct Deduction {
    numbers: usize,
    questions: usize,
    facts: GameFacts,
}

impl Deduction {
    pub fn new(numbers: usize, questions: usize) -> Self {
        let tensor = numbers + 2 * questions * (numbers + 3) + 2;
        Deduction {
            numbers,
            questions,
            facts: GameFacts {
                name: "deduction",
                players: 2,
                chance: true,
                information: Information::Imperfect,
                utility: Utility::ZeroSum,
                num_distinct_actions: 2 * numbers + 1,
                max_chance_outcomes: numbers,
                max_game_length: 2 + 2 * (questions + 1),
                observation_shape: vec![tensor],
                min_return: -1.0,
                max_return: 1.0,
                input: InputKind::Discrete,
            },
        }
    }
}

impl Game for Deduction {
    fn facts(&self) -> &GameFacts {
        &self.facts
    }

    fn spec(&self) -> Spec {
        Spec::new("deduction").with("numbers", self.numbers).with("questions", self.questions)
    }

    fn new_initial_state(&self) -> Box<dyn State> {
        Box::new(DeductionState { numbers: self.numbers, questions: self.questions, moves: Vec::new() })
    }
}

/// What a player's move is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Query {
    AtLeast(usize),
    Even,
    MultipleOfThree,
    Guess(usize),
}

/// A position: the deals, then the players' moves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeductionState {
    numbers: usize,
    questions: usize,
    moves: Vec<Action>,
}

impl DeductionState {
    fn query(&self, action: Action) -> Option<Query> {
        let (a, n) = (action as usize, self.numbers);
        match a {
            _ if a + 1 < n => Some(Query::AtLeast(a + 2)),
            _ if a + 1 == n => Some(Query::Even),
            _ if a == n => Some(Query::MultipleOfThree),
            _ if a <= 2 * n => Some(Query::Guess(a - n)),
            _ => None,
        }
    }

    fn action_of(&self, query: Query) -> Action {
        let n = self.numbers;
        (match query {
            Query::AtLeast(k) => k - 2,
            Query::Even => n - 1,
            Query::MultipleOfThree => n,
            Query::Guess(k) => n + k,
        }) as Action
    }

    /// `player`'s secret (1-based), once dealt.
    fn secret(&self, player: Player) -> Option<usize> {
        self.moves.get(player).map(|&c| c as usize + 1)
    }

    /// The players' moves after the deals.
    fn plays(&self) -> &[Action] {
        self.moves.get(2..).unwrap_or(&[])
    }

    /// Questions `player` has asked.
    fn asked(&self, player: Player) -> usize {
        self.plays()
            .iter()
            .enumerate()
            .filter(|&(i, &a)| i % 2 == player && !matches!(self.query(a), Some(Query::Guess(_))))
            .count()
    }

    /// The truthful answer to a question about `number`.
    fn answer(query: Query, number: usize) -> bool {
        match query {
            Query::AtLeast(k) => number >= k,
            Query::Even => number.is_multiple_of(2),
            Query::MultipleOfThree => number.is_multiple_of(3),
            Query::Guess(k) => number == k,
        }
    }

    /// The guess that ended the game: who guessed and whether it was right.
    fn ending(&self) -> Option<(Player, bool)> {
        let (i, &a) =
            self.plays().iter().enumerate().find(|(_, a)| matches!(self.query(**a), Some(Query::Guess(_))))?;
        let guesser = i % 2;
        let right = self.secret(1 - guesser).is_some_and(|s| self.query(a).is_some_and(|q| Self::answer(q, s)));
        Some((guesser, right))
    }

    fn words(query: Query) -> String {
        match query {
            Query::AtLeast(k) => format!("ask >= {k}"),
            Query::Even => "ask even".to_string(),
            Query::MultipleOfThree => "ask multiple of 3".to_string(),
            Query::Guess(k) => format!("guess {k}"),
        }
    }

    fn question_text(query: Query) -> String {
        match query {
            Query::AtLeast(k) => format!("is it at least {k}?"),
            Query::Even => "is it even?".to_string(),
            Query::MultipleOfThree => "is it a multiple of 3?".to_string(),
            Query::Guess(k) => format!("is it {k}?"),
        }
    }
}

impl State for DeductionState {
    fn turn(&self) -> Turn {
        if self.moves.len() < 2 {
            Turn::Chance
        } else if self.ending().is_some() {
            Turn::Terminal
        } else {
            Turn::Player(self.plays().len() % 2)
        }
    }

    fn legal_actions(&self, out: &mut Vec<Action>) {
        out.clear();
        let Turn::Player(player) = self.turn() else { return };
        let first = if self.asked(player) < self.questions { 0 } else { self.numbers + 1 };
        out.extend((first..=2 * self.numbers).map(|a| a as Action));
    }

    fn chance_outcomes(&self, out: &mut Vec<(Action, f64)>) {
        out.clear();
        if self.turn() == Turn::Chance {
            let p = 1.0 / self.numbers as f64;
            out.extend((0..self.numbers as Action).map(|c| (c, p)));
        }
    }

    fn is_legal(&self, action: Action) -> bool {
        match self.turn() {
            Turn::Chance => (action as usize) < self.numbers,
            Turn::Player(player) => {
                let first = if self.asked(player) < self.questions { 0 } else { self.numbers + 1 };
                (first..=2 * self.numbers).contains(&(action as usize))
            }
            Turn::Terminal => false,
        }
    }

    fn apply_unchecked(&mut self, action: Action) {
        self.moves.push(action);
    }

    fn player_return(&self, player: Player) -> f64 {
        match self.ending() {
            Some((guesser, right)) => {
                if (guesser == player) == right {
                    1.0
                } else {
                    -1.0
                }
            }
            None => 0.0,
        }
    }

    fn action_to_string(&self, action: Action) -> String {
        if self.turn() == Turn::Chance {
            return format!("deal {}", action as usize + 1);
        }
        self.query(action).map_or_else(|| format!("#{action}"), Self::words)
    }

    fn parse_action(&self, text: &str) -> Result<Action> {
        let bad = |reason: &str| Error::ParseAction { text: text.to_string(), reason: reason.to_string() };
        let lowered = text.trim().trim_end_matches(['.', '?']).to_ascii_lowercase();
        let words: Vec<&str> = lowered.split_whitespace().collect();
        let number = |word: &str| word.parse::<usize>().ok().filter(|k| (1..=self.numbers).contains(k));
        if self.turn() == Turn::Chance {
            return match words.as_slice() {
                ["deal", k] | [k] => number(k).map(|k| (k - 1) as Action).ok_or_else(|| bad("a deal is `deal K`")),
                _ => Err(bad("a deal is `deal K`")),
            };
        }
        let query = match words.as_slice() {
            ["ask", ">=", k] | ["ask", "at", "least", k] | [">=", k] => {
                number(k).filter(|&k| k >= 2).map(Query::AtLeast)
            }
            ["ask", "even"] | ["even"] => Some(Query::Even),
            ["ask", "multiple", "of", "3"] | ["multiple", "of", "3"] | ["mult3"] => Some(Query::MultipleOfThree),
            ["guess", k] => number(k).map(Query::Guess),
            // One-word forms, for move lists: `>=9`, `=7`.
            [word] => match (word.strip_prefix(">="), word.strip_prefix('=')) {
                (Some(k), _) => number(k).filter(|&k| k >= 2).map(Query::AtLeast),
                (None, Some(k)) => number(k).map(Query::Guess),
                _ => None,
            },
            _ => None,
        };
        query.map(|q| self.action_of(q)).ok_or_else(|| {
            bad(&format!(
                "moves are `ask >= K` (K from 2 to {n}), `ask even`, `ask multiple of 3` or `guess K` (K from 1 to {n})",
                n = self.numbers
            ))
        })
    }

    fn observation_string(&self, player: Player) -> String {
        let n = self.numbers;
        let mut s = format!(
            "Deduction. Each player has a secret number from 1 to {n}. Players take turns; on your turn \
             you either ask a yes/no question about your opponent's number (`ask >= K`, `ask even`, \
             `ask multiple of 3`), which is answered truthfully, or guess it (`guess K`). A right guess \
             wins, a wrong guess loses. Each player may ask at most {} questions, then must guess.\n",
            self.questions
        );
        s.push_str(&format!("You are player {player}. "));
        match self.secret(player) {
            Some(secret) => s.push_str(&format!("Your secret number: {secret}.\n")),
            None => s.push_str("Your secret number: not dealt yet.\n"),
        }
        if self.plays().is_empty() {
            s.push_str("No questions yet.\n");
        }
        for (i, &a) in self.plays().iter().enumerate() {
            let Some(query) = self.query(a) else { continue };
            let asker = i % 2;
            let answer = self.secret(1 - asker).map(|number| Self::answer(query, number));
            let who = if asker == player {
                "You asked about your opponent's number"
            } else {
                "Your opponent asked about your number"
            };
            let said = match (query, answer) {
                (Query::Guess(_), Some(true)) => "right",
                (Query::Guess(_), _) => "wrong",
                (_, Some(true)) => "yes",
                (_, _) => "no",
            };
            s.push_str(&format!("{who}: {} — {said}.\n", Self::question_text(query)));
        }
        let left = |p: Player| self.questions - self.asked(p).min(self.questions);
        s.push_str(&format!("Questions left: you {}, your opponent {}.\n", left(player), left(1 - player)));
        match self.turn() {
            Turn::Chance => s.push_str("The numbers are being dealt."),
            Turn::Player(p) if p == player && left(player) == 0 => s.push_str("Your move: you must guess (`guess K`)."),
            Turn::Player(p) if p == player => s.push_str("Your move: ask a question or guess."),
            Turn::Player(_) => s.push_str("Your opponent is to move."),
            Turn::Terminal => match self.ending() {
                Some((guesser, right)) => s.push_str(&format!(
                    "The game is over: {} guessed {}.",
                    if guesser == player { "you" } else { "your opponent" },
                    if right { "right" } else { "wrong" }
                )),
                None => s.push_str("The game is over."),
            },
        }
        s
    }

    fn observation_tensor(&self, player: Player, out: &mut [f32]) {
        let n = self.numbers;
        out.fill(0.0);
        if let Some(secret) = self.secret(player) {
            out[secret - 1] = 1.0;
        }
        // Per player (own questions first), per question slot: which question (n + 1 ids), its answer.
        let slot = n + 3;
        let mut asked = [0usize; 2];
        for (i, &a) in self.plays().iter().enumerate() {
            let asker = i % 2;
            let Some(query) = self.query(a) else { continue };
            if matches!(query, Query::Guess(_)) || asked[asker] >= self.questions {
                continue;
            }
            let side = usize::from(asker != player);
            let base = n + (side * self.questions + asked[asker]) * slot;
            out[base + a as usize] = 1.0;
            let yes = self.secret(1 - asker).is_some_and(|number| Self::answer(query, number));
            out[base + n + 1 + usize::from(yes)] = 1.0;
            asked[asker] += 1;
        }
        let end = n + 2 * self.questions * slot;
        out[end] = self.plays().len() as f32 % 2.0;
        out[end + 1] = player as f32;
    }

    fn history(&self) -> Vec<Move> {
        self.moves.iter().map(|&a| Move::Action(a)).collect()
    }

    fn render(&self) -> String {
        let secrets: Vec<String> = (0..2).map(|p| self.secret(p).map_or("?".to_string(), |s| s.to_string())).collect();
        let mut s = format!("secrets: player 0 {}, player 1 {}\n", secrets[0], secrets[1]);
        for (i, &a) in self.plays().iter().enumerate() {
            let answer = self
                .query(a)
                .zip(self.secret(1 - i % 2))
                .map_or("?", |(q, number)| if Self::answer(q, number) { "yes" } else { "no" });
            s.push_str(&format!("player {}: {} -> {answer}\n", i % 2, self.action_to_string(a)));
        }
        s.push_str(&match self.turn() {
            Turn::Chance => "dealing\n".to_string(),
            Turn::Player(p) => format!("player {p} to move\n"),
            Turn::Terminal => {
                let winner = (0..2).find(|&p| self.player_return(p) > 0.0).unwrap_or(0);
                format!("over: player {winner} wins\n")
            }
        });
        s
    }

    fn clone_box(&self) -> Box<dyn State> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn play(state: &mut Box<dyn State>, moves: &[&str]) {
        for text in moves {
            state.apply_text(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        }
    }

    #[test]
    fn questions_are_answered_truthfully_and_a_right_guess_wins() {
        let game = Deduction::new(16, 5);
        let mut state = game.new_initial_state();
        play(&mut state, &["deal 11", "deal 6"]);
        // Player 0 halves the range around player 1's 6; player 1 guesses blind and loses.
        play(&mut state, &["ask >= 9", "ask even"]);
        let seen = state.observation_string(0);
        assert!(seen.contains("Your secret number: 11") && !seen.contains(" 6"), "{seen}");
        assert!(seen.contains("is it at least 9? — no"), "{seen}");
        assert!(seen.contains("Your opponent asked about your number: is it even? — no"), "{seen}");
        play(&mut state, &["ask >= 5", "ask multiple of 3"]);
        assert!(state.observation_string(1).contains("is it a multiple of 3? — no"));
        play(&mut state, &["ask >= 7", "guess 12"]);
        assert_eq!(state.turn(), Turn::Terminal);
        assert_eq!((state.player_return(0), state.player_return(1)), (1.0, -1.0), "a wrong guess loses");
        let mut state = game.new_initial_state();
        play(&mut state, &["deal 11", "deal 6", "guess 6"]);
        assert_eq!(state.player_return(0), 1.0, "a right guess wins");
    }

    #[test]
    fn without_questions_left_only_guesses_are_legal() {
        let game = Deduction::new(8, 1);
        let mut state = game.new_initial_state();
        play(&mut state, &["deal 3", "deal 4", "ask even", "ask >= 2"]);
        let mut legal = Vec::new();
        state.legal_actions(&mut legal);
        let names: Vec<String> = legal.iter().map(|&a| state.action_to_string(a)).collect();
        assert_eq!(names, (1..=8).map(|k| format!("guess {k}")).collect::<Vec<_>>());
        assert!(state.apply_text("ask even").is_err());
        // One-word forms read as the long ones.
        for (short, long) in
            [(">=9", "ask >= 9"), ("=7", "guess 7"), ("mult3", "ask multiple of 3"), ("even", "ask even")]
        {
            let mut dealt = Deduction::new(16, 5).new_initial_state();
            play(&mut dealt, &["3", "4"]);
            let read = |text: &str| dealt.parse_action(text).ok();
            assert_eq!(read(short), read(long), "{short}");
            assert!(read(short).is_some(), "{short}");
        }
    }
}
