//! The bundled Raft key-value store (`raft-node` of `nodes/raft-kv`) as a system under test:
//! its name, binary, deliberate bugs and workloads. The command line (`--id --listen --peer
//! --data-dir --bug`), the ready probe (`/status`, a leader required) and the `--db-opt`s
//! (each `k=v` becomes `--k v`) are those of its kind, [`super::raft_protocol`].

use std::path::PathBuf;

use workloads::WorkloadKind;

use super::raft_protocol::{Flavor, RaftProtocolNode};
use super::{System, SystemError, SystemSpec};

/// The registry name.
pub const NAME: &str = "raft-kv";

/// The node binary's name.
pub const NODE_BIN: &str = "raft-node";

/// `raft-node --bug NAME`: every deliberate bug of nodes/raft-kv, one line each.
pub const BUGS: &[(&str, &str)] = &[
    (
        "stale-read",
        "any node answers reads from its local state (no ReadIndex, no redirect)",
    ),
    (
        "no-persist-vote",
        "term and vote are kept only in memory (a restarted node can vote twice in a term)",
    ),
    (
        "early-ack",
        "the leader acknowledges a write once it is in its own log, before commit",
    ),
    (
        "no-truncate",
        "a follower appends without deleting a conflicting suffix of its log",
    ),
];

/// raft-kv as a system of raft-node's kind.
pub static FLAVOR: Flavor = Flavor {
    name: NAME,
    node_bin: NODE_BIN,
    bugs: BUGS,
    workloads: &[
        WorkloadKind::Register,
        WorkloadKind::Set,
        WorkloadKind::Election,
        WorkloadKind::Append,
    ],
    port_base: 8000,
};

/// The bundled Raft store, for callers that start it from a given binary.
pub struct RaftKv;

impl RaftKv {
    /// A raft-kv system started from `bin` (also any stand-in taking raft-node's flags), no
    /// bugs, no extra arguments (add them with [`RaftProtocolNode::with_args`]).
    pub fn with_bin(bin: impl Into<PathBuf>) -> RaftProtocolNode {
        RaftProtocolNode::with_bin(&FLAVOR, bin)
    }
}

/// The registry constructor: `--db-opt k=v` becomes `--k v` (`k` a bare name).
pub fn build(spec: &SystemSpec) -> Result<Box<dyn System>, SystemError> {
    Ok(Box::new(RaftProtocolNode::build(&FLAVOR, spec)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::systems::NodeSpec;

    #[test]
    fn db_opts_become_flags_and_must_be_bare_names() {
        let spec = SystemSpec {
            db_opts: vec![
                ("no-fsync".into(), String::new()),
                ("election-ms".into(), "300".into()),
            ],
            bugs: vec!["stale-read".into()],
            ..SystemSpec::default()
        };
        let mut sys = build(&spec).unwrap();
        let node = NodeSpec {
            id: 1,
            name: "n1".into(),
            listen: "127.0.0.1:9001".parse().unwrap(),
            client_addr: "127.0.0.1:9001".parse().unwrap(),
            peer_addrs: vec![(2, "n2".into(), "127.0.0.1:9002".parse().unwrap())],
            data_dir: "/tmp/d".into(),
            log_dir: "/tmp".into(),
        };
        // Not looked up yet: starting a node says so instead of running a bare name.
        assert!(sys.command(&node, &[]).is_err());
        let explicit = SystemSpec {
            node_bin: Some("/nonexistent/raft-node".into()),
            ..spec.clone()
        };
        let err = build(&explicit).unwrap().locate_binaries().unwrap_err();
        assert!(err.to_string().contains("/nonexistent/raft-node"), "{err}");
        let spec_sh = SystemSpec {
            node_bin: Some("/bin/sh".into()),
            ..spec
        };
        sys = build(&spec_sh).unwrap();
        sys.locate_binaries().unwrap();
        let cmd = sys.command(&node, &[]).unwrap();
        let args: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args.join(" "),
            "--id 1 --listen 127.0.0.1:9001 --peer 2=127.0.0.1:9002 --data-dir /tmp/d \
             --bug stale-read --no-fsync --election-ms 300"
        );
        let bad = SystemSpec {
            db_opts: vec![("--x".into(), "1".into())],
            ..SystemSpec::default()
        };
        assert!(matches!(build(&bad), Err(SystemError::BadConfig(_))));
    }
}
