//! The variational mixture (`gaussmix::vb`) against scikit-learn 1.9.1's
//! `BayesianGaussianMixture`, from fixtures of `scripts/gen_vb_fixtures.py`: from the same
//! k-means labels both run the same iterations, so every hyperparameter, the lower bounds
//! and the variational `score_samples` / `predict_proba` agree to rounding; plus the
//! invariants of variational EM and bad input.

use gaussmix::vb::{BayesianGaussianMixture, CovariancePrior, WeightPrior};
use gaussmix::{CovarianceType, Covariances, GmmError};
use ndarray::{Array1, Array2};
use serde_json::Value;

fn load(case: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/vb/{case}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Every number in a (nested) JSON array, flattened.
fn flat(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(a) => a.iter().flat_map(flat).collect(),
        Value::Number(n) => vec![n.as_f64().unwrap()],
        other => panic!("not a number: {other}"),
    }
}

fn a2(v: &Value) -> Array2<f64> {
    let rows: Vec<Vec<f64>> = v.as_array().unwrap().iter().map(flat).collect();
    Array2::from_shape_fn((rows.len(), rows[0].len()), |(i, j)| rows[i][j])
}

fn cov_flat(c: &Covariances) -> Vec<f64> {
    match c {
        Covariances::Full(a) => a.iter().copied().collect(),
        Covariances::Tied(a) | Covariances::Diag(a) => a.iter().copied().collect(),
        Covariances::Spherical(a) => a.to_vec(),
    }
}

/// Relative closeness with a floor at `1e-6` of the array's largest entry.
fn close(what: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let err = (g - w).abs();
        assert!(
            err <= tol * w.abs().max(1e-6 * scale),
            "{what}[{i}]: got {g}, want {w} (rel {:e})",
            err / w.abs()
        );
    }
}

fn estimator(f: &Value) -> BayesianGaussianMixture {
    let ct: CovarianceType = f["covariance_type"].as_str().unwrap().parse().unwrap();
    let k = f["n_components"].as_u64().unwrap() as usize;
    let labels: Vec<usize> = f["init_labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let wp = match f["weight_concentration_prior_type"].as_str().unwrap() {
        "dirichlet_process" => WeightPrior::DirichletProcess,
        _ => WeightPrior::DirichletDistribution,
    };
    let mut g = BayesianGaussianMixture::new(k)
        .covariance_type(ct)
        .weight_prior(wp)
        .tol(f["tol"].as_f64().unwrap())
        .max_iter(f["max_iter"].as_u64().unwrap() as usize)
        .init_labels(labels);
    let p = &f["params"];
    if let Some(v) = p["weight_concentration_prior"].as_f64() {
        g = g.weight_concentration_prior(v);
    }
    if let Some(v) = p["mean_precision_prior"].as_f64() {
        g = g.mean_precision_prior(v);
    }
    if p["mean_prior"].is_array() {
        g = g.mean_prior(Array1::from(flat(&p["mean_prior"])));
    }
    if let Some(v) = p["degrees_of_freedom_prior"].as_f64() {
        g = g.degrees_of_freedom_prior(v);
    }
    if p["covariance_prior"].is_array() {
        g = g.covariance_prior(CovariancePrior::Matrix(a2(&p["covariance_prior"])));
    }
    g
}

fn check(case: &str, tol: f64) {
    let f = load(case);
    let x = a2(&f["x"]);
    let fit = estimator(&f).fit(x.view()).unwrap();
    let pr = &fit.priors;
    close(
        &format!("{case} weight_concentration_prior"),
        &[pr.weight_concentration],
        &[f["weight_concentration_prior"].as_f64().unwrap()],
        1e-14,
    );
    close(
        &format!("{case} mean_prior"),
        pr.mean.as_slice().unwrap(),
        &flat(&f["mean_prior"]),
        1e-13,
    );
    let cp = match &pr.covariance {
        CovariancePrior::Matrix(m) => m.iter().copied().collect(),
        CovariancePrior::Diagonal(v) => v.to_vec(),
        CovariancePrior::Scalar(v) => vec![*v],
    };
    close(
        &format!("{case} covariance_prior"),
        &cp,
        &flat(&f["covariance_prior"]),
        1e-12,
    );
    assert_eq!(
        fit.info.n_iter as u64,
        f["n_iter"].as_u64().unwrap(),
        "{case}: n_iter"
    );
    assert_eq!(
        fit.info.converged,
        f["converged"].as_bool().unwrap(),
        "{case}: converged"
    );
    close(
        &format!("{case} lower_bounds"),
        &fit.info.lower_bounds,
        &flat(&f["lower_bounds"]),
        tol,
    );
    close(
        &format!("{case} weights"),
        fit.weights.as_slice().unwrap(),
        &flat(&f["weights"]),
        tol,
    );
    close(
        &format!("{case} weight_concentration"),
        fit.weight_concentration.as_slice().unwrap(),
        &flat(&f["weight_concentration"]),
        tol,
    );
    if let Some(b) = &fit.weight_concentration_b {
        close(
            &format!("{case} weight_concentration_b"),
            b.as_slice().unwrap(),
            &flat(&f["weight_concentration_b"]),
            tol,
        );
    } else {
        assert!(f["weight_concentration_b"].is_null());
    }
    close(
        &format!("{case} mean_precision"),
        fit.mean_precision.as_slice().unwrap(),
        &flat(&f["mean_precision"]),
        tol,
    );
    close(
        &format!("{case} means"),
        fit.means.as_slice().unwrap(),
        &flat(&f["means"]),
        tol,
    );
    close(
        &format!("{case} degrees_of_freedom"),
        fit.degrees_of_freedom.as_slice().unwrap(),
        &flat(&f["degrees_of_freedom"]),
        tol,
    );
    close(
        &format!("{case} covariances"),
        &cov_flat(&fit.covariances),
        &flat(&f["covariances"]),
        tol,
    );
    close(
        &format!("{case} precisions_cholesky"),
        &cov_flat(&fit.precisions_cholesky),
        &flat(&f["precisions_cholesky"]),
        tol,
    );
    let probes = a2(&f["probes"]);
    close(
        &format!("{case} score_samples"),
        fit.score_samples(probes.view())
            .unwrap()
            .as_slice()
            .unwrap(),
        &flat(&f["score_samples"]),
        tol,
    );
    close(
        &format!("{case} predict_proba"),
        fit.predict_proba(probes.view())
            .unwrap()
            .as_slice()
            .unwrap(),
        &flat(&f["predict_proba"]),
        tol.max(1e-6),
    );
}

/// Expected: every hyperparameter, lower bound and score of scikit-learn's fit from the same
/// labels, for the four covariance types, both weight priors and explicit priors.
#[test]
fn matches_scikit_learn() {
    for case in [
        "full_dp",
        "full_dd",
        "tied_dp",
        "tied_dd",
        "diag_dp",
        "diag_dd",
        "spherical_dp",
        "spherical_dd",
        "full_dp_priors",
    ] {
        check(case, 1e-10);
    }
}

/// Expected: the lower bound never decreases by more than rounding (variational EM is a
/// coordinate ascent), weights sum to 1, and the plain expected-parameter model is a valid
/// mixture whose labels mostly agree with the variational ones.
#[test]
fn invariants_of_variational_em() {
    let f = load("full_dp");
    let x = a2(&f["x"]);
    for ct in [
        CovarianceType::Full,
        CovarianceType::Tied,
        CovarianceType::Diag,
        CovarianceType::Spherical,
    ] {
        for wp in [
            WeightPrior::DirichletProcess,
            WeightPrior::DirichletDistribution,
        ] {
            let fit = BayesianGaussianMixture::new(6)
                .covariance_type(ct)
                .weight_prior(wp)
                .seed(1)
                .tol(0.0)
                .max_iter(80)
                .fit(x.view())
                .unwrap();
            let lb = &fit.info.lower_bounds;
            for w in lb.windows(2) {
                assert!(
                    w[1] >= w[0] - 1e-9 * w[0].abs(),
                    "{ct} {wp:?}: bound fell {} -> {}",
                    w[0],
                    w[1]
                );
            }
            assert!((fit.weights.sum() - 1.0).abs() < 1e-12);
            let m = fit.model().unwrap();
            let a = m.predict(x.view()).unwrap();
            let b = fit.predict(x.view()).unwrap();
            let agree = a.iter().zip(&b).filter(|(p, q)| p == q).count();
            assert!(
                agree * 10 >= x.nrows() * 9,
                "{ct} {wp:?}: {agree} of {} labels agree",
                x.nrows()
            );
        }
    }
}

/// Expected: with a small concentration, the stick-breaking prior leaves superfluous
/// components near zero weight on data of three clusters; the effective count is 3.
#[test]
fn superfluous_components_fade() {
    let f = load("full_dp");
    let x = a2(&f["x"]);
    let fit = BayesianGaussianMixture::new(8)
        .weight_concentration_prior(1e-3)
        .seed(0)
        .max_iter(500)
        .fit(x.view())
        .unwrap();
    assert_eq!(
        fit.effective_components(0.02),
        3,
        "weights {:?}",
        fit.weights
    );
}

/// Expected: bad parameters and data are clear errors naming the parameter.
#[test]
fn bad_input_is_named() {
    let f = load("full_dp");
    let x = a2(&f["x"]);
    let err = |g: BayesianGaussianMixture| g.fit(x.view()).unwrap_err().to_string();
    assert!(
        err(BayesianGaussianMixture::new(2).degrees_of_freedom_prior(1.5))
            .contains("degrees_of_freedom_prior")
    );
    assert!(
        err(BayesianGaussianMixture::new(2).weight_concentration_prior(-1.0))
            .contains("weight_concentration_prior")
    );
    assert!(
        err(BayesianGaussianMixture::new(2).covariance_type(CovarianceType::VEV))
            .contains("covariance_type")
    );
    assert!(
        err(BayesianGaussianMixture::new(2).mean_prior(Array1::zeros(2))).contains("mean_prior")
    );
    assert!(err(
        BayesianGaussianMixture::new(2).covariance_prior(CovariancePrior::Matrix(-Array2::eye(3)))
    )
    .contains("covariance_prior"));
    assert!(
        err(BayesianGaussianMixture::new(2).covariance_prior(CovariancePrior::Scalar(1.0)))
            .contains("covariance_prior")
    );
    assert!(err(BayesianGaussianMixture::new(2).init_labels(vec![0; 5])).contains("init_labels"));
    let mut bad = x.clone();
    bad[[7, 2]] = f64::NAN;
    let e = BayesianGaussianMixture::new(2).fit(bad.view()).unwrap_err();
    assert!(matches!(e, GmmError::NonFinite { .. }), "{e}");
    let tiny = x.slice(ndarray::s![..3, ..]).to_owned();
    assert!(matches!(
        BayesianGaussianMixture::new(4)
            .fit(tiny.view())
            .unwrap_err(),
        GmmError::TooFewSamples { .. }
    ));
}
