//! Benchmarks of fine-tuning a language model in candle: one training step — the SFT loss's
//! forward pass, its backward pass and the AdamW update — with LoRA (rank 8, alpha 16, on q, k,
//! v, o, gate, up and down) on the tiny fixture (a batch of 4 × 32 tokens), and, when
//! ~/.cache/arena/models/SmolLM2-135M-Instruct.Q4_1.gguf is present, on SmolLM2-135M (a batch of
//! 8 × 64 tokens, LoRA and full fine-tuning), as training tokens per second. Every token but the
//! first of each sequence is a target.
//!
//! Threads: RAYON_NUM_THREADS for candle's f32 products, CANDLE_NUM_THREADS for its element-wise
//! operations; run with `CANDLE_NUM_THREADS=1 RAYON_NUM_THREADS=<cores>` (a second candle pool
//! spinning beside rayon's slows a step down; see `agents::llm::trainable`).

use std::path::PathBuf;

use agents::llm::tiny::{TinyConfig, write_tiny_llama};
use agents::llm::trainable::{AdamW, AdamWConfig, LoraConfig, TrainMode, TrainableLlama};
use candle_core::DType;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn ok<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
    result.unwrap_or_else(|e| panic!("{e}"))
}

/// `count` sequences of `length` tokens drawn from the vocabulary, all but the first a target.
fn batch(vocab: usize, count: usize, length: usize) -> (Vec<Vec<u32>>, Vec<Vec<bool>>) {
    let sequences: Vec<Vec<u32>> = (0..count)
        .map(|s| (0..length).map(|t| 20 + ((t * 31 + s * 7 + t * t) % (vocab - 20)) as u32).collect())
        .collect();
    let targets = sequences.iter().map(|s| (0..s.len()).map(|t| t > 0).collect()).collect();
    (sequences, targets)
}

fn bench_steps(
    c: &mut Criterion,
    name: &str,
    path: &std::path::Path,
    modes: &[(&str, TrainMode)],
    shape: (usize, usize),
) {
    let mut group = c.benchmark_group(format!("finetune_{name}"));
    group.sample_size(10);
    let (count, length) = shape;
    group.throughput(Throughput::Elements((count * length) as u64));
    for (label, mode) in modes {
        let model = ok(TrainableLlama::load(path, mode.clone(), DType::F32));
        let (sequences, targets) = batch(model.config().vocab_size, count, length);
        let config = AdamWConfig { learning_rate: 1e-5, ..AdamWConfig::default() };
        let mut optimizer = ok(AdamW::new(model.trainable_vars(), config));
        println!("{name} {label}: {} trainable parameters", model.trainable_parameters());
        group.bench_function(BenchmarkId::new(format!("{label}_step"), format!("{count}x{length}")), |b| {
            b.iter(|| {
                let loss = ok(model.sft_loss(&sequences, &targets));
                ok(optimizer.step(&ok(loss.backward())));
                loss
            })
        });
    }
    group.finish();
}

fn finetune(c: &mut Criterion) {
    let lora = TrainMode::Lora(LoraConfig::default());
    let dir = ok(tempfile::tempdir());
    let tiny = dir.path().join("tiny.gguf");
    ok(write_tiny_llama(&tiny, &TinyConfig::default(), 1));
    bench_steps(c, "tiny", &tiny, &[("lora", lora.clone())], (4, 32));

    let smol = std::env::var_os("HOME")
        .map(|home| PathBuf::from(home).join(".cache/arena/models/SmolLM2-135M-Instruct.Q4_1.gguf"))
        .filter(|path| path.is_file());
    match smol {
        Some(path) => bench_steps(c, "SmolLM2-135M", &path, &[("lora", lora), ("full", TrainMode::Full)], (8, 64)),
        None => println!("note: SmolLM2-135M-Instruct.Q4_1.gguf is absent; skipping it"),
    }
}

criterion_group!(benches, finetune);
criterion_main!(benches);
