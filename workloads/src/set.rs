//! The `set` workload: unique integer adds into one logical set, periodic reads, and a
//! final read on every node; checked by set-full (lost and stale elements).
//!
//! Storage on a key-value store with compare-and-set: the set is split over `buckets`
//! keys `set-b<i>` (element `e` lives in bucket `e mod buckets`); each bucket's value is a
//! comma-separated list of decimal elements. `add e` reads its bucket and CASes the list
//! with `e` appended, retrying on a cas mismatch (each retry is a new mutation, so a
//! mismatch is a definite "not applied"); a timeout of the CAS makes the add `info`.
//! Splitting keeps values small (the CAS payload grows with the bucket, not the set).
//! `read` reads every bucket and returns the sorted union: not one atomic snapshot, but
//! each element lives in exactly one bucket read within the op's interval, which is what
//! set-full judges per element.

use crate::clients::{Client, CAS_MISMATCH};
use crate::generator::worker_rng;
use crate::{Completion, OpSpec};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// How many times an add retries after a cas mismatch before it gives up (`fail`).
pub const MAX_CAS_ATTEMPTS: usize = 20;

/// Out of 100 ops, how many are reads during the main phase.
pub const READ_PERCENT: u32 = 5;

/// The per-worker op stream: element ids `worker + concurrency * n` are unique overall.
#[derive(Debug)]
pub struct SetGen {
    rng: ChaCha8Rng,
    worker: usize,
    concurrency: usize,
    count: usize,
}

impl SetGen {
    pub fn new(seed: u64, worker: usize, concurrency: usize) -> SetGen {
        SetGen {
            rng: worker_rng(seed, worker),
            worker,
            concurrency: concurrency.max(1),
            count: 0,
        }
    }

    pub fn next_op(&mut self) -> OpSpec {
        if self.rng.gen_range(0..100) < READ_PERCENT {
            return read_op();
        }
        let e = self.worker + self.concurrency * self.count;
        self.count += 1;
        OpSpec {
            f: "add".into(),
            key: None,
            value: json!(e),
        }
    }
}

/// A read of the whole set.
pub fn read_op() -> OpSpec {
    OpSpec {
        f: "read".into(),
        key: None,
        value: Value::Null,
    }
}

/// The key of bucket `i`.
pub fn bucket_key(i: usize) -> String {
    format!("set-b{i}")
}

/// Execute one set op against a store split into `buckets` keys.
pub async fn execute(client: &Client, op: &OpSpec, buckets: usize) -> Completion {
    let buckets = buckets.max(1);
    match op.f.as_str() {
        "add" => {
            let Some(e) = op.value.as_u64() else {
                return Completion::Fail(format!("add of a non-integer {}", op.value));
            };
            add(client, e, &bucket_key(e as usize % buckets)).await
        }
        "read" => {
            let mut all = BTreeSet::new();
            for b in 0..buckets {
                match client.read(&bucket_key(b)).await {
                    Completion::Ok(v) => match parse_bucket(&v) {
                        Ok(es) => all.extend(es),
                        Err(e) => return Completion::Fail(e),
                    },
                    Completion::Fail(e) | Completion::Info(e) => return Completion::Fail(e),
                }
            }
            Completion::Ok(json!(all.into_iter().collect::<Vec<u64>>()))
        }
        other => Completion::Fail(format!("set workload has no op `{other}`")),
    }
}

async fn add(client: &Client, e: u64, key: &str) -> Completion {
    for _ in 0..MAX_CAS_ATTEMPTS {
        let cur = match client.read(key).await {
            Completion::Ok(v) => v,
            Completion::Fail(err) | Completion::Info(err) => return Completion::Fail(err),
        };
        let elems = match parse_bucket(&cur) {
            Ok(es) => es,
            Err(err) => return Completion::Fail(err),
        };
        if elems.contains(&e) {
            return Completion::Ok(json!(e));
        }
        let from = cur.as_str();
        let to = match from {
            Some(s) if !s.is_empty() => format!("{s},{e}"),
            _ => e.to_string(),
        };
        match client.cas(key, from, &to).await {
            Completion::Ok(_) => return Completion::Ok(json!(e)),
            Completion::Fail(err) if err == CAS_MISMATCH => continue,
            other => return other,
        }
    }
    Completion::Fail("cas-contention".into())
}

/// Parse a bucket's value (`null`, `""` or `"1,5,9"`).
pub fn parse_bucket(v: &Value) -> Result<Vec<u64>, String> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::String(s) if s.is_empty() => Ok(Vec::new()),
        Value::String(s) => s
            .split(',')
            .map(|t| {
                t.trim()
                    .parse::<u64>()
                    .map_err(|_| format!("set bucket holds a non-integer element {t:?}"))
            })
            .collect(),
        other => Err(format!("set bucket value is not a string: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_are_unique_across_workers_and_seeded() {
        let mut seen = BTreeSet::new();
        for w in 0..4 {
            let mut g = SetGen::new(9, w, 4);
            for _ in 0..200 {
                let op = g.next_op();
                if op.f == "add" {
                    assert!(
                        seen.insert(op.value.as_u64().unwrap()),
                        "duplicate element {}",
                        op.value
                    );
                }
            }
        }
        assert!(seen.len() > 4 * 150);
        let a: Vec<OpSpec> = {
            let mut g = SetGen::new(5, 1, 4);
            (0..50).map(|_| g.next_op()).collect()
        };
        let b: Vec<OpSpec> = {
            let mut g = SetGen::new(5, 1, 4);
            (0..50).map(|_| g.next_op()).collect()
        };
        assert_eq!(a, b);
    }

    #[test]
    fn bucket_values_parse() {
        assert_eq!(parse_bucket(&Value::Null).unwrap(), Vec::<u64>::new());
        assert_eq!(parse_bucket(&json!("3,1,7")).unwrap(), vec![3, 1, 7]);
        assert!(parse_bucket(&json!("3,x")).is_err());
        assert!(parse_bucket(&json!(4)).is_err());
    }
}
