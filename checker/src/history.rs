//! The operation history of DESIGN.md section 3: operations (`invoke`, `ok`, `fail`, `info`),
//! processes (client ids or the nemesis), and the pairing of each invocation with its
//! completion into a [`Call`]. Readers of files live in [`crate::format`]; this module only
//! owns the in-memory shape, which is also exactly our JSONL line (section 4).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use std::fmt;

/// The type of an operation event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpType {
    /// The operation started.
    Invoke,
    /// It happened.
    Ok,
    /// It definitely did not happen.
    Fail,
    /// Unknown: it may or may not have happened (e.g. a timeout). Stays open to the end.
    Info,
}

impl OpType {
    pub fn as_str(self) -> &'static str {
        match self {
            OpType::Invoke => "invoke",
            OpType::Ok => "ok",
            OpType::Fail => "fail",
            OpType::Info => "info",
        }
    }
}

impl fmt::Display for OpType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who performed an operation: a logical single-threaded client, or the nemesis.
/// Serializes as an integer or the string `"nemesis"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Process {
    Client(u64),
    Nemesis,
}

impl Process {
    pub fn is_nemesis(self) -> bool {
        matches!(self, Process::Nemesis)
    }
}

impl fmt::Display for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Process::Client(p) => write!(f, "{p}"),
            Process::Nemesis => f.write_str("nemesis"),
        }
    }
}

impl Serialize for Process {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Process::Client(p) => s.serialize_u64(*p),
            Process::Nemesis => s.serialize_str("nemesis"),
        }
    }
}

impl<'de> Deserialize<'de> for Process {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Number(n) if n.as_u64().is_some() => Ok(Process::Client(n.as_u64().unwrap())),
            Value::String(s) if s == "nemesis" => Ok(Process::Nemesis),
            other => Err(serde::de::Error::custom(format!(
                "expected a non-negative integer process id or \"nemesis\", found {other}"
            ))),
        }
    }
}

/// One event of a history: one line of `history.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Op {
    /// Position in the history, 0-based, dense.
    pub index: u64,
    /// Nanoseconds since the test started (monotonic). Readers of formats without times
    /// use the event's position instead.
    pub time: i64,
    #[serde(rename = "type")]
    pub op_type: OpType,
    pub process: Process,
    /// The function: `read`, `write`, `cas`, `get`, `put`, `append`, `add`, `acquire`, ...
    /// For the nemesis: `start-partition`, `stop-partition`, `pause`, `resume`, `kill`, ...
    pub f: String,
    /// The key, for multi-key histories; `None` for single-object histories.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<Value>,
    /// The argument (on invoke) or result (on ok); `null` when absent.
    #[serde(default)]
    pub value: Value,
    /// Why an operation failed or is unknown (`fail` / `info`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
    /// The node the client sent the operation to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Any other fields of the source line, kept as they were.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
    /// 1-based line number in the file this operation was read from (not serialized).
    #[serde(skip)]
    pub line: Option<u64>,
}

impl Op {
    /// A client or nemesis event with the given fields and no key, error, node or extras.
    pub fn new(
        index: u64,
        time: i64,
        op_type: OpType,
        process: Process,
        f: &str,
        value: Value,
    ) -> Op {
        Op {
            index,
            time,
            op_type,
            process,
            f: f.to_string(),
            key: None,
            value,
            error: None,
            node: None,
            extra: Map::new(),
            line: None,
        }
    }

    pub fn with_key(mut self, key: Value) -> Op {
        self.key = Some(key);
        self
    }
}

/// A whole history, in the order events happened.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    pub ops: Vec<Op>,
}

/// One client operation: an invocation paired with its completion, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub process: Process,
    pub f: String,
    pub key: Option<Value>,
    /// Position in [`History::ops`] of the invocation.
    pub invoke: usize,
    /// Position in [`History::ops`] of the completion; `None` if the history ended first.
    pub complete: Option<usize>,
    /// `Ok`, `Fail` or `Info`. An invocation with no completion is `Info` (it stays open).
    pub outcome: OpType,
}

/// Why a history cannot be paired into calls.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PairError {
    #[error(
        "event {index} (line {line}): process {process} completes `{f}` but has no open invocation"
    )]
    CompletionWithoutInvoke {
        index: u64,
        line: String,
        process: String,
        f: String,
    },
    #[error("event {index} (line {line}): process {process} invokes `{f}` while its invocation at event {open} is still open")]
    DoubleInvoke {
        index: u64,
        line: String,
        process: String,
        f: String,
        open: u64,
    },
}

impl History {
    pub fn new(ops: Vec<Op>) -> History {
        History { ops }
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Pair every client invocation with its completion (the next event of the same
    /// process). Nemesis events are skipped. An invocation that is never completed, or is
    /// completed with `info`, has outcome `Info` and stays open to the end of the history.
    /// Calls are returned in invocation order.
    pub fn pair(&self) -> Result<Vec<Call>, PairError> {
        use std::collections::HashMap;
        let mut calls: Vec<Call> = Vec::new();
        let mut open: HashMap<u64, usize> = HashMap::new(); // process -> index into calls
        let line_of = |op: &Op| op.line.map_or_else(|| "?".to_string(), |l| l.to_string());
        for (pos, op) in self.ops.iter().enumerate() {
            let Process::Client(p) = op.process else {
                continue;
            };
            match op.op_type {
                OpType::Invoke => {
                    if let Some(&c) = open.get(&p) {
                        return Err(PairError::DoubleInvoke {
                            index: op.index,
                            line: line_of(op),
                            process: p.to_string(),
                            f: op.f.clone(),
                            open: self.ops[calls[c].invoke].index,
                        });
                    }
                    open.insert(p, calls.len());
                    calls.push(Call {
                        process: op.process,
                        f: op.f.clone(),
                        key: op.key.clone(),
                        invoke: pos,
                        complete: None,
                        outcome: OpType::Info,
                    });
                }
                done => {
                    let Some(c) = open.remove(&p) else {
                        return Err(PairError::CompletionWithoutInvoke {
                            index: op.index,
                            line: line_of(op),
                            process: p.to_string(),
                            f: op.f.clone(),
                        });
                    };
                    calls[c].complete = Some(pos);
                    calls[c].outcome = done;
                }
            }
        }
        Ok(calls)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn jsonl_line_round_trips_with_extras() {
        let line = r#"{"index":3,"time":9000001,"type":"info","process":1,"f":"cas","key":"k3","value":[4,1],"error":"timeout","trace":"x"}"#;
        let op: Op = serde_json::from_str(line).unwrap();
        assert_eq!(op.op_type, OpType::Info);
        assert_eq!(op.process, Process::Client(1));
        assert_eq!(op.key, Some(json!("k3")));
        assert_eq!(op.extra.get("trace"), Some(&json!("x")));
        let back: Value = serde_json::from_str(&serde_json::to_string(&op).unwrap()).unwrap();
        assert_eq!(back, serde_json::from_str::<Value>(line).unwrap());
    }

    #[test]
    fn nemesis_process_parses() {
        let op: Op = serde_json::from_str(
            r#"{"index":4,"time":1,"type":"info","process":"nemesis","f":"start-partition","value":{"n1":["n2"]}}"#,
        )
        .unwrap();
        assert!(op.process.is_nemesis());
        assert!(serde_json::from_str::<Op>(
            r#"{"index":0,"time":0,"type":"ok","process":-1,"f":"read"}"#
        )
        .is_err());
    }

    #[test]
    fn pairing_keeps_info_open_and_skips_nemesis() {
        let h = History::new(vec![
            Op::new(0, 0, OpType::Invoke, Process::Client(0), "write", json!(1)),
            Op::new(
                1,
                1,
                OpType::Invoke,
                Process::Client(1),
                "read",
                Value::Null,
            ),
            Op::new(
                2,
                2,
                OpType::Info,
                Process::Nemesis,
                "start-partition",
                Value::Null,
            ),
            Op::new(3, 3, OpType::Ok, Process::Client(0), "write", json!(1)),
            Op::new(4, 4, OpType::Info, Process::Client(1), "read", Value::Null),
            Op::new(5, 5, OpType::Invoke, Process::Client(2), "write", json!(2)),
        ]);
        let calls = h.pair().unwrap();
        assert_eq!(calls.len(), 3);
        assert_eq!((calls[0].outcome, calls[0].complete), (OpType::Ok, Some(3)));
        assert_eq!(
            (calls[1].outcome, calls[1].complete),
            (OpType::Info, Some(4))
        );
        assert_eq!((calls[2].outcome, calls[2].complete), (OpType::Info, None));
    }

    #[test]
    fn pairing_rejects_orphan_completion_and_double_invoke() {
        let orphan = History::new(vec![Op::new(
            0,
            0,
            OpType::Ok,
            Process::Client(0),
            "read",
            json!(1),
        )]);
        assert!(matches!(
            orphan.pair(),
            Err(PairError::CompletionWithoutInvoke { .. })
        ));
        let double = History::new(vec![
            Op::new(
                0,
                0,
                OpType::Invoke,
                Process::Client(0),
                "read",
                Value::Null,
            ),
            Op::new(
                1,
                1,
                OpType::Invoke,
                Process::Client(0),
                "read",
                Value::Null,
            ),
        ]);
        assert!(matches!(double.pair(), Err(PairError::DoubleInvoke { .. })));
    }
}
