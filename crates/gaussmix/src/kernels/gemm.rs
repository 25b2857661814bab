//! Full covariance at large D: the quadratic forms and the weighted Gram products as
//! matrix products (faer), one tile of rows at a time.
//!
//! For a tile of rows `X` (`len × D`, row-major) and each component `k`:
//!
//! * E-step: `Y = (X − c)P_k` (a dense-by-upper-triangular product: half the flops of
//!   a dense one), `q_r = ‖Y_r − (μ_k − c)P_k‖²`;
//! * M-step: `Z = diag(√γ_k)(X − μ_k)`, `S2_k += ZᵀZ` into the lower triangle only (a
//!   symmetric rank-`len` update), `s1_k += Σ_r √γ_rk Z_r`.
//!
//! Each pass over the tile besides the products is fused into one (the `O(len·D)` work
//! is not negligible next to the `O(len·D²)` products at these sizes).
//!
//! This module holds the products on slices; the tile loop that calls them (and the
//! log-sum-exp between them, the tile kernels' own) is in the parent module, on the
//! same tile of [`TILE`] rows, so the two paths differ only in the order of the sums
//! inside the quadratic forms and Gram products. Everything runs on the calling thread
//! (`Par::Seq`): the caller's fixed row blocks, reduced in a fixed order, keep a result
//! independent of the thread count, as for the tile kernels.
//!
//! Below [`GEMM_MIN_D`] the register-tiled triangular kernels are faster (and are kept
//! as they are).

use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::{Accum, MatMut, MatRef, Par};
use ndarray::ArrayView2;

use super::simd::TILE;
use crate::float::{Elems, Float};
use simd_free::row_dist_sq;

/// Number of features from which full-covariance E-steps and statistics go through the
/// matrix products of this module (measured on AVX-512 with `bench/large_d.py` and
/// `gaussmix bench-em`: see the issue 16 note).
pub(crate) const GEMM_MIN_D: usize = 96;

/// Whether a model takes the GEMM path: full covariance (`full`), `d ≥ GEMM_MIN_D`,
/// and a vector level (`vector_level`: AVX2 or AVX-512) (the portable level stays on the portable tile
/// kernels, whose results do not depend on the CPU).
pub(crate) fn wanted(full: bool, d: usize, vector_level: bool) -> bool {
    full && d >= GEMM_MIN_D && vector_level && crate::linalg::faer_enabled()
}

/// Scratch of the GEMM path (grown on first use, then reused from tile to tile).
#[derive(Default)]
pub(crate) struct GemmScratch {
    /// `X − c` of the tile (`len × D`, row-major).
    pub(crate) xc: Vec<f64>,
    /// `Y = (X − c)P_k`, then `Z = diag(√γ_k)(X − μ_k)`.
    pub(crate) y: Vec<f64>,
    /// Given responsibilities of a tile (`len × K`).
    pub(crate) given: Vec<f64>,
}

impl GemmScratch {
    /// Grows the tile buffers to `TILE × d`.
    pub(crate) fn ensure(&mut self, d: usize) {
        if self.xc.len() < TILE * d {
            self.xc = vec![0.0; TILE * d];
            self.y = vec![0.0; TILE * d];
        }
    }
}

/// `xc[r][i] = x[r0 + r][i] − c_i` for the tile's rows, widened to f64.
#[inline(always)]
pub(crate) fn load_centred<T: Float>(
    x: ArrayView2<T>,
    r0: usize,
    len: usize,
    c: &[f64],
    xc: &mut [f64],
) {
    let d = c.len();
    match x.as_slice().map(T::elems) {
        Some(Elems::F64(xs)) => {
            for (dst, src) in xc
                .chunks_exact_mut(d)
                .zip(xs[r0 * d..(r0 + len) * d].chunks_exact(d))
            {
                for ((o, v), ci) in dst.iter_mut().zip(src).zip(c) {
                    *o = v - ci;
                }
            }
        }
        Some(Elems::F32(xs)) => {
            for (dst, src) in xc
                .chunks_exact_mut(d)
                .zip(xs[r0 * d..(r0 + len) * d].chunks_exact(d))
            {
                for ((o, v), ci) in dst.iter_mut().zip(src).zip(c) {
                    *o = f64::from(*v) - ci;
                }
            }
        }
        None => {
            for (r, dst) in xc.chunks_exact_mut(d).enumerate() {
                let row = x.row(r0 + r);
                for ((o, v), ci) in dst.iter_mut().zip(row.iter()).zip(c) {
                    *o = v.to_f64() - ci;
                }
            }
        }
    }
}

/// One component's quadratic forms over the tile's `len = q.len()` rows:
/// `y = (X − c)P_k` (`P_k` upper triangular, `d × d` row-major) by faer's triangular
/// product, then `q[r] = ‖y_r − bias_k‖²`.
#[inline(always)]
pub(crate) fn quad_forms(
    xc: &[f64],
    d: usize,
    p_k: &[f64],
    bias_k: &[f64],
    y: &mut [f64],
    q: &mut [f64],
) {
    let len = q.len();
    triangular::matmul(
        MatMut::from_row_major_slice_mut(&mut y[..len * d], len, d),
        BlockStructure::Rectangular,
        Accum::Replace,
        MatRef::from_row_major_slice(&xc[..len * d], len, d),
        BlockStructure::Rectangular,
        MatRef::from_row_major_slice(p_k, d, d),
        BlockStructure::TriangularUpper,
        1.0,
        Par::Seq,
    );
    for (o, row) in q.iter_mut().zip(y[..len * d].chunks_exact(d)) {
        *o = row_dist_sq(row, bias_k);
    }
}

/// `s2_k += ZᵀZ` into the lower triangle of `s2_k` (`d × d` row-major), `Z` the tile's
/// `len × d` rows (row-major): a symmetric rank-`len` update by faer.
#[inline(always)]
pub(crate) fn gram_lower_add(z: &[f64], len: usize, d: usize, s2_k: &mut [f64]) {
    let z = MatRef::from_row_major_slice(&z[..len * d], len, d);
    triangular::matmul(
        MatMut::from_row_major_slice_mut(s2_k, d, d),
        BlockStructure::TriangularLower,
        Accum::Add,
        z.transpose(),
        BlockStructure::Rectangular,
        z,
        BlockStructure::Rectangular,
        1.0,
        Par::Seq,
    );
}

mod simd_free {
    /// `Σ_i (v_i − b_i)²` in eight fixed partial sums (vectorisable, same order every
    /// call).
    #[inline(always)]
    pub(super) fn row_dist_sq(v: &[f64], b: &[f64]) -> f64 {
        let (chunks, rest) = v.as_chunks::<8>();
        let (bc, br) = b.as_chunks::<8>();
        let mut acc = [0.0f64; 8];
        for (c, bb) in chunks.iter().zip(bc) {
            for l in 0..8 {
                let t = c[l] - bb[l];
                acc[l] += t * t;
            }
        }
        let mut tail = 0.0;
        for (x, bb) in rest.iter().zip(br) {
            tail += (x - bb) * (x - bb);
        }
        crate::kernels::simd::hsum(&acc) + tail
    }
}

#[cfg(test)]
mod tests {
    use super::super::Level;
    use crate::par::Parallelism;
    use crate::{CovarianceType, Covariances, GaussianMixture, GmmModel, SufficientStatistics};
    use ndarray::{Array1, Array2, ArrayViewMut2};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// A full model fitted for two iterations on clustered data far from the origin with
    /// correlated features (so the factors are dense triangles).
    fn model(n: usize, d: usize, k: usize, seed: u64) -> (GmmModel, Array2<f64>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let z = Array2::from_shape_fn((n, d), |_| rng.random::<f64>() - 0.5);
        let mix = Array2::from_shape_fn((d, d), |(i, j)| {
            if i == j {
                1.0
            } else {
                0.3 / (1.0 + (i + j) as f64)
            }
        });
        let x = z.dot(&mix)
            + Array2::from_shape_fn((n, d), |(i, j)| {
                2.0 * (i % k) as f64 + 0.01 * j as f64 + 50.0
            });
        let m = GaussianMixture::new(k)
            .covariance_type(CovarianceType::Full)
            .max_iter(2)
            .seed(seed)
            .fit(x.view())
            .unwrap();
        (m, x)
    }

    fn vector_level() -> Option<Level> {
        let l = Level::detect();
        (l != Level::Portable).then_some(l)
    }

    fn rel_close(a: &[f64], b: &[f64], tol: f64, what: &str) {
        let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-300);
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!((x - y).abs() <= tol * scale, "{what}[{i}]: {x} vs {y}");
        }
    }

    fn same_stats(got: &SufficientStatistics, want: &SufficientStatistics, x_max: f64, tag: &str) {
        assert!(
            (got.log_likelihood - want.log_likelihood).abs() < 1e-11 * want.log_likelihood.abs(),
            "{tag} ll {} vs {}",
            got.log_likelihood,
            want.log_likelihood
        );
        assert_eq!(got.weight_sum, want.weight_sum, "{tag}");
        assert_eq!(got.n_samples, want.n_samples, "{tag}");
        rel_close(
            got.nk.as_slice().unwrap(),
            want.nk.as_slice().unwrap(),
            1e-12,
            tag,
        );
        let floor = 1e-13 * want.nk.sum() * x_max;
        for (a, b) in got.s1.iter().zip(want.s1.iter()) {
            assert!((a - b).abs() <= floor, "{tag} s1: {a} vs {b}");
        }
        rel_close(
            got.s2.as_slice(),
            want.s2.as_slice(),
            1e-11,
            &format!("{tag} s2"),
        );
    }

    /// The GEMM path equals the plain reference kernel and the tile kernels (statistics,
    /// responsibilities, log densities), with and without weights, around the threshold
    /// and at D = 200 and 257, for row counts that are not multiples of the tile or the block.
    #[test]
    fn gemm_path_equals_the_reference_and_the_tile_kernels() {
        let Some(level) = vector_level() else {
            return; // the GEMM path runs only at a vector level
        };
        let t = super::GEMM_MIN_D;
        for &(n, d, k) in &[
            (700usize, t - 1, 3usize),
            (2301, t, 2),
            (517, t + 5, 4),
            (2100, 200, 3),
            (600, 257, 2),
        ] {
            let (m, x) = model(n, d, k, (n + d) as u64);
            let x_max = x.iter().fold(0.0f64, |a, v| a.max(v.abs()));
            let w = Array1::from_shape_fn(n, |i| (i % 5) as f64 * 0.5);
            let gemm = m.prepared_with(level).with_gemm(true);
            let tiles = m.prepared_with(level).with_gemm(false);
            assert_eq!(m.prepared_with(level).gemm, d >= t, "dispatch at d={d}");
            for weights in [None, Some(w.view())] {
                let tag = format!("n={n} d={d} k={k} weighted={}", weights.is_some());
                let want = SufficientStatistics::e_step_reference(
                    &m,
                    x.view(),
                    weights,
                    Parallelism::Sequential,
                );
                let got = SufficientStatistics::e_step_prepared(
                    &m,
                    &gemm,
                    x.view(),
                    weights,
                    Parallelism::Rayon,
                );
                same_stats(&got, &want, x_max, &format!("{tag} vs reference"));
                let tile = SufficientStatistics::e_step_prepared(
                    &m,
                    &tiles,
                    x.view(),
                    weights,
                    Parallelism::Rayon,
                );
                same_stats(&got, &tile, x_max, &format!("{tag} vs tiles"));
                // f32 input: the GEMM path widens exactly as the tile loaders do
                let x32 = x.mapv(|v| v as f32);
                let a = SufficientStatistics::e_step_prepared(
                    &m,
                    &gemm,
                    x32.view(),
                    weights,
                    Parallelism::Rayon,
                );
                let b = SufficientStatistics::e_step_prepared(
                    &m,
                    &gemm,
                    x32.mapv(f64::from).view(),
                    weights,
                    Parallelism::Rayon,
                );
                assert!(
                    a.s2.as_slice() == b.s2.as_slice() && a.log_likelihood == b.log_likelihood,
                    "{tag} f32"
                );
            }
            // per-row outputs against the reference
            let mut resp = Array2::zeros((n, k));
            let mut ln = Array1::zeros(n);
            let mut ws = super::super::Workspace::new(k, d);
            super::super::run(
                &gemm,
                x.view(),
                super::super::Sink::Rows {
                    resp: Some(resp.view_mut()),
                    ln: ln.view_mut(),
                },
                &mut ws,
            );
            let comps = crate::stats::Components::new(&m);
            let mut lp = Array2::zeros((n, k));
            comps.weighted_log_prob(x.view(), lp.view_mut());
            let mut ln_ref = vec![0.0; n];
            crate::stats::normalize_rows(lp.view_mut(), &mut ln_ref);
            rel_close(
                ln.as_slice().unwrap(),
                &ln_ref,
                1e-12,
                &format!("d={d} ln p"),
            );
            for (a, b) in resp.iter().zip(lp.iter()) {
                assert!((a - b).abs() < 1e-11, "d={d} resp {a} vs {b}");
            }
        }
    }

    /// Statistics of given responsibilities (initialisation) on the GEMM path equal the
    /// reference.
    #[test]
    fn gemm_path_given_responsibilities_equal_the_reference() {
        if vector_level().is_none() {
            return;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let (n, d, k) = (2500, 130, 3);
        let x = Array2::from_shape_fn((n, d), |(i, j)| {
            rng.random::<f64>() * (1 + j % 7) as f64 + (i % k) as f64 * 4.0 + 1e3
        });
        let w = Array1::from_shape_fn(n, |i| (i % 3) as f64);
        let shift =
            Array2::from_shape_fn((k, d), |(c, j)| 1e3 + c as f64 * 4.0 + 0.5 * (j % 7) as f64);
        let fill = |s: usize, mut g: ArrayViewMut2<f64>| {
            for (r, mut row) in g.rows_mut().into_iter().enumerate() {
                row[(s + r) % k] = 0.7;
                row[(s + r + 1) % k] = 0.3;
            }
        };
        for weights in [None, Some(w.view())] {
            let a = SufficientStatistics::from_responsibilities(
                CovarianceType::Full,
                shift.clone(),
                x.view(),
                weights,
                Parallelism::Rayon,
                &fill,
            );
            let b = SufficientStatistics::from_responsibilities_reference(
                CovarianceType::Full,
                shift.clone(),
                x.view(),
                weights,
                &fill,
            );
            assert_eq!(a.weight_sum, b.weight_sum);
            rel_close(
                a.nk.as_slice().unwrap(),
                b.nk.as_slice().unwrap(),
                1e-12,
                "nk",
            );
            for (u, v) in a.s1.iter().zip(b.s1.iter()) {
                assert!((u - v).abs() < 1e-8 * v.abs().max(1.0), "s1 {u} {v}");
            }
            rel_close(a.s2.as_slice(), b.s2.as_slice(), 1e-11, "s2");
        }
    }

    /// A whole seeded fit (k-means++ init, EM, score) at D ≥ `GEMM_MIN_D` on faer (GEMM
    /// E-step and statistics, faer's Cholesky and inverse) agrees to tight tolerance with
    /// the same fit on the plain loops and tile kernels, at odd sizes on both sides of the
    /// blocked kernels' tiles, unweighted and weighted.
    #[test]
    fn gemm_fit_equals_the_plain_fit() {
        if vector_level().is_none() {
            return;
        }
        for &(n, d, k) in &[(2600usize, super::GEMM_MIN_D, 3usize), (2300, 131, 2)] {
            let mut rng = ChaCha8Rng::seed_from_u64(d as u64);
            let x = Array2::from_shape_fn((n, d), |(i, j)| {
                rng.random::<f64>() * (1 + j % 5) as f64 + 3.0 * (i % k) as f64 + 0.05 * j as f64
            });
            let w = Array1::from_shape_fn(n, |i| 0.5 + (i % 4) as f64);
            for weights in [None, Some(w.view())] {
                let fit = || {
                    let g = GaussianMixture::new(k)
                        .covariance_type(CovarianceType::Full)
                        .max_iter(6)
                        .tol(0.0)
                        .seed(5)
                        .parallelism(Parallelism::Sequential);
                    let m = match weights {
                        Some(w) => g.fit_weighted(x.view(), w),
                        None => g.fit(x.view()),
                    }
                    .unwrap();
                    let s = m.score_samples(x.view()).unwrap();
                    (m, s)
                };
                let (a, sa) = fit();
                let (b, sb) = crate::linalg::plain_paths(fit);
                let tag = format!("n={n} d={d} k={k} weighted={}", weights.is_some());
                let (la, lb) = (a.info().lower_bound, b.info().lower_bound);
                assert!(
                    (la - lb).abs() <= 1e-11 * lb.abs(),
                    "{tag} lower bound {la} vs {lb}"
                );
                rel_close(
                    a.weights().as_slice().unwrap(),
                    b.weights().as_slice().unwrap(),
                    1e-10,
                    &format!("{tag} weights"),
                );
                rel_close(
                    a.means().as_slice().unwrap(),
                    b.means().as_slice().unwrap(),
                    1e-10,
                    &format!("{tag} means"),
                );
                let (Covariances::Full(ca), Covariances::Full(cb)) =
                    (a.covariances(), b.covariances())
                else {
                    panic!("{tag}: full covariances expected")
                };
                rel_close(
                    ca.as_slice().unwrap(),
                    cb.as_slice().unwrap(),
                    1e-9,
                    &format!("{tag} covariances"),
                );
                rel_close(
                    sa.as_slice().unwrap(),
                    sb.as_slice().unwrap(),
                    1e-11,
                    &format!("{tag} score_samples"),
                );
            }
        }
    }

    /// A seeded fit on the GEMM path (several row blocks) is bit-identical on 1, 2 and 3
    /// threads and sequentially: fixed blocks, sequential products inside a block, and
    /// the blocks' statistics summed in block order.
    #[test]
    fn gemm_fit_is_independent_of_the_thread_count() {
        if vector_level().is_none() {
            return;
        }
        let d = super::GEMM_MIN_D + 4;
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let n = 3 * crate::par::BLOCK_ROWS + 77;
        let x = Array2::from_shape_fn((n, d), |(i, j)| {
            rng.random::<f64>() + (i % 3) as f64 * 1.5 + 0.1 * (j % 5) as f64
        });
        let fit = |threads: Option<usize>| {
            let g = GaussianMixture::new(3)
                .covariance_type(CovarianceType::Full)
                .max_iter(4)
                .tol(0.0)
                .seed(7);
            let m = match threads {
                Some(t) => rayon::ThreadPoolBuilder::new()
                    .num_threads(t)
                    .build()
                    .unwrap()
                    .install(|| g.clone().fit(x.view()).unwrap()),
                None => g
                    .parallelism(Parallelism::Sequential)
                    .fit(x.view())
                    .unwrap(),
            };
            let probe = m.score_samples(x.view()).unwrap();
            (
                m.means().to_owned(),
                m.covariances().clone(),
                m.info().lower_bound,
                probe,
            )
        };
        let one = fit(Some(1));
        assert!(one.2.is_finite());
        for t in [Some(2), Some(3), None] {
            let other = fit(t);
            assert!(other.0 == one.0, "means differ on {t:?} threads");
            assert!(other.1 == one.1, "covariances differ on {t:?} threads");
            assert_eq!(
                other.2.to_bits(),
                one.2.to_bits(),
                "lower bound on {t:?} threads"
            );
            assert!(other.3 == one.3, "score_samples differ on {t:?} threads");
        }
    }
}

#[cfg(test)]
mod timing {
    use super::super::Level;
    use crate::linalg::linalg_timing::best;
    use faer::linalg::matmul::triangular::{self, BlockStructure};
    use faer::{Accum, Mat, Par};

    /// Not a test: prints the pieces' GFLOP/s on one thread (`cargo test --release -p
    /// gaussmix --lib timing -- --ignored --nocapture`).
    #[test]
    #[ignore]
    fn print_piece_timings() {
        let peak_n = 1024;
        let a = Mat::<f64>::from_fn(peak_n, peak_n, |i, j| ((i * 7 + j) % 13) as f64);
        let mut c = Mat::<f64>::zeros(peak_n, peak_n);
        let t = best(
            || {
                faer::linalg::matmul::matmul(
                    c.as_mut(),
                    Accum::Replace,
                    a.as_ref(),
                    a.as_ref(),
                    1.0,
                    Par::Seq,
                )
            },
            3,
        );
        println!(
            "dense {peak_n}^3: {:.1} GFLOP/s",
            2.0 * (peak_n as f64).powi(3) / t / 1e9
        );
        for &d in &[128usize, 256, 512] {
            for &rows in &[256usize, 1024] {
                let x = Mat::<f64>::from_fn(rows, d, |i, j| ((i + 3 * j) % 11) as f64);
                let p = Mat::<f64>::from_fn(d, d, |i, j| {
                    if i <= j {
                        1.0 / (1 + i + j) as f64
                    } else {
                        0.0
                    }
                });
                let mut y = Mat::<f64>::zeros(rows, d);
                let mut s = Mat::<f64>::zeros(d, d);
                let tri = best(
                    || {
                        triangular::matmul(
                            y.as_mut(),
                            BlockStructure::Rectangular,
                            Accum::Replace,
                            x.as_ref(),
                            BlockStructure::Rectangular,
                            p.as_ref(),
                            BlockStructure::TriangularUpper,
                            1.0,
                            Par::Seq,
                        )
                    },
                    5,
                );
                let dense = best(
                    || {
                        faer::linalg::matmul::matmul(
                            y.as_mut(),
                            Accum::Replace,
                            x.as_ref(),
                            p.as_ref(),
                            1.0,
                            Par::Seq,
                        )
                    },
                    5,
                );
                let gram = best(
                    || {
                        triangular::matmul(
                            s.as_mut(),
                            BlockStructure::TriangularLower,
                            Accum::Add,
                            x.transpose(),
                            BlockStructure::Rectangular,
                            x.as_ref(),
                            BlockStructure::Rectangular,
                            1.0,
                            Par::Seq,
                        )
                    },
                    5,
                );
                let f = (rows * d * (d + 1)) as f64;
                println!("d={d} rows={rows}: x·triu {:.1}, x·dense {:.1} (of {:.1} useful), gram lower {:.1} GFLOP/s (useful flops)",
                    f / tri / 1e9, 2.0 * (rows * d * d) as f64 / dense / 1e9, f / dense / 1e9, f / gram / 1e9);
            }
        }
        // the layouts of the GEMM path: row-major slices
        for &d in &[128usize, 256, 512] {
            let rows = 256;
            let xv: Vec<f64> = (0..rows * d).map(|t| (t % 11) as f64).collect();
            let pv: Vec<f64> = (0..d * d)
                .map(|t| {
                    if t / d <= t % d {
                        1.0 / (1 + t / d + t % d) as f64
                    } else {
                        0.0
                    }
                })
                .collect();
            let mut yv = vec![0.0; rows * d];
            let mut sv = vec![0.0; d * d];
            let x = faer::MatRef::from_row_major_slice(&xv, rows, d);
            let p = faer::MatRef::from_row_major_slice(&pv, d, d);
            let tri = best(
                || {
                    triangular::matmul(
                        faer::MatMut::from_row_major_slice_mut(&mut yv, rows, d),
                        BlockStructure::Rectangular,
                        Accum::Replace,
                        x,
                        BlockStructure::Rectangular,
                        p,
                        BlockStructure::TriangularUpper,
                        1.0,
                        Par::Seq,
                    )
                },
                5,
            );
            let gram = best(
                || {
                    triangular::matmul(
                        faer::MatMut::from_row_major_slice_mut(&mut sv, d, d),
                        BlockStructure::TriangularLower,
                        Accum::Add,
                        x.transpose(),
                        BlockStructure::Rectangular,
                        x,
                        BlockStructure::Rectangular,
                        1.0,
                        Par::Seq,
                    )
                },
                5,
            );
            let f = (rows * d * (d + 1)) as f64;
            println!(
                "row-major d={d} rows={rows}: x·triu {:.1}, gram lower {:.1} GFLOP/s",
                f / tri / 1e9,
                f / gram / 1e9
            );
        }
        // a whole E-step with statistics, one thread
        for &d in &[128usize, 256] {
            let (n, k) = (8192, 8);
            let x = ndarray::Array2::from_shape_fn((n, d), |(i, j)| {
                ((i * 31 + j * 7) % 97) as f64 / 97.0
                    + (i % k) as f64
                    + 0.01 * (j % 3) as f64 * (i % 5) as f64
            });
            let m = crate::GaussianMixture::new(k)
                .covariance_type(crate::CovarianceType::Full)
                .max_iter(1)
                .seed(1)
                .fit(x.view())
                .unwrap();
            for on in [true, false] {
                let prep = m.prepared_with(Level::detect()).with_gemm(on);
                let t = best(
                    || {
                        let _ = crate::SufficientStatistics::e_step_prepared(
                            &m,
                            &prep,
                            x.view(),
                            None,
                            crate::par::Parallelism::Sequential,
                        );
                    },
                    3,
                );
                println!(
                    "e-step d={d} n={n} k={k} gemm={on}: {:.3} s, {:.1} GFLOP/s (2NKD(D+1))",
                    t,
                    2.0 * (n * k * d * (d + 1)) as f64 / t / 1e9
                );
            }
        }
        let _ = Level::detect();
    }
}
