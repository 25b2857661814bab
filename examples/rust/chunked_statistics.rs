//! EM over data that arrives in chunks, by hand: each chunk's E-step gives additive
//! sufficient statistics, their sum gives the M-step. This is the algebra behind the
//! streaming (`fit_stream`, `gaussmix fit --stream`), multi-threaded and distributed
//! (Spark, Dask) fits; the example checks that it reproduces an in-memory fit.
//!
//! cargo run --release -p gaussmix --example chunked_statistics

use gaussmix::{ArraySource, GaussianMixture, SufficientStatistics, STREAM_CHUNK_MULTIPLE};
use ndarray::Array2;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // three overlapping clusters in 2-D, generated deterministically
    let n = 30_000;
    let x = Array2::from_shape_fn((n, 2), |(i, j)| {
        let c = (i % 3) as f64;
        // a sum of three uniforms: roughly normal noise
        let u =
            |s: usize| ((i * 7919 + j * 104_729 + s * 15_485_863) as f64 * 0.618_033_988_7).fract();
        let noise = u(1) + u(2) + u(3) - 1.5;
        if j == 0 {
            1.5 * c + noise
        } else {
            0.8 * noise - c * c
        }
    });

    // start from random responsibilities (one EM step), then run ten EM iterations
    // chunk by chunk
    let start = GaussianMixture::new(3)
        .init(gaussmix::InitMethod::Random)
        .max_iter(1)
        .seed(0)
        .fit(x.view())?;
    let mut model = start.clone();
    let chunk = 4 * STREAM_CHUNK_MULTIPLE;
    for _ in 0..10 {
        let mut total: Option<SufficientStatistics> = None;
        for rows in x.axis_chunks_iter(ndarray::Axis(0), chunk) {
            let s = SufficientStatistics::from_chunk(&model, rows, None)?;
            match &mut total {
                None => total = Some(s),
                Some(t) => t.merge(&s)?,
            }
        }
        let total = total.ok_or("no rows")?;
        println!("mean log-likelihood {:.8}", total.mean_log_likelihood());
        model = total.finalize(1e-6)?;
    }

    // the same ten iterations as one warm-started in-memory fit
    let direct = GaussianMixture::new(3)
        .max_iter(10)
        .tol(0.0)
        .fit_warm(&start, x.view(), None)?;
    let diff = (&model.means().view() - &direct.means().view())
        .iter()
        .fold(0.0f64, |m, v| m.max(v.abs()));
    println!("largest difference of the means from the in-memory fit: {diff:e}");
    assert!(diff < 1e-9);

    // and through the library's streaming entry point
    let mut source = ArraySource::new(x.view(), None, chunk);
    let streamed = GaussianMixture::new(3)
        .seed(0)
        .fit_stream(&mut source, 200_000, &mut |_| {})?;
    println!(
        "fit_stream: converged {} after {} iterations",
        streamed.info().converged,
        streamed.info().n_iter
    );
    Ok(())
}
