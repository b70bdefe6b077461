//! Playing a shared store's matches under leases: `arena worker` processes (and a tournament's
//! own process) claim batches of scheduled matches, play them with the tournament's stored config
//! and the match's stored seed, opening and seats, and write each batch in one transaction. A
//! heartbeat thread keeps the leases alive; a worker that dies stops renewing them and its
//! matches go to others. Every file the tournament's game and agents read (checkpoints, language
//! models, data) is used only with the SHA-256 the tournament was planned with (see `content`).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use games::GameRef;
use rayon::prelude::*;

use super::TournamentConfig;
use super::content::{legacy_files, localize};
use super::workers::{AgentSet, Played};
use crate::engine::runner::{AwaitedMatch, MatchError, MatchResult, MatchSetup};
use crate::error::{Context, Error, Result, bail};
use crate::progress::Progress;
use crate::resources::Resources;
use crate::store::{Claim, RecordOutcome, Store, StoreLocation};

/// Claimed matches played: the finished ones, those that wait for a person's decision, and those
/// the game's own program could not play (with the message).
/// One claimed match played: finished or awaited, or the message of a game that could not play it.
type ClaimOutcome = std::result::Result<Played, String>;

#[derive(Default)]
struct ClaimsPlayed {
    finished: Vec<(u64, MatchResult)>,
    awaited: Vec<(u64, AwaitedMatch)>,
    broken: Vec<(u64, String)>,
}

/// How a process takes part in playing a shared store's matches.
#[derive(Clone, Debug)]
pub struct LeaseSettings {
    /// Shown in the store (who played each match) and in logs.
    pub name: String,
    /// Game threads.
    pub threads: usize,
    /// Matches claimed at once; `None` sizes each claim to about [`BATCH_SECONDS`] of play
    /// from the games so far.
    pub batch: Option<usize>,
    /// How long a claimed match stays leased without a heartbeat.
    pub lease: Duration,
    /// Where copies fetched from the store (checkpoints, models, data) are kept, one folder per hash.
    pub checkpoint_cache: PathBuf,
}

impl LeaseSettings {
    /// A worker named `name` (default: the host name and process id) with `threads` game threads,
    /// claiming `batch` matches at a time (default: sized by time) under a 60-second lease.
    pub fn new(name: Option<String>, threads: usize, batch: Option<usize>) -> Self {
        let threads = threads.max(1);
        let name = name.unwrap_or_else(|| format!("{}-{}", host_name(), std::process::id()));
        LeaseSettings {
            name,
            threads,
            batch: batch.map(|b| b.max(1)),
            lease: Duration::from_secs(60),
            checkpoint_cache: default_cache().join("checkpoints"),
        }
    }
}

/// `ARENA_CACHE`, else `~/.cache/arena` (where the model fetch step keeps models too).
fn default_cache() -> PathBuf {
    match std::env::var_os("ARENA_CACHE") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => std::env::var_os("HOME")
            .map_or_else(|| PathBuf::from(".cache/arena"), |home| PathBuf::from(home).join(".cache/arena")),
    }
}

fn host_name() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "worker".to_string())
}

/// The play time an adaptive claim aims at: long enough that claiming and committing (a few
/// milliseconds with the server's disk flush) cost little, short enough that a dead worker's
/// batch is little to replay and every worker gets a share of a small tournament.
pub const BATCH_SECONDS: f64 = 2.0;
/// The most matches claimed at once.
const MOST_PER_BATCH: usize = 4096;

/// What one claim-play-record round did.
#[derive(Debug, Default)]
pub struct BatchReport {
    pub claimed: usize,
    /// Time spent in the store claiming and recording (not playing).
    pub store_seconds: f64,
    pub outcome: RecordOutcome,
    /// Tournaments this process will not play, with the reason (a checkpoint whose weights do not
    /// match the store, a game or agent it cannot build).
    pub refused: Vec<(i64, String)>,
    /// Matches (tournament, index) the game's own program could not play, with the message:
    /// marked broken in the store, the others of the batch stored.
    pub broken: Vec<(i64, u64, String)>,
}

/// A stored tournament made ready to play.
struct Prepared {
    config: TournamentConfig,
    game: GameRef,
}

/// Claims, plays and records leased matches.
pub struct LeasedPlayer<'a> {
    resources: &'a Resources,
    settings: LeaseSettings,
    /// Unique per process: two workers given the same name still hold separate leases.
    owner: String,
    pool: rayon::ThreadPool,
    /// `None`: refused.
    tournaments: HashMap<i64, Option<Arc<Prepared>>>,
    /// Built agents, kept between batches (loading a network or a language model is not free).
    agent_sets: HashMap<i64, Mutex<Vec<AgentSet<'a>>>>,
    games: Arc<AtomicU64>,
    /// The next claim's size.
    batch: usize,
    _heartbeat: Heartbeat,
}

impl<'a> LeasedPlayer<'a> {
    pub fn new(resources: &'a Resources, location: &StoreLocation, settings: LeaseSettings) -> Result<Self> {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let owner = format!("{}/{}/{nanos:x}", settings.name, std::process::id());
        let threads = settings.threads;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("arena-leased-{i}"))
            .build()
            .map_err(|e| Error::Invalid(format!("cannot start {threads} worker threads: {e}")))?;
        let games = Arc::new(AtomicU64::new(0));
        let heartbeat = Heartbeat::start(location.clone(), owner.clone(), settings.clone(), games.clone());
        Ok(LeasedPlayer {
            resources,
            owner,
            pool,
            tournaments: HashMap::new(),
            agent_sets: HashMap::new(),
            games,
            // A first claim of two matches a thread measures how long they take.
            batch: settings.batch.unwrap_or(threads * 2),
            settings,
            _heartbeat: heartbeat,
        })
    }

    pub fn settings(&self) -> &LeaseSettings {
        &self.settings
    }

    /// Claims one batch (of tournament `only`, or of any), plays it and records it.
    pub fn play_batch(&mut self, store: &Store, only: Option<i64>) -> Result<BatchReport> {
        let skip: Vec<i64> = self.tournaments.iter().filter(|(_, p)| p.is_none()).map(|(id, _)| *id).collect();
        let lease_ms = self.settings.lease.as_millis() as i64;
        let claiming = Instant::now();
        let claims = store.claim(&self.owner, self.batch, lease_ms, only, &skip)?;
        let mut report = BatchReport {
            claimed: claims.len(),
            store_seconds: claiming.elapsed().as_secs_f64(),
            ..Default::default()
        };
        let mut groups: BTreeMap<i64, Vec<Claim>> = BTreeMap::new();
        for claim in claims {
            groups.entry(claim.tournament).or_default().push(claim);
        }
        for (id, group) in groups {
            // A tournament this process cannot prepare (other weights, an unknown game) or play
            // (a bad opening, a game's bug) is left to others; the worker goes on with the rest.
            let played = self.prepare(store, id).and_then(|prepared| {
                let playing = Instant::now();
                let results = self.play_claims(&prepared, id, &group)?;
                Ok((results, playing.elapsed().as_secs_f64()))
            });
            let (played, seconds) = match played {
                Ok(played) => played,
                Err(error) => {
                    let reason = format!("{error:#}");
                    self.tournaments.insert(id, None);
                    store.release_leases(&self.owner, Some(id))?;
                    store.record_refusal(id, &self.settings.name, &reason)?;
                    report.refused.push((id, reason));
                    continue;
                }
            };
            self.resize_batch(seconds, group.len());
            let recording = Instant::now();
            let outcome = store.record_claimed(id, &played.finished, &self.settings.name)?;
            // Matches that wait for a person's decision are parked: the judge page finishes them.
            store.park(id, &played.awaited, Some(&self.settings.name))?;
            // Matches the game could not play are marked so that no one claims them again: the
            // tournament's process reports them, and resuming it plays them again.
            store.mark_broken(id, &played.broken, Some(&self.settings.name))?;
            report.broken.extend(played.broken.into_iter().map(|(index, message)| (id, index, message)));
            report.store_seconds += recording.elapsed().as_secs_f64();
            self.games.fetch_add(outcome.written as u64, Ordering::Relaxed);
            report.outcome += outcome;
        }
        Ok(report)
    }

    /// Sizes the next claim to about [`BATCH_SECONDS`] of play, from `games` that took `seconds`.
    fn resize_batch(&mut self, seconds: f64, games: usize) {
        if self.settings.batch.is_some() || games == 0 {
            return;
        }
        let per_game = seconds / games as f64;
        let wanted = (BATCH_SECONDS / per_game.max(1e-6)) as usize;
        // Growing at most fourfold a claim keeps one lucky fast batch from claiming a tournament.
        self.batch = wanted.clamp(self.settings.threads, (self.batch * 4).min(MOST_PER_BATCH));
    }

    /// Gives back every lease this process holds (on a clean exit).
    pub fn release(&self, store: &Store) -> Result<()> {
        store.release_leases(&self.owner, None)?;
        Ok(())
    }

    fn prepare(&mut self, store: &Store, id: i64) -> Result<Arc<Prepared>> {
        if let Some(Some(prepared)) = self.tournaments.get(&id) {
            return Ok(prepared.clone());
        }
        let row = store.tournament(id)?;
        let config: TournamentConfig = serde_json::from_str(&row.config)
            .with_context(|| format!("tournament {id}: its stored config is not one this Arena reads"))?;
        let stored = store.agents(id)?;
        if stored.len() != config.agents.len() {
            bail!("tournament {id}: the store lists {} agents, its config {}", stored.len(), config.agents.len());
        }
        let mut config = config;
        // Its game's data and its agents' models, as planned: here, or the store's copies.
        let mut files = store.tournament_files(id)?;
        if files.is_empty() {
            files = legacy_files(&config.agents, &stored);
        }
        localize(self.resources, store, &self.settings.checkpoint_cache, id, &mut config, &files)?;
        let game = self.resources.load_game(&config.game).with_context(|| format!("tournament {id}"))?;
        for entry in &config.agents {
            self.resources
                .check_agent(&entry.agent, game.as_ref(), &[0, 1])
                .with_context(|| format!("tournament {id}: agent `{}`", entry.name))?;
        }
        for entry in &config.judges {
            self.resources
                .check_agent(&entry.agent, game.as_ref(), &[2])
                .with_context(|| format!("tournament {id}: judge `{}`", entry.name))?;
        }
        let prepared = Arc::new(Prepared { config, game });
        self.tournaments.insert(id, Some(prepared.clone()));
        Ok(prepared)
    }

    /// Plays claimed matches: the finished ones, those stopped where a person's decision is
    /// awaited, and those the game's own program stopped. Any other failure refuses the
    /// tournament.
    fn play_claims(&mut self, prepared: &Prepared, id: i64, claims: &[Claim]) -> Result<ClaimsPlayed> {
        let config = &prepared.config;
        for claim in claims {
            if claim.seats.iter().any(|&s| s >= config.agents.len())
                || claim.judge.is_some_and(|j| j >= config.judges.len())
            {
                bail!(
                    "tournament {id}: match {} seats agents {:?} (judge {:?}), but the tournament has {} agents and {} judges",
                    claim.index,
                    claim.seats,
                    claim.judge,
                    config.agents.len(),
                    config.judges.len()
                );
            }
        }
        let sets: &Mutex<Vec<AgentSet<'_>>> = self.agent_sets.entry(id).or_insert_with(|| Mutex::new(Vec::new()));
        let resources = self.resources;
        let chunk = claims.len().div_ceil(self.settings.threads * 2).max(1);
        let chunks: Vec<Result<Vec<(u64, ClaimOutcome)>>> = self.pool.install(|| {
            claims
                .par_chunks(chunk)
                .map(|chunk| {
                    let reused = sets.lock().ok().and_then(|mut free| free.pop());
                    let mut agents = reused.unwrap_or_else(|| AgentSet::new(resources, &config.agents, &config.judges));
                    let results = chunk
                        .iter()
                        .map(|claim| {
                            let setup = MatchSetup {
                                game: &prepared.game,
                                seed: claim.seed,
                                opening: &claim.opening,
                                limits: config.limits(),
                                keep: config.keep,
                            };
                            match agents.play(&setup, claim.seats, claim.judge) {
                                Ok(played) => Ok((claim.index, Ok(played))),
                                Err(Error::Match(MatchError::GamePanicked(message))) => Ok((claim.index, Err(message))),
                                Err(error) => {
                                    Err(error).with_context(|| format!("tournament {id}, match {}", claim.index))
                                }
                            }
                        })
                        .collect::<Result<Vec<_>>>();
                    if let Ok(mut free) = sets.lock() {
                        free.push(agents);
                    }
                    results
                })
                .collect()
        });
        let mut played = ClaimsPlayed::default();
        for chunk in chunks {
            for (index, outcome) in chunk? {
                match outcome {
                    Ok(Played::Finished(result)) => played.finished.push((index, result)),
                    Ok(Played::Awaited(match_so_far)) => played.awaited.push((index, *match_so_far)),
                    Err(message) => played.broken.push((index, message)),
                }
            }
        }
        Ok(played)
    }
}

/// Renews a process's leases every third of the lease, on a connection of its own.
struct Heartbeat {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Heartbeat {
    fn start(location: StoreLocation, owner: String, settings: LeaseSettings, games: Arc<AtomicU64>) -> Heartbeat {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("arena-heartbeat".into())
            .spawn(move || {
                let every = settings.lease / 3;
                let lease_ms = settings.lease.as_millis() as i64;
                let mut store = None;
                let mut last = Instant::now();
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(100));
                    if last.elapsed() < every {
                        continue;
                    }
                    last = Instant::now();
                    // A failed beat is tried again at the next: leases outlive a few missed ones.
                    if store.is_none() {
                        store = Store::connect(&location).ok();
                    }
                    if let Some(connected) = store.as_ref()
                        && connected
                            .renew_leases(&owner, &settings.name, lease_ms, games.load(Ordering::Relaxed))
                            .is_err()
                    {
                        store = None;
                    }
                }
            })
            .ok();
        Heartbeat { stop, thread }
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// When an `arena worker` stops.
#[derive(Clone, Copy, Debug, Default)]
pub struct WorkerStop {
    /// After this long with nothing to claim (`None`: never; stop it with Ctrl-C).
    pub idle: Option<Duration>,
    /// How often an idle worker asks for work.
    pub poll: Duration,
}

/// What a worker did.
#[derive(Debug, Default)]
pub struct WorkerSummary {
    pub outcome: RecordOutcome,
    pub seconds: f64,
    /// Batches claimed (with at least one match).
    pub batches: u64,
    /// Time spent in the store claiming and recording those batches.
    pub store_seconds: f64,
    /// Matches the game's own program could not play (marked broken in the store).
    pub broken: usize,
}

/// Runs a worker: claims batches of any unfinished tournament's matches in the store at
/// `location`, plays and records them, until `stop` says so.
pub fn run_worker(
    resources: &Resources,
    location: &StoreLocation,
    settings: LeaseSettings,
    stop: WorkerStop,
    progress: &dyn Progress,
) -> Result<WorkerSummary> {
    let store = Store::connect(location)?;
    let name = settings.name.clone();
    let mut player = LeasedPlayer::new(resources, location, settings)?;
    let started = Instant::now();
    let mut idle_since = Instant::now();
    let mut summary = WorkerSummary::default();
    progress.begin("games", 0);
    let threads = player.settings().threads;
    progress.log(&format!("worker {name} on {location}: {threads} thread{}", if threads == 1 { "" } else { "s" }));
    loop {
        let report = player.play_batch(&store, None)?;
        for (id, reason) in &report.refused {
            progress.log(&format!("skipping tournament {id}: {reason}"));
        }
        for (id, index, message) in &report.broken {
            progress.log(&format!("tournament {id}, match {index} could not be played: {message}"));
        }
        summary.broken += report.broken.len();
        summary.outcome += report.outcome;
        if report.outcome.faults > 0 {
            progress.log(&format!(
                "{} matches this worker played again came out differently from the stored result: recorded as faults",
                report.outcome.faults
            ));
        }
        progress.set_done(summary.outcome.written as u64);
        let rate = summary.outcome.written as f64 / started.elapsed().as_secs_f64().max(1e-9);
        progress.status(&format!("{rate:.1} games/s"));
        if report.claimed > 0 {
            summary.batches += 1;
            summary.store_seconds += report.store_seconds;
            idle_since = Instant::now();
            continue;
        }
        if stop.idle.is_some_and(|idle| idle_since.elapsed() >= idle) {
            break;
        }
        std::thread::sleep(stop.poll);
    }
    player.release(&store)?;
    progress.end();
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}
