//! Fine-tuning data: TRL's JSON-lines formats read into token sequences with target masks, and
//! the seeded, length-grouped order in which an epoch visits them.
//!
//! - SFT: `{"messages": [{"role", "content"}, ...]}` (the loss on every assistant message's
//!   tokens and its closing `<|im_end|>`, nothing else), or TRL's prompt–completion form
//!   `{"prompt": [...] | "text", "completion": [...] | "text"}`.
//! - Preference (DPO): `{"prompt": [...] | "text", "chosen": [...] | "text", "rejected": [...] |
//!   "text"}`, `chosen` and `rejected` each one assistant message.
//!
//! A text prompt is one user message; a text answer is the assistant's message. Other keys
//! (`meta`, which `arena export` writes) are ignored. Sequences are tokenized exactly as the `llm`
//! agent sees them when it plays: the ChatML prompt up to `<|im_start|>assistant\n`, then the
//! answer and `<|im_end|>`.

use std::path::Path;

use agents::ChatMessage;
use agents::llm::LlmTokenizer;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde_json::Value;

use crate::error::{Error, Result, bail};

/// A token sequence and which of its tokens are targets of the loss.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sequence {
    pub tokens: Vec<u32>,
    pub targets: Vec<bool>,
}

impl Sequence {
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    fn target_count(&self) -> usize {
        self.targets.iter().filter(|&&t| t).count()
    }
}

/// One example: an SFT sequence, or a preference pair (chosen first).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Example {
    Sft(Sequence),
    Pair { chosen: Sequence, rejected: Sequence },
}

impl Example {
    /// The sequences it puts in a batch.
    pub fn sequences(&self) -> Vec<&Sequence> {
        match self {
            Example::Sft(sequence) => vec![sequence],
            Example::Pair { chosen, rejected } => vec![chosen, rejected],
        }
    }

    fn longest(&self) -> usize {
        self.sequences().iter().map(|s| s.len()).max().unwrap_or(0)
    }
}

/// The kind of data a method reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataKind {
    Sft,
    Preference,
}

/// A data file read and tokenized.
#[derive(Clone, Debug)]
pub struct DataSet {
    pub examples: Vec<Example>,
    /// Lines with content (blank lines are not counted).
    pub lines: usize,
    /// Examples left out because a sequence is longer than the maximum length.
    pub too_long: usize,
    /// Preference pairs left out because both answers are the same tokens.
    pub identical: usize,
}

impl DataSet {
    /// Reads `path` as `kind`, keeping sequences of at most `max_len` tokens. Every malformed line
    /// is an error naming the file and the line; an empty result is an error saying why.
    pub fn read(path: &Path, kind: DataKind, tokenizer: &LlmTokenizer, max_len: usize) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io("cannot read", path, e))?;
        let mut data = DataSet { examples: Vec::new(), lines: 0, too_long: 0, identical: 0 };
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            data.lines += 1;
            let at = |message: String| Error::Invalid(format!("{} line {}: {message}", path.display(), index + 1));
            let value: Value = serde_json::from_str(line).map_err(|e| at(format!("not JSON: {e}")))?;
            let example = match kind {
                DataKind::Sft => sft_example(&value, tokenizer),
                DataKind::Preference => preference_example(&value, tokenizer),
            }
            .map_err(at)?;
            if let Example::Pair { chosen, rejected } = &example
                && chosen.tokens == rejected.tokens
            {
                data.identical += 1;
                continue;
            }
            if example.longest() > max_len {
                data.too_long += 1;
                continue;
            }
            data.examples.push(example);
        }
        if data.examples.is_empty() {
            bail!(
                "{}: no examples to train on ({} lines; {} longer than the maximum length of {max_len} tokens, {} pairs \
                 with identical answers)",
                path.display(),
                data.lines,
                data.too_long,
                data.identical
            );
        }
        Ok(data)
    }

    /// Target tokens over all examples (each pair counts its chosen answer).
    pub fn target_tokens(&self) -> usize {
        self.examples
            .iter()
            .map(|e| match e {
                Example::Sft(s) => s.target_count(),
                Example::Pair { chosen, .. } => chosen.target_count(),
            })
            .sum()
    }
}

fn sft_example(value: &Value, tokenizer: &LlmTokenizer) -> std::result::Result<Example, String> {
    let object = value.as_object().ok_or("expected a JSON object")?;
    if let Some(messages) = object.get("messages") {
        let messages = messages_of(messages, "messages")?;
        if !messages.iter().any(|m| m.role == "assistant") {
            return Err("`messages` has no assistant message: nothing to learn".into());
        }
        return conversation(&messages, tokenizer).map(Example::Sft);
    }
    match (object.get("prompt"), object.get("completion")) {
        (Some(prompt), Some(completion)) => {
            let prompt = prompt_of(prompt)?;
            let answer = answer_of(completion, "completion")?;
            answer_sequence(&prompt, &answer, tokenizer).map(Example::Sft)
        }
        _ => Err("expected `messages` (or `prompt` and `completion`) for SFT".into()),
    }
}

fn preference_example(value: &Value, tokenizer: &LlmTokenizer) -> std::result::Result<Example, String> {
    let object = value.as_object().ok_or("expected a JSON object")?;
    let field = |key: &str| {
        object.get(key).ok_or_else(|| format!("missing `{key}` (a preference line has prompt, chosen, rejected)"))
    };
    let prompt = prompt_of(field("prompt")?)?;
    let chosen = answer_of(field("chosen")?, "chosen")?;
    let rejected = answer_of(field("rejected")?, "rejected")?;
    Ok(Example::Pair {
        chosen: answer_sequence(&prompt, &chosen, tokenizer)?,
        rejected: answer_sequence(&prompt, &rejected, tokenizer)?,
    })
}

/// A list of `{"role", "content"}` messages.
fn messages_of(value: &Value, key: &str) -> std::result::Result<Vec<ChatMessage>, String> {
    let list = value.as_array().ok_or_else(|| format!("`{key}` must be a list of messages"))?;
    if list.is_empty() {
        return Err(format!("`{key}` is empty"));
    }
    list.iter()
        .enumerate()
        .map(|(i, message)| {
            let text = |field: &str| {
                message
                    .get(field)
                    .and_then(Value::as_str)
                    .ok_or_else(|| format!("`{key}` message {i} has no text `{field}`"))
            };
            Ok(ChatMessage::new(text("role")?, text("content")?))
        })
        .collect()
}

/// A prompt: a list of messages, or a text (one user message).
fn prompt_of(value: &Value) -> std::result::Result<Vec<ChatMessage>, String> {
    match value {
        Value::String(text) => Ok(vec![ChatMessage::new("user", text)]),
        other => messages_of(other, "prompt"),
    }
}

/// An answer: a text, or a list of exactly one assistant message.
fn answer_of(value: &Value, key: &str) -> std::result::Result<String, String> {
    match value {
        Value::String(text) => Ok(text.clone()),
        other => {
            let messages = messages_of(other, key)?;
            match messages.as_slice() {
                [message] if message.role == "assistant" => Ok(message.content.clone()),
                _ => Err(format!("`{key}` must be one assistant message ({} messages given)", messages.len())),
            }
        }
    }
}

/// The prompt as the agent sees it, then the answer and `<|im_end|>` as targets.
fn answer_sequence(
    prompt: &[ChatMessage],
    answer: &str,
    tokenizer: &LlmTokenizer,
) -> std::result::Result<Sequence, String> {
    let prompt = tokenizer.chat_prompt(prompt).map_err(|e| e.to_string())?;
    let answer = tokenizer.reply_tokens(answer).map_err(|e| e.to_string())?;
    let mut targets = vec![false; prompt.len()];
    targets.resize(prompt.len() + answer.len(), true);
    Ok(Sequence { tokens: [prompt, answer].concat(), targets })
}

/// A whole conversation: each assistant message is encoded as an answer after the prompt
/// before it (`<|im_start|>assistant\n`, then the answer and `<|im_end|>` as targets), the other
/// messages as the chat prompt encodes them.
fn conversation(messages: &[ChatMessage], tokenizer: &LlmTokenizer) -> std::result::Result<Sequence, String> {
    let mut sequence = Sequence { tokens: Vec::new(), targets: Vec::new() };
    let mut start = 0;
    for (i, message) in messages.iter().enumerate() {
        if message.role != "assistant" {
            continue;
        }
        // The prompt up to this answer: the messages since the last answer, then the opening of
        // the assistant's turn. After an earlier answer comes the `\n` the chat prompt puts after
        // every `<|im_end|>`.
        let mut prompt = tokenizer.chat_prompt(&messages[start..i]).map_err(|e| e.to_string())?;
        if start > 0 {
            let newline = tokenizer.encode_plain("\n").map_err(|e| e.to_string())?;
            prompt.splice(0..0, newline);
        }
        let answer = tokenizer.reply_tokens(&message.content).map_err(|e| e.to_string())?;
        sequence.targets.extend(std::iter::repeat_n(false, prompt.len()));
        sequence.targets.extend(std::iter::repeat_n(true, answer.len()));
        sequence.tokens.extend(prompt);
        sequence.tokens.extend(answer);
        start = i + 1;
    }
    Ok(sequence)
}

/// How many examples are sorted by length together before being cut into batches: enough to
/// group similar lengths (less padding), few enough that the order stays well mixed.
const LENGTH_WINDOW: usize = 64;

/// The batches of epoch `epoch`: the examples' indices shuffled by `(seed, epoch)`, sorted by
/// length within windows of [`LENGTH_WINDOW`], cut into batches whose padded size (rows ×
/// longest sequence) stays within `batch_tokens` (a longer example is a batch of its own), and
/// the batches shuffled again. The same arguments give the same batches.
pub fn epoch_batches(examples: &[Example], batch_tokens: usize, seed: u64, epoch: u64) -> Vec<Vec<usize>> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ epoch.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut order: Vec<usize> = (0..examples.len()).collect();
    order.shuffle(&mut rng);
    let mut batches = Vec::new();
    for window in order.chunks_mut(LENGTH_WINDOW) {
        window.sort_by_key(|&i| (examples[i].longest(), i));
        let mut batch: Vec<usize> = Vec::new();
        let mut rows = 0;
        let mut longest = 0;
        for &i in window.iter() {
            let example = &examples[i];
            let (new_rows, new_longest) = (rows + example.sequences().len(), longest.max(example.longest()));
            if !batch.is_empty() && new_rows * new_longest > batch_tokens {
                batches.push(std::mem::take(&mut batch));
                (rows, longest) = (example.sequences().len(), example.longest());
            } else {
                (rows, longest) = (new_rows, new_longest);
            }
            batch.push(i);
        }
        if !batch.is_empty() {
            batches.push(batch);
        }
    }
    batches.shuffle(&mut rng);
    batches
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sft(len: usize) -> Example {
        Example::Sft(Sequence { tokens: vec![5; len], targets: (0..len).map(|t| t > 0).collect() })
    }

    #[test]
    fn batches_cover_every_example_once_within_the_token_budget_and_repeat_by_seed() {
        let examples: Vec<Example> = (0..200).map(|i| sft(3 + (i * 7) % 40)).collect();
        let batches = epoch_batches(&examples, 128, 7, 0);
        let mut seen: Vec<usize> = batches.iter().flatten().copied().collect();
        seen.sort();
        assert_eq!(seen, (0..200).collect::<Vec<_>>());
        for batch in &batches {
            let longest = batch.iter().map(|&i| examples[i].longest()).max().unwrap_or(0);
            assert!(batch.len() == 1 || batch.len() * longest <= 128, "{batch:?}");
        }
        assert_eq!(batches, epoch_batches(&examples, 128, 7, 0));
        assert_ne!(batches, epoch_batches(&examples, 128, 7, 1));
        assert_ne!(batches, epoch_batches(&examples, 128, 8, 0));
    }

    #[test]
    fn an_example_longer_than_the_budget_is_a_batch_of_its_own() {
        let examples = vec![sft(10), sft(300), sft(12)];
        let batches = epoch_batches(&examples, 64, 1, 0);
        assert!(batches.contains(&vec![1]));
        assert_eq!(batches.iter().map(Vec::len).sum::<usize>(), 3);
    }
}
