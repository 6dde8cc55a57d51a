//! The Two Generals over a lossy link: the pure per-round core of a general (`core`), an
//! in-process seeded simulation and the table of agreement rates (`sim`), and the `general`
//! process that plays rounds with its peer over HTTP (`config`, `server`), with built-in
//! seeded loss or whatever loss the network adds.

pub mod config;
pub mod core;
pub mod server;
pub mod sim;
