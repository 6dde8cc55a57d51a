//! The bully leader election among N processes: a pure core (`core`, `message`), a
//! deterministic simulation of a cluster (`sim`), and the `bully-node` process around the
//! core (`config`, `server`, `transport`). Classic mode splits under a partition (two leaders);
//! `--quorum` mode acts only under a lease from a majority and never has two leaders acting.

pub mod config;
pub mod core;
pub mod message;
pub mod server;
pub mod sim;
pub mod transport;
