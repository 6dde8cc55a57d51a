//! The Two Generals (`general serve` of `nodes/two-generals`) as a system under test: exactly
//! two nodes, n1 is general A (it starts rounds), n2 is general B, each told the other's
//! address (so their link goes through the harness's proxy or between namespaces, where
//! `--link-loss` and `--nemesis loss` make it lossy). Its `--db-opt`s: `acks=0,1,2,3` (the
//! numbers of acknowledgements rounds are played with, in turn; default `0,1,2,3`),
//! `deadline-ms` (length of a round, default 300), `retry-ms` (a new messenger this often,
//! default 100), `send-timeout-ms` (one messenger's request). The generals' own built-in
//! loss is refused: the loss must be the harness's, so that the history records it and the
//! checker can put each round at its loss rate. It runs only the `generals` workload.

use std::path::PathBuf;
use std::process::Command;

use workloads::clients::generals::AckSweep;
use workloads::clients::Protocol;
use workloads::WorkloadKind;

use super::{find_node_bin, Capabilities, NodeSpec, ReadyProbe, System, SystemError, SystemSpec};

/// The registry name.
pub const NAME: &str = "two-generals";

/// The node binary's name.
pub const NODE_BIN: &str = "general";

/// The default sweep of acknowledgements, round length and retry interval.
const DEFAULT_ACKS: &[u64] = &[0, 1, 2, 3];
const DEFAULT_DEADLINE_MS: u64 = 300;
const DEFAULT_RETRY_MS: u64 = 100;

/// The two generals: the binary (looked up late), the sweep and the timing flags.
#[derive(Debug, Clone)]
pub struct TwoGenerals {
    explicit_bin: Option<PathBuf>,
    bin: Option<PathBuf>,
    acks: AckSweep,
    /// `--deadline-ms`, `--retry-ms`, `--send-timeout-ms` as (flag, value).
    timing: Vec<(&'static str, u64)>,
}

/// The registry constructor (see the module doc for the options).
pub fn build(spec: &SystemSpec) -> Result<Box<dyn System>, SystemError> {
    let bad = |m: String| SystemError::BadConfig(m);
    let mut acks = AckSweep::new(DEFAULT_ACKS).map_err(bad)?;
    let mut deadline = DEFAULT_DEADLINE_MS;
    let mut retry = DEFAULT_RETRY_MS;
    let mut send_timeout = None;
    for (k, v) in &spec.db_opts {
        let millis = || match v.parse::<u64>() {
            Ok(n) if (1..=600_000).contains(&n) => Ok(n),
            _ => Err(bad(format!(
                "db option {k}={v}: expected milliseconds, 1 to 600000"
            ))),
        };
        match k.as_str() {
            "acks" => acks = parse_acks(v).map_err(bad)?,
            "deadline-ms" => deadline = millis()?,
            "retry-ms" => retry = millis()?,
            "send-timeout-ms" => send_timeout = Some(millis()?),
            "loss" => {
                return Err(bad(
                    "db option loss: the generals' built-in loss is not used by the harness \
                     (the history would not say it); use --link-loss P or --nemesis loss"
                        .into(),
                ))
            }
            other => {
                return Err(bad(format!(
                    "db option `{other}`: two-generals knows acks, deadline-ms, retry-ms, \
                     send-timeout-ms"
                )))
            }
        }
    }
    let mut timing = vec![("--deadline-ms", deadline), ("--retry-ms", retry)];
    if let Some(t) = send_timeout {
        timing.push(("--send-timeout-ms", t));
    }
    Ok(Box::new(TwoGenerals {
        explicit_bin: spec.node_bin.clone(),
        bin: None,
        acks,
        timing,
    }))
}

/// `0,1,2,3` → the sweep; names the bad entry.
fn parse_acks(v: &str) -> Result<AckSweep, String> {
    let mut ks = Vec::new();
    for part in v.split(',') {
        let k = part.trim().parse::<u64>().map_err(|_| {
            format!("db option acks={v}: `{part}` is not a number of acknowledgements")
        })?;
        ks.push(k);
    }
    AckSweep::new(&ks).map_err(|e| format!("db option acks={v}: {e}"))
}

impl System for TwoGenerals {
    fn name(&self) -> &str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            proxy: true,
            leader_in_status: false,
            workloads: vec![WorkloadKind::Generals],
            protocol: Protocol::Generals { acks: self.acks },
            discards_data_on_pass: false,
        }
    }

    fn nodes_refusal(&self, nodes: usize) -> Option<String> {
        (nodes != 2).then(|| {
            format!("--nodes {nodes}: two-generals is exactly two generals: use --nodes 2")
        })
    }

    fn locate_binaries(&mut self) -> Result<(), SystemError> {
        if self.bin.is_none() {
            self.bin = Some(find_node_bin(NODE_BIN, self.explicit_bin.as_deref())?);
        }
        Ok(())
    }

    fn command(&self, node: &NodeSpec, cluster: &[NodeSpec]) -> Result<Command, SystemError> {
        let bin = self.bin.as_ref().ok_or_else(|| {
            SystemError::BinaryNotFound(format!(
                "`{NODE_BIN}` was not looked up before starting nodes"
            ))
        })?;
        let name = general_name(node.id, cluster.len())?;
        let [(_, _, peer)] = node.peer_addrs.as_slice() else {
            return Err(SystemError::BadConfig(format!(
                "{}: a general needs exactly one peer, has {}",
                node.name,
                node.peer_addrs.len()
            )));
        };
        let mut cmd = Command::new(bin);
        cmd.args(["serve", "--name", name])
            .arg("--listen")
            .arg(node.listen.to_string())
            .arg("--peer")
            .arg(peer.to_string());
        if let Some(max) = self.acks.values().last() {
            // A's default K; every round the harness starts names its own.
            cmd.arg("--acks").arg(max.to_string());
        }
        for (flag, v) in &self.timing {
            cmd.arg(flag).arg(v.to_string());
        }
        Ok(cmd)
    }

    fn ready_probe(&self, _node: &NodeSpec) -> ReadyProbe {
        ReadyProbe::HttpGet {
            path: "/status".into(),
            require_leader: false,
        }
    }
}

/// Node 1 is general A, node 2 general B, in a cluster of two.
fn general_name(id: u64, nodes: usize) -> Result<&'static str, SystemError> {
    match (id, nodes) {
        (1, 2) => Ok("A"),
        (2, 2) => Ok("B"),
        _ => Err(SystemError::BadConfig(format!(
            "two-generals is exactly two nodes (node {id} of {nodes})"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(opts: &[(&str, &str)]) -> SystemSpec {
        SystemSpec {
            db: NAME.into(),
            node_bin: Some("/bin/sh".into()),
            db_opts: opts
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..SystemSpec::default()
        }
    }

    fn node(id: u64, peer: u64) -> NodeSpec {
        NodeSpec {
            id,
            name: format!("n{id}"),
            listen: format!("10.0.0.{id}:800{id}").parse().unwrap(),
            client_addr: format!("10.0.0.{id}:800{id}").parse().unwrap(),
            peer_addrs: vec![(
                peer,
                format!("n{peer}"),
                format!("10.0.0.{peer}:800{peer}").parse().unwrap(),
            )],
            data_dir: "/tmp/d".into(),
            log_dir: "/tmp".into(),
        }
    }

    fn args_of(opts: &[(&str, &str)], id: u64) -> Result<String, SystemError> {
        let mut sys = super::super::build(&spec(opts))?;
        sys.locate_binaries()?;
        let cluster = [node(1, 2), node(2, 1)];
        let cmd = sys.command(&cluster[(id - 1) as usize], &cluster)?;
        Ok(cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" "))
    }

    #[test]
    fn n1_is_a_and_n2_is_b_each_told_the_other_with_the_timing() {
        assert_eq!(
            args_of(&[], 1).unwrap(),
            "serve --name A --listen 10.0.0.1:8001 --peer 10.0.0.2:8002 --acks 3 \
             --deadline-ms 300 --retry-ms 100"
        );
        assert_eq!(
            args_of(&[("deadline-ms", "500"), ("send-timeout-ms", "50")], 2).unwrap(),
            "serve --name B --listen 10.0.0.2:8002 --peer 10.0.0.1:8001 --acks 3 \
             --deadline-ms 500 --retry-ms 100 --send-timeout-ms 50"
        );
    }

    #[test]
    fn the_acks_option_is_the_sweep_and_bad_options_are_refused_by_name() {
        let sys = super::super::build(&spec(&[("acks", "2,0")])).unwrap();
        assert_eq!(
            sys.capabilities().protocol,
            Protocol::Generals {
                acks: AckSweep::new(&[0, 2]).unwrap()
            }
        );
        assert!(sys.nodes_refusal(2).is_none());
        assert!(sys.nodes_refusal(5).unwrap().contains("--nodes 2"));
        for (k, v, says) in [
            ("acks", "1,x", "`x`"),
            ("acks", "70", "at most 64"),
            ("deadline-ms", "0", "deadline-ms=0"),
            ("loss", "0.3", "--link-loss"),
            ("color", "red", "`color`"),
        ] {
            let err = super::super::build(&spec(&[(k, v)])).err().unwrap();
            assert!(err.to_string().contains(says), "{k}={v}: {err}");
        }
    }
}
