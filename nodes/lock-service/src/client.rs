//! An HTTP client of the lock service (used by `lock-client`, `lock-bench` and the tests):
//! finds the leader (follows 421 `leader_addr`, tries the next node when one is down),
//! retries a write after 503/504 with the same `X-Request-Id` (so it is applied once), and
//! maps the protocol's answers to typed results.

use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No node answered usefully within the time budget.
    #[error("no leader reachable within the time budget: {0}")]
    Unavailable(String),
    /// The session does not exist any more (expired or closed).
    #[error("session {0} expired")]
    SessionExpired(u64),
    /// The service refused the request (4xx other than 410/421).
    #[error("refused ({status}): {body}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The JSON answer.
        body: Value,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Build(String),
}

/// The outcome of an acquire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acquire {
    /// Held by us with this fencing token.
    Acquired {
        /// Fencing token.
        token: u64,
    },
    /// Held by another session.
    Held {
        /// Holder session.
        holder: u64,
        /// Holder's token.
        token: u64,
    },
}

/// A node's value and version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned {
    /// The value.
    pub value: String,
    /// Its version.
    pub version: u64,
}

/// A cloneable client; clones share the leader hint and the request-id sequence.
#[derive(Debug, Clone)]
pub struct LockClient {
    http: reqwest::Client,
    nodes: Arc<Vec<String>>,
    next: Arc<AtomicUsize>,
    leader: Arc<Mutex<Option<String>>>,
    id: String,
    seq: Arc<AtomicU64>,
    /// Time budget of one call (redirects and retries included).
    pub budget: Duration,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl LockClient {
    /// A client of the nodes at `nodes` (HOST:PORT); `budget` bounds each call.
    pub fn new(nodes: Vec<String>, budget: Duration) -> Result<LockClient, ClientError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(300))
            .tcp_nodelay(true)
            .build()
            .map_err(|e| ClientError::Build(e.to_string()))?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        Ok(LockClient {
            http,
            nodes: Arc::new(nodes),
            next: Arc::new(AtomicUsize::new(0)),
            leader: Arc::new(Mutex::new(None)),
            id: format!("lc{}x{nanos}", std::process::id()),
            seq: Arc::new(AtomicU64::new(1)),
            budget,
        })
    }

    fn target(&self) -> String {
        if let Some(l) = lock(&self.leader).clone() {
            return l;
        }
        let i = self.next.load(Ordering::Relaxed) % self.nodes.len().max(1);
        self.nodes.get(i).cloned().unwrap_or_default()
    }

    fn skip(&self, addr: &str) {
        let mut l = lock(&self.leader);
        if l.as_deref() == Some(addr) || l.is_none() {
            *l = None;
            self.next.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// One call: `method path` with an optional JSON body; writes carry a request id that
    /// stays the same across retries. Returns the final status and JSON body.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        extra: Duration,
    ) -> Result<(u16, Value), ClientError> {
        let write = method != reqwest::Method::GET;
        let req_id = format!("{}-{}", self.id, self.seq.fetch_add(1, Ordering::Relaxed));
        let deadline = Instant::now() + self.budget + extra;
        let mut last = String::from("no node tried");
        while Instant::now() < deadline {
            let addr = self.target();
            let left = deadline.saturating_duration_since(Instant::now());
            let mut rb = self
                .http
                .request(method.clone(), format!("http://{addr}{path}"))
                .timeout(left);
            if write {
                rb = rb.header("x-request-id", &req_id);
            }
            if let Some(b) = &body {
                rb = rb.json(b);
            }
            let (status, v) = match rb.send().await {
                Ok(r) => {
                    let s = r.status().as_u16();
                    (s, r.json::<Value>().await.unwrap_or(Value::Null))
                }
                Err(e) => {
                    last = format!("{addr}: {e}");
                    self.skip(&addr);
                    tokio::time::sleep(Duration::from_millis(30)).await;
                    continue;
                }
            };
            match status {
                421 => {
                    last = format!("{addr}: not leader");
                    match v["leader_addr"].as_str() {
                        Some(l) if l != addr => *lock(&self.leader) = Some(l.to_string()),
                        _ => {
                            self.skip(&addr);
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                }
                503 | 504 => {
                    last = format!("{addr}: {v}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                _ => {
                    *lock(&self.leader) = Some(addr);
                    return Ok((status, v));
                }
            }
        }
        Err(ClientError::Unavailable(last))
    }

    async fn ok(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        extra: Duration,
    ) -> Result<Value, ClientError> {
        let (status, v) = self.call(method, path, body, extra).await?;
        match status {
            200 => Ok(v),
            410 => Err(ClientError::SessionExpired(
                v["session"].as_u64().unwrap_or(0),
            )),
            _ => Err(ClientError::Refused { status, body: v }),
        }
    }

    /// Open a session; its id.
    pub async fn open_session(&self, ttl_ms: u64) -> Result<u64, ClientError> {
        let v = self
            .ok(
                reqwest::Method::POST,
                "/session",
                Some(json!({"ttl_ms": ttl_ms})),
                Duration::ZERO,
            )
            .await?;
        v["session"]
            .as_u64()
            .ok_or_else(|| ClientError::Unavailable(format!("bad answer {v}")))
    }

    /// Send one keep-alive; the TTL the lease was extended by.
    pub async fn keep_alive(&self, session: u64) -> Result<u64, ClientError> {
        let path = format!("/session/{session}/keepalive");
        let v = self
            .ok(reqwest::Method::POST, &path, None, Duration::ZERO)
            .await?;
        Ok(v["ttl_ms"].as_u64().unwrap_or(0))
    }

    /// Close a session (releases its locks, deletes its ephemeral nodes).
    pub async fn close_session(&self, session: u64) -> Result<(), ClientError> {
        let path = format!("/session/{session}");
        self.ok(reqwest::Method::DELETE, &path, None, Duration::ZERO)
            .await
            .map(|_| ())
    }

    /// Acquire `name`, waiting up to `wait_ms` (0 = try once).
    pub async fn acquire(
        &self,
        session: u64,
        name: &str,
        wait_ms: u64,
    ) -> Result<Acquire, ClientError> {
        let body = json!({"session": session, "name": name, "wait_ms": wait_ms});
        let extra = Duration::from_millis(wait_ms);
        let v = self
            .ok(reqwest::Method::POST, "/lock/acquire", Some(body), extra)
            .await?;
        let token = v["token"].as_u64().unwrap_or(0);
        if v["acquired"].as_bool() == Some(true) {
            Ok(Acquire::Acquired { token })
        } else {
            let holder = v["holder"].as_u64().unwrap_or(0);
            Ok(Acquire::Held { holder, token })
        }
    }

    /// Release `name` held by `session`.
    pub async fn release(&self, session: u64, name: &str) -> Result<(), ClientError> {
        let body = json!({"session": session, "name": name});
        self.ok(
            reqwest::Method::POST,
            "/lock/release",
            Some(body),
            Duration::ZERO,
        )
        .await
        .map(|_| ())
    }

    /// The lock's record (`GET /lock`).
    pub async fn lock_info(&self, name: &str) -> Result<Value, ClientError> {
        let path = format!("/lock?name={}", encode(name));
        self.ok(reqwest::Method::GET, &path, None, Duration::ZERO)
            .await
    }

    /// A node's value and version (`None` = absent).
    pub async fn get(&self, path: &str) -> Result<Option<Versioned>, ClientError> {
        let p = format!("/node?path={}", encode(path));
        let (status, v) = self
            .call(reqwest::Method::GET, &p, None, Duration::ZERO)
            .await?;
        match status {
            200 => Ok(Some(Versioned {
                value: v["value"].as_str().unwrap_or_default().to_string(),
                version: v["version"].as_u64().unwrap_or(0),
            })),
            404 => Ok(None),
            _ => Err(ClientError::Refused { status, body: v }),
        }
    }

    /// Write a node (`version`: required version, 0 = absent; `ephemeral_of`: owner
    /// session). `Ok(Ok(new version))`, or `Ok(Err(current version))` on a mismatch.
    pub async fn write(
        &self,
        path: &str,
        value: &str,
        version: Option<u64>,
        ephemeral_of: Option<u64>,
    ) -> Result<Result<u64, u64>, ClientError> {
        let mut body = json!({"path": path, "value": value});
        if let Some(s) = ephemeral_of {
            body["session"] = json!(s);
        }
        let (method, route) = match version {
            Some(v) => {
                body["version"] = json!(v);
                (reqwest::Method::POST, "/node/cas")
            }
            None => (reqwest::Method::PUT, "/node"),
        };
        let v = self.ok(method, route, Some(body), Duration::ZERO).await?;
        let version = v["version"].as_u64().unwrap_or(0);
        Ok(if v["written"].as_bool() == Some(true) {
            Ok(version)
        } else {
            Err(version)
        })
    }

    /// Wait until the lock or node at `path` changes after index `after` (or `wait_ms`).
    pub async fn watch(&self, path: &str, after: u64, wait_ms: u64) -> Result<Value, ClientError> {
        let p = format!(
            "/watch?path={}&after={after}&wait_ms={wait_ms}",
            encode(path)
        );
        let extra = Duration::from_millis(wait_ms);
        self.ok(reqwest::Method::GET, &p, None, extra).await
    }

    /// `GET /status` of the first node (no redirect).
    pub async fn status(&self) -> Result<Value, ClientError> {
        let addr = self.nodes.first().cloned().unwrap_or_default();
        let r = self
            .http
            .get(format!("http://{addr}/status"))
            .timeout(self.budget)
            .send()
            .await
            .map_err(|e| ClientError::Unavailable(format!("{addr}: {e}")))?;
        r.json()
            .await
            .map_err(|e| ClientError::Unavailable(format!("{addr}: {e}")))
    }
}

/// Percent-encode a query parameter value.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
