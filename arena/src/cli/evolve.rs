//! `arena evolve` (the self-evolution loop) and `arena history` (its rating progress).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Result;
use arena::Resources;
use arena::evolve::approval::{self, Approver};
use arena::evolve::run_dir::RunDir;
use arena::evolve::{EvolveConfig, EvolveOptions, GenerationSummary, LanguageGeneration};

use super::{Bars, at_least_one, default_threads};

/// Arguments of `arena evolve`.
#[derive(Debug, clap::Args)]
pub struct EvolveArgs {
    /// A TOML config with every setting (see `EvolveConfig`); flags below override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The run's name, a plain name: the run lives in `runs/NAME/`.
    #[arg(long, default_value = "default")]
    pub name: String,
    /// The run directory, any path (instead of `runs/NAME`); `arena history --run` reads it.
    #[arg(long = "run", visible_alias = "run-dir", value_name = "DIR")]
    pub run_dir: Option<PathBuf>,
    /// The game of a board-game run, e.g. `connect_four` (the config's `game`).
    #[arg(long)]
    pub game: Option<String>,
    /// Generations to run (the config's `generations`).
    #[arg(long)]
    pub generations: Option<u32>,
    /// Checkpoints kept in the population.
    #[arg(long)]
    pub population: Option<usize>,
    /// PUCT simulations per move in self-play.
    #[arg(long)]
    pub sims: Option<u32>,
    /// Games per pairing in each generation's tournament.
    #[arg(long)]
    pub games_per_pairing: Option<u32>,
    /// Self-play games per parent.
    #[arg(long)]
    pub selfplay_games: Option<u32>,
    /// The match and run seed (the config's `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// The base GGUF of a language-model run (the config's `[llm] model`).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// A position suite the champion is measured on every generation (the config's `suite`).
    #[arg(long)]
    pub suite: Option<PathBuf>,
    /// Worker threads (game workers, each running its own forward passes; training uses as many;
    /// default: this machine's cores).
    #[arg(long, default_value_t = default_threads(), value_parser = at_least_one::<usize>)]
    pub threads: usize,
    /// Continue the killed run in the run directory (an error if there is none).
    #[arg(long)]
    pub resume: bool,
    /// The run's store (default: the run directory's arena.db); a PostgreSQL URL puts the run's
    /// tournaments, gates and self-play games out for `arena worker` processes.
    #[arg(long, value_name = "FILE|URL")]
    pub db: Option<arena::store::StoreLocation>,
    /// With a PostgreSQL --db: play no game here, leave them all to `arena worker` processes
    /// (this process trains, rates and gates).
    #[arg(long)]
    pub workers_only: bool,
    /// Before each promotion, show the gate, the measures and sample games, and ask a person to
    /// approve or veto it: in this terminal (`--approve`), or on `arena serve`'s approve page over
    /// the run's store (`--approve web`). The decision and who made it go into the lineage.
    #[arg(long, value_enum, num_args = 0..=1, default_missing_value = "terminal")]
    pub approve: Option<ApproveIn>,
    /// Who approves in the terminal, as recorded (default: the login name).
    #[arg(long, requires = "approve")]
    pub approver: Option<String>,
    /// No progress bars or progress lines.
    #[arg(long)]
    pub quiet: bool,
    /// Print the generations' summaries as one JSON document instead of the table.
    #[arg(long)]
    pub json: bool,
}

impl EvolveArgs {
    pub fn config(&self) -> Result<EvolveConfig> {
        let mut config = match &self.config {
            Some(path) => EvolveConfig::from_toml_file(path)?,
            None => EvolveConfig::default(),
        };
        if let Some(game) = &self.game {
            config.game = game.clone();
        }
        config.generations = self.generations.unwrap_or(config.generations);
        config.population = self.population.unwrap_or(config.population);
        config.selfplay_sims = self.sims.unwrap_or(config.selfplay_sims);
        config.tournament_games_per_pairing = self.games_per_pairing.unwrap_or(config.tournament_games_per_pairing);
        config.selfplay_games = self.selfplay_games.unwrap_or(config.selfplay_games);
        config.seed = self.seed.unwrap_or(config.seed);
        if let Some(suite) = &self.suite {
            config.suite = Some(suite.clone());
        }
        if let Some(model) = &self.model {
            match config.llm.as_mut() {
                Some(language) => language.model = model.clone(),
                None => anyhow::bail!("--model is for language-model runs: give a config with an [llm] section"),
            }
        }
        Ok(config)
    }
}

/// Where a person approves promotions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ApproveIn {
    /// In this terminal.
    Terminal,
    /// On `arena serve --db STORE`'s /approve page.
    Web,
}

/// Runs the evolve loop and prints the rating history.
pub fn evolve(args: &EvolveArgs, resources: &Resources, out: &mut dyn Write) -> Result<()> {
    let config = args.config()?;
    let run_dir = match &args.run_dir {
        Some(dir) => dir.clone(),
        None => RunDir::named(Path::new("runs"), &args.name)?,
    };
    let options = EvolveOptions {
        run_dir: run_dir.clone(),
        threads: args.threads,
        resume: args.resume,
        db: args.db.clone(),
        workers_only: args.workers_only,
        approve: args.approve.map(|place| match place {
            ApproveIn::Terminal => Approver::Terminal(args.approver.clone().unwrap_or_else(approval::default_approver)),
            ApproveIn::Web => Approver::Web,
        }),
    };
    let started = std::time::Instant::now();
    let summaries = arena::evolve::evolve(&config, &options, resources, &Bars::new(!args.quiet && !args.json))?;
    if args.json {
        let document = serde_json::json!({
            "run": run_dir,
            "game": config.game,
            "seconds": started.elapsed().as_secs_f64(),
            "threads": options.threads,
            "generations": summaries,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&document)?)?;
        return Ok(());
    }
    writeln!(
        out,
        "evolve run {} — {} in {:.0} s on {} threads",
        run_dir.display(),
        config.game,
        started.elapsed().as_secs_f64(),
        options.threads
    )?;
    write_history(out, &run_dir, &summaries)?;
    writeln!(
        out,
        "lineage: {0}/lineage.json, {0}/lineage.dot; report: {0}/{1}; history: arena history --run {0}",
        run_dir.display(),
        arena::evolve::REPORT_FILE
    )?;
    let flags = arena::evolve::flags::describe(&summaries);
    if !flags.is_empty() {
        writeln!(out, "finished with {} honesty flag(s): {}", flags.len(), flags.join("; "))?;
    }
    Ok(())
}

/// Arguments of `arena history`.
#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// The run directory.
    #[arg(long, visible_alias = "run-dir", value_name = "DIR", default_value = "runs/default")]
    pub run: PathBuf,
    /// Print the summaries as JSON instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// Prints each generation's champion with its rating, interval, scores against the anchors,
/// games, dataset size, gates and time.
pub fn history(args: &HistoryArgs, out: &mut dyn Write) -> Result<()> {
    let summaries = arena::evolve::history(&args.run)?;
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&summaries)?)?;
        return Ok(());
    }
    write_history(out, &args.run, &summaries)
}

fn write_history(out: &mut dyn Write, run_dir: &Path, summaries: &[GenerationSummary]) -> Result<()> {
    if let Some(calibration) = arena::evolve::anchors::read(run_dir)? {
        writeln!(
            out,
            "anchors, held at their ratings from a round robin of {} games: {}",
            calibration.games,
            calibration.describe()
        )?;
    }
    let anchors: Vec<String> =
        summaries.first().map(|s| s.champion_vs_anchors.iter().map(|(a, _)| a.clone()).collect()).unwrap_or_default();
    let column = |anchor: &str| (anchor.len() + 3).max(8);
    write!(out, "{:>4}  {:<8}  {:>7}  {:>15}", "gen", "champion", "rating", "95% CI")?;
    for anchor in &anchors {
        write!(out, "  {:>width$}", format!("vs {anchor}"), width = column(anchor))?;
    }
    writeln!(out, "  {:>6}  {:>8}  {:>15}  {:>7}", "games", "data", "gates", "seconds")?;
    for s in summaries {
        write!(
            out,
            "{:>4}  {:<8}  {:>+7.0}  {:>15}",
            s.generation,
            s.champion,
            s.champion_rating,
            format!("[{:+.0}, {:+.0}]", s.champion_ci.0, s.champion_ci.1)
        )?;
        for anchor in &anchors {
            let score =
                s.champion_vs_anchors.iter().find(|(a, _)| a == anchor).map(|(_, v)| format!("{:.0}%", 100.0 * v));
            write!(out, "  {:>width$}", score.unwrap_or_default(), width = column(anchor))?;
        }
        let promoted = s.gates.iter().filter(|g| g.promoted()).count();
        let gates =
            if s.gates.is_empty() { "—".to_string() } else { format!("{promoted}/{} promoted", s.gates.len()) };
        let language_data = s.language.as_ref().and_then(|l| l.data.as_ref()).map(|d| d.kept);
        let data = match (&s.dataset, language_data) {
            (Some(d), _) => d.positions.to_string(),
            (None, Some(kept)) => kept.to_string(),
            (None, None) => "—".to_string(),
        };
        let seconds: f64 = s.seconds.iter().map(|(_, t)| t).sum();
        writeln!(out, "  {:>6}  {:>8}  {:>15}  {:>7.0}", s.tournament_games, data, gates, seconds)?;
    }
    write_language_history(out, summaries)?;
    if summaries.iter().any(|s| s.suite.is_some()) {
        writeln!(out, "suite (the champion's optimal moves, 95% interval; raw policy / tournament search):")?;
        for s in summaries {
            if let Some(suite) = &s.suite {
                let share = |score: &arena::suite::SuiteScore| {
                    let o = score.optimal;
                    format!("{:.1}% [{:.1}, {:.1}]", 100.0 * o.share, 100.0 * o.low, 100.0 * o.high)
                };
                writeln!(
                    out,
                    "{:>4}  {:<8}  {:>22}  {:>22}",
                    s.generation,
                    s.champion,
                    share(&suite.raw),
                    share(&suite.search)
                )?;
            }
        }
    }
    let flags = arena::evolve::flags::describe(summaries);
    if summaries.len() > 1 {
        if flags.is_empty() {
            writeln!(out, "flags: none (each generation checked against the one before)")?;
        } else {
            writeln!(out, "FLAGS ({}):", flags.len())?;
            for line in &flags {
                writeln!(out, "  {line}")?;
            }
        }
    }
    write_suite_stages(out, summaries)?;
    write_pfsp(out, summaries)?;
    write_contexts(out, summaries)?;
    if let Some(last) = summaries.iter().rev().find(|s| !s.seconds.is_empty()) {
        let parts: Vec<String> = last.seconds.iter().map(|(step, t)| format!("{step} {t:.0} s")).collect();
        writeln!(out, "time in generation {}: {}", last.generation, parts.join(", "))?;
    }
    Ok(())
}

/// A language-model run's generations: the champion's rating against the base model, its
/// held-out scores and forfeit rates against the fixed opponents, the judge's held-out accuracy,
/// the training data kept and the fine-tuning loss.
fn write_language_history(out: &mut dyn Write, summaries: &[GenerationSummary]) -> Result<()> {
    let rows: Vec<(&GenerationSummary, &LanguageGeneration)> =
        summaries.iter().filter_map(|s| s.language.as_ref().map(|l| (s, l))).collect();
    // The opponents in the order of the latest evaluation (the first generation's champion, the
    // base model itself, does not play the base model).
    let Some(opponents) = rows.iter().rev().find_map(|(_, l)| l.held_out.as_ref()).map(|h| {
        let mut names: Vec<String> = h.scores.iter().map(|s| s.opponent.clone()).collect();
        for (_, l) in &rows {
            for score in l.held_out.iter().flat_map(|h| &h.scores) {
                if !names.contains(&score.opponent) {
                    names.push(score.opponent.clone());
                }
            }
        }
        names
    }) else {
        return Ok(());
    };
    let judged = rows.iter().any(|(_, l)| l.held_out.as_ref().is_some_and(|h| h.judge.is_some()));
    let quizzed = rows.iter().any(|(_, l)| l.held_out.as_ref().is_some_and(|h| h.accuracy.is_some()));
    let labeled = rows.iter().any(|(_, l)| l.data.as_ref().is_some_and(|d| d.labels.is_some()));
    let proposed = rows.iter().any(|(_, l)| l.data.as_ref().is_some_and(|d| d.proposals.is_some()));
    writeln!(out, "held-out evaluation (score / forfeit rate of the champion against each fixed opponent):")?;
    write!(out, "{:>4}  {:<8}  {:>17}", "gen", "champion", "rating vs base")?;
    for opponent in &opponents {
        write!(out, "  {:>17}", format!("vs {opponent}"))?;
    }
    if judged {
        write!(out, "  {:>20}", "judge accuracy")?;
    }
    if quizzed {
        write!(out, "  {:>20}  {:>6}", "held-out accuracy", "chars")?;
    }
    if labeled {
        write!(out, "  {:>20}  {:>20}", "pass rate", "labels right")?;
    }
    if proposed {
        write!(out, "  {:>14}", "proposals kept")?;
    }
    writeln!(out, "  {:>6}  {:>15}", "data", "loss")?;
    for &(s, language) in &rows {
        write!(
            out,
            "{:>4}  {:<8}  {:>17}",
            s.generation,
            s.champion,
            format!("{:+.0} [{:+.0}, {:+.0}]", s.champion_rating, s.champion_ci.0, s.champion_ci.1)
        )?;
        let held_out = language.held_out.as_ref();
        for opponent in &opponents {
            let cell = held_out
                .and_then(|h| h.scores.iter().find(|score| &score.opponent == opponent))
                .map(|score| format!("{:.0}% / {:.0}%", 100.0 * score.score, 100.0 * score.forfeit_rate()))
                .unwrap_or_else(|| "—".to_string());
            write!(out, "  {cell:>17}")?;
        }
        if judged {
            let cell = held_out
                .and_then(|h| h.judge.as_ref())
                .map(|j| {
                    format!(
                        "{:.0}% [{:.0}, {:.0}]",
                        100.0 * j.accuracy,
                        100.0 * j.accuracy_low,
                        100.0 * j.accuracy_high
                    )
                })
                .unwrap_or_else(|| "—".to_string());
            write!(out, "  {cell:>20}")?;
        }
        let share =
            |s: &arena::suite::Share| format!("{:.0}% [{:.0}, {:.0}]", 100.0 * s.share, 100.0 * s.low, 100.0 * s.high);
        if quizzed {
            let accuracy = held_out.and_then(|h| h.accuracy.as_ref());
            let cell = accuracy.map(|a| share(&a.accuracy)).unwrap_or_else(|| "—".to_string());
            let chars = accuracy.map(|a| format!("{:.0}", a.mean_chars)).unwrap_or_else(|| "—".to_string());
            write!(out, "  {cell:>20}  {chars:>6}")?;
        }
        if labeled {
            let labels = language.data.as_ref().and_then(|d| d.labels.as_ref());
            let pass = labels.map(|l| share(&l.samples.accuracy)).unwrap_or_else(|| "—".to_string());
            let right = labels
                .map(|l| format!("{} of {}", share(&l.label_accuracy), l.labeled_tasks))
                .unwrap_or_else(|| "—".to_string());
            write!(out, "  {pass:>20}  {right:>20}")?;
        }
        if proposed {
            let cell = language
                .data
                .as_ref()
                .and_then(|d| d.proposals.as_ref())
                .map(|p| format!("{} of {}", p.accepted, p.proposed))
                .unwrap_or_else(|| "—".to_string());
            write!(out, "  {cell:>14}")?;
        }
        let data = language.data.as_ref().map(|d| d.kept.to_string()).unwrap_or_else(|| "—".to_string());
        let loss = match language.training.first() {
            Some(t) => format!("{:.3} → {:.3}", t.first_loss, t.last_loss),
            None => "—".to_string(),
        };
        writeln!(out, "  {data:>6}  {loss:>15}")?;
    }
    write_weaknesses(out, &rows)?;
    Ok(())
}

/// An in-context run's children: the operator that made each, what it changed in its parent's
/// context, the operator's counts and its gate; then the pool of mutation instructions.
fn write_contexts(out: &mut dyn Write, summaries: &[GenerationSummary]) -> Result<()> {
    use arena::evolve::contexts::ContextChild;
    let children: Vec<(&GenerationSummary, &ContextChild)> = summaries
        .iter()
        .flat_map(|s| s.language.iter().flat_map(move |l| l.contexts.iter().map(move |c| (s, c))))
        .collect();
    if children.is_empty() {
        return Ok(());
    }
    writeln!(out, "context children (operator: what changed; gate against the parent):")?;
    for (s, c) in children {
        let detail = match (&c.experience, &c.lessons, &c.mutation) {
            (Some(e), _, _) => format!(
                "{} of {} won answers, {} openings, {} tokens",
                e.chosen, e.candidates, e.chosen_groups, e.tokens
            ),
            (_, Some(l), _) => format!(
                "{} lessons kept of {} written from {} lost games (dropped: {} empty, {} too long, {} filtered, {} duplicates)",
                l.kept, l.written, l.games, l.empty, l.too_long, l.filtered, l.duplicates
            ),
            (_, _, Some(m)) => format!("instruction \"{}\"", m.instruction),
            _ => String::new(),
        };
        if let Some(reason) = &c.skipped {
            writeln!(
                out,
                "{:>4}  {:<8} {:<10} from {:<8} not made: {reason}; {detail}",
                s.generation,
                c.child,
                c.operator.as_str(),
                c.parent
            )?;
            continue;
        }
        let gate = s
            .gates
            .iter()
            .find(|g| g.child == c.child)
            .map(|g| {
                let verdict = if g.promoted() { "promoted" } else { "rejected" };
                format!("{:.0}% over {} games, {verdict}", 100.0 * g.score, g.games)
            })
            .unwrap_or_else(|| "—".to_string());
        writeln!(
            out,
            "{:>4}  {:<8} {:<10} from {:<8} {}; {detail}; gate {gate}",
            s.generation,
            c.child,
            c.operator.as_str(),
            c.parent,
            c.diff.summary()
        )?;
    }
    if let Some(pool) = summaries.iter().rev().find_map(|s| s.language.as_ref().and_then(|l| l.pool.as_ref())) {
        writeln!(out, "mutation instructions (children, mean gate score with one even prior):")?;
        for record in &pool.pool {
            writeln!(out, "  {:>2}  {:.2}  {}", record.children, record.mean(), record.instruction)?;
        }
    }
    Ok(())
}

/// A PFSP run's opponents: per generation and parent, its tournament score against each opponent
/// and the games that opponent got, the hardest first.
fn write_pfsp(out: &mut dyn Write, summaries: &[GenerationSummary]) -> Result<()> {
    if summaries.iter().all(|s| s.pfsp.is_empty()) {
        return Ok(());
    }
    writeln!(out, "PFSP opponents (the parent's tournament score against each → its games; the hardest first):")?;
    for s in summaries.iter().filter(|s| !s.pfsp.is_empty()) {
        for parent in &s.parents {
            let mut draws: Vec<_> = s.pfsp.iter().filter(|d| &d.parent == parent).collect();
            draws.sort_by(|a, b| a.score.total_cmp(&b.score));
            let parts: Vec<String> =
                draws.iter().map(|d| format!("{} {:.0}% → {}", d.opponent, 100.0 * d.score, d.games)).collect();
            writeln!(out, "{:>4}  {:<8}  {}", s.generation, parent, parts.join(", "))?;
        }
    }
    Ok(())
}

/// A board-game run's self-assessment: each champion's raw-policy suite accuracy per stage of the
/// game, the latest champion's weakest stage first (rows), one column per generation.
fn write_suite_stages(out: &mut dyn Write, summaries: &[GenerationSummary]) -> Result<()> {
    let measured: Vec<(u32, &[arena::suite::SuiteScore])> =
        summaries.iter().filter_map(|s| s.suite.as_ref().map(|a| (s.generation, a.raw_stages.as_slice()))).collect();
    let Some((_, latest)) = measured.last() else { return Ok(()) };
    if latest.len() < 2 {
        return Ok(());
    }
    let mut stages: Vec<&arena::suite::SuiteScore> = latest.iter().collect();
    stages.sort_by(|a, b| a.optimal.share.total_cmp(&b.optimal.share));
    writeln!(out, "suite accuracy by stage (raw policy; the latest champion's weakest first):")?;
    write!(out, "{:<16}", "stage")?;
    for (generation, _) in &measured {
        write!(out, "  {:>8}", format!("gen {generation}"))?;
    }
    writeln!(out)?;
    for stage in stages {
        write!(out, "{:<16}", stage.stage)?;
        for (_, scores) in &measured {
            let cell = scores
                .iter()
                .find(|s| s.stage == stage.stage)
                .map(|s| format!("{:.1}%", 100.0 * s.optimal.share))
                .unwrap_or_else(|| "—".to_string());
            write!(out, "  {cell:>8}")?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// A quiz run's self-assessment: each champion's held-out accuracy per task kind, the weakest
/// kinds of the latest champion first, so whether its weaknesses shrank reads across a row.
fn write_weaknesses(out: &mut dyn Write, rows: &[(&GenerationSummary, &LanguageGeneration)]) -> Result<()> {
    let measured: Vec<(u32, &arena::text_data::answers::AnswerStats)> = rows
        .iter()
        .filter_map(|(s, l)| l.held_out.as_ref().and_then(|h| h.accuracy.as_ref()).map(|a| (s.generation, a)))
        .collect();
    let Some((_, latest)) = measured.last() else { return Ok(()) };
    if latest.by_kind.is_empty() {
        return Ok(());
    }
    writeln!(out, "held-out accuracy by task kind (the latest champion's weakest first):")?;
    write!(out, "{:<16}", "kind")?;
    for (generation, _) in &measured {
        write!(out, "  {:>12}", format!("gen {generation}"))?;
    }
    writeln!(out)?;
    for kind in latest.weakest_kinds() {
        write!(out, "{:<16}", kind.kind)?;
        for (_, stats) in &measured {
            let cell = stats
                .by_kind
                .iter()
                .find(|k| k.kind == kind.kind)
                .map(|k| format!("{:.0}% ({}/{})", 100.0 * k.accuracy(), k.right, k.of))
                .unwrap_or_else(|| "—".to_string());
            write!(out, "  {cell:>12}")?;
        }
        writeln!(out)?;
    }
    Ok(())
}
