//! Readers of Porcupine's two test-data formats (see
//! `checker/tests/data/porcupine/README.md`):
//!
//! - etcd Jepsen text logs: `INFO  jepsen.util - <process> :<type> :<f> <value>`, fields
//!   split on any whitespace. A completion whose value is a keyword (`:timed-out`) carries
//!   no result: the keyword becomes `error` and `value` repeats the invocation's argument
//!   (so an `info` write still says what it wrote).
//! - kv logs: one EDN map per line with exactly `:process`, `:type`, `:f` (`:get`, `:put`,
//!   `:append`), `:key` (a string) and `:value` (a string or nil).
//!
//! Neither format has times: each op's position is its `time`.

use super::edn::{parse_all, Parser};
use super::jepsen::op_from_map;
use super::{Format, FormatError, ReadOutcome};
use crate::history::{History, Op, OpType, Process};
use serde_json::Value;
use std::collections::HashMap;

const ETCD_MARK: &str = "jepsen.util - ";
const ETCD_SHAPE: &str = "`INFO  jepsen.util - <process> :<invoke|ok|fail|info> :<f> <value>`";

pub(super) fn read_etcd(text: &str) -> Result<ReadOutcome, FormatError> {
    let mut ops: Vec<Op> = Vec::new();
    let mut open: HashMap<u64, Value> = HashMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line_no = i as u64 + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let bad = |col: Option<u64>, msg: String| {
            FormatError::syntax(Format::PorcupineEtcd, line_no, col, msg)
        };
        let Some(at) = raw.find(ETCD_MARK) else {
            return Err(bad(None, format!("expected {ETCD_SHAPE}")));
        };
        let rest = &raw[at + ETCD_MARK.len()..];
        let col = |field: &str| {
            let offset = field.as_ptr() as usize - raw.as_ptr() as usize;
            Some(raw[..offset].chars().count() as u64 + 1)
        };
        let mut fields = rest.split_whitespace();
        let (Some(proc_s), Some(type_s), Some(f_s)) = (fields.next(), fields.next(), fields.next())
        else {
            return Err(bad(None, format!("expected {ETCD_SHAPE}: missing fields")));
        };
        let process: u64 = proc_s.parse().map_err(|_| {
            bad(
                col(proc_s),
                format!("expected a process number, found `{proc_s}`"),
            )
        })?;
        let op_type = match type_s {
            ":invoke" => OpType::Invoke,
            ":ok" => OpType::Ok,
            ":fail" => OpType::Fail,
            ":info" => OpType::Info,
            other => {
                return Err(bad(
                    col(type_s),
                    format!("expected :invoke, :ok, :fail or :info, found `{other}`"),
                ));
            }
        };
        let Some(f) = f_s.strip_prefix(':').filter(|f| !f.is_empty()) else {
            return Err(bad(
                col(f_s),
                format!("expected a keyword function like :read, found `{f_s}`"),
            ));
        };
        // The value is the rest of the line after the function.
        let after_f = &rest[f_s.as_ptr() as usize - rest.as_ptr() as usize + f_s.len()..];
        let value_text = after_f.trim();
        let (mut value, is_keyword) = if value_text.is_empty() {
            (Value::Null, false)
        } else {
            let forms = parse_all(value_text).map_err(|e| {
                bad(
                    col(value_text).map(|c| c + e.column - 1),
                    format!("expected an EDN value (nil, N or [A B]): {}", e.message),
                )
            })?;
            match <[_; 1]>::try_from(forms) {
                Ok([form]) => (form.value, form.is_keyword),
                Err(_) => {
                    return Err(bad(
                        col(value_text),
                        format!("expected one value, found `{value_text}`"),
                    ))
                }
            }
        };
        let mut error = None;
        match op_type {
            OpType::Invoke => {
                open.insert(process, value.clone());
            }
            _ => {
                let arg = open.remove(&process);
                if is_keyword {
                    error = Some(value);
                    value = arg.unwrap_or(Value::Null);
                }
            }
        }
        let position = ops.len() as u64;
        let mut op = Op::new(
            position,
            position as i64,
            op_type,
            Process::Client(process),
            f,
            value,
        );
        op.error = error;
        op.line = Some(line_no);
        ops.push(op);
    }
    Ok(ReadOutcome {
        history: History::new(ops),
        format: Format::PorcupineEtcd,
        warnings: Vec::new(),
    })
}

/// Whether a line looks like Porcupine's kv format (used by detection).
pub(super) fn looks_like_kv_line(line: &str) -> bool {
    line.starts_with("{:process ")
        && line.contains(":key ")
        && [":f :get", ":f :put", ":f :append"]
            .iter()
            .any(|f| line.contains(f))
}

const KV_SHAPE: &str =
    "`{:process P, :type :invoke|:ok, :f :get|:put|:append, :key \"K\", :value \"V\"|nil}`";

pub(super) fn read_kv(text: &str) -> Result<ReadOutcome, FormatError> {
    let mut ops: Vec<Op> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line_no = i as u64 + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let bad = |col: Option<u64>, msg: String| {
            FormatError::syntax(Format::PorcupineKv, line_no, col, msg)
        };
        let mut p = Parser::new(raw);
        let form = p.form().map_err(|e| {
            bad(
                Some(e.column),
                format!("expected {KV_SHAPE}: {}", e.message),
            )
        })?;
        if !p.at_end() {
            let (_, c) = p.position();
            return Err(bad(
                Some(c),
                format!("expected one map per line, {KV_SHAPE}"),
            ));
        }
        let Value::Object(map) = form.value else {
            return Err(bad(Some(1), format!("expected {KV_SHAPE}")));
        };
        for k in map.keys() {
            if !matches!(k.as_str(), "process" | "type" | "f" | "key" | "value") {
                return Err(bad(
                    None,
                    format!("unexpected key :{k}: expected {KV_SHAPE}"),
                ));
            }
        }
        for k in ["process", "type", "f", "key", "value"] {
            if !map.contains_key(k) {
                return Err(bad(None, format!("missing :{k}: expected {KV_SHAPE}")));
            }
        }
        match map.get("f").and_then(Value::as_str) {
            Some("get" | "put" | "append") => {}
            _ => {
                return Err(bad(
                    None,
                    format!("expected :f to be :get, :put or :append in {KV_SHAPE}"),
                ))
            }
        }
        if !map.get("key").is_some_and(Value::is_string) {
            return Err(bad(
                None,
                format!("expected :key to be a string in {KV_SHAPE}"),
            ));
        }
        if !map
            .get("value")
            .is_some_and(|v| v.is_string() || v.is_null())
        {
            return Err(bad(
                None,
                format!("expected :value to be a string or nil in {KV_SHAPE}"),
            ));
        }
        let position = ops.len() as u64;
        let op = op_from_map(map, position, line_no, Format::PorcupineKv)?;
        if !matches!(op.op_type, OpType::Invoke | OpType::Ok) || op.process.is_nemesis() {
            return Err(bad(
                None,
                format!("expected :type :invoke or :ok and an integer :process in {KV_SHAPE}"),
            ));
        }
        ops.push(op);
    }
    Ok(ReadOutcome {
        history: History::new(ops),
        format: Format::PorcupineKv,
        warnings: Vec::new(),
    })
}
