//! Wiring of one raft-kv node: the shared node wiring of `raft-core` with the key-value
//! state machine and this crate's HTTP routes. The `raft-node` binary turns the errors into
//! a message and a non-zero exit.

use crate::config::NodeConfig;
use crate::http::router;
use crate::kv::Kv;
pub use raft_core::server::ServerError;

/// Run a node until its event loop stops or HTTP serving fails.
pub async fn serve(cfg: NodeConfig) -> Result<(), ServerError> {
    let bugs = cfg.bugs;
    raft_core::server::serve(&cfg.cluster, bugs.core(), bugs.names(), Kv::new(), |ctx| {
        router(ctx, bugs)
    })
    .await
}
