//! What the chat checkers (`total_order`, `broadcast`) share: reading a history of `post`
//! operations (invoke value: the message text, unique per post) and `read` operations (ok
//! value: one node's delivered messages, the op's `node` naming the node), and the nodes the
//! nemesis ever made Byzantine (not judged).

use super::common::bad_op;
use super::CheckerError;
use crate::history::{History, Op, OpType};
use serde_json::Value;
use std::collections::{BTreeSet, HashSet};

/// The nemesis `f` that marks a node Byzantine (it stays "ever Byzantine" for the checkers).
pub const START_BYZANTINE: &str = "start-byzantine";

/// Nodes named by `start-byzantine` nemesis events (`{"node": "n2"}` or `{"nodes": [...]}`).
pub fn byzantine_nodes(history: &History) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for op in history
        .ops
        .iter()
        .filter(|o| o.process.is_nemesis() && o.f == START_BYZANTINE)
    {
        if let Some(n) = op.value.get("node").and_then(Value::as_str) {
            out.insert(n.to_string());
        }
        if let Some(ns) = op.value.get("nodes").and_then(Value::as_array) {
            out.extend(ns.iter().filter_map(Value::as_str).map(str::to_string));
        }
    }
    out
}

/// One ok read: which node, whether it was ever Byzantine, what it held.
pub(crate) struct Read<T> {
    pub node: String,
    pub honest: bool,
    pub items: T,
}

/// Posts and reads of a chat history.
pub(crate) struct Chat<T> {
    pub attempted: u64,
    /// Every message text a client tried to post.
    pub sent: HashSet<String>,
    /// Acknowledged posts, in completion order.
    pub acked: Vec<String>,
    /// Ok reads in completion order (Byzantine nodes' too, flagged).
    pub reads: Vec<Read<T>>,
    pub byzantine: BTreeSet<String>,
}

/// Collects posts and reads; `parse` turns an ok read's completion into its items.
pub(crate) fn collect<T>(
    history: &History,
    parse: impl Fn(&Op) -> Result<T, CheckerError>,
) -> Result<Chat<T>, CheckerError> {
    let calls = history.pair()?;
    let byzantine = byzantine_nodes(history);
    let mut chat = Chat {
        attempted: 0,
        sent: HashSet::new(),
        acked: Vec::new(),
        reads: Vec::new(),
        byzantine: BTreeSet::new(),
    };
    for call in &calls {
        let invoke = &history.ops[call.invoke];
        match call.f.as_str() {
            "post" => {
                chat.attempted += 1;
                let Some(text) = invoke.value.as_str() else {
                    return Err(bad_op(invoke, "post value is not a string"));
                };
                chat.sent.insert(text.to_string());
                if call.outcome == OpType::Ok {
                    chat.acked.push(text.to_string());
                }
            }
            "read" if call.outcome == OpType::Ok => {
                let done = &history.ops[call.complete.expect("ok calls complete")];
                let node = done.node.clone().or_else(|| invoke.node.clone());
                let Some(node) = node else {
                    return Err(bad_op(done, "read names no node"));
                };
                chat.reads.push(Read {
                    honest: !byzantine.contains(&node),
                    node,
                    items: parse(done)?,
                });
            }
            _ => {}
        }
    }
    chat.byzantine = byzantine;
    Ok(chat)
}

/// The list a read's value must be.
pub(crate) fn read_list(op: &Op) -> Result<&Vec<Value>, CheckerError> {
    op.value
        .as_array()
        .ok_or_else(|| bad_op(op, format!("read value is not a list: {}", op.value)))
}

/// Histories of posts, reads and nemesis events for the chat checkers' unit tests.
#[cfg(test)]
pub(crate) mod testkit {
    use crate::history::{History, Op, OpType, Process};
    use serde_json::{json, Value};

    /// `(process, type, f, value, node)`; process `None` is the nemesis.
    pub type Ev = (
        Option<u64>,
        OpType,
        &'static str,
        Value,
        Option<&'static str>,
    );

    /// The history of `events`, indexed and timed by position.
    pub fn h(events: &[Ev]) -> History {
        History::new(
            events
                .iter()
                .enumerate()
                .map(|(i, (p, t, f, v, n))| {
                    let process = p.map_or(Process::Nemesis, Process::Client);
                    let mut op = Op::new(i as u64, i as i64, *t, process, f, v.clone());
                    op.node = n.map(str::to_string);
                    op
                })
                .collect(),
        )
    }

    /// A post of `m` by process `p`, acknowledged or not (`info`).
    pub fn post(p: u64, m: &str, ok: bool) -> Vec<Ev> {
        let t = if ok { OpType::Ok } else { OpType::Info };
        vec![
            (Some(p), OpType::Invoke, "post", json!(m), None),
            (Some(p), t, "post", json!(m), None),
        ]
    }

    /// An ok read of `node` by process `p` returning `value`.
    pub fn read(p: u64, node: &'static str, value: Value) -> Vec<Ev> {
        vec![
            (Some(p), OpType::Invoke, "read", Value::Null, Some(node)),
            (Some(p), OpType::Ok, "read", value, Some(node)),
        ]
    }
}
