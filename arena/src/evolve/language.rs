//! The language-model side of `arena evolve`: GGUF models are the population (`g0` is the base
//! model; each child is a fine-tuned checkpoint directory holding its merged model), a
//! generation's training data is exported from its own tournament (the winners' turns for SFT,
//! winner-versus-loser and rejected-answer pairs for DPO) through the text filter, each child is
//! fine-tuned with LoRA from its parent, and the champion is measured every generation on a
//! held-out evaluation that no training sees. In a quiz the data can come from the parents'
//! answers to drawn tasks instead, labelled by the verifier or by their own majority, with tasks
//! the parents propose themselves (self-instruct) and draws weighted toward weak kinds.

use std::path::{Path, PathBuf};

use agents::AgentConfig;
use agents::context::AgentContext;
use agents::llm::finetuned::{FinetuneRecord, MERGED_FILE, sha256_file};
use agents::llm::trainable::{LoraConfig, TrainMode, parse_targets};
use games::Spec;
use games::quiz::Quiz;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use super::Generation;
use super::contexts::{ContextChild, DEFAULT_MUTATION_INSTRUCTIONS, Operator, PoolChange};
use super::run_dir::RunDir;
use crate::engine::openings::OpeningSource;
use crate::engine::seeds::{EvolveStream, evolve_seed};
use crate::engine::tally::Tally;
use crate::engine::tournament::{AgentEntry, TournamentConfig, run_tournament};
use crate::error::{Context, Error, Result, bail, read_text};
use crate::files::write_atomically;
use crate::store::Store;
use crate::text_data::answers::{self, AnswerStats, LabelReport, Labels};
use crate::text_data::export::{Forfeits, canonical_answers, exported_matches, write_preference, write_sft_from};
use crate::text_data::judging::tournament_report;
use crate::text_data::proposals::{self, Limits, ProposalRecord, ProposalReport, TaskPool};
use crate::text_data::text_filter::{FilterReport, TextFilter};
use crate::training::finetune::{FinetuneConfig, FinetuneOptions, FinetuneReport, Method, finetune};

/// The name of the base model among the fixed opponents and in the ratings.
pub const BASE: &str = "base";

/// How judges are chosen for the rating tournament of a game with a judge seat.
pub const POPULATION_JUDGES: &str = "population";

/// What decides the language-model part of a run (`[llm]` in the config).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LanguageConfig {
    /// The base GGUF: the first checkpoint `g0`, and the fixed opponent `base` of every generation.
    pub model: PathBuf,
    /// How every model of the run plays: an `llm(...)` spec without `model`.
    pub agent: String,
    /// The judges of the rating tournament in games with a judge seat: `base` (the base model),
    /// `population` (the tournament's models in turn, so their right verdicts become training data)
    /// or an agent spec. Gates and the held-out evaluation are always judged by the base model.
    pub judge: String,
    /// `sft` (the winners' turns) or `dpo` (winner-versus-loser and rejected-answer pairs).
    pub method: Method,
    pub lora_rank: usize,
    pub lora_alpha: f64,
    /// The adapted projections, e.g. `q,k,v,o,gate,up,down`.
    pub lora_targets: String,
    pub epochs: u32,
    pub learning_rate: f64,
    /// The most tokens in one optimizer step.
    pub batch_tokens: usize,
    /// Longer examples are left out.
    pub max_len: usize,
    /// DPO's inverse temperature.
    pub beta: f64,
    /// At most this many training examples per generation (a seeded sample of the export), which
    /// bounds the training time.
    pub max_examples: usize,
    /// SFT also learns from the accepted answers of the seat that won by its opponent's forfeit
    /// (see [`Forfeits::KeepWinners`]); the export leaves forfeited matches out otherwise.
    pub sft_forfeit_wins: bool,
    /// Train on each accepted move's canonical text (`b2`) instead of the words the model wrote
    /// around it (`I will play b2.`): the model's own choice, in the notation its prompt asks
    /// for. Free-text turns (arguments) are always kept as written.
    pub canonical_moves: bool,
    /// The text filter's settings (a TOML file, as `arena export --filter` reads); the default
    /// filter when absent.
    pub filter: Option<PathBuf>,
    /// Held-out games against each fixed opponent (and held-out judged debates), per generation.
    pub heldout_games: u32,
    /// The fixed opponents of the held-out evaluation: `base`, or agent specs such as `random`.
    pub heldout_opponents: Vec<String>,
    /// The game of the held-out evaluation; by default the run's game. For debates, name another
    /// proposition seed so that no training ever sees the held-out propositions.
    pub heldout_game: Option<String>,
    /// Where the training labels come from: `games` (the winners of the generation's games),
    /// or, in a quiz, `verifier` (the parents' right answers: rejection sampling) or `majority`
    /// (the parents' plurality answers, the truth unseen: self-training).
    pub labels: Labels,
    /// Quiz runs: the training tasks drawn each generation (never one whose question is in the
    /// held-out set).
    pub tasks_per_generation: usize,
    /// Quiz runs: samples of each task per parent (a multiple of 4: each game pair on a task gives
    /// four answers).
    pub samples_per_task: u32,
    /// `majority`: a task is labeled only when its plurality answer has at least this share of
    /// the task's samples.
    pub min_agreement: f64,
    /// Quiz runs: draw each generation's training tasks weighted toward the kinds the previous
    /// generation's samples got wrong most (weight: the kind's error rate plus 0.1).
    pub curriculum: bool,
    /// Quiz runs, self-instruct: each parent proposes this many new tasks per generation (0 =
    /// off); those the arena validates ([`crate::text_data::proposals`]) join the training pool.
    pub proposals_per_generation: usize,
    /// The sampling temperature of proposals.
    pub proposal_temperature: f64,
    /// How children are made, in turn for each parent's children: `finetune` (LoRA on the
    /// generation's data), or the context operators `experience`, `lessons`, `mutation` (see
    /// [`super::contexts`]).
    pub operators: Vec<Operator>,
    /// The context `g0` starts with (a context file); none by default.
    pub context: Option<PathBuf>,
    /// Experience: the most few-shot examples in a context, and their most tokens together.
    pub context_examples: usize,
    pub context_tokens: usize,
    /// Lessons: the lost games a child's parent reads, and the most lessons a context keeps (the
    /// oldest retire first).
    pub lessons_per_child: usize,
    pub max_lessons: usize,
    /// The sampling temperature of lessons and rewrites.
    pub context_temperature: f64,
    /// Mutation: the instructions the pool starts with, and its largest size.
    pub mutation_instructions: Vec<String>,
    pub mutation_pool_size: usize,
}

impl Default for LanguageConfig {
    fn default() -> Self {
        LanguageConfig {
            model: PathBuf::from("~/.cache/arena/models/SmolLM2-135M-Instruct.Q8_0.gguf"),
            agent: "llm(temperature=0.7)".to_string(),
            judge: BASE.to_string(),
            method: Method::Sft,
            lora_rank: 8,
            lora_alpha: 16.0,
            lora_targets: "q,k,v,o,gate,up,down".to_string(),
            epochs: 1,
            learning_rate: 5e-4,
            batch_tokens: 512,
            max_len: 512,
            beta: 0.1,
            max_examples: 64,
            sft_forfeit_wins: true,
            canonical_moves: true,
            filter: None,
            heldout_games: 20,
            heldout_opponents: vec![BASE.to_string(), "random".to_string()],
            heldout_game: None,
            labels: Labels::Games,
            tasks_per_generation: 64,
            samples_per_task: 8,
            min_agreement: 0.5,
            curriculum: false,
            proposals_per_generation: 0,
            proposal_temperature: 0.9,
            operators: vec![Operator::Finetune],
            context: None,
            context_examples: 4,
            context_tokens: 800,
            lessons_per_child: 4,
            max_lessons: 6,
            context_temperature: 0.7,
            mutation_instructions: DEFAULT_MUTATION_INSTRUCTIONS.iter().map(|s| s.to_string()).collect(),
            mutation_pool_size: 8,
        }
    }
}

impl LanguageConfig {
    /// The base model's path, `~` expanded.
    pub fn base_model(&self) -> PathBuf {
        expand_home(&self.model)
    }

    /// Rejects settings that cannot run, before any work starts.
    pub fn check(&self) -> Result<()> {
        let base = self.base_model();
        if !base.is_file() {
            bail!(
                "[llm] model: {} is not a file; fetch SmolLM2 with `scripts/fetch-model.sh target/release/arena` (its Q8_0 copy) or name a GGUF",
                base.display()
            );
        }
        let spec = Spec::parse(&self.agent).with_context(|| format!("[llm] agent `{}`", self.agent))?;
        if spec.name != "llm" {
            bail!("[llm] agent `{}`: the run's models play as an `llm(...)` agent", self.agent);
        }
        if spec.get("model").is_some() {
            bail!("[llm] agent `{}`: leave out `model`; the run sets it for each checkpoint", self.agent);
        }
        if spec.get("context").is_some() || spec.get("system").is_some_and(|_| self.evolves_contexts()) {
            bail!(
                "[llm] agent `{}`: leave out `context` (and `system` when contexts evolve); give the starting context as [llm] context = FILE",
                self.agent
            );
        }
        if self.operators.is_empty() {
            bail!("[llm] operators is empty: name at least one of finetune, experience, lessons, mutation");
        }
        if let Some(context) = &self.context {
            AgentContext::load(&expand_home(context)).map_err(Error::from).with_context(|| "[llm] context")?;
        }
        if self.operators.contains(&Operator::Mutation) && self.mutation_instructions.is_empty() {
            bail!("[llm] mutation_instructions is empty: the mutation operator draws from it");
        }
        if self.mutation_instructions.iter().any(|i| i.trim().is_empty()) {
            bail!("[llm] mutation_instructions: an instruction is empty");
        }
        if self.context_examples == 0 || self.context_tokens == 0 || self.max_lessons == 0 {
            bail!("[llm] context_examples, context_tokens and max_lessons must be at least 1");
        }
        if !(0.0..=10.0).contains(&self.context_temperature) {
            bail!("[llm] context_temperature must lie in 0..=10 (0 is greedy)");
        }
        self.agent_spec(&base)?;
        if self.judge != BASE && self.judge != POPULATION_JUDGES {
            AgentConfig::parse(&self.judge).with_context(|| format!("[llm] judge `{}`", self.judge))?;
        }
        for opponent in &self.heldout_opponents {
            if opponent != BASE {
                AgentConfig::parse(opponent).with_context(|| format!("[llm] heldout_opponents `{opponent}`"))?;
            }
        }
        parse_targets(&self.lora_targets).with_context(|| format!("[llm] lora_targets `{}`", self.lora_targets))?;
        if self.lora_rank == 0 || self.max_examples == 0 || self.epochs == 0 {
            bail!("[llm] lora_rank, max_examples and epochs must be at least 1");
        }
        if let Some(filter) = &self.filter {
            TextFilter::load(filter).with_context(|| format!("[llm] filter {}", filter.display()))?;
        }
        if !(0.0..=1.0).contains(&self.min_agreement) {
            bail!("[llm] min_agreement is a share: it must lie in 0..=1");
        }
        if !(0.0..=10.0).contains(&self.proposal_temperature) {
            bail!("[llm] proposal_temperature must lie in 0..=10 (0 is greedy)");
        }
        Ok(())
    }

    /// Checks the settings that depend on the run's game: `verifier` and `majority` labels need a
    /// quiz (and a quiz held-out game), whose tasks have exact answers.
    pub fn check_game(&self, game: &str) -> Result<()> {
        if self.labels == Labels::Games {
            if self.proposals_per_generation > 0 && games::debate::Debate::from_spec(game).is_err() {
                bail!(
                    "[llm] proposals_per_generation: the models propose quiz tasks (labels = \"verifier\" or \"majority\" with a quiz) or debate propositions (a debate game), not items of `{game}`"
                );
            }
            return Ok(());
        }
        let labels = self.labels.as_str();
        Quiz::from_spec(game).with_context(|| {
            format!("[llm] labels = \"{labels}\" needs tasks with exact answers: the run's game must be a quiz, not `{game}`")
        })?;
        let held_out = self.heldout_game.as_deref().unwrap_or(game);
        Quiz::from_spec(held_out).with_context(|| {
            format!("[llm] labels = \"{labels}\": the held-out game must be a quiz, not `{held_out}`")
        })?;
        if self.samples_per_task == 0 || !self.samples_per_task.is_multiple_of(4) {
            bail!(
                "[llm] samples_per_task = {}: it must be a multiple of 4 (each game pair on a task gives four answers)",
                self.samples_per_task
            );
        }
        if self.tasks_per_generation == 0 {
            bail!("[llm] tasks_per_generation must be at least 1");
        }
        Ok(())
    }

    /// The text filter the run's data passes: the configured one, else the default.
    pub fn text_filter(&self) -> Result<TextFilter> {
        match &self.filter {
            Some(path) => TextFilter::load(path),
            None => Ok(TextFilter::default()),
        }
    }

    /// The run's agent playing `model`.
    pub fn agent_spec(&self, model: &Path) -> Result<AgentConfig> {
        let mut spec = Spec::parse(&self.agent).with_context(|| format!("[llm] agent `{}`", self.agent))?;
        spec.args.insert(0, ("model".to_string(), model.display().to_string()));
        let text = spec.to_string();
        AgentConfig::parse(&text).with_context(|| format!("[llm] agent `{text}`"))
    }

    fn lora(&self, seed: u64) -> Result<TrainMode> {
        let targets =
            parse_targets(&self.lora_targets).with_context(|| format!("[llm] lora_targets `{}`", self.lora_targets))?;
        Ok(TrainMode::Lora(LoraConfig { rank: self.lora_rank, alpha: self.lora_alpha, targets, seed }))
    }

    /// Whether any child is made by a context operator.
    pub fn evolves_contexts(&self) -> bool {
        self.operators.iter().any(|o| *o != Operator::Finetune)
    }

    /// The operator of a parent's child number `k`: the configured ones in turn.
    pub fn operator(&self, k: usize) -> Operator {
        self.operators[k % self.operators.len().max(1)]
    }

    fn forfeit_wins(&self) -> Forfeits {
        if self.sft_forfeit_wins { Forfeits::KeepWinners } else { Forfeits::Skip }
    }

    /// The data file's name for the method: `sft` or `preference` lines.
    fn data_kind(&self) -> &'static str {
        match self.method {
            Method::Sft => "sft",
            Method::Dpo => "preference",
        }
    }
}

/// `~/...` as the home directory's path.
fn expand_home(path: &Path) -> PathBuf {
    match (path.strip_prefix("~"), std::env::var_os("HOME")) {
        (Ok(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => path.to_path_buf(),
    }
}

/// A generation's training data: what the export read and wrote, and what was kept.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LanguageData {
    /// The data file, relative to the run directory.
    pub path: String,
    /// `sft` or `preference`.
    pub kind: String,
    /// The export's counts: matches read, faulted matches, texts removed by each filter rule,
    /// identical pairs, rejected-answer pairs and lines written.
    pub filter: FilterReport,
    /// Lines kept for training (at most `max_examples`, a seeded sample of those written).
    pub kept: usize,
    /// Accepted answers rewritten as their move's canonical text (`canonical_moves`).
    #[serde(default)]
    pub canonical_answers: usize,
    /// Quiz runs with `verifier` or `majority` labels: the parents' samples against the hidden
    /// truth (the pass rate) and the labels made from them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<LabelReport>,
    /// Quiz runs: training tasks passed over in the draw because their question is in the
    /// held-out set.
    #[serde(default)]
    pub held_out_overlap: usize,
    /// Quiz runs with `curriculum`: each kind's weight in the draw of the training tasks (from
    /// the previous generation's samples).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind_weights: Option<std::collections::BTreeMap<String, f64>>,
    /// Self-instruct: this generation's proposals, and how the proposed tasks it sampled were
    /// answered (right of all samples, per task).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposals: Option<ProposalReport>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub proposed_scores: Vec<TaskScore>,
    /// The tournaments the data was exported from (the rating tournament and the self-play).
    #[serde(default)]
    pub tournaments: Vec<i64>,
}

/// How one proposed item went: for a quiz task, the samples answered right of all; for a debate
/// proposition, the games Pro won of all.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskScore {
    pub question: String,
    pub right: u64,
    pub of: u64,
}

/// A child's fine-tuning, in brief (the full report is in its `checkpoint.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LanguageTraining {
    pub child: String,
    pub parent: String,
    pub method: Method,
    pub examples: usize,
    pub steps: u64,
    /// The mean loss of the first and of the last few steps.
    pub first_loss: f64,
    pub last_loss: f64,
    /// DPO: the last step's reward margin and share of pairs preferred rightly.
    pub margin: Option<f64>,
    pub accuracy: Option<f64>,
    pub tokens_per_second: f64,
    pub train_seconds: f64,
    /// (step, loss) along the training, at most [`LOSS_CURVE_POINTS`] of them (evenly spread).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub loss_curve: Vec<(u64, f64)>,
}

/// The most points of a fine-tuning's loss curve kept in a summary.
pub const LOSS_CURVE_POINTS: usize = 200;

impl LanguageTraining {
    fn new(child: &str, parent: &str, report: &FinetuneReport) -> Self {
        let window = (report.loss_curve.len() / 2).clamp(1, 5);
        let (first_loss, last_loss) = report.loss_change(window).unwrap_or((f64::NAN, f64::NAN));
        let last = report.loss_curve.last();
        LanguageTraining {
            child: child.to_string(),
            parent: parent.to_string(),
            method: report.settings.method,
            examples: report.examples,
            steps: report.steps,
            first_loss,
            last_loss,
            margin: last.and_then(|p| p.margin),
            accuracy: last.and_then(|p| p.accuracy),
            tokens_per_second: report.tokens_per_second,
            train_seconds: report.train_seconds,
            loss_curve: {
                let step = report.loss_curve.len().div_ceil(LOSS_CURVE_POINTS).max(1);
                report.loss_curve.iter().step_by(step).map(|p| (p.step, p.loss)).collect()
            },
        }
    }
}

/// The champion's games against one fixed opponent in the held-out evaluation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HeldOutScore {
    pub opponent: String,
    pub games: u64,
    /// The champion's score, 0 to 1 (a draw is half).
    pub score: f64,
    /// Games the champion lost by a fault (an illegal or unreadable answer), and the opponent.
    pub forfeits: u64,
    pub opponent_forfeits: u64,
}

impl HeldOutScore {
    pub fn forfeit_rate(&self) -> f64 {
        self.forfeits as f64 / self.games.max(1) as f64
    }
}

/// The champion as a judge of held-out debates between fixed debaters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HeldOutJudge {
    pub verdicts: u64,
    pub correct: u64,
    pub accuracy: f64,
    /// The 95% Wilson interval of the accuracy.
    pub accuracy_low: f64,
    pub accuracy_high: f64,
    /// How much more often it picked pro than pro was right.
    pub pro_bias: f64,
}

/// The held-out evaluation of a generation's champion.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HeldOut {
    pub champion: String,
    pub game: String,
    pub scores: Vec<HeldOutScore>,
    pub judge: Option<HeldOutJudge>,
    /// In a quiz: the champion's own answers to the held-out tasks (its accuracy with a 95%
    /// interval, forfeits, reply length).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<AnswerStats>,
    /// The mean length of the champion's accepted replies in the held-out games, in characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_reply_chars: Option<f64>,
}

impl HeldOut {
    /// The held-out accuracy of the generation's champion, where one is measured: its quiz
    /// answers', else its verdicts' as a judge (hits, of).
    pub fn accuracy_counts(&self) -> Option<(u64, u64)> {
        match (&self.accuracy, &self.judge) {
            (Some(a), _) => Some((a.accuracy.hits, a.accuracy.positions)),
            (None, Some(j)) => Some((j.correct, j.verdicts)),
            (None, None) => None,
        }
    }
}

/// The language-model part of a generation's summary.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LanguageGeneration {
    pub data: Option<LanguageData>,
    pub training: Vec<LanguageTraining>,
    pub held_out: Option<HeldOut>,
    /// The children made by context operators: how, and what changed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contexts: Vec<ContextChild>,
    /// The pool of mutation instructions after this generation's change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<PoolChange>,
}

impl Generation<'_> {
    pub(super) fn language(&self) -> Result<&LanguageConfig> {
        self.config.llm.as_ref().context("this run has no [llm] section")
    }

    /// The weights file of a checkpoint of a language-model run: the base GGUF for `g0`, else the
    /// merged model of the checkpoint directory, or the weights a context-only child keeps.
    pub(super) fn model_file(&self, name: &str) -> Result<PathBuf> {
        let language = self.language()?;
        if name == super::FIRST {
            return Ok(language.base_model());
        }
        let dir = self.run.checkpoint_dir(name);
        let record = FinetuneRecord::read(&dir)?;
        Ok(record.weights_file(&dir).unwrap_or_else(|| dir.join(MERGED_FILE)))
    }

    /// A checkpoint of a language-model run as an agent (the checkpoint directory, so the
    /// base-hash checks of `llm(model=DIR)` apply and its `context.json` is read; `g0` with the
    /// run's starting context, if any).
    pub(super) fn language_agent(&self, name: &str) -> Result<AgentEntry> {
        let language = self.language()?;
        if name != super::FIRST {
            return Ok(AgentEntry::new(name, language.agent_spec(&self.run.checkpoint_dir(name))?));
        }
        let mut spec = language.agent_spec(&language.base_model())?;
        let context = super::contexts::context_path(self, name);
        if context.is_file() {
            let mut parsed = Spec::parse(&spec.to_string())?;
            parsed.args.push(("context".to_string(), context.display().to_string()));
            spec = AgentConfig::parse(&parsed.to_string())?;
        }
        Ok(AgentEntry::new(name, spec))
    }

    /// The base model as a fixed opponent: `g0` as the run starts (its starting context included).
    pub(super) fn base_agent(&self) -> Result<AgentEntry> {
        let first = self.language_agent(super::FIRST)?;
        Ok(AgentEntry::new(BASE, first.agent))
    }

    /// Whether the run's game is played in free text only (a debate), where `random` cannot play.
    pub(super) fn text_only_game(&self) -> Result<bool> {
        Ok(self.resources.load_game(&self.config.game)?.facts().input == games::InputKind::Text)
    }

    /// The judges of a tournament in the run's game: none for games without a judge seat; for
    /// the rating tournament the configured ones, otherwise the base model.
    pub(super) fn judges(&self, rating: bool, players: &[AgentEntry]) -> Result<Vec<AgentEntry>> {
        let Some(language) = &self.config.llm else { return Ok(Vec::new()) };
        let game = self.resources.load_game(&self.config.game)?;
        if game.spec().get("judge") != Some("seat") {
            return Ok(Vec::new());
        }
        Ok(match language.judge.as_str() {
            POPULATION_JUDGES if rating => players.iter().filter(|p| p.name != "random").cloned().collect(),
            spec if rating && spec != BASE && spec != POPULATION_JUDGES => {
                vec![AgentEntry::new(spec, AgentConfig::parse(spec).with_context(|| format!("[llm] judge `{spec}`"))?)]
            }
            _ => vec![self.base_agent()?],
        })
    }

    /// The generation's training data: each parent plays `selfplay_games` games against itself,
    /// then the winners' turns (or the pairs, for DPO) of those games and of the rating tournament
    /// are exported through the text filter, at most `max_examples` lines (a seeded sample), into
    /// `datasets/gen-N.{sft,preference}.jsonl`; read back after a kill.
    pub(super) fn language_data(
        &self,
        generation: u32,
        parents: &[String],
        tournament: Option<i64>,
    ) -> Result<LanguageData> {
        let language = self.language()?;
        let relative = format!("datasets/gen-{generation}.{}.jsonl", language.data_kind());
        let stats_path = self.run.path().join(format!("datasets/gen-{generation}.json"));
        if stats_path.exists() {
            let text = read_text(&stats_path)?;
            return serde_json::from_str(&text).with_context(|| format!("data summary {}", stats_path.display()));
        }
        if language.labels != Labels::Games {
            let summary = self.task_data(generation, parents, &relative)?;
            write_atomically(&stats_path, serde_json::to_string_pretty(&summary)?.as_bytes())?;
            return Ok(summary);
        }
        let mut tournaments = vec![tournament.context("the generation's tournament is not in the run's store")?];
        // Self-instruct in a debate: the parents' proposals join the proposition set, and the
        // self-play debates the separating and untested proposals first.
        let instruct = self.propose(generation, parents)?;
        // The generation's propositions, read once: for the draw and for the proposals' scores.
        let debate = match &instruct {
            Some(instruct) => Some(games::debate::Debate::from_spec(&instruct.game)?),
            None => None,
        };
        let (game, openings) = match (&instruct, &debate) {
            (Some(instruct), Some(debate)) => {
                let weights = self.proposal_weights(generation, &instruct.proposed)?;
                let texts: Vec<&str> = debate.propositions().iter().map(|p| p.text.as_str()).collect();
                let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(evolve_seed(
                    self.config.seed,
                    generation,
                    EvolveStream::TaskDraw,
                ));
                let order = draw_order(
                    texts.len(),
                    Some(&|i| weights.get(texts[i as usize]).map_or(1.0, |w| w.draw)),
                    &|i| weights.get(texts[i as usize]).map_or(0, |w| w.priority),
                    &mut rng,
                );
                let pairs = self.config.selfplay_games.div_ceil(2) as usize;
                let listed = order.into_iter().take(pairs).map(|i| vec![i]).collect();
                (instruct.game.clone(), OpeningSource::Listed(listed))
            }
            _ => (self.config.game.clone(), OpeningSource::RandomPlies(self.config.opening_plies)),
        };
        let mut selfplay_tournaments = Vec::new();
        for (p, parent) in parents.iter().enumerate() {
            let entry = self.language_agent(parent)?;
            let twin = AgentEntry::new(format!("{parent}#2"), entry.agent.clone());
            let players = vec![entry, twin];
            let selfplay = TournamentConfig {
                games_per_pairing: self.config.selfplay_games,
                openings: openings.clone(),
                seed: evolve_seed(self.config.seed, generation, EvolveStream::SelfPlay { parent: p }),
                judges: self.judges(true, &players)?,
                ..TournamentConfig::new(game.clone(), players)
            };
            self.progress
                .log(&format!("generation {generation}: self-play of {parent}, {} games", self.config.selfplay_games));
            let outcome = run_tournament(&selfplay, self.resources, &self.stored_run(), self.progress)?;
            tournaments.extend(outcome.tournament_id);
            selfplay_tournaments.extend(outcome.tournament_id);
        }
        let proposed_scores = match (&instruct, &debate) {
            (Some(instruct), Some(debate)) => {
                debated_scores(&self.stored_matches(&selfplay_tournaments)?, debate, &instruct.proposed)
            }
            _ => Vec::new(),
        };
        let mut matches = self.stored_matches(&tournaments)?;
        let canonical =
            if language.canonical_moves { canonical_answers(&mut matches, self.resources.games())? } else { 0 };
        let filter = language.text_filter()?;
        let mut written = Vec::new();
        let report = match language.method {
            Method::Sft => write_sft_from(&matches, language.forfeit_wins(), &filter, &mut written),
            Method::Dpo => write_preference(&matches, &filter, &mut written),
        }
        .map_err(|e| Error::Invalid(format!("cannot export the generation's data: {e}")))?;
        let kept = self.keep_examples(generation, written, &relative)?;
        let summary = LanguageData {
            path: relative,
            kind: language.data_kind().to_string(),
            filter: report,
            kept,
            canonical_answers: canonical,
            labels: None,
            held_out_overlap: 0,
            kind_weights: None,
            proposals: instruct.as_ref().map(|i| i.report.clone()),
            proposed_scores,
            tournaments,
        };
        write_atomically(&stats_path, serde_json::to_string_pretty(&summary)?.as_bytes())?;
        self.progress.log(&format!(
            "generation {generation}: {} {} examples from {} matches ({} faulted; {} answers rewritten as their move; {} texts checked, {} passed the filter; {} kept for training)",
            summary.filter.written,
            summary.kind,
            summary.filter.matches,
            summary.filter.faulted_matches,
            summary.canonical_answers,
            summary.filter.total,
            summary.filter.kept,
            summary.kept,
        ));
        Ok(summary)
    }

    /// The finished matches of the run's tournaments `ids`, with their language-model turns.
    pub(super) fn stored_matches(&self, ids: &[i64]) -> Result<Vec<crate::text_data::export::ExportedMatch>> {
        let store = Store::connect(&self.store_location())?;
        let mut matches = Vec::new();
        for &id in ids {
            matches.extend(exported_matches(&store, Some(id))?);
        }
        Ok(matches)
    }

    /// Writes at most `max_examples` of the exported `lines` (a seeded sample, in their order) to
    /// the data file `relative`; how many it kept.
    fn keep_examples(&self, generation: u32, written: Vec<u8>, relative: &str) -> Result<usize> {
        let language = self.language()?;
        let text = String::from_utf8(written).map_err(|e| Error::Invalid(format!("exported data: {e}")))?;
        let mut lines: Vec<&str> = text.lines().collect();
        if lines.len() > language.max_examples {
            let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(evolve_seed(
                self.config.seed,
                generation,
                EvolveStream::DatasetShuffle,
            ));
            let mut chosen: Vec<usize> = (0..lines.len()).collect();
            chosen.shuffle(&mut rng);
            chosen.truncate(language.max_examples);
            chosen.sort_unstable();
            lines = chosen.into_iter().map(|i| lines[i]).collect();
        }
        let mut data = lines.join("\n");
        if !data.is_empty() {
            data.push('\n');
        }
        write_atomically(&self.run.path().join(relative), data.as_bytes())?;
        Ok(lines.len())
    }

    /// The held-out quiz of a quiz run: its spec, its tasks, and the tasks its evaluation asks
    /// (the first `heldout_games / 2`, one per game pair, the same every generation).
    fn held_out_quiz(&self) -> Result<Option<(String, Quiz, Vec<u32>)>> {
        let language = self.language()?;
        let game = language.heldout_game.clone().unwrap_or_else(|| self.config.game.clone());
        let Ok(quiz) = Quiz::from_spec(&game) else { return Ok(None) };
        let pairs = (language.heldout_games as usize).div_ceil(2).clamp(1, quiz.tasks().len());
        Ok(Some((game, quiz, (0..pairs as u32).collect())))
    }

    /// A quiz run's training data: each parent answers `tasks_per_generation` freshly drawn tasks
    /// (none whose question the held-out evaluation asks) `samples_per_task` times, against a
    /// twin of itself; the answers are labeled by the verifier or by their majority
    /// ([`answers::label`]) and written as SFT lines or preference pairs through the text filter.
    fn task_data(&self, generation: u32, parents: &[String], relative: &str) -> Result<LanguageData> {
        let language = self.language()?;
        // Self-instruct: the parents' proposals join the pool first; the generation samples from
        // the run's task set and every proposal kept so far.
        let instruct = self.propose(generation, parents)?;
        let game = instruct.as_ref().map_or_else(|| self.config.game.clone(), |i| i.game.clone());
        let quiz = Quiz::from_spec(&game).with_context(|| format!("the generation's quiz `{game}`"))?;
        let held_out: std::collections::HashSet<String> = match self.held_out_quiz()? {
            Some((_, held, asked)) => asked.iter().map(|&t| held.tasks()[t as usize].question.clone()).collect(),
            None => Default::default(),
        };
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(evolve_seed(
            self.config.seed,
            generation,
            EvolveStream::TaskDraw,
        ));
        let kind_weights = match generation {
            g if language.curriculum && g > 1 => self.previous_kind_weights(g - 1)?,
            _ => None,
        };
        let proposed = match &instruct {
            Some(instruct) => self.proposal_weights(generation, &instruct.proposed)?,
            None => Default::default(),
        };
        let weight = |task: u32| {
            let task = &quiz.tasks()[task as usize];
            let kind = kind_weights.as_ref().map_or(1.0, |w| w.get(&task.kind).copied().unwrap_or(1.0));
            kind * proposed.get(&task.question).map_or(1.0, |w| w.draw)
        };
        let priority = |task: u32| proposed.get(&quiz.tasks()[task as usize].question).map_or(0, |w| w.priority);
        let weighted = kind_weights.is_some() || !proposed.is_empty();
        let order =
            draw_order(quiz.tasks().len(), weighted.then_some(&weight as &dyn Fn(u32) -> f64), &priority, &mut rng);
        let mut overlap = 0;
        let mut tasks = Vec::new();
        for task in order {
            if tasks.len() == language.tasks_per_generation {
                break;
            }
            if held_out.contains(&quiz.tasks()[task as usize].question) {
                overlap += 1;
            } else {
                tasks.push(task);
            }
        }
        if tasks.is_empty() {
            bail!("the quiz `{game}` has no task outside the held-out set to train on");
        }
        // Game pair k plays task k mod len: samples_per_task / 4 pairs per task.
        let games = tasks.len() as u32 * language.samples_per_task / 2;
        let openings = OpeningSource::Listed(tasks.iter().map(|&t| vec![t]).collect());
        let mut tournaments = Vec::new();
        for (p, parent) in parents.iter().enumerate() {
            let entry = self.language_agent(parent)?;
            let twin = AgentEntry::new(format!("{parent}#2"), entry.agent.clone());
            let sampling = TournamentConfig {
                games_per_pairing: games,
                openings: openings.clone(),
                seed: evolve_seed(self.config.seed, generation, EvolveStream::SelfPlay { parent: p }),
                ..TournamentConfig::new(game.clone(), vec![entry, twin])
            };
            self.progress.log(&format!(
                "generation {generation}: {parent} answers {} tasks {} times each ({games} games)",
                tasks.len(),
                language.samples_per_task
            ));
            let outcome = run_tournament(&sampling, self.resources, &self.stored_run(), self.progress)?;
            tournaments.extend(outcome.tournament_id);
        }
        let matches = self.stored_matches(&tournaments)?;
        let samples = answers::samples(&matches, &quiz);
        let labels = answers::label(&samples, &quiz, language.labels, language.min_agreement);
        let filter = language.text_filter()?;
        let mut written = Vec::new();
        let canonical = language.canonical_moves;
        let mut report = match language.method {
            Method::Sft => answers::write_label_sft(&samples, &labels, canonical, &filter, &mut written),
            Method::Dpo => answers::write_label_preference(&samples, &labels, canonical, &filter, &mut written),
        }
        .map_err(|e| Error::Invalid(format!("cannot write the generation's data: {e}")))?;
        report.matches = matches.len();
        report.faulted_matches = matches.iter().filter(|m| m.fault.is_some()).count();
        let kept = self.keep_examples(generation, written, relative)?;
        let label_report = LabelReport::new(language.labels, &samples, &labels);
        self.progress.log(&format!(
            "generation {generation}: {} samples of {} tasks, pass rate {}; {} tasks labeled by {}, labels right {}; {} {} examples ({} kept)",
            samples.len(),
            label_report.samples.tasks,
            label_report.samples.accuracy,
            label_report.labeled_tasks,
            language.labels.as_str(),
            label_report.label_accuracy,
            report.written,
            language.data_kind(),
            kept,
        ));
        Ok(LanguageData {
            path: relative.to_string(),
            kind: language.data_kind().to_string(),
            filter: report,
            kept,
            canonical_answers: 0,
            labels: Some(label_report),
            held_out_overlap: overlap,
            kind_weights,
            proposals: instruct.as_ref().map(|i| i.report.clone()),
            proposed_scores: match &instruct {
                Some(instruct) => answered_scores(&samples, &quiz, &instruct.proposed),
                None => Vec::new(),
            },
            tournaments,
        })
    }

    /// Self-instruct: each parent proposes `proposals_per_generation` quiz tasks or debate
    /// propositions (the kinds in turn), the arena validates them against the pool in order, and
    /// the generation's item file holds the run's set and every proposal kept so far
    /// (`tasks/gen-N.jsonl`; the proposals with their verdicts in `tasks/gen-N.proposals.jsonl`,
    /// read back after a kill). `None` without proposals.
    fn propose(&self, generation: u32, parents: &[String]) -> Result<Option<SelfInstruct>> {
        let language = self.language()?;
        if language.proposals_per_generation == 0 {
            return Ok(None);
        }
        let base = ItemSet::of(&self.config.game)?;
        let dir = self.run.path().join("tasks");
        let mut kept: Vec<ProposalRecord> = Vec::new();
        for earlier in 1..generation {
            let records = read_proposals(&dir.join(format!("gen-{earlier}.proposals.jsonl")))?;
            kept.extend(records.into_iter().filter(|r| r.rejected.is_none()));
        }
        let records_path = dir.join(format!("gen-{generation}.proposals.jsonl"));
        let records = if records_path.exists() {
            read_proposals(&records_path)?
        } else {
            let records = self.new_proposals(generation, parents, &base, &kept)?;
            let mut text = String::new();
            for record in &records {
                text.push_str(&serde_json::to_string(record)?);
                text.push('\n');
            }
            write_atomically(&records_path, text.as_bytes())?;
            records
        };
        let mut report = ProposalReport::new();
        for record in &records {
            report.count(record.rejected.map_or(Ok(()), Err));
        }
        kept.extend(records.into_iter().filter(|r| r.rejected.is_none()));
        report.pool = kept.len();
        // The generation's item file: the run's set, then the kept proposals.
        let mut text = base.lines();
        let mut proposed = std::collections::HashSet::new();
        for record in &kept {
            let (Some(answer), Some(kind)) = (&record.answer, &record.kind) else { continue };
            text.push_str(&base.line(&record.question, answer, kind, Some(&record.proposer))?);
            proposed.insert(record.question.clone());
        }
        let items_path = dir.join(format!("gen-{generation}.jsonl"));
        write_atomically(&items_path, text.as_bytes())?;
        let game = base.spec_with_file(&items_path);
        let rejected: Vec<String> =
            report.rejected.iter().filter(|(_, n)| **n > 0).map(|(r, n)| format!("{n} {}", r.as_str())).collect();
        self.progress.log(&format!(
            "generation {generation}: {} proposals, {} accepted (rejected: {}); {} proposed {} in the pool",
            report.proposed,
            report.accepted,
            if rejected.is_empty() { "none".to_string() } else { rejected.join(", ") },
            report.pool,
            base.items_name(),
        ));
        Ok(Some(SelfInstruct { game, report, proposed }))
    }

    /// Asks each parent for its proposals and validates them in order against the run's set,
    /// the prompts' examples (a copied example is a duplicate) and the proposals kept before (each
    /// one kept joins the pool at once).
    fn new_proposals(
        &self,
        generation: u32,
        parents: &[String],
        base: &ItemSet,
        kept: &[ProposalRecord],
    ) -> Result<Vec<ProposalRecord>> {
        let language = self.language()?;
        let target = base.target();
        let texts = base.texts();
        let mut pool =
            TaskPool::for_proposals(target, texts.iter().copied().chain(kept.iter().map(|r| r.question.as_str())));
        let filter = language.text_filter()?;
        let mut records = Vec::new();
        for (p, parent) in parents.iter().enumerate() {
            self.progress.log(&format!(
                "generation {generation}: {parent} proposes {} {}",
                language.proposals_per_generation,
                base.items_name()
            ));
            for (index, reply) in self.proposal_replies(generation, p, parent, target)?.into_iter().enumerate() {
                let verdict = proposals::validate(&reply, target, &pool, &filter, &Limits::default());
                if let Ok(item) = &verdict {
                    pool.add(&item.text);
                }
                records.push(ProposalRecord {
                    proposer: parent.clone(),
                    generation,
                    asked_kind: target.asked_kind(index).to_string(),
                    question: target.extract(&reply),
                    reply,
                    rejected: verdict.as_ref().err().copied(),
                    answer: verdict.as_ref().ok().map(|t| t.answer.clone()),
                    kind: verdict.as_ref().ok().map(|t| t.kind.clone()),
                });
            }
        }
        Ok(records)
    }

    /// `parent`'s replies to the proposal prompts, in prompt order, through one batched generator.
    fn proposal_replies(
        &self,
        generation: u32,
        p: usize,
        parent: &str,
        target: proposals::Target,
    ) -> Result<Vec<String>> {
        let language = self.language()?;
        let seed = evolve_seed(self.config.seed, generation, EvolveStream::Proposals { parent: p });
        let prompts: Vec<Vec<agents::ChatMessage>> = (0..language.proposals_per_generation)
            .map(|index| {
                let (system, user) = target.prompt(index);
                vec![agents::ChatMessage::system(system), agents::ChatMessage::user(user)]
            })
            .collect();
        // A claim such as an ordering or a syllogism is longer than a quiz question.
        let max_tokens = match target {
            proposals::Target::QuizTasks => 48,
            proposals::Target::DebatePropositions => 64,
        };
        self.generate_all(parent, &prompts, max_tokens, language.proposal_temperature, seed)
    }

    /// How the proposed items are drawn, from how the previous generation's games went on them:
    /// those that separated better answers from worse (some samples right and others wrong; in a
    /// debate, each side won at least once) come first, then the untested ones, each in a
    /// weighted draw; those always answered right or always wrong (a debate one side always won)
    /// are drawn with the other items at half their weight.
    fn proposal_weights(
        &self,
        generation: u32,
        proposed: &std::collections::HashSet<String>,
    ) -> Result<std::collections::HashMap<String, ProposedDraw>> {
        let untested = ProposedDraw { priority: 1, draw: 1.0 };
        let mut weights: std::collections::HashMap<String, ProposedDraw> =
            proposed.iter().map(|q| (q.clone(), untested)).collect();
        let path = self.run.path().join(format!("datasets/gen-{}.json", generation.saturating_sub(1)));
        if generation > 1 && path.exists() {
            let data: LanguageData =
                serde_json::from_str(&read_text(&path)?).with_context(|| format!("data summary {}", path.display()))?;
            for score in data.proposed_scores {
                let separates = score.right > 0 && score.right < score.of;
                let draw = if separates {
                    ProposedDraw { priority: 2, draw: 1.0 }
                } else {
                    ProposedDraw { priority: 0, draw: 0.5 }
                };
                weights.insert(score.question, draw);
            }
        }
        Ok(weights)
    }

    /// The curriculum's kind weights from generation `previous`'s samples (none if it sampled no
    /// tasks).
    fn previous_kind_weights(&self, previous: u32) -> Result<Option<std::collections::BTreeMap<String, f64>>> {
        let path = self.run.path().join(format!("datasets/gen-{previous}.json"));
        if !path.exists() {
            return Ok(None);
        }
        let data: LanguageData =
            serde_json::from_str(&read_text(&path)?).with_context(|| format!("data summary {}", path.display()))?;
        Ok(data.labels.map(|labels| answers::kind_weights(&labels.samples, CURRICULUM_FLOOR)))
    }

    /// Fine-tunes `name` from `parent` on the generation's data with LoRA, merged into a Q8_0
    /// model (or reads the report of a child finished before a kill; an unfinished one resumes).
    pub(super) fn finetune_child(
        &self,
        generation: u32,
        parent: &str,
        name: &str,
        data: &LanguageData,
        seed: u64,
    ) -> Result<LanguageTraining> {
        let language = self.language()?;
        let out = self.run.checkpoint_dir(name);
        if agents::llm::finetuned::is_finetuned_dir(&out) {
            let record = FinetuneRecord::read(&out)?;
            let report: FinetuneReport = serde_json::from_value(record.training)
                .with_context(|| format!("the training report in {}", out.display()))?;
            return Ok(LanguageTraining::new(name, parent, &report));
        }
        let base = self.model_file(parent)?;
        let config = FinetuneConfig {
            mode: language.lora(seed)?,
            epochs: language.epochs,
            learning_rate: language.learning_rate,
            batch_tokens: language.batch_tokens,
            max_len: language.max_len,
            beta: language.beta,
            seed,
            merge: true,
            save_every: 10,
            ..FinetuneConfig::new(&base, self.run.path().join(&data.path), language.method)
        };
        self.progress.log(&format!(
            "generation {generation}: fine-tuning {name} from {parent} ({} LoRA r{}) on {} examples",
            language.method.as_str(),
            language.lora_rank,
            data.kept
        ));
        let options = FinetuneOptions { out: out.clone(), resume: out.exists() };
        let report =
            finetune(&config, &options, self.progress).with_context(|| format!("fine-tuning {name} from {parent}"))?;
        let training = LanguageTraining::new(name, parent, &report);
        self.progress.log(&format!(
            "generation {generation}: {name} trained: {} steps, loss {:.3} → {:.3}, {:.0} tokens/s",
            training.steps, training.first_loss, training.last_loss, training.tokens_per_second
        ));
        Ok(training)
    }

    /// The content hash of a language-model checkpoint: its weights file's SHA-256, with its
    /// context's when it has one (`agents::context::agent_hash`).
    pub(super) fn language_hash(&self, name: &str) -> Result<String> {
        let path = self.model_file(name)?;
        let weights = sha256_file(&path).with_context(|| format!("hashing {}", path.display()))?.0;
        let context = super::contexts::context_path(self, name);
        let context = if context.is_file() { Some(AgentContext::load(&context)?.sha256()) } else { None };
        Ok(agents::context::agent_hash(&weights, context.as_deref()))
    }

    /// The held-out evaluation of `champion`: games against each fixed opponent (judged by the
    /// base model where the game has a judge seat) and, in games with a judge seat, the
    /// champion judging debates of the base model against itself. Seeded apart from every
    /// training stream and the same every generation, so generations compare.
    pub(super) fn held_out(&self, champion: &str) -> Result<HeldOut> {
        let language = self.language()?;
        let game = language.heldout_game.clone().unwrap_or_else(|| self.config.game.clone());
        let seed = evolve_seed(self.config.seed, 0, EvolveStream::HeldOut);
        let champion_entry = self.language_agent(champion)?;
        let quiz = self.held_out_quiz()?;
        // A quiz asks the same listed tasks every generation; other games draw their openings.
        let openings = match &quiz {
            Some((_, _, asked)) => OpeningSource::Listed(asked.iter().map(|&t| vec![t]).collect()),
            None => OpeningSource::RandomPlies(self.config.opening_plies),
        };
        let mut tournaments = Vec::new();
        let mut scores = Vec::new();
        for opponent in &language.heldout_opponents {
            let opponent_entry = if opponent == BASE {
                self.base_agent()?
            } else {
                AgentEntry::new(opponent.clone(), AgentConfig::parse(opponent)?)
            };
            if opponent == BASE && champion == super::FIRST {
                // The base model against itself: nothing to learn from, so it is not played.
                continue;
            }
            let players = vec![champion_entry.clone(), opponent_entry];
            let tournament = TournamentConfig {
                games_per_pairing: language.heldout_games,
                openings: openings.clone(),
                seed,
                judges: self.judges(false, &players)?,
                ..TournamentConfig::new(game.clone(), players)
            };
            let outcome = run_tournament(&tournament, self.resources, &self.stored_run(), self.progress)?;
            tournaments.extend(outcome.tournament_id);
            scores.push(held_out_score(opponent, &outcome.tally));
        }
        let accuracy = match &quiz {
            Some((_, held, _)) => {
                // The champion answers every held-out task against a twin of itself.
                let twin = AgentEntry::new(format!("{champion}#2"), champion_entry.agent.clone());
                let tournament = TournamentConfig {
                    games_per_pairing: language.heldout_games,
                    openings: openings.clone(),
                    seed,
                    ..TournamentConfig::new(game.clone(), vec![champion_entry.clone(), twin])
                };
                let outcome = run_tournament(&tournament, self.resources, &self.stored_run(), self.progress)?;
                let id = outcome.tournament_id.context("the held-out tournament is not in the run's store")?;
                let matches = self.stored_matches(&[id])?;
                Some(AnswerStats::of(&answers::samples(&matches, held)))
            }
            None => None,
        };
        let judge = if self.judges(false, &[])?.is_empty() {
            None
        } else {
            let debaters = vec![self.base_agent()?, AgentEntry::new(format!("{BASE}#2"), self.base_agent()?.agent)];
            let tournament = TournamentConfig {
                games_per_pairing: language.heldout_games,
                openings: OpeningSource::RandomPlies(self.config.opening_plies),
                seed,
                judges: vec![champion_entry.clone()],
                ..TournamentConfig::new(game.clone(), debaters)
            };
            let options = self.stored_run();
            let outcome = run_tournament(&tournament, self.resources, &options, self.progress)?;
            let store = Store::connect(&self.store_location())?;
            let report = tournament_report(&tournament, &outcome, Some(&store))?;
            report.first().map(|r| HeldOutJudge {
                verdicts: r.verdicts,
                correct: r.correct,
                accuracy: r.accuracy,
                accuracy_low: r.accuracy_low,
                accuracy_high: r.accuracy_high,
                pro_bias: r.pro_bias,
            })
        };
        let mean_reply_chars = match &accuracy {
            Some(stats) => Some(stats.mean_chars),
            None => {
                let mut lengths = Vec::new();
                for m in self.stored_matches(&tournaments)? {
                    let champion_turns = m.turns.iter().filter(|t| !t.rejected && m.agent(t.seat) == champion);
                    lengths.extend(champion_turns.map(|t| t.trace.completion.trim().chars().count()));
                }
                (!lengths.is_empty()).then(|| lengths.iter().sum::<usize>() as f64 / lengths.len() as f64)
            }
        };
        Ok(HeldOut { champion: champion.to_string(), game, scores, judge, accuracy, mean_reply_chars })
    }
}

/// The weight every kind keeps in a curriculum, however well it was answered.
const CURRICULUM_FLOOR: f64 = 0.1;

/// The order in which `len` items (a quiz's tasks, a debate's propositions) are drawn: higher
/// `priority` first; within a priority a seeded shuffle, or with weights a weighted draw without
/// replacement (each item's key `u^(1/w)`, largest first; Efraimidis–Spirakis).
fn draw_order(
    len: usize,
    weight: Option<&dyn Fn(u32) -> f64>,
    priority: &dyn Fn(u32) -> u8,
    rng: &mut rand_xoshiro::Xoshiro256PlusPlus,
) -> Vec<u32> {
    use rand::Rng;
    let mut order: Vec<u32> = (0..len as u32).collect();
    match weight {
        None => order.shuffle(rng),
        Some(weight) => {
            let mut keyed: Vec<(f64, u32)> =
                order.drain(..).map(|item| (rng.random::<f64>().powf(1.0 / weight(item).max(1e-6)), item)).collect();
            keyed.sort_by(|a, b| b.0.total_cmp(&a.0));
            order = keyed.into_iter().map(|(_, item)| item).collect();
        }
    }
    // A stable sort keeps the draw's order within each priority.
    order.sort_by_key(|&item| std::cmp::Reverse(priority(item)));
    order
}

/// How a proposed item is drawn: its priority (2: it separated better from worse, 1: untested,
/// 0: it did not separate) and its weight in the draw.
#[derive(Clone, Copy, Debug, PartialEq)]
struct ProposedDraw {
    priority: u8,
    draw: f64,
}

/// The items a run proposes more of: a quiz's tasks or a debate's propositions.
enum ItemSet {
    Quiz(Quiz),
    Debate(games::debate::Debate),
}

impl ItemSet {
    /// The items of the game `spec`: a quiz or a debate.
    fn of(spec: &str) -> Result<ItemSet> {
        if let Ok(quiz) = Quiz::from_spec(spec) {
            return Ok(ItemSet::Quiz(quiz));
        }
        games::debate::Debate::from_spec(spec)
            .map(ItemSet::Debate)
            .with_context(|| format!("self-instruct: the run's game `{spec}` is neither a quiz nor a debate"))
    }

    fn target(&self) -> proposals::Target {
        match self {
            ItemSet::Quiz(_) => proposals::Target::QuizTasks,
            ItemSet::Debate(_) => proposals::Target::DebatePropositions,
        }
    }

    fn items_name(&self) -> &'static str {
        match self {
            ItemSet::Quiz(_) => "tasks",
            ItemSet::Debate(_) => "propositions",
        }
    }

    /// The items' texts (questions or claims), in order.
    fn texts(&self) -> Vec<&str> {
        match self {
            ItemSet::Quiz(quiz) => quiz.tasks().iter().map(|t| t.question.as_str()).collect(),
            ItemSet::Debate(debate) => debate.propositions().iter().map(|p| p.text.as_str()).collect(),
        }
    }

    /// Every item as a line of its game's item file.
    fn lines(&self) -> String {
        match self {
            ItemSet::Quiz(quiz) => {
                quiz.tasks().iter().map(|t| task_line(&t.question, &t.answer.to_string(), &t.kind, None)).collect()
            }
            ItemSet::Debate(debate) => {
                debate.propositions().iter().map(|p| proposition_line(&p.text, p.truth, &p.kind, None)).collect()
            }
        }
    }

    /// A proposed item as a line of the item file (`answer`: the arena's answer or truth).
    fn line(&self, text: &str, answer: &str, kind: &str, proposer: Option<&str>) -> Result<String> {
        Ok(match self {
            ItemSet::Quiz(_) => task_line(text, answer, kind, proposer),
            ItemSet::Debate(_) => {
                let truth = answer.parse::<bool>().map_err(|_| {
                    Error::Invalid(format!(
                        "proposed claim `{text}`: its recorded truth `{answer}` is not true or false"
                    ))
                })?;
                proposition_line(text, truth, kind, proposer)
            }
        })
    }

    /// The game on the item file `path`, with the run's other settings.
    fn spec_with_file(&self, path: &Path) -> String {
        match self {
            ItemSet::Quiz(quiz) => {
                let max_chars = games::Game::spec(quiz).get("max_chars").unwrap_or("200").to_string();
                Spec::new("quiz").with("tasks", path.display()).with("max_chars", max_chars).to_string()
            }
            ItemSet::Debate(debate) => {
                let mut spec = games::Game::spec(debate);
                // `items` and `seed` shape a generated set only.
                spec.args.retain(|(key, _)| !matches!(key.as_str(), "propositions" | "items" | "seed"));
                spec.with("propositions", path.display()).to_string()
            }
        }
    }
}

/// A generation's self-instruct step: the game on the generation's item file, its proposals, and
/// the proposed items' texts.
struct SelfInstruct {
    game: String,
    report: ProposalReport,
    proposed: std::collections::HashSet<String>,
}

/// A line of a proposition file.
fn proposition_line(text: &str, truth: bool, kind: &str, proposer: Option<&str>) -> String {
    item_line(serde_json::json!({ "proposition": text, "truth": truth, "kind": kind }), proposer)
}

/// A line of a task file.
fn task_line(question: &str, answer: &str, kind: &str, proposer: Option<&str>) -> String {
    item_line(serde_json::json!({ "question": question, "answer": answer, "kind": kind }), proposer)
}

/// An item file's line: the item, and who proposed it where a model did.
fn item_line(mut line: serde_json::Value, proposer: Option<&str>) -> String {
    if let Some(proposer) = proposer {
        line["proposer"] = serde_json::json!(proposer);
    }
    line.to_string() + "\n"
}

/// The proposals of a `tasks/gen-N.proposals.jsonl` file (none if it is missing).
fn read_proposals(path: &Path) -> Result<Vec<ProposalRecord>> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    read_text(path)?
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| serde_json::from_str(line).with_context(|| format!("{} line {}", path.display(), i + 1)))
        .collect()
}

/// Per proposed proposition that was debated, in set order: the games Pro won (`right`) of the
/// finished games (forfeits left out).
fn debated_scores(
    matches: &[crate::text_data::export::ExportedMatch],
    debate: &games::debate::Debate,
    proposed: &std::collections::HashSet<String>,
) -> Vec<TaskScore> {
    let mut scores: std::collections::BTreeMap<u32, (u64, u64)> = Default::default();
    for m in matches.iter().filter(|m| m.fault.is_none()) {
        let Some(games::Move::Action(item)) = m.moves.first() else { continue };
        let Some(proposition) = debate.propositions().get(*item as usize) else { continue };
        if proposed.contains(&proposition.text) {
            let entry = scores.entry(*item).or_default();
            entry.0 += u64::from(m.returns.first().is_some_and(|&r| r > 0.0));
            entry.1 += 1;
        }
    }
    scores
        .into_iter()
        .map(|(item, (right, of))| TaskScore { question: debate.propositions()[item as usize].text.clone(), right, of })
        .collect()
}

/// Right samples of all, per proposed task that was sampled, in task order.
fn answered_scores(
    samples: &[answers::Sample],
    quiz: &Quiz,
    proposed: &std::collections::HashSet<String>,
) -> Vec<TaskScore> {
    let mut scores: std::collections::BTreeMap<u32, (u64, u64)> = Default::default();
    for sample in samples {
        if proposed.contains(&quiz.tasks()[sample.task as usize].question) {
            let entry = scores.entry(sample.task).or_default();
            entry.0 += u64::from(sample.correct);
            entry.1 += 1;
        }
    }
    scores
        .into_iter()
        .map(|(task, (right, of))| TaskScore { question: quiz.tasks()[task as usize].question.clone(), right, of })
        .collect()
}

/// The champion's (agent 0) record against the opponent (agent 1).
fn held_out_score(opponent: &str, tally: &Tally) -> HeldOutScore {
    let t = tally.head_to_head(0, 1);
    HeldOutScore {
        opponent: opponent.to_string(),
        games: t.games(),
        score: (t.wins as f64 + 0.5 * t.draws as f64) / t.games().max(1) as f64,
        forfeits: tally.totals(0).faults,
        opponent_forfeits: tally.totals(1).faults,
    }
}

/// The run directory's path of a language-model checkpoint, as the lineage records it: the base
/// model's own path for `g0`, else the checkpoint directory relative to the run.
pub(super) fn lineage_path(language: &LanguageConfig, name: &str) -> String {
    if name == super::FIRST { language.base_model().display().to_string() } else { RunDir::checkpoint_relative(name) }
}

/// One line about a held-out evaluation: the score and forfeit rate against each opponent, and
/// the judge's accuracy.
pub fn describe(held_out: &HeldOut) -> String {
    let mut parts: Vec<String> = held_out
        .scores
        .iter()
        .map(|s| {
            format!(
                "vs {} {:.0}% ({} games, forfeits {:.0}% vs {:.0}%)",
                s.opponent,
                100.0 * s.score,
                s.games,
                100.0 * s.forfeit_rate(),
                100.0 * s.opponent_forfeits as f64 / s.games.max(1) as f64
            )
        })
        .collect();
    if let Some(accuracy) = &held_out.accuracy {
        parts.push(format!(
            "accuracy {} over {} tasks ({} forfeits, {:.0} characters a reply)",
            accuracy.accuracy, accuracy.tasks, accuracy.forfeits, accuracy.mean_chars
        ));
    }
    if let Some(judge) = &held_out.judge {
        parts.push(format!(
            "judge accuracy {:.0}% [{:.0}, {:.0}] over {} verdicts",
            100.0 * judge.accuracy,
            100.0 * judge.accuracy_low,
            100.0 * judge.accuracy_high,
            judge.verdicts
        ));
    }
    format!("{} on {}: {}", held_out.champion, held_out.game, parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_curriculum_draws_the_heavier_kinds_first() {
        let quiz = Quiz::from_spec("quiz(items=400,kinds=addition+comparison)").unwrap_or_else(|e| panic!("{e}"));
        let weights: std::collections::BTreeMap<String, f64> =
            [("addition".to_string(), 1.0), ("comparison".to_string(), 0.1)].into_iter().collect();
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(5);
        let weight = |task: u32| weights[&quiz.tasks()[task as usize].kind];
        let order = draw_order(400, Some(&weight), &|_| 0, &mut rng);
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..400).collect::<Vec<u32>>(), "every task once");
        let additions = order[..100].iter().filter(|&&t| quiz.tasks()[t as usize].kind == "addition").count();
        // Half the set is additions; weighted 10 to 1 they fill nearly all of the first hundred.
        assert!(additions >= 90, "{additions} of the first 100");
        // Without weights the draw is a plain shuffle: about half.
        let plain = draw_order(400, None, &|_| 0, &mut rng);
        let additions = plain[..100].iter().filter(|&&t| quiz.tasks()[t as usize].kind == "addition").count();
        assert!((30..=70).contains(&additions), "{additions} of the first 100");
    }

    #[test]
    fn separating_then_untested_proposals_come_first() {
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(9);
        // Items 7 and 3 separated, 5 is untested, 9 never separated: 7 and 3 first, then 5.
        let priority = |item: u32| match item {
            7 | 3 => 2,
            5 => 1,
            _ => 0,
        };
        let order = draw_order(12, Some(&|item| if item == 9 { 0.5 } else { 1.0 }), &priority, &mut rng);
        let mut first_two = order[..2].to_vec();
        first_two.sort_unstable();
        assert_eq!(first_two, vec![3, 7]);
        assert_eq!(order[2], 5);
        assert_eq!(order.len(), 12);
    }

    #[test]
    fn a_debate_item_file_keeps_the_run_settings_and_the_truth() {
        let items = ItemSet::of("debate(rounds=1,judge=oracle,items=5,seed=3)").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(items.target(), proposals::Target::DebatePropositions);
        assert_eq!(items.texts().len(), 5);
        let spec = items.spec_with_file(Path::new("/tmp/p.jsonl"));
        assert!(spec.contains("rounds=1") && spec.contains("judge=oracle"), "{spec}");
        assert!(spec.contains("propositions=/tmp/p.jsonl") && !spec.contains("items="), "{spec}");
        let line = items.line("12 + 30 = 42", "true", "addition", Some("g0")).unwrap_or_else(|e| panic!("{e}"));
        let parsed: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed["truth"], serde_json::json!(true));
        assert_eq!(parsed["proposer"], serde_json::json!("g0"));
        assert!(items.line("12 + 30 = 42", "yes", "addition", None).is_err());
        assert!(ItemSet::of("connect_four").is_err());
    }

    #[test]
    fn a_proposed_proposition_scores_the_debates_pro_won() {
        let debate = games::debate::Debate::from_spec("debate(rounds=1,judge=oracle,items=3,seed=1)")
            .unwrap_or_else(|e| panic!("{e}"));
        let texts: Vec<String> = debate.propositions().iter().map(|p| p.text.clone()).collect();
        let game = |item: u32, pro: f64, fault: bool| crate::text_data::export::ExportedMatch {
            tournament: 1,
            index: 0,
            game: String::new(),
            seat_agents: vec!["a".into(), "b".into()],
            judge: Some("oracle".into()),
            returns: vec![pro, -pro],
            fault: fault.then(|| "forfeit".to_string()),
            fault_seat: None,
            turns: Vec::new(),
            moves: vec![games::Move::Action(item)],
        };
        let matches =
            [game(1, 1.0, false), game(1, -1.0, false), game(1, 1.0, true), game(2, 1.0, false), game(0, 1.0, false)];
        // Items 1 and 2 are proposed; item 0 is the run's own.
        let proposed: std::collections::HashSet<String> = [texts[1].clone(), texts[2].clone()].into_iter().collect();
        let scores = debated_scores(&matches, &debate, &proposed);
        assert_eq!(
            scores,
            vec![
                TaskScore { question: texts[1].clone(), right: 1, of: 2 },
                TaskScore { question: texts[2].clone(), right: 1, of: 1 },
            ],
            "a forfeit is left out; item 1 separates, item 2 does not (yet)"
        );
    }
}
