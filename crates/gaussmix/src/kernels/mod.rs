//! Fast block kernels for the E-step and the statistics of the M-step.
//!
//! A block of rows is transposed into a feature-major tile (`D × T`, rows along the
//! lanes) centred at a reference point `c` (the mean of the component means), so that
//! every inner loop runs over contiguous rows and LLVM emits full-width vector code:
//!
//! * full / tied: `y = (x − c)P_k − (μ_k − c)P_k`, one triangular sweep per column of
//!   `P_k` (half the flops of a dense product), then `‖y‖²`;
//! * diag / spherical: `Σ_i ((x_i − μ_ki) p_ki)²`;
//! * log-sum-exp with a vectorised `exp`, responsibilities, `ln p(x)`;
//! * second moments about `μ_k` as register-tiled weighted Gram products.
//!
//! Each kernel is compiled three times — AVX-512, AVX2+FMA and portable — and chosen
//! once at run time. The plain reference kernels in [`crate::covariance`] are kept for
//! tests, which check that these agree with them.

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
mod gemm;
mod lanes32;
pub(crate) mod simd;

use ndarray::{ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2};

use crate::float::{Elems, Float};
use simd::{exp1, fma, hsum, ln1, LANES};

use simd::GROUP;
pub(crate) use simd::TILE;
const VECS: usize = GROUP / LANES;

/// Instruction-set level chosen at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    Avx512,
    Avx2,
    Portable,
}

impl Level {
    /// The level every kernel runs at: the best the CPU has, unless `GAUSSMIX_KERNEL`
    /// pins one (read once per process; see [`crate::kernel_level`]).
    pub(crate) fn detect() -> Level {
        static LEVEL: std::sync::OnceLock<Level> = std::sync::OnceLock::new();
        *LEVEL.get_or_init(|| {
            let pinned = std::env::var("GAUSSMIX_KERNEL").ok();
            let (level, warning) = Level::choose(pinned.as_deref(), Level::best());
            if let Some(w) = warning {
                eprintln!("warning: {w}");
            }
            level
        })
    }

    /// The level a `GAUSSMIX_KERNEL` value asks for on a CPU whose best level is `best`,
    /// and a warning when the value cannot be honoured: a level above `best` falls back
    /// to `best`, an unknown value to `best`; unset, empty or `auto` is `best`.
    fn choose(pinned: Option<&str>, best: Level) -> (Level, Option<String>) {
        let Some(raw) = pinned else {
            return (best, None);
        };
        let wanted = match raw.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => return (best, None),
            "avx512" | "avx-512" => Level::Avx512,
            "avx2" => Level::Avx2,
            "portable" | "scalar" => Level::Portable,
            _ => {
                return (
                    best,
                    Some(format!(
                        "GAUSSMIX_KERNEL={raw} is not a kernel level (avx512, avx2, portable or auto); using {}",
                        best.name()
                    )),
                )
            }
        };
        if wanted.rank() > best.rank() {
            return (
                best,
                Some(format!(
                    "GAUSSMIX_KERNEL={raw}: this CPU lacks {}; using {} (results can differ in the last bits from a machine running {})",
                    wanted.name(),
                    best.name(),
                    wanted.name()
                )),
            );
        }
        (wanted, None)
    }

    /// Order of the levels: portable < AVX2 < AVX-512.
    fn rank(self) -> u8 {
        match self {
            Level::Portable => 0,
            Level::Avx2 => 1,
            Level::Avx512 => 2,
        }
    }

    /// The name `GAUSSMIX_KERNEL` and [`crate::kernel_level`] use.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Level::Avx512 => "avx512",
            Level::Avx2 => "avx2",
            Level::Portable => "portable",
        }
    }

    /// The best level this CPU runs.
    fn best() -> Level {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return Level::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return Level::Avx2;
            }
        }
        Level::Portable
    }
}

/// The shape of the precision factors the quadratic forms use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// K upper-triangular D×D factors.
    Full,
    /// One upper-triangular D×D factor shared by all components.
    Tied,
    /// K×D diagonal factors.
    Diag,
    /// K scalar factors.
    Spherical,
}

/// A model's constants laid out for the kernels, computed once per E-step.
pub(crate) struct Prepared {
    shape: Shape,
    k: usize,
    d: usize,
    /// Reference point (D).
    c: Vec<f64>,
    /// `μ_k − c` (K×D).
    m: Vec<f64>,
    /// Full: K upper factors (K×D×D); tied: one (D×D); diag: K×D; spherical: K×D too
    /// (each component's single factor repeated, expanded once here rather than per tile).
    p: Vec<f64>,
    /// Full / tied: `(μ_k − c)P_k` (K×D).
    bias: Vec<f64>,
    /// `ln π_k + ln|P_k| − ½ D ln 2π` (K).
    offset: Vec<f64>,
    /// `ln π_0 + ln(1/V)` of a uniform noise component, when the model has one: it is
    /// one more row of log-probabilities, constant over the data.
    noise: Option<f64>,
    level: Level,
    /// Full models at large D: run on the matrix products of [`gemm`].
    gemm: bool,
    /// The f32 copies of the full / tied constants, for f32 data ([`lanes32`]).
    lanes32: Option<lanes32::Lanes32>,
}

impl Prepared {
    /// Kernel constants from a model's parameters: mixture weights (K), means (K×D), the
    /// precision factors laid out as [`Prepared::p`] documents, `Σ_i ln (P_k)_ii` per
    /// component, and the noise component's constant log-density term.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        shape: Shape,
        weights: ArrayView1<f64>,
        means: ArrayView2<f64>,
        p: Vec<f64>,
        log_det: &[f64],
        noise: Option<f64>,
        level: Level,
    ) -> Prepared {
        let (k, d) = means.dim();
        let c: Vec<f64> = (0..d).map(|i| means.column(i).sum() / k as f64).collect();
        let mut m = vec![0.0; k * d];
        for kk in 0..k {
            for i in 0..d {
                m[kk * d + i] = means[[kk, i]] - c[i];
            }
        }
        let mut bias = Vec::new();
        if matches!(shape, Shape::Full | Shape::Tied) {
            bias = vec![0.0; k * d];
            for kk in 0..k {
                let pk = if shape == Shape::Full {
                    &p[kk * d * d..(kk + 1) * d * d]
                } else {
                    &p[..]
                };
                for j in 0..d {
                    let mut s = 0.0;
                    for i in 0..=j {
                        s += m[kk * d + i] * pk[i * d + j];
                    }
                    bias[kk * d + j] = s;
                }
            }
        }
        let p = if shape == Shape::Spherical {
            (0..k * d).map(|i| p[i / d]).collect()
        } else {
            p
        };
        // f32 data of full / tied models at the SIMD levels: the float32 lanes
        let isa = match level {
            Level::Avx512 => Some(lanes32::Isa::Avx512),
            Level::Avx2 => Some(lanes32::Isa::Avx2),
            Level::Portable => None,
        };
        // (not where the GEMM path runs: it widens f32 tiles to f64 itself)
        let gemm = gemm::wanted(shape == Shape::Full, d, level != Level::Portable);
        let lanes32 = isa
            .filter(|_| matches!(shape, Shape::Full | Shape::Tied) && !gemm)
            .map(|isa| lanes32::Lanes32::new(isa, d, &p, &bias));
        let half_log_2pi = 0.5 * d as f64 * (2.0 * std::f64::consts::PI).ln();
        let offset = (0..k)
            .map(|kk| weights[kk].ln() + log_det[kk] - half_log_2pi)
            .collect();
        Prepared {
            shape,
            k,
            d,
            c,
            m,
            p,
            bias,
            offset,
            noise,
            level,
            gemm,
            lanes32,
        }
    }

    /// The same constants on the tile kernels (`false`) or the GEMM path (`true`), for
    /// tests that compare the two at one size.
    #[cfg(test)]
    pub(crate) fn with_gemm(mut self, on: bool) -> Prepared {
        self.gemm = on && self.shape == Shape::Full;
        self
    }

    /// Kernel constants for accumulating statistics about `shift` (K×D) with given
    /// responsibilities (no model: only the shift matters).
    pub(crate) fn for_shift(shape: Shape, shift: &ndarray::Array2<f64>) -> Prepared {
        Self::for_centers_with(shape, shift, Level::detect())
    }

    /// Kernel constants that turn the quadratic form into the squared Euclidean distance
    /// to each of `centers` (K×D): a diag model with unit precision factors.
    pub(crate) fn for_centers(centers: &ndarray::Array2<f64>) -> Prepared {
        Self::for_centers_with(Shape::Diag, centers, Level::detect())
    }

    fn for_centers_with(shape: Shape, centers: &ndarray::Array2<f64>, level: Level) -> Prepared {
        let (k, d) = centers.dim();
        let c: Vec<f64> = (0..d).map(|i| centers.column(i).sum() / k as f64).collect();
        let m = (0..k * d)
            .map(|t| centers[[t / d, t % d]] - c[t % d])
            .collect();
        Prepared {
            shape,
            k,
            d,
            c,
            m,
            p: vec![1.0; k * d],
            bias: Vec::new(),
            offset: vec![0.0; k],
            noise: None,
            level,
            gemm: gemm::wanted(shape == Shape::Full, d, level != Level::Portable),
            lanes32: None,
        }
    }

    /// The reference point the tiles are centred at (D): distances are computed from
    /// `x − c` and `μ_k − c`, so their rounding error scales with `‖x − c‖ + ‖μ_k − c‖`.
    pub(crate) fn reference(&self) -> &[f64] {
        &self.c
    }

    /// The number of components (or centres).
    #[cfg(test)]
    pub(crate) fn n_components(&self) -> usize {
        self.k
    }

    /// Rows of log-probabilities per tile: K, plus one for a noise component.
    fn rows(&self) -> usize {
        self.k + usize::from(self.noise.is_some())
    }
}

/// Where the statistics of a pass go (the storage of the caller's sufficient statistics,
/// as plain slices): `Σγ` (K), `Σγ(x − μ_k)` (K×D), the second moments, the noise
/// component's `Σγ_0`, `Σ w ln p`, `Σ w` and the row count.
pub(crate) struct Acc<'a> {
    pub(crate) nk: &'a mut [f64],
    pub(crate) s1: &'a mut [f64],
    pub(crate) s2: Moments<'a>,
    pub(crate) noise_nk: &'a mut f64,
    pub(crate) log_likelihood: &'a mut f64,
    pub(crate) weight_sum: &'a mut f64,
    pub(crate) n_samples: &'a mut u64,
}

/// Second moments about each `μ_k`, as the covariance structure needs them.
pub(crate) enum Moments<'a> {
    /// K lower triangles of D×D scatter matrices (row-major D×D each).
    Full(&'a mut [f64]),
    /// One D×D lower triangle, summed over components.
    Tied(&'a mut [f64]),
    /// K×D diagonals.
    Diag(&'a mut [f64]),
}

/// Scratch space of one task, reused across its tiles.
pub(crate) struct Workspace {
    xt: Vec<f64>,
    lp: Vec<f64>,
    mx: Vec<f64>,
    sum: Vec<f64>,
    ln: Vec<f64>,
    wt: Vec<f64>,
    at: Vec<f64>,
    zt: Vec<f64>,
    s2t: Vec<f64>,
    /// Per-feature sums of one component over a tile (first and second moments).
    f1: Vec<f64>,
    f2: Vec<f64>,
    /// Buffers of the GEMM path (empty until it runs).
    gemm: gemm::GemmScratch,
    /// The f32 tiles of f32 data ([`lanes32`]), and whether this pass uses them.
    s32: lanes32::Scratch32,
    lanes32: bool,
}

/// `D` rounded up to the Gram kernel's tile of 4.
fn pad4(d: usize) -> usize {
    d.div_ceil(4) * 4
}

impl Workspace {
    /// Scratch for `k` components (and a noise row) in `d` dimensions.
    pub(crate) fn new(k: usize, d: usize) -> Workspace {
        let dp = pad4(d);
        Workspace {
            xt: vec![0.0; d * TILE],
            lp: vec![0.0; (k + 1) * TILE],
            mx: vec![0.0; TILE],
            sum: vec![0.0; TILE],
            ln: vec![0.0; TILE],
            wt: vec![0.0; TILE],
            at: vec![0.0; dp * TILE],
            zt: vec![0.0; dp * TILE],
            s2t: vec![0.0; dp * dp],
            f1: vec![0.0; d],
            f2: vec![0.0; d],
            gemm: gemm::GemmScratch::default(),
            s32: lanes32::Scratch32::default(),
            lanes32: false,
        }
    }
}

/// What a pass over rows produces.
pub(crate) enum Sink<'a> {
    /// Accumulate sufficient statistics (weights optional).
    Stats {
        part: Acc<'a>,
        w: Option<ArrayView1<'a, f64>>,
    },
    /// Accumulate sufficient statistics for given responsibilities: `fill(first_row, g)`
    /// writes the responsibilities of the rows `first_row..first_row + g.nrows()` of the
    /// whole data set (`offset` is the first row of this task).
    Given {
        part: Acc<'a>,
        w: Option<ArrayView1<'a, f64>>,
        fill: &'a (dyn Fn(usize, ArrayViewMut2<f64>) + Sync),
        offset: usize,
    },
    /// Squared Euclidean distances to the model's means (N×K), ignoring its covariances
    /// (the model must be a diag model with unit precision factors: see
    /// [`Prepared::for_centers`]).
    Distances { out: ArrayViewMut2<'a, f64> },
    /// The nearest of the model's means (as for [`Sink::Distances`]) for each row: its
    /// index (the first of equals) and squared distance.
    Nearest {
        labels: &'a mut [usize],
        dists: &'a mut [f64],
    },
    /// [`Sink::Nearest`], and each row's second smallest squared distance (`+∞` with one
    /// mean): the labels and distances are those of [`Sink::Nearest`] bit for bit.
    Nearest2 {
        labels: &'a mut [usize],
        dists: &'a mut [f64],
        second: &'a mut [f64],
    },
    /// k-means++ potentials of candidate centres (the model's means, as for
    /// [`Sink::Distances`]): `pots[t] += Σ_r w_r · min(‖x_r − μ_t‖², closest_r)`, in a
    /// fixed order.
    Potentials {
        closest: &'a [f64],
        w: Option<ArrayView1<'a, f64>>,
        pots: &'a mut [f64],
    },
    /// Write responsibilities (N×K, or N×(K+1) with the noise component last; may be 0
    /// rows to skip) and `ln p(x)` per row.
    Rows {
        resp: Option<ArrayViewMut2<'a, f64>>,
        ln: ArrayViewMut1<'a, f64>,
    },
}

/// Runs the E-step over the rows of `x` (one task), feeding `sink`.
pub(crate) fn run<F: Float>(prep: &Prepared, x: ArrayView2<F>, sink: Sink<'_>, ws: &mut Workspace) {
    match prep.level {
        #[cfg(target_arch = "x86_64")]
        Level::Avx512 => unsafe { run_avx512(prep, x, sink, ws) },
        #[cfg(target_arch = "x86_64")]
        Level::Avx2 => unsafe { run_avx2(prep, x, sink, ws) },
        _ => run_generic::<F, PORTABLE_FMA>(prep, x, sink, ws),
    }
}

/// Whether the portable kernels fuse their multiply-adds (`f64::mul_add`): where the
/// compilation target guarantees a hardware FMA — always on aarch64 (every ARMv8 core has
/// `fmadd`), on x86-64 only when built with `-C target-feature=+fma` (or a `target-cpu`
/// that has it). Elsewhere `mul_add` would call the C library's software `fma`, tens of
/// times slower than a multiply and an add, so the portable kernels keep them separate
/// there. A portable fit is therefore bit-identical across machines of one architecture
/// and build, but an aarch64 fit and an x86-64 `GAUSSMIX_KERNEL=portable` fit can differ
/// in the last bits (as two levels can).
pub(crate) const PORTABLE_FMA: bool = cfg!(any(target_arch = "aarch64", target_feature = "fma"));

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx512dq,fma,avx2")]
unsafe fn run_avx512<F: Float>(
    prep: &Prepared,
    x: ArrayView2<F>,
    sink: Sink<'_>,
    ws: &mut Workspace,
) {
    run_generic::<F, true>(prep, x, sink, ws)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn run_avx2<F: Float>(
    prep: &Prepared,
    x: ArrayView2<F>,
    sink: Sink<'_>,
    ws: &mut Workspace,
) {
    run_generic::<F, true>(prep, x, sink, ws)
}

/// The GEMM-path version of [`run`] for full models ([`gemm`]'s products) (`prep.gemm`): the sinks of a
/// mixture (statistics, given responsibilities, rows); the k-means sinks never reach it.
#[inline(always)]
fn run_gemm<T: Float, const F: bool>(
    prep: &Prepared,
    x: ArrayView2<T>,
    mut sink: Sink<'_>,
    ws: &mut Workspace,
) {
    let (n, d, k) = (x.nrows(), prep.d, prep.k);
    let mut gs = std::mem::take(&mut ws.gemm);
    gs.ensure(d);
    let mut r0 = 0;
    while r0 < n {
        let len = TILE.min(n - r0);
        gemm::load_centred(x, r0, len, &prep.c, &mut gs.xc[..len * d]);
        match &mut sink {
            Sink::Stats { part, w } => {
                gemm_log_probs(prep, &mut gs, len, ws);
                normalise::<F>(
                    prep,
                    ws,
                    len,
                    w.map(|w| w.slice_move(ndarray::s![r0..r0 + len])),
                );
                gemm_accumulate(prep, &mut gs, len, ws, part);
            }
            Sink::Given {
                part,
                w,
                fill,
                offset,
            } => {
                gs.given.resize(len * k, 0.0);
                gs.given.fill(0.0);
                fill(
                    *offset + r0,
                    ndarray::ArrayViewMut2::from_shape((len, k), &mut gs.given).expect("len×k"),
                );
                gemm_given_weights(prep, &gs.given, *w, r0, len, ws);
                gemm_accumulate(prep, &mut gs, len, ws, part);
                *part.log_likelihood = 0.0;
            }
            Sink::Rows { resp, ln } => {
                gemm_log_probs(prep, &mut gs, len, ws);
                normalise::<F>(prep, ws, len, None);
                for r in 0..len {
                    ln[r0 + r] = ws.ln[r];
                }
                if let Some(resp) = resp {
                    if resp.nrows() > 0 {
                        write_rows(&ws.lp, 1.0, r0, len, prep.rows(), resp.view_mut());
                    }
                }
            }
            Sink::Distances { .. }
            | Sink::Nearest { .. }
            | Sink::Nearest2 { .. }
            | Sink::Potentials { .. } => {
                unreachable!("k-means sinks run on diag constants, never on the GEMM path")
            }
        }
        r0 += len;
    }
    ws.gemm = gs;
}

/// GEMM path: `lp[k][r] = offset_k − ½ ‖(x_r − μ_k) P_k‖²` for the tile (padding rows: `offset_k`),
/// and the noise row.
#[inline(always)]
fn gemm_log_probs(prep: &Prepared, gs: &mut gemm::GemmScratch, len: usize, ws: &mut Workspace) {
    let (k, d) = (prep.k, prep.d);
    for kk in 0..k {
        // y = (x − c)P_k, then ‖y − (μ_k − c)P_k‖²
        let out = &mut ws.lp[kk * TILE..(kk + 1) * TILE];
        let off = prep.offset[kk];
        gemm::quad_forms(
            &gs.xc,
            d,
            &prep.p[kk * d * d..(kk + 1) * d * d],
            &prep.bias[kk * d..(kk + 1) * d],
            &mut gs.y,
            &mut out[..len],
        );
        for o in &mut out[..len] {
            *o = off - 0.5 * *o;
        }
        out[len..].fill(off);
    }
    if let Some(noise) = prep.noise {
        ws.lp[k * TILE..(k + 1) * TILE].fill(noise);
    }
}

/// GEMM path: given responsibilities as the tile's weighted responsibilities (`lp`), row weights
/// (`wt`) and zero log densities, as the tile kernels lay them out.
#[inline(always)]
fn gemm_given_weights(
    prep: &Prepared,
    given: &[f64],
    w: Option<ArrayView1<f64>>,
    r0: usize,
    len: usize,
    ws: &mut Workspace,
) {
    let k = prep.k;
    for r in 0..TILE {
        let wr = if r < len {
            w.map_or(1.0, |w| w[r0 + r])
        } else {
            0.0
        };
        ws.wt[r] = wr;
        ws.ln[r] = 0.0;
        for kk in 0..k {
            ws.lp[kk * TILE + r] = if r < len { wr * given[r * k + kk] } else { 0.0 };
        }
    }
}

/// GEMM path: adds the tile's statistics (about each `μ_k`) to `part`, from the weighted
/// responsibilities in `ws.lp`.
#[inline(always)]
fn gemm_accumulate(
    prep: &Prepared,
    gs: &mut gemm::GemmScratch,
    len: usize,
    ws: &mut Workspace,
    part: &mut Acc<'_>,
) {
    let (k, d) = (prep.k, prep.d);
    let mut ll = 0.0;
    let mut wsum = 0.0;
    for r in 0..len {
        if ws.wt[r] != 0.0 {
            ll += ws.wt[r] * ws.ln[r];
        }
        wsum += ws.wt[r];
    }
    *part.log_likelihood += ll;
    *part.weight_sum += wsum;
    *part.n_samples += len as u64;
    let lane_sum = |g: &[f64]| {
        let mut acc = [0.0; LANES];
        for gv in lanes(g) {
            for l in 0..LANES {
                acc[l] += gv[l];
            }
        }
        hsum(&acc)
    };
    if prep.noise.is_some() {
        *part.noise_nk += lane_sum(&ws.lp[k * TILE..(k + 1) * TILE]);
    }
    let Moments::Full(s2) = &mut part.s2 else {
        unreachable!("the GEMM path takes full models only")
    };
    for kk in 0..k {
        let g = &ws.lp[kk * TILE..(kk + 1) * TILE];
        part.nk[kk] += lane_sum(g);
        let m = &prep.m[kk * d..(kk + 1) * d];
        let z = &mut gs.y[..len * d];
        let s1 = &mut part.s1[kk * d..(kk + 1) * d];
        // z_r = √γ_r (x_r − μ_k), so Σ_r γ_r a_r a_rᵀ = zᵀz; s1 += Σ_r √γ_r z_r (rows in
        // order)
        let f1 = &mut ws.f1;
        f1.fill(0.0);
        for ((zr, xr), gr) in z
            .chunks_exact_mut(d)
            .zip(gs.xc.chunks_exact(d))
            .zip(&g[..len])
        {
            let h = gr.sqrt();
            for (((zi, xi), mi), fi) in zr.iter_mut().zip(xr).zip(m).zip(f1.iter_mut()) {
                *zi = h * (xi - mi);
                *fi += h * *zi;
            }
        }
        for (s, f) in s1.iter_mut().zip(f1.iter()) {
            *s += f;
        }
        gemm::gram_lower_add(&gs.y, len, d, &mut s2[kk * d * d..(kk + 1) * d * d]);
    }
}

#[inline(always)]
fn run_generic<T: Float, const F: bool>(
    prep: &Prepared,
    x: ArrayView2<T>,
    mut sink: Sink<'_>,
    ws: &mut Workspace,
) {
    if prep.gemm {
        return run_gemm::<T, F>(prep, x, sink, ws);
    }
    let n = x.nrows();
    let mut r0 = 0;
    let mut given = Vec::new();
    // f32 data of a full / tied model at a SIMD level: quadratic forms and Gram products
    // in f32 lanes
    ws.lanes32 =
        prep.lanes32.is_some() && std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>();
    if ws.lanes32 {
        ws.s32.ensure(prep.d, pad4(prep.d));
    }
    while r0 < n {
        let len = TILE.min(n - r0);
        load_tile(prep, x, r0, len, ws);
        if ws.lanes32 {
            let lanes = prep.lanes32.as_ref().expect("f32 constants");
            ws.s32.round_tile(lanes, &ws.xt, prep.d);
        }
        match &mut sink {
            Sink::Given {
                part,
                w,
                fill,
                offset,
            } => {
                given.resize(len * prep.k, 0.0);
                given.fill(0.0);
                fill(
                    *offset + r0,
                    ndarray::ArrayViewMut2::from_shape((len, prep.k), &mut given).expect("len×k"),
                );
                for r in 0..TILE {
                    let wr = if r < len {
                        w.map_or(1.0, |w| w[r0 + r])
                    } else {
                        0.0
                    };
                    ws.wt[r] = wr;
                    ws.ln[r] = 0.0;
                    for kk in 0..prep.k {
                        ws.lp[kk * TILE + r] = if r < len {
                            wr * given[r * prep.k + kk]
                        } else {
                            0.0
                        };
                    }
                }
                accumulate::<F>(prep, ws, len, part);
                *part.log_likelihood = 0.0;
            }
            Sink::Nearest { labels, dists } => {
                nearest_tile::<F>(
                    prep,
                    ws,
                    &mut labels[r0..r0 + len],
                    &mut dists[r0..r0 + len],
                );
            }
            Sink::Nearest2 {
                labels,
                dists,
                second,
            } => {
                nearest2_tile::<F>(
                    prep,
                    ws,
                    &mut labels[r0..r0 + len],
                    &mut dists[r0..r0 + len],
                    &mut second[r0..r0 + len],
                );
            }
            Sink::Potentials { closest, w, pots } => {
                log_probs::<F>(prep, ws);
                for (t, pot) in pots.iter_mut().enumerate() {
                    let lp = &ws.lp[t * TILE..t * TILE + len];
                    let c = &closest[r0..r0 + len];
                    let mut acc = [0.0; LANES];
                    let mut tail = 0.0;
                    match w {
                        Some(w) => {
                            for (r, (v, cr)) in lp.iter().zip(c).enumerate() {
                                let term = (-2.0 * v).min(*cr) * w[r0 + r];
                                if r < len / LANES * LANES {
                                    acc[r % LANES] += term;
                                } else {
                                    tail += term;
                                }
                            }
                        }
                        None => {
                            let (lb, lt) = lp.as_chunks::<LANES>();
                            let (cb, ct) = c.as_chunks::<LANES>();
                            for (lv, cv) in lb.iter().zip(cb) {
                                for l in 0..LANES {
                                    acc[l] += (-2.0 * lv[l]).min(cv[l]);
                                }
                            }
                            for (v, cr) in lt.iter().zip(ct) {
                                tail += (-2.0 * v).min(*cr);
                            }
                        }
                    }
                    *pot += hsum(&acc) + tail;
                }
            }
            Sink::Distances { out } => {
                log_probs::<F>(prep, ws);
                write_rows(&ws.lp, -2.0, r0, len, prep.k, out.view_mut());
            }
            Sink::Stats { part, w } => {
                log_probs::<F>(prep, ws);
                normalise::<F>(
                    prep,
                    ws,
                    len,
                    w.map(|w| w.slice_move(ndarray::s![r0..r0 + len])),
                );
                accumulate::<F>(prep, ws, len, part);
            }
            Sink::Rows { resp, ln } => {
                log_probs::<F>(prep, ws);
                normalise::<F>(prep, ws, len, None);
                for r in 0..len {
                    ln[r0 + r] = ws.ln[r];
                }
                if let Some(resp) = resp {
                    if resp.nrows() > 0 {
                        write_rows(&ws.lp, 1.0, r0, len, prep.rows(), resp.view_mut());
                    }
                }
            }
        }
        r0 += len;
    }
}

/// `out[r0 + r][k] = scale · lp[k][r]` for the tile's `len` rows (tile-major to row-major).
#[inline(always)]
fn write_rows(
    lp: &[f64],
    scale: f64,
    r0: usize,
    len: usize,
    k: usize,
    mut out: ArrayViewMut2<f64>,
) {
    if let Some(dst) = out.as_slice_mut() {
        let dst = &mut dst[r0 * k..(r0 + len) * k];
        for (r, row) in dst.chunks_exact_mut(k).enumerate() {
            for (kk, v) in row.iter_mut().enumerate() {
                *v = scale * lp[kk * TILE + r];
            }
        }
    } else {
        for r in 0..len {
            for kk in 0..k {
                out[[r0 + r, kk]] = scale * lp[kk * TILE + r];
            }
        }
    }
}

/// `xt[i][r] = x[r0 + r][i] − c_i`, zero-padded past `len`.
#[inline(always)]
fn load_tile<T: Float>(
    prep: &Prepared,
    x: ArrayView2<T>,
    r0: usize,
    len: usize,
    ws: &mut Workspace,
) {
    let d = prep.d;
    let c = &prep.c[..d];
    let xt = &mut ws.xt;
    match x.as_slice().map(T::elems) {
        Some(Elems::F64(xs)) => {
            #[cfg(target_arch = "x86_64")]
            match prep.level {
                // SAFETY: the level was detected at run time; sizes as documented.
                Level::Avx512 => unsafe { avx512::load_tile_rows(xs, d, r0, len, c, xt) },
                // SAFETY: as above.
                Level::Avx2 => unsafe { avx2::load_tile_rows(xs, d, r0, len, c, xt) },
                Level::Portable => load_rows(xs, d, r0, len, c, xt),
            }
            #[cfg(not(target_arch = "x86_64"))]
            load_rows(xs, d, r0, len, c, xt);
        }
        Some(Elems::F32(xs)) => {
            #[cfg(target_arch = "x86_64")]
            if prep.level != Level::Portable {
                // SAFETY: AVX2 (implied by AVX-512) was detected at run time.
                unsafe { avx2::load_tile_rows_f32(xs, d, r0, len, c, xt) };
            } else {
                load_rows(xs, d, r0, len, c, xt);
            }
            #[cfg(not(target_arch = "x86_64"))]
            load_rows(xs, d, r0, len, c, xt);
        }
        None => {
            for i in 0..d {
                let col = x.column(i);
                for r in 0..len {
                    xt[i * TILE + r] = col[r0 + r].to_f64() - c[i];
                }
            }
        }
    }
    for i in 0..d {
        ws.xt[i * TILE + len..(i + 1) * TILE].fill(0.0);
    }
}

/// Portable transposition of `len` contiguous rows into the tile.
#[inline(always)]
fn load_rows<T: Float>(xs: &[T], d: usize, r0: usize, len: usize, c: &[f64], xt: &mut [f64]) {
    for (r, row) in xs[r0 * d..(r0 + len) * d].chunks_exact(d).enumerate() {
        for (i, (v, ci)) in row.iter().zip(c).enumerate() {
            xt[i * TILE + r] = v.to_f64() - ci;
        }
    }
}

/// `lp[k][r] = offset_k − ½ q_k(r)` for the whole (padded) tile.
#[inline(always)]
fn log_probs<const F: bool>(prep: &Prepared, ws: &mut Workspace) {
    let (k, d) = (prep.k, prep.d);
    for kk in 0..k {
        let out = &mut ws.lp[kk * TILE..(kk + 1) * TILE];
        match prep.shape {
            Shape::Full | Shape::Tied if ws.lanes32 => {
                let lanes = prep.lanes32.as_ref().expect("f32 constants");
                let tied = prep.shape == Shape::Tied;
                lanes32::quad_component(lanes, &ws.s32, kk, d, tied, out);
            }
            Shape::Full | Shape::Tied => {
                let p = if prep.shape == Shape::Full {
                    &prep.p[kk * d * d..(kk + 1) * d * d]
                } else {
                    &prep.p[..]
                };
                let bias = &prep.bias[kk * d..(kk + 1) * d];
                for g0 in (0..TILE).step_by(GROUP) {
                    #[cfg(target_arch = "x86_64")]
                    if prep.level == Level::Avx512 {
                        // SAFETY: the level was detected at run time; sizes as documented.
                        unsafe {
                            avx512::quad_triangular(
                                &ws.xt,
                                g0,
                                p,
                                bias,
                                d,
                                &mut out[g0..g0 + GROUP],
                            )
                        };
                        continue;
                    }
                    #[cfg(target_arch = "x86_64")]
                    if prep.level == Level::Avx2 {
                        // SAFETY: the level was detected at run time; sizes as documented.
                        unsafe {
                            avx2::quad_triangular(&ws.xt, g0, p, bias, d, &mut out[g0..g0 + GROUP])
                        };
                        continue;
                    }
                    quad_triangular::<F>(&ws.xt, g0, p, bias, d, &mut out[g0..g0 + GROUP]);
                }
            }
            Shape::Diag | Shape::Spherical => {
                let m = &prep.m[kk * d..(kk + 1) * d];
                let p = &prep.p[kk * d..(kk + 1) * d];
                quad_diag::<F>(&ws.xt, m, p, d, out);
            }
        }
        let off = prep.offset[kk];
        for v in out.iter_mut() {
            *v = fma::<F>(-0.5, *v, off);
        }
    }
    if let Some(noise) = prep.noise {
        ws.lp[k * TILE..(k + 1) * TILE].fill(noise);
    }
}

/// The nearest of the model's means for each of the tile's rows: its index (the first of
/// equals) and squared distance. At AVX-512, one fused pass ([`avx512::nearest`]): the
/// distances to every mean accumulated in registers 32 rows at a time and compared at
/// once, nothing stored per component. Elsewhere the two passes (all of
/// [`log_probs`], then the argmin): a portable fused loop compiled to scalar code under
/// AVX2 (k-means init on P4 1.27 -> 1.53 s). Both compare `lp = fma(−½, q, 0)` with
/// [`quad_diag`]'s arithmetic, so labels and distances agree bit for bit.
#[inline(always)]
fn nearest_tile<const F: bool>(
    prep: &Prepared,
    ws: &mut Workspace,
    labels: &mut [usize],
    dists: &mut [f64],
) {
    let len = labels.len();
    #[cfg(target_arch = "x86_64")]
    if prep.level == Level::Avx512 {
        // SAFETY: the level was detected at run time; sizes as documented.
        unsafe { avx512::nearest(&ws.xt, &prep.m, &prep.p, prep.k, prep.d, labels, dists) };
        return;
    }
    log_probs::<F>(prep, ws);
    // lp = −½ d²: the nearest mean has the largest lp; strict > keeps the first of equals
    let (best, arg) = (&mut ws.mx, &mut ws.sum);
    best.copy_from_slice(&ws.lp[..TILE]);
    arg.fill(0.0);
    for kk in 1..prep.k {
        let lp = &ws.lp[kk * TILE..(kk + 1) * TILE];
        let kf = kk as f64;
        for ((b, a), v) in best.iter_mut().zip(arg.iter_mut()).zip(lp) {
            let gt = *v > *b;
            *b = if gt { *v } else { *b };
            *a = if gt { kf } else { *a };
        }
    }
    for r in 0..len {
        labels[r] = arg[r] as usize;
        dists[r] = -2.0 * best[r];
    }
}

/// [`nearest_tile`] with the second smallest distance: at AVX-512 one fused pass
/// ([`avx512::nearest2`]), elsewhere [`log_probs`] and a scan; both compare
/// `fma(−½, q, 0)` as [`nearest_tile`] does, so labels and distances are its own.
#[inline(always)]
fn nearest2_tile<const F: bool>(
    prep: &Prepared,
    ws: &mut Workspace,
    labels: &mut [usize],
    dists: &mut [f64],
    second: &mut [f64],
) {
    let len = labels.len();
    #[cfg(target_arch = "x86_64")]
    if prep.level == Level::Avx512 {
        // SAFETY: the level was detected at run time; sizes as documented.
        unsafe {
            avx512::nearest2(
                &ws.xt, &prep.m, &prep.p, prep.k, prep.d, labels, dists, second,
            )
        };
        return;
    }
    log_probs::<F>(prep, ws);
    for r in 0..len {
        let (mut b, mut a, mut s) = (ws.lp[r], 0, f64::NEG_INFINITY);
        for kk in 1..prep.k {
            let v = ws.lp[kk * TILE + r];
            if v > b {
                (s, b, a) = (b, v, kk);
            } else {
                s = s.max(v);
            }
        }
        labels[r] = a;
        dists[r] = -2.0 * b;
        second[r] = -2.0 * s;
    }
}

/// `out[r] = ‖(x_r − c)P − bias‖²` for `GROUP` rows starting at `g0`, `P` upper triangular
/// (row-major), one column of `P` at a time.
#[inline(always)]
fn quad_triangular<const F: bool>(
    xt: &[f64],
    g0: usize,
    p: &[f64],
    bias: &[f64],
    d: usize,
    out: &mut [f64],
) {
    let mut q = [[0.0f64; LANES]; VECS];
    for j in 0..d {
        let mut acc = [[-bias[j]; LANES]; VECS];
        for i in 0..=j {
            let pij = p[i * d + j];
            let row = &xt[i * TILE + g0..i * TILE + g0 + GROUP];
            for v in 0..VECS {
                for l in 0..LANES {
                    acc[v][l] = fma::<F>(pij, row[v * LANES + l], acc[v][l]);
                }
            }
        }
        for v in 0..VECS {
            for l in 0..LANES {
                q[v][l] = fma::<F>(acc[v][l], acc[v][l], q[v][l]);
            }
        }
    }
    for v in 0..VECS {
        out[v * LANES..(v + 1) * LANES].copy_from_slice(&q[v]);
    }
}

/// `out[r] = Σ_i ((x_ri − m_i) p_i)²` over the whole tile, four lane groups at a time:
/// four independent accumulator chains (one chain through `D` dependent FMAs was
/// latency-bound), each lane summing over features in the same order as before, so the
/// values are unchanged bit for bit.
#[inline(always)]
fn quad_diag<const F: bool>(xt: &[f64], m: &[f64], p: &[f64], d: usize, out: &mut [f64]) {
    const U: usize = 4;
    let (m, p) = (&m[..d], &p[..d]);
    let (blocks, rest) = out.as_chunks_mut::<{ U * LANES }>();
    debug_assert!(rest.is_empty());
    for (b, o) in blocks.iter_mut().enumerate() {
        let mut acc = [[0.0; LANES]; U];
        for (i, (&mi, &pi)) in m.iter().zip(p).enumerate() {
            let xv: &[f64; U * LANES] = xt[i * TILE + b * U * LANES..][..U * LANES]
                .try_into()
                .expect("lane groups");
            for u in 0..U {
                for l in 0..LANES {
                    let y = (xv[u * LANES + l] - mi) * pi;
                    acc[u][l] = fma::<F>(y, y, acc[u][l]);
                }
            }
        }
        for u in 0..U {
            o[u * LANES..(u + 1) * LANES].copy_from_slice(&acc[u]);
        }
    }
}

/// Log-sum-exp over components: `lp` becomes the responsibilities (times the row
/// weight), `ln` the log density; padded rows get weight 0.
#[inline(always)]
fn normalise<const F: bool>(
    prep: &Prepared,
    ws: &mut Workspace,
    len: usize,
    w: Option<ArrayView1<f64>>,
) {
    row_max(prep, ws);
    exp_sums::<F>(prep, ws);
    finish_rows::<F>(prep, ws, len, w);
}

/// `mx[r] = max_k lp[k][r]`.
#[inline(always)]
fn row_max(prep: &Prepared, ws: &mut Workspace) {
    let k = prep.rows();
    ws.mx.fill(f64::NEG_INFINITY);
    for kk in 0..k {
        for (m, v) in ws.mx.iter_mut().zip(&ws.lp[kk * TILE..(kk + 1) * TILE]) {
            *m = m.max(*v);
        }
    }
}

/// `lp[k][r] ← exp(lp[k][r] − mx[r])`, `sum[r] = Σ_k lp[k][r]`.
#[inline(always)]
fn exp_sums<const F: bool>(prep: &Prepared, ws: &mut Workspace) {
    let k = prep.rows();
    ws.sum.fill(0.0);
    for kk in 0..k {
        let lp = &mut ws.lp[kk * TILE..(kk + 1) * TILE];
        // a flat loop over rows: LLVM vectorises it with contiguous loads
        for ((c, m), s) in lp.iter_mut().zip(&ws.mx).zip(ws.sum.iter_mut()) {
            let e = exp1::<F>(*c - *m);
            *c = e;
            *s += e;
        }
    }
}

/// `ln[r]`, responsibilities times the row weight in `lp`, row weights in `wt`.
#[inline(always)]
fn finish_rows<const F: bool>(
    prep: &Prepared,
    ws: &mut Workspace,
    len: usize,
    w: Option<ArrayView1<f64>>,
) {
    let k = prep.rows();
    // row weights (0 on padding), contiguous when the caller's are
    let wc = w.as_ref().and_then(|w| w.as_slice());
    for (r, wt) in ws.wt.iter_mut().enumerate() {
        *wt = if r >= len {
            0.0
        } else if let Some(wc) = wc {
            wc[r]
        } else {
            w.as_ref().map_or(1.0, |w| w[r])
        };
    }
    // ln p = max + ln Σ exp(· − max) and weight over sum (so responsibilities come out
    // weighted), a lane group at a time with a vector ln; rows whose max is −∞ (no
    // component can explain them) and padding are fixed below
    let mut unexplained = false;
    for ((lnv, fv), (mv, (sv, wv))) in ws
        .ln
        .iter_mut()
        .zip(&mut ws.at[..TILE])
        .zip(ws.mx.iter().zip(ws.sum.iter().zip(&ws.wt)))
    {
        unexplained |= *mv == f64::NEG_INFINITY;
        *lnv = *mv + ln1::<F>(*sv);
        *fv = *wv / *sv;
    }

    for kk in 0..k {
        for (c, f) in ws.lp[kk * TILE..(kk + 1) * TILE]
            .iter_mut()
            .zip(&ws.at[..TILE])
        {
            *c *= f;
        }
    }
    if len < TILE || unexplained {
        // rows no component can explain (only with infinite quadratic forms): spread
        // evenly; padding rows contribute nothing
        for r in 0..TILE {
            if r >= len {
                ws.ln[r] = 0.0;
                for kk in 0..k {
                    ws.lp[kk * TILE + r] = 0.0;
                }
            } else if ws.mx[r] == f64::NEG_INFINITY {
                ws.ln[r] = f64::NEG_INFINITY;
                for kk in 0..k {
                    ws.lp[kk * TILE + r] = ws.wt[r] / k as f64;
                }
            }
        }
    }
}

/// Adds the tile's statistics (about each `μ_k`) to `part`.
#[inline(always)]
fn accumulate<const F: bool>(prep: &Prepared, ws: &mut Workspace, len: usize, part: &mut Acc<'_>) {
    let (k, d) = (prep.k, prep.d);
    let dp = pad4(d);
    // lane-wise sums (padding has weight 0; a zero weight never multiplies an infinite ln)
    let (mut ll, mut wsum) = ([0.0; LANES], [0.0; LANES]);
    for (wv, lv) in lanes(&ws.wt).iter().zip(lanes(&ws.ln)) {
        for l in 0..LANES {
            ll[l] += if wv[l] != 0.0 { wv[l] * lv[l] } else { 0.0 };
            wsum[l] += wv[l];
        }
    }
    let _ = len;
    *part.log_likelihood += hsum(&ll);
    *part.weight_sum += hsum(&wsum);
    *part.n_samples += len as u64;
    if prep.noise.is_some() {
        let g = &ws.lp[k * TILE..(k + 1) * TILE];
        let mut acc = [0.0; LANES];
        for gv in lanes(g) {
            for l in 0..LANES {
                acc[l] += gv[l];
            }
        }
        *part.noise_nk += hsum(&acc);
    }
    for kk in 0..k {
        let g = &ws.lp[kk * TILE..(kk + 1) * TILE];
        let mut acc = [0.0; LANES];
        for gv in lanes(g) {
            for l in 0..LANES {
                acc[l] += gv[l];
            }
        }
        part.nk[kk] += hsum(&acc);
        let m = &prep.m[kk * d..(kk + 1) * d];
        match &mut part.s2 {
            Moments::Full(_) | Moments::Tied(_) if ws.lanes32 => {
                let s1 = &mut ws.f1;
                let lanes = prep.lanes32.as_ref().expect("f32 constants");
                lanes32::moments_component(lanes, &mut ws.s32, g, m, d, dp, s1, &mut ws.s2t);
                for i in 0..d {
                    part.s1[kk * d + i] += s1[i];
                }
                let dst: &mut [f64] = match &mut part.s2 {
                    Moments::Full(a) => &mut a[kk * d * d..(kk + 1) * d * d],
                    Moments::Tied(a) => a,
                    Moments::Diag(_) => unreachable!(),
                };
                for i in 0..d {
                    for j in 0..=i {
                        dst[i * d + j] += ws.s2t[i * dp + j];
                    }
                }
            }
            Moments::Full(_) | Moments::Tied(_) => {
                // at = x − μ_k, zt = g·at (rows past d stay zero)
                let s1 = &mut ws.f1;
                s1.fill(0.0);
                centre_weight::<F>(prep.level, &ws.xt, g, m, d, &mut ws.at, &mut ws.zt, s1);
                for i in 0..d {
                    part.s1[kk * d + i] += s1[i];
                }
                for i in d..dp {
                    ws.at[i * TILE..(i + 1) * TILE].fill(0.0);
                    ws.zt[i * TILE..(i + 1) * TILE].fill(0.0);
                }
                #[cfg(target_arch = "x86_64")]
                let done = if prep.level == Level::Avx512 {
                    // SAFETY: the level was detected at run time; sizes as documented.
                    unsafe { avx512::gram_lower(&ws.zt, &ws.at, dp, &mut ws.s2t) };
                    true
                } else if prep.level == Level::Avx2 {
                    // SAFETY: as above.
                    unsafe { avx2::gram_lower(&ws.zt, &ws.at, dp, &mut ws.s2t) };
                    true
                } else {
                    false
                };
                #[cfg(not(target_arch = "x86_64"))]
                let done = false;
                if !done {
                    gram_lower::<F>(&ws.zt, &ws.at, dp, &mut ws.s2t);
                }
                let dst: &mut [f64] = match &mut part.s2 {
                    Moments::Full(a) => &mut a[kk * d * d..(kk + 1) * d * d],
                    Moments::Tied(a) => a,
                    Moments::Diag(_) => unreachable!(),
                };
                for i in 0..d {
                    for j in 0..=i {
                        dst[i * d + j] += ws.s2t[i * dp + j];
                    }
                }
            }
            Moments::Diag(s2) => {
                let (t1, t2) = (&mut ws.f1, &mut ws.f2);
                t1.fill(0.0);
                t2.fill(0.0);
                diag_moments::<F>(prep.level, &ws.xt, g, m, d, t1, t2);
                for i in 0..d {
                    part.s1[kk * d + i] += t1[i];
                    s2[kk * d + i] += t2[i];
                }
            }
        }
    }
}

/// `at = xt − m`, `zt = g·at` per feature row, with `s1[i] = Σ_r zt[i][r]`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn centre_weight<const F: bool>(
    level: Level,
    xt: &[f64],
    g: &[f64],
    m: &[f64],
    d: usize,
    at: &mut [f64],
    zt: &mut [f64],
    s1: &mut [f64],
) {
    #[cfg(target_arch = "x86_64")]
    if level == Level::Avx512 {
        // SAFETY: the level was detected at run time; sizes as documented.
        unsafe { avx512::centre_weight(xt, g, m, d, at, zt, s1) };
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if level == Level::Avx2 {
        // SAFETY: as above.
        unsafe { avx2::centre_weight(xt, g, m, d, at, zt, s1) };
        return;
    }
    let _ = level;
    for i in 0..d {
        let mi = m[i];
        let xi = lanes(&xt[i * TILE..(i + 1) * TILE]);
        let gk = lanes(g);
        let a = lanes_mut(&mut at[i * TILE..(i + 1) * TILE]);
        let mut acc = [0.0; LANES];
        for (av, xv) in a.iter_mut().zip(xi.iter()) {
            let mut t = [0.0; LANES];
            for l in 0..LANES {
                t[l] = xv[l] - mi;
            }
            *av = t;
        }
        let a = lanes(&at[i * TILE..(i + 1) * TILE]);
        let z = lanes_mut(&mut zt[i * TILE..(i + 1) * TILE]);
        for (zv, (av, gv)) in z.iter_mut().zip(a.iter().zip(gk)) {
            let mut t = [0.0; LANES];
            for l in 0..LANES {
                t[l] = gv[l] * av[l];
                acc[l] += t[l];
            }
            *zv = t;
        }
        s1[i] = hsum(&acc);
    }
}

/// `s1[i] = Σ_r g_r (x_ri − m_i)`, `s2[i] = Σ_r g_r (x_ri − m_i)²`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn diag_moments<const F: bool>(
    level: Level,
    xt: &[f64],
    g: &[f64],
    m: &[f64],
    d: usize,
    s1: &mut [f64],
    s2: &mut [f64],
) {
    #[cfg(target_arch = "x86_64")]
    if level == Level::Avx512 {
        // SAFETY: the level was detected at run time; sizes as documented.
        unsafe { avx512::diag_moments(xt, g, m, d, s1, s2) };
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if level == Level::Avx2 {
        // SAFETY: as above.
        unsafe { avx2::diag_moments(xt, g, m, d, s1, s2) };
        return;
    }
    let _ = level;
    for i in 0..d {
        let mi = m[i];
        let xi = lanes(&xt[i * TILE..(i + 1) * TILE]);
        let mut a1 = [0.0; LANES];
        let mut a2 = [0.0; LANES];
        for (xv, gv) in xi.iter().zip(lanes(g)) {
            for l in 0..LANES {
                let a = xv[l] - mi;
                let z = gv[l] * a;
                a1[l] += z;
                a2[l] = fma::<F>(z, a, a2[l]);
            }
        }
        s1[i] = hsum(&a1);
        s2[i] = hsum(&a2);
    }
}

/// A tile row as lane groups.
#[inline(always)]
fn lanes(v: &[f64]) -> &[[f64; LANES]] {
    let (chunks, rest) = v.as_chunks::<LANES>();
    debug_assert!(rest.is_empty());
    chunks
}

/// A mutable tile row as lane groups.
#[inline(always)]
fn lanes_mut(v: &mut [f64]) -> &mut [[f64; LANES]] {
    let (chunks, rest) = v.as_chunks_mut::<LANES>();
    debug_assert!(rest.is_empty());
    chunks
}

/// `out[i][j] = Σ_r z[i][r]·a[j][r]` for `j ≤ i` (lower triangle by 4×4 tiles; `dp` a
/// multiple of 4), over a whole tile of rows.
#[inline(always)]
fn gram_lower<const F: bool>(z: &[f64], a: &[f64], dp: usize, out: &mut [f64]) {
    for ib in (0..dp).step_by(4) {
        for jb in (0..=ib).step_by(4) {
            let mut acc = [[[0.0f64; LANES]; 4]; 4];
            for r0 in (0..TILE).step_by(LANES) {
                let mut zv = [[0.0; LANES]; 4];
                let mut av = [[0.0; LANES]; 4];
                for t in 0..4 {
                    zv[t].copy_from_slice(&z[(ib + t) * TILE + r0..(ib + t) * TILE + r0 + LANES]);
                    av[t].copy_from_slice(&a[(jb + t) * TILE + r0..(jb + t) * TILE + r0 + LANES]);
                }
                for s in 0..4 {
                    for t in 0..4 {
                        for l in 0..LANES {
                            acc[s][t][l] = fma::<F>(zv[s][l], av[t][l], acc[s][t][l]);
                        }
                    }
                }
            }
            for s in 0..4 {
                for t in 0..4 {
                    out[(ib + s) * dp + jb + t] = hsum(&acc[s][t]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::par::Parallelism;
    use crate::{CovarianceType, GaussianMixture, GmmModel, SufficientStatistics};
    use ndarray::{Array1, Array2};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn pinned_levels_fall_back_below_the_cpu() {
        use Level::*;
        assert_eq!(Level::choose(None, Avx2), (Avx2, None));
        assert_eq!(Level::choose(Some("auto"), Avx512), (Avx512, None));
        assert_eq!(Level::choose(Some(""), Portable), (Portable, None));
        assert_eq!(Level::choose(Some("portable"), Avx512), (Portable, None));
        assert_eq!(Level::choose(Some(" AVX2 "), Avx512), (Avx2, None));
        assert_eq!(Level::choose(Some("avx512"), Avx512), (Avx512, None));
        let (l, w) = Level::choose(Some("avx512"), Avx2);
        assert_eq!(l, Avx2);
        let w = w.unwrap();
        assert!(
            w.contains("lacks avx512") && w.contains("using avx2"),
            "{w}"
        );
        let (l, w) = Level::choose(Some("avx2"), Portable);
        assert_eq!(l, Portable);
        assert!(w.unwrap().contains("lacks avx2"));
        let (l, w) = Level::choose(Some("sse9"), Avx2);
        assert_eq!(l, Avx2);
        assert!(w.unwrap().contains("not a kernel level"));
        // the level in use is one the CPU has
        assert!(Level::detect().rank() <= Level::best().rank());
        assert_eq!(crate::kernel_level(), Level::detect().name());
    }

    /// The portable kernels fuse multiply-adds on aarch64 (issue 16 item 6): every ARMv8
    /// core has `fmadd`, so `mul_add` is one instruction there. On x86-64 without `+fma`
    /// in the build they must not (it would be the C library's software fma).
    #[test]
    fn portable_kernels_fuse_where_the_target_has_fma() {
        let fused = std::hint::black_box(PORTABLE_FMA);
        if cfg!(target_arch = "aarch64") {
            assert!(fused);
        }
        if cfg!(all(target_arch = "x86_64", not(target_feature = "fma"))) {
            assert!(!fused);
        }
    }

    fn levels() -> Vec<Level> {
        #[cfg_attr(not(target_arch = "x86_64"), allow(unused_mut))]
        let mut v = vec![Level::Portable];
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                v.push(Level::Avx2);
            }
            if std::arch::is_x86_feature_detected!("avx512f") {
                v.push(Level::Avx512);
            }
        }
        v
    }

    fn model(
        ct: CovarianceType,
        n: usize,
        d: usize,
        k: usize,
        seed: u64,
    ) -> (GmmModel, Array2<f64>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let x = Array2::from_shape_fn((n, d), |(i, j)| {
            rng.random::<f64>() * (1.0 + j as f64) + 3.0 * (i % k) as f64 + 100.0
        });
        let m = GaussianMixture::new(k)
            .covariance_type(ct)
            .max_iter(2)
            .seed(seed)
            .fit(x.view())
            .unwrap();
        (m, x)
    }

    fn close(a: &[f64], b: &[f64], tol: f64, what: &str) {
        let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-300);
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!((x - y).abs() <= tol * scale, "{what}[{i}]: {x} vs {y}");
        }
    }

    /// The k-means sinks agree with the distance matrix: `Nearest` is its row argmin (the
    /// first of equals) and minimum, `Potentials` the weighted sum of `min(d, closest)`,
    /// at every level and for ragged tiles.
    #[test]
    fn kmeans_sinks_agree_with_distances() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for &(n, d, k) in &[(700usize, 3usize, 5usize), (257, 8, 4), (33, 1, 3)] {
            let x = Array2::from_shape_fn((n, d), |_| rng.random::<f64>() * 10.0);
            let mut centers = Array2::from_shape_fn((k, d), |_| rng.random::<f64>() * 10.0);
            // a duplicated centre: ties must go to the first
            let c0 = centers.row(0).to_owned();
            centers.row_mut(k - 1).assign(&c0);
            let closest: Vec<f64> = (0..n).map(|_| rng.random::<f64>() * 30.0).collect();
            let w = Array1::from_shape_fn(n, |i| (i % 3) as f64);
            for level in levels() {
                let prep = Prepared::for_centers_with(Shape::Diag, &centers, level);
                let mut ws = Workspace::new(k, d);
                let mut dist = Array2::zeros((n, k));
                run(
                    &prep,
                    x.view(),
                    Sink::Distances {
                        out: dist.view_mut(),
                    },
                    &mut ws,
                );
                let (mut labels, mut dists) = (vec![9; n], vec![0.0; n]);
                run(
                    &prep,
                    x.view(),
                    Sink::Nearest {
                        labels: &mut labels,
                        dists: &mut dists,
                    },
                    &mut ws,
                );
                for r in 0..n {
                    let mut best = (f64::INFINITY, 0);
                    for kk in 0..k {
                        if dist[[r, kk]] < best.0 {
                            best = (dist[[r, kk]], kk);
                        }
                    }
                    assert_eq!((dists[r], labels[r]), best, "{level:?} row {r}");
                    assert_ne!(labels[r], k - 1, "tie went to the later copy");
                }
                // `Nearest2`: the same labels and distances, and the runner-up
                let (mut l2, mut d2, mut s2) = (vec![9; n], vec![0.0; n], vec![0.0; n]);
                run(
                    &prep,
                    x.view(),
                    Sink::Nearest2 {
                        labels: &mut l2,
                        dists: &mut d2,
                        second: &mut s2,
                    },
                    &mut ws,
                );
                assert_eq!(l2, labels, "{level:?} Nearest2 labels");
                assert_eq!(d2, dists, "{level:?} Nearest2 distances");
                for r in 0..n {
                    let runner_up = (0..k)
                        .filter(|&kk| kk != labels[r])
                        .map(|kk| dist[[r, kk]])
                        .fold(f64::INFINITY, f64::min);
                    assert_eq!(s2[r], runner_up, "{level:?} row {r} second");
                }
                for weights in [None, Some(w.view())] {
                    let mut pots = vec![0.0; k];
                    run(
                        &prep,
                        x.view(),
                        Sink::Potentials {
                            closest: &closest,
                            w: weights,
                            pots: &mut pots,
                        },
                        &mut ws,
                    );
                    for (t, p) in pots.iter().enumerate() {
                        let want: f64 = (0..n)
                            .map(|r| dist[[r, t]].min(closest[r]) * weights.map_or(1.0, |w| w[r]))
                            .sum();
                        assert!(
                            (p - want).abs() <= 1e-12 * want,
                            "{level:?} t={t}: {p} vs {want}"
                        );
                    }
                }
            }
        }
    }

    /// f32 data (strided or not) widened in the tile loaders gives exactly the statistics
    /// of the same values given as f64, at every level, including ragged tile edges,
    /// where the f32 lanes do not apply (diag and spherical models, the portable level);
    /// where they do (full and tied at AVX2 and AVX-512), the same statistics to f32
    /// rounding: the log-likelihood to 1e-6 relative, `Σγ` and the second moments to
    /// 1e-5 of their scale, and the two layouts of the data equal bit for bit.
    #[test]
    fn f32_tiles_equal_the_widened_f64_data() {
        for ct in CovarianceType::SKLEARN {
            for &(n, d, k) in &[(1000usize, 3usize, 4usize), (517, 9, 2), (300, 16, 3)] {
                let (m, x) = model(ct, n, d, k, (7 * n + d) as u64);
                let x32 = x.mapv(|v| v as f32);
                let x64 = x32.mapv(f64::from);
                let x32t = x32.t().to_owned();
                for level in levels() {
                    let prep = m.prepared_with(level);
                    let e = |s: SufficientStatistics| {
                        (
                            s.log_likelihood,
                            s.nk.to_vec(),
                            s.s1.to_owned(),
                            s.s2.as_slice().to_vec(),
                        )
                    };
                    let want = e(SufficientStatistics::e_step_prepared(
                        &m,
                        &prep,
                        x64.view(),
                        None,
                        Parallelism::Sequential,
                    ));
                    let mut first = None;
                    for xv in [x32.view(), x32t.t()] {
                        let got = e(SufficientStatistics::e_step_prepared(
                            &m,
                            &prep,
                            xv,
                            None,
                            Parallelism::Sequential,
                        ));
                        let tag = format!("{ct} n={n} d={d} k={k} {level:?}");
                        if prep.lanes32.is_none() {
                            assert!(got == want, "{tag}");
                            continue;
                        }
                        assert!(
                            (got.0 - want.0).abs() <= 1e-6 * want.0.abs(),
                            "{tag}: {} vs {}",
                            got.0,
                            want.0
                        );
                        close(&got.1, &want.1, 1e-5, &format!("{tag} nk"));
                        close(&got.3, &want.3, 1e-5, &format!("{tag} s2"));
                        // s1 is about the component means, so ~0: judge it against Σγ·|x−c|
                        let floor = 1e-5 * n as f64 * (1.0 + d as f64);
                        for (a, b) in got.2.iter().zip(want.2.iter()) {
                            assert!((a - b).abs() <= floor, "{tag} s1: {a} vs {b}");
                        }
                        match &first {
                            None => first = Some(got),
                            Some(f) => assert!(*f == got, "{tag}: layouts differ"),
                        }
                    }
                }
            }
        }
    }

    /// The fast kernels equal the plain reference kernels (statistics, responsibilities
    /// and log densities) at every instruction-set level, for every covariance type,
    /// with and without weights, for sizes that are not multiples of the tiles.
    #[test]
    fn fast_kernels_equal_the_reference() {
        for ct in CovarianceType::SKLEARN {
            for &(n, d, k) in &[
                (1000usize, 3usize, 4usize),
                (517, 1, 2),
                (2049, 7, 5),
                (300, 13, 3),
                (611, 16, 3),
            ] {
                let (m, x) = model(ct, n, d, k, (n + d + k) as u64);
                let w = Array1::from_shape_fn(n, |i| (i % 5) as f64 * 0.5);
                for weights in [None, Some(w.view())] {
                    let want = SufficientStatistics::e_step_reference(
                        &m,
                        x.view(),
                        weights,
                        Parallelism::Sequential,
                    );
                    for level in levels() {
                        let prep = m.prepared_with(level);
                        let got = SufficientStatistics::e_step_prepared(
                            &m,
                            &prep,
                            x.view(),
                            weights,
                            Parallelism::Sequential,
                        );
                        let tag = format!(
                            "{ct} n={n} d={d} k={k} {level:?} weighted={}",
                            weights.is_some()
                        );
                        assert!(
                            (got.log_likelihood - want.log_likelihood).abs()
                                < 1e-11 * want.log_likelihood.abs(),
                            "{tag}"
                        );
                        assert_eq!(got.weight_sum, want.weight_sum, "{tag}");
                        assert_eq!(got.n_samples, want.n_samples, "{tag}");
                        close(
                            got.nk.as_slice().unwrap(),
                            want.nk.as_slice().unwrap(),
                            1e-12,
                            &format!("{tag} nk"),
                        );
                        // s1 is about the component means, so ~0: judge it against Σ|g·x|
                        let floor =
                            1e-13 * want.nk.sum() * x.iter().fold(0.0f64, |a, v| a.max(v.abs()));
                        for (a, b) in got.s1.iter().zip(want.s1.iter()) {
                            assert!((a - b).abs() <= floor, "{tag} s1: {a} vs {b}");
                        }
                        close(
                            got.s2.as_slice(),
                            want.s2.as_slice(),
                            1e-11,
                            &format!("{tag} s2"),
                        );
                        // per-row outputs
                        let mut resp = Array2::zeros((n, k));
                        let mut ln = Array1::zeros(n);
                        let mut ws = Workspace::new(k, d);
                        run(
                            &prep,
                            x.view(),
                            Sink::Rows {
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
                        close(
                            ln.as_slice().unwrap(),
                            &ln_ref,
                            1e-12,
                            &format!("{tag} ln p"),
                        );
                        for (a, b) in resp.iter().zip(lp.iter()) {
                            assert!((a - b).abs() < 1e-12, "{tag} resp {a} vs {b}");
                        }
                    }
                }
            }
        }
    }
}

// the AVX-512 phase wrappers exist on x86-64 only
#[cfg(all(test, target_arch = "x86_64"))]
mod phase_timing {
    use super::*;
    use crate::{CovarianceType, GaussianMixture};
    use ndarray::Array2;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Where a diag E-step's time goes, tile phase by tile phase (run by hand:
    /// `cargo test --release -p gaussmix --lib phase_timing -- --ignored --nocapture`).
    #[test]
    #[ignore]
    fn diag_phases() {
        let (n, d, k) = (200_000usize, 8usize, 8usize);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let x = Array2::from_shape_fn((n, d), |(i, j)| {
            rng.random::<f64>() * 2.0 + 3.0 * ((i * 7 + j) % k) as f64
        });
        let m = GaussianMixture::new(k)
            .covariance_type(CovarianceType::Diag)
            .max_iter(3)
            .seed(1)
            .fit(x.view())
            .unwrap();
        let prep = m.prepared();
        let mut ws = Workspace::new(k, d);
        let mut t = [0f64; 6];
        let xs = x.view();
        let mut nk = vec![0.0; k];
        let mut s1 = vec![0.0; k * d];
        let mut s2 = vec![0.0; k * d];
        let (mut nn, mut ll, mut wsum, mut ns) = (0.0, 0.0, 0.0, 0u64);
        for _rep in 0..5 {
            let mut tt = [0f64; 6];
            let mut r0 = 0;
            while r0 < n {
                let len = TILE.min(n - r0);
                let a = std::time::Instant::now();
                load_tile(&prep, xs, r0, len, &mut ws);
                let b = std::time::Instant::now();
                unsafe { lp_avx512(&prep, &mut ws) };
                let c = std::time::Instant::now();
                unsafe { max_avx512(&prep, &mut ws) };
                let c1 = std::time::Instant::now();
                unsafe { exp_avx512(&prep, &mut ws) };
                let c2 = std::time::Instant::now();
                unsafe { fin_avx512(&prep, &mut ws, len) };
                let e = std::time::Instant::now();
                tt[4] += (c1 - c).as_secs_f64();
                tt[5] += (c2 - c1).as_secs_f64();
                let mut part = Acc {
                    nk: &mut nk,
                    s1: &mut s1,
                    s2: Moments::Diag(&mut s2),
                    noise_nk: &mut nn,
                    log_likelihood: &mut ll,
                    weight_sum: &mut wsum,
                    n_samples: &mut ns,
                };
                unsafe { acc_avx512(&prep, &mut ws, len, &mut part) };
                let f = std::time::Instant::now();
                tt[0] += (b - a).as_secs_f64();
                tt[1] += (c - b).as_secs_f64();
                tt[2] += (e - c).as_secs_f64();
                tt[3] += (f - e).as_secs_f64();
                r0 += len;
            }
            if _rep == 0 || tt.iter().sum::<f64>() < t.iter().sum::<f64>() {
                t = tt;
            }
        }
        {
            let cprep = Prepared::for_centers(&m.means().to_owned());
            let (mut labels, mut dists) = (vec![0usize; TILE], vec![0.0; TILE]);
            let (mut tl, mut tn) = (f64::INFINITY, f64::INFINITY);
            for _ in 0..5 {
                let (mut a1, mut a2) = (0.0, 0.0);
                let mut r0 = 0;
                while r0 < n {
                    let len = TILE.min(n - r0);
                    let a = std::time::Instant::now();
                    load_tile(&cprep, xs, r0, len, &mut ws);
                    let b = std::time::Instant::now();
                    unsafe { near_avx512(&cprep, &mut ws, &mut labels[..len], &mut dists[..len]) };
                    let c = std::time::Instant::now();
                    a1 += (b - a).as_secs_f64();
                    a2 += (c - b).as_secs_f64();
                    r0 += len;
                }
                tl = tl.min(a1);
                tn = tn.min(a2);
            }
            eprintln!(
                "nearest: load {:.2} ms, nearest_tile {:.2} ms",
                tl * 1e3,
                tn * 1e3
            );
        }
        eprintln!(
            "{:?} n={n}: load {:.2} ms, log_probs {:.2} ms, normalise {:.2} ms, accumulate {:.2} ms (max {:.2}, exp {:.2})",
            prep.level,
            t[0] * 1e3,
            t[1] * 1e3,
            t[2] * 1e3,
            t[3] * 1e3,
            t[4] * 1e3,
            t[5] * 1e3
        );
        assert!(nk.iter().sum::<f64>() > 0.0);
    }

    /// Where a full E-step's time goes for f64 data and for the same data as f32 (the
    /// float32 lanes), on P2's and P3's shapes (run by hand, as [`diag_phases`]).
    #[test]
    #[ignore]
    fn full_phases_f64_f32() {
        for (n, d, k) in [(100_000usize, 16usize, 16usize), (20_000, 64, 32)] {
            let mut rng = ChaCha8Rng::seed_from_u64(1);
            let x = Array2::from_shape_fn((n, d), |(i, j)| {
                rng.random::<f64>() * 2.0 + 3.0 * ((i * 7 + j) % k) as f64
            });
            let m = GaussianMixture::new(k)
                .covariance_type(CovarianceType::Full)
                .max_iter(2)
                .seed(1)
                .fit(x.view())
                .unwrap();
            let prep = m.prepared();
            let x32 = x.mapv(|v| v as f32);
            let f64_t = phases(&prep, x.view(), k, d);
            let f32_t = phases(&prep, x32.view(), k, d);
            for (name, t) in [("f64", f64_t), ("f32", f32_t)] {
                eprintln!(
                    "{:?} n={n} d={d} k={k} {name}: load {:.1} ms, log_probs {:.1} ms, normalise {:.1} ms, accumulate {:.1} ms, total {:.1} ms",
                    prep.level,
                    t[0] * 1e3,
                    t[1] * 1e3,
                    t[2] * 1e3,
                    t[3] * 1e3,
                    t.iter().sum::<f64>() * 1e3
                );
            }
        }
    }

    /// Best of 5 passes, per phase.
    fn phases<T: Float>(
        prep: &Prepared,
        xs: ndarray::ArrayView2<T>,
        k: usize,
        d: usize,
    ) -> [f64; 4] {
        let n = xs.nrows();
        let mut ws = Workspace::new(k, d);
        ws.lanes32 =
            prep.lanes32.is_some() && std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>();
        ws.s32.ensure(d, pad4(d));
        let mut nk = vec![0.0; k];
        let mut s1 = vec![0.0; k * d];
        let mut s2 = vec![0.0; k * d * d];
        let (mut nn, mut ll, mut wsum, mut ns) = (0.0, 0.0, 0.0, 0u64);
        let mut best = [f64::INFINITY; 4];
        for _ in 0..5 {
            let mut tt = [0f64; 4];
            let mut r0 = 0;
            while r0 < n {
                let len = TILE.min(n - r0);
                let a = std::time::Instant::now();
                load_tile(prep, xs, r0, len, &mut ws);
                if let Some(lanes) = prep.lanes32.as_ref().filter(|_| ws.lanes32) {
                    ws.s32.round_tile(lanes, &ws.xt, d);
                }
                let b = std::time::Instant::now();
                unsafe { lp_avx512(prep, &mut ws) };
                let c = std::time::Instant::now();
                unsafe { max_avx512(prep, &mut ws) };
                unsafe { exp_avx512(prep, &mut ws) };
                unsafe { fin_avx512(prep, &mut ws, len) };
                let e = std::time::Instant::now();
                let mut part = Acc {
                    nk: &mut nk,
                    s1: &mut s1,
                    s2: Moments::Full(&mut s2),
                    noise_nk: &mut nn,
                    log_likelihood: &mut ll,
                    weight_sum: &mut wsum,
                    n_samples: &mut ns,
                };
                unsafe { acc_avx512(prep, &mut ws, len, &mut part) };
                let f = std::time::Instant::now();
                tt[0] += (b - a).as_secs_f64();
                tt[1] += (c - b).as_secs_f64();
                tt[2] += (e - c).as_secs_f64();
                tt[3] += (f - e).as_secs_f64();
                r0 += len;
            }
            for i in 0..4 {
                best[i] = best[i].min(tt[i]);
            }
        }
        assert!(nk.iter().sum::<f64>() > 0.0);
        best
    }

    #[target_feature(enable = "avx512f,avx512vl,avx512dq,fma,avx2")]
    unsafe fn lp_avx512(prep: &Prepared, ws: &mut Workspace) {
        log_probs::<true>(prep, ws)
    }
    #[target_feature(enable = "avx512f,avx512vl,avx512dq,fma,avx2")]
    unsafe fn near_avx512(prep: &Prepared, ws: &mut Workspace, l: &mut [usize], d: &mut [f64]) {
        nearest_tile::<true>(prep, ws, l, d)
    }
    #[target_feature(enable = "avx512f,avx512vl,avx512dq,fma,avx2")]
    unsafe fn max_avx512(prep: &Prepared, ws: &mut Workspace) {
        row_max(prep, ws)
    }
    #[target_feature(enable = "avx512f,avx512vl,avx512dq,fma,avx2")]
    unsafe fn exp_avx512(prep: &Prepared, ws: &mut Workspace) {
        exp_sums::<true>(prep, ws)
    }
    #[target_feature(enable = "avx512f,avx512vl,avx512dq,fma,avx2")]
    unsafe fn fin_avx512(prep: &Prepared, ws: &mut Workspace, len: usize) {
        finish_rows::<true>(prep, ws, len, None)
    }
    #[target_feature(enable = "avx512f,avx512vl,avx512dq,fma,avx2")]
    unsafe fn acc_avx512(prep: &Prepared, ws: &mut Workspace, len: usize, part: &mut Acc<'_>) {
        accumulate::<true>(prep, ws, len, part)
    }
}
