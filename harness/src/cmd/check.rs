//! `harness check`. (Skeleton: filled in by its issue.)

use crate::exit::{HarnessError, Outcome};

#[derive(Debug, clap::Args)]
pub struct CheckArgs {}

pub fn run(args: CheckArgs) -> Result<Outcome, HarnessError> {
    let _ = args;
    Err(HarnessError::Failed("`harness check` is not built yet".into()))
}
