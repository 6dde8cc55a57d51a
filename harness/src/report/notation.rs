//! How the report writes and draws things, the same in every report (a leaf module: the
//! plots, the timeline, the counterexample and the page import it; it imports nothing of
//! the report): times and tick steps, the fixed colour of each outcome, the fixed marker
//! and order of each function, and the one notation of a call (`read → nil`, `write 3`,
//! `cas 3→0 failed: value differed`).

use checker::history::OpType;
use serde_json::Value;
use std::fmt::Write;

/// Seconds with a unit suited to the magnitude, 3 decimals.
pub fn fmt_ns(ns: i64) -> String {
    let a = ns.unsigned_abs();
    if ns == 0 {
        "0 s".to_string()
    } else if a >= 1_000_000_000 {
        format!("{:.3} s", ns as f64 / 1e9)
    } else if a >= 1_000_000 {
        format!("{:.3} ms", ns as f64 / 1e6)
    } else if a >= 1_000 {
        format!("{:.3} µs", ns as f64 / 1e3)
    } else {
        format!("{ns} ns")
    }
}

/// A point in time of a run in seconds with microsecond precision (`3.792036 s`), so that
/// the order of two operations a few µs apart shows.
pub fn fmt_at_us(ns: i64) -> String {
    format!("{:.6} s", ns as f64 / 1e9)
}

/// A tick label in seconds with as many decimals as the tick step needs (`14.70 s` for a
/// step of 50 ms).
pub fn fmt_tick(ns: i64, step_ns: f64) -> String {
    let step_s = (step_ns / 1e9).max(1e-9);
    let decimals = (-step_s.log10().floor()).clamp(0.0, 9.0) as usize;
    format!("{:.*} s", decimals, ns as f64 / 1e9)
}

/// A duration rounded for prose: `1.2 s`, `350 ms`, `40 µs`.
pub fn fmt_dur(ns: i64) -> String {
    let a = ns.unsigned_abs() as f64;
    if a >= 10e9 {
        format!("{:.0} s", a / 1e9)
    } else if a >= 1e9 {
        format!("{:.1} s", a / 1e9)
    } else if a >= 1e6 {
        format!("{:.0} ms", a / 1e6)
    } else if a >= 1e3 {
        format!("{:.0} µs", a / 1e3)
    } else {
        format!("{a:.0} ns")
    }
}

/// A "nice" tick step (1, 2 or 5 × 10^k) for a span so that about `n` ticks fit.
pub fn tick_step(span: f64, n: f64) -> f64 {
    if span <= 0.0 || !span.is_finite() || n <= 0.0 {
        return 1.0;
    }
    let raw = span / n;
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let m = if norm <= 1.0 {
        1.0
    } else if norm <= 2.0 {
        2.0
    } else if norm <= 5.0 {
        5.0
    } else {
        10.0
    };
    m * mag
}

/// Outcomes in the order every table and legend lists them.
pub const OUTCOMES: [OpType; 3] = [OpType::Ok, OpType::Fail, OpType::Info];

/// Colour of an outcome, everywhere (plots, timeline, counterexample, tables).
pub fn outcome_rgb(o: OpType) -> (u8, u8, u8) {
    match o {
        OpType::Ok => (0, 114, 178),
        OpType::Fail => (213, 0, 0),
        OpType::Info | OpType::Invoke => (230, 140, 0),
    }
}

/// CSS `rgb(...)` of a colour.
pub fn css(c: (u8, u8, u8)) -> String {
    format!("rgb({},{},{})", c.0, c.1, c.2)
}

/// The marker a function is drawn with in the latency plot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    Circle,
    Triangle,
    Cross,
    Square,
    Diamond,
}

impl Marker {
    /// The marker as a character, for HTML legends.
    pub fn glyph(self) -> char {
        match self {
            Marker::Circle => '●',
            Marker::Triangle => '▲',
            Marker::Cross => '✕',
            Marker::Square => '■',
            Marker::Diamond => '◆',
        }
    }
}

/// Known functions, in the order tables list them, with their fixed markers. A function
/// not listed here gets a marker from its name's hash and is listed after these, by name.
const FUNCTIONS: [(&str, Marker); 5] = [
    ("read", Marker::Circle),
    ("write", Marker::Triangle),
    ("cas", Marker::Cross),
    ("add", Marker::Square),
    ("read-all", Marker::Diamond),
];

fn name_hash(s: &str) -> usize {
    s.bytes()
        .fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize))
}

/// The marker of function `f`: fixed for known functions, from the name otherwise (so it
/// never depends on which function appeared first).
pub fn marker(f: &str) -> Marker {
    if let Some((_, m)) = FUNCTIONS.iter().find(|(n, _)| *n == f) {
        return *m;
    }
    const ALL: [Marker; 5] = [
        Marker::Circle,
        Marker::Triangle,
        Marker::Cross,
        Marker::Square,
        Marker::Diamond,
    ];
    ALL[name_hash(f) % ALL.len()]
}

/// Sort key of a function: known ones in their fixed order, then the others by name.
pub fn function_rank(f: &str) -> (usize, String) {
    match FUNCTIONS.iter().position(|(n, _)| *n == f) {
        Some(i) => (i, String::new()),
        None => (FUNCTIONS.len(), f.to_string()),
    }
}

/// Indices of `fs` in the fixed function order.
pub fn function_order(fs: &[String]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..fs.len()).collect();
    idx.sort_by_key(|&i| function_rank(&fs[i]));
    idx
}

/// A value as the report writes it: JSON text (strings quoted), `nil` for null.
pub fn value_text(v: &Value) -> String {
    match v {
        Value::Null => "nil".into(),
        other => other.to_string(),
    }
}

/// Checker text (a model state, why a step is illegal) with JSON's `null` spelled `nil`,
/// as the report writes it everywhere; a quoted `"null"` (a string value) is kept.
pub fn nil_for_null(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("null") {
        let before = rest[..i].chars().next_back();
        let after = rest[i + 4..].chars().next();
        let word =
            |c: Option<char>| c.is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '"'));
        out.push_str(&rest[..i]);
        out.push_str(if word(before) && word(after) {
            "nil"
        } else {
            "null"
        });
        rest = &rest[i + 4..];
    }
    out.push_str(rest);
    out
}

/// A key as the report writes it: strings without quotes, `(whole history)` for none.
pub fn key_text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "(whole history)".into(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// Why a failed call did not happen, in words (`value differed` for a cas whose compare
/// failed: error `cas-mismatch`, or none at all as in Jepsen and Porcupine histories).
fn fail_reason(f: &str, error: Option<&str>) -> String {
    match (f, error) {
        ("cas", None | Some("cas-mismatch")) => "value differed".into(),
        (_, None) => "did not happen".into(),
        (_, Some(e)) => e.to_string(),
    }
}

/// The one notation of a call, everywhere in the report: the function and its argument,
/// then what came back. `read → 3`, `read → nil`, `write 3`, `cas 3→0`,
/// `cas 3→0 failed: value differed`, `write 2 → ? (timeout)` (outcome unknown),
/// `read …` (never completed). `output` is the completion's value (ok only).
pub fn call_text(
    f: &str,
    input: &Value,
    output: Option<&Value>,
    outcome: Option<OpType>,
    error: Option<&str>,
) -> String {
    let mut s = f.to_string();
    match (f, input) {
        ("read", Value::Null) => {}
        ("cas", Value::Array(a)) if a.len() == 2 => {
            let _ = write!(s, " {}→{}", value_text(&a[0]), value_text(&a[1]));
        }
        (_, Value::Null) => {}
        (_, v) => {
            let _ = write!(s, " {}", value_text(v));
        }
    }
    match outcome {
        Some(OpType::Ok) => {
            let out = output.unwrap_or(&Value::Null);
            // A read shows what it read; other calls only when the answer adds something.
            if f == "read" || f.starts_with("read") || (out != input && !out.is_null()) {
                let _ = write!(s, " → {}", value_text(out));
            }
        }
        Some(OpType::Fail) => {
            let _ = write!(s, " failed: {}", fail_reason(f, error));
        }
        Some(OpType::Info) => {
            let _ = write!(s, " → ? ({})", error.unwrap_or("outcome unknown"));
        }
        Some(OpType::Invoke) | None => s.push_str(" …"),
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn calls_are_written_one_way() {
        let ok = Some(OpType::Ok);
        assert_eq!(
            call_text("read", &Value::Null, Some(&json!(3)), ok, None),
            "read → 3"
        );
        assert_eq!(
            call_text("read", &Value::Null, Some(&Value::Null), ok, None),
            "read → nil"
        );
        assert_eq!(
            call_text("write", &json!(3), Some(&json!(3)), ok, None),
            "write 3"
        );
        assert_eq!(
            call_text("cas", &json!([3, 0]), None, Some(OpType::Fail), None),
            "cas 3→0 failed: value differed"
        );
        assert_eq!(
            call_text(
                "cas",
                &json!([3, 0]),
                None,
                Some(OpType::Fail),
                Some("cas-mismatch")
            ),
            "cas 3→0 failed: value differed"
        );
        assert_eq!(
            call_text(
                "write",
                &json!(2),
                None,
                Some(OpType::Fail),
                Some("not_leader")
            ),
            "write 2 failed: not_leader"
        );
        assert_eq!(
            call_text(
                "write",
                &json!(2),
                None,
                Some(OpType::Info),
                Some("timeout")
            ),
            "write 2 → ? (timeout)"
        );
        assert_eq!(call_text("read", &Value::Null, None, None, None), "read …");
    }

    #[test]
    fn encodings_do_not_depend_on_order_of_appearance() {
        assert_eq!(marker("read"), Marker::Circle);
        assert_eq!(marker("cas"), Marker::Cross);
        assert_eq!(marker("frobnicate"), marker("frobnicate"));
        let a = vec!["cas".to_string(), "zz".into(), "read".into(), "aa".into()];
        let order: Vec<&str> = function_order(&a).iter().map(|&i| a[i].as_str()).collect();
        assert_eq!(order, vec!["read", "cas", "aa", "zz"]);
    }

    #[test]
    fn null_is_spelled_nil() {
        assert_eq!(
            nil_for_null("read 4 but register is null"),
            "read 4 but register is nil"
        );
        assert_eq!(nil_for_null("null"), "nil");
        assert_eq!(
            nil_for_null(r#"["null", nullable, null]"#),
            r#"["null", nullable, nil]"#
        );
    }

    #[test]
    fn time_formats() {
        assert_eq!(fmt_ns(1_500_000_000), "1.500 s");
        assert_eq!(fmt_ns(2_500_000), "2.500 ms");
        assert_eq!(fmt_ns(2_500), "2.500 µs");
        assert_eq!(fmt_ns(42), "42 ns");
        assert_eq!(fmt_at_us(3_792_035_622), "3.792036 s");
        assert_eq!(fmt_tick(14_700_000_000, 50e6), "14.70 s");
        assert_eq!(fmt_tick(2_000_000_000, 1e9), "2 s");
        assert_eq!(fmt_dur(1_234_000_000), "1.2 s");
        assert_eq!(fmt_dur(350_400_000), "350 ms");
    }

    #[test]
    fn nice_tick_steps() {
        assert_eq!(tick_step(100.0, 10.0), 10.0);
        assert_eq!(tick_step(130.0, 10.0), 20.0);
        assert_eq!(tick_step(0.0, 10.0), 1.0);
        assert!((tick_step(0.4, 10.0) - 0.05).abs() < 1e-12);
    }
}
