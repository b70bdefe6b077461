//! Tests of the trainable model on the tiny random GGUF: agreement with the inference path,
//! gradients against finite differences, memorising a few sequences, and adapter files.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor, Var};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::*;
use crate::llm::tiny::{TinyConfig, TinyWeights, write_tiny_llama};
use crate::llm::{LlmModel, SeqStep};

fn ok<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
    result.unwrap_or_else(|e| panic!("{e}"))
}

fn tiny_file(dir: &tempfile::TempDir, config: &TinyConfig, seed: u64) -> PathBuf {
    let path = dir.path().join(format!("tiny-{seed}-{:?}-{}.gguf", config.weights, config.tied_output));
    ok(write_tiny_llama(&path, config, seed));
    path
}

fn lora(rank: usize, targets: &[LoraTarget], seed: u64) -> TrainMode {
    TrainMode::Lora(LoraConfig { rank, alpha: 2.0 * rank as f64, targets: targets.to_vec(), seed })
}

/// Token sequences of the given lengths, drawn from the byte and merge tokens (ids 3..).
fn sequences(vocab: usize, lengths: &[usize], seed: u64) -> Vec<Vec<u32>> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    lengths.iter().map(|&n| (0..n).map(|_| rng.random_range(3..vocab as u32)).collect()).collect()
}

/// Every token but the first is a target.
fn all_targets(sequences: &[Vec<u32>]) -> Vec<Vec<bool>> {
    sequences.iter().map(|s| (0..s.len()).map(|t| t > 0).collect()).collect()
}

fn values(tensor: &Tensor) -> Vec<f64> {
    ok(tensor.flatten_all().and_then(|t| t.to_dtype(DType::F64)).and_then(|t| t.to_vec1::<f64>()))
}

/// Sets every LoRA `B` to small seeded random values (an untrained `B` is zero, which makes
/// every gradient of `A` zero and hides mistakes in it).
fn randomize_b(model: &TrainableLlama, seed: u64) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    for (name, var) in model.trainable_vars() {
        if name.ends_with("lora_b") {
            let data: Vec<f32> = (0..var.elem_count()).map(|_| rng.random_range(-0.2..0.2)).collect();
            let tensor = ok(Tensor::from_vec(data, var.dims(), &Device::Cpu).and_then(|t| t.to_dtype(var.dtype())));
            ok(var.set(&tensor));
        }
    }
}

/// Adds `delta` to element `index` of `var`.
fn nudge(var: &Var, index: usize, delta: f64) {
    let mut data = values(var.as_tensor());
    data[index] += delta;
    let tensor = ok(Tensor::from_vec(data, var.dims(), &Device::Cpu).and_then(|t| t.to_dtype(var.dtype())));
    ok(var.set(&tensor));
}

/// The inference path's logits after each prefix `tokens[..=t]`, one prefill per prefix.
fn inference_logits(model: &LlmModel, tokens: &[u32]) -> Vec<Vec<f32>> {
    (0..tokens.len())
        .map(|t| {
            let mut cache = model.new_cache();
            ok(model.forward(&mut [SeqStep { cache: &mut cache, tokens: &tokens[..=t] }]))
        })
        .collect()
}

/// With `B = 0` the trainable forward pass is the inference path's, at every position of every
/// sequence of a padded batch (sequences of 5, 12 and 9 tokens run together).
///
/// Tolerances, as the largest difference over the largest logit (logits here reach about 10):
/// - F32 weights: the inference path multiplies by the f32 weights too (candle's `QMatMul` keeps
///   F32 tensors as plain matrices), so only the order of float additions differs (gemm blocks
///   against our dot products; the attention sums): 1e-5 relative, some 80× f32's epsilon.
/// - Q8_0 weights: both paths use the same weights, but the inference path also rounds every
///   activation row to 8 bits (a Q8_0 block of 32 values shares one scale: up to 0.4% of the
///   block's largest value) before each quantized product; those errors pass through 2 blocks
///   and the output layer. Measured 0.9% (tied) and 1.5% (untied); the bound is 5% relative —
///   still far below the spread of the logits (standard deviation 3 to 8 here), so a wrong RoPE,
///   mask, head grouping or norm (each moves logits by O(1)) fails it.
///
/// Measured for F32: 3e-7 to 5e-7 relative.
#[test]
fn untrained_adapters_give_the_inference_paths_logits_at_every_position() {
    let dir = ok(tempfile::tempdir());
    for (weights, tied, tolerance) in [
        (TinyWeights::F32, false, 1e-5),
        (TinyWeights::F32, true, 1e-5),
        (TinyWeights::Q8_0, false, 5e-2),
        (TinyWeights::Q8_0, true, 5e-2),
    ] {
        let config = TinyConfig { weights, tied_output: tied, ..TinyConfig::default() };
        let path = tiny_file(&dir, &config, 11);
        let inference = ok(LlmModel::load(&path));
        let trainable = ok(TrainableLlama::load(&path, lora(4, &LoraTarget::ALL, 3), DType::F32));
        let full = ok(TrainableLlama::load(&path, TrainMode::Full, DType::F32));
        let vocab = trainable.config().vocab_size;
        assert_eq!(trainable.config(), inference.config());
        let batch = sequences(vocab, &[5, 12, 9], 5);
        let logits = ok(ok(trainable.forward(&batch)).to_vec3::<f32>());
        let full_logits = ok(ok(full.forward(&batch)).to_vec3::<f32>());
        let (mut largest_logit, mut largest_difference, mut full_difference) = (0.0f32, 0.0f32, 0.0f32);
        for (s, tokens) in batch.iter().enumerate() {
            for (t, expected) in inference_logits(&inference, tokens).iter().enumerate() {
                for ((&a, &b), &c) in logits[s][t].iter().zip(expected).zip(&full_logits[s][t]) {
                    largest_logit = largest_logit.max(b.abs());
                    largest_difference = largest_difference.max((a - b).abs());
                    full_difference = full_difference.max((a - c).abs());
                }
            }
        }
        let relative = largest_difference / largest_logit;
        println!(
            "{weights:?} tied={tied}: largest logit {largest_logit:.3}, largest difference {largest_difference:.2e} \
             ({relative:.2e} relative); full mode against LoRA mode {full_difference:.2e}"
        );
        assert!(largest_logit > 1.0, "the logits are too flat to compare");
        assert!(relative <= tolerance, "{weights:?} tied={tied}: {relative:.2e} relative > {tolerance:.0e}");
        assert!(full_difference <= 1e-5 * largest_logit, "full mode differs from LoRA mode by {full_difference}");
    }
}

/// `sequence_logprobs` is the sum, over the marked tokens, of the log-softmax of the logits of
/// the position before each (computed here from `forward`), and a sequence's value does not
/// depend on the others in its batch.
#[test]
fn sequence_logprobs_sum_the_log_softmax_of_the_targets() {
    let dir = ok(tempfile::tempdir());
    let path = tiny_file(&dir, &TinyConfig { weights: TinyWeights::F32, ..TinyConfig::default() }, 2);
    let model = ok(TrainableLlama::load(&path, lora(4, &LoraTarget::ALL, 1), DType::F64));
    randomize_b(&model, 9);
    let vocab = model.config().vocab_size;
    let batch = sequences(vocab, &[7, 3, 10], 4);
    let targets: Vec<Vec<bool>> =
        batch.iter().enumerate().map(|(s, seq)| (0..seq.len()).map(|t| t > 0 && (t + s) % 3 != 0).collect()).collect();
    let logprobs = values(&ok(model.sequence_logprobs(&batch, &targets)));
    let logits = ok(ok(model.forward(&batch)).to_vec3::<f64>());
    for (s, tokens) in batch.iter().enumerate() {
        let mut expected = 0.0;
        for t in (1..tokens.len()).filter(|&t| targets[s][t]) {
            let row = &logits[s][t - 1];
            let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let log_sum = row.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
            expected += row[tokens[t] as usize] - max - log_sum;
        }
        assert!((logprobs[s] - expected).abs() < 1e-9, "sequence {s}: {} against {expected}", logprobs[s]);
        let alone = values(&ok(model.sequence_logprobs(&batch[s..=s], &targets[s..=s])));
        assert!((alone[0] - logprobs[s]).abs() < 1e-9, "sequence {s} alone: {} against {}", alone[0], logprobs[s]);
    }
    // The SFT loss is minus the mean over all target tokens.
    let count = targets.iter().flatten().filter(|&&t| t).count() as f64;
    let loss = ok(ok(model.sft_loss(&batch, &targets)).to_scalar::<f64>());
    assert!((loss + logprobs.iter().sum::<f64>() / count).abs() < 1e-9);
}

/// Central differences of the SFT loss against the gradients autograd gives, on one element of
/// every LoRA tensor (both layers, all seven projections, `A` and `B`), in f64.
///
/// Why these tolerances: in f64 with a step of 1e-5, the central difference's truncation error
/// is about step² × (third derivative) ≈ 1e-10, and the rounding error about
/// 1e-16 × loss / step ≈ 1e-10; `|autograd - difference| ≤ 1e-7 + 1e-6 × |gradient|` leaves a
/// factor of a thousand (the worst error measured is 0.001 of it), while a wrong backward pass
/// (a missing transpose, a RoPE rotated the wrong way) is off by O(1). The f32 model's gradients
/// are then checked against the f64 ones: f32 rounds each operation at 6e-8 relative, and
/// through this small network the gradients agree to about 1e-6 of each tensor's norm (bound:
/// 1e-3).
#[test]
fn lora_gradients_match_finite_differences() {
    let dir = ok(tempfile::tempdir());
    let path = tiny_file(&dir, &TinyConfig { weights: TinyWeights::Q8_0, ..TinyConfig::default() }, 5);
    let model = ok(TrainableLlama::load(&path, lora(4, &LoraTarget::ALL, 2), DType::F64));
    randomize_b(&model, 1);
    let vocab = model.config().vocab_size;
    let batch = sequences(vocab, &[9, 6], 8);
    let targets = all_targets(&batch);
    let loss = |m: &TrainableLlama| ok(ok(m.sft_loss(&batch, &targets)).to_scalar::<f64>());
    let gradients = ok(ok(model.sft_loss(&batch, &targets)).backward());
    let vars = model.trainable_vars();
    assert_eq!(vars.len(), 2 * 7 * 2);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
    let step = 1e-5;
    let mut worst = 0.0f64;
    for (name, var) in &vars {
        let gradient = values(gradients.get(var.as_tensor()).unwrap_or_else(|| panic!("no gradient for {name}")));
        // The element of largest gradient, and one at random.
        let largest = (0..gradient.len()).max_by(|&a, &b| gradient[a].abs().total_cmp(&gradient[b].abs())).unwrap_or(0);
        for index in [largest, rng.random_range(0..gradient.len())] {
            nudge(var, index, step);
            let up = loss(&model);
            nudge(var, index, -2.0 * step);
            let down = loss(&model);
            nudge(var, index, step);
            let difference = (up - down) / (2.0 * step);
            let error = (gradient[index] - difference).abs();
            worst = worst.max(error / (1e-7 + 1e-6 * gradient[index].abs()));
            assert!(
                error <= 1e-7 + 1e-6 * gradient[index].abs(),
                "{name}[{index}]: autograd {:e}, central difference {difference:e}",
                gradient[index]
            );
        }
    }
    println!("f64 LoRA gradients: the worst error is {worst:.3} of the tolerance");

    // The f32 model computes the same gradients, to f32's precision.
    let single = ok(TrainableLlama::load(&path, lora(4, &LoraTarget::ALL, 2), DType::F32));
    for ((_, a), (_, b)) in single.trainable_vars().iter().zip(&vars) {
        ok(a.set(&ok(b.as_tensor().to_dtype(DType::F32))));
    }
    let single_gradients = ok(ok(single.sft_loss(&batch, &targets)).backward());
    let mut worst = 0.0f64;
    for ((name, a), (_, b)) in single.trainable_vars().iter().zip(&vars) {
        let (ga, gb) = (
            values(&single_gradients.get(a).cloned().unwrap_or_else(|| panic!("{name}"))),
            values(&gradients.get(b).cloned().unwrap_or_else(|| panic!("{name}"))),
        );
        let norm = gb.iter().map(|v| v * v).sum::<f64>().sqrt();
        let difference = ga.iter().zip(&gb).map(|(x, y)| (x - y).powi(2)).sum::<f64>().sqrt();
        worst = worst.max(difference / norm);
        assert!(
            difference <= 1e-3 * norm,
            "{name}: f32 gradients differ from f64 by {:.2e} relative",
            difference / norm
        );
    }
    println!("f32 LoRA gradients against f64: at worst {worst:.2e} relative");
}

/// The same check in full mode on a model whose output is tied to the embedding: the embedding
/// gets gradient from both ends, and norms and every projection are checked.
#[test]
fn full_gradients_match_finite_differences() {
    let dir = ok(tempfile::tempdir());
    let config = TinyConfig { weights: TinyWeights::F32, tied_output: true, ..TinyConfig::default() };
    let path = tiny_file(&dir, &config, 6);
    let model = ok(TrainableLlama::load(&path, TrainMode::Full, DType::F64));
    let vocab = model.config().vocab_size;
    let batch = sequences(vocab, &[8, 5], 2);
    let targets = all_targets(&batch);
    let loss = |m: &TrainableLlama| ok(ok(m.sft_loss(&batch, &targets)).to_scalar::<f64>());
    let gradients = ok(ok(model.sft_loss(&batch, &targets)).backward());
    let vars = model.trainable_vars();
    // Tied: one embedding, no output.weight; 9 per block; the output norm.
    assert_eq!(vars.len(), 1 + 2 * 9 + 1);
    assert!(vars.iter().all(|(name, _)| name != "output.weight"));
    let step = 1e-5;
    for (name, var) in &vars {
        let gradient = values(gradients.get(var.as_tensor()).unwrap_or_else(|| panic!("no gradient for {name}")));
        let index = (0..gradient.len()).max_by(|&a, &b| gradient[a].abs().total_cmp(&gradient[b].abs())).unwrap_or(0);
        nudge(var, index, step);
        let up = loss(&model);
        nudge(var, index, -2.0 * step);
        let down = loss(&model);
        nudge(var, index, step);
        let difference = (up - down) / (2.0 * step);
        assert!(
            (gradient[index] - difference).abs() <= 1e-7 + 1e-6 * gradient[index].abs(),
            "{name}[{index}]: autograd {:e}, central difference {difference:e}",
            gradient[index]
        );
    }
}

/// Three short chats; the assistant's replies are the targets.
fn memorisable(model: &TrainableLlama) -> (Vec<Vec<u32>>, Vec<Vec<bool>>) {
    let chats = [
        ("hello", "the cat is in the hall"),
        ("what is the answer", "it was all in the west"),
        ("tell me a move", "e2e4, then the knight"),
    ];
    let tokenizer = model.tokenizer();
    let mut sequences = Vec::new();
    let mut targets = Vec::new();
    for (prompt, reply) in chats {
        let prompt = ok(tokenizer.encode(&format!("<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n")));
        let reply = ok(tokenizer.encode(&format!("{reply}<|im_end|>")));
        targets.push([vec![false; prompt.len()], vec![true; reply.len()]].concat());
        sequences.push([prompt, reply].concat());
    }
    (sequences, targets)
}

/// Trains `model` with AdamW on the memorisable set; returns the first and last losses.
fn memorise(model: &TrainableLlama, learning_rate: f64, steps: usize) -> (f64, f64) {
    let (sequences, targets) = memorisable(model);
    let config = AdamWConfig { learning_rate, ..AdamWConfig::default() };
    let mut optimizer = ok(AdamW::new(model.trainable_vars(), config));
    let mut first = None;
    let mut last = 0.0;
    for _ in 0..steps {
        let loss = ok(model.sft_loss(&sequences, &targets));
        last = ok(loss.to_scalar::<f32>()) as f64;
        first.get_or_insert(last);
        ok(optimizer.step(&ok(loss.backward())));
    }
    assert_eq!(optimizer.steps(), steps as u64);
    (first.unwrap_or(last), last)
}

#[test]
fn lora_training_memorises_a_few_replies() {
    let dir = ok(tempfile::tempdir());
    let path = tiny_file(&dir, &TinyConfig::default(), 21);
    let model = ok(TrainableLlama::load(&path, lora(8, &LoraTarget::ALL, 4), DType::F32));
    let frozen = values(model.embedding.tensor());
    let (first, last) = memorise(&model, 1e-2, 300);
    println!("LoRA: SFT loss {first:.3} -> {last:.4} in 300 steps");
    assert!(last < 0.1 * first, "LoRA training took the loss from {first} to {last} only");
    // The base weights did not move.
    assert_eq!(values(model.embedding.tensor()), frozen);
}

#[test]
fn full_training_memorises_a_few_replies() {
    let dir = ok(tempfile::tempdir());
    let path = tiny_file(&dir, &TinyConfig { tied_output: true, ..TinyConfig::default() }, 22);
    let model = ok(TrainableLlama::load(&path, TrainMode::Full, DType::F32));
    let (first, last) = memorise(&model, 3e-3, 200);
    println!("full: SFT loss {first:.3} -> {last:.4} in 200 steps");
    assert!(last < 0.1 * first, "full training took the loss from {first} to {last} only");
}

fn bits(model: &TrainableLlama) -> Vec<(String, Vec<u64>)> {
    model
        .trainable_vars()
        .iter()
        .map(|(name, var)| (name.clone(), values(var.as_tensor()).iter().map(|v| v.to_bits()).collect()))
        .collect()
}

/// Rewrites the adapter file at `from` into `to`, changing its tensors with `edit` and keeping
/// its header.
fn rewrite(from: &Path, to: &Path, edit: impl Fn(&mut Vec<(String, Vec<usize>, Vec<u8>)>)) {
    let bytes = ok(std::fs::read(from));
    let (_, metadata) = ok(safetensors::SafeTensors::read_metadata(&bytes));
    let file = ok(safetensors::SafeTensors::deserialize(&bytes));
    let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> =
        file.tensors().into_iter().map(|(name, view)| (name, view.shape().to_vec(), view.data().to_vec())).collect();
    edit(&mut tensors);
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = tensors
        .iter()
        .map(|(name, shape, data)| {
            (name.clone(), ok(safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), data)))
        })
        .collect();
    let header: Option<HashMap<String, String>> = metadata.metadata().clone();
    ok(std::fs::write(to, ok(safetensors::serialize(views, header))));
}

#[test]
fn adapters_save_and_load_bit_for_bit() {
    let dir = ok(tempfile::tempdir());
    let path = tiny_file(&dir, &TinyConfig::default(), 31);
    let targets = [LoraTarget::Q, LoraTarget::V, LoraTarget::Down];
    let trained = ok(TrainableLlama::load(&path, lora(4, &targets, 1), DType::F32));
    memorise(&trained, 1e-2, 3);
    let file = dir.path().join(ADAPTER_FILE);
    let saved = ok(trained.save_adapter(&file));
    let mut expected: Vec<AdapterTensor> = trained
        .trainable_vars()
        .iter()
        .map(|(name, var)| AdapterTensor { name: name.clone(), shape: var.dims().to_vec() })
        .collect();
    expected.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(saved, expected);
    assert_eq!(saved[0], AdapterTensor { name: "blk.0.attn_q.weight.lora_a".into(), shape: vec![4, 64] });
    assert_eq!(saved.len(), 2 * 3 * 2);

    // A model with other initial adapters (another seed) takes the saved ones exactly.
    let loaded = ok(TrainableLlama::load(&path, lora(4, &targets, 2), DType::F32));
    assert_ne!(bits(&loaded), bits(&trained));
    let listed = ok(loaded.load_adapter(&file));
    assert_eq!(listed.len(), saved.len());
    assert_eq!(bits(&loaded), bits(&trained));
    let batch = sequences(trained.config().vocab_size, &[6, 4], 1);
    assert_eq!(values(&ok(loaded.forward(&batch))), values(&ok(trained.forward(&batch))));

    // Never overwritten.
    let error = ok(trained.save_adapter(&file).map(|_| ()).err().ok_or("saved over a file"));
    assert!(error.to_string().contains(&file.display().to_string()), "{error}");

    // Full mode round-trips too (a tied model: no output.weight).
    let tied = tiny_file(&dir, &TinyConfig { tied_output: true, ..TinyConfig::default() }, 32);
    let full = ok(TrainableLlama::load(&tied, TrainMode::Full, DType::F32));
    memorise(&full, 1e-3, 2);
    let full_file = dir.path().join("full.safetensors");
    let saved = ok(full.save_adapter(&full_file));
    assert!(saved.iter().any(|t| t.name == "token_embd.weight") && !saved.iter().any(|t| t.name == "output.weight"));
    let fresh = ok(TrainableLlama::load(&tied, TrainMode::Full, DType::F32));
    ok(fresh.load_adapter(&full_file));
    assert_eq!(bits(&fresh), bits(&full));
}

#[test]
fn a_wrong_adapter_file_is_refused_naming_the_file_and_the_tensor() {
    let dir = ok(tempfile::tempdir());
    let path = tiny_file(&dir, &TinyConfig::default(), 41);
    let targets = [LoraTarget::Q, LoraTarget::K];
    let model = ok(TrainableLlama::load(&path, lora(4, &targets, 1), DType::F32));
    memorise(&model, 1e-2, 2);
    let good = dir.path().join(ADAPTER_FILE);
    ok(model.save_adapter(&good));
    let target = ok(TrainableLlama::load(&path, lora(4, &targets, 7), DType::F32));
    let before = bits(&target);
    let refused = |file: &Path, model: &TrainableLlama| -> String {
        let error = model.load_adapter(file).err().unwrap_or_else(|| panic!("{} loaded", file.display()));
        error.to_string()
    };

    let missing = dir.path().join("missing.safetensors");
    rewrite(&good, &missing, |tensors| tensors.retain(|(name, _, _)| name != "blk.1.attn_k.weight.lora_b"));
    let message = refused(&missing, &target);
    assert!(matches!(target.load_adapter(&missing), Err(LlmError::MissingTensor { .. })));
    assert!(message.contains("missing.safetensors") && message.contains("blk.1.attn_k.weight.lora_b"), "{message}");

    let misshapen = dir.path().join("misshapen.safetensors");
    rewrite(&good, &misshapen, |tensors| {
        for (name, shape, _) in tensors.iter_mut() {
            if name == "blk.0.attn_q.weight.lora_a" {
                shape.reverse();
            }
        }
    });
    let message = refused(&misshapen, &target);
    assert!(
        message.contains("misshapen.safetensors")
            && message.contains("blk.0.attn_q.weight.lora_a")
            && message.contains("[64, 4]")
            && message.contains("[4, 64]"),
        "{message}"
    );

    let extra = dir.path().join("extra.safetensors");
    rewrite(&good, &extra, |tensors| tensors.push(("blk.0.attn_v.weight.lora_a".into(), vec![1], vec![0; 4])));
    let message = refused(&extra, &target);
    assert!(message.contains("extra.safetensors") && message.contains("blk.0.attn_v.weight.lora_a"), "{message}");

    // Another rank, other targets, another mode: the header says so before any tensor is read.
    let rank8 = ok(TrainableLlama::load(&path, lora(8, &targets, 1), DType::F32));
    let message = refused(&good, &rank8);
    assert!(message.contains(ADAPTER_FILE) && message.contains("rank"), "{message}");
    let other_targets = ok(TrainableLlama::load(&path, lora(4, &[LoraTarget::Q, LoraTarget::V], 1), DType::F32));
    assert!(refused(&good, &other_targets).contains("targets"));
    let full = ok(TrainableLlama::load(&path, TrainMode::Full, DType::F32));
    assert!(refused(&good, &full).contains("mode"));

    let garbage = dir.path().join("garbage.safetensors");
    ok(std::fs::write(&garbage, b"not a tensor file"));
    assert!(refused(&garbage, &target).contains("garbage.safetensors"));
    assert!(refused(&dir.path().join("absent.safetensors"), &target).contains("absent.safetensors"));

    // Nothing was changed by the refused loads.
    assert_eq!(bits(&target), before);
}

#[test]
fn bad_batches_and_configurations_are_refused() {
    let dir = ok(tempfile::tempdir());
    let path = tiny_file(&dir, &TinyConfig { context: 16, ..TinyConfig::default() }, 51);
    let model = ok(TrainableLlama::load(&path, lora(2, &[LoraTarget::Q], 0), DType::F32));
    let vocab = model.config().vocab_size as u32;
    let bad = |result: Result<Tensor, LlmError>| -> String {
        match result {
            Err(error) => error.to_string(),
            Ok(_) => panic!("accepted"),
        }
    };
    let none: [Vec<u32>; 0] = [];
    assert!(bad(model.forward(&none)).contains("empty batch"));
    assert!(bad(model.forward(&[vec![5u32], vec![]])).contains("sequence 1"));
    assert!(bad(model.forward(&[vec![5u32, vocab]])).contains(&format!("token {vocab}")));
    assert!(bad(model.forward(&[vec![5u32; 17]])).contains("context"));
    assert!(bad(model.sequence_logprobs(&[vec![5u32, 6]], &[vec![false]])).contains("target flags"));
    assert!(bad(model.sequence_logprobs(&[vec![5u32, 6]], &[vec![true, true]])).contains("first token"));
    assert!(
        bad(model.sequence_logprobs(&[vec![5u32, 6]], &[vec![false, true], vec![false, true]]))
            .contains("2 target masks")
    );
    assert!(bad(model.sft_loss(&[vec![5u32, 6]], &[vec![false, false]])).contains("no target tokens"));
    // No targets at all: a zero log-probability, not an error.
    assert_eq!(values(&ok(model.sequence_logprobs(&[vec![5u32, 6]], &[vec![false, false]]))), vec![0.0]);

    for (mode, wanted) in [
        (TrainMode::Lora(LoraConfig { rank: 0, ..LoraConfig::default() }), "rank"),
        (TrainMode::Lora(LoraConfig { alpha: f64::NAN, ..LoraConfig::default() }), "alpha"),
        (TrainMode::Lora(LoraConfig { targets: vec![], ..LoraConfig::default() }), "no targets"),
        (TrainMode::Lora(LoraConfig { targets: vec![LoraTarget::Q, LoraTarget::Q], ..LoraConfig::default() }), "twice"),
    ] {
        let error = TrainableLlama::load(&path, mode, DType::F32).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains(wanted), "{error}");
    }
    assert!(TrainableLlama::load(&path, TrainMode::Full, DType::F16).is_err());
    let absent = dir.path().join("absent.gguf");
    let error =
        TrainableLlama::load(&absent, TrainMode::Full, DType::F32).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(error.contains("absent.gguf"), "{error}");

    assert_eq!(ok(parse_targets("q, v,ffn_down")), vec![LoraTarget::Q, LoraTarget::V, LoraTarget::Down]);
    assert_eq!(ok(parse_targets("all")), LoraTarget::ALL.to_vec());
    assert_eq!(format_targets(&LoraTarget::ALL), "q,k,v,o,gate,up,down");
    assert!(ok(parse_targets("q,x").err().ok_or("accepted")).to_string().contains("\"x\""));
}

#[test]
fn adamw_state_restores_exactly() {
    let dir = ok(tempfile::tempdir());
    let path = tiny_file(&dir, &TinyConfig::default(), 61);
    let model = ok(TrainableLlama::load(&path, lora(2, &[LoraTarget::Q, LoraTarget::Up], 0), DType::F32));
    let (sequences, targets) = memorisable(&model);
    let mut optimizer =
        ok(AdamW::new(model.trainable_vars(), AdamWConfig { learning_rate: 1e-2, ..AdamWConfig::default() }));
    for _ in 0..3 {
        ok(optimizer.step(&ok(ok(model.sft_loss(&sequences, &targets)).backward())));
    }
    // A second optimizer restored from the first's state, over a copy of the weights, takes the
    // same next step.
    let copy = ok(TrainableLlama::load(&path, lora(2, &[LoraTarget::Q, LoraTarget::Up], 0), DType::F32));
    for ((_, a), (_, b)) in copy.trainable_vars().iter().zip(model.trainable_vars().iter()) {
        ok(a.set(b.as_tensor()));
    }
    let mut resumed = ok(AdamW::new(copy.trainable_vars(), *optimizer.config()));
    ok(resumed.restore(&ok(optimizer.state())));
    assert_eq!(resumed.steps(), 3);
    ok(optimizer.step(&ok(ok(model.sft_loss(&sequences, &targets)).backward())));
    ok(resumed.step(&ok(ok(copy.sft_loss(&sequences, &targets)).backward())));
    assert_eq!(bits(&copy), bits(&model));
    let mut state = ok(optimizer.state());
    state.remove("m.blk.0.attn_q.weight.lora_a");
    assert!(ok(resumed.restore(&state).err().ok_or("restored")).to_string().contains("m.blk.0.attn_q.weight.lora_a"));
}

#[test]
fn adamw_steps_follow_the_formula() {
    // Loss Σ wᵢ xᵢ²/2 has gradient wᵢ xᵢ; AdamW with weight decay, three steps, against the
    // update written out in f64. 70 000 elements: more than one parallel chunk.
    let n = 70_000;
    let start: Vec<f64> = (0..n).map(|i| ((i * 37 % 1001) as f64 - 500.0) / 250.0).collect();
    let weights: Vec<f64> = (0..n).map(|i| 0.5 + (i % 7) as f64).collect();
    let config = AdamWConfig { learning_rate: 0.05, beta1: 0.8, beta2: 0.95, epsilon: 1e-6, weight_decay: 0.1 };
    let (mut x, mut m, mut v) = (start.clone(), vec![0.0; n], vec![0.0; n]);
    for t in 1..=3 {
        for i in 0..n {
            let g = weights[i] * x[i];
            m[i] = config.beta1 * m[i] + (1.0 - config.beta1) * g;
            v[i] = config.beta2 * v[i] + (1.0 - config.beta2) * g * g;
            let m_hat = m[i] / (1.0 - config.beta1.powi(t));
            let v_hat = v[i] / (1.0 - config.beta2.powi(t));
            x[i] = x[i] * (1.0 - config.learning_rate * config.weight_decay)
                - config.learning_rate * m_hat / (v_hat.sqrt() + config.epsilon);
        }
    }
    for (dtype, tolerance) in [(DType::F64, 1e-12), (DType::F32, 1e-5)] {
        let var = ok(Var::from_tensor(&ok(ok(Tensor::new(start.as_slice(), &Device::Cpu)).to_dtype(dtype))));
        let w = ok(ok(Tensor::new(weights.as_slice(), &Device::Cpu)).to_dtype(dtype));
        let mut optimizer = ok(AdamW::new(vec![("x".to_string(), var.clone())], config));
        for _ in 0..3 {
            let loss = ok(ok(ok(ok(var.as_tensor().sqr()).mul(&w)).sum_all()).affine(0.5, 0.0));
            ok(optimizer.step(&ok(loss.backward())));
        }
        let got = values(var.as_tensor());
        let worst = got.iter().zip(&x).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(worst < tolerance, "{dtype:?}: largest difference {worst}");
        assert_eq!(optimizer.steps(), 3);
    }
}

/// Writes `source` again with every tensor dequantized to F32.
fn dequantized_copy(source: &Path, destination: &Path) {
    use candle_core::quantized::{GgmlDType, QTensor, gguf_file};
    let mut file = ok(std::fs::File::open(source));
    let content = ok(gguf_file::Content::read(&mut file));
    let mut tensors = Vec::new();
    for name in content.tensor_infos.keys() {
        let tensor = ok(ok(content.tensor(&mut file, name, &Device::Cpu)).dequantize(&Device::Cpu));
        tensors.push((name.clone(), ok(QTensor::quantize(&tensor, GgmlDType::F32))));
    }
    let metadata: Vec<(&str, &gguf_file::Value)> = content.metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let tensors: Vec<(&str, &QTensor)> = tensors.iter().map(|(name, tensor)| (name.as_str(), tensor)).collect();
    let mut writer = std::io::BufWriter::new(ok(std::fs::File::create(destination)));
    ok(gguf_file::write(&mut writer, &metadata, &tensors));
}

/// On SmolLM2-135M (9 query heads sharing 3 key/value heads, RoPE base 100000, 30 blocks, tied
/// output), when its file is present, dequantized to F32 so that both paths multiply by the
/// same f32 weights: with untrained adapters the trainable model's logits after every position
/// of a chat prompt are the inference path's. Measured: 3e-6 of the largest logit (f32 rounding
/// in a different order, through 30 blocks); bound 2e-5. A structural mistake moves logits by
/// O(1), i.e. 3e-2 of the largest. (On the Q4_1 file itself the inference path also rounds
/// every activation to 8 bits, and the two differ by 3.4% of the largest logit.)
#[test]
fn smollm2_untrained_adapters_agree_with_the_inference_path() {
    let Some(path) = std::env::var_os("HOME")
        .map(|home| Path::new(&home).join(".cache/arena/models/SmolLM2-135M-Instruct.Q4_1.gguf"))
        .filter(|path| path.is_file())
    else {
        println!("note: SmolLM2-135M-Instruct.Q4_1.gguf is absent; skipping (scripts/fetch-model.sh fetches it)");
        return;
    };
    let dir = ok(tempfile::tempdir());
    let f32_path = dir.path().join("SmolLM2-135M-Instruct.F32.gguf");
    dequantized_copy(&path, &f32_path);
    let inference = ok(LlmModel::load(&f32_path));
    let trainable = ok(TrainableLlama::load(&f32_path, TrainMode::Lora(LoraConfig::default()), DType::F32));
    assert_eq!(trainable.config(), inference.config());
    let prompt = ok(trainable.tokenizer().encode("<|im_start|>user\nWhat is the capital of France?<|im_end|>\n"));
    let logits = ok(ok(trainable.forward(std::slice::from_ref(&prompt))).to_vec3::<f32>());
    let (mut largest_logit, mut largest_difference) = (0.0f32, 0.0f32);
    for (t, expected) in inference_logits(&inference, &prompt).iter().enumerate() {
        for (&a, &b) in logits[0][t].iter().zip(expected) {
            largest_logit = largest_logit.max(b.abs());
            largest_difference = largest_difference.max((a - b).abs());
        }
    }
    let relative = largest_difference / largest_logit;
    println!(
        "SmolLM2 (F32): largest logit {largest_logit:.2}, largest difference {largest_difference:.2e} \
         ({relative:.2e} relative) over {} positions",
        prompt.len()
    );
    assert!(relative <= 2e-5, "{relative:.2e} relative");
}
