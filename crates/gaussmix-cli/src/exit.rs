//! Exit statuses of `gaussmix`, and the error markers that choose them.
//!
//! | status | meaning |
//! |---|---|
//! | 0 | success (also a fit that did not converge: a warning on stderr) |
//! | 1 | runtime error: unreadable or invalid data or model, a failed fit, a failed write |
//! | 2 | usage error: unknown flag or value, a missing argument, flags that contradict each other |
//! | 3 | `--strict` and EM did not converge (nothing is written) |
//! | 130 | interrupted by Ctrl-C (143 for SIGTERM); nothing is written |
//!
//! clap's own parse errors exit with 2. A command that finds its flags unusable after
//! parsing returns [`usage`]; `--strict` non-convergence returns [`NotConverged`].
//! This module depends on nothing else in the crate.

use std::fmt;

/// Success.
pub const OK: i32 = 0;
/// A runtime error.
pub const RUNTIME: i32 = 1;
/// A usage error (the command line itself is wrong).
pub const USAGE: i32 = 2;
/// `--strict`: EM did not converge.
pub const NOT_CONVERGED: i32 = 3;
/// Interrupted by SIGINT (128 + 2).
pub const INTERRUPTED: i32 = 130;

/// The command line is wrong in a way clap cannot see (flags that contradict each
/// other, a value out of range): exit status 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// `--strict` and EM stopped at `max_iter` before converging: exit status 3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotConverged(pub String);

impl fmt::Display for NotConverged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NotConverged {}

/// A usage error with this message.
pub fn usage(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(msg.into()))
}

/// The exit status for an error: 2 for a [`UsageError`], 3 for [`NotConverged`], 1
/// otherwise (looking through any context added on the way up).
pub fn status(e: &anyhow::Error) -> i32 {
    for cause in e.chain() {
        if cause.downcast_ref::<UsageError>().is_some() {
            return USAGE;
        }
        if cause.downcast_ref::<NotConverged>().is_some() {
            return NOT_CONVERGED;
        }
    }
    RUNTIME
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn statuses_look_through_context() {
        assert_eq!(status(&anyhow::anyhow!("disk full")), RUNTIME);
        assert_eq!(status(&usage("bad flag")), USAGE);
        let e: anyhow::Result<()> = Err(usage("bad"));
        assert_eq!(status(&e.context("while fitting").unwrap_err()), USAGE);
        let e = anyhow::Error::new(NotConverged("no".into())).context("fit");
        assert_eq!(status(&e), NOT_CONVERGED);
    }
}
