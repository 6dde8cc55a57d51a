//! The HTTP interface on the node's one listen address: the client API (`PUT/GET/DELETE
//! /key/{k}`, `POST /key/{k}/cas`, `POST /key/{k}/append`, `GET /status`) exactly as in the project contract, with
//! 421 redirects naming the leader, 504 on timeout, 503 when leadership is lost, 400 on bad
//! input and `X-Request-Id` duplicate suppression; and the peer endpoint
//! `POST /raft/messages` (served by `raft-core`, with the error helpers used here).

use crate::bugs::Bugs;
use crate::forward::{may_forward, relay, Forwardable};
use crate::kv::{ApplyResult, Command, Kv, Op, RequestId};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use raft_core::http::{bad_request, call, error, leadership_lost, no_route, not_leader, Directory};
use raft_core::node::{NodeHandle, ProposeOutcome, ReadOutcome, Request};
use raft_core::server::AppContext;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// What the handlers share.
#[derive(Debug)]
pub struct AppState {
    /// The event loop.
    pub node: NodeHandle<Kv>,
    /// Addresses for redirects.
    pub directory: Directory,
    /// How long a client request waits.
    pub request_timeout: Duration,
    /// Deliberate bugs (`stale-read` is decided here).
    pub bugs: Bugs,
    /// For forwarding follower writes to the leader ([`crate::forward`]).
    pub client: reqwest::Client,
}

/// Build the key-value routes (`/status` and `/raft/messages` come from `raft-core`).
pub fn router(ctx: AppContext<Kv>, bugs: Bugs) -> Router {
    let state = Arc::new(AppState {
        node: ctx.node,
        directory: ctx.directory,
        request_timeout: ctx.request_timeout,
        bugs,
        client: reqwest::Client::new(),
    });
    Router::new()
        .route("/key/{k}", get(get_key).put(put_key).delete(delete_key))
        .route("/key/{k}/cas", post(cas_key))
        .route("/key/{k}/append", post(append_key))
        .fallback(|| async { no_route("raft-kv") })
        .with_state(state)
}

/// A key as one URL path segment (percent-encoded except unreserved characters).
fn url_segment(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn request_id(headers: &HeaderMap) -> Result<Option<RequestId>, String> {
    RequestId::from_headers(headers)
}

/// The write request on `/key/{key}{suffix}` as received, for forwarding; `None` when the
/// client asked not to be.
fn forwardable(
    method: Method,
    key: &str,
    suffix: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> Option<Forwardable> {
    may_forward(headers).then(|| Forwardable {
        method,
        path: format!("/key/{}{suffix}", url_segment(key)),
        headers: headers.clone(),
        body,
    })
}

async fn propose(st: &AppState, cmd: Command, is_cas: bool, fwd: Option<Forwardable>) -> Response {
    let data = cmd.encode();
    let out = match call(&st.node, st.request_timeout, |reply| Request::Propose {
        data,
        reply,
    })
    .await
    {
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
        ProposeOutcome::NotLeader { leader } => {
            let answer = not_leader(&st.directory, leader);
            match (fwd, leader.and_then(|l| st.directory.addr_of(l))) {
                (Some(req), Some(addr)) => {
                    relay(&st.client, &addr, &req, st.request_timeout, answer).await
                }
                _ => answer,
            }
        }
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
    let fwd = forwardable(Method::PUT, &key, "", &headers, body);
    let cmd = Command {
        op: Op::Put { key, value },
        req,
    };
    propose(&st, cmd, false, fwd).await
}

/// `POST /key/{k}/append`: the raw body (UTF-8) is concatenated to the key's value.
async fn append_key(
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
        Err(_) => return bad_request("appended value must be UTF-8"),
    };
    let fwd = forwardable(Method::POST, &key, "/append", &headers, body);
    let cmd = Command {
        op: Op::Append { key, value },
        req,
    };
    propose(&st, cmd, false, fwd).await
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
    let fwd = forwardable(Method::DELETE, &key, "", &headers, Bytes::new());
    propose(
        &st,
        Command {
            op: Op::Delete { key },
            req,
        },
        false,
        fwd,
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
    let fwd = forwardable(Method::POST, &key, "/cas", &headers, body);
    propose(
        &st,
        Command {
            op: Op::Cas { key, from, to },
            req,
        },
        true,
        fwd,
    )
    .await
}

async fn get_key(State(st): State<Arc<AppState>>, Path(key): Path<String>) -> Response {
    let stale = st.bugs.stale_read;
    let read = call(&st.node, st.request_timeout, |reply| {
        if stale {
            // BUG stale-read: answer from local state, whatever our role.
            Request::LocalRead { query: key, reply }
        } else {
            Request::Read { query: key, reply }
        }
    });
    match read.await {
        Ok(ReadOutcome::Answer(Some(v))) => Json(json!({"value": v})).into_response(),
        Ok(ReadOutcome::Answer(None)) => {
            error(StatusCode::NOT_FOUND, json!({"error": "not_found"}))
        }
        Ok(ReadOutcome::NotLeader { leader }) => not_leader(&st.directory, leader),
        Ok(ReadOutcome::LeadershipLost) => leadership_lost(),
        Err(r) => r,
    }
}
