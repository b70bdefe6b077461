//! Reusing the keys and values of prompt prefixes across requests: an agent's prompts share a
//! long beginning (its system prompt, lessons and few-shot examples) and differ only in the
//! position at the end, so a newcomer starts from a copy of the longest cached prefix it shares
//! and feeds only the rest.
//!
//! Every row is computed as it would be in one pass over the whole prompt (see
//! [`super::LlmModel::forward`]), so a prompt's logits, and the answer sampled from them, are the
//! same with or without the cache.
//!
//! The cache holds the prompts of past requests and the common prefixes found between them, up
//! to a byte budget; the least recently used go first. A prefix shorter than [`MIN_SHARED`]
//! tokens is not worth a copy and is not used.

use super::model::KvCache;

/// The fewest shared tokens worth reusing.
pub(crate) const MIN_SHARED: usize = 32;

/// The fewest new tokens a prompt must add to what it reused to be kept for later ones.
const MIN_NEW: usize = 32;

#[derive(Debug)]
struct Entry {
    tokens: Vec<u32>,
    kv: KvCache,
    last_used: u64,
}

/// Cached prefixes within a byte budget (0: nothing is cached).
#[derive(Debug)]
pub(crate) struct PrefixCache {
    budget: usize,
    entries: Vec<Entry>,
    clock: u64,
}

/// What a newcomer reuses: a copy of the cached keys and values of its first `len` tokens.
#[derive(Debug)]
pub(crate) struct Reused {
    pub len: usize,
    pub cache: KvCache,
}

impl PrefixCache {
    pub fn new(budget: usize) -> Self {
        PrefixCache { budget, entries: Vec::new(), clock: 0 }
    }

    fn held(&self) -> usize {
        self.entries.iter().map(|e| e.kv.bytes()).sum()
    }

    /// The longest cached prefix of `prompt` (leaving at least its last token to feed, whose
    /// logits the request needs), copied with room for `room` more positions; `None` when no
    /// cached prompt shares [`MIN_SHARED`] tokens with it. A prefix found inside a longer cached
    /// prompt is kept as an entry of its own, so the next prompt that shares it finds it whole.
    pub fn reuse(&mut self, prompt: &[u32], room: usize) -> Option<Reused> {
        let limit = prompt.len().saturating_sub(1);
        self.clock += 1;
        let shared = |e: &Entry| common_prefix(&e.tokens, prompt).min(limit);
        let (best, len) = self.entries.iter().enumerate().map(|(i, e)| (i, shared(e))).max_by_key(|&(i, len)| {
            // The longest; between equals, one that ends there (no new entry needed).
            (len, len == self.entries[i].tokens.len())
        })?;
        if len < MIN_SHARED {
            return None;
        }
        self.entries[best].last_used = self.clock;
        let cache = self.entries[best].kv.copy_prefix(len, room);
        if len < self.entries[best].tokens.len() {
            let entry = Entry { tokens: prompt[..len].to_vec(), kv: cache.copy_prefix(len, 0), last_used: self.clock };
            self.insert(entry);
        }
        Some(Reused { len, cache })
    }

    /// Offers the keys and values of a prompt just fed (`kv` holds exactly `prompt`), of which
    /// the first `reused` tokens came from this cache: kept when it adds enough to what is held.
    pub fn offer(&mut self, prompt: &[u32], reused: usize, kv: &KvCache) {
        if self.budget == 0 || prompt.len() < reused + MIN_NEW || kv.len() != prompt.len() {
            return;
        }
        if self.entries.iter().any(|e| e.tokens == prompt) {
            return;
        }
        self.clock += 1;
        self.insert(Entry { tokens: prompt.to_vec(), kv: kv.copy_prefix(prompt.len(), 0), last_used: self.clock });
    }

    /// Adds `entry` and drops the least recently used ones beyond the budget (`entry` itself if
    /// it alone is over it).
    fn insert(&mut self, entry: Entry) {
        if entry.kv.bytes() > self.budget {
            return;
        }
        self.entries.push(entry);
        while self.held() > self.budget {
            let Some(oldest) = self.entries.iter().enumerate().min_by_key(|(_, e)| e.last_used).map(|(i, _)| i) else {
                break;
            };
            self.entries.swap_remove(oldest);
        }
    }

    /// Entries held (for tests).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }
}

fn common_prefix(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}
