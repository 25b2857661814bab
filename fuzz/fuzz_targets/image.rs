//! Frame decoding of the video crate: `decode_image` on arbitrary bytes, then the
//! `ImageFolder` frame source over a folder of two files (the input split in two), which
//! must hand out frames of the announced size or an error.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::image(data));
