//! Number-for-number parity with scikit-learn 1.9.1, from fixtures written by
//! `scripts/gen_fixtures.py` with explicit weights/means/precisions (no k-means).

mod common;

use gaussmix::{CovarianceType, Covariances, GaussianMixture, GmmModel};
use ndarray::{Array1, Array2, Array3};
use serde_json::Value;

fn load(case: &str) -> Value {
    let path = format!("{}/tests/fixtures/{case}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn v1(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn a2(v: &Value) -> Array2<f64> {
    let rows: Vec<Vec<f64>> = v.as_array().unwrap().iter().map(v1).collect();
    Array2::from_shape_fn((rows.len(), rows[0].len()), |(i, j)| rows[i][j])
}

fn cov(v: &Value, ct: CovarianceType) -> Covariances {
    match ct {
        CovarianceType::Full => {
            let m: Vec<Array2<f64>> = v.as_array().unwrap().iter().map(a2).collect();
            let d = m[0].nrows();
            Covariances::Full(Array3::from_shape_fn((m.len(), d, d), |(k, i, j)| {
                m[k][[i, j]]
            }))
        }
        CovarianceType::Tied => Covariances::Tied(a2(v)),
        CovarianceType::Diag => Covariances::Diag(a2(v)),
        CovarianceType::Spherical => Covariances::Spherical(Array1::from(v1(v))),
        other => unreachable!("{other} has no scikit-learn fixture"),
    }
}

fn flat(c: &Covariances) -> Vec<f64> {
    match c {
        Covariances::Full(a) => a.iter().copied().collect(),
        Covariances::Tied(a) | Covariances::Diag(a) => a.iter().copied().collect(),
        Covariances::Spherical(a) => a.to_vec(),
    }
}

/// Element-wise relative closeness, with an absolute floor tied to the array's scale so
/// that off-diagonal entries near zero are judged against the matrix they belong to.
fn close(what: &str, got: &[f64], want: &[f64], tol: f64) {
    close_floor(what, got, want, tol, 1e-6)
}

/// [`close`] with the floor as a fraction of the array's largest entry (1 = norm-wise).
fn close_floor(what: &str, got: &[f64], want: &[f64], tol: f64, floor: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let err = (g - w).abs();
        assert!(
            err <= tol * w.abs().max(floor * scale),
            "{what}[{i}]: got {g}, want {w} (rel {:e})",
            err / w.abs()
        );
    }
}

fn check(case: &str, result_key: &str, tol: f64) {
    check_floor(case, result_key, tol, 1e-6)
}

fn check_floor(case: &str, result_key: &str, tol: f64, floor: f64) {
    let f = load(case);
    let ct: CovarianceType = f["covariance_type"].as_str().unwrap().parse().unwrap();
    let k = f["n_components"].as_u64().unwrap() as usize;
    let x = a2(&f["X"]);
    let g = GaussianMixture::new(k)
        .covariance_type(ct)
        .tol(f["tol"].as_f64().unwrap())
        .max_iter(f["max_iter"].as_u64().unwrap() as usize)
        .reg_covar(f["reg_covar"].as_f64().unwrap())
        .weights_init(Array1::from(v1(&f["weights_init"])))
        .means_init(a2(&f["means_init"]))
        .precisions_init(cov(&f["precisions_init"], ct));
    let m: GmmModel = g.fit(x.view()).unwrap();
    let r = &f[result_key];
    let info = m.info();
    assert_eq!(
        info.n_iter as u64,
        r["n_iter"].as_u64().unwrap(),
        "{case}: n_iter"
    );
    assert_eq!(
        info.converged,
        r["converged"].as_bool().unwrap(),
        "{case}: converged"
    );
    close(
        &format!("{case} lower_bounds"),
        &info.lower_bounds,
        &v1(&r["lower_bounds"]),
        tol,
    );
    close(
        &format!("{case} weights"),
        m.weights().as_slice().unwrap(),
        &v1(&r["weights"]),
        tol,
    );
    close(
        &format!("{case} means"),
        m.means().as_slice().unwrap(),
        a2(&r["means"]).as_slice().unwrap(),
        tol,
    );
    close(
        &format!("{case} covariances"),
        &flat(m.covariances()),
        &flat(&cov(&r["covariances"], ct)),
        tol,
    );
    close_floor(
        &format!("{case} precisions"),
        &flat(&m.precisions()),
        &flat(&cov(&r["precisions"], ct)),
        tol,
        floor,
    );
    close_floor(
        &format!("{case} precisions_cholesky"),
        &flat(m.precisions_cholesky()),
        &flat(&cov(&r["precisions_cholesky"], ct)),
        tol,
        floor,
    );
    close(
        &format!("{case} score_samples"),
        m.score_samples(x.view()).unwrap().as_slice().unwrap(),
        &v1(&r["score_samples"]),
        tol,
    );
    let p = m.predict_proba(x.view()).unwrap();
    let want_p = a2(&r["predict_proba"]);
    for (g, w) in p.iter().zip(want_p.iter()) {
        assert!((g - w).abs() <= tol, "{case} predict_proba: {g} vs {w}");
    }
    let labels: Vec<u64> = m
        .predict(x.view())
        .unwrap()
        .iter()
        .map(|&l| l as u64)
        .collect();
    let want_l: Vec<u64> = r["predict"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(labels, want_l, "{case}: predict");
    close(
        &format!("{case} score"),
        &[m.score(x.view()).unwrap()],
        &[r["score"].as_f64().unwrap()],
        tol,
    );
    close(
        &format!("{case} bic"),
        &[m.bic(x.view()).unwrap()],
        &[r["bic"].as_f64().unwrap()],
        tol,
    );
    close(
        &format!("{case} aic"),
        &[m.aic(x.view()).unwrap()],
        &[r["aic"].as_f64().unwrap()],
        tol,
    );
}

#[test]
fn full() {
    check("full", "result", 1e-8);
}
#[test]
fn tied() {
    check("tied", "result", 1e-8);
}
#[test]
fn diag() {
    check("diag", "result", 1e-8);
}
#[test]
fn spherical() {
    check("spherical", "result", 1e-8);
}
#[test]
fn five_iterations_each_type() {
    for case in ["full_iter5", "tied_iter5", "diag_iter5", "spherical_iter5"] {
        check(case, "result", 1e-8);
    }
}
#[test]
fn one_dimension_one_component() {
    check("full_1d_k1", "result", 1e-8);
}
/// Data offset by 1e6: scikit-learn's E-step (X·P − μ·P on values near 1e6) loses about
/// eight digits, so its small precision entries are compared norm-wise (1e-8 of the
/// largest entry); everything else element-wise to 1e-8.
#[test]
fn full_offset_matches_sklearn() {
    check_floor("full_offset", "result", 1e-8, 1.0);
}
/// Against the 40-digit reference of the same iterations: our centred moments keep
/// (nearly) all the digits.
#[test]
fn full_offset_matches_the_exact_reference() {
    check("full_offset", "reference_result", 1e-8);
}
/// scikit-learn's raw-moment diag M-step keeps only 2–3 digits at an offset of 1e6
/// (its own result is off by 1.7e-2); ours matches the exact reference.
#[test]
fn diag_offset_matches_the_exact_reference() {
    check("diag_offset", "reference_result", 1e-8);
}
