//! The Raft state machine itself (`Raft`): roles and terms, elections with pre-vote and
//! check-quorum, log replication with per-follower progress, the commit rule, snapshots,
//! ReadIndex, and the `Ready` hand-off. Inputs are ticks, messages and proposals; outputs
//! are collected until the caller takes them with `ready()`. No I/O, clock or randomness
//! except the seeded PRNG for election timeouts.

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::config::Config;
use super::errors::{ProposeError, RaftError};
use super::log::{AppendOutcome, RaftLog};
use super::progress::{Progress, ProgressState};
use super::read_only::ReadOnly;
use super::types::{
    Entry, HardState, Message, MessageBody, NodeId, ReadState, Ready, RestoreState, Role, Snapshot,
    SnapshotMeta, Status,
};

/// One Raft node's consensus state. See the module documentation and [`Ready`].
#[derive(Debug)]
pub struct Raft {
    cfg: Config,
    term: u64,
    vote: Option<NodeId>,
    leader: Option<NodeId>,
    role: Role,
    log: RaftLog,
    /// Progress of every other voter (meaningful while leader).
    prs: BTreeMap<NodeId, Progress>,
    /// Votes received in the current (pre-)campaign.
    votes: BTreeMap<NodeId, bool>,
    election_elapsed: u64,
    heartbeat_elapsed: u64,
    randomized_timeout: u64,
    rng: ChaCha8Rng,
    msgs: Vec<Message>,
    /// The hard state last handed out (or restored).
    prev_hs: HardState,
    /// Latest snapshot (restored, compacted or installed), sent to followers that need it.
    snapshot: Option<Snapshot>,
    /// A snapshot installed from the leader, not yet handed out.
    snapshot_out: Option<Snapshot>,
    read_only: ReadOnly,
    read_states: Vec<ReadState>,
    aborted_reads: Vec<u64>,
    /// Leader: new entries await a broadcast at the next `ready()` (batching).
    pending_append: bool,
    /// Leader: the commit index moved; tell followers at the next `ready()`.
    pending_commit: bool,
    /// Index of the first entry of the leader's term (its no-op).
    term_start_index: u64,
}

impl Raft {
    /// Creates a node from its configuration and the state recovered from disk. The caller
    /// must have restored its state machine from `restore.snapshot` (if any); entries after
    /// it up to the commit index come out in the first `Ready.committed`.
    pub fn new(cfg: Config, restore: RestoreState) -> Result<Raft, RaftError> {
        cfg.validate()?;
        let RestoreState {
            hard_state,
            snapshot,
            entries,
        } = restore;
        let (snap_index, snap_term) = snapshot
            .as_ref()
            .map(|s| (s.meta.index, s.meta.term))
            .unwrap_or((0, 0));
        if let Some(s) = &snapshot {
            if s.meta.index > 0 && s.meta.term == 0 {
                return Err(RaftError::InvalidRestore(
                    "snapshot at a non-zero index has term 0".into(),
                ));
            }
        }
        let mut kept: Vec<Entry> = Vec::with_capacity(entries.len());
        let mut prev_term = snap_term;
        for e in entries {
            if e.index <= snap_index {
                continue;
            }
            let expected = snap_index + kept.len() as u64 + 1;
            if e.index != expected {
                return Err(RaftError::InvalidRestore(format!(
                    "log entries not contiguous: expected index {expected}, found {}",
                    e.index
                )));
            }
            if e.term < prev_term {
                return Err(RaftError::InvalidRestore(format!(
                    "log entry {} has term {} below its predecessor's term {prev_term}",
                    e.index, e.term
                )));
            }
            prev_term = e.term;
            kept.push(e);
        }
        if prev_term > hard_state.term {
            return Err(RaftError::InvalidRestore(format!(
                "log holds term {prev_term} but the persisted term is {}",
                hard_state.term
            )));
        }
        if let Some(v) = hard_state.vote {
            if !cfg.voters.contains(&v) {
                return Err(RaftError::InvalidRestore(format!(
                    "persisted vote for node {v}, which is not a voter"
                )));
            }
        }
        let mut log = RaftLog::restored(snap_index, snap_term, kept);
        log.set_committed_restored(hard_state.commit);
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let randomized_timeout = draw_timeout(&mut rng, &cfg);
        let prs = cfg
            .voters
            .iter()
            .filter(|&&v| v != cfg.id)
            .map(|&v| (v, Progress::new(log.last_index() + 1)))
            .collect();
        let prev_hs = hard_state.clone();
        Ok(Raft {
            term: hard_state.term,
            vote: hard_state.vote,
            leader: None,
            role: Role::Follower,
            log,
            prs,
            votes: BTreeMap::new(),
            election_elapsed: 0,
            heartbeat_elapsed: 0,
            randomized_timeout,
            rng,
            msgs: Vec::new(),
            prev_hs,
            snapshot,
            snapshot_out: None,
            read_only: ReadOnly::default(),
            read_states: Vec::new(),
            aborted_reads: Vec::new(),
            pending_append: false,
            pending_commit: false,
            term_start_index: 0,
            cfg,
        })
    }

    // ----- public interface -------------------------------------------------------------

    /// Advances the logical clock by one tick: election timeouts for followers and
    /// candidates; heartbeats, check-quorum and stall recovery for the leader.
    pub fn tick(&mut self) {
        match self.role {
            Role::Leader => self.tick_leader(),
            _ => self.tick_election(),
        }
    }

    /// Handles a message from another node. Stale messages are ignored; a message from an
    /// unknown node, for another node, or malformed, is an error. Never panics.
    pub fn step(&mut self, m: Message) -> Result<(), RaftError> {
        if m.to != self.cfg.id {
            return Err(RaftError::WrongRecipient {
                to: m.to,
                me: self.cfg.id,
            });
        }
        if m.from == self.cfg.id || !self.prs.contains_key(&m.from) {
            return Err(RaftError::UnknownPeer { from: m.from });
        }
        self.validate_message(&m)?;

        if m.term > self.term {
            match &m.body {
                MessageBody::PreVote { .. } | MessageBody::Vote { .. } => {
                    let lease_applies = match m.body {
                        MessageBody::PreVote { .. } => self.cfg.pre_vote || self.cfg.check_quorum,
                        _ => self.cfg.check_quorum,
                    };
                    let in_lease = self.leader.is_some()
                        && (self.role == Role::Leader
                            || self.election_elapsed < self.cfg.election_ticks_min);
                    if lease_applies && in_lease {
                        // A leader is alive: refuse to help depose it. A pre-vote gets an
                        // explicit rejection (at our term, which does not move the sender's).
                        if matches!(m.body, MessageBody::PreVote { .. }) {
                            self.send(m.from, self.term, MessageBody::PreVoteResp { reject: true });
                        }
                        return Ok(());
                    }
                }
                _ => {}
            }
            match &m.body {
                MessageBody::PreVote { .. } => {}
                MessageBody::PreVoteResp { reject: false } => {}
                MessageBody::Append { .. }
                | MessageBody::Heartbeat { .. }
                | MessageBody::InstallSnapshot { .. } => {
                    self.become_follower(m.term, Some(m.from));
                }
                _ => self.become_follower(m.term, None),
            }
        } else if m.term < self.term {
            match &m.body {
                MessageBody::Append { .. }
                | MessageBody::Heartbeat { .. }
                | MessageBody::InstallSnapshot { .. } => {
                    // A stale leader: tell it our term so it steps down.
                    self.send(
                        m.from,
                        self.term,
                        MessageBody::AppendResp {
                            reject: true,
                            index: 0,
                            hint_index: 0,
                            hint_term: 0,
                        },
                    );
                }
                MessageBody::PreVote { .. } => {
                    self.send(m.from, self.term, MessageBody::PreVoteResp { reject: true });
                }
                _ => {}
            }
            return Ok(());
        }

        match m.body {
            MessageBody::PreVote {
                last_index,
                last_term,
            } => {
                self.handle_vote_request(m.from, m.term, true, last_index, last_term);
                Ok(())
            }
            MessageBody::Vote {
                last_index,
                last_term,
            } => {
                self.handle_vote_request(m.from, m.term, false, last_index, last_term);
                Ok(())
            }
            body => match self.role {
                Role::Leader => self.step_leader(m.from, m.term, body),
                Role::Candidate | Role::PreCandidate => self.step_candidate(m.from, m.term, body),
                Role::Follower => self.step_follower(m.from, body),
            },
        }
    }

    /// Appends a command to the leader's log. Returns its (term, index): the command is
    /// committed iff the entry committed at `index` has this `term`.
    pub fn propose(&mut self, data: Vec<u8>) -> Result<(u64, u64), ProposeError> {
        if self.role != Role::Leader {
            return Err(ProposeError::NotLeader {
                leader: self.leader,
            });
        }
        let index = self.log.last_index() + 1;
        self.log.append_new(Entry {
            term: self.term,
            index,
            data,
        });
        self.pending_append = true;
        self.maybe_commit();
        Ok((self.term, index))
    }

    /// Starts a linearizable read with caller context `ctx`. The answer comes later as a
    /// `Ready.read_states` entry (or in `Ready.aborted_reads` if leadership is lost).
    pub fn read_index(&mut self, ctx: u64) -> Result<(), ProposeError> {
        if self.role != Role::Leader {
            return Err(ProposeError::NotLeader {
                leader: self.leader,
            });
        }
        if self.log.term(self.log.committed()) != Some(self.term) {
            // The leader's commit index may lag the cluster's until its no-op commits.
            self.read_only.park(ctx);
            return Ok(());
        }
        self.read_only.add(ctx, self.log.committed());
        self.advance_reads();
        Ok(())
    }

    /// True if `ready()` would return something.
    pub fn has_ready(&self) -> bool {
        self.current_hard_state() != self.prev_hs
            || self.log.has_unstable()
            || self.snapshot_out.is_some()
            || !self.msgs.is_empty()
            || self.log.has_next_committed()
            || !self.read_states.is_empty()
            || !self.aborted_reads.is_empty()
            || (self.role == Role::Leader
                && (self.pending_append || self.pending_commit || self.read_only.needs_round()))
    }

    /// Takes everything pending. See [`Ready`] for the order in which the caller must
    /// process it (persist, fsync, send, apply).
    pub fn ready(&mut self) -> Ready {
        self.flush_leader_broadcasts();
        let hs = self.current_hard_state();
        let hard_state = if hs != self.prev_hs {
            self.prev_hs = hs.clone();
            Some(hs)
        } else {
            None
        };
        let snapshot = self.snapshot_out.take();
        let (truncate_from, entries) = self.log.take_unstable();
        Ready {
            hard_state,
            truncate_from,
            entries,
            snapshot,
            messages: std::mem::take(&mut self.msgs),
            committed: self.log.take_committed(),
            read_states: std::mem::take(&mut self.read_states),
            aborted_reads: std::mem::take(&mut self.aborted_reads),
        }
    }

    /// Records a state machine snapshot taken at `snapshot.meta.index` (which must be
    /// `<= applied`) and drops the log up to it. Snapshots at or below the current snapshot
    /// index are ignored.
    pub fn compact(&mut self, snapshot: Snapshot) -> Result<(), RaftError> {
        let idx = snapshot.meta.index;
        if idx <= self.log.snapshot_index() {
            return Ok(());
        }
        if idx > self.log.applied() {
            return Err(RaftError::InvalidSnapshot(format!(
                "snapshot index {idx} is beyond the applied index {}",
                self.log.applied()
            )));
        }
        match self.log.term(idx) {
            Some(t) if t == snapshot.meta.term => {}
            other => {
                return Err(RaftError::InvalidSnapshot(format!(
                    "snapshot term {} does not match the log's term {:?} at index {idx}",
                    snapshot.meta.term, other
                )))
            }
        }
        self.log.compact(idx, snapshot.meta.term);
        self.snapshot = Some(snapshot);
        Ok(())
    }

    /// A summary of this node's state.
    pub fn status(&self) -> Status {
        Status {
            id: self.cfg.id,
            role: self.role,
            term: self.term,
            vote: self.vote,
            leader: self.leader,
            commit: self.log.committed(),
            applied: self.log.applied(),
            first_index: self.log.first_index(),
            last_index: self.log.last_index(),
            snapshot_index: self.log.snapshot_index(),
            snapshot_term: self.log.snapshot_term(),
        }
    }

    /// This node's configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The log entries held in memory (after the last snapshot). For tests and debugging.
    pub fn log_entries(&self) -> &[Entry] {
        self.log.all_entries()
    }

    /// The term of the entry at `index`, if held (or the snapshot's term at its index).
    pub fn log_term(&self, index: u64) -> Option<u64> {
        self.log.term(index)
    }

    /// Metadata for a snapshot the caller takes at its applied index (voters and the term
    /// of the applied entry), or `None` if that term is no longer known.
    pub fn snapshot_meta_at_applied(&self) -> Option<SnapshotMeta> {
        let index = self.log.applied();
        let term = self.log.term(index)?;
        Some(SnapshotMeta {
            index,
            term,
            voters: self.cfg.voters.clone(),
        })
    }

    // ----- roles --------------------------------------------------------------------------

    fn quorum(&self) -> usize {
        self.cfg.voters.len() / 2 + 1
    }

    fn current_hard_state(&self) -> HardState {
        HardState {
            term: self.term,
            vote: self.vote,
            commit: self.log.committed(),
        }
    }

    fn reset_timers(&mut self) {
        self.election_elapsed = 0;
        self.heartbeat_elapsed = 0;
        self.randomized_timeout = draw_timeout(&mut self.rng, &self.cfg);
    }

    fn abort_reads(&mut self) {
        let aborted = self.read_only.abort_all();
        self.aborted_reads.extend(aborted);
    }

    fn become_follower(&mut self, term: u64, leader: Option<NodeId>) {
        if self.role == Role::Leader {
            self.abort_reads();
            self.pending_append = false;
            self.pending_commit = false;
        }
        if term > self.term {
            self.term = term;
            self.vote = None;
        }
        self.role = Role::Follower;
        self.leader = leader;
        self.votes.clear();
        self.reset_timers();
    }

    fn become_pre_candidate(&mut self) {
        if self.role == Role::Leader {
            self.abort_reads();
        }
        self.role = Role::PreCandidate;
        self.leader = None;
        self.votes.clear();
        self.reset_timers();
    }

    fn become_candidate(&mut self) {
        if self.role == Role::Leader {
            self.abort_reads();
        }
        self.term += 1;
        self.vote = Some(self.cfg.id);
        self.role = Role::Candidate;
        self.leader = None;
        self.votes.clear();
        self.reset_timers();
    }

    fn become_leader(&mut self) {
        self.role = Role::Leader;
        self.leader = Some(self.cfg.id);
        self.votes.clear();
        self.reset_timers();
        let next = self.log.last_index() + 1;
        for pr in self.prs.values_mut() {
            *pr = Progress::new(next);
        }
        self.term_start_index = next;
        self.log.append_new(Entry {
            term: self.term,
            index: next,
            data: Vec::new(),
        });
        self.pending_append = true;
        self.maybe_commit();
    }

    fn campaign(&mut self, pre: bool) {
        let vote_term = if pre {
            self.become_pre_candidate();
            self.term + 1
        } else {
            self.become_candidate();
            self.term
        };
        self.votes.insert(self.cfg.id, true);
        if self.poll_result() == Some(true) {
            if pre {
                self.campaign(false);
            } else {
                self.become_leader();
            }
            return;
        }
        let last_index = self.log.last_index();
        let last_term = self.log.last_term();
        let peers: Vec<NodeId> = self.prs.keys().copied().collect();
        for p in peers {
            let body = if pre {
                MessageBody::PreVote {
                    last_index,
                    last_term,
                }
            } else {
                MessageBody::Vote {
                    last_index,
                    last_term,
                }
            };
            self.send(p, vote_term, body);
        }
    }

    /// `Some(true)` if won, `Some(false)` if lost, `None` if undecided.
    fn poll_result(&self) -> Option<bool> {
        let granted = self.votes.values().filter(|&&g| g).count();
        let rejected = self.votes.len() - granted;
        if granted >= self.quorum() {
            Some(true)
        } else if rejected >= self.quorum() {
            Some(false)
        } else {
            None
        }
    }

    // ----- ticks --------------------------------------------------------------------------

    fn tick_election(&mut self) {
        self.election_elapsed += 1;
        if self.election_elapsed >= self.randomized_timeout {
            self.election_elapsed = 0;
            self.campaign(self.cfg.pre_vote);
        }
    }

    fn tick_leader(&mut self) {
        self.heartbeat_elapsed += 1;
        self.election_elapsed += 1;
        if self.election_elapsed >= self.cfg.election_ticks_min {
            self.election_elapsed = 0;
            if self.cfg.check_quorum {
                let active = 1 + self.prs.values().filter(|p| p.recent_active).count();
                if active < self.quorum() {
                    self.become_follower(self.term, None);
                    return;
                }
            }
            for pr in self.prs.values_mut() {
                pr.recent_active = false;
            }
        }
        // Stall recovery: a follower behind us that made no progress for an election
        // timeout (lost appends or a lost snapshot) is probed again.
        // A snapshot may legitimately take longer to ship, so it gets a longer limit.
        let last = self.log.last_index();
        let limit = self.cfg.election_ticks_min;
        let snapshot_limit = self.cfg.election_ticks_max.saturating_mul(3);
        let mut stalled = Vec::new();
        for (&id, pr) in self.prs.iter_mut() {
            if pr.state != ProgressState::Probe && pr.matched < last {
                pr.stall_ticks += 1;
                let l = if pr.state == ProgressState::Snapshot {
                    snapshot_limit
                } else {
                    limit
                };
                if pr.stall_ticks >= l {
                    pr.become_probe();
                    stalled.push(id);
                }
            } else {
                pr.stall_ticks = 0;
            }
        }
        for id in stalled {
            self.send_append(id, true);
        }
        if self.heartbeat_elapsed >= self.cfg.heartbeat_ticks {
            self.heartbeat_elapsed = 0;
            let round = self.read_only.latest_pending_round();
            self.broadcast_heartbeat(round);
        }
    }

    // ----- message handlers ---------------------------------------------------------------

    fn validate_message(&self, m: &Message) -> Result<(), RaftError> {
        let bad = |reason: String| {
            Err(RaftError::InvalidMessage {
                from: m.from,
                reason,
            })
        };
        // Indexes and terms this large cannot come from a real log; refusing them keeps
        // all index arithmetic far from overflow.
        let too_big = |x: u64| x > MAX_INDEX;
        let indexes: [u64; 3] = match &m.body {
            MessageBody::PreVote {
                last_index,
                last_term,
            }
            | MessageBody::Vote {
                last_index,
                last_term,
            } => [*last_index, *last_term, 0],
            MessageBody::Append {
                prev_index,
                prev_term,
                commit,
                ..
            } => [*prev_index, *prev_term, *commit],
            MessageBody::AppendResp {
                index,
                hint_index,
                hint_term,
                ..
            } => [*index, *hint_index, *hint_term],
            MessageBody::Heartbeat { commit, .. } => [*commit, 0, 0],
            MessageBody::InstallSnapshot { snapshot } => {
                [snapshot.meta.index, snapshot.meta.term, 0]
            }
            _ => [0, 0, 0],
        };
        if too_big(m.term) || indexes.iter().any(|&x| too_big(x)) {
            return bad("term or index out of range".into());
        }
        match &m.body {
            MessageBody::Append {
                prev_index,
                entries,
                ..
            } => {
                let mut expected = *prev_index;
                for e in entries {
                    expected = match expected.checked_add(1) {
                        Some(x) => x,
                        None => return bad("entry index overflow".into()),
                    };
                    if e.index != expected {
                        return bad(format!(
                            "entries not contiguous: expected index {expected}, found {}",
                            e.index
                        ));
                    }
                    if e.term > m.term {
                        return bad(format!(
                            "entry {} has term {} above the message term {}",
                            e.index, e.term, m.term
                        ));
                    }
                }
                Ok(())
            }
            MessageBody::InstallSnapshot { snapshot } => {
                if snapshot.meta.term > m.term {
                    return bad("snapshot term above the message term".into());
                }
                if snapshot.meta.index > 0 && snapshot.meta.term == 0 {
                    return bad("snapshot at a non-zero index has term 0".into());
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn handle_vote_request(
        &mut self,
        from: NodeId,
        term: u64,
        pre: bool,
        last_index: u64,
        last_term: u64,
    ) {
        let can_vote = self.vote == Some(from)
            || (self.vote.is_none() && self.leader.is_none())
            || (pre && term > self.term);
        let grant = can_vote && self.log.is_up_to_date(last_index, last_term);
        let (resp_term, body) = if pre {
            if grant {
                (term, MessageBody::PreVoteResp { reject: false })
            } else {
                (self.term, MessageBody::PreVoteResp { reject: true })
            }
        } else if grant {
            (self.term, MessageBody::VoteResp { reject: false })
        } else {
            (self.term, MessageBody::VoteResp { reject: true })
        };
        if grant && !pre {
            self.vote = Some(from);
            self.election_elapsed = 0;
        }
        self.send(from, resp_term, body);
    }

    fn step_candidate(
        &mut self,
        from: NodeId,
        term: u64,
        body: MessageBody,
    ) -> Result<(), RaftError> {
        match body {
            MessageBody::Append { .. }
            | MessageBody::Heartbeat { .. }
            | MessageBody::InstallSnapshot { .. } => {
                self.become_follower(term, Some(from));
                self.step_follower(from, body)
            }
            MessageBody::PreVoteResp { reject } if self.role == Role::PreCandidate => {
                // Granted answers echo our prospective term; rejections carry the voter's.
                if !reject && term != self.term + 1 {
                    return Ok(());
                }
                self.votes.entry(from).or_insert(!reject);
                match self.poll_result() {
                    Some(true) => self.campaign(false),
                    Some(false) => self.become_follower(self.term, None),
                    None => {}
                }
                Ok(())
            }
            MessageBody::VoteResp { reject } if self.role == Role::Candidate => {
                self.votes.entry(from).or_insert(!reject);
                match self.poll_result() {
                    Some(true) => self.become_leader(),
                    Some(false) => self.become_follower(self.term, None),
                    None => {}
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn step_follower(&mut self, from: NodeId, body: MessageBody) -> Result<(), RaftError> {
        match body {
            MessageBody::Append {
                prev_index,
                prev_term,
                entries,
                commit,
            } => {
                self.election_elapsed = 0;
                self.leader = Some(from);
                self.handle_append(from, prev_index, prev_term, entries, commit)
            }
            MessageBody::Heartbeat { commit, read_ctx } => {
                self.election_elapsed = 0;
                self.leader = Some(from);
                self.log.commit_to(commit);
                self.send(from, self.term, MessageBody::HeartbeatResp { read_ctx });
                Ok(())
            }
            MessageBody::InstallSnapshot { snapshot } => {
                self.election_elapsed = 0;
                self.leader = Some(from);
                self.handle_snapshot(from, snapshot);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn handle_append(
        &mut self,
        from: NodeId,
        prev_index: u64,
        prev_term: u64,
        entries: Vec<Entry>,
        commit: u64,
    ) -> Result<(), RaftError> {
        let committed = self.log.committed();
        if prev_index < committed {
            self.send_append_resp(from, false, committed, 0, 0);
            return Ok(());
        }
        match self
            .log
            .maybe_append(prev_index, prev_term, &entries, self.cfg.bug_no_truncate)
        {
            AppendOutcome::Accepted { last_new } => {
                self.log.commit_to(commit.min(last_new));
                self.send_append_resp(from, false, last_new, 0, 0);
                Ok(())
            }
            AppendOutcome::Mismatch => {
                let hint = prev_index.min(self.log.last_index());
                let (hint_index, hint_term) = self.log.find_conflict_by_term(hint, prev_term);
                self.send_append_resp(from, true, prev_index, hint_index, hint_term);
                Ok(())
            }
            AppendOutcome::ConflictWithCommitted { index } => Err(RaftError::InvalidMessage {
                from,
                reason: format!("append conflicts with committed entry {index}"),
            }),
        }
    }

    fn send_append_resp(
        &mut self,
        to: NodeId,
        reject: bool,
        index: u64,
        hint_index: u64,
        hint_term: u64,
    ) {
        self.send(
            to,
            self.term,
            MessageBody::AppendResp {
                reject,
                index,
                hint_index,
                hint_term,
            },
        );
    }

    fn handle_snapshot(&mut self, from: NodeId, snapshot: Snapshot) {
        let idx = snapshot.meta.index;
        if idx <= self.log.committed() {
            let c = self.log.committed();
            self.send_append_resp(from, false, c, 0, 0);
            return;
        }
        if self.log.term(idx) == Some(snapshot.meta.term) {
            // We already hold the snapshot's last entry: just fast-forward the commit.
            self.log.commit_to(idx);
            self.send_append_resp(from, false, idx, 0, 0);
            return;
        }
        self.log.restore(&snapshot);
        self.snapshot = Some(snapshot.clone());
        self.snapshot_out = Some(snapshot);
        self.send_append_resp(from, false, idx, 0, 0);
    }

    fn step_leader(
        &mut self,
        from: NodeId,
        _term: u64,
        body: MessageBody,
    ) -> Result<(), RaftError> {
        match body {
            MessageBody::AppendResp {
                reject,
                index,
                hint_index,
                hint_term,
            } => {
                self.handle_append_resp(from, reject, index, hint_index, hint_term);
                Ok(())
            }
            MessageBody::HeartbeatResp { read_ctx } => {
                self.handle_heartbeat_resp(from, read_ctx);
                Ok(())
            }
            // Another leader in our term is impossible; vote answers are stale here.
            _ => Ok(()),
        }
    }

    fn handle_append_resp(
        &mut self,
        from: NodeId,
        reject: bool,
        index: u64,
        hint_index: u64,
        hint_term: u64,
    ) {
        let last = self.log.last_index();
        let probe_to = if reject {
            if hint_term > 0 {
                self.log.find_conflict_by_term(hint_index, hint_term).0
            } else {
                hint_index
            }
        } else {
            0
        };
        let Some(pr) = self.prs.get_mut(&from) else {
            return;
        };
        pr.recent_active = true;
        if reject {
            if pr.maybe_decr_to(index, probe_to) {
                if pr.state == ProgressState::Replicate {
                    pr.become_probe();
                }
                self.send_append(from, true);
            }
            return;
        }
        if index > last {
            // An acknowledgement for entries we never had: ignore it.
            return;
        }
        if !pr.maybe_update(index) {
            return;
        }
        match pr.state {
            ProgressState::Probe => pr.become_replicate(),
            ProgressState::Snapshot => {
                if pr.matched >= pr.pending_snapshot {
                    pr.become_replicate();
                }
            }
            ProgressState::Replicate => pr.free_inflight_to(index),
        }
        self.maybe_commit();
        while self.send_append(from, false) {}
    }

    fn handle_heartbeat_resp(&mut self, from: NodeId, read_ctx: Option<u64>) {
        let last = self.log.last_index();
        let max_inflight = self.cfg.max_inflight_appends;
        let Some(pr) = self.prs.get_mut(&from) else {
            return;
        };
        pr.recent_active = true;
        pr.probe_sent = false;
        if pr.state == ProgressState::Replicate && pr.inflight.len() >= max_inflight {
            pr.inflight.pop_front();
        }
        if let Some(r) = read_ctx {
            // Only rounds this leader actually started count.
            if r <= self.read_only.last_started_round() {
                pr.read_acked = pr.read_acked.max(r);
            }
        }
        let behind = pr.matched < last;
        if behind {
            self.send_append(from, true);
        }
        if read_ctx.is_some() {
            self.advance_reads();
        }
    }

    // ----- replication --------------------------------------------------------------------

    /// Sends one append (or a snapshot) to `to` if its flow control allows. With
    /// `allow_empty` an append without entries is sent (probe, commit propagation).
    /// Returns true if a message with entries or a snapshot went out.
    fn send_append(&mut self, to: NodeId, allow_empty: bool) -> bool {
        let max_inflight = self.cfg.max_inflight_appends;
        let max_entries = self.cfg.max_entries_per_append;
        let commit = self.log.committed();
        let Some(pr) = self.prs.get(&to) else {
            return false;
        };
        if pr.is_paused(max_inflight) {
            return false;
        }
        let next = pr.next;
        let prev_index = next.saturating_sub(1);
        let prev_term = self.log.term(prev_index);
        let entries = self.log.entries_from(next.max(1), max_entries);
        let (prev_term, entries) = match (prev_term, entries) {
            (Some(t), Some(e)) => (t, e),
            _ => {
                // The follower needs compacted entries: send the snapshot.
                let Some(snap) = self.snapshot.clone() else {
                    return false;
                };
                let idx = snap.meta.index;
                if let Some(pr) = self.prs.get_mut(&to) {
                    pr.become_snapshot(idx);
                }
                self.send(
                    to,
                    self.term,
                    MessageBody::InstallSnapshot { snapshot: snap },
                );
                return true;
            }
        };
        if entries.is_empty() && !allow_empty {
            return false;
        }
        let sent_entries = !entries.is_empty();
        let last_sent = entries.last().map(|e| e.index);
        if let Some(pr) = self.prs.get_mut(&to) {
            match pr.state {
                ProgressState::Replicate => {
                    if let Some(l) = last_sent {
                        pr.next = l + 1;
                        pr.inflight.push_back(l);
                    }
                }
                ProgressState::Probe => pr.probe_sent = true,
                ProgressState::Snapshot => {}
            }
        }
        self.send(
            to,
            self.term,
            MessageBody::Append {
                prev_index,
                prev_term,
                entries,
                commit,
            },
        );
        sent_entries
    }

    fn broadcast_heartbeat(&mut self, read_ctx: Option<u64>) {
        let commit = self.log.committed();
        let targets: Vec<(NodeId, u64)> = self
            .prs
            .iter()
            .map(|(&id, pr)| (id, pr.matched.min(commit)))
            .collect();
        for (id, c) in targets {
            self.send(
                id,
                self.term,
                MessageBody::Heartbeat {
                    commit: c,
                    read_ctx,
                },
            );
        }
    }

    /// Leader: sends the appends, commit updates and ReadIndex rounds accumulated since the
    /// last `ready()`, so many proposals share one message.
    fn flush_leader_broadcasts(&mut self) {
        if self.role != Role::Leader {
            self.pending_append = false;
            self.pending_commit = false;
            return;
        }
        if self.pending_append || self.pending_commit {
            let commit_changed = self.pending_commit;
            self.pending_append = false;
            self.pending_commit = false;
            let peers: Vec<NodeId> = self.prs.keys().copied().collect();
            for p in peers {
                let mut sent = false;
                while self.send_append(p, false) {
                    sent = true;
                }
                let probing = self
                    .prs
                    .get(&p)
                    .is_some_and(|pr| pr.state == ProgressState::Probe);
                if !sent && (commit_changed || probing) {
                    // Probes go out even without new entries (a new leader finds where
                    // each follower's log agrees); followers learn a new commit index.
                    self.send_append(p, true);
                }
            }
        }
        if self.read_only.needs_round() {
            let round = self.read_only.start_round();
            if self.prs.is_empty() {
                self.advance_reads();
            } else {
                self.broadcast_heartbeat(Some(round));
            }
        }
    }

    /// Leader: advances the commit index to the highest current-term index a quorum holds.
    fn maybe_commit(&mut self) {
        let mut matches: Vec<u64> = self.prs.values().map(|p| p.matched).collect();
        matches.push(self.log.last_index());
        matches.sort_unstable_by(|a, b| b.cmp(a));
        let q = self.quorum();
        let Some(&candidate) = matches.get(q - 1) else {
            return;
        };
        if candidate > self.log.committed() && self.log.term(candidate) == Some(self.term) {
            self.log.commit_to(candidate);
            self.pending_commit = true;
            if self.read_only.unpark(self.log.committed()) {
                self.advance_reads();
            }
        }
    }

    /// Leader: releases reads confirmed by a quorum.
    fn advance_reads(&mut self) {
        if self.read_only.is_empty() {
            return;
        }
        let confirmed = if self.prs.is_empty() {
            u64::MAX
        } else {
            let mut acks: Vec<u64> = self.prs.values().map(|p| p.read_acked).collect();
            acks.push(u64::MAX);
            acks.sort_unstable_by(|a, b| b.cmp(a));
            acks.get(self.quorum() - 1).copied().unwrap_or(0)
        };
        let ready = self.read_only.confirm(confirmed);
        self.read_states.extend(ready);
    }

    fn send(&mut self, to: NodeId, term: u64, body: MessageBody) {
        self.msgs.push(Message {
            from: self.cfg.id,
            to,
            term,
            body,
        });
    }
}

/// Largest term or index accepted from a peer (2^62): far beyond any real log, far below
/// overflow.
const MAX_INDEX: u64 = 1 << 62;

fn draw_timeout(rng: &mut ChaCha8Rng, cfg: &Config) -> u64 {
    if cfg.election_ticks_max <= cfg.election_ticks_min {
        cfg.election_ticks_min
    } else {
        rng.gen_range(cfg.election_ticks_min..cfg.election_ticks_max)
    }
}
