//! The pure Raft core: no I/O, no clock, no randomness of its own. It takes messages, ticks
//! and proposals and returns what to persist, what to send and what is committed.
//! (Skeleton: filled in by issue 3's core work.)
