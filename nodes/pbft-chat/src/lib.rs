//! pbft-chat: a chat room whose messages are totally ordered by PBFT (Castro & Liskov 1999)
//! among n = 3f+1 replicas. `core` is the pure protocol; `sim` a seeded simulator of n
//! cores; the node side (`config`, `keys`, `server`, `http`, `transport`) runs one replica
//! as the `pbft-node` binary, and `client` is what the `chat` binary uses.

pub mod client;
pub mod config;
pub mod core;
pub mod crypto;
pub mod faults;
pub mod http;
pub mod keys;
pub mod message;
pub mod node;
pub mod server;
pub mod sim;
pub mod transport;
pub mod types;
