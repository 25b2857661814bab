//! The `gaussmix` command-line tool as a library: the subcommands the binary dispatches to,
//! and the file readers and writers they share.
//!
//! The binary (`src/main.rs`) is a thin `main` over [`commands`]. The modules are public so
//! that the fuzz targets (`fuzz/`) and property tests can drive the readers directly; their
//! interface follows the tool's needs and is not a stable API.

pub mod anomaly;
pub mod bench;
pub mod commands;
pub mod io;
pub mod output;
pub mod plot;
pub mod progress;
pub mod select;
pub mod stream;
pub mod util;
pub mod video;
