//! `arena ratings`: ratings with confidence intervals from a results file, as a table or JSON.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context, bail};
use ratings::bootstrap::{self, bootstrap};
use ratings::bradley_terry::{self, Anchor, DrawModel};
use ratings::pair_counts::PlayerTotals;
use ratings::rank::rank_intervals;
use ratings::sequential::{self, elo, glicko2, trueskill, weng_lin};
use ratings::{PairCounts, fisher};
use serde::Serialize;

use crate::results::{self, Results};

/// Arguments of `arena ratings`.
#[derive(Debug, Clone, clap::Args)]
#[command(group = clap::ArgGroup::new("source").required(true).args(["db", "results"]))]
pub struct RatingsArgs {
    /// Read the finished games of a tournament store (every tournament in it, unless --tournament).
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// With --db: rate only this tournament.
    #[arg(long, value_name = "ID")]
    pub tournament: Option<i64>,
    /// Results file: CSV with header `white,black,result` (1, 0.5, 0 or 1-0, 1/2-1/2, 0-1 from
    /// white's side), or Chatbot Arena battles (`model_a`, `model_b`, `winner`) as .jsonl or .json.
    #[arg(long, value_name = "FILE")]
    pub results: Option<PathBuf>,
    /// Rating method: Bradley–Terry maximum likelihood (order-independent), or an incremental
    /// method applied in file order.
    #[arg(long, value_enum, default_value_t = Method::Bt)]
    pub method: Method,
    /// How Bradley–Terry counts draws: as half a win each, or Davidson's model (which also
    /// estimates a draw parameter).
    #[arg(long, value_enum, default_value_t = Draws::HalfWin)]
    pub draw_model: Draws,
    /// Fix a player's rating, e.g. `--anchor random=0` (repeatable for bt; otherwise ratings have mean 0).
    #[arg(long = "anchor", value_name = "NAME=VALUE")]
    pub anchors: Vec<String>,
    /// Bootstrap replicates for the confidence intervals (bt only; 0: intervals from the Hessian).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub bootstrap: usize,
    /// Seed of the bootstrap.
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
    /// Worker threads for the bootstrap (default: all cores); results do not depend on it.
    #[arg(long, value_name = "T")]
    pub threads: Option<usize>,
    /// Also give the likelihood of superiority of each player over each other (bt only): a
    /// matrix after the table, or a `los` object per player in JSON.
    #[arg(long)]
    pub los: bool,
    /// Print a JSON array of players instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// A rating method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Method {
    /// Bradley–Terry maximum likelihood, on the Elo scale.
    Bt,
    /// Incremental Elo (K = 32, start 1000).
    Elo,
    /// Incremental Glicko-2 (start 1500 ± 350).
    Glicko2,
    /// Incremental TrueSkill (μ 25, σ 25/3).
    #[value(name = "trueskill")]
    TrueSkill,
    /// Incremental Weng-Lin / OpenSkill (μ 25, σ 25/3).
    WengLin,
}

/// How Bradley–Terry counts draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Draws {
    /// A draw is half a win for each side.
    HalfWin,
    /// Davidson's draw model.
    Davidson,
}

impl RatingsArgs {
    /// Parses arguments as they follow `arena ratings` (the first item is the command name).
    pub fn try_parse_from<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::{Args, FromArgMatches};
        let command = Self::augment_args(clap::Command::new("ratings"));
        Self::from_arg_matches(&command.try_get_matches_from(args)?)
    }
}

/// One player's line of the report (the JSON object of `--json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlayerRating {
    /// 1 + the number of players rated higher.
    pub rank: usize,
    /// Best rank the confidence intervals allow (none without intervals).
    pub rank_low: Option<usize>,
    /// Worst rank the confidence intervals allow.
    pub rank_high: Option<usize>,
    /// The player's name.
    pub name: String,
    /// The rating, on the method's scale (Elo for bt).
    pub rating: f64,
    /// Lower end of the 95% confidence interval.
    pub ci_low: Option<f64>,
    /// Upper end of the 95% confidence interval.
    pub ci_high: Option<f64>,
    /// Standard error (bt: from the Hessian or the bootstrap) or the method's σ.
    pub se: Option<f64>,
    /// Games played.
    pub games: u64,
    /// Points per game, 0 to 1.
    pub score: f64,
    /// Share of games drawn, 0 to 1.
    pub draws: f64,
    /// With `--los`: the probability this player is stronger than each other player, by name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub los: Option<std::collections::BTreeMap<String, f64>>,
}

/// The ratings of a results set, with a one-line description of how they were computed.
#[derive(Debug, Clone)]
pub struct Report {
    /// What was fitted, how many games, where the intervals come from.
    pub summary: String,
    /// Players, best first.
    pub players: Vec<PlayerRating>,
}

/// Runs `arena ratings`.
pub fn run(args: &RatingsArgs) -> anyhow::Result<()> {
    let text = render(args)?;
    print!("{text}");
    Ok(())
}

/// The text `arena ratings` prints: the table, or the JSON array with `--json`.
pub fn render(args: &RatingsArgs) -> anyhow::Result<String> {
    let report = report(args)?;
    if args.json {
        let mut json = serde_json::to_string_pretty(&report.players)?;
        json.push('\n');
        Ok(json)
    } else {
        Ok(table(&report))
    }
}

/// Computes the ratings `args` ask for.
pub fn report(args: &RatingsArgs) -> anyhow::Result<Report> {
    if args.tournament.is_some() && args.db.is_none() {
        bail!("--tournament selects games in a --db store; it does not apply to --results");
    }
    let results = match (&args.db, &args.results) {
        (Some(db), _) => results::from_store(db, args.tournament)?,
        (None, Some(path)) => results::read(path)?,
        (None, None) => bail!("give a results file with --results FILE or a store with --db FILE"),
    };
    let compute = || match args.method {
        Method::Bt => bt_report(args, &results),
        method => sequential_report(args, method, &results),
    };
    match args.threads {
        None => compute(),
        Some(0) => bail!("--threads must be at least 1"),
        Some(threads) => rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .context("cannot start the worker threads")?
            .install(compute),
    }
}

/// `--anchor NAME=VALUE` options as (player index, rating).
fn parse_anchors(args: &RatingsArgs, results: &Results) -> anyhow::Result<Vec<Anchor>> {
    let mut anchors: Vec<Anchor> = Vec::new();
    for spec in &args.anchors {
        let Some((name, value)) = spec.rsplit_once('=') else {
            bail!("--anchor '{spec}': expected NAME=VALUE, e.g. --anchor random=0");
        };
        let rating: f64 = value
            .trim()
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite())
            .with_context(|| format!("--anchor '{spec}': '{value}' is not a finite number"))?;
        let Some(player) = results.roster.get(name.trim()) else {
            bail!("--anchor '{spec}': no player named '{}' in {}", name.trim(), results.source.display());
        };
        if anchors.iter().any(|a| a.player == player) {
            bail!("--anchor '{spec}': '{}' is anchored twice", name.trim());
        }
        anchors.push(Anchor { player, rating });
    }
    Ok(anchors)
}

fn bt_report(args: &RatingsArgs, results: &Results) -> anyhow::Result<Report> {
    let names = results.roster.names();
    let counts = PairCounts::from_games(names.len(), &results.games)
        .map_err(|e| e.with_names(names))
        .with_context(|| format!("{}", results.source.display()))?;
    let config = bradley_terry::Config {
        draw_model: match args.draw_model {
            Draws::HalfWin => DrawModel::HalfWin,
            Draws::Davidson => DrawModel::Davidson,
        },
        anchors: parse_anchors(args, results)?,
        ..bradley_terry::Config::default()
    };
    let named = |e: ratings::Error| anyhow::Error::new(e.with_names(names));
    let fit = bradley_terry::fit(&counts, &config)
        .map_err(named)
        .with_context(|| format!("cannot fit ratings to {}", results.source.display()))?;
    let (intervals, standard_errors, source) = if args.bootstrap > 0 {
        let boot_config = bootstrap::Config { replicates: args.bootstrap, seed: args.seed, level: 0.95 };
        let boot = bootstrap(&counts, &config, &boot_config).map_err(named)?;
        let failed =
            if boot.failed > 0 { format!(", {} failed replicates left out", boot.failed) } else { String::new() };
        let source =
            format!("95% CI: bootstrap percentiles, {} replicates, seed {}{failed}", args.bootstrap, args.seed);
        (boot.intervals, boot.standard_errors, source)
    } else {
        let covariance = fisher::covariance(&counts, &config, &fit).map_err(named)?;
        let source = "95% CI: rating ± 1.96 SE from the Hessian".to_owned();
        (covariance.intervals(&fit.ratings, 0.95), covariance.standard_errors(), source)
    };
    let model = match fit.draw_parameter {
        Some(nu) => format!("Bradley–Terry, Davidson draws (ν = {nu:.4})"),
        None => "Bradley–Terry, draws as half wins".to_owned(),
    };
    let summary = format!(
        "{model}; {} games, {} players; {}; {source}",
        results.games.len(),
        names.len(),
        anchor_text(&config.anchors, names)
    );
    let mut players = rows(
        names,
        &counts,
        &fit.ratings,
        Some(&intervals),
        &standard_errors.into_iter().map(Some).collect::<Vec<_>>(),
    );
    if args.los {
        let covariance = fisher::covariance(&counts, &config, &fit).map_err(named)?;
        let los = ratings::los::matrix(&fit.ratings, &covariance);
        let n = names.len();
        for player in &mut players {
            let Some(i) = results.roster.get(&player.name) else { continue };
            player.los = Some((0..n).filter(|&j| j != i).map(|j| (names[j].clone(), los[i * n + j])).collect());
        }
    }
    Ok(Report { summary, players })
}

fn sequential_report(args: &RatingsArgs, method: Method, results: &Results) -> anyhow::Result<Report> {
    if args.bootstrap > 0 {
        bail!("--bootstrap needs --method bt (incremental methods depend on the game order)");
    }
    if args.draw_model != Draws::HalfWin {
        bail!("--draw-model applies to --method bt only");
    }
    if args.los {
        bail!("--los needs --method bt (it comes from the Bradley–Terry fit's covariance)");
    }
    let names = results.roster.names();
    let n = names.len();
    let games = &results.games;
    let (label, rated) = match method {
        Method::Elo => ("Elo (K = 32), in file order", elo::ratings(n, games, &elo::Config::default())),
        Method::Glicko2 => ("Glicko-2, in file order", glicko2::ratings(n, games, &glicko2::Config::default())),
        Method::TrueSkill => ("TrueSkill, in file order", trueskill::ratings(n, games, &trueskill::Config::default())),
        Method::WengLin => ("Weng-Lin, in file order", weng_lin::ratings(n, games, &weng_lin::Config::default())),
        Method::Bt => return bt_report(args, results),
    };
    let rated: Vec<sequential::Rating> =
        rated.map_err(|e| e.with_names(names)).with_context(|| format!("{}", results.source.display()))?;
    let anchors = parse_anchors(args, results)?;
    let shift = match anchors.as_slice() {
        [] => 0.0,
        [anchor] => anchor.rating - rated[anchor.player].rating,
        _ => bail!("--method {method:?} takes at most one --anchor (it shifts all ratings)"),
    };
    let ratings: Vec<f64> = rated.iter().map(|r| r.rating + shift).collect();
    let standard_errors: Vec<Option<f64>> = rated.iter().map(|r| r.uncertainty).collect();
    let intervals: Option<Vec<(f64, f64)>> = standard_errors
        .iter()
        .zip(&ratings)
        .map(|(se, r)| se.map(|se| (r - ratings::normal::Z_95 * se, r + ratings::normal::Z_95 * se)))
        .collect();
    let counts = PairCounts::from_games(n, games).map_err(|e| e.with_names(names))?;
    let source = if intervals.is_some() { "95% CI: rating ± 1.96 σ" } else { "no confidence intervals" };
    let anchor = if anchors.is_empty() { "unanchored".to_owned() } else { anchor_text(&anchors, names) };
    let summary = format!("{label}; {} games, {n} players; {anchor}; {source}", games.len());
    Ok(Report { summary, players: rows(names, &counts, &ratings, intervals.as_deref(), &standard_errors) })
}

fn anchor_text(anchors: &[Anchor], names: &[String]) -> String {
    if anchors.is_empty() {
        return "ratings have mean 0".to_owned();
    }
    let list: Vec<String> = anchors.iter().map(|a| format!("{} = {}", names[a.player], a.rating)).collect();
    format!("anchored: {}", list.join(", "))
}

/// Players' lines, best first (ties by name).
fn rows(
    names: &[String],
    counts: &PairCounts,
    ratings: &[f64],
    intervals: Option<&[(f64, f64)]>,
    standard_errors: &[Option<f64>],
) -> Vec<PlayerRating> {
    let ranks = match intervals {
        Some(intervals) => rank_intervals(ratings, intervals)
            .into_iter()
            .map(|r| (r.rank, Some(r.best), Some(r.worst)))
            .collect::<Vec<_>>(),
        None => ratings::rank::ranks(ratings).into_iter().map(|r| (r, None, None)).collect(),
    };
    let mut players: Vec<PlayerRating> = (0..names.len())
        .map(|p| {
            let totals: PlayerTotals = counts.totals(p);
            PlayerRating {
                rank: ranks[p].0,
                rank_low: ranks[p].1,
                rank_high: ranks[p].2,
                name: names[p].clone(),
                rating: ratings[p],
                ci_low: intervals.map(|i| i[p].0),
                ci_high: intervals.map(|i| i[p].1),
                se: standard_errors[p],
                games: totals.games(),
                score: totals.score(),
                draws: totals.draw_rate(),
                los: None,
            }
        })
        .collect();
    players.sort_by(|a, b| b.rating.total_cmp(&a.rating).then_with(|| a.name.cmp(&b.name)));
    players
}

/// The plain aligned table.
fn table(report: &Report) -> String {
    let name_width = report.players.iter().map(|p| p.name.chars().count()).max().unwrap_or(4).max(4);
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
    for p in &report.players {
        let _ = write!(out, "{:>4}  {:<name_width$}  {:>8.1}", p.rank, p.name, p.rating);
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
        let _ = writeln!(out, "\nlikelihood of superiority (row stronger than column):");
        let _ = write!(out, "{:<name_width$}", "");
        for p in &report.players {
            let _ = write!(out, "  {:>6}", p.name.chars().take(6).collect::<String>());
        }
        out.push('\n');
        for row in &report.players {
            let _ = write!(out, "{:<name_width$}", row.name);
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
