//! `arena evolve`: the self-evolution loop. Each generation: a tournament among the population,
//! earlier champions (the league) and fixed anchors; Bradley–Terry ratings anchored at random = 0;
//! selection of parents; self-play with PUCT search into a filtered dataset; children trained from
//! their parents' weights; a gate match against the parent; lineage and a summary.
//!
//! Every step leaves an artifact in the run directory (the store, a dataset, a checkpoint, a
//! generation summary), written atomically; a resumed run skips the steps whose artifacts exist
//! and redoes the rest, deterministically, so it ends in the same state as an uninterrupted run
//! with the same thread count.

use std::path::{Path, PathBuf};
use std::time::Instant;

use agents::checkpoint::Checkpoint;
use agents::network::Architecture;
use anyhow::{Context, Result, bail};
use games::load_game;
use ratings::bradley_terry::{self, Anchor};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::dataset::{Dataset, DatasetStats};
use crate::files::write_atomically;
use crate::lineage::{Entry, Lineage, Status};
use crate::openings::OpeningSource;
use crate::runner::Keep;
use crate::schedule::ScheduleKind;
use crate::seeds::mix;
use crate::tally::Tally;
use crate::tournament::{AgentEntry, RunOptions, TournamentConfig, run_tournament};
use crate::train::{TrainConfig, TrainReport, train};

/// Everything that decides an evolve run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvolveConfig {
    pub game: String,
    pub generations: u32,
    /// The network of the first checkpoint, e.g. `mlp(hidden=256,layers=2)`. The default is an MLP:
    /// in measurements on connect four the small resnet's policy head barely learned within the
    /// time budget, while the MLP trained quickly and its search beat `mcts(sims=200)`.
    pub architecture: String,
    pub seed: u64,
    /// Checkpoints kept in the population.
    pub population: usize,
    /// Parents selected each generation (top by the lower end of the rating interval).
    pub parents: usize,
    pub children_per_parent: usize,
    /// Earlier champions kept in each tournament, so a generation cannot rise by beating itself.
    pub league: usize,
    /// The strength of the `mcts(sims=N)` anchor.
    pub anchor_sims: u32,
    pub tournament_games_per_pairing: u32,
    /// PUCT simulations of checkpoints in tournaments and gates.
    pub tournament_sims: u32,
    /// Random plies of each tournament and gate opening.
    pub opening_plies: u32,
    /// Self-play games per parent.
    pub selfplay_games: u32,
    pub selfplay_sims: u32,
    pub selfplay_temperature: f64,
    /// Self-play moves use the temperature only for this many plies, then the most visited move.
    pub selfplay_temperature_plies: u32,
    /// Generations of self-play data a child trains on.
    pub replay_window: u32,
    pub train: TrainConfig,
    /// Most games of a gate match (child against parent, seats alternated).
    pub gate_games: u32,
    /// The gate's SPRT, e.g. `elo0=0,elo1=50,alpha=0.1,beta=0.1`.
    pub gate_sprt: String,
    /// Score a child needs when the SPRT has not decided by `gate_games`.
    pub gate_threshold: f64,
    /// Bootstrap replicates for the rating intervals.
    pub bootstrap: usize,
}

impl Default for EvolveConfig {
    fn default() -> Self {
        EvolveConfig {
            game: "connect_four".to_string(),
            generations: 15,
            architecture: "mlp(hidden=256,layers=2)".to_string(),
            seed: 0,
            population: 2,
            parents: 1,
            children_per_parent: 1,
            league: 2,
            anchor_sims: 200,
            tournament_games_per_pairing: 20,
            tournament_sims: 64,
            opening_plies: 2,
            selfplay_games: 400,
            selfplay_sims: 96,
            selfplay_temperature: 1.0,
            selfplay_temperature_plies: 10,
            replay_window: 4,
            train: TrainConfig::default(),
            gate_games: 60,
            gate_sprt: "elo0=0,elo1=60,alpha=0.1,beta=0.1".to_string(),
            gate_threshold: 0.55,
            bootstrap: 200,
        }
    }
}

/// One agent's rating in a generation's tournament.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RatedAgent {
    pub name: String,
    pub rating: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub games: u64,
    pub score: f64,
}

/// A gate: a child against its parent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GateResult {
    pub child: String,
    pub parent: String,
    pub games: u64,
    pub score: f64,
    pub decision: String,
    pub promoted: bool,
}

/// What one generation did (`generations/gen-N.json`), the basis of `arena history`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GenerationSummary {
    pub generation: u32,
    pub champion: String,
    pub champion_rating: f64,
    pub champion_ci: (f64, f64),
    /// The champion's score against each anchor in the tournament.
    pub champion_vs_anchors: Vec<(String, f64)>,
    pub ratings: Vec<RatedAgent>,
    pub tournament_games: u64,
    pub parents: Vec<String>,
    pub dataset: Option<DatasetStats>,
    pub training: Vec<(String, TrainReport)>,
    pub gates: Vec<GateResult>,
    /// The population after this generation.
    pub population: Vec<String>,
    /// Seconds spent in each step.
    pub seconds: Vec<(String, f64)>,
}

/// How to run (none of it changes the results, except that training is reproducible only with
/// the same thread count).
#[derive(Clone, Debug)]
pub struct EvolveOptions {
    pub run_dir: PathBuf,
    pub threads: usize,
    pub resume: bool,
    pub progress: bool,
}

/// The run's state file: the config and the thread count it was started with.
#[derive(Serialize, Deserialize)]
struct RunRecord {
    config: EvolveConfig,
    threads: usize,
}

/// Runs (or resumes) an evolve run; returns the summaries of every generation.
pub fn evolve(
    config: &EvolveConfig,
    options: &EvolveOptions,
    log: &mut dyn FnMut(&str),
) -> Result<Vec<GenerationSummary>> {
    let run = Run::open(config, options)?;
    let game = load_game(&config.game)?;
    let architecture = Architecture::parse(&config.architecture)
        .map_err(|e| anyhow::anyhow!("architecture `{}`: {e}", config.architecture))?;
    architecture.check_fits(game.facts()).map_err(|e| anyhow::anyhow!("{e}"))?;
    check_config(config)?;

    let mut lineage = Lineage::load(&run.dir)?;
    let first = "g0";
    if lineage.entry(first).is_none() {
        let mut checkpoint = Checkpoint::init(&game, architecture, config.seed).map_err(|e| anyhow::anyhow!("{e}"))?;
        checkpoint.set_lineage(0, Vec::new());
        let hash = checkpoint.save(&run.checkpoint_dir(first)).map_err(|e| anyhow::anyhow!("{e}"))?;
        lineage.add(
            Entry {
                name: first.into(),
                generation: 0,
                hash,
                path: format!("checkpoints/{first}"),
                status: Status::Initial,
                dataset: None,
                gate: None,
            },
            &[],
        );
        lineage.save(&run.dir)?;
    }

    let mut summaries = Vec::new();
    let mut population = vec![first.to_string()];
    let mut champions: Vec<String> = Vec::new();
    for generation in 1..=config.generations + 1 {
        if let Some(summary) = run.summary(generation)? {
            log(&format!("generation {generation}: done before, resumed past it"));
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

        // 1. Tournament: population, league, anchors.
        let league: Vec<String> =
            champions.iter().rev().filter(|c| !population.contains(c)).take(config.league).cloned().collect();
        let (ratings, tally, names) = run.rate(config, options, generation, &population, &league, log)?;
        lap("tournament", &mut clock);
        let rated = |name: &str| ratings.iter().find(|r| r.name == name);
        let mut ranked: Vec<&RatedAgent> = population.iter().filter_map(|p| rated(p)).collect();
        ranked.sort_by(|a, b| b.ci_low.total_cmp(&a.ci_low).then(b.rating.total_cmp(&a.rating)));
        let champion = ranked.first().map(|r| (*r).clone()).context("the tournament rated no population member")?;
        champions.push(champion.name.clone());
        let champion_index = names.iter().position(|n| *n == champion.name).unwrap_or(0);
        let vs_anchors: Vec<(String, f64)> = run
            .anchors(config)
            .iter()
            .filter_map(|anchor| {
                let a = names.iter().position(|n| n == &anchor.name)?;
                let t = tally.head_to_head(champion_index, a);
                (t.games() > 0)
                    .then(|| (anchor.name.clone(), (t.wins as f64 + 0.5 * t.draws as f64) / t.games() as f64))
            })
            .collect();
        log(&format!(
            "generation {generation}: champion {} rating {:+.0} [{:+.0}, {:+.0}] vs anchors {}",
            champion.name,
            champion.rating,
            champion.ci_low,
            champion.ci_high,
            vs_anchors.iter().map(|(a, s)| format!("{a} {:.0}%", 100.0 * s)).collect::<Vec<_>>().join(", ")
        ));

        let mut summary = GenerationSummary {
            generation,
            champion: champion.name.clone(),
            champion_rating: champion.rating,
            champion_ci: (champion.ci_low, champion.ci_high),
            champion_vs_anchors: vs_anchors,
            ratings: ratings.clone(),
            tournament_games: tally.games(),
            parents: Vec::new(),
            dataset: None,
            training: Vec::new(),
            gates: Vec::new(),
            population: population.clone(),
            seconds: Vec::new(),
        };
        if last {
            // The final generation only rates what the run produced.
            summary.seconds = seconds;
            run.save_summary(&summary)?;
            summaries.push(summary);
            break;
        }

        // 2. Selection.
        let parents: Vec<String> = ranked.iter().take(config.parents.max(1)).map(|r| r.name.clone()).collect();
        summary.parents = parents.clone();

        // 3. Self-play data.
        let stats = run.selfplay(config, options, generation, &parents, &game, log)?;
        summary.dataset = Some(stats);
        lap("selfplay", &mut clock);

        // 4. Training.
        let window = run.replay_window(config, generation)?;
        let mut children = Vec::new();
        for (p, parent) in parents.iter().enumerate() {
            for k in 0..config.children_per_parent {
                let name = format!("g{generation}c{}", p * config.children_per_parent + k);
                let report = run.train_child(
                    config,
                    options,
                    generation,
                    parent,
                    &name,
                    &window,
                    mix(config.seed ^ mix(generation as u64 * 1000 + (p * 100 + k) as u64)),
                    log,
                )?;
                summary.training.push((name.clone(), report));
                children.push((name, parent.clone()));
            }
        }
        lap("training", &mut clock);

        // 5. Gates and lineage.
        let mut promoted = Vec::new();
        for (child, parent) in &children {
            let gate = run.gate(config, options, generation, child, parent, log)?;
            if lineage.entry(child).is_none() {
                let hash = Checkpoint::load(&run.checkpoint_dir(child))
                    .map_err(|e| anyhow::anyhow!("{e}"))?
                    .hash()
                    .to_string();
                lineage.add(
                    Entry {
                        name: child.clone(),
                        generation,
                        hash,
                        path: format!("checkpoints/{child}"),
                        status: if gate.promoted { Status::Promoted } else { Status::Rejected },
                        dataset: Some(format!("datasets/gen-{generation}.safetensors")),
                        gate: Some(serde_json::to_value(&gate)?),
                    },
                    &[parent.as_str()],
                );
            }
            if gate.promoted {
                promoted.push(child.clone());
            }
            summary.gates.push(gate);
        }
        lineage.save(&run.dir)?;
        lap("gates", &mut clock);

        // The next population: promoted children first, then the best of the current one.
        let mut next = promoted;
        next.extend(ranked.iter().map(|r| r.name.clone()));
        next.dedup();
        next.truncate(config.population.max(1));
        population = next;
        summary.population = population.clone();
        summary.seconds = seconds;
        run.save_summary(&summary)?;
        summaries.push(summary);
    }
    Ok(summaries)
}

/// Rejects settings that cannot run, before any work starts.
fn check_config(config: &EvolveConfig) -> Result<()> {
    if config.generations == 0 {
        bail!("generations must be at least 1");
    }
    if config.tournament_games_per_pairing == 0 || config.selfplay_games == 0 || config.gate_games == 0 {
        bail!("tournament_games_per_pairing, selfplay_games and gate_games must be at least 1");
    }
    ratings::sprt::Config::parse(&config.gate_sprt).with_context(|| format!("gate_sprt `{}`", config.gate_sprt))?;
    Ok(())
}

/// The run directory and its conventions.
struct Run {
    dir: PathBuf,
}

impl Run {
    fn open(config: &EvolveConfig, options: &EvolveOptions) -> Result<Run> {
        let dir = options.run_dir.clone();
        let record_path = dir.join("run.json");
        if record_path.exists() {
            if !options.resume {
                bail!(
                    "run directory {} holds a run already: continue it with --resume, or choose another --name",
                    dir.display()
                );
            }
            let text = std::fs::read_to_string(&record_path)
                .with_context(|| format!("cannot read {}", record_path.display()))?;
            let record: RunRecord =
                serde_json::from_str(&text).with_context(|| format!("run record {}", record_path.display()))?;
            if &record.config != config {
                bail!(
                    "--resume: {} was started with another config; resume it with the same settings\nstored: {}\nasked:  {}",
                    record_path.display(),
                    serde_json::to_string(&record.config)?,
                    serde_json::to_string(config)?
                );
            }
        } else {
            std::fs::create_dir_all(&dir).with_context(|| format!("cannot create run directory {}", dir.display()))?;
            let record = RunRecord { config: config.clone(), threads: options.threads };
            write_atomically(&record_path, serde_json::to_string_pretty(&record)?.as_bytes())?;
        }
        Ok(Run { dir })
    }

    fn checkpoint_dir(&self, name: &str) -> PathBuf {
        self.dir.join("checkpoints").join(name)
    }

    fn db(&self) -> PathBuf {
        self.dir.join("arena.db")
    }

    fn summary_path(&self, generation: u32) -> PathBuf {
        self.dir.join("generations").join(format!("gen-{generation}.json"))
    }

    fn summary(&self, generation: u32) -> Result<Option<GenerationSummary>> {
        let path = self.summary_path(generation);
        if !path.exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        Ok(Some(serde_json::from_str(&text).with_context(|| format!("generation summary {}", path.display()))?))
    }

    fn save_summary(&self, summary: &GenerationSummary) -> Result<()> {
        write_atomically(&self.summary_path(summary.generation), serde_json::to_string_pretty(summary)?.as_bytes())
    }

    fn agent(&self, name: &str, sims: u32, extra: &str) -> AgentEntry {
        let path = self.checkpoint_dir(name);
        AgentEntry {
            name: name.to_string(),
            spec: format!("checkpoint(path=\"{}\",sims={sims}{extra})", path.display()),
        }
    }

    fn anchors(&self, config: &EvolveConfig) -> Vec<AgentEntry> {
        vec![
            AgentEntry { name: "random".into(), spec: "random".into() },
            AgentEntry {
                name: format!("mcts(sims={})", config.anchor_sims),
                spec: format!("mcts(sims={})", config.anchor_sims),
            },
        ]
    }

    fn options(&self, options: &EvolveOptions, store: bool) -> RunOptions {
        RunOptions {
            threads: options.threads,
            db: store.then(|| self.db()),
            resume: store,
            start_if_missing: true,
            progress: options.progress,
            ..RunOptions::default()
        }
    }

    /// The generation's tournament and its Bradley–Terry ratings (random = 0, bootstrap intervals).
    fn rate(
        &self,
        config: &EvolveConfig,
        options: &EvolveOptions,
        generation: u32,
        population: &[String],
        league: &[String],
        log: &mut dyn FnMut(&str),
    ) -> Result<(Vec<RatedAgent>, Tally, Vec<String>)> {
        let mut agents: Vec<AgentEntry> =
            population.iter().chain(league).map(|n| self.agent(n, config.tournament_sims, "")).collect();
        agents.extend(self.anchors(config));
        let tournament = TournamentConfig {
            game: config.game.clone(),
            agents,
            schedule: ScheduleKind::RoundRobin,
            games_per_pairing: config.tournament_games_per_pairing,
            rounds: None,
            openings: OpeningSource::RandomPlies(config.opening_plies),
            seed: mix(config.seed ^ mix(generation as u64)),
            max_moves: None,
            time_per_move_ms: None,
            keep: Keep::Moves,
            judges: Vec::new(),
        };
        log(&format!("generation {generation}: tournament of {} agents", tournament.agents.len()));
        let outcome = run_tournament(&tournament, &self.options(options, true))?;
        // One virtual draw per pairing keeps an unbeaten agent's rating finite (BayesElo's prior).
        let counts = outcome.tally.pair_counts_with_virtual_draws(1);
        let fit_config = bradley_terry::Config::anchored(vec![Anchor {
            player: outcome.names.iter().position(|n| n == "random").unwrap_or(0),
            rating: 0.0,
        }]);
        let fit = bradley_terry::fit(&counts, &fit_config).context("rating the tournament")?;
        let intervals = if config.bootstrap > 0 {
            let boot = ratings::bootstrap::bootstrap(
                &counts,
                &fit_config,
                &ratings::bootstrap::Config {
                    replicates: config.bootstrap,
                    seed: mix(config.seed ^ generation as u64),
                    level: 0.95,
                },
            )?;
            boot.intervals
        } else {
            ratings::fisher::covariance(&counts, &fit_config, &fit)?.intervals(&fit.ratings, 0.95)
        };
        let rated = outcome
            .names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let totals = outcome.tally.totals(i);
                RatedAgent {
                    name: name.clone(),
                    rating: fit.ratings[i],
                    ci_low: intervals[i].0,
                    ci_high: intervals[i].1,
                    games: totals.games,
                    score: totals.points / totals.games.max(1) as f64,
                }
            })
            .collect();
        Ok((rated, outcome.tally, outcome.names))
    }

    fn dataset_path(&self, generation: u32) -> PathBuf {
        self.dir.join("datasets").join(format!("gen-{generation}.safetensors"))
    }

    /// Self-play of each parent against itself with search; the filtered dataset of the generation.
    fn selfplay(
        &self,
        config: &EvolveConfig,
        options: &EvolveOptions,
        generation: u32,
        parents: &[String],
        game: &games::GameRef,
        log: &mut dyn FnMut(&str),
    ) -> Result<DatasetStats> {
        let path = self.dataset_path(generation);
        if path.exists() {
            return Ok(Dataset::load(&path)?.1);
        }
        let mut games = Vec::new();
        for (p, parent) in parents.iter().enumerate() {
            let extra = format!(
                ",temperature={},temperature_plies={},noise=true",
                config.selfplay_temperature, config.selfplay_temperature_plies
            );
            let entry = self.agent(parent, config.selfplay_sims, &extra);
            let selfplay = TournamentConfig {
                game: config.game.clone(),
                agents: vec![entry.clone(), AgentEntry { name: format!("{}#2", entry.name), spec: entry.spec.clone() }],
                schedule: ScheduleKind::RoundRobin,
                games_per_pairing: config.selfplay_games,
                rounds: None,
                openings: OpeningSource::None,
                seed: mix(config.seed ^ mix(generation as u64 ^ 0x5e1f ^ (p as u64) << 32)),
                max_moves: None,
                time_per_move_ms: None,
                keep: Keep::Trajectory,
                judges: Vec::new(),
            };
            log(&format!("generation {generation}: self-play of {parent}, {} games", config.selfplay_games));
            let mut run_options = self.options(options, false);
            run_options.collect_results = true;
            let outcome = run_tournament(&selfplay, &run_options)?;
            games.extend(outcome.results.into_iter().map(|(_, r)| r));
        }
        let facts = game.facts();
        let (dataset, stats) = Dataset::from_games(
            &games,
            facts.observation_size(),
            facts.num_distinct_actions,
            mix(config.seed ^ generation as u64),
        );
        log(&format!(
            "generation {generation}: dataset {} positions from {} games ({} duplicates merged, {} dropped for seat balance, {} faults, {} at the move limit)",
            stats.positions,
            stats.games,
            stats.duplicates_merged,
            stats.dropped_for_seat_balance,
            stats.dropped_faults,
            stats.dropped_max_length
        ));
        dataset.save(&path, &stats)?;
        Ok(stats)
    }

    /// The datasets of the last `replay_window` generations, oldest first.
    fn replay_window(&self, config: &EvolveConfig, generation: u32) -> Result<Dataset> {
        let first = generation.saturating_sub(config.replay_window.max(1) - 1).max(1);
        let mut window = Dataset::default();
        for g in first..=generation {
            let (dataset, _) = Dataset::load(&self.dataset_path(g))?;
            window.extend(&dataset)?;
        }
        Ok(window)
    }

    #[allow(clippy::too_many_arguments)]
    fn train_child(
        &self,
        config: &EvolveConfig,
        options: &EvolveOptions,
        generation: u32,
        parent: &str,
        name: &str,
        data: &Dataset,
        seed: u64,
        log: &mut dyn FnMut(&str),
    ) -> Result<TrainReport> {
        let dir = self.checkpoint_dir(name);
        if dir.join(agents::checkpoint::INFO_FILE).exists() {
            let existing = Checkpoint::load(&dir).map_err(|e| anyhow::anyhow!("{e}"))?;
            if let Some(report) = existing.info().training.as_ref().and_then(|t| t.get("report")).cloned() {
                return Ok(serde_json::from_value(report)?);
            }
        }
        let parent_checkpoint = Checkpoint::load(&self.checkpoint_dir(parent)).map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut child = parent_checkpoint.child().map_err(|e| anyhow::anyhow!("{e}"))?;
        log(&format!("generation {generation}: training {name} from {parent} on {} positions", data.len()));
        let progress = if options.progress { indicatif::ProgressBar::new(0) } else { indicatif::ProgressBar::hidden() };
        if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} steps  {msg}") {
            progress.set_style(style);
        }
        let pool = rayon::ThreadPoolBuilder::new().num_threads(options.threads.max(1)).build()?;
        let report = pool.install(|| train(&mut child, data, &config.train, seed, &progress))?;
        progress.finish_and_clear();
        child.set_lineage(generation, vec![parent_checkpoint.hash().to_string()]);
        child.set_training(json!({
            "dataset": format!("datasets/gen-{generation}.safetensors"),
            "replay_window": config.replay_window,
            "config": config.train,
            "report": report,
        }));
        child.save(&dir).map_err(|e| anyhow::anyhow!("{e}"))?;
        log(&format!(
            "generation {generation}: {name} trained: policy loss {:.3} → {:.3}, value loss {:.3} → {:.3}",
            report.first_epoch_policy_loss,
            report.last_epoch_policy_loss,
            report.first_epoch_value_loss,
            report.last_epoch_value_loss
        ));
        Ok(report)
    }

    /// A paired match of the child against its parent, played in batches of game pairs and stopped
    /// by SPRT between batches: the decision depends only on whole batches, so it does not depend
    /// on the thread count or on a kill and resume.
    fn gate(
        &self,
        config: &EvolveConfig,
        options: &EvolveOptions,
        generation: u32,
        child: &str,
        parent: &str,
        log: &mut dyn FnMut(&str),
    ) -> Result<GateResult> {
        let test = ratings::sprt::Config::parse(&config.gate_sprt)?;
        let batches = config.gate_games.div_ceil(GATE_BATCH);
        let mut tally = Tally::new(2);
        let mut decision = ratings::sprt::Decision::Continue;
        let mut llr = 0.0;
        for batch in 0..batches {
            let games = GATE_BATCH.min(config.gate_games - batch * GATE_BATCH);
            let match_config = TournamentConfig {
                game: config.game.clone(),
                agents: vec![
                    self.agent(child, config.tournament_sims, ""),
                    self.agent(parent, config.tournament_sims, ""),
                ],
                schedule: ScheduleKind::RoundRobin,
                games_per_pairing: games,
                rounds: None,
                openings: OpeningSource::RandomPlies(config.opening_plies),
                seed: mix(config.seed ^ mix(generation as u64 ^ 0x6a7e ^ (batch as u64) << 40)),
                max_moves: None,
                time_per_move_ms: None,
                keep: Keep::Moves,
                judges: Vec::new(),
            };
            let outcome = run_tournament(&match_config, &self.options(options, true))?;
            tally.merge(outcome.tally);
            let pairs = tally.game_pairs(0, 1);
            llr = if pairs.pairs() > 0 {
                test.llr_pentanomial(&pairs)
            } else {
                test.llr_trinomial(&tally.head_to_head(0, 1))
            };
            decision = test.decision(llr);
            if decision != ratings::sprt::Decision::Continue {
                break;
            }
        }
        let t = tally.head_to_head(0, 1);
        let score = (t.wins as f64 + 0.5 * t.draws as f64) / t.games().max(1) as f64;
        let (promoted, decision_text) = match decision {
            ratings::sprt::Decision::AcceptH1 => (true, format!("SPRT accepted H1 (LLR {llr:.2})")),
            ratings::sprt::Decision::AcceptH0 => (false, format!("SPRT accepted H0 (LLR {llr:.2})")),
            ratings::sprt::Decision::Continue => (
                score >= config.gate_threshold,
                format!(
                    "SPRT undecided after {} games (LLR {llr:.2}); score {:.1}% against threshold {:.1}%",
                    t.games(),
                    100.0 * score,
                    100.0 * config.gate_threshold
                ),
            ),
        };
        log(&format!(
            "generation {generation}: gate {child} vs {parent}: {:.1}% over {} games, {decision_text} → {}",
            100.0 * score,
            t.games(),
            if promoted { "promoted" } else { "rejected" }
        ));
        Ok(GateResult {
            child: child.into(),
            parent: parent.into(),
            games: t.games(),
            score,
            decision: decision_text,
            promoted,
        })
    }
}

/// Games per gate batch (five game pairs): the SPRT is checked between batches.
const GATE_BATCH: u32 = 10;

/// Reads every generation summary of a run directory, in order.
pub fn history(run_dir: &Path) -> Result<Vec<GenerationSummary>> {
    if !run_dir.join("run.json").exists() {
        bail!("{} is not an evolve run directory (no run.json)", run_dir.display());
    }
    let run = Run { dir: run_dir.to_path_buf() };
    let mut summaries = Vec::new();
    for generation in 1.. {
        match run.summary(generation)? {
            Some(summary) => summaries.push(summary),
            None => break,
        }
    }
    Ok(summaries)
}
