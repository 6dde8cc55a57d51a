//! The deliberate bugs `--bug NAME` turns on, each off by default.

use crate::paxos::CoreBugs;

/// A deliberate bug.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Bug {
    /// Phase 1 ignores the values acceptors report as accepted (a new leader overwrites
    /// values that may already be chosen).
    NoAdopt,
    /// The acceptor does not persist its promise, so a restart forgets it.
    ForgetPromise,
    /// Every node answers reads from its local state, without a quorum round or redirect.
    StaleRead,
}

impl Bug {
    /// The flag spelling.
    pub fn name(self) -> &'static str {
        match self {
            Bug::NoAdopt => "no-adopt",
            Bug::ForgetPromise => "forget-promise",
            Bug::StaleRead => "stale-read",
        }
    }
}

/// The set of enabled bugs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bugs(pub Vec<Bug>);

impl Bugs {
    /// Is `bug` on?
    pub fn has(&self, bug: Bug) -> bool {
        self.0.contains(&bug)
    }

    /// The ones that live in the consensus core.
    pub fn core(&self) -> CoreBugs {
        CoreBugs {
            no_adopt: self.has(Bug::NoAdopt),
            forget_promise: self.has(Bug::ForgetPromise),
        }
    }

    /// Names, for `/status`.
    pub fn names(&self) -> Vec<&'static str> {
        self.0.iter().map(|b| b.name()).collect()
    }
}
