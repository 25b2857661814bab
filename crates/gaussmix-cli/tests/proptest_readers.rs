//! Round trips through the CLI's readers: random tables (1–199 rows, 1–7 columns, finite
//! values including negatives, subnormals, huge values, integers and -0.0; header names
//! with spaces, quotes, commas, semicolons and non-ASCII letters) written as CSV (comma,
//! tab, semicolon, quoted headers), NPY (f8 and exactly representable f4, either byte
//! order, C and Fortran order, 1-D for one column), NPZ (stored and deflated) and Parquet,
//! then read back with `gaussmix_cli::io::read_dataset`. Expected in every case: the same
//! values bit for bit (CSV is written with Rust's shortest round-trip formatting) and the
//! same column names.
//!
//! 32 cases per property by default; `PROPTEST_CASES` overrides.

use std::io::Write;
use std::path::Path;

use gaussmix_cli::io::{self, read_dataset, Column, ReadOptions};
use ndarray::Array2;
use proptest::prelude::*;

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

/// Finite f64 values of every kind a data file holds.
fn value() -> BoxedStrategy<f64> {
    prop_oneof![
        4 => -1e6f64..1e6,
        2 => any::<f64>().prop_filter("finite", |v| v.is_finite()),
        1 => (-1_000_000i64..1_000_000).prop_map(|i| i as f64),
        1 => prop_oneof![
            Just(0.0),
            Just(-0.0),
            Just(f64::MAX),
            Just(f64::MIN),
            Just(f64::MIN_POSITIVE),
            Just(-f64::MIN_POSITIVE),
            Just(5e-324),
            Just(-5e-324),
            Just(1e-300),
            Just(-2.5e300),
            Just(9007199254740993.0),
            Just(0.1),
        ],
        1 => -1e-300f64..1e-300,
    ]
    .boxed()
}

/// Values exactly representable as f32 (for `f4` arrays).
fn value_f32() -> BoxedStrategy<f64> {
    prop_oneof![
        any::<f32>().prop_filter("finite", |v| v.is_finite()),
        Just(-0.0f32),
        Just(f32::MIN_POSITIVE),
        (-1000i32..1000).prop_map(|i| i as f32),
    ]
    .prop_map(f64::from)
    .boxed()
}

/// A header name a CSV reader must take as text: starts with a letter, has spaces,
/// quotes, commas, semicolons and non-ASCII letters inside, no surrounding spaces, and
/// is not a spelling of a number or a missing value.
fn name() -> impl Strategy<Value = String> {
    "[a-zA-Zé漢ß][a-zA-Z0-9 ,;\"'é漢ß_.-]{0,10}".prop_filter("text, trimmed", |s| {
        s.trim() == s
            && io::csv::parse_cell(s.as_bytes(), false).0 == io::csv::Cell::Text
            && io::csv::parse_cell(s.as_bytes(), true).0 == io::csv::Cell::Text
    })
}

/// A table: values (rows × cols, row-major) from `v`, and unique column names.
fn table(
    v: impl Strategy<Value = f64> + Clone,
) -> impl Strategy<Value = (Array2<f64>, Vec<String>)> {
    (1usize..200, 1usize..8).prop_flat_map(move |(n, d)| {
        (
            proptest::collection::vec(v.clone(), n * d),
            proptest::collection::vec(name(), d),
        )
            .prop_map(move |(vals, names)| {
                let x = Array2::from_shape_vec((n, d), vals).unwrap();
                // Unique names: a duplicate gets its column index appended.
                let mut seen = std::collections::HashSet::new();
                let names = names
                    .into_iter()
                    .enumerate()
                    .map(|(j, s)| {
                        if seen.insert(s.clone()) {
                            s
                        } else {
                            format!("{s}_{j}")
                        }
                    })
                    .collect::<Vec<_>>();
                (x, names)
            })
    })
}

fn read(path: &Path) -> io::Dataset {
    let opts = ReadOptions {
        quiet: true,
        ..ReadOptions::default()
    };
    read_dataset(path.to_str().unwrap(), &opts)
        .unwrap_or_else(|e| panic!("{}: {e:#}\n{}", path.display(), show(path)))
}

/// The start of a text file, for failure messages.
fn show(path: &Path) -> String {
    match std::fs::read(path) {
        Ok(b) => String::from_utf8_lossy(&b[..b.len().min(600)]).into_owned(),
        Err(e) => e.to_string(),
    }
}

/// Bit-for-bit equality of two arrays, with the first difference in the message.
fn same_bits(got: &Array2<f64>, want: &Array2<f64>) -> Result<(), TestCaseError> {
    prop_assert_eq!(got.dim(), want.dim());
    for ((i, j), w) in want.indexed_iter() {
        let g = got[[i, j]];
        prop_assert!(
            g.to_bits() == w.to_bits(),
            "row {}, column {}: read {:?}, wrote {:?}",
            i,
            j,
            g,
            w
        );
    }
    Ok(())
}

fn default_names(d: usize) -> Vec<String> {
    (0..d).map(|j| format!("x{j}")).collect()
}

/// A CSV field, quoted (with doubled quotes) when `always` or when it needs it.
fn field(s: &str, delim: char, always: bool) -> String {
    if always || s.contains(delim) || s.contains('"') || s.contains('\n') {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Writes CSV by hand: `delim`, header names quoted when `quote_all`, values in Rust's
/// shortest round-trip form. A one-column file has no delimiter to sniff, so there a name
/// holding any of `,`, `;` or a tab is quoted (unquoted, `a,b` over plain numbers in a
/// `.csv` file is two header fields by any reading).
fn write_csv_by_hand(path: &Path, x: &Array2<f64>, names: &[String], delim: char, quote_all: bool) {
    let mut s = String::new();
    let single = names.len() == 1;
    let header: Vec<String> = names
        .iter()
        .map(|n| {
            field(
                n,
                delim,
                quote_all || (single && n.contains([',', ';', '\t'])),
            )
        })
        .collect();
    s.push_str(&header.join(&delim.to_string()));
    s.push('\n');
    for row in x.rows() {
        let cells: Vec<String> = row.iter().map(|v| format!("{v:?}")).collect();
        s.push_str(&cells.join(&delim.to_string()));
        s.push('\n');
    }
    std::fs::write(path, s).unwrap();
}

/// NPY bytes of `x` as `descr` (`<f8`, `>f8`, `<f4`, `>f4`), in C or Fortran order, 1-D
/// when `one_d` (one column).
fn npy(x: &Array2<f64>, descr: &str, fortran: bool, one_d: bool) -> Vec<u8> {
    let (n, d) = x.dim();
    let shape = if one_d {
        format!("({n},)")
    } else {
        format!("({n}, {d})")
    };
    let fo = if fortran { "True" } else { "False" };
    let mut dict = format!("{{'descr': '{descr}', 'fortran_order': {fo}, 'shape': {shape}, }}");
    while (10 + dict.len() + 1) % 64 != 0 {
        dict.push(' ');
    }
    dict.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((dict.len() as u16).to_le_bytes());
    out.extend(dict.as_bytes());
    let order: Vec<f64> = if fortran {
        x.t().iter().copied().collect()
    } else {
        x.iter().copied().collect()
    };
    let be = descr.starts_with('>');
    for v in order {
        if descr.ends_with("f4") {
            let f = v as f32;
            out.extend(if be { f.to_be_bytes() } else { f.to_le_bytes() });
        } else {
            out.extend(if be { v.to_be_bytes() } else { v.to_le_bytes() });
        }
    }
    out
}

proptest! {
    #![proptest_config(config())]

    /// Expected: `io::write_csv` (comma for .csv, tab for .tsv) reads back identical.
    #[test]
    fn csv_from_the_writer_round_trips((x, names) in table(value()), tsv in any::<bool>()) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(if tsv { "t.tsv" } else { "t.csv" });
        io::write_csv(p.to_str().unwrap(), &names, x.view()).unwrap();
        let d = read(&p);
        same_bits(&d.x, &x)?;
        prop_assert_eq!(&d.feature_names, &names, "{}", show(&p));
    }

    /// Expected: hand-written CSV with comma, tab or semicolon, header names quoted or
    /// not, reads back identical.
    #[test]
    fn csv_by_hand_round_trips(
        (x, names) in table(value()),
        delim in prop::sample::select(vec![',', '\t', ';']),
        quote_all in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.csv");
        write_csv_by_hand(&p, &x, &names, delim, quote_all);
        let d = read(&p);
        same_bits(&d.x, &x)?;
        prop_assert_eq!(&d.feature_names, &names, "{}", show(&p));
    }

    /// Expected: NPY f8 in either byte order and C or Fortran order reads back identical,
    /// named x0, x1, ….
    #[test]
    fn npy_f8_round_trips(
        (x, _) in table(value()),
        big in any::<bool>(),
        fortran in any::<bool>(),
        one_d in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.npy");
        let one_d = one_d && x.ncols() == 1;
        std::fs::write(&p, npy(&x, if big { ">f8" } else { "<f8" }, fortran, one_d)).unwrap();
        let d = read(&p);
        same_bits(&d.x, &x)?;
        prop_assert_eq!(d.feature_names, default_names(x.ncols()));
    }

    /// Expected: NPY f4 of values exactly representable in f32 reads back identical.
    #[test]
    fn npy_f4_round_trips(
        (x, _) in table(value_f32()),
        big in any::<bool>(),
        fortran in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.npy");
        std::fs::write(&p, npy(&x, if big { ">f4" } else { "<f4" }, fortran, false)).unwrap();
        let d = read(&p);
        same_bits(&d.x, &x)?;
        prop_assert_eq!(d.feature_names, default_names(x.ncols()));
    }

    /// Expected: an NPZ (stored or deflated) with arrays X and y reads X back identical
    /// and y as the labels.
    #[test]
    fn npz_round_trips(
        (x, _) in table(value()),
        deflate in any::<bool>(),
        big in any::<bool>(),
        fortran in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.npz");
        let y = Array2::from_shape_fn((x.nrows(), 1), |(i, _)| (i % 3) as f64);
        let method = if deflate {
            zip::CompressionMethod::Deflated
        } else {
            zip::CompressionMethod::Stored
        };
        let opts = zip::write::SimpleFileOptions::default().compression_method(method);
        let mut z = zip::ZipWriter::new(std::fs::File::create(&p).unwrap());
        z.start_file("X.npy", opts).unwrap();
        z.write_all(&npy(&x, if big { ">f8" } else { "<f8" }, fortran, false)).unwrap();
        z.start_file("y.npy", opts).unwrap();
        z.write_all(&npy(&y, "<f8", false, true)).unwrap();
        z.finish().unwrap();
        let d = read(&p);
        same_bits(&d.x, &x)?;
        prop_assert_eq!(d.feature_names, default_names(x.ncols()));
        let labels = d.labels.expect("labels from y");
        prop_assert_eq!(labels.to_vec(), y.column(0).to_vec());
    }

    /// Expected: `io::write_columns` to .parquet reads back identical, names included.
    #[test]
    fn parquet_round_trips((x, names) in table(value())) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.parquet");
        let cols: Vec<Column<'_>> = names
            .iter()
            .zip(x.columns())
            .map(|(n, values)| Column::Float { name: n, values })
            .collect();
        io::write_columns(p.to_str().unwrap(), &cols).unwrap();
        let d = read(&p);
        same_bits(&d.x, &x)?;
        prop_assert_eq!(&d.feature_names, &names);
    }
}
