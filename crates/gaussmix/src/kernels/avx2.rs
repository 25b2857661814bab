//! AVX2 + FMA versions of the two GEMM-like loops, with explicit intrinsics sized for the
//! sixteen 256-bit registers (the portable versions in [`super`], written for eight-wide
//! lane groups, need twice as many and spill on AVX2 machines such as AMD Zen 2/3).

use std::arch::x86_64::*;

use super::simd::{GROUP, TILE};

/// Rows per register block of [`quad_triangular`]: four 4-wide vectors.
const SUB: usize = 16;

macro_rules! rep4 {
    ($m:ident) => {
        $m!(0);
        $m!(1);
        $m!(2);
        $m!(3);
    };
}

/// Horizontal sum of a 4-wide vector.
#[inline(always)]
unsafe fn hsum(v: __m256d) -> f64 {
    let lo = _mm256_castpd256_pd128(v);
    let hi = _mm256_extractf128_pd::<1>(v);
    let s = _mm_add_pd(lo, hi);
    _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)))
}

/// `out[r] = ‖(x_r − c)P − bias‖²` for the `GROUP` rows at `g0`, `P` upper triangular
/// (row-major): 16 rows and two columns of `P` at a time, so each load of `x` feeds two
/// FMAs and the 8 accumulators plus 4 partial norms stay in registers.
///
/// # Safety
/// AVX2 and FMA must be available; `xt` holds `d` rows of `TILE` values,
/// `g0 + GROUP ≤ TILE`, `p` is `d×d`, `bias` has `d` values and `out` `GROUP`.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn quad_triangular(
    xt: &[f64],
    g0: usize,
    p: &[f64],
    bias: &[f64],
    d: usize,
    out: &mut [f64],
) {
    debug_assert!(
        xt.len() >= d * TILE
            && g0 + GROUP <= TILE
            && p.len() >= d * d
            && bias.len() >= d
            && out.len() >= GROUP
    );
    for s0 in (0..GROUP).step_by(SUB) {
        let base = xt.as_ptr().add(g0 + s0);
        let mut q = [_mm256_setzero_pd(); 4];
        let mut j = 0;
        while j + 1 < d {
            let mut a = [_mm256_set1_pd(-*bias.get_unchecked(j)); 4];
            let mut b = [_mm256_set1_pd(-*bias.get_unchecked(j + 1)); 4];
            for i in 0..=j {
                let pa = _mm256_set1_pd(*p.get_unchecked(i * d + j));
                let pb = _mm256_set1_pd(*p.get_unchecked(i * d + j + 1));
                let r = base.add(i * TILE);
                macro_rules! step {
                    ($v:literal) => {
                        let x = _mm256_loadu_pd(r.add($v * 4));
                        a[$v] = _mm256_fmadd_pd(pa, x, a[$v]);
                        b[$v] = _mm256_fmadd_pd(pb, x, b[$v]);
                    };
                }
                rep4!(step);
            }
            let pb = _mm256_set1_pd(*p.get_unchecked((j + 1) * d + j + 1));
            let r = base.add((j + 1) * TILE);
            macro_rules! fin {
                ($v:literal) => {
                    b[$v] = _mm256_fmadd_pd(pb, _mm256_loadu_pd(r.add($v * 4)), b[$v]);
                    q[$v] = _mm256_fmadd_pd(a[$v], a[$v], q[$v]);
                    q[$v] = _mm256_fmadd_pd(b[$v], b[$v], q[$v]);
                };
            }
            rep4!(fin);
            j += 2;
        }
        if j < d {
            let mut a = [_mm256_set1_pd(-*bias.get_unchecked(j)); 4];
            for i in 0..=j {
                let pa = _mm256_set1_pd(*p.get_unchecked(i * d + j));
                let r = base.add(i * TILE);
                macro_rules! step {
                    ($v:literal) => {
                        a[$v] = _mm256_fmadd_pd(pa, _mm256_loadu_pd(r.add($v * 4)), a[$v]);
                    };
                }
                rep4!(step);
            }
            macro_rules! fin {
                ($v:literal) => {
                    q[$v] = _mm256_fmadd_pd(a[$v], a[$v], q[$v]);
                };
            }
            rep4!(fin);
        }
        let o = out.as_mut_ptr().add(s0);
        macro_rules! store {
            ($v:literal) => {
                _mm256_storeu_pd(o.add($v * 4), q[$v]);
            };
        }
        rep4!(store);
    }
}

/// `out[i][j] = Σ_r z[i][r]·a[j][r]` for the 4×4 tiles on or below the diagonal
/// (`dp` a multiple of 4), each as two 4×2 register blocks (8 accumulators, 4 `z` rows
/// and one `a` row live at a time).
///
/// # Safety
/// AVX2 and FMA must be available; `z` and `a` hold `dp` rows of `TILE`; `out` is
/// `dp×dp`.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn gram_lower(z: &[f64], a: &[f64], dp: usize, out: &mut [f64]) {
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
            let mut acc = [[_mm256_setzero_pd(); 2]; 4];
            let zp = z.as_ptr().add(ib * TILE);
            let ap = a.as_ptr().add(jb * TILE);
            let mut r = 0;
            while r < TILE {
                let z0 = _mm256_loadu_pd(zp.add(r));
                let z1 = _mm256_loadu_pd(zp.add(TILE + r));
                let z2 = _mm256_loadu_pd(zp.add(2 * TILE + r));
                let z3 = _mm256_loadu_pd(zp.add(3 * TILE + r));
                macro_rules! col {
                    ($t:literal) => {
                        let av = _mm256_loadu_pd(ap.add($t * TILE + r));
                        acc[0][$t] = _mm256_fmadd_pd(z0, av, acc[0][$t]);
                        acc[1][$t] = _mm256_fmadd_pd(z1, av, acc[1][$t]);
                        acc[2][$t] = _mm256_fmadd_pd(z2, av, acc[2][$t]);
                        acc[3][$t] = _mm256_fmadd_pd(z3, av, acc[3][$t]);
                    };
                }
                col!(0);
                col!(1);
                r += 4;
            }
            for s in 0..4 {
                for t in 0..2 {
                    *out.get_unchecked_mut((ib + s) * dp + jb + t) = hsum(acc[s][t]);
                }
            }
            jb += 2;
        }
        ib += 4;
    }
}

/// `at[i] = xt[i] − m_i`, `zt[i] = g·at[i]` for `i < d`, and returns `Σ_r zt[i][r]` in `s1`.
///
/// # Safety
/// AVX2 and FMA must be available; `xt`, `at`, `zt` hold at least `d` rows of `TILE`,
/// `g` has `TILE` values, `m` and `s1` `d`.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn centre_weight(
    xt: &[f64],
    g: &[f64],
    m: &[f64],
    d: usize,
    at: &mut [f64],
    zt: &mut [f64],
    s1: &mut [f64],
) {
    debug_assert!(
        xt.len() >= d * TILE
            && at.len() >= d * TILE
            && zt.len() >= d * TILE
            && g.len() >= TILE
            && m.len() >= d
            && s1.len() >= d
    );
    let gp = g.as_ptr();
    for i in 0..d {
        let mi = _mm256_set1_pd(*m.get_unchecked(i));
        let x = xt.as_ptr().add(i * TILE);
        let a = at.as_mut_ptr().add(i * TILE);
        let z = zt.as_mut_ptr().add(i * TILE);
        let mut acc = [_mm256_setzero_pd(); 4];
        let mut r = 0;
        while r < TILE {
            macro_rules! step {
                ($u:literal) => {
                    let av = _mm256_sub_pd(_mm256_loadu_pd(x.add(r + $u * 4)), mi);
                    let zv = _mm256_mul_pd(_mm256_loadu_pd(gp.add(r + $u * 4)), av);
                    _mm256_storeu_pd(a.add(r + $u * 4), av);
                    _mm256_storeu_pd(z.add(r + $u * 4), zv);
                    acc[$u] = _mm256_add_pd(acc[$u], zv);
                };
            }
            rep4!(step);
            r += 16;
        }
        let t = _mm256_add_pd(_mm256_add_pd(acc[0], acc[1]), _mm256_add_pd(acc[2], acc[3]));
        *s1.get_unchecked_mut(i) = hsum(t);
    }
}

/// `s1[i] = Σ_r g_r (x_ri − m_i)` and `s2[i] = Σ_r g_r (x_ri − m_i)²` for `i < d`, four
/// independent accumulator chains per feature.
///
/// # Safety
/// AVX2 and FMA must be available; `xt` holds `d` rows of `TILE`, `g` `TILE` values,
/// `m`, `s1` and `s2` `d`.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn diag_moments(
    xt: &[f64],
    g: &[f64],
    m: &[f64],
    d: usize,
    s1: &mut [f64],
    s2: &mut [f64],
) {
    debug_assert!(
        xt.len() >= d * TILE && g.len() >= TILE && m.len() >= d && s1.len() >= d && s2.len() >= d
    );
    let gp = g.as_ptr();
    for i in 0..d {
        let mi = _mm256_set1_pd(*m.get_unchecked(i));
        let x = xt.as_ptr().add(i * TILE);
        let mut a1 = [_mm256_setzero_pd(); 4];
        let mut a2 = [_mm256_setzero_pd(); 4];
        let mut r = 0;
        while r < TILE {
            macro_rules! step {
                ($u:literal) => {
                    let a = _mm256_sub_pd(_mm256_loadu_pd(x.add(r + $u * 4)), mi);
                    let z = _mm256_mul_pd(_mm256_loadu_pd(gp.add(r + $u * 4)), a);
                    a1[$u] = _mm256_add_pd(a1[$u], z);
                    a2[$u] = _mm256_fmadd_pd(z, a, a2[$u]);
                };
            }
            rep4!(step);
            r += 16;
        }
        let t1 = _mm256_add_pd(_mm256_add_pd(a1[0], a1[1]), _mm256_add_pd(a1[2], a1[3]));
        let t2 = _mm256_add_pd(_mm256_add_pd(a2[0], a2[1]), _mm256_add_pd(a2[2], a2[3]));
        *s1.get_unchecked_mut(i) = hsum(t1);
        *s2.get_unchecked_mut(i) = hsum(t2);
    }
}

/// Transposes rows `r0..r0 + len` of a row-major `n × d` slice of f64 into the
/// feature-major tile `xt` (`xt[i·TILE + r] = xs[(r0 + r)·d + i] − c[i]`), 4×4 blocks at a
/// time in registers; ragged edges element by element.
///
/// # Safety
/// AVX2 must be available; `xs` holds rows `r0..r0 + len` of width `d`, `c` has `d`
/// values, `xt` holds `d` rows of `TILE`, and `len ≤ TILE`.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn load_tile_rows(
    xs: &[f64],
    d: usize,
    r0: usize,
    len: usize,
    c: &[f64],
    xt: &mut [f64],
) {
    debug_assert!(xs.len() >= (r0 + len) * d);
    let src = xs.as_ptr();
    transpose_tile(
        d,
        len,
        c,
        xt,
        |r, i| _mm256_loadu_pd(src.add((r0 + r) * d + i)),
        |r, i| *src.add((r0 + r) * d + i),
    )
}

/// [`load_tile_rows`] for f32 data, widened to f64 on load.
///
/// # Safety
/// As [`load_tile_rows`].
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn load_tile_rows_f32(
    xs: &[f32],
    d: usize,
    r0: usize,
    len: usize,
    c: &[f64],
    xt: &mut [f64],
) {
    debug_assert!(xs.len() >= (r0 + len) * d);
    let src = xs.as_ptr();
    transpose_tile(
        d,
        len,
        c,
        xt,
        |r, i| _mm256_cvtps_pd(_mm_loadu_ps(src.add((r0 + r) * d + i))),
        |r, i| f64::from(*src.add((r0 + r) * d + i)),
    )
}

/// The body of the tile loaders: `vec(r, i)` loads features `i..i + 4` of tile row `r`,
/// `one(r, i)` a single value.
#[inline(always)]
unsafe fn transpose_tile(
    d: usize,
    len: usize,
    c: &[f64],
    xt: &mut [f64],
    vec: impl Fn(usize, usize) -> __m256d,
    one: impl Fn(usize, usize) -> f64,
) {
    debug_assert!(c.len() >= d && xt.len() >= d * TILE && len <= TILE);
    let full_r = len / 4 * 4;
    let full_i = d / 4 * 4;
    let dst = xt.as_mut_ptr();
    let mut rb = 0;
    while rb < full_r {
        let mut ib = 0;
        while ib < full_i {
            let cv = _mm256_loadu_pd(c.as_ptr().add(ib));
            let (a0, a1, a2, a3) = (
                _mm256_sub_pd(vec(rb, ib), cv),
                _mm256_sub_pd(vec(rb + 1, ib), cv),
                _mm256_sub_pd(vec(rb + 2, ib), cv),
                _mm256_sub_pd(vec(rb + 3, ib), cv),
            );
            // a_l = [x_l0 x_l1 x_l2 x_l3] → column j = [x_0j x_1j x_2j x_3j]
            let t0 = _mm256_unpacklo_pd(a0, a1); // x00 x10 x02 x12
            let t1 = _mm256_unpackhi_pd(a0, a1); // x01 x11 x03 x13
            let t2 = _mm256_unpacklo_pd(a2, a3); // x20 x30 x22 x32
            let t3 = _mm256_unpackhi_pd(a2, a3); // x21 x31 x23 x33
            let out = |j: usize| dst.add((ib + j) * TILE + rb);
            _mm256_storeu_pd(out(0), _mm256_permute2f128_pd::<0x20>(t0, t2));
            _mm256_storeu_pd(out(1), _mm256_permute2f128_pd::<0x20>(t1, t3));
            _mm256_storeu_pd(out(2), _mm256_permute2f128_pd::<0x31>(t0, t2));
            _mm256_storeu_pd(out(3), _mm256_permute2f128_pd::<0x31>(t1, t3));
            ib += 4;
        }
        for r in rb..rb + 4 {
            for i in full_i..d {
                *dst.add(i * TILE + r) = one(r, i) - *c.get_unchecked(i);
            }
        }
        rb += 4;
    }
    for r in full_r..len {
        for i in 0..d {
            *dst.add(i * TILE + r) = one(r, i) - *c.get_unchecked(i);
        }
    }
}
