//! The element types data may have: `f64`, and `f32` read as it is (no widened copy of the
//! data set) and widened to f64 tile by tile inside the kernels, with every statistic
//! accumulated in f64. For full and tied models at the AVX2 and AVX-512 levels, the
//! quadratic forms and Gram products of f32 data then run in float32 lanes (the kernels'
//! `lanes32` module), so results agree with those of the f64 copy to float32 rounding.

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A contiguous slice of input elements, by type.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub enum Elems<'a> {
    /// f64 elements.
    F64(&'a [f64]),
    /// f32 elements.
    F32(&'a [f32]),
}

/// A floating-point element type of input data (`f32` or `f64`; sealed).
pub trait Float:
    sealed::Sealed + Copy + Send + Sync + PartialEq + std::fmt::Debug + std::fmt::Display + 'static
{
    /// The value as f64 (exact for both types).
    fn to_f64(self) -> f64;
    /// Whether the value is neither NaN nor infinite.
    fn finite(self) -> bool;
    /// The elements of a contiguous slice, tagged with their type (for kernels that
    /// dispatch on it).
    #[doc(hidden)]
    fn elems(s: &[Self]) -> Elems<'_>;
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
    fn elems(s: &[f64]) -> Elems<'_> {
        Elems::F64(s)
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
    fn elems(s: &[f32]) -> Elems<'_> {
        Elems::F32(s)
    }
}
