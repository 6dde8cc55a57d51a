//! `harness clean`: removes the processes, network namespaces and links left behind by harness
//! runs that died without cleaning up (found by their run-prefix names and by the
//! `HARNESS_RUN` marker in node environments); runs whose harness is still alive are left alone.

use crate::cluster::cleanup::{clean_forced, clean_leftovers};
use crate::exit::{HarnessError, Outcome};

#[derive(Debug, clap::Args)]
pub struct CleanArgs {
    /// Only runs whose prefix starts with this (every run prefix starts with `hx`).
    #[arg(long, default_value = "hx")]
    pub prefix: String,
    /// Print what would be removed, remove nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Also remove runs whose harness process is still alive.
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: CleanArgs) -> Result<Outcome, HarnessError> {
    if args.prefix.is_empty()
        || !args
            .prefix
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        return Err(HarnessError::BadInput(format!(
            "--prefix `{}`: expected lowercase letters and digits, like `hx` or `hxab12cd`",
            args.prefix
        )));
    }
    let clean = if args.force {
        clean_forced
    } else {
        clean_leftovers
    };
    let report = clean(&args.prefix, args.dry_run)
        .map_err(|e| HarnessError::Failed(format!("clean: {e}")))?;
    let verb = if args.dry_run {
        "would remove"
    } else {
        "removed"
    };
    for p in &report.processes {
        println!("{verb} process {p}");
    }
    for ns in &report.namespaces {
        println!("{verb} namespace {ns}");
    }
    for l in &report.links {
        println!("{verb} link {l}");
    }
    for m in &report.manifests {
        println!("{verb} manifest {m}");
    }
    for p in &report.skipped_live {
        println!("skipped run {p}: its harness is still running");
    }
    let total = report.processes.len() + report.namespaces.len() + report.links.len();
    println!(
        "{}",
        serde_json::json!({
            "dry_run": args.dry_run,
            "processes": report.processes.len(),
            "namespaces": report.namespaces.len(),
            "links": report.links.len(),
            "manifests": report.manifests.len(),
            "skipped_live": report.skipped_live,
            "total": total,
        })
    );
    Ok(Outcome::Done)
}
