//! Sufficient-statistics bytes: `SufficientStatistics::from_bytes` on arbitrary bytes.
//! Whatever decodes must encode back to the same bytes, merge with itself and finalise
//! (to a model or an error) without panicking.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::stats_bytes(data));
