//! Tracking synthetic moving squares: ids survive crossings and short occlusions.

use gaussmix_video::post::components;
use gaussmix_video::track::{TrackRow, Tracker, TrackerOptions};
use std::collections::BTreeMap;

const W: usize = 200;
const H: usize = 120;

struct Square {
    x0: f64,
    y0: f64,
    vx: f64,
    vy: f64,
    size: usize,
    hidden: std::ops::Range<usize>,
}

fn draw(mask: &mut [u8], s: &Square, t: usize) {
    if s.hidden.contains(&t) {
        return;
    }
    let (x, y) = (
        (s.x0 + s.vx * t as f64).round() as i64,
        (s.y0 + s.vy * t as f64).round() as i64,
    );
    for yy in y.max(0)..(y + s.size as i64).min(H as i64) {
        for xx in x.max(0)..(x + s.size as i64).min(W as i64) {
            mask[yy as usize * W + xx as usize] = 255;
        }
    }
}

fn run(squares: &[Square], frames: usize) -> (Vec<TrackRow>, u64) {
    let mut tracker = Tracker::new(TrackerOptions::default());
    let mut labels = Vec::new();
    let mut rows = Vec::new();
    for t in 0..frames {
        let mut mask = vec![0u8; W * H];
        for s in squares {
            draw(&mut mask, s, t);
        }
        let blobs = components(&mask, W, H, 1, &mut labels);
        rows.extend(tracker.update(t + 1, &blobs));
    }
    (rows, tracker.confirmed_total())
}

fn by_id(rows: &[TrackRow]) -> BTreeMap<u64, Vec<&TrackRow>> {
    let mut m: BTreeMap<u64, Vec<&TrackRow>> = BTreeMap::new();
    for r in rows {
        m.entry(r.track_id).or_default().push(r);
    }
    m
}

#[test]
fn crossing_squares_keep_their_ids() {
    // Two squares on nearly the same row moving towards each other; for several frames
    // they overlap and form one blob.
    let squares = [
        Square {
            x0: 10.0,
            y0: 50.0,
            vx: 3.0,
            vy: 0.0,
            size: 14,
            hidden: 0..0,
        },
        Square {
            x0: 176.0,
            y0: 54.0,
            vx: -3.0,
            vy: 0.0,
            size: 14,
            hidden: 0..0,
        },
    ];
    let (rows, total) = run(&squares, 55);
    assert_eq!(
        total,
        2,
        "exactly two tracks: {:?}",
        by_id(&rows).keys().collect::<Vec<_>>()
    );
    let ids = by_id(&rows);
    // Each id moves monotonically in one direction from start to end: no swap.
    let dirs: Vec<f64> = ids
        .values()
        .map(|r| {
            let (a, b) = (r.first().unwrap(), r.last().unwrap());
            for pair in r.windows(2) {
                let d = pair[1].cx - pair[0].cx;
                let overall = b.cx - a.cx;
                assert!(d * overall > -1.0, "track reversed direction: {pair:?}");
            }
            b.cx - a.cx
        })
        .collect();
    assert!(
        dirs.iter().any(|&d| d > 100.0) && dirs.iter().any(|&d| d < -100.0),
        "{dirs:?}"
    );
    // Both tracks are reported again after the crossing (last frame).
    assert_eq!(rows.iter().filter(|r| r.frame == 55).count(), 2);
}

#[test]
fn short_occlusion_keeps_the_id() {
    let squares = [
        Square {
            x0: 20.0,
            y0: 5.0,
            vx: 0.5,
            vy: 2.0,
            size: 12,
            hidden: 20..25,
        },
        Square {
            x0: 150.0,
            y0: 100.0,
            vx: -2.5,
            vy: -0.5,
            size: 10,
            hidden: 30..34,
        },
    ];
    let (rows, total) = run(&squares, 45);
    assert_eq!(total, 2);
    let ids = by_id(&rows);
    for r in ids.values() {
        // Present before and after the gap.
        assert!(
            r.first().unwrap().frame <= 5 && r.last().unwrap().frame == 45,
            "{:?}",
            r.iter().map(|x| x.frame).collect::<Vec<_>>()
        );
    }
    // No rows while hidden (frames 21..=25 for the first square).
    let first = ids.values().find(|r| r[0].cx < 60.0).unwrap();
    assert!(first.iter().all(|r| !(21..=25).contains(&r.frame)));
}

#[test]
fn long_absence_ends_the_track_and_new_ids_are_fresh() {
    let opts = TrackerOptions::default();
    let squares = [Square {
        x0: 20.0,
        y0: 20.0,
        vx: 1.0,
        vy: 0.0,
        size: 12,
        hidden: 10..(11 + opts.max_misses as usize + 5),
    }];
    let (rows, total) = run(&squares, 40);
    assert_eq!(total, 2, "a second id after a long gap");
    let ids = by_id(&rows);
    assert!(ids.keys().copied().eq([1, 2]));
}

#[test]
fn noise_blobs_do_not_become_tracks() {
    // A blob that flickers (present every other frame) never reaches three hits in a row.
    let mut tracker = Tracker::new(TrackerOptions::default());
    let mut labels = Vec::new();
    for t in 0..30 {
        let mut mask = vec![0u8; W * H];
        if t % 2 == 0 {
            for y in 40..50 {
                for x in (20 + 7 * t)..(30 + 7 * t) {
                    mask[y * W + x % W] = 255;
                }
            }
        }
        let blobs = components(&mask, W, H, 1, &mut labels);
        assert!(tracker.update(t + 1, &blobs).is_empty());
    }
    assert_eq!(tracker.confirmed_total(), 0);
}

#[test]
fn overlapping_boxes_merge() {
    use gaussmix_video::post::Blob;
    use gaussmix_video::track::merge_overlapping;
    let b = |x, y, w, h, area| Blob {
        label: 0,
        area,
        x,
        y,
        w,
        h,
        cx: x as f64 + w as f64 / 2.0,
        cy: y as f64 + h as f64 / 2.0,
    };
    // The second box lies inside the first; the third is apart.
    let m = merge_overlapping(
        &[b(0, 0, 10, 10, 60), b(2, 2, 4, 4, 10), b(30, 0, 5, 5, 20)],
        0.5,
    );
    assert_eq!(m.len(), 2);
    assert_eq!(
        (m[0].x, m[0].y, m[0].w, m[0].h, m[0].area),
        (0, 0, 10, 10, 70)
    );
    // Touching corners (overlap 1 px of 100) do not merge; above 1 disables merging.
    assert_eq!(
        merge_overlapping(&[b(0, 0, 10, 10, 60), b(9, 9, 10, 10, 60)], 0.5).len(),
        2
    );
    assert_eq!(
        merge_overlapping(&[b(0, 0, 10, 10, 60), b(2, 2, 4, 4, 10)], 1.5).len(),
        2
    );
}

fn blob(x: usize, y: usize, w: usize, h: usize) -> gaussmix_video::post::Blob {
    gaussmix_video::post::Blob {
        label: 0,
        area: w * h,
        x,
        y,
        w,
        h,
        cx: x as f64 + w as f64 / 2.0,
        cy: y as f64 + h as f64 / 2.0,
    }
}

#[test]
fn a_deleted_track_does_not_shift_predicted_boxes_onto_its_neighbours() {
    // Track A (the first in the list) is seen for 4 frames and then vanishes; it is deleted
    // in frame 4 + max_misses + 1. In that very frame track B (second in the list) shows up
    // as two pieces whose boxes do not overlap: one matches B, the other lies inside B's
    // predicted box and must not start a track. Were the predicted boxes paired with the
    // tracks left after deletion, B would be judged by A's box and the piece would get an id.
    let opts = TrackerOptions {
        birth_hits: 1,
        max_misses: 2,
        ..Default::default()
    };
    let death = 4 + opts.max_misses as usize + 1;
    let mut tracker = Tracker::new(opts);
    let mut ids = std::collections::BTreeSet::new();
    for f in 1..=death + 3 {
        let mut blobs = Vec::new();
        if f <= 4 {
            blobs.push(blob(10, 10, 20, 20));
        }
        if f == death {
            // B split by a band the model got wrong: top and bottom thirds of its box.
            blobs.push(blob(120, 60, 24, 9));
            blobs.push(blob(120, 75, 24, 9));
        } else {
            blobs.push(blob(120, 60, 24, 24));
        }
        let rows = tracker.update(f, &blobs);
        ids.extend(rows.iter().map(|r| r.track_id));
        if f == death {
            assert_eq!(rows.len(), 1, "frame {f}: {rows:?}");
            assert_eq!(rows[0].track_id, 2, "frame {f}: {rows:?}");
        }
    }
    assert_eq!(ids.into_iter().collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(tracker.confirmed_total(), 2);
}

#[test]
fn output_boxes_are_clipped_to_the_frame() {
    // A square leaving through the right edge fast: the filter's box runs ahead of the
    // (cut) blob, past the frame. Unclipped, some box leaves the frame; clipped, none does.
    let run = |clip: bool| {
        let mut tracker = Tracker::new(TrackerOptions::default());
        if clip {
            tracker.set_frame_size(W, H);
        }
        let mut rows = Vec::new();
        for f in 1..=40usize {
            let x = 60 + 5 * f;
            if x >= W {
                break;
            }
            rows.extend(tracker.update(f, &[blob(x, 50, 16.min(W - x), 16)]));
        }
        rows
    };
    let outside = |r: &TrackRow| {
        r.x < 0.0 || r.y < 0.0 || r.x + r.w > W as f64 + 1e-9 || r.y + r.h > H as f64 + 1e-9
    };
    assert!(
        run(false).iter().any(outside),
        "the scenario must push an unclipped box out of the frame"
    );
    let rows = run(true);
    assert!(rows.len() > 10);
    for r in &rows {
        assert!(!outside(r), "{r:?}");
        assert!((r.cx - (r.x + r.w / 2.0)).abs() < 1e-9);
        assert!((r.cy - (r.y + r.h / 2.0)).abs() < 1e-9);
    }
}

/// Two coloured squares on the same row crossing slowly: for longer than `max_misses`
/// frames they are one blob. Returns (ids handed out, ids of the two squares' tracks in
/// the last frame ordered by x, their first-seen x).
/// (track id, box centre x) of the rows of one frame, ordered by x.
type Places = Vec<(u64, f64)>;

fn slow_crossing(opts: TrackerOptions, colours: bool) -> (u64, Places, Places) {
    use gaussmix_video::track::appearances;
    let mut tracker = Tracker::new(opts);
    tracker.set_frame_size(W, H);
    let mut labels = Vec::new();
    let (mut first, mut last) = (Vec::new(), Vec::new());
    // Square A (18 px, red) from the left at 1.5 px/frame, B (12 px, blue) from the right at
    // -1 px/frame; they overlap from about frame 40 to frame 52.
    for t in 0..100usize {
        let mut mask = vec![0u8; W * H];
        let mut rgb = vec![90u8; W * H * 3];
        let mut paint = |x0: f64, size: usize, col: [u8; 3]| {
            let x0 = x0.round() as i64;
            for y in 50..50 + size {
                for x in x0.max(0)..(x0 + size as i64).min(W as i64) {
                    let p = y * W + x as usize;
                    mask[p] = 255;
                    rgb[3 * p..3 * p + 3].copy_from_slice(&col);
                }
            }
        };
        paint(20.0 + 1.5 * t as f64, 18, [220, 30, 30]);
        paint(180.0 - 1.0 * t as f64, 12, [30, 40, 230]);
        let blobs = components(&mask, W, H, 1, &mut labels);
        let rows = if colours {
            let app = appearances(&rgb, 3, &labels, &blobs);
            tracker.update_with_appearance(t + 1, &blobs, &app)
        } else {
            tracker.update(t + 1, &blobs)
        };
        if t == 5 {
            first = rows.iter().map(|r| (r.track_id, r.cx)).collect();
        }
        if t == 99 {
            last = rows.iter().map(|r| (r.track_id, r.cx)).collect();
        }
    }
    first.sort_by(|a, b| a.1.total_cmp(&b.1));
    last.sort_by(|a, b| a.1.total_cmp(&b.1));
    (tracker.confirmed_total(), first, last)
}

#[test]
fn merged_objects_keep_their_ids_through_a_long_crossing() {
    // The old tracker (no occlusion reasoning, no colours) gives the union blob to one track
    // and lets the other die while they are merged: a third id appears.
    let old = TrackerOptions {
        occlusion: false,
        ..Default::default()
    };
    let (total, _, _) = slow_crossing(old, false);
    assert!(
        total > 2,
        "the scenario must defeat the old tracker: {total} ids"
    );
    for colours in [false, true] {
        let (total, first, last) = slow_crossing(TrackerOptions::default(), colours);
        assert_eq!(total, 2, "colours {colours}: {first:?} → {last:?}");
        assert_eq!(first.len(), 2);
        assert_eq!(last.len(), 2);
        // A started on the left and ends on the right: the ids have crossed over.
        assert_eq!(
            first[0].0, last[1].0,
            "colours {colours}: {first:?} → {last:?}"
        );
        assert_eq!(
            first[1].0, last[0].0,
            "colours {colours}: {first:?} → {last:?}"
        );
    }
}

#[test]
fn appearances_count_each_blobs_pixels() {
    use gaussmix_video::track::appearances;
    let mut mask = vec![0u8; W * H];
    let mut rgb = vec![0u8; W * H * 3];
    for y in 10..20 {
        for x in 10..20 {
            mask[y * W + x] = 255;
            rgb[3 * (y * W + x)..3 * (y * W + x) + 3].copy_from_slice(&[255, 0, 0]);
        }
        for x in 50..55 {
            mask[y * W + x] = 255;
        }
    }
    let mut labels = Vec::new();
    let blobs = components(&mask, W, H, 1, &mut labels);
    let app = appearances(&rgb, 3, &labels, &blobs);
    assert_eq!(app.len(), 2);
    // Red (top bin of R, bottom of G and B) is bin 3·16 = 48; black is bin 0.
    assert_eq!(app[0].counts[48], 100.0);
    assert_eq!(app[0].counts.iter().sum::<f32>(), 100.0);
    assert_eq!(app[1].counts[0], 50.0);
}

/// IoU of a row's box and the box (x0, y0, size × size).
fn row_iou(r: &TrackRow, x0: f64, y0: f64, w: f64, h: f64) -> f64 {
    let ix = ((r.x + r.w).min(x0 + w) - r.x.max(x0)).max(0.0);
    let iy = ((r.y + r.h).min(y0 + h) - r.y.max(y0)).max(0.0);
    ix * iy / (r.w * r.h + w * h - ix * iy)
}

/// Two coloured squares crossing on nearly the same row; A (red, in front) slows down
/// while they are one blob. Returns, per frame of the merge, the IoU of each square's
/// true box with its track's reported box (0 when not reported), and the ids handed out.
fn crossing_with_a_change_of_speed(pixels: bool) -> (Vec<(f64, f64)>, u64) {
    use gaussmix_video::track::{appearances, Pixels};
    let mut tracker = Tracker::new(TrackerOptions::default());
    tracker.set_frame_size(W, H);
    let mut labels = Vec::new();
    let mut ids: Option<(u64, u64)> = None;
    let mut out = Vec::new();
    let mut ax = 10.0;
    for t in 0..110usize {
        // A: 2 px/frame, then 0.7 px/frame from frame 47 on (they are one blob from
        // about frame 45); B: -1.5 px/frame.
        ax += if t < 47 { 2.0 } else { 0.7 };
        let bx = 185.0 - 1.5 * t as f64;
        let mut mask = vec![0u8; W * H];
        let mut rgb = vec![90u8; W * H * 3];
        let mut paint = |x0: f64, y0: usize, size: usize, col: [u8; 3]| {
            let x0 = x0.round() as i64;
            for y in y0..y0 + size {
                for x in x0.max(0)..(x0 + size as i64).min(W as i64) {
                    let p = y * W + x as usize;
                    mask[p] = 255;
                    rgb[3 * p..3 * p + 3].copy_from_slice(&col);
                }
            }
        };
        paint(bx, 46, 16, [30, 40, 230]);
        paint(ax, 50, 20, [220, 30, 30]);
        let blobs = components(&mask, W, H, 1, &mut labels);
        let app = appearances(&rgb, 3, &labels, &blobs);
        let rows = if pixels {
            let px = Pixels {
                frame: &rgb,
                channels: 3,
                labels: &labels,
                width: W,
            };
            tracker.update_with_pixels(t + 1, &blobs, &app, &px)
        } else {
            tracker.update_with_appearance(t + 1, &blobs, &app)
        };
        if t == 10 {
            let mut r: Vec<&TrackRow> = rows.iter().collect();
            r.sort_by(|a, b| a.cx.total_cmp(&b.cx));
            assert_eq!(r.len(), 2);
            ids = Some((r[0].track_id, r[1].track_id));
        }
        let (ax0, bx0) = (ax.round(), bx.round());
        let merged = ax0 + 20.0 >= bx0 && bx0 + 16.0 >= ax0;
        if merged {
            let (ia, ib) = ids.expect("both tracked before they meet");
            let iou_of = |id: u64, x: f64, y: f64, s: f64| {
                rows.iter()
                    .find(|r| r.track_id == id)
                    .map_or(0.0, |r| row_iou(r, x, y, s, s))
            };
            out.push((iou_of(ia, ax0, 50.0, 20.0), iou_of(ib, bx0, 46.0, 16.0)));
        }
    }
    (out, tracker.confirmed_total())
}

#[test]
fn a_merged_blob_is_split_among_its_tracks() {
    let (split, ids) = crossing_with_a_change_of_speed(true);
    assert!(
        split.len() > 10,
        "they are merged for {} frames",
        split.len()
    );
    assert_eq!(ids, 2, "no new id at the separation");
    for (k, (a, b)) in split.iter().enumerate() {
        assert!(
            *a >= 0.5 && *b >= 0.5,
            "frame {k} of the merge: IoU {a:.2}, {b:.2}"
        );
    }
    // Coasting on the prediction instead loses the object that changed speed.
    let (coast, _) = crossing_with_a_change_of_speed(false);
    assert!(
        coast.iter().any(|(a, _)| *a < 0.5),
        "the scenario must defeat coasting: {coast:?}"
    );
}

#[test]
fn an_object_behind_an_occluder_keeps_its_size() {
    // A 24-px square moves right at 1.5 px/frame behind a 20-px occluding band (columns
    // 100..120 never foreground). While partly hidden the track reports the whole box;
    // when less than a quarter shows it reports nothing; one id throughout.
    let mut tracker = Tracker::new(TrackerOptions::default());
    tracker.set_frame_size(W, H);
    let mut labels = Vec::new();
    let (mut checked, mut hidden_rows) = (0, 0);
    for t in 0..110usize {
        let x0 = (20.0 + 1.5 * t as f64).round();
        let mut mask = vec![0u8; W * H];
        for y in 40..64 {
            for x in x0 as usize..(x0 as usize + 24).min(W) {
                if !(100..120).contains(&x) {
                    mask[y * W + x] = 255;
                }
            }
        }
        let blobs = components(&mask, W, H, 1, &mut labels);
        let rows = tracker.update(t + 1, &blobs);
        let seen = (x0 as usize..x0 as usize + 24)
            .filter(|x| !(100..120).contains(x))
            .count() as f64
            / 24.0;
        if seen < 0.25 {
            hidden_rows += rows.len();
        } else if seen < 0.6 && t > 5 {
            assert_eq!(rows.len(), 1, "frame {t}: {rows:?}");
            let iou = row_iou(&rows[0], x0, 40.0, 24.0, 24.0);
            assert!(
                iou >= 0.6,
                "frame {t}: {seen:.2} seen, IoU {iou:.2}, {rows:?}"
            );
            checked += 1;
        }
    }
    assert!(checked > 5, "{checked} frames partly hidden");
    assert_eq!(hidden_rows, 0, "rows while less than a quarter shows");
    assert_eq!(tracker.confirmed_total(), 1);
}

/// Paints a `w`×`h` box at (x0, y0) into the mask and the colour image; `stray` of
/// colour `sc` every 5th pixel (by index) when given.
#[allow(clippy::too_many_arguments)]
fn paint_box(
    mask: &mut [u8],
    rgb: &mut [u8],
    x0: i64,
    y0: usize,
    w: usize,
    h: usize,
    col: [u8; 3],
    stray: Option<[u8; 3]>,
) {
    for y in y0..(y0 + h).min(H) {
        for x in x0.max(0)..(x0 + w as i64).min(W as i64) {
            let p = y * W + x as usize;
            mask[p] = 255;
            let c = match stray {
                Some(sc) if (x as usize + 3 * y).is_multiple_of(5) => sc,
                _ => col,
            };
            rgb[3 * p..3 * p + 3].copy_from_slice(&c);
        }
    }
}

/// Frame `t` of a crossing: A (16 px, red, moving right) passes behind B (30 px, blue,
/// moving left, `speckle` sprinkled over it) on the same row. Returns the tracker's rows
/// and the left edges of A and B.
fn crossing_frame(
    tracker: &mut Tracker,
    labels: &mut Vec<u32>,
    t: usize,
    speckle: Option<[u8; 3]>,
) -> (Vec<TrackRow>, f64, f64) {
    use gaussmix_video::track::{appearances, Pixels};
    let ax = 10.0 + 1.5 * t as f64;
    let bx = 170.0 - 1.0 * t as f64;
    let mut mask = vec![0u8; W * H];
    let mut rgb = vec![90u8; W * H * 3];
    paint_box(
        &mut mask,
        &mut rgb,
        ax.round() as i64,
        52,
        16,
        16,
        [230, 30, 30],
        None,
    );
    paint_box(
        &mut mask,
        &mut rgb,
        bx.round() as i64,
        45,
        30,
        30,
        [30, 40, 230],
        speckle,
    );
    let blobs = components(&mask, W, H, 1, labels);
    let app = appearances(&rgb, 3, labels, &blobs);
    let px = Pixels {
        frame: &rgb,
        channels: 3,
        labels,
        width: W,
    };
    let rows = tracker.update_with_pixels(t + 1, &blobs, &app, &px);
    (rows, ax, bx)
}

#[test]
fn a_hidden_object_does_not_spread_over_the_one_in_front() {
    // A (16 px, red) passes behind B (30 px, blue with a sprinkling of red pixels) on the
    // same row. While A is hidden, the red pixels scattered over B go to A's track; its box
    // must stay the size of A (not spread over B) and it must come out with its id.
    let mut tracker = Tracker::new(TrackerOptions::default());
    tracker.set_frame_size(W, H);
    let mut labels = Vec::new();
    let mut id_a = None;
    let mut widest: f64 = 0.0;
    let mut merged = 0;
    for t in 0..120usize {
        let (rows, ax, bx) = crossing_frame(&mut tracker, &mut labels, t, Some([230, 30, 30]));
        if t == 20 {
            let a = rows
                .iter()
                .min_by(|p, q| p.cx.total_cmp(&q.cx))
                .expect("A seen");
            id_a = Some(a.track_id);
        }
        let inside = ax >= bx && ax + 16.0 <= bx + 30.0;
        if inside {
            merged += 1;
            if let Some(a) = rows.iter().find(|r| Some(r.track_id) == id_a) {
                widest = widest.max(a.w);
            }
        }
        if t == 119 {
            let a = rows
                .iter()
                .max_by(|p, q| p.cx.total_cmp(&q.cx))
                .expect("A seen");
            assert_eq!(Some(a.track_id), id_a, "A keeps its id: {rows:?}");
        }
    }
    assert!(merged > 3, "A is inside B for {merged} frames");
    assert!(
        widest <= 20.0,
        "A's box spread to {widest:.1} px while hidden"
    );
}

#[test]
fn an_object_whose_size_was_overestimated_gets_its_size_back() {
    // A 20-px square: for a while another object rides along beside it (the blob widens to
    // 40 px, then narrows back), so the track's remembered size grows. Alone again at a
    // steady 20 px, the track's box shrinks back to the object.
    let mut tracker = Tracker::new(TrackerOptions::default());
    tracker.set_frame_size(W, H);
    let mut labels = Vec::new();
    let mut widest: f64 = 0.0;
    let mut last_w = 0.0;
    for t in 0..90usize {
        let x0 = 10.0 + 1.0 * t as f64;
        let extra = match t {
            0..=19 => 0.0,
            20..=39 => (t - 19) as f64,
            40..=59 => (60 - t) as f64,
            _ => 0.0,
        };
        let mut mask = vec![0u8; W * H];
        let mut rgb = vec![90u8; W * H * 3];
        paint_box(
            &mut mask,
            &mut rgb,
            x0.round() as i64,
            50,
            (20.0 + extra).round() as usize,
            20,
            [230, 30, 30],
            None,
        );
        let blobs = components(&mask, W, H, 1, &mut labels);
        let rows = tracker.update(t + 1, &blobs);
        assert!(rows.len() <= 1, "frame {t}: {rows:?}");
        if let Some(r) = rows.first() {
            if t == 40 {
                widest = r.w;
            }
            last_w = r.w;
        }
    }
    assert!(widest > 30.0, "the remembered size must grow: {widest:.1}");
    assert!(last_w <= 23.0, "box {last_w:.1} px wide for a 20-px object");
}

/// A (16 px, red) passes wholly behind B (30 px, blue). Returns the rows of A's track
/// while it is hidden, and whether A came out with its id.
fn hidden_behind(min_visible: f64) -> (usize, bool) {
    let mut tracker = Tracker::new(TrackerOptions {
        min_visible,
        ..Default::default()
    });
    tracker.set_frame_size(W, H);
    let mut labels = Vec::new();
    let (mut id_a, mut hidden_rows, mut kept) = (None, 0, false);
    for t in 0..120usize {
        let (rows, ax, bx) = crossing_frame(&mut tracker, &mut labels, t, None);
        if t == 20 {
            id_a = rows
                .iter()
                .min_by(|p, q| p.cx.total_cmp(&q.cx))
                .map(|r| r.track_id);
        }
        if ax.round() >= bx.round() + 1.0 && ax.round() + 16.0 <= bx.round() + 29.0 {
            hidden_rows += rows.iter().filter(|r| Some(r.track_id) == id_a).count();
        }
        if t == 119 {
            let a = rows.iter().max_by(|p, q| p.cx.total_cmp(&q.cx));
            kept = a.is_some_and(|a| Some(a.track_id) == id_a);
        }
    }
    (hidden_rows, kept)
}

#[test]
fn a_hidden_object_is_kept_but_not_reported() {
    let (rows, kept) = hidden_behind(TrackerOptions::default().min_visible);
    assert_eq!(rows, 0, "rows of A while wholly hidden");
    assert!(kept, "A comes out with its id");
    // min_visible 0 reports every frame of a kept track, hidden or not.
    let (rows, kept) = hidden_behind(0.0);
    assert!(rows > 3, "{rows} rows of A while hidden with min_visible 0");
    assert!(kept);
}

/// From frame 1 a still blob (a ghost: where an object stood when the background was
/// learnt) sits at the left; a square moves right from frame 20, then stops from frame
/// 60 to 100 (the intermittent-motion case). Returns the rows on the ghost and the
/// frames 60..100 in which the stopped square was reported.
fn ghost_and_pause(ghost_frames: u32) -> (usize, usize) {
    let mut tracker = Tracker::new(TrackerOptions {
        ghost_frames,
        ..Default::default()
    });
    tracker.set_frame_size(W, H);
    let mut labels = Vec::new();
    let (mut on_ghost, mut paused) = (0, 0);
    for t in 0..110usize {
        let mut mask = vec![0u8; W * H];
        for y in 70..92 {
            for x in 10..40 {
                mask[y * W + x] = 255;
            }
        }
        if t >= 20 {
            let x0 = 60 + 2 * (t.min(60) - 20) + 2 * t.saturating_sub(100);
            for y in 20..40 {
                for x in x0..(x0 + 20).min(W) {
                    mask[y * W + x] = 255;
                }
            }
        }
        let blobs = components(&mask, W, H, 1, &mut labels);
        let rows = tracker.update(t + 1, &blobs);
        on_ghost += rows.iter().filter(|r| r.cy > 60.0).count();
        if (60..100).contains(&t) && rows.iter().any(|r| r.cy < 60.0) {
            paused += 1;
        }
    }
    (on_ghost, paused)
}

#[test]
fn a_ghost_is_not_reported_and_a_stopped_object_is() {
    let (on_ghost, paused) = ghost_and_pause(TrackerOptions::default().ghost_frames);
    // Reported from its confirmation (frame 3) until it has been still for 8 frames.
    assert!(on_ghost <= 8, "{on_ghost} rows on the ghost");
    assert_eq!(
        paused, 40,
        "the stopped square is reported throughout its stop"
    );
    // ghost_frames 0 reports the ghost in every frame after its confirmation.
    let (on_ghost, paused) = ghost_and_pause(0);
    assert!(
        on_ghost >= 100,
        "{on_ghost} rows on the ghost with ghost_frames 0"
    );
    assert_eq!(paused, 40);
}
