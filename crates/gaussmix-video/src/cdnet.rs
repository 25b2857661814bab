//! CDnet 2014 evaluation (changedetection.net).
//!
//! Per sequence, TP/FP/FN/TN are summed over the frames listed in `temporalROI.txt`
//! (`first last`, 1-based, inclusive), counting only pixels where `ROI.bmp` is non-zero and
//! the ground truth is neither 85 (outside the region of interest) nor 170 (unknown).
//! Ground truth 255 is positive, 0 and 50 (hard shadow) negative; a prediction is positive
//! only where the mask is 255 (127, shadow, is negative).

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// Confusion counts and CDnet's seven measures.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Metrics {
    /// Frames scored.
    pub frames: usize,
    /// True positives.
    pub tp: u64,
    /// False positives.
    pub fp: u64,
    /// False negatives.
    pub fn_: u64,
    /// True negatives.
    pub tn: u64,
    /// Recall TP/(TP+FN).
    pub recall: f64,
    /// Specificity TN/(TN+FP).
    pub specificity: f64,
    /// False positive rate FP/(FP+TN).
    pub fpr: f64,
    /// False negative rate FN/(TP+FN).
    pub fnr: f64,
    /// Percentage of wrong classifications 100·(FN+FP)/(TP+FN+FP+TN).
    pub pwc: f64,
    /// Precision TP/(TP+FP).
    pub precision: f64,
    /// F-measure 2·Pr·Re/(Pr+Re).
    pub f_measure: f64,
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

impl Metrics {
    /// The measures from confusion counts (a measure with a zero denominator is 0).
    pub fn from_counts(tp: u64, fp: u64, fn_: u64, tn: u64, frames: usize) -> Self {
        let recall = ratio(tp, tp + fn_);
        let precision = ratio(tp, tp + fp);
        let f_measure = if recall + precision > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        Metrics {
            frames,
            tp,
            fp,
            fn_,
            tn,
            recall,
            specificity: ratio(tn, tn + fp),
            fpr: ratio(fp, fp + tn),
            fnr: ratio(fn_, tp + fn_),
            pwc: 100.0 * ratio(fn_ + fp, tp + fn_ + fp + tn),
            precision,
            f_measure,
        }
    }
}

impl std::fmt::Display for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "frames={} Re={:.4} Sp={:.4} FPR={:.4} FNR={:.4} PWC={:.3} Pr={:.4} F={:.4} (TP={} FP={} FN={} TN={})",
            self.frames, self.recall, self.specificity, self.fpr, self.fnr, self.pwc, self.precision, self.f_measure, self.tp, self.fp, self.fn_, self.tn
        )
    }
}

/// Scores masks of one CDnet sequence frame by frame, without writing them anywhere.
#[derive(Debug)]
pub struct Scorer {
    dir: PathBuf,
    first: usize,
    last: usize,
    width: usize,
    height: usize,
    roi: Vec<bool>,
    counts: [u64; 4],
    frames: usize,
}

fn read_grey(path: &Path) -> Result<(usize, usize, Vec<u8>)> {
    let img = crate::source::read_image(path)?.into_luma8();
    Ok((img.width() as usize, img.height() as usize, img.into_raw()))
}

impl Scorer {
    /// Reads `temporalROI.txt` and `ROI.bmp` of the sequence folder `seq`.
    ///
    /// # Errors
    /// [`Error::BadSequence`] when a file is missing or malformed.
    pub fn new(seq: &Path) -> Result<Self> {
        let troi = seq.join("temporalROI.txt");
        let text = std::fs::read_to_string(&troi).map_err(|e| Error::BadSequence {
            path: troi.clone(),
            message: format!("cannot read: {e}"),
        })?;
        let nums: Vec<usize> = text
            .split_whitespace()
            .filter_map(|t| t.parse().ok())
            .collect();
        let (first, last) = match nums[..] {
            [a, b, ..] if a >= 1 && a <= b => (a, b),
            _ => {
                return Err(Error::BadSequence {
                    path: troi,
                    message: format!(
                    "expected two frame numbers `first last` with 1 <= first <= last, found {:?}",
                    text.trim()
                ),
                })
            }
        };
        let roi_path = seq.join("ROI.bmp");
        let (width, height, roi) = read_grey(&roi_path).map_err(|e| Error::BadSequence {
            path: roi_path,
            message: e.to_string(),
        })?;
        Ok(Scorer {
            dir: seq.to_path_buf(),
            first,
            last,
            width,
            height,
            roi: roi.iter().map(|&v| v != 0).collect(),
            counts: [0; 4],
            frames: 0,
        })
    }

    /// The evaluated frame range (1-based, inclusive).
    pub fn range(&self) -> (usize, usize) {
        (self.first, self.last)
    }

    /// Path of the ground truth of frame `index` (1-based).
    pub fn groundtruth_path(&self, index: usize) -> PathBuf {
        self.dir
            .join("groundtruth")
            .join(format!("gt{index:06}.png"))
    }

    /// Adds the mask of frame `index` (1-based); frames outside the temporal ROI are ignored.
    ///
    /// # Errors
    /// [`Error::BadSequence`] for a missing ground truth, [`Error::ShapeMismatch`] when sizes
    /// differ.
    pub fn add(&mut self, index: usize, mask: &[u8]) -> Result<()> {
        if index < self.first || index > self.last {
            return Ok(());
        }
        let gp = self.groundtruth_path(index);
        let (w, h, gt) = read_grey(&gp).map_err(|e| Error::BadSequence {
            path: gp.clone(),
            message: e.to_string(),
        })?;
        if w != self.width || h != self.height {
            return Err(Error::BadSequence {
                path: gp,
                message: format!(
                    "ground truth is {w}x{h} but ROI.bmp is {}x{}",
                    self.width, self.height
                ),
            });
        }
        self.add_with_groundtruth(mask, &gt)
    }

    /// Adds one frame's mask against its ground truth (both width·height bytes).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when sizes differ.
    pub fn add_with_groundtruth(&mut self, mask: &[u8], gt: &[u8]) -> Result<()> {
        let n = self.width * self.height;
        if mask.len() != n || gt.len() != n {
            return Err(Error::ShapeMismatch {
                expected: format!("{}x{} = {n} pixels", self.width, self.height),
                got: format!("mask {} and ground truth {} pixels", mask.len(), gt.len()),
            });
        }
        let mut c = [0u64; 4]; // tp fp fn tn
        for ((&m, &g), &r) in mask.iter().zip(gt).zip(&self.roi) {
            if !r || g == 85 || g == 170 {
                continue;
            }
            let pred = m == 255;
            let pos = g == 255;
            c[match (pred, pos) {
                (true, true) => 0,
                (true, false) => 1,
                (false, true) => 2,
                (false, false) => 3,
            }] += 1;
        }
        for (a, b) in self.counts.iter_mut().zip(c) {
            *a += b;
        }
        self.frames += 1;
        Ok(())
    }

    /// The metrics so far.
    pub fn metrics(&self) -> Metrics {
        let [tp, fp, fn_, tn] = self.counts;
        Metrics::from_counts(tp, fp, fn_, tn, self.frames)
    }
}

/// Scores the masks `mask_dir/bin%06d.png` (CDnet's result format; 8-bit grey, 255
/// foreground) against the CDnet sequence folder `seq_dir`, over its temporal ROI.
///
/// # Errors
/// [`Error::BadSequence`] for a malformed sequence, [`Error::Io`]/[`Error::Decode`] for a
/// missing or unreadable mask, [`Error::ShapeMismatch`] when sizes differ.
pub fn evaluate(mask_dir: &Path, seq_dir: &Path) -> Result<Metrics> {
    let mut s = Scorer::new(seq_dir)?;
    let (first, last) = s.range();
    for i in first..=last {
        let mp = mask_dir.join(format!("bin{i:06}.png"));
        if !mp.is_file() {
            return Err(Error::io(
                "missing mask",
                mp,
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("the temporal ROI needs frames {first}..={last}"),
                ),
            ));
        }
        let (w, h, mask) = read_grey(&mp)?;
        if (w, h) != (s.width, s.height) {
            return Err(Error::ShapeMismatch {
                expected: format!("{}x{} mask (the size of ROI.bmp)", s.width, s.height),
                got: format!("{w}x{h} in {}", mp.display()),
            });
        }
        s.add(i, &mask)?;
    }
    Ok(s.metrics())
}
