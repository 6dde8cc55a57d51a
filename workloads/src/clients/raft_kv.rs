//! Client of the raft-kv node HTTP protocol (DESIGN contract "Node HTTP protocol"):
//! `GET/PUT/DELETE /key/{k}`, `POST /key/{k}/cas`, leader redirects with `421`.
//!
//! Classification (exactly the contract's):
//! - 2xx: `ok` (a cas answered `applied:false` is `fail` with [`CAS_MISMATCH`]);
//! - `GET` 404: an `ok` read of nil;
//! - 421: follow the redirect to the leader up to `max_redirects` times (safe: the node
//!   refused the request, nothing was applied), else `fail` `not_leader`;
//! - 400 and other 4xx, connection refused (nothing sent): `fail`;
//! - timeout, connection lost after sending, 503, 504, other 5xx: `info` for mutations.
//!   A read has no effect, so an indeterminate read is recorded as `fail` (Jepsen does the
//!   same); this keeps open reads from inflating the linearizability search.
//!
//! Mutations carry `X-No-Forward: 1` (a follower answers 421, recorded as a failed op,
//! instead of forwarding to the leader) and `X-Request-Id: <client_id>-<seq>`; a redirected retry of the same
//! mutation re-sends the same id so a node that deduplicates applies it once.
//!
//! The transport is [`super::http1`] (keep-alive connections per node, each exchange done
//! by the calling task): this is the harness's hot path.

use super::http1::{Http1, HttpError, Request};
use super::{ClientConfig, ClientError, Endpoint, CAS_MISMATCH};
use crate::Completion;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A client of one raft-kv cluster, sending first to its home node.
#[derive(Debug)]
pub struct RaftKvClient {
    http: Http1,
    nodes: Vec<Endpoint>,
    home: usize,
    op_timeout: Duration,
    max_redirects: u32,
    client_id: String,
    seq: AtomicU64,
}

/// What one HTTP exchange produced, before classification into a [`Completion`].
enum Exchange {
    Reply {
        status: u16,
        body: Value,
    },
    /// Nothing was sent (connection refused / unreachable).
    NotSent(String),
    /// Something may have been sent, no usable answer (timeout, reset).
    Lost(String),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Read,
    Mutation,
}

impl RaftKvClient {
    pub fn new(cfg: &ClientConfig) -> Result<RaftKvClient, ClientError> {
        if cfg.nodes.is_empty() || cfg.home >= cfg.nodes.len() {
            return Err(ClientError::Config(
                "raft-kv client needs its home node in `nodes`".into(),
            ));
        }
        let http = Http1::new(cfg.nodes.iter().map(|n| n.addr.clone()).collect());
        Ok(RaftKvClient {
            http,
            nodes: cfg.nodes.clone(),
            home: cfg.home,
            op_timeout: cfg.op_timeout,
            max_redirects: cfg.max_redirects,
            client_id: cfg.client_id.clone(),
            seq: AtomicU64::new(0),
        })
    }

    pub fn home_name(&self) -> &str {
        &self.nodes[self.home].name
    }

    fn next_request_id(&self) -> String {
        format!(
            "{}-{}",
            self.client_id,
            self.seq.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// `GET /key/{k}`: `Ok(string)` or `Ok(null)` when absent.
    pub async fn read(&self, key: &str) -> Completion {
        let path = format!("/key/{}", encode_key(key));
        self.run(
            Kind::Read,
            Request {
                method: "GET",
                path: &path,
                headers: &[],
                body: b"",
            },
            |status, body| match status {
                200 => match body.get("value") {
                    Some(Value::String(s)) => Completion::Ok(Value::String(s.clone())),
                    Some(Value::Null) | None => Completion::Ok(Value::Null),
                    Some(other) => Completion::Ok(other.clone()),
                },
                404 => Completion::Ok(Value::Null),
                _ => classify_other(Kind::Read, status, &body),
            },
        )
        .await
    }

    /// `PUT /key/{k}` with the raw value as body: `Ok(null)`.
    pub async fn write(&self, key: &str, value: &str) -> Completion {
        let path = format!("/key/{}", encode_key(key));
        let rid = self.next_request_id();
        self.run(
            Kind::Mutation,
            Request {
                method: "PUT",
                path: &path,
                headers: &[("X-Request-Id", &rid), ("X-No-Forward", "1")],
                body: value.as_bytes(),
            },
            |status, body| match status {
                200..=299 => Completion::Ok(Value::Null),
                _ => classify_other(Kind::Mutation, status, &body),
            },
        )
        .await
    }

    /// `POST /key/{k}/cas` `{"from","to"}`: `Ok(null)` if applied, `Fail(cas-mismatch)` if not.
    /// `POST /key/{k}/append` with the text as body: `Ok(null)` once committed.
    pub async fn append(&self, key: &str, text: &str) -> Completion {
        let path = format!("/key/{}/append", encode_key(key));
        let rid = self.next_request_id();
        self.run(
            Kind::Mutation,
            Request {
                method: "POST",
                path: &path,
                headers: &[("X-Request-Id", &rid), ("X-No-Forward", "1")],
                body: text.as_bytes(),
            },
            |status, body| match status {
                200..=299 => Completion::Ok(Value::Null),
                _ => classify_other(Kind::Mutation, status, &body),
            },
        )
        .await
    }

    pub async fn cas(&self, key: &str, from: Option<&str>, to: &str) -> Completion {
        let path = format!("/key/{}/cas", encode_key(key));
        let rid = self.next_request_id();
        let body = json!({"from": from, "to": to}).to_string();
        self.run(
            Kind::Mutation,
            Request {
                method: "POST",
                path: &path,
                headers: &[
                    ("X-Request-Id", &rid),
                    ("X-No-Forward", "1"),
                    ("Content-Type", "application/json"),
                ],
                body: body.as_bytes(),
            },
            |status, body| match status {
                200..=299 => match body.get("applied") {
                    Some(Value::Bool(true)) => Completion::Ok(Value::Null),
                    Some(Value::Bool(false)) => Completion::Fail(CAS_MISMATCH.into()),
                    _ => Completion::Info(format!("cas reply without `applied`: {body}")),
                },
                _ => classify_other(Kind::Mutation, status, &body),
            },
        )
        .await
    }

    /// The election workload's view of the home node (`GET /status`, no redirect).
    pub async fn leader_status(&self) -> Completion {
        let req = Request {
            method: "GET",
            path: "/status",
            headers: &[],
            body: b"",
        };
        let work = self.exchange(self.home, req);
        match tokio::time::timeout(self.op_timeout, work).await {
            Ok(Exchange::Reply { status: 200, body }) => {
                Completion::Ok(super::leader::status_view(&body))
            }
            Ok(Exchange::Reply { status, body }) => classify_other(Kind::Read, status, &body),
            Ok(Exchange::NotSent(e) | Exchange::Lost(e)) => Completion::Fail(e),
            Err(_) => Completion::Fail("timeout".into()),
        }
    }

    /// The leader-only action of the election workload: when the home node's `/status` says
    /// leader, a write to key `election-act` sent to it alone (no redirect); acknowledged, it
    /// is `Ok({leader_id, epoch})` with the term the status named.
    pub async fn leader_act(&self) -> Completion {
        let view = match self.leader_status().await {
            Completion::Ok(v) => v,
            other => return other,
        };
        if view["role"] != "leader" {
            return Completion::Fail("not_leader".into());
        }
        let rid = self.next_request_id();
        let req = Request {
            method: "PUT",
            path: "/key/election-act",
            // Not forwarded: a woken old leader would relay the act to the new one and the
            // act would be recorded as its own, in its old epoch (a split brain that was not).
            headers: &[("X-Request-Id", &rid), ("X-No-Forward", "1")],
            body: rid.as_bytes(),
        };
        let work = self.exchange(self.home, req);
        match tokio::time::timeout(self.op_timeout, work).await {
            Ok(Exchange::Reply {
                status: 200..=299, ..
            }) => Completion::Ok(serde_json::json!({
                "leader_id": self.nodes[self.home].id,
                "epoch": view["epoch"],
            })),
            Ok(Exchange::Reply { status, body }) => classify_other(Kind::Mutation, status, &body),
            Ok(Exchange::NotSent(e)) => Completion::Fail(e),
            Ok(Exchange::Lost(e)) => Completion::Info(e),
            Err(_) => Completion::Info("timeout".into()),
        }
    }

    /// Send (following redirects), classify, all within the op timeout.
    async fn run<C>(&self, kind: Kind, req: Request<'_>, classify: C) -> Completion
    where
        C: Fn(u16, Value) -> Completion,
    {
        let work = async {
            let mut target = self.home;
            let mut redirects = 0u32;
            loop {
                match self.exchange(target, req).await {
                    Exchange::NotSent(e) => return Completion::Fail(e),
                    Exchange::Lost(e) => return indeterminate(kind, e),
                    Exchange::Reply { status: 421, body } => match self.leader_of(&body) {
                        Some(next) if redirects < self.max_redirects && next != target => {
                            redirects += 1;
                            target = next;
                        }
                        _ => return Completion::Fail("not_leader".into()),
                    },
                    Exchange::Reply { status, body } => return classify(status, body),
                }
            }
        };
        match tokio::time::timeout(self.op_timeout, work).await {
            Ok(c) => c,
            Err(_) => indeterminate(kind, "timeout".into()),
        }
    }

    async fn exchange(&self, node: usize, req: Request<'_>) -> Exchange {
        match self.http.send(node, req).await {
            Err(HttpError::NotSent(e)) => Exchange::NotSent(e),
            Err(HttpError::Lost(e)) => Exchange::Lost(e),
            Ok(reply) => Exchange::Reply {
                status: reply.status,
                body: serde_json::from_slice(&reply.body).unwrap_or_else(|_| {
                    Value::String(String::from_utf8_lossy(&reply.body).into_owned())
                }),
            },
        }
    }

    /// The index of the leader a 421 body names: by `leader_id`, then `leader` (`node<id>`),
    /// then `leader_addr`.
    fn leader_of(&self, body: &Value) -> Option<usize> {
        if let Some(id) = body.get("leader_id").and_then(Value::as_u64) {
            if let Some(i) = self.nodes.iter().position(|n| n.id == id) {
                return Some(i);
            }
        }
        if let Some(name) = body.get("leader").and_then(Value::as_str) {
            let id = name
                .strip_prefix("node")
                .or_else(|| name.strip_prefix('n'))
                .and_then(|s| s.parse::<u64>().ok());
            if let Some(i) = id.and_then(|id| self.nodes.iter().position(|n| n.id == id)) {
                return Some(i);
            }
        }
        let addr = body.get("leader_addr").and_then(Value::as_str)?;
        self.nodes.iter().position(|n| n.addr == addr)
    }
}

fn indeterminate(kind: Kind, why: String) -> Completion {
    match kind {
        Kind::Read => Completion::Fail(why),
        Kind::Mutation => Completion::Info(why),
    }
}

/// Statuses other than the success / 404-read / 421 cases.
fn classify_other(kind: Kind, status: u16, body: &Value) -> Completion {
    let err = body
        .get("error")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("http {status}"));
    match status {
        400..=499 => Completion::Fail(err),
        _ => indeterminate(kind, err),
    }
}

/// Keys are path segments: percent-encode everything outside the unreserved set.
fn encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::extract::{Path, State};
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::{get, post};
    use axum::{Json, Router};
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    /// A fake two-node cluster: node 1 is a follower that redirects, node 2 the leader.
    /// Key `slow` never answers in time; key `boom` answers 504; key `bad` answers 400.
    #[derive(Clone, Default)]
    struct Fake {
        kv: Arc<Mutex<HashMap<String, String>>>,
        ids: Arc<Mutex<Vec<String>>>,
        leader: bool,
    }

    async fn fake_get(State(f): State<Fake>, Path(k): Path<String>) -> (StatusCode, Json<Value>) {
        if !f.leader {
            return (
                StatusCode::MISDIRECTED_REQUEST,
                Json(json!({"error":"not_leader","leader":"node2","leader_id":2})),
            );
        }
        match f.kv.lock().unwrap().get(&k) {
            Some(v) => (StatusCode::OK, Json(json!({"value": v}))),
            None => (StatusCode::NOT_FOUND, Json(json!({"error":"not_found"}))),
        }
    }

    async fn fake_put(
        State(f): State<Fake>,
        Path(k): Path<String>,
        h: HeaderMap,
        body: String,
    ) -> (StatusCode, Json<Value>) {
        if !f.leader {
            return (
                StatusCode::MISDIRECTED_REQUEST,
                Json(json!({"error":"not_leader","leader":"node2","leader_id":2})),
            );
        }
        if let Some(id) = h.get("x-request-id") {
            f.ids.lock().unwrap().push(id.to_str().unwrap().to_string());
        }
        match k.as_str() {
            "slow" => {
                tokio::time::sleep(Duration::from_secs(5)).await;
                (StatusCode::OK, Json(json!({})))
            }
            "boom" => (
                StatusCode::GATEWAY_TIMEOUT,
                Json(json!({"error":"timeout"})),
            ),
            "bad" => (
                StatusCode::BAD_REQUEST,
                Json(json!({"error":"bad_request","message":"no"})),
            ),
            _ => {
                f.kv.lock().unwrap().insert(k, body);
                (
                    StatusCode::OK,
                    Json(json!({"status":"committed","term":1,"index":1})),
                )
            }
        }
    }

    async fn fake_cas(
        State(f): State<Fake>,
        Path(k): Path<String>,
        Json(b): Json<Value>,
    ) -> (StatusCode, Json<Value>) {
        if !f.leader {
            return (
                StatusCode::MISDIRECTED_REQUEST,
                Json(json!({"error":"not_leader","leader":"node2","leader_id":2})),
            );
        }
        let mut kv = f.kv.lock().unwrap();
        let cur = kv.get(&k).cloned();
        if b["from"].as_str().map(str::to_string) == cur {
            kv.insert(k, b["to"].as_str().unwrap().to_string());
            (
                StatusCode::OK,
                Json(json!({"applied":true,"term":1,"index":2})),
            )
        } else {
            (StatusCode::OK, Json(json!({"applied":false,"value":cur})))
        }
    }

    async fn serve(f: Fake) -> String {
        let app = Router::new()
            .route("/key/{k}", get(fake_get).put(fake_put))
            .route("/key/{k}/cas", post(fake_cas))
            .with_state(f);
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap().to_string();
        tokio::spawn(async move { axum::serve(l, app).await.ok() });
        addr
    }

    /// A port with nothing listening (bound then dropped).
    fn dead_addr() -> String {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    }

    async fn cluster(max_redirects: u32) -> (RaftKvClient, Fake) {
        let leader = Fake {
            leader: true,
            ..Default::default()
        };
        let a1 = serve(Fake::default()).await;
        let a2 = serve(leader.clone()).await;
        let cfg = ClientConfig {
            nodes: vec![
                Endpoint {
                    name: "n1".into(),
                    id: 1,
                    addr: a1,
                },
                Endpoint {
                    name: "n2".into(),
                    id: 2,
                    addr: a2,
                },
            ],
            home: 0,
            op_timeout: Duration::from_millis(500),
            max_redirects,
            client_id: "w0".into(),
        };
        (RaftKvClient::new(&cfg).unwrap(), leader)
    }

    #[tokio::test]
    async fn follows_redirects_and_classifies_replies() {
        let (c, leader) = cluster(2).await;
        assert_eq!(c.read("k1").await, Completion::Ok(Value::Null));
        assert_eq!(c.write("k1", "3").await, Completion::Ok(Value::Null));
        assert_eq!(c.read("k1").await, Completion::Ok(json!("3")));
        assert_eq!(
            c.cas("k1", Some("3"), "4").await,
            Completion::Ok(Value::Null)
        );
        assert_eq!(
            c.cas("k1", Some("3"), "0").await,
            Completion::Fail(CAS_MISMATCH.into())
        );
        assert_eq!(c.cas("k2", None, "1").await, Completion::Ok(Value::Null));
        assert_eq!(
            c.write("boom", "1").await,
            Completion::Info("timeout".into())
        );
        assert_eq!(
            c.write("bad", "1").await,
            Completion::Fail("bad_request".into())
        );
        assert_eq!(
            c.write("slow", "1").await,
            Completion::Info("timeout".into())
        );
        let ids = leader.ids.lock().unwrap().clone();
        assert_eq!(
            ids.len(),
            4,
            "each mutation reached the leader once with an id: {ids:?}"
        );
        assert_eq!(ids[0], "w0-0");
    }

    #[tokio::test]
    async fn no_redirects_allowed_means_not_leader_fail() {
        let (c, _) = cluster(0).await;
        assert_eq!(
            c.write("k1", "1").await,
            Completion::Fail("not_leader".into())
        );
    }

    #[tokio::test]
    async fn refused_connection_is_a_fail_for_writes() {
        let cfg = ClientConfig {
            nodes: vec![Endpoint {
                name: "n1".into(),
                id: 1,
                addr: dead_addr(),
            }],
            home: 0,
            op_timeout: Duration::from_millis(500),
            max_redirects: 1,
            client_id: "w1".into(),
        };
        let c = RaftKvClient::new(&cfg).unwrap();
        assert!(matches!(c.write("k", "1").await, Completion::Fail(e) if e.starts_with("connect")));
    }

    #[test]
    fn keys_are_percent_encoded() {
        assert_eq!(encode_key("k3"), "k3");
        assert_eq!(encode_key("a/b c"), "a%2Fb%20c");
    }
}
