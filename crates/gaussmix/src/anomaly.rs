//! Anomaly detection with Gaussian mixtures: a row's score is higher the less likely the
//! fitted densities find it, and it is flagged when its score exceeds a threshold, the
//! `1 − contamination` quantile of the training scores.
//!
//! [`AnomalyDetector::fit`] standardises every feature (a constant column gets a tiny scale:
//! new rows that leave its value are extreme)
//! and, by default, fits an **ensemble**: diagonal and full mixtures with k = 1..=4
//! components, `reg_covar` 0.3 on the unit scale (a ridge Σ_k + 0.3·I: no component is
//! narrower than about half a feature's overall spread in any direction, which keeps
//! components off tied or discrete values and off thin slices of high-dimensional data). A candidate whose smallest component
//! holds fewer than `min_points` (default 1) effective rows per free parameter is left
//! out (a full k ≥ 2 candidate that could not meet the rule even with equal weights is
//! not fitted at all, which keeps large-D data fast). Each member's score `−ln p(x)` is
//! standardised by its mean and standard deviation over the training rows and the
//! detector's score is the mean over members; so no single k or family has to be
//! chosen, and no member's scale dominates. At most `max_fit_rows` (default 10 000) rows,
//! drawn with the seed, are used to fit each member; every row is scored.
//! [`AnomalyDetector::ensemble`]`(false)` instead keeps the one candidate of lowest BIC
//! (score `−ln p(x)`, the model stored on the raw scale as before).
//!
//! These defaults were chosen by one protocol for all data (docs/design.md §9): the mean and
//! worst ROC-AUC and the mean average precision over the 26 ADBench sets of the shared
//! benchmark (`bench/anomaly.py`), never per set.
//!
//! ```
//! use gaussmix::anomaly::AnomalyDetector;
//! use ndarray::Array2;
//! let x = Array2::from_shape_fn((200, 2), |(i, j)| ((i * 7 + j * 3) % 11) as f64);
//! let det = AnomalyDetector::new().max_k(2).fit(x.view())?;
//! let s = det.score(x.view())?;
//! assert_eq!(s.len(), 200);
//! let flags = det.predict(x.view())?;
//! assert!(flags.iter().filter(|&&f| f).count() <= 4);
//! # Ok::<(), gaussmix::GmmError>(())
//! ```

use ndarray::{Array1, Array2, Array3, ArrayView1, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use crate::validate::{check_finite, check_nonempty};
use crate::{CovarianceType, Covariances, GaussianMixture, GmmError, GmmModel, Result};

/// Per-feature mean and scale (population standard deviation; 1e-6·max(|mean|, 1) for a
/// constant column, so that new rows that leave its value score as extreme).
#[derive(Debug, Clone)]
pub struct Standardiser {
    /// Means m.
    pub mean: Array1<f64>,
    /// Scales s.
    pub scale: Array1<f64>,
    /// Whether each column is constant (scale kept at 1).
    pub constant: Vec<bool>,
}

impl Standardiser {
    /// Mean and population standard deviation of each column (two-pass).
    pub fn fit(x: ArrayView2<f64>) -> Standardiser {
        let n = x.nrows().max(1) as f64;
        let mean = x.sum_axis(Axis(0)) / n;
        let mut constant = vec![false; x.ncols()];
        let scale = Array1::from_shape_fn(x.ncols(), |j| {
            let m = mean[j];
            let v = x.column(j).iter().map(|&t| (t - m) * (t - m)).sum::<f64>() / n;
            let s = v.sqrt();
            if s.is_finite() && s > 0.0 && s > 1e-12 * m.abs().max(1e-300) {
                s
            } else {
                // a constant (or nearly constant) column: the training rows sit at 0
                // whatever the scale; a tiny one makes any departure of new data extreme
                constant[j] = true;
                1e-6 * m.abs().max(1.0)
            }
        });
        Standardiser {
            mean,
            scale,
            constant,
        }
    }

    /// (x − m) / s.
    pub fn transform(&self, x: ArrayView2<f64>) -> Array2<f64> {
        let mut z = x.to_owned();
        for mut row in z.rows_mut() {
            for j in 0..row.len() {
                row[j] = (row[j] - self.mean[j]) / self.scale[j];
            }
        }
        z
    }

    /// The model on the raw scale: μ' = μ ⊙ s + m, Σ' = S Σ S; spherical becomes diag.
    ///
    /// # Errors
    /// Parameters that overflow on the raw scale, or a covariance that is no longer
    /// positive definite in floating point.
    pub fn to_raw(&self, m: &GmmModel) -> Result<GmmModel> {
        let s = &self.scale;
        let d = s.len();
        let k = m.n_components();
        let means = Array2::from_shape_fn((k, d), |(c, j)| m.means()[[c, j]] * s[j] + self.mean[j]);
        let cov = match m.covariances() {
            Covariances::Full(c) => {
                Covariances::Full(Array3::from_shape_fn((k, d, d), |(q, i, j)| {
                    c[[q, i, j]] * s[i] * s[j]
                }))
            }
            Covariances::Tied(c) => Covariances::Tied(Array2::from_shape_fn((d, d), |(i, j)| {
                c[[i, j]] * s[i] * s[j]
            })),
            Covariances::Diag(c) => Covariances::Diag(Array2::from_shape_fn((k, d), |(q, j)| {
                c[[q, j]] * s[j] * s[j]
            })),
            Covariances::Spherical(c) => {
                Covariances::Diag(Array2::from_shape_fn((k, d), |(q, j)| c[q] * s[j] * s[j]))
            }
        };
        let mut raw = GmmModel::new(m.weights().clone(), means, cov).map_err(|e| {
            GmmError::InvalidModel {
                reason: format!(
                    "cannot express the model on the raw feature scale (feature scales too extreme?): {e}"
                ),
            }
        })?;
        raw.set_feature_names(m.feature_names().to_vec())?;
        Ok(raw)
    }
}

/// The (1 − contamination) quantile of the scores (linear interpolation); NaN for no scores.
pub fn threshold(scores: ArrayView1<f64>, contamination: f64) -> f64 {
    let mut s = scores.to_vec();
    if s.is_empty() {
        return f64::NAN;
    }
    s.sort_by(f64::total_cmp);
    let n = s.len();
    let pos = (1.0 - contamination) * (n - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    s[lo] + (s[hi] - s[lo]) * (pos - lo as f64)
}

/// ROC-AUC of `scores` against 0/1 `labels` (ties count one half); `None` without both
/// classes.
pub fn roc_auc(scores: &[f64], labels: &[bool]) -> Option<f64> {
    let n_pos = labels.iter().filter(|&&l| l).count();
    let n_neg = labels.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return None;
    }
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum_pos = 0.0;
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &t in &idx[i..=j] {
            if labels[t] {
                rank_sum_pos += avg;
            }
        }
        i = j + 1;
    }
    let np = n_pos as f64;
    Some((rank_sum_pos - np * (np + 1.0) / 2.0) / (np * n_neg as f64))
}

/// Average precision (scikit-learn's definition: Σ (R_i − R_{i−1}) P_i over the
/// distinct thresholds, highest score first); `None` without positives.
pub fn average_precision(scores: &[f64], labels: &[bool]) -> Option<f64> {
    let n_pos = labels.iter().filter(|&&l| l).count();
    if n_pos == 0 {
        return None;
    }
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut ap = 0.0;
    let mut prev_recall = 0.0;
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        for &t in &idx[i..=j] {
            if labels[t] {
                tp += 1;
            } else {
                fp += 1;
            }
        }
        let recall = tp as f64 / n_pos as f64;
        let precision = tp as f64 / (tp + fp) as f64;
        ap += (recall - prev_recall) * precision;
        prev_recall = recall;
        i = j + 1;
    }
    Some(ap)
}

/// Checks a contamination fraction: it must lie in (0, 0.5].
///
/// # Errors
/// [`GmmError::InvalidParam`] outside (0, 0.5] or not finite.
pub fn check_contamination(c: f64) -> Result<()> {
    if c > 0.0 && c <= 0.5 {
        Ok(())
    } else {
        Err(GmmError::InvalidParam {
            name: "contamination",
            value: c.to_string(),
            reason: "must be in (0, 0.5] (a fraction of the rows, e.g. 0.01)".into(),
        })
    }
}

/// Settings of an anomaly detector (a builder); [`AnomalyDetector::fit`] gives a
/// [`FittedDetector`].
#[derive(Debug, Clone)]
pub struct AnomalyDetector {
    max_k: usize,
    ks: Option<Vec<usize>>,
    families: Vec<CovarianceType>,
    reg_covar: f64,
    n_init: usize,
    seed: u64,
    min_points: f64,
    contamination: f64,
    ensemble: bool,
    max_fit_rows: usize,
    noise: bool,
}

impl Default for AnomalyDetector {
    fn default() -> Self {
        AnomalyDetector {
            max_k: 4,
            ks: None,
            families: vec![CovarianceType::Diag, CovarianceType::Full],
            reg_covar: 0.3,
            n_init: 1,
            seed: 0,
            min_points: 1.0,
            contamination: 0.01,
            ensemble: true,
            max_fit_rows: 10_000,
            noise: false,
        }
    }
}

/// Free parameters of one component (its weight, mean and its share of the covariance).
fn params_per_component(ct: CovarianceType, d: usize, k: usize) -> f64 {
    1.0 + d as f64 + ct.n_covariance_parameters(k, d) as f64 / k as f64
}

/// Why a candidate is too thin to trust, if it is: a component with fewer effective rows
/// than `min_points` × its parameters.
pub fn thin_component(m: &GmmModel, n: usize, min_points: f64) -> Option<String> {
    let k = m.n_components();
    if k == 1 {
        return None;
    }
    let need = min_points * params_per_component(m.covariance_type(), m.n_features(), k);
    m.weights().iter().enumerate().find_map(|(c, &w)| {
        let have = w * n as f64;
        (have < need).then(|| format!("component {c} holds {have:.1} rows, fewer than {need:.0}"))
    })
}

/// The k = 1 full Gaussian in closed form (mean, covariance + `reg`·I): what EM would
/// reach, without its iterations (which dominate when D is large).
fn single_full(z: ArrayView2<f64>, reg: f64) -> Result<GmmModel> {
    let (n, d) = z.dim();
    let mean = z.sum_axis(Axis(0)) / n as f64;
    let c = &z - &mean.view().insert_axis(Axis(0));
    let mut cov = c.t().dot(&c) / n as f64;
    for j in 0..d {
        cov[[j, j]] += reg;
    }
    let cov = cov.into_shape_with_order((1, d, d)).expect("d × d");
    GmmModel::new(
        Array1::ones(1),
        mean.insert_axis(Axis(0)),
        Covariances::Full(cov),
    )
}

/// The Gaussians of `m` alone, their weights renormalised to sum to 1 (`m` itself when
/// it has no noise component).
fn without_noise(m: GmmModel) -> Result<GmmModel> {
    if m.noise().is_none() {
        return Ok(m);
    }
    let w = m.weights() / m.weights().sum();
    let mut g = GmmModel::new(w, m.means().clone(), m.covariances().clone())?;
    g.set_feature_names(m.feature_names().to_vec())?;
    Ok(g)
}

/// `n_fit` row indices of `0..n`, drawn without replacement with `seed` (all when
/// `n ≤ n_fit`), in increasing order.
fn fit_rows(n: usize, n_fit: usize, seed: u64) -> Vec<usize> {
    if n <= n_fit {
        return (0..n).collect();
    }
    use rand::seq::index::sample;
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_a0a0);
    let mut v = sample(&mut rng, n, n_fit).into_vec();
    v.sort_unstable();
    v
}

impl AnomalyDetector {
    /// The defaults: an ensemble of diagonal and full mixtures with k = 1..=4,
    /// `reg_covar` 0.3 on the standardised scale, 1 initialisation, seed 0, at least 1
    /// row per parameter in every component, at most 10 000 rows per fit,
    /// contamination 0.01.
    pub fn new() -> Self {
        Self::default()
    }
    /// Largest number of components tried (≥ 1).
    pub fn max_k(mut self, k: usize) -> Self {
        self.max_k = k;
        self
    }
    /// The numbers of components tried (overrides [`AnomalyDetector::max_k`]); each ≥ 1.
    pub fn ks(mut self, ks: Vec<usize>) -> Self {
        self.ks = Some(ks);
        self
    }
    /// The numbers of components tried: [`AnomalyDetector::ks`], else 1..=`max_k`.
    pub fn k_values(&self) -> Vec<usize> {
        self.ks
            .clone()
            .unwrap_or_else(|| (1..=self.max_k).collect())
    }
    /// The contamination fraction.
    pub fn contamination_value(&self) -> f64 {
        self.contamination
    }
    /// Covariance families tried.
    pub fn families(mut self, f: Vec<CovarianceType>) -> Self {
        self.families = f;
        self
    }
    /// Added to covariance diagonals on the standardised scale.
    pub fn reg_covar(mut self, r: f64) -> Self {
        self.reg_covar = r;
        self
    }
    /// Initialisations per candidate.
    pub fn n_init(mut self, n: usize) -> Self {
        self.n_init = n;
        self
    }
    /// Seed of every random choice.
    pub fn seed(mut self, s: u64) -> Self {
        self.seed = s;
        self
    }
    /// Minimum effective rows per component, as a multiple of its free parameters.
    pub fn min_points(mut self, m: f64) -> Self {
        self.min_points = m;
        self
    }
    /// Fraction of the training rows above the threshold, in (0, 0.5].
    pub fn contamination(mut self, c: f64) -> Self {
        self.contamination = c;
        self
    }
    /// Average every surviving candidate's standardised score (`true`, the default) or
    /// keep the one of lowest BIC (`false`).
    pub fn ensemble(mut self, on: bool) -> Self {
        self.ensemble = on;
        self
    }
    /// Largest number of rows each candidate is fitted on (a seeded random subset of
    /// larger data; every row is still scored), ≥ 1.
    pub fn max_fit_rows(mut self, n: usize) -> Self {
        self.max_fit_rows = n;
        self
    }
    /// Fit every candidate with a uniform noise component (Banfield & Raftery 1993, see
    /// [`GaussianMixture::noise`]) that absorbs the rows no Gaussian explains, then score
    /// with the Gaussians alone (their weights renormalised), so that the anomalies in
    /// the training rows do not widen the components. Off by default (measured in
    /// `bench/out/anomaly_defaults.md`, not adopted).
    pub fn noise(mut self, on: bool) -> Self {
        self.noise = on;
        self
    }

    /// Checks every setting.
    ///
    /// # Errors
    /// [`GmmError::InvalidParam`] naming the first bad setting.
    pub fn validate(&self) -> Result<()> {
        check_contamination(self.contamination)?;
        let bad = |name, value: String, reason: &str| {
            Err(GmmError::InvalidParam {
                name,
                value,
                reason: reason.into(),
            })
        };
        if self.max_k == 0 {
            return bad("max_k", "0".into(), "must be at least 1");
        }
        if let Some(ks) = &self.ks {
            if ks.is_empty() {
                return bad("ks", "[]".into(), "at least one number of components");
            }
            if ks.contains(&0) {
                return bad("ks", format!("{ks:?}"), "every k must be at least 1");
            }
        }
        if self.families.is_empty() {
            return bad("families", "[]".into(), "at least one covariance family");
        }
        if self.max_fit_rows == 0 {
            return bad("max_fit_rows", "0".into(), "must be at least 1");
        }
        if !(self.min_points >= 0.0 && self.min_points.is_finite()) {
            return bad(
                "min_points",
                self.min_points.to_string(),
                "must be a finite number ≥ 0",
            );
        }
        GaussianMixture::new(1)
            .n_init(self.n_init)
            .reg_covar(self.reg_covar)
            .validate()
    }

    /// Fits the detector to `x` (rows are samples).
    ///
    /// # Errors
    /// Bad settings, empty data, a NaN or infinite value (named by row and column), data
    /// with a single distinct value in every column (nothing to learn), or no candidate
    /// that could be fitted.
    pub fn fit(&self, x: ArrayView2<f64>) -> Result<FittedDetector> {
        self.validate()?;
        check_nonempty(x)?;
        check_finite(x, 0)?;
        let (n, d) = x.dim();
        let st = Standardiser::fit(x);
        if st.constant.iter().all(|&c| c) {
            return Err(GmmError::InvalidParam {
                name: "data",
                value: format!("{n} rows × {d} columns"),
                reason: "every column holds a single value: there is nothing to tell anomalies by"
                    .into(),
            });
        }
        let z = st.transform(x);
        let rows = fit_rows(n, self.max_fit_rows, self.seed);
        let zf = if rows.len() < n {
            z.select(Axis(0), &rows)
        } else {
            z.clone()
        };
        let nf = zf.nrows();
        let mut last_err = None;
        let mut cands: Vec<CandidateReport> = Vec::new();
        let mut models: Vec<Option<GmmModel>> = Vec::new();
        for &fam in &self.families {
            for k in self.k_values() {
                let mut rep = CandidateReport {
                    k,
                    covariance: fam,
                    bic: None,
                    dropped: None,
                    used: false,
                };
                let need = self.min_points * params_per_component(fam, d, k) * k as f64;
                let m = if k > nf {
                    Err(format!("{k} components for {nf} rows"))
                } else if k > 1 && need > nf as f64 {
                    Err(format!(
                        "{k} components need {need:.0} rows at {} per parameter; there are {nf}",
                        self.min_points
                    ))
                } else if k == 1 && fam == CovarianceType::Full && !self.noise {
                    single_full(zf.view(), self.reg_covar).map_err(|e| {
                        let t = format!("fit failed: {e}");
                        last_err = Some(e);
                        t
                    })
                } else {
                    GaussianMixture::new(k)
                        .covariance_type(fam)
                        .n_init(self.n_init)
                        .reg_covar(self.reg_covar)
                        .max_iter(200)
                        .seed(self.seed)
                        .noise(self.noise)
                        .fit(zf.view())
                        .and_then(without_noise)
                        .map_err(|e| {
                            let t = format!("fit failed: {e}");
                            last_err = Some(e);
                            t
                        })
                };
                let m = match m {
                    Ok(m) => m,
                    Err(why) => {
                        rep.dropped = Some(why);
                        cands.push(rep);
                        models.push(None);
                        continue;
                    }
                };
                if !self.ensemble {
                    let bic = m.bic(zf.view())?;
                    rep.bic = Some(bic);
                    if !bic.is_finite() {
                        rep.dropped = Some("non-finite BIC".into());
                    }
                }
                if rep.dropped.is_none() {
                    rep.dropped = thin_component(&m, nf, self.min_points);
                }
                cands.push(rep);
                models.push(Some(m));
            }
        }
        let usable: Vec<usize> = (0..cands.len())
            .filter(|&i| models[i].is_some() && cands[i].dropped.is_none())
            .collect();
        let pool: Vec<usize> = if usable.is_empty() {
            // every candidate thin: the fitted ones, so that there is an answer (k = 1 is
            // never thin, so this happens only when -k leaves it out)
            (0..cands.len()).filter(|&i| models[i].is_some()).collect()
        } else {
            usable
        };
        if pool.is_empty() {
            return Err(last_err.unwrap_or(GmmError::InvalidModel {
                reason: "no candidate mixture could be fitted".into(),
            }));
        }
        let chosen: Vec<usize> = if self.ensemble {
            pool
        } else {
            let best = pool
                .iter()
                .copied()
                .min_by(|&a, &b| {
                    let ba = cands[a].bic.unwrap_or(f64::INFINITY);
                    let bb = cands[b].bic.unwrap_or(f64::INFINITY);
                    ba.total_cmp(&bb)
                })
                .expect("non-empty");
            vec![best]
        };
        let mut det = if chosen.len() == 1 && !self.ensemble {
            let i = chosen[0];
            cands[i].used = true;
            let model = models[i].take().expect("fitted");
            let raw = st.to_raw(&model)?;
            let scores = raw.score_samples(x)?.mapv(|v| -v);
            let thr = threshold(scores.view(), self.contamination);
            let mut det = FittedDetector::from_model_with_threshold(raw, thr)?;
            det.training_scores = Some(scores);
            det
        } else {
            let mut members = Vec::with_capacity(chosen.len());
            let mut total = Array1::<f64>::zeros(n);
            for &i in &chosen {
                cands[i].used = true;
                let model = models[i].take().expect("fitted");
                let s = model.score_samples(z.view())?.mapv(|v| -v);
                let mean = s.mean().unwrap_or(0.0);
                let sd = s.std(0.0);
                let sd = if sd.is_finite() && sd > 0.0 { sd } else { 1.0 };
                total.zip_mut_with(&s, |t, &v| *t += (v - mean) / sd);
                members.push(Member {
                    model,
                    offset: mean,
                    scale: sd,
                });
            }
            total /= members.len() as f64;
            let thr = threshold(total.view(), self.contamination);
            FittedDetector {
                model: None,
                ensemble: Some(Ensemble {
                    mean: st.mean.clone(),
                    scale: st.scale.clone(),
                    members,
                }),
                threshold: thr,
                feature_names: (0..d).map(|j| format!("x{j}")).collect(),
                candidates: Vec::new(),
                constant: Vec::new(),
                training_scores: Some(total),
            }
        };
        det.candidates = cands;
        det.constant = st.constant.clone();
        Ok(det)
    }
}

/// One candidate mixture that [`AnomalyDetector::fit`] considered.
#[derive(Debug, Clone, PartialEq)]
pub struct CandidateReport {
    /// Number of components.
    pub k: usize,
    /// Covariance family.
    pub covariance: CovarianceType,
    /// Its BIC on the standardised data (lower is better), when the choice is by BIC.
    pub bic: Option<f64>,
    /// Why it was left out, if it was.
    pub dropped: Option<String>,
    /// Whether the detector uses it.
    pub used: bool,
}

/// One member of an ensemble: a mixture on the standardised scale and the mean and
/// standard deviation of its training scores `−ln p(z)`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Member {
    #[serde(with = "model_json")]
    model: GmmModel,
    offset: f64,
    scale: f64,
}

/// Members stored through the model's own JSON (its validation included).
mod model_json {
    use crate::GmmModel;
    use serde::{de::Error as _, Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(m: &GmmModel, s: S) -> Result<S::Ok, S::Error> {
        let text = m.to_json().map_err(serde::ser::Error::custom)?;
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(serde::ser::Error::custom)?;
        v.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<GmmModel, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        GmmModel::from_json(&v.to_string()).map_err(D::Error::custom)
    }
}

/// An ensemble detector: the standardisation and the members.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Ensemble {
    mean: Array1<f64>,
    scale: Array1<f64>,
    members: Vec<Member>,
}

/// Version of the ensemble detector's JSON layout (its `gaussmix_anomaly_ensemble` field;
/// each member is a model file with its own `format_version`). See `docs/formats.md`.
pub const ANOMALY_ENSEMBLE_FORMAT_VERSION: u32 = 1;

/// The JSON of an ensemble detector.
#[derive(Serialize, Deserialize)]
struct EnsembleFile {
    gaussmix_anomaly_ensemble: u32,
    threshold: f64,
    feature_names: Vec<String>,
    #[serde(flatten)]
    ensemble: Ensemble,
}

/// A fitted detector: one mixture on the raw feature scale, or an ensemble of mixtures
/// on the standardised scale, and the threshold.
#[derive(Debug, Clone)]
pub struct FittedDetector {
    model: Option<GmmModel>,
    ensemble: Option<Ensemble>,
    threshold: f64,
    feature_names: Vec<String>,
    candidates: Vec<CandidateReport>,
    constant: Vec<bool>,
    training_scores: Option<Array1<f64>>,
}

/// One feature's share of a row's squared Mahalanobis distance to its nearest component.
#[derive(Debug, Clone, PartialEq)]
pub struct Contribution {
    /// Feature index (0-based).
    pub feature: usize,
    /// Its term `(x − μ)_j (Σ⁻¹(x − μ))_j`; the terms of a row sum to its squared
    /// Mahalanobis distance.
    pub term: f64,
}

/// The per-feature terms of the squared Mahalanobis distance of each row of `x` in its
/// nearest component of `m`, largest `top` first.
fn contributions(m: &GmmModel, x: ArrayView2<f64>, top: usize) -> Result<Vec<Vec<Contribution>>> {
    let labels = m.predict(x)?;
    let d = x.ncols();
    let means = m.means();
    let prec = m.precisions();
    let mut out = Vec::with_capacity(x.nrows());
    for (r, row) in x.rows().into_iter().enumerate() {
        let k = labels[r];
        let diff: Vec<f64> = (0..d).map(|j| row[j] - means[[k, j]]).collect();
        let terms: Vec<f64> = match &prec {
            Covariances::Full(p) => (0..d)
                .map(|i| diff[i] * (0..d).map(|j| p[[k, i, j]] * diff[j]).sum::<f64>())
                .collect(),
            Covariances::Tied(p) => (0..d)
                .map(|i| diff[i] * (0..d).map(|j| p[[i, j]] * diff[j]).sum::<f64>())
                .collect(),
            Covariances::Diag(p) => (0..d).map(|i| diff[i] * diff[i] * p[[k, i]]).collect(),
            Covariances::Spherical(p) => (0..d).map(|i| diff[i] * diff[i] * p[k]).collect(),
        };
        let mut c: Vec<Contribution> = terms
            .into_iter()
            .enumerate()
            .map(|(feature, term)| Contribution { feature, term })
            .collect();
        c.sort_by(|a, b| b.term.total_cmp(&a.term));
        c.truncate(top);
        out.push(c);
    }
    Ok(out)
}

impl FittedDetector {
    /// A detector from a model and a threshold (stored into the model).
    ///
    /// # Errors
    /// A non-finite threshold.
    pub fn from_model_with_threshold(mut model: GmmModel, threshold: f64) -> Result<Self> {
        model.set_anomaly_threshold(Some(threshold))?;
        Ok(FittedDetector {
            feature_names: model.feature_names().to_vec(),
            model: Some(model),
            ensemble: None,
            threshold,
            candidates: Vec::new(),
            constant: Vec::new(),
            training_scores: None,
        })
    }

    /// A detector from a model carrying a stored threshold.
    ///
    /// # Errors
    /// [`GmmError::InvalidModel`] when the model has no threshold.
    pub fn from_model(model: GmmModel) -> Result<Self> {
        let threshold = model
            .anomaly_threshold()
            .ok_or_else(|| GmmError::InvalidModel {
                reason: "the model has no anomaly threshold (fit it with anomaly detection)".into(),
            })?;
        Self::from_model_with_threshold(model, threshold)
    }

    /// The detector as JSON, threshold included: a single mixture is the model JSON
    /// every gaussmix command reads; an ensemble is an object with
    /// `gaussmix_anomaly_ensemble`, `threshold`, `feature_names`, the standardisation
    /// (`mean`, `scale`) and `members` (each a model JSON with the `offset` and `scale`
    /// of its training scores).
    ///
    /// # Errors
    /// Serialisation failure.
    pub fn to_json(&self) -> Result<String> {
        if let Some(m) = &self.model {
            return m.to_json();
        }
        let e = self.ensemble.clone().expect("model or ensemble");
        let file = EnsembleFile {
            gaussmix_anomaly_ensemble: ANOMALY_ENSEMBLE_FORMAT_VERSION,
            threshold: self.threshold,
            feature_names: self.feature_names.clone(),
            ensemble: e,
        };
        serde_json::to_string_pretty(&file).map_err(|e| GmmError::InvalidModel {
            reason: e.to_string(),
        })
    }

    /// Reads a detector saved by [`FittedDetector::to_json`].
    ///
    /// # Errors
    /// A corrupt file, or a model without a threshold.
    pub fn from_json(s: &str) -> Result<Self> {
        let v: serde_json::Value = serde_json::from_str(s).map_err(|e| GmmError::Decode {
            what: "anomaly detector JSON",
            reason: e.to_string(),
        })?;
        let Some(version) = v.get("gaussmix_anomaly_ensemble") else {
            return Self::from_model(GmmModel::from_json(s)?);
        };
        match version.as_u64() {
            Some(v) if v > u64::from(ANOMALY_ENSEMBLE_FORMAT_VERSION) => {
                return Err(GmmError::Decode {
                    what: "anomaly detector JSON",
                    reason: format!(
                        "gaussmix_anomaly_ensemble version {v} was written by a newer gaussmix; this one reads versions 1 to {ANOMALY_ENSEMBLE_FORMAT_VERSION} (upgrade gaussmix)"
                    ),
                })
            }
            Some(v) if v >= 1 => {}
            _ => {
                return Err(GmmError::Decode {
                    what: "anomaly detector JSON",
                    reason: format!("unknown gaussmix_anomaly_ensemble version {version}"),
                })
            }
        }
        let f: EnsembleFile = serde_json::from_value(v).map_err(|e| GmmError::Decode {
            what: "anomaly detector JSON",
            reason: e.to_string(),
        })?;
        let d = f.feature_names.len();
        let e = &f.ensemble;
        let bad = e.members.is_empty()
            || e.mean.len() != d
            || e.scale.len() != d
            || !f.threshold.is_finite()
            || e.members.iter().any(|m| {
                m.model.n_features() != d
                    || !m.offset.is_finite()
                    || !(m.scale.is_finite() && m.scale > 0.0)
            })
            || e.scale.iter().any(|&s| !(s.is_finite() && s > 0.0));
        if bad {
            return Err(GmmError::InvalidModel {
                reason: "inconsistent anomaly ensemble (no members, sizes that differ, or a non-finite or non-positive value)".into(),
            });
        }
        Ok(FittedDetector {
            model: None,
            ensemble: Some(f.ensemble),
            threshold: f.threshold,
            feature_names: f.feature_names,
            candidates: Vec::new(),
            constant: Vec::new(),
            training_scores: None,
        })
    }

    /// The mixture: the single model (raw feature scale), or the ensemble's first
    /// member (standardised scale).
    pub fn model(&self) -> &GmmModel {
        match &self.model {
            Some(m) => m,
            None => &self.ensemble.as_ref().expect("model or ensemble").members[0].model,
        }
    }

    /// The mixtures whose scores are averaged: the ensemble's members (standardised
    /// scale), or the single model (raw feature scale).
    pub fn members(&self) -> Vec<&GmmModel> {
        match (&self.model, &self.ensemble) {
            (Some(m), _) => vec![m],
            (None, Some(e)) => e.members.iter().map(|m| &m.model).collect(),
            (None, None) => unreachable!("model or ensemble"),
        }
    }

    /// Whether the detector averages several mixtures (saved as an ensemble file).
    pub fn is_ensemble(&self) -> bool {
        self.ensemble.is_some()
    }

    /// Number of mixtures whose scores are averaged (1 for a single model).
    pub fn n_members(&self) -> usize {
        self.ensemble.as_ref().map_or(1, |e| e.members.len())
    }

    /// Number of features.
    pub fn n_features(&self) -> usize {
        self.feature_names.len()
    }

    /// The feature names (`x0`, `x1`, … unless set).
    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }

    /// The threshold on the score.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// Sets the threshold (e.g. the quantile of new data's scores).
    ///
    /// # Errors
    /// A non-finite threshold.
    pub fn set_threshold(&mut self, threshold: f64) -> Result<()> {
        if !threshold.is_finite() {
            return Err(GmmError::InvalidParam {
                name: "threshold",
                value: threshold.to_string(),
                reason: "must be finite".into(),
            });
        }
        if let Some(m) = &mut self.model {
            m.set_anomaly_threshold(Some(threshold))?;
        }
        self.threshold = threshold;
        Ok(())
    }

    /// Names the features (stored in the JSON).
    ///
    /// # Errors
    /// A number of names other than the features'.
    pub fn set_feature_names(&mut self, names: Vec<String>) -> Result<()> {
        if names.len() != self.n_features() {
            return Err(GmmError::ShapeMismatch {
                what: "feature names".into(),
                expected: format!("{} names", self.n_features()),
                got: format!("{} names", names.len()),
            });
        }
        match (&mut self.model, &mut self.ensemble) {
            (Some(m), _) => m.set_feature_names(names.clone())?,
            (None, Some(e)) => {
                for m in &mut e.members {
                    m.model.set_feature_names(names.clone())?;
                }
            }
            (None, None) => {}
        }
        self.feature_names = names;
        Ok(())
    }

    /// The candidates the fit considered (empty for a loaded detector).
    pub fn candidates(&self) -> &[CandidateReport] {
        &self.candidates
    }

    /// Which training columns held a single value (empty for a loaded detector).
    pub fn constant_columns(&self) -> &[bool] {
        &self.constant
    }

    /// The scores of the training rows, as [`FittedDetector::score`] gives them (`None`
    /// for a loaded detector).
    pub fn training_scores(&self) -> Option<&Array1<f64>> {
        self.training_scores.as_ref()
    }

    fn check(&self, x: ArrayView2<f64>) -> Result<()> {
        let d = self.n_features();
        if x.ncols() != d {
            return Err(GmmError::ShapeMismatch {
                what: "data for this anomaly model (columns)".into(),
                expected: format!("{d} columns"),
                got: format!("{} columns", x.ncols()),
            });
        }
        check_finite(x, 0)
    }

    fn standardise(e: &Ensemble, x: ArrayView2<f64>) -> Array2<f64> {
        let mut z = x.to_owned();
        for mut row in z.rows_mut() {
            for j in 0..row.len() {
                row[j] = (row[j] - e.mean[j]) / e.scale[j];
            }
        }
        z
    }

    /// Each member's standardised score of every row (members × rows).
    fn member_scores(e: &Ensemble, z: ArrayView2<f64>) -> Result<Array2<f64>> {
        let mut out = Array2::zeros((e.members.len(), z.nrows()));
        for (i, m) in e.members.iter().enumerate() {
            let s = m.model.score_samples(z)?;
            out.row_mut(i)
                .zip_mut_with(&s, |o, &v| *o = (-v - m.offset) / m.scale);
        }
        Ok(out)
    }

    /// The score of every row, higher is more anomalous: `−ln p(x)` for a single model,
    /// the mean of the members' standardised `−ln p(x)` for an ensemble.
    ///
    /// # Errors
    /// A column count other than the model's, or a non-finite value.
    pub fn score(&self, x: ArrayView2<f64>) -> Result<Array1<f64>> {
        self.check(x)?;
        match (&self.model, &self.ensemble) {
            (Some(m), _) => Ok(m.score_samples(x)?.mapv(|v| -v)),
            (None, Some(e)) => {
                let z = Self::standardise(e, x);
                let s = Self::member_scores(e, z.view())?;
                Ok(s.mean_axis(Axis(0)).expect("members"))
            }
            (None, None) => unreachable!("model or ensemble"),
        }
    }

    /// Whether each row's score is above the threshold.
    ///
    /// # Errors
    /// As [`FittedDetector::score`].
    pub fn predict(&self, x: ArrayView2<f64>) -> Result<Vec<bool>> {
        Ok(self.score(x)?.iter().map(|&s| s > self.threshold).collect())
    }

    /// For each row, the `top` features contributing most to its squared Mahalanobis
    /// distance in its nearest component (the one of highest responsibility), largest
    /// term first. For an ensemble, the component is taken from the member that scores
    /// the row as most anomalous (on the standardised scale, where the terms are in
    /// units of each feature's spread).
    ///
    /// # Errors
    /// As [`FittedDetector::score`].
    pub fn explain(&self, x: ArrayView2<f64>, top: usize) -> Result<Vec<Vec<Contribution>>> {
        self.check(x)?;
        match (&self.model, &self.ensemble) {
            (Some(m), _) => contributions(m, x, top),
            (None, Some(e)) => {
                let z = Self::standardise(e, x);
                let s = Self::member_scores(e, z.view())?;
                let mut out = Vec::with_capacity(x.nrows());
                for r in 0..x.nrows() {
                    let col = s.column(r);
                    let best = (0..col.len())
                        .max_by(|&a, &b| col[a].total_cmp(&col[b]))
                        .expect("members");
                    let row = z.slice(ndarray::s![r..r + 1, ..]);
                    out.extend(contributions(&e.members[best].model, row, top)?);
                }
                Ok(out)
            }
            (None, None) => unreachable!("model or ensemble"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    /// 300 rows of two correlated features and a constant third, plus one row far out
    /// in feature 1 only.
    fn data() -> Array2<f64> {
        let mut x = Array2::from_shape_fn((301, 3), |(i, j)| {
            let t = ((i * 37) % 101) as f64 / 10.0;
            let u = ((i * 53) % 97) as f64 / 30.0;
            match j {
                0 => t,
                1 => 2.0 * t + u,
                _ => 5.0,
            }
        });
        x[[300, 0]] = 5.0;
        x[[300, 1]] = 40.0;
        x
    }

    /// The row with the highest anomaly score.
    fn top_row(s: &ndarray::Array1<f64>) -> usize {
        s.iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0
    }

    #[test]
    fn flags_the_planted_row_and_explains_it() {
        let x = data();
        let det = AnomalyDetector::new().max_k(2).fit(x.view()).unwrap();
        let s = det.score(x.view()).unwrap();
        assert_eq!(top_row(&s), 300);
        assert!(det.predict(x.view()).unwrap()[300]);
        let e = det.explain(x.slice(ndarray::s![300..301, ..]), 1).unwrap();
        assert_eq!(e[0][0].feature, 1);
        // the terms of a row sum to its squared Mahalanobis distance: all of them, > 0
        let all = det.explain(x.view(), 3).unwrap();
        assert!(all[300].iter().map(|c| c.term).sum::<f64>() > 0.0);
    }

    #[test]
    fn noise_option_scores_with_the_gaussians_alone() {
        let x = data();
        let det = AnomalyDetector::new()
            .max_k(2)
            .noise(true)
            .fit(x.view())
            .unwrap();
        // every member is a plain mixture (the noise component dropped, weights summing to 1)
        for m in det.members() {
            assert!(m.noise().is_none());
            assert!((m.weights().sum() - 1.0).abs() < 1e-9);
        }
        let s = det.score(x.view()).unwrap();
        assert_eq!(top_row(&s), 300);
        // it survives the JSON round trip like any ensemble
        let back = FittedDetector::from_json(&det.to_json().unwrap()).unwrap();
        assert_eq!(back.score(x.view()).unwrap(), s);
    }

    #[test]
    fn save_and_load_keep_scores_and_threshold() {
        let x = data();
        let det = AnomalyDetector::new().max_k(2).fit(x.view()).unwrap();
        let back = FittedDetector::from_json(&det.to_json().unwrap()).unwrap();
        assert_eq!(back.threshold(), det.threshold());
        let (a, b) = (det.score(x.view()).unwrap(), back.score(x.view()).unwrap());
        for (p, q) in a.iter().zip(b.iter()) {
            assert!((p - q).abs() <= 1e-9 * p.abs().max(1.0));
        }
    }

    #[test]
    fn ensemble_and_single_model_round_trip_through_json() {
        let x = data();
        let ens = AnomalyDetector::new().fit(x.view()).unwrap();
        assert!(ens.n_members() > 1);
        let text = ens.to_json().unwrap();
        assert!(text.contains("gaussmix_anomaly_ensemble"));
        let back = FittedDetector::from_json(&text).unwrap();
        assert_eq!(back.n_members(), ens.n_members());
        let (a, b) = (ens.score(x.view()).unwrap(), back.score(x.view()).unwrap());
        assert_eq!(ens.training_scores().unwrap(), &a);
        for (p, q) in a.iter().zip(b.iter()) {
            assert!((p - q).abs() <= 1e-9 * p.abs().max(1.0));
        }
        // one model by BIC: the plain model JSON, threshold inside
        let one = AnomalyDetector::new()
            .ensemble(false)
            .fit(x.view())
            .unwrap();
        assert_eq!(one.n_members(), 1);
        let m = GmmModel::from_json(&one.to_json().unwrap()).unwrap();
        assert_eq!(m.anomaly_threshold(), Some(one.threshold()));
        // a corrupt ensemble is refused
        let broken = text.replace("\"threshold\"", "\"thresh\"");
        assert!(FittedDetector::from_json(&broken).is_err());
    }

    #[test]
    fn large_d_full_candidates_that_cannot_hold_their_parameters_are_not_fitted() {
        let x = Array2::from_shape_fn((40, 30), |(i, j)| ((i * 7 + j * 13) % 17) as f64);
        let det = AnomalyDetector::new().fit(x.view()).unwrap();
        let c = det.candidates();
        let full2 = c
            .iter()
            .find(|c| c.k == 2 && c.covariance == CovarianceType::Full)
            .unwrap();
        assert!(!full2.used);
        assert!(
            full2.dropped.as_deref().unwrap().contains("need"),
            "{full2:?}"
        );
        assert!(c
            .iter()
            .any(|c| c.k == 1 && c.covariance == CovarianceType::Full && c.used));
    }

    #[test]
    fn bad_input_is_named() {
        let x = data();
        for c in [0.0, -0.1, 0.6, f64::NAN] {
            let e = AnomalyDetector::new()
                .contamination(c)
                .fit(x.view())
                .unwrap_err();
            assert!(e.to_string().contains("contamination"), "{e}");
        }
        let mut y = x.clone();
        y[[7, 2]] = f64::NAN;
        let e = AnomalyDetector::new().fit(y.view()).unwrap_err();
        assert!(
            matches!(
                e,
                GmmError::NonFinite {
                    row: 7,
                    column: 2,
                    ..
                }
            ),
            "{e}"
        );
        let det = AnomalyDetector::new().max_k(1).fit(x.view()).unwrap();
        let e = det.score(x.slice(ndarray::s![.., 0..2])).unwrap_err();
        assert!(e.to_string().contains("3 columns"), "{e}");
        // a single distinct value everywhere: nothing to learn, a named error
        let c = Array2::from_elem((20, 2), 4.0);
        let e = AnomalyDetector::new().fit(c.view()).unwrap_err();
        assert!(e.to_string().contains("single value"), "{e}");
        // a constant column beside a varying one fits and is reported
        let d = AnomalyDetector::new().max_k(1).fit(x.view()).unwrap();
        assert_eq!(d.constant_columns(), &[false, false, true]);
        // D > N
        let w = Array2::from_shape_fn((5, 12), |(i, j)| ((i * 3 + j * 7) % 5) as f64);
        assert!(AnomalyDetector::new().fit(w.view()).is_ok());
    }

    #[test]
    fn auc_and_ap_match_hand_values() {
        let s = [0.1, 0.4, 0.35, 0.8];
        let y = [false, false, true, true];
        assert!((roc_auc(&s, &y).unwrap() - 0.75).abs() < 1e-12);
        // scikit-learn: average_precision_score([0,0,1,1],[0.1,0.4,0.35,0.8]) = 0.8333…
        assert!((average_precision(&s, &y).unwrap() - 0.833_333_333_333_333_4).abs() < 1e-12);
        // ties count one half
        assert!((roc_auc(&[1.0, 1.0], &[false, true]).unwrap() - 0.5).abs() < 1e-12);
        assert!(roc_auc(&[1.0], &[true]).is_none());
    }

    #[test]
    fn threshold_is_a_quantile() {
        let s = Array1::from_iter((0..101).map(f64::from));
        assert!((threshold(s.view(), 0.01) - 99.0).abs() < 1e-12);
        assert!((threshold(s.view(), 0.0) - 100.0).abs() < 1e-12);
    }

    #[test]
    fn raw_scale_model_scores_shift_by_log_scales() {
        let x = array![
            [1.0, 100.0],
            [2.0, 300.0],
            [3.0, 200.0],
            [2.5, 250.0],
            [1.5, 120.0]
        ];
        let st = Standardiser::fit(x.view());
        let z = st.transform(x.view());
        for ct in CovarianceType::ALL {
            let m = GaussianMixture::new(1)
                .covariance_type(ct)
                .fit(z.view())
                .unwrap();
            let raw = st.to_raw(&m).unwrap();
            let lz = m.score_samples(z.view()).unwrap();
            let lx = raw.score_samples(x.view()).unwrap();
            let shift: f64 = st.scale.iter().map(|s| s.ln()).sum();
            for (a, b) in lz.iter().zip(lx.iter()) {
                assert!((a - shift - b).abs() < 1e-9, "{ct}: {a} {b}");
            }
        }
    }
}
