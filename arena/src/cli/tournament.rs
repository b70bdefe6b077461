//! `arena play` (a head-to-head match) and `arena tournament` (schedules, standings, crosstable).

use std::io::Write;
use std::path::PathBuf;

use agents::AgentConfig;
use anyhow::{Context, Result, bail};
use arena::Resources;
use arena::engine::openings::OpeningSource;
use arena::engine::schedule::ScheduleKind;
use arena::engine::sprt::{sprt_state, stop_when_decided};
use arena::engine::tally::Tally;
use arena::engine::tournament::{AgentEntry, RunOptions, TournamentConfig, TournamentOutcome, run_tournament};
use arena::standings::standings;
use arena::store::Store;
use arena::text_data::judging::{self, JudgeReport};
use ratings::normal::Z_95;
use ratings::paired::{Pentanomial, Trinomial};
use ratings::sprt;
use serde_json::json;

use super::{Bars, named, truncate};

/// Arguments of `arena play`.
#[derive(Debug, clap::Args)]
pub struct PlayArgs {
    /// The game, e.g. `connect_four`.
    #[arg(long)]
    pub game: String,
    /// The two agents, e.g. `random "cmd(program=\"python3 examples/random_bot.py\")"`.
    #[arg(long, num_args = 2, required = true)]
    pub agents: Vec<String>,
    /// Number of games (seats alternate; pairs of games share an opening).
    #[arg(long, default_value_t = 100)]
    pub games: u32,
    /// Worker threads.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// `none`, `random:K` (K random plies), or a file of move lists.
    #[arg(long, default_value = "none")]
    pub openings: String,
    /// Stop when a sequential probability ratio test decides, e.g. `elo0=0,elo1=10,alpha=0.05,beta=0.05`.
    #[arg(long)]
    pub sprt: Option<String>,
    /// Store every game (and its moves) in this SQLite file.
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Continue the unfinished match with the same settings in `--db`.
    #[arg(long)]
    pub resume: bool,
    /// Stop games at this many moves (scored as they stand).
    #[arg(long)]
    pub max_moves: Option<usize>,
    /// Time allowed per move, in milliseconds.
    #[arg(long)]
    pub time_per_move_ms: Option<u64>,
    /// The agent in the judge seat of games that have one (debate); repeat for several judges,
    /// who take turns by game pair.
    #[arg(long = "judge")]
    pub judges: Vec<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Plays a match between two agents and reports the score with its error bars.
pub fn play(args: &PlayArgs, resources: &Resources, out: &mut dyn Write) -> Result<()> {
    let config = TournamentConfig {
        games_per_pairing: args.games,
        openings: OpeningSource::parse(&args.openings)?,
        seed: args.seed,
        max_moves: args.max_moves,
        time_per_move_ms: args.time_per_move_ms,
        judges: AgentEntry::from_specs(&args.judges)?,
        ..TournamentConfig::new(args.game.clone(), AgentEntry::from_specs(&args.agents)?)
    };
    let sprt = args.sprt.as_deref().map(sprt::Config::parse).transpose().context("--sprt")?;
    let options = RunOptions {
        threads: args.threads,
        db: args.db.clone(),
        resume: args.resume,
        stop_when: sprt.map(stop_when_decided),
        collect_results: !config.judges.is_empty(),
        ..RunOptions::default()
    };
    let outcome = run_tournament(&config, resources, &options, &Bars::new(!args.json))?;
    let judges = judge_reports(&config, &outcome, args.db.as_deref())?;
    let tally = &outcome.tally;
    let trinomial = tally.head_to_head(0, 1);
    let pentanomial = tally.game_pairs(0, 1);
    let stats = trinomial.stats().ok();
    let pair_stats = (pentanomial.pairs() > 0).then(|| pentanomial.stats().ok()).flatten();
    let best = pair_stats.or(stats);
    let score_error = score_error_95(&trinomial, &pentanomial);
    let sprt_report = sprt.map(|test| {
        let state = sprt_state(&test, tally);
        json!({
            "llr": state.llr,
            "lower": test.bounds().0,
            "upper": test.bounds().1,
            "decision": format!("{:?}", state.decision),
        })
    });
    if args.json {
        let value = json!({
            "game": outcome.game,
            "agents": outcome.names,
            "games": tally.games(),
            "wins": trinomial.wins,
            "draws": trinomial.draws,
            "losses": trinomial.losses,
            "score": best.map(|s| s.score),
            "score_error_95": score_error,
            "elo": best.map(|s| finite(s.elo)),
            "elo_error_95": best.map(|s| finite(s.elo_error_95)),
            "los": best.map(|s| s.los),
            "pentanomial": pentanomial.counts,
            "end_reasons": tally.end_reason_labels(),
            "games_per_s": outcome.games_per_second(),
            "seconds": outcome.seconds,
            "threads": args.threads,
            "stopped": outcome.stopped,
            "sprt": sprt_report,
            "judges": judges,
            "tournament_id": outcome.tournament_id,
        });
        writeln!(out, "{value}")?;
        return Ok(());
    }
    let [a, b] = [&outcome.names[0], &outcome.names[1]];
    writeln!(out, "{} — {a} vs {b}", outcome.game)?;
    writeln!(
        out,
        "games {}: {a} wins {}, draws {}, losses {}",
        tally.games(),
        trinomial.wins,
        trinomial.draws,
        trinomial.losses
    )?;
    if let Some(s) = best {
        writeln!(
            out,
            "score {:.1}% ± {:.1}%   elo {:+.1} ± {:.1}   LOS {:.1}%{}",
            100.0 * s.score,
            100.0 * score_error.unwrap_or(f64::NAN),
            s.elo,
            s.elo_error_95,
            100.0 * s.los,
            if pair_stats.is_some() { "   (from game pairs)" } else { "" }
        )?;
    }
    if pentanomial.pairs() > 0 {
        writeln!(out, "game pairs [LL LD DD/WL WD WW]: {:?}", pentanomial.counts)?;
    }
    write_end_reasons(out, tally)?;
    write_judges(out, &judges)?;
    if let Some(reason) = &outcome.stopped {
        writeln!(out, "stopped early: {reason}")?;
    }
    write_speed(out, &outcome, args.threads)?;
    Ok(())
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// Half-width of the 95% interval of the score, from game pairs where there are any.
fn score_error_95(trinomial: &Trinomial, pentanomial: &Pentanomial) -> Option<f64> {
    let (counts, scores): (Vec<f64>, Vec<f64>) = if pentanomial.pairs() > 0 {
        (pentanomial.counts.iter().map(|&c| c as f64).collect(), vec![0.0, 0.25, 0.5, 0.75, 1.0])
    } else {
        (vec![trinomial.losses as f64, trinomial.draws as f64, trinomial.wins as f64], vec![0.0, 0.5, 1.0])
    };
    let n: f64 = counts.iter().sum();
    if n == 0.0 {
        return None;
    }
    let mean = counts.iter().zip(&scores).map(|(c, s)| c * s).sum::<f64>() / n;
    let variance = counts.iter().zip(&scores).map(|(c, s)| c * (s - mean).powi(2)).sum::<f64>() / n;
    Some(Z_95 * (variance / n).sqrt())
}

/// The judges' report, from the store when there is one (a resumed run's earlier games count).
fn judge_reports(
    config: &TournamentConfig,
    outcome: &TournamentOutcome,
    db: Option<&std::path::Path>,
) -> Result<Vec<JudgeReport>> {
    let store = match (db, config.judges.is_empty()) {
        (Some(db), false) => Some(Store::open(db)?),
        _ => None,
    };
    Ok(judging::tournament_report(config, outcome, store.as_ref())?)
}

fn write_judges(out: &mut dyn Write, judges: &[JudgeReport]) -> Result<()> {
    if !judges.is_empty() {
        writeln!(out, "\njudges (verdicts against the ground truth; bias: picked minus right, by side and by order):")?;
        write_judge_table(out, judges)?;
    }
    Ok(())
}

fn write_end_reasons(out: &mut dyn Write, tally: &Tally) -> Result<()> {
    let reasons: Vec<String> = tally.end_reasons().iter().map(|(kind, n)| format!("{kind} {n}")).collect();
    writeln!(out, "endings: {}", reasons.join(", "))?;
    Ok(())
}

fn write_speed(out: &mut dyn Write, outcome: &TournamentOutcome, threads: usize) -> Result<()> {
    writeln!(
        out,
        "{} games in {:.2} s: {:.0} games/s on {threads} thread{}{}",
        outcome.played_now,
        outcome.seconds,
        outcome.games_per_second(),
        if threads == 1 { "" } else { "s" },
        outcome.tournament_id.map(|id| format!(" (stored as tournament {id})")).unwrap_or_default()
    )?;
    Ok(())
}

/// Arguments of `arena tournament`.
#[derive(Debug, clap::Args)]
pub struct TournamentArgs {
    /// A TOML config with every setting (flags below override it).
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[arg(long)]
    pub game: Option<String>,
    /// The agents' specs.
    #[arg(long, num_args = 1..)]
    pub agents: Vec<String>,
    #[arg(long, value_parser = named(&ScheduleKind::NAMES))]
    pub schedule: Option<ScheduleKind>,
    #[arg(long)]
    pub games_per_pairing: Option<u32>,
    /// Swiss rounds.
    #[arg(long)]
    pub rounds: Option<u32>,
    /// `none`, `random:K`, or a file of move lists.
    #[arg(long)]
    pub openings: Option<String>,
    #[arg(long)]
    pub seed: Option<u64>,
    #[arg(long)]
    pub max_moves: Option<usize>,
    #[arg(long)]
    pub time_per_move_ms: Option<u64>,
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    #[arg(long)]
    pub db: Option<PathBuf>,
    #[arg(long)]
    pub resume: bool,
    /// The agent in the judge seat of games that have one (debate); repeat for several judges,
    /// who take turns by game pair.
    #[arg(long = "judge")]
    pub judges: Vec<String>,
    #[arg(long)]
    pub json: bool,
}

impl TournamentArgs {
    /// The config: the file's, with the flags given on top.
    pub fn config(&self) -> Result<TournamentConfig> {
        let mut config = match &self.config {
            Some(path) => TournamentConfig::from_toml_file(path)?,
            None => {
                let Some(game) = &self.game else { bail!("give --config FILE or --game SPEC with --agents") };
                TournamentConfig::new(game.clone(), Vec::new())
            }
        };
        if let Some(game) = &self.game {
            config.game = game.clone();
        }
        if !self.agents.is_empty() {
            config.agents = AgentEntry::from_specs(&self.agents)?;
        }
        if !self.judges.is_empty() {
            config.judges = AgentEntry::from_specs(&self.judges)?;
        }
        config.schedule = self.schedule.unwrap_or(config.schedule);
        config.games_per_pairing = self.games_per_pairing.unwrap_or(config.games_per_pairing);
        config.rounds = self.rounds.or(config.rounds);
        if let Some(openings) = &self.openings {
            config.openings = OpeningSource::parse(openings)?;
        }
        config.seed = self.seed.unwrap_or(config.seed);
        config.max_moves = self.max_moves.or(config.max_moves);
        config.time_per_move_ms = self.time_per_move_ms.or(config.time_per_move_ms);
        Ok(config)
    }
}

/// Runs a tournament and prints standings and a crosstable.
pub fn tournament(args: &TournamentArgs, resources: &Resources, out: &mut dyn Write) -> Result<()> {
    let config = args.config()?;
    let options = RunOptions {
        threads: args.threads,
        db: args.db.clone(),
        resume: args.resume,
        collect_results: !config.judges.is_empty(),
        ..RunOptions::default()
    };
    let outcome = run_tournament(&config, resources, &options, &Bars::new(!args.json))?;
    let judges = judge_reports(&config, &outcome, args.db.as_deref())?;
    // `random` plays at rating 0 where it plays (found by its config, not its name).
    let anchor = config.agents.iter().position(|a| a.agent == AgentConfig::Random);
    let arena::standings::Standings { rows: standings, rating_note } =
        standings(&outcome.names, &outcome.tally, anchor);
    let n = outcome.names.len();
    if args.json {
        let crosstable: Vec<Vec<Option<[u64; 3]>>> = (0..n)
            .map(|i| {
                (0..n)
                    .map(|j| {
                        (i != j).then(|| {
                            let t = outcome.tally.head_to_head(i, j);
                            [t.wins, t.draws, t.losses]
                        })
                    })
                    .collect()
            })
            .collect();
        let value = json!({
            "game": outcome.game,
            "schedule": config.schedule,
            "games": outcome.tally.games(),
            "standings": standings,
            "rating_note": rating_note,
            "crosstable": {"agents": outcome.names, "wins_draws_losses": crosstable},
            "end_reasons": outcome.tally.end_reason_labels(),
            "games_per_s": outcome.games_per_second(),
            "judges": judges,
            "tournament_id": outcome.tournament_id,
        });
        writeln!(out, "{value}")?;
        return Ok(());
    }
    writeln!(out, "{} — {:?} tournament, {} games", outcome.game, config.schedule, outcome.tally.games())?;
    let width = outcome.names.iter().map(|s| s.len()).max().unwrap_or(4).max(4);
    writeln!(
        out,
        "{:>4}  {:<width$}  {:>8}  {:>17}  {:>6}  {:>7}  {:>6}  {:>6}  {:>6}",
        "rank", "name", "rating", "95% CI", "games", "points", "score", "draws", "faults"
    )?;
    for s in &standings {
        let rating = s.rating.map_or("n/a".to_string(), |r| format!("{r:+.1}"));
        let ci = match (s.ci_low, s.ci_high) {
            (Some(lo), Some(hi)) => format!("[{lo:+.0}, {hi:+.0}]"),
            _ => "".to_string(),
        };
        writeln!(
            out,
            "{:>4}  {:<width$}  {:>8}  {:>17}  {:>6}  {:>7.1}  {:>5.1}%  {:>5.1}%  {:>6}",
            s.rank,
            s.name,
            rating,
            ci,
            s.games,
            s.points,
            100.0 * s.score,
            100.0 * s.draws,
            s.faults
        )?;
    }
    if let Some(note) = &rating_note {
        writeln!(out, "ratings: {note}")?;
    }
    writeln!(out, "\ncrosstable (row's wins-draws-losses against column):")?;
    let cell = 11;
    write!(out, "{:<width$}", "")?;
    for j in 0..n {
        write!(out, "  {:>cell$}", truncate(&outcome.names[j], cell))?;
    }
    writeln!(out)?;
    for i in 0..n {
        write!(out, "{:<width$}", outcome.names[i])?;
        for j in 0..n {
            let text = if i == j {
                "—".to_string()
            } else {
                let t = outcome.tally.head_to_head(i, j);
                if t.games() == 0 { "".to_string() } else { format!("{}-{}-{}", t.wins, t.draws, t.losses) }
            };
            write!(out, "  {text:>cell$}")?;
        }
        writeln!(out)?;
    }
    write_end_reasons(out, &outcome.tally)?;
    write_judges(out, &judges)?;
    write_speed(out, &outcome, args.threads)?;
    Ok(())
}

/// The report as an aligned table.
fn write_judge_table(out: &mut dyn std::io::Write, reports: &[JudgeReport]) -> std::io::Result<()> {
    let width = reports.iter().map(|r| r.name.len()).max().unwrap_or(5).max(5);
    writeln!(
        out,
        "{:<width$}  {:>8}  {:>20}  {:>20}  {:>9}  {:>8}  {:>8}  {:>10}  {:>11}",
        "judge",
        "verdicts",
        "accuracy (95% CI)",
        "rating (95% CI)",
        "picks pro",
        "pro true",
        "pro bias",
        "first bias",
        "consistent"
    )?;
    let bound = |b: Option<f64>, unbounded: &str| b.map_or(unbounded.to_string(), |b| format!("{b:+.0}"));
    for r in reports {
        let rating = format!("{:+.0} [{}, {}]", r.rating, bound(r.rating_low, "-inf"), bound(r.rating_high, "+inf"));
        writeln!(
            out,
            "{:<width$}  {:>8}  {:>5.1}% [{:>4.1}, {:>5.1}]  {:>20}  {:>8.1}%  {:>7.1}%  {:>+7.1}%  {:>+9.1}%  {:>5.1}% of {}",
            r.name,
            r.verdicts,
            100.0 * r.accuracy,
            100.0 * r.accuracy_low,
            100.0 * r.accuracy_high,
            rating,
            100.0 * r.picked_pro,
            100.0 * r.pro_true,
            100.0 * r.pro_bias,
            100.0 * r.first_bias,
            100.0 * r.consistent,
            r.pairs
        )?;
    }
    Ok(())
}
