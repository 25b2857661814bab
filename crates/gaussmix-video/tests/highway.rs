//! Full CDnet highway run with default parameters (slow: run with `--ignored`).
//!
//! cargo test -p gaussmix-video --release --test highway -- --ignored --nocapture

use gaussmix_video::{evaluate, subtract, track, SubtractOptions, TrackOptions};
use std::path::PathBuf;

fn highway() -> Option<PathBuf> {
    let p = std::env::var_os("GAUSSMIX_HIGHWAY")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/video/highway")
        });
    if p.join("temporalROI.txt").is_file() {
        Some(p)
    } else {
        eprintln!("note: {} not found, skipping", p.display());
        None
    }
}

#[test]
#[ignore = "runs the whole 1700-frame sequence"]
fn highway_default_parameters_reach_f_090() {
    let Some(seq) = highway() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("highway");
    let r = subtract(&seq, &out, &SubtractOptions::default(), &mut |_, _| {}).unwrap();
    let m = evaluate(&out, &seq).unwrap();
    println!(
        "highway, defaults: {} frames in {:.2?} ({:?} kernel)",
        r.frames, r.elapsed, r.kernel
    );
    println!("{m}");
    assert_eq!(r.frames, 1700);
    assert!(m.f_measure >= 0.90, "F = {:.4}", m.f_measure);
}

#[test]
#[ignore = "runs the whole 1700-frame sequence"]
fn highway_tracking_runs() {
    let Some(seq) = highway() else { return };
    let r = track(&seq, &TrackOptions::default(), &mut |_, _| {}).unwrap();
    println!(
        "highway tracking: {} frames, {} tracks, {} rows",
        r.frames,
        r.tracks,
        r.rows.len()
    );
    assert!(r.tracks > 10);
}
