//! NPZ reader: `read_npz` on arbitrary bytes (a zip archive of NPY members), with the
//! default array and with `--array y`.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::npz(data));
