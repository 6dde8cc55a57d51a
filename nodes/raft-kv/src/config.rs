//! The `raft-node` command line and the node configuration derived from it: identity,
//! listen and per-peer addresses (`--peers 2,3` with default ports 8000+id, or explicit
//! `--peer ID=ADDR`), data dir, timing (milliseconds, mapped to core ticks), snapshot
//! threshold, fsync, request timeout and deliberate bugs.

use crate::bugs::{Bug, Bugs};
use raft_core::config::{ClusterArgs, ClusterConfig, ConfigError};

/// The default port of node `id` is this plus `id`.
pub const PORT_BASE: u16 = 8000;

/// `raft-node` arguments.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "raft-node",
    about = "A Raft key-value node (HTTP API and peer messages on one address; default port 8000+id)"
)]
pub struct NodeArgs {
    /// Identity, addresses, data dir, timing, fsync (shared with every node binary).
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Enable a deliberate bug (repeatable): stale-read, no-persist-vote, early-ack, no-truncate.
    #[arg(long = "bug", value_name = "NAME")]
    pub bug: Vec<Bug>,
}

/// A validated node configuration.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Identity, addresses, data dir, timing, fsync.
    pub cluster: ClusterConfig,
    /// Enabled bugs.
    pub bugs: Bugs,
}

impl NodeArgs {
    /// Validate and resolve defaults.
    pub fn into_config(self) -> Result<NodeConfig, ConfigError> {
        Ok(NodeConfig {
            cluster: self.cluster.resolve(PORT_BASE)?,
            bugs: Bugs::from_list(&self.bug),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use std::path::PathBuf;

    fn parse(args: &[&str]) -> Result<NodeConfig, String> {
        let mut v = vec!["raft-node"];
        v.extend_from_slice(args);
        NodeArgs::try_parse_from(v)
            .map_err(|e| e.to_string())?
            .into_config()
            .map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_follow_the_contract() {
        let c = parse(&["--id", "1", "--peers", "2,3"]).expect("ok");
        assert_eq!(c.cluster.listen.to_string(), "127.0.0.1:8001");
        assert_eq!(
            c.cluster.peers.get(&2).map(String::as_str),
            Some("127.0.0.1:8002")
        );
        assert_eq!(
            c.cluster.peers.get(&3).map(String::as_str),
            Some("127.0.0.1:8003")
        );
        assert_eq!(c.cluster.data_dir, PathBuf::from("data/node1"));
        assert_eq!(c.cluster.tick_ms, 10);
        assert_eq!(c.cluster.election_ticks, (15, 30));
        assert_eq!(c.cluster.heartbeat_ticks, 5);
        assert!(c.cluster.fsync);
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
        assert_eq!(c.cluster.listen.to_string(), "10.0.0.2:9000");
        assert_eq!(c.cluster.peers.len(), 2);
        assert_eq!(c.cluster.peers[&3], "127.0.0.1:7003");
        assert!(c.bugs.stale_read && c.bugs.early_ack && !c.bugs.no_truncate);
        assert!(!c.cluster.fsync);
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
