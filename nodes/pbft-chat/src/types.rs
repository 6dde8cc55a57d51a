//! Basic protocol values shared by the core, the node and the simulator: replica ids,
//! client requests, request digests and delivered log entries.

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::fmt;

/// A replica id, 1..=n.
pub type ReplicaId = u64;

/// A SHA-256 digest, written as 64 lowercase hex characters on the wire.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    /// SHA-256 of `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest(Sha256::digest(bytes).into())
    }

    /// The digest of the null request a new primary uses to fill a gap in a new view.
    pub fn null() -> Digest {
        Digest::of(b"pbft-chat null request")
    }

    /// The state digest after `seq` executed `request` on top of `self` (a hash chain).
    pub fn chain(&self, seq: u64, request: &Digest) -> Digest {
        let mut h = Sha256::new();
        h.update(self.0);
        h.update(seq.to_be_bytes());
        h.update(request.0);
        Digest(h.finalize().into())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", &hex::encode(self.0)[..12])
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Digest, D::Error> {
        let s = String::deserialize(d)?;
        let mut out = [0u8; 32];
        hex::decode_to_slice(&s, &mut out)
            .map_err(|e| serde::de::Error::custom(format!("bad digest {s:?}: {e}")))?;
        Ok(Digest(out))
    }
}

/// A client request: who sends it, the client's timestamp (strictly increasing per client:
/// the replay protection) and the chat message.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Request {
    /// Client name.
    pub client: String,
    /// Client timestamp; a replica executes a client's requests with increasing timestamps only.
    pub timestamp: u64,
    /// The chat message.
    pub message: String,
}

impl Request {
    /// The request digest (SHA-256 of its canonical JSON).
    pub fn digest(&self) -> Digest {
        let bytes = serde_json::to_vec(self).unwrap_or_default();
        Digest::of(&bytes)
    }
}

/// One delivered (executed) chat message, as `GET /messages` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Sequence number it was ordered at.
    pub seq: u64,
    /// Client name.
    pub client: String,
    /// Client timestamp.
    pub timestamp: u64,
    /// The chat message.
    pub message: String,
}

impl Entry {
    /// The entry for `request` executed at `seq`.
    pub fn new(seq: u64, request: &Request) -> Entry {
        Entry {
            seq,
            client: request.client.clone(),
            timestamp: request.timestamp,
            message: request.message.clone(),
        }
    }

    /// The request this entry executed.
    pub fn request(&self) -> Request {
        Request {
            client: self.client.clone(),
            timestamp: self.timestamp,
            message: self.message.clone(),
        }
    }
}

/// What a replica answers a client once it executed its request (signed by the node).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// View the request was executed in.
    pub view: u64,
    /// Sequence number it was ordered at.
    pub seq: u64,
    /// The replying replica.
    pub replica: ReplicaId,
    /// Client name.
    pub client: String,
    /// Client timestamp.
    pub timestamp: u64,
    /// Result: `"delivered"`.
    pub result: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_roundtrips_as_hex_and_rejects_garbage() {
        let d = Digest::of(b"x");
        let s = serde_json::to_string(&d).expect("ser");
        assert_eq!(s.len(), 66);
        assert_eq!(serde_json::from_str::<Digest>(&s).expect("de"), d);
        assert!(serde_json::from_str::<Digest>("\"zz\"").is_err());
        assert_ne!(
            Digest::default().chain(1, &d),
            Digest::default().chain(2, &d)
        );
    }
}
