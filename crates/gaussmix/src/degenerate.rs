//! Degenerate components: spikes on a few points rather than clusters.
//!
//! A component is **degenerate** when
//!
//! 1. it has fewer than `D + 1` rows' worth of weight (`π_k · Σw < D + 1`) and a
//!    covariance of its own (every family but EII, EEI and EEE, whose components share
//!    one covariance estimated from all rows), or
//! 2. its covariance sits at the floor: in some feature, the conditional variance given
//!    the others, less `reg_covar`, is below `1e-6` of that feature's variance in the
//!    data (`1/(Σ_k⁻¹)_ii − reg_covar < 1e-6 · var_i`). A component over tied or
//!    discrete values (durations recorded as exactly 2 or 4 minutes, counts that are
//!    mostly 0) collapses there, its likelihood growing without bound as `reg_covar`
//!    shrinks — mclust reports such a fit as singular (NA).
//!
//! Model selection never chooses a model with a degenerate component; a fit applies a
//! [`DegeneratePolicy`].

use serde::{Deserialize, Serialize};

use crate::covariance::Covariances;
use crate::model::GmmModel;

/// Below this fraction of a feature's variance, a component's conditional variance is
/// "at the floor".
pub const FLOOR_FRACTION: f64 = 1e-6;

/// What a fit does about degenerate components.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum DegeneratePolicy {
    /// Keep them (scikit-learn's behaviour: the fit returns the spike).
    #[default]
    Keep,
    /// Fail with [`crate::GmmError::Degenerate`] naming the component and why.
    Error,
    /// Re-seed the component at the row the model explains worst and continue EM (at
    /// most [`MAX_RESEEDS`] times per fit; then, an error).
    Reseed,
    /// Remove the component (the model ends with fewer components) and continue EM.
    Drop,
}

/// Re-seeds a fit may make before it gives up with an error.
pub const MAX_RESEEDS: usize = 10;

impl std::str::FromStr for DegeneratePolicy {
    type Err = crate::GmmError;
    fn from_str(s: &str) -> crate::Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "keep" => Ok(DegeneratePolicy::Keep),
            "error" => Ok(DegeneratePolicy::Error),
            "reseed" => Ok(DegeneratePolicy::Reseed),
            "drop" => Ok(DegeneratePolicy::Drop),
            _ => Err(crate::GmmError::InvalidParam {
                name: "degenerate",
                value: s.to_string(),
                reason: "must be one of keep, error, reseed, drop".into(),
            }),
        }
    }
}

/// Why a component is degenerate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Degeneracy {
    /// Fewer than D + 1 rows' worth of weight.
    TooFewRows {
        /// `π_k · Σw`.
        weight: f64,
    },
    /// The covariance is at the floor in a feature.
    AtFloor {
        /// The feature (0-based).
        feature: usize,
        /// Its conditional variance less `reg_covar`, as a fraction of the data's variance.
        fraction: f64,
    },
}

impl std::fmt::Display for Degeneracy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Degeneracy::TooFewRows { weight } => {
                write!(
                    f,
                    "it holds {weight:.3} rows' worth of weight, fewer than D + 1"
                )
            }
            Degeneracy::AtFloor { feature, fraction } => write!(
                f,
                "its variance in feature {feature} is at the floor ({fraction:.1e} of the data's)"
            ),
        }
    }
}

/// The degenerate components of `model` (index and why), judged against the data's
/// per-feature variances `data_var` and total weight `n`.
pub fn degenerate_components(
    model: &GmmModel,
    n: f64,
    data_var: &[f64],
    reg_covar: f64,
) -> Vec<(usize, Degeneracy)> {
    let k = model.n_components();
    let d = model.n_features();
    let mut out = Vec::new();
    let own = !model.covariance_type().is_shared();
    for c in 0..k {
        let weight = model.weights()[c] * n;
        if own && weight < (d + 1) as f64 {
            out.push((c, Degeneracy::TooFewRows { weight }));
            continue;
        }
        let cond = |i: usize| -> f64 {
            match model.precisions_cholesky() {
                Covariances::Full(p) => 1.0 / (i..d).map(|j| p[[c, i, j]].powi(2)).sum::<f64>(),
                Covariances::Tied(p) => 1.0 / (i..d).map(|j| p[[i, j]].powi(2)).sum::<f64>(),
                Covariances::Diag(p) => 1.0 / p[[c, i]].powi(2),
                Covariances::Spherical(p) => 1.0 / p[c].powi(2),
            }
        };
        let worst = (0..d)
            .map(|i| (i, (cond(i) - reg_covar) / data_var[i]))
            .min_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((feature, fraction)) = worst {
            if !(fraction >= FLOOR_FRACTION) {
                out.push((c, Degeneracy::AtFloor { feature, fraction }));
            }
        }
    }
    out
}
