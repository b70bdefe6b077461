//! PUCT search guided by a policy-value network (AlphaZero), and the `checkpoint` agent that
//! plays a saved network with it: `checkpoint(path=DIR, sims=N, temperature=T, c_puct=C,
//! noise=true|false, ...)`.
//!
//! The search needs the whole state ([`View::full_state`]), so it plays perfect-information,
//! two-player zero-sum games (the network's single value is the player to move's, the opponent's
//! is its negation). Priors come from the policy head, leaf values from the value head, terminal
//! positions from the game's returns (scaled to [-1, 1]); chance nodes are sampled by their
//! probabilities with the agent's RNG. Unvisited children count as a draw (value 0) in the
//! selection formula `Q + c_puct · P · sqrt(N_parent) / (1 + N_child)`.
//!
//! Each decision carries the root's visit distribution (the search-improved policy, the training
//! target) and the root value estimate for the player to move, in return units.
//!
//! With a deadline ([`View::deadline`]) the search looks at the clock every
//! [`DEADLINE_CHECK_INTERVAL`] simulations and answers [`AgentError::Timeout`] once it has passed;
//! the check draws nothing from the RNG, so a search that finishes in time is the same as without.
//!
//! The tree lives in one flat `Vec` of nodes whose children are contiguous; buffers are kept
//! between searches, so a search allocates only as its arena grows (one boxed state per expanded
//! node: the game API copies states only by `clone_box`).

use std::sync::Arc;

use games::{Action, Game, GameFacts, Information, ParamDef, ParamKind, Params, Player, State, Turn, Utility};
use rand::Rng;
use rand_distr::{Distribution, Gamma};

use crate::agent::{Agent, AgentError, AgentRng, Deadline, Decision, View};
use crate::checkpoint::{Checkpoint, SharedCheckpoint};
use crate::config::CheckpointAgentConfig;
use crate::evaluator::{DirectEvaluator, Evaluation, Evaluator, EvaluatorError, Position};
use crate::factory::AgentFactory;

/// Simulations between two looks at the clock when the search has a deadline (most simulations
/// evaluate a position with the network, which costs far more than a clock read).
pub const DEADLINE_CHECK_INTERVAL: usize = 4;

/// Dirichlet noise mixed into the root priors (self-play exploration).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RootNoise {
    /// The Dirichlet concentration (AlphaZero: 0.3 for chess, 0.03 for go; about 10 / typical
    /// number of legal moves).
    pub alpha: f64,
    /// The share of the prior replaced by noise.
    pub fraction: f32,
}

/// Playout cap randomisation (KataGo): most moves search only a few simulations, which makes
/// self-play games cheap, and a share of them search the full number, whose visit counts are the
/// only policy targets (a small search's visits are a poor target).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlayoutCap {
    pub fast_simulations: usize,
    /// The probability that a move gets the full search.
    pub full_search_share: f32,
}

/// How the search runs and how it picks its move.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PuctConfig {
    /// Simulations per move; 0 plays from the network's policy directly.
    pub simulations: usize,
    /// Exploration constant.
    pub c_puct: f32,
    /// 0: the most visited move (ties: the lowest action id); otherwise a move drawn with
    /// probability proportional to visits^(1/temperature) (priors^(1/temperature) when
    /// `simulations` is 0).
    pub temperature: f32,
    /// Plays with `temperature` only for this many plies from the start of the game, then picks
    /// the most visited move (AlphaZero's schedule: varied openings, sharp play after them).
    pub temperature_plies: Option<usize>,
    pub noise: Option<RootNoise>,
    /// Fast and full searches mixed; `None`: every move searches `simulations`.
    pub playout_cap: Option<PlayoutCap>,
    /// Keeps the subtree of the position reached two plies later (after the opponent's reply)
    /// and adds `simulations` to its visits, instead of starting each move from an empty tree.
    pub reuse_tree: bool,
    /// Each position the search expands (below the root) is first checked for a move that wins
    /// at once; where there is one, the position is valued as that win and searched no further.
    /// The network need not see the win, and a move that lets the opponent win next is refuted
    /// by the first simulation through it (MCTS-Solver's idea, one ply deep).
    pub win_check: bool,
    /// A value backed up from a leaf keeps `1 - discount` of itself per ply it climbs, so a win
    /// (or loss) found nearer counts more than one found further down: among winning moves the
    /// search prefers the quickest, among losing ones the slowest. 0: values back up unchanged.
    pub discount: f32,
}

impl Default for PuctConfig {
    fn default() -> Self {
        PuctConfig {
            simulations: 100,
            c_puct: 1.5,
            temperature: 0.0,
            temperature_plies: None,
            noise: None,
            playout_cap: None,
            reuse_tree: false,
            win_check: false,
            discount: 0.0,
        }
    }
}

/// What a node is, once expanded.
#[derive(Clone, Copy, Debug, PartialEq)]
enum NodeKind {
    /// Reached but not yet expanded (no state, no children).
    Unexpanded,
    /// A player is to move.
    Decision(Player),
    /// Chance is to move; children are the outcomes, priors their probabilities.
    Chance,
    /// The game is over, or (with the win check) the player to move wins at once; the value is
    /// player 0's scaled return.
    Terminal(f32),
}

/// One position in the tree, reached by `action` from its parent.
#[derive(Debug)]
struct Node {
    /// The position, kept once expanded (its children's states are made from it).
    state: Option<Box<dyn State>>,
    action: Action,
    prior: f32,
    visits: u32,
    /// Sum of backed-up values, from player 0's point of view.
    value_sum: f32,
    first_child: u32,
    child_count: u32,
    kind: NodeKind,
}

impl Node {
    fn new(action: Action, prior: f32) -> Self {
        Node {
            state: None,
            action,
            prior,
            visits: 0,
            value_sum: 0.0,
            first_child: 0,
            child_count: 0,
            kind: NodeKind::Unexpanded,
        }
    }

    fn children(&self) -> std::ops::Range<usize> {
        self.first_child as usize..(self.first_child + self.child_count) as usize
    }
}

/// The outcome of one search.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchResult {
    pub action: Action,
    /// Visit shares of the legal actions (the priors when no simulations ran), increasing action order.
    pub policy: Vec<(Action, f32)>,
    /// The root value for the player to move, in [-1, 1].
    pub value: f32,
    /// The root's visits: the simulations run plus those kept from the previous search (with
    /// `reuse_tree`) plus one for the root's own evaluation.
    pub root_visits: u32,
}

/// A PUCT search with its buffers, reused from move to move.
#[derive(Debug, Default)]
pub struct Search {
    nodes: Vec<Node>,
    path: Vec<u32>,
    observation: Vec<f32>,
    legal: Vec<Action>,
    outcomes: Vec<(Action, f64)>,
    evaluations: Vec<Evaluation>,
    weights: Vec<f64>,
    /// The moves from the start of the game to the root of the tree in `nodes`, kept for the
    /// next search when tree reuse is on.
    kept_root: Option<Vec<Action>>,
    /// The previous node buffer, reused when a kept subtree is copied out.
    spare: Vec<Node>,
}

impl Search {
    /// Searches from `root` (a position where a player is to move) and picks a move.
    pub fn run(
        &mut self,
        root: &dyn State,
        facts: &GameFacts,
        evaluator: &mut dyn Evaluator,
        config: &PuctConfig,
        rng: &mut AgentRng,
    ) -> Result<SearchResult, AgentError> {
        self.run_until(root, facts, evaluator, config, rng, None)
    }

    /// [`Search::run`] that gives up with the deadline's [`AgentError::Timeout`] once `deadline`
    /// has passed (looked at every [`DEADLINE_CHECK_INTERVAL`] simulations, the first time after
    /// the root's evaluation).
    pub fn run_until(
        &mut self,
        root: &dyn State,
        facts: &GameFacts,
        evaluator: &mut dyn Evaluator,
        config: &PuctConfig,
        rng: &mut AgentRng,
        deadline: Option<&Deadline>,
    ) -> Result<SearchResult, AgentError> {
        let Turn::Player(player) = root.turn() else {
            return Err(AgentError::Crashed("search asked to move where no player is to move".to_string()));
        };
        // The root's moves, only when a tree may be kept (reading the history allocates).
        let history: Option<Vec<Action>> = if config.reuse_tree {
            root.history()
                .iter()
                .map(|m| match m {
                    games::Move::Action(action) => Some(*action),
                    games::Move::Text(_) => None,
                })
                .collect()
        } else {
            None
        };
        let kept = self.kept_root.take();
        let reused = config.reuse_tree && matches!((&kept, &history), (Some(k), Some(h)) if self.reroot(k, h));
        if !reused {
            self.nodes.clear();
            let mut root_node = Node::new(0, 1.0);
            root_node.state = Some(root.clone_box());
            self.nodes.push(root_node);
            // The root is never collapsed by the win check: it needs its children to choose from.
            let root_value = self.expand(0, 0, facts, evaluator, false)?.unwrap_or(0.0);
            self.nodes[0].visits = 1;
            self.nodes[0].value_sum = root_value;
        }
        if config.reuse_tree {
            self.kept_root = history;
        }
        if let Some(noise) = config.noise {
            self.add_noise(noise, rng)?;
        }
        for simulation in 0..config.simulations {
            if let Some(deadline) = deadline
                && simulation % DEADLINE_CHECK_INTERVAL == 0
            {
                deadline.check()?;
            }
            self.simulate(facts, evaluator, config, rng)?;
        }

        let root = &self.nodes[0];
        let children = root.children();
        let searched = config.simulations > 0;
        let share = |node: &Node| if searched { node.visits as f64 } else { node.prior as f64 };
        let total: f64 = self.nodes[children.clone()].iter().map(share).sum();
        let policy = self.nodes[children.clone()]
            .iter()
            .map(|child| (child.action, if total > 0.0 { (share(child) / total) as f32 } else { 0.0 }))
            .collect();
        let sign = if player == 0 { 1.0 } else { -1.0 };
        let value = sign * root.value_sum / root.visits.max(1) as f32;

        self.weights.clear();
        self.weights.extend(self.nodes[children.clone()].iter().map(share));
        let chosen = choose(&self.weights, config.temperature, rng);
        Ok(SearchResult { action: self.nodes[children.start + chosen].action, policy, value, root_visits: root.visits })
    }

    /// Forgets the kept tree (a new game starts).
    pub fn forget(&mut self) {
        self.kept_root = None;
    }

    /// Makes the node reached from the kept root by the moves that followed it (`history` past
    /// `kept`) the new root, keeping its subtree; false (and nothing changed) when the moves do
    /// not continue the kept root's game or lead outside the expanded tree.
    fn reroot(&mut self, kept: &[Action], history: &[Action]) -> bool {
        if self.nodes.is_empty() || history.len() <= kept.len() || !history.starts_with(kept) {
            return false;
        }
        let mut node = 0usize;
        for &action in &history[kept.len()..] {
            let found = self.nodes[node].children().find(|&child| self.nodes[child].action == action);
            match found {
                Some(child) => node = child,
                None => return false,
            }
        }
        if !matches!(self.nodes[node].kind, NodeKind::Decision(_)) || self.nodes[node].state.is_none() {
            return false;
        }
        // Copy the subtree out breadth-first, so every node's children stay contiguous.
        let mut old = std::mem::take(&mut self.nodes);
        let mut new = std::mem::take(&mut self.spare);
        new.clear();
        new.push(std::mem::replace(&mut old[node], Node::new(0, 0.0)));
        let mut next = 0;
        while next < new.len() {
            let children = new[next].children();
            new[next].first_child = new.len() as u32;
            for child in children {
                new.push(std::mem::replace(&mut old[child], Node::new(0, 0.0)));
            }
            next += 1;
        }
        old.clear();
        self.spare = old;
        self.nodes = new;
        true
    }

    /// One simulation: select down the tree, expand and evaluate a leaf, back the value up.
    fn simulate(
        &mut self,
        facts: &GameFacts,
        evaluator: &mut dyn Evaluator,
        config: &PuctConfig,
        rng: &mut AgentRng,
    ) -> Result<(), AgentError> {
        self.path.clear();
        self.path.push(0);
        let mut node = 0usize;
        let value = loop {
            node = match self.nodes[node].kind {
                NodeKind::Terminal(value) => break value,
                NodeKind::Decision(player) => self.select(node, player, config.c_puct),
                NodeKind::Chance => self.sample_outcome(node, rng)?,
                NodeKind::Unexpanded => {
                    return Err(AgentError::Crashed("search reached an unexpanded interior node".to_string()));
                }
            };
            let parent = self.path[self.path.len() - 1] as usize;
            self.path.push(node as u32);
            if self.nodes[node].kind == NodeKind::Unexpanded
                && let Some(value) = self.expand(node, parent, facts, evaluator, config.win_check)?
            {
                break value;
            }
            // A chance node was just expanded: descend through it.
        };
        let keep = 1.0 - config.discount;
        let mut value = value;
        for &index in self.path.iter().rev() {
            let node = &mut self.nodes[index as usize];
            node.visits += 1;
            node.value_sum += value;
            value *= keep;
        }
        Ok(())
    }

    /// The child of `node` (where `player` moves) with the highest PUCT score; ties go to the
    /// lowest action.
    fn select(&self, node: usize, player: Player, c_puct: f32) -> usize {
        let parent = &self.nodes[node];
        let exploration = c_puct * (parent.visits as f32).sqrt();
        let sign = if player == 0 { 1.0 } else { -1.0 };
        let mut best = parent.first_child as usize;
        let mut best_score = f32::NEG_INFINITY;
        for index in parent.children() {
            let child = &self.nodes[index];
            let q = if child.visits > 0 { sign * child.value_sum / child.visits as f32 } else { 0.0 };
            let score = q + exploration * child.prior / (1 + child.visits) as f32;
            if score > best_score {
                best_score = score;
                best = index;
            }
        }
        best
    }

    /// A chance outcome of `node`, drawn by probability.
    fn sample_outcome(&self, node: usize, rng: &mut AgentRng) -> Result<usize, AgentError> {
        let children = self.nodes[node].children();
        if children.is_empty() {
            return Err(AgentError::Crashed("a chance node has no outcomes".to_string()));
        }
        let mut draw: f32 = rng.random();
        for index in children.clone() {
            draw -= self.nodes[index].prior;
            if draw < 0.0 {
                return Ok(index);
            }
        }
        // Rounding left a sliver past the last outcome.
        Ok(children.end - 1)
    }

    /// Makes the state of `node` (from its `parent`'s), adds its children, and returns its value
    /// for player 0 — `None` for a chance node, which has no value of its own. With `win_check`, a
    /// position whose player to move wins at once becomes a terminal node of that win.
    fn expand(
        &mut self,
        node: usize,
        parent: usize,
        facts: &GameFacts,
        evaluator: &mut dyn Evaluator,
        win_check: bool,
    ) -> Result<Option<f32>, AgentError> {
        if self.nodes[node].state.is_none() {
            let mut state = match self.nodes[parent].state.as_ref() {
                Some(state) => state.clone_box(),
                None => {
                    return Err(AgentError::Crashed("search expanded a node whose parent has no state".to_string()));
                }
            };
            state.apply_unchecked(self.nodes[node].action);
            self.nodes[node].state = Some(state);
        }
        let first_child = self.nodes.len() as u32;
        let Some(state) = self.nodes[node].state.as_deref() else {
            return Err(AgentError::Crashed("search lost a node's state".to_string()));
        };
        let (kind, value) = match state.turn() {
            Turn::Terminal => {
                let value = scaled_return(facts, state.player_return(0));
                (NodeKind::Terminal(value), Some(value))
            }
            Turn::Chance => {
                state.chance_outcomes(&mut self.outcomes);
                for &(action, probability) in &self.outcomes {
                    self.nodes.push(Node::new(action, probability as f32));
                }
                (NodeKind::Chance, None)
            }
            Turn::Player(player) => {
                state.legal_actions(&mut self.legal);
                if self.legal.is_empty() {
                    return Err(AgentError::NotSupported(
                        "this position takes free text; PUCT needs discrete actions".to_string(),
                    ));
                }
                if win_check && let Some(value) = immediate_win(state, player, &self.legal, facts) {
                    self.nodes[node].kind = NodeKind::Terminal(value);
                    return Ok(Some(value));
                }
                self.observation.resize(facts.observation_size(), 0.0);
                state.observation_tensor(player, &mut self.observation);
                let position = Position { observation: &self.observation, legal: &self.legal };
                evaluator
                    .evaluate(std::slice::from_ref(&position), &mut self.evaluations)
                    .map_err(|e| AgentError::Crashed(e.to_string()))?;
                let evaluation = &self.evaluations[0];
                for (&action, &prior) in self.legal.iter().zip(&evaluation.priors) {
                    self.nodes.push(Node::new(action, prior));
                }
                let value = if player == 0 { evaluation.value } else { -evaluation.value };
                (NodeKind::Decision(player), Some(value))
            }
        };
        let child_count = self.nodes.len() as u32 - first_child;
        let expanded = &mut self.nodes[node];
        expanded.kind = kind;
        expanded.first_child = first_child;
        expanded.child_count = child_count;
        Ok(value)
    }

    /// Mixes Dirichlet(alpha) noise into the root's priors.
    fn add_noise(&mut self, noise: RootNoise, rng: &mut AgentRng) -> Result<(), AgentError> {
        let gamma = Gamma::new(noise.alpha, 1.0)
            .map_err(|e| AgentError::Crashed(format!("bad noise alpha {}: {e}", noise.alpha)))?;
        let children = self.nodes[0].children();
        self.weights.clear();
        self.weights.extend(children.clone().map(|_| gamma.sample(rng)));
        let sum: f64 = self.weights.iter().sum();
        // Gamma draws can all underflow to 0 for a tiny alpha: then there is no noise to mix.
        if sum > 0.0 {
            for (index, &draw) in children.zip(&self.weights) {
                let prior = &mut self.nodes[index].prior;
                *prior = (1.0 - noise.fraction) * *prior + noise.fraction * (draw / sum) as f32;
            }
        }
        Ok(())
    }
}

/// Player 0's scaled return after a move of `legal` with which `player` wins at once (its
/// greatest return, the game over), if there is one.
fn immediate_win(state: &dyn State, player: Player, legal: &[Action], facts: &GameFacts) -> Option<f32> {
    legal.iter().find_map(|&action| {
        let mut after = state.clone_box();
        after.apply_unchecked(action);
        (after.is_terminal() && after.player_return(player) >= facts.max_return)
            .then(|| scaled_return(facts, after.player_return(0)))
    })
}

/// Player 0's return scaled from the game's range to [-1, 1].
fn scaled_return(facts: &GameFacts, value: f64) -> f32 {
    let span = facts.max_return - facts.min_return;
    if span > 0.0 { (2.0 * (value - facts.min_return) / span - 1.0) as f32 } else { 0.0 }
}

/// A value in [-1, 1] back in the game's return units.
fn unscaled_return(facts: &GameFacts, value: f32) -> f32 {
    (facts.min_return + (value as f64 + 1.0) / 2.0 * (facts.max_return - facts.min_return)) as f32
}

/// An index into `weights`: the first largest at temperature 0, else drawn with probability
/// proportional to `(w / max w)^(1/temperature)`.
fn choose(weights: &[f64], temperature: f32, rng: &mut AgentRng) -> usize {
    let max = weights.iter().copied().fold(0.0, f64::max);
    let first_max = weights.iter().position(|&w| w == max).unwrap_or(0);
    if temperature <= 0.0 || max <= 0.0 {
        return first_max;
    }
    let exponent = 1.0 / temperature as f64;
    let total: f64 = weights.iter().map(|&w| (w / max).powf(exponent)).sum();
    let mut draw = rng.random::<f64>() * total;
    for (index, &w) in weights.iter().enumerate() {
        draw -= (w / max).powf(exponent);
        if draw < 0.0 {
            return index;
        }
    }
    first_max
}

/// An agent that plays by PUCT search over a network's evaluations.
#[derive(Debug)]
pub struct PuctAgent {
    /// The canonical spec of the game the network was made for.
    game: String,
    /// What the network is, for messages (e.g. `checkpoint runs/gen3`).
    label: String,
    evaluator: Box<dyn Evaluator>,
    config: PuctConfig,
    search: Search,
    /// The shared checkpoint this agent plays, when it was built from one.
    checkpoint: Option<Arc<SharedCheckpoint>>,
}

impl PuctAgent {
    /// An agent for `game` (a canonical spec) evaluating positions with `evaluator`.
    pub fn new(
        game: impl Into<String>,
        label: impl Into<String>,
        evaluator: Box<dyn Evaluator>,
        config: PuctConfig,
    ) -> Self {
        PuctAgent {
            game: game.into(),
            label: label.into(),
            evaluator,
            config,
            search: Search::default(),
            checkpoint: None,
        }
    }

    /// An agent playing `checkpoint`'s current weights (a frozen copy) with a direct evaluator.
    pub fn from_checkpoint(checkpoint: &Checkpoint, config: PuctConfig) -> Result<Self, EvaluatorError> {
        let network = Arc::new(checkpoint.network().inference()?);
        let label = format!("checkpoint {}", short_hash(checkpoint.hash()));
        Ok(PuctAgent::new(checkpoint.info().game.clone(), label, Box::new(DirectEvaluator::new(network)), config))
    }

    /// An agent playing a shared checkpoint (see [`AgentFactory::checkpoint`]) with a direct evaluator.
    pub fn from_shared(checkpoint: Arc<SharedCheckpoint>, config: PuctConfig) -> Self {
        let evaluator = Box::new(DirectEvaluator::new(checkpoint.network.clone()));
        let label = format!("checkpoint {}", checkpoint.dir.display());
        let mut agent = PuctAgent::new(checkpoint.info.game.clone(), label, evaluator, config);
        agent.checkpoint = Some(checkpoint);
        agent
    }

    pub fn config(&self) -> &PuctConfig {
        &self.config
    }

    /// The shared checkpoint this agent plays, when it was built from one.
    pub fn shared_checkpoint(&self) -> Option<&Arc<SharedCheckpoint>> {
        self.checkpoint.as_ref()
    }

    /// Whether this agent can play `game`: the network's game, perfect information, two players,
    /// zero-sum.
    fn check_game(&self, game: &dyn Game) -> Result<(), AgentError> {
        let facts = game.facts();
        let spec = game.spec().to_string();
        if spec != self.game {
            return Err(AgentError::NotSupported(format!("{} is for game `{}`, not `{spec}`", self.label, self.game)));
        }
        if facts.information != Information::Perfect {
            return Err(AgentError::NotSupported(format!(
                "PUCT search needs perfect information; `{}` has hidden information",
                facts.name
            )));
        }
        if facts.players != 2 || facts.utility != Utility::ZeroSum {
            return Err(AgentError::NotSupported(format!(
                "PUCT search here plays two-player zero-sum games; `{}` is not one",
                facts.name
            )));
        }
        Ok(())
    }
}

impl Agent for PuctAgent {
    fn check_seat(&self, game: &dyn Game, _player: Player) -> Result<(), AgentError> {
        self.check_game(game)
    }

    fn start(&mut self, game: &games::GameRef, _player: Player) -> Result<(), AgentError> {
        self.search.forget();
        self.check_game(game.as_ref())
    }

    fn act(&mut self, view: &View<'_>, rng: &mut AgentRng) -> Result<Decision, AgentError> {
        let deadline = Deadline::of(view);
        let game = view.game();
        self.check_game(game)?;
        let state = view.full_state().ok_or_else(|| {
            AgentError::NotSupported(format!(
                "PUCT search needs the full state; `{}` hides information",
                game.facts().name
            ))
        })?;
        let mut config = self.config;
        if config.temperature_plies.is_some_and(|plies| state.history().len() >= plies) {
            config.temperature = 0.0;
        }
        let mut full = true;
        if let Some(cap) = config.playout_cap {
            full = rng.random::<f32>() < cap.full_search_share;
            if !full {
                config.simulations = cap.fast_simulations;
                config.noise = None;
            }
        }
        let result =
            self.search.run_until(state, game.facts(), self.evaluator.as_mut(), &config, rng, deadline.as_ref())?;
        Ok(Decision {
            reply: crate::agent::Reply::Action(result.action),
            policy: full.then_some(result.policy),
            value: Some(unscaled_return(game.facts(), result.value)),
            trace: None,
        })
    }
}

/// The first 12 hex digits of a content hash.
pub fn short_hash(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}

/// The parameters of the `checkpoint` agent.
pub const CHECKPOINT_PARAMS: &[ParamDef] = &[
    ParamDef {
        name: "path",
        kind: ParamKind::Text,
        default: "",
        doc: "checkpoint directory (see `arena checkpoint init`)",
    },
    ParamDef {
        name: "sims",
        kind: ParamKind::Int { min: 0, max: 1_000_000_000 },
        default: "100",
        doc: "PUCT simulations per move (0: play the network's policy)",
    },
    ParamDef {
        name: "temperature",
        kind: ParamKind::Float { min: 0.0, max: 100.0 },
        default: "0",
        doc: "0: the most visited move; otherwise visits^(1/T) sampling",
    },
    ParamDef {
        name: "temperature_plies",
        kind: ParamKind::Int { min: 0, max: 1_000_000 },
        default: "0",
        doc: "use the temperature only for this many plies from the start (0: always)",
    },
    ParamDef {
        name: "c_puct",
        kind: ParamKind::Float { min: 0.0, max: 100.0 },
        default: "1.5",
        doc: "exploration constant",
    },
    ParamDef { name: "noise", kind: ParamKind::Bool, default: "false", doc: "Dirichlet noise on the root priors" },
    ParamDef {
        name: "noise_alpha",
        kind: ParamKind::Float { min: 0.001, max: 100.0 },
        default: "0.3",
        doc: "Dirichlet concentration of the root noise",
    },
    ParamDef {
        name: "noise_fraction",
        kind: ParamKind::Float { min: 0.0, max: 1.0 },
        default: "0.25",
        doc: "share of the root priors replaced by noise",
    },
    ParamDef {
        name: "fast_sims",
        kind: ParamKind::Int { min: 0, max: 1_000_000_000 },
        default: "0",
        doc: "playout cap randomisation: simulations of a fast move, which reports no policy (0: off)",
    },
    ParamDef {
        name: "full_search_share",
        kind: ParamKind::Float { min: 0.0, max: 1.0 },
        default: "0.25",
        doc: "with fast_sims: the probability that a move gets the full `sims` search",
    },
    ParamDef {
        name: "reuse",
        kind: ParamKind::Bool,
        default: "false",
        doc: "keep the searched subtree of the position two plies later for the next move",
    },
    ParamDef {
        name: "win_check",
        kind: ParamKind::Bool,
        default: "false",
        doc: "value a searched position exactly where the side to move wins at once (one-ply solver)",
    },
    ParamDef {
        name: "discount",
        kind: ParamKind::Float { min: 0.0, max: 0.5 },
        default: "0",
        doc: "share of a backed-up value lost per ply it climbs: quicker wins, slower losses (0: off)",
    },
];

/// Builds the `checkpoint` agent from its checked parameters: loads the checkpoint at `path`, or
/// shares the one `factory` already loaded.
pub fn create_checkpoint_agent(params: &Params, factory: &AgentFactory) -> Result<Box<dyn Agent>, crate::Error> {
    checkpoint_agent(&CheckpointAgentConfig::from_params(params)?, factory)
        .map(|agent| Box::new(agent) as Box<dyn Agent>)
}

/// Builds the `checkpoint` agent of `config` (its settings checked as a spec's would be), with the
/// checkpoint shared through `factory`. It evaluates positions in its own thread (the tournament
/// worker's).
pub fn checkpoint_agent(config: &CheckpointAgentConfig, factory: &AgentFactory) -> Result<PuctAgent, crate::Error> {
    config.validate()?;
    let path = config.path.display().to_string();
    let checkpoint = factory.checkpoint(&config.path).map_err(|e| {
        crate::Error::from(games::Error::BadParameter {
            owner: "agent `checkpoint`".to_string(),
            param: "path".to_string(),
            value: path.clone(),
            reason: e.to_string(),
        })
    })?;
    let mut agent = PuctAgent::from_shared(checkpoint, config.puct());
    agent.label = format!("checkpoint {path}");
    Ok(agent)
}
