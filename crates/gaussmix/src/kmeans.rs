//! k-means for initialisation: greedy k-means++ seeding (scikit-learn's variant, with
//! `2 + ln K` local trials) and weighted Lloyd iterations, over fixed row blocks so the
//! result does not depend on the thread count.

use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2};
use rand::Rng;

use crate::par::{map_fold_blocks, Parallelism};

/// Squared Euclidean distance.
#[inline]
pub(crate) fn dist2(a: ArrayView1<f64>, b: ArrayView1<f64>) -> f64 {
    a.iter().zip(b.iter()).map(|(x, y)| (x - y) * (x - y)).sum()
}

fn weight(w: Option<ArrayView1<f64>>, i: usize) -> f64 {
    w.map_or(1.0, |w| w[i])
}

/// Greedy k-means++: returns the row indices of `k` seeds.
pub(crate) fn kmeans_plusplus<R: Rng>(
    x: ArrayView2<f64>,
    w: Option<ArrayView1<f64>>,
    k: usize,
    rng: &mut R,
    par: Parallelism,
) -> Vec<usize> {
    let n = x.nrows();
    let n_trials = 2 + (k as f64).ln() as usize;
    let total_w: f64 = (0..n).map(|i| weight(w, i)).sum();
    // first centre with probability ∝ weight
    let first = pick_cumulative(
        (0..n).map(|i| weight(w, i)),
        rng.random::<f64>() * total_w,
        n,
    );
    let mut centers = vec![first];
    let mut closest: Vec<f64> = distances_to(x, x.row(first), par);
    let mut pot: f64 = closest
        .iter()
        .enumerate()
        .map(|(i, d)| d * weight(w, i))
        .sum();
    for _ in 1..k {
        let mut cum = Vec::with_capacity(n);
        let mut acc = 0.0;
        for (i, d) in closest.iter().enumerate() {
            acc += d * weight(w, i);
            cum.push(acc);
        }
        let mut best: Option<(f64, usize, Vec<f64>)> = None;
        for _ in 0..n_trials {
            let r = rng.random::<f64>() * pot;
            let cand = cum.partition_point(|&c| c < r).min(n - 1);
            let dc = distances_to(x, x.row(cand), par);
            let new: Vec<f64> = dc.iter().zip(&closest).map(|(a, b)| a.min(*b)).collect();
            let p: f64 = new.iter().enumerate().map(|(i, d)| d * weight(w, i)).sum();
            if best.as_ref().is_none_or(|b| p < b.0) {
                best = Some((p, cand, new));
            }
        }
        let (p, cand, new) = best.expect("n_trials ≥ 2");
        centers.push(cand);
        closest = new;
        pot = p;
    }
    centers
}

fn pick_cumulative(vals: impl Iterator<Item = f64>, r: f64, n: usize) -> usize {
    let mut acc = 0.0;
    for (i, v) in vals.enumerate() {
        acc += v;
        if r < acc {
            return i;
        }
    }
    n - 1
}

fn distances_to(x: ArrayView2<f64>, c: ArrayView1<f64>, par: Parallelism) -> Vec<f64> {
    let mut out = Vec::with_capacity(x.nrows());
    let _ = map_fold_blocks::<_, std::convert::Infallible>(
        x.nrows(),
        par,
        |s, e| {
            Ok(x.slice(s![s..e, ..])
                .rows()
                .into_iter()
                .map(|r| dist2(r, c))
                .collect::<Vec<_>>())
        },
        |v| {
            out.extend(v);
            Ok(())
        },
    );
    out
}

/// Result of k-means: centres and the label of each row.
pub(crate) struct KMeansResult {
    #[allow(dead_code)] // kept for diagnostics and the CLI k-means later
    pub(crate) centers: Array2<f64>,
    pub(crate) labels: Vec<usize>,
}

/// Weighted Lloyd iterations from the given centres until the centre shift falls below
/// `tol` (scikit-learn's: `1e-4 ×` the mean feature variance) or labels stop changing.
pub(crate) fn lloyd(
    x: ArrayView2<f64>,
    w: Option<ArrayView1<f64>>,
    mut centers: Array2<f64>,
    max_iter: usize,
    par: Parallelism,
) -> KMeansResult {
    let (n, d) = x.dim();
    let k = centers.nrows();
    let tol = 1e-4 * mean_variance(x);
    let mut labels = vec![usize::MAX; n];
    for _ in 0..max_iter {
        // assignment + partial sums per block
        let mut sums = Array2::<f64>::zeros((k, d));
        let mut counts = Array1::<f64>::zeros(k);
        let mut new_labels = Vec::with_capacity(n);
        let mut far: Vec<(f64, usize)> = Vec::new();
        let cref = &centers;
        let _ = map_fold_blocks::<_, std::convert::Infallible>(
            n,
            par,
            |s, e| {
                let mut ps = Array2::<f64>::zeros((k, d));
                let mut pc = Array1::<f64>::zeros(k);
                let mut lab = Vec::with_capacity(e - s);
                let mut dists = Vec::with_capacity(e - s);
                for i in s..e {
                    let r = x.row(i);
                    let mut best = (f64::INFINITY, 0);
                    for c in 0..k {
                        let dd = dist2(r, cref.row(c));
                        if dd < best.0 {
                            best = (dd, c);
                        }
                    }
                    let wi = weight(w, i);
                    pc[best.1] += wi;
                    ps.row_mut(best.1).scaled_add(wi, &r);
                    lab.push(best.1);
                    dists.push((best.0, i));
                }
                Ok((ps, pc, lab, dists))
            },
            |(ps, pc, lab, dists)| {
                sums += &ps;
                counts += &pc;
                new_labels.extend(lab);
                far.extend(dists);
                Ok(())
            },
        );
        let mut new_centers = centers.clone();
        for c in 0..k {
            if counts[c] > 0.0 {
                new_centers.row_mut(c).assign(&(&sums.row(c) / counts[c]));
            }
        }
        // empty clusters: move to the points farthest from their centres
        let empty: Vec<usize> = (0..k).filter(|&c| counts[c] <= 0.0).collect();
        if !empty.is_empty() {
            far.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            for (c, (_, i)) in empty.iter().zip(far.iter()) {
                new_centers.row_mut(*c).assign(&x.row(*i));
                new_labels[*i] = *c;
            }
        }
        let shift: f64 = (0..k)
            .map(|c| dist2(new_centers.row(c), centers.row(c)))
            .sum();
        let same = new_labels == labels;
        centers = new_centers;
        labels = new_labels;
        if same || shift <= tol {
            break;
        }
    }
    // final labels consistent with the final centres
    labels = (0..n)
        .map(|i| {
            let r = x.row(i);
            (0..k)
                .min_by(|&a, &b| dist2(r, centers.row(a)).total_cmp(&dist2(r, centers.row(b))))
                .expect("k ≥ 1")
        })
        .collect();
    KMeansResult { centers, labels }
}

fn mean_variance(x: ArrayView2<f64>) -> f64 {
    let n = x.nrows() as f64;
    let d = x.ncols();
    let mut total = 0.0;
    for j in 0..d {
        let col = x.column(j);
        let m = col.sum() / n;
        total += col.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n;
    }
    total / d as f64
}
