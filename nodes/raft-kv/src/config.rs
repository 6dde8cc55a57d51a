//! The `raft-node` command line and the node configuration derived from it: identity,
//! listen and per-peer addresses (`--peers 2,3` with default ports 8000+id, or explicit
//! `--peer ID=ADDR`), data dir, timing (milliseconds, mapped to core ticks), snapshot
//! threshold, fsync, request timeout and deliberate bugs.

use crate::bugs::{Bug, Bugs};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

/// `raft-node` arguments.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "raft-node",
    about = "A Raft key-value node (HTTP API and peer messages on one address)"
)]
pub struct NodeArgs {
    /// This node's id (>= 1); its protocol name is node<id>.
    #[arg(long)]
    pub id: u64,
    /// Peer ids, comma separated; peer j listens on 127.0.0.1:8000+j.
    #[arg(long, value_delimiter = ',')]
    pub peers: Vec<u64>,
    /// Explicit peer address, ID=HOST:PORT (repeatable; overrides --peers for that id).
    #[arg(long = "peer", value_name = "ID=ADDR")]
    pub peer: Vec<String>,
    /// Address to serve clients and peers on (default 127.0.0.1:8000+id).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Data directory (default ./data/node<id>).
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
    /// Take a snapshot when the log holds more than this many entries.
    #[arg(long, default_value_t = 10000)]
    pub snapshot_threshold: u64,
    /// Do not fsync (faster, unsafe on power loss).
    #[arg(long)]
    pub no_fsync: bool,
    /// Time a client request waits for commit before answering 504, ms.
    #[arg(long, default_value_t = 2000)]
    pub request_timeout_ms: u64,
    /// Enable a deliberate bug (repeatable): stale-read, no-persist-vote, early-ack, no-truncate.
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
    /// Length of one core tick, ms.
    pub tick_ms: u64,
    /// Election timeout range in ticks.
    pub election_ticks: (u64, u64),
    /// Heartbeat interval in ticks.
    pub heartbeat_ticks: u64,
    /// Snapshot threshold in entries.
    pub snapshot_threshold: u64,
    /// fsync on/off.
    pub fsync: bool,
    /// Client request timeout, ms.
    pub request_timeout_ms: u64,
    /// Enabled bugs.
    pub bugs: Bugs,
}

/// The port of node `id` in the default layout.
pub fn default_port(id: u64) -> Result<u16, String> {
    u16::try_from(8000 + id).map_err(|_| format!("node id {id} too large for the default port"))
}

impl NodeArgs {
    /// Validate and resolve defaults.
    pub fn into_config(self) -> Result<NodeConfig, String> {
        if self.id == 0 {
            return Err("--id must be >= 1".into());
        }
        let mut peers = BTreeMap::new();
        for p in &self.peers {
            peers.insert(*p, format!("127.0.0.1:{}", default_port(*p)?));
        }
        for spec in &self.peer {
            let (id, addr) = spec
                .split_once('=')
                .ok_or_else(|| format!("--peer {spec:?}: expected ID=HOST:PORT"))?;
            let id: u64 = id
                .trim()
                .parse()
                .map_err(|_| format!("--peer {spec:?}: {id:?} is not a node id"))?;
            if id == 0 || addr.trim().is_empty() {
                return Err(format!(
                    "--peer {spec:?}: expected ID=HOST:PORT with ID >= 1"
                ));
            }
            peers.insert(id, addr.trim().to_string());
        }
        if peers.contains_key(&self.id) {
            return Err(format!("node {} lists itself as a peer", self.id));
        }
        let listen = match self.listen {
            Some(a) => a,
            None => SocketAddr::from(([127, 0, 0, 1], default_port(self.id)?)),
        };
        if self.heartbeat_ms == 0 {
            return Err("--heartbeat-ms must be >= 1".into());
        }
        if self.election_timeout_min_ms <= self.heartbeat_ms {
            return Err("--election-timeout-min-ms must be greater than --heartbeat-ms".into());
        }
        if self.election_timeout_max_ms < self.election_timeout_min_ms {
            return Err("--election-timeout-max-ms must be >= --election-timeout-min-ms".into());
        }
        if self.snapshot_threshold == 0 {
            return Err("--snapshot-threshold must be >= 1".into());
        }
        // A tick is 10 ms, or less if the heartbeat is shorter than 20 ms.
        let tick_ms = (self.heartbeat_ms / 2).clamp(1, 10);
        let ticks = |ms: u64| (ms / tick_ms).max(1);
        let heartbeat_ticks = ticks(self.heartbeat_ms);
        let emin = ticks(self.election_timeout_min_ms).max(heartbeat_ticks + 1);
        let emax = ticks(self.election_timeout_max_ms).max(emin + 1);
        Ok(NodeConfig {
            id: self.id,
            listen,
            peers,
            data_dir: self
                .data_dir
                .unwrap_or_else(|| PathBuf::from(format!("data/node{}", self.id))),
            tick_ms,
            election_ticks: (emin, emax),
            heartbeat_ticks,
            snapshot_threshold: self.snapshot_threshold,
            fsync: !self.no_fsync,
            request_timeout_ms: self.request_timeout_ms.max(1),
            bugs: Bugs::from_list(&self.bug),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<NodeConfig, String> {
        let mut v = vec!["raft-node"];
        v.extend_from_slice(args);
        NodeArgs::try_parse_from(v)
            .map_err(|e| e.to_string())?
            .into_config()
    }

    #[test]
    fn defaults_follow_the_contract() {
        let c = parse(&["--id", "1", "--peers", "2,3"]).expect("ok");
        assert_eq!(c.listen.to_string(), "127.0.0.1:8001");
        assert_eq!(c.peers.get(&2).map(String::as_str), Some("127.0.0.1:8002"));
        assert_eq!(c.peers.get(&3).map(String::as_str), Some("127.0.0.1:8003"));
        assert_eq!(c.data_dir, PathBuf::from("data/node1"));
        assert_eq!(c.tick_ms, 10);
        assert_eq!(c.election_ticks, (15, 30));
        assert_eq!(c.heartbeat_ticks, 5);
        assert!(c.fsync);
        assert_eq!(c.bugs, Bugs::default());
    }

    #[test]
    fn explicit_peers_and_bugs() {
        let c = parse(&[
            "--id",
            "2",
            "--listen",
            "10.0.0.2:9000",
            "--peer",
            "1=10.0.0.1:9000",
            "--peer",
            "3=127.0.0.1:7003",
            "--bug",
            "stale-read",
            "--bug",
            "early-ack",
            "--no-fsync",
        ])
        .expect("ok");
        assert_eq!(c.listen.to_string(), "10.0.0.2:9000");
        assert_eq!(c.peers.len(), 2);
        assert_eq!(c.peers[&3], "127.0.0.1:7003");
        assert!(c.bugs.stale_read && c.bugs.early_ack && !c.bugs.no_truncate);
        assert!(!c.fsync);
    }

    #[test]
    fn bad_flags_rejected() {
        assert!(parse(&["--id", "1", "--bug", "nope"])
            .expect_err("bug")
            .contains("unknown bug"));
        assert!(parse(&["--id", "0"]).is_err());
        assert!(parse(&["--id", "1", "--peers", "1,2"]).is_err());
        assert!(parse(&["--id", "1", "--peer", "2"]).is_err());
        assert!(parse(&["--id", "1", "--heartbeat-ms", "200"]).is_err());
    }
}
