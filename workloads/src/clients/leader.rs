//! The client of a leader election (`nodes/bully`): `GET /status` (who this node thinks
//! leads) and `POST /act` (the leader-only action), both on the client's home node only (no
//! redirects: the election workload asks every node what *it* thinks and does). Also the
//! shared classification of a `/status` answer into the view the history records.

use super::http1::{Http1, HttpError, Request};
use super::{ClientConfig, ClientError, Endpoint};
use crate::Completion;
use serde_json::{json, Value};
use std::time::Duration;

/// A client of one bully cluster, talking only to its home node.
#[derive(Debug)]
pub struct LeaderClient {
    http: Http1,
    nodes: Vec<Endpoint>,
    home: usize,
    op_timeout: Duration,
}

impl LeaderClient {
    pub fn new(cfg: &ClientConfig) -> Result<LeaderClient, ClientError> {
        if cfg.home >= cfg.nodes.len() {
            return Err(ClientError::Config(
                "election client needs its home node in `nodes`".into(),
            ));
        }
        Ok(LeaderClient {
            http: Http1::new(cfg.nodes.iter().map(|n| n.addr.clone()).collect()),
            nodes: cfg.nodes.clone(),
            home: cfg.home,
            op_timeout: cfg.op_timeout,
        })
    }

    pub fn home_name(&self) -> &str {
        &self.nodes[self.home].name
    }

    /// `GET /status` on the home node: `Ok(view)` ([`status_view`]).
    pub async fn status(&self) -> Completion {
        match self.send("GET", "/status").await {
            Ok((200, body)) => Completion::Ok(status_view(&body)),
            Ok((status, body)) => Completion::Fail(error_of(status, &body)),
            Err(c) => c,
        }
    }

    /// `POST /act` on the home node: 200 → `Ok({leader_id, epoch, acted_at_unix_ms})`,
    /// 421 → `Fail(not_leader)`; no answer → `Info` (it may have acted).
    pub async fn act(&self) -> Completion {
        match self.send("POST", "/act").await {
            Ok((200, body)) => Completion::Ok(json!({
                "leader_id": body.get("leader_id").cloned().unwrap_or(Value::Null),
                "epoch": body.get("epoch").cloned().unwrap_or(Value::Null),
                "acted_at_unix_ms": body.get("acted_at_unix_ms").cloned().unwrap_or(Value::Null),
            })),
            Ok((status, body)) if status < 500 => Completion::Fail(error_of(status, &body)),
            Ok((status, body)) => Completion::Info(error_of(status, &body)),
            Err(Completion::Fail(e)) => Completion::Fail(e),
            Err(other) => other,
        }
    }

    /// One exchange with the home node within the op timeout: `Ok((status, json body))`, or
    /// the completion of a failed exchange (not sent: `Fail`; lost or timed out: `Info`).
    async fn send(&self, method: &str, path: &str) -> Result<(u16, Value), Completion> {
        let req = Request {
            method,
            path,
            headers: &[],
            body: b"",
        };
        match tokio::time::timeout(self.op_timeout, self.http.send(self.home, req)).await {
            Err(_) => Err(Completion::Info("timeout".into())),
            Ok(Err(HttpError::NotSent(e))) => Err(Completion::Fail(e)),
            Ok(Err(HttpError::Lost(e))) => Err(Completion::Info(e)),
            Ok(Ok(reply)) => Ok((
                reply.status,
                serde_json::from_slice(&reply.body).unwrap_or(Value::Null),
            )),
        }
    }
}

/// The view a `/status` answer records: `{role, leader_id, epoch}` (`epoch` from `epoch`,
/// else `term`).
pub fn status_view(body: &Value) -> Value {
    json!({
        "role": body.get("role").cloned().unwrap_or(Value::Null),
        "leader_id": body.get("leader_id").cloned().unwrap_or(Value::Null),
        "epoch": body.get("epoch").or_else(|| body.get("term")).cloned().unwrap_or(Value::Null),
    })
}

fn error_of(status: u16, body: &Value) -> String {
    body.get("error")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("http {status}"))
}
