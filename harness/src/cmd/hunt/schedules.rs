//! The nemesis schedules `harness hunt` rotates through: each is a named set of
//! `harness test` flags aimed at one rare state of a consensus system, documented with what
//! it targets. A schedule is only flags, so the run it makes is reproduced exactly by
//! `harness test` with the same flags and seed; which schedules a system can run is asked of
//! the system ([`crate::run::config::TestConfig::check_system`]), never decided by its name.

/// One nemesis schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// Short name, printed on each run's line.
    pub name: &'static str,
    /// What state it tries to reach (for `--help`-like listings and the README).
    pub targets: &'static str,
    /// The `harness test` flags that make it.
    pub flags: &'static [&'static str],
}

/// Every schedule, in rotation order: the rare-state ones first, then the broad mixes.
pub const SCHEDULES: &[Schedule] = &[
    Schedule {
        name: "kill-in-election",
        targets: "vote persistence: a majority (or all) killed and restarted within the \
                  first moments of each new leadership, so nodes restart mid-election and \
                  must remember whom they voted for",
        flags: &[
            "--nemesis",
            "kill",
            "--kill-targets",
            "majority,all",
            "--nemesis-trigger",
            "leader-change",
            "--nemesis-interval",
            "1",
        ],
    },
    Schedule {
        name: "leader-cut-off",
        targets: "log truncation: the leader is cut off while its clients keep proposing, so \
                  a minority holds uncommitted entries while the majority elects a new leader \
                  and commits others; on heal the old leader must truncate its suffix",
        flags: &[
            "--nemesis",
            "partition",
            "--partition",
            "leader",
            "--nemesis-interval",
            "1",
        ],
    },
    Schedule {
        name: "pause-leader",
        targets: "leases and stale reads: the leader freezes, a new one is elected, the old \
                  one wakes still believing it leads",
        flags: &[
            "--nemesis",
            "pause",
            "--pause-targets",
            "leader",
            "--nemesis-interval",
            "2",
        ],
    },
    Schedule {
        name: "pause-while-cut-off",
        targets: "pauses that end while the node is cut off, overlapping partitions of the \
                  leader (a woken node that cannot reach anyone)",
        flags: &[
            "--nemesis",
            "partition,pause",
            "--nemesis-overlap",
            "--partition",
            "leader",
            "--pause-targets",
            "leader,one",
            "--nemesis-interval",
            "2",
        ],
    },
    Schedule {
        name: "leader-cut-then-kill",
        targets: "truncation and vote persistence together: the leader cut off while a \
                  minority restarts, so restarted nodes rejoin a changed majority",
        flags: &[
            "--nemesis",
            "partition,kill",
            "--nemesis-overlap",
            "--partition",
            "leader",
            "--kill-targets",
            "minority,leader",
            "--nemesis-interval",
            "2",
        ],
    },
    Schedule {
        name: "freeze-leader-restart-followers",
        targets: "the leader frozen while every follower restarts, elects and serves, then \
                  woken into a newer term",
        flags: &[
            "--nemesis",
            "pause,kill",
            "--nemesis-together",
            "--pause-targets",
            "leader",
            "--kill-targets",
            "followers",
            "--nemesis-interval",
            "2",
        ],
    },
    Schedule {
        name: "freeze-new-leader-in-election",
        targets: "vote persistence, two leaders in one term: at each new leader (before its \
                  first entries reach the others: 20 ms links), the leader frozen and every \
                  other node killed as one fault; they restart with no vote, elect one of \
                  themselves in the same term and serve, then the old leader wakes",
        flags: &[
            "--nemesis",
            "pause,kill",
            "--nemesis-together",
            "--pause-targets",
            "leader",
            "--kill-targets",
            "followers",
            "--nemesis-trigger",
            "leader-change",
            "--nemesis-interval",
            "1",
            "--net",
            "proxy",
            "--link-delay",
            "20",
        ],
    },
    Schedule {
        name: "clock-skew-leader",
        targets: "leases, check-quorum and election timers that trust the local clock: the \
                  leader's clock jumps up to 10 s ahead or back (a jump ahead fires its \
                  timers at once, a jump back stretches whatever it believes it holds)",
        flags: &[
            "--nemesis",
            "clock",
            "--clock-faults",
            "skew",
            "--clock-targets",
            "leader",
            "--clock-skew",
            "10s",
            "--nemesis-interval",
            "2",
        ],
    },
    Schedule {
        name: "clock-strobe",
        targets: "clocks that flip back and forth every 50 ms or run at half or twice speed, \
                  on the leader or a minority: timers and leases measured across the flips",
        flags: &[
            "--nemesis",
            "clock",
            "--clock-faults",
            "strobe,rate",
            "--clock-targets",
            "leader,minority",
            "--clock-skew",
            "2s",
            "--clock-strobe-period",
            "50ms",
            "--nemesis-interval",
            "2",
        ],
    },
    Schedule {
        name: "slow-clock-leader-cut-off",
        targets: "a lease outliving its holder: the leader's clock skewed or slowed while the \
                  leader is cut off, so it may believe in its leadership after the majority \
                  has elected another",
        flags: &[
            "--nemesis",
            "partition,clock",
            "--nemesis-together",
            "--partition",
            "leader",
            "--clock-targets",
            "leader",
            "--clock-faults",
            "skew,rate",
            "--clock-rate",
            "0.25",
            "--clock-skew",
            "5s",
            "--nemesis-interval",
            "2",
        ],
    },
    Schedule {
        name: "random-partitions",
        targets: "partitions of every shape (isolated, halves, majorities-ring, bridge)",
        flags: &[
            "--nemesis",
            "partition",
            "--partition",
            "random",
            "--nemesis-interval",
            "2",
        ],
    },
    Schedule {
        name: "mixed",
        targets: "partitions, pauses and kills on their own overlapping schedules, as \
                  Jepsen's combined nemesis",
        flags: &[
            "--nemesis",
            "partition,pause,kill",
            "--nemesis-overlap",
            "--nemesis-interval",
            "2",
        ],
    },
];

/// The schedule named `name`, if any.
pub fn by_name(name: &str) -> Option<&'static Schedule> {
    SCHEDULES.iter().find(|s| s.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn schedules_have_unique_names_flags_and_a_target() {
        let names: BTreeSet<&str> = SCHEDULES.iter().map(|s| s.name).collect();
        assert_eq!(names.len(), SCHEDULES.len());
        for s in SCHEDULES {
            assert!(s.flags.contains(&"--nemesis"), "{}", s.name);
            assert!(!s.targets.is_empty());
            assert_eq!(by_name(s.name), Some(s));
        }
        assert!(by_name("nope").is_none());
    }
}
