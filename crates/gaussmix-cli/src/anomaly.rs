//! `gaussmix anomaly` (in progress).

use anyhow::Result;
use clap::Args;

/// Arguments of `anomaly`.
#[derive(Args, Debug)]
pub struct AnomalyArgs {
    /// Data file.
    pub data: String,
}

/// `gaussmix anomaly`.
pub fn anomaly(_a: &AnomalyArgs) -> Result<()> {
    anyhow::bail!("not yet")
}
