//! Model-based hierarchical agglomeration (Banfield & Raftery 1993; Fraley 1998), mclust's
//! default start: every row starts as its own cluster, and the pair whose merge costs the
//! least classification likelihood under an unconstrained-covariance (VVV) model is merged,
//! until one cluster is left. Cutting the tree at K clusters gives a hard partition from
//! which EM starts.
//!
//! As in mclust (`hc(modelName = "VVV", use = "SVD")`), the rows are first standardised
//! and rotated onto their principal axes, each axis scaled by `1/√(singular value)`, and the
//! cost of a cluster C of n rows with scatter W and trace t is mclust's regularised
//!
//! ```text
//! term(C) = n · ln( β(t + α)/n )                 if n ≤ d
//!         = n · ln( |W/n| + β(t + α)/n )         otherwise
//! ```
//!
//! with `β = 1` and `α = tr(W_all)/(N·d)`, so that small clusters, whose scatter is
//! singular, are compared through their trace. The merge cost is
//! `term(A ∪ B) − term(A) − term(B)`.

use ndarray::ArrayView2;

use crate::float::Float;

/// A cluster of the agglomeration: size, mean, scatter (row-major D×D) and trace.
#[derive(Clone)]
struct Cluster {
    n: f64,
    mean: Vec<f64>,
    w: Vec<f64>,
    trace: f64,
    term: f64,
}

struct Criterion {
    d: usize,
    alpha: f64,
    beta: f64,
}

impl Criterion {
    fn term(&self, n: f64, trace: f64, w: &[f64], scratch: &mut Vec<f64>) -> f64 {
        let d = self.d;
        let base = self.beta * (trace + self.alpha) / n;
        if n <= d as f64 {
            return n * base.ln();
        }
        if trace == 0.0 {
            return n * (self.alpha * self.beta / n).ln();
        }
        // the factorisation reads the lower triangle only
        scratch.clear();
        scratch.resize(d * d, 0.0);
        for i in 0..d {
            for j in 0..=i {
                scratch[i * d + j] = w[i * d + j] / n;
            }
        }
        if crate::linalg::cholesky_lower(scratch, d).is_err() {
            return n * base.ln();
        }
        // |W/n| as the product of the factor's squared diagonal: one logarithm per term
        // instead of d + 3, unless the product leaves the normal range
        let det = (0..d).map(|i| scratch[i * d + i]).product::<f64>().powi(2);
        if det.is_normal() {
            return n * (det + base).ln();
        }
        let logdet = (0..d).map(|i| scratch[i * d + i].ln()).sum::<f64>() * 2.0;
        if !logdet.is_finite() {
            return n * base.ln();
        }
        // ln(e^logdet + base), stably
        let m = logdet.max(base.ln());
        n * (m + ((logdet - m).exp() + (base.ln() - m).exp()).ln())
    }

    /// The cluster `a ∪ b`, its scatter and term filled in.
    fn merge(&self, a: &Cluster, b: &Cluster, scratch: &mut Vec<f64>) -> Cluster {
        let d = self.d;
        let n = a.n + b.n;
        let f = a.n * b.n / n;
        let delta: Vec<f64> = (0..d).map(|i| b.mean[i] - a.mean[i]).collect();
        let mean = (0..d).map(|i| a.mean[i] + delta[i] * b.n / n).collect();
        let trace = a.trace + b.trace + f * delta.iter().map(|v| v * v).sum::<f64>();
        let mut w = vec![0.0; d * d];
        for i in 0..d {
            for j in 0..d {
                w[i * d + j] = a.w[i * d + j] + b.w[i * d + j] + f * delta[i] * delta[j];
            }
        }
        let term = self.term(n, trace, &w, scratch);
        Cluster {
            n,
            mean,
            w,
            trace,
            term,
        }
    }

    /// `term(a ∪ b) − term(a) − term(b)`, forming the merged scatter only when the
    /// criterion needs it (more than d rows).
    fn merge_cost(
        &self,
        a: &Cluster,
        b: &Cluster,
        w: &mut Vec<f64>,
        scratch: &mut Vec<f64>,
    ) -> f64 {
        let d = self.d;
        let n = a.n + b.n;
        let f = a.n * b.n / n;
        let mut dd = 0.0;
        for i in 0..d {
            let t = b.mean[i] - a.mean[i];
            dd += t * t;
        }
        let trace = a.trace + b.trace + f * dd;
        w.clear();
        if n > d as f64 {
            // the lower triangle: all that `term` reads
            w.resize(d * d, 0.0);
            for i in 0..d {
                let di = b.mean[i] - a.mean[i];
                for j in 0..=i {
                    let dj = b.mean[j] - a.mean[j];
                    w[i * d + j] = a.w[i * d + j] + b.w[i * d + j] + f * di * dj;
                }
            }
        }
        self.term(n, trace, w, scratch) - a.term - b.term
    }
}

/// Rows standardised, rotated onto principal axes and scaled by `1/√(singular value)`
/// (mclust's `use = "SVD"`); constant columns and null directions are dropped. Returns the
/// row-major N×D' matrix and D'.
pub(crate) fn svd_scaled<T: Float>(x: ArrayView2<T>) -> (Vec<f64>, usize) {
    let (n, d) = x.dim();
    let mut cols = Vec::new();
    let mut std = vec![0.0; n * d];
    let mut keep = 0;
    for j in 0..d {
        let col = x.column(j);
        let mean = col.iter().map(|v| v.to_f64()).sum::<f64>() / n as f64;
        let var = col.iter().map(|v| (v.to_f64() - mean).powi(2)).sum::<f64>()
            / (n as f64 - 1.0).max(1.0);
        let sd = var.sqrt();
        if !(sd > 0.0 && sd.is_finite()) {
            continue;
        }
        for (r, v) in col.iter().enumerate() {
            std[r * d + keep] = (v.to_f64() - mean) / sd;
        }
        cols.push(j);
        keep += 1;
    }
    let dk = keep;
    // XᵀX, its eigenvectors V and singular values √λ
    let mut xtx = vec![0.0; dk * dk];
    for r in 0..n {
        let row = &std[r * d..r * d + dk];
        for i in 0..dk {
            for j in 0..=i {
                xtx[i * dk + j] += row[i] * row[j];
            }
        }
    }
    for i in 0..dk {
        for j in 0..i {
            xtx[j * dk + i] = xtx[i * dk + j];
        }
    }
    let (vals, vecs) = crate::linalg::sym_eigen(&xtx, dk);
    let smax = vals.first().copied().unwrap_or(0.0).max(0.0).sqrt();
    let axes: Vec<usize> = (0..dk)
        .filter(|&j| vals[j].max(0.0).sqrt() > 1e-10 * smax)
        .collect();
    let dz = axes.len();
    let mut z = vec![0.0; n * dz];
    for r in 0..n {
        let row = &std[r * d..r * d + dk];
        for (t, &j) in axes.iter().enumerate() {
            let scale = 1.0 / vals[j].sqrt().sqrt();
            let s: f64 = (0..dk).map(|i| row[i] * vecs[i * dk + j]).sum();
            z[r * dz + t] = s * scale;
        }
    }
    (z, dz)
}

/// Which of several merges of exactly equal cost goes first. Rounded data (Old Faithful's
/// durations and waiting times) give many such ties, and the choice changes the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ties {
    /// mclust's order (Fortran `hcvvv`): the clusters sit in slots, at first the rows' order;
    /// a merge puts the union in the lower slot of the pair and moves the cluster of the last
    /// slot into the upper one, and of pairs of equal cost the one scanned last, i.e. the
    /// largest (upper slot, lower slot), is merged. This gives mclust's trees, checked against
    /// `hclass(hc(x, "VVV", use = "SVD"), G)` (tests below).
    Mclust,
    /// The pair of the earliest rows (smallest first row, then smallest second row).
    FirstRows,
}

/// The merge sequence of the agglomeration of the rows of `z` (N×d row-major): pairs of
/// cluster representatives (row indices), N−1 of them.
///
/// `ties` decides between merges of exactly equal cost (see [`Ties`]); the flag returned is
/// whether any such tie was met (if not, both rules give the same tree).
pub(crate) fn agglomerate(
    z: &[f64],
    n: usize,
    d: usize,
    ties: Ties,
) -> (Vec<(usize, usize)>, bool) {
    if n < 2 || d == 0 {
        return (Vec::new(), false);
    }
    let grand: Vec<f64> = (0..d)
        .map(|j| (0..n).map(|r| z[r * d + j]).sum::<f64>() / n as f64)
        .collect();
    let total_trace: f64 = (0..n)
        .map(|r| {
            (0..d)
                .map(|j| (z[r * d + j] - grand[j]).powi(2))
                .sum::<f64>()
        })
        .sum();
    let crit = Criterion {
        d,
        alpha: (total_trace / (n * d) as f64).max(f64::EPSILON),
        beta: 1.0,
    };
    let mut scratch = Vec::new();
    let mut clusters: Vec<Option<Cluster>> = (0..n)
        .map(|r| {
            Some(Cluster {
                n: 1.0,
                mean: z[r * d..(r + 1) * d].to_vec(),
                w: vec![0.0; d * d],
                trace: 0.0,
                term: (crit.alpha * crit.beta).ln(),
            })
        })
        .collect();
    // pairwise costs, both triangles (so that a cluster's costs are one contiguous row),
    // and each cluster's best partner
    let mut cost = vec![f64::INFINITY; n * n];
    let mut wbuf = Vec::new();
    let mut cost_of = |a: &Cluster, b: &Cluster, scratch: &mut Vec<f64>| -> f64 {
        crit.merge_cost(a, b, &mut wbuf, scratch)
    };
    for i in 0..n {
        for j in i + 1..n {
            let (a, b) = (
                clusters[i].as_ref().expect("alive"),
                clusters[j].as_ref().expect("alive"),
            );
            let c = cost_of(a, b, &mut scratch);
            cost[i * n + j] = c;
            cost[j * n + i] = c;
        }
    }
    let mut slot: Vec<usize> = (0..n).collect();
    let mut at_slot: Vec<usize> = (0..n).collect();
    // a pair's place among pairs of equal cost: the larger key goes first
    let key = |slot: &[usize], a: usize, b: usize| -> (usize, usize) {
        match ties {
            Ties::Mclust => {
                let (sa, sb) = (slot[a], slot[b]);
                (sa.max(sb), sa.min(sb))
            }
            Ties::FirstRows => (usize::MAX - a.min(b), usize::MAX - a.max(b)),
        }
    };
    let mut tied = false;
    // whether (c, key) comes before `(bc, bkey)`: cheaper, or as cheap and first by key
    let before =
        |c: f64, k: (usize, usize), bc: f64, bk: (usize, usize), tied: &mut bool| -> bool {
            // (a pair is seen from both its clusters: equal keys are the same pair)
            if c == bc && k != bk {
                *tied = true;
            }
            c < bc || (c == bc && k > bk)
        };
    let mut best: Vec<(f64, usize)> = vec![(f64::INFINITY, usize::MAX); n];
    let refresh =
        |i: usize, alive: &[bool], cost: &[f64], slot: &[usize], tied: &mut bool| -> (f64, usize) {
            let mut b = (f64::INFINITY, usize::MAX);
            let mut bk = (0, 0);
            for (j, (&c, &live)) in cost[i * n..(i + 1) * n].iter().zip(alive).enumerate() {
                if j == i || !live {
                    continue;
                }
                let k = key(slot, i, j);
                if b.1 == usize::MAX || before(c, k, b.0, bk, tied) {
                    b = (c, j);
                    bk = k;
                }
            }
            b
        };
    let mut alive = vec![true; n];
    for (i, b) in best.iter_mut().enumerate() {
        *b = refresh(i, &alive, &cost, &slot, &mut tied);
    }
    let mut merges = Vec::with_capacity(n - 1);
    let mut groups = n;
    for _ in 0..n - 1 {
        // the first pair in the order above
        let mut i = usize::MAX;
        let mut bk = (0, 0);
        let mut bc = f64::INFINITY;
        for (c, b) in best.iter().enumerate() {
            if !alive[c] || b.1 == usize::MAX {
                continue;
            }
            let k = key(&slot, c, b.1);
            if i == usize::MAX || before(b.0, k, bc, bk, &mut tied) {
                bc = b.0;
                bk = k;
                i = c;
            }
        }
        if i == usize::MAX {
            break;
        }
        let j = best[i].1;
        let (lo_slot, hi_slot) = (slot[i].min(slot[j]), slot[i].max(slot[j]));
        let (i, j) = (i.min(j), i.max(j));
        let a = clusters[i].take().expect("alive");
        let b = clusters[j].take().expect("alive");
        clusters[i] = Some(crit.merge(&a, &b, &mut scratch));
        alive[j] = false;
        merges.push((i, j));
        // slots: the union in the lower one, the last slot's cluster into the upper one
        groups -= 1;
        slot[i] = lo_slot;
        at_slot[lo_slot] = i;
        let moved = (hi_slot != groups).then(|| at_slot[groups]);
        if let Some(m) = moved {
            slot[m] = hi_slot;
            at_slot[hi_slot] = m;
        }
        let mi = clusters[i].as_ref().expect("alive").clone();
        for c in 0..n {
            if c != i && alive[c] {
                let other = clusters[c].as_ref().expect("alive");
                let v = cost_of(&mi, other, &mut scratch);
                cost[i * n + c] = v;
                cost[c * n + i] = v;
            }
        }
        best[i] = refresh(i, &alive, &cost, &slot, &mut tied);
        if let Some(m) = moved {
            if m != i {
                best[m] = refresh(m, &alive, &cost, &slot, &mut tied);
            }
        }
        for c in 0..n {
            if !alive[c] || c == i || Some(c) == moved {
                continue;
            }
            let partner = best[c].1;
            // a pair of the moved cluster changed its place in the order: only a tie with
            // the current best can be affected
            let tie_moved = moved.is_some_and(|m| cost[c * n + m] == best[c].0);
            if partner == i || partner == j || tie_moved {
                best[c] = refresh(c, &alive, &cost, &slot, &mut tied);
            } else {
                let ci = cost[i * n + c];
                if before(
                    ci,
                    key(&slot, c, i),
                    best[c].0,
                    key(&slot, c, partner),
                    &mut tied,
                ) {
                    best[c] = (ci, i);
                }
            }
        }
    }
    (merges, tied)
}

/// Labels `0..k` of the partition with `k` clusters after the merges (clusters numbered
/// by their smallest row).
pub(crate) fn cut(merges: &[(usize, usize)], n: usize, k: usize) -> Vec<usize> {
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(p: &mut [usize], mut x: usize) -> usize {
        while p[x] != x {
            p[x] = p[p[x]];
            x = p[x];
        }
        x
    }
    let steps = n.saturating_sub(k).min(merges.len());
    for &(a, b) in &merges[..steps] {
        let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
        let (lo, hi) = (ra.min(rb), ra.max(rb));
        parent[hi] = lo;
    }
    let mut label = vec![usize::MAX; n];
    let mut next = 0;
    let mut out = vec![0; n];
    for r in 0..n {
        let root = find(&mut parent, r);
        if label[root] == usize::MAX {
            label[root] = next;
            next += 1;
        }
        out[r] = label[root];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Expected: three well-separated elongated clusters are recovered exactly by the cut
    /// at three, and the merge sequence has N − 1 merges.
    #[test]
    fn recovers_separated_clusters() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let n = 150;
        let x = Array2::from_shape_fn((n, 3), |(r, j)| {
            let c = (r % 3) as f64;
            let noise = rng.random::<f64>() - 0.5;
            if j == 0 {
                c * 20.0 + noise * 4.0
            } else {
                noise * (1.0 + j as f64) + c * 5.0 * (j as f64)
            }
        });
        let (z, dz) = svd_scaled(x.view());
        assert_eq!(dz, 3);
        let (merges, _) = agglomerate(&z, n, dz, Ties::Mclust);
        assert_eq!(merges.len(), n - 1);
        let labels = cut(&merges, n, 3);
        for r in 0..n {
            assert_eq!(labels[r], labels[r % 3], "row {r}");
        }
        assert_ne!(labels[0], labels[1]);
        assert_ne!(labels[1], labels[2]);
        assert_ne!(labels[0], labels[2]);
    }

    /// Expected: the SVD-scaled data have uncorrelated columns with equal sums of squares
    /// (the singular values are all √… after scaling by 1/√s: each column's norm is √s).
    #[test]
    fn svd_scaling_decorrelates() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let x = Array2::from_shape_fn((200, 3), |(r, j)| {
            let base = (r as f64 * 0.37).sin();
            base * (j + 1) as f64 + rng.random::<f64>()
        });
        let (z, dz) = svd_scaled(x.view());
        for a in 0..dz {
            for b in 0..a {
                let s: f64 = (0..200).map(|r| z[r * dz + a] * z[r * dz + b]).sum();
                assert!(s.abs() < 1e-9, "{s}");
            }
        }
    }

    /// Whether two labelings are the same partition (equal up to renaming the labels).
    fn same_partition(a: &[usize], b: &[usize]) -> bool {
        let mut ab = std::collections::HashMap::new();
        let mut ba = std::collections::HashMap::new();
        a.iter()
            .zip(b)
            .all(|(x, y)| *ab.entry(*x).or_insert(*y) == *y && *ba.entry(*y).or_insert(*x) == *x)
    }

    /// Expected: with mclust's rule for ties, the cuts at G = 1..9 are mclust 6.0.0's
    /// `hclass(hc(x, "VVV", use = "SVD"), G)` on faithful, iris and a rounded mixture
    /// (`scripts/gen_mclust_hc.R`). Fails if the order of equal-cost merges, the slot
    /// bookkeeping or the criterion differs from mclust's: the rule of the earliest rows
    /// gives other partitions on faithful and the rounded set, so the ties do decide.
    #[test]
    fn trees_are_mclusts() {
        let path = format!(
            "{}/tests/fixtures/mclust/hc.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let fx: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let gs: Vec<usize> = serde_json::from_value(fx["G"].clone()).unwrap();
        for name in ["faithful", "iris", "rounded"] {
            let rows = fx[name]["data"].as_array().unwrap();
            let (n, d) = (rows.len(), rows[0].as_array().unwrap().len());
            let x = Array2::from_shape_fn((n, d), |(r, j)| rows[r][j].as_f64().unwrap());
            let (z, dz) = svd_scaled(x.view());
            let (merges, tied) = agglomerate(&z, n, dz, Ties::Mclust);
            let (first, _) = agglomerate(&z, n, dz, Ties::FirstRows);
            assert_eq!(merges.len(), n - 1);
            let mut differ = false;
            for (i, &g) in gs.iter().enumerate() {
                let want: Vec<usize> =
                    serde_json::from_value(fx[name]["labels"][i].clone()).unwrap();
                let got = cut(&merges, n, g);
                assert!(same_partition(&got, &want), "{name}, G = {g}");
                differ |= !same_partition(&cut(&first, n, g), &want);
            }
            if name != "iris" {
                assert!(tied, "{name}: rounded values tie");
                assert!(differ, "{name}: the order of ties should matter here");
            }
        }
    }

    /// Expected: continuous data meet no merge of equal cost, and then both rules for ties
    /// give the same tree.
    #[test]
    fn continuous_data_have_no_ties() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let x = Array2::from_shape_fn((120, 3), |_| rng.random::<f64>());
        let (z, dz) = svd_scaled(x.view());
        let (a, tied) = agglomerate(&z, 120, dz, Ties::Mclust);
        let (b, _) = agglomerate(&z, 120, dz, Ties::FirstRows);
        assert!(!tied);
        assert_eq!(a, b);
    }
}
