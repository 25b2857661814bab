//! The checks behind every fuzz target, one function per target taking the input bytes.
//!
//! The fuzz targets (`fuzz_targets/*.rs`, nightly, libFuzzer) call these; so does the
//! stable regression test `crates/gaussmix-cli/tests/fuzz_corpus.rs`, which replays every
//! committed input of `fuzz/corpus/<target>/` (the seeds and every crash ever found,
//! `regress-*` / `crash-*`) on every test run. A check returns normally for an input the
//! readers reject with an error, and panics when a reader panics or breaks its contract.
//!
//! Included with `#[path]` by both, so it names its dependencies by crate path only.
#![allow(dead_code)]

use std::sync::OnceLock;

/// One temporary directory per process; each input overwrites the same files.
fn temp_dir() -> &'static std::path::Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("temp dir"))
        .path()
}

/// CSV reader: `read_csv` on arbitrary bytes, with column/weight options taken from the
/// first input byte, must return a data set or an error (never panic, hang or blow up).
pub fn csv(data: &[u8]) {
    use gaussmix_cli::io::{csv::read_csv, ReadOptions};
    let (opts, body) = match data.split_first() {
        Some((&b, rest)) => (options(b), rest),
        None => (ReadOptions::default(), data),
    };
    let mut notes = Vec::new();
    if let Ok(ds) = read_csv("fuzz.csv", body, b',', &opts, &mut notes) {
        // A data set is an N × D matrix of finite numbers with N, D > 0.
        assert!(ds.n_samples() > 0 && ds.n_features() > 0);
        assert!(ds.x.iter().all(|v| v.is_finite()));
    }
}

/// Options from one byte: bits 0-1 pick a column selection, bits 2-3 a weights column,
/// bits 4 sets `quiet`.
fn options(b: u8) -> gaussmix_cli::io::ReadOptions {
    let columns = match b & 3 {
        0 => None,
        1 => Some(vec!["0".to_string()]),
        2 => Some(vec!["1".to_string(), "0".to_string()]),
        _ => Some(vec!["x".to_string(), "y".to_string()]),
    };
    let weights = match (b >> 2) & 3 {
        0 | 1 => None,
        2 => Some("0".to_string()),
        _ => Some("w".to_string()),
    };
    gaussmix_cli::io::ReadOptions {
        columns,
        weights,
        array: None,
        quiet: b & 16 != 0,
    }
}

/// NPY readers: the whole-array reader (with and without the known length), the header
/// parser, and the streaming `NpySource` over a temporary file holding the bytes.
pub fn npy(data: &[u8]) {
    use gaussmix::RowSource;
    use gaussmix_cli::io::npy::{read_header, read_npy};
    use gaussmix_cli::stream::NpySource;
    let _ = read_header("fuzz.npy", &mut &data[..]);
    let unknown = read_npy("fuzz.npy", data, None);
    let known = read_npy("fuzz.npy", data, Some(data.len() as u64));
    // Both readers see the same bytes: they agree on success and on the values.
    match (&unknown, &known) {
        (Ok(a), Ok(b)) => assert!(a.shape() == b.shape()),
        (Err(_), Err(_)) => {}
        _ => panic!("read_npy with and without the length disagree: {unknown:?} vs {known:?}"),
    }

    let path = temp_dir().join("x.npy");
    std::fs::write(&path, data).expect("write temp file");
    let path = path.to_str().expect("utf-8 temp path");
    if let Ok(mut src) = NpySource::open(path, None, 64) {
        // The streamed rows must be exactly those of the whole-array reader.
        let whole = known.as_ref().ok();
        let mut rows = 0usize;
        let _ = src.reset();
        while let Ok(Some(chunk)) = src.next_chunk() {
            if let Some(w) = whole {
                assert_eq!(chunk.x.ncols(), w.ncols());
                for (i, r) in chunk.x.outer_iter().enumerate() {
                    let want = w.row(rows + i);
                    assert!(r
                        .iter()
                        .zip(want.iter())
                        .all(|(a, b)| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())));
                }
            }
            rows += chunk.x.nrows();
        }
        assert!(rows <= src.n_rows());
    }
}

/// NPZ reader: `read_npz` on arbitrary bytes (a zip archive of NPY members), with the
/// default array and with `--array y`.
pub fn npz(data: &[u8]) {
    use gaussmix_cli::io::{npz::read_npz, ReadOptions};
    use std::io::Cursor;
    for array in [None, Some("y".to_string())] {
        let opts = ReadOptions {
            array,
            quiet: true,
            ..ReadOptions::default()
        };
        let mut notes = Vec::new();
        if let Ok(ds) = read_npz("fuzz.npz", Cursor::new(data), &opts, &mut notes) {
            assert!(ds.n_samples() > 0 && ds.n_features() > 0);
            assert!(ds.x.iter().all(|v| v.is_finite()));
        }
    }
}

/// Parquet reader: `read_parquet` on arbitrary in-memory bytes, and `read_stream` (which
/// dispatches on the magic bytes to every reader).
#[cfg(feature = "parquet")]
pub fn parquet(data: &[u8]) {
    use gaussmix_cli::io::{parquet::read_parquet, read_stream, ReadOptions};
    let opts = ReadOptions {
        quiet: true,
        ..ReadOptions::default()
    };
    let mut notes = Vec::new();
    let bytes = bytes::Bytes::copy_from_slice(data);
    if let Ok(ds) = read_parquet("fuzz.parquet", bytes, &opts, &mut notes) {
        assert!(ds.n_samples() > 0 && ds.n_features() > 0);
        assert!(ds.x.iter().all(|v| v.is_finite()));
    }
    let _ = read_stream("fuzz", data, &opts, &mut notes);
}

/// Model JSON: `GmmModel::from_json` (through `ModelFile`) on arbitrary UTF-8. A model
/// that loads must be usable: predictions on a small matrix of its width, scores and
/// a JSON round trip that loads again to the same parameters.
pub fn model_json(data: &[u8]) {
    use gaussmix::GmmModel;
    use ndarray::Array2;
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(model) = GmmModel::from_json(text) else {
        return;
    };
    let d = model.n_features();
    let k = model.n_components();
    // Keep the work per input bounded (a valid model can be large).
    if d > 256 || k * d > 1 << 16 {
        return;
    }
    let x = Array2::from_shape_fn((3, d), |(i, j)| (i as f64) - (j as f64) * 0.5);
    if let Ok(labels) = model.predict(x.view()) {
        assert!(labels.iter().all(|&l| l < k));
    }
    let _ = model.predict_proba(x.view());
    let _ = model.score_samples(x.view());
    let json = model.to_json().expect("a loaded model serialises");
    let again = GmmModel::from_json(&json).expect("a serialised model loads");
    assert_eq!(again.means(), model.means());
    assert_eq!(again.weights(), model.weights());
}

/// Sufficient-statistics bytes: `SufficientStatistics::from_bytes` on arbitrary bytes.
/// Whatever decodes must encode back to the same bytes, merge with itself and finalise
/// (to a model or an error) without panicking.
pub fn stats_bytes(data: &[u8]) {
    use gaussmix::SufficientStatistics;
    let Ok(stats) = SufficientStatistics::from_bytes(data) else {
        return;
    };
    let bytes = stats.to_bytes();
    // bytes of the current version round-trip exactly; an older version (read, as
    // docs/formats.md promises) is written back in the current one, which then round-trips
    let version = u32::from_le_bytes(data[4..8].try_into().expect("a header was decoded"));
    if version == gaussmix::STATS_FORMAT_VERSION {
        assert_eq!(bytes, data, "to_bytes(from_bytes(b)) != b");
    } else {
        let again = SufficientStatistics::from_bytes(&bytes).expect("re-encoded bytes decode");
        assert_eq!(
            again.to_bytes(),
            bytes,
            "re-encoding an old version is not stable"
        );
    }
    let _ = stats.finalize(1e-6);
    let _ = stats.finalize(0.0);
    let mut twice = stats.clone();
    twice
        .merge(&stats)
        .expect("statistics merge with themselves");
    let _ = twice.finalize(1e-6);
}

/// Frame decoding of the video crate: `decode_image` on arbitrary bytes, then the
/// `ImageFolder` frame source over a folder of two files (the input split in two), which
/// must hand out frames of the announced size or an error.
pub fn image(data: &[u8]) {
    use gaussmix_video::source::{decode_image, FrameSource, ImageFolder};
    if let Ok(img) = decode_image(data) {
        // What the frame source does with a decoded frame.
        let _ = img.to_rgb8();
        let _ = img.to_luma8();
    }
    // Two frames: the first half and the whole input (so a valid image yields two
    // frames or a size/decode error for the first).
    let dir = temp_dir().join("frames");
    std::fs::create_dir_all(&dir).expect("frames dir");
    let dir = dir.as_path();
    let mid = data.len() / 2;
    std::fs::write(dir.join("a.png"), &data[..mid]).expect("write frame");
    std::fs::write(dir.join("b.png"), data).expect("write frame");
    if let Ok(mut src) = ImageFolder::open(dir) {
        let (w, h, c) = (src.width(), src.height(), src.channels());
        let mut buf = Vec::new();
        while let Ok(true) = src.next_frame(&mut buf) {
            assert_eq!(buf.len(), w * h * c);
        }
    }
}
