//! The `prior=` argument of fits and selections: `None`, `"mclust"` (mclust's default
//! conjugate prior, [`gaussmix::PriorChoice::Mclust`]) or a dict of hyperparameters
//! `{"shrinkage": κ, "mean": μ (D), "dof": ν, "scale": Λ}` (`scale` a float for the
//! diagonal and spherical families, a D×D matrix for the others).

use gaussmix::{Prior, PriorChoice, PriorScale};
use ndarray::{Array1, Array2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

const USAGE: &str = "prior must be None, \"mclust\" or a dict with keys shrinkage, mean, dof and scale (a float, or a D×D matrix for the non-diagonal families)";

/// Parses the Python value of `prior=`.
pub fn prior_choice(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<PriorChoice>> {
    let Some(obj) = obj else { return Ok(None) };
    if obj.is_none() {
        return Ok(None);
    }
    if let Ok(s) = obj.extract::<String>() {
        return match s.to_ascii_lowercase().as_str() {
            "mclust" => Ok(Some(PriorChoice::Mclust)),
            _ => Err(PyValueError::new_err(format!("{USAGE}; got {s:?}"))),
        };
    }
    let get = |key: &str| {
        obj.get_item(key)
            .map_err(|_| PyValueError::new_err(format!("{USAGE}; {key:?} is missing")))
    };
    let bad = |key: &str| PyValueError::new_err(format!("{USAGE}; {key:?} has the wrong type"));
    let shrinkage: f64 = get("shrinkage")?.extract().map_err(|_| bad("shrinkage"))?;
    let mean: Vec<f64> = get("mean")?.extract().map_err(|_| bad("mean"))?;
    let dof: f64 = get("dof")?.extract().map_err(|_| bad("dof"))?;
    let scale_obj = get("scale")?;
    let scale = if let Ok(v) = scale_obj.extract::<f64>() {
        PriorScale::Scalar(v)
    } else {
        let rows: Vec<Vec<f64>> = scale_obj
            .call_method0("tolist")
            .and_then(|l| l.extract())
            .or_else(|_| scale_obj.extract())
            .map_err(|_| bad("scale"))?;
        let d = rows.len();
        if rows.iter().any(|r| r.len() != d) {
            return Err(PyValueError::new_err(format!(
                "prior scale must be a square matrix, got {d} rows of lengths {:?}",
                rows.iter().map(Vec::len).collect::<Vec<_>>()
            )));
        }
        PriorScale::Matrix(Array2::from_shape_fn((d, d), |(i, j)| rows[i][j]))
    };
    Ok(Some(PriorChoice::Given(Prior {
        shrinkage,
        mean: Array1::from(mean),
        dof,
        scale,
    })))
}
