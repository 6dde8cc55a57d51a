//! The operation timeline: which calls it embeds and which windows a reader can jump to
//! ([`select`]: each counterexample, each fault start, the whole run in pages; every call
//! when the history is small enough, evenly spaced pages otherwise), and the page fragment
//! that draws it ([`render`]): the calls as compact JSON plus a script that lays out one
//! window at a time as HTML rows — a nemesis lane per fault kind with the faults in words,
//! one row per process with labelled bars (colour = outcome), fault periods shaded, phase
//! boundaries and counterexample moments as vertical lines, an axis and process labels
//! that stay in view while scrolling, round tick values, zoom, and a key filter.

use super::faults::{self, FaultInterval};
use super::load::{CallDetail, RunData};
use super::notation::{self, fmt_ns};
use super::phases::Phase;
use checker::history::OpType;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap, HashSet};

/// Calls per page of the whole run.
pub const PAGE: usize = 1000;
/// Most calls embedded in one page (their text included).
pub const EMBED_CAP: usize = 40_000;
/// Most counterexample and fault-start windows listed.
pub const CX_WINDOWS: usize = 10;
pub const FAULT_WINDOWS: usize = 60;
/// Calls before and after a counterexample's that its window shows.
const CX_CONTEXT: usize = 60;

/// A stretch of the run a reader can jump to.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub name: String,
    pub start_ns: i64,
    pub end_ns: i64,
}

/// What the timeline embeds: positions in `run.calls` (sorted) and the windows.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub positions: Vec<usize>,
    pub windows: Vec<Window>,
    /// Index in `windows` shown first (the first counterexample, else the first page).
    pub initial: usize,
    /// Pages of the whole run, and how many of them are embedded.
    pub pages: usize,
    pub pages_embedded: usize,
}

/// A counterexample as the timeline marks it.
pub struct CxMark {
    pub key: String,
    /// Positions of its calls in `run.calls`.
    pub positions: Vec<usize>,
}

/// Time range of the calls `lo..hi` (positions): first invocation to the last end,
/// an end that sticks out far (a call open for long) cut at a quarter of the span.
fn range_time(run: &RunData, lo: usize, hi: usize) -> (i64, i64) {
    let calls = &run.calls[lo..hi];
    let a = calls.first().map_or(0, |c| c.invoke_ns);
    let last_inv = calls.last().map_or(a, |c| c.invoke_ns);
    let limit = last_inv + (last_inv - a) / 4 + 1_000_000;
    let b = calls
        .iter()
        .map(|c| c.end_ns().min(limit))
        .max()
        .unwrap_or(a);
    (a, b.max(a + 1))
}

/// Choose the embedded calls and the windows (see the module doc).
pub fn select(run: &RunData, faults_iv: &[FaultInterval], cxs: &[CxMark]) -> Selection {
    let n = run.calls.len();
    if n == 0 {
        return Selection::default();
    }
    let pages = n.div_ceil(PAGE);
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    let mut windows = Vec::new();
    for cx in cxs.iter().take(CX_WINDOWS) {
        let (Some(&lo), Some(&hi)) = (cx.positions.iter().min(), cx.positions.iter().max()) else {
            continue;
        };
        let a = run.calls[lo].invoke_ns;
        let b = cx
            .positions
            .iter()
            .map(|&p| run.calls[p].end_ns())
            .max()
            .unwrap_or(a);
        // Context: the operations invoked around it, at least as long again on each side.
        let (ca, cb) = range_time(run, lo.saturating_sub(CX_CONTEXT), (hi + CX_CONTEXT).min(n));
        let pad = ((b - a) / 10).max(if run.untimed { 2 } else { 5_000_000 });
        let r = (lo.saturating_sub(PAGE / 2), (hi + PAGE / 2).min(n));
        ranges.push(r);
        windows.push(Window {
            name: format!("counterexample: key {}", cx.key),
            start_ns: (a - pad).min(ca.max(a - 4 * pad)).max(run.first_ns),
            end_ns: (b + pad).max(cb.min(b + 4 * pad)).min(run.last_ns.max(b)),
        });
    }
    for iv in faults_iv.iter().take(FAULT_WINDOWS) {
        let pos = run.calls.partition_point(|c| c.invoke_ns < iv.start_ns);
        let r = (pos.saturating_sub(PAGE / 4), (pos + PAGE * 3 / 4).min(n));
        if r.0 >= r.1 {
            continue;
        }
        let (a, b) = range_time(run, r.0, r.1);
        ranges.push(r);
        windows.push(Window {
            name: format!("fault at {}: {}", fmt_ns(iv.start_ns), iv.words()),
            start_ns: a.min(iv.start_ns),
            end_ns: b,
        });
    }
    let used: usize = ranges.iter().map(|(a, b)| b - a).sum();
    let budget = if n <= EMBED_CAP {
        pages
    } else {
        (EMBED_CAP.saturating_sub(used) / PAGE).max(1)
    };
    let step = pages.div_ceil(budget).max(1);
    let mut pages_embedded = 0;
    for p in (0..pages).step_by(step) {
        let r = (p * PAGE, ((p + 1) * PAGE).min(n));
        let (a, b) = range_time(run, r.0, r.1);
        ranges.push(r);
        pages_embedded += 1;
        windows.push(Window {
            name: format!("page {} of {pages}: {} – {}", p + 1, fmt_ns(a), fmt_ns(b)),
            start_ns: a,
            end_ns: b,
        });
    }
    let mut keep = vec![false; n];
    for (a, b) in ranges {
        keep[a..b].iter_mut().for_each(|k| *k = true);
    }
    Selection {
        positions: (0..n).filter(|&i| keep[i]).collect(),
        windows,
        initial: 0,
        pages,
        pages_embedded,
    }
}

/// What the timeline drew, for the page's caption.
pub struct Timeline {
    /// The fragment: container, data and nothing else (the script is [`SCRIPT`]).
    pub html: String,
    pub embedded: usize,
    pub total: usize,
    /// Pages of the whole run, and how many of them this page holds.
    pub pages: usize,
    pub pages_embedded: usize,
}

fn outcome_index(c: OpType) -> u8 {
    match c {
        OpType::Ok => 0,
        OpType::Fail => 1,
        _ => 2,
    }
}

/// Times in the data: µs for real times, event positions for untimed histories.
fn t(untimed: bool, ns: i64) -> Value {
    if untimed {
        json!(ns)
    } else {
        json!((ns as f64 / 1e3).round() as i64)
    }
}

/// The timeline fragment with id `id`.
pub struct RenderInput<'a> {
    pub run: &'a RunData,
    pub sel: &'a Selection,
    pub details: &'a HashMap<usize, CallDetail>,
    pub faults: &'a [FaultInterval],
    pub phases: &'a [Phase],
    pub cxs: &'a [CxMark],
}

pub fn render(id: &str, p: &RenderInput<'_>) -> Timeline {
    let run = p.run;
    // `<` only occurs inside JSON strings, where \u003c means the same.
    let data = timeline_data(p).to_string().replace('<', "\\u003c");
    let html = format!(
        r#"<div class="tl" id="{id}"><div class="tl-controls"><label>window <select class="tl-win"></select></label> <button class="tl-prev" title="previous window">◀</button><button class="tl-next" title="next window">▶</button> <button class="tl-zout">zoom out</button><button class="tl-zin">zoom in</button> <label>key <select class="tl-key"><option value="-1">all keys</option></select></label> <span class="tl-note"></span></div><div class="tl-scroll"><div class="tl-inner"></div></div><script type="application/json" class="tl-data">{data}</script></div>"#
    );
    Timeline {
        html,
        embedded: p.sel.positions.len(),
        total: run.calls.len(),
        pages: p.sel.pages,
        pages_embedded: p.sel.pages_embedded,
    }
}

/// The JSON the timeline script draws from.
fn timeline_data(p: &RenderInput<'_>) -> Value {
    let untimed = p.run.untimed;
    let keys = selected_keys(p);
    let calls = call_rows(p, &keys);
    let colours: Vec<String> = notation::OUTCOMES
        .iter()
        .map(|o| notation::css(notation::outcome_rgb(*o)))
        .collect();
    json!({
        "unit": if untimed { "event" } else { "us" },
        "keys": keys,
        "calls": calls,
        "faults": fault_rows(p),
        "phases": phase_rows(p),
        "marks": counterexample_marks(p),
        "windows": window_rows(p),
        "initial": p.sel.initial,
        "colours": colours,
    })
}

/// The keys of the embedded calls, sorted, once each.
fn selected_keys<'a>(p: &RenderInput<'a>) -> Vec<&'a str> {
    let mut keys: BTreeSet<&str> = BTreeSet::new();
    for &pos in &p.sel.positions {
        if let Some(k) = p.details.get(&pos).and_then(|d| d.key.as_deref()) {
            keys.insert(k);
        }
    }
    keys.into_iter().collect()
}

/// One row per embedded call: invoke, complete (-1: open), process, outcome, key index
/// (-1: none), label, node, in a counterexample (0/1), invoke index.
fn call_rows(p: &RenderInput<'_>, keys: &[&str]) -> Vec<Value> {
    let run = p.run;
    let untimed = run.untimed;
    let cx_ops: HashSet<usize> = p.cxs.iter().flat_map(|c| c.positions.clone()).collect();
    let key_id: HashMap<&str, usize> = keys.iter().enumerate().map(|(i, k)| (*k, i)).collect();
    p.sel
        .positions
        .iter()
        .map(|&pos| {
            let c = &run.calls[pos];
            let d = p.details.get(&pos);
            let f = run.fs.get(c.f as usize).map_or("?", String::as_str);
            json!([
                t(untimed, c.invoke_ns),
                if c.is_open() {
                    json!(-1)
                } else {
                    t(untimed, c.complete_ns.max(c.invoke_ns))
                },
                c.process,
                outcome_index(c.outcome),
                d.and_then(|d| d.key.as_deref())
                    .and_then(|k| key_id.get(k))
                    .map_or(json!(-1), |&k| json!(k)),
                d.map_or_else(|| f.to_string(), |d| d.label.clone()),
                d.and_then(|d| d.node.clone()).unwrap_or_default(),
                u8::from(cx_ops.contains(&pos)),
                c.invoke_index
            ])
        })
        .collect()
}

/// One row per fault interval: kind, start, end, words, CSS class, raw events.
fn fault_rows(p: &RenderInput<'_>) -> Vec<Value> {
    let untimed = p.run.untimed;
    p.faults
        .iter()
        .map(|iv| {
            json!([
                iv.kind,
                t(untimed, iv.start_ns),
                t(untimed, iv.end_ns),
                iv.words(),
                faults::css(&iv.kind),
                iv.raw.join(" ")
            ])
        })
        .collect()
}

/// One row per phase: name, start, end.
fn phase_rows(p: &RenderInput<'_>) -> Vec<Value> {
    let untimed = p.run.untimed;
    p.phases
        .iter()
        .map(|ph| json!([ph.name, t(untimed, ph.start_ns), t(untimed, ph.end_ns)]))
        .collect()
}

/// One mark per counterexample, at its first invoke.
fn counterexample_marks(p: &RenderInput<'_>) -> Vec<Value> {
    let run = p.run;
    p.cxs
        .iter()
        .filter_map(|cx| {
            let first = cx.positions.iter().map(|&i| run.calls[i].invoke_ns).min()?;
            Some(json!([
                format!("✗ counterexample, key {}", cx.key),
                t(run.untimed, first)
            ]))
        })
        .collect()
}

/// One row per selected window: name, start, end.
fn window_rows(p: &RenderInput<'_>) -> Vec<Value> {
    let untimed = p.run.untimed;
    p.sel
        .windows
        .iter()
        .map(|w| json!([w.name, t(untimed, w.start_ns), t(untimed, w.end_ns)]))
        .collect()
}

/// The script that draws every `div.tl` on the page from its JSON data.
pub const SCRIPT: &str = r#"
(function(){
  var LABEL=64, WIDTH=1160, ROW=18, DRAW_CAP=6000, OUT=['ok','fail','info'];
  function esc(s){ return String(s).replace(/[&<>"']/g,function(c){return {'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c];}); }
  function step(span,n){ var raw=span/n, mag=Math.pow(10,Math.floor(Math.log10(raw))), m=raw/mag;
    return (m<=1?1:m<=2?2:m<=5?5:10)*mag; }
  function fmt(t,unit,st){ if(unit==='event') return '#'+Math.round(t);
    var s=t/1e6, d=Math.max(0,Math.min(6,-Math.floor(Math.log10(st/1e6)+1e-9)));
    return s.toFixed(d)+' s'; }
  function when(t,unit){ return unit==='event' ? 'event '+t : (t/1e6).toFixed(6)+' s'; }
  function init(root){
    var D=JSON.parse(root.querySelector('.tl-data').textContent);
    var win=root.querySelector('.tl-win'), keySel=root.querySelector('.tl-key');
    var inner=root.querySelector('.tl-inner'), note=root.querySelector('.tl-note');
    D.windows.forEach(function(w,i){ var o=document.createElement('option'); o.value=i; o.textContent=w[0]; win.appendChild(o); });
    D.keys.forEach(function(k,i){ var o=document.createElement('option'); o.value=i; o.textContent=k; keySel.appendChild(o); });
    var st={w:D.initial||0, zoom:1, key:-1};
    function draw(){
      var w=D.windows[st.w]; if(!w){ inner.innerHTML='<p>No operations.</p>'; return; }
      var a=w[1], b=Math.max(w[2],w[1]+1), scale=WIDTH*st.zoom/(b-a), width=LABEL+WIDTH*st.zoom+8;
      function x(t){ return LABEL+(Math.max(a,Math.min(b,t))-a)*scale; }
      var calls=[], procs={};
      for(var i=0;i<D.calls.length;i++){ var c=D.calls[i], end=c[1]<0?b:c[1];
        if(c[0]>b||end<a) continue; if(st.key>=0&&c[4]!==st.key) continue;
        calls.push(c); procs[c[2]]=1; if(calls.length>=DRAW_CAP) break; }
      var plist=Object.keys(procs).map(Number).sort(function(p,q){return p-q;});
      var kinds=[]; D.faults.forEach(function(f){ if(f[1]<=b&&f[2]>=a&&kinds.indexOf(f[0])<0) kinds.push(f[0]); });
      var h=[], rows=kinds.length+plist.length, height=22+rows*ROW+4;
      h.push('<div class="tl-body" style="width:'+width+'px;height:'+height+'px">');
      var sp=step(b-a,10/st.zoom*Math.max(1,st.zoom)), t0=Math.ceil(a/sp)*sp;
      h.push('<div class="tl-axis" style="width:'+width+'px"><span class="tl-lab">'+(D.unit==='event'?'position':'time')+'</span>');
      for(var t=t0;t<=b;t+=sp){ h.push('<span class="tl-tick" style="left:'+x(t)+'px">'+fmt(t,D.unit,sp)+'</span>'); }
      h.push('</div>');
      for(var t=t0;t<=b;t+=sp){ h.push('<div class="tl-grid" style="left:'+x(t)+'px;height:'+height+'px"></div>'); }
      D.faults.forEach(function(f){ if(f[1]>b||f[2]<a) return; var l=x(f[1]), r=x(f[2]);
        h.push('<div class="tl-shade" style="left:'+l+'px;width:'+Math.max(1,r-l)+'px;top:'+(22+kinds.length*ROW)+'px;height:'+(plist.length*ROW)+'px;background:'+f[4]+'"></div>'); });
      kinds.forEach(function(k,r){ h.push('<div class="tl-row tl-nem" style="top:'+(22+r*ROW)+'px;width:'+width+'px"><span class="tl-lab">'+esc(k)+'</span>');
        D.faults.forEach(function(f){ if(f[0]!==k||f[1]>b||f[2]<a) return; var l=x(f[1]), wd=Math.max(2,x(f[2])-l);
          h.push('<div class="tl-bar tl-fault" style="left:'+l+'px;width:'+wd+'px;background:'+f[4]+'" title="'+esc(f[3]+'\nfrom '+when(f[1],D.unit)+' to '+when(f[2],D.unit)+'\nraw: '+f[5])+'">'+(wd>40?esc(f[3]):'')+'</div>'); });
        h.push('</div>'); });
      var rowOf={}; plist.forEach(function(p,i){ rowOf[p]=kinds.length+i; });
      plist.forEach(function(p){ h.push('<div class="tl-row" style="top:'+(22+rowOf[p]*ROW)+'px;width:'+width+'px"><span class="tl-lab">p'+p+'</span>'); 
        calls.forEach(function(c){ if(c[2]!==p) return; var l=x(c[0]), open=c[1]<0, r=open?x(c[0]):x(c[1]), wd=Math.max(2,r-l);
          var tip=esc('p'+c[2]+(c[6]?' via '+c[6]:'')+(c[4]>=0?' key '+D.keys[c[4]]:'')+': '+c[5]+'\n'+OUT[c[3]]+'; invoked '+when(c[0],D.unit)+(open?', never completed':', completed '+when(c[1],D.unit))+' (event '+c[8]+')'+(c[7]?'\npart of the counterexample':''));
          if(c[3]===2){ var e=x(b); h.push('<div class="tl-bar tl-tail" style="left:'+r+'px;width:'+Math.max(1,e-r)+'px;background:'+D.colours[2]+'" title="'+tip+'"></div>'); }
          if(!open) h.push('<div class="tl-bar'+(c[7]?' tl-cx':'')+'" style="left:'+l+'px;width:'+wd+'px;background:'+D.colours[c[3]]+'" title="'+tip+'">'+(wd>36?esc(c[5]):'')+'</div>');
          else if(c[7]) h.push('<div class="tl-bar tl-cx" style="left:'+l+'px;width:'+Math.max(2,x(b)-l)+'px;background:none" title="'+tip+'"></div>');
        }); h.push('</div>'); });
      D.phases.forEach(function(ph){ if(ph[1]<a||ph[1]>b) return; h.push('<div class="tl-phase" style="left:'+x(ph[1])+'px;height:'+height+'px"><span>'+esc(ph[0])+' ▸</span></div>'); });
      D.marks.forEach(function(m){ if(m[1]<a||m[1]>b) return; h.push('<div class="tl-mark" style="left:'+x(m[1])+'px;height:'+height+'px"><span>'+esc(m[0])+'</span></div>'); });
      h.push('</div>'); inner.innerHTML=h.join('');
      win.value=st.w; note.textContent=calls.length+' operations in this window'+(calls.length>=DRAW_CAP?' (the first '+DRAW_CAP+'; zoom in or pick a key)':'')+(st.zoom>1?', zoom ×'+st.zoom:'');
    }
    win.addEventListener('change',function(){ st.w=+win.value; st.zoom=1; draw(); });
    keySel.addEventListener('change',function(){ st.key=+keySel.value; draw(); });
    root.querySelector('.tl-prev').addEventListener('click',function(){ if(st.w>0){st.w--; st.zoom=1; draw();} });
    root.querySelector('.tl-next').addEventListener('click',function(){ if(st.w<D.windows.length-1){st.w++; st.zoom=1; draw();} });
    root.querySelector('.tl-zin').addEventListener('click',function(){ st.zoom=Math.min(st.zoom*2,1024); draw(); });
    root.querySelector('.tl-zout').addEventListener('click',function(){ st.zoom=Math.max(st.zoom/2,1); draw(); });
    root.show=function(i){ st.w=i; st.zoom=1; draw(); root.scrollIntoView(); };
    draw();
  }
  document.querySelectorAll('div.tl').forEach(init);
  document.querySelectorAll('a[data-tl-window]').forEach(function(l){ l.addEventListener('click',function(e){
    var tl=document.getElementById(l.dataset.tl); if(tl&&tl.show){ e.preventDefault(); tl.show(+l.dataset.tlWindow); } }); });
})();
"#;

/// The CSS of the timeline.
pub const CSS: &str = r#"
.tl-controls{margin:6px 0;font-size:14px}.tl-controls select{max-width:560px}
.tl-scroll{overflow:auto;max-height:640px;border:1px solid #ddd;position:relative}
.tl-body{position:relative;font:11px "DejaVu Sans",sans-serif}
.tl-axis{position:sticky;top:0;height:22px;background:#fff;z-index:4;border-bottom:1px solid #bbb}
.tl-tick{position:absolute;top:4px;padding-left:2px;white-space:nowrap;color:#333}
.tl-grid{position:absolute;top:0;border-left:1px solid #e4e4e4;z-index:0}
.tl-row{position:absolute;left:0;height:18px;white-space:nowrap}
.tl-row:nth-child(even){background:rgba(0,0,0,.025)}
.tl-lab{position:sticky;left:0;display:inline-block;width:60px;padding-left:4px;line-height:18px;background:#fff;z-index:3;border-right:1px solid #ccc;overflow:hidden;text-overflow:ellipsis}
.tl-axis .tl-lab{line-height:22px;color:#666}
.tl-nem .tl-lab{font-weight:bold}
.tl-bar{position:absolute;top:2px;height:14px;color:#fff;overflow:hidden;text-overflow:ellipsis;padding-left:2px;box-sizing:border-box;line-height:14px;z-index:1}
.tl-fault{color:#000;opacity:.75}
.tl-tail{opacity:.22;top:6px;height:6px}
.tl-cx{outline:2px solid #000;z-index:2}
.tl-shade{position:absolute;opacity:.13;z-index:0}
.tl-phase{position:absolute;top:0;border-left:2px dashed #555;z-index:2}
.tl-phase span,.tl-mark span{position:absolute;top:24px;left:3px;background:#fff;padding:0 3px;white-space:nowrap}
.tl-mark{position:absolute;top:0;border-left:2px solid #c62828;z-index:2}
.tl-mark span{color:#c62828;font-weight:bold;top:40px}
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::load::{CallRec, OPEN};

    fn run(n: usize) -> RunData {
        let calls = (0..n)
            .map(|i| CallRec {
                invoke_ns: i as i64 * 1000,
                complete_ns: if i == 5 { OPEN } else { i as i64 * 1000 + 500 },
                invoke_index: 2 * i as u64,
                process: (i % 4) as u32,
                invoke_line: 2 * i as u32 + 1,
                complete_line: 2 * i as u32 + 2,
                f: 0,
                outcome: OpType::Ok,
            })
            .collect();
        RunData {
            fs: vec!["read".into()],
            calls,
            ..RunData::default()
        }
    }

    #[test]
    fn small_runs_embed_everything_in_pages() {
        let r = run(2500);
        let s = select(&r, &[], &[]);
        assert_eq!(s.positions.len(), 2500);
        assert_eq!((s.pages, s.pages_embedded), (3, 3));
        assert_eq!(s.windows.len(), 3);
        assert!(s.windows[0].name.starts_with("page 1 of 3"));
    }

    #[test]
    fn big_runs_keep_counterexample_fault_and_spread_pages_within_the_cap() {
        let r = run(200_000);
        let iv = FaultInterval {
            kind: "pause".into(),
            start_ns: 150_000_000,
            end_ns: 151_000_000,
            open_ended: false,
            what: vec!["n2 paused".into()],
            raw: vec![],
        };
        let cx = CxMark {
            key: "k2".into(),
            positions: vec![100_000, 100_003],
        };
        let s = select(&r, std::slice::from_ref(&iv), &[cx]);
        assert!(
            s.positions.len() <= EMBED_CAP + PAGE,
            "{}",
            s.positions.len()
        );
        assert!(s.positions.binary_search(&100_003).is_ok());
        assert!(s.positions.binary_search(&150_000).is_ok());
        assert_eq!(s.windows[0].name, "counterexample: key k2");
        assert!(
            s.windows[1].name.contains("n2 paused"),
            "{}",
            s.windows[1].name
        );
        assert_eq!(s.pages, 200);
        assert!(s.pages_embedded > 10 && s.pages_embedded < 200);
    }
}
