//! The tokenizer of a GGUF model, rebuilt from its metadata with the `tokenizers` crate (GPT-2
//! style byte-level BPE, the pre-tokenizer llama.cpp uses for SmolLM2), and ChatML prompts.

use std::path::Path;

use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{BPE, Vocab};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::{AddedToken, Tokenizer};

use super::LlmError;
use super::gguf::{Metadata, as_i64};
use crate::chat::ChatMessage;

/// GGUF token types (`tokenizer.ggml.token_type`).
const TOKEN_TYPE_CONTROL: i64 = 3;
const TOKEN_TYPE_USER_DEFINED: i64 = 4;

const IM_START: &str = "<|im_start|>";
const IM_END: &str = "<|im_end|>";

/// A model's tokenizer and chat format.
///
/// Chat prompts are always ChatML (`<|im_start|>{role}\n{content}<|im_end|>\n` per message, then
/// `<|im_start|>assistant\n`, no BOS); [`LlmTokenizer::chat_template_is_chatml`] says whether the
/// GGUF's own `tokenizer.chat_template` agrees. Message contents are encoded as plain text: a
/// `<|im_end|>` written inside a message is text, not a control token.
#[derive(Debug)]
pub struct LlmTokenizer {
    /// Parses special tokens written in the text (`<|im_start|>` encodes to its id).
    tokenizer: Tokenizer,
    /// The same tokenizer, treating special tokens' text as plain text.
    plain: Tokenizer,
    vocab_size: usize,
    im_start: Option<u32>,
    im_end: Option<u32>,
    eos: Option<u32>,
    stop_tokens: Vec<u32>,
    chatml_template: bool,
    /// The file, for error messages.
    source: String,
}

impl LlmTokenizer {
    /// Builds the tokenizer from `tokenizer.ggml.*` metadata (model `gpt2`: byte-level BPE).
    pub(crate) fn from_metadata(metadata: Metadata<'_>) -> Result<Self, LlmError> {
        let path = metadata.path;
        let error = |message: String| LlmError::Tokenizer { path: path.to_path_buf(), message };
        let model = metadata.string("tokenizer.ggml.model")?;
        if model != "gpt2" {
            return Err(error(format!("tokenizer model {model:?} not supported yet (only gpt2 byte-level BPE)")));
        }
        let tokens = metadata.string_array("tokenizer.ggml.tokens")?;
        if tokens.is_empty() {
            return Err(metadata.bad("tokenizer.ggml.tokens", "no tokens"));
        }
        let merges = metadata.string_array("tokenizer.ggml.merges")?;
        let types: Vec<i64> = match metadata.get("tokenizer.ggml.token_type") {
            None => vec![1; tokens.len()],
            Some(_) => metadata
                .array("tokenizer.ggml.token_type")?
                .iter()
                .map(|v| as_i64(v).ok_or_else(|| metadata.bad("tokenizer.ggml.token_type", "expected integers")))
                .collect::<Result<_, _>>()?,
        };
        if types.len() != tokens.len() {
            return Err(metadata
                .bad("tokenizer.ggml.token_type", format!("{} token types for {} tokens", types.len(), tokens.len())));
        }
        let mut vocab = Vocab::default();
        for (id, token) in tokens.iter().enumerate() {
            vocab.entry(token.to_string()).or_insert(id as u32);
        }
        let merges = merges
            .iter()
            .enumerate()
            .map(|(i, merge)| {
                merge
                    .split_once(' ')
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .ok_or_else(|| metadata.bad("tokenizer.ggml.merges", format!("merge {i} ({merge:?}) has no space")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let bpe = BPE::builder()
            .vocab_and_merges(vocab, merges)
            .build()
            .map_err(|e| error(format!("cannot build the BPE model: {e}")))?;
        let mut tokenizer = Tokenizer::new(bpe);
        tokenizer.with_pre_tokenizer(Some(Sequence::new(vec![
            Digits::new(true).into(),
            ByteLevel::new(false, true, true).into(),
        ])));
        tokenizer.with_decoder(Some(ByteLevelDecoder::new(false, true, true)));
        let special: Vec<AddedToken> = tokens
            .iter()
            .zip(&types)
            .filter(|(_, t)| **t == TOKEN_TYPE_CONTROL)
            .map(|(token, _)| AddedToken::from(token.to_string(), true))
            .collect();
        let user: Vec<AddedToken> = tokens
            .iter()
            .zip(&types)
            .filter(|(_, t)| **t == TOKEN_TYPE_USER_DEFINED)
            .map(|(token, _)| AddedToken::from(token.to_string(), false))
            .collect();
        tokenizer.add_special_tokens(special).map_err(|e| error(format!("cannot add the control tokens: {e}")))?;
        tokenizer.add_tokens(user).map_err(|e| error(format!("cannot add the user-defined tokens: {e}")))?;
        let mut plain = tokenizer.clone();
        plain.set_encode_special_tokens(true);

        let vocab_size = tokens.len();
        let token_id = |key: &str| -> Result<Option<u32>, LlmError> {
            match metadata.opt_usize(key)? {
                Some(id) if id < vocab_size => Ok(Some(id as u32)),
                Some(id) => Err(metadata.bad(key, format!("token {id} is outside the vocabulary of {vocab_size}"))),
                None => Ok(None),
            }
        };
        let eos = token_id("tokenizer.ggml.eos_token_id")?;
        let im_start = tokenizer.token_to_id(IM_START);
        let im_end = tokenizer.token_to_id(IM_END);
        let mut stop_tokens: Vec<u32> = im_end.into_iter().chain(eos).collect();
        stop_tokens.dedup();
        let chatml_template =
            metadata.opt_string("tokenizer.chat_template").ok().flatten().is_some_and(|t| t.contains(IM_START));
        Ok(LlmTokenizer {
            tokenizer,
            plain,
            vocab_size,
            im_start,
            im_end,
            eos,
            stop_tokens,
            chatml_template,
            source: path.display().to_string(),
        })
    }

    /// The tokenizer of the GGUF model at `path` (reads only the file's header).
    pub fn from_file(path: &Path) -> Result<Self, LlmError> {
        let file = super::gguf::GgufFile::open(path)?;
        Self::from_metadata(file.metadata())
    }

    fn error(&self, message: String) -> LlmError {
        LlmError::Tokenizer { path: Path::new(&self.source).to_path_buf(), message }
    }

    /// Encodes `text`; special tokens written in it (`<|im_start|>`) become their ids. No BOS.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, LlmError> {
        Self::encode_with(&self.tokenizer, text).map_err(|e| self.error(e))
    }

    /// Encodes `text` as plain text: special tokens' spellings are not recognised.
    pub fn encode_plain(&self, text: &str) -> Result<Vec<u32>, LlmError> {
        Self::encode_with(&self.plain, text).map_err(|e| self.error(e))
    }

    fn encode_with(tokenizer: &Tokenizer, text: &str) -> Result<Vec<u32>, String> {
        if text.is_empty() {
            return Ok(Vec::new());
        }
        tokenizer.encode_fast(text, false).map(|e| e.get_ids().to_vec()).map_err(|e| format!("cannot encode: {e}"))
    }

    /// The text of `ids` (special tokens included as their spelling). Bytes that do not form
    /// valid UTF-8 (a token sequence cut in the middle of a character) become U+FFFD.
    pub fn decode(&self, ids: &[u32]) -> Result<String, LlmError> {
        if let Some(&bad) = ids.iter().find(|&&id| id as usize >= self.vocab_size) {
            return Err(self.error(format!("token {bad} is outside the vocabulary of {}", self.vocab_size)));
        }
        self.tokenizer.decode(ids, false).map_err(|e| self.error(format!("cannot decode: {e}")))
    }

    /// The ChatML prompt for `messages`, ending with the opening of the assistant's answer.
    pub fn chat_prompt(&self, messages: &[ChatMessage]) -> Result<Vec<u32>, LlmError> {
        let (Some(start), Some(end)) = (self.im_start, self.im_end) else {
            return Err(self.error(format!(
                "the vocabulary has no {IM_START}/{IM_END} tokens; only ChatML chat models are supported"
            )));
        };
        let newline = self.encode_plain("\n")?;
        let mut ids = Vec::new();
        for message in messages {
            ids.push(start);
            ids.extend(self.encode_plain(&format!("{}\n{}", message.role, message.content))?);
            ids.push(end);
            ids.extend_from_slice(&newline);
        }
        ids.push(start);
        ids.extend(self.encode_plain("assistant\n")?);
        Ok(ids)
    }

    /// The tokens of `text` given as a whole answer after [`LlmTokenizer::chat_prompt`]: the text
    /// (plain) and the `<|im_end|>` that closes the turn. Scoring a reply with its end token makes
    /// it mean "this and nothing more": a move that is a prefix of another (`a1` of `a10`) is not
    /// favoured for being short.
    pub fn reply_tokens(&self, text: &str) -> Result<Vec<u32>, LlmError> {
        let Some(end) = self.im_end else {
            return Err(
                self.error(format!("the vocabulary has no {IM_END} token; only ChatML chat models are supported"))
            );
        };
        let mut ids = self.encode_plain(text)?;
        ids.push(end);
        Ok(ids)
    }

    /// The ChatML text of [`LlmTokenizer::chat_prompt`] (for display; encode it with
    /// [`LlmTokenizer::encode`] to get the same ids when no message spells a special token).
    pub fn chat_text(messages: &[ChatMessage]) -> String {
        let mut text = String::new();
        for message in messages {
            text.push_str(&format!("{IM_START}{}\n{}{IM_END}\n", message.role, message.content));
        }
        text.push_str(IM_START);
        text.push_str("assistant\n");
        text
    }

    /// Tokens that end an answer: `<|im_end|>` and the GGUF's end-of-sequence token.
    pub fn stop_tokens(&self) -> &[u32] {
        &self.stop_tokens
    }

    pub fn eos(&self) -> Option<u32> {
        self.eos
    }

    /// Whether the GGUF's `tokenizer.chat_template` is ChatML (we use ChatML either way).
    pub fn chat_template_is_chatml(&self) -> bool {
        self.chatml_template
    }

    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.tokenizer.token_to_id(token)
    }

    pub fn id_to_token(&self, id: u32) -> Option<String> {
        self.tokenizer.id_to_token(id)
    }
}
