//! CDnet scoring on a hand-made sequence with known counts.

use gaussmix_video::cdnet::{Metrics, Scorer};
use gaussmix_video::pipeline::write_grey_png;
use gaussmix_video::{evaluate, Error};
use std::path::Path;

const W: usize = 4;
const H: usize = 2;

/// A 4x2 sequence of 3 frames, temporal ROI 2..3, ROI excluding pixel (3, 1).
fn make_sequence(dir: &Path) {
    std::fs::create_dir_all(dir.join("groundtruth")).unwrap();
    std::fs::write(dir.join("temporalROI.txt"), "2 3\n").unwrap();
    let roi = image::GrayImage::from_raw(
        W as u32,
        H as u32,
        vec![255, 255, 255, 255, 255, 255, 255, 0],
    )
    .unwrap();
    roi.save(dir.join("ROI.bmp")).unwrap();
    let gts: [[u8; 8]; 3] = [
        [255; 8],                            // frame 1: outside the temporal ROI
        [255, 255, 0, 50, 85, 170, 0, 255],  // frame 2
        [0, 255, 255, 50, 255, 0, 170, 255], // frame 3
    ];
    for (i, g) in gts.iter().enumerate() {
        write_grey_png(
            &dir.join(format!("groundtruth/gt{:06}.png", i + 1)),
            W,
            H,
            g,
        )
        .unwrap();
    }
}

const MASKS: [[u8; 8]; 3] = [
    [0; 8],
    [255, 127, 255, 255, 255, 255, 0, 255], // pixel 7 is outside ROI.bmp
    [255, 255, 0, 0, 255, 127, 255, 0],
];

#[test]
fn counts_and_measures() {
    let dir = tempfile::tempdir().unwrap();
    make_sequence(dir.path());
    // Frame 2: p0 TP, p1 FN (127 is negative), p2 FP, p3 FP (hard shadow is negative),
    // p4/p5 ignored (85/170), p6 TN, p7 outside the ROI.
    // Frame 3: p0 FP, p1 TP, p2 FN, p3 TN, p4 TP, p5 TN, p6 ignored (170), p7 outside.
    let (tp, fp, fn_, tn) = (3u64, 3u64, 2u64, 3u64);
    let mut s = Scorer::new(dir.path()).unwrap();
    assert_eq!(s.range(), (2, 3));
    for (i, m) in MASKS.iter().enumerate() {
        s.add(i + 1, m).unwrap();
    }
    let m = s.metrics();
    assert_eq!((m.tp, m.fp, m.fn_, m.tn, m.frames), (tp, fp, fn_, tn, 2));
    let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    close(m.recall, 3.0 / 5.0);
    close(m.precision, 3.0 / 6.0);
    close(m.specificity, 3.0 / 6.0);
    close(m.fpr, 3.0 / 6.0);
    close(m.fnr, 2.0 / 5.0);
    close(m.pwc, 100.0 * 5.0 / 11.0);
    close(m.f_measure, 2.0 * 0.5 * 0.6 / 1.1);
    assert_eq!(m, Metrics::from_counts(tp, fp, fn_, tn, 2));

    // The same through files, as `evaluate` reads them.
    let masks = dir.path().join("results");
    std::fs::create_dir(&masks).unwrap();
    for (i, mk) in MASKS.iter().enumerate() {
        write_grey_png(&masks.join(format!("bin{:06}.png", i + 1)), W, H, mk).unwrap();
    }
    assert_eq!(evaluate(&masks, dir.path()).unwrap(), m);
}

#[test]
fn perfect_and_empty() {
    let m = Metrics::from_counts(10, 0, 0, 90, 1);
    assert_eq!(
        (m.recall, m.precision, m.f_measure, m.pwc),
        (1.0, 1.0, 1.0, 0.0)
    );
    let z = Metrics::from_counts(0, 0, 0, 0, 0);
    assert_eq!((z.recall, z.precision, z.f_measure), (0.0, 0.0, 0.0));
}

#[test]
fn missing_pieces_are_named() {
    let dir = tempfile::tempdir().unwrap();
    make_sequence(dir.path());
    let masks = dir.path().join("results");
    std::fs::create_dir(&masks).unwrap();
    write_grey_png(&masks.join("bin000002.png"), W, H, &MASKS[1]).unwrap();
    let e = evaluate(&masks, dir.path()).unwrap_err();
    assert!(e.to_string().contains("bin000003.png"), "{e}");
    write_grey_png(&masks.join("bin000003.png"), 3, 3, &[0; 9]).unwrap();
    let e = evaluate(&masks, dir.path()).unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { .. }), "{e}");
    std::fs::remove_file(dir.path().join("temporalROI.txt")).unwrap();
    let e = evaluate(&masks, dir.path()).unwrap_err();
    assert!(
        matches!(e, Error::BadSequence { .. }) && e.to_string().contains("temporalROI.txt"),
        "{e}"
    );
    std::fs::write(dir.path().join("temporalROI.txt"), "five").unwrap();
    assert!(evaluate(&masks, dir.path())
        .unwrap_err()
        .to_string()
        .contains("temporalROI.txt"));
}
