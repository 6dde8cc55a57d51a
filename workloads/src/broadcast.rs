//! The `broadcast` workload: clients post unique chat messages (`post`, value
//! `"b<worker>-<n>"`) each to its home node of a gossip system, now and then read their home
//! node's delivered set (`read`, value: `[body, received_at_unix_ms]` pairs), and after the
//! final heal and recovery read every node's set; judged by the broadcast checker (every
//! acknowledged message on every honest node, nothing unsent, convergence times).

use crate::clients::Client;
use crate::{Completion, OpSpec};

pub use crate::chat::read_op;

/// The per-worker op stream (posts `"b<worker>-<n>"`, reads now and then).
pub fn generator(seed: u64, worker: usize) -> crate::chat::PostGen {
    crate::chat::PostGen::new(seed, worker, "b")
}

/// Execute one broadcast op; a client of a system without gossip fails it.
pub async fn execute(client: &Client, op: &OpSpec) -> Completion {
    let Client::Gossip(c) = client else {
        return Completion::Fail("broadcast needs a gossip-http system".into());
    };
    match (op.f.as_str(), op.value.as_str()) {
        ("post", Some(body)) => c.post(body).await,
        ("read", _) => c.read_set().await,
        (f, _) => Completion::Fail(format!("broadcast has no op `{f}` with {}", op.value)),
    }
}
