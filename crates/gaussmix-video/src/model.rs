//! Per-pixel adaptive Gaussian mixture background model (Zivkovic / OpenCV MOG2, with
//! Stauffer–Grimson as an option).
//!
//! State lives in planes (structure of arrays), tiled by 16 pixels: for every tile of 16
//! pixels of a row, and for every mode slot `k`, 16 contiguous floats each for the
//! weight, the variance and every channel of the mean (one cache line each). A row is one
//! forward sweep through memory, a tile whose pixels use few modes reads only a prefix,
//! rows are independent (so they run in parallel), and the per-pixel update is written over
//! fixed-size lane arrays that the compiler turns into SIMD, compiled three times (AVX-512,
//! AVX2+FMA-free, portable) and chosen at run time.
//!
//! The semantics are those of OpenCV's `BackgroundSubtractorMOG2::apply` with one
//! deliberate difference: a pruned mode (weight below α·c_T) is removed outright, where
//! OpenCV's loop can leave a zero-weight mode behind or skip the last mode for one frame.
//! [`crate::reference::ReferenceModel`] is the obviously-correct per-pixel version of the
//! same rules; the tests check that both give the same masks.

// Index loops mirror the maths (lanes, modes, matrix entries) more clearly here.
#![allow(clippy::needless_range_loop)]

use crate::error::{Error, Result};
pub(crate) use crate::pixel::Coef;
pub use crate::pixel::{Mode, MASK_BACKGROUND, MASK_FOREGROUND, MASK_SHADOW, MAX_MODES};
use rayon::prelude::*;
use std::sync::Arc;

/// Which per-pixel mixture algorithm to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Method {
    /// Zivkovic (2004/2006): the number of modes adapts per pixel, weights are pruned with
    /// the complexity-reduction prior c_T, modes sorted by weight. OpenCV's MOG2.
    #[default]
    Zivkovic,
    /// Stauffer & Grimson (1999): a fixed number of modes sorted by weight/σ; a pixel is
    /// background when it matches (within `var_threshold_gen`·var) one of the first modes whose
    /// weights sum to `background_ratio`; an unmatched pixel replaces the least probable
    /// mode. The mean/variance step uses ρ = α/w, as most implementations do.
    StaufferGrimson,
}

/// The learning-rate schedule.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum LearningRate {
    /// α = 1 / min(2·frames, history), frames counting the current one (OpenCV's default).
    #[default]
    Auto,
    /// A fixed α in [0, 1]. The first frame always initialises the model.
    Fixed(f32),
}

/// Which compiled version of the per-row kernel to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Kernel {
    /// The fastest one this CPU supports.
    #[default]
    Auto,
    /// Portable code (8 lanes, whatever the target's baseline vectorises to).
    Portable,
    /// x86-64 AVX2 (8 lanes of f32). Falls back to `Portable` elsewhere.
    Avx2,
    /// x86-64 AVX-512 (16 lanes of f32). Falls back to `Avx2`/`Portable` when unsupported.
    Avx512,
}

/// Parameters of the background model. `Default` gives OpenCV MOG2's defaults plus global
/// illumination compensation, foreground feedback (pixels that were foreground last frame
/// learn at 0.05·α for up to 1000 frames) and the displacement test, with the shadow test
/// on colour input only; neighbourhood support and background propagation are off.
/// The feedback and displacement defaults were chosen on the tuning half (seed 1) of the
/// real-material scene suite (`scripts/gen_bgs_real_scenes.py`, `bench/video/scenes.py`):
/// mean F over its seven scenes 0.776 → 0.801, worst scene (a slow person) 0.505 → 0.622;
/// the held-out half and CDnet highway are reported in `bench/out/scenes.md`.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelParams {
    /// Algorithm (default Zivkovic).
    pub method: Method,
    /// History length: α = 1/min(2·frames, history) with [`LearningRate::Auto`] (default 500).
    pub history: u32,
    /// Learning-rate schedule (default [`LearningRate::Auto`]).
    pub learning_rate: LearningRate,
    /// Tb: squared Mahalanobis distance under which a pixel is explained by a background
    /// mode (default 16).
    pub var_threshold: f32,
    /// Tg: squared Mahalanobis distance under which a pixel updates an existing mode rather
    /// than creating one (default 9).
    pub var_threshold_gen: f32,
    /// TB: modes are background while their cumulative weight is below this (default 0.9).
    pub background_ratio: f32,
    /// Variance of a new mode (default 15).
    pub var_init: f32,
    /// Lower clamp of a mode's variance (default 4).
    pub var_min: f32,
    /// Upper clamp of a mode's variance (default 75).
    pub var_max: f32,
    /// c_T, Zivkovic's complexity-reduction prior (default 0.05; 0 disables pruning).
    pub complexity_reduction: f32,
    /// Mark shadows (Prati et al.) with [`MASK_SHADOW`] (default true).
    pub detect_shadows: bool,
    /// Run the shadow test on grey (1-channel) input too (default false). Without colour
    /// the test only checks that the pixel is darker than the background by a factor in
    /// [τ, 1], which every darker object passes: on CDnet highway converted to grey it
    /// drops F from 0.913 to 0.695. OpenCV runs it; [`ModelParams::opencv`] sets this.
    pub grey_shadows: bool,
    /// τ: a pixel darker than a background mode by a factor in [τ, 1] and of the same
    /// colour is a shadow (default 0.5).
    pub shadow_threshold: f32,
    /// M: mixture components per pixel, 1..=[`MAX_MODES`] (default 5).
    pub n_mixtures: usize,
    /// Global illumination compensation (default true): before each update the frame is
    /// divided by a gain g, the median over a sparse grid of pixels of
    /// (pixel intensity)/(intensity of its strongest background mode). A camera's exposure
    /// change or the sun coming out changes g for the whole frame; moving objects cover a
    /// minority of the grid and do not move the median. Without it, a 10 % brightening turns
    /// a whole road into foreground for hundreds of frames (CDnet highway, frames 650–970).
    pub illumination_compensation: bool,
    /// Neighbourhood support radius r (default 0: off, each pixel decided alone, as in
    /// MOG2). With r ≥ 1 a pixel is foreground when the mean over its (2r+1)² window
    /// (clipped at the frame's edges) of min(D², cap·Tb) reaches `support_threshold`·Tb,
    /// where D² is the pixel's smallest squared Mahalanobis distance to a background mode
    /// (the quantity the per-pixel rule compares with Tb; shadow pixels count 0). Summing
    /// D² over a patch is the log-likelihood test of the whole patch under independent
    /// per-pixel Gaussians: a camouflaged object whose pixels each fall just inside Tb
    /// adds up, isolated noise does not. Shadow pixels stay [`MASK_SHADOW`]. At most 7.
    pub support_radius: usize,
    /// Threshold of the neighbourhood mean of D², in units of Tb (default 1).
    pub support_threshold: f32,
    /// Cap of each pixel's D² in the neighbourhood mean, in units of Tb (default 2), so
    /// one strong pixel cannot make a neighbourhood foreground on its own.
    pub support_cap: f32,
    /// Least D² of the pixel itself, in units of Tb, for it to be foreground with
    /// neighbourhood support (default 0.25): the background just beside a strong object
    /// has its support but none of its own, and stays background.
    pub support_floor: f32,
    /// Learning-rate factor ρ at pixels that were foreground in the previous frame
    /// (default 0.05; 1 is MOG2, every pixel learning at α). With ρ < 1 those pixels learn
    /// at ρ·α: an object that moves slowly or pauses is not absorbed into the background
    /// within 0.1/α frames (SuBSENSE's conservative update, softened). Must be in (0, 1].
    /// Chosen on the tuning half of the real-material suite (`bench/video/scenes.py`,
    /// with the displacement test on): ρ 0.05 with a hold of 1000 frames raised the
    /// tuning mean F from 0.783 (ρ 0.25, hold 100) to 0.801 and the worst scene (slow
    /// person) from 0.513 to 0.622; ρ 0.1 gave 0.799 / 0.607. (The earlier synthetic
    /// suite had chosen ρ 0.25, hold 100.)
    pub foreground_rate: f32,
    /// Frames a pixel may stay foreground and still learn at the reduced rate (default
    /// 1000; 300 and 1000 scored the same on the suite); after that it learns at α again, so a ghost (background revealed where an
    /// object stood at the start) or an object that stopped for good is absorbed.
    pub foreground_hold: u32,
    /// Blinking limit of the feedback (default 2): a pixel whose mask toggles often
    /// (a waving branch, rippling water: its level b ← 0.95·b + [mask changed] reaches
    /// this) learns at α even when foreground, so a dynamic background is still learned.
    /// Must be > 0.
    pub foreground_blink_limit: f32,
    /// Background propagation rate (default 0: off), a factor of α. With a rate r > 0,
    /// after each frame every foreground pixel with a background 4-neighbour also learns
    /// that neighbour's colour, at rate r·α, by the same match/update/create rules as its
    /// own (ViBe's and SuBSENSE's spatial diffusion of the background, for a mixture).
    /// A ghost (background revealed where an object stood when the model started) looks
    /// like its neighbours, so the neighbour's colour builds the very mode its own pixels
    /// need and the ghost is eaten from its edges inward; a real object that pauses does
    /// not look like its neighbours, and the pushed colour only keeps its background mode
    /// alive. The neighbour chosen is the background 4-neighbour whose colour is closest
    /// to the pixel's own. Must be finite and in [0, 8]. Off by default: on the tuning
    /// half of the real-material suite rate 1 lowered the mean F from 0.776 to 0.736 and
    /// the slow-person scene from 0.505 to 0.378 (where neighbours' colours differ, each
    /// push creates a mode that evicts the object's own).
    pub propagation_rate: f32,
    /// Displacement test (default true; Elgammal et al. 2000's "displacement
    /// probability", reduced to one mode): a foreground pixel whose colour lies within
    /// Tb·var of the strongest mode of one of its 8 neighbours is background. The edges of
    /// textures that move by a pixel (a shaking camera, leaves, block artefacts of
    /// compressed video) match the model of the pixel beside them; an object does not.
    /// Runs before the propagation and the feedback, on the mask after neighbourhood
    /// support. On the tuning half of the real-material suite it raised the mean F from
    /// 0.776 to 0.783 and the worst scene from 0.505 to 0.513 (waving leaves 0.902 →
    /// 0.943, camera shake 0.731 → 0.777; camouflage 0.748 → 0.714, CDnet highway
    /// 0.921 → 0.908).
    pub displacement: bool,
    /// Threshold of the displacement test, in units of Tb (default 1: the neighbour's mode
    /// must explain the pixel as its own background mode would). Smaller values accept
    /// only close matches (a texture shifted by a pixel matches almost exactly, a
    /// camouflaged object does not). Must be finite and > 0. On the tuning half of the
    /// real-material suite 1 scored best (mean F 0.801, worst 0.622; 0.5: 0.795 / 0.617;
    /// 0.25: 0.794 / 0.611), though smaller values keep more of the camouflage scene and
    /// of CDnet highway (0.910 at 1, 0.919 at 0.25).
    pub displacement_threshold: f32,
    /// Kernel selection (default [`Kernel::Auto`]).
    pub kernel: Kernel,
}

impl Default for ModelParams {
    fn default() -> Self {
        ModelParams {
            method: Method::Zivkovic,
            history: 500,
            learning_rate: LearningRate::Auto,
            var_threshold: 16.0,
            var_threshold_gen: 9.0,
            background_ratio: 0.9,
            var_init: 15.0,
            var_min: 4.0,
            var_max: 75.0,
            complexity_reduction: 0.05,
            detect_shadows: true,
            grey_shadows: false,
            shadow_threshold: 0.5,
            n_mixtures: 5,
            illumination_compensation: true,
            support_radius: 0,
            support_threshold: 1.0,
            support_cap: 2.0,
            support_floor: 0.25,
            foreground_rate: 0.05,
            foreground_hold: 1000,
            foreground_blink_limit: 2.0,
            propagation_rate: 0.0,
            displacement: true,
            displacement_threshold: 1.0,
            kernel: Kernel::Auto,
        }
    }
}

impl ModelParams {
    /// OpenCV MOG2's exact defaults (no illumination compensation, shadows on grey
    /// input too, no neighbourhood support, feedback, displacement or propagation).
    pub fn opencv() -> Self {
        ModelParams {
            illumination_compensation: false,
            grey_shadows: true,
            support_radius: 0,
            foreground_rate: 1.0,
            propagation_rate: 0.0,
            displacement: false,
            ..Self::default()
        }
    }

    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<()> {
        fn finite_pos(name: &'static str, v: f32) -> Result<()> {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(Error::param(name, v, "must be finite and > 0"))
            }
        }
        if self.history == 0 {
            return Err(Error::param("history", self.history, "must be >= 1"));
        }
        if let LearningRate::Fixed(a) = self.learning_rate {
            if !(0.0..=1.0).contains(&a) {
                return Err(Error::param("learning_rate", a, "must be in [0, 1]"));
            }
        }
        finite_pos("var_threshold", self.var_threshold)?;
        finite_pos("var_threshold_gen", self.var_threshold_gen)?;
        if !(self.background_ratio > 0.0 && self.background_ratio <= 1.0) {
            return Err(Error::param(
                "background_ratio",
                self.background_ratio,
                "must be in (0, 1]",
            ));
        }
        finite_pos("var_init", self.var_init)?;
        finite_pos("var_min", self.var_min)?;
        finite_pos("var_max", self.var_max)?;
        if self.var_min > self.var_max {
            return Err(Error::param(
                "var_min",
                self.var_min,
                format!("must be <= var_max ({})", self.var_max),
            ));
        }
        if !(self.complexity_reduction.is_finite() && self.complexity_reduction >= 0.0) {
            return Err(Error::param(
                "complexity_reduction",
                self.complexity_reduction,
                "must be finite and >= 0",
            ));
        }
        if !(self.shadow_threshold > 0.0 && self.shadow_threshold <= 1.0) {
            return Err(Error::param(
                "shadow_threshold",
                self.shadow_threshold,
                "must be in (0, 1]",
            ));
        }
        if self.support_radius > 7 {
            return Err(Error::param(
                "support_radius",
                self.support_radius,
                "must be in 0..=7",
            ));
        }
        finite_pos("support_threshold", self.support_threshold)?;
        finite_pos("support_cap", self.support_cap)?;
        if !(self.foreground_rate > 0.0 && self.foreground_rate <= 1.0) {
            return Err(Error::param(
                "foreground_rate",
                self.foreground_rate,
                "must be in (0, 1]",
            ));
        }
        if self.foreground_blink_limit.is_nan() || self.foreground_blink_limit <= 0.0 {
            return Err(Error::param(
                "foreground_blink_limit",
                self.foreground_blink_limit,
                "must be > 0",
            ));
        }
        if !(self.support_floor >= 0.0 && self.support_floor <= self.support_cap) {
            return Err(Error::param(
                "support_floor",
                self.support_floor,
                format!("must be in [0, support_cap ({})]", self.support_cap),
            ));
        }
        if self.support_threshold > self.support_cap {
            return Err(Error::param(
                "support_threshold",
                self.support_threshold,
                format!("must be <= support_cap ({})", self.support_cap),
            ));
        }
        finite_pos("displacement_threshold", self.displacement_threshold)?;
        if !(self.propagation_rate >= 0.0 && self.propagation_rate <= 8.0) {
            return Err(Error::param(
                "propagation_rate",
                self.propagation_rate,
                "must be in [0, 8]",
            ));
        }
        if self.n_mixtures == 0 || self.n_mixtures > MAX_MODES {
            return Err(Error::param(
                "n_mixtures",
                self.n_mixtures,
                format!("must be in 1..={MAX_MODES}"),
            ));
        }
        Ok(())
    }

    /// The neighbourhood threshold in score units (a score of 255 is `support_cap`·Tb).
    pub(crate) fn support_threshold_q(&self) -> u32 {
        ((self.support_threshold / self.support_cap) * 255.0)
            .round()
            .clamp(1.0, 255.0) as u32
    }

    /// The own-evidence floor in score units.
    pub(crate) fn support_floor_q(&self) -> u8 {
        ((self.support_floor / self.support_cap) * 255.0)
            .round()
            .clamp(0.0, 255.0) as u8
    }

    /// The learning rate used for frame number `frame` (1-based, counting the current one).
    pub fn alpha(&self, frame: u64) -> f32 {
        let auto = 1.0 / (2 * frame).min(self.history as u64).max(1) as f64;
        match self.learning_rate {
            LearningRate::Fixed(a) if frame > 1 => a,
            _ => auto as f32,
        }
    }
}

/// α, 1 − α and the pruning threshold α·c_T.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rates {
    pub alpha: f32,
    pub alpha1: f32,
    pub prune: f32,
}

impl Coef {
    fn rates(p: &ModelParams, alpha: f32) -> Rates {
        let prune = match p.method {
            Method::Zivkovic => alpha * p.complexity_reduction,
            Method::StaufferGrimson => 0.0,
        };
        Rates {
            alpha,
            alpha1: 1.0 - alpha,
            prune,
        }
    }

    /// The same constants with the feedback rate ρ·α in place of α (the reference's
    /// per-pixel choice).
    pub(crate) fn slowed(&self) -> Coef {
        Coef {
            alpha: self.alpha_fg,
            alpha1: self.alpha1_fg,
            prune: self.prune_fg,
            ..*self
        }
    }

    pub(crate) fn new(p: &ModelParams, alpha: f32, gain: f32, channels: usize) -> Self {
        debug_assert!(p.support_cap > 0.0 && p.var_threshold > 0.0);
        let slow = Self::rates(p, alpha * p.foreground_rate);
        let Rates {
            alpha,
            alpha1,
            prune,
        } = Self::rates(p, alpha);
        Coef {
            alpha,
            alpha1,
            prune,
            tb: p.var_threshold,
            tg: p.var_threshold_gen,
            big_tb: p.background_ratio,
            var_init: p.var_init,
            var_min: p.var_min,
            var_max: p.var_max,
            tau: p.shadow_threshold,
            shadows: p.detect_shadows && (channels > 1 || p.grey_shadows),
            m: p.n_mixtures,
            inv_gain: 1.0 / gain,
            score: p.support_radius > 0,
            qscale: 255.0 / (p.support_cap * p.var_threshold),
            alpha_fg: slow.alpha,
            alpha1_fg: slow.alpha1,
            prune_fg: slow.prune,
        }
    }
}

/// A pixel's support score: min(D², cap·Tb) scaled to 0..=255 (0 for shadows).
#[inline(always)]
pub(crate) fn quantise(d2min: f32, qscale: f32) -> u8 {
    (d2min * qscale).min(255.0) as u8
}

/// Updates the feedback planes from a frame's final mask: `run` counts consecutive
/// foreground frames, `blink` is a decaying count of mask changes, `slow` is 1 where the
/// next frame learns at the reduced rate (foreground for at most `hold` frames, blinking
/// below `blink_limit`).
pub(crate) fn feedback(
    mask: &[u8],
    run: &mut [u32],
    blink: &mut [f32],
    slow: &mut [u8],
    hold: u32,
    blink_limit: f32,
) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2.
            unsafe { feedback_avx2(mask, run, blink, slow, hold, blink_limit) };
            return;
        }
    }
    feedback_plain(mask, run, blink, slow, hold, blink_limit);
}

/// [`feedback`] compiled for AVX2 (the same operations, eight pixels at a time; without
/// it the loop over mixed-width planes stays scalar).
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn feedback_avx2(
    mask: &[u8],
    run: &mut [u32],
    blink: &mut [f32],
    slow: &mut [u8],
    hold: u32,
    blink_limit: f32,
) {
    feedback_plain(mask, run, blink, slow, hold, blink_limit);
}

#[inline(always)]
fn feedback_plain(
    mask: &[u8],
    run: &mut [u32],
    blink: &mut [f32],
    slow: &mut [u8],
    hold: u32,
    blink_limit: f32,
) {
    for (((&m, r), b), s) in mask
        .iter()
        .zip(run.iter_mut())
        .zip(blink.iter_mut())
        .zip(slow.iter_mut())
    {
        let fg = m == MASK_FOREGROUND;
        let was = *r > 0;
        *b = 0.95 * *b + (fg != was) as u8 as f32;
        *r = if fg { r.saturating_add(1) } else { 0 };
        *s = (fg & (*r <= hold) & (*b < blink_limit)) as u8;
    }
}

/// Background propagation (see [`ModelParams::propagation_rate`]): for every pixel that
/// is [`MASK_FOREGROUND`] in `mask` and has a 4-neighbour that is background (0 or
/// shadow), the neighbour whose colour is closest to the pixel's own is chosen and its
/// colour (times `inv_gain`) is fed to the pixel's mixture through `update(pixel, colour)`.
/// Pixels are visited in raster order; colours come from the frame, not the model, so
/// the order does not change the result.
pub(crate) fn propagate(
    frame: &[u8],
    mask: &[u8],
    width: usize,
    height: usize,
    channels: usize,
    inv_gain: f32,
    mut update: impl FnMut(usize, &[f32]),
) {
    let c = channels;
    let mut x = [0.0f32; 3];
    for y in 0..height {
        for xx in 0..width {
            let i = y * width + xx;
            if mask[i] != MASK_FOREGROUND {
                continue;
            }
            let mut best = usize::MAX;
            let mut bd = i32::MAX;
            let mut consider = |j: usize| {
                if mask[j] != MASK_FOREGROUND {
                    let mut d = 0i32;
                    for ch in 0..c {
                        let v = frame[i * c + ch] as i32 - frame[j * c + ch] as i32;
                        d += v * v;
                    }
                    if d < bd {
                        bd = d;
                        best = j;
                    }
                }
            };
            if y > 0 {
                consider(i - width);
            }
            if xx > 0 {
                consider(i - 1);
            }
            if xx + 1 < width {
                consider(i + 1);
            }
            if y + 1 < height {
                consider(i + width);
            }
            if best != usize::MAX {
                for ch in 0..c {
                    x[ch] = frame[best * c + ch] as f32 * inv_gain;
                }
                update(i, &x[..c]);
            }
        }
    }
}

/// The displacement test (see [`ModelParams::displacement`]): every [`MASK_FOREGROUND`]
/// pixel of `mask` whose colour (times `inv_gain`) lies within `tb`·var of the strongest
/// mode of an 8-neighbour becomes [`MASK_BACKGROUND`]. `top(j, mean)` writes pixel j's
/// strongest mode's mean into `mean` and returns its variance, or None without modes.
/// Decisions read the mask as it was before the pass (`scratch` keeps the copy).
#[allow(clippy::too_many_arguments)]
pub(crate) fn displace(
    frame: &[u8],
    mask: &mut [u8],
    width: usize,
    height: usize,
    channels: usize,
    inv_gain: f32,
    tb: f32,
    scratch: &mut Vec<u8>,
    mut top: impl FnMut(usize, &mut [f32; 3]) -> Option<f32>,
) {
    let c = channels;
    scratch.clear();
    scratch.extend_from_slice(mask);
    let mut mu = [0.0f32; 3];
    for y in 0..height {
        for x in 0..width {
            let i = y * width + x;
            if scratch[i] != MASK_FOREGROUND {
                continue;
            }
            let mut v = [0.0f32; 3];
            for ch in 0..c {
                v[ch] = frame[i * c + ch] as f32 * inv_gain;
            }
            'n: for ny in y.saturating_sub(1)..(y + 2).min(height) {
                for nx in x.saturating_sub(1)..(x + 2).min(width) {
                    let j = ny * width + nx;
                    if j == i {
                        continue;
                    }
                    if let Some(var) = top(j, &mut mu) {
                        let mut d2 = 0.0f32;
                        for ch in 0..c {
                            let d = mu[ch] - v[ch];
                            d2 += d * d;
                        }
                        if d2 < tb * var {
                            mask[i] = MASK_BACKGROUND;
                            break 'n;
                        }
                    }
                }
            }
        }
    }
}

/// [`displace`] on the fast model's tiled state, with the same decisions: rows without a
/// [`MASK_FOREGROUND`] pixel are skipped eight mask bytes at a time (0, 127 and 255 differ
/// in the top bit only for 255), a neighbour's strongest mode is read at its offset in
/// the tile (no division per neighbour), and the mask is changed in place (a pixel's
/// decision reads only its own mask value, so no copy of the mask is needed). Which
/// neighbour is tried first does not matter: the pixel becomes background when any one
/// explains it, and each neighbour's distance is computed as in [`displace`].
#[allow(clippy::too_many_arguments)]
fn displace_tiled(
    frame: &[u8],
    mask: &mut [u8],
    state: &[f32],
    row_len: usize,
    width: usize,
    height: usize,
    channels: usize,
    m: usize,
    inv_gain: f32,
    tb: f32,
) {
    match channels {
        1 => displace_tiled_c::<1>(frame, mask, state, row_len, width, height, m, inv_gain, tb),
        _ => displace_tiled_c::<3>(frame, mask, state, row_len, width, height, m, inv_gain, tb),
    }
}

#[allow(clippy::too_many_arguments)]
fn displace_tiled_c<const C: usize>(
    frame: &[u8],
    mask: &mut [u8],
    state: &[f32],
    row_len: usize,
    width: usize,
    height: usize,
    m: usize,
    inv_gain: f32,
    tb: f32,
) {
    // Floats per tile, and the variance line of mode 0 in a tile (its means follow).
    let tstride = m * (2 + C) * TILE;
    let vline = idx(0, 1, 0, C, m);
    debug_assert_eq!(vline, m * TILE);
    let explains = |srow: &[f32], nx: usize, v: &[f32; C]| -> bool {
        top_explains::<C>(srow, nx, v, tstride, vline, tb)
    };
    for y in 0..height {
        let mrow = &mut mask[y * width..(y + 1) * width];
        let mut any = false;
        let (words, tail) = mrow.as_chunks::<8>();
        for wd in words {
            any |= u64::from_ne_bytes(*wd) & 0x8080_8080_8080_8080 != 0;
        }
        for &b in tail {
            any |= b == MASK_FOREGROUND;
        }
        if !any {
            continue;
        }
        let row = |ny: usize| &state[ny * row_len..(ny + 1) * row_len];
        let here = row(y);
        let above = (y > 0).then(|| row(y - 1));
        let below = (y + 1 < height).then(|| row(y + 1));
        let frow = &frame[y * width * C..(y + 1) * width * C];
        for x in 0..width {
            if mrow[x] != MASK_FOREGROUND {
                continue;
            }
            let mut v = [0.0f32; C];
            for ch in 0..C {
                v[ch] = frow[x * C + ch] as f32 * inv_gain;
            }
            let (x0, x1) = (x.saturating_sub(1), (x + 1).min(width - 1));
            let hit = (x > 0 && explains(here, x - 1, &v))
                || (x + 1 < width && explains(here, x + 1, &v))
                || above.is_some_and(|r| (x0..=x1).any(|nx| explains(r, nx, &v)))
                || below.is_some_and(|r| (x0..=x1).any(|nx| explains(r, nx, &v)));
            if hit {
                mrow[x] = MASK_BACKGROUND;
            }
        }
    }
}

/// Whether pixel `nx` of a row of tiled state has a strongest mode within `tb`·var of `v`
/// (the distance summed over the channels in order, as [`displace`] does).
#[inline(always)]
fn top_explains<const C: usize>(
    srow: &[f32],
    nx: usize,
    v: &[f32; C],
    tstride: usize,
    vline: usize,
    tb: f32,
) -> bool {
    let o = (nx / TILE) * tstride + nx % TILE;
    let t = &srow[o..o + vline + C * TILE + 1];
    if t[0] <= 0.0 {
        return false;
    }
    let var = t[vline];
    let mut d2 = 0.0f32;
    for ch in 0..C {
        let d = t[vline + (1 + ch) * TILE] - v[ch];
        d2 += d * d;
    }
    d2 < tb * var
}

/// The sparse grid of pixels the illumination gain is measured on: every 8th pixel of
/// every 8th row, starting at (4, 4) (1200 pixels of a 320×240 frame).
pub(crate) struct Grid {
    pub start: usize,
    pub step: usize,
}

impl Grid {
    /// Number of grid positions in 0..n.
    pub fn samples(&self, n: usize) -> usize {
        if n > self.start {
            (n - self.start).div_ceil(self.step)
        } else {
            0
        }
    }
    /// Grid index of coordinate `v` (which must be on the grid).
    pub fn index(&self, v: usize) -> usize {
        (v - self.start) / self.step
    }
}

pub(crate) const GAIN_GRID: Grid = Grid { start: 4, step: 8 };

/// Gain of the frame relative to the model's strongest modes: the median over
/// [`GAIN_GRID`] of Σ_c x_c / Σ_c μ_0c, over pixels whose strongest mode exists and has
/// Σ_c μ_0c > 10·channels (dark pixels give noisy ratios). Returns 1 with fewer than 64
/// usable pixels; the result is clamped to [0.25, 4]. `mode0(y, x)` returns the strongest
/// mode's channel sum at (x, y), or None.
pub(crate) fn illumination_gain(
    frame: &[u8],
    width: usize,
    height: usize,
    channels: usize,
    ratios: &mut Vec<f32>,
    mut mode0: impl FnMut(usize, usize) -> Option<f32>,
) -> f32 {
    ratios.clear();
    let min_sum = 10.0 * channels as f32;
    for y in (GAIN_GRID.start..height).step_by(GAIN_GRID.step) {
        for x in (GAIN_GRID.start..width).step_by(GAIN_GRID.step) {
            if let Some(m) = mode0(y, x) {
                if m > min_sum {
                    let i = y * width + x;
                    let mut s = 0.0f32;
                    for c in 0..channels {
                        s += frame[i * channels + c] as f32;
                    }
                    ratios.push(s / m);
                }
            }
        }
    }
    if ratios.len() < 64 {
        return 1.0;
    }
    let mid = ratios.len() / 2;
    let (_, med, _) = ratios.select_nth_unstable_by(mid, |a, b| a.total_cmp(b));
    med.clamp(0.25, 4.0)
}

/// Per-pixel adaptive Gaussian mixture background model (the fast implementation).
///
/// ```
/// use gaussmix_video::model::{BackgroundModel, ModelParams};
/// let mut model = BackgroundModel::new(&ModelParams::default(), 4, 2, 1, 1).unwrap();
/// let frame = [10u8; 8];
/// let mut mask = [0u8; 8];
/// for _ in 0..10 { model.apply(&frame, &mut mask).unwrap(); }
/// assert!(mask.iter().all(|&m| m == 0));
/// model.apply(&[200u8; 8], &mut mask).unwrap();
/// assert!(mask.iter().all(|&m| m == 255));
/// ```
pub struct BackgroundModel {
    params: ModelParams,
    width: usize,
    height: usize,
    channels: usize,
    /// Padded row width (a multiple of 16 lanes).
    wpad: usize,
    /// Floats per row: n_mixtures · (2 + channels) · wpad.
    row_len: usize,
    state: Vec<f32>,
    frames: u64,
    kernel: Kernel,
    pool: Option<Arc<rayon::ThreadPool>>,
    ratios: Vec<f32>,
    /// Top-mode channel sums at the gain grid's pixels (0: no mode), after the last frame.
    ref0: Vec<f32>,
    last_gain: f32,
    /// Per-pixel support scores of the last frame (empty without neighbourhood support).
    score: Vec<u8>,
    support_scratch: Vec<u16>,
    /// 1 where the pixel learns at the feedback rate this frame.
    slow: Vec<u8>,
    /// Consecutive frames each pixel has been foreground.
    run: Vec<u32>,
    /// Decaying count of mask changes per pixel.
    blink: Vec<f32>,
}

impl std::fmt::Debug for BackgroundModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackgroundModel")
            .field("params", &self.params)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("channels", &self.channels)
            .field("frames", &self.frames)
            .field("kernel", &self.kernel)
            .finish()
    }
}

/// Pixels per tile: a row's state is stored tile after tile, and inside a tile as planes.
pub(crate) const TILE: usize = 16;

/// Offset in a row's state of `field` (0 weight, 1 variance, 2.. mean channels) of mode
/// `k` of pixel `x`. A row is stored tile after tile (16 pixels, M·(2 + C) lines of 16
/// floats each); inside a tile come first the M weight lines, then per mode its variance
/// line and its C mean lines. A background pixel needs only the weight lines and the top
/// mode's parameters: a contiguous prefix of the tile. A row is one forward sweep.
#[inline(always)]
fn idx(k: usize, field: usize, x: usize, channels: usize, m: usize) -> usize {
    let line = if field == 0 {
        k
    } else {
        m + k * (1 + channels) + field - 1
    };
    ((x / TILE) * m * (2 + channels) + line) * TILE + x % TILE
}

/// Picks the kernel actually used for a requested one on this CPU.
pub fn resolve_kernel(k: Kernel) -> Kernel {
    #[cfg(target_arch = "x86_64")]
    {
        let avx512 = std::arch::is_x86_feature_detected!("avx512f");
        let avx2 = std::arch::is_x86_feature_detected!("avx2");
        match k {
            Kernel::Auto | Kernel::Avx512 if avx512 => Kernel::Avx512,
            Kernel::Auto | Kernel::Avx512 | Kernel::Avx2 if avx2 => Kernel::Avx2,
            _ => Kernel::Portable,
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = k;
        Kernel::Portable
    }
}

/// Builds a local rayon pool for `threads` threads (None for one thread: run inline).
pub(crate) fn local_pool(threads: usize) -> Result<Option<Arc<rayon::ThreadPool>>> {
    if threads == 0 {
        return Err(Error::param("threads", threads, "must be >= 1"));
    }
    if threads == 1 {
        return Ok(None);
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map(|p| Some(Arc::new(p)))
        .map_err(|e| {
            Error::param(
                "threads",
                threads,
                format!("cannot build a thread pool: {e}"),
            )
        })
}

impl BackgroundModel {
    /// A model for frames of `width`×`height` pixels with `channels` (1 grey, 3 colour)
    /// interleaved 8-bit channels, updating rows on `threads` threads (a local pool; 1 runs
    /// on the caller's thread).
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for bad parameters, a zero size, channels other than 1 or 3,
    /// or zero threads.
    pub fn new(
        params: &ModelParams,
        width: usize,
        height: usize,
        channels: usize,
        threads: usize,
    ) -> Result<Self> {
        params.validate()?;
        if width == 0 || height == 0 {
            return Err(Error::param(
                "frame size",
                format!("{width}x{height}"),
                "must be non-empty",
            ));
        }
        if channels != 1 && channels != 3 {
            return Err(Error::param(
                "channels",
                channels,
                "must be 1 (grey) or 3 (colour)",
            ));
        }
        let wpad = width.div_ceil(16) * 16;
        let row_len = params.n_mixtures * (2 + channels) * wpad;
        Ok(BackgroundModel {
            params: params.clone(),
            width,
            height,
            channels,
            wpad,
            row_len,
            state: vec![0.0; row_len * height],
            frames: 0,
            kernel: resolve_kernel(params.kernel),
            pool: local_pool(threads)?,
            ratios: Vec::new(),
            ref0: vec![0.0; GAIN_GRID.samples(width) * GAIN_GRID.samples(height)],
            last_gain: 1.0,
            score: vec![0; width * height],
            support_scratch: Vec::new(),
            slow: vec![0; width * height],
            run: if params.foreground_rate < 1.0 {
                vec![0; width * height]
            } else {
                Vec::new()
            },
            blink: if params.foreground_rate < 1.0 {
                vec![0.0; width * height]
            } else {
                Vec::new()
            },
        })
    }

    /// The parameters.
    pub fn params(&self) -> &ModelParams {
        &self.params
    }
    /// Frame width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }
    /// Frame height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }
    /// Channels per pixel (1 or 3).
    pub fn channels(&self) -> usize {
        self.channels
    }
    /// Frames seen so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }
    /// The kernel in use.
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }
    /// Illumination gain applied to the last frame (1 without compensation).
    pub fn last_gain(&self) -> f32 {
        self.last_gain
    }

    fn check(&self, frame: &[u8], mask: &[u8]) -> Result<()> {
        let n = self.width * self.height;
        if frame.len() != n * self.channels {
            return Err(Error::ShapeMismatch {
                expected: format!(
                    "{}x{}x{} = {} bytes of frame",
                    self.width,
                    self.height,
                    self.channels,
                    n * self.channels
                ),
                got: format!("{} bytes", frame.len()),
            });
        }
        if mask.len() != n {
            return Err(Error::ShapeMismatch {
                expected: format!("{}x{} = {n} bytes of mask", self.width, self.height),
                got: format!("{} bytes", mask.len()),
            });
        }
        Ok(())
    }

    /// Current illumination gain of `frame` against the model (1 before the first frame).
    fn gain(&mut self, frame: &[u8]) -> f32 {
        if !self.params.illumination_compensation || self.frames == 0 {
            return 1.0;
        }
        let nsx = GAIN_GRID.samples(self.width);
        let ref0 = &self.ref0;
        illumination_gain(
            frame,
            self.width,
            self.height,
            self.channels,
            &mut self.ratios,
            |y, x| {
                let v = ref0[GAIN_GRID.index(y) * nsx + GAIN_GRID.index(x)];
                (v > 0.0).then_some(v)
            },
        )
    }

    /// Updates the model with `frame` (row-major, interleaved channels) and writes the
    /// foreground mask (0 background, 127 shadow, 255 foreground) into `mask`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when a buffer's length does not fit the model's size.
    pub fn apply(&mut self, frame: &[u8], mask: &mut [u8]) -> Result<()> {
        self.check(frame, mask)?;
        let gain = self.gain(frame);
        self.last_gain = gain;
        self.frames += 1;
        let alpha = self.params.alpha(self.frames);
        let coef = Coef::new(&self.params, alpha, gain, self.channels);
        let (w, c, wpad, kernel, method) = (
            self.width,
            self.channels,
            self.wpad,
            self.kernel,
            self.params.method,
        );
        let m = self.params.n_mixtures;
        let nsx = GAIN_GRID.samples(w);
        let track = self.params.illumination_compensation;
        // Per row: its slice of the top-mode sums kept for the next frame's gain (only the
        // rows of the sampling grid have one).
        let mut refs: Vec<Option<&mut [f32]>> = (0..self.height).map(|_| None).collect();
        if track && nsx > 0 {
            for (i, r) in self.ref0.chunks_mut(nsx).enumerate() {
                refs[GAIN_GRID.start + i * GAIN_GRID.step] = Some(r);
            }
        }
        let score_rows = self.params.support_radius > 0;
        #[allow(clippy::type_complexity)]
        let row = move |(((((st, fr), mk), rf), sc), sl): (
            (
                (((&mut [f32], &[u8]), &mut [u8]), &mut Option<&mut [f32]>),
                &mut [u8],
            ),
            &[u8],
        )| {
            update_row(method, kernel, c, st, wpad, w, fr, mk, sc, sl, &coef);
            if let Some(rf) = rf.as_deref_mut() {
                for (j, x) in (GAIN_GRID.start..w).step_by(GAIN_GRID.step).enumerate() {
                    rf[j] = if st[idx(0, 0, x, c, m)] > 0.0 {
                        let mut s = 0.0f32;
                        for ch in 0..c {
                            s += st[idx(0, 2 + ch, x, c, m)];
                        }
                        s
                    } else {
                        0.0
                    };
                }
            }
        };
        match &self.pool {
            None => self
                .state
                .chunks_mut(self.row_len)
                .zip(frame.chunks(w * c))
                .zip(mask.chunks_mut(w))
                .zip(refs.iter_mut())
                .zip(self.score.chunks_mut(w))
                .zip(self.slow.chunks(w))
                .for_each(row),
            Some(pool) => pool.install(|| {
                self.state
                    .par_chunks_mut(self.row_len)
                    .zip(frame.par_chunks(w * c))
                    .zip(mask.par_chunks_mut(w))
                    .zip(refs.par_iter_mut())
                    .zip(self.score.par_chunks_mut(w))
                    .zip(self.slow.par_chunks(w))
                    .with_min_len(4)
                    .for_each(row)
            }),
        }
        if score_rows {
            crate::post::support_mask(
                &self.score,
                mask,
                w,
                self.height,
                self.params.support_radius,
                self.params.support_threshold_q(),
                self.params.support_floor_q(),
                &mut self.support_scratch,
            );
        }
        if self.params.displacement {
            displace_tiled(
                frame,
                mask,
                &self.state,
                self.row_len,
                w,
                self.height,
                c,
                m,
                coef.inv_gain,
                coef.tb * self.params.displacement_threshold,
            );
        }
        if self.params.propagation_rate > 0.0 && method == Method::Zivkovic {
            let pk = Coef::new(
                &self.params,
                alpha * self.params.propagation_rate,
                gain,
                self.channels,
            );
            let (row_len, state) = (self.row_len, &mut self.state);
            let mut modes = Vec::with_capacity(m);
            propagate(frame, mask, w, self.height, c, coef.inv_gain, |i, x| {
                let (py, px) = (i / w, i % w);
                let row = &mut state[py * row_len..(py + 1) * row_len];
                modes.clear();
                for k in 0..m {
                    let wk = row[idx(k, 0, px, c, m)];
                    if wk <= 0.0 {
                        break;
                    }
                    modes.push(Mode {
                        weight: wk,
                        variance: row[idx(k, 1, px, c, m)],
                        mean: (0..c).map(|ch| row[idx(k, 2 + ch, px, c, m)]).collect(),
                    });
                }
                crate::pixel::zivkovic_pixel(&mut modes, x, &pk);
                for k in 0..m {
                    match modes.get(k) {
                        Some(md) => {
                            row[idx(k, 0, px, c, m)] = md.weight;
                            row[idx(k, 1, px, c, m)] = md.variance;
                            for ch in 0..c {
                                row[idx(k, 2 + ch, px, c, m)] = md.mean[ch];
                            }
                        }
                        None => row[idx(k, 0, px, c, m)] = 0.0,
                    }
                }
            });
        }
        if self.params.foreground_rate < 1.0 {
            feedback(
                mask,
                &mut self.run,
                &mut self.blink,
                &mut self.slow,
                self.params.foreground_hold,
                self.params.foreground_blink_limit,
            );
        }
        Ok(())
    }

    /// The modes of pixel (x, y), strongest first.
    pub fn pixel_modes(&self, x: usize, y: usize) -> Vec<Mode> {
        let (c, m) = (self.channels, self.params.n_mixtures);
        let row = &self.state[y * self.row_len..(y + 1) * self.row_len];
        (0..self.params.n_mixtures)
            .filter(|&k| row[idx(k, 0, x, c, m)] > 0.0)
            .map(|k| Mode {
                weight: row[idx(k, 0, x, c, m)],
                variance: row[idx(k, 1, x, c, m)],
                mean: (0..c).map(|ch| row[idx(k, 2 + ch, x, c, m)]).collect(),
            })
            .collect()
    }

    /// The background image (row-major, interleaved, `channels` per pixel): per pixel the
    /// weighted mean of the strongest modes whose cumulative weight first exceeds
    /// `background_ratio` (OpenCV's `getBackgroundImage`). Black before the first frame.
    /// With illumination compensation the image is at the model's reference illumination.
    pub fn background_image(&self) -> Vec<u8> {
        let (c, m) = (self.channels, self.params.n_mixtures);
        let mut out = vec![0u8; self.width * self.height * c];
        for y in 0..self.height {
            let row = &self.state[y * self.row_len..(y + 1) * self.row_len];
            for x in 0..self.width {
                let mut acc = [0.0f32; 3];
                let mut tw = 0.0f32;
                for k in 0..self.params.n_mixtures {
                    let wk = row[idx(k, 0, x, c, m)];
                    if wk <= 0.0 {
                        break;
                    }
                    for (ch, a) in acc.iter_mut().enumerate().take(c) {
                        *a += wk * row[idx(k, 2 + ch, x, c, m)];
                    }
                    tw += wk;
                    if tw > self.params.background_ratio {
                        break;
                    }
                }
                if tw > 0.0 {
                    for ch in 0..c {
                        out[(y * self.width + x) * c + ch] =
                            (acc[ch] / tw).round().clamp(0.0, 255.0) as u8;
                    }
                }
            }
        }
        out
    }
}

#[allow(clippy::too_many_arguments)]
fn update_row(
    method: Method,
    kernel: Kernel,
    channels: usize,
    state: &mut [f32],
    wpad: usize,
    width: usize,
    input: &[u8],
    mask: &mut [u8],
    score: &mut [u8],
    slow: &[u8],
    coef: &Coef,
) {
    if method == Method::StaufferGrimson {
        match channels {
            1 => sg_row::<1>(state, wpad, width, input, mask, slow, coef),
            _ => sg_row::<3>(state, wpad, width, input, mask, slow, coef),
        }
        if coef.score {
            for (q, &m) in score.iter_mut().zip(mask.iter()) {
                *q = if m == MASK_FOREGROUND { 255 } else { 0 };
            }
        }
        return;
    }
    match (kernel, channels) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: resolve_kernel only returns Avx512 when the CPU has AVX-512F.
        (Kernel::Avx512, 1) => unsafe {
            x86::row_avx512_1(state, wpad, width, input, mask, score, slow, coef)
        },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        (Kernel::Avx512, _) => unsafe {
            x86::row_avx512_3(state, wpad, width, input, mask, score, slow, coef)
        },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: resolve_kernel only returns Avx2 when the CPU has AVX2.
        (Kernel::Avx2, 1) => unsafe {
            x86::row_avx2_1(state, wpad, width, input, mask, score, slow, coef)
        },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        (Kernel::Avx2, _) => unsafe {
            x86::row_avx2_3(state, wpad, width, input, mask, score, slow, coef)
        },
        (_, 1) => zivkovic_row::<1, 8>(state, wpad, width, input, mask, score, slow, coef),
        _ => zivkovic_row::<3, 8>(state, wpad, width, input, mask, score, slow, coef),
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{zivkovic_row, Coef};

    /// # Safety
    /// The CPU must support AVX-512F.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")]
    pub(super) unsafe fn row_avx512_1(
        s: &mut [f32],
        wpad: usize,
        w: usize,
        i: &[u8],
        m: &mut [u8],
        q: &mut [u8],
        sl: &[u8],
        c: &Coef,
    ) {
        zivkovic_row::<1, 16>(s, wpad, w, i, m, q, sl, c)
    }
    /// # Safety
    /// The CPU must support AVX-512F.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")]
    pub(super) unsafe fn row_avx512_3(
        s: &mut [f32],
        wpad: usize,
        w: usize,
        i: &[u8],
        m: &mut [u8],
        q: &mut [u8],
        sl: &[u8],
        c: &Coef,
    ) {
        zivkovic_row::<3, 16>(s, wpad, w, i, m, q, sl, c)
    }
    /// # Safety
    /// The CPU must support AVX2.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn row_avx2_1(
        s: &mut [f32],
        wpad: usize,
        w: usize,
        i: &[u8],
        m: &mut [u8],
        q: &mut [u8],
        sl: &[u8],
        c: &Coef,
    ) {
        zivkovic_row::<1, 8>(s, wpad, w, i, m, q, sl, c)
    }
    /// # Safety
    /// The CPU must support AVX2.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn row_avx2_3(
        s: &mut [f32],
        wpad: usize,
        w: usize,
        i: &[u8],
        m: &mut [u8],
        q: &mut [u8],
        sl: &[u8],
        c: &Coef,
    ) {
        zivkovic_row::<3, 8>(s, wpad, w, i, m, q, sl, c)
    }
}

/// Zivkovic update of one row, `L` pixels at a time. Every per-lane step is a plain loop
/// over `0..L` with selects instead of branches, which LLVM turns into vector code.
/// Floating-point operations are those of the reference, in the same order (Rust does not
/// contract a·b+c into FMA), so results are bit-identical. Steps that no lane of a chunk
/// needs (re-sorting after a match below the top mode, creating a mode, the shadow test)
/// are skipped for the whole chunk.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn zivkovic_row<const C: usize, const L: usize>(
    state: &mut [f32],
    _wpad: usize,
    width: usize,
    input: &[u8],
    mask: &mut [u8],
    score: &mut [u8],
    slow: &[u8],
    k: &Coef,
) {
    let m = k.m;
    let mut p = 0;
    let feedback = k.alpha_fg != k.alpha;
    // Scratch for one chunk; slots at or beyond the chunk's used count are never read
    // before being written, so they are not cleared between chunks.
    let mut wt = [[0.0f32; L]; MAX_MODES];
    let mut var = [[0.0f32; L]; MAX_MODES];
    let mut mu = [[[0.0f32; L]; C]; MAX_MODES];
    let mut fit_at = [[false; L]; MAX_MODES];
    let mut isnew = [[false; L]; MAX_MODES];
    while p < width {
        let pl = |kk: usize, f: usize| idx(kk, f, p, C, m);
        // Input lanes, as f32, compensated.
        let mut x = [[0.0f32; L]; C];
        if p + L <= width {
            let src = &input[p * C..(p + L) * C];
            for l in 0..L {
                for c in 0..C {
                    x[c][l] = src[l * C + c] as f32 * k.inv_gain;
                }
            }
        } else {
            for l in 0..width - p {
                for c in 0..C {
                    x[c][l] = input[(p + l) * C + c] as f32 * k.inv_gain;
                }
            }
        }
        // Per-lane rates: ρ·α where the feedback plane says so.
        let mut al = [k.alpha; L];
        let mut a1 = [k.alpha1; L];
        let mut pr = [k.prune; L];
        if feedback {
            // A fixed-length copy (lanes past the row's end read 0: the full rate, as
            // before) so the blends below are whole-vector selects; most chunks have no
            // slow lane at all.
            let mut sl = [0u8; L];
            if p + L <= width {
                sl.copy_from_slice(&slow[p..p + L]);
            } else {
                sl[..width - p].copy_from_slice(&slow[p..width]);
            }
            if any_byte(&sl) {
                for l in 0..L {
                    let f = sl[l] != 0;
                    al[l] = if f { k.alpha_fg } else { k.alpha };
                    a1[l] = if f { k.alpha1_fg } else { k.alpha1 };
                    pr[l] = if f { k.prune_fg } else { k.prune };
                }
            }
        }
        // How many leading mode slots are used by any lane of this chunk.
        let mut kused = 0;
        while kused < m {
            let wp = &state[pl(kused, 0)..pl(kused, 0) + L];
            let mut nz = [false; L];
            for l in 0..L {
                nz[l] = wp[l] != 0.0;
            }
            if !any_lane(&nz) {
                break;
            }
            kused += 1;
        }
        let kn = if kused < m { kused + 1 } else { m };
        prefetch_tile(state, idx(0, 0, p + 3 * TILE, C, m), m + 1 + C);
        for (kk, row) in wt.iter_mut().enumerate().take(kused) {
            row.copy_from_slice(&state[pl(kk, 0)..pl(kk, 0) + L]);
        }
        if kused < m {
            wt[kused] = [0.0; L];
        }
        // Variance and mean of a slot are read only when some lane still searches for a
        // match there (for most background pixels: only the top mode), and written back
        // only if read or created.
        let mut loaded = [false; MAX_MODES];
        // A function, not a closure: a closure is compiled apart from the kernel's target
        // features (no AVX, a call and an AVX/SSE transition per slot loaded).
        let load = |st: &[f32],
                    kk: usize,
                    var: &mut [[f32; L]; MAX_MODES],
                    mu: &mut [[[f32; L]; C]; MAX_MODES]| {
            load_slot::<C, L>(st, kk, p, m, var, mu)
        };

        // Match, update, prune.
        let mut matched = [false; L];
        let mut bg = [false; L];
        let mut cum = [0.0f32; L];
        // Smallest D² = d²/var over the background modes examined (neighbourhood support).
        let mut dmin = [f32::INFINITY; L];
        let mut top_fit = 0;
        for kk in 0..kused {
            let mut need = [false; L];
            for l in 0..L {
                need[l] = !matched[l] & (wt[kk][l] > 0.0);
            }
            if !any_lane(&need) {
                // Weights only: nobody matches here.
                for l in 0..L {
                    let w0 = wt[kk][l];
                    let w = a1[l] * w0 - pr[l];
                    let surv = (w0 > 0.0) & (w >= pr[l]);
                    let w = if surv { w } else { 0.0 };
                    wt[kk][l] = w;
                    cum[l] += w;
                }
                fit_at[kk] = [false; L];
                continue;
            }
            load(state, kk, &mut var, &mut mu);
            loaded[kk] = true;
            for l in 0..L {
                let w0 = wt[kk][l];
                let used = w0 > 0.0;
                let w = a1[l] * w0 - pr[l];
                let mut diff = [0.0f32; C];
                let mut d2 = 0.0f32;
                for c in 0..C {
                    diff[c] = mu[kk][c][l] - x[c][l];
                    d2 += diff[c] * diff[c];
                }
                let v = var[kk][l];
                let notyet = !matched[l] & used;
                let cand = notyet & (cum[l] < k.big_tb);
                bg[l] |= cand & (d2 < k.tb * v);
                let r = d2 / v;
                dmin[l] = if cand & (r < dmin[l]) { r } else { dmin[l] };
                let fit = notyet & (d2 < k.tg * v);
                let wf = w + al[l];
                let kf = al[l] / wf;
                for c in 0..C {
                    let nm = mu[kk][c][l] - kf * diff[c];
                    mu[kk][c][l] = if fit { nm } else { mu[kk][c][l] };
                }
                let nv = (v + kf * (d2 - v)).max(k.var_min).min(k.var_max);
                var[kk][l] = if fit { nv } else { v };
                let w = if fit { wf } else { w };
                let surv = used & (w >= pr[l]);
                let w = if surv { w } else { 0.0 };
                wt[kk][l] = w;
                cum[l] += w;
                matched[l] |= fit;
                fit_at[kk][l] = fit;
            }
            if kk > 0 && any_lane(&fit_at[kk]) {
                top_fit = kk;
            }
        }
        // Move the matched mode up past weaker (or equal) ones (slots above the lowest
        // match only).
        for i in (1..=top_fit).rev() {
            let mut mv = [false; L];
            for l in 0..L {
                mv[l] = fit_at[i][l] & (wt[i][l] >= wt[i - 1][l]);
            }
            for l in 0..L {
                fit_at[i - 1][l] |= mv[l];
            }
            if any_lane(&mv) {
                swap_rows::<C, L>(&mut wt, &mut var, &mut mu, i, &mv);
            }
        }
        // Renormalise.
        let mut inv = [0.0f32; L];
        for l in 0..L {
            inv[l] = if cum[l] > f32::EPSILON {
                1.0 / cum[l]
            } else {
                0.0
            };
        }
        for row in wt.iter_mut().take(kused) {
            for l in 0..L {
                row[l] *= inv[l];
            }
        }
        // A new mode where nothing matched.
        let mut unmatched = [false; L];
        for l in 0..L {
            unmatched[l] = !matched[l];
        }
        let any_new = any_lane(&unmatched);
        let mut kst = kused;
        if any_new && k.alpha > 0.0 {
            kst = kn;
            let mut n = [0i32; L];
            for row in wt.iter().take(kused) {
                for l in 0..L {
                    n[l] += (row[l] > 0.0) as i32;
                }
            }
            let mi = m as i32;
            let mut pos = [0i32; L];
            let mut wn = [0.0f32; L];
            for l in 0..L {
                pos[l] = if matched[l] {
                    -1
                } else if n[l] == mi {
                    mi - 1
                } else {
                    n[l]
                };
                wn[l] = if n[l] == 0 { 1.0 } else { al[l] };
            }
            for kk in 0..kn {
                let ki = kk as i32;
                let mut here = [false; L];
                let mut older = [false; L];
                for l in 0..L {
                    here[l] = ki == pos[l];
                    older[l] = ki < pos[l];
                }
                let any_here = any_lane(&here);
                if any_here && !loaded[kk] {
                    load(state, kk, &mut var, &mut mu);
                    loaded[kk] = true;
                }
                for l in 0..L {
                    let w = if older[l] {
                        wt[kk][l] * a1[l]
                    } else {
                        wt[kk][l]
                    };
                    wt[kk][l] = if here[l] { wn[l] } else { w };
                }
                if any_here {
                    select_into(&mut var[kk], &[k.var_init; L], &here);
                    for c in 0..C {
                        select_into(&mut mu[kk][c], &x[c], &here);
                    }
                }
                isnew[kk] = here;
            }
            for i in (1..kn).rev() {
                let mut mv = [false; L];
                for l in 0..L {
                    mv[l] = isnew[i][l] & (wt[i][l] >= wt[i - 1][l]);
                }
                for l in 0..L {
                    isnew[i - 1][l] |= mv[l];
                }
                if any_lane(&mv) {
                    swap_rows::<C, L>(&mut wt, &mut var, &mut mu, i, &mv);
                }
            }
        }
        // Store back (slot `kused` only when a mode may have been created there).
        for kk in 0..kst {
            state[pl(kk, 0)..pl(kk, 0) + L].copy_from_slice(&wt[kk]);
            if loaded[kk] {
                state[pl(kk, 1)..pl(kk, 1) + L].copy_from_slice(&var[kk]);
                for c in 0..C {
                    state[pl(kk, 2 + c)..pl(kk, 2 + c) + L].copy_from_slice(&mu[kk][c]);
                }
            }
        }
        // Mask, with the shadow test for lanes that are not background.
        let mut out = [MASK_BACKGROUND; L];
        for l in 0..L {
            out[l] = if bg[l] {
                MASK_BACKGROUND
            } else {
                MASK_FOREGROUND
            };
        }
        let any_fg = any_byte(&out);
        if any_fg && k.shadows {
            for kk in 0..kst {
                if !loaded[kk] {
                    load(state, kk, &mut var, &mut mu);
                }
            }
            let mut tw = [0.0f32; L];
            let mut done = [false; L];
            let mut sh = [false; L];
            for kk in 0..kst {
                for l in 0..L {
                    let wk = wt[kk][l];
                    let active = !done[l] & (wk > 0.0);
                    let mut num = 0.0f32;
                    let mut den = 0.0f32;
                    for c in 0..C {
                        num += x[c][l] * mu[kk][c][l];
                        den += mu[kk][c][l] * mu[kk][c][l];
                    }
                    let zero = den == 0.0;
                    done[l] |= active & zero;
                    let act = active & !zero;
                    let inr = (num <= den) & (num >= k.tau * den);
                    let a = num / den;
                    let mut d2a = 0.0f32;
                    for c in 0..C {
                        let dd = a * mu[kk][c][l] - x[c][l];
                        d2a += dd * dd;
                    }
                    let s = act & inr & (d2a < k.tb * var[kk][l] * a * a);
                    sh[l] |= s;
                    done[l] |= s;
                    tw[l] += if act { wk } else { 0.0 };
                    done[l] |= act & (tw[l] > k.big_tb);
                }
            }
            for l in 0..L {
                out[l] = if !bg[l] & sh[l] { MASK_SHADOW } else { out[l] };
            }
        }
        let n = L.min(width - p);
        // Whole-vector stores except in the row's last chunk (a copy of variable length
        // is a call to memcpy).
        if n == L {
            mask[p..p + L].copy_from_slice(&out);
        } else {
            mask[p..p + n].copy_from_slice(&out[..n]);
        }
        if k.score {
            let mut q = [0u8; L];
            for l in 0..L {
                q[l] = if out[l] == MASK_SHADOW {
                    0
                } else {
                    quantise(dmin[l], k.qscale)
                };
            }
            if n == L {
                score[p..p + L].copy_from_slice(&q);
            } else {
                score[p..p + n].copy_from_slice(&q[..n]);
            }
        }
        p += L;
    }
}

/// Copies slot `kk`'s variance and mean lines for the `L` pixels from `p` into the
/// kernel's scratch.
#[inline(always)]
fn load_slot<const C: usize, const L: usize>(
    st: &[f32],
    kk: usize,
    p: usize,
    m: usize,
    var: &mut [[f32; L]; MAX_MODES],
    mu: &mut [[[f32; L]; C]; MAX_MODES],
) {
    let v = idx(kk, 1, p, C, m);
    var[kk].copy_from_slice(&st[v..v + L]);
    for c in 0..C {
        let o = idx(kk, 2 + c, p, C, m);
        mu[kk][c].copy_from_slice(&st[o..o + L]);
    }
}

/// Whether any of the bytes is non-zero. A plain loop over a fixed number of lanes, left
/// to the compiler: OR-ing the lanes' bytes as u64 words instead took fewer instructions
/// in the AVX2 kernel (callgrind) but made `apply` with the AVX-512 kernel 1.4x slower
/// (thread CPU time, CDnet highway).
#[inline(always)]
fn any_byte<const L: usize>(b: &[u8; L]) -> bool {
    let mut any = false;
    for &v in b {
        any |= v != 0;
    }
    any
}

/// Whether any lane is set.
#[inline(always)]
fn any_lane<const L: usize>(m: &[bool; L]) -> bool {
    let mut any = false;
    for &b in m {
        any |= b;
    }
    any
}

/// Hints the CPU to fetch `lines` cache lines of state from `at` on (a tile ahead).
#[inline(always)]
fn prefetch_tile(state: &[f32], at: usize, lines: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        if at + lines * TILE <= state.len() {
            for i in 0..lines {
                // SAFETY: the address is inside `state`; prefetching never faults anyway.
                unsafe {
                    std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                        state.as_ptr().add(at + i * TILE) as *const i8,
                    );
                }
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (state, at, lines);
    }
}

/// `dst[l] = src[l]` where `mask[l]`, as one branch-free blend.
#[inline(always)]
fn select_into<const L: usize>(dst: &mut [f32; L], src: &[f32; L], mask: &[bool; L]) {
    for l in 0..L {
        let m = (mask[l] as u32).wrapping_neg();
        dst[l] = f32::from_bits((src[l].to_bits() & m) | (dst[l].to_bits() & !m));
    }
}

/// Swaps slots `i` and `i - 1` in the lanes where `mv` is set (whole-row blends).
#[inline(always)]
fn swap_rows<const C: usize, const L: usize>(
    wt: &mut [[f32; L]; MAX_MODES],
    var: &mut [[f32; L]; MAX_MODES],
    mu: &mut [[[f32; L]; C]; MAX_MODES],
    i: usize,
    mv: &[bool; L],
) {
    #[inline(always)]
    fn blend<const L: usize>(hi: &mut [f32; L], lo: &mut [f32; L], mv: &[bool; L]) {
        let (a, b) = (*hi, *lo);
        for l in 0..L {
            hi[l] = if mv[l] { b[l] } else { a[l] };
            lo[l] = if mv[l] { a[l] } else { b[l] };
        }
    }
    let (lo, hi) = wt.split_at_mut(i);
    blend(&mut hi[0], &mut lo[i - 1], mv);
    let (lo, hi) = var.split_at_mut(i);
    blend(&mut hi[0], &mut lo[i - 1], mv);
    let (lo, hi) = mu.split_at_mut(i);
    for c in 0..C {
        blend(&mut hi[0][c], &mut lo[i - 1][c], mv);
    }
}

/// Stauffer–Grimson update of one row, pixel by pixel (scalar).
fn sg_row<const C: usize>(
    state: &mut [f32],
    wpad: usize,
    width: usize,
    input: &[u8],
    mask: &mut [u8],
    slow: &[u8],
    k0: &Coef,
) {
    let m = k0.m;
    let _ = wpad;
    let k1 = k0.slowed();
    for px in 0..width {
        let k = if slow[px] != 0 { &k1 } else { k0 };
        let pl = |kk: usize, f: usize| idx(kk, f, px, C, m);
        let mut modes = [(0.0f32, 0.0f32, [0.0f32; C]); MAX_MODES];
        let mut x = [0.0f32; C];
        for c in 0..C {
            x[c] = input[px * C + c] as f32 * k.inv_gain;
        }
        for (kk, md) in modes.iter_mut().enumerate().take(m) {
            md.0 = state[pl(kk, 0)];
            md.1 = state[pl(kk, 1)];
            for c in 0..C {
                md.2[c] = state[pl(kk, 2 + c)];
            }
        }
        let (fg, modes) = crate::pixel::sg_pixel::<C>(&mut modes[..m], &x, k);
        let shadow = fg && k.shadows && crate::pixel::shadow_test::<C>(modes, &x, k);
        for (kk, md) in modes.iter().enumerate() {
            state[pl(kk, 0)] = md.0;
            state[pl(kk, 1)] = md.1;
            for c in 0..C {
                state[pl(kk, 2 + c)] = md.2[c];
            }
        }
        mask[px] = if !fg {
            MASK_BACKGROUND
        } else if shadow {
            MASK_SHADOW
        } else {
            MASK_FOREGROUND
        };
    }
}
