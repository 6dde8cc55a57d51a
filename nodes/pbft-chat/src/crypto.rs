//! Signing and verifying, behind two traits so the core stays deterministic and cheap in
//! the simulator: `Ed25519Signer`/`Ed25519Verifier` (ed25519-dalek) for real nodes, and
//! `SimKeys` (a keyed SHA-256, deterministic) for the simulator. A node holds only its own
//! secret key; it can verify everyone but sign only as itself.

use crate::types::{Digest, ReplicaId};
use ed25519_dalek::{Signer as _, SigningKey, Verifier as _, VerifyingKey};
use std::collections::BTreeMap;

/// Signs bytes as one replica.
pub trait Signer {
    /// The signature of `bytes`.
    fn sign(&self, bytes: &[u8]) -> Vec<u8>;
}

/// Checks any replica's signature.
pub trait Verifier {
    /// True if `signature` is `from`'s signature of `bytes`.
    fn verify(&self, from: ReplicaId, bytes: &[u8], signature: &[u8]) -> bool;
}

/// A real ed25519 secret key.
pub struct Ed25519Signer(pub SigningKey);

impl Signer for Ed25519Signer {
    fn sign(&self, bytes: &[u8]) -> Vec<u8> {
        self.0.sign(bytes).to_bytes().to_vec()
    }
}

/// Every replica's ed25519 public key.
#[derive(Clone, Debug)]
pub struct Ed25519Verifier(pub BTreeMap<ReplicaId, VerifyingKey>);

impl Verifier for Ed25519Verifier {
    fn verify(&self, from: ReplicaId, bytes: &[u8], signature: &[u8]) -> bool {
        let Some(key) = self.0.get(&from) else {
            return false;
        };
        let Ok(sig) = ed25519_dalek::Signature::from_slice(signature) else {
            return false;
        };
        key.verify(bytes, &sig).is_ok()
    }
}

/// Simulator keys: replica i signs with SHA-256(secret_i || bytes). Deterministic and fast;
/// the simulator's Byzantine code only ever signs through its own replica's `SimSigner`.
#[derive(Clone, Debug)]
pub struct SimKeys {
    secrets: BTreeMap<ReplicaId, [u8; 32]>,
}

impl SimKeys {
    /// Keys for replicas 1..=n derived from `seed`.
    pub fn new(n: u64, seed: u64) -> SimKeys {
        let secrets = (1..=n)
            .map(|i| {
                let mut b = Vec::new();
                b.extend_from_slice(&seed.to_be_bytes());
                b.extend_from_slice(&i.to_be_bytes());
                (i, Digest::of(&b).0)
            })
            .collect();
        SimKeys { secrets }
    }

    /// The signer of replica `id`.
    pub fn signer(&self, id: ReplicaId) -> SimSigner {
        SimSigner(self.secrets.get(&id).copied().unwrap_or_default())
    }

    fn mac(secret: &[u8; 32], bytes: &[u8]) -> Vec<u8> {
        let mut b = secret.to_vec();
        b.extend_from_slice(bytes);
        Digest::of(&b).0.to_vec()
    }
}

/// One simulated replica's secret.
#[derive(Clone, Debug)]
pub struct SimSigner([u8; 32]);

impl Signer for SimSigner {
    fn sign(&self, bytes: &[u8]) -> Vec<u8> {
        SimKeys::mac(&self.0, bytes)
    }
}

impl Verifier for SimKeys {
    fn verify(&self, from: ReplicaId, bytes: &[u8], signature: &[u8]) -> bool {
        self.secrets
            .get(&from)
            .is_some_and(|s| SimKeys::mac(s, bytes) == signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ed25519_signs_as_one_and_verifies_all() {
        let k1 = SigningKey::from_bytes(&[1u8; 32]);
        let k2 = SigningKey::from_bytes(&[2u8; 32]);
        let v = Ed25519Verifier(
            [(1, k1.verifying_key()), (2, k2.verifying_key())]
                .into_iter()
                .collect(),
        );
        let sig = Ed25519Signer(k1).sign(b"hello");
        assert!(v.verify(1, b"hello", &sig));
        assert!(!v.verify(2, b"hello", &sig), "not node 2's signature");
        assert!(!v.verify(1, b"hellO", &sig));
        assert!(!v.verify(3, b"hello", &sig), "unknown node");
        assert!(!v.verify(1, b"hello", &sig[..10]));
    }

    #[test]
    fn sim_keys_are_per_replica() {
        let keys = SimKeys::new(4, 7);
        let sig = keys.signer(2).sign(b"m");
        assert!(keys.verify(2, b"m", &sig));
        assert!(!keys.verify(3, b"m", &sig));
    }
}
