//! One `bully-node` process: the core behind a mutex, a timer task that ticks it, the HTTP
//! API (`GET /status`, `POST /act`, peer messages on `POST /bully/messages`) and the peer
//! transport. The clock is the process's monotonic clock in milliseconds since start; log
//! lines of the core go to stdout.

use crate::config::NodeConfig;
use crate::core::{Bully, CoreConfig, Output};
use crate::message::Message;
use crate::transport::Transport;
use axum::extract::{rejection::JsonRejection, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Why a node could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address.
        addr: String,
        /// What failed (e.g. address in use).
        source: std::io::Error,
    },
    /// The peer HTTP client could not be built.
    #[error("cannot build the peer HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    /// Serving HTTP failed.
    #[error("HTTP server failed: {0}")]
    Serve(std::io::Error),
}

/// What the handlers and the timer share.
struct Node {
    core: Mutex<Bully>,
    start: Instant,
    transport: Transport,
    peers: BTreeMap<u64, String>,
    listen: String,
    quorum: bool,
    nodes: Vec<u64>,
}

impl Node {
    fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Run `f` on the core at the current time and emit what it produced.
    fn with_core(&self, f: impl FnOnce(&mut Bully, u64) -> Output) {
        let out = {
            let mut core = self.core.lock().unwrap_or_else(|p| p.into_inner());
            let now = self.now();
            f(&mut core, now)
        };
        if !out.log.is_empty() {
            let mut stdout = std::io::stdout().lock();
            for line in &out.log {
                let _ = writeln!(stdout, "{line}");
            }
            let _ = stdout.flush();
        }
        for m in out.messages {
            self.transport.send(m);
        }
    }

    fn addr_of(&self, id: u64) -> Option<String> {
        self.peers.get(&id).cloned().or_else(|| {
            (id == self.core.lock().unwrap_or_else(|p| p.into_inner()).id())
                .then(|| self.listen.clone())
        })
    }
}

/// Run a node until serving fails.
pub async fn serve(cfg: NodeConfig) -> Result<(), ServerError> {
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|source| ServerError::Bind {
            addr: cfg.listen.to_string(),
            source,
        })?;
    let addr = listener.local_addr().map_err(ServerError::Serve)?;
    let transport = Transport::spawn(&cfg.peers, Duration::from_millis(cfg.send_timeout_ms))?;
    let mut nodes: Vec<u64> = cfg.peers.keys().copied().collect();
    nodes.push(cfg.id);
    nodes.sort_unstable();
    let core_cfg = CoreConfig {
        id: cfg.id,
        nodes: nodes.clone(),
        quorum: cfg.quorum,
        timing: cfg.timing,
    };
    let node = Arc::new(Node {
        core: Mutex::new(Bully::new(core_cfg, 0)),
        start: Instant::now(),
        transport,
        peers: cfg.peers.clone(),
        listen: addr.to_string(),
        quorum: cfg.quorum,
        nodes: nodes.clone(),
    });
    let mode = if cfg.quorum { "quorum" } else { "classic" };
    println!("listening on {addr}");
    println!("Node {}: starting ({mode} bully, nodes {nodes:?})", cfg.id);
    eprintln!("listening on {addr}");
    let _ = std::io::stdout().flush();
    tokio::spawn(timer(node.clone(), Duration::from_millis(cfg.tick_ms)));
    axum::serve(listener, router(node))
        .await
        .map_err(ServerError::Serve)
}

async fn timer(node: Arc<Node>, every: Duration) {
    let mut iv = tokio::time::interval(every);
    iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        iv.tick().await;
        node.with_core(|core, now| core.tick(now));
    }
}

fn router(node: Arc<Node>) -> Router {
    Router::new()
        .route("/status", get(status))
        .route("/act", post(act))
        .route("/bully/messages", post(messages))
        .fallback(not_found)
        .with_state(node)
}

/// Unix time in milliseconds (for `acted_at_unix_ms`; the core never sees it).
fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn name(id: u64) -> String {
    format!("node{id}")
}

async fn status(State(node): State<Arc<Node>>) -> Json<Value> {
    let (id, view) = {
        let core = node.core.lock().unwrap_or_else(|p| p.into_inner());
        (core.id(), core.view(node.now()))
    };
    Json(json!({
        "id": id,
        "name": name(id),
        "role": view.role,
        "leader": view.leader.map(name),
        "leader_id": view.leader,
        "epoch": view.epoch,
        "term": view.epoch,
        "coordinator": view.coordinator,
        "acting": view.acting,
        "quorum": node.quorum,
        "lease_acks": view.lease_acks,
        "nodes": node.nodes,
    }))
}

async fn act(State(node): State<Arc<Node>>) -> Response {
    let (id, acting, epoch, leader, acted_at) = {
        let core = node.core.lock().unwrap_or_else(|p| p.into_inner());
        let now = node.now();
        let acted_at = unix_ms();
        let view = core.view(now);
        (
            core.id(),
            core.acting(now),
            core.leadership_epoch(),
            view.leader,
            acted_at,
        )
    };
    match (acting, epoch) {
        (true, Some(epoch)) => Json(json!({
            "leader_id": id,
            "leader": name(id),
            "epoch": epoch,
            "acted_at_unix_ms": acted_at,
        }))
        .into_response(),
        _ => {
            let other = leader.filter(|&l| l != id);
            let body = json!({
                "error": "not_leader",
                "leader_id": other,
                "leader": other.map(name),
                "leader_addr": other.and_then(|l| node.addr_of(l)),
            });
            (StatusCode::MISDIRECTED_REQUEST, Json(body)).into_response()
        }
    }
}

async fn messages(
    State(node): State<Arc<Node>>,
    body: Result<Json<Vec<Message>>, JsonRejection>,
) -> Response {
    let Json(batch) = match body {
        Ok(b) => b,
        Err(e) => return bad_request(format!("expected a JSON array of messages: {e}")),
    };
    let me = node.core.lock().unwrap_or_else(|p| p.into_inner()).id();
    if let Some(m) = batch.iter().find(|m| m.to != me) {
        return bad_request(format!("message for node {} delivered to node {me}", m.to));
    }
    if let Some(m) = batch
        .iter()
        .find(|m| !node.nodes.contains(&m.from) || m.from == me)
    {
        return bad_request(format!(
            "message from node {}, which is not a peer of node {me}",
            m.from
        ));
    }
    for m in batch {
        node.with_core(|core, now| core.receive(now, m));
    }
    StatusCode::NO_CONTENT.into_response()
}

fn bad_request(message: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": "bad_request", "message": message})),
    )
        .into_response()
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, Json(json!({"error": "not_found"}))).into_response()
}
