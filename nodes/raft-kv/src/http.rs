//! The HTTP interface on the node's one listen address: the client API (`PUT/GET/DELETE
//! /key/{k}`, `POST /key/{k}/cas`, `GET /status`) exactly as in the project contract, with
//! 421 redirects naming the leader, 504 on timeout, 503 when leadership is lost, 400 on bad
//! input and `X-Request-Id` duplicate suppression; and the peer endpoint
//! `POST /raft/messages` (a JSON array of messages; the sender is the message's `from`).

use crate::kv::{ApplyResult, Command, Op, RequestId};
use crate::node::{NodeHandle, NodeStatus, ProposeOutcome, ReadOutcome, Request};
use crate::raft::Message;
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

/// Largest peer message batch accepted (snapshots of a big state machine travel here).
pub const MAX_PEER_BODY: usize = 1 << 30;

/// What the handlers share.
#[derive(Debug)]
pub struct AppState {
    /// The event loop.
    pub node: NodeHandle,
    /// This node's id.
    pub id: u64,
    /// This node's listen address.
    pub listen: SocketAddr,
    /// Peer id → address (for redirects).
    pub peers: BTreeMap<u64, String>,
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
            "/raft/messages",
            post(raft_messages).layer(DefaultBodyLimit::max(MAX_PEER_BODY)),
        )
        .fallback(|| async {
            error(
                StatusCode::NOT_FOUND,
                json!({"error": "no_route", "message": "see the raft-kv README for the API"}),
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

fn not_leader(st: &AppState, leader: Option<u64>) -> Response {
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

fn leadership_lost() -> Response {
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
        Ok(Err(_)) => Err(leadership_lost()),
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

async fn propose(st: &AppState, cmd: Command, is_cas: bool) -> Response {
    let out = match call(st, |reply| Request::Propose { cmd, reply }).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    match out {
        ProposeOutcome::Applied {
            term,
            index,
            result,
        } => match result {
            ApplyResult::Done | ApplyResult::CasApplied if is_cas => {
                Json(json!({"applied": true, "term": term, "index": index})).into_response()
            }
            ApplyResult::Done | ApplyResult::CasApplied => {
                Json(json!({"status": "committed", "term": term, "index": index})).into_response()
            }
            ApplyResult::CasFailed { current } => {
                Json(json!({"applied": false, "value": current})).into_response()
            }
            ApplyResult::StaleRequest { latest } => bad_request(format!(
                "stale X-Request-Id: this client's latest request is {latest}; not applied"
            )),
            ApplyResult::Invalid => error(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error": "internal", "message": "entry did not decode"}),
            ),
        },
        ProposeOutcome::NotLeader { leader } => not_leader(st, leader),
        ProposeOutcome::LeadershipLost => leadership_lost(),
    }
}

async fn put_key(
    State(st): State<Arc<AppState>>,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let req = match request_id(&headers) {
        Ok(r) => r,
        Err(m) => return bad_request(m),
    };
    let value = match String::from_utf8(body.to_vec()) {
        Ok(v) => v,
        Err(_) => return bad_request("value must be UTF-8"),
    };
    let cmd = Command {
        op: Op::Put { key, value },
        req,
    };
    propose(&st, cmd, false).await
}

async fn delete_key(
    State(st): State<Arc<AppState>>,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Response {
    let req = match request_id(&headers) {
        Ok(r) => r,
        Err(m) => return bad_request(m),
    };
    propose(
        &st,
        Command {
            op: Op::Delete { key },
            req,
        },
        false,
    )
    .await
}

/// A cas operand: a string, or a number/bool written as its JSON text; null = absent.
fn operand(v: Option<&Value>, name: &str, nullable: bool) -> Result<Option<String>, String> {
    match v {
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(Value::Null) | None if nullable => Ok(None),
        Some(Value::Null) | None => Err(format!("\"{name}\" is required and must not be null")),
        Some(_) => Err(format!("\"{name}\" must be a string, a number or null")),
    }
}

async fn cas_key(
    State(st): State<Arc<AppState>>,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let req = match request_id(&headers) {
        Ok(r) => r,
        Err(m) => return bad_request(m),
    };
    let v: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return bad_request(format!("body is not JSON: {e}")),
    };
    let Some(obj) = v.as_object() else {
        return bad_request("body must be {\"from\": ..., \"to\": ...}");
    };
    let from = match operand(obj.get("from"), "from", true) {
        Ok(f) => f,
        Err(m) => return bad_request(m),
    };
    let to = match operand(obj.get("to"), "to", false) {
        Ok(Some(t)) => t,
        Ok(None) => return bad_request("\"to\" is required"),
        Err(m) => return bad_request(m),
    };
    propose(
        &st,
        Command {
            op: Op::Cas { key, from, to },
            req,
        },
        true,
    )
    .await
}

async fn get_key(State(st): State<Arc<AppState>>, Path(key): Path<String>) -> Response {
    match call(&st, |reply| Request::Read { key, reply }).await {
        Ok(ReadOutcome::Value(Some(v))) => Json(json!({"value": v})).into_response(),
        Ok(ReadOutcome::Value(None)) => error(StatusCode::NOT_FOUND, json!({"error": "not_found"})),
        Ok(ReadOutcome::NotLeader { leader }) => not_leader(&st, leader),
        Ok(ReadOutcome::LeadershipLost) => leadership_lost(),
        Err(r) => r,
    }
}

async fn status(State(st): State<Arc<AppState>>) -> Response {
    match call::<NodeStatus>(&st, |reply| Request::Status { reply }).await {
        Ok(s) => Json(s).into_response(),
        Err(r) => r,
    }
}

async fn raft_messages(State(st): State<Arc<AppState>>, body: Bytes) -> Response {
    let msgs: Vec<Message> = match serde_json::from_slice(&body) {
        Ok(m) => m,
        Err(e) => return bad_request(format!("bad message batch: {e}")),
    };
    if let Some(m) = msgs.iter().find(|m| m.to != st.id) {
        return bad_request(format!("message for node {} sent to node {}", m.to, st.id));
    }
    if !st.node.send(Request::Peer(msgs)) {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": "node_stopped"}),
        );
    }
    StatusCode::NO_CONTENT.into_response()
}
