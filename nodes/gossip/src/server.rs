//! One `gossip-node` process: keys loaded and checked, the core behind a mutex, timers for
//! gossip and anti-entropy rounds, the HTTP API (`POST /broadcast`, `GET /messages`,
//! `GET /status`, `POST /admin/byzantine`, peer gossip on `POST /gossip`), the optional
//! message log, and the peer transport. The core's clock is Unix ms (the receive times it
//! records are what `/messages` reports); log lines go to stdout.

use crate::config::NodeConfig;
use crate::core::{BroadcastError, Byzantine, CoreConfig, GossipCore, Output};
use crate::crypto::{self, KeyError};
use crate::message::Wire;
use crate::persist::{MessageLog, PersistError, Record};
use crate::transport::Transport;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Largest HTTP request body accepted (a peer batch of full messages fits).
pub const MAX_REQUEST_BYTES: usize = 8 * 1024 * 1024;

/// Why a node could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A key file is missing or bad.
    #[error("{0} (generate keys with `gossip-node keygen --n N --out DIR`)")]
    Key(#[from] KeyError),
    /// The keys do not fit this node or its peers.
    #[error("{0}")]
    Keys(String),
    /// The data directory is unusable.
    #[error("{0}")]
    Persist(#[from] PersistError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address.
        addr: String,
        /// What failed.
        source: std::io::Error,
    },
    /// The peer HTTP client could not be built.
    #[error("cannot build the peer HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    /// Serving HTTP failed.
    #[error("HTTP server failed: {0}")]
    Serve(std::io::Error),
}

/// What the handlers and the timers share.
struct Node {
    id: u64,
    core: Mutex<GossipCore>,
    log: Option<Mutex<MessageLog>>,
    transport: Transport,
    peers: Vec<u64>,
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn print_lines(lines: &[String]) {
    if lines.is_empty() {
        return;
    }
    let mut stdout = std::io::stdout().lock();
    for line in lines {
        let _ = writeln!(stdout, "{line}");
    }
    let _ = stdout.flush();
}

impl Node {
    fn lock(&self) -> std::sync::MutexGuard<'_, GossipCore> {
        self.core.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Run `f` on the core at the current time; persist, log and send what it produced.
    fn with_core(&self, f: impl FnOnce(&mut GossipCore, u64) -> Output) {
        let out = f(&mut self.lock(), unix_ms());
        self.persist(&out.stored, false);
        print_lines(&out.log);
        for w in out.messages {
            self.transport.send(w);
        }
    }

    /// Append stored messages to the log (if any); errors are printed, not fatal.
    fn persist(&self, stored: &[(crate::message::ChatMessage, u64)], sync: bool) -> bool {
        let Some(log) = &self.log else {
            return true;
        };
        if stored.is_empty() {
            return true;
        }
        let records: Vec<Record> = stored
            .iter()
            .map(|(m, at)| Record {
                message: m.clone(),
                received_at_unix_ms: *at,
            })
            .collect();
        let res = log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .append(&records, sync);
        if let Err(e) = &res {
            eprintln!("Node {}: cannot persist messages: {e}", self.id);
        }
        res.is_ok()
    }
}

/// Load and check the keys: the secret key must match this node's public key, and every
/// peer must have a public key.
fn load_keys(cfg: &NodeConfig) -> Result<GossipCoreParts, ServerError> {
    let key = crypto::read_secret(&cfg.key)?;
    let public = crypto::read_public(&cfg.public)?;
    match public.get(&cfg.id) {
        Some(pk) if *pk == key.verifying_key() => {}
        Some(_) => {
            return Err(ServerError::Keys(format!(
                "{} is not the secret key of node {} in {}",
                cfg.key.display(),
                cfg.id,
                cfg.public.display()
            )))
        }
        None => {
            return Err(ServerError::Keys(format!(
                "{} has no public key for node {}",
                cfg.public.display(),
                cfg.id
            )))
        }
    }
    if let Some(p) = cfg.peers.keys().find(|p| !public.contains_key(p)) {
        return Err(ServerError::Keys(format!(
            "{} has no public key for peer {p}",
            cfg.public.display()
        )));
    }
    Ok((key, public))
}

type GossipCoreParts = (
    ed25519_dalek::SigningKey,
    std::collections::BTreeMap<u64, ed25519_dalek::VerifyingKey>,
);

fn build_core(cfg: &NodeConfig) -> Result<(GossipCore, Option<MessageLog>), ServerError> {
    let (key, public) = load_keys(cfg)?;
    let seed = cfg
        .seed
        .unwrap_or_else(|| unix_ms() ^ (cfg.id << 48) ^ u64::from(std::process::id()));
    let core_cfg = CoreConfig {
        id: cfg.id,
        peers: cfg.peers.keys().copied().collect(),
        fanout: cfg.fanout,
        push_rounds: cfg.push_rounds,
        max_batch: cfg.max_batch,
        max_body_bytes: cfg.max_body_bytes,
        seed,
    };
    let mut core = GossipCore::new(core_cfg, key, public);
    core.set_byzantine(cfg.byzantine);
    let Some(dir) = &cfg.data_dir else {
        return Ok((core, None));
    };
    let (log, records) = MessageLog::open(dir)?;
    let total = records.len();
    let kept = records
        .into_iter()
        .filter(|r| core.restore(r.message.clone(), r.received_at_unix_ms))
        .count();
    if kept < total {
        eprintln!(
            "Node {}: {} stored messages failed their signature check and were skipped",
            cfg.id,
            total - kept
        );
    }
    Ok((core, Some(log)))
}

/// Run a node until serving fails.
pub async fn serve(cfg: NodeConfig) -> Result<(), ServerError> {
    let (core, log) = build_core(&cfg)?;
    let restored = core.store().len();
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|source| ServerError::Bind {
            addr: cfg.listen.to_string(),
            source,
        })?;
    let addr = listener.local_addr().map_err(ServerError::Serve)?;
    let transport = Transport::spawn(&cfg.peers, Duration::from_millis(cfg.send_timeout_ms))?;
    let node = Arc::new(Node {
        id: cfg.id,
        core: Mutex::new(core),
        log: log.map(Mutex::new),
        transport,
        peers: cfg.peers.keys().copied().collect(),
    });
    println!("listening on {addr}");
    println!(
        "Node {}: starting (peers {:?}, fanout {}, gossip every {} ms, anti-entropy every {} ms, {restored} messages restored)",
        cfg.id, node.peers, cfg.fanout, cfg.gossip_ms, cfg.anti_entropy_ms
    );
    eprintln!("listening on {addr}");
    let _ = std::io::stdout().flush();
    tokio::spawn(every(node.clone(), cfg.gossip_ms, |c, now| {
        c.gossip_round(now)
    }));
    tokio::spawn(every(node.clone(), cfg.anti_entropy_ms, |c, now| {
        c.anti_entropy_round(now)
    }));
    axum::serve(listener, router(node))
        .await
        .map_err(ServerError::Serve)
}

async fn every(node: Arc<Node>, ms: u64, round: fn(&mut GossipCore, u64) -> Output) {
    let mut iv = tokio::time::interval(Duration::from_millis(ms));
    iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        iv.tick().await;
        node.with_core(round);
    }
}

fn router(node: Arc<Node>) -> Router {
    Router::new()
        .route("/broadcast", post(broadcast))
        .route("/messages", get(messages))
        .route("/status", get(status))
        .route("/admin/byzantine", post(byzantine))
        .route("/gossip", post(gossip))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        .with_state(node)
}

fn error(status: StatusCode, kind: &str, message: String) -> Response {
    (status, Json(json!({"error": kind, "message": message}))).into_response()
}

#[derive(serde::Deserialize)]
struct BroadcastRequest {
    body: String,
}

/// A JSON request body, whatever its Content-Type (so `curl -d` works as typed).
fn parse_json<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| e.to_string())
}

async fn broadcast(State(node): State<Arc<Node>>, body: Bytes) -> Response {
    let req: BroadcastRequest = match parse_json(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("expected {{\"body\": \"...\"}}: {e}"),
            )
        }
    };
    let now = unix_ms();
    let msg = match node.lock().broadcast(&req.body, now) {
        Ok(m) => m,
        Err(e @ BroadcastError::TooLarge { .. }) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                e.to_string(),
            )
        }
    };
    if !node.persist(&[(msg.clone(), now)], true) {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "storage",
            "stored in memory but not on disk".into(),
        );
    }
    Json(json!({"origin": msg.origin, "seq": msg.seq})).into_response()
}

async fn messages(State(node): State<Arc<Node>>) -> Json<Value> {
    let core = node.lock();
    let list: Vec<Value> = core
        .store()
        .delivered()
        .iter()
        .map(|d| {
            json!({
                "origin": d.message.origin,
                "seq": d.message.seq,
                "body": d.message.body,
                "received_at_unix_ms": d.received_at,
            })
        })
        .collect();
    Json(json!({"id": node.id, "messages": list}))
}

async fn status(State(node): State<Arc<Node>>) -> Json<Value> {
    let core = node.lock();
    let digest: serde_json::Map<String, Value> = core
        .store()
        .digest()
        .iter()
        .map(|(o, d)| (o.to_string(), json!(d.contiguous)))
        .collect();
    Json(json!({
        "id": node.id,
        "name": format!("node{}", node.id),
        "messages": core.store().len(),
        "peers": node.peers,
        "byzantine": core.byzantine(),
        "rejected": core.rejected(),
        "contiguous": digest,
    }))
}

#[derive(serde::Deserialize)]
struct ByzantineRequest {
    mode: Option<Byzantine>,
}

async fn byzantine(State(node): State<Arc<Node>>, body: Bytes) -> Response {
    let mode = match parse_json::<ByzantineRequest>(&body) {
        Ok(r) => r.mode,
        Err(e) => {
            let m = format!("expected {{\"mode\": \"forge\"|\"alter\"|\"drop\"|null}}: {e}");
            return error(StatusCode::BAD_REQUEST, "bad_request", m);
        }
    };
    node.lock().set_byzantine(mode);
    let what = mode.map_or("honest again".to_string(), |m| {
        format!("lying ({})", json!(m).as_str().unwrap_or("?"))
    });
    print_lines(&[format!(
        "Node {}: now {what} (POST /admin/byzantine)",
        node.id
    )]);
    Json(json!({"byzantine": mode})).into_response()
}

async fn gossip(State(node): State<Arc<Node>>, body: Bytes) -> Response {
    let batch: Vec<Wire> = match parse_json(&body) {
        Ok(b) => b,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("expected a JSON array of gossip messages: {e}"),
            )
        }
    };
    let me = node.id;
    if let Some(w) = batch.iter().find(|w| w.to != me) {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("gossip for node {} delivered to node {me}", w.to),
        );
    }
    if let Some(w) = batch.iter().find(|w| !node.peers.contains(&w.from)) {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!(
                "gossip from node {}, which is not a peer of node {me}",
                w.from
            ),
        );
    }
    for w in batch {
        node.with_core(|core, now| core.receive(w, now));
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, Json(json!({"error": "not_found"}))).into_response()
}
