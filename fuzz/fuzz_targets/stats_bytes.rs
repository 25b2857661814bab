//! Sufficient-statistics bytes: `SufficientStatistics::from_bytes` on arbitrary bytes.
//! Whatever decodes must encode back to the same bytes, merge with itself and finalise
//! (to a model or an error) without panicking.
#![no_main]

use gaussmix::SufficientStatistics;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(stats) = SufficientStatistics::from_bytes(data) else {
        return;
    };
    assert_eq!(stats.to_bytes(), data, "to_bytes(from_bytes(b)) != b");
    let _ = stats.finalize(1e-6);
    let _ = stats.finalize(0.0);
    let mut twice = stats.clone();
    twice
        .merge(&stats)
        .expect("statistics merge with themselves");
    let _ = twice.finalize(1e-6);
});
