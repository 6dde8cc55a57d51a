//! The `broadcast` workload: clients post unique chat messages (`post`, value
//! `"b<worker>-<n>"`) each to its home node of a gossip system, now and then read their home
//! node's delivered set (`read`, value: `[body, received_at_unix_ms]` pairs), and after the
//! final heal and recovery read every node's set; judged by the broadcast checker (every
//! acknowledged message on every honest node, nothing unsent, convergence times).

use crate::clients::Client;
use crate::generator::worker_rng;
use crate::{Completion, OpSpec};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

/// Out of 100 ops, how many are reads during the main phase.
pub const READ_PERCENT: u32 = 10;

/// The per-worker op stream; message bodies are unique across workers.
#[derive(Debug)]
pub struct BroadcastGen {
    rng: ChaCha8Rng,
    worker: usize,
    count: usize,
}

impl BroadcastGen {
    pub fn new(seed: u64, worker: usize) -> BroadcastGen {
        BroadcastGen {
            rng: worker_rng(seed, worker),
            worker,
            count: 0,
        }
    }

    pub fn next_op(&mut self) -> OpSpec {
        if self.rng.gen_range(0..100) < READ_PERCENT {
            return read_op();
        }
        self.count += 1;
        OpSpec {
            f: "post".into(),
            key: None,
            value: json!(format!("b{}-{}", self.worker, self.count)),
        }
    }
}

/// A read of the home node's delivered set.
pub fn read_op() -> OpSpec {
    OpSpec {
        f: "read".into(),
        key: None,
        value: Value::Null,
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn posts_are_unique_across_workers_and_seeded() {
        let mut seen = BTreeSet::new();
        for w in 0..3 {
            let mut g = BroadcastGen::new(4, w);
            for _ in 0..100 {
                let op = g.next_op();
                if op.f == "post" {
                    assert!(seen.insert(op.value.to_string()), "{}", op.value);
                }
            }
        }
        assert!(seen.len() > 200);
        let ops = |s| {
            let mut g = BroadcastGen::new(s, 1);
            (0..30).map(|_| g.next_op()).collect::<Vec<_>>()
        };
        assert_eq!(ops(5), ops(5));
    }
}
