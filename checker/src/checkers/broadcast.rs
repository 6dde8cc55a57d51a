//! The `broadcast` checker: a gossip broadcast (no order promised) judged from `post`
//! operations (invoke value: the message text, unique per post) and `read` operations (ok
//! value: one node's delivered messages as `[text, received_at_ms]` pairs, the op's `node`
//! naming the node; the times are the nodes' wall clocks, all on one machine).
//!
//! Nodes the nemesis ever made Byzantine are not judged (their reads still tell when a
//! message was first stored). Properties, over honest nodes:
//! - validity: every acknowledged post is in the last read of every honest node (the final
//!   reads come after the final heal and the recovery);
//! - integrity: no honest read holds a message no client posted (forged, altered), nor one
//!   message twice.
//!
//! Convergence time of an acknowledged message that every honest node's last read holds:
//! the latest time an honest node received it minus the earliest time any node did (its
//! origin stored it). Reported as count, median, p90 and maximum in ms, with the sorted
//! samples (thinned evenly to at most [`SAMPLE_CAP`]) for a plot. Unknown when no honest
//! node's set was read.

use super::chat::{self, read_list};
use super::common::{bad_op, push_capped, verdict};
use super::CheckerError;
use crate::history::{History, Op};
use crate::verdict::Validity;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Most convergence samples kept in the report (evenly thinned beyond that).
pub const SAMPLE_CAP: usize = 2000;

/// An honest node's read that breaks integrity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadDelivery {
    pub node: String,
    pub message: String,
    /// `unsent` (no client posted it: forged or altered) or `duplicated`.
    pub kind: &'static str,
}

/// An acknowledged post missing from an honest node's last read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Missing {
    pub node: String,
    pub message: String,
}

/// How long acknowledged messages took to reach every honest node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Convergence {
    /// Messages measured (acknowledged and held by every honest node's last read).
    pub count: u64,
    pub median_ms: Option<u64>,
    pub p90_ms: Option<u64>,
    pub max_ms: Option<u64>,
    /// The message that took longest.
    pub slowest: Option<String>,
    /// Sorted samples in ms, at most [`SAMPLE_CAP`] (evenly thinned).
    pub samples_ms: Vec<u64>,
}

/// The result of [`broadcast`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BroadcastReport {
    pub valid: Validity,
    pub attempted_count: u64,
    pub acknowledged_count: u64,
    /// Nodes the nemesis made Byzantine at some point (not judged).
    pub byzantine_nodes: Vec<String>,
    /// Honest nodes whose set was read, with the size of their last read.
    pub honest_reads: BTreeMap<String, usize>,
    pub integrity_count: u64,
    pub integrity: Vec<BadDelivery>,
    pub missing_count: u64,
    pub missing: Vec<Missing>,
    pub convergence: Convergence,
    /// One sentence on the first violation (the report's why-section shows it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
}

impl BroadcastReport {
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// One read: `(text, received_at_ms)` pairs.
type Items = Vec<(String, u64)>;

fn parse_set(op: &Op) -> Result<Items, CheckerError> {
    read_list(op)?
        .iter()
        .map(|v| match v.as_array().map(Vec::as_slice) {
            Some([Value::String(s), t]) if t.is_u64() => Ok((s.clone(), t.as_u64().unwrap_or(0))),
            _ => Err(bad_op(op, format!("entry is not [text, ms]: {v}"))),
        })
        .collect()
}

/// Check validity and integrity of a broadcast history and measure convergence.
pub fn broadcast(history: &History) -> Result<BroadcastReport, CheckerError> {
    let chat = chat::collect(history, parse_set)?;
    let mut report = BroadcastReport {
        valid: Validity::Unknown,
        attempted_count: chat.attempted,
        acknowledged_count: chat.acked.len() as u64,
        byzantine_nodes: chat.byzantine.iter().cloned().collect(),
        honest_reads: BTreeMap::new(),
        integrity_count: 0,
        integrity: Vec::new(),
        missing_count: 0,
        missing: Vec::new(),
        convergence: Convergence::default(),
        summary: None,
    };
    let honest: Vec<&chat::Read<Items>> = chat.reads.iter().filter(|r| r.honest).collect();
    check_integrity(&honest, &chat.sent, &mut report);
    let last = last_reads(&honest);
    check_validity(&last, &chat.acked, &mut report);
    report.convergence = convergence(&chat.reads, &last, &chat.acked);
    report.summary = summarize(&report);
    let bad = report.integrity_count + report.missing_count > 0;
    report.valid = verdict(bad, !honest.is_empty());
    Ok(report)
}

/// The last read of each honest node, as text → time.
fn last_reads<'a>(honest: &[&'a chat::Read<Items>]) -> BTreeMap<&'a str, HashMap<&'a str, u64>> {
    let mut last = BTreeMap::new();
    for r in honest {
        let set = r.items.iter().map(|(m, t)| (m.as_str(), *t)).collect();
        last.insert(r.node.as_str(), set);
    }
    last
}

fn check_integrity(
    honest: &[&chat::Read<Items>],
    sent: &HashSet<String>,
    report: &mut BroadcastReport,
) {
    let mut reported = HashSet::new();
    for r in honest {
        let mut in_read = HashSet::new();
        for (m, _) in &r.items {
            let kind = if !sent.contains(m) {
                "unsent"
            } else if !in_read.insert(m.as_str()) {
                "duplicated"
            } else {
                continue;
            };
            if reported.insert((r.node.clone(), m.clone(), kind)) {
                report.integrity_count += 1;
                let node = r.node.clone();
                let message = m.clone();
                push_capped(
                    &mut report.integrity,
                    BadDelivery {
                        node,
                        message,
                        kind,
                    },
                );
            }
        }
    }
}

fn check_validity(
    last: &BTreeMap<&str, HashMap<&str, u64>>,
    acked: &[String],
    report: &mut BroadcastReport,
) {
    for (node, set) in last {
        report.honest_reads.insert(node.to_string(), set.len());
        for m in acked.iter().filter(|m| !set.contains_key(m.as_str())) {
            report.missing_count += 1;
            let missing = Missing {
                node: node.to_string(),
                message: m.clone(),
            };
            push_capped(&mut report.missing, missing);
        }
    }
}

/// Per acknowledged message held by every honest last read: latest honest receipt minus
/// the earliest receipt seen anywhere.
fn convergence(
    reads: &[chat::Read<Items>],
    last: &BTreeMap<&str, HashMap<&str, u64>>,
    acked: &[String],
) -> Convergence {
    let mut first: HashMap<&str, u64> = HashMap::new();
    for (m, t) in reads.iter().flat_map(|r| r.items.iter()) {
        let e = first.entry(m.as_str()).or_insert(*t);
        *e = (*e).min(*t);
    }
    let mut samples: Vec<(u64, &str)> = Vec::new();
    for m in acked {
        let times: Option<Vec<u64>> = last.values().map(|s| s.get(m.as_str()).copied()).collect();
        let (Some(times), Some(t0)) = (times, first.get(m.as_str())) else {
            continue;
        };
        let end = times.into_iter().max().unwrap_or(*t0);
        samples.push((end.saturating_sub(*t0), m.as_str()));
    }
    if last.is_empty() {
        samples.clear();
    }
    samples.sort_unstable();
    let at = |q: f64| {
        let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
        samples.get(i).map(|s| s.0)
    };
    let stride = samples.len().div_ceil(SAMPLE_CAP).max(1);
    Convergence {
        count: samples.len() as u64,
        median_ms: at(0.5),
        p90_ms: at(0.9),
        max_ms: samples.last().map(|s| s.0),
        slowest: samples.last().map(|s| s.1.to_string()),
        samples_ms: samples.iter().step_by(stride).map(|s| s.0).collect(),
    }
}

/// The first violation in words: an integrity breach, else a lost message.
fn summarize(r: &BroadcastReport) -> Option<String> {
    if let Some(b) = r.integrity.first() {
        return Some(format!(
            "integrity: honest {} delivered {:?}, {} ({} such deliveries)",
            b.node, b.message, b.kind, r.integrity_count
        ));
    }
    r.missing.first().map(|m| {
        format!(
            "validity: acknowledged {:?} never reached honest {} ({} missing)",
            m.message, m.node, r.missing_count
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::chat::testkit::{h, post, read, Ev};
    use crate::history::OpType;
    use serde_json::json;

    fn run(parts: Vec<Vec<Ev>>) -> BroadcastReport {
        broadcast(&h(&parts.concat())).unwrap()
    }

    #[test]
    fn every_ack_on_every_honest_node_passes_and_convergence_is_measured() {
        let r = run(vec![
            post(0, "a", true),
            post(1, "b", true),
            post(2, "c", false),
            read(10, "n1", json!([["a", 100], ["b", 130]])),
            read(11, "n2", json!([["b", 110], ["a", 150]])),
            read(12, "n1", json!([["a", 100], ["b", 130]])),
        ]);
        assert_eq!(r.valid, Validity::Valid, "{r:?}");
        assert_eq!(r.acknowledged_count, 2);
        let c = &r.convergence;
        assert_eq!((c.count, c.max_ms), (2, Some(50)), "{c:?}");
        assert_eq!(c.samples_ms, vec![20, 50]);
        assert_eq!(c.slowest.as_deref(), Some("a"));
        assert!(r.summary.is_none());
    }

    #[test]
    fn a_lost_ack_and_a_forged_message_are_invalid_and_said() {
        let r = run(vec![
            post(0, "a", true),
            read(10, "n1", json!([["a", 1], ["forged by node 2", 2]])),
            read(11, "n2", json!([])),
        ]);
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.integrity[0].kind, "unsent");
        assert_eq!(r.missing_count, 1);
        assert!(r.summary.unwrap().starts_with("integrity: honest n1"));
        assert_eq!(r.convergence.count, 0);
    }

    #[test]
    fn byzantine_nodes_are_not_judged_but_date_the_first_receipt() {
        let mut parts = vec![vec![(
            None,
            OpType::Info,
            chat::START_BYZANTINE,
            json!({"nodes": ["n3"], "modes": {"n3": "forge"}}),
            None,
        )]];
        parts.push(post(0, "a", true));
        parts.push(read(10, "n3", json!([["a", 5], ["zzz", 6]])));
        parts.push(read(11, "n1", json!([["a", 25]])));
        let r = run(parts);
        assert_eq!(r.valid, Validity::Valid, "{r:?}");
        assert_eq!(r.byzantine_nodes, ["n3"]);
        assert_eq!(r.convergence.max_ms, Some(20));
        assert_eq!(run(vec![post(0, "a", true)]).valid, Validity::Unknown);
    }

    #[test]
    fn a_read_entry_of_the_wrong_shape_is_an_error_naming_the_event() {
        let err = broadcast(&h(&read(1, "n1", json!(["a"])))).unwrap_err();
        assert!(err.to_string().contains("[text, ms]"), "{err}");
    }
}
