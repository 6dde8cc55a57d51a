//! Assembly of `report.html`, in the order a reader asks: the verdict, large; why (the
//! invalid keys' operations and the faults then, or what a valid run exercised, and the
//! key counts; see [`super::why`]); artifact failures and warnings; the counterexamples;
//! the timeline; phases and plots; the fault schedule in words; counts per function and
//! outcome; per-key verdicts; checker details; configuration with the reproduce command;
//! links to the raw files and node logs. Self-contained: inline CSS and JS, no network
//! fetches. Every value from the inputs goes through [`super::escape::html`].

use super::escape::html;
use super::faults::{self, FaultInterval};
use super::load::{text_of, truncate_to, RunData};
use super::notation::{self, fmt_dur, fmt_ns, function_order, marker, OUTCOMES};
use super::output::ArtifactFailure;
use super::phases::Phase;
use super::timeline::Timeline;
use checker::Validity;
use serde_json::Value;
use std::fmt::Write;
use std::path::Path;

/// Rows of the per-key table.
pub const KEY_ROWS: usize = 200;
/// Rows of the fault schedule table.
pub const FAULT_ROWS: usize = 500;
/// Entries listed per node directory.
pub const NODE_FILES: usize = 50;

/// One plot as the page shows it.
pub struct PlotPart {
    /// File stem: `latency-raw`, ...
    pub stem: &'static str,
    pub title: &'static str,
    /// Inline SVG, or the error that prevented it.
    pub svg: Result<String, String>,
    /// Why the PNG could not be written, if it could not.
    pub png_error: Option<String>,
}

/// Everything the page shows.
pub struct PageInput<'a> {
    pub dir: &'a Path,
    /// The page's name when there is no test.json (`check --report`: the history file).
    pub title: Option<&'a str>,
    pub valid: Validity,
    pub results: &'a Value,
    pub test: Option<&'a Value>,
    pub run: &'a RunData,
    pub faults: &'a [FaultInterval],
    pub phases: &'a [Phase],
    /// Empty for untimed histories (no time plots).
    pub plots: Vec<PlotPart>,
    pub timeline: &'a Timeline,
    /// The why/what-was-tested section.
    pub why: String,
    /// Rendered counterexample fragments.
    pub counterexamples: Vec<String>,
    pub failures: &'a [ArtifactFailure],
    pub warnings: &'a [String],
}

const CSS: &str = r#"
body{font-family:system-ui,-apple-system,"DejaVu Sans",sans-serif;margin:0 auto;padding:0 24px 48px;max-width:1320px;color:#222}
h1.verdict{font-size:44px;margin:18px 0 4px;padding:14px 22px;border-radius:8px;color:#fff}
.v-valid{background:#1b7f3b}.v-invalid{background:#c62828}.v-unknown{background:#b26a00}
td.v-valid,td.v-invalid,td.v-unknown,span.v-valid,span.v-invalid,span.v-unknown{color:#fff;font-weight:bold;padding:1px 8px;border-radius:4px}
.sub{color:#555;margin:0 0 14px}
h2{border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:34px}
table{border-collapse:collapse;margin:8px 0;font-size:14px}
th,td{border:1px solid #ddd;padding:3px 9px;text-align:left;vertical-align:top}
th{background:#f3f3f3}
td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.bad td{background:#fdecea}
code,pre{font-family:"DejaVu Sans Mono",monospace;font-size:13px}
pre.cmd{background:#f6f6f6;border:1px solid #ddd;padding:8px;white-space:pre-wrap;word-break:break-all}
.note{color:#666;font-style:italic}
.fail{background:#fdecea;border-left:4px solid #c62828;padding:6px 10px;margin:6px 0}
.warn{background:#fff8e1;border-left:4px solid #b26a00;padding:6px 10px;margin:6px 0}
.plot svg{max-width:100%;height:auto;border:1px solid #eee}
.scroll{overflow-x:auto;border:1px solid #eee;max-height:760px;overflow-y:auto}
.zoom button{margin:4px 4px 4px 0}
.legend span{display:inline-block;margin-right:14px}
.legend i{display:inline-block;width:14px;height:10px;margin-right:4px;vertical-align:middle}
section.cx{border:1px solid #e0b4b4;border-radius:6px;padding:4px 14px 10px;margin:14px 0;background:#fffafa}
nav a{margin-right:12px}
div.keys{max-height:420px;overflow-y:auto;display:inline-block;border:1px solid #eee}
#why{margin-top:8px}#why h2{margin-top:14px}
div.why{border-left:5px solid #c62828;background:#fffafa;padding:2px 14px 6px;margin:10px 0}
.why-ops td,.why-ops th{font-size:14px}
ul.why-faults{margin:4px 0 8px}
i.sw{display:inline-block;width:12px;height:10px;margin-right:6px;opacity:.7;vertical-align:middle}
.kc-invalid{color:#c62828;font-weight:bold}.kc-valid{color:#1b7f3b;font-weight:bold}.kc-undecided{color:#b26a00;font-weight:bold}
.mk{font-size:13px;margin-right:3px}
"#;

fn verdict_class(v: Validity) -> &'static str {
    match v {
        Validity::Valid => "v-valid",
        Validity::Invalid => "v-invalid",
        Validity::Unknown => "v-unknown",
    }
}

fn verdict_of(v: Option<&Value>) -> Validity {
    v.and_then(|v| serde_json::from_value::<Validity>(v.clone()).ok())
        .unwrap_or(Validity::Unknown)
}

/// Quote one argument for a POSIX shell when needed.
pub fn shell_quote(a: &str) -> String {
    if !a.is_empty()
        && a.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        a.to_string()
    } else {
        format!("'{}'", a.replace('\'', r"'\''"))
    }
}

/// Percent-encode one path segment for an href.
pub fn url_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// An RFC 3339 time cut to milliseconds (`…T23:35:06.732566584Z` → `…T23:35:06.732Z`);
/// other text as it is.
pub(crate) fn to_millis(t: &str) -> String {
    match (t.find('.'), t.strip_suffix('Z')) {
        (Some(dot), Some(_))
            if t.len() > dot + 5 && t[dot + 1..t.len() - 1].bytes().all(|b| b.is_ascii_digit()) =>
        {
            format!("{}Z", &t[..dot + 4])
        }
        _ => t.to_string(),
    }
}

/// The name the page shows: test.json's name, else the given title (the history file of
/// `check --report`), else the report directory's own name.
fn page_name(p: &PageInput<'_>) -> String {
    p.test
        .and_then(|t| t.get("name"))
        .map(text_of)
        .or_else(|| p.title.map(str::to_string))
        .unwrap_or_else(|| {
            p.dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
}

/// The page, as one string (all parts are bounded).
pub fn render(p: &PageInput<'_>) -> String {
    let mut h = String::with_capacity(256 * 1024);
    let name = page_name(p);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{} — {}</title><style>{CSS}{}</style></head><body>",
        html(&name),
        p.valid,
        super::timeline::CSS
    );
    let word = match p.valid {
        Validity::Valid => "VALID",
        Validity::Invalid => "INVALID",
        Validity::Unknown => "UNKNOWN",
    };
    let _ = write!(
        h,
        "<h1 class=\"verdict {}\">{word}</h1>",
        verdict_class(p.valid)
    );
    subtitle(&mut h, p, &name);
    h.push_str(&p.why);
    h.push_str("<nav>");
    if !p.counterexamples.is_empty() {
        h.push_str("<a href=\"#counterexample\">counterexample</a>");
    }
    h.push_str("<a href=\"#timeline\">timeline</a>");
    if !p.plots.is_empty() {
        h.push_str("<a href=\"#plots\">phases and plots</a>");
    }
    h.push_str("<a href=\"#faults\">faults</a><a href=\"#counts\">counts</a><a href=\"#keys\">keys</a><a href=\"#checkers\">checkers</a><a href=\"#config\">configuration</a><a href=\"#files\">files</a></nav>");
    for f in p.failures {
        let _ = write!(
            h,
            "<div class=\"fail\">Could not produce <b>{}</b>: {}</div>",
            html(&f.artifact),
            html(&f.message)
        );
    }
    for w in p.warnings {
        let _ = write!(h, "<div class=\"warn\">{}</div>", html(w));
    }
    if !p.counterexamples.is_empty() {
        h.push_str("<h2 id=\"counterexample\">Counterexample</h2>");
        for c in &p.counterexamples {
            h.push_str(c);
        }
    }
    timeline(&mut h, p);
    plots(&mut h, p);
    fault_table(&mut h, p);
    counts(&mut h, p);
    keys(&mut h, p);
    checkers(&mut h, p);
    config(&mut h, p);
    files(&mut h, p);
    let _ = writeln!(
        h,
        "<script>{}</script><script>{}</script></body></html>",
        super::counterexample::ZOOM_JS,
        super::timeline::SCRIPT
    );
    h
}

fn subtitle(h: &mut String, p: &PageInput<'_>, name: &str) {
    let ops = p
        .results
        .get("ops")
        .map(text_of)
        .unwrap_or_else(|| p.run.calls.len().to_string());
    let checked_ms = p.results.get("elapsed_ms").and_then(Value::as_f64);
    let span = if p.run.untimed {
        "no real times (events in order only)".to_string()
    } else {
        format!("history spans {}", fmt_ns(p.run.span_ns()))
    };
    let _ = write!(
        h,
        "<p class=\"sub\">{} <b>{}</b>{} · {} client operations · {} history events · {span}{}</p>",
        if p.test.is_some() { "Test" } else { "History" },
        html(name),
        p.test
            .and_then(|t| t.get("start_time"))
            .map(|s| format!(" started {}", html(&to_millis(&text_of(s)))))
            .unwrap_or_default(),
        html(&ops),
        p.run.events,
        checked_ms
            .map(|ms| format!(" · checked in {ms:.0} ms"))
            .unwrap_or_default()
    );
}

fn config(h: &mut String, p: &PageInput<'_>) {
    h.push_str("<h2 id=\"config\">Configuration</h2>");
    let Some(t) = p.test else {
        h.push_str(
            "<p class=\"note\">No test.json: this report was made from a history file alone.</p>",
        );
        return;
    };
    h.push_str("<table><tbody>");
    let fields = [
        ("name", "name"),
        ("seed", "seed"),
        ("workload", "workload"),
        ("nemesis", "nemesis"),
        ("network", "net"),
        ("nodes", "nodes"),
        ("concurrency", "concurrency"),
        ("time limit (s)", "time_limit_s"),
        ("database", "db"),
        ("bugs enabled", "bugs"),
        ("start time", "start_time"),
        ("harness version", "harness_version"),
        ("git SHA", "git_sha"),
    ];
    let script = t.get("nemesis_script").and_then(Value::as_str);
    for (label, k) in fields {
        if let Some(v) = t.get(k) {
            let shown = match v {
                _ if k == "nemesis" && script.is_some() => {
                    format!("script {}", script.unwrap_or_default())
                }
                Value::Array(a) if a.is_empty() => "none".to_string(),
                Value::Array(a) => a.iter().map(text_of).collect::<Vec<_>>().join(", "),
                Value::Null => "—".into(),
                other => text_of(other),
            };
            let _ = write!(
                h,
                "<tr><th>{label}</th><td>{}</td></tr>",
                html(&truncate_to(&shown, 400))
            );
        }
    }
    h.push_str("</tbody></table>");
    if let Some(text) = t.get("nemesis_script_text").and_then(Value::as_str) {
        let _ = write!(
            h,
            "<details><summary>the nemesis script, as the run read it</summary><pre>{}</pre></details>",
            html(&truncate_to(text, 20_000))
        );
    }
    match t.get("argv").and_then(Value::as_array) {
        Some(argv) if !argv.is_empty() => {
            let cmd: Vec<String> = argv.iter().map(|a| shell_quote(&text_of(a))).collect();
            let mut cmd = cmd.join(" ");
            let has_seed = argv
                .iter()
                .any(|a| text_of(a) == "--seed" || text_of(a).starts_with("--seed="));
            if let (false, Some(seed)) = (has_seed, t.get("seed")) {
                let _ = write!(cmd, " --seed {}", shell_quote(&text_of(seed)));
            }
            let _ = write!(h, "<p>Reproduce (same seed, same generator and nemesis decisions):</p><pre class=\"cmd\">{}</pre>", html(&cmd));
        }
        _ => h.push_str("<p class=\"note\">The command line was not recorded.</p>"),
    }
}

fn checkers(h: &mut String, p: &PageInput<'_>) {
    h.push_str("<h2 id=\"checkers\">Checkers</h2>");
    let Some(cs) = p.results.get("checkers").and_then(Value::as_object) else {
        h.push_str("<p class=\"note\">results.json has no per-checker results.</p>");
        return;
    };
    h.push_str(
        "<table><thead><tr><th>checker</th><th>verdict</th><th>details</th></tr></thead><tbody>",
    );
    for (name, c) in cs {
        let v = verdict_of(c.get("valid"));
        let mut detail = String::new();
        if let Some(m) = c.get("model") {
            let _ = write!(detail, "model {} ", text_of(m));
        }
        if let Some(o) = c.get("ops") {
            let _ = write!(detail, "· {} ops ", text_of(o));
        }
        if let Some(ms) = c.get("elapsed_ms").and_then(Value::as_f64) {
            let _ = write!(detail, "· {ms:.0} ms ");
        }
        for k in ["lost", "stale", "unexpected", "error", "unknown_reason"] {
            if let Some(x) = c.get(k) {
                let shown = match x {
                    Value::Array(a) => {
                        format!("{} ({})", a.len(), truncate_to(&x.to_string(), 120))
                    }
                    other => truncate_to(&text_of(other), 200),
                };
                let _ = write!(detail, "· {k}: {shown} ");
            }
        }
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"{}\">{}</td><td>{}</td></tr>",
            html(name),
            verdict_class(v),
            v,
            html(detail.trim())
        );
    }
    h.push_str("</tbody></table>");
}

fn counts(h: &mut String, p: &PageInput<'_>) {
    h.push_str("<h2 id=\"counts\">Operations by function and outcome</h2>");
    let timed = !p.run.untimed;
    let secs = (p.run.span_ns() as f64 / 1e9).max(1e-9);
    h.push_str("<table><thead><tr><th>function</th>");
    for o in OUTCOMES {
        let _ = write!(
            h,
            "<th><i class=\"sw\" style=\"background:{}\"></i>{o}</th>",
            notation::css(notation::outcome_rgb(o))
        );
    }
    h.push_str("<th>total</th>");
    if timed {
        h.push_str("<th>ok/s</th><th>total/s</th>");
    }
    h.push_str("<th>ok %</th></tr></thead><tbody>");
    let mut sum = super::load::Counts::default();
    let row = |h: &mut String, name: &str, c: &super::load::Counts, glyph: Option<char>| {
        let t = c.total();
        let pct = if t == 0 {
            0.0
        } else {
            100.0 * c.ok as f64 / t as f64
        };
        let (o, e) = if glyph.is_none() {
            ("<b>", "</b>")
        } else {
            ("", "")
        };
        let mk = glyph
            .map(|g| format!("<span class=\"mk\">{g}</span>"))
            .unwrap_or_default();
        let _ = write!(
            h,
            "<tr><td>{mk}{o}{}{e}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{o}{t}{e}</td>",
            html(name),
            c.ok,
            c.fail,
            c.info
        );
        if timed {
            let _ = write!(
                h,
                "<td class=\"num\">{:.1}</td><td class=\"num\">{:.1}</td>",
                c.ok as f64 / secs,
                t as f64 / secs
            );
        }
        let _ = write!(h, "<td class=\"num\">{pct:.1}</td></tr>");
    };
    for i in function_order(&p.run.fs) {
        let f = &p.run.fs[i];
        let c = p.run.counts[i];
        sum.add(&c);
        row(h, f, &c, Some(marker(f).glyph()));
    }
    row(h, "all", &sum, None);
    h.push_str("</tbody></table><p class=\"note\">ok = happened; fail = definitely did not happen; info = outcome unknown (timeouts, crashes, and calls the history ended before completing). The marker is the one the latency plot draws the function with.");
    if timed {
        h.push_str(" Rates are over the whole history span.");
    }
    h.push_str("</p>");
}

fn keys(h: &mut String, p: &PageInput<'_>) {
    h.push_str("<h2 id=\"keys\">Verdict per key</h2>");
    let Some(keys) = p
        .results
        .pointer("/checkers/linearizable/keys")
        .and_then(Value::as_array)
    else {
        h.push_str("<p class=\"note\">No per-key linearizability results.</p>");
        return;
    };
    let rank = |k: &&Value| -> u8 {
        match verdict_of(k.get("valid")) {
            Validity::Invalid => 0,
            Validity::Unknown => 1,
            Validity::Valid => 2,
        }
    };
    let mut sorted: Vec<&Value> = keys.iter().collect();
    sorted.sort_by_key(rank); // stable: keeps the checker's order within a verdict
    let count = |r: u8| sorted.iter().filter(|k| rank(k) == r).count();
    let _ = write!(
        h,
        "<p>{} key{}: {} invalid, {} valid, {} not decided (invalid first, then not decided).</p>",
        keys.len(),
        if keys.len() == 1 { "" } else { "s" },
        count(0),
        count(2),
        count(1)
    );
    h.push_str("<div class=\"keys\"><table><thead><tr><th>key</th><th>verdict</th><th>ops</th><th>note</th></tr></thead><tbody>");
    for k in sorted.iter().take(KEY_ROWS) {
        let v = verdict_of(k.get("valid"));
        let key = k
            .get("key")
            .map_or("(whole history)".to_string(), |x| match x {
                Value::Null => "(whole history)".into(),
                other => text_of(other),
            });
        let note = if k.get("counterexample").is_some() {
            "counterexample below".to_string()
        } else {
            k.get("unknown_reason").map(text_of).unwrap_or_default()
        };
        let _ = write!(
            h,
            "<tr><td><code>{}</code></td><td class=\"{}\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            html(&truncate_to(&key, 120)),
            verdict_class(v),
            v,
            html(&k.get("ops").map(text_of).unwrap_or_default()),
            html(&truncate_to(&note, 300))
        );
    }
    h.push_str("</tbody></table></div>");
    if sorted.len() > KEY_ROWS {
        let _ = write!(h, "<p class=\"note\">Showing {KEY_ROWS} of {} keys (all invalid and unknown keys come first); results.json has them all.</p>", sorted.len());
    }
}

fn fault_legend(h: &mut String, p: &PageInput<'_>) {
    let kinds = faults::kinds(p.faults);
    if kinds.is_empty() {
        return;
    }
    h.push_str("<p class=\"legend\">Fault shading: ");
    for k in kinds {
        let _ = write!(
            h,
            "<span><i style=\"background:{};opacity:.5\"></i>{}</span>",
            faults::css(&k),
            html(&k)
        );
    }
    h.push_str("</p>");
}

fn fault_table(h: &mut String, p: &PageInput<'_>) {
    h.push_str("<h2 id=\"faults\">Faults</h2>");
    if p.run.nemesis.is_empty() {
        h.push_str("<p>No nemesis events: no faults were injected.</p>");
        return;
    }
    fault_legend(h, p);
    h.push_str("<table><thead><tr><th>kind</th><th>what</th><th>from</th><th>to</th><th>duration</th><th>raw event</th></tr></thead><tbody>");
    for iv in p.faults.iter().take(FAULT_ROWS) {
        let _ = write!(
            h,
            "<tr><td><i class=\"sw\" style=\"background:{}\"></i>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td><code>{}</code></td></tr>",
            faults::css(&iv.kind),
            html(&iv.kind),
            html(&iv.words()),
            fmt_ns(iv.start_ns),
            if iv.open_ended { "end (never undone)".into() } else { fmt_ns(iv.end_ns) },
            fmt_ns(iv.end_ns - iv.start_ns),
            html(&truncate_to(&iv.raw.join(" "), 200))
        );
    }
    h.push_str("</tbody></table><details><summary>Every nemesis event, as recorded</summary><table><thead><tr><th>time</th><th>event</th><th>f</th><th>value</th></tr></thead><tbody>");
    for e in p.run.nemesis.iter().take(FAULT_ROWS) {
        let _ = write!(
            h,
            "<tr><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td><code>{}</code></td></tr>",
            fmt_ns(e.time_ns),
            e.index,
            html(&e.f),
            html(&truncate_to(&e.value.to_string(), 300))
        );
    }
    h.push_str("</tbody></table></details>");
    if p.run.nemesis.len() > FAULT_ROWS || p.faults.len() > FAULT_ROWS {
        let _ = write!(
            h,
            "<p class=\"note\">Only the first {FAULT_ROWS} rows are shown.</p>"
        );
    }
}

fn phases_table(h: &mut String, p: &PageInput<'_>) {
    if p.phases.is_empty() {
        return;
    }
    h.push_str("<h3>Phases of the run</h3><table><thead><tr><th>phase</th><th>from</th><th>to</th><th>duration</th><th>what happens</th></tr></thead><tbody>");
    for ph in p.phases {
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            ph.name,
            fmt_ns(ph.start_ns),
            fmt_ns(ph.end_ns),
            fmt_dur(ph.end_ns - ph.start_ns),
            html(ph.what)
        );
    }
    h.push_str("</tbody></table><p class=\"note\">Times count from the start of the history. The plots and the timeline mark where each phase after the main one begins (dashed lines).</p>");
}

fn plot_note(stem: &str, p: &PageInput<'_>) -> String {
    let done = p.run.calls.iter().filter(|c| !c.is_open()).count();
    match stem {
        "latency-raw" if done > super::plots::SVG_POINT_CAP => format!(
            "The inline drawing is sampled: at most {} of the {done} completed operations (every k-th of each function and outcome). {stem}.png draws {}.",
            super::plots::SVG_POINT_CAP,
            if done <= super::plots::PNG_POINT_CAP {
                "every one of them".to_string()
            } else {
                format!("at most {}", super::plots::PNG_POINT_CAP)
            }
        ),
        "latency-raw" => format!("Every one of the {done} completed operations is drawn."),
        super::agreement::STEM => super::agreement::note(&super::agreement::cells(p.results)),
        "rate" if super::phases::final_reads_start(p.phases).is_some() => {
            "The final reads are left out (a burst of reads of every key on every node that would squash the scale), and so is the recovery before them (no operations): this plot covers the main phase and the heal. The counts table includes everything.".to_string()
        }
        _ => String::new(),
    }
}

fn plots(h: &mut String, p: &PageInput<'_>) {
    if p.run.untimed {
        h.push_str("<h2 id=\"plots\">Plots</h2><p>This history has no real times (every event's time is its position, as in Porcupine's and untimed Jepsen histories), so there are no latency or rate plots: the counterexample, the timeline (in event order) and the tables show it.</p>");
        return;
    }
    h.push_str("<h2 id=\"plots\">Phases and plots</h2>");
    phases_table(h, p);
    let marks = if p.counterexamples.is_empty() {
        ""
    } else {
        " A red line marks the first operation of each counterexample."
    };
    let _ = write!(h, "<p class=\"note\">Fault periods are shaded, one colour per kind.{marks} Colours and markers are fixed: ok, fail and info always have the same colours, and each function the same marker, in every report.</p>");
    for PlotPart {
        stem,
        title,
        svg,
        png_error: png_err,
    } in &p.plots
    {
        let _ = write!(h, "<h3>{}</h3><div class=\"plot\">", html(title));
        match svg {
            Ok(s) => h.push_str(s),
            Err(e) => {
                let _ = write!(
                    h,
                    "<div class=\"fail\">The SVG of this plot failed: {}</div>",
                    html(e)
                );
            }
        }
        h.push_str("</div><p>");
        let note = plot_note(stem, p);
        if !note.is_empty() {
            let _ = write!(h, "{} ", html(&note));
        }
        match png_err {
            None => {
                let _ = write!(h, "<a href=\"{stem}.png\">{stem}.png</a> · ");
            }
            Some(e) => {
                let _ = write!(h, "{stem}.png failed: {} · ", html(e));
            }
        }
        if svg.is_ok() {
            let _ = write!(h, "<a href=\"{stem}.svg\">{stem}.svg</a>");
        }
        h.push_str("</p>");
    }
}

fn timeline(h: &mut String, p: &PageInput<'_>) {
    h.push_str("<h2 id=\"timeline\">Timeline</h2>");
    let t = p.timeline;
    if t.total == 0 {
        h.push_str("<p>No client operations.</p>");
        return;
    }
    let swatch = |o| {
        format!(
            "<span style=\"color:{}\">■ {o}</span>",
            notation::css(notation::outcome_rgb(o))
        )
    };
    let legend: Vec<String> = OUTCOMES.iter().map(|o| swatch(*o)).collect();
    let _ = write!(
        h,
        "<p>Pick a window (each counterexample, each fault's start, or a page of the run), a key, or zoom. The top rows are the nemesis: who each fault hit. Below, one row per client process, a bar from invocation to completion: {} (an info bar's thin tail: it may take effect until the end).{} Hover a bar for its call, node and times.",
        legend.join(", "),
        match (p.counterexamples.is_empty(), p.phases.is_empty()) {
            (false, false) => " Outlined bars belong to a counterexample and a red line marks it; dashed lines mark phases.",
            (false, true) => " Outlined bars belong to a counterexample and a red line marks it.",
            (true, false) => " Dashed lines mark phases.",
            (true, true) => "",
        }
    );
    if t.embedded < t.total {
        let _ = write!(
            h,
            " This page holds {} of the {} operations: the windows listed, and {} of the run's {} pages of {} operations, spread evenly.",
            t.embedded, t.total, t.pages_embedded, t.pages, super::timeline::PAGE
        );
    }
    h.push_str("</p>");
    h.push_str(&t.html);
}

fn files(h: &mut String, p: &PageInput<'_>) {
    h.push_str("<h2 id=\"files\">Files</h2><ul>");
    for f in ["history.jsonl", "results.json", "test.json", "harness.log"] {
        if p.dir.join(f).exists() {
            let _ = write!(h, "<li><a href=\"{f}\">{f}</a></li>");
        }
    }
    h.push_str("</ul>");
    let nodes = p.dir.join("nodes");
    let Ok(rd) = std::fs::read_dir(&nodes) else {
        return;
    };
    let mut names: Vec<String> = rd
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    h.push_str("<h3>Node logs</h3><ul>");
    for n in names.iter().take(NODE_FILES) {
        let _ = write!(
            h,
            "<li><a href=\"nodes/{}/\">{}</a>",
            url_segment(n),
            html(n)
        );
        if let Ok(rd) = std::fs::read_dir(nodes.join(n)) {
            let mut entries: Vec<(String, bool)> = rd
                .filter_map(|e| e.ok())
                .map(|e| {
                    (
                        e.file_name().to_string_lossy().into_owned(),
                        e.path().is_dir(),
                    )
                })
                .collect();
            entries.sort();
            h.push_str(": ");
            for (i, (e, is_dir)) in entries.iter().take(NODE_FILES).enumerate() {
                if i > 0 {
                    h.push_str(", ");
                }
                let slash = if *is_dir { "/" } else { "" };
                let _ = write!(
                    h,
                    "<a href=\"nodes/{}/{}{slash}\">{}{slash}</a>",
                    url_segment(n),
                    url_segment(e),
                    html(e)
                );
            }
        }
        h.push_str("</li>");
    }
    h.push_str("</ul>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_and_url_segments() {
        assert_eq!(shell_quote("--nemesis"), "--nemesis");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(url_segment("n1"), "n1");
        assert_eq!(url_segment("a b/<"), "a%20b%2F%3C");
    }
}
