//! A row of integer weight `m` is `m` copies of it: a weighted fit equals the fit of the
//! repeated rows, wherever the rows sit, for every initialisation that picks rows by a
//! cumulative-weight draw (k-means, k-means++) — not only from given parameters.

mod common;

use common::mixture_data;
use gaussmix::{CovarianceType, Covariances, GaussianMixture, GmmModel, InitMethod};
use ndarray::{Array1, Array2, Axis};

/// Weights 0..=3 (zeros included), the repeated rows in input order, and the weighted
/// rows shuffled (as scikit-learn's `check_sample_weight_equivalence` does).
fn weighted_and_repeated(seed: u64) -> (Array2<f64>, Array1<f64>, Array2<f64>) {
    let (x, _) = mixture_data(240, 3, 3, seed, 4.0);
    let n = x.nrows();
    let w: Vec<usize> = (0..n).map(|i| (i * 7 + i / 5) % 4).collect();
    let mut rows = Vec::new();
    for (i, &m) in w.iter().enumerate() {
        for _ in 0..m {
            rows.push(i);
        }
    }
    let repeated = x.select(Axis(0), &rows);
    // a fixed permutation of the weighted rows (multiplicative step coprime with n)
    let perm: Vec<usize> = (0..n).map(|i| (i * 97 + 13) % n).collect();
    let shuffled = x.select(Axis(0), &perm);
    let sw = Array1::from_iter(perm.iter().map(|&i| w[i] as f64));
    (shuffled, sw, repeated)
}

fn close(a: &[f64], b: &[f64], what: &str) {
    assert_eq!(a.len(), b.len());
    for (u, v) in a.iter().zip(b) {
        assert!(
            (u - v).abs() <= 1e-9 * v.abs().max(1e-3),
            "{what}: {u} vs {v} (weighted vs repeated)"
        );
    }
}

fn flat(c: &Covariances) -> Vec<f64> {
    match c {
        Covariances::Full(a) => a.iter().copied().collect(),
        Covariances::Tied(a) | Covariances::Diag(a) => a.iter().copied().collect(),
        Covariances::Spherical(a) => a.to_vec(),
    }
}

fn same(a: &GmmModel, b: &GmmModel) {
    close(
        a.weights().as_slice().unwrap(),
        b.weights().as_slice().unwrap(),
        "weights",
    );
    close(
        &a.means().iter().copied().collect::<Vec<_>>(),
        &b.means().iter().copied().collect::<Vec<_>>(),
        "means",
    );
    close(
        &flat(a.covariances()),
        &flat(b.covariances()),
        "covariances",
    );
    assert_eq!(a.info().n_iter, b.info().n_iter);
}

#[test]
fn weighted_rows_are_repeated_rows_under_kmeans_and_kmeans_plusplus() {
    for seed in 0..4 {
        let (xw, sw, xr) = weighted_and_repeated(seed);
        for init in [InitMethod::KMeans, InitMethod::KMeansPlusPlus] {
            for ct in [CovarianceType::Full, CovarianceType::Diag] {
                let g = GaussianMixture::new(3)
                    .covariance_type(ct)
                    .init(init)
                    .n_init(2)
                    .seed(seed)
                    .tol(1e-10)
                    .max_iter(500);
                let a = g.fit_weighted(xw.view(), sw.view()).unwrap();
                let b = g.fit(xr.view()).unwrap();
                same(&a, &b);
            }
        }
    }
}

#[test]
fn random_from_data_draws_distinct_rows_of_positive_weight() {
    let (xw, sw, _) = weighted_and_repeated(1);
    let k = 6;
    for seed in 0..20 {
        let m = GaussianMixture::new(k)
            .init(InitMethod::RandomFromData)
            .max_iter(0)
            .seed(seed)
            .fit_weighted(xw.view(), sw.view())
            .unwrap();
        // each initial mean is one row of positive weight, no two the same
        let mut picked = Vec::new();
        for mu in m.means().outer_iter() {
            let r = (0..xw.nrows())
                .find(|&i| xw.row(i) == mu)
                .expect("an initial mean is a data row");
            assert!(sw[r] > 0.0, "row {r} has weight 0");
            assert!(!picked.contains(&r));
            picked.push(r);
        }
    }
}
