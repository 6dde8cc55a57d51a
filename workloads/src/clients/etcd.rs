//! The register workload's client for etcd (v3 API through its JSON gateway over plain HTTP):
//! request shapes (base64 keys and values, integers as decimal strings), the compare-and-set
//! transaction (a value compare, or `create_revision == 0` for "key absent" = the register's
//! initial nil), and the classification of every outcome into ok / fail / info.
//!
//! Classification (see `/work/shared/notes/etcd-3.4.md` for the observed behaviours):
//! - `fail` (definitely did not happen): connection refused or any error before the request
//!   was sent, HTTP 400 (invalid argument), "etcdserver: no leader" (the
//!   `Grpc-Metadata-hasleader` interceptor refuses before the request is processed), a failed
//!   compare (HTTP 200 without `"succeeded":true`), and any error of a read (a read has no
//!   effect, so an unanswered read may always be dropped, as Jepsen's clients do).
//! - `info` (may or may not have happened): timeouts, connections reset or closed after the
//!   request was sent, 5xx ("request timed out", "leader changed", "context deadline
//!   exceeded", ...), and any response body this client cannot understand.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};

use super::{ClientConfig, ClientError, CAS_MISMATCH};
use crate::Completion;

/// A client of one etcd member (the config's home node), speaking the v3 JSON gateway.
/// etcd members forward requests to their leader themselves, so there are no redirects.
#[derive(Debug, Clone)]
pub struct EtcdClient {
    http: reqwest::Client,
    base: String,
    home_name: String,
    serializable_reads: bool,
}

/// What the wire said, before it becomes a [`Completion`].
#[derive(Debug)]
enum Wire {
    /// An HTTP response: status and body text.
    Reply(u16, String),
    /// No request bytes reached the server (connection refused, DNS, connect timeout).
    NotSent(String),
    /// The request may have reached the server, but no complete answer came back.
    Lost(String),
}

impl EtcdClient {
    /// A client of `cfg.nodes[cfg.home]`, whose `addr` is the member's client URL host:port.
    /// Reads are linearizable unless [`EtcdClient::set_serializable_reads`] is called.
    pub fn new(cfg: &ClientConfig) -> Result<Self, ClientError> {
        let home = cfg.nodes.get(cfg.home).ok_or_else(|| {
            ClientError::Config(format!(
                "home node index {} out of range ({} nodes)",
                cfg.home,
                cfg.nodes.len()
            ))
        })?;
        let http = reqwest::Client::builder()
            .timeout(cfg.op_timeout)
            .connect_timeout(cfg.op_timeout.min(Duration::from_secs(1)))
            .pool_max_idle_per_host(4)
            .build()
            .map_err(|e| ClientError::Config(format!("etcd HTTP client for {}: {e}", home.addr)))?;
        Ok(EtcdClient {
            http,
            base: format!("http://{}", home.addr),
            home_name: home.name.clone(),
            serializable_reads: false,
        })
    }

    /// Serve reads from the member's local state (`"serializable": true`), which is NOT
    /// linearizable (`--db-opt serializable-reads=true`).
    pub fn set_serializable_reads(&mut self, on: bool) {
        self.serializable_reads = on;
    }

    /// Whether reads are serializable (see [`EtcdClient::set_serializable_reads`]).
    pub fn serializable_reads(&self) -> bool {
        self.serializable_reads
    }

    /// The harness name of the member this client talks to.
    pub fn home_name(&self) -> &str {
        &self.home_name
    }

    /// Reads `key`: `Ok(string)`, or `Ok(null)` when the key does not exist yet.
    pub async fn read(&self, key: &str) -> Completion {
        let wire = self
            .post("/v3/kv/range", range_body(key, self.serializable_reads))
            .await;
        classify_read(wire)
    }

    /// Writes `value` to `key`: `Ok(null)`.
    pub async fn write(&self, key: &str, value: &str) -> Completion {
        let wire = self.post("/v3/kv/put", put_body(key, value)).await;
        classify_write(wire)
    }

    /// Sets `key` to `to` if it currently holds `from` (`None` = the key does not exist):
    /// `Ok(null)` if it applied, `Fail("cas-mismatch")` if the compare did not hold.
    pub async fn cas(&self, key: &str, from: Option<&str>, to: &str) -> Completion {
        let wire = self.post("/v3/kv/txn", cas_body(key, from, to)).await;
        classify_cas(wire)
    }

    /// Appends `text` to `key`'s value: reads it, then one txn puts `value + text` if the
    /// key still holds `value` (lists only grow, so an equal value is the same list),
    /// retrying on a mismatch up to [`MAX_APPEND_ATTEMPTS`] times (then a definite `Fail`).
    pub async fn append(&self, key: &str, text: &str) -> Completion {
        for _ in 0..MAX_APPEND_ATTEMPTS {
            let current = match self.read(key).await {
                Completion::Ok(Value::String(s)) => Some(s),
                Completion::Ok(_) => None,
                Completion::Fail(e) | Completion::Info(e) => return Completion::Fail(e),
            };
            let to = format!("{}{text}", current.as_deref().unwrap_or(""));
            match self.cas(key, current.as_deref(), &to).await {
                Completion::Fail(e) if e == CAS_MISMATCH => continue,
                other => return other,
            }
        }
        Completion::Fail("append-contention".into())
    }

    async fn post(&self, path: &str, body: Value) -> Wire {
        let request = self
            .http
            .post(format!("{}{}", self.base, path))
            // A member without a leader refuses at once (503 "no leader") instead of
            // hanging until its request timeout.
            .header("Grpc-Metadata-hasleader", "true")
            .json(&body);
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                match response.text().await {
                    Ok(text) => Wire::Reply(status, text),
                    Err(e) => Wire::Lost(describe(&e)),
                }
            }
            Err(e) if e.is_connect() => Wire::NotSent(describe(&e)),
            Err(e) if e.is_builder() => Wire::NotSent(describe(&e)),
            Err(e) => Wire::Lost(describe(&e)),
        }
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "timeout".to_string();
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    if e.is_connect() {
        format!("connect: {text}")
    } else {
        text
    }
}

/// How many read + txn rounds an etcd append tries before it gives up.
pub const MAX_APPEND_ATTEMPTS: usize = 20;

fn b64(s: &str) -> String {
    B64.encode(s.as_bytes())
}

/// `POST /v3/kv/range` body.
fn range_body(key: &str, serializable: bool) -> Value {
    if serializable {
        json!({"key": b64(key), "serializable": true})
    } else {
        json!({"key": b64(key)})
    }
}

/// `POST /v3/kv/put` body.
fn put_body(key: &str, value: &str) -> Value {
    json!({"key": b64(key), "value": b64(value)})
}

/// `POST /v3/kv/txn` body: if `key` holds `from` (or does not exist, for `None`), put `to`.
fn cas_body(key: &str, from: Option<&str>, to: &str) -> Value {
    let compare = match from {
        Some(v) => json!({
            "key": b64(key), "target": "VALUE", "result": "EQUAL", "value": b64(v)
        }),
        None => json!({
            "key": b64(key), "target": "CREATE", "result": "EQUAL", "create_revision": "0"
        }),
    };
    json!({
        "compare": [compare],
        "success": [{"request_put": {"key": b64(key), "value": b64(to)}}],
    })
}

/// The gateway's error text of a non-2xx reply (`{"error","message","code"}`), or the body.
fn error_text(status: u16, body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let message = parsed
        .as_ref()
        .and_then(|v| v.get("message").or_else(|| v.get("error")))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| body.chars().take(200).collect());
    format!("http {status}: {message}")
}

/// Whether a non-2xx reply proves the request was not applied.
fn definitely_rejected(status: u16, body: &str) -> bool {
    if status == 400 || status == 404 || status == 405 {
        return true;
    }
    // Refused by the has-leader interceptor before the request reached the server.
    body.contains("etcdserver: no leader")
}

/// A write or CAS that did not get a usable 2xx answer.
fn mutation_failure(wire: Wire) -> Completion {
    match wire {
        Wire::NotSent(e) => Completion::Fail(e),
        Wire::Lost(e) => Completion::Info(e),
        Wire::Reply(status, body) => {
            let text = error_text(status, &body);
            if definitely_rejected(status, &body) {
                Completion::Fail(text)
            } else {
                Completion::Info(text)
            }
        }
    }
}

/// Parses a 2xx body that must carry the gateway's response `header`.
fn parse_ok_body(body: &str) -> Result<Value, String> {
    let v: Value =
        serde_json::from_str(body).map_err(|e| format!("unparseable etcd reply: {e}"))?;
    if v.get("header").is_none() {
        return Err(format!(
            "etcd reply without a header: {}",
            body.chars().take(200).collect::<String>()
        ));
    }
    Ok(v)
}

/// The text of a base64 etcd value.
fn decode_value(encoded: &str) -> Result<Value, String> {
    let bytes = B64
        .decode(encoded)
        .map_err(|e| format!("value {encoded:?} is not base64: {e}"))?;
    Ok(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
}

fn classify_read(wire: Wire) -> Completion {
    match wire {
        Wire::Reply(status, body) if (200..300).contains(&status) => {
            let v = match parse_ok_body(&body) {
                Ok(v) => v,
                Err(e) => return Completion::Fail(e),
            };
            // A missing key has no `kvs` field at all.
            match v
                .get("kvs")
                .and_then(Value::as_array)
                .and_then(|a| a.first())
            {
                None => Completion::Ok(Value::Null),
                Some(kv) => match kv.get("value").and_then(Value::as_str) {
                    // An empty value is omitted by the gateway (a default field).
                    None => Completion::Ok(Value::String(String::new())),
                    Some(encoded) => match decode_value(encoded) {
                        Ok(value) => Completion::Ok(value),
                        Err(e) => Completion::Fail(e),
                    },
                },
            }
        }
        // A read changes nothing: whatever went wrong, it is safe to call it failed.
        Wire::Reply(status, body) => Completion::Fail(error_text(status, &body)),
        Wire::NotSent(e) | Wire::Lost(e) => Completion::Fail(e),
    }
}

fn classify_write(wire: Wire) -> Completion {
    match wire {
        Wire::Reply(status, body) if (200..300).contains(&status) => match parse_ok_body(&body) {
            Ok(_) => Completion::Ok(Value::Null),
            Err(e) => Completion::Info(e),
        },
        other => mutation_failure(other),
    }
}

fn classify_cas(wire: Wire) -> Completion {
    match wire {
        Wire::Reply(status, body) if (200..300).contains(&status) => match parse_ok_body(&body) {
            Ok(v) => {
                if v.get("succeeded").and_then(Value::as_bool) == Some(true) {
                    Completion::Ok(Value::Null)
                } else {
                    Completion::Fail(CAS_MISMATCH.to_string())
                }
            }
            Err(e) => Completion::Info(e),
        },
        other => mutation_failure(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_bodies_use_base64_and_decimal_strings() {
        assert_eq!(put_body("k1", "3"), json!({"key": "azE=", "value": "Mw=="}));
        assert_eq!(range_body("k1", false), json!({"key": "azE="}));
        assert_eq!(
            range_body("k1", true),
            json!({"key": "azE=", "serializable": true})
        );
        let cas = cas_body("k1", Some("3"), "4");
        assert_eq!(cas["compare"][0]["target"], "VALUE");
        assert_eq!(cas["compare"][0]["value"], "Mw==");
        assert_eq!(cas["success"][0]["request_put"]["value"], "NA==");
        let cas_nil = cas_body("k1", None, "4");
        assert_eq!(cas_nil["compare"][0]["target"], "CREATE");
        assert_eq!(cas_nil["compare"][0]["create_revision"], "0");
    }

    #[test]
    fn read_replies_are_decoded() {
        let missing = r#"{"header":{"revision":"1"}}"#;
        assert_eq!(
            classify_read(Wire::Reply(200, missing.into())),
            Completion::Ok(Value::Null)
        );
        let present =
            r#"{"header":{"revision":"2"},"kvs":[{"key":"azE=","value":"Mw=="}],"count":"1"}"#;
        assert_eq!(
            classify_read(Wire::Reply(200, present.into())),
            Completion::Ok(json!("3"))
        );
        assert!(matches!(
            classify_read(Wire::Lost("timeout".into())),
            Completion::Fail(_)
        ));
        assert!(matches!(
            classify_read(Wire::Reply(200, "<html>".into())),
            Completion::Fail(_)
        ));
    }

    #[test]
    fn mutations_are_classified_definite_or_indeterminate() {
        let ok = r#"{"header":{"revision":"3"}}"#;
        assert_eq!(
            classify_write(Wire::Reply(200, ok.into())),
            Completion::Ok(Value::Null)
        );
        assert!(matches!(
            classify_write(Wire::NotSent("connect: refused".into())),
            Completion::Fail(_)
        ));
        assert!(matches!(
            classify_write(Wire::Lost("timeout".into())),
            Completion::Info(_)
        ));
        let timed_out = r#"{"error":"etcdserver: request timed out","message":"etcdserver: request timed out","code":14}"#;
        assert!(matches!(
            classify_write(Wire::Reply(503, timed_out.into())),
            Completion::Info(_)
        ));
        let no_leader =
            r#"{"error":"etcdserver: no leader","message":"etcdserver: no leader","code":14}"#;
        assert!(matches!(
            classify_write(Wire::Reply(503, no_leader.into())),
            Completion::Fail(_)
        ));
        let deadline = r#"{"error":"context deadline exceeded","code":4}"#;
        assert!(matches!(
            classify_write(Wire::Reply(500, deadline.into())),
            Completion::Info(_)
        ));
        let bad = r#"{"error":"json: cannot unmarshal","code":3}"#;
        assert!(matches!(
            classify_write(Wire::Reply(400, bad.into())),
            Completion::Fail(_)
        ));
        // A 200 that is not an etcd reply at all: unknown whether it applied.
        assert!(matches!(
            classify_write(Wire::Reply(200, "{}".into())),
            Completion::Info(_)
        ));
    }

    #[test]
    fn cas_succeeds_only_with_succeeded_true() {
        let applied = r#"{"header":{"revision":"3"},"succeeded":true,"responses":[]}"#;
        assert_eq!(
            classify_cas(Wire::Reply(200, applied.into())),
            Completion::Ok(Value::Null)
        );
        let refused = r#"{"header":{"revision":"3"}}"#;
        assert_eq!(
            classify_cas(Wire::Reply(200, refused.into())),
            Completion::Fail(CAS_MISMATCH.to_string())
        );
        assert!(matches!(
            classify_cas(Wire::Lost("connection reset".into())),
            Completion::Info(_)
        ));
    }

    /// A single etcd member on 127.0.0.1 with a temp data dir; killed and removed on drop.
    struct EtcdGuard {
        child: std::process::Child,
        client_addr: String,
        dir: std::path::PathBuf,
    }

    impl Drop for EtcdGuard {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free loopback port")
    }

    fn start_etcd() -> EtcdGuard {
        let dir = std::env::temp_dir().join(format!(
            "workloads-etcd-test-{}-{}",
            std::process::id(),
            free_port()
        ));
        let (cp, pp) = (free_port(), free_port());
        let client_url = format!("http://127.0.0.1:{cp}");
        let peer_url = format!("http://127.0.0.1:{pp}");
        let child = std::process::Command::new("etcd")
            .args(["--name", "n1", "--data-dir"])
            .arg(dir.join("data"))
            .args(["--listen-client-urls", &client_url])
            .args(["--advertise-client-urls", &client_url])
            .args(["--listen-peer-urls", &peer_url])
            .args(["--initial-advertise-peer-urls", &peer_url])
            .args(["--initial-cluster", &format!("n1={peer_url}")])
            .args(["--heartbeat-interval=10", "--election-timeout=100"])
            .args(["--logger=zap", "--log-outputs=stderr"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start etcd ({e}): `bash scripts/setup.sh` installs it (etcd-server)")
            });
        EtcdGuard {
            child,
            client_addr: format!("127.0.0.1:{cp}"),
            dir,
        }
    }

    fn config(addr: &str) -> ClientConfig {
        ClientConfig {
            nodes: vec![super::super::Endpoint {
                name: "n1".into(),
                id: 1,
                addr: addr.into(),
            }],
            home: 0,
            op_timeout: Duration::from_secs(2),
            max_redirects: 0,
            client_id: "t".into(),
        }
    }

    #[tokio::test]
    async fn talks_to_a_real_etcd() {
        let mut etcd = start_etcd();
        let client = EtcdClient::new(&config(&etcd.client_addr)).expect("client");
        assert_eq!(client.home_name(), "n1");
        // Wait (bounded) until the member has elected itself and serves.
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            if let Completion::Ok(_) = client.read("k0").await {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "etcd did not serve within 15 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(client.read("k1").await, Completion::Ok(Value::Null));
        assert_eq!(
            client.cas("k1", Some("1"), "2").await,
            Completion::Fail(CAS_MISMATCH.into())
        );
        assert_eq!(
            client.cas("k1", None, "1").await,
            Completion::Ok(Value::Null)
        );
        assert_eq!(client.read("k1").await, Completion::Ok(json!("1")));
        assert_eq!(
            client.cas("k1", None, "3").await,
            Completion::Fail(CAS_MISMATCH.into())
        );
        assert_eq!(client.write("k1", "4").await, Completion::Ok(Value::Null));
        assert_eq!(
            client.cas("k1", Some("4"), "2").await,
            Completion::Ok(Value::Null)
        );
        assert_eq!(
            client.cas("k1", Some("4"), "0").await,
            Completion::Fail(CAS_MISMATCH.into())
        );
        let mut serializable = client.clone();
        serializable.set_serializable_reads(true);
        assert_eq!(serializable.read("k1").await, Completion::Ok(json!("2")));
        assert_eq!(client.read("k1").await, Completion::Ok(json!("2")));
        // A dead member refuses connections: a definite failure, even for a write.
        let _ = etcd.child.kill();
        let _ = etcd.child.wait();
        let fresh = EtcdClient::new(&config(&etcd.client_addr)).expect("client");
        assert!(
            matches!(fresh.write("k1", "3").await, Completion::Fail(ref e) if e.contains("connect")),
            "a refused connection must be a definite failure"
        );
    }
}
