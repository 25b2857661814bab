//! Progress bars on stderr (indicatif): EM iterations of a fit ([`Progress`]), many
//! independent tasks such as the fits of `select` ([`Ticker`]), and counted items such
//! as video frames ([`Counter`]).
//!
//! Every bar has an ETA and fits the terminal's width. It is drawn only when stderr is a
//! terminal, never with `--quiet`, and only once the work has run for about a second (a
//! quick command prints nothing). `--verbose` prints one line per EM iteration instead.
//! This module depends on nothing else in the crate.

use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::time::{Duration, Instant};

use gaussmix::IterationEvent;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How long work runs before its bar appears.
pub const DELAY: Duration = Duration::from_secs(1);

/// Where a bar is drawn once it is due (stderr, or a test terminal), and that
/// terminal's width in columns.
type Target = Box<dyn Fn() -> (ProgressDrawTarget, u16) + Send + Sync>;

/// Bar templates for terminals of at least 100, 70 and fewer columns: the bar takes
/// what the text leaves.
type Templates = [&'static str; 3];

/// A bar that stays hidden until [`DELAY`] has passed, and then draws on its target.
struct Delayed {
    bar: ProgressBar,
    templates: Templates,
    enabled: bool,
    shown: AtomicBool,
    /// The terminal's width once shown.
    width: AtomicU16,
    start: Instant,
    delay: Duration,
    target: Target,
}

impl Delayed {
    fn new(len: u64, templates: Templates, enabled: bool, delay: Duration, target: Target) -> Self {
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::hidden());
        Delayed {
            bar,
            templates,
            enabled,
            shown: AtomicBool::new(false),
            width: AtomicU16::new(80),
            start: Instant::now(),
            delay,
            target,
        }
    }

    /// Shows the bar once it is due.
    fn poll(&self) {
        if self.enabled
            && !self.shown.load(Ordering::Relaxed)
            && self.start.elapsed() >= self.delay
            && !self.shown.swap(true, Ordering::Relaxed)
        {
            let (target, width) = (self.target)();
            self.width.store(width, Ordering::Relaxed);
            self.set_templates(self.templates, width);
            self.bar.set_draw_target(target);
        }
    }

    /// Uses the template of `templates` that fits `width` columns.
    fn set_templates(&self, templates: Templates, width: u16) {
        let t = match width {
            100.. => templates[0],
            70..=99 => templates[1],
            _ => templates[2],
        };
        let style = ProgressStyle::with_template(t)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        self.bar.set_style(style);
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

fn stderr_target() -> Target {
    Box::new(|| {
        let width = console::Term::stderr().size().1;
        (ProgressDrawTarget::stderr(), width)
    })
}

fn enabled_on_stderr(enabled: bool) -> bool {
    use std::io::IsTerminal;
    enabled && std::io::stderr().is_terminal()
}

/// Progress of an EM fit: one bar over `n_init × max_iter` iterations (a restart that
/// converges early jumps to the next), with the lower bound as its message.
pub struct Progress {
    bar: Delayed,
    verbose: bool,
    max_iter: usize,
    n_init: usize,
}

const FIT_TEMPLATES: Templates = [
    "{prefix} [{wide_bar}] {msg} {elapsed_precise} ETA {eta}",
    "{prefix} [{wide_bar}] {elapsed_precise} ETA {eta}",
    "{prefix} [{wide_bar}] ETA {eta}",
];

impl Progress {
    /// A reporter for a fit of `n_init` restarts of at most `max_iter` iterations;
    /// `enabled = false` for `--quiet` (which also silences `verbose`).
    pub fn new(enabled: bool, verbose: bool, max_iter: usize, n_init: usize) -> Self {
        let shown = enabled_on_stderr(enabled) && !verbose;
        Self::with_target(
            shown,
            verbose && enabled,
            max_iter,
            n_init,
            DELAY,
            stderr_target(),
        )
    }

    fn with_target(
        enabled: bool,
        verbose: bool,
        max_iter: usize,
        n_init: usize,
        delay: Duration,
        target: Target,
    ) -> Self {
        let len = (max_iter.max(1) * n_init.max(1)) as u64;
        Progress {
            bar: Delayed::new(len, FIT_TEMPLATES, enabled, delay, target),
            verbose,
            max_iter: max_iter.max(1),
            n_init: n_init.max(1),
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
        let b = &self.bar.bar;
        b.set_prefix(format!(
            "init {}/{} iteration {}/{}",
            e.init + 1,
            self.n_init,
            e.iter,
            self.max_iter
        ));
        b.set_message(format!("lower bound {:.6}", e.lower_bound));
        b.set_position((e.init * self.max_iter + e.iter.min(self.max_iter)) as u64);
        self.bar.poll();
    }

    /// Removes the bar.
    pub fn finish(&mut self) {
        self.bar.finish();
    }
}

/// Progress of `total` independent tasks (the fits of `select`, the candidates of
/// `anomaly`); safe to tick from several threads.
pub struct Ticker {
    bar: Delayed,
}

const TASK_TEMPLATES: Templates = [
    "[{wide_bar}] {pos}/{len} {prefix} {msg} {elapsed_precise} ETA {eta}",
    "[{wide_bar}] {pos}/{len} {prefix} {elapsed_precise} ETA {eta}",
    "[{wide_bar}] {pos}/{len} {prefix} ETA {eta}",
];

impl Ticker {
    /// A ticker for `total` tasks described as `what` (e.g. "fits").
    pub fn new(what: &str, total: usize, enabled: bool) -> Self {
        Self::with_target(
            what,
            total,
            enabled_on_stderr(enabled),
            DELAY,
            stderr_target(),
        )
    }

    fn with_target(
        what: &str,
        total: usize,
        enabled: bool,
        delay: Duration,
        target: Target,
    ) -> Self {
        let bar = Delayed::new(total as u64, TASK_TEMPLATES, enabled, delay, target);
        bar.bar.set_prefix(what.to_string());
        Ticker { bar }
    }

    /// Records one finished task, with a short label of the latest one.
    pub fn tick(&self, label: &str) {
        self.bar.bar.set_message(label.to_string());
        self.bar.bar.inc(1);
        self.bar.poll();
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish();
    }
}

/// Progress of counted items (video frames): a bar when the total is known, a counter
/// with the rate otherwise.
pub struct Counter {
    bar: Delayed,
    known: bool,
}

const COUNT_TEMPLATES: Templates = [
    "[{wide_bar}] {pos}/{len} {prefix} {per_sec} {elapsed_precise} ETA {eta}",
    "[{wide_bar}] {pos}/{len} {prefix} {per_sec} ETA {eta}",
    "[{wide_bar}] {pos}/{len} {prefix} ETA {eta}",
];
const OPEN_TEMPLATES: Templates = [
    "{pos} {prefix} {per_sec} {elapsed_precise}",
    "{pos} {prefix} {per_sec} {elapsed_precise}",
    "{pos} {prefix} {per_sec}",
];

impl Counter {
    /// A counter of `what` (e.g. "frames").
    pub fn new(what: &str, enabled: bool) -> Self {
        Self::with_target(what, enabled_on_stderr(enabled), DELAY, stderr_target())
    }

    fn with_target(what: &str, enabled: bool, delay: Duration, target: Target) -> Self {
        let bar = Delayed::new(0, OPEN_TEMPLATES, enabled, delay, target);
        bar.bar.set_prefix(what.to_string());
        Counter { bar, known: false }
    }

    /// `done` items of `total` (0 when unknown).
    pub fn update(&mut self, done: usize, total: usize) {
        let b = &self.bar.bar;
        if total > 0 && !self.known {
            self.known = true;
            self.bar.templates = COUNT_TEMPLATES;
            if self.bar.shown.load(Ordering::Relaxed) {
                self.bar
                    .set_templates(COUNT_TEMPLATES, self.bar.width.load(Ordering::Relaxed));
            }
        }
        if total > 0 {
            b.set_length(total as u64);
        }
        b.set_position(done as u64);
        self.bar.poll();
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use indicatif::TermLike;
    use std::sync::{Arc, Mutex};

    /// A terminal of fixed width that records what is written to it.
    #[derive(Debug, Clone)]
    struct Recorder {
        width: u16,
        text: Arc<Mutex<Vec<String>>>,
    }

    impl TermLike for Recorder {
        fn width(&self) -> u16 {
            self.width
        }
        fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            self.text.lock().unwrap().push(s.to_string());
            Ok(())
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            self.text.lock().unwrap().push(s.to_string());
            Ok(())
        }
        fn clear_line(&self) -> std::io::Result<()> {
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn recorder(width: u16) -> (Recorder, Target) {
        let r = Recorder {
            width,
            text: Arc::new(Mutex::new(Vec::new())),
        };
        let t = r.clone();
        (
            r,
            Box::new(move || {
                (
                    ProgressDrawTarget::term_like_with_hz(Box::new(t.clone()), 200),
                    width,
                )
            }),
        )
    }

    fn event(init: usize, iter: usize) -> IterationEvent {
        IterationEvent {
            init,
            iter,
            lower_bound: -1.25,
            change: 0.1,
        }
    }

    /// Expected: lines no wider than the terminal, with the iteration, lower bound and
    /// an ETA.
    #[test]
    fn fit_bar_fits_the_terminal_and_shows_an_eta() {
        for width in [60u16, 120] {
            let (rec, target) = recorder(width);
            let mut p = Progress::with_target(true, false, 100, 2, Duration::ZERO, target);
            for it in 1..=30 {
                p.iteration(&event(1, it));
                std::thread::sleep(Duration::from_millis(6));
            }
            let text = rec.text.lock().unwrap().clone();
            let last = text.iter().rev().find(|l| !l.trim().is_empty()).cloned();
            let last = last.expect("the bar was drawn");
            assert!(
                last.chars().count() <= usize::from(width),
                "{width}: {last:?}"
            );
            assert!(last.contains("init 2/2 iteration"), "{last:?}");
            assert!(last.contains("ETA"), "{last:?}");
            if width >= 120 {
                assert!(last.contains("lower bound -1.250000"), "{last:?}");
            }
            p.finish();
        }
    }

    /// Expected: nothing drawn when disabled (`--quiet`, not a terminal) or before the
    /// delay.
    #[test]
    fn hidden_when_disabled_or_early() {
        let (rec, target) = recorder(80);
        let mut p = Progress::with_target(false, false, 10, 1, Duration::ZERO, target);
        for it in 1..=10 {
            p.iteration(&event(0, it));
        }
        p.finish();
        assert!(rec.text.lock().unwrap().is_empty());
        let (rec, target) = recorder(80);
        let t = Ticker::with_target("fits", 5, true, Duration::from_secs(3600), target);
        for _ in 0..5 {
            t.tick("k=1 full");
        }
        t.finish();
        assert!(rec.text.lock().unwrap().is_empty());
    }

    #[test]
    fn ticker_and_counter_count() {
        let (rec, target) = recorder(100);
        let t = Ticker::with_target("fits", 4, true, Duration::ZERO, target);
        std::thread::scope(|s| {
            for i in 0..4 {
                let t = &t;
                s.spawn(move || t.tick(&format!("k={i}")));
            }
        });
        assert_eq!(t.bar.bar.position(), 4);
        t.finish();
        assert!(rec.text.lock().unwrap().iter().any(|l| l.contains("fits")));
        let (rec, target) = recorder(100);
        let mut c = Counter::with_target("frames", true, Duration::ZERO, target);
        c.update(5, 0);
        c.update(10, 40);
        assert_eq!(c.bar.bar.length(), Some(40));
        c.finish();
        assert!(rec
            .text
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("frames")));
    }
}
