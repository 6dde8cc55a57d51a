//! A trivial in-memory node speaking the raft-kv client protocol (`GET/PUT/DELETE /key/{k}`,
//! `POST /key/{k}/cas`, `GET /status`), with keep-alive HTTP/1.1: the benchmark target for
//! "how many operations per second can the harness drive and record" (run it as a
//! one-node cluster: `harness test --nodes 1 --node-bin target/release/examples/mem_node`).
//! It takes raft-node's command line (`--id N --listen ADDR`, other flags ignored) and
//! always says it is the leader. Not a replicated system: with more than one node each node
//! has its own state.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Clone)]
struct Node {
    id: u64,
    kv: Arc<Mutex<HashMap<String, String>>>,
}

type Reply = (StatusCode, Json<Value>);

async fn status(State(n): State<Node>) -> Json<Value> {
    Json(
        json!({"id": n.id, "name": format!("node{}", n.id), "role": "leader", "term": 1,
        "leader": format!("node{}", n.id), "leader_id": n.id}),
    )
}

async fn read(State(n): State<Node>, Path(k): Path<String>) -> Reply {
    match n.kv.lock().unwrap_or_else(|p| p.into_inner()).get(&k) {
        Some(v) => (StatusCode::OK, Json(json!({"value": v}))),
        None => (StatusCode::NOT_FOUND, Json(json!({"error": "not_found"}))),
    }
}

async fn write(State(n): State<Node>, Path(k): Path<String>, body: String) -> Reply {
    n.kv.lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(k, body);
    (
        StatusCode::OK,
        Json(json!({"status": "committed", "term": 1, "index": 1})),
    )
}

async fn delete(State(n): State<Node>, Path(k): Path<String>) -> Reply {
    n.kv.lock().unwrap_or_else(|p| p.into_inner()).remove(&k);
    (
        StatusCode::OK,
        Json(json!({"status": "committed", "term": 1, "index": 1})),
    )
}

async fn cas(State(n): State<Node>, Path(k): Path<String>, Json(b): Json<Value>) -> Reply {
    let (Some(to), from) = (
        b.get("to").and_then(Value::as_str),
        b.get("from").and_then(Value::as_str),
    ) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "bad_request", "message": "need to"})),
        );
    };
    let mut kv = n.kv.lock().unwrap_or_else(|p| p.into_inner());
    let cur = kv.get(&k).cloned();
    if cur.as_deref() == from {
        kv.insert(k, to.to_string());
        (
            StatusCode::OK,
            Json(json!({"applied": true, "term": 1, "index": 1})),
        )
    } else {
        (
            StatusCode::OK,
            Json(json!({"applied": false, "value": cur})),
        )
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let id = arg("--id").and_then(|s| s.parse().ok()).unwrap_or(1);
    let listen = arg("--listen").unwrap_or_else(|| format!("127.0.0.1:{}", 8000 + id));
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mem_node: runtime: {e}");
            std::process::exit(1);
        }
    };
    rt.block_on(async move {
        let node = Node {
            id,
            kv: Arc::new(Mutex::new(HashMap::new())),
        };
        let app = Router::new()
            .route("/status", get(status))
            .route("/key/{k}", get(read).put(write).delete(delete))
            .route("/key/{k}/cas", post(cas))
            .with_state(node);
        let l = match tokio::net::TcpListener::bind(&listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("mem_node: bind {listen}: {e}");
                std::process::exit(1);
            }
        };
        eprintln!("listening on {listen}");
        if let Err(e) = axum::serve(l, app).await {
            eprintln!("mem_node: {e}");
        }
    });
}
