//! Helpers shared by the integration tests: the `gaussmix` binary, the small data sets
//! bundled in the repository (`data/`), and the optional shared data folder.
//!
//! The shared folder (larger data sets; CI has it, a clone usually does not) is
//! `$GAUSSMIX_SHARED`, by default `shared/` beside the repository. A test that needs a
//! file from it calls [`shared`] and returns early when it gets `None` (a note naming
//! the missing file is printed); with `GAUSSMIX_REQUIRE_SHARED=1` (CI) a missing file
//! fails the test instead.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The `gaussmix` binary of this build.
pub fn gaussmix() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("gaussmix").unwrap()
}

/// The repository's root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A file of the repository's `data/` folder (always present).
pub fn data(path: &str) -> PathBuf {
    let p = repo().join("data").join(path);
    assert!(p.exists(), "{} is missing from the repository", p.display());
    p
}

/// [`data`] as a string.
pub fn data_str(path: &str) -> String {
    data(path).to_string_lossy().into_owned()
}

/// The shared folder: `$GAUSSMIX_SHARED`, else `shared/` beside the repository.
pub fn shared_root() -> PathBuf {
    std::env::var_os("GAUSSMIX_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared"))
}

/// A file under the shared folder's `data/`, if it is there. Otherwise prints a note
/// naming it and returns `None` (the caller skips), or panics when
/// `GAUSSMIX_REQUIRE_SHARED=1`.
pub fn shared(path: &str) -> Option<PathBuf> {
    let p = shared_root().join("data").join(path);
    if p.exists() {
        return Some(p);
    }
    let msg = format!(
        "{} not found (set GAUSSMIX_SHARED to the shared data folder)",
        p.display()
    );
    if std::env::var("GAUSSMIX_REQUIRE_SHARED").is_ok_and(|v| v == "1") {
        panic!("GAUSSMIX_REQUIRE_SHARED=1: {msg}");
    }
    eprintln!("note: skipping: {msg}");
    None
}

/// Files in `dir`, sorted.
pub fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Runs a command that must succeed and returns its standard output.
pub fn stdout_of(cmd: &mut assert_cmd::Command) -> Vec<u8> {
    cmd.assert().success().get_output().stdout.clone()
}

/// Writes an `n × d` little-endian f8 NPY file. `values` are in file order: row after row
/// (C order) or, with `fortran`, column after column.
pub fn write_npy_f8(path: &Path, n: usize, d: usize, values: &[f64], fortran: bool) {
    assert_eq!(
        values.len(),
        n * d,
        "an {n} x {d} NPY file needs {} values",
        n * d
    );
    let mut header = format!(
        "{{'descr': '<f8', 'fortran_order': {}, 'shape': ({n}, {d}), }}",
        if fortran { "True" } else { "False" }
    );
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for v in values {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(path, bytes).unwrap();
}

/// A seeded stream of uniform numbers in [0, 1) (a 64-bit LCG, its top 53 bits), so that
/// test data need no randomness crate.
pub fn uniform(seed: u64) -> impl FnMut() -> f64 {
    let mut s = seed;
    move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 11) as f64) / ((1u64 << 53) as f64)
    }
}
