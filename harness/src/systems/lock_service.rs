//! The bundled lock service (`lock-node` of `nodes/lock-service`) as a system under test: its
//! command line (`--id --listen --peer --data-dir --bug`, the same flags as raft-node), its
//! ready probe (`/status`, a leader required), its deliberate bugs, its `--db-opt`s (each
//! `k=v` becomes `--k v`), and the workloads its lock protocol serves (lock, fencing).

use std::path::PathBuf;
use std::process::Command;

use workloads::clients::Protocol;
use workloads::WorkloadKind;

use super::{
    find_node_bin, Capabilities, KnownBug, KnownBugs, NodeSpec, ReadyProbe, System, SystemError,
    SystemSpec,
};

/// The registry name.
pub const NAME: &str = "lock-service";

/// The node binary's name.
pub const NODE_BIN: &str = "lock-node";

/// `lock-node --bug NAME`: every deliberate bug of nodes/lock-service, one line each.
pub const BUGS: &[(&str, &str)] = &[
    (
        "no-grace",
        "the leader expires a session half a TTL after its last keep-alive, while the client \
         still believes its lease valid",
    ),
    (
        "reuse-token",
        "fencing tokens come from a per-lock counter in the leader's memory (not strictly \
         increasing across leader changes)",
    ),
    (
        "stale-read",
        "lock and node reads are answered from any node's local state (no ReadIndex)",
    ),
    (
        "no-persist-vote",
        "term and vote are kept only in memory (the shared Raft core's bug)",
    ),
    (
        "no-truncate",
        "a follower appends without deleting a conflicting suffix (the shared core's bug)",
    ),
];

/// The bundled lock service.
#[derive(Debug, Clone)]
pub struct LockService {
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
    Ok(Box::new(LockService {
        explicit_bin: spec.node_bin.clone(),
        bin: None,
        bugs: spec.bugs.clone(),
        extra_args,
    }))
}

impl System for LockService {
    fn name(&self) -> &str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            proxy: true,
            leader_in_status: true,
            workloads: vec![WorkloadKind::Lock, WorkloadKind::Fencing],
            protocol: Protocol::LockService,
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
        let Some(bin) = &self.bin else {
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

    fn client_port_for(&self, id: u64) -> u16 {
        9000u16.saturating_add(u16::try_from(id).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node() -> NodeSpec {
        NodeSpec {
            id: 2,
            name: "n2".into(),
            listen: "10.0.0.2:9002".parse().unwrap(),
            client_addr: "10.0.0.2:9002".parse().unwrap(),
            peer_addrs: vec![(1, "n1".into(), "10.0.0.1:9001".parse().unwrap())],
            data_dir: "/tmp/d2".into(),
            log_dir: "/tmp".into(),
        }
    }

    #[test]
    fn the_command_carries_ids_peers_bugs_and_options() {
        let spec = SystemSpec {
            db: NAME.into(),
            node_bin: Some("/bin/sh".into()),
            db_opts: vec![("no-fsync".into(), String::new())],
            bugs: vec!["no-grace".into()],
            ..SystemSpec::default()
        };
        let mut sys = super::super::build(&spec).unwrap();
        assert!(
            sys.command(&node(), &[]).is_err(),
            "binary not looked up yet"
        );
        sys.locate_binaries().unwrap();
        let args: Vec<String> = sys
            .command(&node(), &[])
            .unwrap()
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args.join(" "),
            "--id 2 --listen 10.0.0.2:9002 --peer 1=10.0.0.1:9001 --data-dir /tmp/d2 \
             --bug no-grace --no-fsync"
        );
    }

    #[test]
    fn it_knows_its_bugs_and_speaks_only_the_lock_workloads() {
        for bug in ["no-grace", "reuse-token", "stale-read"] {
            let spec = SystemSpec {
                db: NAME.into(),
                bugs: vec![bug.into()],
                ..SystemSpec::default()
            };
            assert!(super::super::build(&spec).is_ok(), "{bug}");
        }
        let bad = SystemSpec {
            db: NAME.into(),
            bugs: vec!["early-ack".into()],
            ..SystemSpec::default()
        };
        let msg = super::super::build(&bad).err().unwrap().to_string();
        assert!(
            msg.contains("no-grace") && msg.contains("reuse-token"),
            "{msg}"
        );
        let sys = build(&SystemSpec::default()).unwrap();
        let caps = sys.capabilities();
        assert!(caps.proxy && caps.leader_in_status);
        assert_eq!(
            caps.workloads,
            vec![WorkloadKind::Lock, WorkloadKind::Fencing]
        );
        assert_eq!(caps.protocol, Protocol::LockService);
    }
}
