//! The bully leader election (`bully-node` of `nodes/bully`) as a system under test: five
//! (or `--nodes`) processes electing the highest live id. Its command line (`--id --listen
//! --peer ID=ADDR`), its ready probe (`/status`, some node leading), and its `--db-opt`s:
//! `quorum=true` gives `--quorum` (a node acts as leader only under a majority's lease),
//! any other `k=v` becomes `--k v`. It keeps no data (nothing persisted). It runs only the
//! `election` workload, speaking the election protocol (`/status`, `/act`).

use std::path::PathBuf;
use std::process::Command;

use workloads::clients::Protocol;
use workloads::WorkloadKind;

use super::{find_node_bin, Capabilities, NodeSpec, ReadyProbe, System, SystemError, SystemSpec};

/// The registry name.
pub const NAME: &str = "bully";

/// The node binary's name.
pub const NODE_BIN: &str = "bully-node";

/// The bully election: the binary (looked up late) and the flags every node gets.
#[derive(Debug, Clone)]
pub struct Bully {
    explicit_bin: Option<PathBuf>,
    bin: Option<PathBuf>,
    extra_args: Vec<String>,
}

/// The registry constructor: `quorum=true|false`, other `k=v` → `--k v` (bare names).
pub fn build(spec: &SystemSpec) -> Result<Box<dyn System>, SystemError> {
    let mut extra_args = Vec::new();
    for (k, v) in &spec.db_opts {
        match (k.as_str(), v.as_str()) {
            ("quorum", "true" | "") => extra_args.push("--quorum".to_string()),
            ("quorum", "false") => {}
            ("quorum", other) => {
                return Err(SystemError::BadConfig(format!(
                    "db option quorum={other}: expected quorum=true or quorum=false"
                )))
            }
            _ if k.is_empty() || k.starts_with('-') => {
                return Err(SystemError::BadConfig(format!(
                    "db option `{k}` must be a bare name (it becomes --{k})"
                )))
            }
            _ => {
                extra_args.push(format!("--{k}"));
                if !v.is_empty() {
                    extra_args.push(v.to_string());
                }
            }
        }
    }
    Ok(Box::new(Bully {
        explicit_bin: spec.node_bin.clone(),
        bin: None,
        extra_args,
    }))
}

impl System for Bully {
    fn name(&self) -> &str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            proxy: true,
            leader_in_status: true,
            workloads: vec![WorkloadKind::Election],
            protocol: Protocol::Election,
            discards_data_on_pass: false,
        }
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

    fn args_of(opts: &[(&str, &str)]) -> Result<String, SystemError> {
        let spec = SystemSpec {
            db: NAME.into(),
            node_bin: Some("/bin/sh".into()),
            db_opts: opts
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..SystemSpec::default()
        };
        let mut sys = super::super::build(&spec)?;
        sys.locate_binaries()?;
        let node = NodeSpec {
            id: 3,
            name: "n3".into(),
            listen: "10.0.0.3:8003".parse().unwrap(),
            client_addr: "10.0.0.3:8003".parse().unwrap(),
            peer_addrs: vec![(5, "n5".into(), "10.0.0.5:8005".parse().unwrap())],
            data_dir: "/tmp/d".into(),
            log_dir: "/tmp".into(),
        };
        let cmd = sys.command(&node, &[])?;
        Ok(cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" "))
    }

    #[test]
    fn quorum_opt_gives_the_quorum_flag_and_bad_values_are_refused() {
        assert_eq!(
            args_of(&[]).unwrap(),
            "--id 3 --listen 10.0.0.3:8003 --peer 5=10.0.0.5:8005"
        );
        assert_eq!(
            args_of(&[("quorum", "true"), ("lease-ms", "400")]).unwrap(),
            "--id 3 --listen 10.0.0.3:8003 --peer 5=10.0.0.5:8005 --quorum --lease-ms 400"
        );
        assert!(args_of(&[("quorum", "false")]).unwrap().ends_with("8005"));
        let err = args_of(&[("quorum", "maybe")]).unwrap_err().to_string();
        assert!(err.contains("quorum=maybe"), "{err}");
        let spec = SystemSpec {
            db: NAME.into(),
            bugs: vec!["no-adopt".into()],
            ..SystemSpec::default()
        };
        let err = super::super::build(&spec).err().unwrap().to_string();
        assert!(err.contains("bully has no deliberate bugs"), "{err}");
    }
}
