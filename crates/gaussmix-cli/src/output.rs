//! Table output chosen by the output path, and a progress line for work made of many
//! independent tasks (the fits of `select`, the candidates of `anomaly`).
//!
//! | output | format |
//! |---|---|
//! | `-` | CSV on standard output |
//! | `.csv` | comma-separated |
//! | `.tsv` | tab-separated |
//! | anything else | an error naming the extension and the supported ones |

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

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
        TableFormat::Parquet => io::parquet::write_text_parquet(path, header, rows),
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

/// A progress line on stderr for `total` independent tasks: shown only on a terminal,
/// not with `--quiet`, and only once the work has run for about a second. Safe to call
/// from several threads.
pub struct Ticker {
    what: String,
    total: usize,
    enabled: bool,
    start: Instant,
    state: Mutex<TickerState>,
}

struct TickerState {
    done: usize,
    last_draw: Option<Instant>,
    drawn: bool,
}

impl Ticker {
    /// A ticker for `total` tasks described as `what` (e.g. "fits").
    pub fn new(what: &str, total: usize, enabled: bool) -> Self {
        Ticker {
            what: what.to_string(),
            total,
            enabled: enabled && std::io::stderr().is_terminal(),
            start: Instant::now(),
            state: Mutex::new(TickerState {
                done: 0,
                last_draw: None,
                drawn: false,
            }),
        }
    }

    /// Records one finished task, with a short label of the latest one.
    pub fn tick(&self, label: &str) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.done += 1;
        if !self.enabled || self.start.elapsed() < Duration::from_secs(1) {
            return;
        }
        if s.last_draw
            .is_some_and(|t| t.elapsed() < Duration::from_millis(100))
            && s.done < self.total
        {
            return;
        }
        s.last_draw = Some(Instant::now());
        s.drawn = true;
        let width = 24;
        let filled = (s.done * width).checked_div(self.total).unwrap_or(width);
        let bar: String = "#".repeat(filled) + &"-".repeat(width - filled);
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r\x1b[2K[{bar}] {}/{} {}  {}  {:.1}s",
            s.done,
            self.total,
            self.what,
            label,
            self.start.elapsed().as_secs_f64()
        );
        let _ = err.flush();
    }

    /// Clears the line.
    pub fn finish(&self) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if s.drawn {
            eprint!("\r\x1b[2K");
            s.drawn = false;
        }
    }
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
}
