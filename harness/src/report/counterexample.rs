//! The counterexample view of an invalid key, in the spirit of Porcupine's visualizer:
//! the minimal operations drawn on their own small timeline (one row per process, a
//! labelled bar per op), the longest linearizable prefix numbered in order, the model
//! states reachable before the stuck operations, and for each stuck op why it is illegal.
//! Hovering a bar shows the op, the partial linearization and the states. Reads the
//! counterexample JSON of the shared contract leniently: missing fields show as blanks.

use super::escape::html;
use super::load::truncate_to;
use super::notation::{call_text, fmt_at_us, fmt_tick, nil_for_null, outcome_rgb, tick_step};
use checker::history::OpType;
use serde_json::Value;
use std::collections::HashMap;
use std::fmt::Write;

/// Most ops drawn for one counterexample (minimal ones are a handful; this bounds a
/// non-minimal one).
pub const OP_CAP: usize = 200;
const ROW_H: f64 = 26.0;
/// Width of the process label column, px.
const LABEL_W: f64 = 70.0;
/// Width of the bars area at zoom 1, px.
const AREA_W: f64 = 1100.0;
const AXIS_H: f64 = 24.0;

struct CxOp {
    id: String,
    process: String,
    f: String,
    input: Value,
    output: Value,
    outcome: String,
    invoke_time: Option<i64>,
    complete_time: Option<i64>,
    invoke_index: Option<u64>,
    invoke_line: Option<u64>,
    complete_line: Option<u64>,
}

fn text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn parse_op(v: &Value) -> CxOp {
    CxOp {
        id: text(v.get("id")),
        process: text(v.get("process")),
        f: text(v.get("f")),
        input: v.get("input").cloned().unwrap_or(Value::Null),
        output: v.get("output").cloned().unwrap_or(Value::Null),
        outcome: text(v.get("outcome")),
        invoke_time: v.get("invoke_time").and_then(Value::as_i64),
        complete_time: v.get("complete_time").and_then(Value::as_i64),
        invoke_index: v.get("invoke_index").and_then(Value::as_u64),
        invoke_line: v.get("invoke_line").and_then(Value::as_u64),
        complete_line: v.get("complete_line").and_then(Value::as_u64),
    }
}

/// History indices of the invoke events of a counterexample's ops.
pub fn invoke_indices(cx: &Value) -> Vec<u64> {
    cx.get("ops")
        .and_then(Value::as_array)
        .map(|ops| {
            ops.iter()
                .filter_map(|o| o.get("invoke_index").and_then(Value::as_u64))
                .collect()
        })
        .unwrap_or_default()
}

fn outcome_of(s: &str) -> OpType {
    match s {
        "ok" => OpType::Ok,
        "fail" => OpType::Fail,
        _ => OpType::Info,
    }
}

/// A counterexample op in the report's one notation of a call.
fn label_of(o: &CxOp) -> String {
    let outcome = (!o.outcome.is_empty()).then(|| outcome_of(&o.outcome));
    truncate_to(
        &call_text(&o.f, &o.input, Some(&o.output), outcome, None),
        80,
    )
}

/// A time of the counterexample: seconds to the µs, or the event position of a history
/// without real times.
fn at(untimed: bool, t: i64) -> String {
    if untimed {
        format!("event {t}")
    } else {
        fmt_at_us(t)
    }
}

/// The parts of a counterexample the view draws, read leniently from its JSON.
struct Counterexample {
    /// How many ops the counterexample has (some may not be drawn, see [`OP_CAP`]).
    total: usize,
    /// The drawn ops: the first [`OP_CAP`].
    ops: Vec<CxOp>,
    prefix: Vec<String>,
    states: Vec<String>,
    /// Stuck op id → why it is illegal next.
    stuck: HashMap<String, String>,
    minimal: Option<bool>,
    /// The checker's label of the counterexample: "minimal" or "reduced".
    label: Option<String>,
    original: Option<u64>,
}

/// The items of the array field `name` of `cx`, mapped by `f` (none if it is no array).
fn array_field<T>(cx: &Value, name: &str, f: impl FnMut(&Value) -> T) -> Vec<T> {
    cx.get(name)
        .and_then(Value::as_array)
        .map(|a| a.iter().map(f).collect())
        .unwrap_or_default()
}

fn parse_counterexample(cx: &Value) -> Counterexample {
    let all = array_field(cx, "ops", parse_op);
    let total = all.len();
    Counterexample {
        total,
        ops: all.into_iter().take(OP_CAP).collect(),
        prefix: array_field(cx, "longest_prefix", |v| text(Some(v))),
        states: array_field(cx, "states", |v| {
            truncate_to(&nil_for_null(&text(Some(v))), 200)
        }),
        stuck: array_field(cx, "stuck", |s| {
            (text(s.get("op")), nil_for_null(&text(s.get("why"))))
        })
        .into_iter()
        .collect(),
        minimal: cx.get("minimal").and_then(Value::as_bool),
        label: cx.get("label").and_then(Value::as_str).map(str::to_string),
        original: cx.get("original_ops").and_then(Value::as_u64),
    }
}

/// What the drawing, the words and the table share: the parsed counterexample, the
/// 1-based position of each op in the longest prefix, and the prefix and states in words.
struct View<'a> {
    cx: &'a Counterexample,
    pos_in_prefix: HashMap<&'a str, usize>,
    prefix_text: String,
    states_text: String,
    untimed: bool,
}

impl<'a> View<'a> {
    fn new(cx: &'a Counterexample, untimed: bool) -> Self {
        let pos_in_prefix = cx
            .prefix
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i + 1))
            .collect();
        let states_text = if cx.states.is_empty() {
            "(none recorded)".to_string()
        } else {
            cx.states.join(" | ")
        };
        View {
            cx,
            pos_in_prefix,
            prefix_text: prefix_in_words(cx),
            states_text,
            untimed,
        }
    }

    /// The 1-based step of op `id` in the longest prefix, if it is in it.
    fn order_of(&self, id: &str) -> Option<usize> {
        self.pos_in_prefix.get(id).copied()
    }
}

/// The longest prefix as "op 7 write(1) → op 9 …".
fn prefix_in_words(cx: &Counterexample) -> String {
    if cx.prefix.is_empty() {
        return "(empty: no operation can be linearized first)".to_string();
    }
    cx.prefix
        .iter()
        .map(|id| {
            cx.ops.iter().find(|o| o.id == *id).map_or_else(
                || format!("op {id}"),
                |o| format!("op {id} {}", label_of(o)),
            )
        })
        .collect::<Vec<_>>()
        .join(" → ")
}

/// Render the counterexample of `key` (display text) as an HTML fragment. `n` numbers
/// the element ids on the page; `untimed`: the times are event positions.
pub fn render(n: usize, key: &str, cx: &Value, untimed: bool) -> String {
    let cx = parse_counterexample(cx);
    let view = View::new(&cx, untimed);
    let mut h = String::new();
    write_intro(&mut h, n, key, &cx);
    write_drawing(&mut h, n, &view);
    write_prefix_and_states(&mut h, &view);
    write_ops_table(&mut h, &view);
    h.push_str("</section>");
    h
}

/// The minimality remark of the intro paragraph.
fn minimality_note(cx: &Counterexample) -> &'static str {
    match cx.minimal {
        Some(true) => " (a minimal set: removing any one makes the rest linearizable)",
        Some(false) if cx.label.as_deref() == Some("reduced") => " (reduced: not proven minimal)",
        Some(false) => " (not proven minimal)",
        None => "",
    }
}

/// The section's heading and the paragraph saying how many ops there are and how to read
/// the drawing (and, if not all are drawn, how many are).
fn write_intro(h: &mut String, n: usize, key: &str, cx: &Counterexample) {
    let total = cx.total;
    let _ = write!(
        h,
        r#"<section class="cx" id="cx{n}"><h3>Key <code>{}</code>: not linearizable</h3>"#,
        html(key)
    );
    let _ = write!(
        h,
        "<p>{} operation{} cannot be linearized together{}{}. Numbered bars are the longest prefix that can be linearized, in order; bars outlined in red are the candidates for the next step, each illegal for the reason given. Hover a bar for details.</p>",
        total,
        if total == 1 { "" } else { "s" },
        minimality_note(cx),
        cx.original
            .map(|n| format!(", shrunk from {n} operations"))
            .unwrap_or_default()
    );
    if total > cx.ops.len() {
        let _ = write!(
            h,
            "<p class=\"note\">Only the first {} of {} operations are drawn.</p>",
            cx.ops.len(),
            total
        );
    }
}

/// The time frame of the drawing: where it starts, its span and its px per ms.
struct Frame {
    t0: i64,
    span_ms: f64,
    scale: f64,
    height: f64,
}

/// The processes of `ops`, numeric ones in numeric order, once each.
fn processes_in_order(ops: &[CxOp]) -> Vec<&str> {
    let mut procs: Vec<&str> = ops.iter().map(|o| o.process.as_str()).collect();
    procs.sort_by(|a, b| match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        _ => a.cmp(b),
    });
    procs.dedup();
    procs
}

/// The small timeline: one row per process, one bar per op (nothing if no op has a time).
fn write_drawing(h: &mut String, n: usize, view: &View<'_>) {
    let ops = &view.cx.ops;
    let times: Vec<i64> = ops
        .iter()
        .flat_map(|o| [o.invoke_time, o.complete_time])
        .flatten()
        .collect();
    let (Some(&t0), Some(&tmax)) = (times.iter().min(), times.iter().max()) else {
        return;
    };
    let tail = ((tmax - t0) / 8).max(1);
    let span_ms = ((tmax + tail - t0) as f64 / 1e6).max(1e-6);
    let procs = processes_in_order(ops);
    let frame = Frame {
        t0,
        span_ms,
        scale: AREA_W / span_ms,
        height: AXIS_H + ROW_H * procs.len() as f64 + 6.0,
    };
    write_svg_open(h, n, &frame);
    write_process_labels(h, &procs);
    write_ticks(h, &frame, view.untimed);
    for o in ops {
        write_bar(h, o, &procs, &frame, view);
    }
    h.push_str("</svg></div>");
}

/// The zoom buttons and the opening `<svg>` tag.
fn write_svg_open(h: &mut String, n: usize, f: &Frame) {
    let id = format!("cx{n}");
    let (height, span_ms, t0) = (f.height, f.span_ms, f.t0);
    let _ = write!(
        h,
        r#"<div class="zoom"><button data-zoom-target="{id}" data-zoom="2">zoom in</button><button data-zoom-target="{id}" data-zoom="0.5">zoom out</button><button data-zoom-target="{id}" data-zoom="0">reset</button></div><div class="scroll"><svg id="{id}" class="timeline" xmlns="http://www.w3.org/2000/svg" width="{:.0}" height="{height:.0}" data-span="{span_ms}" data-t0="{t0}" font-family="sans-serif" font-size="11">"#,
        LABEL_W + AREA_W + 10.0
    );
}

/// "p0", "p1", … at the left of each row.
fn write_process_labels(h: &mut String, procs: &[&str]) {
    for (r, p) in procs.iter().enumerate() {
        let y = AXIS_H + r as f64 * ROW_H;
        let _ = write!(
            h,
            r#"<text x="4" y="{:.1}">p{}</text>"#,
            y + ROW_H - 9.0,
            html(p)
        );
    }
}

/// The time axis: grid lines at round multiples of the tick step, labelled.
fn write_ticks(h: &mut String, f: &Frame, untimed: bool) {
    let (t0, span_ms, scale, height) = (f.t0, f.span_ms, f.scale, f.height);
    h.push_str(r#"<g class="ticks">"#);
    let step = tick_step(span_ms, 8.0);
    // Round tick values: the first multiple of the step at or after t0.
    let t0_ms = t0 as f64 / 1e6;
    let mut t = (t0_ms / step).ceil() * step - t0_ms;
    while t <= span_ms && t * scale + 60.0 <= AREA_W + 10.0 {
        let x = LABEL_W + t * scale;
        let _ = write!(
            h,
            r##"<line x1="{x:.1}" x2="{x:.1}" y1="20" y2="{height}" stroke="#ddd"/><text x="{:.1}" y="12">{}</text>"##,
            x + 2.0,
            if untimed {
                format!("#{}", t0 + (t * 1e6).round() as i64)
            } else {
                fmt_tick(t0 + (t * 1e6).round() as i64, step * 1e6)
            }
        );
        t += step;
    }
    h.push_str("</g>");
}

/// The hover text of an op's bar: the op, its times, its role, the prefix and the states.
fn bar_tooltip(o: &CxOp, it: i64, order: Option<usize>, view: &View<'_>) -> String {
    let untimed = view.untimed;
    let mut tip = format!("op {} (process {}): {}", o.id, o.process, label_of(o));
    let _ = write!(
        tip,
        "\ninvoked {}, {}",
        at(untimed, it),
        o.complete_time
            .map_or("never completed".to_string(), |c| format!(
                "completed {}",
                at(untimed, c)
            ))
    );
    match (order, view.cx.stuck.get(&o.id)) {
        (Some(k), _) => {
            let _ = write!(tip, "\nlinearized as step {k} of the longest prefix");
        }
        (None, Some(w)) => {
            let _ = write!(tip, "\nstuck: {w}");
        }
        _ => {}
    }
    let _ = write!(
        tip,
        "\npartial linearization: {}\nstates reachable: {}",
        view.prefix_text, view.states_text
    );
    tip
}

/// The text on an op's bar: its prefix step, a cross if stuck, the op.
fn bar_label(o: &CxOp, order: Option<usize>, stuck: bool) -> String {
    let mut lab = String::new();
    if let Some(k) = order {
        let _ = write!(lab, "#{k} ");
    }
    if stuck {
        lab.push_str("✗ ");
    }
    lab.push_str(&truncate_to(&format!("{}: {}", o.id, label_of(o)), 48));
    lab
}

/// One op's bar on its process's row, with its label and hover text (none if the op has
/// no invoke time).
fn write_bar(h: &mut String, o: &CxOp, procs: &[&str], f: &Frame, view: &View<'_>) {
    let Some(it) = o.invoke_time else { return };
    let (t0, scale) = (f.t0, f.scale);
    let r = procs.iter().position(|p| *p == o.process).unwrap_or(0);
    let y = AXIS_H + r as f64 * ROW_H + 3.0;
    let a = (it - t0) as f64 / 1e6;
    let b = o
        .complete_time
        .map_or(f.span_ms, |c| (c.max(it) - t0) as f64 / 1e6);
    let (cr, cg, cb) = outcome_rgb(outcome_of(&o.outcome));
    let order = view.order_of(&o.id);
    let stuck = view.cx.stuck.contains_key(&o.id);
    let fill_op = if order.is_some() { "0.55" } else { "0.25" };
    let stroke = if stuck {
        r#" stroke="rgb(213,0,0)" stroke-width="2.5""#
    } else {
        r#" stroke="rgb(60,60,60)" stroke-width="0.8""#
    };
    let tip = html(&bar_tooltip(o, it, order, view));
    let dash = if o.complete_time.is_none() || o.outcome == "info" {
        r#" stroke-dasharray="4 2""#
    } else {
        ""
    };
    let _ = write!(
        h,
        r#"<rect class="z" data-a="{a}" data-b="{b}" x="{:.1}" y="{y}" width="{:.1}" height="{:.0}" rx="3" fill="rgb({cr},{cg},{cb})" fill-opacity="{fill_op}"{stroke}{dash}><title>{tip}</title></rect>"#,
        LABEL_W + a * scale,
        ((b - a) * scale).max(2.0),
        ROW_H - 7.0
    );
    let _ = write!(
        h,
        r#"<text class="z" data-a="{a}" data-b="{b}" x="{:.1}" y="{:.1}" pointer-events="none">{}</text>"#,
        LABEL_W + a * scale + 2.0,
        y + ROW_H - 11.0,
        html(&bar_label(o, order, stuck))
    );
}

/// The longest prefix and the reachable model states, in words.
fn write_prefix_and_states(h: &mut String, view: &View<'_>) {
    let _ = write!(
        h,
        "<p><b>Longest linearizable prefix:</b> {}</p>",
        html(&view.prefix_text)
    );
    h.push_str("<p><b>Model states reachable after that prefix:</b></p><ul class=\"states\">");
    if view.cx.states.is_empty() {
        h.push_str("<li>(none recorded)</li>");
    }
    for s in &view.cx.states {
        let _ = write!(h, "<li><code>{}</code></li>", html(s));
    }
    h.push_str("</ul>");
}

/// Where an op is in the history file: its line range, or its event position.
fn history_lines(o: &CxOp) -> String {
    match (o.invoke_line, o.complete_line) {
        (Some(a), Some(b)) => format!("lines {a}–{b}"),
        (Some(a), None) => format!("line {a}–"),
        _ => o
            .invoke_index
            .map(|i| format!("event {i}"))
            .unwrap_or_default(),
    }
}

/// The table of the ops, one row each, stuck ones marked.
fn write_ops_table(h: &mut String, view: &View<'_>) {
    let untimed = view.untimed;
    h.push_str("<table><thead><tr><th>op</th><th>process</th><th>call</th><th>outcome</th><th>invoked</th><th>completed</th><th>in the history</th><th>in the search</th></tr></thead><tbody>");
    for o in &view.cx.ops {
        let why = view.cx.stuck.get(&o.id);
        let role = match (view.order_of(&o.id), why) {
            (Some(k), _) => format!("linearized #{k}"),
            (None, Some(w)) => format!("illegal next: {w}"),
            _ => "—".into(),
        };
        let cls = if why.is_some() { " class=\"bad\"" } else { "" };
        let _ = write!(
            h,
            "<tr{cls}><td>{}</td><td>p{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            html(&o.id),
            html(&o.process),
            html(&label_of(o)),
            html(&o.outcome),
            o.invoke_time.map(|t| at(untimed, t)).unwrap_or_default(),
            o.complete_time
                .map(|t| at(untimed, t))
                .unwrap_or_else(|| "—".into()),
            html(&history_lines(o)),
            html(&role)
        );
    }
    h.push_str("</tbody></table>");
}

/// The script that zooms every counterexample drawing (`svg.timeline`) on the page:
/// buttons with `data-zoom` multiply the scale; elements with `data-a`/`data-b` are
/// re-positioned and the tick group is rebuilt.
pub const ZOOM_JS: &str = r#"
(function(){
  var LABEL=70, AREA=1100;
  function fmt(ms){ var a=Math.abs(ms); if(ms===0) return '0 s';
    if(a>=1000) return (ms/1000).toFixed(3)+' s'; if(a>=1) return ms.toFixed(3)+' ms';
    if(a>=0.001) return (ms*1000).toFixed(3)+' \u00b5s'; return Math.round(ms*1e6)+' ns'; }
  function step(span,n){ var raw=span/n, mag=Math.pow(10,Math.floor(Math.log10(raw))), m=raw/mag;
    return (m<=1?1:m<=2?2:m<=5?5:10)*mag; }
  function layout(svg, zoom){
    var span=parseFloat(svg.dataset.span), t0=parseFloat(svg.dataset.t0)/1e6;
    var scale=AREA*zoom/span, h=svg.getAttribute('height');
    svg.setAttribute('width', LABEL+AREA*zoom+10);
    svg.querySelectorAll('[data-a]').forEach(function(e){
      var a=parseFloat(e.dataset.a), b=parseFloat(e.dataset.b);
      if(e.tagName==='text'){ e.setAttribute('x', LABEL+a*scale+2); return; }
      e.setAttribute('x', LABEL+a*scale); e.setAttribute('width', Math.max(1,(b-a)*scale));
    });
    var g=svg.querySelector('g.ticks'); if(!g) return;
    while(g.firstChild) g.removeChild(g.firstChild);
    var st=step(span,10*zoom), NS='http://www.w3.org/2000/svg';
    for(var t=0;t<=span && LABEL+t*scale+60<=LABEL+AREA*zoom+10;t+=st){ var x=LABEL+t*scale;
      var l=document.createElementNS(NS,'line'); l.setAttribute('x1',x); l.setAttribute('x2',x);
      l.setAttribute('y1',20); l.setAttribute('y2',h); l.setAttribute('stroke','#ccc'); g.appendChild(l);
      var tx=document.createElementNS(NS,'text'); tx.setAttribute('x',x+2); tx.setAttribute('y',12);
      tx.textContent=fmt(t0+t); g.appendChild(tx); }
  }
  document.querySelectorAll('[data-zoom-target]').forEach(function(btn){
    btn.addEventListener('click', function(){
      var svg=document.getElementById(btn.dataset.zoomTarget); if(!svg) return;
      var z=parseFloat(svg.dataset.zoom||'1')*parseFloat(btn.dataset.zoom);
      if(btn.dataset.zoom==='0') z=1;
      z=Math.max(1,Math.min(z,4096)); svg.dataset.zoom=z; layout(svg,z);
    });
  });
})();
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn draws_ops_prefix_states_and_reasons_escaped() {
        let cx = json!({
            "ops": [
                {"id": 7, "process": 0, "f": "write", "input": 1, "output": 1, "outcome": "ok",
                 "invoke_index": 10, "complete_index": 11, "invoke_time": 1000000, "complete_time": 2000000,
                 "invoke_line": 11, "complete_line": 12},
                {"id": 9, "process": 1, "f": "read", "input": null, "output": "<script>x</script>", "outcome": "ok",
                 "invoke_index": 12, "complete_index": 13, "invoke_time": 2500000, "complete_time": 3000000,
                 "invoke_line": 13, "complete_line": 14}
            ],
            "minimal": true, "longest_prefix": [7], "states": ["1"],
            "stuck": [{"op": 9, "why": "read \"<script>x</script>\" but the value is 1"}],
            "original_ops": 50
        });
        let h = render(0, "k<1>", &cx, false);
        assert!(h.contains("k&lt;1&gt;"));
        assert!(!h.contains("<script>"));
        assert!(h.contains("linearized #1"));
        assert!(h.contains("illegal next: read &quot;&lt;script&gt;"));
        assert!(h.contains("shrunk from 50 operations"));
        assert_eq!(h.matches("<rect").count(), 2);
        assert_eq!(invoke_indices(&cx), vec![10, 12]);
    }

    #[test]
    fn a_reduced_counterexample_says_so() {
        let reduced = json!({"ops": [], "minimal": false, "label": "reduced"});
        let h = render(0, "k", &reduced, false);
        assert!(h.contains("(reduced: not proven minimal)"));
        let unlabelled = json!({"ops": [], "minimal": false});
        let h = render(0, "k", &unlabelled, false);
        assert!(h.contains(" (not proven minimal)"));
        assert!(!h.contains("reduced"));
    }

    #[test]
    fn tolerates_an_empty_or_odd_counterexample() {
        let h = render(1, "k", &json!({"ops": "nope"}), true);
        assert!(h.contains("not linearizable"));
        assert!(!h.contains("<svg"));
    }
}
