//! `harness analyze DIR`: re-check a stored run (see [`crate::run::analyze`]); prints the
//! verdict and the last-line JSON, exits like `test`.

use crate::exit::{HarnessError, Outcome};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct AnalyzeArgs {
    /// The run folder (e.g. `results/latest` or `results/<name>/<stamp>`).
    pub dir: PathBuf,
    /// Time budget of the linearizability check, in seconds.
    #[arg(long, default_value_t = 120.0)]
    pub check_timeout: f64,
    /// Do not rewrite report.html and plots.
    #[arg(long)]
    pub no_report: bool,
}

pub fn run(args: AnalyzeArgs) -> Result<Outcome, HarnessError> {
    if !args.check_timeout.is_finite() || args.check_timeout <= 0.0 || args.check_timeout > 86_400.0
    {
        return Err(HarnessError::BadInput(format!(
            "--check-timeout {}: expected seconds in (0, 86400]",
            args.check_timeout
        )));
    }
    let a = crate::run::analyze::analyze(
        &args.dir,
        Duration::from_secs_f64(args.check_timeout),
        !args.no_report,
    )?;
    eprintln!("harness: {}: {}", a.dir.display(), a.valid);
    println!(
        "{}",
        serde_json::json!({"valid": a.valid, "results": a.dir.display().to_string(), "ops": a.results.ops})
    );
    Ok(Outcome::Verdict(a.valid))
}
