//! The `total-order` checker: a totally ordered broadcast (a PBFT chat room) judged from
//! `post` operations (invoke value: the message text, unique per post) and `read` operations
//! (ok value: one node's delivered log, the list of message texts in delivery order, with the
//! op's `node` naming which node's log it is).
//!
//! Only honest nodes are judged: a node the nemesis ever made Byzantine (a nemesis event
//! `start-byzantine` whose value names it, `{"node": "n2", ...}` or `{"nodes": [...]}`) is
//! excluded. Three properties:
//! - agreement: every honest read is a prefix of one sequence (the longest honest read); a
//!   disagreement names both nodes, the position and what each delivered there;
//! - integrity: no honest read holds a message no client posted, nor one message twice;
//! - validity: every acknowledged post is in the last read of every honest node.
//!
//! Unknown when no honest node's log was read.

use super::chat::{self, read_list};
use super::common::{bad_op, push_capped, verdict};
use super::CheckerError;
use crate::history::{History, Op};
use crate::verdict::Validity;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashSet};

pub use super::chat::{byzantine_nodes, START_BYZANTINE};

/// Two honest nodes that delivered different messages at the same position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Disagreement {
    /// 0-based position in the delivered logs.
    pub position: usize,
    pub node_a: String,
    pub message_a: String,
    pub node_b: String,
    pub message_b: String,
}

/// A message an honest node delivered that breaks integrity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadDelivery {
    pub node: String,
    pub message: String,
    /// `unsent` (no client posted it) or `duplicated` (delivered more than once).
    pub kind: &'static str,
}

/// An acknowledged post missing from an honest node's last read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Missing {
    pub node: String,
    pub message: String,
}

/// The result of [`total_order`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TotalOrderReport {
    pub valid: Validity,
    pub attempted_count: u64,
    pub acknowledged_count: u64,
    /// Nodes the nemesis made Byzantine at some point (not judged).
    pub byzantine_nodes: Vec<String>,
    /// Honest nodes whose log was read, with the length of their last read.
    pub honest_reads: BTreeMap<String, usize>,
    pub disagreement_count: u64,
    pub disagreements: Vec<Disagreement>,
    pub integrity_count: u64,
    pub integrity: Vec<BadDelivery>,
    pub missing_count: u64,
    pub missing: Vec<Missing>,
    /// One sentence on the first violation found (the report's why-section shows it), e.g.
    /// `agreement: honest n2 and n3 disagree at position 4: n2 delivered "m1-3", n3 "m0-7"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
}

impl TotalOrderReport {
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// One honest node's delivered log.
struct Read {
    node: String,
    log: Vec<String>,
}

fn parse_log(op: &Op) -> Result<Vec<String>, CheckerError> {
    read_list(op)?
        .iter()
        .map(|v| match v {
            Value::String(s) => Ok(s.clone()),
            other => Err(bad_op(op, format!("log entry is not a string: {other}"))),
        })
        .collect()
}

/// Check agreement, integrity and validity of a total-order history.
pub fn total_order(history: &History) -> Result<TotalOrderReport, CheckerError> {
    let chat = chat::collect(history, parse_log)?;
    let reads: Vec<Read> = chat
        .reads
        .into_iter()
        .filter(|r| r.honest)
        .map(|r| Read {
            node: r.node,
            log: r.items,
        })
        .collect();
    let mut report = TotalOrderReport {
        valid: Validity::Unknown,
        attempted_count: chat.attempted,
        acknowledged_count: chat.acked.len() as u64,
        byzantine_nodes: chat.byzantine.into_iter().collect(),
        honest_reads: BTreeMap::new(),
        disagreement_count: 0,
        disagreements: Vec::new(),
        integrity_count: 0,
        integrity: Vec::new(),
        missing_count: 0,
        missing: Vec::new(),
        summary: None,
    };
    check_agreement(&reads, &mut report);
    check_integrity(&reads, &chat.sent, &mut report);
    check_validity(&reads, &chat.acked, &mut report);
    report.summary = summarize(&report);
    let bad = report.disagreement_count + report.integrity_count + report.missing_count > 0;
    report.valid = verdict(bad, !reads.is_empty());
    Ok(report)
}

/// The first violation in words: a disagreement, else an integrity breach, else a loss.
fn summarize(r: &TotalOrderReport) -> Option<String> {
    if let Some(d) = r.disagreements.first() {
        return Some(format!(
            "agreement: honest {} and {} disagree at position {}: {} delivered {:?}, {} {:?} \
             ({} disagreeing reads)",
            d.node_a,
            d.node_b,
            d.position,
            d.node_a,
            d.message_a,
            d.node_b,
            d.message_b,
            r.disagreement_count
        ));
    }
    if let Some(b) = r.integrity.first() {
        return Some(format!(
            "integrity: honest {} delivered {:?}, {} ({} such deliveries)",
            b.node, b.message, b.kind, r.integrity_count
        ));
    }
    r.missing.first().map(|m| {
        format!(
            "validity: acknowledged {:?} is missing from honest {}'s final log ({} missing)",
            m.message, m.node, r.missing_count
        )
    })
}

/// Every honest read against the longest one: the first differing position of each.
fn check_agreement(reads: &[Read], report: &mut TotalOrderReport) {
    let Some(longest) = reads.iter().max_by_key(|r| r.log.len()) else {
        return;
    };
    let mut seen_pairs = BTreeSet::new();
    for r in reads {
        let Some(pos) = (0..r.log.len()).find(|&i| r.log[i] != longest.log[i]) else {
            continue;
        };
        report.disagreement_count += 1;
        if seen_pairs.insert((r.node.clone(), pos)) {
            push_capped(
                &mut report.disagreements,
                Disagreement {
                    position: pos,
                    node_a: longest.node.clone(),
                    message_a: longest.log[pos].clone(),
                    node_b: r.node.clone(),
                    message_b: r.log[pos].clone(),
                },
            );
        }
    }
}

fn check_integrity(reads: &[Read], sent: &HashSet<String>, report: &mut TotalOrderReport) {
    let mut reported = BTreeSet::new();
    for r in reads {
        let mut in_log = HashSet::new();
        for m in &r.log {
            let kind = if !sent.contains(m) {
                "unsent"
            } else if !in_log.insert(m.as_str()) {
                "duplicated"
            } else {
                continue;
            };
            if reported.insert((r.node.clone(), m.clone(), kind)) {
                report.integrity_count += 1;
                push_capped(
                    &mut report.integrity,
                    BadDelivery {
                        node: r.node.clone(),
                        message: m.clone(),
                        kind,
                    },
                );
            }
        }
    }
}

/// The last read of each honest node must hold every acknowledged post.
fn check_validity(reads: &[Read], acked: &[String], report: &mut TotalOrderReport) {
    let mut last: BTreeMap<&str, &Read> = BTreeMap::new();
    for r in reads {
        last.insert(&r.node, r);
    }
    for (node, r) in last {
        report.honest_reads.insert(node.to_string(), r.log.len());
        let have: HashSet<&str> = r.log.iter().map(String::as_str).collect();
        for m in acked.iter().filter(|m| !have.contains(m.as_str())) {
            report.missing_count += 1;
            push_capped(
                &mut report.missing,
                Missing {
                    node: node.to_string(),
                    message: m.clone(),
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::chat::testkit::{h, post, read, Ev};
    use crate::history::OpType;
    use serde_json::json;

    fn run(parts: Vec<Vec<Ev>>) -> TotalOrderReport {
        total_order(&h(&parts.concat())).unwrap()
    }

    #[test]
    fn prefixes_of_one_order_with_every_ack_pass() {
        let r = run(vec![
            post(0, "a", true),
            post(1, "b", true),
            post(2, "c", false),
            read(10, "n1", json!(["a", "b"])),
            read(11, "n2", json!(["a", "b", "c"])),
        ]);
        assert_eq!(r.valid, Validity::Valid, "{r:?}");
        assert_eq!(r.acknowledged_count, 2);
        assert_eq!(r.honest_reads["n2"], 3);
    }

    #[test]
    fn two_orders_are_a_disagreement_naming_both_nodes() {
        let r = run(vec![
            post(0, "a", true),
            post(1, "b", true),
            read(10, "n1", json!(["a", "b"])),
            read(11, "n3", json!(["b", "a"])),
        ]);
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.disagreement_count, 1);
        let d = &r.disagreements[0];
        assert_eq!(d.position, 0);
        let nodes = [d.node_a.as_str(), d.node_b.as_str()];
        assert!(nodes.contains(&"n1") && nodes.contains(&"n3"), "{d:?}");
        let summary = r.summary.as_deref().unwrap_or_default();
        assert!(
            summary.starts_with("agreement: honest") && summary.contains("position 0"),
            "{summary}"
        );
    }

    #[test]
    fn unsent_and_duplicated_messages_break_integrity() {
        let r = run(vec![
            post(0, "a", true),
            read(10, "n1", json!(["a", "forged", "a"])),
        ]);
        assert_eq!(r.valid, Validity::Invalid);
        let kinds: Vec<&str> = r.integrity.iter().map(|b| b.kind).collect();
        assert_eq!(kinds, ["unsent", "duplicated"]);
    }

    #[test]
    fn an_acknowledged_post_missing_from_a_last_read_breaks_validity() {
        let r = run(vec![
            read(10, "n2", json!([])),
            post(0, "a", true),
            read(11, "n1", json!(["a"])),
            read(12, "n2", json!([])),
        ]);
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(
            r.missing,
            vec![Missing {
                node: "n2".into(),
                message: "a".into()
            }]
        );
    }

    #[test]
    fn byzantine_nodes_are_not_judged_and_no_read_is_unknown() {
        let mut parts = vec![vec![(
            None,
            OpType::Info,
            START_BYZANTINE,
            json!({"node": "n4", "mode": "equivocate"}),
            None,
        )]];
        parts.push(post(0, "a", true));
        parts.push(read(10, "n1", json!(["a"])));
        parts.push(read(11, "n4", json!(["zzz", "a", "a"])));
        let r = run(parts);
        assert_eq!(r.valid, Validity::Valid, "{r:?}");
        assert_eq!(r.byzantine_nodes, ["n4"]);
        assert_eq!(run(vec![post(0, "a", true)]).valid, Validity::Unknown);
    }

    #[test]
    fn a_read_that_is_not_a_list_is_an_error_naming_the_event() {
        let err = total_order(&h(&read(1, "n1", json!("x")))).unwrap_err();
        assert!(err.to_string().contains("not a list"), "{err}");
    }
}
