//! The spine of every fit: additive sufficient statistics (docs/design.md §3).
//!
//! One E-step over any chunk of rows yields, per component `k`, `Σγ`, `Σγ(x−s_k)` and
//! `Σγ(x−s_k)(x−s_k)ᵀ` (or its diagonal), plus `Σ w·ln p(x)` and `Σ w`, where `s_k` is a
//! shift (the means of the model that produced the responsibilities). [`merge`] is a
//! plain sum and [`finalize`] turns merged statistics into new parameters (the M-step).
//! In-memory, multi-threaded, streaming and distributed fits are the same algebra with a
//! different loop around it.
//!
//! [`merge`]: SufficientStatistics::merge
//! [`finalize`]: SufficientStatistics::finalize

use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut2, Axis};

use crate::covariance::family::{self, Prior};
use crate::covariance::{CovarianceType, Covariances, SecondMoments, Storage};
use crate::error::{GmmError, Result};
use crate::float::Float;
use crate::model::{GmmModel, Noise};
use crate::par::{map_fold_blocks, map_fold_blocks_with, Parallelism};

/// Added to every `N_k` before dividing, as scikit-learn does, so an empty component
/// does not divide by zero.
pub(crate) const NK_EPS: f64 = 10.0 * f64::EPSILON;

const STATS_MAGIC: &[u8; 4] = b"GMSS";
/// Version of the byte layout written by [`SufficientStatistics::to_bytes`]. Version 1
/// (scikit-learn's four types, no noise component) is still read.
pub const STATS_FORMAT_VERSION: u32 = 2;
const HEADER_LEN_V1: usize = 4 + 4 + 1 + 4 + 4 + 8 + 8 + 8;
/// Version 2 adds a flags byte (bit 0: a noise component), `Σγ_0` and the noise
/// component's log-density.
const HEADER_LEN: usize = HEADER_LEN_V1 + 1 + 8 + 8;

/// The family codes of the byte layout (0–3 are version 1's).
const CT_CODES: [CovarianceType; 14] = [
    CovarianceType::Full,
    CovarianceType::Tied,
    CovarianceType::Diag,
    CovarianceType::Spherical,
    CovarianceType::EII,
    CovarianceType::EEI,
    CovarianceType::VEI,
    CovarianceType::EVI,
    CovarianceType::VEE,
    CovarianceType::EVE,
    CovarianceType::VVE,
    CovarianceType::EEV,
    CovarianceType::VEV,
    CovarianceType::EVV,
];

fn ct_code(ct: CovarianceType) -> u8 {
    CT_CODES
        .iter()
        .position(|c| *c == ct)
        .expect("every family has a code") as u8
}

/// How the M-step turns merged statistics into parameters, beyond scikit-learn's plain
/// estimates: a conjugate prior (MAP), equal mixing proportions, parameters held fixed.
/// `MStepOptions::new(reg_covar)` is scikit-learn's M-step.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MStepOptions {
    /// Added to covariance diagonals (for the constrained families: `n_k·reg_covar·I`
    /// added to each scatter matrix before the estimate, which is the same for
    /// scikit-learn's four types).
    pub reg_covar: f64,
    /// A conjugate prior: the M-step gives the posterior mode (MAP) instead of the
    /// maximum-likelihood estimate.
    pub prior: Option<Prior>,
    /// All mixing proportions equal (`(1 − π_0)/K` with a noise component).
    pub equal_weights: bool,
    /// Mixing proportions held fixed (K, summing to 1; scaled by `1 − π_0` with noise).
    pub fixed_weights: Option<Array1<f64>>,
    /// Means held fixed (K×D): covariances are then estimated about them.
    pub fixed_means: Option<Array2<f64>>,
    /// Covariances held fixed, with their precision Cholesky factors.
    pub fixed_covariances: Option<(Covariances, Covariances)>,
    /// Tolerance of the inner iterations of the iterative families' M-steps (VEI, VEE,
    /// VEV, EVE, VVE); `None`: mclust's, `√ε`.
    pub inner_tol: Option<f64>,
}

impl MStepOptions {
    /// The plain M-step with `reg_covar` added to covariance diagonals.
    pub fn new(reg_covar: f64) -> Self {
        MStepOptions {
            reg_covar,
            ..Default::default()
        }
    }
}

fn shape(what: &str, expected: String, got: &[usize]) -> GmmError {
    GmmError::ShapeMismatch {
        what: what.to_string(),
        expected,
        got: format!("{got:?}"),
    }
}

/// Additive sufficient statistics of a mixture over a set of rows.
#[derive(Debug, Clone, PartialEq)]
pub struct SufficientStatistics {
    pub(crate) covariance_type: CovarianceType,
    /// K×D shift `s_k` the moments are taken about.
    pub(crate) shift: Array2<f64>,
    /// `Σ_n w_n γ_nk`.
    pub(crate) nk: Array1<f64>,
    /// `Σ_n w_n γ_nk (x_n − s_k)`, K×D.
    pub(crate) s1: Array2<f64>,
    /// Second moments about the shift.
    pub(crate) s2: SecondMoments,
    /// `Σ_n w_n ln p(x_n)` under the model that produced the responsibilities.
    pub(crate) log_likelihood: f64,
    /// `Σ_n w_n`.
    pub(crate) weight_sum: f64,
    /// Number of rows seen.
    pub(crate) n_samples: u64,
    /// `Σ_n w_n γ_n0` of a uniform noise component (0 without one).
    pub(crate) noise_nk: f64,
    /// The noise component's log-density `ln(1/V)`, when the model has one.
    pub(crate) noise_log_density: Option<f64>,
}

#[cfg_attr(not(test), allow(dead_code))] // reference kernel, checked against the fast one in tests
/// Per-component constants of a model, precomputed once per E-step.
pub(crate) struct Components<'a> {
    pub(crate) means: ArrayView2<'a, f64>,
    pub(crate) factor: &'a Covariances,
    /// `ln π_k + Σ_i ln (P_k)_ii − ½ D ln 2π`.
    pub(crate) offset: Array1<f64>,
    /// `ln π_0 + ln(1/V)` of the noise component, if any.
    pub(crate) noise: Option<f64>,
}

#[cfg_attr(not(test), allow(dead_code))] // reference kernel, checked against the fast one in tests
impl<'a> Components<'a> {
    pub(crate) fn new(model: &'a GmmModel) -> Self {
        let k = model.n_components();
        let d = model.n_features();
        let log_det = model.precisions_cholesky.log_det_factor(k, d);
        let half_log_2pi = 0.5 * d as f64 * (2.0 * std::f64::consts::PI).ln();
        let offset =
            Array1::from_shape_fn(k, |c| model.weights[c].ln() + log_det[c] - half_log_2pi);
        Components {
            means: model.means.view(),
            factor: &model.precisions_cholesky,
            offset,
            noise: model.noise.map(|n| n.weight.ln() + n.log_density),
        }
    }

    /// Columns of [`Components::weighted_log_prob`]: K, plus one for a noise component.
    pub(crate) fn columns(&self) -> usize {
        self.offset.len() + usize::from(self.noise.is_some())
    }

    /// `out[n, k] = ln π_k + ln N(x_n | μ_k, Σ_k)` for a block of rows, and
    /// `ln π_0 + ln(1/V)` in a last column for a noise component.
    pub(crate) fn weighted_log_prob(&self, x: ArrayView2<f64>, mut out: ArrayViewMut2<f64>) {
        let k = self.offset.len();
        let mut g = out.slice_mut(s![.., ..k]);
        self.factor.mahalanobis(x, self.means, g.view_mut());
        for mut row in g.rows_mut() {
            for (v, o) in row.iter_mut().zip(self.offset.iter()) {
                *v = o - 0.5 * *v;
            }
        }
        if let Some(v) = self.noise {
            out.column_mut(k).fill(v);
        }
    }
}

#[cfg_attr(not(test), allow(dead_code))] // reference kernel, checked against the fast one in tests
/// Turns weighted log-probabilities into responsibilities in place and returns each
/// row's `ln p(x_n)` (log-sum-exp with the row maximum subtracted).
pub(crate) fn normalize_rows(mut lp: ArrayViewMut2<f64>, log_norm: &mut [f64]) {
    for (mut row, ln) in lp.rows_mut().into_iter().zip(log_norm.iter_mut()) {
        let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if m == f64::NEG_INFINITY {
            // every component has zero weight: cannot happen for valid models
            let len = row.len() as f64;
            row.fill(1.0 / len);
            *ln = f64::NEG_INFINITY;
            continue;
        }
        let mut sum = 0.0;
        for v in row.iter_mut() {
            *v = (*v - m).exp();
            sum += *v;
        }
        for v in row.iter_mut() {
            *v /= sum;
        }
        *ln = m + sum.ln();
    }
}

impl SufficientStatistics {
    /// Zeroed statistics about `shift` (K×D).
    pub fn zeros(covariance_type: CovarianceType, shift: Array2<f64>) -> Self {
        let (k, d) = shift.dim();
        SufficientStatistics {
            covariance_type,
            nk: Array1::zeros(k),
            s1: Array2::zeros((k, d)),
            s2: SecondMoments::zeros(covariance_type, k, d),
            shift,
            log_likelihood: 0.0,
            weight_sum: 0.0,
            n_samples: 0,
            noise_nk: 0.0,
            noise_log_density: None,
        }
    }

    /// Zeroed statistics for the rows a model explains (its family, means as the shift,
    /// its noise component).
    pub(crate) fn zeros_for(model: &GmmModel) -> Self {
        let mut s = Self::zeros(model.covariance_type(), model.means.clone());
        s.noise_log_density = model.noise.map(|n| n.log_density);
        s
    }

    /// The kernels' view of the accumulators.
    pub(crate) fn acc(&mut self) -> crate::kernels::Acc<'_> {
        crate::kernels::Acc {
            nk: self.nk.as_slice_mut().expect("standard layout"),
            s1: self.s1.as_slice_mut().expect("standard layout"),
            s2: self.s2.kernel_moments(),
            noise_nk: &mut self.noise_nk,
            log_likelihood: &mut self.log_likelihood,
            weight_sum: &mut self.weight_sum,
            n_samples: &mut self.n_samples,
        }
    }

    /// Runs the E-step of `model` over a chunk of rows (one thread) and returns their
    /// statistics, taken about the model's means.
    ///
    /// # Errors
    /// [`GmmError::ShapeMismatch`] if `x` has a different number of columns than the model
    /// or `weights` a different length; [`GmmError::NonFinite`] for NaN/∞ in `x`;
    /// [`GmmError::InvalidWeights`] for negative or non-finite weights.
    pub fn from_chunk<T: Float>(
        model: &GmmModel,
        x: ArrayView2<T>,
        weights: Option<ArrayView1<f64>>,
    ) -> Result<Self> {
        Self::from_chunk_par(model, x, weights, Parallelism::Sequential)
    }

    /// [`SufficientStatistics::from_chunk`] over fixed row blocks, possibly in parallel;
    /// the result is bit-identical for any thread count.
    ///
    /// # Errors
    /// As [`SufficientStatistics::from_chunk`].
    pub fn from_chunk_par<T: Float>(
        model: &GmmModel,
        x: ArrayView2<T>,
        weights: Option<ArrayView1<f64>>,
        par: Parallelism,
    ) -> Result<Self> {
        model.check_data(x)?;
        crate::validate::check_finite(x, 0)?;
        if let Some(w) = weights {
            crate::validate::check_weights(w, x.nrows())?;
        }
        Ok(Self::e_step(model, x, weights, par))
    }

    /// The E-step on validated input, with the fast kernels.
    pub(crate) fn e_step<T: Float>(
        model: &GmmModel,
        x: ArrayView2<T>,
        weights: Option<ArrayView1<f64>>,
        par: Parallelism,
    ) -> Self {
        let prep = model.prepared();
        Self::e_step_prepared(model, &prep, x, weights, par)
    }

    /// The E-step with kernels prepared for a given instruction-set level.
    pub(crate) fn e_step_prepared<T: Float>(
        model: &GmmModel,
        prep: &crate::kernels::Prepared,
        x: ArrayView2<T>,
        weights: Option<ArrayView1<f64>>,
        par: Parallelism,
    ) -> Self {
        let mut total = Self::zeros_for(model);
        total.accumulate_prepared(model, prep, x, weights, par);
        total
    }

    /// Adds the E-step statistics of `model` over the rows of `x`, block by block in the
    /// same order as an in-memory pass (so a stream of chunks whose sizes are multiples of
    /// the block size reproduces the in-memory result bit for bit).
    pub(crate) fn accumulate_prepared<T: Float>(
        &mut self,
        model: &GmmModel,
        prep: &crate::kernels::Prepared,
        x: ArrayView2<T>,
        weights: Option<ArrayView1<f64>>,
        par: Parallelism,
    ) {
        let (k, d) = (model.n_components(), model.n_features());
        let _ = map_fold_blocks_with::<_, _, std::convert::Infallible>(
            x.nrows(),
            par,
            || crate::kernels::Workspace::new(k, d),
            |ws, s, e| {
                let mut part = Self::zeros_for(model);
                let sink = crate::kernels::Sink::Stats {
                    part: part.acc(),
                    w: weights.map(|w| w.slice_move(s![s..e])),
                };
                crate::kernels::run(prep, x.slice(s![s..e, ..]), sink, ws);
                Ok(part)
            },
            |p| {
                self.merge_unchecked(&p);
                Ok(())
            },
        );
    }

    /// The E-step with the plain reference kernels (slow; for tests of the fast ones).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn e_step_reference(
        model: &GmmModel,
        x: ArrayView2<f64>,
        weights: Option<ArrayView1<f64>>,
        par: Parallelism,
    ) -> Self {
        let comps = Components::new(model);
        let k = model.n_components();
        let mut total = Self::zeros_for(model);
        let _ = map_fold_blocks::<_, std::convert::Infallible>(
            x.nrows(),
            par,
            |s, e| {
                let xb = x.slice(s![s..e, ..]);
                let mut g = Array2::zeros((e - s, comps.columns()));
                comps.weighted_log_prob(xb, g.view_mut());
                let mut ln = vec![0.0; e - s];
                normalize_rows(g.view_mut(), &mut ln);
                let mut part = Self::zeros_for(model);
                let wb = weights.map(|w| w.slice_move(s![s..e]));
                part.log_likelihood = match wb {
                    Some(w) => ln
                        .iter()
                        .zip(w.iter())
                        .map(|(l, w)| if *w == 0.0 { 0.0 } else { l * w })
                        .sum(),
                    None => ln.iter().sum(),
                };
                if comps.noise.is_some() {
                    let g0 = g.column(k);
                    part.noise_nk = match wb {
                        Some(w) => g0.iter().zip(w.iter()).map(|(g, w)| g * w).sum(),
                        None => g0.sum(),
                    };
                }
                part.add_responsibilities(xb, g.slice_mut(s![.., ..k]), wb);
                Ok(part)
            },
            |p| {
                total.merge_unchecked(&p);
                Ok(())
            },
        );
        total
    }

    /// Statistics about `shift` for given responsibilities, produced block by block by
    /// `fill(start_row, out_block)` (used by initialisation), with the fast kernels.
    pub(crate) fn from_responsibilities<T: Float>(
        ct: CovarianceType,
        shift: Array2<f64>,
        x: ArrayView2<T>,
        weights: Option<ArrayView1<f64>>,
        par: Parallelism,
        fill: &(dyn Fn(usize, ArrayViewMut2<f64>) + Sync),
    ) -> Self {
        let (k, d) = shift.dim();
        let prep = crate::kernels::Prepared::for_shift(ct.storage().kernel_shape(), &shift);
        let mut total = Self::zeros(ct, shift.clone());
        let _ = map_fold_blocks_with::<_, _, std::convert::Infallible>(
            x.nrows(),
            par,
            || crate::kernels::Workspace::new(k, d),
            |ws, s, e| {
                let mut part = Self::zeros(ct, shift.clone());
                let sink = crate::kernels::Sink::Given {
                    part: part.acc(),
                    w: weights.map(|w| w.slice_move(s![s..e])),
                    fill,
                    offset: s,
                };
                crate::kernels::run(&prep, x.slice(s![s..e, ..]), sink, ws);
                Ok(part)
            },
            |p| {
                total.merge_unchecked(&p);
                Ok(())
            },
        );
        total
    }

    /// Statistics of hard assignments: row `n` belongs wholly to component `labels[n]`
    /// (`usize::MAX`: to none), taken about each component's mean (two passes: the means,
    /// then centred moments). Costs O(N·D²) for full covariance, not O(N·K·D²).
    pub(crate) fn from_labels<T: Float>(
        ct: CovarianceType,
        x: ArrayView2<T>,
        weights: Option<ArrayView1<f64>>,
        labels: &[usize],
        k: usize,
        par: Parallelism,
    ) -> Self {
        let d = x.ncols();
        // pass 1: weighted sums and counts per component
        let mut sums = Array2::<f64>::zeros((k, d));
        let mut counts = Array1::<f64>::zeros(k);
        let _ = map_fold_blocks::<_, std::convert::Infallible>(
            x.nrows(),
            par,
            |s, e| {
                let mut ps = vec![0.0; k * d];
                let mut pc = Array1::<f64>::zeros(k);
                let mut xr = vec![0.0; d];
                let flat = x.as_slice();
                for r in s..e {
                    let c = labels[r];
                    if c >= k {
                        continue;
                    }
                    let w = weights.map_or(1.0, |w| w[r]);
                    pc[c] += w;
                    row_f64(x, flat, r, &mut xr);
                    for (acc, v) in ps[c * d..(c + 1) * d].iter_mut().zip(&xr) {
                        *acc += w * v;
                    }
                }
                Ok((Array2::from_shape_vec((k, d), ps).expect("k × d"), pc))
            },
            |(ps, pc)| {
                sums += &ps;
                counts += &pc;
                Ok(())
            },
        );
        let mut shift = Array2::zeros((k, d));
        for c in 0..k {
            let nk = counts[c] + NK_EPS;
            shift.row_mut(c).assign(&(&sums.row(c) / nk));
        }
        // pass 2: moments about the means
        let mut total = Self::zeros(ct, shift.clone());
        let _ = map_fold_blocks::<_, std::convert::Infallible>(
            x.nrows(),
            par,
            |s, e| {
                let mut part = Self::zeros(ct, shift.clone());
                let mut diff = vec![0.0; d];
                let sh = shift.as_slice().expect("standard layout");
                let flat = x.as_slice();
                for r in s..e {
                    let w = weights.map_or(1.0, |w| w[r]);
                    part.weight_sum += w;
                    part.n_samples += 1;
                    let c = labels[r];
                    if c >= k || w == 0.0 {
                        continue;
                    }
                    part.nk[c] += w;
                    row_f64(x, flat, r, &mut diff);
                    for (df, m) in diff.iter_mut().zip(&sh[c * d..(c + 1) * d]) {
                        *df -= m;
                    }
                    let s1 = part.s1.as_slice_mut().expect("standard layout");
                    for (a, df) in s1[c * d..(c + 1) * d].iter_mut().zip(&diff) {
                        *a += w * df;
                    }
                    let lower = |m: &mut [f64]| {
                        for i in 0..d {
                            let wi = w * diff[i];
                            for (v, dj) in m[i * d..i * d + i + 1].iter_mut().zip(&diff[..=i]) {
                                *v += wi * dj;
                            }
                        }
                    };
                    match &mut part.s2 {
                        SecondMoments::Full(a) => lower(
                            &mut a.as_slice_mut().expect("standard")[c * d * d..(c + 1) * d * d],
                        ),
                        SecondMoments::Tied(a) => lower(a.as_slice_mut().expect("standard")),
                        SecondMoments::Diag(a) => {
                            let a = a.as_slice_mut().expect("standard layout");
                            for (v, df) in a[c * d..(c + 1) * d].iter_mut().zip(&diff) {
                                *v += w * df * df;
                            }
                        }
                    }
                }
                Ok(part)
            },
            |p| {
                total.merge_unchecked(&p);
                Ok(())
            },
        );
        total
    }

    /// [`SufficientStatistics::from_responsibilities`] with the reference kernels.
    #[cfg(test)]
    pub(crate) fn from_responsibilities_reference(
        ct: CovarianceType,
        shift: Array2<f64>,
        x: ArrayView2<f64>,
        weights: Option<ArrayView1<f64>>,
        fill: &(dyn Fn(usize, ArrayViewMut2<f64>) + Sync),
    ) -> Self {
        let k = shift.nrows();
        let mut total = Self::zeros(ct, shift.clone());
        let _ = map_fold_blocks::<_, std::convert::Infallible>(
            x.nrows(),
            Parallelism::Sequential,
            |s, e| {
                let xb = x.slice(s![s..e, ..]);
                let mut g = Array2::zeros((e - s, k));
                fill(s, g.view_mut());
                let mut part = Self::zeros(ct, shift.clone());
                part.add_responsibilities(
                    xb,
                    g.view_mut(),
                    weights.map(|w| w.slice_move(s![s..e])),
                );
                Ok(part)
            },
            |p| {
                total.merge_unchecked(&p);
                Ok(())
            },
        );
        total
    }

    #[cfg_attr(not(test), allow(dead_code))] // reference kernel, checked against the fast one in tests
    /// Adds a block whose responsibilities are `g` (overwritten with `w·γ`).
    fn add_responsibilities(
        &mut self,
        x: ArrayView2<f64>,
        mut g: ArrayViewMut2<f64>,
        w: Option<ArrayView1<f64>>,
    ) {
        if let Some(w) = w {
            for (mut row, wn) in g.rows_mut().into_iter().zip(w.iter()) {
                row *= *wn;
            }
            self.weight_sum += w.sum();
        } else {
            self.weight_sum += x.nrows() as f64;
        }
        self.n_samples += x.nrows() as u64;
        self.nk += &g.sum_axis(Axis(0));
        let d = x.ncols();
        for c in 0..self.nk.len() {
            let sh = self.shift.row(c);
            let mut acc = vec![0.0; d];
            for (row, gn) in x.rows().into_iter().zip(g.column(c).iter()) {
                if *gn == 0.0 {
                    continue;
                }
                for i in 0..d {
                    acc[i] += gn * (row[i] - sh[i]);
                }
            }
            for i in 0..d {
                self.s1[[c, i]] += acc[i];
            }
        }
        self.s2.accumulate(x, g.view(), self.shift.view());
    }

    fn merge_unchecked(&mut self, other: &Self) {
        self.nk += &other.nk;
        self.s1 += &other.s1;
        for (a, b) in self.s2.as_slice_mut().iter_mut().zip(other.s2.as_slice()) {
            *a += b;
        }
        self.log_likelihood += other.log_likelihood;
        self.weight_sum += other.weight_sum;
        self.noise_nk += other.noise_nk;
        // Saturating: a decoded count can be anything up to u64::MAX (found by fuzzing:
        // merging such statistics overflowed, a panic in debug builds).
        self.n_samples = self.n_samples.saturating_add(other.n_samples);
    }

    /// Adds another chunk's statistics (a plain sum).
    ///
    /// # Errors
    /// [`GmmError::ShapeMismatch`] when the two were taken for different covariance
    /// types, shapes or shifts (i.e. not from the same model).
    pub fn merge(&mut self, other: &Self) -> Result<()> {
        if self.covariance_type != other.covariance_type
            || self.shift.dim() != other.shift.dim()
            || self.shift != other.shift
            || self.noise_log_density != other.noise_log_density
        {
            return Err(GmmError::ShapeMismatch {
                what: "merged sufficient statistics".into(),
                expected: format!(
                    "{} statistics of shape {:?} about the same shift",
                    self.covariance_type,
                    self.shift.dim()
                ),
                got: format!(
                    "{} statistics of shape {:?}{}",
                    other.covariance_type,
                    other.shift.dim(),
                    if self.shift.dim() == other.shift.dim() {
                        " about a different shift (another model)"
                    } else {
                        ""
                    }
                ),
            });
        }
        self.merge_unchecked(other);
        Ok(())
    }

    /// The M-step: new weights, means and covariances from the merged statistics.
    /// The returned model has default [`crate::FitInfo`].
    ///
    /// # Errors
    /// [`GmmError::InvalidWeights`] when no weight was seen;
    /// [`GmmError::IllDefinedCovariance`] naming the component whose statistics are not
    /// finite or whose covariance is not positive definite.
    pub fn finalize(&self, reg_covar: f64) -> Result<GmmModel> {
        self.finalize_with(&MStepOptions::new(reg_covar), None)
    }

    /// The M-step with options (prior, equal proportions, fixed parameters). `previous`,
    /// the covariances of the model that produced these statistics, warm-starts the
    /// inner iterations of the iterative families.
    ///
    /// # Errors
    /// As [`SufficientStatistics::finalize`], and [`GmmError::InvalidParam`] for fixed
    /// parameters of the wrong shape or a family that cannot be estimated.
    pub fn finalize_with(
        &self,
        opts: &MStepOptions,
        previous: Option<&Covariances>,
    ) -> Result<GmmModel> {
        let reg_covar = opts.reg_covar;
        if self.weight_sum.is_nan() || self.weight_sum <= 0.0 {
            return Err(GmmError::InvalidWeights {
                reason: "the total sample weight is zero".into(),
            });
        }
        let nk_eff = self.nk.mapv(|v| v + NK_EPS);
        let (k, d) = self.shift.dim();
        for c in 0..k {
            let bad = !self.nk[c].is_finite() || self.s1.row(c).iter().any(|v| !v.is_finite());
            if bad {
                return Err(crate::covariance::ill_defined(
                    c,
                    reg_covar,
                    "its statistics overflowed (values too large)",
                ));
            }
        }
        if let Some(pos) = self.s2.as_slice().iter().position(|v| !v.is_finite()) {
            let c = match &self.s2 {
                SecondMoments::Full(a) => pos / (a.dim().1 * a.dim().2),
                SecondMoments::Tied(_) => 0,
                SecondMoments::Diag(a) => pos / a.ncols(),
            };
            return Err(crate::covariance::ill_defined(
                c,
                reg_covar,
                "its second moments overflowed (values too large)",
            ));
        }
        // mixing proportions (the noise component's first)
        let gauss_total: f64 = nk_eff.sum();
        let noise = self.noise_log_density.map(|log_density| Noise {
            weight: self.noise_nk / (gauss_total + self.noise_nk),
            log_density,
        });
        let pi0 = noise.map_or(0.0, |n| n.weight);
        let weights = if let Some(w) = &opts.fixed_weights {
            if w.len() != k {
                return Err(shape("fixed weights", format!("[{k}]"), w.shape()));
            }
            let sum = w.sum();
            w.mapv(|v| v / sum * (1.0 - pi0))
        } else if opts.equal_weights {
            Array1::from_elem(k, (1.0 - pi0) / k as f64)
        } else {
            let total = gauss_total + self.noise_nk;
            nk_eff.mapv(|v| v / total)
        };
        let mut xbar = self.shift.clone();
        for c in 0..k {
            let mut r = xbar.row_mut(c);
            r.zip_mut_with(&self.s1.row(c), |m, s| *m += s / nk_eff[c]);
        }
        if let Some(m) = &opts.fixed_means {
            if m.dim() != (k, d) {
                return Err(shape("fixed means", format!("[{k}, {d}]"), m.shape()));
            }
        }
        let ct = self.covariance_type;
        let (means, covariances, factor) = if let Some((cov, factor)) = &opts.fixed_covariances {
            cov.check_shape("fixed covariances", k, d)?;
            factor.check_shape("fixed covariances", k, d)?;
            let means = match (&opts.fixed_means, &opts.prior) {
                (Some(m), _) => m.clone(),
                (None, Some(p)) => {
                    crate::covariance::posterior_means(nk_eff.view(), xbar.view(), p)
                }
                (None, None) => xbar,
            };
            (means, cov.clone(), factor.clone())
        } else if ct.is_sklearn() && opts.prior.is_none() && opts.fixed_means.is_none() {
            // scikit-learn's M-step, number for number
            let cov = self
                .s2
                .estimate_sklearn(ct, &self.s1, &self.nk, &nk_eff, reg_covar);
            let factor = cov.precision_cholesky(reg_covar)?;
            (xbar, cov, factor)
        } else {
            let mut scatter = self.s2.scatter(&self.s1, &self.nk, &nk_eff);
            let centre = match &opts.fixed_means {
                Some(m) => {
                    // scatter about the fixed means: W + n_k (x̄_k − μ_k)(x̄_k − μ_k)ᵀ
                    crate::covariance::shift_scatter(
                        &mut scatter,
                        nk_eff.view(),
                        xbar.view(),
                        m.view(),
                    );
                    m.clone()
                }
                None => xbar,
            };
            let step = family::m_step_with_tol(
                ct.family(),
                nk_eff.view(),
                centre.view(),
                &scatter,
                opts.prior.as_ref(),
                reg_covar,
                previous.filter(|p| p.storage() == ct.storage()),
                opts.inner_tol.unwrap_or(family::INNER_TOL),
            )?;
            let means = if opts.fixed_means.is_some() {
                centre
            } else {
                step.means
            };
            let factor = step.covariances.precision_cholesky(reg_covar)?;
            (means, step.covariances, factor)
        };
        let mut model = GmmModel::from_parts_unchecked(weights, means, covariances, factor)?;
        model.covariance_type = ct;
        model.noise = noise;
        Ok(model)
    }

    /// A start for the inner iterations of the first M-step of a fit, when there is no
    /// previous iteration: for EVE and VVE (whose common orientation is found by an MM
    /// algorithm that needs hundreds of passes from the identity), every component's
    /// covariance set to the pooled one, whose principal axes are the natural first guess
    /// of the common orientation. `None` for the other families.
    pub(crate) fn orientation_guess(&self) -> Option<Covariances> {
        if !matches!(
            self.covariance_type,
            CovarianceType::EVE | CovarianceType::VVE
        ) {
            return None;
        }
        let nk_eff = self.nk.mapv(|v| v + NK_EPS);
        let family::Scatter::Full(w) = self.s2.scatter(&self.s1, &self.nk, &nk_eff) else {
            return None;
        };
        let (k, d, _) = w.dim();
        let n: f64 = nk_eff.sum();
        let mut pooled = Array2::<f64>::zeros((d, d));
        for c in 0..k {
            pooled += &w.index_axis(ndarray::Axis(0), c);
        }
        pooled /= n;
        let mut chol: Vec<f64> = pooled.iter().copied().collect();
        if crate::linalg::cholesky_lower(&mut chol, d).is_err() {
            return None;
        }
        let full = pooled
            .broadcast((k, d, d))
            .expect("d×d broadcasts to k×d×d")
            .to_owned();
        Some(Covariances::Full(full))
    }

    /// Serialises to versioned little-endian bytes, for shipping between processes or
    /// machines: magic `GMSS`, format version (u32), covariance family code (u8), K and D
    /// (u32), rows seen (u64), `Σw`, `Σ w ln p`, flags (u8; bit 0: noise component),
    /// `Σγ_0`, the noise log-density (f64; 0 without noise), then shift, `N_k`, first and
    /// second moments as f64.
    pub fn to_bytes(&self) -> Vec<u8> {
        let (k, d) = self.shift.dim();
        let mut out =
            Vec::with_capacity(HEADER_LEN + 8 * (2 * k * d + k + self.s2.as_slice().len()));
        out.extend_from_slice(STATS_MAGIC);
        out.extend_from_slice(&STATS_FORMAT_VERSION.to_le_bytes());
        out.push(ct_code(self.covariance_type));
        out.extend_from_slice(&(k as u32).to_le_bytes());
        out.extend_from_slice(&(d as u32).to_le_bytes());
        out.extend_from_slice(&self.n_samples.to_le_bytes());
        out.extend_from_slice(&self.weight_sum.to_le_bytes());
        out.extend_from_slice(&self.log_likelihood.to_le_bytes());
        out.push(u8::from(self.noise_log_density.is_some()));
        out.extend_from_slice(&self.noise_nk.to_le_bytes());
        out.extend_from_slice(&self.noise_log_density.unwrap_or(0.0).to_le_bytes());
        for v in self
            .shift
            .iter()
            .chain(self.nk.iter())
            .chain(self.s1.iter())
            .chain(self.s2.as_slice())
        {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out
    }

    /// Decodes bytes written by [`SufficientStatistics::to_bytes`] (this version or
    /// version 1).
    ///
    /// # Errors
    /// [`GmmError::Decode`] for a wrong magic, an unknown format version (a newer one
    /// names the version to upgrade to), an unknown covariance family, a length that does
    /// not match K and D, or non-finite counts.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let err = |reason: String| GmmError::Decode {
            what: "sufficient statistics",
            reason,
        };
        if bytes.len() < HEADER_LEN_V1 {
            return Err(err(format!(
                "{} bytes is shorter than the {HEADER_LEN_V1}-byte header",
                bytes.len()
            )));
        }
        if &bytes[..4] != STATS_MAGIC {
            return Err(err("not gaussmix statistics (bad magic)".into()));
        }
        let u32_at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().expect("4 bytes"));
        let u64_at = |o: usize| u64::from_le_bytes(bytes[o..o + 8].try_into().expect("8 bytes"));
        let f64_at = |o: usize| f64::from_le_bytes(bytes[o..o + 8].try_into().expect("8 bytes"));
        let version = u32_at(4);
        let header = match version {
            1 => HEADER_LEN_V1,
            STATS_FORMAT_VERSION => HEADER_LEN,
            v if v > STATS_FORMAT_VERSION => {
                return Err(err(format!(
                    "format version {v} was written by a newer gaussmix; this one reads versions 1 to {STATS_FORMAT_VERSION} (upgrade gaussmix)"
                )))
            }
            v => return Err(err(format!("unknown format version {v}"))),
        };
        if bytes.len() < header {
            return Err(err(format!(
                "{} bytes is shorter than the {header}-byte header of version {version}",
                bytes.len()
            )));
        }
        let code = bytes[8] as usize;
        let max_code = if version == 1 { 4 } else { CT_CODES.len() };
        if code >= max_code {
            return Err(err(format!("unknown covariance type code {code}")));
        }
        let ct = CT_CODES[code];
        let (k, d) = (u32_at(9) as usize, u32_at(13) as usize);
        if k == 0 || d == 0 {
            return Err(err(format!("k = {k}, d = {d}")));
        }
        let s2_len = match ct.storage() {
            Storage::Full => k.checked_mul(d).and_then(|v| v.checked_mul(d)),
            Storage::Tied => d.checked_mul(d),
            Storage::Diag | Storage::Spherical => k.checked_mul(d),
        };
        let n_vals = s2_len
            .and_then(|s| {
                k.checked_mul(d)?
                    .checked_mul(2)?
                    .checked_add(k)?
                    .checked_add(s)
            })
            .ok_or_else(|| err(format!("k = {k}, d = {d} is too large")))?;
        let want = n_vals.checked_mul(8).and_then(|v| v.checked_add(header));
        if want != Some(bytes.len()) {
            return Err(err(format!(
                "{} bytes, but {ct} statistics with k = {k}, d = {d} take {} bytes (truncated or corrupt)",
                bytes.len(),
                want.map_or("more than addressable".to_string(), |w| w.to_string())
            )));
        }
        let n_samples = u64_at(17);
        let weight_sum = f64_at(25);
        let log_likelihood = f64_at(33);
        if !weight_sum.is_finite() || weight_sum < 0.0 {
            return Err(err(format!("invalid weight sum {weight_sum}")));
        }
        let (noise_nk, noise_log_density) = if version == 1 {
            (0.0, None)
        } else {
            let flags = bytes[HEADER_LEN_V1];
            if flags > 1 {
                return Err(err(format!("unknown flags {flags:#04x}")));
            }
            let (nk0, ld) = (f64_at(HEADER_LEN_V1 + 1), f64_at(HEADER_LEN_V1 + 9));
            if flags == 1 {
                if !(nk0.is_finite() && nk0 >= 0.0 && ld.is_finite()) {
                    return Err(err(format!(
                        "invalid noise component statistics ({nk0}, {ld})"
                    )));
                }
                (nk0, Some(ld))
            } else {
                (0.0, None)
            }
        };
        let mut vals = bytes[header..]
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")));
        let mut take = |n: usize| -> Vec<f64> { vals.by_ref().take(n).collect() };
        let shift = Array2::from_shape_vec((k, d), take(k * d)).expect("length checked");
        let nk = Array1::from(take(k));
        let s1 = Array2::from_shape_vec((k, d), take(k * d)).expect("length checked");
        let mut out = Self::zeros(ct, shift);
        let len = out.s2.as_slice().len();
        out.s2.as_slice_mut().copy_from_slice(&take(len));
        out.nk = nk;
        out.s1 = s1;
        out.n_samples = n_samples;
        out.weight_sum = weight_sum;
        out.log_likelihood = log_likelihood;
        out.noise_nk = noise_nk;
        out.noise_log_density = noise_log_density;
        if out.shift.iter().any(|v| !v.is_finite())
            || out.nk.iter().any(|v| !v.is_finite() || *v < 0.0)
        {
            return Err(err(
                "non-finite shift or negative/non-finite component counts".into(),
            ));
        }
        Ok(out)
    }

    /// `Σ w ln p(x)` over the rows seen, under the model that made these statistics.
    pub fn log_likelihood(&self) -> f64 {
        self.log_likelihood
    }

    /// `Σ w` over the rows seen.
    pub fn weight_sum(&self) -> f64 {
        self.weight_sum
    }

    /// Number of rows seen.
    pub fn n_samples(&self) -> u64 {
        self.n_samples
    }

    /// Mean log-likelihood per (weighted) sample: scikit-learn's lower bound.
    pub fn mean_log_likelihood(&self) -> f64 {
        self.log_likelihood / self.weight_sum
    }

    /// `Σ_n w_n γ_nk` per component.
    pub fn nk(&self) -> ArrayView1<'_, f64> {
        self.nk.view()
    }

    /// The covariance type these statistics were taken for.
    pub fn covariance_type(&self) -> CovarianceType {
        self.covariance_type
    }

    /// `Σ_n w_n γ_n0` of the noise component (0 without one).
    pub fn noise_nk(&self) -> f64 {
        self.noise_nk
    }
}

/// Row `r` of `x` as f64 into `out`; `flat` is `x.as_slice()`, taken once per block by the
/// caller (a plain copy for contiguous rows).
#[inline(always)]
fn row_f64<T: Float>(x: ArrayView2<T>, flat: Option<&[T]>, r: usize, out: &mut [f64]) {
    let d = out.len();
    match flat {
        Some(f) => {
            for (o, v) in out.iter_mut().zip(&f[r * d..(r + 1) * d]) {
                *o = v.to_f64();
            }
        }
        None => {
            for (o, v) in out.iter_mut().zip(x.row(r).iter()) {
                *o = v.to_f64();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::covariance::Covariances;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Fuzz regression (minimised from fuzz/corpus/stats_bytes/crash-8d64ef85…, whose
    /// header claims 0xffff…1e rows): decoded statistics claiming close to u64::MAX rows
    /// merge without overflowing; the count saturates at u64::MAX.
    #[test]
    fn merging_decoded_statistics_with_a_huge_row_count_saturates() {
        let mut s = SufficientStatistics::zeros(CovarianceType::Diag, Array2::zeros((2, 2)));
        s.n_samples = u64::MAX - 1;
        s.weight_sum = 1.0;
        let mut a = SufficientStatistics::from_bytes(&s.to_bytes()).unwrap();
        a.merge(&s).unwrap();
        assert_eq!(a.n_samples(), u64::MAX);
    }

    /// The four covariance types' statistics agree with full covariance on the same
    /// responsibilities: diag is the diagonal of full, spherical its mean, tied the
    /// N_k-weighted average.
    #[test]
    fn covariance_types_agree_with_full_on_the_same_responsibilities() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let (n, d, k) = (2500, 4, 3);
        let x = Array2::from_shape_fn((n, d), |(i, j)| {
            rng.random::<f64>() * (1 + j) as f64 + (i % k) as f64 * 3.0
        });
        let resp = {
            let mut r = Array2::from_shape_fn((n, k), |_| rng.random::<f64>());
            for mut row in r.rows_mut() {
                let s = row.sum();
                row /= s;
            }
            r
        };
        let w = Array1::from_shape_fn(n, |i| 0.5 + (i % 4) as f64);
        let shift = Array2::from_shape_fn((k, d), |(c, j)| c as f64 + 0.1 * j as f64);
        let fill = |s: usize, mut g: ArrayViewMut2<f64>| {
            let m = g.nrows();
            g.assign(&resp.slice(s![s..s + m, ..]))
        };
        let stats = |ct| {
            SufficientStatistics::from_responsibilities(
                ct,
                shift.clone(),
                x.view(),
                Some(w.view()),
                Parallelism::Rayon,
                &fill,
            )
            .finalize(0.0)
            .unwrap()
        };
        let full = stats(CovarianceType::Full);
        let (tied, diag, sph) = (
            stats(CovarianceType::Tied),
            stats(CovarianceType::Diag),
            stats(CovarianceType::Spherical),
        );
        for m in [&tied, &diag, &sph] {
            for (a, b) in m.means.iter().zip(full.means.iter()) {
                assert!((a - b).abs() < 1e-12 * b.abs().max(1.0));
            }
            assert_eq!(m.weights, full.weights);
        }
        let Covariances::Full(fc) = &full.covariances else {
            panic!()
        };
        let Covariances::Diag(dc) = &diag.covariances else {
            panic!()
        };
        let Covariances::Spherical(sc) = &sph.covariances else {
            panic!()
        };
        let Covariances::Tied(tc) = &tied.covariances else {
            panic!()
        };
        for c in 0..k {
            for i in 0..d {
                assert!((dc[[c, i]] - fc[[c, i, i]]).abs() < 1e-12);
            }
            let mean: f64 = (0..d).map(|i| fc[[c, i, i]]).sum::<f64>() / d as f64;
            assert!((sc[c] - mean).abs() < 1e-12);
        }
        let total: f64 = full.weights.sum();
        for i in 0..d {
            for j in 0..d {
                let pooled: f64 = (0..k)
                    .map(|c| full.weights[c] / total * fc[[c, i, j]])
                    .sum();
                assert!(
                    (tc[[i, j]] - pooled).abs() < 1e-12,
                    "{} vs {pooled}",
                    tc[[i, j]]
                );
            }
        }
    }
}

#[cfg(test)]
mod given_tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Statistics from given responsibilities: fast kernels equal the reference.
    #[test]
    fn given_responsibilities_fast_equals_reference() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let (n, d, k) = (3001, 5, 3);
        let x = Array2::from_shape_fn((n, d), |(i, j)| {
            rng.random::<f64>() * (1 + j) as f64 + (i % k) as f64 * 4.0 + 1e3
        });
        let w = Array1::from_shape_fn(n, |i| (i % 3) as f64);
        let shift = Array2::from_shape_fn((k, d), |(c, j)| 1e3 + c as f64 * 4.0 + 0.5 * j as f64);
        let fill = |s: usize, mut g: ArrayViewMut2<f64>| {
            for (r, mut row) in g.rows_mut().into_iter().enumerate() {
                row[(s + r) % k] = 0.7;
                row[(s + r + 1) % k] = 0.3;
            }
        };
        for ct in CovarianceType::SKLEARN {
            for weights in [None, Some(w.view())] {
                let a = SufficientStatistics::from_responsibilities(
                    ct,
                    shift.clone(),
                    x.view(),
                    weights,
                    Parallelism::Rayon,
                    &fill,
                );
                let b = SufficientStatistics::from_responsibilities_reference(
                    ct,
                    shift.clone(),
                    x.view(),
                    weights,
                    &fill,
                );
                assert_eq!(a.weight_sum, b.weight_sum);
                for (u, v) in a.nk.iter().zip(b.nk.iter()) {
                    assert!((u - v).abs() < 1e-9, "{ct} nk {u} {v}");
                }
                for (u, v) in a.s1.iter().zip(b.s1.iter()) {
                    assert!((u - v).abs() < 1e-8 * v.abs().max(1.0), "{ct} s1 {u} {v}");
                }
                for (u, v) in a.s2.as_slice().iter().zip(b.s2.as_slice()) {
                    assert!((u - v).abs() < 1e-9 * v.abs().max(1.0), "{ct} s2 {u} {v}");
                }
            }
        }
    }

    /// Hard labels: the O(N·D²) path equals the general one with one-hot responsibilities.
    #[test]
    fn labels_equal_one_hot_responsibilities() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let (n, d, k) = (2500, 6, 4);
        let x = Array2::from_shape_fn((n, d), |(i, j)| {
            rng.random::<f64>() * (1 + j) as f64 + (i % k) as f64 * 3.0 + 1e4
        });
        let labels: Vec<usize> = (0..n)
            .map(|i| if i % 97 == 0 { usize::MAX } else { (i * 7) % k })
            .collect();
        let w = Array1::from_shape_fn(n, |i| (i % 4) as f64 * 0.5);
        for ct in CovarianceType::SKLEARN {
            for weights in [None, Some(w.view())] {
                let a = SufficientStatistics::from_labels(
                    ct,
                    x.view(),
                    weights,
                    &labels,
                    k,
                    Parallelism::Rayon,
                );
                let fill = |s: usize, mut g: ArrayViewMut2<f64>| {
                    for (r, mut row) in g.rows_mut().into_iter().enumerate() {
                        if labels[s + r] < k {
                            row[labels[s + r]] = 1.0;
                        }
                    }
                };
                let b = SufficientStatistics::from_responsibilities_reference(
                    ct,
                    a.shift.clone(),
                    x.view(),
                    weights,
                    &fill,
                );
                let (ma, mb) = (a.finalize(1e-6).unwrap(), b.finalize(1e-6).unwrap());
                for (u, v) in ma.means.iter().zip(mb.means.iter()) {
                    assert!((u - v).abs() < 1e-9, "{ct}");
                }
                for (u, v) in ma.covariances.values().zip(mb.covariances.values()) {
                    assert!((u - v).abs() < 1e-9 * v.abs().max(1.0), "{ct}: {u} {v}");
                }
                assert_eq!(a.weight_sum, b.weight_sum);
            }
        }
    }
}
