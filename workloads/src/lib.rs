//! `workloads`: what a workload is: seeded op generators, the client side of each workload
//! against each system under test's API, and which checkers judge it.
//! (Skeleton: filled in by the harness-test work, issue 4.)
