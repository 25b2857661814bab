//! Tied covariance: all components share one `D×D` covariance matrix.

use ndarray::{Array1, Array2, Array3, ArrayView2, ArrayViewMut2, Axis};

use super::common::{centred_scatter, ill_defined};
use crate::error::Result;
use crate::linalg;

fn square(a: &Array2<f64>) -> (Vec<f64>, usize) {
    let d = a.nrows();
    (
        a.as_standard_layout()
            .as_slice()
            .expect("standard")
            .to_vec(),
        d,
    )
}

fn from_vec(v: Vec<f64>, d: usize) -> Array2<f64> {
    Array2::from_shape_vec((d, d), v).expect("d×d")
}

/// Upper-triangular precision factor of the shared covariance.
pub(crate) fn precision_cholesky(cov: &Array2<f64>, reg_covar: f64) -> Result<Array2<f64>> {
    let (m, d) = square(cov);
    linalg::precision_factor_from_covariance(&m, d)
        .map(|p| from_vec(p, d))
        .map_err(|_| {
            ill_defined(
                0,
                reg_covar,
                "the shared (tied) covariance matrix is not positive definite",
            )
        })
}

/// Upper-triangular factor of the shared precision; `Err(0)` when not positive definite.
pub(crate) fn factor_from_precision(prec: &Array2<f64>) -> std::result::Result<Array2<f64>, usize> {
    let (m, d) = square(prec);
    linalg::upper_factor_of_precision(&m, d)
        .map(|p| from_vec(p, d))
        .map_err(|_| 0)
}

/// Covariance `(P Pᵀ)⁻¹` from the factor.
pub(crate) fn covariance_from_factor(p: &Array2<f64>) -> Array2<f64> {
    let (m, d) = square(p);
    from_vec(linalg::covariance_from_upper_factor(&m, d), d)
}

/// Precision `P Pᵀ` from the factor.
pub(crate) fn precision_from_factor(p: &Array2<f64>) -> Array2<f64> {
    let (m, d) = square(p);
    from_vec(linalg::a_at(&m, d), d)
}

#[cfg_attr(not(test), allow(dead_code))] // reference kernel, checked against the fast one in tests
/// Reference kernel: `out[n, k] = ‖(x_n − μ_k) P‖²`.
pub(crate) fn mahalanobis(
    x: ArrayView2<f64>,
    means: ArrayView2<f64>,
    p: &Array2<f64>,
    out: ArrayViewMut2<f64>,
) {
    let k = means.nrows();
    let p3 = p
        .broadcast((k, p.nrows(), p.ncols()))
        .expect("broadcast")
        .to_owned();
    super::full::mahalanobis(x, means, &p3, out);
}

#[cfg_attr(not(test), allow(dead_code))] // reference kernel, checked against the fast one in tests
/// Reference kernel: `s2 += Σ_k Σ_n g_nk (x_n − s_k)(x_n − s_k)ᵀ` (lower triangle).
pub(crate) fn accumulate(
    x: ArrayView2<f64>,
    g: ArrayView2<f64>,
    shift: ArrayView2<f64>,
    s2: &mut Array2<f64>,
) {
    let d = s2.nrows();
    let k = shift.nrows();
    let mut tmp = Array3::zeros((k, d, d));
    super::full::accumulate(x, g, shift, &mut tmp);
    *s2 += &tmp.sum_axis(Axis(0));
}

/// M-step: the pooled scatter about each component's new mean, over `Σ nk_eff`, plus reg·I.
pub(crate) fn estimate(
    s2: &Array2<f64>,
    s1: &Array2<f64>,
    nk: &Array1<f64>,
    nk_eff: &Array1<f64>,
    reg_covar: f64,
) -> Array2<f64> {
    let d = s2.nrows();
    let k = s1.nrows();
    // s2 already holds Σ_k Σ_n g (x−s_k)(x−s_k)ᵀ; subtract each component's mean correction
    // by running centred_scatter with a zero scatter and adding.
    let mut total = s2
        .as_standard_layout()
        .as_slice()
        .expect("standard")
        .to_vec();
    // symmetrise from the lower triangle
    for i in 0..d {
        for j in 0..i {
            total[j * d + i] = total[i * d + j];
        }
    }
    let zero = vec![0.0; d * d];
    let mut corr = vec![0.0; d * d];
    for c in 0..k {
        let s1c = s1.row(c).to_vec();
        centred_scatter(&zero, &s1c, nk[c], nk_eff[c], d, &mut corr);
        for (t, v) in total.iter_mut().zip(&corr) {
            *t += v;
        }
    }
    let denom: f64 = nk_eff.sum();
    for v in total.iter_mut() {
        *v /= denom;
    }
    for i in 0..d {
        total[i * d + i] += reg_covar;
    }
    from_vec(total, d)
}
