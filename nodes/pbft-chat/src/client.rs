//! The client side of the protocol (used by the `chat` binary and the tests): send a
//! request to every replica at once, check each signed reply, and accept once f+1 distinct
//! replicas agree on (seq, result); read a replica's delivered log and status.

use crate::crypto::{Ed25519Verifier, Verifier};
use crate::message::SignedReply;
use crate::types::{Entry, ReplicaId, Request};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tokio::sync::mpsc;

/// Why a request was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Fewer than f+1 matching valid replies arrived.
    #[error("no f+1 = {need} matching replies: {detail}")]
    NoQuorum {
        /// f+1.
        need: usize,
        /// What each replica answered.
        detail: String,
    },
    /// A read failed.
    #[error("{node}: {reason}")]
    Node {
        /// Address.
        node: String,
        /// What failed.
        reason: String,
    },
}

/// A request the replicas ordered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// Its sequence number.
    pub seq: u64,
    /// The replicas whose matching signed replies made it accepted.
    pub replicas: Vec<ReplicaId>,
}

/// Talks to all replicas.
#[derive(Clone)]
pub struct ChatClient {
    nodes: Vec<String>,
    verifier: Option<Ed25519Verifier>,
    http: reqwest::Client,
    f: usize,
    timeout: Duration,
}

/// Pause between retransmissions of a request.
const RETRY_PAUSE: Duration = Duration::from_millis(100);
/// Longest single HTTP exchange (a replica answers 504 after its own request timeout).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

impl ChatClient {
    /// A client of the replicas at `nodes` (host:port, replica i+1 at index i); replies are
    /// verified with `verifier` when given; `timeout` bounds a whole `post`.
    pub fn new(
        nodes: Vec<String>,
        verifier: Option<Ed25519Verifier>,
        timeout: Duration,
    ) -> ChatClient {
        let http = reqwest::Client::builder()
            .timeout(timeout.min(ATTEMPT_TIMEOUT))
            .connect_timeout(Duration::from_millis(500))
            .build()
            .unwrap_or_default();
        let f = nodes.len().saturating_sub(1) / 3;
        ChatClient {
            nodes,
            verifier,
            http,
            f,
            timeout,
        }
    }

    /// f.
    pub fn f(&self) -> usize {
        self.f
    }

    /// The replica addresses.
    pub fn nodes(&self) -> &[String] {
        &self.nodes
    }

    /// Post one chat message; Ok once f+1 replicas agree. The request goes to every
    /// replica; replicas that time out (504) or fail get it again (same timestamp) until
    /// the client's timeout, as a PBFT client retransmits.
    pub async fn post(&self, request: &Request) -> Result<Accepted, ClientError> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        let mut by_seq: BTreeMap<(u64, String), BTreeSet<ReplicaId>> = BTreeMap::new();
        let mut detail = Vec::new();
        loop {
            detail.clear();
            if let Some(ok) = self
                .attempt(request, &mut by_seq, &mut detail, deadline)
                .await
            {
                return Ok(ok);
            }
            if tokio::time::Instant::now() + RETRY_PAUSE >= deadline {
                return Err(ClientError::NoQuorum {
                    need: self.f + 1,
                    detail: detail.join("; "),
                });
            }
            tokio::time::sleep(RETRY_PAUSE).await;
        }
    }

    /// Send once to every replica; Some when f+1 matching replies are in.
    async fn attempt(
        &self,
        request: &Request,
        by_seq: &mut BTreeMap<(u64, String), BTreeSet<ReplicaId>>,
        detail: &mut Vec<String>,
        deadline: tokio::time::Instant,
    ) -> Option<Accepted> {
        let (tx, mut rx) = mpsc::channel(self.nodes.len());
        for node in &self.nodes {
            let (http, url, req, tx) = (
                self.http.clone(),
                format!("http://{node}/request"),
                request.clone(),
                tx.clone(),
            );
            let node = node.clone();
            tokio::spawn(async move {
                let answer = send_one(&http, &url, &req).await;
                let _ = tx.send((node, answer)).await;
            });
        }
        drop(tx);
        while let Ok(Some((node, answer))) = tokio::time::timeout_at(deadline, rx.recv()).await {
            match answer.and_then(|r| self.check(request, r)) {
                Ok(reply) => {
                    let key = (reply.reply.seq, reply.reply.result.clone());
                    let who = by_seq.entry(key).or_default();
                    who.insert(reply.reply.replica);
                    if who.len() > self.f {
                        return Some(Accepted {
                            seq: reply.reply.seq,
                            replicas: who.iter().copied().collect(),
                        });
                    }
                    detail.push(format!("{node}: seq {}", reply.reply.seq));
                }
                Err(e) => detail.push(format!("{node}: {e}")),
            }
        }
        None
    }

    fn check(&self, request: &Request, r: SignedReply) -> Result<SignedReply, String> {
        if r.reply.client != request.client || r.reply.timestamp != request.timestamp {
            return Err("reply for another request".into());
        }
        if let Some(v) = &self.verifier {
            if !r.verify(v as &dyn Verifier) {
                return Err(format!("bad signature on node {}'s reply", r.reply.replica));
            }
        }
        Ok(r)
    }

    /// A replica's delivered log.
    pub async fn read(&self, node: &str) -> Result<Vec<Entry>, ClientError> {
        self.get_json(node, "/messages").await
    }

    /// A replica's status.
    pub async fn status(&self, node: &str) -> Result<serde_json::Value, ClientError> {
        self.get_json(node, "/status").await
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        node: &str,
        path: &str,
    ) -> Result<T, ClientError> {
        let err = |reason: String| ClientError::Node {
            node: node.to_string(),
            reason,
        };
        let r = self
            .http
            .get(format!("http://{node}{path}"))
            .send()
            .await
            .map_err(|e| err(e.to_string()))?;
        if !r.status().is_success() {
            return Err(err(format!("answered {}", r.status())));
        }
        r.json().await.map_err(|e| err(format!("bad JSON: {e}")))
    }
}

async fn send_one(http: &reqwest::Client, url: &str, req: &Request) -> Result<SignedReply, String> {
    let r = http
        .post(url)
        .json(req)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = r.status();
    let body = r.text().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("{status}: {body}"));
    }
    serde_json::from_str(&body).map_err(|e| format!("bad reply {body:?}: {e}"))
}
