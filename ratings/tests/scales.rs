//! The logistic Elo scale and the normal distribution functions the statistics rest on.

use ratings::logistic::{ELO_PER_LOGIT, elo_difference, expected_score};
use ratings::normal;

#[test]
fn elo_expected_score_follows_the_logistic_formula() {
    assert_eq!(expected_score(0.0), 0.5);
    assert!((expected_score(400.0) - 10.0 / 11.0).abs() < 1e-15);
    assert!((expected_score(-400.0) - 1.0 / 11.0).abs() < 1e-15);
    assert!((expected_score(200.0) + expected_score(-200.0) - 1.0).abs() < 1e-15);
}

#[test]
fn elo_expected_score_agrees_with_skillratings() {
    use skillratings::elo::{EloRating, expected_score as skill_expected};
    let (a, _) = skill_expected(&EloRating { rating: 1400.0 }, &EloRating { rating: 1000.0 });
    assert!((a - expected_score(400.0)).abs() < 1e-15);
}

#[test]
fn elo_difference_inverts_the_expected_score() {
    assert!((elo_difference(0.75) - 400.0 * 3f64.log10()).abs() < 1e-12);
    for d in [-500.0, -37.5, 0.0, 12.0, 800.0] {
        assert!((elo_difference(expected_score(d)) - d).abs() < 1e-9);
    }
    assert_eq!(elo_difference(1.0), f64::INFINITY);
    assert_eq!(elo_difference(0.0), f64::NEG_INFINITY);
    assert!(elo_difference(1.5).is_nan());
}

#[test]
fn one_natural_logit_is_400_over_ln_10_elo() {
    assert!((ELO_PER_LOGIT - 173.717_792_761_245_1).abs() < 1e-10);
}

#[test]
fn normal_functions_match_tabulated_values() {
    assert!((normal::erfc(3.0) - 2.209_049_699_858_544e-5).abs() < 1e-19);
    assert!((normal::erfc(5.0) / 1.537_459_794_428_035e-12 - 1.0).abs() < 1e-13);
    assert!((normal::erfc(2.4) - 6.885_138_966_450_789e-4).abs() < 1e-16);
    assert!((normal::erfc(2.6) - 2.360_344_165_293_491e-4).abs() < 1e-16);
    assert!((normal::erfc(0.3) - 0.671_373_240_540_872_6).abs() < 1e-15);
    assert!((normal::cdf(1.96) - 0.975_002_104_851_779_5).abs() < 1e-15);
    assert!((normal::quantile(0.975) - normal::Z_95).abs() < 1e-14);
    for p in [1e-10, 0.01, 0.3, 0.5, 0.77, 0.999] {
        assert!((normal::cdf(normal::quantile(p)) / p - 1.0).abs() < 1e-12, "{p}");
    }
}
