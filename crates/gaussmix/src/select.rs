//! Model selection: fit every (K, covariance family) cell, score it by an information
//! criterion, keep the best model that is not degenerate.
//!
//! For a model with log-likelihood ln L on N rows (Σw with weights) and p free parameters
//! (mclust's counts), lower is better:
//!
//! | criterion | value |
//! |---|---|
//! | BIC | −2 ln L + p ln N (mclust's BIC with the opposite sign) |
//! | AIC | −2 ln L + 2p |
//! | ICL | BIC − 2 Σ_n ln γ_{n,ĉ(n)}, ĉ(n) the most responsible component (mclust's `icl`: BIC plus twice the entropy of the hard classification) |
//! | ICL (soft) | BIC + 2 Σ_n Σ_k −γ_nk ln γ_nk (the entropy of the responsibilities) |
//!
//! **Starts.** EM finds a local optimum; which one depends on the start, and a poor start
//! changes the choice. Every cell is started, by default, from mclust's model-based
//! hierarchical agglomeration on SVD-scaled data ([`InitMethod::Hc`], one merge tree shared
//! by all cells, mclust's tree to the order of merges of equal cost) and from
//! `n_kmeans_starts` k-means runs on the standardised data (k-means++ seeds, distinct seeds).
//! Rounded data (Old Faithful) give merges of exactly equal cost, whose order is arbitrary and
//! changes the tree; there a second tree, which takes such merges in the order of their rows,
//! gives one more start (`hc-ties`): on faithful each order finds the better optimum in some
//! cells. The starts compete on at most [`crate::HC_MAX_ROWS`] rows (a
//! seeded uniform subset of larger data, the rows the agglomeration also uses), each running
//! EM to `start_tol`; the best start whose model is not degenerate then continues on all
//! rows under the tolerance rule.
//!
//! **Tolerance rule.** The refinement stops when an iteration changes the *total*
//! log-likelihood by less than `total_tol` (default 1e-5), i.e. the mean per row by
//! `total_tol / N`: every criterion then moves by less than `2·total_tol` per iteration,
//! far below the differences that decide a choice, whatever N. scikit-learn's fixed 1e-3 on
//! the mean moves the BIC of 272 rows by up to 0.5 per iteration and stops EM early enough
//! to change the choice on Old Faithful. EM stops earlier only at `max_iter` (default 2,000),
//! which the cell reports as not converged. Every cell is first refined to a screening
//! tolerance, `screen_tol` (0.1) or mclust's own rule (a change below 1e-5 of the total
//! log-likelihood) where that is looser; the cells whose criterion is within reach of the
//! best then continue to `total_tol` (not the degenerate ones, which cannot be chosen).
//!
//! **Cells that cannot win.** When the starts ran on a subset of n of the N rows (larger
//! data), a cell's best start is a fit to the subset, and its mean log-likelihood per row
//! there, m̂, is an optimistic estimate of what EM on all rows can reach (a fit scores better
//! on the rows it was fitted to). Its bound is the criterion of the total log-likelihood
//! `N·(m̂ + 8·s·√(1/n − 1/N))`, s the spread of the per-row log-likelihoods on the subset:
//! eight standard errors of the subset's mean above the estimate. The cells whose bound is
//! within 10 (the finalist margin) of the best estimate are refined on all rows first; each other
//! cell is refined only if its bound reaches the best value those refinements found, and
//! otherwise keeps its start, scored on all rows and reported as not converged with no
//! iterations (it cannot be chosen: its criterion is far above the best). On data that
//! fit in the subset every cell is refined.
//!
//! **Speed.** All EM runs are SQUAREM-accelerated ([`GaussianMixture::accelerate`]: same
//! fixed points, far fewer E-steps); the start partitions of a K are computed once and
//! shared by the families, and a start that repeats an earlier partition runs once.
//!
//! **Degenerate cells** (see [`crate::degenerate`]) are reported with the reason and never
//! chosen; cells that cannot be estimated (more parameters than rows, a family that is
//! undefined in one dimension, more components than rows) are skipped with the reason; a
//! fit that fails is reported as failed.
//!
//! Cells are fitted in parallel on the current rayon pool; every fit is seeded and the
//! library's reductions run in a fixed order, so the table and the choice do not depend on
//! the number of threads.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use ndarray::{ArrayView1, ArrayView2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::covariance::CovarianceType;
use crate::degenerate::{degenerate_components, DegeneratePolicy};
use crate::em::{GaussianMixture, HcTree, InitMethod, InitScaling, PriorChoice};
use crate::error::{GmmError, Result};
use crate::float::Float;
use crate::hc::Ties;
use crate::model::GmmModel;
use crate::par::Parallelism;
use crate::summary::DataSummary;

/// Cells whose screened criterion is within this of the best (plus twenty times what
/// EM's extrapolated remaining gain could still bring) are refined to the tight tolerance.
const FINALIST_MARGIN: f64 = 10.0;

/// The screening refinement stops, at the latest, when an iteration changes the total
/// log-likelihood by less than this fraction of it (mclust's `tol`, its rule for every
/// cell); the finalists then continue to `total_tol`.
const SCREEN_REL_TOL: f64 = 1e-5;

/// How many standard errors of the subset's mean log-likelihood the optimistic bound of
/// a cell adds (module docs, *Cells that cannot win*).
const SCREEN_SIGMAS: f64 = 8.0;

/// Inner M-step tolerance (VEI, VEE, VEV, EVE, VVE) while the cells are screened; the
/// finalists use mclust's `√ε`.
const SCREEN_INNER_TOL: f64 = 1e-5;

/// An information criterion (lower is better).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Criterion {
    /// Bayesian information criterion, −2 ln L + p ln N.
    #[default]
    Bic,
    /// Akaike information criterion, −2 ln L + 2p.
    Aic,
    /// mclust's integrated completed likelihood: BIC plus twice the entropy of the hard
    /// classification.
    Icl,
    /// BIC plus twice the entropy of the responsibilities.
    IclSoft,
}

impl Criterion {
    /// Short name for tables (`BIC`, `AIC`, `ICL`, `ICL-soft`).
    pub fn name(self) -> &'static str {
        match self {
            Criterion::Bic => "BIC",
            Criterion::Aic => "AIC",
            Criterion::Icl => "ICL",
            Criterion::IclSoft => "ICL-soft",
        }
    }
}

impl std::str::FromStr for Criterion {
    type Err = GmmError;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().replace('_', "-").as_str() {
            "bic" => Ok(Criterion::Bic),
            "aic" => Ok(Criterion::Aic),
            "icl" => Ok(Criterion::Icl),
            "icl-soft" => Ok(Criterion::IclSoft),
            _ => Err(GmmError::InvalidParam {
                name: "criterion",
                value: s.to_string(),
                reason: "must be one of bic, aic, icl, icl-soft".into(),
            }),
        }
    }
}

/// The scores of a fitted cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// Total log-likelihood ln L of the data under the final parameters.
    pub log_likelihood: f64,
    /// Free parameters p.
    pub n_parameters: usize,
    /// −2 ln L + p ln N.
    pub bic: f64,
    /// −2 ln L + 2p.
    pub aic: f64,
    /// mclust's ICL (hard classification entropy).
    pub icl: f64,
    /// ICL with the soft entropy.
    pub icl_soft: f64,
    /// Whether EM converged to `tol` before `max_iter` (false, too, for a cell that kept
    /// its start from the subset: module docs, *Cells that cannot win*).
    pub converged: bool,
    /// EM iterations of the refinement (0 for a cell that kept its start).
    pub n_iter: usize,
    /// Which start won (`hc`, `kmeans-std #2`, ...).
    pub start: String,
}

/// The note of a cell that [kept its start](Scores::kept_start), for tables.
pub const KEPT_START_NOTE: &str =
    "start kept: its optimistic bound cannot reach the best (scored on all rows, not refined)";

impl Scores {
    /// Whether the cell kept its start from the row subset instead of a refinement on all
    /// rows (module docs, *Cells that cannot win*): its criterion is an upper estimate of
    /// what a refinement would give, and it cannot be chosen.
    pub fn kept_start(&self) -> bool {
        !self.converged && self.n_iter == 0
    }

    /// The value of a criterion.
    pub fn get(&self, c: Criterion) -> f64 {
        match c {
            Criterion::Bic => self.bic,
            Criterion::Aic => self.aic,
            Criterion::Icl => self.icl,
            Criterion::IclSoft => self.icl_soft,
        }
    }
}

/// What happened to a cell.
#[derive(Debug, Clone, PartialEq)]
pub enum CellOutcome {
    /// Fitted; a candidate for the choice.
    Fitted(Scores),
    /// Fitted, but a component is degenerate: reported, never chosen.
    Degenerate {
        /// The scores of the fit.
        scores: Scores,
        /// Which component and why.
        reason: String,
    },
    /// Not attempted (the model cannot be estimated from these data).
    Skipped(String),
    /// Every start failed; the first error.
    Failed(String),
}

impl CellOutcome {
    /// A cell whose fit was interrupted.
    fn interrupted() -> CellOutcome {
        CellOutcome::Failed("interrupted".into())
    }
}

/// One (K, family) cell of a selection.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// Number of components.
    pub k: usize,
    /// Covariance family.
    pub covariance_type: CovarianceType,
    /// The outcome.
    pub outcome: CellOutcome,
}

impl Cell {
    fn new(k: usize, covariance_type: CovarianceType, outcome: CellOutcome) -> Cell {
        Cell {
            k,
            covariance_type,
            outcome,
        }
    }

    /// The scores, fitted or degenerate.
    pub fn scores(&self) -> Option<&Scores> {
        match &self.outcome {
            CellOutcome::Fitted(s) | CellOutcome::Degenerate { scores: s, .. } => Some(s),
            _ => None,
        }
    }
}

/// The result of a selection: every cell, and the chosen model.
#[derive(Debug, Clone)]
pub struct SelectionResult {
    /// Cells in the order families × K (families outer, as given).
    pub cells: Vec<Cell>,
    /// Index of the chosen cell in `cells`, if any cell was fitted without degeneracy.
    pub best: Option<usize>,
    /// The chosen cell's model.
    pub model: Option<GmmModel>,
    /// The criterion the choice minimised.
    pub criterion: Criterion,
}

/// A selection over K and covariance families, with the defaults described in the
/// module docs.
///
/// ```
/// use gaussmix::select::Selection;
/// use gaussmix::CovarianceType;
/// use ndarray::Array2;
/// let x = Array2::from_shape_fn((120, 2), |(i, j)| ((i % 2) * 8) as f64 + ((i * 7 + j * 3) % 11) as f64 * 0.1);
/// let result = Selection::new(1..=3)
///     .covariance_types(&[CovarianceType::Full, CovarianceType::EII])
///     .run(x.view())?;
/// assert_eq!(result.cells.len(), 6);
/// assert!(result.model.is_some());
/// # Ok::<(), gaussmix::GmmError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Selection {
    ks: Vec<usize>,
    families: Vec<CovarianceType>,
    criterion: Criterion,
    hc_start: bool,
    n_kmeans_starts: usize,
    start_tol: f64,
    start_max_iter: usize,
    screen_tol: f64,
    total_tol: f64,
    max_iter: usize,
    reg_covar: f64,
    prior: Option<PriorChoice>,
    noise: bool,
    equal_weights: bool,
    seed: u64,
    accelerate: bool,
    parallelism: Parallelism,
    interrupt: Option<Arc<AtomicBool>>,
}

impl Selection {
    /// Whether the caller's interrupt flag is set.
    fn stopped(&self) -> bool {
        self.interrupt
            .as_ref()
            .is_some_and(|f| f.load(Ordering::Relaxed))
    }

    /// A selection over the given numbers of components and all fourteen families.
    pub fn new(ks: impl IntoIterator<Item = usize>) -> Self {
        let mut ks: Vec<usize> = ks.into_iter().collect();
        ks.sort_unstable();
        ks.dedup();
        Selection {
            ks,
            families: CovarianceType::ALL.to_vec(),
            criterion: Criterion::Bic,
            hc_start: true,
            n_kmeans_starts: 3,
            start_tol: 1e-4,
            start_max_iter: 500,
            screen_tol: 0.1,
            total_tol: 1e-5,
            max_iter: 2000,
            reg_covar: 1e-6,
            prior: None,
            noise: false,
            equal_weights: false,
            seed: 0,
            accelerate: true,
            parallelism: Parallelism::Rayon,
            interrupt: None,
        }
    }

    /// The families to try (default: all fourteen).
    pub fn covariance_types(mut self, families: &[CovarianceType]) -> Self {
        self.families = families.to_vec();
        self
    }
    /// The criterion to minimise (default BIC).
    pub fn criterion(mut self, c: Criterion) -> Self {
        self.criterion = c;
        self
    }
    /// Whether to start from the hierarchical agglomeration (default yes).
    pub fn hc_start(mut self, on: bool) -> Self {
        self.hc_start = on;
        self
    }
    /// How many k-means starts on the standardised data (default 3).
    pub fn kmeans_starts(mut self, n: usize) -> Self {
        self.n_kmeans_starts = n;
        self
    }
    /// Tolerance of each start (default 1e-5) and its iteration cap (default 500).
    pub fn start_tol(mut self, tol: f64, max_iter: usize) -> Self {
        self.start_tol = tol;
        self.start_max_iter = max_iter;
        self
    }
    /// Tolerance of the refinement of the best start on the change of the total
    /// log-likelihood per iteration (default 1e-5; see the module docs).
    pub fn total_tol(mut self, tol: f64) -> Self {
        self.total_tol = tol;
        self
    }
    /// Iteration cap of the refinement (default 2000).
    pub fn max_iter(mut self, n: usize) -> Self {
        self.max_iter = n;
        self
    }
    /// Added to covariance diagonals (default 1e-6).
    pub fn reg_covar(mut self, r: f64) -> Self {
        self.reg_covar = r;
        self
    }
    /// A conjugate prior for every fit.
    pub fn prior(mut self, p: Option<PriorChoice>) -> Self {
        self.prior = p;
        self
    }
    /// A uniform noise component in every model.
    pub fn noise(mut self, on: bool) -> Self {
        self.noise = on;
        self
    }
    /// Equal mixing proportions in every model.
    pub fn equal_weights(mut self, on: bool) -> Self {
        self.equal_weights = on;
        self
    }
    /// Seed of every random choice.
    pub fn seed(mut self, s: u64) -> Self {
        self.seed = s;
        self
    }
    /// SQUAREM acceleration of every EM run (default on; see
    /// [`GaussianMixture::accelerate`]). Off: plain EM, as before.
    pub fn accelerate(mut self, on: bool) -> Self {
        self.accelerate = on;
        self
    }
    /// How the fits use threads.
    pub fn parallelism(mut self, p: Parallelism) -> Self {
        self.parallelism = p;
        self
    }
    /// A flag that stops the selection (its fits return [`GmmError::Interrupted`]).
    pub fn interrupt(mut self, flag: Arc<AtomicBool>) -> Self {
        self.interrupt = Some(flag);
        self
    }

    /// The estimator of one start of a cell (screening: looser inner M-step iterations).
    fn estimator(&self, k: usize, ct: CovarianceType) -> GaussianMixture {
        self.estimator_final(k, ct).inner_tol(SCREEN_INNER_TOL)
    }

    /// The estimator of a finalist's refinement (mclust's inner tolerance).
    fn estimator_final(&self, k: usize, ct: CovarianceType) -> GaussianMixture {
        let mut g = GaussianMixture::new(k)
            .covariance_type(ct)
            .reg_covar(self.reg_covar)
            .tol(self.start_tol)
            .max_iter(self.start_max_iter)
            .noise(self.noise)
            .equal_weights(self.equal_weights)
            .degenerate(DegeneratePolicy::Keep)
            .accelerate(self.accelerate)
            .parallelism(self.parallelism)
            .seed(self.seed);
        if let Some(p) = &self.prior {
            g = g.prior(p.clone());
        }
        if let Some(f) = &self.interrupt {
            g = g.interrupt(f.clone());
        }
        g
    }

    /// Fits every cell on the rows of `x`.
    ///
    /// # Errors
    /// [`GmmError::InvalidParam`] for an empty list of K or families or bad tolerances;
    /// the data errors of [`GaussianMixture::fit`]; [`GmmError::Interrupted`].
    pub fn run<T: Float>(&self, x: ArrayView2<T>) -> Result<SelectionResult> {
        self.run_weighted(x, None, &|_| {})
    }

    /// [`Selection::run`] with optional row weights, calling `on_cell` as each cell
    /// finishes (from the worker threads; for progress bars).
    ///
    /// # Errors
    /// As [`Selection::run`].
    pub fn run_weighted<T: Float>(
        &self,
        x: ArrayView2<T>,
        weights: Option<ArrayView1<f64>>,
        on_cell: &(dyn Fn(&Cell) + Sync),
    ) -> Result<SelectionResult> {
        if self.ks.is_empty() || self.ks.contains(&0) {
            return Err(GmmError::InvalidParam {
                name: "n_components",
                value: format!("{:?}", self.ks),
                reason: "must be a non-empty list of positive numbers".into(),
            });
        }
        if self.families.is_empty() {
            return Err(GmmError::InvalidParam {
                name: "covariance_types",
                value: "[]".into(),
                reason: "must name at least one family".into(),
            });
        }
        if !self.hc_start && self.n_kmeans_starts == 0 {
            return Err(GmmError::InvalidParam {
                name: "starts",
                value: "0".into(),
                reason: "at least one start (hc or k-means) is needed".into(),
            });
        }
        if !(self.total_tol >= 0.0 && self.total_tol.is_finite()) {
            return Err(GmmError::InvalidParam {
                name: "total_tol",
                value: self.total_tol.to_string(),
                reason: "must be a finite number ≥ 0".into(),
            });
        }
        self.estimator(1, CovarianceType::Full).validate()?;
        crate::validate::check_nonempty(x)?;
        crate::validate::check_finite(x, 0)?;
        if let Some(w) = weights {
            crate::validate::check_weights(w, x.nrows())?;
        }
        let (n, d) = x.dim();
        let n_pos = weights.map_or(n, |w| w.iter().filter(|v| **v > 0.0).count());
        let summary = DataSummary::of(x, weights, self.parallelism);
        let data_var = summary.variances();
        let ids = crate::degenerate::value_ids(x);
        let wsum = summary.weight_sum;
        // the rows the starts compete on
        let rows = crate::em::subset_rows(n, weights, self.seed);
        let (xs, ws) = if rows.len() < n {
            let xs = x.select(ndarray::Axis(0), &rows).mapv(T::to_f64);
            let ws = weights.map(|w| w.select(ndarray::Axis(0), &rows));
            (Some(xs), ws)
        } else {
            (None, None)
        };
        let sub = Subset {
            x: xs.as_ref().map(|a| a.view()),
            w: ws.as_ref().map(|w| w.view()),
        };
        // mclust's tree, and where the data have merges of equal cost (rounded values) the
        // tree that takes them in the other order too: either can give the better start
        let build = |ties| match sub.x {
            Some(xs) => HcTree::build_ties(xs, sub.w, self.seed, ties),
            None => HcTree::build_ties(x, weights, self.seed, ties),
        };
        let mut trees: Vec<Arc<HcTree>> = Vec::new();
        if self.hc_start {
            let mclust = build(Ties::Mclust);
            let tied = mclust.tied();
            trees.push(Arc::new(mclust));
            if tied {
                trees.push(Arc::new(build(Ties::FirstRows)));
            }
        }
        // the start partitions of each K, shared by the families; a partition that repeats
        // an earlier one (k-means landing on the hc cut, or on another seed's) is one start
        let start_sets: Vec<(usize, Vec<Start>)> = self
            .ks
            .par_iter()
            .filter(|&&k| k <= n_pos)
            .map(|&k| (k, self.start_partitions(x, weights, &sub, k, &trees)))
            .collect();
        let cells: Vec<(usize, CovarianceType)> = self
            .families
            .iter()
            .flat_map(|&f| self.ks.iter().map(move |&k| (k, f)))
            .collect();
        let fitted = self.start_and_screen(
            x,
            weights,
            &sub,
            &cells,
            &start_sets,
            n_pos,
            d,
            &data_var,
            &ids,
            wsum,
            on_cell,
        );
        if self.stopped() {
            return Err(GmmError::Interrupted);
        }
        // the cells that can still win continue to the tight tolerance
        let screened = |f: &[(Cell, Option<GmmModel>)]| -> Option<f64> {
            f.iter()
                .filter_map(|(c, _)| match &c.outcome {
                    CellOutcome::Fitted(s) => Some(s.get(self.criterion)),
                    _ => None,
                })
                .filter(|v| v.is_finite())
                .reduce(f64::min)
        };
        let fitted: Vec<(Cell, Option<GmmModel>)> = match screened(&fitted) {
            None => fitted,
            Some(b) => fitted
                .into_par_iter()
                .map(|(cell, model)| {
                    let Some(m) = model else {
                        return (cell, None);
                    };
                    // a degenerate cell cannot be chosen: the tight tolerance would only
                    // follow its collapse (up to `max_iter` slow iterations on rounded data)
                    if !matches!(cell.outcome, CellOutcome::Fitted(_)) {
                        return (cell, Some(m));
                    }
                    let v = cell
                        .scores()
                        .map_or(f64::INFINITY, |s| s.get(self.criterion));
                    let slack = FINALIST_MARGIN + 20.0 * remaining_gain(&m, wsum);
                    let converged = cell.scores().is_some_and(|s| s.converged);
                    if v - b > slack || (!converged && v - b > FINALIST_MARGIN * 10.0) {
                        return (cell, Some(m));
                    }
                    let start = cell.scores().map_or_else(String::new, |s| s.start.clone());
                    self.refine(
                        cell.k,
                        cell.covariance_type,
                        m,
                        &start,
                        x,
                        weights,
                        self.total_tol,
                        &data_var,
                        &ids,
                        wsum,
                    )
                })
                .collect(),
        };
        let mut best: Option<(usize, f64)> = None;
        for (i, (cell, _)) in fitted.iter().enumerate() {
            if let CellOutcome::Fitted(s) = &cell.outcome {
                let v = s.get(self.criterion);
                if v.is_finite() && best.is_none_or(|(_, b)| v < b) {
                    best = Some((i, v));
                }
            }
        }
        let best = best.map(|(i, _)| i);
        let mut cells_out = Vec::with_capacity(fitted.len());
        let mut model = None;
        for (i, (cell, m)) in fitted.into_iter().enumerate() {
            if Some(i) == best {
                model = m;
            }
            cells_out.push(cell);
        }
        Ok(SelectionResult {
            cells: cells_out,
            best,
            model,
            criterion: self.criterion,
        })
    }

    /// Every cell's starts, then the screening refinement on all rows of the cells that
    /// can win (see the module docs, *Cells that cannot win*), in three parallel passes
    /// whose choices depend only on the values of the cells, not on the thread count.
    #[allow(clippy::too_many_arguments)]
    fn start_and_screen<T: Float>(
        &self,
        x: ArrayView2<T>,
        weights: Option<ArrayView1<f64>>,
        sub: &Subset<'_>,
        cells: &[(usize, CovarianceType)],
        start_sets: &[(usize, Vec<Start>)],
        n_pos: usize,
        d: usize,
        data_var: &[f64],
        ids: &[Option<(Vec<u32>, usize)>],
        wsum: f64,
        on_cell: &(dyn Fn(&Cell) + Sync),
    ) -> Vec<(Cell, Option<GmmModel>)> {
        let started: Vec<Started> = cells
            .par_iter()
            .map(|&(k, ct)| {
                if self.stopped() {
                    return Started::Done(Cell::new(k, ct, CellOutcome::interrupted()), None);
                }
                let starts = start_sets
                    .iter()
                    .find(|(kk, _)| *kk == k)
                    .map_or(&[][..], |(_, s)| &s[..]);
                self.start_cell(x, weights, sub, k, ct, n_pos, d, starts, data_var, wsum)
            })
            .collect();
        // which cells are refined on all rows now: all of them, unless the starts ran on
        // a subset; then those whose optimistic criterion is within reach of the best
        // estimate
        let bounds: Vec<Option<(f64, f64)>> = match sub.x {
            None => vec![None; started.len()],
            Some(xs) => started
                .par_iter()
                .map(|s| match s {
                    Started::Pending { model, .. } => self.optimistic_bound(model, xs, sub.w, wsum),
                    Started::Done(..) => None,
                })
                .collect(),
        };
        let estimate = bounds
            .iter()
            .zip(&started)
            .filter_map(|(b, s)| match s {
                Started::Pending { sound: true, .. } => b.map(|(_, e)| e),
                _ => None,
            })
            .reduce(f64::min);
        let within = |bound: Option<(f64, f64)>, best: Option<f64>| match (bound, best) {
            (Some((lower, _)), Some(b)) => lower <= b + FINALIST_MARGIN,
            _ => true,
        };
        let screen = |s: Started| -> (Cell, Option<GmmModel>) {
            let out = match s {
                Started::Done(c, m) => (c, m),
                Started::Pending {
                    k, ct, model, name, ..
                } => {
                    if self.stopped() {
                        (Cell::new(k, ct, CellOutcome::interrupted()), None)
                    } else {
                        // mclust's own convergence rule (relative change 1e-5) where it
                        // is looser than `screen_tol`: on large data a cell that cannot
                        // win need not be tighter than that
                        let ll = (model.info().lower_bound * wsum).abs();
                        let tol = self.screen_tol.max(SCREEN_REL_TOL * (1.0 + ll));
                        self.refine(k, ct, model, &name, x, weights, tol, data_var, ids, wsum)
                    }
                }
            };
            on_cell(&out.0);
            out
        };
        // pass 1: the cells within reach of the best estimate
        let (first, rest): (Vec<_>, Vec<_>) = started
            .into_iter()
            .zip(bounds)
            .enumerate()
            .partition(|(_, (_, b))| within(*b, estimate));
        let mut out: Vec<(usize, (Cell, Option<GmmModel>))> = first
            .into_par_iter()
            .map(|(i, (s, _))| (i, screen(s)))
            .collect();
        // pass 2: the others, against the best refined value; a cell whose optimistic
        // bound cannot reach it keeps its start, scored on all rows
        let best = out
            .iter()
            .filter_map(|(_, (c, _))| match &c.outcome {
                CellOutcome::Fitted(s) => Some(s.get(self.criterion)),
                _ => None,
            })
            .filter(|v| v.is_finite())
            .reduce(f64::min);
        out.extend(
            rest.into_par_iter()
                .map(|(i, (s, b))| match s {
                    Started::Pending {
                        k, ct, model, name, ..
                    } if !within(b, best) => {
                        let out = self
                            .finish(k, ct, model, &name, x, weights, false, data_var, ids, wsum);
                        on_cell(&out.0);
                        (i, out)
                    }
                    s => (i, screen(s)),
                })
                .collect::<Vec<_>>(),
        );
        out.sort_by_key(|(i, _)| *i);
        out.into_iter().map(|(_, c)| c).collect()
    }

    /// For a start fitted on the subset, `(lower, estimate)`: the criterion its EM on all
    /// rows could reach at best, and the estimate itself (see the module docs).
    fn optimistic_bound(
        &self,
        model: &GmmModel,
        xs: ArrayView2<f64>,
        ws: Option<ArrayView1<f64>>,
        wsum: f64,
    ) -> Option<(f64, f64)> {
        let (_, ln) = model.blocks(xs, Parallelism::Sequential, false).ok()?;
        let w = |r: usize| ws.map_or(1.0, |w| w[r]);
        let n: f64 = (0..xs.nrows()).map(w).sum();
        if !(n > 0.0 && n < wsum) {
            return None;
        }
        let mean = (0..xs.nrows()).map(|r| w(r) * ln[r]).sum::<f64>() / n;
        let var = (0..xs.nrows())
            .map(|r| w(r) * (ln[r] - mean).powi(2))
            .sum::<f64>()
            / n;
        if !(mean.is_finite() && var.is_finite()) {
            return None;
        }
        let p = model.n_parameters() as f64;
        let penalty = match self.criterion {
            Criterion::Aic => 2.0 * p,
            _ => p * wsum.ln(),
        };
        let estimate = -2.0 * wsum * mean + penalty;
        let noise = SCREEN_SIGMAS * var.sqrt() * wsum * (1.0 / n - 1.0 / wsum).sqrt();
        Some((estimate - 2.0 * noise, estimate))
    }

    /// A cell's starts on the rows they run on, and the best of them: the cell's start
    /// for the refinement on all rows, or its outcome when it cannot be fitted.
    #[allow(clippy::too_many_arguments)]
    fn start_cell<T: Float>(
        &self,
        x: ArrayView2<T>,
        weights: Option<ArrayView1<f64>>,
        sub: &Subset<'_>,
        k: usize,
        ct: CovarianceType,
        n_pos: usize,
        d: usize,
        partitions: &[Start],
        data_var: &[f64],
        wsum: f64,
    ) -> Started {
        let cell = |outcome| Cell::new(k, ct, outcome);
        if k > n_pos {
            return Started::Done(
                cell(CellOutcome::Skipped(format!(
                    "{k} components need at least {k} rows; there are {n_pos}"
                ))),
                None,
            );
        }
        let base = self.estimator(k, ct);
        if let Err(e) = base.check_estimable(n_pos, d).and_then(|_| base.validate()) {
            let reason = match e {
                GmmError::InvalidParam { reason, .. } => reason,
                other => other.to_string(),
            };
            return Started::Done(cell(CellOutcome::Skipped(reason)), None);
        }
        let starts: Vec<(&str, GaussianMixture)> = partitions
            .iter()
            .map(|p| (p.name.as_str(), base.clone().labels_init(p.labels.clone())))
            .collect();
        let mut first_err = None;
        let mut candidates: Vec<(String, GmmModel, bool)> = Vec::new();
        for (name, g) in &starts {
            let fit = match sub.x {
                Some(xs) => g.fit_observed(xs, sub.w, None, &mut |_| {}),
                None => g.fit_observed(x, weights, None, &mut |_| {}),
            };
            match fit {
                Ok(m) => {
                    let degenerate =
                        !degenerate_components(&m, wsum, data_var, self.reg_covar).is_empty();
                    candidates.push((name.to_string(), m, degenerate));
                }
                Err(GmmError::Interrupted) => {
                    return Started::Done(cell(CellOutcome::interrupted()), None)
                }
                Err(e) => {
                    first_err.get_or_insert(e.to_string());
                }
            }
        }
        // the best start among the non-degenerate ones (all, if none is)
        let any_sound = candidates.iter().any(|c| !c.2);
        let Some((name, start, _)) = candidates
            .into_iter()
            .filter(|c| !any_sound || !c.2)
            .max_by(|a, b| a.1.info().lower_bound.total_cmp(&b.1.info().lower_bound))
        else {
            return Started::Done(
                cell(CellOutcome::Failed(first_err.unwrap_or_default())),
                None,
            );
        };
        Started::Pending {
            k,
            ct,
            model: start,
            name,
            sound: any_sound,
        }
    }

    /// The start partitions of K components on the rows the starts run on: the hc cut,
    /// then k-means on the standardised data with distinct seeds, each partition once.
    fn start_partitions<T: Float>(
        &self,
        x: ArrayView2<T>,
        weights: Option<ArrayView1<f64>>,
        sub: &Subset<'_>,
        k: usize,
        trees: &[Arc<HcTree>],
    ) -> Vec<Start> {
        let base = self.estimator(k, CovarianceType::Full);
        let mut methods: Vec<(String, GaussianMixture)> = Vec::new();
        for (i, t) in trees.iter().enumerate() {
            let name = if i == 0 { "hc" } else { "hc-ties" };
            methods.push((
                name.into(),
                base.clone().init(InitMethod::Hc).hc_tree(t.clone()),
            ));
        }
        for s in 0..self.n_kmeans_starts {
            methods.push((
                format!("kmeans-std #{}", s + 1),
                base.clone()
                    .init(InitMethod::KMeans)
                    .init_scaling(InitScaling::Standardized)
                    .seed(self.seed.wrapping_add(s as u64)),
            ));
        }
        let mut out: Vec<Start> = Vec::new();
        let mut seen: Vec<Vec<usize>> = Vec::new();
        for (name, g) in methods {
            let labels = match sub.x {
                Some(xs) => g.start_labels(xs, sub.w),
                None => g.start_labels(x, weights),
            };
            let Some(labels) = labels else { continue };
            let key = canonical_partition(&labels);
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            out.push(Start {
                name,
                labels: Arc::new(labels),
            });
        }
        out
    }

    /// Continues EM from `start` on all rows until an iteration changes the total
    /// log-likelihood by less than `total_tol`, and scores the result.
    #[allow(clippy::too_many_arguments)]
    fn refine<T: Float>(
        &self,
        k: usize,
        ct: CovarianceType,
        start: GmmModel,
        name: &str,
        x: ArrayView2<T>,
        weights: Option<ArrayView1<f64>>,
        total_tol: f64,
        data_var: &[f64],
        ids: &[Option<(Vec<u32>, usize)>],
        wsum: f64,
    ) -> (Cell, Option<GmmModel>) {
        let cell = |outcome| Cell::new(k, ct, outcome);
        let est = if total_tol < self.screen_tol {
            self.estimator_final(k, ct)
        } else {
            self.estimator(k, ct)
        };
        let refine = est.tol(total_tol / wsum.max(1.0)).max_iter(self.max_iter);
        let model = match refine.fit_warm(&start, x, weights) {
            Ok(m) => m,
            Err(GmmError::Interrupted) => return (cell(CellOutcome::interrupted()), None),
            // a refinement that fails (a covariance that becomes singular) keeps the start
            Err(_) => start,
        };
        self.finish(k, ct, model, name, x, weights, true, data_var, ids, wsum)
    }

    /// Scores a cell's model on the rows of `x` and tests it for degenerate components;
    /// `refined`: whether EM ran on these rows (a start kept from the subset is reported
    /// as not converged, with no iterations).
    #[allow(clippy::too_many_arguments)]
    fn finish<T: Float>(
        &self,
        k: usize,
        ct: CovarianceType,
        model: GmmModel,
        name: &str,
        x: ArrayView2<T>,
        weights: Option<ArrayView1<f64>>,
        refined: bool,
        data_var: &[f64],
        ids: &[Option<(Vec<u32>, usize)>],
        wsum: f64,
    ) -> (Cell, Option<GmmModel>) {
        let cell = |outcome| Cell::new(k, ct, outcome);
        let mut scores = match score(&model, x, weights, name) {
            Ok(s) => s,
            Err(e) => return (cell(CellOutcome::Failed(e.to_string())), None),
        };
        if !refined {
            scores.converged = false;
            scores.n_iter = 0;
        }
        let mut deg = degenerate_components(&model, wsum, data_var, self.reg_covar);
        // a shared covariance (EII, EEI, EEE) cannot narrow onto one value
        if deg.is_empty() && !ct.is_shared() && ids.iter().any(Option::is_some) {
            if let Ok(resp) = model.predict_proba(x) {
                deg = crate::degenerate::tied_components(resp.view(), ids, model.n_components());
            }
        }
        let outcome = match deg.first() {
            Some((c, why)) => CellOutcome::Degenerate {
                scores,
                reason: format!("component {c}: {why}"),
            },
            None => CellOutcome::Fitted(scores),
        };
        (cell(outcome), Some(model))
    }
}

/// What remains of the total log-likelihood's increase, by Aitken's extrapolation of the
/// last three lower bounds (at least the last change).
fn remaining_gain(model: &GmmModel, wsum: f64) -> f64 {
    let lb = &model.info().lower_bounds;
    let n = lb.len();
    if n < 3 {
        return f64::INFINITY;
    }
    let (d1, d2) = (lb[n - 2] - lb[n - 3], lb[n - 1] - lb[n - 2]);
    let r = d2 / d1;
    let rem = if d1 > 0.0 && (0.0..1.0).contains(&r) {
        d2 * r / (1.0 - r)
    } else {
        d2.abs()
    };
    rem.max(d2.abs()) * wsum
}

/// A cell after its starts: done (skipped, failed), or its best start, to refine.
enum Started {
    Done(Cell, Option<GmmModel>),
    Pending {
        k: usize,
        ct: CovarianceType,
        model: GmmModel,
        name: String,
        /// Whether the start has no degenerate component.
        sound: bool,
    },
}

/// One start of the cells of a K: a hard partition of the rows the starts run on.
struct Start {
    name: String,
    labels: Arc<Vec<usize>>,
}

/// A partition's labels renumbered by first appearance (rows left out stay out), so that
/// equal partitions compare equal whatever their numbering.
fn canonical_partition(labels: &[usize]) -> Vec<usize> {
    let mut map: Vec<(usize, usize)> = Vec::new();
    labels
        .iter()
        .map(|&l| {
            if l == usize::MAX {
                return l;
            }
            match map.iter().find(|(a, _)| *a == l) {
                Some(&(_, b)) => b,
                None => {
                    let b = map.len();
                    map.push((l, b));
                    b
                }
            }
        })
        .collect()
}

/// The rows the starts of a selection compete on, when they are fewer than all.
struct Subset<'a> {
    x: Option<ArrayView2<'a, f64>>,
    w: Option<ArrayView1<'a, f64>>,
}

/// The criteria of a fitted model on the rows of `x`.
fn score<T: Float>(
    model: &GmmModel,
    x: ArrayView2<T>,
    weights: Option<ArrayView1<f64>>,
    start: &str,
) -> Result<Scores> {
    // responsibilities and log densities from one pass
    let (resp, ln) = model.blocks(x, Parallelism::default(), true)?;
    let w = |r: usize| weights.map_or(1.0, |w| w[r]);
    let n: f64 = (0..x.nrows()).map(w).sum();
    let mut ll = 0.0;
    let mut hard = 0.0;
    let mut soft = 0.0;
    for (r, row) in resp.rows().into_iter().enumerate() {
        let wr = w(r);
        if wr == 0.0 {
            continue;
        }
        ll += wr * ln[r];
        let top = row.iter().copied().fold(0.0, f64::max);
        if top > 0.0 {
            hard -= wr * top.ln();
        }
        soft += wr
            * row
                .iter()
                .map(|&g| if g > 0.0 { -g * g.ln() } else { 0.0 })
                .sum::<f64>();
    }
    let p = model.n_parameters();
    let bic = -2.0 * ll + p as f64 * n.ln();
    Ok(Scores {
        log_likelihood: ll,
        n_parameters: p,
        bic,
        aic: -2.0 * ll + 2.0 * p as f64,
        icl: bic + 2.0 * hard,
        icl_soft: bic + 2.0 * soft,
        converged: model.info().converged,
        n_iter: model.info().n_iter,
        start: start.to_string(),
    })
}
