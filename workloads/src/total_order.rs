//! The `total-order` workload: clients post unique chat messages (`post`, value
//! `"m<worker>-<n>"`) to a totally ordered broadcast (pbft-chat), now and then read their
//! home node's delivered log (`read`, value: the message texts in order), and after recovery
//! read every node's log; judged by the total-order checker (agreement, integrity, validity).

use crate::clients::Client;
use crate::{Completion, OpSpec};

pub use crate::chat::read_op;

/// The per-worker op stream (posts `"m<worker>-<n>"`, reads now and then).
pub fn generator(seed: u64, worker: usize) -> crate::chat::PostGen {
    crate::chat::PostGen::new(seed, worker, "m")
}

/// Execute one total-order op; a client of a system without a log fails it.
pub async fn execute(client: &Client, op: &OpSpec) -> Completion {
    let Client::Pbft(c) = client else {
        return Completion::Fail("total-order needs a pbft-chat-http system".into());
    };
    match (op.f.as_str(), op.value.as_str()) {
        ("post", Some(message)) => c.post(message).await,
        ("read", _) => c.read_log().await,
        (f, _) => Completion::Fail(format!("total-order has no op `{f}` with {}", op.value)),
    }
}
