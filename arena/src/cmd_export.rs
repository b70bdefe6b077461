//! `arena export`: training data from a store's tournaments — SFT chats of the winners' turns,
//! preference pairs, or arena battles — through the quality and safety filter.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use games::Spec;

use crate::export::{ExportedMatch, Format, TurnRecord, export};
use crate::store::Store;
use crate::text_filter::{FilterConfig, TextFilter};

/// Arguments of `arena export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The store to read.
    #[arg(long)]
    pub db: PathBuf,
    /// `sft`, `preference` or `battles`.
    #[arg(long, value_enum)]
    pub format: Format,
    /// Where to write the JSON lines (written whole, then renamed into place).
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

/// Reads the finished matches of a store's tournaments with their language-model turns.
pub fn exported_matches(store: &Store, tournament: Option<i64>) -> Result<Vec<ExportedMatch>> {
    let tournaments = match tournament {
        Some(id) => vec![store.tournament(id)?],
        None => store.tournaments()?,
    };
    let mut matches = Vec::new();
    for t in tournaments {
        let agents = store.agents(t.id)?;
        let judges = store.judges(t.id)?;
        let oracle = Spec::parse(&t.game).is_ok_and(|spec| spec.get("judge") == Some("oracle"));
        let mut turns = store.turns(t.id)?;
        for m in store.finished(t.id)? {
            let name = |index: usize| agents.get(index).map(|a| a.name.clone()).unwrap_or_else(|| format!("#{index}"));
            let mut seat_agents = vec![name(m.seats[0]), name(m.seats[1])];
            let judge = match m.judge {
                Some(j) => {
                    let judge = judges.get(j).map(|a| a.name.clone()).unwrap_or_else(|| format!("judge #{j}"));
                    seat_agents.push(judge.clone());
                    Some(judge)
                }
                None => oracle.then(|| "oracle".to_string()),
            };
            let fault = m
                .fault_seat
                .map(|seat| format!("{} by seat {seat}: {}", m.end_reason, m.fault_detail.clone().unwrap_or_default()));
            let turns = turns
                .remove(&m.index)
                .unwrap_or_default()
                .into_iter()
                .map(|t| TurnRecord { seat: t.seat, ply: t.ply, trace: t.trace })
                .collect();
            matches.push(ExportedMatch {
                tournament: t.id,
                index: m.index,
                game: t.game.clone(),
                seat_agents,
                judge,
                returns: m.returns,
                fault,
                turns,
            });
        }
    }
    Ok(matches)
}

/// Runs `arena export`.
pub fn run(args: &ExportArgs, out: &mut dyn Write) -> Result<()> {
    if !args.db.exists() {
        bail!("store {} does not exist", args.db.display());
    }
    let store = Store::open(&args.db)?;
    let filter = match (&args.filter, args.no_filter) {
        (_, true) => TextFilter::off(),
        (Some(path), false) => TextFilter::load(path)?,
        (None, false) => TextFilter::new(FilterConfig::default(), std::path::Path::new("."))?,
    };
    let matches = exported_matches(&store, args.tournament)?;
    let mut buffer = Vec::new();
    let report = export(args.format, &matches, &filter, &mut buffer)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    crate::files::write_atomically(&args.out, &buffer)?;
    if args.json {
        writeln!(out, "{}", serde_json::to_string(&report)?)?;
    } else {
        writeln!(out, "{report}")?;
        writeln!(out, "wrote {} lines to {}", report.written, args.out.display())?;
    }
    Ok(())
}
