//! What the chat workloads (`total-order`, `broadcast`) share: the seeded per-worker stream
//! of unique posts (`post`, value `"<prefix><worker>-<n>"`) with a read of the home node
//! now and then (`read`, [`READ_PERCENT`] of the ops).

use crate::generator::worker_rng;
use crate::OpSpec;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

/// Out of 100 ops, how many are reads during the main phase.
pub const READ_PERCENT: u32 = 10;

/// The per-worker op stream; message texts are unique across workers.
#[derive(Debug)]
pub struct PostGen {
    rng: ChaCha8Rng,
    prefix: &'static str,
    worker: usize,
    count: usize,
}

impl PostGen {
    pub fn new(seed: u64, worker: usize, prefix: &'static str) -> PostGen {
        PostGen {
            rng: worker_rng(seed, worker),
            prefix,
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
            value: json!(format!("{}{}-{}", self.prefix, self.worker, self.count)),
        }
    }
}

/// A read of the home node's delivered messages.
pub fn read_op() -> OpSpec {
    OpSpec {
        f: "read".into(),
        key: None,
        value: Value::Null,
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
            let mut g = PostGen::new(4, w, "m");
            for _ in 0..100 {
                let op = g.next_op();
                if op.f == "post" {
                    assert!(seen.insert(op.value.to_string()), "{}", op.value);
                }
            }
        }
        assert!(seen.len() > 200);
        let ops = |s| {
            let mut g = PostGen::new(s, 1, "b");
            (0..30).map(|_| g.next_op()).collect::<Vec<_>>()
        };
        assert_eq!(ops(5), ops(5));
        assert!(ops(5)
            .iter()
            .any(|o| o.value.as_str().is_some_and(|v| v.starts_with("b1-"))));
    }
}
