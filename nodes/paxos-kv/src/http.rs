//! The HTTP interface on the node's one listen address: the client API of raft-kv's node
//! protocol (`PUT/GET/DELETE /key/{k}`, `POST /key/{k}/cas`, `GET /status`) with 421
//! redirects naming the leader, 504 on timeout, 503 when the outcome is unknown, 400 on bad
//! input and `X-Request-Id` duplicate suppression; and the peer endpoint
//! `POST /paxos/messages` (a JSON array of messages; the sender is each message's `from`).

use crate::kv::{ApplyResult, Command, Op, RequestId};
use crate::node::{NodeHandle, ProposeOutcome, ReadOutcome, Request};
use crate::paxos::{Message, NodeId};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

/// Largest peer message batch accepted (snapshots travel here).
pub const MAX_PEER_BODY: usize = 1 << 30;

/// What the handlers share.
#[derive(Debug)]
pub struct AppState {
    /// The event loop.
    pub node: NodeHandle,
    /// This node's id.
    pub id: NodeId,
    /// This node's listen address.
    pub listen: SocketAddr,
    /// Peer id → address (for redirects).
    pub peers: BTreeMap<NodeId, String>,
    /// How long a client request waits.
    pub request_timeout: Duration,
}

/// Build the router.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/key/{k}", get(get_key).put(put_key).delete(delete_key))
        .route("/key/{k}/cas", post(cas_key))
        .route("/status", get(status))
        .route(
            "/paxos/messages",
            post(peer_messages).layer(DefaultBodyLimit::max(MAX_PEER_BODY)),
        )
        .fallback(|| async {
            error(
                StatusCode::NOT_FOUND,
                json!({"error": "no_route", "message": "see the paxos-kv README for the API"}),
            )
        })
        .with_state(state)
}

fn error(code: StatusCode, body: Value) -> Response {
    (code, Json(body)).into_response()
}

fn bad_request(msg: impl Into<String>) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        json!({"error": "bad_request", "message": msg.into()}),
    )
}

fn not_leader(st: &AppState, leader: Option<NodeId>) -> Response {
    let addr = leader.and_then(|l| {
        if l == st.id {
            Some(st.listen.to_string())
        } else {
            st.peers.get(&l).cloned()
        }
    });
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

fn unknown_outcome() -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        json!({"error": "leadership_lost"}),
    )
}

/// Send a request to the loop and wait for its answer within the request timeout.
async fn call<T>(
    st: &AppState,
    make: impl FnOnce(oneshot::Sender<T>) -> Request,
) -> Result<T, Response> {
    let (tx, rx) = oneshot::channel();
    if !st.node.send(make(tx)) {
        return Err(error(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": "node_stopped"}),
        ));
    }
    match tokio::time::timeout(st.request_timeout, rx).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(_)) => Err(unknown_outcome()),
        Err(_) => Err(error(
            StatusCode::GATEWAY_TIMEOUT,
            json!({"error": "timeout"}),
        )),
    }
}

fn request_id(headers: &HeaderMap) -> Result<Option<RequestId>, String> {
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

async fn propose(st: &AppState, headers: &HeaderMap, op: Op, is_cas: bool) -> Response {
    let req = match request_id(headers) {
        Ok(r) => r,
        Err(m) => return bad_request(m),
    };
    let cmd = Command { op, req };
    let out = match call(st, |reply| Request::Propose { cmd, reply }).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    match out {
        ProposeOutcome::Applied { term, slot, result } => match result {
            ApplyResult::Done | ApplyResult::CasApplied if is_cas => {
                Json(json!({"applied": true, "term": term, "index": slot})).into_response()
            }
            ApplyResult::Done | ApplyResult::CasApplied => {
                Json(json!({"status": "committed", "term": term, "index": slot})).into_response()
            }
            ApplyResult::CasFailed { current } => {
                Json(json!({"applied": false, "value": current})).into_response()
            }
            ApplyResult::Stale { latest } => bad_request(format!(
                "stale X-Request-Id: this client's latest request is {latest}; not applied"
            )),
            ApplyResult::Invalid => error(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error": "internal", "message": "log entry did not decode"}),
            ),
        },
        ProposeOutcome::NotLeader { leader } => not_leader(st, leader),
        ProposeOutcome::Lost => unknown_outcome(),
    }
}

async fn put_key(
    State(st): State<Arc<AppState>>,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match String::from_utf8(body.to_vec()) {
        Ok(value) => propose(&st, &headers, Op::Put { key, value }, false).await,
        Err(_) => bad_request("value must be UTF-8"),
    }
}

async fn delete_key(
    State(st): State<Arc<AppState>>,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Response {
    propose(&st, &headers, Op::Delete { key }, false).await
}

/// A cas operand: a string, a number (stored as its decimal text) or null (absent).
fn operand(body: &Value, field: &str, nullable: bool) -> Result<Option<String>, String> {
    match body.get(field) {
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::Null) if nullable => Ok(None),
        None if nullable => Err(format!("missing `{field}` (use null for an absent key)")),
        _ => Err(format!("`{field}` must be a string or a number")),
    }
}

async fn cas_key(
    State(st): State<Arc<AppState>>,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let parsed: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return bad_request(format!("body is not JSON: {e}")),
    };
    let from = match operand(&parsed, "from", true) {
        Ok(f) => f,
        Err(m) => return bad_request(m),
    };
    let to = match operand(&parsed, "to", false) {
        Ok(Some(t)) => t,
        Ok(None) => return bad_request("`to` must be a string or a number"),
        Err(m) => return bad_request(m),
    };
    propose(&st, &headers, Op::Cas { key, from, to }, true).await
}

async fn get_key(State(st): State<Arc<AppState>>, Path(key): Path<String>) -> Response {
    match call(&st, |reply| Request::Read { key, reply }).await {
        Ok(ReadOutcome::Value(Some(v))) => Json(json!({"value": v})).into_response(),
        Ok(ReadOutcome::Value(None)) => error(StatusCode::NOT_FOUND, json!({"error": "not_found"})),
        Ok(ReadOutcome::NotLeader { leader }) => not_leader(&st, leader),
        Ok(ReadOutcome::Lost) => unknown_outcome(),
        Err(r) => r,
    }
}

async fn status(State(st): State<Arc<AppState>>) -> Response {
    match call(&st, Request::Status).await {
        Ok(s) => Json(s).into_response(),
        Err(r) => r,
    }
}

async fn peer_messages(State(st): State<Arc<AppState>>, body: Bytes) -> Response {
    let msgs: Vec<Message> = match serde_json::from_slice(&body) {
        Ok(m) => m,
        Err(e) => return bad_request(format!("peer messages: {e}")),
    };
    if !st.node.send(Request::Peer(msgs)) {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": "node_stopped"}),
        );
    }
    StatusCode::NO_CONTENT.into_response()
}
