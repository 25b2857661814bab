//! Issue 11's same-model requirement: with the default starts, `gaussmix::select` reaches
//! at least mclust 6.0.0's maximised log-likelihood in every cell (family, k = 2..5) on the
//! bundled faithful and iris data, within the grid the CLI runs by default (k = 1..9).
//!
//! Fixture: `tests/fixtures/mclust/loglik.json` from `scripts/gen_mclust_loglik.R`
//! (committed: no R needed here).

mod common;

use gaussmix::select::Selection;
use gaussmix::CovarianceType;
use serde_json::Value;

fn mclust_loglik() -> Value {
    let path = format!(
        "{}/tests/fixtures/mclust/loglik.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The cells (family, k, ours, mclust's) where the selection falls short of mclust.
fn shortfalls(name: &str, accelerate: bool) -> Vec<(String, usize, f64, f64)> {
    let fx = mclust_loglik();
    let x = common::read_r_csv(&common::data(&format!("{name}.csv")));
    let result = Selection::new(1..=9)
        .accelerate(accelerate)
        .run(x.view())
        .unwrap();
    let gs: Vec<usize> = fx["G"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g.as_u64().unwrap() as usize)
        .collect();
    let mut short = Vec::new();
    let mut compared = 0;
    for ct in CovarianceType::ALL {
        let want = &fx[name][ct.mclust_name()];
        for (i, &g) in gs.iter().enumerate() {
            let Some(w) = want[i].as_f64() else { continue };
            let cell = result
                .cells
                .iter()
                .find(|c| c.k == g && c.covariance_type == ct)
                .unwrap();
            let got = cell
                .scores()
                .map_or(f64::NEG_INFINITY, |s| s.log_likelihood);
            compared += 1;
            if got < w - 1e-7 * w.abs() {
                short.push((ct.mclust_name().to_string(), g, got, w));
            }
        }
    }
    assert!(compared > 40, "{name}: only {compared} cells compared");
    short
}

/// The iris headline, on the library: with the defaults (all fourteen families,
/// k = 1..9) the choice is VEV with two components at a BIC no worse than mclust 6.0.0's
/// 561.73 (in our sign), and the chosen model has no degenerate component.
#[test]
fn default_selection_on_iris_is_vev_2() {
    let x = common::read_r_csv(&common::data("iris.csv"));
    let result = Selection::new(1..=9).run(x.view()).unwrap();
    let best = &result.cells[result.best.unwrap()];
    assert_eq!((best.covariance_type, best.k), (CovarianceType::VEV, 2));
    let gaussmix::select::CellOutcome::Fitted(s) = &best.outcome else {
        panic!("the chosen cell is not a sound fit: {:?}", best.outcome)
    };
    assert!(s.bic <= 561.74, "BIC {}", s.bic);
}

/// Cell by cell against mclust, with plain EM and with SQUAREM. The last cell to fall short,
/// faithful EVV 5 (−0.117), came from the hierarchical start: faithful's rounded values give
/// merges of equal cost, and the tree took them in another order than mclust's. The tree is
/// now mclust's (`hc::Ties::Mclust`), with the other order as one more start on tied data.
/// Fixed before: faithful EEI 4, iris EEV 5, and iris VVE 2, 3, 5 (mclust's VVE M-step had
/// been copied, which is not the VVE maximum).
#[test]
fn selection_reaches_mclusts_log_likelihood_in_every_cell() {
    let mut all = Vec::new();
    for name in ["faithful", "iris"] {
        for accelerate in [false, true] {
            let s = shortfalls(name, accelerate);
            eprintln!("{name} (accelerate {accelerate}): below mclust in {s:?}");
            all.extend(s);
        }
    }
    assert!(all.is_empty(), "{all:?}");
}
