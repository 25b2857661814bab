//! The model subcommands of `gaussmix`: `fit`, `predict`, `score`, `sample` and `info`
//! (their arguments and what each one does).

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use gaussmix::checkpoint::{Checkpointer, EmCheckpoint};
use gaussmix::{Covariances, GaussianMixture, GmmError, GmmModel, IterationEvent};
use ndarray::{Array2, Axis};
use serde_json::{json, Value};

use crate::args::{Covariance, Degenerate, Dtype, DtypeArg, Init, JsonArg};
use crate::exit::{self, NotConverged};
use crate::interrupt;
use crate::io::{self, ReadOptions};
use crate::missing::{self as gaps, MissingArg};
use crate::output::{self, json_f64};
use crate::progress::Progress;
use crate::util::{load_model, read_for_model, with_threads};

/// Moved to [`crate::args`]; re-exported for the commands that still import it from here.
pub use crate::args::DataArgs;

/// Arguments of `fit`.
#[derive(Args, Debug)]
pub struct FitArgs {
    /// Data file (CSV, NPY, NPZ, Parquet) or `-` for standard input.
    pub data: String,
    /// Number of components.
    #[arg(short = 'k', long = "k")]
    pub k: usize,
    /// Covariance family: scikit-learn's full, tied, diag, spherical, or one of mclust's
    /// EII, VII, EEI, VEI, EVI, VVI, EEE, VEE, EVE, VVE, EEV, VEV, EVV, VVV.
    #[arg(long, value_enum, ignore_case = true, default_value = "full")]
    pub covariance: Covariance,
    /// Initialisation.
    #[arg(long, value_enum, ignore_case = true, default_value = "kmeans")]
    pub init: Init,
    /// Run the k-means / k-means++ / random-row initialisation on standardised columns.
    #[arg(long)]
    pub init_standardized: bool,
    /// Start from the parameters of a model file (weights, means, covariances) instead.
    #[arg(long, value_name = "MODEL")]
    pub start: Option<String>,
    /// Parameters of the --start model to hold fixed: any of weights, means, covariances.
    #[arg(long, value_delimiter = ',', value_name = "WHAT")]
    pub fix: Vec<String>,
    /// MAP EM with mclust's default conjugate prior.
    #[arg(long)]
    pub prior: bool,
    /// Add a uniform noise component (its weight estimated by EM; label K in predictions).
    #[arg(long)]
    pub noise: bool,
    /// Equal mixing proportions.
    #[arg(long)]
    pub equal_weights: bool,
    /// What to do about a degenerate component (a spike on a few rows or one recorded
    /// value): warn (keep it and say so), error, reseed, drop, or keep (silently).
    #[arg(long, value_enum, ignore_case = true, default_value = "warn")]
    pub degenerate: Degenerate,
    /// Number of initialisations; the best lower bound is kept.
    #[arg(long, default_value_t = 1)]
    pub n_init: usize,
    /// Maximum EM iterations per initialisation.
    #[arg(long, default_value_t = 100)]
    pub max_iter: usize,
    /// Convergence threshold on the change of the mean log-likelihood.
    #[arg(long, default_value_t = 1e-3, allow_hyphen_values = true)]
    pub tol: f64,
    /// Added to covariance diagonals.
    #[arg(long, default_value_t = 1e-6, allow_hyphen_values = true)]
    pub reg_covar: f64,
    /// Seed for every random choice.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Column of sample weights (taken out of the features).
    #[arg(long)]
    pub weights: Option<String>,
    #[command(flatten)]
    pub data_args: DataArgs,
    #[command(flatten)]
    pub dtype: DtypeArg,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// No progress or summary on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Print the lower bound at every iteration.
    #[arg(long, short = 'v')]
    pub verbose: bool,
    /// Stream the data from disk every iteration instead of loading it (CSV, NPY and
    /// Parquet files; automatic when the file is larger than half the available memory,
    /// a container's memory limit included).
    #[arg(long)]
    pub stream: bool,
    /// Online EM (Cappé & Moulines 2009): read the data once, batch by batch (a file
    /// streamed from disk or CSV on standard input line by line), one EM step per batch;
    /// the first batch initialises. The model keeps the online state, for `gaussmix update`.
    #[arg(long, conflicts_with_all = ["stream", "checkpoint", "resume", "start"])]
    pub online: bool,
    /// The variational Bayesian mixture of `gaussmix bayes` (Dirichlet-process weight
    /// prior, scikit-learn's `BayesianGaussianMixture` defaults) with this command's
    /// shared options; `gaussmix bayes` has the prior's own settings.
    #[arg(long, conflicts_with_all = ["stream", "online", "checkpoint", "resume", "start", "fix", "prior", "noise", "equal_weights", "weights", "init_standardized"])]
    pub bayesian: bool,
    /// With --online: rows per batch (default 10000).
    #[arg(long, value_name = "N", requires = "online")]
    pub batch_size: Option<usize>,
    /// With --online: passes over a file (standard input allows one).
    #[arg(long, value_name = "N", default_value_t = 1, requires = "online")]
    pub passes: usize,
    /// With --online: the first batch is fitted with at least this many starts (the larger
    /// of it and --n-init; online EM stays in the basin of its start, and restarts on one
    /// batch are cheap).
    #[arg(long, value_name = "N", default_value_t = gaussmix::online::DEFAULT_INIT_STARTS, requires = "online")]
    pub init_starts: usize,
    #[command(flatten)]
    pub step: crate::online::StepArgs,
    /// With --stream: rows sampled (uniformly) to initialise the fit.
    #[arg(long, default_value_t = 200_000)]
    pub init_rows: usize,
    /// Missing cells (NA, NaN, empty, null): an error, or `em` to use each row's observed
    /// entries (masked EM; predictions marginalise over the gaps).
    #[arg(long, value_enum, ignore_case = true, default_value = "error")]
    pub missing: MissingArg,
    /// Exit with status 3 (and write nothing) when EM does not converge, instead of a
    /// warning.
    #[arg(long)]
    pub strict: bool,
    /// Save the state of EM to FILE as the fit runs (atomically: the file is always a
    /// whole checkpoint), every --checkpoint-every iterations or --checkpoint-seconds,
    /// and when the fit is interrupted; `--resume FILE` continues it.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<String>,
    /// With --checkpoint: iterations between checkpoints.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub checkpoint_every: usize,
    /// With --checkpoint: seconds between checkpoints, whatever the iteration count.
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    pub checkpoint_seconds: f64,
    /// Continue the fit saved in FILE by --checkpoint, with the same data and options:
    /// the model is the one the fit would have given uninterrupted, bit for bit. Goes on
    /// checkpointing to FILE unless --checkpoint names another file.
    #[arg(long, value_name = "FILE")]
    pub resume: Option<String>,
    #[command(flatten)]
    pub json: JsonArg,
    /// Where to write the model (JSON), or `-` for standard output.
    #[arg(short = 'o', long = "output")]
    pub output: String,
}

/// The checkpoint file of a fit (`--checkpoint`, else `--resume`'s) and the checkpoint
/// to resume from, checked before any data are read.
fn checkpoint_plan(a: &FitArgs) -> Result<Option<(String, Option<EmCheckpoint>)>> {
    let Some(path) = a.checkpoint.clone().or_else(|| a.resume.clone()) else {
        return Ok(None);
    };
    if path == "-" {
        return Err(exit::usage(
            "--checkpoint -: a checkpoint is a file (it is replaced as the fit runs)",
        ));
    }
    if !(a.checkpoint_seconds > 0.0 && a.checkpoint_seconds.is_finite()) {
        return Err(exit::usage(format!(
            "--checkpoint-seconds {}: must be a positive number",
            a.checkpoint_seconds
        )));
    }
    if a.checkpoint_every == 0 {
        return Err(exit::usage("--checkpoint-every must be at least 1"));
    }
    let resume = match &a.resume {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("--resume {p}: cannot read the checkpoint"))?;
            Some(EmCheckpoint::from_json(&text).with_context(|| format!("--resume {p}"))?)
        }
        None => None,
    };
    if resume.is_none() {
        io::check_output_path(&path)?;
    }
    Ok(Some((path, resume)))
}

/// Writes one checkpoint atomically.
fn save_checkpoint(path: &str, c: &EmCheckpoint) -> gaussmix::Result<()> {
    let json = c.to_json()?;
    io::write_atomic_even_if_interrupted(std::path::Path::new(path), |w| {
        w.write_all(json.as_bytes())?;
        Ok(())
    })
    .map_err(|e| GmmError::Checkpoint {
        reason: format!("{e:#}"),
    })
}

/// Arguments of `predict`.
#[derive(Args, Debug)]
pub struct PredictArgs {
    /// Model file written by `gaussmix fit`.
    pub model: String,
    /// Data file or `-`.
    pub data: String,
    #[command(flatten)]
    pub data_args: DataArgs,
    #[command(flatten)]
    pub dtype: DtypeArg,
    /// Write the K responsibilities of each row instead of a label.
    #[arg(long)]
    pub proba: bool,
    /// Missing cells (NA, NaN, empty, null): an error, or `em` to use each row's observed
    /// entries (masked EM; predictions marginalise over the gaps).
    #[arg(long, value_enum, ignore_case = true, default_value = "error")]
    pub missing: MissingArg,
    /// Output table: CSV (.tsv tab-separated, .parquet Parquet); default `-`, standard output.
    #[arg(short = 'o', long = "output", default_value = "-")]
    pub output: String,
    /// Worker threads.
    #[arg(long)]
    pub threads: Option<usize>,
    /// No notes on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// Arguments of `score`.
#[derive(Args, Debug)]
pub struct ScoreArgs {
    /// Model file written by `gaussmix fit`.
    pub model: String,
    /// Data file or `-`.
    pub data: String,
    #[command(flatten)]
    pub data_args: DataArgs,
    #[command(flatten)]
    pub dtype: DtypeArg,
    /// Print only the mean log density.
    #[arg(long)]
    pub mean: bool,
    /// With --mean: print `{"mean_log_density": …, "rows": …}` as JSON.
    #[arg(long, requires = "mean")]
    pub json: bool,
    /// Missing cells (NA, NaN, empty, null): an error, or `em` to use each row's observed
    /// entries (masked EM; predictions marginalise over the gaps).
    #[arg(long, value_enum, ignore_case = true, default_value = "error")]
    pub missing: MissingArg,
    /// Output table: CSV (.tsv tab-separated, .parquet Parquet); default `-`, standard output.
    #[arg(short = 'o', long = "output", default_value = "-")]
    pub output: String,
    /// Worker threads.
    #[arg(long)]
    pub threads: Option<usize>,
    /// No notes on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// Arguments of `sample`.
#[derive(Args, Debug)]
pub struct SampleArgs {
    /// Model file written by `gaussmix fit`.
    pub model: String,
    /// Number of rows to draw.
    #[arg(short = 'n', long = "n")]
    pub n: usize,
    /// Seed of the draw.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output table: CSV (.tsv tab-separated, .parquet Parquet); default `-`, standard output.
    #[arg(short = 'o', long = "output", default_value = "-")]
    pub output: String,
}

/// Arguments of `info`.
#[derive(Args, Debug)]
pub struct InfoArgs {
    /// Model file written by `gaussmix fit`, `select` or `anomaly --save-model`.
    #[arg(required_unless_present = "system")]
    pub model: Option<String>,
    /// Describe this build and machine instead: kernel level, CPU features, built-in
    /// features, threads.
    #[arg(long, conflicts_with = "model")]
    pub system: bool,
    #[command(flatten)]
    pub json: JsonArg,
}

/// The estimator `fit`'s flags describe, checked: a bad value is a usage error.
fn estimator(a: &FitArgs) -> Result<GaussianMixture> {
    let covariance = a.covariance.get();
    let mut g = GaussianMixture::new(a.k)
        .covariance_type(covariance)
        .init(a.init.get())
        .n_init(a.n_init)
        .max_iter(a.max_iter)
        .tol(a.tol)
        .reg_covar(a.reg_covar)
        .seed(a.seed)
        .noise(a.noise)
        .equal_weights(a.equal_weights)
        .degenerate(a.degenerate.policy())
        .missing(a.missing.policy())
        .interrupt(interrupt::flag());
    if a.init_standardized {
        g = g.init_scaling(gaussmix::InitScaling::Standardized);
    }
    if a.prior {
        g = g.prior(gaussmix::PriorChoice::Mclust);
    }
    if let Some(path) = &a.start {
        let m = load_model(path)?;
        if m.n_components() != a.k || m.covariance_type().storage() != covariance.storage() {
            bail!(
                "--start {path} has k={} {}; the fit asks for k={} {covariance}",
                m.n_components(),
                m.covariance_type(),
                a.k
            );
        }
        let total = m.weights().sum();
        g = g
            .weights_init(m.weights() / total)
            .means_init(m.means().clone())
            .precisions_init(m.precisions());
    } else if !a.fix.is_empty() {
        return Err(exit::usage(
            "--fix needs --start MODEL (the values to hold fixed)",
        ));
    }
    for what in &a.fix {
        g = match what.trim().to_ascii_lowercase().as_str() {
            "weights" => g.fix_weights(true),
            "means" => g.fix_means(true),
            "covariances" => g.fix_covariances(true),
            other => {
                return Err(exit::usage(format!(
                    "--fix {other}: use weights, means and/or covariances"
                )))
            }
        };
    }
    g.validate().map_err(|e| exit::usage(e.to_string()))?;
    if a.threads == Some(0) {
        return Err(exit::usage("--threads must be at least 1"));
    }
    Ok(g)
}

/// What a fit saw, for its summary.
struct FitReport {
    rows: Option<usize>,
    columns: usize,
    bic: Option<f64>,
    streamed: bool,
    seconds: f64,
}

/// `fit --bayesian`: `gaussmix bayes` with the options the two commands share (the flags
/// that only EM has are refused by clap, or here where clap cannot tell).
fn bayesian(a: &FitArgs) -> Result<()> {
    if a.missing == MissingArg::Em {
        return Err(crate::exit::usage(
            "--missing em does not go with --bayesian (the variational fit needs complete rows)",
        ));
    }
    if a.degenerate != Degenerate::Warn {
        return Err(crate::exit::usage(
            "--degenerate does not go with --bayesian (its weight prior prunes components)",
        ));
    }
    crate::bayes::bayes(&crate::bayes::BayesArgs {
        data: a.data.clone(),
        k: a.k,
        covariance: a.covariance,
        weight_prior: crate::bayes::WeightPriorArg::DirichletProcess,
        weight_concentration: None,
        mean_precision: None,
        degrees_of_freedom: None,
        init: a.init,
        n_init: a.n_init,
        max_iter: a.max_iter,
        tol: a.tol,
        reg_covar: a.reg_covar,
        seed: a.seed,
        min_weight: 0.01,
        data_args: a.data_args.clone(),
        threads: a.threads,
        quiet: a.quiet,
        strict: a.strict,
        json: a.json,
        output: a.output.clone(),
    })
}

/// `gaussmix fit`.
pub fn fit(a: &FitArgs) -> Result<()> {
    if a.bayesian {
        return bayesian(a);
    }
    output::check_json_output(a.json.json, &a.output, "-o")?;
    let g = estimator(a)?;
    io::check_output_path(&a.output)?;
    let opts = ReadOptions {
        columns: a.data_args.columns.clone(),
        weights: a.weights.clone(),
        array: a.data_args.array.clone(),
        quiet: a.quiet,
    };
    a.missing.apply();
    let f32_data = a.dtype.dtype == Dtype::F32;
    if f32_data && (a.online || a.missing == MissingArg::Em) {
        return Err(exit::usage(
            "--dtype f32 applies to in-memory fits of complete data (not --online or --missing em)",
        ));
    }
    if a.online {
        return crate::online::fit(
            g,
            &a.data,
            &opts,
            a.batch_size,
            a.passes,
            a.init_starts,
            &a.step,
            a.threads,
            a.quiet,
            a.verbose,
            &a.output,
            a.json.json,
        );
    }
    let stream = crate::stream::should_stream(&a.data, a.stream)?;
    if stream && f32_data {
        return Err(exit::usage(
            "--dtype f32 applies to in-memory fits (the data would be streamed: drop --stream, or --dtype f32)",
        ));
    }
    let plan = checkpoint_plan(a)?;
    let ckpt_path = plan.as_ref().map(|(p, _)| p.clone());
    // checkpoints written and the seconds spent writing them, for the summary
    let mut written = (0usize, 0.0f64);
    let mut sink = |c: &EmCheckpoint| {
        let t = Instant::now();
        save_checkpoint(ckpt_path.as_deref().unwrap_or("-"), c)?;
        written.0 += 1;
        written.1 += t.elapsed().as_secs_f64();
        Ok(())
    };
    let mut checkpointer = plan.map(|(_, resume)| {
        let c = Checkpointer::every_iterations(a.checkpoint_every, &mut sink)
            .interval(Some(Duration::from_secs_f64(a.checkpoint_seconds)));
        match resume {
            Some(r) => c.resume(r),
            None => c,
        }
    });
    let mut progress = Progress::new(!a.quiet, a.verbose, a.max_iter, a.n_init);
    let mut observer = |e: &IterationEvent| progress.iteration(e);
    let start = Instant::now();
    // Ctrl-C from here on stops the fit before its next iteration or chunk (and writes
    // nothing).
    let (fitted, names, report, degenerate) = if stream {
        let src = crate::stream::open(&a.data, &opts).map_err(|e| gaps::hint(e, a.missing))?;
        if !a.quiet {
            eprintln!("streaming {}", src.description);
        }
        let columns = src.names.len();
        let mut rows = crate::stream::Interruptible::new(src.source, interrupt::flag());
        interrupt::set_graceful(true);
        let fitted = with_threads(a.threads, || match checkpointer.as_mut() {
            Some(c) => g.fit_stream_checkpointed(&mut rows, a.init_rows, &mut observer, c),
            None => g.fit_stream(&mut rows, a.init_rows, &mut observer),
        });
        interrupt::set_graceful(false);
        let report = FitReport {
            rows: None,
            columns,
            bic: None,
            streamed: true,
            seconds: 0.0,
        };
        (fitted, src.names, report, Vec::new())
    } else {
        let mut data = io::read_dataset(&a.data, &opts).map_err(|e| gaps::hint(e, a.missing))?;
        let gappy = gaps::has_gaps(data.x.view());
        let (rows, columns) = data.x.dim();
        // --dtype f32: converted once, the f64 copy freed before the fit
        let x32 = f32_data.then(|| {
            let x32 = data.x.mapv(|v| v as f32);
            data.x = Array2::zeros((0, columns));
            x32
        });
        let w = data.weights.as_ref().map(|w| w.view());
        let mut fit_on = |x: Rows<'_>| {
            interrupt::set_graceful(true);
            let fitted = with_threads(a.threads, || match (x, checkpointer.as_mut()) {
                (Rows::F64(x), Some(c)) => g.fit_checkpointed(x, w, &mut observer, c),
                (Rows::F64(x), None) => g.fit_observed(x, w, None, &mut observer),
                (Rows::F32(x), Some(c)) => g.fit_checkpointed(x, w, &mut observer, c),
                (Rows::F32(x), None) => g.fit_observed(x, w, None, &mut observer),
            });
            interrupt::set_graceful(false);
            let bic = match (&fitted, x) {
                (Ok(Ok(m)), Rows::F64(x)) if gappy => Some(gaps::bic(m, x)?),
                (Ok(Ok(m)), Rows::F64(x)) => Some(m.bic(x)?),
                (Ok(Ok(m)), Rows::F32(x)) => Some(m.bic(x)?),
                _ => None,
            };
            // the default --degenerate warn: say which components are spikes
            let degenerate = match (&fitted, x) {
                (Ok(Ok(m)), x) if a.degenerate == Degenerate::Warn && !a.quiet && !gappy => match x
                {
                    Rows::F64(x) => m.degenerate_components(x, a.reg_covar)?,
                    Rows::F32(x) => m.degenerate_components(x, a.reg_covar)?,
                },
                _ => Vec::new(),
            };
            anyhow::Ok((fitted, bic, degenerate))
        };
        let (fitted, bic, degenerate) = match &x32 {
            Some(x32) => fit_on(Rows::F32(x32.view()))?,
            None => fit_on(Rows::F64(data.x.view()))?,
        };
        let report = FitReport {
            rows: Some(rows),
            columns,
            bic,
            streamed: false,
            seconds: 0.0,
        };
        (fitted, data.feature_names, report, degenerate)
    };
    progress.finish();
    drop(checkpointer);
    if let (Ok(Err(GmmError::Interrupted)), Some(p)) = (&fitted, &ckpt_path) {
        if !a.quiet && std::path::Path::new(p).exists() {
            eprintln!("the fit's state is in {p}: continue it with --resume {p}");
        }
    }
    let mut model = fitted?
        .map_err(|e| gaps::explain(e, &a.data, &names))
        .with_context(|| format!("fitting {} components to {}", a.k, a.data))?;
    let report = FitReport {
        seconds: start.elapsed().as_secs_f64(),
        ..report
    };
    model.set_feature_names(names)?;
    let info = model.info();
    let unconverged = !info.converged && a.max_iter > 0;
    if unconverged && a.strict {
        return Err(anyhow::Error::new(NotConverged(format!(
            "EM did not converge in {} iterations (--strict; nothing written): raise --max-iter or --tol",
            a.max_iter
        ))));
    }
    output::write_model(&a.output, &model)?;
    if !a.quiet {
        let shape = match report.rows {
            Some(n) => format!("{n} rows × {} columns", report.columns),
            None => format!("{} columns (streamed)", report.columns),
        };
        let bic = report
            .bic
            .map_or(String::new(), |b| format!(", BIC {b:.2}"));
        eprintln!(
            "fitted k={} {} on {shape} in {:.2}s: {} after {} iterations, lower bound {:.6}{bic}",
            a.k,
            a.covariance.get(),
            report.seconds,
            if info.converged {
                "converged"
            } else {
                "NOT converged"
            },
            info.n_iter,
            info.lower_bound,
        );
        if unconverged {
            eprintln!(
                "warning: EM did not converge in {} iterations; raise --max-iter or --tol (--strict makes this an error)",
                a.max_iter
            );
        }
        for (c, why) in &degenerate {
            eprintln!(
                "warning: component {c} is degenerate: {why} (a spike, not a cluster: lower -k, try another --covariance or --prior, or --degenerate reseed|drop)"
            );
        }
        if let Some(p) = &ckpt_path {
            eprintln!(
                "{} checkpoints written to {p} in {:.3}s ({:.2} % of the fit)",
                written.0,
                written.1,
                100.0 * written.1 / report.seconds.max(1e-9)
            );
        }
        if a.output != "-" {
            eprintln!("wrote {}", a.output);
        }
    }
    if a.json.json {
        output::print_json(&json!({
            "output": a.output,
            "k": a.k,
            "covariance": a.covariance.get().name(),
            "init": a.init.get().to_string(),
            "n_init": a.n_init,
            "seed": a.seed,
            "rows": report.rows,
            "features": report.columns,
            "feature_names": model.feature_names(),
            "streamed": report.streamed,
            "converged": info.converged,
            "n_iter": info.n_iter,
            "lower_bound": json_f64(info.lower_bound),
            "bic": report.bic.map(json_f64),
            "n_parameters": model.n_parameters(),
            "seconds": json_f64(report.seconds),
            "kernel": gaussmix::kernel_level(),
            "checkpoint": ckpt_path.as_ref().map(|p| json!({
                "file": p,
                "written": written.0,
                "seconds": json_f64(written.1),
            })),
        }))?;
    }
    Ok(())
}

/// The rows a command computes on: as read (f64), or converted once to f32 (`--dtype f32`).
#[derive(Clone, Copy)]
enum Rows<'a> {
    F64(ndarray::ArrayView2<'a, f64>),
    F32(ndarray::ArrayView2<'a, f32>),
}

/// `--dtype f32` with `--missing em`: masked EM computes in f64 only.
fn check_dtype(dtype: DtypeArg, missing: MissingArg) -> Result<()> {
    if dtype.dtype == Dtype::F32 && missing == MissingArg::Em {
        return Err(exit::usage(
            "--dtype f32 applies to complete data (not --missing em)",
        ));
    }
    Ok(())
}

/// `gaussmix predict`.
pub fn predict(a: &PredictArgs) -> Result<()> {
    let model = load_model(&a.model)?;
    check_dtype(a.dtype, a.missing)?;
    a.missing.apply();
    let data = read_for_model(&a.data, &a.data_args, &model, a.quiet)
        .map_err(|e| gaps::hint(e, a.missing))?;
    let x = data.x.view();
    let x32 = (a.dtype.dtype == Dtype::F32).then(|| data.x.mapv(|v| v as f32));
    let em = a.missing == MissingArg::Em;
    let explain = |e| gaps::explain(e, &a.data, &data.feature_names);
    if a.proba {
        let p = with_threads(a.threads, || {
            if em {
                model.predict_proba_missing(x)
            } else if let Some(x32) = &x32 {
                model.predict_proba(x32.view())
            } else {
                model.predict_proba(x)
            }
        })?
        .map_err(explain)?;
        let header: Vec<String> = (0..model.n_components()).map(|k| format!("p{k}")).collect();
        io::write_csv(&a.output, &header, p.view())
    } else {
        let labels = with_threads(a.threads, || {
            if em {
                model.predict_missing(x)
            } else if let Some(x32) = &x32 {
                model.predict(x32.view())
            } else {
                model.predict(x)
            }
        })?
        .map_err(explain)?;
        io::write_labels(&a.output, "label", &labels.to_vec())
    }
}

/// `gaussmix score`.
pub fn score(a: &ScoreArgs) -> Result<()> {
    let model = load_model(&a.model)?;
    check_dtype(a.dtype, a.missing)?;
    a.missing.apply();
    let data = read_for_model(&a.data, &a.data_args, &model, a.quiet)
        .map_err(|e| gaps::hint(e, a.missing))?;
    let x32 = (a.dtype.dtype == Dtype::F32).then(|| data.x.mapv(|v| v as f32));
    let s = with_threads(a.threads, || {
        if a.missing == MissingArg::Em {
            model.score_samples_missing(data.x.view())
        } else if let Some(x32) = &x32 {
            model.score_samples(x32.view())
        } else {
            model.score_samples(data.x.view())
        }
    })?
    .map_err(|e| gaps::explain(e, &a.data, &data.feature_names))?;
    if a.mean {
        let Some(mean) = s.mean() else {
            bail!("{}: no rows to score", a.data);
        };
        if a.json {
            // Through the checked writer: a full disk or /dev/full is an error, not a panic.
            let v = json!({"mean_log_density": json_f64(mean), "rows": s.len()});
            let text = serde_json::to_string_pretty(&v)?;
            return io::write_output(&a.output, |w| Ok(writeln!(w, "{text}")?));
        }
        return io::write_output(&a.output, |w| Ok(writeln!(w, "{mean}")?));
    }
    let col = s.view().insert_axis(Axis(1));
    io::write_csv(&a.output, &["log_density".to_string()], col)
}

/// `gaussmix sample`.
pub fn sample(a: &SampleArgs) -> Result<()> {
    let model = load_model(&a.model)?;
    let (x, labels): (Array2<f64>, _) = model.sample(a.n, a.seed)?;
    let mut header = model.feature_names().to_vec();
    header.push("component".into());
    io::write_csv_with_labels(&a.output, &header, x.view(), &labels.to_vec())
}

/// How a model came to be, for `info`.
fn provenance(m: &GmmModel) -> (&'static str, String) {
    let i = m.info();
    if let Some(t) = m.anomaly_threshold() {
        return (
            "anomaly",
            format!(
                "anomaly detector (gaussmix anomaly): fitted on standardised features and stored on the raw scale; a row is anomalous when −ln p(x) > {t:.6}"
            ),
        );
    }
    if i.n_iter == 0 && i.lower_bounds.is_empty() {
        return ("given", "parameters given, not fitted by EM".to_string());
    }
    (
        "fitted",
        format!(
            "{} after {} iterations, lower bound {:.6}",
            if i.converged {
                "converged"
            } else {
                "not converged"
            },
            i.n_iter,
            i.lower_bound
        ),
    )
}

/// The D×D covariance of component `k` (diagonal types as a diagonal matrix).
fn covariance_matrix(c: &Covariances, k: usize, d: usize) -> Array2<f64> {
    match c {
        Covariances::Full(c) => c.index_axis(Axis(0), k).to_owned(),
        Covariances::Tied(c) => c.clone(),
        Covariances::Diag(c) => Array2::from_diag(&c.row(k)),
        Covariances::Spherical(c) => Array2::from_diag_elem(d, c[k]),
    }
}

/// The correlation matrix of a covariance matrix.
fn correlation(s: &Array2<f64>) -> Array2<f64> {
    let d = s.nrows();
    Array2::from_shape_fn((d, d), |(i, j)| {
        let den = (s[[i, i]] * s[[j, j]]).sqrt();
        if i == j {
            1.0
        } else if den > 0.0 {
            s[[i, j]] / den
        } else {
            0.0
        }
    })
}

/// Largest number of features for which `info` prints correlation matrices as text.
const MAX_CORRELATION_TEXT: usize = 12;

/// `gaussmix info`.
pub fn info(a: &InfoArgs) -> Result<()> {
    let Some(path) = &a.model else {
        let s = crate::system::system_info();
        if a.json.json {
            return output::print_json(&s);
        }
        let text = crate::system::version_text();
        return io::write_output("-", |w| Ok(writeln!(w, "gaussmix {text}")?));
    };
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read model file {path}"))?;
    let m = match crate::util::model_from_text(path, &text) {
        Ok(m) => m,
        Err(_) if crate::util::is_anomaly_ensemble(&text) => return info_ensemble(a, path, &text),
        Err(e) => return Err(e),
    };
    let (kind, fit) = provenance(&m);
    let (k, d) = (m.n_components(), m.n_features());
    let covs = m.covariances();
    let has_correlations = matches!(covs, Covariances::Full(_) | Covariances::Tied(_));
    let components: Vec<(Vec<f64>, Array2<f64>)> = (0..k)
        .map(|c| {
            let s = covariance_matrix(covs, c, d);
            let sd = s.diag().mapv(f64::sqrt).to_vec();
            (sd, correlation(&s))
        })
        .collect();
    if a.json.json {
        let comps: Vec<Value> = (0..k)
            .map(|c| {
                let (sd, corr) = &components[c];
                let mut v = json!({
                    "weight": json_f64(m.weights()[c]),
                    "mean": m.means().row(c).iter().map(|&x| json_f64(x)).collect::<Vec<_>>(),
                    "std": sd.iter().map(|&x| json_f64(x)).collect::<Vec<_>>(),
                });
                if has_correlations {
                    v["correlation"] = corr
                        .outer_iter()
                        .map(|r| r.iter().map(|&x| json_f64(x)).collect::<Vec<_>>())
                        .collect::<Vec<_>>()
                        .into();
                }
                v
            })
            .collect();
        let i = m.info();
        return output::print_json(&json!({
            "model": path,
            "kind": kind,
            "description": fit,
            "components": k,
            "features": d,
            "feature_names": m.feature_names(),
            "covariance": m.covariance_type().name(),
            "converged": (kind == "fitted").then_some(i.converged),
            "n_iter": (kind == "fitted").then_some(i.n_iter),
            "lower_bound": (kind == "fitted").then(|| json_f64(i.lower_bound)),
            "anomaly_threshold": m.anomaly_threshold().map(json_f64),
            "n_parameters": m.n_parameters(),
            "component": comps,
        }));
    }
    let mut out = String::new();
    use std::fmt::Write as _;
    writeln!(out, "model: {path}")?;
    writeln!(
        out,
        "components: {k}   features: {d} ({})   covariance: {}",
        m.feature_names().join(", "),
        m.covariance_type()
    )?;
    writeln!(
        out,
        "{}: {fit}",
        if kind == "fitted" { "fit" } else { "kind" }
    )?;
    writeln!(out, "free parameters: {}", m.n_parameters())?;
    let fmt = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.4}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let tied = matches!(covs, Covariances::Tied(_));
    for (c, (sd, corr)) in components.iter().enumerate() {
        writeln!(out, "component {c}: weight {:.4}", m.weights()[c])?;
        writeln!(out, "  mean      [{}]", fmt(&m.means().row(c).to_vec()))?;
        writeln!(out, "  std. dev. [{}]", fmt(sd))?;
        if has_correlations && d > 1 && !(tied && c > 0) {
            let label = if tied {
                "correlation (shared by all components)"
            } else {
                "correlation"
            };
            if d <= MAX_CORRELATION_TEXT {
                writeln!(out, "  {label}:")?;
                for (i, row) in corr.outer_iter().enumerate() {
                    let cells: Vec<String> = row
                        .iter()
                        .take(i + 1)
                        .map(|x| format!("{x:>7.3}"))
                        .collect();
                    writeln!(
                        out,
                        "    {:<12} {}",
                        short(&m.feature_names()[i]),
                        cells.join(" ")
                    )?;
                }
            } else {
                writeln!(out, "  {label}: {d}×{d} (see --json)")?;
            }
        }
    }
    io::write_output("-", |w| Ok(w.write_all(out.as_bytes())?))
}

/// A feature name cut to 12 characters for the correlation table.
fn short(name: &str) -> String {
    let mut s: String = name.chars().take(12).collect();
    if name.chars().count() > 12 {
        s.pop();
        s.push('…');
    }
    s
}

/// `info` on an anomaly ensemble: its members, features and threshold.
fn info_ensemble(a: &InfoArgs, path: &str, text: &str) -> Result<()> {
    let det = gaussmix::anomaly::FittedDetector::from_json(text)
        .with_context(|| format!("{path} is not a valid gaussmix anomaly detector"))?;
    let members: Vec<(usize, String)> = det
        .members()
        .iter()
        .map(|m| (m.n_components(), m.covariance_type().to_string()))
        .collect();
    if a.json.json {
        return output::print_json(&json!({
            "kind": "anomaly",
            "ensemble": true,
            "n_members": members.len(),
            "members": members
                .iter()
                .map(|(k, ct)| json!({"n_components": k, "covariance_type": ct}))
                .collect::<Vec<_>>(),
            "n_features": det.n_features(),
            "feature_names": det.feature_names(),
            "anomaly_threshold": json_f64(det.threshold()),
            "converged": Value::Null,
        }));
    }
    let list: Vec<String> = members
        .iter()
        .map(|(k, ct)| format!("k={k} {ct}"))
        .collect();
    io::write_output("-", |w| {
        writeln!(
            w,
            "anomaly detector: an ensemble of {} mixtures ({}) on {} standardised features ({})",
            members.len(),
            list.join(", "),
            det.n_features(),
            det.feature_names().join(", ")
        )?;
        writeln!(
            w,
            "a row is flagged when its score (the members' mean standardised −ln p(x)) > {:.6}",
            det.threshold()
        )?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn correlations_of_a_covariance() {
        let s = array![[4.0, 1.0], [1.0, 1.0]];
        let r = correlation(&s);
        assert!((r[[0, 1]] - 0.5).abs() < 1e-12 && (r[[1, 0]] - 0.5).abs() < 1e-12);
        assert_eq!(r[[0, 0]], 1.0);
        // a zero variance gives correlation 0, not NaN
        let r = correlation(&array![[0.0, 0.0], [0.0, 1.0]]);
        assert_eq!(r[[0, 1]], 0.0);
    }

    #[test]
    fn provenance_of_models() {
        let m = GmmModel::new(
            array![1.0],
            array![[0.0, 0.0]],
            Covariances::Full(ndarray::Array3::from_shape_fn((1, 2, 2), |(_, i, j)| {
                f64::from(u8::from(i == j))
            })),
        )
        .unwrap();
        assert_eq!(provenance(&m).0, "given");
        let mut a = m.clone();
        a.set_anomaly_threshold(Some(3.5)).unwrap();
        let (kind, text) = provenance(&a);
        assert_eq!(kind, "anomaly");
        assert!(
            text.contains("3.5") && !text.contains("iterations"),
            "{text}"
        );
        assert_eq!(short("a_very_long_feature_name"), "a_very_long…");
    }
}
