//! Benchmarks of the language-model forward pass: a decode step for 1 and 8 sequences (after 64
//! positions), a 512-token prompt (read whole, and with all but its last 64 tokens copied from a
//! cached prefix), and scoring the legal moves of a connect-four and a
//! tic-tac-toe position (the prompt once, then each move's own tokens), on the tiny fixture
//! always and on SmolLM2 (Q4_1 as shipped, and the Q8_0 conversion) when the files are in
//! ~/.cache/arena/models. Thread count: CANDLE_NUM_THREADS.

use std::path::PathBuf;
use std::sync::Arc;

use agents::chat::ChatMessage;
use agents::llm::tiny::{TinyConfig, write_tiny_llama};
use agents::llm::{KvCache, LlmModel, SeqStep};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const CONTEXT_TOKENS: usize = 64;
const PROMPT_TOKENS: usize = 512;

/// Positions as a scored agent sees them: the game's name, the board, then one reply per legal
/// move (connect four: 7 columns; tic-tac-toe: 5 empty cells).
fn move_choices() -> Vec<(&'static str, Vec<ChatMessage>, Vec<String>)> {
    let choice = |game: &'static str, rules: &str, board: &str, moves: &[&str]| {
        let messages = vec![
            ChatMessage::system(format!("You play {game}. {rules}")),
            ChatMessage::user(format!("The board (x to move):\n{board}\nLegal moves: {}. Your move?", moves.join(" "))),
        ];
        (game, messages, moves.iter().map(|m| m.to_string()).collect())
    };
    vec![
        choice(
            "connect_four",
            "Answer with the column of your move, 1 to 7.",
            ".......\n.......\n...x...\n...o...\n..xo...\n.oxxo..",
            &["1", "2", "3", "4", "5", "6", "7"],
        ),
        choice(
            "tic_tac_toe",
            "Answer with the cell of your move, a1 to c3.",
            "x.o\n.x.\no..",
            &["b1", "a2", "c2", "b3", "c3"],
        ),
    ]
}

fn models(dir: &tempfile::TempDir) -> Vec<(String, Arc<LlmModel>)> {
    let tiny = dir.path().join("tiny.gguf");
    write_tiny_llama(&tiny, &TinyConfig::default(), 1).unwrap_or_else(|e| panic!("{e}"));
    let mut models = vec![("tiny".to_string(), LlmModel::load(&tiny).unwrap_or_else(|e| panic!("{e}")))];
    let cache = std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/arena/models"));
    for name in ["SmolLM2-135M-Instruct.Q4_1", "SmolLM2-135M-Instruct.Q8_0"] {
        match cache.as_ref().map(|dir| dir.join(format!("{name}.gguf"))).filter(|p| p.is_file()) {
            Some(path) => models.push((name.to_string(), LlmModel::load(&path).unwrap_or_else(|e| panic!("{e}")))),
            None => println!("note: {name}.gguf is absent; skipping it"),
        }
    }
    models
}

/// Caches each holding `CONTEXT_TOKENS` positions of a prompt.
fn primed(model: &LlmModel, count: usize) -> Vec<KvCache> {
    let vocab = model.tokenizer().vocab_size() as u32;
    (0..count)
        .map(|i| {
            let prompt: Vec<u32> =
                (0..CONTEXT_TOKENS as u32).map(|t| 20 + (t * 31 + i as u32 * 7) % (vocab - 20)).collect();
            let mut cache = model.new_cache();
            model.forward(&mut [SeqStep { cache: &mut cache, tokens: &prompt }]).unwrap_or_else(|e| panic!("{e}"));
            cache
        })
        .collect()
}

fn forward(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for (name, model) in models(&dir) {
        let mut group = c.benchmark_group(format!("llm_{name}"));
        group.sample_size(10);
        for batch in [1usize, 8] {
            let mut caches = primed(&model, batch);
            group.throughput(Throughput::Elements(batch as u64));
            group.bench_function(BenchmarkId::new("decode_step", batch), |b| {
                b.iter(|| {
                    let mut steps: Vec<SeqStep> =
                        caches.iter_mut().map(|cache| SeqStep { cache, tokens: &[42] }).collect();
                    let logits = model.forward(&mut steps).unwrap_or_else(|e| panic!("{e}"));
                    for cache in caches.iter_mut() {
                        cache.truncate(CONTEXT_TOKENS);
                    }
                    logits
                })
            });
        }
        // The tiny fixture holds fewer positions: its prompt fills its context.
        let prompt_tokens = PROMPT_TOKENS.min(model.config().context);
        let prompt: Vec<u32> = (0..prompt_tokens as u32).map(|t| 20 + t * 13 % 200).collect();
        group.throughput(Throughput::Elements(prompt_tokens as u64));
        group.bench_function(BenchmarkId::new("prompt", prompt_tokens), |b| {
            let mut cache = model.new_cache();
            b.iter(|| {
                cache.clear();
                model.forward(&mut [SeqStep { cache: &mut cache, tokens: &prompt }]).unwrap_or_else(|e| panic!("{e}"))
            })
        });
        // The same prompt when all but its last 64 tokens are shared with an earlier one: a copy of
        // the prefix cache's keys and values, then the rest (what the batching generator does).
        let cached = prompt_tokens - CONTEXT_TOKENS;
        let mut prefix = model.new_cache();
        model
            .forward(&mut [SeqStep { cache: &mut prefix, tokens: &prompt[..cached] }])
            .unwrap_or_else(|e| panic!("{e}"));
        group.bench_function(BenchmarkId::new("prompt_after_cached_prefix", prompt_tokens), |b| {
            b.iter(|| {
                let mut cache = prefix.copy_prefix(cached, CONTEXT_TOKENS);
                model
                    .forward(&mut [SeqStep { cache: &mut cache, tokens: &prompt[cached..] }])
                    .unwrap_or_else(|e| panic!("{e}"))
            })
        });
        for (game, messages, replies) in move_choices() {
            group.throughput(Throughput::Elements(replies.len() as u64));
            group.bench_function(BenchmarkId::new(format!("score_moves_{game}"), replies.len()), |b| {
                b.iter(|| model.score_replies(&messages, &replies).unwrap_or_else(|e| panic!("{e}")))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, forward);
criterion_main!(benches);
