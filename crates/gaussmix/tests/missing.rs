//! Masked EM with missing values (Ghahramani & Jordan 1994): the fast, pattern-grouped
//! path against a slow per-row reference written here from the formulas, the monotone
//! observed-data likelihood, the stationarity of the fixed point, bit-identity without
//! gaps, recovery under MCAR, and the errors.

use gaussmix::{
    ArraySource, CovarianceType, Covariances, GaussianMixture, GmmError, GmmModel, MissingValues,
    SufficientStatistics,
};
use ndarray::{array, Array1, Array2, Array3, ArrayView1};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

const TYPES: [CovarianceType; 4] = [
    CovarianceType::Full,
    CovarianceType::Tied,
    CovarianceType::Diag,
    CovarianceType::Spherical,
];

/// The true parameters of the seeded 3-component, 4-feature problem: correlated
/// covariances, so the conditional expectations matter.
fn truth() -> (Array1<f64>, Array2<f64>, Array3<f64>) {
    let w = array![0.3, 0.45, 0.25];
    let m = array![
        [0.0, 0.0, 0.0, 0.0],
        [4.0, 3.0, 0.5, -2.0],
        [-3.0, 5.0, 3.0, 1.0]
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut cov = Array3::zeros((3, 4, 4));
    for c in 0..3 {
        let a = Array2::from_shape_fn((4, 4), |_| 0.7 * rng.sample::<f64, _>(StandardNormal));
        let s = a.dot(&a.t()) + Array2::<f64>::eye(4) * 0.3;
        cov.index_axis_mut(ndarray::Axis(0), c).assign(&s);
    }
    (w, m, cov)
}

/// `n` rows of the true mixture.
fn complete_data(n: usize, seed: u64) -> Array2<f64> {
    let (w, m, cov) = truth();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut x = Array2::zeros((n, 4));
    for r in 0..n {
        let u: f64 = rng.random();
        let c = if u < w[0] {
            0
        } else if u < w[0] + w[1] {
            1
        } else {
            2
        };
        let l = cholesky(&cov.index_axis(ndarray::Axis(0), c).to_owned());
        let z: Vec<f64> = (0..4).map(|_| StandardNormal.sample(&mut rng)).collect();
        for i in 0..4 {
            x[[r, i]] = m[[c, i]] + (0..=i).map(|j| l[[i, j]] * z[j]).sum::<f64>();
        }
    }
    x
}

/// `x` with each entry missing (NaN) with probability `p`, completely at random; a row
/// never loses all its entries.
fn with_gaps(x: &Array2<f64>, p: f64, seed: u64) -> Array2<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut y = x.clone();
    let d = x.ncols();
    for mut row in y.rows_mut() {
        let mask: Vec<bool> = (0..d).map(|_| rng.random::<f64>() < p).collect();
        if mask.iter().all(|m| *m) {
            continue;
        }
        for (v, m) in row.iter_mut().zip(mask) {
            if m {
                *v = f64::NAN;
            }
        }
    }
    y
}

fn cholesky(a: &Array2<f64>) -> Array2<f64> {
    let d = a.nrows();
    let mut l = Array2::<f64>::zeros((d, d));
    for j in 0..d {
        let s = a[[j, j]] - (0..j).map(|k| l[[j, k]] * l[[j, k]]).sum::<f64>();
        l[[j, j]] = s.sqrt();
        for i in j + 1..d {
            let s = a[[i, j]] - (0..j).map(|k| l[[i, k]] * l[[j, k]]).sum::<f64>();
            l[[i, j]] = s / l[[j, j]];
        }
    }
    l
}

/// Inverse of a symmetric positive definite matrix by Gauss–Jordan elimination (a
/// different route from the library's Cholesky solves).
fn inverse(a: &Array2<f64>) -> Array2<f64> {
    let d = a.nrows();
    let mut m = a.clone();
    let mut inv = Array2::<f64>::eye(d);
    for c in 0..d {
        let p = m[[c, c]];
        for j in 0..d {
            m[[c, j]] /= p;
            inv[[c, j]] /= p;
        }
        for r in 0..d {
            if r != c {
                let f = m[[r, c]];
                for j in 0..d {
                    m[[r, j]] -= f * m[[c, j]];
                    inv[[r, j]] -= f * inv[[c, j]];
                }
            }
        }
    }
    inv
}

fn det(a: &Array2<f64>) -> f64 {
    let l = cholesky(a);
    (0..a.nrows()).map(|i| l[[i, i]] * l[[i, i]]).product()
}

/// Dense covariance of component `k`.
fn dense(c: &Covariances, k: usize, d: usize) -> Array2<f64> {
    match c {
        Covariances::Full(a) => a.index_axis(ndarray::Axis(0), k).to_owned(),
        Covariances::Tied(a) => a.clone(),
        Covariances::Diag(a) => Array2::from_diag(&a.row(k)),
        Covariances::Spherical(a) => Array2::<f64>::eye(d) * a[k],
    }
}

fn sub(a: &Array2<f64>, rows: &[usize], cols: &[usize]) -> Array2<f64> {
    Array2::from_shape_fn((rows.len(), cols.len()), |(i, j)| a[[rows[i], cols[j]]])
}

/// One row under one component, the slow way: `(ln π_k + ln N(x_o), E_k[x | x_o] as a
/// full row, the conditional covariance as a D×D matrix zero outside the missing block)`.
fn reference_component(
    model: &GmmModel,
    k: usize,
    x: ArrayView1<f64>,
) -> (f64, Array1<f64>, Array2<f64>) {
    let d = x.len();
    let o: Vec<usize> = (0..d).filter(|&i| !x[i].is_nan()).collect();
    let m: Vec<usize> = (0..d).filter(|&i| x[i].is_nan()).collect();
    let cov = dense(model.covariances(), k, d);
    let mu = model.means().row(k);
    let soo = sub(&cov, &o, &o);
    let inv = inverse(&soo);
    let r = Array1::from_iter(o.iter().map(|&i| x[i] - mu[i]));
    let maha = r.dot(&inv.dot(&r));
    let lp = model.weights()[k].ln()
        - 0.5 * (o.len() as f64 * (2.0 * std::f64::consts::PI).ln() + det(&soo).ln() + maha);
    let mut xhat = x.to_owned();
    let mut cc = Array2::zeros((d, d));
    if !m.is_empty() {
        let smo = sub(&cov, &m, &o);
        let shift = smo.dot(&inv.dot(&r));
        for (a, &i) in m.iter().enumerate() {
            xhat[i] = mu[i] + shift[a];
        }
        let cond = sub(&cov, &m, &m) - smo.dot(&inv).dot(&smo.t());
        for (a, &i) in m.iter().enumerate() {
            for (b, &j) in m.iter().enumerate() {
                cc[[i, j]] = cond[[a, b]];
            }
        }
    }
    (lp, xhat, cc)
}

/// Per-row responsibilities and `ln p(x_o)`, the slow way.
fn reference_rows(model: &GmmModel, x: &Array2<f64>) -> (Array2<f64>, Array1<f64>) {
    let k = model.n_components();
    let mut resp = Array2::zeros((x.nrows(), k));
    let mut ln = Array1::zeros(x.nrows());
    for (n, row) in x.rows().into_iter().enumerate() {
        let lp: Vec<f64> = (0..k)
            .map(|c| reference_component(model, c, row).0)
            .collect();
        let mx = lp.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let s: f64 = lp.iter().map(|v| (v - mx).exp()).sum();
        ln[n] = mx + s.ln();
        for c in 0..k {
            resp[[n, c]] = (lp[c] - ln[n]).exp();
        }
    }
    (resp, ln)
}

/// One masked EM step from `model`, the slow way (scikit-learn's four types, reg_covar
/// added to the diagonal): `(weights, means, covariances)`.
fn reference_step(
    model: &GmmModel,
    x: &Array2<f64>,
    ct: CovarianceType,
    reg: f64,
) -> (Array1<f64>, Array2<f64>, Covariances) {
    let (n, d) = x.dim();
    let k = model.n_components();
    let (resp, _) = reference_rows(model, x);
    let nk = resp.sum_axis(ndarray::Axis(0));
    let mut means = Array2::zeros((k, d));
    let mut xhats = Vec::new();
    for c in 0..k {
        let mut per = Vec::new();
        for (r, row) in x.rows().into_iter().enumerate() {
            let (_, xh, cc) = reference_component(model, c, row);
            means.row_mut(c).scaled_add(resp[[r, c]] / nk[c], &xh);
            per.push((xh, cc));
        }
        xhats.push(per);
    }
    let mut scat = Array3::<f64>::zeros((k, d, d));
    for c in 0..k {
        for r in 0..n {
            let (xh, cc) = &xhats[c][r];
            let diff = xh - &means.row(c);
            let g = resp[[r, c]];
            for i in 0..d {
                for j in 0..d {
                    scat[[c, i, j]] += g * (diff[i] * diff[j] + cc[[i, j]]);
                }
            }
        }
    }
    let weights = &nk / n as f64;
    let cov = match ct {
        CovarianceType::Full => {
            let mut a = scat.clone();
            for c in 0..k {
                for i in 0..d {
                    for j in 0..d {
                        a[[c, i, j]] /= nk[c];
                    }
                    a[[c, i, i]] += reg;
                }
            }
            Covariances::Full(a)
        }
        CovarianceType::Tied => {
            let mut a = scat.sum_axis(ndarray::Axis(0)) / n as f64;
            for i in 0..d {
                a[[i, i]] += reg;
            }
            Covariances::Tied(a)
        }
        CovarianceType::Diag => Covariances::Diag(Array2::from_shape_fn((k, d), |(c, i)| {
            scat[[c, i, i]] / nk[c] + reg
        })),
        CovarianceType::Spherical => Covariances::Spherical(Array1::from_shape_fn(k, |c| {
            (0..d).map(|i| scat[[c, i, i]] / nk[c]).sum::<f64>() / d as f64 + reg
        })),
        _ => unreachable!(),
    };
    (weights, means, cov)
}

fn max_rel(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / x.abs().max(y.abs()).max(1.0))
        .fold(0.0, f64::max)
}

fn cov_slice(c: &Covariances) -> Vec<f64> {
    match c {
        Covariances::Full(a) => a.iter().copied().collect(),
        Covariances::Tied(a) => a.iter().copied().collect(),
        Covariances::Diag(a) => a.iter().copied().collect(),
        Covariances::Spherical(a) => a.iter().copied().collect(),
    }
}

/// A starting model of type `ct` near the truth (a plain fit on complete rows).
fn start(ct: CovarianceType) -> GmmModel {
    let x = complete_data(600, 5);
    GaussianMixture::new(3)
        .covariance_type(ct)
        .seed(1)
        .fit(x.view())
        .unwrap()
}

fn one_step(m0: &GmmModel, ct: CovarianceType) -> GaussianMixture {
    GaussianMixture::new(3)
        .covariance_type(ct)
        .missing(MissingValues::Em)
        .weights_init(m0.weights().clone())
        .means_init(m0.means().clone())
        .precisions_init(m0.precisions())
        .max_iter(1)
}

/// Expected: one masked EM step of the fast path (pattern groups, complete rows through
/// the kernels) equals the per-row reference to 1e-10, for the four types, and the
/// recorded lower bound is the reference's mean observed log-likelihood.
#[test]
fn one_step_matches_the_per_row_reference() {
    let x = with_gaps(&complete_data(700, 21), 0.25, 3);
    for ct in TYPES {
        let m0 = start(ct);
        let fit = one_step(&m0, ct).fit(x.view()).unwrap();
        let (w, mu, cov) = reference_step(&m0, &x, ct, 1e-6);
        let e = max_rel(fit.weights().as_slice().unwrap(), w.as_slice().unwrap());
        assert!(e < 1e-10, "{ct}: weights differ by {e:e}");
        let e = max_rel(fit.means().as_slice().unwrap(), mu.as_slice().unwrap());
        assert!(e < 1e-10, "{ct}: means differ by {e:e}");
        let e = max_rel(&cov_slice(fit.covariances()), &cov_slice(&cov));
        assert!(e < 1e-10, "{ct}: covariances differ by {e:e}");
        let (_, ln) = reference_rows(&m0, &x);
        let lb = fit.info().lower_bounds[0];
        let e = (lb - ln.mean().unwrap()).abs();
        assert!(
            e < 1e-10,
            "{ct}: lower bound {lb} vs {}",
            ln.mean().unwrap()
        );
    }
}

/// Expected: weighted rows: the one-step model equals the reference on the data with
/// each row repeated by its (integer) weight.
#[test]
fn weights_count_as_copies() {
    let x = with_gaps(&complete_data(300, 8), 0.2, 9);
    let w = Array1::from_shape_fn(300, |i| (i % 3) as f64);
    let mut rows = Vec::new();
    for (i, row) in x.rows().into_iter().enumerate() {
        for _ in 0..(w[i] as usize) {
            rows.extend(row.iter().copied());
        }
    }
    let rep = Array2::from_shape_vec((rows.len() / 4, 4), rows).unwrap();
    for ct in TYPES {
        let m0 = start(ct);
        let a = one_step(&m0, ct).fit_weighted(x.view(), w.view()).unwrap();
        let b = one_step(&m0, ct).fit(rep.view()).unwrap();
        let e = max_rel(a.means().as_slice().unwrap(), b.means().as_slice().unwrap());
        assert!(e < 1e-10, "{ct}: {e:e}");
        let e = max_rel(&cov_slice(a.covariances()), &cov_slice(b.covariances()));
        assert!(e < 1e-10, "{ct}: {e:e}");
    }
}

/// Expected: predict_proba / score_samples with gaps are the per-row marginals, and the
/// complete rows among them get exactly the ordinary kernels' values.
#[test]
fn marginal_scores_match_the_reference() {
    let full = complete_data(400, 2);
    let x = with_gaps(&full, 0.3, 4);
    for ct in TYPES {
        let m = start(ct);
        let (resp, ln) = reference_rows(&m, &x);
        let p = m.predict_proba_missing(x.view()).unwrap();
        let s = m.score_samples_missing(x.view()).unwrap();
        assert!(max_rel(p.as_slice().unwrap(), resp.as_slice().unwrap()) < 1e-10);
        assert!(max_rel(s.as_slice().unwrap(), ln.as_slice().unwrap()) < 1e-10);
        let labels = m.predict_missing(x.view()).unwrap();
        for (n, row) in p.rows().into_iter().enumerate() {
            let best = (0..3).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap();
            assert_eq!(labels[n], best);
        }
        let plain_p = m.predict_proba(full.view()).unwrap();
        let plain_s = m.score_samples(full.view()).unwrap();
        let mut complete = 0;
        for n in 0..x.nrows() {
            if x.row(n).iter().all(|v| !v.is_nan()) {
                complete += 1;
                assert_eq!(s[n].to_bits(), plain_s[n].to_bits());
                assert_eq!(p.row(n), plain_p.row(n));
            }
        }
        assert!(complete > 50);
    }
}

/// Expected: impute fills each gap with Σ_k γ_k E_k[x_m | x_o] (reference to 1e-10),
/// keeps observed entries, and a seeded draw is reproducible, differs from another seed
/// and from the expectation, and keeps observed entries.
#[test]
fn impute_is_the_conditional_expectation() {
    let x = with_gaps(&complete_data(300, 6), 0.3, 7);
    for ct in TYPES {
        let m = start(ct);
        let filled = m.impute(x.view(), None).unwrap();
        let (resp, _) = reference_rows(&m, &x);
        for (n, row) in x.rows().into_iter().enumerate() {
            let mut want = Array1::zeros(4);
            for c in 0..3 {
                let (_, xh, _) = reference_component(&m, c, row);
                want.scaled_add(resp[[n, c]], &xh);
            }
            for i in 0..4 {
                if row[i].is_nan() {
                    let e = (filled[[n, i]] - want[i]).abs() / want[i].abs().max(1.0);
                    assert!(e < 1e-10, "{ct} row {n}: {} vs {}", filled[[n, i]], want[i]);
                } else {
                    assert_eq!(filled[[n, i]], row[i]);
                }
            }
        }
        let a = m.impute(x.view(), Some(5)).unwrap();
        let b = m.impute(x.view(), Some(5)).unwrap();
        let c = m.impute(x.view(), Some(6)).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, filled);
        assert!(a.iter().all(|v| v.is_finite()));
        for (n, row) in x.rows().into_iter().enumerate() {
            for i in 0..4 {
                if !row[i].is_nan() {
                    assert_eq!(a[[n, i]], row[i]);
                }
            }
        }
    }
}

/// Expected: the observed-data log-likelihood never decreases over masked EM, for
/// scikit-learn's types and mclust's closed-form families, over several seeds; for the
/// families whose M-step iterates to a tolerance (VEI, VVE: a generalised EM step) it
/// may dip by no more than that tolerance.
#[test]
fn observed_log_likelihood_never_decreases() {
    let types = [
        CovarianceType::Full,
        CovarianceType::Tied,
        CovarianceType::Diag,
        CovarianceType::Spherical,
        CovarianceType::EII,
        CovarianceType::VII,
        CovarianceType::EEI,
        CovarianceType::EVI,
        CovarianceType::EEV,
        CovarianceType::VEI,
        CovarianceType::VVE,
    ];
    for seed in 0..3 {
        let x = with_gaps(&complete_data(500, 30 + seed), 0.2, 40 + seed);
        for ct in types {
            let m = GaussianMixture::new(3)
                .covariance_type(ct)
                .missing(MissingValues::Em)
                .tol(0.0)
                .max_iter(40)
                .seed(seed)
                .fit(x.view())
                .unwrap();
            let lb = &m.info().lower_bounds;
            assert_eq!(lb.len(), 40);
            let slack = if matches!(ct, CovarianceType::VEI | CovarianceType::VVE) {
                1e-8
            } else {
                1e-12
            };
            for w in lb.windows(2) {
                assert!(
                    w[1] >= w[0] - slack * w[0].abs().max(1.0),
                    "{ct} seed {seed}: {} then {}",
                    w[0],
                    w[1]
                );
            }
            assert!(lb[39] > lb[0], "{ct}: EM did not improve at all");
        }
    }
}

/// Total observed log-likelihood of `x` under `m` with the means replaced.
fn ll_with_means(m: &GmmModel, means: Array2<f64>, x: &Array2<f64>) -> f64 {
    let mm = GmmModel::new(m.weights().clone(), means, m.covariances().clone()).unwrap();
    mm.score_samples_missing(x.view()).unwrap().sum()
}

fn mean_gradient(m: &GmmModel, x: &Array2<f64>) -> f64 {
    let h = 1e-5;
    let mut worst: f64 = 0.0;
    for c in 0..m.n_components() {
        for i in 0..m.n_features() {
            let mut up = m.means().clone();
            up[[c, i]] += h;
            let mut down = m.means().clone();
            down[[c, i]] -= h;
            let g = (ll_with_means(m, up, x) - ll_with_means(m, down, x)) / (2.0 * h);
            worst = worst.max(g.abs());
        }
    }
    worst / x.nrows() as f64
}

/// Expected: at convergence the finite-difference gradient of the observed
/// log-likelihood with respect to the means is ~0 (per row), far below its size after two
/// iterations (so the check can fail): masked EM's fixed point is stationary for the
/// observed data, not for a completed one.
#[test]
fn fixed_point_is_stationary_in_the_means() {
    let x = with_gaps(&complete_data(600, 12), 0.2, 13);
    for ct in TYPES {
        let g = GaussianMixture::new(3)
            .covariance_type(ct)
            .missing(MissingValues::Em)
            .seed(2);
        let early = g.clone().max_iter(2).fit(x.view()).unwrap();
        let done = g.tol(1e-13).max_iter(5000).fit(x.view()).unwrap();
        assert!(done.info().converged, "{ct} did not converge");
        let ge = mean_gradient(&early, &x);
        let gd = mean_gradient(&done, &x);
        assert!(gd < 1e-5, "{ct}: gradient {gd:e} at convergence");
        assert!(
            gd < ge * 1e-2,
            "{ct}: gradient {gd:e} at convergence vs {ge:e} early"
        );
    }
}

/// Expected: with no missing entry, the policy changes nothing, bit for bit (fit,
/// warm start, weighted, statistics, scores, imputation).
#[test]
fn no_gaps_is_the_plain_fit_bit_for_bit() {
    let x = complete_data(800, 3);
    let w = Array1::from_shape_fn(800, |i| 0.5 + (i % 4) as f64);
    for ct in TYPES.into_iter().chain([CovarianceType::VEV]) {
        let plain = GaussianMixture::new(3).covariance_type(ct).seed(4);
        let em = plain.clone().missing(MissingValues::Em);
        let a = plain.fit(x.view()).unwrap();
        let b = em.fit(x.view()).unwrap();
        assert_eq!(a, b, "{ct}");
        assert_eq!(
            plain.fit_weighted(x.view(), w.view()).unwrap(),
            em.fit_weighted(x.view(), w.view()).unwrap()
        );
        assert_eq!(
            plain.fit_warm(&a, x.view(), None).unwrap(),
            em.fit_warm(&a, x.view(), None).unwrap()
        );
        assert_eq!(
            a.predict_proba(x.view()).unwrap(),
            a.predict_proba_missing(x.view()).unwrap()
        );
        assert_eq!(
            a.score_samples(x.view()).unwrap(),
            a.score_samples_missing(x.view()).unwrap()
        );
        assert_eq!(a.impute(x.view(), None).unwrap(), x);
        let s1 = SufficientStatistics::from_chunk(&a, x.view(), None).unwrap();
        let s2 = SufficientStatistics::from_chunk_missing(&a, x.view(), None, Default::default())
            .unwrap();
        assert_eq!(s1, s2);
    }
}

/// Mean distance between fitted and true means, components matched by the best of the
/// 3! permutations.
fn matched_error(fit: &Array2<f64>, truth: &Array2<f64>) -> f64 {
    let perms = [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ];
    perms
        .iter()
        .map(|p| {
            (0..3)
                .map(|c| {
                    let d = &fit.row(p[c]) - &truth.row(c);
                    d.dot(&d).sqrt()
                })
                .sum::<f64>()
                / 3.0
        })
        .fold(f64::INFINITY, f64::min)
}

/// Expected: with 20 % of entries missing completely at random, masked EM's means are
/// close to the complete-data fit's and at least 40 % closer to the truth than a fit
/// after mean imputation (the number), and its covariances are not shrunk the
/// way imputation shrinks them.
#[test]
fn mcar_recovers_the_complete_data_fit() {
    let full = complete_data(3000, 17);
    let x = with_gaps(&full, 0.2, 18);
    let (_, true_means, _) = truth();
    let g = GaussianMixture::new(3).n_init(3).seed(0);
    let complete = g.fit(full.view()).unwrap();
    let masked = g.clone().missing(MissingValues::Em).fit(x.view()).unwrap();
    // mean imputation, then an ordinary fit
    let mut imputed = x.clone();
    for j in 0..4 {
        let col: Vec<f64> = x
            .column(j)
            .iter()
            .copied()
            .filter(|v| !v.is_nan())
            .collect();
        let mean = col.iter().sum::<f64>() / col.len() as f64;
        imputed
            .column_mut(j)
            .mapv_inplace(|v| if v.is_nan() { mean } else { v });
    }
    let naive = g.fit(imputed.view()).unwrap();
    let e_complete = matched_error(complete.means(), &true_means);
    let e_masked = matched_error(masked.means(), &true_means);
    let e_naive = matched_error(naive.means(), &true_means);
    let e_vs_complete = matched_error(masked.means(), complete.means());
    println!(
        "mean matched error to the truth: complete {e_complete:.4}, masked EM {e_masked:.4}, mean-imputed {e_naive:.4}; masked vs complete fit {e_vs_complete:.4}"
    );
    assert!(e_masked <= 0.6 * e_naive, "{e_masked} vs {e_naive}");
    assert!(e_vs_complete < 0.15, "{e_vs_complete}");
    let ll = |m: &GmmModel| m.score_samples(full.view()).unwrap().mean().unwrap();
    println!(
        "held-in complete-data log-likelihood: complete fit {:.4}, masked {:.4}, mean-imputed {:.4}",
        ll(&complete),
        ll(&masked),
        ll(&naive)
    );
    assert!(ll(&masked) > ll(&naive));
}

/// Expected: all-missing rows and columns are errors naming them; ±∞ stays an error with
/// the policy on; NaN without the policy is the usual error; a noise component is refused.
#[test]
fn errors_name_rows_and_columns() {
    let mut x = complete_data(50, 1);
    let g = GaussianMixture::new(2).missing(MissingValues::Em);
    x.row_mut(7).fill(f64::NAN);
    match g.fit(x.view()).unwrap_err() {
        GmmError::AllMissingRow { row } => assert_eq!(row, 7),
        e => panic!("{e}"),
    }
    let mut x = complete_data(50, 1);
    x.column_mut(2).fill(f64::NAN);
    let e = g.fit(x.view()).unwrap_err();
    assert_eq!(e, GmmError::AllMissingColumn { column: 2 });
    assert!(e.to_string().contains("column 2"));
    let mut x = complete_data(50, 1);
    x[[3, 1]] = f64::NAN;
    x[[9, 0]] = f64::INFINITY;
    assert!(matches!(
        g.fit(x.view()).unwrap_err(),
        GmmError::NonFinite {
            row: 9,
            column: 0,
            ..
        }
    ));
    x[[9, 0]] = 0.0;
    assert!(matches!(
        GaussianMixture::new(2).fit(x.view()).unwrap_err(),
        GmmError::NonFinite {
            row: 3,
            column: 1,
            ..
        }
    ));
    assert!(matches!(
        g.clone().noise(true).fit(x.view()).unwrap_err(),
        GmmError::InvalidParam { name: "noise", .. }
    ));
    let m = g.fit(x.view()).unwrap();
    let mut y = x.clone();
    y.row_mut(4).fill(f64::NAN);
    for r in [
        m.predict_proba_missing(y.view()).map(|_| ()),
        m.score_samples_missing(y.view()).map(|_| ()),
        m.impute(y.view(), None).map(|_| ()),
    ] {
        assert_eq!(r.unwrap_err(), GmmError::AllMissingRow { row: 4 });
    }
    assert!(matches!(
        m.predict_proba(y.view()).unwrap_err(),
        GmmError::NonFinite { .. }
    ));
}

/// Expected: f32 data with gaps fit like their f64 copy (same values, within f32→f64
/// conversion, i.e. exactly), and the thread count does not change a masked fit.
#[test]
fn f32_and_threads() {
    let x = with_gaps(&complete_data(5000, 19), 0.2, 20);
    let x32 = x.mapv(|v| v as f32);
    let x64 = x32.mapv(f64::from);
    let g = GaussianMixture::new(3).missing(MissingValues::Em).seed(3);
    let a = g.fit(x32.view()).unwrap();
    let b = g.fit(x64.view()).unwrap();
    assert_eq!(a, b);
    let seq = g
        .clone()
        .parallelism(gaussmix::Parallelism::Sequential)
        .fit(x64.view())
        .unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap();
    let par = pool.install(|| g.fit(x64.view()).unwrap());
    assert_eq!(seq, par);
    assert_eq!(seq, b);
}

/// Expected: a streaming masked fit over chunks equals the in-memory masked fit's
/// statistics path: from the same given start, one iteration's model agrees to 1e-12.
#[test]
fn streaming_matches_in_memory() {
    let x = with_gaps(&complete_data(5000, 22), 0.2, 23);
    for ct in TYPES {
        let m0 = start(ct);
        let g = one_step(&m0, ct).max_iter(5).tol(0.0);
        let mem = g.fit(x.view()).unwrap();
        let mut src = ArraySource::new(x.view(), None, 1000);
        let st = g.fit_stream(&mut src, 1000, &mut |_| {}).unwrap();
        let e = max_rel(
            mem.means().as_slice().unwrap(),
            st.means().as_slice().unwrap(),
        );
        assert!(e < 1e-12, "{ct}: {e:e}");
        let e = max_rel(&cov_slice(mem.covariances()), &cov_slice(st.covariances()));
        assert!(e < 1e-12, "{ct}: {e:e}");
        let e = max_rel(&mem.info().lower_bounds, &st.info().lower_bounds);
        assert!(e < 1e-12, "{ct}: {e:e}");
    }
    // and from its own initialisation on a sample, a streaming fit converges near the
    // in-memory one
    let g = GaussianMixture::new(3)
        .missing(MissingValues::Em)
        .seed(0)
        .n_init(2);
    let mem = g.fit(x.view()).unwrap();
    let mut src = ArraySource::new(x.view(), None, 700);
    let st = g.fit_stream(&mut src, 5000, &mut |_| {}).unwrap();
    assert!(matched_error(mem.means(), st.means()) < 1e-2);
    // errors name stream rows
    let mut y = x.clone();
    y.row_mut(3210).fill(f64::NAN);
    let mut src = ArraySource::new(y.view(), None, 1000);
    assert_eq!(
        g.fit_stream(&mut src, 100, &mut |_| {}).unwrap_err(),
        GmmError::AllMissingRow { row: 3210 }
    );
    let mut y = complete_data(3000, 24);
    y.column_mut(1).fill(f64::NAN);
    let mut src = ArraySource::new(y.view(), None, 1000);
    assert_eq!(
        g.fit_stream(&mut src, 100, &mut |_| {}).unwrap_err(),
        GmmError::AllMissingColumn { column: 1 }
    );
}
