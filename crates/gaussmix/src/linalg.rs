//! Small dense linear algebra on row-major `D×D` slices: Cholesky factors and
//! triangular inverses. D is the number of features, usually small, so plain loops
//! are adequate here; the hot loops over data live in the covariance kernels.

/// In-place Cholesky factorisation `A = L Lᵀ` of a symmetric matrix stored row-major
/// in `a` (`d×d`). On success the lower triangle holds `L` and the strict upper
/// triangle is zeroed. Returns `Err(j)` with the failing pivot when `A` is not
/// (numerically) positive definite or holds non-finite values.
pub(crate) fn cholesky_lower(a: &mut [f64], d: usize) -> Result<(), usize> {
    debug_assert_eq!(a.len(), d * d);
    for j in 0..d {
        let mut s = a[j * d + j];
        for k in 0..j {
            s -= a[j * d + k] * a[j * d + k];
        }
        if !(s > 0.0 && s.is_finite()) {
            return Err(j);
        }
        let ljj = s.sqrt();
        a[j * d + j] = ljj;
        for i in (j + 1)..d {
            let mut s = a[i * d + j];
            for k in 0..j {
                s -= a[i * d + k] * a[j * d + k];
            }
            a[i * d + j] = s / ljj;
        }
        for i in 0..j {
            a[i * d + j] = 0.0;
        }
    }
    Ok(())
}

/// Inverse of a lower-triangular matrix (row-major), returned as a new lower-triangular
/// matrix.
pub(crate) fn invert_lower(l: &[f64], d: usize) -> Vec<f64> {
    let mut inv = vec![0.0; d * d];
    for j in 0..d {
        inv[j * d + j] = 1.0 / l[j * d + j];
        for i in (j + 1)..d {
            let mut s = 0.0;
            for k in j..i {
                s -= l[i * d + k] * inv[k * d + j];
            }
            inv[i * d + j] = s / l[i * d + i];
        }
    }
    inv
}

/// Upper-triangular precision factor `P` with `P Pᵀ = Σ⁻¹` from a covariance `Σ`
/// (scikit-learn's `precisions_cholesky_`): `Σ = L Lᵀ`, `P = L⁻ᵀ`.
pub(crate) fn precision_factor_from_covariance(cov: &[f64], d: usize) -> Result<Vec<f64>, usize> {
    let mut l = cov.to_vec();
    cholesky_lower(&mut l, d)?;
    let linv = invert_lower(&l, d);
    Ok(transpose(&linv, d))
}

/// Upper-triangular factor `P` with `P Pᵀ = Λ` of a precision matrix `Λ`, computed as
/// the Cholesky factor of the index-reversed matrix: `JΛJ = L Lᵀ` ⇒ `P = J L J`.
pub(crate) fn upper_factor_of_precision(prec: &[f64], d: usize) -> Result<Vec<f64>, usize> {
    let mut r = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..d {
            r[i * d + j] = prec[(d - 1 - i) * d + (d - 1 - j)];
        }
    }
    cholesky_lower(&mut r, d).map_err(|j| d - 1 - j)?;
    let mut p = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..d {
            p[i * d + j] = r[(d - 1 - i) * d + (d - 1 - j)];
        }
    }
    Ok(p)
}

/// `A Aᵀ` for a row-major square matrix.
pub(crate) fn a_at(a: &[f64], d: usize) -> Vec<f64> {
    let mut out = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..=i {
            let mut s = 0.0;
            for k in 0..d {
                s += a[i * d + k] * a[j * d + k];
            }
            out[i * d + j] = s;
            out[j * d + i] = s;
        }
    }
    out
}

/// Covariance `Σ = (P Pᵀ)⁻¹ = P⁻ᵀ P⁻¹` from an upper-triangular precision factor `P`.
pub(crate) fn covariance_from_upper_factor(p: &[f64], d: usize) -> Vec<f64> {
    // Pᵀ is lower triangular; its inverse M = P⁻ᵀ is lower; Σ = M Mᵀ.
    let pt = transpose(p, d);
    let m = invert_lower(&pt, d);
    a_at(&m, d)
}

/// Transpose of a row-major square matrix.
pub(crate) fn transpose(a: &[f64], d: usize) -> Vec<f64> {
    let mut t = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..d {
            t[j * d + i] = a[i * d + j];
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spd(d: usize) -> Vec<f64> {
        // B Bᵀ + d I for a fixed B.
        let b: Vec<f64> = (0..d * d)
            .map(|i| ((i * 7 + 3) % 11) as f64 / 5.0 - 1.0)
            .collect();
        let mut a = a_at(&b, d);
        for i in 0..d {
            a[i * d + i] += d as f64;
        }
        a
    }

    #[test]
    fn cholesky_reconstructs() {
        for d in 1..7 {
            let a = spd(d);
            let mut l = a.clone();
            cholesky_lower(&mut l, d).unwrap();
            let r = a_at(&l, d);
            for (x, y) in a.iter().zip(&r) {
                assert!((x - y).abs() < 1e-12 * x.abs().max(1.0));
            }
        }
    }

    #[test]
    fn cholesky_rejects_indefinite_and_nan() {
        let mut a = vec![1.0, 2.0, 2.0, 1.0];
        assert_eq!(cholesky_lower(&mut a, 2), Err(1));
        let mut a = vec![f64::NAN, 0.0, 0.0, 1.0];
        assert_eq!(cholesky_lower(&mut a, 2), Err(0));
    }

    #[test]
    fn precision_factors_agree() {
        for d in 1..6 {
            let cov = spd(d);
            let p = precision_factor_from_covariance(&cov, d).unwrap();
            // upper triangular
            for i in 0..d {
                for j in 0..i {
                    assert_eq!(p[i * d + j], 0.0);
                }
            }
            // P Pᵀ Σ = I
            let prec = a_at(&p, d);
            for i in 0..d {
                for j in 0..d {
                    let s: f64 = (0..d).map(|k| prec[i * d + k] * cov[k * d + j]).sum();
                    let want = if i == j { 1.0 } else { 0.0 };
                    assert!((s - want).abs() < 1e-10, "{s} vs {want}");
                }
            }
            let p2 = upper_factor_of_precision(&prec, d).unwrap();
            for (x, y) in p.iter().zip(&p2) {
                assert!((x - y).abs() < 1e-10);
            }
            let back = covariance_from_upper_factor(&p, d);
            for (x, y) in cov.iter().zip(&back) {
                assert!((x - y).abs() < 1e-9 * x.abs().max(1.0));
            }
        }
    }
}
