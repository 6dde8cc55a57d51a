//! One module per subcommand. Each defines its clap `Args` struct and a
//! `run(args) -> Result<Outcome, HarnessError>`; `main.rs` only dispatches.

pub mod analyze;
pub mod check;
pub mod clean;
pub mod hunt;
pub mod serve;
pub mod serve_idle;
pub mod test;
