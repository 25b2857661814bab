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
//! `-` reads standard input: NPY, NPZ and Parquet are recognised by their magic bytes,
//! anything else is read as CSV.
//!
//! Every reader yields a [`Table`] of named columns ([`read_table`]); the columns are
//! chosen once, in [`table`], whatever the format ([`Table::into_dataset`]). The
//! streaming readers ([`crate::stream`]) choose theirs with the same [`Schema::select`].
//!
//! Every reader answers bad input with an error naming the file, and the row and column
//! where it applies; nothing panics. Writers never leave a half-written file behind: see
//! [`write_atomic`].

pub mod csv;
pub mod npy;
pub mod npz;
#[cfg(feature = "parquet")]
pub mod parquet;
pub mod table;
pub mod write;

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use anyhow::{anyhow, bail, Result};
use ndarray::{Array1, Array2};

pub use table::{
    allow_missing, check_weights, list_names, missing_allowed, Dataset, Kind, ReadOptions, Schema,
    Selection, Table,
};
pub use write::{
    check_output_path, write_atomic, write_atomic_even_if_interrupted, write_columns, write_csv,
    write_csv_with_labels, write_labels, write_output, Column,
};

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
    read_table(path, opts)?.into_dataset(opts, notes)
}

/// Reads every column of `path` (`-` = standard input) into a [`Table`]; of `opts` only
/// `array` (the NPZ member) is used here.
///
/// # Errors
/// Unreadable or malformed files and unsupported formats, named.
pub fn read_table(path: &str, opts: &ReadOptions) -> Result<Table> {
    if path == "-" {
        let stdin = std::io::stdin();
        return read_stream_table("<stdin>", stdin.lock(), opts);
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
            csv::read_csv_table(path, BufReader::new(file), default_delim)
        }
        Format::Npy => {
            let arr = npy::read_npy(path, BufReader::new(file), Some(meta.len()))?;
            Table::from_array(path, arr, None)
        }
        Format::Npz => npz::read_npz_table(path, file, opts),
        #[cfg(feature = "parquet")]
        Format::Parquet => parquet::read_parquet_table(path, file),
        #[cfg(not(feature = "parquet"))]
        Format::Parquet => {
            bail!("{path}: this gaussmix was built without Parquet support (feature `parquet`)")
        }
    }
}

/// Reads a data set from a stream whose format is unknown: NPY, NPZ and Parquet by
/// magic bytes, CSV otherwise.
pub fn read_stream(
    name: &str,
    reader: impl Read,
    opts: &ReadOptions,
    notes: &mut Vec<String>,
) -> Result<Dataset> {
    read_stream_table(name, reader, opts)?.into_dataset(opts, notes)
}

/// [`read_stream`] as a [`Table`] (no column chosen yet).
pub fn read_stream_table(name: &str, mut reader: impl Read, opts: &ReadOptions) -> Result<Table> {
    let mut magic = Vec::with_capacity(6);
    (&mut reader)
        .take(6)
        .read_to_end(&mut magic)
        .map_err(|e| anyhow!("{name}: cannot read: {e}"))?;
    let rest = std::io::Cursor::new(magic.clone()).chain(reader);
    let all = |mut r: std::io::Chain<std::io::Cursor<Vec<u8>>, _>| -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        r.read_to_end(&mut bytes)
            .map_err(|e| anyhow!("{name}: cannot read: {e}"))?;
        Ok(bytes)
    };
    if magic.starts_with(npy::MAGIC) {
        if opts.array.is_some() {
            bail!("{name}: --array applies only to NPZ input, but this is NPY");
        }
        let arr = npy::read_npy(name, rest, None)?;
        Table::from_array(name, arr, None)
    } else if magic.starts_with(b"PAR1") {
        let _bytes = all(rest)?;
        #[cfg(feature = "parquet")]
        return parquet::read_parquet_table(name, ::bytes::Bytes::from(_bytes));
        #[cfg(not(feature = "parquet"))]
        bail!("{name}: Parquet input needs the `parquet` feature")
    } else if magic.starts_with(b"PK\x03\x04") || magic.starts_with(b"PK\x05\x06") {
        let bytes = all(rest)?;
        npz::read_npz_table(name, std::io::Cursor::new(bytes), opts)
    } else {
        if opts.array.is_some() {
            bail!("{name}: --array applies only to NPZ input, but this looks like CSV");
        }
        csv::read_csv_table(name, rest, b',')
    }
}

/// Builds a [`Dataset`] from a whole numeric array (NPY, or an NPZ member): column
/// selection by `x0, x1, ...` or index, finiteness check, weights. `array` names the NPZ
/// member for messages (`None` for a plain NPY file).
///
/// # Errors
/// As [`Table::from_array`] and [`Table::into_dataset`].
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
    Table::from_array(&what, arr, labels)?.into_dataset(opts, &mut Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn schema(file: &str, names: &[String], auto: impl Fn(usize) -> bool) -> Schema {
        Schema {
            source: file.to_string(),
            names: names.to_vec(),
            kinds: (0..names.len())
                .map(|i| if auto(i) { Kind::Number } else { Kind::Text })
                .collect(),
            named: true,
            groups: Vec::new(),
        }
    }

    fn resolve_column(file: &str, spec: &str, names: &[String], what: &str) -> Result<usize> {
        Ok(schema(file, names, |_| true).resolve(spec, what)?[0])
    }

    fn select_columns(
        file: &str,
        names: &[String],
        opts: &ReadOptions,
        auto: impl Fn(usize) -> bool,
    ) -> Result<Selection> {
        schema(file, names, auto).select(opts)
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
