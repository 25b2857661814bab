#![deny(missing_docs)]
//! tmp
pub mod cdnet;
pub mod error;
pub mod model;
pub mod post;
pub mod reference;
pub mod source;
pub use error::{Error, Result};
