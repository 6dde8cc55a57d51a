//! `harness analyze`. (Skeleton: filled in by its issue.)

use crate::exit::{HarnessError, Outcome};

#[derive(Debug, clap::Args)]
pub struct AnalyzeArgs {}

pub fn run(args: AnalyzeArgs) -> Result<Outcome, HarnessError> {
    let _ = args;
    Err(HarnessError::Failed("`harness analyze` is not built yet".into()))
}
