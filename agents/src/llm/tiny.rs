//! A test fixture: a tiny randomly initialized llama model written as GGUF, with a byte-level BPE
//! vocabulary (the 256 byte symbols, a few merges, and the ChatML control tokens) and a ChatML
//! chat template, so tests run the whole language-model path in milliseconds without downloads.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::LlmError;

/// The control tokens, ids 0, 1, 2.
pub const SPECIAL_TOKENS: [&str; 3] = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"];

/// Merges of byte-level symbols (`Ġ` is a space), in priority order.
const MERGES: [(&str, &str); 14] = [
    ("Ġ", "t"),
    ("h", "e"),
    ("Ġt", "he"),
    ("i", "n"),
    ("Ġ", "a"),
    ("e", "r"),
    ("o", "n"),
    ("a", "n"),
    ("Ġ", "s"),
    ("i", "s"),
    ("l", "l"),
    ("Ġ", "w"),
    ("a", "s"),
    ("e", "s"),
];

const CHATML_TEMPLATE: &str = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + \
    message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/// How the weights are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TinyWeights {
    Q8_0,
    F32,
}

/// The shape of a tiny model. Dimensions must be multiples of 32 (Q8_0 blocks).
#[derive(Clone, Debug, PartialEq)]
pub struct TinyConfig {
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub ffn: usize,
    pub context: usize,
    pub rope_theta: f32,
    pub rms_eps: f32,
    pub weights: TinyWeights,
    /// Write no `output.weight`: the output layer is the token embedding.
    pub tied_output: bool,
    /// Standard deviation of the output layer's weights (larger: more confident logits).
    pub output_scale: f32,
}

impl Default for TinyConfig {
    fn default() -> Self {
        TinyConfig {
            hidden: 64,
            layers: 2,
            heads: 4,
            kv_heads: 2,
            ffn: 128,
            context: 256,
            rope_theta: 10_000.0,
            rms_eps: 1e-5,
            weights: TinyWeights::Q8_0,
            tied_output: false,
            output_scale: 0.4,
        }
    }
}

/// GPT-2's map from bytes to printable characters (the byte-level BPE alphabet).
pub fn byte_symbols() -> Vec<char> {
    let mut printable: Vec<u32> = ('!' as u32..='~' as u32).chain('¡' as u32..='¬' as u32).collect();
    printable.extend('®' as u32..='ÿ' as u32);
    let mut symbols = vec!['\0'; 256];
    let mut extra = 0;
    for byte in 0..256u32 {
        let code = if printable.contains(&byte) {
            byte
        } else {
            extra += 1;
            255 + extra
        };
        symbols[byte as usize] = char::from_u32(code).unwrap_or('\u{FFFD}');
    }
    symbols
}

/// The tiny vocabulary: control tokens, the 256 byte symbols, then the merged tokens.
pub fn tiny_vocabulary() -> Vec<String> {
    let mut tokens: Vec<String> = SPECIAL_TOKENS.iter().map(|s| s.to_string()).collect();
    tokens.extend(byte_symbols().into_iter().map(String::from));
    tokens.extend(MERGES.iter().map(|(a, b)| format!("{a}{b}")));
    tokens
}

/// Writes a randomly initialized llama GGUF (weights drawn from `seed`) to `path`.
pub fn write_tiny_llama(path: &Path, config: &TinyConfig, seed: u64) -> Result<(), LlmError> {
    let c = config;
    let head_dim = c.hidden / c.heads.max(1);
    let tokens = tiny_vocabulary();
    let vocab = tokens.len();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let dtype = match c.weights {
        TinyWeights::Q8_0 => GgmlDType::Q8_0,
        TinyWeights::F32 => GgmlDType::F32,
    };
    let mut tensors: Vec<(String, QTensor)> = Vec::new();
    let mut add = |name: String, shape: &[usize], mean: f32, std: f32, dtype: GgmlDType| -> Result<(), LlmError> {
        let count: usize = shape.iter().product();
        let data: Vec<f32> = (0..count)
            .map(|_| mean + std * <StandardNormal as Distribution<f32>>::sample(&StandardNormal, &mut rng))
            .collect();
        let tensor = Tensor::from_vec(data, shape, &Device::Cpu)
            .and_then(|t| QTensor::quantize(&t, dtype))
            .map_err(|e| LlmError::tensor(path, &name, e))?;
        tensors.push((name, tensor));
        Ok(())
    };
    let (h, q, kv) = (c.hidden, c.heads * head_dim, c.kv_heads * head_dim);
    let linear = |fan_in: usize| 1.0 / (fan_in as f32).sqrt();
    add("token_embd.weight".into(), &[vocab, h], 0.0, 1.0, dtype)?;
    for i in 0..c.layers {
        let name = |part: &str| format!("blk.{i}.{part}.weight");
        add(name("attn_norm"), &[h], 1.0, 0.1, GgmlDType::F32)?;
        add(name("attn_q"), &[q, h], 0.0, linear(h), dtype)?;
        add(name("attn_k"), &[kv, h], 0.0, linear(h), dtype)?;
        add(name("attn_v"), &[kv, h], 0.0, linear(h), dtype)?;
        add(name("attn_output"), &[h, q], 0.0, linear(q), dtype)?;
        add(name("ffn_norm"), &[h], 1.0, 0.1, GgmlDType::F32)?;
        add(name("ffn_gate"), &[c.ffn, h], 0.0, linear(h), dtype)?;
        add(name("ffn_up"), &[c.ffn, h], 0.0, linear(h), dtype)?;
        add(name("ffn_down"), &[h, c.ffn], 0.0, linear(c.ffn), dtype)?;
    }
    add("output_norm.weight".into(), &[h], 1.0, 0.1, GgmlDType::F32)?;
    if !c.tied_output {
        add("output.weight".into(), &[vocab, h], 0.0, c.output_scale, dtype)?;
    }

    let u32_value = |v: usize| Value::U32(v as u32);
    let token_types: Vec<Value> =
        (0..vocab).map(|i| Value::I32(if i < SPECIAL_TOKENS.len() { 3 } else { 1 })).collect();
    let metadata: Vec<(&str, Value)> = vec![
        ("general.architecture", Value::String("llama".into())),
        ("general.name", Value::String("tiny-llama".into())),
        ("general.file_type", Value::U32(if dtype == GgmlDType::Q8_0 { 7 } else { 0 })),
        ("llama.context_length", u32_value(c.context)),
        ("llama.embedding_length", u32_value(h)),
        ("llama.block_count", u32_value(c.layers)),
        ("llama.feed_forward_length", u32_value(c.ffn)),
        ("llama.attention.head_count", u32_value(c.heads)),
        ("llama.attention.head_count_kv", u32_value(c.kv_heads)),
        ("llama.rope.dimension_count", u32_value(head_dim)),
        ("llama.rope.freq_base", Value::F32(c.rope_theta)),
        ("llama.attention.layer_norm_rms_epsilon", Value::F32(c.rms_eps)),
        ("llama.vocab_size", u32_value(vocab)),
        ("tokenizer.ggml.model", Value::String("gpt2".into())),
        ("tokenizer.ggml.pre", Value::String("smollm".into())),
        ("tokenizer.ggml.tokens", Value::Array(tokens.iter().map(|t| Value::String(t.clone())).collect())),
        ("tokenizer.ggml.token_type", Value::Array(token_types)),
        (
            "tokenizer.ggml.merges",
            Value::Array(MERGES.iter().map(|(a, b)| Value::String(format!("{a} {b}"))).collect()),
        ),
        ("tokenizer.ggml.bos_token_id", Value::U32(1)),
        ("tokenizer.ggml.eos_token_id", Value::U32(0)),
        ("tokenizer.chat_template", Value::String(CHATML_TEMPLATE.into())),
    ];
    let metadata_refs: Vec<(&str, &Value)> = metadata.iter().map(|(k, v)| (*k, v)).collect();
    let tensor_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let file = File::create(path).map_err(|e| LlmError::io(path, e))?;
    let mut writer = BufWriter::new(file);
    gguf_file::write(&mut writer, &metadata_refs, &tensor_refs)
        .map_err(|e| LlmError::Format { path: path.to_path_buf(), message: format!("cannot write: {e}") })?;
    writer.flush().map_err(|e| LlmError::io(path, e))
}
