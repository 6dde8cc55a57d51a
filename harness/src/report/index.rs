//! `results/index.html`: every run of the store (`<name>/<folder>/` holding a
//! results.json or test.json, the folder named `<timestamp>[-seed<N>-<bug>-<VERDICT>]`;
//! `latest` symlinks are skipped), newest first, with verdict colour, name, seed, bug,
//! time, operations, faults, duration and a link to its report.

use super::escape::html;
use super::load::{read_json, text_of, truncate_to};
use super::output::ReportError;
use super::page::url_segment;
use checker::Validity;
use serde_json::Value;
use std::fmt::Write;
use std::path::Path;

/// Most runs listed.
pub const MAX_RUNS: usize = 5000;

/// One run found in the store.
#[derive(Debug, Clone)]
pub struct RunRow {
    /// Shown name: test.json's name, plus the directory name when they differ.
    pub name: String,
    /// The `<test-name>` directory.
    pub dir: String,
    /// The run's directory (`<timestamp>` or `<timestamp>-seed7-...`; sorts by time).
    pub stamp: String,
    /// test.json's seed.
    pub seed: Option<String>,
    /// test.json's `--bug` names, comma-separated (empty: none).
    pub bugs: String,
    pub valid: Option<Validity>,
    pub ops: Option<String>,
    pub faults: String,
    /// Checker time from results.json.
    pub elapsed_ms: Option<f64>,
    /// Time of the history's last event (the run's duration), in nanoseconds.
    pub duration_ns: Option<i64>,
    pub start_time: Option<String>,
    pub has_report: bool,
    /// results.json or test.json could not be read.
    pub problem: Option<String>,
}

fn real_dirs(p: &Path) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(p) else {
        return Vec::new();
    };
    let mut v: Vec<String> = rd
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false)) // symlinks excluded
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    v.sort();
    v
}

/// Every run under `store_root`, newest first (by timestamp directory name, which sorts
/// chronologically), then by name.
pub fn scan(store_root: &Path) -> Vec<RunRow> {
    let mut rows = Vec::new();
    for name in real_dirs(store_root) {
        for stamp in real_dirs(&store_root.join(&name)) {
            let dir = store_root.join(&name).join(&stamp);
            let (rp, tp) = (dir.join("results.json"), dir.join("test.json"));
            if !rp.exists() && !tp.exists() {
                continue;
            }
            let mut problem = None;
            let results = read_json(&rp, false).unwrap_or_else(|e| {
                problem = Some(e.to_string());
                None
            });
            let test = read_json(&tp, false).unwrap_or_else(|e| {
                problem = Some(e.to_string());
                None
            });
            let valid = match &results {
                Some(r) => r
                    .get("valid")
                    .and_then(|v| serde_json::from_value::<Validity>(v.clone()).ok()),
                None => None,
            };
            let faults = match test.as_ref().and_then(|t| t.get("nemesis")) {
                Some(Value::Array(a)) if !a.is_empty() => {
                    a.iter().map(text_of).collect::<Vec<_>>().join(", ")
                }
                Some(Value::String(s)) if !s.is_empty() => s.clone(),
                _ => "none".into(),
            };
            let bugs = match test.as_ref().and_then(|t| t.get("bugs")) {
                Some(Value::Array(a)) => a.iter().map(text_of).collect::<Vec<_>>().join(", "),
                _ => String::new(),
            };
            let shown = test
                .as_ref()
                .and_then(|t| t.get("name"))
                .map(text_of)
                .unwrap_or_else(|| name.clone());
            rows.push(RunRow {
                name: if shown == name {
                    shown
                } else {
                    format!("{shown} ({name})")
                },
                dir: name.clone(),
                stamp: stamp.clone(),
                seed: test.as_ref().and_then(|t| t.get("seed")).map(text_of),
                bugs,
                valid,
                ops: results.as_ref().and_then(|r| r.get("ops")).map(text_of),
                faults,
                elapsed_ms: results
                    .as_ref()
                    .and_then(|r| r.get("elapsed_ms"))
                    .and_then(Value::as_f64),
                start_time: test.as_ref().and_then(|t| t.get("start_time")).map(text_of),
                duration_ns: super::load::last_event_time(&dir.join("history.jsonl")),
                has_report: dir.join("report.html").exists(),
                problem,
            });
        }
    }
    rows.sort_by(|a, b| b.stamp.cmp(&a.stamp).then_with(|| a.dir.cmp(&b.dir)));
    rows
}

/// Write `store_root/index.html`.
pub fn write(store_root: &Path) -> Result<(), ReportError> {
    let rows = scan(store_root);
    let mut h = String::with_capacity(4096 + rows.len() * 400);
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Test runs</title><style>");
    h.push_str(
        "body{font-family:system-ui,\"DejaVu Sans\",sans-serif;margin:0 auto;padding:0 24px 40px;max-width:1320px;color:#222}\
         table{border-collapse:collapse;font-size:14px}th,td{border:1px solid #ddd;padding:4px 10px;text-align:left}\
         th{background:#f3f3f3}td.num{text-align:right}.v{color:#fff;font-weight:bold;text-align:center}\
         .v-valid{background:#1b7f3b}.v-invalid{background:#c62828}.v-unknown{background:#b26a00}.v-none{background:#888}\
         .note{color:#666;font-style:italic}",
    );
    h.push_str("</style></head><body><h1>Test runs</h1>");
    let _ = write!(
        h,
        "<p>{} run{}, newest first.</p>",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" }
    );
    h.push_str("<table><thead><tr><th>verdict</th><th>test</th><th>seed</th><th>bug</th><th>time</th><th>operations</th><th>faults</th><th>duration</th><th>checked in</th><th>report</th></tr></thead><tbody>");
    for r in rows.iter().take(MAX_RUNS) {
        let (cls, word) = match r.valid {
            Some(Validity::Valid) => ("v-valid", "valid"),
            Some(Validity::Invalid) => ("v-invalid", "invalid"),
            Some(Validity::Unknown) => ("v-unknown", "unknown"),
            None => ("v-none", "no verdict"),
        };
        let stamp = r.stamp.as_str();
        let href = format!(
            "{}/{}/{}",
            url_segment(&r.dir),
            url_segment(stamp),
            if r.has_report { "report.html" } else { "" }
        );
        let _ = write!(
            h,
            "<tr><td class=\"v {cls}\">{word}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td><a href=\"{}\">{}</a>{}</td></tr>",
            html(&truncate_to(&r.name, 120)),
            html(r.seed.as_deref().unwrap_or("—")),
            html(&truncate_to(if r.bugs.is_empty() { "none" } else { &r.bugs }, 80)),
            html(&super::page::to_millis(r.start_time.as_deref().unwrap_or(stamp))),
            html(r.ops.as_deref().unwrap_or("—")),
            html(&truncate_to(&r.faults, 120)),
            r.duration_ns.map(super::notation::fmt_ns).unwrap_or_else(|| "—".into()),
            r.elapsed_ms
                .map(|ms| super::notation::fmt_ns((ms * 1e6) as i64))
                .unwrap_or_else(|| "—".into()),
            html(&href),
            if r.has_report { "report" } else { "folder" },
            r.problem.as_ref().map(|p| format!(" <span class=\"note\">({})</span>", html(p))).unwrap_or_default()
        );
    }
    h.push_str("</tbody></table>");
    if rows.len() > MAX_RUNS {
        let _ = write!(
            h,
            "<p class=\"note\">Only the newest {MAX_RUNS} runs are listed.</p>"
        );
    }
    h.push_str("</body></html>\n");
    super::output::write_atomic(&store_root.join("index.html"), h.as_bytes())
}
