//! Checkpoint and resume: a fit resumed from any of its checkpoints ends with the model
//! of the fit never interrupted, bit for bit, in memory and streamed, for several
//! initialisations, families, weights, the noise component and the re-seed policy; a
//! checkpoint of another fit is refused by name.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use gaussmix::checkpoint::{Checkpointer, EmCheckpoint};
use gaussmix::{
    ArraySource, CovarianceType, DegeneratePolicy, GaussianMixture, GmmError, InitMethod,
    STREAM_CHUNK_MULTIPLE,
};
use ndarray::{Array1, Array2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn blobs(n: usize, seed: u64) -> Array2<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let centres = [[0.0, 0.0, 0.0], [4.0, 1.0, -1.0], [1.0, 5.0, 2.0]];
    Array2::from_shape_fn((n, 3), |(i, j)| {
        let c = centres[i % 3];
        c[j] + (1.0 + j as f64 * 0.3) * (rng.random::<f64>() - 0.5) * 3.0
    })
}

/// Every checkpoint of an uninterrupted fit, as JSON, and the fit's model.
fn all_checkpoints(
    g: &GaussianMixture,
    x: &Array2<f64>,
    w: Option<&Array1<f64>>,
) -> (gaussmix::GmmModel, Vec<String>) {
    let mut saved = Vec::new();
    let mut sink = |c: &EmCheckpoint| {
        saved.push(c.to_json()?);
        Ok(())
    };
    let mut ck = Checkpointer::every_iterations(1, &mut sink);
    let m = g
        .fit_checkpointed(x.view(), w.map(|w| w.view()), &mut |_| {}, &mut ck)
        .unwrap();
    (m, saved)
}

fn resume(
    g: &GaussianMixture,
    x: &Array2<f64>,
    w: Option<&Array1<f64>>,
    json: &str,
) -> gaussmix::Result<gaussmix::GmmModel> {
    let mut ignore = |_: &EmCheckpoint| Ok(());
    let mut ck = Checkpointer::every_iterations(3, &mut ignore)
        .resume(EmCheckpoint::from_json(json).expect("a checkpoint reads back"));
    g.fit_checkpointed(x.view(), w.map(|w| w.view()), &mut |_| {}, &mut ck)
}

#[test]
fn resuming_from_any_checkpoint_gives_the_uninterrupted_model() {
    let x = blobs(600, 1);
    let w = Array1::from_shape_fn(600, |i| 0.5 + (i % 7) as f64);
    let cases: Vec<(&str, GaussianMixture, bool)> = vec![
        (
            "full, n_init 3",
            GaussianMixture::new(3).n_init(3).tol(1e-8).seed(4),
            false,
        ),
        (
            "diag, weights",
            GaussianMixture::new(4)
                .covariance_type(CovarianceType::Diag)
                .tol(1e-8),
            true,
        ),
        (
            "VEV, k-means++",
            GaussianMixture::new(3)
                .covariance_type("VEV".parse().unwrap())
                .init(InitMethod::KMeansPlusPlus)
                .n_init(2)
                .tol(1e-9),
            false,
        ),
        (
            "spherical, noise",
            GaussianMixture::new(3)
                .covariance_type(CovarianceType::Spherical)
                .noise(true)
                .tol(1e-8),
            false,
        ),
        (
            "full, reseed, k 8",
            GaussianMixture::new(8)
                .degenerate(DegeneratePolicy::Reseed)
                .max_iter(60)
                .tol(1e-9),
            false,
        ),
    ];
    for (name, g, weighted) in cases {
        let w = weighted.then_some(&w);
        let plain = g
            .fit_observed(x.view(), w.map(|w| w.view()), None, &mut |_| {})
            .unwrap();
        let (whole, saved) = all_checkpoints(&g, &x, w);
        assert_eq!(whole, plain, "{name}: checkpointing changed the fit");
        assert!(saved.len() >= 3, "{name}: {} checkpoints", saved.len());
        for (i, json) in saved.iter().enumerate() {
            let resumed = resume(&g, &x, w, json).unwrap();
            assert_eq!(resumed, whole, "{name}: resumed from checkpoint {i}");
        }
    }
}

#[test]
fn a_fit_with_missing_values_resumes_bit_for_bit() {
    let mut x = blobs(600, 7);
    for i in (0..600).step_by(7) {
        x[[i, i % 3]] = f64::NAN;
    }
    let g = GaussianMixture::new(3)
        .missing(gaussmix::MissingValues::Em)
        .tol(1e-9);
    let (whole, saved) = all_checkpoints(&g, &x, None);
    assert_eq!(
        whole,
        g.fit_observed(x.view(), None, None, &mut |_| {}).unwrap()
    );
    for json in &saved {
        assert_eq!(resume(&g, &x, None, json).unwrap(), whole);
    }
    // a gap filled in is other data
    let mut filled = x.clone();
    filled[[0, 0]] = 0.0;
    let e = resume(&g, &filled, None, &saved[0]).unwrap_err();
    assert!(e.to_string().contains("other values"), "{e}");
}

#[test]
fn a_streamed_fit_resumes_bit_for_bit() {
    let x = blobs(3 * STREAM_CHUNK_MULTIPLE + 17, 2);
    let g = GaussianMixture::new(3)
        .covariance_type(CovarianceType::Tied)
        .n_init(2)
        .tol(1e-9);
    let mut saved = Vec::new();
    let mut sink = |c: &EmCheckpoint| {
        saved.push(c.to_json()?);
        Ok(())
    };
    let whole = {
        let mut src = ArraySource::new(x.view(), None, STREAM_CHUNK_MULTIPLE);
        let mut ck = Checkpointer::every_iterations(2, &mut sink);
        g.fit_stream_checkpointed(&mut src, 500, &mut |_| {}, &mut ck)
            .unwrap()
    };
    let mut src = ArraySource::new(x.view(), None, STREAM_CHUNK_MULTIPLE);
    assert_eq!(whole, g.fit_stream(&mut src, 500, &mut |_| {}).unwrap());
    assert!(saved.len() >= 2);
    for json in &saved {
        let mut ignore = |_: &EmCheckpoint| Ok(());
        let mut ck = Checkpointer::every_iterations(1, &mut ignore)
            .resume(EmCheckpoint::from_json(json).unwrap());
        let mut src = ArraySource::new(x.view(), None, STREAM_CHUNK_MULTIPLE);
        let resumed = g
            .fit_stream_checkpointed(&mut src, 500, &mut |_| {}, &mut ck)
            .unwrap();
        assert_eq!(resumed, whole);
    }
    // an in-memory fit does not take a streamed fit's checkpoint
    let e = resume(&g, &x, None, &saved[0]).unwrap_err();
    assert!(e.to_string().contains("mode was stream"), "{e}");
}

#[test]
fn an_interrupt_leaves_a_checkpoint_that_resumes() {
    let x = blobs(900, 3);
    let flag = Arc::new(AtomicBool::new(false));
    let g = GaussianMixture::new(3).tol(0.0).max_iter(25);
    let whole = g.fit(x.view()).unwrap();
    let stopping = g.clone().interrupt(flag.clone());
    let mut saved = Vec::new();
    let mut sink = |c: &EmCheckpoint| {
        saved.push(c.to_json()?);
        Ok(())
    };
    // by iterations: never due in 25; the interrupt forces one
    let mut ck = Checkpointer::every_iterations(1000, &mut sink);
    let e = stopping
        .fit_checkpointed(
            x.view(),
            None,
            &mut |ev| {
                if ev.iter == 7 {
                    flag.store(true, Ordering::Relaxed)
                }
            },
            &mut ck,
        )
        .unwrap_err();
    assert!(matches!(e, GmmError::Interrupted), "{e}");
    assert_eq!(saved.len(), 1);
    let c = EmCheckpoint::from_json(&saved[0]).unwrap();
    assert_eq!(c.iterations_done(), 7);
    assert_eq!(resume(&g, &x, None, &saved[0]).unwrap(), whole);
}

#[test]
fn a_checkpoint_of_another_fit_is_refused_by_name() {
    let x = blobs(300, 4);
    let g = GaussianMixture::new(3).tol(1e-9);
    let (_, saved) = all_checkpoints(&g, &x, None);
    let json = &saved[1];
    let e = resume(&GaussianMixture::new(2).tol(1e-9), &x, None, json).unwrap_err();
    assert!(
        e.to_string().contains("n_components was 3 and is now 2"),
        "{e}"
    );
    let e = resume(&g.clone().seed(9), &x, None, json).unwrap_err();
    assert!(e.to_string().contains("seed was 0 and is now 9"), "{e}");
    let mut y = x.clone();
    y[[17, 1]] += 1e-12;
    let e = resume(&g, &y, None, json).unwrap_err();
    assert!(e.to_string().contains("other values or weights"), "{e}");
    let e = resume(&g, &blobs(301, 4), None, json).unwrap_err();
    assert!(e.to_string().contains("300 rows × 3 columns"), "{e}");
    let ones = Array1::from_elem(300, 2.0);
    let e = resume(&g, &x, Some(&ones), json).unwrap_err();
    assert!(e.to_string().contains("other values or weights"), "{e}");
    // the thread count is not part of a fit's identity
    let threads = g.clone().parallelism(gaussmix::Parallelism::Sequential);
    assert_eq!(
        resume(&threads, &x, None, json).unwrap(),
        g.fit(x.view()).unwrap()
    );
}

#[test]
fn a_failing_sink_stops_the_fit_with_its_error() {
    let x = blobs(300, 5);
    let mut sink = |_: &EmCheckpoint| {
        Err(GmmError::Checkpoint {
            reason: "disk full".into(),
        })
    };
    let mut ck = Checkpointer::every_iterations(2, &mut sink);
    let e = GaussianMixture::new(3)
        .tol(0.0)
        .max_iter(10)
        .fit_checkpointed(x.view(), None, &mut |_| {}, &mut ck)
        .unwrap_err();
    assert!(e.to_string().contains("disk full"), "{e}");
}

#[test]
fn damaged_checkpoints_are_refused() {
    let x = blobs(300, 6);
    let (_, saved) = all_checkpoints(&GaussianMixture::new(2).tol(1e-9), &x, None);
    let json = &saved[0];
    let truncated = &json[..json.len() / 2];
    assert!(matches!(
        EmCheckpoint::from_json(truncated),
        Err(GmmError::Decode { .. })
    ));
    // a model whose weights were edited no longer validates
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    let mut bad = v.clone();
    bad["model"]["weights"][0] = serde_json::json!(7.0);
    assert!(EmCheckpoint::from_json(&bad.to_string()).is_err());
}
