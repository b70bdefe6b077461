//! `arena report`: the HTML report of an evolve run or a store.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Result, bail};
use arena::report::{Source, write_report};
use arena::store::StoreLocation;

/// Arguments of `arena report`.
#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("source").args(["run", "db"]))]
pub struct ReportArgs {
    /// An evolve run directory (default: runs/default when no --db is given).
    #[arg(long, visible_alias = "run-dir", value_name = "DIR")]
    pub run: Option<PathBuf>,
    /// A store: the ratings and crosstable of every finished game in it.
    #[arg(long, value_name = "FILE|URL")]
    pub db: Option<StoreLocation>,
    /// The HTML file to write (default: report.html in the run directory, or next to the store).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Writes the report and says where, how large and what is in it.
pub fn report(args: &ReportArgs, out: &mut dyn Write) -> Result<()> {
    let (source, default_out) = match (&args.run, &args.db) {
        (_, Some(db)) => {
            let next_to = db.file().map_or_else(|| PathBuf::from("report.html"), |file| file.with_extension("html"));
            (Source::Store(db.clone()), next_to)
        }
        (run, None) => {
            let dir = run.clone().unwrap_or_else(|| PathBuf::from("runs/default"));
            if !dir.is_dir() {
                bail!("run directory {} does not exist (give --run DIR or --db FILE)", dir.display());
            }
            (Source::Run(dir.clone()), dir.join("report.html"))
        }
    };
    let path = args.out.clone().unwrap_or(default_out);
    let started = std::time::Instant::now();
    let written = write_report(&source, &path)?;
    writeln!(
        out,
        "report: {} ({} KiB; {}; {} games in its crosstable) in {:.2} s",
        written.path.display(),
        written.bytes.div_ceil(1024),
        written.sections.join(", "),
        written.games,
        started.elapsed().as_secs_f64()
    )?;
    Ok(())
}
