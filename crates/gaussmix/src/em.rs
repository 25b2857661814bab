//! The estimator: parameters with scikit-learn's defaults, initialisation, and the EM loop.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::covariance::{CovarianceType, Covariances};
use crate::error::{GmmError, Result};
use crate::float::Float;
use crate::kmeans;
use crate::model::{FitInfo, GmmModel};
use crate::par::{Parallelism, BLOCK_ROWS};
use crate::stats::SufficientStatistics;
use crate::validate::{check_finite, check_nonempty, check_weights};

/// How the initial responsibilities (or parameters) are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum InitMethod {
    /// k-means++ seeding then Lloyd iterations; each row is assigned to its cluster.
    #[default]
    KMeans,
    /// k-means++ seeding only; each seed row alone starts a component.
    KMeansPlusPlus,
    /// Uniformly random responsibilities, normalised per row.
    Random,
    /// K distinct random rows, each alone starting a component.
    RandomFromData,
}

impl std::str::FromStr for InitMethod {
    type Err = GmmError;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().replace('_', "-").as_str() {
            "kmeans" | "k-means" => Ok(InitMethod::KMeans),
            "k-means++" | "kmeans++" => Ok(InitMethod::KMeansPlusPlus),
            "random" => Ok(InitMethod::Random),
            "random-from-data" => Ok(InitMethod::RandomFromData),
            _ => Err(GmmError::InvalidParam {
                name: "init",
                value: s.to_string(),
                reason: "must be one of kmeans, k-means++, random, random-from-data".into(),
            }),
        }
    }
}

impl std::fmt::Display for InitMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            InitMethod::KMeans => "kmeans",
            InitMethod::KMeansPlusPlus => "k-means++",
            InitMethod::Random => "random",
            InitMethod::RandomFromData => "random-from-data",
        })
    }
}

/// One EM iteration as seen by an observer (for progress bars and verbose output).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IterationEvent {
    /// Which initialisation (0-based) of `n_init`.
    pub init: usize,
    /// Iteration number within this initialisation (1-based).
    pub iter: usize,
    /// Mean log-likelihood of the parameters before this iteration's M-step.
    pub lower_bound: f64,
    /// Change from the previous iteration's lower bound.
    pub change: f64,
}

/// A flag shared with whoever may stop a fit (see [`GaussianMixture::interrupt`]); two
/// flags are equal when they are the same flag.
#[derive(Debug, Clone)]
struct StopFlag(Arc<AtomicBool>);

impl PartialEq for StopFlag {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// Gaussian mixture estimator: the parameters of a fit, with scikit-learn's defaults.
///
/// ```
/// use gaussmix::{GaussianMixture, CovarianceType};
/// use ndarray::array;
/// let x = array![[0.0, 0.1], [0.2, -0.1], [-0.1, 0.0], [5.0, 5.1], [5.2, 4.9], [4.9, 5.0]];
/// let model = GaussianMixture::new(2).covariance_type(CovarianceType::Diag).seed(0).fit(x.view())?;
/// let labels = model.predict(x.view())?;
/// assert_eq!(labels[0], labels[1]);
/// assert_ne!(labels[0], labels[3]);
/// # Ok::<(), gaussmix::GmmError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianMixture {
    n_components: usize,
    covariance_type: CovarianceType,
    tol: f64,
    reg_covar: f64,
    max_iter: usize,
    n_init: usize,
    init: InitMethod,
    seed: u64,
    weights_init: Option<Array1<f64>>,
    means_init: Option<Array2<f64>>,
    precisions_init: Option<Covariances>,
    parallelism: Parallelism,
    interrupt: Option<StopFlag>,
}

impl GaussianMixture {
    /// An estimator for `n_components` components with the defaults: full covariance,
    /// `tol = 1e-3`, `reg_covar = 1e-6`, `max_iter = 100`, `n_init = 1`, k-means
    /// initialisation, seed 0.
    pub fn new(n_components: usize) -> Self {
        GaussianMixture {
            n_components,
            covariance_type: CovarianceType::Full,
            tol: 1e-3,
            reg_covar: 1e-6,
            max_iter: 100,
            n_init: 1,
            init: InitMethod::KMeans,
            seed: 0,
            weights_init: None,
            means_init: None,
            precisions_init: None,
            parallelism: Parallelism::default(),
            interrupt: None,
        }
    }

    /// Sets the covariance type.
    pub fn covariance_type(mut self, t: CovarianceType) -> Self {
        self.covariance_type = t;
        self
    }
    /// Convergence threshold on the change of the mean log-likelihood per sample.
    pub fn tol(mut self, tol: f64) -> Self {
        self.tol = tol;
        self
    }
    /// Non-negative value added to the covariance diagonals.
    pub fn reg_covar(mut self, reg: f64) -> Self {
        self.reg_covar = reg;
        self
    }
    /// Maximum EM iterations per initialisation (0 keeps the initial parameters).
    pub fn max_iter(mut self, n: usize) -> Self {
        self.max_iter = n;
        self
    }
    /// Number of initialisations; the one with the best final lower bound is kept.
    pub fn n_init(mut self, n: usize) -> Self {
        self.n_init = n;
        self
    }
    /// Initialisation method.
    pub fn init(mut self, m: InitMethod) -> Self {
        self.init = m;
        self
    }
    /// Seed of every random choice; the same seed gives the same model for any thread count.
    pub fn seed(mut self, s: u64) -> Self {
        self.seed = s;
        self
    }
    /// Initial mixture weights (K, summing to 1).
    pub fn weights_init(mut self, w: Array1<f64>) -> Self {
        self.weights_init = Some(w);
        self
    }
    /// Initial means (K×D).
    pub fn means_init(mut self, m: Array2<f64>) -> Self {
        self.means_init = Some(m);
        self
    }
    /// Initial precisions (inverse covariances) in the shape of the covariance type.
    pub fn precisions_init(mut self, p: Covariances) -> Self {
        self.precisions_init = Some(p);
        self
    }
    /// How kernels use threads (see [`Parallelism`]).
    pub fn parallelism(mut self, p: Parallelism) -> Self {
        self.parallelism = p;
        self
    }

    /// A flag that stops the fit: when it is set (by a signal handler, another thread),
    /// the fit returns [`GmmError::Interrupted`] before its next EM iteration instead of a
    /// model. The flag is only read, never cleared.
    pub fn interrupt(mut self, flag: Arc<AtomicBool>) -> Self {
        self.interrupt = Some(StopFlag(flag));
        self
    }

    /// The number of components.
    pub fn n_components_value(&self) -> usize {
        self.n_components
    }
    /// The regularisation added to covariance diagonals.
    pub fn reg_covar_value(&self) -> f64 {
        self.reg_covar
    }

    /// Checks every parameter once.
    ///
    /// # Errors
    /// [`GmmError::InvalidParam`] naming the parameter.
    pub fn validate(&self) -> Result<()> {
        let bad = |name, value: String, reason: &str| {
            Err(GmmError::InvalidParam {
                name,
                value,
                reason: reason.into(),
            })
        };
        if self.n_components == 0 {
            return bad("n_components", "0".into(), "must be at least 1");
        }
        if !(self.tol >= 0.0 && self.tol.is_finite()) {
            return bad("tol", self.tol.to_string(), "must be a finite number ≥ 0");
        }
        if !(self.reg_covar >= 0.0 && self.reg_covar.is_finite()) {
            return bad(
                "reg_covar",
                self.reg_covar.to_string(),
                "must be a finite number ≥ 0",
            );
        }
        if self.n_init == 0 {
            return bad("n_init", "0".into(), "must be at least 1");
        }
        let k = self.n_components;
        if let Some(w) = &self.weights_init {
            if w.len() != k {
                return Err(GmmError::ShapeMismatch {
                    what: "weights_init".into(),
                    expected: format!("[{k}]"),
                    got: format!("[{}]", w.len()),
                });
            }
            if w.iter().any(|v| !(*v >= 0.0 && v.is_finite())) {
                return bad(
                    "weights_init",
                    format!("{w}"),
                    "must be finite and non-negative",
                );
            }
            if (w.sum() - 1.0).abs() > 1e-6 {
                return bad("weights_init", format!("{w}"), "must sum to 1");
            }
        }
        if let Some(m) = &self.means_init {
            if m.nrows() != k {
                return Err(GmmError::ShapeMismatch {
                    what: "means_init".into(),
                    expected: format!("[{k}, D]"),
                    got: format!("{:?}", m.shape()),
                });
            }
            if m.iter().any(|v| !v.is_finite()) {
                return bad("means_init", "…".into(), "must be finite");
            }
        }
        if let Some(p) = &self.precisions_init {
            if p.covariance_type() != self.covariance_type {
                return bad(
                    "precisions_init",
                    p.covariance_type().to_string(),
                    &format!(
                        "must have the shape of covariance type {}",
                        self.covariance_type
                    ),
                );
            }
        }
        Ok(())
    }

    /// Fits the mixture to the rows of `x` (N×D).
    ///
    /// # Errors
    /// [`GmmError::InvalidParam`], [`GmmError::EmptyData`], [`GmmError::NonFinite`],
    /// [`GmmError::TooFewSamples`], [`GmmError::ShapeMismatch`] on bad input;
    /// [`GmmError::IllDefinedCovariance`] when a component's covariance cannot be
    /// factorised (raise `reg_covar` or lower K).
    pub fn fit<T: Float>(&self, x: ArrayView2<T>) -> Result<GmmModel> {
        self.fit_observed(x, None, None, &mut |_| {})
    }

    /// Fits with a non-negative weight per row: every sum over rows is weighted, and
    /// N becomes `Σ w` (a row of weight 2 counts as two copies of it).
    ///
    /// # Errors
    /// As [`GaussianMixture::fit`], plus [`GmmError::InvalidWeights`].
    pub fn fit_weighted<T: Float>(
        &self,
        x: ArrayView2<T>,
        weights: ArrayView1<f64>,
    ) -> Result<GmmModel> {
        self.fit_observed(x, Some(weights), None, &mut |_| {})
    }

    /// Continues EM from a fitted model (scikit-learn's `warm_start`): no initialisation,
    /// `n_init` is ignored, and the convergence test starts from the model's lower bound.
    ///
    /// # Errors
    /// As [`GaussianMixture::fit_weighted`], plus [`GmmError::ShapeMismatch`] when the
    /// model does not match K, D or the covariance type.
    pub fn fit_warm<T: Float>(
        &self,
        model: &GmmModel,
        x: ArrayView2<T>,
        weights: Option<ArrayView1<f64>>,
    ) -> Result<GmmModel> {
        self.fit_observed(x, weights, Some(model), &mut |_| {})
    }

    /// The general fit: optional weights, optional warm start, and an observer called
    /// after every EM iteration.
    ///
    /// # Errors
    /// As [`GaussianMixture::fit_warm`].
    pub fn fit_observed<T: Float>(
        &self,
        x: ArrayView2<T>,
        weights: Option<ArrayView1<f64>>,
        warm: Option<&GmmModel>,
        observer: &mut dyn FnMut(&IterationEvent),
    ) -> Result<GmmModel> {
        self.validate()?;
        check_nonempty(x)?;
        check_finite(x, 0)?;
        let (n, d) = x.dim();
        if let Some(w) = weights {
            check_weights(w, n)?;
            if w.sum() <= 0.0 {
                return Err(GmmError::InvalidWeights {
                    reason: "all sample weights are zero".into(),
                });
            }
        }
        // weights are relative: bring extreme ones to a scale where N_k + 10·eps is N_k
        let rescaled = weights.and_then(|w| {
            weight_scale_exponent(w.iter().copied().fold(0.0, f64::max)).map(|e| {
                let mut w = w.to_owned();
                w.mapv_inplace(|v| scale_pow2(v, e));
                w
            })
        });
        let weights = rescaled.as_ref().map(|w| w.view()).or(weights);
        let n_pos = weights.map_or(n, |w| w.iter().filter(|v| **v > 0.0).count());
        if n_pos < self.n_components {
            return Err(GmmError::TooFewSamples {
                n_samples: n_pos,
                n_components: self.n_components,
            });
        }
        if let Some(m) = &self.means_init {
            if m.ncols() != d {
                return Err(GmmError::ShapeMismatch {
                    what: "means_init".into(),
                    expected: format!("[{}, {d}]", self.n_components),
                    got: format!("{:?}", m.shape()),
                });
            }
        }
        if let Some(p) = &self.precisions_init {
            p.check_shape("precisions_init", self.n_components, d)?;
        }
        if let Some(m) = warm {
            if m.n_components() != self.n_components
                || m.n_features() != d
                || m.covariance_type() != self.covariance_type
            {
                return Err(GmmError::ShapeMismatch {
                    what: "warm-start model".into(),
                    expected: format!("k={}, d={d}, {}", self.n_components, self.covariance_type),
                    got: format!(
                        "k={}, d={}, {}",
                        m.n_components(),
                        m.n_features(),
                        m.covariance_type()
                    ),
                });
            }
            let (mut model, info) =
                self.em(x, weights, m.clone(), m.info.lower_bound, 0, observer)?;
            model.feature_names = m.feature_names.clone();
            model.set_info(info);
            return Ok(model);
        }
        let mut best: Option<(GmmModel, FitInfo)> = None;
        for init in 0..self.n_init {
            let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
            rng.set_stream(init as u64);
            let start = self.initial_model(x, weights, &mut rng)?;
            let (model, info) = self.em(x, weights, start, f64::NEG_INFINITY, init, observer)?;
            let better = match &best {
                None => true,
                Some((_, b)) => info.lower_bound > b.lower_bound,
            };
            if better {
                best = Some((model, info));
            }
        }
        let (mut model, info) = best.expect("n_init ≥ 1");
        model.set_info(info);
        Ok(model)
    }

    /// The EM loop from `model`: E-step statistics with the current parameters (whose mean
    /// log-likelihood is the lower bound), then the M-step, until the change is below `tol`.
    fn em<T: Float>(
        &self,
        x: ArrayView2<T>,
        weights: Option<ArrayView1<f64>>,
        model: GmmModel,
        lower_bound: f64,
        init: usize,
        observer: &mut dyn FnMut(&IterationEvent),
    ) -> Result<(GmmModel, FitInfo)> {
        let par = self.parallelism;
        self.em_with(
            &mut |m| Ok(SufficientStatistics::e_step(m, x, weights, par)),
            model,
            lower_bound,
            init,
            observer,
        )
    }

    /// The EM loop around any E-step pass (in memory, or over a stream of chunks).
    fn em_with(
        &self,
        e_pass: &mut dyn FnMut(&GmmModel) -> Result<SufficientStatistics>,
        mut model: GmmModel,
        mut lower_bound: f64,
        init: usize,
        observer: &mut dyn FnMut(&IterationEvent),
    ) -> Result<(GmmModel, FitInfo)> {
        let mut info = FitInfo {
            converged: false,
            n_iter: 0,
            lower_bound,
            lower_bounds: Vec::new(),
        };
        for iter in 1..=self.max_iter {
            if self
                .interrupt
                .as_ref()
                .is_some_and(|f| f.0.load(Ordering::Relaxed))
            {
                return Err(GmmError::Interrupted);
            }
            let prev = lower_bound;
            let stats = e_pass(&model)?;
            lower_bound = stats.mean_log_likelihood();
            if !lower_bound.is_finite() {
                // some row has zero density under every component: only a start far from
                // the data (given parameters, warm start) gets here; its statistics are
                // meaningless and a −∞ bound cannot be stored in a model file
                return Err(GmmError::InvalidModel {
                    reason: format!(
                        "the parameters at EM iteration {iter} give some rows zero density under every component (mean log-likelihood {lower_bound}): start closer to the data (means_init, precisions_init, warm-start model) or rescale it"
                    ),
                });
            }
            let names = std::mem::take(&mut model.feature_names);
            model = stats.finalize(self.reg_covar)?;
            model.feature_names = names;
            info.lower_bounds.push(lower_bound);
            info.n_iter = iter;
            info.lower_bound = lower_bound;
            let change = lower_bound - prev;
            observer(&IterationEvent {
                init,
                iter,
                lower_bound,
                change,
            });
            if change.abs() < self.tol {
                info.converged = true;
                break;
            }
        }
        Ok((model, info))
    }

    /// Fits by streaming: every EM iteration reads `source` once, chunk by chunk, so
    /// memory is bounded by the chunk size, not the data. Initialisation runs the chosen
    /// method on a uniform random sample of at most `init_rows` rows (reservoir sampling in
    /// one extra pass; seeded), unless weights, means and precisions are all given.
    ///
    /// With chunks whose sizes are multiples of [`crate::STREAM_CHUNK_MULTIPLE`] rows, the
    /// model is bit-identical to [`GaussianMixture::fit_observed`] on the same rows from the
    /// same initial parameters.
    ///
    /// # Errors
    /// As [`GaussianMixture::fit_weighted`] (rows are named by their position in the
    /// stream), and [`GmmError::Source`] when the source fails.
    pub fn fit_stream(
        &self,
        source: &mut dyn crate::stream::RowSource,
        init_rows: usize,
        observer: &mut dyn FnMut(&IterationEvent),
    ) -> Result<GmmModel> {
        self.validate()?;
        let d = source.n_features();
        if d == 0 {
            return Err(GmmError::EmptyData {
                rows: 0,
                columns: 0,
            });
        }
        let all_given = self.weights_init.is_some()
            && self.means_init.is_some()
            && self.precisions_init.is_some();
        // first pass: validate, count, and sample rows for the initialisation
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(u64::MAX);
        let cap = if all_given {
            0
        } else {
            init_rows.max(self.n_components)
        };
        let mut sample = crate::stream::Reservoir::new(cap, d);
        let (mut n, mut n_pos, mut wsum, mut wmax) = (0usize, 0usize, 0.0, 0.0f64);
        source.reset()?;
        while let Some(chunk) = source.next_chunk()? {
            crate::stream::check_chunk(&chunk, d, n)?;
            let w = chunk.weights.as_ref().map(|w| w.view());
            n_pos += w.map_or(chunk.x.nrows(), |w| w.iter().filter(|v| **v > 0.0).count());
            wsum += w.map_or(chunk.x.nrows() as f64, |w| w.sum());
            wmax = w.map_or(wmax.max(1.0), |w| w.iter().copied().fold(wmax, f64::max));
            sample.offer(chunk.x.view(), w, &mut rng);
            n += chunk.x.nrows();
        }
        if n == 0 {
            return Err(GmmError::EmptyData {
                rows: 0,
                columns: d,
            });
        }
        if wsum <= 0.0 {
            return Err(GmmError::InvalidWeights {
                reason: "all sample weights are zero".into(),
            });
        }
        if n_pos < self.n_components {
            return Err(GmmError::TooFewSamples {
                n_samples: n_pos,
                n_components: self.n_components,
            });
        }
        let (xs, mut ws) = sample.into_parts();
        // weights are relative: rescaled as in the in-memory fit
        let wexp = weight_scale_exponent(wmax);
        if let (Some(e), Some(w)) = (wexp, ws.as_mut()) {
            w.mapv_inplace(|v| scale_pow2(v, e));
        }
        let par = self.parallelism;
        let mut pass = |m: &GmmModel| -> Result<SufficientStatistics> {
            let mut total = SufficientStatistics::zeros(m.covariance_type(), m.means.clone());
            // the kernel constants once per pass, not once per chunk
            let prep = crate::kernels::Prepared::new(m);
            source.reset()?;
            let mut row = 0;
            while let Some(mut chunk) = source.next_chunk()? {
                crate::stream::check_chunk(&chunk, d, row)?;
                if let (Some(e), Some(w)) = (wexp, chunk.weights.as_mut()) {
                    w.mapv_inplace(|v| scale_pow2(v, e));
                }
                total.accumulate_prepared(
                    m,
                    &prep,
                    chunk.x.view(),
                    chunk.weights.as_ref().map(|w| w.view()),
                    par,
                );
                row += chunk.x.nrows();
            }
            if row != n {
                return Err(GmmError::Source { reason: format!("the source gave {row} rows on this pass but {n} on the first (did the file change?)") });
            }
            Ok(total)
        };
        let mut best: Option<(GmmModel, FitInfo)> = None;
        for init in 0..self.n_init {
            let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
            rng.set_stream(init as u64);
            let start = if all_given {
                self.initial_model(ndarray::Array2::<f64>::zeros((0, d)).view(), None, &mut rng)?
            } else {
                self.initial_model(xs.view(), ws.as_ref().map(|w| w.view()), &mut rng)?
            };
            let (model, info) =
                self.em_with(&mut pass, start, f64::NEG_INFINITY, init, observer)?;
            if best
                .as_ref()
                .is_none_or(|(_, b)| info.lower_bound > b.lower_bound)
            {
                best = Some((model, info));
            }
        }
        let (mut model, info) = best.expect("n_init ≥ 1");
        model.set_info(info);
        Ok(model)
    }

    /// Initial parameters: from responsibilities chosen by the init method, then
    /// overridden by any user-given weights, means and precisions.
    fn initial_model<T: Float>(
        &self,
        x: ArrayView2<T>,
        weights: Option<ArrayView1<f64>>,
        rng: &mut ChaCha8Rng,
    ) -> Result<GmmModel> {
        let k = self.n_components;
        let d = x.ncols();
        let all_given = self.weights_init.is_some()
            && self.means_init.is_some()
            && self.precisions_init.is_some();
        let par = self.parallelism;
        let mut model = if all_given {
            // placeholder parameters, all overridden below
            let cov = match self.covariance_type {
                CovarianceType::Full => {
                    Covariances::Full(ndarray::Array3::from_shape_fn((k, d, d), |(_, i, j)| {
                        f64::from(u8::from(i == j))
                    }))
                }
                CovarianceType::Tied => Covariances::Tied(Array2::eye(d)),
                CovarianceType::Diag => Covariances::Diag(Array2::ones((k, d))),
                CovarianceType::Spherical => Covariances::Spherical(Array1::ones(k)),
            };
            let f = cov.clone();
            GmmModel::from_parts_unchecked(
                Array1::from_elem(k, 1.0 / k as f64),
                Array2::zeros((k, d)),
                cov,
                f,
            )?
        } else {
            match self.responsibilities(x, weights, rng) {
                InitResp::Labels(labels) => SufficientStatistics::from_labels(
                    self.covariance_type,
                    x,
                    weights,
                    &labels,
                    k,
                    par,
                )
                .finalize(self.reg_covar)?,
                InitResp::Dense(fill) => {
                    // two passes: the component means first, then moments about them
                    // (exact even for data far from the origin)
                    let zero = Array2::zeros((k, d));
                    let first = SufficientStatistics::from_responsibilities(
                        self.covariance_type,
                        zero,
                        x,
                        weights,
                        par,
                        &*fill,
                    );
                    let mut shift = Array2::zeros((k, d));
                    for c in 0..k {
                        let nk = first.nk[c] + crate::stats::NK_EPS;
                        shift.row_mut(c).assign(&(&first.s1.row(c) / nk));
                    }
                    SufficientStatistics::from_responsibilities(
                        self.covariance_type,
                        shift,
                        x,
                        weights,
                        par,
                        &*fill,
                    )
                    .finalize(self.reg_covar)?
                }
            }
        };
        if let Some(w) = &self.weights_init {
            model.weights = w.clone();
        }
        if let Some(m) = &self.means_init {
            model.means = m.clone();
        }
        if let Some(p) = &self.precisions_init {
            let factor = p.factor_from_precisions()?;
            model.covariances = factor.covariances_from_factor();
            model.precisions_cholesky = factor;
        }
        Ok(model)
    }

    /// A block-wise filler of initial responsibilities for the chosen method.
    fn responsibilities<T: Float>(
        &self,
        x: ArrayView2<T>,
        weights: Option<ArrayView1<f64>>,
        rng: &mut ChaCha8Rng,
    ) -> InitResp {
        let k = self.n_components;
        let n = x.nrows();
        match self.init {
            InitMethod::KMeans => {
                let seeds = kmeans::kmeans_plusplus(x, weights, k, rng, self.parallelism);
                let centers =
                    Array2::from_shape_fn((k, x.ncols()), |(c, j)| x[[seeds[c], j]].to_f64());
                InitResp::Labels(kmeans::lloyd(x, weights, centers, 300, self.parallelism).labels)
            }
            InitMethod::KMeansPlusPlus | InitMethod::RandomFromData => {
                let seeds = if self.init == InitMethod::KMeansPlusPlus {
                    kmeans::kmeans_plusplus(x, weights, k, rng, self.parallelism)
                } else {
                    // k distinct rows among those with positive weight (partial Fisher–Yates)
                    let mut idx: Vec<usize> = (0..n)
                        .filter(|&i| weights.is_none_or(|w| w[i] > 0.0))
                        .collect();
                    for c in 0..k {
                        let j = rng.random_range(c..idx.len());
                        idx.swap(c, j);
                    }
                    idx.truncate(k);
                    idx
                };
                let mut labels = vec![usize::MAX; n];
                for (c, &i) in seeds.iter().enumerate() {
                    labels[i] = c;
                }
                InitResp::Labels(labels)
            }
            InitMethod::Random => {
                let base: u64 = rng.random();
                InitResp::Dense(Box::new(move |s, mut g| {
                    // one generator per fixed block: independent of the thread count
                    let mut r = ChaCha8Rng::seed_from_u64(base);
                    r.set_stream((s / BLOCK_ROWS) as u64);
                    for mut row in g.rows_mut() {
                        let mut sum = 0.0;
                        for v in row.iter_mut() {
                            *v = r.random::<f64>();
                            sum += *v;
                        }
                        row /= sum;
                    }
                }))
            }
        }
    }
}

/// Sample weights are relative (multiplying them all by a constant leaves the model
/// unchanged), but scikit-learn's `N_k + 10·eps` guard is absolute: with weights of
/// 1e-300 every `N_k` is swamped by it. When the largest weight is outside
/// `[2⁻¹⁶, 2⁶⁴]`, the weights are multiplied by the power of two (exact) that brings it
/// into `[1, 2)`; this returns that power's exponent, or `None` to leave them as they are.
fn weight_scale_exponent(max_weight: f64) -> Option<i32> {
    if !(max_weight > 0.0 && max_weight.is_finite())
        || (2f64.powi(-16)..=2f64.powi(64)).contains(&max_weight)
    {
        return None;
    }
    Some(-(max_weight.log2().floor() as i32))
}

/// `v · 2^e`, exact (in steps, since 2^e alone may not be representable).
fn scale_pow2(mut v: f64, mut e: i32) -> f64 {
    while e != 0 {
        let step = e.clamp(-1000, 1000);
        v *= 2f64.powi(step);
        e -= step;
    }
    v
}

/// Initial responsibilities: hard labels (`usize::MAX` for a row that starts no
/// component), or a block-wise filler of soft ones.
enum InitResp {
    Labels(Vec<usize>),
    Dense(Box<Filler>),
}

/// Writes the responsibilities of the rows starting at the given one.
type Filler = dyn Fn(usize, ArrayViewMut2<f64>) + Sync;

#[cfg(test)]
mod interrupt_tests {
    use super::*;
    use ndarray::array;

    fn data() -> Array2<f64> {
        array![
            [0.0, 0.1],
            [0.2, -0.1],
            [-0.1, 0.0],
            [5.0, 5.1],
            [5.2, 4.9],
            [4.9, 5.0]
        ]
    }

    /// Expected: a flag set before the fit stops it before the first iteration; one set
    /// by the observer during iteration 3 stops it before iteration 4; an unset flag
    /// changes nothing.
    #[test]
    fn interrupt_flag_stops_the_fit() {
        let x = data();
        let g = GaussianMixture::new(2).tol(0.0).max_iter(50);
        let flag = Arc::new(AtomicBool::new(true));
        let mut seen = 0;
        let r = g
            .clone()
            .interrupt(flag.clone())
            .fit_observed(x.view(), None, None, &mut |_| seen += 1);
        assert_eq!(r.unwrap_err(), GmmError::Interrupted);
        assert_eq!(seen, 0);

        flag.store(false, Ordering::Relaxed);
        let mut seen = 0;
        let stopper = flag.clone();
        let r = g
            .clone()
            .interrupt(flag.clone())
            .fit_observed(x.view(), None, None, &mut |e| {
                seen += 1;
                if e.iter == 3 {
                    stopper.store(true, Ordering::Relaxed);
                }
            });
        assert_eq!(r.unwrap_err(), GmmError::Interrupted);
        assert_eq!(seen, 3);

        let unset = Arc::new(AtomicBool::new(false));
        let a = g.clone().interrupt(unset).fit(x.view()).unwrap();
        let b = g.fit(x.view()).unwrap();
        assert_eq!(a, b);
    }

    /// Expected: the streaming fit obeys the flag the same way.
    #[test]
    fn interrupt_flag_stops_a_streaming_fit() {
        let x = data();
        let flag = Arc::new(AtomicBool::new(false));
        let stopper = flag.clone();
        let mut src = crate::stream::ArraySource::new(x.view(), None, 4);
        let r = GaussianMixture::new(2)
            .tol(0.0)
            .max_iter(50)
            .interrupt(flag)
            .fit_stream(&mut src, 100, &mut |e| {
                if e.iter == 2 {
                    stopper.store(true, Ordering::Relaxed);
                }
            });
        assert_eq!(r.unwrap_err(), GmmError::Interrupted);
    }
}
