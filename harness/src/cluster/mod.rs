//! The cluster runtime: the system under test's node lifecycle (db), the network backends
//! (netns + iptables, user-space proxy), the nemesis (fault planner and executor), and
//! guaranteed cleanup. (Skeleton: filled in by issue 4's cluster work.)
