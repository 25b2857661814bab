//! Every committed fuzz input, replayed on stable: the seeds and every crash the fuzzers
//! ever found (`fuzz/corpus/<target>/`, `regress-*` and `crash-*` files) go through the
//! same checks as the fuzz targets (`fuzz/checks.rs`), so a fixed crash stays fixed
//! without a nightly compiler. A new crash is added by copying its input from
//! `fuzz/artifacts/<target>/` into `fuzz/corpus/<target>/` as `regress-<what>`.

#[path = "../../../fuzz/checks.rs"]
mod checks;

use std::path::PathBuf;

fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} has no inputs", dir.display());
    files
}

/// Runs `check` on every input of `target`'s corpus, naming the file that fails.
fn replay(target: &str, check: fn(&[u8])) -> usize {
    let files = corpus(target);
    for f in &files {
        let data = std::fs::read(f).unwrap();
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        if let Err(e) = std::panic::catch_unwind(|| check(&data)) {
            let why = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("fuzz/corpus/{target}/{name} fails its check again: {why}");
        }
    }
    eprintln!("{target}: {} inputs", files.len());
    files.len()
}

#[test]
fn csv_corpus() {
    replay("csv", checks::csv);
}

#[test]
fn npy_corpus_with_its_regressions() {
    replay("npy", checks::npy);
    // the crashes found earlier are part of it
    assert!(corpus("npy").iter().any(|p| p
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with("regress-")));
}

#[test]
fn npz_corpus() {
    replay("npz", checks::npz);
}

#[cfg(feature = "parquet")]
#[test]
fn parquet_corpus() {
    replay("parquet", checks::parquet);
}

#[test]
fn model_json_corpus() {
    replay("model_json", checks::model_json);
}

#[test]
fn stats_bytes_corpus() {
    replay("stats_bytes", checks::stats_bytes);
}

#[test]
fn image_corpus() {
    replay("image", checks::image);
}

/// A check that cannot fail would make the replay worthless: a contract break panics.
#[test]
#[should_panic(expected = "fails its check again")]
fn a_failing_check_is_reported_with_its_file() {
    replay("csv", |_| panic!("broken reader"));
}
