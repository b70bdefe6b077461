//! Seed derivation: every random stream of a tournament or an evolve run comes from its seed and a
//! position in it, never from thread timing, so results are identical for any number of threads.
//! Every purpose has its own salt here, so no two streams share a seed by accident.

pub use games::playout::mix_seed as mix;

/// Salt of per-match seeds.
const MATCH: u64 = 0x6d61_7463_6800_0000;
/// Salt of the streams inside a match (chance, each seat).
const STREAM: u64 = 0x5354_5245_414d_0000;
/// Salt of random openings.
const OPENING: u64 = 0x6f70_656e;
/// Salts of an evolve run's streams.
const SELF_PLAY: u64 = 0x5e1f;
const GATE: u64 = 0x6a7e;
const BOOTSTRAP: u64 = 0x626f_6f74_0000_0000;
const HELD_OUT: u64 = 0x6865_6c64_6f75_7400;
const TASK_DRAW: u64 = 0x7461_736b_0000_0000;
const PROPOSALS: u64 = 0x7072_6f70;
const PFSP: u64 = 0x7066_7370_0000_0000;
const MUTATION_POOL: u64 = 0x706f_6f6c_0000_0000;

/// The seed of match `index` in a tournament seeded with `tournament_seed`.
pub fn match_seed(tournament_seed: u64, index: u64) -> u64 {
    mix(tournament_seed ^ mix(index ^ MATCH))
}

/// The seed of one stream inside a match: stream 0 is chance, stream `1 + seat` is that seat's agent.
pub fn stream_seed(match_seed: u64, stream: u64) -> u64 {
    mix(match_seed ^ mix(stream.wrapping_add(STREAM)))
}

/// The seed of random opening number `k` of a tournament.
pub fn opening_seed(tournament_seed: u64, k: u64) -> u64 {
    stream_seed(tournament_seed ^ OPENING, k)
}

/// What an evolve run draws random numbers for, in one generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvolveStream {
    /// The generation's rating tournament.
    Tournament,
    /// The bootstrap of its rating intervals.
    Bootstrap,
    /// Self-play of the parent with this index.
    SelfPlay { parent: usize },
    /// The seat-balancing subsample of the generation's dataset.
    DatasetShuffle,
    /// Training of `child` (its index among the parent's children) of parent `parent`.
    Training { parent: usize, child: usize },
    /// Gate batch `batch`.
    Gate { batch: u32 },
    /// The held-out evaluation: the same games every generation, apart from every training stream.
    HeldOut,
    /// The draw of the generation's training tasks (quiz runs).
    TaskDraw,
    /// The proposals of the parent with this index (self-instruct).
    Proposals { parent: usize },
    /// The prioritised fictitious self-play games of parent `parent` against its opponent number
    /// `opponent` (its index in the generation's tournament).
    Pfsp { parent: usize, opponent: usize },
    /// The rewrite of the pool's best mutation instruction (in-context runs).
    MutationPool,
}

/// The seed of `stream` in `generation` of an evolve run seeded with `run_seed`.
pub fn evolve_seed(run_seed: u64, generation: u32, stream: EvolveStream) -> u64 {
    let g = generation as u64;
    match stream {
        EvolveStream::Tournament => mix(run_seed ^ mix(g)),
        EvolveStream::Bootstrap => mix(run_seed ^ mix(g ^ BOOTSTRAP)),
        EvolveStream::SelfPlay { parent } => mix(run_seed ^ mix(g ^ SELF_PLAY ^ (parent as u64) << 32)),
        EvolveStream::DatasetShuffle => mix(run_seed ^ g),
        EvolveStream::Training { parent, child } => mix(run_seed ^ mix(g * 1000 + (parent * 100 + child) as u64)),
        EvolveStream::Gate { batch } => mix(run_seed ^ mix(g ^ GATE ^ (batch as u64) << 40)),
        EvolveStream::HeldOut => mix(run_seed ^ mix(HELD_OUT)),
        EvolveStream::TaskDraw => mix(run_seed ^ mix(g ^ TASK_DRAW)),
        EvolveStream::Proposals { parent } => mix(run_seed ^ mix(g ^ PROPOSALS ^ (parent as u64) << 36)),
        EvolveStream::Pfsp { parent, opponent } => {
            mix(run_seed ^ mix(g ^ PFSP ^ (parent as u64) << 24 ^ (opponent as u64) << 44))
        }
        EvolveStream::MutationPool => mix(run_seed ^ mix(g ^ MUTATION_POOL)),
    }
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

    #[test]
    fn every_evolve_stream_has_its_own_seed() {
        let mut seeds = std::collections::HashSet::new();
        let mut count = 0;
        for generation in 1..=40 {
            let mut streams = vec![
                EvolveStream::Tournament,
                EvolveStream::Bootstrap,
                EvolveStream::DatasetShuffle,
                EvolveStream::TaskDraw,
            ];
            if generation == 1 {
                streams.push(EvolveStream::HeldOut);
            }
            streams.extend((0..3).map(|parent| EvolveStream::SelfPlay { parent }));
            streams.extend((0..3).map(|parent| EvolveStream::Proposals { parent }));
            streams
                .extend((0..3).flat_map(|parent| (0..8).map(move |opponent| EvolveStream::Pfsp { parent, opponent })));
            streams.extend((0..3).flat_map(|parent| (0..3).map(move |child| EvolveStream::Training { parent, child })));
            streams.extend((0..6).map(|batch| EvolveStream::Gate { batch }));
            for stream in streams {
                seeds.insert(evolve_seed(7, generation, stream));
                count += 1;
            }
        }
        assert_eq!(seeds.len(), count, "two streams share a seed");
    }
}
