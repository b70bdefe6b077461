//! `arena export`: training data from a store's tournaments — SFT chats of the winners' turns,
//! preference pairs, or arena battles — through the quality and safety filter.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use arena::store::{Store, StoreLocation};
use arena::text_data::export::{Format, export as write_export, exported_matches};
use arena::text_data::text_filter::{FilterConfig, TextFilter};

use super::named;

/// Arguments of `arena export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The store to read: a SQLite file or a PostgreSQL URL.
    #[arg(long, value_name = "FILE|URL")]
    pub db: StoreLocation,
    /// `sft`, `preference` or `battles`.
    #[arg(long, value_parser = named(&Format::NAMES))]
    pub format: Format,
    /// Where to write the JSON lines (written whole, then renamed into place), or `-` for
    /// standard output. Never one of the inputs, and never anything but a regular file.
    #[arg(long)]
    pub out: PathBuf,
    /// Only this tournament (default: every tournament in the store).
    #[arg(long)]
    pub tournament: Option<i64>,
    /// A TOML filter config (rules, limits, blocklist); the defaults apply without it.
    #[arg(long, conflicts_with = "no_filter")]
    pub filter: Option<PathBuf>,
    /// Export every text, unfiltered.
    #[arg(long)]
    pub no_filter: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `arena export`.
pub fn export(args: &ExportArgs, out: &mut dyn Write) -> Result<()> {
    if !args.db.exists() {
        bail!("store {} does not exist", args.db);
    }
    let mut inputs: Vec<&std::path::Path> = args.db.file().into_iter().collect();
    inputs.extend(args.filter.as_deref());
    let output = arena::files::Output::checked(&args.out, &inputs)?;
    let store = Store::connect(&args.db)?;
    let filter = match (&args.filter, args.no_filter) {
        (_, true) => TextFilter::off(),
        (Some(path), false) => TextFilter::load(path)?,
        (None, false) => TextFilter::new(FilterConfig::default(), std::path::Path::new("."))?,
    };
    let matches = exported_matches(&store, args.tournament)?;
    let mut buffer = Vec::new();
    let report = write_export(args.format, &matches, &filter, &mut buffer)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    output.write(&buffer, out)?;
    if output.is_stdout() {
        // The data is the output; the report goes to stderr.
        eprintln!("{report}");
        return Ok(());
    }
    if args.json {
        writeln!(out, "{}", serde_json::to_string(&report)?)?;
    } else {
        writeln!(out, "{report}")?;
        writeln!(out, "wrote {} lines to {}", report.written, args.out.display())?;
    }
    Ok(())
}
