//! Covariance types: storage, estimation from sufficient statistics, precision
//! Cholesky factors, log-determinants and the per-row quadratic forms.
//!
//! Each type lives in its own module and mirrors the maths of docs/design.md §1–2:
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

mod common;
pub mod diag;
pub mod family;
pub mod full;
mod shapes;
pub mod spherical;
pub mod tied;

pub(crate) use common::{centred_scatter, ill_defined};
pub use shapes::{Covariances, Storage};

use std::fmt;
use std::str::FromStr;

use ndarray::{Array1, Array2, Array3, ArrayView2, ArrayViewMut2};
use serde::{Deserialize, Serialize};

use crate::error::{GmmError, Result};

/// The covariance structure of a mixture: scikit-learn's four types and mclust's
/// fourteen families (Banfield & Raftery 1993; Celeux & Govaert 1995).
///
/// mclust writes each component covariance as `Σ_k = λ_k D_k A_k D_kᵀ` — volume `λ_k`
/// (a scalar), orientation `D_k` (orthogonal) and shape `A_k` (diagonal, `|A_k| = 1`) —
/// and names a family by three letters, volume / shape / orientation, each **E**qual
/// across components, **V**ariable, or the **I**dentity. scikit-learn's four types are
/// four of the fourteen, and keep their names:
///
/// | scikit-learn | mclust | Σ_k |
/// |---|---|---|
/// | `spherical` | VII | λ_k I |
/// | `diag` | VVI | λ_k A_k |
/// | `tied` | EEE | λ D A Dᵀ |
/// | `full` | VVV | λ_k D_k A_k D_kᵀ |
///
/// The others: EII (λ I), EEI (λ A), VEI (λ_k A), EVI (λ A_k), VEE (λ_k D A Dᵀ),
/// EVE (λ D A_k Dᵀ), VVE (λ_k D A_k Dᵀ), EEV (λ D_k A D_kᵀ), VEV (λ_k D_k A D_kᵀ),
/// EVV (λ D_k A_k D_kᵀ). Names parse case-insensitively (`"VEV"`, `"vev"`, `"full"`,
/// `"VVV"`); model files write the scikit-learn name for the four and the mclust name
/// for the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CovarianceType {
    /// VVV: each component has its own general covariance matrix.
    #[default]
    Full,
    /// EEE: all components share one general covariance matrix.
    Tied,
    /// VVI: each component has its own diagonal covariance matrix.
    Diag,
    /// VII: each component has its own single variance.
    Spherical,
    /// λ I: one variance shared by all components.
    EII,
    /// λ A: one diagonal covariance shared by all components.
    EEI,
    /// λ_k A: diagonal, equal shape, variable volume.
    VEI,
    /// λ A_k: diagonal, equal volume, variable shape.
    EVI,
    /// λ_k D A Dᵀ: equal shape and orientation, variable volume.
    VEE,
    /// λ D A_k Dᵀ: equal volume and orientation, variable shape.
    EVE,
    /// λ_k D A_k Dᵀ: equal orientation, variable volume and shape.
    VVE,
    /// λ D_k A D_kᵀ: equal volume and shape, variable orientation.
    EEV,
    /// λ_k D_k A D_kᵀ: equal shape, variable volume and orientation.
    VEV,
    /// λ D_k A_k D_kᵀ: equal volume, variable shape and orientation.
    EVV,
}

impl Storage {
    /// The shape of precision factors the kernels use for this storage.
    pub(crate) fn kernel_shape(self) -> crate::kernels::Shape {
        match self {
            Storage::Full => crate::kernels::Shape::Full,
            Storage::Tied => crate::kernels::Shape::Tied,
            Storage::Diag => crate::kernels::Shape::Diag,
            Storage::Spherical => crate::kernels::Shape::Spherical,
        }
    }
}

#[allow(non_upper_case_globals)]
impl CovarianceType {
    /// mclust's name for [`CovarianceType::Full`].
    pub const VVV: CovarianceType = CovarianceType::Full;
    /// mclust's name for [`CovarianceType::Tied`].
    pub const EEE: CovarianceType = CovarianceType::Tied;
    /// mclust's name for [`CovarianceType::Diag`].
    pub const VVI: CovarianceType = CovarianceType::Diag;
    /// mclust's name for [`CovarianceType::Spherical`].
    pub const VII: CovarianceType = CovarianceType::Spherical;

    /// scikit-learn's four types, in its order.
    pub const SKLEARN: [CovarianceType; 4] = [
        CovarianceType::Full,
        CovarianceType::Tied,
        CovarianceType::Diag,
        CovarianceType::Spherical,
    ];

    /// All fourteen families, in mclust's order (EII, VII, EEI, VEI, EVI, VVI, EEE, VEE,
    /// EVE, VVE, EEV, VEV, EVV, VVV).
    pub const ALL: [CovarianceType; 14] = [
        CovarianceType::EII,
        CovarianceType::Spherical,
        CovarianceType::EEI,
        CovarianceType::VEI,
        CovarianceType::EVI,
        CovarianceType::Diag,
        CovarianceType::Tied,
        CovarianceType::VEE,
        CovarianceType::EVE,
        CovarianceType::VVE,
        CovarianceType::EEV,
        CovarianceType::VEV,
        CovarianceType::EVV,
        CovarianceType::Full,
    ];

    /// The name used in model files and messages: scikit-learn's (`full`, `tied`, `diag`,
    /// `spherical`) for its four types, mclust's three letters for the others.
    pub fn name(self) -> &'static str {
        match self {
            CovarianceType::Full => "full",
            CovarianceType::Tied => "tied",
            CovarianceType::Diag => "diag",
            CovarianceType::Spherical => "spherical",
            other => other.mclust_name(),
        }
    }

    /// mclust's three-letter name (`VVV` for `full`, `EEE` for `tied`, `VVI` for `diag`,
    /// `VII` for `spherical`).
    pub fn mclust_name(self) -> &'static str {
        match self {
            CovarianceType::Full => "VVV",
            CovarianceType::Tied => "EEE",
            CovarianceType::Diag => "VVI",
            CovarianceType::Spherical => "VII",
            CovarianceType::EII => "EII",
            CovarianceType::EEI => "EEI",
            CovarianceType::VEI => "VEI",
            CovarianceType::EVI => "EVI",
            CovarianceType::VEE => "VEE",
            CovarianceType::EVE => "EVE",
            CovarianceType::VVE => "VVE",
            CovarianceType::EEV => "EEV",
            CovarianceType::VEV => "VEV",
            CovarianceType::EVV => "EVV",
        }
    }

    /// How covariances of this family are stored: spherical (EII, VII), diagonal (EEI,
    /// VEI, EVI, VVI), one shared matrix (EEE) or one matrix per component (the rest).
    pub fn storage(self) -> Storage {
        use CovarianceType::*;
        match self {
            EII | Spherical => Storage::Spherical,
            EEI | VEI | EVI | Diag => Storage::Diag,
            Tied => Storage::Tied,
            VEE | EVE | VVE | EEV | VEV | EVV | Full => Storage::Full,
        }
    }

    /// Whether the covariances are diagonal (the *I families).
    pub fn is_diagonal(self) -> bool {
        matches!(self.storage(), Storage::Diag | Storage::Spherical)
    }

    /// Whether every component has the same covariance matrix (EII, EEI, EEE): a small
    /// component then borrows its covariance from all the data.
    pub fn is_shared(self) -> bool {
        matches!(
            self,
            CovarianceType::EII | CovarianceType::EEI | CovarianceType::Tied
        )
    }

    /// The family's M-step identity.
    pub(crate) fn family(self) -> family::Family {
        use family::Family as F;
        match self {
            CovarianceType::Full => F::VVV,
            CovarianceType::Tied => F::EEE,
            CovarianceType::Diag => F::VVI,
            CovarianceType::Spherical => F::VII,
            CovarianceType::EII => F::EII,
            CovarianceType::EEI => F::EEI,
            CovarianceType::VEI => F::VEI,
            CovarianceType::EVI => F::EVI,
            CovarianceType::VEE => F::VEE,
            CovarianceType::EVE => F::EVE,
            CovarianceType::VVE => F::VVE,
            CovarianceType::EEV => F::EEV,
            CovarianceType::VEV => F::VEV,
            CovarianceType::EVV => F::EVV,
        }
    }

    /// Whether this is one of scikit-learn's four types.
    pub fn is_sklearn(self) -> bool {
        Self::SKLEARN.contains(&self)
    }

    /// Number of free covariance parameters for `k` components in `d` dimensions
    /// (mclust's `nVarParams`; scikit-learn's counts for its four types).
    pub fn n_covariance_parameters(self, k: usize, d: usize) -> usize {
        use CovarianceType::*;
        let (g, d) = (k, d);
        let tri = d * (d + 1) / 2;
        let rot = d * d.saturating_sub(1) / 2;
        match self {
            EII => 1,
            Spherical => g,
            EEI => d,
            VEI => g + d - 1,
            EVI => 1 + g * (d - 1),
            Diag => g * d,
            Tied => tri,
            VEE => g + tri - 1,
            EVE => 1 + g * (d - 1) + rot,
            VVE => g * d + rot,
            EEV => d + g * rot,
            VEV => g + d - 1 + g * rot,
            EVV => 1 + g * (tri - 1),
            Full => g * tri,
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
        let lower = s.trim().to_ascii_lowercase();
        let found = match lower.as_str() {
            "full" => Some(CovarianceType::Full),
            "tied" => Some(CovarianceType::Tied),
            "diag" | "diagonal" => Some(CovarianceType::Diag),
            "spherical" => Some(CovarianceType::Spherical),
            _ => CovarianceType::ALL
                .into_iter()
                .find(|c| c.mclust_name().eq_ignore_ascii_case(&lower)),
        };
        found.ok_or_else(|| GmmError::InvalidParam {
            name: "covariance_type",
            value: s.to_string(),
            reason: "must be one of full, tied, diag, spherical, or an mclust family: EII, VII, \
                     EEI, VEI, EVI, VVI, EEE, VEE, EVE, VVE, EEV, VEV, EVV, VVV"
                .into(),
        })
    }
}

impl Serialize for CovarianceType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for CovarianceType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Covariances {
    /// How these matrices are stored.
    pub fn storage(&self) -> Storage {
        match self {
            Covariances::Full(_) => Storage::Full,
            Covariances::Tied(_) => Storage::Tied,
            Covariances::Diag(_) => Storage::Diag,
            Covariances::Spherical(_) => Storage::Spherical,
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

    /// Entry `(i, j)` of component `c`'s matrix, whatever the storage (zero off the
    /// diagonal of diagonal and spherical ones; the shared matrix for tied).
    pub fn entry(&self, c: usize, i: usize, j: usize) -> f64 {
        match self {
            Covariances::Full(a) => a[[c, i, j]],
            Covariances::Tied(a) => a[[i, j]],
            Covariances::Diag(a) if i == j => a[[c, i]],
            Covariances::Spherical(a) if i == j => a[c],
            Covariances::Diag(_) | Covariances::Spherical(_) => 0.0,
        }
    }

    /// Component `c`'s matrix as a full `d × d` array.
    pub fn component(&self, c: usize, d: usize) -> Array2<f64> {
        Array2::from_shape_fn((d, d), |(i, j)| self.entry(c, i, j))
    }

    /// All `k` matrices as a full `k × d × d` array.
    pub fn to_full(&self, k: usize, d: usize) -> Array3<f64> {
        Array3::from_shape_fn((k, d, d), |(c, i, j)| self.entry(c, i, j))
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
    /// Zeroed statistics for a covariance family: the diagonals for the diagonal and
    /// spherical families, one pooled matrix for EEE (tied), a matrix per component for
    /// the rest.
    pub(crate) fn zeros(ct: CovarianceType, k: usize, d: usize) -> SecondMoments {
        match ct.storage() {
            Storage::Full => SecondMoments::Full(Array3::zeros((k, d, d))),
            Storage::Tied => SecondMoments::Tied(Array2::zeros((d, d))),
            Storage::Diag | Storage::Spherical => SecondMoments::Diag(Array2::zeros((k, d))),
        }
    }

    /// The kernels' view of these moments.
    pub(crate) fn kernel_moments(&mut self) -> crate::kernels::Moments<'_> {
        match self {
            SecondMoments::Full(a) => {
                crate::kernels::Moments::Full(a.as_slice_mut().expect("standard layout"))
            }
            SecondMoments::Tied(a) => {
                crate::kernels::Moments::Tied(a.as_slice_mut().expect("standard layout"))
            }
            SecondMoments::Diag(a) => {
                crate::kernels::Moments::Diag(a.as_slice_mut().expect("standard layout"))
            }
        }
    }

    /// The scatter about the new means `s_k + s1_k / nk_eff_k` (symmetric), as the
    /// family M-steps take it.
    pub(crate) fn scatter(
        &self,
        s1: &Array2<f64>,
        nk: &Array1<f64>,
        nk_eff: &Array1<f64>,
    ) -> family::Scatter {
        let (k, d) = s1.dim();
        match self {
            SecondMoments::Full(s2) => {
                let mut out = Array3::zeros((k, d, d));
                for c in 0..k {
                    let src = s2.index_axis(ndarray::Axis(0), c);
                    let s1c = s1.row(c).to_vec();
                    let mut dst = out.index_axis_mut(ndarray::Axis(0), c);
                    centred_scatter(
                        src.as_slice().expect("standard"),
                        &s1c,
                        nk[c],
                        nk_eff[c],
                        d,
                        dst.as_slice_mut().expect("standard"),
                    );
                }
                family::Scatter::Full(out)
            }
            SecondMoments::Tied(s2) => {
                let mut total = s2.to_owned();
                for i in 0..d {
                    for j in 0..i {
                        total[[j, i]] = total[[i, j]];
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
                family::Scatter::Pooled(total)
            }
            SecondMoments::Diag(s2) => {
                let v = diag::centred_variances(s2, s1, nk, nk_eff);
                family::Scatter::Diag(Array2::from_shape_fn((k, d), |(c, i)| {
                    v[[c, i]] * nk_eff[c]
                }))
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
    pub(crate) fn estimate_sklearn(
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

/// The posterior modes of the means under a conjugate prior:
/// `(n_k x̄_k + κ μ_P) / (n_k + κ)`.
pub(crate) fn posterior_means(
    nk: ndarray::ArrayView1<f64>,
    xbar: ndarray::ArrayView2<f64>,
    prior: &family::Prior,
) -> Array2<f64> {
    let kappa = prior.shrinkage;
    Array2::from_shape_fn(xbar.dim(), |(c, i)| {
        (nk[c] * xbar[[c, i]] + kappa * prior.mean[i]) / (nk[c] + kappa)
    })
}

/// Moves a scatter about `xbar` to one about `centre`:
/// `W_k + n_k (x̄_k − c_k)(x̄_k − c_k)ᵀ` (pooled: summed over k; diagonal: its diagonal).
pub(crate) fn shift_scatter(
    scatter: &mut family::Scatter,
    nk: ndarray::ArrayView1<f64>,
    xbar: ndarray::ArrayView2<f64>,
    centre: ndarray::ArrayView2<f64>,
) {
    let (k, d) = xbar.dim();
    for c in 0..k {
        let delta: Vec<f64> = (0..d).map(|i| xbar[[c, i]] - centre[[c, i]]).collect();
        match scatter {
            family::Scatter::Full(w) => {
                for i in 0..d {
                    for j in 0..d {
                        w[[c, i, j]] += nk[c] * delta[i] * delta[j];
                    }
                }
            }
            family::Scatter::Pooled(w) => {
                for i in 0..d {
                    for j in 0..d {
                        w[[i, j]] += nk[c] * delta[i] * delta[j];
                    }
                }
            }
            family::Scatter::Diag(w) => {
                for i in 0..d {
                    w[[c, i]] += nk[c] * delta[i] * delta[i];
                }
            }
        }
    }
}
