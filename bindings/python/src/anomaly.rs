//! `gaussmix._core.AnomalyCore`: the library's anomaly detector ([`gaussmix::anomaly`])
//! for `gaussmix.AnomalyDetector` (Python, PyOD and scikit-learn conventions).

use gaussmix::anomaly::{AnomalyDetector, FittedDetector};
use gaussmix::CovarianceType;
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use std::str::FromStr;

fn err(e: gaussmix::GmmError) -> PyErr {
    super::GaussmixError::new_err(e.to_string())
}

/// A fitted anomaly detector (the ensemble or single mixture and its threshold).
#[pyclass(module = "gaussmix._core")]
pub struct AnomalyCore {
    det: FittedDetector,
}

#[pymethods]
impl AnomalyCore {
    /// Fits a detector to float64 rows; `None` keeps the library's default.
    #[staticmethod]
    #[pyo3(signature = (x, contamination, max_k=None, covariance=None, reg_covar=None, n_init=None, seed=None, min_points=None, max_fit_rows=None, ensemble=true, noise=false))]
    #[allow(clippy::too_many_arguments)]
    fn fit(
        py: Python<'_>,
        x: PyReadonlyArray2<'_, f64>,
        contamination: f64,
        max_k: Option<usize>,
        covariance: Option<Vec<String>>,
        reg_covar: Option<f64>,
        n_init: Option<usize>,
        seed: Option<u64>,
        min_points: Option<f64>,
        max_fit_rows: Option<usize>,
        ensemble: bool,
        noise: bool,
    ) -> PyResult<Self> {
        let mut d = AnomalyDetector::new()
            .contamination(contamination)
            .ensemble(ensemble)
            .noise(noise);
        if let Some(k) = max_k {
            d = d.max_k(k);
        }
        if let Some(c) = covariance {
            let f: Result<Vec<CovarianceType>, _> =
                c.iter().map(|s| CovarianceType::from_str(s)).collect();
            d = d.families(f.map_err(err)?);
        }
        if let Some(r) = reg_covar {
            d = d.reg_covar(r);
        }
        if let Some(n) = n_init {
            d = d.n_init(n);
        }
        if let Some(s) = seed {
            d = d.seed(s);
        }
        if let Some(m) = min_points {
            d = d.min_points(m);
        }
        if let Some(n) = max_fit_rows {
            d = d.max_fit_rows(n);
        }
        let x = x.as_array();
        let det = py.detach(|| d.fit(x)).map_err(err)?;
        Ok(AnomalyCore { det })
    }

    /// Scores (higher is more anomalous).
    fn score<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f64>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let x = x.as_array();
        let s = py.detach(|| self.det.score(x)).map_err(err)?;
        Ok(s.into_pyarray(py))
    }

    /// The training rows' scores, when fitted here.
    fn training_scores<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyArray1<f64>>> {
        self.det
            .training_scores()
            .map(|s| s.clone().into_pyarray(py))
    }

    /// The threshold on the score.
    #[getter]
    fn threshold(&self) -> f64 {
        self.det.threshold()
    }

    /// Number of features.
    #[getter]
    fn n_features(&self) -> usize {
        self.det.n_features()
    }

    /// Number of mixtures averaged.
    #[getter]
    fn n_members(&self) -> usize {
        self.det.n_members()
    }

    /// The detector's JSON.
    fn to_json(&self) -> PyResult<String> {
        self.det.to_json().map_err(err)
    }

    /// Reads a detector's JSON.
    #[staticmethod]
    fn from_json(s: &str) -> PyResult<Self> {
        Ok(AnomalyCore {
            det: FittedDetector::from_json(s).map_err(err)?,
        })
    }
}
