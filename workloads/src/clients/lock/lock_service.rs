//! Client of `nodes/lock-service`'s HTTP protocol (its README): `POST /session`,
//! `POST /session/{S}/keepalive`, `DELETE /session/{S}`, `POST /lock/acquire`,
//! `POST /lock/release`; leader redirects with 421, the next node when one is down.
//!
//! The session is kept alive every TTL/3 by a background task; the client's lease runs from
//! the *send* time of the last acknowledged keep-alive (Chubby's rule), so it ends before the
//! server's. Classification: 2xx as the README says; 409/410 and other 4xx `fail` (or `info`
//! for a release, whose lock the expiry released); timeouts, lost connections and 5xx `info`.

use super::super::http1::{Http1, HttpError, Request};
use super::super::{ClientConfig, ClientError, Endpoint};
use super::{HELD, LEASE_LAPSED, LEASE_MARGIN_DIVISOR, NOT_HELD, SESSION_EXPIRED};
use crate::stall::FreezeGate;
use crate::Completion;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The session TTL the harness's lock clients ask for.
pub const DEFAULT_TTL: Duration = Duration::from_millis(3000);

/// What the client and its keep-alive task share.
#[derive(Debug)]
struct Shared {
    http: Http1,
    nodes: Vec<Endpoint>,
    home: usize,
    /// The node that answered last (the leader, usually).
    leader: AtomicUsize,
    op_timeout: Duration,
    max_redirects: u32,
    client_id: String,
    seq: AtomicU64,
}

/// One open session.
#[derive(Debug)]
struct Session {
    id: u64,
    /// The client's lease end (send time of the last acknowledged keep-alive + TTL).
    lease_end: Arc<Mutex<Instant>>,
    keepalive: tokio::task::JoinHandle<()>,
    /// Locks held: name -> token.
    held: BTreeMap<String, u64>,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.keepalive.abort();
    }
}

/// A client of one lock-service cluster.
#[derive(Debug)]
pub struct LockServiceClient {
    shared: Arc<Shared>,
    ttl: Duration,
    session: Mutex<Option<Session>>,
    /// Keep-alives wait here while the client is stalled (`--nemesis stall`).
    gate: Arc<FreezeGate>,
}

/// One exchange's outcome, after redirects.
enum Answer {
    Reply(u16, Value),
    NotSent(String),
    Lost(String),
}

impl LockServiceClient {
    pub fn new(cfg: &ClientConfig, ttl: Duration) -> Result<LockServiceClient, ClientError> {
        if cfg.nodes.is_empty() || cfg.home >= cfg.nodes.len() {
            return Err(ClientError::Config(
                "lock client needs its home node in `nodes`".into(),
            ));
        }
        let shared = Shared {
            http: Http1::new(cfg.nodes.iter().map(|n| n.addr.clone()).collect()),
            nodes: cfg.nodes.clone(),
            home: cfg.home,
            leader: AtomicUsize::new(cfg.home),
            op_timeout: cfg.op_timeout,
            max_redirects: cfg.max_redirects,
            client_id: cfg.client_id.clone(),
            seq: AtomicU64::new(0),
        };
        Ok(LockServiceClient {
            shared: Arc::new(shared),
            ttl,
            session: Mutex::new(None),
            gate: Arc::new(FreezeGate::default()),
        })
    }

    /// Uses `gate` as the client's freeze gate (shared with the [`super::LockClient`]).
    pub fn with_gate(mut self, gate: Arc<FreezeGate>) -> LockServiceClient {
        self.gate = gate;
        self
    }

    pub fn home_name(&self) -> &str {
        &self.shared.nodes[self.shared.home].name
    }

    fn session(&self) -> std::sync::MutexGuard<'_, Option<Session>> {
        self.session.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The open session's id, opening one if there is none.
    async fn ensure_session(&self) -> Result<u64, Completion> {
        if let Some(s) = self.session().as_ref() {
            return Ok(s.id);
        }
        let sent = Instant::now();
        let body = json!({ "ttl_ms": self.ttl.as_millis() as u64 });
        let id = match self.shared.call("POST", "/session", Some(&body)).await {
            Answer::Reply(200, b) => b
                .get("session")
                .and_then(Value::as_u64)
                .ok_or_else(|| Completion::Fail(format!("session reply without `session`: {b}")))?,
            // Not opened for sure, or maybe opened: an orphan session expires by itself and
            // holds nothing, so either way no lock was taken.
            other => return Err(Completion::Fail(describe(&other))),
        };
        let lease_end = Arc::new(Mutex::new(sent + self.ttl));
        let keepalive = tokio::spawn(keep_alive(
            Arc::clone(&self.shared),
            id,
            self.ttl,
            Arc::clone(&lease_end),
            Arc::clone(&self.gate),
        ));
        *self.session() = Some(Session {
            id,
            lease_end,
            keepalive,
            held: BTreeMap::new(),
        });
        Ok(id)
    }

    pub async fn acquire(&self, name: &str, wait: Duration) -> Completion {
        let session = match self.ensure_session().await {
            Ok(s) => s,
            Err(c) => return c,
        };
        let body = json!({"session": session, "name": name, "wait_ms": wait.as_millis() as u64});
        let answer = self
            .shared
            .call_within("POST", "/lock/acquire", Some(&body), wait)
            .await;
        match answer {
            Answer::Reply(200, b) if b.get("acquired") == Some(&Value::Bool(true)) => {
                let Some(token) = b.get("token").and_then(Value::as_u64) else {
                    self.abandon_session().await;
                    return Completion::Info(format!("acquire reply without `token`: {b}"));
                };
                // Granted, but the client's own lease is (nearly) over: the service may
                // already have expired the session and given the lock to another. The
                // client must not believe it holds the lock; the grant's fate is unknown.
                if self.lease_left() < self.ttl / LEASE_MARGIN_DIVISOR {
                    self.abandon_session().await;
                    return Completion::Info(LEASE_LAPSED.into());
                }
                if let Some(s) = self.session().as_mut() {
                    s.held.insert(name.to_string(), token);
                }
                Completion::Ok(json!(token))
            }
            Answer::Reply(200, _) => Completion::Fail(HELD.into()),
            Answer::Reply(410, _) => {
                self.session().take();
                Completion::Fail(SESSION_EXPIRED.into())
            }
            Answer::Reply(s, b) if (400..500).contains(&s) => Completion::Fail(error_of(s, &b)),
            Answer::NotSent(e) => Completion::Fail(e),
            other => {
                self.abandon_session().await;
                Completion::Info(describe(&other))
            }
        }
    }

    pub async fn release(&self, name: &str) -> Completion {
        let (session, token) = {
            let guard = self.session();
            match guard
                .as_ref()
                .and_then(|s| Some((s.id, *s.held.get(name)?)))
            {
                Some(st) => st,
                None => return Completion::Fail(NOT_HELD.into()),
            }
        };
        let body = json!({"session": session, "name": name});
        let answer = self.shared.call("POST", "/lock/release", Some(&body)).await;
        let forget = |this: &Self| {
            if let Some(s) = this.session().as_mut() {
                s.held.remove(name);
            }
        };
        match answer {
            Answer::Reply(200, _) => {
                forget(self);
                Completion::Ok(json!(token))
            }
            Answer::Reply(410, _) => {
                self.session().take();
                Completion::Info(SESSION_EXPIRED.into())
            }
            Answer::Reply(409, b) => {
                forget(self);
                Completion::Info(error_of(409, &b))
            }
            Answer::Reply(s, b) if (400..500).contains(&s) => Completion::Fail(error_of(s, &b)),
            Answer::NotSent(e) => Completion::Fail(e),
            other => {
                self.abandon_session().await;
                Completion::Info(describe(&other))
            }
        }
    }

    /// `GET /lock?name=` starting at the home node (a correct node that does not lead
    /// redirects with 421): `Ok(token)` of the holder, `Ok(null)` when free. A read changes
    /// nothing, so every failure is a `fail`.
    pub async fn read_holder(&self, name: &str) -> Completion {
        let path = format!("/lock?name={}", encode_query(name));
        match self.shared.call_from(self.shared.home, "GET", &path).await {
            Answer::Reply(200, b) => match b.get("held") {
                Some(Value::Bool(true)) => match b.get("token").and_then(Value::as_u64) {
                    Some(t) => Completion::Ok(json!(t)),
                    None => Completion::Fail(format!("lock read without a token: {b}")),
                },
                Some(Value::Bool(false)) => Completion::Ok(Value::Null),
                _ => Completion::Fail(format!("lock read without `held`: {b}")),
            },
            other => Completion::Fail(describe(&other)),
        }
    }

    pub fn held_token(&self, name: &str) -> Option<u64> {
        self.session().as_ref()?.held.get(name).copied()
    }

    pub fn lease_valid(&self) -> bool {
        !self.lease_left().is_zero()
    }

    /// How long the client's own lease still runs (zero without a session or once lapsed).
    pub fn lease_left(&self) -> Duration {
        self.session().as_ref().map_or(Duration::ZERO, |s| {
            let end = *s.lease_end.lock().unwrap_or_else(|p| p.into_inner());
            end.saturating_duration_since(Instant::now())
        })
    }

    pub async fn close(&self) {
        let Some(s) = self.session().take() else {
            return;
        };
        let path = format!("/session/{}", s.id);
        drop(s);
        let _ = self.shared.call("DELETE", &path, None).await;
    }

    /// After an unknown outcome: close the session so a lock it may hold is released.
    async fn abandon_session(&self) {
        self.close().await;
    }
}

/// Keeps session `id` alive every TTL/3 until the session is gone (the task is aborted when
/// the client drops the session); none is sent while the client is stalled.
async fn keep_alive(
    shared: Arc<Shared>,
    id: u64,
    ttl: Duration,
    lease_end: Arc<Mutex<Instant>>,
    gate: Arc<FreezeGate>,
) {
    let path = format!("/session/{id}/keepalive");
    loop {
        tokio::time::sleep(ttl / 3).await;
        gate.wait_thawed().await;
        let sent = Instant::now();
        match shared.call("POST", &path, None).await {
            Answer::Reply(200, _) => {
                *lease_end.lock().unwrap_or_else(|p| p.into_inner()) = sent + ttl;
            }
            Answer::Reply(410, _) => return,
            _ => {}
        }
    }
}

impl Shared {
    fn request_id(&self) -> String {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        format!("{}-{seq}", self.client_id)
    }

    /// One request within the op timeout.
    async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Answer {
        self.call_within(method, path, body, Duration::ZERO).await
    }

    /// One request without a body, sent first to node `first` (not the last leader).
    async fn call_from(&self, first: usize, method: &str, path: &str) -> Answer {
        self.exchange(first, method, path, None, Duration::ZERO)
            .await
    }

    /// One request within the op timeout plus `extra` (an acquire's wait), following
    /// redirects and moving on to the next node when one cannot be reached.
    async fn call_within(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        extra: Duration,
    ) -> Answer {
        let first = self.leader.load(Ordering::Relaxed);
        self.exchange(first, method, path, body, extra).await
    }

    /// [`Shared::call_within`] starting at node `first`.
    async fn exchange(
        &self,
        first: usize,
        method: &str,
        path: &str,
        body: Option<&Value>,
        extra: Duration,
    ) -> Answer {
        let rid = self.request_id();
        let bytes = body.map(Value::to_string).unwrap_or_default();
        let headers = [
            ("X-Request-Id", rid.as_str()),
            ("Content-Type", "application/json"),
        ];
        let req = Request {
            method,
            path,
            headers: &headers,
            body: bytes.as_bytes(),
        };
        let work = async {
            let mut target = first;
            let mut last = Answer::NotSent("no node tried".into());
            for _ in 0..=self.max_redirects {
                match self.http.send(target, req).await {
                    Err(HttpError::NotSent(e)) => {
                        last = Answer::NotSent(e);
                        target = (target + 1) % self.nodes.len();
                    }
                    Err(HttpError::Lost(e)) => return Answer::Lost(e),
                    Ok(reply) => {
                        let v: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
                        if reply.status != 421 {
                            self.leader.store(target, Ordering::Relaxed);
                            return Answer::Reply(reply.status, v);
                        }
                        last = Answer::NotSent("not_leader".into());
                        target = self
                            .leader_of(&v)
                            .unwrap_or((target + 1) % self.nodes.len());
                    }
                }
            }
            last
        };
        match tokio::time::timeout(self.op_timeout + extra, work).await {
            Ok(a) => a,
            Err(_) => Answer::Lost("timeout".into()),
        }
    }

    /// The index of the leader a 421 body names (`leader_id`, else `leader_addr`).
    fn leader_of(&self, body: &Value) -> Option<usize> {
        if let Some(id) = body.get("leader_id").and_then(Value::as_u64) {
            return self.nodes.iter().position(|n| n.id == id);
        }
        let addr = body.get("leader_addr").and_then(Value::as_str)?;
        self.nodes.iter().position(|n| n.addr == addr)
    }
}

/// Percent-encodes a lock name for a query string (`/` and unreserved bytes kept).
fn encode_query(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"/-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn error_of(status: u16, body: &Value) -> String {
    body.get("error")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("http {status}"))
}

fn describe(a: &Answer) -> String {
    match a {
        Answer::Reply(s, b) => error_of(*s, b),
        Answer::NotSent(e) | Answer::Lost(e) => e.clone(),
    }
}
