//! Bradley–Terry: closed-form cases, invariance to game order and player labels, anchoring,
//! Davidson draws, and clear errors for players the results cannot rate.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_xoshiro::Xoshiro256PlusPlus;
use ratings::bradley_terry::{self, Anchor, Config, DrawModel};
use ratings::logistic::ELO_PER_LOGIT;
use ratings::{Error, GameResult, PairCounts};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn games(spec: &[(usize, usize, usize, usize, usize)]) -> Vec<GameResult> {
    let mut games = Vec::new();
    for &(first, second, wins, draws, losses) in spec {
        games.extend(std::iter::repeat_n(GameResult::win(first, second), wins));
        games.extend(std::iter::repeat_n(GameResult::draw(first, second), draws));
        games.extend(std::iter::repeat_n(GameResult::loss(first, second), losses));
    }
    games
}

fn fit(players: usize, games: &[GameResult], config: &Config) -> ratings::Result<bradley_terry::Fit> {
    bradley_terry::fit(&PairCounts::from_games(players, games)?, config)
}

/// A random round of games among `players` with true ratings spread over 600 Elo.
fn random_games(players: usize, count: usize, seed: u64) -> Vec<GameResult> {
    use rand::Rng;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let strength: Vec<f64> = (0..players).map(|p| 600.0 * p as f64 / players as f64).collect();
    (0..count)
        .map(|_| {
            let first = rng.random_range(0..players);
            let second = (first + rng.random_range(1..players)) % players;
            let p = ratings::logistic::expected_score(strength[first] - strength[second]);
            let u: f64 = rng.random();
            let score = if u < p - 0.1 {
                1.0
            } else if u < p + 0.1 {
                0.5
            } else {
                0.0
            };
            GameResult { first, second, score }
        })
        .collect()
}

#[test]
fn three_wins_one_loss_is_400_log10_3_elo_apart() -> TestResult {
    let fit = fit(2, &games(&[(0, 1, 3, 0, 1)]), &Config::default())?;
    let difference = fit.ratings[0] - fit.ratings[1];
    assert!((difference - 400.0 * 3f64.log10()).abs() < 1e-9, "{difference}");
    assert!((fit.ratings[0] + fit.ratings[1]).abs() < 1e-9, "mean 0 without anchors");
    Ok(())
}

#[test]
fn draws_count_as_half_a_win_each() -> TestResult {
    // 2 wins and 2 draws against 0 wins: 3 points to 1, the same as 3 wins to 1.
    let fit = fit(2, &games(&[(0, 1, 2, 2, 0)]), &Config::default())?;
    assert!((fit.ratings[0] - fit.ratings[1] - 400.0 * 3f64.log10()).abs() < 1e-9);
    Ok(())
}

#[test]
fn seats_are_pooled_without_advantage() -> TestResult {
    // 0 wins 2 of 3 as first and 1 of 1 as second: 3-1 overall.
    let fit = fit(2, &games(&[(0, 1, 2, 0, 1), (1, 0, 0, 0, 1)]), &Config::default())?;
    assert!((fit.ratings[0] - fit.ratings[1] - 400.0 * 3f64.log10()).abs() < 1e-9);
    Ok(())
}

#[test]
fn log_likelihood_of_two_players_is_closed_form() -> TestResult {
    let fit = fit(2, &games(&[(0, 1, 3, 0, 1)]), &Config::default())?;
    let want = 3.0 * 0.75f64.ln() + 0.25f64.ln();
    assert!((fit.log_likelihood - want).abs() < 1e-12);
    Ok(())
}

#[test]
fn fit_does_not_change_when_games_are_reordered() -> TestResult {
    let mut games = random_games(12, 3000, 7);
    let before = fit(12, &games, &Config::default())?;
    games.shuffle(&mut Xoshiro256PlusPlus::seed_from_u64(99));
    let after = fit(12, &games, &Config::default())?;
    assert_eq!(before, after, "bit for bit: the fit sees only pooled integer counts");
    Ok(())
}

#[test]
fn fit_follows_players_when_they_are_relabeled() -> TestResult {
    let players = 12;
    let games = random_games(players, 3000, 8);
    let mut label: Vec<usize> = (0..players).collect();
    label.shuffle(&mut Xoshiro256PlusPlus::seed_from_u64(5));
    let relabeled: Vec<GameResult> =
        games.iter().map(|g| GameResult { first: label[g.first], second: label[g.second], score: g.score }).collect();
    let before = fit(players, &games, &Config::default())?;
    let after = fit(players, &relabeled, &Config::default())?;
    for (p, &new_label) in label.iter().enumerate() {
        assert!((before.ratings[p] - after.ratings[new_label]).abs() < 1e-9);
    }
    assert!((before.log_likelihood - after.log_likelihood).abs() < 1e-9);
    Ok(())
}

#[test]
fn swapping_seats_changes_nothing() -> TestResult {
    let games = random_games(6, 1000, 9);
    let swapped: Vec<GameResult> =
        games.iter().map(|g| GameResult { first: g.second, second: g.first, score: 1.0 - g.score }).collect();
    assert_eq!(fit(6, &games, &Config::default())?, fit(6, &swapped, &Config::default())?);
    Ok(())
}

#[test]
fn an_anchor_fixes_its_player_and_shifts_the_rest() -> TestResult {
    let games = random_games(8, 2000, 10);
    let free = fit(8, &games, &Config::default())?;
    let anchored = fit(8, &games, &Config::anchored(vec![Anchor { player: 3, rating: 1500.0 }]))?;
    assert_eq!(anchored.ratings[3], 1500.0);
    let shift = 1500.0 - free.ratings[3];
    for p in 0..8 {
        assert!((anchored.ratings[p] - free.ratings[p] - shift).abs() < 1e-9);
    }
    assert!((anchored.log_likelihood - free.log_likelihood).abs() < 1e-9);
    Ok(())
}

#[test]
fn two_anchors_constrain_the_fit() -> TestResult {
    // Three players: 0 and 2 anchored 400 apart; 1 beats 0 and loses to 2 equally often, so it sits midway.
    let games = games(&[(1, 0, 5, 0, 5), (1, 2, 5, 0, 5), (0, 2, 1, 0, 9)]);
    let config = Config::anchored(vec![Anchor { player: 0, rating: 0.0 }, Anchor { player: 2, rating: 400.0 }]);
    let fit = fit(3, &games, &config)?;
    assert_eq!((fit.ratings[0], fit.ratings[2]), (0.0, 400.0));
    assert!((fit.ratings[1] - 200.0).abs() < 1e-9, "{}", fit.ratings[1]);
    Ok(())
}

#[test]
fn anchors_must_name_real_players_once_with_finite_ratings() {
    let games = games(&[(0, 1, 1, 0, 1)]);
    for anchors in [
        vec![Anchor { player: 2, rating: 0.0 }],
        vec![Anchor { player: 0, rating: f64::NAN }],
        vec![Anchor { player: 0, rating: 0.0 }, Anchor { player: 0, rating: 1.0 }],
    ] {
        let error = fit(2, &games, &Config::anchored(anchors)).err();
        assert!(matches!(error, Some(Error::InvalidAnchor { .. })), "{error:?}");
    }
}

#[test]
fn disconnected_players_are_named() {
    // 0-1 play each other, 2-3 play each other; player 4 plays nobody.
    let games = games(&[(0, 1, 2, 1, 2), (2, 3, 1, 1, 1), (0, 1, 1, 0, 0)]);
    let error = fit(5, &games, &Config::default()).err();
    match &error {
        Some(Error::Disconnected { players, .. }) => assert_eq!(players.indices, vec![2, 3, 4]),
        other => panic!("expected Disconnected, got {other:?}"),
    }
    let message = error.map(|e| e.with_names(&["a", "b", "c", "d", "e"]).to_string()).unwrap_or_default();
    assert!(message.contains("'c', 'd', 'e'"), "{message}");
}

#[test]
fn a_player_who_won_every_game_is_named() {
    let games = games(&[(0, 1, 3, 1, 2), (2, 0, 2, 0, 0), (2, 1, 4, 0, 0)]);
    match fit(3, &games, &Config::default()) {
        Err(Error::Unbounded { players, won }) => {
            assert_eq!(players.indices, vec![2]);
            assert!(won);
        }
        other => panic!("expected Unbounded, got {other:?}"),
    }
}

#[test]
fn a_player_who_lost_every_game_is_named() {
    let games = games(&[(0, 1, 3, 1, 2), (2, 0, 0, 0, 2), (1, 2, 4, 0, 0)]);
    match fit(3, &games, &Config::default()) {
        Err(Error::Unbounded { players, won }) => {
            assert_eq!(players.indices, vec![2]);
            assert!(!won);
        }
        other => panic!("expected Unbounded, got {other:?}"),
    }
}

#[test]
fn a_draw_keeps_a_rating_finite() -> TestResult {
    let fit = fit(2, &games(&[(0, 1, 5, 1, 0)]), &Config::default())?;
    assert!((fit.ratings[0] - fit.ratings[1] - 400.0 * 11f64.log10()).abs() < 1e-9);
    Ok(())
}

#[test]
fn no_games_is_an_error() {
    assert_eq!(fit(3, &[], &Config::default()).err(), Some(Error::NoGames));
}

#[test]
fn invalid_games_are_named_by_position() {
    let bad = [GameResult::win(0, 1), GameResult { first: 0, second: 1, score: 0.3 }];
    assert!(matches!(PairCounts::from_games(2, &bad), Err(Error::InvalidScore { game: 1, .. })));
    let bad = [GameResult::win(0, 5)];
    assert!(matches!(PairCounts::from_games(2, &bad), Err(Error::PlayerOutOfRange { game: 0, player: 5, .. })));
    let bad = [GameResult::draw(1, 1)];
    assert!(matches!(PairCounts::from_games(2, &bad), Err(Error::SelfPlay { game: 0, player: 1 })));
}

#[test]
fn davidson_two_players_is_closed_form() -> TestResult {
    // Davidson with W wins, D draws, L losses: θ0 − θ1 = ln(W / L), ν = D / √(W L).
    let config = Config { draw_model: DrawModel::Davidson, ..Config::default() };
    let fit = fit(2, &games(&[(0, 1, 6, 4, 2)]), &config)?;
    let difference = (fit.ratings[0] - fit.ratings[1]) / ELO_PER_LOGIT;
    assert!((difference - 3f64.ln()).abs() < 1e-9, "{difference}");
    let nu = fit.draw_parameter.ok_or("no draw parameter")?;
    assert!((nu - 4.0 / 12f64.sqrt()).abs() < 1e-9, "{nu}");
    // Its log-likelihood: 6 ln P(win) + 4 ln P(draw) + 2 ln P(loss).
    let (pw, pd, pl) = (6.0 / 12.0, 4.0 / 12.0, 2.0 / 12.0);
    let want = 6.0 * f64::ln(pw) + 4.0 * f64::ln(pd) + 2.0 * f64::ln(pl);
    assert!((fit.log_likelihood - want).abs() < 1e-9);
    Ok(())
}

#[test]
fn davidson_without_draws_is_plain_bradley_terry() -> TestResult {
    let games = games(&[(0, 1, 3, 0, 1), (1, 2, 2, 0, 2), (0, 2, 1, 0, 1)]);
    let davidson = fit(3, &games, &Config { draw_model: DrawModel::Davidson, ..Config::default() })?;
    let plain = fit(3, &games, &Config::default())?;
    assert_eq!(davidson.draw_parameter, Some(0.0));
    for p in 0..3 {
        assert!((davidson.ratings[p] - plain.ratings[p]).abs() < 1e-9);
    }
    Ok(())
}

#[test]
fn davidson_with_only_draws_is_an_error() {
    let config = Config { draw_model: DrawModel::Davidson, ..Config::default() };
    assert!(matches!(fit(2, &games(&[(0, 1, 0, 5, 0)]), &config), Err(Error::DrawParameter(_))));
}

#[test]
fn davidson_satisfies_its_likelihood_equations_on_many_players() -> TestResult {
    let players = 10;
    let games = random_games(players, 5000, 11);
    let counts = PairCounts::from_games(players, &games)?;
    let config = Config { draw_model: DrawModel::Davidson, ..Config::default() };
    let fit = bradley_terry::fit(&counts, &config)?;
    let nu = fit.draw_parameter.ok_or("no draw parameter")?;
    // At the MLE, each player's expected wins − losses equals the observed, and expected draws equal observed.
    let mut expected_draws = 0.0;
    for i in 0..players {
        let mut observed = 0.0;
        let mut expected = 0.0;
        for j in 0..players {
            let n = counts.games(i, j) as f64;
            if n == 0.0 {
                continue;
            }
            let x = (fit.ratings[i] - fit.ratings[j]) / ELO_PER_LOGIT / 2.0;
            let z = x.exp() + (-x).exp() + nu;
            observed += counts.wins(i, j) as f64 - counts.wins(j, i) as f64;
            expected += n * (x.exp() - (-x).exp()) / z;
            expected_draws += n * nu / z / 2.0;
        }
        assert!((observed - expected).abs() < 1e-6, "player {i}: {observed} vs {expected}");
    }
    assert!((expected_draws - counts.total_draws() as f64).abs() < 1e-6);
    Ok(())
}
