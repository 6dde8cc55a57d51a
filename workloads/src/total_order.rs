//! The `total-order` workload: clients post unique chat messages (`post`, value
//! `"m<worker>-<n>"`) to a totally ordered broadcast (pbft-chat), now and then read their
//! home node's delivered log (`read`, value: the message texts in order), and after recovery
//! read every node's log; judged by the total-order checker (agreement, integrity, validity).

use crate::clients::Client;
use crate::generator::worker_rng;
use crate::{Completion, OpSpec};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

/// Out of 100 ops, how many are reads during the main phase.
pub const READ_PERCENT: u32 = 10;

/// The per-worker op stream; message texts are unique across workers.
#[derive(Debug)]
pub struct TotalOrderGen {
    rng: ChaCha8Rng,
    worker: usize,
    count: usize,
}

impl TotalOrderGen {
    pub fn new(seed: u64, worker: usize) -> TotalOrderGen {
        TotalOrderGen {
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
            value: json!(format!("m{}-{}", self.worker, self.count)),
        }
    }
}

/// A read of the home node's delivered log.
pub fn read_op() -> OpSpec {
    OpSpec {
        f: "read".into(),
        key: None,
        value: Value::Null,
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn posts_are_unique_across_workers_and_seeded() {
        let mut seen = BTreeSet::new();
        for w in 0..3 {
            let mut g = TotalOrderGen::new(4, w);
            for _ in 0..100 {
                let op = g.next_op();
                if op.f == "post" {
                    assert!(seen.insert(op.value.to_string()), "{}", op.value);
                }
            }
        }
        assert!(seen.len() > 200);
        let ops = |s| {
            let mut g = TotalOrderGen::new(s, 1);
            (0..30).map(|_| g.next_op()).collect::<Vec<_>>()
        };
        assert_eq!(ops(5), ops(5));
    }
}
