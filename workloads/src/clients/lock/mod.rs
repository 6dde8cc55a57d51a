//! Lock clients: one variant of [`LockClient`] per lock system, behind the interface the lock
//! (and fencing) workloads use. A lock client owns at most one *session* at a time and keeps
//! it alive by itself (a background task), as a real lock client does.
//!
//! The interface (every method returns a [`Completion`]; errors are Jepsen's `fail`/`info`):
//! - [`LockClient::acquire`]`(name, wait)`: opens a session if there is none, then asks for
//!   the lock, waiting at most `wait`. `Ok(token)` (the fencing token, an integer) when held;
//!   `Fail("held")` when another session still held it when the wait ended; `Info` when the
//!   outcome is unknown, or when the grant came back with less than TTL/6 of the client's
//!   own lease left (`lease-lapsed`: the service may already have expired the session). After
//!   an `Info` the client closes its session, so that a lock it may hold is released by the
//!   service, and opens a fresh one on the next acquire.
//! - [`LockClient::release`]`(name)`: `Ok(token)` when released; `Fail("not-held")` when this
//!   client holds no such lock (nothing was sent); `Info("session-expired")` when the service
//!   had already expired the session (the lock was released by the expiry).
//! - [`LockClient::held_token`]`(name)`: the token this client believes it holds for `name`.
//! - [`LockClient::lease_valid`]: whether the client's own lease (counted from each
//!   acknowledged keep-alive's *send* time) is still running.
//! - [`LockClient::read_holder`]`(name)`: who holds `name` (`Ok(token)` or `Ok(null)`),
//!   asked of the home node first (a correct service redirects to the leader).
//! - [`LockClient::close`]: ends the session (best effort).
//!
//! Each client has a [`FreezeGate`] (`--nemesis stall`) and, in the fencing workload, a
//! [`ResourceClient`] for the protected resource.
//!
//! Backends ([`LockBackend`]): [`zookeeper::ZkLockBackend`] (ZooKeeper's lock recipe) and
//! [`LockServiceClient`] speaks the HTTP protocol of `nodes/lock-service` (and of
//! user systems that implement it, README "Lock service protocol").

pub mod lock_service;
pub mod resource;
pub mod zookeeper;

pub use lock_service::LockServiceClient;
pub use resource::ResourceClient;

use crate::stall::FreezeGate;
use crate::Completion;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The error of an acquire that found the lock held by another session when its wait ended.
pub const HELD: &str = "held";
/// The error of an acquire of a lock the client still holds (nothing was sent).
pub const ALREADY_HELD: &str = "already-held";
/// The error of a release by a client that holds no such lock (nothing was sent).
pub const NOT_HELD: &str = "not-held";
/// The error of an operation whose session the service had already expired.
pub const SESSION_EXPIRED: &str = "session-expired";
/// The error of an acquire granted when the client's own lease had (nearly) run out: the
/// client does not count on the lock, closes the session, and the outcome is unknown.
pub const LEASE_LAPSED: &str = "lease-lapsed";
/// A grant counts only with at least TTL / this much of the client's lease left: time for
/// the holder's next step (its release or write) to start within the lease.
pub const LEASE_MARGIN_DIVISOR: u32 = 6;

/// One lock system's client.
#[derive(Debug)]
pub enum LockBackend {
    LockService(LockServiceClient),
    ZooKeeper(Box<zookeeper::ZkLockBackend>),
}

/// A client of one lock system, with its freeze gate (`--nemesis stall`) and, for the
/// fencing workload, the protected resource it writes to.
#[derive(Debug)]
pub struct LockClient {
    backend: LockBackend,
    gate: Arc<FreezeGate>,
    resource: OnceLock<ResourceClient>,
}

impl LockClient {
    pub fn new(backend: LockBackend, gate: Arc<FreezeGate>) -> LockClient {
        LockClient {
            backend,
            gate,
            resource: OnceLock::new(),
        }
    }

    /// The freeze gate this client (and its keep-alives) stop at when stalled.
    pub fn gate(&self) -> &Arc<FreezeGate> {
        &self.gate
    }

    /// Points the fencing workload's writes at the protected resource (once).
    pub fn attach_resource(&self, resource: ResourceClient) {
        let _ = self.resource.set(resource);
    }

    /// The protected resource, if attached.
    pub fn resource(&self) -> Option<&ResourceClient> {
        self.resource.get()
    }

    /// The harness name of the node this client sends to first.
    pub fn home_name(&self) -> &str {
        match &self.backend {
            LockBackend::LockService(c) => c.home_name(),
            LockBackend::ZooKeeper(c) => c.home_name(),
        }
    }

    /// Acquire `name`, waiting at most `wait` while another session holds it. A lock the
    /// client still holds (its release failed for sure) is not asked for again: `fail
    /// already-held`, nothing sent (the service would answer with the same token, which
    /// the mutex model would read as a second acquisition).
    pub async fn acquire(&self, name: &str, wait: Duration) -> Completion {
        if self.held_token(name).is_some() {
            return Completion::Fail(ALREADY_HELD.into());
        }
        match &self.backend {
            LockBackend::LockService(c) => c.acquire(name, wait).await,
            LockBackend::ZooKeeper(c) => c.acquire(name, wait).await,
        }
    }

    /// Release `name`.
    pub async fn release(&self, name: &str) -> Completion {
        match &self.backend {
            LockBackend::LockService(c) => c.release(name).await,
            LockBackend::ZooKeeper(c) => c.release(name).await,
        }
    }

    /// Ask the service who holds `name`, starting at the home node: `Ok(token | null)`.
    pub async fn read_holder(&self, name: &str) -> Completion {
        match &self.backend {
            LockBackend::LockService(c) => c.read_holder(name).await,
            LockBackend::ZooKeeper(c) => c.read_holder(name).await,
        }
    }

    /// The token this client believes it holds for `name`.
    pub fn held_token(&self, name: &str) -> Option<u64> {
        match &self.backend {
            LockBackend::LockService(c) => c.held_token(name),
            LockBackend::ZooKeeper(c) => c.held_token(name),
        }
    }

    /// Whether the client's own view of its lease is still valid.
    pub fn lease_valid(&self) -> bool {
        !self.lease_left().is_zero()
    }

    /// How long the client's own lease still runs (zero: lapsed or no session).
    pub fn lease_left(&self) -> Duration {
        match &self.backend {
            LockBackend::LockService(c) => c.lease_left(),
            LockBackend::ZooKeeper(c) => c.lease_left(),
        }
    }

    /// End the session (best effort; the service expires it anyway after a TTL).
    pub async fn close(&self) {
        match &self.backend {
            LockBackend::LockService(c) => c.close().await,
            LockBackend::ZooKeeper(c) => c.close().await,
        }
    }
}
