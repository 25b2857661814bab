//! Anomaly detection with a Gaussian mixture: a row's score is `−ln p(x)` (higher is
//! more anomalous) and it is flagged when its score exceeds a threshold, the
//! `1 − contamination` quantile of the training scores.
//!
//! [`AnomalyDetector::fit`] standardises every feature (a constant column keeps scale 1),
//! fits k = 1..=`max_k` mixtures of the chosen families, drops candidates with a
//! component on fewer than `min_points` effective rows per free parameter, keeps the
//! lowest BIC and stores the chosen model on the raw feature scale, threshold included,
//! so [`FittedDetector::to_json`] / [`FittedDetector::from_json`] round-trip it.
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

use crate::validate::{check_finite, check_nonempty};
use crate::{CovarianceType, Covariances, GaussianMixture, GmmError, GmmModel, Result};

/// Per-feature mean and scale (population standard deviation; 1 for a constant column).
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
            // a constant (or nearly constant) column keeps its raw scale
            if s.is_finite() && s > 0.0 && s > 1e-12 * m.abs().max(1e-300) {
                s
            } else {
                constant[j] = true;
                1.0
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
}

impl Default for AnomalyDetector {
    fn default() -> Self {
        AnomalyDetector {
            max_k: 4,
            ks: None,
            families: vec![CovarianceType::Full],
            reg_covar: 0.1,
            n_init: 3,
            seed: 0,
            min_points: 5.0,
            contamination: 0.01,
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

impl AnomalyDetector {
    /// The defaults: k = 1..=4 full covariances, `reg_covar` 0.1 on the standardised
    /// scale, 3 initialisations, seed 0, 5 rows per parameter, contamination 0.01.
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
        let n = x.nrows();
        let st = Standardiser::fit(x);
        if st.constant.iter().all(|&c| c) {
            return Err(GmmError::InvalidParam {
                name: "data",
                value: format!("{n} rows × {} columns", x.ncols()),
                reason: "every column holds a single value: there is nothing to tell anomalies by"
                    .into(),
            });
        }
        let z = st.transform(x);
        let mut best: Option<(usize, f64)> = None;
        let mut fallback: Option<(usize, f64)> = None;
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
                if k > n {
                    rep.dropped = Some(format!("{k} components for {n} rows"));
                    cands.push(rep);
                    models.push(None);
                    continue;
                }
                let fit = GaussianMixture::new(k)
                    .covariance_type(fam)
                    .n_init(self.n_init)
                    .reg_covar(self.reg_covar)
                    .max_iter(200)
                    .seed(self.seed)
                    .fit(z.view());
                let m = match fit {
                    Ok(m) => m,
                    Err(e) => {
                        rep.dropped = Some(format!("fit failed: {e}"));
                        last_err = Some(e);
                        cands.push(rep);
                        models.push(None);
                        continue;
                    }
                };
                let bic = m.bic(z.view())?;
                rep.bic = Some(bic);
                let i = cands.len();
                if bic.is_finite() {
                    let thin = thin_component(&m, n, self.min_points);
                    let slot = if thin.is_some() {
                        &mut fallback
                    } else {
                        &mut best
                    };
                    rep.dropped = thin;
                    if slot.as_ref().is_none_or(|(_, b)| bic < *b) {
                        *slot = Some((i, bic));
                    }
                } else {
                    rep.dropped = Some("non-finite BIC".into());
                }
                cands.push(rep);
                models.push(Some(m));
            }
        }
        let (chosen, _) = best.or(fallback).ok_or_else(|| {
            last_err.unwrap_or(GmmError::InvalidModel {
                reason: "no candidate mixture could be fitted".into(),
            })
        })?;
        cands[chosen].used = true;
        let model = models[chosen].take().expect("chosen candidate fitted");
        let raw = st.to_raw(&model)?;
        let scores = raw.score_samples(x)?.mapv(|v| -v);
        let thr = threshold(scores.view(), self.contamination);
        let mut det = FittedDetector::from_model_with_threshold(raw, thr)?;
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
    /// Its BIC on the standardised data (lower is better), when it was fitted.
    pub bic: Option<f64>,
    /// Why it was left out of the choice, if it was.
    pub dropped: Option<String>,
    /// Whether the detector uses it.
    pub used: bool,
}

/// A fitted detector: a mixture on the raw feature scale and its threshold.
#[derive(Debug, Clone)]
pub struct FittedDetector {
    model: GmmModel,
    threshold: f64,
    candidates: Vec<CandidateReport>,
    constant: Vec<bool>,
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

impl FittedDetector {
    /// A detector from a model and a threshold (stored into the model).
    ///
    /// # Errors
    /// A non-finite threshold.
    pub fn from_model_with_threshold(mut model: GmmModel, threshold: f64) -> Result<Self> {
        model.set_anomaly_threshold(Some(threshold))?;
        Ok(FittedDetector {
            model,
            threshold,
            candidates: Vec::new(),
            constant: Vec::new(),
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
        Ok(FittedDetector {
            model,
            threshold,
            candidates: Vec::new(),
            constant: Vec::new(),
        })
    }

    /// The model JSON, threshold included.
    ///
    /// # Errors
    /// Serialisation failure.
    pub fn to_json(&self) -> Result<String> {
        self.model.to_json()
    }

    /// Reads a detector saved by [`FittedDetector::to_json`].
    ///
    /// # Errors
    /// A corrupt model, or one without a threshold.
    pub fn from_json(s: &str) -> Result<Self> {
        Self::from_model(GmmModel::from_json(s)?)
    }

    /// The mixture (raw feature scale).
    pub fn model(&self) -> &GmmModel {
        &self.model
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
        self.model.set_anomaly_threshold(Some(threshold))?;
        self.threshold = threshold;
        Ok(())
    }

    /// Names the features (stored in the model JSON).
    ///
    /// # Errors
    /// A number of names other than the model's features.
    pub fn set_feature_names(&mut self, names: Vec<String>) -> Result<()> {
        self.model.set_feature_names(names)
    }

    /// The candidates the fit considered (empty for a loaded detector).
    pub fn candidates(&self) -> &[CandidateReport] {
        &self.candidates
    }

    /// Which training columns held a single value (empty for a loaded detector).
    pub fn constant_columns(&self) -> &[bool] {
        &self.constant
    }

    fn check(&self, x: ArrayView2<f64>) -> Result<()> {
        let d = self.model.n_features();
        if x.ncols() != d {
            return Err(GmmError::ShapeMismatch {
                what: "data for this anomaly model (columns)".into(),
                expected: format!("{d} columns"),
                got: format!("{} columns", x.ncols()),
            });
        }
        check_finite(x, 0)
    }

    /// `−ln p(x)` of every row: higher is more anomalous.
    ///
    /// # Errors
    /// A column count other than the model's, or a non-finite value.
    pub fn score(&self, x: ArrayView2<f64>) -> Result<Array1<f64>> {
        self.check(x)?;
        Ok(self.model.score_samples(x)?.mapv(|v| -v))
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
    /// term first.
    ///
    /// # Errors
    /// As [`FittedDetector::score`].
    pub fn explain(&self, x: ArrayView2<f64>, top: usize) -> Result<Vec<Vec<Contribution>>> {
        self.check(x)?;
        let labels = self.model.predict(x)?;
        let d = x.ncols();
        let means = self.model.means();
        let prec = self.model.precisions();
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

    #[test]
    fn flags_the_planted_row_and_explains_it() {
        let x = data();
        let det = AnomalyDetector::new().max_k(2).fit(x.view()).unwrap();
        let s = det.score(x.view()).unwrap();
        let top = s
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0;
        assert_eq!(top, 300);
        assert!(det.predict(x.view()).unwrap()[300]);
        let e = det.explain(x.slice(ndarray::s![300..301, ..]), 1).unwrap();
        assert_eq!(e[0][0].feature, 1);
        // the terms of a row sum to its squared Mahalanobis distance: all of them, > 0
        let all = det.explain(x.view(), 3).unwrap();
        assert!(all[300].iter().map(|c| c.term).sum::<f64>() > 0.0);
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
