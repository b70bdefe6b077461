//! In-context self-evolution: children that differ from their parent in their context (see
//! `agents::context`), not in their weights. Three operators make them, chosen per run and
//! combinable with fine-tuning:
//!
//! - **experience**: few-shot examples taken from the parent's own won games (its accepted
//!   answers — in a game won by the opponent's forfeit too — through the text filter,
//!   deduplicated, one opening or task kind in turn for diversity), within a token budget;
//! - **lessons**: the parent reads its lost games and writes one short lesson each; lessons that
//!   fail validation (empty, too long, filtered, duplicates) are dropped and counted;
//! - **mutation**: the parent rewrites its system prompt following a mutation instruction drawn
//!   from a pool, and the pool itself evolves: each generation the instruction whose children
//!   fared best in their gates is rewritten by the model into a new one (Promptbreeder's
//!   self-referential step), and the worst is dropped when the pool is full.
//!
//! A child is a checkpoint directory holding its `context.json` and a record naming the weights it
//! keeps, so `llm(model=DIR)` plays it and every context on the same weights shares one model and
//! generator. The record's `training` holds how it was made ([`ContextChild`]); a killed run finds
//! it there and resumes to the same lineage.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use agents::ChatMessage;
use agents::context::{AgentContext, CONTEXT_FILE, ContextDiff, Example, MAX_LESSON_CHARS};
use agents::llm::SamplingParams;
use agents::llm::finetuned::{FileRecord, FinetuneRecord, is_finetuned_dir};
use agents::llm_agent::{default_system, prompt_turn};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use super::Generation;
use super::language::LanguageData;
use crate::error::{Context, Error, Result, bail};
use crate::text_data::export::{ExportedMatch, canonical_answers, first_prompt};
use crate::text_data::text_filter::FilterReport;

/// How a child of a language-model run is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operator {
    /// LoRA fine-tuning on the generation's data (the child keeps its parent's context).
    Finetune,
    Experience,
    Lessons,
    Mutation,
}

impl Operator {
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Finetune => "finetune",
            Operator::Experience => "experience",
            Operator::Lessons => "lessons",
            Operator::Mutation => "mutation",
        }
    }
}

/// The mutation instructions a run starts with (after Promptbreeder's thinking styles).
pub const DEFAULT_MUTATION_INSTRUCTIONS: [&str; 6] = [
    "Rewrite these instructions to be clearer and more specific.",
    "Rewrite these instructions so that they name one concrete rule of good play.",
    "Make these instructions shorter, keeping what matters most.",
    "Rewrite these instructions as a short checklist to follow before every answer.",
    "Rewrite these instructions so that the player always answers in exactly the format asked for.",
    "Rewrite these instructions to encourage careful thinking about the opponent's threats.",
];

/// The longest system prompt a mutation may write, in characters.
pub const MAX_SYSTEM_CHARS: usize = 600;

/// How one context child was made: its operator, what changed, and the operator's own counts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContextChild {
    pub child: String,
    pub parent: String,
    pub operator: Operator,
    /// Why no child was made, when none was (the operator's counts still say what happened).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    pub diff: ContextDiff,
    /// The SHA-256 of the child's context.
    pub context_sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experience: Option<ExperienceReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lessons: Option<LessonReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mutation: Option<MutationReport>,
}

/// The experience operator's choice of examples.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ExperienceReport {
    /// The parent's accepted answers in games it won, and how many passed the text filter.
    pub candidates: usize,
    pub filtered: usize,
    /// Candidates left out as duplicates of another's prompt.
    pub duplicates: usize,
    /// Distinct openings (or task kinds) among the candidates, and among those chosen.
    pub groups: usize,
    pub chosen_groups: usize,
    pub chosen: usize,
    /// The chosen examples' tokens, within `context_tokens`.
    pub tokens: usize,
}

/// The lessons operator's lessons: what was written and why some were dropped.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LessonReport {
    /// Lost games (or wrong verdicts) read.
    pub games: usize,
    pub written: usize,
    pub kept: usize,
    pub empty: usize,
    pub too_long: usize,
    pub filtered: usize,
    pub duplicates: usize,
    /// Older lessons dropped to stay within `max_lessons`.
    pub retired: usize,
}

/// The mutation operator's rewrite.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MutationReport {
    pub instruction: String,
    /// Rewrites refused before one was accepted (empty, too long, filtered, unchanged).
    pub refused: usize,
}

/// What the pool of mutation instructions did in a generation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PoolChange {
    /// The instruction rewritten, and the new one (when the rewrite passed validation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rewritten: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dropped: Option<String>,
    /// The pool after the change, with each instruction's record so far.
    pub pool: Vec<InstructionRecord>,
}

/// A mutation instruction and how the children it made did in their gates.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InstructionRecord {
    pub instruction: String,
    pub children: u32,
    /// The sum of their gate scores (0 to 1 each).
    pub score_sum: f64,
}

impl InstructionRecord {
    /// The mean gate score with one imagined even gate, so an untried instruction ranks 0.5.
    pub fn mean(&self) -> f64 {
        (self.score_sum + 0.5) / (self.children as f64 + 1.0)
    }
}

/// A checkpoint's context file in a language-model run: `g0`'s copy of the run's starting
/// context, or a child's `context.json`.
pub(super) fn context_path(generation: &Generation<'_>, name: &str) -> PathBuf {
    if name == super::FIRST {
        generation.run.path().join("contexts").join("g0.json")
    } else {
        generation.run.checkpoint_dir(name).join(CONTEXT_FILE)
    }
}

/// The context of checkpoint `name`: its file's, or empty without one.
pub(super) fn read_context(generation: &Generation<'_>, name: &str) -> Result<AgentContext> {
    let path = context_path(generation, name);
    if !path.is_file() {
        return Ok(AgentContext::new());
    }
    Ok(AgentContext::load(&path)?)
}

impl Generation<'_> {
    /// Copies the run's starting context (`[llm] context`) to the run directory once, so that
    /// `g0` keeps it even if the file changes later.
    pub(super) fn keep_first_context(&self) -> Result<()> {
        let language = self.language()?;
        let Some(source) = &language.context else { return Ok(()) };
        let target = context_path(self, super::FIRST);
        if target.is_file() {
            return Ok(());
        }
        let context = AgentContext::load(source).map_err(Error::from).with_context(|| "[llm] context")?;
        std::fs::create_dir_all(target.parent().unwrap_or(self.run.path()))
            .map_err(|e| Error::io("cannot create", &target, e))?;
        context.save(&target).map_err(|e| Error::io("cannot write", &target, e))?;
        Ok(())
    }

    /// A fine-tuned child keeps its parent's context (copied into its directory).
    pub(super) fn inherit_context(&self, parent: &str, name: &str) -> Result<()> {
        let source = context_path(self, parent);
        let target = context_path(self, name);
        if source.is_file() && !target.is_file() {
            AgentContext::load(&source)?.save(&target).map_err(|e| Error::io("cannot write", &target, e))?;
        }
        Ok(())
    }

    /// Makes `name` from `parent` with a context operator (or reads the child made before a
    /// kill). When the operator has nothing to change (no won game to learn from, no lesson
    /// that passed validation, no acceptable rewrite) no child is made and `skipped` says why.
    pub(super) fn context_child(
        &self,
        generation: u32,
        parent: &str,
        name: &str,
        operator: Operator,
        data: &LanguageData,
        seed: u64,
    ) -> Result<ContextChild> {
        let dir = self.run.checkpoint_dir(name);
        if is_finetuned_dir(&dir) {
            let record = FinetuneRecord::read(&dir)?;
            let child: ContextChild = serde_json::from_value(record.training)
                .with_context(|| format!("how {name} was made, in {}", dir.display()))?;
            return Ok(child);
        }
        let before = read_context(self, parent)?;
        let matches = self.context_matches(data)?;
        let own = |m: &ExportedMatch, seat: usize| {
            let agent = m.agent(seat);
            agent == parent || agent.strip_suffix("#2") == Some(parent)
        };
        let mut after = before.clone();
        let mut child = ContextChild {
            child: name.to_string(),
            parent: parent.to_string(),
            operator,
            skipped: None,
            diff: ContextDiff::default(),
            context_sha256: String::new(),
            experience: None,
            lessons: None,
            mutation: None,
        };
        match operator {
            Operator::Finetune => bail!("fine-tuning is not a context operator"),
            Operator::Experience => {
                let (examples, report) = self.experience(parent, &matches, &own, seed)?;
                after.examples = examples;
                child.experience = Some(report);
            }
            Operator::Lessons => {
                let (lessons, report) = self.lessons(parent, &before, &matches, &own, seed)?;
                after.lessons = lessons;
                child.lessons = Some(report);
            }
            Operator::Mutation => {
                let pool = self.mutation_pool(generation)?;
                match self.mutate(parent, &before, &pool, seed)? {
                    Some((system, report)) => {
                        after.system = Some(system);
                        child.mutation = Some(report);
                    }
                    None => {
                        let reason = format!("{parent}'s rewrites of its system prompt were all refused");
                        self.progress.log(&format!("generation {generation}: no {name}: {reason}"));
                        child.skipped = Some(reason);
                        return Ok(child);
                    }
                }
            }
        }
        child.diff = after.diff_from(&before);
        if child.diff.is_empty() {
            let reason = format!("the {} operator found nothing to change in {parent}'s context", operator.as_str());
            self.progress.log(&format!("generation {generation}: no {name}: {reason}"));
            child.skipped = Some(reason);
            return Ok(child);
        }
        after.check().map_err(|e| Error::Invalid(format!("the context made for {name}: {e}")))?;
        child.context_sha256 = after.sha256();
        // The context first, the record last: a directory with a record is a finished child.
        std::fs::create_dir_all(&dir).map_err(|e| Error::io("cannot create", &dir, e))?;
        let context_file = dir.join(CONTEXT_FILE);
        after.save(&context_file).map_err(|e| Error::io("cannot write", &context_file, e))?;
        let weights = self.model_file(parent)?;
        let base = FileRecord::of(&weights, weights.canonicalize().unwrap_or(weights.clone()))?;
        FinetuneRecord::context_only(base, serde_json::to_value(&child)?).write(&dir)?;
        self.progress.log(&format!(
            "generation {generation}: {name} from {parent} by {}: {}",
            operator.as_str(),
            child.diff.summary()
        ));
        Ok(child)
    }

    /// The generation's exported matches (its rating tournament and self-play), with moves in
    /// their canonical text where the run asks for it.
    fn context_matches(&self, data: &LanguageData) -> Result<Vec<ExportedMatch>> {
        let language = self.language()?;
        let mut matches = self.stored_matches(&data.tournaments)?;
        if language.canonical_moves {
            canonical_answers(&mut matches, self.resources.games())?;
        }
        Ok(matches)
    }

    /// Experience: the parent's accepted answers in games it won, through the text filter and
    /// deduplicated by prompt; drawn one group (opening or task kind) at a time in a seeded order
    /// until `context_examples` are chosen or the next would pass `context_tokens`.
    fn experience(
        &self,
        parent: &str,
        matches: &[ExportedMatch],
        own: &dyn Fn(&ExportedMatch, usize) -> bool,
        seed: u64,
    ) -> Result<(Vec<Example>, ExperienceReport)> {
        let language = self.language()?;
        let filter = language.text_filter()?;
        let mut report = ExperienceReport::default();
        let mut filter_report = FilterReport::default();
        let mut seen = HashSet::new();
        let mut groups: BTreeMap<String, Vec<Example>> = BTreeMap::new();
        // A game won by the opponent's forfeit counts: the winner's accepted answers are legal
        // moves, and while a model forfeits most games they are most of its wins.
        for m in matches {
            for turn in m.turns.iter().filter(|t| !t.rejected && own(m, t.seat) && m.won(t.seat)) {
                report.candidates += 1;
                if !filter.apply(&turn.trace.completion, &mut filter_report) {
                    report.filtered += 1;
                    continue;
                }
                let Some(user) = first_prompt(m, turn).iter().rev().find(|m| m.role == "user") else { continue };
                if !seen.insert(user.content.clone()) {
                    report.duplicates += 1;
                    continue;
                }
                let example = Example {
                    turn: Some(prompt_turn(&user.content)),
                    user: user.content.clone(),
                    assistant: turn.trace.completion.trim().to_string(),
                };
                if example.assistant.is_empty()
                    || (AgentContext { examples: vec![example.clone()], ..AgentContext::new() }).check().is_err()
                {
                    report.filtered += 1;
                    continue;
                }
                groups.entry(opening_key(m)).or_default().push(example);
            }
        }
        report.groups = groups.len();
        let model = self.model_file(parent)?;
        let model = self
            .resources
            .agents()
            .llm_model(&model)
            .map_err(|e| Error::Invalid(format!("language model {}: {e}", model.display())))?;
        let tokens = |e: &Example| -> Result<usize> {
            let count = |text: &str| {
                model.tokenizer().encode_plain(text).map(|t| t.len()).map_err(|e| Error::Invalid(e.to_string()))
            };
            Ok(count(&e.user)? + count(&e.assistant)?)
        };
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut queues: Vec<Vec<Example>> = groups.into_values().collect();
        queues.shuffle(&mut rng);
        for queue in &mut queues {
            queue.shuffle(&mut rng);
        }
        let mut chosen = Vec::new();
        let mut chosen_groups = HashSet::new();
        'draw: while chosen.len() < language.context_examples {
            let mut took = false;
            for (g, queue) in queues.iter_mut().enumerate() {
                if chosen.len() == language.context_examples {
                    break 'draw;
                }
                let Some(example) = queue.pop() else { continue };
                took = true;
                let cost = tokens(&example)?;
                if report.tokens + cost > language.context_tokens {
                    continue;
                }
                report.tokens += cost;
                chosen_groups.insert(g);
                chosen.push(example);
            }
            if !took {
                break;
            }
        }
        report.chosen = chosen.len();
        report.chosen_groups = chosen_groups.len();
        Ok((chosen, report))
    }

    /// Lessons: the parent reads up to `lessons_per_child` of its lost games (a seeded draw) and
    /// writes a lesson for each; those that pass validation join its lessons, the oldest retired
    /// past `max_lessons`.
    fn lessons(
        &self,
        parent: &str,
        before: &AgentContext,
        matches: &[ExportedMatch],
        own: &dyn Fn(&ExportedMatch, usize) -> bool,
        seed: u64,
    ) -> Result<(Vec<String>, LessonReport)> {
        let language = self.language()?;
        let game = self.resources.load_game(&self.config.game)?.facts().name.replace('_', " ");
        let mut losses: Vec<Vec<ChatMessage>> = Vec::new();
        for m in matches {
            for seat in (0..m.seat_agents.len()).filter(|&s| own(m, s) && m.lost(s)) {
                // The seat's last decision: the position it saw, what it answered, how it ended.
                let Some(turn) = m.turns.iter().rev().find(|t| t.seat == seat) else { continue };
                let Some(shown) = first_prompt(m, turn).iter().rev().find(|m| m.role == "user") else { continue };
                let outcome = match (&m.fault, m.fault_seat) {
                    (Some(fault), Some(s)) if s == seat => {
                        format!("The answer was refused ({fault}) and you lost the game by forfeit.")
                    }
                    _ => "You lost this game.".to_string(),
                };
                let user = format!(
                    "Here is the last position of a game of {game} you lost, as you were shown it:\n\n{}\n\nYou answered: {}\n{outcome}\n\nWrite one short lesson, a single sentence, that would help you play better next time. Reply with the lesson only.",
                    shown.content.trim(),
                    turn.trace.completion.trim()
                );
                losses.push(vec![
                    ChatMessage::system(format!("You are a {game} player reviewing your own lost games.")),
                    ChatMessage::user(user),
                ]);
            }
        }
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
        losses.shuffle(&mut rng);
        losses.truncate(language.lessons_per_child);
        let mut report = LessonReport { games: losses.len(), ..LessonReport::default() };
        let replies = self.generate_all(parent, &losses, 64, language.context_temperature, seed)?;
        let filter = language.text_filter()?;
        let mut lessons = before.lessons.clone();
        let mut known: HashSet<String> = lessons.iter().map(|l| normalized(l)).collect();
        let mut filter_report = FilterReport::default();
        for reply in replies {
            report.written += 1;
            let lesson = clean_lesson(&reply);
            if lesson.is_empty() {
                report.empty += 1;
            } else if lesson.chars().count() > MAX_LESSON_CHARS || lesson.split_whitespace().count() > 60 {
                report.too_long += 1;
            } else if !filter.apply(&lesson, &mut filter_report)
                || (AgentContext { lessons: vec![lesson.clone()], ..AgentContext::new() }).check().is_err()
            {
                report.filtered += 1;
            } else if !known.insert(normalized(&lesson)) {
                report.duplicates += 1;
            } else {
                report.kept += 1;
                lessons.push(lesson);
            }
        }
        if lessons.len() > language.max_lessons {
            report.retired = lessons.len() - language.max_lessons;
            lessons.drain(..report.retired);
        }
        Ok((lessons, report))
    }

    /// Mutation: the parent rewrites its system prompt (its context's, else the default it plays
    /// with) following an instruction drawn from the pool by Thompson sampling on its children's
    /// gate scores; up to three tries. `None` when every rewrite is refused.
    fn mutate(
        &self,
        parent: &str,
        before: &AgentContext,
        pool: &[InstructionRecord],
        seed: u64,
    ) -> Result<Option<(String, MutationReport)>> {
        use rand_distr::{Beta, Distribution};
        let game = self.resources.load_game(&self.config.game)?;
        let current =
            before.system.clone().unwrap_or_else(|| default_system(game.facts().name, agents::context::TurnKind::Move));
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
        let draw = pool
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let wins = r.score_sum + 0.5;
                let losses = (r.children as f64 - r.score_sum).max(0.0) + 0.5;
                let sample = Beta::new(wins, losses).map(|b| b.sample(&mut rng)).unwrap_or(0.5);
                (sample, i)
            })
            .max_by(|a, b| a.0.total_cmp(&b.0));
        let Some((_, index)) = draw else { return Ok(None) };
        let instruction = &pool[index].instruction;
        let prompt = vec![
            ChatMessage::system("You rewrite the instructions given to a game-playing assistant."),
            ChatMessage::user(format!(
                "{instruction}\n\nThe instructions:\n{current}\n\nReply with the new instructions only."
            )),
        ];
        let language = self.language()?;
        let filter = language.text_filter()?;
        let mut report = FilterReport::default();
        for attempt in 0..3u64 {
            let reply = self.generate_all(
                parent,
                std::slice::from_ref(&prompt),
                160,
                language.context_temperature,
                seed.wrapping_add(attempt),
            )?;
            let text = clean_generated(&reply.into_iter().next().unwrap_or_default());
            let valid = !text.is_empty()
                && text.chars().count() <= MAX_SYSTEM_CHARS
                && text != current
                && filter.apply(&text, &mut report)
                && (AgentContext { system: Some(text.clone()), ..AgentContext::new() }).check().is_ok();
            if valid {
                return Ok(Some((
                    text,
                    MutationReport { instruction: instruction.clone(), refused: attempt as usize },
                )));
            }
        }
        Ok(None)
    }

    /// The pool of mutation instructions as generation `generation` starts: the run's own, then
    /// each earlier generation's change, each instruction scored by the gates of the children it
    /// made.
    pub(super) fn mutation_pool(&self, generation: u32) -> Result<Vec<InstructionRecord>> {
        let language = self.language()?;
        let mut pool: Vec<InstructionRecord> = language
            .mutation_instructions
            .iter()
            .map(|i| InstructionRecord { instruction: i.clone(), ..InstructionRecord::default() })
            .collect();
        for earlier in 1..generation {
            let Some(summary) = self.run.summary(earlier)? else { continue };
            let Some(l) = &summary.language else { continue };
            // A generation's pool change already counts its own gates.
            if let Some(change) = &l.pool {
                pool = change.pool.clone();
                continue;
            }
            for child in l.contexts.iter().filter(|c| c.operator == Operator::Mutation) {
                let Some(mutation) = &child.mutation else { continue };
                let Some(gate) = summary.gates.iter().find(|g| g.child == child.child) else { continue };
                if let Some(record) = pool.iter_mut().find(|r| r.instruction == mutation.instruction) {
                    record.children += 1;
                    record.score_sum += gate.score;
                }
            }
        }
        Ok(pool)
    }

    /// The pool's own evolution at the end of generation `generation` (its gates decided): the
    /// best-scoring instruction is rewritten by `champion` into a new one, which joins the pool;
    /// past `mutation_pool_size` the worst tried one leaves.
    pub(super) fn evolve_pool(
        &self,
        generation: u32,
        champion: &str,
        contexts: &[ContextChild],
        gates: &[super::GateResult],
        seed: u64,
    ) -> Result<PoolChange> {
        let language = self.language()?;
        let mut pool = self.mutation_pool(generation)?;
        for child in contexts.iter().filter(|c| c.operator == Operator::Mutation) {
            let (Some(mutation), Some(gate)) = (&child.mutation, gates.iter().find(|g| g.child == child.child)) else {
                continue;
            };
            if let Some(record) = pool.iter_mut().find(|r| r.instruction == mutation.instruction) {
                record.children += 1;
                record.score_sum += gate.score;
            }
        }
        let mut change = PoolChange::default();
        let best = pool.iter().filter(|r| r.children > 0).max_by(|a, b| a.mean().total_cmp(&b.mean())).cloned();
        if let Some(best) = best {
            let prompt = vec![
                ChatMessage::system(
                    "You improve instructions that tell a writer how to rewrite a game-playing assistant's instructions.",
                ),
                ChatMessage::user(format!(
                    "Here is such an instruction:\n{}\n\nWrite a better, different instruction of the same kind, in one or two sentences. Reply with the instruction only.",
                    best.instruction
                )),
            ];
            let reply = self.generate_all(champion, &[prompt], 96, language.context_temperature, seed)?;
            let text = clean_generated(&reply.into_iter().next().unwrap_or_default());
            change.rewritten = Some(best.instruction.clone());
            let fresh = !pool.iter().any(|r| normalized(&r.instruction) == normalized(&text));
            let filter = language.text_filter()?;
            let mut report = FilterReport::default();
            if !text.is_empty() && text.chars().count() <= MAX_SYSTEM_CHARS && fresh && filter.apply(&text, &mut report)
            {
                pool.push(InstructionRecord { instruction: text.clone(), ..InstructionRecord::default() });
                change.added = Some(text);
            }
        }
        if pool.len() > language.mutation_pool_size {
            let worst = pool
                .iter()
                .enumerate()
                .filter(|(_, r)| r.children > 0)
                .min_by(|a, b| a.1.mean().total_cmp(&b.1.mean()))
                .map(|(i, _)| i);
            if let Some(worst) = worst {
                change.dropped = Some(pool.remove(worst).instruction);
            }
        }
        change.pool = pool;
        Ok(change)
    }

    /// The replies of checkpoint `name`'s weights (no context: these prompts are the run's own)
    /// to `prompts`, in order, sampled at `temperature` (top-p 0.95) with seed `seed + index`, by
    /// up to `threads` workers through one batched generator.
    pub(super) fn generate_all(
        &self,
        name: &str,
        prompts: &[Vec<ChatMessage>],
        max_tokens: usize,
        temperature: f64,
        seed: u64,
    ) -> Result<Vec<String>> {
        let model = self.model_file(name)?;
        let generator = self
            .resources
            .agents()
            .generator(&model, 8)
            .map_err(|e| Error::Invalid(format!("language model {}: {e}", model.display())))?;
        let count = prompts.len();
        if count == 0 {
            return Ok(Vec::new());
        }
        let workers = self.options.threads.clamp(1, 8).min(count);
        let ask = |index: usize| {
            let params = SamplingParams {
                temperature: temperature as f32,
                top_p: 0.95,
                max_tokens,
                seed: seed.wrapping_add(index as u64),
                ignore_stop: false,
            };
            generator
                .generate_until(&prompts[index], &params, None)
                .map(|c| (index, c.text))
                .map_err(|e| Error::Invalid(format!("generating with {}: {e}", model.display())))
        };
        let answered: Vec<Result<(usize, String)>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|w| {
                    let ask = &ask;
                    scope.spawn(move || (w..count).step_by(workers).map(ask).collect::<Vec<_>>())
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| {
                    h.join().unwrap_or_else(|_| vec![Err(Error::Invalid("a generation worker panicked".into()))])
                })
                .collect()
        });
        let mut replies = answered.into_iter().collect::<Result<Vec<_>>>()?;
        replies.sort_by_key(|(index, _)| *index);
        Ok(replies.into_iter().map(|(_, text)| text).collect())
    }
}

/// The group an example is drawn from: the match's opening (its first two moves), which for a
/// quiz is its task.
fn opening_key(m: &ExportedMatch) -> String {
    format!("{:?}", &m.moves[..m.moves.len().min(2)])
}

/// Generated text without what cannot be shown: control characters (but line breaks and tabs)
/// and the replacement character of bytes that were not UTF-8.
fn clean_generated(text: &str) -> String {
    text.chars()
        .filter(|&c| (matches!(c, '\n' | '\t') || !c.is_control()) && c != '\u{FFFD}')
        .collect::<String>()
        .trim()
        .to_string()
}

/// A lesson as the model wrote it, cleaned: its first line, without a `Lesson:` label, list
/// marks or quotes.
fn clean_lesson(reply: &str) -> String {
    let reply = clean_generated(reply);
    let line = reply.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
    let mut text = line.trim_start_matches(['-', '*', '•', ' ']).trim();
    for label in ["Lesson:", "lesson:", "LESSON:"] {
        if let Some(rest) = text.strip_prefix(label) {
            text = rest.trim();
        }
    }
    text.trim_matches(['"', '\'', '“', '”']).trim().to_string()
}

/// Text compared for duplicates: lower case, letters and digits only.
fn normalized(text: &str) -> String {
    text.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lessons_are_cleaned_and_compared_without_case_or_punctuation() {
        assert_eq!(clean_lesson("\n  - Lesson: \"Block the open row.\"\nMore text"), "Block the open row.");
        assert_eq!(clean_lesson("   \n"), "");
        assert_eq!(clean_lesson("\u{2}Keep\u{FFFD} the centre.\u{1b}"), "Keep the centre.");
        assert_eq!(normalized("Block the open row!"), normalized("block THE open row"));
    }

    #[test]
    fn an_untried_instruction_ranks_even() {
        let untried = InstructionRecord { instruction: "x".into(), ..InstructionRecord::default() };
        assert_eq!(untried.mean(), 0.5);
        let good = InstructionRecord { instruction: "y".into(), children: 3, score_sum: 2.4 };
        assert!(good.mean() > 0.5 && good.mean() < 0.8);
    }
}
