//! Spherical covariance: each component has one variance shared by all features.

use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2, Axis};

use super::common::ill_defined;
use crate::error::Result;

/// `1/√σ²` per component.
pub(crate) fn precision_cholesky(cov: &Array1<f64>, reg_covar: f64) -> Result<Array1<f64>> {
    if let Some(c) = cov.iter().position(|&v| !(v > 0.0 && v.is_finite())) {
        return Err(ill_defined(
            c,
            reg_covar,
            "its variance is not positive and finite",
        ));
    }
    Ok(cov.mapv(|v| 1.0 / v.sqrt()))
}

/// `√λ` per component; `Err(k)` when a precision is not positive.
pub(crate) fn factor_from_precisions(
    prec: &Array1<f64>,
) -> std::result::Result<Array1<f64>, usize> {
    if let Some(c) = prec.iter().position(|&v| !(v > 0.0 && v.is_finite())) {
        return Err(c);
    }
    Ok(prec.mapv(f64::sqrt))
}

#[cfg_attr(not(test), allow(dead_code))] // reference kernel, checked against the fast one in tests
/// Reference kernel: `out[n, k] = p_k² ‖x_n − μ_k‖²`.
pub(crate) fn mahalanobis(
    x: ArrayView2<f64>,
    means: ArrayView2<f64>,
    p: &Array1<f64>,
    mut out: ArrayViewMut2<f64>,
) {
    for (c, mu) in means.rows().into_iter().enumerate() {
        let p2 = p[c] * p[c];
        for (n, row) in x.rows().into_iter().enumerate() {
            let q: f64 = row
                .iter()
                .zip(mu.iter())
                .map(|(a, b)| (a - b) * (a - b))
                .sum();
            out[[n, c]] = q * p2;
        }
    }
}

/// M-step: the mean of the per-feature variances (scikit-learn's definition) plus reg.
pub(crate) fn estimate(
    s2: &Array2<f64>,
    s1: &Array2<f64>,
    nk: &Array1<f64>,
    nk_eff: &Array1<f64>,
    reg_covar: f64,
) -> Array1<f64> {
    super::diag::centred_variances(s2, s1, nk, nk_eff)
        .mean_axis(Axis(1))
        .expect("d > 0")
        .mapv(|v| v + reg_covar)
}
