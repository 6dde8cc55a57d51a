//! Timing of a report for a generated 1M-operation history (2M events, ~170 MB), to show
//! that rendering is streamed and capped. Ignored by default (it writes a large temp file);
//! run with:
//! `cargo test -p harness --release --test report_big -- --ignored --nocapture`

mod report_common;

use std::io::{BufWriter, Write};
use std::time::Instant;

fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.to_string())
        })
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

#[test]
#[ignore]
fn one_million_ops_report_is_bounded() {
    const CALLS: u64 = 1_000_000;
    const WORKERS: u64 = 16;
    let dir = tempfile::tempdir().unwrap();
    let t = Instant::now();
    {
        let mut w =
            BufWriter::new(std::fs::File::create(dir.path().join("history.jsonl")).unwrap());
        let mut index = 0u64;
        // Deterministic pseudo-random latencies (xorshift).
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let span_ns: i64 = 600_000_000_000; // 10 minutes
        let step = span_ns / (CALLS / WORKERS) as i64;
        let fs = ["read", "write", "cas"];
        for round in 0..CALLS / WORKERS {
            let t0 = round as i64 * step;
            if round == (CALLS / WORKERS) / 4 {
                writeln!(w, r#"{{"index":{index},"time":{t0},"type":"info","process":"nemesis","f":"start-partition","value":{{"n1":["n2","n3"]}}}}"#).unwrap();
                index += 1;
            }
            if round == (CALLS / WORKERS) / 2 {
                writeln!(w, r#"{{"index":{index},"time":{t0},"type":"info","process":"nemesis","f":"stop-partition","value":null}}"#).unwrap();
                index += 1;
            }
            for p in 0..WORKERS {
                let r = rnd();
                let f = fs[(r % 3) as usize];
                let key = (r >> 8) % 50;
                let inv = t0 + p as i64 * 1000;
                writeln!(w, r#"{{"index":{index},"time":{inv},"type":"invoke","process":{p},"f":"{f}","key":"k{key}","value":{}}}"#, r % 5).unwrap();
                index += 1;
                let lat = ((r >> 16) % (step as u64 - 20_000)) as i64 + 1000;
                let ty = match (r >> 40) % 20 {
                    0 => "info",
                    1 | 2 => "fail",
                    _ => "ok",
                };
                writeln!(w, r#"{{"index":{index},"time":{},"type":"{ty}","process":{p},"f":"{f}","key":"k{key}","value":{}}}"#, inv + lat, r % 5).unwrap();
                index += 1;
            }
        }
        w.flush().unwrap();
    }
    let keys: Vec<serde_json::Value> = (0..50)
        .map(|k| serde_json::json!({"key": format!("k{k}"), "valid": true, "ops": CALLS / 50}))
        .collect();
    let results = serde_json::json!({"valid": true, "ops": CALLS, "elapsed_ms": 1.0,
        "checkers": {"linearizable": {"valid": true, "model": "cas-register", "ops": CALLS, "keys": keys, "elapsed_ms": 1.0}}});
    std::fs::write(dir.path().join("results.json"), results.to_string()).unwrap();
    let gen = t.elapsed();
    let size = std::fs::metadata(dir.path().join("history.jsonl"))
        .unwrap()
        .len();
    let rss_before = peak_rss_kb();
    let t = Instant::now();
    let s = harness::report::render_run(dir.path()).unwrap();
    let took = t.elapsed();
    assert!(s.failures.is_empty(), "{:?}", s.failures);
    assert_eq!(s.events, 2 * CALLS + 2);
    let html = std::fs::metadata(&s.html).unwrap().len();
    println!(
        "1M-op report: history {:.0} MB generated in {:.1} s; render_run {:.2} s; report.html {:.0} KB; peak RSS {} MB (before render {} MB)",
        size as f64 / 1e6,
        gen.as_secs_f64(),
        took.as_secs_f64(),
        html as f64 / 1e3,
        peak_rss_kb() / 1024,
        rss_before / 1024
    );
    for f in ["latency-raw.png", "latency-quantiles.png", "rate.png"] {
        let png = std::fs::read(dir.path().join(f)).unwrap();
        assert_eq!(report_common::check_png(&png).unwrap(), (1200, 600));
    }
    // Bounded page: the timeline embeds a bounded set of calls (windows around the fault
    // start and pages spread over the run), SVG points are capped.
    let page = std::fs::read_to_string(&s.html).unwrap();
    assert!(html < 4_000_000, "report.html is {html} bytes");
    assert!(
        page.contains("This page holds "),
        "the timeline says it is partial"
    );
    assert!(page
        .contains("fault at 150.000 s: n1 cannot hear n2 n3; n2 n3 hear all, healed after 150 s"));
    assert!(
        page.contains("of the run&#39;s 1000 pages") || page.contains("of the run's 1000 pages")
    );
}
