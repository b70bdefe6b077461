//! Tournaments: a config ([`config`]) planned into matches and stored as it goes, resumable after a
//! kill ([`planning`]), played in parallel by rayon workers ([`workers`]), and summed into a
//! [`Tally`].

mod config;
mod content;
mod leased;
mod planning;
mod workers;

pub use config::{AgentEntry, TournamentConfig, name_agents};
pub use leased::{LeaseSettings, WorkerStop, WorkerSummary, run_worker};
pub use planning::{run_tournament, tally_from_store};

use crate::engine::runner::MatchResult;
use crate::engine::schedule::Pairing;
use crate::engine::tally::Tally;
use crate::store::StoreLocation;

/// Looks at the tally after each batch of results; a reason stops the tournament early.
pub type StopRule = Box<dyn Fn(&Tally) -> Option<String> + Sync>;

/// How to run a tournament (none of it changes the games).
#[derive(Default)]
pub struct RunOptions {
    /// Worker threads (each plays whole games).
    pub threads: usize,
    /// The store; `None` keeps results in memory only. On a shared store (PostgreSQL) the
    /// matches are leased, and `arena worker` processes play them too.
    pub db: Option<StoreLocation>,
    /// On a shared store: schedule and follow the matches, leaving the playing to workers.
    pub workers_only: bool,
    /// On a shared store: this process's name among the workers.
    pub worker_name: Option<String>,
    /// Continue the unfinished tournament with the same config in `db`.
    pub resume: bool,
    /// Checked after each batch of results; returning a reason stops the tournament early.
    pub stop_when: Option<StopRule>,
    /// Return every game's full result (at the config's `keep` level) in the outcome; on a shared
    /// store, every finished game's, read back from the store (workers store trajectories).
    pub collect_results: bool,
    /// With `resume`: start a new tournament in the store when none has this config (a store that
    /// holds many tournaments, like an evolve run's), instead of refusing.
    pub start_if_missing: bool,
    /// Matches the game's own code stopped are listed in the outcome (`broken`) for the caller
    /// to report; without this, the run ends with an error naming them (after storing the rest).
    pub report_broken: bool,
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("threads", &self.threads)
            .field("db", &self.db)
            .field("resume", &self.resume)
            .field("workers_only", &self.workers_only)
            .field("collect_results", &self.collect_results)
            .field("start_if_missing", &self.start_if_missing)
            .finish()
    }
}

/// What a run produced.
#[derive(Debug)]
pub struct TournamentOutcome {
    /// The canonical spec of the game played.
    pub game: String,
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
    /// Matches the game's own code stopped (a game process that died, hung or contradicted
    /// itself), with the message; not stored, the tournament left open for them.
    pub broken: Vec<(u64, String)>,
}

impl TournamentOutcome {
    /// Games per second of this run.
    pub fn games_per_second(&self) -> f64 {
        self.played_now as f64 / self.seconds.max(1e-9)
    }
}
