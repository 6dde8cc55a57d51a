//! The `paxos-node` command line and the validated node configuration: identity, listen
//! and peer addresses (`--peers 2,3` with default ports 7000+id, or `--peer ID=ADDR`), data
//! dir, timing in milliseconds (mapped to core ticks), snapshot threshold, fsync, request
//! timeout and deliberate bugs. Flags follow raft-node's, so a harness can start either.

use crate::bugs::{Bug, Bugs};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Base of the default ports: node `id` listens on 127.0.0.1:(7000+id).
pub const BASE_PORT: u64 = 7000;

/// `paxos-node` arguments.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "paxos-node",
    about = "A Multi-Paxos key-value node (HTTP API and peer messages on one address)"
)]
pub struct NodeArgs {
    /// This node's id (>= 1); its protocol name is node<id>.
    #[arg(long)]
    pub id: u64,
    /// Peer ids, comma separated; peer j listens on 127.0.0.1:7000+j.
    #[arg(long, value_delimiter = ',')]
    pub peers: Vec<u64>,
    /// Explicit peer address, ID=HOST:PORT (repeatable; overrides --peers for that id).
    #[arg(long = "peer", value_name = "ID=ADDR")]
    pub peer: Vec<String>,
    /// Address to serve clients and peers on (default 127.0.0.1:7000+id).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Data directory (default ./data/paxos-node<id>).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Minimum election timeout, ms.
    #[arg(long, default_value_t = 150)]
    pub election_timeout_min_ms: u64,
    /// Maximum election timeout, ms.
    #[arg(long, default_value_t = 300)]
    pub election_timeout_max_ms: u64,
    /// Heartbeat interval, ms.
    #[arg(long, default_value_t = 50)]
    pub heartbeat_ms: u64,
    /// Snapshot and compact once this many applied slots are not in the snapshot.
    #[arg(long, default_value_t = 10000)]
    pub snapshot_threshold: u64,
    /// Do not fsync (faster, unsafe on power loss).
    #[arg(long)]
    pub no_fsync: bool,
    /// Time a client request waits before answering 504, ms.
    #[arg(long, default_value_t = 2000)]
    pub request_timeout_ms: u64,
    /// Enable a deliberate bug (repeatable).
    #[arg(long = "bug", value_name = "NAME")]
    pub bug: Vec<Bug>,
}

/// A validated node configuration.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// This node's id.
    pub id: u64,
    /// Listen address.
    pub listen: SocketAddr,
    /// Peer id → address to send to.
    pub peers: BTreeMap<u64, String>,
    /// Data directory.
    pub data_dir: PathBuf,
    /// One core tick, ms.
    pub tick_ms: u64,
    /// Election timeout range, ticks.
    pub election_ticks: (u64, u64),
    /// Heartbeat interval, ticks.
    pub heartbeat_ticks: u64,
    /// Snapshot threshold, slots.
    pub snapshot_threshold: u64,
    /// fsync on/off.
    pub fsync: bool,
    /// Client request timeout, ms.
    pub request_timeout_ms: u64,
    /// Enabled bugs.
    pub bugs: Bugs,
}

/// A flag combination that makes no sense.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

fn default_addr(id: u64) -> Result<String, ConfigError> {
    let port = BASE_PORT + id;
    if port > 65535 {
        return Err(ConfigError(format!(
            "id {id}: no default port (7000+id > 65535); give --listen / --peer {id}=ADDR"
        )));
    }
    Ok(format!("127.0.0.1:{port}"))
}

impl NodeArgs {
    /// Validate and derive the configuration.
    pub fn into_config(self) -> Result<NodeConfig, ConfigError> {
        if self.id == 0 {
            return Err(ConfigError("--id 0: ids start at 1".into()));
        }
        let mut peers = BTreeMap::new();
        for &p in &self.peers {
            peers.insert(p, default_addr(p)?);
        }
        for spec in &self.peer {
            let (id, addr) = parse_peer(spec)?;
            peers.insert(id, addr);
        }
        if peers.contains_key(&self.id) || peers.contains_key(&0) {
            return Err(ConfigError(format!(
                "--peers/--peer: must not name this node ({}) or 0",
                self.id
            )));
        }
        let listen = match self.listen {
            Some(a) => a,
            None => default_addr(self.id)?
                .parse()
                .map_err(|e| ConfigError(format!("default listen address: {e}")))?,
        };
        let (min, max) = (self.election_timeout_min_ms, self.election_timeout_max_ms);
        if min == 0 || max < min || self.heartbeat_ms == 0 || self.heartbeat_ms >= min {
            return Err(ConfigError(format!(
                "timing: need 0 < --heartbeat-ms ({}) < --election-timeout-min-ms ({min}) <= --election-timeout-max-ms ({max})",
                self.heartbeat_ms
            )));
        }
        if self.request_timeout_ms == 0 || self.snapshot_threshold == 0 {
            return Err(ConfigError(
                "--request-timeout-ms and --snapshot-threshold must be positive".into(),
            ));
        }
        let tick_ms = if self.heartbeat_ms < 20 { 1 } else { 10 };
        let mut bugs = self.bug.clone();
        bugs.sort();
        bugs.dedup();
        Ok(NodeConfig {
            id: self.id,
            listen,
            peers,
            data_dir: self
                .data_dir
                .unwrap_or_else(|| PathBuf::from(format!("data/paxos-node{}", self.id))),
            tick_ms,
            election_ticks: (min.div_ceil(tick_ms), max.div_ceil(tick_ms)),
            heartbeat_ticks: self.heartbeat_ms.div_ceil(tick_ms),
            snapshot_threshold: self.snapshot_threshold,
            fsync: !self.no_fsync,
            request_timeout_ms: self.request_timeout_ms,
            bugs: Bugs(bugs),
        })
    }
}

fn parse_peer(spec: &str) -> Result<(u64, String), ConfigError> {
    let bad = || {
        ConfigError(format!(
            "--peer {spec}: expected ID=HOST:PORT, like 2=127.0.0.1:7002"
        ))
    };
    let (id, addr) = spec.split_once('=').ok_or_else(bad)?;
    let id: u64 = id.trim().parse().map_err(|_| bad())?;
    let addr = addr.trim();
    let (host, port) = addr.rsplit_once(':').ok_or_else(bad)?;
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(bad());
    }
    Ok((id, addr.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn cfg(args: &[&str]) -> Result<NodeConfig, ConfigError> {
        let mut v = vec!["paxos-node"];
        v.extend_from_slice(args);
        NodeArgs::try_parse_from(v).expect("parses").into_config()
    }

    #[test]
    fn defaults_use_ports_7000_plus_id() {
        let c = cfg(&["--id", "1", "--peers", "2,3"]).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:7001");
        assert_eq!(c.peers[&3], "127.0.0.1:7003");
        assert_eq!(c.election_ticks, (15, 30));
        assert!(c.fsync);
    }

    #[test]
    fn explicit_peers_override_and_bad_specs_are_named() {
        let c = cfg(&["--id", "1", "--peers", "2", "--peer", "2=10.0.0.2:9000"]).unwrap();
        assert_eq!(c.peers[&2], "10.0.0.2:9000");
        let e = cfg(&["--id", "1", "--peer", "2:9000"]).unwrap_err();
        assert!(e.0.contains("--peer 2:9000"), "{e}");
        let e = cfg(&["--id", "1", "--peers", "1,2"]).unwrap_err();
        assert!(e.0.contains("must not name this node"), "{e}");
        let e = cfg(&["--id", "1", "--heartbeat-ms", "500"]).unwrap_err();
        assert!(e.0.contains("timing"), "{e}");
    }

    #[test]
    fn unknown_bugs_are_refused_by_the_parser() {
        let e = NodeArgs::try_parse_from(["paxos-node", "--id", "1", "--bug", "nope"]).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("no-adopt") && text.contains("forget-promise"),
            "{text}"
        );
        let c = cfg(&["--id", "1", "--bug", "stale-read", "--bug", "stale-read"]).unwrap();
        assert_eq!(c.bugs.names(), vec!["stale-read"]);
    }
}
