//! Outgoing peer messages: one sender task per peer with a bounded queue (a full queue
//! drops the message: Paxos retransmits), batching everything queued into one
//! `POST /paxos/messages` (a JSON array) to the address given for that peer, so a harness
//! can route each directed link through its own proxy. Failed sends are dropped too.

use crate::paxos::{Message, NodeId};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::mpsc;

/// Queue length per peer before messages are dropped.
const QUEUE: usize = 8192;
/// Most messages in one POST.
const BATCH: usize = 1024;

/// The per-peer queues.
#[derive(Debug, Clone)]
pub struct Transport {
    queues: BTreeMap<NodeId, mpsc::Sender<Message>>,
}

impl Transport {
    /// Start one sender task per peer on the current tokio runtime.
    pub fn start(peers: &BTreeMap<NodeId, String>) -> Transport {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .connect_timeout(Duration::from_millis(500))
            .pool_max_idle_per_host(4)
            .build()
            .expect("an HTTP client with default TLS-free settings builds");
        let mut queues = BTreeMap::new();
        for (&id, addr) in peers {
            let (tx, rx) = mpsc::channel(QUEUE);
            let url = format!("http://{addr}/paxos/messages");
            tokio::spawn(sender(client.clone(), url, rx));
            queues.insert(id, tx);
        }
        Transport { queues }
    }

    /// Queue a message for its receiver (dropped if unknown or the queue is full).
    pub fn send(&self, msg: Message) {
        if let Some(q) = self.queues.get(&msg.to) {
            let _ = q.try_send(msg);
        }
    }
}

async fn sender(client: reqwest::Client, url: String, mut rx: mpsc::Receiver<Message>) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        match client.post(&url).json(&batch).send().await {
            Ok(r) if !r.status().is_success() => {
                tracing::debug!("{url}: peer answered {}", r.status());
            }
            Ok(_) => {}
            Err(e) => tracing::debug!("{url}: {e}"),
        }
        batch.clear();
    }
}
