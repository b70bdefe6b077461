//! Uncertainty of Bradley–Terry ratings: standard errors from the Fisher information, LOS, rank
//! intervals and the bootstrap (seeded, independent of the thread count).

use ratings::bootstrap::{self, bootstrap};
use ratings::bradley_terry::{self, Anchor, Config};
use ratings::fisher::covariance;
use ratings::logistic::ELO_PER_LOGIT;
use ratings::rank::{RankInterval, rank_intervals, ranks};
use ratings::{GameResult, PairCounts, los, normal};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn reference_counts() -> Result<PairCounts, Box<dyn std::error::Error>> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/bradley_terry_small.json");
    let data: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    let mut games = Vec::new();
    for pair in data["pairs"].as_array().ok_or("pairs")? {
        let get = |k: &str| pair[k].as_u64().map(|v| v as usize).ok_or(format!("{k} missing"));
        let (first, second) = (get("first")?, get("second")?);
        games.extend(std::iter::repeat_n(GameResult::win(first, second), get("wins")?));
        games.extend(std::iter::repeat_n(GameResult::draw(first, second), get("draws")?));
        games.extend(std::iter::repeat_n(GameResult::loss(first, second), get("losses")?));
    }
    Ok(PairCounts::from_games(8, &games)?)
}

fn three_wins_one_loss() -> ratings::Result<PairCounts> {
    let games = [GameResult::win(0, 1), GameResult::win(0, 1), GameResult::loss(1, 0), GameResult::loss(0, 1)];
    PairCounts::from_games(2, &games)
}

#[test]
fn two_player_standard_error_is_one_over_root_n_p_q() -> TestResult {
    // 3-1: p = 3/4, information of the difference N p q = 3/4, so SE = 173.7 · √(4/3).
    let counts = three_wins_one_loss()?;
    let config = Config::anchored(vec![Anchor { player: 0, rating: 0.0 }]);
    let fit = bradley_terry::fit(&counts, &config)?;
    let cov = covariance(&counts, &config, &fit)?;
    let want = ELO_PER_LOGIT * (4.0f64 / 3.0).sqrt();
    assert_eq!(cov.standard_error(0), 0.0, "the anchor has no uncertainty");
    assert!((cov.standard_error(1) - want).abs() < 1e-9);
    assert!((cov.difference_standard_error(0, 1) - want).abs() < 1e-9);
    Ok(())
}

#[test]
fn without_anchors_the_uncertainty_is_split_around_the_mean() -> TestResult {
    let counts = three_wins_one_loss()?;
    let config = Config::default();
    let fit = bradley_terry::fit(&counts, &config)?;
    let cov = covariance(&counts, &config, &fit)?;
    let difference = ELO_PER_LOGIT * (4.0f64 / 3.0).sqrt();
    assert!((cov.standard_error(0) - difference / 2.0).abs() < 1e-9);
    assert!((cov.standard_error(1) - difference / 2.0).abs() < 1e-9);
    assert!((cov.difference_standard_error(0, 1) - difference).abs() < 1e-9);
    Ok(())
}

#[test]
fn anchored_covariance_inverts_the_fisher_information() -> TestResult {
    let counts = reference_counts()?;
    let config = Config::anchored(vec![Anchor { player: 0, rating: 0.0 }]);
    let fit = bradley_terry::fit(&counts, &config)?;
    let cov = covariance(&counts, &config, &fit)?;
    // Information of θ1..θ7: I_ii = Σ_j N_ij p_ij p_ji, I_ij = −N_ij p_ij p_ji.
    let info = |i: usize, j: usize| -> f64 {
        let term = |a: usize, b: usize| {
            let p = fit.expected_score(a, b);
            counts.games(a, b) as f64 * p * (1.0 - p)
        };
        if i == j { (0..8).filter(|&k| k != i).map(|k| term(i, k)).sum() } else { -term(i, j) }
    };
    for i in 1..8 {
        for j in 1..8 {
            let product: f64 = (1..8).map(|k| cov.get(i, k) / ELO_PER_LOGIT.powi(2) * info(k, j)).sum();
            let identity = if i == j { 1.0 } else { 0.0 };
            assert!((product - identity).abs() < 1e-9, "({i},{j}): {product}");
        }
    }
    Ok(())
}

#[test]
fn hessian_intervals_are_rating_plus_minus_1_96_standard_errors() -> TestResult {
    let counts = reference_counts()?;
    let config = Config::default();
    let fit = bradley_terry::fit(&counts, &config)?;
    let cov = covariance(&counts, &config, &fit)?;
    for (i, (low, high)) in cov.intervals(&fit.ratings, 0.95).into_iter().enumerate() {
        let se = cov.standard_error(i);
        assert!((high - fit.ratings[i] - 1.959963984540054 * se).abs() < 1e-9);
        assert!((fit.ratings[i] - low - 1.959963984540054 * se).abs() < 1e-9);
    }
    Ok(())
}

#[test]
fn los_is_the_normal_probability_of_a_positive_difference() -> TestResult {
    let counts = three_wins_one_loss()?;
    let config = Config::default();
    let fit = bradley_terry::fit(&counts, &config)?;
    let cov = covariance(&counts, &config, &fit)?;
    let matrix = los::matrix(&fit.ratings, &cov);
    let want = normal::cdf(3f64.ln() / (4.0f64 / 3.0).sqrt());
    assert!((matrix[1] - want).abs() < 1e-12);
    assert!((matrix[1] + matrix[2] - 1.0).abs() < 1e-12);
    assert_eq!((matrix[0], matrix[3]), (0.5, 0.5));
    Ok(())
}

#[test]
fn rank_intervals_count_players_clearly_above_and_below() {
    let intervals = [(100.0, 200.0), (150.0, 250.0), (0.0, 90.0), (-50.0, 10.0)];
    let ratings = [150.0, 200.0, 45.0, -20.0];
    assert_eq!(ranks(&ratings), vec![2, 1, 3, 4]);
    let got = rank_intervals(&ratings, &intervals);
    let want = [
        RankInterval { rank: 2, best: 1, worst: 2 },
        RankInterval { rank: 1, best: 1, worst: 2 },
        RankInterval { rank: 3, best: 3, worst: 4 },
        RankInterval { rank: 4, best: 3, worst: 4 },
    ];
    assert_eq!(got, want);
}

#[test]
fn tied_ratings_share_a_rank() {
    assert_eq!(ranks(&[10.0, 20.0, 10.0]), vec![2, 1, 2]);
}

fn run_bootstrap(threads: usize, seed: u64) -> Result<bootstrap::Bootstrap, Box<dyn std::error::Error>> {
    let counts = reference_counts()?;
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build()?;
    let config = bootstrap::Config { replicates: 200, seed, level: 0.95 };
    Ok(pool.install(|| bootstrap(&counts, &Config::default(), &config))?)
}

#[test]
fn bootstrap_is_the_same_for_one_thread_and_several() -> TestResult {
    let one = run_bootstrap(1, 42)?;
    let several = run_bootstrap(4, 42)?;
    assert_eq!(one, several, "bit for bit");
    assert_ne!(one, run_bootstrap(1, 43)?, "another seed, another resample");
    Ok(())
}

/// Games among 8 players 100 Elo apart, no draws.
fn decisive_games(count: usize) -> ratings::Result<PairCounts> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(2024);
    let games: Vec<GameResult> = (0..count)
        .map(|_| {
            let first = rng.random_range(0..8);
            let second = (first + rng.random_range(1..8)) % 8;
            let p = ratings::logistic::expected_score(100.0 * (first as f64 - second as f64));
            let score = if rng.random::<f64>() < p { 1.0 } else { 0.0 };
            GameResult { first, second, score }
        })
        .collect();
    PairCounts::from_games(8, &games)
}

#[test]
fn bootstrap_spread_agrees_with_the_fisher_standard_errors() -> TestResult {
    let counts = decisive_games(4000)?;
    let config = Config::default();
    let fit = bradley_terry::fit(&counts, &config)?;
    let cov = covariance(&counts, &config, &fit)?;
    let boot = bootstrap(&counts, &config, &bootstrap::Config { replicates: 1000, seed: 1, level: 0.95 })?;
    assert_eq!(boot.failed, 0);
    assert_eq!(boot.samples.len(), 1000);
    for i in 0..8 {
        let ratio = boot.standard_errors[i] / cov.standard_error(i);
        assert!((0.9..1.1).contains(&ratio), "player {i}: bootstrap/Fisher = {ratio}");
        let (low, high) = boot.intervals[i];
        assert!(low < fit.ratings[i] && fit.ratings[i] < high);
    }
    Ok(())
}

#[test]
fn with_draws_the_half_win_fisher_errors_are_conservative() -> TestResult {
    // A draw scores ½ with no variance, so with 20% draws a game's score varies less than the
    // Bernoulli variance the half-win likelihood assumes: the bootstrap spread is smaller.
    let counts = reference_counts()?;
    let config = Config::default();
    let fit = bradley_terry::fit(&counts, &config)?;
    let cov = covariance(&counts, &config, &fit)?;
    let boot = bootstrap(&counts, &config, &bootstrap::Config { replicates: 1000, seed: 1, level: 0.95 })?;
    for i in 0..8 {
        let ratio = boot.standard_errors[i] / cov.standard_error(i);
        assert!((0.75..0.95).contains(&ratio), "player {i}: bootstrap/Fisher = {ratio}");
    }
    Ok(())
}

#[test]
fn bootstrap_keeps_anchors_fixed() -> TestResult {
    let counts = reference_counts()?;
    let config = Config::anchored(vec![Anchor { player: 5, rating: 0.0 }]);
    let boot = bootstrap(&counts, &config, &bootstrap::Config { replicates: 50, seed: 3, level: 0.9 })?;
    assert_eq!(boot.intervals[5], (0.0, 0.0));
    assert_eq!(boot.standard_errors[5], 0.0);
    Ok(())
}

#[test]
fn bootstrap_rejects_zero_replicates_and_bad_levels() -> TestResult {
    let counts = reference_counts()?;
    for config in [
        bootstrap::Config { replicates: 0, ..Default::default() },
        bootstrap::Config { level: 1.0, ..Default::default() },
    ] {
        assert!(matches!(bootstrap(&counts, &Config::default(), &config), Err(ratings::Error::InvalidConfig(_))));
    }
    Ok(())
}
