//! The register workload's client for ZooKeeper: one session per harness client on its home
//! server, each register a znode `/register-<key>` holding the value's decimal string.
//!
//! - read: `sync` then `getData` (a `sync` makes the server catch up with the leader first,
//!   so the read is linearizable); with `sync_reads = false` (`--db-opt sync-reads=false`)
//!   a plain `getData`, served from the server's local state: NOT linearizable.
//! - write: `setData` with version -1; if the znode does not exist, `create` (and if a
//!   concurrent create won, `setData` again).
//! - cas: `getData` (for the value and its version), then `setData` with that version. A value
//!   other than `from` is `fail cas-mismatch`; a version that moved between the two is
//!   `fail bad-version` (a definite no: ZooKeeper refused the conditional write). From "absent"
//!   is a `create`, `node-exists` a `cas-mismatch`.
//!
//! Classification: a server error reply is a definite `fail`; a request whose connection
//! broke (or timed out) after it was written is `info` for writes and `fail` for reads (a
//! read has no effect); nothing sent (connect or handshake refused: the server is not in a
//! serving quorum) is `fail`. A broken session is dropped; the next operation opens a new one.

use std::time::Duration;

use serde_json::Value;
use tokio::sync::Mutex;

use super::zookeeper_wire::{code, mode, op, Dec, Enc, Reply, Session, WireError};
use super::{ClientConfig, ClientError, CAS_MISMATCH};
use crate::Completion;

/// The session timeout the client asks for (the server clamps it to 2..20 ticks).
pub const SESSION_TIMEOUT: Duration = Duration::from_millis(4000);

/// A ZooKeeper client of one server (the config's home node).
#[derive(Debug)]
pub struct ZkClient {
    addr: String,
    home_name: String,
    op_timeout: Duration,
    sync_reads: bool,
    session: Mutex<Option<Session>>,
}

/// An operation's failure, before classification.
enum Broke {
    Wire(WireError),
    /// The server answered with an error code.
    Code(i32),
    Malformed(String),
}

impl From<WireError> for Broke {
    fn from(e: WireError) -> Self {
        Broke::Wire(e)
    }
}

impl ZkClient {
    /// A client of `cfg.nodes[cfg.home]`; reads are linearizable (sync first).
    pub fn new(cfg: &ClientConfig) -> Result<Self, ClientError> {
        let home = cfg.nodes.get(cfg.home).ok_or_else(|| {
            ClientError::Config(format!(
                "home node index {} out of range ({} nodes)",
                cfg.home,
                cfg.nodes.len()
            ))
        })?;
        Ok(ZkClient {
            addr: home.addr.clone(),
            home_name: home.name.clone(),
            op_timeout: cfg.op_timeout,
            sync_reads: true,
            session: Mutex::new(None),
        })
    }

    /// Read without `sync` (`false`): reads are served from the server's local state.
    pub fn set_sync_reads(&mut self, on: bool) {
        self.sync_reads = on;
    }

    /// The harness name of the server this client talks to.
    pub fn home_name(&self) -> &str {
        &self.home_name
    }

    /// Reads `key`: `Ok(string)`, or `Ok(null)` when the znode does not exist yet.
    pub async fn read(&self, key: &str) -> Completion {
        let path = znode(key);
        let result = self
            .with_session(|s, t| {
                let path = path.clone();
                let sync = self.sync_reads;
                Box::pin(async move {
                    if sync {
                        expect_ok(s.call(op::SYNC, &Enc::default().string(&path).0, t).await?)?;
                    }
                    get_data(s, &path, t).await
                })
            })
            .await;
        match result {
            Ok(Some((data, _))) => Completion::Ok(Value::String(data)),
            Ok(None) => Completion::Ok(Value::Null),
            Err(b) => Completion::Fail(describe(&b)),
        }
    }

    /// Writes `value` to `key`: `Ok(null)`.
    pub async fn write(&self, key: &str, value: &str) -> Completion {
        let path = znode(key);
        let value = value.to_string();
        let result = self
            .with_session(|s, t| {
                Box::pin(async move {
                    for _ in 0..3 {
                        match set_data(s, &path, &value, -1, t).await {
                            Err(Broke::Code(code::NO_NODE)) => {}
                            other => return other,
                        }
                        match create(s, &path, &value, t).await {
                            Err(Broke::Code(code::NODE_EXISTS)) => {}
                            other => return other,
                        }
                    }
                    Err(Broke::Malformed("create and setData kept racing".into()))
                })
            })
            .await;
        classify_update(result)
    }

    /// Sets `key` to `to` if it holds `from` (`None` = absent): `Ok(null)` if applied.
    pub async fn cas(&self, key: &str, from: Option<&str>, to: &str) -> Completion {
        let path = znode(key);
        let (from, to) = (from.map(str::to_string), to.to_string());
        let result = self
            .with_session(|s, t| {
                Box::pin(async move {
                    let current = get_data(s, &path, t).await?;
                    match (current, from) {
                        (None, None) => match create(s, &path, &to, t).await {
                            Err(Broke::Code(code::NODE_EXISTS)) => Ok(Some(CAS_MISMATCH)),
                            other => other.map(|_| None),
                        },
                        (Some((value, version)), Some(from)) if value == from => {
                            match set_data(s, &path, &to, version, t).await {
                                Err(Broke::Code(code::BAD_VERSION)) => Ok(Some("bad-version")),
                                other => other.map(|_| None),
                            }
                        }
                        _ => Ok(Some(CAS_MISMATCH)),
                    }
                })
            })
            .await;
        match result {
            Ok(Some(why)) => Completion::Fail(why.to_string()),
            Ok(None) => Completion::Ok(Value::Null),
            Err(b) => classify_update(Err(b)),
        }
    }

    /// Runs `f` on the session (opening one if needed, pinging one that idled); a session
    /// that broke is dropped so the next operation opens a new one.
    async fn with_session<T, F>(&self, f: F) -> Result<T, Broke>
    where
        F: for<'s> FnOnce(
            &'s mut Session,
            Duration,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<T, Broke>> + Send + 's>,
        >,
    {
        let mut slot = self.session.lock().await;
        let t = self.op_timeout;
        if let Some(s) = slot.as_mut() {
            if s.ping_due() && s.call(op::PING, &[], t).await.is_err() {
                *slot = None;
            }
        }
        if slot.is_none() {
            *slot = Some(Session::connect(&self.addr, SESSION_TIMEOUT, t).await?);
        }
        let Some(session) = slot.as_mut() else {
            return Err(Broke::Malformed("no session".into()));
        };
        let result = tokio::time::timeout(t, f(session, t))
            .await
            .unwrap_or_else(|_| Err(Broke::Wire(WireError::Lost("timeout".into()))));
        if matches!(
            result,
            Err(Broke::Wire(_)) | Err(Broke::Code(code::SESSION_EXPIRED))
        ) {
            *slot = None;
        }
        result
    }
}

/// The znode of register `key`.
pub fn znode(key: &str) -> String {
    format!("/register-{}", key.replace('/', "_"))
}

fn expect_ok(r: Reply) -> Result<Reply, Broke> {
    if r.err == code::OK {
        Ok(r)
    } else {
        Err(Broke::Code(r.err))
    }
}

/// `getData`: `Some((value, version))`, or `None` if the znode does not exist.
async fn get_data(
    s: &mut Session,
    path: &str,
    t: Duration,
) -> Result<Option<(String, i32)>, Broke> {
    let r = s
        .call(
            op::GET_DATA,
            &Enc::default().string(path).boolean(false).0,
            t,
        )
        .await?;
    if r.err == code::NO_NODE {
        return Ok(None);
    }
    let r = expect_ok(r)?;
    let mut d = Dec::new(&r.body);
    let data = d.buffer().map_err(|e| Broke::Malformed(e.to_string()))?;
    let stat = d.stat().map_err(|e| Broke::Malformed(e.to_string()))?;
    let value = String::from_utf8(data).map_err(|e| Broke::Malformed(e.to_string()))?;
    Ok(Some((value, stat.version)))
}

async fn set_data(
    s: &mut Session,
    path: &str,
    value: &str,
    version: i32,
    t: Duration,
) -> Result<(), Broke> {
    let body = Enc::default()
        .string(path)
        .buffer(value.as_bytes())
        .int(version);
    expect_ok(s.call(op::SET_DATA, &body.0, t).await?).map(|_| ())
}

async fn create(s: &mut Session, path: &str, value: &str, t: Duration) -> Result<(), Broke> {
    let body = Enc::default()
        .string(path)
        .buffer(value.as_bytes())
        .open_acl()
        .int(mode::PERSISTENT);
    expect_ok(s.call(op::CREATE, &body.0, t).await?).map(|_| ())
}

/// A write's or cas's outcome: a server error is a definite fail, a lost request info.
fn classify_update(result: Result<(), Broke>) -> Completion {
    match result {
        Ok(()) => Completion::Ok(Value::Null),
        Err(b @ Broke::Wire(WireError::Lost(_))) | Err(b @ Broke::Malformed(_)) => {
            Completion::Info(describe(&b))
        }
        Err(b) => Completion::Fail(describe(&b)),
    }
}

fn describe(b: &Broke) -> String {
    match b {
        Broke::Wire(e) => e.to_string(),
        Broke::Code(c) => format!("zookeeper error {c} ({})", code_name(*c)),
        Broke::Malformed(m) => m.clone(),
    }
}

/// The name of a ZooKeeper error code.
pub fn code_name(c: i32) -> &'static str {
    match c {
        -1 => "system-error",
        -4 => "connection-loss",
        -7 => "operation-timeout",
        -8 => "bad-arguments",
        -101 => "no-node",
        -102 => "no-auth",
        -103 => "bad-version",
        -110 => "node-exists",
        -111 => "not-empty",
        -112 => "session-expired",
        -118 => "session-moved",
        -124 => "not-read-only",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lost_updates_are_info_and_refused_ones_fail() {
        let lost = Err(Broke::Wire(WireError::Lost("reset".into())));
        assert!(matches!(classify_update(lost), Completion::Info(_)));
        let unsent = Err(Broke::Wire(WireError::NotSent("refused".into())));
        assert!(matches!(classify_update(unsent), Completion::Fail(_)));
        match classify_update(Err(Broke::Code(code::BAD_VERSION))) {
            Completion::Fail(why) => assert!(why.contains("bad-version"), "{why}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(znode("k/1"), "/register-k_1");
    }
}
