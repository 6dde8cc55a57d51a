//! What every system speaking raft-kv's node protocol and taking raft-node's flags shares
//! (raft-kv, paxos-kv): the command line (`--id --listen --peer id=addr --data-dir --bug`),
//! `--db-opt k=v` as `--k v`, the ready probe (`/status`, a leader required), the listed
//! bugs and the client port. A system of this kind is a [`Flavor`] (registry name, binary
//! name, bugs, workloads, port base); [`RaftProtocolNode`] is the [`System`] built from it.

use std::path::PathBuf;
use std::process::Command;

use workloads::clients::Protocol;
use workloads::WorkloadKind;

use super::{
    find_node_bin, Capabilities, KnownBug, KnownBugs, NodeSpec, ReadyProbe, System, SystemError,
    SystemSpec,
};

/// What differs between the systems of this kind.
#[derive(Debug)]
pub struct Flavor {
    /// The registry name (`raft-kv`).
    pub name: &'static str,
    /// The node binary's name (`raft-node`).
    pub node_bin: &'static str,
    /// `--bug NAME`: every deliberate bug, with one line on what it does.
    pub bugs: &'static [(&'static str, &'static str)],
    /// The workloads its nodes serve.
    pub workloads: &'static [WorkloadKind],
    /// Node `id` serves clients on `port_base + id` (netns mode).
    pub port_base: u16,
}

/// Where the node binary comes from.
#[derive(Debug, Clone)]
enum Bin {
    /// Not looked up yet: `--node-bin` if given, else the usual places ([`find_node_bin`]).
    Find {
        explicit: Option<PathBuf>,
    },
    Found(PathBuf),
}

/// A system of [`Flavor`] `flavor`, with the bugs and extra flags its nodes get.
#[derive(Debug, Clone)]
pub struct RaftProtocolNode {
    flavor: &'static Flavor,
    bin: Bin,
    /// `--bug NAME` flags passed to every node.
    bugs: Vec<String>,
    /// Extra arguments appended verbatim (from `--db-opt`s: `--k v`).
    extra_args: Vec<String>,
}

impl RaftProtocolNode {
    /// The registry constructor: `--db-opt k=v` becomes `--k v` (`k` a bare name).
    pub fn build(flavor: &'static Flavor, spec: &SystemSpec) -> Result<Self, SystemError> {
        Ok(RaftProtocolNode {
            flavor,
            bin: Bin::Find {
                explicit: spec.node_bin.clone(),
            },
            bugs: spec.bugs.clone(),
            extra_args: db_opt_args(&spec.db_opts)?,
        })
    }

    /// A system started from `bin` (also any stand-in taking raft-node's flags), no bugs,
    /// no extra arguments.
    pub fn with_bin(flavor: &'static Flavor, bin: impl Into<PathBuf>) -> Self {
        RaftProtocolNode {
            flavor,
            bin: Bin::Found(bin.into()),
            bugs: Vec::new(),
            extra_args: Vec::new(),
        }
    }

    /// The same, with `args` appended to every node's command line (e.g. `--no-fsync`).
    pub fn with_args(mut self, args: &[&str]) -> Self {
        self.extra_args = args.iter().map(|a| a.to_string()).collect();
        self
    }
}

/// `--db-opt k=v` pairs as flags: `--k v` (`--k` alone for an empty value).
fn db_opt_args(opts: &[(String, String)]) -> Result<Vec<String>, SystemError> {
    let mut args = Vec::new();
    for (k, v) in opts {
        if k.is_empty() || k.starts_with('-') {
            return Err(SystemError::BadConfig(format!(
                "db option `{k}` must be a bare name (it becomes --{k})"
            )));
        }
        args.push(format!("--{k}"));
        if !v.is_empty() {
            args.push(v.clone());
        }
    }
    Ok(args)
}

impl System for RaftProtocolNode {
    fn name(&self) -> &str {
        self.flavor.name
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            proxy: true,
            leader_in_status: true,
            workloads: self.flavor.workloads.to_vec(),
            protocol: Protocol::RaftKv,
            discards_data_on_pass: false,
        }
    }

    fn known_bugs(&self) -> KnownBugs {
        KnownBugs::Listed(
            self.flavor
                .bugs
                .iter()
                .map(|(name, description)| KnownBug {
                    name: name.to_string(),
                    description: description.to_string(),
                })
                .collect(),
        )
    }

    fn locate_binaries(&mut self) -> Result<(), SystemError> {
        if let Bin::Find { explicit } = &self.bin {
            self.bin = Bin::Found(find_node_bin(self.flavor.node_bin, explicit.as_deref())?);
        }
        Ok(())
    }

    fn command(&self, node: &NodeSpec, _cluster: &[NodeSpec]) -> Result<Command, SystemError> {
        let Bin::Found(bin) = &self.bin else {
            return Err(SystemError::BinaryNotFound(format!(
                "`{}` was not looked up before starting nodes",
                self.flavor.node_bin
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
        self.flavor
            .port_base
            .saturating_add(u16::try_from(id).unwrap_or(0))
    }
}
