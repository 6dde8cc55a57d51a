//! Session handlers: `POST /session` (open, replicated), `POST /session/{id}/keepalive`
//! (a linearizable read that extends the lease on the leader's clock from the moment the
//! request arrived), `DELETE /session/{id}` (close, replicated: releases its locks and
//! deletes its ephemeral nodes).

use super::{parse_body, request_id, session_expired, unexpected, Api, TTL_RANGE_MS};
use crate::command::{Op, Outcome};
use crate::lease::KeepAlive;
use crate::machine::{Answer, Query};
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use raft_core::http::bad_request;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;

/// The session id of the URL (400 in the protocol's shape if it is not a number).
#[allow(clippy::result_large_err)]
fn session_id(id: Result<Path<u64>, PathRejection>) -> Result<u64, Response> {
    id.map(|Path(id)| id)
        .map_err(|e| bad_request(format!("session id: {}", e.body_text())))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OpenBody {
    ttl_ms: u64,
}

pub(super) async fn open(State(api): State<Arc<Api>>, headers: HeaderMap, body: Bytes) -> Response {
    let b: OpenBody = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let (lo, hi) = TTL_RANGE_MS;
    if !(lo..=hi).contains(&b.ttl_ms) {
        return bad_request(format!("ttl_ms must be in {lo}..={hi}"));
    }
    let req = match request_id(&headers) {
        Ok(r) => r,
        Err(r) => return r,
    };
    match api.propose(Op::OpenSession { ttl_ms: b.ttl_ms }, req).await {
        Ok((index, Outcome::SessionOpened { session, ttl_ms })) => {
            Json(json!({"session": session, "ttl_ms": ttl_ms, "index": index})).into_response()
        }
        Ok((_, other)) => unexpected(other),
        Err(r) => r,
    }
}

pub(super) async fn keep_alive(
    State(api): State<Arc<Api>>,
    id: Result<Path<u64>, PathRejection>,
) -> Response {
    let id = match session_id(id) {
        Ok(id) => id,
        Err(r) => return r,
    };
    let received = Instant::now();
    let q = Query::KeepAlive {
        session: id,
        received,
    };
    match api.read(q, false).await {
        Ok(Answer::KeepAlive(KeepAlive::Extended { ttl_ms })) => {
            Json(json!({"session": id, "ttl_ms": ttl_ms})).into_response()
        }
        Ok(Answer::KeepAlive(KeepAlive::Expired)) => session_expired(id),
        Ok(other) => bad_request(format!("unexpected answer {other:?}")),
        Err(r) => r,
    }
}

pub(super) async fn close(
    State(api): State<Arc<Api>>,
    id: Result<Path<u64>, PathRejection>,
    headers: HeaderMap,
) -> Response {
    let id = match session_id(id) {
        Ok(id) => id,
        Err(r) => return r,
    };
    let req = match request_id(&headers) {
        Ok(r) => r,
        Err(r) => return r,
    };
    match api.propose(Op::CloseSession { session: id }, req).await {
        Ok((index, Outcome::SessionEnded { released, deleted })) => Json(json!({
            "closed": true, "session": id, "released": released, "deleted": deleted,
            "index": index
        }))
        .into_response(),
        Ok((_, Outcome::NoSession)) => session_expired(id),
        Ok((_, other)) => unexpected(other),
        Err(r) => r,
    }
}
