//! NPZ reader: `read_npz` on arbitrary bytes (a zip archive of NPY members), with the
//! default array and with `--array y`.
#![no_main]

use gaussmix_cli::io::{npz::read_npz, ReadOptions};
use libfuzzer_sys::fuzz_target;
use std::io::Cursor;

fuzz_target!(|data: &[u8]| {
    for array in [None, Some("y".to_string())] {
        let opts = ReadOptions {
            array,
            quiet: true,
            ..ReadOptions::default()
        };
        let mut notes = Vec::new();
        if let Ok(ds) = read_npz("fuzz.npz", Cursor::new(data), &opts, &mut notes) {
            assert!(ds.n_samples() > 0 && ds.n_features() > 0);
            assert!(ds.x.iter().all(|v| v.is_finite()));
        }
    }
});
