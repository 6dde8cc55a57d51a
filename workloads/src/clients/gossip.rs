//! Client of the gossip HTTP protocol (nodes/gossip/README.md, "HTTP protocol"): a post
//! goes to the client's home node only (`POST /broadcast {"body": TEXT}`, gossip spreads it);
//! a read is the home node's delivered set (`GET /messages`).
//!
//! Classification of a post: 200 `{"origin","seq"}`: `ok` (value: the body); 400 or 413 (a
//! body the node refuses) and a refused connection: `fail`; a timeout, a reset after
//! sending, a 500 (stored in memory but not on disk: it may spread) or another answer:
//! `info`. A read's value is the list of `[body, received_at_unix_ms]` pairs in the node's
//! delivery order (the times are the node's wall clock: every node runs on this machine, so
//! the broadcast checker can subtract them); a read that did not answer is `fail`.

use super::http1::{Http1, HttpError, Request};
use super::{ClientConfig, ClientError, Endpoint};
use crate::Completion;
use serde_json::{json, Value};
use std::time::Duration;

/// A client of one gossip cluster, bound to its home node.
#[derive(Debug)]
pub struct GossipClient {
    http: Http1,
    nodes: Vec<Endpoint>,
    home: usize,
    op_timeout: Duration,
}

impl GossipClient {
    pub fn new(cfg: &ClientConfig) -> Result<GossipClient, ClientError> {
        if cfg.home >= cfg.nodes.len() {
            return Err(ClientError::Config(
                "gossip client needs its home node in `nodes`".into(),
            ));
        }
        Ok(GossipClient {
            http: Http1::new(cfg.nodes.iter().map(|n| n.addr.clone()).collect()),
            nodes: cfg.nodes.clone(),
            home: cfg.home,
            op_timeout: cfg.op_timeout,
        })
    }

    pub fn home_name(&self) -> &str {
        &self.nodes[self.home].name
    }

    /// Post `body` at the home node: `Ok(body)` once the node stored it.
    pub async fn post(&self, body: &str) -> Completion {
        let payload = json!({ "body": body }).to_string();
        let req = Request {
            method: "POST",
            path: "/broadcast",
            headers: &[("Content-Type", "application/json")],
            body: payload.as_bytes(),
        };
        let reply =
            match tokio::time::timeout(self.op_timeout, self.http.send(self.home, req)).await {
                Err(_) => return Completion::Info("timeout".into()),
                Ok(Err(HttpError::NotSent(e))) => return Completion::Fail(e),
                Ok(Err(HttpError::Lost(e))) => return Completion::Info(e),
                Ok(Ok(r)) => r,
            };
        post_outcome(reply.status, &reply.body, body)
    }

    /// The home node's delivered messages: `[[body, received_at_unix_ms], ...]`.
    pub async fn read_set(&self) -> Completion {
        let req = Request {
            method: "GET",
            path: "/messages",
            headers: &[],
            body: &[],
        };
        let reply =
            match tokio::time::timeout(self.op_timeout, self.http.send(self.home, req)).await {
                Err(_) => return Completion::Fail("timeout".into()),
                Ok(Err(HttpError::NotSent(e) | HttpError::Lost(e))) => return Completion::Fail(e),
                Ok(Ok(r)) => r,
            };
        if reply.status != 200 {
            return Completion::Fail(format!("GET /messages answered {}", reply.status));
        }
        match serde_json::from_slice::<Value>(&reply.body) {
            Ok(v) => parse_messages(&v),
            Err(e) => Completion::Fail(format!("GET /messages: not JSON: {e}")),
        }
    }
}

/// What a `POST /broadcast` answer means for the post of `body`.
fn post_outcome(status: u16, reply: &[u8], body: &str) -> Completion {
    let text = String::from_utf8_lossy(reply);
    match status {
        200 => Completion::Ok(json!(body)),
        400 | 413 => Completion::Fail(format!("POST /broadcast answered {status}: {text}")),
        _ => Completion::Info(format!("POST /broadcast answered {status}: {text}")),
    }
}

/// `{"messages": [{"body", "received_at_unix_ms", ...}]}` as `[[body, ms], ...]`.
fn parse_messages(v: &Value) -> Completion {
    let Some(items) = v.get("messages").and_then(Value::as_array) else {
        return Completion::Fail(format!("GET /messages: no `messages` list in {v}"));
    };
    let mut out = Vec::with_capacity(items.len());
    for m in items {
        match (m.get("body"), m.get("received_at_unix_ms")) {
            (Some(Value::String(b)), Some(at)) if at.is_u64() => out.push(json!([b, at])),
            _ => return Completion::Fail(format!("GET /messages: bad entry {m}")),
        }
    }
    Completion::Ok(Value::Array(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_classified_by_status() {
        assert_eq!(
            post_outcome(200, br#"{"origin":1,"seq":2}"#, "m"),
            Completion::Ok(json!("m"))
        );
        assert!(matches!(post_outcome(413, b"", "m"), Completion::Fail(_)));
        assert!(matches!(post_outcome(500, b"", "m"), Completion::Info(_)));
    }

    #[test]
    fn a_message_list_becomes_body_time_pairs_and_a_bad_entry_fails() {
        let v = json!({"id": 3, "messages": [
            {"origin": 1, "seq": 1, "body": "a", "received_at_unix_ms": 17},
            {"origin": 2, "seq": 1, "body": "b", "received_at_unix_ms": 19}
        ]});
        assert_eq!(
            parse_messages(&v),
            Completion::Ok(json!([["a", 17], ["b", 19]]))
        );
        let bad = json!({"messages": [{"body": "a"}]});
        assert!(matches!(parse_messages(&bad), Completion::Fail(_)));
        assert!(matches!(parse_messages(&json!([])), Completion::Fail(_)));
    }
}
