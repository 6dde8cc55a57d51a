//! Readers and writers of history files: our JSONL (DESIGN.md section 4), Jepsen EDN, and
//! Porcupine's two test-data formats (`checker/tests/data/porcupine/README.md`); format
//! detection by content; the JSONL writer used to convert any of them.
//!
//! After reading, every history is checked for contradictions ([`consistency`]): errors
//! name the line, what Jepsen does legitimately is a warning.
//!
//! Every reader numbers ops densely (`index` = position, except JSONL which keeps its own
//! indices when present) and records the 1-based source line of each op in `Op::line`.
//! Formats without times use the op's position as its `time`. No reader panics on any
//! input: malformed input is a [`FormatError`] naming the file, line (and column where
//! useful) and what was expected.

mod consistency;
mod edn;
mod jepsen;
mod jsonl;
mod porcupine;

pub use edn::{parse_all as parse_edn, EdnError};

use crate::history::{History, Op};
use crate::model::FailedOps;
use std::fmt;
use std::io::{self, Write};
use std::path::Path;
use std::str::FromStr;

/// A history file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Our `history.jsonl`: one JSON op per line.
    Jsonl,
    /// Jepsen EDN: a vector/list of op maps, or one op map per line.
    Edn,
    /// Porcupine's etcd Jepsen text log (`INFO  jepsen.util - <process> :<type> :<f> <value>`).
    PorcupineEtcd,
    /// Porcupine's kv log: `{:process P, :type :T, :f :F, :key "K", :value V}` per line.
    PorcupineKv,
}

impl Format {
    pub const ALL: [Format; 4] = [
        Format::Jsonl,
        Format::Edn,
        Format::PorcupineEtcd,
        Format::PorcupineKv,
    ];

    /// How this format's failed operations are read unless the user says otherwise:
    /// JSONL and EDN (Jepsen, Knossos) `ignore`, Porcupine's two logs `observe`.
    pub fn default_failed_ops(self) -> FailedOps {
        match self {
            Format::Jsonl | Format::Edn => FailedOps::Ignore,
            Format::PorcupineEtcd | Format::PorcupineKv => FailedOps::Observe,
        }
    }

    /// The name used on the command line (`--format`).
    pub fn name(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Edn => "edn",
            Format::PorcupineEtcd => "porcupine-etcd",
            Format::PorcupineKv => "porcupine-kv",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
                format!(
                    "unknown format `{s}` (expected one of: {})",
                    names.join(", ")
                )
            })
    }
}

/// A history read from text, the format it was read as, and non-fatal problems (a torn
/// last line, an empty file).
#[derive(Debug, Clone, PartialEq)]
pub struct ReadOutcome {
    pub history: History,
    pub format: Format,
    pub warnings: Vec<String>,
}

impl ReadOutcome {
    /// The reading of failed operations this history's format implies
    /// ([`Format::default_failed_ops`]); a check uses it unless the user overrides it.
    pub fn default_failed_ops(&self) -> FailedOps {
        self.format.default_failed_ops()
    }
}

/// What kind of problem a [`FormatError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatErrorKind {
    /// The file could not be read.
    Io,
    /// No format given and the content matches none.
    Undetected,
    /// The content does not follow the format.
    Syntax,
    /// The history contradicts itself (a completion that does not match its invocation,
    /// indices that repeat or go back).
    Contradiction,
}

/// Why a history could not be read: names the file (when read from one), the 1-based line
/// and column where known, the format, and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct FormatError {
    pub kind: FormatErrorKind,
    pub file: Option<String>,
    pub line: Option<u64>,
    pub column: Option<u64>,
    pub format: Option<Format>,
    pub message: String,
}

impl FormatError {
    pub(crate) fn syntax(
        format: Format,
        line: u64,
        column: Option<u64>,
        message: impl Into<String>,
    ) -> FormatError {
        FormatError {
            kind: FormatErrorKind::Syntax,
            file: None,
            line: Some(line),
            column,
            format: Some(format),
            message: message.into(),
        }
    }

    fn with_file(mut self, file: &Path) -> FormatError {
        self.file = Some(file.display().to_string());
        self
    }
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.file.as_deref().unwrap_or("<input>"))?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        f.write_str(": ")?;
        if let Some(format) = self.format {
            write!(f, "{format} history: ")?;
        }
        f.write_str(&self.message)
    }
}

/// The first line that carries content (not blank, not only an EDN `;` comment).
fn first_content_line(text: &str) -> Option<&str> {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with(';'))
}

/// Guess the format of a history from its content; `None` when nothing matches (including
/// an empty text).
pub fn detect(text: &str) -> Option<Format> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let line = first_content_line(text)?;
    if line.contains("jepsen.util - ") {
        return Some(Format::PorcupineEtcd);
    }
    if let Some(rest) = line.strip_prefix('{') {
        let rest = rest.trim_start();
        if rest.starts_with('"') || rest.starts_with('}') {
            return Some(Format::Jsonl);
        }
        if porcupine::looks_like_kv_line(line) {
            return Some(Format::PorcupineKv);
        }
        if rest.starts_with(':') {
            return Some(Format::Edn);
        }
        return None;
    }
    if line.starts_with('[') || line.starts_with('(') || line.starts_with("#jepsen") {
        return Some(Format::Edn);
    }
    None
}

/// Read a history from text. With `format` `None` the format is detected by content. An
/// empty (or blank) text is an empty history with a warning.
pub fn read_str(text: &str, format: Option<Format>) -> Result<ReadOutcome, FormatError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let is_blank = first_content_line(text).is_none();
    let format = match format.or_else(|| detect(text)) {
        Some(f) => f,
        None if is_blank => Format::Jsonl,
        None => {
            let (line, preview) = text
                .lines()
                .enumerate()
                .find(|(_, l)| !l.trim().is_empty())
                .map(|(i, l)| (i as u64 + 1, l.chars().take(60).collect::<String>()))
                .unwrap_or((1, String::new()));
            return Err(FormatError {
                kind: FormatErrorKind::Undetected,
                file: None,
                line: Some(line),
                column: None,
                format: None,
                message: format!(
                    "cannot tell the history format from `{preview}`: expected a JSON op per line \
                     (jsonl), Jepsen EDN op maps (edn), `INFO  jepsen.util - ...` lines \
                     (porcupine-etcd) or `{{:process ..., :key ...}}` lines (porcupine-kv); \
                     name it with --format"
                ),
            });
        }
    };
    let mut outcome = match format {
        Format::Jsonl => jsonl::read(text)?,
        Format::Edn => jepsen::read(text)?,
        Format::PorcupineEtcd => porcupine::read_etcd(text)?,
        Format::PorcupineKv => porcupine::read_kv(text)?,
    };
    let contradictions = consistency::check(&outcome.history, format)?;
    outcome.warnings.extend(contradictions);
    if outcome.history.is_empty() {
        outcome
            .warnings
            .push("the history has no operations".to_string());
    }
    Ok(outcome)
}

/// Read a history file. Errors name the file.
pub fn read_file(path: &Path, format: Option<Format>) -> Result<ReadOutcome, FormatError> {
    let bytes = std::fs::read(path).map_err(|e| {
        FormatError {
            kind: FormatErrorKind::Io,
            file: None,
            line: None,
            column: None,
            format,
            message: format!("cannot read the file: {e}"),
        }
        .with_file(path)
    })?;
    read_bytes(&bytes, format).map_err(|e| e.with_file(path))
}

/// Read a history from bytes (a file's or standard input's content): UTF-8 text as
/// [`read_str`]; invalid UTF-8 is an error naming the line, except in a torn last line of
/// a JSONL history, which is skipped with a warning.
pub fn read_bytes(bytes: &[u8], format: Option<Format>) -> Result<ReadOutcome, FormatError> {
    match std::str::from_utf8(bytes) {
        Ok(text) => read_str(text, format),
        Err(_) => read_invalid_utf8(bytes, format),
    }
}

/// Read text that is not valid UTF-8. Only a torn last line of a JSONL history (the final
/// line, without its newline: a crash may cut a multi-byte character) may hold invalid
/// bytes; it is skipped with a warning. Anywhere else invalid UTF-8 is an error naming the
/// line: replacing the bytes could silently change a value.
fn read_invalid_utf8(bytes: &[u8], format: Option<Format>) -> Result<ReadOutcome, FormatError> {
    let bad = match std::str::from_utf8(bytes) {
        Ok(text) => return read_str(text, format),
        Err(u) => u.valid_up_to(),
    };
    let line = bytes[..bad].iter().filter(|&&b| b == b'\n').count() as u64 + 1;
    let line_start = bytes[..bad]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let unterminated = !bytes[bad..].contains(&b'\n');
    let prefix = std::str::from_utf8(&bytes[..line_start]).unwrap_or("");
    if unterminated && first_content_line(prefix).is_some() {
        let mut outcome = read_str(prefix, format)?;
        if outcome.format == Format::Jsonl {
            outcome.warnings.push(format!(
                "line {line}: torn last line skipped (no newline at its end, invalid UTF-8); a crash while appending leaves this"
            ));
            return Ok(outcome);
        }
    }
    Err(FormatError {
        kind: FormatErrorKind::Syntax,
        file: None,
        line: Some(line),
        column: Some((bad - line_start) as u64 + 1),
        format,
        message: "invalid UTF-8: expected text".to_string(),
    })
}

/// Write a history as our JSONL, one op per line.
pub fn write_jsonl<W: Write>(history: &History, mut out: W) -> io::Result<()> {
    for op in &history.ops {
        write_op(op, &mut out)?;
    }
    out.flush()
}

/// Write one op as one JSONL line.
pub fn write_op<W: Write>(op: &Op, out: &mut W) -> io::Result<()> {
    serde_json::to_writer(&mut *out, op).map_err(io::Error::other)?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_format() {
        assert_eq!(
            detect(r#"{"index":0,"time":0,"type":"invoke","process":0,"f":"read"}"#),
            Some(Format::Jsonl)
        );
        assert_eq!(
            detect("INFO  jepsen.util - 2\t:invoke\t:cas\t[3 0]\n"),
            Some(Format::PorcupineEtcd)
        );
        assert_eq!(
            detect("{:process 0, :type :invoke, :f :append, :key \"0\", :value \"x 0 0 y\"}\n"),
            Some(Format::PorcupineKv)
        );
        assert_eq!(
            detect("; history\n[{:type :invoke, :f :read, :process 0}]"),
            Some(Format::Edn)
        );
        assert_eq!(
            detect("{:type :invoke, :f :read, :process 0, :value nil}"),
            Some(Format::Edn)
        );
        assert_eq!(detect(""), None);
        assert_eq!(detect("hello world"), None);
    }

    #[test]
    fn format_names_round_trip() {
        for f in Format::ALL {
            assert_eq!(f.name().parse::<Format>(), Ok(f));
        }
        assert!("yaml"
            .parse::<Format>()
            .unwrap_err()
            .contains("porcupine-kv"));
    }

    #[test]
    fn undetectable_text_is_an_error_naming_the_line() {
        let e = read_str("\n\nhello world\n", None).unwrap_err();
        assert_eq!(e.kind, FormatErrorKind::Undetected);
        assert_eq!(e.line, Some(3));
        assert!(e.to_string().contains("--format"), "{e}");
    }

    #[test]
    fn empty_text_is_an_empty_history_with_a_warning() {
        let r = read_str("  \n", None).unwrap();
        assert!(r.history.is_empty());
        assert_eq!(r.warnings.len(), 1);
    }
}
