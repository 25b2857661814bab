//! Parquet reader: `read_parquet` on arbitrary in-memory bytes, and `read_stream` (which
//! dispatches on the magic bytes to every reader).
#![no_main]

use gaussmix_cli::io::{parquet::read_parquet, read_stream, ReadOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
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
});
