//! The client of the Two Generals (`nodes/two-generals`, bin `general`): plays one round.
//! It asks general A (the first node) to start round R with K acknowledgements (`POST
//! /rounds/R/start`), waits for the round's deadline, then asks both generals what they
//! decided (`GET /rounds/R`). Only the generals talk to each other, over the node-to-node
//! link the harness makes lossy; the client talks to each general directly. K comes from
//! the system's sweep ([`AckSweep`]), by round number, so every K gets its share of rounds.

use super::http1::{Http1, HttpError, Request};
use super::{ClientConfig, ClientError, Endpoint};
use crate::Completion;
use serde_json::{json, Value};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The numbers of acknowledgements rounds are played with (each K in 0..=64), as a set
/// that is `Copy` (a bit per K).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckSweep(u128);

/// The largest K the generals accept.
pub const MAX_ACKS: u64 = 64;

impl AckSweep {
    /// The set of `acks`; an empty list or a K above [`MAX_ACKS`] is an error naming it.
    pub fn new(acks: &[u64]) -> Result<AckSweep, String> {
        let mut bits = 0u128;
        for &k in acks {
            if k > MAX_ACKS {
                return Err(format!("acks {k}: at most {MAX_ACKS}"));
            }
            bits |= 1 << k;
        }
        if bits == 0 {
            return Err("acks: give at least one number of acknowledgements".into());
        }
        Ok(AckSweep(bits))
    }

    /// Every K of the sweep, ascending.
    pub fn values(self) -> Vec<u64> {
        (0..=MAX_ACKS).filter(|k| self.0 & (1 << k) != 0).collect()
    }

    /// The K of round `round`: the sweep's values in turn.
    pub fn for_round(self, round: u64) -> u64 {
        let v = self.values();
        v[(round % v.len() as u64) as usize]
    }
}

/// How long after a round's deadline its decisions are read, and how often a `pending`
/// answer is asked again (at most [`READ_TRIES`] times).
const SETTLE: Duration = Duration::from_millis(30);
const READ_TRIES: u32 = 20;

/// A client of one pair of generals: A is node 0, B node 1.
#[derive(Debug)]
pub struct GeneralsClient {
    http: Http1,
    nodes: Vec<Endpoint>,
    op_timeout: Duration,
    sweep: AckSweep,
}

/// What one general said about a round.
struct Answer {
    decision: String,
    sent: u64,
    received: u64,
    acks: u64,
}

impl GeneralsClient {
    pub fn new(cfg: &ClientConfig, sweep: AckSweep) -> Result<GeneralsClient, ClientError> {
        if cfg.nodes.len() != 2 {
            return Err(ClientError::Config(format!(
                "the Two Generals are two nodes, got {}",
                cfg.nodes.len()
            )));
        }
        Ok(GeneralsClient {
            http: Http1::new(cfg.nodes.iter().map(|n| n.addr.clone()).collect()),
            nodes: cfg.nodes.clone(),
            op_timeout: cfg.op_timeout,
            sweep,
        })
    }

    /// General A's node: every round starts there, whatever the worker's home node.
    pub fn home_name(&self) -> &str {
        &self.nodes[0].name
    }

    /// Plays round `round` to its end: `Ok({round, acks, a, b, a_sent, ...})`; `Fail` if A
    /// refused or was not reached (the round never started); `Info` if the round may have
    /// started but its outcome could not be read.
    pub async fn round(&self, round: u64, time: &str) -> Completion {
        let acks = self.sweep.for_round(round);
        let body = json!({"time": time, "acks": acks}).to_string();
        let path = format!("/rounds/{round}/start");
        let deadline = match self.send(0, "POST", &path, body.as_bytes()).await {
            Ok((200, v)) => v.get("deadline_unix_ms").and_then(Value::as_u64),
            Ok((status, v)) if status < 500 => return Completion::Fail(error_of(status, &v)),
            Ok((status, v)) => return Completion::Info(error_of(status, &v)),
            Err(c) => return c,
        };
        let Some(deadline) = deadline else {
            return Completion::Info("start: no deadline_unix_ms in A's answer".into());
        };
        tokio::time::sleep(until_unix_ms(deadline) + SETTLE).await;
        let a = match self.decision(0, round).await {
            Ok(a) => a,
            Err(e) => return Completion::Info(format!("A: {e}")),
        };
        let b = match self.decision(1, round).await {
            Ok(b) => b,
            Err(e) => return Completion::Info(format!("B: {e}")),
        };
        Completion::Ok(json!({
            "round": round, "acks": acks, "time": time,
            "a_node": self.nodes[0].name, "b_node": self.nodes[1].name,
            "a": a.decision, "b": b.decision,
            "a_sent": a.sent, "b_sent": b.sent,
            "a_received": a.received, "b_received": b.received,
            "a_acks": a.acks, "b_acks": b.acks,
        }))
    }

    /// `GET /rounds/R` on `node` until the decision is final.
    async fn decision(&self, node: usize, round: u64) -> Result<Answer, String> {
        let path = format!("/rounds/{round}");
        for _ in 0..READ_TRIES {
            let v = match self.send(node, "GET", &path, b"").await {
                Ok((200, v)) => v,
                Ok((status, v)) => return Err(error_of(status, &v)),
                Err(c) => return Err(c.error().unwrap_or("no answer").to_string()),
            };
            let decision = v.get("decision").and_then(Value::as_str).unwrap_or("");
            if decision == "pending" {
                tokio::time::sleep(SETTLE).await;
                continue;
            }
            if decision != "attack" && decision != "hold" {
                return Err(format!("unexpected answer {v}"));
            }
            let n = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
            return Ok(Answer {
                decision: decision.to_string(),
                sent: n("messages_sent"),
                received: n("messengers_received"),
                acks: n("acks_received"),
            });
        }
        Err(format!("still pending after {READ_TRIES} reads"))
    }

    /// One exchange with `node` within the op timeout (as the election client's).
    async fn send(
        &self,
        node: usize,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<(u16, Value), Completion> {
        let headers: &[(&str, &str)] = if body.is_empty() {
            &[]
        } else {
            &[("Content-Type", "application/json")]
        };
        let req = Request {
            method,
            path,
            headers,
            body,
        };
        match tokio::time::timeout(self.op_timeout, self.http.send(node, req)).await {
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

/// How long until Unix time `ms` (zero if it has passed).
fn until_unix_ms(ms: u64) -> Duration {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Duration::from_millis(ms).saturating_sub(now)
}

fn error_of(status: u16, body: &Value) -> String {
    body.get("error")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("http {status}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sweep_gives_each_k_in_turn_and_refuses_bad_lists() {
        let s = AckSweep::new(&[3, 0, 1, 3]).unwrap();
        assert_eq!(s.values(), vec![0, 1, 3]);
        let ks: Vec<u64> = (0..6).map(|r| s.for_round(r)).collect();
        assert_eq!(ks, vec![0, 1, 3, 0, 1, 3]);
        assert_eq!(AckSweep::new(&[64]).unwrap().for_round(7), 64);
        assert!(AckSweep::new(&[65]).unwrap_err().contains("acks 65"));
        assert!(AckSweep::new(&[]).is_err());
    }

    #[test]
    fn a_client_needs_exactly_two_generals() {
        let ep = |i: u64| Endpoint {
            name: format!("n{i}"),
            id: i,
            addr: format!("127.0.0.1:{}", 9200 + i),
        };
        let cfg = |n: u64| ClientConfig {
            nodes: (1..=n).map(ep).collect(),
            home: 0,
            op_timeout: Duration::from_millis(100),
            max_redirects: 0,
            client_id: "c".into(),
        };
        let sweep = AckSweep::new(&[1]).unwrap();
        assert!(GeneralsClient::new(&cfg(2), sweep).is_ok());
        assert!(GeneralsClient::new(&cfg(3), sweep).is_err());
    }
}
