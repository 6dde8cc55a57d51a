//! Client of the pbft-chat HTTP protocol (nodes/pbft-chat/README.md), as the PBFT client
//! does it: a post goes to EVERY replica (`POST /request {"client","timestamp","message"}`)
//! and is accepted once f+1 distinct replicas (f = (n-1)/3) answered 200 with the same `seq`
//! and `result`; `GET /messages` reads one node's delivered log.
//!
//! Classification of a post: f+1 matching replies: `ok` (value: the message, with `seq`
//! kept in the error-free value of the read side); every replica refused the connection:
//! `fail`; anything else (timeouts, 504, too few matching replies): `info`, the request may
//! still be delivered. Reply signatures are not verified here (the client holds no public
//! keys); f+1 matching replies already include one honest replica as long as at most f lie.
//! A read's value is the list of message texts in delivery order; a read that did not
//! answer is `fail` (it changed nothing).

use super::http1::{Http1, HttpError, Request};
use super::{ClientConfig, ClientError, Endpoint};
use crate::Completion;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A client of one pbft-chat cluster; reads go to its home node.
#[derive(Debug)]
pub struct PbftClient {
    http: Arc<Http1>,
    nodes: Vec<Endpoint>,
    home: usize,
    op_timeout: Duration,
    client_id: String,
    timestamp: AtomicU64,
}

/// What one replica answered to a post.
enum Answer {
    /// 200 with a reply: (seq, result).
    Executed(u64, String),
    NotSent,
    Other,
}

impl PbftClient {
    pub fn new(cfg: &ClientConfig) -> Result<PbftClient, ClientError> {
        if cfg.nodes.is_empty() || cfg.home >= cfg.nodes.len() {
            return Err(ClientError::Config(
                "pbft client needs its home node in `nodes`".into(),
            ));
        }
        Ok(PbftClient {
            http: Arc::new(Http1::new(
                cfg.nodes.iter().map(|n| n.addr.clone()).collect(),
            )),
            nodes: cfg.nodes.clone(),
            home: cfg.home,
            op_timeout: cfg.op_timeout,
            client_id: cfg.client_id.clone(),
            timestamp: AtomicU64::new(0),
        })
    }

    pub fn home_name(&self) -> &str {
        &self.nodes[self.home].name
    }

    /// f+1: how many matching replies accept a request.
    fn quorum(&self) -> usize {
        (self.nodes.len().saturating_sub(1)) / 3 + 1
    }

    /// Post `message` to every replica; `Ok(message)` after f+1 matching replies.
    pub async fn post(&self, message: &str) -> Completion {
        let ts = self.timestamp.fetch_add(1, Ordering::Relaxed) + 1;
        let body =
            json!({"client": self.client_id, "timestamp": ts, "message": message}).to_string();
        let mut tasks = tokio::task::JoinSet::new();
        for node in 0..self.nodes.len() {
            let (http, body) = (self.http.clone(), body.clone());
            tasks.spawn(async move { send_request(&http, node, &body).await });
        }
        let quorum = self.quorum();
        let mut tally: HashMap<(u64, String), usize> = HashMap::new();
        let (mut not_sent, mut answered) = (0, 0);
        let deadline = tokio::time::sleep(self.op_timeout);
        tokio::pin!(deadline);
        while answered < self.nodes.len() {
            let next = tokio::select! {
                r = tasks.join_next() => r,
                _ = &mut deadline => return Completion::Info("timeout".into()),
            };
            let Some(joined) = next else { break };
            answered += 1;
            match joined.unwrap_or(Answer::Other) {
                Answer::Executed(seq, result) => {
                    let n = tally.entry((seq, result)).or_insert(0);
                    *n += 1;
                    if *n >= quorum {
                        return Completion::Ok(json!(message));
                    }
                }
                Answer::NotSent => not_sent += 1,
                Answer::Other => {}
            }
        }
        if not_sent == self.nodes.len() {
            Completion::Fail("no replica reachable".into())
        } else {
            Completion::Info(format!("fewer than {quorum} matching replies"))
        }
    }

    /// The home node's delivered log: the message texts in order.
    pub async fn read_log(&self) -> Completion {
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
            Ok(Value::Array(entries)) => parse_log(&entries),
            _ => Completion::Fail("GET /messages: not a JSON list".into()),
        }
    }
}

/// The message texts of `GET /messages` entries.
fn parse_log(entries: &[Value]) -> Completion {
    let mut log = Vec::with_capacity(entries.len());
    for e in entries {
        match e.get("message") {
            Some(m) => log.push(m.clone()),
            None => return Completion::Fail(format!("log entry without a message: {e}")),
        }
    }
    Completion::Ok(Value::Array(log))
}

async fn send_request(http: &Http1, node: usize, body: &str) -> Answer {
    let req = Request {
        method: "POST",
        path: "/request",
        headers: &[("Content-Type", "application/json")],
        body: body.as_bytes(),
    };
    match http.send(node, req).await {
        Err(HttpError::NotSent(_)) => Answer::NotSent,
        Err(HttpError::Lost(_)) => Answer::Other,
        Ok(r) if r.status == 200 => {
            let v: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
            match (v["seq"].as_u64(), v["result"].as_str()) {
                (Some(seq), Some(result)) => Answer::Executed(seq, result.to_string()),
                _ => Answer::Other,
            }
        }
        Ok(_) => Answer::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_becomes_its_message_texts_and_a_bad_entry_fails() {
        let entries = vec![
            json!({"seq":1,"client":"a","message":"x"}),
            json!({"seq":3,"message":"y"}),
        ];
        assert_eq!(parse_log(&entries), Completion::Ok(json!(["x", "y"])));
        assert!(matches!(
            parse_log(&[json!({"seq":1})]),
            Completion::Fail(_)
        ));
    }

    #[test]
    fn the_quorum_is_f_plus_one() {
        let cfg = |n: u64| ClientConfig {
            nodes: (1..=n)
                .map(|id| Endpoint {
                    name: format!("n{id}"),
                    id,
                    addr: format!("127.0.0.1:{}", 9000 + id),
                })
                .collect(),
            home: 0,
            op_timeout: Duration::from_secs(1),
            max_redirects: 0,
            client_id: "c".into(),
        };
        assert_eq!(PbftClient::new(&cfg(4)).unwrap().quorum(), 2);
        assert_eq!(PbftClient::new(&cfg(7)).unwrap().quorum(), 3);
        assert_eq!(PbftClient::new(&cfg(1)).unwrap().quorum(), 1);
    }
}
