//! Full covariance: each component has its own `D×D` covariance matrix.

use ndarray::{Array1, Array2, Array3, ArrayView2, ArrayViewMut2, Axis};

use super::common::{centred_scatter, ill_defined};
use crate::error::Result;
use crate::linalg;

/// Upper-triangular precision factors of K covariance matrices.
pub(crate) fn precision_cholesky(cov: &Array3<f64>, reg_covar: f64) -> Result<Array3<f64>> {
    let (k, d, _) = cov.dim();
    let mut out = Array3::zeros((k, d, d));
    for c in 0..k {
        let m = cov.index_axis(Axis(0), c);
        let m = m.as_standard_layout();
        let p = linalg::precision_factor_from_covariance(m.as_slice().expect("standard"), d)
            .map_err(|_| {
                ill_defined(
                    c,
                    reg_covar,
                    "its covariance matrix is not positive definite",
                )
            })?;
        out.index_axis_mut(Axis(0), c)
            .as_slice_mut()
            .expect("standard")
            .copy_from_slice(&p);
    }
    Ok(out)
}

/// Upper-triangular factors of K precision matrices; `Err(k)` names the failing one.
pub(crate) fn factor_from_precisions(
    prec: &Array3<f64>,
) -> std::result::Result<Array3<f64>, usize> {
    let (k, d, _) = prec.dim();
    let mut out = Array3::zeros((k, d, d));
    for c in 0..k {
        let m = prec.index_axis(Axis(0), c);
        let m = m.as_standard_layout();
        let p =
            linalg::upper_factor_of_precision(m.as_slice().expect("standard"), d).map_err(|_| c)?;
        out.index_axis_mut(Axis(0), c)
            .as_slice_mut()
            .expect("standard")
            .copy_from_slice(&p);
    }
    Ok(out)
}

fn map_matrices(a: &Array3<f64>, f: impl Fn(&[f64], usize) -> Vec<f64>) -> Array3<f64> {
    let (k, d, _) = a.dim();
    let mut out = Array3::zeros((k, d, d));
    for c in 0..k {
        let m = a.index_axis(Axis(0), c);
        let m = m.as_standard_layout();
        let r = f(m.as_slice().expect("standard"), d);
        out.index_axis_mut(Axis(0), c)
            .as_slice_mut()
            .expect("standard")
            .copy_from_slice(&r);
    }
    out
}

/// Covariances `(P Pᵀ)⁻¹` from factors.
pub(crate) fn covariances_from_factor(p: &Array3<f64>) -> Array3<f64> {
    map_matrices(p, linalg::covariance_from_upper_factor)
}

/// Precisions `P Pᵀ` from factors.
pub(crate) fn precisions_from_factor(p: &Array3<f64>) -> Array3<f64> {
    map_matrices(p, linalg::a_at)
}

#[cfg_attr(not(test), allow(dead_code))] // reference kernel, checked against the fast one in tests
/// Reference kernel: `out[n, k] = ‖(x_n − μ_k) P_k‖²`.
pub(crate) fn mahalanobis(
    x: ArrayView2<f64>,
    means: ArrayView2<f64>,
    p: &Array3<f64>,
    mut out: ArrayViewMut2<f64>,
) {
    let (k, d, _) = p.dim();
    let mut diff = vec![0.0; d];
    for c in 0..k {
        // Pᵀ row-major = columns of P contiguous: y_j = Σ_{i≤j} diff_i P_ij.
        let pt = linalg::transpose(
            p.index_axis(Axis(0), c)
                .as_standard_layout()
                .as_slice()
                .expect("standard"),
            d,
        );
        let mu = means.row(c);
        for (n, row) in x.rows().into_iter().enumerate() {
            for i in 0..d {
                diff[i] = row[i] - mu[i];
            }
            out[[n, c]] = quad_upper(&diff, &pt, d);
        }
    }
}

/// `‖diff · P‖²` for upper-triangular `P` given as `Pᵀ` row-major.
#[inline]
#[cfg_attr(not(test), allow(dead_code))] // reference kernel, checked against the fast one in tests
pub(crate) fn quad_upper(diff: &[f64], pt: &[f64], d: usize) -> f64 {
    let mut q = 0.0;
    for j in 0..d {
        let col = &pt[j * d..j * d + j + 1];
        let y: f64 = col.iter().zip(&diff[..=j]).map(|(a, b)| a * b).sum();
        q += y * y;
    }
    q
}

#[cfg_attr(not(test), allow(dead_code))] // reference kernel, checked against the fast one in tests
/// Reference kernel: `s2[k] += Σ_n g_nk (x_n − s_k)(x_n − s_k)ᵀ` (lower triangle).
pub(crate) fn accumulate(
    x: ArrayView2<f64>,
    g: ArrayView2<f64>,
    shift: ArrayView2<f64>,
    s2: &mut Array3<f64>,
) {
    let (k, d, _) = s2.dim();
    let mut diff = vec![0.0; d];
    for c in 0..k {
        let mut m = s2.index_axis_mut(Axis(0), c);
        let m = m.as_slice_mut().expect("standard");
        let s = shift.row(c);
        for (n, row) in x.rows().into_iter().enumerate() {
            let gn = g[[n, c]];
            if gn == 0.0 {
                continue;
            }
            for i in 0..d {
                diff[i] = row[i] - s[i];
            }
            for i in 0..d {
                let gi = gn * diff[i];
                let r = &mut m[i * d..i * d + i + 1];
                for (v, dj) in r.iter_mut().zip(&diff[..=i]) {
                    *v += gi * dj;
                }
            }
        }
    }
}

/// M-step: `Σ_k = scatter about μ_k / nk_eff + reg·I`.
pub(crate) fn estimate(
    s2: &Array3<f64>,
    s1: &Array2<f64>,
    nk: &Array1<f64>,
    nk_eff: &Array1<f64>,
    reg_covar: f64,
) -> Array3<f64> {
    let (k, d, _) = s2.dim();
    let mut out = Array3::zeros((k, d, d));
    for c in 0..k {
        let src = s2.index_axis(Axis(0), c);
        let mut dst = out.index_axis_mut(Axis(0), c);
        let dst = dst.as_slice_mut().expect("standard");
        let s1c = s1.row(c).to_vec();
        centred_scatter(
            src.as_slice().expect("standard"),
            &s1c,
            nk[c],
            nk_eff[c],
            d,
            dst,
        );
        for v in dst.iter_mut() {
            *v /= nk_eff[c];
        }
        for i in 0..d {
            dst[i * d + i] += reg_covar;
        }
    }
    out
}
