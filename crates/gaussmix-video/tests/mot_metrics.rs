//! Tracking scores (`gaussmix_video::mot`) against py-motmetrics on the bundled fixture
//! (data/mot, written by scripts/motmetrics_fixture.py), and small cases worked by hand.

use gaussmix_video::mot::{evaluate_mot, parse_mot, read_mot, MotBox};
use std::path::{Path, PathBuf};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../data/mot")
        .join(name)
}

/// The value of `"key": number` in the flat JSON the fixture script writes.
fn json_number(text: &str, key: &str) -> f64 {
    let pat = format!("\"{key}\":");
    let at = text
        .find(&pat)
        .unwrap_or_else(|| panic!("{key} not in fixture"))
        + pat.len();
    let rest = &text[at..];
    let end = rest.find([',', '\n', '}']).unwrap();
    rest[..end].trim().parse().unwrap()
}

#[test]
fn scores_match_py_motmetrics_on_the_fixture() {
    let gt = read_mot(&data("gt.txt")).unwrap();
    let hyp = read_mot(&data("hyp.txt")).unwrap();
    let want = std::fs::read_to_string(data("motmetrics.json")).unwrap();
    let m = evaluate_mot(&gt, &hyp, 0.5).unwrap();
    let close = |name: &str, got: f64| {
        let w = json_number(&want, name);
        assert!(
            (got - w).abs() <= 1e-9,
            "{name}: gaussmix {got}, py-motmetrics {w}"
        );
    };
    close("mota", m.mota);
    close("motp", m.motp);
    close("idf1", m.idf1);
    close("idp", m.idp);
    close("idr", m.idr);
    close("precision", m.precision);
    close("recall", m.recall);
    close("num_switches", m.switches as f64);
    close("num_fragmentations", m.fragmentations as f64);
    close("num_false_positives", m.false_positives as f64);
    close("num_misses", m.misses as f64);
    close("num_matches", m.matches as f64);
    close("mostly_tracked", m.mostly_tracked as f64);
    close("partially_tracked", m.partially_tracked as f64);
    close("mostly_lost", m.mostly_lost as f64);
    close("idtp", m.idtp as f64);
    close("idfp", m.idfp as f64);
    close("idfn", m.idfn as f64);
    close("num_objects", m.objects as f64);
    close("num_predictions", m.hypotheses as f64);
    close("num_unique_objects", m.gt_ids as f64);
    close("num_frames", m.frames as f64);
    // The fixture exercises what it is meant to.
    assert!(m.switches > 0 && m.fragmentations > 0 && m.mostly_lost > 0);
    assert!(m.partially_tracked > 0 && m.false_positives > 0 && m.misses > 0);
}

fn b(frame: u64, id: i64, x: f64, y: f64) -> MotBox {
    MotBox {
        frame,
        id,
        x,
        y,
        w: 10.0,
        h: 10.0,
    }
}

#[test]
fn a_switch_a_fragment_and_the_identity_pairing() {
    // One object over 6 frames; the result follows it with id 7 (frames 1-2), loses it in
    // frame 3, then follows it with id 8 (frames 4-6): one switch, one fragmentation.
    let gt: Vec<MotBox> = (1..=6).map(|f| b(f, 1, 10.0 * f as f64, 0.0)).collect();
    let hyp: Vec<MotBox> = [1, 2, 4, 5, 6]
        .iter()
        .map(|&f| b(f, if f < 3 { 7 } else { 8 }, 10.0 * f as f64 + 1.0, 0.0))
        .collect();
    let m = evaluate_mot(&gt, &hyp, 0.5).unwrap();
    assert_eq!(
        (m.matches, m.switches, m.misses, m.false_positives),
        (4, 1, 1, 0)
    );
    assert_eq!(m.fragmentations, 1);
    assert!((m.mota - (1.0 - 2.0 / 6.0)).abs() < 1e-12);
    // IoU of boxes shifted by 1 px: 90 / 110.
    assert!((m.motp - (1.0 - 90.0 / 110.0)).abs() < 1e-12);
    // id 8 is the better partner (3 frames): IDTP 3, IDF1 = 6 / 11.
    assert_eq!((m.idtp, m.idfp, m.idfn), (3, 2, 3));
    assert!((m.idf1 - 6.0 / 11.0).abs() < 1e-12);
    assert_eq!((m.mostly_tracked, m.mostly_lost), (1, 0));
}

#[test]
fn an_established_pairing_is_kept_over_a_closer_newcomer() {
    // Frame 2: hypothesis 5 (still paired with object 1) and a better-fitting hypothesis 6;
    // CLEAR MOT keeps 5, 6 is a false positive, no switch.
    let gt = vec![b(1, 1, 0.0, 0.0), b(2, 1, 0.0, 0.0)];
    let hyp = vec![b(1, 5, 1.0, 0.0), b(2, 5, 2.0, 0.0), b(2, 6, 0.0, 0.0)];
    let m = evaluate_mot(&gt, &hyp, 0.5).unwrap();
    assert_eq!((m.matches, m.switches, m.false_positives), (2, 0, 1));
    // Below the IoU threshold nothing pairs.
    let far = vec![b(1, 5, 6.0, 0.0), b(2, 5, 6.0, 0.0)];
    let m = evaluate_mot(&gt, &far, 0.5).unwrap();
    assert_eq!((m.matches, m.misses, m.false_positives), (0, 2, 2));
    assert_eq!(m.mostly_lost, 1);
}

#[test]
fn gaussmix_csv_is_read_with_zero_based_corners() {
    let csv = "frame,track_id,x,y,w,h,cx,cy\n3,2,0.00,4.50,10.00,8.00,5.00,8.50\n";
    let r = parse_mot(csv, Path::new("t.csv")).unwrap();
    assert_eq!(
        r,
        vec![MotBox {
            frame: 3,
            id: 2,
            x: 1.0,
            y: 5.5,
            w: 10.0,
            h: 8.0
        }]
    );
    let mot = "# comment\n\n3 2 1 5.5 10 8 1 -1 -1 -1\n";
    assert_eq!(parse_mot(mot, Path::new("t.txt")).unwrap(), r);
}

#[test]
fn malformed_files_name_the_line() {
    for (text, needle) in [
        ("1,1,0,0,10\n", "line 1"),
        ("1,1,0,0,10,10\n1,1,5,5,10,10\n", "appears twice"),
        ("1,1,0,0,10,10\n2,x,0,0,10,10\n", "line 2"),
        ("1.5,1,0,0,10,10\n", "whole number"),
        ("1,1,0,0,-3,10\n", "negative box size"),
        ("1,1,0,0,nan,10\n", "not a finite number"),
        ("id,frame,x\n", "expected"),
    ] {
        let e = parse_mot(text, Path::new("bad.txt"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("bad.txt") && e.contains(needle), "{text:?}: {e}");
    }
    assert!(read_mot(Path::new("/nonexistent/gt.txt")).is_err());
    assert!(evaluate_mot(&[], &[], 0.0).is_err());
}

/// The numbers of `"key": [a, b, …]` in the fixture JSON.
fn json_array(text: &str, key: &str) -> Vec<f64> {
    let pat = format!("\"{key}\": [");
    let at = text
        .find(&pat)
        .unwrap_or_else(|| panic!("{key} not in fixture"))
        + pat.len();
    let rest = &text[at..];
    let end = rest.find(']').unwrap();
    rest[..end]
        .split(',')
        .map(|v| v.trim().parse().unwrap())
        .collect()
}

#[test]
fn hota_matches_trackeval_on_the_fixture() {
    // data/mot/hota.json: TrackEval 1.3.0's HOTA code on the same files
    // (scripts/hota_fixture.py).
    let gt = read_mot(&data("gt.txt")).unwrap();
    let hyp = read_mot(&data("hyp.txt")).unwrap();
    let want = std::fs::read_to_string(data("hota.json")).unwrap();
    let h = evaluate_mot(&gt, &hyp, 0.5).unwrap().hota;
    let close = |name: &str, got: f64| {
        let w = json_number(&want, name);
        assert!(
            (got - w).abs() <= 1e-9,
            "{name}: gaussmix {got}, TrackEval {w}"
        );
    };
    close("HOTA", h.hota);
    close("DetA", h.det_a);
    close("AssA", h.ass_a);
    close("LocA", h.loc_a);
    close("DetRe", h.det_re);
    close("DetPr", h.det_pr);
    close("AssRe", h.ass_re);
    close("AssPr", h.ass_pr);
    let per = |name: &str, got: &[f64]| {
        let w = json_array(&want, name);
        assert_eq!(w.len(), got.len(), "{name}");
        for (k, (a, b)) in got.iter().zip(&w).enumerate() {
            assert!(
                (a - b).abs() <= 1e-9,
                "{name}[{k}]: gaussmix {a}, TrackEval {b}"
            );
        }
    };
    per("HOTA_alpha", &h.hota_alpha);
    per("DetA_alpha", &h.det_a_alpha);
    per("AssA_alpha", &h.ass_a_alpha);
    per("LocA_alpha", &h.loc_a_alpha);
    let tp: Vec<f64> = h.tp_alpha.iter().map(|&v| v as f64).collect();
    per("HOTA_TP_alpha", &tp);
    // The fixture is not trivial: association and localisation both fall with α.
    assert!(h.ass_a_alpha[0] > h.ass_a_alpha[18] && h.det_a_alpha[0] > h.det_a_alpha[18]);
}

#[test]
fn hota_by_hand() {
    // One object, 4 frames, followed exactly by id 7 for 2 frames, then by id 8 for 2:
    // DetA = 1 at every α; each pair (1,7), (1,8) has TPA 2 of |g| + |h| − TPA = 4 + 2 − 2,
    // so AssA = 0.5 and HOTA = √0.5; LocA = 1.
    let gt: Vec<MotBox> = (1..=4).map(|f| b(f, 1, 10.0 * f as f64, 0.0)).collect();
    let hyp: Vec<MotBox> = (1..=4)
        .map(|f| b(f, if f <= 2 { 7 } else { 8 }, 10.0 * f as f64, 0.0))
        .collect();
    let h = gaussmix_video::evaluate_hota(&gt, &hyp);
    assert!((h.det_a - 1.0).abs() < 1e-12);
    assert!((h.ass_a - 0.5).abs() < 1e-12);
    assert!((h.hota - 0.5f64.sqrt()).abs() < 1e-12);
    assert!((h.loc_a - 1.0).abs() < 1e-12);
    // Nothing found: all zero, LocA 1 (TrackEval's convention).
    let none = gaussmix_video::evaluate_hota(&gt, &[]);
    assert_eq!(none.hota, 0.0);
    assert_eq!(none.loc_a, 1.0);
}
