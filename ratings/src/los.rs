//! Likelihood of superiority: the probability that one player is stronger than another, from the
//! normal approximation of the rating difference, `LOS(i, j) = Φ((ri - rj) / SE(ri - rj))`.

use crate::fisher::Covariance;
use crate::normal;

/// `P(player i is stronger than player j)` for a rating difference with this standard error
/// (a zero standard error gives 1, 0 or 0.5 by the sign of the difference).
pub fn likelihood_of_superiority(difference: f64, standard_error: f64) -> f64 {
    if standard_error > 0.0 {
        normal::cdf(difference / standard_error)
    } else if difference > 0.0 {
        1.0
    } else if difference < 0.0 {
        0.0
    } else {
        0.5
    }
}

/// The LOS matrix, row-major `n × n`: entry `(i, j)` is `P(i stronger than j)`; the diagonal is 0.5.
pub fn matrix(ratings: &[f64], covariance: &Covariance) -> Vec<f64> {
    let n = ratings.len();
    let mut los = vec![0.5; n * n];
    for i in 0..n {
        for j in 0..n {
            if i != j {
                los[i * n + j] =
                    likelihood_of_superiority(ratings[i] - ratings[j], covariance.difference_standard_error(i, j));
            }
        }
    }
    los
}
