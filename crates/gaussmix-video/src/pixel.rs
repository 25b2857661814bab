//! The per-pixel mixture steps (Zivkovic, Stauffer–Grimson, the shadow test) and the
//! values they work on, shared by the fast [`crate::model::BackgroundModel`] and the
//! plain [`crate::reference::ReferenceModel`]. A leaf module: it imports nothing from
//! the crate, so both models can build on it.

// Index loops mirror the maths (lanes, modes, matrix entries) more clearly here.
#![allow(clippy::needless_range_loop)]

/// Largest number of mixture components per pixel.
pub const MAX_MODES: usize = 8;

/// Mask value of a background pixel.
pub const MASK_BACKGROUND: u8 = 0;
/// Mask value of a shadow pixel (CDnet: 127 is scored as negative).
pub const MASK_SHADOW: u8 = 127;
/// Mask value of a foreground pixel.
pub const MASK_FOREGROUND: u8 = 255;

/// One mixture component of one pixel, as exposed for inspection and tests.
#[derive(Clone, Debug, PartialEq)]
pub struct Mode {
    /// Mixing weight.
    pub weight: f32,
    /// Variance (one for all channels).
    pub variance: f32,
    /// Mean per channel (1 or 3 values).
    pub mean: Vec<f32>,
}

/// The per-frame constants the kernels need.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Coef {
    pub alpha: f32,
    pub alpha1: f32,
    /// α·c_T (positive).
    pub prune: f32,
    pub tb: f32,
    pub tg: f32,
    pub big_tb: f32,
    pub var_init: f32,
    pub var_min: f32,
    pub var_max: f32,
    pub tau: f32,
    pub shadows: bool,
    pub m: usize,
    pub inv_gain: f32,
    /// Write per-pixel scores for the neighbourhood support.
    pub score: bool,
    /// Score per unit of D²: 255 / (cap · Tb).
    pub qscale: f32,
    /// Pixels flagged in the feedback plane learn with these instead (ρ·α).
    pub alpha_fg: f32,
    pub alpha1_fg: f32,
    pub prune_fg: f32,
}

/// One Zivkovic step; returns the mask value and D², the smallest d²/var over the
/// background modes examined before the match (infinite when there are none).
pub(crate) fn zivkovic_pixel(modes: &mut Vec<Mode>, x: &[f32], k: &Coef) -> (u8, f32) {
    let mut d2min = f32::INFINITY;
    let mut total = 0.0f32;
    let mut fits = false;
    let mut background = false;
    let mut matched = None;
    for (j, md) in modes.iter_mut().enumerate() {
        let mut w = k.alpha1 * md.weight - k.prune;
        if !fits {
            let diff: Vec<f32> = md.mean.iter().zip(x).map(|(m, v)| m - v).collect();
            let mut d2 = 0.0f32;
            for d in &diff {
                d2 += d * d;
            }
            if total < k.big_tb {
                if d2 < k.tb * md.variance {
                    background = true;
                }
                d2min = d2min.min(d2 / md.variance);
            }
            if d2 < k.tg * md.variance {
                fits = true;
                matched = Some(j);
                w += k.alpha;
                let kf = k.alpha / w;
                for (m, d) in md.mean.iter_mut().zip(&diff) {
                    *m -= kf * d;
                }
                md.variance = (md.variance + kf * (d2 - md.variance))
                    .max(k.var_min)
                    .min(k.var_max);
            }
        }
        if w < k.prune {
            w = 0.0; // pruned: removed below
        }
        md.weight = w;
        total += w;
    }
    if let Some(mut j) = matched {
        while j > 0 && modes[j].weight >= modes[j - 1].weight {
            modes.swap(j, j - 1);
            j -= 1;
        }
    }
    modes.retain(|m| m.weight > 0.0);
    let inv = if total > f32::EPSILON {
        1.0 / total
    } else {
        0.0
    };
    for md in modes.iter_mut() {
        md.weight *= inv;
    }
    modes.retain(|m| m.weight > 0.0);
    if !fits && k.alpha > 0.0 {
        if modes.len() == k.m {
            modes.pop();
        }
        let new = |weight| Mode {
            weight,
            variance: k.var_init,
            mean: x.to_vec(),
        };
        if modes.is_empty() {
            modes.push(new(1.0));
        } else {
            for md in modes.iter_mut() {
                md.weight *= k.alpha1;
            }
            modes.push(new(k.alpha));
            let mut j = modes.len() - 1;
            while j > 0 && modes[j].weight >= modes[j - 1].weight {
                modes.swap(j, j - 1);
                j -= 1;
            }
        }
    }
    let m = if background {
        MASK_BACKGROUND
    } else if k.shadows && shadow_vec(modes, x, k) {
        MASK_SHADOW
    } else {
        MASK_FOREGROUND
    };
    (m, d2min)
}

/// Prati-style shadow test over the background modes (OpenCV's `detectShadowGMM`).
fn shadow_vec(modes: &[Mode], x: &[f32], k: &Coef) -> bool {
    let mut tw = 0.0f32;
    for md in modes {
        let mut num = 0.0f32;
        let mut den = 0.0f32;
        for (m, v) in md.mean.iter().zip(x) {
            num += v * m;
            den += m * m;
        }
        if den == 0.0 {
            return false;
        }
        if num <= den && num >= k.tau * den {
            let a = num / den;
            let mut d2a = 0.0f32;
            for (m, v) in md.mean.iter().zip(x) {
                let dd = a * m - v;
                d2a += dd * dd;
            }
            if d2a < k.tb * md.variance * a * a {
                return true;
            }
        }
        tw += md.weight;
        if tw > k.big_tb {
            return false;
        }
    }
    false
}

/// A mode as (weight, variance, mean) in a fixed-size slot; weight 0 marks a free slot.
pub(crate) type Slot<const C: usize> = (f32, f32, [f32; C]);

/// The shadow test on fixed slots (used prefix, strongest first).
pub(crate) fn shadow_test<const C: usize>(modes: &[Slot<C>], x: &[f32; C], k: &Coef) -> bool {
    let v: Vec<Mode> = modes
        .iter()
        .map(|m| Mode {
            weight: m.0,
            variance: m.1,
            mean: m.2.to_vec(),
        })
        .collect();
    shadow_vec(&v, x, k)
}

/// One Stauffer–Grimson step; the score stand-in is infinite for foreground, 0 otherwise
/// (the neighbourhood support then counts foreground pixels).
pub(crate) fn sg_vec<const C: usize>(modes: &mut Vec<Mode>, x: &[f32], k: &Coef) -> (u8, f32) {
    let mut slots = [(0.0f32, 0.0f32, [0.0f32; C]); MAX_MODES];
    for (s, m) in slots.iter_mut().zip(modes.iter()) {
        s.0 = m.weight;
        s.1 = m.variance;
        s.2.copy_from_slice(&m.mean);
    }
    let mut xa = [0.0f32; C];
    xa.copy_from_slice(x);
    let (fg, used) = sg_pixel::<C>(&mut slots[..k.m], &xa, k);
    *modes = used
        .iter()
        .map(|s| Mode {
            weight: s.0,
            variance: s.1,
            mean: s.2.to_vec(),
        })
        .collect();
    if !fg {
        (MASK_BACKGROUND, 0.0)
    } else if k.shadows && shadow_vec(modes, x, k) {
        (MASK_SHADOW, 0.0)
    } else {
        (MASK_FOREGROUND, f32::INFINITY)
    }
}

/// One Stauffer–Grimson step on a pixel's slots (free slots have weight 0 and come last;
/// used ones are sorted by weight/σ, descending). Returns (foreground?, used slots).
pub(crate) fn sg_pixel<'a, const C: usize>(
    modes: &'a mut [Slot<C>],
    x: &[f32; C],
    k: &Coef,
) -> (bool, &'a [Slot<C>]) {
    let mut n = modes.iter().take_while(|m| m.0 > 0.0).count();
    let mut cum = 0.0f32;
    let mut matched = None;
    let mut background = false;
    for (i, md) in modes[..n].iter().enumerate() {
        let mut d2 = 0.0f32;
        for c in 0..C {
            let d = md.2[c] - x[c];
            d2 += d * d;
        }
        if d2 < k.tg * md.1 {
            matched = Some(i);
            background = cum < k.big_tb;
            break;
        }
        cum += md.0;
    }
    for (i, md) in modes[..n].iter_mut().enumerate() {
        md.0 *= k.alpha1;
        if matched == Some(i) {
            md.0 += k.alpha;
            let rho = k.alpha / md.0;
            let mut d2 = 0.0f32;
            for c in 0..C {
                let d = x[c] - md.2[c];
                md.2[c] += rho * d;
                d2 += d * d;
            }
            md.1 = (md.1 + rho * (d2 - md.1)).max(k.var_min).min(k.var_max);
        }
    }
    if matched.is_none() && k.alpha > 0.0 {
        let pos = if n == modes.len() { n - 1 } else { n };
        n = n.max(pos + 1);
        modes[pos] = (if n == 1 { 1.0 } else { k.alpha }, k.var_init, *x);
    }
    let total: f32 = modes[..n].iter().map(|m| m.0).sum();
    if total > 0.0 {
        for md in modes[..n].iter_mut() {
            md.0 /= total;
        }
    }
    // Insertion sort by weight/σ, descending (stable).
    let key = |m: &Slot<C>| m.0 / m.1.sqrt();
    for i in 1..n {
        let mut j = i;
        while j > 0 && key(&modes[j]) > key(&modes[j - 1]) {
            modes.swap(j, j - 1);
            j -= 1;
        }
    }
    (!background, &modes[..n])
}
