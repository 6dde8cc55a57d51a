//! The leader's view of one follower: match/next index, the replication state machine
//! (probe: one append at a time until the logs agree; replicate: pipelined appends up to a
//! window; snapshot: waiting for an InstallSnapshot to land), the in-flight window, and the
//! liveness flags used by check-quorum, ReadIndex and stall detection.

use std::collections::VecDeque;

/// Replication state of a follower.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressState {
    Probe,
    Replicate,
    Snapshot,
}

/// Leader-side progress of one follower.
#[derive(Debug, Clone)]
pub struct Progress {
    /// Highest index known to match the leader's log.
    pub matched: u64,
    /// Next index to send.
    pub next: u64,
    pub state: ProgressState,
    /// Probe state: an append is out, wait for its answer (or a heartbeat answer).
    pub probe_sent: bool,
    /// Snapshot state: index of the snapshot being installed.
    pub pending_snapshot: u64,
    /// Replicate state: last index of each append in flight, in order.
    pub inflight: VecDeque<u64>,
    /// Heard from since the last check-quorum.
    pub recent_active: bool,
    /// Highest ReadIndex round this follower acknowledged in the current term.
    pub read_acked: u64,
    /// Ticks without progress while behind (replicate/snapshot), for stall recovery.
    pub stall_ticks: u64,
}

impl Progress {
    pub fn new(next: u64) -> Progress {
        Progress {
            matched: 0,
            next,
            state: ProgressState::Probe,
            probe_sent: false,
            pending_snapshot: 0,
            inflight: VecDeque::new(),
            recent_active: false,
            read_acked: 0,
            stall_ticks: 0,
        }
    }

    pub fn become_probe(&mut self) {
        let next = if self.state == ProgressState::Snapshot {
            (self.matched + 1).max(self.pending_snapshot + 1)
        } else {
            self.matched + 1
        };
        self.state = ProgressState::Probe;
        self.next = next;
        self.probe_sent = false;
        self.pending_snapshot = 0;
        self.inflight.clear();
        self.stall_ticks = 0;
    }

    pub fn become_replicate(&mut self) {
        self.state = ProgressState::Replicate;
        self.next = self.matched + 1;
        self.probe_sent = false;
        self.pending_snapshot = 0;
        self.inflight.clear();
        self.stall_ticks = 0;
    }

    pub fn become_snapshot(&mut self, index: u64) {
        self.state = ProgressState::Snapshot;
        self.pending_snapshot = index;
        self.probe_sent = false;
        self.inflight.clear();
        self.stall_ticks = 0;
    }

    /// Records a successful append answer for `index`. Returns true if `matched` moved.
    pub fn maybe_update(&mut self, index: u64) -> bool {
        let mut updated = false;
        if index > self.matched {
            self.matched = index;
            self.probe_sent = false;
            self.stall_ticks = 0;
            updated = true;
        }
        if self.next < index + 1 {
            self.next = index + 1;
        }
        updated
    }

    /// Handles a rejected append whose `prev_index` was `rejected`; `probe_to` is the index
    /// the leader's log agrees with according to the follower's hint. Returns false if the
    /// rejection is stale.
    pub fn maybe_decr_to(&mut self, rejected: u64, probe_to: u64) -> bool {
        if self.state == ProgressState::Replicate {
            if rejected <= self.matched {
                return false;
            }
            self.next = self.matched + 1;
            return true;
        }
        if self.next == 0 || self.next - 1 != rejected {
            return false;
        }
        self.next = rejected
            .min(probe_to.saturating_add(1))
            .max(self.matched + 1)
            .max(1);
        self.probe_sent = false;
        true
    }

    /// True if no further append may be sent now.
    pub fn is_paused(&self, max_inflight: usize) -> bool {
        match self.state {
            ProgressState::Probe => self.probe_sent,
            ProgressState::Replicate => self.inflight.len() >= max_inflight,
            ProgressState::Snapshot => true,
        }
    }

    /// Frees the in-flight appends ending at or below `index`.
    pub fn free_inflight_to(&mut self, index: u64) {
        while self.inflight.front().is_some_and(|&i| i <= index) {
            self.inflight.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_rejections_are_ignored() {
        let mut p = Progress::new(10);
        assert!(!p.maybe_decr_to(5, 0));
        assert!(p.maybe_decr_to(9, 3));
        assert_eq!(p.next, 4);
        p.matched = 6;
        p.become_replicate();
        assert!(!p.maybe_decr_to(6, 0));
        assert!(p.maybe_decr_to(8, 0));
        assert_eq!(p.next, 7);
    }

    #[test]
    fn inflight_window() {
        let mut p = Progress::new(1);
        p.become_replicate();
        p.inflight.extend([3, 5, 7]);
        assert!(p.is_paused(3));
        p.free_inflight_to(5);
        assert_eq!(p.inflight.len(), 1);
        assert!(!p.is_paused(3));
    }
}
