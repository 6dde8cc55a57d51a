//! The pure gossip node: it verifies and stores signed chat messages, signs its own, and
//! decides what to send each gossip round (recent messages plus its digest to `fanout`
//! random peers), each anti-entropy round (a digest exchange with one random peer) and in
//! answer to what it receives. It can be told to lie (the Byzantine test hook). No I/O,
//! no clock, no entropy: times come from the caller and randomness from a seeded ChaCha.

use crate::crypto;
use crate::message::{ChatMessage, Digest, Kind, Wire};
use crate::store::Store;
use ed25519_dalek::{SigningKey, VerifyingKey};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// How a node lies, when told to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Byzantine {
    /// Adds to every batch it sends a message claiming another origin (signed with its own
    /// key, or unsigned, alternately).
    Forge,
    /// Changes the body of every message of another origin that it relays.
    Alter,
    /// Relays no message of another origin (still sends its own and its digest).
    Drop,
}

/// Tunables of the core.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// This node's id.
    pub id: u64,
    /// Peer ids it gossips with.
    pub peers: Vec<u64>,
    /// Peers pushed to per gossip round.
    pub fanout: usize,
    /// Gossip rounds a new message is pushed for before only anti-entropy carries it.
    pub push_rounds: u32,
    /// Most chat messages in one peer message.
    pub max_batch: usize,
    /// Longest body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Seed of the core's random choices.
    pub seed: u64,
}

/// Why a broadcast was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BroadcastError {
    /// The body is longer than the limit.
    #[error("body is {len} bytes, more than the limit of {max}")]
    TooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
}

/// What a step produced: peer messages to send, log lines, newly stored messages.
#[derive(Debug, Default)]
pub struct Output {
    /// Peer messages to send.
    pub messages: Vec<Wire>,
    /// Seed-style log lines (`Node 3: ...`).
    pub log: Vec<String>,
    /// Messages stored in this step (to persist), with their receive time.
    pub stored: Vec<(ChatMessage, u64)>,
}

/// Outcome of checking one received chat message.
enum Verdict {
    New,
    Duplicate,
    Rejected(String),
}

/// Rejections remembered (to log each distinct one once) before the memory is cleared.
const MAX_REMEMBERED_REJECTIONS: usize = 10_000;

/// One gossip node.
pub struct GossipCore {
    cfg: CoreConfig,
    key: SigningKey,
    public: BTreeMap<u64, VerifyingKey>,
    store: Store,
    hot: BTreeMap<(u64, u64), u32>,
    rng: ChaCha8Rng,
    byzantine: Option<Byzantine>,
    forged: u64,
    rejected: u64,
    logged: BTreeSet<String>,
    known_bad: BTreeSet<ChatMessage>,
}

impl GossipCore {
    /// A node with its own secret key and every node's public key.
    pub fn new(cfg: CoreConfig, key: SigningKey, public: BTreeMap<u64, VerifyingKey>) -> Self {
        let rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        GossipCore {
            cfg,
            key,
            public,
            store: Store::new(),
            hot: BTreeMap::new(),
            rng,
            byzantine: None,
            forged: 0,
            rejected: 0,
            logged: BTreeSet::new(),
            known_bad: BTreeSet::new(),
        }
    }

    /// This node's id.
    pub fn id(&self) -> u64 {
        self.cfg.id
    }

    /// What it holds.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Messages rejected so far (forged, altered, unsigned, unknown origin, oversized).
    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    /// The current lying mode.
    pub fn byzantine(&self) -> Option<Byzantine> {
        self.byzantine
    }

    /// Start or stop lying.
    pub fn set_byzantine(&mut self, mode: Option<Byzantine>) {
        self.byzantine = mode;
    }

    /// Sign and store a new message of this node; it is pushed from the next round on.
    pub fn broadcast(&mut self, body: &str, now: u64) -> Result<ChatMessage, BroadcastError> {
        if body.len() > self.cfg.max_body_bytes {
            return Err(BroadcastError::TooLarge {
                len: body.len(),
                max: self.cfg.max_body_bytes,
            });
        }
        let (origin, seq) = (self.cfg.id, self.store.max_seq(self.cfg.id) + 1);
        let sig = crypto::sign(&self.key, origin, seq, body);
        let msg = ChatMessage {
            origin,
            seq,
            body: body.to_string(),
            sig,
        };
        self.store.insert(msg.clone(), now);
        self.hot.insert((origin, seq), self.cfg.push_rounds);
        Ok(msg)
    }

    /// Load a message persisted by an earlier run; false (and not stored) if it does not
    /// verify. Not pushed again: anti-entropy spreads it if someone lacks it.
    pub fn restore(&mut self, msg: ChatMessage, received_at: u64) -> bool {
        if !self.signature_ok(&msg) {
            return false;
        }
        self.store.insert(msg, received_at);
        true
    }

    fn signature_ok(&self, m: &ChatMessage) -> bool {
        self.public
            .get(&m.origin)
            .is_some_and(|pk| crypto::verify(pk, m.origin, m.seq, &m.body, &m.sig))
    }

    /// One gossip round: push the hot messages and the digest to `fanout` random peers.
    pub fn gossip_round(&mut self, _now: u64) -> Output {
        let hot: Vec<ChatMessage> = self
            .hot
            .keys()
            .filter_map(|&(o, s)| self.store.get(o, s).cloned())
            .take(self.cfg.max_batch)
            .collect();
        self.hot.retain(|_, left| {
            *left = left.saturating_sub(1);
            *left > 0
        });
        let mut peers = self.cfg.peers.clone();
        peers.shuffle(&mut self.rng);
        peers.truncate(self.cfg.fanout);
        let digest = self.store.digest();
        let mut out = Output::default();
        for to in peers {
            let messages = self.outgoing(hot.clone());
            out.messages
                .push(self.wire(to, Kind::Push, messages, Some(digest.clone())));
        }
        out
    }

    /// One anti-entropy round: send the digest to one random peer.
    pub fn anti_entropy_round(&mut self, _now: u64) -> Output {
        let mut out = Output::default();
        if let Some(&to) = self.cfg.peers.choose(&mut self.rng) {
            let digest = self.store.digest();
            let messages = self.outgoing(Vec::new());
            out.messages
                .push(self.wire(to, Kind::Sync, messages, Some(digest)));
        }
        out
    }

    /// Handle one peer message: verify and store what it carries, answer if its kind asks.
    pub fn receive(&mut self, wire: Wire, now: u64) -> Output {
        let mut out = Output::default();
        for m in wire.messages {
            self.accept(wire.from, m, now, &mut out);
        }
        let Some(theirs) = wire.digest else {
            return out;
        };
        // A push whose sender holds something this node lacks is answered like a sync, so
        // that the sender fills it in: every push is a two-way exchange.
        let answer = match wire.kind {
            Kind::Push if self.store.lacks_any(&theirs) => Kind::SyncReply,
            Kind::Push | Kind::SyncReply => Kind::Fill,
            Kind::Sync => Kind::SyncReply,
            Kind::Fill => return out,
        };
        let missing = self.store.missing_for(&theirs, self.cfg.max_batch);
        let missing = self.outgoing(missing);
        let digest = (answer == Kind::SyncReply).then(|| self.store.digest());
        if !missing.is_empty() || digest.is_some() {
            out.messages
                .push(self.wire(wire.from, answer, missing, digest));
        }
        out
    }

    fn wire(
        &self,
        to: u64,
        kind: Kind,
        messages: Vec<ChatMessage>,
        digest: Option<Digest>,
    ) -> Wire {
        Wire {
            from: self.cfg.id,
            to,
            kind,
            messages,
            digest,
        }
    }

    fn accept(&mut self, from: u64, m: ChatMessage, now: u64, out: &mut Output) {
        if self.known_bad.contains(&m) {
            self.rejected += 1; // seen and logged before: no second signature check
            return;
        }
        match self.check(from, &m) {
            Verdict::Duplicate => {}
            Verdict::New => {
                self.hot.insert((m.origin, m.seq), self.cfg.push_rounds);
                self.store.insert(m.clone(), now);
                out.stored.push((m, now));
            }
            Verdict::Rejected(line) => {
                self.rejected += 1;
                if self.logged.len() >= MAX_REMEMBERED_REJECTIONS {
                    self.logged.clear();
                    self.known_bad.clear();
                }
                if m.body.len() <= self.cfg.max_body_bytes {
                    self.known_bad.insert(m);
                }
                if self.logged.insert(line.clone()) {
                    out.log.push(line);
                }
            }
        }
    }

    fn check(&self, from: u64, m: &ChatMessage) -> Verdict {
        let me = self.cfg.id;
        let (origin, seq) = (m.origin, m.seq);
        if m.body.len() > self.cfg.max_body_bytes {
            return Verdict::Rejected(format!(
                "Node {me}: rejected oversized message from {from} (origin {origin} seq {seq}, {} bytes)",
                m.body.len()
            ));
        }
        if !self.public.contains_key(&origin) || seq == 0 {
            return Verdict::Rejected(format!(
                "Node {me}: rejected message from {from} with unknown origin {origin} or seq {seq}"
            ));
        }
        if let Some(held) = self.store.get(origin, seq) {
            if held.body == m.body && held.sig == m.sig {
                return Verdict::Duplicate;
            }
            if !self.signature_ok(m) {
                return Verdict::Rejected(format!(
                    "Node {me}: rejected altered message from {from} (origin {origin} seq {seq} does not match its signature)"
                ));
            }
            if held.body == m.body {
                return Verdict::Duplicate; // same content, another valid encoding of the signature
            }
            return Verdict::Rejected(format!(
                "Node {me}: Byzantine node {origin} detected! It signed two different messages with seq {seq} (kept the first)"
            ));
        }
        if self.signature_ok(m) {
            Verdict::New
        } else {
            Verdict::Rejected(format!(
                "Node {me}: rejected forged message from {from} claiming origin {origin} (seq {seq})"
            ))
        }
    }

    /// What actually leaves this node for a batch it means to send, given its lying mode.
    fn outgoing(&mut self, mut batch: Vec<ChatMessage>) -> Vec<ChatMessage> {
        let me = self.cfg.id;
        match self.byzantine {
            None => {}
            Some(Byzantine::Drop) => batch.retain(|m| m.origin == me),
            Some(Byzantine::Alter) => {
                for m in batch.iter_mut().filter(|m| m.origin != me) {
                    m.body = format!("{} [altered by node {me}]", m.body);
                }
            }
            Some(Byzantine::Forge) => batch.push(self.forge()),
        }
        batch
    }

    /// A message claiming another origin: signed with this node's own key, or unsigned.
    fn forge(&mut self) -> ChatMessage {
        let me = self.cfg.id;
        let others: Vec<u64> = self.public.keys().copied().filter(|&o| o != me).collect();
        let origin = others.choose(&mut self.rng).copied().unwrap_or(me + 1);
        self.forged += 1;
        let seq = self.store.max_seq(origin) + self.rng.gen_range(1..=3);
        let body = format!("forged by node {me} (#{})", self.forged);
        let sig = if self.forged.is_multiple_of(2) {
            String::new()
        } else {
            crypto::sign(&self.key, origin, seq, &body)
        };
        ChatMessage {
            origin,
            seq,
            body,
            sig,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(n: u64) -> Vec<SigningKey> {
        (1..=n)
            .map(|i| crypto::key_from_seed([i as u8; 32]))
            .collect()
    }

    fn core(id: u64, n: u64) -> GossipCore {
        let ks = keys(n);
        let public = (1..=n)
            .map(|i| (i, ks[i as usize - 1].verifying_key()))
            .collect();
        let cfg = CoreConfig {
            id,
            peers: (1..=n).filter(|&p| p != id).collect(),
            fanout: 2,
            push_rounds: 2,
            max_batch: 8,
            max_body_bytes: 100,
            seed: id,
        };
        GossipCore::new(cfg, ks[id as usize - 1].clone(), public)
    }

    fn push(from: u64, to: u64, messages: Vec<ChatMessage>) -> Wire {
        Wire {
            from,
            to,
            kind: Kind::Fill,
            messages,
            digest: None,
        }
    }

    #[test]
    fn broadcast_signs_numbers_and_refuses_oversized() {
        let mut a = core(1, 3);
        let m1 = a.broadcast("hello", 5).expect("ok");
        let m2 = a.broadcast("again", 6).expect("ok");
        assert_eq!((m1.origin, m1.seq, m2.seq), (1, 1, 2));
        let pk = crypto::key_from_seed([1; 32]).verifying_key();
        assert!(crypto::verify(&pk, 1, 1, "hello", &m1.sig));
        assert!(matches!(
            a.broadcast(&"x".repeat(101), 7),
            Err(BroadcastError::TooLarge { .. })
        ));
        assert_eq!(a.store().len(), 2);
    }

    #[test]
    fn genuine_messages_are_stored_once_and_relayed() {
        let mut a = core(1, 3);
        let mut b = core(2, 3);
        let m = a.broadcast("hi", 1).expect("ok");
        let out = b.receive(push(1, 2, vec![m.clone(), m.clone()]), 9);
        assert_eq!(out.stored.len(), 1);
        assert!(out.log.is_empty());
        assert_eq!(b.store().delivered()[0].received_at, 9);
        let round = b.gossip_round(10);
        assert_eq!(round.messages.len(), 2);
        assert!(round.messages.iter().all(|w| w.messages == vec![m.clone()]));
    }

    #[test]
    fn forged_altered_unsigned_and_unknown_are_rejected_and_logged() {
        let mut a = core(1, 3);
        let mut c = core(3, 3);
        let genuine = a.broadcast("pay 5", 1).expect("ok");
        let mut forged = genuine.clone();
        forged.seq = 2;
        forged.body = "pay 500".into();
        forged.sig = crypto::sign(&crypto::key_from_seed([2; 32]), 1, 2, "pay 500");
        let mut unsigned = forged.clone();
        unsigned.sig = String::new();
        let mut unknown = genuine.clone();
        unknown.origin = 9;
        let out = c.receive(push(2, 3, vec![forged, unsigned, unknown]), 2);
        assert!(out.stored.is_empty());
        assert_eq!(c.rejected(), 3);
        assert!(
            out.log[0].starts_with("Node 3: rejected forged message from 2 claiming origin 1"),
            "{:?}",
            out.log
        );
        // The forged and the unsigned one give the same line: logged once.
        assert_eq!(out.log.len(), 2);
        assert!(out.log[1].contains("unknown origin 9"));
        c.receive(push(1, 3, vec![genuine.clone()]), 3);
        let mut altered = genuine;
        altered.body = "pay 5000".into();
        let out = c.receive(push(2, 3, vec![altered]), 4);
        assert!(
            out.log[0].contains("rejected altered message from 2 (origin 1 seq 1"),
            "{:?}",
            out.log
        );
        assert_eq!(c.store().get(1, 1).map(|m| m.body.as_str()), Some("pay 5"));
    }

    #[test]
    fn an_origin_that_signs_two_bodies_for_one_seq_is_detected_and_the_first_kept() {
        let key1 = crypto::key_from_seed([1; 32]);
        let signed = |body: &str| ChatMessage {
            origin: 1,
            seq: 1,
            body: body.into(),
            sig: crypto::sign(&key1, 1, 1, body),
        };
        let mut c = core(3, 3);
        c.receive(push(1, 3, vec![signed("first")]), 1);
        let out = c.receive(push(2, 3, vec![signed("second")]), 2);
        assert!(
            out.log[0].contains("Byzantine node 1 detected!"),
            "{:?}",
            out.log
        );
        assert_eq!(c.store().get(1, 1).map(|m| m.body.as_str()), Some("first"));
        assert_eq!(c.store().len(), 1);
    }

    #[test]
    fn each_distinct_rejection_is_logged_once() {
        let mut c = core(3, 3);
        let mut m = core(1, 3).broadcast("x", 0).expect("ok");
        m.sig = String::new();
        assert_eq!(c.receive(push(2, 3, vec![m.clone()]), 1).log.len(), 1);
        assert!(c.receive(push(2, 3, vec![m]), 2).log.is_empty());
        assert_eq!(c.rejected(), 2);
    }

    #[test]
    fn sync_is_answered_with_the_difference_and_a_digest_then_filled() {
        let mut a = core(1, 2);
        let mut b = core(2, 2);
        a.broadcast("a1", 0).expect("ok");
        b.broadcast("b1", 0).expect("ok");
        b.broadcast("b2", 0).expect("ok");
        let sync = a.anti_entropy_round(1).messages.pop().expect("sync");
        assert_eq!(sync.kind, Kind::Sync);
        let reply = b.receive(sync, 2).messages.pop().expect("reply");
        assert_eq!((reply.kind, reply.messages.len()), (Kind::SyncReply, 2));
        let fill = a.receive(reply, 3).messages.pop().expect("fill");
        assert_eq!((fill.kind, fill.messages.len()), (Kind::Fill, 1));
        assert!(b.receive(fill, 4).messages.is_empty());
        assert_eq!((a.store().len(), b.store().len()), (3, 3));
    }

    #[test]
    fn hot_messages_cool_down_after_push_rounds() {
        let mut a = core(1, 3);
        a.broadcast("x", 0).expect("ok");
        assert!(!a.gossip_round(1).messages[0].messages.is_empty());
        assert!(!a.gossip_round(2).messages[0].messages.is_empty());
        assert!(a.gossip_round(3).messages[0].messages.is_empty());
    }

    #[test]
    fn lying_modes_change_what_leaves() {
        let mut a = core(1, 3);
        let mut b = core(2, 3);
        let m = a.broadcast("hi", 0).expect("ok");
        b.receive(push(1, 2, vec![m.clone()]), 1);
        b.broadcast("mine", 1).expect("ok");
        b.set_byzantine(Some(Byzantine::Drop));
        let sent = &b.gossip_round(2).messages[0].messages;
        assert!(sent.iter().all(|x| x.origin == 2) && sent.len() == 1);
        let mut b2 = core(2, 3);
        b2.receive(push(1, 2, vec![m.clone()]), 1);
        b2.set_byzantine(Some(Byzantine::Alter));
        let sent = &b2.gossip_round(2).messages[0].messages;
        assert!(sent[0].body.contains("altered by node 2"));
        let mut b3 = core(2, 3);
        b3.set_byzantine(Some(Byzantine::Forge));
        let sent = &b3.gossip_round(2).messages[0].messages;
        assert!(sent
            .iter()
            .any(|x| x.origin != 2 && x.body.starts_with("forged")));
        let mut c = core(3, 3);
        let out = c.receive(push(2, 3, sent.clone()), 3);
        assert!(out.stored.is_empty() && c.rejected() >= 1);
    }

    #[test]
    fn restore_keeps_only_verified_messages_and_continues_the_sequence() {
        let mut a = core(1, 2);
        let m = a.broadcast("one", 0).expect("ok");
        let mut again = core(1, 2);
        assert!(again.restore(m.clone(), 0));
        let mut bad = m;
        bad.seq = 2;
        assert!(!again.restore(bad, 0));
        assert_eq!(again.broadcast("two", 1).expect("ok").seq, 2);
    }
}
