//! Lock handlers: `POST /lock/acquire` (replicated; with `wait_ms` > 0 a long-poll that
//! retries whenever the lock changes until it is acquired or the wait ends), `POST
//! /lock/release` (replicated), `GET /lock?name=` (linearizable read of holder and token).
//! The token of an acquisition is the Raft index of the acquiring entry, except with the
//! `reuse-token` bug.

use super::query;
use super::{check_path, parse_body, request_id, session_expired, unexpected, Api, MAX_WAIT_MS};
use crate::bugs::Bug;
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
struct AcquireBody {
    session: SessionId,
    name: String,
    #[serde(default)]
    wait_ms: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReleaseBody {
    session: SessionId,
    name: String,
}

#[derive(Deserialize)]
pub(super) struct NameParam {
    name: String,
}

impl Api {
    fn token_for(&self, name: &str) -> Option<u64> {
        if !self.bugs.has(Bug::ReuseToken) {
            return None;
        }
        // BUG reuse-token: the token comes from this process's memory, not the log.
        let mut tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        Some(tokens.next(name))
    }

    /// Wait until this node's state shows the lock no longer held by `held` (session,
    /// token), or `deadline`.
    async fn wait_for_release(&self, name: &str, held: (SessionId, u64), deadline: Instant) {
        let mut applied = self.node.applied_watch();
        loop {
            match self.local(Query::Lock { name: name.into() }).await {
                Ok(Answer::Lock { record, .. })
                    if record.as_ref().and_then(|r| r.holder) != Some(held) =>
                {
                    return
                }
                Ok(_) => {}
                Err(_) => return,
            }
            if tokio::time::timeout_at(deadline, applied.changed())
                .await
                .is_err()
            {
                return;
            }
        }
    }
}

pub(super) async fn acquire(
    State(api): State<Arc<Api>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let b: AcquireBody = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if let Err(r) = check_path("lock name", &b.name) {
        return r;
    }
    if b.wait_ms > MAX_WAIT_MS {
        return bad_request(format!("wait_ms must be at most {MAX_WAIT_MS}"));
    }
    let mut req = match request_id(&headers) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let deadline = Instant::now() + Duration::from_millis(b.wait_ms);
    loop {
        let op = Op::Acquire {
            session: b.session,
            name: b.name.clone(),
            token: api.token_for(&b.name),
        };
        // Only the first attempt carries the request id: a retry is a new request (and an
        // acquire by the holder returns its token anyway).
        let (index, outcome) = match api.propose(op, req.take()).await {
            Ok(x) => x,
            Err(r) => return r,
        };
        match outcome {
            Outcome::Acquired { token } => {
                return Json(json!({"acquired": true, "name": b.name, "token": token,
                                   "session": b.session, "index": index}))
                .into_response()
            }
            Outcome::Held { holder, token } if Instant::now() < deadline => {
                api.wait_for_release(&b.name, (holder, token), deadline)
                    .await;
            }
            Outcome::Held { holder, token } => {
                return Json(json!({"acquired": false, "name": b.name, "holder": holder,
                                   "token": token, "index": index}))
                .into_response()
            }
            Outcome::NoSession => return session_expired(b.session),
            other => return unexpected(other),
        }
    }
}

pub(super) async fn release(
    State(api): State<Arc<Api>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let b: ReleaseBody = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if let Err(r) = check_path("lock name", &b.name) {
        return r;
    }
    let req = match request_id(&headers) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let op = Op::Release {
        session: b.session,
        name: b.name.clone(),
    };
    match api.propose(op, req).await {
        Ok((index, Outcome::Released)) => {
            Json(json!({"released": true, "name": b.name, "index": index})).into_response()
        }
        Ok((_, Outcome::NotHolder { holder })) => error(
            StatusCode::CONFLICT,
            json!({"error": "not_holder", "name": b.name, "holder": holder}),
        ),
        Ok((_, Outcome::NoSession)) => session_expired(b.session),
        Ok((_, other)) => unexpected(other),
        Err(r) => r,
    }
}

pub(super) async fn inspect(
    State(api): State<Arc<Api>>,
    p: Result<UrlQuery<NameParam>, QueryRejection>,
) -> Response {
    let p = match query(p) {
        Ok(p) => p,
        Err(r) => return r,
    };
    if let Err(r) = check_path("lock name", &p.name) {
        return r;
    }
    match api
        .read(
            Query::Lock {
                name: p.name.clone(),
            },
            true,
        )
        .await
    {
        Ok(Answer::Lock { record, applied }) => {
            let holder = record.as_ref().and_then(|r| r.holder);
            Json(json!({
                "name": p.name,
                "held": holder.is_some(),
                "holder": holder.map(|(s, _)| s),
                "token": holder.map(|(_, t)| t),
                "modified_index": record.map_or(0, |r| r.modified_index),
                "index": applied,
            }))
            .into_response()
        }
        Ok(other) => bad_request(format!("unexpected answer {other:?}")),
        Err(r) => r,
    }
}
