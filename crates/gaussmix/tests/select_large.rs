//! Selection on data larger than the subset the starts run on: the cells that cannot win
//! keep their start (reported as not converged, no iterations), and the choice is the one
//! a selection of the chosen cell alone makes, to the last bit.

use gaussmix::select::{CellOutcome, Selection};
use gaussmix::CovarianceType;
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// 6,000 rows in 3 dimensions from three correlated Gaussian clusters.
fn data() -> Array2<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let centres = [[0.0, 0.0, 0.0], [6.0, 1.0, -2.0], [1.0, 7.0, 3.0]];
    let mut x = Array2::zeros((6000, 3));
    for r in 0..6000 {
        let c = rng.random_range(0..3);
        let z: Vec<f64> = (0..3).map(|_| StandardNormal.sample(&mut rng)).collect();
        // a different orientation and scale per cluster
        let s = 1.0 + c as f64 * 0.5;
        x[[r, 0]] = centres[c][0] + s * z[0];
        x[[r, 1]] = centres[c][1] + s * (0.8 * z[0] + 0.6 * z[1]);
        x[[r, 2]] = centres[c][2] + 0.5 * s * (z[2] - 0.4 * z[1] * c as f64);
    }
    x
}

#[test]
fn cells_that_cannot_win_keep_their_start_and_the_choice_is_unchanged() {
    let x = data();
    let families = [
        CovarianceType::EII,
        CovarianceType::Spherical,
        CovarianceType::Tied,
        CovarianceType::EVE,
        CovarianceType::Full,
    ];
    let result = Selection::new(1..=4)
        .covariance_types(&families)
        .run(x.view())
        .unwrap();
    let best = &result.cells[result.best.unwrap()];
    let CellOutcome::Fitted(chosen) = &best.outcome else {
        panic!("the chosen cell is not a sound fit: {:?}", best.outcome)
    };
    assert!(chosen.converged && chosen.n_iter > 0);
    // some cells are far from the best and kept their start
    let kept: Vec<_> = result
        .cells
        .iter()
        .filter_map(|c| c.scores().map(|s| (c, s)))
        .filter(|(_, s)| !s.converged && s.n_iter == 0)
        .collect();
    assert!(!kept.is_empty(), "every cell was refined");
    for (c, s) in &kept {
        assert!(
            s.bic > chosen.bic + 100.0,
            "{} k={} kept its start at BIC {} (best {})",
            c.covariance_type,
            c.k,
            s.bic,
            chosen.bic
        );
    }
    // the chosen cell alone: the same fit
    let alone = Selection::new([best.k])
        .covariance_types(&[best.covariance_type])
        .run(x.view())
        .unwrap();
    let CellOutcome::Fitted(s) = &alone.cells[0].outcome else {
        panic!("{:?}", alone.cells[0].outcome)
    };
    assert_eq!(s.bic.to_bits(), chosen.bic.to_bits());
    assert_eq!(
        alone.model.unwrap().means(),
        result.model.as_ref().unwrap().means()
    );
}
