//! Diagonal covariance: each component has its own vector of per-feature variances.

use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2};

use super::common::ill_defined;
use crate::error::Result;

/// `1/√σ²` per component and feature.
pub(crate) fn precision_cholesky(cov: &Array2<f64>, reg_covar: f64) -> Result<Array2<f64>> {
    for (c, row) in cov.rows().into_iter().enumerate() {
        if row.iter().any(|&v| !(v > 0.0 && v.is_finite())) {
            return Err(ill_defined(
                c,
                reg_covar,
                "a diagonal variance is not positive and finite",
            ));
        }
    }
    Ok(cov.mapv(|v| 1.0 / v.sqrt()))
}

/// `√λ` per component and feature; `Err(k)` when a precision is not positive.
pub(crate) fn factor_from_precisions(
    prec: &Array2<f64>,
) -> std::result::Result<Array2<f64>, usize> {
    for (c, row) in prec.rows().into_iter().enumerate() {
        if row.iter().any(|&v| !(v > 0.0 && v.is_finite())) {
            return Err(c);
        }
    }
    Ok(prec.mapv(f64::sqrt))
}

#[cfg_attr(not(test), allow(dead_code))] // reference kernel, checked against the fast one in tests
/// Reference kernel: `out[n, k] = Σ_i ((x_ni − μ_ki) p_ki)²`.
pub(crate) fn mahalanobis(
    x: ArrayView2<f64>,
    means: ArrayView2<f64>,
    p: &Array2<f64>,
    mut out: ArrayViewMut2<f64>,
) {
    for (c, (mu, pc)) in means.rows().into_iter().zip(p.rows()).enumerate() {
        for (n, row) in x.rows().into_iter().enumerate() {
            let mut q = 0.0;
            for i in 0..row.len() {
                let y = (row[i] - mu[i]) * pc[i];
                q += y * y;
            }
            out[[n, c]] = q;
        }
    }
}

#[cfg_attr(not(test), allow(dead_code))] // reference kernel, checked against the fast one in tests
/// Reference kernel: `s2[k, i] += Σ_n g_nk (x_ni − s_ki)²`.
pub(crate) fn accumulate(
    x: ArrayView2<f64>,
    g: ArrayView2<f64>,
    shift: ArrayView2<f64>,
    s2: &mut Array2<f64>,
) {
    let (k, d) = s2.dim();
    for c in 0..k {
        let s = shift.row(c);
        for (n, row) in x.rows().into_iter().enumerate() {
            let gn = g[[n, c]];
            if gn == 0.0 {
                continue;
            }
            for i in 0..d {
                let t = row[i] - s[i];
                s2[[c, i]] += gn * t * t;
            }
        }
    }
}

/// Per-feature variance about the new mean for each component (without regularisation).
pub(crate) fn centred_variances(
    s2: &Array2<f64>,
    s1: &Array2<f64>,
    nk: &Array1<f64>,
    nk_eff: &Array1<f64>,
) -> Array2<f64> {
    let (k, d) = s2.dim();
    Array2::from_shape_fn((k, d), |(c, i)| {
        let m = s1[[c, i]] / nk_eff[c];
        (s2[[c, i]] - 2.0 * s1[[c, i]] * m + nk[c] * m * m) / nk_eff[c]
    })
}

/// M-step: per-feature variances plus reg.
pub(crate) fn estimate(
    s2: &Array2<f64>,
    s1: &Array2<f64>,
    nk: &Array1<f64>,
    nk_eff: &Array1<f64>,
    reg_covar: f64,
) -> Array2<f64> {
    centred_variances(s2, s1, nk, nk_eff).mapv(|v| v + reg_covar)
}
