//! `harness test`. (Skeleton: filled in by its issue.)

use crate::exit::{HarnessError, Outcome};

#[derive(Debug, clap::Args)]
pub struct TestArgs {}

pub fn run(args: TestArgs) -> Result<Outcome, HarnessError> {
    let _ = args;
    Err(HarnessError::Failed("`harness test` is not built yet".into()))
}
