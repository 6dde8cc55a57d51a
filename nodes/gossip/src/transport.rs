//! Peer transport: outgoing gossip goes to each peer's own address (`--peer ID=ADDR`, so a
//! harness can route every directed link through its own proxy or cut it) as a JSON array
//! on `POST /gossip`. One task per peer with a bounded queue; when it is full, messages are
//! dropped (gossip tolerates loss: the next round and anti-entropy repeat what matters).

use crate::message::Wire;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::mpsc;

/// Peer messages queued per peer before new ones are dropped.
pub const PEER_QUEUE: usize = 64;

/// Peer messages sent in one request at most.
pub const MAX_REQUEST_BATCH: usize = 8;

/// The sending side.
#[derive(Debug, Clone)]
pub struct Transport {
    queues: BTreeMap<u64, mpsc::Sender<Wire>>,
}

impl Transport {
    /// Spawn one sender task per peer on the current tokio runtime.
    pub fn spawn(
        peers: &BTreeMap<u64, String>,
        timeout: Duration,
    ) -> Result<Transport, reqwest::Error> {
        let client = reqwest::Client::builder()
            .connect_timeout(timeout)
            .timeout(timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .tcp_nodelay(true)
            .build()?;
        let mut queues = BTreeMap::new();
        for (&id, addr) in peers {
            let (tx, rx) = mpsc::channel(PEER_QUEUE);
            let url = format!("http://{addr}/gossip");
            tokio::spawn(peer_task(url, client.clone(), rx));
            queues.insert(id, tx);
        }
        Ok(Transport { queues })
    }

    /// Queue a message for its receiver; dropped when the queue is full or the peer unknown.
    pub fn send(&self, wire: Wire) {
        if let Some(q) = self.queues.get(&wire.to) {
            let _ = q.try_send(wire);
        }
    }
}

async fn peer_task(url: String, client: reqwest::Client, mut rx: mpsc::Receiver<Wire>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_REQUEST_BATCH {
            match rx.try_recv() {
                Ok(w) => batch.push(w),
                Err(_) => break,
            }
        }
        // A failed send is lost gossip; later rounds and anti-entropy repeat it.
        let _ = client.post(&url).json(&batch).send().await;
    }
}
