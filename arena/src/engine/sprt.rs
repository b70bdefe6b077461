//! One sequential probability ratio test over a tally: over game pairs where there are any (the
//! pentanomial model), else over single games — shared by `arena play --sprt` and evolve's gates.

use ratings::sprt::{Config, Decision};

use crate::engine::tally::Tally;
use crate::engine::tournament::StopRule;

/// Where a test stands after the games of a tally between agents 0 and 1.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SprtState {
    /// The log-likelihood ratio of H1 (elo1) against H0 (elo0).
    pub llr: f64,
    pub decision: Decision,
}

/// The test's state over the games between agents 0 and 1 of `tally`, from agent 0's side.
pub fn sprt_state(test: &Config, tally: &Tally) -> SprtState {
    let pairs = tally.game_pairs(0, 1);
    let llr =
        if pairs.pairs() > 0 { test.llr_pentanomial(&pairs) } else { test.llr_trinomial(&tally.head_to_head(0, 1)) };
    SprtState { llr, decision: test.decision(llr) }
}

/// A tournament stop rule that ends the run as soon as the test decides.
pub fn stop_when_decided(test: Config) -> StopRule {
    Box::new(move |tally: &Tally| {
        let state = sprt_state(&test, tally);
        match state.decision {
            Decision::Continue => None,
            decided => Some(format!(
                "SPRT {} (LLR {:.3}, bounds {:.3}..{:.3})",
                decided.describe(&test),
                state.llr,
                test.bounds().0,
                test.bounds().1
            )),
        }
    })
}
