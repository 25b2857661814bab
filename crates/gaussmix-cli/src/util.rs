//! Helpers shared by `select`, `anomaly` and `plot`: a local thread pool for `--threads`,
//! and reading data for an existing model.

use anyhow::{bail, Context, Result};
use gaussmix::GmmModel;

use crate::commands::DataArgs;
use crate::io::{self, Dataset, ReadOptions};

/// Runs `f` on a local pool of `threads` threads (rayon's default pool when `None`); the
/// library never configures the global pool.
///
/// # Errors
/// `--threads 0`, or a pool that cannot be started.
pub fn with_threads<T: Send>(threads: Option<usize>, f: impl FnOnce() -> T + Send) -> Result<T> {
    match threads {
        Some(0) => bail!("--threads must be at least 1"),
        Some(n) => {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .context("cannot start worker threads")?;
            Ok(pool.install(f))
        }
        None => Ok(f()),
    }
}

/// Reads a model file.
///
/// # Errors
/// An unreadable file or an invalid model, naming the path.
pub fn load_model(path: &str) -> Result<GmmModel> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read model file {path}"))?;
    GmmModel::from_json(&text).with_context(|| format!("{path} is not a valid gaussmix model"))
}

/// Reads data for an existing model: the columns of `--columns`, else the model's feature
/// columns when the file has them by name, else every numeric column. The width must
/// match the model's.
///
/// # Errors
/// Reader errors, or a number of columns other than the model's (the message names both).
pub fn read_for_model(
    path: &str,
    args: &DataArgs,
    model: &GmmModel,
    quiet: bool,
) -> Result<Dataset> {
    let named = !model
        .feature_names()
        .iter()
        .enumerate()
        .all(|(i, n)| *n == format!("x{i}"));
    let mut opts = ReadOptions {
        columns: args.columns.clone(),
        weights: None,
        array: args.array.clone(),
        quiet,
    };
    let data = if opts.columns.is_none() && named && path != "-" {
        opts.columns = Some(model.feature_names().to_vec());
        opts.quiet = true;
        match io::read_dataset(path, &opts) {
            Ok(d) => d,
            Err(_) => {
                opts.columns = None;
                opts.quiet = quiet;
                io::read_dataset(path, &opts)?
            }
        }
    } else {
        io::read_dataset(path, &opts)?
    };
    if data.x.ncols() != model.n_features() {
        bail!(
            "{path} has {} feature columns ({}) but the model has {} ({}): the dimensions differ; choose columns with --columns",
            data.x.ncols(),
            data.feature_names.join(", "),
            model.n_features(),
            model.feature_names().join(", ")
        );
    }
    Ok(data)
}
