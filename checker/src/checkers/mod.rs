//! The cheap checkers beside linearizability: set-full, counter bounds, bank total, unique
//! ids, stats, unhandled exceptions. (Skeleton: filled in by the checker work, issue 2.)
