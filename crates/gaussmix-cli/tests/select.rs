//! `gaussmix select`: the table, the chosen model, the plot, and every error path.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;

mod common;

fn gaussmix() -> Command {
    Command::cargo_bin("gaussmix").unwrap()
}

fn faithful() -> String {
    format!("{}/../../data/faithful.csv", env!("CARGO_MANIFEST_DIR"))
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn select_prints_the_table_and_writes_the_best_model() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("best.json");
    let table = dir.path().join("table.csv");
    let out = gaussmix()
        .args([
            "select",
            &faithful(),
            "--k",
            "1..4",
            "--covariance",
            "full,diag",
            "--table",
        ])
        .arg(&table)
        .arg("-o")
        .arg(&model)
        .assert()
        .success()
        .stdout(predicate::str::contains("best by BIC: k=2 VVV (full)"))
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    for h in [
        "log-likelihood",
        "params",
        "BIC",
        "AIC",
        "ICL",
        "ICL-soft",
        "converged",
        "start",
    ] {
        assert!(text.contains(h), "table lacks {h}:\n{text}");
    }
    // 4 k × 2 types, one marked best
    assert_eq!(
        text.lines()
            .filter(|l| l.contains("full") || l.contains("diag"))
            .count(),
        9
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
    assert_eq!(v["n_components"], 2);
    assert_eq!(v["covariance_type"], "full");
    assert_eq!(v["feature_names"][0], "eruptions");
    let t = std::fs::read_to_string(&table).unwrap();
    assert!(
        t.starts_with("k,covariance,log_likelihood,n_parameters,bic,aic,icl,icl_soft,converged,start,status,note,best")
    );
    assert_eq!(t.lines().count(), 9);
    assert_eq!(t.lines().filter(|l| l.ends_with(",true")).count(), 1);
}

#[test]
fn icl_is_bic_plus_twice_the_entropy_and_never_below_it() {
    // ICL (mclust's: hard classification) and ICL-soft are BIC plus twice an entropy
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("t.tsv");
    gaussmix()
        .args([
            "select",
            &faithful(),
            "--k",
            "1..3",
            "--covariance",
            "full",
            "-q",
            "--table",
        ])
        .arg(&table)
        .arg("-o")
        .arg(dir.path().join("m.json"))
        .assert()
        .success();
    let t = std::fs::read_to_string(&table).unwrap();
    for (i, line) in t.lines().skip(1).enumerate() {
        let f: Vec<&str> = line.split('\t').collect();
        let bic: f64 = f[4].parse().unwrap();
        let icl: f64 = f[6].parse().unwrap();
        let soft: f64 = f[7].parse().unwrap();
        if i == 0 {
            assert_eq!(bic, icl, "k = 1 has zero entropy");
            assert_eq!(bic, soft, "k = 1 has zero entropy");
        } else {
            assert!(icl > bic);
            assert!(soft > bic);
        }
    }
}

#[test]
fn select_does_not_depend_on_the_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let mut models = Vec::new();
    for threads in ["1", "2", "3"] {
        let m = dir.path().join(format!("m{threads}.json"));
        gaussmix()
            .args([
                "select",
                &faithful(),
                "--k",
                "1..3",
                "--covariance",
                "all",
                "-q",
                "--threads",
                threads,
                "-o",
            ])
            .arg(&m)
            .assert()
            .success();
        models.push(std::fs::read_to_string(&m).unwrap());
    }
    assert_eq!(models[0], models[1]);
    assert_eq!(models[0], models[2]);
}

#[test]
fn select_criteria_and_plot() {
    let dir = tempfile::tempdir().unwrap();
    for c in ["aic", "icl", "BIC"] {
        let plot = dir.path().join(format!("{c}.svg"));
        gaussmix()
            .args([
                "select",
                &faithful(),
                "--k",
                "1..3",
                "--covariance",
                "full",
                "--criterion",
                c,
                "--plot",
            ])
            .arg(&plot)
            .arg("-o")
            .arg(dir.path().join("m.json"))
            .assert()
            .success()
            .stdout(predicate::str::contains(format!(
                "best by {}",
                c.to_uppercase()
            )));
        let svg = std::fs::read_to_string(&plot).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("number of components"));
    }
}

#[test]
fn k_above_the_number_of_rows_is_skipped_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let data = write(
        dir.path(),
        "small.csv",
        "a,b\n0,0\n1,0.5\n0.2,1\n5,5\n5.5,4.9\n",
    );
    gaussmix()
        .args(["select"])
        .arg(&data)
        .args(["--k", "1..8", "--covariance", "spherical", "-o"])
        .arg(dir.path().join("m.json"))
        .assert()
        .success()
        .stderr(predicate::str::contains("skipping k = 6, 7, 8"));
    gaussmix()
        .args(["select"])
        .arg(&data)
        .args(["--k", "6..8", "-o"])
        .arg(dir.path().join("m2.json"))
        .assert()
        .failure()
        .stderr(predicate::str::contains("has 5 rows"));
    assert!(!dir.path().join("m2.json").exists());
}

fn select_fails(extra: &[&str], message: &str) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.json");
    gaussmix()
        .args(["select", &faithful()])
        .args(extra)
        .arg("-o")
        .arg(&out)
        .assert()
        .failure()
        .stderr(predicate::str::contains(message));
    assert!(!out.exists());
}

#[test]
fn bad_k_ranges_are_clear_errors() {
    select_fails(&["--k", "0..3"], "at least 1");
    select_fails(&["--k", "5..2"], "is empty");
    select_fails(&["--k", "a..b"], "'a' is not a whole number");
    select_fails(&["--k", "1..x"], "'x' is not a whole number");
    select_fails(&["--k", ""], "bad --k");
}

#[test]
fn bad_covariance_and_criterion_are_clear_errors() {
    select_fails(&["--covariance", "ful"], "unknown covariance type 'ful'");
    select_fails(&["--covariance", "full,,diag"], "empty item");
    select_fails(
        &["--criterion", "mdl"],
        "invalid value 'mdl' for '--criterion",
    );
    select_fails(&["--kmeans-starts", "0", "--no-hc"], "at least one start");
    select_fails(
        &["--plot", "curves.jpg"],
        "unsupported picture extension '.jpg'",
    );
    select_fails(
        &["--table", "t.xlsx"],
        "unsupported output extension '.xlsx'",
    );
}

#[test]
fn missing_data_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    gaussmix()
        .args(["select", "/nonexistent/x.csv", "-o"])
        .arg(dir.path().join("m.json"))
        .assert()
        .failure()
        .stderr(predicate::str::contains("/nonexistent/x.csv"));
}

/// The headline on the bundled Old Faithful: with the defaults (all fourteen
/// families, k = 1..9), mclust's choice EEE with three components, at a BIC no worse than
/// mclust 6.0.0's 2314.32 (in our sign; `Mclust(faithful)`).
#[test]
fn default_selection_on_faithful_is_eee_3_as_mclust() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("t.csv");
    let model = dir.path().join("m.json");
    gaussmix()
        .args(["select", &faithful(), "-q", "--table"])
        .arg(&table)
        .arg("-o")
        .arg(&model)
        .assert()
        .success();
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
    assert_eq!(v["covariance_type"], "tied");
    assert_eq!(v["n_components"], 3);
    let t = std::fs::read_to_string(&table).unwrap();
    let best: Vec<&str> = t
        .lines()
        .find(|l| l.ends_with(",true"))
        .unwrap()
        .split(',')
        .collect();
    assert_eq!(best[1], "EEE");
    let bic: f64 = best[4].parse().unwrap();
    assert!(bic <= 2314.33, "BIC {bic}");
    // 14 families × 9 values of k
    assert_eq!(t.lines().count(), 1 + 14 * 9);
}

/// On data larger than the row subset the starts run on, cells that cannot win keep their
/// start: the table marks them (`start` in the converged column, a note in the CSV) and
/// says why, and the chosen model is a refined one.
#[test]
fn cells_that_cannot_win_are_marked_as_kept_starts() {
    let dir = tempfile::tempdir().unwrap();
    let mut u = common::uniform(7);
    let mut text = String::from("a,b\n");
    for i in 0..6000 {
        let (cx, cy) = [(0.0, 0.0), (8.0, 1.0), (2.0, 9.0)][i % 3];
        text.push_str(&format!("{},{}\n", cx + u() - 0.5, cy + 2.0 * (u() - 0.5)));
    }
    let data = write(dir.path(), "three.csv", &text);
    let table = dir.path().join("t.csv");
    let out = gaussmix()
        .args(["select"])
        .arg(&data)
        .args(["-k", "1..4", "--covariance", "all", "--threads", "1", "-o"])
        .arg(dir.path().join("m.json"))
        .arg("--table")
        .arg(&table)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let stdout = String::from_utf8(out).unwrap();
    assert!(stdout.contains("kept their start"), "{stdout}");
    let rows = std::fs::read_to_string(&table).unwrap();
    let kept: Vec<&str> = rows.lines().filter(|l| l.contains("start kept")).collect();
    assert!(!kept.is_empty(), "{rows}");
    for l in &kept {
        assert!(l.contains(",false,"), "a kept start is not converged: {l}");
        assert!(l.ends_with(",false"), "a kept start is never the best: {l}");
    }
    let best: Vec<&str> = rows.lines().filter(|l| l.ends_with(",true")).collect();
    assert_eq!(best.len(), 1);
    assert!(!best[0].contains("start kept"));
}

/// Expected: on rounded data where most cells collapse onto recorded values (breastw: nine
/// features on a 1..10 scale), the degenerate cells, which cannot be chosen, are not refined
/// to the tight tolerance: each stops with its screening fit, converged, instead of running
/// out its iterations following the collapse (before: five cells ended unconverged at
/// `--max-iter`). The choice is a sound cell.
#[test]
fn degenerate_cells_are_not_refined_to_the_tight_tolerance() {
    let data = format!(
        "{}/../../data/anomaly/4_breastw.npz",
        env!("CARGO_MANIFEST_DIR")
    );
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("table.csv");
    gaussmix()
        .args(["select", &data, "--k", "1..9", "-q", "--table"])
        .arg(&table)
        .arg("-o")
        .arg(dir.path().join("best.json"))
        .assert()
        .success();
    let text = std::fs::read_to_string(&table).unwrap();
    let mut degenerate = 0;
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        if f[10] == "degenerate" {
            degenerate += 1;
            assert_eq!(
                f[8], "true",
                "a degenerate cell ran out its iterations: {line}"
            );
        }
        if f.last() == Some(&"true") {
            assert_eq!(f[10], "fitted", "the choice: {line}");
        }
    }
    assert!(
        degenerate > 40,
        "{degenerate} degenerate cells: the data no longer collapse"
    );
}
