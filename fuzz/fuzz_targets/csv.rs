//! CSV reader: `read_csv` on arbitrary bytes, with column/weight options taken from the
//! first input byte, must return a data set or an error (never panic, hang or blow up).
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::csv(data));
