//! The verified messages a node holds (it only ever holds messages whose signature checked
//! out), in delivery order, with the digest of what it holds and the difference between
//! that and another node's digest. Pure: times are given by the caller.

use crate::message::{ChatMessage, Digest, OriginDigest};
use std::collections::BTreeMap;

/// At most this many seqs above the contiguous prefix are listed per origin in a digest.
pub const MAX_DIGEST_EXTRA: usize = 64;

/// A delivered message with the time this node stored it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// The message.
    pub message: ChatMessage,
    /// Caller's clock (Unix ms in the node) when it was stored.
    pub received_at: u64,
}

/// Messages by origin and seq, plus the delivery order.
#[derive(Debug, Clone, Default)]
pub struct Store {
    by_origin: BTreeMap<u64, BTreeMap<u64, usize>>,
    delivered: Vec<Delivered>,
}

impl Store {
    /// An empty store.
    pub fn new() -> Store {
        Store::default()
    }

    /// The stored message (origin, seq), if any.
    pub fn get(&self, origin: u64, seq: u64) -> Option<&ChatMessage> {
        let i = *self.by_origin.get(&origin)?.get(&seq)?;
        Some(&self.delivered[i].message)
    }

    /// Store a message (already verified by the caller); false if (origin, seq) is held.
    pub fn insert(&mut self, message: ChatMessage, received_at: u64) -> bool {
        let seqs = self.by_origin.entry(message.origin).or_default();
        if seqs.contains_key(&message.seq) {
            return false;
        }
        seqs.insert(message.seq, self.delivered.len());
        self.delivered.push(Delivered {
            message,
            received_at,
        });
        true
    }

    /// Every delivered message, in delivery order.
    pub fn delivered(&self) -> &[Delivered] {
        &self.delivered
    }

    /// How many messages are held.
    pub fn len(&self) -> usize {
        self.delivered.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.delivered.is_empty()
    }

    /// The highest seq held of `origin` (0 if none).
    pub fn max_seq(&self, origin: u64) -> u64 {
        self.by_origin
            .get(&origin)
            .and_then(|s| s.keys().next_back().copied())
            .unwrap_or(0)
    }

    /// The highest n such that every seq 1..=n of `origin` is held.
    pub fn contiguous(&self, origin: u64) -> u64 {
        let Some(seqs) = self.by_origin.get(&origin) else {
            return 0;
        };
        let mut n = 0;
        for &s in seqs.keys() {
            if s != n + 1 {
                break;
            }
            n = s;
        }
        n
    }

    /// What this node holds, per origin.
    pub fn digest(&self) -> Digest {
        self.by_origin
            .keys()
            .map(|&o| {
                let contiguous = self.contiguous(o);
                let extra = self.by_origin[&o]
                    .range(contiguous + 1..)
                    .map(|(&s, _)| s)
                    .take(MAX_DIGEST_EXTRA)
                    .collect();
                (o, OriginDigest { contiguous, extra })
            })
            .collect()
    }

    /// Whether a node with digest `theirs` holds some message this store lacks.
    pub fn lacks_any(&self, theirs: &Digest) -> bool {
        theirs.iter().any(|(&o, d)| {
            let held = self.by_origin.get(&o);
            let has = |s: &u64| held.is_some_and(|h| h.contains_key(s));
            self.contiguous(o) < d.contiguous || d.extra.iter().any(|s| !has(s))
        })
    }

    /// Up to `limit` held messages that a node with digest `theirs` lacks, taken round-robin
    /// over origins (lowest seqs first) so that no origin starves the others.
    pub fn missing_for(&self, theirs: &Digest, limit: usize) -> Vec<ChatMessage> {
        let mut queues: Vec<Vec<usize>> = self
            .by_origin
            .iter()
            .map(|(o, seqs)| {
                let d = theirs.get(o).cloned().unwrap_or_default();
                seqs.range(d.contiguous + 1..)
                    .filter(|(s, _)| d.extra.binary_search(s).is_err())
                    .map(|(_, &i)| i)
                    .take(limit)
                    .collect()
            })
            .collect();
        let mut out = Vec::new();
        let mut depth = 0;
        while out.len() < limit && queues.iter().any(|q| depth < q.len()) {
            for q in &mut queues {
                if let Some(&i) = q.get(depth) {
                    if out.len() < limit {
                        out.push(self.delivered[i].message.clone());
                    }
                }
            }
            depth += 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(origin: u64, seq: u64) -> ChatMessage {
        ChatMessage {
            origin,
            seq,
            body: format!("{origin}/{seq}"),
            sig: String::new(),
        }
    }

    #[test]
    fn insert_ignores_duplicates_and_keeps_delivery_order() {
        let mut s = Store::new();
        assert!(s.insert(m(2, 1), 10));
        assert!(s.insert(m(1, 1), 11));
        assert!(!s.insert(m(2, 1), 12));
        let order: Vec<_> = s
            .delivered()
            .iter()
            .map(|d| (d.message.origin, d.received_at))
            .collect();
        assert_eq!(order, vec![(2, 10), (1, 11)]);
    }

    #[test]
    fn digest_has_contiguous_prefix_and_extras() {
        let mut s = Store::new();
        for seq in [1, 2, 3, 5, 7] {
            s.insert(m(1, seq), 0);
        }
        s.insert(m(2, 2), 0);
        let d = s.digest();
        assert_eq!(
            d[&1],
            OriginDigest {
                contiguous: 3,
                extra: vec![5, 7]
            }
        );
        assert_eq!(
            d[&2],
            OriginDigest {
                contiguous: 0,
                extra: vec![2]
            }
        );
        assert_eq!(s.max_seq(1), 7);
        assert_eq!(s.contiguous(3), 0);
    }

    #[test]
    fn missing_for_is_the_difference_round_robin_and_bounded() {
        let mut s = Store::new();
        for seq in 1..=5 {
            s.insert(m(1, seq), 0);
            s.insert(m(2, seq), 0);
        }
        let mut theirs = Digest::new();
        theirs.insert(
            1,
            OriginDigest {
                contiguous: 2,
                extra: vec![4],
            },
        );
        let all = s.missing_for(&theirs, 100);
        let keys: Vec<_> = all.iter().map(|x| (x.origin, x.seq)).collect();
        assert_eq!(
            keys,
            vec![(1, 3), (2, 1), (1, 5), (2, 2), (2, 3), (2, 4), (2, 5)]
        );
        let few = s.missing_for(&theirs, 3);
        assert_eq!(few.len(), 3);
        assert!(s.missing_for(&s.digest(), 100).is_empty());
        assert!(!s.lacks_any(&theirs) && !s.lacks_any(&s.digest()));
        let mut more = Digest::new();
        more.insert(
            2,
            OriginDigest {
                contiguous: 1,
                extra: vec![9],
            },
        );
        assert!(s.lacks_any(&more));
        more.insert(
            2,
            OriginDigest {
                contiguous: 6,
                extra: vec![],
            },
        );
        assert!(s.lacks_any(&more));
    }
}
