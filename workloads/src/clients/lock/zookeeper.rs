//! The lock and fencing workloads' client for ZooKeeper: the lock recipe of
//! [`crate::clients::zookeeper_lock`] (ephemeral sequential znodes, watch the predecessor,
//! token = the holder znode's czxid) on one session of the client's own, on its home server.
//!
//! Lock names `/locks/l0` become the recipe's `l0` (znodes under `/locks/l0/`). The client's
//! lease: the session lives while the server hears from it; every request is heard, so the
//! client counts its lease from the *send* time of its last answered request plus the
//! granted session timeout (the server's clock starts later, on arrival). The session is
//! not pinged between operations (the workloads keep it busy); a holder that stalls sends
//! nothing, as a paused process would.
//!
//! Classification: granted → `Ok(token)`; not granted within the wait → `Fail(held)`; a
//! broken connection or any other error during an acquire or release → `Info` (the session
//! is dropped: its ephemeral znodes go when the server expires it).

use super::{HELD, LEASE_LAPSED, LEASE_MARGIN_DIVISOR, NOT_HELD};
use crate::clients::zookeeper_lock::{Held, LockError, ZkLockClient};
use crate::clients::{ClientConfig, ClientError};
use crate::Completion;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// The session timeout the lock clients ask for (the server clamps it to 2..20 ticks).
pub const SESSION_TIMEOUT: Duration = Duration::from_millis(3000);

/// One open session with what it holds.
#[derive(Debug)]
struct Open {
    client: ZkLockClient,
    held: BTreeMap<String, Held>,
    /// The client's lease end: last answered request's send time + session timeout.
    lease_end: Instant,
}

/// A ZooKeeper lock client of one server.
#[derive(Debug)]
pub struct ZkLockBackend {
    addr: String,
    home_name: String,
    op_timeout: Duration,
    session: Mutex<Option<Open>>,
    /// What the workloads ask without waiting: name → token, and the lease end.
    view: std::sync::Mutex<(BTreeMap<String, u64>, Option<Instant>)>,
}

/// `/locks/l0` → `l0` (the recipe's one-segment names).
fn recipe_name(name: &str) -> &str {
    name.trim_start_matches("/locks/").trim_start_matches('/')
}

impl ZkLockBackend {
    pub fn new(cfg: &ClientConfig) -> Result<ZkLockBackend, ClientError> {
        let home = cfg.nodes.get(cfg.home).ok_or_else(|| {
            ClientError::Config("zookeeper lock client needs its home node in `nodes`".into())
        })?;
        Ok(ZkLockBackend {
            addr: home.addr.clone(),
            home_name: home.name.clone(),
            op_timeout: cfg.op_timeout,
            session: Mutex::new(None),
            view: std::sync::Mutex::new((BTreeMap::new(), None)),
        })
    }

    pub fn home_name(&self) -> &str {
        &self.home_name
    }

    fn view(&self) -> std::sync::MutexGuard<'_, (BTreeMap<String, u64>, Option<Instant>)> {
        self.view.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Publishes what `open` holds (or nothing) for the non-waiting queries.
    fn publish(&self, open: Option<&Open>) {
        let mut v = self.view();
        match open {
            Some(o) => {
                v.0 = o
                    .held
                    .iter()
                    .map(|(k, h)| (k.clone(), h.token as u64))
                    .collect();
                v.1 = Some(o.lease_end);
            }
            None => *v = (BTreeMap::new(), None),
        }
    }

    pub async fn acquire(&self, name: &str, wait: Duration) -> Completion {
        let mut guard = self.session.lock().await;
        if guard.is_none() {
            match ZkLockClient::connect(&self.addr, SESSION_TIMEOUT, self.op_timeout).await {
                Ok(client) => {
                    *guard = Some(Open {
                        client,
                        held: BTreeMap::new(),
                        lease_end: Instant::now(),
                    })
                }
                Err(e) => return Completion::Fail(e.to_string()),
            }
        }
        let Some(open) = guard.as_mut() else {
            return Completion::Fail("no session".into());
        };
        let sent = Instant::now();
        match open.client.acquire(recipe_name(name), wait).await {
            Ok(held) => {
                let timeout = open.client.session_timeout();
                open.lease_end = sent + timeout;
                let token = held.token as u64;
                open.held.insert(name.to_string(), held);
                if open.lease_end.saturating_duration_since(Instant::now())
                    < timeout / LEASE_MARGIN_DIVISOR
                {
                    self.drop_session(&mut guard).await;
                    return Completion::Info(LEASE_LAPSED.into());
                }
                self.publish(guard.as_ref());
                Completion::Ok(json!(token))
            }
            Err(LockError::TimedOut(..)) => {
                open.lease_end = sent + open.client.session_timeout();
                self.publish(guard.as_ref());
                Completion::Fail(HELD.into())
            }
            Err(LockError::BadName(n)) => Completion::Fail(format!("bad lock name {n}")),
            Err(e) => {
                self.drop_session(&mut guard).await;
                Completion::Info(e.to_string())
            }
        }
    }

    pub async fn release(&self, name: &str) -> Completion {
        let mut guard = self.session.lock().await;
        let Some(open) = guard.as_mut() else {
            return Completion::Fail(NOT_HELD.into());
        };
        let Some(held) = open.held.get(name).cloned() else {
            return Completion::Fail(NOT_HELD.into());
        };
        let sent = Instant::now();
        match open.client.release(&held).await {
            Ok(()) => {
                open.lease_end = sent + open.client.session_timeout();
                open.held.remove(name);
                self.publish(guard.as_ref());
                Completion::Ok(json!(held.token as u64))
            }
            Err(e) => {
                self.drop_session(&mut guard).await;
                Completion::Info(e.to_string())
            }
        }
    }

    /// Who holds `name`, as the home server sees it (see [`ZkLockClient::holder`]).
    pub async fn read_holder(&self, name: &str) -> Completion {
        let mut guard = self.session.lock().await;
        let Some(open) = guard.as_mut() else {
            return Completion::Fail("no session".into());
        };
        let sent = Instant::now();
        match open.client.holder(recipe_name(name)).await {
            Ok(h) => {
                open.lease_end = sent + open.client.session_timeout();
                self.publish(guard.as_ref());
                Completion::Ok(h.map_or(Value::Null, |t| json!(t as u64)))
            }
            Err(e) => {
                self.drop_session(&mut guard).await;
                Completion::Fail(e.to_string())
            }
        }
    }

    pub fn held_token(&self, name: &str) -> Option<u64> {
        self.view().0.get(name).copied()
    }

    pub fn lease_left(&self) -> Duration {
        self.view().1.map_or(Duration::ZERO, |end| {
            end.saturating_duration_since(Instant::now())
        })
    }

    pub async fn close(&self) {
        let mut guard = self.session.lock().await;
        self.drop_session(&mut guard).await;
    }

    async fn drop_session(&self, guard: &mut Option<Open>) {
        self.publish(None);
        if let Some(open) = guard.take() {
            open.client.close().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_names_map_to_one_segment() {
        assert_eq!(recipe_name("/locks/l0"), "l0");
        assert_eq!(recipe_name("/r1"), "r1");
        assert_eq!(recipe_name("l2"), "l2");
    }
}
