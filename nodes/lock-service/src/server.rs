//! Wiring of one lock node: the shared node wiring of `raft-core` with the lock state
//! machine and this crate's HTTP routes. The `lock-node` binary turns the errors into a
//! message and a non-zero exit.

use crate::api::router;
use crate::bugs::Bug;
use crate::config::NodeConfig;
use crate::machine::LockMachine;
pub use raft_core::server::ServerError;

/// Run a node until its event loop stops or HTTP serving fails.
pub async fn serve(cfg: NodeConfig) -> Result<(), ServerError> {
    let bugs = cfg.bugs;
    let sm = LockMachine::new(bugs.has(Bug::NoGrace));
    raft_core::server::serve(&cfg.cluster, bugs.core(), bugs.names(), sm, |ctx| {
        router(ctx, bugs)
    })
    .await
}
