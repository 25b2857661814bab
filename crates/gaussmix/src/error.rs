//! The one error type of the library.

use thiserror::Error;

/// Everything that can go wrong when configuring, fitting or using a mixture.
///
/// Non-convergence is *not* an error: it is reported in [`crate::FitInfo`].
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum GmmError {
    /// A parameter is outside its valid range.
    #[error("invalid parameter {name} = {value}: {reason}")]
    InvalidParam {
        /// Parameter name, as in the builder.
        name: &'static str,
        /// The offending value, formatted.
        value: String,
        /// What the value must satisfy.
        reason: String,
    },
    /// An array does not have the shape it must have.
    #[error("shape mismatch for {what}: expected {expected}, got {got}")]
    ShapeMismatch {
        /// What was being checked (e.g. `"data"`, `"means_init"`).
        what: String,
        /// The expected shape.
        expected: String,
        /// The shape that was given.
        got: String,
    },
    /// The data has no rows or no columns.
    #[error("empty data: {rows} rows, {columns} columns")]
    EmptyData {
        /// Number of rows.
        rows: usize,
        /// Number of columns.
        columns: usize,
    },
    /// Fewer (positively weighted) samples than components.
    #[error("{n_samples} samples cannot be fitted with {n_components} components: need at least as many samples as components (lower k)")]
    TooFewSamples {
        /// Number of samples.
        n_samples: usize,
        /// Number of components asked for.
        n_components: usize,
    },
    /// A NaN or infinite value in the data.
    #[error("non-finite value {value} in the data at row {row}, column {column} (0-based)")]
    NonFinite {
        /// Row index (0-based).
        row: usize,
        /// Column index (0-based).
        column: usize,
        /// The value found.
        value: f64,
    },
    /// A row has no observed value (every entry missing), with missing values allowed.
    #[error("row {row} (0-based) has no observed value: every entry is missing (drop the row)")]
    AllMissingRow {
        /// Row index (0-based).
        row: usize,
    },
    /// A column has no observed value in the data of a fit, with missing values allowed.
    #[error(
        "column {column} (0-based) has no observed value: every entry is missing (drop the column)"
    )]
    AllMissingColumn {
        /// Column index (0-based).
        column: usize,
    },
    /// Sample weights are unusable.
    #[error("invalid sample weights: {reason}")]
    InvalidWeights {
        /// What is wrong.
        reason: String,
    },
    /// A component's covariance is not positive definite even after regularisation,
    /// or its statistics are not finite.
    #[error("ill-defined covariance for component {component}: {reason}; try raising reg_covar (now {reg_covar:e}), lowering the number of components, or rescaling the data")]
    IllDefinedCovariance {
        /// Component index (0-based); for tied covariance, 0.
        component: usize,
        /// Regularisation that was in force.
        reg_covar: f64,
        /// What failed.
        reason: String,
    },
    /// A component is degenerate (a spike on a few points: see `gaussmix::degenerate`)
    /// and the fit's policy is to fail.
    #[error("component {component} is degenerate: {reason}; lower the number of components, use another covariance family, add a prior, or choose the reseed or drop policy")]
    Degenerate {
        /// Component index (0-based).
        component: usize,
        /// Why it is degenerate.
        reason: String,
    },
    /// A model (loaded from a file or built by hand) is inconsistent.
    #[error("invalid model: {reason}")]
    InvalidModel {
        /// What is wrong.
        reason: String,
    },
    /// A streaming source of rows failed (I/O error, corrupt or truncated file).
    #[error("reading the data failed: {reason}")]
    Source {
        /// What went wrong, naming the file.
        reason: String,
    },
    /// The fit was stopped through its interrupt flag
    /// ([`crate::GaussianMixture::interrupt`]) before it finished.
    #[error("the fit was interrupted")]
    Interrupted,
    /// A checkpoint could not be saved (the sink of a
    /// [`crate::checkpoint::Checkpointer`] failed).
    #[error("saving a checkpoint failed: {reason}")]
    Checkpoint {
        /// What went wrong, naming the file.
        reason: String,
    },
    /// Serialised sufficient statistics or a model file could not be decoded.
    #[error("cannot decode {what}: {reason}")]
    Decode {
        /// What was being decoded.
        what: &'static str,
        /// Why it failed.
        reason: String,
    },
}

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, GmmError>;
