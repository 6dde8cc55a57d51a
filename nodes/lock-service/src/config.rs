//! The `lock-node` command line: the flags every node shares (`raft-core`'s
//! [`ClusterArgs`], with default ports 9000+id so a lock cluster and a raft-kv cluster can
//! run side by side) and the deliberate bugs.

use crate::bugs::{Bug, Bugs};
use raft_core::config::{ClusterArgs, ClusterConfig, ConfigError};

/// The default port of node `id` is this plus `id`.
pub const PORT_BASE: u16 = 9000;

/// `lock-node` arguments.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "lock-node",
    about = "A lock service node: sessions, locks with fencing tokens, versioned values, \
             watches, replicated with Raft (default port 9000+id)"
)]
pub struct NodeArgs {
    /// Identity, addresses, data dir, timing, fsync.
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Enable a deliberate bug (repeatable): no-grace, reuse-token, stale-read,
    /// no-persist-vote, no-truncate.
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
        let mut v = vec!["lock-node"];
        v.extend_from_slice(args);
        NodeArgs::try_parse_from(v)
            .map_err(|e| e.to_string())?
            .into_config()
            .map_err(|e| e.to_string())
    }

    #[test]
    fn seed_flags_give_ports_9000_plus_id() {
        let c = parse(&["--id", "1", "--peers", "2,3"]).expect("ok");
        assert_eq!(c.cluster.listen.to_string(), "127.0.0.1:9001");
        assert_eq!(c.cluster.peers[&2], "127.0.0.1:9002");
        assert_eq!(c.cluster.peers[&3], "127.0.0.1:9003");
        assert_eq!(c.cluster.data_dir, PathBuf::from("data/node1"));
        assert!(c.cluster.fsync);
        assert!(c.bugs.names().is_empty());
    }

    #[test]
    fn bugs_and_bad_flags() {
        let c = parse(&["--id", "2", "--bug", "no-grace", "--bug", "reuse-token"]).expect("ok");
        assert_eq!(c.bugs.names(), vec!["no-grace", "reuse-token"]);
        let e = parse(&["--id", "1", "--bug", "nope"]).expect_err("bad bug");
        assert!(e.contains("unknown bug") && e.contains("stale-read"), "{e}");
        assert!(parse(&["--id", "0"]).is_err());
    }
}
