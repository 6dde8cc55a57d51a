//! The `lock` workload: many clients acquire and release a few locks (`/locks/l<i>`), each
//! client keeping its own session alive. Recorded as ops `f: acquire|release`, `key` = lock
//! name, `value` = the fencing token (on the completion); checked with the mutex model per
//! lock and the lock-overlap checker (no two holders at overlapping times).
//!
//! Each worker alternates: acquire a lock drawn from its seeded stream (waiting at most
//! [`ACQUIRE_WAIT`]), then release the same lock. A release after an acquire that did not
//! succeed is a definite `fail` (`not-held`) that sends nothing.

use crate::clients::lock::LockClient;
use crate::clients::Client;
use crate::generator::worker_rng;
use crate::{Completion, OpSpec};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use std::time::Duration;

/// How long one acquire waits while another session holds the lock.
pub const ACQUIRE_WAIT: Duration = Duration::from_millis(1000);

/// The name of lock `i`.
pub fn lock_name(i: usize) -> String {
    format!("/locks/l{i}")
}

/// The per-worker op stream: acquire a drawn lock, release it, again.
#[derive(Debug)]
pub struct LockGen {
    rng: ChaCha8Rng,
    locks: usize,
    /// The lock acquired by the previous op, to release next.
    pending: Option<String>,
}

impl LockGen {
    pub fn new(seed: u64, worker: usize, locks: usize) -> LockGen {
        LockGen {
            rng: worker_rng(seed, worker),
            locks: locks.max(1),
            pending: None,
        }
    }

    pub fn next_op(&mut self) -> OpSpec {
        let (f, name) = match self.pending.take() {
            Some(name) => ("release", name),
            None => {
                let name = lock_name(self.rng.gen_range(0..self.locks));
                self.pending = Some(name.clone());
                ("acquire", name)
            }
        };
        OpSpec {
            f: f.into(),
            key: Some(Value::String(name)),
            value: Value::Null,
        }
    }
}

/// The lock client of `client`, or a definite `fail` saying the system speaks no lock
/// protocol.
pub fn lock_client(client: &Client) -> Result<&LockClient, Completion> {
    client.lock().ok_or_else(|| {
        Completion::Fail("the system's client speaks no lock protocol (--workload lock)".into())
    })
}

/// The lock client and the lock name of `op`, or the definite `fail` to record.
pub fn lock_op<'a>(
    client: &'a Client,
    op: &'a OpSpec,
) -> Result<(&'a LockClient, &'a str), Completion> {
    let lock = lock_client(client)?;
    let name =
        op.key.as_ref().and_then(Value::as_str).ok_or_else(|| {
            Completion::Fail(format!("lock op without a lock name: {:?}", op.key))
        })?;
    Ok((lock, name))
}

/// Execute an `acquire` or `release` op.
pub async fn execute(client: &Client, op: &OpSpec) -> Completion {
    let (lock, name) = match lock_op(client, op) {
        Ok(x) => x,
        Err(c) => return c,
    };
    match op.f.as_str() {
        "acquire" => lock.acquire(name, ACQUIRE_WAIT).await,
        "release" => lock.release(name).await,
        f => Completion::Fail(format!("`{f}` is not a lock operation")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acquires_alternate_with_releases_of_the_same_lock() {
        let mut g = LockGen::new(3, 1, 2);
        for _ in 0..20 {
            let a = g.next_op();
            let r = g.next_op();
            assert_eq!((a.f.as_str(), r.f.as_str()), ("acquire", "release"));
            assert_eq!(a.key, r.key);
            let name = a.key.unwrap();
            assert!(name == "/locks/l0" || name == "/locks/l1", "{name}");
        }
    }
}
