//! `gaussmix._core`: the Rust side of the Python package.
//!
//! A thin layer over the `gaussmix` library: data arrive as NumPy views (float32 or float64,
//! any strides; no copy), every fit and every pass over the data runs with the GIL released,
//! and errors of the library become `gaussmix.GaussmixError` (a `ValueError`) carrying the
//! library's message. The scikit-learn estimator, the parameter checks and the Spark and Dask
//! drivers are Python, in `python/gaussmix/`.

use std::os::raw::c_int;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use gaussmix::checkpoint::{Checkpointer, EmCheckpoint};
use gaussmix::{
    CovarianceType, Covariances, GaussianMixture, GmmError, GmmModel, IllDefinedPolicy, InitMethod,
    ModelFile, Parallelism, Storage, SufficientStatistics,
};
use ndarray::{Array1, ArrayView1, Ix1, Ix2, Ix3};
use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyArrayDyn, PyReadonlyArray1, PyReadonlyArray2,
    PyReadonlyArrayDyn,
};
use pyo3::exceptions::{PyKeyboardInterrupt, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};

pyo3::create_exception!(
    _core,
    GaussmixError,
    PyValueError,
    "Bad input or parameters, or a fit that cannot proceed (a ValueError); the message is the library's."
);

/// scikit-learn's message for a covariance that cannot be factored; user code and
/// scikit-learn's tests match it, so it leads the library's own (which names the component).
const SKLEARN_ILL_DEFINED: &str = "Fitting the mixture model failed because some components have ill-defined empirical covariance (for instance caused by singleton or collapsed samples). Try to decrease the number of components, increase reg_covar, or scale the input data.";

fn to_py(e: GmmError) -> PyErr {
    match &e {
        GmmError::IllDefinedCovariance { .. } => {
            GaussmixError::new_err(format!("{SKLEARN_ILL_DEFINED} (gaussmix: {e})"))
        }
        GmmError::Interrupted => PyKeyboardInterrupt::new_err("the fit was interrupted"),
        _ => GaussmixError::new_err(e.to_string()),
    }
}

/// The thread limit set through `set_num_threads` (threadpoolctl's controller calls it);
/// 0: no limit (rayon's global pool, `RAYON_NUM_THREADS` or all cores).
static THREAD_LIMIT: AtomicUsize = AtomicUsize::new(0);

/// The local pool of the current limit, built on first use and kept while the limit holds.
static LOCAL_POOL: Mutex<Option<(usize, Arc<rayon::ThreadPool>)>> = Mutex::new(None);

/// Threads a parallel pass uses now.
fn effective_threads() -> usize {
    match THREAD_LIMIT.load(Ordering::Relaxed) {
        0 => rayon::current_num_threads(),
        n => n,
    }
}

/// Runs `f` (which may use rayon) under the thread limit: on rayon's global pool when
/// there is none (or it equals the global pool's size), else on a local pool of that size.
fn in_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    let n = THREAD_LIMIT.load(Ordering::Relaxed);
    if n == 0 || n == rayon::current_num_threads() {
        return f();
    }
    let pool = {
        let mut cached = LOCAL_POOL.lock().unwrap_or_else(|p| p.into_inner());
        match &*cached {
            Some((m, p)) if *m == n => Some(p.clone()),
            _ => match rayon::ThreadPoolBuilder::new().num_threads(n).build() {
                Ok(p) => {
                    let p = Arc::new(p);
                    *cached = Some((n, p.clone()));
                    Some(p)
                }
                Err(_) => None, // cannot spawn threads: run where we are
            },
        }
    };
    match pool {
        Some(p) => p.install(f),
        None => f(),
    }
}

/// `gaussmix_get_num_threads()`: the threads gaussmix's parallel passes use (for
/// threadpoolctl's controller, through ctypes).
#[no_mangle]
pub extern "C" fn gaussmix_get_num_threads() -> c_int {
    effective_threads().min(c_int::MAX as usize) as c_int
}

/// `gaussmix_set_num_threads(n)`: limit gaussmix's parallel passes to `n` threads
/// (`n <= 0`: no limit).
#[no_mangle]
pub extern "C" fn gaussmix_set_num_threads(n: c_int) {
    THREAD_LIMIT.store(n.max(0) as usize, Ordering::Relaxed);
}

/// Limits the threads of every fit and pass to `n` (`0`: no limit: rayon's global pool).
#[pyfunction]
fn set_num_threads(n: usize) {
    THREAD_LIMIT.store(n, Ordering::Relaxed);
}

/// The threads a fit or pass uses now.
#[pyfunction]
fn get_num_threads() -> usize {
    effective_threads()
}

/// Runs `f` on a thread of its own, with the GIL released, while this thread checks for
/// signals every 50 ms: a `KeyboardInterrupt` (Ctrl-C; a Jupyter kernel's interrupt) sets
/// `stop`, which the library's EM loop reads before each iteration, and is returned once
/// the fit has stopped. Off the main thread, Python delivers no signals and this only waits.
fn run_interruptible<R: Send>(
    py: Python<'_>,
    stop: &Arc<AtomicBool>,
    f: impl FnOnce() -> R + Send,
) -> (R, Option<PyErr>) {
    let mut signal: Option<PyErr> = None;
    let r = py.detach(|| {
        std::thread::scope(|scope| {
            let (tx, rx) = mpsc::channel::<()>();
            let worker = scope.spawn(move || {
                let r = in_pool(f);
                let _ = tx.send(());
                r
            });
            while let Err(mpsc::RecvTimeoutError::Timeout) =
                rx.recv_timeout(Duration::from_millis(50))
            {
                if signal.is_none() {
                    if let Err(e) = Python::attach(|py| py.check_signals()) {
                        stop.store(true, Ordering::Relaxed);
                        signal = Some(e);
                    }
                }
            }
            worker.join()
        })
    });
    match r {
        Ok(r) => (r, signal),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Input rows: a 2-D NumPy array of float32 or float64, used in place.
#[derive(FromPyObject)]
enum Data<'py> {
    F64(PyReadonlyArray2<'py, f64>),
    F32(PyReadonlyArray2<'py, f32>),
}

/// Runs `$body` with `$x` bound to an `ArrayView2` of either element type.
macro_rules! with_view {
    ($data:expr, $x:ident => $body:expr) => {
        match &$data {
            Data::F64(a) => {
                let $x = a.as_array();
                $body
            }
            Data::F32(a) => {
                let $x = a.as_array();
                $body
            }
        }
    };
}

fn parse_ct(s: &str) -> PyResult<CovarianceType> {
    CovarianceType::from_str(s).map_err(to_py)
}

fn parse_init(s: &str) -> PyResult<InitMethod> {
    InitMethod::from_str(s).map_err(to_py)
}

fn par(parallel: bool) -> Parallelism {
    if parallel {
        Parallelism::Rayon
    } else {
        Parallelism::Sequential
    }
}

/// Parameters in scikit-learn's shapes (`full` K×D×D, `tied` D×D, `diag` K×D,
/// `spherical` K) as a library `Covariances`.
fn covariances_from(ct: CovarianceType, a: &PyReadonlyArrayDyn<'_, f64>) -> PyResult<Covariances> {
    let v = a.as_array();
    let shape = v.shape().to_vec();
    let bad = || {
        PyValueError::new_err(format!(
            "array of shape {shape:?} does not have the shape of covariance type {ct}"
        ))
    };
    Ok(match ct.storage() {
        Storage::Full => Covariances::Full(
            v.into_dimensionality::<Ix3>()
                .map_err(|_| bad())?
                .to_owned(),
        ),
        Storage::Tied => Covariances::Tied(
            v.into_dimensionality::<Ix2>()
                .map_err(|_| bad())?
                .to_owned(),
        ),
        Storage::Diag => Covariances::Diag(
            v.into_dimensionality::<Ix2>()
                .map_err(|_| bad())?
                .to_owned(),
        ),
        Storage::Spherical => Covariances::Spherical(
            v.into_dimensionality::<Ix1>()
                .map_err(|_| bad())?
                .to_owned(),
        ),
    })
}

fn covariances_to_py<'py>(py: Python<'py>, c: &Covariances) -> Bound<'py, PyArrayDyn<f64>> {
    match c {
        Covariances::Full(a) => a.clone().into_dyn().into_pyarray(py),
        Covariances::Tied(a) | Covariances::Diag(a) => a.clone().into_dyn().into_pyarray(py),
        Covariances::Spherical(a) => a.clone().into_dyn().into_pyarray(py),
    }
}

fn nested(c: &Covariances) -> serde_json::Value {
    match c {
        Covariances::Full(a) => serde_json::json!(a
            .outer_iter()
            .map(|m| m.outer_iter().map(|r| r.to_vec()).collect::<Vec<_>>())
            .collect::<Vec<_>>()),
        Covariances::Tied(a) | Covariances::Diag(a) => {
            serde_json::json!(a.outer_iter().map(|r| r.to_vec()).collect::<Vec<_>>())
        }
        Covariances::Spherical(a) => serde_json::json!(a.to_vec()),
    }
}

/// Drawn rows and their component labels.
type Samples<'py> = (Bound<'py, PyArray2<f64>>, Bound<'py, PyArray1<i64>>);

/// A fitted Gaussian mixture (the library's `GmmModel`). Immutable; pickles through its JSON.
#[pyclass(module = "gaussmix._core", name = "Model", frozen)]
#[derive(Clone)]
struct Model {
    inner: GmmModel,
}

#[pymethods]
impl Model {
    /// Loads a model from the library's JSON (`GmmModel::to_json`).
    #[staticmethod]
    fn from_json(s: &str) -> PyResult<Self> {
        Ok(Model {
            inner: GmmModel::from_json(s).map_err(to_py)?,
        })
    }

    /// The model as the library's JSON (exact: every double round-trips).
    fn to_json(&self) -> PyResult<String> {
        self.inner.to_json().map_err(to_py)
    }

    /// A model from parameters in scikit-learn's shapes. `precisions_cholesky` (upper
    /// triangular P with P Pᵀ = Σ⁻¹) is recomputed from `covariances` when not given.
    #[staticmethod]
    #[pyo3(signature = (covariance_type, weights, means, covariances, precisions_cholesky=None, feature_names=None, converged=false, n_iter=0, lower_bound=None, lower_bounds=None))]
    #[allow(clippy::too_many_arguments)]
    fn from_arrays(
        covariance_type: &str,
        weights: PyReadonlyArray1<'_, f64>,
        means: PyReadonlyArray2<'_, f64>,
        covariances: PyReadonlyArrayDyn<'_, f64>,
        precisions_cholesky: Option<PyReadonlyArrayDyn<'_, f64>>,
        feature_names: Option<Vec<String>>,
        converged: bool,
        n_iter: usize,
        lower_bound: Option<f64>,
        lower_bounds: Option<Vec<f64>>,
    ) -> PyResult<Self> {
        let ct = parse_ct(covariance_type)?;
        let means = means.as_array();
        let (k, d) = means.dim();
        let cov = covariances_from(ct, &covariances)?;
        let mut file = serde_json::json!({
            "format_version": gaussmix::MODEL_FORMAT_VERSION,
            "covariance_type": ct.name(),
            "n_components": k,
            "n_features": d,
            "feature_names": feature_names.unwrap_or_else(|| (0..d).map(|i| format!("x{i}")).collect()),
            "weights": weights.as_array().to_vec(),
            "means": means.outer_iter().map(|r| r.to_vec()).collect::<Vec<_>>(),
            "covariances": nested(&cov),
            "converged": converged,
            "n_iter": n_iter,
            "lower_bound": lower_bound.filter(|v| v.is_finite()),
            "lower_bounds": lower_bounds.unwrap_or_default(),
        });
        if let Some(p) = precisions_cholesky {
            file["precisions_cholesky"] = nested(&covariances_from(ct, &p)?);
        }
        Self::from_json(&file.to_string())
    }

    /// The same parameters with other convergence information.
    fn with_info(
        &self,
        converged: bool,
        n_iter: usize,
        lower_bound: f64,
        lower_bounds: Vec<f64>,
    ) -> PyResult<Self> {
        let mut f = ModelFile::from_model(&self.inner);
        f.converged = converged;
        f.n_iter = n_iter;
        f.lower_bound = Some(lower_bound).filter(|v| v.is_finite());
        f.lower_bounds = lower_bounds;
        Ok(Model {
            inner: f.into_model().map_err(to_py)?,
        })
    }

    /// The same model with these feature names.
    fn with_feature_names(&self, names: Vec<String>) -> PyResult<Self> {
        let mut inner = self.inner.clone();
        inner.set_feature_names(names).map_err(to_py)?;
        Ok(Model { inner })
    }

    #[getter]
    fn covariance_type(&self) -> &'static str {
        self.inner.covariance_type().name()
    }
    #[getter]
    fn n_components(&self) -> usize {
        self.inner.n_components()
    }
    #[getter]
    fn n_features(&self) -> usize {
        self.inner.n_features()
    }
    #[getter]
    fn n_parameters(&self) -> usize {
        self.inner.n_parameters()
    }
    #[getter]
    fn feature_names(&self) -> Vec<String> {
        self.inner.feature_names().to_vec()
    }
    #[getter]
    fn weights<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.inner.weights().clone().into_pyarray(py)
    }
    #[getter]
    fn means<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        self.inner.means().clone().into_pyarray(py)
    }
    #[getter]
    fn covariances<'py>(&self, py: Python<'py>) -> Bound<'py, PyArrayDyn<f64>> {
        covariances_to_py(py, self.inner.covariances())
    }
    #[getter]
    fn precisions<'py>(&self, py: Python<'py>) -> Bound<'py, PyArrayDyn<f64>> {
        covariances_to_py(py, &self.inner.precisions())
    }
    #[getter]
    fn precisions_cholesky<'py>(&self, py: Python<'py>) -> Bound<'py, PyArrayDyn<f64>> {
        covariances_to_py(py, self.inner.precisions_cholesky())
    }
    #[getter]
    fn converged(&self) -> bool {
        self.inner.info().converged
    }
    #[getter]
    fn n_iter(&self) -> usize {
        self.inner.info().n_iter
    }
    #[getter]
    fn lower_bound(&self) -> f64 {
        self.inner.info().lower_bound
    }
    #[getter]
    fn lower_bounds(&self) -> Vec<f64> {
        self.inner.info().lower_bounds.clone()
    }

    /// Responsibilities (N×K), rows summing to 1. The GIL is released.
    #[pyo3(signature = (x, parallel=true))]
    fn predict_proba<'py>(
        &self,
        py: Python<'py>,
        x: Data<'py>,
        parallel: bool,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let m = &self.inner;
        let r = with_view!(x, v => py.detach(|| in_pool(|| m.predict_proba_par(v, par(parallel)))));
        Ok(r.map_err(to_py)?.into_pyarray(py))
    }

    /// Most responsible component per row (int64). The GIL is released.
    #[pyo3(signature = (x, parallel=true))]
    fn predict<'py>(
        &self,
        py: Python<'py>,
        x: Data<'py>,
        parallel: bool,
    ) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let m = &self.inner;
        let r = with_view!(x, v => py.detach(|| in_pool(|| {
            m.predict_proba_par(v, par(parallel)).map(|p| {
                p.outer_iter()
                    .map(|row| {
                        let mut best = 0usize;
                        for (i, val) in row.iter().enumerate() {
                            if *val > row[best] {
                                best = i;
                            }
                        }
                        best as i64
                    })
                    .collect::<Array1<i64>>()
            })
        })));
        Ok(r.map_err(to_py)?.into_pyarray(py))
    }

    /// `ln p(x)` per row. The GIL is released.
    #[pyo3(signature = (x, parallel=true))]
    fn score_samples<'py>(
        &self,
        py: Python<'py>,
        x: Data<'py>,
        parallel: bool,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let m = &self.inner;
        let r = with_view!(x, v => py.detach(|| in_pool(|| m.score_samples_par(v, par(parallel)))));
        Ok(r.map_err(to_py)?.into_pyarray(py))
    }

    /// `n` samples and their component labels (grouped by component); seeded.
    fn sample<'py>(&self, py: Python<'py>, n: usize, seed: u64) -> PyResult<Samples<'py>> {
        let m = &self.inner;
        let (x, labels) = py.detach(|| m.sample(n, seed)).map_err(to_py)?;
        Ok((
            x.into_pyarray(py),
            labels.mapv(|v| v as i64).into_pyarray(py),
        ))
    }

    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyAny>, (String,))> {
        let cls = py.get_type::<Model>();
        Ok((cls.getattr("from_json")?, (self.to_json()?,)))
    }

    fn __repr__(&self) -> String {
        format!(
            "Model(covariance_type={:?}, n_components={}, n_features={})",
            self.inner.covariance_type().name(),
            self.inner.n_components(),
            self.inner.n_features()
        )
    }
}

/// Merged sufficient statistics of a model over some rows (docs/design.md §3): `merge` is a sum,
/// `finalize` the M-step; `to_bytes`/`from_bytes` give the versioned little-endian form that
/// cluster workers ship.
#[pyclass(module = "gaussmix._core", name = "Stats")]
struct Stats {
    inner: SufficientStatistics,
}

#[pymethods]
impl Stats {
    /// Decodes bytes written by `to_bytes` (or by `partial_stats`).
    #[staticmethod]
    fn from_bytes(b: &[u8]) -> PyResult<Self> {
        Ok(Stats {
            inner: SufficientStatistics::from_bytes(b).map_err(to_py)?,
        })
    }

    /// The E-step statistics of `model` over the rows of `x` (optionally weighted).
    /// The GIL is released.
    #[staticmethod]
    #[pyo3(signature = (model, x, sample_weight=None, parallel=true))]
    fn from_chunk(
        py: Python<'_>,
        model: &Model,
        x: Data<'_>,
        sample_weight: Option<PyReadonlyArray1<'_, f64>>,
        parallel: bool,
    ) -> PyResult<Self> {
        let m = &model.inner;
        let w = sample_weight.as_ref().map(|w| w.as_array());
        let s = with_view!(x, v => py.detach(|| in_pool(|| SufficientStatistics::from_chunk_par(m, v, w, par(parallel)))));
        Ok(Stats {
            inner: s.map_err(to_py)?,
        })
    }

    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.to_bytes())
    }

    /// Adds another set of statistics of the same model, in place.
    fn merge(&mut self, other: &Stats) -> PyResult<()> {
        self.inner.merge(&other.inner).map_err(to_py)
    }

    /// The M-step: a new model from these statistics.
    fn finalize(&self, py: Python<'_>, reg_covar: f64) -> PyResult<Model> {
        let s = &self.inner;
        Ok(Model {
            inner: py.detach(|| s.finalize(reg_covar)).map_err(to_py)?,
        })
    }

    /// Mean log-likelihood per (weighted) sample: scikit-learn's lower bound.
    #[getter]
    fn mean_log_likelihood(&self) -> f64 {
        self.inner.mean_log_likelihood()
    }
    #[getter]
    fn log_likelihood(&self) -> f64 {
        self.inner.log_likelihood()
    }
    #[getter]
    fn weight_sum(&self) -> f64 {
        self.inner.weight_sum()
    }
    #[getter]
    fn n_samples(&self) -> u64 {
        self.inner.n_samples()
    }
    #[getter]
    fn nk<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.inner.nk().to_owned().into_pyarray(py)
    }
    #[getter]
    fn covariance_type(&self) -> &'static str {
        self.inner.covariance_type().name()
    }
}

/// Statistics of `model` over the rows of `x`, as bytes (what a cluster task returns).
#[pyfunction]
#[pyo3(signature = (model, x, sample_weight=None, parallel=true))]
fn partial_stats<'py>(
    py: Python<'py>,
    model: &Model,
    x: Data<'_>,
    sample_weight: Option<PyReadonlyArray1<'_, f64>>,
    parallel: bool,
) -> PyResult<Bound<'py, PyBytes>> {
    let s = Stats::from_chunk(py, model, x, sample_weight, parallel)?;
    Ok(s.to_bytes(py))
}

/// Sums serialised statistics, in the order given.
#[pyfunction]
fn merge_stats(parts: &Bound<'_, PyList>) -> PyResult<Stats> {
    let mut total: Option<SufficientStatistics> = None;
    for p in parts.iter() {
        let b: &[u8] = p.extract().map_err(|_| {
            PyTypeError::new_err("merge_stats takes a list of bytes from partial_stats")
        })?;
        let s = SufficientStatistics::from_bytes(b).map_err(to_py)?;
        match &mut total {
            None => total = Some(s),
            Some(t) => t.merge(&s).map_err(to_py)?,
        }
    }
    total
        .map(|inner| Stats { inner })
        .ok_or_else(|| PyValueError::new_err("merge_stats needs at least one part"))
}

/// The library's fit, with the GIL released. `callback(init, iter, lower_bound, change)` is
/// called after every EM iteration (taking the GIL for the call) when given; an exception
/// it raises stops the fit before the next iteration and is raised here. Ctrl-C
/// (`KeyboardInterrupt`) stops the fit within one EM iteration. `ill_defined`: `"error"`
/// or `"keep-previous"` (an M-step during EM that cannot factor a covariance ends that
/// start with the parameters before it, `converged` false). `prior`: see `prior.rs`;
/// `noise`: a uniform noise component starting at weight `noise_init`. `missing_values`:
/// `"error"` (a NaN is an error) or `"em"` (masked EM: rows count through their observed
/// entries). `checkpoint`: a file the state of EM is written to (atomically) every
/// `checkpoint_every` iterations and on Ctrl-C; `resume`: a checkpoint to continue from
/// (same data and options), which ends with the uninterrupted fit's model, bit for bit.
#[pyfunction]
#[pyo3(signature = (x, *, n_components, covariance_type="full", tol=1e-3, reg_covar=1e-6, max_iter=100, n_init=1, init="kmeans", seed=0, weights_init=None, means_init=None, precisions_init=None, sample_weight=None, warm=None, callback=None, parallel=true, ill_defined="error", prior=None, noise=false, noise_init=0.1, missing_values="error", checkpoint=None, checkpoint_every=10, resume=None))]
#[allow(clippy::too_many_arguments)]
fn fit(
    py: Python<'_>,
    x: Data<'_>,
    n_components: usize,
    covariance_type: &str,
    tol: f64,
    reg_covar: f64,
    max_iter: usize,
    n_init: usize,
    init: &str,
    seed: u64,
    weights_init: Option<PyReadonlyArray1<'_, f64>>,
    means_init: Option<PyReadonlyArray2<'_, f64>>,
    precisions_init: Option<PyReadonlyArrayDyn<'_, f64>>,
    sample_weight: Option<PyReadonlyArray1<'_, f64>>,
    warm: Option<&Model>,
    callback: Option<Py<PyAny>>,
    parallel: bool,
    ill_defined: &str,
    prior: Option<&Bound<'_, PyAny>>,
    noise: bool,
    noise_init: f64,
    missing_values: &str,
    checkpoint: Option<String>,
    checkpoint_every: usize,
    resume: Option<String>,
) -> PyResult<Model> {
    let ct = parse_ct(covariance_type)?;
    let stop = Arc::new(AtomicBool::new(false));
    let mut g = GaussianMixture::new(n_components)
        .covariance_type(ct)
        .tol(tol)
        .reg_covar(reg_covar)
        .max_iter(max_iter)
        .n_init(n_init)
        .init(parse_init(init)?)
        .seed(seed)
        .parallelism(par(parallel))
        .ill_defined(IllDefinedPolicy::from_str(ill_defined).map_err(to_py)?)
        .missing(gaussmix::MissingValues::from_str(missing_values).map_err(to_py)?)
        .interrupt(stop.clone())
        .noise(noise)
        .noise_init(noise_init);
    if let Some(p) = prior::prior_choice(prior)? {
        g = g.prior(p);
    }
    if let Some(w) = &weights_init {
        g = g.weights_init(w.as_array().to_owned());
    }
    if let Some(m) = &means_init {
        g = g.means_init(m.as_array().to_owned());
    }
    if let Some(p) = &precisions_init {
        g = g.precisions_init(covariances_from(ct, p)?);
    }
    let w: Option<ArrayView1<f64>> = sample_weight.as_ref().map(|w| w.as_array());
    let warm = warm.map(|m| &m.inner);
    let mut cb_err: Option<PyErr> = None;
    let cb_stop = stop.clone();
    let mut observer = |e: &gaussmix::IterationEvent| {
        if let Some(cb) = &callback {
            if cb_err.is_none() {
                Python::attach(|py| {
                    if let Err(err) = cb.call1(py, (e.init, e.iter, e.lower_bound, e.change)) {
                        cb_err = Some(err);
                        cb_stop.store(true, Ordering::Relaxed);
                    }
                });
            }
        }
    };
    let ckpt_path = checkpoint.clone().or_else(|| resume.clone());
    if ckpt_path.is_some() && warm.is_some() {
        return Err(PyValueError::new_err(
            "checkpoint/resume cannot be combined with a warm start (warm_start=True on a fitted estimator)",
        ));
    }
    let resumed = match &resume {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| {
                PyValueError::new_err(format!("resume={p:?}: cannot read the checkpoint: {e}"))
            })?;
            Some(EmCheckpoint::from_json(&text).map_err(to_py)?)
        }
        None => None,
    };
    let mut sink = |c: &EmCheckpoint| {
        let path = ckpt_path.as_deref().unwrap_or_default();
        save_checkpoint(path, &c.to_json()?).map_err(|e| GmmError::Checkpoint {
            reason: format!("{path}: {e}"),
        })
    };
    let mut ckpt = ckpt_path.as_ref().map(|_| {
        let c = Checkpointer::every_iterations(checkpoint_every, &mut sink);
        match resumed {
            Some(r) => c.resume(r),
            None => c,
        }
    });
    let (r, signal) = with_view!(x, v => run_interruptible(py, &stop, || match ckpt.as_mut() {
        Some(c) => g.fit_checkpointed(v, w, &mut observer, c),
        None => g.fit_observed(v, w, warm, &mut observer),
    }));
    if let Some(err) = signal.or(cb_err) {
        return Err(err);
    }
    Ok(Model {
        inner: r.map_err(to_py)?,
    })
}

/// Replaces `path` with `text` atomically: a temporary file in the same folder, synced,
/// then renamed over it.
fn save_checkpoint(path: &str, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let target = std::path::Path::new(path);
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        target
            .file_name()
            .map_or("checkpoint".into(), |n| n.to_string_lossy()),
        std::process::id()
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, target)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

mod anomaly;
mod missing;
mod online;
mod prior;
mod select;
mod vb;
/// The module: `Model`, `Stats`, `fit`, `partial_stats`, `merge_stats`, `GaussmixError`.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<anomaly::AnomalyCore>()?;
    m.add_class::<Model>()?;
    m.add_class::<Stats>()?;
    m.add_class::<online::Online>()?;
    m.add_function(wrap_pyfunction!(fit, m)?)?;
    m.add_function(wrap_pyfunction!(select::select, m)?)?;
    m.add_class::<vb::VbFit>()?;
    m.add_function(wrap_pyfunction!(vb::fit_vb, m)?)?;
    m.add_function(wrap_pyfunction!(partial_stats, m)?)?;
    m.add_function(wrap_pyfunction!(merge_stats, m)?)?;
    m.add_function(wrap_pyfunction!(missing::predict_proba_missing, m)?)?;
    m.add_function(wrap_pyfunction!(missing::score_samples_missing, m)?)?;
    m.add_function(wrap_pyfunction!(missing::impute, m)?)?;
    m.add_function(wrap_pyfunction!(set_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(get_num_threads, m)?)?;
    m.add("GaussmixError", m.py().get_type::<GaussmixError>())?;
    m.add("STATS_FORMAT_VERSION", gaussmix::STATS_FORMAT_VERSION)?;
    m.add("MODEL_FORMAT_VERSION", gaussmix::MODEL_FORMAT_VERSION)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
