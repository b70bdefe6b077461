//! Strength against the truth: position suites labelled by an exact solver. An agent is asked
//! for its move in each position (no games played) and scored by the share of optimal moves and
//! of moves that keep the position's game-theoretic value, with Wilson intervals, overall and per
//! stage; `make` writes a suite from varied games, every move's value recorded.
//!
//! A suite is JSON lines: `{"moves": "4 4 5", "best": ["3"], "values": {"1": -2, "3": 5, ...},
//! "stage": "plies 10-14", "id": "p17"}` (`values`, `stage` and `id` optional). Values are the
//! solver's scores for the player to move (higher is better; positive wins, 0 draws).

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use agents::{AgentConfig, AgentRng, Reply, View};
use games::solver::{ConnectFourSolver, SmallGameSolver, action_history};
use games::{Action, Game, GameRef, Move, State, Turn, apply_move_list};
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::engine::seeds::match_seed;
use crate::error::{Context, Error, Result, bail, read_text};
use crate::progress::Progress;
use crate::resources::Resources;

/// One line of a suite file as written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuiteLine {
    /// The moves from the start, as `arena show --moves` reads them.
    pub moves: String,
    /// The optimal moves.
    pub best: Vec<String>,
    /// Every legal move's value for the player to move, where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<BTreeMap<String, f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// A position of a suite, read and checked against the game.
#[derive(Debug)]
pub struct Position {
    /// The line number in the file (from 1).
    pub line: usize,
    pub id: String,
    pub stage: String,
    pub moves: String,
    pub state: Box<dyn State>,
    pub best: Vec<Action>,
    /// Each legal move's value, where the file gives them all.
    pub values: Option<BTreeMap<Action, f64>>,
}

/// Reads a suite for `game`; an error names the file, the line and the problem.
pub fn read_suite(path: &Path, game: &dyn Game) -> Result<Vec<Position>> {
    let text = read_text(path)?;
    let mut positions = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let number = number + 1;
        if line.trim().is_empty() {
            continue;
        }
        let at = || format!("suite {} line {number}", path.display());
        let parsed: SuiteLine = serde_json::from_str(line).with_context(at)?;
        positions.push(position(parsed, number, game).with_context(at)?);
    }
    if positions.is_empty() {
        bail!("suite {} holds no positions", path.display());
    }
    Ok(positions)
}

fn position(line: SuiteLine, number: usize, game: &dyn Game) -> Result<Position> {
    let mut state = game.new_initial_state();
    apply_move_list(state.as_mut(), &line.moves)?;
    if !matches!(state.turn(), Turn::Player(_)) {
        bail!(
            "the position after `{}` is not a player's decision (the game is over, or chance is to move)",
            line.moves
        );
    }
    let mut legal = Vec::new();
    state.legal_actions(&mut legal);
    let read = |text: &str, what: &str| -> Result<Action> {
        let action = state.parse_action(text).map_err(|e| Error::Invalid(format!("{what} `{text}`: {e}")))?;
        if !legal.contains(&action) {
            bail!("{what} `{text}` is not legal after `{}`", line.moves);
        }
        Ok(action)
    };
    if line.best.is_empty() {
        bail!("`best` is empty: give the optimal moves");
    }
    let best = line.best.iter().map(|m| read(m, "best move")).collect::<Result<Vec<_>>>()?;
    let values = match &line.values {
        None => None,
        Some(values) => {
            let mut read_values = BTreeMap::new();
            for (text, &value) in values {
                if !value.is_finite() {
                    bail!("the value of `{text}` is not a number");
                }
                read_values.insert(read(text, "move")?, value);
            }
            if read_values.len() != legal.len() {
                bail!(
                    "`values` gives {} of the {} legal moves; give every one or none",
                    read_values.len(),
                    legal.len()
                );
            }
            let top = read_values.values().copied().fold(f64::NEG_INFINITY, f64::max);
            if best.iter().any(|a| read_values.get(a) != Some(&top)) {
                bail!("`best` and `values` disagree: every best move must have the highest value");
            }
            Some(read_values)
        }
    };
    Ok(Position {
        line: number,
        id: line.id.unwrap_or_else(|| format!("line {number}")),
        stage: line.stage.unwrap_or_else(|| "all".to_string()),
        moves: line.moves,
        state,
        best,
        values,
    })
}

/// An agent's answer to one position.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Answer {
    pub id: String,
    pub stage: String,
    pub moves: String,
    /// The move it chose (its text), or `None` when it faulted.
    pub answer: Option<String>,
    pub optimal: bool,
    /// Whether the move keeps the position's value (win, draw or loss); `None` without values.
    pub keeps_value: Option<bool>,
    /// Why it gave no legal move, if it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
}

/// A share with its 95% Wilson interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Share {
    pub hits: u64,
    pub positions: u64,
    pub share: f64,
    pub low: f64,
    pub high: f64,
}

impl Share {
    /// `hits` of `positions`, with the interval.
    pub fn of(hits: u64, positions: u64) -> Share {
        let p = ratings::proportion::wilson(hits, positions, 0.95);
        Share { hits, positions, share: p.share, low: p.low, high: p.high }
    }
}

impl std::fmt::Display for Share {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.1}% [{:.1}, {:.1}] ({} of {})",
            100.0 * self.share,
            100.0 * self.low,
            100.0 * self.high,
            self.hits,
            self.positions
        )
    }
}

/// The scores of one group of positions (all of them, or one stage).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SuiteScore {
    pub stage: String,
    pub optimal: Share,
    /// Over the positions with every move's value.
    pub keeps_value: Option<Share>,
    /// Positions where the agent gave no legal move.
    pub faults: u64,
}

/// What a suite run measured.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SuiteReport {
    pub game: String,
    pub agent: String,
    pub overall: SuiteScore,
    pub stages: Vec<SuiteScore>,
    pub seconds: f64,
    pub threads: usize,
    #[serde(skip)]
    pub answers: Vec<Answer>,
}

fn score(stage: &str, answers: &[&Answer]) -> SuiteScore {
    let n = answers.len() as u64;
    let optimal = answers.iter().filter(|a| a.optimal).count() as u64;
    let valued: Vec<bool> = answers.iter().filter_map(|a| a.keeps_value).collect();
    SuiteScore {
        stage: stage.to_string(),
        optimal: Share::of(optimal, n),
        keeps_value: (!valued.is_empty())
            .then(|| Share::of(valued.iter().filter(|&&k| k).count() as u64, valued.len() as u64)),
        faults: answers.iter().filter(|a| a.fault.is_some()).count() as u64,
    }
}

/// Asks `agent` for its move in every position, `threads` positions at a time; each position's
/// agent RNG is seeded from `seed` and the position's number, so the answers do not depend on the
/// thread count.
pub fn run_suite(
    game: &GameRef,
    positions: &[Position],
    agent: &AgentConfig,
    resources: &Resources,
    threads: usize,
    seed: u64,
    progress: &dyn Progress,
) -> Result<SuiteReport> {
    // Built once first: a bad spec or an agent that cannot play the game fails before any work.
    let seats: Vec<usize> = (0..game.facts().players).collect();
    resources.check_agent(agent, game.as_ref(), &seats).with_context(|| format!("agent `{agent}`"))?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()
        .map_err(|e| Error::Invalid(format!("cannot start {threads} worker threads: {e}")))?;
    let started = std::time::Instant::now();
    progress.begin("positions", positions.len() as u64);
    let done = std::sync::atomic::AtomicU64::new(0);
    let answers: Vec<Result<Answer>> = pool.install(|| {
        positions
            .par_iter()
            .enumerate()
            .map_init(
                || resources.build_agent(agent),
                |built, (index, position)| {
                    let built = built.as_mut().map_err(|e| Error::Invalid(format!("agent `{agent}`: {e}")))?;
                    let answer = answer(built.as_mut(), game, position, match_seed(seed, index as u64));
                    let finished = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                    if finished.is_multiple_of(16) {
                        progress.set_done(finished);
                    }
                    Ok(answer)
                },
            )
            .collect()
    });
    progress.set_done(positions.len() as u64);
    progress.end();
    let answers = answers.into_iter().collect::<Result<Vec<_>>>()?;
    let all: Vec<&Answer> = answers.iter().collect();
    let mut stage_names: Vec<&str> = answers.iter().map(|a| a.stage.as_str()).collect();
    stage_names.sort_unstable();
    stage_names.dedup();
    let stages = stage_names
        .iter()
        .map(|stage| score(stage, &answers.iter().filter(|a| a.stage == *stage).collect::<Vec<_>>()))
        .collect();
    Ok(SuiteReport {
        game: game.spec().to_string(),
        agent: agent.to_string(),
        overall: score("all", &all),
        stages,
        seconds: started.elapsed().as_secs_f64(),
        threads,
        answers,
    })
}

/// One position put to the agent.
fn answer(agent: &mut dyn agents::Agent, game: &GameRef, position: &Position, seed: u64) -> Answer {
    let state = position.state.as_ref();
    // Checked when read: every position is a player's decision.
    let player = match state.turn() {
        Turn::Player(player) => player,
        _ => 0,
    };
    let mut legal = Vec::new();
    state.legal_actions(&mut legal);
    let mut rng = AgentRng::seed_from_u64(seed);
    let chosen = agent.start(game, player).and_then(|()| {
        let view = View::new(game.as_ref(), state, player, &legal);
        agent.act(&view, &mut rng)
    });
    let action = match chosen {
        Ok(decision) => match decision.reply {
            Reply::Action(action) if legal.contains(&action) => Ok(action),
            Reply::Action(action) => Err(format!("illegal move {}", state.action_to_string(action))),
            Reply::Text(text) => match state.parse_action(&text) {
                Ok(action) if legal.contains(&action) => Ok(action),
                Ok(action) => Err(format!("illegal move {}", state.action_to_string(action))),
                Err(e) => Err(e.to_string()),
            },
        },
        Err(e) => Err(e.to_string()),
    };
    agent.finish(&vec![0.0; game.facts().players]);
    let best_value = position.values.as_ref().and_then(|v| position.best.first().and_then(|b| v.get(b)).copied());
    match action {
        Ok(action) => Answer {
            id: position.id.clone(),
            stage: position.stage.clone(),
            moves: position.moves.clone(),
            answer: Some(state.action_to_string(action)),
            optimal: position.best.contains(&action),
            keeps_value: position
                .values
                .as_ref()
                .zip(best_value)
                .map(|(values, best)| values.get(&action).is_some_and(|&v| v.signum() == best.signum())),
            fault: None,
        },
        Err(fault) => Answer {
            id: position.id.clone(),
            stage: position.stage.clone(),
            moves: position.moves.clone(),
            answer: None,
            optimal: false,
            keeps_value: position.values.as_ref().map(|_| false),
            fault: Some(crate::engine::runner::bounded_detail(fault)),
        },
    }
}

/// How `make` draws its positions.
#[derive(Clone, Debug)]
pub struct MakeOptions {
    pub positions: usize,
    /// Plies from the start, inclusive.
    pub plies: (usize, usize),
    pub seed: u64,
    /// Positions labelled at once; the suite is the same for any number.
    pub threads: usize,
}

/// Each legal move's exact value for the player to move, from the game's solver.
enum Labeller {
    ConnectFour(Box<ConnectFourSolver>),
    Small(SmallGameSolver),
}

impl Labeller {
    fn for_game(game: &dyn Game) -> Result<Labeller> {
        match game.facts().name {
            "connect_four" => ConnectFourSolver::for_game(game)
                .map(|s| Labeller::ConnectFour(Box::new(s)))
                .ok_or_else(|| Error::Invalid(format!("no solver for {}", game.spec()))),
            "tic_tac_toe" => Ok(Labeller::Small(SmallGameSolver::new())),
            name => bail!("suite make needs an exact solver, and `{name}` has none yet (connect_four, tic_tac_toe)"),
        }
    }

    fn values(&mut self, state: &dyn State, legal: &[Action]) -> Result<Vec<(Action, f64)>> {
        match self {
            Labeller::ConnectFour(solver) => {
                let history = action_history(state);
                let scores = solver.move_scores(&history, None)?;
                Ok(legal
                    .iter()
                    .filter_map(|&a| scores.get(a as usize).copied().flatten().map(|s| (a, f64::from(s))))
                    .collect())
            }
            Labeller::Small(solver) => {
                let Turn::Player(player) = state.turn() else { return Ok(Vec::new()) };
                legal
                    .iter()
                    .map(|&a| {
                        solver
                            .after(state, a, player)
                            .map(|v| (a, v))
                            .ok_or_else(|| Error::Invalid("the solver cannot value this position".to_string()))
                    })
                    .collect()
            }
        }
    }
}

/// Writes a solver-labelled suite: positions from varied games (each move random with
/// probability one half, else the best move of a shallow solver search, so both sensible and
/// odd positions appear), at plies drawn evenly from the range, without duplicates (a position
/// and its mirror image count as one), skipping positions where the game is decided by a move
/// that wins at once. The positions are chosen first, in order from the seed, then labelled on
/// `threads` threads. Returns the lines; `progress` counts positions labelled.
pub fn make_suite(game: &GameRef, options: &MakeOptions, progress: &dyn Progress) -> Result<Vec<SuiteLine>> {
    let (low, high) = options.plies;
    if low > high {
        bail!("--plies {low}..{high}: the first ply is after the last");
    }
    if options.positions == 0 {
        bail!("--positions must be at least 1");
    }
    // A game without a solver is refused before any work.
    Labeller::for_game(game.as_ref())?;
    let candidates = choose_positions(game, options)?;
    let labels = label_positions(game, &candidates, options.threads, progress)?;
    let mut lines = Vec::with_capacity(candidates.len());
    // Move texts are read from the start position (a move's text does not depend on the position).
    let start = game.new_initial_state();
    for ((state, target), values) in candidates.iter().zip(labels) {
        let top = values.iter().map(|&(_, v)| v).fold(f64::NEG_INFINITY, f64::max);
        let moves: Vec<String> = state
            .history()
            .iter()
            .map(|m| match m {
                Move::Action(a) => start.action_to_string(*a),
                Move::Text(t) => t.clone(),
            })
            .collect();
        let best: Vec<String> =
            values.iter().filter(|&&(_, v)| v == top).map(|&(a, _)| state.action_to_string(a)).collect();
        let bucket = low + (target - low) / 5 * 5;
        lines.push(SuiteLine {
            moves: moves.join(" "),
            best,
            values: Some(values.iter().map(|&(a, v)| (state.action_to_string(a), v)).collect()),
            stage: Some(format!("plies {bucket}-{}", (bucket + 4).min(high))),
            id: Some(format!("p{}", lines.len() + 1)),
        });
    }
    Ok(lines)
}

/// The suite's positions with the ply each was drawn for, in the order the seed gives them.
fn choose_positions(game: &GameRef, options: &MakeOptions) -> Result<Vec<(Box<dyn State>, usize)>> {
    let (low, high) = options.plies;
    let mut guide = ConnectFourSolver::for_game(game.as_ref());
    let mut rng = AgentRng::seed_from_u64(options.seed);
    let mut seen: HashSet<String> = HashSet::new();
    let mut chosen = Vec::new();
    let mut attempts = 0usize;
    while chosen.len() < options.positions {
        attempts += 1;
        if attempts > options.positions * 200 + 1000 {
            bail!(
                "found only {} distinct positions at plies {low}..{high} after {attempts} games; ask for fewer or widen --plies",
                chosen.len()
            );
        }
        let target = rng.random_range(low..=high);
        let mut state = game.new_initial_state();
        let mut legal = Vec::new();
        let mut alive = true;
        while state.history().len() < target {
            state.legal_actions(&mut legal);
            if legal.is_empty() || !matches!(state.turn(), Turn::Player(_)) {
                alive = false;
                break;
            }
            let action = match guide.as_mut() {
                Some(solver) if rng.random_bool(0.5) => {
                    let history = action_history(state.as_ref());
                    let scores = solver.move_scores(&history, Some(4))?;
                    let best = legal.iter().filter_map(|&a| scores[a as usize]).max().unwrap_or(0);
                    let choices: Vec<Action> =
                        legal.iter().copied().filter(|&a| scores[a as usize] == Some(best)).collect();
                    choices[rng.random_range(0..choices.len())]
                }
                _ => legal[rng.random_range(0..legal.len())],
            };
            state.apply(action)?;
        }
        if !alive || !matches!(state.turn(), Turn::Player(_)) {
            continue;
        }
        state.legal_actions(&mut legal);
        // A move that wins at once says little about strength.
        let wins_at_once = legal.iter().any(|&a| {
            let mut child = state.clone_box();
            child.apply(a).is_ok() && child.is_terminal() && child.player_return(state.history().len() % 2) > 0.0
        });
        if legal.is_empty() || wins_at_once {
            continue;
        }
        // The board without its column labels, and its mirror image (a position that is its own
        // mirror image is no duplicate).
        let board: Vec<String> =
            state.render().lines().filter(|l| !l.chars().all(|c| c.is_ascii_digit())).map(str::to_string).collect();
        let key = board.join("\n");
        let mirror = board.iter().map(|l| l.chars().rev().collect::<String>()).collect::<Vec<_>>().join("\n");
        if seen.contains(&mirror) || !seen.insert(key) {
            continue;
        }
        chosen.push((state, target));
    }
    Ok(chosen)
}

/// Each legal move of a position with its exact value.
type MoveValues = Vec<(Action, f64)>;

/// Every legal move's exact value in each position, labelled on `threads` threads that each keep
/// one solver (its table of bounds stays warm from position to position; values are exact
/// whatever it holds, so they do not depend on which thread labels what).
fn label_positions(
    game: &GameRef,
    positions: &[(Box<dyn State>, usize)],
    threads: usize,
    progress: &dyn Progress,
) -> Result<Vec<MoveValues>> {
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
    progress.begin("positions", positions.len() as u64);
    let next = AtomicUsize::new(0);
    let done = AtomicU64::new(0);
    let label = || -> Result<Vec<(usize, MoveValues)>> {
        let mut labeller = Labeller::for_game(game.as_ref())?;
        let mut legal = Vec::new();
        let mut labelled = Vec::new();
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some((state, _)) = positions.get(index) else { break };
            state.legal_actions(&mut legal);
            let values = labeller.values(state.as_ref(), &legal)?;
            if values.is_empty() {
                bail!("the solver gave no values for the position after `{}`", state.render());
            }
            labelled.push((index, values));
            progress.set_done(done.fetch_add(1, Ordering::Relaxed) + 1);
        }
        Ok(labelled)
    };
    let per_thread: Vec<Result<Vec<(usize, MoveValues)>>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.clamp(1, positions.len().max(1))).map(|_| scope.spawn(label)).collect();
        workers
            .into_iter()
            .map(|worker| {
                worker.join().unwrap_or_else(|_| Err(Error::Invalid("a labelling thread panicked".to_string())))
            })
            .collect()
    });
    progress.end();
    let mut labels: Vec<MoveValues> = vec![Vec::new(); positions.len()];
    for (index, values) in per_thread.into_iter().collect::<Result<Vec<_>>>()?.into_iter().flatten() {
        labels[index] = values;
    }
    Ok(labels)
}
