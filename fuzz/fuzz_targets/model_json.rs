//! Model JSON: `GmmModel::from_json` (through `ModelFile`) on arbitrary UTF-8. A model
//! that loads must be usable: predictions on a small matrix of its width, scores and
//! a JSON round trip that loads again to the same parameters.
#![no_main]

use gaussmix::GmmModel;
use libfuzzer_sys::fuzz_target;
use ndarray::Array2;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(model) = GmmModel::from_json(text) else {
        return;
    };
    let d = model.n_features();
    let k = model.n_components();
    // Keep the work per input bounded (a valid model can be large).
    if d > 256 || k * d > 1 << 16 {
        return;
    }
    let x = Array2::from_shape_fn((3, d), |(i, j)| (i as f64) - (j as f64) * 0.5);
    if let Ok(labels) = model.predict(x.view()) {
        assert!(labels.iter().all(|&l| l < k));
    }
    let _ = model.predict_proba(x.view());
    let _ = model.score_samples(x.view());
    let json = model.to_json().expect("a loaded model serialises");
    let again = GmmModel::from_json(&json).expect("a serialised model loads");
    assert_eq!(again.means(), model.means());
    assert_eq!(again.weights(), model.weights());
});
