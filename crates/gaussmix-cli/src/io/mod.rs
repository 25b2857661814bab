//! Reading data sets and writing results for the `gaussmix` command line.
//!
//! Input formats are chosen by file extension:
//!
//! | extension | reader |
//! |---|---|
//! | `.csv`, `.tsv`, `.txt` | [`csv`]: delimiter sniffed (comma, tab, semicolon, whitespace) |
//! | `.npy` | [`npy`]: one 1-D or 2-D numeric array |
//! | `.npz` | [`npz`]: features from array `X` (or `--array NAME`), labels from `y` |
//!
//! `-` reads standard input: NPY and NPZ are recognised by their magic bytes, anything
//! else is read as CSV.
//!
//! Every reader answers bad input with an error naming the file, and the row and column
//! where it applies; nothing panics. Writers never leave a half-written file behind: see
//! [`write_atomic`].

// The subcommands in main.rs will call all of this; until they are wired up some items
// have no caller in the binary.
#![allow(dead_code)]

pub mod csv;
pub mod npy;
pub mod npz;
#[cfg(feature = "parquet")]
pub mod parquet;
pub mod write;

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use anyhow::{anyhow, bail, Result};
use ndarray::{Array1, Array2, Axis};

// Used by the subcommands in main.rs once they are wired up.
#[allow(unused_imports)]
pub use write::{
    check_output_path, write_atomic, write_columns, write_csv, write_csv_with_labels, write_labels,
    write_output, Column,
};

/// How to read a data file: which columns, which weights, which array.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// Feature columns in the order wanted, by header name, or by 0-based index when no
    /// header name matches. `None`: every numeric column (text columns are skipped with a
    /// note on stderr).
    pub columns: Option<Vec<String>>,
    /// A column (name or 0-based index) taken out of the features and used as sample
    /// weights: finite, ≥ 0 and not all zero.
    pub weights: Option<String>,
    /// The array of an NPZ file holding the features (default `X`). An error for other
    /// formats.
    pub array: Option<String>,
    /// Do not print notes (skipped text columns, ignored labels) on stderr.
    pub quiet: bool,
}

/// A data set read from a file: an N × D matrix of finite numbers and what goes with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// The features, N rows × D columns, all finite, standard (C) layout.
    pub x: Array2<f64>,
    /// One name per column of `x`: the header names, or `x0, x1, ...` when the file has
    /// none (NPY, NPZ, CSV without header).
    pub feature_names: Vec<String>,
    /// Sample weights from `--weights`: N finite values ≥ 0, not all zero.
    pub weights: Option<Array1<f64>>,
    /// The NPZ array `y`, when present and of length N (anomaly labels and the like).
    pub labels: Option<Array1<f64>>,
}

impl Dataset {
    /// Number of rows N.
    pub fn n_samples(&self) -> usize {
        self.x.nrows()
    }

    /// Number of feature columns D.
    pub fn n_features(&self) -> usize {
        self.x.ncols()
    }
}

/// The formats [`read_dataset`] knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Delimited text: `.csv`, `.tsv`, `.txt`.
    Csv,
    /// NumPy array file: `.npy`.
    Npy,
    /// Zip of NumPy arrays: `.npz`.
    Npz,
    /// Apache Parquet: `.parquet`, `.parq` (feature `parquet`).
    Parquet,
}

/// The extensions [`read_dataset`] accepts, for error messages.
pub const SUPPORTED: &str = if cfg!(feature = "parquet") {
    ".csv, .tsv, .txt, .npy, .npz, .parquet"
} else {
    ".csv, .tsv, .txt, .npy, .npz"
};

impl Format {
    /// The format of `path`, by its extension (case-insensitive).
    ///
    /// # Errors
    /// No extension, or one that is not supported; the message names the extension and
    /// the supported ones.
    pub fn from_path(path: &str) -> Result<Format> {
        let ext = Path::new(path)
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        match ext.as_deref() {
            Some("csv" | "tsv" | "txt") => Ok(Format::Csv),
            Some("npy") => Ok(Format::Npy),
            Some("npz") => Ok(Format::Npz),
            #[cfg(feature = "parquet")]
            Some("parquet" | "parq") => Ok(Format::Parquet),
            Some(other) => {
                bail!("{path}: unsupported file extension '.{other}' (supported: {SUPPORTED})")
            }
            None => bail!(
                "{path}: cannot tell the format without a file extension (supported: {SUPPORTED})"
            ),
        }
    }
}

/// Reads a data set from `path` (`-` = standard input) as `opts` says.
///
/// Notes (skipped text columns and the like) go to stderr unless `opts.quiet`.
///
/// # Errors
/// Unreadable or malformed files, unsupported formats, missing or non-finite values, bad
/// column choices, bad weights: each with a message naming the file and, where it applies,
/// the row, line and column.
pub fn read_dataset(path: &str, opts: &ReadOptions) -> Result<Dataset> {
    let mut notes = Vec::new();
    let result = read_dataset_notes(path, opts, &mut notes);
    if !opts.quiet {
        for n in &notes {
            eprintln!("note: {n}");
        }
    }
    result
}

/// [`read_dataset`], with the notes collected in `notes` instead of printed.
pub fn read_dataset_notes(
    path: &str,
    opts: &ReadOptions,
    notes: &mut Vec<String>,
) -> Result<Dataset> {
    if path == "-" {
        let stdin = std::io::stdin();
        return read_stream("<stdin>", stdin.lock(), opts, notes);
    }
    let format = Format::from_path(path)?;
    if opts.array.is_some() && format != Format::Npz {
        bail!("{path}: --array applies only to .npz files");
    }
    let meta = std::fs::metadata(path).map_err(|e| anyhow!("cannot open {path}: {e}"))?;
    if meta.is_dir() {
        bail!("{path} is a directory, not a data file");
    }
    let file = File::open(path).map_err(|e| anyhow!("cannot open {path}: {e}"))?;
    match format {
        Format::Csv => {
            let default_delim = if path.to_ascii_lowercase().ends_with(".tsv") {
                b'\t'
            } else {
                b','
            };
            csv::read_csv(path, BufReader::new(file), default_delim, opts, notes)
        }
        Format::Npy => {
            let arr = npy::read_npy(path, BufReader::new(file), Some(meta.len()))?;
            array_dataset(path, None, arr, None, opts)
        }
        Format::Npz => npz::read_npz(path, file, opts, notes),
        #[cfg(feature = "parquet")]
        Format::Parquet => parquet::read_parquet(path, file, opts, notes),
        #[cfg(not(feature = "parquet"))]
        Format::Parquet => {
            bail!("{path}: this gaussmix was built without Parquet support (feature `parquet`)")
        }
    }
}

/// Reads a data set from a stream whose format is unknown: NPY and NPZ by magic bytes,
/// CSV otherwise.
pub fn read_stream(
    name: &str,
    mut reader: impl Read,
    opts: &ReadOptions,
    notes: &mut Vec<String>,
) -> Result<Dataset> {
    let mut magic = Vec::with_capacity(6);
    (&mut reader)
        .take(6)
        .read_to_end(&mut magic)
        .map_err(|e| anyhow!("{name}: cannot read: {e}"))?;
    let rest = std::io::Cursor::new(magic.clone()).chain(reader);
    if magic.starts_with(npy::MAGIC) {
        if opts.array.is_some() {
            bail!("{name}: --array applies only to NPZ input, but this is NPY");
        }
        let arr = npy::read_npy(name, rest, None)?;
        array_dataset(name, None, arr, None, opts)
    } else if magic.starts_with(b"PAR1") {
        let mut bytes = Vec::new();
        let mut rest = rest;
        rest.read_to_end(&mut bytes)
            .map_err(|e| anyhow!("{name}: cannot read: {e}"))?;
        #[cfg(feature = "parquet")]
        return parquet::read_parquet(name, ::bytes::Bytes::from(bytes), opts, notes);
        #[cfg(not(feature = "parquet"))]
        bail!("{name}: Parquet input needs the `parquet` feature")
    } else if magic.starts_with(b"PK\x03\x04") || magic.starts_with(b"PK\x05\x06") {
        let mut bytes = Vec::new();
        let mut rest = rest;
        rest.read_to_end(&mut bytes)
            .map_err(|e| anyhow!("{name}: cannot read: {e}"))?;
        npz::read_npz(name, std::io::Cursor::new(bytes), opts, notes)
    } else {
        if opts.array.is_some() {
            bail!("{name}: --array applies only to NPZ input, but this looks like CSV");
        }
        csv::read_csv(name, rest, b',', opts, notes)
    }
}

/// Finds one column by name, or by 0-based index when no name matches.
///
/// `what` says what the column is for in messages (`"--columns"`, `"--weights"`).
pub fn resolve_column(file: &str, spec: &str, names: &[String], what: &str) -> Result<usize> {
    let spec_t = spec.trim();
    if spec_t.is_empty() {
        bail!("{file}: empty column name in {what}");
    }
    let hits: Vec<usize> = names
        .iter()
        .enumerate()
        .filter(|(_, n)| n.as_str() == spec_t)
        .map(|(i, _)| i)
        .collect();
    match hits.len() {
        1 => return Ok(hits[0]),
        0 => {}
        _ => {
            bail!(
            "{file}: column name '{spec_t}' in {what} is ambiguous: it names columns {} (0-based)",
            hits.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
        )
        }
    }
    if let Ok(i) = spec_t.parse::<usize>() {
        if i < names.len() {
            return Ok(i);
        }
        bail!(
            "{file}: column index {i} in {what} is out of range: the file has {} columns ({})",
            names.len(),
            list_names(names)
        );
    }
    bail!(
        "{file}: no column '{spec_t}' (from {what}); the columns are: {}",
        list_names(names)
    )
}

/// `a, b, c`, shortened when long.
pub fn list_names(names: &[String]) -> String {
    const MAX: usize = 20;
    let shown: Vec<String> = names
        .iter()
        .take(MAX)
        .map(|n| {
            if n.is_empty() {
                "''".to_string()
            } else {
                n.clone()
            }
        })
        .collect();
    let mut s = shown.join(", ");
    if names.len() > MAX {
        s.push_str(&format!(", ... ({} in all)", names.len()));
    }
    s
}

/// Which columns are features and which one holds weights.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// Feature columns, in output order.
    pub features: Vec<usize>,
    /// The weights column.
    pub weights: Option<usize>,
    /// Columns the user named explicitly in `--columns`.
    pub explicit: bool,
}

/// Resolves `--columns` and `--weights` against `names`. Without `--columns`, the
/// features are every column for which `auto` says yes, less the weights column.
pub fn select_columns(
    file: &str,
    names: &[String],
    opts: &ReadOptions,
    auto: impl Fn(usize) -> bool,
) -> Result<Selection> {
    let weights = match &opts.weights {
        Some(w) => Some(resolve_column(file, w, names, "--weights")?),
        None => None,
    };
    let (features, explicit) = match &opts.columns {
        Some(cols) => {
            if cols.is_empty() {
                bail!("{file}: --columns names no column");
            }
            let mut idx = Vec::with_capacity(cols.len());
            for c in cols {
                let i = resolve_column(file, c, names, "--columns")?;
                if idx.contains(&i) {
                    bail!("{file}: column '{}' is chosen twice in --columns", names[i]);
                }
                if Some(i) == weights {
                    bail!(
                        "{file}: column '{}' cannot be both a feature (--columns) and the weights (--weights)",
                        names[i]
                    );
                }
                idx.push(i);
            }
            (idx, true)
        }
        None => (
            (0..names.len())
                .filter(|&i| Some(i) != weights && auto(i))
                .collect(),
            false,
        ),
    };
    Ok(Selection {
        features,
        weights,
        explicit,
    })
}

/// Checks sample weights: finite, ≥ 0, not all zero. `at(i)` describes row `i` for
/// messages (e.g. `row 3 (line 4)`).
pub fn check_weights(
    file: &str,
    column: &str,
    w: &[f64],
    at: impl Fn(usize) -> String,
) -> Result<()> {
    for (i, &v) in w.iter().enumerate() {
        if !v.is_finite() {
            bail!(
                "{file}: non-finite weight {v} at {}, column '{column}'",
                at(i)
            );
        }
        if v < 0.0 {
            bail!(
                "{file}: negative weight {v} at {}, column '{column}'",
                at(i)
            );
        }
    }
    if w.iter().all(|&v| v == 0.0) {
        bail!("{file}: all weights in column '{column}' are zero");
    }
    Ok(())
}

/// Builds a [`Dataset`] from a whole numeric array (NPY, or an NPZ member): column
/// selection by `x0, x1, ...` or index, finiteness check, weights.
///
/// `array` names the NPZ member for messages (`None` for a plain NPY file).
pub fn array_dataset(
    file: &str,
    array: Option<&str>,
    arr: Array2<f64>,
    labels: Option<Array1<f64>>,
    opts: &ReadOptions,
) -> Result<Dataset> {
    let what = match array {
        Some(a) => format!("{file}: array '{a}'"),
        None => file.to_string(),
    };
    if arr.nrows() == 0 {
        bail!(
            "{what}: no data rows (shape {} × {})",
            arr.nrows(),
            arr.ncols()
        );
    }
    if arr.ncols() == 0 {
        bail!("{what}: no columns (shape {} × 0)", arr.nrows());
    }
    let names: Vec<String> = (0..arr.ncols()).map(|j| format!("x{j}")).collect();
    let sel = select_columns(&what, &names, opts, |_| true)?;
    if sel.features.is_empty() {
        bail!("{what}: no feature columns left after taking out the weights");
    }
    let mut x = if sel.features.len() == arr.ncols()
        && sel.features.iter().enumerate().all(|(i, &j)| i == j)
    {
        arr.clone()
    } else {
        arr.select(Axis(1), &sel.features)
    };
    if !x.is_standard_layout() {
        x = x.as_standard_layout().into_owned();
    }
    // Row-major scan so the first bad value reported is the first in reading order.
    for (i, row) in x.outer_iter().enumerate() {
        for (k, &v) in row.iter().enumerate() {
            if !v.is_finite() {
                return Err(anyhow!(
                    "{what}: non-finite value ({}) at row {i}, column {} (0-based)",
                    v,
                    sel.features[k]
                ));
            }
        }
    }
    let weights = match sel.weights {
        Some(j) => {
            let w = arr.column(j).to_owned();
            check_weights(
                &what,
                &names[j],
                w.as_slice().expect("owned 1-D array is contiguous"),
                |i| format!("row {i} (0-based)"),
            )?;
            Some(w)
        }
        None => None,
    };
    let feature_names = sel.features.iter().map(|&j| names[j].clone()).collect();
    Ok(Dataset {
        x,
        feature_names,
        weights,
        labels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn format_by_extension() {
        assert_eq!(Format::from_path("a.csv").unwrap(), Format::Csv);
        assert_eq!(Format::from_path("dir.x/a.TSV").unwrap(), Format::Csv);
        assert_eq!(Format::from_path("a.txt").unwrap(), Format::Csv);
        assert_eq!(Format::from_path("a.npy").unwrap(), Format::Npy);
        assert_eq!(Format::from_path("a.NPZ").unwrap(), Format::Npz);
        #[cfg(feature = "parquet")]
        assert_eq!(Format::from_path("a.Parquet").unwrap(), Format::Parquet);
        let e = Format::from_path("data.xlsx").unwrap_err().to_string();
        assert!(e.contains("'.xlsx'") && e.contains(SUPPORTED), "{e}");
        assert!(e.starts_with("data.xlsx:"), "{e}");
        let e = Format::from_path("data").unwrap_err().to_string();
        assert!(
            e.contains("without a file extension") && e.contains(".npz"),
            "{e}"
        );
    }

    #[test]
    fn read_dataset_rejects_unknown_extension_before_opening() {
        let e = read_dataset("nope.xlsx", &ReadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("'.xlsx'"), "{e}");
    }

    #[test]
    fn read_dataset_missing_file_and_directory() {
        let e = format!(
            "{:#}",
            read_dataset("/nonexistent/dir/f.csv", &ReadOptions::default()).unwrap_err()
        );
        assert!(e.contains("cannot open /nonexistent/dir/f.csv"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("d.csv");
        std::fs::create_dir(&d).unwrap();
        let e = read_dataset(d.to_str().unwrap(), &ReadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("is a directory"), "{e}");
    }

    #[test]
    fn array_option_only_for_npz() {
        let opts = ReadOptions {
            array: Some("X".into()),
            ..Default::default()
        };
        let e = read_dataset("a.csv", &opts).unwrap_err().to_string();
        assert!(e.contains("--array applies only to .npz"), "{e}");
    }

    #[test]
    fn resolve_by_name_then_index() {
        let n = names(&["a", "b", "c"]);
        assert_eq!(resolve_column("f", "b", &n, "--columns").unwrap(), 1);
        assert_eq!(resolve_column("f", " c ", &n, "--columns").unwrap(), 2);
        assert_eq!(resolve_column("f", "0", &n, "--columns").unwrap(), 0);
        // A header name that looks like a number wins over the index.
        let n2 = names(&["2", "x", "y"]);
        assert_eq!(resolve_column("f", "2", &n2, "--columns").unwrap(), 0);
        let e = resolve_column("f", "7", &n, "--columns")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("index 7") && e.contains("3 columns (a, b, c)"),
            "{e}"
        );
        let e = resolve_column("f", "zz", &n, "--weights")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "f: no column 'zz' (from --weights); the columns are: a, b, c"
        );
        let e = resolve_column("f", "", &n, "--columns")
            .unwrap_err()
            .to_string();
        assert!(e.contains("empty column name"), "{e}");
        let dup = names(&["a", "b", "a"]);
        let e = resolve_column("f", "a", &dup, "--columns")
            .unwrap_err()
            .to_string();
        assert!(e.contains("ambiguous") && e.contains("0, 2"), "{e}");
    }

    #[test]
    fn list_names_is_shortened() {
        let many: Vec<String> = (0..30).map(|i| format!("c{i}")).collect();
        let s = list_names(&many);
        assert!(
            s.starts_with("c0, c1") && s.ends_with("... (30 in all)"),
            "{s}"
        );
    }

    #[test]
    fn selection_rules() {
        let n = names(&["a", "b", "w", "t"]);
        let opts = ReadOptions {
            weights: Some("w".into()),
            ..Default::default()
        };
        let s = select_columns("f", &n, &opts, |i| i != 3).unwrap();
        assert_eq!(s.features, vec![0, 1]);
        assert_eq!(s.weights, Some(2));
        assert!(!s.explicit);
        let opts = ReadOptions {
            columns: Some(vec!["b".into(), "a".into()]),
            ..Default::default()
        };
        let s = select_columns("f", &n, &opts, |_| true).unwrap();
        assert_eq!(s.features, vec![1, 0]);
        assert!(s.explicit);
        let opts = ReadOptions {
            columns: Some(vec!["a".into(), "a".into()]),
            ..Default::default()
        };
        let e = select_columns("f", &n, &opts, |_| true)
            .unwrap_err()
            .to_string();
        assert!(e.contains("chosen twice"), "{e}");
        let opts = ReadOptions {
            columns: Some(vec!["a".into(), "w".into()]),
            weights: Some("w".into()),
            ..Default::default()
        };
        let e = select_columns("f", &n, &opts, |_| true)
            .unwrap_err()
            .to_string();
        assert!(e.contains("both a feature"), "{e}");
        let opts = ReadOptions {
            columns: Some(vec![]),
            ..Default::default()
        };
        let e = select_columns("f", &n, &opts, |_| true)
            .unwrap_err()
            .to_string();
        assert!(e.contains("names no column"), "{e}");
    }

    #[test]
    fn weights_checks() {
        let at = |i: usize| format!("row {}", i + 1);
        assert!(check_weights("f", "w", &[0.0, 1.0, 2.5], at).is_ok());
        let e = check_weights("f", "w", &[1.0, -1.0], at)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "f: negative weight -1 at row 2, column 'w'");
        let e = check_weights("f", "w", &[1.0, f64::NAN], at)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "f: non-finite weight NaN at row 2, column 'w'");
        let e = check_weights("f", "w", &[0.0, 0.0], at)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "f: all weights in column 'w' are zero");
    }

    #[test]
    fn array_dataset_selects_and_checks() {
        let a = ndarray::array![[1.0, 2.0, 0.5], [3.0, 4.0, 1.5]];
        let opts = ReadOptions {
            weights: Some("x2".into()),
            ..Default::default()
        };
        let d = array_dataset("f.npy", None, a.clone(), None, &opts).unwrap();
        assert_eq!(d.x, ndarray::array![[1.0, 2.0], [3.0, 4.0]]);
        assert_eq!(d.feature_names, names(&["x0", "x1"]));
        assert_eq!(d.weights.unwrap(), ndarray::array![0.5, 1.5]);
        let opts = ReadOptions {
            columns: Some(vec!["2".into(), "x0".into()]),
            ..Default::default()
        };
        let d = array_dataset("f.npy", None, a.clone(), None, &opts).unwrap();
        assert_eq!(d.x, ndarray::array![[0.5, 1.0], [1.5, 3.0]]);
        assert!(d.x.is_standard_layout());
        assert_eq!(d.feature_names, names(&["x2", "x0"]));
        // A Fortran-order input comes out in standard layout.
        use ndarray::ShapeBuilder;
        let f = Array2::from_shape_vec((2, 3).f(), vec![1.0, 3.0, 2.0, 4.0, 0.5, 1.5]).unwrap();
        assert!(!f.is_standard_layout());
        let d = array_dataset("f.npy", None, f, None, &ReadOptions::default()).unwrap();
        assert!(d.x.is_standard_layout());
        assert_eq!(d.x, a);
        let mut b = a.clone();
        b[[1, 2]] = f64::INFINITY;
        let e = array_dataset("f.npz", Some("X"), b.clone(), None, &ReadOptions::default())
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "f.npz: array 'X': non-finite value (inf) at row 1, column 2 (0-based)"
        );
        // The bad column is not chosen: fine.
        let opts = ReadOptions {
            columns: Some(vec!["x0".into()]),
            ..Default::default()
        };
        assert!(array_dataset("f.npy", None, b, None, &opts).is_ok());
        let e = array_dataset(
            "f.npy",
            None,
            Array2::zeros((0, 3)),
            None,
            &ReadOptions::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("no data rows"), "{e}");
        let e = array_dataset(
            "f.npy",
            None,
            Array2::zeros((3, 0)),
            None,
            &ReadOptions::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("no columns"), "{e}");
        let opts = ReadOptions {
            weights: Some("0".into()),
            ..Default::default()
        };
        let one = ndarray::array![[1.0], [2.0]];
        let e = array_dataset("f.npy", None, one, None, &opts)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no feature columns left"), "{e}");
    }

    #[test]
    fn stream_sniffs_csv() {
        let mut notes = Vec::new();
        let d = read_stream(
            "<stdin>",
            &b"a,b\n1,2\n3,4\n"[..],
            &ReadOptions::default(),
            &mut notes,
        )
        .unwrap();
        assert_eq!(d.x, ndarray::array![[1.0, 2.0], [3.0, 4.0]]);
        // Shorter than the NPY magic.
        let d = read_stream("<stdin>", &b"5\n"[..], &ReadOptions::default(), &mut notes).unwrap();
        assert_eq!(d.x, ndarray::array![[5.0]]);
        let e = read_stream("<stdin>", &b""[..], &ReadOptions::default(), &mut notes)
            .unwrap_err()
            .to_string();
        assert!(e.contains("<stdin>: no data rows"), "{e}");
    }
}
