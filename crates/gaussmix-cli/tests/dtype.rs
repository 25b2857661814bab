//! `--dtype f32`: the data converted once to float32 (full and tied models then run their
//! E-step and Gram products in float32 lanes), on `fit`, `predict` and `score`.

mod common;

use common::{data_str, gaussmix, stdout_of};
use predicates::prelude::*;

fn model_json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn floats(v: &serde_json::Value) -> Vec<f64> {
    match v {
        serde_json::Value::Array(a) => a.iter().flat_map(floats).collect(),
        v => vec![v.as_f64().unwrap()],
    }
}

#[test]
fn fit_predict_score_in_f32_agree_with_f64() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_str("iris.csv");
    for cov in ["full", "tied", "diag"] {
        let mut models = Vec::new();
        for dtype in ["f64", "f32"] {
            let out = dir.path().join(format!("{cov}-{dtype}.json"));
            gaussmix()
                .args(["fit", &data, "-k", "3", "--covariance", cov, "--seed", "2"])
                .args(["--tol", "1e-4", "--dtype", dtype, "-q", "-o"])
                .arg(&out)
                .assert()
                .success();
            models.push(out);
        }
        let (a, b) = (model_json(&models[0]), model_json(&models[1]));
        for key in ["weights", "means", "covariances"] {
            let (x, y) = (floats(&a[key]), floats(&b[key]));
            let scale = x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            for (p, q) in x.iter().zip(&y) {
                assert!((p - q).abs() <= 1e-4 * scale, "{cov} {key}: {p} vs {q}");
            }
        }
        let (la, lb) = (
            a["lower_bound"].as_f64().unwrap(),
            b["lower_bound"].as_f64().unwrap(),
        );
        assert!((la - lb).abs() <= 1e-5 * la.abs(), "{cov}: {la} vs {lb}");
        // the same model predicts and scores f32-converted rows as it does f64 rows
        let labels = |dtype: &str| {
            stdout_of(
                gaussmix()
                    .args(["predict"])
                    .arg(&models[0])
                    .args([&data, "--dtype", dtype]),
            )
        };
        assert_eq!(labels("f64"), labels("f32"), "{cov}");
        let mean = |dtype: &str| -> f64 {
            String::from_utf8(stdout_of(
                gaussmix()
                    .args(["score"])
                    .arg(&models[0])
                    .args([&data, "--mean", "--dtype", dtype]),
            ))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
        };
        let (m64, m32) = (mean("f64"), mean("f32"));
        assert!(
            (m64 - m32).abs() <= 1e-5 * m64.abs(),
            "{cov}: {m64} vs {m32}"
        );
    }
}

#[test]
fn f32_is_for_in_memory_complete_data() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.json");
    for extra in [&["--stream"][..], &["--online"], &["--missing", "em"]] {
        gaussmix()
            .args(["fit", &data_str("iris.csv"), "-k", "2", "--dtype", "f32"])
            .args(extra)
            .arg("-o")
            .arg(&out)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("--dtype f32"));
        assert!(!out.exists());
    }
    gaussmix()
        .args([
            "fit",
            &data_str("iris.csv"),
            "-k",
            "2",
            "--dtype",
            "f16",
            "-o",
        ])
        .arg(&out)
        .assert()
        .code(2);
}
