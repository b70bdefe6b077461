//! Kuhn poker: a three-card deck (J < Q < K), one card each, one betting round of at most one bet.
//!
//! Each player antes 1 chip. Two chance moves deal player 0's card (outcome 0 = J, 1 = Q, 2 = K,
//! probability 1/3 each) and then player 1's card from the two left (probability 1/2 each).
//! Player 0 then passes (action 0) or bets 1 chip (action 1); the betting sequences `pp`, `bp`,
//! `pbp`, `bb` and `pbb` end the hand. Passing facing a bet folds; betting facing a bet calls;
//! otherwise the higher card wins the pot. Returns are the chips won or lost (zero-sum, ±1 or ±2).
//!
//! Each player sees only their own card and the betting; the information-state key is
//! `<own card>:<betting>` such as `K:pb` (`K:` at the first decision), as in the usual tables.

use arrayvec::ArrayVec;

use crate::error::{Error, Result};
use crate::game::{Action, Game, GameFacts, Information, InputKind, Player, State, Turn, Utility};
use crate::params::Params;
use crate::record::Move;
use crate::registry::{GameRegistration, shared};
use crate::spec::Spec;

pub const REGISTRATION: GameRegistration = GameRegistration {
    name: "kuhn_poker",
    summary: "Kuhn poker: deck J<Q<K, ante 1, one card each, pass (p) or bet (b) with at most one bet; \
              chance moves deal the cards (J, Q, K)",
    params: &[],
    create: |_: &Params| Ok(shared(KuhnPoker::new())),
};

/// Player action: pass (check, or fold facing a bet).
const PASS: u8 = 0;
/// Player action: bet (bet 1 chip, or call facing a bet).
const BET: u8 = 1;
/// Card letters by chance outcome.
const CARDS: [char; 3] = ['J', 'Q', 'K'];
/// Observation tensor: player one-hot, own card one-hot, then pass/bet one-hot for each of 3 rounds.
const TENSOR_SIZE: usize = 2 + 3 + 3 * 2;

/// The rules of Kuhn poker (two players).
#[derive(Debug)]
pub struct KuhnPoker {
    facts: GameFacts,
}

impl KuhnPoker {
    pub fn new() -> Self {
        KuhnPoker {
            facts: GameFacts {
                name: "kuhn_poker",
                players: 2,
                chance: true,
                information: Information::Imperfect,
                utility: Utility::ZeroSum,
                num_distinct_actions: 2,
                max_chance_outcomes: 3,
                max_game_length: 5,
                observation_shape: vec![TENSOR_SIZE],
                min_return: -2.0,
                max_return: 2.0,
                input: InputKind::Discrete,
            },
        }
    }
}

impl Default for KuhnPoker {
    fn default() -> Self {
        Self::new()
    }
}

impl Game for KuhnPoker {
    fn facts(&self) -> &GameFacts {
        &self.facts
    }
    fn spec(&self) -> Spec {
        Spec::new("kuhn_poker")
    }
    fn new_initial_state(&self) -> Box<dyn State> {
        Box::new(KuhnPokerState::default())
    }
}

/// A Kuhn poker position: the moves so far, the two deals first (cards 0..3), then the betting
/// (0 = pass, 1 = bet).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct KuhnPokerState {
    history: ArrayVec<u8, 5>,
}

/// How a finished hand ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ending {
    /// This player passed facing a bet.
    Fold(Player),
    /// The cards decide.
    Showdown,
}

impl KuhnPokerState {
    /// The card dealt to `player`, if dealt.
    fn card(&self, player: Player) -> Option<u8> {
        if player < 2 { self.history.get(player).copied() } else { None }
    }

    /// The betting actions so far (empty while the cards are dealt).
    fn betting(&self) -> &[u8] {
        self.history.get(2..).unwrap_or(&[])
    }

    /// How the hand ended, or `None` while it goes on.
    fn ending(&self) -> Option<Ending> {
        match self.betting() {
            [PASS, PASS] | [BET, BET] | [PASS, BET, BET] => Some(Ending::Showdown),
            [BET, PASS] => Some(Ending::Fold(1)),
            [PASS, BET, PASS] => Some(Ending::Fold(0)),
            _ => None,
        }
    }

    /// Chips each player has put in the pot (antes included).
    fn contributions(&self) -> [u32; 2] {
        let mut chips = [1, 1];
        for (i, &action) in self.betting().iter().enumerate() {
            if action == BET {
                chips[i % 2] += 1;
            }
        }
        chips
    }

    /// Whether a bet was made before the `index`th betting action.
    fn facing_bet(&self, index: usize) -> bool {
        self.betting()[..index].contains(&BET)
    }

    /// The winner of a finished hand.
    fn winner(&self) -> Option<Player> {
        match self.ending()? {
            Ending::Fold(folder) => Some(1 - folder),
            Ending::Showdown => {
                let (a, b) = (self.card(0)?, self.card(1)?);
                Some(if a > b { 0 } else { 1 })
            }
        }
    }

    /// What the betting action at `index` was, in words (`checked`, `bet`, `folded`, `called`).
    fn betting_word(&self, index: usize) -> &'static str {
        match (self.betting()[index], self.facing_bet(index)) {
            (PASS, false) => "checked",
            (PASS, true) => "folded",
            (_, false) => "bet",
            (_, true) => "called",
        }
    }

    fn card_letter(&self, player: Player) -> char {
        self.card(player).map_or('?', |c| CARDS[c as usize])
    }

    fn chips(n: u32) -> String {
        if n == 1 { "1 chip".to_string() } else { format!("{n} chips") }
    }
}

impl State for KuhnPokerState {
    fn turn(&self) -> Turn {
        if self.history.len() < 2 {
            Turn::Chance
        } else if self.ending().is_some() {
            Turn::Terminal
        } else {
            Turn::Player(self.betting().len() % 2)
        }
    }

    fn legal_actions(&self, out: &mut Vec<Action>) {
        out.clear();
        if let Turn::Player(_) = self.turn() {
            out.extend([PASS as Action, BET as Action]);
        }
    }

    fn chance_outcomes(&self, out: &mut Vec<(Action, f64)>) {
        out.clear();
        match self.history.as_slice() {
            [] => out.extend((0..3).map(|c| (c, 1.0 / 3.0))),
            [dealt] => out.extend((0..3).filter(|&c| c != *dealt as Action).map(|c| (c, 0.5))),
            _ => {}
        }
    }

    fn is_legal(&self, action: Action) -> bool {
        match self.turn() {
            Turn::Chance => action < 3 && self.card(0).is_none_or(|dealt| dealt as Action != action),
            Turn::Player(_) => action < 2,
            Turn::Terminal => false,
        }
    }

    fn apply_unchecked(&mut self, action: Action) {
        // Out-of-range actions are clamped so that even an illegal call cannot panic later.
        let largest = if self.history.len() < 2 { 2 } else { BET as Action };
        if !self.history.is_full() {
            self.history.push(action.min(largest) as u8);
        }
    }

    fn player_return(&self, player: Player) -> f64 {
        let Some(winner) = self.winner() else { return 0.0 };
        let loser = 1 - winner;
        let stake = self.contributions()[loser] as f64;
        if player == winner { stake } else { -stake }
    }

    fn action_to_string(&self, action: Action) -> String {
        match (self.turn(), action) {
            (Turn::Chance, 0..3) => format!("deal {}", CARDS[action as usize]),
            (Turn::Chance, _) => format!("invalid deal {action} (cards are 0 = J, 1 = Q, 2 = K)"),
            (_, 0) => "pass".to_string(),
            (_, 1) => "bet".to_string(),
            (_, _) => format!("invalid action {action} (0 = pass, 1 = bet)"),
        }
    }

    fn parse_action(&self, text: &str) -> Result<Action> {
        let word = text.trim().to_ascii_lowercase();
        if self.turn() == Turn::Chance {
            let card = word.strip_prefix("deal").map_or(word.as_str(), str::trim);
            return match card {
                "j" | "jack" => Ok(0),
                "q" | "queen" => Ok(1),
                "k" | "king" => Ok(2),
                _ => Err(Error::ParseAction {
                    text: text.to_string(),
                    reason: "a deal names the card: J, Q or K (also jack, queen, king, or `deal J`)".to_string(),
                }),
            };
        }
        match word.as_str() {
            "p" | "pass" | "check" | "fold" => Ok(PASS as Action),
            "b" | "bet" | "call" => Ok(BET as Action),
            _ => Err(Error::ParseAction {
                text: text.to_string(),
                reason: "Kuhn poker moves are pass (also p, check, fold) or bet (also b, call)".to_string(),
            }),
        }
    }

    fn observation_string(&self, player: Player) -> String {
        assert!(player < 2, "Kuhn poker has players 0 and 1, not {player}");
        let opponent = 1 - player;
        let mut s = String::from(
            "Kuhn poker. The deck has three cards, J < Q < K. Each player antes 1 chip and gets one card; \
             a bet or a call is 1 chip; at a showdown the higher card wins the pot.\n",
        );
        s.push_str(&format!("You are player {player} and act {}.\n", if player == 0 { "first" } else { "second" }));
        match self.card(player) {
            Some(card) => s.push_str(&format!("Your card: {}.\n", CARDS[card as usize])),
            None => s.push_str("Your card: not dealt yet.\n"),
        }
        let betting = self.betting();
        if betting.is_empty() {
            s.push_str("Betting: none yet.\n");
        } else {
            let words: Vec<String> = (0..betting.len())
                .map(|i| {
                    let who = if i % 2 == player { "you" } else { "your opponent" };
                    format!("{who} {}", self.betting_word(i))
                })
                .collect();
            s.push_str(&format!("Betting: {}.\n", words.join(", ")));
        }
        let chips = self.contributions();
        s.push_str(&format!(
            "Pot: {} (you put in {}, your opponent {}).\n",
            Self::chips(chips[0] + chips[1]),
            chips[player],
            chips[opponent]
        ));
        match self.turn() {
            Turn::Chance => s.push_str("The cards are being dealt."),
            Turn::Player(p) if p != player => s.push_str("Your opponent is to act."),
            Turn::Player(_) => {
                if self.facing_bet(betting.len()) {
                    s.push_str("Your move: pass (fold: give up the pot) or bet (call: put in 1 chip and show down).");
                } else if betting.is_empty() {
                    s.push_str("Your move: pass (check) or bet (put in 1 chip).");
                } else {
                    s.push_str("Your move: pass (check: show down for the pot) or bet (put in 1 chip).");
                }
            }
            Turn::Terminal => match self.ending() {
                Some(Ending::Fold(folder)) if folder == player => {
                    s.push_str(&format!("The hand is over: you folded and lose {}.", Self::chips(chips[player])));
                }
                Some(Ending::Fold(_)) => {
                    s.push_str(&format!(
                        "The hand is over: your opponent folded; you win {}.",
                        Self::chips(chips[opponent])
                    ));
                }
                _ => s.push_str(&format!(
                    "The hand is over: showdown for a pot of {}; the higher card wins it.",
                    Self::chips(chips[0] + chips[1])
                )),
            },
        }
        s
    }

    fn observation_tensor(&self, player: Player, out: &mut [f32]) {
        assert!(player < 2, "Kuhn poker has players 0 and 1, not {player}");
        assert_eq!(out.len(), TENSOR_SIZE, "observation buffer has the wrong size");
        out.fill(0.0);
        out[player] = 1.0;
        if let Some(card) = self.card(player) {
            out[2 + card as usize] = 1.0;
        }
        for (round, &action) in self.betting().iter().enumerate() {
            out[5 + 2 * round + action as usize] = 1.0;
        }
    }

    fn information_state_string(&self, player: Player) -> String {
        let card = self.card_letter(player);
        if self.history.len() < 2 {
            // While dealing: the own card (or `?`) and how many cards are out.
            return format!("{card}:deal{}", self.history.len());
        }
        let betting: String = self.betting().iter().map(|&a| if a == PASS { 'p' } else { 'b' }).collect();
        format!("{card}:{betting}")
    }

    fn history(&self) -> Vec<Move> {
        self.history.iter().map(|&a| Move::Action(a as Action)).collect()
    }

    fn render(&self) -> String {
        let betting: String = self.betting().iter().map(|&a| if a == PASS { 'p' } else { 'b' }).collect();
        let chips = self.contributions();
        let status = match self.turn() {
            Turn::Chance => format!("dealing to player {}", self.history.len()),
            Turn::Player(p) => format!("player {p} to act"),
            Turn::Terminal => {
                let winner = self.winner().unwrap_or(0);
                let how = if matches!(self.ending(), Some(Ending::Fold(_))) { "fold" } else { "showdown" };
                format!("over ({how}): player {winner} wins {}", Self::chips(chips[1 - winner]))
            }
        };
        format!(
            "cards: player 0 {}, player 1 {}\nbetting: {}\npot: {} (player 0 {}, player 1 {})\n{status}\n",
            self.card_letter(0),
            self.card_letter(1),
            if betting.is_empty() { "-" } else { &betting },
            chips[0] + chips[1],
            chips[0],
            chips[1],
        )
    }

    fn clone_box(&self) -> Box<dyn State> {
        Box::new(self.clone())
    }
}
