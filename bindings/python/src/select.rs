//! `gaussmix._core.select`: the library's model selection ([`gaussmix::select`]) over K
//! and covariance families, for `gaussmix.select` (Python).

use std::str::FromStr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use gaussmix::select::{CellOutcome, Criterion, Selection};
use gaussmix::CovarianceType;
use numpy::PyReadonlyArray1;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::{par, run_interruptible, to_py, Data, Model};

/// Every cell of a selection as a dict (`n_components`, `covariance_type` (the library's
/// name), `mclust_name`, `status` (`fitted`, `degenerate`, `skipped`, `failed`),
/// `degenerate`, `reason`, and for fitted and degenerate cells `log_likelihood`,
/// `n_parameters`, `bic`, `aic`, `icl`, `icl_soft`, `converged`, `n_iter`, `start`;
/// `None` where a cell has no value), the index of the chosen cell, its model and the
/// criterion's name. The GIL is released; Ctrl-C stops the selection.
#[pyfunction]
#[pyo3(signature = (x, *, n_components, covariance_types=None, criterion="bic", sample_weight=None, reg_covar=1e-6, prior=None, noise=false, equal_weights=false, hc_start=true, kmeans_starts=3, max_iter=2000, total_tol=1e-5, seed=0, parallel=true))]
#[allow(clippy::too_many_arguments)]
#[allow(clippy::type_complexity)]
pub fn select<'py>(
    py: Python<'py>,
    x: Data<'py>,
    n_components: Vec<usize>,
    covariance_types: Option<Vec<String>>,
    criterion: &str,
    sample_weight: Option<PyReadonlyArray1<'py, f64>>,
    reg_covar: f64,
    prior: Option<&Bound<'py, PyAny>>,
    noise: bool,
    equal_weights: bool,
    hc_start: bool,
    kmeans_starts: usize,
    max_iter: usize,
    total_tol: f64,
    seed: u64,
    parallel: bool,
) -> PyResult<(
    Vec<Bound<'py, PyDict>>,
    Option<usize>,
    Option<Model>,
    &'static str,
)> {
    let criterion = Criterion::from_str(criterion).map_err(to_py)?;
    let stop = Arc::new(AtomicBool::new(false));
    let mut s = Selection::new(n_components)
        .criterion(criterion)
        .reg_covar(reg_covar)
        .prior(super::prior::prior_choice(prior)?)
        .noise(noise)
        .equal_weights(equal_weights)
        .hc_start(hc_start)
        .kmeans_starts(kmeans_starts)
        .max_iter(max_iter)
        .total_tol(total_tol)
        .seed(seed)
        .parallelism(par(parallel))
        .interrupt(stop.clone());
    if let Some(names) = covariance_types {
        let families: Result<Vec<CovarianceType>, _> =
            names.iter().map(|n| CovarianceType::from_str(n)).collect();
        s = s.covariance_types(&families.map_err(to_py)?);
    }
    let w = sample_weight.as_ref().map(|w| w.as_array());
    let (r, signal) =
        with_view!(x, v => run_interruptible(py, &stop, || s.run_weighted(v, w, &|_| {})));
    if let Some(e) = signal {
        return Err(e);
    }
    let r = r.map_err(to_py)?;
    let mut rows = Vec::with_capacity(r.cells.len());
    for cell in &r.cells {
        let d = PyDict::new(py);
        d.set_item("n_components", cell.k)?;
        d.set_item("covariance_type", cell.covariance_type.name())?;
        d.set_item("mclust_name", cell.covariance_type.mclust_name())?;
        let (status, reason) = match &cell.outcome {
            CellOutcome::Fitted(s) if s.kept_start() => (
                "fitted",
                Some(gaussmix::select::KEPT_START_NOTE.to_string()),
            ),
            CellOutcome::Fitted(_) => ("fitted", None),
            CellOutcome::Degenerate { reason, .. } => ("degenerate", Some(reason.clone())),
            CellOutcome::Skipped(why) => ("skipped", Some(why.clone())),
            CellOutcome::Failed(why) => ("failed", Some(why.clone())),
        };
        d.set_item("status", status)?;
        d.set_item("degenerate", status == "degenerate")?;
        d.set_item("reason", reason)?;
        let sc = cell.scores();
        d.set_item("log_likelihood", sc.map(|s| s.log_likelihood))?;
        d.set_item("n_parameters", sc.map(|s| s.n_parameters))?;
        d.set_item("bic", sc.map(|s| s.bic))?;
        d.set_item("aic", sc.map(|s| s.aic))?;
        d.set_item("icl", sc.map(|s| s.icl))?;
        d.set_item("icl_soft", sc.map(|s| s.icl_soft))?;
        d.set_item("converged", sc.map(|s| s.converged))?;
        d.set_item("n_iter", sc.map(|s| s.n_iter))?;
        d.set_item("start", sc.map(|s| s.start.clone()))?;
        rows.push(d);
    }
    Ok((
        rows,
        r.best,
        r.model.map(|inner| Model { inner }),
        r.criterion.name(),
    ))
}
