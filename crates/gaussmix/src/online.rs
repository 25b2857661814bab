//! Online EM (Cappé & Moulines 2009): a mixture fitted batch by batch, for data that
//! arrive as a stream and are seen once.
//!
//! The state is a blend of the per-row sufficient statistics of the batches seen,
//!
//! ```text
//! s_t = (1 − γ_t) s_{t−1} + γ_t ŝ(batch_t) / n_t,        γ_t ∈ (0, 1],
//! ```
//!
//! where `ŝ(batch_t)` are the statistics of batch `t` (of total weight `n_t`) under the
//! current parameters (one E-step) and `s_t` is therefore a per-row average. After every
//! batch the parameters are the ordinary M-step of `n_eff · s_t`, through the family's own
//! M-step with `reg_covar` and the prior as in batch EM, with the effective sample size
//! `n_eff = n_t / γ_t` (the number of rows the blend remembers; it only matters for a
//! prior). The statistics are kept about the current means, so blending stays exact for
//! data far from the origin.
//!
//! The step size ([`StepSize`]):
//!
//! * [`StepSize::Decay`] (the default): `γ_t = (t + t0)^(−κ)`, `κ ∈ (½, 1]`, `t0 ≥ 0`,
//!   `t` the number of batches seen including this one. `κ ∈ (½, 1]` is Cappé & Moulines'
//!   condition for convergence to a stationary point (Σγ = ∞, Σγ² < ∞); smaller `κ`
//!   forgets old batches faster. Defaults `κ = 0.6`, `t0 = 2` (`γ_t = (t + 2)^(−0.6)`,
//!   the design notes' schedule): with `κ` near ½ early, poorly placed batches fade while
//!   the noise of later ones still averages out.
//! * [`StepSize::Cumulative`]: `γ_t = n_t / Σ_{s≤t} n_s`. Then `n_eff · s_t` equals the
//!   sum of the batch statistics `Σ_s ŝ(batch_s)` (each under the parameters current when
//!   it was seen), so one pass is incremental EM: the same M-step as batch EM on all rows
//!   seen, with each row's responsibilities from the time it arrived. With equal batches
//!   it is `Decay { decay: 1, offset: 0 }`.
//! * [`StepSize::Fixed`]: a constant `γ`, which never stops adapting: it tracks a drifting
//!   distribution with a memory of about `n_t / γ` rows.
//!
//! The first batch initialises: from the builder's own initialisation and EM on that
//! batch (so its `max_iter`, `init` and `seed` apply), with at least
//! [`DEFAULT_INIT_STARTS`] starts (the larger of the builder's `n_init` and
//! [`OnlineEm::init_starts`]), or from a given model ([`OnlineEm::from_model`]); its
//! statistics are then taken whole (`γ_1 = 1`). Online EM stays in the basin of its start
//! (as batch EM does), and a batch is small, so the extra starts are cheap and pay: on
//! the P2 benchmark (1M × 16, K = 16 full, batches of 10,000) three passes from one start
//! ended between −22.48 and −22.23 in mean log-likelihood over 16 seeds (mean −22.36),
//! from five starts between −22.28 and −22.16 (mean −22.24; the generating parameters
//! score −22.16; seeds 0–7 chose the default, 8–15 confirmed it), each extra start
//! costing a fifth or less of one batch-EM iteration on all rows (`bench/online.py`).
//! Every step is deterministic for a seed, whatever the thread count.
//!
//! ```
//! use gaussmix::{GaussianMixture, online::OnlineEm};
//! use ndarray::Array2;
//! let x = Array2::from_shape_fn((2000, 1), |(i, _)| if i % 2 == 0 { (i % 7) as f64 * 0.1 } else { 10.0 + (i % 5) as f64 * 0.1 });
//! let mut online = OnlineEm::new(GaussianMixture::new(2).seed(0));
//! for batch in x.axis_chunks_iter(ndarray::Axis(0), 200) {
//!     online.partial_fit(batch, None)?;
//! }
//! let model = online.model().expect("fitted");
//! assert_eq!(online.n_batches(), 10);
//! assert!(model.score(x.view())? > -2.0);
//! # Ok::<(), gaussmix::GmmError>(())
//! ```

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::covariance::family::{Prior, PriorScale};
use crate::covariance::SecondMoments;
use crate::em::GaussianMixture;
use crate::error::{GmmError, Result};
use crate::float::Float;
use crate::missing::MissingValues;
use crate::model::{FitInfo, GmmModel, ModelFile};
use crate::stats::{MStepOptions, SufficientStatistics};

/// Version of the `online` member of a model JSON ([`OnlineEm::to_json`]).
pub const ONLINE_FORMAT_VERSION: u32 = 1;

/// The fewest initialisations the first batch is fitted with (see the
/// [module notes](self)); [`OnlineEm::init_starts`] changes it.
pub const DEFAULT_INIT_STARTS: usize = 5;

/// The step-size schedule `γ_t` of online EM (see the [module notes](self)).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StepSize {
    /// `γ_t = (t + offset)^(−decay)`, `decay ∈ (½, 1]`, `offset ≥ 0`.
    Decay {
        /// κ, the decay exponent.
        decay: f64,
        /// t0, the offset.
        offset: f64,
    },
    /// `γ_t = n_t / Σ_{s≤t} n_s` (incremental EM: the batch statistics of all rows seen).
    Cumulative,
    /// A constant `γ ∈ (0, 1]` (tracks a drifting distribution).
    Fixed(f64),
}

impl Default for StepSize {
    /// `Decay { decay: 0.6, offset: 2.0 }`.
    fn default() -> Self {
        StepSize::Decay {
            decay: 0.6,
            offset: 2.0,
        }
    }
}

impl StepSize {
    /// Checks the parameters.
    ///
    /// # Errors
    /// [`GmmError::InvalidParam`] for a decay outside `(½, 1]`, a negative or non-finite
    /// offset, or a fixed step outside `(0, 1]`.
    pub fn validate(&self) -> Result<()> {
        match *self {
            StepSize::Decay { decay, offset } => {
                if !(decay > 0.5 && decay <= 1.0) {
                    return Err(GmmError::InvalidParam {
                        name: "step_decay",
                        value: decay.to_string(),
                        reason:
                            "must lie in (0.5, 1] (Cappé & Moulines' condition for convergence)"
                                .into(),
                    });
                }
                if !(offset.is_finite() && offset >= 0.0) {
                    return Err(GmmError::InvalidParam {
                        name: "step_offset",
                        value: offset.to_string(),
                        reason: "must be finite and ≥ 0".into(),
                    });
                }
            }
            StepSize::Fixed(g) => {
                if !(g > 0.0 && g <= 1.0) {
                    return Err(GmmError::InvalidParam {
                        name: "step_size",
                        value: g.to_string(),
                        reason: "a fixed step must lie in (0, 1]".into(),
                    });
                }
            }
            StepSize::Cumulative => {}
        }
        Ok(())
    }

    /// `γ_t` for batch `t` (1-based) of weight `n_t`, after `seen` total weight
    /// (including this batch).
    pub fn gamma(&self, t: u64, n_t: f64, seen: f64) -> f64 {
        if t <= 1 {
            return 1.0;
        }
        match *self {
            StepSize::Decay { decay, offset } => (t as f64 + offset).powf(-decay).min(1.0),
            StepSize::Cumulative => (n_t / seen).min(1.0),
            StepSize::Fixed(g) => g,
        }
    }
}

/// What one [`OnlineEm::partial_fit`] did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OnlineStep {
    /// The batch number `t` (1 for the first).
    pub t: u64,
    /// The step size `γ_t` used.
    pub gamma: f64,
    /// Rows in the batch.
    pub rows: usize,
    /// Mean log-likelihood per (weighted) row of the batch under the parameters before
    /// this step (a held-out score for every batch after the first).
    pub batch_log_likelihood: f64,
}

#[derive(Debug, Clone)]
struct State {
    model: GmmModel,
    /// Per-row blend about the model's means (weight sum 1), `None` before the first batch.
    stats: Option<SufficientStatistics>,
    t: u64,
    rows_seen: u64,
    weight_seen: f64,
    n_eff: f64,
    mstep: Option<MStepOptions>,
}

impl State {
    /// A model that no batch has updated yet.
    fn fresh(model: GmmModel) -> State {
        State {
            model,
            stats: None,
            t: 0,
            rows_seen: 0,
            weight_seen: 0.0,
            n_eff: 0.0,
            mstep: None,
        }
    }
}

/// Online EM over batches of rows (see the [module notes](self)).
#[derive(Debug, Clone)]
pub struct OnlineEm {
    builder: GaussianMixture,
    step: StepSize,
    init_starts: usize,
    state: Option<State>,
}

impl OnlineEm {
    /// Online EM with the estimator's options (K, covariance type, `reg_covar`, prior,
    /// missing values, parallelism; its initialisation options for the first batch) and
    /// the default step size.
    pub fn new(builder: GaussianMixture) -> Self {
        OnlineEm {
            builder,
            step: StepSize::default(),
            init_starts: DEFAULT_INIT_STARTS,
            state: None,
        }
    }

    /// Online EM continuing from a fitted model: the first batch is not used to
    /// initialise, its statistics under `model` start the blend.
    ///
    /// # Errors
    /// [`GmmError::ShapeMismatch`] when the model's K or covariance type differ from the
    /// builder's.
    pub fn from_model(builder: GaussianMixture, model: GmmModel) -> Result<Self> {
        if model.n_components() != builder.n_components_value()
            || model.covariance_type() != builder.covariance_type_value()
        {
            return Err(GmmError::ShapeMismatch {
                what: "online EM start model".into(),
                expected: format!(
                    "{} components, {}",
                    builder.n_components_value(),
                    builder.covariance_type_value()
                ),
                got: format!(
                    "{} components, {}",
                    model.n_components(),
                    model.covariance_type()
                ),
            });
        }
        Ok(OnlineEm {
            builder,
            step: StepSize::default(),
            init_starts: DEFAULT_INIT_STARTS,
            state: Some(State::fresh(model)),
        })
    }

    /// Sets the step-size schedule.
    pub fn step_size(mut self, step: StepSize) -> Self {
        self.step = step;
        self
    }

    /// The step-size schedule.
    pub fn step_size_value(&self) -> StepSize {
        self.step
    }

    /// The fewest initialisations of the first batch (default [`DEFAULT_INIT_STARTS`];
    /// the builder's `n_init` when larger; 0 counts as 1). `1` fits the first batch
    /// exactly as the builder's own `fit` would. Unused when starting from a model.
    pub fn init_starts(mut self, n: usize) -> Self {
        self.init_starts = n.max(1);
        self
    }

    /// The fewest initialisations of the first batch.
    pub fn init_starts_value(&self) -> usize {
        self.init_starts
    }

    /// The current model (`None` before the first batch without a start model).
    pub fn model(&self) -> Option<&GmmModel> {
        self.state.as_ref().map(|s| &s.model)
    }

    /// Names the current model's features (later steps keep them).
    ///
    /// # Errors
    /// [`GmmError::InvalidParam`] before the first batch; [`GmmError::ShapeMismatch`]
    /// unless there is one name per feature.
    pub fn set_feature_names(&mut self, names: Vec<String>) -> Result<()> {
        match &mut self.state {
            Some(s) => s.model.set_feature_names(names),
            None => Err(GmmError::InvalidParam {
                name: "feature_names",
                value: format!("{names:?}"),
                reason: "there is no model before the first batch".into(),
            }),
        }
    }

    /// Batches seen.
    pub fn n_batches(&self) -> u64 {
        self.state.as_ref().map_or(0, |s| s.t)
    }

    /// Rows seen over all batches.
    pub fn n_rows_seen(&self) -> u64 {
        self.state.as_ref().map_or(0, |s| s.rows_seen)
    }

    /// Total row weight seen over all batches.
    pub fn weight_seen(&self) -> f64 {
        self.state.as_ref().map_or(0.0, |s| s.weight_seen)
    }

    /// The blended per-row statistics `s_t` (weight sum 1), about the current means.
    pub fn statistics(&self) -> Option<&SufficientStatistics> {
        self.state.as_ref().and_then(|s| s.stats.as_ref())
    }

    /// The effective sample size `n_t / γ_t` the last M-step scaled the blend by (0
    /// before the first batch).
    pub fn effective_size(&self) -> f64 {
        self.state.as_ref().map_or(0.0, |s| s.n_eff)
    }

    /// One online-EM step on a batch: E-step under the current parameters, blend, M-step.
    /// The first call without a start model initialises from the batch (the builder's
    /// fit). On error the state is unchanged.
    ///
    /// # Errors
    /// [`GmmError::EmptyData`] for an empty batch; [`GmmError::ShapeMismatch`] naming
    /// the column counts when the batch's width differs from the model's (or `weights`'
    /// length from the rows'); [`GmmError::NonFinite`] for NaN/∞ (NaN is allowed with
    /// [`MissingValues::Em`]); [`GmmError::InvalidWeights`] for bad weights or a batch of
    /// total weight zero; [`GmmError::InvalidParam`] for a bad step size; the errors of
    /// the fit and of the M-step ([`GmmError::IllDefinedCovariance`]).
    pub fn partial_fit<T: Float>(
        &mut self,
        x: ArrayView2<T>,
        weights: Option<ArrayView1<f64>>,
    ) -> Result<OnlineStep> {
        self.step.validate()?;
        crate::validate::check_nonempty(x)?;
        if let Some(w) = weights {
            crate::validate::check_weights(w, x.nrows())?;
        }
        let missing = self.builder.missing_value() == MissingValues::Em;
        let mut state = match &self.state {
            Some(s) => {
                s.model.check_data(x)?;
                s.clone()
            }
            None => {
                let starts = self.builder.n_init_value().max(self.init_starts);
                let builder = self.builder.clone().n_init(starts);
                let model = match weights {
                    Some(w) => builder.fit_weighted(x, w)?,
                    None => builder.fit(x)?,
                };
                State::fresh(model)
            }
        };
        let (mstep, par) = match &state.mstep {
            Some(m) => (m.clone(), self.builder.parallelism_value()),
            None => {
                let (m, p) = if missing {
                    // prior hyperparameters from the rows' mean-imputed values
                    let xi = crate::missing::mean_imputed(x);
                    self.builder.online_parts(xi.view(), weights)?
                } else {
                    self.builder.online_parts(x, weights)?
                };
                state.mstep = Some(m.clone());
                (m, p)
            }
        };
        let batch = if missing {
            SufficientStatistics::from_chunk_missing(&state.model, x, weights, par)?
        } else {
            SufficientStatistics::from_chunk_par(&state.model, x, weights, par)?
        };
        let n_t = batch.weight_sum;
        if n_t.is_nan() || n_t <= 0.0 {
            return Err(GmmError::InvalidWeights {
                reason: "the batch's total weight is zero".into(),
            });
        }
        let batch_ll = batch.log_likelihood / n_t;
        state.t += 1;
        state.rows_seen = state.rows_seen.saturating_add(x.nrows() as u64);
        state.weight_seen += n_t;
        let gamma = if state.stats.is_none() {
            1.0
        } else {
            self.step.gamma(state.t, n_t, state.weight_seen)
        };
        let mut blend = batch.clone();
        blend.scale(gamma / n_t);
        if let Some(old) = &state.stats {
            let mut old = old.clone();
            old.scale(1.0 - gamma);
            old.n_samples = 0;
            blend.merge(&old)?;
        }
        blend.n_samples = state.rows_seen;
        // the M-step on n_eff · s_t (n_eff = n_t / γ_t)
        let n_eff = n_t / gamma;
        let mut counts = blend.clone();
        counts.scale(n_eff);
        let mut model = counts.finalize_with(&mstep, Some(state.model.covariances()))?;
        if state.model.feature_names().len() == model.n_features() {
            model.set_feature_names(state.model.feature_names().to_vec())?;
        }
        model.set_info(FitInfo {
            converged: false,
            n_iter: state.t as usize,
            lower_bound: blend.log_likelihood,
            lower_bounds: Vec::new(),
        });
        // keep the blend about the new means
        state.stats = Some(blend.shifted(model.means().view())?);
        state.n_eff = n_eff;
        state.model = model;
        self.state = Some(state);
        Ok(OnlineStep {
            t: self.n_batches(),
            gamma,
            rows: x.nrows(),
            batch_log_likelihood: batch_ll,
        })
    }

    /// The model JSON ([`GmmModel::to_json`]'s layout) with an `online` member holding
    /// the state that lets later batches continue the schedule (see docs/formats.md):
    /// `format_version`, `t`, `rows_seen`, `weight_seen`, `step`, `reg_covar`,
    /// `equal_weights`, `prior`, and `statistics`, the [`SufficientStatistics::to_bytes`]
    /// bytes in hexadecimal. Readers of plain model files ignore the member.
    ///
    /// # Errors
    /// [`GmmError::InvalidParam`] before the first batch, or with fixed parameters (they
    /// are not stored); [`GmmError::InvalidModel`] for non-finite values.
    pub fn to_json(&self) -> Result<String> {
        let state = self.state.as_ref().ok_or_else(|| GmmError::InvalidParam {
            name: "online",
            value: "no batch".into(),
            reason: "nothing to save before the first batch".into(),
        })?;
        state.model.validate()?;
        let mstep = state.mstep.clone().unwrap_or_default();
        if mstep.fixed_means.is_some()
            || mstep.fixed_weights.is_some()
            || mstep.fixed_covariances.is_some()
        {
            return Err(GmmError::InvalidParam {
                name: "online",
                value: "fixed parameters".into(),
                reason: "an online state with fixed weights, means or covariances cannot be saved"
                    .into(),
            });
        }
        let file = OnlineFile {
            format_version: ONLINE_FORMAT_VERSION,
            t: state.t,
            rows_seen: state.rows_seen,
            weight_seen: state.weight_seen,
            step: self.step,
            reg_covar: state
                .mstep
                .as_ref()
                .map_or(self.builder.reg_covar_value(), |m| m.reg_covar),
            equal_weights: mstep.equal_weights,
            prior: mstep.prior.as_ref().map(PriorFile::from_prior),
            statistics: state.stats.as_ref().map(|s| hex(&s.to_bytes())),
        };
        let invalid = |e: serde_json::Error| GmmError::InvalidModel {
            reason: e.to_string(),
        };
        let mut v = serde_json::to_value(ModelFile::from_model(&state.model)).map_err(invalid)?;
        let online = serde_json::to_value(&file).map_err(invalid)?;
        match &mut v {
            serde_json::Value::Object(m) => {
                m.insert("online".into(), online);
            }
            _ => unreachable!("a model file is a JSON object"),
        }
        serde_json::to_string_pretty(&v).map_err(invalid)
    }

    /// Restores online EM from [`OnlineEm::to_json`]'s output, or starts it from a plain
    /// model JSON (no `online` member: the next batch's statistics are taken whole, as
    /// with [`OnlineEm::from_model`]). The stored step size, `reg_covar` and prior are
    /// used; the builder supplies the parallelism and missing-value policy (its K and
    /// covariance type are taken from the model).
    ///
    /// # Errors
    /// [`GmmError::Decode`] for malformed JSON, an unsupported `online.format_version`, or
    /// statistics that do not fit the model; the errors of [`GmmModel::from_json`].
    pub fn from_json(builder: GaussianMixture, s: &str) -> Result<Self> {
        let err = |reason: String| GmmError::Decode {
            what: "online model JSON",
            reason,
        };
        let mut v: serde_json::Value = serde_json::from_str(s).map_err(|e| err(e.to_string()))?;
        let online = v.as_object_mut().and_then(|m| m.remove("online"));
        let text = serde_json::to_string(&v).map_err(|e| err(e.to_string()))?;
        let model = GmmModel::from_json(&text)?;
        let builder = builder
            .with_n_components(model.n_components())
            .covariance_type(model.covariance_type());
        let mut out = OnlineEm::from_model(builder, model)?;
        let Some(online) = online else {
            return Ok(out);
        };
        let file: OnlineFile =
            serde_json::from_value(online).map_err(|e| err(format!("online: {e}")))?;
        if file.format_version != ONLINE_FORMAT_VERSION {
            return Err(err(format!(
                "online.format_version {} is not supported (this gaussmix reads {ONLINE_FORMAT_VERSION})",
                file.format_version
            )));
        }
        file.step
            .validate()
            .map_err(|e| err(format!("online.step: {e}")))?;
        let state = out.state.as_mut().expect("from_model sets a state");
        let stats = match &file.statistics {
            None => None,
            Some(h) => {
                let bytes = unhex(h).ok_or_else(|| err("online.statistics is not hex".into()))?;
                let st = SufficientStatistics::from_bytes(&bytes)?;
                if st.covariance_type() != state.model.covariance_type()
                    || st.shift.dim() != state.model.means().dim()
                {
                    return Err(err(
                        "online.statistics do not match the model's K, D or covariance type".into(),
                    ));
                }
                Some(st.shifted(state.model.means().view())?)
            }
        };
        state.t = if stats.is_some() { file.t } else { 0 };
        state.rows_seen = file.rows_seen;
        state.weight_seen = file.weight_seen;
        state.stats = stats;
        state.mstep = Some(MStepOptions {
            reg_covar: file.reg_covar,
            prior: file.prior.map(PriorFile::into_prior).transpose()?,
            equal_weights: file.equal_weights,
            ..Default::default()
        });
        out.step = file.step;
        Ok(out)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct OnlineFile {
    format_version: u32,
    t: u64,
    rows_seen: u64,
    weight_seen: f64,
    step: StepSize,
    reg_covar: f64,
    #[serde(default)]
    equal_weights: bool,
    #[serde(default)]
    prior: Option<PriorFile>,
    statistics: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct PriorFile {
    shrinkage: f64,
    mean: Vec<f64>,
    dof: f64,
    #[serde(default)]
    scale_matrix: Option<Vec<Vec<f64>>>,
    #[serde(default)]
    scale_scalar: Option<f64>,
}

impl PriorFile {
    fn from_prior(p: &Prior) -> Self {
        let (m, s) = match &p.scale {
            PriorScale::Matrix(m) => (Some(m.outer_iter().map(|r| r.to_vec()).collect()), None),
            PriorScale::Scalar(s) => (None, Some(*s)),
        };
        PriorFile {
            shrinkage: p.shrinkage,
            mean: p.mean.to_vec(),
            dof: p.dof,
            scale_matrix: m,
            scale_scalar: s,
        }
    }

    fn into_prior(self) -> Result<Prior> {
        let d = self.mean.len();
        let scale = match (self.scale_matrix, self.scale_scalar) {
            (Some(m), None) if m.len() == d && m.iter().all(|r| r.len() == d) => {
                PriorScale::Matrix(Array2::from_shape_fn((d, d), |(i, j)| m[i][j]))
            }
            (None, Some(s)) => PriorScale::Scalar(s),
            _ => {
                return Err(GmmError::Decode {
                    what: "online model JSON",
                    reason: format!("online.prior needs a {d}×{d} scale_matrix or a scale_scalar"),
                })
            }
        };
        Ok(Prior {
            shrinkage: self.shrinkage,
            mean: Array1::from(self.mean),
            dof: self.dof,
            scale,
        })
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.is_ascii() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

impl SufficientStatistics {
    /// The same statistics taken about another shift `b` (K×D): with `δ_k = s_k − b_k`,
    /// `Σγ(x−b) = Σγ(x−s) + N_k δ_k` and
    /// `Σγ(x−b)(x−b)ᵀ = Σγ(x−s)(x−s)ᵀ + Σγ(x−s) δᵀ + δ Σγ(x−s)ᵀ + N_k δδᵀ`
    /// (summed over components for tied, the diagonal for diag and spherical). The
    /// M-step of the result is that of `self` up to rounding; statistics of different
    /// models can be merged once shifted to a common shift.
    ///
    /// # Errors
    /// [`GmmError::ShapeMismatch`] when `shift` is not K×D or not finite.
    pub fn shifted(&self, shift: ArrayView2<f64>) -> Result<Self> {
        let (k, d) = self.shift.dim();
        if shift.dim() != (k, d) || shift.iter().any(|v| !v.is_finite()) {
            return Err(GmmError::ShapeMismatch {
                what: "new shift of sufficient statistics".into(),
                expected: format!("finite [{k}, {d}]"),
                got: format!("{:?}", shift.shape()),
            });
        }
        let mut out = self.clone();
        let delta = &self.shift - &shift;
        match &mut out.s2 {
            SecondMoments::Full(s2) => {
                for c in 0..k {
                    for i in 0..d {
                        for j in 0..=i {
                            s2[[c, i, j]] += self.s1[[c, i]] * delta[[c, j]]
                                + delta[[c, i]] * self.s1[[c, j]]
                                + self.nk[c] * delta[[c, i]] * delta[[c, j]];
                        }
                    }
                }
            }
            SecondMoments::Tied(s2) => {
                for c in 0..k {
                    for i in 0..d {
                        for j in 0..=i {
                            s2[[i, j]] += self.s1[[c, i]] * delta[[c, j]]
                                + delta[[c, i]] * self.s1[[c, j]]
                                + self.nk[c] * delta[[c, i]] * delta[[c, j]];
                        }
                    }
                }
            }
            SecondMoments::Diag(s2) => {
                for c in 0..k {
                    for i in 0..d {
                        s2[[c, i]] += 2.0 * self.s1[[c, i]] * delta[[c, i]]
                            + self.nk[c] * delta[[c, i]] * delta[[c, i]];
                    }
                }
            }
        }
        for c in 0..k {
            for i in 0..d {
                out.s1[[c, i]] += self.nk[c] * delta[[c, i]];
            }
        }
        out.shift = shift.to_owned();
        Ok(out)
    }

    /// Multiplies every additive statistic (not the row count) by `f`.
    fn scale(&mut self, f: f64) {
        self.nk *= f;
        self.s1 *= f;
        self.s2.as_slice_mut().iter_mut().for_each(|v| *v *= f);
        self.log_likelihood *= f;
        self.weight_sum *= f;
        self.noise_nk *= f;
    }
}
