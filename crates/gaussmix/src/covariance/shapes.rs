//! The storage shapes of covariances (a leaf module: the families' M-steps in
//! [`super::family`] build these values, and [`super`] gives them their methods).

use ndarray::{Array1, Array2, Array3};

/// How a family's covariances are stored (and which kernel computes its densities).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Storage {
    /// K×D×D.
    Full,
    /// One D×D shared matrix.
    Tied,
    /// K×D diagonals.
    Diag,
    /// K single variances.
    Spherical,
}

/// A set of per-component matrices in the shape of a covariance type: used for
/// covariances, precisions and precision Cholesky factors alike.
#[derive(Debug, Clone, PartialEq)]
pub enum Covariances {
    /// K×D×D.
    Full(Array3<f64>),
    /// D×D, shared by all components.
    Tied(Array2<f64>),
    /// K×D diagonals.
    Diag(Array2<f64>),
    /// K single variances.
    Spherical(Array1<f64>),
}
