//! Shrinking a non-linearizable partition to a small witness that is still a meaningful
//! violation, within a time budget.
//!
//! The steps, each keeping the candidate non-linearizable:
//! 1. a small violation near where the verdict search got stuck (its horizon, see
//!    `Search::horizon`): the last 4, 8, 16, ... ops invoked before it, repaired (below);
//!    failing that, the shortest non-linearizable prefix of the history (ops still running at
//!    the cut stay open, as if they timed out), galloping from the horizon (every prefix
//!    ending before it is linearizable);
//! 2. a window: the earliest ops are dropped (binary search on how many), each candidate
//!    repaired by adding back the latest dropped ops that the kept ones need (below);
//! 3. ddmin: chunks of any ops (writes as well as reads), then single ops, are removed while
//!    the rest stays non-linearizable and explained;
//! 4. a check of every single-op removal: the witness is labelled [`Label::Minimal`] only
//!    when removing any one op makes the rest linearizable, else [`Label::Reduced`].
//!
//! "Explained" (what makes a sub-history a meaningful violation rather than an artefact of
//! the shrinking): every required op of the candidate is allowed in some model state that
//! the candidate's own ops can reach from the initial state, in any order
//! ([`Explainer`]). So a kept read keeps a write of the value it returned (or the value is
//! the initial one), a kept release keeps an acquire, a kept dequeue an enqueue. The state
//! closure is capped: past [`CLOSURE_CAP`] states a candidate counts as explained.
//!
//! "Faithful" (what keeps a witness's violation the history's own): no dropped op that
//! changes state may have been seen by a kept observation ([`Observability`]). Dropping a
//! write that no kept read could have seen cannot make a violation appear, but dropping one
//! that a kept read or failed cas may have seen can: a failed `cas 3→2` after `write 3` is a
//! violation only without the concurrent `write 1` that made it fail. A kept observation
//! (a required read-only op that depends on the state: a read, a failed cas) may have seen
//! a dropped state change `x` when it is allowed in a state `x` can leave, did not finish
//! before `x` began, and is not separated from `x` by a kept required separator that begins
//! after `x` ends and ends before it begins (a blind write: after it the state is its value,
//! whatever `x` did; or an op that changes the state wherever it is allowed). Only
//! observations are checked, not state-changing ops that depend on the state (a successful
//! cas, an acquire): in a mutex history every op depends on the one before, so checking
//! them would keep whole prefixes; for those, "explained" is the only rule.

use super::search::{Search, Status};
use crate::model::{PartOp, Spec};
use std::time::Instant;

/// Steps per slice when re-checking a candidate sub-history (deadline checked in between).
const SLICE: u64 = 1 << 14;

/// States explored by the closure of [`Explainer`] before it gives up and says "explained".
pub const CLOSURE_CAP: usize = 256;

/// How far a witness was shrunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    /// Removing any single op makes the rest linearizable (checked).
    Minimal,
    /// Not linearizable, but not shown minimal (see [`Shrunk`] for why).
    Reduced,
}

impl Label {
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Minimal => "minimal",
            Label::Reduced => "reduced",
        }
    }
}

/// A shrunk witness.
#[derive(Debug, Clone)]
pub struct Shrunk {
    /// The partition's ops with the prefix cut applied (ops running at the cut are open).
    pub ops: Vec<PartOp>,
    /// The kept ops (indexes into `ops`), in invoke order.
    pub subset: Vec<u32>,
    pub label: Label,
    /// Every step finished within the budget.
    pub finished: bool,
    /// Single ops whose removal leaves a non-linearizable rest that is not explained
    /// (removing them would drop what a kept op observed); empty when minimal.
    pub needed_for_explanation: Vec<u32>,
    /// Sub-histories checked while shrinking.
    pub checks: u64,
}

/// The context of one shrinking: ops, spec, deadline, memory allowance.
struct Shrinker<'a, S: Spec> {
    ops: Vec<PartOp>,
    obs: Observability,
    spec: &'a mut S,
    deadline: Instant,
    mem: usize,
    checks: u64,
    out_of_time: bool,
}

impl<S: Spec> Shrinker<'_, S> {
    /// `Some(true)` if the ops `subset` are not linearizable, `Some(false)` if they are,
    /// `None` if the deadline or memory ran out first.
    fn invalid(&mut self, subset: &[u32]) -> Option<bool> {
        if self.out_of_time {
            return None;
        }
        self.checks += 1;
        let mut s = Search::new(&self.ops, Some(subset), self.spec);
        loop {
            match s.run(self.spec, SLICE, self.mem) {
                Status::NotLinearizable => return Some(true),
                Status::Linearizable => return Some(false),
                Status::OutOfMemory => return None,
                Status::Paused => {
                    if Instant::now() >= self.deadline {
                        self.out_of_time = true;
                        return None;
                    }
                }
            }
        }
    }

    /// Explained (every kept required op allowed in a state the kept ops reach) and
    /// faithful (no dropped state change that a kept op may have observed).
    fn explained(&mut self, subset: &[u32]) -> bool {
        Explainer::new(self.spec, &self.ops, subset)
            .unexplained()
            .is_none()
            && self
                .obs
                .observed_drop(self.spec, &self.ops, subset)
                .is_none()
    }

    /// Step 1, the fast way: the last few ops invoked up to the horizon (where the verdict
    /// search got stuck), repaired, then twice as many, and so on: small candidates are
    /// cheap to refute, and violations are usually local. `None` if even all of them are
    /// linearizable (then [`shortest_prefix`] finds the cut).
    fn near_horizon(&mut self, horizon: u64) -> Option<Vec<u32>> {
        if horizon == u64::MAX {
            return None;
        }
        let h = usize::try_from(horizon).ok()?;
        let upto: Vec<u32> = (0..self.ops.len() as u32)
            .filter(|&i| self.ops[i as usize].invoke <= h)
            .collect();
        let mut width = 4;
        loop {
            let w = width.min(upto.len());
            let split = upto.len() - w;
            if let Some(cand) = self.repaired(&upto[..split], &upto[split..]) {
                if self.invalid(&cand) == Some(true) {
                    return Some(cand);
                }
            }
            if self.out_of_time || w == upto.len() {
                return None;
            }
            width *= 2;
        }
    }

    /// Step 2: drop the earliest ops, adding back the dropped ops the rest needs.
    fn window(&mut self, subset: Vec<u32>) -> Vec<u32> {
        let (mut lo, mut hi) = (0usize, subset.len().saturating_sub(1));
        let mut best = subset.clone();
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            match self.repaired(&subset[..mid], &subset[mid..]) {
                Some(cand) if self.invalid(&cand) == Some(true) => {
                    best = cand;
                    lo = mid;
                }
                _ if self.out_of_time => break,
                _ => hi = mid - 1,
            }
        }
        best
    }

    /// `kept` plus the fewest latest ops of `dropped` that make it explained (greedy), or
    /// `None` when even all of them do not.
    /// Then every op a kept op may have observed is added back too (faithful).
    fn repaired(&mut self, dropped: &[u32], kept: &[u32]) -> Option<Vec<u32>> {
        let mut cand: Vec<u32> = kept.to_vec();
        let mut pool: Vec<u32> = dropped
            .iter()
            .copied()
            .filter(|&o| !self.spec.read_only(o))
            .collect();
        for _ in 0..=self.ops.len() {
            let Some(u) = Explainer::new(self.spec, &self.ops, &cand).unexplained() else {
                match self.obs.observed_drop(self.spec, &self.ops, &cand) {
                    Some(seen) => {
                        pool.retain(|&o| o != seen);
                        cand.push(seen);
                        continue;
                    }
                    None => {
                        cand.sort_unstable();
                        return Some(cand);
                    }
                }
            };
            // The latest dropped op after which `u` is explained.
            let pick = (0..pool.len()).rev().find(|&i| {
                let mut with = cand.clone();
                with.push(pool[i]);
                Explainer::new(self.spec, &self.ops, &with).allows(u)
            })?;
            cand.push(pool.remove(pick));
        }
        None
    }

    /// Step 3: ddmin over any ops, keeping the rest invalid and explained. Also returns
    /// the ops whose single removal the last round found linearizable (that round removed
    /// nothing, so this holds for the returned subset).
    fn ddmin(&mut self, mut subset: Vec<u32>) -> (Vec<u32>, Vec<u32>) {
        let mut chunk = (subset.len() / 2).max(1);
        loop {
            let mut removed = false;
            let mut linearizable_without = Vec::new();
            let mut i = 0;
            while i < subset.len() && !self.out_of_time {
                let end = (i + chunk).min(subset.len());
                let cand: Vec<u32> = subset[..i].iter().chain(&subset[end..]).copied().collect();
                let verdict = if !cand.is_empty() && self.explained(&cand) {
                    self.invalid(&cand)
                } else {
                    None
                };
                if verdict == Some(true) {
                    subset = cand;
                    removed = true;
                } else {
                    if chunk == 1 && verdict == Some(false) {
                        linearizable_without.push(subset[i]);
                    }
                    i += chunk;
                }
            }
            if self.out_of_time || (chunk == 1 && !removed) {
                return (subset, linearizable_without);
            }
            chunk = (chunk / 2).max(1);
        }
    }

    /// Step 4: check every single removal. `Ok(needed)`: no single op can be removed
    /// leaving an explained violation (`needed` lists those whose removal leaves an
    /// unexplained one); `Err(smaller)`: one could, and was.
    fn verify(
        &mut self,
        subset: &[u32],
        known_linearizable: &[u32],
    ) -> Option<Result<Vec<u32>, Vec<u32>>> {
        let mut needed = Vec::new();
        for i in 0..subset.len() {
            if known_linearizable.contains(&subset[i]) {
                continue;
            }
            let cand: Vec<u32> = subset[..i]
                .iter()
                .chain(&subset[i + 1..])
                .copied()
                .collect();
            if cand.is_empty() {
                continue;
            }
            match self.invalid(&cand)? {
                false => {}
                true if self.explained(&cand) => return Some(Err(cand)),
                true => needed.push(subset[i]),
            }
        }
        Some(Ok(needed))
    }
}

/// The ops invoked by history position `t`, with those still running at `t` turned into
/// open (info-like) ops: the prefix of the history up to `t`.
pub fn prefix_ops(part_ops: &[PartOp], t: usize) -> (Vec<PartOp>, Vec<u32>) {
    let mut ops = part_ops.to_vec();
    let mut subset = Vec::new();
    for (i, op) in ops.iter_mut().enumerate() {
        if op.invoke > t {
            continue;
        }
        if op.complete.is_none_or(|c| c > t) {
            op.required = false;
            op.complete = None;
        }
        subset.push(i as u32);
    }
    (ops, subset)
}

/// Step 1: the shortest non-linearizable prefix, trying the cut at `horizon` first.
fn shortest_prefix<S: Spec>(
    part_ops: &[PartOp],
    spec: &mut S,
    horizon: u64,
    deadline: Instant,
    mem: usize,
) -> (Vec<PartOp>, Vec<u32>, bool, u64) {
    let mut cuts: Vec<usize> = part_ops
        .iter()
        .filter(|o| o.required)
        .filter_map(|o| o.complete)
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut checks = 0;
    let mut test = |t: usize| {
        checks += 1;
        let (ops, subset) = prefix_ops(part_ops, t);
        let mut sh = Shrinker {
            ops,
            obs: Observability::default(),
            spec: &mut *spec,
            deadline,
            mem,
            checks: 0,
            out_of_time: false,
        };
        sh.invalid(&subset)
    };
    // Every cut before the horizon is linearizable.
    let (mut lo, mut hi) = (
        cuts.partition_point(|&c| (c as u64) < horizon),
        cuts.len().saturating_sub(1),
    );
    lo = lo.min(hi);
    let mut finished = true;
    // Gallop from the horizon (the first invalid cut is usually a few cuts past it), then
    // bisect.
    let mut step = 1;
    while finished && lo < hi {
        let probe = (lo + step - 1).min(hi);
        match test(cuts[probe]) {
            Some(true) => {
                hi = probe;
                break;
            }
            Some(false) => lo = probe + 1,
            None => finished = false,
        }
        step *= 2;
    }
    while finished && lo < hi {
        let mid = (lo + hi) / 2;
        match test(cuts[mid]) {
            Some(true) => hi = mid,
            Some(false) => lo = mid + 1,
            None => finished = false,
        }
    }
    let (ops, subset) = match cuts.get(hi) {
        Some(&t) if finished => prefix_ops(part_ops, t),
        _ => (part_ops.to_vec(), (0..part_ops.len() as u32).collect()),
    };
    (ops, subset, finished, checks)
}

/// Shrink a partition already found not linearizable (by a search that reached
/// `horizon`), within `deadline`.
pub fn shrink<S: Spec>(
    part_ops: &[PartOp],
    spec: &mut S,
    horizon: u64,
    deadline: Instant,
    mem: usize,
) -> Shrunk {
    let obs = Observability::new(spec, part_ops);
    let mut sh = Shrinker {
        ops: part_ops.to_vec(),
        obs,
        spec,
        deadline,
        mem,
        checks: 0,
        out_of_time: false,
    };
    let mut subset = match sh.near_horizon(horizon) {
        Some(found) => found,
        None => {
            let (ops, subset, finished, checks) =
                shortest_prefix(part_ops, sh.spec, horizon, deadline, mem);
            sh.ops = ops;
            sh.checks += checks;
            sh.out_of_time = !finished;
            if finished {
                sh.window(subset)
            } else {
                subset
            }
        }
    };
    let mut outcome = None;
    while !sh.out_of_time {
        let (smaller, known) = sh.ddmin(subset);
        subset = smaller;
        match sh.verify(&subset, &known) {
            Some(Ok(needed)) => {
                outcome = Some(needed);
                break;
            }
            Some(Err(smaller)) => subset = smaller,
            None => break,
        }
    }
    let finished = outcome.is_some();
    let (label, needed) = match outcome {
        Some(needed) if needed.is_empty() => (Label::Minimal, needed),
        Some(needed) => (Label::Reduced, needed),
        None => (Label::Reduced, Vec::new()),
    };
    Shrunk {
        finished,
        ops: sh.ops,
        subset,
        label,
        needed_for_explanation: needed,
        checks: sh.checks,
    }
}

/// The states a set of ops can reach from the initial state, in any order and any number
/// of times (an over-approximation, capped), and which required ops none of them allows.
pub struct Explainer<'a, S: Spec> {
    spec: &'a mut S,
    ops: &'a [PartOp],
    subset: &'a [u32],
    states: Vec<u32>,
    capped: bool,
}

impl<'a, S: Spec> Explainer<'a, S> {
    pub fn new(spec: &'a mut S, ops: &'a [PartOp], subset: &'a [u32]) -> Self {
        let mut e = Explainer {
            spec,
            ops,
            subset,
            states: Vec::new(),
            capped: false,
        };
        e.close();
        e
    }

    fn close(&mut self) {
        let init = self.spec.init();
        self.states.push(init);
        let mut seen: ahash::AHashSet<u32> = ahash::AHashSet::new();
        seen.insert(init);
        let mut next = 0;
        while next < self.states.len() {
            let st = self.states[next];
            next += 1;
            for &o in self.subset {
                if self.spec.read_only(o) {
                    continue;
                }
                if let Some(ns) = self.spec.step(st, o) {
                    if seen.insert(ns) {
                        self.states.push(ns);
                        if self.states.len() >= CLOSURE_CAP {
                            self.capped = true;
                            return;
                        }
                    }
                }
            }
        }
    }

    /// Whether some reachable state allows `op`.
    pub fn allows(&mut self, op: u32) -> bool {
        self.capped || self.states.iter().any(|&s| self.spec.step(s, op).is_some())
    }

    /// The first required op that no reachable state allows.
    pub fn unexplained(&mut self) -> Option<u32> {
        let subset = self.subset;
        subset
            .iter()
            .copied()
            .find(|&o| self.ops[o as usize].required && !self.allows(o))
    }
}

/// What each op of a partition can leave behind and whether it depends on the state: enough
/// to tell whether a kept op may have observed a dropped one (see the module doc). Built once
/// per shrinking from the closure of every op's states; when that closure is capped, every
/// state change counts as observable by every state-dependent op (keeps more, never less).
#[derive(Debug, Default)]
pub struct Observability {
    /// Per op: the states it can leave, `None` when unknown.
    produced: Vec<Option<Vec<u32>>>,
    /// Per op: allowed in every reachable state with one outcome (a blind write), or
    /// read-only and allowed everywhere: nothing it shows depends on other ops.
    independent: Vec<bool>,
    /// Per op: it changes the state when applied.
    changes: Vec<bool>,
    /// Per op: a blind write, or an op that changes the state wherever it is allowed.
    separates: Vec<bool>,
}

/// A kept op that may observe others: required and state-dependent.
struct Observer {
    op: u32,
    invoke: usize,
    complete: usize,
    /// The latest invocation of a kept separator that completed before this op began.
    sep: Option<usize>,
}

impl Observability {
    pub fn new<S: Spec>(spec: &mut S, ops: &[PartOp]) -> Self {
        let all: Vec<u32> = (0..ops.len() as u32).collect();
        let (states, capped) = {
            let e = Explainer::new(spec, ops, &all);
            (e.states.clone(), e.capped)
        };
        let mut o = Observability::default();
        for op in 0..ops.len() as u32 {
            let changes = !spec.read_only(op);
            let outs: Vec<Option<u32>> = states.iter().map(|&s| spec.step(s, op)).collect();
            let everywhere = !capped && outs.iter().all(Option::is_some);
            let always_changes = !capped
                && changes
                && states
                    .iter()
                    .zip(&outs)
                    .all(|(&s, out)| out.is_none_or(|n| n != s));
            let mut produced: Vec<u32> = outs.into_iter().flatten().collect();
            produced.sort_unstable();
            produced.dedup();
            let independent = everywhere && (!changes || produced.len() == 1);
            o.separates.push(changes && (independent || always_changes));
            o.independent.push(independent);
            o.produced.push((!capped).then_some(produced));
            o.changes.push(changes);
        }
        o
    }

    /// The first op not in `kept` that changes state and that a kept op may have observed.
    pub fn observed_drop<S: Spec>(
        &self,
        spec: &mut S,
        ops: &[PartOp],
        kept: &[u32],
    ) -> Option<u32> {
        if self.changes.len() != ops.len() {
            return None; // not built (a prefix test only asks for validity)
        }
        let mut in_kept = vec![false; ops.len()];
        for &k in kept {
            in_kept[k as usize] = true;
        }
        let observers = self.observers(ops, kept);
        let mut max_complete = Vec::with_capacity(observers.len());
        let mut m = 0;
        for o in &observers {
            m = m.max(o.complete);
            max_complete.push(m);
        }
        for x in 0..ops.len() {
            if in_kept[x] || !self.changes[x] {
                continue;
            }
            let xi = ops[x].invoke;
            // Observers not separated from x form a prefix (their `sep` grows with invoke).
            let hi = match ops[x].complete {
                Some(c) => observers.partition_point(|o| o.sep.is_none_or(|s| s <= c)),
                None => observers.len(),
            };
            let lo = observers.partition_point(|o| o.invoke < xi).min(hi);
            let earlier = (0..lo)
                .rev()
                .take_while(|&i| max_complete[i] > xi)
                .filter(|&i| observers[i].complete > xi);
            for i in (lo..hi).chain(earlier) {
                if self.may_see(spec, x as u32, observers[i].op) {
                    return Some(x as u32);
                }
            }
        }
        None
    }

    fn may_see<S: Spec>(&self, spec: &mut S, x: u32, o: u32) -> bool {
        match &self.produced[x as usize] {
            None => true,
            Some(states) => states.iter().any(|&s| spec.step(s, o).is_some()),
        }
    }

    /// The kept required observations (reads, failed cas: read-only and state-dependent), by
    /// invocation, each with its separator.
    fn observers(&self, ops: &[PartOp], kept: &[u32]) -> Vec<Observer> {
        let mut blinds: Vec<(usize, usize)> = kept
            .iter()
            .filter(|&&k| self.separates[k as usize] && ops[k as usize].required)
            .filter_map(|&k| {
                ops[k as usize]
                    .complete
                    .map(|c| (c, ops[k as usize].invoke))
            })
            .collect();
        blinds.sort_unstable();
        let mut latest = Vec::with_capacity(blinds.len());
        let mut m = 0;
        for &(_, i) in &blinds {
            m = m.max(i);
            latest.push(m);
        }
        let mut out: Vec<Observer> = kept
            .iter()
            .filter(|&&k| {
                let k = k as usize;
                ops[k].required && !self.changes[k] && !self.independent[k]
            })
            .map(|&k| {
                let op = &ops[k as usize];
                let done = blinds.partition_point(|&(c, _)| c < op.invoke);
                Observer {
                    op: k,
                    invoke: op.invoke,
                    complete: op.complete.unwrap_or(usize::MAX),
                    sep: done.checked_sub(1).map(|j| latest[j]),
                }
            })
            .collect();
        out.sort_unstable_by_key(|o| o.invoke);
        out
    }
}
