//! Client of the protected resource of the fencing workload: the small HTTP store the
//! harness runs (`harness/src/run/resource.rs`). It keeps every write with its token and
//! writer; in fencing mode it rejects a token lower than the highest it has accepted.
//!
//! `POST /write` `{"resource":R,"token":T,"writer":W}` → 200
//! `{"accepted":bool,"seq":S,"highest":H}`: `seq` numbers every write the store answered, in
//! the order it took them (accepted or not); `highest` is the highest token accepted for `R`
//! after this write.

use super::super::http1::{Http1, HttpError, Request};
use crate::Completion;
use serde_json::{json, Value};
use std::time::Duration;

/// The protected resource at one address.
#[derive(Debug)]
pub struct ResourceClient {
    http: Http1,
    writer: String,
    timeout: Duration,
}

/// What the store said of one write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteAnswer {
    pub accepted: bool,
    pub seq: u64,
    pub highest: u64,
}

impl ResourceClient {
    /// A client of the store at `addr` (`host:port`), writing as `writer`.
    pub fn new(addr: String, writer: String, timeout: Duration) -> ResourceClient {
        ResourceClient {
            http: Http1::new(vec![addr]),
            writer,
            timeout,
        }
    }

    /// Writes to `resource` with `token`. `Err` is the op's completion when the store gave
    /// no answer (`Fail` if nothing was sent, `Info` if the answer was lost).
    pub async fn write(&self, resource: &str, token: u64) -> Result<WriteAnswer, Completion> {
        let body = json!({"resource": resource, "token": token, "writer": self.writer}).to_string();
        let headers = [("Content-Type", "application/json")];
        let req = Request {
            method: "POST",
            path: "/write",
            headers: &headers,
            body: body.as_bytes(),
        };
        let reply = match tokio::time::timeout(self.timeout, self.http.send(0, req)).await {
            Err(_) => return Err(Completion::Info("resource: timeout".into())),
            Ok(Err(HttpError::NotSent(e))) => {
                return Err(Completion::Fail(format!("resource: {e}")))
            }
            Ok(Err(HttpError::Lost(e))) => return Err(Completion::Info(format!("resource: {e}"))),
            Ok(Ok(r)) => r,
        };
        let v: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
        let field = |k: &str| v.get(k).and_then(Value::as_u64);
        match (reply.status, v.get("accepted").and_then(Value::as_bool)) {
            (200, Some(accepted)) => Ok(WriteAnswer {
                accepted,
                seq: field("seq").unwrap_or(0),
                highest: field("highest").unwrap_or(0),
            }),
            (status, _) => Err(Completion::Info(format!(
                "resource: unexpected answer {status} {v}"
            ))),
        }
    }
}
