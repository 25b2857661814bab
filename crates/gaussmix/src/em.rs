//! The estimator: parameters with scikit-learn's defaults, initialisation, and the EM loop.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::checkpoint::{text_fingerprint, Checkpointer, Fingerprinter, LoopStart, LoopView};
use crate::covariance::family::Prior;
use crate::covariance::{CovarianceType, Covariances, Storage};
use crate::degenerate::{degenerate_components, DegeneratePolicy, MAX_RESEEDS};
use crate::error::{GmmError, Result};
pub use crate::event::IterationEvent;
use crate::float::Float;
use crate::kmeans;
use crate::missing::{Gaps, MissingValues};
use crate::model::{FitInfo, GmmModel, Noise};
use crate::par::{Parallelism, BLOCK_ROWS};
use crate::stats::{MStepOptions, SufficientStatistics};
use crate::summary::DataSummary;
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
    /// mclust's model-based hierarchical agglomeration (VVV criterion) on the rows
    /// standardised and rotated onto scaled principal axes, cut at K clusters; on at most
    /// [`HC_MAX_ROWS`] rows (a seeded uniform subset of larger data, as mclust does).
    Hc,
}

/// Rows the hierarchical initialisation works on (mclust's `subset` option): larger data
/// are subsampled, uniformly and seeded.
pub const HC_MAX_ROWS: usize = 2000;

/// On which scale the initialisation (k-means, k-means++, random rows) chooses its
/// partition; the statistics that start EM are always taken on the data as given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum InitScaling {
    /// The data as given (scikit-learn's choice).
    #[default]
    Raw,
    /// Each feature centred and divided by its standard deviation, so that a feature
    /// measured in large units does not decide the partition alone.
    Standardized,
}

/// What a fit does when an M-step *during* EM gives an ill-defined covariance (a component
/// on a single row, or on coincident rows, with `reg_covar` too small to lift it). A
/// failure of the initialisation's own M-step is always an error: there are no parameters
/// to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum IllDefinedPolicy {
    /// Fail with [`GmmError::IllDefinedCovariance`] naming the component.
    #[default]
    Error,
    /// Stop this initialisation with the parameters before the failed M-step (those whose
    /// mean log-likelihood is the last lower bound): `converged = false`, `n_iter` counts
    /// the iteration whose M-step failed. With `n_init > 1` the start competes with the
    /// others by its lower bound. scikit-learn's raw-moment M-step usually rounds such a
    /// variance to a tiny positive number and goes on; this keeps the last valid
    /// parameters instead (its #18216 case).
    KeepPrevious,
}

impl std::str::FromStr for IllDefinedPolicy {
    type Err = GmmError;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().replace('_', "-").as_str() {
            "error" => Ok(IllDefinedPolicy::Error),
            "keep-previous" => Ok(IllDefinedPolicy::KeepPrevious),
            _ => Err(GmmError::InvalidParam {
                name: "ill_defined",
                value: s.to_string(),
                reason: "must be one of error, keep-previous".into(),
            }),
        }
    }
}

/// The conjugate prior of a MAP fit.
#[derive(Debug, Clone, PartialEq)]
pub enum PriorChoice {
    /// mclust's default hyperparameters (`priorControl()`), computed from the data:
    /// shrinkage 0.01, the data mean, D + 2 degrees of freedom, and the data covariance
    /// divided by `K^{2/D}` (its mean variance for the diagonal families).
    Mclust,
    /// Hyperparameters given explicitly.
    Given(Prior),
}

impl std::str::FromStr for InitMethod {
    type Err = GmmError;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().replace('_', "-").as_str() {
            "kmeans" | "k-means" => Ok(InitMethod::KMeans),
            "k-means++" | "kmeans++" => Ok(InitMethod::KMeansPlusPlus),
            "random" => Ok(InitMethod::Random),
            "random-from-data" => Ok(InitMethod::RandomFromData),
            "hc" => Ok(InitMethod::Hc),
            _ => Err(GmmError::InvalidParam {
                name: "init",
                value: s.to_string(),
                reason: "must be one of kmeans, k-means++, random, random-from-data, hc".into(),
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
            InitMethod::Hc => "hc",
        })
    }
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
    prior: Option<PriorChoice>,
    noise: bool,
    noise_init: f64,
    equal_weights: bool,
    fix_weights: bool,
    fix_means: bool,
    fix_covariances: bool,
    degenerate: DegeneratePolicy,
    ill_defined: IllDefinedPolicy,
    init_scaling: InitScaling,
    hc_tree: Option<Arc<HcTree>>,
    inner_tol: Option<f64>,
    missing: MissingValues,
    accelerate: bool,
    labels_init: Option<Arc<Vec<usize>>>,
}

/// The merge tree of the hierarchical initialisation ([`InitMethod::Hc`]) of one data
/// set: build it once and share it (with [`GaussianMixture::hc_tree`]) between fits of
/// different K or families on the same rows, as model selection does.
#[derive(Debug, Clone, PartialEq)]
pub struct HcTree {
    n_rows: usize,
    /// The rows agglomerated (all, or a seeded subset of [`HC_MAX_ROWS`]).
    rows: Vec<usize>,
    merges: Vec<(usize, usize)>,
    /// Whether merges of exactly equal cost were met (rounded data), so that another rule
    /// for ties could give another tree.
    tied: bool,
}

impl HcTree {
    /// Agglomerates the rows of `x` (rows of zero weight left out; a seeded uniform
    /// subset of [`HC_MAX_ROWS`] rows of larger data). Merges of equal cost are taken in
    /// mclust's order, so that the tree is mclust's `hc(x, "VVV", use = "SVD")`.
    pub fn build<T: Float>(x: ArrayView2<T>, weights: Option<ArrayView1<f64>>, seed: u64) -> Self {
        Self::build_ties(x, weights, seed, crate::hc::Ties::Mclust)
    }

    /// [`HcTree::build`] with another rule for merges of equal cost.
    pub(crate) fn build_ties<T: Float>(
        x: ArrayView2<T>,
        weights: Option<ArrayView1<f64>>,
        seed: u64,
        ties: crate::hc::Ties,
    ) -> Self {
        let n = x.nrows();
        let rows = subset_rows(n, weights, seed);
        let sub = x.select(ndarray::Axis(0), &rows);
        let (z, dz) = crate::hc::svd_scaled(sub.view());
        let (merges, tied) = crate::hc::agglomerate(&z, rows.len(), dz, ties);
        HcTree {
            n_rows: n,
            rows,
            merges,
            tied,
        }
    }

    /// Whether the agglomeration met merges of exactly equal cost.
    pub(crate) fn tied(&self) -> bool {
        self.tied
    }

    /// Labels of every row for the cut at `k` clusters (`usize::MAX` for rows outside the
    /// agglomerated subset).
    pub fn labels(&self, k: usize) -> Vec<usize> {
        let cut = crate::hc::cut(&self.merges, self.rows.len(), k);
        let mut labels = vec![usize::MAX; self.n_rows];
        for (i, &r) in self.rows.iter().enumerate() {
            labels[r] = cut[i];
        }
        labels
    }
}

/// The rows of positive weight, or a seeded uniform subset of [`HC_MAX_ROWS`] of them
/// (sorted).
pub(crate) fn subset_rows(n: usize, weights: Option<ArrayView1<f64>>, seed: u64) -> Vec<usize> {
    let mut rows: Vec<usize> = (0..n)
        .filter(|&i| weights.is_none_or(|w| w[i] > 0.0))
        .collect();
    if rows.len() > HC_MAX_ROWS {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(u64::MAX - 1);
        for c in 0..HC_MAX_ROWS {
            let j = rng.random_range(c..rows.len());
            rows.swap(c, j);
        }
        rows.truncate(HC_MAX_ROWS);
        rows.sort_unstable();
    }
    rows
}

/// What a fit computes once from its data, beyond the parameters.
struct Resolved {
    mstep: MStepOptions,
    noise_log_density: Option<f64>,
    /// Per-feature variances, grains and the total weight, for the degeneracy test.
    scale: Option<(Vec<f64>, f64)>,
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
            prior: None,
            noise: false,
            noise_init: 0.1,
            equal_weights: false,
            fix_weights: false,
            fix_means: false,
            fix_covariances: false,
            degenerate: DegeneratePolicy::Keep,
            ill_defined: IllDefinedPolicy::Error,
            init_scaling: InitScaling::Raw,
            hc_tree: None,
            inner_tol: None,
            missing: MissingValues::Error,
            accelerate: false,
            labels_init: None,
        }
    }

    /// SQUAREM acceleration of EM (default off: scikit-learn's iterates). Same fixed
    /// points, monotone accepted bounds, usually far fewer E-steps on slowly converging
    /// fits; `n_iter` then counts E-steps. Without effect under a prior or the `reseed` and
    /// `drop` degeneracy policies. See the `accel` module notes in the crate source.
    pub fn accelerate(mut self, on: bool) -> Self {
        self.accelerate = on;
        self
    }

    /// A start partition (one label per row, `usize::MAX` for a row left out), used
    /// instead of the initialisation method: model selection computes each start once per
    /// K and shares it between families.
    pub(crate) fn labels_init(mut self, labels: Arc<Vec<usize>>) -> Self {
        self.labels_init = Some(labels);
        self
    }

    /// The partition the initialisation of `fit` would start from on these rows (the
    /// first of `n_init`), when it is a hard one; it does not depend on the family.
    pub(crate) fn start_labels<T: Float>(
        &self,
        x: ArrayView2<T>,
        weights: Option<ArrayView1<f64>>,
    ) -> Option<Vec<usize>> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(0);
        match self.responsibilities(x, weights, &mut rng) {
            InitResp::Labels(l) => Some(l),
            InitResp::Dense(_) => None,
        }
    }

    /// Tolerance of the inner iterations of the M-steps of VEI, VEE, VEV, EVE and VVE
    /// (default mclust's, `√ε`). A looser one makes every EM iteration cheaper and still
    /// raises the likelihood (a generalised EM step); the fixed points are the same.
    pub fn inner_tol(mut self, tol: f64) -> Self {
        self.inner_tol = Some(tol);
        self
    }

    /// What the fit does with missing entries (NaN) in the data: an error by default
    /// (as scikit-learn), or masked EM with [`MissingValues::Em`] (see
    /// [`crate::missing`]). Infinities are errors either way.
    pub fn missing(mut self, policy: MissingValues) -> Self {
        self.missing = policy;
        self
    }

    /// The missing-values policy.
    pub fn missing_value(&self) -> MissingValues {
        self.missing
    }

    /// A precomputed merge tree for [`InitMethod::Hc`] (used when it was built on data
    /// with the same number of rows as the fit's).
    pub fn hc_tree(mut self, tree: Arc<HcTree>) -> Self {
        self.hc_tree = Some(tree);
        self
    }

    /// A conjugate prior: EM then finds the posterior mode (MAP EM, Fraley & Raftery
    /// 2007), which keeps components off the spikes that tied or discrete values create.
    /// mclust offers no prior for EVE, VEE, VVE and EVV; for those the fit uses the exact
    /// posterior mode under the family's constraint (see [`crate::covariance::family`]).
    pub fn prior(mut self, prior: PriorChoice) -> Self {
        self.prior = Some(prior);
        self
    }

    /// Adds a uniform noise component (Banfield & Raftery 1993) of density `1/V` over the
    /// data's region (V: mclust's `hypvol`, the smaller of the bounding-box volumes of the
    /// data and of its principal components), whose weight EM estimates. It starts with
    /// weight `noise_init` (default 0.1) taken evenly from the Gaussians.
    pub fn noise(mut self, on: bool) -> Self {
        self.noise = on;
        self
    }

    /// Initial weight of the noise component (in (0, 1)).
    pub fn noise_init(mut self, w: f64) -> Self {
        self.noise_init = w;
        self
    }

    /// All mixing proportions equal, `(1 − π_0)/K` (mclust's equal-proportion models).
    pub fn equal_weights(mut self, on: bool) -> Self {
        self.equal_weights = on;
        self
    }

    /// Hold the initial weights (`weights_init`) fixed during EM.
    pub fn fix_weights(mut self, on: bool) -> Self {
        self.fix_weights = on;
        self
    }

    /// Hold the initial means (`means_init`) fixed during EM: covariances are estimated
    /// about them.
    pub fn fix_means(mut self, on: bool) -> Self {
        self.fix_means = on;
        self
    }

    /// Hold the initial covariances (`precisions_init`) fixed during EM.
    pub fn fix_covariances(mut self, on: bool) -> Self {
        self.fix_covariances = on;
        self
    }

    /// What to do about degenerate components (see [`crate::degenerate`]).
    pub fn degenerate(mut self, policy: DegeneratePolicy) -> Self {
        self.degenerate = policy;
        self
    }

    /// What to do when an M-step during EM gives an ill-defined covariance (default:
    /// fail; see [`IllDefinedPolicy`]).
    pub fn ill_defined(mut self, policy: IllDefinedPolicy) -> Self {
        self.ill_defined = policy;
        self
    }

    /// The scale on which the initialisation partitions the rows.
    pub fn init_scaling(mut self, s: InitScaling) -> Self {
        self.init_scaling = s;
        self
    }

    /// The covariance type.
    pub fn covariance_type_value(&self) -> CovarianceType {
        self.covariance_type
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
    /// The number of initialisations.
    pub fn n_init_value(&self) -> usize {
        self.n_init
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
            if p.storage() != self.covariance_type.storage() {
                return bad(
                    "precisions_init",
                    format!("{:?}", p.storage()),
                    &format!(
                        "must have the shape of covariance type {} ({:?})",
                        self.covariance_type,
                        self.covariance_type.storage()
                    ),
                );
            }
        }
        if let Some(t) = self.inner_tol {
            if !(t > 0.0 && t.is_finite()) {
                return bad(
                    "inner_tol",
                    t.to_string(),
                    "must be a positive finite number",
                );
            }
        }
        if self.noise && !(self.noise_init > 0.0 && self.noise_init < 1.0) {
            return bad(
                "noise_init",
                self.noise_init.to_string(),
                "must be in (0, 1)",
            );
        }
        for (on, given, name) in [
            (self.fix_weights, self.weights_init.is_some(), "fix_weights"),
            (self.fix_means, self.means_init.is_some(), "fix_means"),
            (
                self.fix_covariances,
                self.precisions_init.is_some(),
                "fix_covariances",
            ),
        ] {
            if on && !given {
                return bad(
                    name,
                    "true".into(),
                    "needs the initial value to hold (weights_init, means_init or precisions_init)",
                );
            }
        }
        if self.fix_weights && self.equal_weights {
            return bad(
                "equal_weights",
                "true".into(),
                "cannot be combined with fix_weights",
            );
        }
        if let Some(PriorChoice::Given(p)) = &self.prior {
            p.validate(self.covariance_type.family(), p.mean.len())?;
        }
        Ok(())
    }

    /// Whether the family can be fitted to `n` rows in `d` dimensions with K components.
    ///
    /// # Errors
    /// [`GmmError::InvalidParam`] naming the family and why: in one dimension only EII
    /// and VII (and scikit-learn's four types) are distinct models; a model with more
    /// free parameters than rows cannot be estimated.
    pub fn check_estimable(&self, n: usize, d: usize) -> Result<()> {
        let ct = self.covariance_type;
        if d == 1 && !ct.is_sklearn() && ct != CovarianceType::EII {
            return Err(GmmError::InvalidParam {
                name: "covariance_type",
                value: ct.to_string(),
                reason: "in one dimension a family is EII (equal variances) or VII (variable): use one of those".into(),
            });
        }
        let k = self.n_components;
        let p = ct.n_covariance_parameters(k, d) + k * d + k - 1 + usize::from(self.noise);
        if !ct.is_sklearn() && p > n {
            return Err(GmmError::InvalidParam {
                name: "covariance_type",
                value: ct.to_string(),
                reason: format!(
                    "{ct} with {k} components in {d} dimensions has {p} free parameters, more than the {n} rows"
                ),
            });
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
        self.fit_general(x, weights, warm, observer, None)
    }

    /// [`GaussianMixture::fit_observed`] (no warm start) with checkpoints: the state of
    /// EM goes to `checkpoints` as it asks, and a fit resumed from one of them ends with
    /// the same model, bit for bit, as one never interrupted (see [`crate::checkpoint`]).
    ///
    /// # Errors
    /// As [`GaussianMixture::fit_weighted`]; [`GmmError::InvalidParam`] (`resume`) for a
    /// checkpoint of other data or options, naming what differs; the sink's errors.
    pub fn fit_checkpointed<T: Float>(
        &self,
        x: ArrayView2<T>,
        weights: Option<ArrayView1<f64>>,
        observer: &mut dyn FnMut(&IterationEvent),
        checkpoints: &mut Checkpointer<'_>,
    ) -> Result<GmmModel> {
        self.fit_general(x, weights, None, observer, Some(checkpoints))
    }

    /// The options that decide a fit's result, for checkpoints (the thread count and the
    /// interrupt flag do not; arrays by fingerprint).
    fn checkpoint_options(&self, mode: &str) -> BTreeMap<String, String> {
        let arr = |v: Option<String>| v.map_or("none".to_string(), |s| text_fingerprint(&s));
        [
            ("mode", mode.to_string()),
            ("n_components", self.n_components.to_string()),
            ("covariance_type", self.covariance_type.to_string()),
            ("tol", format!("{:?}", self.tol)),
            ("reg_covar", format!("{:?}", self.reg_covar)),
            ("max_iter", self.max_iter.to_string()),
            ("n_init", self.n_init.to_string()),
            ("init", self.init.to_string()),
            ("seed", self.seed.to_string()),
            (
                "weights_init",
                arr(self.weights_init.as_ref().map(|a| format!("{a:?}"))),
            ),
            (
                "means_init",
                arr(self.means_init.as_ref().map(|a| format!("{a:?}"))),
            ),
            (
                "precisions_init",
                arr(self.precisions_init.as_ref().map(|a| format!("{a:?}"))),
            ),
            ("prior", arr(self.prior.as_ref().map(|p| format!("{p:?}")))),
            ("noise", format!("{} {:?}", self.noise, self.noise_init)),
            ("equal_weights", self.equal_weights.to_string()),
            (
                "fixed",
                format!(
                    "{} {} {}",
                    self.fix_weights, self.fix_means, self.fix_covariances
                ),
            ),
            ("degenerate", format!("{:?}", self.degenerate)),
            ("ill_defined", format!("{:?}", self.ill_defined)),
            ("init_scaling", format!("{:?}", self.init_scaling)),
            ("hc_tree", self.hc_tree.is_some().to_string()),
            ("inner_tol", format!("{:?}", self.inner_tol)),
            ("missing", format!("{:?}", self.missing)),
            ("accelerate", self.accelerate.to_string()),
            (
                "labels_init",
                arr(self.labels_init.as_ref().map(|l| format!("{l:?}"))),
            ),
            ("kernel", crate::kernels::Level::detect().name().to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// The fit behind [`GaussianMixture::fit_observed`] and
    /// [`GaussianMixture::fit_checkpointed`].
    fn fit_general<T: Float>(
        &self,
        x: ArrayView2<T>,
        weights: Option<ArrayView1<f64>>,
        warm: Option<&GmmModel>,
        observer: &mut dyn FnMut(&IterationEvent),
        mut ckpt: Option<&mut Checkpointer<'_>>,
    ) -> Result<GmmModel> {
        self.validate()?;
        check_nonempty(x)?;
        if let Some(c) = ckpt.as_deref_mut() {
            // the data as given (gaps and all, before the weights' rescaling), as a
            // stream sees them
            if let Some(w) = weights {
                check_weights(w, x.nrows())?;
            }
            let mut f = Fingerprinter::new(x.ncols());
            f.add(x, weights);
            c.data = Some(f.finish());
            c.options = self.checkpoint_options("memory");
        }
        if self.missing == MissingValues::Em {
            if let Some(gaps) = Gaps::find(x, 0, true)? {
                if self.noise {
                    return Err(GmmError::InvalidParam {
                        name: "noise",
                        value: "true".into(),
                        reason: "a uniform noise component cannot be combined with missing values (its density has no marginal)".into(),
                    });
                }
                // the initialisation sees the rows mean-imputed; EM sees the gaps
                let start = crate::missing::mean_imputed(x);
                return self.fit_checked(start.view(), weights, warm, observer, Some(&gaps), ckpt);
            }
        }
        check_finite(x, 0)?;
        self.fit_checked(x, weights, warm, observer, None, ckpt)
    }

    /// [`GaussianMixture::fit_observed`] on finite data; with `gaps`, `x` is the start of
    /// the initialisation and the E-steps are masked.
    fn fit_checked<T: Float>(
        &self,
        x: ArrayView2<T>,
        weights: Option<ArrayView1<f64>>,
        warm: Option<&GmmModel>,
        observer: &mut dyn FnMut(&IterationEvent),
        gaps: Option<&Gaps>,
        ckpt: Option<&mut Checkpointer<'_>>,
    ) -> Result<GmmModel> {
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
        self.check_estimable(n_pos, d)?;
        let res = self.resolve(x, weights)?;
        let par = self.parallelism;
        let mut pass = |m: &GmmModel| match gaps {
            Some(g) => g.e_step(m, weights, par),
            None => Ok(SufficientStatistics::e_step(m, x, weights, par)),
        };
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
                self.em_with(&mut pass, m.clone(), m.info.lower_bound, 0, observer, &res)?;
            model.feature_names = m.feature_names.clone();
            model.set_info(info);
            return Ok(model);
        }
        self.run_inits(
            &mut |rng: &mut ChaCha8Rng| self.initial_model(x, weights, rng, &res),
            &mut pass,
            observer,
            &res,
            ckpt,
        )
    }

    /// The `n_init` initialisations, each run to the end, keeping the best; from a
    /// checkpoint, the initialisations before the resumed one are skipped (the best of
    /// them is in the checkpoint) and the resumed one continues where it was.
    fn run_inits(
        &self,
        initial: &mut dyn FnMut(&mut ChaCha8Rng) -> Result<GmmModel>,
        pass: &mut dyn FnMut(&GmmModel) -> Result<SufficientStatistics>,
        observer: &mut dyn FnMut(&IterationEvent),
        res: &Resolved,
        mut ckpt: Option<&mut Checkpointer<'_>>,
    ) -> Result<GmmModel> {
        let mut resumed = match ckpt.as_deref_mut() {
            Some(c) => c.take_resume()?,
            None => None,
        };
        let mut best: Option<(GmmModel, FitInfo)> = ckpt.as_deref_mut().and_then(|c| c.best.take());
        for init in 0..self.n_init {
            if resumed.as_ref().is_some_and(|(i, _)| init < *i) {
                continue;
            }
            let start = match resumed.take() {
                Some((_, start)) => start,
                None => {
                    let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
                    rng.set_stream(init as u64);
                    LoopStart::fresh(initial(&mut rng)?, f64::NEG_INFINITY)
                }
            };
            if let Some(c) = ckpt.as_deref_mut() {
                c.best.clone_from(&best);
            }
            let (model, info) =
                self.em_loop(pass, start, init, observer, res, ckpt.as_deref_mut())?;
            if best
                .as_ref()
                .is_none_or(|(_, b)| improves(info.lower_bound, b.lower_bound))
            {
                best = Some((model, info));
            }
        }
        let (mut model, info) = best.expect("n_init ≥ 1");
        model.set_info(info);
        Ok(model)
    }

    /// The parallelism of the fit.
    pub(crate) fn parallelism_value(&self) -> Parallelism {
        self.parallelism
    }

    /// The same options for another K.
    pub(crate) fn with_n_components(mut self, k: usize) -> Self {
        self.n_components = k;
        self
    }

    /// The M-step options a fit on these rows would use (prior hyperparameters from
    /// them), and the parallelism: what online EM ([`crate::online`]) takes from the
    /// builder.
    pub(crate) fn online_parts<T: Float>(
        &self,
        x: ArrayView2<T>,
        weights: Option<ArrayView1<f64>>,
    ) -> Result<(MStepOptions, Parallelism)> {
        Ok((self.resolve(x, weights)?.mstep, self.parallelism))
    }

    /// What the fit needs from the data besides the initialisation: the prior's
    /// hyperparameters, the noise component's volume, the scale of the degeneracy test.
    fn resolve<T: Float>(
        &self,
        x: ArrayView2<T>,
        weights: Option<ArrayView1<f64>>,
    ) -> Result<Resolved> {
        let (n, d) = x.dim();
        let need = self.prior.is_some() || self.noise || self.degenerate != DegeneratePolicy::Keep;
        let summary = need.then(|| DataSummary::of(x, weights, self.parallelism));
        let prior = match (&self.prior, &summary) {
            (Some(PriorChoice::Mclust), Some(s)) => Some(crate::covariance::family::default_prior(
                self.covariance_type.family(),
                self.n_components,
                n,
                s.mean.view(),
                s.cov.view(),
            )),
            (Some(PriorChoice::Given(p)), _) => {
                if p.mean.len() != d {
                    return Err(GmmError::ShapeMismatch {
                        what: "prior mean".into(),
                        expected: format!("[{d}]"),
                        got: format!("[{}]", p.mean.len()),
                    });
                }
                if let crate::covariance::family::PriorScale::Matrix(m) = &p.scale {
                    if m.dim() != (d, d) {
                        return Err(GmmError::ShapeMismatch {
                            what: "prior scale".into(),
                            expected: format!("[{d}, {d}]"),
                            got: format!("{:?}", m.shape()),
                        });
                    }
                }
                Some(p.clone())
            }
            _ => None,
        };
        if let Some(p) = &prior {
            p.validate(self.covariance_type.family(), d)?;
        }
        let noise_log_density = match (&summary, self.noise) {
            (Some(s), true) => {
                let lv = crate::summary::log_hypervolume(x, s);
                if !lv.is_finite() {
                    return Err(GmmError::InvalidParam {
                        name: "noise",
                        value: "true".into(),
                        reason: "the data span no volume (a constant column?): a uniform noise component is undefined".into(),
                    });
                }
                Some(-lv)
            }
            _ => None,
        };
        let fixed_covariances = match (&self.precisions_init, self.fix_covariances) {
            (Some(p), true) => {
                let factor = p.factor_from_precisions()?;
                Some((factor.covariances_from_factor(), factor))
            }
            _ => None,
        };
        Ok(Resolved {
            mstep: MStepOptions {
                reg_covar: self.reg_covar,
                prior,
                equal_weights: self.equal_weights,
                fixed_weights: self.weights_init.clone().filter(|_| self.fix_weights),
                fixed_means: self.means_init.clone().filter(|_| self.fix_means),
                fixed_covariances,
                inner_tol: self.inner_tol,
            },
            noise_log_density,
            scale: summary
                .filter(|_| self.degenerate != DegeneratePolicy::Keep)
                .map(|s| (s.variances(), s.weight_sum)),
        })
    }

    /// The EM loop around any E-step pass (in memory, or over a stream of chunks).
    fn em_with(
        &self,
        e_pass: &mut dyn FnMut(&GmmModel) -> Result<SufficientStatistics>,
        model: GmmModel,
        lower_bound: f64,
        init: usize,
        observer: &mut dyn FnMut(&IterationEvent),
        res: &Resolved,
    ) -> Result<(GmmModel, FitInfo)> {
        let start = LoopStart::fresh(model, lower_bound);
        self.em_loop(e_pass, start, init, observer, res, None)
    }

    /// The EM loop from a start or a resumed state, checkpointing between iterations.
    fn em_loop(
        &self,
        e_pass: &mut dyn FnMut(&GmmModel) -> Result<SufficientStatistics>,
        start: LoopStart,
        init: usize,
        observer: &mut dyn FnMut(&IterationEvent),
        res: &Resolved,
        mut ckpt: Option<&mut Checkpointer<'_>>,
    ) -> Result<(GmmModel, FitInfo)> {
        let LoopStart {
            mut model,
            previous_lower_bound: mut lower_bound,
            mut info,
            mut reseeds,
        } = start;
        let plain = res.mstep.prior.is_some()
            || matches!(
                self.degenerate,
                DegeneratePolicy::Reseed | DegeneratePolicy::Drop
            );
        if self.accelerate && !plain && info.n_iter == 0 {
            // the accelerated loop is not checkpointed (its state is three parameter sets)
            let cfg = crate::accel::Loop {
                max_iter: self.max_iter,
                tol: self.tol,
                mstep: &res.mstep,
                keep_previous: self.ill_defined == IllDefinedPolicy::KeepPrevious,
                interrupt: self.interrupt.as_ref().map(|f| &*f.0),
            };
            let (model, info) =
                crate::accel::squarem(&cfg, e_pass, model, lower_bound, init, observer)?;
            self.check_degenerate(&model, res)?;
            return Ok((model, info));
        }
        let first = info.n_iter + 1;
        for iter in first..=self.max_iter {
            let interrupted = self
                .interrupt
                .as_ref()
                .is_some_and(|f| f.0.load(Ordering::Relaxed));
            if let Some(c) = ckpt.as_deref_mut() {
                let view = LoopView {
                    model: &model,
                    previous_lower_bound: lower_bound,
                    info: &info,
                    reseeds,
                };
                c.tick(init, view, iter - first, interrupted)?;
            }
            if interrupted {
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
            let next = stats.finalize_with(&res.mstep, Some(&model.covariances));
            model.feature_names = names;
            info.lower_bounds.push(lower_bound);
            info.n_iter = iter;
            info.lower_bound = lower_bound;
            let change = lower_bound - prev;
            let event = IterationEvent {
                init,
                iter,
                lower_bound,
                change,
            };
            match next {
                Ok(mut next) => {
                    next.feature_names = std::mem::take(&mut model.feature_names);
                    model = next;
                }
                Err(GmmError::IllDefinedCovariance { .. })
                    if self.ill_defined == IllDefinedPolicy::KeepPrevious =>
                {
                    // `model` holds the parameters whose bound was just recorded
                    observer(&event);
                    break;
                }
                Err(e) => return Err(e),
            }
            observer(&event);
            if let (Some((var, n)), DegeneratePolicy::Reseed | DegeneratePolicy::Drop) =
                (&res.scale, self.degenerate)
            {
                let bad = degenerate_components(&model, *n, var, self.reg_covar);
                if let Some((c, why)) = bad.first() {
                    if self.degenerate == DegeneratePolicy::Drop {
                        if model.n_components() == 1 {
                            return Err(GmmError::Degenerate {
                                component: *c,
                                reason: format!("{why}, and it is the last component"),
                            });
                        }
                        model = drop_component(&model, *c)?;
                    } else {
                        reseeds += 1;
                        if reseeds > MAX_RESEEDS {
                            return Err(GmmError::Degenerate {
                                component: *c,
                                reason: format!(
                                    "{why}, still after {MAX_RESEEDS} re-seeds (lower k, or add a prior)"
                                ),
                            });
                        }
                        model = reseed_component(&model, *c, self.reg_covar)?;
                    }
                    // the parameters changed under EM's feet: its bound starts afresh
                    lower_bound = f64::NEG_INFINITY;
                    continue;
                }
            }
            if change.abs() < self.tol {
                info.converged = true;
                break;
            }
        }
        self.check_degenerate(&model, res)?;
        Ok((model, info))
    }

    /// The `error` policy's test of the final model.
    fn check_degenerate(&self, model: &GmmModel, res: &Resolved) -> Result<()> {
        if let (Some((var, n)), DegeneratePolicy::Error) = (&res.scale, self.degenerate) {
            if let Some((c, why)) = degenerate_components(model, *n, var, self.reg_covar)
                .into_iter()
                .next()
            {
                return Err(GmmError::Degenerate {
                    component: c,
                    reason: why.to_string(),
                });
            }
        }
        Ok(())
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
        self.fit_stream_general(source, init_rows, observer, None)
    }

    /// [`GaussianMixture::fit_stream`] with checkpoints, as
    /// [`GaussianMixture::fit_checkpointed`] (the data's fingerprint is taken in the
    /// first pass).
    ///
    /// # Errors
    /// As [`GaussianMixture::fit_stream`] and [`GaussianMixture::fit_checkpointed`].
    pub fn fit_stream_checkpointed(
        &self,
        source: &mut dyn crate::stream::RowSource,
        init_rows: usize,
        observer: &mut dyn FnMut(&IterationEvent),
        checkpoints: &mut Checkpointer<'_>,
    ) -> Result<GmmModel> {
        self.fit_stream_general(source, init_rows, observer, Some(checkpoints))
    }

    fn fit_stream_general(
        &self,
        source: &mut dyn crate::stream::RowSource,
        init_rows: usize,
        observer: &mut dyn FnMut(&IterationEvent),
        mut ckpt: Option<&mut Checkpointer<'_>>,
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
        let needs_sample =
            self.prior.is_some() || self.noise || self.degenerate != DegeneratePolicy::Keep;
        let cap = if all_given && !needs_sample {
            0
        } else {
            init_rows.max(self.n_components)
        };
        let mut sample = crate::stream::Reservoir::new(cap, d);
        let (mut n, mut n_pos, mut wsum, mut wmax) = (0usize, 0usize, 0.0, 0.0f64);
        let mut fingerprint = ckpt.is_some().then(|| Fingerprinter::new(d));
        let (mut seen, mut gaps) = (vec![false; d], false);
        source.reset()?;
        while let Some(chunk) = source.next_chunk()? {
            gaps |= crate::missing::check_chunk(&chunk, d, n, self.missing, &mut seen)?;
            let w = chunk.weights.as_ref().map(|w| w.view());
            if let Some(f) = fingerprint.as_mut() {
                f.add(chunk.x.view(), w);
            }
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
        if gaps {
            if let Some(j) = seen.iter().position(|s| !s) {
                return Err(GmmError::AllMissingColumn { column: j });
            }
            if self.noise {
                return Err(GmmError::InvalidParam {
                    name: "noise",
                    value: "true".into(),
                    reason: "a uniform noise component cannot be combined with missing values (its density has no marginal)".into(),
                });
            }
        }
        let (xs, mut ws) = sample.into_parts();
        // the initialisation sees the sample mean-imputed
        let xs = if gaps {
            crate::missing::mean_imputed(xs.view())
        } else {
            xs
        };
        // weights are relative: rescaled as in the in-memory fit
        let wexp = weight_scale_exponent(wmax);
        if let (Some(e), Some(w)) = (wexp, ws.as_mut()) {
            w.mapv_inplace(|v| scale_pow2(v, e));
        }
        let par = self.parallelism;
        self.check_estimable(n_pos, d)?;
        // prior, noise volume and data scale from the initialisation sample
        let res = self.resolve(xs.view(), ws.as_ref().map(|w| w.view()))?;
        let mut pass = |m: &GmmModel| -> Result<SufficientStatistics> {
            let mut total = SufficientStatistics::zeros_for(m);
            // the kernel constants once per pass, not once per chunk
            let prep = m.prepared();
            source.reset()?;
            let mut row = 0;
            while let Some(mut chunk) = source.next_chunk()? {
                let gappy = crate::missing::check_chunk(&chunk, d, row, self.missing, &mut seen)?;
                if let (Some(e), Some(w)) = (wexp, chunk.weights.as_mut()) {
                    w.mapv_inplace(|v| scale_pow2(v, e));
                }
                let w = chunk.weights.as_ref().map(|w| w.view());
                if gappy {
                    crate::missing::accumulate_chunk(
                        &mut total,
                        m,
                        &prep,
                        chunk.x.view(),
                        w,
                        row,
                        par,
                    )?;
                } else {
                    total.accumulate_prepared(m, &prep, chunk.x.view(), w, par);
                }
                row += chunk.x.nrows();
            }
            if row != n {
                return Err(GmmError::Source { reason: format!("the source gave {row} rows on this pass but {n} on the first (did the file change?)") });
            }
            Ok(total)
        };
        if let (Some(c), Some(f)) = (ckpt.as_deref_mut(), fingerprint) {
            c.data = Some(f.finish());
            c.options = self.checkpoint_options(&format!("stream, init_rows {init_rows}"));
        }
        let mut initial = |rng: &mut ChaCha8Rng| {
            if all_given {
                self.initial_model(
                    ndarray::Array2::<f64>::zeros((0, d)).view(),
                    None,
                    rng,
                    &res,
                )
            } else {
                self.initial_model(xs.view(), ws.as_ref().map(|w| w.view()), rng, &res)
            }
        };
        self.run_inits(&mut initial, &mut pass, observer, &res, ckpt)
    }

    /// Initial parameters: from responsibilities chosen by the init method, then
    /// overridden by any user-given weights, means and precisions.
    fn initial_model<T: Float>(
        &self,
        x: ArrayView2<T>,
        weights: Option<ArrayView1<f64>>,
        rng: &mut ChaCha8Rng,
        res: &Resolved,
    ) -> Result<GmmModel> {
        let k = self.n_components;
        let d = x.ncols();
        let all_given = self.weights_init.is_some()
            && self.means_init.is_some()
            && self.precisions_init.is_some();
        let mut model = if all_given {
            // placeholder parameters, all overridden below
            let cov = match self.covariance_type.storage() {
                Storage::Full => {
                    Covariances::Full(ndarray::Array3::from_shape_fn((k, d, d), |(_, i, j)| {
                        f64::from(u8::from(i == j))
                    }))
                }
                Storage::Tied => Covariances::Tied(Array2::eye(d)),
                Storage::Diag => Covariances::Diag(Array2::ones((k, d))),
                Storage::Spherical => Covariances::Spherical(Array1::ones(k)),
            };
            let f = cov.clone();
            let mut m = GmmModel::from_parts_unchecked(
                Array1::from_elem(k, 1.0 / k as f64),
                Array2::zeros((k, d)),
                cov,
                f,
            )?;
            m.covariance_type = self.covariance_type;
            m
        } else {
            let stats = self.initial_statistics(x, weights, rng);
            stats.finalize_with(&res.mstep, stats.orientation_guess().as_ref())?
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
        if let Some(log_density) = res.noise_log_density {
            // the noise component starts with its share taken evenly from the Gaussians
            let w0 = self.noise_init;
            model.weights.mapv_inplace(|v| v * (1.0 - w0));
            model.noise = Some(Noise {
                weight: w0,
                log_density,
            });
        }
        Ok(model)
    }

    /// The E-step statistics of the initial responsibilities (drawn with `rng`), before
    /// their M-step: [`GaussianMixture::initial_model`] finalizes them, the variational
    /// fit runs its own M-step on them.
    pub(crate) fn initial_statistics<T: Float>(
        &self,
        x: ArrayView2<T>,
        weights: Option<ArrayView1<f64>>,
        rng: &mut ChaCha8Rng,
    ) -> SufficientStatistics {
        let k = self.n_components;
        let d = x.ncols();
        let par = self.parallelism;
        match self.responsibilities(x, weights, rng) {
            InitResp::Labels(labels) => {
                SufficientStatistics::from_labels(self.covariance_type, x, weights, &labels, k, par)
            }
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
            }
        }
    }

    /// The statistics of the initial responsibilities of a fit's first start (seeded by
    /// the estimator's seed), before their M-step.
    pub(crate) fn first_start_statistics<T: Float>(
        &self,
        x: ArrayView2<T>,
    ) -> SufficientStatistics {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(0);
        self.initial_statistics(x, None, &mut rng)
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
        if let Some(l) = self.labels_init.as_ref().filter(|l| l.len() == n) {
            return InitResp::Labels(l.to_vec());
        }
        if self.init == InitMethod::Hc {
            let tree = match &self.hc_tree {
                Some(t) if t.n_rows == n => t.clone(),
                _ => Arc::new(HcTree::build(x, weights, self.seed)),
            };
            return InitResp::Labels(tree.labels(k));
        }
        if self.noise
            && matches!(
                self.init,
                InitMethod::KMeans | InitMethod::KMeansPlusPlus | InitMethod::RandomFromData
            )
        {
            // the clusters start on the rows that are not likely outliers; those are left
            // to the noise component
            let out = noise_candidates(x, self.noise_init, self.seed);
            let w = Array1::from_shape_fn(n, |r| {
                if out[r] {
                    0.0
                } else {
                    weights.map_or(1.0, |w| w[r])
                }
            });
            if (0..n).filter(|&r| w[r] > 0.0).count() >= k {
                let clean = GaussianMixture {
                    noise: false,
                    ..self.clone()
                };
                if let InitResp::Labels(mut labels) = clean.responsibilities(x, Some(w.view()), rng)
                {
                    for (l, o) in labels.iter_mut().zip(&out) {
                        if *o {
                            *l = usize::MAX;
                        }
                    }
                    return InitResp::Labels(labels);
                }
            }
        }
        if self.init_scaling == InitScaling::Standardized
            && matches!(
                self.init,
                InitMethod::KMeans | InitMethod::KMeansPlusPlus | InitMethod::RandomFromData
            )
        {
            let z = standardized(x);
            let raw = GaussianMixture {
                init_scaling: InitScaling::Raw,
                ..self.clone()
            };
            return raw.responsibilities(z.view(), weights, rng);
        }
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
                    // k distinct rows, each drawn ∝ weight among those not yet drawn
                    kmeans::weighted_distinct_rows(x, weights, k, rng)
                };
                let mut labels = vec![usize::MAX; n];
                for (c, &i) in seeds.iter().enumerate() {
                    labels[i] = c;
                }
                InitResp::Labels(labels)
            }
            InitMethod::Hc => unreachable!("handled above"),
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

/// The rows an initialisation with a noise component leaves to it: the `share` of rows
/// whose distance to their 5th nearest neighbour (among a seeded sample of at most 500
/// rows, on standardised columns) is largest — outliers sit far from every other row.
/// Leaving them out keeps them from pulling a cluster centre of their own.
fn noise_candidates<T: Float>(x: ArrayView2<T>, share: f64, seed: u64) -> Vec<bool> {
    let (n, d) = x.dim();
    let z = standardized(x);
    let m = n.min(500);
    let mut idx: Vec<usize> = (0..n).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(u64::MAX - 2);
    for c in 0..m {
        let j = rng.random_range(c..n);
        idx.swap(c, j);
    }
    let refs: Vec<usize> = idx[..m].to_vec();
    let kth = 5.min(m.saturating_sub(1)).max(1);
    let mut score = vec![0.0; n];
    let mut best = vec![f64::INFINITY; kth + 1];
    for r in 0..n {
        best.fill(f64::INFINITY);
        for &q in &refs {
            let d2: f64 = (0..d).map(|j| (z[[r, j]] - z[[q, j]]).powi(2)).sum();
            // keep the kth + 1 smallest (the row itself may be among the references)
            if d2 < best[kth] {
                let mut p = kth;
                while p > 0 && best[p - 1] > d2 {
                    best[p] = best[p - 1];
                    p -= 1;
                }
                best[p] = d2;
            }
        }
        score[r] = if refs.contains(&r) {
            best[kth]
        } else {
            best[kth - 1]
        };
    }
    let mut sorted = score.clone();
    sorted.sort_by(f64::total_cmp);
    let cut = sorted[((1.0 - share) * (n - 1) as f64).floor() as usize];
    score.iter().map(|&s| s > cut).collect()
}

/// Each column centred and divided by its standard deviation (constant columns: centred).
fn standardized<T: Float>(x: ArrayView2<T>) -> Array2<f64> {
    let (n, d) = x.dim();
    let mut z = Array2::zeros((n, d));
    for j in 0..d {
        let col = x.column(j);
        let mean = col.iter().map(|v| v.to_f64()).sum::<f64>() / n as f64;
        let var = col.iter().map(|v| (v.to_f64() - mean).powi(2)).sum::<f64>() / n as f64;
        let sd = if var > 0.0 { var.sqrt() } else { 1.0 };
        for (o, v) in z.column_mut(j).iter_mut().zip(col.iter()) {
            *o = (v.to_f64() - mean) / sd;
        }
    }
    z
}

/// The model without component `c` (weights renormalised over the rest).
fn drop_component(m: &GmmModel, c: usize) -> Result<GmmModel> {
    let k = m.n_components();
    let keep: Vec<usize> = (0..k).filter(|&j| j != c).collect();
    let sel = |a: &Covariances| -> Covariances {
        match a {
            Covariances::Full(v) => Covariances::Full(v.select(ndarray::Axis(0), &keep)),
            Covariances::Tied(v) => Covariances::Tied(v.clone()),
            Covariances::Diag(v) => Covariances::Diag(v.select(ndarray::Axis(0), &keep)),
            Covariances::Spherical(v) => Covariances::Spherical(v.select(ndarray::Axis(0), &keep)),
        }
    };
    let mut weights = m.weights.select(ndarray::Axis(0), &keep);
    let target = 1.0 - m.noise.map_or(0.0, |n| n.weight);
    let sum = weights.sum();
    weights.mapv_inplace(|v| v / sum * target);
    let mut out = GmmModel::from_parts_unchecked(
        weights,
        m.means.select(ndarray::Axis(0), &keep),
        sel(&m.covariances),
        sel(&m.precisions_cholesky),
    )?;
    out.covariance_type = m.covariance_type;
    out.noise = m.noise;
    out.feature_names = m.feature_names.clone();
    Ok(out)
}

/// Re-seeds component `c` by splitting the heaviest other component along its principal
/// axis: the two get half its weight each and means one standard deviation either side of
/// its mean; both keep its covariance. Data-free, so streaming fits re-seed alike.
fn reseed_component(m: &GmmModel, c: usize, reg_covar: f64) -> Result<GmmModel> {
    let k = m.n_components();
    let d = m.n_features();
    let Some(h) = (0..k)
        .filter(|&j| j != c)
        .max_by(|&a, &b| m.weights[a].total_cmp(&m.weights[b]))
    else {
        return Err(GmmError::Degenerate {
            component: c,
            reason: "there is no other component to split".into(),
        });
    };
    let cov_h: Vec<f64> = m.covariances.component(h, d).into_iter().collect();

    let (vals, vecs) = crate::linalg::sym_eigen(&cov_h, d);
    let sd = vals[0].max(0.0).sqrt();
    let mut out = m.clone();
    for i in 0..d {
        let step = sd * vecs[i * d];
        out.means[[c, i]] = m.means[[h, i]] + step;
        out.means[[h, i]] = m.means[[h, i]] - step;
    }
    let half = m.weights[h] / 2.0;
    let freed = m.weights[c];
    out.weights[h] = half;
    out.weights[c] = half;
    // the degenerate component's weight goes back to everyone in proportion
    if freed > 0.0 {
        let total: f64 = out.weights.sum();
        let target = total + freed;
        out.weights.mapv_inplace(|v| v / total * target);
    }
    let copy = |a: &mut Covariances| match a {
        Covariances::Full(v) => {
            let src = v.index_axis(ndarray::Axis(0), h).to_owned();
            v.index_axis_mut(ndarray::Axis(0), c).assign(&src);
        }
        Covariances::Tied(_) => {}
        Covariances::Diag(v) => {
            let src = v.row(h).to_owned();
            v.row_mut(c).assign(&src);
        }
        Covariances::Spherical(v) => v[c] = v[h],
    };
    copy(&mut out.covariances);
    out.precisions_cholesky = out.covariances.precision_cholesky(reg_covar)?;
    Ok(out)
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

/// Whether a start's final lower bound beats the best so far. Bounds within rounding of
/// each other (a relative 1e-12: a per-row mean over different summation orders differs
/// by ~1e-15) are the same optimum, usually reached with the labels permuted, and the
/// earlier start is kept: otherwise which permutation is returned would depend on the
/// last bits of two sums, and a weighted fit would differ from the fit of its repeated
/// rows by a relabelling.
pub(crate) fn improves(new: f64, best: f64) -> bool {
    if best.is_finite() {
        new > best + 1e-12 * best.abs().max(1.0)
    } else {
        new > best
    }
}

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
