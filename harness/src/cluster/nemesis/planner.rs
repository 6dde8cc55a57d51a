//! The pure, seeded nemesis planner: which fault comes next and on which nodes. Same seed and
//! same node list → same decisions, whatever the timing of the run (no clocks, no I/O).

use std::collections::BTreeSet;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::kinds::{ClockFault, ClockOptions, FaultKind, PartitionShape, Target, DEFAULT_TARGETS};
use crate::cluster::grudge::Grudge;
use crate::cluster::links::{
    on_all_links, on_links_of, LinkCondition, LinkFaultOptions, LinkFaults, LinkTarget,
};

/// One planned fault: what to break (the executor also knows how to undo it).
#[derive(Debug, Clone, PartialEq)]
pub enum PlannedFault {
    Partition(Grudge),
    /// Isolate whichever node leads when the fault is applied (the executor asks the cluster);
    /// `fallback` (drawn from the seed) is isolated when no leader can be learned.
    IsolateLeader {
        fallback: String,
    },
    Pause(Victims),
    Kill(Victims),
    /// A loss or delay fault (`kind`) on these directed links.
    Links {
        kind: FaultKind,
        faults: LinkFaults,
    },
    /// A clock fault on `victims`: the k-th victim (in resolved order) gets `amounts[k]`,
    /// seconds of skew (or of a strobe's offset), or a rate; a strobe flips every `period`.
    Clock {
        fault: ClockFault,
        victims: Victims,
        amounts: Vec<f64>,
        period: std::time::Duration,
    },
    /// Make each of these nodes lie in its mode, `(node, mode)` (undo: honest again).
    Byzantine {
        liars: Vec<(String, String)>,
    },
    /// Freeze lock client `pick % clients` at its next stall point (while it holds a lock)
    /// for `ttls` session TTLs, then wake it.
    Stall {
        pick: u64,
        ttls: f64,
    },
}

/// The nodes a pause or kill hits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Victims {
    /// These nodes (sorted).
    Nodes(Vec<String>),
    /// Whichever node leads when the fault is applied (the executor asks the cluster);
    /// `fallback` (drawn from the seed) when no leader can be learned.
    Leader { fallback: String },
    /// Every node but the one that leads when the fault is applied; `fallback_leader`
    /// (drawn from the seed) stands in when no leader can be learned.
    Followers { fallback_leader: String },
}

/// Seeded sequence of faults: rotates through the configured fault kinds in order; each
/// partition's shape and each pause/kill target drawn from a ChaCha stream.
#[derive(Debug, Clone)]
pub struct Planner {
    rng: ChaCha8Rng,
    faults: Vec<FaultKind>,
    shape: PartitionShape,
    pause_targets: Vec<Target>,
    kill_targets: Vec<Target>,
    links: LinkFaultOptions,
    clock: ClockOptions,
    clock_targets: Vec<Target>,
    nodes: Vec<String>,
    next: usize,
    /// The nodes `byzantine` faults make lie (the same every time) and the modes drawn from.
    liars: Vec<String>,
    liar_modes: Vec<String>,
    /// `--byzantine-modes n1=equivocate,...`: these nodes, each always in its mode.
    fixed_liars: Vec<(String, String)>,
}

impl Planner {
    pub fn new(
        seed: u64,
        faults: Vec<FaultKind>,
        shape: PartitionShape,
        targets: Vec<Target>,
        nodes: Vec<String>,
    ) -> Self {
        let targets = if targets.is_empty() {
            DEFAULT_TARGETS.to_vec()
        } else {
            targets
        };
        Planner {
            rng: ChaCha8Rng::seed_from_u64(seed),
            faults,
            shape,
            pause_targets: targets.clone(),
            clock_targets: targets.clone(),
            kill_targets: targets,
            links: LinkFaultOptions::default(),
            clock: ClockOptions::default(),
            nodes,
            next: 0,
            liars: Vec::new(),
            liar_modes: Vec::new(),
            fixed_liars: Vec::new(),
        }
    }

    /// One fault of every configured kind, in the configured order (a compound fault).
    pub fn next_faults_of_every_kind(&mut self) -> Vec<PlannedFault> {
        (0..self.faults.len())
            .filter_map(|_| self.next_fault())
            .collect()
    }

    /// The next fault, or `None` if no fault kinds are configured (or there are no nodes).
    pub fn next_fault(&mut self) -> Option<PlannedFault> {
        if self.faults.is_empty() || self.nodes.is_empty() {
            return None;
        }
        let kind = self.faults[self.next % self.faults.len()];
        self.next += 1;
        Some(match kind {
            FaultKind::Partition if self.shape == PartitionShape::Leader => {
                let fallback = self.nodes[self.rng.gen_range(0..self.nodes.len())].clone();
                PlannedFault::IsolateLeader { fallback }
            }
            FaultKind::Partition => {
                PlannedFault::Partition(plan_grudge(&self.shape, &self.nodes, &mut self.rng))
            }
            FaultKind::Pause => {
                let t = self.draw_target(FaultKind::Pause);
                PlannedFault::Pause(pick_victims(t, &self.nodes, &mut self.rng))
            }
            FaultKind::Kill => {
                let t = self.draw_target(FaultKind::Kill);
                PlannedFault::Kill(pick_victims(t, &self.nodes, &mut self.rng))
            }
            FaultKind::Clock => self.plan_clock(),
            FaultKind::Loss | FaultKind::Delay | FaultKind::Wire => self.plan_links(kind),
            FaultKind::Byzantine if !self.fixed_liars.is_empty() => PlannedFault::Byzantine {
                liars: self.fixed_liars.clone(),
            },
            FaultKind::Byzantine if self.liars.is_empty() || self.liar_modes.is_empty() => {
                return None
            }
            FaultKind::Byzantine => PlannedFault::Byzantine {
                liars: (0..self.liars.len())
                    .map(|i| {
                        let m = self.rng.gen_range(0..self.liar_modes.len());
                        (self.liars[i].clone(), self.liar_modes[m].clone())
                    })
                    .collect(),
            },
            FaultKind::Stall => self.plan_stall(),
        })
    }

    /// Gives clock faults their kinds, amounts and targets.
    pub fn with_clock(mut self, clock: ClockOptions) -> Self {
        if !clock.targets.is_empty() {
            self.clock_targets = clock.targets.clone();
        }
        self.clock = clock;
        self
    }

    /// A clock fault: one of the configured kinds, on drawn targets, with an amount per node
    /// (a skew or strobe offset of `±[max/10, max]` seconds, or one of the rates).
    fn plan_clock(&mut self) -> PlannedFault {
        let o = &self.clock;
        let fault = match o.faults.len() {
            0 => ClockFault::Skew,
            n => o.faults[self.rng.gen_range(0..n)],
        };
        let max = o.skew.as_secs_f64();
        let rates = if o.rates.is_empty() {
            vec![2.0]
        } else {
            o.rates.clone()
        };
        let period = o.strobe_period;
        let target = self.draw_target(FaultKind::Clock);
        let victims = pick_victims(target, &self.nodes, &mut self.rng);
        let amounts = (0..self.nodes.len())
            .map(|_| match fault {
                ClockFault::Rate => rates[self.rng.gen_range(0..rates.len())],
                ClockFault::Skew | ClockFault::Strobe => {
                    let magnitude = if max > 0.0 {
                        self.rng.gen_range(max / 10.0..=max)
                    } else {
                        0.0
                    };
                    // Whole milliseconds, so the history and the report say what was applied.
                    let ms = (magnitude * 1000.0).round() / 1000.0;
                    if self.rng.gen_bool(0.5) {
                        ms
                    } else {
                        -ms
                    }
                }
            })
            .collect();
        PlannedFault::Clock {
            fault,
            victims,
            amounts,
            period,
        }
    }

    /// Gives loss and delay faults their amounts and link targets.
    pub fn with_links(mut self, links: LinkFaultOptions) -> Self {
        self.links = links;
        self
    }

    /// A loss fault (one of the configured probabilities), a delay fault or a wire fault
    /// (corruption, duplication) on every link or every link of one node, as drawn from the
    /// configured link targets.
    fn plan_links(&mut self, kind: FaultKind) -> PlannedFault {
        let o = &self.links;
        let condition = match kind {
            FaultKind::Loss => {
                let loss = match o.losses.len() {
                    0 => 0.3,
                    n => o.losses[self.rng.gen_range(0..n)],
                };
                LinkCondition {
                    loss,
                    ..Default::default()
                }
            }
            FaultKind::Wire => LinkCondition {
                corrupt: o.corrupt,
                duplicate: o.duplicate,
                ..Default::default()
            },
            _ => LinkCondition {
                delay: o.delay,
                jitter: o.jitter,
                ..Default::default()
            },
        };
        let target = match o.targets.len() {
            0 => LinkTarget::All,
            n => o.targets[self.rng.gen_range(0..n)],
        };
        let faults = match target {
            LinkTarget::All => on_all_links(&self.nodes, condition),
            LinkTarget::One => {
                let node = self.nodes[self.rng.gen_range(0..self.nodes.len())].clone();
                on_links_of(&node, &self.nodes, condition)
            }
        };
        PlannedFault::Links { kind, faults }
    }

    /// A stall of a drawn client: half of them short (0.6–0.95 TTL: the client's own lease
    /// may still run when it wakes, which a server without Chubby's grace has already
    /// expired), half long (1.3–2.5 TTL: the lease is surely over and the lock given away).
    fn plan_stall(&mut self) -> PlannedFault {
        let pick = self.rng.gen::<u64>();
        let ttls = if self.rng.gen_bool(0.5) {
            self.rng.gen_range(0.6..0.95)
        } else {
            self.rng.gen_range(1.3..2.5)
        };
        PlannedFault::Stall { pick, ttls }
    }

    /// Gives pauses or kills their own targets (an empty list keeps the shared ones).
    pub fn with_targets_for(mut self, kind: FaultKind, targets: Vec<Target>) -> Self {
        if !targets.is_empty() {
            match kind {
                FaultKind::Pause => self.pause_targets = targets,
                FaultKind::Kill => self.kill_targets = targets,
                FaultKind::Partition
                | FaultKind::Loss
                | FaultKind::Delay
                | FaultKind::Clock
                | FaultKind::Byzantine
                | FaultKind::Wire
                | FaultKind::Stall => {}
            }
        }
        self
    }

    /// Byzantine faults make `count` nodes lie, drawn once from the seed (so the nodes ever
    /// Byzantine are at most `count`), each node each time in a mode drawn from `modes`.
    pub fn with_byzantine(mut self, count: usize, modes: Vec<String>) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(self.rng.gen());
        let mut liars: Vec<String> = self
            .nodes
            .choose_multiple(&mut rng, count.min(self.nodes.len()))
            .cloned()
            .collect();
        liars.sort();
        self.liars = liars;
        self.liar_modes = modes;
        self
    }

    /// Byzantine faults make exactly these nodes lie, each always in its own mode (the
    /// colluding schedules of the simulator: `n1=equivocate,n4=forge-votes`).
    pub fn with_fixed_byzantine(mut self, liars: Vec<(String, String)>) -> Self {
        self.fixed_liars = liars;
        self
    }

    /// Draws one of the targets configured for `kind`.
    fn draw_target(&mut self, kind: FaultKind) -> Target {
        let list = match kind {
            FaultKind::Pause => &self.pause_targets,
            FaultKind::Clock => &self.clock_targets,
            _ => &self.kill_targets,
        };
        list[self.rng.gen_range(0..list.len())]
    }
}

/// The nodes `target` names among `nodes` (pure given the rng state): one random node, a
/// random minority (at least one), a random majority, all of them, or the leader with a
/// random fallback.
pub fn pick_victims(target: Target, nodes: &[String], rng: &mut ChaCha8Rng) -> Victims {
    let n = nodes.len();
    let count = match target {
        Target::Leader => {
            return Victims::Leader {
                fallback: nodes[rng.gen_range(0..n)].clone(),
            }
        }
        Target::Followers => {
            return Victims::Followers {
                fallback_leader: nodes[rng.gen_range(0..n)].clone(),
            }
        }
        Target::One => 1,
        Target::Minority => ((n.saturating_sub(1)) / 2).max(1),
        Target::Majority => n / 2 + 1,
        Target::All => n,
    };
    let mut picked: Vec<String> = nodes.choose_multiple(rng, count.min(n)).cloned().collect();
    picked.sort();
    Victims::Nodes(picked)
}

/// A grudge where every node cannot hear from the nodes outside its own component.
pub(super) fn grudge_from_components(nodes: &[String], components: &[Vec<String>]) -> Grudge {
    let mut grudge = Grudge::new();
    for comp in components {
        let inside: BTreeSet<&String> = comp.iter().collect();
        for n in comp {
            let others: BTreeSet<String> = nodes
                .iter()
                .filter(|m| !inside.contains(m))
                .cloned()
                .collect();
            grudge.insert(n.clone(), others);
        }
    }
    grudge.retain(|_, v| !v.is_empty());
    grudge
}

/// The grudge that cuts `node` off from every other node of `nodes` (both ways).
pub fn isolate(node: &str, nodes: &[String]) -> Grudge {
    let one = vec![node.to_string()];
    let rest: Vec<String> = nodes.iter().filter(|n| *n != node).cloned().collect();
    grudge_from_components(nodes, &[one, rest])
}

/// Draws a partition of `nodes` of the given shape (pure given the rng state). Shapes that
/// need more nodes than there are fall back to `isolated`; one node gives an empty grudge.
pub fn plan_grudge(shape: &PartitionShape, nodes: &[String], rng: &mut ChaCha8Rng) -> Grudge {
    let n = nodes.len();
    if n < 2 {
        return Grudge::new();
    }
    let mut shuffled = nodes.to_vec();
    shuffled.shuffle(rng);
    match shape {
        PartitionShape::Explicit(g) => g.clone(),
        PartitionShape::Random => {
            let shapes = [
                PartitionShape::Isolated,
                PartitionShape::Halves,
                PartitionShape::MajoritiesRing,
                PartitionShape::Bridge,
            ];
            let pick = rng.gen_range(0..shapes.len());
            plan_grudge(&shapes[pick], nodes, rng)
        }
        PartitionShape::OneWayIsolated => {
            let shape = if rng.gen_bool(0.5) {
                PartitionShape::Deaf
            } else {
                PartitionShape::Mute
            };
            plan_grudge(&shape, nodes, rng)
        }
        PartitionShape::Deaf => {
            let node = &shuffled[0];
            let others = nodes.iter().filter(|m| *m != node).cloned().collect();
            Grudge::from([(node.clone(), others)])
        }
        PartitionShape::Mute => {
            let node = &shuffled[0];
            nodes
                .iter()
                .filter(|m| *m != node)
                .map(|m| (m.clone(), BTreeSet::from([node.clone()])))
                .collect()
        }
        // Without a cluster to ask, "the leader" is a random node.
        PartitionShape::Isolated | PartitionShape::Leader => {
            let (one, rest) = shuffled.split_at(1);
            grudge_from_components(nodes, &[one.to_vec(), rest.to_vec()])
        }
        PartitionShape::Halves => {
            let (minority, majority) = shuffled.split_at(n / 2);
            grudge_from_components(nodes, &[minority.to_vec(), majority.to_vec()])
        }
        PartitionShape::Bridge => {
            if n < 3 {
                return plan_grudge(&PartitionShape::Isolated, nodes, rng);
            }
            // shuffled[0] is the bridge; the rest split into two halves that cannot hear each
            // other but both hear the bridge.
            let rest = &shuffled[1..];
            let (a, b) = rest.split_at(rest.len() / 2);
            let mut grudge = Grudge::new();
            for x in a {
                grudge.insert(x.clone(), b.iter().cloned().collect());
            }
            for x in b {
                grudge.insert(x.clone(), a.iter().cloned().collect());
            }
            grudge.retain(|_, v| !v.is_empty());
            grudge
        }
        PartitionShape::MajoritiesRing => {
            if n < 3 {
                return plan_grudge(&PartitionShape::Isolated, nodes, rng);
            }
            // Jepsen's majorities ring: windows of a majority along a shuffled ring; the middle
            // node of each window hears exactly that window.
            let m = n / 2 + 1;
            let mut grudge = Grudge::new();
            for start in 0..n {
                let window: Vec<&String> = (0..m).map(|k| &shuffled[(start + k) % n]).collect();
                let middle = window[m / 2].clone();
                let cut: BTreeSet<String> = nodes
                    .iter()
                    .filter(|x| !window.contains(x))
                    .cloned()
                    .collect();
                grudge.insert(middle, cut);
            }
            grudge.retain(|_, v| !v.is_empty());
            grudge
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byzantine_faults_hit_the_same_k_nodes_in_drawn_modes() {
        let nodes: Vec<String> = (1..=4).map(|i| format!("n{i}")).collect();
        let modes = vec!["equivocate".to_string(), "silent".to_string()];
        let plan = |seed| {
            let mut p = Planner::new(
                seed,
                vec![FaultKind::Byzantine],
                PartitionShape::Random,
                vec![],
                nodes.clone(),
            )
            .with_byzantine(2, modes.clone());
            (0..20).map(|_| p.next_fault().unwrap()).collect::<Vec<_>>()
        };
        let faults = plan(3);
        assert_eq!(faults, plan(3));
        let mut liars = BTreeSet::new();
        let mut seen_modes = BTreeSet::new();
        for f in &faults {
            let PlannedFault::Byzantine { liars: l } = f else {
                panic!("{f:?}")
            };
            assert_eq!(l.len(), 2);
            for (node, mode) in l {
                liars.insert(node.clone());
                seen_modes.insert(mode.clone());
            }
        }
        assert_eq!(liars.len(), 2, "always the same two nodes");
        assert_eq!(seen_modes.len(), 2, "both modes drawn");
        let mut none = Planner::new(
            1,
            vec![FaultKind::Byzantine],
            PartitionShape::Random,
            vec![],
            nodes.clone(),
        );
        assert_eq!(none.next_fault(), None, "no liars configured: no fault");
    }

    #[test]
    fn fixed_byzantine_modes_hit_the_named_nodes_in_their_modes_every_time() {
        let fixed = vec![
            ("n1".to_string(), "equivocate".to_string()),
            ("n4".to_string(), "forge-votes".to_string()),
        ];
        let mut p = Planner::new(
            9,
            vec![FaultKind::Byzantine],
            PartitionShape::Random,
            vec![],
            names(4),
        )
        .with_byzantine(1, vec!["silent".into()])
        .with_fixed_byzantine(fixed.clone());
        for _ in 0..5 {
            assert_eq!(
                p.next_fault(),
                Some(PlannedFault::Byzantine {
                    liars: fixed.clone()
                })
            );
        }
    }

    fn names(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("n{i}")).collect()
    }

    /// The set of nodes `node` hears (itself included).
    fn hears(g: &Grudge, nodes: &[String], node: &str) -> BTreeSet<String> {
        let cut = g.get(node).cloned().unwrap_or_default();
        nodes
            .iter()
            .filter(|x| !cut.contains(*x))
            .cloned()
            .collect()
    }

    fn check_wellformed(g: &Grudge, nodes: &[String]) {
        for (k, v) in g {
            assert!(nodes.contains(k), "{k} not a node");
            assert!(!v.contains(k), "{k} cut from itself");
            assert!(!v.is_empty());
            for x in v {
                assert!(nodes.contains(x));
            }
        }
    }

    #[test]
    fn isolated_cuts_exactly_one_node_from_all_others() {
        for n in [3, 5] {
            let nodes = names(n);
            for seed in 0..20 {
                let g = plan_grudge(
                    &PartitionShape::Isolated,
                    &nodes,
                    &mut ChaCha8Rng::seed_from_u64(seed),
                );
                check_wellformed(&g, &nodes);
                let alone: Vec<&String> = nodes
                    .iter()
                    .filter(|x| hears(&g, &nodes, x).len() == 1)
                    .collect();
                assert_eq!(alone.len(), 1, "{g:?}");
                for x in &nodes {
                    if x != alone[0] {
                        assert_eq!(hears(&g, &nodes, x).len(), n - 1, "{g:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn halves_are_two_symmetric_components_minority_and_majority() {
        for n in [3, 5] {
            let nodes = names(n);
            for seed in 0..20 {
                let g = plan_grudge(
                    &PartitionShape::Halves,
                    &nodes,
                    &mut ChaCha8Rng::seed_from_u64(seed),
                );
                check_wellformed(&g, &nodes);
                let comps: BTreeSet<BTreeSet<String>> =
                    nodes.iter().map(|x| hears(&g, &nodes, x)).collect();
                assert_eq!(comps.len(), 2, "{g:?}");
                let sizes: BTreeSet<usize> = comps.iter().map(|c| c.len()).collect();
                assert_eq!(sizes, [n / 2, n - n / 2].into_iter().collect());
                // Symmetric: a cannot hear b iff b cannot hear a.
                for (a, cut) in &g {
                    for b in cut {
                        assert!(g[b].contains(a));
                    }
                }
            }
        }
    }

    #[test]
    fn majorities_ring_every_node_hears_a_distinct_majority() {
        for n in [3, 5] {
            let nodes = names(n);
            for seed in 0..20 {
                let g = plan_grudge(
                    &PartitionShape::MajoritiesRing,
                    &nodes,
                    &mut ChaCha8Rng::seed_from_u64(seed),
                );
                check_wellformed(&g, &nodes);
                let seen: Vec<BTreeSet<String>> =
                    nodes.iter().map(|x| hears(&g, &nodes, x)).collect();
                for s in &seen {
                    assert_eq!(s.len(), n / 2 + 1, "{g:?}");
                }
                let distinct: BTreeSet<&BTreeSet<String>> = seen.iter().collect();
                assert_eq!(distinct.len(), n, "{g:?}");
            }
        }
    }

    #[test]
    fn bridge_has_one_node_hearing_everyone_between_two_deaf_halves() {
        for n in [3, 5] {
            let nodes = names(n);
            for seed in 0..20 {
                let g = plan_grudge(
                    &PartitionShape::Bridge,
                    &nodes,
                    &mut ChaCha8Rng::seed_from_u64(seed),
                );
                check_wellformed(&g, &nodes);
                let bridges: Vec<&String> = nodes.iter().filter(|x| !g.contains_key(*x)).collect();
                assert_eq!(bridges.len(), 1, "{g:?}");
                let b = bridges[0];
                for (x, cut) in &g {
                    assert!(!cut.contains(b));
                    // x hears its own half plus the bridge: a majority.
                    assert_eq!(hears(&g, &nodes, x).len() + cut.len(), n);
                    for y in cut {
                        assert!(g[y].contains(x), "asymmetric {g:?}");
                    }
                }
                let halves: BTreeSet<BTreeSet<String>> =
                    g.keys().map(|x| hears(&g, &nodes, x)).collect();
                assert_eq!(halves.len(), 2, "{g:?}");
            }
        }
    }

    #[test]
    fn same_seed_same_plan_and_different_seeds_differ() {
        let nodes = names(5);
        let plan = |seed| {
            let mut p = Planner::new(
                seed,
                vec![FaultKind::Partition, FaultKind::Pause, FaultKind::Kill],
                PartitionShape::Random,
                vec![],
                nodes.clone(),
            );
            (0..30).map(|_| p.next_fault().unwrap()).collect::<Vec<_>>()
        };
        assert_eq!(plan(7), plan(7));
        assert_ne!(plan(7), plan(8));
        // Rotation: partition, pause, kill, partition, ...
        let p = plan(7);
        assert!(matches!(p[0], PlannedFault::Partition(_)));
        assert!(matches!(p[1], PlannedFault::Pause(_)));
        assert!(matches!(p[2], PlannedFault::Kill(_)));
        assert!(matches!(p[3], PlannedFault::Partition(_)));
        // The default targets (one, minority) never take a majority.
        for f in &p {
            match f {
                PlannedFault::Pause(Victims::Nodes(v)) | PlannedFault::Kill(Victims::Nodes(v)) => {
                    assert!(!v.is_empty() && v.len() <= 2, "{v:?}")
                }
                PlannedFault::Pause(v) | PlannedFault::Kill(v) => panic!("{v:?}"),
                _ => {}
            }
        }
    }

    #[test]
    fn targets_name_one_a_minority_a_majority_all_or_the_leader() {
        let nodes = names(5);
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let size = |t, rng: &mut ChaCha8Rng| match pick_victims(t, &nodes, rng) {
            Victims::Nodes(v) => {
                let distinct: BTreeSet<&String> = v.iter().collect();
                assert_eq!(distinct.len(), v.len(), "{v:?}");
                assert!(v.iter().all(|x| nodes.contains(x)));
                v.len()
            }
            Victims::Leader { fallback } => {
                assert!(nodes.contains(&fallback));
                0
            }
            Victims::Followers { fallback_leader } => {
                assert!(nodes.contains(&fallback_leader));
                4
            }
        };
        for _ in 0..20 {
            assert_eq!(size(Target::One, &mut rng), 1);
            assert_eq!(size(Target::Minority, &mut rng), 2);
            assert_eq!(size(Target::Majority, &mut rng), 3);
            assert_eq!(size(Target::All, &mut rng), 5);
            assert_eq!(size(Target::Leader, &mut rng), 0);
            assert_eq!(size(Target::Followers, &mut rng), 4);
        }
        // Majorities differ from draw to draw.
        let majorities: BTreeSet<Victims> = (0..20)
            .map(|_| pick_victims(Target::Majority, &nodes, &mut rng))
            .collect();
        assert!(majorities.len() > 3, "{majorities:?}");
        // Three nodes: a minority is one node, a majority two.
        let three = names(3);
        for (t, want) in [
            (Target::Minority, 1),
            (Target::Majority, 2),
            (Target::All, 3),
        ] {
            match pick_victims(t, &three, &mut rng) {
                Victims::Nodes(v) => assert_eq!(v.len(), want, "{t:?} {v:?}"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn pauses_and_kills_can_have_their_own_targets() {
        let nodes = names(3);
        let mut p = Planner::new(
            2,
            vec![FaultKind::Pause, FaultKind::Kill],
            PartitionShape::Random,
            vec![Target::One],
            nodes,
        )
        .with_targets_for(FaultKind::Pause, vec![Target::Leader])
        .with_targets_for(FaultKind::Kill, vec![]);
        for _ in 0..10 {
            assert!(matches!(
                p.next_fault(),
                Some(PlannedFault::Pause(Victims::Leader { .. }))
            ));
            match p.next_fault() {
                Some(PlannedFault::Kill(Victims::Nodes(v))) => assert_eq!(v.len(), 1),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn a_compound_step_has_one_fault_of_every_kind_in_order() {
        let mut p = Planner::new(
            5,
            vec![FaultKind::Pause, FaultKind::Kill],
            PartitionShape::Random,
            vec![Target::Followers],
            names(3),
        );
        for _ in 0..5 {
            let step = p.next_faults_of_every_kind();
            assert_eq!(step.len(), 2, "{step:?}");
            assert!(matches!(
                step[0],
                PlannedFault::Pause(Victims::Followers { .. })
            ));
            assert!(matches!(
                step[1],
                PlannedFault::Kill(Victims::Followers { .. })
            ));
        }
    }

    #[test]
    fn a_planner_draws_only_configured_targets() {
        let nodes = names(5);
        let mut p = Planner::new(
            9,
            vec![FaultKind::Kill],
            PartitionShape::Random,
            vec![Target::Majority, Target::Leader],
            nodes.clone(),
        );
        let (mut majorities, mut leaders) = (0, 0);
        for _ in 0..40 {
            match p.next_fault().unwrap() {
                PlannedFault::Kill(Victims::Nodes(v)) => {
                    assert_eq!(v.len(), 3);
                    majorities += 1;
                }
                PlannedFault::Kill(Victims::Leader { .. }) => leaders += 1,
                other => panic!("{other:?}"),
            }
        }
        assert!(majorities > 5 && leaders > 5, "{majorities} {leaders}");
    }

    #[test]
    fn leader_shape_defers_to_the_executor_with_a_seeded_fallback() {
        let nodes = names(5);
        let mut a = Planner::new(
            3,
            vec![FaultKind::Partition],
            PartitionShape::Leader,
            vec![],
            nodes.clone(),
        );
        let mut b = Planner::new(
            3,
            vec![FaultKind::Partition],
            PartitionShape::Leader,
            vec![],
            nodes.clone(),
        );
        for _ in 0..10 {
            let fa = a.next_fault().unwrap();
            assert_eq!(Some(fa.clone()), b.next_fault());
            match fa {
                PlannedFault::IsolateLeader { fallback } => assert!(nodes.contains(&fallback)),
                other => panic!("{other:?}"),
            }
        }
        let g = isolate("n2", &nodes);
        assert_eq!(g["n2"].len(), 4);
        assert_eq!(g.len(), 5);
        assert!(g["n1"].contains("n2") && g["n1"].len() == 1);
    }

    #[test]
    fn no_faults_plans_nothing_and_one_node_gives_empty_grudge() {
        let mut p = Planner::new(1, vec![], PartitionShape::Halves, vec![], names(3));
        assert_eq!(p.next_fault(), None);
        let g = plan_grudge(
            &PartitionShape::Halves,
            &names(1),
            &mut ChaCha8Rng::seed_from_u64(1),
        );
        assert!(g.is_empty());
    }

    #[test]
    fn one_way_shapes_cut_one_direction_only() {
        let nodes = names(5);
        for seed in 0..20 {
            let rng = &mut ChaCha8Rng::seed_from_u64(seed);
            let deaf = plan_grudge(&PartitionShape::Deaf, &nodes, rng);
            check_wellformed(&deaf, &nodes);
            assert_eq!(deaf.len(), 1, "{deaf:?}");
            let (who, cut) = deaf.iter().next().unwrap();
            assert_eq!(cut.len(), 4);
            assert!(!cut.contains(who));
            let mute = plan_grudge(&PartitionShape::Mute, &nodes, rng);
            check_wellformed(&mute, &nodes);
            assert_eq!(mute.len(), 4, "{mute:?}");
            let silenced: BTreeSet<&String> = mute.values().flatten().collect();
            assert_eq!(silenced.len(), 1);
            assert!(!mute.contains_key(*silenced.iter().next().unwrap()));
        }
        let drawn: BTreeSet<usize> = (0..20)
            .map(|seed| {
                plan_grudge(
                    &PartitionShape::OneWayIsolated,
                    &nodes,
                    &mut ChaCha8Rng::seed_from_u64(seed),
                )
                .len()
            })
            .collect();
        assert_eq!(
            drawn,
            BTreeSet::from([1, 4]),
            "both deaf and mute are drawn"
        );
    }

    #[test]
    fn clock_faults_draw_kinds_amounts_and_targets_from_the_options() {
        let nodes = names(5);
        let opts = ClockOptions {
            faults: vec![ClockFault::Skew, ClockFault::Rate, ClockFault::Strobe],
            skew: std::time::Duration::from_secs(4),
            rates: vec![0.5, 3.0],
            strobe_period: std::time::Duration::from_millis(50),
            targets: vec![Target::Leader, Target::Minority],
        };
        let plan = |seed| {
            let mut p = Planner::new(
                seed,
                vec![FaultKind::Clock],
                PartitionShape::default(),
                vec![Target::All],
                nodes.clone(),
            )
            .with_clock(opts.clone());
            (0..60).map(|_| p.next_fault().unwrap()).collect::<Vec<_>>()
        };
        let faults = plan(3);
        assert_eq!(faults, plan(3), "seeded");
        assert_ne!(faults, plan(4));
        let mut kinds = BTreeSet::new();
        let (mut leaders, mut minorities) = (0, 0);
        for f in &faults {
            let PlannedFault::Clock {
                fault,
                victims,
                amounts,
                period,
            } = f
            else {
                panic!("{f:?}")
            };
            kinds.insert(*fault);
            assert_eq!(amounts.len(), 5);
            assert_eq!(*period, opts.strobe_period);
            match victims {
                Victims::Leader { .. } => leaders += 1,
                Victims::Nodes(v) => {
                    assert_eq!(v.len(), 2, "a minority of 5, never --targets all");
                    minorities += 1;
                }
                other => panic!("{other:?}"),
            }
            for a in amounts {
                match fault {
                    ClockFault::Rate => assert!(*a == 0.5 || *a == 3.0, "{a}"),
                    _ => assert!((0.4..=4.0).contains(&a.abs()), "{a}"),
                }
            }
        }
        assert_eq!(kinds.len(), 3, "every configured kind drawn");
        assert!(leaders > 5 && minorities > 5, "{leaders} {minorities}");
        // Skews go both ways.
        let skews: Vec<f64> = faults
            .iter()
            .filter_map(|f| match f {
                PlannedFault::Clock {
                    fault: ClockFault::Skew,
                    amounts,
                    ..
                } => Some(amounts[0]),
                _ => None,
            })
            .collect();
        assert!(skews.iter().any(|a| *a > 0.0) && skews.iter().any(|a| *a < 0.0));
    }

    #[test]
    fn loss_and_delay_faults_draw_amounts_and_links_from_the_options() {
        let nodes = names(3);
        let opts = LinkFaultOptions {
            losses: vec![0.1, 0.3],
            delay: std::time::Duration::from_millis(50),
            jitter: std::time::Duration::from_millis(20),
            targets: vec![LinkTarget::All, LinkTarget::One],
            ..Default::default()
        };
        let plan = |seed| {
            let mut p = Planner::new(
                seed,
                vec![FaultKind::Loss, FaultKind::Delay],
                PartitionShape::default(),
                vec![],
                nodes.clone(),
            )
            .with_links(opts.clone());
            (0..40).map(|_| p.next_fault().unwrap()).collect::<Vec<_>>()
        };
        let faults = plan(7);
        assert_eq!(faults, plan(7), "seeded");
        let (mut losses, mut sizes) = (Vec::new(), BTreeSet::new());
        for (i, f) in faults.iter().enumerate() {
            let PlannedFault::Links { kind, faults } = f else {
                panic!("{f:?}")
            };
            assert_eq!(*kind, [FaultKind::Loss, FaultKind::Delay][i % 2]);
            sizes.insert(faults.len());
            for ((a, b), c) in faults {
                assert_ne!(a, b);
                if *kind == FaultKind::Loss {
                    losses.push(c.loss);
                    assert!(c.delay.is_zero());
                } else {
                    assert_eq!((c.loss, c.delay, c.jitter), (0.0, opts.delay, opts.jitter));
                }
            }
        }
        // All 6 directed links, or the 4 of one node.
        assert_eq!(sizes, BTreeSet::from([4, 6]));
        assert!(losses.contains(&0.1) && losses.contains(&0.3));
        assert!(losses.iter().all(|l| *l == 0.1 || *l == 0.3));
    }

    #[test]
    fn stalls_are_seeded_and_either_short_or_longer_than_a_ttl() {
        let plan = |seed| {
            let mut p = Planner::new(
                seed,
                vec![FaultKind::Stall],
                PartitionShape::default(),
                vec![],
                names(3),
            );
            (0..200)
                .map(|_| p.next_fault().unwrap())
                .collect::<Vec<_>>()
        };
        let faults = plan(3);
        assert_eq!(faults, plan(3));
        let (mut short, mut long, mut picks) = (0, 0, BTreeSet::new());
        for f in &faults {
            let PlannedFault::Stall { pick, ttls } = f else {
                panic!("{f:?}")
            };
            picks.insert(pick % 4);
            if (0.6..0.95).contains(ttls) {
                short += 1;
            } else {
                assert!((1.3..2.5).contains(ttls), "{ttls}");
                long += 1;
            }
        }
        assert!(short > 50 && long > 50, "{short} short, {long} long");
        assert_eq!(picks.len(), 4, "every client gets picked");
    }
}
