//! Linearizable reads by read index: the leader notes the slot a read must see (its chosen
//! prefix, or the last slot it re-proposed at takeover if that is later), confirms with a
//! heartbeat round that a majority still honours its ballot after the read arrived, and
//! releases the read once that slot is chosen and handed out for applying.

use super::core::{Core, NotLeader, Role};

impl Core {
    /// Ask for a linearizable read with the caller's `id`; it comes back in
    /// `Ready::reads_ready` (or `reads_failed` if leadership is lost first).
    pub fn read(&mut self, id: u64) -> Result<(), NotLeader> {
        if self.role != Role::Leader {
            return Err(NotLeader {
                leader: self.leader,
            });
        }
        if !self.read_round_unsent {
            self.read_round += 1;
            self.read_round_unsent = true;
        }
        let index = self.commit.max(self.takeover_slot);
        self.pending_reads.push((id, self.read_round, index));
        self.check_reads();
        Ok(())
    }

    /// The highest read round a majority (this leader included) has confirmed.
    fn confirmed_read_round(&self) -> u64 {
        let mut rounds: Vec<u64> = self
            .peers()
            .map(|p| self.peer_read_round.get(&p).copied().unwrap_or(0))
            .collect();
        rounds.push(self.read_round);
        rounds.sort_unstable_by(|a, b| b.cmp(a));
        rounds[self.majority() - 1]
    }

    /// Release the reads whose round is confirmed and whose slot is applied.
    pub(super) fn check_reads(&mut self) {
        if self.pending_reads.is_empty() || self.role != Role::Leader {
            return;
        }
        let confirmed = self.confirmed_read_round();
        let applied = self.applied;
        let mut waiting = Vec::with_capacity(self.pending_reads.len());
        for (id, round, index) in std::mem::take(&mut self.pending_reads) {
            if round <= confirmed && index <= applied {
                self.out.reads_ready.push((id, index));
            } else {
                waiting.push((id, round, index));
            }
        }
        self.pending_reads = waiting;
    }

    /// Fail every pending read (leadership lost).
    pub(super) fn fail_reads(&mut self) {
        for (id, _, _) in std::mem::take(&mut self.pending_reads) {
            self.out.reads_failed.push(id);
        }
    }

    /// Start the heartbeat round that confirms the reads registered since the last one.
    pub(super) fn flush_read_round(&mut self) {
        if self.read_round_unsent && self.role == Role::Leader {
            self.broadcast_heartbeat();
        }
    }
}
