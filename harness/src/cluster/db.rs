//! The system under test as the cluster runtime sees it: a [`NodeSpec`] per node (addresses,
//! directories), the [`Db`] trait (how to start one node, how to tell it is ready, which client
//! protocol it speaks), the bundled Raft store ([`RaftKvDb`]), and how a `--db` choice on the
//! command line becomes a `Box<dyn Db>` ([`build_db`], [`find_node_bin`]).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One node of the cluster, as the harness laid it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSpec {
    /// 1-based node id.
    pub id: u64,
    /// Harness-level node name: `n1`, `n2`, ... (as written in histories).
    pub name: String,
    /// The address the node binds (its own namespace address in netns mode, 127.0.0.1:port in
    /// proxy mode).
    pub listen: SocketAddr,
    /// The address harness clients connect to.
    pub client_addr: SocketAddr,
    /// For every other node: (id, name, address this node must use to reach it). In proxy mode
    /// this is the harness proxy for the directed link `self -> peer`.
    pub peer_addrs: Vec<(u64, String, SocketAddr)>,
    /// The node's data directory (kept across restarts): `run_dir/nodes/<name>/data`.
    pub data_dir: PathBuf,
    /// The node's log directory: `run_dir/nodes/<name>/` (stdout.log, stderr.log).
    pub log_dir: PathBuf,
}

/// How the harness decides a node is up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadyProbe {
    /// A TCP connect to the node's client address succeeds.
    Tcp,
    /// `GET path` on the client address answers 2xx. With `require_leader`, the cluster as a
    /// whole is ready only once some node's JSON answer says `"role":"leader"` (raft-kv
    /// `/status`).
    HttpGet { path: String, require_leader: bool },
}

/// The client protocol a system speaks; tells the workload which client to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// The node HTTP protocol of the shared contract (`/key/{k}`, `/status`).
    RaftKvHttp,
    /// etcd's v3 JSON gateway.
    EtcdV3,
}

/// Why a system could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The node binary could not be found; the message says where it was looked for.
    #[error("node binary not found: {0}")]
    BinaryNotFound(String),
    /// An unknown `--db` name or a bad option.
    #[error("bad db configuration: {0}")]
    BadConfig(String),
    #[error("io error: {0}")]
    Io(#[from] std::io::Error),
}

/// A system under test: how to start one of its nodes and how to tell it is ready.
pub trait Db: Send + Sync {
    /// Short name, e.g. `raft-kv`.
    fn name(&self) -> &str;
    /// The command (program, argv, env, working dir) that starts `node` of `cluster`. The
    /// harness adds the network namespace, stdio redirection to the log files, its run-marker
    /// environment variables, a process group and PR_SET_PDEATHSIG.
    fn command(&self, node: &NodeSpec, cluster: &[NodeSpec]) -> Result<Command, DbError>;
    /// How to tell this node is up.
    fn ready_probe(&self, node: &NodeSpec) -> ReadyProbe;
    /// Whether the system accepts per-peer addresses (needed by the proxy backend).
    fn supports_proxy(&self) -> bool {
        true
    }
    /// The client protocol the workload must use.
    fn protocol(&self) -> Protocol;
    /// The signal that asks a node to stop at shutdown (the harness escalates to SIGKILL).
    fn stop_signal(&self) -> nix::sys::signal::Signal {
        nix::sys::signal::Signal::SIGTERM
    }
    /// The port node `id` serves clients on (netns mode, where every node has its own address).
    fn client_port_for(&self, id: u64) -> u16 {
        8000u16.saturating_add(u16::try_from(id).unwrap_or(0))
    }
}

/// The bundled Raft key-value store (`raft-node` of `nodes/raft-kv`).
#[derive(Debug, Clone)]
pub struct RaftKvDb {
    pub bin: PathBuf,
    /// `--bug NAME` flags passed to every node.
    pub bugs: Vec<String>,
    /// Extra arguments appended verbatim (e.g. `--no-fsync`, timeouts).
    pub extra_args: Vec<String>,
}

impl Db for RaftKvDb {
    fn name(&self) -> &str {
        "raft-kv"
    }

    fn command(&self, node: &NodeSpec, _cluster: &[NodeSpec]) -> Result<Command, DbError> {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--id")
            .arg(node.id.to_string())
            .arg("--listen")
            .arg(node.listen.to_string());
        for (id, _name, addr) in &node.peer_addrs {
            cmd.arg("--peer").arg(format!("{id}={addr}"));
        }
        cmd.arg("--data-dir").arg(&node.data_dir);
        for bug in &self.bugs {
            cmd.arg("--bug").arg(bug);
        }
        cmd.args(&self.extra_args);
        Ok(cmd)
    }

    fn ready_probe(&self, _node: &NodeSpec) -> ReadyProbe {
        ReadyProbe::HttpGet {
            path: "/status".into(),
            require_leader: true,
        }
    }

    fn protocol(&self) -> Protocol {
        Protocol::RaftKvHttp
    }
}

/// The `--db ...` part of a test configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DbSpec {
    /// `raft-kv` (default), `etcd`, or a user system described by `db_config`.
    pub db: String,
    /// Explicit path of the system's server binary (e.g. etcd).
    pub db_bin: Option<PathBuf>,
    /// Explicit path of the bundled node binary (`--node-bin`).
    pub node_bin: Option<PathBuf>,
    /// `--db-opt key=value` pairs.
    pub db_opts: Vec<(String, String)>,
    /// A user-TOML system description.
    pub db_config: Option<PathBuf>,
    /// `--bug NAME` flags.
    pub bugs: Vec<String>,
}

/// Builds the [`Db`] named by `spec`.
pub fn build_db(spec: &DbSpec) -> Result<Box<dyn Db>, DbError> {
    if let Some(db) = super::dbs::build(spec) {
        return db;
    }
    match spec.db.as_str() {
        "" | "raft-kv" => {
            let bin = find_node_bin("raft-node", spec.node_bin.as_deref())?;
            let mut extra_args = Vec::new();
            for (k, v) in &spec.db_opts {
                if k.is_empty() || k.starts_with('-') {
                    return Err(DbError::BadConfig(format!(
                        "db option `{k}` must be a bare name (it becomes --{k})"
                    )));
                }
                extra_args.push(format!("--{k}"));
                if !v.is_empty() {
                    extra_args.push(v.clone());
                }
            }
            Ok(Box::new(RaftKvDb {
                bin,
                bugs: spec.bugs.clone(),
                extra_args,
            }))
        }
        other => Err(DbError::BadConfig(format!(
            "unknown db `{other}` (known: raft-kv)"
        ))),
    }
}

/// Finds a node binary: `explicit` if given (must exist), else `$HARNESS_BIN_DIR/<name>`, else
/// next to the running executable (and its parent, for test binaries in `target/*/deps`).
pub fn find_node_bin(name: &str, explicit: Option<&Path>) -> Result<PathBuf, DbError> {
    if let Some(p) = explicit {
        return if p.is_file() {
            Ok(p.to_path_buf())
        } else {
            Err(DbError::BinaryNotFound(format!(
                "{} (given explicitly) does not exist",
                p.display()
            )))
        };
    }
    let mut tried = Vec::new();
    if let Some(dir) = std::env::var_os("HARNESS_BIN_DIR") {
        let p = PathBuf::from(dir).join(name);
        if p.is_file() {
            return Ok(p);
        }
        tried.push(p);
    }
    if let Ok(exe) = std::env::current_exe() {
        let mut dir = exe.parent().map(Path::to_path_buf);
        for _ in 0..2 {
            let Some(d) = dir else { break };
            let p = d.join(name);
            if p.is_file() {
                return Ok(p);
            }
            tried.push(p);
            dir = d.parent().map(Path::to_path_buf);
        }
    }
    let tried: Vec<String> = tried.iter().map(|p| p.display().to_string()).collect();
    Err(DbError::BinaryNotFound(format!(
        "`{name}`: looked in {} (build it with `cargo build -p raft-kv`, or pass its path)",
        if tried.is_empty() {
            "nowhere".to_string()
        } else {
            tried.join(", ")
        }
    )))
}
