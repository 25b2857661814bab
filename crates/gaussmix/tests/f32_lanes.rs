//! f32 data run the full and tied E-step and the Gram products in float32 lanes (with
//! f64 statistics and parameters): the fitted model stays within 1e-4 relative of the
//! f64 fit of the same values from the same start, on data shaped like the benchmark's
//! reference problems P1–P4 (fewer rows), and it does not depend on the thread count.

mod common;

use common::mixture_data;
use gaussmix::{CovarianceType, Covariances, GaussianMixture, GmmModel, Parallelism};
use ndarray::Array2;

/// Largest difference over the largest magnitude of `b`.
fn scaled_diff<'a>(
    a: impl IntoIterator<Item = &'a f64>,
    b: impl IntoIterator<Item = &'a f64> + Clone,
) -> f64 {
    let scale = b.clone().into_iter().fold(0.0f64, |m, v| m.max(v.abs()));
    a.into_iter()
        .zip(b)
        .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()))
        / scale.max(1e-300)
}

fn covs(m: &GmmModel) -> Vec<f64> {
    match m.covariances() {
        Covariances::Full(a) => a.iter().copied().collect(),
        Covariances::Tied(a) | Covariances::Diag(a) => a.iter().copied().collect(),
        Covariances::Spherical(a) => a.to_vec(),
    }
}

/// The largest relative differences (weights, means, covariances, lower bound).
fn compare(a: &GmmModel, b: &GmmModel) -> [f64; 4] {
    let k = b.n_components();
    let mut mean_err = 0.0f64;
    for c in 0..k {
        // each mean against its own magnitude and the component's spread
        let sd = match b.covariances() {
            Covariances::Full(v) => (0..b.n_features())
                .map(|i| v[[c, i, i]])
                .fold(0.0f64, f64::max),
            _ => 1.0,
        }
        .sqrt();
        let (ma, mb) = (a.means().row(c), b.means().row(c));
        let scale = mb.iter().fold(sd, |m, v| m.max(v.abs()));
        for (x, y) in ma.iter().zip(mb.iter()) {
            mean_err = mean_err.max((x - y).abs() / scale);
        }
    }
    let (ia, ib) = (a.info(), b.info());
    [
        scaled_diff(a.weights().iter(), b.weights().iter()),
        mean_err,
        scaled_diff(covs(a).iter(), covs(b).iter()),
        (ia.lower_bound - ib.lower_bound).abs() / ib.lower_bound.abs(),
    ]
}

#[test]
fn f32_fits_agree_with_f64_on_the_reference_shapes() {
    // name, rows, D, K, covariance, spread of the means
    let cases = [
        ("P1", 20_000, 2, 3, CovarianceType::Full, 5.0),
        ("P2", 20_000, 16, 16, CovarianceType::Full, 1.5),
        ("P3", 20_000, 64, 32, CovarianceType::Full, 1.5),
        ("P4", 20_000, 8, 8, CovarianceType::Diag, 1.5),
        ("P2 tied", 20_000, 16, 16, CovarianceType::Tied, 1.5),
    ];
    for (name, n, d, k, ct, spread) in cases {
        let (x, _) = mixture_data(n, d, k, 11 + d as u64, spread);
        // far from the origin, as real features often are: the centring must hold
        let x32 = x.mapv(|v| (v + 50.0) as f32);
        let x64: Array2<f64> = x32.mapv(f64::from);
        let g = GaussianMixture::new(k)
            .covariance_type(ct)
            .tol(1e-9)
            .max_iter(60)
            .seed(5);
        let a = g.fit(x32.view()).unwrap();
        let b = g.fit(x64.view()).unwrap();
        let [w, m, c, lb] = compare(&a, &b);
        eprintln!(
            "{name}: n_iter f32 {} f64 {}; weights {w:.2e} means {m:.2e} covariances {c:.2e} lower bound {lb:.2e}",
            a.info().n_iter,
            b.info().n_iter
        );
        assert!(
            w < 1e-4 && m < 1e-4 && c < 1e-4,
            "{name}: {w:e} {m:e} {c:e}"
        );
        assert!(lb < 1e-6, "{name}: lower bound {lb:e}");
        // the thread count does not change the f32 fit
        let seq = g
            .clone()
            .parallelism(Parallelism::Sequential)
            .fit(x32.view())
            .unwrap();
        assert_eq!(seq, a, "{name}: sequential vs threads");
    }
}
