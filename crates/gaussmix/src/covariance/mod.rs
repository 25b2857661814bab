//! Covariance types: storage, estimation from sufficient statistics, precision
//! Cholesky factors, log-determinants and the per-row quadratic forms.
//!
//! Each type lives in its own module and mirrors the maths of DESIGN.md §1–2:
//!
//! | type | stored | parameters per component |
//! |---|---|---|
//! | [`full`] | K×D×D | D(D+1)/2 |
//! | [`tied`] | D×D shared | D(D+1)/2 once |
//! | [`diag`] | K×D | D |
//! | [`spherical`] | K | 1 |
//!
//! The precision factor `P_k` is upper triangular with `P_k P_kᵀ = Σ_k⁻¹` (scikit-learn's
//! `precisions_cholesky_`), so that `ln N(x|μ_k,Σ_k) = −½(D ln 2π + ‖(x−μ_k)P_k‖²) + Σ_i ln (P_k)_ii`.

pub mod diag;
pub(crate) mod family;
pub mod full;
pub mod spherical;
pub mod tied;

use std::fmt;
use std::str::FromStr;

use ndarray::{Array1, Array2, Array3, ArrayView2, ArrayViewMut2};
use serde::{Deserialize, Serialize};

use crate::error::{GmmError, Result};

/// The four covariance structures of scikit-learn's `GaussianMixture`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum CovarianceType {
    /// Each component has its own general covariance matrix.
    #[default]
    Full,
    /// All components share one general covariance matrix.
    Tied,
    /// Each component has its own diagonal covariance matrix.
    Diag,
    /// Each component has its own single variance.
    Spherical,
}

impl CovarianceType {
    /// All four types, in scikit-learn's order.
    pub const ALL: [CovarianceType; 4] = [
        CovarianceType::Full,
        CovarianceType::Tied,
        CovarianceType::Diag,
        CovarianceType::Spherical,
    ];

    /// The lowercase name used by scikit-learn and in model files.
    pub fn name(self) -> &'static str {
        match self {
            CovarianceType::Full => "full",
            CovarianceType::Tied => "tied",
            CovarianceType::Diag => "diag",
            CovarianceType::Spherical => "spherical",
        }
    }

    /// Number of free covariance parameters for `k` components in `d` dimensions.
    pub fn n_covariance_parameters(self, k: usize, d: usize) -> usize {
        match self {
            CovarianceType::Full => k * d * (d + 1) / 2,
            CovarianceType::Tied => d * (d + 1) / 2,
            CovarianceType::Diag => k * d,
            CovarianceType::Spherical => k,
        }
    }
}

impl fmt::Display for CovarianceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for CovarianceType {
    type Err = GmmError;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "full" => Ok(CovarianceType::Full),
            "tied" => Ok(CovarianceType::Tied),
            "diag" | "diagonal" => Ok(CovarianceType::Diag),
            "spherical" => Ok(CovarianceType::Spherical),
            _ => Err(GmmError::InvalidParam {
                name: "covariance_type",
                value: s.to_string(),
                reason: "must be one of full, tied, diag, spherical".into(),
            }),
        }
    }
}

/// A set of per-component matrices in the shape of a covariance type: used for
/// covariances, precisions and precision Cholesky factors alike.
#[derive(Debug, Clone, PartialEq)]
pub enum Covariances {
    /// K×D×D.
    Full(Array3<f64>),
    /// D×D, shared by all components.
    Tied(Array2<f64>),
    /// K×D diagonals.
    Diag(Array2<f64>),
    /// K single variances.
    Spherical(Array1<f64>),
}

impl Covariances {
    /// The covariance type of this shape.
    pub fn covariance_type(&self) -> CovarianceType {
        match self {
            Covariances::Full(_) => CovarianceType::Full,
            Covariances::Tied(_) => CovarianceType::Tied,
            Covariances::Diag(_) => CovarianceType::Diag,
            Covariances::Spherical(_) => CovarianceType::Spherical,
        }
    }

    /// The array's shape, as a vector.
    pub fn shape(&self) -> Vec<usize> {
        match self {
            Covariances::Full(a) => a.shape().to_vec(),
            Covariances::Tied(a) | Covariances::Diag(a) => a.shape().to_vec(),
            Covariances::Spherical(a) => a.shape().to_vec(),
        }
    }

    /// Checks the shape against `k` components and `d` features.
    ///
    /// # Errors
    /// [`GmmError::ShapeMismatch`] naming `what`.
    pub fn check_shape(&self, what: &str, k: usize, d: usize) -> Result<()> {
        let expected: Vec<usize> = match self {
            Covariances::Full(_) => vec![k, d, d],
            Covariances::Tied(_) => vec![d, d],
            Covariances::Diag(_) => vec![k, d],
            Covariances::Spherical(_) => vec![k],
        };
        let got = self.shape();
        if got != expected {
            return Err(GmmError::ShapeMismatch {
                what: what.to_string(),
                expected: format!("{expected:?}"),
                got: format!("{got:?}"),
            });
        }
        Ok(())
    }

    /// Iterates over every stored value.
    pub(crate) fn values(&self) -> Box<dyn Iterator<Item = f64> + '_> {
        match self {
            Covariances::Full(a) => Box::new(a.iter().copied()),
            Covariances::Tied(a) | Covariances::Diag(a) => Box::new(a.iter().copied()),
            Covariances::Spherical(a) => Box::new(a.iter().copied()),
        }
    }

    /// Precision Cholesky factors of these covariances.
    ///
    /// # Errors
    /// [`GmmError::IllDefinedCovariance`] naming the component whose covariance is not
    /// positive definite.
    pub fn precision_cholesky(&self, reg_covar: f64) -> Result<Covariances> {
        match self {
            Covariances::Full(c) => full::precision_cholesky(c, reg_covar).map(Covariances::Full),
            Covariances::Tied(c) => tied::precision_cholesky(c, reg_covar).map(Covariances::Tied),
            Covariances::Diag(c) => diag::precision_cholesky(c, reg_covar).map(Covariances::Diag),
            Covariances::Spherical(c) => {
                spherical::precision_cholesky(c, reg_covar).map(Covariances::Spherical)
            }
        }
    }

    /// Precision Cholesky factors from precision matrices (the user-given
    /// `precisions_init`).
    ///
    /// # Errors
    /// [`GmmError::InvalidParam`] when a precision is not positive definite.
    pub fn factor_from_precisions(&self) -> Result<Covariances> {
        let bad = |component: usize| GmmError::InvalidParam {
            name: "precisions_init",
            value: format!("component {component}"),
            reason: "must be symmetric positive definite".into(),
        };
        match self {
            Covariances::Full(p) => full::factor_from_precisions(p)
                .map(Covariances::Full)
                .map_err(bad),
            Covariances::Tied(p) => tied::factor_from_precision(p)
                .map(Covariances::Tied)
                .map_err(bad),
            Covariances::Diag(p) => diag::factor_from_precisions(p)
                .map(Covariances::Diag)
                .map_err(bad),
            Covariances::Spherical(p) => spherical::factor_from_precisions(p)
                .map(Covariances::Spherical)
                .map_err(bad),
        }
    }

    /// Covariances from precision Cholesky factors (inverse of
    /// [`Covariances::precision_cholesky`] without regularisation).
    pub fn covariances_from_factor(&self) -> Covariances {
        match self {
            Covariances::Full(p) => Covariances::Full(full::covariances_from_factor(p)),
            Covariances::Tied(p) => Covariances::Tied(tied::covariance_from_factor(p)),
            Covariances::Diag(p) => Covariances::Diag(p.mapv(|v| 1.0 / (v * v))),
            Covariances::Spherical(p) => Covariances::Spherical(p.mapv(|v| 1.0 / (v * v))),
        }
    }

    /// Precisions `P Pᵀ` from precision Cholesky factors.
    pub fn precisions_from_factor(&self) -> Covariances {
        match self {
            Covariances::Full(p) => Covariances::Full(full::precisions_from_factor(p)),
            Covariances::Tied(p) => Covariances::Tied(tied::precision_from_factor(p)),
            Covariances::Diag(p) => Covariances::Diag(p.mapv(|v| v * v)),
            Covariances::Spherical(p) => Covariances::Spherical(p.mapv(|v| v * v)),
        }
    }

    /// `Σ_i ln (P_k)_ii` for each of the `k` components, from precision factors.
    pub(crate) fn log_det_factor(&self, k: usize, d: usize) -> Array1<f64> {
        match self {
            Covariances::Full(p) => {
                Array1::from_shape_fn(k, |c| (0..d).map(|i| p[[c, i, i]].ln()).sum())
            }
            Covariances::Tied(p) => {
                let v: f64 = (0..d).map(|i| p[[i, i]].ln()).sum();
                Array1::from_elem(k, v)
            }
            Covariances::Diag(p) => {
                p.map_axis(ndarray::Axis(1), |r| r.iter().map(|v| v.ln()).sum())
            }
            Covariances::Spherical(p) => p.mapv(|v| d as f64 * v.ln()),
        }
    }

    #[cfg_attr(not(test), allow(dead_code))] // reference kernel, checked against the fast one in tests
    /// Reference kernel: `out[n, k] = ‖(x_n − μ_k) P_k‖²` for the rows of `x`.
    pub(crate) fn mahalanobis(
        &self,
        x: ArrayView2<f64>,
        means: ArrayView2<f64>,
        out: ArrayViewMut2<f64>,
    ) {
        match self {
            Covariances::Full(p) => full::mahalanobis(x, means, p, out),
            Covariances::Tied(p) => tied::mahalanobis(x, means, p, out),
            Covariances::Diag(p) => diag::mahalanobis(x, means, p, out),
            Covariances::Spherical(p) => spherical::mahalanobis(x, means, p, out),
        }
    }
}

/// Second-moment sufficient statistics about a per-component shift `s_k`:
/// `Σ_n g_nk (x_n − s_k)(x_n − s_k)ᵀ`, reduced to what each covariance type needs.
#[derive(Debug, Clone, PartialEq)]
pub enum SecondMoments {
    /// K×D×D, one scatter matrix per component (lower triangle filled; symmetric on finalize).
    Full(Array3<f64>),
    /// D×D, the scatter summed over components.
    Tied(Array2<f64>),
    /// K×D, the diagonal of each component's scatter (diag and spherical).
    Diag(Array2<f64>),
}

impl SecondMoments {
    /// Zeroed statistics for a covariance type.
    pub(crate) fn zeros(ct: CovarianceType, k: usize, d: usize) -> SecondMoments {
        match ct {
            CovarianceType::Full => SecondMoments::Full(Array3::zeros((k, d, d))),
            CovarianceType::Tied => SecondMoments::Tied(Array2::zeros((d, d))),
            CovarianceType::Diag | CovarianceType::Spherical => {
                SecondMoments::Diag(Array2::zeros((k, d)))
            }
        }
    }

    /// Flat view of all values (for merging and serialisation).
    pub(crate) fn as_slice(&self) -> &[f64] {
        match self {
            SecondMoments::Full(a) => a.as_slice().expect("standard layout"),
            SecondMoments::Tied(a) | SecondMoments::Diag(a) => {
                a.as_slice().expect("standard layout")
            }
        }
    }

    /// Mutable flat view of all values.
    pub(crate) fn as_slice_mut(&mut self) -> &mut [f64] {
        match self {
            SecondMoments::Full(a) => a.as_slice_mut().expect("standard layout"),
            SecondMoments::Tied(a) | SecondMoments::Diag(a) => {
                a.as_slice_mut().expect("standard layout")
            }
        }
    }

    #[cfg_attr(not(test), allow(dead_code))] // reference kernel, checked against the fast one in tests
    /// Reference kernel: adds `Σ_n g_nk (x_n − s_k)(x_n − s_k)ᵀ` for the rows of `x`.
    pub(crate) fn accumulate(
        &mut self,
        x: ArrayView2<f64>,
        g: ArrayView2<f64>,
        shift: ArrayView2<f64>,
    ) {
        match self {
            SecondMoments::Full(s) => full::accumulate(x, g, shift, s),
            SecondMoments::Tied(s) => tied::accumulate(x, g, shift, s),
            SecondMoments::Diag(s) => diag::accumulate(x, g, shift, s),
        }
    }

    /// New covariances from the merged statistics (the M-step).
    ///
    /// `s1[k] = Σ g (x − s_k)`, `nk` the raw `Σ g`, `nk_eff = nk + 10ε` the divisor
    /// scikit-learn uses.
    pub(crate) fn estimate(
        &self,
        ct: CovarianceType,
        s1: &Array2<f64>,
        nk: &Array1<f64>,
        nk_eff: &Array1<f64>,
        reg_covar: f64,
    ) -> Covariances {
        match (self, ct) {
            (SecondMoments::Full(s), _) => {
                Covariances::Full(full::estimate(s, s1, nk, nk_eff, reg_covar))
            }
            (SecondMoments::Tied(s), _) => {
                Covariances::Tied(tied::estimate(s, s1, nk, nk_eff, reg_covar))
            }
            (SecondMoments::Diag(s), CovarianceType::Spherical) => {
                Covariances::Spherical(spherical::estimate(s, s1, nk, nk_eff, reg_covar))
            }
            (SecondMoments::Diag(s), _) => {
                Covariances::Diag(diag::estimate(s, s1, nk, nk_eff, reg_covar))
            }
        }
    }
}

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
