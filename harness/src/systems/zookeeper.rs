//! ZooKeeper 3.8 (Debian's `zookeeper` package) as a system under test: one server per node,
//! each a JVM running `QuorumPeerMain` on a `zoo.cfg` written per run into the node's
//! directory (`run_dir/nodes/<name>/zoo.cfg`; `myid` in its data dir), the ready probe (the
//! `srvr` four-letter word says `Mode: leader` or `Mode: follower`: the server is part of a
//! serving quorum), and the `--db-opt` keys.
//!
//! Addresses: clients on port 2181, quorum on 2888, leader election on 3888, all on the node's
//! own address in netns mode; on loopback (no namespaces) two extra ports per server chosen
//! once and kept for the run. No per-link proxies (`proxy` capability false): a server's
//! `server.N` line must name the address it binds itself, every server must agree on it, and
//! ZooKeeper keeps only the election connection opened by the higher server id, so one
//! address per directed link cannot be given; partitions need the netns backend, as for etcd.
//!
//! Timing for a local cluster: tickTime 200 ms, initLimit 10 ticks, syncLimit 5 ticks
//! (a follower cut from its leader for 1 s gives up and starts an election), session
//! timeouts 0.4-4 s, and election connection timeout 1 s (`zookeeper.cnxTimeout`; 5 s by
//! default). Measured here: JVM start to `Mode: follower/leader` on a 3-node ensemble is about
//! 1.5-3 s on an idle machine (longer under load); the harness's 30 s start-up timeout covers it.
//!
//! `--db-opt` keys: `sync-reads=true|false` (clients `sync` before every read; false reads a
//! server's local state, which is NOT linearizable), `tick-ms=N`, `heap-mb=N`.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use workloads::clients::Protocol;
use workloads::WorkloadKind;

use super::{Capabilities, NodeSpec, ReadyProbe, System, SystemError, SystemSpec};
use crate::pathio::PathError;

/// The registry name.
pub const NAME: &str = "zookeeper";
/// The client port of every server in netns mode.
pub const CLIENT_PORT: u16 = 2181;
/// The quorum (follower-to-leader) port in netns mode.
pub const QUORUM_PORT: u16 = 2888;
/// The leader-election port in netns mode.
pub const ELECTION_PORT: u16 = 3888;
/// The `--db-opt` key for reads without `sync`.
pub const SYNC_READS: &str = "sync-reads";
/// Where Debian installs the server jar (its manifest's Class-Path names the dependencies).
pub const DEFAULT_JAR: &str = "/usr/share/java/zookeeper.jar";
/// An SLF4J binding that logs to stderr (the node's `stderr.log`).
const SLF4J_SIMPLE: &str = "/usr/share/java/slf4j-simple.jar";

/// ZooKeeper as a [`System`].
#[derive(Debug)]
pub struct ZooKeeper {
    /// `--db-bin`: the server jar, if given.
    explicit_jar: Option<PathBuf>,
    jar: Option<PathBuf>,
    java: Option<PathBuf>,
    sync_reads: bool,
    tick_ms: u32,
    heap_mb: u32,
    /// Loopback (quorum, election) ports per server id, chosen once per run.
    loopback_ports: Mutex<BTreeMap<u64, (u16, u16)>>,
}

/// The registry constructor.
pub fn build(spec: &SystemSpec) -> Result<Box<dyn System>, SystemError> {
    Ok(Box::new(ZooKeeper::from_spec(spec)?))
}

impl ZooKeeper {
    /// Builds the system from the `--db-opt`s; the jar and `java` are looked up later.
    pub fn from_spec(spec: &SystemSpec) -> Result<ZooKeeper, SystemError> {
        let mut zk = ZooKeeper {
            explicit_jar: spec.db_bin.clone(),
            jar: None,
            java: None,
            sync_reads: true,
            tick_ms: 200,
            heap_mb: 256,
            loopback_ports: Mutex::new(BTreeMap::new()),
        };
        for (k, v) in &spec.db_opts {
            match k.as_str() {
                SYNC_READS => zk.sync_reads = parse_bool(k, v)?,
                "tick-ms" => zk.tick_ms = parse_num(k, v, 10, 10_000)?,
                "heap-mb" => zk.heap_mb = parse_num(k, v, 32, 16_384)?,
                _ => {
                    return Err(SystemError::BadConfig(format!(
                        "--db-opt `{k}`: zookeeper knows {SYNC_READS}, tick-ms, heap-mb"
                    )))
                }
            }
        }
        Ok(zk)
    }

    /// The zoo.cfg text for `node` of `cluster`.
    pub fn zoo_cfg(&self, node: &NodeSpec, cluster: &[NodeSpec]) -> Result<String, SystemError> {
        let t = self.tick_ms;
        let mut cfg = format!(
            "tickTime={t}\ninitLimit=10\nsyncLimit=5\nminSessionTimeout={}\nmaxSessionTimeout={}\n\
             dataDir={}\nclientPort={}\nclientPortAddress={}\nadmin.enableServer=false\n\
             4lw.commands.whitelist=srvr,ruok,stat\nstandaloneEnabled=false\n\
             reconfigEnabled=false\nautopurge.purgeInterval=0\n",
            2 * t,
            20 * t,
            node.data_dir.display(),
            node.listen.port(),
            node.listen.ip(),
        );
        for member in cluster {
            let (ip, quorum, election) = self.peer_ports(member, cluster)?;
            cfg.push_str(&format!("server.{}={ip}:{quorum}:{election}\n", member.id));
        }
        Ok(cfg)
    }

    /// The address and (quorum, election) ports of `member`.
    fn peer_ports(
        &self,
        member: &NodeSpec,
        cluster: &[NodeSpec],
    ) -> Result<(IpAddr, u16, u16), SystemError> {
        let ip = member.listen.ip();
        if !ip.is_loopback() {
            return Ok((ip, QUORUM_PORT, ELECTION_PORT));
        }
        let mut ports = self
            .loopback_ports
            .lock()
            .map_err(|_| SystemError::BadConfig("zookeeper port table poisoned".into()))?;
        if let Some((q, e)) = ports.get(&member.id) {
            return Ok((ip, *q, *e));
        }
        let mut taken: Vec<u16> = cluster.iter().map(|n| n.listen.port()).collect();
        taken.extend(ports.values().flat_map(|(q, e)| [*q, *e]));
        let q = free_port(ip, &taken)?;
        taken.push(q);
        let e = free_port(ip, &taken)?;
        ports.insert(member.id, (q, e));
        Ok((ip, q, e))
    }
}

impl System for ZooKeeper {
    fn name(&self) -> &str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            proxy: false,
            leader_in_status: false,
            workloads: vec![
                WorkloadKind::Register,
                WorkloadKind::Lock,
                WorkloadKind::Fencing,
            ],
            protocol: Protocol::ZooKeeper {
                sync_reads: self.sync_reads,
            },
            discards_data_on_pass: false,
        }
    }

    fn locate_binaries(&mut self) -> Result<(), SystemError> {
        let jar = self
            .explicit_jar
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_JAR));
        if !jar.is_file() {
            return Err(SystemError::BinaryNotFound(format!(
                "ZooKeeper server jar {} does not exist: `bash scripts/setup.sh` installs \
                 Debian's zookeeper, or pass the jar with --db-bin",
                jar.display()
            )));
        }
        self.jar = Some(jar);
        self.java = Some(find_on_path("java").ok_or_else(|| {
            SystemError::BinaryNotFound("`java` is not on PATH (ZooKeeper needs a JRE)".into())
        })?);
        Ok(())
    }

    fn command(&self, node: &NodeSpec, cluster: &[NodeSpec]) -> Result<Command, SystemError> {
        if !cluster.iter().any(|m| m.id == node.id) {
            return Err(SystemError::BadConfig(format!(
                "node {} is not part of the cluster it is started in",
                node.name
            )));
        }
        let (Some(java), Some(jar)) = (&self.java, &self.jar) else {
            return Err(SystemError::BinaryNotFound(
                "zookeeper was not looked up before starting nodes".into(),
            ));
        };
        std::fs::create_dir_all(&node.data_dir)
            .map_err(PathError::at("creating", &node.data_dir))?;
        let myid = node.data_dir.join("myid");
        std::fs::write(&myid, format!("{}\n", node.id)).map_err(PathError::at("writing", &myid))?;
        let cfg_path = node.log_dir.join("zoo.cfg");
        std::fs::write(&cfg_path, self.zoo_cfg(node, cluster)?)
            .map_err(PathError::at("writing", &cfg_path))?;
        let mut cmd = Command::new(java);
        cmd.arg(format!("-Xmx{}m", self.heap_mb))
            .arg("-XX:+UseSerialGC")
            .arg("-XX:TieredStopAtLevel=1")
            .arg("-Dzookeeper.cnxTimeout=1000")
            .arg("-Dzookeeper.admin.enableServer=false")
            .arg("-Dorg.slf4j.simpleLogger.showDateTime=true")
            .arg("-cp")
            .arg(format!("{}:{SLF4J_SIMPLE}", jar.display()))
            .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
            .arg(&cfg_path)
            .current_dir(&node.log_dir);
        Ok(cmd)
    }

    fn ready_probe(&self, _node: &NodeSpec) -> ReadyProbe {
        ReadyProbe::TcpExchange {
            send: "srvr".into(),
            expect_any: vec!["Mode: leader".into(), "Mode: follower".into()],
        }
    }

    fn client_port_for(&self, _id: u64) -> u16 {
        CLIENT_PORT
    }
}

fn parse_bool(k: &str, v: &str) -> Result<bool, SystemError> {
    match v {
        "true" | "1" | "yes" | "" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        other => Err(SystemError::BadConfig(format!(
            "--db-opt {k}={other}: expected true or false"
        ))),
    }
}

fn parse_num(k: &str, v: &str, min: u32, max: u32) -> Result<u32, SystemError> {
    match v.parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(SystemError::BadConfig(format!(
            "--db-opt {k}={v}: expected a number in {min}..={max}"
        ))),
    }
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| Path::new(p).is_file())
}

fn free_port(ip: IpAddr, taken: &[u16]) -> Result<u16, SystemError> {
    for _ in 0..32 {
        let no_port =
            |e: std::io::Error| SystemError::NoPort(format!("on {ip} for zookeeper: {e}"));
        let listener = std::net::TcpListener::bind(SocketAddr::new(ip, 0)).map_err(no_port)?;
        let port = listener.local_addr().map_err(no_port)?.port();
        if !taken.contains(&port) {
            return Ok(port);
        }
    }
    Err(SystemError::BadConfig(format!(
        "no free port on {ip} for zookeeper"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: u64, ip: &str, port: u16) -> NodeSpec {
        let addr: SocketAddr = format!("{ip}:{port}").parse().unwrap();
        NodeSpec {
            id,
            name: format!("n{id}"),
            listen: addr,
            client_addr: addr,
            peer_addrs: vec![],
            data_dir: PathBuf::from(format!("/tmp/r/n{id}/data")),
            log_dir: PathBuf::from(format!("/tmp/r/n{id}")),
        }
    }

    fn spec(opts: &[(&str, &str)]) -> SystemSpec {
        SystemSpec {
            db: NAME.into(),
            db_opts: opts
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..SystemSpec::default()
        }
    }

    #[test]
    fn netns_config_names_every_server_on_its_own_address() {
        let zk = ZooKeeper::from_spec(&spec(&[])).unwrap();
        let cluster: Vec<NodeSpec> = (1..=3)
            .map(|i| node(i, &format!("10.77.0.{}", i + 1), CLIENT_PORT))
            .collect();
        let cfg = zk.zoo_cfg(&cluster[1], &cluster).unwrap();
        for line in [
            "tickTime=200",
            "clientPortAddress=10.77.0.3",
            "clientPort=2181",
            "dataDir=/tmp/r/n2/data",
            "server.1=10.77.0.2:2888:3888",
            "server.3=10.77.0.4:2888:3888",
            "4lw.commands.whitelist=srvr",
        ] {
            assert!(cfg.contains(line), "{line} missing in\n{cfg}");
        }
        assert_eq!(
            zk.capabilities().protocol,
            Protocol::ZooKeeper { sync_reads: true }
        );
        assert!(!zk.capabilities().proxy);
    }

    #[test]
    fn loopback_ports_are_distinct_and_kept_for_the_run() {
        let zk = ZooKeeper::from_spec(&spec(&[])).unwrap();
        let cluster: Vec<NodeSpec> = (1..=3)
            .map(|i| node(i, "127.0.0.1", 30000 + i as u16))
            .collect();
        let a = zk.zoo_cfg(&cluster[0], &cluster).unwrap();
        let b = zk.zoo_cfg(&cluster[2], &cluster).unwrap();
        let servers = |c: &str| -> Vec<String> {
            c.lines()
                .filter(|l| l.starts_with("server."))
                .map(String::from)
                .collect()
        };
        assert_eq!(
            servers(&a),
            servers(&b),
            "every server sees the same ensemble"
        );
        let mut ports: Vec<&str> = servers(&a)
            .iter()
            .flat_map(|l| l.rsplit(':').take(2).collect::<Vec<_>>())
            .map(|p| Box::leak(p.to_string().into_boxed_str()) as &str)
            .collect();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), 6, "{a}");
    }

    #[test]
    fn options_are_validated() {
        let off = ZooKeeper::from_spec(&spec(&[(SYNC_READS, "false")])).unwrap();
        assert_eq!(
            off.capabilities().protocol,
            Protocol::ZooKeeper { sync_reads: false }
        );
        for (k, v) in [(SYNC_READS, "maybe"), ("tick-ms", "0"), ("snapCount", "1")] {
            let err = ZooKeeper::from_spec(&spec(&[(k, v)])).expect_err("refused");
            assert!(err.to_string().contains(k), "{err}");
        }
    }

    #[test]
    fn a_missing_jar_names_the_path_and_the_fix() {
        let mut zk = ZooKeeper::from_spec(&SystemSpec {
            db_bin: Some("/nonexistent/zk.jar".into()),
            ..spec(&[])
        })
        .unwrap();
        let err = zk.locate_binaries().expect_err("missing jar");
        let msg = err.to_string();
        assert!(
            msg.contains("/nonexistent/zk.jar") && msg.contains("setup.sh"),
            "{msg}"
        );
    }
}
