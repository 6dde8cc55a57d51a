//! The `register` workload: independent cas-registers, like Jepsen's independent generator.
//!
//! Workers are split into `keys` groups (worker `w` is in group `w mod keys`); each group
//! works on one key at a time and moves to a fresh key after about `ops_per_key` operations
//! (each worker does its share, `ops_per_key / group size`, then moves on). Key ids are
//! `group + keys * epoch`, so a worker's key sequence depends only on its own op count and
//! the seed, never on timing. Ops: an equal mix of read, write (values 0..5) and cas
//! (`[from, to]`, both 0..5). Checked per key with the cas-register model.

use crate::clients::Client;
use crate::generator::worker_rng;
use crate::{Completion, OpSpec};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

/// Values are drawn from `0..VALUES`.
pub const VALUES: i64 = 5;

/// The per-worker op stream of the register workload.
#[derive(Debug)]
pub struct RegisterGen {
    rng: ChaCha8Rng,
    group: usize,
    keys: usize,
    quota: usize,
    count: usize,
}

impl RegisterGen {
    pub fn new(
        seed: u64,
        worker: usize,
        concurrency: usize,
        keys: usize,
        ops_per_key: usize,
    ) -> RegisterGen {
        let keys = keys.max(1);
        let group = worker % keys;
        let group_size = (0..concurrency.max(1))
            .filter(|w| w % keys == group)
            .count()
            .max(1);
        RegisterGen {
            rng: worker_rng(seed, worker),
            group,
            keys,
            quota: (ops_per_key / group_size).max(1),
            count: 0,
        }
    }

    pub fn next_op(&mut self) -> OpSpec {
        let epoch = self.count / self.quota;
        self.count += 1;
        let key = key_name((self.group + self.keys * epoch) as u64);
        match self.rng.gen_range(0..3) {
            0 => OpSpec {
                f: "read".into(),
                key: Some(json!(key)),
                value: Value::Null,
            },
            1 => OpSpec {
                f: "write".into(),
                key: Some(json!(key)),
                value: json!(self.rng.gen_range(0..VALUES)),
            },
            _ => {
                let from = self.rng.gen_range(0..VALUES);
                let to = self.rng.gen_range(0..VALUES);
                OpSpec {
                    f: "cas".into(),
                    key: Some(json!(key)),
                    value: json!([from, to]),
                }
            }
        }
    }
}

/// The history and HTTP name of register key `id`.
pub fn key_name(id: u64) -> String {
    format!("k{id}")
}

/// Execute one register op. `Ok` carries the value to record on completion: the read
/// value (an integer, `null` when absent, or the raw string if the node returned something
/// that is not an integer, so the checker sees it), or the invoke value for write / cas.
pub async fn execute(client: &Client, op: &OpSpec) -> Completion {
    let Some(key) = op.key.as_ref().and_then(Value::as_str) else {
        return Completion::Fail(format!("register op without a string key: {op:?}"));
    };
    match op.f.as_str() {
        "read" => match client.read(key).await {
            Completion::Ok(Value::String(s)) => Completion::Ok(
                s.parse::<i64>()
                    .map(Value::from)
                    .unwrap_or(Value::String(s)),
            ),
            other => other,
        },
        "write" => {
            let Some(v) = op.value.as_i64() else {
                return Completion::Fail(format!("write value not an int: {}", op.value));
            };
            ok_with(client.write(key, &v.to_string()).await, &op.value)
        }
        "cas" => {
            let (Some(from), Some(to)) = (
                op.value.get(0).and_then(Value::as_i64),
                op.value.get(1).and_then(Value::as_i64),
            ) else {
                return Completion::Fail(format!("cas value not [from, to]: {}", op.value));
            };
            ok_with(
                client
                    .cas(key, Some(&from.to_string()), &to.to_string())
                    .await,
                &op.value,
            )
        }
        other => Completion::Fail(format!("register workload has no op `{other}`")),
    }
}

fn ok_with(c: Completion, v: &Value) -> Completion {
    match c {
        Completion::Ok(_) => Completion::Ok(v.clone()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn same_seed_same_ops_and_keys_rotate() {
        let mut a = RegisterGen::new(42, 1, 10, 2, 100);
        let mut b = RegisterGen::new(42, 1, 10, 2, 100);
        let ops_a: Vec<OpSpec> = (0..300).map(|_| a.next_op()).collect();
        let ops_b: Vec<OpSpec> = (0..300).map(|_| b.next_op()).collect();
        assert_eq!(ops_a, ops_b);
        // Worker 1 is in group 1 of 2; 5 workers per group → 20 ops per key per worker.
        let mut per_key: BTreeMap<String, usize> = BTreeMap::new();
        for op in &ops_a {
            *per_key
                .entry(op.key.clone().unwrap().as_str().unwrap().to_string())
                .or_default() += 1;
        }
        assert_eq!(per_key.len(), 15);
        assert!(per_key.values().all(|&n| n == 20));
        assert!(
            per_key.contains_key("k1") && per_key.contains_key("k3") && !per_key.contains_key("k2")
        );
        let fs: std::collections::BTreeSet<&str> = ops_a.iter().map(|o| o.f.as_str()).collect();
        assert_eq!(
            fs.into_iter().collect::<Vec<_>>(),
            vec!["cas", "read", "write"]
        );
        for op in &ops_a {
            match op.f.as_str() {
                "write" => assert!((0..VALUES).contains(&op.value.as_i64().unwrap())),
                "cas" => assert_eq!(op.value.as_array().unwrap().len(), 2),
                _ => assert!(op.value.is_null()),
            }
        }
        let mut other_seed = RegisterGen::new(43, 1, 10, 2, 100);
        let ops_c: Vec<OpSpec> = (0..300).map(|_| other_seed.next_op()).collect();
        assert_ne!(ops_a, ops_c);
    }
}
