//! The real datasets reach scikit-learn's best mean log-likelihood with n_init = 10.

mod common;

use common::{data, read_r_csv};
use gaussmix::GaussianMixture;

#[test]
fn old_faithful_two_components() {
    let x = read_r_csv(&data("faithful.csv"));
    assert_eq!(x.dim(), (272, 2));
    let m = GaussianMixture::new(2)
        .n_init(10)
        .seed(0)
        .fit(x.view())
        .unwrap();
    let score = m.score(x.view()).unwrap();
    assert!(score >= -4.1554 - 5e-5, "{score}");
    assert!(m.info().converged);
}

#[test]
fn iris_three_components() {
    let x = read_r_csv(&data("iris.csv"));
    assert_eq!(x.dim(), (150, 4));
    let m = GaussianMixture::new(3)
        .n_init(10)
        .seed(0)
        .fit(x.view())
        .unwrap();
    let score = m.score(x.view()).unwrap();
    assert!(score >= -1.2015 - 5e-5, "{score}");
}
