//! The `append` workload: each key holds a list; workers append unique elements and read
//! whole lists, so a lost, duplicated or reordered element (divergent logs, a truncation bug,
//! a leader overwriting committed entries) shows in the next read, where a register's last
//! write would hide it.
//!
//! A list is stored as text: element `e` is appended as `"e,"`, so a key's value is the
//! concatenation `"3,8,12,"`. Keys rotate like the register workload's (workers in `keys`
//! groups, a fresh key `l<group + keys * epoch>` after about `ops_per_key` ops), keeping
//! every key's history short enough to check. Ops: half reads, half appends of an element
//! unique over the whole test (`worker + concurrency * n`). Checked per key with the kv
//! model's get/append (linearizability: every read shows exactly the appends linearized
//! before it, in order).

use crate::clients::Client;
use crate::generator::worker_rng;
use crate::{Completion, OpSpec};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

/// Out of 100 ops, how many are reads.
pub const READ_PERCENT: u32 = 50;

/// The per-worker op stream of the append workload.
#[derive(Debug)]
pub struct AppendGen {
    rng: ChaCha8Rng,
    worker: usize,
    concurrency: usize,
    group: usize,
    keys: usize,
    quota: usize,
    count: usize,
    appended: usize,
}

impl AppendGen {
    pub fn new(
        seed: u64,
        worker: usize,
        concurrency: usize,
        keys: usize,
        ops_per_key: usize,
    ) -> AppendGen {
        let keys = keys.max(1);
        let concurrency = concurrency.max(1);
        let group = worker % keys;
        let group_size = (0..concurrency)
            .filter(|w| w % keys == group)
            .count()
            .max(1);
        AppendGen {
            rng: worker_rng(seed, worker),
            worker,
            concurrency,
            group,
            keys,
            quota: (ops_per_key / group_size).max(1),
            count: 0,
            appended: 0,
        }
    }

    pub fn next_op(&mut self) -> OpSpec {
        let epoch = self.count / self.quota;
        self.count += 1;
        let key = Some(json!(key_name((self.group + self.keys * epoch) as u64)));
        if self.rng.gen_range(0..100) < READ_PERCENT {
            return OpSpec {
                f: "read".into(),
                key,
                value: Value::Null,
            };
        }
        let e = self.worker + self.concurrency * self.appended;
        self.appended += 1;
        OpSpec {
            f: "append".into(),
            key,
            value: json!(element_text(e as u64)),
        }
    }
}

/// The history and HTTP name of list key `id`.
pub fn key_name(id: u64) -> String {
    format!("l{id}")
}

/// The text element `e` is appended as.
pub fn element_text(e: u64) -> String {
    format!("{e},")
}

/// The elements of a list's text, in order (`""` or `null`: empty). Used by reports and
/// tests; the checker compares the texts themselves.
pub fn parse_list(text: &str) -> Result<Vec<u64>, String> {
    text.split_terminator(',')
        .map(|t| {
            t.parse::<u64>()
                .map_err(|_| format!("list holds a non-integer element {t:?}"))
        })
        .collect()
}

/// Execute one append-workload op: a read records the list's text (`""` when absent), an
/// append records the appended text.
pub async fn execute(client: &Client, op: &OpSpec) -> Completion {
    let Some(key) = op.key.as_ref().and_then(Value::as_str) else {
        return Completion::Fail(format!("append op without a string key: {op:?}"));
    };
    match op.f.as_str() {
        "read" => match client.read(key).await {
            Completion::Ok(Value::Null) => Completion::Ok(json!("")),
            other => other,
        },
        "append" => {
            let Some(text) = op.value.as_str() else {
                return Completion::Fail(format!("append value not a string: {}", op.value));
            };
            match client.append(key, text).await {
                Completion::Ok(_) => Completion::Ok(op.value.clone()),
                other => other,
            }
        }
        other => Completion::Fail(format!("append workload has no op `{other}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn appended_elements_are_unique_seeded_and_keys_rotate() {
        let mut seen = BTreeSet::new();
        let mut keys = BTreeSet::new();
        for w in 0..4 {
            let mut g = AppendGen::new(3, w, 4, 2, 10);
            for _ in 0..100 {
                let op = g.next_op();
                keys.insert(op.key.clone().unwrap().as_str().unwrap().to_string());
                if op.f == "append" {
                    let text = op.value.as_str().unwrap().to_string();
                    assert!(seen.insert(text.clone()), "duplicate element {text}");
                } else {
                    assert_eq!(op.f, "read");
                }
            }
        }
        assert!(seen.len() > 100 && seen.len() < 300, "{}", seen.len());
        // 2 groups of 2 workers, quota 5 ops per worker per key: 20 epochs each.
        assert_eq!(keys.len(), 40);
        let run = |seed| {
            let mut g = AppendGen::new(seed, 1, 4, 2, 10);
            (0..30).map(|_| g.next_op()).collect::<Vec<_>>()
        };
        assert_eq!(run(5), run(5));
        assert_ne!(run(5), run(6));
    }

    #[test]
    fn list_texts_parse_in_order() {
        assert_eq!(parse_list("").unwrap(), Vec::<u64>::new());
        assert_eq!(parse_list("3,1,7,").unwrap(), vec![3, 1, 7]);
        assert!(parse_list("3,x,").is_err());
        assert_eq!(element_text(12), "12,");
    }
}
