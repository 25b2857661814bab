//! # gaussmix-video: background subtraction and tracking with per-pixel Gaussian mixtures
//!
//! Every pixel of a fixed camera is modelled as a small mixture of Gaussians over its
//! colour, p(x) = Σ_k π_k N(x | μ_k, σ_k² I), updated online with a learning rate α
//! (Zivkovic's adaptive GMM, OpenCV's MOG2; Stauffer–Grimson as an option). A pixel is
//! background when one of the heavy modes explains it, shadow when it is a darker copy of
//! a background mode, and foreground otherwise. See [`model`] for the rules.
//!
//! On top of the model:
//! - [`post`]: mask clean-up (shadow removal, median, open/close, hole filling) and
//!   8-connected components with statistics;
//! - [`track`]: multi-object tracking (constant-velocity Kalman filter per track, Hungarian
//!   assignment on IoU / distance, births and deaths);
//! - [`source`]: frames from a folder of images (CDnet layout or any jpg/png/bmp folder) or
//!   a video file through the `ffmpeg` program;
//! - [`cdnet`]: CDnet 2014 scoring (Re, Sp, FPR, FNR, PWC, Pr, F);
//! - [`pipeline`]: the entry points a command-line tool calls: [`subtract`], [`track()`],
//!   [`evaluate`].
//!
//! ```no_run
//! use gaussmix_video::{subtract, evaluate, SubtractOptions};
//! use std::path::Path;
//! let seq = Path::new("data/video/highway");
//! let report = subtract(seq, Path::new("out/highway"), &SubtractOptions::default(), &mut |_, _| {})?;
//! let m = evaluate(Path::new("out/highway"), seq)?;
//! println!("{} frames, F = {:.3}", report.frames, m.f_measure);
//! # Ok::<(), gaussmix_video::Error>(())
//! ```
#![deny(missing_docs)]

pub mod cdnet;
pub mod draw;
pub mod error;
pub mod hungarian;
pub mod kalman;
pub mod model;
pub mod pipeline;
pub mod post;
pub mod reference;
pub mod source;
pub mod track;

pub use cdnet::{evaluate, Metrics};
pub use error::{Error, Result};
pub use model::{BackgroundModel, Kernel, LearningRate, Method, ModelParams};
pub use pipeline::{subtract, track, SubtractOptions, SubtractReport, TrackOptions, TrackReport};
pub use post::{Blob, PostProcess};
pub use track::{TrackRow, Tracker, TrackerOptions};
