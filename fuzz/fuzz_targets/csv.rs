//! CSV reader: `read_csv` on arbitrary bytes, with column/weight options taken from the
//! first input byte, must return a data set or an error (never panic, hang or blow up).
#![no_main]

use gaussmix_cli::io::{csv::read_csv, ReadOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
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
});

/// Options from one byte: bits 0-1 pick a column selection, bits 2-3 a weights column,
/// bits 4 sets `quiet`.
fn options(b: u8) -> ReadOptions {
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
    ReadOptions {
        columns,
        weights,
        array: None,
        quiet: b & 16 != 0,
    }
}
