//! Reading a run for its report: `history.jsonl` streamed line by line into compact
//! per-call records (no per-op strings), nemesis events and counts ([`read_history`]);
//! then, in a second pass that parses only the lines it needs, the text of a bounded set
//! of calls that the timeline and the why-paragraph show ([`read_details`]);
//! `results.json` and `test.json` as JSON.

use super::notation::call_text;
use super::output::ReportError;
use checker::history::{Op, OpType, Process};
use serde_json::Value;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;

/// Longest text kept per detail field.
const DETAIL_CHARS: usize = 80;

/// Sentinel for "no completion" in [`CallRec::complete_ns`].
pub const OPEN: i64 = i64::MIN;

/// One client operation, invocation paired with completion, in 40 bytes.
#[derive(Debug, Clone, Copy)]
pub struct CallRec {
    pub invoke_ns: i64,
    /// [`OPEN`] when the history ended before the call completed.
    pub complete_ns: i64,
    /// `index` of the invoke event in the history.
    pub invoke_index: u64,
    pub process: u32,
    /// 1-based lines of the invoke and completion events (0: none), for [`read_details`].
    pub invoke_line: u32,
    pub complete_line: u32,
    /// Index into [`RunData::fs`].
    pub f: u16,
    pub outcome: OpType,
}

impl CallRec {
    pub fn is_open(&self) -> bool {
        self.complete_ns == OPEN
    }
    /// Latency in nanoseconds, for completed calls.
    pub fn latency_ns(&self) -> Option<i64> {
        (!self.is_open()).then(|| self.complete_ns.saturating_sub(self.invoke_ns))
    }
    /// When the call ended, or when it was invoked if it never completed.
    pub fn end_ns(&self) -> i64 {
        if self.is_open() {
            self.invoke_ns
        } else {
            self.complete_ns.max(self.invoke_ns)
        }
    }
}

/// Text of one call, for the calls the page shows in detail.
#[derive(Debug, Clone, Default)]
pub struct CallDetail {
    pub key: Option<String>,
    /// The call in the report's notation ([`super::notation::call_text`]).
    pub label: String,
    pub node: Option<String>,
}

/// One nemesis event.
#[derive(Debug, Clone)]
pub struct NemesisEvent {
    pub time_ns: i64,
    pub index: u64,
    pub f: String,
    pub value: Value,
}

/// Counts of one function by outcome. `info` includes calls that never completed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    pub ok: u64,
    pub fail: u64,
    pub info: u64,
}

impl Counts {
    pub fn total(&self) -> u64 {
        self.ok + self.fail + self.info
    }
    pub fn add(&mut self, o: &Counts) {
        self.ok += o.ok;
        self.fail += o.fail;
        self.info += o.info;
    }
}

/// Everything the report needs from a history.
#[derive(Debug, Default)]
pub struct RunData {
    /// Function names of client calls, by first appearance (at most `u16::MAX`); show
    /// them in [`super::notation::function_order`].
    pub fs: Vec<String>,
    /// Every call, in invocation order.
    pub calls: Vec<CallRec>,
    pub nemesis: Vec<NemesisEvent>,
    /// Per function (index into `fs`).
    pub counts: Vec<Counts>,
    /// History events read.
    pub events: u64,
    pub first_ns: i64,
    pub last_ns: i64,
    /// Non-fatal problems: torn last line, malformed lines skipped, pairing anomalies.
    pub warnings: Vec<String>,
    /// Every event's time equals its index: the source had no timestamps (Jepsen or
    /// Porcupine histories converted by `harness check`), so times are positions.
    pub untimed: bool,
}

impl RunData {
    /// Duration of the history in nanoseconds (0 for an empty one).
    pub fn span_ns(&self) -> i64 {
        (self.last_ns - self.first_ns).max(0)
    }

    /// Position in `calls` of the call whose invoke event has history index `index`.
    pub fn position_of(&self, index: u64) -> Option<usize> {
        self.calls
            .binary_search_by_key(&index, |c| c.invoke_index)
            .ok()
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ReportError + '_ {
    move |source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Stream `path` (JSONL history) into a [`RunData`], with the checker's rule for bad
/// lines: only the final line without its newline that does not parse as JSON is torn
/// (what a crash mid-append leaves) and skipped with a warning; any other bad line is an
/// error naming the file and line. I/O errors are fatal.
pub fn read_history(path: &Path) -> Result<RunData, ReportError> {
    let file = super::bounded::open_regular(path).map_err(io_err(path))?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut b = Builder::new();
    let mut line = String::new();
    let mut lineno: u64 = 0;
    loop {
        line.clear();
        let n = reader.read_line(&mut line).map_err(io_err(path))?;
        if n == 0 {
            break;
        }
        lineno += 1;
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        match serde_json::from_str::<Op>(text) {
            Ok(op) => b.push(op, lineno),
            // `read_line` returns a line without its newline only at the end of the file.
            Err(e) if !line.ends_with('\n') && is_torn(&e) => b.torn(lineno, &e.to_string()),
            Err(e) => {
                return Err(ReportError::BadInput {
                    path: path.to_path_buf(),
                    line: Some(lineno),
                    message: format!("expected one history op (a JSON object) per line: {e}"),
                })
            }
        }
    }
    Ok(b.finish())
}

/// Whether a parse error is what a cut-off line gives (the text ends early or breaks off),
/// not a complete line of the wrong shape (the checker's rule).
fn is_torn(e: &serde_json::Error) -> bool {
    use serde_json::error::Category;
    matches!(e.classify(), Category::Eof | Category::Syntax)
}

/// Second pass over `path`: the text of the calls at `positions` (in `run.calls`),
/// parsing only their invoke and completion lines.
pub fn read_details(
    path: &Path,
    run: &RunData,
    positions: &[usize],
) -> Result<HashMap<usize, CallDetail>, ReportError> {
    // line → (position, is the completion)
    let mut wanted: HashMap<u32, (usize, bool)> = HashMap::with_capacity(positions.len() * 2);
    for &p in positions {
        let Some(c) = run.calls.get(p) else { continue };
        wanted.insert(c.invoke_line, (p, false));
        if c.complete_line > 0 {
            wanted.insert(c.complete_line, (p, true));
        }
    }
    let mut inputs: HashMap<usize, Value> = HashMap::with_capacity(positions.len());
    let mut out: HashMap<usize, CallDetail> = HashMap::with_capacity(positions.len());
    let file = super::bounded::open_regular(path).map_err(io_err(path))?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut buf = Vec::new();
    let mut lineno: u32 = 0;
    let mut left = wanted.len();
    while left > 0 {
        buf.clear();
        if reader.read_until(b'\n', &mut buf).map_err(io_err(path))? == 0 {
            break;
        }
        lineno = lineno.saturating_add(1);
        let Some(&(pos, done)) = wanted.get(&lineno) else {
            continue;
        };
        left -= 1;
        let Ok(op) = serde_json::from_slice::<Op>(&buf) else {
            continue;
        };
        let c = &run.calls[pos];
        let f = run.fs.get(c.f as usize).map_or("?", String::as_str);
        if !done {
            out.insert(
                pos,
                CallDetail {
                    key: op.key.as_ref().map(|k| truncate(&text_of(k))),
                    label: truncate(&call_text(f, &op.value, None, None, None)),
                    node: op.node.as_ref().map(|n| truncate(n)),
                },
            );
            inputs.insert(pos, op.value);
        } else if let (Some(d), Some(input)) = (out.get_mut(&pos), inputs.get(&pos)) {
            let error = op.error.as_ref().map(text_of);
            d.label = truncate(&call_text(
                f,
                input,
                Some(&op.value),
                Some(c.outcome),
                error.as_deref(),
            ));
        }
    }
    // Calls that never completed keep the `…` of an invocation; say so.
    for (&p, d) in out.iter_mut() {
        if run.calls[p].is_open() {
            d.label = d.label.replace(" …", " → ? (never completed)");
        }
    }
    Ok(out)
}

struct Builder {
    d: RunData,
    f_ids: HashMap<String, u16>,
    open: HashMap<u64, usize>,
    anomalies: u64,
    first_anomaly: Option<String>,
}

impl Builder {
    fn new() -> Builder {
        Builder {
            d: RunData {
                first_ns: i64::MAX,
                last_ns: i64::MIN,
                untimed: true,
                ..RunData::default()
            },
            f_ids: HashMap::new(),
            open: HashMap::new(),
            anomalies: 0,
            first_anomaly: None,
        }
    }

    fn torn(&mut self, line: u64, msg: &str) {
        self.d.warnings.push(format!(
            "history line {line} is torn (the last line, no newline at its end) and was \
             ignored: {msg}"
        ));
    }

    fn anomaly(&mut self, msg: String) {
        self.anomalies += 1;
        if self.first_anomaly.is_none() {
            self.first_anomaly = Some(msg);
        }
    }

    fn f_id(&mut self, f: &str) -> u16 {
        if let Some(&id) = self.f_ids.get(f) {
            return id;
        }
        if self.d.fs.len() >= u16::MAX as usize {
            // Absurd number of distinct functions: fold the rest into the first.
            return 0;
        }
        let id = self.d.fs.len() as u16;
        self.d.fs.push(f.to_string());
        self.d.counts.push(Counts::default());
        self.f_ids.insert(f.to_string(), id);
        id
    }

    fn push(&mut self, op: Op, lineno: u64) {
        self.d.events += 1;
        self.d.untimed &= op.time == op.index as i64;
        self.d.first_ns = self.d.first_ns.min(op.time);
        self.d.last_ns = self.d.last_ns.max(op.time);
        let line = u32::try_from(lineno).unwrap_or(u32::MAX);
        let p = match op.process {
            Process::Nemesis => {
                self.d.nemesis.push(NemesisEvent {
                    time_ns: op.time,
                    index: op.index,
                    f: op.f,
                    value: op.value,
                });
                return;
            }
            Process::Client(p) => p,
        };
        match op.op_type {
            OpType::Invoke => {
                if self.open.remove(&p).is_some() {
                    // The earlier call stays as never completed.
                    self.anomaly(format!(
                        "process {p} invoked event {} while a call was still open",
                        op.index
                    ));
                }
                let f = self.f_id(&op.f);
                let pos = self.d.calls.len();
                self.d.calls.push(CallRec {
                    invoke_ns: op.time,
                    complete_ns: OPEN,
                    invoke_index: op.index,
                    process: p.min(u32::MAX as u64) as u32,
                    invoke_line: line,
                    complete_line: 0,
                    f,
                    outcome: OpType::Info,
                });
                self.open.insert(p, pos);
            }
            done => {
                let Some(pos) = self.open.remove(&p) else {
                    self.anomaly(format!(
                        "process {p} completed event {} without an open invocation",
                        op.index
                    ));
                    return;
                };
                let c = &mut self.d.calls[pos];
                c.complete_ns = op.time;
                c.complete_line = line;
                c.outcome = done;
            }
        }
    }

    fn finish(mut self) -> RunData {
        for c in &self.d.calls {
            let counts = &mut self.d.counts[c.f as usize];
            match c.outcome {
                OpType::Ok => counts.ok += 1,
                OpType::Fail => counts.fail += 1,
                _ => counts.info += 1,
            }
        }
        if let Some(first) = self.first_anomaly.take() {
            self.d.warnings.push(format!(
                "{} pairing anomalies in the history (first: {first})",
                self.anomalies
            ));
        }
        if self.d.events < 2 {
            self.d.untimed = false;
        }
        if self.d.events == 0 {
            self.d.first_ns = 0;
            self.d.last_ns = 0;
        }
        // Invocation order is history order; keep it sorted by invoke index for lookups.
        if !self
            .d
            .calls
            .windows(2)
            .all(|w| w[0].invoke_index <= w[1].invoke_index)
        {
            self.d.calls.sort_by_key(|c| c.invoke_index);
        }
        self.d
    }
}

/// A JSON value as display text: strings without quotes, everything else as JSON.
pub fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// At most [`DETAIL_CHARS`] characters, with an ellipsis when cut.
pub fn truncate(s: &str) -> String {
    truncate_to(s, DETAIL_CHARS)
}

/// At most `n` characters, with an ellipsis when cut.
pub fn truncate_to(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        None => s.to_string(),
        Some((i, _)) => format!("{}…", &s[..i]),
    }
}

/// The `time` of the last complete event of a JSONL history, reading only its tail
/// (for the index's duration column); `None` when absent or unreadable.
pub fn last_event_time(path: &Path) -> Option<i64> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = super::bounded::open_regular(path).ok()?;
    let len = f.metadata().ok()?.len();
    let from = len.saturating_sub(64 * 1024);
    f.seek(SeekFrom::Start(from)).ok()?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf);
    text.lines().rev().find_map(|l| {
        serde_json::from_str::<Value>(l.trim())
            .ok()?
            .get("time")?
            .as_i64()
    })
}

/// Read an optional JSON file: `Ok(None)` when it does not exist.
pub fn read_json(path: &Path, required: bool) -> Result<Option<Value>, ReportError> {
    let bytes = super::bounded::read_regular(path, super::bounded::MAX_JSON_BYTES);
    let text = match bytes.and_then(|b| {
        String::from_utf8(b).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => return Ok(None),
        Err(source) => {
            return Err(ReportError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| ReportError::BadInput {
            path: path.to_path_buf(),
            line: Some(e.line() as u64),
            message: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A history file of `lines`, each ending with its newline except a last line that
    /// is cut off (ends without `}`), as a crash mid-append leaves it.
    fn history(lines: &[&str]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        for (i, l) in lines.iter().enumerate() {
            if i + 1 == lines.len() && !l.ends_with('}') {
                write!(f, "{l}").unwrap();
            } else {
                writeln!(f, "{l}").unwrap();
            }
        }
        f
    }

    #[test]
    fn pairs_counts_and_skips_torn_tail() {
        let f = history(&[
            r#"{"index":0,"time":10,"type":"invoke","process":0,"f":"write","key":"k1","value":1}"#,
            r#"{"index":1,"time":20,"type":"invoke","process":1,"f":"read","value":null}"#,
            r#"{"index":2,"time":25,"type":"info","process":"nemesis","f":"kill","value":["n1"]}"#,
            r#"{"index":3,"time":30,"type":"ok","process":0,"f":"write","key":"k1","value":1}"#,
            r#"{"index":4,"time":40,"type":"info","process":1,"f":"read","value":null,"error":"timeout"}"#,
            r#"{"index":5,"time":50,"type":"invoke","process":2,"f":"read","value":null,"node":"n2"}"#,
            r#"{"index":6,"time":60,"type":"ok","proc"#,
        ]);
        let d = read_history(f.path()).unwrap();
        assert_eq!(d.events, 6);
        assert_eq!(d.calls.len(), 3);
        assert_eq!(d.fs, vec!["write", "read"]);
        assert_eq!((d.counts[0].ok, d.counts[1].info), (1, 2));
        assert_eq!(d.calls[0].latency_ns(), Some(20));
        assert_eq!((d.calls[1].invoke_line, d.calls[1].complete_line), (2, 5));
        assert!(d.calls[2].is_open());
        assert_eq!(d.nemesis.len(), 1);
        assert_eq!(d.span_ns(), 40);
        assert!(!d.untimed);
        assert_eq!(d.position_of(5), Some(2));
        assert!(
            d.warnings
                .iter()
                .any(|w| w.contains("line 7") && w.contains("torn")),
            "{:?}",
            d.warnings
        );
        let det = read_details(f.path(), &d, &[0, 1, 2]).unwrap();
        assert_eq!(det[&0].label, "write 1");
        assert_eq!(det[&0].key.as_deref(), Some("k1"));
        assert_eq!(det[&1].label, "read → ? (timeout)");
        assert_eq!(det[&2].label, "read → ? (never completed)");
        assert_eq!(det[&2].node.as_deref(), Some("n2"));
        let det = read_details(f.path(), &d, &[1]).unwrap();
        assert_eq!(det.len(), 1);
    }

    #[test]
    fn a_bad_line_that_is_not_a_torn_tail_is_an_error_naming_file_and_line() {
        let good = r#"{"index":0,"time":10,"type":"invoke","process":0,"f":"read","value":null}"#;
        let cut = r#"{"index":1,"time":20,"type":"ok","proc"#;
        let cases = [
            // A cut-off line in the middle.
            format!("{good}\n{cut}\n{good}\n"),
            // A cut-off last line that still ends with its newline.
            format!("{good}\n{cut}\n"),
            // A complete last line of the wrong shape, without its newline.
            format!("{good}\n[1,2]"),
        ];
        for text in cases {
            let mut f = tempfile::NamedTempFile::new().unwrap();
            f.write_all(text.as_bytes()).unwrap();
            let e = read_history(f.path()).unwrap_err().to_string();
            let at = format!("{}:2:", f.path().display());
            assert!(e.starts_with(&at), "{text:?}: {e}");
        }
    }

    #[test]
    fn last_event_time_skips_a_torn_tail() {
        let f = history(&[
            r#"{"index":0,"time":10,"type":"invoke","process":0,"f":"read","value":null}"#,
            r#"{"index":1,"time":7000,"type":"ok","process":0,"f":"read","value":null}"#,
            r#"{"index":2,"time":80"#,
        ]);
        assert_eq!(last_event_time(f.path()), Some(7000));
        assert_eq!(last_event_time(Path::new("/nonexistent/h.jsonl")), None);
    }

    #[test]
    fn truncates_on_char_boundaries() {
        assert_eq!(truncate_to("äöüß", 2), "äö…");
        assert_eq!(truncate_to("ab", 2), "ab");
    }
}
