//! # gaussmix — Gaussian mixture models fitted by EM
//!
//! A Gaussian mixture models a density as a weighted sum of K Gaussians,
//!
//! ```text
//! p(x) = Σ_k π_k N(x | μ_k, Σ_k),   π_k ≥ 0,  Σ_k π_k = 1.
//! ```
//!
//! With K = 1 it is the maximum-likelihood Gaussian: μ is the sample mean and Σ the
//! (biased) sample covariance. For K > 1, introduce a latent variable z_n ∈ {1..K} saying
//! which component generated x_n; its posterior is the **responsibility**
//!
//! ```text
//! γ_nk = π_k N(x_n | μ_k, Σ_k) / Σ_j π_j N(x_n | μ_j, Σ_j),
//! ```
//!
//! and the log-likelihood is `ln p(X) = Σ_n ln Σ_k π_k N(x_n | μ_k, Σ_k)`.
//! **EM** maximises it by alternating
//!
//! 1. *initialise* μ, Σ, π ([`InitMethod`]: k-means, k-means++, random responsibilities,
//!    random rows, or given parameters);
//! 2. *E-step*: compute γ with the current parameters;
//! 3. *M-step*: `N_k = Σ_n γ_nk`, `μ_k = Σ_n γ_nk x_n / N_k`,
//!    `Σ_k = Σ_n γ_nk (x_n−μ_k)(x_n−μ_k)ᵀ / N_k`, `π_k = N_k / N`;
//! 4. *evaluate* the mean log-likelihood per sample (the "lower bound");
//! 5. *test convergence*: stop when it changes by less than `tol`.
//!
//! Numerics follow scikit-learn, number for number: each component stores the upper
//! Cholesky factor `P_k` of its precision (`P_k P_kᵀ = Σ_k⁻¹`), everything is in log
//! space with log-sum-exp, and `reg_covar` is added to covariance diagonals. Second
//! moments are taken about a shift (the previous means), which keeps them exact for data
//! far from the origin and additive across chunks: see [`SufficientStatistics`], the
//! spine of in-memory, multi-threaded, streaming and distributed fits.
//!
//! ```
//! use gaussmix::{GaussianMixture, CovarianceType};
//! use ndarray::Array2;
//!
//! // two clusters on a line
//! let x = Array2::from_shape_fn((200, 1), |(i, _)| if i % 2 == 0 { (i % 7) as f64 * 0.1 } else { 10.0 + (i % 5) as f64 * 0.1 });
//! let model = GaussianMixture::new(2).n_init(3).seed(42).fit(x.view())?;
//! assert!(model.info().converged);
//! let (samples, labels) = model.sample(5, 7)?;
//! assert_eq!(samples.nrows(), 5);
//! let density = model.score_samples(samples.view())?;
//! assert!(density.iter().all(|v| v.is_finite()));
//! let bic = model.bic(x.view())?;
//! assert!(bic.is_finite());
//! # let _ = labels;
//! # Ok::<(), gaussmix::GmmError>(())
//! ```
#![deny(missing_docs)]
// Index loops over small dense matrices read like the maths they implement.
#![allow(clippy::needless_range_loop)]

mod accel;
pub mod anomaly;
pub mod checkpoint;
pub mod covariance;
pub mod degenerate;
mod em;
mod error;
mod event;
mod float;
mod hc;
mod kernels;
mod kmeans;
mod linalg;
pub mod missing;
mod model;
pub mod online;
mod par;
pub mod select;
mod stats;
mod stream;
mod summary;
mod validate;
pub mod vb;

pub use covariance::family::{Prior, PriorScale};
pub use covariance::{CovarianceType, Covariances, SecondMoments, Storage};
pub use degenerate::DegeneratePolicy;
pub use em::{
    GaussianMixture, HcTree, IllDefinedPolicy, InitMethod, InitScaling, IterationEvent,
    PriorChoice, HC_MAX_ROWS,
};
pub use error::{GmmError, Result};
pub use float::Float;
pub use missing::MissingValues;
pub use model::{FitInfo, GmmModel, ModelFile, Noise, MODEL_FORMAT_VERSION};
pub use par::Parallelism;
pub use stats::{MStepOptions, SufficientStatistics, STATS_FORMAT_VERSION};
pub use stream::{ArraySource, Chunk, RowSource, STREAM_CHUNK_MULTIPLE};

/// The instruction-set level the kernels run at in this process: `"avx512"`, `"avx2"` or
/// `"portable"`.
///
/// It is the best level the CPU has, unless the environment variable
/// `GAUSSMIX_KERNEL=avx512|avx2|portable` pins one (read once, at the first fit or
/// call of this function). Results are bit-identical for a seed on every machine that
/// runs the same level, whatever the thread count; two levels can differ in the last
/// bits. A pinned level the CPU lacks is not an error: the best level below it is used
/// and a warning is printed on stderr once (an unknown value is treated the same way).
pub fn kernel_level() -> &'static str {
    kernels::Level::detect().name()
}
