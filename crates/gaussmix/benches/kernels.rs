//! Criterion benches of the EM kernels: one E-step pass (responsibilities and
//! sufficient statistics) per covariance type, k-means++ seeding and prediction, on
//! synthetic data shaped like the reference problems (scaled down to run in seconds).
//!
//! `cargo bench -p gaussmix --bench kernels`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use gaussmix::{CovarianceType, GaussianMixture, InitMethod, Parallelism, SufficientStatistics};
use ndarray::Array2;
use rand::{Rng, SeedableRng};

fn data(n: usize, d: usize, k: usize) -> Array2<f64> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let centers: Vec<f64> = (0..k * d).map(|_| rng.random::<f64>() * 8.0).collect();
    Array2::from_shape_fn((n, d), |(i, j)| {
        centers[(i % k) * d + j] + rng.random::<f64>()
    })
}

fn e_step(c: &mut Criterion) {
    let mut g = c.benchmark_group("e_step");
    g.sample_size(10);
    for &(n, d, k, ct) in &[
        (100_000usize, 2usize, 3usize, CovarianceType::Full),
        (100_000, 16, 16, CovarianceType::Full),
        (20_000, 64, 32, CovarianceType::Full),
        (200_000, 8, 8, CovarianceType::Diag),
        (100_000, 16, 16, CovarianceType::Tied),
        (100_000, 16, 16, CovarianceType::Spherical),
    ] {
        let x = data(n, d, k);
        let m = GaussianMixture::new(k)
            .covariance_type(ct)
            .init(InitMethod::RandomFromData)
            .max_iter(2)
            .fit(x.view())
            .unwrap();
        g.throughput(Throughput::Elements(n as u64));
        for (label, par) in [
            ("1 thread", Parallelism::Sequential),
            ("all threads", Parallelism::Rayon),
        ] {
            g.bench_with_input(
                BenchmarkId::new(format!("{ct} N={n} D={d} K={k}"), label),
                &par,
                |b, &par| {
                    b.iter(|| {
                        SufficientStatistics::from_chunk_par(&m, x.view(), None, par).unwrap()
                    })
                },
            );
        }
    }
    g.finish();
}

fn predict(c: &mut Criterion) {
    let mut g = c.benchmark_group("predict_proba");
    g.sample_size(10);
    let x = data(100_000, 16, 16);
    let m = GaussianMixture::new(16)
        .init(InitMethod::RandomFromData)
        .max_iter(2)
        .fit(x.view())
        .unwrap();
    g.throughput(Throughput::Elements(100_000));
    g.bench_function("full N=100000 D=16 K=16", |b| {
        b.iter(|| m.predict_proba(x.view()).unwrap())
    });
    g.finish();
}

fn init(c: &mut Criterion) {
    let mut g = c.benchmark_group("init");
    g.sample_size(10);
    let x = data(100_000, 16, 16);
    for init in [InitMethod::KMeansPlusPlus, InitMethod::KMeans] {
        g.bench_function(format!("{init} N=100000 D=16 K=16"), |b| {
            b.iter(|| {
                GaussianMixture::new(16)
                    .init(init)
                    .max_iter(0)
                    .fit(x.view())
                    .unwrap()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, e_step, predict, init);
criterion_main!(benches);
