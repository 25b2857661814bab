//! Invariants of EM and of the model, over random problems.

mod common;

use common::{mixture_data, rel};
use gaussmix::{
    CovarianceType, Covariances, GaussianMixture, GmmModel, InitMethod, Parallelism,
    SufficientStatistics,
};
use ndarray::{array, s, Array1, Axis};

#[test]
fn responsibilities_sum_to_one_and_predict_is_argmax() {
    for (seed, ct) in CovarianceType::SKLEARN.iter().enumerate() {
        let (x, _) = mixture_data(500, 3, 4, seed as u64, 4.0);
        let m = GaussianMixture::new(4)
            .covariance_type(*ct)
            .seed(seed as u64)
            .fit(x.view())
            .unwrap();
        let p = m.predict_proba(x.view()).unwrap();
        for row in p.rows() {
            assert!((row.sum() - 1.0).abs() < 1e-12);
            assert!(row.iter().all(|v| (0.0..=1.0).contains(v)));
        }
        let labels = m.predict(x.view()).unwrap();
        for (row, l) in p.rows().into_iter().zip(labels.iter()) {
            let max = row.iter().cloned().fold(f64::MIN, f64::max);
            assert_eq!(row[*l], max);
        }
    }
}

#[test]
fn lower_bound_never_decreases() {
    for ct in CovarianceType::SKLEARN {
        for init in [
            InitMethod::KMeans,
            InitMethod::Random,
            InitMethod::RandomFromData,
            InitMethod::KMeansPlusPlus,
        ] {
            for seed in 0..3u64 {
                let (x, _) = mixture_data(600, 2, 3, 100 + seed, 3.0);
                let m = GaussianMixture::new(3)
                    .covariance_type(ct)
                    .init(init)
                    .seed(seed)
                    // rows alone starting a component have zero scatter: those inits need reg_covar
                    .reg_covar(if matches!(init, InitMethod::KMeans | InitMethod::Random) {
                        0.0
                    } else {
                        1e-6
                    })
                    .tol(0.0)
                    .max_iter(40)
                    .fit(x.view())
                    .unwrap();
                let lb = &m.info().lower_bounds;
                assert_eq!(lb.len(), 40);
                for w in lb.windows(2) {
                    assert!(
                        w[1] >= w[0] - 1e-12 * w[0].abs(),
                        "{ct} {init} seed {seed}: {} then {}",
                        w[0],
                        w[1]
                    );
                }
            }
        }
    }
}

#[test]
fn one_component_one_dimension_is_the_ml_gaussian() {
    let x = array![[1.0], [2.0], [4.0], [7.0], [11.0]];
    let m = GaussianMixture::new(1)
        .reg_covar(0.0)
        .fit(x.view())
        .unwrap();
    let mean = x.mean().unwrap();
    let var = x.mapv(|v| (v - mean) * (v - mean)).mean().unwrap();
    assert!(rel(m.means()[[0, 0]], mean) < 1e-14);
    match m.covariances() {
        Covariances::Full(c) => assert!(rel(c[[0, 0, 0]], var) < 1e-14),
        _ => unreachable!(),
    }
    assert_eq!(m.weights()[0], 1.0);
    // log density of the ML Gaussian
    let ll: f64 = x
        .iter()
        .map(|v| -0.5 * ((2.0 * std::f64::consts::PI * var).ln() + (v - mean).powi(2) / var))
        .sum::<f64>()
        / 5.0;
    assert!(rel(m.score(x.view()).unwrap(), ll) < 1e-13);
}

#[test]
fn chunked_statistics_equal_one_pass() {
    for ct in CovarianceType::SKLEARN {
        let (x, _) = mixture_data(3000, 4, 3, 7, 3.0);
        let m = GaussianMixture::new(3)
            .covariance_type(ct)
            .max_iter(3)
            .fit(x.view())
            .unwrap();
        let whole = SufficientStatistics::from_chunk(&m, x.view(), None).unwrap();
        let mut merged =
            SufficientStatistics::from_chunk(&m, x.slice(s![..1234, ..]), None).unwrap();
        merged
            .merge(
                &SufficientStatistics::from_chunk(&m, x.slice(s![1234..2000, ..]), None).unwrap(),
            )
            .unwrap();
        merged
            .merge(&SufficientStatistics::from_chunk(&m, x.slice(s![2000.., ..]), None).unwrap())
            .unwrap();
        assert!(rel(whole.log_likelihood(), merged.log_likelihood()) < 1e-12);
        let a = whole.finalize(1e-6).unwrap();
        let b = merged.finalize(1e-6).unwrap();
        for (u, v) in a.means().iter().zip(b.means().iter()) {
            assert!(rel(*u, *v) < 1e-12);
        }
        let cov = |m: &GmmModel| -> Vec<f64> {
            match m.covariances() {
                Covariances::Full(c) => c.iter().copied().collect(),
                Covariances::Tied(c) | Covariances::Diag(c) => c.iter().copied().collect(),
                Covariances::Spherical(c) => c.to_vec(),
            }
        };
        for (u, v) in cov(&a).iter().zip(cov(&b).iter()) {
            assert!((u - v).abs() < 1e-12 * u.abs().max(1.0));
        }
    }
}

#[test]
fn merge_rejects_statistics_of_another_model() {
    let (x, _) = mixture_data(300, 2, 2, 1, 3.0);
    let m1 = GaussianMixture::new(2).max_iter(2).fit(x.view()).unwrap();
    let m2 = GaussianMixture::new(2).max_iter(3).fit(x.view()).unwrap();
    let mut a = SufficientStatistics::from_chunk(&m1, x.view(), None).unwrap();
    let b = SufficientStatistics::from_chunk(&m2, x.view(), None).unwrap();
    let err = a.merge(&b).unwrap_err().to_string();
    assert!(err.contains("different shift"), "{err}");
}

#[test]
fn thread_count_does_not_change_the_model() {
    let (x, _) = mixture_data(20_000, 5, 4, 3, 2.0);
    for ct in CovarianceType::SKLEARN {
        let fit = |threads: usize, par: Parallelism| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                GaussianMixture::new(4)
                    .covariance_type(ct)
                    .parallelism(par)
                    .seed(5)
                    .fit(x.view())
                    .unwrap()
            })
        };
        let seq = fit(1, Parallelism::Sequential);
        let one = fit(1, Parallelism::Rayon);
        let two = fit(2, Parallelism::Rayon);
        let three = fit(3, Parallelism::Rayon);
        assert_eq!(seq, one);
        assert_eq!(one, two);
        assert_eq!(two, three);
    }
}

#[test]
fn sampling_then_fitting_recovers_the_parameters() {
    let weights = array![0.3, 0.7];
    let means = array![[-3.0, 0.0], [3.0, 1.0]];
    let cov = Covariances::Full(array![[[1.0, 0.3], [0.3, 0.5]], [[0.8, -0.2], [-0.2, 1.5]]]);
    let truth = GmmModel::new(weights, means.clone(), cov.clone()).unwrap();
    let (x, labels) = truth.sample(200_000, 11).unwrap();
    // grouped by component, ascending
    assert!(labels.windows(2).into_iter().all(|w| w[0] <= w[1]));
    let n0 = labels.iter().filter(|&&l| l == 0).count() as f64 / 200_000.0;
    assert!((n0 - 0.3).abs() < 0.01);
    let m = GaussianMixture::new(2).seed(1).fit(x.view()).unwrap();
    let order: Vec<usize> = if m.means()[[0, 0]] < 0.0 {
        vec![0, 1]
    } else {
        vec![1, 0]
    };
    for (c, &o) in order.iter().enumerate() {
        assert!((m.weights()[o] - [0.3, 0.7][c]).abs() < 0.01);
        for j in 0..2 {
            assert!((m.means()[[o, j]] - means[[c, j]]).abs() < 0.02);
        }
        if let (Covariances::Full(a), Covariances::Full(b)) = (m.covariances(), &cov) {
            for i in 0..2 {
                for j in 0..2 {
                    assert!((a[[o, i, j]] - b[[c, i, j]]).abs() < 0.03);
                }
            }
        }
    }
}

#[test]
fn sample_is_reproducible_and_has_the_right_shape() {
    let (x, _) = mixture_data(400, 3, 2, 9, 3.0);
    for ct in CovarianceType::SKLEARN {
        let m = GaussianMixture::new(2)
            .covariance_type(ct)
            .fit(x.view())
            .unwrap();
        let (a, la) = m.sample(50, 3).unwrap();
        let (b, lb) = m.sample(50, 3).unwrap();
        assert_eq!(a, b);
        assert_eq!(la, lb);
        assert_eq!(a.dim(), (50, 3));
        let (c, _) = m.sample(50, 4).unwrap();
        assert_ne!(a, c);
    }
}

#[test]
fn sample_weights_act_like_repeated_rows() {
    let (x, _) = mixture_data(300, 2, 2, 21, 4.0);
    let w = Array1::from_shape_fn(300, |i| (i % 3) as f64);
    let mut rows = Vec::new();
    for i in 0..300 {
        for _ in 0..(i % 3) {
            rows.push(x.row(i).to_owned());
        }
    }
    let views: Vec<_> = rows.iter().map(|r| r.view()).collect();
    let xr = ndarray::stack(Axis(0), &views).unwrap();
    // same initial parameters so both runs follow the same path
    let start = GaussianMixture::new(2).max_iter(1).fit(x.view()).unwrap();
    let g = GaussianMixture::new(2)
        .weights_init(start.weights().clone())
        .means_init(start.means().clone())
        .precisions_init(start.precisions());
    let a = g.fit_weighted(x.view(), w.view()).unwrap();
    let b = g.fit(xr.view()).unwrap();
    assert_eq!(a.info().n_iter, b.info().n_iter);
    assert!(rel(a.info().lower_bound, b.info().lower_bound) < 1e-12);
    for (u, v) in a.means().iter().zip(b.means().iter()) {
        assert!(rel(*u, *v) < 1e-10);
    }
}

#[test]
fn json_round_trip_is_identical() {
    let (x, _) = mixture_data(300, 3, 3, 4, 3.0);
    for ct in CovarianceType::SKLEARN {
        let mut m = GaussianMixture::new(3)
            .covariance_type(ct)
            .fit(x.view())
            .unwrap();
        m.set_feature_names(vec!["a".into(), "b".into(), "c".into()])
            .unwrap();
        let json = m.to_json().unwrap();
        let back = GmmModel::from_json(&json).unwrap();
        assert_eq!(m, back);
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        for key in [
            "format_version",
            "covariance_type",
            "weights",
            "means",
            "covariances",
            "feature_names",
            "converged",
            "n_iter",
            "lower_bound",
            "lower_bounds",
        ] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
        assert_eq!(v["covariance_type"], ct.name());
    }
}

#[test]
fn warm_start_continues_from_the_model() {
    let (x, _) = mixture_data(1000, 2, 3, 8, 2.0);
    let g = GaussianMixture::new(3).tol(0.0).seed(3);
    let ten = g.clone().max_iter(10).fit(x.view()).unwrap();
    let five = g.clone().max_iter(5).fit(x.view()).unwrap();
    let five_more = g
        .clone()
        .max_iter(5)
        .fit_warm(&five, x.view(), None)
        .unwrap();
    assert_eq!(ten.means(), five_more.means());
    assert_eq!(ten.info().lower_bound, five_more.info().lower_bound);
}

#[test]
fn n_init_keeps_the_best_lower_bound() {
    let (x, _) = mixture_data(800, 2, 5, 12, 2.5);
    let singles: Vec<f64> = (0..5u64)
        .map(|s| {
            GaussianMixture::new(5)
                .init(InitMethod::Random)
                .seed(77)
                .n_init(s as usize + 1)
                .fit(x.view())
                .unwrap()
                .info()
                .lower_bound
        })
        .collect();
    for w in singles.windows(2) {
        assert!(w[1] >= w[0]);
    }
}

#[test]
fn bic_aic_and_parameter_counts() {
    let (x, _) = mixture_data(500, 3, 2, 2, 3.0);
    let expect = [
        (CovarianceType::Full, 2 * 6 + 6 + 1),
        (CovarianceType::Tied, 6 + 6 + 1),
        (CovarianceType::Diag, 6 + 6 + 1),
        (CovarianceType::Spherical, 2 + 6 + 1),
    ];
    for (ct, p) in expect {
        let m = GaussianMixture::new(2)
            .covariance_type(ct)
            .fit(x.view())
            .unwrap();
        assert_eq!(m.n_parameters(), p);
        let ll = m.score(x.view()).unwrap() * 500.0;
        assert!(rel(m.bic(x.view()).unwrap(), -2.0 * ll + p as f64 * 500f64.ln()) < 1e-14);
        assert!(rel(m.aic(x.view()).unwrap(), -2.0 * ll + 2.0 * p as f64) < 1e-14);
    }
}

#[test]
fn max_iter_zero_keeps_the_initial_parameters_and_serialises() {
    let (x, _) = mixture_data(200, 2, 2, 5, 3.0);
    let m = GaussianMixture::new(2).max_iter(0).fit(x.view()).unwrap();
    assert_eq!(m.info().n_iter, 0);
    assert!(!m.info().converged);
    let back = GmmModel::from_json(&m.to_json().unwrap()).unwrap();
    assert_eq!(back, m);
}

#[test]
fn statistics_bytes_round_trip_and_reject_corruption() {
    for ct in CovarianceType::SKLEARN {
        let (x, _) = mixture_data(500, 3, 2, 6, 3.0);
        let m = GaussianMixture::new(2)
            .covariance_type(ct)
            .max_iter(2)
            .fit(x.view())
            .unwrap();
        let st = SufficientStatistics::from_chunk(&m, x.view(), None).unwrap();
        let bytes = st.to_bytes();
        let back = SufficientStatistics::from_bytes(&bytes).unwrap();
        assert_eq!(back, st);
        let e = SufficientStatistics::from_bytes(&bytes[..bytes.len() - 3])
            .unwrap_err()
            .to_string();
        assert!(e.contains("truncated or corrupt"), "{e}");
        let mut v = bytes.clone();
        v[4] = 9;
        assert!(SufficientStatistics::from_bytes(&v)
            .unwrap_err()
            .to_string()
            .contains("format version 9"));
        let mut v = bytes.clone();
        v[0] = b'X';
        assert!(SufficientStatistics::from_bytes(&v)
            .unwrap_err()
            .to_string()
            .contains("bad magic"));
        let mut v = bytes.clone();
        v[9] = 7; // k = 7: shapes no longer match the length
        assert!(SufficientStatistics::from_bytes(&v).is_err());
        assert!(SufficientStatistics::from_bytes(&[]).is_err());
    }
}

#[test]
fn streaming_fit_equals_in_memory_fit() {
    use gaussmix::{ArraySource, STREAM_CHUNK_MULTIPLE};
    let (x, _) = mixture_data(10_000, 3, 3, 31, 3.0);
    let w = Array1::from_shape_fn(10_000, |i| 0.5 + (i % 3) as f64);
    for ct in CovarianceType::SKLEARN {
        let start = GaussianMixture::new(3)
            .covariance_type(ct)
            .max_iter(1)
            .fit(x.view())
            .unwrap();
        let g = GaussianMixture::new(3)
            .covariance_type(ct)
            .weights_init(start.weights().clone())
            .means_init(start.means().clone())
            .precisions_init(start.precisions());
        for weights in [None, Some(w.view())] {
            let mem = g
                .fit_observed(x.view(), weights, None, &mut |_| {})
                .unwrap();
            // chunks that are multiples of the block size: bit-identical
            let mut src = ArraySource::new(x.view(), weights, 2 * STREAM_CHUNK_MULTIPLE);
            let streamed = g.fit_stream(&mut src, 1000, &mut |_| {}).unwrap();
            assert_eq!(mem, streamed, "{ct}");
            // any other chunking: equal to rounding
            let mut src = ArraySource::new(x.view(), weights, 777);
            let odd = g.fit_stream(&mut src, 1000, &mut |_| {}).unwrap();
            assert_eq!(mem.info().n_iter, odd.info().n_iter);
            for (a, b) in mem.means().iter().zip(odd.means().iter()) {
                assert!(rel(*a, *b) < 1e-12);
            }
        }
    }
    // with a sampled initialisation the streaming fit still finds the clusters
    let mut src = ArraySource::new(x.view(), None, 4096);
    let m = GaussianMixture::new(3)
        .seed(2)
        .fit_stream(&mut src, 2000, &mut |_| {})
        .unwrap();
    let full = GaussianMixture::new(3).seed(2).fit(x.view()).unwrap();
    assert!((m.score(x.view()).unwrap() - full.score(x.view()).unwrap()).abs() < 1e-3);
}

#[test]
fn streaming_reports_bad_rows_by_stream_position() {
    use gaussmix::ArraySource;
    let (mut x, _) = mixture_data(5000, 2, 2, 3, 3.0);
    x[[4321, 1]] = f64::NAN;
    let mut src = ArraySource::new(x.view(), None, 1000);
    let e = GaussianMixture::new(2)
        .fit_stream(&mut src, 100, &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("row 4321, column 1"), "{e}");
}

/// Diag and spherical models widen f32 rows exactly: the model of the f64 values. Full
/// and tied models run f32 data in float32 lanes (`tests/f32_lanes.rs` bounds the
/// difference); with those lanes off (`GAUSSMIX_KERNEL=portable`) they widen too.
#[test]
fn f32_input_gives_the_model_of_its_exact_f64_values() {
    let (x, _) = mixture_data(5000, 5, 3, 41, 3.0);
    let x32 = x.mapv(|v| v as f32);
    let x64 = x32.mapv(f64::from);
    let widened = gaussmix::kernel_level() == "portable";
    for ct in CovarianceType::SKLEARN {
        if matches!(ct, CovarianceType::Full | CovarianceType::Tied) && !widened {
            continue;
        }
        let g = GaussianMixture::new(3).covariance_type(ct).seed(4);
        let a = g.fit(x32.view()).unwrap();
        let b = g.fit(x64.view()).unwrap();
        assert_eq!(a, b, "{ct}");
        assert_eq!(
            a.score_samples(x32.view()).unwrap(),
            b.score_samples(x64.view()).unwrap()
        );
        assert_eq!(
            a.predict(x32.view()).unwrap(),
            b.predict(x64.view()).unwrap()
        );
    }
    let mut bad = x32.clone();
    bad[[7, 2]] = f32::NAN;
    assert!(GaussianMixture::new(2)
        .fit(bad.view())
        .unwrap_err()
        .to_string()
        .contains("row 7, column 2"));
}

#[test]
fn seeded_fits_follow_a_translation_and_a_common_change_of_units() {
    // scikit-learn's test_invariant_translation, for every seeded start: the rows are
    // drawn in an order of their values that a shift or a positive scale keeps, so the
    // same rows are picked and the fit is the moved fit
    let shift = [100.0, -250.0, 3.5];
    let scale = 4.0;
    for seed in 0..4u64 {
        let (x, _) = mixture_data(300, 3, 3, seed, 3.0);
        let mut moved = x.clone();
        for mut row in moved.rows_mut() {
            for j in 0..3 {
                row[j] = row[j] * scale + shift[j];
            }
        }
        for init in [
            InitMethod::KMeans,
            InitMethod::KMeansPlusPlus,
            InitMethod::RandomFromData,
            InitMethod::Random,
        ] {
            let g = GaussianMixture::new(3)
                .init(init)
                .seed(seed)
                .n_init(1)
                .tol(0.0)
                .reg_covar(1e-6)
                .max_iter(60);
            let a = g.fit(x.view()).unwrap();
            // the regularisation is a variance: it moves with the units
            let b = g.clone().reg_covar(16e-6).fit(moved.view()).unwrap();
            assert_eq!(
                a.predict(x.view()).unwrap(),
                b.predict(moved.view()).unwrap(),
                "{init:?} seed {seed}"
            );
            for (ma, mb) in a.means().outer_iter().zip(b.means().outer_iter()) {
                for j in 0..3 {
                    let want = ma[j] * scale + shift[j];
                    assert!(
                        rel(mb[j], want) < 1e-5,
                        "{init:?} seed {seed}: mean {} vs {want}",
                        mb[j]
                    );
                }
            }
        }
    }
}
