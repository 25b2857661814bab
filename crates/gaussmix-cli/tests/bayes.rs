//! `gaussmix bayes`: the variational mixture from the command line.

mod common;

use common::{data_str, gaussmix, listing, stdout_of};
use predicates::prelude::*;

fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes).unwrap()
}

/// Expected: on Old Faithful with up to 8 components, the stick-breaking prior uses 2 (the
/// two eruption regimes), and the written model is an ordinary model every other command
/// reads (predict labels each row, info describes it).
#[test]
fn faithful_uses_two_of_eight_components() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("b.json");
    let out = stdout_of(
        gaussmix()
            .args([
                "bayes",
                &data_str("faithful.csv"),
                "-k",
                "8",
                "--max-iter",
                "500",
                "--json",
                "-o",
            ])
            .arg(&m),
    );
    let v = json(&out);
    assert_eq!(v["effective_components"], 2, "{v}");
    assert_eq!(v["converged"], true);
    let w: Vec<f64> = v["weights"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert_eq!(w.len(), 8);
    assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    let labels = stdout_of(
        gaussmix()
            .arg("predict")
            .arg(&m)
            .arg(data_str("faithful.csv"))
            .arg("-q"),
    );
    let text = String::from_utf8(labels).unwrap();
    let used: std::collections::BTreeSet<&str> = text.lines().skip(1).map(|l| l.trim()).collect();
    assert_eq!(used.len(), 2, "labels used: {used:?}");
    gaussmix().arg("info").arg(&m).assert().success();
}

/// Expected: bad values are errors that write nothing: a concentration that is not
/// positive (exit 1, named), an unknown weight prior (usage, exit 2), too few degrees of
/// freedom (named).
#[test]
fn bad_input_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("b.json");
    let f = data_str("faithful.csv");
    gaussmix()
        .args(["bayes", &f, "-k", "3", "--weight-concentration", "-1", "-o"])
        .arg(&m)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("weight_concentration_prior"));
    gaussmix()
        .args(["bayes", &f, "-k", "3", "--weight-prior", "dirichlet", "-o"])
        .arg(&m)
        .assert()
        .code(2);
    gaussmix()
        .args(["bayes", &f, "-k", "3", "--degrees-of-freedom", "0.5", "-o"])
        .arg(&m)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("degrees_of_freedom_prior"));
    gaussmix()
        .args(["bayes", &f, "-k", "3", "--covariance", "VEV", "-o"])
        .arg(&m)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("covariance_type"));
    assert!(listing(dir.path()).is_empty(), "{:?}", listing(dir.path()));
}

/// `fit --bayesian` is `bayes` with fit's shared options (the same model file), and the
/// options only EM has are refused with a usage error, nothing written.
#[test]
fn fit_bayesian_is_bayes() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.json"), dir.path().join("b.json"));
    let common = [
        "-k",
        "4",
        "--covariance",
        "diag",
        "--max-iter",
        "300",
        "--seed",
        "3",
        "-q",
    ];
    gaussmix()
        .args(["fit", &data_str("faithful.csv"), "--bayesian"])
        .args(common)
        .arg("-o")
        .arg(&a)
        .assert()
        .success();
    gaussmix()
        .args(["bayes", &data_str("faithful.csv")])
        .args(common)
        .arg("-o")
        .arg(&b)
        .assert()
        .success();
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    for extra in [
        &["--prior"][..],
        &["--noise"],
        &["--missing", "em"],
        &["--online"],
    ] {
        let out = dir.path().join("c.json");
        gaussmix()
            .args(["fit", &data_str("faithful.csv"), "--bayesian", "-k", "3"])
            .args(extra)
            .arg("-o")
            .arg(&out)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("--bayesian"));
        assert!(!out.exists(), "{extra:?}");
    }
}
