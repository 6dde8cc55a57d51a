//! The bundled Raft key-value store (`raft-node` of `nodes/raft-kv`) as a system under test:
//! its command line (`--id --listen --peer --data-dir --bug`), its ready probe (`/status`, a
//! leader required), its deliberate bugs, and its `--db-opt`s (each `k=v` becomes `--k v`).

use std::path::PathBuf;
use std::process::Command;

use workloads::clients::Protocol;
use workloads::WorkloadKind;

use super::{
    find_node_bin, Capabilities, KnownBug, KnownBugs, NodeSpec, ReadyProbe, System, SystemError,
    SystemSpec,
};

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

/// Where the node binary comes from.
#[derive(Debug, Clone)]
enum Bin {
    /// Not looked up yet: `--node-bin` if given, else the usual places ([`find_node_bin`]).
    Find {
        explicit: Option<PathBuf>,
    },
    Found(PathBuf),
}

/// The bundled Raft store.
#[derive(Debug, Clone)]
pub struct RaftKv {
    bin: Bin,
    /// `--bug NAME` flags passed to every node.
    bugs: Vec<String>,
    /// Extra arguments appended verbatim (from `--db-opt`s: `--k v`).
    extra_args: Vec<String>,
}

impl RaftKv {
    /// A raft-kv system started from `bin` (also any stand-in taking raft-node's flags), no
    /// bugs, no extra arguments.
    pub fn with_bin(bin: impl Into<PathBuf>) -> RaftKv {
        RaftKv {
            bin: Bin::Found(bin.into()),
            bugs: Vec::new(),
            extra_args: Vec::new(),
        }
    }

    /// The same, with `args` appended to every node's command line (e.g. `--no-fsync`).
    pub fn with_args(mut self, args: &[&str]) -> RaftKv {
        self.extra_args = args.iter().map(|a| a.to_string()).collect();
        self
    }
}

/// The registry constructor: `--db-opt k=v` becomes `--k v` (`k` a bare name).
pub fn build(spec: &SystemSpec) -> Result<Box<dyn System>, SystemError> {
    let mut extra_args = Vec::new();
    for (k, v) in &spec.db_opts {
        if k.is_empty() || k.starts_with('-') {
            return Err(SystemError::BadConfig(format!(
                "db option `{k}` must be a bare name (it becomes --{k})"
            )));
        }
        extra_args.push(format!("--{k}"));
        if !v.is_empty() {
            extra_args.push(v.clone());
        }
    }
    Ok(Box::new(RaftKv {
        bin: Bin::Find {
            explicit: spec.node_bin.clone(),
        },
        bugs: spec.bugs.clone(),
        extra_args,
    }))
}

impl System for RaftKv {
    fn name(&self) -> &str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            proxy: true,
            leader_in_status: true,
            workloads: vec![
                WorkloadKind::Register,
                WorkloadKind::Set,
                WorkloadKind::Election,
                WorkloadKind::Append,
            ],
            protocol: Protocol::RaftKv,
            discards_data_on_pass: false,
        }
    }

    fn known_bugs(&self) -> KnownBugs {
        KnownBugs::Listed(
            BUGS.iter()
                .map(|(name, description)| KnownBug {
                    name: name.to_string(),
                    description: description.to_string(),
                })
                .collect(),
        )
    }

    fn locate_binaries(&mut self) -> Result<(), SystemError> {
        if let Bin::Find { explicit } = &self.bin {
            self.bin = Bin::Found(find_node_bin(NODE_BIN, explicit.as_deref())?);
        }
        Ok(())
    }

    fn command(&self, node: &NodeSpec, _cluster: &[NodeSpec]) -> Result<Command, SystemError> {
        let Bin::Found(bin) = &self.bin else {
            return Err(SystemError::BinaryNotFound(format!(
                "`{NODE_BIN}` was not looked up before starting nodes"
            )));
        };
        let mut cmd = Command::new(bin);
        cmd.arg("--id")
            .arg(node.id.to_string())
            .arg("--listen")
            .arg(node.listen.to_string());
        for (id, _name, addr) in &node.peer_addrs {
            cmd.arg("--peer").arg(format!("{id}={addr}"));
        }
        cmd.arg("--data-dir").arg(&node.data_dir);
        for bug in &self.bugs {
            cmd.arg("--bug").arg(bug);
        }
        cmd.args(&self.extra_args);
        Ok(cmd)
    }

    fn ready_probe(&self, _node: &NodeSpec) -> ReadyProbe {
        ReadyProbe::HttpGet {
            path: "/status".into(),
            require_leader: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
