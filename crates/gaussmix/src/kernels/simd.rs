//! Lane-parallel building blocks written on `[f64; LANES]` arrays, which LLVM turns into
//! vector instructions inside the `#[target_feature]` wrappers of [`super`].

/// Values per lane group: one AVX-512 register of f64.
pub(crate) const LANES: usize = 8;

/// Rows per tile.
pub(crate) const TILE: usize = 256;
/// Rows per register group of the quadratic-form kernel.
pub(crate) const GROUP: usize = 64;

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
#[inline(always)]
pub(crate) fn exp_nonpos<const F: bool>(x: &mut [f64; LANES]) {
    for v in x.iter_mut() {
        let a = if *v < -708.0 { -708.0 } else { *v };
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
        *v = if *v < -708.0 { 0.0 } else { p * scale };
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
}
