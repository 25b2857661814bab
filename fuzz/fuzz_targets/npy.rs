//! NPY readers: the whole-array reader (with and without the known length), the header
//! parser, and the streaming `NpySource` over a temporary file holding the bytes.
#![no_main]

use gaussmix::RowSource;
use gaussmix_cli::io::npy::{read_header, read_npy};
use gaussmix_cli::stream::NpySource;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

/// One temporary directory for the whole run; each input overwrites the same file.
fn temp_path() -> &'static std::path::Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("temp dir"))
        .path()
}

fuzz_target!(|data: &[u8]| {
    let _ = read_header("fuzz.npy", &mut &data[..]);
    let unknown = read_npy("fuzz.npy", data, None);
    let known = read_npy("fuzz.npy", data, Some(data.len() as u64));
    // Both readers see the same bytes: they agree on success and on the values.
    match (&unknown, &known) {
        (Ok(a), Ok(b)) => assert!(a.shape() == b.shape()),
        (Err(_), Err(_)) => {}
        _ => panic!("read_npy with and without the length disagree: {unknown:?} vs {known:?}"),
    }

    let path = temp_path().join("x.npy");
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
});
