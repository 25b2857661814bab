//! `gaussmix bayes`: a variational Bayesian mixture ([`gaussmix::vb`]), written as the
//! expected-parameter model so that every other command (predict, score, sample, plot,
//! info) takes it.

use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use gaussmix::vb::{BayesianGaussianMixture, WeightPrior};
use serde_json::json;

use crate::args::{Covariance, DataArgs, Init, JsonArg};
use crate::exit::NotConverged;
use crate::io::{self, ReadOptions};
use crate::output::{self, json_f64};
use crate::util::with_threads;

/// The prior on the mixing proportions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WeightPriorArg {
    /// Stick-breaking (Dirichlet process): unneeded components fade to weight ~0.
    #[value(name = "dirichlet-process", alias = "dp")]
    DirichletProcess,
    /// A symmetric Dirichlet distribution.
    #[value(name = "dirichlet-distribution", alias = "dd")]
    DirichletDistribution,
}

/// Arguments of `bayes`.
#[derive(Args, Debug)]
pub struct BayesArgs {
    /// Data file (CSV, TSV, NPY, NPZ, Parquet) or `-` for CSV on standard input.
    pub data: String,
    /// Most components (K); the weight prior decides how many are used.
    #[arg(short = 'k', long = "k")]
    pub k: usize,
    /// Covariance type: full, tied, diag or spherical.
    #[arg(long, value_enum, ignore_case = true, default_value = "full")]
    pub covariance: Covariance,
    /// The prior on the mixing proportions.
    #[arg(long, value_enum, default_value = "dirichlet-process")]
    pub weight_prior: WeightPriorArg,
    /// Concentration of the weight prior (default 1/K; smaller: fewer components).
    #[arg(long, allow_hyphen_values = true)]
    pub weight_concentration: Option<f64>,
    /// Precision prior of the means, β₀ (default 1).
    #[arg(long, allow_hyphen_values = true)]
    pub mean_precision: Option<f64>,
    /// Degrees of freedom of the Wishart prior, ν₀ (default D; must exceed D − 1).
    #[arg(long, allow_hyphen_values = true)]
    pub degrees_of_freedom: Option<f64>,
    /// How the initial responsibilities are drawn.
    #[arg(long, value_enum, ignore_case = true, default_value = "kmeans")]
    pub init: Init,
    /// Starts; the best lower bound is kept.
    #[arg(long, default_value_t = 1)]
    pub n_init: usize,
    /// Maximum variational EM iterations per start.
    #[arg(long, default_value_t = 100)]
    pub max_iter: usize,
    /// Stop when the lower bound changes by less than this.
    #[arg(long, default_value_t = 1e-3, allow_hyphen_values = true)]
    pub tol: f64,
    /// Added to the diagonals of the data scatter.
    #[arg(long, default_value_t = 1e-6, allow_hyphen_values = true)]
    pub reg_covar: f64,
    /// Seed of the initialisation.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Components with at least this expected weight count as used (in the summary).
    #[arg(long, default_value_t = 0.01)]
    pub min_weight: f64,
    #[command(flatten)]
    pub data_args: DataArgs,
    /// Worker threads.
    #[arg(long)]
    pub threads: Option<usize>,
    /// No notes on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Exit with status 3 (and write nothing) when the fit does not converge.
    #[arg(long)]
    pub strict: bool,
    #[command(flatten)]
    pub json: JsonArg,
    /// Where to write the model (JSON), or `-` for standard output.
    #[arg(short = 'o', long = "output")]
    pub output: String,
}

/// `gaussmix bayes`.
///
/// # Errors
/// Unreadable data, bad parameters, a failed fit or write; `--strict` and no convergence.
pub fn bayes(a: &BayesArgs) -> Result<()> {
    output::check_json_output(a.json.json, &a.output, "-o")?;
    io::check_output_path(&a.output)?;
    let mut g = BayesianGaussianMixture::new(a.k)
        .covariance_type(a.covariance.get())
        .weight_prior(match a.weight_prior {
            WeightPriorArg::DirichletProcess => WeightPrior::DirichletProcess,
            WeightPriorArg::DirichletDistribution => WeightPrior::DirichletDistribution,
        })
        .init(a.init.get())
        .n_init(a.n_init)
        .max_iter(a.max_iter)
        .tol(a.tol)
        .reg_covar(a.reg_covar)
        .seed(a.seed);
    if let Some(v) = a.weight_concentration {
        g = g.weight_concentration_prior(v);
    }
    if let Some(v) = a.mean_precision {
        g = g.mean_precision_prior(v);
    }
    if let Some(v) = a.degrees_of_freedom {
        g = g.degrees_of_freedom_prior(v);
    }
    let opts = ReadOptions {
        columns: a.data_args.columns.clone(),
        weights: None,
        array: a.data_args.array.clone(),
        quiet: a.quiet,
    };
    let data = io::read_dataset(&a.data, &opts)?;
    let start = Instant::now();
    let fit = with_threads(a.threads, || g.fit(data.x.view()))?.with_context(|| {
        format!(
            "fitting a variational mixture of up to {} components to {}",
            a.k, a.data
        )
    })?;
    let seconds = start.elapsed().as_secs_f64();
    if !fit.info.converged && a.strict && a.max_iter > 0 {
        return Err(anyhow::Error::new(NotConverged(format!(
            "variational EM did not converge in {} iterations (--strict; nothing written): raise --max-iter or --tol",
            a.max_iter
        ))));
    }
    let mut model = fit.model()?;
    model.set_feature_names(data.feature_names.clone())?;
    output::write_model(&a.output, &model)?;
    let used = fit.effective_components(a.min_weight);
    if !a.quiet {
        let weights: Vec<String> = fit.weights.iter().map(|w| format!("{w:.3}")).collect();
        eprintln!(
            "fitted up to k={} {} on {} rows × {} columns in {seconds:.2}s: {} after {} iterations, lower bound {:.6}; {used} components with weight ≥ {} (weights {})",
            a.k,
            a.covariance.get(),
            data.x.nrows(),
            data.x.ncols(),
            if fit.info.converged { "converged" } else { "NOT converged" },
            fit.info.n_iter,
            fit.info.lower_bound,
            a.min_weight,
            weights.join(" "),
        );
        if !fit.info.converged && a.max_iter > 0 {
            eprintln!(
                "warning: variational EM did not converge in {} iterations; raise --max-iter or --tol (--strict makes this an error)",
                a.max_iter
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
            "covariance_type": a.covariance.get().to_string(),
            "weight_prior": match a.weight_prior {
                WeightPriorArg::DirichletProcess => "dirichlet-process",
                WeightPriorArg::DirichletDistribution => "dirichlet-distribution",
            },
            "effective_components": used,
            "min_weight": a.min_weight,
            "weights": fit.weights.to_vec(),
            "converged": fit.info.converged,
            "n_iter": fit.info.n_iter,
            "lower_bound": json_f64(fit.info.lower_bound),
            "seconds": seconds,
        }))?;
    }
    Ok(())
}
