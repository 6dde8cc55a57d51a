//! The nemesis executor: applies the [`Planner`](super::Planner)'s faults to a running cluster
//! on a schedule (fault on for one interval, off for one), reports every applied change, and
//! heals everything before it returns.

use std::collections::BTreeMap;

use tokio::sync::watch;

use super::{NemesisConfig, NemesisEvent};
use crate::cluster::{Cluster, ClusterError};

/// What the nemesis did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct NemesisSummary {
    /// Number of events reported (start and stop each count).
    pub events: usize,
    /// Faults applied, per kind (`partition`, `pause`, `kill`).
    pub faults: BTreeMap<String, usize>,
}

/// Runs the nemesis until `stop` becomes `true` (or its sender is dropped).
pub async fn run(
    cluster: &Cluster,
    cfg: NemesisConfig,
    record: impl FnMut(NemesisEvent) + Send,
    stop: watch::Receiver<bool>,
) -> Result<NemesisSummary, ClusterError> {
    let _ = (cluster, cfg, record, stop);
    Err(ClusterError::Unsupported("nemesis not built yet".into()))
}
