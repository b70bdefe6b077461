//! Seed derivation: every random stream of a tournament comes from its seed and a position in it,
//! never from thread timing, so results are identical for any number of threads.

pub use games::playout::mix_seed as mix;

/// The seed of match `index` in a tournament seeded with `tournament_seed`.
pub fn match_seed(tournament_seed: u64, index: u64) -> u64 {
    mix(tournament_seed ^ mix(index ^ 0x6d61_7463_6800_0000))
}

/// The seed of one stream inside a match: stream 0 is chance, stream `1 + seat` is that seat's agent.
pub fn stream_seed(match_seed: u64, stream: u64) -> u64 {
    mix(match_seed ^ mix(stream.wrapping_add(0x5354_5245_414d_0000)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_differ_across_matches_and_streams() {
        let seeds: std::collections::HashSet<u64> =
            (0..1000).flat_map(|i| (0..3).map(move |s| stream_seed(match_seed(42, i), s))).collect();
        assert_eq!(seeds.len(), 3000);
        assert_ne!(match_seed(1, 0), match_seed(2, 0));
    }
}
