//! The client side of each system under test's API, behind one dispatch enum [`Client`]
//! so the runner and the workloads never care which protocol they speak.
//!
//! Every protocol client offers the same method set, each returning a [`Completion`]:
//! `read(key)`, `write(key, value)`, `cas(key, from, to)` (`from = None` means "key
//! absent"), `append(key, text)`. Values are strings at this level; workloads encode integers as decimal strings.
//! - [`raft_kv`]: the node HTTP protocol of `nodes/raft-kv` (and user systems speaking it).
//! - [`etcd`]: etcd through its v3 JSON gateway.
//! - [`zookeeper`]: ZooKeeper's jute protocol ([`zookeeper_wire`]); [`zookeeper_lock`] is its lock recipe.
//! - [`pbft`], [`gossip`]: the chat rooms (total-order and broadcast workloads).
//! - [`http1`]: the small keep-alive HTTP/1.1 transport of the raft-kv client.
//! - [`lock`]: lock clients (sessions, acquire/release with fencing tokens), one per lock
//!   system; a lock client answers `read`/`write`/`cas` with a definite `fail`.

pub mod etcd;
pub mod generals;
pub mod gossip;
pub mod http1;
pub mod leader;
pub mod lock;
pub mod pbft;
pub mod raft_kv;
pub mod zookeeper;
pub mod zookeeper_lock;
pub mod zookeeper_wire;

use crate::Completion;
use std::time::Duration;

/// One node the client may talk to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The harness name of the node (`n1`, `n2`, ...).
    pub name: String,
    /// The numeric id of the node (`n<id>`); the raft-kv protocol calls it `node<id>`.
    pub id: u64,
    /// `host:port` the harness reaches the node's client API at.
    pub addr: String,
}

/// What every protocol client is built from.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// All nodes of the cluster (redirect targets are looked up here).
    pub nodes: Vec<Endpoint>,
    /// Index into `nodes` of the node this client sends to first (Jepsen style).
    pub home: usize,
    /// Upper bound on one operation, redirects included.
    pub op_timeout: Duration,
    /// How many leader redirects one operation may follow.
    pub max_redirects: u32,
    /// Prefix of `X-Request-Id` headers (`<client_id>-<seq>`), unique per client.
    pub client_id: String,
}

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("client config: {0}")]
    Config(String),
    #[error("protocol client `{0}` is not available: {1}")]
    Unsupported(&'static str, String),
}

/// Which protocol a client speaks, with the protocol's options (a system's capability:
/// the harness asks the system under test which one its nodes speak).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// The node HTTP protocol (`/key/{k}`, `/status`; docs/design.md).
    RaftKv,
    /// etcd's v3 JSON gateway; `serializable_reads` makes reads serializable (any member
    /// answers from its local state: not linearizable).
    Etcd { serializable_reads: bool },
    /// A leader election's `/status` and `/act` on the home node (nodes/bully).
    Election,
    /// ZooKeeper's client protocol; without `sync_reads` reads skip the `sync` (NOT linearizable).
    ZooKeeper { sync_reads: bool },
    /// The Two Generals' rounds (nodes/two-generals), with the numbers of acknowledgements
    /// rounds are played with.
    Generals { acks: generals::AckSweep },
    /// The pbft-chat protocol (`POST /request` to every replica, `GET /messages`).
    Pbft,
    /// The gossip protocol (`POST /broadcast` to the home node, `GET /messages`).
    Gossip,
    /// The lock-service HTTP protocol (`nodes/lock-service`): sessions, locks, tokens.
    LockService,
    /// ZooKeeper's lock recipe (the lock workloads on `--db zookeeper`).
    ZooKeeperLock,
}

impl Protocol {
    /// Its name in a user system's TOML file.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::RaftKv => "raft-kv-http",
            Protocol::Etcd { .. } => "etcd-v3",
            Protocol::Election => "election-http",
            Protocol::ZooKeeper { .. } => "zookeeper",
            Protocol::Generals { .. } => "two-generals-http",
            Protocol::Pbft => "pbft-chat-http",
            Protocol::Gossip => "gossip-http",
            Protocol::LockService => "lock-service-http",
            Protocol::ZooKeeperLock => "zookeeper-lock",
        }
    }

    /// The protocol a workload speaks to this system: ZooKeeper's lock workloads use its
    /// lock recipe; every other pair is unchanged.
    pub fn for_workload(self, kind: crate::WorkloadKind) -> Protocol {
        use crate::WorkloadKind::{Fencing, Lock};
        match (self, kind) {
            (Protocol::ZooKeeper { .. }, Lock | Fencing) => Protocol::ZooKeeperLock,
            (p, _) => p,
        }
    }
}

/// A client of one system under test: dispatches to the protocol client.
#[derive(Debug)]
pub enum Client {
    RaftKv(raft_kv::RaftKvClient),
    Etcd(etcd::EtcdClient),
    Election(leader::LeaderClient),
    ZooKeeper(zookeeper::ZkClient),
    Generals(generals::GeneralsClient),
    Pbft(pbft::PbftClient),
    Gossip(gossip::GossipClient),
    Lock(Box<lock::LockClient>),
}

impl Client {
    /// Build a client speaking `protocol` with `cfg`.
    pub fn new(protocol: Protocol, cfg: &ClientConfig) -> Result<Client, ClientError> {
        if cfg.home >= cfg.nodes.len() {
            return Err(ClientError::Config(format!(
                "home node index {} out of range ({} nodes)",
                cfg.home,
                cfg.nodes.len()
            )));
        }
        match protocol {
            Protocol::RaftKv => Ok(Client::RaftKv(raft_kv::RaftKvClient::new(cfg)?)),
            Protocol::Etcd { serializable_reads } => {
                let mut client = etcd::EtcdClient::new(cfg)?;
                client.set_serializable_reads(serializable_reads);
                Ok(Client::Etcd(client))
            }
            Protocol::Election => Ok(Client::Election(leader::LeaderClient::new(cfg)?)),
            Protocol::ZooKeeper { sync_reads } => {
                let mut client = zookeeper::ZkClient::new(cfg)?;
                client.set_sync_reads(sync_reads);
                Ok(Client::ZooKeeper(client))
            }
            Protocol::Generals { acks } => {
                Ok(Client::Generals(generals::GeneralsClient::new(cfg, acks)?))
            }
            Protocol::Pbft => Ok(Client::Pbft(pbft::PbftClient::new(cfg)?)),
            Protocol::Gossip => Ok(Client::Gossip(gossip::GossipClient::new(cfg)?)),
            Protocol::LockService => {
                let gate = std::sync::Arc::new(crate::stall::FreezeGate::default());
                let c = lock::LockServiceClient::new(cfg, lock::lock_service::DEFAULT_TTL)?
                    .with_gate(gate.clone());
                Ok(Client::Lock(Box::new(lock::LockClient::new(
                    lock::LockBackend::LockService(c),
                    gate,
                ))))
            }
            Protocol::ZooKeeperLock => Ok(Client::Lock(Box::new(lock::LockClient::new(
                lock::LockBackend::ZooKeeper(Box::new(lock::zookeeper::ZkLockBackend::new(cfg)?)),
                std::sync::Arc::new(crate::stall::FreezeGate::default()),
            )))),
        }
    }

    /// The harness name of the node this client sends to first.
    pub fn home_name(&self) -> &str {
        match self {
            Client::RaftKv(c) => c.home_name(),
            Client::Etcd(c) => c.home_name(),
            Client::Election(c) => c.home_name(),
            Client::ZooKeeper(c) => c.home_name(),
            Client::Generals(c) => c.home_name(),
            Client::Pbft(c) => c.home_name(),
            Client::Gossip(c) => c.home_name(),
            Client::Lock(c) => c.home_name(),
        }
    }

    /// The lock client, if this client speaks a lock protocol.
    pub fn lock(&self) -> Option<&lock::LockClient> {
        match self {
            Client::Lock(c) => Some(c.as_ref()),
            _ => None,
        }
    }

    /// Read `key`: `Ok(string)` or `Ok(null)` if absent.
    pub async fn read(&self, key: &str) -> Completion {
        match self {
            Client::RaftKv(c) => c.read(key).await,
            Client::Etcd(c) => c.read(key).await,
            Client::Election(_) => {
                Completion::Fail("read: not offered by an election client".into())
            }
            Client::Generals(_) => {
                Completion::Fail("read: not offered by the two-generals client".into())
            }
            Client::ZooKeeper(c) => c.read(key).await,
            Client::Pbft(_) | Client::Gossip(_) => no_kv(),
            Client::Lock(_) => Completion::Fail(NOT_A_KV.into()),
        }
    }

    /// Write `value` to `key`: `Ok(null)`.
    pub async fn write(&self, key: &str, value: &str) -> Completion {
        match self {
            Client::RaftKv(c) => c.write(key, value).await,
            Client::Etcd(c) => c.write(key, value).await,
            Client::Election(_) => {
                Completion::Fail("write: not offered by an election client".into())
            }
            Client::Generals(_) => {
                Completion::Fail("write: not offered by the two-generals client".into())
            }
            Client::ZooKeeper(c) => c.write(key, value).await,
            Client::Pbft(_) | Client::Gossip(_) => no_kv(),
            Client::Lock(_) => Completion::Fail(NOT_A_KV.into()),
        }
    }

    /// Compare-and-set: `Ok(null)` if applied, `Fail("cas-mismatch")` if the current value
    /// was not `from` (`None` = absent).
    pub async fn cas(&self, key: &str, from: Option<&str>, to: &str) -> Completion {
        match self {
            Client::RaftKv(c) => c.cas(key, from, to).await,
            Client::Etcd(c) => c.cas(key, from, to).await,
            Client::Lock(_) => Completion::Fail(NOT_A_KV.into()),
            Client::ZooKeeper(c) => c.cas(key, from, to).await,
            Client::Election(_) => {
                Completion::Fail("cas: not offered by an election client".into())
            }
            Client::Generals(_) => {
                Completion::Fail("cas: not offered by the two-generals client".into())
            }
            Client::Pbft(_) | Client::Gossip(_) => no_kv(),
        }
    }
}

impl Client {
    /// The election workload's view of the home node: `Ok({role, leader_id, epoch})`.
    pub async fn leader_status(&self) -> Completion {
        match self {
            Client::Election(c) => c.status().await,
            Client::RaftKv(c) => c.leader_status().await,
            Client::Etcd(_) => Completion::Fail("status: not offered by the etcd client".into()),
            Client::ZooKeeper(_) => {
                Completion::Fail("status: not offered by the zookeeper client".into())
            }
            Client::Generals(_) => {
                Completion::Fail("status: not offered by the two-generals client".into())
            }
            Client::Pbft(_) | Client::Gossip(_) => {
                Completion::Fail("status: not offered by a chat client".into())
            }
            Client::Lock(_) => Completion::Fail("status: not offered by a lock client".into()),
        }
    }

    /// The leader-only action on the home node: `Ok({leader_id, epoch, ..})` when it acted
    /// as leader (bully: `POST /act`; raft-kv protocol: a write accepted by the home node
    /// while its `/status` says leader).
    pub async fn leader_act(&self) -> Completion {
        match self {
            Client::Election(c) => c.act().await,
            Client::RaftKv(c) => c.leader_act().await,
            Client::Etcd(_) => Completion::Fail("act: not offered by the etcd client".into()),
            Client::ZooKeeper(_) => {
                Completion::Fail("act: not offered by the zookeeper client".into())
            }
            Client::Generals(_) => {
                Completion::Fail("act: not offered by the two-generals client".into())
            }
            Client::Pbft(_) | Client::Gossip(_) => {
                Completion::Fail("act: not offered by a chat client".into())
            }
            Client::Lock(_) => Completion::Fail("act: not offered by a lock client".into()),
        }
    }
}

impl Client {
    /// Append `text` to `key`'s value (absent = `""`): `Ok(null)` once applied. raft-kv
    /// appends natively; etcd reads and then compare-and-sets in one txn, retrying on a
    /// mismatch.
    pub async fn append(&self, key: &str, text: &str) -> Completion {
        match self {
            Client::RaftKv(c) => c.append(key, text).await,
            Client::Etcd(c) => c.append(key, text).await,
            Client::Election(_) => {
                Completion::Fail("append: not offered by an election client".into())
            }
            Client::Generals(_) => {
                Completion::Fail("append: not offered by the two-generals client".into())
            }
            Client::ZooKeeper(_) => {
                Completion::Fail("append: not offered by the zookeeper client".into())
            }
            Client::Pbft(_) | Client::Gossip(_) => no_kv(),
            Client::Lock(_) => Completion::Fail(NOT_A_KV.into()),
        }
    }
}

impl Client {
    /// Plays Two Generals round `round` (attack time `time`) to its end: `Ok` with both
    /// decisions (see [`generals::GeneralsClient::round`]).
    pub async fn generals_round(&self, round: u64, time: &str) -> Completion {
        match self {
            Client::Generals(c) => c.round(round, time).await,
            _ => Completion::Fail("round: only the two-generals client plays rounds".into()),
        }
    }
}

/// The answer of a key-value op to a client whose system has no keys (pbft-chat, gossip).
fn no_kv() -> Completion {
    Completion::Fail(
        "this system has no key-value API (use --workload total-order or broadcast)".into(),
    )
}
/// The error of a key-value operation sent to a lock client (nothing was sent).
pub const NOT_A_KV: &str = "lock clients do not speak read/write/cas";

/// The error string of a cas whose comparison did not hold (a definite `Fail`).
pub const CAS_MISMATCH: &str = "cas-mismatch";
