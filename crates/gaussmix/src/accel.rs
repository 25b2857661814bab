//! SQUAREM acceleration of EM (Varadhan & Roland 2008, Scand. J. Statist. 35), with the
//! monotonicity safeguard and step-length control of the R package `SQUAREM` (`squarem1`).
//!
//! EM is the fixed-point map θ ↦ M(E(θ)). Written on the sufficient statistics, one EM
//! step is `S ↦ E(M(S))`; its fixed points are EM's. Each cycle takes two plain EM steps
//! S₀ → S₁ → S₂ and extrapolates along them: with `r = c(S₁) − c(S₀)`,
//! `v = c(S₂) − 2c(S₁) + c(S₀)` and `a = ‖r‖ / ‖v‖` (SqS3, clamped to `[1, a_max]`), the
//! point `c' = c(S₀) + 2a·r + a²·v`. Here `c(S)` is the statistics in canonical form —
//! mixing proportions, means and covariances about the means (per component, pooled or
//! diagonal, as the family stores them) — and the norms are taken on the data's
//! standardised scale, so the step length does not depend on the units. `a = 1` is the
//! plain EM point S₂.
//!
//! The extrapolated statistics go through the family's own M-step, so every candidate is a
//! model of the family (constraints, orientation, shared volume), and its E-step gives the
//! exact log-likelihood L'. The candidate is accepted only if `L' ≥ L(S₂)`, the
//! log-likelihood plain EM had reached; otherwise (or when the extrapolated proportions are
//! not positive, a covariance is not positive definite, or L' is not finite) the cycle
//! continues from S₂, as plain EM would. `a_max` grows fourfold when a full step is
//! accepted and shrinks fourfold when it is refused. The accepted log-likelihoods
//! therefore never decrease.
//!
//! Convergence is tested only on a plain EM step (from S₁ to S₂, or the first step of a
//! warm start), with EM's own rule `|ΔL| < tol` on the mean log-likelihood, and the model
//! returned is the M-step of the last statistics, as plain EM returns it: at convergence,
//! an EM iterate one step from a point where EM moves the bound by less than `tol`.
//! `n_iter` counts E-steps (including refused candidates); `lower_bounds` holds the
//! accepted bounds in order, the last three of a converged fit being three plain EM steps.
//!
//! The prior (MAP EM increases the posterior, not the likelihood the safeguard watches)
//! and the re-seed and drop policies (which change the parameters between steps) run
//! plain EM.

use std::sync::atomic::{AtomicBool, Ordering};

use ndarray::{Array1, Array2, Array3};

use crate::covariance::family::Scatter;
use crate::covariance::SecondMoments;
use crate::error::{GmmError, Result};
use crate::event::IterationEvent;
use crate::model::{FitInfo, GmmModel};
use crate::stats::{MStepOptions, SufficientStatistics, NK_EPS};

/// Growth (and shrink) factor of the largest step length (`mstep` in `SQUAREM`).
const STEP_FACTOR: f64 = 4.0;

/// What the accelerated loop needs from the estimator.
pub(crate) struct Loop<'a> {
    /// Cap on E-steps.
    pub(crate) max_iter: usize,
    /// Convergence tolerance on the change of the mean log-likelihood of one EM step.
    pub(crate) tol: f64,
    /// The M-step.
    pub(crate) mstep: &'a MStepOptions,
    /// An ill-defined covariance during EM ends the fit with the last parameters
    /// (instead of an error).
    pub(crate) keep_previous: bool,
    /// Stops the fit when set.
    pub(crate) interrupt: Option<&'a AtomicBool>,
}

/// The statistics in canonical form: flat `[π_1..π_K, π_0, μ (K×D), Σ]`, where Σ is K×D×D,
/// D×D (pooled) or K×D (diagonals) as the family stores its second moments.
struct Canon {
    values: Vec<f64>,
    /// Per value, the factor that brings it to the standardised scale (for the norms).
    scale: Vec<f64>,
}

/// The layout of the covariance part of a canonical vector.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Layout {
    Full,
    Pooled,
    Diag,
}

fn layout(s2: &SecondMoments) -> Layout {
    match s2 {
        SecondMoments::Full(_) => Layout::Full,
        SecondMoments::Tied(_) => Layout::Pooled,
        SecondMoments::Diag(_) => Layout::Diag,
    }
}

/// `c(S)`: proportions (of the total weight), means, covariances about the means.
fn canonical(s: &SufficientStatistics) -> Vec<f64> {
    let (k, d) = s.shift.dim();
    let wsum = s.weight_sum;
    let nk_eff = s.nk.mapv(|v| v + NK_EPS);
    let mut out = Vec::with_capacity(k + 1 + k * d + k * d * d);
    out.extend(s.nk.iter().map(|v| v / wsum));
    out.push(s.noise_nk / wsum);
    for c in 0..k {
        for i in 0..d {
            out.push(s.shift[[c, i]] + s.s1[[c, i]] / nk_eff[c]);
        }
    }
    match s.s2.scatter(&s.s1, &s.nk, &nk_eff) {
        Scatter::Full(w) => {
            for c in 0..k {
                out.extend(
                    w.index_axis(ndarray::Axis(0), c)
                        .iter()
                        .map(|v| v / nk_eff[c]),
                );
            }
        }
        Scatter::Pooled(w) => out.extend(w.iter().map(|v| v / wsum)),
        Scatter::Diag(w) => {
            for c in 0..k {
                out.extend(w.row(c).iter().map(|v| v / nk_eff[c]));
            }
        }
    }
    out
}

/// The standardising factors of a canonical vector: 1 for proportions, `1/σ_i` for the
/// means, `1/(σ_i σ_j)` for covariances, with σ² the per-feature variance of the mixture
/// that `values` describes.
fn scales(values: &[f64], k: usize, d: usize, lay: Layout) -> Vec<f64> {
    let pi = &values[..k];
    let mu = &values[k + 1..k + 1 + k * d];
    let cov = &values[k + 1 + k * d..];
    let total: f64 = pi.iter().sum::<f64>().max(f64::MIN_POSITIVE);
    let mut var = vec![0.0; d];
    for i in 0..d {
        let m: f64 = (0..k).map(|c| pi[c] * mu[c * d + i]).sum::<f64>() / total;
        let between: f64 = (0..k)
            .map(|c| pi[c] * (mu[c * d + i] - m).powi(2))
            .sum::<f64>()
            / total;
        let within = match lay {
            Layout::Full => {
                (0..k)
                    .map(|c| pi[c] * cov[c * d * d + i * d + i])
                    .sum::<f64>()
                    / total
            }
            Layout::Pooled => cov[i * d + i],
            Layout::Diag => (0..k).map(|c| pi[c] * cov[c * d + i]).sum::<f64>() / total,
        };
        let v = between + within;
        var[i] = if v.is_finite() && v > 0.0 { v } else { 1.0 };
    }
    let inv: Vec<f64> = var.iter().map(|v| 1.0 / v.sqrt()).collect();
    let mut out = vec![1.0; k + 1];
    for _ in 0..k {
        out.extend_from_slice(&inv);
    }
    let per = |c: usize| -> Vec<f64> {
        let _ = c;
        match lay {
            Layout::Full | Layout::Pooled => {
                (0..d * d).map(|ij| inv[ij / d] * inv[ij % d]).collect()
            }
            Layout::Diag => inv.iter().map(|s| s * s).collect(),
        }
    };
    match lay {
        Layout::Pooled => out.extend(per(0)),
        _ => {
            for c in 0..k {
                out.extend(per(c));
            }
        }
    }
    out
}

/// Statistics whose canonical form is `c` (shift at the means, zero first moments), or
/// `None` when `c` is not a valid point: a proportion not positive, a variance not positive,
/// a value not finite. Positive definiteness is left to the M-step's factorisation.
fn rebuild(template: &SufficientStatistics, c: &[f64]) -> Option<SufficientStatistics> {
    if c.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let (k, d) = template.shift.dim();
    let wsum = template.weight_sum;
    let pi = &c[..k];
    let noise = c[k];
    if pi.iter().any(|&p| p <= 0.0) || noise < 0.0 || (template.noise_nk == 0.0 && noise != 0.0) {
        return None;
    }
    let nk = Array1::from_iter(pi.iter().map(|p| p * wsum));
    let nk_eff = nk.mapv(|v| v + NK_EPS);
    let shift = Array2::from_shape_vec((k, d), c[k + 1..k + 1 + k * d].to_vec()).ok()?;
    let cov = &c[k + 1 + k * d..];
    let s2 = match layout(&template.s2) {
        Layout::Full => {
            let mut a = Array3::<f64>::zeros((k, d, d));
            for cc in 0..k {
                for i in 0..d {
                    if cov[cc * d * d + i * d + i] <= 0.0 {
                        return None;
                    }
                    for j in 0..d {
                        a[[cc, i, j]] = cov[cc * d * d + i * d + j] * nk_eff[cc];
                    }
                }
            }
            SecondMoments::Full(a)
        }
        Layout::Pooled => {
            if (0..d).any(|i| cov[i * d + i] <= 0.0) {
                return None;
            }
            SecondMoments::Tied(Array2::from_shape_fn((d, d), |(i, j)| {
                cov[i * d + j] * wsum
            }))
        }
        Layout::Diag => {
            if cov.iter().any(|&v| v <= 0.0) {
                return None;
            }
            SecondMoments::Diag(Array2::from_shape_fn((k, d), |(cc, i)| {
                cov[cc * d + i] * nk_eff[cc]
            }))
        }
    };
    Some(SufficientStatistics {
        covariance_type: template.covariance_type,
        shift,
        nk,
        s1: Array2::zeros((k, d)),
        s2,
        log_likelihood: f64::NAN,
        weight_sum: wsum,
        n_samples: template.n_samples,
        noise_nk: noise * wsum,
        noise_log_density: template.noise_log_density,
    })
}

/// The SqS3 step length `‖r‖ / ‖v‖` on the standardised scale.
fn step_length(r: &[f64], v: &[f64], scale: &[f64]) -> f64 {
    let (mut rr, mut vv) = (0.0, 0.0);
    for ((a, b), s) in r.iter().zip(v).zip(scale) {
        rr += (a * s) * (a * s);
        vv += (b * s) * (b * s);
    }
    if vv > 0.0 {
        (rr / vv).sqrt()
    } else {
        1.0
    }
}

impl Canon {
    fn of(s: &SufficientStatistics, scale: Option<&[f64]>) -> Canon {
        let values = canonical(s);
        let (k, d) = s.shift.dim();
        let scale = match scale {
            Some(sc) => sc.to_vec(),
            None => scales(&values, k, d, layout(&s.s2)),
        };
        Canon { values, scale }
    }
}

/// The state of the loop: E-steps done, the bounds recorded.
struct Run<'a, 'b> {
    cfg: &'b Loop<'a>,
    info: FitInfo,
    iters: usize,
    init: usize,
}

impl Run<'_, '_> {
    /// One E-step. `Ok(None)` for a candidate whose bound is not finite (refused).
    fn e_step(
        &mut self,
        e_pass: &mut dyn FnMut(&GmmModel) -> Result<SufficientStatistics>,
        model: &GmmModel,
        candidate: bool,
    ) -> Result<Option<(SufficientStatistics, f64)>> {
        if self
            .cfg
            .interrupt
            .is_some_and(|f| f.load(Ordering::Relaxed))
        {
            return Err(GmmError::Interrupted);
        }
        self.iters += 1;
        let stats = e_pass(model)?;
        let lb = stats.mean_log_likelihood();
        if !lb.is_finite() {
            if candidate {
                return Ok(None);
            }
            return Err(GmmError::InvalidModel {
                reason: format!(
                    "the parameters at EM iteration {} give some rows zero density under every component (mean log-likelihood {lb}): start closer to the data (means_init, precisions_init, warm-start model) or rescale it",
                    self.iters
                ),
            });
        }
        Ok(Some((stats, lb)))
    }

    /// Records an accepted bound; returns the change from the previous one.
    fn record(&mut self, lb: f64, observer: &mut dyn FnMut(&IterationEvent)) -> f64 {
        let change = lb - self.info.lower_bound;
        self.info.lower_bounds.push(lb);
        self.info.lower_bound = lb;
        self.info.n_iter = self.iters;
        observer(&IterationEvent {
            init: self.init,
            iter: self.iters,
            lower_bound: lb,
            change,
        });
        change
    }

    fn done(&self) -> bool {
        self.iters >= self.cfg.max_iter
    }
}

/// The M-step inside the loop; `None`: ill-defined under the keep-previous policy, stop
/// with the previous parameters.
fn m_step(
    cfg: &Loop<'_>,
    stats: &SufficientStatistics,
    previous: &GmmModel,
) -> Result<Option<GmmModel>> {
    match stats.finalize_with(cfg.mstep, Some(&previous.covariances)) {
        Ok(m) => Ok(Some(m)),
        Err(GmmError::IllDefinedCovariance { .. }) if cfg.keep_previous => Ok(None),
        Err(e) => Err(e),
    }
}

/// EM from `model` with SQUAREM acceleration (see the module docs); `lower_bound` is the
/// bound the first step's change is measured from (−∞ for a fresh start).
pub(crate) fn squarem(
    cfg: &Loop<'_>,
    e_pass: &mut dyn FnMut(&GmmModel) -> Result<SufficientStatistics>,
    model: GmmModel,
    lower_bound: f64,
    init: usize,
    observer: &mut dyn FnMut(&IterationEvent),
) -> Result<(GmmModel, FitInfo)> {
    let names = model.feature_names.clone();
    let mut run = Run {
        cfg,
        info: FitInfo {
            converged: false,
            n_iter: 0,
            lower_bound,
            lower_bounds: Vec::new(),
        },
        iters: 0,
        init,
    };
    let finish = |mut m: GmmModel, run: Run<'_, '_>| {
        m.feature_names = names.clone();
        Ok((m, run.info))
    };
    if cfg.max_iter == 0 {
        return finish(model, run);
    }
    let mut p0 = model;
    let (mut s0, l0) = run.e_step(e_pass, &p0, false)?.expect("not a candidate");
    let change = run.record(l0, observer);
    let mut scale: Option<Vec<f64>> = None;
    let mut step_max = 1.0_f64;
    // the first step of a warm start may already be converged
    let mut converged = change.abs() < cfg.tol;
    loop {
        if converged || run.done() {
            run.info.converged = converged;
            return match m_step(cfg, &s0, &p0)? {
                Some(m) => finish(m, run),
                None => finish(p0, run),
            };
        }
        let p1 = match m_step(cfg, &s0, &p0)? {
            Some(m) => m,
            None => return finish(p0, run),
        };
        let (s1, l1) = run.e_step(e_pass, &p1, false)?.expect("not a candidate");
        run.record(l1, observer);
        if run.done() {
            (p0, s0) = (p1, s1);
            continue;
        }
        let p2 = match m_step(cfg, &s1, &p1)? {
            Some(m) => m,
            None => return finish(p1, run),
        };
        let (s2, l2) = run.e_step(e_pass, &p2, false)?.expect("not a candidate");
        let change = run.record(l2, observer);
        if change.abs() < cfg.tol {
            converged = true;
        }
        if converged || run.done() {
            (p0, s0) = (p2, s2);
            continue;
        }
        // extrapolate along the two steps
        let c0 = Canon::of(&s0, scale.as_deref());
        let sc = scale.get_or_insert_with(|| c0.scale.clone());
        let c1 = canonical(&s1);
        let c2 = canonical(&s2);
        let r: Vec<f64> = c1.iter().zip(&c0.values).map(|(a, b)| a - b).collect();
        let v: Vec<f64> = c2
            .iter()
            .zip(&c1)
            .zip(&c0.values)
            .map(|((a, b), c)| a - 2.0 * b + c)
            .collect();
        let a = step_length(&r, &v, sc).clamp(1.0, step_max);
        let full_step = a >= step_max;
        if a <= 1.0 {
            if full_step {
                step_max *= STEP_FACTOR;
            }
            (p0, s0) = (p2, s2);
            continue;
        }
        let point: Vec<f64> = c0
            .values
            .iter()
            .zip(&r)
            .zip(&v)
            .map(|((c, r), v)| c + 2.0 * a * r + a * a * v)
            .collect();
        let candidate = rebuild(&s2, &point)
            .and_then(|s| s.finalize_with(cfg.mstep, Some(&p2.covariances)).ok());
        let accepted = match candidate {
            Some(p) => match run.e_step(e_pass, &p, true)? {
                Some((s, l)) if l >= l2 => Some((p, s, l)),
                _ => None,
            },
            None => None,
        };
        match accepted {
            Some((p, s, l)) => {
                run.record(l, observer);
                if full_step {
                    step_max *= STEP_FACTOR;
                }
                (p0, s0) = (p, s);
            }
            None => {
                if full_step {
                    step_max = (step_max / STEP_FACTOR).max(1.0);
                }
                run.info.n_iter = run.iters;
                (p0, s0) = (p2, s2);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::covariance::CovarianceType;
    use crate::em::GaussianMixture;
    use ndarray::Array2;

    /// Three overlapping clusters in three dimensions (slow EM).
    fn data() -> Array2<f64> {
        Array2::from_shape_fn((600, 3), |(i, j)| {
            let c = (i % 3) as f64;
            let u = ((i * 7919 + j * 104_729) % 1000) as f64 / 1000.0 - 0.5;
            let w = ((i * 31 + j * 17) % 97) as f64 / 97.0 - 0.5;
            c * 1.2 * (j as f64 + 1.0) / 2.0 + 1.5 * u + 0.8 * w * (c + 1.0)
        })
    }

    #[test]
    fn canonical_round_trips_through_rebuild() {
        let x = data();
        for ct in [
            CovarianceType::Full,
            CovarianceType::Tied,
            CovarianceType::Diag,
            CovarianceType::EII,
            CovarianceType::VEV,
        ] {
            let m = GaussianMixture::new(3)
                .covariance_type(ct)
                .max_iter(3)
                .fit(x.view())
                .unwrap();
            let s =
                SufficientStatistics::e_step(&m, x.view(), None, crate::Parallelism::Sequential);
            let c = canonical(&s);
            let back = rebuild(&s, &c).unwrap();
            let c2 = canonical(&back);
            for (a, b) in c.iter().zip(&c2) {
                assert!((a - b).abs() <= 1e-9 * (1.0 + a.abs()), "{ct}: {a} vs {b}");
            }
            // the same M-step from either form
            let opts = MStepOptions::new(1e-6);
            let m1 = s.finalize_with(&opts, None).unwrap();
            let m2 = back.finalize_with(&opts, None).unwrap();
            for (a, b) in m1.means().iter().zip(m2.means().iter()) {
                assert!((a - b).abs() <= 1e-9 * (1.0 + a.abs()), "{ct} means");
            }
        }
    }

    #[test]
    fn invalid_points_are_refused() {
        let x = data();
        let m = GaussianMixture::new(2).max_iter(2).fit(x.view()).unwrap();
        let s = SufficientStatistics::e_step(&m, x.view(), None, crate::Parallelism::Sequential);
        let mut c = canonical(&s);
        c[0] = -0.1;
        assert!(rebuild(&s, &c).is_none());
        let mut c = canonical(&s);
        let last = c.len() - 1;
        c[last] = -1.0;
        assert!(rebuild(&s, &c).is_none());
        let mut c = canonical(&s);
        c[3] = f64::NAN;
        assert!(rebuild(&s, &c).is_none());
    }
}
