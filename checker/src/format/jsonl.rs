//! Reader of our `history.jsonl` (DESIGN.md section 4): one JSON op object per line. A torn
//! last line (what a crash mid-append leaves) is skipped with a warning; a bad line anywhere
//! else is an error. Missing `index` defaults to the op's position, missing `time` to its
//! position as well.

use super::{Format, FormatError, ReadOutcome};
use crate::history::{History, Op};
use serde::Deserialize;
use serde_json::Value;

pub(super) fn read(text: &str) -> Result<ReadOutcome, FormatError> {
    let lines: Vec<(u64, &str)> = text
        .split('\n')
        .enumerate()
        .map(|(i, l)| (i as u64 + 1, l.strip_suffix('\r').unwrap_or(l)))
        .filter(|(_, l)| !l.trim().is_empty())
        .collect();
    let mut ops = Vec::with_capacity(lines.len());
    let mut warnings = Vec::new();
    let last = lines.len().saturating_sub(1);
    for (i, &(line_no, line)) in lines.iter().enumerate() {
        // Fast path: a complete op straight from the text (our own writer's output).
        if let Ok(mut op) = serde_json::from_str::<Op>(line) {
            op.line = Some(line_no);
            ops.push(op);
            continue;
        }
        // Slow path: fill in defaults, or say exactly what is wrong.
        let value: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e)
                if i == last
                    && matches!(
                        e.classify(),
                        serde_json::error::Category::Eof | serde_json::error::Category::Syntax
                    ) =>
            {
                warnings.push(format!(
                    "line {line_no}: torn last line skipped ({e}); a crash while appending leaves this"
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
        map.entry("index").or_insert_with(|| Value::from(position));
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

fn short(line: &str) -> String {
    let s: String = line.chars().take(40).collect();
    if s.len() < line.len() {
        format!("{s}...")
    } else {
        s
    }
}
