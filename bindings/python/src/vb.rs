//! `gaussmix._core.fit_vb` and `VbFit`: the library's variational Bayesian mixture
//! ([`gaussmix::vb`]) for `gaussmix.BayesianGaussianMixture` (Python, scikit-learn's
//! conventions).

use std::str::FromStr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use gaussmix::vb::{
    BayesianFit, BayesianGaussianMixture, CovariancePrior, ResolvedPriors, WeightPrior,
};
use gaussmix::{FitInfo, GmmError};
use ndarray::{Array1, Array2};
use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyArrayDyn, PyReadonlyArray1, PyReadonlyArray2,
    PyReadonlyArrayDyn,
};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use super::{covariances_from, covariances_to_py, par, parse_ct, run_interruptible, to_py, Model};

fn weight_prior(s: &str) -> PyResult<WeightPrior> {
    match s {
        "dirichlet_process" => Ok(WeightPrior::DirichletProcess),
        "dirichlet_distribution" => Ok(WeightPrior::DirichletDistribution),
        _ => Err(PyValueError::new_err(format!(
            "weight prior must be dirichlet_process or dirichlet_distribution, got {s:?}"
        ))),
    }
}

fn weight_prior_name(p: WeightPrior) -> &'static str {
    match p {
        WeightPrior::DirichletProcess => "dirichlet_process",
        WeightPrior::DirichletDistribution => "dirichlet_distribution",
    }
}

/// A fitted variational mixture: the posterior hyperparameters (immutable).
#[pyclass(module = "gaussmix._core", name = "VbFit", frozen)]
pub struct VbFit {
    inner: BayesianFit,
}

fn check_len(what: &str, got: usize, k: usize) -> PyResult<()> {
    if got != k {
        return Err(PyValueError::new_err(format!(
            "{what} has {got} values, the mixture has {k} components"
        )));
    }
    Ok(())
}

#[pymethods]
impl VbFit {
    /// A posterior from its hyperparameters in scikit-learn's shapes (`covariances` and
    /// `precisions_cholesky` shaped by the covariance type; `degrees_of_freedom` K values,
    /// all equal for tied; `weight_concentration_b` for the stick-breaking prior only;
    /// `weights` the expected weights, summing to 1). For predictions and warm starts;
    /// the priors of a warm start are resolved on its data again.
    #[staticmethod]
    #[pyo3(signature = (covariance_type, weight_prior, weight_concentration, weight_concentration_b, mean_precision, means, degrees_of_freedom, covariances, precisions_cholesky, weights, converged=false, n_iter=0, lower_bound=None, lower_bounds=None))]
    #[allow(clippy::too_many_arguments)]
    fn from_parts(
        covariance_type: &str,
        weight_prior: &str,
        weight_concentration: PyReadonlyArray1<'_, f64>,
        weight_concentration_b: Option<PyReadonlyArray1<'_, f64>>,
        mean_precision: PyReadonlyArray1<'_, f64>,
        means: PyReadonlyArray2<'_, f64>,
        degrees_of_freedom: PyReadonlyArray1<'_, f64>,
        covariances: PyReadonlyArrayDyn<'_, f64>,
        precisions_cholesky: PyReadonlyArrayDyn<'_, f64>,
        weights: PyReadonlyArray1<'_, f64>,
        converged: bool,
        n_iter: usize,
        lower_bound: Option<f64>,
        lower_bounds: Option<Vec<f64>>,
    ) -> PyResult<Self> {
        let ct = parse_ct(covariance_type)?;
        let wp = self::weight_prior(weight_prior)?;
        let means = means.as_array().to_owned();
        let (k, d) = means.dim();
        check_len("weight_concentration", weight_concentration.len()?, k)?;
        let b = match (wp, weight_concentration_b) {
            (WeightPrior::DirichletProcess, Some(b)) => {
                check_len("weight_concentration_b", b.len()?, k)?;
                Some(b.as_array().to_owned())
            }
            (WeightPrior::DirichletProcess, None) => {
                return Err(PyValueError::new_err(
                    "the stick-breaking prior needs both arrays of weight_concentration",
                ))
            }
            (WeightPrior::DirichletDistribution, _) => None,
        };
        check_len("mean_precision", mean_precision.len()?, k)?;
        check_len("degrees_of_freedom", degrees_of_freedom.len()?, k)?;
        check_len("weights", weights.len()?, k)?;
        let fit = BayesianFit {
            covariance_type: ct,
            weight_prior: wp,
            weight_concentration: weight_concentration.as_array().to_owned(),
            weight_concentration_b: b,
            mean_precision: mean_precision.as_array().to_owned(),
            means,
            degrees_of_freedom: degrees_of_freedom.as_array().to_owned(),
            covariances: covariances_from(ct, &covariances)?,
            precisions_cholesky: covariances_from(ct, &precisions_cholesky)?,
            weights: weights.as_array().to_owned(),
            priors: ResolvedPriors {
                weight_concentration: 1.0 / k as f64,
                mean_precision: 1.0,
                mean: Array1::zeros(d),
                degrees_of_freedom: d as f64,
                covariance: CovariancePrior::Scalar(1.0),
            },
            info: FitInfo {
                converged,
                n_iter,
                lower_bound: lower_bound.unwrap_or(f64::NEG_INFINITY),
                lower_bounds: lower_bounds.unwrap_or_default(),
            },
        };
        fit.model().map_err(to_py)?; // shapes, finiteness, factors
        Ok(VbFit { inner: fit })
    }

    #[getter]
    fn covariance_type(&self) -> &'static str {
        self.inner.covariance_type.name()
    }
    #[getter]
    fn weight_prior(&self) -> &'static str {
        weight_prior_name(self.inner.weight_prior)
    }
    #[getter]
    fn weight_concentration<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.inner.weight_concentration.clone().into_pyarray(py)
    }
    #[getter]
    fn weight_concentration_b<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyArray1<f64>>> {
        self.inner
            .weight_concentration_b
            .clone()
            .map(|b| b.into_pyarray(py))
    }
    #[getter]
    fn mean_precision<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.inner.mean_precision.clone().into_pyarray(py)
    }
    #[getter]
    fn means<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        self.inner.means.clone().into_pyarray(py)
    }
    #[getter]
    fn degrees_of_freedom<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.inner.degrees_of_freedom.clone().into_pyarray(py)
    }
    #[getter]
    fn covariances<'py>(&self, py: Python<'py>) -> Bound<'py, PyArrayDyn<f64>> {
        covariances_to_py(py, &self.inner.covariances)
    }
    #[getter]
    fn precisions_cholesky<'py>(&self, py: Python<'py>) -> Bound<'py, PyArrayDyn<f64>> {
        covariances_to_py(py, &self.inner.precisions_cholesky)
    }
    #[getter]
    fn weights<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.inner.weights.clone().into_pyarray(py)
    }
    #[getter]
    fn converged(&self) -> bool {
        self.inner.info.converged
    }
    #[getter]
    fn n_iter(&self) -> usize {
        self.inner.info.n_iter
    }
    #[getter]
    fn lower_bound(&self) -> f64 {
        self.inner.info.lower_bound
    }
    #[getter]
    fn lower_bounds(&self) -> Vec<f64> {
        self.inner.info.lower_bounds.clone()
    }
    /// The resolved prior's Wishart scale in the covariance type's shape (a D×D matrix,
    /// D variances, or one variance).
    #[getter]
    fn covariance_prior<'py>(&self, py: Python<'py>) -> Bound<'py, PyArrayDyn<f64>> {
        match &self.inner.priors.covariance {
            CovariancePrior::Matrix(m) => m.clone().into_dyn().into_pyarray(py),
            CovariancePrior::Diagonal(v) => v.clone().into_dyn().into_pyarray(py),
            CovariancePrior::Scalar(s) => ndarray::arr0(*s).into_dyn().into_pyarray(py),
        }
    }
    /// The resolved prior's mean.
    #[getter]
    fn mean_prior<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.inner.priors.mean.clone().into_pyarray(py)
    }

    /// Responsibilities under the variational posterior (N×K). The GIL is released.
    fn predict_proba<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f64>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let f = &self.inner;
        let v = x.as_array();
        let r = py.detach(|| super::in_pool(|| f.predict_proba(v)));
        Ok(r.map_err(to_py)?.into_pyarray(py))
    }

    /// scikit-learn's `score_samples` of a variational mixture. The GIL is released.
    fn score_samples<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f64>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let f = &self.inner;
        let v = x.as_array();
        let r = py.detach(|| super::in_pool(|| f.score_samples(v)));
        Ok(r.map_err(to_py)?.into_pyarray(py))
    }

    /// The expected-parameter mixture (weights, means, covariances) as a `Model`.
    fn model(&self) -> PyResult<Model> {
        Ok(Model {
            inner: self.inner.model().map_err(to_py)?,
        })
    }
}

/// Variational EM (the library's `BayesianGaussianMixture`) on float64 rows, with the
/// GIL released; Ctrl-C stops it within one iteration. `None` keeps the library's
/// default (scikit-learn's). `covariance_prior`: a D×D matrix (full, tied), D variances
/// (diag) or a 0-d array (spherical). `warm`: continue from that fit (`n_init` ignored).
/// `init_labels`: the initial hard assignments (N labels below K) instead of drawing them.
#[pyfunction]
#[pyo3(signature = (x, *, n_components, covariance_type="full", weight_prior="dirichlet_process", weight_concentration_prior=None, mean_precision_prior=None, mean_prior=None, degrees_of_freedom_prior=None, covariance_prior=None, tol=1e-3, reg_covar=1e-6, max_iter=100, n_init=1, init="kmeans", seed=0, warm=None, init_labels=None, parallel=true))]
#[allow(clippy::too_many_arguments)]
pub fn fit_vb(
    py: Python<'_>,
    x: PyReadonlyArray2<'_, f64>,
    n_components: usize,
    covariance_type: &str,
    weight_prior: &str,
    weight_concentration_prior: Option<f64>,
    mean_precision_prior: Option<f64>,
    mean_prior: Option<PyReadonlyArray1<'_, f64>>,
    degrees_of_freedom_prior: Option<f64>,
    covariance_prior: Option<PyReadonlyArrayDyn<'_, f64>>,
    tol: f64,
    reg_covar: f64,
    max_iter: usize,
    n_init: usize,
    init: &str,
    seed: u64,
    warm: Option<&VbFit>,
    init_labels: Option<Vec<usize>>,
    parallel: bool,
) -> PyResult<VbFit> {
    let ct = parse_ct(covariance_type)?;
    let stop = Arc::new(AtomicBool::new(false));
    let mut g = BayesianGaussianMixture::new(n_components)
        .covariance_type(ct)
        .weight_prior(self::weight_prior(weight_prior)?)
        .tol(tol)
        .reg_covar(reg_covar)
        .max_iter(max_iter)
        .n_init(n_init)
        .init(gaussmix::InitMethod::from_str(init).map_err(to_py)?)
        .seed(seed)
        .parallelism(par(parallel))
        .interrupt(stop.clone());
    if let Some(l) = init_labels {
        g = g.init_labels(l);
    }
    if let Some(v) = weight_concentration_prior {
        g = g.weight_concentration_prior(v);
    }
    if let Some(v) = mean_precision_prior {
        g = g.mean_precision_prior(v);
    }
    if let Some(m) = &mean_prior {
        g = g.mean_prior(m.as_array().to_owned());
    }
    if let Some(v) = degrees_of_freedom_prior {
        g = g.degrees_of_freedom_prior(v);
    }
    if let Some(c) = &covariance_prior {
        let a = c.as_array();
        let prior = match a.ndim() {
            0 => CovariancePrior::Scalar(a.iter().copied().next().unwrap_or(f64::NAN)),
            1 => CovariancePrior::Diagonal(a.iter().copied().collect()),
            2 => CovariancePrior::Matrix(
                Array2::from_shape_vec((a.shape()[0], a.shape()[1]), a.iter().copied().collect())
                    .map_err(|e| PyValueError::new_err(e.to_string()))?,
            ),
            n => {
                return Err(PyValueError::new_err(format!(
                    "covariance_prior must have 0, 1 or 2 dimensions, got {n}"
                )))
            }
        };
        g = g.covariance_prior(prior);
    }
    let v = x.as_array();
    let start = warm.map(|w| &w.inner);
    let (r, signal) = run_interruptible(py, &stop, || g.fit_warm(v, start));
    if let Some(e) = signal {
        return Err(e);
    }
    let inner = r.map_err(|e: GmmError| to_py(e))?;
    Ok(VbFit { inner })
}
