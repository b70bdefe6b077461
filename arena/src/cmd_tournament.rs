//! `arena play` (a head-to-head match) and `arena tournament` (schedules, standings, crosstable).

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use ratings::paired::{Pentanomial, Trinomial};
use ratings::sprt;
use serde_json::json;

use crate::judging::{self, JudgeReport, Verdict};
use crate::openings::OpeningSource;
use crate::runner::Keep;
use crate::schedule::ScheduleKind;
use crate::store::Store;
use crate::tally::Tally;
use crate::tournament::{RunOptions, StopRule, TournamentConfig, TournamentOutcome, name_agents, run_tournament};

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
pub fn play(args: &PlayArgs, out: &mut dyn Write) -> Result<()> {
    let config = TournamentConfig {
        game: args.game.clone(),
        agents: name_agents(args.agents.iter().map(|s| (None, s.clone())).collect()),
        schedule: ScheduleKind::RoundRobin,
        games_per_pairing: args.games,
        rounds: None,
        openings: OpeningSource::parse(&args.openings)?,
        seed: args.seed,
        max_moves: args.max_moves,
        time_per_move_ms: args.time_per_move_ms,
        keep: Keep::Moves,
        judges: name_agents(args.judges.iter().map(|s| (None, s.clone())).collect()),
    };
    let sprt = args.sprt.as_deref().map(sprt::Config::parse).transpose().context("--sprt")?;
    let stop_when: Option<StopRule> = sprt.map(|test| {
        Box::new(move |tally: &Tally| {
            let (llr, decision) = sprt_state(&test, tally);
            match decision {
                sprt::Decision::Continue => None,
                decided => Some(format!(
                    "SPRT {decided:?} (LLR {llr:.3}, bounds {:.3}..{:.3})",
                    test.bounds().0,
                    test.bounds().1
                )),
            }
        }) as StopRule
    });
    let options = RunOptions {
        threads: args.threads,
        db: args.db.clone(),
        resume: args.resume,
        progress: !args.json,
        stop_when,
        collect_results: !config.judges.is_empty(),
        ..RunOptions::default()
    };
    let outcome = run_tournament(&config, &options)?;
    let judges = judge_reports(&config, &outcome, args.db.as_deref())?;
    let tally = &outcome.tally;
    let trinomial = tally.head_to_head(0, 1);
    let pentanomial = tally.game_pairs(0, 1);
    let stats = trinomial.stats().ok();
    let pair_stats = (pentanomial.pairs() > 0).then(|| pentanomial.stats().ok()).flatten();
    let best = pair_stats.or(stats);
    let score_error = score_error_95(&trinomial, &pentanomial);
    let sprt_report = sprt.map(|test| {
        let (llr, decision) = sprt_state(&test, tally);
        json!({"llr": llr, "lower": test.bounds().0, "upper": test.bounds().1, "decision": format!("{decision:?}")})
    });
    if args.json {
        let value = json!({
            "game": crate::tournament_game_spec(&config)?,
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
            "end_reasons": tally.end_reasons(),
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
    writeln!(out, "{} — {a} vs {b}", crate::tournament_game_spec(&config)?)?;
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

/// The SPRT's LLR over game pairs where there are any, else over games.
fn sprt_state(test: &sprt::Config, tally: &Tally) -> (f64, sprt::Decision) {
    let pairs = tally.game_pairs(0, 1);
    let llr =
        if pairs.pairs() > 0 { test.llr_pentanomial(&pairs) } else { test.llr_trinomial(&tally.head_to_head(0, 1)) };
    (llr, test.decision(llr))
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
    Some(1.959964 * (variance / n).sqrt())
}

/// The judges' report, from the store when there is one (a resumed run's earlier games count).
fn judge_reports(
    config: &TournamentConfig,
    outcome: &TournamentOutcome,
    db: Option<&std::path::Path>,
) -> Result<Vec<JudgeReport>> {
    if config.judges.is_empty() {
        return Ok(Vec::new());
    }
    let verdicts: Vec<Verdict> = match (db, outcome.tournament_id) {
        (Some(db), Some(id)) => Store::open(db)?
            .finished(id)?
            .iter()
            .filter_map(|m| Verdict::from_game(m.judge, m.pair, &m.returns, m.end_reason == "normal"))
            .collect(),
        _ => outcome
            .results
            .iter()
            .filter_map(|(index, result)| {
                let pairing = outcome.planned.get(*index as usize)?;
                let normal = result.end == crate::runner::EndReason::Normal;
                Verdict::from_game(config.judge_of(pairing), pairing.opening, &result.returns, normal)
            })
            .collect(),
    };
    let names: Vec<String> = config.judges.iter().map(|j| j.name.clone()).collect();
    Ok(judging::report(&names, &verdicts))
}

fn write_judges(out: &mut dyn Write, judges: &[JudgeReport]) -> Result<()> {
    if !judges.is_empty() {
        writeln!(out, "\njudges (verdicts against the ground truth; pro speaks first):")?;
        judging::write_table(out, judges)?;
    }
    Ok(())
}

fn write_end_reasons(out: &mut dyn Write, tally: &Tally) -> Result<()> {
    let reasons: Vec<String> = tally.end_reasons().iter().map(|(r, n)| format!("{r} {n}")).collect();
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
    #[arg(long, value_enum)]
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
                TournamentConfig {
                    game: game.clone(),
                    agents: Vec::new(),
                    schedule: ScheduleKind::RoundRobin,
                    games_per_pairing: 2,
                    rounds: None,
                    openings: OpeningSource::None,
                    seed: 0,
                    max_moves: None,
                    time_per_move_ms: None,
                    keep: Keep::Moves,
                    judges: Vec::new(),
                }
            }
        };
        if let Some(game) = &self.game {
            config.game = game.clone();
        }
        if !self.agents.is_empty() {
            config.agents = name_agents(self.agents.iter().map(|s| (None, s.clone())).collect());
        }
        if !self.judges.is_empty() {
            config.judges = name_agents(self.judges.iter().map(|s| (None, s.clone())).collect());
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

/// One line of the standings.
#[derive(Debug, serde::Serialize)]
struct Standing {
    rank: usize,
    name: String,
    rating: Option<f64>,
    ci_low: Option<f64>,
    ci_high: Option<f64>,
    games: u64,
    points: f64,
    score: f64,
    draws: f64,
    faults: u64,
}

/// Runs a tournament and prints standings and a crosstable.
pub fn tournament(args: &TournamentArgs, out: &mut dyn Write) -> Result<()> {
    let config = args.config()?;
    let options = RunOptions {
        threads: args.threads,
        db: args.db.clone(),
        resume: args.resume,
        progress: !args.json,
        collect_results: !config.judges.is_empty(),
        ..RunOptions::default()
    };
    let outcome = run_tournament(&config, &options)?;
    let judges = judge_reports(&config, &outcome, args.db.as_deref())?;
    let (standings, rating_note) = standings(&outcome);
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
            "game": crate::tournament_game_spec(&config)?,
            "schedule": config.schedule,
            "games": outcome.tally.games(),
            "standings": standings,
            "rating_note": rating_note,
            "crosstable": {"agents": outcome.names, "wins_draws_losses": crosstable},
            "end_reasons": outcome.tally.end_reasons(),
            "games_per_s": outcome.games_per_second(),
            "judges": judges,
            "tournament_id": outcome.tournament_id,
        });
        writeln!(out, "{value}")?;
        return Ok(());
    }
    writeln!(
        out,
        "{} — {:?} tournament, {} games",
        crate::tournament_game_spec(&config)?,
        config.schedule,
        outcome.tally.games()
    )?;
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

fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width { text.to_string() } else { text.chars().take(width - 1).chain(['…']).collect() }
}

/// Standings ordered by Bradley–Terry rating (anchored at `random` = 0 when a `random` agent
/// plays, else mean 0), with 95% intervals from the Hessian; by points where no fit exists.
fn standings(outcome: &TournamentOutcome) -> (Vec<Standing>, Option<String>) {
    let tally = &outcome.tally;
    let counts = tally.pair_counts();
    let anchors: Vec<ratings::bradley_terry::Anchor> = outcome
        .names
        .iter()
        .position(|n| n == "random")
        .map(|player| ratings::bradley_terry::Anchor { player, rating: 0.0 })
        .into_iter()
        .collect();
    let config = ratings::bradley_terry::Config::anchored(anchors);
    let fitted = ratings::bradley_terry::fit(&counts, &config).and_then(|fit| {
        let covariance = ratings::fisher::covariance(&counts, &config, &fit)?;
        let intervals = covariance.intervals(&fit.ratings, 0.95);
        Ok((fit, intervals))
    });
    let (fit, note) = match fitted {
        Ok((fit, intervals)) => (Some((fit.ratings, intervals)), None),
        Err(e) => (None, Some(format!("no Bradley–Terry fit: {e}"))),
    };
    let mut order: Vec<usize> = (0..outcome.names.len()).collect();
    match &fit {
        Some((ratings, _)) => order.sort_by(|&a, &b| ratings[b].total_cmp(&ratings[a]).then(a.cmp(&b))),
        None => order.sort_by(|&a, &b| tally.totals(b).points.total_cmp(&tally.totals(a).points).then(a.cmp(&b))),
    }
    let standings = order
        .iter()
        .enumerate()
        .map(|(rank, &i)| {
            let totals = tally.totals(i);
            let games = totals.games.max(1) as f64;
            Standing {
                rank: rank + 1,
                name: outcome.names[i].clone(),
                rating: fit.as_ref().map(|(r, _)| r[i]),
                ci_low: fit.as_ref().map(|(_, ci)| ci[i].0),
                ci_high: fit.as_ref().map(|(_, ci)| ci[i].1),
                games: totals.games,
                points: totals.points,
                score: totals.points / games,
                draws: totals.draws as f64 / games,
                faults: totals.faults,
            }
        })
        .collect();
    (standings, note)
}
