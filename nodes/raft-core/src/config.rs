//! The command-line flags every Raft node binary shares (identity, listen and peer
//! addresses, data dir, timing, snapshot threshold, fsync, request timeout) and their
//! validation into a [`ClusterConfig`]. Each binary flattens [`ClusterArgs`] into its own
//! parser and picks its default port base (`raft-node` 8000+id, `lock-node` 9000+id).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

/// A flag combination that cannot run, with a message naming the flag.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// Flags shared by every node binary.
#[derive(Debug, Clone, clap::Args)]
pub struct ClusterArgs {
    /// This node's id (>= 1); its protocol name is node<id>.
    #[arg(long)]
    pub id: u64,
    /// Peer ids, comma separated; peer j listens on 127.0.0.1:<port base>+j.
    #[arg(long, value_delimiter = ',')]
    pub peers: Vec<u64>,
    /// Explicit peer address, ID=HOST:PORT (repeatable; overrides --peers for that id).
    #[arg(long = "peer", value_name = "ID=ADDR")]
    pub peer: Vec<String>,
    /// Address to serve clients and peers on (default 127.0.0.1:<port base>+id).
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
}

/// A validated node configuration (everything but the application's own flags).
#[derive(Debug, Clone)]
pub struct ClusterConfig {
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
}

impl ClusterConfig {
    /// Every voter id (this node and its peers), sorted.
    pub fn voters(&self) -> Vec<u64> {
        let mut v: Vec<u64> = self.peers.keys().copied().collect();
        v.push(self.id);
        v.sort_unstable();
        v
    }
}

/// The port of node `id` in the default layout `base + id`.
pub fn default_port(base: u16, id: u64) -> Result<u16, ConfigError> {
    u16::try_from(u64::from(base) + id)
        .map_err(|_| ConfigError(format!("node id {id} too large for the default port")))
}

fn parse_peer_spec(spec: &str) -> Result<(u64, String), ConfigError> {
    let (id, addr) = spec
        .split_once('=')
        .ok_or_else(|| ConfigError(format!("--peer {spec:?}: expected ID=HOST:PORT")))?;
    let id: u64 = id
        .trim()
        .parse()
        .map_err(|_| ConfigError(format!("--peer {spec:?}: {id:?} is not a node id")))?;
    if id == 0 || addr.trim().is_empty() {
        return Err(ConfigError(format!(
            "--peer {spec:?}: expected ID=HOST:PORT with ID >= 1"
        )));
    }
    Ok((id, addr.trim().to_string()))
}

impl ClusterArgs {
    fn resolve_peers(&self, port_base: u16) -> Result<BTreeMap<u64, String>, ConfigError> {
        let mut peers = BTreeMap::new();
        for p in &self.peers {
            peers.insert(*p, format!("127.0.0.1:{}", default_port(port_base, *p)?));
        }
        for spec in &self.peer {
            let (id, addr) = parse_peer_spec(spec)?;
            peers.insert(id, addr);
        }
        if peers.contains_key(&self.id) {
            return Err(ConfigError(format!(
                "node {} lists itself as a peer",
                self.id
            )));
        }
        Ok(peers)
    }

    fn check_timing(&self) -> Result<(), ConfigError> {
        let err = |m: &str| Err(ConfigError(m.to_string()));
        if self.heartbeat_ms == 0 {
            return err("--heartbeat-ms must be >= 1");
        }
        if self.election_timeout_min_ms <= self.heartbeat_ms {
            return err("--election-timeout-min-ms must be greater than --heartbeat-ms");
        }
        if self.election_timeout_max_ms < self.election_timeout_min_ms {
            return err("--election-timeout-max-ms must be >= --election-timeout-min-ms");
        }
        if self.snapshot_threshold == 0 {
            return err("--snapshot-threshold must be >= 1");
        }
        Ok(())
    }

    /// Validate and resolve defaults; `port_base` + id is the default port of a node.
    pub fn resolve(self, port_base: u16) -> Result<ClusterConfig, ConfigError> {
        if self.id == 0 {
            return Err(ConfigError("--id must be >= 1".into()));
        }
        let peers = self.resolve_peers(port_base)?;
        let listen = match self.listen {
            Some(a) => a,
            None => SocketAddr::from(([127, 0, 0, 1], default_port(port_base, self.id)?)),
        };
        self.check_timing()?;
        // A tick is 10 ms, or less if the heartbeat is shorter than 20 ms.
        let tick_ms = (self.heartbeat_ms / 2).clamp(1, 10);
        let ticks = |ms: u64| (ms / tick_ms).max(1);
        let heartbeat_ticks = ticks(self.heartbeat_ms);
        let emin = ticks(self.election_timeout_min_ms).max(heartbeat_ticks + 1);
        let emax = ticks(self.election_timeout_max_ms).max(emin + 1);
        Ok(ClusterConfig {
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
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        cluster: ClusterArgs,
    }

    fn parse(base: u16, args: &[&str]) -> Result<ClusterConfig, String> {
        let mut v = vec!["node"];
        v.extend_from_slice(args);
        Cli::try_parse_from(v)
            .map_err(|e| e.to_string())?
            .cluster
            .resolve(base)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn port_base_decides_the_default_addresses() {
        let c = parse(9000, &["--id", "1", "--peers", "2,3"]).expect("ok");
        assert_eq!(c.listen.to_string(), "127.0.0.1:9001");
        assert_eq!(c.peers[&3], "127.0.0.1:9003");
        assert_eq!(c.voters(), vec![1, 2, 3]);
        let c = parse(8000, &["--id", "2", "--peers", "1"]).expect("ok");
        assert_eq!(c.listen.to_string(), "127.0.0.1:8002");
    }

    #[test]
    fn bad_specs_are_named() {
        let e = parse(9000, &["--id", "1", "--peer", "x=1.2.3.4:5"]).expect_err("bad id");
        assert!(e.contains("\"x\" is not a node id"), "{e}");
        let e = parse(9000, &["--id", "1", "--peers", "1"]).expect_err("self");
        assert!(e.contains("lists itself"), "{e}");
        assert!(parse(65535, &["--id", "7"]).is_err());
    }
}
