//! Missing values: masked EM (Ghahramani & Jordan 1994; docs/design.md §8).
//!
//! A row `x_n` with observed part `o` and missing part `m` (NaN entries) is explained by
//! the marginal of each component on its observed coordinates,
//!
//! ```text
//! ln p(x_o) = ln Σ_k π_k N(x_o | μ_k,o, Σ_k,oo),
//! ```
//!
//! which is the E-step, `predict`, `predict_proba` and `score_samples` alike. The M-step
//! takes *expected* sufficient statistics: the missing entries are replaced, component
//! by component, by their conditional expectation
//!
//! ```text
//! E_k[x_m | x_o] = μ_k,m + Σ_k,mo Σ_k,oo⁻¹ (x_o − μ_k,o),
//! ```
//!
//! and the conditional covariance `Σ_k,m|o = Σ_k,mm − Σ_k,mo Σ_k,oo⁻¹ Σ_k,om` is added to
//! the second moments (its diagonal for diag and spherical, summed over components for
//! tied). Every covariance family's M-step is a function of these statistics, so the
//! mclust families, priors and fixed parameters work unchanged; the observed-data
//! log-likelihood never decreases.
//!
//! Rows are grouped by missingness pattern, so each `Σ_k,oo` is factored once per
//! pattern and component (once per pattern for tied), and rows without a missing entry go
//! through the ordinary fast kernels: with no missing entry at all, a fit with
//! [`MissingValues::Em`] is the ordinary fit, bit for bit.
//!
//! Initialisation runs the chosen method on the data with each missing entry replaced
//! by its column's mean over the observed rows (unweighted), then EM takes over with the
//! masked statistics. A uniform noise component cannot be combined with missing values.

use std::collections::HashMap;

use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2, Axis};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::covariance::{Covariances, SecondMoments};
use crate::error::{GmmError, Result};
use crate::float::Float;
use crate::model::GmmModel;
use crate::par::{Parallelism, BLOCK_ROWS};
use crate::stats::SufficientStatistics;

/// What a fit, and a model applied to data, does with missing entries (NaN).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum MissingValues {
    /// A NaN is an error naming its row and column (scikit-learn's behaviour).
    #[default]
    Error,
    /// Masked EM: rows contribute through their observed entries (see [`crate::missing`]).
    Em,
}

impl std::str::FromStr for MissingValues {
    type Err = GmmError;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "error" => Ok(MissingValues::Error),
            "em" => Ok(MissingValues::Em),
            _ => Err(GmmError::InvalidParam {
                name: "missing_values",
                value: s.to_string(),
                reason: "must be one of error, em".into(),
            }),
        }
    }
}

impl std::fmt::Display for MissingValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            MissingValues::Error => "error",
            MissingValues::Em => "em",
        })
    }
}

/// Rows with the same missing entries, stored contiguously.
#[derive(Debug, Clone)]
struct Group {
    observed: Vec<usize>,
    missing: Vec<usize>,
    /// Rows `start..end` of [`Gaps::incomplete_x`].
    start: usize,
    end: usize,
}

/// A slice of one group: rows `start..end` of the incomplete rows, all of group `group`.
type Segment = (usize, usize, usize);

/// The rows of a data set split by missingness: complete rows (for the fast kernels) and
/// incomplete ones grouped by pattern.
#[derive(Debug, Clone)]
pub(crate) struct Gaps {
    n_rows: usize,
    complete: Vec<usize>,
    complete_x: Array2<f64>,
    /// Original index of each incomplete row, ordered by group.
    incomplete: Vec<usize>,
    /// The incomplete rows (NaN kept), ordered by group.
    incomplete_x: Array2<f64>,
    groups: Vec<Group>,
    /// Work units of about [`BLOCK_ROWS`] incomplete rows, fixed, so the reduction order
    /// (and the result) does not depend on the thread count.
    units: Vec<Vec<Segment>>,
}

impl Gaps {
    /// Splits `x` by missingness; `None` when nothing is missing. `row_offset` names rows
    /// by their position in a stream. With `fit`, a column with no observed value is an
    /// error too.
    ///
    /// # Errors
    /// [`GmmError::NonFinite`] for ±∞, [`GmmError::AllMissingRow`],
    /// [`GmmError::AllMissingColumn`].
    pub(crate) fn find<T: Float>(
        x: ArrayView2<T>,
        row_offset: usize,
        fit: bool,
    ) -> Result<Option<Gaps>> {
        if crate::validate::check_finite(x, 0).is_ok() {
            return Ok(None);
        }
        let (n, d) = x.dim();
        let words = d.div_ceil(64);
        let mut keys: HashMap<Vec<u64>, usize> = HashMap::new();
        let mut members: Vec<Vec<usize>> = Vec::new();
        let mut patterns: Vec<Vec<u64>> = Vec::new();
        let mut complete = Vec::new();
        let mut col_seen = vec![false; d];
        let mut key = vec![0u64; words];
        for (r, row) in x.rows().into_iter().enumerate() {
            key.fill(0);
            let mut n_missing = 0;
            for (j, v) in row.iter().enumerate() {
                let v = v.to_f64();
                if v.is_nan() {
                    key[j / 64] |= 1 << (j % 64);
                    n_missing += 1;
                } else if v.is_infinite() {
                    return Err(GmmError::NonFinite {
                        row: r + row_offset,
                        column: j,
                        value: v,
                    });
                } else {
                    col_seen[j] = true;
                }
            }
            if n_missing == 0 {
                complete.push(r);
                continue;
            }
            if n_missing == d {
                return Err(GmmError::AllMissingRow {
                    row: r + row_offset,
                });
            }
            let g = *keys.entry(key.clone()).or_insert_with(|| {
                patterns.push(key.clone());
                members.push(Vec::new());
                members.len() - 1
            });
            members[g].push(r);
        }
        if fit {
            if let Some(j) = col_seen.iter().position(|s| !s) {
                return Err(GmmError::AllMissingColumn { column: j });
            }
        }
        let complete_x =
            Array2::from_shape_fn((complete.len(), d), |(i, j)| x[[complete[i], j]].to_f64());
        let incomplete: Vec<usize> = members.iter().flatten().copied().collect();
        let incomplete_x = Array2::from_shape_fn((incomplete.len(), d), |(i, j)| {
            x[[incomplete[i], j]].to_f64()
        });
        let mut groups = Vec::with_capacity(members.len());
        let mut start = 0;
        for (key, rows) in patterns.iter().zip(&members) {
            let is_missing = |j: usize| key[j / 64] >> (j % 64) & 1 == 1;
            groups.push(Group {
                observed: (0..d).filter(|&j| !is_missing(j)).collect(),
                missing: (0..d).filter(|&j| is_missing(j)).collect(),
                start,
                end: start + rows.len(),
            });
            start += rows.len();
        }
        let mut units: Vec<Vec<Segment>> = Vec::new();
        let mut cur: Vec<Segment> = Vec::new();
        let mut cur_rows = 0;
        for (g, grp) in groups.iter().enumerate() {
            let mut s = grp.start;
            while s < grp.end {
                let e = grp.end.min(s + (BLOCK_ROWS - cur_rows));
                cur.push((g, s, e));
                cur_rows += e - s;
                s = e;
                if cur_rows == BLOCK_ROWS {
                    units.push(std::mem::take(&mut cur));
                    cur_rows = 0;
                }
            }
        }
        if !cur.is_empty() {
            units.push(cur);
        }
        Ok(Some(Gaps {
            n_rows: n,
            complete,
            complete_x,
            incomplete,
            incomplete_x,
            groups,
            units,
        }))
    }

    /// Number of rows with at least one missing entry.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn n_incomplete(&self) -> usize {
        self.incomplete.len()
    }

    /// The E-step statistics of `model` over all rows: complete rows through the fast
    /// kernels, incomplete ones through their observed marginals and expected statistics.
    pub(crate) fn e_step(
        &self,
        model: &GmmModel,
        weights: Option<ArrayView1<f64>>,
        par: Parallelism,
    ) -> Result<SufficientStatistics> {
        let gather =
            |rows: &[usize]| weights.map(|w| Array1::from_iter(rows.iter().map(|&r| w[r])));
        let wc = gather(&self.complete);
        let mut total = if self.complete.is_empty() {
            SufficientStatistics::zeros_for(model)
        } else {
            SufficientStatistics::e_step(
                model,
                self.complete_x.view(),
                wc.as_ref().map(|w| w.view()),
                par,
            )
        };
        let wi = gather(&self.incomplete);
        let wi = wi.as_ref().map(|w| w.view());
        reject_noise(model)?;
        let parts = self.over_units(par, |unit| {
            let mut part = SufficientStatistics::zeros_for(model);
            for &(g, s, e) in unit {
                let grp = &self.groups[g];
                let cond = Conditional::new(model, &grp.observed, &grp.missing)?;
                cond.accumulate(
                    model,
                    self.incomplete_x.slice(s![s..e, ..]),
                    wi.map(|w| w.slice_move(s![s..e])),
                    &mut part,
                );
            }
            Ok(part)
        })?;
        for p in &parts {
            total.merge(p)?;
        }
        Ok(total)
    }

    /// Maps every work unit (in parallel when asked), results in unit order.
    fn over_units<R: Send>(
        &self,
        par: Parallelism,
        f: impl Fn(&[Segment]) -> Result<R> + Sync,
    ) -> Result<Vec<R>> {
        match par {
            Parallelism::Sequential => self.units.iter().map(|u| f(u)).collect(),
            Parallelism::Rayon => self.units.par_iter().map(|u| f(u)).collect(),
        }
    }

    /// Per incomplete row: `(original row, responsibilities, ln p(x_o), imputed row)`,
    /// computed unit by unit; `impute` asks for the filled row (`Some(seed)` draws it).
    fn rows(
        &self,
        model: &GmmModel,
        par: Parallelism,
        impute: Option<Option<u64>>,
    ) -> Result<Vec<RowResult>> {
        reject_noise(model)?;
        let parts = self.over_units(par, |unit| {
            let mut out = Vec::new();
            for &(g, s, e) in unit {
                let grp = &self.groups[g];
                let cond = Conditional::new(model, &grp.observed, &grp.missing)?;
                let draw = match impute {
                    Some(Some(_)) => Some(cond.draw_factors()?),
                    _ => None,
                };
                for i in s..e {
                    let row = self.incomplete[i];
                    let x = self.incomplete_x.row(i);
                    let mut res = cond.evaluate(model, x);
                    if let Some(seed) = impute {
                        res.filled = Some(cond.fill(model, x, &res, seed, row, draw.as_deref()));
                    }
                    res.row = row;
                    out.push(res);
                }
            }
            Ok(out)
        })?;
        Ok(parts.into_iter().flatten().collect())
    }
}

/// One incomplete row's results.
struct RowResult {
    row: usize,
    /// `γ_k(x_o)`.
    resp: Vec<f64>,
    /// `ln p(x_o)`.
    ln: f64,
    /// `r_k = x_o − μ_k,o`, K×d_o.
    resid: Vec<f64>,
    filled: Option<Vec<f64>>,
}

fn reject_noise(model: &GmmModel) -> Result<()> {
    if model.noise.is_some() {
        return Err(GmmError::InvalidParam {
            name: "missing_values",
            value: "em".into(),
            reason: "a model with a uniform noise component cannot marginalise missing entries (its density has no marginal): fill the gaps first".into(),
        });
    }
    Ok(())
}

/// `Σ_k[i, j]` of a model's covariances, dense.
fn cov_entry(c: &Covariances, k: usize, i: usize, j: usize) -> f64 {
    match c {
        Covariances::Full(a) => a[[k, i, j]],
        Covariances::Tied(a) => a[[i, j]],
        Covariances::Diag(a) => {
            if i == j {
                a[[k, i]]
            } else {
                0.0
            }
        }
        Covariances::Spherical(a) => {
            if i == j {
                a[k]
            } else {
                0.0
            }
        }
    }
}

/// The conditionals of every component for one missingness pattern.
struct Conditional<'a> {
    o: &'a [usize],
    m: &'a [usize],
    /// Distinct covariances (1 for tied, K otherwise).
    distinct: usize,
    /// Lower Cholesky factors of `Σ_oo`, distinct × d_o × d_o.
    l: Vec<f64>,
    /// `B = Σ_mo Σ_oo⁻¹`, distinct × d_m × d_o (empty for diagonal covariances).
    b: Vec<f64>,
    /// `Σ_m|o`, distinct × d_m × d_m.
    c: Vec<f64>,
    /// `ln π_k − Σ ln L_ii − ½ d_o ln 2π`, K.
    offset: Vec<f64>,
    diagonal: bool,
}

impl<'a> Conditional<'a> {
    fn new(model: &GmmModel, o: &'a [usize], m: &'a [usize]) -> Result<Self> {
        let k = model.n_components();
        let cov = &model.covariances;
        let diagonal = matches!(cov, Covariances::Diag(_) | Covariances::Spherical(_));
        let distinct = if matches!(cov, Covariances::Tied(_)) {
            1
        } else {
            k
        };
        let (dob, dm) = (o.len(), m.len());
        let mut l = vec![0.0; distinct * dob * dob];
        let mut b = if diagonal {
            Vec::new()
        } else {
            vec![0.0; distinct * dm * dob]
        };
        let mut c = vec![0.0; distinct * dm * dm];
        let mut half_log_det = vec![0.0; distinct];
        let mut tmp = vec![0.0; dob];
        for q in 0..distinct {
            let lq = &mut l[q * dob * dob..(q + 1) * dob * dob];
            for (a, &i) in o.iter().enumerate() {
                for (bb, &j) in o.iter().enumerate() {
                    lq[a * dob + bb] = cov_entry(cov, q, i, j);
                }
            }
            crate::linalg::cholesky_lower(lq, dob).map_err(|_| {
                crate::covariance::ill_defined(
                    q,
                    0.0,
                    "its covariance restricted to the observed features of some rows is not positive definite",
                )
            })?;
            half_log_det[q] = (0..dob).map(|a| lq[a * dob + a].ln()).sum();
            let cq = &mut c[q * dm * dm..(q + 1) * dm * dm];
            for (a, &i) in m.iter().enumerate() {
                for (bb, &j) in m.iter().enumerate() {
                    cq[a * dm + bb] = cov_entry(cov, q, i, j);
                }
            }
            if diagonal {
                continue;
            }
            let bq = &mut b[q * dm * dob..(q + 1) * dm * dob];
            for (a, &i) in m.iter().enumerate() {
                // row a of B solves Σ_oo bᵀ = Σ_o,i: forward then backward substitution
                for (bb, &j) in o.iter().enumerate() {
                    tmp[bb] = cov_entry(cov, q, j, i);
                }
                forward(lq, dob, &mut tmp);
                backward(lq, dob, &mut tmp);
                bq[a * dob..(a + 1) * dob].copy_from_slice(&tmp);
            }
            // Σ_m|o = Σ_mm − B Σ_om
            for a in 0..dm {
                for bb in 0..dm {
                    let j = m[bb];
                    let mut v = 0.0;
                    for (t, &i) in o.iter().enumerate() {
                        v += bq[a * dob + t] * cov_entry(cov, q, i, j);
                    }
                    cq[a * dm + bb] -= v;
                }
            }
            // exactly symmetric
            for a in 0..dm {
                for bb in 0..a {
                    let v = 0.5 * (cq[a * dm + bb] + cq[bb * dm + a]);
                    cq[a * dm + bb] = v;
                    cq[bb * dm + a] = v;
                }
            }
        }
        let half_log_2pi = 0.5 * dob as f64 * (2.0 * std::f64::consts::PI).ln();
        let offset = (0..k)
            .map(|c| {
                let q = if distinct == 1 { 0 } else { c };
                model.weights[c].ln() - half_log_det[q] - half_log_2pi
            })
            .collect();
        Ok(Conditional {
            o,
            m,
            distinct,
            l,
            b,
            c,
            offset,
            diagonal,
        })
    }

    fn q(&self, k: usize) -> usize {
        if self.distinct == 1 {
            0
        } else {
            k
        }
    }

    /// Responsibilities, `ln p(x_o)` and the residuals of one row (NaN at the missing
    /// entries).
    fn evaluate(&self, model: &GmmModel, x: ArrayView1<f64>) -> RowResult {
        let k = model.n_components();
        let dob = self.o.len();
        let mut resid = vec![0.0; k * dob];
        let mut resp = vec![0.0; k];
        let mut z = vec![0.0; dob];
        let ln = self.evaluate_into(model, x, &mut resp, &mut resid, &mut z);
        RowResult {
            row: 0,
            resp,
            ln,
            resid,
            filled: None,
        }
    }

    /// [`Conditional::evaluate`] into buffers (K, K×d_o, d_o); returns `ln p(x_o)`.
    fn evaluate_into(
        &self,
        model: &GmmModel,
        x: ArrayView1<f64>,
        lp: &mut [f64],
        resid: &mut [f64],
        z: &mut [f64],
    ) -> f64 {
        let k = model.n_components();
        let dob = self.o.len();
        for c in 0..k {
            let r = &mut resid[c * dob..(c + 1) * dob];
            for (a, &i) in self.o.iter().enumerate() {
                r[a] = x[i] - model.means[[c, i]];
            }
            z.copy_from_slice(r);
            let q = self.q(c);
            forward(&self.l[q * dob * dob..(q + 1) * dob * dob], dob, z);
            let maha: f64 = z.iter().map(|v| v * v).sum();
            lp[c] = self.offset[c] - 0.5 * maha;
        }
        let mx = lp.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if mx == f64::NEG_INFINITY {
            lp.fill(1.0 / k as f64);
            return f64::NEG_INFINITY;
        }
        let mut sum = 0.0;
        for v in lp.iter_mut() {
            *v = (*v - mx).exp();
            sum += *v;
        }
        for v in lp.iter_mut() {
            *v /= sum;
        }
        mx + sum.ln()
    }

    /// `E_k[x_m | x_o] − μ_k,m = B_k r_k` into `out` (d_m).
    fn cond_shift(&self, c: usize, r: &[f64], out: &mut [f64]) {
        let (dob, dm) = (self.o.len(), self.m.len());
        if self.diagonal {
            out.fill(0.0);
            return;
        }
        let q = self.q(c);
        let bq = &self.b[q * dm * dob..(q + 1) * dm * dob];
        for (a, v) in out.iter_mut().enumerate() {
            *v = bq[a * dob..(a + 1) * dob]
                .iter()
                .zip(r)
                .map(|(b, r)| b * r)
                .sum();
        }
    }

    /// Adds the expected statistics of a block of rows of this pattern.
    fn accumulate(
        &self,
        model: &GmmModel,
        x: ArrayView2<f64>,
        w: Option<ArrayView1<f64>>,
        part: &mut SufficientStatistics,
    ) {
        let (k, d) = (model.n_components(), model.n_features());
        let (dob, dm) = (self.o.len(), self.m.len());
        let mut gsum = vec![0.0; k];
        let mut diff = vec![0.0; d];
        let mut bm = vec![0.0; dm];
        let mut resp = vec![0.0; k];
        let mut resid = vec![0.0; k * dob];
        let mut z = vec![0.0; dob];
        for (n, row) in x.rows().into_iter().enumerate() {
            let wn = w.map_or(1.0, |w| w[n]);
            let ln = self.evaluate_into(model, row, &mut resp, &mut resid, &mut z);
            part.weight_sum += wn;
            part.n_samples += 1;
            if wn != 0.0 {
                part.log_likelihood += wn * ln;
            }
            for c in 0..k {
                let g = wn * resp[c];
                part.nk[c] += g;
                if g == 0.0 {
                    continue;
                }
                gsum[c] += g;
                let r = &resid[c * dob..(c + 1) * dob];
                self.cond_shift(c, r, &mut bm);
                for &i in self.o {
                    diff[i] = row[i] - part.shift[[c, i]];
                }
                for (a, &i) in self.m.iter().enumerate() {
                    diff[i] = model.means[[c, i]] + bm[a] - part.shift[[c, i]];
                }
                for i in 0..d {
                    part.s1[[c, i]] += g * diff[i];
                }
                match &mut part.s2 {
                    SecondMoments::Full(s2) => {
                        let mut mc = s2.index_axis_mut(Axis(0), c);
                        let mc = mc.as_slice_mut().expect("standard layout");
                        lower_outer(mc, &diff, g, d);
                    }
                    SecondMoments::Tied(s2) => {
                        let mc = s2.as_slice_mut().expect("standard layout");
                        lower_outer(mc, &diff, g, d);
                    }
                    SecondMoments::Diag(s2) => {
                        for i in 0..d {
                            s2[[c, i]] += g * diff[i] * diff[i];
                        }
                    }
                }
            }
        }
        // the conditional covariances, once per component for the block
        for c in 0..k {
            if gsum[c] == 0.0 {
                continue;
            }
            let q = self.q(c);
            let cq = &self.c[q * dm * dm..(q + 1) * dm * dm];
            match &mut part.s2 {
                SecondMoments::Full(s2) => {
                    for (a, &i) in self.m.iter().enumerate() {
                        for (bb, &j) in self.m[..=a].iter().enumerate() {
                            s2[[c, i, j]] += gsum[c] * cq[a * dm + bb];
                        }
                    }
                }
                SecondMoments::Tied(s2) => {
                    for (a, &i) in self.m.iter().enumerate() {
                        for (bb, &j) in self.m[..=a].iter().enumerate() {
                            s2[[i, j]] += gsum[c] * cq[a * dm + bb];
                        }
                    }
                }
                SecondMoments::Diag(s2) => {
                    for (a, &i) in self.m.iter().enumerate() {
                        s2[[c, i]] += gsum[c] * cq[a * dm + a];
                    }
                }
            }
        }
    }

    /// Lower Cholesky factors of the conditional covariances (for draws), distinct ×
    /// d_m × d_m.
    fn draw_factors(&self) -> Result<Vec<f64>> {
        let dm = self.m.len();
        let mut f = self.c.clone();
        for q in 0..self.distinct {
            let fq = &mut f[q * dm * dm..(q + 1) * dm * dm];
            if crate::linalg::cholesky_lower(fq, dm).is_err() {
                // a conditional covariance at the rounding floor: draw from its diagonal
                for a in 0..dm {
                    for bb in 0..dm {
                        let v = self.c[q * dm * dm + a * dm + bb];
                        fq[a * dm + bb] = if a == bb { v.max(0.0).sqrt() } else { 0.0 };
                    }
                }
            }
        }
        Ok(f)
    }

    /// The row with its missing entries filled: the conditional expectation under the
    /// mixture (`seed` `None`), or a draw from the conditional mixture.
    fn fill(
        &self,
        model: &GmmModel,
        x: ArrayView1<f64>,
        res: &RowResult,
        seed: Option<u64>,
        row: usize,
        factors: Option<&[f64]>,
    ) -> Vec<f64> {
        let k = model.n_components();
        let dob = self.o.len();
        let dm = self.m.len();
        let mut out: Vec<f64> = x.to_vec();
        let mut bm = vec![0.0; dm];
        match (seed, factors) {
            (Some(seed), Some(f)) => {
                // one generator per row: the draw does not depend on the thread count
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                rng.set_stream(row as u64);
                let u: f64 = rng.random();
                let mut acc = 0.0;
                let mut c = k - 1;
                for (j, g) in res.resp.iter().enumerate() {
                    acc += g;
                    if u < acc {
                        c = j;
                        break;
                    }
                }
                self.cond_shift(c, &res.resid[c * dob..(c + 1) * dob], &mut bm);
                let z: Vec<f64> = (0..dm).map(|_| rng.sample(StandardNormal)).collect();
                let q = self.q(c);
                let fq = &f[q * dm * dm..(q + 1) * dm * dm];
                for (a, &i) in self.m.iter().enumerate() {
                    let noise: f64 = (0..=a).map(|t| fq[a * dm + t] * z[t]).sum();
                    out[i] = model.means[[c, i]] + bm[a] + noise;
                }
            }
            _ => {
                for &i in self.m {
                    out[i] = 0.0;
                }
                for c in 0..k {
                    let g = res.resp[c];
                    if g == 0.0 {
                        continue;
                    }
                    self.cond_shift(c, &res.resid[c * dob..(c + 1) * dob], &mut bm);
                    for (a, &i) in self.m.iter().enumerate() {
                        out[i] += g * (model.means[[c, i]] + bm[a]);
                    }
                }
            }
        }
        out
    }
}

/// `m[i, j] += g · v_i v_j` on the lower triangle (row-major d×d).
fn lower_outer(m: &mut [f64], v: &[f64], g: f64, d: usize) {
    for i in 0..d {
        let gi = g * v[i];
        for (x, vj) in m[i * d..i * d + i + 1].iter_mut().zip(&v[..=i]) {
            *x += gi * vj;
        }
    }
}

/// Solves `L z = z` in place (L lower, row-major n×n).
fn forward(l: &[f64], n: usize, z: &mut [f64]) {
    for i in 0..n {
        let mut s = z[i];
        for j in 0..i {
            s -= l[i * n + j] * z[j];
        }
        z[i] = s / l[i * n + i];
    }
}

/// Solves `Lᵀ z = z` in place.
fn backward(l: &[f64], n: usize, z: &mut [f64]) {
    for i in (0..n).rev() {
        let mut s = z[i];
        for j in (i + 1)..n {
            s -= l[j * n + i] * z[j];
        }
        z[i] = s / l[i * n + i];
    }
}

/// Checks a chunk of a streaming fit: as [`crate::stream::check_chunk`] under
/// [`MissingValues::Error`]; under [`MissingValues::Em`] NaN entries are allowed (marking
/// the columns seen observed in `seen`), ±∞ and all-missing rows are not. Returns whether
/// the chunk has a gap.
pub(crate) fn check_chunk(
    c: &crate::stream::Chunk,
    d: usize,
    first_row: usize,
    policy: MissingValues,
    seen: &mut [bool],
) -> Result<bool> {
    if policy == MissingValues::Error || crate::validate::check_finite(c.x.view(), 0).is_ok() {
        crate::stream::check_chunk(c, d, first_row)?;
        if c.x.nrows() > 0 {
            seen.fill(true);
        }
        return Ok(false);
    }
    if c.x.ncols() != d {
        return crate::stream::check_chunk(c, d, first_row).map(|_| false);
    }
    for (r, row) in c.x.rows().into_iter().enumerate() {
        let mut any = false;
        for (j, &v) in row.iter().enumerate() {
            if v.is_infinite() {
                return Err(GmmError::NonFinite {
                    row: r + first_row,
                    column: j,
                    value: v,
                });
            }
            if !v.is_nan() {
                seen[j] = true;
                any = true;
            }
        }
        if !any {
            return Err(GmmError::AllMissingRow { row: r + first_row });
        }
    }
    // the weights, as for any chunk
    let filled = crate::stream::Chunk {
        x: Array2::zeros((c.x.nrows(), d)),
        weights: c.weights.clone(),
    };
    crate::stream::check_chunk(&filled, d, first_row)?;
    Ok(true)
}

/// Adds the masked E-step statistics of a stream chunk (rows named from `first_row`).
pub(crate) fn accumulate_chunk(
    total: &mut SufficientStatistics,
    model: &GmmModel,
    prep: &crate::kernels::Prepared,
    x: ArrayView2<f64>,
    weights: Option<ArrayView1<f64>>,
    first_row: usize,
    par: Parallelism,
) -> Result<()> {
    match Gaps::find(x, first_row, false)? {
        None => total.accumulate_prepared(model, prep, x, weights, par),
        Some(g) => total.merge(&g.e_step(model, weights, par)?)?,
    }
    Ok(())
}

/// The data with each missing entry replaced by its column's mean over the rows where it
/// is observed (the start of a fit with missing values).
pub(crate) fn mean_imputed<T: Float>(x: ArrayView2<T>) -> Array2<f64> {
    let (n, d) = x.dim();
    let mut means = vec![0.0; d];
    let mut counts = vec![0usize; d];
    for row in x.rows() {
        for (j, v) in row.iter().enumerate() {
            let v = v.to_f64();
            if !v.is_nan() {
                means[j] += v;
                counts[j] += 1;
            }
        }
    }
    for j in 0..d {
        means[j] /= counts[j].max(1) as f64;
    }
    Array2::from_shape_fn((n, d), |(i, j)| {
        let v = x[[i, j]].to_f64();
        if v.is_nan() {
            means[j]
        } else {
            v
        }
    })
}

impl SufficientStatistics {
    /// [`SufficientStatistics::from_chunk_par`] for rows that may have missing entries
    /// (NaN): rows with gaps contribute through their observed marginal and expected
    /// statistics (see [`crate::missing`]); complete rows as in the ordinary E-step (with
    /// no NaN at all the result is the ordinary one, bit for bit). This is the statistic
    /// of a streaming or distributed masked-EM fit.
    ///
    /// # Errors
    /// As [`SufficientStatistics::from_chunk`] for ±∞, shapes and weights;
    /// [`GmmError::AllMissingRow`] for a row without an observed value;
    /// [`GmmError::InvalidParam`] for a model with a noise component.
    pub fn from_chunk_missing<T: Float>(
        model: &GmmModel,
        x: ArrayView2<T>,
        weights: Option<ArrayView1<f64>>,
        par: Parallelism,
    ) -> Result<Self> {
        model.check_data(x)?;
        if let Some(w) = weights {
            crate::validate::check_weights(w, x.nrows())?;
        }
        match Gaps::find(x, 0, false)? {
            None => Ok(Self::e_step(model, x, weights, par)),
            Some(g) => g.e_step(model, weights, par),
        }
    }
}

impl GmmModel {
    /// Responsibilities and log-densities of rows that may have missing entries.
    fn masked(&self, gaps: &Gaps, want_resp: bool) -> Result<(Array2<f64>, Array1<f64>)> {
        let par = Parallelism::default();
        let k = self.n_components();
        let n = gaps.n_rows;
        let mut resp = Array2::zeros((if want_resp { n } else { 0 }, k));
        let mut ln = Array1::zeros(n);
        if !gaps.complete.is_empty() {
            let xc = gaps.complete_x.view();
            if want_resp {
                let r = self.predict_proba_par(xc, par)?;
                for (i, &row) in gaps.complete.iter().enumerate() {
                    resp.row_mut(row).assign(&r.row(i));
                }
            }
            let l = self.score_samples_par(xc, par)?;
            for (i, &row) in gaps.complete.iter().enumerate() {
                ln[row] = l[i];
            }
        }
        for r in gaps.rows(self, par, None)? {
            if want_resp {
                resp.row_mut(r.row).assign(&ArrayView1::from(&r.resp));
            }
            ln[r.row] = r.ln;
        }
        Ok((resp, ln))
    }

    fn gaps_of<T: Float>(&self, x: ArrayView2<T>) -> Result<Option<Gaps>> {
        self.check_data(x)?;
        Gaps::find(x, 0, false)
    }

    /// [`GmmModel::predict_proba`] marginalising over missing entries (NaN):
    /// `γ_k(x_o) ∝ π_k N(x_o | μ_k,o, Σ_k,oo)`. Rows without a gap get exactly the values
    /// of `predict_proba`.
    ///
    /// # Errors
    /// As [`GmmModel::predict_proba`] for ±∞ and shapes; [`GmmError::AllMissingRow`];
    /// [`GmmError::InvalidParam`] for a model with a noise component.
    pub fn predict_proba_missing<T: Float>(&self, x: ArrayView2<T>) -> Result<Array2<f64>> {
        match self.gaps_of(x)? {
            None => self.predict_proba(x),
            Some(g) => Ok(self.masked(&g, true)?.0),
        }
    }

    /// [`GmmModel::predict`] marginalising over missing entries.
    ///
    /// # Errors
    /// As [`GmmModel::predict_proba_missing`].
    pub fn predict_missing<T: Float>(&self, x: ArrayView2<T>) -> Result<Array1<usize>> {
        let r = self.predict_proba_missing(x)?;
        Ok(r.map_axis(Axis(1), |row| crate::model::argmax(row.iter().copied())))
    }

    /// [`GmmModel::score_samples`] marginalising over missing entries: `ln p(x_o)`, the
    /// log density of each row's observed entries.
    ///
    /// # Errors
    /// As [`GmmModel::predict_proba_missing`].
    pub fn score_samples_missing<T: Float>(&self, x: ArrayView2<T>) -> Result<Array1<f64>> {
        match self.gaps_of(x)? {
            None => self.score_samples(x),
            Some(g) => Ok(self.masked(&g, false)?.1),
        }
    }

    /// The rows of `x` with every missing entry (NaN) filled by its conditional
    /// expectation under the mixture, `E[x_m | x_o] = Σ_k γ_k(x_o) (μ_k,m + Σ_k,mo
    /// Σ_k,oo⁻¹ (x_o − μ_k,o))`; observed entries are copied. With `draw = Some(seed)`,
    /// each gap is instead a draw from the conditional mixture (a component by its
    /// responsibility, then the Gaussian conditional): the same seed gives the same
    /// draws whatever the thread count.
    ///
    /// # Errors
    /// As [`GmmModel::predict_proba_missing`].
    pub fn impute<T: Float>(&self, x: ArrayView2<T>, draw: Option<u64>) -> Result<Array2<f64>> {
        let mut out = x.mapv(|v| v.to_f64());
        let Some(g) = self.gaps_of(x)? else {
            crate::validate::check_finite(x, 0)?;
            return Ok(out);
        };
        for r in g.rows(self, Parallelism::default(), Some(draw))? {
            let filled = r.filled.expect("asked for");
            out.row_mut(r.row).assign(&ArrayView1::from(&filled));
        }
        Ok(out)
    }
}
