//! The bundled Multi-Paxos key-value store (`paxos-node` of `nodes/paxos-kv`) as a system
//! under test. It takes raft-node's flags (`--id --listen --peer --data-dir --bug`) and speaks
//! raft-kv's node HTTP protocol (`/key/K`, `/status` with `"role":"leader"`), so it reuses the
//! raft-kv client and every workload; only its name, binary, deliberate bugs and workloads
//! differ, so it is a [`Flavor`] of [`super::raft_protocol`]. `--db-opt k=v` becomes `--k v`
//! as for raft-kv.

use workloads::WorkloadKind;

use super::raft_protocol::{Flavor, RaftProtocolNode};
use super::{System, SystemError, SystemSpec};

/// The registry name.
pub const NAME: &str = "paxos-kv";

/// The node binary's name.
pub const NODE_BIN: &str = "paxos-node";

/// `paxos-node --bug NAME`: every deliberate bug of nodes/paxos-kv, one line each.
pub const BUGS: &[(&str, &str)] = &[
    (
        "no-adopt",
        "phase 1 ignores previously accepted values: a new proposer overwrites chosen slots",
    ),
    (
        "forget-promise",
        "an acceptor does not persist its promise, so a restart forgets it",
    ),
    (
        "stale-read",
        "any node answers reads from its local state (no read index, no redirect)",
    ),
];

/// paxos-kv as a system of raft-node's kind.
pub static FLAVOR: Flavor = Flavor {
    name: NAME,
    node_bin: NODE_BIN,
    bugs: BUGS,
    workloads: &[
        WorkloadKind::Register,
        WorkloadKind::Set,
        WorkloadKind::Election,
    ],
    port_base: 8000,
};

/// The registry constructor: `--db-opt k=v` becomes `--k v` (`k` a bare name).
pub fn build(spec: &SystemSpec) -> Result<Box<dyn System>, SystemError> {
    Ok(Box::new(RaftProtocolNode::build(&FLAVOR, spec)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::systems::NodeSpec;

    #[test]
    fn paxos_node_gets_raft_node_flags_and_its_own_bugs() {
        let spec = SystemSpec {
            db: NAME.into(),
            node_bin: Some("/bin/sh".into()),
            db_opts: vec![("no-fsync".into(), String::new())],
            bugs: vec!["no-adopt".into()],
            ..SystemSpec::default()
        };
        let mut sys = super::super::build(&spec).unwrap();
        let node = NodeSpec {
            id: 2,
            name: "n2".into(),
            listen: "127.0.0.1:9002".parse().unwrap(),
            client_addr: "127.0.0.1:9002".parse().unwrap(),
            peer_addrs: vec![(1, "n1".into(), "127.0.0.1:9001".parse().unwrap())],
            data_dir: "/tmp/d".into(),
            log_dir: "/tmp".into(),
        };
        assert!(sys.command(&node, &[]).is_err(), "binary not looked up yet");
        sys.locate_binaries().unwrap();
        let args: Vec<String> = sys
            .command(&node, &[])
            .unwrap()
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args.join(" "),
            "--id 2 --listen 127.0.0.1:9002 --peer 1=127.0.0.1:9001 --data-dir /tmp/d \
             --bug no-adopt --no-fsync"
        );
        let bad = SystemSpec {
            bugs: vec!["early-ack".into()],
            ..spec
        };
        let msg = super::super::build(&bad).err().unwrap().to_string();
        for (b, _) in BUGS {
            assert!(msg.contains(b), "{msg} lacks {b}");
        }
    }
}
