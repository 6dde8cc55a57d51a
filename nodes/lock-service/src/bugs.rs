//! The deliberate bugs a lock node can be started with (`lock-node --bug NAME`,
//! repeatable), and the leader-memory token counter of `reuse-token`. See the crate README
//! for what exposes each one. The default is no bug. `no-persist-vote` and `no-truncate`
//! are the shared core's bugs (as in raft-kv), available here too.

use raft_core::node::CoreBugs;
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

/// One deliberate bug.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bug {
    /// The leader expires a session after half its TTL: before the client's lease ends.
    NoGrace,
    /// Fencing tokens come from a per-lock counter in the leader's memory, not the log.
    ReuseToken,
    /// Reads (values, locks, watches) are answered from local state without ReadIndex.
    StaleRead,
    /// Term and vote are kept only in memory (the core's bug).
    NoPersistVote,
    /// A follower appends without deleting a conflicting suffix (the core's bug).
    NoTruncate,
}

impl Bug {
    /// Every bug, in documentation order.
    pub const ALL: [Bug; 5] = [
        Bug::NoGrace,
        Bug::ReuseToken,
        Bug::StaleRead,
        Bug::NoPersistVote,
        Bug::NoTruncate,
    ];

    /// The flag name.
    pub fn name(self) -> &'static str {
        match self {
            Bug::NoGrace => "no-grace",
            Bug::ReuseToken => "reuse-token",
            Bug::StaleRead => "stale-read",
            Bug::NoPersistVote => "no-persist-vote",
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
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bugs {
    on: Vec<Bug>,
}

impl Bugs {
    /// Build from a list of bugs.
    pub fn from_list(list: &[Bug]) -> Bugs {
        let on = Bug::ALL.into_iter().filter(|b| list.contains(b)).collect();
        Bugs { on }
    }

    /// Is `bug` enabled?
    pub fn has(&self, bug: Bug) -> bool {
        self.on.contains(&bug)
    }

    /// Names of the enabled bugs.
    pub fn names(&self) -> Vec<&'static str> {
        self.on.iter().map(|b| b.name()).collect()
    }

    /// The bugs that live in the shared loop, core and storage.
    pub fn core(&self) -> CoreBugs {
        CoreBugs {
            early_ack: false,
            no_truncate: self.has(Bug::NoTruncate),
            no_persist_vote: self.has(Bug::NoPersistVote),
        }
    }
}

/// BUG reuse-token: per-lock counters in this process's memory. A node that becomes leader
/// hands out tokens from its own counters, which know nothing of the tokens an earlier
/// leader gave, so tokens repeat or go down across leader changes.
#[derive(Debug, Default)]
pub struct MemoryTokens {
    next: HashMap<String, u64>,
}

impl MemoryTokens {
    /// The next token for `lock` by this process's count.
    pub fn next(&mut self, lock: &str) -> u64 {
        let n = self.next.entry(lock.to_string()).or_insert(0);
        *n += 1;
        *n
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
        assert!(err.contains("no-grace") && err.contains("reuse-token") && err.contains("lossy"));
        let set = Bugs::from_list(&[Bug::StaleRead, Bug::NoGrace]);
        assert_eq!(set.names(), vec!["no-grace", "stale-read"]);
        assert_eq!(set.core(), CoreBugs::default());
    }
}
