//! Dense symmetric positive definite solves (Cholesky) for the Newton fits and their covariances.

/// The lower Cholesky factor `L` (row-major `m × m`) of a symmetric positive definite `a`,
/// or `None` when `a` is not positive definite.
pub(crate) fn cholesky(a: &[f64], m: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; m * m];
    for i in 0..m {
        for j in 0..=i {
            let mut sum = a[i * m + j];
            let (ri, rj) = (&l[i * m..i * m + j], &l[j * m..j * m + j]);
            for k in 0..j {
                sum -= ri[k] * rj[k];
            }
            if i == j {
                if sum <= 0.0 || !sum.is_finite() {
                    return None;
                }
                l[i * m + i] = sum.sqrt();
            } else {
                l[i * m + j] = sum / l[j * m + j];
            }
        }
    }
    Some(l)
}

/// Solves `L Lᵀ x = b` in place, given the Cholesky factor `L`.
pub(crate) fn cholesky_solve(l: &[f64], m: usize, b: &mut [f64]) {
    for i in 0..m {
        let mut sum = b[i];
        for k in 0..i {
            sum -= l[i * m + k] * b[k];
        }
        b[i] = sum / l[i * m + i];
    }
    for i in (0..m).rev() {
        let mut sum = b[i];
        for k in i + 1..m {
            sum -= l[k * m + i] * b[k];
        }
        b[i] = sum / l[i * m + i];
    }
}

/// The inverse of `a` (symmetric positive definite, row-major `m × m`), or `None`.
pub(crate) fn spd_inverse(a: &[f64], m: usize) -> Option<Vec<f64>> {
    let l = cholesky(a, m)?;
    let mut inverse = vec![0.0; m * m];
    let mut column = vec![0.0; m];
    for j in 0..m {
        column.iter_mut().for_each(|x| *x = 0.0);
        column[j] = 1.0;
        cholesky_solve(&l, m, &mut column);
        for i in 0..m {
            inverse[i * m + j] = column[i];
        }
    }
    Some(inverse)
}
