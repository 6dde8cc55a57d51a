//! Peer transport: outgoing signed messages go to each peer's own address (`--peer
//! ID=ADDR`, so a harness can route every directed link through its own proxy or cut it)
//! as JSON arrays on `POST /pbft/messages`. One task per peer with a bounded queue: when it
//! is full, messages are dropped (the protocol re-sends what matters: status-driven
//! catch-up, view-change resends). Receiving is in `http`.

use crate::core::{Dest, Outgoing};
use crate::message::Signed;
use crate::types::ReplicaId;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::mpsc;

/// Messages queued per peer before new ones are dropped.
pub const PEER_QUEUE: usize = 8192;
/// Most messages in one HTTP request.
pub const MAX_BATCH: usize = 512;
/// Time allowed for one batch.
pub const BATCH_TIMEOUT: Duration = Duration::from_millis(2000);

/// The sending side.
#[derive(Debug, Clone)]
pub struct Transport {
    queues: BTreeMap<ReplicaId, mpsc::Sender<Signed>>,
}

impl Transport {
    /// Spawn one sender task per peer on the current runtime.
    pub fn spawn(peers: &BTreeMap<ReplicaId, String>) -> Result<Transport, reqwest::Error> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(300))
            .pool_idle_timeout(Duration::from_secs(30))
            .tcp_nodelay(true)
            .build()?;
        let mut queues = BTreeMap::new();
        for (&id, addr) in peers {
            let (tx, rx) = mpsc::channel(PEER_QUEUE);
            let url = format!("http://{addr}/pbft/messages");
            tokio::spawn(peer_task(id, url, client.clone(), rx));
            queues.insert(id, tx);
        }
        Ok(Transport { queues })
    }

    /// Queue one outgoing message.
    pub fn send(&self, out: Outgoing) {
        match out.to {
            Dest::All => {
                for q in self.queues.values() {
                    let _ = q.try_send(out.msg.clone());
                }
            }
            Dest::To(id) => {
                if let Some(q) = self.queues.get(&id) {
                    let _ = q.try_send(out.msg);
                }
            }
        }
    }
}

async fn peer_task(
    id: ReplicaId,
    url: String,
    client: reqwest::Client,
    mut rx: mpsc::Receiver<Signed>,
) {
    let mut failures: u64 = 0;
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(m) => batch.push(m),
                Err(_) => break,
            }
        }
        let sent = client
            .post(&url)
            .timeout(BATCH_TIMEOUT)
            .json(&batch)
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => failures = 0,
            Ok(r) => {
                failures += 1;
                if failures.is_power_of_two() {
                    tracing::debug!(peer = id, "peer answered {}", r.status());
                }
            }
            Err(e) => {
                failures += 1;
                if failures.is_power_of_two() {
                    tracing::debug!(peer = id, failures, "peer unreachable: {e}");
                }
            }
        }
    }
}
