//! M-steps of mclust's covariance families (interim: closed-form families only; the
//! iterative ones and the prior arrive with the full implementation).

use ndarray::{Array1, Array2, Array3, ArrayView1, ArrayView2};

use super::Covariances;
use crate::error::{GmmError, Result};

/// mclust's model names. Volume / shape / orientation: Equal, Variable, Identity.
#[allow(clippy::upper_case_acronyms, missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    EII,
    VII,
    EEI,
    VEI,
    EVI,
    VVI,
    EEE,
    VEE,
    EVE,
    VVE,
    EEV,
    VEV,
    EVV,
    VVV,
}

/// Scatter about the component means x̄_k: `W_k = Σ_n γ_nk (x_n − x̄_k)(x_n − x̄_k)ᵀ`.
pub enum Scatter {
    /// K×D×D, one symmetric W_k per component.
    Full(Array3<f64>),
    /// D×D pooled `W = Σ_k W_k`.
    Pooled(Array2<f64>),
    /// K×D: the diagonals of the W_k.
    Diag(Array2<f64>),
}

/// Conjugate prior (Fraley & Raftery 2007): `μ_k | Σ_k ~ N(mean, Σ_k/shrinkage)`,
/// `Σ_k ~ IW(dof, scale)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Prior {
    /// κ_P.
    pub shrinkage: f64,
    /// μ_P (D).
    pub mean: Array1<f64>,
    /// ν_P.
    pub dof: f64,
    /// Λ_P.
    pub scale: PriorScale,
}

/// The scale of the inverse-Wishart prior.
#[derive(Debug, Clone, PartialEq)]
pub enum PriorScale {
    /// A D×D matrix.
    Matrix(Array2<f64>),
    /// A scalar (mclust's form for the diagonal and spherical families).
    Scalar(f64),
}

/// An M-step's result, in the storage shape of the family.
pub struct MStep {
    /// K×D means.
    pub means: Array2<f64>,
    /// Covariances.
    pub covariances: Covariances,
}

/// One M-step for `family` (see the module docs).
///
/// # Errors
/// [`GmmError::InvalidParam`] for a family or prior this build cannot estimate yet, or a
/// scatter variant that does not carry what the family needs.
pub fn m_step(
    family: Family,
    nk: ArrayView1<f64>,
    xbar: ArrayView2<f64>,
    scatter: &Scatter,
    prior: Option<&Prior>,
    reg_covar: f64,
    _previous: Option<&Covariances>,
) -> Result<MStep> {
    let not_yet = |what: String| GmmError::InvalidParam {
        name: "covariance_type",
        value: format!("{family:?}"),
        reason: what,
    };
    if let Some(p) = prior {
        if family != Family::VVV {
            return Err(not_yet(
                "the prior is implemented for VVV only so far".into(),
            ));
        }
        let Scatter::Full(w) = scatter else {
            return Err(not_yet("needs full scatter".into()));
        };
        let PriorScale::Matrix(lambda) = &p.scale else {
            return Err(not_yet("VVV needs a matrix prior scale".into()));
        };
        let (k, d) = xbar.dim();
        let means = crate::covariance::posterior_means(nk, xbar, p);
        let mut out = Array3::zeros((k, d, d));
        for c in 0..k {
            let f = p.shrinkage * nk[c] / (nk[c] + p.shrinkage);
            let denom = p.dof + nk[c] + d as f64 + 2.0;
            for i in 0..d {
                for j in 0..d {
                    let di = xbar[[c, i]] - p.mean[i];
                    let dj = xbar[[c, j]] - p.mean[j];
                    out[[c, i, j]] = (lambda[[i, j]] + f * di * dj + w[[c, i, j]]) / denom;
                }
                out[[c, i, i]] += reg_covar;
            }
        }
        return Ok(MStep {
            means,
            covariances: Covariances::Full(out),
        });
    }
    let (k, d) = xbar.dim();
    let n: f64 = nk.sum();
    let means = xbar.to_owned();
    let diag = |k: usize, i: usize| -> Result<f64> {
        match scatter {
            Scatter::Diag(w) => Ok(w[[k, i]]),
            Scatter::Full(w) => Ok(w[[k, i, i]]),
            Scatter::Pooled(_) => Err(not_yet("needs per-component scatter".into())),
        }
    };
    let covariances = match family {
        Family::EII => {
            let mut t = 0.0;
            for c in 0..k {
                for i in 0..d {
                    t += diag(c, i)?;
                }
            }
            Covariances::Spherical(Array1::from_elem(k, t / (n * d as f64) + reg_covar))
        }
        Family::VII => {
            let mut v = Array1::zeros(k);
            for c in 0..k {
                let mut t = 0.0;
                for i in 0..d {
                    t += diag(c, i)?;
                }
                v[c] = t / (nk[c] * d as f64) + reg_covar;
            }
            Covariances::Spherical(v)
        }
        Family::EEI => {
            let mut a = Array1::<f64>::zeros(d);
            for c in 0..k {
                for i in 0..d {
                    a[i] += diag(c, i)?;
                }
            }
            Covariances::Diag(Array2::from_shape_fn((k, d), |(_, i)| a[i] / n + reg_covar))
        }
        Family::VVI => {
            let mut v = Array2::zeros((k, d));
            for c in 0..k {
                for i in 0..d {
                    v[[c, i]] = diag(c, i)? / nk[c] + reg_covar;
                }
            }
            Covariances::Diag(v)
        }
        Family::EVI => {
            // Σ_k = λ B_k, B_k = diag(W_k)/|diag(W_k)|^{1/d}, λ = Σ_k |diag(W_k)|^{1/d}/n
            let mut w = Array2::zeros((k, d));
            for c in 0..k {
                for i in 0..d {
                    w[[c, i]] = diag(c, i)? + reg_covar * nk[c];
                }
            }
            let dets: Vec<f64> = (0..k)
                .map(|c| (w.row(c).iter().map(|v| v.ln()).sum::<f64>() / d as f64).exp())
                .collect();
            let lambda: f64 = dets.iter().sum::<f64>() / n;
            Covariances::Diag(Array2::from_shape_fn((k, d), |(c, i)| {
                lambda * w[[c, i]] / dets[c]
            }))
        }
        Family::EEE => {
            let mut w = Array2::zeros((d, d));
            match scatter {
                Scatter::Pooled(p) => w.assign(p),
                Scatter::Full(f) => {
                    for c in 0..k {
                        w += &f.index_axis(ndarray::Axis(0), c);
                    }
                }
                Scatter::Diag(_) => return Err(not_yet("needs full scatter".into())),
            }
            w /= n;
            for i in 0..d {
                w[[i, i]] += reg_covar;
            }
            Covariances::Tied(w)
        }
        Family::VVV | Family::EVV => {
            let Scatter::Full(f) = scatter else {
                return Err(not_yet("needs full scatter".into()));
            };
            let mut out = Array3::zeros((k, d, d));
            for c in 0..k {
                for i in 0..d {
                    for j in 0..d {
                        out[[c, i, j]] = f[[c, i, j]] / nk[c];
                    }
                    out[[c, i, i]] += reg_covar;
                }
            }
            if family == Family::EVV {
                // Σ_k = λ C_k with C_k = W_k/|W_k|^{1/d} and λ = Σ_k |W_k|^{1/d}/n
                let mut dets = vec![0.0; k];
                for c in 0..k {
                    let mut m: Vec<f64> =
                        (0..d * d).map(|t| out[[c, t / d, t % d]] * nk[c]).collect();
                    crate::linalg::cholesky_lower(&mut m, d).map_err(|_| {
                        super::ill_defined(c, reg_covar, "its scatter matrix is singular")
                    })?;
                    let ld: f64 = (0..d).map(|i| m[i * d + i].ln()).sum::<f64>() * 2.0;
                    dets[c] = (ld / d as f64).exp();
                }
                let lambda: f64 = dets.iter().sum::<f64>() / n;
                for c in 0..k {
                    for i in 0..d {
                        for j in 0..d {
                            out[[c, i, j]] *= nk[c] * lambda / dets[c];
                        }
                    }
                }
            }
            Covariances::Full(out)
        }
        other => {
            return Err(not_yet(format!(
                "{other:?} needs an iterative M-step that is not implemented yet"
            )))
        }
    };
    Ok(MStep { means, covariances })
}

/// mclust's `defaultPrior(data, G, modelName)` from the data's column means and
/// (unbiased) covariance matrix.
pub fn default_prior(
    family: Family,
    g: usize,
    n: usize,
    data_mean: ArrayView1<f64>,
    data_cov: ArrayView2<f64>,
) -> Prior {
    let d = data_mean.len();
    let fac = (1.0 / g as f64).powf(2.0 / d as f64);
    let scale = match family {
        Family::EII | Family::VII | Family::EEI | Family::EVI | Family::VEI | Family::VVI => {
            PriorScale::Scalar(fac * data_cov.diag().sum() / d as f64)
        }
        _ => {
            if n > d {
                PriorScale::Matrix(data_cov.mapv(|v| v * fac))
            } else {
                PriorScale::Matrix(Array2::from_diag(&data_cov.diag().mapv(|v| v * fac)))
            }
        }
    };
    Prior {
        shrinkage: 0.01,
        mean: data_mean.to_owned(),
        dof: d as f64 + 2.0,
        scale,
    }
}
