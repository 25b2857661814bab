//! Parquet reader: `read_parquet` on arbitrary in-memory bytes, and `read_stream` (which
//! dispatches on the magic bytes to every reader).
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::parquet(data));
