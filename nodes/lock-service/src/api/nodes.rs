//! Node (small versioned value) handlers: `GET /node?path=` (linearizable), `PUT /node`
//! (set), `POST /node/cas` (set if the version matches; version 0 = absent), `DELETE
//! /node?path=[&version=]`, and `GET /watch?path=&after=&wait_ms=` (a long-poll that
//! returns once the lock or node at `path` changed at an index above `after`).

use super::query;
use super::{
    check_path, parse_body, request_id, session_expired, unexpected, Api, MAX_VALUE, MAX_WAIT_MS,
};
use crate::command::{Op, Outcome, SessionId};
use crate::machine::{Answer, Query};
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query as UrlQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use raft_core::http::{bad_request, error};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WriteBody {
    path: String,
    value: String,
    /// Required version (cas; 0 = absent).
    #[serde(default)]
    version: Option<u64>,
    /// Make a node this write creates ephemeral to this session.
    #[serde(default)]
    session: Option<SessionId>,
}

#[derive(Deserialize)]
pub(super) struct PathParam {
    path: String,
    #[serde(default)]
    version: Option<u64>,
}

#[derive(Deserialize)]
pub(super) struct WatchParam {
    path: String,
    #[serde(default)]
    after: u64,
    #[serde(default)]
    wait_ms: u64,
}

fn not_found(path: &str, modified_index: u64, applied: u64) -> Response {
    error(
        StatusCode::NOT_FOUND,
        json!({"error": "not_found", "path": path, "modified_index": modified_index,
               "index": applied}),
    )
}

pub(super) async fn get_node(
    State(api): State<Arc<Api>>,
    p: Result<UrlQuery<PathParam>, QueryRejection>,
) -> Response {
    let p = match query(p) {
        Ok(p) => p,
        Err(r) => return r,
    };
    if let Err(r) = check_path("path", &p.path) {
        return r;
    }
    match api
        .read(
            Query::Node {
                path: p.path.clone(),
            },
            true,
        )
        .await
    {
        Ok(Answer::Node { record, applied }) => match record {
            Some(n) if n.value.is_some() => Json(json!({
                "path": p.path, "value": n.value, "version": n.version,
                "ephemeral_owner": n.ephemeral_owner, "modified_index": n.modified_index,
                "index": applied,
            }))
            .into_response(),
            other => not_found(&p.path, other.map_or(0, |n| n.modified_index), applied),
        },
        Ok(other) => bad_request(format!("unexpected answer {other:?}")),
        Err(r) => r,
    }
}

async fn write(api: &Api, headers: &HeaderMap, body: &Bytes, is_cas: bool) -> Response {
    let b: WriteBody = match parse_body(body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if let Err(r) = check_path("path", &b.path) {
        return r;
    }
    if b.value.len() > MAX_VALUE {
        return bad_request(format!("value is larger than {MAX_VALUE} bytes"));
    }
    if is_cas && b.version.is_none() {
        return bad_request("\"version\" is required (0 = the node must be absent)");
    }
    let req = match request_id(headers) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let op = Op::Write {
        path: b.path.clone(),
        value: b.value,
        expected: b.version,
        ephemeral_of: b.session,
    };
    match api.propose(op, req).await {
        Ok((index, Outcome::Written { version })) => {
            Json(json!({"written": true, "path": b.path, "version": version, "index": index}))
                .into_response()
        }
        Ok((index, Outcome::VersionMismatch { current })) => Json(json!({
            "written": false, "path": b.path, "version": current, "index": index
        }))
        .into_response(),
        Ok((_, Outcome::NoSession)) => session_expired(b.session.unwrap_or(0)),
        Ok((_, other)) => unexpected(other),
        Err(r) => r,
    }
}

pub(super) async fn set_node(
    State(api): State<Arc<Api>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    write(&api, &headers, &body, false).await
}

pub(super) async fn cas_node(
    State(api): State<Arc<Api>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    write(&api, &headers, &body, true).await
}

pub(super) async fn delete_node(
    State(api): State<Arc<Api>>,
    headers: HeaderMap,
    p: Result<UrlQuery<PathParam>, QueryRejection>,
) -> Response {
    let p = match query(p) {
        Ok(p) => p,
        Err(r) => return r,
    };
    if let Err(r) = check_path("path", &p.path) {
        return r;
    }
    let req = match request_id(&headers) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let op = Op::Delete {
        path: p.path.clone(),
        expected: p.version,
    };
    match api.propose(op, req).await {
        Ok((index, Outcome::Deleted)) => {
            Json(json!({"deleted": true, "path": p.path, "index": index})).into_response()
        }
        Ok((index, Outcome::VersionMismatch { current: 0 })) => not_found(&p.path, 0, index),
        Ok((index, Outcome::VersionMismatch { current })) => Json(json!({
            "deleted": false, "path": p.path, "version": current, "index": index
        }))
        .into_response(),
        Ok((_, other)) => unexpected(other),
        Err(r) => r,
    }
}

fn modified(a: Answer) -> Option<(u64, u64)> {
    match a {
        Answer::Modified { index, applied } => Some((index, applied)),
        _ => None,
    }
}

fn watch_answer(path: &str, changed: bool, modified_index: u64, applied: u64) -> Response {
    Json(
        json!({"changed": changed, "path": path, "modified_index": modified_index,
                "index": applied}),
    )
    .into_response()
}

pub(super) async fn watch(
    State(api): State<Arc<Api>>,
    p: Result<UrlQuery<WatchParam>, QueryRejection>,
) -> Response {
    let p = match query(p) {
        Ok(p) => p,
        Err(r) => return r,
    };
    if let Err(r) = check_path("path", &p.path) {
        return r;
    }
    if p.wait_ms > MAX_WAIT_MS {
        return bad_request(format!("wait_ms must be at most {MAX_WAIT_MS}"));
    }
    let deadline = Instant::now() + Duration::from_millis(p.wait_ms);
    let mut applied_rx = api.node.applied_watch();
    // The first look is a linearizable read: it also makes sure this node leads.
    let first = api
        .read(
            Query::Modified {
                path: p.path.clone(),
            },
            true,
        )
        .await;
    let (mut index, mut applied) = match first.map(modified) {
        Ok(Some(x)) => x,
        Ok(None) => return bad_request("unexpected answer"),
        Err(r) => return r,
    };
    while index <= p.after {
        if tokio::time::timeout_at(deadline, applied_rx.changed())
            .await
            .is_err()
        {
            return watch_answer(&p.path, false, index, applied);
        }
        match api
            .local(Query::Modified {
                path: p.path.clone(),
            })
            .await
            .map(modified)
        {
            Ok(Some(x)) => (index, applied) = x,
            Ok(None) => return bad_request("unexpected answer"),
            Err(r) => return r,
        }
    }
    watch_answer(&p.path, true, index, applied)
}
