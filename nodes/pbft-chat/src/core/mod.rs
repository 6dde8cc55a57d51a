//! The pure PBFT core of one replica: messages, client requests and ticks in; signed
//! messages to send, replies, executed entries and detections out. No I/O, clock or
//! randomness: signing and verifying go through the `Signer`/`Verifier` traits, time is a
//! tick count. Submodules: `normal` (request, pre-prepare, prepare, commit, execute),
//! `checkpoint` (checkpoints, garbage collection, status and state transfer), `view_change`
//! (view-change and new-view), `detect` (Byzantine evidence), `byzantine` (playing a mode).

mod byzantine;
mod checkpoint;
mod detect;
mod normal;
mod view_change;

pub use detect::{Detection, DetectionKind};

use crate::crypto::{Signer, Verifier};
use crate::faults::{Bugs, Mode};
use crate::message::{Payload, PreparedCert, Signed};
use crate::types::{Digest, Entry, ReplicaId, Reply, Request};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Good signatures remembered before the cache starts over.
const VERIFIED_CACHE: usize = 100_000;

/// Static parameters of a replica.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// This replica (1..=n).
    pub id: ReplicaId,
    /// Number of replicas, 3f+1.
    pub n: u64,
    /// Checkpoint every K executed sequence numbers.
    pub checkpoint_interval: u64,
    /// Watermark window L: sequence numbers in (low, low+L] are accepted.
    pub window: u64,
    /// Ticks a backup waits for a pending request before suspecting the primary.
    pub request_timeout_ticks: u64,
    /// Ticks to wait for a new-view before moving on to the next view (doubles each time).
    pub view_change_timeout_ticks: u64,
    /// Ticks between status messages.
    pub status_ticks: u64,
    /// Deliberate bugs.
    pub bugs: Bugs,
}

impl CoreConfig {
    /// Sensible defaults for `n` replicas, replica `id`.
    pub fn new(id: ReplicaId, n: u64) -> CoreConfig {
        CoreConfig {
            id,
            n,
            checkpoint_interval: 16,
            window: 64,
            request_timeout_ticks: 100,
            view_change_timeout_ticks: 100,
            status_ticks: 10,
            bugs: Bugs::default(),
        }
    }
}

/// Where a message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dest {
    /// Every other replica.
    All,
    /// One replica.
    To(ReplicaId),
}

/// A message to send.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// Destination.
    pub to: Dest,
    /// The signed message.
    pub msg: Signed,
}

/// Everything the core produced since the last `take_output`.
#[derive(Debug, Default)]
pub struct Output {
    /// Messages to send.
    pub messages: Vec<Outgoing>,
    /// Replies for clients (unsigned; the node signs them).
    pub replies: Vec<Reply>,
    /// Newly delivered entries, in order.
    pub executed: Vec<Entry>,
    /// Byzantine behaviour detected (each node and kind reported once).
    pub detections: Vec<Detection>,
    /// Notable events for the log (view changes, state transfers).
    pub events: Vec<String>,
}

/// What happened to a client request handed to the core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestOutcome {
    /// Queued for ordering; a reply comes out when it is executed.
    Accepted,
    /// Already executed: here is the reply again.
    Done(Reply),
    /// Its timestamp is older than the client's last executed one.
    Stale {
        /// The client's last executed timestamp.
        last: u64,
    },
}

/// A pre-prepare a replica holds for one (view, seq).
#[derive(Debug, Clone)]
struct Accepted {
    digest: Digest,
    request: Option<Request>,
    signed: Signed,
    /// This replica sent a prepare for it (it had the request from the client, or the
    /// pre-prepare came certified in a new-view).
    endorsed: bool,
}

/// Everything known about one sequence number.
#[derive(Debug, Default)]
struct Slot {
    pre_prepares: BTreeMap<u64, Accepted>,
    prepares: BTreeMap<(u64, ReplicaId), Signed>,
    commits: BTreeMap<(u64, ReplicaId), Signed>,
    prepared: Option<PreparedCert>,
    commit_sent: BTreeSet<u64>,
    /// (view, digest, request) once 2f+1 matching commits are in.
    committed: Option<(u64, Digest, Option<Request>)>,
}

/// Per-client replay protection: the last executed timestamp and its reply.
#[derive(Debug, Clone)]
struct ClientRecord {
    reply: Reply,
}

/// Where the replica is in the view protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Normal,
    /// Waiting for a new-view. The timer (`deadline`) runs only once 2f+1 view-changes for
    /// this view are in, as in the paper, so a replica cut off alone does not run ahead
    /// through views; `attempt` doubles the timeout.
    ChangingTo {
        deadline: Option<u64>,
        attempt: u32,
    },
}

/// One PBFT replica.
pub struct Core {
    cfg: CoreConfig,
    signer: Box<dyn Signer + Send>,
    verifier: Box<dyn Verifier + Send>,
    byzantine: Option<Mode>,
    now: u64,
    view: u64,
    phase: Phase,
    next_seq: u64,
    slots: BTreeMap<u64, Slot>,
    low: u64,
    stable_proof: Vec<Signed>,
    my_checkpoints: BTreeMap<u64, Digest>,
    checkpoint_votes: BTreeMap<u64, BTreeMap<ReplicaId, Signed>>,
    last_executed: u64,
    state: Digest,
    delivered: Vec<Entry>,
    clients: BTreeMap<String, ClientRecord>,
    pending: BTreeMap<Digest, Request>,
    order: VecDeque<Digest>,
    assigned: BTreeSet<Digest>,
    request_deadline: Option<u64>,
    view_changes: BTreeMap<u64, BTreeMap<ReplicaId, Signed>>,
    new_view_msg: Option<Signed>,
    detector: detect::Detector,
    equivocations: BTreeSet<(u64, u64)>,
    verified: std::cell::RefCell<std::collections::HashSet<Digest>>,
    replay: byzantine::ReplayBuffer,
    out: Output,
}

impl Core {
    /// A fresh replica in view 0.
    pub fn new(
        cfg: CoreConfig,
        signer: Box<dyn Signer + Send>,
        verifier: Box<dyn Verifier + Send>,
    ) -> Core {
        Core {
            cfg,
            signer,
            verifier,
            byzantine: None,
            now: 0,
            view: 0,
            phase: Phase::Normal,
            next_seq: 0,
            slots: BTreeMap::new(),
            low: 0,
            stable_proof: Vec::new(),
            my_checkpoints: BTreeMap::new(),
            checkpoint_votes: BTreeMap::new(),
            last_executed: 0,
            state: Digest::default(),
            delivered: Vec::new(),
            clients: BTreeMap::new(),
            pending: BTreeMap::new(),
            order: VecDeque::new(),
            assigned: BTreeSet::new(),
            request_deadline: None,
            view_changes: BTreeMap::new(),
            new_view_msg: None,
            detector: detect::Detector::default(),
            equivocations: BTreeSet::new(),
            verified: Default::default(),
            replay: byzantine::ReplayBuffer::default(),
            out: Output::default(),
        }
    }

    /// The number of faults tolerated, f = (n-1)/3.
    pub fn f(&self) -> usize {
        ((self.cfg.n - 1) / 3) as usize
    }

    /// Prepares needed (besides the pre-prepare) for a prepared certificate: 2f (f with
    /// the small-quorum bug).
    fn prepare_quorum(&self) -> usize {
        if self.cfg.bugs.small_quorum {
            self.f()
        } else {
            2 * self.f()
        }
    }

    /// Commits needed: 2f+1 (f+1 with the small-quorum bug).
    fn commit_quorum(&self) -> usize {
        if self.cfg.bugs.small_quorum {
            self.f() + 1
        } else {
            2 * self.f() + 1
        }
    }

    /// 2f+1: checkpoints, view changes.
    fn quorum(&self) -> usize {
        2 * self.f() + 1
    }

    /// The primary of `view`.
    pub fn primary_of(&self, view: u64) -> ReplicaId {
        view % self.cfg.n + 1
    }

    /// Number of replicas.
    pub fn n(&self) -> u64 {
        self.cfg.n
    }
    /// This replica's id.
    pub fn id(&self) -> ReplicaId {
        self.cfg.id
    }
    /// Current view.
    pub fn view(&self) -> u64 {
        self.view
    }
    /// Primary of the current view.
    pub fn primary(&self) -> ReplicaId {
        self.primary_of(self.view)
    }
    /// True while waiting for a new-view.
    pub fn changing_view(&self) -> bool {
        self.phase != Phase::Normal
    }
    /// Last executed sequence number.
    pub fn last_executed(&self) -> u64 {
        self.last_executed
    }
    /// Stable checkpoint (the low watermark).
    pub fn stable_checkpoint(&self) -> u64 {
        self.low
    }
    /// The delivered log, in order.
    pub fn delivered(&self) -> &[Entry] {
        &self.delivered
    }
    /// The Byzantine mode being played, if any.
    pub fn byzantine(&self) -> Option<Mode> {
        self.byzantine
    }
    /// Play `mode` from now on (`None`: honest again).
    pub fn set_byzantine(&mut self, mode: Option<Mode>) {
        self.byzantine = mode;
    }
    /// Nodes this replica has caught misbehaving.
    pub fn detected(&self) -> Vec<Detection> {
        self.detector.reported()
    }
    /// Take everything produced so far.
    pub fn take_output(&mut self) -> Output {
        std::mem::take(&mut self.out)
    }

    /// Handle a message from another replica.
    pub fn on_message(&mut self, msg: Signed) {
        if msg.from == self.cfg.id || msg.from == 0 || msg.from > self.cfg.n {
            return;
        }
        if !self.check_sig(&msg) {
            self.detect(msg.from, DetectionKind::BadSignature);
            return;
        }
        if self.detector.note_replay(&msg) {
            self.detect(msg.from, DetectionKind::Replay);
        }
        match msg.payload.clone() {
            Payload::PrePrepare { .. } => self.on_pre_prepare(msg, false),
            Payload::Prepare { .. } => self.on_prepare(msg),
            Payload::Commit { .. } => self.on_commit(msg),
            Payload::Checkpoint { .. } => self.on_checkpoint(msg),
            Payload::ViewChange { .. } => self.on_view_change(msg),
            Payload::NewView { .. } => self.on_new_view(msg),
            Payload::Status {
                view,
                changing,
                last_executed,
            } => self.on_status(msg.from, view, changing, last_executed),
            Payload::StateTransfer { .. } => self.on_state_transfer(msg),
        }
    }

    /// One tick of time: timers, status, replaying.
    pub fn on_tick(&mut self) {
        self.now += 1;
        if self.now.is_multiple_of(self.cfg.status_ticks) {
            self.broadcast(Payload::Status {
                view: self.view,
                changing: self.changing_view(),
                last_executed: self.last_executed,
            });
        }
        match self.phase {
            Phase::Normal => {
                if self.request_deadline.is_some_and(|d| self.now >= d) {
                    let primary = self.primary();
                    self.event(format!(
                        "no progress on a pending request in view {}: suspecting primary node {primary}",
                        self.view
                    ));
                    self.start_view_change(self.view + 1, 0);
                }
            }
            Phase::ChangingTo { deadline, attempt } => {
                if deadline.is_some_and(|d| self.now >= d) {
                    self.start_view_change(self.view + 1, attempt + 1);
                } else if self.now.is_multiple_of(self.cfg.status_ticks) {
                    self.resend_view_change();
                }
            }
        }
        if self.byzantine == Some(Mode::Replay) {
            self.replay_old_messages();
        }
        if self.is_primary() && self.phase == Phase::Normal {
            self.try_assign();
        }
    }

    /// Verify a signed message, remembering good signatures (a pre-prepare comes back
    /// inside every prepare and certificate; each is checked once).
    fn check_sig(&self, msg: &Signed) -> bool {
        let mut bytes = crate::message::signing_bytes(msg.from, &msg.payload);
        let len = bytes.len();
        bytes.extend_from_slice(&msg.signature);
        let key = Digest::of(&bytes);
        if self.verified.borrow().contains(&key) {
            return true;
        }
        let ok = self
            .verifier
            .verify(msg.from, &bytes[..len], &msg.signature);
        if ok {
            let mut cache = self.verified.borrow_mut();
            if cache.len() >= VERIFIED_CACHE {
                cache.clear();
            }
            cache.insert(key);
        }
        ok
    }

    fn is_primary(&self) -> bool {
        self.primary() == self.cfg.id
    }

    fn event(&mut self, line: String) {
        self.out.events.push(line);
    }

    /// Sign and queue a message, as the Byzantine mode (if any) dictates.
    fn send(&mut self, to: Dest, payload: Payload) -> Signed {
        let msg = Signed::new(self.cfg.id, payload, self.signer.as_ref());
        self.push(to, msg.clone());
        msg
    }

    fn broadcast(&mut self, payload: Payload) -> Signed {
        self.send(Dest::All, payload)
    }

    /// Queue an already signed message (possibly someone else's, relayed).
    fn push(&mut self, to: Dest, mut msg: Signed) {
        match self.byzantine {
            Some(Mode::Silent) => return,
            Some(Mode::BadSignature) if msg.from == self.cfg.id => {
                if let Some(b) = msg.signature.first_mut() {
                    *b ^= 0x5a;
                }
            }
            Some(Mode::Collude) if msg.from != self.cfg.id => return,
            Some(Mode::ForgeVotes | Mode::Collude)
                if msg.from == self.cfg.id
                    && matches!(
                        msg.payload,
                        Payload::Prepare { .. } | Payload::Commit { .. }
                    )
                    && to == Dest::All =>
            {
                return;
            }
            _ => {}
        }
        self.replay.remember(&msg, self.cfg.id);
        self.out.messages.push(Outgoing { to, msg });
    }

    fn detect(&mut self, node: ReplicaId, kind: DetectionKind) {
        if let Some(d) = self.detector.report(node, kind) {
            self.out.detections.push(d);
        }
        if node == self.primary() && self.phase == Phase::Normal && kind.blames_primary() {
            self.start_view_change(self.view + 1, 0);
        }
    }
}
