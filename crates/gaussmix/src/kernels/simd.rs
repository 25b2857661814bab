//! Lane-parallel building blocks written on `[f64; LANES]` arrays, which LLVM turns into
//! vector instructions inside the `#[target_feature]` wrappers of [`super`].

/// Values per lane group: one AVX-512 register of f64.
pub(crate) const LANES: usize = 8;

/// Rows per tile.
pub(crate) const TILE: usize = 256;
/// Rows per register group of the quadratic-form kernel.
pub(crate) const GROUP: usize = 64;

/// The sum of one lane group in a fixed order (pairs four apart, then their sums).
#[inline(always)]
pub(crate) fn hsum(v: &[f64; LANES]) -> f64 {
    ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]))
}

/// Fused multiply-add where the target has it (the wrappers enable FMA), plain
/// multiply-add in the portable fallback.
#[inline(always)]
pub(crate) fn fma<const F: bool>(a: f64, b: f64, c: f64) -> f64 {
    if F {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

const LOG2E: f64 = std::f64::consts::LOG2_E;
const LN2_HI: f64 = 6.931_471_803_691_238e-1;
const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
/// 1.5·2⁵²: adding it rounds to an integer held in the low mantissa bits.
const SHIFTER: f64 = 6_755_399_441_055_744.0;

/// `exp(x)` for `x ≤ 0` (log-sum-exp arguments), about 1 ulp: Cody–Waite reduction
/// `x = n ln 2 + r`, `|r| ≤ ln 2 / 2`, a degree-12 Taylor polynomial, and `2ⁿ` built in
/// the exponent bits. Arguments below −708 return 0 (the result would be subnormal).
#[cfg(test)]
pub(crate) fn exp_nonpos<const F: bool>(x: &mut [f64; LANES]) {
    for v in x.iter_mut() {
        *v = exp1::<F>(*v);
    }
}

/// One value of [`exp_nonpos`]: written for flat loops over contiguous rows, which LLVM
/// vectorises with plain vector loads (on `[f64; LANES]` groups it chose gathers).
#[inline(always)]
pub(crate) fn exp1<const F: bool>(v: f64) -> f64 {
    {
        let a = if v < -708.0 { -708.0 } else { v };
        // n = round(a·log2 e) by the 1.5·2⁵² shifter: its low mantissa bits then hold n
        // as an integer, which builds 2ⁿ below without a float-to-int64 conversion (AVX2
        // has none, and LLVM would fall back to scalar code)
        let t = fma::<F>(a, LOG2E, SHIFTER);
        let n = t - SHIFTER;
        let r = fma::<F>(-n, LN2_LO, fma::<F>(-n, LN2_HI, a));
        // Horner, 1/k! coefficients
        let mut p = 1.0 / 479_001_600.0;
        p = fma::<F>(p, r, 1.0 / 39_916_800.0);
        p = fma::<F>(p, r, 1.0 / 3_628_800.0);
        p = fma::<F>(p, r, 1.0 / 362_880.0);
        p = fma::<F>(p, r, 1.0 / 40_320.0);
        p = fma::<F>(p, r, 1.0 / 5_040.0);
        p = fma::<F>(p, r, 1.0 / 720.0);
        p = fma::<F>(p, r, 1.0 / 120.0);
        p = fma::<F>(p, r, 1.0 / 24.0);
        p = fma::<F>(p, r, 1.0 / 6.0);
        p = fma::<F>(p, r, 0.5);
        p = fma::<F>(p, r, 1.0);
        p = fma::<F>(p, r, 1.0);
        // low 12 bits of t's bits are n mod 4096; n + 1023 ∈ [2, 2046] for a ≥ −708
        let scale = f64::from_bits(t.to_bits().wrapping_add(1023) << 52);
        if v < -708.0 {
            0.0
        } else {
            p * scale
        }
    }
}

/// `ln(x)` for positive, finite, normal `x` (log-sum-exp sums, which are ≥ 1), below
/// 1 ulp: fdlibm's `__ieee754_log` without its branches — `x = 2ᵏ·m` with
/// `m ∈ [√½, √2)`, `f = m − 1`, `s = f/(2 + f)` and a degree-14 minimax polynomial in `s`
/// (Lg1..Lg7), `k` converted by the 2⁵² shifter (AVX2 has no int64-to-float conversion).
/// Zero, subnormal, negative, infinite or NaN input gives an unspecified value.
#[cfg(test)]
pub(crate) fn ln_pos<const F: bool>(x: &mut [f64; LANES]) {
    for v in x.iter_mut() {
        *v = ln1::<F>(*v);
    }
}

/// One value of [`ln_pos`], for flat loops (as [`exp1`]).
#[inline(always)]
pub(crate) fn ln1<const F: bool>(v: f64) -> f64 {
    const LG1: f64 = 6.666_666_666_666_735e-1;
    const LG2: f64 = 3.999_999_999_940_942e-1;
    const LG3: f64 = 2.857_142_874_366_239e-1;
    const LG4: f64 = 2.222_219_843_214_978_4e-1;
    const LG5: f64 = 1.818_357_216_161_805e-1;
    const LG6: f64 = 1.531_383_769_920_937_3e-1;
    const LG7: f64 = 1.479_819_860_511_658_6e-1;
    const TWO52: f64 = 4_503_599_627_370_496.0;
    {
        let bits = v.to_bits();
        let hx = bits >> 32;
        let mant = hx & 0x000f_ffff;
        // i = 2²⁰ when the mantissa is at or above √2's: then m is halved and k raised
        let i = (mant + 0x95f64) & 0x0010_0000;
        let m = f64::from_bits(((mant | (i ^ 0x3ff0_0000)) << 32) | (bits & 0xffff_ffff));
        // k + 1023 as an integer in the low mantissa bits of 2⁵²
        let kb = (hx >> 20) + (i >> 20);
        let dk = (f64::from_bits(0x4330_0000_0000_0000 | kb) - TWO52) - 1023.0;
        let f = m - 1.0;
        let s = f / (2.0 + f);
        let z = s * s;
        let w = z * z;
        let t1 = w * fma::<F>(w, fma::<F>(w, LG6, LG4), LG2);
        let t2 = z * fma::<F>(w, fma::<F>(w, fma::<F>(w, LG7, LG5), LG3), LG1);
        let r = t2 + t1;
        let hfsq = 0.5 * f * f;
        dk * LN2_HI - ((hfsq - (s * (hfsq + r) + dk * LN2_LO)) - f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_accurate() {
        let mut worst: f64 = 0.0;
        let mut i = 0;
        while i < 200_000 {
            let mut v = [0.0; LANES];
            for (l, x) in v.iter_mut().enumerate() {
                *x = -((i + l) as f64) * 708.0 / 200_000.0;
            }
            let want: Vec<f64> = v.iter().map(|x| x.exp()).collect();
            exp_nonpos::<false>(&mut v);
            for (a, b) in v.iter().zip(&want) {
                worst = worst.max((a - b).abs() / b);
            }
            i += LANES;
        }
        assert!(worst < 4e-16, "worst relative error {worst}");
        let mut v = [
            -709.0,
            -1000.0,
            f64::NEG_INFINITY,
            0.0,
            -0.0,
            -1e-300,
            -745.0,
            -708.0,
        ];
        exp_nonpos::<false>(&mut v);
        assert_eq!(&v[..5], &[0.0, 0.0, 0.0, 1.0, 1.0]);
        assert_eq!(v[5], 1.0);
        assert_eq!(v[6], 0.0);
        assert!((v[7] - (-708f64).exp()).abs() / (-708f64).exp() < 1e-15);
    }

    #[test]
    fn ln_is_accurate() {
        let mut worst: f64 = 0.0;
        let mut check = |vals: &[f64]| {
            for c in vals.chunks(LANES) {
                let mut v = [1.0; LANES];
                v[..c.len()].copy_from_slice(c);
                let mut fast = v;
                ln_pos::<false>(&mut fast);
                let mut fused = v;
                ln_pos::<true>(&mut fused);
                for l in 0..c.len() {
                    let want = v[l].ln();
                    let ulp = if want == 0.0 {
                        f64::MIN_POSITIVE
                    } else {
                        f64::from_bits(want.abs().to_bits() + 1) - want.abs()
                    };
                    for got in [fast[l], fused[l]] {
                        worst = worst.max((got - want).abs() / ulp);
                    }
                }
            }
        };
        // the log-sum-exp range [1, K + 1] densely, then every binade of the normals
        check(
            &(0..400_000)
                .map(|i| 1.0 + i as f64 * 6.4e-4)
                .collect::<Vec<_>>(),
        );
        check(
            &(0..200_000)
                .map(|i| 2f64.powf(-1021.0 + i as f64 * (2044.0 / 200_000.0)))
                .collect::<Vec<_>>(),
        );
        check(&[
            1.0,
            2.0,
            0.5,
            std::f64::consts::SQRT_2,
            std::f64::consts::FRAC_1_SQRT_2,
            f64::MAX,
            f64::MIN_POSITIVE,
            1.0 + f64::EPSILON,
            1.0 - f64::EPSILON / 2.0,
        ]);
        assert!(worst <= 1.0, "worst error {worst} ulp");
        let mut one = [1.0; LANES];
        ln_pos::<true>(&mut one);
        assert_eq!(one, [0.0; LANES]);
    }
}
