//! The `pbft-node` command line and the node configuration derived from it: identity,
//! listen and per-peer addresses (`--peers 2,3,4` with default ports 9200+id, or explicit
//! `--peer ID=ADDR`), key files, data dir, timing (milliseconds, mapped to core ticks),
//! checkpoints and watermarks, deliberate bugs and a Byzantine mode. Also `keygen`.

use crate::faults::{Bug, Bugs, Mode};
use crate::types::ReplicaId;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Base of the default ports: node i listens on 127.0.0.1:9200+i.
pub const BASE_PORT: u64 = 9200;

/// `pbft-node keygen` arguments.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "pbft-node keygen",
    about = "Write one secret key file per node and one public key file"
)]
pub struct KeygenArgs {
    /// Number of nodes.
    #[arg(long, default_value_t = 4)]
    pub n: u64,
    /// Folder to write node<i>.key and public.json into (created; never overwritten).
    #[arg(long)]
    pub out: PathBuf,
}

/// `pbft-node` arguments.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "pbft-node",
    about = "A PBFT chat-room replica (client API and replica messages on one HTTP address). \
             `pbft-node keygen --n 4 --out DIR` writes key files."
)]
pub struct NodeArgs {
    /// This node's id (1..=n).
    #[arg(long)]
    pub id: u64,
    /// Peer ids, comma separated; peer j listens on 127.0.0.1:9200+j.
    #[arg(long, value_delimiter = ',')]
    pub peers: Vec<u64>,
    /// Explicit peer address, ID=HOST:PORT (repeatable; overrides --peers for that id).
    #[arg(long = "peer", value_name = "ID=ADDR")]
    pub peer: Vec<String>,
    /// Address to serve clients and peers on (default 127.0.0.1:9200+id).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Data directory (default ./data/pbft<id>).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// This node's secret key file (from `pbft-node keygen`); needs --public.
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// The public key file of all nodes; needs --key.
    #[arg(long)]
    pub public: Option<PathBuf>,
    /// Without --key/--public: a demo keys folder shared by all nodes, created by the first
    /// node that starts (every node can read every secret there: for demos only).
    #[arg(long, default_value = "data/pbft-keys")]
    pub keys_dir: PathBuf,
    /// Length of a core tick, ms.
    #[arg(long, default_value_t = 10)]
    pub tick_ms: u64,
    /// A backup suspects the primary when a request it holds is not executed in this time, ms.
    #[arg(long, default_value_t = 1000)]
    pub view_change_timeout_ms: u64,
    /// Checkpoint every K sequence numbers.
    #[arg(long, default_value_t = 16)]
    pub checkpoint_interval: u64,
    /// Watermark window L (sequence numbers in (stable, stable+L] are accepted).
    #[arg(long, default_value_t = 64)]
    pub window: u64,
    /// Time a client request waits to be executed before answering 504, ms.
    #[arg(long, default_value_t = 5000)]
    pub request_timeout_ms: u64,
    /// Enable a deliberate bug (repeatable): small-quorum, no-view-change-check.
    #[arg(long = "bug", value_name = "NAME")]
    pub bug: Vec<Bug>,
    /// Play a Byzantine node from the start: equivocate, forge-votes, bad-signature, silent, replay.
    #[arg(long)]
    pub byzantine: Option<Mode>,
}

/// Where the node's keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `--key` and `--public`.
    Files {
        /// Secret key file.
        key: PathBuf,
        /// Public keys file.
        public: PathBuf,
    },
    /// The shared demo folder.
    DemoDir(PathBuf),
}

/// A validated node configuration.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// This node.
    pub id: ReplicaId,
    /// Number of replicas.
    pub n: u64,
    /// Listen address.
    pub listen: SocketAddr,
    /// Peer id → address.
    pub peers: BTreeMap<ReplicaId, String>,
    /// Data dir.
    pub data_dir: PathBuf,
    /// Keys.
    pub keys: KeySource,
    /// Tick, ms.
    pub tick_ms: u64,
    /// View-change (request) timeout in ticks.
    pub view_change_ticks: u64,
    /// Checkpoint interval.
    pub checkpoint_interval: u64,
    /// Watermark window.
    pub window: u64,
    /// Client wait, ms.
    pub request_timeout_ms: u64,
    /// Bugs.
    pub bugs: Bugs,
    /// Byzantine mode at start.
    pub byzantine: Option<Mode>,
}

fn default_addr(id: u64) -> Result<String, String> {
    let port = u16::try_from(BASE_PORT + id)
        .map_err(|_| format!("node id {id} too large for the default port"))?;
    Ok(format!("127.0.0.1:{port}"))
}

fn parse_peer(spec: &str) -> Result<(u64, String), String> {
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
    Ok((id, addr.trim().to_string()))
}

impl NodeArgs {
    /// Validate and resolve defaults.
    pub fn into_config(self) -> Result<NodeConfig, String> {
        let mut peers = BTreeMap::new();
        for p in &self.peers {
            peers.insert(*p, default_addr(*p)?);
        }
        for spec in &self.peer {
            let (id, addr) = parse_peer(spec)?;
            peers.insert(id, addr);
        }
        if self.id == 0 || peers.contains_key(&self.id) || peers.contains_key(&0) {
            return Err(format!(
                "--id {} must be >= 1 and not among the peers",
                self.id
            ));
        }
        let n = peers.len() as u64 + 1;
        if n < 4 {
            return Err(format!(
                "PBFT needs n = 3f+1 >= 4 replicas; got {n} (use --peers)"
            ));
        }
        let ids_ok = (1..=n).all(|i| i == self.id || peers.contains_key(&i));
        if !ids_ok {
            return Err(format!(
                "node ids must be exactly 1..={n} (this node and --peers)"
            ));
        }
        let keys = match (self.key, self.public) {
            (Some(key), Some(public)) => KeySource::Files { key, public },
            (None, None) => KeySource::DemoDir(self.keys_dir),
            _ => return Err("--key and --public go together".into()),
        };
        let listen = match self.listen {
            Some(a) => a,
            None => default_addr(self.id)?
                .parse()
                .map_err(|e| format!("default listen address: {e}"))?,
        };
        if self.tick_ms == 0
            || self.checkpoint_interval == 0
            || self.window < 2 * self.checkpoint_interval
        {
            return Err("--tick-ms and --checkpoint-interval must be >= 1, --window >= 2 x checkpoint interval".into());
        }
        Ok(NodeConfig {
            id: self.id,
            n,
            listen,
            peers,
            data_dir: self
                .data_dir
                .unwrap_or_else(|| PathBuf::from(format!("data/pbft{}", self.id))),
            keys,
            tick_ms: self.tick_ms,
            view_change_ticks: (self.view_change_timeout_ms / self.tick_ms).max(2),
            checkpoint_interval: self.checkpoint_interval,
            window: self.window,
            request_timeout_ms: self.request_timeout_ms.max(1),
            bugs: Bugs::from_list(&self.bug),
            byzantine: self.byzantine,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<NodeConfig, String> {
        let mut v = vec!["pbft-node"];
        v.extend_from_slice(args);
        NodeArgs::try_parse_from(v)
            .map_err(|e| e.to_string())?
            .into_config()
    }

    #[test]
    fn defaults_follow_the_contract() {
        let c = parse(&["--id", "1", "--peers", "2,3,4"]).expect("ok");
        assert_eq!(c.listen.to_string(), "127.0.0.1:9201");
        assert_eq!(c.peers[&4], "127.0.0.1:9204");
        assert_eq!(c.n, 4);
        assert_eq!(c.keys, KeySource::DemoDir(PathBuf::from("data/pbft-keys")));
        assert_eq!(c.view_change_ticks, 100);
        assert!(c.byzantine.is_none() && c.bugs == Bugs::default());
    }

    #[test]
    fn explicit_peers_keys_bugs_and_modes() {
        let c = parse(&[
            "--id",
            "2",
            "--listen",
            "127.0.0.1:7002",
            "--peer",
            "1=127.0.0.1:7001",
            "--peer",
            "3=127.0.0.1:7003",
            "--peer",
            "4=127.0.0.1:7004",
            "--key",
            "k/node2.key",
            "--public",
            "k/public.json",
            "--bug",
            "small-quorum",
            "--byzantine",
            "equivocate",
        ])
        .expect("ok");
        assert_eq!(c.peers[&3], "127.0.0.1:7003");
        assert!(c.bugs.small_quorum && !c.bugs.no_view_change_check);
        assert_eq!(c.byzantine, Some(Mode::Equivocate));
        assert!(matches!(c.keys, KeySource::Files { .. }));
    }

    #[test]
    fn bad_flags_are_refused_with_a_reason() {
        let e = parse(&["--id", "1", "--peers", "2,3,4", "--bug", "nope"]).expect_err("bug");
        assert!(e.contains("small-quorum"), "{e}");
        let e = parse(&["--id", "1", "--peers", "2,3,4", "--byzantine", "lie"]).expect_err("m");
        assert!(e.contains("equivocate"), "{e}");
        assert!(parse(&["--id", "1", "--peers", "2,3"])
            .expect_err("n")
            .contains(">= 4"));
        assert!(parse(&["--id", "1", "--peers", "2,3,5"]).is_err());
        assert!(parse(&["--id", "1", "--peers", "1,2,3"]).is_err());
        assert!(parse(&["--id", "1", "--peers", "2,3,4", "--key", "x"]).is_err());
        assert!(parse(&["--id", "1", "--peer", "2"]).is_err());
    }
}
