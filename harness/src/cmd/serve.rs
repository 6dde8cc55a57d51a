//! `harness serve`. (Skeleton: filled in by its issue.)

use crate::exit::{HarnessError, Outcome};

#[derive(Debug, clap::Args)]
pub struct ServeArgs {}

pub fn run(args: ServeArgs) -> Result<Outcome, HarnessError> {
    let _ = args;
    Err(HarnessError::Failed("`harness serve` is not built yet".into()))
}
