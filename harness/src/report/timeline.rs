//! The operation timeline: an inline SVG with one row per process and one bar per call
//! from invocation to completion, coloured by outcome (an `info` call stays open to the
//! end, drawn faded past its completion), fault intervals shaded behind, counterexample
//! operations outlined. Only the window of calls chosen by the loader is drawn (bounded);
//! every positioned element carries `data-a`/`data-b` (ms since the window start) so the
//! page's script can zoom by re-laying them out.

use super::escape::html;
use super::faults::{self, FaultInterval};
use super::load::{CallRec, RunData};
use super::plots::outcome_rgb;
use checker::history::OpType;
use std::collections::HashSet;
use std::fmt::Write;

/// Width of the process label column, px.
pub const LABEL_W: f64 = 70.0;
/// Width of the bars area at zoom 1, px.
pub const AREA_W: f64 = 1100.0;
const ROW_H: f64 = 16.0;
const AXIS_H: f64 = 24.0;

/// Seconds with a unit suited to the magnitude.
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

fn css_rgb(c: (u8, u8, u8)) -> String {
    format!("rgb({},{},{})", c.0, c.1, c.2)
}

/// A "nice" tick step (1, 2 or 5 × 10^k) for a span so that about `n` ticks fit.
pub fn tick_step(span: f64, n: f64) -> f64 {
    if span <= 0.0 || !span.is_finite() {
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

/// What the timeline drew, for the page's caption.
pub struct Timeline {
    pub svg: String,
    pub shown: usize,
    pub total: usize,
    pub start_ns: i64,
    pub end_ns: i64,
    pub processes: usize,
}

/// Draw the timeline of `run.window`. `highlight` holds history indices of invoke events
/// to outline (counterexample operations).
pub fn render(
    id: &str,
    run: &RunData,
    faults_iv: &[FaultInterval],
    highlight: &HashSet<u64>,
) -> Timeline {
    let calls: Vec<(usize, &CallRec)> = run.window.iter().map(|&i| (i, &run.calls[i])).collect();
    let total = run.calls.len();
    if calls.is_empty() {
        return Timeline {
            svg: String::new(),
            shown: 0,
            total,
            start_ns: 0,
            end_ns: 0,
            processes: 0,
        };
    }
    let t0 = calls.iter().map(|(_, c)| c.invoke_ns).min().unwrap_or(0);
    let mut t1 = calls
        .iter()
        .map(|(_, c)| {
            if c.is_open() {
                c.invoke_ns
            } else {
                c.complete_ns.max(c.invoke_ns)
            }
        })
        .max()
        .unwrap_or(t0);
    // Leave a little room on the right for calls that stay open.
    let open_tail = ((t1 - t0) / 20).max(1);
    t1 += open_tail;
    let span_ms = ((t1 - t0) as f64 / 1e6).max(1e-6);
    let scale = AREA_W / span_ms; // px per ms
    let mut procs: Vec<u32> = calls.iter().map(|(_, c)| c.process).collect();
    procs.sort_unstable();
    procs.dedup();
    let row_of = |p: u32| procs.binary_search(&p).unwrap_or(0);
    let height = AXIS_H + ROW_H * procs.len() as f64 + 6.0;
    let width = LABEL_W + AREA_W + 10.0;
    let ms = |ns: i64| (ns - t0) as f64 / 1e6;

    let mut s = String::with_capacity(calls.len() * 220 + 4096);
    let _ = write!(
        s,
        r#"<svg id="{id}" class="timeline" xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" data-scale="{scale}" data-span="{span_ms}" data-t0="{t0}" font-family="sans-serif" font-size="11">"#
    );
    // Row stripes and labels.
    for (r, p) in procs.iter().enumerate() {
        let y = AXIS_H + r as f64 * ROW_H;
        if r % 2 == 1 {
            let _ = write!(
                s,
                r##"<rect x="0" y="{y}" width="100%" height="{ROW_H}" fill="#f4f4f4"/>"##
            );
        }
        let _ = write!(s, r#"<text x="4" y="{:.1}">p{p}</text>"#, y + ROW_H - 4.0);
    }
    // Fault shading, clipped to the window.
    for iv in faults_iv {
        if iv.end_ns < t0 || iv.start_ns > t1 {
            continue;
        }
        let (a, b) = (ms(iv.start_ns.max(t0)), ms(iv.end_ns.min(t1)));
        let _ = write!(
            s,
            r#"<rect class="z" data-a="{a}" data-b="{b}" x="{:.1}" y="{AXIS_H}" width="{:.1}" height="{:.1}" fill="{}" fill-opacity="0.2"><title>fault {}: {} – {}{}</title></rect>"#,
            LABEL_W + a * scale,
            ((b - a) * scale).max(1.0),
            height - AXIS_H,
            faults::css(&iv.kind),
            html(&iv.kind),
            fmt_ns(iv.start_ns),
            fmt_ns(iv.end_ns),
            if iv.open_ended { " (never healed)" } else { "" }
        );
    }
    // Axis ticks (re-drawn by the script on zoom).
    s.push_str(r#"<g class="ticks">"#);
    let step = tick_step(span_ms, 10.0);
    let mut t = 0.0;
    while t <= span_ms && LABEL_W + t * scale + 60.0 <= width {
        let x = LABEL_W + t * scale;
        let _ = write!(
            s,
            r##"<line x1="{x:.1}" x2="{x:.1}" y1="{}" y2="{height}" stroke="#ccc"/><text x="{:.1}" y="12">{}</text>"##,
            AXIS_H - 4.0,
            x + 2.0,
            fmt_ns(t0 + (t * 1e6) as i64)
        );
        t += step;
    }
    s.push_str("</g>");
    // Bars.
    for (pos, c) in &calls {
        let y = AXIS_H + row_of(c.process) as f64 * ROW_H + 2.0;
        let a = ms(c.invoke_ns);
        let done = if c.is_open() {
            None
        } else {
            Some(ms(c.complete_ns.max(c.invoke_ns)))
        };
        let fill = css_rgb(outcome_rgb(c.outcome));
        let mut tip = String::new();
        let f = run.fs.get(c.f as usize).map(String::as_str).unwrap_or("?");
        let _ = write!(tip, "p{} {f}", c.process);
        if let Some(d) = run.details.get(pos) {
            if let Some(k) = &d.key {
                let _ = write!(tip, " key={k}");
            }
            let _ = write!(tip, " {}", d.input);
            if let Some(o) = &d.output {
                let _ = write!(tip, " → {o}");
            }
            if let Some(e) = &d.error {
                let _ = write!(tip, " error={e}");
            }
            if let Some(n) = &d.node {
                let _ = write!(tip, " node={n}");
            }
        }
        let outcome = if c.is_open() {
            "never completed (info)".to_string()
        } else {
            c.outcome.to_string()
        };
        let _ = write!(
            tip,
            "\n{outcome}; invoked {} (event {})",
            fmt_ns(c.invoke_ns),
            c.invoke_index
        );
        if let Some(l) = c.latency_ns() {
            let _ = write!(
                tip,
                ", completed {} (latency {})",
                fmt_ns(c.complete_ns),
                fmt_ns(l)
            );
        }
        let hl = highlight.contains(&c.invoke_index);
        if hl {
            tip.push_str("\npart of the counterexample");
        }
        let tip = html(&tip);
        let stroke = if hl {
            r#" stroke="black" stroke-width="2""#
        } else {
            ""
        };
        // An info call may have taken effect at any time until the end: faded tail.
        if c.outcome == OpType::Info || c.is_open() {
            let from = done.unwrap_or(a);
            let b = span_ms;
            let _ = write!(
                s,
                r#"<rect class="z" data-a="{from}" data-b="{b}" x="{:.1}" y="{y}" width="{:.1}" height="{:.0}" fill="{fill}" fill-opacity="0.25"><title>{tip}</title></rect>"#,
                LABEL_W + from * scale,
                ((b - from) * scale).max(1.0),
                ROW_H - 4.0
            );
        }
        if let Some(b) = done {
            let _ = write!(
                s,
                r#"<rect class="z" data-a="{a}" data-b="{b}" x="{:.1}" y="{y}" width="{:.1}" height="{:.0}" fill="{fill}"{stroke}><title>{tip}</title></rect>"#,
                LABEL_W + a * scale,
                ((b - a) * scale).max(1.0),
                ROW_H - 4.0
            );
        } else if hl {
            let _ = write!(
                s,
                r#"<rect class="z" data-a="{a}" data-b="{span_ms}" x="{:.1}" y="{y}" width="{:.1}" height="{:.0}" fill="none"{stroke}><title>{tip}</title></rect>"#,
                LABEL_W + a * scale,
                ((span_ms - a) * scale).max(1.0),
                ROW_H - 4.0
            );
        }
    }
    s.push_str("</svg>");
    Timeline {
        svg: s,
        shown: calls.len(),
        total,
        start_ns: t0,
        end_ns: t1,
        processes: procs.len(),
    }
}

/// The script that zooms every `svg.timeline` (and counterexample drawing) on the page:
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

    #[test]
    fn nice_tick_steps() {
        assert_eq!(tick_step(100.0, 10.0), 10.0);
        assert_eq!(tick_step(130.0, 10.0), 20.0);
        assert_eq!(tick_step(0.0, 10.0), 1.0);
        assert!((tick_step(0.4, 10.0) - 0.05).abs() < 1e-12);
    }

    #[test]
    fn formats_time_units() {
        assert_eq!(fmt_ns(1_500_000_000), "1.500 s");
        assert_eq!(fmt_ns(2_500_000), "2.500 ms");
        assert_eq!(fmt_ns(2_500), "2.500 µs");
        assert_eq!(fmt_ns(42), "42 ns");
    }
}
