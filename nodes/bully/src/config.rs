//! The `bully-node` command line and the node configuration derived from it: identity,
//! listen and per-peer addresses (`--peers 2,3,4,5` with default ports 9100+id, or explicit
//! `--peer ID=ADDR`), mode (`--quorum`) and timeouts in milliseconds.

use crate::core::Timing;
use std::collections::BTreeMap;
use std::net::SocketAddr;

/// The port of node `id` in the default layout.
pub const BASE_PORT: u64 = 9100;

/// `bully-node` arguments.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "bully-node",
    about = "One node of a bully leader election (HTTP API and peer messages on one address)"
)]
pub struct NodeArgs {
    /// This node's id (>= 1); higher ids win elections. Its name is node<id>.
    #[arg(long)]
    pub id: u64,
    /// Peer ids, comma separated; peer j listens on 127.0.0.1:9100+j.
    #[arg(long, value_delimiter = ',')]
    pub peers: Vec<u64>,
    /// Explicit peer address, ID=HOST:PORT (repeatable; overrides --peers for that id).
    #[arg(long = "peer", value_name = "ID=ADDR")]
    pub peer: Vec<String>,
    /// Address to serve clients and peers on (default 127.0.0.1:9100+id).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Act as leader only while a majority of all nodes acknowledges this node's
    /// heartbeats within the lease (never two leaders acting at once).
    #[arg(long)]
    pub quorum: bool,
    /// Heartbeat interval of the coordinator, ms.
    #[arg(long, default_value_t = 50)]
    pub heartbeat_ms: u64,
    /// No heartbeat from the coordinator this long starts an election, ms.
    #[arg(long, default_value_t = 300)]
    pub leader_timeout_ms: u64,
    /// No OK from a higher node this long after ELECTION: become coordinator, ms.
    #[arg(long, default_value_t = 100)]
    pub answer_timeout_ms: u64,
    /// No COORDINATOR this long after an OK: start again, ms.
    #[arg(long, default_value_t = 300)]
    pub coordinator_timeout_ms: u64,
    /// Quorum mode: an acknowledgement counts this long after the heartbeat was sent, ms
    /// (default 5 heartbeats).
    #[arg(long)]
    pub lease_ms: Option<u64>,
    /// Time between two looks at the timers, ms.
    #[arg(long, default_value_t = 5)]
    pub tick_ms: u64,
    /// Time allowed to deliver one batch of messages to a peer, ms.
    #[arg(long, default_value_t = 250)]
    pub send_timeout_ms: u64,
}

/// A validated node configuration.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// This node's id.
    pub id: u64,
    /// Listen address.
    pub listen: SocketAddr,
    /// Peer id → address to send to.
    pub peers: BTreeMap<u64, String>,
    /// Lease mode.
    pub quorum: bool,
    /// Core timeouts.
    pub timing: Timing,
    /// Timer resolution, ms.
    pub tick_ms: u64,
    /// Peer send timeout, ms.
    pub send_timeout_ms: u64,
}

/// The default address of node `id`.
pub fn default_addr(id: u64) -> Result<SocketAddr, String> {
    let port = u16::try_from(BASE_PORT + id)
        .map_err(|_| format!("node id {id} too large for the default port 9100+id"))?;
    Ok(SocketAddr::from(([127, 0, 0, 1], port)))
}

fn parse_peer(spec: &str) -> Result<(u64, String), String> {
    let (id, addr) = spec
        .split_once('=')
        .ok_or_else(|| format!("--peer {spec:?}: expected ID=HOST:PORT"))?;
    let id: u64 = id
        .trim()
        .parse()
        .map_err(|_| format!("--peer {spec:?}: {id:?} is not a node id"))?;
    let addr = addr.trim();
    if id == 0
        || addr
            .rsplit_once(':')
            .is_none_or(|(h, p)| h.is_empty() || p.parse::<u16>().is_err())
    {
        return Err(format!(
            "--peer {spec:?}: expected ID=HOST:PORT with ID >= 1"
        ));
    }
    Ok((id, addr.to_string()))
}

impl NodeArgs {
    /// Validate and resolve defaults.
    pub fn into_config(self) -> Result<NodeConfig, String> {
        if self.id == 0 {
            return Err("--id must be >= 1".into());
        }
        let mut peers = BTreeMap::new();
        for &p in &self.peers {
            if p == 0 {
                return Err("--peers: ids must be >= 1".into());
            }
            peers.insert(p, default_addr(p)?.to_string());
        }
        for spec in &self.peer {
            let (id, addr) = parse_peer(spec)?;
            peers.insert(id, addr);
        }
        if peers.contains_key(&self.id) {
            return Err(format!("node {} lists itself as a peer", self.id));
        }
        if peers.is_empty() {
            return Err("no peers: give --peers 2,3 or --peer ID=ADDR".into());
        }
        let listen = match self.listen {
            Some(a) => a,
            None => default_addr(self.id)?,
        };
        let timing = self.timing()?;
        if self.tick_ms == 0 || self.tick_ms > timing.heartbeat_ms {
            return Err("--tick-ms must be between 1 and --heartbeat-ms".into());
        }
        if self.send_timeout_ms == 0 {
            return Err("--send-timeout-ms must be >= 1".into());
        }
        Ok(NodeConfig {
            id: self.id,
            listen,
            peers,
            quorum: self.quorum,
            timing,
            tick_ms: self.tick_ms,
            send_timeout_ms: self.send_timeout_ms,
        })
    }

    fn timing(&self) -> Result<Timing, String> {
        let hb = self.heartbeat_ms;
        if hb == 0 {
            return Err("--heartbeat-ms must be >= 1".into());
        }
        if self.leader_timeout_ms <= hb {
            return Err("--leader-timeout-ms must be greater than --heartbeat-ms".into());
        }
        if self.answer_timeout_ms == 0 || self.coordinator_timeout_ms == 0 {
            return Err("--answer-timeout-ms and --coordinator-timeout-ms must be >= 1".into());
        }
        let lease_ms = self.lease_ms.unwrap_or(5 * hb);
        if lease_ms <= hb {
            return Err(format!(
                "--lease-ms {lease_ms} must be greater than --heartbeat-ms {hb} (or no lease ever holds)"
            ));
        }
        Ok(Timing {
            heartbeat_ms: hb,
            leader_timeout_ms: self.leader_timeout_ms,
            answer_timeout_ms: self.answer_timeout_ms,
            coordinator_timeout_ms: self.coordinator_timeout_ms,
            lease_ms,
            // A promise outlasts the lease by 10% (at least 2 ms) for clock rate differences.
            promise_ms: lease_ms + (lease_ms / 10).max(2),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<NodeConfig, String> {
        let mut v = vec!["bully-node"];
        v.extend_from_slice(args);
        NodeArgs::try_parse_from(v)
            .map_err(|e| e.to_string())?
            .into_config()
    }

    #[test]
    fn defaults_use_ports_9100_plus_id() {
        let c = parse(&["--id", "3", "--peers", "1,2,4,5"]).expect("ok");
        assert_eq!(c.listen.to_string(), "127.0.0.1:9103");
        assert_eq!(c.peers[&5], "127.0.0.1:9105");
        assert_eq!(c.peers.len(), 4);
        assert!(!c.quorum);
        assert_eq!(c.timing.lease_ms, 250);
        assert_eq!(c.timing.promise_ms, 275);
    }

    #[test]
    fn explicit_peers_override_and_quorum() {
        let c = parse(&[
            "--id",
            "1",
            "--peers",
            "2",
            "--peer",
            "2=10.0.0.2:7000",
            "--peer",
            "3=[::1]:7003",
            "--quorum",
            "--listen",
            "0.0.0.0:7001",
        ])
        .expect("ok");
        assert_eq!(c.peers[&2], "10.0.0.2:7000");
        assert_eq!(c.peers[&3], "[::1]:7003");
        assert!(c.quorum);
    }

    #[test]
    fn bad_flags_are_named() {
        let e = |a: &[&str]| parse(a).expect_err("must fail");
        assert!(e(&["--id", "0", "--peers", "2"]).contains("--id"));
        assert!(e(&["--id", "1", "--peers", "1,2"]).contains("lists itself"));
        assert!(e(&["--id", "1"]).contains("no peers"));
        assert!(e(&["--id", "1", "--peer", "2"]).contains("ID=HOST:PORT"));
        assert!(e(&["--id", "1", "--peer", "x=1.2.3.4:5"]).contains("not a node id"));
        assert!(e(&["--id", "1", "--peer", "2=host"]).contains("ID=HOST:PORT"));
        assert!(e(&["--id", "1", "--peers", "2", "--heartbeat-ms", "400"])
            .contains("--leader-timeout-ms"));
        assert!(e(&["--id", "1", "--peers", "2", "--lease-ms", "40"]).contains("--lease-ms"));
        assert!(e(&["--id", "70000", "--peers", "2"]).contains("too large"));
    }
}
