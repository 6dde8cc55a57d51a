//! The systems under test, one module each ([`raft_kv`], [`etcd`], [`user`]), found by name
//! through ONE table ([`REGISTRY`]). Everything the rest of the harness needs to know about a
//! system is a method of the [`System`] trait or a field of its [`Capabilities`]: how to start
//! one node, how to tell it is up, whether its peer links can go through the harness's
//! proxies, whether its `/status` names a leader, which workloads and client protocol it
//! speaks, which deliberate bugs it knows, whether a passing run discards its data. No
//! system name is compared outside this folder.
//!
//! Adding a system: one module here (a `build` function and a `System` impl), one line in
//! [`REGISTRY`], and its client in `workloads/src/clients/` if it speaks a new protocol
//! (docs/design.md, "Systems").

pub mod bully;
pub mod etcd;
pub mod gossip;
pub mod keys;
pub mod lock_service;
pub mod paxos_kv;
pub mod pbft_chat;
pub mod raft_kv;
pub mod raft_protocol;
pub mod two_generals;
pub mod user;
pub mod zookeeper;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use workloads::clients::Protocol;
use workloads::WorkloadKind;

use crate::netmode::NetMode;

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
    /// Connect, send `send`, read the answer until the server closes: ready when it contains
    /// one of `expect_any` (ZooKeeper's `srvr` four-letter word: `Mode: leader`/`follower`).
    TcpExchange {
        send: String,
        expect_any: Vec<String>,
    },
}

/// Why a system could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SystemError {
    /// The node binary could not be found; the message says where it was looked for.
    #[error("node binary not found: {0}")]
    BinaryNotFound(String),
    /// An unknown `--db` name, an unknown `--bug`, or a bad option.
    #[error("bad db configuration: {0}")]
    BadConfig(String),
    /// No free port could be bound (says where and for what).
    #[error("no free port {0}")]
    NoPort(String),
    /// A file of the system's could not be read or written (names the path).
    #[error(transparent)]
    Io(#[from] crate::pathio::PathError),
}

/// One deliberate bug a system can be started with (`--bug NAME`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownBug {
    pub name: String,
    /// One line: what the bug does.
    pub description: String,
}

/// Which `--bug` names a system accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KnownBugs {
    /// Exactly these (an empty list: the system has no deliberate bugs).
    Listed(Vec<KnownBug>),
    /// Any name, passed to the system as it is (a user system with `bug_args` and no list).
    PassedThrough,
}

/// What differs between systems, as the runner and the cluster ask it.
#[derive(Debug, Clone, PartialEq)]
pub struct Capabilities {
    /// The system takes one address per peer, so its peer links can go through the
    /// harness's per-link proxies (`--net proxy` partitions and `--link-delay`).
    pub proxy: bool,
    /// A node's `/status` (its ready probe) says `"role":"leader"` and its term, so the
    /// harness can find the leader (leader targets, `--nemesis-trigger leader-change`).
    pub leader_in_status: bool,
    /// The workloads its client can run.
    pub workloads: Vec<WorkloadKind>,
    /// The client protocol (with its options, e.g. etcd's serializable reads).
    pub protocol: Protocol,
    /// A passing run deletes the nodes' data directories (logs stay): etcd preallocates
    /// 60-120 MB per member, which a store of many runs cannot keep.
    pub discards_data_on_pass: bool,
}

/// A system under test: how to start one of its nodes and how to tell it is ready.
pub trait System: Send + Sync {
    /// Short name, e.g. `raft-kv` (a user system: the `name` of its TOML file).
    fn name(&self) -> &str;
    /// What the runner may ask of it.
    fn capabilities(&self) -> Capabilities;
    /// Why it cannot run with `nodes` nodes, if it cannot (the Two Generals are two).
    fn nodes_refusal(&self, _nodes: usize) -> Option<String> {
        None
    }
    /// The `--bug` names it accepts, with one-line descriptions.
    fn known_bugs(&self) -> KnownBugs {
        KnownBugs::Listed(Vec::new())
    }
    /// Finds the binaries it starts (called once before a run starts anything; building a
    /// system for the config does not look for binaries). Errors name where it looked.
    fn locate_binaries(&mut self) -> Result<(), SystemError> {
        Ok(())
    }
    /// The command (program, argv, env, working dir) that starts `node` of `cluster`. The
    /// harness adds the network namespace, stdio redirection to the log files, its run-marker
    /// environment variables, a process group and PR_SET_PDEATHSIG.
    fn command(&self, node: &NodeSpec, cluster: &[NodeSpec]) -> Result<Command, SystemError>;
    /// How to tell this node is up.
    fn ready_probe(&self, node: &NodeSpec) -> ReadyProbe;
    /// Why `--nemesis clock` cannot reach this system's clocks, if it cannot. The clock
    /// nemesis preloads libfaketime, which changes the time a process reads through glibc
    /// (`clock_gettime`, `gettimeofday`, `time`); a program that reads the clock some other
    /// way (Go's runtime, through the vDSO) or is statically linked does not see it.
    fn clock_refusal(&self) -> Option<String> {
        None
    }
    /// The modes `POST /admin/byzantine {"mode": M}` accepts (`--nemesis byzantine`); empty:
    /// its nodes cannot be made to lie.
    fn byzantine_modes(&self) -> &'static [&'static str] {
        &[]
    }
    /// The signal that asks a node to stop at shutdown (the harness escalates to SIGKILL).
    fn stop_signal(&self) -> nix::sys::signal::Signal {
        nix::sys::signal::Signal::SIGTERM
    }
    /// The port node `id` serves clients on (netns mode, where every node has its own address).
    fn client_port_for(&self, id: u64) -> u16 {
        8000u16.saturating_add(u16::try_from(id).unwrap_or(0))
    }
    /// Why this system's nodes will run on loopback with direct peer links (no per-link
    /// proxy, no network namespaces), if they will. `netns` is whether the netns backend is
    /// usable here (root / CAP_NET_ADMIN).
    fn loopback_reason(&self, net: NetMode, netns: &Result<(), String>) -> Option<String> {
        if self.capabilities().proxy {
            return None;
        }
        match (net, netns) {
            (NetMode::Netns, _) | (NetMode::Auto, Ok(())) => None,
            (NetMode::Proxy, _) => Some("--net proxy was asked for".to_string()),
            (NetMode::Auto, Err(e)) => Some(format!("network namespaces are unavailable ({e})")),
        }
    }
    /// Why partitions cannot run on the `net` backend, if they cannot: nodes on loopback
    /// with direct peer links cannot be cut apart.
    fn partition_refusal(&self, net: NetMode, netns: &Result<(), String>) -> Option<String> {
        let why = self.loopback_reason(net, netns)?;
        Some(format!(
            "--nemesis partition cannot run on {}: {why}, and {} cannot be given a proxy per \
             peer link (its nodes would run on 127.0.0.1 talking directly). Run as root for \
             --net netns, or use --nemesis pause,kill, which work on loopback",
            self.name(),
            self.name()
        ))
    }
    /// The line the harness logs when the nodes run on loopback with direct peer links.
    fn loopback_note(&self, net: NetMode, netns: &Result<(), String>) -> Option<String> {
        self.loopback_reason(net, netns).map(|why| {
            format!(
                "{why}: {} cannot be given a proxy per peer link, so its nodes run on 127.0.0.1 \
                 talking directly; pause and kill faults work, partitions need --net netns (root)",
                self.name()
            )
        })
    }
}

/// The `--db ...` part of a test configuration, as given (the system validates it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SystemSpec {
    /// A [`REGISTRY`] name (default `raft-kv`); `--db-config` alone means `user`.
    pub db: String,
    /// Explicit path of the system's server binary (e.g. etcd).
    pub db_bin: Option<PathBuf>,
    /// Explicit path of the bundled node binary (`--node-bin`).
    pub node_bin: Option<PathBuf>,
    /// `--db-opt key=value` pairs, parsed and validated by the system.
    pub db_opts: Vec<(String, String)>,
    /// A user-TOML system description.
    pub db_config: Option<PathBuf>,
    /// `--bug` names, checked against the system's [`System::known_bugs`].
    pub bugs: Vec<String>,
}

impl SystemSpec {
    /// The [`REGISTRY`] name this spec selects: `--db-config FILE` selects `user` (with
    /// `--db` left at its default, or `user`); otherwise `--db` (empty: `raft-kv`).
    pub fn registry_name(&self) -> Result<&str, SystemError> {
        let db = if self.db.is_empty() {
            raft_kv::NAME
        } else {
            &self.db
        };
        match &self.db_config {
            Some(_) if db == raft_kv::NAME || db == user::NAME => Ok(user::NAME),
            Some(path) => Err(SystemError::BadConfig(format!(
                "--db {} and --db-config {} both name the system: give one",
                self.db,
                path.display()
            ))),
            None => Ok(db),
        }
    }

    /// The `db` field of `test.json`: the registry name, `user-config` for a TOML system.
    pub fn test_json_name(&self) -> String {
        match self.registry_name() {
            Ok(user::NAME) => "user-config".to_string(),
            Ok(name) => name.to_string(),
            Err(_) => self.db.clone(),
        }
    }
}

/// One line of the registry.
pub struct Entry {
    /// The `--db` name.
    pub name: &'static str,
    /// One line for `--help` and error messages.
    pub description: &'static str,
    /// Builds the system from a spec: options and bugs validated, binaries not looked up yet.
    pub build: fn(&SystemSpec) -> Result<Box<dyn System>, SystemError>,
}

/// Every system, by `--db` name. Adding a system is adding a line here.
pub const REGISTRY: &[Entry] = &[
    Entry {
        name: raft_kv::NAME,
        description: "the bundled Raft key-value store (nodes/raft-kv, bin raft-node)",
        build: raft_kv::build,
    },
    Entry {
        name: etcd::NAME,
        description: "etcd 3.4 (Debian's etcd-server), clients through its v3 JSON gateway",
        build: etcd::build,
    },
    Entry {
        name: paxos_kv::NAME,
        description: "the bundled Multi-Paxos key-value store (nodes/paxos-kv, bin paxos-node)",
        build: paxos_kv::build,
    },
    Entry {
        name: bully::NAME,
        description:
            "the bully leader election (nodes/bully, bin bully-node; --db-opt quorum=true)",
        build: bully::build,
    },
    Entry {
        name: zookeeper::NAME,
        description:
            "ZooKeeper 3.8 (Debian's zookeeper), an ensemble speaking its jute client protocol",
        build: zookeeper::build,
    },
    Entry {
        name: two_generals::NAME,
        description:
            "the Two Generals over a lossy link (nodes/two-generals, bin general; --nodes 2)",
        build: two_generals::build,
    },
    Entry {
        name: pbft_chat::NAME,
        description: "the bundled PBFT chat room, n = 3f+1 (nodes/pbft-chat, bin pbft-node)",
        build: pbft_chat::build,
    },
    Entry {
        name: gossip::NAME,
        description: "the bundled gossip chat, signed messages (nodes/gossip, bin gossip-node)",
        build: gossip::build,
    },
    Entry {
        name: lock_service::NAME,
        description: "the bundled lock service (nodes/lock-service, bin lock-node)",
        build: lock_service::build,
    },
    Entry {
        name: user::NAME,
        description: "a system described by a TOML file (--db-config FILE)",
        build: user::build,
    },
];

/// The registered names, comma-separated, for messages.
pub fn names() -> String {
    REGISTRY
        .iter()
        .map(|e| e.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The registry line of `name`; an unknown name is an error listing every name.
pub fn entry(name: &str) -> Result<&'static Entry, SystemError> {
    REGISTRY
        .iter()
        .find(|e| e.name == name)
        .ok_or_else(|| SystemError::BadConfig(format!("unknown db `{name}` (known: {})", names())))
}

/// Builds the system `spec` selects and checks its `--bug`s: options and bugs are validated,
/// binaries are not looked up yet ([`System::locate_binaries`]).
pub fn build(spec: &SystemSpec) -> Result<Box<dyn System>, SystemError> {
    let entry = entry(spec.registry_name()?)?;
    let system = (entry.build)(spec)?;
    check_bugs(system.as_ref(), &spec.bugs)?;
    Ok(system)
}

/// Every `bug` must be one the system knows; an unknown one is an error listing the
/// system's bugs with their descriptions.
pub fn check_bugs(system: &dyn System, bugs: &[String]) -> Result<(), SystemError> {
    let KnownBugs::Listed(known) = system.known_bugs() else {
        return Ok(());
    };
    for bug in bugs {
        if known.iter().any(|k| &k.name == bug) {
            continue;
        }
        let list = if known.is_empty() {
            format!("{} has no deliberate bugs", system.name())
        } else {
            let lines: Vec<String> = known
                .iter()
                .map(|k| format!("  {}: {}", k.name, k.description))
                .collect();
            format!("{}'s bugs:\n{}", system.name(), lines.join("\n"))
        };
        return Err(SystemError::BadConfig(format!(
            "--bug {bug}: unknown bug; {list}"
        )));
    }
    Ok(())
}

/// Finds a node binary: `explicit` if given (must exist), else `$HARNESS_BIN_DIR/<name>`, else
/// next to the running executable (and its parent, for test binaries in `target/*/deps`).
pub fn find_node_bin(name: &str, explicit: Option<&Path>) -> Result<PathBuf, SystemError> {
    if let Some(p) = explicit {
        return if p.is_file() {
            Ok(p.to_path_buf())
        } else {
            Err(SystemError::BinaryNotFound(format!(
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
    Err(SystemError::BinaryNotFound(format!(
        "`{name}`: looked in {} (build it with `cargo build -p raft-kv`, or pass its path)",
        if tried.is_empty() {
            "nowhere".to_string()
        } else {
            tried.join(", ")
        }
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(db: &str) -> SystemSpec {
        SystemSpec {
            db: db.into(),
            ..SystemSpec::default()
        }
    }

    #[test]
    fn every_registered_system_builds_from_a_minimal_spec_or_says_what_it_needs() {
        for e in REGISTRY {
            let s = spec(e.name);
            match build(&s) {
                Ok(sys) => assert!(!sys.name().is_empty(), "{}", e.name),
                // A user system needs its TOML file: the error must say so.
                Err(err) => assert!(err.to_string().contains("--db-config"), "{}: {err}", e.name),
            }
            assert!(!e.description.is_empty());
        }
        assert_eq!(build(&spec("")).unwrap().name(), "raft-kv");
    }

    #[test]
    fn an_unknown_name_lists_the_known_ones() {
        let err = build(&spec("mongo")).err().expect("unknown db refused");
        let msg = err.to_string();
        assert!(msg.contains("unknown db `mongo`"), "{msg}");
        for e in REGISTRY {
            assert!(msg.contains(e.name), "{msg} lacks {}", e.name);
        }
        assert!(matches!(err, SystemError::BadConfig(_)));
    }

    #[test]
    fn unknown_bugs_are_refused_with_the_systems_list() {
        let with = |db: &str, bug: &str| SystemSpec {
            bugs: vec![bug.into()],
            ..spec(db)
        };
        assert!(build(&with("raft-kv", "stale-read")).is_ok());
        let msg = build(&with("raft-kv", "lossy")).err().unwrap().to_string();
        assert!(msg.contains("--bug lossy"), "{msg}");
        for b in ["stale-read", "early-ack", "no-truncate", "no-persist-vote"] {
            assert!(msg.contains(b), "{msg} lacks {b}");
        }
        let msg = build(&with("etcd", "stale-read"))
            .err()
            .unwrap()
            .to_string();
        assert!(msg.contains("etcd has no deliberate bugs"), "{msg}");
    }

    #[test]
    fn capabilities_replace_name_comparisons() {
        let raft = build(&spec("raft-kv")).unwrap();
        let etcd = build(&spec("etcd")).unwrap();
        let (r, e) = (raft.capabilities(), etcd.capabilities());
        assert!(r.proxy && r.leader_in_status && !r.discards_data_on_pass);
        assert!(!e.proxy && !e.leader_in_status && e.discards_data_on_pass);
        assert_eq!(r.protocol, Protocol::RaftKv);
        assert_eq!(
            e.protocol,
            Protocol::Etcd {
                serializable_reads: false
            }
        );
        let serializable = SystemSpec {
            db_opts: vec![("serializable-reads".into(), "true".into())],
            ..spec("etcd")
        };
        assert_eq!(
            build(&serializable).unwrap().capabilities().protocol,
            Protocol::Etcd {
                serializable_reads: true
            }
        );
        // Partitions on loopback: refused for etcd, fine for raft-kv.
        let why = etcd
            .partition_refusal(NetMode::Proxy, &Ok(()))
            .expect("refused");
        assert!(why.contains("--net proxy") && why.contains("etcd"), "{why}");
        let why = etcd
            .partition_refusal(NetMode::Auto, &Err("not root".into()))
            .expect("refused");
        assert!(why.contains("not root"), "{why}");
        assert!(etcd.partition_refusal(NetMode::Auto, &Ok(())).is_none());
        assert!(etcd
            .partition_refusal(NetMode::Netns, &Err("x".into()))
            .is_none());
        assert!(raft.partition_refusal(NetMode::Proxy, &Ok(())).is_none());
        let note = etcd.loopback_note(NetMode::Proxy, &Ok(())).expect("note");
        assert!(
            note.contains("127.0.0.1") && note.contains("pause and kill"),
            "{note}"
        );
        assert!(etcd.loopback_note(NetMode::Netns, &Ok(())).is_none());
    }

    #[test]
    fn db_config_selects_the_user_system_and_conflicts_with_another_db() {
        let mut s = SystemSpec {
            db: "raft-kv".into(),
            db_config: Some("x.toml".into()),
            ..SystemSpec::default()
        };
        assert_eq!(s.registry_name().unwrap(), "user");
        assert_eq!(s.test_json_name(), "user-config");
        s.db = "etcd".into();
        assert!(s.registry_name().is_err());
        assert_eq!(spec("").test_json_name(), "raft-kv");
        assert_eq!(spec("etcd").test_json_name(), "etcd");
    }
}
