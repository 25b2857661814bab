//! Helpers shared by the subcommands: a local thread pool for `--threads`, reading a
//! model, and reading data for an existing model.

use anyhow::{bail, Context, Result};
use gaussmix::GmmModel;

use crate::args::DataArgs;
use crate::io::{self, Dataset, ReadOptions};

/// Runs `f` on a local pool of `threads` threads (rayon's default pool when `None`); the
/// library never configures the global pool.
///
/// # Errors
/// `--threads 0` (a usage error), or a pool that cannot be started.
pub fn with_threads<T: Send>(threads: Option<usize>, f: impl FnOnce() -> T + Send) -> Result<T> {
    match threads {
        Some(0) => Err(crate::exit::usage("--threads must be at least 1")),
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
    model_from_text(path, &text)
}

/// The model in a model file's `text` (read from `path`); an anomaly ensemble, which is
/// not one mixture, gets a message saying what reads it (checked only when the text is not
/// a model, so a model is parsed once).
///
/// # Errors
/// A malformed model, or an ensemble.
pub fn model_from_text(path: &str, text: &str) -> Result<GmmModel> {
    GmmModel::from_json(text).or_else(|e| {
        if is_anomaly_ensemble(text) {
            anyhow::bail!(
                "{path} is an anomaly detector of several mixtures (an ensemble): `gaussmix anomaly --model {path}` scores with it and `gaussmix info {path}` describes it; other commands need a single mixture (save one with `gaussmix anomaly --select-bic --save-model`)"
            );
        }
        Err(anyhow::Error::new(e).context(format!("{path} is not a valid gaussmix model")))
    })
}

/// Whether a model file's text is an anomaly ensemble (its own JSON layout).
pub fn is_anomaly_ensemble(text: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(text)
        .is_ok_and(|v| v.get("gaussmix_anomaly_ensemble").is_some())
}

/// Reads data for an existing model, choosing its columns once:
///
/// - `--columns`, when given, chooses them;
/// - else, when both the model and the file name their columns, the model's features by
///   name: a column the model has and the file lacks is an error naming it, and columns
///   the file has beyond the model's are left out with a note naming them;
/// - else every numeric column, by position.
///
/// The number of columns must match the model's.
///
/// # Errors
/// Reader errors, missing columns, or a width other than the model's (the message
/// names both sides).
pub fn read_for_model(
    path: &str,
    args: &DataArgs,
    model: &GmmModel,
    quiet: bool,
) -> Result<Dataset> {
    let model_names = model.feature_names();
    let model_named = !model_names
        .iter()
        .enumerate()
        .all(|(i, n)| *n == format!("x{i}"));
    let mut opts = ReadOptions {
        columns: args.columns.clone(),
        weights: None,
        array: args.array.clone(),
        quiet,
    };
    let table = io::read_table(path, &opts)?;
    let mut notes = Vec::new();
    // By name when the file names its columns and the model's names mean something
    // (or, for a model of unnamed columns x0, x1, …, when the file has them all: a file
    // written by `gaussmix sample`).
    let by_name = opts.columns.is_none()
        && table.schema.named
        && (model_named || model_names.iter().all(|n| table.schema.names.contains(n)));
    if by_name {
        let have = &table.schema.names;
        let missing: Vec<String> = model_names
            .iter()
            .filter(|n| !have.contains(n))
            .cloned()
            .collect();
        let positional = missing.len() == model_names.len();
        if !missing.is_empty() && !positional {
            bail!(
                "{path} lacks the model's column{} {} (the model uses {}; the file has {}): choose columns with --columns",
                if missing.len() == 1 { "" } else { "s" },
                quoted(&missing),
                io::list_names(model_names),
                io::list_names(have)
            );
        }
        if positional {
            // none of the model's names: the file names its columns otherwise, so they
            // are taken by position (the widths must agree)
            if !quiet {
                eprintln!(
                    "note: {path} has none of the model's columns ({}); using its numeric columns by position",
                    io::list_names(model_names)
                );
            }
            return by_position(path, table, &opts, model, quiet);
        }
        let extra: Vec<String> = (0..have.len())
            .filter(|&j| {
                table.schema.kinds[j] == io::Kind::Number && !model_names.contains(&have[j])
            })
            .map(|j| have[j].clone())
            .collect();
        if !extra.is_empty() {
            notes.push(format!(
                "ignoring column{} {} of {path}: not among the model's features ({})",
                if extra.len() == 1 { "" } else { "s" },
                quoted(&extra),
                io::list_names(model_names)
            ));
        }
        opts.columns = Some(model_names.to_vec());
    }
    finish(path, table, &opts, model, quiet, notes)
}

/// The numeric columns of `table` (or `--columns`), for `model`.
fn by_position(
    path: &str,
    table: io::Table,
    opts: &ReadOptions,
    model: &GmmModel,
    quiet: bool,
) -> Result<Dataset> {
    finish(path, table, opts, model, quiet, Vec::new())
}

/// Chooses the columns, prints the notes, checks the width.
fn finish(
    path: &str,
    table: io::Table,
    opts: &ReadOptions,
    model: &GmmModel,
    quiet: bool,
    mut notes: Vec<String>,
) -> Result<Dataset> {
    let model_names = model.feature_names();
    let data = table.into_dataset(opts, &mut notes);
    if !quiet {
        for n in &notes {
            eprintln!("note: {n}");
        }
    }
    let data = data?;
    if data.x.ncols() != model.n_features() {
        bail!(
            "{path} has {} feature columns ({}) but the model has {} ({}): the dimensions differ; choose columns with --columns",
            data.x.ncols(),
            io::list_names(&data.feature_names),
            model.n_features(),
            io::list_names(model_names)
        );
    }
    Ok(data)
}

/// `'a', 'b'`.
fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Ctrl-C and SIGTERM handling (moved to [`crate::interrupt`]; re-exported here for the
/// commands that still import it from `util`).
pub use crate::interrupt;
