//! The logistic Elo scale: expected score from an Elo difference, and the Elo difference a score implies.
//!
//! `E = 1 / (1 + 10^(-d / 400))`. Bradley–Terry strengths `theta` (natural logits) convert to Elo
//! by `400 / ln 10 · theta`.

use std::f64::consts::LN_10;

/// Elo points per natural-logit unit: `400 / ln 10` ≈ 173.7.
pub const ELO_PER_LOGIT: f64 = 400.0 / LN_10;

/// The expected score of a player `elo_difference` Elo above the opponent.
pub fn expected_score(elo_difference: f64) -> f64 {
    1.0 / (1.0 + 10f64.powf(-elo_difference / 400.0))
}

/// The Elo difference whose expected score is `score`: `-400 · log10(1 / score - 1)`.
///
/// A score of 1 gives `+∞`, 0 gives `-∞`; a score outside `[0, 1]` gives NaN.
pub fn elo_difference(score: f64) -> f64 {
    if !(0.0..=1.0).contains(&score) {
        return f64::NAN;
    }
    -400.0 * (1.0 / score - 1.0).log10()
}

/// A strength in natural logits on the Elo scale.
pub fn logit_to_elo(theta: f64) -> f64 {
    theta * ELO_PER_LOGIT
}

/// An Elo rating in natural logits.
pub fn elo_to_logit(elo: f64) -> f64 {
    elo / ELO_PER_LOGIT
}
