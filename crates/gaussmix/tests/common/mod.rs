//! Helpers shared by the integration tests.
#![allow(dead_code)]

use ndarray::{Array1, Array2};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// A file of the repository's `data/` folder (always present: the small data sets the
/// tests need are bundled).
pub fn data(path: &str) -> String {
    let p = format!("{}/../../data/{path}", env!("CARGO_MANIFEST_DIR"));
    assert!(
        std::path::Path::new(&p).exists(),
        "{p} is missing from the repository"
    );
    p
}

/// A file under the shared data folder (`$GAUSSMIX_SHARED/data`, by default
/// `shared/data` beside the repository), if it is there. Otherwise prints a note naming
/// it and returns `None` (the caller skips), or panics when `GAUSSMIX_REQUIRE_SHARED=1`
/// (CI, which has the folder).
pub fn shared(path: &str) -> Option<String> {
    let root = std::env::var("GAUSSMIX_SHARED")
        .unwrap_or_else(|_| format!("{}/../../../shared", env!("CARGO_MANIFEST_DIR")));
    let p = format!("{root}/data/{path}");
    if std::path::Path::new(&p).exists() {
        return Some(p);
    }
    let msg = format!("{p} not found (set GAUSSMIX_SHARED to the shared data folder)");
    if std::env::var("GAUSSMIX_REQUIRE_SHARED").is_ok_and(|v| v == "1") {
        panic!("GAUSSMIX_REQUIRE_SHARED=1: {msg}");
    }
    eprintln!("note: skipping: {msg}");
    None
}

/// Numeric columns of an R-written CSV (quoted header, index column, text columns dropped).
pub fn read_r_csv(path: &str) -> Array2<f64> {
    let text = std::fs::read_to_string(path).unwrap();
    let rows: Vec<Vec<f64>> = text
        .lines()
        .skip(1)
        .map(|l| {
            l.split(',')
                .skip(1)
                .filter_map(|v| v.trim_matches('"').parse().ok())
                .collect()
        })
        .collect();
    let d = rows[0].len();
    Array2::from_shape_fn((rows.len(), d), |(i, j)| rows[i][j])
}

/// Random mixture data: K clusters in D dimensions with random means and anisotropic
/// covariances.
pub fn mixture_data(
    n: usize,
    d: usize,
    k: usize,
    seed: u64,
    spread: f64,
) -> (Array2<f64>, Array1<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let means = Array2::from_shape_fn((k, d), |_| {
        spread * {
            let v: f64 = StandardNormal.sample(&mut rng);
            v
        }
    });
    let mix = Array2::from_shape_fn((k, d * d), |_| {
        0.5 * {
            let v: f64 = StandardNormal.sample(&mut rng);
            v
        }
    });
    let mut x = Array2::zeros((n, d));
    let mut labels = Array1::zeros(n);
    for i in 0..n {
        let c = i % k;
        labels[i] = c;
        let z: Vec<f64> = (0..d).map(|_| StandardNormal.sample(&mut rng)).collect();
        for a in 0..d {
            let mut v = means[[c, a]] + z[a];
            for b in 0..d {
                v += mix[[c, a * d + b]] * z[b];
            }
            x[[i, a]] = v;
        }
    }
    (x, labels)
}

/// Relative difference, with an absolute floor for values near zero.
pub fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / a.abs().max(b.abs()).max(1e-300)
}
