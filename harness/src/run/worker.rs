//! Client workers: each worker owns one client (whose home node is node `i mod N`, Jepsen
//! style) and plays a sequence of logical processes: it takes the next op from its seeded
//! stream, records the invocation, executes it (bounded by the op timeout inside the
//! client), records the completion, and after an `info` continues as process
//! `process + concurrency` (the crashed op stays open). Also the final reads.

use super::journal::{Event, Journal};
use checker::{OpType, Process};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use workloads::clients::{Client, CAS_MISMATCH};
use workloads::{Completion, OpSpec, Workload};

/// Record the invocation of `op` by `process`, run it, record its completion.
pub async fn run_op(
    journal: &Journal,
    process: u64,
    client: &Client,
    workload: &Workload,
    op: &OpSpec,
) -> Completion {
    let node = Some(client.home_name().to_string());
    journal.record(Event {
        op_type: OpType::Invoke,
        process: Process::Client(process),
        f: op.f.clone(),
        key: op.key.clone(),
        value: op.value.clone(),
        error: None,
        node: node.clone(),
    });
    let c = workload.execute(client, op).await;
    let (value, error) = match &c {
        Completion::Ok(v) => (v.clone(), None),
        Completion::Fail(e) | Completion::Info(e) => (op.value.clone(), Some(e.clone())),
    };
    journal.record(Event {
        op_type: c.op_type(),
        process: Process::Client(process),
        f: op.f.clone(),
        key: op.key.clone(),
        value,
        error,
        node,
    });
    c
}

/// One worker of the main phase.
pub struct Worker {
    pub id: usize,
    pub concurrency: usize,
    pub client: Client,
    pub workload: Arc<Workload>,
    pub journal: Journal,
    pub stop: Arc<AtomicBool>,
    pub deadline: Instant,
    /// Minimum time between this worker's op starts (from `--rate`).
    pub interval: Option<Duration>,
}

/// What a worker did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkerDone {
    pub ops: u64,
    /// The next free process id of this worker.
    pub next_process: u64,
}

const MIN_UNAVAILABLE_BACKOFF: Duration = Duration::from_millis(10);
const MAX_UNAVAILABLE_BACKOFF: Duration = Duration::from_millis(160);

impl Worker {
    pub async fn run(self) -> WorkerDone {
        let mut gen = self.workload.generator(self.id);
        let mut process = self.id as u64;
        let mut ops = 0u64;
        let mut next_start = Instant::now();
        let mut unavailable_backoff = MIN_UNAVAILABLE_BACKOFF;
        loop {
            if self.stop.load(Ordering::Relaxed) || Instant::now() >= self.deadline {
                break;
            }
            if let Some(iv) = self.interval {
                let now = Instant::now();
                if next_start > now {
                    let wait = (next_start - now).min(self.deadline.saturating_duration_since(now));
                    tokio::time::sleep(wait).await;
                    if self.stop.load(Ordering::Relaxed) || Instant::now() >= self.deadline {
                        break;
                    }
                }
                next_start = next_start.max(Instant::now() - iv) + iv;
            }
            let op = gen.next_op();
            let c = run_op(&self.journal, process, &self.client, &self.workload, &op).await;
            ops += 1;
            if matches!(c, Completion::Info(_)) {
                process += self.concurrency as u64;
            }
            // A node that cannot serve (no leader, refused, gone) answers at once; without a
            // pause the worker would spin and fill the history with fast failures. Back off
            // 10 ms, doubling to 160 ms while the failures last; a success resets it.
            match &c {
                Completion::Fail(e) if e != CAS_MISMATCH => {
                    let now = Instant::now();
                    let wait =
                        unavailable_backoff.min(self.deadline.saturating_duration_since(now));
                    tokio::time::sleep(wait).await;
                    unavailable_backoff = (unavailable_backoff * 2).min(MAX_UNAVAILABLE_BACKOFF);
                }
                Completion::Ok(_) => unavailable_backoff = MIN_UNAVAILABLE_BACKOFF,
                _ => {}
            }
        }
        WorkerDone {
            ops,
            next_process: process,
        }
    }
}
