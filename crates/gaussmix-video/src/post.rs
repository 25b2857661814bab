//! Mask post-processing and connected components.
//!
//! A raw mask has 0 (background), 127 (shadow) and 255 (foreground). [`PostProcess`]
//! cleans the foreground (shadows are not foreground): a k×k median (majority vote),
//! optional 3×3 opening, 3×3 closing, and hole filling; shadows outside the cleaned
//! foreground stay 127. [`components`] labels 8-connected foreground blobs with their area,
//! bounding box and centroid.

// Index loops mirror the maths (lanes, modes, matrix entries) more clearly here.
#![allow(clippy::needless_range_loop)]

use crate::pixel::{MASK_BACKGROUND, MASK_FOREGROUND, MASK_SHADOW};

/// Mask clean-up settings. The default (median 5, close, fill holes, keep shadows) is the
/// classic chain: the majority vote removes isolated noise and ragged edges, the closing
/// joins fragments of one object split by a thin misclassified band, and hole filling
/// restores the inside of objects whose colour happens to match the background (or passes
/// the shadow test, as dark windscreens do): a hole is, by definition, enclosed by the
/// object.
#[derive(Clone, Debug, PartialEq)]
pub struct PostProcess {
    /// Side of the median (majority) window, odd, at most 15; 0 or 1 disables it
    /// (default 5).
    pub median: usize,
    /// 3×3 morphological opening after the median (default false).
    pub open: bool,
    /// 3×3 morphological closing (default true).
    pub close: bool,
    /// Fill background regions not connected to the image border (default true).
    pub fill_holes: bool,
    /// Largest hole filled, as a fraction of the frame area (default 0.01). Holes inside
    /// one object are small; a large enclosed region is more likely real background ringed
    /// by several objects or by the edges lit up when the camera shakes. 1 fills all.
    pub max_hole_fraction: f64,
    /// Keep 127 for shadow pixels outside the cleaned foreground (default true); false
    /// writes them as 0.
    pub keep_shadows: bool,
}

impl Default for PostProcess {
    fn default() -> Self {
        PostProcess {
            median: 5,
            open: false,
            close: true,
            fill_holes: true,
            max_hole_fraction: 0.01,
            keep_shadows: true,
        }
    }
}

impl PostProcess {
    /// No clean-up at all: the mask is returned as the model produced it.
    pub fn none() -> Self {
        PostProcess {
            median: 0,
            open: false,
            close: false,
            fill_holes: false,
            max_hole_fraction: 0.01,
            keep_shadows: true,
        }
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`crate::error::Error::InvalidParam`] for an even median window.
    pub fn validate(&self) -> crate::error::Result<()> {
        if !(0.0..=1.0).contains(&self.max_hole_fraction) {
            return Err(crate::error::Error::param(
                "max_hole_fraction",
                self.max_hole_fraction,
                "must be in [0, 1]",
            ));
        }
        if self.median > 1 && self.median & 1 == 0 {
            return Err(crate::error::Error::param(
                "median",
                self.median,
                "must be odd (or 0 to disable)",
            ));
        }
        Ok(())
    }

    /// Cleans `mask` (`width`×`height`, values 0/127/255) in place.
    pub fn apply(&self, mask: &mut [u8], width: usize, height: usize) {
        assert_eq!(mask.len(), width * height, "mask size");
        let mut fg: Vec<u8> = mask.iter().map(|&m| (m == MASK_FOREGROUND) as u8).collect();
        let mut tmp = vec![0u8; fg.len()];
        let mut cnt = Vec::new();
        if self.median > 1 {
            majority(&fg, &mut tmp, width, height, self.median / 2, &mut cnt);
            std::mem::swap(&mut fg, &mut tmp);
        }
        if self.open {
            erode3(&fg, &mut tmp, width, height, &mut cnt);
            dilate3(&tmp, &mut fg, width, height, &mut cnt);
        }
        if self.close {
            dilate3(&fg, &mut tmp, width, height, &mut cnt);
            erode3(&tmp, &mut fg, width, height, &mut cnt);
        }
        if self.fill_holes {
            let max = (self.max_hole_fraction * (width * height) as f64).floor() as usize;
            fill_holes_upto(&mut fg, width, height, max);
        }
        for (m, &f) in mask.iter_mut().zip(&fg) {
            *m = if f != 0 {
                MASK_FOREGROUND
            } else if self.keep_shadows && *m == MASK_SHADOW {
                MASK_SHADOW
            } else {
                MASK_BACKGROUND
            };
        }
    }
}

#[derive(Clone, Copy)]
enum Rule {
    Majority,
    Any,
    All,
}

/// Counts set pixels (values 0/1) in the (2r+1)² window around each pixel, clipped to the
/// image, and applies `rule` to (count, clipped window area). Separable: a horizontal
/// pass of slice additions, then a vertical one, then the rule: all plain loops over
/// bytes that the compiler vectorises. `r` ≤ 7 (counts fit a byte).
fn box_filter(
    src: &[u8],
    dst: &mut [u8],
    w: usize,
    h: usize,
    r: usize,
    scratch: &mut Vec<u8>,
    rule: Rule,
) {
    assert!(r <= 7, "window radius");
    scratch.resize(2 * w * h, 0);
    let (hs, cnt) = scratch.split_at_mut(w * h);
    horizontal_sums(src, hs, w, h, r);
    // Vertical sums.
    for y in 0..h {
        let (y0, y1) = (y.saturating_sub(r), (y + r).min(h - 1));
        let out = &mut cnt[y * w..(y + 1) * w];
        out.copy_from_slice(&hs[y0 * w..(y0 + 1) * w]);
        for yy in y0 + 1..=y1 {
            for (o, &v) in out.iter_mut().zip(&hs[yy * w..(yy + 1) * w]) {
                *o += v;
            }
        }
    }
    // Window widths per column.
    let cols: Vec<u16> = (0..w)
        .map(|x| ((x + r).min(w - 1) - x.saturating_sub(r) + 1) as u16)
        .collect();
    for y in 0..h {
        let rows = ((y + r).min(h - 1) - y.saturating_sub(r) + 1) as u16;
        let c = &cnt[y * w..(y + 1) * w];
        let d = &mut dst[y * w..(y + 1) * w];
        match rule {
            Rule::Majority => {
                for ((o, &n), &cw) in d.iter_mut().zip(c).zip(&cols) {
                    *o = (2 * n as u16 > rows * cw) as u8;
                }
            }
            Rule::Any => {
                for (o, &n) in d.iter_mut().zip(c) {
                    *o = (n > 0) as u8;
                }
            }
            Rule::All => {
                for ((o, &n), &cw) in d.iter_mut().zip(c).zip(&cols) {
                    *o = (n as u16 == rows * cw) as u8;
                }
            }
        }
    }
}

/// Neighbourhood support (the model's second pass, see
/// [`crate::model::ModelParams::support_radius`]): `mask` (0/127/255 per pixel) becomes
/// 255 where the sum of `score` over the (2r+1)² window around the pixel, clipped to the
/// frame, is at least `threshold` times the clipped window's area and the pixel's own
/// score is at least `floor`, and 0 elsewhere; pixels that are 127 (shadow) stay 127.
/// `r` ≤ 7 (sums fit 16 bits).
#[allow(clippy::too_many_arguments)]
pub fn support_mask(
    score: &[u8],
    mask: &mut [u8],
    w: usize,
    h: usize,
    r: usize,
    threshold: u32,
    floor: u8,
    scratch: &mut Vec<u16>,
) {
    assert!(r <= 7, "window radius");
    assert_eq!(score.len(), w * h, "score size");
    assert_eq!(mask.len(), w * h, "mask size");
    scratch.resize(w * h + w, 0);
    let (hs, acc) = scratch.split_at_mut(w * h);
    horizontal_sums(score, hs, w, h, r);
    let cols: Vec<u32> = (0..w)
        .map(|x| ((x + r).min(w - 1) - x.saturating_sub(r) + 1) as u32 * threshold)
        .collect();
    // Vertical sums and the decision, row by row.
    for y in 0..h {
        let (y0, y1) = (y.saturating_sub(r), (y + r).min(h - 1));
        acc.copy_from_slice(&hs[y0 * w..(y0 + 1) * w]);
        for yy in y0 + 1..=y1 {
            for (o, &v) in acc.iter_mut().zip(&hs[yy * w..(yy + 1) * w]) {
                *o += v;
            }
        }
        let rows = (y1 - y0 + 1) as u32;
        let own = &score[y * w..(y + 1) * w];
        for (((m, &n), &c), &q) in mask[y * w..(y + 1) * w]
            .iter_mut()
            .zip(acc.iter())
            .zip(&cols)
            .zip(own)
        {
            let fg = (n as u32 >= rows * c) & (q >= floor);
            *m = if *m == MASK_SHADOW {
                MASK_SHADOW
            } else if fg {
                MASK_FOREGROUND
            } else {
                MASK_BACKGROUND
            };
        }
    }
}

/// Binary median (values 0/1): set where more than half of the clipped (2r+1)² window
/// is set. `r` ≤ 7.
pub fn majority(src: &[u8], dst: &mut [u8], w: usize, h: usize, r: usize, scratch: &mut Vec<u8>) {
    box_filter(src, dst, w, h, r, scratch, Rule::Majority);
}

/// Binary 3×3 dilation (values 0/1; the window clipped at the border).
pub fn dilate3(src: &[u8], dst: &mut [u8], w: usize, h: usize, scratch: &mut Vec<u8>) {
    box_filter(src, dst, w, h, 1, scratch, Rule::Any);
}

/// Binary 3×3 erosion (values 0/1; the window clipped at the border).
pub fn erode3(src: &[u8], dst: &mut [u8], w: usize, h: usize, scratch: &mut Vec<u8>) {
    box_filter(src, dst, w, h, 1, scratch, Rule::All);
}

/// Sets every background pixel (0) that is not 4-connected to the image border.
///
/// Works on runs: each row's background runs are joined (union–find) with the runs of the
/// row above that they overlap; runs in the first or last row or column mark their set as
/// reaching the border; runs of the other sets are filled. A few runs per row instead of
/// a flood over every pixel.
pub fn fill_holes(fg: &mut [u8], w: usize, h: usize) {
    fill_holes_upto(fg, w, h, usize::MAX)
}

/// [`fill_holes`] for holes of at most `max_area` pixels.
pub fn fill_holes_upto(fg: &mut [u8], w: usize, h: usize, max_area: usize) {
    if w == 0 || h == 0 {
        return;
    }
    // Runs: (row, start, end exclusive).
    let mut runs: Vec<(usize, usize, usize)> = Vec::new();
    let mut row_start = Vec::with_capacity(h + 1);
    for y in 0..h {
        row_start.push(runs.len());
        let row = &fg[y * w..(y + 1) * w];
        let mut x = 0;
        while x < w {
            if row[x] == 0 {
                let s = x;
                while x < w && row[x] == 0 {
                    x += 1;
                }
                runs.push((y, s, x));
            } else {
                x += 1;
            }
        }
    }
    row_start.push(runs.len());
    let mut parent: Vec<usize> = (0..runs.len()).collect();
    fn find(p: &mut [usize], mut i: usize) -> usize {
        while p[i] != i {
            p[i] = p[p[i]];
            i = p[i];
        }
        i
    }
    for y in 1..h {
        let (mut a, a_end) = (row_start[y - 1], row_start[y]);
        let (mut b, b_end) = (row_start[y], row_start[y + 1]);
        while a < a_end && b < b_end {
            let (_, as_, ae) = runs[a];
            let (_, bs, be) = runs[b];
            if as_ < be && bs < ae {
                let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
                if ra != rb {
                    parent[ra.max(rb)] = ra.min(rb);
                }
            }
            if ae < be {
                a += 1;
            } else {
                b += 1;
            }
        }
    }
    let mut border = vec![false; runs.len()];
    for (i, &(y, s, e)) in runs.iter().enumerate() {
        if y == 0 || y == h - 1 || s == 0 || e == w {
            let r = find(&mut parent, i);
            border[r] = true;
        }
    }
    let mut area = vec![0usize; runs.len()];
    for (i, &(_, s, e)) in runs.iter().enumerate() {
        let r = find(&mut parent, i);
        area[r] += e - s;
    }
    for (i, &(y, s, e)) in runs.iter().enumerate() {
        let r = find(&mut parent, i);
        if !border[r] && area[r] <= max_area {
            fg[y * w + s..y * w + e].fill(1);
        }
    }
}

/// One connected foreground region.
#[derive(Clone, Debug, PartialEq)]
pub struct Blob {
    /// Label in the label image (1-based, in raster order of first pixel).
    pub label: u32,
    /// Pixel count.
    pub area: usize,
    /// Bounding box left column.
    pub x: usize,
    /// Bounding box top row.
    pub y: usize,
    /// Bounding box width.
    pub w: usize,
    /// Bounding box height.
    pub h: usize,
    /// Centroid column (mean x of the pixels).
    pub cx: f64,
    /// Centroid row (mean y of the pixels).
    pub cy: f64,
}

/// Labels the 8-connected regions of pixels equal to 255 in `mask` and returns those with
/// at least `min_area` pixels, in raster order of their first pixel. `labels` (resized to
/// width·height) receives each pixel's region label (0 for background and for regions
/// dropped by `min_area`).
pub fn components(
    mask: &[u8],
    width: usize,
    height: usize,
    min_area: usize,
    labels: &mut Vec<u32>,
) -> Vec<Blob> {
    let (w, h) = (width, height);
    labels.clear();
    labels.resize(w * h, 0);
    let mut blobs = Vec::new();
    let mut stack = Vec::new();
    let mut pixels = Vec::new();
    let mut next = 1u32;
    for start in 0..w * h {
        if mask[start] != MASK_FOREGROUND || labels[start] != 0 {
            continue;
        }
        let label = next;
        labels[start] = label;
        stack.push(start);
        pixels.clear();
        let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
        let (mut sx, mut sy) = (0u64, 0u64);
        while let Some(i) = stack.pop() {
            pixels.push(i);
            let (x, y) = (i % w, i / w);
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
            sx += x as u64;
            sy += y as u64;
            for ny in y.saturating_sub(1)..=(y + 1).min(h - 1) {
                for nx in x.saturating_sub(1)..=(x + 1).min(w - 1) {
                    let j = ny * w + nx;
                    if mask[j] == MASK_FOREGROUND && labels[j] == 0 {
                        labels[j] = label;
                        stack.push(j);
                    }
                }
            }
        }
        let area = pixels.len();
        if area >= min_area.max(1) {
            blobs.push(Blob {
                label,
                area,
                x: x0,
                y: y0,
                w: x1 - x0 + 1,
                h: y1 - y0 + 1,
                cx: sx as f64 / area as f64,
                cy: sy as f64 / area as f64,
            });
            next += 1;
        } else {
            for &i in &pixels {
                labels[i] = u32::MAX; // visited, dropped
            }
        }
    }
    for l in labels.iter_mut() {
        if *l == u32::MAX {
            *l = 0;
        }
    }
    blobs
}

/// Sums of each row's `2r + 1`-wide window (clipped at the borders) of `src` into `dst`
/// (both `w × h`), widened to the accumulator type `T`.
fn horizontal_sums<T>(src: &[u8], dst: &mut [T], w: usize, h: usize, r: usize)
where
    T: Copy + From<u8> + std::ops::AddAssign + std::iter::Sum<T>,
{
    for y in 0..h {
        let s = &src[y * w..(y + 1) * w];
        let d = &mut dst[y * w..(y + 1) * w];
        if w > 2 * r {
            d[r..w - r].fill(T::from(0));
            for k in 0..=2 * r {
                for (o, &v) in d[r..w - r].iter_mut().zip(&s[k..k + w - 2 * r]) {
                    *o += T::from(v);
                }
            }
        }
        for x in (0..w).filter(|&x| x < r || x + r >= w) {
            d[x] = s[x.saturating_sub(r)..(x + r + 1).min(w)]
                .iter()
                .map(|&v| T::from(v))
                .sum();
        }
    }
}
