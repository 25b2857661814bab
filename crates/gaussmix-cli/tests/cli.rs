//! End-to-end tests of the `gaussmix` binary: every subcommand, and bad input that must
//! give a clear error, a non-zero exit and no output file (the project rule: a failure loses nothing).

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

fn fit_faithful(dir: &Path) -> PathBuf {
    let model = dir.join("m.json");
    gaussmix()
        .args(["fit", &faithful(), "-k", "2", "--n-init", "3", "-q", "-o"])
        .arg(&model)
        .assert()
        .success();
    model
}

/// Runs a fit that must fail, checks the message and that no model file was left.
fn fit_fails(dir: &Path, data: &Path, extra: &[&str], message: &str) {
    let out = dir.join("should-not-exist.json");
    gaussmix()
        .arg("fit")
        .arg(data)
        .args(extra)
        .arg("-o")
        .arg(&out)
        .assert()
        .failure()
        .stderr(predicate::str::contains(message));
    assert!(!out.exists(), "a failed fit left {}", out.display());
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().starts_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn fit_writes_a_model_with_the_contract_fields() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("faithful.json");
    gaussmix()
        .args([
            "fit",
            &faithful(),
            "-k",
            "2",
            "--n-init",
            "10",
            "--seed",
            "3",
            "-o",
        ])
        .arg(&model)
        .assert()
        .success()
        .stderr(predicate::str::contains("converged"));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
    for key in [
        "format_version",
        "covariance_type",
        "weights",
        "means",
        "covariances",
        "feature_names",
        "converged",
        "n_iter",
        "lower_bound",
        "lower_bounds",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    assert_eq!(
        v["feature_names"],
        serde_json::json!(["eruptions", "waiting"])
    );
    assert!((v["lower_bound"].as_f64().unwrap() - -4.1554).abs() < 1e-3);
}

#[test]
fn fit_every_covariance_and_init() {
    let dir = tempfile::tempdir().unwrap();
    for cov in ["full", "tied", "diag", "spherical"] {
        for init in ["kmeans", "k-means++", "random", "random-from-data"] {
            let out = dir.path().join(format!("{cov}-{init}.json"));
            gaussmix()
                .args([
                    "fit",
                    &data_str("iris.csv"),
                    "-k",
                    "3",
                    "--covariance",
                    cov,
                    "--init",
                    init,
                    "--threads",
                    "2",
                    "--quiet",
                    "-o",
                ])
                .arg(&out)
                .assert()
                .success()
                .stderr(predicate::str::is_empty());
            let v: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
            assert_eq!(v["covariance_type"], cov);
        }
    }
}

#[test]
fn thread_count_does_not_change_the_model_file() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.json"), dir.path().join("b.json"));
    for (t, out) in [("1", &a), ("2", &b)] {
        gaussmix()
            .args([
                "fit",
                &data_str("iris.csv"),
                "-k",
                "3",
                "-q",
                "--threads",
                t,
                "-o",
            ])
            .arg(out)
            .assert()
            .success();
    }
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
}

#[test]
fn fit_reads_stdin_npz_columns_and_weights() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.json");
    let csv = std::fs::read_to_string(faithful()).unwrap();
    gaussmix()
        .args(["fit", "-", "-k", "2", "-q", "-o"])
        .arg(&out)
        .write_stdin(csv)
        .assert()
        .success();
    gaussmix()
        .args([
            "fit",
            &data_str("anomaly/38_thyroid.npz"),
            "-k",
            "2",
            "-q",
            "-o",
        ])
        .arg(&out)
        .assert()
        .success();
    gaussmix()
        .args([
            "fit",
            &data_str("iris.csv"),
            "-k",
            "2",
            "-q",
            "--columns",
            "Petal.Length,Petal.Width",
            "-o",
        ])
        .arg(&out)
        .assert()
        .success();
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(
        v["feature_names"],
        serde_json::json!(["Petal.Length", "Petal.Width"])
    );
    let data = write(
        dir.path(),
        "w.csv",
        "a,b,w\n1,2,1\n1.5,2.5,2\n8,9,1\n8.5,9.2,0\n9,8,3\n1.2,2.2,1\n",
    );
    gaussmix()
        .arg("fit")
        .arg(&data)
        .args(["-k", "2", "-q", "--weights", "w", "-o"])
        .arg(&out)
        .assert()
        .success();
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(v["n_features"], 2);
}

#[test]
fn predict_score_sample_info() {
    let dir = tempfile::tempdir().unwrap();
    let model = fit_faithful(dir.path());
    let out = gaussmix()
        .arg("predict")
        .arg(&model)
        .arg(faithful())
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "label");
    assert_eq!(lines.len(), 273);
    assert!(lines[1..].iter().all(|l| *l == "0" || *l == "1"));

    let proba = dir.path().join("p.csv");
    gaussmix()
        .arg("predict")
        .arg(&model)
        .arg(faithful())
        .arg("--proba")
        .arg("-o")
        .arg(&proba)
        .assert()
        .success();
    let text = std::fs::read_to_string(&proba).unwrap();
    assert!(text.starts_with("p0,p1\n"));
    for line in text.lines().skip(1) {
        let s: f64 = line.split(',').map(|v| v.parse::<f64>().unwrap()).sum();
        assert!((s - 1.0).abs() < 1e-12);
    }

    gaussmix()
        .arg("score")
        .arg(&model)
        .arg(faithful())
        .arg("--mean")
        .assert()
        .success()
        .stdout(predicate::str::starts_with("-4.15"));
    let scores = dir.path().join("s.csv");
    gaussmix()
        .arg("score")
        .arg(&model)
        .arg(faithful())
        .arg("-o")
        .arg(&scores)
        .assert()
        .success();
    assert_eq!(
        std::fs::read_to_string(&scores).unwrap().lines().count(),
        273
    );

    let out = gaussmix()
        .arg("sample")
        .arg(&model)
        .args(["-n", "5", "--seed", "2"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("eruptions,waiting,component\n"));
    assert_eq!(text.lines().count(), 6);
    let again = gaussmix()
        .arg("sample")
        .arg(&model)
        .args(["-n", "5", "--seed", "2"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(again.stdout).unwrap(), text);

    gaussmix()
        .arg("info")
        .arg(&model)
        .assert()
        .success()
        .stdout(
            predicate::str::contains("components: 2")
                .and(predicate::str::contains("eruptions, waiting")),
        );
}

#[test]
fn bad_data_files_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let k2 = ["-k", "2"];
    fit_fails(
        d,
        &write(d, "na.csv", "a,b\n1,2\n3,NA\n5,6\n"),
        &k2,
        "missing value at row 2 (line 3), column 'b'",
    );
    fit_fails(d, &write(d, "empty.csv", ""), &k2, "no data rows");
    fit_fails(d, &write(d, "header.csv", "a,b\n"), &k2, "no data rows");
    fit_fails(
        d,
        &write(d, "inf.csv", "a,b\n1,2\n3,inf\n"),
        &k2,
        "infinite value",
    );
    fit_fails(
        d,
        &write(d, "ragged.csv", "a,b\n1,2\n3\n"),
        &k2,
        "line 3 has 1 fields",
    );
    fit_fails(
        d,
        &write(d, "few.csv", "a,b\n1,2\n3,4\n"),
        &["-k", "3"],
        "2 samples cannot be fitted with 3 components",
    );
    fit_fails(d, &write(d, "text.csv", "name\nx\ny\n"), &k2, "");
    fit_fails(d, &write(d, "x.parq", "PAR1"), &k2, "");
    let mut npy =
        b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, 'shape': (10, 2), }"
            .to_vec();
    npy.resize(10 + 118, b' ');
    npy.push(b'\n');
    npy.extend_from_slice(&[0u8; 24]);
    let p = d.join("trunc.npy");
    std::fs::write(&p, &npy).unwrap();
    fit_fails(d, &p, &k2, "trunc.npy");
    fit_fails(
        d,
        Path::new("/nonexistent/data.csv"),
        &k2,
        "/nonexistent/data.csv",
    );
}

#[test]
fn bad_parameters_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = PathBuf::from(faithful());
    fit_fails(
        d,
        &data,
        &["-k", "2", "--covariance", "bogus"],
        "[possible values: EII, spherical, EEI, VEI, EVI, diag, tied, VEE, EVE, VVE, EEV, VEV, EVV, full]",
    );
    fit_fails(
        d,
        &data,
        &["-k", "2", "--init", "bogus"],
        "[possible values: kmeans, k-means++",
    );
    fit_fails(d, &data, &["-k", "0"], "n_components");
    fit_fails(d, &data, &["-k", "2", "--tol", "-1"], "tol");
    fit_fails(d, &data, &["-k", "2", "--threads", "0"], "--threads");
    fit_fails(d, &data, &["-k", "2", "--columns", "nope"], "nope");
    fit_fails(d, &data, &["-k", "2", "--weights", "nope"], "nope");
    // an unwritable output leaves nothing and says where
    gaussmix()
        .args([
            "fit",
            &faithful(),
            "-k",
            "2",
            "-o",
            "/nonexistent-dir/m.json",
        ])
        .assert()
        .failure()
        .stderr(predicate::str::contains("/nonexistent-dir"));
}

#[test]
fn degenerate_but_valid_data_fits() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = d.join("m.json");
    // a constant column, exact duplicate rows, a 1e9 offset and 1e150 scale
    let constant = write(
        d,
        "c.csv",
        &(0..50)
            .map(|i| format!("{},{}\n", i % 7, 5))
            .fold("a,b\n".to_string(), |s, l| s + &l),
    );
    gaussmix()
        .arg("fit")
        .arg(&constant)
        .args(["-k", "2", "-q", "-o"])
        .arg(&out)
        .assert()
        .success();
    let dup = write(
        d,
        "dup.csv",
        &(0..40)
            .map(|i| if i % 2 == 0 { "1,2\n" } else { "3,4\n" })
            .fold("a,b\n".to_string(), |s, l| s + l),
    );
    gaussmix()
        .arg("fit")
        .arg(&dup)
        .args(["-k", "2", "-q", "-o"])
        .arg(&out)
        .assert()
        .success();
    let offset = write(
        d,
        "o.csv",
        &(0..60)
            .map(|i| format!("{},{}\n", 1e9 + (i % 5) as f64 * 0.1, 1e9 - (i % 3) as f64))
            .fold("a,b\n".to_string(), |s, l| s + &l),
    );
    gaussmix()
        .arg("fit")
        .arg(&offset)
        .args(["-k", "2", "-q", "-o"])
        .arg(&out)
        .assert()
        .success();
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(!text.contains("NaN") && !text.contains("null"));
}

#[test]
fn model_problems_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = fit_faithful(d);
    let out = d.join("pred.csv");
    // dimension differs from the model
    gaussmix()
        .arg("predict")
        .arg(&model)
        .arg(data_str("iris.csv"))
        .arg("-o")
        .arg(&out)
        .assert()
        .failure()
        .stderr(
            predicate::str::contains("has 4 feature columns")
                .and(predicate::str::contains("the model has 2")),
        );
    assert!(!out.exists());
    // truncated and corrupt model files
    let text = std::fs::read_to_string(&model).unwrap();
    let trunc = write(d, "trunc.json", &text[..text.len() / 2]);
    gaussmix()
        .arg("info")
        .arg(&trunc)
        .assert()
        .failure()
        .stderr(predicate::str::contains("not a valid gaussmix model"));
    let bad = write(
        d,
        "bad.json",
        &text.replace("\"format_version\": 1", "\"format_version\": 7"),
    );
    gaussmix()
        .arg("score")
        .arg(&bad)
        .arg(faithful())
        .assert()
        .failure()
        .stderr(predicate::str::contains("format_version 7"));
    gaussmix()
        .arg("sample")
        .arg(d.join("missing.json"))
        .args(["-n", "3"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("missing.json"));
}

#[test]
fn failed_overwrite_keeps_the_previous_model() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = fit_faithful(d);
    let before = std::fs::read(&model).unwrap();
    let bad = write(d, "na.csv", "a,b\n1,NA\n");
    gaussmix()
        .arg("fit")
        .arg(&bad)
        .args(["-k", "1", "-o"])
        .arg(&model)
        .assert()
        .failure();
    assert_eq!(std::fs::read(&model).unwrap(), before);
}

/// A little-endian f8 NPY file, C or Fortran order.
fn npy_f8(path: &Path, rows: &[Vec<f64>], fortran: bool) {
    let (n, d) = (rows.len(), rows[0].len());
    let values: Vec<f64> = if fortran {
        (0..d)
            .flat_map(|j| rows.iter().map(move |r| r[j]))
            .collect()
    } else {
        rows.iter().flatten().copied().collect()
    };
    common::write_npy_f8(path, n, d, &values, fortran);
}

fn clusters(n: usize) -> Vec<Vec<f64>> {
    (0..n)
        .map(|i| {
            let c = (i % 3) as f64;
            let t = (i as f64 * 0.618).fract();
            vec![5.0 * c + t, -3.0 * c + (i as f64 * 0.377).fract(), c * t]
        })
        .collect()
}

#[test]
fn streaming_fit_equals_loading_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let rows = clusters(150_000);
    for fortran in [false, true] {
        let data = d.join(format!("x{fortran}.npy"));
        npy_f8(&data, &rows, fortran);
        let (a, b) = (d.join("mem.json"), d.join("stream.json"));
        // random-from-data init draws its rows from the sample, so give both fits the
        // same start: a short in-memory fit, continued by both
        gaussmix()
            .arg("fit")
            .arg(&data)
            .args(["-k", "3", "-q", "--max-iter", "50", "-o"])
            .arg(&a)
            .assert()
            .success();
        gaussmix()
            .arg("fit")
            .arg(&data)
            .args([
                "-k",
                "3",
                "-q",
                "--stream",
                "--max-iter",
                "50",
                "--init-rows",
                "200000",
                "-o",
            ])
            .arg(&b)
            .assert()
            .success();
        let va: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&a).unwrap()).unwrap();
        let vb: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&b).unwrap()).unwrap();
        // the init sample holds every row here, so the two fits are the same computation
        assert_eq!(va["means"], vb["means"], "fortran={fortran}");
        assert_eq!(va["lower_bounds"], vb["lower_bounds"]);
    }
}

#[test]
fn streaming_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = d.join("t.npy");
    npy_f8(&data, &clusters(1000), false);
    let bytes = std::fs::read(&data).unwrap();
    std::fs::write(&data, &bytes[..bytes.len() - 100]).unwrap();
    fit_fails(d, &data, &["-k", "2", "--stream"], "t.npy");
    fit_fails(
        d,
        &PathBuf::from(data_str("anomaly/38_thyroid.npz")),
        &["-k", "2", "--stream"],
        "--stream reads CSV, NPY and Parquet files",
    );
    let mut rows = clusters(1000);
    rows[777][2] = f64::NAN;
    let nan = d.join("nan.npy");
    npy_f8(&nan, &rows, true);
    fit_fails(d, &nan, &["-k", "2", "--stream"], "row 777, column 2");
}
