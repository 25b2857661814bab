//! k-means for initialisation: greedy k-means++ seeding (scikit-learn's variant, with
//! `2 + ln K` local trials) and weighted Lloyd iterations. Distances come from the
//! vectorised kernels over fixed row blocks, reduced in a fixed order, so the result
//! does not depend on the thread count.
//!
//! Every draw of a row is a cumulative-weight draw over the rows of positive weight taken
//! in a canonical order (by the rows' values, not their positions; see [`canonical_order`]),
//! so that a row of weight `m` and `m` copies of it, anywhere in the data, are the same
//! draw: a weighted fit and a fit of the repeated rows start from the same seeds.

use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2};
use rand::Rng;

use crate::float::Float;
use crate::kernels::{self, Prepared, Sink, Workspace};
use crate::par::{map_fold_blocks_with, Parallelism};

#[inline(always)]
fn weight(w: Option<ArrayView1<f64>>, i: usize) -> f64 {
    w.map_or(1.0, |w| w[i])
}

/// Squared distances of the rows `s..e` of `x` to `centers` (rows × K).
fn block_distances<T: Float>(
    prep: &Prepared,
    x: ArrayView2<T>,
    s: usize,
    e: usize,
    k: usize,
    ws: &mut Workspace,
) -> Array2<f64> {
    let mut out = Array2::zeros((e - s, k));
    kernels::run(
        prep,
        x.slice(s![s..e, ..]),
        Sink::Distances {
            out: out.view_mut(),
        },
        ws,
    );
    out
}

/// Squared distances of every row to one point.
fn distances_to<T: Float>(x: ArrayView2<T>, point: ArrayView1<f64>, par: Parallelism) -> Vec<f64> {
    let center = point.to_owned().insert_axis(ndarray::Axis(0));
    let prep = Prepared::for_centers(&center);
    let mut out = Vec::with_capacity(x.nrows());
    let _ = map_fold_blocks_with::<_, _, std::convert::Infallible>(
        x.nrows(),
        par,
        || Workspace::new(1, x.ncols()),
        |ws, s, e| {
            Ok(block_distances(&prep, x, s, e, 1, ws)
                .into_raw_vec_and_offset()
                .0)
        },
        |v| {
            out.extend(v);
            Ok(())
        },
    );
    out
}

/// Greedy k-means++: returns the row indices of `k` seeds.
pub(crate) fn kmeans_plusplus<R: Rng, T: Float>(
    x: ArrayView2<T>,
    w: Option<ArrayView1<f64>>,
    k: usize,
    rng: &mut R,
    par: Parallelism,
) -> Vec<usize> {
    let n = x.nrows();
    let n_trials = 2 + (k as f64).ln() as usize;
    let order = canonical_order(x, w);
    let m = order.len();
    let total_w: f64 = order.iter().map(|&i| weight(w, i)).sum();
    // first centre with probability ∝ weight
    let first = order[pick_cumulative(
        order.iter().map(|&i| weight(w, i)),
        rng.random::<f64>() * total_w,
        m,
    )];
    let mut centers = vec![first];
    let mut closest = distances_to(x, x.row(first).mapv(T::to_f64).view(), par);
    let mut pot: f64 = closest
        .iter()
        .enumerate()
        .map(|(i, d)| d * weight(w, i))
        .sum();
    let mut cum = vec![0.0; m];
    for _ in 1..k {
        let mut acc = 0.0;
        for (c, &i) in cum.iter_mut().zip(&order) {
            acc += closest[i] * weight(w, i);
            *c = acc;
        }
        let cands: Vec<usize> = (0..n_trials)
            .map(|_| {
                let r = rng.random::<f64>() * pot;
                order[cum.partition_point(|&c| c < r).min(m - 1)]
            })
            .collect();
        // potential of each candidate, one pass for all of them
        let cmat = Array2::from_shape_fn((n_trials, x.ncols()), |(t, j)| x[[cands[t], j]].to_f64());
        let prep = Prepared::for_centers(&cmat);
        let mut pots = vec![0.0; n_trials];
        let closest_ref = &closest;
        let _ = map_fold_blocks_with::<_, _, std::convert::Infallible>(
            n,
            par,
            || Workspace::new(n_trials, x.ncols()),
            |ws, s, e| {
                let mut p = vec![0.0; n_trials];
                kernels::run(
                    &prep,
                    x.slice(s![s..e, ..]),
                    Sink::Potentials {
                        closest: &closest_ref[s..e],
                        w: w.map(|w| w.slice_move(s![s..e])),
                        pots: &mut p,
                    },
                    ws,
                );
                Ok(p)
            },
            |p| {
                for t in 0..n_trials {
                    pots[t] += p[t];
                }
                Ok(())
            },
        );
        let best = (0..n_trials)
            .min_by(|&a, &b| pots[a].total_cmp(&pots[b]))
            .expect("n_trials ≥ 2");
        centers.push(cands[best]);
        // a second pass for the chosen candidate's distances: keeping every candidate's
        // (candidates × N values) would save it but raise peak memory past the budget
        let dbest = distances_to(x, x.row(cands[best]).mapv(T::to_f64).view(), par);
        for (c, d) in closest.iter_mut().zip(dbest) {
            *c = c.min(d);
        }
        pot = pots[best];
    }
    centers
}

/// The rows of positive weight in a canonical order that depends on their values only:
/// lexicographic by the values (so copies of a row are adjacent, and the order of the
/// input rows does not matter). A cumulative-weight draw over this order picks a row of
/// weight `m` exactly when it would pick one of its `m` copies.
///
/// A lexicographic order is unchanged when a column is shifted or scaled by a positive
/// factor, so the seeded draws, and with them the whole fit, follow a translation of the
/// data or a change of units common to all columns (scikit-learn's
/// `test_invariant_translation`; k-means distances are not those of a per-column change
/// of units), where an order by a hash of the bits would pick other rows.
pub(crate) fn canonical_order<T: Float>(
    x: ArrayView2<T>,
    w: Option<ArrayView1<f64>>,
) -> Vec<usize> {
    // the value as ordered: -0.0 and 0.0 are one value (adding 0.0 gives both the bits of
    // 0.0), and so are 0 and magnitudes below the smallest normal f32, which the kernels
    // treat as 0 to all the digits a fit keeps (subnormal entries fit like zeros)
    let key = |v: T| {
        let v = v.to_f64();
        if v.abs() < f64::from(f32::MIN_POSITIVE) {
            0.0
        } else {
            v + 0.0
        }
    };
    // The order is that of a stable lexicographic sort of the rows by `key`. It is built
    // as a sort of (first value, row index) pairs, which are all distinct (so any sort,
    // parallel included, gives one result), then a stable sort of each run of rows that
    // tie on the first value by the remaining values: the same order, without comparing
    // whole rows for most pairs.
    let d = x.ncols();
    if d == 0 {
        return (0..x.nrows()).filter(|&i| weight(w, i) > 0.0).collect();
    }
    let ordered = |v: T| {
        // `total_cmp`'s order as an unsigned integer
        let b = key(v).to_bits();
        if b >> 63 == 1 {
            !b
        } else {
            b | (1 << 63)
        }
    };
    let col0 = x.column(0);
    let mut pairs: Vec<(u64, usize)> = (0..x.nrows())
        .filter(|&i| weight(w, i) > 0.0)
        .map(|i| (ordered(col0[i]), i))
        .collect();
    if pairs.len() > 1 << 15 {
        use rayon::slice::ParallelSliceMut;
        pairs.par_sort_unstable();
    } else {
        pairs.sort_unstable();
    }
    // runs of rows that tie on the first value (few, for continuous data)
    let mut runs = Vec::new();
    if d > 1 {
        let mut s = 0;
        while s < pairs.len() {
            let mut e = s + 1;
            while e < pairs.len() && pairs[e].0 == pairs[s].0 {
                e += 1;
            }
            if e - s > 1 {
                runs.push((s, e));
            }
            s = e;
        }
    }
    // the row indices, in the pairs' own buffer (then shrunk): the peak stays at the
    // pairs, 16 bytes a row
    let mut order: Vec<usize> = pairs.into_iter().map(|p| p.1).collect();
    order.shrink_to_fit();
    for (s, e) in runs {
        // rows in input order within the run: a stable sort keeps equal rows so
        order[s..e].sort_by(|&a, &b| {
            (1..d)
                .map(|j| key(x[[a, j]]).total_cmp(&key(x[[b, j]])))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
    }
    order
}

/// `k` distinct rows drawn without replacement, each draw with probability ∝ weight among
/// the rows not yet drawn (Efraimidis–Spirakis keys `u^(1/w)` over the canonical order).
pub(crate) fn weighted_distinct_rows<R: Rng, T: Float>(
    x: ArrayView2<T>,
    w: Option<ArrayView1<f64>>,
    k: usize,
    rng: &mut R,
) -> Vec<usize> {
    let order = canonical_order(x, w);
    // ln(u)/w: the largest k keys are the sample
    let mut keys: Vec<(f64, usize)> = order
        .iter()
        .map(|&i| {
            let u: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
            (u.ln() / weight(w, i), i)
        })
        .collect();
    let k = k.min(keys.len());
    if k < keys.len() {
        keys.select_nth_unstable_by(k, |a, b| b.0.total_cmp(&a.0));
    }
    keys.truncate(k);
    keys.sort_unstable_by(|a, b| b.0.total_cmp(&a.0));
    keys.into_iter().map(|(_, i)| i).collect()
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

/// Result of k-means: centres and the label of each row.
pub(crate) struct KMeansResult {
    #[allow(dead_code)] // kept for diagnostics and a k-means front end later
    pub(crate) centers: Array2<f64>,
    pub(crate) labels: Vec<usize>,
    /// Lloyd iterations run.
    #[allow(dead_code)] // for diagnostics and tests
    pub(crate) n_iter: usize,
}

/// One assignment pass: labels, per-cluster weighted sums about `ref_point` and counts,
/// and each row's squared distance to its centre.
struct Assignment {
    labels: Vec<usize>,
    dists: Vec<f64>,
    sums: Array2<f64>,
    counts: Array1<f64>,
}

/// Labels and squared distances of a block's rows to the nearest centre.
type NearestFn<T> = fn(&Prepared, ArrayView2<T>, &mut [usize], &mut [f64], &mut Workspace);

/// The assignment kernel: one fused pass per tile (distances to every centre and the
/// argmin in registers).
fn nearest_fused<T: Float>(
    prep: &Prepared,
    x: ArrayView2<T>,
    labels: &mut [usize],
    dists: &mut [f64],
    ws: &mut Workspace,
) {
    kernels::run(prep, x, Sink::Nearest { labels, dists }, ws);
}

#[cfg(test)]
fn assign<T: Float>(
    x: ArrayView2<T>,
    w: Option<ArrayView1<f64>>,
    centers: &Array2<f64>,
    par: Parallelism,
) -> Assignment {
    assign_with(x, w, centers, par, nearest_fused::<T>)
}

fn assign_with<T: Float>(
    x: ArrayView2<T>,
    w: Option<ArrayView1<f64>>,
    centers: &Array2<f64>,
    par: Parallelism,
    nearest: NearestFn<T>,
) -> Assignment {
    let (n, d) = x.dim();
    let k = centers.nrows();
    let prep = Prepared::for_centers(centers);
    let mut out = Assignment {
        labels: Vec::with_capacity(n),
        dists: Vec::with_capacity(n),
        sums: Array2::zeros((k, d)),
        counts: Array1::zeros(k),
    };
    let _ = map_fold_blocks_with::<_, _, std::convert::Infallible>(
        n,
        par,
        || Workspace::new(k, d),
        |ws, s, e| {
            let mut labels = vec![0; e - s];
            let mut dists = vec![0.0; e - s];
            nearest(&prep, x.slice(s![s..e, ..]), &mut labels, &mut dists, ws);
            let mut sums = Array2::<f64>::zeros((k, d));
            let mut counts = Array1::<f64>::zeros(k);
            let cs = centers.as_slice().expect("standard layout");
            let ss = sums.as_slice_mut().expect("standard layout");
            let cn = counts.as_slice_mut().expect("standard layout");
            let xb = x.slice(s![s..e, ..]);
            let wb = w.map(|w| w.slice_move(s![s..e]));
            let flat = xb.as_slice().filter(|_| d > 0);
            for (r, &c) in labels.iter().enumerate() {
                let wi = wb.map_or(1.0, |w| w[r]);
                cn[c] += wi;
                let (cr, sr) = (&cs[c * d..(c + 1) * d], &mut ss[c * d..(c + 1) * d]);
                // sums about the old centre: exact for data far from the origin
                match flat {
                    Some(f) => add_centred(sr, cr, wi, &f[r * d..(r + 1) * d]),
                    None => add_centred(sr, cr, wi, xb.row(r)),
                }
            }
            Ok((labels, dists, sums, counts))
        },
        |(labels, dists, sums, counts)| {
            out.labels.extend(labels);
            out.dists.extend(dists);
            out.sums += &sums;
            out.counts += &counts;
            Ok(())
        },
    );
    out
}

/// `sums += w · (x − centre)` for one row.
#[inline(always)]
fn add_centred<'a, T: Float + 'a>(
    sums: &mut [f64],
    centre: &[f64],
    w: f64,
    row: impl IntoIterator<Item = &'a T>,
) {
    for ((acc, m), v) in sums.iter_mut().zip(centre).zip(row) {
        *acc += w * (v.to_f64() - m);
    }
}

/// Weighted Lloyd iterations from the given centres until the centre shift falls below
/// `tol` (scikit-learn's: `1e-4 ×` the mean feature variance) or labels stop changing.
/// An empty cluster is moved to the row farthest from its centre.
pub(crate) fn lloyd<T: Float>(
    x: ArrayView2<T>,
    w: Option<ArrayView1<f64>>,
    centers: Array2<f64>,
    max_iter: usize,
    par: Parallelism,
) -> KMeansResult {
    lloyd_with(x, w, centers, max_iter, par, nearest_fused::<T>)
}

fn lloyd_with<T: Float>(
    x: ArrayView2<T>,
    w: Option<ArrayView1<f64>>,
    mut centers: Array2<f64>,
    max_iter: usize,
    par: Parallelism,
    nearest: NearestFn<T>,
) -> KMeansResult {
    let k = centers.nrows();
    let tol = 1e-4 * mean_variance(x, w);
    let positive = |i: usize| weight(w, i) > 0.0;
    let mut labels: Vec<usize> = Vec::new();
    let mut n_iter = 0;
    for _ in 0..max_iter {
        n_iter += 1;
        let a = assign_with(x, w, &centers, par, nearest);
        let mut new_centers = centers.clone();
        for c in 0..k {
            if a.counts[c] > 0.0 {
                let mut row = new_centers.row_mut(c);
                row.zip_mut_with(&a.sums.row(c), |v, s| *v += s / a.counts[c]);
            }
        }
        let mut new_labels = a.labels;
        let empty: Vec<usize> = (0..k).filter(|&c| a.counts[c] <= 0.0).collect();
        if !empty.is_empty() {
            // a row of weight 0 is not in the data: it never becomes a centre
            let mut order: Vec<usize> = (0..x.nrows()).filter(|&i| positive(i)).collect();
            order.sort_by(|&i, &j| a.dists[j].total_cmp(&a.dists[i]).then(i.cmp(&j)));
            for (c, &i) in empty.iter().zip(order.iter()) {
                new_centers.row_mut(*c).assign(&x.row(i).mapv(T::to_f64));
                new_labels[i] = *c;
            }
        }
        let shift: f64 = (0..k)
            .map(|c| {
                let (a, b) = (new_centers.row(c), centers.row(c));
                a.iter()
                    .zip(b.iter())
                    .map(|(u, v)| (u - v) * (u - v))
                    .sum::<f64>()
            })
            .sum();
        let same = labels.len() == new_labels.len()
            && (0..new_labels.len()).all(|i| !positive(i) || new_labels[i] == labels[i]);
        centers = new_centers;
        labels = new_labels;
        if same || shift <= tol {
            break;
        }
    }
    // final labels consistent with the final centres
    let labels = assign_with(x, w, &centers, par, nearest).labels;
    KMeansResult {
        centers,
        labels,
        n_iter,
    }
}

/// Mean over the features of the (weighted) variance: the scale of Lloyd's tolerance.
/// Two passes over the rows in row order, every column's sums carried at once (each
/// column sees the additions of a column-by-column pass in the same order, so the value
/// is that one's bit for bit, without strided reads).
fn mean_variance<T: Float>(x: ArrayView2<T>, w: Option<ArrayView1<f64>>) -> f64 {
    let n: f64 = (0..x.nrows()).map(|i| weight(w, i)).sum();
    let d = x.ncols();
    let mut mean = vec![0.0; d];
    for (i, row) in x.rows().into_iter().enumerate() {
        let wi = weight(w, i);
        for (m, v) in mean.iter_mut().zip(row) {
            *m += wi * v.to_f64();
        }
    }
    for m in mean.iter_mut() {
        *m /= n;
    }
    let mut var = vec![0.0; d];
    for (i, row) in x.rows().into_iter().enumerate() {
        let wi = weight(w, i);
        for ((s, m), v) in var.iter_mut().zip(&mean).zip(row) {
            *s += wi * (v.to_f64() - m) * (v.to_f64() - m);
        }
    }
    let mut total = 0.0;
    for s in var {
        total += s / n;
    }
    total / d as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array1, Array2};
    use rand::{Rng, SeedableRng};

    /// The definition: a stable sort of the rows of positive weight by their keys,
    /// compared whole.
    fn reference_order(x: ArrayView2<f64>, w: Option<ArrayView1<f64>>) -> Vec<usize> {
        let key = |v: f64| {
            if v.abs() < f64::from(f32::MIN_POSITIVE) {
                0.0
            } else {
                v + 0.0
            }
        };
        let mut order: Vec<usize> = (0..x.nrows()).filter(|&i| weight(w, i) > 0.0).collect();
        order.sort_by(|&a, &b| {
            x.row(a)
                .iter()
                .zip(x.row(b).iter())
                .map(|(u, v)| key(*u).total_cmp(&key(*v)))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        order
    }

    /// The assignment as it was before the fused kernel: every distance written out
    /// (`Sink::Distances`), then the first smallest per row.
    fn nearest_two_pass<T: Float>(
        prep: &Prepared,
        x: ArrayView2<T>,
        labels: &mut [usize],
        dists: &mut [f64],
        ws: &mut Workspace,
    ) {
        let k = prep.n_components();
        let mut all = Array2::zeros((x.nrows(), k));
        kernels::run(
            prep,
            x,
            Sink::Distances {
                out: all.view_mut(),
            },
            ws,
        );
        for (r, row) in all.rows().into_iter().enumerate() {
            let (mut b, mut a) = (row[0], 0);
            for (c, &v) in row.iter().enumerate().skip(1) {
                if v < b {
                    (b, a) = (v, c);
                }
            }
            labels[r] = a;
            dists[r] = b;
        }
    }

    /// Lloyd with the fused assignment kernel gives the labels, centres and iteration
    /// count of the two-pass assignment bit for bit: clustered data, the same shifted far
    /// from the origin, weighted rows (zeros included), a tied grid (rows equidistant
    /// from several centres) and float32 input, sequential and parallel, on sizes that
    /// leave ragged tiles and blocks.
    #[test]
    fn fused_assignment_equals_the_two_pass_one() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let (n, d, k) = (5_123usize, 5usize, 6usize);
        let clustered = Array2::from_shape_fn((n, d), |(i, j)| {
            3.0 * ((i * 7 + j) % k) as f64 + rng.random::<f64>()
        });
        let shifted = clustered.mapv(|v| v + 1e7);
        let grid = Array2::from_shape_fn((n, d), |(i, j)| ((i / (j + 1)) % 4) as f64);
        let w = Array1::from_shape_fn(n, |i| [0.0, 1.0, 2.5, 0.5][i % 4]);
        let seeds: Vec<usize> = (0..k).map(|c| c * 97 + 3).collect();
        let start = |x: &Array2<f64>| Array2::from_shape_fn((k, d), |(c, j)| x[[seeds[c], j]]);
        let check = |tag: &str, fast: KMeansResult, slow: KMeansResult| {
            assert_eq!(fast.labels, slow.labels, "{tag} labels");
            assert_eq!(fast.n_iter, slow.n_iter, "{tag} iterations");
            let (a, b): (Vec<u64>, Vec<u64>) = (
                fast.centers.iter().map(|v| v.to_bits()).collect(),
                slow.centers.iter().map(|v| v.to_bits()).collect(),
            );
            assert_eq!(a, b, "{tag} centres");
            assert!(fast.n_iter >= 1);
        };
        for par in [Parallelism::Sequential, Parallelism::Rayon] {
            for (name, x) in [
                ("clustered", &clustered),
                ("shifted", &shifted),
                ("grid", &grid),
            ] {
                for weights in [None, Some(w.view())] {
                    let tag = format!("{name} weighted={} {par:?}", weights.is_some());
                    check(
                        &tag,
                        lloyd_with(x.view(), weights, start(x), 50, par, nearest_fused::<f64>),
                        lloyd_with(
                            x.view(),
                            weights,
                            start(x),
                            50,
                            par,
                            nearest_two_pass::<f64>,
                        ),
                    );
                }
            }
            let x32 = clustered.mapv(|v| v as f32);
            let c32 = start(&x32.mapv(f64::from));
            check(
                &format!("f32 {par:?}"),
                lloyd_with(x32.view(), None, c32.clone(), 50, par, nearest_fused::<f32>),
                lloyd_with(x32.view(), None, c32, 50, par, nearest_two_pass::<f32>),
            );
        }
        // a grid point equidistant from two centres goes to the first of them
        let x = Array2::from_shape_vec((3, 1), vec![0.0, 1.0, 2.0]).unwrap();
        let centers = Array2::from_shape_vec((2, 1), vec![0.0, 2.0]).unwrap();
        let a = assign(x.view(), None, &centers, Parallelism::Sequential);
        assert_eq!(a.labels, vec![0, 0, 1]);
    }

    /// The column-by-column definition [`mean_variance`] was first written as.
    fn mean_variance_by_columns<T: Float>(x: ArrayView2<T>, w: Option<ArrayView1<f64>>) -> f64 {
        let n: f64 = (0..x.nrows()).map(|i| weight(w, i)).sum();
        let d = x.ncols();
        let mut total = 0.0;
        for j in 0..d {
            let col = x.column(j);
            let m = col
                .iter()
                .enumerate()
                .map(|(i, v)| weight(w, i) * v.to_f64())
                .sum::<f64>()
                / n;
            total += col
                .iter()
                .enumerate()
                .map(|(i, v)| weight(w, i) * (v.to_f64() - m) * (v.to_f64() - m))
                .sum::<f64>()
                / n;
        }
        total / d as f64
    }
    #[test]
    fn mean_variance_equals_the_column_by_column_passes() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(4);
        let x = Array2::from_shape_fn((3001, 7), |(_, j)| 1e6 * j as f64 + rng.random::<f64>());
        let w = Array1::from_shape_fn(3001, |i| (i % 3) as f64 * 0.7);
        for weights in [None, Some(w.view())] {
            assert_eq!(
                mean_variance(x.view(), weights).to_bits(),
                mean_variance_by_columns(x.view(), weights).to_bits()
            );
            let xt = x.t().to_owned();
            assert_eq!(
                mean_variance(xt.t(), weights).to_bits(),
                mean_variance_by_columns(x.view(), weights).to_bits()
            );
        }
    }

    #[test]
    fn canonical_order_is_the_stable_lexicographic_sort() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        // few distinct values (long runs of ties on the first column and whole equal
        // rows), signed zeros, subnormals, negatives; sizes on both sides of the
        // parallel-sort threshold
        let vals = [-2.5, -0.0, 0.0, 1e-310, -1e-320, 1.0, 3.0, 1e-39];
        for &(n, d) in &[(1usize, 1usize), (7, 3), (500, 1), (2000, 4), (40_000, 2)] {
            let x = Array2::from_shape_fn((n, d), |_| vals[rng.random_range(0..vals.len())]);
            let w: Vec<f64> = (0..n)
                .map(|_| if rng.random::<f64>() < 0.1 { 0.0 } else { 1.0 })
                .collect();
            let w = ndarray::Array1::from(w);
            assert_eq!(
                canonical_order(x.view(), None),
                reference_order(x.view(), None),
                "{n} x {d}"
            );
            assert_eq!(
                canonical_order(x.view(), Some(w.view())),
                reference_order(x.view(), Some(w.view())),
                "{n} x {d}, weighted"
            );
            // continuous values: ties only by chance
            let y = Array2::from_shape_fn((n, d), |_| rng.random::<f64>() - 0.5);
            assert_eq!(
                canonical_order(y.view(), None),
                reference_order(y.view(), None)
            );
        }
    }
}

#[cfg(test)]
mod timing {
    use super::*;
    use rand::SeedableRng;

    /// Where k-means initialisation's time goes on a benchmark file (run by hand:
    /// `GAUSSMIX_KMEANS_NPY=target/bench-data/P4_X.npy cargo test --release -p gaussmix
    /// --lib kmeans::timing -- --ignored --nocapture`; `<f8` C-order `.npy` only).
    #[test]
    #[ignore]
    fn kmeans_phases() {
        let Ok(path) = std::env::var("GAUSSMIX_KMEANS_NPY") else {
            return;
        };
        let k: usize = std::env::var("GAUSSMIX_KMEANS_K")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(8);
        let bytes = std::fs::read(path).unwrap();
        let hl = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        let header = std::str::from_utf8(&bytes[10..10 + hl]).unwrap();
        let shape = &header[header.find("'shape': (").unwrap() + 10..];
        let dims: Vec<usize> = shape[..shape.find(')').unwrap()]
            .split(',')
            .filter_map(|v| v.trim().parse().ok())
            .collect();
        let data: Vec<f64> = bytes[10 + hl..]
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
            .collect();
        let x = Array2::from_shape_vec((dims[0], dims[1]), data).unwrap();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        pool.install(|| {
            let par = Parallelism::Rayon;
            let mut rng = rand::rngs::StdRng::seed_from_u64(0);
            let t = std::time::Instant::now();
            let order = canonical_order(x.view(), None);
            eprintln!("canonical_order {:.3} s", t.elapsed().as_secs_f64());
            drop(order);
            let t = std::time::Instant::now();
            let seeds = kmeans_plusplus(x.view(), None, k, &mut rng, par);
            eprintln!("k-means++ {:.3} s", t.elapsed().as_secs_f64());
            let mut centers = Array2::from_shape_fn((k, x.ncols()), |(c, j)| x[[seeds[c], j]]);
            let t = std::time::Instant::now();
            let a = assign(x.view(), None, &centers, par);
            eprintln!("one assign {:.4} s", t.elapsed().as_secs_f64());
            {
                // one thread: the assignment kernel, then the sums
                let prep = Prepared::for_centers(&centers);
                let mut ws = Workspace::new(k, x.ncols());
                let n = x.nrows();
                let (mut labels, mut dists) = (vec![0usize; n], vec![0.0; n]);
                let t = std::time::Instant::now();
                for _ in 0..3 {
                    kernels::run(
                        &prep,
                        x.view(),
                        Sink::Nearest {
                            labels: &mut labels,
                            dists: &mut dists,
                        },
                        &mut ws,
                    );
                }
                let t1 = t.elapsed().as_secs_f64() / 3.0;
                let t = std::time::Instant::now();
                let d = x.ncols();
                let mut sums = vec![0.0; k * d];
                let mut counts = vec![0.0; k];
                let cs = centers.as_slice().unwrap();
                let f = x.as_slice().unwrap();
                for (r, &c) in labels.iter().enumerate() {
                    counts[c] += 1.0;
                    add_centred(
                        &mut sums[c * d..(c + 1) * d],
                        &cs[c * d..(c + 1) * d],
                        1.0,
                        &f[r * d..(r + 1) * d],
                    );
                }
                let t2 = t.elapsed().as_secs_f64();
                eprintln!(
                    "1 thread: Nearest {t1:.4} s, sums {t2:.4} s ({})",
                    counts[0]
                );
            }
            for c in 0..k {
                if a.counts[c] > 0.0 {
                    let mut row = centers.row_mut(c);
                    row.zip_mut_with(&a.sums.row(c), |v, s| *v += s / a.counts[c]);
                }
            }
            for max_iter in [1usize, 300] {
                let t = std::time::Instant::now();
                let r = lloyd(x.view(), None, centers.clone(), max_iter, par);
                eprintln!(
                    "lloyd max_iter={max_iter} {:.3} s ({} iterations)",
                    t.elapsed().as_secs_f64(),
                    r.n_iter
                );
            }
        });
    }
}
