//! Model files and statistics bytes written by earlier gaussmix versions stay readable
//! (issue 18 item 3; the policy is in `docs/formats.md`).
//!
//! `tests/fixtures/formats/` holds model JSON files and statistics bytes written by
//! gaussmix 0.1.0 (model `format_version` 1, statistics format version 2), and
//! `expected.json` with the log densities and labels each gave on fixed probe rows when it
//! was written. Every later version must read each file and give the same numbers. The
//! fixtures are frozen: they are written once, by this test with
//! `GAUSSMIX_WRITE_FORMAT_FIXTURES=1`, and a new format version adds new files beside them
//! instead of replacing them.

mod common;

use common::{data, read_r_csv};
use gaussmix::{
    CovarianceType, GaussianMixture, GmmModel, SufficientStatistics, MODEL_FORMAT_VERSION,
};
use ndarray::{Array2, ArrayView2};
use serde_json::{json, Value};
use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/formats")
}

/// The probe rows: a grid over and around Old Faithful's range.
fn probes() -> Array2<f64> {
    Array2::from_shape_fn((12, 2), |(i, j)| {
        if j == 0 {
            1.0 + 0.45 * i as f64
        } else {
            40.0 + 4.5 * i as f64
        }
    })
}

/// The cases frozen in the fixtures: name, family, noise, anomaly threshold.
const CASES: [(&str, CovarianceType, bool, bool); 8] = [
    ("full", CovarianceType::Full, false, false),
    ("tied", CovarianceType::Tied, false, false),
    ("diag", CovarianceType::Diag, false, false),
    ("spherical", CovarianceType::Spherical, false, false),
    ("vev", CovarianceType::VEV, false, false),
    ("eve", CovarianceType::EVE, false, false),
    ("eii_noise", CovarianceType::EII, true, false),
    ("full_anomaly", CovarianceType::Full, false, true),
];

fn outputs(m: &GmmModel, x: ArrayView2<f64>) -> (Vec<f64>, Vec<usize>) {
    (
        m.score_samples(x).unwrap().to_vec(),
        m.predict(x).unwrap().to_vec(),
    )
}

/// Writes the fixtures (only with `GAUSSMIX_WRITE_FORMAT_FIXTURES=1`; they are frozen).
fn write_fixtures() {
    let x = read_r_csv(&data("faithful.csv"));
    let p = probes();
    std::fs::create_dir_all(dir()).unwrap();
    let mut expected = serde_json::Map::new();
    for (name, ct, noise, anomaly) in CASES {
        let mut m = GaussianMixture::new(2)
            .covariance_type(ct)
            .noise(noise)
            .seed(1)
            .fit(x.view())
            .unwrap();
        if anomaly {
            let s = m.score_samples(x.view()).unwrap();
            let mut nll: Vec<f64> = s.iter().map(|v| -v).collect();
            nll.sort_by(f64::total_cmp);
            m.set_anomaly_threshold(Some(nll[nll.len() * 95 / 100]))
                .unwrap();
        }
        std::fs::write(
            dir().join(format!("model_v1_{name}.json")),
            m.to_json().unwrap(),
        )
        .unwrap();
        let (scores, labels) = outputs(&m, p.view());
        let stats = SufficientStatistics::from_chunk(&m, x.view(), None).unwrap();
        std::fs::write(dir().join(format!("stats_v2_{name}.bin")), stats.to_bytes()).unwrap();
        let next = stats.finalize(1e-6).unwrap();
        let (next_scores, _) = outputs(&next, p.view());
        expected.insert(
            name.to_string(),
            json!({
                "score_samples": scores,
                "predict": labels,
                "stats_n_samples": stats.n_samples(),
                "stats_log_likelihood": stats.log_likelihood(),
                "stats_finalize_1e-6_score_samples": next_scores,
            }),
        );
    }
    let text = serde_json::to_string_pretty(&Value::Object(expected)).unwrap();
    std::fs::write(dir().join("expected.json"), text + "\n").unwrap();
}

fn close(a: &[f64], b: &[f64], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: length");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        // the kernel level (AVX-512, AVX2, portable) may change the last bits
        assert!(
            (x - y).abs() <= 1e-10 * y.abs().max(1.0),
            "{what}[{i}]: {x} read now, {y} when written"
        );
    }
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// Expected: every frozen model file loads and gives the log densities and labels it gave
/// when it was written; every frozen statistics file decodes to the same totals and
/// finalises to the same model. Fails if a change to the readers drops or reinterprets a
/// field of an earlier version.
#[test]
fn files_of_earlier_versions_still_read_the_same() {
    if std::env::var("GAUSSMIX_WRITE_FORMAT_FIXTURES").is_ok_and(|v| v == "1") {
        write_fixtures();
    }
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(dir().join("expected.json")).unwrap())
            .unwrap();
    let p = probes();
    for (name, ct, noise, anomaly) in CASES {
        let e = &expected[name];
        let text = std::fs::read_to_string(dir().join(format!("model_v1_{name}.json"))).unwrap();
        let m = GmmModel::from_json(&text).unwrap_or_else(|err| panic!("{name}: {err}"));
        assert_eq!(m.covariance_type(), ct, "{name}");
        assert_eq!(m.noise().is_some(), noise, "{name}");
        assert_eq!(m.anomaly_threshold().is_some(), anomaly, "{name}");
        if anomaly {
            // the anomaly detector's own file is this model file with its threshold
            let det = gaussmix::anomaly::FittedDetector::from_json(&text)
                .unwrap_or_else(|err| panic!("{name} as a detector: {err}"));
            assert_eq!(Some(det.threshold()), m.anomaly_threshold(), "{name}");
        }
        let (scores, labels) = outputs(&m, p.view());
        close(&scores, &floats(&e["score_samples"]), name);
        let want: Vec<usize> = e["predict"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(labels, want, "{name}: labels");

        let bytes = std::fs::read(dir().join(format!("stats_v2_{name}.bin"))).unwrap();
        let s = SufficientStatistics::from_bytes(&bytes).unwrap();
        assert_eq!(s.covariance_type(), ct, "{name}: stats");
        assert_eq!(s.n_samples(), e["stats_n_samples"].as_u64().unwrap());
        close(
            &[s.log_likelihood()],
            &[e["stats_log_likelihood"].as_f64().unwrap()],
            name,
        );
        let next = s.finalize(1e-6).unwrap();
        close(
            &outputs(&next, p.view()).0,
            &floats(&e["stats_finalize_1e-6_score_samples"]),
            name,
        );
    }
}

/// Expected: a model file of a newer `format_version` is refused with a message that names
/// the versions and says to upgrade; fields a newer writer adds beside known ones (metadata)
/// are ignored. Fails if a future file is misread silently.
#[test]
fn a_newer_format_version_is_named() {
    let text = std::fs::read_to_string(dir().join("model_v1_full.json")).unwrap();
    let mut v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["format_version"], MODEL_FORMAT_VERSION);
    v["format_version"] = json!(MODEL_FORMAT_VERSION + 1);
    let e = GmmModel::from_json(&v.to_string()).unwrap_err().to_string();
    assert!(
        e.contains("newer gaussmix") && e.contains(&format!("{}", MODEL_FORMAT_VERSION + 1)),
        "{e}"
    );
    v["format_version"] = json!(0);
    let e = GmmModel::from_json(&v.to_string()).unwrap_err().to_string();
    assert!(e.contains("format_version 0"), "{e}");
    // an extra metadata field of a later writer
    let mut v: Value = serde_json::from_str(&text).unwrap();
    v["created_by"] = json!("gaussmix 9.9.9");
    let a = GmmModel::from_json(&v.to_string()).unwrap();
    let b = GmmModel::from_json(&text).unwrap();
    assert_eq!(a, b);
}

/// The anomaly ensemble's frozen file and the scores it gave on the probes (written once,
/// only when absent, with `GAUSSMIX_WRITE_FORMAT_FIXTURES=1`).
fn ensemble_fixture() -> (String, Vec<f64>) {
    let file = dir().join("anomaly_ensemble_v1.json");
    let expected = dir().join("anomaly_ensemble_v1.expected.json");
    if !file.exists() && std::env::var("GAUSSMIX_WRITE_FORMAT_FIXTURES").is_ok_and(|v| v == "1") {
        let x = read_r_csv(&data("faithful.csv"));
        let det = gaussmix::anomaly::AnomalyDetector::new()
            .seed(1)
            .fit(x.view())
            .unwrap();
        assert!(det.n_members() > 1, "the default detector is an ensemble");
        std::fs::write(&file, det.to_json().unwrap()).unwrap();
        let scores = det.score(probes().view()).unwrap().to_vec();
        std::fs::write(&expected, serde_json::to_string(&scores).unwrap() + "\n").unwrap();
    }
    let scores: Vec<f64> =
        serde_json::from_str(&std::fs::read_to_string(expected).unwrap()).unwrap();
    (std::fs::read_to_string(file).unwrap(), scores)
}

/// Expected: the frozen anomaly ensemble (version 1) loads and scores the probes as it did
/// when written; a newer ensemble version is refused by name. Fails if the ensemble's
/// reader drops or reinterprets a field.
#[test]
fn anomaly_ensemble_of_version_1_still_scores_the_same() {
    let (text, want) = ensemble_fixture();
    let det = gaussmix::anomaly::FittedDetector::from_json(&text).unwrap();
    assert!(det.n_members() > 1);
    close(
        &det.score(probes().view()).unwrap().to_vec(),
        &want,
        "ensemble scores",
    );
    let mut v: Value = serde_json::from_str(&text).unwrap();
    v["gaussmix_anomaly_ensemble"] = json!(gaussmix::anomaly::ANOMALY_ENSEMBLE_FORMAT_VERSION + 1);
    let e = gaussmix::anomaly::FittedDetector::from_json(&v.to_string())
        .unwrap_err()
        .to_string();
    assert!(e.contains("newer gaussmix"), "{e}");
}
