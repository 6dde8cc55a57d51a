//! Byzantine evidence: what an honest replica can prove or strongly suspect about a peer,
//! reported once per (node, kind) as a seed-style line. Equivocation is proven by two
//! pre-prepares the primary signed for one slot (replicas exchange them inside their
//! prepares); a bad signature shows at once; a forged vote carries a pre-prepare the
//! primary never signed; contradictory votes are two different signed votes for one slot;
//! replay is the same signed checkpoint arriving again and again (honest replicas send each
//! checkpoint once).

use crate::message::{Payload, Signed};
use crate::types::ReplicaId;
use std::collections::{BTreeMap, BTreeSet};

/// Copies of one signed checkpoint before its sender counts as replaying.
const REPLAY_THRESHOLD: u32 = 4;
/// Signatures remembered per sender for replay detection.
const REPLAY_MEMORY: usize = 4096;

/// What was caught.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DetectionKind {
    /// Two different pre-prepares signed for the same view and sequence number.
    Equivocation,
    /// A message whose signature does not verify.
    BadSignature,
    /// A vote for a pre-prepare the primary never signed, or a request that does not match
    /// its digest.
    ForgedVote,
    /// Two different votes for the same slot.
    ContradictoryVotes,
    /// Old messages sent again and again.
    Replay,
    /// A view-change with invalid certificates.
    InvalidViewChange,
    /// A new-view whose pre-prepares do not follow from its view-changes.
    InvalidNewView,
}

impl DetectionKind {
    /// The explanation printed after `Byzantine node N detected!`.
    pub fn explanation(self) -> &'static str {
        match self {
            DetectionKind::Equivocation => "Different messages to different peers.",
            DetectionKind::BadSignature => "Invalid signature.",
            DetectionKind::ForgedVote => "Vote for a pre-prepare the primary never sent.",
            DetectionKind::ContradictoryVotes => "Contradictory votes.",
            DetectionKind::Replay => "Replayed old messages.",
            DetectionKind::InvalidViewChange => "Invalid view-change.",
            DetectionKind::InvalidNewView => "Invalid new-view.",
        }
    }

    /// Whether this, coming from the primary, is reason to change views at once.
    pub fn blames_primary(self) -> bool {
        !matches!(self, DetectionKind::Replay)
    }

    /// Short name for JSON.
    pub fn name(self) -> &'static str {
        match self {
            DetectionKind::Equivocation => "equivocation",
            DetectionKind::BadSignature => "bad-signature",
            DetectionKind::ForgedVote => "forged-vote",
            DetectionKind::ContradictoryVotes => "contradictory-votes",
            DetectionKind::Replay => "replay",
            DetectionKind::InvalidViewChange => "invalid-view-change",
            DetectionKind::InvalidNewView => "invalid-new-view",
        }
    }
}

/// One detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Detection {
    /// The misbehaving node.
    pub node: ReplicaId,
    /// What it did.
    pub kind: DetectionKind,
}

impl Detection {
    /// The seed-style line, e.g. `Byzantine node 2 detected! Different messages to different peers.`
    pub fn line(&self) -> String {
        format!(
            "Byzantine node {} detected! {}",
            self.node,
            self.kind.explanation()
        )
    }
}

/// Remembers what was reported and counts replayed copies.
#[derive(Debug, Default)]
pub(super) struct Detector {
    reported: BTreeSet<Detection>,
    copies: BTreeMap<ReplicaId, BTreeMap<Vec<u8>, u32>>,
}

impl Detector {
    /// Record a detection; Some if it is new.
    pub(super) fn report(&mut self, node: ReplicaId, kind: DetectionKind) -> Option<Detection> {
        let d = Detection { node, kind };
        self.reported.insert(d).then_some(d)
    }

    /// Everything reported.
    pub(super) fn reported(&self) -> Vec<Detection> {
        self.reported.iter().copied().collect()
    }

    /// Count a copy of a checkpoint; true once its sender is replaying.
    pub(super) fn note_replay(&mut self, msg: &Signed) -> bool {
        if !matches!(msg.payload, Payload::Checkpoint { .. }) {
            return false;
        }
        let seen = self.copies.entry(msg.from).or_default();
        if seen.len() >= REPLAY_MEMORY {
            seen.clear();
        }
        let count = seen.entry(msg.signature.clone()).or_insert(0);
        *count += 1;
        *count >= REPLAY_THRESHOLD
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_detection_is_reported_once_with_the_seed_line() {
        let mut d = Detector::default();
        let first = d.report(2, DetectionKind::Equivocation).expect("new");
        assert_eq!(
            first.line(),
            "Byzantine node 2 detected! Different messages to different peers."
        );
        assert!(d.report(2, DetectionKind::Equivocation).is_none());
        assert!(d.report(3, DetectionKind::Equivocation).is_some());
        assert_eq!(d.reported().len(), 2);
    }
}
