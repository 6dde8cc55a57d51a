//! The PBFT chat room (`pbft-node` of `nodes/pbft-chat`) as a system under test: n = 3f+1
//! replicas (at least 4), keys generated per run by `pbft-node keygen` into
//! `<run>/pbft-keys/` so each node is given only its own secret (`--key`) and the shared
//! `--public`; peers by `--peer ID=ADDR` (so links go through the harness's proxies); ready
//! probe `GET /status`; deliberate bugs `small-quorum` and `no-view-change-check`; its client
//! protocol is [`Protocol::Pbft`] and its one workload `total-order`.

use std::path::PathBuf;
use std::process::Command;

use workloads::clients::Protocol;
use workloads::WorkloadKind;

use super::keys::signed_node_command;
use super::user::extra_args;
use super::{
    find_node_bin, Capabilities, KnownBug, KnownBugs, NodeSpec, ReadyProbe, System, SystemError,
    SystemSpec,
};

/// The registry name.
pub const NAME: &str = "pbft-chat";

/// The node binary's name.
pub const NODE_BIN: &str = "pbft-node";

/// `pbft-node --bug NAME`: every deliberate bug of nodes/pbft-chat.
pub const BUGS: &[(&str, &str)] = &[
    (
        "small-quorum",
        "a replica commits after f+1 matching commits instead of 2f+1",
    ),
    (
        "no-view-change-check",
        "a new primary does not carry over requests prepared in the old view",
    ),
];

/// The Byzantine modes `POST /admin/byzantine` and `--byzantine` accept.
pub const BYZANTINE_MODES: &[&str] = &[
    "equivocate",
    "forge-votes",
    "bad-signature",
    "silent",
    "replay",
    "collude",
];

/// The pbft-chat system.
#[derive(Debug, Clone)]
pub struct PbftChat {
    explicit_bin: Option<PathBuf>,
    bin: Option<PathBuf>,
    bugs: Vec<String>,
    extra_args: Vec<String>,
}

/// The registry constructor: `--db-opt k=v` becomes `--k v` (e.g.
/// `view-change-timeout-ms=500`).
pub fn build(spec: &SystemSpec) -> Result<Box<dyn System>, SystemError> {
    Ok(Box::new(PbftChat {
        explicit_bin: spec.node_bin.clone(),
        bin: None,
        bugs: spec.bugs.clone(),
        extra_args: extra_args(&spec.db_opts)?,
    }))
}

impl System for PbftChat {
    fn name(&self) -> &str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            proxy: true,
            leader_in_status: false,
            workloads: vec![WorkloadKind::TotalOrder],
            protocol: Protocol::Pbft,
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

    fn command(&self, node: &NodeSpec, cluster: &[NodeSpec]) -> Result<Command, SystemError> {
        let Some(bin) = &self.bin else {
            return Err(SystemError::BinaryNotFound(format!(
                "`{NODE_BIN}` was not looked up before starting nodes"
            )));
        };
        let n = cluster.len().max(node.peer_addrs.len() + 1);
        if n < 4 {
            return Err(SystemError::BadConfig(format!(
                "pbft-chat needs n = 3f+1 >= 4 nodes; got {n} (use --nodes 4)"
            )));
        }
        let mut cmd = signed_node_command(bin, node, n, "pbft-keys", "public.json")?;
        for bug in &self.bugs {
            cmd.arg("--bug").arg(bug);
        }
        cmd.args(&self.extra_args);
        Ok(cmd)
    }

    fn ready_probe(&self, _node: &NodeSpec) -> ReadyProbe {
        ReadyProbe::HttpGet {
            path: "/status".into(),
            require_leader: false,
        }
    }

    fn byzantine_modes(&self) -> &'static [&'static str] {
        BYZANTINE_MODES
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn node(id: u64, run: &Path) -> NodeSpec {
        crate::systems::keys::test_node(id, 4, run, (9300, 9400))
    }

    #[test]
    fn bugs_are_listed_and_fewer_than_four_nodes_are_refused() {
        let bad = SystemSpec {
            db: NAME.into(),
            bugs: vec!["stale-read".into()],
            ..SystemSpec::default()
        };
        let msg = super::super::build(&bad).err().unwrap().to_string();
        assert!(
            msg.contains("small-quorum") && msg.contains("no-view-change-check"),
            "{msg}"
        );
        let mut sys = PbftChat {
            explicit_bin: None,
            bin: Some("/bin/true".into()),
            bugs: vec![],
            extra_args: vec![],
        };
        let run = tempfile::tempdir().unwrap();
        let mut small = node(1, run.path());
        small.peer_addrs.truncate(2);
        let err = sys.command(&small, &[]).unwrap_err().to_string();
        assert!(err.contains("3f+1"), "{err}");
        sys.bin = None;
        assert!(sys.command(&node(1, run.path()), &[]).is_err());
    }

    #[test]
    fn each_node_gets_its_own_key_from_one_keygen_per_run() {
        let Ok(bin) = find_node_bin(NODE_BIN, None) else {
            eprintln!("skipped: {NODE_BIN} not built");
            return;
        };
        let sys = PbftChat {
            explicit_bin: None,
            bin: Some(bin),
            bugs: vec!["small-quorum".into()],
            extra_args: vec![],
        };
        let run = tempfile::tempdir().unwrap();
        let cmd = sys.command(&node(2, run.path()), &[]).unwrap();
        let args: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let keys = run.path().join("pbft-keys");
        assert!(keys.join("node2.key").is_file() && keys.join("public.json").is_file());
        let joined = args.join(" ");
        assert!(
            joined.contains(&format!("--key {}", keys.join("node2.key").display())),
            "{joined}"
        );
        assert!(
            joined.contains("--peer 1=127.0.0.1:9401") && joined.contains("--bug small-quorum"),
            "{joined}"
        );
        assert!(!joined.contains("node1.key"), "{joined}");
    }
}
