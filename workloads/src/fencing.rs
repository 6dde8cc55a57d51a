//! The `fencing` workload: lock holders write to a protected resource (the small store the
//! harness runs, [`crate::clients::lock::ResourceClient`]) with their fencing tokens.
//!
//! Each worker loops over four ops on a lock drawn from its seeded stream (`/locks/l<i>`):
//! `acquire` (value: the token), `check` (asks the service, starting at the client's home
//! node, who holds the lock: `{"token": K|null, "lease_left_us"}`), `write` (to the resource
//! under the lock's name: `{"token","accepted","seq","highest","lease_left_us",
//! "sent_after_us"}`) and `release`. The client is a careful one: it writes only while its
//! own lease runs (else `fail lease-lapsed`, nothing sent). The stall nemesis freezes it
//! right after that check and before the send (a GC pause there): it then writes without
//! looking again. `check`, `write` and `release` of a lock the client does not hold are
//! `fail not-held` and send nothing. Judged by the `fencing` checker
//! (`checker::checkers::fencing`).

use crate::clients::lock::{LockClient, LEASE_LAPSED, NOT_HELD};
use crate::clients::Client;
use crate::generator::worker_rng;
use crate::lock::{lock_name, lock_op, ACQUIRE_WAIT};
use crate::{Completion, OpSpec};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use std::time::Instant;

/// The ops of one hold, in order.
pub const STEPS: [&str; 4] = ["acquire", "check", "write", "release"];

/// The per-worker op stream.
#[derive(Debug)]
pub struct FencingGen {
    rng: ChaCha8Rng,
    locks: usize,
    step: usize,
    lock: String,
}

impl FencingGen {
    pub fn new(seed: u64, worker: usize, locks: usize) -> FencingGen {
        FencingGen {
            rng: worker_rng(seed, worker),
            locks: locks.max(1),
            step: 0,
            lock: String::new(),
        }
    }

    pub fn next_op(&mut self) -> OpSpec {
        if self.step == 0 {
            self.lock = lock_name(self.rng.gen_range(0..self.locks));
        }
        let f = STEPS[self.step];
        self.step = (self.step + 1) % STEPS.len();
        OpSpec {
            f: f.into(),
            key: Some(Value::String(self.lock.clone())),
            value: Value::Null,
        }
    }
}

/// Execute one op of the fencing workload.
pub async fn execute(client: &Client, op: &OpSpec) -> Completion {
    let (lock, name) = match lock_op(client, op) {
        Ok(x) => x,
        Err(c) => return c,
    };
    match op.f.as_str() {
        "acquire" => lock.acquire(name, ACQUIRE_WAIT).await,
        "check" => check(lock, name).await,
        "write" => write(lock, name).await,
        "release" => lock.release(name).await,
        f => Completion::Fail(format!("`{f}` is not a fencing operation")),
    }
}

/// Who holds `name`, as the service says, with the lease left once the answer came.
async fn check(lock: &LockClient, name: &str) -> Completion {
    if lock.held_token(name).is_none() {
        return Completion::Fail(NOT_HELD.into());
    }
    match lock.read_holder(name).await {
        Completion::Ok(token) => Completion::Ok(json!({
            "token": token,
            "lease_left_us": lock.lease_left().as_micros() as u64,
        })),
        other => other,
    }
}

/// A holder's write to the protected resource under its token.
async fn write(lock: &LockClient, name: &str) -> Completion {
    let started = Instant::now();
    let Some(token) = lock.held_token(name) else {
        return Completion::Fail(NOT_HELD.into());
    };
    let Some(resource) = lock.resource() else {
        return Completion::Fail("no protected resource attached (--workload fencing)".into());
    };
    if !lock.lease_valid() {
        return Completion::Fail(LEASE_LAPSED.into());
    }
    // A GC pause lands here: after the lease check, before the write.
    lock.gate().stall_point(name, token).await;
    let lease_left = lock.lease_left();
    let sent_after = started.elapsed();
    match resource.write(name, token).await {
        Ok(a) => Completion::Ok(json!({
            "token": token,
            "accepted": a.accepted,
            "seq": a.seq,
            "highest": a.highest,
            "lease_left_us": lease_left.as_micros() as u64,
            "sent_after_us": sent_after.as_micros() as u64,
        })),
        Err(c) => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_hold_is_acquire_check_write_release_of_one_lock() {
        let mut g = FencingGen::new(5, 0, 3);
        for _ in 0..10 {
            let ops: Vec<OpSpec> = (0..4).map(|_| g.next_op()).collect();
            let fs: Vec<&str> = ops.iter().map(|o| o.f.as_str()).collect();
            assert_eq!(fs, STEPS);
            assert!(ops.iter().all(|o| o.key == ops[0].key));
        }
    }
}
