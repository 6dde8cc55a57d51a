//! Peer transport: outgoing Raft messages go to each peer's own address (`--peer ID=ADDR`,
//! so a harness can route every directed link through its own proxy) as JSON batches on
//! `POST /raft/messages`. One task per peer with a bounded queue: when the queue is full the
//! message is dropped (Raft tolerates loss); each task sends everything queued in one
//! request, over a keep-alive connection with short timeouts. Receiving is in `http`.

use crate::node::Outbox;
use crate::raft::{Message, MessageBody};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::mpsc;

/// Messages queued per peer before new ones are dropped.
pub const PEER_QUEUE: usize = 4096;
/// Time allowed for one batch of ordinary messages.
pub const MESSAGE_TIMEOUT: Duration = Duration::from_millis(1000);
/// Time allowed for a batch carrying a snapshot (it may be large).
pub const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(30);
/// Most messages sent in one HTTP request.
pub const MAX_BATCH: usize = 1024;

/// The sending side, owned by the event loop.
#[derive(Debug)]
pub struct HttpTransport {
    queues: BTreeMap<u64, mpsc::Sender<Message>>,
    dropped: u64,
}

impl HttpTransport {
    /// Spawn one sender task per peer on the current tokio runtime.
    pub fn spawn(peers: &BTreeMap<u64, String>) -> Result<HttpTransport, reqwest::Error> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(300))
            .pool_idle_timeout(Duration::from_secs(30))
            .tcp_nodelay(true)
            .build()?;
        let mut queues = BTreeMap::new();
        for (&id, addr) in peers {
            let (tx, rx) = mpsc::channel(PEER_QUEUE);
            let url = format!("http://{addr}/raft/messages");
            tokio::spawn(peer_task(id, url, client.clone(), rx));
            queues.insert(id, tx);
        }
        Ok(HttpTransport { queues, dropped: 0 })
    }
}

impl Outbox for HttpTransport {
    fn send(&mut self, msg: Message) {
        match self.queues.get(&msg.to) {
            Some(q) => {
                if q.try_send(msg).is_err() {
                    self.dropped += 1;
                    if self.dropped.is_power_of_two() {
                        tracing::debug!(dropped = self.dropped, "peer queue full: dropping");
                    }
                }
            }
            None => tracing::warn!(to = msg.to, "message to an unknown peer dropped"),
        }
    }
}

/// POST one batch; Err(reason) on any failure.
async fn post(
    client: &reqwest::Client,
    url: &str,
    batch: &[Message],
    timeout: Duration,
) -> Result<(), String> {
    let body = serde_json::to_vec(batch).map_err(|e| format!("cannot encode messages: {e}"))?;
    let r = client
        .post(url)
        .timeout(timeout)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if r.status().is_success() {
        Ok(())
    } else {
        Err(format!("peer answered {}", r.status()))
    }
}

/// Sends a peer's queue in batches. Snapshots go on a side task (one at a time; while one is
/// in flight newer ones are dropped and the core retries), so that a large snapshot never
/// holds up heartbeats and appends behind it.
async fn peer_task(id: u64, url: String, client: reqwest::Client, mut rx: mpsc::Receiver<Message>) {
    let mut failures: u64 = 0;
    let mut snapshot_in_flight: Option<tokio::task::JoinHandle<()>> = None;
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(m) => batch.push(m),
                Err(_) => break,
            }
        }
        let (snaps, msgs): (Vec<Message>, Vec<Message>) = batch
            .into_iter()
            .partition(|m| matches!(m.body, MessageBody::InstallSnapshot { .. }));
        if let Some(snap) = snaps.into_iter().last() {
            if snapshot_in_flight
                .as_ref()
                .is_some_and(|h| !h.is_finished())
            {
                tracing::debug!(
                    peer = id,
                    "snapshot already in flight: dropping a newer one"
                );
            } else {
                let (client, url) = (client.clone(), url.clone());
                snapshot_in_flight = Some(tokio::spawn(async move {
                    match post(&client, &url, &[snap], SNAPSHOT_TIMEOUT).await {
                        Ok(()) => tracing::info!(peer = id, "snapshot sent"),
                        Err(e) => tracing::warn!(peer = id, "snapshot not delivered: {e}"),
                    }
                }));
            }
        }
        if msgs.is_empty() {
            continue;
        }
        match post(&client, &url, &msgs, MESSAGE_TIMEOUT).await {
            Ok(()) => failures = 0,
            Err(e) => {
                failures += 1;
                if failures.is_power_of_two() {
                    tracing::debug!(peer = id, failures, "peer unreachable: {e}");
                }
            }
        }
    }
}
