//! etcd (Debian's `etcd-server` 3.4) as a system under test: the binary lookup, one etcd
//! member per node (its command line: names, URLs, the static `--initial-cluster`, election
//! timing for a local cluster, pre-vote), the ready probe (`/health` answers 200 only once the
//! member knows a leader and a read through it succeeded), and the `--db-opt` keys.
//!
//! Addresses: a member serves clients on the node's `listen` address (port 2379 in netns mode,
//! where every node has its own address) and talks to its peers on a second port: 2380 on the
//! node's own address in netns mode, or a loopback port chosen once per node and kept for the
//! run (restarts reuse it) when nodes share 127.0.0.1. etcd cannot be given a different
//! address per peer link, so it does not work behind the per-link proxies
//! (its `proxy` capability is false): without network namespaces only pause and kill
//! faults can run.
//!
//! Restarts: a member restarted on its own data directory ignores `--initial-cluster*` flags
//! (the WAL says it is already bootstrapped), so the same command line serves start and restart.
//!
//! `--db-opt` keys: `serializable-reads=true|false` (read by the client, see
//! [`serializable_reads`]); anything else `k=v` becomes the etcd flag `--k=v`, replacing a
//! default of the same name (e.g. `election-timeout=500`).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use workloads::clients::Protocol;
use workloads::WorkloadKind;

use super::{Capabilities, NodeSpec, ReadyProbe, System, SystemError, SystemSpec};

/// The registry name.
pub const NAME: &str = "etcd";

/// The client port of every member in netns mode.
pub const CLIENT_PORT: u16 = 2379;
/// The peer port of every member in netns mode.
pub const PEER_PORT: u16 = 2380;

/// The `--db-opt` key that makes the client's reads serializable.
pub const SERIALIZABLE_READS: &str = "serializable-reads";

/// Flags that suit a local cluster (measured: a leader 0.2 s after start, a new one 0.14 s
/// after the old one is killed; pre-vote avoids a write outage when a partition heals).
const DEFAULT_FLAGS: &[(&str, &str)] = &[
    ("heartbeat-interval", "10"),
    ("election-timeout", "100"),
    ("pre-vote", "true"),
    ("logger", "zap"),
    ("log-outputs", "stderr"),
];

/// Flags the harness itself sets from the cluster layout; a `--db-opt` may not override them.
const RESERVED_FLAGS: &[&str] = &[
    "name",
    "data-dir",
    "listen-client-urls",
    "advertise-client-urls",
    "listen-peer-urls",
    "initial-advertise-peer-urls",
    "initial-cluster",
    "initial-cluster-state",
    "initial-cluster-token",
];

/// etcd as a [`System`].
#[derive(Debug)]
pub struct Etcd {
    /// `--db-bin`, if given.
    explicit_bin: Option<PathBuf>,
    /// The binary, once [`System::locate_binaries`] found it.
    bin: Option<PathBuf>,
    /// `--flag=value` pairs, defaults overridden by `--db-opt`s, in a stable order.
    flags: Vec<(String, String)>,
    serializable_reads: bool,
    /// Loopback peer ports, chosen on first use and kept for the run (restarts reuse them).
    loopback_peer_ports: Mutex<BTreeMap<u64, u16>>,
}

impl Etcd {
    /// Builds the etcd system from the `--db-opt`s; the binary (`--db-bin`, else `etcd` on
    /// `PATH`) is looked up by [`System::locate_binaries`].
    pub fn from_spec(spec: &SystemSpec) -> Result<Etcd, SystemError> {
        let serializable_reads = serializable_reads(&spec.db_opts)?;
        let mut flags: Vec<(String, String)> = DEFAULT_FLAGS
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        for (k, v) in &spec.db_opts {
            if k == SERIALIZABLE_READS {
                continue;
            }
            let key = k.trim_start_matches('-');
            if key.is_empty() || key.contains('=') {
                return Err(SystemError::BadConfig(format!(
                    "--db-opt `{k}={v}`: the key must be an etcd flag name without dashes"
                )));
            }
            if RESERVED_FLAGS.contains(&key) {
                return Err(SystemError::BadConfig(format!(
                    "--db-opt `{key}` is set by the harness from the cluster layout"
                )));
            }
            match flags.iter_mut().find(|(fk, _)| fk == key) {
                Some(slot) => slot.1 = v.clone(),
                None => flags.push((key.to_string(), v.clone())),
            }
        }
        Ok(Etcd {
            explicit_bin: spec.db_bin.clone(),
            bin: None,
            flags,
            serializable_reads,
            loopback_peer_ports: Mutex::new(BTreeMap::new()),
        })
    }

    /// The etcd binary in use, once located.
    pub fn bin(&self) -> Option<&Path> {
        self.bin.as_deref()
    }

    /// Whether clients must use serializable reads (`--db-opt serializable-reads=true`).
    pub fn serializable_reads(&self) -> bool {
        self.serializable_reads
    }

    /// The peer URL of `node`: port 2380 on its own address (netns), or a loopback port
    /// chosen once for the run.
    fn peer_url(&self, node: &NodeSpec, cluster: &[NodeSpec]) -> Result<String, SystemError> {
        let ip = node.listen.ip();
        if !ip.is_loopback() {
            return Ok(url(SocketAddr::new(ip, PEER_PORT)));
        }
        let mut ports = self
            .loopback_peer_ports
            .lock()
            .map_err(|_| SystemError::BadConfig("etcd peer port table poisoned".into()))?;
        if let Some(port) = ports.get(&node.id) {
            return Ok(url(SocketAddr::new(ip, *port)));
        }
        let taken: Vec<u16> = cluster
            .iter()
            .map(|n| n.listen.port())
            .chain(ports.values().copied())
            .collect();
        let port = free_loopback_port(ip, &taken)?;
        ports.insert(node.id, port);
        Ok(url(SocketAddr::new(ip, port)))
    }

    /// The initial cluster token: unique per run (derived from the run's data directories),
    /// so members of two runs can never join each other.
    fn cluster_token(cluster: &[NodeSpec]) -> String {
        let seed = cluster
            .first()
            .map(|n| n.data_dir.display().to_string())
            .unwrap_or_default();
        format!("harness-{:016x}", fnv1a(seed.as_bytes()))
    }
}

/// The registry constructor.
pub fn build(spec: &SystemSpec) -> Result<Box<dyn System>, SystemError> {
    Ok(Box::new(Etcd::from_spec(spec)?))
}

impl System for Etcd {
    fn name(&self) -> &str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            proxy: false,
            leader_in_status: false,
            workloads: vec![
                WorkloadKind::Register,
                WorkloadKind::Set,
                WorkloadKind::Append,
            ],
            protocol: Protocol::Etcd {
                serializable_reads: self.serializable_reads,
            },
            discards_data_on_pass: true,
        }
    }

    fn clock_refusal(&self) -> Option<String> {
        Some(
            "--nemesis clock cannot reach etcd: the clock nemesis changes a node's time by \
             preloading libfaketime, which only intercepts clock calls made through glibc, and \
             etcd (Go) reads both clocks through the vDSO in the Go runtime (measured: with a \
             faked +100 days its log shows the real date; docs/libfaketime.md). Use \
             --nemesis partition,pause,kill for etcd"
                .to_string(),
        )
    }

    fn locate_binaries(&mut self) -> Result<(), SystemError> {
        if self.bin.is_none() {
            self.bin = Some(find_etcd(self.explicit_bin.as_deref())?);
        }
        Ok(())
    }

    fn command(&self, node: &NodeSpec, cluster: &[NodeSpec]) -> Result<Command, SystemError> {
        let own_peer = self.peer_url(node, cluster)?;
        let mut initial = Vec::with_capacity(cluster.len());
        for member in cluster {
            initial.push(format!(
                "{}={}",
                member.name,
                self.peer_url(member, cluster)?
            ));
        }
        if !cluster.iter().any(|m| m.id == node.id) {
            return Err(SystemError::BadConfig(format!(
                "node {} is not part of the cluster it is started in",
                node.name
            )));
        }
        let Some(bin) = &self.bin else {
            return Err(SystemError::BinaryNotFound(
                "etcd was not looked up before starting nodes".into(),
            ));
        };
        let mut cmd = Command::new(bin);
        cmd.arg(format!("--name={}", node.name))
            .arg(format!("--data-dir={}", node.data_dir.display()))
            .arg(format!("--listen-client-urls={}", url(node.listen)))
            .arg(format!("--advertise-client-urls={}", url(node.client_addr)))
            .arg(format!("--listen-peer-urls={own_peer}"))
            .arg(format!("--initial-advertise-peer-urls={own_peer}"))
            .arg(format!("--initial-cluster={}", initial.join(",")))
            .arg("--initial-cluster-state=new")
            .arg(format!(
                "--initial-cluster-token={}",
                Self::cluster_token(cluster)
            ));
        for (k, v) in &self.flags {
            cmd.arg(format!("--{k}={v}"));
        }
        // etcd 3.4 warns about (and ignores) ETCD_* variables that duplicate flags; make sure
        // none leaks in from the harness's environment.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("ETCD_") {
                cmd.env_remove(key);
            }
        }
        Ok(cmd)
    }

    fn ready_probe(&self, _node: &NodeSpec) -> ReadyProbe {
        // `/health` is 200 only when the member knows a leader and a read through it works.
        ReadyProbe::HttpGet {
            path: "/health".into(),
            require_leader: false,
        }
    }

    fn client_port_for(&self, _id: u64) -> u16 {
        CLIENT_PORT
    }
}

/// `serializable-reads` from `--db-opt`s: `true`/`false` (default false).
pub fn serializable_reads(db_opts: &[(String, String)]) -> Result<bool, SystemError> {
    let mut on = false;
    for (k, v) in db_opts {
        if k == SERIALIZABLE_READS {
            on = match v.as_str() {
                "true" | "1" | "yes" | "" => true,
                "false" | "0" | "no" => false,
                other => {
                    return Err(SystemError::BadConfig(format!(
                        "--db-opt {SERIALIZABLE_READS}={other}: expected true or false"
                    )))
                }
            };
        }
    }
    Ok(on)
}

/// The etcd binary: `explicit` (must be a file), else `etcd` on `PATH`.
pub fn find_etcd(explicit: Option<&Path>) -> Result<PathBuf, SystemError> {
    if let Some(p) = explicit {
        return if p.is_file() {
            Ok(p.to_path_buf())
        } else {
            Err(SystemError::BinaryNotFound(format!(
                "etcd binary {} (given by --db-bin) does not exist",
                p.display()
            )))
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join("etcd");
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    Err(SystemError::BinaryNotFound(
        "`etcd` is not on PATH: `bash scripts/setup.sh` installs it (Debian's etcd-server), \
         or pass its path with --db-bin"
            .into(),
    ))
}

fn url(addr: SocketAddr) -> String {
    format!("http://{addr}")
}

/// A port on `ip` that is free now and not in `taken`.
fn free_loopback_port(ip: IpAddr, taken: &[u16]) -> Result<u16, SystemError> {
    for _ in 0..32 {
        let no_port = |e: std::io::Error| SystemError::NoPort(format!("on {ip} for etcd: {e}"));
        let listener = std::net::TcpListener::bind(SocketAddr::new(ip, 0)).map_err(no_port)?;
        let port = listener.local_addr().map_err(no_port)?.port();
        if !taken.contains(&port) {
            return Ok(port);
        }
    }
    Err(SystemError::BadConfig(format!(
        "no free peer port on {ip} for etcd"
    )))
}

/// 64-bit FNV-1a: a stable, dependency-free hash for the cluster token.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(opts: &[(&str, &str)]) -> SystemSpec {
        // /bin/sh stands in for the etcd binary: command() never runs it.
        SystemSpec {
            db: "etcd".into(),
            db_bin: Some(PathBuf::from("/bin/sh")),
            db_opts: opts
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..SystemSpec::default()
        }
    }

    fn node(id: u64, ip: &str, port: u16) -> NodeSpec {
        let addr: SocketAddr = format!("{ip}:{port}").parse().expect("addr");
        NodeSpec {
            id,
            name: format!("n{id}"),
            listen: addr,
            client_addr: addr,
            peer_addrs: vec![],
            data_dir: PathBuf::from(format!("/tmp/run/nodes/n{id}/data")),
            log_dir: PathBuf::from(format!("/tmp/run/nodes/n{id}")),
        }
    }

    fn located(spec: &SystemSpec) -> Etcd {
        let mut db = Etcd::from_spec(spec).expect("db");
        db.locate_binaries().expect("/bin/sh exists");
        db
    }

    fn args(cmd: &Command) -> Vec<String> {
        cmd.get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn netns_command_lists_every_member_on_port_2380() {
        let db = located(&spec(&[]));
        let cluster: Vec<NodeSpec> = (1..=3)
            .map(|i| node(i, &format!("10.9.0.{i}"), 2379))
            .collect();
        let a = args(&db.command(&cluster[1], &cluster).expect("command"));
        assert!(a.contains(&"--name=n2".to_string()), "{a:?}");
        assert!(a.contains(&"--listen-client-urls=http://10.9.0.2:2379".to_string()));
        assert!(a.contains(&"--listen-peer-urls=http://10.9.0.2:2380".to_string()));
        assert!(a.contains(
            &"--initial-cluster=n1=http://10.9.0.1:2380,n2=http://10.9.0.2:2380,n3=http://10.9.0.3:2380"
                .to_string()
        ));
        assert!(a.contains(&"--election-timeout=100".to_string()));
        assert!(a.contains(&"--pre-vote=true".to_string()));
        assert!(a.contains(&"--data-dir=/tmp/run/nodes/n2/data".to_string()));
        assert!(!db.capabilities().proxy);
        assert_eq!(
            db.capabilities().protocol,
            Protocol::Etcd {
                serializable_reads: false
            }
        );
        assert_eq!(db.client_port_for(2), CLIENT_PORT);
    }

    #[test]
    fn loopback_peer_ports_are_distinct_and_stable_across_restarts() {
        let db = located(&spec(&[]));
        let cluster: Vec<NodeSpec> = (1..=3)
            .map(|i| node(i, "127.0.0.1", 20000 + i as u16))
            .collect();
        let first = args(&db.command(&cluster[0], &cluster).expect("command"));
        let again = args(&db.command(&cluster[0], &cluster).expect("command"));
        assert_eq!(first, again, "a restart must reuse the same URLs");
        let initial = first
            .iter()
            .find(|a| a.starts_with("--initial-cluster="))
            .expect("initial cluster");
        let ports: Vec<&str> = initial
            .trim_start_matches("--initial-cluster=")
            .split(',')
            .map(|m| m.rsplit(':').next().unwrap_or(""))
            .collect();
        assert_eq!(ports.len(), 3);
        let mut unique = ports.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 3, "{ports:?}");
        for p in &ports {
            assert!(!["20001", "20002", "20003"].contains(p), "{ports:?}");
        }
    }

    #[test]
    fn db_opts_override_defaults_and_reserved_flags_are_refused() {
        let db = located(&spec(&[
            ("election-timeout", "500"),
            ("serializable-reads", "true"),
        ]));
        assert!(db.serializable_reads());
        let cluster = vec![node(1, "10.9.0.1", 2379)];
        let a = args(&db.command(&cluster[0], &cluster).expect("command"));
        assert!(a.contains(&"--election-timeout=500".to_string()));
        assert!(!a.contains(&"--election-timeout=100".to_string()));
        assert!(!a.iter().any(|x| x.contains("serializable")));
        let err = Etcd::from_spec(&spec(&[("data-dir", "/x")])).expect_err("reserved");
        assert!(err.to_string().contains("data-dir"));
        let err = Etcd::from_spec(&spec(&[("serializable-reads", "maybe")])).expect_err("bad bool");
        assert!(err.to_string().contains("serializable-reads"));
    }

    #[test]
    fn a_missing_binary_is_named() {
        let mut s = spec(&[]);
        s.db_bin = Some(PathBuf::from("/nonexistent/etcd"));
        let err = Etcd::from_spec(&s)
            .expect("built without looking")
            .locate_binaries()
            .expect_err("missing");
        assert!(matches!(err, SystemError::BinaryNotFound(_)));
        assert!(err.to_string().contains("/nonexistent/etcd"));
    }
}
