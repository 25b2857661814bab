//! `video eval --tracks` (MOTChallenge scores) and `video track --format mot`.

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::PathBuf;

fn gaussmix() -> Command {
    Command::cargo_bin("gaussmix").unwrap()
}

fn repo(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(p)
}

#[test]
fn eval_tracks_prints_py_motmetrics_numbers_as_json() {
    let out = gaussmix()
        .args(["video", "eval", "--json", "--tracks"])
        .arg(repo("data/mot/gt.txt"))
        .arg(repo("data/mot/hyp.txt"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let want: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo("data/mot/motmetrics.json")).unwrap())
            .unwrap();
    for k in [
        "mota",
        "motp",
        "idf1",
        "precision",
        "recall",
        "num_switches",
        "num_fragmentations",
    ] {
        let (g, w) = (got[k].as_f64().unwrap(), want[k].as_f64().unwrap());
        assert!((g - w).abs() <= 1e-9, "{k}: {g} vs py-motmetrics {w}");
    }
    // HOTA and its parts against TrackEval (data/mot/hota.json, scripts/hota_fixture.py).
    let hota: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo("data/mot/hota.json")).unwrap())
            .unwrap();
    for (k, w) in [
        ("hota", "HOTA"),
        ("deta", "DetA"),
        ("assa", "AssA"),
        ("loca", "LocA"),
    ] {
        let (g, w) = (got[k].as_f64().unwrap(), hota[w].as_f64().unwrap());
        assert!((g - w).abs() <= 1e-9, "{k}: {g} vs TrackEval {w}");
    }
    assert_eq!(got["hota_per_alpha"].as_array().map(Vec::len), Some(19));
}

#[test]
fn eval_tracks_takes_one_track_file() {
    gaussmix()
        .args(["video", "eval", "--tracks"])
        .arg(repo("data/mot/gt.txt"))
        .arg(repo("data/mot/hyp.txt"))
        .arg(repo("data/mot/hyp.txt"))
        .assert()
        .failure()
        .stderr(predicate::str::contains("one track file"));
    gaussmix()
        .args(["video", "eval", "--json"])
        .arg(repo("data/mot/hyp.txt"))
        .assert()
        .failure();
}

#[test]
fn track_writes_mot_rows_that_eval_reads() {
    let dir = tempfile::tempdir().unwrap();
    let mot = dir.path().join("t.txt");
    let csv = dir.path().join("t.csv");
    let seq = repo("data/video/highway");
    for (path, format) in [(&mot, "mot"), (&csv, "csv")] {
        gaussmix()
            .args(["video", "track", "-q", "--format", format, "-o"])
            .arg(path)
            .arg(&seq)
            .assert()
            .success();
    }
    let text = std::fs::read_to_string(&mot).unwrap();
    let first = text.lines().next().expect("rows");
    assert_eq!(first.split(',').count(), 10, "{first}");
    assert!(first.ends_with(",1,-1,-1,-1"), "{first}");
    // The MOTChallenge rows (1-based) and the CSV (0-based) are the same boxes: scored one
    // against the other, everything pairs with IoU 1.
    let out = gaussmix()
        .args(["video", "eval", "--json", "--tracks"])
        .arg(&mot)
        .arg(&csv)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(m["num_objects"].as_f64().unwrap() > 100.0, "{m}");
    assert_eq!(m["mota"].as_f64(), Some(1.0), "{m}");
    assert_eq!(m["idf1"].as_f64(), Some(1.0), "{m}");
    assert!(m["motp"].as_f64().unwrap() < 1e-3, "{m}");
}
