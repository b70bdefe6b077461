//! The Bradley–Terry fit reproduces the published reference fit in `testdata/bradley_terry_small.json`.

use ratings::bradley_terry::{self, Anchor, Config};
use ratings::{GameResult, PairCounts};
use serde_json::Value;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn reference() -> Result<Value, Box<dyn std::error::Error>> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/bradley_terry_small.json");
    Ok(serde_json::from_str(&std::fs::read_to_string(path)?)?)
}

fn number(value: &Value) -> Result<f64, Box<dyn std::error::Error>> {
    value.as_f64().ok_or_else(|| format!("{value} is not a number").into())
}

fn count(pair: &Value, key: &str) -> Result<usize, Box<dyn std::error::Error>> {
    Ok(pair[key].as_u64().ok_or_else(|| format!("{key} missing"))? as usize)
}

/// The reference results as individual games, in file order.
fn reference_games(data: &Value) -> Result<Vec<GameResult>, Box<dyn std::error::Error>> {
    let mut games = Vec::new();
    for pair in data["pairs"].as_array().ok_or("pairs missing")? {
        let (first, second) = (count(pair, "first")?, count(pair, "second")?);
        games.extend(std::iter::repeat_n(GameResult::win(first, second), count(pair, "wins")?));
        games.extend(std::iter::repeat_n(GameResult::draw(first, second), count(pair, "draws")?));
        games.extend(std::iter::repeat_n(GameResult::loss(first, second), count(pair, "losses")?));
    }
    Ok(games)
}

#[test]
fn fit_reproduces_published_mle_ratings_and_log_likelihood() -> TestResult {
    let data = reference()?;
    let players = data["n_players"].as_u64().ok_or("n_players")? as usize;
    let games = reference_games(&data)?;
    assert_eq!(games.len() as u64, data["n_games"].as_u64().ok_or("n_games")?);
    let counts = PairCounts::from_games(players, &games)?;
    let config = Config::anchored(vec![Anchor { player: 0, rating: 0.0 }]);
    let fit = bradley_terry::fit(&counts, &config)?;
    let expected = data["mle_ratings"].as_array().ok_or("mle_ratings")?;
    for (player, (got, want)) in fit.ratings.iter().zip(expected).enumerate() {
        let want = number(want)?;
        assert!((got - want).abs() < 1e-6, "player {player}: {got} vs reference {want}");
    }
    let want_ll = number(&data["log_likelihood_at_mle"])?;
    assert!(
        (fit.log_likelihood - want_ll).abs() < 1e-9,
        "log-likelihood {} vs reference {want_ll}",
        fit.log_likelihood
    );
    Ok(())
}

#[test]
fn pooled_matrices_match_published_pair_totals() -> TestResult {
    let data = reference()?;
    let counts = PairCounts::from_games(8, &reference_games(&data)?)?;
    let (n, s) = (counts.n_matrix(), counts.s_matrix());
    for i in 0..8 {
        for j in 0..8 {
            assert_eq!(n[i * 8 + j], number(&data["pair_totals"]["N"][i][j])?);
            assert_eq!(s[i * 8 + j], number(&data["pair_totals"]["S"][i][j])?);
        }
    }
    assert_eq!(counts.total_draws(), data["n_draws"].as_u64().ok_or("n_draws")?);
    Ok(())
}

#[test]
fn expected_scores_match_published_matrix() -> TestResult {
    let data = reference()?;
    let counts = PairCounts::from_games(8, &reference_games(&data)?)?;
    let fit = bradley_terry::fit(&counts, &Config::anchored(vec![Anchor { player: 0, rating: 0.0 }]))?;
    for i in 0..8 {
        for j in 0..8 {
            let want = number(&data["expected_score_matrix"]["values"][i][j])?;
            assert!((fit.expected_score(i, j) - want).abs() < 1e-12);
        }
    }
    Ok(())
}

#[test]
fn unanchored_fit_is_the_anchored_fit_shifted_to_mean_zero() -> TestResult {
    let data = reference()?;
    let counts = PairCounts::from_games(8, &reference_games(&data)?)?;
    let fit = bradley_terry::fit(&counts, &Config::default())?;
    let mean = fit.ratings.iter().sum::<f64>() / 8.0;
    assert!(mean.abs() < 1e-9);
    let expected = data["mle_ratings"].as_array().ok_or("mle_ratings")?;
    let expected_mean = expected.iter().map(number).sum::<Result<f64, _>>()? / 8.0;
    for (got, want) in fit.ratings.iter().zip(expected) {
        assert!((got - (number(want)? - expected_mean)).abs() < 1e-6);
    }
    Ok(())
}
