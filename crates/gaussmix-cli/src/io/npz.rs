//! NumPy `.npz` archives: a zip (stored or deflated) of `.npy` members.
//!
//! The features come from array `X` (or `--array NAME`; when `X` is absent and the
//! archive holds a single array, that one). An array `y` of one value per row, when
//! present, becomes [`Dataset::labels`].

use std::io::{Read, Seek};

use anyhow::{anyhow, bail, Result};
use ndarray::Array1;

use super::npy;
use super::table::{Dataset, ReadOptions, Table};

/// The array read when `--array` is not given.
pub const DEFAULT_ARRAY: &str = "X";

/// The array read as labels when present.
pub const LABELS_ARRAY: &str = "y";

/// Reads the members of an NPZ archive into a [`Dataset`]. `file` names it in messages.
///
/// # Errors
/// As [`read_npz_table`] and [`Table::into_dataset`].
pub fn read_npz<R: Read + Seek>(
    file: &str,
    reader: R,
    opts: &ReadOptions,
    notes: &mut Vec<String>,
) -> Result<Dataset> {
    read_npz_table(file, reader, opts)?.into_dataset(opts, notes)
}

/// Reads the features array of an NPZ archive (`X`, or `opts.array`) as a [`Table`],
/// with the labels `y` when they fit.
///
/// # Errors
/// Not a zip, no such array, an unreadable member.
pub fn read_npz_table<R: Read + Seek>(file: &str, reader: R, opts: &ReadOptions) -> Result<Table> {
    let mut notes = Vec::new();
    let mut zip = zip::ZipArchive::new(reader)
        .map_err(|e| anyhow!("{file}: not a valid NPZ file (zip archive): {e}"))?;
    // Array name → member name.
    let members: Vec<(String, String)> = zip
        .file_names()
        .filter(|m| !m.ends_with('/'))
        .map(|m| {
            (
                m.strip_suffix(".npy").unwrap_or(m).to_string(),
                m.to_string(),
            )
        })
        .collect();
    let mut members = members;
    members.sort();
    let available = || {
        if members.is_empty() {
            "none: the archive is empty".to_string()
        } else {
            members
                .iter()
                .map(|(a, _)| a.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let find = |name: &str| members.iter().find(|(a, m)| a == name || m == name);
    let (array, member) = match &opts.array {
        Some(a) => match find(a) {
            Some(x) => x.clone(),
            None => bail!("{file}: no array '{a}' (available arrays: {})", available()),
        },
        None => match find(DEFAULT_ARRAY) {
            Some(x) => x.clone(),
            None if members.len() == 1 => members[0].clone(),
            None => bail!(
                "{file}: no array '{DEFAULT_ARRAY}' (available arrays: {}); choose one with --array",
                available()
            ),
        },
    };
    let x = read_member(file, &mut zip, &array, &member)?;
    let mut labels = None;
    if array != LABELS_ARRAY {
        if let Some((_, ymember)) = find(LABELS_ARRAY).cloned() {
            let y = read_member(file, &mut zip, LABELS_ARRAY, &ymember)?;
            if y.ncols() == 1 && y.nrows() == x.nrows() {
                labels = Some(Array1::from_iter(y.column(0).iter().copied()));
            } else {
                notes.push(format!(
                    "ignoring array '{LABELS_ARRAY}' of {} × {}: it is not one value per row of '{array}' ({} rows)",
                    y.nrows(),
                    y.ncols(),
                    x.nrows()
                ));
            }
        }
    }
    let mut t = Table::from_array(&format!("{file}: array '{array}'"), x, labels)?;
    t.notes = notes;
    Ok(t)
}

/// Reads one member as an N × D matrix.
fn read_member<R: Read + Seek>(
    file: &str,
    zip: &mut zip::ZipArchive<R>,
    array: &str,
    member: &str,
) -> Result<ndarray::Array2<f64>> {
    let name = format!("{file}: array '{array}'");
    let entry = zip
        .by_name(member)
        .map_err(|e| anyhow!("{name}: cannot read the zip member '{member}': {e}"))?;
    let size = entry.size();
    npy::read_npy(&name, entry, Some(size))
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Write};

    use super::super::npy::{encode, npy_bytes};
    use super::super::{read_dataset_notes, read_stream};
    use super::*;
    use ndarray::array;

    const ANOMALY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/anomaly");
    const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

    /// A zip of (member name, bytes), each stored or deflated.
    fn zip_of(members: &[(&str, Vec<u8>)], deflate: bool) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let method = if deflate {
            zip::CompressionMethod::Deflated
        } else {
            zip::CompressionMethod::Stored
        };
        let opts = zip::write::SimpleFileOptions::default().compression_method(method);
        for (name, bytes) in members {
            w.start_file(*name, opts).unwrap();
            w.write_all(bytes).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    fn x_npy() -> Vec<u8> {
        // [[1, 2], [3, 4], [5, 6]] in Fortran order, as <f8.
        npy_bytes(
            "<f8",
            true,
            &[3, 2],
            &encode("<f8", &[1.0, 3.0, 5.0, 2.0, 4.0, 6.0]),
            1,
        )
    }

    fn y_npy(n: usize) -> Vec<u8> {
        let y: Vec<f64> = (0..n).map(|i| (i % 2) as f64).collect();
        npy_bytes("<i8", false, &[n], &encode("<i8", &y), 1)
    }

    fn read(bytes: Vec<u8>, opts: &ReadOptions) -> Result<(Dataset, Vec<String>)> {
        let mut notes = Vec::new();
        let d = read_npz("t.npz", Cursor::new(bytes), opts, &mut notes)?;
        Ok((d, notes))
    }

    fn array(a: &str) -> ReadOptions {
        ReadOptions {
            array: Some(a.into()),
            ..Default::default()
        }
    }

    #[test]
    fn anomaly_files() {
        /// (file, rows, cols, first row's first 3, last row's last 2, sum of X, anomalies)
        type Case = (&'static str, usize, usize, [f64; 3], [f64; 2], f64, f64);
        let cases: [Case; 4] = [
            (
                "32_shuttle",
                49097,
                9,
                [50.0, 21.0, 77.0],
                [85.0, 20.0],
                13157400.0,
                3511.0,
            ),
            (
                "38_thyroid",
                3772,
                6,
                [0.774193548387, 0.0011320754717, 0.137571157495],
                [0.338028169014, 0.16393442623],
                5814.554025547037,
                93.0,
            ),
            (
                "4_breastw",
                683,
                9,
                [5.0, 1.0, 1.0],
                [4.0, 1.0],
                19353.0,
                239.0,
            ),
            (
                "6_cardio",
                1831,
                21,
                [
                    0.004912314661768384,
                    0.6931907749193863,
                    -0.20364048566636067,
                ],
                [3.5846529474813322, -0.49329396944014214],
                0.0,
                176.0,
            ),
        ];
        for (name, n, d, first, last, sum, anomalies) in cases {
            let path = format!("{ANOMALY}/{name}.npz");
            let mut notes = Vec::new();
            let ds = read_dataset_notes(&path, &ReadOptions::default(), &mut notes).unwrap();
            assert_eq!(ds.x.dim(), (n, d), "{name}");
            assert!(ds.x.is_standard_layout());
            assert_eq!(
                ds.x.row(0).iter().take(3).copied().collect::<Vec<_>>(),
                first,
                "{name}"
            );
            assert_eq!(ds.x[[n - 1, d - 2]], last[0], "{name}");
            assert_eq!(ds.x[[n - 1, d - 1]], last[1], "{name}");
            assert!((ds.x.sum() - sum).abs() < 1e-6, "{name}: {}", ds.x.sum());
            assert_eq!(ds.feature_names[0], "x0");
            assert_eq!(ds.feature_names.len(), d);
            let y = ds.labels.as_ref().expect("y");
            assert_eq!(y.len(), n);
            assert_eq!(y.sum(), anomalies, "{name}");
            assert!(y.iter().all(|&v| v == 0.0 || v == 1.0));
            assert!(ds.weights.is_none());
            assert!(notes.is_empty(), "{notes:?}");
        }
        // Columns by index, and y read as the features.
        let path = format!("{ANOMALY}/4_breastw.npz");
        let mut notes = Vec::new();
        let opts = ReadOptions {
            columns: Some(vec!["8".into(), "x0".into()]),
            ..Default::default()
        };
        let ds = read_dataset_notes(&path, &opts, &mut notes).unwrap();
        assert_eq!(ds.x.row(682).to_vec(), vec![1.0, 4.0]);
        assert_eq!(ds.feature_names, ["x8", "x0"]);
        let ds = read_dataset_notes(&path, &array("y"), &mut notes).unwrap();
        assert_eq!(ds.x.dim(), (683, 1));
        assert!(ds.labels.is_none());
        let e = read_dataset_notes(&path, &array("Z"), &mut notes)
            .unwrap_err()
            .to_string();
        assert_eq!(e, format!("{path}: no array 'Z' (available arrays: X, y)"));
    }

    #[test]
    fn numpy_made_files() {
        let want = array![[1.0, -2.0], [3.0, 4.0], [-5.0, 6.0]];
        let mut notes = Vec::new();
        let opts = ReadOptions::default();
        for f in [
            "f4_fortran.npy",
            "i4_big_endian.npy",
            "f8_v2.npy",
            "i8_v3.npy",
        ] {
            let d = read_dataset_notes(&format!("{DATA}/{f}"), &opts, &mut notes).unwrap();
            assert_eq!(d.x, want, "{f}");
            assert_eq!(d.feature_names, ["x0", "x1"]);
            assert!(d.labels.is_none());
        }
        let d = read_dataset_notes(&format!("{DATA}/u2_fortran.npy"), &opts, &mut notes).unwrap();
        assert_eq!(d.x, want.mapv(f64::abs));
        let d = read_dataset_notes(&format!("{DATA}/bool_1d.npy"), &opts, &mut notes).unwrap();
        assert_eq!(d.x, array![[1.0], [0.0], [1.0]]);
        let path = format!("{DATA}/nan.npy");
        let e = read_dataset_notes(&path, &opts, &mut notes)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            format!("{path}: non-finite value (NaN) at row 1, column 0 (0-based)")
        );
        // Stored and deflated archives, Fortran order, i2 and u1.
        let d = read_dataset_notes(&format!("{DATA}/stored.npz"), &opts, &mut notes).unwrap();
        assert_eq!(d.x, want);
        assert_eq!(d.labels.unwrap(), array![0.0, 1.0, 0.0]);
        let d = read_dataset_notes(&format!("{DATA}/deflated.npz"), &opts, &mut notes).unwrap();
        assert_eq!(d.x, want.mapv(f64::abs));
        assert_eq!(d.labels.unwrap(), array![0.0, 1.0, 0.0]);
        // `other` has 4 rows: with it as features, y does not fit and is left out.
        let d = read_dataset_notes(&format!("{DATA}/deflated.npz"), &array("other"), &mut notes)
            .unwrap();
        assert_eq!(d.x, array![[0.0], [1.0], [2.0], [3.0]]);
        assert!(d.labels.is_none());
        assert_eq!(notes.len(), 1);
        assert!(
            notes[0].contains("ignoring array 'y' of 3 × 1"),
            "{notes:?}"
        );
        // np.savez(file, m): one array named arr_0, used when there is no X.
        let d = read_dataset_notes(&format!("{DATA}/single.npz"), &opts, &mut notes).unwrap();
        assert_eq!(d.x, want);
        let e = read_dataset_notes(&format!("{DATA}/stored.npz"), &array("arr_0"), &mut notes)
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with("stored.npz: no array 'arr_0' (available arrays: X, y)"),
            "{e}"
        );
    }

    #[test]
    fn test_encoder_matches_numpy() {
        let numpy = std::fs::read(format!("{DATA}/f4_fortran.npy")).unwrap();
        let ours = npy_bytes(
            "<f4",
            true,
            &[3, 2],
            &encode("<f4", &[1.0, 3.0, -5.0, -2.0, 4.0, 6.0]),
            1,
        );
        assert_eq!(ours, numpy);
        let numpy = std::fs::read(format!("{DATA}/f8_v2.npy")).unwrap();
        let ours = npy_bytes(
            "<f8",
            false,
            &[3, 2],
            &encode("<f8", &[1.0, -2.0, 3.0, 4.0, -5.0, 6.0]),
            2,
        );
        assert_eq!(ours, numpy);
    }

    #[test]
    fn stored_and_deflated() {
        for deflate in [false, true] {
            let z = zip_of(&[("X.npy", x_npy()), ("y.npy", y_npy(3))], deflate);
            let (d, notes) = read(z, &ReadOptions::default()).unwrap();
            assert_eq!(d.x, array![[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]);
            assert_eq!(d.labels.unwrap(), array![0.0, 1.0, 0.0]);
            assert!(notes.is_empty());
        }
    }

    #[test]
    fn choosing_arrays() {
        let z = zip_of(
            &[
                ("X.npy", x_npy()),
                ("train.npy", y_npy(5)),
                ("y.npy", y_npy(3)),
            ],
            true,
        );
        let (d, notes) = read(z.clone(), &array("train")).unwrap();
        assert_eq!(d.x.dim(), (5, 1));
        assert!(d.labels.is_none());
        assert_eq!(
            notes,
            ["ignoring array 'y' of 3 × 1: it is not one value per row of 'train' (5 rows)"]
        );
        // The member's full name works too.
        assert!(read(z.clone(), &array("train.npy")).is_ok());
        let e = read(z, &array("test")).unwrap_err().to_string();
        assert_eq!(e, "t.npz: no array 'test' (available arrays: X, train, y)");
        // No X and several arrays: say which there are.
        let z = zip_of(&[("a.npy", x_npy()), ("b.npy", x_npy())], false);
        let e = read(z, &ReadOptions::default()).unwrap_err().to_string();
        assert_eq!(
            e,
            "t.npz: no array 'X' (available arrays: a, b); choose one with --array"
        );
        let z = zip_of(&[], false);
        let e = read(z, &ReadOptions::default()).unwrap_err().to_string();
        assert!(
            e.contains("available arrays: none: the archive is empty"),
            "{e}"
        );
    }

    #[test]
    fn weights_and_columns_in_npz() {
        let z = zip_of(&[("X.npy", x_npy())], true);
        let opts = ReadOptions {
            weights: Some("x1".into()),
            ..Default::default()
        };
        let (d, _) = read(z.clone(), &opts).unwrap();
        assert_eq!(d.x, array![[1.0], [3.0], [5.0]]);
        assert_eq!(d.weights.unwrap(), array![2.0, 4.0, 6.0]);
        let opts = ReadOptions {
            columns: Some(vec!["x9".into()]),
            ..Default::default()
        };
        let e = read(z, &opts).unwrap_err().to_string();
        assert_eq!(
            e,
            "t.npz: array 'X': no column 'x9' (from --columns); the columns are: x0, x1"
        );
    }

    #[test]
    fn bad_members() {
        // NaN in X.
        let x = npy_bytes(
            "<f8",
            false,
            &[2, 2],
            &encode("<f8", &[1.0, 2.0, f64::NAN, 4.0]),
            1,
        );
        let e = read(zip_of(&[("X.npy", x)], true), &ReadOptions::default())
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "t.npz: array 'X': non-finite value (NaN) at row 1, column 0 (0-based)"
        );
        // A member whose header claims more data than it holds.
        let x = npy_bytes("<f8", false, &[1000, 2], &encode("<f8", &[1.0, 2.0]), 1);
        for deflate in [false, true] {
            let e = read(
                zip_of(&[("X.npy", x.clone())], deflate),
                &ReadOptions::default(),
            )
            .unwrap_err()
            .to_string();
            assert!(e.starts_with("t.npz: array 'X': truncated NPY file"), "{e}");
        }
        // Not an NPY member.
        let e = read(
            zip_of(&[("X.npy", b"hello".to_vec())], false),
            &ReadOptions::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("t.npz: array 'X': not an NPY file"), "{e}");
        // A corrupt y is an error too.
        let z = zip_of(
            &[("X.npy", x_npy()), ("y.npy", b"\x93NUMPY\x01".to_vec())],
            false,
        );
        let e = read(z, &ReadOptions::default()).unwrap_err().to_string();
        assert!(e.contains("array 'y': truncated NPY file"), "{e}");
    }

    #[test]
    fn corrupt_archives() {
        let e = read(b"not a zip at all".to_vec(), &ReadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("t.npz: not a valid NPZ file (zip archive)"),
            "{e}"
        );
        let z = zip_of(&[("X.npy", x_npy())], true);
        let cut = z[..z.len() / 2].to_vec();
        assert!(read(cut, &ReadOptions::default()).is_err());
        // Flip bytes inside the compressed data: a CRC or inflate error, not a panic.
        let mut z = zip_of(&[("X.npy", x_npy())], false);
        let at = 30 + "X.npy".len() + 128 + 3; // local header, name, NPY header, into the data
        z[at] ^= 0xff;
        let e = read(z, &ReadOptions::default()).unwrap_err().to_string();
        assert!(e.starts_with("t.npz: array 'X'"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("empty.npz");
        std::fs::write(&p, b"").unwrap();
        let mut notes = Vec::new();
        let e = read_dataset_notes(p.to_str().unwrap(), &ReadOptions::default(), &mut notes)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a valid NPZ file"), "{e}");
    }

    #[test]
    fn from_a_stream() {
        let mut notes = Vec::new();
        let z = zip_of(&[("X.npy", x_npy()), ("y.npy", y_npy(3))], true);
        let d = read_stream("<stdin>", &z[..], &ReadOptions::default(), &mut notes).unwrap();
        assert_eq!(d.x, array![[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]);
        assert!(d.labels.is_some());
        let n = x_npy();
        let d = read_stream("<stdin>", &n[..], &ReadOptions::default(), &mut notes).unwrap();
        assert_eq!(d.x, array![[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]);
        let e = read_stream(
            "<stdin>",
            &n[..n.len() - 1],
            &ReadOptions::default(),
            &mut notes,
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("<stdin>: truncated NPY file"), "{e}");
        let e = read_stream("<stdin>", &n[..], &array("X"), &mut notes)
            .unwrap_err()
            .to_string();
        assert!(e.contains("--array applies only to NPZ input"), "{e}");
    }
}
