//! Perft: counting move sequences to a depth, the standard correctness check for move generators.

use crate::game::{Action, State, Turn};

/// How games that end before the requested depth are counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum EndedGames {
    /// A finished game is not expanded and adds nothing at deeper depths (the usual convention).
    #[default]
    NotCounted,
    /// A finished game counts as one leaf at every deeper depth (Othello's published tables).
    CountedAsLeaf,
}

/// Number of move sequences of exactly `depth` moves from `state`. Chance outcomes count as moves.
pub fn perft(state: &dyn State, depth: u32, ended: EndedGames) -> u64 {
    let mut buffers = vec![Vec::new(); depth as usize + 1];
    count(state, depth, ended, &mut buffers)
}

fn count(state: &dyn State, depth: u32, ended: EndedGames, buffers: &mut [Vec<Action>]) -> u64 {
    if depth == 0 {
        return 1;
    }
    let (mine, deeper) = buffers.split_first_mut().unwrap_or_else(|| unreachable!("one buffer per depth"));
    match state.turn() {
        Turn::Terminal => match ended {
            EndedGames::NotCounted => 0,
            EndedGames::CountedAsLeaf => 1,
        },
        Turn::Chance => {
            let mut outcomes = Vec::new();
            state.chance_outcomes(&mut outcomes);
            mine.clear();
            mine.extend(outcomes.iter().map(|&(a, _)| a));
            expand(state, depth, ended, mine, deeper)
        }
        Turn::Player(_) => {
            state.legal_actions(mine);
            if depth == 1 {
                return mine.len() as u64;
            }
            expand(state, depth, ended, mine, deeper)
        }
    }
}

fn expand(state: &dyn State, depth: u32, ended: EndedGames, actions: &[Action], deeper: &mut [Vec<Action>]) -> u64 {
    let mut child = state.clone_box();
    let mut total = 0;
    for (i, &action) in actions.iter().enumerate() {
        if i > 0 {
            child = state.clone_box();
        }
        child.apply_unchecked(action);
        total += count(child.as_ref(), depth - 1, ended, deeper);
    }
    total
}
