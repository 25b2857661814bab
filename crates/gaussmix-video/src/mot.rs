//! Multi-object tracking scores: CLEAR MOT (MOTA, MOTP, ID switches, fragmentations,
//! mostly tracked / lost) and the identity measures (IDF1, IDP, IDR), computed as
//! py-motmetrics computes them, from MOTChallenge files.
//!
//! ## Matching (per frame, Bernardin & Stiefelhagen 2008, as py-motmetrics 1.4)
//!
//! A ground-truth object and a hypothesis may be paired when the IoU of their boxes is at
//! least the threshold (distance d = 1 − IoU ≤ 1 − threshold; 0.5 by default). Frame by
//! frame, in increasing frame order:
//!
//! 1. every object (in increasing id order) whose last pairing was with a hypothesis that
//!    is present and may still be paired keeps that pairing (a match);
//! 2. the remaining objects and hypotheses are paired by minimum total distance
//!    (Hungarian algorithm); a pairing of an object last paired with another hypothesis is
//!    an **ID switch**, any other a match;
//! 3. objects left over are misses (FN), hypotheses left over false positives (FP).
//!
//! MOTA = 1 − (FN + FP + IDSW) / objects; MOTP = mean distance d (1 − IoU) over the pairs,
//! py-motmetrics' convention (lower is better; MOTChallenge prints 1 − MOTP);
//! precision = pairs / hypotheses, recall = pairs / objects. A fragmentation is a change
//! from tracked to missed between an object's first and last tracked frame. An object is
//! mostly tracked when it is paired in at least 80 % of the frames it appears in, mostly
//! lost below 20 %.
//!
//! The identity measures (Ristani et al. 2016) pair each ground-truth id with at most one
//! hypothesis id for the whole sequence so that the number of frames in which the paired
//! ids' boxes may be paired (IDTP) is largest; IDF1 = 2·IDTP / (objects + hypotheses).
//!
//! HOTA (Luiten et al. 2020) with DetA, AssA and LocA, averaged over IoU thresholds
//! 0.05..0.95, is computed as TrackEval computes it ([`Hota`], [`evaluate_hota`]).
//!
//! ## Files
//!
//! MOTChallenge text: one box per line, `frame,id,x,y,w,h[,conf,…]` (commas or blanks);
//! columns after the sixth are ignored, so every row counts (py-motmetrics' default,
//! `min_confidence = -1`). `x, y` are MOTChallenge's 1-based left and top. A file whose
//! first line is the header of `gaussmix video track`'s CSV (`frame,track_id,…`) is read
//! as that CSV: its `x, y` are 0-based and are shifted by one. Blank lines and lines
//! starting with `#` are skipped. A repeated (frame, id), a non-numeric field, a negative
//! frame, a fractional id or frame, a negative or non-finite size is an error naming the
//! file and line.

use crate::error::{Error, Result};
use crate::hungarian::assign;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

/// One box of a MOTChallenge file.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MotBox {
    /// Frame number.
    pub frame: u64,
    /// Object or track id.
    pub id: i64,
    /// Left (MOTChallenge convention: 1-based).
    pub x: f64,
    /// Top (1-based).
    pub y: f64,
    /// Width.
    pub w: f64,
    /// Height.
    pub h: f64,
}

/// The scores of a tracking result against ground truth (see the module documentation).
#[derive(Clone, Debug, PartialEq)]
pub struct MotMetrics {
    /// Frames in which ground truth or the result has a box.
    pub frames: usize,
    /// Distinct ground-truth ids.
    pub gt_ids: usize,
    /// Distinct hypothesis ids.
    pub hyp_ids: usize,
    /// Ground-truth boxes (object appearances).
    pub objects: usize,
    /// Hypothesis boxes.
    pub hypotheses: usize,
    /// Pairs that are not switches.
    pub matches: usize,
    /// ID switches.
    pub switches: usize,
    /// False positives (unpaired hypotheses).
    pub false_positives: usize,
    /// Misses (unpaired objects).
    pub misses: usize,
    /// Fragmentations.
    pub fragmentations: usize,
    /// Objects paired in at least 80 % of their frames.
    pub mostly_tracked: usize,
    /// Objects paired in 20 % to 80 % of their frames.
    pub partially_tracked: usize,
    /// Objects paired in under 20 % of their frames.
    pub mostly_lost: usize,
    /// 1 − (FN + FP + IDSW) / objects.
    pub mota: f64,
    /// Mean 1 − IoU of the pairs (py-motmetrics' MOTP).
    pub motp: f64,
    /// Pairs / hypotheses.
    pub precision: f64,
    /// Pairs / objects.
    pub recall: f64,
    /// Identity true positives.
    pub idtp: usize,
    /// Identity false positives.
    pub idfp: usize,
    /// Identity false negatives.
    pub idfn: usize,
    /// Identity F1: 2·IDTP / (objects + hypotheses).
    pub idf1: f64,
    /// Identity precision: IDTP / (IDTP + IDFP).
    pub idp: f64,
    /// Identity recall: IDTP / (IDTP + IDFN).
    pub idr: f64,
    /// The IoU threshold used (for everything but HOTA).
    pub iou_threshold: f64,
    /// HOTA and its parts, over all localisation thresholds.
    pub hota: Hota,
}

impl std::fmt::Display for MotMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "MOTA  {:.4}", self.mota)?;
        writeln!(f, "MOTP  {:.4}  (mean 1 - IoU of pairs)", self.motp)?;
        writeln!(
            f,
            "IDF1  {:.4}  (IDP {:.4}, IDR {:.4})",
            self.idf1, self.idp, self.idr
        )?;
        writeln!(f, "Pr    {:.4}", self.precision)?;
        writeln!(f, "Re    {:.4}", self.recall)?;
        writeln!(
            f,
            "IDSW {}  Frag {}  FP {}  FN {}  matches {}",
            self.switches, self.fragmentations, self.false_positives, self.misses, self.matches
        )?;
        writeln!(
            f,
            "MT {}  PT {}  ML {}  of {} objects",
            self.mostly_tracked, self.partially_tracked, self.mostly_lost, self.gt_ids
        )?;
        writeln!(f, "{}", self.hota)?;
        write!(
            f,
            "{} boxes of ground truth, {} of the result ({} ids), {} frames, IoU >= {} \
             (HOTA: all IoU thresholds)",
            self.objects, self.hypotheses, self.hyp_ids, self.frames, self.iou_threshold
        )
    }
}

/// Reads a MOTChallenge file (see the module documentation for the format).
///
/// # Errors
/// [`Error::Io`] when the file cannot be read, [`Error::BadTracks`] naming the line for
/// malformed content.
pub fn read_mot(path: &Path) -> Result<Vec<MotBox>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io("cannot read", path, e))?;
    parse_mot(&text, path)
}

/// Parses MOTChallenge text; `path` only names the source in errors.
///
/// # Errors
/// [`Error::BadTracks`] naming the line.
pub fn parse_mot(text: &str, path: &Path) -> Result<Vec<MotBox>> {
    let bad = |line: usize, message: String| Error::BadTracks {
        path: path.to_path_buf(),
        line,
        message,
    };
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    let mut shift = 0.0;
    let mut first = true;
    for (k, raw) in text.lines().enumerate() {
        let line = k + 1;
        let s = raw.trim();
        if s.is_empty() || s.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = if s.contains(',') {
            s.split(',').map(str::trim).collect()
        } else {
            s.split_whitespace().collect()
        };
        if first {
            first = false;
            if fields[0].parse::<f64>().is_err() {
                let f0 = fields[0].to_ascii_lowercase();
                let f1 = fields.get(1).map(|f| f.to_ascii_lowercase());
                if f0 == "frame" && f1.as_deref() == Some("track_id") {
                    // gaussmix's CSV: 0-based left and top.
                    shift = 1.0;
                    continue;
                }
                return Err(bad(
                    line,
                    format!(
                        "expected `frame,id,x,y,w,h,…` numbers (or the header of \
                         `gaussmix video track`'s CSV), got `{s}`"
                    ),
                ));
            }
        }
        if fields.len() < 6 {
            return Err(bad(
                line,
                format!(
                    "{} fields, need at least 6 (frame,id,x,y,w,h)",
                    fields.len()
                ),
            ));
        }
        let mut v = [0.0f64; 6];
        for (i, f) in fields[..6].iter().enumerate() {
            v[i] = f
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| {
                    bad(
                        line,
                        format!("field {} (`{f}`) is not a finite number", i + 1),
                    )
                })?;
        }
        if v[0] < 0.0 || v[0].fract() != 0.0 || v[0] > 1e15 {
            return Err(bad(
                line,
                format!("frame `{}` is not a whole number >= 0", fields[0]),
            ));
        }
        if v[1].fract() != 0.0 || v[1].abs() > 1e15 {
            return Err(bad(
                line,
                format!("id `{}` is not a whole number", fields[1]),
            ));
        }
        if v[4] < 0.0 || v[5] < 0.0 {
            return Err(bad(
                line,
                format!("negative box size {} x {}", fields[4], fields[5]),
            ));
        }
        let b = MotBox {
            frame: v[0] as u64,
            id: v[1] as i64,
            x: v[2] + shift,
            y: v[3] + shift,
            w: v[4],
            h: v[5],
        };
        if !seen.insert((b.frame, b.id)) {
            return Err(bad(
                line,
                format!("id {} appears twice in frame {}", b.id, b.frame),
            ));
        }
        out.push(b);
    }
    Ok(out)
}

/// IoU of two (x, y, w, h) boxes, computed as py-motmetrics does.
fn box_iou(a: &MotBox, b: &MotBox) -> f64 {
    let iw = ((a.x + a.w).min(b.x + b.w) - a.x.max(b.x)).max(0.0);
    let ih = ((a.y + a.h).min(b.y + b.h) - a.y.max(b.y)).max(0.0);
    let inter = iw * ih;
    if inter == 0.0 {
        return 0.0;
    }
    inter / (a.w * a.h + b.w * b.h - inter)
}

const FORBIDDEN: f64 = 1e12;

/// Scores `hyp` against `gt` with pairs allowed at IoU ≥ `iou_threshold` (the module
/// documentation gives the rules).
///
/// # Errors
/// [`Error::InvalidParam`] when `iou_threshold` is not in (0, 1].
pub fn evaluate_mot(gt: &[MotBox], hyp: &[MotBox], iou_threshold: f64) -> Result<MotMetrics> {
    if !(iou_threshold > 0.0 && iou_threshold <= 1.0) {
        return Err(Error::param(
            "iou_threshold",
            iou_threshold,
            "must be in (0, 1]",
        ));
    }
    let max_d = 1.0 - iou_threshold;
    let mut by_frame: BTreeMap<u64, (Vec<&MotBox>, Vec<&MotBox>)> = BTreeMap::new();
    for b in gt {
        by_frame.entry(b.frame).or_default().0.push(b);
    }
    for b in hyp {
        by_frame.entry(b.frame).or_default().1.push(b);
    }
    // Per object: appearances, tracked frames, and the tracked/missed sequence.
    let mut appear: BTreeMap<i64, usize> = BTreeMap::new();
    let mut happear: BTreeMap<i64, usize> = BTreeMap::new();
    let mut history: BTreeMap<i64, Vec<bool>> = BTreeMap::new();
    let mut pair_frames: HashMap<(i64, i64), usize> = HashMap::new();
    let mut last: HashMap<i64, i64> = HashMap::new();
    let (mut matches, mut switches, mut fp, mut fn_) = (0usize, 0usize, 0usize, 0usize);
    let mut dsum = 0.0f64;
    for (objs, hyps) in by_frame.values_mut() {
        objs.sort_by_key(|b| b.id);
        hyps.sort_by_key(|b| b.id);
        let (no, nh) = (objs.len(), hyps.len());
        for o in objs.iter() {
            *appear.entry(o.id).or_default() += 1;
        }
        for h in hyps.iter() {
            *happear.entry(h.id).or_default() += 1;
        }
        // d = 1 − IoU where a pair is allowed, None otherwise.
        let mut dist: Vec<Option<f64>> = vec![None; no * nh];
        for (i, o) in objs.iter().enumerate() {
            for (j, h) in hyps.iter().enumerate() {
                let d = 1.0 - box_iou(o, h);
                if d <= max_d {
                    dist[i * nh + j] = Some(d);
                    *pair_frames.entry((o.id, h.id)).or_default() += 1;
                }
            }
        }
        let mut om = vec![false; no];
        let mut hm = vec![false; nh];
        if no > 0 && nh > 0 {
            // 1. Pairings carried over.
            for i in 0..no {
                let Some(&hprev) = last.get(&objs[i].id) else {
                    continue;
                };
                let Some(j) = (0..nh).find(|&j| !hm[j] && hyps[j].id == hprev) else {
                    continue;
                };
                if let Some(d) = dist[i * nh + j] {
                    om[i] = true;
                    hm[j] = true;
                    matches += 1;
                    dsum += d;
                }
            }
            // 2. The rest by minimum total distance.
            let cost: Vec<f64> = (0..no * nh)
                .map(|k| {
                    let (i, j) = (k / nh, k % nh);
                    match dist[k] {
                        Some(d) if !om[i] && !hm[j] => d,
                        _ => FORBIDDEN,
                    }
                })
                .collect();
            for (i, j) in assign(&cost, no, nh).into_iter().enumerate() {
                let Some(j) = j else { continue };
                if cost[i * nh + j] >= FORBIDDEN {
                    continue;
                }
                let d = dist[i * nh + j].expect("allowed pair");
                let (o, h) = (objs[i].id, hyps[j].id);
                match last.get(&o) {
                    Some(&p) if p != h => switches += 1,
                    _ => matches += 1,
                }
                dsum += d;
                last.insert(o, h);
                om[i] = true;
                hm[j] = true;
            }
        }
        for (i, o) in objs.iter().enumerate() {
            history.entry(o.id).or_default().push(om[i]);
            if !om[i] {
                fn_ += 1;
            }
        }
        fp += hm.iter().filter(|&&m| !m).count();
    }
    let objects: usize = appear.values().sum();
    let hypotheses: usize = happear.values().sum();
    let detections = matches + switches;
    let mut fragmentations = 0;
    let (mut mt, mut pt, mut ml) = (0, 0, 0);
    for seq in history.values() {
        let tracked = seq.iter().filter(|&&t| t).count();
        let ratio = tracked as f64 / seq.len() as f64;
        if ratio >= 0.8 {
            mt += 1;
        } else if ratio < 0.2 {
            ml += 1;
        } else {
            pt += 1;
        }
        if let (Some(a), Some(b)) = (seq.iter().position(|&t| t), seq.iter().rposition(|&t| t)) {
            fragmentations += seq[a..=b].windows(2).filter(|w| w[0] && !w[1]).count();
        }
    }
    // Identity: the one-to-one pairing of ids with the most co-paired frames.
    let oids: Vec<i64> = appear.keys().copied().collect();
    let hids: Vec<i64> = happear.keys().copied().collect();
    let mut idtp = 0usize;
    if !oids.is_empty() && !hids.is_empty() {
        let hidx: HashMap<i64, usize> = hids.iter().enumerate().map(|(j, &h)| (h, j)).collect();
        let oidx: HashMap<i64, usize> = oids.iter().enumerate().map(|(i, &o)| (o, i)).collect();
        let nh = hids.len();
        let mut cost = vec![0.0; oids.len() * nh];
        for (&(o, h), &n) in &pair_frames {
            cost[oidx[&o] * nh + hidx[&h]] = -(n as f64);
        }
        for (i, j) in assign(&cost, oids.len(), nh).into_iter().enumerate() {
            if let Some(j) = j {
                idtp += pair_frames.get(&(oids[i], hids[j])).copied().unwrap_or(0);
            }
        }
    }
    let idfn = objects - idtp;
    let idfp = hypotheses - idtp;
    Ok(MotMetrics {
        frames: by_frame.len(),
        gt_ids: oids.len(),
        hyp_ids: hids.len(),
        objects,
        hypotheses,
        matches,
        switches,
        false_positives: fp,
        misses: fn_,
        fragmentations,
        mostly_tracked: mt,
        partially_tracked: pt,
        mostly_lost: ml,
        mota: 1.0 - (fn_ + switches + fp) as f64 / objects as f64,
        motp: dsum / detections as f64,
        precision: detections as f64 / (fp + detections) as f64,
        recall: detections as f64 / objects as f64,
        idtp,
        idfp,
        idfn,
        idf1: 2.0 * idtp as f64 / (objects + hypotheses) as f64,
        idp: idtp as f64 / (idtp + idfp) as f64,
        idr: idtp as f64 / (idtp + idfn) as f64,
        iou_threshold,
        hota: evaluate_hota(gt, hyp),
    })
}

/// Reads two MOTChallenge files and scores the second against the first at IoU ≥ 0.5.
///
/// # Errors
/// As [`read_mot`].
pub fn evaluate_mot_files(gt: &Path, tracks: &Path) -> Result<MotMetrics> {
    let g = read_mot(gt)?;
    let h = read_mot(tracks)?;
    evaluate_mot(&g, &h, 0.5)
}

/// Number of localisation thresholds α of [`Hota`]: 0.05, 0.10, …, 0.95.
pub const HOTA_ALPHAS: usize = 19;

/// Higher Order Tracking Accuracy (Luiten et al. 2020, "HOTA: A Higher Order Metric for
/// Evaluating Multi-Object Tracking", IJCV), computed as TrackEval computes it.
///
/// For each localisation threshold α in 0.05, 0.10, …, 0.95, ground-truth and result
/// boxes are paired frame by frame (Hungarian) maximising IoU × the global alignment of
/// their ids (A(g, h) = Σ_t s_t / (|g| + |h| − Σ_t s_t), s_t the frame's IoU over the
/// IoUs of the row and column), keeping pairs of IoU ≥ α. Then DetA = TP / (TP + FN + FP),
/// AssA = (1/TP) Σ over pairs c of TPA(c) / (TPA(c) + FNA(c) + FPA(c)) (how much of the
/// paired ids' lives they are paired), LocA = mean IoU of the pairs, and
/// HOTA(α) = √(DetA · AssA). The summary figures are means over the 19 thresholds. Every
/// row of both files counts (as for MOTA here).
#[derive(Clone, Debug, PartialEq)]
pub struct Hota {
    /// The thresholds α (0.05 + 0.05 k, as NumPy's `arange(0.05, 0.99, 0.05)`).
    pub alphas: [f64; HOTA_ALPHAS],
    /// HOTA(α).
    pub hota_alpha: [f64; HOTA_ALPHAS],
    /// DetA(α).
    pub det_a_alpha: [f64; HOTA_ALPHAS],
    /// AssA(α).
    pub ass_a_alpha: [f64; HOTA_ALPHAS],
    /// LocA(α).
    pub loc_a_alpha: [f64; HOTA_ALPHAS],
    /// Detection recall TP / (TP + FN) per α.
    pub det_re_alpha: [f64; HOTA_ALPHAS],
    /// Detection precision TP / (TP + FP) per α.
    pub det_pr_alpha: [f64; HOTA_ALPHAS],
    /// Association recall per α.
    pub ass_re_alpha: [f64; HOTA_ALPHAS],
    /// Association precision per α.
    pub ass_pr_alpha: [f64; HOTA_ALPHAS],
    /// True positives per α.
    pub tp_alpha: [usize; HOTA_ALPHAS],
    /// HOTA averaged over α.
    pub hota: f64,
    /// DetA averaged over α.
    pub det_a: f64,
    /// AssA averaged over α.
    pub ass_a: f64,
    /// LocA averaged over α.
    pub loc_a: f64,
    /// DetRe averaged over α.
    pub det_re: f64,
    /// DetPr averaged over α.
    pub det_pr: f64,
    /// AssRe averaged over α.
    pub ass_re: f64,
    /// AssPr averaged over α.
    pub ass_pr: f64,
}

impl std::fmt::Display for Hota {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "HOTA  {:.4}  (DetA {:.4}, AssA {:.4}, LocA {:.4}; DetRe {:.4}, DetPr {:.4}, \
             AssRe {:.4}, AssPr {:.4}; means over IoU 0.05..0.95)",
            self.hota,
            self.det_a,
            self.ass_a,
            self.loc_a,
            self.det_re,
            self.det_pr,
            self.ass_re,
            self.ass_pr
        )
    }
}

/// IoU of two (x, y, w, h) boxes as TrackEval computes it (corners first; empty boxes
/// and unions score 0).
fn trackeval_iou(a: &MotBox, b: &MotBox) -> f64 {
    let eps = f64::EPSILON;
    let (ax1, ay1, bx1, by1) = (a.x + a.w, a.y + a.h, b.x + b.w, b.y + b.h);
    let inter = (ax1.min(bx1) - a.x.max(b.x)).max(0.0) * (ay1.min(by1) - a.y.max(b.y)).max(0.0);
    let area_a = (ax1 - a.x) * (ay1 - a.y);
    let area_b = (bx1 - b.x) * (by1 - b.y);
    let union = area_a + area_b - inter;
    if area_a <= eps || area_b <= eps || union <= eps {
        0.0
    } else {
        inter / union
    }
}

/// HOTA of `hyp` against `gt` (see [`Hota`]).
pub fn evaluate_hota(gt: &[MotBox], hyp: &[MotBox]) -> Hota {
    let eps = f64::EPSILON;
    let alphas: [f64; HOTA_ALPHAS] = std::array::from_fn(|k| 0.05 + k as f64 * 0.05);
    let zero = [0.0; HOTA_ALPHAS];
    let mut out = Hota {
        alphas,
        hota_alpha: zero,
        det_a_alpha: zero,
        ass_a_alpha: zero,
        loc_a_alpha: [1.0; HOTA_ALPHAS],
        det_re_alpha: zero,
        det_pr_alpha: zero,
        ass_re_alpha: zero,
        ass_pr_alpha: zero,
        tp_alpha: [0; HOTA_ALPHAS],
        hota: 0.0,
        det_a: 0.0,
        ass_a: 0.0,
        loc_a: 1.0,
        det_re: 0.0,
        det_pr: 0.0,
        ass_re: 0.0,
        ass_pr: 0.0,
    };
    if gt.is_empty() || hyp.is_empty() {
        // TrackEval's early return: no pairs, LocA 1, everything else 0.
        return out;
    }
    let gids: BTreeSet<i64> = gt.iter().map(|b| b.id).collect();
    let hids: BTreeSet<i64> = hyp.iter().map(|b| b.id).collect();
    let gidx: HashMap<i64, usize> = gids.iter().enumerate().map(|(i, &g)| (g, i)).collect();
    let hidx: HashMap<i64, usize> = hids.iter().enumerate().map(|(j, &h)| (h, j)).collect();
    let (ng, nh) = (gids.len(), hids.len());
    let mut by_frame: BTreeMap<u64, (Vec<&MotBox>, Vec<&MotBox>)> = BTreeMap::new();
    for b in gt {
        by_frame.entry(b.frame).or_default().0.push(b);
    }
    for b in hyp {
        by_frame.entry(b.frame).or_default().1.push(b);
    }
    // Per frame: ids (as indices) and the IoU matrix.
    let frames: Vec<(Vec<usize>, Vec<usize>, Vec<f64>)> = by_frame
        .values()
        .map(|(g, h)| {
            let gi: Vec<usize> = g.iter().map(|b| gidx[&b.id]).collect();
            let hi: Vec<usize> = h.iter().map(|b| hidx[&b.id]).collect();
            let mut sim = vec![0.0; g.len() * h.len()];
            for (i, a) in g.iter().enumerate() {
                for (j, b) in h.iter().enumerate() {
                    sim[i * h.len() + j] = trackeval_iou(a, b);
                }
            }
            (gi, hi, sim)
        })
        .collect();
    // Global alignment of ids.
    let mut potential: HashMap<(usize, usize), f64> = HashMap::new();
    let mut gcount = vec![0.0f64; ng];
    let mut hcount = vec![0.0f64; nh];
    for (gi, hi, sim) in &frames {
        let m = hi.len();
        let rows: Vec<f64> = (0..gi.len())
            .map(|i| sim[i * m..(i + 1) * m].iter().sum())
            .collect();
        let cols: Vec<f64> = (0..m)
            .map(|j| (0..gi.len()).map(|i| sim[i * m + j]).sum())
            .collect();
        for i in 0..gi.len() {
            for j in 0..m {
                let s = sim[i * m + j];
                let denom = cols[j] + rows[i] - s;
                if denom > eps && s != 0.0 {
                    *potential.entry((gi[i], hi[j])).or_default() += s / denom;
                }
            }
        }
        for &g in gi {
            gcount[g] += 1.0;
        }
        for &h in hi {
            hcount[h] += 1.0;
        }
    }
    let align = |g: usize, h: usize| {
        let p = potential.get(&(g, h)).copied().unwrap_or(0.0);
        p / (gcount[g] + hcount[h] - p)
    };
    let mut tp = [0usize; HOTA_ALPHAS];
    let mut fn_ = [0usize; HOTA_ALPHAS];
    let mut fp = [0usize; HOTA_ALPHAS];
    let mut loc = [0.0f64; HOTA_ALPHAS];
    let mut pairs: Vec<HashMap<(usize, usize), f64>> = vec![HashMap::new(); HOTA_ALPHAS];
    for (gi, hi, sim) in &frames {
        let (n, m) = (gi.len(), hi.len());
        if n == 0 || m == 0 {
            for a in 0..HOTA_ALPHAS {
                fn_[a] += n;
                fp[a] += m;
            }
            continue;
        }
        let cost: Vec<f64> = (0..n * m)
            .map(|k| -(align(gi[k / m], hi[k % m]) * sim[k]))
            .collect();
        let matched: Vec<(usize, usize)> = assign(&cost, n, m)
            .into_iter()
            .enumerate()
            .filter_map(|(i, j)| j.map(|j| (i, j)))
            .collect();
        for (a, &alpha) in alphas.iter().enumerate() {
            let mut k = 0;
            for &(i, j) in &matched {
                let s = sim[i * m + j];
                if s >= alpha - eps {
                    k += 1;
                    loc[a] += s;
                    *pairs[a].entry((gi[i], hi[j])).or_default() += 1.0;
                }
            }
            tp[a] += k;
            fn_[a] += n - k;
            fp[a] += m - k;
        }
    }
    for a in 0..HOTA_ALPHAS {
        let t = tp[a] as f64;
        let (mut ass, mut re, mut pr) = (0.0, 0.0, 0.0);
        for (&(g, h), &c) in &pairs[a] {
            ass += c * c / (gcount[g] + hcount[h] - c).max(1.0);
            re += c * c / gcount[g].max(1.0);
            pr += c * c / hcount[h].max(1.0);
        }
        out.ass_a_alpha[a] = ass / t.max(1.0);
        out.ass_re_alpha[a] = re / t.max(1.0);
        out.ass_pr_alpha[a] = pr / t.max(1.0);
        out.loc_a_alpha[a] = loc[a].max(1e-10) / t.max(1e-10);
        out.det_re_alpha[a] = t / ((tp[a] + fn_[a]) as f64).max(1.0);
        out.det_pr_alpha[a] = t / ((tp[a] + fp[a]) as f64).max(1.0);
        out.det_a_alpha[a] = t / ((tp[a] + fn_[a] + fp[a]) as f64).max(1.0);
        out.hota_alpha[a] = (out.det_a_alpha[a] * out.ass_a_alpha[a]).sqrt();
        out.tp_alpha[a] = tp[a];
    }
    let mean = |v: &[f64; HOTA_ALPHAS]| v.iter().sum::<f64>() / HOTA_ALPHAS as f64;
    out.hota = mean(&out.hota_alpha);
    out.det_a = mean(&out.det_a_alpha);
    out.ass_a = mean(&out.ass_a_alpha);
    out.loc_a = mean(&out.loc_a_alpha);
    out.det_re = mean(&out.det_re_alpha);
    out.det_pr = mean(&out.det_pr_alpha);
    out.ass_re = mean(&out.ass_re_alpha);
    out.ass_pr = mean(&out.ass_pr_alpha);
    out
}
