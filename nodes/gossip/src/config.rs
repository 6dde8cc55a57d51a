//! The `gossip-node` command line: the node flags (identity, listen and per-peer
//! addresses with default ports 9300+id, gossip tunables, key files, data dir) and the
//! subcommands `keygen`, `post` and `read`; validated into a `NodeConfig`.

use crate::core::Byzantine;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

/// The port of node `id` in the default layout.
pub const BASE_PORT: u64 = 9300;

/// The key directory used when no key flags are given.
pub const DEFAULT_KEY_DIR: &str = "gossip-keys";

/// `gossip-node` command line.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "gossip-node",
    about = "One node of a push-pull gossip chat with anti-entropy and signed messages",
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    /// keygen, post or read (without one: run a node).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Node flags.
    #[command(flatten)]
    pub node: NodeArgs,
}

/// Subcommands besides running a node.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Generate keys for nodes 1..=n: DIR/node<i>.key (secret) and DIR/public.txt.
    Keygen {
        /// Number of nodes.
        #[arg(long, default_value_t = 5)]
        n: u64,
        /// Directory to write.
        #[arg(long, default_value = DEFAULT_KEY_DIR)]
        out: PathBuf,
    },
    /// Post a chat message at a node; prints {"origin","seq"}.
    Post {
        /// The node's address.
        #[arg(long, default_value = "127.0.0.1:9301")]
        node: String,
        /// The text.
        body: String,
    },
    /// Print the messages a node delivered, one JSON object a line.
    Read {
        /// The node's address.
        #[arg(long, default_value = "127.0.0.1:9301")]
        node: String,
    },
}

/// Flags of a running node.
#[derive(Debug, Clone, clap::Args)]
pub struct NodeArgs {
    /// This node's id (>= 1). Its name is node<id>.
    #[arg(long, required = true)]
    pub id: Option<u64>,
    /// Peer ids, comma separated; peer j listens on 127.0.0.1:9300+j.
    #[arg(long, value_delimiter = ',')]
    pub peers: Vec<u64>,
    /// Explicit peer address, ID=HOST:PORT (repeatable; overrides --peers for that id).
    #[arg(long = "peer", value_name = "ID=ADDR")]
    pub peer: Vec<String>,
    /// Address to serve clients and peers on (default 127.0.0.1:9300+id).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Peers pushed to per gossip round.
    #[arg(long, default_value_t = 2)]
    pub fanout: usize,
    /// Gossip round interval, ms.
    #[arg(long, default_value_t = 100)]
    pub gossip_ms: u64,
    /// Anti-entropy (digest exchange with one random peer) interval, ms.
    #[arg(long, default_value_t = 1000)]
    pub anti_entropy_ms: u64,
    /// Gossip rounds a new message is pushed for.
    #[arg(long, default_value_t = 3)]
    pub push_rounds: u32,
    /// Most chat messages in one peer message.
    #[arg(long, default_value_t = 64)]
    pub max_batch: usize,
    /// Longest message body accepted, bytes.
    #[arg(long, default_value_t = 4096)]
    pub max_body_bytes: usize,
    /// This node's secret key file (default gossip-keys/node<id>.key).
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// The public key file of all nodes (default gossip-keys/public.txt).
    #[arg(long)]
    pub public: Option<PathBuf>,
    /// Keep delivered messages in DIR/messages.jsonl and reload them on start.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Lie from the start: forge, alter or drop (test hook; see POST /admin/byzantine).
    #[arg(long, value_parser = parse_byzantine)]
    pub byzantine: Option<Byzantine>,
    /// Seed of the node's random peer choices (default: from the clock and the id).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Time allowed to deliver one batch to a peer, ms.
    #[arg(long, default_value_t = 500)]
    pub send_timeout_ms: u64,
}

/// Parse a lying mode name.
pub fn parse_byzantine(s: &str) -> Result<Byzantine, String> {
    match s {
        "forge" => Ok(Byzantine::Forge),
        "alter" => Ok(Byzantine::Alter),
        "drop" => Ok(Byzantine::Drop),
        _ => Err(format!("{s:?}: expected forge, alter or drop")),
    }
}

/// A validated node configuration.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// This node's id.
    pub id: u64,
    /// Listen address.
    pub listen: SocketAddr,
    /// Peer id → address.
    pub peers: BTreeMap<u64, String>,
    /// Fan-out.
    pub fanout: usize,
    /// Gossip interval, ms.
    pub gossip_ms: u64,
    /// Anti-entropy interval, ms.
    pub anti_entropy_ms: u64,
    /// Push rounds per new message.
    pub push_rounds: u32,
    /// Batch limit.
    pub max_batch: usize,
    /// Body limit, bytes.
    pub max_body_bytes: usize,
    /// Secret key file.
    pub key: PathBuf,
    /// Public key file.
    pub public: PathBuf,
    /// Data directory.
    pub data_dir: Option<PathBuf>,
    /// Initial lying mode.
    pub byzantine: Option<Byzantine>,
    /// Seed, if given.
    pub seed: Option<u64>,
    /// Peer send timeout, ms.
    pub send_timeout_ms: u64,
}

/// The default address of node `id`.
pub fn default_addr(id: u64) -> Result<SocketAddr, String> {
    let port = u16::try_from(BASE_PORT + id)
        .map_err(|_| format!("node id {id} too large for the default port 9300+id"))?;
    Ok(SocketAddr::from(([127, 0, 0, 1], port)))
}

fn parse_peer(spec: &str) -> Result<(u64, String), String> {
    let bad = || format!("--peer {spec:?}: expected ID=HOST:PORT with ID >= 1");
    let (id, addr) = spec.split_once('=').ok_or_else(bad)?;
    let id: u64 = id.trim().parse().map_err(|_| bad())?;
    let addr = addr.trim();
    let port_ok = addr
        .rsplit_once(':')
        .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok());
    if id == 0 || !port_ok {
        return Err(bad());
    }
    Ok((id, addr.to_string()))
}

impl NodeArgs {
    fn peers(&self, id: u64) -> Result<BTreeMap<u64, String>, String> {
        let mut peers = BTreeMap::new();
        for &p in &self.peers {
            if p == 0 {
                return Err("--peers: ids must be >= 1".into());
            }
            peers.insert(p, default_addr(p)?.to_string());
        }
        for spec in &self.peer {
            let (pid, addr) = parse_peer(spec)?;
            peers.insert(pid, addr);
        }
        if peers.contains_key(&id) {
            return Err(format!("node {id} lists itself as a peer"));
        }
        if peers.is_empty() {
            return Err("no peers: give --peers 2,3 or --peer ID=ADDR".into());
        }
        Ok(peers)
    }

    /// Validate and resolve defaults.
    pub fn into_config(self) -> Result<NodeConfig, String> {
        let id = self.id.ok_or("--id is required")?;
        if id == 0 {
            return Err("--id must be >= 1".into());
        }
        let peers = self.peers(id)?;
        if self.fanout == 0 || self.max_batch == 0 || self.push_rounds == 0 {
            return Err("--fanout, --max-batch and --push-rounds must be >= 1".into());
        }
        if self.gossip_ms == 0 || self.anti_entropy_ms == 0 || self.send_timeout_ms == 0 {
            return Err("--gossip-ms, --anti-entropy-ms and --send-timeout-ms must be >= 1".into());
        }
        if self.max_body_bytes == 0 || self.max_body_bytes > 64 * 1024 {
            return Err("--max-body-bytes must be between 1 and 65536".into());
        }
        let listen = match self.listen {
            Some(a) => a,
            None => default_addr(id)?,
        };
        let dir = PathBuf::from(DEFAULT_KEY_DIR);
        Ok(NodeConfig {
            id,
            listen,
            peers,
            fanout: self.fanout,
            gossip_ms: self.gossip_ms,
            anti_entropy_ms: self.anti_entropy_ms,
            push_rounds: self.push_rounds,
            max_batch: self.max_batch,
            max_body_bytes: self.max_body_bytes,
            key: self
                .key
                .unwrap_or_else(|| crate::crypto::secret_path(&dir, id)),
            public: self
                .public
                .unwrap_or_else(|| crate::crypto::public_path(&dir)),
            data_dir: self.data_dir,
            byzantine: self.byzantine,
            seed: self.seed,
            send_timeout_ms: self.send_timeout_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<NodeConfig, String> {
        let mut v = vec!["gossip-node"];
        v.extend_from_slice(args);
        let cli = Cli::try_parse_from(v).map_err(|e| e.to_string())?;
        cli.node.into_config()
    }

    #[test]
    fn defaults_use_ports_9300_plus_id_and_the_default_key_dir() {
        let c = parse(&["--id", "3", "--peers", "1,2,4,5"]).expect("ok");
        assert_eq!(c.listen.to_string(), "127.0.0.1:9303");
        assert_eq!(c.peers[&5], "127.0.0.1:9305");
        assert_eq!(c.key, PathBuf::from("gossip-keys/node3.key"));
        assert_eq!(c.public, PathBuf::from("gossip-keys/public.txt"));
        assert_eq!((c.fanout, c.gossip_ms, c.anti_entropy_ms), (2, 100, 1000));
    }

    #[test]
    fn explicit_peers_and_byzantine() {
        let c = parse(&[
            "--id",
            "1",
            "--peers",
            "2",
            "--peer",
            "2=10.0.0.2:7000",
            "--peer",
            "3=[::1]:7003",
            "--byzantine",
            "alter",
        ])
        .expect("ok");
        assert_eq!(c.peers[&2], "10.0.0.2:7000");
        assert_eq!(c.peers[&3], "[::1]:7003");
        assert_eq!(c.byzantine, Some(Byzantine::Alter));
    }

    #[test]
    fn subcommands_parse_without_node_flags() {
        let cli =
            Cli::try_parse_from(["gossip-node", "keygen", "--n", "3", "--out", "k"]).expect("ok");
        assert!(matches!(cli.command, Some(Command::Keygen { n: 3, .. })));
        let cli = Cli::try_parse_from(["gossip-node", "post", "hi"]).expect("ok");
        assert!(matches!(cli.command, Some(Command::Post { .. })));
    }

    #[test]
    fn bad_flags_are_named() {
        let e = |a: &[&str]| parse(a).expect_err("must fail");
        assert!(e(&["--peers", "2"]).contains("--id"));
        assert!(e(&["--id", "0", "--peers", "2"]).contains("--id"));
        assert!(e(&["--id", "1", "--peers", "1,2"]).contains("lists itself"));
        assert!(e(&["--id", "1"]).contains("no peers"));
        assert!(e(&["--id", "1", "--peer", "2"]).contains("ID=HOST:PORT"));
        assert!(e(&["--id", "1", "--peer", "2=host"]).contains("ID=HOST:PORT"));
        assert!(e(&["--id", "1", "--peers", "2", "--fanout", "0"]).contains("--fanout"));
        assert!(e(&["--id", "1", "--peers", "2", "--byzantine", "lie"])
            .contains("forge, alter or drop"));
        assert!(e(&["--id", "70000", "--peers", "2"]).contains("too large"));
    }
}
