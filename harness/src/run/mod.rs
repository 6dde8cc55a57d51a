//! One test run, phase by phase: config, clients driving a workload, the history journal,
//! the results store, checking and the combined verdict. (Skeleton: filled in by issue 4.)
