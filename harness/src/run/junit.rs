//! JUnit XML for CI systems: one `<testsuite>` per run, one `<testcase>` per checker and one
//! per linearizability key. An invalid verdict is a `<failure>` carrying a text summary of
//! the counterexample (or of the checker's lost/stale lists); `unknown` is an `<error>`.
//! Everything is XML-escaped.

use serde_json::Value;
use std::fmt::Write as _;

/// One run's results, as the JUnit writer needs them.
#[derive(Debug, Clone)]
pub struct JunitRun {
    /// The test name.
    pub name: String,
    /// The run folder (shown as a property).
    pub dir: String,
    /// The `results.json` document, or `None` if the run failed before checking.
    pub results: Option<Value>,
    /// Why the run failed, if it did.
    pub error: Option<String>,
    pub seconds: f64,
}

/// Escape text for XML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => {}
            c => out.push(c),
        }
    }
    out
}

struct Case {
    name: String,
    verdict: Value,
    detail: String,
}

fn cases(results: &Value) -> Vec<Case> {
    let mut out = Vec::new();
    let Some(checkers) = results.get("checkers").and_then(Value::as_object) else {
        return out;
    };
    for (name, rep) in checkers {
        let verdict = rep.get("valid").cloned().unwrap_or(Value::Null);
        let detail = match name.as_str() {
            "linearizable" => format!(
                "{} ops in {} keys",
                rep.get("ops").unwrap_or(&Value::Null),
                rep.get("keys")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len)
            ),
            _ => summarize_checker(rep),
        };
        out.push(Case {
            name: name.clone(),
            verdict,
            detail,
        });
        if name == "linearizable" {
            for k in rep
                .get("keys")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let key = match k.get("key") {
                    Some(Value::String(s)) => s.clone(),
                    Some(v) => v.to_string(),
                    None => "?".into(),
                };
                let detail = if let Some(cx) = k.get("counterexample") {
                    summarize_counterexample(cx)
                } else if let Some(r) = k.get("unknown_reason").and_then(Value::as_str) {
                    r.to_string()
                } else {
                    String::new()
                };
                out.push(Case {
                    name: format!("linearizable key {key}"),
                    verdict: k.get("valid").cloned().unwrap_or(Value::Null),
                    detail,
                });
            }
        }
    }
    out
}

fn summarize_checker(rep: &Value) -> String {
    let Some(obj) = rep.as_object() else {
        return String::new();
    };
    let mut s = String::new();
    for (k, v) in obj {
        if k == "valid" {
            continue;
        }
        let text = v.to_string();
        let text: String = text.chars().take(300).collect();
        let _ = writeln!(s, "{k}: {text}");
    }
    s
}

/// A few lines naming the operations that cannot be ordered and why.
pub fn summarize_counterexample(cx: &Value) -> String {
    let mut s = String::new();
    for op in cx
        .get("ops")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .take(20)
    {
        let _ = writeln!(
            s,
            "op {} process {} {} {} -> {} ({}) at index {}",
            op.get("id").unwrap_or(&Value::Null),
            op.get("process").unwrap_or(&Value::Null),
            op.get("f").and_then(Value::as_str).unwrap_or("?"),
            op.get("input").unwrap_or(&Value::Null),
            op.get("output").unwrap_or(&Value::Null),
            op.get("outcome").and_then(Value::as_str).unwrap_or("?"),
            op.get("invoke_index").unwrap_or(&Value::Null),
        );
    }
    for st in cx
        .get("stuck")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .take(10)
    {
        let _ = writeln!(
            s,
            "stuck: op {}: {}",
            st.get("op").unwrap_or(&Value::Null),
            st.get("why").and_then(Value::as_str).unwrap_or("")
        );
    }
    if let Some(states) = cx.get("states").and_then(Value::as_array) {
        let states: Vec<String> = states
            .iter()
            .take(10)
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
            .collect();
        let _ = writeln!(s, "states before: {}", states.join(", "));
    }
    s
}

/// The JUnit XML document of `runs`.
pub fn render(runs: &[JunitRun]) -> String {
    let mut total = 0usize;
    let mut failures = 0usize;
    let mut errors = 0usize;
    let mut suites = String::new();
    for run in runs {
        let cs = run.results.as_ref().map(cases).unwrap_or_default();
        let f = cs
            .iter()
            .filter(|c| c.verdict == Value::Bool(false))
            .count();
        let e = cs.iter().filter(|c| !c.verdict.is_boolean()).count()
            + usize::from(run.error.is_some());
        let n = cs.len() + usize::from(run.error.is_some());
        total += n;
        failures += f;
        errors += e;
        let _ = writeln!(
            suites,
            "  <testsuite name=\"{}\" tests=\"{n}\" failures=\"{f}\" errors=\"{e}\" time=\"{:.3}\">",
            escape(&run.name),
            run.seconds
        );
        let _ = writeln!(
            suites,
            "    <properties><property name=\"results\" value=\"{}\"/></properties>",
            escape(&run.dir)
        );
        if let Some(err) = &run.error {
            let _ = writeln!(
                suites,
                "    <testcase classname=\"{}\" name=\"run\"><error message=\"{}\">{}</error></testcase>",
                escape(&run.name),
                escape(err.lines().next().unwrap_or("")),
                escape(err)
            );
        }
        for c in &cs {
            let _ = write!(
                suites,
                "    <testcase classname=\"{}\" name=\"{}\">",
                escape(&run.name),
                escape(&c.name)
            );
            match &c.verdict {
                Value::Bool(true) => {}
                Value::Bool(false) => {
                    let _ = write!(
                        suites,
                        "<failure message=\"{} is invalid\">{}</failure>",
                        escape(&c.name),
                        escape(&c.detail)
                    );
                }
                _ => {
                    let _ = write!(
                        suites,
                        "<error message=\"{} is unknown\">{}</error>",
                        escape(&c.name),
                        escape(&c.detail)
                    );
                }
            }
            let _ = writeln!(suites, "</testcase>");
        }
        let _ = writeln!(suites, "  </testsuite>");
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"harness\" tests=\"{total}\" failures=\"{failures}\" errors=\"{errors}\">\n{suites}</testsuites>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn one_case_per_checker_and_key_with_escaped_failures() {
        let results = json!({
            "valid": false,
            "checkers": {
                "linearizable": {"valid": false, "ops": 4, "keys": [
                    {"key": "k<1>", "valid": false, "ops": 2, "counterexample": {
                        "ops": [{"id": 3, "process": 1, "f": "read", "input": null, "output": "a&b", "outcome": "ok", "invoke_index": 7}],
                        "stuck": [{"op": 3, "why": "read \"a&b\" but value is 1"}], "states": ["1"]}},
                    {"key": "k2", "valid": "unknown", "ops": 2, "unknown_reason": "budget"}
                ]},
                "stats": {"valid": true, "ok": 3, "fail": 0, "info": 1, "by_f": {}}
            }
        });
        let xml = render(&[JunitRun {
            name: "reg".into(),
            dir: "results/reg/x".into(),
            results: Some(results),
            error: None,
            seconds: 1.5,
        }]);
        assert!(
            xml.contains("tests=\"4\" failures=\"2\" errors=\"1\""),
            "{xml}"
        );
        assert!(xml.contains("name=\"linearizable key k&lt;1&gt;\""));
        assert!(xml.contains("a&amp;b"));
        assert!(!xml.contains("a&b"));
        assert!(xml.contains("<error message=\"linearizable key k2 is unknown\">budget</error>"));
        let failed = render(&[JunitRun {
            name: "r".into(),
            dir: "d".into(),
            results: None,
            error: Some("node n1 <dead>".into()),
            seconds: 0.0,
        }]);
        assert!(failed.contains("errors=\"1\"") && failed.contains("node n1 &lt;dead&gt;"));
    }
}
