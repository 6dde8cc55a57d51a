//! ReadIndex bookkeeping on the leader: reads waiting for the leader's first commit in its
//! term, and reads waiting for a quorum to acknowledge a heartbeat round issued after the
//! read was registered. Rounds are numbered; one heartbeat round confirms every read
//! registered before it was sent.

use std::collections::VecDeque;

use super::types::ReadState;

#[derive(Debug, Clone)]
struct PendingRead {
    ctx: u64,
    index: u64,
    round: u64,
}

/// The leader's pending linearizable reads.
#[derive(Debug, Clone)]
pub struct ReadOnly {
    /// Round number that the next heartbeat round will carry (monotonic, never reset).
    next_round: u64,
    /// Reads waiting for a quorum acknowledgement of their round.
    queue: VecDeque<PendingRead>,
    /// Reads registered before the leader committed an entry of its term.
    waiting_commit: Vec<u64>,
}

impl Default for ReadOnly {
    fn default() -> Self {
        ReadOnly {
            next_round: 1,
            queue: VecDeque::new(),
            waiting_commit: Vec::new(),
        }
    }
}

impl ReadOnly {
    /// Registers a read at `index` (the current commit index); it will be confirmed by the
    /// next heartbeat round. Returns that round.
    pub fn add(&mut self, ctx: u64, index: u64) -> u64 {
        let round = self.next_round;
        self.queue.push_back(PendingRead { ctx, index, round });
        round
    }

    /// Parks a read until the leader's term has a committed entry.
    pub fn park(&mut self, ctx: u64) {
        self.waiting_commit.push(ctx);
    }

    /// Moves parked reads to the queue at `index`. Returns true if any moved.
    pub fn unpark(&mut self, index: u64) -> bool {
        if self.waiting_commit.is_empty() {
            return false;
        }
        for ctx in std::mem::take(&mut self.waiting_commit) {
            self.add(ctx, index);
        }
        true
    }

    /// True if some read waits for the round `next_round`, i.e. a heartbeat round must go out.
    pub fn needs_round(&self) -> bool {
        self.queue
            .back()
            .is_some_and(|r| r.round == self.next_round)
    }

    /// Starts a heartbeat round: returns its number and advances the counter.
    pub fn start_round(&mut self) -> u64 {
        let r = self.next_round;
        self.next_round += 1;
        r
    }

    /// The highest round started so far (0 if none).
    pub fn last_started_round(&self) -> u64 {
        self.next_round.saturating_sub(1)
    }

    /// The highest round in flight, if reads are waiting.
    pub fn latest_pending_round(&self) -> Option<u64> {
        if self.queue.is_empty() {
            None
        } else {
            Some(self.next_round.saturating_sub(1))
        }
    }

    /// Releases every read whose round is `<= confirmed`.
    pub fn confirm(&mut self, confirmed: u64) -> Vec<ReadState> {
        let mut out = Vec::new();
        while self.queue.front().is_some_and(|r| r.round <= confirmed) {
            if let Some(r) = self.queue.pop_front() {
                out.push(ReadState {
                    ctx: r.ctx,
                    index: r.index,
                });
            }
        }
        out
    }

    /// Drops every pending read (leadership lost); returns their contexts.
    pub fn abort_all(&mut self) -> Vec<u64> {
        let mut out: Vec<u64> = std::mem::take(&mut self.waiting_commit);
        out.extend(self.queue.drain(..).map(|r| r.ctx));
        out
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty() && self.waiting_commit.is_empty()
    }
}
