//! `arena ratings`: ratings with confidence intervals from a results file or a store, as a table
//! or JSON.

use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use arena::standings::report::{DRAW_MODELS, Method, RatingsRequest, Report, report};
use arena::standings::results;
use arena::store::StoreLocation;
use ratings::bradley_terry::DrawModel;

use super::{named, printable};

/// Arguments of `arena ratings`.
#[derive(Debug, Clone, clap::Args)]
#[command(group = clap::ArgGroup::new("source").required(true).args(["db", "results"]))]
pub struct RatingsArgs {
    /// Read the finished games of a tournament store (every tournament in it, unless --tournament).
    #[arg(long, value_name = "FILE|URL")]
    pub db: Option<StoreLocation>,
    /// With --db: rate only this tournament.
    #[arg(long, value_name = "ID")]
    pub tournament: Option<i64>,
    /// Results file: CSV with header `white,black,result` (1, 0.5, 0 or 1-0, 1/2-1/2, 0-1 from
    /// white's side), or Chatbot Arena battles (`model_a`, `model_b`, `winner`) as .jsonl or .json.
    #[arg(long, value_name = "FILE")]
    pub results: Option<PathBuf>,
    /// Rating method: Bradley–Terry maximum likelihood (order-independent), or an incremental
    /// method applied in file order.
    #[arg(long, value_parser = named(&Method::NAMES), default_value = "bt")]
    pub method: Method,
    /// How Bradley–Terry counts draws: as half a win each, or Davidson's model (which also
    /// estimates a draw parameter).
    #[arg(long, value_parser = named(&DRAW_MODELS), default_value = "half-win")]
    pub draw_model: DrawModel,
    /// Fix a player's rating, e.g. `--anchor random=0` (repeatable for bt; otherwise ratings have mean 0).
    #[arg(long = "anchor", value_name = "NAME=VALUE")]
    pub anchors: Vec<String>,
    /// Bootstrap replicates for the confidence intervals (bt only; 0: intervals from the Hessian).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub bootstrap: usize,
    /// Seed of the bootstrap.
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
    /// Worker threads for the bootstrap (default: this machine's cores); results do not depend on it.
    #[arg(long, value_name = "T", default_value_t = super::default_threads(), value_parser = super::at_least_one::<usize>)]
    pub threads: usize,
    /// Also give the likelihood of superiority of each player over each other (bt only): a
    /// matrix after the table, or a `los` object per player in JSON.
    #[arg(long)]
    pub los: bool,
    /// Print a JSON array of players instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Runs `arena ratings`: the table, or the JSON array with `--json`.
pub fn ratings(args: &RatingsArgs, out: &mut dyn Write) -> Result<()> {
    if args.tournament.is_some() && args.db.is_none() {
        bail!("--tournament selects games in a --db store; it does not apply to --results");
    }
    let results = match (&args.db, &args.results) {
        (Some(db), _) => results::from_store(db, args.tournament)?,
        (None, Some(path)) => results::read(path)?,
        (None, None) => bail!("give a results file with --results FILE or a store with --db FILE"),
    };
    let request = RatingsRequest {
        method: args.method,
        draw_model: args.draw_model,
        anchors: args.anchors.clone(),
        bootstrap: args.bootstrap,
        seed: args.seed,
        los: args.los,
    };
    let compute = || report(&results, &request);
    let report = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build()
        .context("cannot start the worker threads")?
        .install(compute)?;
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report.players)?)?;
    } else {
        write!(out, "{}", table(&report))?;
    }
    Ok(())
}

/// The plain aligned table.
fn table(report: &Report) -> String {
    let names: Vec<String> = report.players.iter().map(|p| printable(&p.name)).collect();
    let name_width = names.iter().map(|n| n.chars().count()).max().unwrap_or(4).max(4);
    let has_ci = report.players.iter().any(|p| p.ci_low.is_some());
    let has_ranks = report.players.iter().any(|p| p.rank_low.is_some());
    let mut out = String::new();
    let _ = writeln!(out, "{}", report.summary);
    let _ = write!(out, "{:>4}  {:<name_width$}  {:>8}", "rank", "name", "rating");
    if has_ci {
        let _ = write!(out, "  {:>20}", "95% CI");
    }
    let _ = write!(out, "  {:>7}  {:>6}  {:>6}", "games", "score", "draws");
    if has_ranks {
        let _ = write!(out, "  {:>7}", "ranks");
    }
    out.push('\n');
    for (p, name) in report.players.iter().zip(&names) {
        let _ = write!(out, "{:>4}  {:<name_width$}  {:>8.1}", p.rank, name, p.rating);
        if has_ci {
            match (p.ci_low, p.ci_high) {
                (Some(low), Some(high)) => {
                    let _ = write!(out, "  {:>20}", format!("[{low:.1}, {high:.1}]"));
                }
                _ => {
                    let _ = write!(out, "  {:>20}", "");
                }
            }
        }
        let _ = write!(out, "  {:>7}  {:>5.1}%  {:>5.1}%", p.games, 100.0 * p.score, 100.0 * p.draws);
        if let (Some(low), Some(high)) = (p.rank_low, p.rank_high) {
            let _ = write!(out, "  {:>7}", format!("{low}-{high}"));
        }
        out.push('\n');
    }
    if report.players.iter().any(|p| p.los.is_some()) {
        // Columns are numbered like the rows: cut-off names could collide.
        let _ = writeln!(out, "\nlikelihood of superiority (row stronger than column #n, the n-th row):");
        let label_width = name_width + 5;
        let _ = write!(out, "{:<label_width$}", "");
        for n in 1..=report.players.len() {
            let _ = write!(out, "  {:>6}", format!("#{n}"));
        }
        out.push('\n');
        for (n, (row, name)) in report.players.iter().zip(&names).enumerate() {
            let _ = write!(out, "{:<label_width$}", format!("{:>3}. {name}", format!("#{}", n + 1)));
            for column in &report.players {
                let cell = row.los.as_ref().and_then(|los| los.get(&column.name));
                let _ = match cell {
                    Some(p) => write!(out, "  {:>5.1}%", 100.0 * p),
                    None => write!(out, "  {:>6}", "—"),
                };
            }
            out.push('\n');
        }
    }
    out
}
