//! Multi-object tracking of foreground blobs (SORT-like).
//!
//! Each track owns a constant-velocity [`BoxKalman`]. Every frame all tracks predict,
//! blobs are assigned to tracks by the Hungarian algorithm on a cost that prefers overlap
//! (1 − IoU of the predicted box and the blob's box) and falls back to centre distance
//! for fast or small objects whose boxes no longer overlap (cost 1 + d/gate); pairs beyond
//! the gate are forbidden. A new track is tentative until it has been matched
//! `birth_hits` frames in a row, then gets the next id (ids count from 1 and are never
//! reused); a tentative track dies at its first miss, a confirmed one after more than
//! `max_misses` consecutive misses, coasting on its prediction meanwhile, so it keeps its
//! id through short occlusions and crossings.

use crate::hungarian::assign;
use crate::kalman::{BoxKalman, KalmanNoise};
use crate::post::Blob;

/// Tracker settings.
#[derive(Clone, Debug, PartialEq)]
pub struct TrackerOptions {
    /// Blobs smaller than this (pixels) are ignored (default 64).
    pub min_area: usize,
    /// Smallest IoU that counts as overlap (default 0.05).
    pub min_iou: f64,
    /// Distance gate, as a multiple of the predicted box's diagonal (default 1.0).
    pub max_distance: f64,
    /// Consecutive matches before a track is confirmed and gets an id (default 3).
    pub birth_hits: u32,
    /// Consecutive misses after which a confirmed track is deleted (default 8).
    pub max_misses: u32,
    /// Blobs whose boxes overlap by at least this fraction of the smaller box are merged
    /// into one before matching, and an unmatched blob with at least this fraction of its
    /// box inside a confirmed track's box starts no track (default 0.5): pieces of one
    /// object split by a band the model got wrong (a dark windscreen taken for shadow)
    /// otherwise become tracks of their own. Values above 1 disable both.
    pub merge_overlap: f64,
    /// Kalman noise settings.
    pub noise: KalmanNoise,
}

impl Default for TrackerOptions {
    fn default() -> Self {
        TrackerOptions {
            min_area: 64,
            min_iou: 0.05,
            max_distance: 1.0,
            birth_hits: 3,
            max_misses: 8,
            merge_overlap: 0.5,
            noise: KalmanNoise::default(),
        }
    }
}

impl TrackerOptions {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`crate::Error::InvalidParam`] for out-of-range values.
    pub fn validate(&self) -> crate::Result<()> {
        if !(0.0..1.0).contains(&self.min_iou) {
            return Err(crate::Error::param(
                "min_iou",
                self.min_iou,
                "must be in [0, 1)",
            ));
        }
        if !(self.max_distance.is_finite() && self.max_distance >= 0.0) {
            return Err(crate::Error::param(
                "max_distance",
                self.max_distance,
                "must be finite and >= 0",
            ));
        }
        if self.birth_hits == 0 {
            return Err(crate::Error::param(
                "birth_hits",
                self.birth_hits,
                "must be >= 1",
            ));
        }
        Ok(())
    }
}

/// One output row: a confirmed track's filtered box in one frame.
#[derive(Clone, Debug, PartialEq)]
pub struct TrackRow {
    /// Frame number (1-based, input order).
    pub frame: usize,
    /// Track id (from 1).
    pub track_id: u64,
    /// Box left.
    pub x: f64,
    /// Box top.
    pub y: f64,
    /// Box width.
    pub w: f64,
    /// Box height.
    pub h: f64,
    /// Box centre column.
    pub cx: f64,
    /// Box centre row.
    pub cy: f64,
}

impl TrackRow {
    /// The CSV header matching [`TrackRow::csv`].
    pub const CSV_HEADER: &'static str = "frame,track_id,x,y,w,h,cx,cy";

    /// The row as CSV (two decimals).
    pub fn csv(&self) -> String {
        format!(
            "{},{},{:.2},{:.2},{:.2},{:.2},{:.2},{:.2}",
            self.frame, self.track_id, self.x, self.y, self.w, self.h, self.cx, self.cy
        )
    }
}

/// How [`crate::track()`] writes its rows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TrackFormat {
    /// `frame,track_id,x,y,w,h,cx,cy` with a header, `x, y` 0-based (default).
    #[default]
    Csv,
    /// MOTChallenge rows `frame,id,x,y,w,h,1,-1,-1,-1`, no header, `x, y` 1-based.
    Mot,
}

impl TrackRow {
    /// The row in MOTChallenge form (`frame,id,left,top,w,h,1,-1,-1,-1`, left and top
    /// 1-based as MOTChallenge counts pixels).
    pub fn mot(&self) -> String {
        format!(
            "{},{},{:.2},{:.2},{:.2},{:.2},1,-1,-1,-1",
            self.frame,
            self.track_id,
            self.x + 1.0,
            self.y + 1.0,
            self.w,
            self.h
        )
    }
}

#[derive(Clone, Debug)]
struct Track {
    id: u64,
    kf: BoxKalman,
    hits: u32,
    misses: u32,
}

/// The multi-object tracker.
#[derive(Clone, Debug)]
pub struct Tracker {
    opts: TrackerOptions,
    tracks: Vec<Track>,
    next_id: u64,
    frame_size: Option<(f64, f64)>,
}

/// Intersection over union of two boxes given as (cx, cy, w, h).
pub fn iou(a: [f64; 4], b: [f64; 4]) -> f64 {
    let ix = ((a[0] + a[2] / 2.0).min(b[0] + b[2] / 2.0)
        - (a[0] - a[2] / 2.0).max(b[0] - b[2] / 2.0))
    .max(0.0);
    let iy = ((a[1] + a[3] / 2.0).min(b[1] + b[3] / 2.0)
        - (a[1] - a[3] / 2.0).max(b[1] - b[3] / 2.0))
    .max(0.0);
    let inter = ix * iy;
    let union = a[2] * a[3] + b[2] * b[3] - inter;
    if union > 0.0 {
        inter / union
    } else {
        0.0
    }
}

/// Fraction of box `a`'s area inside box `b` (both (cx, cy, w, h)).
fn overlap_fraction(a: [f64; 4], b: [f64; 4]) -> f64 {
    let ix = ((a[0] + a[2] / 2.0).min(b[0] + b[2] / 2.0)
        - (a[0] - a[2] / 2.0).max(b[0] - b[2] / 2.0))
    .max(0.0);
    let iy = ((a[1] + a[3] / 2.0).min(b[1] + b[3] / 2.0)
        - (a[1] - a[3] / 2.0).max(b[1] - b[3] / 2.0))
    .max(0.0);
    let area = a[2] * a[3];
    if area > 0.0 {
        ix * iy / area
    } else {
        0.0
    }
}

fn blob_box(b: &Blob) -> [f64; 4] {
    [
        b.x as f64 + b.w as f64 / 2.0,
        b.y as f64 + b.h as f64 / 2.0,
        b.w as f64,
        b.h as f64,
    ]
}

const FORBIDDEN: f64 = 1e9;

/// One blob made of several: areas add, boxes unite, centroids average by area.
fn merge_all(group: &[Blob]) -> Blob {
    let mut out = group[0].clone();
    for b in &group[1..] {
        let area = out.area + b.area;
        let (x1, y1) = (
            (out.x + out.w).max(b.x + b.w),
            (out.y + out.h).max(b.y + b.h),
        );
        out.cx = (out.cx * out.area as f64 + b.cx * b.area as f64) / area as f64;
        out.cy = (out.cy * out.area as f64 + b.cy * b.area as f64) / area as f64;
        out.x = out.x.min(b.x);
        out.y = out.y.min(b.y);
        out.w = x1 - out.x;
        out.h = y1 - out.y;
        out.area = area;
    }
    out
}

/// Merges blobs whose boxes overlap by at least `frac` of the smaller box (repeatedly,
/// so chains merge): areas add, boxes unite, centroids average by area.
pub fn merge_overlapping(blobs: &[Blob], frac: f64) -> Vec<Blob> {
    let mut out: Vec<Blob> = blobs.to_vec();
    if frac > 1.0 {
        return out;
    }
    loop {
        let mut merged_any = false;
        'outer: for i in 0..out.len() {
            for j in i + 1..out.len() {
                let (a, b) = (&out[i], &out[j]);
                let ix = (a.x + a.w).min(b.x + b.w).saturating_sub(a.x.max(b.x));
                let iy = (a.y + a.h).min(b.y + b.h).saturating_sub(a.y.max(b.y));
                let smaller = (a.w * a.h).min(b.w * b.h) as f64;
                if (ix * iy) as f64 >= frac * smaller && ix * iy > 0 {
                    let b = out.swap_remove(j);
                    out[i] = merge_all(&[out[i].clone(), b]);
                    merged_any = true;
                    break 'outer;
                }
            }
        }
        if !merged_any {
            return out;
        }
    }
}

impl Tracker {
    /// A tracker with no tracks.
    pub fn new(opts: TrackerOptions) -> Self {
        Tracker {
            opts,
            tracks: Vec::new(),
            next_id: 1,
            frame_size: None,
        }
    }

    /// Clips the output boxes to a `width`×`height` frame (the Kalman state itself is
    /// left as it is, so a track leaving the frame keeps its velocity).
    pub fn set_frame_size(&mut self, width: usize, height: usize) {
        self.frame_size = Some((width as f64, height as f64));
    }

    /// The output row of box `b` (cx, cy, w, h), clipped to the frame when its size is known.
    fn row(&self, frame: usize, track_id: u64, b: [f64; 4]) -> TrackRow {
        let [cx, cy, w, h] = b;
        let (mut x0, mut y0, mut x1, mut y1) =
            (cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0);
        if let Some((fw, fh)) = self.frame_size {
            x0 = x0.clamp(0.0, fw);
            x1 = x1.clamp(0.0, fw);
            y0 = y0.clamp(0.0, fh);
            y1 = y1.clamp(0.0, fh);
        }
        TrackRow {
            frame,
            track_id,
            x: x0,
            y: y0,
            w: x1 - x0,
            h: y1 - y0,
            cx: (x0 + x1) / 2.0,
            cy: (y0 + y1) / 2.0,
        }
    }

    /// Number of ids handed out so far (confirmed tracks, alive or dead).
    pub fn confirmed_total(&self) -> u64 {
        self.next_id - 1
    }

    /// Confirmed tracks alive now.
    pub fn active(&self) -> usize {
        self.tracks.iter().filter(|t| t.id > 0).count()
    }

    /// Processes the blobs of frame `frame` and returns the rows of the confirmed tracks
    /// matched in it (ordered by id).
    pub fn update(&mut self, frame: usize, blobs: &[Blob]) -> Vec<TrackRow> {
        for t in &mut self.tracks {
            t.kf.predict();
        }
        let predicted: Vec<[f64; 4]> = self.tracks.iter().map(|t| t.kf.bbox()).collect();
        let merged = merge_overlapping(blobs, self.opts.merge_overlap);
        let blobs: Vec<&Blob> = merged
            .iter()
            .filter(|b| b.area >= self.opts.min_area)
            .collect();
        let (nt, nb) = (self.tracks.len(), blobs.len());
        let mut cost = vec![FORBIDDEN; nt * nb];
        for (i, t) in self.tracks.iter().enumerate() {
            let pb = t.kf.bbox();
            let gate = self.opts.max_distance * (pb[2] * pb[2] + pb[3] * pb[3]).sqrt();
            for (j, b) in blobs.iter().enumerate() {
                let bb = blob_box(b);
                let o = iou(pb, bb);
                let d = ((pb[0] - bb[0]).powi(2) + (pb[1] - bb[1]).powi(2)).sqrt();
                cost[i * nb + j] = if o >= self.opts.min_iou && o > 0.0 {
                    1.0 - o
                } else if d <= gate && gate > 0.0 {
                    1.0 + d / gate
                } else {
                    FORBIDDEN
                };
            }
        }
        let a = assign(&cost, nt, nb);
        let mut blob_used = vec![false; nb];
        let mut matched = vec![false; nt];
        for (i, j) in a.iter().enumerate() {
            if let Some(j) = *j {
                if cost[i * nb + j] < FORBIDDEN {
                    matched[i] = true;
                    blob_used[j] = true;
                    let t = &mut self.tracks[i];
                    t.kf.update(blob_box(blobs[j]));
                    t.hits += 1;
                    t.misses = 0;
                    if t.id == 0 && t.hits >= self.opts.birth_hits {
                        t.id = self.next_id;
                        self.next_id += 1;
                    }
                }
            }
        }
        let mut rows = Vec::new();
        for (t, &m) in self.tracks.iter_mut().zip(&matched) {
            if !m {
                t.misses += 1;
                if t.id == 0 {
                    t.hits = 0;
                }
            }
        }
        for (t, &m) in self.tracks.iter().zip(&matched) {
            if m && t.id > 0 {
                rows.push(self.row(frame, t.id, t.kf.bbox()));
            }
        }
        // Predicted boxes of confirmed tracks: an unmatched blob mostly inside one is a piece of
        // that object, not a new one. Paired with the tracks before `retain` drops any, so a
        // deleted track cannot shift the boxes onto its neighbours.
        let owners: Vec<[f64; 4]> = predicted
            .iter()
            .zip(&self.tracks)
            .filter(|(_, t)| t.id > 0)
            .map(|(p, _)| *p)
            .collect();
        let max_misses = self.opts.max_misses;
        self.tracks.retain(|t| {
            if t.id == 0 {
                t.misses == 0
            } else {
                t.misses <= max_misses
            }
        });
        for (j, b) in blobs.iter().enumerate() {
            let bb = blob_box(b);
            let inside = owners
                .iter()
                .any(|o| overlap_fraction(bb, *o) >= self.opts.merge_overlap);
            if !blob_used[j] && !inside {
                let mut t = Track {
                    id: 0,
                    kf: BoxKalman::new(blob_box(b), self.opts.noise),
                    hits: 1,
                    misses: 0,
                };
                if self.opts.birth_hits <= 1 {
                    t.id = self.next_id;
                    self.next_id += 1;
                    rows.push(self.row(frame, t.id, t.kf.bbox()));
                }
                self.tracks.push(t);
            }
        }
        rows.sort_by_key(|r| r.track_id);
        rows
    }

    /// Predicted boxes (cx, cy, w, h) of the confirmed tracks that were not matched in
    /// the last frame (coasting through an occlusion), with their ids.
    pub fn coasting(&self) -> Vec<(u64, [f64; 4])> {
        self.tracks
            .iter()
            .filter(|t| t.id > 0 && t.misses > 0)
            .map(|t| (t.id, t.kf.bbox()))
            .collect()
    }
}
