//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong in `gaussmix-video`.
///
/// Every variant names what was wrong and where (file, frame, parameter), so that a
/// command-line tool can print it as is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A parameter is out of its valid range.
    #[error("invalid parameter `{name}` = {value}: {reason}")]
    InvalidParam {
        /// Parameter name.
        name: &'static str,
        /// The offending value, formatted.
        value: String,
        /// What a valid value looks like.
        reason: String,
    },
    /// An input folder holds no image files.
    #[error("no images (jpg, jpeg, png, bmp) found in {0}")]
    NoFrames(PathBuf),
    /// A frame's size differs from the first frame's.
    #[error("frame {index} ({path}) is {got_width}x{got_height}, but the first frame is {width}x{height}")]
    FrameSize {
        /// 1-based index of the frame in input order.
        index: usize,
        /// File (or video) the frame came from.
        path: PathBuf,
        /// Width of the first frame.
        width: u32,
        /// Height of the first frame.
        height: u32,
        /// Width of this frame.
        got_width: u32,
        /// Height of this frame.
        got_height: u32,
    },
    /// An image file could not be decoded.
    #[error("cannot decode image {path}: {message}")]
    Decode {
        /// The file.
        path: PathBuf,
        /// The decoder's message.
        message: String,
    },
    /// A data or frame buffer has the wrong shape for the model.
    #[error("shape mismatch: expected {expected}, got {got}")]
    ShapeMismatch {
        /// What was expected.
        expected: String,
        /// What was given.
        got: String,
    },
    /// An external program (ffmpeg, ffprobe) is not installed or not on PATH.
    #[error("`{program}` was not found on PATH; it is needed to {purpose} (install it, e.g. `apt-get install ffmpeg`, or convert the video to a folder of images)")]
    MissingProgram {
        /// Program name.
        program: &'static str,
        /// What it was needed for.
        purpose: &'static str,
    },
    /// An external program failed.
    #[error("`{program}` failed on {path}: {message}")]
    External {
        /// Program name.
        program: &'static str,
        /// The file it worked on.
        path: PathBuf,
        /// Its exit status and error output.
        message: String,
    },
    /// A CDnet sequence folder is incomplete or malformed.
    #[error("bad CDnet sequence {path}: {message}")]
    BadSequence {
        /// The offending file or folder.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A MOTChallenge track or ground-truth file is malformed.
    #[error("bad track file {path}, line {line}: {message}")]
    BadTracks {
        /// The file.
        path: PathBuf,
        /// 1-based line number (0 when the problem is not on one line).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The output path exists and would be overwritten.
    #[error(
        "output {0} already exists and is not empty (choose another path or allow overwriting)"
    )]
    OutputExists(PathBuf),
    /// An I/O error on a named path.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done ("cannot read", "cannot create", ...).
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn param(
        name: &'static str,
        value: impl std::fmt::Display,
        reason: impl Into<String>,
    ) -> Self {
        Error::InvalidParam {
            name,
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}

/// Result alias with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
