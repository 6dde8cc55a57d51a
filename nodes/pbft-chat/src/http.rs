//! The HTTP API of a replica (documented in the crate README): `POST /request` (a client
//! request; answered with this replica's signed reply once executed, 504 on timeout, 409
//! for a stale timestamp), `GET /messages` (the delivered log), `GET /status`,
//! `POST /admin/byzantine` (test hook: switch the Byzantine mode at run time) and
//! `POST /pbft/messages` (replica-to-replica, a JSON array of signed messages).

use crate::faults::{Bugs, Mode};
use crate::message::Signed;
use crate::node::{Node, Submitted};
use crate::types::Request;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// Longest chat message accepted, bytes.
pub const MAX_MESSAGE: usize = 64 * 1024;

/// What the handlers share.
pub struct AppState {
    /// The replica.
    pub node: Arc<Node>,
    /// How long `POST /request` waits for execution.
    pub request_timeout: Duration,
    /// Enabled bugs (for /status).
    pub bugs: Bugs,
}

/// All routes.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/request", post(request))
        .route("/messages", get(messages))
        .route("/status", get(status))
        .route("/admin/byzantine", post(set_byzantine))
        .route("/pbft/messages", post(peer_messages))
        .with_state(state)
}

fn error(code: StatusCode, kind: &str, detail: String) -> Response {
    (code, Json(json!({"error": kind, "detail": detail}))).into_response()
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T, Box<Response>> {
    serde_json::from_slice(body).map_err(|e| {
        Box::new(error(
            StatusCode::BAD_REQUEST,
            "bad-request",
            format!("body is not {what}: {e}"),
        ))
    })
}

async fn request(State(st): State<Arc<AppState>>, body: Bytes) -> Response {
    let req: Request = match parse(&body, "a request {\"client\", \"timestamp\", \"message\"}") {
        Ok(r) => r,
        Err(resp) => return *resp,
    };
    if req.client.is_empty() || req.message.len() > MAX_MESSAGE {
        let detail = format!("client must be non-empty and message at most {MAX_MESSAGE} bytes");
        return error(StatusCode::BAD_REQUEST, "bad-request", detail);
    }
    let (client, ts) = (req.client.clone(), req.timestamp);
    match st.node.submit(req) {
        Submitted::Done(reply) => Json(reply).into_response(),
        Submitted::Stale(last) => (
            StatusCode::CONFLICT,
            Json(json!({"error": "stale-timestamp", "last": last,
                "detail": format!("client {client:?} already executed timestamp {last}")})),
        )
            .into_response(),
        Submitted::Wait(rx) => match tokio::time::timeout(st.request_timeout, rx).await {
            Ok(Ok(reply)) => Json(reply).into_response(),
            _ => {
                st.node.forget(&client, ts);
                let detail = format!("not executed within {:?}", st.request_timeout);
                error(StatusCode::GATEWAY_TIMEOUT, "timeout", detail)
            }
        },
    }
}

async fn messages(State(st): State<Arc<AppState>>) -> Response {
    let log = st.node.with_core(|c| c.delivered().to_vec());
    Json(log).into_response()
}

async fn status(State(st): State<Arc<AppState>>) -> Response {
    let bugs = st.bugs.names();
    let v: Value = st.node.with_core(|c| {
        let detected: Vec<Value> = c
            .detected()
            .iter()
            .map(|d| json!({"node": d.node, "kind": d.kind.name(), "line": d.line()}))
            .collect();
        json!({
            "id": c.id(),
            "name": format!("node{}", c.id()),
            "n": c.n(),
            "f": c.f(),
            "view": c.view(),
            "primary": c.primary(),
            "role": if c.primary() == c.id() { "primary" } else { "backup" },
            "changing_view": c.changing_view(),
            "last_executed": c.last_executed(),
            "stable_checkpoint": c.stable_checkpoint(),
            "delivered": c.delivered().len(),
            "byzantine": c.byzantine(),
            "bugs": bugs,
            "detected": detected,
        })
    });
    Json(v).into_response()
}

#[derive(serde::Deserialize)]
struct ByzantineBody {
    mode: Option<String>,
}

async fn set_byzantine(State(st): State<Arc<AppState>>, body: Bytes) -> Response {
    let b: ByzantineBody = match parse(&body, "{\"mode\": \"<mode>\" | null}") {
        Ok(b) => b,
        Err(resp) => return *resp,
    };
    let mode = match b.mode.as_deref().map(str::parse::<Mode>).transpose() {
        Ok(m) => m,
        Err(e) => return error(StatusCode::BAD_REQUEST, "unknown-mode", e),
    };
    st.node.set_byzantine(mode);
    Json(json!({"byzantine": mode})).into_response()
}

async fn peer_messages(State(st): State<Arc<AppState>>, body: Bytes) -> Response {
    let msgs: Vec<Signed> = match parse(&body, "a JSON array of signed messages") {
        Ok(m) => m,
        Err(resp) => return *resp,
    };
    let n = msgs.len();
    let node = st.node.clone();
    // Verifying signatures takes CPU: keep it off the async workers.
    let _ = tokio::task::spawn_blocking(move || node.on_messages(msgs)).await;
    Json(json!({"received": n})).into_response()
}
