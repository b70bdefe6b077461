//! `arena serve`: the web app over a store (see `arena::serve`).

use std::io::Write;

use anyhow::Result;
use arena::serve::{ServeConfig, WebServer};
use arena::store::StoreLocation;
use clap::Args;

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// The store to show: a SQLite file or a PostgreSQL URL.
    #[arg(long, required_unless_present = "run")]
    pub db: Option<StoreLocation>,
    /// An evolve run directory: its report (rating history, lineage, generations) and its store
    /// (its `arena.db`, unless --db names the run's shared store).
    #[arg(long)]
    pub run: Option<std::path::PathBuf>,
    /// The address to bind: 127.0.0.1 serves this machine only; 0.0.0.0 serves others too.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// The port (0: a free one, printed).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Log no request.
    #[arg(long)]
    pub quiet: bool,
}

/// Serves until the process is stopped (Ctrl-C).
pub fn serve(args: &ServeArgs, out: &mut dyn Write) -> Result<()> {
    let db = match (&args.db, &args.run) {
        (Some(db), _) => db.clone(),
        (None, Some(run)) => run.join("arena.db").into(),
        (None, None) => anyhow::bail!("give the store with --db FILE|URL or an evolve run with --run DIR"),
    };
    let config = ServeConfig { db: db.clone(), run: args.run.clone(), host: args.host.clone(), port: args.port };
    let quiet = args.quiet;
    let server = WebServer::start(&config, move |served| {
        if !quiet {
            eprintln!("{} {} {}", served.method, served.path, served.status);
        }
    })?;
    writeln!(out, "serving store {db} at {}", server.url())?;
    out.flush()?;
    server.wait();
    Ok(())
}
