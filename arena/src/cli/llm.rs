//! `arena generate` (answer a prompt with a GGUF language model, optionally as several seeded
//! streams batched together, reporting tokens/s), `arena convert-model` (re-quantize a GGUF
//! model to Q8_0) and `arena serve-model` (the OpenAI API over a model).

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use agents::ChatMessage;
use agents::llm::{
    Completion, Generator, GeneratorConfig, LlmModel, SamplingParams, Timing, convert_to_q8_0, finetuned,
};
use anyhow::{Result, bail};
use clap::Args;

#[derive(Args, Debug, Clone)]
pub struct GenerateArgs {
    /// The GGUF model file (llama architecture, ChatML chat format), or a fine-tuned checkpoint
    /// directory (`arena finetune --out`).
    #[arg(long)]
    pub model: PathBuf,
    /// The user's message.
    #[arg(long)]
    pub prompt: Option<String>,
    /// A system message before the user's.
    #[arg(long)]
    pub system: Option<String>,
    /// The most tokens to generate per answer.
    #[arg(long, default_value_t = 128)]
    pub max_tokens: usize,
    /// Generate all `--max-tokens` even past a stop token, so that every answer does the same
    /// work (for measuring speed, as llama.cpp's `--ignore-eos`).
    #[arg(long)]
    pub ignore_eos: bool,
    /// Sampling temperature; 0 is greedy.
    #[arg(long, default_value_t = 0.7)]
    pub temperature: f32,
    /// Nucleus sampling: keep the likeliest tokens up to this probability mass.
    #[arg(long, default_value_t = 0.95)]
    pub top_p: f32,
    /// Seed of the first answer; answer i uses seed + i.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Answer this many copies of the prompt concurrently, batched in one generator.
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    /// MiB of prompt prefixes the generator keeps for later prompts to share. Off by default, so
    /// that the streams' prompt rate is that of reading the prompt, not of copying it.
    #[arg(long, default_value_t = 0)]
    pub prefix_cache_mb: usize,
    /// Compute threads (candle's pool, set before it starts). Default: the environment's
    /// CANDLE_NUM_THREADS, else the cores.
    #[arg(long, value_parser = super::at_least_one::<usize>)]
    pub threads: Option<usize>,
    /// Print one JSON document instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug, Clone)]
pub struct ServeModelArgs {
    /// The GGUF model file, or a fine-tuned checkpoint directory (`arena finetune --out`).
    #[arg(long)]
    pub model: PathBuf,
    /// The name clients ask for (default: the file's stem or the directory's name).
    #[arg(long)]
    pub name: Option<String>,
    /// The address to listen on; 0.0.0.0 serves other machines too (the API has no key).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// The port (0: a free one, printed).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// The most answers batched in one forward step.
    #[arg(long, default_value_t = 8, value_parser = super::at_least_one::<usize>)]
    pub batch: usize,
    /// Requests answered at once (the generator batches them).
    #[arg(long, default_value_t = 16, value_parser = super::at_least_one::<usize>)]
    pub handlers: usize,
    /// Requests waiting or being answered beyond which new ones get 503 Busy.
    #[arg(long, default_value_t = 64, value_parser = super::at_least_one::<usize>)]
    pub max_queue: usize,
    /// The largest request body, in bytes (larger: 413).
    #[arg(long, default_value_t = 1 << 20, value_parser = super::at_least_one::<usize>)]
    pub max_body_bytes: usize,
    /// Compute threads (candle's pool, set before it starts). Default: the environment's
    /// CANDLE_NUM_THREADS, else the cores.
    #[arg(long, value_parser = super::at_least_one::<usize>)]
    pub threads: Option<usize>,
    /// Print no line per request.
    #[arg(long)]
    pub quiet: bool,
}

/// `arena serve-model`: serves until the process is stopped.
pub fn serve_model(args: &ServeModelArgs, out: &mut dyn Write) -> Result<()> {
    let config = arena::serve_model::ServeModelConfig {
        model: args.model.clone(),
        name: args.name.clone(),
        host: args.host.clone(),
        port: args.port,
        batch: args.batch,
        handlers: args.handlers,
        max_queue: args.max_queue,
        max_body_bytes: args.max_body_bytes,
    };
    let quiet = args.quiet;
    let server = arena::serve_model::ModelServer::start(&config, move |served| {
        if !quiet {
            eprintln!(
                "{} {} {} in {:.3} s ({} prompt + {} completion tokens)",
                served.method,
                served.path,
                served.status,
                served.seconds,
                served.prompt_tokens,
                served.completion_tokens
            );
        }
    })?;
    writeln!(
        out,
        "serving {} at {} (batch {}, {} threads; endpoints /models, /chat/completions, /completions)",
        server.name(),
        server.url(),
        args.batch,
        std::env::var("CANDLE_NUM_THREADS").unwrap_or_else(|_| "default".into()),
    )?;
    out.flush()?;
    server.wait();
    Ok(())
}

#[derive(Args, Debug, Clone)]
pub struct ConvertArgs {
    /// The quantization to convert to (only q8_0 so far).
    #[arg(long = "to", default_value = "q8_0")]
    pub to: String,
    /// The GGUF model to read.
    pub input: PathBuf,
    /// Where to write the converted model (a new file, or a regular file other than the input).
    pub output: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `arena generate`.
pub fn generate(args: &GenerateArgs, out: &mut dyn Write) -> Result<()> {
    // `main` gave candle this many threads before anything started.
    if args.batch == 0 {
        bail!("--batch must be at least 1");
    }
    let mut messages = Vec::new();
    if let Some(system) = &args.system {
        messages.push(ChatMessage::system(system.clone()));
    }
    if let Some(prompt) = &args.prompt {
        messages.push(ChatMessage::user(prompt.clone()));
    }
    if messages.is_empty() {
        bail!("give a --prompt (and optionally a --system message)");
    }
    let loading = Instant::now();
    let model = if finetuned::is_finetuned_dir(&args.model) {
        finetuned::load_finetuned(&args.model)?
    } else {
        LlmModel::load(&args.model)?
    };
    let load_seconds = loading.elapsed().as_secs_f64();
    if let Some(note) = model.conversion_note() {
        eprintln!("note: {note}");
    }
    let generator = Generator::start(
        model.clone(),
        GeneratorConfig { max_batch: args.batch, prefix_cache_bytes: args.prefix_cache_mb.saturating_mul(1 << 20) },
    )?;
    let params = |i: usize| SamplingParams {
        temperature: args.temperature,
        top_p: args.top_p,
        max_tokens: args.max_tokens,
        seed: args.seed.wrapping_add(i as u64),
        ignore_stop: args.ignore_eos,
    };
    for i in 0..args.batch {
        params(i).validate()?;
    }

    let start = Instant::now();
    let results: Vec<Result<(Completion, Timing), agents::llm::LlmError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..args.batch)
            .map(|i| {
                let (generator, messages, params) = (generator.clone(), &messages, params(i));
                scope.spawn(move || generator.generate_timed(messages, &params))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(agents::llm::LlmError::Compute("a stream panicked".into()))))
            .collect()
    });
    let wall = start.elapsed();
    let streams: Vec<(Completion, Timing)> = results.into_iter().collect::<Result<_, _>>()?;

    let prompt_total: usize = streams.iter().map(|(c, _)| c.prompt_tokens).sum();
    let generated_total: usize = streams.iter().map(|(c, _)| c.tokens.len()).sum();
    // The prompt phase ends when the last stream has its first token.
    let prompt_wall = streams.iter().map(|(_, t)| t.queued + t.prompt).max().unwrap_or_default();
    let rate = |count: usize, time: Duration| if time.is_zero() { 0.0 } else { count as f64 / time.as_secs_f64() };
    let stats = generator.stats();
    if args.json {
        let completions: Vec<_> = streams
            .iter()
            .enumerate()
            .map(|(i, (c, t))| {
                serde_json::json!({
                    "seed": params(i).seed,
                    "text": c.text,
                    "tokens": c.tokens,
                    "logprobs": c.logprobs,
                    "prompt_tokens": c.prompt_tokens,
                    "finish": c.finish,
                    "prompt_tokens_per_s": rate(c.prompt_tokens, t.prompt),
                    "generated_tokens_per_s": decode_rate(c, t),
                    "seconds": t.total().as_secs_f64(),
                })
            })
            .collect();
        let document = serde_json::json!({
            "model": args.model.display().to_string(),
            "weights": model.weight_type(),
            "threads": std::env::var("CANDLE_NUM_THREADS").ok(),
            "load_seconds": load_seconds,
            "completions": completions,
            "total": {
                "streams": args.batch,
                "prompt_tokens": prompt_total,
                "cached_prompt_tokens": stats.cached_prompt_tokens,
                "generated_tokens": generated_total,
                "seconds": wall.as_secs_f64(),
                "prompt_tokens_per_s": rate(prompt_total, prompt_wall),
                "generated_tokens_per_s": rate(generated_total, wall),
                "steps": stats.steps,
                "mean_batch": if stats.steps == 0 { 0.0 } else { stats.sequences as f64 / stats.steps as f64 },
            },
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&document)?)?;
        return Ok(());
    }
    for (i, (completion, timing)) in streams.iter().enumerate() {
        if args.batch > 1 {
            writeln!(out, "--- stream {i} (seed {}) ---", params(i).seed)?;
        }
        writeln!(out, "{}", super::printable_text(&completion.text, false))?;
        writeln!(
            out,
            "[{} prompt tokens at {:.1}/s, {} generated at {:.1}/s, {}]",
            completion.prompt_tokens,
            rate(completion.prompt_tokens, timing.prompt),
            completion.tokens.len(),
            decode_rate(completion, timing),
            match completion.finish {
                agents::llm::FinishReason::Stop => "ended by the model",
                agents::llm::FinishReason::Length => "cut at the token limit",
            }
        )?;
    }
    writeln!(
        out,
        "total: {} streams, {} prompt tokens at {:.1}/s, {} generated tokens in {:.2} s = {:.1} tokens/s \
         ({} weights, {} threads, mean batch {:.1}, model loaded in {:.2} s)",
        args.batch,
        prompt_total,
        rate(prompt_total, prompt_wall),
        generated_total,
        wall.as_secs_f64(),
        rate(generated_total, wall),
        model.weight_type(),
        std::env::var("CANDLE_NUM_THREADS").unwrap_or_else(|_| "default".into()),
        if stats.steps == 0 { 0.0 } else { stats.sequences as f64 / stats.steps as f64 },
        load_seconds
    )?;
    Ok(())
}

/// Tokens/s after the first token (which the prompt step produces).
fn decode_rate(completion: &Completion, timing: &Timing) -> f64 {
    let decode = timing.decode.as_secs_f64();
    if completion.tokens.len() < 2 || decode == 0.0 { 0.0 } else { (completion.tokens.len() - 1) as f64 / decode }
}

/// `arena convert-model`.
pub fn convert(args: &ConvertArgs, out: &mut dyn Write) -> Result<()> {
    if !args.to.eq_ignore_ascii_case("q8_0") {
        bail!("converting to {:?} is not supported yet (only q8_0)", args.to);
    }
    if args.output.as_os_str() == "-" {
        bail!("convert-model writes a model file; give its path (standard output is not supported)");
    }
    arena::files::check_output_file(&args.output, &[args.input.as_path()])?;
    let start = Instant::now();
    let summary = convert_to_q8_0(&args.input, &args.output)?;
    if args.json {
        let document = serde_json::json!({
            "input": args.input,
            "output": args.output,
            "tensors": summary.tensors,
            "requantized": summary.requantized,
            "vectors": summary.vectors,
            "kept": summary.kept,
            "bytes_in": summary.bytes_in,
            "bytes_out": summary.bytes_out,
            "seconds": start.elapsed().as_secs_f64(),
        });
        writeln!(out, "{document}")?;
        return Ok(());
    }
    writeln!(
        out,
        "wrote {}: {} tensors ({} re-quantized to Q8_0, {} vectors as F32, {} kept), {:.1} MB -> {:.1} MB in {:.1} s",
        args.output.display(),
        summary.tensors,
        summary.requantized,
        summary.vectors,
        summary.kept,
        summary.bytes_in as f64 / 1e6,
        summary.bytes_out as f64 / 1e6,
        start.elapsed().as_secs_f64()
    )?;
    Ok(())
}
