//! SQUAREM-accelerated EM (`GaussianMixture::accelerate`) against plain EM from the same
//! start, on the bundled faithful and iris data for every family: the same fixed point
//! (log-likelihood and parameters), accepted bounds that never decrease, and fewer E-steps
//! where plain EM is slow.

mod common;

use gaussmix::{CovarianceType, GaussianMixture, InitScaling};
use ndarray::Array2;

fn fit(x: &Array2<f64>, k: usize, ct: CovarianceType, accelerate: bool) -> gaussmix::GmmModel {
    GaussianMixture::new(k)
        .covariance_type(ct)
        .init_scaling(InitScaling::Standardized)
        .seed(3)
        .tol(1e-13)
        .max_iter(20_000)
        .accelerate(accelerate)
        .fit(x.view())
        .unwrap()
}

fn datasets() -> Vec<(&'static str, Array2<f64>)> {
    ["faithful", "iris"]
        .into_iter()
        .map(|n| (n, common::read_r_csv(&common::data(&format!("{n}.csv")))))
        .collect()
}

#[test]
fn squarem_reaches_plain_ems_fixed_point_with_monotone_bounds() {
    let mut fewer = 0;
    let mut compared = 0;
    for (name, x) in datasets() {
        let n = x.nrows() as f64;
        for ct in CovarianceType::ALL {
            if ct.mclust_name() == "VVE" {
                // VVE's M-step iterates to a tolerance (a generalised EM step): its fixed
                // point can depend on the path; compared separately below
                continue;
            }
            let k = 3;
            let plain = fit(&x, k, ct, false);
            let fast = fit(&x, k, ct, true);
            let what = format!("{name} {} k={k}", ct.mclust_name());
            assert!(plain.info().converged && fast.info().converged, "{what}");
            // the same fixed point: the total log-likelihood and the parameters
            let lp = plain.score(x.view()).unwrap() * n;
            let lf = fast.score(x.view()).unwrap() * n;
            assert!((lp - lf).abs() < 1e-6, "{what}: ll {lp} vs {lf}");
            let scale = x.std_axis(ndarray::Axis(0), 0.0);
            for c in 0..k {
                for i in 0..x.ncols() {
                    // components in the same order (same start, same basin)
                    let (a, b) = (plain.means()[[c, i]], fast.means()[[c, i]]);
                    assert!((a - b).abs() < 1e-4 * scale[i], "{what}: mean {a} vs {b}");
                }
            }
            // accepted bounds never decrease (up to rounding: tol 1e-13 runs EM into the
            // last digits, where a plain step can lose a few ulps)
            let lb = &fast.info().lower_bounds;
            for w in lb.windows(2) {
                assert!(
                    w[1] >= w[0] - 1e-10 * w[0].abs(),
                    "{what}: {} then {}",
                    w[0],
                    w[1]
                );
            }
            // the reported bound is an exact log-likelihood: of the parameters before the
            // last M-step, which EM's last step can only raise
            assert!(lf / n >= fast.info().lower_bound - 1e-12, "{what}");
            compared += 1;
            if fast.info().n_iter < plain.info().n_iter {
                fewer += 1;
            }
        }
    }
    assert!(compared >= 24, "{compared}");
    // the point of it: far fewer E-steps on most cells
    assert!(
        fewer * 4 >= compared * 3,
        "fewer E-steps on only {fewer} of {compared}"
    );
}

#[test]
fn squarem_on_vve_never_ends_below_plain_em() {
    for (name, x) in datasets() {
        let n = x.nrows() as f64;
        let ct = CovarianceType::VVE;
        let plain = fit(&x, 3, ct, false);
        let fast = fit(&x, 3, ct, true);
        let lp = plain.score(x.view()).unwrap() * n;
        let lf = fast.score(x.view()).unwrap() * n;
        assert!(lf >= lp - 1e-2, "{name} VVE: {lf} below plain EM's {lp}");
    }
}

#[test]
fn squarem_counts_e_steps_and_stops_at_max_iter() {
    let (_, x) = datasets().remove(1);
    let m = GaussianMixture::new(3)
        .covariance_type(CovarianceType::VEV)
        .tol(0.0)
        .max_iter(7)
        .accelerate(true)
        .fit(x.view())
        .unwrap();
    assert!(!m.info().converged);
    assert_eq!(m.info().n_iter, 7);
    assert!(m.info().lower_bounds.len() <= 7);
    assert!(m.score(x.view()).unwrap().is_finite());
}
