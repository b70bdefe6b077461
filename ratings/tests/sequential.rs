//! Incremental Elo, Glicko-2, TrueSkill and Weng-Lin, applied in game order through skillratings.

use ratings::sequential::{elo, glicko2, trueskill, weng_lin};
use ratings::{Error, GameResult};

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[test]
fn elo_win_between_equals_moves_k_over_2() -> TestResult {
    let ratings = elo::ratings(2, &[GameResult::win(0, 1)], &elo::Config::default())?;
    assert_eq!((ratings[0].rating, ratings[1].rating), (1016.0, 984.0));
    assert_eq!(ratings[0].uncertainty, None);
    Ok(())
}

#[test]
fn elo_applies_games_in_order() -> TestResult {
    // Win then loss from 1000/1000: +16, then the stronger player loses 32·(1 − E(32)).
    let games = [GameResult::win(0, 1), GameResult::win(1, 0)];
    let ratings = elo::ratings(2, &games, &elo::Config::default())?;
    let expected = ratings::logistic::expected_score(32.0);
    assert!((ratings[0].rating - (1016.0 - 32.0 * expected)).abs() < 1e-9);
    let reversed = elo::ratings(2, &[games[1], games[0]], &elo::Config::default())?;
    assert!((reversed[1].rating - (1016.0 - 32.0 * expected)).abs() < 1e-9, "order matters");
    Ok(())
}

#[test]
fn glicko2_first_win_between_new_players_matches_glickman() -> TestResult {
    let ratings = glicko2::ratings(2, &[GameResult::win(0, 1)], &glicko2::Config::default())?;
    assert_eq!(ratings[0].rating.round(), 1662.0);
    assert_eq!(ratings[0].uncertainty.map(f64::round), Some(290.0));
    assert_eq!(ratings[1].rating.round(), 1338.0);
    Ok(())
}

#[test]
fn trueskill_first_win_between_new_players_matches_microsoft() -> TestResult {
    // The classic 1-vs-1 result: 29.396 ± 7.171 and 20.604 ± 7.171.
    let ratings = trueskill::ratings(2, &[GameResult::win(0, 1)], &trueskill::Config::default())?;
    assert!((ratings[0].rating - 29.396).abs() < 1e-3, "{}", ratings[0].rating);
    assert!((ratings[1].rating - 20.604).abs() < 1e-3);
    for r in &ratings {
        assert!((r.uncertainty.unwrap_or_default() - 7.171).abs() < 1e-3);
    }
    Ok(())
}

#[test]
fn weng_lin_winner_rises_and_uncertainty_shrinks() -> TestResult {
    let ratings = weng_lin::ratings(3, &[GameResult::win(0, 1), GameResult::draw(1, 2)], &weng_lin::Config::default())?;
    assert!(ratings[0].rating > 25.0 && ratings[1].rating < 25.0);
    assert!(ratings[0].uncertainty.unwrap_or(f64::INFINITY) < 25.0 / 3.0);
    Ok(())
}

#[test]
fn players_without_games_keep_the_starting_rating() -> TestResult {
    let ratings = elo::ratings(3, &[GameResult::draw(0, 1)], &elo::Config::default())?;
    assert_eq!(ratings[2].rating, 1000.0);
    Ok(())
}

#[test]
fn invalid_games_are_errors_naming_the_game() {
    let games = [GameResult::win(0, 1), GameResult { first: 0, second: 1, score: 2.0 }];
    assert!(matches!(elo::ratings(2, &games, &elo::Config::default()), Err(Error::InvalidScore { game: 1, .. })));
    assert!(matches!(
        glicko2::ratings(2, &[GameResult::win(0, 2)], &glicko2::Config::default()),
        Err(Error::PlayerOutOfRange { game: 0, player: 2, players: 2 })
    ));
}
