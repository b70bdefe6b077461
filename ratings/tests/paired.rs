//! Trinomial and pentanomial match statistics, as fastchess reports them.

use ratings::game::Outcome;
use ratings::paired::{Pentanomial, Trinomial};

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[test]
fn trinomial_statistics_of_60_20_20() -> TestResult {
    // Score 0.7, per-game variance 0.16, so the score's standard error is 0.04.
    let stats = Trinomial::new(60, 20, 20).stats()?;
    assert_eq!(stats.samples, 100);
    assert!((stats.score - 0.7).abs() < 1e-15);
    assert!((stats.elo - 147.190_714_117_837_76).abs() < 1e-9);
    assert!((stats.elo_error_95 - 66.013_381_220_385_28).abs() < 1e-9);
    // LOS = Φ((W − L) / √(W + L)) = Φ(40 / √80).
    assert!((stats.los - 0.999_996_127_891_784_5).abs() < 1e-12);
    Ok(())
}

#[test]
fn even_trinomial_is_zero_elo_and_even_los() -> TestResult {
    let stats = Trinomial::new(7, 5, 7).stats()?;
    assert_eq!((stats.score, stats.elo, stats.los), (0.5, 0.0, 0.5));
    Ok(())
}

#[test]
fn pentanomial_statistics_of_5_20_50_30_10() -> TestResult {
    let stats = Pentanomial::new([5, 20, 50, 30, 10]).stats()?;
    assert_eq!(stats.samples, 115);
    assert!((stats.score - 0.543_478_260_869_565_2).abs() < 1e-15);
    assert!((stats.elo - 30.288_285_575_247_322).abs() < 1e-9);
    assert!((stats.elo_error_95 - 30.872_869_614_334_1).abs() < 1e-9);
    assert!((stats.los - 0.973_676_708_881_615_2).abs() < 1e-12);
    Ok(())
}

#[test]
fn pairs_are_counted_by_their_points() -> TestResult {
    let mut counts = Pentanomial::default();
    for (a, b) in [(1.0, 1.0), (1.0, 0.0), (0.5, 0.5), (0.0, 0.5), (1.0, 0.5)] {
        counts.add_pair(a, b)?;
    }
    assert_eq!(counts.counts, [0, 1, 2, 1, 1]);
    assert!(counts.add_pair(1.0, 0.25).is_err());
    Ok(())
}

#[test]
fn trinomial_counts_outcomes() {
    let mut counts = Trinomial::default();
    for outcome in [Outcome::Win, Outcome::Draw, Outcome::Draw, Outcome::Loss] {
        counts.add(outcome);
    }
    assert_eq!(counts, Trinomial::new(1, 2, 1));
    assert_eq!(counts.draw_ratio(), 0.5);
}

#[test]
fn perfect_scores_are_infinite_elo_and_empty_counts_are_errors() -> TestResult {
    let stats = Trinomial::new(10, 0, 0).stats()?;
    assert_eq!(stats.elo, f64::INFINITY);
    assert!(Trinomial::default().stats().is_err());
    Ok(())
}
