//! The nemesis executor: applies the [`Planner`](super::planner::Planner)'s faults to a running cluster
//! on a schedule (fault off for a while, on for a while, each wait drawn uniformly from zero
//! to twice `--nemesis-interval`, Jepsen's stagger, from a seeded stream), reports every
//! applied change, and heals everything before it returns.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::sync::watch;

use super::kinds::{ClockFault, FaultKind, NemesisConfig, NemesisEvent, Trigger};
use super::planner::{isolate, PlannedFault, Planner, Victims};
use crate::cluster::error::ClusterError;
use crate::cluster::Cluster;

/// What the nemesis did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct NemesisSummary {
    /// Number of events reported (start and stop each count).
    pub events: usize,
    /// Faults applied, per kind (`partition`, `pause`, `kill`).
    pub faults: BTreeMap<String, usize>,
}

/// Runs the nemesis until `stop` becomes `true` (or its sender is dropped): a script's steps
/// when the config has one ([`super::scripted`]), else the planned faults. With
/// `overlap` and several fault kinds, each kind runs its own [`run_schedule`] at the same
/// time (seeded apart), so a partition and a kill can be on together; otherwise one schedule
/// rotates through the kinds. Every schedule undoes what it has on before returning.
pub async fn run(
    cluster: &Cluster,
    cfg: NemesisConfig,
    record: impl FnMut(NemesisEvent) + Send,
    stop: watch::Receiver<bool>,
) -> Result<NemesisSummary, ClusterError> {
    if let Some(script) = &cfg.script {
        return super::scripted::run(cluster, script, record, stop).await;
    }
    if !cfg.overlap || cfg.faults.len() < 2 {
        return run_schedule(cluster, cfg, record, stop).await;
    }
    let record = std::sync::Mutex::new(record);
    let schedules = cfg.faults.iter().enumerate().map(|(i, kind)| {
        let sub = NemesisConfig {
            faults: vec![*kind],
            seed: cfg
                .seed
                .wrapping_add((i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            overlap: false,
            ..cfg.clone()
        };
        let record = &record;
        let forward = move |e: NemesisEvent| {
            let mut r = record.lock().unwrap_or_else(|p| p.into_inner());
            (*r)(e)
        };
        run_schedule(cluster, sub, forward, stop.clone())
    });
    let mut total = NemesisSummary::default();
    let mut first_err = None;
    for result in futures_util::future::join_all(schedules).await {
        match result {
            Ok(s) => {
                total.events += s.events;
                for (k, n) in s.faults {
                    *total.faults.entry(k).or_default() += n;
                }
            }
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(total),
    }
}

/// One schedule: waits (a staggered interval, or until a new leader), applies the next
/// planned fault, waits a staggered interval, undoes it, and so on. Every applied
/// change is reported through `record` once it is in effect. Whatever is active when `stop`
/// fires (or when a fault fails to apply) is undone before returning.
async fn run_schedule(
    cluster: &Cluster,
    cfg: NemesisConfig,
    mut record: impl FnMut(NemesisEvent) + Send,
    mut stop: watch::Receiver<bool>,
) -> Result<NemesisSummary, ClusterError> {
    let mut planner = Planner::new(
        cfg.seed,
        cfg.faults.clone(),
        cfg.shape.clone(),
        cfg.targets.clone(),
        cluster.node_names(),
    )
    .with_targets_for(FaultKind::Pause, cfg.pause_targets.clone())
    .with_targets_for(FaultKind::Kill, cfg.kill_targets.clone())
    .with_links(cfg.links.clone())
    .with_clock(cfg.clock.clone())
    .with_byzantine(cfg.byzantine.nodes, byzantine_modes(cluster, &cfg))
    .with_fixed_byzantine(cfg.byzantine.fixed.clone());
    let mut stagger = Stagger::new(cfg.seed, cfg.interval);
    let mut summary = NemesisSummary::default();
    let mut last_leader = match cfg.trigger {
        Trigger::LeaderChange => cluster.leader_and_term().await,
        Trigger::Timer => None,
    };
    loop {
        // The timer waits a staggered spell; the leader-change trigger waits for the next
        // new leader (so with faults that cause elections, it fires at every one).
        let stopped = match cfg.trigger {
            Trigger::Timer => wait_or_stop(&mut stop, stagger.next_wait()).await,
            Trigger::LeaderChange => {
                wait_for_new_leader(cluster, &mut last_leader, cfg.interval * 4, &mut stop).await
            }
        };
        if stopped {
            break;
        }
        let planned = if cfg.together {
            planner.next_faults_of_every_kind()
        } else {
            planner.next_fault().into_iter().collect()
        };
        if planned.is_empty() {
            // No faults configured: nothing to do until told to stop.
            let _ = stop.wait_for(|s| *s).await;
            break;
        }
        // The leader the trigger just saw, else whoever leads now: asked once, before any
        // part of a compound fault hides it (a paused node does not answer).
        let known = match cfg.trigger {
            Trigger::LeaderChange => last_leader.as_ref().map(|(n, _)| n.clone()),
            Trigger::Timer => None,
        };
        let faults = resolve_leader(cluster, planned, known).await;
        let mut attempted = Vec::new();
        let mut apply_err = None;
        for fault in &faults {
            tracing::info!("nemesis: applying {fault:?}");
            attempted.push(fault);
            if let Err(e) = apply(cluster, fault, &mut record, &mut summary).await {
                apply_err = Some(e);
                break;
            }
        }
        // Undone in reverse order, each after its own staggered wait (all at once when
        // stopping or after an error).
        let mut stopped = apply_err.is_some();
        let mut undo_err = None;
        for fault in attempted.into_iter().rev() {
            if !stopped {
                stopped = wait_or_stop(&mut stop, stagger.next_wait()).await;
            }
            if let Err(e) = undo(cluster, fault, &mut record, &mut summary).await {
                undo_err.get_or_insert(e);
            }
        }
        if let Some(e) = apply_err.or(undo_err) {
            return Err(e);
        }
        if stopped {
            break;
        }
    }
    Ok(summary)
}

/// Jepsen's stagger: waits drawn uniformly from `[0, 2 × interval)`, so faults start and end
/// at every phase of what the system is doing (an election, a snapshot) rather than on a
/// fixed beat; the mean stays `interval`. Seeded, so the same seed gives the same waits.
#[derive(Debug, Clone)]
pub struct Stagger {
    rng: ChaCha8Rng,
    interval: Duration,
}

impl Stagger {
    pub fn new(seed: u64, interval: Duration) -> Self {
        // Its own stream: the fault plan of a seed does not depend on how many waits were drawn.
        Stagger {
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0x5354_4147_4745_5221),
            interval,
        }
    }

    pub fn next_wait(&mut self) -> Duration {
        self.interval.mul_f64(self.rng.gen_range(0.0..2.0))
    }
}

/// How often a leader-change trigger polls the nodes' status.
const LEADER_POLL: Duration = Duration::from_millis(2);

/// Whether `now` (leader, term) is a new leadership after `last`: another node, or a new
/// term. (Counting only higher terms, so that a second leader in the same term would be left
/// alone, made the trigger fire long after elections in practice: they mostly happen while
/// a fault is on, and the next wait then only saw the settled leader.)
fn is_new_leadership(last: Option<&(String, u64)>, now: &(String, u64)) -> bool {
    last != Some(now)
}

/// Polls until a new leadership (see [`is_new_leadership`]) is seen, or `at_most` has
/// passed; updates `last`. Returns true if `stop` fired first.
async fn wait_for_new_leader(
    cluster: &Cluster,
    last: &mut Option<(String, u64)>,
    at_most: Duration,
    stop: &mut watch::Receiver<bool>,
) -> bool {
    let seen = poll_leader(cluster, at_most, stop, |now| {
        is_new_leadership(last.as_ref(), now)
    })
    .await;
    match seen {
        LeaderPoll::Seen(now) => {
            tracing::info!("nemesis: new leader {} in term {}", now.0, now.1);
            *last = Some(now);
            false
        }
        LeaderPoll::TimedOut => false,
        LeaderPoll::Stopped => true,
    }
}

/// What [`poll_leader`] ended with.
pub(super) enum LeaderPoll {
    /// A (leader, term) the caller wanted.
    Seen((String, u64)),
    TimedOut,
    Stopped,
}

/// Polls the nodes' status every [`LEADER_POLL`] until a (leader, term) that `wanted`
/// accepts shows, `at_most` passes, or `stop` fires.
pub(super) async fn poll_leader(
    cluster: &Cluster,
    at_most: Duration,
    stop: &mut watch::Receiver<bool>,
    wanted: impl Fn(&(String, u64)) -> bool,
) -> LeaderPoll {
    let deadline = Instant::now() + at_most;
    loop {
        if *stop.borrow() {
            return LeaderPoll::Stopped;
        }
        if let Some(now) = cluster.leader_and_term().await {
            if wanted(&now) {
                return LeaderPoll::Seen(now);
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return LeaderPoll::TimedOut;
        }
        if wait_or_stop(stop, LEADER_POLL.min(left)).await {
            return LeaderPoll::Stopped;
        }
    }
}

/// Sleeps for `d`; returns true if `stop` fired (or its sender is gone) first.
pub(super) async fn wait_or_stop(stop: &mut watch::Receiver<bool>, d: Duration) -> bool {
    if *stop.borrow() {
        return true;
    }
    tokio::select! {
        _ = tokio::time::sleep(d) => false,
        _ = stop.wait_for(|s| *s) => true,
    }
}

fn names_value(names: &[String]) -> serde_json::Value {
    serde_json::Value::Array(
        names
            .iter()
            .cloned()
            .map(serde_json::Value::String)
            .collect(),
    )
}

pub(super) fn emit(
    record: &mut (impl FnMut(NemesisEvent) + Send),
    summary: &mut NemesisSummary,
    f: &str,
    value: serde_json::Value,
) {
    summary.events += 1;
    record(NemesisEvent {
        f: f.to_string(),
        value,
        at: Instant::now(),
    });
}

/// Turns "the leader" and "the followers" into node names: `known` (the leader a trigger just
/// saw), else whoever leads now (asked once for the whole step), else each fault's planned
/// fallback. Every other fault is returned as planned.
async fn resolve_leader(
    cluster: &Cluster,
    faults: Vec<PlannedFault>,
    known: Option<String>,
) -> Vec<PlannedFault> {
    let needs_leader = faults.iter().any(|f| {
        matches!(
            f,
            PlannedFault::IsolateLeader { .. }
                | PlannedFault::Pause(Victims::Leader { .. } | Victims::Followers { .. })
                | PlannedFault::Kill(Victims::Leader { .. } | Victims::Followers { .. })
                | PlannedFault::Clock {
                    victims: Victims::Leader { .. } | Victims::Followers { .. },
                    ..
                }
        )
    });
    let leader = match known {
        Some(l) => Some(l),
        None if needs_leader => cluster.leader().await,
        None => None,
    };
    let names = cluster.node_names();
    let pick = |fallback: &str| match &leader {
        Some(l) => l.clone(),
        None => {
            tracing::info!("nemesis: no leader known, taking {fallback} as the leader");
            fallback.to_string()
        }
    };
    let victims = |v: Victims| match v {
        Victims::Leader { fallback } => Victims::Nodes(vec![pick(&fallback)]),
        Victims::Followers { fallback_leader } => {
            let l = pick(&fallback_leader);
            Victims::Nodes(names.iter().filter(|n| **n != l).cloned().collect())
        }
        other => other,
    };
    faults
        .into_iter()
        .map(|f| match f {
            PlannedFault::IsolateLeader { fallback } => {
                PlannedFault::Partition(isolate(&pick(&fallback), &names))
            }
            PlannedFault::Pause(v) => PlannedFault::Pause(victims(v)),
            PlannedFault::Kill(v) => PlannedFault::Kill(victims(v)),
            PlannedFault::Clock {
                fault,
                victims: v,
                amounts,
                period,
            } => PlannedFault::Clock {
                fault,
                victims: victims(v),
                amounts,
                period,
            },
            other => other,
        })
        .collect()
}

/// The node names of resolved victims ([`resolve_leader`] resolves every step first; an
/// unresolved leader would name its fallback, unresolved followers nobody).
fn victim_names(v: &Victims) -> Vec<String> {
    match v {
        Victims::Nodes(n) => n.clone(),
        Victims::Leader { fallback } => vec![fallback.clone()],
        Victims::Followers { .. } => Vec::new(),
    }
}

/// The modes byzantine faults draw from: `--byzantine-modes`, else every mode of the system.
fn byzantine_modes(cluster: &Cluster, cfg: &NemesisConfig) -> Vec<String> {
    if cfg.byzantine.modes.is_empty() {
        cluster
            .byzantine_modes()
            .iter()
            .map(|m| m.to_string())
            .collect()
    } else {
        cfg.byzantine.modes.clone()
    }
}

pub(super) async fn apply(
    cluster: &Cluster,
    fault: &PlannedFault,
    record: &mut (impl FnMut(NemesisEvent) + Send),
    summary: &mut NemesisSummary,
) -> Result<(), ClusterError> {
    match fault {
        PlannedFault::Partition(grudge) => {
            cluster.partition(grudge).await?;
            *summary
                .faults
                .entry(FaultKind::Partition.to_string())
                .or_default() += 1;
            let value = serde_json::to_value(grudge).unwrap_or(serde_json::Value::Null);
            emit(record, summary, "start-partition", value);
        }
        PlannedFault::IsolateLeader { fallback } => {
            let grudge = isolate(fallback, &cluster.node_names());
            cluster.partition(&grudge).await?;
            *summary
                .faults
                .entry(FaultKind::Partition.to_string())
                .or_default() += 1;
            let value = serde_json::to_value(&grudge).unwrap_or(serde_json::Value::Null);
            emit(record, summary, "start-partition", value);
        }
        PlannedFault::Pause(victims) => {
            let nodes = &victim_names(victims);
            for n in nodes {
                cluster.pause(n)?;
            }
            *summary
                .faults
                .entry(FaultKind::Pause.to_string())
                .or_default() += 1;
            emit(record, summary, "pause", names_value(nodes));
        }
        PlannedFault::Kill(victims) => {
            let nodes = &victim_names(victims);
            for n in nodes {
                cluster.kill(n)?;
            }
            *summary
                .faults
                .entry(FaultKind::Kill.to_string())
                .or_default() += 1;
            emit(record, summary, "kill", names_value(nodes));
        }
        PlannedFault::Stall { pick, ttls } => stall(cluster, *pick, *ttls, record, summary).await,
        PlannedFault::Links { kind, faults } => {
            cluster
                .set_link_fault(kind.as_str(), faults.clone())
                .await?;
            *summary.faults.entry(kind.to_string()).or_default() += 1;
            let value = crate::cluster::links::history_value(faults);
            emit(record, summary, &format!("start-{kind}"), value);
        }
        PlannedFault::Clock {
            fault,
            victims,
            amounts,
            period,
        } => {
            let nodes = victim_names(victims);
            let mut per_node = serde_json::Map::new();
            for (k, n) in nodes.iter().enumerate() {
                let a = amounts.get(k).copied().unwrap_or(0.0);
                match fault {
                    ClockFault::Skew => cluster.clock_bump(n, a)?,
                    ClockFault::Rate => cluster.clock_rate(n, a)?,
                    ClockFault::Strobe => cluster.clock_strobe(n, a, *period)?,
                }
                per_node.insert(n.clone(), serde_json::json!(a));
            }
            *summary
                .faults
                .entry(FaultKind::Clock.to_string())
                .or_default() += 1;
            let mut value = serde_json::json!({"fault": fault.as_str(), "nodes": per_node});
            if *fault == ClockFault::Strobe {
                value["period_ms"] = serde_json::json!(period.as_millis() as u64);
            }
            emit(record, summary, "start-clock", value);
        }
        PlannedFault::Byzantine { liars } => {
            for (n, mode) in liars {
                cluster.set_byzantine(n, Some(mode)).await?;
            }
            let nodes: Vec<&String> = liars.iter().map(|(n, _)| n).collect();
            let modes: serde_json::Map<String, serde_json::Value> = liars
                .iter()
                .map(|(n, m)| (n.clone(), serde_json::Value::from(m.as_str())))
                .collect();
            *summary
                .faults
                .entry(FaultKind::Byzantine.to_string())
                .or_default() += 1;
            let value = serde_json::json!({ "nodes": nodes, "modes": modes });
            emit(record, summary, "start-byzantine", value);
        }
    }
    Ok(())
}

/// Runs `f` on every node, even after one fails; the first error.
fn on_every_node(
    nodes: &[String],
    mut f: impl FnMut(&str) -> Result<(), ClusterError>,
) -> Result<(), ClusterError> {
    let mut first_err = None;
    for n in nodes {
        if let Err(e) = f(n) {
            first_err.get_or_insert(e);
        }
    }
    first_err.map_or(Ok(()), Err)
}

/// How long the stall nemesis waits for the drawn client to reach a stall point (it
/// reaches one on every write it makes while holding a lock).
const STALL_CATCH: Duration = Duration::from_secs(3);

/// The stall fault, whole: freeze the drawn lock client at its next stall point (while it
/// holds a lock), keep it frozen for `ttls` session TTLs (or until the run thaws it), wake
/// it. Both `start-stall` and `stop-stall` are recorded here, when they happen; nothing is
/// recorded if no client froze in time.
async fn stall(
    cluster: &Cluster,
    pick: u64,
    ttls: f64,
    record: &mut (impl FnMut(NemesisEvent) + Send),
    summary: &mut NemesisSummary,
) {
    let Some(stalls) = cluster.stalls() else {
        tracing::warn!("nemesis: stall planned but the run has no lock clients");
        return;
    };
    let Some(frozen) = stalls.freeze_one(pick, STALL_CATCH).await else {
        tracing::info!("nemesis: no lock holder reached a stall point within {STALL_CATCH:?}");
        return;
    };
    let length = workloads::clients::lock::lock_service::DEFAULT_TTL.mul_f64(ttls);
    *summary
        .faults
        .entry(FaultKind::Stall.to_string())
        .or_default() += 1;
    let who = format!("w{}", frozen.worker);
    let value = serde_json::json!({
        "worker": who,
        "lock": frozen.lock,
        "token": frozen.token,
        "planned_ms": length.as_millis() as u64,
        "ttls": (ttls * 100.0).round() / 100.0,
        "text": format!(
            "{who} frozen holding {} (token {}) for {:.1} s ({ttls:.2} TTL)",
            frozen.lock,
            frozen.token,
            length.as_secs_f64()
        ),
    });
    emit(record, summary, "start-stall", value);
    let held = stalls.hold(frozen.worker, length).await;
    let value = serde_json::json!({
        "worker": who,
        "lock": frozen.lock,
        "token": frozen.token,
        "frozen_ms": held.as_millis() as u64,
        "text": format!("{who} woke after {:.1} s, still believing it holds {}", held.as_secs_f64(), frozen.lock),
    });
    emit(record, summary, "stop-stall", value);
}

pub(super) async fn undo(
    cluster: &Cluster,
    fault: &PlannedFault,
    record: &mut (impl FnMut(NemesisEvent) + Send),
    summary: &mut NemesisSummary,
) -> Result<(), ClusterError> {
    match fault {
        PlannedFault::Partition(_) | PlannedFault::IsolateLeader { .. } => {
            cluster.heal().await?;
            emit(record, summary, "stop-partition", serde_json::Value::Null);
        }
        PlannedFault::Pause(victims) => {
            let nodes = &victim_names(victims);
            let resumed = on_every_node(nodes, |n| cluster.resume(n));
            emit(record, summary, "resume", names_value(nodes));
            resumed?;
        }
        PlannedFault::Kill(victims) => {
            let nodes = &victim_names(victims);
            // All started before any is waited for: a node of a killed majority may only
            // answer its probe once the others are back too.
            let restarted = cluster.restart_nodes(nodes).await;
            // Recorded once the processes are back (and answering, unless an error says not).
            emit(record, summary, "restart", names_value(nodes));
            restarted?;
        }
        // A stall ends by itself (see `stall`).
        PlannedFault::Stall { .. } => {}
        PlannedFault::Links { kind, faults } => {
            cluster.clear_link_faults(Some(kind.as_str())).await?;
            let value = crate::cluster::links::history_value(faults);
            emit(record, summary, &format!("stop-{kind}"), value);
        }
        PlannedFault::Clock { victims, .. } => {
            let nodes = &victim_names(victims);
            let reset = on_every_node(nodes, |n| cluster.clock_reset(n));
            emit(record, summary, "stop-clock", names_value(nodes));
            reset?;
        }
        PlannedFault::Byzantine { liars } => {
            let nodes: Vec<String> = liars.iter().map(|(n, _)| n.clone()).collect();
            let mut first_err = None;
            for n in &nodes {
                if let Err(e) = cluster.set_byzantine(n, None).await {
                    first_err.get_or_insert(e);
                }
            }
            emit(record, summary, "stop-byzantine", names_value(&nodes));
            if let Some(e) = first_err {
                return Err(e);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_leadership_is_another_node_or_another_term() {
        let l = |n: &str, t: u64| (n.to_string(), t);
        assert!(is_new_leadership(None, &l("n1", 3)));
        assert!(is_new_leadership(Some(&l("n1", 3)), &l("n1", 4)));
        assert!(is_new_leadership(Some(&l("n1", 3)), &l("n2", 4)));
        assert!(!is_new_leadership(Some(&l("n1", 3)), &l("n1", 3)));
        assert!(is_new_leadership(Some(&l("n1", 3)), &l("n2", 3)));
        assert!(is_new_leadership(Some(&l("n1", 0)), &l("n2", 0)));
        assert!(!is_new_leadership(Some(&l("n1", 0)), &l("n1", 0)));
    }

    #[test]
    fn stagger_spreads_waits_over_zero_to_twice_the_interval_and_is_seeded() {
        let iv = Duration::from_millis(400);
        let draw = |seed| {
            let mut s = Stagger::new(seed, iv);
            (0..2000).map(|_| s.next_wait()).collect::<Vec<_>>()
        };
        let w = draw(5);
        assert_eq!(w, draw(5));
        assert_ne!(w, draw(6));
        assert!(w.iter().all(|d| *d < iv * 2));
        // Every fifth of the range is hit, and the mean is near the interval.
        for k in 0..5u32 {
            let (lo, hi) = (iv * 2 * k / 5, iv * 2 * (k + 1) / 5);
            assert!(
                w.iter().any(|d| *d >= lo && *d < hi),
                "nothing in [{lo:?}, {hi:?})"
            );
        }
        let mean = w.iter().sum::<Duration>() / w.len() as u32;
        assert!(mean > iv * 9 / 10 && mean < iv * 11 / 10, "{mean:?}");
    }
}
