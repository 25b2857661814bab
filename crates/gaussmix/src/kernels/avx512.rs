//! AVX-512 versions of the three hottest loops, with explicit intrinsics so that the
//! accumulators stay in registers (the portable versions in [`super`] spill them).

use std::arch::x86_64::*;

use super::simd::{GROUP, TILE};

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

/// `out[r] = ‖(x_r − c)P − bias‖²` for the `GROUP` (= 64) rows at `g0`, two columns of
/// the upper-triangular `P` at a time so each load of `x` feeds two FMAs.
///
/// # Safety
/// AVX-512F must be available; `xt` holds `d` rows of `TILE` values, `g0 + 64 ≤ TILE`,
/// `p` is `d×d`, `bias` has `d` values and `out` 64.
#[target_feature(enable = "avx512f")]
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
    let base = xt.as_ptr().add(g0);
    let mut q = [_mm512_setzero_pd(); 8];
    let mut j = 0;
    while j + 1 < d {
        let mut a = [_mm512_set1_pd(-*bias.get_unchecked(j)); 8];
        let mut b = [_mm512_set1_pd(-*bias.get_unchecked(j + 1)); 8];
        for i in 0..=j {
            let pa = _mm512_set1_pd(*p.get_unchecked(i * d + j));
            let pb = _mm512_set1_pd(*p.get_unchecked(i * d + j + 1));
            let r = base.add(i * TILE);
            macro_rules! step {
                ($v:literal) => {
                    let x = _mm512_loadu_pd(r.add($v * 8));
                    a[$v] = _mm512_fmadd_pd(pa, x, a[$v]);
                    b[$v] = _mm512_fmadd_pd(pb, x, b[$v]);
                };
            }
            rep8!(step);
        }
        let pb = _mm512_set1_pd(*p.get_unchecked((j + 1) * d + j + 1));
        let r = base.add((j + 1) * TILE);
        macro_rules! fin {
            ($v:literal) => {
                b[$v] = _mm512_fmadd_pd(pb, _mm512_loadu_pd(r.add($v * 8)), b[$v]);
                q[$v] = _mm512_fmadd_pd(a[$v], a[$v], q[$v]);
                q[$v] = _mm512_fmadd_pd(b[$v], b[$v], q[$v]);
            };
        }
        rep8!(fin);
        j += 2;
    }
    if j < d {
        let mut a = [_mm512_set1_pd(-*bias.get_unchecked(j)); 8];
        for i in 0..=j {
            let pa = _mm512_set1_pd(*p.get_unchecked(i * d + j));
            let r = base.add(i * TILE);
            macro_rules! step {
                ($v:literal) => {
                    a[$v] = _mm512_fmadd_pd(pa, _mm512_loadu_pd(r.add($v * 8)), a[$v]);
                };
            }
            rep8!(step);
        }
        macro_rules! fin {
            ($v:literal) => {
                q[$v] = _mm512_fmadd_pd(a[$v], a[$v], q[$v]);
            };
        }
        rep8!(fin);
    }
    let o = out.as_mut_ptr();
    macro_rules! store {
        ($v:literal) => {
            _mm512_storeu_pd(o.add($v * 8), q[$v]);
        };
    }
    rep8!(store);
}

/// `at[i] = xt[i] − m_i`, `zt[i] = g·at[i]` for `i < d`, and returns `Σ_r zt[i][r]` in `s1`.
///
/// # Safety
/// AVX-512F must be available; `xt`, `at`, `zt` hold at least `d` rows of `TILE`, `g`
/// has `TILE` values, `m` and `s1` `d`.
#[target_feature(enable = "avx512f")]
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
        xt.len() >= d * TILE && at.len() >= d * TILE && zt.len() >= d * TILE && g.len() >= TILE
    );
    for i in 0..d {
        let mi = _mm512_set1_pd(*m.get_unchecked(i));
        let x = xt.as_ptr().add(i * TILE);
        let a = at.as_mut_ptr().add(i * TILE);
        let z = zt.as_mut_ptr().add(i * TILE);
        let mut acc0 = _mm512_setzero_pd();
        let mut acc1 = _mm512_setzero_pd();
        let mut r = 0;
        while r < TILE {
            let a0 = _mm512_sub_pd(_mm512_loadu_pd(x.add(r)), mi);
            let a1 = _mm512_sub_pd(_mm512_loadu_pd(x.add(r + 8)), mi);
            let z0 = _mm512_mul_pd(_mm512_loadu_pd(g.as_ptr().add(r)), a0);
            let z1 = _mm512_mul_pd(_mm512_loadu_pd(g.as_ptr().add(r + 8)), a1);
            _mm512_storeu_pd(a.add(r), a0);
            _mm512_storeu_pd(a.add(r + 8), a1);
            _mm512_storeu_pd(z.add(r), z0);
            _mm512_storeu_pd(z.add(r + 8), z1);
            acc0 = _mm512_add_pd(acc0, z0);
            acc1 = _mm512_add_pd(acc1, z1);
            r += 16;
        }
        *s1.get_unchecked_mut(i) = _mm512_reduce_add_pd(_mm512_add_pd(acc0, acc1));
    }
}

/// `out[i][j] = Σ_r z[i][r]·a[j][r]` for the 4×4 tiles on or below the diagonal
/// (`dp` a multiple of 4).
///
/// # Safety
/// AVX-512F must be available; `z` and `a` hold `dp` rows of `TILE`; `out` is `dp×dp`.
#[target_feature(enable = "avx512f")]
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
        while jb <= ib {
            let mut acc = [[_mm512_setzero_pd(); 4]; 4];
            let zp = z.as_ptr().add(ib * TILE);
            let ap = a.as_ptr().add(jb * TILE);
            let mut r = 0;
            while r < TILE {
                let z0 = _mm512_loadu_pd(zp.add(r));
                let z1 = _mm512_loadu_pd(zp.add(TILE + r));
                let z2 = _mm512_loadu_pd(zp.add(2 * TILE + r));
                let z3 = _mm512_loadu_pd(zp.add(3 * TILE + r));
                macro_rules! col {
                    ($t:literal) => {
                        let av = _mm512_loadu_pd(ap.add($t * TILE + r));
                        acc[0][$t] = _mm512_fmadd_pd(z0, av, acc[0][$t]);
                        acc[1][$t] = _mm512_fmadd_pd(z1, av, acc[1][$t]);
                        acc[2][$t] = _mm512_fmadd_pd(z2, av, acc[2][$t]);
                        acc[3][$t] = _mm512_fmadd_pd(z3, av, acc[3][$t]);
                    };
                }
                col!(0);
                col!(1);
                col!(2);
                col!(3);
                r += 8;
            }
            for s in 0..4 {
                for t in 0..4 {
                    *out.get_unchecked_mut((ib + s) * dp + jb + t) =
                        _mm512_reduce_add_pd(acc[s][t]);
                }
            }
            jb += 4;
        }
        ib += 4;
    }
}

/// `s1[i] = Σ_r g_r (x_ri − m_i)` and `s2[i] = Σ_r g_r (x_ri − m_i)²` for `i < d`, four
/// independent accumulator chains per feature.
///
/// # Safety
/// AVX-512F must be available; `xt` holds `d` rows of `TILE`, `g` `TILE` values, `m`,
/// `s1` and `s2` `d`.
#[target_feature(enable = "avx512f")]
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
        let mi = _mm512_set1_pd(*m.get_unchecked(i));
        let x = xt.as_ptr().add(i * TILE);
        let mut a1 = [_mm512_setzero_pd(); 4];
        let mut a2 = [_mm512_setzero_pd(); 4];
        let mut r = 0;
        while r < TILE {
            macro_rules! step {
                ($u:literal) => {
                    let a = _mm512_sub_pd(_mm512_loadu_pd(x.add(r + $u * 8)), mi);
                    let z = _mm512_mul_pd(_mm512_loadu_pd(gp.add(r + $u * 8)), a);
                    a1[$u] = _mm512_add_pd(a1[$u], z);
                    a2[$u] = _mm512_fmadd_pd(z, a, a2[$u]);
                };
            }
            step!(0);
            step!(1);
            step!(2);
            step!(3);
            r += 32;
        }
        let t1 = _mm512_add_pd(_mm512_add_pd(a1[0], a1[1]), _mm512_add_pd(a1[2], a1[3]));
        let t2 = _mm512_add_pd(_mm512_add_pd(a2[0], a2[1]), _mm512_add_pd(a2[2], a2[3]));
        *s1.get_unchecked_mut(i) = _mm512_reduce_add_pd(t1);
        *s2.get_unchecked_mut(i) = _mm512_reduce_add_pd(t2);
    }
}

/// Transposes rows `r0..r0 + len` of a row-major `n × d` slice into the feature-major
/// tile `xt` (`xt[i·TILE + r] = xs[(r0 + r)·d + i] − c[i]`), 8×8 blocks at a time in
/// registers; ragged edges element by element.
///
/// # Safety
/// AVX-512F must be available; `xs` holds rows `r0..r0 + len` of width `d`, `c` has `d`
/// values, `xt` holds `d` rows of `TILE`, and `len ≤ TILE`.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn load_tile_rows(
    xs: &[f64],
    d: usize,
    r0: usize,
    len: usize,
    c: &[f64],
    xt: &mut [f64],
) {
    debug_assert!(
        xs.len() >= (r0 + len) * d && c.len() >= d && xt.len() >= d * TILE && len <= TILE
    );
    let full_r = len / 8 * 8;
    let full_i = d / 8 * 8;
    let src = xs.as_ptr();
    let dst = xt.as_mut_ptr();
    let mut rb = 0;
    while rb < full_r {
        let mut ib = 0;
        while ib < full_i {
            let cv = _mm512_loadu_pd(c.as_ptr().add(ib));
            let row =
                |l: usize| _mm512_sub_pd(_mm512_loadu_pd(src.add((r0 + rb + l) * d + ib)), cv);
            let (a0, a1, a2, a3, a4, a5, a6, a7) = (
                row(0),
                row(1),
                row(2),
                row(3),
                row(4),
                row(5),
                row(6),
                row(7),
            );
            let t0 = _mm512_unpacklo_pd(a0, a1);
            let t1 = _mm512_unpackhi_pd(a0, a1);
            let t2 = _mm512_unpacklo_pd(a2, a3);
            let t3 = _mm512_unpackhi_pd(a2, a3);
            let t4 = _mm512_unpacklo_pd(a4, a5);
            let t5 = _mm512_unpackhi_pd(a4, a5);
            let t6 = _mm512_unpacklo_pd(a6, a7);
            let t7 = _mm512_unpackhi_pd(a6, a7);
            let u0 = _mm512_shuffle_f64x2::<0x88>(t0, t2);
            let u1 = _mm512_shuffle_f64x2::<0x88>(t1, t3);
            let u2 = _mm512_shuffle_f64x2::<0xDD>(t0, t2);
            let u3 = _mm512_shuffle_f64x2::<0xDD>(t1, t3);
            let u4 = _mm512_shuffle_f64x2::<0x88>(t4, t6);
            let u5 = _mm512_shuffle_f64x2::<0x88>(t5, t7);
            let u6 = _mm512_shuffle_f64x2::<0xDD>(t4, t6);
            let u7 = _mm512_shuffle_f64x2::<0xDD>(t5, t7);
            let out = |j: usize| dst.add((ib + j) * TILE + rb);
            _mm512_storeu_pd(out(0), _mm512_shuffle_f64x2::<0x88>(u0, u4));
            _mm512_storeu_pd(out(1), _mm512_shuffle_f64x2::<0x88>(u1, u5));
            _mm512_storeu_pd(out(2), _mm512_shuffle_f64x2::<0x88>(u2, u6));
            _mm512_storeu_pd(out(3), _mm512_shuffle_f64x2::<0x88>(u3, u7));
            _mm512_storeu_pd(out(4), _mm512_shuffle_f64x2::<0xDD>(u0, u4));
            _mm512_storeu_pd(out(5), _mm512_shuffle_f64x2::<0xDD>(u1, u5));
            _mm512_storeu_pd(out(6), _mm512_shuffle_f64x2::<0xDD>(u2, u6));
            _mm512_storeu_pd(out(7), _mm512_shuffle_f64x2::<0xDD>(u3, u7));
            ib += 8;
        }
        for r in rb..rb + 8 {
            for i in full_i..d {
                *dst.add(i * TILE + r) = *src.add((r0 + r) * d + i) - *c.get_unchecked(i);
            }
        }
        rb += 8;
    }
    for r in full_r..len {
        for i in 0..d {
            *dst.add(i * TILE + r) = *src.add((r0 + r) * d + i) - *c.get_unchecked(i);
        }
    }
}

/// The nearest of `k` centres for the first `len` rows of the tile: `m` and `p` are the
/// centres' offsets and unit factors (`k×d` each), as in `super::quad_diag`; 32 rows at a
/// time, each distance accumulated in registers and compared at once (`>` on
/// `fma(−½, q, 0)`, so the first of equals wins), labels and squared distances out.
///
/// # Safety
/// AVX-512F must be available; `xt` holds `d` rows of `TILE`, `m` and `p` `k·d` values,
/// `labels` and `dists` `len ≤ TILE`.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn nearest(
    xt: &[f64],
    m: &[f64],
    p: &[f64],
    k: usize,
    d: usize,
    labels: &mut [usize],
    dists: &mut [f64],
) {
    nearest_tiles::<false>(xt, m, p, k, d, labels, dists, &mut [])
}

/// [`nearest`] that also gives each row's second smallest squared distance (over the
/// other centres; `+∞` for one centre): the labels and distances are [`nearest`]'s bit
/// for bit (the same loop), the second is carried beside them with a max.
///
/// # Safety
/// As for [`nearest`]; `second` has `len` values too.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn nearest2(
    xt: &[f64],
    m: &[f64],
    p: &[f64],
    k: usize,
    d: usize,
    labels: &mut [usize],
    dists: &mut [f64],
    second: &mut [f64],
) {
    debug_assert!(second.len() == labels.len());
    nearest_tiles::<true>(xt, m, p, k, d, labels, dists, second)
}

/// The loop of [`nearest`] and [`nearest2`]: with `SECOND`, the runner-up's distance is
/// tracked beside the best and written to `second` (unused otherwise).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn nearest_tiles<const SECOND: bool>(
    xt: &[f64],
    m: &[f64],
    p: &[f64],
    k: usize,
    d: usize,
    labels: &mut [usize],
    dists: &mut [f64],
    second: &mut [f64],
) {
    let len = labels.len();
    debug_assert!(
        xt.len() >= d * TILE
            && m.len() >= k * d
            && p.len() >= k * d
            && dists.len() == len
            && len <= TILE
            && k >= 1
    );
    let half = _mm512_set1_pd(-0.5);
    let zero = _mm512_setzero_pd();
    let minus_inf = _mm512_set1_pd(f64::NEG_INFINITY);
    let mut r0 = 0;
    while r0 < len {
        let base = xt.as_ptr().add(r0);
        let mut best = [zero; 4];
        let mut next = [minus_inf; 4];
        let mut arg = [zero; 4];
        for kk in 0..k {
            let mut q = [zero; 4];
            for i in 0..d {
                let mi = _mm512_set1_pd(*m.get_unchecked(kk * d + i));
                let pi = _mm512_set1_pd(*p.get_unchecked(kk * d + i));
                let r = base.add(i * TILE);
                for u in 0..4 {
                    let y = _mm512_mul_pd(_mm512_sub_pd(_mm512_loadu_pd(r.add(8 * u)), mi), pi);
                    q[u] = _mm512_fmadd_pd(y, y, q[u]);
                }
            }
            if kk == 0 {
                for u in 0..4 {
                    best[u] = _mm512_fmadd_pd(half, q[u], zero);
                }
            } else {
                let kf = _mm512_set1_pd(kk as f64);
                for u in 0..4 {
                    let v = _mm512_fmadd_pd(half, q[u], zero);
                    let gt = _mm512_cmp_pd_mask::<_CMP_GT_OQ>(v, best[u]);
                    if SECOND {
                        // not nearer: the runner-up is the larger of it and v; nearer:
                        // the old best
                        next[u] = _mm512_mask_mov_pd(_mm512_max_pd(next[u], v), gt, best[u]);
                    }
                    best[u] = _mm512_mask_mov_pd(best[u], gt, v);
                    arg[u] = _mm512_mask_mov_pd(arg[u], gt, kf);
                }
            }
        }
        let mut b = [0.0f64; 32];
        let mut a = [0.0f64; 32];
        let mut s = [0.0f64; 32];
        for u in 0..4 {
            _mm512_storeu_pd(b.as_mut_ptr().add(8 * u), best[u]);
            _mm512_storeu_pd(a.as_mut_ptr().add(8 * u), arg[u]);
            if SECOND {
                _mm512_storeu_pd(s.as_mut_ptr().add(8 * u), next[u]);
            }
        }
        let n = 32.min(len - r0);
        for j in 0..n {
            *labels.get_unchecked_mut(r0 + j) = a[j] as usize;
            *dists.get_unchecked_mut(r0 + j) = -2.0 * b[j];
            if SECOND {
                *second.get_unchecked_mut(r0 + j) = -2.0 * s[j];
            }
        }
        r0 += 32;
    }
}
