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
    /// Work units of about [`BLOCK_ROWS`] incomplete rows of the small groups, fixed, so
    /// the reduction order (and the result) does not depend on the thread count.
    units: Vec<Vec<Segment>>,
    /// The groups of at least [`BIG_GROUP`] rows, with their observed entries gathered:
    /// their E-step is the fast kernels' on the marginal model.
    big: Vec<(usize, Array2<f64>)>,
    /// Every group by itself in units (for predictions, which take the per-row path).
    all_units: Vec<Vec<Segment>>,
}

/// Groups of at least this many rows take the fast kernels on their observed entries;
/// smaller ones (a pattern of a few rows) are evaluated row by row.
const BIG_GROUP: usize = 32;

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
        let mut empty_row = None;
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
                empty_row = empty_row.or(Some(r + row_offset));
                continue;
            }
            let g = *keys.entry(key.clone()).or_insert_with(|| {
                patterns.push(key.clone());
                members.push(Vec::new());
                members.len() - 1
            });
            members[g].push(r);
        }
        // an empty column first: it is what empties rows
        if fit {
            if let Some(j) = col_seen.iter().position(|s| !s) {
                return Err(GmmError::AllMissingColumn { column: j });
            }
        }
        if let Some(row) = empty_row {
            return Err(GmmError::AllMissingRow { row });
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
        let units_of = |take: &dyn Fn(&Group) -> bool| {
            let mut units: Vec<Vec<Segment>> = Vec::new();
            let mut cur: Vec<Segment> = Vec::new();
            let mut cur_rows = 0;
            for (g, grp) in groups.iter().enumerate().filter(|(_, g)| take(g)) {
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
            units
        };
        let is_big = |g: &Group| g.end - g.start >= BIG_GROUP;
        let units = units_of(&|g| !is_big(g));
        let all_units = units_of(&|_| true);
        let big = if fit {
            groups
                .iter()
                .enumerate()
                .filter(|(_, g)| is_big(g))
                .map(|(i, g)| {
                    let xo = incomplete_x
                        .slice(s![g.start..g.end, ..])
                        .select(Axis(1), &g.observed);
                    (i, xo)
                })
                .collect()
        } else {
            Vec::new()
        };
        let units = if fit { units } else { all_units.clone() };
        Ok(Some(Gaps {
            big,
            all_units,
            n_rows: n,
            complete,
            complete_x,
            incomplete,
            incomplete_x,
            groups,
            units,
        }))
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
        let dense = Dense::new(model);
        // the large groups: the fast kernels on the marginal model, lifted to D
        for (g, xo) in &self.big {
            let grp = &self.groups[*g];
            let marginal = marginal_model(model, &grp.observed)?;
            let w = wi.map(|w| w.slice_move(s![grp.start..grp.end]));
            let st = SufficientStatistics::e_step(&marginal, xo.view(), w, par);
            let cond = Conditional::new(&dense, &grp.observed, &grp.missing)?;
            cond.lift(&st, &mut total);
        }
        let parts = self.over_units(par, |unit| {
            let mut part = SufficientStatistics::zeros_for(model);
            for &(g, s, e) in unit {
                let grp = &self.groups[g];
                let cond = Conditional::new(&dense, &grp.observed, &grp.missing)?;
                cond.accumulate(
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

    /// Maps every unit of all groups (in parallel when asked), results in unit order.
    fn over_all_units<R: Send>(
        &self,
        par: Parallelism,
        f: impl Fn(&[Segment]) -> Result<R> + Sync,
    ) -> Result<Vec<R>> {
        match par {
            Parallelism::Sequential => self.all_units.iter().map(|u| f(u)).collect(),
            Parallelism::Rayon => self.all_units.par_iter().map(|u| f(u)).collect(),
        }
    }

    /// Maps every work unit of the small groups (in parallel when asked), results in
    /// unit order.
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
        let dense = Dense::new(model);
        let parts = self.over_all_units(par, |unit| {
            let mut out = Vec::new();
            for &(g, s, e) in unit {
                let grp = &self.groups[g];
                let cond = Conditional::new(&dense, &grp.observed, &grp.missing)?;
                let draw = match impute {
                    Some(Some(_)) => Some(cond.draw_factors()),
                    _ => None,
                };
                for i in s..e {
                    let row = self.incomplete[i];
                    let x = self.incomplete_x.row(i);
                    let x = x.as_slice().expect("standard layout");
                    let mut res = cond.evaluate(x);
                    if let Some(seed) = impute {
                        res.filled = Some(cond.fill(x, &res, seed, row, draw.as_deref()));
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
    /// `E_k[x | x_o] − μ_k` per component (K×D): `x_o − μ_k,o` on the observed entries,
    /// `E_k[x_m | x_o] − μ_k,m` on the missing ones.
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

/// A model's constants in dense row-major form, computed once per pass.
///
/// The conditionals come from the precision `Λ = P Pᵀ` rather than from `Σ_oo`: with
/// `Λ_mm`, the block of the missing entries, `Σ_m|o = Λ_mm⁻¹`,
/// `E[x_m | x_o] − μ_m = −Λ_mm⁻¹ Λ_mo (x_o − μ_o)`, `ln det Σ_oo = ln det Σ + ln det Λ_mm`,
/// and the marginal's Mahalanobis distance is that of the completed row under the full
/// precision, `‖(x̂ − μ) P‖²` (the conditional mean minimises the quadratic form over
/// `x_m`). Only a `d_m × d_m` matrix is factored per pattern and component.
pub(crate) struct Dense {
    k: usize,
    d: usize,
    /// 1 for tied, K otherwise.
    distinct: usize,
    diagonal: bool,
    /// distinct × D × D precisions (full and tied).
    prec: Vec<f64>,
    /// distinct × D × D upper precision factors (full and tied).
    pchol: Vec<f64>,
    /// distinct: `Σ_i ln P_ii` (full and tied).
    log_det_p: Vec<f64>,
    /// K × D inverse variances (diag and spherical).
    inv_var: Vec<f64>,
    /// K × D.
    means: Vec<f64>,
    /// K: `ln π_k`.
    log_w: Vec<f64>,
}

impl Dense {
    pub(crate) fn new(model: &GmmModel) -> Self {
        let (k, d) = (model.n_components(), model.n_features());
        let means: Vec<f64> = model.means.iter().copied().collect();
        let log_w = model.weights.iter().map(|w| w.ln()).collect();
        let mut out = Dense {
            k,
            d,
            distinct: k,
            diagonal: false,
            prec: Vec::new(),
            pchol: Vec::new(),
            log_det_p: Vec::new(),
            inv_var: Vec::new(),
            means,
            log_w,
        };
        let dense_factor = |p: &[f64]| {
            let mut prec = vec![0.0; d * d];
            for i in 0..d {
                for j in 0..d {
                    prec[i * d + j] = (i.max(j)..d).map(|t| p[i * d + t] * p[j * d + t]).sum();
                }
            }
            let ld = (0..d).map(|i| p[i * d + i].ln()).sum::<f64>();
            (prec, ld)
        };
        match &model.precisions_cholesky {
            Covariances::Full(a) => {
                for c in 0..k {
                    let p: Vec<f64> = a.index_axis(Axis(0), c).iter().copied().collect();
                    let (prec, ld) = dense_factor(&p);
                    out.prec.extend(prec);
                    out.pchol.extend(p);
                    out.log_det_p.push(ld);
                }
            }
            Covariances::Tied(a) => {
                let p: Vec<f64> = a.iter().copied().collect();
                let (prec, ld) = dense_factor(&p);
                out.distinct = 1;
                out.prec = prec;
                out.pchol = p;
                out.log_det_p = vec![ld];
            }
            Covariances::Diag(a) => {
                out.diagonal = true;
                out.inv_var = a.iter().map(|p| p * p).collect();
            }
            Covariances::Spherical(a) => {
                out.diagonal = true;
                out.inv_var = (0..k * d).map(|i| a[i / d] * a[i / d]).collect();
            }
        }
        out
    }

    fn q(&self, c: usize) -> usize {
        if self.distinct == 1 {
            0
        } else {
            c
        }
    }
}

/// The conditionals of every component for one missingness pattern.
struct Conditional<'a> {
    dense: &'a Dense,
    o: &'a [usize],
    m: &'a [usize],
    /// `−Λ_mm⁻¹ Λ_mo`, distinct × d_m × d_o (full and tied).
    b: Vec<f64>,
    /// `Σ_m|o = Λ_mm⁻¹`, distinct × d_m × d_m (K × d_m × d_m for diagonal types).
    c: Vec<f64>,
    /// `ln π_k − ½ ln det Σ_k,oo − ½ d_o ln 2π`, K.
    offset: Vec<f64>,
}

impl<'a> Conditional<'a> {
    fn new(dense: &'a Dense, o: &'a [usize], m: &'a [usize]) -> Result<Self> {
        let (k, d) = (dense.k, dense.d);
        let (dob, dm) = (o.len(), m.len());
        let half_log_2pi = 0.5 * dob as f64 * (2.0 * std::f64::consts::PI).ln();
        if dense.diagonal {
            let mut c = vec![0.0; k * dm * dm];
            let mut offset = Vec::with_capacity(k);
            for q in 0..k {
                let iv = &dense.inv_var[q * d..(q + 1) * d];
                for (a, &i) in m.iter().enumerate() {
                    c[q * dm * dm + a * dm + a] = 1.0 / iv[i];
                }
                let half_log_det_prec: f64 = o.iter().map(|&i| 0.5 * iv[i].ln()).sum();
                offset.push(dense.log_w[q] + half_log_det_prec - half_log_2pi);
            }
            return Ok(Conditional {
                dense,
                o,
                m,
                b: Vec::new(),
                c,
                offset,
            });
        }
        let distinct = dense.distinct;
        let mut b = vec![0.0; distinct * dm * dob];
        let mut c = vec![0.0; distinct * dm * dm];
        let mut half_log_det_mm = vec![0.0; distinct];
        let mut l = vec![0.0; dm * dm];
        let mut col = vec![0.0; dm];
        for q in 0..distinct {
            let prec = &dense.prec[q * d * d..(q + 1) * d * d];
            for (a, &i) in m.iter().enumerate() {
                for (t, &j) in m.iter().enumerate() {
                    l[a * dm + t] = prec[i * d + j];
                }
            }
            crate::linalg::cholesky_lower(&mut l, dm).map_err(|_| {
                crate::covariance::ill_defined(
                    q,
                    0.0,
                    "its precision restricted to the missing features of some rows is not positive definite",
                )
            })?;
            half_log_det_mm[q] = (0..dm).map(|a| l[a * dm + a].ln()).sum();
            let bq = &mut b[q * dm * dob..(q + 1) * dm * dob];
            for (t, &j) in o.iter().enumerate() {
                for (a, &i) in m.iter().enumerate() {
                    col[a] = prec[i * d + j];
                }
                forward(&l, dm, &mut col);
                backward(&l, dm, &mut col);
                for a in 0..dm {
                    bq[a * dob + t] = -col[a];
                }
            }
            let cq = &mut c[q * dm * dm..(q + 1) * dm * dm];
            for t in 0..dm {
                col.fill(0.0);
                col[t] = 1.0;
                forward(&l, dm, &mut col);
                backward(&l, dm, &mut col);
                for a in 0..dm {
                    cq[a * dm + t] = col[a];
                }
            }
            // exactly symmetric
            for a in 0..dm {
                for t in 0..a {
                    let v = 0.5 * (cq[a * dm + t] + cq[t * dm + a]);
                    cq[a * dm + t] = v;
                    cq[t * dm + a] = v;
                }
            }
        }
        let offset = (0..k)
            .map(|c| {
                let q = dense.q(c);
                // −½ ln det Σ_oo = Σ ln P_ii − ½ ln det Λ_mm
                dense.log_w[c] + dense.log_det_p[q] - half_log_det_mm[q] - half_log_2pi
            })
            .collect();
        Ok(Conditional {
            dense,
            o,
            m,
            b,
            c,
            offset,
        })
    }

    /// Responsibilities, `ln p(x_o)` and the completed residuals of one row.
    fn evaluate(&self, x: &[f64]) -> RowResult {
        let (k, d) = (self.dense.k, self.dense.d);
        let mut resid = vec![0.0; k * d];
        let mut resp = vec![0.0; k];
        let mut t = vec![0.0; d];
        let ln = self.evaluate_into(x, &mut resp, &mut resid, &mut t);
        RowResult {
            row: 0,
            resp,
            ln,
            resid,
            filled: None,
        }
    }

    /// [`Conditional::evaluate`] into buffers (K, K×D, D); returns `ln p(x_o)`.
    fn evaluate_into(&self, x: &[f64], lp: &mut [f64], resid: &mut [f64], t: &mut [f64]) -> f64 {
        let dense = self.dense;
        let (k, d) = (dense.k, dense.d);
        let dob = self.o.len();
        for c in 0..k {
            let e = &mut resid[c * d..(c + 1) * d];
            let mu = &dense.means[c * d..(c + 1) * d];
            for &i in self.o {
                e[i] = x[i] - mu[i];
            }
            let maha = if dense.diagonal {
                let iv = &dense.inv_var[c * d..(c + 1) * d];
                for &i in self.m {
                    e[i] = 0.0;
                }
                self.o.iter().map(|&i| e[i] * e[i] * iv[i]).sum::<f64>()
            } else {
                let q = dense.q(c);
                let bq = &self.b[q * self.m.len() * dob..(q + 1) * self.m.len() * dob];
                for (a, &i) in self.m.iter().enumerate() {
                    let row = &bq[a * dob..(a + 1) * dob];
                    e[i] = row.iter().zip(self.o).map(|(b, &j)| b * e[j]).sum();
                }
                // ‖e P‖² with P upper triangular
                let p = &dense.pchol[q * d * d..(q + 1) * d * d];
                t.fill(0.0);
                for i in 0..d {
                    let ei = e[i];
                    for (tj, pij) in t[i..].iter_mut().zip(&p[i * d + i..(i + 1) * d]) {
                        *tj += ei * pij;
                    }
                }
                t.iter().map(|v| v * v).sum::<f64>()
            };
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

    fn cq(&self, c: usize) -> &[f64] {
        let dm = self.m.len();
        let q = if self.dense.diagonal {
            c
        } else {
            self.dense.q(c)
        };
        &self.c[q * dm * dm..(q + 1) * dm * dm]
    }

    /// Adds the expected statistics of a block of rows of this pattern.
    fn accumulate(
        &self,
        x: ArrayView2<f64>,
        w: Option<ArrayView1<f64>>,
        part: &mut SufficientStatistics,
    ) {
        let (k, d) = (self.dense.k, self.dense.d);
        let dm = self.m.len();
        // the shift is the model's means (statistics from `zeros_for`), so the completed
        // residuals are the centred rows; otherwise add the difference
        let delta: Vec<f64> = (0..k * d)
            .map(|i| self.dense.means[i] - part.shift[[i / d, i % d]])
            .collect();
        let shifted = delta.iter().any(|v| *v != 0.0);
        let mut gsum = vec![0.0; k];
        let mut diff = vec![0.0; d];
        let mut resp = vec![0.0; k];
        let mut resid = vec![0.0; k * d];
        let mut t = vec![0.0; d];
        let nk = part.nk.as_slice_mut().expect("standard layout");
        let s1 = part.s1.as_slice_mut().expect("standard layout");
        let (s2, per_component, diagonal) = match &mut part.s2 {
            SecondMoments::Full(a) => (a.as_slice_mut().expect("standard layout"), true, false),
            SecondMoments::Tied(a) => (a.as_slice_mut().expect("standard layout"), false, false),
            SecondMoments::Diag(a) => (a.as_slice_mut().expect("standard layout"), true, true),
        };
        for (n, row) in x.rows().into_iter().enumerate() {
            let row = row.as_slice().expect("standard layout");
            let wn = w.map_or(1.0, |w| w[n]);
            let ln = self.evaluate_into(row, &mut resp, &mut resid, &mut t);
            part.weight_sum += wn;
            part.n_samples += 1;
            if wn != 0.0 {
                part.log_likelihood += wn * ln;
            }
            for c in 0..k {
                let g = wn * resp[c];
                nk[c] += g;
                if g == 0.0 {
                    continue;
                }
                gsum[c] += g;
                let e = &resid[c * d..(c + 1) * d];
                let v: &[f64] = if shifted {
                    for i in 0..d {
                        diff[i] = e[i] + delta[c * d + i];
                    }
                    &diff
                } else {
                    e
                };
                for (s, vi) in s1[c * d..(c + 1) * d].iter_mut().zip(v) {
                    *s += g * vi;
                }
                if diagonal {
                    for (s, vi) in s2[c * d..(c + 1) * d].iter_mut().zip(v) {
                        *s += g * vi * vi;
                    }
                } else {
                    let base = if per_component { c * d * d } else { 0 };
                    lower_outer(&mut s2[base..base + d * d], v, g, d);
                }
            }
        }
        // the conditional covariances, once per component for the block
        for c in 0..k {
            if gsum[c] == 0.0 {
                continue;
            }
            let cq = self.cq(c);
            for (a, &i) in self.m.iter().enumerate() {
                if diagonal {
                    s2[c * d + i] += gsum[c] * cq[a * dm + a];
                    continue;
                }
                let base = if per_component { c * d * d } else { 0 };
                for (bb, &j) in self.m[..=a].iter().enumerate() {
                    s2[base + i * d + j] += gsum[c] * cq[a * dm + bb];
                }
            }
        }
    }

    /// Lower Cholesky factors of the conditional covariances (for draws), one per
    /// component, K × d_m × d_m.
    fn draw_factors(&self) -> Vec<f64> {
        let dm = self.m.len();
        let mut f = Vec::with_capacity(self.dense.k * dm * dm);
        for c in 0..self.dense.k {
            let cq = self.cq(c);
            let mut fq = cq.to_vec();
            if crate::linalg::cholesky_lower(&mut fq, dm).is_err() {
                // a conditional covariance at the rounding floor: draw from its diagonal
                for a in 0..dm {
                    for bb in 0..dm {
                        let v = cq[a * dm + bb];
                        fq[a * dm + bb] = if a == bb { v.max(0.0).sqrt() } else { 0.0 };
                    }
                }
            }
            f.extend(fq);
        }
        f
    }

    /// The row with its missing entries filled: the conditional expectation under the
    /// mixture (`seed` `None`), or a draw from the conditional mixture.
    fn fill(
        &self,
        x: &[f64],
        res: &RowResult,
        seed: Option<u64>,
        row: usize,
        factors: Option<&[f64]>,
    ) -> Vec<f64> {
        let (k, d) = (self.dense.k, self.dense.d);
        let dm = self.m.len();
        let mut out: Vec<f64> = x.to_vec();
        let mean = |c: usize, i: usize| self.dense.means[c * d + i] + res.resid[c * d + i];
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
                let z: Vec<f64> = (0..dm).map(|_| rng.sample(StandardNormal)).collect();
                let fq = &f[c * dm * dm..(c + 1) * dm * dm];
                for (a, &i) in self.m.iter().enumerate() {
                    let noise: f64 = (0..=a).map(|t| fq[a * dm + t] * z[t]).sum();
                    out[i] = mean(c, i) + noise;
                }
            }
            _ => {
                for &i in self.m {
                    out[i] = (0..k)
                        .filter(|&c| res.resp[c] != 0.0)
                        .map(|c| res.resp[c] * mean(c, i))
                        .sum();
                }
            }
        }
        out
    }
}

/// The mixture's marginal on the features `o`: the same weights, `μ_k,o` and `Σ_k,oo`.
fn marginal_model(model: &GmmModel, o: &[usize]) -> Result<GmmModel> {
    let k = model.n_components();
    let dob = o.len();
    let means = model.means.select(Axis(1), o);
    let cov = match &model.covariances {
        Covariances::Full(a) => Covariances::Full(ndarray::Array3::from_shape_fn(
            (k, dob, dob),
            |(c, i, j)| a[[c, o[i], o[j]]],
        )),
        Covariances::Tied(a) => {
            Covariances::Tied(Array2::from_shape_fn((dob, dob), |(i, j)| a[[o[i], o[j]]]))
        }
        Covariances::Diag(a) => Covariances::Diag(a.select(Axis(1), o)),
        Covariances::Spherical(a) => Covariances::Spherical(a.clone()),
    };
    let factor = cov.precision_cholesky(0.0)?;
    GmmModel::from_parts_unchecked(model.weights.clone(), means, cov, factor)
}

impl Conditional<'_> {
    /// Adds to `out` (statistics about the model's means, D features) the statistics of
    /// a group whose marginal E-step gave `st` (about `μ_k,o`): with `e_m = B e_o`,
    /// `Σγ e_m = B Σγ e_o`, `Σγ e_m e_oᵀ = B S_oo` and `Σγ e_m e_mᵀ = B S_oo Bᵀ + N_k Σ_m|o`.
    fn lift(&self, st: &SufficientStatistics, out: &mut SufficientStatistics) {
        let (k, d) = (self.dense.k, self.dense.d);
        let (o, m) = (self.o, self.m);
        let (dob, dm) = (o.len(), m.len());
        out.nk += &st.nk;
        out.log_likelihood += st.log_likelihood;
        out.weight_sum += st.weight_sum;
        out.n_samples = out.n_samples.saturating_add(st.n_samples);
        let bq = |c: usize| {
            let q = self.dense.q(c);
            &self.b[q * dm * dob..(q + 1) * dm * dob]
        };
        for c in 0..k {
            let s1o = st.s1.row(c);
            for (a, &i) in o.iter().enumerate() {
                out.s1[[c, i]] += s1o[a];
            }
            if !self.dense.diagonal {
                let b = bq(c);
                for (a, &i) in m.iter().enumerate() {
                    out.s1[[c, i]] += (0..dob).map(|t| b[a * dob + t] * s1o[t]).sum::<f64>();
                }
            }
        }
        // adds the symmetric block matrix [S, (BS)ᵀ; BS, BSBᵀ + n C] to a lower triangle
        let add_block = |s2: &mut [f64], s: &[f64], b: &[f64], n: f64, cq: &[f64]| {
            let mut bs = vec![0.0; dm * dob];
            for a in 0..dm {
                for t in 0..dob {
                    bs[a * dob + t] = (0..dob).map(|u| b[a * dob + u] * s[u * dob + t]).sum();
                }
            }
            let mut lower = |i: usize, j: usize, v: f64| {
                if i >= j {
                    s2[i * d + j] += v;
                }
            };
            for (a, &i) in o.iter().enumerate() {
                for (t, &j) in o.iter().enumerate() {
                    lower(i, j, s[a * dob + t]);
                }
            }
            for (a, &i) in m.iter().enumerate() {
                for (t, &j) in o.iter().enumerate() {
                    lower(i, j, bs[a * dob + t]);
                    lower(j, i, bs[a * dob + t]);
                }
                for (t, &j) in m.iter().enumerate() {
                    let v: f64 = (0..dob).map(|u| bs[a * dob + u] * b[t * dob + u]).sum();
                    lower(i, j, v + n * cq[a * dm + t]);
                }
            }
        };
        let sym = |lower: &[f64]| {
            let mut s = lower.to_vec();
            for i in 0..dob {
                for j in 0..i {
                    s[j * dob + i] = s[i * dob + j];
                }
            }
            s
        };
        match (&st.s2, &mut out.s2) {
            (SecondMoments::Full(a), SecondMoments::Full(z)) => {
                for c in 0..k {
                    let s = sym(a
                        .index_axis(Axis(0), c)
                        .as_slice()
                        .expect("standard layout"));
                    let mut zc = z.index_axis_mut(Axis(0), c);
                    let zc = zc.as_slice_mut().expect("standard layout");
                    add_block(zc, &s, bq(c), st.nk[c], self.cq(c));
                }
            }
            (SecondMoments::Tied(a), SecondMoments::Tied(z)) => {
                let s = sym(a.as_slice().expect("standard layout"));
                let n: f64 = st.nk.sum();
                add_block(
                    z.as_slice_mut().expect("standard layout"),
                    &s,
                    bq(0),
                    n,
                    self.cq(0),
                );
            }
            (SecondMoments::Diag(a), SecondMoments::Diag(z)) => {
                for c in 0..k {
                    for (t, &i) in o.iter().enumerate() {
                        z[[c, i]] += a[[c, t]];
                    }
                    let cq = self.cq(c);
                    for (t, &i) in m.iter().enumerate() {
                        z[[c, i]] += st.nk[c] * cq[t * dm + t];
                    }
                }
            }
            _ => unreachable!("the marginal has the model's storage"),
        }
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
