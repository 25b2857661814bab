//! Progress on stderr for long fits: a live line on a terminal after about a second,
//! nothing when stderr is not a terminal or with `--quiet`; `--verbose` prints every
//! iteration's lower bound.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use gaussmix::IterationEvent;

/// Progress reporter for EM iterations.
pub struct Progress {
    enabled: bool,
    verbose: bool,
    max_iter: usize,
    n_init: usize,
    start: Instant,
    last_draw: Option<Instant>,
    drawn: bool,
}

impl Progress {
    /// A reporter; `enabled = false` for `--quiet`.
    pub fn new(enabled: bool, verbose: bool, max_iter: usize, n_init: usize) -> Self {
        Progress {
            enabled: enabled && std::io::stderr().is_terminal(),
            verbose: verbose && enabled,
            max_iter,
            n_init,
            start: Instant::now(),
            last_draw: None,
            drawn: false,
        }
    }

    /// Called after every EM iteration.
    pub fn iteration(&mut self, e: &IterationEvent) {
        if self.verbose {
            eprintln!(
                "init {}/{} iter {:>4}  lower bound {:.10}  change {:.3e}",
                e.init + 1,
                self.n_init,
                e.iter,
                e.lower_bound,
                e.change
            );
            return;
        }
        if !self.enabled || self.start.elapsed() < Duration::from_secs(1) {
            return;
        }
        if self
            .last_draw
            .is_some_and(|t| t.elapsed() < Duration::from_millis(100))
        {
            return;
        }
        self.last_draw = Some(Instant::now());
        self.drawn = true;
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r\x1b[2Kinit {}/{}  iteration {}/{}  lower bound {:.6}  {:.1}s",
            e.init + 1,
            self.n_init,
            e.iter,
            self.max_iter,
            e.lower_bound,
            self.start.elapsed().as_secs_f64()
        );
        let _ = err.flush();
    }

    /// Clears the live line.
    pub fn finish(&mut self) {
        if self.drawn {
            eprint!("\r\x1b[2K");
            self.drawn = false;
        }
    }
}
