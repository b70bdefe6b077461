//! `arena evolve`: the self-evolution loop. Before generation 1 the fixed anchors (`random` = 0
//! and a ladder of `mcts` agents) are calibrated among themselves ([`anchors`]). Each generation:
//! a tournament among the population, earlier champions (the league) and the anchors, rated by
//! Bradley–Terry with the anchors held at their calibrated ratings ([`selection`]); self-play of the selected parents with PUCT search into a filtered dataset
//! ([`selfplay`]), part of it against the opponents that beat them most ([`pfsp`]); children trained from their parents' weights; a gate match of each child
//! against its parent ([`gate`]); lineage ([`lineage`]) and a summary ([`summary`]), in the run
//! directory ([`run_dir`]) and the run's store. With an `[llm]` section the population is language
//! models ([`language`]): the base model is the zero anchor, the data are the winners' turns of
//! the generation's games through the text filter, children are LoRA fine-tunes, and the champion
//! is measured on a held-out evaluation every generation.
//!
//! Every step leaves an artifact, written atomically; a resumed run skips the steps whose
//! artifacts exist and redoes the rest, deterministically, so it ends in the same state as an
//! uninterrupted run with the same thread count.

pub mod anchors;
pub mod approval;
pub mod config;
pub mod contexts;
pub mod flags;
pub mod gate;
pub mod language;
pub mod lineage;
pub mod pfsp;
pub mod run_dir;
pub mod selection;
pub mod selfplay;
pub mod summary;

use std::path::PathBuf;
use std::time::Instant;

use agents::checkpoint::Checkpoint;
use agents::network::Architecture;
use agents::{AgentConfig, CheckpointAgentConfig};

pub use config::EvolveConfig;
pub use language::{LanguageConfig, LanguageGeneration};
pub use summary::{GateDecision, GateResult, GenerationSummary, RatedAgent, SuiteAccuracy, history};

use crate::engine::seeds::{EvolveStream, evolve_seed};
use crate::engine::tournament::AgentEntry;
use crate::error::{Context, Result, bail};
use crate::progress::Progress;
use crate::resources::Resources;
use crate::store::{GenerationRow, RatingRow, Store};
use crate::training::{Dataset, TrainReport, train_on_threads};
use lineage::{Entry, Lineage, Status};
use run_dir::RunDir;

/// The run's HTML report (`arena report`), rewritten at the end of every generation.
pub const REPORT_FILE: &str = "report.html";

/// The first checkpoint of every run: a new network, or the base language model.
pub const FIRST: &str = "g0";

/// How to run (none of it changes the results, except that training is reproducible only with
/// the same thread count).
#[derive(Clone, Debug)]
pub struct EvolveOptions {
    pub run_dir: PathBuf,
    pub threads: usize,
    pub resume: bool,
    /// The run's store: `None` is the run directory's `arena.db`; a shared (PostgreSQL) store
    /// puts the run's tournaments, gates and self-play games out for `arena worker` processes.
    pub db: Option<crate::store::StoreLocation>,
    /// With a shared store: leave every game to the workers (this process trains and decides).
    pub workers_only: bool,
    /// Ask a person to approve or veto each promotion (`--approve`).
    pub approve: Option<approval::Approver>,
}

impl EvolveOptions {
    /// A new run in `run_dir` on `threads` threads: its own SQLite store, every game played
    /// here, no person asked.
    pub fn new(run_dir: PathBuf, threads: usize) -> Self {
        EvolveOptions { run_dir, threads, resume: false, db: None, workers_only: false, approve: None }
    }
}

/// Runs (or resumes) an evolve run with the games and models of `resources`; returns the
/// summaries of every generation.
pub fn evolve(
    config: &EvolveConfig,
    options: &EvolveOptions,
    resources: &Resources,
    progress: &dyn Progress,
) -> Result<Vec<GenerationSummary>> {
    let game = resources.load_game(&config.game)?;
    config::check_config(config)?;
    let architecture = match config.llm {
        Some(_) => None,
        None => {
            let architecture = Architecture::parse(&config.architecture)
                .with_context(|| format!("architecture `{}`", config.architecture))?;
            architecture.check_fits(game.facts())?;
            Some(architecture)
        }
    };
    // Read (and checked) before any work: a bad suite fails the run at once.
    let suite = match &config.suite {
        Some(path) => Some(crate::suite::read_suite(path, game.as_ref())?),
        None => None,
    };
    let shared = options.db.as_ref().is_some_and(|db| db.is_shared());
    if options.workers_only && !shared {
        bail!("--workers-only needs a store that workers share: --db postgres://...");
    }
    let run = RunDir::open(&options.run_dir, config, options.threads, options.resume)?;
    let context = Generation { config, options, resources, run: &run, progress };
    let mut store = Store::connect(&context.store_location())?;

    if config.llm.is_some() {
        context.keep_first_context()?;
    }
    let mut lineage = Lineage::load(run.path())?;
    if lineage.entry(FIRST).is_none() {
        let (hash, path) = match (&config.llm, architecture) {
            (Some(language), _) => (context.language_hash(FIRST)?, language::lineage_path(language, FIRST)),
            (None, Some(architecture)) => {
                let mut checkpoint = Checkpoint::init(&game, architecture, config.seed)?;
                checkpoint.set_lineage(0, Vec::new());
                (checkpoint.save(&run.checkpoint_dir(FIRST))?, RunDir::checkpoint_relative(FIRST))
            }
            (None, None) => unreachable!("a run without [llm] has an architecture"),
        };
        let entry = Entry {
            name: FIRST.into(),
            generation: 0,
            hash,
            path,
            status: Status::Initial,
            dataset: None,
            gate: None,
            operator: None,
            context: None,
        };
        store.record_checkpoint(&entry.row(), &[], None)?;
        lineage.add(entry, &[]);
        lineage.save(run.path())?;
    }

    // Board-game runs hold their anchors at ratings calibrated once, so generations share a scale.
    let calibration = match config.llm {
        Some(_) => None,
        None => Some(context.calibrated_anchors()?),
    };

    let mut summaries = Vec::new();
    let mut population = vec![FIRST.to_string()];
    let mut champions: Vec<String> = Vec::new();
    for generation in 1..=config.generations + 1 {
        if let Some(summary) = run.summary(generation)? {
            progress.log(&format!("generation {generation}: done before, resumed past it"));
            population = summary.population.clone();
            champions.push(summary.champion.clone());
            summaries.push(summary);
            continue;
        }
        let last = generation == config.generations + 1;
        let mut seconds = Vec::new();
        let mut clock = Instant::now();
        let mut lap = |name: &str, clock: &mut Instant| {
            seconds.push((name.to_string(), clock.elapsed().as_secs_f64()));
            *clock = Instant::now();
        };

        // 1. Tournament: population, league, anchors; the champion and the parents.
        let league = selection::league(&champions, &population, config.league);
        let rated = context.rate(generation, &population, &league, calibration.as_ref())?;
        lap("tournament", &mut clock);
        let champion = rated.champion().clone();
        champions.push(champion.name.clone());
        progress.log(&format!(
            "generation {generation}: champion {} rating {:+.0} [{:+.0}, {:+.0}] vs anchors {}",
            champion.name,
            champion.rating,
            champion.ci_low,
            champion.ci_high,
            rated.vs_anchors.iter().map(|(a, s)| format!("{a} {:.0}%", 100.0 * s)).collect::<Vec<_>>().join(", ")
        ));

        let mut summary = GenerationSummary {
            generation,
            champion: champion.name.clone(),
            champion_rating: champion.rating,
            champion_ci: (champion.ci_low, champion.ci_high),
            champion_vs_anchors: rated.vs_anchors.clone(),
            ratings: rated.ratings.clone(),
            tournament_games: rated.games,
            tournament_id: rated.tournament_id,
            parents: Vec::new(),
            dataset: None,
            training: Vec::new(),
            gates: Vec::new(),
            population: population.clone(),
            seconds: Vec::new(),
            language: None,
            suite: None,
            flags: Vec::new(),
            pfsp: Vec::new(),
        };
        if let Some(positions) = &suite {
            let measure = |sims: u32| {
                let agent = AgentConfig::Checkpoint(context.checkpoint(&champion.name, sims));
                crate::suite::run_suite(&game, positions, &agent, resources, options.threads, config.seed, progress)
            };
            let raw = measure(0)?;
            let accuracy = SuiteAccuracy {
                raw: raw.overall,
                search: measure(config.tournament_sims)?.overall,
                raw_stages: raw.stages,
            };
            progress.log(&format!(
                "generation {generation}: {} on the suite: optimal moves {} raw, {} with {} simulations",
                champion.name, accuracy.raw.optimal, accuracy.search.optimal, config.tournament_sims
            ));
            summary.suite = Some(accuracy);
            lap("suite", &mut clock);
        }
        if config.llm.is_some() {
            // The champion on the held-out evaluation, every generation (the first: the base model).
            let held_out = context.held_out(&champion.name)?;
            progress.log(&format!("generation {generation}: held-out {}", language::describe(&held_out)));
            summary.language = Some(LanguageGeneration { held_out: Some(held_out), ..LanguageGeneration::default() });
            lap("held-out", &mut clock);
        }
        if !last {
            // 2. Selection.
            let parents = rated.parents(config.parents);
            summary.parents = parents.clone();

            // 3. Data and 4. training.
            let mut children = Vec::new();
            let mut operators = std::collections::HashMap::new();
            let dataset_path;
            if let Some(generation_summary) = summary.language.as_mut() {
                let data = context.language_data(generation, &parents, rated.tournament_id)?;
                lap("data", &mut clock);
                dataset_path = Some(data.path.clone());
                let language = config.llm.as_ref().context("a language-model run has an [llm] section")?;
                for (p, parent) in parents.iter().enumerate() {
                    for k in 0..config.children_per_parent {
                        let name = format!("g{generation}c{}", p * config.children_per_parent + k);
                        let seed = evolve_seed(config.seed, generation, EvolveStream::Training { parent: p, child: k });
                        let operator = language.operator(k);
                        if operator != contexts::Operator::Finetune {
                            let child = context.context_child(generation, parent, &name, operator, &data, seed)?;
                            if child.skipped.is_none() {
                                operators.insert(name.clone(), (operator, Some(child.diff.summary())));
                                children.push((name, parent.clone()));
                            }
                            generation_summary.contexts.push(child);
                            continue;
                        }
                        if data.kept == 0 {
                            progress.log(&format!(
                                "generation {generation}: no training data ({} matches, {} faulted, {} texts checked, {} passed the filter); no {name}",
                                data.filter.matches, data.filter.faulted_matches, data.filter.total, data.filter.kept
                            ));
                            continue;
                        }
                        let training = context.finetune_child(generation, parent, &name, &data, seed)?;
                        context.inherit_context(parent, &name)?;
                        generation_summary.training.push(training);
                        operators.insert(name.clone(), (operator, None));
                        children.push((name, parent.clone()));
                    }
                }
                generation_summary.data = Some(data);
            } else {
                summary.pfsp = context.pfsp_plan(&parents, &rated);
                summary.dataset = Some(context.selfplay(generation, &parents, &game, &rated, &summary.pfsp)?);
                lap("selfplay", &mut clock);
                dataset_path = Some(RunDir::dataset_relative(generation));
                let window = context.replay_window(generation)?;
                for (p, parent) in parents.iter().enumerate() {
                    for k in 0..config.children_per_parent {
                        let name = format!("g{generation}c{}", p * config.children_per_parent + k);
                        let seed = evolve_seed(config.seed, generation, EvolveStream::Training { parent: p, child: k });
                        let report = context.train_child(generation, parent, &name, &window, seed)?;
                        summary.training.push((name.clone(), report));
                        children.push((name, parent.clone()));
                    }
                }
            }
            lap("training", &mut clock);

            // 5. Gates and lineage.
            let mut promoted = Vec::new();
            for (child, parent) in &children {
                let (mut gate, gate_tournaments) = context.gate(generation, child, parent)?;
                if let Some(approver) = options.approve.as_ref().filter(|_| gate.decision.promoted()) {
                    // A decision recorded before a kill stands; otherwise a person is asked.
                    let recorded = lineage.entry(child).and_then(|e| e.gate.as_ref()).and_then(|g| g.approval.clone());
                    gate.approval = Some(match recorded {
                        Some(approval) => approval,
                        None => {
                            let request = context.approval_request(generation, &gate, &gate_tournaments, &summary)?;
                            context.decide(approver, &request)?
                        }
                    });
                }
                if lineage.entry(child).is_none() {
                    let hash = match config.llm {
                        Some(_) => context.language_hash(child)?,
                        None => Checkpoint::load_in(&run.checkpoint_dir(child), resources.games())?.hash().to_string(),
                    };
                    let entry = Entry {
                        name: child.clone(),
                        generation,
                        hash,
                        path: RunDir::checkpoint_relative(child),
                        status: gate.status(),
                        dataset: dataset_path.clone(),
                        gate: Some(gate.clone()),
                        operator: operators.get(child).map(|(o, _)| o.as_str().to_string()),
                        context: operators.get(child).and_then(|(_, diff)| diff.clone()),
                    };
                    store.record_checkpoint(&entry.row(), &[parent.as_str()], Some(&serde_json::to_string(&gate)?))?;
                    lineage.add(entry, &[parent.as_str()]);
                }
                if gate.promoted() {
                    promoted.push(child.clone());
                }
                summary.gates.push(gate);
            }
            lineage.save(run.path())?;
            // The pool of mutation instructions learns from this generation's gates.
            if let Some(language) = summary
                .language
                .as_mut()
                .filter(|_| config.llm.as_ref().is_some_and(|l| l.operators.contains(&contexts::Operator::Mutation)))
            {
                let seed = evolve_seed(config.seed, generation, EvolveStream::MutationPool);
                language.pool =
                    Some(context.evolve_pool(generation, &champion.name, &language.contexts, &summary.gates, seed)?);
            }
            lap("gates", &mut clock);

            // The next population: promoted children first, then the best of the current one.
            let mut next = promoted;
            next.extend(rated.ranked.iter().map(|r| r.name.clone()));
            next.dedup();
            next.truncate(config.population.max(1));
            population = next;
            summary.population = population.clone();
        }
        summary.seconds = seconds;
        if let Some(previous) = summaries.last() {
            summary.flags = flags::flags(previous, &summary);
            for flag in &summary.flags {
                progress.log(&format!("generation {generation}: FLAG {}: {}", flag.kind.as_str(), flag.detail));
            }
        }
        record_generation(&mut store, &lineage, &summary)?;
        run.save_summary(&summary)?;
        summaries.push(summary);
        // The report is a view of what is recorded: a failure to write it costs the view, not the run.
        let report = run.path().join(REPORT_FILE);
        if let Err(error) = crate::report::write_report(&crate::report::Source::Run(run.path().to_path_buf()), &report)
        {
            progress.log(&format!("generation {generation}: the report {} was not written: {error}", report.display()));
        }
    }
    Ok(summaries)
}

/// Writes a generation and its ratings (with each checkpoint's content hash) into the store.
fn record_generation(store: &mut Store, lineage: &Lineage, summary: &GenerationSummary) -> Result<()> {
    let row = GenerationRow {
        generation: summary.generation,
        tournament_id: summary.tournament_id,
        champion: summary.champion.clone(),
        summary: serde_json::to_string(summary)?,
    };
    let ratings: Vec<RatingRow> = summary
        .ratings
        .iter()
        .map(|r| RatingRow {
            agent: r.name.clone(),
            checkpoint_hash: lineage.entry(&r.name).map(|e| e.hash.clone()),
            rating: r.rating,
            ci_low: r.ci_low,
            ci_high: r.ci_high,
            games: r.games,
            score: r.score,
        })
        .collect();
    store.record_generation(&row, &ratings)
}

/// What every step of a generation needs.
struct Generation<'a> {
    config: &'a EvolveConfig,
    options: &'a EvolveOptions,
    resources: &'a Resources,
    run: &'a RunDir,
    progress: &'a dyn Progress,
}

impl Generation<'_> {
    /// The run's store: `--db`, or the run directory's `arena.db`.
    fn store_location(&self) -> crate::store::StoreLocation {
        self.options.db.clone().unwrap_or_else(|| self.run.db().into())
    }

    /// Whether workers play the run's games (its store is shared).
    fn shared_store(&self) -> bool {
        self.options.db.as_ref().is_some_and(|db| db.is_shared())
    }

    /// A checkpoint of the run searching with `sims` simulations (the `checkpoint` agent's
    /// defaults otherwise).
    fn checkpoint(&self, name: &str, sims: u32) -> CheckpointAgentConfig {
        CheckpointAgentConfig {
            sims: sims as usize,
            win_check: self.config.search_win_check,
            discount: self.config.search_discount,
            ..CheckpointAgentConfig::new(self.run.checkpoint_dir(name))
        }
    }

    /// A checkpoint of the run as it plays in tournaments and gates.
    fn tournament_agent(&self, name: &str) -> Result<AgentEntry> {
        if self.config.llm.is_some() {
            return self.language_agent(name);
        }
        Ok(AgentEntry::new(name, AgentConfig::Checkpoint(self.checkpoint(name, self.config.tournament_sims))))
    }

    /// Trains `name` from `parent` on `data` (or reads the report of a child trained before a kill).
    fn train_child(&self, generation: u32, parent: &str, name: &str, data: &Dataset, seed: u64) -> Result<TrainReport> {
        let dir = self.run.checkpoint_dir(name);
        if dir.join(agents::checkpoint::INFO_FILE).exists() {
            let existing = Checkpoint::load_in(&dir, self.resources.games())?;
            if let Some(report) = existing.info().training.as_ref().and_then(|t| t.get("report")).cloned() {
                return Ok(serde_json::from_value(report)?);
            }
        }
        let parent_checkpoint = Checkpoint::load_in(&self.run.checkpoint_dir(parent), self.resources.games())?;
        let mut child = parent_checkpoint.child()?;
        self.progress
            .log(&format!("generation {generation}: training {name} from {parent} on {} positions", data.len()));
        let report = train_on_threads(&mut child, data, &self.config.train, seed, self.options.threads, self.progress)?;
        child.set_lineage(generation, vec![parent_checkpoint.hash().to_string()]);
        child.set_training(serde_json::json!({
            "dataset": RunDir::dataset_relative(generation),
            "replay_window": self.config.replay_window,
            "config": self.config.train,
            "report": report,
        }));
        child.save(&dir)?;
        self.progress.log(&format!(
            "generation {generation}: {name} trained: policy loss {:.3} → {:.3}, value loss {:.3} → {:.3}",
            report.first_epoch_policy_loss,
            report.last_epoch_policy_loss,
            report.first_epoch_value_loss,
            report.last_epoch_value_loss
        ));
        Ok(report)
    }
}
