//! Forwarding a client write from a follower to the leader, as etcd does, so that
//! `curl -X PUT localhost:8001/key/name -d Alice` works whichever node leads. A client that
//! wants the 421 redirect instead (the harness's own client, which records it as a failed
//! op) sends `X-No-Forward: 1`; a forwarded request carries that header too, so a request
//! is forwarded at most once (no loops when leadership moves). The leader's answer is
//! relayed as is; when the leader cannot be reached the follower answers its 421.

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
/// when it cannot be reached; 504 when it does not answer within `timeout`.
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
        Err(e) if e.is_timeout() => {
            return error(
                StatusCode::GATEWAY_TIMEOUT,
                json!({"error": "timeout", "message": "the leader did not answer the forwarded request in time"}),
            )
        }
        Err(_) => return fallback,
    };
    let status = StatusCode::from_u16(resp.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let ctype = resp.headers().get("content-type").cloned();
    let body = resp.bytes().await.unwrap_or_default();
    let mut out = (status, body).into_response();
    if let Some(c) = ctype {
        out.headers_mut().insert("content-type", c);
    }
    out.headers_mut()
        .insert("x-forwarded-to-leader", HeaderValue::from_static("1"));
    out
}
