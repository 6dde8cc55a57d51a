//! The in-memory Raft log of one node: the entries after the last snapshot, the snapshot's
//! (index, term) offset, the commit index, the index handed out for applying, and the
//! bookkeeping of what has been handed to the caller for persisting (the "stable" index and
//! a pending truncation). Pure data structure; all index arithmetic is checked so that a bad
//! index from a remote message yields `None` instead of a panic.

use super::types::{Entry, Snapshot};

/// How a follower's log absorbed an `Append`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppendOutcome {
    /// The entries were accepted; the log matches the leader's up to `last_new`.
    Accepted { last_new: u64 },
    /// `prev_index`/`prev_term` do not match this log.
    Mismatch,
    /// The leader sent an entry that conflicts with a committed entry here (impossible for
    /// a correct cluster); nothing was changed.
    ConflictWithCommitted { index: u64 },
}

/// The log of one node.
#[derive(Debug, Clone)]
pub struct RaftLog {
    snapshot_index: u64,
    snapshot_term: u64,
    /// Entries `snapshot_index + 1 ..= last_index()`, in order.
    entries: Vec<Entry>,
    committed: u64,
    /// Highest index handed out for applying (in `Ready.committed` or as a snapshot).
    applied: u64,
    /// Highest index handed to the caller for persisting.
    stable: u64,
    /// Lowest index of a truncation of already-handed-out entries, not yet reported.
    pending_truncate: Option<u64>,
}

impl RaftLog {
    /// A log restored from disk: `entries` are assumed already persisted.
    pub fn restored(snapshot_index: u64, snapshot_term: u64, entries: Vec<Entry>) -> RaftLog {
        let last = snapshot_index + entries.len() as u64;
        RaftLog {
            snapshot_index,
            snapshot_term,
            entries,
            committed: snapshot_index,
            applied: snapshot_index,
            stable: last,
            pending_truncate: None,
        }
    }

    pub fn snapshot_index(&self) -> u64 {
        self.snapshot_index
    }

    pub fn snapshot_term(&self) -> u64 {
        self.snapshot_term
    }

    pub fn first_index(&self) -> u64 {
        self.snapshot_index + 1
    }

    pub fn last_index(&self) -> u64 {
        self.snapshot_index + self.entries.len() as u64
    }

    pub fn last_term(&self) -> u64 {
        self.entries
            .last()
            .map(|e| e.term)
            .unwrap_or(self.snapshot_term)
    }

    pub fn committed(&self) -> u64 {
        self.committed
    }

    pub fn applied(&self) -> u64 {
        self.applied
    }

    /// The term of the entry at `index`; `None` if compacted (below the snapshot) or
    /// beyond the last index. Index 0 has term 0 in an uncompacted log.
    pub fn term(&self, index: u64) -> Option<u64> {
        if index == self.snapshot_index {
            return Some(self.snapshot_term);
        }
        if index < self.snapshot_index || index > self.last_index() {
            return None;
        }
        let off = (index - self.snapshot_index - 1) as usize;
        self.entries.get(off).map(|e| e.term)
    }

    /// Up to `max` entries starting at `lo`; `None` if `lo` is compacted. Empty if
    /// `lo > last_index`.
    pub fn entries_from(&self, lo: u64, max: usize) -> Option<Vec<Entry>> {
        if lo <= self.snapshot_index {
            return None;
        }
        let off = usize::try_from(lo - self.snapshot_index - 1).ok()?;
        if off >= self.entries.len() {
            return Some(Vec::new());
        }
        let end = off.saturating_add(max).min(self.entries.len());
        Some(self.entries[off..end].to_vec())
    }

    /// All entries held (after the snapshot).
    pub fn all_entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Raft's up-to-date rule: is a log ending at (`last_index`, `last_term`) at least as
    /// up to date as this one?
    pub fn is_up_to_date(&self, last_index: u64, last_term: u64) -> bool {
        let my_term = self.last_term();
        last_term > my_term || (last_term == my_term && last_index >= self.last_index())
    }

    /// The largest index `<= index` whose term is `<= term`, with that term (0 if the term
    /// is unknown because it is compacted). Used for fast conflict back-off.
    pub fn find_conflict_by_term(&self, index: u64, term: u64) -> (u64, u64) {
        let mut i = index.min(self.last_index());
        loop {
            match self.term(i) {
                Some(t) if t <= term => return (i, t),
                Some(_) if i > self.snapshot_index => i -= 1,
                _ => return (i, 0),
            }
        }
    }

    /// Leader-side append of a new entry (its index must be `last_index + 1`).
    pub fn append_new(&mut self, entry: Entry) {
        debug_assert_eq!(entry.index, self.last_index() + 1);
        self.entries.push(entry);
    }

    /// Deletes the entries with index `>= index` (never below the snapshot).
    fn truncate_from(&mut self, index: u64) {
        let index = index.max(self.snapshot_index + 1);
        if index > self.last_index() {
            return;
        }
        let off = (index - self.snapshot_index - 1) as usize;
        self.entries.truncate(off);
        if index <= self.stable {
            self.pending_truncate = Some(self.pending_truncate.map_or(index, |p| p.min(index)));
            self.stable = index - 1;
        }
    }

    /// Follower-side AppendEntries. `entries` must already be validated as contiguous from
    /// `prev_index + 1`. With `no_truncate` (the deliberate bug) conflicting entries are
    /// kept instead of replaced, and only entries past the end are appended.
    pub fn maybe_append(
        &mut self,
        prev_index: u64,
        prev_term: u64,
        entries: &[Entry],
        no_truncate: bool,
    ) -> AppendOutcome {
        if self.term(prev_index) != Some(prev_term) {
            return AppendOutcome::Mismatch;
        }
        let last_new = prev_index + entries.len() as u64;
        for (k, e) in entries.iter().enumerate() {
            match self.term(e.index) {
                Some(t) if t == e.term => continue,
                Some(_) if e.index <= self.snapshot_index => continue,
                Some(_) => {
                    if no_truncate {
                        // DELIBERATE BUG: keep our conflicting entry, do not delete the
                        // suffix; only entries past our end get appended below.
                        continue;
                    }
                    if e.index <= self.committed {
                        return AppendOutcome::ConflictWithCommitted { index: e.index };
                    }
                    self.truncate_from(e.index);
                    self.entries.extend_from_slice(&entries[k..]);
                    return AppendOutcome::Accepted { last_new };
                }
                None => {
                    if e.index == self.last_index() + 1 {
                        self.entries.push(e.clone());
                    }
                }
            }
        }
        AppendOutcome::Accepted { last_new }
    }

    /// Raises the commit index to `index` (never lowers it, never past the last index).
    /// Returns true if it moved.
    pub fn commit_to(&mut self, index: u64) -> bool {
        let index = index.min(self.last_index());
        if index > self.committed {
            self.committed = index;
            true
        } else {
            false
        }
    }

    /// Sets the commit index from restored state (clamped to the log).
    pub fn set_committed_restored(&mut self, index: u64) {
        self.committed = index.clamp(self.snapshot_index, self.last_index());
    }

    pub fn has_unstable(&self) -> bool {
        self.pending_truncate.is_some() || self.last_index() > self.stable
    }

    /// Takes the pending truncation and the entries not yet handed out for persisting.
    pub fn take_unstable(&mut self) -> (Option<u64>, Vec<Entry>) {
        let trunc = self.pending_truncate.take();
        let from = self.stable + 1;
        let ents = if from > self.last_index() {
            Vec::new()
        } else {
            self.entries_from(from, usize::MAX).unwrap_or_default()
        };
        self.stable = self.last_index();
        (trunc, ents)
    }

    pub fn has_next_committed(&self) -> bool {
        self.committed > self.applied
    }

    /// Takes the committed entries not yet handed out for applying.
    pub fn take_committed(&mut self) -> Vec<Entry> {
        if self.committed <= self.applied {
            return Vec::new();
        }
        let n = (self.committed - self.applied) as usize;
        let ents = self.entries_from(self.applied + 1, n).unwrap_or_default();
        self.applied = self.committed;
        ents
    }

    /// Replaces the whole log with a snapshot received from the leader.
    pub fn restore(&mut self, snap: &Snapshot) {
        self.snapshot_index = snap.meta.index;
        self.snapshot_term = snap.meta.term;
        self.entries.clear();
        self.committed = snap.meta.index;
        self.applied = snap.meta.index;
        self.stable = snap.meta.index;
        self.pending_truncate = None;
    }

    /// Drops the entries up to and including `index` (which must be `<= applied` and held),
    /// recording (`index`, `term`) as the new snapshot point.
    pub fn compact(&mut self, index: u64, term: u64) {
        if index <= self.snapshot_index {
            return;
        }
        let n = ((index - self.snapshot_index) as usize).min(self.entries.len());
        self.entries.drain(..n);
        self.snapshot_index = index;
        self.snapshot_term = term;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ents(terms: &[u64]) -> Vec<Entry> {
        terms
            .iter()
            .enumerate()
            .map(|(i, &t)| Entry {
                term: t,
                index: i as u64 + 1,
                data: vec![1],
            })
            .collect()
    }

    #[test]
    fn append_truncates_conflicting_suffix() {
        let mut log = RaftLog::restored(0, 0, ents(&[1, 1, 1, 1]));
        let new = vec![Entry {
            term: 2,
            index: 3,
            data: vec![9],
        }];
        assert_eq!(
            log.maybe_append(2, 1, &new, false),
            AppendOutcome::Accepted { last_new: 3 }
        );
        assert_eq!(log.last_index(), 3);
        assert_eq!(log.term(3), Some(2));
        let (trunc, e) = log.take_unstable();
        assert_eq!(trunc, Some(3));
        assert_eq!(e.len(), 1);
    }

    #[test]
    fn duplicate_append_does_not_truncate() {
        let mut log = RaftLog::restored(0, 0, ents(&[1, 1, 1, 1]));
        let dup = ents(&[1, 1]);
        assert_eq!(
            log.maybe_append(0, 0, &dup, false),
            AppendOutcome::Accepted { last_new: 2 }
        );
        assert_eq!(log.last_index(), 4);
        assert!(!log.has_unstable());
    }

    #[test]
    fn no_truncate_bug_keeps_conflicting_entry() {
        let mut log = RaftLog::restored(0, 0, ents(&[1, 1, 1]));
        let new = vec![
            Entry {
                term: 2,
                index: 3,
                data: vec![9],
            },
            Entry {
                term: 2,
                index: 4,
                data: vec![9],
            },
        ];
        assert_eq!(
            log.maybe_append(2, 1, &new, true),
            AppendOutcome::Accepted { last_new: 4 }
        );
        assert_eq!(log.term(3), Some(1));
        assert_eq!(log.term(4), Some(2));
    }

    #[test]
    fn mismatch_and_conflict_by_term() {
        let mut log = RaftLog::restored(0, 0, ents(&[1, 1, 2, 2, 3]));
        assert_eq!(log.maybe_append(5, 2, &[], false), AppendOutcome::Mismatch);
        assert_eq!(log.maybe_append(9, 3, &[], false), AppendOutcome::Mismatch);
        assert_eq!(log.find_conflict_by_term(5, 2), (4, 2));
        assert_eq!(log.find_conflict_by_term(9, 1), (2, 1));
        assert_eq!(log.find_conflict_by_term(5, 0), (0, 0));
    }

    #[test]
    fn compact_and_lookups_out_of_range() {
        let mut log = RaftLog::restored(0, 0, ents(&[1, 1, 2, 2]));
        log.commit_to(4);
        assert_eq!(log.take_committed().len(), 4);
        log.compact(2, 1);
        assert_eq!(log.first_index(), 3);
        assert_eq!(log.term(2), Some(1));
        assert_eq!(log.term(1), None);
        assert_eq!(log.entries_from(2, 10), None);
        assert_eq!(log.entries_from(3, 10).map(|v| v.len()), Some(2));
        assert_eq!(log.entries_from(u64::MAX, 10), Some(vec![]));
        assert_eq!(log.term(u64::MAX), None);
    }
}
