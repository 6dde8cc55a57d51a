//! The protected resource of the fencing workload: a small HTTP store the harness runs on
//! loopback for the run's lock clients. It keeps every write it answered (resource, token,
//! writer, accepted or not, in order) and, in fencing mode (`--fencing on`, the default),
//! rejects a token lower than the highest it has accepted for that resource, as Kleppmann's
//! fenced storage does. The log is written to the run's `resource.jsonl`.
//!
//! `POST /write` `{"resource":R,"token":T,"writer":W}` → 200 `{"accepted":bool,"seq":S,
//! "highest":H}`; `GET /writes` → every write so far. The store itself ([`FenceStore`]) is
//! pure; the server is its I/O edge.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// One write the store answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Record {
    pub seq: u64,
    pub resource: String,
    pub token: u64,
    pub writer: String,
    pub accepted: bool,
    /// The highest accepted token of the resource after this write.
    pub highest: u64,
}

/// The store: highest accepted token per resource and every write.
#[derive(Debug, Default)]
pub struct FenceStore {
    fencing: bool,
    highest: BTreeMap<String, u64>,
    log: Vec<Record>,
}

impl FenceStore {
    pub fn new(fencing: bool) -> FenceStore {
        FenceStore {
            fencing,
            ..FenceStore::default()
        }
    }

    /// Takes (or, fencing, refuses) one write.
    pub fn write(&mut self, resource: &str, token: u64, writer: &str) -> Record {
        let highest = self.highest.get(resource).copied();
        let accepted = !self.fencing || highest.is_none_or(|h| token >= h);
        let now = if accepted {
            let h = highest.map_or(token, |h| h.max(token));
            self.highest.insert(resource.to_string(), h);
            h
        } else {
            highest.unwrap_or(0)
        };
        let rec = Record {
            seq: self.log.len() as u64 + 1,
            resource: resource.to_string(),
            token,
            writer: writer.to_string(),
            accepted,
            highest: now,
        };
        self.log.push(rec.clone());
        rec
    }

    pub fn log(&self) -> &[Record] {
        &self.log
    }
}

#[derive(Debug, Deserialize)]
struct WriteBody {
    resource: String,
    token: u64,
    writer: String,
}

type Shared = Arc<Mutex<FenceStore>>;

async fn write(State(store): State<Shared>, Json(b): Json<WriteBody>) -> Json<Value> {
    let rec =
        store
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .write(&b.resource, b.token, &b.writer);
    Json(json!({"accepted": rec.accepted, "seq": rec.seq, "highest": rec.highest}))
}

async fn writes(State(store): State<Shared>) -> Json<Value> {
    let s = store.lock().unwrap_or_else(|p| p.into_inner());
    Json(serde_json::to_value(s.log()).unwrap_or(Value::Null))
}

/// The running store.
pub struct ResourceServer {
    pub addr: SocketAddr,
    pub fencing: bool,
    store: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl ResourceServer {
    /// Starts the store on `127.0.0.1` (a free port).
    pub async fn start(fencing: bool) -> std::io::Result<ResourceServer> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let store: Shared = Arc::new(Mutex::new(FenceStore::new(fencing)));
        let app = Router::new()
            .route("/write", post(write))
            .route("/writes", get(writes))
            .with_state(store.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(ResourceServer {
            addr,
            fencing,
            store,
            task,
        })
    }

    /// Stops serving and writes the log, one JSON record per line, to `path`.
    pub fn stop(self, path: &Path) -> std::io::Result<usize> {
        self.task.abort();
        let s = self.store.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        for r in s.log() {
            out.push_str(&serde_json::to_string(r).unwrap_or_default());
            out.push('\n');
        }
        std::fs::write(path, out)?;
        Ok(s.log().len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fencing_rejects_lower_tokens_and_keeps_every_write() {
        let mut s = FenceStore::new(true);
        assert!(s.write("/l0", 5, "w1").accepted);
        assert!(s.write("/l0", 9, "w2").accepted);
        let stale = s.write("/l0", 5, "w1");
        assert!(!stale.accepted);
        assert_eq!(stale.highest, 9);
        assert!(s.write("/l1", 3, "w3").accepted, "per resource");
        assert!(s.write("/l0", 9, "w2").accepted, "equal is fine");
        assert_eq!(s.log().len(), 5);
        assert_eq!(
            s.log().iter().map(|r| r.seq).collect::<Vec<_>>(),
            [1, 2, 3, 4, 5]
        );
    }

    #[test]
    fn without_fencing_every_write_lands() {
        let mut s = FenceStore::new(false);
        s.write("/l0", 9, "w2");
        let stale = s.write("/l0", 5, "w1");
        assert!(stale.accepted);
        assert_eq!(stale.highest, 9);
    }

    #[tokio::test]
    async fn the_server_answers_writes_and_lists_them() {
        let server = ResourceServer::start(true).await.unwrap();
        let c = workloads::clients::lock::ResourceClient::new(
            server.addr.to_string(),
            "w0".into(),
            std::time::Duration::from_secs(2),
        );
        let a = c.write("/l0", 7).await;
        assert!(a.is_ok());
        let b = c.write("/l0", 6).await.ok().unwrap();
        assert!(!b.accepted);
        assert_eq!((b.seq, b.highest), (2, 7));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("resource.jsonl");
        assert_eq!(server.stop(&path).unwrap(), 2);
        let text = std::fs::read_to_string(path).unwrap();
        assert_eq!(text.lines().count(), 2);
    }
}
