//! A share of successes with its Wilson score interval (accuracy of a judge, share of optimal
//! moves): better than the normal approximation near 0 and 1 and for few trials.

use crate::normal::two_sided_z;

/// A share of successes and its confidence interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Proportion {
    pub successes: u64,
    pub trials: u64,
    /// `successes / trials` (0 for no trials).
    pub share: f64,
    pub low: f64,
    pub high: f64,
}

/// The Wilson score interval of `successes` in `trials` at confidence `level` (e.g. 0.95).
/// No trials give the share 0 and the interval [0, 1].
pub fn wilson(successes: u64, trials: u64, level: f64) -> Proportion {
    if trials == 0 {
        return Proportion { successes, trials, share: 0.0, low: 0.0, high: 1.0 };
    }
    let n = trials as f64;
    let p = successes as f64 / n;
    let z = two_sided_z(level);
    let z2 = z * z;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = z / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    // At no or all successes the bound is exactly 0 or 1; rounding would leave it a hair inside.
    let low = if successes == 0 { 0.0 } else { (centre - half).max(0.0) };
    let high = if successes >= trials { 1.0 } else { (centre + half).min(1.0) };
    Proportion { successes, trials, share: p, low, high }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_a_textbook_value() {
        // 8 of 10: 95% Wilson interval 0.4902 .. 0.9433.
        let w = wilson(8, 10, 0.95);
        assert!((w.share - 0.8).abs() < 1e-12);
        assert!((w.low - 0.4902).abs() < 1e-4 && (w.high - 0.9433).abs() < 1e-4, "{w:?}");
    }

    #[test]
    fn wilson_bounds_are_exact_at_the_edges() {
        let none = wilson(0, 20, 0.95);
        assert_eq!(none.low, 0.0);
        assert!(none.high > 0.1 && none.high < 0.2, "{none:?}");
        let all = wilson(20, 20, 0.95);
        assert_eq!(all.high, 1.0);
        assert_eq!(wilson(0, 0, 0.95), Proportion { successes: 0, trials: 0, share: 0.0, low: 0.0, high: 1.0 });
    }
}
