//! Fine-tuning language models through the library, on tiny random GGUF models the tests write:
//! SFT memorises, DPO raises the chosen–rejected margin, an interrupted run resumes to the same
//! bits, the checkpoint plays (merged in memory or as a merged GGUF) with the trained model's
//! logits, external trainers are checked, and bad input gets errors naming it.

use std::path::{Path, PathBuf};

use agents::AgentFactory;
use agents::ChatMessage;
use agents::llm::finetuned::{CHECKPOINT_FILE, FinetuneRecord};
use agents::llm::tiny::{TinyConfig, TinyWeights, write_tiny_llama};
use agents::llm::trainable::{ADAPTER_FILE, LoraConfig, LoraTarget, TrainMode, TrainableLlama};
use agents::llm::{LlmModel, SeqStep};
use arena::Progress;
use arena::progress::Silent;
use arena::training::finetune::{FinetuneConfig, FinetuneOptions, FinetuneReport, Method, external, finetune};
use candle_core::DType;

fn ok<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
    result.unwrap_or_else(|e| panic!("{e}"))
}

fn err<T, E: std::fmt::Display>(result: Result<T, E>) -> String {
    match result {
        Ok(_) => panic!("expected an error"),
        Err(e) => format!("{e:#}"),
    }
}

fn tiny(dir: &Path, weights: TinyWeights) -> PathBuf {
    let path = dir.join(format!("tiny-{weights:?}.gguf"));
    ok(write_tiny_llama(&path, &TinyConfig { weights, ..TinyConfig::default() }, 5));
    path
}

fn write_lines(path: &Path, lines: &[serde_json::Value]) -> PathBuf {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    ok(std::fs::write(path, text));
    path.to_path_buf()
}

/// Four chats to memorise, in `arena export`'s SFT format (with its `meta`).
fn sft_data(dir: &Path) -> PathBuf {
    let lines: Vec<serde_json::Value> = [("first?", "a1"), ("second?", "b2"), ("third?", "c3"), ("fourth?", "d4")]
        .iter()
        .map(|(question, answer)| {
            serde_json::json!({
                "messages": [
                    {"role": "system", "content": "Answer with one cell."},
                    {"role": "user", "content": question},
                    {"role": "assistant", "content": answer},
                ],
                "meta": {"tournament": 1, "match": 0},
            })
        })
        .collect();
    write_lines(&dir.join("sft.jsonl"), &lines)
}

/// Preference pairs in TRL's conversational form, and one in the plain-text form.
fn dpo_data(dir: &Path) -> PathBuf {
    let mut lines: Vec<serde_json::Value> = ["one", "two", "three"]
        .iter()
        .map(|prompt| {
            serde_json::json!({
                "prompt": [{"role": "user", "content": format!("Is {prompt} good?")}],
                "chosen": [{"role": "assistant", "content": "yes"}],
                "rejected": [{"role": "assistant", "content": "no"}],
            })
        })
        .collect();
    lines.push(serde_json::json!({"prompt": "Is four good?", "chosen": "yes", "rejected": "no"}));
    write_lines(&dir.join("dpo.jsonl"), &lines)
}

fn config(base: &Path, data: &Path, method: Method) -> FinetuneConfig {
    FinetuneConfig {
        mode: TrainMode::Lora(LoraConfig { rank: 4, alpha: 8.0, targets: LoraTarget::ALL.to_vec(), seed: 1 }),
        epochs: 30,
        learning_rate: 1e-2,
        batch_tokens: 256,
        ..FinetuneConfig::new(base, data, method)
    }
}

fn options(out: &Path) -> FinetuneOptions {
    FinetuneOptions { out: out.to_path_buf(), resume: false }
}

fn train(config: &FinetuneConfig, out: &Path) -> FinetuneReport {
    ok(finetune(config, &options(out), &Silent))
}

/// The trained model: the base with the checkpoint's adapter loaded.
fn trained_model(base: &Path, out: &Path, mode: TrainMode) -> TrainableLlama {
    let model = ok(TrainableLlama::load(base, mode, DType::F32));
    ok(model.load_adapter(out.join(ADAPTER_FILE)));
    model
}

fn answer_logprob(model: &TrainableLlama, prompt: &str, answer: &str) -> f64 {
    let tokenizer = model.tokenizer();
    let prompt = ok(tokenizer.chat_prompt(&[ChatMessage::user(prompt)]));
    let reply = ok(tokenizer.reply_tokens(answer));
    let mut targets = vec![false; prompt.len()];
    targets.resize(prompt.len() + reply.len(), true);
    let tokens = [prompt, reply].concat();
    ok(ok(model.sequence_logprobs(&[tokens], &[targets])).to_vec1::<f32>())[0] as f64
}

#[test]
fn sft_memorises_the_assistant_answers_and_records_the_checkpoint() {
    let dir = ok(tempfile::tempdir());
    let base = tiny(dir.path(), TinyWeights::Q8_0);
    let data = sft_data(dir.path());
    let out = dir.path().join("sft");
    let report = train(&config(&base, &data, Method::Sft), &out);
    let (first, last) = report.loss_change(3).unwrap_or((f64::NAN, f64::NAN));
    println!("SFT loss {first:.3} -> {last:.4} in {} steps", report.steps);
    assert!(first > 1.0, "an untrained model does not know the answers: {first}");
    assert!(last < 0.05, "30 epochs on 4 answers should memorise them: loss {last}");
    assert_eq!(report.examples, 4);
    assert_eq!(report.steps, 30, "one batch per epoch");

    let record = ok(FinetuneRecord::read(&out));
    assert_eq!(record.method, "sft");
    assert_eq!(record.mode, "lora");
    assert_eq!(record.base.path, ok(base.canonicalize()));
    assert_eq!(record.training["loss_curve"].as_array().map(Vec::len), Some(30));
    assert!(record.adapter.is_some() && record.merged.is_none());
    let leftovers: Vec<String> = ok(std::fs::read_dir(&out))
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|n| n.starts_with("training-state"))
        .collect();
    assert!(leftovers.is_empty(), "the training state is removed when done: {leftovers:?}");

    // The loss was only on the answers: the trained model gives "a1" after its question, and the
    // question itself (never a target) is not what it learned.
    let mode = TrainMode::Lora(LoraConfig { rank: 4, alpha: 8.0, targets: LoraTarget::ALL.to_vec(), seed: 1 });
    let model = trained_model(&base, &out, mode);
    let messages = [ChatMessage::system("Answer with one cell."), ChatMessage::user("first?")];
    let prompt = ok(model.tokenizer().chat_prompt(&messages));
    let reply = ok(model.tokenizer().reply_tokens("a1"));
    let mut targets = vec![false; prompt.len()];
    targets.resize(prompt.len() + reply.len(), true);
    let logprob = ok(ok(model.sequence_logprobs(&[[prompt, reply].concat()], &[targets])).to_vec1::<f32>())[0];
    assert!(logprob > -0.2, "the memorised answer is near certain: log-probability {logprob}");

    // A finished checkpoint is never trained over.
    let again = err(finetune(&config(&base, &data, Method::Sft), &options(&out), &Silent));
    assert!(again.contains("already holds a finished checkpoint"), "{again}");
}

#[test]
fn dpo_raises_the_chosen_answers_margin_over_the_rejected() {
    let dir = ok(tempfile::tempdir());
    let base = tiny(dir.path(), TinyWeights::Q8_0);
    let data = dpo_data(dir.path());
    let out = dir.path().join("dpo");
    let config = FinetuneConfig { epochs: 15, beta: 0.5, ..config(&base, &data, Method::Dpo) };
    let report = train(&config, &out);
    let first = &report.loss_curve[0];
    let last = &report.loss_curve[report.loss_curve.len() - 1];
    println!("DPO loss {:.3} -> {:.4}, margin {:?} -> {:?}", first.loss, last.loss, first.margin, last.margin);
    // At the start the model is its own reference: every margin is zero, the loss log 2.
    assert!((first.loss - 2f64.ln()).abs() < 1e-4, "{}", first.loss);
    assert!(first.margin.unwrap_or(f64::NAN).abs() < 1e-4);
    assert!(last.margin.unwrap_or(0.0) > 2.0 && last.accuracy == Some(1.0), "{last:?}");

    let base_model = ok(TrainableLlama::load(&base, config.mode.clone(), DType::F32));
    let trained = trained_model(&base, &out, config.mode.clone());
    for prompt in ["Is one good?", "Is four good?"] {
        let before = answer_logprob(&base_model, prompt, "yes") - answer_logprob(&base_model, prompt, "no");
        let after = answer_logprob(&trained, prompt, "yes") - answer_logprob(&trained, prompt, "no");
        println!("{prompt}: log p(yes) - log p(no) {before:.3} -> {after:.3}");
        assert!(after > before + 4.0, "{prompt}: {before} -> {after}");
    }
}

/// Stops the run by panicking when it reports step `at` (before that step's state is saved).
struct StopAt {
    at: u64,
}

impl Progress for StopAt {
    fn set_done(&self, done: u64) {
        if done == self.at {
            panic!("stopped at step {done}");
        }
    }
}

#[test]
fn an_interrupted_run_resumes_to_the_same_weights() {
    let dir = ok(tempfile::tempdir());
    let base = tiny(dir.path(), TinyWeights::Q8_0);
    for (method, data) in [(Method::Sft, sft_data(dir.path())), (Method::Dpo, dpo_data(dir.path()))] {
        // Two examples a step, so an epoch has several steps and the stop falls inside one.
        let config = FinetuneConfig { epochs: 3, batch_tokens: 80, save_every: 2, ..config(&base, &data, method) };
        let whole = dir.path().join(format!("{method:?}-whole"));
        let report = train(&config, &whole);
        assert!(report.steps >= 6, "{} steps", report.steps);

        let parts = dir.path().join(format!("{method:?}-parts"));
        let stop = report.steps / 2 + 1;
        let interrupted = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            finetune(&config, &options(&parts), &StopAt { at: stop })
        }));
        assert!(interrupted.is_err(), "the run was stopped");
        assert!(!parts.join(CHECKPOINT_FILE).exists());
        // Without --resume the unfinished directory is refused, not overwritten.
        let refused = err(finetune(&config, &options(&parts), &Silent));
        assert!(refused.contains("--resume"), "{refused}");
        // A resume with other settings is refused, naming them.
        let other = FinetuneConfig { learning_rate: 5e-3, ..config.clone() };
        let resume = FinetuneOptions { out: parts.clone(), resume: true };
        let refused = err(finetune(&other, &resume, &Silent));
        assert!(refused.contains("learning_rate"), "{refused}");

        let resumed = ok(finetune(&config, &resume, &Silent));
        assert!(resumed.resumed_at > 0 && resumed.resumed_at < stop, "resumed at {}", resumed.resumed_at);
        assert_eq!(resumed.steps, report.steps);
        let losses = |r: &FinetuneReport| r.loss_curve.iter().map(|p| p.loss).collect::<Vec<_>>();
        assert_eq!(losses(&resumed), losses(&report), "{method:?}: the same losses, step by step");
        let tensors = |dir: &Path| {
            let mut tensors: Vec<(String, Vec<f32>)> =
                ok(candle_core::safetensors::load(dir.join(ADAPTER_FILE), &candle_core::Device::Cpu))
                    .into_iter()
                    .map(|(name, t)| (name, ok(t.flatten_all().and_then(|t| t.to_vec1::<f32>()))))
                    .collect();
            tensors.sort_by(|a, b| a.0.cmp(&b.0));
            tensors
        };
        let (whole_tensors, resumed_tensors) = (tensors(&whole), tensors(&parts));
        assert_eq!(whole_tensors.len(), 2 * 2 * 7);
        let same_bits = whole_tensors
            .iter()
            .zip(&resumed_tensors)
            .all(|((a, x), (b, y))| a == b && x.iter().zip(y).all(|(u, v)| u.to_bits() == v.to_bits()));
        assert!(same_bits, "{method:?}: the resumed adapter differs from the uninterrupted one");
    }
}

/// The largest difference between two logit rows, and the largest logit.
fn difference(a: &[f32], b: &[f32]) -> (f32, f32) {
    let largest = b.iter().fold(0f32, |m, v| m.max(v.abs()));
    (a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs())), largest)
}

fn last_logits(model: &LlmModel, tokens: &[u32]) -> Vec<f32> {
    let mut cache = model.new_cache();
    ok(model.forward(&mut [SeqStep { cache: &mut cache, tokens }]))
}

/// The checkpoint plays with the trained model's logits: merged in memory from the adapter
/// (`llm(model=DIR)` without `--merge`) and as the merged Q8_0 GGUF, for LoRA and full training.
/// Tolerance: 5% of the largest logit, the bound of the Q8_0 inference path against the f32
/// training path (see the agents crate's agreement test); training moved the logits much more.
#[test]
fn the_checkpoint_plays_with_the_trained_models_logits_merged_or_not() {
    let dir = ok(tempfile::tempdir());
    let base = tiny(dir.path(), TinyWeights::F32);
    let data = sft_data(dir.path());
    for mode in [
        TrainMode::Lora(LoraConfig {
            rank: 4,
            alpha: 8.0,
            targets: vec![LoraTarget::Q, LoraTarget::V, LoraTarget::Down],
            seed: 2,
        }),
        TrainMode::Full,
    ] {
        let config =
            FinetuneConfig { epochs: 10, mode: mode.clone(), merge: true, ..config(&base, &data, Method::Sft) };
        let out = dir.path().join(if mode == TrainMode::Full { "full" } else { "lora" });
        let report = train(&config, &out);
        assert!(report.merged.is_some());
        let in_memory = dir.path().join(format!("{}-unmerged", out.display()));
        ok(std::fs::create_dir_all(&in_memory));
        let mut record = ok(FinetuneRecord::read(&out));
        record.merged = None;
        ok(std::fs::copy(out.join(ADAPTER_FILE), in_memory.join(ADAPTER_FILE)));
        ok(record.write(&in_memory));

        let trained = trained_model(&base, &out, mode.clone());
        let tokens = ok(trained
            .tokenizer()
            .chat_prompt(&[ChatMessage::system("Answer with one cell."), ChatMessage::user("third?")]));
        let expected =
            ok(ok(trained.forward(std::slice::from_ref(&tokens))).to_vec3::<f32>())[0][tokens.len() - 1].clone();
        let factory = AgentFactory::new();
        let merged_file = ok(LlmModel::load(out.join("model.gguf")));
        let merged_in_memory = ok(factory.llm_model(&in_memory));
        let original = ok(LlmModel::load(&base));
        let (moved, _) = difference(&last_logits(&original, &tokens), &expected);
        for (name, model) in [("merged file", &merged_file), ("merged in memory", &merged_in_memory)] {
            let (gap, largest) = difference(&last_logits(model, &tokens), &expected);
            println!("{mode:?} {name}: {gap:.3} off a largest logit of {largest:.3}; training moved them {moved:.3}");
            assert!(gap <= 0.05 * largest, "{name}: {gap} > 5% of {largest}");
            assert!(moved > 4.0 * gap, "training moved the logits too little to tell: {moved}");
        }
    }
}

#[test]
fn a_checkpoint_whose_base_changed_is_refused() {
    let dir = ok(tempfile::tempdir());
    let base = tiny(dir.path(), TinyWeights::Q8_0);
    let data = sft_data(dir.path());
    let out = dir.path().join("sft");
    train(&FinetuneConfig { epochs: 1, ..config(&base, &data, Method::Sft) }, &out);
    ok(AgentFactory::new().llm_model(&out));
    // Another model written over the base file.
    ok(write_tiny_llama(&base, &TinyConfig::default(), 6));
    let refused = err(AgentFactory::new().llm_model(&out));
    assert!(refused.contains("the base model changed") && refused.contains("tiny-Q8_0.gguf"), "{refused}");
}

#[test]
fn bad_data_gets_errors_naming_the_file_and_line() {
    let dir = ok(tempfile::tempdir());
    let base = tiny(dir.path(), TinyWeights::Q8_0);
    let cases: [(&str, &str, Method, &str); 6] = [
        ("not-json", "{\"messages\": []}\n\nnot json\n", Method::Sft, "line 1: `messages` is empty"),
        (
            "broken",
            "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"yo\"}]}\n{oops\n",
            Method::Sft,
            "line 2: not JSON",
        ),
        (
            "no-answer",
            "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}\n",
            Method::Sft,
            "line 1: `messages` has no assistant message",
        ),
        (
            "sft-for-dpo",
            "{\"messages\": [{\"role\": \"assistant\", \"content\": \"hi\"}]}\n",
            Method::Dpo,
            "line 1: missing `prompt`",
        ),
        (
            "two-answers",
            "{\"prompt\": \"q\", \"chosen\": [{\"role\": \"assistant\", \"content\": \"a\"}, {\"role\": \"assistant\", \"content\": \"b\"}], \"rejected\": \"c\"}\n",
            Method::Dpo,
            "line 1: `chosen` must be one assistant message",
        ),
        (
            "identical",
            "{\"prompt\": \"q\", \"chosen\": \"same\", \"rejected\": \"same\"}\n",
            Method::Dpo,
            "no examples to train on (1 lines; 0 longer than the maximum length of 512 tokens, 1 pairs with identical answers)",
        ),
    ];
    for (name, text, method, expected) in cases {
        let data = dir.path().join(format!("{name}.jsonl"));
        ok(std::fs::write(&data, text));
        let out = dir.path().join(format!("{name}-out"));
        let message = err(finetune(&config(&base, &data, method), &options(&out), &Silent));
        assert!(message.contains(&format!("{name}.jsonl")) && message.contains(expected), "{name}: {message}");
        assert!(!out.join(CHECKPOINT_FILE).exists());
    }
    // Everything longer than --max-len: an empty data set, said so.
    let data = sft_data(dir.path());
    let message = err(finetune(
        &FinetuneConfig { max_len: 8, ..config(&base, &data, Method::Sft) },
        &options(&dir.path().join("short")),
        &Silent,
    ));
    assert!(
        message.contains("no examples to train on (4 lines; 4 longer than the maximum length of 8 tokens"),
        "{message}"
    );
    // A base that is not a llama GGUF.
    let message = err(finetune(&config(&data, &data, Method::Sft), &options(&dir.path().join("not-gguf")), &Silent));
    assert!(message.contains("sft.jsonl") && message.contains("GGUF"), "{message}");
}

#[test]
fn an_external_trainers_output_is_checked_before_it_is_recorded() {
    let dir = ok(tempfile::tempdir());
    let base = tiny(dir.path(), TinyWeights::Q8_0);
    let data = sft_data(dir.path());
    let trained = dir.path().join("trained");
    train(&FinetuneConfig { epochs: 2, ..config(&base, &data, Method::Sft) }, &trained);
    let adapter = trained.join(ADAPTER_FILE);

    // A trainer that writes a good adapter: recorded, and it plays.
    let out = dir.path().join("external");
    let command =
        format!("cp '{}' {{out}}/adapter.safetensors && echo trained {{method}} on {{data}}", adapter.display());
    let report = ok(external::train_external(&command, &base, &data, Method::Sft, &out, &Silent));
    assert_eq!(report.mode, "lora");
    assert_eq!(report.changed_weights, 2 * 7, "every projection of both blocks");
    let record = ok(FinetuneRecord::read(&out));
    assert_eq!(record.method, "external-sft");
    ok(AgentFactory::new().llm_model(&out));

    // An adapter for another model's shape.
    let other_base = dir.path().join("wide.gguf");
    ok(write_tiny_llama(&other_base, &TinyConfig { hidden: 96, ..TinyConfig::default() }, 1));
    let out = dir.path().join("misfit");
    let message = err(external::train_external(&command, &other_base, &data, Method::Sft, &out, &Silent));
    assert!(message.contains("does not fit") && message.contains("wide.gguf"), "{message}");
    assert!(!out.join(CHECKPOINT_FILE).exists());

    // A failing trainer, and one that writes nothing.
    let out = dir.path().join("failing");
    let message = err(external::train_external(
        "echo out of memory >&2; exit 3 # {out}",
        &base,
        &data,
        Method::Sft,
        &out,
        &Silent,
    ));
    assert!(message.contains("failed") && message.contains("out of memory"), "{message}");
    let out = dir.path().join("idle");
    let message = err(external::train_external("true {out}", &base, &data, Method::Sft, &out, &Silent));
    assert!(message.contains("wrote neither adapter.safetensors nor model.gguf"), "{message}");
}
