//! `mcts(sims=N, c=C, seed=S)`: UCT search with uniformly random rollouts, for every
//! perfect-information game (chance nodes are sampled). It is the fixed, well-understood anchor
//! that ratings are measured against.
//!
//! The tree lives in one flat `Vec` reused from move to move, so a search allocates only when the
//! tree outgrows every earlier one.
//!
//! With a deadline ([`View::deadline`]) the search looks at the clock every
//! [`DEADLINE_CHECK_INTERVAL`] simulations and answers [`AgentError::Timeout`] once it has passed;
//! the check draws nothing from the RNG, so a search that finishes in time is the same as without.

use games::{Action, Game, Information, ParamDef, ParamKind, Player, State, Turn};
use rand::{Rng, RngCore, SeedableRng};

use crate::agent::{Agent, AgentError, AgentRng, Deadline, Decision, View};

/// Simulations between two looks at the clock when the search has a deadline (a simulation of a
/// small board game takes about a microsecond; a clock read a few tens of nanoseconds).
pub const DEADLINE_CHECK_INTERVAL: u32 = 16;

/// The parameters of `mcts(...)`.
pub const MCTS_PARAMS: &[ParamDef] = &[
    ParamDef {
        name: "sims",
        kind: ParamKind::Int { min: 1, max: 1_000_000_000 },
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
];

/// Settings of a UCT search.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MctsConfig {
    /// Simulations (selection, expansion, one rollout, backup) per move.
    pub simulations: u32,
    /// Exploration constant of UCB1 on win rates in [0, 1] (√2 is the textbook value).
    pub exploration: f64,
    /// Mixed into the engine's RNG, so two otherwise equal agents can search differently.
    pub seed: u64,
}

impl Default for MctsConfig {
    fn default() -> Self {
        MctsConfig { simulations: 200, exploration: 2f64.sqrt(), seed: 0 }
    }
}

/// One node: the move that led here and the statistics of the simulations through it.
#[derive(Clone, Copy, Debug)]
struct Node {
    /// The action that led here from the parent.
    action: Action,
    /// Who took that action (`None` for the root and chance outcomes).
    mover: Option<Player>,
    /// Chance probability of this outcome (1 for player moves).
    probability: f64,
    visits: u32,
    /// Sum of the mover's returns, mapped to [0, 1].
    wins: f64,
    /// Children occupy `first_child .. first_child + children`; `children == 0` means unexpanded.
    first_child: u32,
    children: u32,
}

/// UCT with random rollouts.
#[derive(Debug, Clone)]
pub struct MctsAgent {
    config: MctsConfig,
    nodes: Vec<Node>,
    path: Vec<u32>,
    buffer: Vec<Action>,
    outcomes: Vec<(Action, f64)>,
}

impl MctsAgent {
    pub fn new(config: MctsConfig) -> Self {
        MctsAgent { config, nodes: Vec::new(), path: Vec::new(), buffer: Vec::new(), outcomes: Vec::new() }
    }

    pub fn config(&self) -> &MctsConfig {
        &self.config
    }

    /// Runs the search from `root` and returns the root's children as (action, visits, mean value).
    pub fn search(&mut self, root: &dyn State, players: usize, rng: &mut impl Rng) -> Vec<(Action, u32, f64)> {
        // Without a deadline the search cannot time out.
        self.search_until(root, players, rng, None).unwrap_or_default()
    }

    /// [`MctsAgent::search`] that gives up with the deadline's [`AgentError::Timeout`] once
    /// `deadline` has passed (looked at every [`DEADLINE_CHECK_INTERVAL`] simulations, the first
    /// time before the first simulation).
    pub fn search_until(
        &mut self,
        root: &dyn State,
        players: usize,
        rng: &mut impl Rng,
        deadline: Option<&Deadline>,
    ) -> Result<Vec<(Action, u32, f64)>, AgentError> {
        self.nodes.clear();
        self.nodes.push(Node {
            action: 0,
            mover: None,
            probability: 1.0,
            visits: 0,
            wins: 0.0,
            first_child: 0,
            children: 0,
        });
        let mut returns = vec![0.0; players];
        for simulation in 0..self.config.simulations.max(1) {
            if let Some(deadline) = deadline
                && simulation % DEADLINE_CHECK_INTERVAL == 0
            {
                deadline.check()?;
            }
            let mut state = root.clone_box();
            self.path.clear();
            self.path.push(0);
            let mut node = 0u32;
            // Selection and expansion: descend until a node that has not been visited yet.
            loop {
                if state.is_terminal() {
                    break;
                }
                if self.nodes[node as usize].children == 0 {
                    self.expand(node, state.as_ref());
                    if self.nodes[node as usize].visits > 0 || node == 0 {
                        // Expanded now: step into one child and roll out from there.
                        node = self.pick_child(node, state.as_ref(), rng);
                        state.apply_unchecked(self.nodes[node as usize].action);
                        self.path.push(node);
                    }
                    break;
                }
                node = self.pick_child(node, state.as_ref(), rng);
                state.apply_unchecked(self.nodes[node as usize].action);
                self.path.push(node);
            }
            // Rollout.
            games::playout::random_playout(state.as_mut(), rng, &mut self.buffer);
            for (p, r) in returns.iter_mut().enumerate() {
                *r = state.player_return(p);
            }
            // Backup: each node counts the return of the player who moved into it.
            for &n in &self.path {
                let node = &mut self.nodes[n as usize];
                node.visits += 1;
                if let Some(mover) = node.mover {
                    node.wins += (returns[mover] + 1.0) / 2.0;
                }
            }
        }
        let root = self.nodes[0];
        Ok((root.first_child..root.first_child + root.children)
            .map(|c| {
                let child = self.nodes[c as usize];
                let mean = if child.visits > 0 { child.wins / child.visits as f64 } else { 0.5 };
                (child.action, child.visits, 2.0 * mean - 1.0)
            })
            .collect())
    }

    fn expand(&mut self, node: u32, state: &dyn State) {
        let first = self.nodes.len() as u32;
        match state.turn() {
            Turn::Player(player) => {
                state.legal_actions(&mut self.buffer);
                for &action in &self.buffer {
                    self.nodes.push(Node {
                        action,
                        mover: Some(player),
                        probability: 1.0,
                        visits: 0,
                        wins: 0.0,
                        first_child: 0,
                        children: 0,
                    });
                }
            }
            Turn::Chance => {
                state.chance_outcomes(&mut self.outcomes);
                for &(action, probability) in &self.outcomes {
                    self.nodes.push(Node {
                        action,
                        mover: None,
                        probability,
                        visits: 0,
                        wins: 0.0,
                        first_child: 0,
                        children: 0,
                    });
                }
            }
            Turn::Terminal => return,
        }
        let count = self.nodes.len() as u32 - first;
        let parent = &mut self.nodes[node as usize];
        parent.first_child = first;
        parent.children = count;
    }

    /// UCB1 at player nodes (unvisited children first, in a random order); sampling at chance nodes.
    fn pick_child(&self, node: u32, state: &dyn State, rng: &mut impl Rng) -> u32 {
        let parent = self.nodes[node as usize];
        let children = parent.first_child..parent.first_child + parent.children;
        if state.turn() == Turn::Chance {
            let mut draw: f64 = rng.random();
            for c in children.clone() {
                draw -= self.nodes[c as usize].probability;
                if draw < 0.0 {
                    return c;
                }
            }
            return children.end - 1;
        }
        let unvisited = children.clone().filter(|&c| self.nodes[c as usize].visits == 0).count();
        if unvisited > 0 {
            let k = rng.random_range(0..unvisited);
            return children.filter(|&c| self.nodes[c as usize].visits == 0).nth(k).unwrap_or(parent.first_child);
        }
        let log_n = (parent.visits.max(1) as f64).ln();
        let mut best = parent.first_child;
        let mut best_score = f64::NEG_INFINITY;
        for c in children {
            let child = self.nodes[c as usize];
            let n = child.visits as f64;
            let score = child.wins / n + self.config.exploration * (log_n / n).sqrt();
            if score > best_score {
                best_score = score;
                best = c;
            }
        }
        best
    }
}

/// Why `mcts` cannot search `game`, if it cannot.
fn unsearchable(game: &dyn Game) -> AgentError {
    AgentError::NotSupported(format!(
        "mcts searches the full state, which {} hides (imperfect information); information-set MCTS is not supported yet",
        game.spec()
    ))
}

impl Agent for MctsAgent {
    fn check_seat(&self, game: &dyn Game, player: Player) -> Result<(), AgentError> {
        if game.facts().information != Information::Perfect {
            return Err(unsearchable(game));
        }
        crate::random::discrete_seat_only("mcts", game, player)
    }

    fn act(&mut self, view: &View<'_>, rng: &mut AgentRng) -> Result<Decision, AgentError> {
        let Some(state) = view.full_state() else {
            return Err(unsearchable(view.game()));
        };
        let deadline = Deadline::of(view);
        let mut search_rng = AgentRng::seed_from_u64(rng.next_u64() ^ games::playout::mix_seed(self.config.seed));
        let children = self.search_until(state, view.game().facts().players, &mut search_rng, deadline.as_ref())?;
        let total: u32 = children.iter().map(|c| c.1).sum();
        // Most visits; ties go to the better mean, then to the lowest action id.
        let best = children
            .iter()
            .copied()
            .max_by(|a, b| a.1.cmp(&b.1).then(a.2.total_cmp(&b.2)).then(b.0.cmp(&a.0)))
            .ok_or_else(|| AgentError::NotSupported("mcts found no legal move to search".to_string()))?;
        let value = children.iter().map(|c| c.1 as f64 * c.2).sum::<f64>() / total.max(1) as f64;
        Ok(Decision {
            reply: crate::agent::Reply::Action(best.0),
            policy: Some(children.iter().map(|&(a, n, _)| (a, n as f32 / total.max(1) as f32)).collect()),
            value: Some(value as f32),
            trace: None,
        })
    }
}
