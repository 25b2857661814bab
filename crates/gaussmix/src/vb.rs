//! Variational Bayesian Gaussian mixtures (scikit-learn's `BayesianGaussianMixture`),
//! on the sufficient-statistics spine.
//!
//! The mixing proportions get a Dirichlet-process (stick-breaking) or Dirichlet prior, each
//! mean–precision pair a Gaussian–Wishart prior; variational EM alternates
//!
//! - the **E-step**: responsibilities from the expected log-densities
//!   `E[ln π_k] + ½ E[ln |Λ_k|] − D/(2β_k) − ½ ν_k (x − m_k)ᵀ W_k (x − m_k) − ½ D ln 2π`,
//!   which is a Gaussian log-density with precision `ν_k W_k` plus a per-component constant,
//!   so it runs on the same kernels as maximum-likelihood EM and yields the same additive
//!   statistics `N_k`, `Σ γ x`, `Σ γ x xᵀ` (in memory, streamed or distributed alike);
//! - the **M-step**: the posterior hyperparameters from those statistics
//!   (Bishop 2006, §10.2; Blei & Jordan 2006 for the stick-breaking weights);
//!
//! and stop when the evidence lower bound changes by less than `tol`. Every formula,
//! default and the lower bound (up to the constants it drops) follow scikit-learn 1.9, so
//! that from the same initial responsibilities the fits agree to rounding (tested against
//! fixtures of `scripts/gen_fixtures.py`). Components the data do not need keep their prior
//! and a weight near zero: `effective_components` counts the others.

use crate::covariance::{CovarianceType, Covariances, SecondMoments, Storage};
use crate::em::{GaussianMixture, InitMethod};
use crate::error::{GmmError, Result};
use crate::model::{FitInfo, GmmModel};
use crate::par::Parallelism;
use crate::stats::SufficientStatistics;
use crate::validate::{check_finite, check_nonempty};
use ndarray::{Array1, Array2, Array3, ArrayView2, Axis};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The prior on the mixing proportions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WeightPrior {
    /// Stick-breaking (a truncated Dirichlet process): superfluous components get weights
    /// near zero (scikit-learn's default).
    #[default]
    DirichletProcess,
    /// A symmetric Dirichlet distribution over the K weights.
    DirichletDistribution,
}

/// The prior's scale of the Wishart (`W_0⁻¹`), in the covariance type's shape.
#[derive(Debug, Clone, PartialEq)]
pub enum CovariancePrior {
    /// D×D (full, tied).
    Matrix(Array2<f64>),
    /// D variances (diag).
    Diagonal(Array1<f64>),
    /// One variance (spherical).
    Scalar(f64),
}

/// Variational Bayesian Gaussian mixture estimator, with scikit-learn's defaults: a
/// Dirichlet-process weight prior of concentration `1/K`, mean precision prior 1 about the
/// data mean, `D` degrees of freedom and the data's covariance as the Wishart scale.
///
/// ```
/// use gaussmix::vb::BayesianGaussianMixture;
/// use ndarray::array;
/// let x = array![[0.0, 0.1], [0.2, -0.1], [-0.1, 0.0], [0.1, 0.2],
///                [5.0, 5.1], [5.2, 4.9], [4.9, 5.0], [5.1, 5.2]];
/// let fit = BayesianGaussianMixture::new(4).seed(0).max_iter(300).fit(x.view())?;
/// assert!(fit.effective_components(0.05) <= 4);
/// # Ok::<(), gaussmix::GmmError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct BayesianGaussianMixture {
    n_components: usize,
    covariance_type: CovarianceType,
    weight_prior: WeightPrior,
    weight_concentration_prior: Option<f64>,
    mean_precision_prior: Option<f64>,
    mean_prior: Option<Array1<f64>>,
    degrees_of_freedom_prior: Option<f64>,
    covariance_prior: Option<CovariancePrior>,
    tol: f64,
    reg_covar: f64,
    max_iter: usize,
    n_init: usize,
    init: InitMethod,
    init_labels: Option<Vec<usize>>,
    seed: u64,
    parallelism: Parallelism,
    interrupt: Option<InterruptFlag>,
}

/// A stop flag; two are equal when they are the same flag.
#[derive(Debug, Clone)]
struct InterruptFlag(Arc<AtomicBool>);

impl PartialEq for InterruptFlag {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// The priors a fit used (the defaults resolved on the data).
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedPriors {
    /// Concentration of the weight prior (γ₀ of the stick-breaking, α₀ of the Dirichlet).
    pub weight_concentration: f64,
    /// β₀.
    pub mean_precision: f64,
    /// m₀ (D).
    pub mean: Array1<f64>,
    /// ν₀.
    pub degrees_of_freedom: f64,
    /// W₀⁻¹.
    pub covariance: CovariancePrior,
}

/// A fitted variational mixture: the posterior hyperparameters and the fit's record.
#[derive(Debug, Clone, PartialEq)]
pub struct BayesianFit {
    /// The family (full, tied, diag or spherical).
    pub covariance_type: CovarianceType,
    /// The weight prior.
    pub weight_prior: WeightPrior,
    /// Posterior concentrations: the Dirichlet's α_k, or the first Beta parameters of the
    /// sticks (K).
    pub weight_concentration: Array1<f64>,
    /// The second Beta parameters of the sticks (K; stick-breaking only).
    pub weight_concentration_b: Option<Array1<f64>>,
    /// β_k (K).
    pub mean_precision: Array1<f64>,
    /// m_k (K×D).
    pub means: Array2<f64>,
    /// ν_k (K; all equal for tied).
    pub degrees_of_freedom: Array1<f64>,
    /// `(ν_k W_k)⁻¹`, the expected covariances (scikit-learn's `covariances_`).
    pub covariances: Covariances,
    /// Cholesky factors of `ν_k W_k`.
    pub precisions_cholesky: Covariances,
    /// Expected mixing proportions (K, summing to 1).
    pub weights: Array1<f64>,
    /// The priors used.
    pub priors: ResolvedPriors,
    /// Convergence record; `lower_bound` is the evidence lower bound (up to constants).
    pub info: FitInfo,
}

/// Errors for a bad parameter.
fn param(name: &'static str, value: impl ToString, reason: &str) -> GmmError {
    GmmError::InvalidParam {
        name,
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

/// `ln Γ(x)` for `x > 0` (Stirling's series after shifting to `x ≥ 10`; ~1e-15 relative).
pub(crate) fn ln_gamma(x: f64) -> f64 {
    debug_assert!(x > 0.0);
    let mut z = x;
    let mut shift = 0.0;
    while z < 10.0 {
        shift += z.ln();
        z += 1.0;
    }
    let z2 = 1.0 / (z * z);
    let series = (1.0 / 12.0
        + z2 * (-1.0 / 360.0
            + z2 * (1.0 / 1260.0
                + z2 * (-1.0 / 1680.0
                    + z2 * (1.0 / 1188.0 + z2 * (-691.0 / 360360.0 + z2 * (1.0 / 156.0)))))))
        / z;
    (z - 0.5) * z.ln() - z + 0.5 * (2.0 * std::f64::consts::PI).ln() + series - shift
}

/// The digamma function `ψ(x)` for `x > 0` (asymptotic series after shifting to `x ≥ 10`).
pub(crate) fn digamma(x: f64) -> f64 {
    debug_assert!(x > 0.0);
    let mut z = x;
    let mut acc = 0.0;
    while z < 10.0 {
        acc -= 1.0 / z;
        z += 1.0;
    }
    let z2 = 1.0 / (z * z);
    let series = z2
        * (1.0 / 12.0
            - z2 * (1.0 / 120.0
                - z2 * (1.0 / 252.0
                    - z2 * (1.0 / 240.0
                        - z2 * (1.0 / 132.0 - z2 * (691.0 / 32760.0 - z2 / 12.0))))));
    acc + z.ln() - 0.5 / z - series
}

/// `ln B(a, b)`.
fn ln_beta(a: f64, b: f64) -> f64 {
    ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)
}

impl BayesianGaussianMixture {
    /// A `k`-component variational mixture with scikit-learn's defaults (full covariances,
    /// `tol = 1e-3`, `reg_covar = 1e-6`, `max_iter = 100`, one k-means start).
    pub fn new(n_components: usize) -> Self {
        BayesianGaussianMixture {
            n_components,
            covariance_type: CovarianceType::Full,
            weight_prior: WeightPrior::DirichletProcess,
            weight_concentration_prior: None,
            mean_precision_prior: None,
            mean_prior: None,
            degrees_of_freedom_prior: None,
            covariance_prior: None,
            tol: 1e-3,
            reg_covar: 1e-6,
            max_iter: 100,
            n_init: 1,
            init: InitMethod::KMeans,
            init_labels: None,
            seed: 0,
            parallelism: Parallelism::default(),
            interrupt: None,
        }
    }
    /// Full, tied, diag or spherical.
    pub fn covariance_type(mut self, t: CovarianceType) -> Self {
        self.covariance_type = t;
        self
    }
    /// The weight prior's kind.
    pub fn weight_prior(mut self, p: WeightPrior) -> Self {
        self.weight_prior = p;
        self
    }
    /// The weight prior's concentration (default `1/K`): small values favour few components.
    pub fn weight_concentration_prior(mut self, v: f64) -> Self {
        self.weight_concentration_prior = Some(v);
        self
    }
    /// β₀ (default 1).
    pub fn mean_precision_prior(mut self, v: f64) -> Self {
        self.mean_precision_prior = Some(v);
        self
    }
    /// m₀ (default: the data mean).
    pub fn mean_prior(mut self, m: Array1<f64>) -> Self {
        self.mean_prior = Some(m);
        self
    }
    /// ν₀ (default D; must exceed D − 1).
    pub fn degrees_of_freedom_prior(mut self, v: f64) -> Self {
        self.degrees_of_freedom_prior = Some(v);
        self
    }
    /// W₀⁻¹ (default: the data's covariance, variances or mean variance, unbiased).
    pub fn covariance_prior(mut self, c: CovariancePrior) -> Self {
        self.covariance_prior = Some(c);
        self
    }
    /// Stop when the lower bound changes by less than this.
    pub fn tol(mut self, tol: f64) -> Self {
        self.tol = tol;
        self
    }
    /// Added to the diagonals of the data scatter in the M-step.
    pub fn reg_covar(mut self, r: f64) -> Self {
        self.reg_covar = r;
        self
    }
    /// Maximum variational EM iterations per start.
    pub fn max_iter(mut self, n: usize) -> Self {
        self.max_iter = n;
        self
    }
    /// Number of starts; the best lower bound wins.
    pub fn n_init(mut self, n: usize) -> Self {
        self.n_init = n;
        self
    }
    /// How the initial responsibilities are drawn (as [`GaussianMixture::init`]).
    pub fn init(mut self, m: InitMethod) -> Self {
        self.init = m;
        self
    }
    /// Initial hard assignments (N labels below K), instead of drawing them: for
    /// reproducing another tool's start exactly.
    pub fn init_labels(mut self, labels: Vec<usize>) -> Self {
        self.init_labels = Some(labels);
        self
    }
    /// Seed of the initialisation; start `i` of `n_init` uses `seed + i`.
    pub fn seed(mut self, s: u64) -> Self {
        self.seed = s;
        self
    }
    /// Threads of the E-step.
    pub fn parallelism(mut self, p: Parallelism) -> Self {
        self.parallelism = p;
        self
    }

    fn validate(&self, n: usize, d: usize) -> Result<()> {
        if self.n_components == 0 {
            return Err(param("n_components", 0, "must be at least 1"));
        }
        if !self.covariance_type.is_sklearn() {
            return Err(param(
                "covariance_type",
                self.covariance_type,
                "variational fits support full, tied, diag and spherical",
            ));
        }
        if n < self.n_components {
            return Err(GmmError::TooFewSamples {
                n_samples: n,
                n_components: self.n_components,
            });
        }
        let positive = |name: &'static str, v: Option<f64>| match v {
            Some(v) if !(v > 0.0 && v.is_finite()) => {
                Err(param(name, v, "must be positive and finite"))
            }
            _ => Ok(()),
        };
        positive(
            "weight_concentration_prior",
            self.weight_concentration_prior,
        )?;
        positive("mean_precision_prior", self.mean_precision_prior)?;
        if !(self.tol >= 0.0 && self.tol.is_finite()) {
            return Err(param("tol", self.tol, "must be non-negative and finite"));
        }
        if !(self.reg_covar >= 0.0 && self.reg_covar.is_finite()) {
            return Err(param(
                "reg_covar",
                self.reg_covar,
                "must be non-negative and finite",
            ));
        }
        if self.n_init == 0 {
            return Err(param("n_init", 0, "must be at least 1"));
        }
        if let Some(v) = self.degrees_of_freedom_prior {
            if !(v > d as f64 - 1.0 && v.is_finite()) {
                return Err(param(
                    "degrees_of_freedom_prior",
                    v,
                    &format!("must be greater than n_features - 1 = {}", d as f64 - 1.0),
                ));
            }
        }
        if let Some(m) = &self.mean_prior {
            if m.len() != d {
                return Err(GmmError::ShapeMismatch {
                    what: "mean_prior".into(),
                    expected: format!("[{d}]"),
                    got: format!("[{}]", m.len()),
                });
            }
            check_finite(m.view().insert_axis(Axis(0)), 0)?;
        }
        if let Some(l) = &self.init_labels {
            if l.len() != n {
                return Err(GmmError::ShapeMismatch {
                    what: "init_labels".into(),
                    expected: format!("[{n}]"),
                    got: format!("[{}]", l.len()),
                });
            }
            if let Some(bad) = l.iter().find(|&&v| v >= self.n_components) {
                return Err(param(
                    "init_labels",
                    bad,
                    &format!("labels must be below n_components = {}", self.n_components),
                ));
            }
        }
        Ok(())
    }

    /// The priors, defaults resolved on `x`.
    fn priors(&self, x: ArrayView2<f64>) -> Result<ResolvedPriors> {
        let (n, d) = x.dim();
        let mean = x.mean_axis(Axis(0)).expect("rows");
        let centred = &x - &mean;
        let ddof = if n > 1 { (n - 1) as f64 } else { 1.0 };
        let cov = centred.t().dot(&centred) / ddof;
        let var = Array1::from_shape_fn(d, |i| cov[[i, i]]);
        let covariance = match (&self.covariance_prior, self.covariance_type.storage()) {
            (None, Storage::Full | Storage::Tied) => CovariancePrior::Matrix(cov),
            (None, Storage::Diag) => CovariancePrior::Diagonal(var),
            (None, Storage::Spherical) => CovariancePrior::Scalar(var.mean().expect("D ≥ 1")),
            (Some(c), s) => {
                let ok = match (c, s) {
                    (CovariancePrior::Matrix(m), Storage::Full | Storage::Tied) => {
                        m.dim() == (d, d)
                            && m.iter().all(|v| v.is_finite())
                            && (0..d).all(|i| (0..i).all(|j| m[[i, j]] == m[[j, i]]))
                            && {
                                let mut a: Vec<f64> = m.iter().copied().collect();
                                crate::linalg::cholesky_lower(&mut a, d).is_ok()
                            }
                    }
                    (CovariancePrior::Diagonal(v), Storage::Diag) => {
                        v.len() == d && v.iter().all(|&v| v > 0.0 && v.is_finite())
                    }
                    (CovariancePrior::Scalar(v), Storage::Spherical) => *v > 0.0 && v.is_finite(),
                    _ => false,
                };
                if !ok {
                    return Err(param(
                        "covariance_prior",
                        format!("{c:?}"),
                        &format!(
                            "must be a symmetric positive-definite D×D matrix (full, tied), D positive variances (diag) or one positive variance (spherical); D = {d}, covariance_type = {}",
                            self.covariance_type
                        ),
                    ));
                }
                c.clone()
            }
        };
        Ok(ResolvedPriors {
            weight_concentration: self
                .weight_concentration_prior
                .unwrap_or(1.0 / self.n_components as f64),
            mean_precision: self.mean_precision_prior.unwrap_or(1.0),
            mean: self.mean_prior.clone().unwrap_or(mean),
            degrees_of_freedom: self.degrees_of_freedom_prior.unwrap_or(d as f64),
            covariance,
        })
    }

    /// Fits by variational EM.
    ///
    /// # Errors
    /// [`GmmError::InvalidParam`] for bad parameters, [`GmmError::EmptyData`],
    /// [`GmmError::NonFinite`] naming the row and column, [`GmmError::TooFewSamples`] when
    /// K exceeds N, and the M-step's errors for a Wishart scale that is not positive
    /// definite.
    pub fn fit(&self, x: ArrayView2<f64>) -> Result<BayesianFit> {
        self.fit_warm(x, None)
    }

    /// [`BayesianGaussianMixture::fit`], or, given `start` (a previous fit of the same K,
    /// family and weight prior on data of the same width), one run of variational EM that
    /// continues from `start`'s hyperparameters, its lower bound the first `prev` of the
    /// convergence test (scikit-learn's `warm_start`; `n_init` is then ignored). The
    /// priors are resolved on `x` in either case.
    ///
    /// # Errors
    /// As [`BayesianGaussianMixture::fit`]; [`GmmError::InvalidParam`] naming `start`
    /// when it does not fit this estimator and data; [`GmmError::Interrupted`] when the
    /// [`BayesianGaussianMixture::interrupt`] flag is set.
    pub fn fit_warm(&self, x: ArrayView2<f64>, start: Option<&BayesianFit>) -> Result<BayesianFit> {
        check_nonempty(x)?;
        check_finite(x, 0)?;
        let (n, d) = x.dim();
        self.validate(n, d)?;
        let priors = self.priors(x)?;
        if let Some(s) = start {
            if s.means.dim() != (self.n_components, d)
                || s.covariance_type != self.covariance_type
                || s.weight_prior != self.weight_prior
            {
                return Err(param(
                    "start",
                    format!(
                        "{} {} components of width {}",
                        s.means.nrows(),
                        s.covariance_type,
                        s.means.ncols()
                    ),
                    &format!(
                        "a warm start needs a fit of {} {} components of width {d} with the same weight prior",
                        self.n_components, self.covariance_type
                    ),
                ));
            }
            let mut fit = s.clone();
            fit.priors = priors.clone();
            let prev = s.info.lower_bound;
            fit.info = FitInfo::default();
            return self.iterate(x, &priors, fit, prev);
        }
        let mut best: Option<BayesianFit> = None;
        for i in 0..self.n_init {
            let (nk, xk, sk) = self.initial_statistics(x, i)?;
            let fit = m_step(
                self.covariance_type,
                self.weight_prior,
                &priors,
                &nk,
                &xk,
                &sk,
            )?;
            let fit = self.iterate(x, &priors, fit, f64::NEG_INFINITY)?;
            if best
                .as_ref()
                .is_none_or(|b| crate::em::improves(fit.info.lower_bound, b.info.lower_bound))
            {
                best = Some(fit);
            }
        }
        Ok(best.expect("n_init ≥ 1"))
    }

    /// A flag that stops the fit: when it is set, the fit returns
    /// [`GmmError::Interrupted`] before its next iteration. Only read, never cleared.
    pub fn interrupt(mut self, flag: Arc<AtomicBool>) -> Self {
        self.interrupt = Some(InterruptFlag(flag));
        self
    }

    /// Variational EM from `fit` until the lower bound changes by less than `tol` (from
    /// `lower_bound`, the bound before the first iteration) or `max_iter` iterations.
    fn iterate(
        &self,
        x: ArrayView2<f64>,
        priors: &ResolvedPriors,
        mut fit: BayesianFit,
        mut lower_bound: f64,
    ) -> Result<BayesianFit> {
        let d = x.ncols();
        for iter in 1..=self.max_iter {
            if let Some(f) = &self.interrupt {
                if f.0.load(Ordering::Relaxed) {
                    return Err(GmmError::Interrupted);
                }
            }
            let prev = lower_bound;
            let pseudo = fit.pseudo_model()?;
            let stats = SufficientStatistics::e_step(&pseudo, x, None, self.parallelism);
            let entropy = neg_entropy(&pseudo, &stats);
            let (nk, xk, sk) = moments(&stats, self.reg_covar)?;
            let info = std::mem::take(&mut fit.info);
            fit = m_step(
                self.covariance_type,
                self.weight_prior,
                priors,
                &nk,
                &xk,
                &sk,
            )?;
            fit.info = info;
            lower_bound = fit.lower_bound_terms(d) - entropy;
            fit.info.lower_bounds.push(lower_bound);
            fit.info.n_iter = iter;
            fit.info.lower_bound = lower_bound;
            if (lower_bound - prev).abs() < self.tol {
                fit.info.converged = true;
                break;
            }
        }
        Ok(fit)
    }

    /// `N_k`, the means and scatter matrices of the initial responsibilities of start `i`.
    fn initial_statistics(
        &self,
        x: ArrayView2<f64>,
        i: usize,
    ) -> Result<(Array1<f64>, Array2<f64>, Covariances)> {
        if let Some(labels) = &self.init_labels {
            let s = SufficientStatistics::from_labels(
                self.covariance_type,
                x,
                None,
                labels,
                self.n_components,
                self.parallelism,
            );
            return moments(&s, self.reg_covar);
        }
        // the moments of the initial responsibilities (not factored: a singleton
        // cluster with reg_covar 0 is fine, the Wishart scale lifts it)
        let stats = GaussianMixture::new(self.n_components)
            .covariance_type(self.covariance_type)
            .init(self.init)
            .seed(self.seed.wrapping_add(i as u64))
            .parallelism(self.parallelism)
            .first_start_statistics(x);
        moments(&stats, self.reg_covar)
    }
}

/// `N_k` (with scikit-learn's `10 ε`), the means `x̄_k` and covariances `S_k` (each plus
/// `reg_covar` on the diagonal) of E-step statistics: the maximum-likelihood M-step's
/// moments, without factoring them. A component on a single row (or coincident rows)
/// has a singular `S_k` when `reg_covar` is 0; the Wishart scale of the posterior keeps
/// its covariance positive definite, as in scikit-learn.
fn moments(s: &SufficientStatistics, reg: f64) -> Result<(Array1<f64>, Array2<f64>, Covariances)> {
    let nk_eff = s.nk.mapv(|v| v + crate::stats::NK_EPS);
    let mut xbar = s.shift.clone();
    for c in 0..xbar.nrows() {
        let mut r = xbar.row_mut(c);
        r.zip_mut_with(&s.s1.row(c), |m, v| *m += v / nk_eff[c]);
    }
    let cov =
        s.s2.estimate_sklearn(s.covariance_type, &s.s1, &s.nk, &nk_eff, reg);
    if xbar.iter().any(|v| !v.is_finite()) || cov.values().any(|v| !v.is_finite()) {
        let c = (0..xbar.nrows())
            .find(|&c| xbar.row(c).iter().any(|v| !v.is_finite()))
            .unwrap_or(0);
        return Err(crate::covariance::ill_defined(
            c,
            reg,
            "its statistics overflowed (values too large)",
        ));
    }
    Ok((nk_eff, xbar, cov))
}

/// `Σ_n Σ_k γ_nk ln γ_nk` of the E-step that produced `stats` with `pseudo`'s parameters:
/// `Σ_k N_k o_k − ½ Σ_k tr(P_k S2_k) − Σ_n ln p(x_n)` with `o_k` the per-component
/// constants of the log-densities and S2 the moments about the means.
fn neg_entropy(pseudo: &GmmModel, stats: &SufficientStatistics) -> f64 {
    let (k, d) = pseudo.means.dim();
    let log_det = pseudo.precisions_cholesky.log_det_factor(k, d);
    let half_log_2pi = 0.5 * d as f64 * (2.0 * std::f64::consts::PI).ln();
    let p = pseudo.precisions();
    let mut total = -stats.log_likelihood;
    for c in 0..k {
        let offset = pseudo.weights[c].ln() + log_det[c] - half_log_2pi;
        let quad = match (&p, &stats.s2) {
            (Covariances::Full(p), SecondMoments::Full(s2)) => {
                trace_lower(p.index_axis(Axis(0), c), s2.index_axis(Axis(0), c))
            }
            (Covariances::Diag(p), SecondMoments::Diag(s2)) => {
                (0..d).map(|i| p[[c, i]] * s2[[c, i]]).sum()
            }
            (Covariances::Spherical(p), SecondMoments::Diag(s2)) => {
                p[c] * (0..d).map(|i| s2[[c, i]]).sum::<f64>()
            }
            (Covariances::Tied(_), SecondMoments::Tied(_)) => 0.0, // added once below
            _ => unreachable!("statistics of the pseudo-model's own family"),
        };
        total += stats.nk[c] * offset - 0.5 * quad;
    }
    if let (Covariances::Tied(p), SecondMoments::Tied(s2)) = (&p, &stats.s2) {
        total -= 0.5 * trace_lower(p.view(), s2.view());
    }
    total
}

/// `tr(P S)` of a symmetric `P` and a scatter `S` of which only the lower triangle is read.
fn trace_lower(p: ndarray::ArrayView2<f64>, s2: ndarray::ArrayView2<f64>) -> f64 {
    let mut q = 0.0;
    for i in 0..p.nrows() {
        q += p[[i, i]] * s2[[i, i]];
        for j in 0..i {
            q += 2.0 * p[[i, j]] * s2[[i, j]];
        }
    }
    q
}

/// The posterior hyperparameters from `N_k`, `x̄_k` and `S_k` (scikit-learn's M-step).
fn m_step(
    ct: CovarianceType,
    weight_prior: WeightPrior,
    pr: &ResolvedPriors,
    nk: &Array1<f64>,
    xk: &Array2<f64>,
    sk: &Covariances,
) -> Result<BayesianFit> {
    let (k, d) = xk.dim();
    let (weight_concentration, weight_concentration_b) = match weight_prior {
        WeightPrior::DirichletProcess => {
            // b_k = γ₀ + Σ_{j>k} N_j
            let mut tail = Array1::zeros(k);
            let mut acc = 0.0;
            for c in (0..k).rev() {
                tail[c] = acc;
                acc += nk[c];
            }
            (
                nk.mapv(|v| 1.0 + v),
                Some(tail.mapv(|t| pr.weight_concentration + t)),
            )
        }
        WeightPrior::DirichletDistribution => (nk.mapv(|v| pr.weight_concentration + v), None),
    };
    let b0 = pr.mean_precision;
    let mean_precision = nk.mapv(|v| b0 + v);
    let means = Array2::from_shape_fn((k, d), |(c, i)| {
        (b0 * pr.mean[i] + nk[c] * xk[[c, i]]) / mean_precision[c]
    });
    let diff = |c: usize, i: usize| xk[[c, i]] - pr.mean[i];
    let nu0 = pr.degrees_of_freedom;
    let (degrees_of_freedom, covariances) = match (sk, &pr.covariance) {
        (Covariances::Full(s), CovariancePrior::Matrix(w0)) => {
            let dof = nk.mapv(|v| nu0 + v);
            let mut cov = Array3::zeros((k, d, d));
            for c in 0..k {
                let f = nk[c] * b0 / mean_precision[c];
                for i in 0..d {
                    for j in 0..d {
                        cov[[c, i, j]] =
                            (w0[[i, j]] + nk[c] * s[[c, i, j]] + f * diff(c, i) * diff(c, j))
                                / dof[c];
                    }
                }
            }
            (dof, Covariances::Full(cov))
        }
        (Covariances::Tied(s), CovariancePrior::Matrix(w0)) => {
            let total = nk.sum();
            let dof = nu0 + total / k as f64;
            let mut cov = Array2::zeros((d, d));
            for i in 0..d {
                for j in 0..d {
                    let mut v = w0[[i, j]] + s[[i, j]] * total / k as f64;
                    let mut extra = 0.0;
                    for c in 0..k {
                        extra += nk[c] / mean_precision[c] * diff(c, i) * diff(c, j);
                    }
                    v += b0 / k as f64 * extra;
                    cov[[i, j]] = v / dof;
                }
            }
            (Array1::from_elem(k, dof), Covariances::Tied(cov))
        }
        (Covariances::Diag(s), CovariancePrior::Diagonal(w0)) => {
            let dof = nk.mapv(|v| nu0 + v);
            let cov = Array2::from_shape_fn((k, d), |(c, i)| {
                (w0[i] + nk[c] * (s[[c, i]] + b0 / mean_precision[c] * diff(c, i).powi(2))) / dof[c]
            });
            (dof, Covariances::Diag(cov))
        }
        (Covariances::Spherical(s), CovariancePrior::Scalar(w0)) => {
            let dof = nk.mapv(|v| nu0 + v);
            let cov = Array1::from_shape_fn(k, |c| {
                let sq = (0..d).map(|i| diff(c, i).powi(2)).sum::<f64>() / d as f64;
                (w0 + nk[c] * (s[c] + b0 / mean_precision[c] * sq)) / dof[c]
            });
            (dof, Covariances::Spherical(cov))
        }
        _ => unreachable!("the prior's shape is checked against the covariance type"),
    };
    let precisions_cholesky = covariances.precision_cholesky(0.0)?;
    let weights = expected_weights(&weight_concentration, weight_concentration_b.as_ref());
    Ok(BayesianFit {
        covariance_type: ct,
        weight_prior,
        weight_concentration,
        weight_concentration_b,
        mean_precision,
        means,
        degrees_of_freedom,
        covariances,
        precisions_cholesky,
        weights,
        priors: pr.clone(),
        info: FitInfo::default(),
    })
}

/// The expected mixing proportions of the posterior (normalised).
fn expected_weights(a: &Array1<f64>, b: Option<&Array1<f64>>) -> Array1<f64> {
    let mut w = match b {
        Some(b) => {
            // E[v_k] Π_{j<k} (1 − E[v_j])
            let mut rest = 1.0;
            let mut w = Array1::zeros(a.len());
            for c in 0..a.len() {
                let s = a[c] + b[c];
                w[c] = a[c] / s * rest;
                rest *= b[c] / s;
            }
            w
        }
        None => a.clone(),
    };
    let total = w.sum();
    w.mapv_inplace(|v| v / total);
    w
}

impl BayesianFit {
    /// `E[ln π_k]` under the posterior.
    pub fn expected_log_weights(&self) -> Array1<f64> {
        let a = &self.weight_concentration;
        match &self.weight_concentration_b {
            Some(b) => {
                let mut out = Array1::zeros(a.len());
                let mut acc = 0.0;
                for c in 0..a.len() {
                    let ds = digamma(a[c] + b[c]);
                    out[c] = digamma(a[c]) - ds + acc;
                    acc += digamma(b[c]) - ds;
                }
                out
            }
            None => {
                let ds = digamma(a.sum());
                a.mapv(|v| digamma(v) - ds)
            }
        }
    }

    /// The Gaussian mixture whose log-densities plus log-weights are the variational
    /// E-step's: precisions `ν_k W_k` and unnormalised weights carrying
    /// `E[ln π_k] + ½ (E[ln |Λ_k|] − D ln ν_k) − D/(2β_k)`. Its `predict_proba` and
    /// `score_samples` are the variational ones (scikit-learn's).
    fn pseudo_model(&self) -> Result<GmmModel> {
        let (k, d) = self.means.dim();
        let elog_w = self.expected_log_weights();
        let df = d as f64;
        let log_w = Array1::from_shape_fn(k, |c| {
            let nu = self.degrees_of_freedom[c];
            let log_lambda =
                df * 2f64.ln() + (0..d).map(|i| digamma(0.5 * (nu - i as f64))).sum::<f64>();
            elog_w[c] - 0.5 * df * nu.ln() + 0.5 * (log_lambda - df / self.mean_precision[c])
        });
        let mut m = GmmModel::from_parts_unchecked(
            log_w.mapv(f64::exp),
            self.means.clone(),
            self.covariances.clone(),
            self.precisions_cholesky.clone(),
        )?;
        m.covariance_type = self.covariance_type;
        Ok(m)
    }

    /// The lower bound's terms that depend on the hyperparameters only (scikit-learn's,
    /// constants dropped): `−Σ ln B_W(ν_k) − ln B(weights) − ½ D Σ ln β_k`.
    fn lower_bound_terms(&self, d: usize) -> f64 {
        let k = self.means.nrows();
        let df = d as f64;
        let log_det = self.precisions_cholesky.log_det_factor(k, d);
        let mut log_wishart = 0.0;
        for c in 0..k {
            let nu = self.degrees_of_freedom[c];
            let ld = log_det[c] - 0.5 * df * nu.ln();
            log_wishart -= nu * ld
                + nu * df * 0.5 * 2f64.ln()
                + (0..d).map(|i| ln_gamma(0.5 * (nu - i as f64))).sum::<f64>();
        }
        let log_norm_weight = match &self.weight_concentration_b {
            Some(b) => -self
                .weight_concentration
                .iter()
                .zip(b)
                .map(|(&a, &b)| ln_beta(a, b))
                .sum::<f64>(),
            None => {
                let a = &self.weight_concentration;
                ln_gamma(a.sum()) - a.iter().map(|&v| ln_gamma(v)).sum::<f64>()
            }
        };
        -log_wishart
            - log_norm_weight
            - 0.5 * df * self.mean_precision.iter().map(|v| v.ln()).sum::<f64>()
    }

    /// The expected-parameter mixture (weights, means, covariances): a plain model for
    /// files, plots, sampling and every command that takes one.
    ///
    /// # Errors
    /// [`GmmError::InvalidModel`] only if the posterior is degenerate.
    pub fn model(&self) -> Result<GmmModel> {
        let mut m = GmmModel::from_parts_unchecked(
            self.weights.clone(),
            self.means.clone(),
            self.covariances.clone(),
            self.precisions_cholesky.clone(),
        )?;
        m.covariance_type = self.covariance_type;
        m.validate()?;
        m.set_info(self.info.clone());
        Ok(m)
    }

    /// Responsibilities under the variational posterior (scikit-learn's `predict_proba`).
    ///
    /// # Errors
    /// As [`GmmModel::predict_proba`].
    pub fn predict_proba(&self, x: ArrayView2<f64>) -> Result<Array2<f64>> {
        self.pseudo_model()?.predict_proba(x)
    }

    /// The most responsible component of each row.
    ///
    /// # Errors
    /// As [`GmmModel::predict`].
    pub fn predict(&self, x: ArrayView2<f64>) -> Result<Array1<usize>> {
        self.pseudo_model()?.predict(x)
    }

    /// scikit-learn's `score_samples`: the log-sum-exp of the variational weighted
    /// log-densities of each row.
    ///
    /// # Errors
    /// As [`GmmModel::score_samples`].
    pub fn score_samples(&self, x: ArrayView2<f64>) -> Result<Array1<f64>> {
        self.pseudo_model()?.score_samples(x)
    }

    /// Components with an expected weight of at least `min_weight`.
    pub fn effective_components(&self, min_weight: f64) -> usize {
        self.weights.iter().filter(|&&w| w >= min_weight).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected: ln Γ and ψ match known values (Γ(n) = (n−1)!, ψ(1) = −γ, ψ(½) =
    /// −γ − 2 ln 2, the recurrence ψ(x+1) = ψ(x) + 1/x) to 1e-13.
    #[test]
    fn special_functions() {
        let euler = 0.577_215_664_901_532_9;
        let mut fact = 1.0f64;
        for n in 1..30 {
            let lg = ln_gamma(n as f64);
            assert!(
                (lg - fact.ln()).abs() < 1e-12 * fact.ln().max(1.0),
                "lnΓ({n})"
            );
            fact *= n as f64;
        }
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-14);
        assert!((digamma(1.0) + euler).abs() < 1e-14);
        assert!((digamma(0.5) + euler + 2.0 * 2f64.ln()).abs() < 1e-14);
        for x in [0.01, 0.3, 2.5, 7.9, 8.1, 40.0, 1e6] {
            assert!((digamma(x + 1.0) - digamma(x) - 1.0 / x).abs() < 1e-12 * (1.0 / x).max(1.0));
            let lr = ln_gamma(x + 1.0) - ln_gamma(x) - x.ln();
            assert!(
                lr.abs() < 1e-12 * ln_gamma(x + 1.0).abs().max(1.0),
                "{x}: {lr}"
            );
        }
    }

    fn two_blobs() -> Array2<f64> {
        Array2::from_shape_fn((60, 2), |(i, j)| {
            let base = if i % 2 == 0 { 0.0 } else { 1.5 };
            base + (((i * 37 + j * 11) % 17) as f64 - 8.0) * 0.2
        })
    }

    /// Expected: a fit of one iteration continued by `fit_warm` one iteration at a time
    /// is, step for step, the fit of that many iterations (same hyperparameters, lower
    /// bounds and convergence), since a warm start resumes the same recursion.
    #[test]
    fn warm_start_resumes_the_recursion() {
        let x = two_blobs();
        let one = BayesianGaussianMixture::new(3).seed(1).max_iter(1).tol(0.0);
        let mut fit = one.fit(x.view()).unwrap();
        let mut bounds = fit.info.lower_bounds.clone();
        for _ in 0..5 {
            fit = one.fit_warm(x.view(), Some(&fit)).unwrap();
            assert_eq!(fit.info.n_iter, 1);
            bounds.extend(fit.info.lower_bounds.iter().copied());
        }
        let six = BayesianGaussianMixture::new(3)
            .seed(1)
            .max_iter(6)
            .tol(0.0)
            .fit(x.view())
            .unwrap();
        assert_eq!(bounds, six.info.lower_bounds);
        assert_eq!(fit.means, six.means);
        assert_eq!(fit.weight_concentration, six.weight_concentration);
        // the convergence test starts from the previous fit's bound: the seventh
        // iteration's change decides it
        let seven = BayesianGaussianMixture::new(3)
            .seed(1)
            .max_iter(7)
            .tol(0.0)
            .fit(x.view())
            .unwrap();
        let change = (seven.info.lower_bounds[6] - seven.info.lower_bounds[5]).abs();
        assert!(change > 0.0, "{:?}", seven.info.lower_bounds);
        for (factor, want) in [(1.5, true), (0.5, false)] {
            let warm = BayesianGaussianMixture::new(3)
                .seed(1)
                .max_iter(1)
                .tol(change * factor)
                .fit_warm(x.view(), Some(&fit))
                .unwrap();
            assert_eq!(warm.info.converged, want, "tol {factor} x the change");
            assert_eq!(warm.info.lower_bound, seven.info.lower_bound);
        }
    }

    /// Expected: a warm start of another K or family is refused naming `start`; a set
    /// interrupt flag stops the fit with `Interrupted`.
    #[test]
    fn warm_start_mismatch_and_interrupt() {
        let x = two_blobs();
        let fit = BayesianGaussianMixture::new(3).fit(x.view()).unwrap();
        let e = BayesianGaussianMixture::new(2)
            .fit_warm(x.view(), Some(&fit))
            .unwrap_err();
        assert!(e.to_string().contains("start"), "{e}");
        let e = BayesianGaussianMixture::new(3)
            .covariance_type(CovarianceType::Diag)
            .fit_warm(x.view(), Some(&fit))
            .unwrap_err();
        assert!(e.to_string().contains("start"), "{e}");
        let flag = Arc::new(AtomicBool::new(true));
        let e = BayesianGaussianMixture::new(3)
            .interrupt(flag)
            .fit(x.view())
            .unwrap_err();
        assert!(matches!(e, GmmError::Interrupted), "{e}");
    }
}
