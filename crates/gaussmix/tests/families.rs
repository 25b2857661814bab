//! The modelling layer beyond scikit-learn: every covariance family through fit, predict,
//! score, sample, model files, statistics bytes and streaming; the noise component; equal
//! and fixed parameters; degenerate-component policies; the hierarchical start; the checks
//! that refuse what cannot be estimated.

mod common;

use gaussmix::{
    ArraySource, CovarianceType, Covariances, DegeneratePolicy, GaussianMixture, GmmError,
    GmmModel, InitMethod, InitScaling, Prior, PriorChoice, PriorScale, SufficientStatistics,
};
use ndarray::{Array1, Array2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn data() -> Array2<f64> {
    common::mixture_data(900, 3, 3, 7, 6.0).0
}

/// Expected: for every family, a fit is finite, its lower bound never decreases (exact EM:
/// reg_covar 0; VVE's M-step iterates to a tolerance, a generalised EM step, so it gets
/// a small allowance), predict = argmax predict_proba, samples have the right shape, and
/// the model survives a JSON round trip exactly.
#[test]
fn every_family_fits_predicts_samples_and_round_trips() {
    let x = data();
    for ct in CovarianceType::ALL {
        let m = GaussianMixture::new(3)
            .covariance_type(ct)
            .reg_covar(0.0)
            .tol(1e-10)
            .max_iter(60)
            .seed(1)
            .fit(x.view())
            .unwrap_or_else(|e| panic!("{ct}: {e}"));
        assert_eq!(m.covariance_type(), ct);
        let lb = &m.info().lower_bounds;
        let slack = if ct == CovarianceType::VVE {
            1e-6
        } else {
            1e-10
        };
        for w in lb.windows(2) {
            assert!(
                w[1] >= w[0] - slack * w[0].abs(),
                "{ct}: {} then {}",
                w[0],
                w[1]
            );
        }
        let p = m.predict_proba(x.view()).unwrap();
        let l = m.predict(x.view()).unwrap();
        for (r, row) in p.rows().into_iter().enumerate() {
            assert!((row.sum() - 1.0).abs() < 1e-12);
            let best = row
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .unwrap()
                .0;
            assert_eq!(l[r], best, "{ct}");
        }
        assert!(m
            .score_samples(x.view())
            .unwrap()
            .iter()
            .all(|v| v.is_finite()));
        let (s, labels) = m.sample(50, 3).unwrap();
        assert_eq!(s.dim(), (50, 3));
        assert!(labels.iter().all(|&c| c < 3));
        let json = m.to_json().unwrap();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["covariance_type"], ct.name());
        if !ct.is_sklearn() {
            // mclust families are written as K full matrices
            assert_eq!(v["covariances"].as_array().unwrap().len(), 3);
            assert_eq!(v["covariances"][0].as_array().unwrap().len(), 3);
        }
        let back = GmmModel::from_json(&json).unwrap();
        assert_eq!(back, m, "{ct}");
        // the structure of the family holds
        structure(&m, ct);
    }
}

/// The constraints each family imposes, on a fitted model.
fn structure(m: &GmmModel, ct: CovarianceType) {
    let k = m.n_components();
    let d = m.n_features();
    let cov = |c: usize| -> Array2<f64> { m.covariances().component(c, d) };

    let det = |a: &Array2<f64>| -> f64 {
        // product of the Cholesky diagonal, squared
        let mut l = a.clone();
        for j in 0..d {
            for kk in 0..j {
                let v = l[[j, kk]];
                l[[j, j]] -= v * v;
            }
            l[[j, j]] = l[[j, j]].sqrt();
            for i in j + 1..d {
                for kk in 0..j {
                    let v = l[[i, kk]] * l[[j, kk]];
                    l[[i, j]] -= v;
                }
                l[[i, j]] /= l[[j, j]];
            }
        }
        (0..d).map(|i| l[[i, i]] * l[[i, i]]).product()
    };
    let name = ct.mclust_name().as_bytes();
    let volumes: Vec<f64> = (0..k).map(|c| det(&cov(c)).powf(1.0 / d as f64)).collect();
    if name[0] == b'E' {
        for v in &volumes {
            assert!(
                (v - volumes[0]).abs() < 1e-8 * volumes[0],
                "{ct}: volumes {volumes:?}"
            );
        }
    }
    if name[1] == b'I' {
        for c in 0..k {
            let a = cov(c);
            for i in 1..d {
                assert!((a[[i, i]] - a[[0, 0]]).abs() < 1e-10 * a[[0, 0]], "{ct}");
            }
        }
    }
    if name[2] == b'I' {
        for c in 0..k {
            let a = cov(c);
            for i in 0..d {
                for j in 0..d {
                    if i != j {
                        assert_eq!(a[[i, j]], 0.0, "{ct}");
                    }
                }
            }
        }
    }
    if name == b"EEE" || name == b"EEI" || name == b"EII" {
        for c in 1..k {
            assert_eq!(cov(c), cov(0), "{ct}: one shared covariance");
        }
    }
}

/// Expected: statistics of every family (and with a noise component) survive the byte
/// encoding exactly; bytes of format version 1 (before the families) still decode.
#[test]
fn statistics_bytes_round_trip_every_family_and_read_version_1() {
    let x = data();
    for ct in CovarianceType::ALL {
        for noise in [false, true] {
            let m = GaussianMixture::new(2)
                .covariance_type(ct)
                .noise(noise)
                .max_iter(2)
                .fit(x.view())
                .unwrap();
            let s = SufficientStatistics::from_chunk(&m, x.view(), None).unwrap();
            let back = SufficientStatistics::from_bytes(&s.to_bytes()).unwrap();
            assert_eq!(back, s, "{ct} noise={noise}");
            assert_eq!(noise, back.noise_nk() > 0.0);
        }
    }
    // version 1: the same layout without the 17 bytes of noise fields
    let m = GaussianMixture::new(2).max_iter(2).fit(x.view()).unwrap();
    let s = SufficientStatistics::from_chunk(&m, x.view(), None).unwrap();
    let v2 = s.to_bytes();
    let mut v1 = v2[..41].to_vec();
    v1[4..8].copy_from_slice(&1u32.to_le_bytes());
    v1.extend_from_slice(&v2[58..]);
    assert_eq!(SufficientStatistics::from_bytes(&v1).unwrap(), s);
    // a newer version is named
    let mut v9 = v2.clone();
    v9[4..8].copy_from_slice(&9u32.to_le_bytes());
    let e = SufficientStatistics::from_bytes(&v9)
        .unwrap_err()
        .to_string();
    assert!(e.contains("newer gaussmix"), "{e}");
}

/// Expected: a streaming fit in chunks of the block size equals the in-memory fit bit for
/// bit for an iterative family with a noise component and a prior.
#[test]
fn streaming_equals_in_memory_for_the_new_families() {
    let x = common::mixture_data(3 * gaussmix::STREAM_CHUNK_MULTIPLE + 17, 3, 2, 4, 5.0).0;
    for ct in [
        CovarianceType::VEV,
        CovarianceType::EVE,
        CovarianceType::EII,
    ] {
        let g = GaussianMixture::new(2)
            .covariance_type(ct)
            .noise(true)
            .prior(PriorChoice::Mclust)
            .max_iter(15)
            .seed(3);
        // the same initialisation for both: the in-memory fit's start, given
        let start = g.clone().max_iter(0).fit(x.view()).unwrap();
        let given = g
            .clone()
            .weights_init(start.weights() / start.weights().sum())
            .means_init(start.means().clone())
            .precisions_init(start.precisions());
        let a = given.fit(x.view()).unwrap();
        let mut src = ArraySource::new(x.view(), None, gaussmix::STREAM_CHUNK_MULTIPLE);
        let b = given.fit_stream(&mut src, 1_000_000, &mut |_| {}).unwrap();
        assert_eq!(a, b, "{ct}");
    }
}

/// Outliers spread uniformly over a box around two clusters: with a noise component they
/// go to it (label K, the last column of the responsibilities) and the cluster means stay
/// on the clusters; without it they drag the means.
#[test]
fn the_noise_component_takes_the_outliers() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut rows = Vec::new();
    for i in 0..600 {
        let c = if i % 2 == 0 { -5.0 } else { 5.0 };
        rows.push([c + rng.random::<f64>() - 0.5, rng.random::<f64>() - 0.5]);
    }
    for _ in 0..90 {
        rows.push([
            rng.random::<f64>() * 40.0 - 20.0,
            rng.random::<f64>() * 40.0 - 20.0,
        ]);
    }
    let x = Array2::from_shape_fn((rows.len(), 2), |(r, j)| rows[r][j]);
    let with = GaussianMixture::new(2)
        .noise(true)
        .seed(2)
        .fit(x.view())
        .unwrap();
    let without = GaussianMixture::new(2).seed(2).fit(x.view()).unwrap();
    let noise = with.noise().unwrap();
    assert!((0.08..0.2).contains(&noise.weight), "π0 = {}", noise.weight);
    assert!((with.weights().sum() + noise.weight - 1.0).abs() < 1e-12);
    let err = |m: &GmmModel| -> f64 {
        let mut xs: Vec<f64> = m.means().column(0).to_vec();
        xs.sort_by(f64::total_cmp);
        (xs[0] + 5.0).abs()
            + (xs[1] - 5.0).abs()
            + m.means().column(1).iter().map(|v| v.abs()).sum::<f64>()
    };
    assert!(err(&with) < 0.1, "{}", err(&with));
    assert!(
        err(&with) < err(&without) / 3.0,
        "{} vs {}",
        err(&with),
        err(&without)
    );
    let p = with.predict_proba(x.view()).unwrap();
    assert_eq!(p.ncols(), 3);
    let labels = with.predict(x.view()).unwrap();
    let noise_out = labels.iter().skip(600).filter(|&&l| l == 2).count();
    let noise_in = labels.iter().take(600).filter(|&&l| l == 2).count();
    assert!(noise_out >= 80, "{noise_out} of 90 outliers to noise");
    assert!(noise_in <= 3, "{noise_in} cluster rows to noise");
    // one more parameter: π0
    assert_eq!(with.n_parameters(), without.n_parameters() + 1);
}

/// Expected: equal proportions stay equal; fixed weights, means and covariances stay at
/// their given values while the rest is estimated.
#[test]
fn equal_and_fixed_parameters() {
    let x = data();
    let m = GaussianMixture::new(3)
        .equal_weights(true)
        .covariance_type(CovarianceType::VEV)
        .fit(x.view())
        .unwrap();
    for w in m.weights() {
        assert!((w - 1.0 / 3.0).abs() < 1e-15);
    }
    // a start away from the optimum: shifted means, uneven weights
    let start = GaussianMixture::new(3).max_iter(3).fit(x.view()).unwrap();
    let start = GmmModel::new(
        Array1::from(vec![0.5, 0.3, 0.2]),
        start.means() + 0.7,
        start.covariances().clone(),
    )
    .unwrap();
    let given = GaussianMixture::new(3)
        .weights_init(start.weights().clone())
        .means_init(start.means().clone())
        .precisions_init(start.precisions());
    let fm = given.clone().fix_means(true).fit(x.view()).unwrap();
    assert_eq!(fm.means(), start.means());
    assert_ne!(fm.weights(), start.weights());
    let fw = given.clone().fix_weights(true).fit(x.view()).unwrap();
    for (a, b) in fw.weights().iter().zip(start.weights()) {
        assert!((a - b).abs() < 1e-15);
    }
    let fc = given.clone().fix_covariances(true).fit(x.view()).unwrap();
    for (a, b) in fc
        .precisions_cholesky()
        .precisions_from_factor()
        .values_vec()
        .iter()
        .zip(start.precisions().values_vec())
    {
        assert!((a - b).abs() < 1e-9 * b.abs().max(1.0));
    }
    assert_ne!(fc.means(), start.means());
    // fixing without the value is refused, naming the parameter
    let e = GaussianMixture::new(3)
        .fix_means(true)
        .fit(x.view())
        .unwrap_err();
    assert!(
        matches!(
            e,
            GmmError::InvalidParam {
                name: "fix_means",
                ..
            }
        ),
        "{e}"
    );
}

trait Values {
    fn values_vec(&self) -> Vec<f64>;
}
impl Values for Covariances {
    fn values_vec(&self) -> Vec<f64> {
        match self {
            Covariances::Full(a) => a.iter().copied().collect(),
            Covariances::Tied(a) | Covariances::Diag(a) => a.iter().copied().collect(),
            Covariances::Spherical(a) => a.to_vec(),
        }
    }
}

/// Durations recorded as exactly 2 minutes in 40 % of the rows (as MASS::geyser records
/// short eruptions) beside a continuous column: a diagonal component started on such a row
/// collapses onto the tied value.
fn tied_values() -> Array2<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    Array2::from_shape_fn((300, 2), |(r, j)| {
        if j == 0 {
            if r % 5 < 2 {
                2.0
            } else {
                1.5 + 3.5 * rng.random::<f64>()
            }
        } else {
            50.0 + 40.0 * rng.random::<f64>()
        }
    })
}

/// Expected: the error policy names the degenerate component; reseed and drop end without
/// one (drop with fewer components); keep returns the spike, as scikit-learn.
#[test]
fn degenerate_policies() {
    let x = tied_values();
    let g = GaussianMixture::new(6)
        .covariance_type(CovarianceType::Diag)
        .init(InitMethod::RandomFromData)
        .max_iter(300)
        .seed(0);
    let kept = g.clone().fit(x.view()).unwrap();
    let var: Vec<f64> = (0..2)
        .map(|j| {
            let c = x.column(j);
            let m = c.mean().unwrap();
            c.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (c.len() - 1) as f64
        })
        .collect();
    let bad = gaussmix::degenerate::degenerate_components(&kept, 300.0, &var, 1e-6);
    assert!(
        !bad.is_empty(),
        "the plain fit should put a spike on the tied values"
    );
    match g.clone().degenerate(DegeneratePolicy::Error).fit(x.view()) {
        Err(GmmError::Degenerate { component, reason }) => {
            assert!(component < 6);
            assert!(!reason.is_empty());
        }
        other => panic!("expected a degenerate error, got {other:?}"),
    }
    let dropped = g
        .clone()
        .degenerate(DegeneratePolicy::Drop)
        .fit(x.view())
        .unwrap();
    assert!(dropped.n_components() < 6);
    assert!(gaussmix::degenerate::degenerate_components(&dropped, 300.0, &var, 1e-6).is_empty());
    match g.clone().degenerate(DegeneratePolicy::Reseed).fit(x.view()) {
        Ok(m) => {
            assert_eq!(m.n_components(), 6);
            assert!(gaussmix::degenerate::degenerate_components(&m, 300.0, &var, 1e-6).is_empty());
        }
        // re-seeding may not find 8 sound components on 300 rows: then it says so
        Err(GmmError::Degenerate { reason, .. }) => assert!(reason.contains("re-seeds")),
        Err(e) => panic!("{e}"),
    }
    // a prior keeps components off the spikes without any policy
    let map = g.clone().prior(PriorChoice::Mclust).fit(x.view()).unwrap();
    assert!(gaussmix::degenerate::degenerate_components(&map, 300.0, &var, 1e-6).is_empty());
}

/// Expected: the hierarchical start is deterministic, cuts into K non-empty groups, and
/// on well-separated clusters gives the same partition as the truth.
#[test]
fn hierarchical_start_and_standardised_kmeans() {
    let (x, truth) = common::mixture_data(600, 2, 3, 9, 12.0);
    for g in [
        GaussianMixture::new(3).init(InitMethod::Hc),
        GaussianMixture::new(3).init_scaling(InitScaling::Standardized),
    ] {
        let a = g.clone().fit(x.view()).unwrap();
        let b = g.clone().fit(x.view()).unwrap();
        assert_eq!(a, b);
        let l = a.predict(x.view()).unwrap();
        // a relabelling of the truth
        let mut map = std::collections::HashMap::new();
        let agree = l
            .iter()
            .zip(truth.iter())
            .filter(|(p, t)| *map.entry(**t).or_insert(**p) == **p)
            .count();
        assert!(agree as f64 > 0.97 * 600.0, "{agree}");
    }
}

/// Expected: clear errors for what cannot be estimated or is not a valid prior.
#[test]
fn refusals_name_the_family_or_parameter() {
    let x1 = Array2::from_shape_fn((50, 1), |(i, _)| (i % 7) as f64);
    let e = GaussianMixture::new(2)
        .covariance_type(CovarianceType::EEV)
        .fit(x1.view())
        .unwrap_err()
        .to_string();
    assert!(e.contains("EEV") && e.contains("one dimension"), "{e}");
    let small = data().slice(ndarray::s![..12, ..]).to_owned();
    let e = GaussianMixture::new(3)
        .covariance_type(CovarianceType::VEV)
        .fit(small.view())
        .unwrap_err()
        .to_string();
    assert!(e.contains("free parameters"), "{e}");
    let x = data();
    let bad = |p: Prior| {
        GaussianMixture::new(2)
            .prior(PriorChoice::Given(p))
            .fit(x.view())
            .unwrap_err()
            .to_string()
    };
    let ok = Prior {
        shrinkage: 0.01,
        mean: Array1::zeros(3),
        dof: 5.0,
        scale: PriorScale::Matrix(Array2::eye(3)),
    };
    assert!(bad(Prior {
        dof: 1.0,
        ..ok.clone()
    })
    .contains("dof"));
    assert!(bad(Prior {
        shrinkage: -1.0,
        ..ok.clone()
    })
    .contains("shrinkage"));
    assert!(bad(Prior {
        scale: PriorScale::Matrix(-Array2::<f64>::eye(3)),
        ..ok.clone()
    })
    .contains("scale"));
    assert!(GaussianMixture::new(2)
        .prior(PriorChoice::Given(ok))
        .fit(x.view())
        .is_ok());
}

/// With one component the constraints between components are void: every ellipsoidal
/// family's fit is VVV's, every diagonal one VVI's (no inner iterations left unconverged).
#[test]
fn one_component_families_are_the_unconstrained_fit() {
    let x = data();
    let fit = |ct: CovarianceType| {
        GaussianMixture::new(1)
            .covariance_type(ct)
            .fit(x.view())
            .unwrap()
    };
    let dense = |m: &GmmModel| -> Vec<f64> {
        match m.covariances() {
            gaussmix::Covariances::Full(a) => a.iter().copied().collect(),
            gaussmix::Covariances::Diag(a) => a.iter().copied().collect(),
            other => panic!("{other:?}"),
        }
    };
    let full = dense(&fit(CovarianceType::Full));
    for ct in [
        CovarianceType::VEE,
        CovarianceType::EVE,
        CovarianceType::VVE,
        CovarianceType::EEV,
        CovarianceType::VEV,
        CovarianceType::EVV,
    ] {
        let got = dense(&fit(ct));
        for (a, b) in got.iter().zip(&full) {
            assert!((a - b).abs() <= 1e-12 * (1.0 + b.abs()), "{ct}: {a} vs {b}");
        }
    }
    let diag = dense(&fit(CovarianceType::Diag));
    for ct in [CovarianceType::VEI, CovarianceType::EVI] {
        let got = dense(&fit(ct));
        for (a, b) in got.iter().zip(&diag) {
            assert!((a - b).abs() <= 1e-12 * (1.0 + b.abs()), "{ct}: {a} vs {b}");
        }
    }
}
