//! `arena play` (a head-to-head match) and `arena tournament` (schedules, standings, crosstable).

use std::io::Write;
use std::path::PathBuf;

use agents::AgentConfig;
use anyhow::{Context, Result, bail};
use arena::Resources;
use arena::engine::openings::OpeningSource;
use arena::engine::schedule::ScheduleKind;
use arena::engine::sprt::{sprt_state, stop_when_decided};
use arena::engine::tally::{FaultExample, Tally};
use arena::engine::tournament::{AgentEntry, RunOptions, TournamentConfig, TournamentOutcome, run_tournament};
use arena::standings::standings;
use arena::store::{Store, StoreLocation};
use arena::text_data::judging::{self, JudgeReport};
use ratings::normal::Z_95;
use ratings::paired::{MatchStats, Pentanomial, Trinomial};
use ratings::sprt;
use serde_json::json;

use super::{Bars, at_least_one, default_threads, named, printable};

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
    #[arg(long, default_value_t = 100, value_parser = at_least_one::<u32>)]
    pub games: u32,
    /// Worker threads, each playing whole games (default: this machine's cores); the games are the
    /// same for any count.
    #[arg(long, default_value_t = default_threads(), value_parser = at_least_one::<usize>)]
    pub threads: usize,
    /// The match seed: every game's seed derives from it and the game's number.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// `none`, `random:K` (K random plies), or a file of move lists.
    #[arg(long, default_value = "none")]
    pub openings: String,
    /// Stop when a sequential probability ratio test decides, e.g. `elo0=0,elo1=10,alpha=0.05,beta=0.05`.
    #[arg(long)]
    pub sprt: Option<String>,
    /// Store every game (and its moves) in this SQLite file, or in a PostgreSQL database
    /// (`postgres://user@host:port/dbname`) where `arena worker` processes play it too.
    #[arg(long, value_name = "FILE|URL")]
    pub db: Option<StoreLocation>,
    /// Continue the unfinished match with the same settings in `--db`.
    #[arg(long)]
    pub resume: bool,
    /// With a PostgreSQL --db: write the plan and follow the workers' progress without playing.
    #[arg(long)]
    pub workers_only: bool,
    /// Stop games at this many moves (scored as they stand).
    #[arg(long, value_parser = at_least_one::<usize>)]
    pub max_moves: Option<usize>,
    /// Time allowed per move, in milliseconds (a slower answer loses the game).
    #[arg(long, value_parser = at_least_one::<u64>)]
    pub time_per_move_ms: Option<u64>,
    /// The agent in the judge seat of games that have one (debate); repeat for several judges,
    /// who take turns by game pair.
    #[arg(long = "judge")]
    pub judges: Vec<String>,
    /// Print one JSON object instead of text.
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
    let person = has_person(&config);
    let options = RunOptions {
        // A person plays one game at a time, without a progress bar over the board.
        threads: if person { 1 } else { args.threads },
        db: args.db.clone(),
        resume: args.resume,
        stop_when: sprt.map(stop_when_decided),
        // With a store the judges' verdicts are read back from it.
        collect_results: !config.judges.is_empty() && args.db.is_none(),
        workers_only: args.workers_only,
        report_broken: true,
        ..RunOptions::default()
    };
    let outcome = run_tournament(&config, resources, &options, &Bars::new(!args.json && !person))?;
    let judges = judge_reports(&config, &outcome, args.db.as_ref())?;
    let tally = &outcome.tally;
    let trinomial = tally.head_to_head(0, 1);
    let pentanomial = tally.game_pairs(0, 1);
    let summary = MatchSummary::of(&trinomial, &pentanomial);
    let sprt_report = sprt.map(|test| {
        let state = sprt_state(&test, tally);
        json!({
            "llr": state.llr,
            "lower": test.bounds().0,
            "upper": test.bounds().1,
            "decision": state.decision.as_str(),
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
            "score": summary.score,
            "score_error_95": summary.score_error_95.filter(|_| !summary.one_sided()),
            "score_interval_95": summary.score_interval_95(),
            "elo": summary.stats.map(|s| finite(s.elo)),
            "elo_error_95": summary.stats.map(|s| finite(s.elo_error_95)),
            "elo_bound_95": summary.elo_bound_95(),
            "los": summary.stats.map(|s| s.los),
            "intervals_from": if summary.from_pairs { "game_pairs" } else { "games" },
            "pentanomial": pentanomial.counts,
            "end_reasons": tally.end_reason_labels(),
            "faults": faults_json(tally, &config),
            "games_per_s": outcome.games_per_second(),
            "seconds": outcome.seconds,
            "threads": options.threads,
            "stopped": outcome.stopped,
            "sprt": sprt_report,
            "judges": judges,
            "tournament_id": outcome.tournament_id,
        });
        writeln!(out, "{value}")?;
        return broken_matches(&outcome);
    }
    let [a, b] = [printable(&outcome.names[0]), printable(&outcome.names[1])];
    writeln!(out, "{} — {a} vs {b}", outcome.game)?;
    writeln!(
        out,
        "games {}: {a} wins {}, draws {}, losses {}",
        tally.games(),
        trinomial.wins,
        trinomial.draws,
        trinomial.losses
    )?;
    if trinomial.games() > 0 {
        writeln!(out, "{}", summary.line())?;
    }
    if pentanomial.pairs() > 0 {
        writeln!(out, "game pairs [LL LD DD/WL WD WW]: {:?}", pentanomial.counts)?;
    }
    write_end_reasons(out, tally, &config)?;
    write_judges(out, &judges)?;
    if let Some(reason) = &outcome.stopped {
        writeln!(out, "stopped early: {reason}")?;
    }
    write_speed(out, &outcome, options.threads, args.db.as_ref())?;
    broken_matches(&outcome)
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// A head-to-head result in numbers that agree with its wins, draws and losses: the score is
/// always the games' own; its interval, Elo and LOS come from game pairs when every game is in a
/// finished pair (the pairs' variance is the honest one), else from the games.
#[derive(Debug)]
struct MatchSummary {
    games: u64,
    wins: u64,
    losses: u64,
    /// Points per game.
    score: Option<f64>,
    /// Half-width of the score's 95% interval (`None` below two samples: no variance to speak of).
    score_error_95: Option<f64>,
    stats: Option<MatchStats>,
    from_pairs: bool,
}

impl MatchSummary {
    fn of(trinomial: &Trinomial, pentanomial: &Pentanomial) -> Self {
        let games = trinomial.games();
        let from_pairs = pentanomial.pairs() >= 2 && 2 * pentanomial.pairs() == games;
        let stats = if from_pairs { pentanomial.stats().ok() } else { trinomial.stats().ok() };
        let score = trinomial.stats().ok().map(|s| s.score);
        let (counts, scores): (Vec<f64>, Vec<f64>) = if from_pairs {
            (pentanomial.counts.iter().map(|&c| c as f64).collect(), vec![0.0, 0.25, 0.5, 0.75, 1.0])
        } else {
            (vec![trinomial.losses as f64, trinomial.draws as f64, trinomial.wins as f64], vec![0.0, 0.5, 1.0])
        };
        let n: f64 = counts.iter().sum();
        let score_error_95 = (n >= 2.0).then(|| {
            let mean = counts.iter().zip(&scores).map(|(c, s)| c * s).sum::<f64>() / n;
            let variance = counts.iter().zip(&scores).map(|(c, s)| c * (s - mean).powi(2)).sum::<f64>() / n;
            Z_95 * (variance / n).sqrt()
        });
        MatchSummary { games, wins: trinomial.wins, losses: trinomial.losses, score, score_error_95, stats, from_pairs }
    }

    /// Whether every game was won, or every game lost: no spread for a normal interval.
    fn one_sided(&self) -> bool {
        self.games > 0 && (self.wins == self.games || self.losses == self.games)
    }

    /// The score's 95% interval: Wilson's where every game went one way, else score ± error.
    fn score_interval_95(&self) -> Option<[f64; 2]> {
        let score = self.score?;
        if self.one_sided() {
            let proportion = ratings::proportion::wilson(self.wins, self.games, 0.95);
            return Some([proportion.low, proportion.high]);
        }
        self.score_error_95.map(|error| [(score - error).max(0.0), (score + error).min(1.0)])
    }

    /// Where the Elo difference is unbounded (every game won or every game lost): the one-sided
    /// 95% bound from the Wilson interval of the games won, as `{"above": x}` or `{"below": x}`.
    fn elo_bound_95(&self) -> Option<serde_json::Value> {
        let proportion = ratings::proportion::wilson(self.wins, self.games, 0.95);
        if self.games > 0 && self.wins == self.games {
            Some(json!({"above": ratings::logistic::elo_difference(proportion.low)}))
        } else if self.games > 0 && self.losses == self.games {
            Some(json!({"below": ratings::logistic::elo_difference(proportion.high)}))
        } else {
            None
        }
    }

    /// `score 62.5% ± 5.1%   elo +88.7 ± 37.2   LOS 99.9%`, in words where a number is unbounded.
    fn line(&self) -> String {
        let Some(score) = self.score else { return "no games".to_string() };
        let proportion = ratings::proportion::wilson(self.wins, self.games, 0.95);
        let one_sided = self.one_sided();
        let score_text = match self.score_error_95 {
            // Every game won (or lost): no spread to measure, so the interval is Wilson's.
            Some(_) if one_sided => format!(
                "score {:.1}% (95%: {:.1}%–{:.1}%)",
                100.0 * score,
                100.0 * proportion.low,
                100.0 * proportion.high
            ),
            Some(error) => format!("score {:.1}% ± {:.1}%", 100.0 * score, 100.0 * error),
            None => format!("score {:.1}% (one game: no interval)", 100.0 * score),
        };
        let elo_text = match self.stats {
            _ if self.wins == self.games => format!(
                "elo above {:+.0} (95%; won every game, so no upper bound)",
                ratings::logistic::elo_difference(proportion.low)
            ),
            _ if self.losses == self.games => format!(
                "elo below {:+.0} (95%; lost every game, so no lower bound)",
                ratings::logistic::elo_difference(proportion.high)
            ),
            Some(s) if s.elo_error_95.is_finite() && self.score_error_95.is_some() => {
                format!("elo {:+.1} ± {:.1}   LOS {:.1}%", s.elo, s.elo_error_95, 100.0 * s.los)
            }
            Some(s) => format!("elo {:+.1} (too few games for a bounded interval)", s.elo),
            None => String::new(),
        };
        let source = if self.from_pairs && !one_sided { "   (intervals from game pairs)" } else { "" };
        format!("{score_text}   {elo_text}{source}")
    }
}

/// The judges' report, from the store when there is one (a resumed run's earlier games count).
fn judge_reports(
    config: &TournamentConfig,
    outcome: &TournamentOutcome,
    db: Option<&StoreLocation>,
) -> Result<Vec<JudgeReport>> {
    let store = match (db, config.judges.is_empty()) {
        (Some(db), false) => Some(Store::connect(db)?),
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

/// How the games ended, then each kind of fault with its count and the earliest game lost so.
fn write_end_reasons(out: &mut dyn Write, tally: &Tally, config: &TournamentConfig) -> Result<()> {
    let reasons: Vec<String> = tally.end_reasons().iter().map(|(kind, n)| format!("{} {n}", kind.describe())).collect();
    writeln!(out, "endings: {}", reasons.join(", "))?;
    for (kind, count, example) in tally.faults() {
        writeln!(
            out,
            "  {} in {count} game{}; e.g. match {}, {} (seat {}): {}",
            kind.describe(),
            if count == 1 { "" } else { "s" },
            example.match_index,
            fault_owner(example, config),
            example.seat,
            printable(&example.detail)
        )?;
    }
    Ok(())
}

/// Who lost a game by a fault: the agent's or judge's name.
fn fault_owner(example: &FaultExample, config: &TournamentConfig) -> String {
    let named = match (example.agent, example.judge) {
        (Some(agent), _) => config.agents.get(agent).map(|a| a.name.as_str()),
        (None, Some(judge)) => config.judges.get(judge).map(|j| j.name.as_str()),
        (None, None) => None,
    };
    match (named, example.judge) {
        (Some(name), Some(_)) => format!("judge {}", printable(name)),
        (Some(name), None) => printable(name),
        (None, _) => "the judge".to_string(),
    }
}

/// The faults as JSON: by label, with the count and the earliest game lost so.
fn faults_json(tally: &Tally, config: &TournamentConfig) -> serde_json::Value {
    let faults: serde_json::Map<String, serde_json::Value> = tally
        .faults()
        .into_iter()
        .map(|(kind, count, example)| {
            let value = json!({
                "games": count,
                "example": {
                    "match": example.match_index,
                    "seat": example.seat,
                    "agent": fault_owner(example, config),
                    "detail": example.detail,
                },
            });
            (kind.as_str().to_string(), value)
        })
        .collect();
    serde_json::Value::Object(faults)
}

/// Games, time and games/s: on this process's threads, or (on a shared store) by every worker.
fn write_speed(
    out: &mut dyn Write,
    outcome: &TournamentOutcome,
    threads: usize,
    db: Option<&StoreLocation>,
) -> Result<()> {
    let by = match db {
        Some(db) if db.is_shared() => "all workers together".to_string(),
        _ => format!("on {threads} thread{}", if threads == 1 { "" } else { "s" }),
    };
    writeln!(
        out,
        "{} games in {:.2} s: {:.0} games/s {by}{}",
        outcome.played_now,
        outcome.seconds,
        outcome.games_per_second(),
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
    /// The game, e.g. `connect_four` or `debate(judge=seat)`.
    #[arg(long)]
    pub game: Option<String>,
    /// The agents' specs (a name is given to each; the same spec twice gets `#2`).
    #[arg(long, num_args = 1..)]
    pub agents: Vec<String>,
    /// Who meets whom.
    #[arg(long, value_parser = named(&ScheduleKind::NAMES))]
    pub schedule: Option<ScheduleKind>,
    /// Games between each pairing (seats alternate; pairs of games share an opening).
    #[arg(long, value_parser = at_least_one::<u32>)]
    pub games_per_pairing: Option<u32>,
    /// Rounds of a swiss schedule (at most agents − 1, or agents when odd; default log2 + 1).
    #[arg(long, value_parser = at_least_one::<u32>)]
    pub rounds: Option<u32>,
    /// `none`, `random:K`, or a file of move lists.
    #[arg(long)]
    pub openings: Option<String>,
    /// The tournament seed: every game's seed derives from it and the game's number.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Stop games at this many moves (scored as they stand).
    #[arg(long, value_parser = at_least_one::<usize>)]
    pub max_moves: Option<usize>,
    /// Time allowed per move, in milliseconds (a slower answer loses the game).
    #[arg(long, value_parser = at_least_one::<u64>)]
    pub time_per_move_ms: Option<u64>,
    /// Worker threads, each playing whole games (default: this machine's cores); the games are the
    /// same for any count.
    #[arg(long, default_value_t = default_threads(), value_parser = at_least_one::<usize>)]
    pub threads: usize,
    /// Store every game (and its moves) in this SQLite file, or in a PostgreSQL database
    /// (`postgres://user@host:port/dbname`) where `arena worker` processes play it too.
    #[arg(long, value_name = "FILE|URL")]
    pub db: Option<StoreLocation>,
    /// Continue the unfinished tournament with the same config in `--db`.
    #[arg(long)]
    pub resume: bool,
    /// With a PostgreSQL --db: write the plan and follow the workers' progress without playing.
    #[arg(long)]
    pub workers_only: bool,
    /// The agent in the judge seat of games that have one (debate); repeat for several judges,
    /// who take turns by game pair.
    #[arg(long = "judge")]
    pub judges: Vec<String>,
    /// Print one JSON object instead of text.
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
        if let Some(schedule) = self.schedule
            && schedule != config.schedule
        {
            // The file's swiss rounds do not carry over to the schedule the flag chose instead.
            config.rounds = None;
            config.schedule = schedule;
        }
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

/// After the results: an error naming the matches the game's own code stopped, if any (the
/// others are stored; `--resume` plays them again).
fn broken_matches(outcome: &TournamentOutcome) -> Result<()> {
    let Some((index, message)) = outcome.broken.first() else { return Ok(()) };
    for (index, message) in outcome.broken.iter().skip(1).take(4) {
        eprintln!("match {index}: {message}");
    }
    bail!(
        "{} matches could not be played (the game stopped them; the other results are kept{}); match {index}: {message}",
        outcome.broken.len(),
        if outcome.tournament_id.is_some() { ", and --resume plays these again" } else { "" }
    )
}

/// Whether a person at this terminal (the `human` agent) takes a seat or judges.
fn has_person(config: &TournamentConfig) -> bool {
    config
        .agents
        .iter()
        .chain(&config.judges)
        .any(|entry| agents::human::person_channel(&entry.agent) == Some(agents::human::Channel::Terminal))
}

/// Runs a tournament and prints standings and a crosstable.
pub fn tournament(args: &TournamentArgs, resources: &Resources, out: &mut dyn Write) -> Result<()> {
    let config = args.config()?;
    let person = has_person(&config);
    let options = RunOptions {
        threads: if person { 1 } else { args.threads },
        db: args.db.clone(),
        resume: args.resume,
        // With a store the judges' verdicts are read back from it.
        collect_results: !config.judges.is_empty() && args.db.is_none(),
        workers_only: args.workers_only,
        report_broken: true,
        ..RunOptions::default()
    };
    let outcome = run_tournament(&config, resources, &options, &Bars::new(!args.json && !person))?;
    let judges = judge_reports(&config, &outcome, args.db.as_ref())?;
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
            "faults": faults_json(&outcome.tally, &config),
            "games_per_s": outcome.games_per_second(),
            "judges": judges,
            "tournament_id": outcome.tournament_id,
        });
        writeln!(out, "{value}")?;
        return broken_matches(&outcome);
    }
    writeln!(out, "{} — {} tournament, {} games", outcome.game, config.schedule, outcome.tally.games())?;
    let names: Vec<String> = outcome.names.iter().map(|name| printable(name)).collect();
    let width = names.iter().map(|s| s.chars().count()).max().unwrap_or(4).max(4);
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
            printable(&s.name),
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
    // Columns are numbered like the rows: names cut to fit could collide.
    writeln!(out, "\ncrosstable (row's wins-draws-losses against column #n, the n-th row):")?;
    let cell = 11;
    let label = width + 5;
    write!(out, "{:<label$}", "")?;
    for j in 1..=n {
        write!(out, "  {:>cell$}", format!("#{j}"))?;
    }
    writeln!(out)?;
    for (i, name) in names.iter().enumerate() {
        write!(out, "{:<label$}", format!("{:>3}. {name}", format!("#{}", i + 1)))?;
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
    write_end_reasons(out, &outcome.tally, &config)?;
    write_judges(out, &judges)?;
    write_speed(out, &outcome, options.threads, args.db.as_ref())?;
    broken_matches(&outcome)
}

/// The report as an aligned table.
fn write_judge_table(out: &mut dyn std::io::Write, reports: &[JudgeReport]) -> std::io::Result<()> {
    let width = reports.iter().map(|r| printable(&r.name).chars().count()).max().unwrap_or(5).max(5);
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
        let rating =
            format!("{:+.0} [{}, {}]", r.rating, bound(r.rating_low, "no bound"), bound(r.rating_high, "no bound"));
        writeln!(
            out,
            "{:<width$}  {:>8}  {:>5.1}% [{:>4.1}, {:>5.1}]  {:>20}  {:>8.1}%  {:>7.1}%  {:>+7.1}%  {:>+9.1}%  {:>5.1}% of {}",
            printable(&r.name),
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
