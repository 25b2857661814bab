//! float32 lanes for f32 data: the full / tied quadratic forms and the weighted Gram
//! products of the M-step statistics, 16 rows per AVX-512 vector and 8 per AVX2 vector
//! (twice the f64 kernels' rows per instruction).
//!
//! What runs in f32 and what stays in f64:
//!
//! * the tile `x − c` is formed in f64 (the f64 loaders of [`super`]) and rounded once to
//!   f32; so are the precision factors and `(μ_k − c)P_k` (rounded once per E-step, in
//!   [`Lanes32::new`]) and each component's offset `μ_k − c` (rounded per tile);
//! * the quadratic forms `‖(x − c)P_k − (μ_k − c)P_k‖²` are f32 sums over the
//!   features, widened to f64 before the offsets are added: log-sum-exp, responsibilities
//!   and `ln p(x)` are f64 as for f64 data;
//! * the Gram products `Σ_r γ_r (x_r − μ_k)(x_r − μ_k)ᵀ` and `Σ_r γ_r (x_r − μ_k)` are
//!   about the component mean (close to the data, so no cancellation against a large
//!   mean term) and summed in f32 over one tile of 256 rows only (16 per lane at AVX-512,
//!   32 at AVX2), then added to the f64 statistics: every statistic across tiles, blocks
//!   and threads is f64, and the parameters are f64.
//!
//! Rows past the tile's length are zero in the tile and carry zero weight, as in the
//! f64 kernels. The order of every sum is fixed by the tile, so results do not depend
//! on the thread count.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use super::simd::TILE;

/// The instruction set the f32 lanes run with (the kernels' level, for the levels that
/// have them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Isa {
    /// 16 f32 per vector.
    Avx512,
    /// 8 f32 per vector.
    Avx2,
    /// Plain loops (tests).
    #[cfg_attr(not(test), allow(dead_code))]
    Plain,
}

/// Rows per register group of the f32 quadratic-form kernels.
const GROUP32: usize = 128;

#[cfg(target_arch = "x86_64")]
macro_rules! rep8 {
    ($m:ident) => {
        $m!(0);
        $m!(1);
        $m!(2);
        $m!(3);
        $m!(4);
        $m!(5);
        $m!(6);
        $m!(7);
    };
}

#[cfg(target_arch = "x86_64")]
macro_rules! rep4 {
    ($m:ident) => {
        $m!(0);
        $m!(1);
        $m!(2);
        $m!(3);
    };
}

/// The f32 copies of a full / tied model's constants (rounded once per E-step).
///
/// Feature `i` of the f32 tile is `(x_i − c_i)·s_i`, with `s_i` a power of two near the
/// largest `(P_k)_ii` (about one over the feature's spread), and the factors' rows are
/// divided by `s_i` to match: the quadratic forms are unchanged, and the tile, the
/// centred rows and their Gram products stay near 1 whatever the data's units (data of
/// magnitude 1e35 would overflow f32 in `x²`, 1e-35 underflow). Powers of two scale
/// exactly; the statistics are scaled back in f64.
pub(crate) struct Lanes32 {
    isa: Isa,
    /// The upper factors, as [`super::Prepared`] lays them out, row `i` divided by `s_i`.
    p: Vec<f32>,
    /// `(μ_k − c)P_k` (K×D).
    bias: Vec<f32>,
    /// `s_i` (D).
    scale: Vec<f64>,
}

impl Lanes32 {
    /// f32 constants from the f64 factors `p` (K or one D×D upper factors) and `bias`.
    pub(crate) fn new(isa: Isa, d: usize, p: &[f64], bias: &[f64]) -> Lanes32 {
        let scale: Vec<f64> = (0..d)
            .map(|i| {
                let top = p
                    .chunks_exact(d * d)
                    .map(|pk| pk[i * d + i].abs())
                    .fold(0.0f64, f64::max);
                if top.is_finite() && top > 0.0 {
                    2f64.powi(top.log2().round().clamp(-120.0, 120.0) as i32)
                } else {
                    1.0
                }
            })
            .collect();
        let p = p
            .iter()
            .enumerate()
            .map(|(t, &v)| (v / scale[(t / d) % d]) as f32)
            .collect();
        Lanes32 {
            isa,
            p,
            bias: bias.iter().map(|&v| v as f32).collect(),
            scale,
        }
    }

    /// Component `kk`'s factor and bias (`tied`: one factor for all).
    fn component(&self, kk: usize, d: usize, tied: bool) -> (&[f32], &[f32]) {
        let p = if tied {
            &self.p[..d * d]
        } else {
            &self.p[kk * d * d..(kk + 1) * d * d]
        };
        (p, &self.bias[kk * d..(kk + 1) * d])
    }
}

/// The f32 scratch of one task (allocated on first use by f32 data).
#[derive(Default)]
pub(crate) struct Scratch32 {
    /// The tile `x − c` rounded to f32 (D×TILE).
    xt: Vec<f32>,
    /// `x − μ_k` (dp×TILE, rows past D zero).
    at: Vec<f32>,
    /// `γ·(x − μ_k)` (dp×TILE, rows past D zero).
    zt: Vec<f32>,
}

impl Scratch32 {
    /// Sizes the buffers for `d` features (`dp` = `d` rounded up to 4), zeroing the pad
    /// rows of the Gram operands once (they are never written after).
    pub(crate) fn ensure(&mut self, d: usize, dp: usize) {
        if self.xt.len() != d * TILE || self.at.len() != dp * TILE {
            self.xt = vec![0.0; d * TILE];
            self.at = vec![0.0; dp * TILE];
            self.zt = vec![0.0; dp * TILE];
        }
    }

    /// Scales the f64 tile (`d` rows of `TILE`) by `s_i` and rounds it to f32.
    #[inline(always)]
    pub(crate) fn round_tile(&mut self, lanes: &Lanes32, xt: &[f64], d: usize) {
        for i in 0..d {
            let s = lanes.scale[i];
            for (o, v) in self.xt[i * TILE..(i + 1) * TILE]
                .iter_mut()
                .zip(&xt[i * TILE..(i + 1) * TILE])
            {
                *o = (*v * s) as f32;
            }
        }
    }
}

/// `out[r] = ‖(x_r − c)P_k − bias_k‖²` (widened to f64) for the whole tile, component
/// `kk`, from the f32 tile.
#[inline(always)]
pub(crate) fn quad_component(
    lanes: &Lanes32,
    s: &Scratch32,
    kk: usize,
    d: usize,
    tied: bool,
    out: &mut [f64],
) {
    let (p, bias) = lanes.component(kk, d, tied);
    for g0 in (0..TILE).step_by(GROUP32) {
        match lanes.isa {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the level was detected at run time; sizes as documented.
            Isa::Avx512 => unsafe {
                quad_triangular_avx512(&s.xt, g0, p, bias, d, &mut out[g0..g0 + GROUP32])
            },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above.
            Isa::Avx2 => unsafe {
                quad_triangular_avx2(&s.xt, g0, p, bias, d, &mut out[g0..g0 + GROUP32])
            },
            _ => quad_triangular_plain(&s.xt, g0, p, bias, d, &mut out[g0..g0 + GROUP32]),
        }
    }
}

/// The weighted first and second moments of one component over the tile, about its
/// mean: `s1[i] = Σ_r g_r (x_ri − m_i)` and the lower triangle of
/// `s2t[i·dp + j] = Σ_r g_r (x_ri − m_i)(x_rj − m_j)`, with `m = μ_k − c` (f64, rounded
/// here) and `g` the tile's weighted responsibilities; f32 sums over the tile, written as
/// f64.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn moments_component(
    lanes: &Lanes32,
    s: &mut Scratch32,
    g: &[f64],
    m: &[f64],
    d: usize,
    dp: usize,
    s1: &mut [f64],
    s2t: &mut [f64],
) {
    let mut g32 = [0.0f32; TILE];
    for (o, v) in g32.iter_mut().zip(&g[..TILE]) {
        *o = *v as f32;
    }
    let Scratch32 { xt, at, zt } = s;
    // the offsets on the tile's scale
    let sc = &lanes.scale;
    let ms: Vec<f64> = (0..d).map(|i| m[i] * sc[i]).collect();
    match lanes.isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the level was detected at run time; sizes as documented.
        Isa::Avx512 => unsafe { centre_weight_avx512(xt, &g32, &ms, d, at, zt, s1) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Isa::Avx2 => unsafe { centre_weight_avx2(xt, &g32, &ms, d, at, zt, s1) },
        _ => centre_weight_plain(xt, &g32, &ms, d, at, zt, s1),
    }
    match lanes.isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the level was detected at run time; sizes as documented.
        Isa::Avx512 => unsafe { gram_lower_avx512(zt, at, dp, s2t) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Isa::Avx2 => unsafe { gram_lower_avx2(zt, at, dp, s2t) },
        _ => gram_lower_plain(zt, at, dp, s2t),
    }
    // back to the data's units (exact: powers of two)
    for i in 0..d {
        s1[i] /= sc[i];
        for j in 0..=i {
            s2t[i * dp + j] /= sc[i] * sc[j];
        }
    }
}

/// `at[i] = xt[i] − m_i`, `zt[i] = g·at[i]` in f32 for `i < d`, and `s1[i] = Σ_r zt[i][r]`
/// (lane sums in f32, added in f64). Portable (for the tests: the f32 lanes run at the
/// SIMD levels only).
fn centre_weight_plain(
    xt: &[f32],
    g: &[f32; TILE],
    m: &[f64],
    d: usize,
    at: &mut [f32],
    zt: &mut [f32],
    s1: &mut [f64],
) {
    for i in 0..d {
        let mi = m[i] as f32;
        let mut acc = [0.0f32; 16];
        for r in 0..TILE {
            let av = xt[i * TILE + r] - mi;
            let zv = g[r] * av;
            at[i * TILE + r] = av;
            zt[i * TILE + r] = zv;
            acc[r % 16] += zv;
        }
        s1[i] = acc.iter().map(|&v| f64::from(v)).sum();
    }
}

/// [`centre_weight_plain`] at AVX-512, 32 rows a step.
///
/// # Safety
/// AVX-512F must be available; `xt`, `at`, `zt` hold at least `d` rows of `TILE`, `m`
/// and `s1` `d` values.
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f")]
unsafe fn centre_weight_avx512(
    xt: &[f32],
    g: &[f32; TILE],
    m: &[f64],
    d: usize,
    at: &mut [f32],
    zt: &mut [f32],
    s1: &mut [f64],
) {
    debug_assert!(
        xt.len() >= d * TILE && at.len() >= d * TILE && zt.len() >= d * TILE && m.len() >= d
    );
    let gp = g.as_ptr();
    for i in 0..d {
        let mi = _mm512_set1_ps(*m.get_unchecked(i) as f32);
        let x = xt.as_ptr().add(i * TILE);
        let a = at.as_mut_ptr().add(i * TILE);
        let z = zt.as_mut_ptr().add(i * TILE);
        let mut acc0 = _mm512_setzero_ps();
        let mut acc1 = _mm512_setzero_ps();
        let mut r = 0;
        while r < TILE {
            let a0 = _mm512_sub_ps(_mm512_loadu_ps(x.add(r)), mi);
            let a1 = _mm512_sub_ps(_mm512_loadu_ps(x.add(r + 16)), mi);
            let z0 = _mm512_mul_ps(_mm512_loadu_ps(gp.add(r)), a0);
            let z1 = _mm512_mul_ps(_mm512_loadu_ps(gp.add(r + 16)), a1);
            _mm512_storeu_ps(a.add(r), a0);
            _mm512_storeu_ps(a.add(r + 16), a1);
            _mm512_storeu_ps(z.add(r), z0);
            _mm512_storeu_ps(z.add(r + 16), z1);
            acc0 = _mm512_add_ps(acc0, z0);
            acc1 = _mm512_add_ps(acc1, z1);
            r += 32;
        }
        *s1.get_unchecked_mut(i) = sum16(_mm512_add_ps(acc0, acc1));
    }
}

/// The 16 lanes of a vector summed in f64.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn sum16(v: __m512) -> f64 {
    let lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
    let hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(
        _mm512_castps_pd(v),
    )));
    _mm512_reduce_add_pd(_mm512_add_pd(lo, hi))
}

/// [`centre_weight_plain`] at AVX2, 32 rows a step.
///
/// # Safety
/// AVX2 and FMA must be available; sizes as [`centre_weight_avx512`].
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2,fma")]
unsafe fn centre_weight_avx2(
    xt: &[f32],
    g: &[f32; TILE],
    m: &[f64],
    d: usize,
    at: &mut [f32],
    zt: &mut [f32],
    s1: &mut [f64],
) {
    debug_assert!(
        xt.len() >= d * TILE && at.len() >= d * TILE && zt.len() >= d * TILE && m.len() >= d
    );
    let gp = g.as_ptr();
    for i in 0..d {
        let mi = _mm256_set1_ps(*m.get_unchecked(i) as f32);
        let x = xt.as_ptr().add(i * TILE);
        let a = at.as_mut_ptr().add(i * TILE);
        let z = zt.as_mut_ptr().add(i * TILE);
        let mut acc = [_mm256_setzero_ps(); 4];
        let mut r = 0;
        while r < TILE {
            macro_rules! step {
                ($u:literal) => {
                    let av = _mm256_sub_ps(_mm256_loadu_ps(x.add(r + $u * 8)), mi);
                    let zv = _mm256_mul_ps(_mm256_loadu_ps(gp.add(r + $u * 8)), av);
                    _mm256_storeu_ps(a.add(r + $u * 8), av);
                    _mm256_storeu_ps(z.add(r + $u * 8), zv);
                    acc[$u] = _mm256_add_ps(acc[$u], zv);
                };
            }
            rep4!(step);
            r += 32;
        }
        let t = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
        let lo = _mm256_cvtps_pd(_mm256_castps256_ps128(t));
        let hi = _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(t));
        let s = _mm256_add_pd(lo, hi);
        let s2 = _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd::<1>(s));
        *s1.get_unchecked_mut(i) = _mm_cvtsd_f64(_mm_add_sd(s2, _mm_unpackhi_pd(s2, s2)));
    }
}

/// Portable [`quad_triangular_avx512`] (reference for the tests; the f32 lanes run at
/// the SIMD levels only).
fn quad_triangular_plain(
    xt: &[f32],
    g0: usize,
    p: &[f32],
    bias: &[f32],
    d: usize,
    out: &mut [f64],
) {
    for r in 0..GROUP32 {
        let mut q = 0.0f32;
        for j in 0..d {
            let mut y = -bias[j];
            for i in 0..=j {
                y = p[i * d + j].mul_add(xt[i * TILE + g0 + r], y);
            }
            q = y.mul_add(y, q);
        }
        out[r] = f64::from(q);
    }
}

/// Portable [`gram_lower_avx512`].
fn gram_lower_plain(z: &[f32], a: &[f32], dp: usize, out: &mut [f64]) {
    for i in 0..dp {
        for j in 0..=i {
            let mut s = 0.0f32;
            for r in 0..TILE {
                s = z[i * TILE + r].mul_add(a[j * TILE + r], s);
            }
            out[i * dp + j] = f64::from(s);
        }
    }
}

/// `out[r] = ‖(x_r − c)P − bias‖²` for the 128 rows at `g0` (8 vectors of 16 f32), two
/// columns of the upper-triangular `P` at a time so each load of `x` feeds two FMAs
/// (16 accumulators and 8 partial norms in registers); widened to f64 on the store.
///
/// # Safety
/// AVX-512F must be available; `xt` holds `d` rows of `TILE`, `g0 + 128 ≤ TILE`, `p` is
/// `d×d`, `bias` has `d` values and `out` 128.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn quad_triangular_avx512(
    xt: &[f32],
    g0: usize,
    p: &[f32],
    bias: &[f32],
    d: usize,
    out: &mut [f64],
) {
    debug_assert!(
        xt.len() >= d * TILE
            && g0 + GROUP32 <= TILE
            && p.len() >= d * d
            && bias.len() >= d
            && out.len() >= GROUP32
    );
    let base = xt.as_ptr().add(g0);
    let mut q = [_mm512_setzero_ps(); 8];
    let mut j = 0;
    while j + 1 < d {
        let mut a = [_mm512_set1_ps(-*bias.get_unchecked(j)); 8];
        let mut b = [_mm512_set1_ps(-*bias.get_unchecked(j + 1)); 8];
        for i in 0..=j {
            let pa = _mm512_set1_ps(*p.get_unchecked(i * d + j));
            let pb = _mm512_set1_ps(*p.get_unchecked(i * d + j + 1));
            let r = base.add(i * TILE);
            macro_rules! step {
                ($v:literal) => {
                    let x = _mm512_loadu_ps(r.add($v * 16));
                    a[$v] = _mm512_fmadd_ps(pa, x, a[$v]);
                    b[$v] = _mm512_fmadd_ps(pb, x, b[$v]);
                };
            }
            rep8!(step);
        }
        let pb = _mm512_set1_ps(*p.get_unchecked((j + 1) * d + j + 1));
        let r = base.add((j + 1) * TILE);
        macro_rules! fin {
            ($v:literal) => {
                b[$v] = _mm512_fmadd_ps(pb, _mm512_loadu_ps(r.add($v * 16)), b[$v]);
                q[$v] = _mm512_fmadd_ps(a[$v], a[$v], q[$v]);
                q[$v] = _mm512_fmadd_ps(b[$v], b[$v], q[$v]);
            };
        }
        rep8!(fin);
        j += 2;
    }
    if j < d {
        let mut a = [_mm512_set1_ps(-*bias.get_unchecked(j)); 8];
        for i in 0..=j {
            let pa = _mm512_set1_ps(*p.get_unchecked(i * d + j));
            let r = base.add(i * TILE);
            macro_rules! step {
                ($v:literal) => {
                    a[$v] = _mm512_fmadd_ps(pa, _mm512_loadu_ps(r.add($v * 16)), a[$v]);
                };
            }
            rep8!(step);
        }
        macro_rules! fin {
            ($v:literal) => {
                q[$v] = _mm512_fmadd_ps(a[$v], a[$v], q[$v]);
            };
        }
        rep8!(fin);
    }
    let o = out.as_mut_ptr();
    macro_rules! store {
        ($v:literal) => {
            let lo = _mm512_castps512_ps256(q[$v]);
            let hi = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(q[$v])));
            _mm512_storeu_pd(o.add($v * 16), _mm512_cvtps_pd(lo));
            _mm512_storeu_pd(o.add($v * 16 + 8), _mm512_cvtps_pd(hi));
        };
    }
    rep8!(store);
}

/// [`quad_triangular_avx512`] at AVX2: 32 rows (4 vectors of 8 f32) and two columns of
/// `P` at a time (8 accumulators and 4 partial norms in the 16 registers).
///
/// # Safety
/// AVX2 and FMA must be available; sizes as [`quad_triangular_avx512`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn quad_triangular_avx2(
    xt: &[f32],
    g0: usize,
    p: &[f32],
    bias: &[f32],
    d: usize,
    out: &mut [f64],
) {
    const SUB: usize = 32;
    debug_assert!(
        xt.len() >= d * TILE
            && g0 + GROUP32 <= TILE
            && p.len() >= d * d
            && bias.len() >= d
            && out.len() >= GROUP32
    );
    for s0 in (0..GROUP32).step_by(SUB) {
        let base = xt.as_ptr().add(g0 + s0);
        let mut q = [_mm256_setzero_ps(); 4];
        let mut j = 0;
        while j + 1 < d {
            let mut a = [_mm256_set1_ps(-*bias.get_unchecked(j)); 4];
            let mut b = [_mm256_set1_ps(-*bias.get_unchecked(j + 1)); 4];
            for i in 0..=j {
                let pa = _mm256_set1_ps(*p.get_unchecked(i * d + j));
                let pb = _mm256_set1_ps(*p.get_unchecked(i * d + j + 1));
                let r = base.add(i * TILE);
                macro_rules! step {
                    ($v:literal) => {
                        let x = _mm256_loadu_ps(r.add($v * 8));
                        a[$v] = _mm256_fmadd_ps(pa, x, a[$v]);
                        b[$v] = _mm256_fmadd_ps(pb, x, b[$v]);
                    };
                }
                rep4!(step);
            }
            let pb = _mm256_set1_ps(*p.get_unchecked((j + 1) * d + j + 1));
            let r = base.add((j + 1) * TILE);
            macro_rules! fin {
                ($v:literal) => {
                    b[$v] = _mm256_fmadd_ps(pb, _mm256_loadu_ps(r.add($v * 8)), b[$v]);
                    q[$v] = _mm256_fmadd_ps(a[$v], a[$v], q[$v]);
                    q[$v] = _mm256_fmadd_ps(b[$v], b[$v], q[$v]);
                };
            }
            rep4!(fin);
            j += 2;
        }
        if j < d {
            let mut a = [_mm256_set1_ps(-*bias.get_unchecked(j)); 4];
            for i in 0..=j {
                let pa = _mm256_set1_ps(*p.get_unchecked(i * d + j));
                let r = base.add(i * TILE);
                macro_rules! step {
                    ($v:literal) => {
                        a[$v] = _mm256_fmadd_ps(pa, _mm256_loadu_ps(r.add($v * 8)), a[$v]);
                    };
                }
                rep4!(step);
            }
            macro_rules! fin {
                ($v:literal) => {
                    q[$v] = _mm256_fmadd_ps(a[$v], a[$v], q[$v]);
                };
            }
            rep4!(fin);
        }
        let o = out.as_mut_ptr().add(s0);
        macro_rules! store {
            ($v:literal) => {
                let lo = _mm256_castps256_ps128(q[$v]);
                let hi = _mm256_extractf128_ps::<1>(q[$v]);
                _mm256_storeu_pd(o.add($v * 8), _mm256_cvtps_pd(lo));
                _mm256_storeu_pd(o.add($v * 8 + 4), _mm256_cvtps_pd(hi));
            };
        }
        rep4!(store);
    }
}

/// `out[i][j] = Σ_r z[i][r]·a[j][r]` (f32 sums, written as f64) for the 4×4 tiles on or
/// below the diagonal (`dp` a multiple of 4), 16 rows per vector.
///
/// # Safety
/// AVX-512F must be available; `z` and `a` hold `dp` rows of `TILE`; `out` is `dp×dp`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn gram_lower_avx512(z: &[f32], a: &[f32], dp: usize, out: &mut [f64]) {
    debug_assert!(
        z.len() >= dp * TILE
            && a.len() >= dp * TILE
            && out.len() >= dp * dp
            && dp.is_multiple_of(4)
    );
    let mut ib = 0;
    while ib < dp {
        let mut jb = 0;
        while jb <= ib {
            let mut acc = [[_mm512_setzero_ps(); 4]; 4];
            let zp = z.as_ptr().add(ib * TILE);
            let ap = a.as_ptr().add(jb * TILE);
            let mut r = 0;
            while r < TILE {
                let z0 = _mm512_loadu_ps(zp.add(r));
                let z1 = _mm512_loadu_ps(zp.add(TILE + r));
                let z2 = _mm512_loadu_ps(zp.add(2 * TILE + r));
                let z3 = _mm512_loadu_ps(zp.add(3 * TILE + r));
                macro_rules! col {
                    ($t:literal) => {
                        let av = _mm512_loadu_ps(ap.add($t * TILE + r));
                        acc[0][$t] = _mm512_fmadd_ps(z0, av, acc[0][$t]);
                        acc[1][$t] = _mm512_fmadd_ps(z1, av, acc[1][$t]);
                        acc[2][$t] = _mm512_fmadd_ps(z2, av, acc[2][$t]);
                        acc[3][$t] = _mm512_fmadd_ps(z3, av, acc[3][$t]);
                    };
                }
                rep4!(col);
                r += 16;
            }
            // the 16 sums at once, row s of the block in lanes 4s..4s + 4
            let sums = reduce16(&acc);
            let lo = _mm512_cvtps_pd(_mm512_castps512_ps256(sums));
            let hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(
                _mm512_castps_pd(sums),
            )));
            let o = out.as_mut_ptr().add(ib * dp + jb);
            _mm256_storeu_pd(o, _mm512_castpd512_pd256(lo));
            _mm256_storeu_pd(o.add(dp), _mm512_extractf64x4_pd::<1>(lo));
            _mm256_storeu_pd(o.add(2 * dp), _mm512_castpd512_pd256(hi));
            _mm256_storeu_pd(o.add(3 * dp), _mm512_extractf64x4_pd::<1>(hi));
            jb += 4;
        }
        ib += 4;
    }
}

/// The sums of the 16 lanes of each `acc[s][t]`, as one vector: lane `4s + t` holds
/// `Σ acc[s][t]` (a reduction tree of 45 shuffles and adds where 16 separate horizontal
/// sums take about 128, the Gram kernel's bottleneck at 16 lanes: a 4×4 block reduces
/// after only 16 vector steps over a tile).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn reduce16(acc: &[[__m512; 4]; 4]) -> __m512 {
    // A_n = acc[n % 4][n / 4]
    let a = |n: usize| acc[n % 4][n / 4];
    // U_m = [p0 + p2, p1 + p3, q0 + q2, q1 + q3] (128-bit lanes) of p = A_2m, q = A_2m+1
    let mut u = [_mm512_setzero_ps(); 8];
    for (m, um) in u.iter_mut().enumerate() {
        let (p, q) = (a(2 * m), a(2 * m + 1));
        *um = _mm512_add_ps(
            _mm512_shuffle_f32x4::<0x44>(p, q),
            _mm512_shuffle_f32x4::<0xEE>(p, q),
        );
    }
    // V_j: 128-bit lane l holds A_{4j + l}'s four partial sums
    let mut v = [_mm512_setzero_ps(); 4];
    for (j, vj) in v.iter_mut().enumerate() {
        let (p, q) = (u[2 * j], u[2 * j + 1]);
        *vj = _mm512_add_ps(
            _mm512_shuffle_f32x4::<0x88>(p, q),
            _mm512_shuffle_f32x4::<0xDD>(p, q),
        );
    }
    // within each 128-bit lane l: [ΣV0, ΣV1, ΣV2, ΣV3], i.e. element e = Σ A_{4e + l}
    // = Σ acc[l][e], at position 4l + e
    let p = _mm512_add_ps(
        _mm512_unpacklo_ps(v[0], v[1]),
        _mm512_unpackhi_ps(v[0], v[1]),
    );
    let q = _mm512_add_ps(
        _mm512_unpacklo_ps(v[2], v[3]),
        _mm512_unpackhi_ps(v[2], v[3]),
    );
    let (pd, qd) = (_mm512_castps_pd(p), _mm512_castps_pd(q));
    _mm512_add_ps(
        _mm512_castpd_ps(_mm512_unpacklo_pd(pd, qd)),
        _mm512_castpd_ps(_mm512_unpackhi_pd(pd, qd)),
    )
}

/// Horizontal sum of an 8-wide f32 vector.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn hsum8(v: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)))
}

/// [`gram_lower_avx512`] at AVX2: each 4×4 tile as two 4×2 register blocks, 8 rows per
/// vector.
///
/// # Safety
/// AVX2 and FMA must be available; sizes as [`gram_lower_avx512`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn gram_lower_avx2(z: &[f32], a: &[f32], dp: usize, out: &mut [f64]) {
    debug_assert!(
        z.len() >= dp * TILE
            && a.len() >= dp * TILE
            && out.len() >= dp * dp
            && dp.is_multiple_of(4)
    );
    let mut ib = 0;
    while ib < dp {
        let mut jb = 0;
        while jb <= ib + 2 {
            let mut acc = [[_mm256_setzero_ps(); 2]; 4];
            let zp = z.as_ptr().add(ib * TILE);
            let ap = a.as_ptr().add(jb * TILE);
            let mut r = 0;
            while r < TILE {
                let z0 = _mm256_loadu_ps(zp.add(r));
                let z1 = _mm256_loadu_ps(zp.add(TILE + r));
                let z2 = _mm256_loadu_ps(zp.add(2 * TILE + r));
                let z3 = _mm256_loadu_ps(zp.add(3 * TILE + r));
                macro_rules! col {
                    ($t:literal) => {
                        let av = _mm256_loadu_ps(ap.add($t * TILE + r));
                        acc[0][$t] = _mm256_fmadd_ps(z0, av, acc[0][$t]);
                        acc[1][$t] = _mm256_fmadd_ps(z1, av, acc[1][$t]);
                        acc[2][$t] = _mm256_fmadd_ps(z2, av, acc[2][$t]);
                        acc[3][$t] = _mm256_fmadd_ps(z3, av, acc[3][$t]);
                    };
                }
                col!(0);
                col!(1);
                r += 8;
            }
            for s in 0..4 {
                for t in 0..2 {
                    *out.get_unchecked_mut((ib + s) * dp + jb + t) = f64::from(hsum8(acc[s][t]));
                }
            }
            jb += 2;
        }
        ib += 4;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn simd_levels() -> Vec<Isa> {
        let mut v = Vec::new();
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                v.push(Isa::Avx2);
            }
            if std::arch::is_x86_feature_detected!("avx512f") {
                v.push(Isa::Avx512);
            }
        }
        v
    }

    /// The f32 quadratic forms and Gram products of every SIMD level agree with the plain
    /// f64 sums of the same f32 values to f32 rounding, for feature counts on and off the
    /// register blocks (odd D: the last single column; D not a multiple of 4: the pad).
    #[test]
    fn simd_f32_kernels_agree_with_f64_sums() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for &d in &[1usize, 2, 3, 7, 16, 17, 64] {
            let dp = d.div_ceil(4) * 4;
            let p: Vec<f32> = (0..d * d)
                .map(|t| {
                    let (i, j) = (t / d, t % d);
                    if i > j {
                        0.0
                    } else if i == j {
                        1.0 + rng.random::<f32>()
                    } else {
                        rng.random::<f32>() - 0.5
                    }
                })
                .collect();
            let bias: Vec<f32> = (0..d).map(|_| rng.random::<f32>() - 0.5).collect();
            let xt64: Vec<f64> = (0..d * TILE)
                .map(|_| rng.random::<f64>() * 4.0 - 2.0)
                .collect();
            let g: Vec<f64> = (0..TILE).map(|_| rng.random::<f64>()).collect();
            let m: Vec<f64> = (0..d).map(|_| rng.random::<f64>() - 0.5).collect();
            // f64 sums of the same inputs
            let mut q_ref = vec![0.0f64; TILE];
            for (r, q) in q_ref.iter_mut().enumerate() {
                for j in 0..d {
                    let mut y = -f64::from(bias[j]);
                    for i in 0..=j {
                        y += f64::from(p[i * d + j]) * xt64[i * TILE + r];
                    }
                    *q += y * y;
                }
            }
            let a_ref = |i: usize, r: usize| xt64[i * TILE + r] - m[i];
            let p64: Vec<f64> = p.iter().map(|&v| f64::from(v)).collect();
            let b64: Vec<f64> = bias.iter().map(|&v| f64::from(v)).collect();
            for isa in simd_levels().into_iter().chain([Isa::Plain]) {
                let lanes = Lanes32::new(isa, d, &p64, &b64);
                let mut s = Scratch32::default();
                s.ensure(d, dp);
                s.round_tile(&lanes, &xt64, d);
                let mut q = vec![0.0; TILE];
                quad_component(&lanes, &s, 0, d, true, &mut q);
                for r in 0..TILE {
                    let tol = 1e-5 * q_ref[r].max(1.0);
                    assert!(
                        (q[r] - q_ref[r]).abs() <= tol,
                        "{isa:?} d={d} r={r}: {} vs {}",
                        q[r],
                        q_ref[r]
                    );
                }
                let mut s1 = vec![0.0; d];
                let mut s2t = vec![f64::NAN; dp * dp];
                moments_component(&lanes, &mut s, &g, &m, d, dp, &mut s1, &mut s2t);
                let scale: f64 = g.iter().sum::<f64>() * 9.0;
                for i in 0..d {
                    let want: f64 = (0..TILE).map(|r| g[r] * a_ref(i, r)).sum();
                    assert!(
                        (s1[i] - want).abs() <= 1e-5 * scale,
                        "{isa:?} d={d} s1[{i}]"
                    );
                    for j in 0..=i {
                        let want: f64 = (0..TILE).map(|r| g[r] * a_ref(i, r) * a_ref(j, r)).sum();
                        let got = s2t[i * dp + j];
                        assert!(
                            (got - want).abs() <= 1e-5 * scale,
                            "{isa:?} d={d} s2[{i},{j}]: {got} vs {want}"
                        );
                    }
                }
            }
        }
    }
}
