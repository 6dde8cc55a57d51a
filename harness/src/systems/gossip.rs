//! The gossip chat (`gossip-node` of `nodes/gossip`) as a system under test: push-pull
//! gossip with anti-entropy, every chat message signed by its origin. Keys are generated
//! per run by `gossip-node keygen` into `<run>/gossip-keys/` (each node is given only its
//! own secret `--key` and the shared `--public`); peers by `--peer ID=ADDR` (so links go
//! through the harness's proxies); `--data-dir` so a killed node keeps what it delivered and
//! its own sequence; ready probe `GET /status`; liar modes `forge`, `alter`, `drop` through
//! `POST /admin/byzantine`. Its client protocol is [`Protocol::Gossip`] and its one workload
//! `broadcast`.

use std::path::PathBuf;
use std::process::Command;

use workloads::clients::Protocol;
use workloads::WorkloadKind;

use super::keys::signed_node_command;
use super::user::extra_args;
use super::{find_node_bin, Capabilities, NodeSpec, ReadyProbe, System, SystemError, SystemSpec};

/// The registry name.
pub const NAME: &str = "gossip";

/// The node binary's name.
pub const NODE_BIN: &str = "gossip-node";

/// The lying modes `POST /admin/byzantine` accepts.
pub const BYZANTINE_MODES: &[&str] = &["forge", "alter", "drop"];

/// The gossip system.
#[derive(Debug, Clone)]
pub struct Gossip {
    explicit_bin: Option<PathBuf>,
    bin: Option<PathBuf>,
    extra_args: Vec<String>,
}

/// The registry constructor: `--db-opt k=v` becomes `--k v` (e.g. `anti-entropy-ms=500`,
/// `fanout=1`).
pub fn build(spec: &SystemSpec) -> Result<Box<dyn System>, SystemError> {
    Ok(Box::new(Gossip {
        explicit_bin: spec.node_bin.clone(),
        bin: None,
        extra_args: extra_args(&spec.db_opts)?,
    }))
}

impl System for Gossip {
    fn name(&self) -> &str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            proxy: true,
            leader_in_status: false,
            workloads: vec![WorkloadKind::Broadcast],
            protocol: Protocol::Gossip,
            discards_data_on_pass: false,
        }
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
        let mut cmd = signed_node_command(bin, node, n, "gossip-keys", "public.txt")?;
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
        crate::systems::keys::test_node(id, 3, run, (9500, 9600))
    }

    #[test]
    fn each_node_gets_its_own_key_its_data_dir_and_proxied_peers() {
        let Ok(bin) = find_node_bin(NODE_BIN, None) else {
            eprintln!("skipped: {NODE_BIN} not built");
            return;
        };
        let spec = SystemSpec {
            db: NAME.into(),
            db_opts: vec![("fanout".into(), "1".into())],
            ..SystemSpec::default()
        };
        let mut sys = build(&spec).unwrap();
        assert!(sys
            .command(&node(1, Path::new("/nonexistent")), &[])
            .is_err());
        sys.locate_binaries().unwrap();
        let run = tempfile::tempdir().unwrap();
        let cmd = sys.command(&node(2, run.path()), &[]).unwrap();
        let joined: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let joined = joined.join(" ");
        let keys = run.path().join("gossip-keys");
        assert!(keys.join("node2.key").is_file() && keys.join("public.txt").is_file());
        assert_eq!(bin, PathBuf::from(cmd.get_program()));
        for want in [
            "--peer 1=127.0.0.1:9601",
            "--peer 3=127.0.0.1:9603",
            "--fanout 1",
        ] {
            assert!(joined.contains(want), "{want} not in {joined}");
        }
        assert!(
            joined.contains("--data-dir") && !joined.contains("node1.key"),
            "{joined}"
        );
        assert_eq!(sys.capabilities().workloads, vec![WorkloadKind::Broadcast]);
    }
}
