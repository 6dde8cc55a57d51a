//! Configuration of one Raft node: identity, voters, timing in ticks, flow control limits,
//! protocol refinements (pre-vote, check-quorum), the PRNG seed for election timeouts, and
//! the deliberate `bug_no_truncate` fault.

use super::errors::RaftError;
use super::types::NodeId;

/// Configuration of a Raft node. Times are in logical ticks (the caller decides how long a
/// tick is).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub id: NodeId,
    /// All voters of the cluster, including `id`.
    pub voters: Vec<NodeId>,
    /// Election timeout is drawn uniformly from `[election_ticks_min, election_ticks_max)`
    /// (exactly `election_ticks_min` if both are equal).
    pub election_ticks_min: u64,
    pub election_ticks_max: u64,
    /// A leader sends heartbeats every `heartbeat_ticks` ticks.
    pub heartbeat_ticks: u64,
    /// At most this many entries in one `Append` message (batching).
    pub max_entries_per_append: usize,
    /// At most this many `Append` messages in flight to one follower (pipelining).
    pub max_inflight_appends: usize,
    /// Campaign with a pre-vote round first; voters refuse pre-votes while they have heard
    /// from a leader within the minimum election timeout.
    pub pre_vote: bool,
    /// A leader steps down if it has not heard from a majority within an election timeout;
    /// followers ignore vote requests while in such a leader's lease.
    pub check_quorum: bool,
    /// Seed of the deterministic PRNG drawing election timeouts (the only randomness).
    pub seed: u64,
    /// DELIBERATE BUG (`--bug no-truncate`): a follower appends new entries without deleting
    /// its conflicting suffix: conflicting entries it holds stay in its log (and may be
    /// applied), while it acknowledges the leader's entries as if it had stored them.
    /// Exposed by partitions that leave uncommitted entries on a deposed leader.
    pub bug_no_truncate: bool,
}

impl Config {
    /// A configuration with production defaults: election 10..20 ticks, heartbeat every
    /// 2 ticks, 512 entries per append, 64 appends in flight, pre-vote and check-quorum on,
    /// seed = id.
    pub fn new(id: NodeId, voters: Vec<NodeId>) -> Config {
        Config {
            id,
            voters,
            election_ticks_min: 10,
            election_ticks_max: 20,
            heartbeat_ticks: 2,
            max_entries_per_append: 512,
            max_inflight_appends: 64,
            pre_vote: true,
            check_quorum: true,
            seed: id,
            bug_no_truncate: false,
        }
    }

    /// Checks the configuration for consistency.
    pub fn validate(&self) -> Result<(), RaftError> {
        let bad = |m: &str| Err(RaftError::InvalidConfig(m.to_string()));
        if self.id == 0 {
            return bad("node id 0 is reserved (ids start at 1)");
        }
        if !self.voters.contains(&self.id) {
            return bad("voters must include this node's id");
        }
        if self.voters.contains(&0) {
            return bad("node id 0 is reserved (ids start at 1)");
        }
        let mut v = self.voters.clone();
        v.sort_unstable();
        v.dedup();
        if v.len() != self.voters.len() {
            return bad("duplicate voter ids");
        }
        if self.heartbeat_ticks == 0 {
            return bad("heartbeat_ticks must be >= 1");
        }
        if self.election_ticks_min <= self.heartbeat_ticks {
            return bad("election_ticks_min must be greater than heartbeat_ticks");
        }
        if self.election_ticks_max < self.election_ticks_min {
            return bad("election_ticks_max must be >= election_ticks_min");
        }
        if self.max_entries_per_append == 0 {
            return bad("max_entries_per_append must be >= 1");
        }
        if self.max_inflight_appends == 0 {
            return bad("max_inflight_appends must be >= 1");
        }
        Ok(())
    }
}
