//! A client session kept alive in the background, with the client's own view of its lease.
//! The client starts its lease clock when it *sends* a keep-alive (the server starts its
//! own when it receives it), so the client's lease never ends after the server's: a
//! holder that checks [`KeptSession::lease_valid`] before acting on a lock acts only while
//! the service still counts its session alive (the fencing token covers the rest).

use crate::client::{ClientError, LockClient};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The client's view of its lease: valid until the send time of the last acknowledged
/// keep-alive (or of the open request) plus the TTL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientLease {
    ttl: Duration,
    until: Instant,
}

impl ClientLease {
    /// A lease whose opening request was sent at `sent`.
    pub fn new(ttl: Duration, sent: Instant) -> ClientLease {
        ClientLease {
            ttl,
            until: sent + ttl,
        }
    }
    /// A keep-alive sent at `sent` was acknowledged.
    pub fn renewed(&mut self, sent: Instant) {
        self.until = self.until.max(sent + self.ttl);
    }
    /// Is the lease valid at `now`?
    pub fn valid_at(&self, now: Instant) -> bool {
        now < self.until
    }
    /// When the lease ends.
    pub fn until(&self) -> Instant {
        self.until
    }
}

/// Why a kept session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lost {
    /// The service said the session expired.
    Expired,
    /// The client's lease ran out (no keep-alive acknowledged in time).
    LeaseRanOut,
}

/// An open session with a background keep-alive task (every TTL/3).
#[derive(Debug)]
pub struct KeptSession {
    /// Session id.
    pub id: u64,
    lease: Arc<Mutex<ClientLease>>,
    lost: watch::Receiver<Option<Lost>>,
    task: tokio::task::JoinHandle<()>,
}

impl KeptSession {
    /// Open a session with `ttl_ms` and start keeping it alive.
    pub async fn open(client: &LockClient, ttl_ms: u64) -> Result<KeptSession, ClientError> {
        let ttl = Duration::from_millis(ttl_ms);
        let sent = Instant::now();
        let id = client.open_session(ttl_ms).await?;
        let lease = Arc::new(Mutex::new(ClientLease::new(ttl, sent)));
        let (tx, lost) = watch::channel(None);
        let task = tokio::spawn(keep_alive_loop(client.clone(), id, ttl, lease.clone(), tx));
        Ok(KeptSession {
            id,
            lease,
            lost,
            task,
        })
    }

    /// Is the lease valid now, by the client's clock?
    pub fn lease_valid(&self) -> bool {
        let l = self.lease.lock().unwrap_or_else(|e| e.into_inner());
        l.valid_at(Instant::now())
    }

    /// Resolves when the session is lost.
    pub async fn lost(&self) -> Lost {
        let mut rx = self.lost.clone();
        loop {
            if let Some(l) = rx.borrow_and_update().clone() {
                return l;
            }
            if rx.changed().await.is_err() {
                return Lost::LeaseRanOut;
            }
        }
    }

    /// Stop keeping the session alive (closing it is the caller's call).
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for KeptSession {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn keep_alive_loop(
    client: LockClient,
    id: u64,
    ttl: Duration,
    lease: Arc<Mutex<ClientLease>>,
    lost: watch::Sender<Option<Lost>>,
) {
    let every = ttl / 3;
    let mut one = client.clone();
    one.budget = every.max(Duration::from_millis(50));
    loop {
        let until = lease.lock().unwrap_or_else(|e| e.into_inner()).until();
        if Instant::now() >= until {
            let _ = lost.send(Some(Lost::LeaseRanOut));
            return;
        }
        let sent = Instant::now();
        match one.keep_alive(id).await {
            Ok(_) => lease
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .renewed(sent),
            Err(ClientError::SessionExpired(_)) => {
                let _ = lost.send(Some(Lost::Expired));
                return;
            }
            Err(e) => tracing::debug!(session = id, "keep-alive failed: {e}"),
        }
        let until = lease.lock().unwrap_or_else(|e| e.into_inner()).until();
        let next = (sent + every).min(until);
        tokio::time::sleep_until(next.into()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_lease_counts_from_the_send_time() {
        let t0 = Instant::now();
        let ttl = Duration::from_millis(1000);
        let mut l = ClientLease::new(ttl, t0);
        assert!(l.valid_at(t0 + Duration::from_millis(999)));
        assert!(!l.valid_at(t0 + ttl));
        // A keep-alive sent at t0+500 (answered much later) extends to t0+1500, no more.
        l.renewed(t0 + Duration::from_millis(500));
        assert!(l.valid_at(t0 + Duration::from_millis(1499)));
        assert!(!l.valid_at(t0 + Duration::from_millis(1500)));
        // An older acknowledgement never shortens it.
        l.renewed(t0 + Duration::from_millis(100));
        assert_eq!(l.until(), t0 + Duration::from_millis(1500));
    }
}
