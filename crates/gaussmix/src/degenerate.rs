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
//!    shrinks — mclust reports such a fit as singular (NA), or
//! 3. it sits on one recorded value: in a feature with tied values, the
//!    responsibility-weighted distribution of the component over that feature's distinct
//!    values has a perplexity (the exponential of its entropy) below [`MIN_PERPLEXITY`] —
//!    most of its weight is on a single value (a duration recorded as exactly 4 minutes),
//!    where a density can grow without bound. Continuous features have no ties and are not
//!    tested, nor are the families whose components share one covariance (EII, EEI, EEE),
//!    which cannot narrow onto a value. This test needs the data: model selection applies it ([`tied_components`]);
//!    a fit's policy applies the first two.
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

/// Features with fewer distinct values than this get no resolution test (they are
/// categorical or counts, for which the floor test alone applies).
pub const MIN_DISTINCT: usize = 20;

/// Re-seeds a fit may make before it gives up with an error.
pub const MAX_RESEEDS: usize = 10;

impl std::str::FromStr for DegeneratePolicy {
    type Err = crate::error::GmmError;
    fn from_str(s: &str) -> crate::error::Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "keep" => Ok(DegeneratePolicy::Keep),
            "error" => Ok(DegeneratePolicy::Error),
            "reseed" => Ok(DegeneratePolicy::Reseed),
            "drop" => Ok(DegeneratePolicy::Drop),
            _ => Err(crate::error::GmmError::InvalidParam {
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
    /// Most of its weight on one recorded value of a feature.
    OnOneValue {
        /// The feature (0-based).
        feature: usize,
        /// The perplexity of its weight over the feature's distinct values.
        perplexity: f64,
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
            Degeneracy::OnOneValue {
                feature,
                perplexity,
            } => write!(
                f,
                "it sits on one recorded value of feature {feature} (perplexity {perplexity:.2} over its distinct values)"
            ),
            Degeneracy::AtFloor { feature, fraction } => write!(
                f,
                "its variance in feature {feature} is at the floor ({fraction:.1e} of the data's)"
            ),
        }
    }
}

/// Below this perplexity over a feature's distinct values, a component sits on one value.
pub const MIN_PERPLEXITY: f64 = 1.5;

/// For each column with tied values, each row's index among the column's distinct values
/// (`None` for columns without ties).
pub fn value_ids<T: crate::float::Float>(
    x: ndarray::ArrayView2<T>,
) -> Vec<Option<(Vec<u32>, usize)>> {
    x.columns()
        .into_iter()
        .map(|c| {
            let mut order: Vec<(f64, usize)> =
                c.iter().enumerate().map(|(r, v)| (v.to_f64(), r)).collect();
            order.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut ids = vec![0u32; order.len()];
            let mut next = 0u32;
            for (i, &(v, r)) in order.iter().enumerate() {
                if i > 0 && v != order[i - 1].0 {
                    next += 1;
                }
                ids[r] = next;
            }
            let distinct = next as usize + 1;
            (distinct < order.len()).then_some((ids, distinct))
        })
        .collect()
}

/// Components that sit on one recorded value (test 3 of the module docs), from the
/// responsibilities `resp` (N×K, or N×(K+1) with noise) and the [`value_ids`] of the data.
pub fn tied_components(
    resp: ndarray::ArrayView2<f64>,
    ids: &[Option<(Vec<u32>, usize)>],
    k: usize,
) -> Vec<(usize, Degeneracy)> {
    let mut out = Vec::new();
    let mut acc = Vec::new();
    for c in 0..k {
        for (feature, col) in ids.iter().enumerate() {
            let Some((ids, distinct)) = col else {
                continue;
            };
            acc.clear();
            acc.resize(*distinct, 0.0);
            for (r, &id) in ids.iter().enumerate() {
                acc[id as usize] += resp[[r, c]];
            }
            let total: f64 = acc.iter().sum();
            if total <= 0.0 {
                continue;
            }
            let entropy: f64 = acc
                .iter()
                .filter(|&&w| w > 0.0)
                .map(|&w| {
                    let p = w / total;
                    -p * p.ln()
                })
                .sum();
            let perplexity = entropy.exp();
            if perplexity < MIN_PERPLEXITY {
                out.push((
                    c,
                    Degeneracy::OnOneValue {
                        feature,
                        perplexity,
                    },
                ));
                break;
            }
        }
    }
    out
}

/// The degenerate components of `model` by tests 1 and 2 (index and why), judged against
/// the data's per-feature variances `data_var` and total weight `n`.
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
        // features constant in the data are no component's fault
        let worst = (0..d)
            .filter(|&i| data_var[i] > 2.0 * f64::MIN_POSITIVE)
            .map(|i| (i, (cond(i) - reg_covar) / data_var[i]))
            .min_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((feature, fraction)) = worst {
            if fraction.is_nan() || fraction < FLOOR_FRACTION {
                out.push((c, Degeneracy::AtFloor { feature, fraction }));
                continue;
            }
        }
    }
    out
}

impl GmmModel {
    /// The degenerate components of this model on the rows of `x` (all three tests of the
    /// module docs, the third only for families with a covariance of their own), with
    /// `reg_covar` the regularisation it was fitted with.
    ///
    /// # Errors
    /// The data errors of [`GmmModel::predict_proba`].
    pub fn degenerate_components<T: crate::float::Float>(
        &self,
        x: ndarray::ArrayView2<T>,
        reg_covar: f64,
    ) -> crate::error::Result<Vec<(usize, Degeneracy)>> {
        self.check_data(x)?;
        let s = crate::summary::DataSummary::of(x, None, crate::par::Parallelism::default());
        let mut out = degenerate_components(self, s.weight_sum, &s.variances(), reg_covar);
        if out.is_empty() && !self.covariance_type().is_shared() {
            let ids = value_ids(x);
            if ids.iter().any(Option::is_some) {
                let resp = self.predict_proba(x)?;
                out = tied_components(resp.view(), &ids, self.n_components());
            }
        }
        Ok(out)
    }
}
