//! `gaussmix bench-em` (hidden): times EM the way `shared/bench/sklearn_bench.py` times
//! scikit-learn, so `bench/run_em.py` can print the two side by side.

use std::time::Instant;

use anyhow::Result;
use clap::Args;
use gaussmix::{CovarianceType, Float, GaussianMixture, IterationEvent};
use ndarray::ArrayView2;

use crate::io::{self, ReadOptions};

/// Arguments of `bench-em`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Data (NPY).
    pub data: String,
    /// Components.
    #[arg(short = 'k', long = "k")]
    pub k: usize,
    /// Covariance type.
    #[arg(long, value_enum, ignore_case = true, default_value = "full")]
    pub covariance: crate::args::Covariance,
    /// Initialisation (k-means++ by default, as `bench/run_em.py` has always timed it;
    /// `kmeans` is the fit's default, Lloyd's iterations from k-means++ centres).
    #[arg(long, value_enum, ignore_case = true, default_value = "k-means++")]
    pub init: crate::args::Init,
    /// EM iterations timed (tol = 0).
    #[arg(long, default_value_t = 20)]
    pub iters: usize,
    /// Worker threads.
    #[arg(long)]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub dtype: crate::args::DtypeArg,
}

/// Peak resident memory of this process (VmHWM), MiB.
pub fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Runs the benchmark and prints one JSON object.
pub fn run(a: &BenchArgs) -> Result<()> {
    let cov: CovarianceType = a.covariance.get();
    if a.iters < 2 {
        return Err(crate::exit::usage(
            "--iters must be at least 2 (the time per iteration is a difference)",
        ));
    }
    let t = Instant::now();
    let data = io::read_dataset(
        &a.data,
        &ReadOptions {
            quiet: true,
            ..Default::default()
        },
    )?;
    let load_s = t.elapsed().as_secs_f64();
    let rss_after_load = peak_rss_mib();
    let x32 = (a.dtype.dtype == crate::args::Dtype::F32).then(|| data.x.mapv(|v| v as f32));
    let body = || match &x32 {
        Some(x32) => time_em(a, cov, x32.view(), load_s, rss_after_load),
        None => time_em(a, cov, data.x.view(), load_s, rss_after_load),
    };
    let v = match a.threads {
        Some(t) => rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build()?
            .install(body)?,
        None => body()?,
    };
    println!("{v}");
    Ok(())
}

/// Times the fit, prediction and scoring on `x` (f64 as read, or its f32 copy).
fn time_em<T: Float>(
    a: &BenchArgs,
    cov: CovarianceType,
    x: ArrayView2<T>,
    load_s: f64,
    rss_after_load: f64,
) -> Result<serde_json::Value> {
    let (n, d) = x.dim();
    let k = a.k;
    let elem = std::mem::size_of::<T>();
    {
        let g = GaussianMixture::new(k)
            .covariance_type(cov)
            .init(a.init.get())
            .tol(0.0)
            .seed(0);
        // one iteration (init + 1), then `iters` with per-iteration timestamps
        let t = Instant::now();
        let one = g.clone().max_iter(1).fit(x)?;
        let t1 = t.elapsed().as_secs_f64();
        let mut stamps = Vec::new();
        let t = Instant::now();
        let model = g.clone().max_iter(a.iters).fit_observed(
            x,
            None,
            None,
            &mut |_: &IterationEvent| stamps.push(t.elapsed().as_secs_f64()),
        )?;
        let tn = t.elapsed().as_secs_f64();
        let init_s = stamps[0] - (stamps[1] - stamps[0]);
        let per_iter = (stamps[a.iters - 1] - stamps[0]) / (a.iters - 1) as f64;
        let (mut tp, mut ts) = (f64::MAX, f64::MAX);
        for _ in 0..2 {
            let t = Instant::now();
            let _ = model.predict_proba(x)?;
            tp = tp.min(t.elapsed().as_secs_f64());
            let t = Instant::now();
            let _ = model.score_samples(x)?;
            ts = ts.min(t.elapsed().as_secs_f64());
        }
        let flops = 2.0 * n as f64 * k as f64 * (d * (d + 1)) as f64;
        Ok(serde_json::json!({
            "problem_file": a.data, "cov": cov.name(), "dtype": if elem == 4 { "f32" } else { "f64" }, "init": a.init.get().to_string(), "N": n, "D": d, "K": k,
            "threads": a.threads.unwrap_or_else(rayon::current_num_threads),
            "load_s": load_s, "X_MiB": (n * d * elem) as f64 / 1048576.0, "rss_after_load_MiB": rss_after_load,
            "fit_time_s_maxiter1": t1, "fit_time_s_maxiter_n": tn, "n_iter": model.info().n_iter,
            "init_time_s": init_s,
            "iter_time_s": per_iter,
            "iter_time_s_subtraction": (tn - t1) / (a.iters - 1) as f64,
            "predict_proba_s": tp, "score_samples_s": ts,
            "lower_bound": model.info().lower_bound, "lower_bound_after_1_iter": one.info().lower_bound,
            "gflops_2NKD(D+1)": flops / per_iter / 1e9,
            "peak_rss_MiB": peak_rss_mib(),
        }))
    }
}
