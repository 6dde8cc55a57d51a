//! The deliberate bugs a node can be started with (`raft-node --bug NAME`, repeatable), so
//! that anyone can watch the harness catch a real fault. See the crate README for the
//! nemesis that exposes each one. The default is no bug. `stale-read` lives in this crate's
//! HTTP layer; the others live in `raft-core` (loop, core, storage) and are passed there.

use raft_core::node::CoreBugs;
use std::fmt;
use std::str::FromStr;

/// One deliberate bug.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bug {
    /// Any node answers GET from its local state machine, without ReadIndex or redirect.
    StaleRead,
    /// Term and vote are kept only in memory: the hard state file is never written.
    NoPersistVote,
    /// The leader acknowledges a write once it is in its own log, before commit.
    EarlyAck,
    /// A follower appends without deleting a conflicting suffix (passed to the core).
    NoTruncate,
}

impl Bug {
    /// Every bug, in documentation order.
    pub const ALL: [Bug; 4] = [
        Bug::StaleRead,
        Bug::NoPersistVote,
        Bug::EarlyAck,
        Bug::NoTruncate,
    ];

    /// The flag name.
    pub fn name(self) -> &'static str {
        match self {
            Bug::StaleRead => "stale-read",
            Bug::NoPersistVote => "no-persist-vote",
            Bug::EarlyAck => "early-ack",
            Bug::NoTruncate => "no-truncate",
        }
    }
}

impl fmt::Display for Bug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Bug {
    type Err = String;
    fn from_str(s: &str) -> Result<Bug, String> {
        Bug::ALL.into_iter().find(|b| b.name() == s).ok_or_else(|| {
            let names: Vec<_> = Bug::ALL.iter().map(|b| b.name()).collect();
            format!("unknown bug {s:?}; known bugs: {}", names.join(", "))
        })
    }
}

/// The set of bugs enabled on a node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bugs {
    /// `stale-read`.
    pub stale_read: bool,
    /// `no-persist-vote`.
    pub no_persist_vote: bool,
    /// `early-ack`.
    pub early_ack: bool,
    /// `no-truncate`.
    pub no_truncate: bool,
}

impl Bugs {
    /// Build from a list of bugs.
    pub fn from_list(list: &[Bug]) -> Bugs {
        let mut b = Bugs::default();
        for bug in list {
            match bug {
                Bug::StaleRead => b.stale_read = true,
                Bug::NoPersistVote => b.no_persist_vote = true,
                Bug::EarlyAck => b.early_ack = true,
                Bug::NoTruncate => b.no_truncate = true,
            }
        }
        b
    }

    /// The bugs that live in the shared loop, core and storage.
    pub fn core(&self) -> CoreBugs {
        CoreBugs {
            early_ack: self.early_ack,
            no_truncate: self.no_truncate,
            no_persist_vote: self.no_persist_vote,
        }
    }

    /// Names of the enabled bugs.
    pub fn names(&self) -> Vec<&'static str> {
        let on = [
            self.stale_read,
            self.no_persist_vote,
            self.early_ack,
            self.no_truncate,
        ];
        Bug::ALL
            .iter()
            .zip(on)
            .filter(|(_, on)| *on)
            .map(|(b, _)| b.name())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_roundtrip_and_unknown_rejected() {
        for b in Bug::ALL {
            assert_eq!(b.name().parse::<Bug>(), Ok(b));
        }
        let err = "lossy".parse::<Bug>().expect_err("unknown");
        assert!(err.contains("stale-read") && err.contains("lossy"));
        let set = Bugs::from_list(&[Bug::EarlyAck, Bug::StaleRead]);
        assert_eq!(set.names(), vec!["stale-read", "early-ack"]);
    }
}
