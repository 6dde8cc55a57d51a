//! The `election` checker: split brain in a leader election. The workload performs a
//! leader-only action (`f: "act"`) on every node; an acknowledged act's completion value is
//! `{"leader_id": ID, "epoch": E, ...}` (the node acting and its leadership epoch). Two nodes
//! acted as leader at the same time when the acts cannot be put in one order, one leadership
//! after another in increasing epochs, that agrees with real time. Each act took effect at
//! one instant between its invoke and its completion, so that happens exactly when either
//! - *superseded*: an act of a node in epoch E began after an act of another node in a
//!   higher epoch had completed (the older leader still acted once a newer one had), or
//! - *same epoch*: acknowledged acts of different nodes with the same epoch (one epoch names
//!   one leadership).
//!
//! Overlapping intervals alone prove nothing: a leader frozen between committing an act and
//! answering it completes that act after its successor's first acts, though it took effect
//! before them (measured on raft-kv under `--nemesis pause`).
//!
//! Each split brain is reported with both acts: nodes, epochs, times (ns since the test
//! start) and history indices. Views sampled by `f: "status"` are counted, not judged.

use super::common::{push_capped, verdict};
use super::CheckerError;
use crate::history::{History, OpType};
use crate::verdict::Validity;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// One acknowledged leader-only action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Act {
    /// The acting node's id (`leader_id` of the answer).
    pub leader_id: u64,
    pub epoch: u64,
    /// The node the client sent it to (harness name), if recorded.
    pub node: Option<String>,
    /// Invoke and completion times, ns since the test started.
    pub start_ns: i64,
    pub end_ns: i64,
    /// History indices of its invocation and completion.
    pub invoke_index: u64,
    pub complete_index: u64,
}

/// Two acts of different nodes that prove two leaders at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SplitBrain {
    /// `superseded` (`first`, in the higher epoch, completed before `second`, in a lower
    /// one, began) or `same-epoch`.
    pub kind: &'static str,
    pub first: Act,
    pub second: Act,
}

/// The result of [`election`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ElectionReport {
    pub valid: Validity,
    /// Acknowledged acts checked.
    pub acts: u64,
    /// Status samples seen.
    pub status_samples: u64,
    /// Acts acknowledged per acting node id.
    pub acts_by_leader: BTreeMap<u64, u64>,
    pub split_brain_count: u64,
    /// The first split brains found (capped), earliest first.
    pub split_brains: Vec<SplitBrain>,
    /// One line naming the first split brain (when, where), for the report; absent if none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
}

impl ElectionReport {
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// Checks `history` for split brain (see the module doc).
pub fn election(history: &History) -> Result<ElectionReport, CheckerError> {
    let mut acts = Vec::new();
    let mut status_samples = 0u64;
    for call in history.pair()? {
        if call.f == "status" && call.outcome == OpType::Ok {
            status_samples += 1;
        }
        if call.f != "act" || call.outcome != OpType::Ok {
            continue;
        }
        let Some(done) = call.complete else { continue };
        let (inv, comp) = (&history.ops[call.invoke], &history.ops[done]);
        let field = |name: &str| {
            comp.value.get(name).and_then(Value::as_u64).ok_or_else(|| {
                super::common::bad_op(
                    comp,
                    format!("an ok act needs an integer `{name}`, found {}", comp.value),
                )
            })
        };
        acts.push(Act {
            leader_id: field("leader_id")?,
            epoch: field("epoch")?,
            node: comp.node.clone().or_else(|| inv.node.clone()),
            start_ns: inv.time,
            end_ns: comp.time,
            invoke_index: inv.index,
            complete_index: comp.index,
        });
    }
    acts.sort_by_key(|a| (a.start_ns, a.invoke_index));
    let (count, split_brains) = find_split_brains(&acts);
    let mut acts_by_leader = BTreeMap::new();
    for a in &acts {
        *acts_by_leader.entry(a.leader_id).or_insert(0u64) += 1;
    }
    Ok(ElectionReport {
        valid: verdict(count > 0, !acts.is_empty()),
        acts: acts.len() as u64,
        status_samples,
        acts_by_leader,
        summary: split_brains.first().map(|sb| summary_of(sb, count)),
        split_brain_count: count,
        split_brains,
    })
}

/// Every pair of acts of different nodes that share an epoch, or where the lower epoch's act
/// began after the higher epoch's had completed (`acts` sorted by start). A sweep over the
/// acts by start, feeding in (by end) every act completed before it and keeping, per node,
/// its highest-epoch completed act.
fn find_split_brains(acts: &[Act]) -> (u64, Vec<SplitBrain>) {
    let mut count = 0u64;
    let mut found = Vec::new();
    let mut by_end: Vec<&Act> = acts.iter().collect();
    by_end.sort_by_key(|a| (a.end_ns, a.complete_index));
    let mut ended = by_end.into_iter().peekable();
    let mut highest_ended: BTreeMap<u64, &Act> = BTreeMap::new();
    let mut first_by_epoch: BTreeMap<u64, &Act> = BTreeMap::new();
    for act in acts {
        while let Some(done) = ended.next_if(|d| d.end_ns < act.start_ns) {
            let slot = highest_ended.entry(done.leader_id).or_insert(done);
            if done.epoch > slot.epoch {
                *slot = done;
            }
        }
        for (&id, &newer) in &highest_ended {
            if id != act.leader_id && newer.epoch > act.epoch {
                count += 1;
                push_capped(&mut found, pair("superseded", newer, act));
            }
        }
        match first_by_epoch.get(&act.epoch) {
            Some(&other) if other.leader_id != act.leader_id => {
                count += 1;
                push_capped(&mut found, pair("same-epoch", other, act));
            }
            Some(_) => {}
            None => {
                first_by_epoch.insert(act.epoch, act);
            }
        }
    }
    (count, found)
}

/// `split brain (superseded): n3 (epoch 2) acted 6.093656-6.102290 s, n5 (epoch 1) acted
/// 6.102400-6.102457 s; 90 pairs` (kept short: the report shows it in one line).
fn summary_of(sb: &SplitBrain, count: u64) -> String {
    let one = |a: &Act| {
        format!(
            "{} (epoch {}) acted {:.6}-{:.6} s",
            a.node
                .clone()
                .unwrap_or_else(|| format!("node {}", a.leader_id)),
            a.epoch,
            a.start_ns as f64 / 1e9,
            a.end_ns as f64 / 1e9,
        )
    };
    format!(
        "split brain ({}): {}, {}; {count} pairs",
        sb.kind,
        one(&sb.first),
        one(&sb.second)
    )
}

fn pair(kind: &'static str, first: &Act, second: &Act) -> SplitBrain {
    SplitBrain {
        kind,
        first: first.clone(),
        second: second.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Op, Process};
    use serde_json::json;

    /// (process, type, f, value, time ns, node)
    fn hist(events: &[(u64, OpType, &str, Value, i64, &str)]) -> History {
        History::new(
            events
                .iter()
                .enumerate()
                .map(|(i, (p, t, f, v, time, node))| {
                    let mut op = Op::new(i as u64, *time, *t, Process::Client(*p), f, v.clone());
                    op.node = Some(node.to_string());
                    op
                })
                .collect(),
        )
    }

    fn ack(id: u64, epoch: u64) -> Value {
        json!({"leader_id": id, "epoch": epoch, "acted_at_unix_ms": 1})
    }

    #[test]
    fn an_older_epoch_acting_after_a_newer_one_is_split_brain() {
        use OpType::*;
        let h = hist(&[
            (1, Invoke, "act", Value::Null, 20, "n3"),
            (1, Ok, "act", ack(3, 2), 30, "n3"),
            (0, Invoke, "act", Value::Null, 35, "n5"),
            (0, Ok, "act", ack(5, 1), 40, "n5"),
        ]);
        let r = election(&h).unwrap();
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.split_brain_count, 1);
        let sb = &r.split_brains[0];
        assert_eq!(sb.kind, "superseded");
        assert_eq!((sb.first.leader_id, sb.second.leader_id), (3, 5));
        assert_eq!(sb.first.node.as_deref(), Some("n3"));
        let summary = r.summary.expect("a summary names the split brain");
        assert!(
            summary.starts_with("split brain (superseded): n3 (epoch 2) acted 0.000000-0.000000 s"),
            "{summary}"
        );
        assert!(summary.contains(", n5 (epoch 1) acted"), "{summary}");
    }

    #[test]
    fn an_old_leaders_act_answered_late_is_not_split_brain() {
        use OpType::*;
        // n5 (epoch 1) froze between taking effect and answering: its act spans n3's first
        // acts of epoch 2 but can be ordered before them.
        let h = hist(&[
            (0, Invoke, "act", Value::Null, 10, "n5"),
            (1, Invoke, "act", Value::Null, 20, "n3"),
            (1, Ok, "act", ack(3, 2), 30, "n3"),
            (0, Ok, "act", ack(5, 1), 40, "n5"),
            (1, Invoke, "act", Value::Null, 45, "n3"),
            (1, Ok, "act", ack(3, 2), 50, "n3"),
        ]);
        let r = election(&h).unwrap();
        assert_eq!(r.valid, Validity::Valid, "{r:?}");
        assert_eq!(r.acts, 3);
    }

    #[test]
    fn disjoint_acts_of_successive_leaders_are_valid_and_same_epoch_is_not() {
        use OpType::*;
        let h = hist(&[
            (0, Invoke, "act", Value::Null, 10, "n5"),
            (0, Ok, "act", ack(5, 1), 20, "n5"),
            (1, Invoke, "status", Value::Null, 25, "n1"),
            (1, Ok, "status", json!({"leader_id": 4}), 26, "n1"),
            (1, Invoke, "act", Value::Null, 30, "n4"),
            (1, Ok, "act", ack(4, 2), 40, "n4"),
            (0, Invoke, "act", Value::Null, 50, "n4"),
            (0, Fail, "act", Value::Null, 60, "n3"),
        ]);
        let r = election(&h).unwrap();
        assert_eq!(r.valid, Validity::Valid, "{r:?}");
        assert_eq!((r.acts, r.status_samples), (2, 1));
        let h = hist(&[
            (0, Invoke, "act", Value::Null, 10, "n5"),
            (0, Ok, "act", ack(5, 1), 20, "n5"),
            (1, Invoke, "act", Value::Null, 30, "n4"),
            (1, Ok, "act", ack(4, 1), 40, "n4"),
        ]);
        let r = election(&h).unwrap();
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.split_brains[0].kind, "same-epoch");
    }

    #[test]
    fn no_acknowledged_act_is_unknown_and_a_bad_answer_is_an_error() {
        use OpType::*;
        let h = hist(&[
            (0, Invoke, "act", Value::Null, 10, "n5"),
            (0, Fail, "act", Value::Null, 20, "n5"),
        ]);
        assert_eq!(election(&h).unwrap().valid, Validity::Unknown);
        let h = hist(&[
            (0, Invoke, "act", Value::Null, 10, "n5"),
            (0, Ok, "act", json!({"epoch": 1}), 20, "n5"),
        ]);
        let err = election(&h).unwrap_err().to_string();
        assert!(err.contains("leader_id"), "{err}");
    }
}
