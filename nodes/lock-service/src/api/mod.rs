//! The lock service's HTTP client API (see the crate README for every request, answer and
//! status code). This module owns what the handlers share: the state, proposing a command
//! and reading through the event loop (with 421 redirects, 503 on lost leadership and 504
//! on timeout from `raft-core`), JSON body parsing with 400 on bad input, and the router.
//! Handlers: `sessions` (open, keep-alive, close), `locks` (acquire with a long-poll,
//! release, inspect), `nodes` (get, set, cas, delete, watch).

// Helpers return the finished error `Response` (built once per failed request) so handlers
// can `?`/match it straight out; its size does not matter on this path.
#![allow(clippy::result_large_err)]

mod locks;
mod nodes;
mod sessions;

use crate::bugs::{Bug, Bugs, MemoryTokens};
use crate::command::{Command, Op, Outcome, SessionId};
use crate::machine::{Answer, LockMachine, Query};
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::Query as UrlQuery;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use raft_core::http::{
    bad_request, call, error, leadership_lost, no_route, not_leader, Directory, RequestId,
};
use raft_core::node::{NodeHandle, ProposeOutcome, ReadOutcome, Request};
use raft_core::server::AppContext;
use serde::de::DeserializeOwned;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Longest a lock name or node path may be, bytes.
pub const MAX_PATH: usize = 1024;
/// Largest node value, bytes.
pub const MAX_VALUE: usize = 64 * 1024;
/// Session TTL bounds, ms.
pub const TTL_RANGE_MS: (u64, u64) = (100, 600_000);
/// Longest long-poll (acquire `wait_ms`, watch `wait_ms`), ms.
pub const MAX_WAIT_MS: u64 = 60_000;

/// What the handlers share.
#[derive(Debug)]
pub struct Api {
    node: NodeHandle<LockMachine>,
    directory: Directory,
    request_timeout: Duration,
    bugs: Bugs,
    /// The `reuse-token` bug's counters (this process's memory).
    tokens: Mutex<MemoryTokens>,
}

/// Build the lock-service routes (`/status` and `/raft/messages` come from `raft-core`).
pub fn router(ctx: AppContext<LockMachine>, bugs: Bugs) -> Router {
    let api = Arc::new(Api {
        node: ctx.node,
        directory: ctx.directory,
        request_timeout: ctx.request_timeout,
        bugs,
        tokens: Mutex::new(MemoryTokens::default()),
    });
    Router::new()
        .route("/session", post(sessions::open))
        .route("/session/{id}/keepalive", post(sessions::keep_alive))
        .route("/session/{id}", axum::routing::delete(sessions::close))
        .route("/lock", get(locks::inspect))
        .route("/lock/acquire", post(locks::acquire))
        .route("/lock/release", post(locks::release))
        .route(
            "/node",
            get(nodes::get_node)
                .put(nodes::set_node)
                .delete(nodes::delete_node),
        )
        .route("/node/cas", post(nodes::cas_node))
        .route("/watch", get(nodes::watch))
        .fallback(|| async { no_route("lock-service") })
        .with_state(api)
}

/// 410 `{"error":"session_expired","session":id}`.
fn session_expired(session: SessionId) -> Response {
    error(
        StatusCode::GONE,
        json!({"error": "session_expired", "session": session}),
    )
}

/// The answer for an outcome a handler did not expect (request-id trouble or a bad entry).
fn unexpected(o: Outcome) -> Response {
    match o {
        Outcome::StaleRequest { latest } => bad_request(format!(
            "stale X-Request-Id: this client's latest request is {latest}; not applied"
        )),
        other => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"error": "internal", "message": format!("unexpected outcome {other:?}")}),
        ),
    }
}

/// Parse a JSON body into `T` (400 naming the problem otherwise).
fn parse_body<T: DeserializeOwned>(body: &Bytes) -> Result<T, Response> {
    serde_json::from_slice(body).map_err(|e| bad_request(format!("bad JSON body: {e}")))
}

/// A lock name or node path: starts with `/`, at most [`MAX_PATH`] bytes.
fn check_path(what: &str, p: &str) -> Result<(), Response> {
    if !p.starts_with('/') || p.len() > MAX_PATH {
        return Err(bad_request(format!(
            "{what} {p:?} must start with '/' and be at most {MAX_PATH} bytes"
        )));
    }
    Ok(())
}

/// The URL's query parameters (400 in the protocol's shape if they do not parse).
fn query<T>(q: Result<UrlQuery<T>, QueryRejection>) -> Result<T, Response> {
    q.map(|UrlQuery(t)| t)
        .map_err(|e| bad_request(format!("query parameters: {}", e.body_text())))
}

fn request_id(headers: &HeaderMap) -> Result<Option<RequestId>, Response> {
    RequestId::from_headers(headers).map_err(bad_request)
}

impl Api {
    /// Replicate `op`; `(index, outcome)` once applied.
    async fn propose(&self, op: Op, req: Option<RequestId>) -> Result<(u64, Outcome), Response> {
        let data = Command { op, req }.encode();
        let out = call(&self.node, self.request_timeout, |reply| Request::Propose {
            data,
            reply,
        })
        .await?;
        match out {
            ProposeOutcome::Applied { index, result, .. } => Ok((index, result)),
            ProposeOutcome::NotLeader { leader } => Err(not_leader(&self.directory, leader)),
            ProposeOutcome::LeadershipLost => Err(leadership_lost()),
        }
    }

    /// A read: linearizable (ReadIndex) unless `may_be_stale` and the `stale-read` bug is on.
    async fn read(&self, query: Query, may_be_stale: bool) -> Result<Answer, Response> {
        let local = may_be_stale && self.bugs.has(Bug::StaleRead);
        let out = call(&self.node, self.request_timeout, |reply| {
            if local {
                // BUG stale-read: answer from local state, whatever our role.
                Request::LocalRead { query, reply }
            } else {
                Request::Read { query, reply }
            }
        })
        .await?;
        self.read_answer(out)
    }

    /// A read of this node's local state (a hint while a long-poll waits; never an answer
    /// on its own).
    async fn local(&self, query: Query) -> Result<Answer, Response> {
        let out = call(&self.node, self.request_timeout, |reply| {
            Request::LocalRead { query, reply }
        })
        .await?;
        self.read_answer(out)
    }

    fn read_answer(&self, out: ReadOutcome<Answer>) -> Result<Answer, Response> {
        match out {
            ReadOutcome::Answer(a) => Ok(a),
            ReadOutcome::NotLeader { leader } => Err(not_leader(&self.directory, leader)),
            ReadOutcome::LeadershipLost => Err(leadership_lost()),
        }
    }
}
