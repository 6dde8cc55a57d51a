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
    /// A node's clock skewed, sped up or slowed down, or strobed (`--clock-faults`,
    /// `--clock-skew`, `--clock-rate`, `--clock-targets`), through libfaketime.
    Clock,
    /// Nodes that lie (`--byzantine-nodes`, `--byzantine-modes`).
    Byzantine,
    /// Messages corrupted or duplicated in flight (`--corrupt`, `--duplicate`,
    /// `--link-targets`; proxy links only).
    Wire,
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
            FaultKind::Clock => "clock",
            FaultKind::Byzantine => "byzantine",
            FaultKind::Wire => "wire",
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
            "clock" => Ok(FaultKind::Clock),
            "byzantine" => Ok(FaultKind::Byzantine),
            "wire" => Ok(FaultKind::Wire),
            "stall" => Ok(FaultKind::Stall),
            other => Err(format!(
                "unknown nemesis `{other}` (partition, pause, kill, loss, delay, clock, byzantine, \
                 wire, stall, none)"
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

/// One kind of clock fault (`--clock-faults skew,rate,strobe`), as Jepsen's clock nemesis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ClockFault {
    /// The clock jumps ahead or back by a drawn amount.
    Skew,
    /// The clock runs fast or slow (one of `--clock-rate`).
    Rate,
    /// The clock flips between real time and a drawn offset every strobe period.
    Strobe,
}

impl ClockFault {
    pub fn as_str(&self) -> &'static str {
        match self {
            ClockFault::Skew => "skew",
            ClockFault::Rate => "rate",
            ClockFault::Strobe => "strobe",
        }
    }
}

/// Parses `--clock-faults` (`skew,rate,strobe`, any non-empty subset).
pub fn parse_clock_faults(s: &str) -> Result<Vec<ClockFault>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let f = match part {
            "skew" | "bump" => ClockFault::Skew,
            "rate" => ClockFault::Rate,
            "strobe" => ClockFault::Strobe,
            other => {
                return Err(format!(
                    "unknown clock fault `{other}` (skew, rate, strobe)"
                ))
            }
        };
        if !out.contains(&f) {
            out.push(f);
        }
    }
    if out.is_empty() {
        return Err("expected at least one of skew, rate, strobe".into());
    }
    Ok(out)
}

/// Parses `--clock-rate` (`0.5,2`): clock rates, each above 0 and at most 100, not 1.
pub fn parse_clock_rates(s: &str) -> Result<Vec<f64>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let r: f64 = part
            .trim_start_matches('x')
            .parse()
            .map_err(|_| format!("`{part}`: expected a rate such as 0.5 or 2"))?;
        if !(r > 0.0 && r <= 100.0) || r == 1.0 {
            return Err(format!(
                "`{part}`: expected a rate above 0 and at most 100, other than 1"
            ));
        }
        out.push(r);
    }
    if out.is_empty() {
        return Err("expected at least one rate, such as 0.5,2".into());
    }
    Ok(out)
}

/// What clock faults do (`--nemesis clock`).
#[derive(Debug, Clone, PartialEq)]
pub struct ClockOptions {
    /// The clock faults drawn from, one per fault.
    pub faults: Vec<ClockFault>,
    /// The largest skew: each skew (and each strobe's offset) is drawn per node from
    /// `±[skew/10, skew]`.
    pub skew: Duration,
    /// Rates drawn from, one per node per rate fault.
    pub rates: Vec<f64>,
    /// How often a strobed clock flips.
    pub strobe_period: Duration,
    /// Who a clock fault hits (empty: `--targets`).
    pub targets: Vec<Target>,
}

impl Default for ClockOptions {
    fn default() -> Self {
        ClockOptions {
            faults: vec![ClockFault::Skew, ClockFault::Rate, ClockFault::Strobe],
            skew: Duration::from_secs(5),
            rates: vec![0.5, 2.0],
            strobe_period: Duration::from_millis(100),
            targets: Vec::new(),
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
    /// What clock faults do.
    pub clock: ClockOptions,
    pub seed: u64,
    /// `--nemesis byzantine`: how many nodes lie and in which modes.
    pub byzantine: ByzantineConfig,
    /// `--nemesis-script FILE`: steps applied in order instead of `faults` (which is then
    /// empty).
    pub script: Option<super::script::Script>,
}

/// Who lies under `--nemesis byzantine`: `nodes` nodes (drawn once per run from the seed,
/// the same ones every time) each made Byzantine in a mode drawn from `modes`; or, when
/// `fixed` is not empty, exactly those nodes, each always in its own mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ByzantineConfig {
    /// `--byzantine-nodes K` (default 1).
    pub nodes: usize,
    /// `--byzantine-modes a,b` (empty: every mode the system offers).
    pub modes: Vec<String>,
    /// `--byzantine-modes n1=equivocate,n4=forge-votes`: (node, mode), in the given order.
    pub fixed: Vec<(String, String)>,
}

impl Default for ByzantineConfig {
    fn default() -> Self {
        ByzantineConfig {
            nodes: 1,
            modes: Vec::new(),
            fixed: Vec::new(),
        }
    }
}

impl ByzantineConfig {
    /// `--byzantine-nodes K --byzantine-modes LIST`: LIST is either modes to draw from
    /// (`equivocate,silent`) or fixed per-node modes (`n1=equivocate,n4=forge-votes`, then
    /// `K` is ignored); a mix of both forms, an empty node or mode, or a node named twice
    /// is an error naming the entry.
    pub fn parse(nodes: usize, list: &str) -> Result<ByzantineConfig, String> {
        let entries: Vec<&str> = list
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .collect();
        let fixed_form = entries.iter().filter(|e| e.contains('=')).count();
        if fixed_form == 0 {
            return Ok(ByzantineConfig {
                nodes,
                modes: entries.iter().map(|m| m.to_string()).collect(),
                fixed: Vec::new(),
            });
        }
        if fixed_form != entries.len() {
            return Err(format!(
                "--byzantine-modes {list}: either modes (equivocate,silent) or node=mode \
                 pairs (n1=equivocate,n4=forge-votes), not both"
            ));
        }
        let mut fixed: Vec<(String, String)> = Vec::new();
        for e in entries {
            let (node, mode) = e.split_once('=').unwrap_or((e, ""));
            let (node, mode) = (node.trim(), mode.trim());
            if node.is_empty() || mode.is_empty() {
                return Err(format!("--byzantine-modes: `{e}` is not node=mode"));
            }
            if fixed.iter().any(|(n, _)| n == node) {
                return Err(format!("--byzantine-modes: node {node} is named twice"));
            }
            fixed.push((node.to_string(), mode.to_string()));
        }
        Ok(ByzantineConfig {
            nodes: fixed.len(),
            modes: Vec::new(),
            fixed,
        })
    }

    /// Every mode the config names (drawn or fixed).
    pub fn named_modes(&self) -> Vec<&str> {
        let fixed = self.fixed.iter().map(|(_, m)| m.as_str());
        self.modes.iter().map(String::as_str).chain(fixed).collect()
    }
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
    fn parses_clock_faults_and_rates() {
        assert_eq!(parse_faults("clock").unwrap(), vec![FaultKind::Clock]);
        assert_eq!(
            parse_clock_faults("strobe, skew,strobe").unwrap(),
            vec![ClockFault::Strobe, ClockFault::Skew]
        );
        assert!(parse_clock_faults("").is_err());
        assert!(parse_clock_faults("skew,warp")
            .unwrap_err()
            .contains("`warp`"));
        assert_eq!(parse_clock_rates("0.5, x2").unwrap(), vec![0.5, 2.0]);
        for bad in ["1", "0", "-2", "fast", "", "1000"] {
            assert!(parse_clock_rates(bad).is_err(), "{bad}");
        }
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
