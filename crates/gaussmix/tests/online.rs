//! Online EM (Cappé & Moulines 2009): agreement with batch EM on stationary data, the
//! incremental-EM identity of the cumulative step size, determinism, drift tracking, the
//! saved state and bad input.

use gaussmix::online::{OnlineEm, StepSize};
use gaussmix::{
    CovarianceType, Covariances, GaussianMixture, GmmError, GmmModel, MissingValues, Parallelism,
    SufficientStatistics,
};
use ndarray::{array, s, Array1, Array2, Axis};

/// Three well-separated 2-D components with correlated covariances.
fn truth() -> GmmModel {
    let cov = ndarray::Array3::from_shape_vec(
        (3, 2, 2),
        vec![1.0, 0.3, 0.3, 0.5, 0.6, -0.2, -0.2, 0.8, 0.4, 0.0, 0.0, 1.2],
    )
    .unwrap();
    GmmModel::new(
        array![0.5, 0.3, 0.2],
        array![[0.0, 0.0], [8.0, 1.0], [-4.0, 9.0]],
        Covariances::Full(cov),
    )
    .unwrap()
}

/// `n` rows of [`truth`] in random order (its `sample` groups them by component).
fn shuffled(n: usize, seed: u64) -> Array2<f64> {
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    let (x, _) = truth().sample(n, seed).unwrap();
    let mut idx: Vec<usize> = (0..n).collect();
    idx.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
    x.select(Axis(0), &idx)
}

/// K×D×D covariances of any storage, flattened.
fn full(c: &Covariances, k: usize, d: usize) -> Vec<f64> {
    c.to_full(k, d).into_iter().collect()
}

fn matched_mean_error(a: &GmmModel, b: &GmmModel) -> f64 {
    // each component of a to the nearest of b
    let mut worst: f64 = 0.0;
    for ra in a.means().rows() {
        let best = b
            .means()
            .rows()
            .into_iter()
            .map(|rb| (&ra - &rb).mapv(|v| v * v).sum().sqrt())
            .fold(f64::INFINITY, f64::min);
        worst = worst.max(best);
    }
    worst
}

#[test]
fn stationary_stream_reaches_the_batch_fit() {
    let x = shuffled(60_000, 11);
    let builder = GaussianMixture::new(3).seed(1);
    let batch = builder.fit(x.view()).unwrap();
    let mut online = OnlineEm::new(builder.clone());
    for _pass in 0..3 {
        for b in x.axis_chunks_iter(Axis(0), 2000) {
            online.partial_fit(b, None).unwrap();
        }
    }
    assert_eq!(online.n_batches(), 90);
    let m = online.model().unwrap();
    // Tolerance: the last blend remembers n_eff = 2000·(90+2)^0.6 ≈ 30,000 rows, so each
    // component mean has a Monte Carlo error of about σ/√(π_k n_eff) ≤ 1.1/√6000 ≈ 0.014
    // relative to the batch fit; 0.06 is four such errors, and far below the separation.
    let err = matched_mean_error(m, &batch);
    eprintln!("online vs batch: worst mean error {err:.2e}");
    assert!(err < 0.06, "online means {err} from the batch fit's");
    // the mean log-likelihood on all rows: the same Monte Carlo argument gives O(1e-3)
    let (lo, lb) = (m.score(x.view()).unwrap(), batch.score(x.view()).unwrap());
    eprintln!("mean log-likelihood: online {lo:.6}, batch {lb:.6}");
    assert!(lb - lo < 1e-2 && lb - lo > -1e-3, "online {lo}, batch {lb}");
}

/// With γ_t = n_t / Σn the blend times Σn is the sum of the batch statistics, each under
/// the parameters current when its batch arrived, and the parameters are that sum's
/// M-step (incremental EM): checked against an independent sum for every family class.
#[test]
fn cumulative_step_equals_the_m_step_of_all_rows_seen() {
    let x = shuffled(5000, 3);
    let w = Array1::from_shape_fn(5000, |i| 0.5 + (i % 7) as f64 * 0.25);
    let bounds = [0usize, 1200, 1900, 3100, 3700, 5000]; // uneven batches
    for ct in [
        CovarianceType::Full,
        CovarianceType::Tied,
        CovarianceType::Diag,
        CovarianceType::Spherical,
        CovarianceType::EII,
    ] {
        let builder = GaussianMixture::new(3).covariance_type(ct).seed(4);
        let mut online = OnlineEm::new(builder)
            .step_size(StepSize::Cumulative)
            .init_starts(1);
        let mut models = Vec::new();
        for win in bounds.windows(2) {
            let (b, e) = (win[0], win[1]);
            if let Some(m) = online.model() {
                models.push(m.clone());
            }
            let step = online
                .partial_fit(x.slice(s![b..e, ..]), Some(w.slice(s![b..e])))
                .unwrap();
            if step.t == 1 {
                // the first call initialised by a fit on its batch, then one step from it
                models.push(
                    GaussianMixture::new(3)
                        .covariance_type(ct)
                        .seed(4)
                        .fit_weighted(x.slice(s![b..e, ..]), w.slice(s![b..e]))
                        .unwrap(),
                );
            }
        }
        let last = online.model().unwrap().clone();
        let shift = last.means().to_owned();
        let mut total: Option<SufficientStatistics> = None;
        for (win, m) in bounds.windows(2).zip(&models) {
            let (b, e) = (win[0], win[1]);
            let st =
                SufficientStatistics::from_chunk(m, x.slice(s![b..e, ..]), Some(w.slice(s![b..e])))
                    .unwrap()
                    .shifted(shift.view())
                    .unwrap();
            match &mut total {
                None => total = Some(st),
                Some(t) => t.merge(&st).unwrap(),
            }
        }
        let total = total.unwrap();
        let seen = online.weight_seen();
        assert!((seen - w.sum()).abs() < 1e-9 * seen);
        assert!((online.effective_size() - seen).abs() < 1e-9 * seen);
        // the statistics identity: n_eff · s_t = Σ_t ŝ_t
        let blend = online.statistics().unwrap();
        for (a, b) in blend.nk().iter().zip(total.nk().iter()) {
            assert!(
                (a * seen - b).abs() < 1e-9 * b.abs().max(1.0),
                "{ct}: nk {a}·{seen} vs {b}"
            );
        }
        let ll = blend.log_likelihood() * seen;
        assert!(
            (ll - total.log_likelihood()).abs() < 1e-9 * ll.abs(),
            "{ct}: ll"
        );
        // and the parameters are its M-step
        let expect = total.finalize(1e-6).unwrap();
        let close = |a: &[f64], b: &[f64], what: &str| {
            for (u, v) in a.iter().zip(b) {
                assert!(
                    (u - v).abs() < 1e-8 * v.abs().max(1.0),
                    "{ct}: {what} {u} vs {v}"
                );
            }
        };
        close(
            last.weights().as_slice().unwrap(),
            expect.weights().as_slice().unwrap(),
            "weights",
        );
        close(
            last.means().as_slice().unwrap(),
            expect.means().as_slice().unwrap(),
            "means",
        );
        close(
            &full(last.covariances(), 3, 2),
            &full(expect.covariances(), 3, 2),
            "covariances",
        );
    }
}

#[test]
fn shifting_statistics_keeps_their_m_step() {
    let x = shuffled(3000, 5);
    for ct in [
        CovarianceType::Full,
        CovarianceType::Tied,
        CovarianceType::Diag,
        CovarianceType::Spherical,
    ] {
        let m = GaussianMixture::new(3)
            .covariance_type(ct)
            .seed(0)
            .max_iter(3)
            .fit(x.view())
            .unwrap();
        let st = SufficientStatistics::from_chunk(&m, x.view(), None).unwrap();
        let other = m.means().mapv(|v| v * 0.5 + 3.0);
        let there = st.shifted(other.view()).unwrap();
        let back = there.shifted(m.means().view()).unwrap();
        let (a, b, c) = (
            st.finalize(1e-6).unwrap(),
            there.finalize(1e-6).unwrap(),
            back.finalize(1e-6).unwrap(),
        );
        for z in [&b, &c] {
            for (u, v) in a.means().iter().zip(z.means()) {
                assert!((u - v).abs() < 1e-10 * v.abs().max(1.0), "{ct} means");
            }
            let (fa, fz) = (full(a.covariances(), 3, 2), full(z.covariances(), 3, 2));
            for (u, v) in fa.iter().zip(fz.iter()) {
                assert!(
                    (u - v).abs() < 1e-10 * v.abs().max(1.0),
                    "{ct} covariances {u} {v}"
                );
            }
        }
        assert!(st.shifted(Array2::zeros((2, 2)).view()).is_err());
    }
}

fn run(par: Parallelism, seed: u64) -> String {
    let x = shuffled(20_000, 8);
    let mut online = OnlineEm::new(GaussianMixture::new(3).seed(seed).parallelism(par));
    for b in x.axis_chunks_iter(Axis(0), 3000) {
        online.partial_fit(b, None).unwrap();
    }
    online.to_json().unwrap()
}

#[test]
fn deterministic_for_a_seed_whatever_the_threads() {
    let a = run(Parallelism::Sequential, 2);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap();
    let b = pool.install(|| run(Parallelism::Rayon, 2));
    assert_eq!(a, b);
    assert_eq!(a, run(Parallelism::Sequential, 2));
}

/// A 1-D two-component stream whose first mean drifts from 0 to 20 over 100 batches: a
/// fixed step tracks it, the cumulative (1/t) step lags by about half the drift.
#[test]
fn fixed_step_tracks_a_drifting_mean() {
    let steps = 100;
    let fit = |step: StepSize| {
        let mut online = OnlineEm::new(GaussianMixture::new(2).seed(0)).step_size(step);
        let mut last_err = 0.0;
        for t in 0..steps {
            let centre = 20.0 * t as f64 / steps as f64;
            let truth = GmmModel::new(
                array![0.5, 0.5],
                array![[centre], [-30.0]],
                Covariances::Spherical(array![1.0, 1.0]),
            )
            .unwrap();
            let (x, _) = truth.sample(500, 100 + t as u64).unwrap();
            online.partial_fit(x.view(), None).unwrap();
            let m = online.model().unwrap();
            let hi = m
                .means()
                .column(0)
                .iter()
                .copied()
                .fold(f64::NEG_INFINITY, f64::max);
            last_err = (hi - centre).abs();
        }
        last_err
    };
    let fixed = fit(StepSize::Fixed(0.3));
    let cumulative = fit(StepSize::Cumulative);
    eprintln!("drift lag: fixed {fixed:.3}, cumulative {cumulative:.3}");
    // per batch the mean moves 0.2; a fixed step γ lags by about 0.2(1−γ)/γ ≈ 0.47
    assert!(fixed < 1.0, "fixed step lags {fixed}");
    assert!(cumulative > 5.0, "cumulative step lags only {cumulative}");
}

#[test]
fn saved_state_continues_the_schedule() {
    let x = shuffled(9000, 9);
    let builder = GaussianMixture::new(3)
        .seed(0)
        .covariance_type(CovarianceType::Diag);
    let mut a = OnlineEm::new(builder.clone());
    for b in x.slice(s![..6000, ..]).axis_chunks_iter(Axis(0), 2000) {
        a.partial_fit(b, None).unwrap();
    }
    let saved = a.to_json().unwrap();
    // a plain model reader still reads it
    let plain = GmmModel::from_json(&saved).unwrap();
    assert_eq!(&plain, a.model().unwrap());
    let mut b = OnlineEm::from_json(GaussianMixture::new(1), &saved).unwrap();
    assert_eq!(b.n_batches(), 3);
    let rest = x.slice(s![6000.., ..]);
    let sa = a.partial_fit(rest, None).unwrap();
    let sb = b.partial_fit(rest, None).unwrap();
    assert_eq!(sa, sb);
    assert_eq!(sa.t, 4);
    assert_eq!(a.to_json().unwrap(), b.to_json().unwrap());
    // a plain model file starts a fresh schedule from the model
    let mut c = OnlineEm::from_json(GaussianMixture::new(1), &plain.to_json().unwrap()).unwrap();
    assert_eq!(c.n_batches(), 0);
    let sc = c.partial_fit(rest, None).unwrap();
    assert_eq!((sc.t, sc.gamma), (1, 1.0));
    // corrupt states are errors
    let bad = saved.replace(
        "\"format_version\": 1,\n    \"prior\"",
        "\"format_version\": 99,\n    \"prior\"",
    );
    assert_ne!(bad, saved);
    assert!(matches!(
        OnlineEm::from_json(GaussianMixture::new(1), &bad),
        Err(GmmError::Decode { .. })
    ));
    assert!(OnlineEm::from_json(GaussianMixture::new(1), "{").is_err());
}

#[test]
fn bad_batches_are_clear_errors_and_change_nothing() {
    let x = shuffled(3000, 1);
    let mut online = OnlineEm::new(GaussianMixture::new(3).seed(0));
    online.partial_fit(x.view(), None).unwrap();
    let before = online.to_json().unwrap();
    let wide = Array2::<f64>::zeros((10, 3));
    let e = online
        .partial_fit(wide.view(), None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("2 columns") && e.contains("3 columns"), "{e}");
    let e = online
        .partial_fit(Array2::<f64>::zeros((0, 2)).view(), None)
        .unwrap_err();
    assert!(matches!(e, GmmError::EmptyData { .. }), "{e}");
    let mut nan = x.slice(s![..50, ..]).to_owned();
    nan[[7, 1]] = f64::NAN;
    let e = online.partial_fit(nan.view(), None).unwrap_err();
    assert!(
        matches!(
            e,
            GmmError::NonFinite {
                row: 7,
                column: 1,
                ..
            }
        ),
        "{e}"
    );
    let zero = Array1::zeros(50);
    let e = online
        .partial_fit(x.slice(s![..50, ..]), Some(zero.view()))
        .unwrap_err();
    assert!(matches!(e, GmmError::InvalidWeights { .. }), "{e}");
    assert_eq!(online.to_json().unwrap(), before);
    for bad in [
        StepSize::Decay {
            decay: 0.5,
            offset: 1.0,
        },
        StepSize::Decay {
            decay: 0.7,
            offset: -1.0,
        },
        StepSize::Fixed(0.0),
        StepSize::Fixed(1.5),
    ] {
        let mut o = OnlineEm::new(GaussianMixture::new(3)).step_size(bad);
        assert!(
            matches!(
                o.partial_fit(x.view(), None),
                Err(GmmError::InvalidParam { .. })
            ),
            "{bad:?}"
        );
    }
    // NaN is fine with masked EM
    let mut masked = OnlineEm::new(GaussianMixture::new(3).seed(0).missing(MissingValues::Em));
    masked.partial_fit(x.view(), None).unwrap();
    masked.partial_fit(nan.view(), None).unwrap();
    assert_eq!(masked.n_batches(), 2);
}

/// The first batch is fitted with at least `DEFAULT_INIT_STARTS` starts (the builder's
/// `n_init` when larger); `init_starts(1)` leaves the builder's own.
#[test]
fn first_batch_gets_several_starts() {
    use gaussmix::online::DEFAULT_INIT_STARTS;
    let x = shuffled(4000, 12);
    let (first, second) = (x.slice(s![..2000, ..]), x.slice(s![2000.., ..]));
    let json = |mut o: OnlineEm| {
        o.partial_fit(first, None).unwrap();
        o.partial_fit(second, None).unwrap();
        o.to_json().unwrap()
    };
    let b = GaussianMixture::new(3)
        .seed(5)
        .init(gaussmix::InitMethod::Random);
    let default = json(OnlineEm::new(b.clone()));
    assert_eq!(
        OnlineEm::new(b.clone()).init_starts_value(),
        DEFAULT_INIT_STARTS
    );
    assert_eq!(
        default,
        json(OnlineEm::new(b.clone().n_init(DEFAULT_INIT_STARTS)).init_starts(1))
    );
    assert_eq!(
        json(OnlineEm::new(b.clone().n_init(8))),
        json(OnlineEm::new(b.clone()).init_starts(8))
    );
    // one start: the first model is one step from the builder's own fit of the batch
    let mut one = OnlineEm::new(b.clone()).init_starts(0);
    assert_eq!(one.init_starts_value(), 1);
    one.partial_fit(first, None).unwrap();
    let fit = b.fit(first).unwrap();
    let stats = SufficientStatistics::from_chunk(&fit, first, None).unwrap();
    let expect = stats.finalize(1e-6).unwrap();
    for (u, v) in one.model().unwrap().means().iter().zip(expect.means()) {
        assert!((u - v).abs() < 1e-9 * v.abs().max(1.0), "{u} {v}");
    }
}
