//! `gaussmix anomaly`: scores, thresholds, saved models on the raw scale, evaluation
//! against labels, output formats and every error path.

mod common;

use std::path::{Path, PathBuf};

use common::{data_str, gaussmix};
use predicates::prelude::*;

fn faithful() -> String {
    data_str("faithful.csv")
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Reads a score table: (scores, flags).
fn read_scores(text: &str, delim: char) -> (Vec<f64>, Vec<u8>) {
    let mut lines = text.lines();
    assert_eq!(lines.next().unwrap(), format!("score{delim}is_anomaly"));
    lines
        .map(|l| {
            let (s, f) = l.split_once(delim).unwrap();
            (s.parse::<f64>().unwrap(), f.parse::<u8>().unwrap())
        })
        .unzip()
}

#[test]
fn scores_every_row_and_flags_the_contamination_fraction() {
    let out = gaussmix()
        .args(["anomaly", &faithful(), "-q"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let (scores, flags) = read_scores(&String::from_utf8(out).unwrap(), ',');
    assert_eq!(scores.len(), 272);
    let n_flag: usize = flags.iter().map(|&f| usize::from(f)).sum();
    assert_eq!(n_flag, 3, "1% of 272 rows");
    // flagged rows are exactly the highest scores
    let min_flagged = scores
        .iter()
        .zip(&flags)
        .filter(|p| *p.1 == 1)
        .map(|p| *p.0)
        .fold(f64::INFINITY, f64::min);
    let max_normal = scores
        .iter()
        .zip(&flags)
        .filter(|p| *p.1 == 0)
        .map(|p| *p.0)
        .fold(f64::NEG_INFINITY, f64::max);
    assert!(min_flagged > max_normal);
    let out = gaussmix()
        .args([
            "anomaly",
            &faithful(),
            "-q",
            "--contamination",
            "0.1",
            "-o",
            "-",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let (_, flags) = read_scores(&String::from_utf8(out).unwrap(), ',');
    let n_flag: usize = flags.iter().map(|&f| usize::from(f)).sum();
    assert!((26..=28).contains(&n_flag), "{n_flag}");
}

#[test]
fn saved_model_is_on_the_raw_scale_and_rescores_identically() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("a.json");
    let s1 = dir.path().join("s1.csv");
    gaussmix()
        .args(["anomaly", &faithful(), "-q", "--select-bic", "--save-model"])
        .arg(&m)
        .arg("-o")
        .arg(&s1)
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&m).unwrap()).unwrap();
    let thr = v["anomaly_threshold"].as_f64().expect("threshold stored");
    assert_eq!(v["feature_names"][1], "waiting");
    // raw units: waiting means lie between 40 and 100 minutes
    for mean in v["means"].as_array().unwrap() {
        let w = mean[1].as_f64().unwrap();
        assert!((40.0..100.0).contains(&w), "{w}");
    }
    // scoring with the saved model: same scores, same flags, stored threshold
    let s2 = dir.path().join("s2.tsv");
    gaussmix()
        .args(["anomaly", &faithful(), "-q", "--model"])
        .arg(&m)
        .arg("-o")
        .arg(&s2)
        .assert()
        .success();
    let (a, fa) = read_scores(&std::fs::read_to_string(&s1).unwrap(), ',');
    let (b, fb) = read_scores(&std::fs::read_to_string(&s2).unwrap(), '\t');
    assert_eq!(fa, fb);
    for (x, y) in a.iter().zip(&b) {
        assert!((x - y).abs() <= 1e-9 * x.abs().max(1.0), "{x} {y}");
    }
    for (s, f) in a.iter().zip(&fa) {
        assert_eq!(*f == 1, *s > thr);
    }
    // any gaussmix command reads it: score gives log density = −score
    let out = gaussmix()
        .args(["score"])
        .arg(&m)
        .arg(faithful())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    let ld: f64 = text.lines().nth(1).unwrap().parse().unwrap();
    assert!((ld + a[0]).abs() < 1e-9 * a[0].abs().max(1.0));
}

#[test]
fn the_default_ensemble_saves_and_rescores_identically() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("e.json");
    let s1 = dir.path().join("s1.csv");
    gaussmix()
        .args(["anomaly", &faithful(), "-q", "--save-model"])
        .arg(&m)
        .arg("-o")
        .arg(&s1)
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&m).unwrap()).unwrap();
    assert_eq!(v["gaussmix_anomaly_ensemble"], 1);
    assert!(v["members"].as_array().unwrap().len() > 1);
    assert_eq!(v["feature_names"][1], "waiting");
    let thr = v["threshold"].as_f64().unwrap();
    let out = gaussmix()
        .args(["anomaly", &faithful(), "-q", "--model"])
        .arg(&m)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let (a, fa) = read_scores(&std::fs::read_to_string(&s1).unwrap(), ',');
    let (b, fb) = read_scores(&String::from_utf8(out).unwrap(), ',');
    assert_eq!(fa, fb);
    for (x, y) in a.iter().zip(&b) {
        assert!((x - y).abs() <= 1e-9 * x.abs().max(1.0), "{x} {y}");
    }
    for (s, f) in a.iter().zip(&fa) {
        assert_eq!(*f == 1, *s > thr);
    }
}

#[test]
fn new_data_is_scored_with_the_training_statistics() {
    let dir = tempfile::tempdir().unwrap();
    let train = write(dir.path(), "train.csv", &{
        let mut s = String::from("u,v\n");
        for i in 0..200 {
            let t = f64::from(i) * 0.1;
            s += &format!("{},{}\n", 1000.0 + t.sin(), 0.001 * t.cos());
        }
        s
    });
    let m = dir.path().join("m.json");
    gaussmix()
        .args(["anomaly"])
        .arg(&train)
        .args(["-q", "-o", "-", "--save-model"])
        .arg(&m)
        .assert()
        .success();
    let test = write(
        dir.path(),
        "test.csv",
        "u,v\n1000.6,0.0008\n1000,0.05\n1010,0\n",
    );
    let out = gaussmix()
        .args(["anomaly"])
        .arg(&test)
        .args(["-q", "--model"])
        .arg(&m)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let (s, f) = read_scores(&String::from_utf8(out).unwrap(), ',');
    assert_eq!(f, vec![0, 1, 1]);
    assert!(s[1] > s[0] && s[2] > s[0]);
}

#[test]
fn eval_prints_auc_and_average_precision_from_npz_labels() {
    gaussmix()
        .args([
            "anomaly",
            &data_str("anomaly/4_breastw.npz"),
            "--eval",
            "-q",
        ])
        .assert()
        .success()
        .stdout(
            predicate::str::is_match(
                r"roc_auc 0\.9[5-9]\d*  average_precision 0\.\d+  \(239 anomalies of 683 rows\)",
            )
            .unwrap(),
        );
    // scores to stdout: the evaluation goes to stderr
    gaussmix()
        .args([
            "anomaly",
            &data_str("anomaly/4_breastw.npz"),
            "--eval",
            "-q",
            "-o",
            "-",
        ])
        .assert()
        .success()
        .stdout(predicate::str::starts_with("score,is_anomaly"))
        .stderr(predicate::str::contains("roc_auc"));
}

#[test]
fn small_high_dimensional_sets_fall_back_to_one_component() {
    let dir = tempfile::tempdir().unwrap();
    // 60 rows in 8 dimensions, two clumps: a full component needs 5 × 45 rows
    let mut s = String::from("a,b,c,d,e,f,g,h\n");
    for i in 0..60 {
        let base = if i % 2 == 0 { 0.0 } else { 10.0 };
        let row: Vec<String> = (0..8)
            .map(|j| format!("{}", base + f64::from((i * 7 + j * 13) % 11) * 0.1))
            .collect();
        s += &(row.join(",") + "\n");
    }
    let data = write(dir.path(), "small.csv", &s);
    gaussmix()
        .args(["anomaly"])
        .arg(&data)
        .args([
            "-o",
            "-",
            "-v",
            "--select-bic",
            "--covariance",
            "full",
            "--min-points",
            "5",
        ])
        .assert()
        .success()
        .stderr(predicate::str::contains("chose k=1 full"))
        .stderr(predicate::str::contains("dropped k=2 full"));
    // with the guard off, BIC takes the two clumps (k ≤ 2)
    gaussmix()
        .args(["anomaly"])
        .arg(&data)
        .args([
            "-o",
            "-",
            "--select-bic",
            "--min-points",
            "0",
            "--covariance",
            "diag",
        ])
        .assert()
        .success()
        .stderr(predicate::str::contains("chose k=2 diag"));
}

#[test]
fn constant_columns_are_kept_at_their_raw_scale() {
    let dir = tempfile::tempdir().unwrap();
    let data = write(
        dir.path(),
        "c.csv",
        "a,b\n1,5\n2,5\n3,5\n4,5\n2.5,5\n1.5,5\n",
    );
    gaussmix()
        .args(["anomaly"])
        .arg(&data)
        .args(["-q", "-o", "-"])
        .assert()
        .success();
}

fn anomaly_fails(args: &[&str], message: &str) {
    gaussmix()
        .arg("anomaly")
        .args(args)
        .assert()
        .failure()
        .stderr(predicate::str::contains(message));
}

#[test]
fn anomaly_errors_are_clear() {
    let f = faithful();
    anomaly_fails(&[&f, "--eval"], "--eval needs labels");
    anomaly_fails(&[&f, "--contamination", "1.5"], "--contamination 1.5");
    anomaly_fails(&[&f, "--contamination", "-0.1"], "--contamination");
    anomaly_fails(&[&f, "-k", "3..1"], "is empty");
    anomaly_fails(&[&f, "-k", "0"], "at least 1");
    anomaly_fails(
        &[&f, "--covariance", "round"],
        "unknown covariance type 'round'",
    );
    anomaly_fails(&[&f, "--max-k", "0"], "--max-k");
    anomaly_fails(
        &[&f, "-o", "scores.xlsx"],
        "unsupported output extension '.xlsx'",
    );
    anomaly_fails(&[&f, "-o", "scores"], "without a file extension");
    anomaly_fails(
        &[&f, "--model", "/nonexistent/m.json"],
        "cannot read model file",
    );
    anomaly_fails(&["/nonexistent/d.csv"], "/nonexistent/d.csv");
    // a model whose dimension differs from the data
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("m.json");
    gaussmix()
        .args(["fit", &f, "--columns", "waiting", "-k", "1", "-q", "-o"])
        .arg(&m)
        .assert()
        .success();
    let three = write(dir.path(), "three.csv", "a,b,c\n1,2,3\n2,3,4\n3,4,6\n");
    anomaly_fails(
        &[three.to_str().unwrap(), "--model", m.to_str().unwrap()],
        "dimensions differ",
    );
    // a model without a stored threshold still scores, flagging the top 1% of DATA
    gaussmix()
        .args(["anomaly", &f, "--model"])
        .arg(&m)
        .args(["-o", "-"])
        .assert()
        .success()
        .stderr(predicate::str::contains("no stored threshold"));
}

#[test]
fn noise_flag_fits_with_a_noise_component_and_scores_with_the_gaussians() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.json");
    let data = faithful();
    let run = |extra: &[&str]| {
        let mut args = vec!["anomaly", data.as_str(), "-q", "--max-k", "2"];
        args.extend_from_slice(extra);
        let out = gaussmix()
            .args(&args)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        read_scores(&String::from_utf8(out).unwrap(), ',').0
    };
    let plain = run(&[]);
    let noisy = run(&["--noise", "--save-model", model.to_str().unwrap()]);
    assert_eq!(noisy.len(), 272);
    assert_ne!(plain, noisy, "--noise must change the fitted members");
    // the saved ensemble's members are plain mixtures (no noise component stored)
    let text = std::fs::read_to_string(&model).unwrap();
    assert!(text.contains("gaussmix_anomaly_ensemble"));
    assert!(!text.contains("\"noise_weight\": 0."), "{text}");
}
