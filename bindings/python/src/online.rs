//! Online EM (issue 15, Cappé & Moulines 2009): the state behind
//! `GaussianMixture.partial_fit`, one library `OnlineEm` per estimator.

use std::str::FromStr;

use numpy::PyReadonlyArray1;
use pyo3::prelude::*;

use gaussmix::online::{OnlineEm, StepSize};
use gaussmix::{GaussianMixture, InitMethod};

use crate::{in_pool, parse_ct, to_py, Data, Model};

/// The online-EM state of an estimator (`gaussmix.online` in the library).
#[pyclass(module = "gaussmix._core", name = "Online")]
pub(crate) struct Online {
    inner: OnlineEm,
}

#[pymethods]
impl Online {
    /// A fresh state: the first `partial_fit` initialises with these options (with at
    /// least `init_starts` starts), or, with `start`, continues from that model. `prior`
    /// (as in `fit`) is resolved on the first batch; with `noise` the first batch's fit
    /// has a uniform noise component, whose weight later batches re-estimate (its volume
    /// stays the first batch's).
    #[new]
    #[pyo3(signature = (*, n_components, covariance_type="full", tol=1e-3, reg_covar=1e-6, max_iter=100, n_init=1, init="kmeans", seed=0, parallel=true, missing_values="error", step_decay=0.6, step_offset=2.0, start=None, prior=None, noise=false, noise_init=0.1, init_starts=gaussmix::online::DEFAULT_INIT_STARTS))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        n_components: usize,
        covariance_type: &str,
        tol: f64,
        reg_covar: f64,
        max_iter: usize,
        n_init: usize,
        init: &str,
        seed: u64,
        parallel: bool,
        missing_values: &str,
        step_decay: f64,
        step_offset: f64,
        start: Option<&Model>,
        prior: Option<&Bound<'_, PyAny>>,
        noise: bool,
        noise_init: f64,
        init_starts: usize,
    ) -> PyResult<Self> {
        let mut g = GaussianMixture::new(n_components)
            .covariance_type(parse_ct(covariance_type)?)
            .tol(tol)
            .reg_covar(reg_covar)
            .max_iter(max_iter)
            .n_init(n_init)
            .init(InitMethod::from_str(init).map_err(to_py)?)
            .seed(seed)
            .parallelism(crate::par(parallel))
            .missing(gaussmix::MissingValues::from_str(missing_values).map_err(to_py)?)
            .noise(noise)
            .noise_init(noise_init);
        if let Some(p) = crate::prior::prior_choice(prior)? {
            g = g.prior(p);
        }
        g.validate().map_err(to_py)?;
        let step = StepSize::Decay {
            decay: step_decay,
            offset: step_offset,
        };
        step.validate().map_err(to_py)?;
        let inner = match start {
            Some(m) => OnlineEm::from_model(g, m.inner.clone()).map_err(to_py)?,
            None => OnlineEm::new(g),
        };
        Ok(Online {
            inner: inner.step_size(step).init_starts(init_starts),
        })
    }

    /// One online-EM step on a batch; returns `(t, gamma, batch_log_likelihood)`. The
    /// GIL is released; on error the state is unchanged.
    #[pyo3(signature = (x, sample_weight=None))]
    fn partial_fit(
        &mut self,
        py: Python<'_>,
        x: Data<'_>,
        sample_weight: Option<PyReadonlyArray1<'_, f64>>,
    ) -> PyResult<(u64, f64, f64)> {
        let w = sample_weight.as_ref().map(|w| w.as_array());
        let inner = &mut self.inner;
        let r = with_view!(x, v => py.detach(|| in_pool(|| inner.partial_fit(v, w))));
        let s = r.map_err(to_py)?;
        Ok((s.t, s.gamma, s.batch_log_likelihood))
    }

    /// The current model.
    fn model(&self) -> Option<Model> {
        self.inner.model().map(|m| Model { inner: m.clone() })
    }

    /// Batches seen.
    #[getter]
    fn n_batches(&self) -> u64 {
        self.inner.n_batches()
    }

    /// Restores a state written by `to_json` (or starts one from a plain model JSON).
    #[staticmethod]
    #[pyo3(signature = (s, parallel=true, missing_values="error"))]
    fn from_json(s: &str, parallel: bool, missing_values: &str) -> PyResult<Self> {
        let g = GaussianMixture::new(1)
            .parallelism(crate::par(parallel))
            .missing(gaussmix::MissingValues::from_str(missing_values).map_err(to_py)?);
        Ok(Online {
            inner: OnlineEm::from_json(g, s).map_err(to_py)?,
        })
    }

    /// The model JSON with its `online` member (docs/formats.md).
    fn to_json(&self) -> PyResult<String> {
        self.inner.to_json().map_err(to_py)
    }
}
