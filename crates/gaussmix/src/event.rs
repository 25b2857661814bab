//! What an observer of EM sees (a leaf module: the plain EM loop in [`crate::em`] and
//! the accelerated one in [`crate::accel`] both report through it).

/// One EM iteration as seen by an observer (for progress bars and verbose output).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IterationEvent {
    /// Which initialisation (0-based) of `n_init`.
    pub init: usize,
    /// Iteration number within this initialisation (1-based).
    pub iter: usize,
    /// Mean log-likelihood of the parameters before this iteration's M-step.
    pub lower_bound: f64,
    /// Change from the previous iteration's lower bound.
    pub change: f64,
}
