//! A fitted (or hand-built) Gaussian mixture and everything it can do.

use ndarray::{s, Array1, Array2, ArrayView2, Axis};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use crate::covariance::{CovarianceType, Covariances, Storage};
use crate::error::{GmmError, Result};
use crate::float::Float;
use crate::linalg;
use crate::par::Parallelism;
use crate::validate::{check_finite, check_nonempty};

/// What a fit reports besides the parameters. Non-convergence is information, not an error.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FitInfo {
    /// Whether the change of the lower bound fell below `tol` before `max_iter`.
    pub converged: bool,
    /// Number of EM iterations of the best initialisation.
    pub n_iter: usize,
    /// Mean log-likelihood per sample of the parameters *before* the last M-step
    /// (scikit-learn's `lower_bound_`).
    pub lower_bound: f64,
    /// The lower bound at every iteration of the best initialisation.
    pub lower_bounds: Vec<f64>,
}

/// A uniform "noise" component (Banfield & Raftery 1993): constant density `1/V` over the
/// data's region, with mixing weight `π_0`. Rows that no Gaussian explains go to it, so
/// outliers stop dragging the clusters, and its responsibility is an outlier score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Noise {
    /// Mixing weight `π_0` (the Gaussians' weights sum to `1 − π_0`).
    pub weight: f64,
    /// `ln(1/V)`, the log density of the component where it is defined.
    pub log_density: f64,
}

/// A Gaussian mixture `p(x) = Σ_k π_k N(x | μ_k, Σ_k)`, optionally with a uniform noise
/// component: `p(x) = π_0/V + Σ_k π_k N(x | μ_k, Σ_k)`.
#[derive(Debug, Clone, PartialEq)]
pub struct GmmModel {
    pub(crate) covariance_type: CovarianceType,
    pub(crate) noise: Option<Noise>,
    pub(crate) weights: Array1<f64>,
    pub(crate) means: Array2<f64>,
    pub(crate) covariances: Covariances,
    pub(crate) precisions_cholesky: Covariances,
    pub(crate) feature_names: Vec<String>,
    pub(crate) info: FitInfo,
    pub(crate) anomaly_threshold: Option<f64>,
}

impl GmmModel {
    /// Builds a model from weights (K), means (K×D) and covariances in the shape of
    /// their type; computes the precision factors.
    ///
    /// # Errors
    /// [`GmmError::ShapeMismatch`] on inconsistent shapes, [`GmmError::InvalidModel`] on
    /// non-finite values or weights that are negative or do not sum to 1,
    /// [`GmmError::IllDefinedCovariance`] when a covariance is not positive definite.
    pub fn new(weights: Array1<f64>, means: Array2<f64>, covariances: Covariances) -> Result<Self> {
        let factor = covariances.precision_cholesky(0.0)?;
        let m = Self::from_parts_unchecked(weights, means, covariances, factor)?;
        m.validate()?;
        Ok(m)
    }

    /// Builds a model of a given covariance family (its covariances in the family's
    /// storage: see [`CovarianceType::storage`]) and an optional noise component (the
    /// Gaussian weights then sum to `1 − π_0`).
    ///
    /// # Errors
    /// As [`GmmModel::new`], and [`GmmError::InvalidModel`] when the covariances are not
    /// stored as the family stores them.
    pub fn from_family(
        covariance_type: CovarianceType,
        weights: Array1<f64>,
        means: Array2<f64>,
        covariances: Covariances,
        noise: Option<Noise>,
    ) -> Result<Self> {
        let factor = covariances.precision_cholesky(0.0)?;
        let mut m = Self::from_parts_unchecked(weights, means, covariances, factor)?;
        m.covariance_type = covariance_type;
        m.noise = noise;
        m.validate()?;
        Ok(m)
    }

    pub(crate) fn from_parts_unchecked(
        weights: Array1<f64>,
        means: Array2<f64>,
        covariances: Covariances,
        precisions_cholesky: Covariances,
    ) -> Result<Self> {
        let d = means.ncols();
        let covariance_type = match covariances.storage() {
            Storage::Full => CovarianceType::Full,
            Storage::Tied => CovarianceType::Tied,
            Storage::Diag => CovarianceType::Diag,
            Storage::Spherical => CovarianceType::Spherical,
        };
        Ok(GmmModel {
            covariance_type,
            noise: None,
            weights,
            means,
            covariances,
            precisions_cholesky,
            feature_names: (0..d).map(|i| format!("x{i}")).collect(),
            info: FitInfo::default(),
            anomaly_threshold: None,
        })
    }

    /// Checks shapes, finiteness, weights and precision factors.
    ///
    /// # Errors
    /// As [`GmmModel::new`].
    pub fn validate(&self) -> Result<()> {
        let k = self.weights.len();
        let (km, d) = self.means.dim();
        if k == 0 || d == 0 {
            return Err(GmmError::InvalidModel {
                reason: format!("{k} components and {d} features"),
            });
        }
        if km != k {
            return Err(GmmError::ShapeMismatch {
                what: "means".into(),
                expected: format!("[{k}, {d}]"),
                got: format!("[{km}, {d}]"),
            });
        }
        self.covariances.check_shape("covariances", k, d)?;
        self.precisions_cholesky
            .check_shape("precisions_cholesky", k, d)?;
        if self.covariances.storage() != self.precisions_cholesky.storage() {
            return Err(GmmError::InvalidModel {
                reason: "covariances and precision factors differ in type".into(),
            });
        }
        if self.covariances.storage() != self.covariance_type.storage() {
            return Err(GmmError::InvalidModel {
                reason: format!(
                    "covariance family {} is stored as {:?}, not {:?}",
                    self.covariance_type,
                    self.covariance_type.storage(),
                    self.covariances.storage()
                ),
            });
        }
        if let Some(n) = self.noise {
            let weight_ok = n.weight.is_finite() && (0.0..1.0).contains(&n.weight);
            if !weight_ok || !n.log_density.is_finite() {
                return Err(GmmError::InvalidModel {
                    reason: format!(
                        "noise component weight {} must be in [0, 1) and its log density {} finite",
                        n.weight, n.log_density
                    ),
                });
            }
        }
        let finite = |it: &mut dyn Iterator<Item = f64>| {
            for v in it {
                if !v.is_finite() {
                    return false;
                }
            }
            true
        };
        if !finite(&mut self.weights.iter().copied())
            || !finite(&mut self.means.iter().copied())
            || !finite(&mut *self.covariances.values())
            || !finite(&mut *self.precisions_cholesky.values())
        {
            return Err(GmmError::InvalidModel {
                reason: "non-finite parameter values".into(),
            });
        }
        if self.weights.iter().any(|&w| w < 0.0) {
            return Err(GmmError::InvalidModel {
                reason: "negative mixture weight".into(),
            });
        }
        let sum = self.weights.sum() + self.noise.map_or(0.0, |n| n.weight);
        if (sum - 1.0).abs() > 1e-6 {
            return Err(GmmError::InvalidModel {
                reason: format!("mixture weights sum to {sum}, not 1"),
            });
        }
        let ld = self.precisions_cholesky.log_det_factor(k, d);
        if let Some(c) = ld.iter().position(|v| !v.is_finite()) {
            return Err(GmmError::InvalidModel {
                reason: format!("precision factor of component {c} has a non-positive diagonal"),
            });
        }
        if let Covariances::Full(p) = &self.precisions_cholesky {
            for c in 0..k {
                for i in 0..d {
                    for j in 0..i {
                        if p[[c, i, j]] != 0.0 {
                            return Err(GmmError::InvalidModel {
                                reason: format!(
                                    "precision factor of component {c} is not upper triangular"
                                ),
                            });
                        }
                    }
                }
            }
        }
        if self.feature_names.len() != d {
            return Err(GmmError::InvalidModel {
                reason: format!(
                    "{} feature names for {d} features",
                    self.feature_names.len()
                ),
            });
        }
        Ok(())
    }

    /// Number of components K.
    pub fn n_components(&self) -> usize {
        self.weights.len()
    }
    /// Number of features D.
    pub fn n_features(&self) -> usize {
        self.means.ncols()
    }
    /// The covariance type (family).
    pub fn covariance_type(&self) -> CovarianceType {
        self.covariance_type
    }
    /// The uniform noise component, if the model has one.
    pub fn noise(&self) -> Option<Noise> {
        self.noise
    }
    /// Mixture weights π (K) of the Gaussian components (they sum to `1 − π_0` with a
    /// noise component).
    pub fn weights(&self) -> &Array1<f64> {
        &self.weights
    }
    /// Component means μ (K×D).
    pub fn means(&self) -> &Array2<f64> {
        &self.means
    }
    /// Covariances, in the shape of the covariance type.
    pub fn covariances(&self) -> &Covariances {
        &self.covariances
    }
    /// Precision Cholesky factors (upper triangular, `P Pᵀ = Σ⁻¹`).
    pub fn precisions_cholesky(&self) -> &Covariances {
        &self.precisions_cholesky
    }
    /// Precision matrices `Σ⁻¹`.
    pub fn precisions(&self) -> Covariances {
        self.precisions_cholesky.precisions_from_factor()
    }
    /// Convergence information of the fit that produced this model.
    pub fn info(&self) -> &FitInfo {
        &self.info
    }
    /// Names of the features (`x0`, `x1`, … unless set).
    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }

    /// Sets the feature names.
    ///
    /// # Errors
    /// [`GmmError::ShapeMismatch`] unless there is one name per feature.
    pub fn set_feature_names(&mut self, names: Vec<String>) -> Result<()> {
        if names.len() != self.n_features() {
            return Err(GmmError::ShapeMismatch {
                what: "feature names".into(),
                expected: format!("{}", self.n_features()),
                got: format!("{}", names.len()),
            });
        }
        self.feature_names = names;
        Ok(())
    }

    /// Score (`−ln p(x)`) above which a row is called anomalous, when the model was
    /// fitted for anomaly detection.
    pub fn anomaly_threshold(&self) -> Option<f64> {
        self.anomaly_threshold
    }

    /// Sets (or clears) the anomaly threshold stored with the model.
    ///
    /// # Errors
    /// [`GmmError::InvalidParam`] for a non-finite threshold.
    pub fn set_anomaly_threshold(&mut self, t: Option<f64>) -> Result<()> {
        if let Some(v) = t {
            if !v.is_finite() {
                return Err(GmmError::InvalidParam {
                    name: "anomaly_threshold",
                    value: v.to_string(),
                    reason: "must be finite".into(),
                });
            }
        }
        self.anomaly_threshold = t;
        Ok(())
    }

    pub(crate) fn set_info(&mut self, info: FitInfo) {
        self.info = info;
    }

    /// The kernels' constants for this model at the run-time instruction-set level.
    pub(crate) fn prepared(&self) -> crate::kernels::Prepared {
        self.prepared_with(crate::kernels::Level::detect())
    }

    /// The kernels' constants at a given level.
    pub(crate) fn prepared_with(&self, level: crate::kernels::Level) -> crate::kernels::Prepared {
        let k = self.n_components();
        let d = self.n_features();
        let p: Vec<f64> = match &self.precisions_cholesky {
            Covariances::Full(a) => a.iter().copied().collect(),
            Covariances::Tied(a) | Covariances::Diag(a) => a.iter().copied().collect(),
            Covariances::Spherical(a) => a.to_vec(),
        };
        let log_det = self.precisions_cholesky.log_det_factor(k, d);
        crate::kernels::Prepared::new(
            self.covariances.storage().kernel_shape(),
            self.weights.view(),
            self.means.view(),
            p,
            log_det.as_slice().expect("standard layout"),
            self.noise.map(|n| n.weight.ln() + n.log_density),
            level,
        )
    }

    /// Columns of [`GmmModel::predict_proba`]: K, plus one for the noise component.
    pub fn n_columns(&self) -> usize {
        self.n_components() + usize::from(self.noise.is_some())
    }

    /// Checks that data has the model's number of columns and at least one row.
    pub(crate) fn check_data<T: Float>(&self, x: ArrayView2<T>) -> Result<()> {
        check_nonempty(x)?;
        if x.ncols() != self.n_features() {
            return Err(GmmError::ShapeMismatch {
                what: "data".into(),
                expected: format!("{} columns (the model's features)", self.n_features()),
                got: format!("{} columns", x.ncols()),
            });
        }
        Ok(())
    }

    /// Runs the E-step block by block: responsibilities (when wanted) and `ln p` per row,
    /// written straight into the outputs by the block's task (each row's values depend on
    /// that row only, so the thread count cannot change them). Non-finite values are
    /// reported for the first offending row.
    pub(crate) fn blocks<T: Float>(
        &self,
        x: ArrayView2<T>,
        par: Parallelism,
        want_resp: bool,
    ) -> Result<(Array2<f64>, Array1<f64>)> {
        use rayon::prelude::*;
        self.check_data(x)?;
        let prep = self.prepared();
        let n = x.nrows();
        let k = self.n_columns();
        let d = self.n_features();
        let kr = if want_resp { k } else { 0 };
        let mut resp = vec![0.0; n * kr];
        let mut ln = vec![0.0; n];
        let block = crate::par::BLOCK_ROWS;
        let run = |b: usize,
                   g: &mut [f64],
                   l: &mut [f64],
                   ws: &mut Option<crate::kernels::Workspace>|
         -> Result<()> {
            let s = b * block;
            let xb = x.slice(s![s..s + l.len(), ..]);
            check_finite(xb, s)?;
            let ws = ws.get_or_insert_with(|| crate::kernels::Workspace::new(k, d));
            let m = l.len();
            let sink = crate::kernels::Sink::Rows {
                resp: want_resp
                    .then(|| ndarray::ArrayViewMut2::from_shape((m, k), g).expect("block of m×k")),
                ln: ndarray::ArrayViewMut1::from(l),
            };
            crate::kernels::run(&prep, xb, sink, ws);
            Ok(())
        };
        let results: Vec<Result<()>> = match par {
            Parallelism::Sequential => {
                let mut ws = None;
                let lns = ln.chunks_mut(block).enumerate();
                if want_resp {
                    lns.zip(resp.chunks_mut(block * k))
                        .map(|((b, l), g)| run(b, g, l, &mut ws))
                        .collect()
                } else {
                    lns.map(|(b, l)| run(b, &mut [], l, &mut ws)).collect()
                }
            }
            Parallelism::Rayon => {
                let lns = ln.par_chunks_mut(block).enumerate();
                if want_resp {
                    lns.zip(resp.par_chunks_mut(block * k))
                        .map_init(|| None, |ws, ((b, l), g)| run(b, g, l, ws))
                        .collect()
                } else {
                    lns.map_init(|| None, |ws, (b, l)| run(b, &mut [], l, ws))
                        .collect()
                }
            }
        };
        results.into_iter().collect::<Result<()>>()?;
        let resp = Array2::from_shape_vec((if want_resp { n } else { 0 }, k), resp)
            .expect("n×k responsibilities");
        Ok((resp, Array1::from(ln)))
    }

    /// Responsibilities `γ_nk = P(component k | x_n)` (N×K; rows sum to 1). With a
    /// noise component there are K+1 columns, the noise component's last.
    ///
    /// # Errors
    /// [`GmmError::ShapeMismatch`] for a different number of columns, [`GmmError::EmptyData`],
    /// [`GmmError::NonFinite`].
    pub fn predict_proba<T: Float>(&self, x: ArrayView2<T>) -> Result<Array2<f64>> {
        self.predict_proba_par(x, Parallelism::default())
    }

    /// [`GmmModel::predict_proba`] with explicit parallelism.
    ///
    /// # Errors
    /// As [`GmmModel::predict_proba`].
    pub fn predict_proba_par<T: Float>(
        &self,
        x: ArrayView2<T>,
        par: Parallelism,
    ) -> Result<Array2<f64>> {
        Ok(self.blocks(x, par, true)?.0)
    }

    /// The most responsible component of each row (argmax of [`GmmModel::predict_proba`];
    /// `K` for rows the noise component explains best).
    ///
    /// # Errors
    /// As [`GmmModel::predict_proba`].
    pub fn predict<T: Float>(&self, x: ArrayView2<T>) -> Result<Array1<usize>> {
        let r = self.predict_proba(x)?;
        Ok(r.map_axis(Axis(1), |row| argmax(row.iter().copied())))
    }

    /// Log density `ln p(x_n)` of each row.
    ///
    /// # Errors
    /// As [`GmmModel::predict_proba`].
    pub fn score_samples<T: Float>(&self, x: ArrayView2<T>) -> Result<Array1<f64>> {
        self.score_samples_par(x, Parallelism::default())
    }

    /// [`GmmModel::score_samples`] with explicit parallelism.
    ///
    /// # Errors
    /// As [`GmmModel::predict_proba`].
    pub fn score_samples_par<T: Float>(
        &self,
        x: ArrayView2<T>,
        par: Parallelism,
    ) -> Result<Array1<f64>> {
        Ok(self.blocks(x, par, false)?.1)
    }

    /// Mean log density per row.
    ///
    /// # Errors
    /// As [`GmmModel::predict_proba`].
    pub fn score<T: Float>(&self, x: ArrayView2<T>) -> Result<f64> {
        Ok(self.score_samples(x)?.mean().expect("non-empty"))
    }

    /// Number of free parameters: `K−1` weights (one more for a noise component),
    /// `K·D` means and the covariance parameters (mclust's counts for its families).
    pub fn n_parameters(&self) -> usize {
        let k = self.n_components();
        let d = self.n_features();
        self.covariance_type().n_covariance_parameters(k, d) + k * d + k - 1
            + usize::from(self.noise.is_some())
    }

    /// Bayesian information criterion on `x`: `−2·ln L + p·ln N` (lower is better).
    ///
    /// # Errors
    /// As [`GmmModel::predict_proba`].
    pub fn bic<T: Float>(&self, x: ArrayView2<T>) -> Result<f64> {
        let n = x.nrows() as f64;
        Ok(-2.0 * self.score(x)? * n + self.n_parameters() as f64 * n.ln())
    }

    /// Akaike information criterion on `x`: `−2·ln L + 2p` (lower is better).
    ///
    /// # Errors
    /// As [`GmmModel::predict_proba`].
    pub fn aic<T: Float>(&self, x: ArrayView2<T>) -> Result<f64> {
        let n = x.nrows() as f64;
        Ok(-2.0 * self.score(x)? * n + 2.0 * self.n_parameters() as f64)
    }

    /// Draws `n` samples with their component labels, grouped by component in
    /// ascending order (as scikit-learn does). The same seed gives the same samples.
    /// A noise component is not sampled (it has no region stored): the draws come from
    /// the Gaussians, in proportion to their weights.
    ///
    /// # Errors
    /// [`GmmError::IllDefinedCovariance`] if a covariance cannot be factorised.
    pub fn sample(&self, n: usize, seed: u64) -> Result<(Array2<f64>, Array1<usize>)> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let k = self.n_components();
        let d = self.n_features();
        let mut counts = vec![0usize; k];
        let cum: Vec<f64> = self
            .weights
            .iter()
            .scan(0.0, |acc, w| {
                *acc += w;
                Some(*acc)
            })
            .collect();
        let total = *cum.last().expect("k ≥ 1");
        for _ in 0..n {
            let u: f64 = rng.random::<f64>() * total;
            let c = cum.iter().position(|&c| u < c).unwrap_or(k - 1);
            counts[c] += 1;
        }
        let mut x = Array2::zeros((n, d));
        let mut labels = Array1::zeros(n);
        let mut row = 0;
        for (c, &count) in counts.iter().enumerate() {
            let l = self.sampling_factor(c)?;
            let mu = self.means.row(c);
            let mut z = vec![0.0; d];
            for _ in 0..count {
                for v in z.iter_mut() {
                    *v = rng.sample(StandardNormal);
                }
                for i in 0..d {
                    let mut v = mu[i];
                    for j in 0..=i {
                        v += l[i * d + j] * z[j];
                    }
                    x[[row, i]] = v;
                }
                labels[row] = c;
                row += 1;
            }
        }
        Ok((x, labels))
    }

    /// Lower-triangular `L` with `L Lᵀ = Σ_c` (dense, row-major).
    fn sampling_factor(&self, c: usize) -> Result<Vec<f64>> {
        let d = self.n_features();
        let mut m: Vec<f64> = self.covariances.component(c, d).into_iter().collect();
        linalg::cholesky_lower(&mut m, d).map_err(|_| {
            crate::covariance::ill_defined(c, 0.0, "its covariance is not positive definite")
        })?;
        Ok(m)
    }

    /// Serialises the model to pretty JSON (see [`ModelFile`] for the layout).
    ///
    /// # Errors
    /// [`GmmError::InvalidModel`] if a value is not finite (JSON cannot hold it).
    pub fn to_json(&self) -> Result<String> {
        self.validate()?;
        let file = ModelFile::from_model(self);
        serde_json::to_string_pretty(&file).map_err(|e| GmmError::InvalidModel {
            reason: e.to_string(),
        })
    }

    /// Loads a model written by [`GmmModel::to_json`].
    ///
    /// # Errors
    /// [`GmmError::Decode`] for malformed JSON or an unsupported `format_version`, and the
    /// errors of [`GmmModel::validate`] for inconsistent contents.
    pub fn from_json(s: &str) -> Result<Self> {
        let file: ModelFile = serde_json::from_str(s).map_err(|e| GmmError::Decode {
            what: "model JSON",
            reason: e.to_string(),
        })?;
        file.into_model()
    }
}

/// Index of the largest value (first on ties).
pub(crate) fn argmax(it: impl Iterator<Item = f64>) -> usize {
    let mut best = 0;
    let mut bv = f64::NEG_INFINITY;
    for (i, v) in it.enumerate() {
        if v > bv {
            bv = v;
            best = i;
        }
    }
    best
}

/// Version of the model JSON layout written by this library.
pub const MODEL_FORMAT_VERSION: u32 = 1;

/// Nested arrays of any depth up to 3, as JSON holds them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
enum Nested {
    D3(Vec<Vec<Vec<f64>>>),
    D2(Vec<Vec<f64>>),
    D1(Vec<f64>),
}

/// The on-disk JSON layout of a model, version [`MODEL_FORMAT_VERSION`].
///
/// `covariances` and `precisions_cholesky` are nested arrays shaped by
/// `covariance_type`: K×D×D (full), D×D (tied), K×D (diag), K (spherical), and K×D×D
/// for every other (mclust) family. A noise component adds `noise_weight` and
/// `noise_log_density`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelFile {
    /// Layout version.
    pub format_version: u32,
    /// `full`, `tied`, `diag`, `spherical`, or an mclust family (`EII`, `VEV`, ...).
    pub covariance_type: CovarianceType,
    /// K.
    pub n_components: usize,
    /// D.
    pub n_features: usize,
    /// Feature names (D).
    pub feature_names: Vec<String>,
    /// Mixture weights (K).
    pub weights: Vec<f64>,
    /// Means (K×D).
    pub means: Vec<Vec<f64>>,
    #[serde(rename = "covariances")]
    covariances_nested: Nested,
    #[serde(
        rename = "precisions_cholesky",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    factor_nested: Option<Nested>,
    /// Whether the fit converged.
    pub converged: bool,
    /// EM iterations.
    pub n_iter: usize,
    /// Final lower bound (mean log-likelihood per sample); `null` when no EM iteration ran.
    pub lower_bound: Option<f64>,
    /// Lower bound per iteration.
    pub lower_bounds: Vec<f64>,
    /// Anomaly threshold on `−ln p(x)`, for models fitted for anomaly detection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anomaly_threshold: Option<f64>,
    /// Mixing weight of the uniform noise component, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise_weight: Option<f64>,
    /// `ln(1/V)` of the noise component, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise_log_density: Option<f64>,
}

/// Every stored value as K full D×D matrices (for the mclust families in files).
fn as_full(c: &Covariances, k: usize, d: usize) -> Nested {
    Nested::D3(
        (0..k)
            .map(|c_| {
                (0..d)
                    .map(|i| (0..d).map(|j| c.entry(c_, i, j)).collect())
                    .collect()
            })
            .collect(),
    )
}

fn nested_for(ct: CovarianceType, c: &Covariances, k: usize, d: usize) -> Nested {
    if ct.is_sklearn() {
        nested(c)
    } else {
        as_full(c, k, d)
    }
}

fn nested(c: &Covariances) -> Nested {
    match c {
        Covariances::Full(a) => Nested::D3(
            a.outer_iter()
                .map(|m| m.outer_iter().map(|r| r.to_vec()).collect())
                .collect(),
        ),
        Covariances::Tied(a) | Covariances::Diag(a) => {
            Nested::D2(a.outer_iter().map(|r| r.to_vec()).collect())
        }
        Covariances::Spherical(a) => Nested::D1(a.to_vec()),
    }
}

fn decode_err(reason: String) -> GmmError {
    GmmError::Decode {
        what: "model JSON",
        reason,
    }
}

fn rect2(v: &[Vec<f64>], what: &str, rows: usize, cols: usize) -> Result<Array2<f64>> {
    if v.len() != rows || v.iter().any(|r| r.len() != cols) {
        return Err(decode_err(format!("{what} must be {rows}×{cols}")));
    }
    Ok(Array2::from_shape_fn((rows, cols), |(i, j)| v[i][j]))
}

fn unnest(n: &Nested, ct: CovarianceType, k: usize, d: usize, what: &str) -> Result<Covariances> {
    let shape_err = || {
        decode_err(format!(
            "{what} has the wrong shape for covariance type {ct} with k={k}, d={d}"
        ))
    };
    let full = |v: &Vec<Vec<Vec<f64>>>| -> Result<ndarray::Array3<f64>> {
        if v.len() != k {
            return Err(shape_err());
        }
        let mut a = ndarray::Array3::zeros((k, d, d));
        for (c, m) in v.iter().enumerate() {
            a.index_axis_mut(Axis(0), c).assign(&rect2(m, what, d, d)?);
        }
        Ok(a)
    };
    if !ct.is_sklearn() {
        // the mclust families are written as K full matrices: back to their storage
        let Nested::D3(v) = n else {
            return Err(shape_err());
        };
        let a = full(v)?;
        let off_diagonal = |c: usize| (0..d).any(|i| (0..d).any(|j| i != j && a[[c, i, j]] != 0.0));
        return Ok(match ct.storage() {
            Storage::Full => Covariances::Full(a),
            Storage::Tied => Covariances::Tied(a.index_axis(Axis(0), 0).to_owned()),
            Storage::Diag | Storage::Spherical => {
                if let Some(c) = (0..k).find(|&c| off_diagonal(c)) {
                    return Err(decode_err(format!(
                        "{what}: component {c} of a {ct} model has off-diagonal entries"
                    )));
                }
                if ct.storage() == Storage::Diag {
                    Covariances::Diag(Array2::from_shape_fn((k, d), |(c, i)| a[[c, i, i]]))
                } else {
                    Covariances::Spherical(Array1::from_shape_fn(k, |c| a[[c, 0, 0]]))
                }
            }
        });
    }
    Ok(match (ct, n) {
        (CovarianceType::Full, Nested::D3(v)) => Covariances::Full(full(v)?),
        (CovarianceType::Tied, Nested::D2(v)) => Covariances::Tied(rect2(v, what, d, d)?),
        (CovarianceType::Diag, Nested::D2(v)) => Covariances::Diag(rect2(v, what, k, d)?),
        (CovarianceType::Spherical, Nested::D1(v)) => {
            if v.len() != k {
                return Err(shape_err());
            }
            Covariances::Spherical(Array1::from(v.clone()))
        }
        _ => return Err(shape_err()),
    })
}

impl ModelFile {
    /// The file form of a model.
    pub fn from_model(m: &GmmModel) -> Self {
        ModelFile {
            format_version: MODEL_FORMAT_VERSION,
            covariance_type: m.covariance_type(),
            n_components: m.n_components(),
            n_features: m.n_features(),
            feature_names: m.feature_names.clone(),
            weights: m.weights.to_vec(),
            means: m.means.outer_iter().map(|r| r.to_vec()).collect(),
            covariances_nested: nested_for(
                m.covariance_type,
                &m.covariances,
                m.n_components(),
                m.n_features(),
            ),
            factor_nested: Some(nested_for(
                m.covariance_type,
                &m.precisions_cholesky,
                m.n_components(),
                m.n_features(),
            )),
            converged: m.info.converged,
            n_iter: m.info.n_iter,
            lower_bound: Some(m.info.lower_bound).filter(|v| v.is_finite()),
            lower_bounds: m.info.lower_bounds.clone(),
            anomaly_threshold: m.anomaly_threshold,
            noise_weight: m.noise.map(|n| n.weight),
            noise_log_density: m.noise.map(|n| n.log_density),
        }
    }

    /// Checks and converts to a model; the precision factors are recomputed from the
    /// covariances when the file has none.
    ///
    /// # Errors
    /// [`GmmError::Decode`] or the errors of [`GmmModel::validate`].
    pub fn into_model(self) -> Result<GmmModel> {
        if self.format_version > MODEL_FORMAT_VERSION {
            return Err(decode_err(format!(
                "format_version {} was written by a newer gaussmix; this one reads versions 1 to {MODEL_FORMAT_VERSION} (upgrade gaussmix)",
                self.format_version
            )));
        }
        if self.format_version == 0 {
            return Err(decode_err(
                "unknown format_version 0 (versions start at 1)".into(),
            ));
        }
        let (k, d) = (self.n_components, self.n_features);
        if k == 0 || d == 0 {
            return Err(decode_err(format!(
                "n_components = {k} and n_features = {d} must be positive"
            )));
        }
        if self.weights.len() != k {
            return Err(decode_err(format!(
                "weights has {} values, n_components is {k}",
                self.weights.len()
            )));
        }
        let means = rect2(&self.means, "means", k, d)?;
        let ct = self.covariance_type;
        let covariances = unnest(&self.covariances_nested, ct, k, d, "covariances")?;
        let factor = match &self.factor_nested {
            Some(n) => unnest(n, ct, k, d, "precisions_cholesky")?,
            None => covariances.precision_cholesky(0.0)?,
        };
        let noise = match (self.noise_weight, self.noise_log_density) {
            (Some(weight), Some(log_density)) => Some(Noise {
                weight,
                log_density,
            }),
            (None, None) => None,
            _ => {
                return Err(decode_err(
                    "noise_weight and noise_log_density must be given together".into(),
                ))
            }
        };
        let mut model = GmmModel {
            covariance_type: ct,
            noise,
            weights: Array1::from(self.weights),
            means,
            covariances,
            precisions_cholesky: factor,
            feature_names: self.feature_names,
            info: FitInfo {
                converged: self.converged,
                n_iter: self.n_iter,
                lower_bound: self.lower_bound.unwrap_or(f64::NEG_INFINITY),
                lower_bounds: self.lower_bounds,
            },
            anomaly_threshold: None,
        };
        model
            .set_anomaly_threshold(self.anomaly_threshold)
            .map_err(|e| decode_err(e.to_string()))?;
        model.validate()?;
        Ok(model)
    }
}
