//! `harness`: the controller library behind the `harness` binary (docs/design.md). Modules,
//! each importing only the ones below it:
//!
//! - [`cmd`]: one module per subcommand; turns arguments into configs, prints answers.
//! - [`run`]: the test runner (config, phases, workers, journal, results, store).
//! - [`report`]: the HTML report, plots, timeline, counterexample view, store index.
//! - [`cluster`]: the cluster runtime (node processes, network backends, nemesis, cleanup).
//! - [`systems`]: the systems under test, one module each, found through one registry.
//! - leaves: [`exit`] (outcomes, errors, exit codes), [`pathio`] (I/O errors that name
//!   their path), [`logging`] (`harness.log` and the tracing subscriber), [`netmode`] (the
//!   `--net` choice).

pub mod cluster;
pub mod cmd;
pub mod exit;
pub mod logging;
pub mod netmode;
pub mod pathio;
pub mod report;
pub mod run;
pub mod systems;
