//! Reader of our `history.jsonl` (DESIGN.md section 4): one JSON op object per line. A torn
//! last line (what a crash mid-append leaves: the final line, without its newline, that does
//! not parse) is skipped with a warning; any other bad line, including a complete last line
//! that ends with its newline, is an error naming the line. Indices must increase in file
//! order; a missing `index` is one above the previous line's (0 first), a missing `time` the
//! op's position.

use super::consistency::IndexOrder;
use super::{Format, FormatError, ReadOutcome};
use crate::history::{History, Op, OpType, Process};
use serde::Deserialize;
use serde_json::Value;

pub(super) fn read(text: &str) -> Result<ReadOutcome, FormatError> {
    let segments: Vec<&str> = text.split('\n').collect();
    // The final segment is the only line without its newline (empty if the text ends with
    // one): only it can be torn.
    let unterminated = segments.len() as u64;
    let lines: Vec<(u64, &str)> = segments
        .into_iter()
        .enumerate()
        .map(|(i, l)| (i as u64 + 1, l.strip_suffix('\r').unwrap_or(l)))
        .filter(|(_, l)| !l.trim().is_empty())
        .collect();
    let mut ops = Vec::with_capacity(lines.len());
    let mut warnings = Vec::new();
    let mut order = IndexOrder::default();
    for &(line_no, line) in &lines {
        // Fast path: a complete op straight from the text (our own writer's output).
        if let Ok(FastOp(mut op)) = serde_json::from_str::<FastOp>(line) {
            order.next(Some(op.index), line_no, Format::Jsonl)?;
            op.line = Some(line_no);
            ops.push(op);
            continue;
        }
        // Slow path: fill in defaults, or say exactly what is wrong.
        let value: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e)
                if line_no == unterminated
                    && matches!(
                        e.classify(),
                        serde_json::error::Category::Eof | serde_json::error::Category::Syntax
                    ) =>
            {
                warnings.push(format!(
                    "line {line_no}: torn last line skipped (no newline at its end, {e}); a crash while appending leaves this"
                ));
                continue;
            }
            Err(e) => {
                return Err(FormatError::syntax(
                    Format::Jsonl,
                    line_no,
                    Some(e.column() as u64),
                    format!("expected one JSON object per line: {e}"),
                ))
            }
        };
        let Value::Object(mut map) = value else {
            return Err(FormatError::syntax(
                Format::Jsonl,
                line_no,
                None,
                format!("expected a JSON object (an op), found `{}`", short(line)),
            ));
        };
        let position = ops.len() as u64;
        match map.get("index") {
            Some(index) => order.next(index.as_u64(), line_no, Format::Jsonl)?,
            None => {
                map.insert("index".into(), Value::from(order.fill(line_no)));
            }
        }
        map.entry("time").or_insert_with(|| Value::from(position));
        let mut op = Op::deserialize(Value::Object(map)).map_err(|e| {
            FormatError::syntax(
                Format::Jsonl,
                line_no,
                None,
                format!(
                    "expected an op {{\"index\",\"time\",\"type\":\"invoke|ok|fail|info\",\"process\":int|\"nemesis\",\"f\",\"value\"}}: {e}"
                ),
            )
        })?;
        op.line = Some(line_no);
        ops.push(op);
    }
    Ok(ReadOutcome {
        history: History::new(ops),
        format: Format::Jsonl,
        warnings,
    })
}

/// An op deserialized field by field (no `serde(flatten)` buffering, several times faster
/// than the derived impl); requires every mandatory field, so anything unusual falls back to
/// the derived path with its defaults and error messages.
struct FastOp(Op);

impl<'de> Deserialize<'de> for FastOp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(FastOpVisitor)
    }
}

struct FastOpVisitor;

impl<'de> serde::de::Visitor<'de> for FastOpVisitor {
    type Value = FastOp;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an op object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<FastOp, A::Error> {
        use serde::de::Error;
        let (mut index, mut time, mut op_type, mut process, mut f) = (None, None, None, None, None);
        let (mut key, mut value, mut error, mut node) = (None, Value::Null, None, None);
        let mut extra = serde_json::Map::new();
        while let Some(k) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match k.as_ref() {
                "index" => index = Some(map.next_value::<u64>()?),
                "time" => time = Some(map.next_value::<i64>()?),
                "type" => op_type = Some(map.next_value::<OpType>()?),
                "process" => process = Some(map.next_value::<Process>()?),
                "f" => f = Some(map.next_value::<String>()?),
                "key" => key = map.next_value::<Option<Value>>()?,
                "value" => value = map.next_value::<Value>()?,
                "error" => error = map.next_value::<Option<Value>>()?,
                "node" => node = map.next_value::<Option<String>>()?,
                other => {
                    let v = map.next_value::<Value>()?;
                    if extra.insert(other.to_string(), v).is_some() {
                        return Err(A::Error::custom("duplicate key"));
                    }
                }
            }
        }
        let (Some(index), Some(time), Some(op_type), Some(process), Some(f)) =
            (index, time, op_type, process, f)
        else {
            return Err(A::Error::custom("missing field"));
        };
        Ok(FastOp(Op {
            index,
            time,
            op_type,
            process,
            f,
            key,
            value,
            error,
            node,
            extra,
            line: None,
        }))
    }
}

fn short(line: &str) -> String {
    let s: String = line.chars().take(40).collect();
    if s.len() < line.len() {
        format!("{s}...")
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_path_agrees_with_the_derived_deserializer() {
        for line in [
            r#"{"index":3,"time":9000001,"type":"info","process":1,"f":"cas","key":"k3","value":[4,1],"error":"timeout","trace":{"a":[1]}}"#,
            r#"{"index":4,"time":1,"type":"info","process":"nemesis","f":"start-partition","value":{"n1":["n2"]},"node":null,"key":null}"#,
            r#"{"f":"read","type":"ok","process":0,"index":0,"time":-5,"value":null,"node":"n1"}"#,
        ] {
            let fast = serde_json::from_str::<FastOp>(line).unwrap().0;
            let derived = serde_json::from_str::<Op>(line).unwrap();
            assert_eq!(fast, derived, "{line}");
        }
        // Missing fields and wrong types are left to the slow path.
        for line in [
            r#"{"time":1,"type":"ok","process":0,"f":"read"}"#,
            r#"{"index":0,"time":1,"type":"ok","process":-1,"f":"read"}"#,
            r#"{"index":0,"time":1,"type":"ok","process":0,"f":"read","x":1,"x":2}"#,
        ] {
            assert!(serde_json::from_str::<FastOp>(line).is_err(), "{line}");
        }
    }
}
