//! # gaussmix-video: background subtraction and tracking with per-pixel Gaussian mixtures
//!
//! ## The model
//!
//! Every pixel of a fixed camera is a small mixture over its colour x (1 or 3 channels),
//! p(x) = Σ_k w_k N(x | μ_k, σ_k² I), k < M, kept in descending weight order and updated
//! online with a learning rate α (by default α = 1/min(2·frames, history)):
//!
//! - every weight decays, w ← (1−α)·w − α·c_T;
//! - the first mode with ‖x − μ‖² < Tg·σ² matches: w += α, μ += (α/w)(x − μ),
//!   σ² += (α/w)(‖x − μ‖² − σ²), clamped to [var_min, var_max]; it moves up the order;
//! - modes whose weight falls below α·c_T are dropped, weights renormalised;
//! - if nothing matched, the weakest mode is replaced by w = α, μ = x, σ² = var_init;
//! - the pixel is **background** if it lies within Tb·σ² of one of the first modes whose
//!   weights sum to background_ratio, a **shadow** (Prati et al.) if it is a darker copy
//!   of such a mode (x ≈ a·μ with a in [τ, 1]), **foreground** otherwise.
//!
//! That is Zivkovic's adaptive GMM with OpenCV MOG2's defaults (history 500, Tb 16, Tg 9,
//! background_ratio 0.9, var_init 15, var_min 4, var_max 75, c_T 0.05, τ 0.5, M 5);
//! [`Method::StaufferGrimson`] is the fixed-K ancestor. Three additions are on by default:
//! global illumination compensation (see [`ModelParams::illumination_compensation`]),
//! foreground feedback (pixels that were foreground learn at 0.05·α for up to 1000
//! frames, [`ModelParams::foreground_rate`]) and the displacement test (a foreground pixel
//! that matches a neighbour's strongest mode is background,
//! [`ModelParams::displacement`]). Background propagation
//! ([`ModelParams::propagation_rate`]) and neighbourhood support are options.
//! [`model::BackgroundModel`] is the fast implementation (tiled planes, vectorised,
//! rows in parallel on a local rayon pool); [`reference::ReferenceModel`] is the
//! obviously-correct per-pixel one it is tested against, mask for mask.
//!
//! ## Around the model
//!
//! - [`post`]: mask clean-up (shadows are not foreground; 5×5 median, 3×3 close, filling
//!   holes up to 1 % of the frame) and 8-connected components with statistics;
//! - [`mod@track`]: multi-object tracking (constant-velocity Kalman filter per track,
//!   Hungarian assignment on IoU / distance and colour, births after 3 hits, deaths after
//!   8 misses; tracks merged in one blob coast on their predictions, lost tracks are found
//!   again by colour; ghosts of what stood in the first frames are not reported; its
//!   background model is [`ModelParams::for_tracking`], with lighter foreground feedback
//!   and no displacement test, so such ghosts fade sooner);
//! - [`colour`]: a small Gaussian mixture of a tracked object's colours (opt-in colour term
//!   of the assignment, [`track::TrackerOptions::colour_model`]);
//! - [`source`]: frames from a folder of images (CDnet layout or any jpg/png/bmp folder)
//!   or a video file through the `ffmpeg` program;
//! - [`cdnet`]: CDnet 2014 scoring (Re, Sp, FPR, FNR, PWC, Pr, F);
//! - [`mot`]: tracking scores against MOTChallenge ground truth (MOTA, MOTP, IDF1, ID
//!   switches, fragmentations, MT/ML, precision, recall), as py-motmetrics computes them;
//! - [`pipeline`]: the entry points a command-line tool calls: [`subtract`], [`track()`],
//!   [`evaluate`]. Their outputs appear all at once or not at all.
//!
//! With the defaults, CDnet 2014 baseline/highway scores F = 0.910 (0.921 with the
//! previous defaults, feedback ρ 0.25 for 100 frames and no displacement test);
//! OpenCV 5.0's MOG2 with its defaults scores 0.708 there (0.778 without shadows). The
//! same model without compensation and clean-up reproduces OpenCV's 0.708.
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
pub mod colour;
pub mod draw;
pub mod error;
pub mod hungarian;
pub mod kalman;
pub mod model;
pub mod mot;
pub mod pipeline;
mod pixel;
pub mod post;
pub mod reference;
pub mod source;
pub mod track;

pub use cdnet::{evaluate, Metrics};
pub use error::{Error, Result};
pub use model::{BackgroundModel, Kernel, LearningRate, Method, ModelParams};
pub use mot::{
    evaluate_hota, evaluate_mot, evaluate_mot_files, read_mot, Hota, MotBox, MotMetrics,
};
pub use pipeline::{subtract, track, SubtractOptions, SubtractReport, TrackOptions, TrackReport};
pub use post::{Blob, PostProcess};
pub use source::SourceOptions;
pub use track::{TrackFormat, TrackRow, Tracker, TrackerOptions};
