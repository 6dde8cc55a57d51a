//! HTTP conventions every node shares: the error shapes and status codes of the node
//! protocol (400 `bad_request`, 421 `not_leader` naming the leader's id, name and address,
//! 503 `leadership_lost` / `node_stopped`, 504 `timeout`, 404 `no_route`), waiting for the
//! event loop within the request timeout, `X-Request-Id` parsing, `GET /status`, and the
//! peer endpoint `POST /raft/messages` (a JSON array of messages; the sender is each
//! message's `from`).

use crate::node::{NodeHandle, NodeStatus, Request, StateMachine};
use crate::raft::Message;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

/// Largest peer message batch accepted (snapshots of a big state machine travel here).
pub const MAX_PEER_BODY: usize = 1 << 30;

/// Where this node and its peers are, for redirects.
#[derive(Debug, Clone)]
pub struct Directory {
    /// This node's id.
    pub id: u64,
    /// This node's listen address.
    pub listen: SocketAddr,
    /// Peer id → address.
    pub peers: BTreeMap<u64, String>,
}

impl Directory {
    /// The address of node `id`, if known.
    pub fn addr_of(&self, id: u64) -> Option<String> {
        if id == self.id {
            Some(self.listen.to_string())
        } else {
            self.peers.get(&id).cloned()
        }
    }
}

/// A JSON error response.
pub fn error(code: StatusCode, body: Value) -> Response {
    (code, Json(body)).into_response()
}

/// 400 `{"error":"bad_request","message":...}`.
pub fn bad_request(msg: impl Into<String>) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        json!({"error": "bad_request", "message": msg.into()}),
    )
}

/// 421 `{"error":"not_leader","leader":"node2","leader_id":2,"leader_addr":"host:port"}`
/// (the three leader fields are null when no leader is known).
pub fn not_leader(dir: &Directory, leader: Option<u64>) -> Response {
    let addr = leader.and_then(|l| dir.addr_of(l));
    error(
        StatusCode::MISDIRECTED_REQUEST,
        json!({
            "error": "not_leader",
            "leader": leader.map(|l| format!("node{l}")),
            "leader_id": leader,
            "leader_addr": addr,
        }),
    )
}

/// 503 `{"error":"leadership_lost"}`: the outcome of the request is unknown.
pub fn leadership_lost() -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        json!({"error": "leadership_lost"}),
    )
}

/// 503 `{"error":"node_stopped"}`.
pub fn node_stopped() -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        json!({"error": "node_stopped"}),
    )
}

/// Send a request to the loop and wait for its answer within `timeout` (504 past it).
pub async fn call<S: StateMachine, T>(
    node: &NodeHandle<S>,
    timeout: Duration,
    make: impl FnOnce(oneshot::Sender<T>) -> Request<S>,
) -> Result<T, Response> {
    let (tx, rx) = oneshot::channel();
    if !node.send(make(tx)) {
        return Err(node_stopped());
    }
    match tokio::time::timeout(timeout, rx).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(_)) => Err(leadership_lost()),
        Err(_) => Err(error(
            StatusCode::GATEWAY_TIMEOUT,
            json!({"error": "timeout"}),
        )),
    }
}

/// A client request id `<client>-<seq>`, as sent in the `X-Request-Id` header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestId {
    /// The client's identity (anything without meaning to the server).
    pub client: String,
    /// The client's sequence number: a client issues increasing numbers.
    pub seq: u64,
}

impl RequestId {
    /// Parse `<client>-<seq>` (the client part may itself contain dashes).
    pub fn parse(s: &str) -> Result<RequestId, String> {
        let (client, seq) = s
            .rsplit_once('-')
            .ok_or_else(|| format!("X-Request-Id {s:?} is not <client>-<seq>"))?;
        if client.is_empty() {
            return Err(format!("X-Request-Id {s:?} has an empty client part"));
        }
        let seq = seq
            .parse::<u64>()
            .map_err(|_| format!("X-Request-Id {s:?}: sequence {seq:?} is not an integer"))?;
        Ok(RequestId {
            client: client.to_string(),
            seq,
        })
    }

    /// The `X-Request-Id` header of a request, if any.
    pub fn from_headers(headers: &HeaderMap) -> Result<Option<RequestId>, String> {
        match headers.get("x-request-id") {
            None => Ok(None),
            Some(v) => {
                let s = v
                    .to_str()
                    .map_err(|_| "X-Request-Id is not ASCII".to_string())?;
                RequestId::parse(s).map(Some)
            }
        }
    }
}

struct CoreState<S: StateMachine> {
    node: NodeHandle<S>,
    id: u64,
    timeout: Duration,
}

/// The routes every node serves: `GET /status` and `POST /raft/messages`; merge the
/// application's router into it.
pub fn core_router<S: StateMachine>(node: NodeHandle<S>, id: u64, timeout: Duration) -> Router {
    let st = Arc::new(CoreState { node, id, timeout });
    Router::new()
        .route("/status", get(status::<S>))
        .route(
            "/raft/messages",
            post(raft_messages::<S>).layer(DefaultBodyLimit::max(MAX_PEER_BODY)),
        )
        .with_state(st)
}

/// The 404 answer for an unknown route.
pub fn no_route(readme: &'static str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        json!({"error": "no_route", "message": format!("see the {readme} README for the API")}),
    )
}

async fn status<S: StateMachine>(State(st): State<Arc<CoreState<S>>>) -> Response {
    match call::<S, NodeStatus>(&st.node, st.timeout, |reply| Request::Status { reply }).await {
        Ok(s) => Json(s).into_response(),
        Err(r) => r,
    }
}

async fn raft_messages<S: StateMachine>(
    State(st): State<Arc<CoreState<S>>>,
    body: Bytes,
) -> Response {
    let msgs: Vec<Message> = match serde_json::from_slice(&body) {
        Ok(m) => m,
        Err(e) => return bad_request(format!("bad message batch: {e}")),
    };
    if let Some(m) = msgs.iter().find(|m| m.to != st.id) {
        return bad_request(format!("message for node {} sent to node {}", m.to, st.id));
    }
    if !st.node.send(Request::Peer(msgs)) {
        return node_stopped();
    }
    StatusCode::NO_CONTENT.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_id_parsing() {
        assert_eq!(
            RequestId::parse("worker-3-17"),
            Ok(RequestId {
                client: "worker-3".into(),
                seq: 17
            })
        );
        assert!(RequestId::parse("nodash").is_err());
        assert!(RequestId::parse("-5").is_err());
        assert!(RequestId::parse("a-x").is_err());
    }
}
