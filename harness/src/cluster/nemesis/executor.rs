//! The nemesis executor: applies the [`Planner`](super::Planner)'s faults to a running cluster
//! on a schedule (fault on for one interval, off for one), reports every applied change, and
//! heals everything before it returns.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::{NemesisConfig, NemesisEvent, PlannedFault, Planner};
use crate::cluster::{Cluster, ClusterError};

/// What the nemesis did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct NemesisSummary {
    /// Number of events reported (start and stop each count).
    pub events: usize,
    /// Faults applied, per kind (`partition`, `pause`, `kill`).
    pub faults: BTreeMap<String, usize>,
}

/// Runs the nemesis until `stop` becomes `true` (or its sender is dropped): waits one interval,
/// applies the next planned fault, waits one interval, undoes it, and so on. Every applied
/// change is reported through `record` once it is in effect. Whatever is active when `stop`
/// fires (or when a fault fails to apply) is undone before returning.
pub async fn run(
    cluster: &Cluster,
    cfg: NemesisConfig,
    mut record: impl FnMut(NemesisEvent) + Send,
    mut stop: watch::Receiver<bool>,
) -> Result<NemesisSummary, ClusterError> {
    let mut planner = Planner::new(
        cfg.seed,
        cfg.faults.clone(),
        cfg.shape.clone(),
        cluster.node_names(),
    );
    let mut summary = NemesisSummary::default();
    loop {
        if wait_or_stop(&mut stop, cfg.interval).await {
            break;
        }
        let Some(fault) = planner.next_fault() else {
            // No faults configured: nothing to do until told to stop.
            let _ = stop.wait_for(|s| *s).await;
            break;
        };
        tracing::info!("nemesis: applying {fault:?}");
        let applied = apply(cluster, &fault, &mut record, &mut summary).await;
        let stopped = match &applied {
            Ok(()) => wait_or_stop(&mut stop, cfg.interval).await,
            Err(_) => true,
        };
        let undone = undo(cluster, &fault, &mut record, &mut summary).await;
        applied?;
        undone?;
        if stopped {
            break;
        }
    }
    Ok(summary)
}

/// Sleeps for `d`; returns true if `stop` fired (or its sender is gone) first.
async fn wait_or_stop(stop: &mut watch::Receiver<bool>, d: Duration) -> bool {
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

fn emit(
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

async fn apply(
    cluster: &Cluster,
    fault: &PlannedFault,
    record: &mut (impl FnMut(NemesisEvent) + Send),
    summary: &mut NemesisSummary,
) -> Result<(), ClusterError> {
    match fault {
        PlannedFault::Partition(grudge) => {
            cluster.partition(grudge).await?;
            *summary.faults.entry("partition".into()).or_default() += 1;
            let value = serde_json::to_value(grudge).unwrap_or(serde_json::Value::Null);
            emit(record, summary, "start-partition", value);
        }
        PlannedFault::IsolateLeader { fallback } => {
            let target = match cluster.leader().await {
                Some(l) => l,
                None => {
                    tracing::info!("nemesis: no leader known, isolating {fallback}");
                    fallback.clone()
                }
            };
            let grudge = super::isolate(&target, &cluster.node_names());
            cluster.partition(&grudge).await?;
            *summary.faults.entry("partition".into()).or_default() += 1;
            let value = serde_json::to_value(&grudge).unwrap_or(serde_json::Value::Null);
            emit(record, summary, "start-partition", value);
        }
        PlannedFault::Pause(nodes) => {
            for n in nodes {
                cluster.pause(n)?;
            }
            *summary.faults.entry("pause".into()).or_default() += 1;
            emit(record, summary, "pause", names_value(nodes));
        }
        PlannedFault::Kill(nodes) => {
            for n in nodes {
                cluster.kill(n)?;
            }
            *summary.faults.entry("kill".into()).or_default() += 1;
            emit(record, summary, "kill", names_value(nodes));
        }
    }
    Ok(())
}

async fn undo(
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
        PlannedFault::Pause(nodes) => {
            let mut first_err = None;
            for n in nodes {
                if let Err(e) = cluster.resume(n) {
                    first_err.get_or_insert(e);
                }
            }
            emit(record, summary, "resume", names_value(nodes));
            if let Some(e) = first_err {
                return Err(e);
            }
        }
        PlannedFault::Kill(nodes) => {
            let mut first_err = None;
            for n in nodes {
                if let Err(e) = cluster.restart(n).await {
                    first_err.get_or_insert(e);
                }
            }
            // Recorded once the processes are back (and answering, unless an error says not).
            emit(record, summary, "restart", names_value(nodes));
            if let Some(e) = first_err {
                return Err(e);
            }
        }
    }
    Ok(())
}
