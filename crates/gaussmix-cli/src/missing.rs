//! Missing values on the command line: `--missing em` for `fit`, `predict` and `score`
//! (masked EM, see the library's `gaussmix::missing`), and `gaussmix impute`, which
//! writes the data with every gap filled by its conditional expectation under a model
//! (or a seeded draw).
//!
//! Missing cells are `NA`, `NaN`, empty and the like in CSV/TSV, NaN in NPY/NPZ, null or
//! NaN in Parquet. Without `--missing em` they stay the readers' errors (naming the row
//! and column), with a pointer to the flag.

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use gaussmix::{GmmError, GmmModel, MissingValues};
use ndarray::{Array1, ArrayView2};

use crate::args::DataArgs;
use crate::io;
use crate::util::{load_model, read_for_model, with_threads};

/// `--missing`: what a missing cell means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum MissingArg {
    /// A missing cell is an error naming its row and column (scikit-learn's behaviour).
    #[default]
    Error,
    /// Masked EM: a row with gaps counts through its observed entries.
    Em,
}

impl MissingArg {
    /// The library's policy.
    pub fn policy(self) -> MissingValues {
        match self {
            MissingArg::Error => MissingValues::Error,
            MissingArg::Em => MissingValues::Em,
        }
    }

    /// Tells the readers whether missing cells are allowed (for this process).
    pub fn apply(self) {
        io::allow_missing(self == MissingArg::Em);
    }
}

/// The readers' missing-value error, with a pointer to `--missing em`; other errors as
/// they are.
pub fn hint(e: anyhow::Error, policy: MissingArg) -> anyhow::Error {
    let text = e.to_string();
    let gap = text.contains("missing value at")
        || text.contains("non-finite value (NaN)")
        || text.contains("non-finite value NaN");
    if policy == MissingArg::Error && gap {
        anyhow::anyhow!("{text} (to use the observed entries of rows with gaps, add --missing em)")
    } else {
        e
    }
}

/// The library's all-missing errors in the words of the CLI: rows 1-based as the
/// readers count them, columns by name.
pub fn explain(e: GmmError, file: &str, names: &[String]) -> anyhow::Error {
    match e {
        GmmError::AllMissingRow { row } => anyhow::anyhow!(
            "{file}: row {} has no observed value (every chosen column is missing): drop it",
            row + 1
        ),
        GmmError::AllMissingColumn { column } => anyhow::anyhow!(
            "{file}: column '{}' has no observed value (every row is missing): leave it out with --columns",
            names.get(column).map_or(column.to_string(), |n| n.clone())
        ),
        other => anyhow::Error::new(other),
    }
}

/// Whether `x` has a NaN.
pub fn has_gaps(x: ArrayView2<f64>) -> bool {
    x.iter().any(|v| v.is_nan())
}

/// BIC of a model on data with gaps: `−2 Σ ln p(x_o) + p ln n`.
///
/// # Errors
/// As [`GmmModel::score_samples_missing`].
pub fn bic(model: &GmmModel, x: ArrayView2<f64>) -> Result<f64> {
    let ll = model.score_samples_missing(x)?.sum();
    Ok(-2.0 * ll + model.n_parameters() as f64 * (x.nrows() as f64).ln())
}

/// Arguments of `impute`.
#[derive(Args, Debug)]
pub struct ImputeArgs {
    /// Model file written by `gaussmix fit`.
    pub model: String,
    /// Data file (CSV, NPY, NPZ, Parquet) or `-`, with missing cells (`NA`, `NaN`, empty,
    /// null).
    pub data: String,
    #[command(flatten)]
    pub data_args: DataArgs,
    /// Fill each gap with a draw from its conditional distribution under the model
    /// instead of its conditional expectation.
    #[arg(long)]
    pub draw: bool,
    /// Seed of --draw (the same seed gives the same table whatever the thread count).
    #[arg(long, default_value_t = 0, requires = "draw")]
    pub seed: u64,
    /// Output table: CSV (.tsv tab-separated, .parquet Parquet); default `-`, standard
    /// output.
    #[arg(short = 'o', long = "output", default_value = "-")]
    pub output: String,
    /// Worker threads.
    #[arg(long)]
    pub threads: Option<usize>,
    /// No notes on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// `gaussmix impute`.
///
/// # Errors
/// Unreadable model or data, a row without an observed value, a model with a noise
/// component; nothing is written then.
pub fn impute(a: &ImputeArgs) -> Result<()> {
    let model = load_model(&a.model)?;
    io::check_output_path(&a.output)?;
    MissingArg::Em.apply();
    let data = read_for_model(&a.data, &a.data_args, &model, a.quiet)?;
    let x = data.x.view();
    let gaps = x.iter().filter(|v| v.is_nan()).count();
    let filled = with_threads(a.threads, || model.impute(x, a.draw.then_some(a.seed)))?
        .map_err(|e| explain(e, &a.data, &data.feature_names))
        .with_context(|| format!("imputing {} with {}", a.data, a.model))?;
    io::write_csv(&a.output, &data.feature_names, filled.view())?;
    if !a.quiet {
        let rows = Array1::from_iter(x.rows().into_iter().map(|r| r.iter().any(|v| v.is_nan())));
        eprintln!(
            "filled {gaps} missing cells in {} of {} rows ({}){}",
            rows.iter().filter(|b| **b).count(),
            x.nrows(),
            if a.draw {
                format!("draws, seed {}", a.seed)
            } else {
                "conditional expectations".to_string()
            },
            if a.output == "-" {
                String::new()
            } else {
                format!("; wrote {}", a.output)
            }
        );
    }
    Ok(())
}
