//! Checkpoints of a running EM fit, so that a fit killed part-way (by the machine, a
//! scheduler, Ctrl-C) resumes where it was and ends with the same model, bit for bit, as
//! a fit never interrupted.
//!
//! A checkpoint holds everything the EM loop carries from one iteration to the next: the
//! current parameters (exactly: JSON numbers round-trip `f64`), the initialisation being
//! run, the lower bounds so far, the re-seed count of the degeneracy policy, and the best
//! fit of the initialisations already finished. It also records the options of the fit
//! and a fingerprint of the data, so that resuming with other data or options is refused
//! by name instead of silently mixing two fits.
//!
//! The library does not write files itself: [`Checkpointer`] hands each due checkpoint to
//! a sink (the command-line tool writes it atomically), and [`EmCheckpoint::from_json`]
//! reads one back for [`Checkpointer::resume`].
//!
//! ```
//! use gaussmix::{checkpoint::{Checkpointer, EmCheckpoint}, GaussianMixture};
//! use ndarray::array;
//! let x = array![[0.0, 0.1], [0.2, -0.1], [-0.1, 0.0], [5.0, 5.1], [5.2, 4.9], [4.9, 5.0]];
//! let g = GaussianMixture::new(2).tol(0.0).max_iter(6);
//! let mut saved: Vec<String> = Vec::new();
//! let mut sink = |c: &EmCheckpoint| { saved.push(c.to_json()?); Ok(()) };
//! let whole = g.fit_checkpointed(x.view(), None, &mut |_| {}, &mut Checkpointer::every_iterations(2, &mut sink))?;
//! // resume from the checkpoint written after iteration 2
//! let ckpt = EmCheckpoint::from_json(&saved[0])?;
//! assert_eq!(ckpt.iterations_done(), 2);
//! let mut ignore = |_: &EmCheckpoint| Ok(());
//! let resumed = g.fit_checkpointed(x.view(), None, &mut |_| {}, &mut Checkpointer::every_iterations(2, &mut ignore).resume(ckpt))?;
//! assert_eq!(resumed, whole);
//! # Ok::<(), gaussmix::GmmError>(())
//! ```

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ndarray::{ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::error::{GmmError, Result};
use crate::float::Float;
use crate::model::{FitInfo, GmmModel, ModelFile};

/// Version of the checkpoint JSON layout written by this library.
pub const CHECKPOINT_FORMAT_VERSION: u32 = 1;

/// What identifies the data of a fit: its shape and a 64-bit fingerprint of every value
/// and weight (not a cryptographic hash: it tells data sets apart, it does not defend
/// against forgery).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataFingerprint {
    /// Rows (for a streamed fit: rows of every pass).
    pub rows: usize,
    /// Columns.
    pub columns: usize,
    /// Fingerprint of the values (row-major, as `f64` bits) and the weights, hex.
    pub hash: String,
}

/// A fingerprint accumulated over rows, in memory or chunk by chunk.
#[derive(Debug, Clone)]
pub(crate) struct Fingerprinter {
    h: u64,
    rows: usize,
    columns: usize,
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

impl Fingerprinter {
    pub(crate) fn new(columns: usize) -> Self {
        Fingerprinter {
            h: FNV_OFFSET,
            rows: 0,
            columns,
        }
    }

    fn word(&mut self, v: u64) {
        // FNV-1a over 64-bit words, then a final avalanche in `finish`
        self.h = (self.h ^ v).wrapping_mul(FNV_PRIME);
    }

    /// Adds rows and their weights (a missing weight counts as 1, as in the fit).
    pub(crate) fn add<T: Float>(&mut self, x: ArrayView2<T>, w: Option<ArrayView1<f64>>) {
        for (i, row) in x.outer_iter().enumerate() {
            for v in row.iter() {
                self.word(v.to_f64().to_bits());
            }
            self.word(w.map_or(1.0f64, |w| w[i]).to_bits());
        }
        self.rows += x.nrows();
    }

    pub(crate) fn finish(&self) -> DataFingerprint {
        let mut z = self.h ^ (self.rows as u64).rotate_left(32) ^ self.columns as u64;
        // splitmix64's finaliser
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        DataFingerprint {
            rows: self.rows,
            columns: self.columns,
            hash: format!("{z:016x}"),
        }
    }
}

/// A model with what its fit reported, as a checkpoint stores it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredFit {
    model: ModelFile,
    info: FitInfo,
}

/// The state of an EM fit between two iterations (see the [module](self) documentation).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmCheckpoint {
    /// Layout version ([`CHECKPOINT_FORMAT_VERSION`]).
    pub gaussmix_checkpoint: u32,
    /// The options of the fit, by name (arrays as fingerprints).
    pub options: BTreeMap<String, String>,
    /// The data the fit runs on.
    pub data: DataFingerprint,
    /// The initialisation being run (0-based, of `n_init`).
    pub init: usize,
    /// Components re-seeded so far in this initialisation (the `reseed` policy's count).
    pub reseeds: usize,
    /// The lower bound the next iteration's change is measured from (`None`: −∞, after a
    /// re-seed or a dropped component).
    pub previous_lower_bound: Option<f64>,
    /// What the current initialisation has reported so far.
    pub info: FitInfo,
    model: ModelFile,
    best: Option<StoredFit>,
}

impl EmCheckpoint {
    /// EM iterations the current initialisation has completed.
    pub fn iterations_done(&self) -> usize {
        self.info.n_iter
    }

    /// The parameters the next EM iteration starts from.
    ///
    /// # Errors
    /// As [`ModelFile::into_model`].
    pub fn model(&self) -> Result<GmmModel> {
        self.model.clone().into_model()
    }

    /// The checkpoint as JSON.
    ///
    /// # Errors
    /// [`GmmError::InvalidModel`] if a value is not finite.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|e| GmmError::InvalidModel {
            reason: format!("checkpoint: {e}"),
        })
    }

    /// Reads a checkpoint written by [`EmCheckpoint::to_json`].
    ///
    /// # Errors
    /// [`GmmError::Decode`] for anything else, or a layout of a newer version.
    pub fn from_json(s: &str) -> Result<Self> {
        let decode = |reason: String| GmmError::Decode {
            what: "checkpoint",
            reason,
        };
        let v: serde_json::Value = serde_json::from_str(s).map_err(|e| decode(e.to_string()))?;
        match v.get("gaussmix_checkpoint").and_then(|v| v.as_u64()) {
            None => {
                return Err(decode(
                    "not a gaussmix checkpoint (no gaussmix_checkpoint version)".into(),
                ))
            }
            Some(ver) if ver > u64::from(CHECKPOINT_FORMAT_VERSION) => {
                return Err(decode(format!(
                    "checkpoint version {ver} was written by a newer gaussmix; this one reads version {CHECKPOINT_FORMAT_VERSION}"
                )))
            }
            _ => {}
        }
        let c: EmCheckpoint = serde_json::from_value(v).map_err(|e| decode(e.to_string()))?;
        // the stored models must load (shapes, finiteness, factors)
        c.model()?;
        if let Some(b) = &c.best {
            b.model.clone().into_model()?;
        }
        Ok(c)
    }

    /// Refuses a checkpoint of another fit, naming what differs.
    pub(crate) fn check_matches(
        &self,
        options: &BTreeMap<String, String>,
        data: &DataFingerprint,
    ) -> Result<()> {
        let mut diffs: Vec<String> = Vec::new();
        let keys: std::collections::BTreeSet<&String> =
            options.keys().chain(self.options.keys()).collect();
        for k in keys {
            let (a, b) = (self.options.get(k), options.get(k));
            if a != b {
                diffs.push(format!(
                    "{k} was {} and is now {}",
                    a.map_or("unset", |s| s.as_str()),
                    b.map_or("unset", |s| s.as_str())
                ));
            }
        }
        if self.data.rows != data.rows || self.data.columns != data.columns {
            diffs.push(format!(
                "the data were {} rows × {} columns and are now {} × {}",
                self.data.rows, self.data.columns, data.rows, data.columns
            ));
        } else if self.data.hash != data.hash {
            diffs.push("the data have the same shape but other values or weights".into());
        }
        if diffs.is_empty() {
            Ok(())
        } else {
            Err(GmmError::InvalidParam {
                name: "resume",
                value: format!("checkpoint of initialisation {}", self.init),
                reason: format!(
                    "it was written by another fit: {} (resume with the data and options it was written with)",
                    diffs.join("; ")
                ),
            })
        }
    }
}

/// The loop state of one initialisation, as the EM loop starts or resumes it.
#[derive(Debug, Clone)]
pub(crate) struct LoopStart {
    pub model: GmmModel,
    pub previous_lower_bound: f64,
    pub info: FitInfo,
    pub reseeds: usize,
}

impl LoopStart {
    /// A start before the first iteration.
    pub(crate) fn fresh(model: GmmModel, lower_bound: f64) -> Self {
        LoopStart {
            model,
            previous_lower_bound: lower_bound,
            info: FitInfo {
                converged: false,
                n_iter: 0,
                lower_bound,
                lower_bounds: Vec::new(),
            },
            reseeds: 0,
        }
    }
}

/// The loop state of one initialisation, borrowed from the EM loop for a checkpoint.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LoopView<'a> {
    pub model: &'a GmmModel,
    pub previous_lower_bound: f64,
    pub info: &'a FitInfo,
    pub reseeds: usize,
}

/// A sink for due checkpoints (`Send`, so that a fit can run on a worker pool).
pub type CheckpointSink<'a> = dyn FnMut(&EmCheckpoint) -> Result<()> + Send + 'a;

/// When to checkpoint a fit, where the checkpoints go, and the checkpoint to resume from.
///
/// A checkpoint is due after every `n` EM iterations, or once `interval` has passed since
/// the last one, whichever comes first (each may be off); one is always handed over when
/// the fit is interrupted (see [`crate::GaussianMixture::interrupt`]), so that Ctrl-C
/// loses nothing. Where the sink fails, the fit stops with its error.
pub struct Checkpointer<'a> {
    every_iterations: Option<usize>,
    interval: Option<Duration>,
    sink: &'a mut CheckpointSink<'a>,
    resume: Option<EmCheckpoint>,
    last: Instant,
    since: usize,
    pub(crate) options: BTreeMap<String, String>,
    pub(crate) data: Option<DataFingerprint>,
    pub(crate) best: Option<(GmmModel, FitInfo)>,
}

impl<'a> Checkpointer<'a> {
    /// Checkpoints every `n` iterations (at least 1) into `sink`.
    pub fn every_iterations(n: usize, sink: &'a mut CheckpointSink<'a>) -> Self {
        Checkpointer {
            every_iterations: Some(n.max(1)),
            interval: None,
            sink,
            resume: None,
            last: Instant::now(),
            since: 0,
            options: BTreeMap::new(),
            data: None,
            best: None,
        }
    }

    /// Checkpoints when `interval` has passed since the last checkpoint (or the start).
    pub fn every_interval(interval: Duration, sink: &'a mut CheckpointSink<'a>) -> Self {
        let mut c = Self::every_iterations(1, sink);
        c.every_iterations = None;
        c.interval = Some(interval);
        c
    }

    /// Also checkpoints every `n` iterations (`None`: by time only).
    pub fn iterations(mut self, n: Option<usize>) -> Self {
        self.every_iterations = n.map(|n| n.max(1));
        self
    }

    /// Also checkpoints when `interval` has passed (`None`: by iterations only).
    pub fn interval(mut self, interval: Option<Duration>) -> Self {
        self.interval = interval;
        self
    }

    /// Resumes the fit from `checkpoint` (which must come from the same data and options).
    pub fn resume(mut self, checkpoint: EmCheckpoint) -> Self {
        self.resume = Some(checkpoint);
        self
    }

    /// Checks a resume checkpoint against this fit; returns the initialisation to resume,
    /// its loop state and the best fit of the earlier initialisations.
    pub(crate) fn take_resume(&mut self) -> Result<Option<(usize, LoopStart)>> {
        let Some(c) = self.resume.take() else {
            return Ok(None);
        };
        let data = self.data.clone().expect("fingerprint set before resuming");
        c.check_matches(&self.options, &data)?;
        self.best = match &c.best {
            Some(b) => Some((b.model.clone().into_model()?, b.info.clone())),
            None => None,
        };
        let start = LoopStart {
            model: c.model()?,
            previous_lower_bound: c.previous_lower_bound.unwrap_or(f64::NEG_INFINITY),
            info: c.info.clone(),
            reseeds: c.reseeds,
        };
        Ok(Some((c.init, start)))
    }

    /// Called by the EM loop between iterations (`fresh`: iterations since the loop
    /// (re)started); hands a checkpoint to the sink when one is due or `force`d.
    pub(crate) fn tick(
        &mut self,
        init: usize,
        state: LoopView<'_>,
        fresh: usize,
        force: bool,
    ) -> Result<()> {
        if fresh == 0 {
            // nothing new since the start or the resumed checkpoint
            return Ok(());
        }
        self.since += 1;
        let due = force
            || self.every_iterations.is_some_and(|n| self.since >= n)
            || self.interval.is_some_and(|t| self.last.elapsed() >= t);
        if !due {
            return Ok(());
        }
        let checkpoint = EmCheckpoint {
            gaussmix_checkpoint: CHECKPOINT_FORMAT_VERSION,
            options: self.options.clone(),
            data: self
                .data
                .clone()
                .expect("fingerprint set before the first iteration"),
            init,
            reseeds: state.reseeds,
            previous_lower_bound: Some(state.previous_lower_bound).filter(|v| v.is_finite()),
            info: state.info.clone(),
            model: ModelFile::from_model(state.model),
            best: self.best.as_ref().map(|(m, i)| StoredFit {
                model: ModelFile::from_model(m),
                info: i.clone(),
            }),
        };
        (self.sink)(&checkpoint)?;
        self.since = 0;
        self.last = Instant::now();
        Ok(())
    }
}

impl std::fmt::Debug for Checkpointer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checkpointer")
            .field("every_iterations", &self.every_iterations)
            .field("interval", &self.interval)
            .field(
                "resume",
                &self.resume.as_ref().map(|c| (c.init, c.info.n_iter)),
            )
            .finish()
    }
}

/// A 64-bit fingerprint of a text, hex (for array-valued options).
pub(crate) fn text_fingerprint(s: &str) -> String {
    let mut f = Fingerprinter::new(0);
    for b in s.bytes() {
        f.word(u64::from(b));
    }
    f.finish().hash
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn fingerprints_tell_values_weights_and_shapes_apart() {
        let x = array![[1.0, 2.0], [3.0, 4.0]];
        let fp = |x: ArrayView2<f64>, w: Option<ArrayView1<f64>>| {
            let mut f = Fingerprinter::new(x.ncols());
            f.add(x, w);
            f.finish()
        };
        let a = fp(x.view(), None);
        assert_eq!(a, fp(x.view(), None));
        let mut y = x.clone();
        y[[1, 1]] = 4.000_000_000_000_001;
        assert_ne!(a.hash, fp(y.view(), None).hash);
        let w = array![1.0, 2.0];
        assert_ne!(a.hash, fp(x.view(), Some(w.view())).hash);
        // weight 1 everywhere is the unweighted fit
        let ones = array![1.0, 1.0];
        assert_eq!(a.hash, fp(x.view(), Some(ones.view())).hash);
        let flat = array![[1.0, 2.0, 3.0, 4.0]];
        assert_ne!(a, fp(flat.view(), None));
        // chunked accumulation equals one pass
        let mut f = Fingerprinter::new(2);
        f.add(x.slice(ndarray::s![..1, ..]), None);
        f.add(x.slice(ndarray::s![1.., ..]), None);
        assert_eq!(f.finish(), a);
    }

    #[test]
    fn future_versions_and_other_json_are_refused() {
        let e = EmCheckpoint::from_json(r#"{"gaussmix_checkpoint": 99}"#).unwrap_err();
        assert!(e.to_string().contains("newer gaussmix"), "{e}");
        let e = EmCheckpoint::from_json(r#"{"format_version": 1}"#).unwrap_err();
        assert!(e.to_string().contains("not a gaussmix checkpoint"), "{e}");
        let e = EmCheckpoint::from_json("[1, 2").unwrap_err();
        assert!(matches!(e, GmmError::Decode { .. }), "{e}");
    }
}
