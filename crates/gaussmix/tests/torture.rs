//! Numerical torture tests: inputs at the edges of floating point and of the model.
//!
//! Every test states its expected outcome. The outcome is one of two kinds:
//!
//! * **fits**: every parameter finite, weights sum to 1, covariances positive definite,
//!   `score_samples` / `predict_proba` finite on the training data, and the JSON written
//!   by `to_json` round-trips exactly and holds no `NaN`, infinity or `null` number
//!   (checked by [`assert_sane`]); plus, where the data have structure, the structure found;
//! * **errors**: a [`GmmError`] variant whose message names the problem.
//!
//! Never a NaN model and never a panic. Fits run through every entry point where it
//! matters: in memory (`fit`), weighted (`fit_weighted`) and streamed (`fit_stream` over
//! an [`ArraySource`]).

use gaussmix::{
    ArraySource, CovarianceType, Covariances, Float, GaussianMixture, GmmError, GmmModel, ModelFile,
};
use ndarray::{s, Array1, Array2, Array3, ArrayView2};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

const ALL: [CovarianceType; 4] = CovarianceType::SKLEARN;

/// The three ways to fit that these tests drive.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Path {
    /// `fit` on the array.
    Fit,
    /// `fit_weighted` with weights 1, 2, 3, 1, 2, 3, …
    Weighted,
    /// `fit_stream` over an `ArraySource` in chunks of 97 rows.
    Stream,
}
const PATHS: [Path; 3] = [Path::Fit, Path::Weighted, Path::Stream];

fn path_weights(n: usize) -> Array1<f64> {
    Array1::from_shape_fn(n, |i| 1.0 + (i % 3) as f64)
}

/// Fits `x` with `gm` along `path`.
fn fit_path(gm: &GaussianMixture, x: ArrayView2<f64>, path: Path) -> Result<GmmModel, GmmError> {
    match path {
        Path::Fit => gm.fit(x),
        Path::Weighted => gm.fit_weighted(x, path_weights(x.nrows()).view()),
        Path::Stream => {
            let mut src = ArraySource::new(x, None, 97);
            gm.fit_stream(&mut src, 100_000, &mut |_| {})
        }
    }
}

/// Fits f32 data (no streaming path: sources hold f64).
fn fit_path32(gm: &GaussianMixture, x: ArrayView2<f32>, path: Path) -> Result<GmmModel, GmmError> {
    match path {
        Path::Fit | Path::Stream => gm.fit(x),
        Path::Weighted => gm.fit_weighted(x, path_weights(x.nrows()).view()),
    }
}

/// Dense covariance matrix of component `c`.
fn cov_matrix(m: &GmmModel, c: usize) -> Array2<f64> {
    let d = m.n_features();
    match m.covariances() {
        Covariances::Full(a) => a.slice(s![c, .., ..]).to_owned(),
        Covariances::Tied(a) => a.clone(),
        Covariances::Diag(a) => Array2::from_diag(&a.row(c)),
        Covariances::Spherical(a) => Array2::eye(d) * a[c],
    }
}

/// Whether a symmetric matrix is positive definite (a Cholesky factorisation with
/// positive pivots exists).
fn positive_definite(a: &Array2<f64>) -> bool {
    let d = a.nrows();
    let mut l = a.clone();
    for j in 0..d {
        let mut v = l[[j, j]];
        for k in 0..j {
            v -= l[[j, k]] * l[[j, k]];
        }
        if !(v > 0.0 && v.is_finite()) {
            return false;
        }
        let p = v.sqrt();
        l[[j, j]] = p;
        for i in j + 1..d {
            let mut w = l[[i, j]];
            for k in 0..j {
                w -= l[[i, k]] * l[[j, k]];
            }
            l[[i, j]] = w / p;
        }
    }
    true
}

/// Panics unless the JSON holds only finite numbers (no `null`, no `NaN`/`Infinity`
/// tokens, which would not even parse).
fn assert_json_clean(json: &str) {
    let v: serde_json::Value = serde_json::from_str(json).expect("model JSON parses");
    fn walk(v: &serde_json::Value, at: &str) {
        match v {
            serde_json::Value::Null => panic!("null in model JSON at {at}"),
            serde_json::Value::Number(n) => {
                assert!(n.as_f64().is_some_and(f64::is_finite), "{n} at {at}")
            }
            serde_json::Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    walk(x, &format!("{at}[{i}]"));
                }
            }
            serde_json::Value::Object(o) => {
                for (k, x) in o {
                    walk(x, &format!("{at}.{k}"));
                }
            }
            _ => {}
        }
    }
    walk(&v, "$");
}

/// The "fits" outcome: finite parameters, weights summing to 1, positive definite
/// covariances, finite scores and responsibilities on `x`, clean exact JSON round trip.
fn assert_sane<T: Float>(m: &GmmModel, x: ArrayView2<T>, what: &str) {
    let k = m.n_components();
    assert!(
        m.weights().iter().all(|w| w.is_finite() && *w >= 0.0),
        "{what}: weights {}",
        m.weights()
    );
    assert!(
        (m.weights().sum() - 1.0).abs() < 1e-12,
        "{what}: weights sum to {}",
        m.weights().sum()
    );
    assert!(m.means().iter().all(|v| v.is_finite()), "{what}: means");
    for c in 0..k {
        let cv = cov_matrix(m, c);
        assert!(cv.iter().all(|v| v.is_finite()), "{what}: covariance {c}");
        assert!(positive_definite(&cv), "{what}: covariance {c} not PD");
    }
    let pc: Vec<f64> = match m.precisions_cholesky() {
        Covariances::Full(a) => a.iter().copied().collect(),
        Covariances::Tied(a) | Covariances::Diag(a) => a.iter().copied().collect(),
        Covariances::Spherical(a) => a.to_vec(),
    };
    assert!(
        pc.iter().all(|v| v.is_finite()),
        "{what}: precision factors"
    );
    assert!(
        m.info().lower_bounds.iter().all(|v| v.is_finite()),
        "{what}: lower bounds {:?}",
        m.info().lower_bounds
    );
    let ss = m.score_samples(x).expect("score_samples");
    assert!(
        ss.iter().all(|v| v.is_finite()),
        "{what}: score_samples not finite"
    );
    let pp = m.predict_proba(x).expect("predict_proba");
    for row in pp.rows() {
        assert!(
            row.iter().all(|v| v.is_finite() && (0.0..=1.0).contains(v)),
            "{what}: proba {row}"
        );
        assert!(
            (row.sum() - 1.0).abs() < 1e-9,
            "{what}: proba row sums to {}",
            row.sum()
        );
    }
    let json = m.to_json().expect("to_json");
    assert_json_clean(&json);
    let back = GmmModel::from_json(&json).expect("from_json");
    assert_eq!(&back, m, "{what}: JSON round trip");
    let file: ModelFile = serde_json::from_str(&json).expect("ModelFile");
    assert_eq!(
        &file.into_model().expect("into_model"),
        m,
        "{what}: ModelFile"
    );
}

/// Two unit-variance clusters centred at 0 and 10 in every coordinate; label i % 2.
fn two_clusters(n: usize, d: usize, seed: u64) -> (Array2<f64>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = Array2::from_shape_fn((n, d), |(i, _)| {
        let z: f64 = StandardNormal.sample(&mut rng);
        10.0 * (i % 2) as f64 + z
    });
    (x, (0..n).map(|i| i % 2).collect())
}

/// Whether two labellings are the same partition (equal up to renaming).
fn same_partition(a: &[usize], b: &[usize]) -> bool {
    let mut map = std::collections::HashMap::new();
    let mut inv = std::collections::HashMap::new();
    a.iter()
        .zip(b)
        .all(|(x, y)| *map.entry(*x).or_insert(*y) == *y && *inv.entry(*y).or_insert(*x) == *x)
}

/// Identity precisions in the shape of a covariance type.
fn identity_precisions(ct: CovarianceType, k: usize, d: usize) -> Covariances {
    match ct {
        CovarianceType::Full => Covariances::Full(Array3::from_shape_fn((k, d, d), |(_, i, j)| {
            f64::from(u8::from(i == j))
        })),
        CovarianceType::Tied => Covariances::Tied(Array2::eye(d)),
        CovarianceType::Diag => Covariances::Diag(Array2::ones((k, d))),
        CovarianceType::Spherical => Covariances::Spherical(Array1::ones(k)),
        other => unreachable!("{other} is not one of scikit-learn's types"),
    }
}

/// Component means sorted by their first coordinate.
fn sorted_means(m: &GmmModel) -> Vec<Vec<f64>> {
    let mut v: Vec<Vec<f64>> = m.means().rows().into_iter().map(|r| r.to_vec()).collect();
    v.sort_by(|a, b| a[0].total_cmp(&b[0]));
    v
}

// ---------------------------------------------------------------------------------------
// scale 1e-150 and 1e150

/// Data scaled by 1e150 (two clusters 10·1e150 apart, unit·1e150 spread), f64.
/// Expected: fits, and the clustering equals that of the unscaled data for every
/// covariance type and path (reg_covar = 1e-6 is negligible next to variances of 1e300;
/// squared distances ~1e302 stay below the f64 maximum).
#[test]
fn scaled_up_1e150_f64_keeps_the_clustering() {
    let (x, truth) = two_clusters(400, 2, 1);
    let xs = &x * 1e150;
    for ct in ALL {
        for path in PATHS {
            let gm = GaussianMixture::new(2).covariance_type(ct).seed(3);
            let m = fit_path(&gm, xs.view(), path).unwrap();
            let what = format!("{ct} {path:?}");
            assert_sane(&m, xs.view(), &what);
            let labels = m.predict(xs.view()).unwrap().to_vec();
            assert!(same_partition(&labels, &truth), "{what}");
            for (mu, want) in sorted_means(&m).iter().zip([0.0, 10.0]) {
                for v in mu {
                    assert!((v / 1e150 - want).abs() < 0.3, "{what}: mean {v:e}");
                }
            }
        }
    }
}

/// Data scaled by 1e-150, f64. reg_covar is absolute, as in scikit-learn: 1e-6 swamps
/// variances of ~1e-300, so with the default every component has covariance reg_covar
/// and density flat over the data: expected outcome **one blurred cluster** — a finite
/// model whose two component means coincide (to 1e-6 of the data scale) at the overall
/// (weighted) mean and whose variances equal reg_covar. With reg_covar scaled with the
/// data (1e-6 · 1e-300 = 1e-306) the clustering equals that of the unscaled data.
#[test]
fn scaled_down_1e_minus150_f64_blurs_with_absolute_reg_covar_and_recovers_with_scaled_reg() {
    let (x, truth) = two_clusters(400, 2, 2);
    let xs = &x * 1e-150;
    for ct in ALL {
        for path in PATHS {
            let what = format!("{ct} {path:?}");
            let m = fit_path(
                &GaussianMixture::new(2).covariance_type(ct).seed(3),
                xs.view(),
                path,
            )
            .unwrap();
            assert_sane(&m, xs.view(), &what);
            let mu = m.means();
            for j in 0..2 {
                assert!(
                    ((mu[[0, j]] - mu[[1, j]]) / 1e-150).abs() < 1e-6,
                    "{what}: means {mu:e} should coincide"
                );
            }
            for c in 0..2 {
                let cv = cov_matrix(&m, c);
                assert!((cv[[0, 0]] / 1e-6 - 1.0).abs() < 1e-9, "{what}: {cv:e}");
            }
            let m = fit_path(
                &GaussianMixture::new(2)
                    .covariance_type(ct)
                    .seed(3)
                    .reg_covar(1e-306),
                xs.view(),
                path,
            )
            .unwrap();
            assert_sane(&m, xs.view(), &what);
            let labels = m.predict(xs.view()).unwrap().to_vec();
            assert!(
                same_partition(&labels, &truth),
                "{what} with scaled reg_covar"
            );
        }
    }
}

/// f32 cannot hold 1e±150; its analogue is 1e±35 (near f32's range ends, far beyond
/// its normal precision needs). Expected as for f64: at 1e35 the clustering equals the
/// unscaled one; at 1e-35 the default (absolute) reg_covar blurs it into coinciding
/// components and reg_covar = 1e-76 recovers it.
#[test]
fn scaled_f32_1e35_and_1e_minus35() {
    let (x, truth) = two_clusters(400, 2, 3);
    for (scale, reg, blurred) in [
        (1e35f32, 1e-6, false),
        (1e-35, 1e-6, true),
        (1e-35, 1e-76, false),
    ] {
        let xs = x.mapv(|v| v as f32 * scale);
        for ct in ALL {
            for path in [Path::Fit, Path::Weighted] {
                let what = format!("{scale:e} reg {reg:e} {ct} {path:?}");
                let gm = GaussianMixture::new(2)
                    .covariance_type(ct)
                    .seed(3)
                    .reg_covar(reg);
                let m = fit_path32(&gm, xs.view(), path).unwrap();
                assert_sane(&m, xs.view(), &what);
                let labels = m.predict(xs.view()).unwrap().to_vec();
                if blurred {
                    let mu = m.means();
                    assert!(
                        ((mu[[0, 0]] - mu[[1, 0]]) / scale as f64).abs() < 1e-6,
                        "{what}"
                    );
                } else {
                    assert!(same_partition(&labels, &truth), "{what}");
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// offset 1e9

/// Two unit-scale clusters (0 and 10, unit variance, 200 rows each) offset by 1e9, f64.
/// Expected: fits; means recovered to 0.3 (a few standard errors of the data's unit
/// scale, 1e-10 relative to the offset), variances within 30 % of 1, clustering exact.
/// Moments are taken about shifted means, so nothing is lost to cancellation.
#[test]
fn offset_1e9_f64_recovers_unit_scale_structure() {
    let (x, truth) = two_clusters(400, 2, 4);
    let xo = &x + 1e9;
    for ct in ALL {
        for path in PATHS {
            let what = format!("{ct} {path:?}");
            let m = fit_path(
                &GaussianMixture::new(2).covariance_type(ct).seed(1),
                xo.view(),
                path,
            )
            .unwrap();
            assert_sane(&m, xo.view(), &what);
            assert!(
                same_partition(&m.predict(xo.view()).unwrap().to_vec(), &truth),
                "{what}"
            );
            for (mu, want) in sorted_means(&m).iter().zip([0.0, 10.0]) {
                for v in mu {
                    assert!((v - 1e9 - want).abs() < 0.3, "{what}: mean {v}");
                }
            }
            for c in 0..2 {
                let cv = cov_matrix(&m, c);
                for j in 0..2 {
                    assert!(
                        (cv[[j, j]] - 1.0).abs() < 0.3,
                        "{what}: variance {}",
                        cv[[j, j]]
                    );
                }
            }
        }
    }
}

/// f32 has a spacing of 64 at 1e9, so clusters 10 apart offset by 1e9 collapse onto a
/// few grid values: the unit-scale structure is gone from the input itself. Expected:
/// a finite model of the f32 values exactly as given: every component holding weight
/// (> 1e-6) has its mean within 64 of 1e9 + 5; a component left without rows (fewer
/// distinct values than K) keeps, as in scikit-learn, a finite mean (0/(0 + 10·eps) = 0)
/// and ~0 weight. At offset 1e4 (spacing 0.001) the structure is recovered as with f64.
#[test]
fn offset_f32_1e9_is_quantised_but_finite_and_1e4_recovers() {
    let (x, truth) = two_clusters(400, 2, 5);
    for ct in ALL {
        for path in [Path::Fit, Path::Weighted] {
            let what = format!("{ct} {path:?}");
            let x9 = x.mapv(|v| (v + 1e9) as f32);
            let m = fit_path32(
                &GaussianMixture::new(2).covariance_type(ct).seed(1),
                x9.view(),
                path,
            )
            .unwrap();
            assert_sane(&m, x9.view(), &what);
            for c in (0..2).filter(|&c| m.weights()[c] > 1e-6) {
                for v in m.means().row(c) {
                    assert!((v - 1e9 - 5.0).abs() <= 64.0, "{what}: mean {v}");
                }
            }
            let x4 = x.mapv(|v| (v + 1e4) as f32);
            let m = fit_path32(
                &GaussianMixture::new(2).covariance_type(ct).seed(1),
                x4.view(),
                path,
            )
            .unwrap();
            assert_sane(&m, x4.view(), &what);
            assert!(
                same_partition(&m.predict(x4.view()).unwrap().to_vec(), &truth),
                "{what}"
            );
            for (mu, want) in sorted_means(&m).iter().zip([0.0, 10.0]) {
                for v in mu {
                    assert!((v - 1e4 - want).abs() < 0.3, "{what}: mean {v}");
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// constant column, duplicates, more components than distinct points

/// Three columns, the middle one constant 7. Expected with the default reg_covar: fits;
/// the constant column's variance is reg_covar (to 1e-6 relative) for full, tied and
/// diag, the means' middle coordinate is 7 (to 1e-12), and the two clusters of the
/// other columns are found. With reg_covar = 0 it either fits (the computed variance
/// may be a rounding-level positive number) or fails with IllDefinedCovariance whose
/// message names the component and suggests raising reg_covar — never NaN or a panic.
#[test]
fn constant_column() {
    let (x2, truth) = two_clusters(300, 2, 6);
    let x = Array2::from_shape_fn((300, 3), |(i, j)| match j {
        0 => x2[[i, 0]],
        1 => 7.0,
        _ => x2[[i, 1]],
    });
    for ct in ALL {
        for path in PATHS {
            let what = format!("{ct} {path:?}");
            let m = fit_path(&GaussianMixture::new(2).covariance_type(ct), x.view(), path).unwrap();
            assert_sane(&m, x.view(), &what);
            assert!(
                same_partition(&m.predict(x.view()).unwrap().to_vec(), &truth),
                "{what}"
            );
            for c in 0..2 {
                assert!((m.means()[[c, 1]] - 7.0).abs() < 1e-12, "{what}");
                if ct != CovarianceType::Spherical {
                    let v = cov_matrix(&m, c)[[1, 1]];
                    assert!((v / 1e-6 - 1.0).abs() < 1e-6, "{what}: variance {v:e}");
                }
            }
            match fit_path(
                &GaussianMixture::new(2).covariance_type(ct).reg_covar(0.0),
                x.view(),
                path,
            ) {
                Ok(m) => assert_sane(&m, x.view(), &format!("{what} reg 0")),
                Err(e @ GmmError::IllDefinedCovariance { .. }) => {
                    let msg = e.to_string();
                    assert!(
                        msg.contains("component") && msg.contains("raising reg_covar"),
                        "{msg}"
                    );
                }
                Err(e) => panic!("{what} reg 0: unexpected error {e}"),
            }
        }
    }
}

/// Three distinct points, each repeated 50 times, K = 3. Expected: fits; each component
/// sits exactly on one point (means to 1e-9), its covariance is reg_covar (variance
/// 1e-6 to 1e-6 relative), and unweighted weights are 1/3 each.
#[test]
fn exact_duplicate_rows() {
    let pts = [[1.0, 2.0], [5.0, -3.0], [-4.0, 8.0]];
    let x = Array2::from_shape_fn((150, 2), |(i, j)| pts[i % 3][j]);
    for ct in ALL {
        for path in PATHS {
            let what = format!("{ct} {path:?}");
            let m = fit_path(&GaussianMixture::new(3).covariance_type(ct), x.view(), path).unwrap();
            assert_sane(&m, x.view(), &what);
            let mut got = sorted_means(&m);
            let mut want: Vec<Vec<f64>> = pts.iter().map(|p| p.to_vec()).collect();
            want.sort_by(|a, b| a[0].total_cmp(&b[0]));
            got.iter_mut()
                .flatten()
                .zip(want.iter().flatten())
                .for_each(|(g, w)| {
                    assert!((*g - w).abs() < 1e-9, "{what}: mean {g} vs {w}");
                });
            for c in 0..3 {
                let v = cov_matrix(&m, c)[[0, 0]];
                assert!((v / 1e-6 - 1.0).abs() < 1e-6, "{what}: variance {v:e}");
                if path != Path::Weighted {
                    assert!((m.weights()[c] - 1.0 / 3.0).abs() < 1e-12, "{what}");
                }
            }
        }
    }
}

/// Two distinct points (30 copies each) and K = 4 components: more components than
/// distinct points. Expected (the library's choice): it fits, with a finite model in
/// which each distinct point is the mean of a component holding at least 0.49 of the
/// weight between them, and the surplus components keep finite means and covariances
/// (any weight). No error: the data have 60 samples ≥ K.
#[test]
fn more_components_than_distinct_points() {
    let x = Array2::from_shape_fn((60, 2), |(i, j)| {
        if i % 2 == 0 {
            [1.0, 2.0][j]
        } else {
            [6.0, -1.0][j]
        }
    });
    for ct in ALL {
        for path in PATHS {
            let what = format!("{ct} {path:?}");
            let m = fit_path(&GaussianMixture::new(4).covariance_type(ct), x.view(), path).unwrap();
            assert_sane(&m, x.view(), &what);
            for p in [[1.0, 2.0], [6.0, -1.0]] {
                let held: f64 = (0..4)
                    .filter(|&c| {
                        (m.means()[[c, 0]] - p[0]).abs() < 1e-6
                            && (m.means()[[c, 1]] - p[1]).abs() < 1e-6
                    })
                    .map(|c| m.weights()[c])
                    .sum();
                assert!(
                    held > 0.49,
                    "{what}: point {p:?} holds {held}; means {}",
                    m.means()
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// shapes: D = 1, D = 512, N = 1, K = 1

/// D = 1, two clusters, K = 2, every type (tied and full coincide with one feature, as
/// do diag and spherical). Expected: fits, means 0 and 10 to 0.3, clustering exact.
#[test]
fn one_feature_all_types() {
    let (x, truth) = two_clusters(400, 1, 7);
    for ct in ALL {
        for path in PATHS {
            let what = format!("{ct} {path:?}");
            let m = fit_path(&GaussianMixture::new(2).covariance_type(ct), x.view(), path).unwrap();
            assert_sane(&m, x.view(), &what);
            assert!(
                same_partition(&m.predict(x.view()).unwrap().to_vec(), &truth),
                "{what}"
            );
            for (mu, want) in sorted_means(&m).iter().zip([0.0, 10.0]) {
                assert!((mu[0] - want).abs() < 0.3, "{what}");
            }
        }
    }
}

/// D = 512, N = 2000, K = 2 (clusters 3 apart in every coordinate), diag and full.
/// Expected: fits within a few seconds in the test profile; clustering exact; the
/// full covariances (estimated from 1000 rows each) positive definite.
#[test]
fn five_hundred_twelve_features() {
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let (n, d) = (2000, 512);
    let x = Array2::from_shape_fn((n, d), |(i, _)| {
        let z: f64 = StandardNormal.sample(&mut rng);
        3.0 * (i % 2) as f64 + z
    });
    let truth: Vec<usize> = (0..n).map(|i| i % 2).collect();
    for ct in [CovarianceType::Diag, CovarianceType::Full] {
        let t = std::time::Instant::now();
        let m = GaussianMixture::new(2)
            .covariance_type(ct)
            .fit(x.view())
            .unwrap();
        assert_sane(&m, x.view(), &format!("{ct}"));
        assert!(
            same_partition(&m.predict(x.view()).unwrap().to_vec(), &truth),
            "{ct}"
        );
        eprintln!(
            "D=512 {ct}: {:?}, {} iterations",
            t.elapsed(),
            m.info().n_iter
        );
    }
    let m = GaussianMixture::new(2)
        .covariance_type(CovarianceType::Diag)
        .fit_weighted(x.view(), path_weights(n).view())
        .unwrap();
    assert_sane(&m, x.view(), "diag weighted");
    let mut src = ArraySource::new(x.view(), None, 500);
    let m = GaussianMixture::new(2)
        .covariance_type(CovarianceType::Diag)
        .fit_stream(&mut src, 100_000, &mut |_| {})
        .unwrap();
    assert_sane(&m, x.view(), "diag stream");
}

/// N = 1. Expected: with K = 1 it fits every type: the mean is the row (to 1e-12) and
/// the variances are reg_covar (to 1e-9 relative); with K = 2 it fails with
/// TooFewSamples, whose message says "1 samples cannot be fitted with 2 components".
/// Weighted: three rows of which only one has positive weight behave the same.
#[test]
fn one_sample() {
    let x = ndarray::array![[3.0, -4.0]];
    for ct in ALL {
        for path in PATHS {
            let what = format!("{ct} {path:?}");
            let m = fit_path(&GaussianMixture::new(1).covariance_type(ct), x.view(), path).unwrap();
            assert_sane(&m, x.view(), &what);
            assert!(
                (m.means()[[0, 0]] - 3.0).abs() < 1e-12 && (m.means()[[0, 1]] + 4.0).abs() < 1e-12
            );
            let cv = cov_matrix(&m, 0);
            assert!((cv[[1, 1]] / 1e-6 - 1.0).abs() < 1e-9, "{what}: {cv}");
            let e =
                fit_path(&GaussianMixture::new(2).covariance_type(ct), x.view(), path).unwrap_err();
            assert!(
                matches!(
                    e,
                    GmmError::TooFewSamples {
                        n_samples: 1,
                        n_components: 2
                    }
                ),
                "{e}"
            );
            assert!(
                e.to_string()
                    .contains("1 samples cannot be fitted with 2 components"),
                "{e}"
            );
        }
        let x3 = ndarray::array![[0.0, 0.0], [3.0, -4.0], [9.0, 9.0]];
        let w = ndarray::array![0.0, 2.5, 0.0];
        let e = GaussianMixture::new(2)
            .covariance_type(ct)
            .fit_weighted(x3.view(), w.view())
            .unwrap_err();
        assert!(
            matches!(e, GmmError::TooFewSamples { n_samples: 1, .. }),
            "{e}"
        );
        let m = GaussianMixture::new(1)
            .covariance_type(ct)
            .fit_weighted(x3.view(), w.view())
            .unwrap();
        assert_sane(&m, x3.view(), &format!("{ct} weighted one positive"));
        assert!((m.means()[[0, 0]] - 3.0).abs() < 1e-12);
        let mut src = ArraySource::new(x3.view(), Some(w.view()), 2);
        let e = GaussianMixture::new(2)
            .covariance_type(ct)
            .fit_stream(&mut src, 100, &mut |_| {})
            .unwrap_err();
        assert!(
            matches!(e, GmmError::TooFewSamples { n_samples: 1, .. }),
            "{e}"
        );
    }
}

/// K = 1 is the maximum-likelihood Gaussian. Expected: fits in one EM step, every type
/// and path: the mean is the (weighted) sample mean to 1e-12 relative, the covariance
/// the biased sample covariance plus reg_covar to 1e-10 relative (diag: its diagonal;
/// spherical: the mean of that; tied: the same as full).
#[test]
fn one_component_is_the_ml_gaussian() {
    let (x, _) = two_clusters(500, 3, 9);
    for ct in ALL {
        for path in PATHS {
            let what = format!("{ct} {path:?}");
            let m = fit_path(&GaussianMixture::new(1).covariance_type(ct), x.view(), path).unwrap();
            assert_sane(&m, x.view(), &what);
            let w = if path == Path::Weighted {
                path_weights(500)
            } else {
                Array1::ones(500)
            };
            let ws = w.sum();
            let mean: Vec<f64> = (0..3).map(|j| x.column(j).dot(&w) / ws).collect();
            let mut cov = Array2::<f64>::zeros((3, 3));
            for (r, wi) in x.rows().into_iter().zip(w.iter()) {
                for a in 0..3 {
                    for b in 0..3 {
                        cov[[a, b]] += wi * (r[a] - mean[a]) * (r[b] - mean[b]) / ws;
                    }
                }
            }
            for j in 0..3 {
                assert!(
                    (m.means()[[0, j]] - mean[j]).abs() < 1e-12 * mean[j].abs().max(1.0),
                    "{what}"
                );
                cov[[j, j]] += 1e-6;
            }
            let got = cov_matrix(&m, 0);
            let want = match ct {
                CovarianceType::Full | CovarianceType::Tied => cov.clone(),
                CovarianceType::Diag => Array2::from_diag(&cov.diag()),
                CovarianceType::Spherical => Array2::eye(3) * (cov.diag().sum() / 3.0),
                other => unreachable!("{other}"),
            };
            for (g, w) in got.iter().zip(want.iter()) {
                assert!(
                    (g - w).abs() < 1e-10 * w.abs().max(1.0),
                    "{what}: {g} vs {w}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// a component that empties mid-fit

/// Initial parameters with component 1 far from every row (at 1e6, and at 1e200 where
/// squared distances overflow to infinity): its responsibility sum is 0 in the first
/// E-step. Expected (scikit-learn's rule, N_k + 10·eps): fits; no NaN; the emptied
/// component keeps a finite mean and covariance reg_covar and a weight below 1e-12. At
/// 1e6 the other component is the ML Gaussian of the data (mean to 1e-9), and with
/// reg_covar = 0 the emptied component's zero covariance gives IllDefinedCovariance
/// naming component 1 (tied: the shared covariance is the data's, so it fits).
///
/// At 1e200 the outcome is a sane model or InvalidModel saying rows got zero density:
/// the kernels measure rows from one reference point, the mean of the component means
/// (5e199 here), so the near component sees every row at the same place, collapses in
/// the first M-step, and at the next E-step no component can resolve the rows (known
/// limitation, reported; it needs means ~1e16 data scales apart). Before the fix in
/// kernels::normalise this case gave NaN statistics (padding rows of a tile, −∞ under
/// every component, were summed as NaN) and a misleading "statistics overflowed" error.
#[test]
fn component_that_empties_mid_fit() {
    let (x, _) = two_clusters(300, 2, 10);
    let mean = [x.column(0).mean().unwrap(), x.column(1).mean().unwrap()];
    for far in [1e6, 1e200] {
        for ct in ALL {
            for path in PATHS {
                let what = format!("far {far:e} {ct} {path:?}");
                let gm = |reg: f64| {
                    GaussianMixture::new(2)
                        .covariance_type(ct)
                        .reg_covar(reg)
                        .weights_init(ndarray::array![0.5, 0.5])
                        .means_init(ndarray::array![[0.0, 0.0], [far, far]])
                        .precisions_init(identity_precisions(ct, 2, 2))
                };
                let r = fit_path(&gm(1e-6), x.view(), path);
                if far > 1e100 {
                    match r {
                        Ok(m) => {
                            assert_sane(&m, x.view(), &what);
                            assert!(m.weights()[1] < 1e-12, "{what}: {}", m.weights());
                        }
                        Err(e @ GmmError::InvalidModel { .. }) => {
                            assert!(e.to_string().contains("zero density"), "{what}: {e}")
                        }
                        Err(e) => panic!("{what}: {e}"),
                    }
                    continue;
                }
                let m = r.unwrap();
                assert_sane(&m, x.view(), &what);
                assert!(m.weights()[1] < 1e-12, "{what}: {}", m.weights());
                if path != Path::Weighted {
                    for (got, want) in m.means().row(0).iter().zip(mean) {
                        assert!((got - want).abs() < 1e-9, "{what}");
                    }
                }
                match fit_path(&gm(0.0), x.view(), path) {
                    Err(e @ GmmError::IllDefinedCovariance { component: 1, .. }) => {
                        assert!(e.to_string().contains("component 1"), "{e}")
                    }
                    // tied: the shared covariance stays that of the data
                    Ok(m) if ct == CovarianceType::Tied => assert_sane(&m, x.view(), &what),
                    other => panic!("{what} reg 0: {other:?}"),
                }
            }
        }
    }
}

/// The same through a warm start: a hand-built model whose component 1 sits at 1e6.
/// Expected as above: fits, finite, the emptied component's weight below 1e-12.
#[test]
fn warm_start_from_a_model_with_a_far_component() {
    let (x, _) = two_clusters(300, 2, 11);
    for ct in ALL {
        let cov = identity_precisions(ct, 2, 2);
        let start = GmmModel::new(
            ndarray::array![0.5, 0.5],
            ndarray::array![[0.0, 0.0], [1e6, 1e6]],
            cov,
        )
        .unwrap();
        let gm = GaussianMixture::new(2).covariance_type(ct);
        for w in [None, Some(path_weights(300))] {
            let m = gm
                .fit_warm(&start, x.view(), w.as_ref().map(|w| w.view()))
                .unwrap();
            assert_sane(&m, x.view(), &format!("{ct} warm"));
            assert!(m.weights()[1] < 1e-12);
        }
    }
}

// ---------------------------------------------------------------------------------------
// weights

/// All sample weights zero. Expected: InvalidWeights, "all sample weights are zero",
/// from the weighted and the streamed fit alike.
#[test]
fn all_zero_weights() {
    let (x, _) = two_clusters(100, 2, 12);
    let w = Array1::zeros(100);
    for ct in ALL {
        let gm = GaussianMixture::new(2).covariance_type(ct);
        let e = gm.fit_weighted(x.view(), w.view()).unwrap_err();
        assert!(matches!(e, GmmError::InvalidWeights { .. }), "{e}");
        assert!(e.to_string().contains("all sample weights are zero"), "{e}");
        let e = gm
            .fit_weighted(x.mapv(|v| v as f32).view(), w.view())
            .unwrap_err();
        assert!(e.to_string().contains("all sample weights are zero"), "{e}");
        let mut src = ArraySource::new(x.view(), Some(w.view()), 7);
        let e = gm.fit_stream(&mut src, 1000, &mut |_| {}).unwrap_err();
        assert!(matches!(e, GmmError::InvalidWeights { .. }), "{e}");
        assert!(e.to_string().contains("all sample weights are zero"), "{e}");
    }
}

/// All weights equal — to 3, to 1e-300, to the smallest subnormal 5e-324, to 1e300.
/// Weights are relative: expected, the model of the unweighted fit (means and
/// covariances to 1e-9 relative, the same labels), for the weighted and streamed fits.
#[test]
fn all_equal_weights_of_any_scale_are_the_unweighted_fit() {
    let (x, truth) = two_clusters(300, 2, 13);
    for ct in ALL {
        let gm = GaussianMixture::new(2).covariance_type(ct).seed(2);
        let plain = gm.fit(x.view()).unwrap();
        for v in [3.0, 1e-300, 5e-324, 1e300] {
            let w = Array1::from_elem(300, v);
            let what = format!("{ct} weights {v:e}");
            let mut src = ArraySource::new(x.view(), Some(w.view()), 64);
            for m in [
                gm.fit_weighted(x.view(), w.view()),
                gm.fit_stream(&mut src, 100_000, &mut |_| {}),
            ] {
                let m = m.unwrap_or_else(|e| panic!("{what}: {e}"));
                assert_sane(&m, x.view(), &what);
                assert!(
                    same_partition(&m.predict(x.view()).unwrap().to_vec(), &truth),
                    "{what}"
                );
                for (a, b) in sorted_means(&m)
                    .iter()
                    .flatten()
                    .zip(sorted_means(&plain).iter().flatten())
                {
                    assert!(
                        (a - b).abs() < 1e-9 * b.abs().max(1.0),
                        "{what}: {a} vs {b}"
                    );
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// subnormal inputs

/// Data made only of subnormal numbers (multiples of 1e-310), f64. Variances ~1e-620
/// underflow to 0 and reg_covar dominates: expected, a finite model (one blurred
/// cluster, as for 1e-150) whose means lie within the data range, variances reg_covar,
/// and whose JSON round-trips the subnormal means exactly.
#[test]
fn subnormal_data_f64() {
    let x = Array2::from_shape_fn((200, 2), |(i, j)| ((i * 7 + j) % 11) as f64 * 1e-310);
    for ct in ALL {
        for path in PATHS {
            let what = format!("{ct} {path:?}");
            let m = fit_path(&GaussianMixture::new(2).covariance_type(ct), x.view(), path).unwrap();
            assert_sane(&m, x.view(), &what);
            for v in m.means() {
                assert!((0.0..=10e-310).contains(v), "{what}: mean {v:e}");
            }
            let v = cov_matrix(&m, 0)[[0, 0]];
            assert!((v / 1e-6 - 1.0).abs() < 1e-9, "{what}");
        }
    }
}

/// Unit-scale clusters where a tenth of the entries are replaced by subnormal values
/// (±1e-310 in f64, ±1e-40 in f32) rather than 0. Expected: fits, and the model equals
/// (labels identical, means to 1e-12) the fit with those entries set to exactly 0.
#[test]
fn subnormal_entries_behave_like_zeros() {
    let (x, _) = two_clusters(400, 3, 14);
    let put = |v: f64| {
        let mut a = x.clone();
        for (i, e) in a.iter_mut().enumerate() {
            if i % 10 == 3 {
                *e = if i % 20 == 3 { v } else { -v };
            }
        }
        a
    };
    let (zero, sub) = (put(0.0), put(1e-310));
    for ct in ALL {
        for path in PATHS {
            let what = format!("{ct} {path:?}");
            let gm = GaussianMixture::new(2).covariance_type(ct);
            let a = fit_path(&gm, zero.view(), path).unwrap();
            let b = fit_path(&gm, sub.view(), path).unwrap();
            assert_sane(&b, sub.view(), &what);
            assert_eq!(
                a.predict(zero.view()).unwrap(),
                b.predict(sub.view()).unwrap(),
                "{what}"
            );
            for (u, v) in a.means().iter().zip(b.means().iter()) {
                assert!((u - v).abs() < 1e-12, "{what}");
            }
        }
        let (z32, s32) = (zero.mapv(|v| v as f32), put(1e-40).mapv(|v| v as f32));
        assert!(s32.iter().any(|v| v.is_subnormal()));
        for path in [Path::Fit, Path::Weighted] {
            let gm = GaussianMixture::new(2).covariance_type(ct);
            let a = fit_path32(&gm, z32.view(), path).unwrap();
            let b = fit_path32(&gm, s32.view(), path).unwrap();
            assert_sane(&b, s32.view(), &format!("{ct} f32 {path:?}"));
            assert_eq!(
                a.predict(z32.view()).unwrap(),
                b.predict(s32.view()).unwrap()
            );
        }
    }
}

/// f32 data made only of subnormal f32 values (multiples of 1e-41). Widened to f64
/// they are normal numbers ~1e-40; variances ~1e-80 are swamped by reg_covar. Expected:
/// a finite model, means within the data range.
#[test]
fn subnormal_data_f32() {
    let x = Array2::from_shape_fn((200, 2), |(i, j)| ((i * 7 + j) % 11) as f32 * 1e-41);
    assert!(x.iter().any(|v| v.is_subnormal()));
    for ct in ALL {
        for path in [Path::Fit, Path::Weighted] {
            let m =
                fit_path32(&GaussianMixture::new(2).covariance_type(ct), x.view(), path).unwrap();
            assert_sane(&m, x.view(), &format!("{ct} {path:?}"));
            for v in m.means() {
                assert!((0.0..=1.1e-40).contains(v), "{v:e}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// overflow and JSON

/// Data scaled by 1e200: squared deviations overflow f64. Expected: a clear error
/// suggesting to rescale the data — IllDefinedCovariance saying the statistics
/// overflowed, or InvalidModel saying rows got zero density (distances overflow) — or,
/// should a future version handle it, a sane model; never NaN or a panic.
#[test]
fn data_too_large_to_square_fails_clearly() {
    let (x, _) = two_clusters(200, 2, 15);
    let xs = &x * 1e200;
    for ct in ALL {
        for path in PATHS {
            match fit_path(
                &GaussianMixture::new(2).covariance_type(ct),
                xs.view(),
                path,
            ) {
                Ok(m) => assert_sane(&m, xs.view(), &format!("{ct} {path:?}")),
                Err(e) => {
                    let msg = e.to_string();
                    match e {
                        GmmError::IllDefinedCovariance { .. } => {
                            assert!(msg.contains("overflow"), "{msg}")
                        }
                        GmmError::InvalidModel { .. } => {
                            assert!(msg.contains("zero density"), "{msg}")
                        }
                        _ => panic!("{ct} {path:?}: {msg}"),
                    }
                    assert!(msg.contains("rescal"), "{msg}");
                }
            }
        }
    }
}

/// Initial parameters under which every row has zero density (both components 1e200
/// away: the first lower bound is −∞). Expected: InvalidModel, saying the parameters
/// give rows zero density and to start closer to the data. Before the fix in em.rs the
/// fit went on from meaningless statistics, and a model whose `lower_bounds` held −∞
/// would be written to JSON as `null`, which `from_json` then refused.
#[test]
fn a_start_of_zero_density_fails_clearly() {
    let (x, _) = two_clusters(200, 2, 16);
    for ct in ALL {
        let gm = GaussianMixture::new(2)
            .covariance_type(ct)
            .weights_init(ndarray::array![0.5, 0.5])
            .means_init(ndarray::array![[1e200, 1e200], [-1e200, 1e200]])
            .precisions_init(identity_precisions(ct, 2, 2));
        for path in PATHS {
            let e = fit_path(&gm, x.view(), path).unwrap_err();
            let msg = e.to_string();
            assert!(
                matches!(e, GmmError::InvalidModel { .. }),
                "{ct} {path:?}: {msg}"
            );
            assert!(
                msg.contains("zero density") && msg.contains("start closer"),
                "{msg}"
            );
        }
    }
}

/// `to_json` refuses a model with a non-finite value (it cannot be built by the public
/// constructors, so it is read from a file edited by hand): expected, `from_json`
/// refuses `NaN`/`Infinity` tokens and `null` numbers with a decode error, and a huge
/// finite value round-trips exactly.
#[test]
fn json_rejects_non_finite_numbers() {
    let (x, _) = two_clusters(100, 2, 17);
    let m = GaussianMixture::new(2).fit(x.view()).unwrap();
    let json = m.to_json().unwrap();
    let w0 = format!("{}", m.weights()[0]);
    for bad in ["NaN", "Infinity", "null", "1e999"] {
        let edited = json.replacen(&w0, bad, 1);
        assert_ne!(edited, json);
        let e = GmmModel::from_json(&edited).unwrap_err();
        assert!(
            matches!(e, GmmError::Decode { .. } | GmmError::InvalidModel { .. }),
            "{bad}: {e}"
        );
    }
    let big = GmmModel::new(
        ndarray::array![1.0],
        ndarray::array![[1.7e308, -1.7e308]],
        Covariances::Spherical(ndarray::array![1e300]),
    )
    .unwrap();
    let json = big.to_json().unwrap();
    assert_json_clean(&json);
    assert_eq!(GmmModel::from_json(&json).unwrap(), big);
}
