//! The nemesis vocabulary, a leaf module: the fault kinds ([`FaultKind`], one variant per
//! `--nemesis` kind; a new fault is a variant here plus its arm in the planner and in the
//! executor), who they hit ([`Target`]), partition shapes, triggers, the
//! [`NemesisConfig`] of a run and the [`NemesisEvent`]s it reports.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

use crate::cluster::grudge::Grudge;
use crate::cluster::links::LinkFaultOptions;

/// One kind of fault (`--nemesis partition,pause,kill`; `none` is the empty list).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FaultKind {
    Partition,
    Pause,
    Kill,
    /// Message loss on links (`--loss`, `--link-targets`).
    Loss,
    /// Delay with jitter on links (`--delay`, `--jitter`, `--link-targets`).
    Delay,
    /// A lock holder (a client of the lock or fencing workload) frozen while it holds a
    /// lock: its keep-alives and its work stop, then it wakes and writes without re-checking.
    Stall,
}

impl FaultKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            FaultKind::Partition => "partition",
            FaultKind::Pause => "pause",
            FaultKind::Kill => "kill",
            FaultKind::Loss => "loss",
            FaultKind::Delay => "delay",
            FaultKind::Stall => "stall",
        }
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FaultKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "partition" => Ok(FaultKind::Partition),
            "pause" => Ok(FaultKind::Pause),
            "kill" => Ok(FaultKind::Kill),
            "loss" => Ok(FaultKind::Loss),
            "delay" => Ok(FaultKind::Delay),
            "stall" => Ok(FaultKind::Stall),
            other => Err(format!(
                "unknown nemesis `{other}` (partition, pause, kill, loss, delay, stall, none)"
            )),
        }
    }
}

/// Parses a `--nemesis` comma list (`partition,pause,kill`, `none`, or empty) into fault kinds,
/// without duplicates, in the given order.
pub fn parse_faults(s: &str) -> Result<Vec<FaultKind>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if part == "none" {
            continue;
        }
        let k: FaultKind = part.parse()?;
        if !out.contains(&k) {
            out.push(k);
        }
    }
    Ok(out)
}

/// Which nodes a pause or kill hits (`--targets`, Jepsen's `:targets`). Each pause or kill
/// draws one of the configured targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// One random node.
    One,
    /// A random minority (at least one node).
    Minority,
    /// A random majority: the cluster cannot serve while it lasts.
    Majority,
    /// Every node at once.
    All,
    /// Whichever node leads when the fault starts (asked of the cluster; a seeded random node
    /// when no leader can be learned).
    Leader,
    /// Every node but the one that leads when the fault starts.
    Followers,
}

impl Target {
    pub fn as_str(&self) -> &'static str {
        match self {
            Target::One => "one",
            Target::Minority => "minority",
            Target::Majority => "majority",
            Target::All => "all",
            Target::Leader => "leader",
            Target::Followers => "followers",
        }
    }
}

impl FromStr for Target {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "one" => Ok(Target::One),
            "minority" => Ok(Target::Minority),
            "majority" => Ok(Target::Majority),
            "all" => Ok(Target::All),
            "leader" | "primaries" => Ok(Target::Leader),
            "followers" => Ok(Target::Followers),
            other => Err(format!(
                "unknown target `{other}` (one, minority, majority, all, leader, followers)"
            )),
        }
    }
}

/// Parses a `--targets` comma list (`one,minority,majority,all,leader`) without duplicates, in
/// the given order; an empty list is an error (a pause or kill needs somebody to hit).
pub fn parse_targets(s: &str) -> Result<Vec<Target>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let t: Target = part.parse()?;
        if !out.contains(&t) {
            out.push(t);
        }
    }
    if out.is_empty() {
        return Err(
            "expected at least one of one, minority, majority, all, leader, followers".into(),
        );
    }
    Ok(out)
}

/// The targets used when `--targets` is not given: one node or a minority, so the cluster
/// can keep serving through every pause and kill.
pub const DEFAULT_TARGETS: &[Target] = &[Target::One, Target::Minority];

/// The shape of partitions (`--partition`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PartitionShape {
    /// One node cut from all others.
    Isolated,
    /// A random minority and majority.
    Halves,
    /// Every node hears a majority, no two the same majority (Jepsen's majorities-ring).
    MajoritiesRing,
    /// Two halves that cannot hear each other, joined by one node that hears both.
    Bridge,
    /// The current leader (asked of the cluster when the fault starts) cut from all others;
    /// a seeded random node when no leader can be learned.
    Leader,
    /// One node hears nobody but is still heard by all (a one-way cut into it).
    Deaf,
    /// One node is heard by nobody but still hears all (a one-way cut out of it).
    Mute,
    /// Deaf or mute, drawn each time.
    OneWayIsolated,
    /// One of isolated, halves, majorities-ring, bridge, drawn each time.
    #[default]
    Random,
    /// A fixed grudge (node → nodes it cannot hear from).
    Explicit(Grudge),
}

impl FromStr for PartitionShape {
    type Err = String;
    /// `isolated`, `halves`, `majorities-ring`, `bridge`, `random`, or a JSON grudge object
    /// such as `{"n1":["n2","n3"]}`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "isolated" | "one" => Ok(PartitionShape::Isolated),
            "halves" => Ok(PartitionShape::Halves),
            "majorities-ring" | "ring" => Ok(PartitionShape::MajoritiesRing),
            "bridge" => Ok(PartitionShape::Bridge),
            "leader" | "isolated-leader" => Ok(PartitionShape::Leader),
            "random" => Ok(PartitionShape::Random),
            "deaf" | "one-way-deaf" => Ok(PartitionShape::Deaf),
            "mute" | "one-way-mute" => Ok(PartitionShape::Mute),
            "one-way-isolated" | "one-way" => Ok(PartitionShape::OneWayIsolated),
            t if t.starts_with('{') => serde_json::from_str::<Grudge>(t)
                .map(PartitionShape::Explicit)
                .map_err(|e| format!("bad grudge JSON `{t}`: {e}")),
            other => Err(format!(
                "unknown partition shape `{other}` (isolated, halves, majorities-ring, bridge, leader, deaf, mute, one-way-isolated, random, or a JSON grudge: node → nodes it cannot hear, one direction)"
            )),
        }
    }
}

impl fmt::Display for PartitionShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PartitionShape::Isolated => f.write_str("isolated"),
            PartitionShape::Halves => f.write_str("halves"),
            PartitionShape::MajoritiesRing => f.write_str("majorities-ring"),
            PartitionShape::Bridge => f.write_str("bridge"),
            PartitionShape::Leader => f.write_str("leader"),
            PartitionShape::Random => f.write_str("random"),
            PartitionShape::Deaf => f.write_str("deaf"),
            PartitionShape::Mute => f.write_str("mute"),
            PartitionShape::OneWayIsolated => f.write_str("one-way-isolated"),
            PartitionShape::Explicit(g) => {
                f.write_str(&serde_json::to_string(g).unwrap_or_else(|_| "{}".into()))
            }
        }
    }
}

/// When a fault starts (`--nemesis-trigger`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Trigger {
    /// After a staggered wait (uniform in `[0, 2 × interval)`).
    #[default]
    Timer,
    /// As soon as a new leadership (another node, or a new term) is seen, polling the nodes'
    /// status, so the fault lands in the first milliseconds of a leadership, before the new
    /// leader's first entries have reached everyone; after at most four intervals without a
    /// change, anyway. Faults that cause elections then fire at every election. For systems
    /// that report a leader (raft-kv, `require_leader` probes).
    LeaderChange,
}

impl Trigger {
    pub fn as_str(&self) -> &'static str {
        match self {
            Trigger::Timer => "timer",
            Trigger::LeaderChange => "leader-change",
        }
    }
}

impl FromStr for Trigger {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "timer" => Ok(Trigger::Timer),
            "leader-change" => Ok(Trigger::LeaderChange),
            other => Err(format!("unknown trigger `{other}` (timer, leader-change)")),
        }
    }
}

/// How the nemesis behaves during the main phase.
#[derive(Debug, Clone)]
pub struct NemesisConfig {
    /// Fault kinds, used in rotation; empty = no faults.
    pub faults: Vec<FaultKind>,
    pub shape: PartitionShape,
    /// Who a pause or kill hits: one of these, drawn each time.
    pub targets: Vec<Target>,
    /// Targets of pauses only, when not empty (`--pause-targets`).
    pub pause_targets: Vec<Target>,
    /// Targets of kills only, when not empty (`--kill-targets`).
    pub kill_targets: Vec<Target>,
    /// Mean time between fault changes (staggered: each wait uniform in `[0, 2 × interval)`).
    pub interval: Duration,
    /// What starts a fault: the staggered timer, or a new leader.
    pub trigger: Trigger,
    /// Each fault kind on its own schedule (its own planner, stagger and trigger), so faults
    /// overlap as in Jepsen's combined nemesis; `false`: one fault at a time, in rotation.
    pub overlap: bool,
    /// Every kind at once, as one compound fault (applied in the listed order, undone in
    /// reverse, each undo after its own staggered wait); `false`: one kind per fault.
    pub together: bool,
    /// What loss and delay faults put on links.
    pub links: LinkFaultOptions,
    pub seed: u64,
}

/// One applied fault change, for the history: `f` is one of `start-partition`,
/// `stop-partition`, `pause`, `resume`, `kill`, `restart`; `value` is the grudge object (or
/// null on stop-partition) or the list of node names; `at` is when the change was applied.
#[derive(Debug, Clone, PartialEq)]
pub struct NemesisEvent {
    pub f: String,
    pub value: serde_json::Value,
    pub at: Instant,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fault_lists_and_shapes() {
        assert_eq!(
            parse_faults("partition,pause,kill").unwrap(),
            vec![FaultKind::Partition, FaultKind::Pause, FaultKind::Kill]
        );
        assert!(parse_faults("none").unwrap().is_empty());
        assert!(parse_faults("").unwrap().is_empty());
        assert_eq!(parse_faults("kill,kill").unwrap(), vec![FaultKind::Kill]);
        assert!(parse_faults("partition,flood").is_err());
        assert_eq!(
            "majorities-ring".parse::<PartitionShape>().unwrap(),
            PartitionShape::MajoritiesRing
        );
        let g: PartitionShape = r#"{"n1":["n2"]}"#.parse().unwrap();
        match g {
            PartitionShape::Explicit(g) => assert!(g["n1"].contains("n2")),
            other => panic!("{other:?}"),
        }
        assert!("triangle".parse::<PartitionShape>().is_err());
    }

    #[test]
    fn parses_target_lists() {
        assert_eq!(
            parse_targets("one, majority,all,primaries,one").unwrap(),
            vec![Target::One, Target::Majority, Target::All, Target::Leader]
        );
        assert!(parse_targets("").is_err());
        assert_eq!(
            "leader-change".parse::<Trigger>(),
            Ok(Trigger::LeaderChange)
        );
        assert!("election".parse::<Trigger>().is_err());
        let e = parse_targets("one,half").unwrap_err();
        assert!(e.contains("`half`"), "{e}");
    }
}
