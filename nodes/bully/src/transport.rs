//! Peer transport: outgoing messages go to each peer's own address (`--peer ID=ADDR`, so a
//! harness can route every directed link through its own proxy) as a JSON array on
//! `POST /bully/messages`. One task per peer with a bounded queue: when it is full, messages
//! are dropped (the algorithm tolerates loss: timeouts start elections again); each task
//! sends everything queued in one request with a short timeout. Receiving is in `server`.

use crate::message::Message;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::mpsc;

/// Messages queued per peer before new ones are dropped.
pub const PEER_QUEUE: usize = 256;

/// The sending side.
#[derive(Debug, Clone)]
pub struct Transport {
    queues: BTreeMap<u64, mpsc::Sender<Message>>,
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
            let url = format!("http://{addr}/bully/messages");
            tokio::spawn(peer_task(url, client.clone(), rx));
            queues.insert(id, tx);
        }
        Ok(Transport { queues })
    }

    /// Queue a message for its receiver; dropped when the queue is full or the peer unknown.
    pub fn send(&self, msg: Message) {
        if let Some(q) = self.queues.get(&msg.to) {
            let _ = q.try_send(msg);
        }
    }
}

async fn peer_task(url: String, client: reqwest::Client, mut rx: mpsc::Receiver<Message>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while let Ok(m) = rx.try_recv() {
            batch.push(m);
        }
        // A failed send is a lost message; the core's timeouts deal with it.
        let _ = client.post(&url).json(&batch).send().await;
    }
}
