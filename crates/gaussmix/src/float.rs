//! The element types data may have: `f64`, and `f32` read as it is (no widened copy of the
//! data set) and widened to f64 tile by tile inside the kernels, with every statistic
//! accumulated in f64.

use ndarray::ArrayView2;

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// Vector instructions the caller of [`Float::load_tile`] detected at run time.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Simd {
    /// Plain code.
    None,
    /// AVX2 and FMA.
    Avx2,
    /// AVX-512F (with AVX2).
    Avx512,
}

/// A floating-point element type of input data (`f32` or `f64`; sealed).
pub trait Float:
    sealed::Sealed + Copy + Send + Sync + PartialEq + std::fmt::Debug + std::fmt::Display + 'static
{
    /// The value as f64 (exact for both types).
    fn to_f64(self) -> f64;
    /// Whether the value is neither NaN nor infinite.
    fn finite(self) -> bool;
    /// Transposes rows `r0..r0 + len` of `x` into the feature-major tile `xt`
    /// (`xt[i·tile + r] = x[r0 + r][i] − c[i]`), rows past `len` untouched.
    #[doc(hidden)]
    fn load_tile(
        x: ArrayView2<Self>,
        r0: usize,
        len: usize,
        c: &[f64],
        xt: &mut [f64],
        tile: usize,
        simd: Simd,
    );
}

impl Float for f64 {
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn finite(self) -> bool {
        self.is_finite()
    }
    #[inline(always)]
    fn load_tile(
        x: ArrayView2<f64>,
        r0: usize,
        len: usize,
        c: &[f64],
        xt: &mut [f64],
        tile: usize,
        simd: Simd,
    ) {
        let d = x.ncols();
        if let Some(xs) = x.as_slice() {
            #[cfg(target_arch = "x86_64")]
            match simd {
                // SAFETY: the caller detected the level at run time; sizes as documented.
                Simd::Avx512 => {
                    unsafe { crate::kernels::load_tile_rows_avx512(xs, d, r0, len, c, xt) };
                    return;
                }
                // SAFETY: as above.
                Simd::Avx2 => {
                    unsafe { crate::kernels::avx2::load_tile_rows(xs, d, r0, len, c, xt) };
                    return;
                }
                Simd::None => {}
            }
            let _ = simd;
            for (r, row) in xs[r0 * d..(r0 + len) * d].chunks_exact(d).enumerate() {
                for (i, (v, ci)) in row.iter().zip(c).enumerate() {
                    xt[i * tile + r] = v - ci;
                }
            }
        } else {
            generic_load(x, r0, len, c, xt, tile);
        }
    }
}

impl Float for f32 {
    #[inline(always)]
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    #[inline(always)]
    fn finite(self) -> bool {
        self.is_finite()
    }
    #[inline(always)]
    fn load_tile(
        x: ArrayView2<f32>,
        r0: usize,
        len: usize,
        c: &[f64],
        xt: &mut [f64],
        tile: usize,
        simd: Simd,
    ) {
        let d = x.ncols();
        if let Some(xs) = x.as_slice() {
            #[cfg(target_arch = "x86_64")]
            if simd != Simd::None {
                // SAFETY: the caller detected AVX2 (implied by AVX-512) at run time.
                unsafe { crate::kernels::avx2::load_tile_rows_f32(xs, d, r0, len, c, xt) };
                return;
            }
            let _ = simd;
            for (r, row) in xs[r0 * d..(r0 + len) * d].chunks_exact(d).enumerate() {
                for (i, (v, ci)) in row.iter().zip(c).enumerate() {
                    xt[i * tile + r] = f64::from(*v) - ci;
                }
            }
        } else {
            generic_load(x, r0, len, c, xt, tile);
        }
    }
}

fn generic_load<F: Float>(
    x: ArrayView2<F>,
    r0: usize,
    len: usize,
    c: &[f64],
    xt: &mut [f64],
    tile: usize,
) {
    for i in 0..x.ncols() {
        let col = x.column(i);
        for r in 0..len {
            xt[i * tile + r] = col[r0 + r].to_f64() - c[i];
        }
    }
}
