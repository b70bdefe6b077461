//! Negotiation: two players split a pool of books, hats and balls, each valuing the items
//! privately (as in "Deal or No Deal", Lewis et al. 2017). Made for language models: a move is an
//! offer or an acceptance written in words, the outcome is the value of what each takes home, and
//! doing well takes reasoning about what the other wants rather than following a format.
//!
//! Spec: `negotiation(max_count=3,turns=6,scenarios=1000,seed=0)`. One chance move draws a
//! scenario: how many of each item there are (1..=max_count) and each player's value per item
//! (whole points; the whole pool is worth 10 to each player, each item is worth something to
//! someone, and the players' values differ). Players alternate, player 0 first: a move proposes a
//! split (`propose books=2 hats=0 balls=1`: what the proposer takes, the rest to the other) or,
//! facing an offer, accepts it (`accept`). An accepted offer ends the game: each player's return is
//! the value of their share to them (general-sum, 0 to 10). After `turns` moves without a deal both
//! get 0. Actions: 0 accepts; 1 + b + (max_count+1)·h + (max_count+1)²·l proposes to take b books,
//! h hats and l balls. A chance outcome is the scenario's number. In move lists (`arena show
//! --moves`) the one-word forms `2-0-1` (books, hats, balls taken), `accept` and a bare scenario
//! number read too.
//!
//! Each player sees the pool, their own values (never the other's), and every offer.

use crate::error::{Error, Result};
use crate::game::{Action, Game, GameFacts, Information, InputKind, Player, State, Turn, Utility};
use crate::params::{ParamDef, ParamKind, Params};
use crate::record::Move;
use crate::registry::{GameRegistration, shared};
use crate::spec::Spec;

pub const REGISTRATION: GameRegistration = GameRegistration {
    name: "negotiation",
    summary: "split books, hats and balls valued privately: `propose books=2 hats=0 balls=1` (what you take) or \
              `accept`; the value of your share is your return, no deal gives 0",
    params: &[
        ParamDef {
            name: "max_count",
            kind: ParamKind::Int { min: 1, max: 5 },
            default: "3",
            doc: "at most this many of each item",
        },
        ParamDef { name: "turns", kind: ParamKind::Int { min: 1, max: 20 }, default: "6", doc: "moves before no deal" },
        ParamDef {
            name: "scenarios",
            kind: ParamKind::Int { min: 1, max: 100_000 },
            default: "1000",
            doc: "scenarios chance draws from",
        },
        ParamDef {
            name: "seed",
            kind: ParamKind::Int { min: 0, max: i64::MAX },
            default: "0",
            doc: "the scenarios' seed",
        },
    ],
    create: |params: &Params| {
        Ok(shared(Negotiation::new(
            params.int("max_count") as usize,
            params.int("turns") as usize,
            params.int("scenarios") as usize,
            params.int("seed") as u64,
        )))
    },
};

/// The items, in action order.
const ITEMS: [&str; 3] = ["books", "hats", "balls"];
/// What the whole pool is worth to each player.
const POOL_VALUE: usize = 10;
/// Observation tensor: counts, own values, the standing offer's share for the observer, whether
/// there is one, the turn's share of the game, and the observer's seat.
const TENSOR_SIZE: usize = 3 + 3 + 3 + 1 + 1 + 1;

/// One deal: the pool and each player's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Scenario {
    counts: [usize; 3],
    values: [[usize; 3]; 2],
}

/// The rules with their parameters.
#[derive(Debug)]
pub struct Negotiation {
    max_count: usize,
    turns: usize,
    scenarios: usize,
    seed: u64,
    facts: GameFacts,
}

impl Negotiation {
    pub fn new(max_count: usize, turns: usize, scenarios: usize, seed: u64) -> Self {
        let radix = max_count + 1;
        Negotiation {
            max_count,
            turns,
            scenarios,
            seed,
            facts: GameFacts {
                name: "negotiation",
                players: 2,
                chance: true,
                information: Information::Imperfect,
                utility: Utility::GeneralSum,
                num_distinct_actions: 1 + radix * radix * radix,
                max_chance_outcomes: scenarios,
                max_game_length: 1 + turns,
                observation_shape: vec![TENSOR_SIZE],
                min_return: 0.0,
                max_return: POOL_VALUE as f64,
                input: InputKind::Discrete,
            },
        }
    }
}

impl Game for Negotiation {
    fn facts(&self) -> &GameFacts {
        &self.facts
    }

    fn spec(&self) -> Spec {
        Spec::new("negotiation")
            .with("max_count", self.max_count)
            .with("turns", self.turns)
            .with("scenarios", self.scenarios)
            .with("seed", self.seed)
    }

    fn new_initial_state(&self) -> Box<dyn State> {
        Box::new(NegotiationState {
            max_count: self.max_count,
            turns: self.turns,
            scenarios: self.scenarios,
            seed: self.seed,
            scenario: None,
            moves: Vec::new(),
        })
    }
}

/// SplitMix64: the scenarios' deterministic stream.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Scenario `index` of the set `seed`: drawn until it meets the rules (each player's values make
/// the pool worth 10, every item is worth something to someone, the two players' values differ).
fn scenario(seed: u64, index: usize, max_count: usize) -> Scenario {
    let mut stream = seed.wrapping_mul(0xA076_1D64_78BD_642F) ^ (index as u64).wrapping_mul(0xE703_7ED1_A0B4_28DB);
    let mut draw = |below: usize| (splitmix(&mut stream) % below as u64) as usize;
    loop {
        let counts = [1 + draw(max_count), 1 + draw(max_count), 1 + draw(max_count)];
        let mut values = [[0; 3]; 2];
        let mut found = [false; 2];
        for (player, value) in values.iter_mut().enumerate() {
            for _ in 0..200 {
                let candidate = [draw(POOL_VALUE + 1), draw(POOL_VALUE + 1), draw(POOL_VALUE + 1)];
                if (0..3).map(|i| candidate[i] * counts[i]).sum::<usize>() == POOL_VALUE {
                    *value = candidate;
                    found[player] = true;
                    break;
                }
            }
        }
        let everything_wanted = (0..3).all(|i| values[0][i] + values[1][i] > 0);
        if found == [true, true] && everything_wanted && values[0] != values[1] {
            return Scenario { counts, values };
        }
    }
}

/// A position: the scenario once drawn, and the players' moves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NegotiationState {
    max_count: usize,
    turns: usize,
    scenarios: usize,
    seed: u64,
    scenario: Option<(usize, Scenario)>,
    moves: Vec<Action>,
}

impl NegotiationState {
    fn radix(&self) -> usize {
        self.max_count + 1
    }

    /// The split an action proposes (what the proposer takes), if it proposes one.
    fn split(&self, action: Action) -> Option<[usize; 3]> {
        let r = self.radix();
        let a = (action as usize).checked_sub(1).filter(|&a| a < r * r * r)?;
        Some([a % r, (a / r) % r, a / (r * r)])
    }

    fn proposal(&self, take: [usize; 3]) -> Action {
        let r = self.radix();
        (1 + take[0] + r * take[1] + r * r * take[2]) as Action
    }

    /// The standing offer: who made it and what they take.
    fn offer(&self) -> Option<(Player, [usize; 3])> {
        let last = self.moves.len().checked_sub(1)?;
        Some((last % 2, self.split(self.moves[last])?))
    }

    /// Whether the last move accepted the offer before it.
    fn agreed(&self) -> bool {
        self.moves.last() == Some(&0)
    }

    fn value(&self, player: Player, share: [usize; 3]) -> usize {
        self.scenario.map_or(0, |(_, s)| (0..3).map(|i| s.values[player][i] * share[i]).sum())
    }

    fn rest(&self, take: [usize; 3]) -> [usize; 3] {
        let counts = self.scenario.map_or([0; 3], |(_, s)| s.counts);
        [counts[0] - take[0].min(counts[0]), counts[1] - take[1].min(counts[1]), counts[2] - take[2].min(counts[2])]
    }

    /// What each player takes home, once the game is over with a deal.
    fn shares(&self) -> Option<[[usize; 3]; 2]> {
        if !self.agreed() {
            return None;
        }
        let offered = self.moves.len().checked_sub(2)?;
        let proposer = offered % 2;
        let take = self.split(self.moves[offered])?;
        let mut shares = [self.rest(take); 2];
        shares[proposer] = take;
        Some(shares)
    }

    fn describe(share: [usize; 3]) -> String {
        format!("{} books, {} hats, {} balls", share[0], share[1], share[2])
    }
}

impl State for NegotiationState {
    fn turn(&self) -> Turn {
        if self.scenario.is_none() {
            Turn::Chance
        } else if self.agreed() || self.moves.len() >= self.turns {
            Turn::Terminal
        } else {
            Turn::Player(self.moves.len() % 2)
        }
    }

    fn legal_actions(&self, out: &mut Vec<Action>) {
        out.clear();
        let (Turn::Player(_), Some((_, scenario))) = (self.turn(), self.scenario) else { return };
        if self.offer().is_some() {
            out.push(0);
        }
        let c = scenario.counts;
        let mut proposals: Vec<Action> = Vec::with_capacity((c[0] + 1) * (c[1] + 1) * (c[2] + 1));
        for balls in 0..=c[2] {
            for hats in 0..=c[1] {
                for books in 0..=c[0] {
                    proposals.push(self.proposal([books, hats, balls]));
                }
            }
        }
        out.extend(proposals);
    }

    fn chance_outcomes(&self, out: &mut Vec<(Action, f64)>) {
        out.clear();
        if self.scenario.is_none() {
            let p = 1.0 / self.scenarios as f64;
            out.extend((0..self.scenarios as Action).map(|c| (c, p)));
        }
    }

    fn is_legal(&self, action: Action) -> bool {
        match self.turn() {
            Turn::Chance => (action as usize) < self.scenarios,
            Turn::Player(_) => {
                if action == 0 {
                    return self.offer().is_some();
                }
                let counts = self.scenario.map_or([0; 3], |(_, s)| s.counts);
                self.split(action).is_some_and(|take| (0..3).all(|i| take[i] <= counts[i]))
            }
            Turn::Terminal => false,
        }
    }

    fn apply_unchecked(&mut self, action: Action) {
        if self.scenario.is_none() {
            let index = (action as usize).min(self.scenarios - 1);
            self.scenario = Some((index, scenario(self.seed, index, self.max_count)));
        } else {
            self.moves.push(action);
        }
    }

    fn player_return(&self, player: Player) -> f64 {
        self.shares().map_or(0.0, |shares| self.value(player, shares[player]) as f64)
    }

    fn action_to_string(&self, action: Action) -> String {
        if self.scenario.is_none() {
            return format!("scenario {action}");
        }
        if action == 0 {
            return "accept".to_string();
        }
        match self.split(action) {
            Some(t) => format!("propose books={} hats={} balls={}", t[0], t[1], t[2]),
            None => format!("#{action}"),
        }
    }

    fn parse_action(&self, text: &str) -> Result<Action> {
        let bad = |reason: &str| Error::ParseAction { text: text.to_string(), reason: reason.to_string() };
        let lowered = text.trim().trim_end_matches('.').to_ascii_lowercase();
        if self.scenario.is_none() {
            let number = lowered.strip_prefix("scenario").unwrap_or(&lowered).trim();
            return number
                .parse::<usize>()
                .ok()
                .filter(|&n| n < self.scenarios)
                .map(|n| n as Action)
                .ok_or_else(|| bad("a scenario is `scenario N`"));
        }
        if matches!(lowered.as_str(), "accept" | "deal" | "i accept") {
            return Ok(0);
        }
        let body = lowered.strip_prefix("propose").unwrap_or(&lowered).trim();
        // The one-word form, for move lists: `2-0-1` (books, hats, balls taken).
        let compact: Vec<Option<usize>> = body.split('-').map(|c| c.parse::<usize>().ok()).collect();
        if let [Some(books), Some(hats), Some(balls)] = compact[..] {
            if [books, hats, balls].iter().any(|&c| c > self.max_count) {
                return Err(bad(&format!("`{body}`: counts from 0 to {}", self.max_count)));
            }
            return Ok(self.proposal([books, hats, balls]));
        }
        let mut take = [None; 3];
        for part in body.split([' ', ',']).filter(|p| !p.is_empty()) {
            let Some((item, count)) = part.split_once('=') else {
                return Err(bad("an offer is `propose books=B hats=H balls=L` (what you take), or `accept`"));
            };
            let Some(i) = ITEMS.iter().position(|name| *name == item || name.trim_end_matches('s') == item) else {
                return Err(bad(&format!("`{item}`: the items are books, hats and balls")));
            };
            let Some(count) = count.parse::<usize>().ok().filter(|&c| c <= self.max_count) else {
                return Err(bad(&format!("`{part}`: a count from 0 to {}", self.max_count)));
            };
            take[i] = Some(count);
        }
        match take {
            [Some(books), Some(hats), Some(balls)] => Ok(self.proposal([books, hats, balls])),
            _ => Err(bad("an offer names all three counts: `propose books=B hats=H balls=L`")),
        }
    }

    fn observation_string(&self, player: Player) -> String {
        let mut s = String::from(
            "Negotiation. You and your opponent split a pool of books, hats and balls. Each of you values \
             the items privately; the whole pool is worth 10 points to each of you. Take turns: propose a \
             split by saying what you take (`propose books=B hats=H balls=L`; your opponent gets the rest), \
             or accept your opponent's last offer (`accept`). With a deal each scores the value of their \
             share; with no deal both score 0.\n",
        );
        s.push_str(&format!("You are player {player}. "));
        let Some((_, scenario)) = self.scenario else {
            s.push_str("The pool is being drawn.");
            return s;
        };
        s.push_str(&format!(
            "The pool: {}. Your values: a book {}, a hat {}, a ball {}.\n",
            Self::describe(scenario.counts),
            scenario.values[player][0],
            scenario.values[player][1],
            scenario.values[player][2]
        ));
        for (i, &a) in self.moves.iter().enumerate() {
            let who = if i % 2 == player { "You" } else { "Your opponent" };
            match self.split(a) {
                Some(take) => {
                    let (yours, theirs) =
                        if i % 2 == player { (take, self.rest(take)) } else { (self.rest(take), take) };
                    s.push_str(&format!(
                        "{who} proposed: you get {}, your opponent gets {} (worth {} to you).\n",
                        Self::describe(yours),
                        Self::describe(theirs),
                        self.value(player, yours)
                    ));
                }
                None => s.push_str(&format!("{who} accepted.\n")),
            }
        }
        let left = self.turns.saturating_sub(self.moves.len());
        match self.turn() {
            Turn::Player(p) if p == player => s.push_str(&format!(
                "Your move ({left} moves left before no deal): {}propose a split.",
                if self.offer().is_some() { "accept, or " } else { "" }
            )),
            Turn::Player(_) => s.push_str("Your opponent is to move."),
            Turn::Terminal => match self.shares() {
                Some(shares) => s.push_str(&format!(
                    "Deal: you take {}, worth {} to you.",
                    Self::describe(shares[player]),
                    self.value(player, shares[player])
                )),
                None => s.push_str("No deal: both score 0."),
            },
            Turn::Chance => {}
        }
        s
    }

    fn observation_tensor(&self, player: Player, out: &mut [f32]) {
        out.fill(0.0);
        let m = self.max_count as f32;
        if let Some((_, scenario)) = self.scenario {
            for i in 0..3 {
                out[i] = scenario.counts[i] as f32 / m;
                out[3 + i] = scenario.values[player][i] as f32 / POOL_VALUE as f32;
            }
            if let Some((proposer, take)) = self.offer() {
                let mine = if proposer == player { take } else { self.rest(take) };
                for i in 0..3 {
                    out[6 + i] = mine[i] as f32 / m;
                }
                out[9] = 1.0;
            }
        }
        out[10] = self.moves.len() as f32 / self.turns as f32;
        out[11] = player as f32;
    }

    fn history(&self) -> Vec<Move> {
        self.scenario
            .map(|(index, _)| Move::Action(index as Action))
            .into_iter()
            .chain(self.moves.iter().map(|&a| Move::Action(a)))
            .collect()
    }

    fn render(&self) -> String {
        let Some((index, scenario)) = self.scenario else { return "drawing the scenario\n".to_string() };
        let mut s = format!(
            "scenario {index}: pool {}; values player 0 {:?}, player 1 {:?}\n",
            Self::describe(scenario.counts),
            scenario.values[0],
            scenario.values[1]
        );
        for (i, &a) in self.moves.iter().enumerate() {
            s.push_str(&format!("player {}: {}\n", i % 2, self.action_to_string(a)));
        }
        s.push_str(&match (self.turn(), self.shares()) {
            (Turn::Terminal, Some(_)) => {
                format!("deal: player 0 scores {}, player 1 scores {}\n", self.player_return(0), self.player_return(1))
            }
            (Turn::Terminal, None) => "no deal: both score 0\n".to_string(),
            (turn, _) => format!("{turn:?} to move\n"),
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

    #[test]
    fn every_scenario_meets_the_rules() {
        for max_count in 1..=5 {
            for index in 0..300 {
                let s = scenario(7, index, max_count);
                for values in s.values {
                    assert_eq!((0..3).map(|i| values[i] * s.counts[i]).sum::<usize>(), POOL_VALUE, "{s:?}");
                }
                assert!((0..3).all(|i| s.values[0][i] + s.values[1][i] > 0) && s.values[0] != s.values[1], "{s:?}");
                assert!(s.counts.iter().all(|&c| (1..=max_count).contains(&c)), "{s:?}");
            }
        }
        assert_eq!(scenario(7, 3, 3), scenario(7, 3, 3), "the same scenario every time");
    }
}

#[cfg(test)]
mod play_tests {
    use super::*;

    #[test]
    fn an_accepted_offer_pays_each_player_their_share_and_no_deal_pays_nothing() {
        let game = Negotiation::new(3, 4, 1000, 0);
        let mut state = game.new_initial_state();
        state.apply_text("scenario 5").unwrap_or_else(|e| panic!("{e}"));
        let s = scenario(0, 5, 3);
        let c = s.counts;
        // Player 0 asks for all the books, player 1 accepts.
        state.apply_text(&format!("propose books={} hats=0 balls=0", c[0])).unwrap_or_else(|e| panic!("{e}"));
        let offered = state.observation_string(1);
        assert!(offered.contains(&format!("you get 0 books, {} hats, {} balls", c[1], c[2])), "{offered}");
        assert!(!offered.contains(&format!("{:?}", s.values[0])), "player 0's values stay hidden");
        state.apply_text("accept").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(state.turn(), Turn::Terminal);
        assert_eq!(state.player_return(0), (s.values[0][0] * c[0]) as f64);
        assert_eq!(state.player_return(1), (s.values[1][1] * c[1] + s.values[1][2] * c[2]) as f64);
        // Four offers and no acceptance: no deal.
        let mut state = game.new_initial_state();
        state.apply_text("scenario 5").unwrap_or_else(|e| panic!("{e}"));
        for _ in 0..4 {
            state.apply_text("propose books=0 hats=0 balls=0").unwrap_or_else(|e| panic!("{e}"));
        }
        assert_eq!((state.turn(), state.player_return(0), state.player_return(1)), (Turn::Terminal, 0.0, 0.0));
        // Accepting with no offer on the table, or taking more than the pool, is refused.
        let mut state = game.new_initial_state();
        state.apply_text("scenario 5").unwrap_or_else(|e| panic!("{e}"));
        assert!(state.apply_text("accept").is_err());
        assert!(state.apply_text(&format!("propose books={} hats=0 balls=0", c[0] + 1)).is_err());
        assert_eq!(state.parse_action("1-0-2").ok(), state.parse_action("propose books=1 hats=0 balls=2").ok());
        assert!(state.parse_action("9-0-0").is_err());
    }
}
