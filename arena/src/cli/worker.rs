//! `arena worker`: plays the matches of a shared store (PostgreSQL) that tournaments put out,
//! under leases, until stopped; `arena store copy`: moves a store between SQLite and PostgreSQL.

use std::io::Write;
use std::time::Duration;

use anyhow::{Result, bail};
use arena::engine::tournament::{LeaseSettings, WorkerStop, run_worker};
use arena::resources::Resources;
use arena::store::{Store, StoreLocation};

use super::{Bars, at_least_one, default_threads};

/// Arguments of `arena worker`.
#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    /// The shared store: `postgres://user@host:port/dbname` (password in the URL or PGPASSWORD).
    #[arg(long, value_name = "URL")]
    pub db: StoreLocation,
    /// Game threads (default: this machine's cores).
    #[arg(long, default_value_t = default_threads(), value_parser = at_least_one::<usize>)]
    pub threads: usize,
    /// This worker's name in the store and logs (default: host name and process id).
    #[arg(long)]
    pub name: Option<String>,
    /// Matches claimed at once (default: as many as take about 2 s to play, from the games so far).
    #[arg(long, value_parser = at_least_one::<usize>)]
    pub batch: Option<usize>,
    /// Seconds a claimed match stays leased without a heartbeat; a dead worker's matches go to
    /// others after this long.
    #[arg(long, default_value_t = 60, value_parser = at_least_one::<u64>)]
    pub lease_secs: u64,
    /// Stop after this many seconds with nothing to play (default: keep waiting for work).
    #[arg(long, value_name = "SECONDS")]
    pub idle_exit: Option<f64>,
    /// Print one JSON object at the end instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs a worker until it is stopped (or idle for `--idle-exit`).
pub fn worker(args: &WorkerArgs, resources: &Resources, out: &mut dyn Write) -> Result<()> {
    if !args.db.is_shared() {
        bail!(
            "--db {}: a worker plays the matches of a store shared over the network: give a postgres:// URL",
            args.db
        );
    }
    let idle = match args.idle_exit {
        Some(seconds) if !(seconds.is_finite() && seconds >= 0.0) => {
            bail!("--idle-exit {seconds}: give a number of seconds, 0 or more")
        }
        Some(seconds) => Some(Duration::from_secs_f64(seconds)),
        None => None,
    };
    let mut settings = LeaseSettings::new(args.name.clone(), args.threads, args.batch);
    settings.lease = Duration::from_secs(args.lease_secs);
    let name = settings.name.clone();
    let stop = WorkerStop { idle, poll: Duration::from_millis(500) };
    let summary = run_worker(resources, &args.db, settings, stop, &Bars::new(!args.json))?;
    let rate = summary.outcome.written as f64 / summary.seconds.max(1e-9);
    // Claiming and recording a batch, as this worker waited for them.
    let store_ms_per_batch = 1000.0 * summary.store_seconds / summary.batches.max(1) as f64;
    if args.json {
        let report = serde_json::json!({
            "worker": name,
            "games": summary.outcome.written,
            "duplicates": summary.outcome.duplicates,
            "faults": summary.outcome.faults,
            "broken": summary.broken,
            "seconds": summary.seconds,
            "games_per_second": rate,
            "batches": summary.batches,
            "store_ms_per_batch": store_ms_per_batch,
        });
        writeln!(out, "{report}")?;
    } else {
        writeln!(
            out,
            "worker {name}: {} games stored in {:.1} s ({rate:.1} games/s); {} played again with the same result, \
             {} faults, {} broken by their game; {} batches, {store_ms_per_batch:.2} ms each in the store",
            summary.outcome.written,
            summary.seconds,
            summary.outcome.duplicates,
            summary.outcome.faults,
            summary.broken,
            summary.batches
        )?;
    }
    Ok(())
}

/// Arguments of `arena store`.
#[derive(Debug, clap::Args)]
pub struct StoreArgs {
    #[command(subcommand)]
    pub command: StoreCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum StoreCommand {
    /// Copy every row of a store into a new, empty one: SQLite to PostgreSQL or back.
    Copy(CopyArgs),
}

/// Arguments of `arena store copy`.
#[derive(Debug, clap::Args)]
pub struct CopyArgs {
    /// The store to copy: a SQLite file or a postgres:// URL.
    #[arg(long, value_name = "FILE|URL")]
    pub from: StoreLocation,
    /// The store to create: a new SQLite file or an empty PostgreSQL database.
    #[arg(long, value_name = "FILE|URL")]
    pub to: StoreLocation,
}

/// Runs `arena store ...`.
pub fn store(args: &StoreArgs, out: &mut dyn Write) -> Result<()> {
    let StoreCommand::Copy(args) = &args.command;
    if !args.from.exists() {
        bail!("store {} does not exist", args.from);
    }
    if args.from == args.to {
        bail!("--from and --to are the same store ({})", args.from);
    }
    if let Some(file) = args.to.file()
        && std::fs::metadata(file).is_ok_and(|m| m.len() > 0)
    {
        bail!("{} already exists: copy into a new file", file.display());
    }
    let from = Store::connect(&args.from)?;
    let to = Store::connect(&args.to)?;
    let started = std::time::Instant::now();
    let copied = from.copy_to(&to, |_, _| {})?;
    let rows: usize = copied.iter().map(|(_, n)| n).sum();
    let tables: Vec<String> = copied.iter().filter(|(_, n)| *n > 0).map(|(table, n)| format!("{table} {n}")).collect();
    writeln!(
        out,
        "copied {rows} rows from {} to {} in {:.1} s: {}",
        args.from,
        args.to,
        started.elapsed().as_secs_f64(),
        if tables.is_empty() { "nothing to copy".to_string() } else { tables.join(", ") }
    )?;
    Ok(())
}
