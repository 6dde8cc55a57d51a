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

/// Render the counterexample of `key` (display text) as an HTML fragment. `n` numbers
/// the element ids on the page; `untimed`: the times are event positions.
pub fn render(n: usize, key: &str, cx: &Value, untimed: bool) -> String {
    let all: Vec<CxOp> = cx
        .get("ops")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(parse_op).collect())
        .unwrap_or_default();
    let total = all.len();
    let ops: Vec<CxOp> = all.into_iter().take(OP_CAP).collect();
    let prefix: Vec<String> = cx
        .get("longest_prefix")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(|v| text(Some(v))).collect())
        .unwrap_or_default();
    let states: Vec<String> = cx
        .get("states")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|v| truncate_to(&nil_for_null(&text(Some(v))), 200))
                .collect()
        })
        .unwrap_or_default();
    let stuck: HashMap<String, String> = cx
        .get("stuck")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|s| (text(s.get("op")), nil_for_null(&text(s.get("why")))))
                .collect()
        })
        .unwrap_or_default();
    let minimal = cx.get("minimal").and_then(Value::as_bool);
    let original = cx.get("original_ops").and_then(Value::as_u64);
    let pos_in_prefix: HashMap<&str, usize> = prefix
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i + 1))
        .collect();
    let prefix_text = if prefix.is_empty() {
        "(empty: no operation can be linearized first)".to_string()
    } else {
        prefix
            .iter()
            .map(|id| {
                ops.iter().find(|o| o.id == *id).map_or_else(
                    || format!("op {id}"),
                    |o| format!("op {id} {}", label_of(o)),
                )
            })
            .collect::<Vec<_>>()
            .join(" → ")
    };
    let states_text = if states.is_empty() {
        "(none recorded)".to_string()
    } else {
        states.join(" | ")
    };

    let mut h = String::new();
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
        match minimal {
            Some(true) => " (a minimal set: removing any one makes the rest linearizable)",
            Some(false) => " (not proven minimal)",
            None => "",
        },
        original.map(|n| format!(", shrunk from {n} operations")).unwrap_or_default()
    );
    if total > ops.len() {
        let _ = write!(
            h,
            "<p class=\"note\">Only the first {} of {} operations are drawn.</p>",
            ops.len(),
            total
        );
    }

    // The small timeline.
    let times: Vec<i64> = ops
        .iter()
        .flat_map(|o| [o.invoke_time, o.complete_time])
        .flatten()
        .collect();
    if let (Some(&t0), Some(&tmax)) = (times.iter().min(), times.iter().max()) {
        let tail = ((tmax - t0) / 8).max(1);
        let t1 = tmax + tail;
        let span_ms = ((t1 - t0) as f64 / 1e6).max(1e-6);
        let scale = AREA_W / span_ms;
        let mut procs: Vec<&str> = ops.iter().map(|o| o.process.as_str()).collect();
        procs.sort_by(|a, b| match (a.parse::<u64>(), b.parse::<u64>()) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            _ => a.cmp(b),
        });
        procs.dedup();
        let height = AXIS_H + ROW_H * procs.len() as f64 + 6.0;
        let id = format!("cx{n}");
        let _ = write!(
            h,
            r#"<div class="zoom"><button data-zoom-target="{id}" data-zoom="2">zoom in</button><button data-zoom-target="{id}" data-zoom="0.5">zoom out</button><button data-zoom-target="{id}" data-zoom="0">reset</button></div><div class="scroll"><svg id="{id}" class="timeline" xmlns="http://www.w3.org/2000/svg" width="{:.0}" height="{height:.0}" data-span="{span_ms}" data-t0="{t0}" font-family="sans-serif" font-size="11">"#,
            LABEL_W + AREA_W + 10.0
        );
        for (r, p) in procs.iter().enumerate() {
            let y = AXIS_H + r as f64 * ROW_H;
            let _ = write!(
                h,
                r#"<text x="4" y="{:.1}">p{}</text>"#,
                y + ROW_H - 9.0,
                html(p)
            );
        }
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
        for o in &ops {
            let Some(it) = o.invoke_time else { continue };
            let r = procs.iter().position(|p| *p == o.process).unwrap_or(0);
            let y = AXIS_H + r as f64 * ROW_H + 3.0;
            let a = (it - t0) as f64 / 1e6;
            let b = o
                .complete_time
                .map_or(span_ms, |c| (c.max(it) - t0) as f64 / 1e6);
            let (cr, cg, cb) = outcome_rgb(outcome_of(&o.outcome));
            let order = pos_in_prefix.get(o.id.as_str()).copied();
            let why = stuck.get(&o.id);
            let fill_op = if order.is_some() { "0.55" } else { "0.25" };
            let stroke = if why.is_some() {
                r#" stroke="rgb(213,0,0)" stroke-width="2.5""#
            } else {
                r#" stroke="rgb(60,60,60)" stroke-width="0.8""#
            };
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
            match (order, why) {
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
                "\npartial linearization: {prefix_text}\nstates reachable: {states_text}"
            );
            let tip = html(&tip);
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
            let mut lab = String::new();
            if let Some(k) = order {
                let _ = write!(lab, "#{k} ");
            }
            if why.is_some() {
                lab.push_str("✗ ");
            }
            lab.push_str(&truncate_to(&format!("{}: {}", o.id, label_of(o)), 48));
            let _ = write!(
                h,
                r#"<text class="z" data-a="{a}" data-b="{b}" x="{:.1}" y="{:.1}" pointer-events="none">{}</text>"#,
                LABEL_W + a * scale + 2.0,
                y + ROW_H - 11.0,
                html(&lab)
            );
        }
        h.push_str("</svg></div>");
    }

    // Prefix, states and reasons in words.
    let _ = write!(
        h,
        "<p><b>Longest linearizable prefix:</b> {}</p>",
        html(&prefix_text)
    );
    h.push_str("<p><b>Model states reachable after that prefix:</b></p><ul class=\"states\">");
    if states.is_empty() {
        h.push_str("<li>(none recorded)</li>");
    }
    for s in &states {
        let _ = write!(h, "<li><code>{}</code></li>", html(s));
    }
    h.push_str("</ul>");
    h.push_str("<table><thead><tr><th>op</th><th>process</th><th>call</th><th>outcome</th><th>invoked</th><th>completed</th><th>history lines</th><th>in the search</th></tr></thead><tbody>");
    for o in &ops {
        let role = match (pos_in_prefix.get(o.id.as_str()), stuck.get(&o.id)) {
            (Some(k), _) => format!("linearized #{k}"),
            (None, Some(w)) => format!("illegal next: {w}"),
            _ => "—".into(),
        };
        let lines = match (o.invoke_line, o.complete_line) {
            (Some(a), Some(b)) => format!("{a}–{b}"),
            (Some(a), None) => format!("{a}–"),
            _ => o
                .invoke_index
                .map(|i| format!("event {i}"))
                .unwrap_or_default(),
        };
        let cls = if stuck.contains_key(&o.id) {
            " class=\"bad\""
        } else {
            ""
        };
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
            html(&lines),
            html(&role)
        );
    }
    h.push_str("</tbody></table></section>");
    h
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
    fn tolerates_an_empty_or_odd_counterexample() {
        let h = render(1, "k", &json!({"ops": "nope"}), true);
        assert!(h.contains("not linearizable"));
        assert!(!h.contains("<svg"));
    }
}
