//! Random playouts: the simplest agent, used by the conformance kit, benchmarks and MCTS rollouts.

use rand::Rng;

use crate::game::{Action, State, Turn};

/// Plays uniformly random legal actions (and chance outcomes by their probabilities) until the
/// game ends. `buffer` is reused, so a playout allocates nothing per move. Returns the number of
/// moves played.
pub fn random_playout(state: &mut dyn State, rng: &mut impl Rng, buffer: &mut Vec<Action>) -> usize {
    let mut moves = 0;
    let mut outcomes = Vec::new();
    loop {
        match state.turn() {
            Turn::Terminal => return moves,
            Turn::Player(_) => {
                state.legal_actions(buffer);
                if buffer.is_empty() {
                    // A text turn: no discrete action to pick.
                    return moves;
                }
                let action = buffer[rng.random_range(0..buffer.len())];
                state.apply_unchecked(action);
            }
            Turn::Chance => {
                state.chance_outcomes(&mut outcomes);
                state.apply_unchecked(sample_chance(&outcomes, rng));
            }
        }
        moves += 1;
    }
}

/// Samples a chance outcome by its probability.
pub fn sample_chance(outcomes: &[(Action, f64)], rng: &mut impl Rng) -> Action {
    let mut draw: f64 = rng.random();
    for &(action, probability) in outcomes {
        if draw < probability {
            return action;
        }
        draw -= probability;
    }
    // Rounding can leave a sliver past the last outcome.
    outcomes.last().map(|&(a, _)| a).unwrap_or_else(|| unreachable!("a chance node has outcomes"))
}

/// A well-mixed 64-bit value of a seed (SplitMix64's finaliser): a bijection, used to derive
/// independent RNG streams from a seed and a position (a match index, a seat, an agent's seed).
pub fn mix_seed(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
