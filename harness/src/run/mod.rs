//! The test runner: one run, phase by phase (docs/design.md, "A run"): `setup` (the system
//! built, its binaries found, the run folder), `start` (the cluster up), `main` (client
//! workers and the nemesis for the time limit), `heal`, `recovery`, `final_reads`,
//! `teardown` (the nodes stopped; their logs stay in the run folder), `check` and `report`.
//! The runner takes a [`config::TestConfig`] (built by `cmd/test.rs`) and never reads the
//! command line.
//!
//! Submodules, one concern each: [`config`] (the run's config, checked against the
//! system's capabilities; `test.json`), [`series`] (`--test-count` runs, JUnit, the summary
//! and the last JSON line), [`once`] (one run: setup, check, report), [`cluster_phases`]
//! (start, main, heal, recovery, final reads, teardown), [`worker`] (client workers),
//! [`journal`] (the history writer), [`results`] (the one check → `results.json` → report
//! path, also used by `analyze` and `check --report`), [`analyze`] (re-checking a stored
//! run), [`store`] (run folders, `latest` links), [`phases`] (the wall time of each phase),
//! [`junit`] (JUnit XML), [`progress`] (the progress line), [`signals`] (Ctrl-C / SIGTERM), [`resource`] (the fencing workload's protected
//! resource, a store the harness serves).

pub mod analyze;
pub mod cluster_phases;
pub mod config;
pub mod journal;
pub mod junit;
pub mod once;
pub mod phases;
pub mod progress;
pub mod resource;
pub mod results;
pub mod series;
pub mod signals;
pub mod store;
pub mod worker;

pub use series::run_tests;
