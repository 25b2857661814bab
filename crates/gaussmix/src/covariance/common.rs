//! Helpers shared by the covariance types' estimators (a leaf module, so that
//! [`super::diag`], [`super::full`], [`super::spherical`] and [`super::tied`] need
//! nothing from their parent).

use crate::error::GmmError;

/// `Σ_n g (x_n − s)(x_n − s)ᵀ` − correction for the mean offset `m = s1/nk_eff`:
/// the scatter about the new mean `s + m`, for a full `d×d` block (lower triangle of `s2`
/// read, full symmetric result written to `out`).
pub(crate) fn centred_scatter(
    s2: &[f64],
    s1: &[f64],
    nk: f64,
    nk_eff: f64,
    d: usize,
    out: &mut [f64],
) {
    for i in 0..d {
        let mi = s1[i] / nk_eff;
        for j in 0..=i {
            let mj = s1[j] / nk_eff;
            let v = s2[i * d + j] - s1[i] * mj - mi * s1[j] + nk * mi * mj;
            out[i * d + j] = v;
            out[j * d + i] = v;
        }
    }
}

/// Error for a non-finite or non-positive-definite covariance.
pub(crate) fn ill_defined(component: usize, reg_covar: f64, reason: &str) -> GmmError {
    GmmError::IllDefinedCovariance {
        component,
        reg_covar,
        reason: reason.to_string(),
    }
}
