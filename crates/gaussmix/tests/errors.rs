//! Bad input gets a clear error, never a panic (docs/design.md §7).

mod common;

use common::mixture_data;
use gaussmix::{
    CovarianceType, Covariances, GaussianMixture, GmmError, GmmModel, SufficientStatistics,
};
use ndarray::{array, Array1, Array2};

fn msg<T: std::fmt::Debug>(r: Result<T, GmmError>) -> String {
    r.unwrap_err().to_string()
}

#[test]
fn empty_data() {
    let x = Array2::<f64>::zeros((0, 3));
    assert!(msg(GaussianMixture::new(1).fit(x.view())).contains("empty data: 0 rows"));
    let x = Array2::<f64>::zeros((5, 0));
    assert!(msg(GaussianMixture::new(1).fit(x.view())).contains("0 columns"));
}

#[test]
fn nan_and_infinity_are_located() {
    let mut x = array![[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]];
    x[[2, 1]] = f64::NAN;
    let m = msg(GaussianMixture::new(1).fit(x.view()));
    assert!(m.contains("row 2, column 1"), "{m}");
    x[[2, 1]] = f64::INFINITY;
    assert!(msg(GaussianMixture::new(1).fit(x.view())).contains("inf"));
}

#[test]
fn fewer_rows_than_components() {
    let x = array![[1.0], [2.0]];
    let m = msg(GaussianMixture::new(3).fit(x.view()));
    assert!(
        m.contains("2 samples cannot be fitted with 3 components"),
        "{m}"
    );
}

#[test]
fn invalid_parameters_are_named() {
    let x = array![[1.0], [2.0], [3.0]];
    assert!(msg(GaussianMixture::new(0).fit(x.view())).contains("n_components"));
    assert!(msg(GaussianMixture::new(1).tol(-1.0).fit(x.view())).contains("tol"));
    assert!(msg(GaussianMixture::new(1).reg_covar(f64::NAN).fit(x.view())).contains("reg_covar"));
    assert!(msg(GaussianMixture::new(1).n_init(0).fit(x.view())).contains("n_init"));
    assert!(msg(GaussianMixture::new(2)
        .weights_init(array![0.5, 0.6])
        .fit(x.view()))
    .contains("sum to 1"));
    assert!(msg(GaussianMixture::new(2)
        .means_init(array![[0.0, 1.0], [1.0, 2.0]])
        .fit(x.view()))
    .contains("means_init"));
    let p = Covariances::Full(array![[[1.0]], [[-1.0]]]);
    let m = msg(GaussianMixture::new(2)
        .covariance_type(CovarianceType::Full)
        .weights_init(array![0.5, 0.5])
        .means_init(array![[1.0], [2.0]])
        .precisions_init(p)
        .fit(x.view()));
    assert!(
        m.contains("precisions_init") && m.contains("component 1"),
        "{m}"
    );
    assert!("bogus"
        .parse::<CovarianceType>()
        .unwrap_err()
        .to_string()
        .contains("full, tied, diag, spherical"));
}

#[test]
fn dimension_differs_from_the_model() {
    let (x, _) = mixture_data(100, 3, 2, 1, 3.0);
    let m = GaussianMixture::new(2).fit(x.view()).unwrap();
    let y = Array2::<f64>::zeros((4, 2));
    let e = msg(m.predict(y.view()));
    assert!(
        e.contains("expected 3 columns") && e.contains("got 2 columns"),
        "{e}"
    );
    assert!(msg(SufficientStatistics::from_chunk(&m, y.view(), None)).contains("3 columns"));
}

#[test]
fn bad_weights() {
    let x = array![[1.0], [2.0], [3.0]];
    let g = GaussianMixture::new(1);
    assert!(msg(g.fit_weighted(x.view(), array![1.0, 2.0].view())).contains("one per row"));
    assert!(msg(g.fit_weighted(x.view(), array![1.0, -2.0, 1.0].view())).contains("row 1"));
    assert!(msg(g.fit_weighted(x.view(), array![0.0, 0.0, 0.0].view())).contains("zero"));
    // two positive weights cannot fit three components
    assert!(
        msg(GaussianMixture::new(3).fit_weighted(x.view(), array![1.0, 1.0, 0.0].view()))
            .contains("2 samples")
    );
}

#[test]
fn ill_defined_covariance_names_the_component() {
    // a constant column with no regularisation cannot be factorised
    let x = Array2::from_shape_fn((20, 2), |(i, j)| if j == 0 { i as f64 } else { 1.0 });
    let e = msg(GaussianMixture::new(1).reg_covar(0.0).fit(x.view()));
    assert!(
        e.contains("component 0")
            && e.contains("raising reg_covar")
            && e.contains("lowering the number of components"),
        "{e}"
    );
    // with the default reg_covar it fits
    let m = GaussianMixture::new(1).fit(x.view()).unwrap();
    assert!(m.score(x.view()).unwrap().is_finite());
}

#[test]
fn huge_magnitudes_fail_clearly_or_fit() {
    let (x, _) = mixture_data(200, 2, 2, 3, 3.0);
    // 1e150: squares overflow, which is reported, not turned into a NaN model
    let big = x.mapv(|v| v * 1e150);
    match GaussianMixture::new(2).fit(big.view()) {
        Ok(m) => assert!(m.means().iter().all(|v| v.is_finite())),
        Err(e) => assert!(
            e.to_string().contains("overflow") || e.to_string().contains("ill-defined"),
            "{e}"
        ),
    }
    // an offset of 1e9 with unit-scale structure fits and recovers the structure
    let off = x.mapv(|v| v + 1e9);
    let a = GaussianMixture::new(2).seed(1).fit(x.view()).unwrap();
    let b = GaussianMixture::new(2).seed(1).fit(off.view()).unwrap();
    assert!((a.score(x.view()).unwrap() - b.score(off.view()).unwrap()).abs() < 1e-4);
}

#[test]
fn corrupt_model_json() {
    assert!(msg(GmmModel::from_json("{")).contains("cannot decode model JSON"));
    let (x, _) = mixture_data(100, 2, 2, 1, 3.0);
    let m = GaussianMixture::new(2).fit(x.view()).unwrap();
    let json = m.to_json().unwrap();
    let v2 = json.replace("\"format_version\": 1", "\"format_version\": 99");
    assert!(
        msg(GmmModel::from_json(&v2)).contains("format_version 99 was written by a newer gaussmix")
    );
    let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v["weights"] = serde_json::json!([0.9, 0.9]);
    assert!(msg(GmmModel::from_json(&v.to_string())).contains("sum to"));
    v["weights"] = serde_json::json!([1.0]);
    assert!(msg(GmmModel::from_json(&v.to_string())).contains("weights has 1 values"));
}

#[test]
fn hand_built_model_is_checked() {
    let e = msg(GmmModel::new(
        Array1::from(vec![1.0]),
        array![[0.0, 0.0]],
        Covariances::Full(array![[[1.0, 2.0], [2.0, 1.0]]]),
    ));
    assert!(e.contains("component 0"), "{e}");
}

/// A start whose first M-step puts one component on a single row with `reg_covar = 0`
/// (scikit-learn #18216's situation): an error by default, the start's own parameters
/// with `IllDefinedPolicy::KeepPrevious`.
#[test]
fn ill_defined_m_step_during_em_keeps_the_previous_parameters_on_request() {
    use gaussmix::IllDefinedPolicy;
    let x = array![[0.0], [1.0], [2.0], [3.0], [10.0]];
    let means = array![[1.5], [10.0]];
    let g = GaussianMixture::new(2)
        .covariance_type(CovarianceType::Spherical)
        .reg_covar(0.0)
        .max_iter(5)
        .weights_init(array![0.8, 0.2])
        .means_init(means.clone())
        .precisions_init(Covariances::Spherical(array![1.0, 1e6]));
    let m = msg(g.fit(x.view()));
    assert!(m.contains("ill-defined covariance for component 1"), "{m}");
    let model = g
        .clone()
        .ill_defined(IllDefinedPolicy::KeepPrevious)
        .fit(x.view())
        .unwrap();
    let info = model.info();
    assert!(!info.converged);
    assert_eq!(info.n_iter, 1);
    assert_eq!(info.lower_bounds.len(), 1);
    // the kept parameters are the start, and the lower bound is theirs
    assert_eq!(model.means(), &means);
    assert_eq!(
        model.covariances(),
        &Covariances::Spherical(array![1.0, 1e-6])
    );
    let score = model.score(x.view()).unwrap();
    assert!(
        (info.lower_bound - score).abs() < 1e-12,
        "{} vs {score}",
        info.lower_bound
    );
    // a failure of the initialisation's own M-step stays an error: nothing to keep
    let collapsed = Array2::from_shape_fn((10, 5), |(i, _)| if i < 5 { 1.0 } else { 0.0 });
    let m = msg(GaussianMixture::new(2)
        .covariance_type(CovarianceType::Full)
        .reg_covar(0.0)
        .ill_defined(IllDefinedPolicy::KeepPrevious)
        .fit(collapsed.view()));
    assert!(m.contains("ill-defined covariance"), "{m}");
}
