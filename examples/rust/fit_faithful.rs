//! Fit Old Faithful (`data/faithful.csv`) with the library: choose k by BIC, then look
//! at the chosen mixture and label a few rows.
//!
//! cargo run --release -p gaussmix --example fit_faithful

use gaussmix::{CovarianceType, GaussianMixture};
use ndarray::Array2;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/faithful.csv");
    // R's write.csv: a quoted header, then "row",eruptions,waiting
    let text = std::fs::read_to_string(path)?;
    let mut values = Vec::new();
    for line in text.lines().skip(1) {
        for cell in line.split(',').skip(1) {
            values.push(cell.trim_matches('"').parse::<f64>()?);
        }
    }
    let x = Array2::from_shape_vec((values.len() / 2, 2), values)?;
    println!("{} rows × {} columns", x.nrows(), x.ncols());

    let mut best = None;
    for k in 1..=4 {
        let model = GaussianMixture::new(k)
            .covariance_type(CovarianceType::Full)
            .n_init(5)
            .seed(0)
            .fit(x.view())?;
        let bic = model.bic(x.view())?;
        println!(
            "k = {k}: BIC {bic:10.2}, converged {}",
            model.info().converged
        );
        if best.as_ref().is_none_or(|(b, _)| bic < *b) {
            best = Some((bic, model));
        }
    }
    let (bic, model) = best.ok_or("no model")?;
    println!("chosen: k = {} (BIC {bic:.2})", model.n_components());
    for k in 0..model.n_components() {
        println!(
            "  component {k}: weight {:.3}, mean ({:.3}, {:.3})",
            model.weights()[k],
            model.means()[[k, 0]],
            model.means()[[k, 1]]
        );
    }
    let labels = model.predict(x.slice(ndarray::s![..5, ..]))?;
    let proba = model.predict_proba(x.slice(ndarray::s![..5, ..]))?;
    for (i, (l, p)) in labels.iter().zip(proba.outer_iter()).enumerate() {
        println!("  row {i}: component {l} (p = {:.3})", p[*l]);
    }
    assert_eq!(
        model.n_components(),
        2,
        "Old Faithful has two kinds of eruption"
    );
    Ok(())
}
