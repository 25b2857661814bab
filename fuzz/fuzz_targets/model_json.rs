//! Model JSON: `GmmModel::from_json` (through `ModelFile`) on arbitrary UTF-8. A model
//! that loads must be usable: predictions on a small matrix of its width, scores and
//! a JSON round trip that loads again to the same parameters.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::model_json(data));
