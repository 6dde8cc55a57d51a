//! Push-pull gossip with anti-entropy spreading chat messages signed by their origin
//! (ed25519): a pure core (`core`, `store`, `message`, `crypto`), a deterministic
//! simulator (`sim`), and the `gossip-node` process around the core (`config`, `server`,
//! `transport`, `persist`, `client`). Every receiver verifies every message against its
//! origin's public key, so a lying node can neither inject nor alter messages of others.

pub mod client;
pub mod config;
pub mod core;
pub mod crypto;
pub mod message;
pub mod persist;
pub mod server;
pub mod sim;
pub mod store;
pub mod transport;
