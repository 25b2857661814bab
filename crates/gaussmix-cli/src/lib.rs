//! The `gaussmix` command-line tool as a library: the subcommands the binary dispatches to,
//! and the file readers and writers they share.
//!
//! The binary (`src/main.rs`) is a thin `main` over [`cli`]. The modules are public so
//! that the fuzz targets (`fuzz/`) and property tests can drive the readers directly; their
//! interface follows the tool's needs and is not a stable API.
//!
//! Modules, from the top of the import graph down (each uses only those below it):
//! [`cli`] → the subcommands ([`commands`], [`select`], [`bayes`], [`anomaly`], [`plot`], [`video`],
//! [`mod@bench`]) → [`util`], [`output`], [`stream`] → [`io`] → the leaves [`args`],
//! [`exit`], [`interrupt`], [`progress`], [`system`].

pub mod anomaly;
pub mod args;
pub mod bayes;
pub mod bench;
pub mod cli;
pub mod commands;
pub mod exit;
pub mod interrupt;
pub mod io;
pub mod missing;
pub mod online;
pub mod output;
pub mod plot;
pub mod progress;
pub mod select;
pub mod stream;
pub mod system;
pub mod util;
pub mod video;
