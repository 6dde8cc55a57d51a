//! Runs a nemesis script ([`super::script`]) against a running cluster: each step in order,
//! roles bound as leaders are seen, every applied change recorded in the history through the
//! executor's own apply/undo (so scripted faults are drawn like random ones). A round whose
//! `wait-leader` times out is abandoned; at the end of each round (with `repeat`) or when the
//! run stops, everything still on is undone: pauses resumed, killed nodes restarted, the
//! partition healed, link faults taken off.

use std::collections::BTreeSet;
use std::time::Duration;

use tokio::sync::watch;

use super::executor::{apply, emit, poll_leader, undo, wait_or_stop, LeaderPoll, NemesisSummary};
use super::kinds::{FaultKind, NemesisEvent};
use super::planner::{PlannedFault, Victims};
use super::script::{HealWhat, Roles, Script, Step};
use crate::cluster::error::ClusterError;
use crate::cluster::links::{history_value, LinkFaults};
use crate::cluster::Cluster;

/// What a round has on, to undo.
#[derive(Debug, Default)]
struct Active {
    partition: bool,
    delay: LinkFaults,
    loss: LinkFaults,
    killed: BTreeSet<String>,
    paused: BTreeSet<String>,
}

/// The faults that take a node's process down until a later step (or the end) brings it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Down {
    Killed,
    Paused,
}

impl Down {
    fn fault(self, nodes: Vec<String>) -> PlannedFault {
        match self {
            Down::Killed => PlannedFault::Kill(Victims::Nodes(nodes)),
            Down::Paused => PlannedFault::Pause(Victims::Nodes(nodes)),
        }
    }
}

impl Active {
    fn down(&mut self, how: Down) -> &mut BTreeSet<String> {
        match how {
            Down::Killed => &mut self.killed,
            Down::Paused => &mut self.paused,
        }
    }
}

/// How a step ended.
#[derive(Debug, PartialEq, Eq)]
enum Went {
    On,
    /// A wait-leader step saw no new leader in time: the round is given up.
    GaveUp,
    Stopped,
}

/// One script run, with what it needs at every step.
struct Runner<'a, R> {
    cluster: &'a Cluster,
    nodes: Vec<String>,
    record: R,
    summary: NemesisSummary,
    stop: watch::Receiver<bool>,
}

/// Runs `script` until `stop` fires (once, or round after round with `repeat`), undoing
/// whatever is on before it returns.
pub async fn run(
    cluster: &Cluster,
    script: &Script,
    record: impl FnMut(NemesisEvent) + Send,
    stop: watch::Receiver<bool>,
) -> Result<NemesisSummary, ClusterError> {
    let nodes = cluster.node_names();
    script
        .check_nodes(&nodes)
        .map_err(|e| ClusterError::Unsupported(e.to_string()))?;
    let mut runner = Runner {
        cluster,
        nodes,
        record,
        summary: NemesisSummary::default(),
        stop,
    };
    let mut round = 0u64;
    loop {
        round += 1;
        let mut active = Active::default();
        let went = runner.round(script, round, &mut active).await;
        let stopped = match &went {
            Ok(Went::Stopped) | Err(_) => true,
            Ok(Went::GaveUp) | Ok(Went::On) => false,
        };
        if !stopped && !script.repeat {
            let _ = runner.stop.wait_for(|s| *s).await;
        }
        let undone = runner.heal(HealWhat::All, &mut active).await;
        went?;
        undone?;
        if stopped || !script.repeat || *runner.stop.borrow() {
            return Ok(runner.summary);
        }
    }
}

impl<R: FnMut(NemesisEvent) + Send> Runner<'_, R> {
    async fn round(
        &mut self,
        script: &Script,
        round: u64,
        active: &mut Active,
    ) -> Result<Went, ClusterError> {
        let mut roles = Roles::default();
        for (i, step) in script.steps.iter().enumerate() {
            if *self.stop.borrow() {
                return Ok(Went::Stopped);
            }
            tracing::info!(
                "nemesis script round {round}, step {}: {}",
                i + 1,
                step.describe()
            );
            let went = self.step(step, &mut roles, active).await?;
            if went != Went::On {
                if went == Went::GaveUp {
                    tracing::info!(
                        "nemesis script round {round}: step {} saw no new leader; round given up",
                        i + 1
                    );
                }
                return Ok(went);
            }
        }
        tracing::info!("nemesis script round {round} done: {:?}", roles.0);
        Ok(Went::On)
    }

    async fn step(
        &mut self,
        step: &Step,
        roles: &mut Roles,
        active: &mut Active,
    ) -> Result<Went, ClusterError> {
        let nodes = self.nodes.clone();
        match step {
            Step::WaitLeader { role, timeout } => {
                return self.wait_leader(role, *timeout, roles).await
            }
            Step::Sleep(d) => {
                if wait_or_stop(&mut self.stop, *d).await {
                    return Ok(Went::Stopped);
                }
            }
            Step::Isolate(who) => {
                self.partition(roles.isolate(who, &nodes), active).await?;
            }
            Step::Cut(pairs) => self.partition(roles.cut(pairs, &nodes), active).await?,
            Step::Links {
                loss,
                links,
                condition,
            } => {
                let new = roles.links(links, *condition, &nodes);
                self.links(*loss, new, active).await?;
            }
            Step::Heal(what) => self.heal(*what, active).await?,
            Step::Kill(who) | Step::Pause(who) | Step::Restart(who) | Step::Resume(who) => {
                let (how, down) = match step {
                    Step::Kill(_) => (Down::Killed, true),
                    Step::Pause(_) => (Down::Paused, true),
                    Step::Restart(_) => (Down::Killed, false),
                    _ => (Down::Paused, false),
                };
                let targets = roles.resolve(who, &nodes);
                if down {
                    self.take_down(how, targets, active).await?
                } else {
                    self.bring_back(how, targets, active).await?
                }
            }
        }
        Ok(Went::On)
    }

    /// Polls for a node that says it leads and has no role yet, and names it `role`.
    async fn wait_leader(
        &mut self,
        role: &str,
        timeout: Duration,
        roles: &mut Roles,
    ) -> Result<Went, ClusterError> {
        let seen = poll_leader(self.cluster, timeout, &mut self.stop, |(leader, _)| {
            !roles.names(leader)
        })
        .await;
        match seen {
            LeaderPoll::Seen((leader, term)) => {
                tracing::info!("nemesis script: {role} = {leader} (term {term})");
                roles.0.insert(role.to_string(), leader);
                Ok(Went::On)
            }
            LeaderPoll::TimedOut => Ok(Went::GaveUp),
            LeaderPoll::Stopped => Ok(Went::Stopped),
        }
    }

    /// Applies a fault through the executor (recorded as random faults are); an empty
    /// victim list is skipped.
    async fn fault(&mut self, fault: PlannedFault, on: bool) -> Result<(), ClusterError> {
        let empty = matches!(
            &fault,
            PlannedFault::Kill(Victims::Nodes(v)) | PlannedFault::Pause(Victims::Nodes(v)) if v.is_empty()
        );
        if empty {
            return Ok(());
        }
        if on {
            apply(self.cluster, &fault, &mut self.record, &mut self.summary).await
        } else {
            undo(self.cluster, &fault, &mut self.record, &mut self.summary).await
        }
    }

    async fn partition(
        &mut self,
        grudge: crate::cluster::grudge::Grudge,
        active: &mut Active,
    ) -> Result<(), ClusterError> {
        self.fault(PlannedFault::Partition(grudge), true).await?;
        active.partition = true;
        Ok(())
    }

    /// Adds `new` to the round's delay (or loss) links and puts the whole layer on.
    async fn links(
        &mut self,
        loss: bool,
        new: LinkFaults,
        active: &mut Active,
    ) -> Result<(), ClusterError> {
        let kind = if loss {
            FaultKind::Loss
        } else {
            FaultKind::Delay
        };
        let layer = if loss {
            &mut active.loss
        } else {
            &mut active.delay
        };
        layer.extend(new.clone());
        self.cluster
            .set_link_fault(kind.as_str(), layer.clone())
            .await?;
        *self.summary.faults.entry(kind.to_string()).or_default() += 1;
        emit(
            &mut self.record,
            &mut self.summary,
            &format!("start-{kind}"),
            history_value(&new),
        );
        Ok(())
    }

    /// Kills or pauses those of `nodes` not already down that way.
    async fn take_down(
        &mut self,
        how: Down,
        nodes: Vec<String>,
        active: &mut Active,
    ) -> Result<(), ClusterError> {
        let set = active.down(how);
        let victims: Vec<String> = nodes.into_iter().filter(|n| !set.contains(n)).collect();
        set.extend(victims.iter().cloned());
        self.fault(how.fault(victims), true).await
    }

    /// Restarts or resumes those of `nodes` that the script took down that way.
    async fn bring_back(
        &mut self,
        how: Down,
        nodes: Vec<String>,
        active: &mut Active,
    ) -> Result<(), ClusterError> {
        let set = active.down(how);
        let back: Vec<String> = nodes.into_iter().filter(|n| set.remove(n)).collect();
        self.fault(how.fault(back), false).await
    }

    /// Undoes what `what` names, every part even after one fails; the first error.
    async fn heal(&mut self, what: HealWhat, active: &mut Active) -> Result<(), ClusterError> {
        let mut results = Vec::new();
        if what == HealWhat::All {
            for how in [Down::Paused, Down::Killed] {
                let nodes: Vec<String> = active.down(how).iter().cloned().collect();
                results.push(self.bring_back(how, nodes, active).await);
            }
        }
        if what != HealWhat::Links && active.partition {
            active.partition = false;
            let healed = PlannedFault::Partition(Default::default());
            results.push(self.fault(healed, false).await);
        }
        if what != HealWhat::Partition {
            for (kind, layer) in [
                (FaultKind::Delay, std::mem::take(&mut active.delay)),
                (FaultKind::Loss, std::mem::take(&mut active.loss)),
            ] {
                if layer.is_empty() {
                    continue;
                }
                results.push(self.cluster.clear_link_faults(Some(kind.as_str())).await);
                let f = format!("stop-{kind}");
                emit(
                    &mut self.record,
                    &mut self.summary,
                    &f,
                    history_value(&layer),
                );
            }
        }
        results.into_iter().collect()
    }
}
