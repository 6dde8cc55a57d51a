//! The `harness` binary: parses the command line, installs the one tracing subscriber (its
//! events go to the current run's `harness.log`; `RUST_LOG` filters them), dispatches to a
//! subcommand, and maps its outcome to the exit code in one place
//! ([`harness::exit::exit_code`]).

use clap::{Parser, Subcommand};
use harness::cmd;
use harness::exit::{exit_code, EXIT_BAD_INPUT};

/// Test a distributed key-value store the way Jepsen does: start a cluster, run clients
/// against it while partitioning, pausing and killing nodes, then check that what the
/// clients saw is linearizable, with an HTML report of why. `harness check` does the
/// checking alone on history files (our JSONL, Jepsen EDN, Porcupine's logs).
///
/// Start with `harness test --time-limit 20` (raft-kv, five nodes) and open the report it
/// names; results are kept under `results/` (`harness serve` shows them).
#[derive(Debug, Parser)]
#[command(name = "harness", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per process: the size difference between the variants does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Run a test: start a cluster, drive clients, inject faults, check, report.
    #[command(after_help = cmd::test::AFTER_HELP)]
    Test(cmd::test::TestArgs),
    /// Check history files for linearizability (and convert between formats).
    Check(cmd::check::CheckArgs),
    /// Re-check a stored run.
    Analyze(cmd::analyze::AnalyzeArgs),
    /// Hunt for bugs: short seeded tests back to back, rotating workloads and nemesis
    /// schedules, until one fails or the budget runs out.
    Hunt(cmd::hunt::HuntArgs),
    /// Serve the results store on 127.0.0.1.
    Serve(cmd::serve::ServeArgs),
    /// Remove processes, namespaces and rules left by a harness that was killed.
    Clean(cmd::clean::CleanArgs),
}

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_BAD_INPUT } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    harness::logging::install(harness::logging::filter_from_env());
    let result = match cli.command {
        Command::Test(a) => cmd::test::run(a),
        Command::Check(a) => cmd::check::run(a),
        Command::Analyze(a) => cmd::analyze::run(a),
        Command::Hunt(a) => cmd::hunt::run(a),
        Command::Serve(a) => cmd::serve::run(a),
        Command::Clean(a) => cmd::clean::run(a),
    };
    if let Err(e) = &result {
        eprintln!("harness: error: {e}");
    }
    std::process::exit(exit_code(&result));
}
