//! Missing values (masked EM, issue 15): a model applied to rows with NaN entries, which
//! it marginalises over, and their imputation. The fit's own `missing_values` argument
//! is in `fit`.

use numpy::{IntoPyArray, PyArray1, PyArray2};
use pyo3::prelude::*;

use crate::{in_pool, to_py, Data, Model};

/// Responsibilities (N×K) of rows that may have NaN entries: each row's observed
/// entries under each component's marginal. The GIL is released.
#[pyfunction]
pub(crate) fn predict_proba_missing<'py>(
    py: Python<'py>,
    model: &Model,
    x: Data<'py>,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let m = &model.inner;
    let r = with_view!(x, v => py.detach(|| in_pool(|| m.predict_proba_missing(v))));
    Ok(r.map_err(to_py)?.into_pyarray(py))
}

/// `ln p(x_o)` of each row's observed entries. The GIL is released.
#[pyfunction]
pub(crate) fn score_samples_missing<'py>(
    py: Python<'py>,
    model: &Model,
    x: Data<'py>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let m = &model.inner;
    let r = with_view!(x, v => py.detach(|| in_pool(|| m.score_samples_missing(v))));
    Ok(r.map_err(to_py)?.into_pyarray(py))
}

/// `x` with each NaN replaced by its conditional expectation under the mixture, or with
/// `seed` a draw from the conditional mixture (reproducible for a seed). The GIL is
/// released.
#[pyfunction]
#[pyo3(signature = (model, x, seed=None))]
pub(crate) fn impute<'py>(
    py: Python<'py>,
    model: &Model,
    x: Data<'py>,
    seed: Option<u64>,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let m = &model.inner;
    let r = with_view!(x, v => py.detach(|| in_pool(|| m.impute(v, seed))));
    Ok(r.map_err(to_py)?.into_pyarray(py))
}
