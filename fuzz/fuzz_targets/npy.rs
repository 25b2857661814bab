//! NPY readers: the whole-array reader (with and without the known length), the header
//! parser, and the streaming `NpySource` over a temporary file holding the bytes.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::npy(data));
