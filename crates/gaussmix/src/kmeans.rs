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
use std::cmp::Ordering::Less;

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

/// `closest[i] = min(closest[i], ‖x_i − point‖²)` with the distances of
/// [`distances_to`], block by block in place (no row-length buffer of distances).
fn lower_to<T: Float>(
    x: ArrayView2<T>,
    point: ArrayView1<f64>,
    closest: &mut [f64],
    par: Parallelism,
) {
    let center = point.to_owned().insert_axis(ndarray::Axis(0));
    let prep = Prepared::for_centers(&center);
    let mut items: Vec<&mut [f64]> = closest.chunks_mut(crate::par::BLOCK_ROWS).collect();
    crate::par::map_fold_blocks_mut(
        x.nrows(),
        par,
        &mut items,
        || {
            (
                Workspace::new(1, x.ncols()),
                vec![0usize; crate::par::BLOCK_ROWS],
                vec![0.0; crate::par::BLOCK_ROWS],
            )
        },
        |(ws, labels, buf), c, s, e| {
            // the fused nearest-centre pass with one centre: its distances are those of
            // `Sink::Distances` bit for bit (the kernels' tests), in one pass
            kernels::run(
                &prep,
                x.slice(s![s..e, ..]),
                Sink::Nearest {
                    labels: &mut labels[..e - s],
                    dists: &mut buf[..e - s],
                },
                ws,
            );
            for (c, &d) in c.iter_mut().zip(buf.iter()) {
                *c = c.min(d);
            }
        },
        |()| {},
    );
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
    for _ in 1..k {
        // each candidate is the first row of the canonical order whose running sum of
        // weighted distances reaches its draw (the last row if none does): one scan for
        // all the draws, in increasing order, stopping at the largest (the running sums
        // are those of a cumulative array, added in the same order)
        let draws: Vec<f64> = (0..n_trials).map(|_| rng.random::<f64>() * pot).collect();
        let mut by_size: Vec<usize> = (0..n_trials).collect();
        by_size.sort_by(|&a, &b| draws[a].total_cmp(&draws[b]));
        let mut at = vec![m - 1; n_trials];
        let (mut acc, mut q) = (0.0, 0);
        for (p, &i) in order.iter().enumerate() {
            acc += closest[i] * weight(w, i);
            while q < n_trials && acc.partial_cmp(&draws[by_size[q]]) != Some(Less) {
                at[by_size[q]] = p;
                q += 1;
            }
            if q == n_trials {
                break;
            }
        }
        let cands: Vec<usize> = at.iter().map(|&p| order[p]).collect();
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
        lower_to(
            x,
            x.row(cands[best]).mapv(T::to_f64).view(),
            &mut closest,
            par,
        );
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

/// `Σ_c ‖new_c − old_c‖²`: how far an iteration moved the centres (Lloyd's stopping
/// test; the plain and the bounded iteration share it, so they stop alike).
fn centre_shift(new: &Array2<f64>, old: &Array2<f64>) -> f64 {
    (0..new.nrows())
        .map(|c| {
            let (a, b) = (new.row(c), old.row(c));
            a.iter()
                .zip(b.iter())
                .map(|(u, v)| (u - v) * (u - v))
                .sum::<f64>()
        })
        .sum()
}

/// The rows of positive weight, farthest from their centre first (ties by row), from
/// which empty clusters are reseeded.
fn farthest_first(dists: &[f64], positive: impl Fn(usize) -> bool) -> Vec<usize> {
    let mut order: Vec<usize> = (0..dists.len()).filter(|&i| positive(i)).collect();
    order.sort_by(|&i, &j| dists[j].total_cmp(&dists[i]).then(i.cmp(&j)));
    order
}

/// Weighted Lloyd iterations from the given centres until the centre shift falls below
/// `tol` (scikit-learn's: `1e-4 ×` the mean feature variance) or labels stop changing.
/// An empty cluster is moved to the row farthest from its centre.
///
/// With `K·D` of at least [`BOUNDED_MIN_KD`], run as [`lloyd_bounded`]: Hamerly's bounds
/// skip the distances that cannot change a row's label. Either way the labels, centres and
/// iteration count are those of the plain iteration bit for bit.
pub(crate) fn lloyd<T: Float>(
    x: ArrayView2<T>,
    w: Option<ArrayView1<f64>>,
    centers: Array2<f64>,
    max_iter: usize,
    par: Parallelism,
) -> KMeansResult {
    if centers.len() >= BOUNDED_MIN_KD {
        lloyd_bounded(x, w, centers, max_iter, par)
    } else {
        lloyd_with(x, w, centers, max_iter, par, nearest_fused::<T>)
    }
}

/// The `K·D` from which the bounded iteration is the faster: below it a row's distances
/// to every centre cost less than the bookkeeping of its bounds (on the 2-core AVX-512
/// machine, Lloyd iterations from the same seeds: P4, K·D = 64, 1.6× slower; unclustered
/// uniform data, K·D = 256, 1.3× slower; P2, K·D = 256, 1.2× faster; P3, K·D = 2048,
/// 3.3× faster).
const BOUNDED_MIN_KD: usize = 512;

/// Unit roundoff of f64.
const UNIT: f64 = f64::EPSILON / 2.0;

/// Below any rounding error a distance can carry from subnormal values (flushed or not):
/// `√(D · 2⁻¹⁰²²)` is about `10⁻¹⁵³` for any practical D.
const TINY: f64 = 1e-150;

/// `‖a − b‖` rounded up (a bound on the exact Euclidean distance between the stored
/// values): the computed square root carries at most `(D + 3)/2` rounding errors, and the
/// factor allows eight times that.
fn dist_up(a: impl IntoIterator<Item = f64>, b: impl IntoIterator<Item = f64>, d: usize) -> f64 {
    let sq: f64 = a.into_iter().zip(b).map(|(u, v)| (u - v) * (u - v)).sum();
    (sq.sqrt() * (1.0 + 4.0 * (d as f64 + 2.0) * UNIT)).next_up() + TINY
}

/// `‖a − b‖` rounded down, as [`dist_up`].
fn dist_down(a: impl IntoIterator<Item = f64>, b: impl IntoIterator<Item = f64>, d: usize) -> f64 {
    let sq: f64 = a.into_iter().zip(b).map(|(u, v)| (u - v) * (u - v)).sum();
    ((sq.sqrt() * (1.0 - 4.0 * (d as f64 + 2.0) * UNIT)).next_down() - TINY).max(0.0)
}

/// The centres' geometry a bounded pass needs, every value rounded so that it bounds the
/// exact one on the safe side.
struct Geometry {
    /// Upper bounds of each centre's move since the bounds were last brought up to date.
    shift: Vec<f64>,
    /// The largest shift, its centre, and the largest among the other centres.
    max1: f64,
    arg1: usize,
    max2: f64,
    /// Lower bounds of half the distance from each centre to its nearest other centre
    /// (infinite for a single centre).
    half: Vec<f64>,
    /// An upper bound of `max_j ‖μ_j − c‖`, `c` the kernel's reference point.
    spread: f64,
    /// Relative error allowance of a kernel distance (see [`Geometry::margin`]).
    kappa: f64,
}

impl Geometry {
    fn new(before: Option<&Array2<f64>>, centers: &Array2<f64>, reference: &[f64]) -> Geometry {
        let (k, d) = centers.dim();
        let row = |m: &Array2<f64>, j: usize| m.row(j).to_vec();
        let shift: Vec<f64> = (0..k)
            .map(|j| match before {
                Some(b) => dist_up(row(b, j), row(centers, j), d),
                None => 0.0,
            })
            .collect();
        let (mut max1, mut arg1, mut max2) = (0.0f64, 0usize, 0.0f64);
        for (j, &v) in shift.iter().enumerate() {
            if v > max1 {
                (max2, max1, arg1) = (max1, v, j);
            } else if v > max2 {
                max2 = v;
            }
        }
        let mut half = vec![f64::INFINITY; k];
        for a in 0..k {
            for b in a + 1..k {
                let h = 0.5 * dist_down(row(centers, a), row(centers, b), d);
                half[a] = half[a].min(h);
                half[b] = half[b].min(h);
            }
        }
        let spread = (0..k)
            .map(|j| dist_up(row(centers, j), reference.iter().copied(), d))
            .fold(0.0, f64::max);
        Geometry {
            shift,
            max1,
            arg1,
            max2,
            half,
            spread,
            kappa: 16.0 * (d as f64 + 8.0) * UNIT,
        }
    }

    /// How far a kernel distance of a row within `u` of its centre can be from the exact
    /// one. The kernel computes `√Σ((x_i − c_i) − (μ_ji − c_i))²` with `x − c` and
    /// `μ_j − c` rounded, one rounding per difference and one per fused multiply-add
    /// (two without FMA): at most `(D + 4) u (‖x − c‖ + ‖μ_j − c‖)` to first order, with
    /// `‖x − c‖ ≤ u + spread`; `kappa` allows four times that, plus subnormals' [`TINY`].
    #[inline(always)]
    fn margin(&self, u: f64) -> f64 {
        self.kappa * (u + 2.0 * self.spread) + TINY
    }

    /// Whether the bounds prove that the kernel's nearest centre is still `a`: every
    /// other centre is farther by more than twice the margin (Hamerly's two tests).
    #[inline(always)]
    fn settled(&self, a: usize, u: f64, l: f64) -> bool {
        let m = self.margin(u);
        u + 2.0 * m < l || u + m < self.half[a]
    }
}

/// Per-row state of the bounded iteration: labels (this pass's and the previous one's),
/// an upper bound of the exact distance to the labelled centre and a lower bound of the
/// exact distance to every other.
struct BoundState {
    labels: Vec<u32>,
    prev: Vec<u32>,
    upper: Vec<f64>,
    lower: Vec<f64>,
}

/// Scratch of one bounded-pass task.
struct BoundScratch {
    ws: Workspace,
    todo: Vec<usize>,
    gathered: Vec<f64>,
    lab: Vec<usize>,
    best: Vec<f64>,
    next: Vec<f64>,
}

/// What one bounded pass gives back: the sums and counts of [`assign_with`] and how many
/// rows of positive weight changed label.
struct BoundedPass {
    sums: Array2<f64>,
    counts: Array1<f64>,
    changed: usize,
}

/// One assignment pass with bounds: the labels the kernel's nearest-centre pass would
/// give (rows whose bounds settle them keep theirs; the others get the kernel's
/// distances, computed on the rows gathered into a buffer: a row's kernel distances do not
/// depend on the other rows of its tile), then the sums and counts of [`assign_with`],
/// block by block in its order.
#[allow(clippy::too_many_arguments)]
fn bounded_pass<T: Float>(
    x: ArrayView2<T>,
    w: Option<ArrayView1<f64>>,
    centers: &Array2<f64>,
    geo: &Geometry,
    st: &mut BoundState,
    fresh: bool,
    have_prev: bool,
    want_sums: bool,
    par: Parallelism,
) -> BoundedPass {
    use crate::par::{map_fold_blocks_mut, BLOCK_ROWS};
    let (n, d) = x.dim();
    let k = centers.nrows();
    let prep = Prepared::for_centers(centers);
    let flat = x.as_slice().filter(|_| d > 0);
    let cs = centers.as_slice().expect("standard layout");
    let prev: &[u32] = &st.prev;
    let mut items: Vec<(&mut [u32], &mut [f64], &mut [f64])> = st
        .labels
        .chunks_mut(BLOCK_ROWS)
        .zip(st.upper.chunks_mut(BLOCK_ROWS))
        .zip(st.lower.chunks_mut(BLOCK_ROWS))
        .map(|((a, b), c)| (a, b, c))
        .collect();
    let mut out = BoundedPass {
        sums: Array2::zeros((k, d)),
        counts: Array1::zeros(k),
        changed: 0,
    };
    map_fold_blocks_mut(
        n,
        par,
        &mut items,
        || BoundScratch {
            ws: Workspace::new(k, d),
            todo: Vec::with_capacity(BLOCK_ROWS),
            gathered: vec![0.0; BLOCK_ROWS * d],
            lab: vec![0; BLOCK_ROWS],
            best: vec![0.0; BLOCK_ROWS],
            next: vec![0.0; BLOCK_ROWS],
        },
        |sc, (labels, upper, lower), s, e| {
            let len = e - s;
            let xb = x.slice(s![s..e, ..]);
            sc.todo.clear();
            if fresh {
                sc.todo.extend(0..len);
            } else {
                for r in 0..len {
                    let a = prev[s + r] as usize;
                    let mut u = (upper[r] + geo.shift[a]).next_up();
                    let l =
                        (lower[r] - if a == geo.arg1 { geo.max2 } else { geo.max1 }).next_down();
                    if !geo.settled(a, u, l) {
                        // tighten the upper bound with the exact-to-rounding distance
                        let ca = cs[a * d..(a + 1) * d].iter().copied();
                        u = match flat {
                            Some(f) => dist_up(
                                f[(s + r) * d..(s + r + 1) * d].iter().map(|v| v.to_f64()),
                                ca,
                                d,
                            ),
                            None => dist_up(xb.row(r).iter().map(|v| v.to_f64()), ca, d),
                        };
                        if !geo.settled(a, u, l) {
                            sc.todo.push(r);
                            continue;
                        }
                    }
                    labels[r] = a as u32;
                    upper[r] = u;
                    lower[r] = l;
                }
            }
            if !sc.todo.is_empty() {
                let g = sc.todo.len();
                let (lab, best, next) = (&mut sc.lab[..g], &mut sc.best[..g], &mut sc.next[..g]);
                let sink = Sink::Nearest2 {
                    labels: lab,
                    dists: best,
                    second: next,
                };
                if g == len {
                    kernels::run(&prep, xb, sink, &mut sc.ws);
                } else {
                    let buf = &mut sc.gathered[..g * d];
                    for (t, &r) in sc.todo.iter().enumerate() {
                        for (o, v) in buf[t * d..(t + 1) * d].iter_mut().zip(xb.row(r)) {
                            *o = v.to_f64();
                        }
                    }
                    let xg = ArrayView2::from_shape((g, d), &*buf).expect("g×d");
                    kernels::run(&prep, xg, sink, &mut sc.ws);
                }
                for (t, &r) in sc.todo.iter().enumerate() {
                    let (b, second) = (sc.best[t], sc.next[t]);
                    let ub = b.sqrt();
                    let m = geo.margin(2.0 * ub);
                    let mut lb = (second.sqrt() - m).next_down();
                    if k > 1 && second == f64::INFINITY {
                        // an overflowed square: the exact distance is still above 10¹⁵⁴
                        lb = lb.min(1e150);
                    }
                    labels[r] = sc.lab[t] as u32;
                    upper[r] = (ub + m).next_up();
                    lower[r] = lb;
                }
            }
            let mut changed = 0;
            if have_prev {
                for r in 0..len {
                    if labels[r] != prev[s + r] && weight(w, s + r) > 0.0 {
                        changed += 1;
                    }
                }
            }
            let mut sums = Array2::<f64>::zeros((k, if want_sums { d } else { 0 }));
            let mut counts = Array1::<f64>::zeros(k);
            if want_sums {
                let ss = sums.as_slice_mut().expect("standard layout");
                let cn = counts.as_slice_mut().expect("standard layout");
                let wb = w.map(|w| w.slice_move(s![s..e]));
                for (r, &c) in labels.iter().enumerate() {
                    let c = c as usize;
                    let wi = wb.map_or(1.0, |w| w[r]);
                    cn[c] += wi;
                    let (cr, sr) = (&cs[c * d..(c + 1) * d], &mut ss[c * d..(c + 1) * d]);
                    // as in `assign_with`: sums about the old centre
                    match flat {
                        Some(f) => add_centred(sr, cr, wi, &f[(s + r) * d..(s + r + 1) * d]),
                        None => add_centred(sr, cr, wi, xb.row(r)),
                    }
                }
            }
            (sums, counts, changed)
        },
        |(sums, counts, changed)| {
            if want_sums {
                out.sums += &sums;
                out.counts += &counts;
            }
            out.changed += changed;
        },
    );
    out
}

/// [`lloyd_with`] with the fused kernel, run with Hamerly's bounds (one upper bound of
/// the distance to the row's centre, one lower bound of the distance to every other
/// centre, moved by the centres' shifts each iteration): a row whose bounds show that no
/// other centre can be nearer keeps its label without a distance computed. The bounds
/// are on exact distances, and the tests keep a margin over the kernel's rounding error
/// ([`Geometry::margin`]), so a settled row's label is the one the kernel would compute;
/// the other rows get the kernel's distances. The sums, counts and fold order are the
/// plain pass's, and an iteration that leaves a cluster empty reruns the plain pass for
/// the distances the farthest-row rule needs, so labels, centres and the iteration count
/// are [`lloyd_with`]'s bit for bit.
fn lloyd_bounded<T: Float>(
    x: ArrayView2<T>,
    w: Option<ArrayView1<f64>>,
    mut centers: Array2<f64>,
    max_iter: usize,
    par: Parallelism,
) -> KMeansResult {
    let (n, _) = x.dim();
    let k = centers.nrows();
    assert!(k <= u32::MAX as usize, "k fits u32");
    let tol = 1e-4 * mean_variance(x, w);
    let positive = |i: usize| weight(w, i) > 0.0;
    let mut st = BoundState {
        labels: vec![0; n],
        prev: vec![0; n],
        upper: vec![0.0; n],
        lower: vec![0.0; n],
    };
    let (mut fresh, mut have_prev) = (true, false);
    // the centres the bounds were last brought up to date for
    let mut bounds_at: Option<Array2<f64>> = None;
    let mut n_iter = 0;
    for _ in 0..max_iter {
        n_iter += 1;
        let geo = Geometry::new(
            bounds_at.as_ref(),
            &centers,
            Prepared::for_centers(&centers).reference(),
        );
        let a = bounded_pass(x, w, &centers, &geo, &mut st, fresh, have_prev, true, par);
        fresh = false;
        let mut new_centers = centers.clone();
        for c in 0..k {
            if a.counts[c] > 0.0 {
                let mut row = new_centers.row_mut(c);
                row.zip_mut_with(&a.sums.row(c), |v, s| *v += s / a.counts[c]);
            }
        }
        let mut same = have_prev && a.changed == 0;
        let empty: Vec<usize> = (0..k).filter(|&c| a.counts[c] <= 0.0).collect();
        if !empty.is_empty() {
            // the plain pass, for every row's distance (its labels are these)
            let plain = assign_with(x, w, &centers, par, nearest_fused::<T>);
            debug_assert!(plain
                .labels
                .iter()
                .zip(&st.labels)
                .all(|(&p, &b)| p == b as usize));
            let order = farthest_first(&plain.dists, positive);
            for (c, &i) in empty.iter().zip(order.iter()) {
                new_centers.row_mut(*c).assign(&x.row(i).mapv(T::to_f64));
                st.labels[i] = *c as u32;
            }
            same = have_prev && (0..n).all(|i| !positive(i) || st.labels[i] == st.prev[i]);
            // labels set by hand: start the bounds afresh
            fresh = true;
        }
        let shift = centre_shift(&new_centers, &centers);
        bounds_at = Some(std::mem::replace(&mut centers, new_centers));
        std::mem::swap(&mut st.labels, &mut st.prev);
        have_prev = true;
        if same || shift <= tol {
            break;
        }
    }
    // final labels consistent with the final centres
    let geo = Geometry::new(
        bounds_at.as_ref(),
        &centers,
        Prepared::for_centers(&centers).reference(),
    );
    let _ = bounded_pass(x, w, &centers, &geo, &mut st, fresh, false, false, par);
    KMeansResult {
        centers,
        labels: st.labels.iter().map(|&l| l as usize).collect(),
        n_iter,
    }
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
            let order = farthest_first(&a.dists, positive);
            for (c, &i) in empty.iter().zip(order.iter()) {
                new_centers.row_mut(*c).assign(&x.row(i).mapv(T::to_f64));
                new_labels[i] = *c;
            }
        }
        let shift = centre_shift(&new_centers, &centers);
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
                    let slow = || {
                        lloyd_with(
                            x.view(),
                            weights,
                            start(x),
                            50,
                            par,
                            nearest_two_pass::<f64>,
                        )
                    };
                    check(
                        &tag,
                        lloyd_with(x.view(), weights, start(x), 50, par, nearest_fused::<f64>),
                        slow(),
                    );
                    check(
                        &format!("{tag} bounded"),
                        lloyd_bounded(x.view(), weights, start(x), 50, par),
                        slow(),
                    );
                }
            }
            let x32 = clustered.mapv(|v| v as f32);
            let c32 = start(&x32.mapv(f64::from));
            check(
                &format!("f32 {par:?}"),
                lloyd_with(x32.view(), None, c32.clone(), 50, par, nearest_fused::<f32>),
                lloyd_with(
                    x32.view(),
                    None,
                    c32.clone(),
                    50,
                    par,
                    nearest_two_pass::<f32>,
                ),
            );
            check(
                &format!("f32 {par:?} bounded"),
                lloyd_bounded(x32.view(), None, c32.clone(), 50, par),
                lloyd_with(x32.view(), None, c32, 50, par, nearest_two_pass::<f32>),
            );
        }
        // a grid point equidistant from two centres goes to the first of them
        let x = Array2::from_shape_vec((3, 1), vec![0.0, 1.0, 2.0]).unwrap();
        let centers = Array2::from_shape_vec((2, 1), vec![0.0, 2.0]).unwrap();
        let a = assign(x.view(), None, &centers, Parallelism::Sequential);
        assert_eq!(a.labels, vec![0, 0, 1]);
    }

    /// The bounded iteration (Hamerly's bounds) against the plain one with every distance
    /// computed, bit for bit, where the bounds do the most work: unclustered data that
    /// takes many iterations (most rows settled by their bounds, a few near the moving
    /// boundaries recomputed), the same far from the origin, in float32 and weighted, a
    /// run stopped early (`max_iter`), one centre, and starts that leave clusters empty
    /// (two centres on one row; centres far from all the data), which the farthest-row
    /// rule refills.
    #[test]
    fn bounded_lloyd_equals_the_plain_iteration() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(23);
        let (n, d, k) = (6_007usize, 3usize, 9usize);
        let uniform = Array2::from_shape_fn((n, d), |_| rng.random::<f64>());
        let far = uniform.mapv(|v| 3e6 + v);
        let w = Array1::from_shape_fn(n, |i| [1.0, 0.0, 3.0, 0.25, 1.5][i % 5]);
        let first =
            |x: &Array2<f64>, k: usize| Array2::from_shape_fn((k, d), |(c, j)| x[[c * 131 + 5, j]]);
        let check = |tag: &str, fast: KMeansResult, slow: KMeansResult| {
            assert_eq!(fast.labels, slow.labels, "{tag} labels");
            assert_eq!(fast.n_iter, slow.n_iter, "{tag} iterations");
            let (a, b): (Vec<u64>, Vec<u64>) = (
                fast.centers.iter().map(|v| v.to_bits()).collect(),
                slow.centers.iter().map(|v| v.to_bits()).collect(),
            );
            assert_eq!(a, b, "{tag} centres");
        };
        for par in [Parallelism::Sequential, Parallelism::Rayon] {
            for (name, x) in [("uniform", &uniform), ("far", &far)] {
                for weights in [None, Some(w.view())] {
                    for (kk, iters) in [(k, 300usize), (k, 4), (1, 300), (2, 0)] {
                        let tag = format!(
                            "{name} k={kk} max_iter={iters} weighted={} {par:?}",
                            weights.is_some()
                        );
                        let slow = lloyd_with(
                            x.view(),
                            weights,
                            first(x, kk),
                            iters,
                            par,
                            nearest_two_pass::<f64>,
                        );
                        if kk == k && iters == 300 {
                            assert!(slow.n_iter > 10, "{tag}: {} iterations", slow.n_iter);
                        }
                        check(
                            &tag,
                            lloyd_bounded(x.view(), weights, first(x, kk), iters, par),
                            slow,
                        );
                    }
                    // clusters left empty: a duplicated centre, and centres far outside
                    let mut dup = first(x, k);
                    let r0 = dup.row(0).to_owned();
                    dup.row_mut(1).assign(&r0);
                    let mut out = first(x, k);
                    out.row_mut(2).fill(1e9);
                    out.row_mut(7).fill(-1e9);
                    for (case, c0) in [("duplicate", dup), ("outside", out)] {
                        let tag = format!("{name} {case} weighted={} {par:?}", weights.is_some());
                        check(
                            &tag,
                            lloyd_bounded(x.view(), weights, c0.clone(), 300, par),
                            lloyd_with(x.view(), weights, c0, 300, par, nearest_two_pass::<f64>),
                        );
                    }
                }
            }
            let x32 = uniform.mapv(|v| v as f32);
            let c32 = first(&x32.mapv(f64::from), k);
            check(
                &format!("uniform f32 {par:?}"),
                lloyd_bounded(x32.view(), None, c32.clone(), 300, par),
                lloyd_with(x32.view(), None, c32, 300, par, nearest_two_pass::<f32>),
            );
        }
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
            let t = std::time::Instant::now();
            let mv = mean_variance(x.view(), None);
            eprintln!("mean_variance {:.4} s ({mv})", t.elapsed().as_secs_f64());
            for max_iter in [1usize, 300] {
                let t = std::time::Instant::now();
                let r = lloyd_bounded(x.view(), None, centers.clone(), max_iter, par);
                eprintln!(
                    "lloyd (bounded) max_iter={max_iter} {:.3} s ({} iterations)",
                    t.elapsed().as_secs_f64(),
                    r.n_iter
                );
                let t = std::time::Instant::now();
                let p = lloyd_with(
                    x.view(),
                    None,
                    centers.clone(),
                    max_iter,
                    par,
                    nearest_fused::<f64>,
                );
                eprintln!(
                    "lloyd (plain) max_iter={max_iter} {:.3} s ({} iterations, same labels {})",
                    t.elapsed().as_secs_f64(),
                    p.n_iter,
                    p.labels == r.labels
                );
            }
        });
    }
}
