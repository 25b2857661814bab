//! `gaussmix anomaly` on bad input (issue 12's list): each case gives a clear message;
//! the refused ones exit non-zero and write neither the scores nor the model. Also
//! `--explain` and `--json`.

mod common;

use std::path::{Path, PathBuf};

use common::{data_str, gaussmix};
use predicates::prelude::*;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// 100 rows of two correlated features, row 60 far out in `b` only.
fn planted() -> String {
    let mut s = String::from("a,b\n");
    for i in 0..100 {
        let t = f64::from((i * 37) % 101) / 10.0;
        let u = f64::from((i * 53) % 97) / 30.0;
        let b = if i == 60 { 60.0 } else { 2.0 * t + u };
        s += &format!("{t},{b}\n");
    }
    s
}

/// Runs `anomaly DATA ARGS -o out.csv --save-model m.json`, expects failure with
/// `message`, and checks that neither file was written.
fn refused(dir: &Path, data: &Path, args: &[&str], message: &str) {
    let out = dir.join("out.csv");
    let model = dir.join("m.json");
    gaussmix()
        .arg("anomaly")
        .arg(data)
        .args(args)
        .arg("-o")
        .arg(&out)
        .arg("--save-model")
        .arg(&model)
        .assert()
        .failure()
        .stderr(predicate::str::contains(message));
    assert!(!out.exists(), "{} written", out.display());
    assert!(!model.exists(), "{} written", model.display());
}

#[test]
fn a_single_distinct_value_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = write(dir.path(), "one.csv", "a,b\n1,5\n1,5\n1,5\n1,5\n");
    refused(dir.path(), &d, &[], "every column holds a single value");
}

#[test]
fn a_constant_column_is_named_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = String::from("a,flat,b\n");
    for i in 0..50 {
        s += &format!("{},7,{}\n", i % 9, (i * 7) % 13);
    }
    let d = write(dir.path(), "c.csv", &s);
    let out = dir.path().join("s.csv");
    gaussmix()
        .arg("anomaly")
        .arg(&d)
        .arg("-o")
        .arg(&out)
        .assert()
        .success()
        .stderr(
            predicate::str::contains("column 'flat'").and(predicate::str::contains("single value")),
        );
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 51);
    // a new row that leaves the constant value is the most anomalous
    let m = dir.path().join("m.json");
    gaussmix()
        .arg("anomaly")
        .arg(&d)
        .args(["-q", "-o", "-", "--save-model"])
        .arg(&m)
        .assert()
        .success();
    let t = write(dir.path(), "t.csv", "a,flat,b\n4,7,6\n4,8,6\n");
    let o = gaussmix()
        .arg("anomaly")
        .arg(&t)
        .args(["-q", "--model"])
        .arg(&m)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(o).unwrap();
    let flags: Vec<&str> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    assert_eq!(flags, ["0", "1"]);
}

#[test]
fn more_columns_than_rows_is_noted() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = String::from("c0,c1,c2,c3,c4,c5,c6,c7,c8,c9\n");
    for i in 0..6 {
        let row: Vec<String> = (0..10).map(|j| ((i * 3 + j * 7) % 5).to_string()).collect();
        s += &(row.join(",") + "\n");
    }
    let d = write(dir.path(), "wide.csv", &s);
    gaussmix()
        .arg("anomaly")
        .arg(&d)
        .args(["-o", "-"])
        .assert()
        .success()
        .stderr(predicate::str::contains("more columns (10) than rows (6)"));
}

#[test]
fn a_missing_or_nan_value_is_refused_naming_row_and_column() {
    let dir = tempfile::tempdir().unwrap();
    for (name, cell) in [("nan.csv", "NaN"), ("gap.csv", "")] {
        let s = planted();
        let mut lines: Vec<String> = s.lines().map(String::from).collect();
        lines[3] = format!("1.5,{cell}");
        let d = write(dir.path(), name, &(lines.join("\n") + "\n"));
        refused(dir.path(), &d, &[], "row 3 (line 4), column 'b'");
    }
}

#[test]
fn contamination_outside_zero_to_a_half_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = write(dir.path(), "p.csv", &planted());
    for c in ["0", "0.6", "-0.1", "1", "NaN"] {
        refused(
            dir.path(),
            &d,
            &["--contamination", c],
            &format!("--contamination {c} must be in (0, 0.5]"),
        );
    }
}

#[test]
fn a_saved_model_on_other_columns_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = write(dir.path(), "p.csv", &planted());
    let m = dir.path().join("model.json");
    gaussmix()
        .arg("anomaly")
        .arg(&d)
        .args(["-q", "-o", "-", "--save-model"])
        .arg(&m)
        .assert()
        .success();
    let m = m.to_str().unwrap().to_string();
    // named columns the model lacks
    let other = write(dir.path(), "o.csv", "a,c\n1,2\n2,3\n3,5\n");
    refused(
        dir.path(),
        &other,
        &["--model", &m],
        "lacks the model's column 'b'",
    );
    // three columns for a two-column model
    let wide = write(dir.path(), "w.csv", "x,y,z\n1,2,3\n2,3,4\n3,5,6\n");
    refused(dir.path(), &wide, &["--model", &m], "dimensions differ");
}

#[test]
fn explain_names_the_feature_that_makes_a_row_anomalous() {
    let dir = tempfile::tempdir().unwrap();
    let d = write(dir.path(), "p.csv", &planted());
    let o = gaussmix()
        .arg("anomaly")
        .arg(&d)
        .args(["-q", "-o", "-", "--explain", "1"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(o).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next().unwrap(), "score,is_anomaly,explain");
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 100);
    assert_eq!(rows[60][1], "1");
    assert!(rows[60][2].starts_with("b="), "{:?}", rows[60]);
    // unflagged rows have no explanation
    for r in &rows {
        assert_eq!(r[1] == "1", !r[2].is_empty(), "{r:?}");
    }
}

#[test]
fn json_output_holds_threshold_scores_and_explanations() {
    let dir = tempfile::tempdir().unwrap();
    let d = write(dir.path(), "p.csv", &planted());
    let out = dir.path().join("s.json");
    gaussmix()
        .arg("anomaly")
        .arg(&d)
        .args(["-q", "--json", "--explain", "-o"])
        .arg(&out)
        .assert()
        .success();
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 100);
    let thr = v["threshold"].as_f64().unwrap();
    let mut n = 0;
    for r in rows {
        let flagged = r["is_anomaly"].as_bool().unwrap();
        assert_eq!(flagged, r["score"].as_f64().unwrap() > thr);
        n += usize::from(flagged);
    }
    assert_eq!(v["n_anomalies"].as_u64().unwrap() as usize, n);
    let e = rows[60]["explain"].as_array().unwrap();
    assert_eq!(e[0]["feature"], "b");
    assert_eq!(
        e.len(),
        2,
        "two features, both listed with the default of 3"
    );
    // the explanation terms of a row sum to its squared Mahalanobis distance: positive
    assert!(e.iter().map(|c| c["term"].as_f64().unwrap()).sum::<f64>() > 0.0);
    // standard output
    gaussmix()
        .args([
            "anomaly",
            &data_str("faithful.csv"),
            "-q",
            "--json",
            "-o",
            "-",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("\"threshold\""));
}
