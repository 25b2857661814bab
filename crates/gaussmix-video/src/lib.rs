#![deny(missing_docs)]
//! tmp
pub mod error;
pub mod model;
pub mod reference;
