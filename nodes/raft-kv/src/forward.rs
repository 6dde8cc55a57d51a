//! Forwarding a client write from a follower to the leader, as etcd does, so that
//! `curl -X PUT localhost:8001/key/name -d Alice` works whichever node leads. A client that
//! wants the 421 redirect instead (the harness's own client, which records it as a failed
//! op) sends `X-No-Forward: 1`; a forwarded request carries that header too, so a request
//! is forwarded at most once (no loops when leadership moves). The leader's answer is
//! relayed as is; when the leader cannot be connected to the follower answers its 421; a request lost after it was sent gets 504 (outcome unknown).

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use raft_core::http::error;
use serde_json::json;
use std::time::Duration;

/// The header by which a client asks not to be forwarded.
pub const NO_FORWARD: &str = "x-no-forward";

/// Whether the request may be forwarded (no `X-No-Forward` header, or one saying `0`).
pub fn may_forward(headers: &HeaderMap) -> bool {
    match headers.get(NO_FORWARD) {
        None => true,
        Some(v) => v.as_bytes() == b"0",
    }
}

/// The request to relay: method, path (with query), the headers that matter, the body.
#[derive(Debug, Clone)]
pub struct Forwardable {
    pub method: Method,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Send `req` to the leader at `leader_addr` and relay its answer; `fallback` (the 421)
/// when it could not even be connected to; 504 (outcome unknown) when the request or its
/// answer was lost after connecting, or the leader did not answer within `timeout`.
pub async fn relay(
    client: &reqwest::Client,
    leader_addr: &str,
    req: &Forwardable,
    timeout: Duration,
    fallback: Response,
) -> Response {
    let mut rb = client
        .request(
            req.method.clone(),
            format!("http://{leader_addr}{}", req.path),
        )
        .timeout(timeout)
        .header(NO_FORWARD, "1")
        .body(req.body.clone());
    for name in ["x-request-id", "content-type"] {
        if let Some(v) = req.headers.get(name) {
            rb = rb.header(name, v.clone());
        }
    }
    let resp = match rb.send().await {
        Ok(r) => r,
        // Never connected: the leader cannot have seen the request, so the 421 is true.
        Err(e) if e.is_connect() => return fallback,
        // Sent (or maybe sent) and then lost: the leader may have applied it.
        Err(_) => return unknown_outcome(),
    };
    let status = StatusCode::from_u16(resp.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let ctype = resp.headers().get("content-type").cloned();
    let Ok(body) = resp.bytes().await else {
        return unknown_outcome();
    };
    let mut out = (status, body).into_response();
    if let Some(c) = ctype {
        out.headers_mut().insert("content-type", c);
    }
    out.headers_mut()
        .insert("x-forwarded-to-leader", HeaderValue::from_static("1"));
    out
}

/// The answer when a forwarded write may or may not have reached the leader: 504, an
/// unknown outcome (never a 421, which says the write did not happen).
fn unknown_outcome() -> Response {
    error(
        StatusCode::GATEWAY_TIMEOUT,
        json!({"error": "timeout", "message": "the forwarded request was lost after it was sent to the leader: outcome unknown"}),
    )
}
