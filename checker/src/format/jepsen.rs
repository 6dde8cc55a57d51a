//! Reader of Jepsen EDN histories: either one vector/list of op maps, or one op map per
//! line (`history.edn`). Keys are keywords (`:type :invoke`, `:f :read`, `:process 0` or
//! `:process :nemesis`); keyword values become strings without the colon. `:time` is kept
//! when it is a number (else the op's position is used); `:index` is replaced by the dense
//! position (an original index that differs is kept as `source_index`; original indices
//! must increase in file order, negative ones such as Knossos's -1 are ignored); unknown keys are
//! kept in `Op::extra`. Jepsen `independent` values (`[k v]` tuples) are kept as they are in
//! `value`: splitting them by key is the linearizability search's business.

use super::consistency::IndexOrder;
use super::edn::{EdnError, Located, Parser};
use super::{Format, FormatError, ReadOutcome};
use crate::history::{History, Op, OpType, Process};
use serde_json::{Map, Value};

fn edn_err(format: Format, e: EdnError) -> FormatError {
    FormatError::syntax(format, e.line, Some(e.column), e.message)
}

pub(super) fn read(text: &str) -> Result<ReadOutcome, FormatError> {
    let mut p = Parser::new(text);
    let mut forms: Vec<Located> = Vec::new();
    if let Some(close) = p.open_collection() {
        while let Some(f) = p.next_element(close).map_err(|e| edn_err(Format::Edn, e))? {
            forms.push(f);
        }
        if !p.at_end() {
            let (line, column) = p.position();
            return Err(FormatError::syntax(
                Format::Edn,
                line,
                Some(column),
                "expected the end of the file after the history's closing bracket",
            ));
        }
    } else {
        while !p.at_end() {
            if p.skip_discard().map_err(|e| edn_err(Format::Edn, e))? {
                continue;
            }
            forms.push(p.form().map_err(|e| edn_err(Format::Edn, e))?);
        }
    }
    let mut ops = Vec::with_capacity(forms.len());
    let mut order = IndexOrder::default();
    for form in forms {
        let position = ops.len() as u64;
        let Value::Object(map) = form.value else {
            return Err(FormatError::syntax(
                Format::Edn,
                form.line,
                Some(form.column),
                format!("expected an op map like {{:type :invoke, :f :read, :process 0, :value nil}}, found `{}`", form.value),
            ));
        };
        let index = map.get("index").and_then(Value::as_u64);
        order.next(index, form.line, Format::Edn)?;
        ops.push(op_from_map(map, position, form.line, Format::Edn)?);
    }
    Ok(ReadOutcome {
        history: History::new(ops),
        format: Format::Edn,
        warnings: Vec::new(),
    })
}

/// Build an op from a converted EDN map (keys without colons).
pub(super) fn op_from_map(
    mut map: Map<String, Value>,
    position: u64,
    line: u64,
    format: Format,
) -> Result<Op, FormatError> {
    let bad = |message: String| FormatError::syntax(format, line, None, message);
    let op_type = match map.remove("type") {
        Some(Value::String(t)) => match t.as_str() {
            "invoke" => OpType::Invoke,
            "ok" => OpType::Ok,
            "fail" => OpType::Fail,
            "info" => OpType::Info,
            other => {
                return Err(bad(format!(
                    "expected :type to be :invoke, :ok, :fail or :info, found :{other}"
                )))
            }
        },
        Some(other) => {
            return Err(bad(format!(
                "expected :type to be :invoke, :ok, :fail or :info, found {other}"
            )))
        }
        None => {
            return Err(bad(
                "missing :type (expected :invoke, :ok, :fail or :info)".to_string()
            ))
        }
    };
    let process = match map.remove("process") {
        Some(Value::Number(n)) if n.as_u64().is_some() => Process::Client(n.as_u64().unwrap_or(0)),
        Some(Value::String(s)) if s == "nemesis" => Process::Nemesis,
        Some(other) => {
            return Err(bad(format!(
                "expected :process to be a non-negative integer or :nemesis, found {other}"
            )))
        }
        None => {
            return Err(bad(
                "missing :process (expected an integer or :nemesis)".to_string()
            ))
        }
    };
    let f = match map.remove("f") {
        Some(Value::String(s)) => s,
        Some(Value::Null) | None => {
            return Err(bad(
                "missing :f (expected the operation's function, e.g. :read)".to_string(),
            ))
        }
        Some(other) => other.to_string(),
    };
    let value = map.remove("value").unwrap_or(Value::Null);
    let time = match map.remove("time") {
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .unwrap_or(position as i64),
        Some(other) => {
            map.insert("source_time".to_string(), other);
            position as i64
        }
        None => position as i64,
    };
    if let Some(idx) = map.remove("index") {
        if idx.as_u64() != Some(position) {
            map.insert("source_index".to_string(), idx);
        }
    }
    // A nil key or error is no key or error (as in JSONL, where `null` reads as absent).
    let error = map.remove("error").filter(|e| !e.is_null());
    let node = match map.remove("node") {
        Some(Value::String(s)) => Some(s),
        Some(other) => {
            map.insert("node".to_string(), other);
            None
        }
        None => None,
    };
    let key = map.remove("key").filter(|k| !k.is_null());
    Ok(Op {
        index: position,
        time,
        op_type,
        process,
        f,
        key,
        value,
        error,
        node: node.filter(|_| !map.contains_key("node")),
        extra: map,
        line: Some(line),
    })
}
