//! The subcommands of `gaussmix`: argument definitions and what each one does.

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use gaussmix::{CovarianceType, GaussianMixture, InitMethod, IterationEvent};
use ndarray::Array2;

use crate::io::{self, ReadOptions};
use crate::progress::Progress;
use crate::util::{interrupt, load_model, read_for_model, with_threads};

/// Gaussian mixture models fitted by EM.
#[derive(Parser, Debug)]
#[command(name = "gaussmix", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Fit a mixture to DATA and write the model as JSON.
    Fit(FitArgs),
    /// Label each row of DATA with its most responsible component (or all K probabilities).
    Predict(PredictArgs),
    /// Log density of each row of DATA under the model (or only their mean).
    Score(ScoreArgs),
    /// Draw rows from the model, with the component that produced each.
    Sample(SampleArgs),
    /// Print a human summary of a model.
    Info(InfoArgs),
    /// Fit every (k, covariance type) pair, compare them by BIC, AIC or ICL, keep the best.
    Select(crate::select::SelectArgs),
    /// Score rows by how unlikely a mixture finds them (fit one on DATA, or use --model).
    Anomaly(crate::anomaly::AnomalyArgs),
    /// Draw a model with its data (PNG or SVG), or the EM iterations with --trace.
    Plot(crate::plot::PlotArgs),
    /// Background subtraction and tracking in video.
    #[command(subcommand)]
    Video(crate::video::VideoCommand),
    /// Time EM iterations on a data file (for bench/run_em.py).
    #[command(hide = true)]
    BenchEm(crate::bench::BenchArgs),
}

/// How to read a data file.
#[derive(Args, Debug, Clone)]
pub struct DataArgs {
    /// Columns to use, by name or 0-based index, comma-separated (default: every numeric column).
    #[arg(long, value_delimiter = ',')]
    pub columns: Option<Vec<String>>,
    /// Array of an NPZ file holding the data (default `X`).
    #[arg(long)]
    pub array: Option<String>,
}

/// Arguments of `fit`.
#[derive(Args, Debug)]
pub struct FitArgs {
    /// Data file (CSV, NPY, NPZ) or `-` for standard input.
    pub data: String,
    /// Number of components.
    #[arg(short = 'k', long = "k")]
    pub k: usize,
    /// Covariance family: full, tied, diag, spherical, or one of mclust's EII, VII, EEI,
    /// VEI, EVI, VVI, EEE, VEE, EVE, VVE, EEV, VEV, EVV, VVV.
    #[arg(long, default_value = "full")]
    pub covariance: String,
    /// Initialisation: kmeans, k-means++, random, random-from-data or hc (mclust's
    /// hierarchical agglomeration).
    #[arg(long, default_value = "kmeans")]
    pub init: String,
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
    #[arg(long, default_value = "warn")]
    pub degenerate: String,
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
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// No progress or summary on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Print the lower bound at every iteration.
    #[arg(long, short = 'v')]
    pub verbose: bool,
    /// Stream the data from disk every iteration instead of loading it (NPY files; automatic
    /// when the file is larger than half the available memory).
    #[arg(long)]
    pub stream: bool,
    /// With --stream: rows sampled (uniformly) to initialise the fit.
    #[arg(long, default_value_t = 200_000)]
    pub init_rows: usize,
    /// Where to write the model (JSON).
    #[arg(short = 'o', long = "output")]
    pub output: String,
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
    /// Write the K responsibilities of each row instead of a label.
    #[arg(long)]
    pub proba: bool,
    /// Output CSV (default: standard output).
    #[arg(short = 'o', long = "output", default_value = "-")]
    pub output: String,
    /// Worker threads.
    #[arg(long)]
    pub threads: Option<usize>,
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
    /// Print only the mean log density.
    #[arg(long)]
    pub mean: bool,
    /// Output CSV (default: standard output).
    #[arg(short = 'o', long = "output", default_value = "-")]
    pub output: String,
    /// Worker threads.
    #[arg(long)]
    pub threads: Option<usize>,
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
    /// Output CSV (default: standard output).
    #[arg(short = 'o', long = "output", default_value = "-")]
    pub output: String,
}

/// Arguments of `info`.
#[derive(Args, Debug)]
pub struct InfoArgs {
    /// Model file written by `gaussmix fit`.
    pub model: String,
}

/// The estimator `fit`'s flags describe, checked.
fn estimator(a: &FitArgs, covariance: CovarianceType, init: InitMethod) -> Result<GaussianMixture> {
    let degenerate: gaussmix::DegeneratePolicy = if a.degenerate.eq_ignore_ascii_case("warn") {
        gaussmix::DegeneratePolicy::Keep
    } else {
        a.degenerate.parse().map_err(|_| {
            anyhow::anyhow!(
                "--degenerate {}: use warn, error, reseed, drop or keep",
                a.degenerate
            )
        })?
    };
    let mut g = GaussianMixture::new(a.k)
        .covariance_type(covariance)
        .init(init)
        .n_init(a.n_init)
        .max_iter(a.max_iter)
        .tol(a.tol)
        .reg_covar(a.reg_covar)
        .seed(a.seed)
        .noise(a.noise)
        .equal_weights(a.equal_weights)
        .degenerate(degenerate)
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
        bail!("--fix needs --start MODEL (the values to hold fixed)");
    }
    for what in &a.fix {
        g = match what.trim().to_ascii_lowercase().as_str() {
            "weights" => g.fix_weights(true),
            "means" => g.fix_means(true),
            "covariances" => g.fix_covariances(true),
            other => bail!("--fix {other}: use weights, means and/or covariances"),
        };
    }
    g.validate()?;
    Ok(g)
}

/// `gaussmix fit`.
pub fn fit(a: &FitArgs) -> Result<()> {
    let covariance: CovarianceType = a.covariance.parse()?;
    let init: InitMethod = a.init.parse()?;
    io::check_output_path(&a.output)?;
    if should_stream(a)? {
        return fit_streaming(a, covariance, init);
    }
    let opts = ReadOptions {
        columns: a.data_args.columns.clone(),
        weights: a.weights.clone(),
        array: a.data_args.array.clone(),
        quiet: a.quiet,
    };
    let data = io::read_dataset(&a.data, &opts)?;
    let g = estimator(a, covariance, init)?;
    let start = Instant::now();
    let mut progress = Progress::new(!a.quiet, a.verbose, a.max_iter, a.n_init);
    let mut observer = |e: &IterationEvent| progress.iteration(e);
    // Ctrl-C from here on stops the fit before its next iteration (and writes nothing).
    interrupt::set_graceful(true);
    let fitted = with_threads(a.threads, || {
        g.fit_observed(
            data.x.view(),
            data.weights.as_ref().map(|w| w.view()),
            None,
            &mut observer,
        )
    });
    interrupt::set_graceful(false);
    let fitted = fitted?;
    progress.finish();
    let mut model = fitted.with_context(|| format!("fitting {} components to {}", a.k, a.data))?;
    model.set_feature_names(data.feature_names.clone())?;
    let json = model.to_json()?;
    io::write_atomic(Path::new(&a.output), |w| {
        w.write_all(json.as_bytes())?;
        w.write_all(b"\n")?;
        Ok(())
    })
    .with_context(|| format!("cannot write the model to {}", a.output))?;
    if !a.quiet {
        let info = model.info();
        let x = data.x.view();
        eprintln!(
            "fitted k={} {} on {} rows × {} columns in {:.2?}: {} after {} iterations, lower bound {:.6}, BIC {:.2}",
            a.k,
            covariance,
            x.nrows(),
            x.ncols(),
            start.elapsed(),
            if info.converged { "converged" } else { "NOT converged" },
            info.n_iter,
            info.lower_bound,
            model.bic(x)?
        );
        if !info.converged && a.max_iter > 0 {
            eprintln!(
                "warning: EM did not converge in {} iterations; raise --max-iter or --tol",
                a.max_iter
            );
        }
        if a.degenerate.eq_ignore_ascii_case("warn") {
            for (c, why) in model.degenerate_components(x, a.reg_covar)? {
                eprintln!(
                    "warning: component {c} is degenerate: {why} (a spike, not a cluster: lower -k, try another --covariance or --prior, or --degenerate reseed|drop)"
                );
            }
        }
        eprintln!("wrote {}", a.output);
    }
    Ok(())
}

/// Whether `fit` streams its input: asked for, or an NPY file too large to load.
fn should_stream(a: &FitArgs) -> Result<bool> {
    let lower = a.data.to_ascii_lowercase();
    let streamable = lower.ends_with(".npy")
        || (cfg!(feature = "parquet") && (lower.ends_with(".parquet") || lower.ends_with(".parq")));
    if a.stream {
        if !streamable {
            bail!("--stream reads .npy and .parquet files; {} is neither (convert it, or drop --stream)", a.data);
        }
        return Ok(true);
    }
    if !streamable {
        return Ok(false);
    }
    let size = std::fs::metadata(&a.data)
        .with_context(|| format!("cannot read {}", a.data))?
        .len();
    Ok(crate::stream::available_memory().is_some_and(|avail| size > avail / 2))
}

/// `fit` over an NPY or Parquet file streamed in chunks: memory bounded by the chunk, whatever the
/// file size.
fn fit_streaming(a: &FitArgs, covariance: CovarianceType, init: InitMethod) -> Result<()> {
    let (src, names): (Box<dyn gaussmix::RowSource + Send>, Vec<String>) = if a
        .data
        .to_ascii_lowercase()
        .ends_with(".npy")
    {
        if a.weights.is_some() {
            bail!("--weights names a column of a table; NPY files have none (drop --weights)");
        }
        let columns: Option<Vec<usize>> = match &a.data_args.columns {
            None => None,
            Some(cols) => Some(
                cols.iter()
                    .map(|c| {
                        c.trim_start_matches('x')
                            .parse::<usize>()
                            .map_err(|_| anyhow::anyhow!("--columns for an NPY file takes 0-based indices or x0, x1, …; got '{c}'"))
                    })
                    .collect::<Result<_>>()?,
            ),
        };
        let src =
            crate::stream::NpySource::open(&a.data, columns.as_deref(), crate::stream::CHUNK_ROWS)?;
        let names: Vec<String> = match &columns {
            Some(c) => c.iter().map(|j| format!("x{j}")).collect(),
            None => (0..gaussmix::RowSource::n_features(&src))
                .map(|j| format!("x{j}"))
                .collect(),
        };
        if !a.quiet {
            eprintln!(
                "streaming {} ({} rows) in chunks of {} rows",
                a.data,
                src.n_rows(),
                crate::stream::CHUNK_ROWS
            );
        }
        (Box::new(src), names)
    } else {
        open_parquet_stream(a)?
    };
    let g = estimator(a, covariance, init)?;
    let start = Instant::now();
    let mut progress = Progress::new(!a.quiet, a.verbose, a.max_iter, a.n_init);
    let mut observer = |e: &IterationEvent| progress.iteration(e);
    // Ctrl-C from here on stops the fit at the next chunk (and writes nothing).
    let mut src = crate::stream::Interruptible::new(src, interrupt::flag());
    interrupt::set_graceful(true);
    let fitted = with_threads(a.threads, || {
        g.fit_stream(&mut src, a.init_rows, &mut observer)
    });
    interrupt::set_graceful(false);
    let fitted = fitted?;
    progress.finish();
    let mut model = fitted.with_context(|| format!("fitting {} components to {}", a.k, a.data))?;
    model.set_feature_names(names)?;
    let json = model.to_json()?;
    io::write_atomic(Path::new(&a.output), |w| {
        w.write_all(json.as_bytes())?;
        w.write_all(b"\n")?;
        Ok(())
    })
    .with_context(|| format!("cannot write the model to {}", a.output))?;
    if !a.quiet {
        let info = model.info();
        eprintln!(
            "fitted k={} {} by streaming in {:.2?}: {} after {} iterations, lower bound {:.6}",
            a.k,
            covariance,
            start.elapsed(),
            if info.converged {
                "converged"
            } else {
                "NOT converged"
            },
            info.n_iter,
            info.lower_bound
        );
        eprintln!("wrote {}", a.output);
    }
    Ok(())
}

/// A Parquet file as a stream of record batches.
#[cfg(feature = "parquet")]
fn open_parquet_stream(a: &FitArgs) -> Result<(Box<dyn gaussmix::RowSource + Send>, Vec<String>)> {
    let opts = ReadOptions {
        columns: a.data_args.columns.clone(),
        weights: a.weights.clone(),
        array: None,
        quiet: a.quiet,
    };
    let src = crate::io::parquet::ParquetSource::open(&a.data, &opts, crate::stream::CHUNK_ROWS)?;
    let names = src.names().to_vec();
    if !a.quiet {
        eprintln!(
            "streaming {} in batches of {} rows",
            a.data,
            crate::stream::CHUNK_ROWS
        );
    }
    Ok((Box::new(src), names))
}

#[cfg(not(feature = "parquet"))]
fn open_parquet_stream(a: &FitArgs) -> Result<(Box<dyn gaussmix::RowSource + Send>, Vec<String>)> {
    bail!("{}: Parquet needs the `parquet` feature", a.data)
}

/// `gaussmix predict`.
pub fn predict(a: &PredictArgs) -> Result<()> {
    let model = load_model(&a.model)?;
    let data = read_for_model(&a.data, &a.data_args, &model, false)?;
    let x = data.x.view();
    if a.proba {
        let p = with_threads(a.threads, || model.predict_proba(x))??;
        let header: Vec<String> = (0..model.n_components()).map(|k| format!("p{k}")).collect();
        io::write_csv(&a.output, &header, p.view())
    } else {
        let labels = with_threads(a.threads, || model.predict(x))??;
        io::write_labels(&a.output, "label", labels.as_slice().expect("contiguous"))
    }
}

/// `gaussmix score`.
pub fn score(a: &ScoreArgs) -> Result<()> {
    let model = load_model(&a.model)?;
    let data = read_for_model(&a.data, &a.data_args, &model, false)?;
    let s = with_threads(a.threads, || model.score_samples(data.x.view()))??;
    if a.mean {
        let mean = s.mean().expect("non-empty");
        // Through the checked writer: a full disk or /dev/full is an error, not a panic.
        return io::write_output(&a.output, |w| Ok(writeln!(w, "{mean}")?));
    }
    let col = s.into_shape_with_order((data.x.nrows(), 1)).expect("n×1");
    io::write_csv(&a.output, &["log_density".to_string()], col.view())
}

/// `gaussmix sample`.
pub fn sample(a: &SampleArgs) -> Result<()> {
    let model = load_model(&a.model)?;
    let (x, labels): (Array2<f64>, _) = model.sample(a.n, a.seed)?;
    let mut header = model.feature_names().to_vec();
    header.push("component".into());
    io::write_csv_with_labels(
        &a.output,
        &header,
        x.view(),
        labels.as_slice().expect("contiguous"),
    )
}

/// `gaussmix info`.
pub fn info(a: &InfoArgs) -> Result<()> {
    let m = load_model(&a.model)?;
    let mut out = String::new();
    use std::fmt::Write as _;
    let i = m.info();
    writeln!(out, "model: {}", a.model)?;
    writeln!(
        out,
        "components: {}   features: {} ({})   covariance: {}",
        m.n_components(),
        m.n_features(),
        m.feature_names().join(", "),
        m.covariance_type()
    )?;
    writeln!(
        out,
        "fit: {} after {} iterations, lower bound {:.6}",
        if i.converged {
            "converged"
        } else {
            "not converged"
        },
        i.n_iter,
        i.lower_bound
    )?;
    writeln!(out, "free parameters: {}", m.n_parameters())?;
    let covs = m.covariances();
    for k in 0..m.n_components() {
        writeln!(out, "component {k}: weight {:.4}", m.weights()[k])?;
        let mean: Vec<String> = m.means().row(k).iter().map(|v| format!("{v:.4}")).collect();
        writeln!(out, "  mean      [{}]", mean.join(", "))?;
        let sd: Vec<String> = (0..m.n_features())
            .map(|j| {
                let var = match covs {
                    gaussmix::Covariances::Full(c) => c[[k, j, j]],
                    gaussmix::Covariances::Tied(c) => c[[j, j]],
                    gaussmix::Covariances::Diag(c) => c[[k, j]],
                    gaussmix::Covariances::Spherical(c) => c[k],
                };
                format!("{:.4}", var.sqrt())
            })
            .collect();
        writeln!(out, "  std. dev. [{}]", sd.join(", "))?;
    }
    io::write_output("-", |w| Ok(w.write_all(out.as_bytes())?))
}
