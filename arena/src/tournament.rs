//! Tournaments: a config (game, agents, schedule, openings, seed), played in parallel with rayon,
//! stored as it goes, resumable after a kill, and summed into a [`Tally`].

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use agents::{Agent, load_agent};
use anyhow::{Context, Result, bail};
use games::{GameRef, load_game};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::openings::{OpeningSource, Openings};
use crate::runner::{EndReason, FaultKind, Keep, Limits, MatchResult, MatchScratch, MatchSetup, play_match_with};
use crate::schedule::{Pairing, ScheduleKind, ScheduleSpec, plan};
use crate::seeds::match_seed;
use crate::store::{AgentRow, ScheduledMatch, Store};
use crate::tally::{Tally, score_of_seat0};

/// An agent of a tournament: a display name and the spec that builds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentEntry {
    pub name: String,
    pub spec: String,
}

/// Everything that decides a tournament's games. Two runs with equal configs play the same games
/// (threads, the store and progress display are not part of it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TournamentConfig {
    /// The game spec, e.g. `connect_four`.
    pub game: String,
    /// Agent specs (`"random"`) or `{ name = "...", spec = "..." }` tables.
    #[serde(deserialize_with = "agent_entries")]
    pub agents: Vec<AgentEntry>,
    #[serde(default)]
    pub schedule: ScheduleKind,
    #[serde(default = "default_games_per_pairing")]
    pub games_per_pairing: u32,
    /// Swiss rounds (default ceil(log2(agents)) + 1).
    #[serde(default)]
    pub rounds: Option<u32>,
    #[serde(default)]
    pub openings: OpeningSource,
    #[serde(default)]
    pub seed: u64,
    /// Games reaching this many moves are stopped and scored as they stand (a draw in board games).
    #[serde(default)]
    pub max_moves: Option<usize>,
    /// A decision taking longer loses the game.
    #[serde(default)]
    pub time_per_move_ms: Option<u64>,
    /// What is kept of each game besides its result.
    #[serde(default)]
    pub keep: Keep,
    /// Agents for the judge seat of games that have one (debates): each game pair gets one, in turn.
    /// Judges are not rated with the players; they get a report of their own.
    #[serde(default, deserialize_with = "agent_entries", skip_serializing_if = "Vec::is_empty")]
    pub judges: Vec<AgentEntry>,
}

fn default_games_per_pairing() -> u32 {
    2
}

fn agent_entries<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<AgentEntry>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Entry {
        Spec(String),
        Named { name: String, spec: String },
    }
    let entries = Vec::<Entry>::deserialize(deserializer)?;
    let specs: Vec<(Option<String>, String)> = entries
        .into_iter()
        .map(|e| match e {
            Entry::Spec(spec) => (None, spec),
            Entry::Named { name, spec } => (Some(name), spec),
        })
        .collect();
    Ok(name_agents(specs))
}

/// Names agents: a given name, else the spec; repeated names get `#2`, `#3`, ...
pub fn name_agents(specs: Vec<(Option<String>, String)>) -> Vec<AgentEntry> {
    let mut entries: Vec<AgentEntry> = Vec::with_capacity(specs.len());
    for (name, spec) in specs {
        let base = name.unwrap_or_else(|| spec.clone());
        let mut name = base.clone();
        let mut k = 2;
        while entries.iter().any(|e| e.name == name) {
            name = format!("{base}#{k}");
            k += 1;
        }
        entries.push(AgentEntry { name, spec });
    }
    entries
}

impl TournamentConfig {
    /// Reads a TOML config file; errors name the file and the problem.
    pub fn from_toml_file(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read config {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("config {}", path.display()))
    }

    /// The canonical text stored with the tournament and compared on resume.
    pub fn canonical(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| unreachable!("a config always serializes: {e}"))
    }

    /// The judge (an index into `judges`) of a scheduled game: both games of a pair share one.
    pub fn judge_of(&self, pairing: &Pairing) -> Option<usize> {
        (!self.judges.is_empty()).then(|| (pairing.opening % self.judges.len() as u64) as usize)
    }

    fn limits(&self) -> Limits {
        Limits { max_moves: self.max_moves, time_per_move: self.time_per_move_ms.map(Duration::from_millis) }
    }
}

/// Looks at the tally after each batch of results; a reason stops the tournament early.
pub type StopRule = Box<dyn Fn(&Tally) -> Option<String> + Sync>;

/// Receives each chunk's (index, seat-0 score) pairs and tally; may stop the run with a reason.
type Collector<'a> = &'a mut dyn FnMut(&[(u64, f64)], Tally) -> Option<String>;

/// How to run a tournament (none of it changes the games).
#[derive(Default)]
pub struct RunOptions {
    /// Worker threads (each plays whole games).
    pub threads: usize,
    /// The store; `None` keeps results in memory only.
    pub db: Option<PathBuf>,
    /// Continue the unfinished tournament with the same config in `db`.
    pub resume: bool,
    /// Draw a progress bar on stderr.
    pub progress: bool,
    /// Checked after each batch of results; returning a reason stops the tournament early.
    pub stop_when: Option<StopRule>,
    /// Return every game's full result (at the config's `keep` level) in the outcome.
    pub collect_results: bool,
    /// With `resume`: start a new tournament in the store when none has this config (a store that
    /// holds many tournaments, like an evolve run's), instead of refusing.
    pub start_if_missing: bool,
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("threads", &self.threads)
            .field("db", &self.db)
            .field("resume", &self.resume)
            .finish()
    }
}

/// What a run produced.
#[derive(Debug)]
pub struct TournamentOutcome {
    pub names: Vec<String>,
    pub tally: Tally,
    /// The tournament's id in the store.
    pub tournament_id: Option<i64>,
    /// Games played by this run (a resumed run does not count the earlier ones).
    pub played_now: u64,
    pub seconds: f64,
    /// Why the run stopped before the schedule's end, if it did.
    pub stopped: Option<String>,
    /// With [`RunOptions::collect_results`]: the games this run played, by match index.
    pub results: Vec<(u64, MatchResult)>,
    /// The schedule as played (indexed by match index).
    pub planned: Vec<Pairing>,
}

impl TournamentOutcome {
    /// Games per second of this run.
    pub fn games_per_second(&self) -> f64 {
        self.played_now as f64 / self.seconds.max(1e-9)
    }
}

/// Builds, checks and plays a tournament.
pub fn run_tournament(config: &TournamentConfig, options: &RunOptions) -> Result<TournamentOutcome> {
    let game = load_game(&config.game).with_context(|| format!("game `{}`", config.game))?;
    check_seats(game.as_ref(), config)?;
    if config.agents.len() < 2 {
        bail!("a tournament needs at least two agents, got {}", config.agents.len());
    }
    if config.games_per_pairing == 0 {
        bail!("games_per_pairing must be at least 1");
    }
    for entry in &config.agents {
        load_agent(&entry.spec).with_context(|| format!("agent `{}`", entry.name))?;
    }
    for entry in &config.judges {
        load_agent(&entry.spec).with_context(|| format!("judge `{}`", entry.name))?;
    }
    let openings = Openings::resolve(&config.openings, game.as_ref(), config.seed)?;
    let spec = ScheduleSpec {
        kind: config.schedule,
        agents: config.agents.len(),
        games_per_pairing: config.games_per_pairing,
        rounds: config.rounds,
    };
    let names: Vec<String> = config.agents.iter().map(|a| a.name.clone()).collect();
    let threads = options.threads.max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("arena-worker-{i}"))
        .build()
        .context("cannot start worker threads")?;

    let (mut store, tournament_id) = open_store(config, options)?;
    let mut tally = Tally::new(config.agents.len());
    let mut scores: Vec<Option<f64>> = Vec::new();
    if let (Some(store), Some(id)) = (store.as_ref(), tournament_id) {
        for finished in store.finished(id)? {
            let index = finished.index as usize;
            if scores.len() <= index {
                scores.resize(index + 1, None);
            }
            scores[index] = Some(finished.score0);
        }
    }

    let started = Instant::now();
    let progress = progress_bar(options.progress);
    let mut played_now = 0;
    let mut stopped = None;
    let mut planned: Vec<Pairing> = Vec::new();
    let mut collected: Vec<(u64, MatchResult)> = Vec::new();
    loop {
        let next = plan(&spec, &scores);
        if next.len() < planned.len() || next[..planned.len()] != planned[..] {
            bail!("internal error: the schedule changed its earlier matches");
        }
        let new = &next[planned.len()..];
        if let (Some(store), Some(id)) = (store.as_mut(), tournament_id) {
            let rows: Vec<_> = new
                .iter()
                .enumerate()
                .map(|(k, pairing)| {
                    let index = (planned.len() + k) as u64;
                    ScheduledMatch {
                        index,
                        pairing: *pairing,
                        seed: match_seed(config.seed, index),
                        opening: openings.get(game.as_ref(), pairing.opening),
                        judge: config.judge_of(pairing),
                    }
                })
                .collect();
            store.schedule(id, &rows)?;
        }
        planned = next;
        scores.resize(planned.len().max(scores.len()), None);
        let pending: Vec<u64> = (0..planned.len() as u64).filter(|&i| scores[i as usize].is_none()).collect();
        progress.set_length(planned.len() as u64);
        progress.set_position(planned.len() as u64 - pending.len() as u64);
        if pending.is_empty() {
            break;
        }
        let batch = Batch {
            game: &game,
            config,
            planned: &planned,
            openings: &openings,
            keep_results: options.collect_results,
        };
        let round = batch.play(
            &pool,
            &pending,
            threads,
            store.as_mut().zip(tournament_id),
            &mut collected,
            &mut |results, chunk_tally| {
                for &(index, score) in results {
                    scores[index as usize] = Some(score);
                }
                played_now += results.len() as u64;
                tally.merge(chunk_tally);
                progress.set_position(progress.position() + results.len() as u64);
                let rate = played_now as f64 / started.elapsed().as_secs_f64().max(1e-9);
                progress.set_message(format!("{rate:.0} games/s"));
                options.stop_when.as_ref().and_then(|stop| stop(&tally))
            },
        )?;
        if let Some(reason) = round {
            stopped = Some(reason);
            break;
        }
    }
    progress.finish_and_clear();
    if let (Some(store), Some(id)) = (store.as_mut(), tournament_id) {
        // Resumed runs count the earlier games too.
        if played_now as usize != scores.iter().filter(|s| s.is_some()).count() {
            tally = tally_from_store(store, id, config.agents.len())?;
        }
        store.finish_tournament(id)?;
    }
    collected.sort_by_key(|(index, _)| *index);
    Ok(TournamentOutcome {
        names,
        tally,
        tournament_id,
        played_now,
        seconds: started.elapsed().as_secs_f64(),
        stopped,
        results: collected,
        planned,
    })
}

/// Two players, or two players and a judge seat (seat 2) that the config's judges fill.
fn check_seats(game: &dyn games::Game, config: &TournamentConfig) -> Result<()> {
    let players = game.facts().players;
    match (players, config.judges.is_empty()) {
        (2, true) | (3, false) => Ok(()),
        (2, false) => {
            bail!("{} has no judge seat; judges (--judge) are for games with one, such as debate", game.spec())
        }
        (3, true) => bail!(
            "{} has a judge seat (seat 2): name the agent that judges with --judge SPEC (or `judges` in the config), \
             or let the rules decide with judge=oracle",
            game.spec()
        ),
        _ => {
            bail!("tournaments of {players}-player games are not supported yet ({} has {players} players)", game.spec())
        }
    }
}

/// Sums every finished match of a stored tournament.
pub fn tally_from_store(store: &Store, tournament: i64, agents: usize) -> Result<Tally> {
    let mut tally = Tally::new(agents);
    for m in store.finished(tournament)? {
        if m.seats.iter().any(|&s| s >= agents) {
            bail!(
                "store {}: match {} seats agent {:?}, but the tournament has {agents}",
                store.path().display(),
                m.index,
                m.seats
            );
        }
        tally.add(m.seats, m.score0, &m.end_reason, m.fault_seat, m.pair);
    }
    Ok(tally)
}

fn open_store(config: &TournamentConfig, options: &RunOptions) -> Result<(Option<Store>, Option<i64>)> {
    let Some(path) = options.db.as_ref() else {
        if options.resume {
            bail!("--resume needs --db FILE: the results to resume from are in a store");
        }
        return Ok((None, None));
    };
    let mut store = Store::open(path)?;
    let canonical = config.canonical();
    let existing = store.tournaments()?;
    if options.resume {
        if let Some(found) = existing.iter().rev().find(|t| t.config == canonical) {
            return Ok((Some(store), Some(found.id)));
        }
        if let Some(other) = existing.last().filter(|_| !options.start_if_missing) {
            bail!(
                "--resume: store {} holds tournament {} ({}) with a different config; start a new store or run without --resume\nstored: {}\nasked:  {}",
                path.display(),
                other.id,
                other.game,
                other.config,
                canonical
            );
        }
    }
    let game = load_game(&config.game)?;
    let rows: Vec<AgentRow> = config
        .agents
        .iter()
        .map(|a| AgentRow { name: a.name.clone(), spec: a.spec.clone(), checkpoint_hash: None })
        .collect();
    let judges: Vec<AgentRow> = config
        .judges
        .iter()
        .map(|a| AgentRow { name: a.name.clone(), spec: a.spec.clone(), checkpoint_hash: None })
        .collect();
    let id = store.create_tournament_with_judges(&game.spec().to_string(), &canonical, &rows, &judges)?;
    Ok((Some(store), Some(id)))
}

fn progress_bar(show: bool) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(0);
    let style = indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} games  {msg}  ETA {eta}")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

/// The fixed inputs of one batch of matches.
struct Batch<'a> {
    game: &'a GameRef,
    config: &'a TournamentConfig,
    planned: &'a [Pairing],
    openings: &'a Openings,
    /// Whether the caller wants every result (besides the store, which gets them anyway).
    keep_results: bool,
}

/// Results of one chunk of matches, sent from a worker to the collector.
struct ChunkDone {
    scores: Vec<(u64, f64)>,
    results: Vec<(u64, MatchResult)>,
    tally: Tally,
    error: Option<String>,
}

impl Batch<'_> {
    /// Plays `pending` matches on `pool`; `collect` sees each chunk's scores and tally (after the
    /// chunk is stored) and may stop the run by returning a reason.
    fn play(
        &self,
        pool: &rayon::ThreadPool,
        pending: &[u64],
        threads: usize,
        mut store: Option<(&mut Store, i64)>,
        collected: &mut Vec<(u64, MatchResult)>,
        collect: Collector<'_>,
    ) -> Result<Option<String>> {
        // Chunks big enough to make the hand-off cheap, small enough to spread work and save often.
        let chunk = (pending.len() / (threads * 64)).clamp(1, 512);
        let stop = AtomicBool::new(false);
        let keep_results = store.is_some() || self.keep_results;
        let (sender, receiver) = crossbeam_channel::unbounded::<ChunkDone>();
        let mut outcome: Result<Option<String>> = Ok(None);
        std::thread::scope(|scope| {
            let stop = &stop;
            let worker = scope.spawn(move || {
                pool.install(|| {
                    pending.par_chunks(chunk).for_each_init(
                        || AgentSet::new(&self.config.agents, &self.config.judges),
                        |agents, indices| {
                            if stop.load(Ordering::Relaxed) {
                                return;
                            }
                            let done = self.play_chunk(agents, indices, keep_results);
                            let _ = sender.send(done);
                        },
                    )
                });
                drop(sender);
            });
            for done in receiver.iter() {
                if outcome.as_ref().is_ok_and(|o| o.is_none()) {
                    outcome = self.absorb(done, &mut store, collected, collect);
                    if !matches!(outcome, Ok(None)) {
                        stop.store(true, Ordering::Relaxed);
                    }
                }
            }
            let _ = worker.join();
        });
        outcome
    }

    fn absorb(
        &self,
        done: ChunkDone,
        store: &mut Option<(&mut Store, i64)>,
        collected: &mut Vec<(u64, MatchResult)>,
        collect: Collector<'_>,
    ) -> Result<Option<String>> {
        if let Some(error) = done.error {
            bail!(error);
        }
        if let Some((store, id)) = store.as_mut() {
            store.record(*id, &done.results)?;
        }
        let stop = collect(&done.scores, done.tally);
        if self.keep_results {
            collected.extend(done.results);
        }
        Ok(stop)
    }

    fn play_chunk(&self, agents: &mut AgentSet, indices: &[u64], keep_results: bool) -> ChunkDone {
        let mut done = ChunkDone {
            scores: Vec::with_capacity(indices.len()),
            results: Vec::new(),
            tally: Tally::new(self.config.agents.len()),
            error: None,
        };
        let keep = if keep_results { self.config.keep } else { Keep::Outcome };
        for &index in indices {
            let pairing = self.planned[index as usize];
            let opening = self.openings.get(self.game.as_ref(), pairing.opening);
            let setup = MatchSetup {
                game: self.game,
                seed: match_seed(self.config.seed, index),
                opening: &opening,
                limits: self.config.limits(),
                keep,
            };
            let result = match agents.play(&setup, pairing.seats, self.config.judge_of(&pairing)) {
                Ok(result) => result,
                Err(error) => {
                    done.error = Some(format!("match {index}: {error:#}"));
                    return done;
                }
            };
            let score = score_of_seat0(&result.returns);
            let fault_seat = match &result.end {
                EndReason::Fault { seat, .. } => Some(*seat),
                _ => None,
            };
            done.tally.add(pairing.seats, score, result.end.label(), fault_seat, pairing.opening);
            done.scores.push((index, score));
            if keep_results {
                done.results.push((index, result));
            }
        }
        done
    }
}

/// One worker's agents (the players, then the judges), built lazily from their specs; an agent
/// that crashed is rebuilt.
struct AgentSet {
    entries: Vec<AgentEntry>,
    players: usize,
    agents: Vec<Option<Box<dyn Agent>>>,
    scratch: MatchScratch,
}

impl AgentSet {
    fn new(players: &[AgentEntry], judges: &[AgentEntry]) -> Self {
        let entries: Vec<AgentEntry> = players.iter().chain(judges).cloned().collect();
        let agents = (0..entries.len()).map(|_| None).collect();
        AgentSet { entries, players: players.len(), agents, scratch: MatchScratch::default() }
    }

    fn take(&mut self, index: usize) -> Result<Box<dyn Agent>> {
        match self.agents[index].take() {
            Some(agent) => Ok(agent),
            None => {
                load_agent(&self.entries[index].spec).with_context(|| format!("agent `{}`", self.entries[index].name))
            }
        }
    }

    /// Plays one match: `seats` are player indices, `judge` an index into the judges.
    fn play(&mut self, setup: &MatchSetup<'_>, seats: [usize; 2], judge: Option<usize>) -> Result<MatchResult> {
        let judge = judge.map(|j| self.players + j);
        let mut first = self.take(seats[0])?;
        let mut second = self.take(seats[1])?;
        let mut third = judge.map(|index| self.take(index)).transpose()?;
        let result = match third.as_mut() {
            Some(judge) => {
                play_match_with(setup, &mut [first.as_mut(), second.as_mut(), judge.as_mut()], &mut self.scratch)
            }
            None => play_match_with(setup, &mut [first.as_mut(), second.as_mut()], &mut self.scratch),
        };
        let crashed = match &result {
            Ok(MatchResult { end: EndReason::Fault { seat, kind: FaultKind::Crash, .. }, .. }) => Some(*seat),
            _ => None,
        };
        // A crashed agent may be in any state: the next game gets a fresh one.
        if crashed != Some(0) {
            self.agents[seats[0]] = Some(first);
        }
        if crashed != Some(1) {
            self.agents[seats[1]] = Some(second);
        }
        if let (Some(index), Some(agent)) = (judge, third)
            && crashed != Some(2)
        {
            self.agents[index] = Some(agent);
        }
        Ok(result?)
    }
}
