//! The bundled Multi-Paxos key-value store (`paxos-node` of `nodes/paxos-kv`) as a system
//! under test. It takes raft-node's flags (`--id --listen --peer --data-dir --bug`) and speaks
//! raft-kv's node HTTP protocol (`/key/K`, `/status` with `"role":"leader"`), so it reuses the
//! raft-kv client and every workload; only its name, binary and deliberate bugs differ.
//! `--db-opt k=v` becomes `--k v` as for raft-kv.

use std::path::PathBuf;
use std::process::Command;

use workloads::clients::Protocol;
use workloads::WorkloadKind;

use super::{
    find_node_bin, Capabilities, KnownBug, KnownBugs, NodeSpec, ReadyProbe, System, SystemError,
    SystemSpec,
};

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

/// The bundled Paxos store: the binary (looked up late) and the flags every node gets.
#[derive(Debug, Clone)]
pub struct PaxosKv {
    /// `--node-bin` as given; replaced by the found path in [`System::locate_binaries`].
    explicit_bin: Option<PathBuf>,
    bin: Option<PathBuf>,
    bugs: Vec<String>,
    extra_args: Vec<String>,
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
    Ok(Box::new(PaxosKv {
        explicit_bin: spec.node_bin.clone(),
        bin: None,
        bugs: spec.bugs.clone(),
        extra_args,
    }))
}

impl System for PaxosKv {
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
        if self.bin.is_none() {
            self.bin = Some(find_node_bin(NODE_BIN, self.explicit_bin.as_deref())?);
        }
        Ok(())
    }

    fn command(&self, node: &NodeSpec, _cluster: &[NodeSpec]) -> Result<Command, SystemError> {
        let bin = self.bin.as_ref().ok_or_else(|| {
            SystemError::BinaryNotFound(format!(
                "`{NODE_BIN}` was not looked up before starting nodes"
            ))
        })?;
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
