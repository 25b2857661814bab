//! Results written where the output path says: tables by extension, models as JSON,
//! and the `--json` convention (one JSON object on standard output).
//!
//! | output | format |
//! |---|---|
//! | `-` | CSV on standard output |
//! | `.csv` | comma-separated |
//! | `.tsv` | tab-separated |
//! | anything else | an error naming the extension and the supported ones |

use std::path::Path;

use anyhow::{bail, Context, Result};
use gaussmix::GmmModel;

use crate::io::{self, Column};

/// The table output formats, by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFormat {
    /// Comma- or tab-separated text (also standard output, `-`).
    Csv,
    /// Apache Parquet (feature `parquet`).
    Parquet,
}

/// The output extensions [`write_table`] accepts, for error messages.
pub const TABLE_FORMATS: &str = if cfg!(feature = "parquet") {
    ".csv, .tsv, .parquet, or - for standard output"
} else {
    ".csv, .tsv, or - for standard output"
};

impl TableFormat {
    /// The format for an output path (`-` is CSV on standard output).
    ///
    /// # Errors
    /// A missing or unknown extension, named in the message.
    pub fn from_path(path: &str) -> Result<TableFormat> {
        if path == "-" {
            return Ok(TableFormat::Csv);
        }
        let ext = Path::new(path)
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        match ext.as_deref() {
            Some("csv" | "tsv") => Ok(TableFormat::Csv),
            #[cfg(feature = "parquet")]
            Some("parquet" | "parq") => Ok(TableFormat::Parquet),
            Some(other) => bail!(
                "{path}: unsupported output extension '.{other}' (supported: {TABLE_FORMATS})"
            ),
            None => bail!(
                "{path}: cannot tell the output format without a file extension (supported: {TABLE_FORMATS})"
            ),
        }
    }
}

/// Checks before long work that `path` names a supported format in a writable place.
///
/// # Errors
/// As [`TableFormat::from_path`] and [`io::check_output_path`].
pub fn check_table_output(path: &str) -> Result<()> {
    TableFormat::from_path(path)?;
    io::check_output_path(path)
}

/// Writes the columns as a table in the format the path's extension names.
///
/// # Errors
/// An unsupported extension, columns of different lengths, or a write failure; no file
/// is left behind.
pub fn write_table(path: &str, columns: &[Column<'_>]) -> Result<()> {
    match TableFormat::from_path(path)? {
        TableFormat::Csv | TableFormat::Parquet => io::write_columns(path, columns),
    }
}

/// Writes a table of text cells (a header and rows of the same width) in the format the
/// path's extension names.
///
/// # Errors
/// An unsupported extension, a row of the wrong width, or a write failure; no file is
/// left behind.
pub fn write_text_table(path: &str, header: &[&str], rows: &[Vec<String>]) -> Result<()> {
    if let Some(r) = rows.iter().find(|r| r.len() != header.len()) {
        bail!(
            "cannot write {path}: a row has {} cells for {} columns",
            r.len(),
            header.len()
        );
    }
    match TableFormat::from_path(path)? {
        #[cfg(feature = "parquet")]
        TableFormat::Parquet => io::write::write_text_parquet(path, header, rows),
        #[cfg(not(feature = "parquet"))]
        TableFormat::Parquet => bail!("{path}: Parquet output needs the `parquet` feature"),
        TableFormat::Csv => {
            let delim = if path.to_ascii_lowercase().ends_with(".tsv") {
                b'\t'
            } else {
                b','
            };
            io::write_output(path, |w| {
                let mut out = ::csv::WriterBuilder::new().delimiter(delim).from_writer(w);
                out.write_record(header)?;
                for r in rows {
                    out.write_record(r)?;
                }
                out.flush()?;
                Ok(())
            })
        }
    }
}

/// Where the progress bar of `select` and `anomaly` moved (re-exported for them).
pub use crate::progress::Ticker;

/// Writes a model as JSON to `path` (`-` = standard output), atomically for a file.
///
/// # Errors
/// A model that cannot be serialised, or a write failure (the message names the path).
pub fn write_model(path: &str, model: &GmmModel) -> Result<()> {
    let json = model.to_json()?;
    io::write_output(path, |w| {
        w.write_all(json.as_bytes())?;
        w.write_all(b"\n")?;
        Ok(())
    })
    .with_context(|| format!("cannot write the model to {}", shown(path)))
}

/// `path` as messages show it: `-` is "standard output".
pub fn shown(path: &str) -> &str {
    if path == "-" {
        "standard output"
    } else {
        path
    }
}

/// Prints one JSON value on standard output (pretty, with a final newline): the result
/// of a command run with `--json`.
///
/// # Errors
/// A failed write to standard output (a closed pipe is not an error).
pub fn print_json(value: &serde_json::Value) -> Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    io::write_output("-", |w| {
        w.write_all(text.as_bytes())?;
        w.write_all(b"\n")?;
        Ok(())
    })
}

/// A float for JSON: `null` when not finite (JSON has no NaN or infinity).
pub fn json_f64(v: f64) -> serde_json::Value {
    serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, serde_json::Value::Number)
}

/// Checks that `--json` and an output path do not both claim standard output.
///
/// # Errors
/// A usage error naming the two flags.
pub fn check_json_output(json: bool, output: &str, flag: &str) -> Result<()> {
    if json && output == "-" {
        return Err(crate::exit::usage(format!(
            "--json and {flag} - both write to standard output: write the output to a file, or drop --json"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_by_extension() {
        assert_eq!(TableFormat::from_path("-").unwrap(), TableFormat::Csv);
        assert_eq!(TableFormat::from_path("a.CSV").unwrap(), TableFormat::Csv);
        assert_eq!(TableFormat::from_path("a.tsv").unwrap(), TableFormat::Csv);
        let e = TableFormat::from_path("a.xlsx").unwrap_err().to_string();
        assert!(e.contains(".xlsx") && e.contains(".csv"), "{e}");
        assert!(TableFormat::from_path("noext").is_err());
    }

    #[test]
    fn json_floats_and_stdout_claims() {
        assert_eq!(json_f64(1.5), serde_json::json!(1.5));
        assert_eq!(json_f64(f64::NAN), serde_json::Value::Null);
        assert!(check_json_output(true, "m.json", "-o").is_ok());
        assert!(check_json_output(false, "-", "-o").is_ok());
        let e = check_json_output(true, "-", "-o").unwrap_err();
        assert_eq!(crate::exit::status(&e), crate::exit::USAGE);
        assert_eq!(shown("-"), "standard output");
    }
}
