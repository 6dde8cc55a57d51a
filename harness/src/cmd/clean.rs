//! `harness clean`. (Skeleton: filled in by its issue.)

use crate::exit::{HarnessError, Outcome};

#[derive(Debug, clap::Args)]
pub struct CleanArgs {}

pub fn run(args: CleanArgs) -> Result<Outcome, HarnessError> {
    let _ = args;
    Err(HarnessError::Failed("`harness clean` is not built yet".into()))
}
