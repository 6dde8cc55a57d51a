//! The replica-to-replica messages, their signed envelope and the certificates built from
//! them. Every message names its sender inside the signed bytes (`from`); the TCP source is
//! never trusted. Signed bytes are a domain tag plus the canonical JSON of `(from, payload)`.

use crate::crypto::{Signer, Verifier};
use crate::types::{Digest, Entry, ReplicaId, Request};
use serde::{Deserialize, Serialize};

/// A signed message as it travels between replicas (`POST /pbft/messages` carries a JSON
/// array of these).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signed {
    /// The sender, as signed.
    pub from: ReplicaId,
    /// What it says.
    pub payload: Payload,
    /// Hex ed25519 signature of `signing_bytes(from, payload)`.
    #[serde(with = "hex_bytes")]
    pub signature: Vec<u8>,
}

/// A prepared certificate: a pre-prepare and 2f matching prepares from distinct backups.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreparedCert {
    /// The primary's signed pre-prepare.
    pub pre_prepare: Signed,
    /// The signed prepares.
    pub prepares: Vec<Signed>,
}

/// Every message kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Payload {
    /// The primary of `view` assigns `seq` to the request with `digest` (request `None` only
    /// for the null request of a new view).
    PrePrepare {
        /// View.
        view: u64,
        /// Sequence number.
        seq: u64,
        /// Request digest.
        digest: Digest,
        /// The request itself.
        request: Option<Request>,
    },
    /// A backup agrees to the pre-prepare it carries (so that replicas exchange what the
    /// primary sent them, and an equivocation shows).
    Prepare {
        /// View.
        view: u64,
        /// Sequence number.
        seq: u64,
        /// Request digest.
        digest: Digest,
        /// The primary's pre-prepare this vote is for.
        pre_prepare: Box<Signed>,
    },
    /// A replica has a prepared certificate for (view, seq, digest).
    Commit {
        /// View.
        view: u64,
        /// Sequence number.
        seq: u64,
        /// Request digest.
        digest: Digest,
    },
    /// The state digest after executing up to `seq`.
    Checkpoint {
        /// Sequence number (a multiple of the checkpoint interval).
        seq: u64,
        /// State digest.
        state: Digest,
    },
    /// The sender moves to `new_view`.
    ViewChange {
        /// The view asked for.
        new_view: u64,
        /// The sender's stable checkpoint.
        stable_seq: u64,
        /// 2f+1 signed checkpoint messages proving it (empty for 0).
        checkpoint_proof: Vec<Signed>,
        /// Prepared certificates above the stable checkpoint.
        prepared: Vec<PreparedCert>,
    },
    /// The new primary starts `view`.
    NewView {
        /// The new view.
        view: u64,
        /// 2f+1 view-change messages for it.
        view_changes: Vec<Signed>,
        /// The re-issued pre-prepares (computed from `view_changes`, checked by replicas).
        pre_prepares: Vec<Signed>,
    },
    /// Periodic progress report, so peers re-send what the sender missed.
    Status {
        /// Sender's view.
        view: u64,
        /// True while the sender is changing views.
        changing: bool,
        /// Sender's last executed sequence number.
        last_executed: u64,
    },
    /// Executed entries up to a stable checkpoint, for a replica that fell behind it.
    StateTransfer {
        /// Checkpoint sequence number.
        seq: u64,
        /// Its 2f+1 signed checkpoint messages.
        proof: Vec<Signed>,
        /// The delivered entries after the receiver's last executed request, up to `seq`.
        entries: Vec<Entry>,
    },
}

impl Payload {
    /// The message kind, for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Payload::PrePrepare { .. } => "pre-prepare",
            Payload::Prepare { .. } => "prepare",
            Payload::Commit { .. } => "commit",
            Payload::Checkpoint { .. } => "checkpoint",
            Payload::ViewChange { .. } => "view-change",
            Payload::NewView { .. } => "new-view",
            Payload::Status { .. } => "status",
            Payload::StateTransfer { .. } => "state-transfer",
        }
    }

    /// (view, seq) of a normal-case message.
    pub fn slot(&self) -> Option<(u64, u64)> {
        match self {
            Payload::PrePrepare { view, seq, .. }
            | Payload::Prepare { view, seq, .. }
            | Payload::Commit { view, seq, .. } => Some((*view, *seq)),
            _ => None,
        }
    }
}

/// The bytes a signature covers.
pub fn signing_bytes(from: ReplicaId, payload: &Payload) -> Vec<u8> {
    let mut out = b"pbft-chat/v1\n".to_vec();
    out.extend(serde_json::to_vec(&(from, payload)).unwrap_or_default());
    out
}

impl Signed {
    /// Sign `payload` as `from`.
    pub fn new(from: ReplicaId, payload: Payload, signer: &dyn Signer) -> Signed {
        let signature = signer.sign(&signing_bytes(from, &payload));
        Signed {
            from,
            payload,
            signature,
        }
    }

    /// True if the outer signature is valid (embedded messages are checked separately).
    pub fn verify(&self, verifier: &dyn Verifier) -> bool {
        verifier.verify(
            self.from,
            &signing_bytes(self.from, &self.payload),
            &self.signature,
        )
    }
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(b))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        hex::decode(&s).map_err(|e| serde::de::Error::custom(format!("bad hex signature: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::SimKeys;

    #[test]
    fn signed_message_roundtrips_through_json_and_still_verifies() {
        let keys = SimKeys::new(4, 1);
        let req = Request {
            client: "alice".into(),
            timestamp: 1,
            message: "hi".into(),
        };
        let pp = Signed::new(
            1,
            Payload::PrePrepare {
                view: 0,
                seq: 1,
                digest: req.digest(),
                request: Some(req.clone()),
            },
            &keys.signer(1),
        );
        let p = Signed::new(
            2,
            Payload::Prepare {
                view: 0,
                seq: 1,
                digest: req.digest(),
                pre_prepare: Box::new(pp),
            },
            &keys.signer(2),
        );
        let json = serde_json::to_string(&p).expect("ser");
        let back: Signed = serde_json::from_str(&json).expect("de");
        assert_eq!(back, p);
        assert!(back.verify(&keys));
        let mut forged = back.clone();
        forged.from = 3;
        assert!(
            !forged.verify(&keys),
            "the sender is part of what is signed"
        );
    }
}

/// A replica's reply to a client, signed with the replica's key (what `POST /request`
/// answers). The client accepts after f+1 matching (seq, result) from distinct replicas.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedReply {
    /// The reply.
    #[serde(flatten)]
    pub reply: crate::types::Reply,
    /// Hex signature of `reply_signing_bytes(reply)` by `reply.replica`.
    #[serde(with = "hex_bytes")]
    pub signature: Vec<u8>,
}

/// The bytes a reply signature covers.
pub fn reply_signing_bytes(reply: &crate::types::Reply) -> Vec<u8> {
    let mut out = b"pbft-chat/reply/v1\n".to_vec();
    out.extend(serde_json::to_vec(reply).unwrap_or_default());
    out
}

impl SignedReply {
    /// Sign a reply.
    pub fn new(reply: crate::types::Reply, signer: &dyn Signer) -> SignedReply {
        let signature = signer.sign(&reply_signing_bytes(&reply));
        SignedReply { reply, signature }
    }

    /// True if signed by the replica it names.
    pub fn verify(&self, verifier: &dyn Verifier) -> bool {
        verifier.verify(
            self.reply.replica,
            &reply_signing_bytes(&self.reply),
            &self.signature,
        )
    }
}
