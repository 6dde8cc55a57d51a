//! `harness`: the controller library behind the `harness` binary: subcommands ([`cmd`]),
//! the mapping of outcomes and errors to exit codes ([`exit`]), and (as they land) the
//! cluster lifecycle, network backends, nemeses, runner, history journal, store and reports.

pub mod cluster;
pub mod cmd;
pub mod exit;
pub mod report;
pub mod run;
