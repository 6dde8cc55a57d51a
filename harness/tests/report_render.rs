//! Reports of known runs: the valid and invalid fixtures (tests/fixtures/report/) render
//! with the right verdict, per-key table, fault schedule and counterexample operations;
//! the HTML is well-formed; PNGs are sound and 1200×600; hostile values are escaped; a
//! failing plot is recorded while the rest is written; the index lists runs newest first.

mod report_common;

use checker::Validity;
use harness::report::{render_index, render_run, ReportError};
use report_common::{check_png, check_well_formed, copy_fixture, fixture_dir};
use serde_json::{json, Value};
use std::path::Path;

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

#[test]
fn valid_run_renders_verdict_keys_faults_and_plots() {
    let dir = copy_fixture("valid");
    std::fs::create_dir_all(dir.path().join("nodes/n1")).unwrap();
    std::fs::write(
        dir.path().join("nodes/n1/stderr.log"),
        "listening on 10.0.0.1:8001\n",
    )
    .unwrap();
    let s = render_run(dir.path()).unwrap();
    assert_eq!(s.valid, Validity::Valid);
    assert!(s.failures.is_empty(), "{:?}", s.failures);
    assert_eq!(s.events, 1604);
    let html = read(&s.html);
    check_well_formed(&html).unwrap();
    assert!(html.contains(r#"<h1 class="verdict v-valid">VALID</h1>"#));
    // Verdict comes before everything else in the body.
    assert!(html.find("VALID</h1>").unwrap() < html.find("id=\"config\"").unwrap());
    for key in ["<code>k1</code>", "<code>k2</code>", "<code>k3</code>"] {
        assert!(html.contains(key), "missing {key}");
    }
    // Config, seed and the reproduce command (seed appended because argv lacks it).
    assert!(html.contains("register-partition-pause-kill"));
    assert!(html.contains(
        "--nemesis partition,pause,kill --time-limit 10 --concurrency 5 --seed 42</pre>"
    ));
    // Fault schedule: one interval per kind, all healed, named by who they hit.
    for (kind, what, from, to) in [
        (
            "partition",
            "n1 isolated from n2 n3, healed after 2.0 s",
            "1.000 s",
            "3.000 s",
        ),
        (
            "pause",
            "n2 paused, resumed after 1.5 s",
            "4.000 s",
            "5.500 s",
        ),
        (
            "kill",
            "n3 killed, restarted after 1.5 s",
            "6.500 s",
            "8.000 s",
        ),
    ] {
        assert!(
            html.contains(&format!(
                "{kind}</td><td>{what}</td><td class=\"num\">{from}</td><td class=\"num\">{to}</td>"
            )),
            "fault row {kind}"
        );
    }
    // Counts per f with all three outcomes present somewhere.
    assert!(
        html.contains("<span class=\"mk\">●</span>read</td>")
            && html.contains("<span class=\"mk\">✕</span>cas</td>")
    );
    // Links to raw files and node logs.
    for link in [
        "href=\"history.jsonl\"",
        "href=\"results.json\"",
        "href=\"nodes/n1/stderr.log\"",
    ] {
        assert!(html.contains(link), "missing {link}");
    }
    // Plots: PNG files 1200x600, SVG files, SVG inline.
    for stem in ["latency-raw", "latency-quantiles", "rate"] {
        let png = std::fs::read(dir.path().join(format!("{stem}.png"))).unwrap();
        assert_eq!(check_png(&png).unwrap(), (1200, 600), "{stem}.png");
        let svg = read(&dir.path().join(format!("{stem}.svg")));
        assert!(
            svg.starts_with("<svg") && svg.contains("fault: partition"),
            "{stem}.svg"
        );
    }
    assert_eq!(
        html.matches("<svg width=\"1200\" height=\"600\"").count(),
        3
    );
    // The timeline embeds all 799 calls (below the cap) and no counterexample.
    let tl = timeline_data(&html);
    assert_eq!(tl["calls"].as_array().unwrap().len(), 799);
    assert!(tl["marks"].as_array().unwrap().is_empty());
    assert!(!html.contains("id=\"counterexample\""));
    // A valid run says what was exercised, where an invalid one says why.
    let why = &html[html.find("id=\"why\"").unwrap()..html.find("id=\"timeline\"").unwrap()];
    assert!(why.contains("What was tested"));
    assert!(why.contains("<b>799</b> client operations (322 read, 308 write, 169 cas)"));
    assert!(why.contains("<b>kill</b>: 1×, 1.5 s in all, longest 1.5 s, e.g. n3 killed"));
    // Atomic writes leave no temp files.
    assert!(std::fs::read_dir(dir.path()).unwrap().all(|e| !e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .ends_with(".tmp")));
}

#[test]
fn invalid_run_draws_the_counterexample() {
    let dir = copy_fixture("invalid");
    let results: Value = serde_json::from_str(&read(&dir.path().join("results.json"))).unwrap();
    let s = render_run(dir.path()).unwrap();
    assert_eq!(s.valid, Validity::Invalid);
    assert!(s.failures.is_empty(), "{:?}", s.failures);
    let html = read(&s.html);
    check_well_formed(&html).unwrap();
    assert!(html.contains(r#"<h1 class="verdict v-invalid">INVALID</h1>"#));
    // Invalid key first in the per-key table.
    let keys = &html[html.find("id=\"keys\"").unwrap()..html.find("id=\"checkers\"").unwrap()];
    let k2 = keys.find("<code>k2</code>").unwrap();
    assert!(
        k2 < keys.find("<code>k1</code>").unwrap() && k2 < keys.find("<code>k3</code>").unwrap()
    );
    // The counterexample section lists every op id of the counterexample, the stuck
    // reasons and the states.
    let cx = results
        .pointer("/checkers/linearizable/keys")
        .and_then(Value::as_array)
        .unwrap()
        .iter()
        .find_map(|k| k.get("counterexample"))
        .unwrap();
    let section =
        &html[html.find("id=\"counterexample\"").unwrap()..html.find("id=\"timeline\"").unwrap()];
    let ops = cx["ops"].as_array().unwrap();
    assert!(!ops.is_empty());
    for op in ops {
        let id = op["id"].to_string();
        assert!(
            section.contains(&format!("<tr><td>{id}</td>"))
                || section.contains(&format!("<tr class=\"bad\"><td>{id}</td>")),
            "op {id}"
        );
        assert!(
            section.contains(&format!("op {id} (process ")),
            "hover of op {id}"
        );
    }
    for st in cx["stuck"].as_array().unwrap() {
        // The report spells JSON's null as nil, in checker text too.
        let why =
            harness::report::escape::html(&st["why"].as_str().unwrap().replace("null", "nil"));
        assert!(section.contains(&why), "stuck reason {why}");
    }
    for state in cx["states"].as_array().unwrap() {
        let state = harness::report::escape::html(&state.as_str().unwrap().replace("null", "nil"));
        assert!(section.contains(&format!("<li><code>{state}</code></li>")));
    }
    // The timeline flags the counterexample's operations, marks its moment and opens on
    // its window.
    let tl = timeline_data(&html);
    let flagged: Vec<u64> = tl["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c[7] == 1)
        .map(|c| c[8].as_u64().unwrap())
        .collect();
    assert_eq!(flagged, vec![491]);
    assert_eq!(tl["marks"][0][1], 3_792_036);
    assert_eq!(
        tl["windows"][tl["initial"].as_u64().unwrap() as usize][0],
        "counterexample: key k2"
    );
}

/// The JSON data of the page's timeline.
fn timeline_data(html: &str) -> Value {
    let open = "<script type=\"application/json\" class=\"tl-data\">";
    let a = html.find(open).expect("timeline data") + open.len();
    let b = a + html[a..].find("</script>").unwrap();
    serde_json::from_str(&html[a..b]).unwrap()
}

#[test]
fn invalid_run_says_why_before_the_configuration() {
    let dir = copy_fixture("invalid");
    let html = read(&render_run(dir.path()).unwrap().html);
    let why = html.find("id=\"why\"").expect("why section");
    let config = html.find("id=\"config\"").unwrap();
    assert!(
        why < config,
        "the why-paragraph comes after the configuration"
    );
    let section = &html[why..html.find("<nav>").unwrap()];
    // The key, the operation (process, node, call, outcome, µs times), the failing step,
    // the faults at that moment (none: the last one ended 792 ms before) and the links.
    assert!(section.contains("Key <code>k2</code> is not linearizable"));
    assert!(section.contains(
        "<tr class=\"bad\"><td>245</td><td>p11</td><td>n1</td><td><code>read → 4</code></td><td>ok</td><td class=\"num\">3.792036 s</td><td class=\"num\">3.795910 s</td></tr>"
    ), "{section}");
    assert!(section.contains(
        "The step that fails: <code>read → 4</code> (op 245): read 4 but register is nil."
    ));
    assert!(section.contains(
        "No fault was active then; the last one before, n1 isolated from n2 n3, healed after 2.0 s, ended at 3.000000 s (792 ms earlier)."
    ), "{section}");
    assert!(section.contains("<a href=\"#cx0\">Full counterexample</a>"));
    assert!(html.contains("<section class=\"cx\" id=\"cx0\">"));
    assert!(section.contains("data-tl-window=\"0\""));
}

#[test]
fn key_counts_split_invalid_valid_and_undecided() {
    let dir = copy_fixture("invalid");
    let html = read(&render_run(dir.path()).unwrap().html);
    let why = &html[html.find("id=\"why\"").unwrap()..html.find("<nav>").unwrap()];
    assert!(why.contains("<b>Keys:</b> 3 checked: <span class=\"kc-invalid\">1 invalid</span>, <span class=\"kc-valid\">1 valid</span>, <span class=\"kc-undecided\">1 not decided</span> (1 cancelled after the first invalid key was found)"), "{why}");
    assert!(why.contains("harness check --all-keys"));
    let keys = &html[html.find("id=\"keys\"").unwrap()..];
    assert!(keys.contains("3 keys: 1 invalid, 1 valid, 1 not decided"));
    // A valid run with every key decided does not suggest --all-keys.
    let dir = copy_fixture("valid");
    let html = read(&render_run(dir.path()).unwrap().html);
    assert!(html.contains("<span class=\"kc-invalid\">0 invalid</span>, <span class=\"kc-valid\">3 valid</span>, <span class=\"kc-undecided\">0 not decided</span>."));
    assert!(!html.contains("--all-keys"));
}

#[test]
fn faults_are_named_by_who_they_hit_with_the_raw_json_kept() {
    let dir = tempfile::tempdir().unwrap();
    let ev = |i: u64, t: i64, f: &str, v: Value| json!({"index": i, "time": t, "type": "info", "process": "nemesis", "f": f, "value": v});
    let call = |i: u64, t: i64, ty: &str| json!({"index": i, "time": t, "type": ty, "process": 0, "f": "read", "key": "k", "value": null});
    let lines = [
        call(0, 0, "invoke"),
        call(1, 1_000_000, "ok"),
        ev(
            2,
            2_000_000,
            "start-partition",
            json!({"n4": ["n1","n2","n3","n5"], "n1": ["n4"], "n2": ["n4"], "n3": ["n4"], "n5": ["n4"]}),
        ),
        ev(3, 3_000_000, "pause", json!(["n2"])),
        ev(4, 4_000_000, "kill", json!(["n1", "n3"])),
        ev(5, 5_000_000, "start-clock-skew", json!({"n5": 300})),
        ev(6, 1_204_000_000, "restart", json!(["n1", "n3"])),
        ev(7, 1_300_000_000, "resume", json!(["n2"])),
        ev(8, 1_400_000_000, "stop-partition", Value::Null),
        ev(9, 1_500_000_000, "stop-clock-skew", Value::Null),
        call(10, 1_600_000_000, "invoke"),
        call(11, 1_601_000_000, "ok"),
    ];
    let history: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(dir.path().join("history.jsonl"), history).unwrap();
    std::fs::write(dir.path().join("results.json"), r#"{"valid":true,"ops":2}"#).unwrap();
    let html = read(&render_run(dir.path()).unwrap().html);
    for words in [
        "n4 isolated from n1 n2 n3 n5, healed after 1.4 s",
        "n2 paused, resumed after 1.3 s",
        "n1 n3 killed, restarted after 1.2 s",
        // A kind the report has no entry for: its raw value.
        "clock-skew {&quot;n5&quot;:300}, stopped after 1.5 s",
    ] {
        assert!(
            html.contains(&format!("<td>{words}</td>")),
            "fault table: {words}"
        );
    }
    // The timeline's nemesis lane carries the same words, and the raw grudge.
    let tl = timeline_data(&html);
    let faults: Vec<String> = tl["faults"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f[3].as_str().unwrap().to_string())
        .collect();
    assert!(faults.contains(&"n2 paused, resumed after 1.3 s".to_string()));
    assert!(tl["faults"][0][5]
        .as_str()
        .unwrap()
        .contains("\"n4\":[\"n1\""));
    // The why-section of a valid run lists them by kind.
    assert!(html.contains(
        "<b>partition</b>: 1×, 1.4 s in all, longest 1.4 s, e.g. n4 isolated from n1 n2 n3 n5"
    ));
}

/// Marker glyph and row position of each function in the counts table.
fn counts_rows(html: &str) -> Vec<String> {
    let t = &html[html.find("id=\"counts\"").unwrap()..html.find("id=\"keys\"").unwrap()];
    t.split("<tr><td>")
        .skip(1)
        .map(|r| r[..r.find("</td>").unwrap()].to_string())
        .collect()
}

#[test]
fn encodings_are_fixed_whatever_appears_first() {
    // Two histories with the same functions appearing in opposite orders.
    let mk = |fs: &[&str]| {
        let dir = tempfile::tempdir().unwrap();
        let mut lines = String::new();
        for (i, f) in fs.iter().enumerate() {
            let (i, t) = (2 * i as u64, 2_000_000 * i as i64);
            let v = if *f == "cas" { json!([1, 2]) } else { json!(1) };
            lines.push_str(&format!("{}\n", json!({"index": i, "time": t, "type": "invoke", "process": 0, "f": f, "key": "k", "value": v})));
            lines.push_str(&format!("{}\n", json!({"index": i + 1, "time": t + 1_000_000, "type": "ok", "process": 0, "f": f, "key": "k", "value": v})));
        }
        std::fs::write(dir.path().join("history.jsonl"), lines).unwrap();
        std::fs::write(dir.path().join("results.json"), r#"{"valid":true}"#).unwrap();
        render_run(dir.path()).unwrap();
        dir
    };
    let a = mk(&["cas", "write", "read", "add"]);
    let b = mk(&["read", "add", "write", "cas"]);
    let (ha, hb) = (
        read(&a.path().join("report.html")),
        read(&b.path().join("report.html")),
    );
    let rows = counts_rows(&ha);
    assert_eq!(rows, counts_rows(&hb));
    assert_eq!(
        rows,
        vec![
            "<span class=\"mk\">●</span>read",
            "<span class=\"mk\">▲</span>write",
            "<span class=\"mk\">✕</span>cas",
            "<span class=\"mk\">■</span>add",
            "<b>all</b>"
        ]
    );
    // The plot legends list the same series in the same order with the same colours.
    let legend = |d: &tempfile::TempDir| {
        let svg = read(&d.path().join("latency-raw.svg"));
        ["read ok", "write ok", "cas ok", "add ok"]
            .iter()
            .map(|n| {
                svg.find(n)
                    .unwrap_or_else(|| panic!("{n} not in the legend"))
            })
            .collect::<Vec<_>>()
    };
    let (la, lb) = (legend(&a), legend(&b));
    assert!(la.windows(2).all(|w| w[0] < w[1]), "fixed legend order");
    assert!(lb.windows(2).all(|w| w[0] < w[1]), "fixed legend order");
    // The outcome colours of the timeline are the same fixed ones.
    assert_eq!(timeline_data(&ha)["colours"], timeline_data(&hb)["colours"]);
    assert_eq!(timeline_data(&ha)["colours"][0], "rgb(0,114,178)");
}

#[test]
fn untimed_histories_get_no_time_plots_or_rates() {
    let dir = tempfile::tempdir().unwrap();
    // Porcupine-style: every event's time is its index.
    let mut lines = String::new();
    for i in 0..20u64 {
        let (ty, idx) = if i % 2 == 0 { ("invoke", i) } else { ("ok", i) };
        lines.push_str(&format!("{}\n", json!({"index": idx, "time": idx, "type": ty, "process": 0, "f": "write", "key": "k", "value": 1})));
    }
    std::fs::write(dir.path().join("history.jsonl"), lines).unwrap();
    std::fs::write(
        dir.path().join("results.json"),
        r#"{"valid":true,"ops":10}"#,
    )
    .unwrap();
    let s = harness::report::render_run_titled(dir.path(), Some("etcd_000.log")).unwrap();
    let html = read(&s.html);
    check_well_formed(&html).unwrap();
    for stem in ["latency-raw", "latency-quantiles", "rate"] {
        assert!(
            !dir.path().join(format!("{stem}.png")).exists(),
            "{stem}.png"
        );
        assert!(!html.contains(&format!("{stem}.svg")), "{stem}.svg linked");
    }
    assert!(!html.contains("<svg width=\"1200\""));
    assert!(html.contains("no latency or rate plots"));
    assert!(!html.contains("ok/s"), "rates in the counts table");
    assert_eq!(timeline_data(&html)["unit"], "event");
    // Named after the file it was made from.
    assert!(html.contains("<title>etcd_000.log — valid</title>"));
    assert!(html.contains("History <b>etcd_000.log</b>"));
}

#[test]
fn phases_are_marked_and_final_reads_do_not_set_the_rate_scale() {
    let dir = copy_fixture("valid");
    let path = dir.path().join("results.json");
    let mut results: Value = serde_json::from_str(&read(&path)).unwrap();
    // The fixture's calls run from 0 to ~10 s; call the last 0.5 s final reads.
    results["phases"] = json!({"setup_ms": 5.0, "start_ms": 300.0, "main_ms": 8000.0,
        "heal_ms": 20.0, "recovery_ms": 1480.0, "final_reads_ms": 500.0});
    std::fs::write(&path, results.to_string()).unwrap();
    let html = read(&render_run(dir.path()).unwrap().html);
    let table = &html
        [html.find("Phases of the run").unwrap()..html.find("Latency of every operation").unwrap()];
    for (name, from) in [
        ("main", "0 s"),
        ("heal", "8.000 s"),
        ("recovery", "8.020 s"),
        ("final reads", "9.500 s"),
    ] {
        assert!(
            table.contains(&format!("<tr><td>{name}</td><td class=\"num\">{from}</td>")),
            "{name}"
        );
    }
    for stem in ["latency-raw", "latency-quantiles"] {
        let svg = read(&dir.path().join(format!("{stem}.svg")));
        assert!(svg.contains("final reads ▸"), "{stem}: final reads marked");
        // Heal and recovery start 20 ms apart: one line, one label.
        assert!(
            svg.contains("heal, recovery ▸"),
            "{stem}: heal and recovery marked"
        );
    }
    // The rate plot ends where the recovery starts: the final reads are not in it.
    let rate = read(&dir.path().join("rate.svg"));
    assert!(rate.contains("heal, recovery ▸") && !rate.contains("final reads"));
    assert!(html.contains("The final reads are left out"));
    let tl = timeline_data(&html);
    assert_eq!(tl["phases"].as_array().unwrap().len(), 4);
}

#[test]
fn hostile_values_show_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let evil = "<script>alert(1)</script>";
    let lines = [
        json!({"index":0,"time":0,"type":"invoke","process":0,"f":evil,"key":evil,"value":evil,"node":evil}),
        json!({"index":1,"time":1_000_000,"type":"info","process":"nemesis","f":"start-partition","value":{evil:[evil]}}),
        json!({"index":2,"time":2_000_000,"type":"info","process":0,"f":evil,"key":evil,"value":evil,"error":evil}),
        json!({"index":3,"time":3_000_000,"type":"info","process":"nemesis","f":format!("start-{evil}"),"value":[evil]}),
    ];
    let history: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(dir.path().join("history.jsonl"), history).unwrap();
    let cx = json!({"ops":[{"id":0,"process":0,"f":evil,"input":evil,"output":evil,"outcome":"info","invoke_index":0,
        "complete_index":2,"invoke_time":0,"complete_time":2_000_000,"invoke_line":1,"complete_line":3}],
        "minimal":true,"longest_prefix":[],"states":[evil],"stuck":[{"op":0,"why":evil}],"original_ops":1});
    let results = json!({"valid": false, "ops": 1, "elapsed_ms": 1.0, "checkers": {
        "linearizable": {"valid": false, "model": "register", "ops": 1, "elapsed_ms": 1.0,
            "keys": [{"key": evil, "valid": false, "ops": 1, "counterexample": cx}]},
        evil: {"valid": true, "error": evil}}});
    std::fs::write(dir.path().join("results.json"), results.to_string()).unwrap();
    let test = json!({"name": evil, "seed": evil, "argv": ["harness", "test", evil], "nemesis": [evil], "start_time": evil});
    std::fs::write(dir.path().join("test.json"), test.to_string()).unwrap();
    std::fs::create_dir_all(dir.path().join(format!("nodes/{evil}").replace('/', "_"))).unwrap();
    let s = render_run(dir.path()).unwrap();
    let html = read(&s.html);
    assert!(!html.contains(evil), "raw hostile value in the page");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    check_well_formed(&html).unwrap();
    for stem in ["latency-raw", "latency-quantiles", "rate"] {
        let svg = read(&dir.path().join(format!("{stem}.svg")));
        assert!(!svg.contains(evil), "{stem}.svg");
    }
    // The index escapes the name too.
    let store = tempfile::tempdir().unwrap();
    let run = store.path().join("t/20261123T110000.000Z");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::write(run.join("test.json"), test.to_string()).unwrap();
    std::fs::write(run.join("results.json"), results.to_string()).unwrap();
    render_index(store.path()).unwrap();
    let index = read(&store.path().join("index.html"));
    assert!(!index.contains(evil));
    check_well_formed(&index).unwrap();
}

#[test]
fn torn_history_and_missing_test_json_still_render() {
    let dir = copy_fixture("valid");
    std::fs::remove_file(dir.path().join("test.json")).unwrap();
    let mut h = read(&dir.path().join("history.jsonl"));
    h.push_str("{\"index\":1604,\"time\":99,\"ty");
    std::fs::write(dir.path().join("history.jsonl"), h).unwrap();
    let s = render_run(dir.path()).unwrap();
    assert_eq!(s.events, 1604);
    assert!(
        s.warnings.iter().any(|w| w.contains("line 1605")),
        "{:?}",
        s.warnings
    );
    let html = read(&s.html);
    assert!(html.contains("history line 1605 is torn"));
    assert!(html.contains("No test.json"));
}

#[test]
fn missing_inputs_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        render_run(dir.path()),
        Err(ReportError::Io { .. })
    ));
    std::fs::write(dir.path().join("results.json"), "{not json").unwrap();
    std::fs::write(dir.path().join("history.jsonl"), "").unwrap();
    match render_run(dir.path()) {
        Err(ReportError::BadInput {
            path,
            line: Some(1),
            ..
        }) => assert!(path.ends_with("results.json")),
        other => panic!("expected BadInput, got {other:?}"),
    }
    std::fs::write(dir.path().join("results.json"), r#"{"valid":"unknown"}"#).unwrap();
    let s = render_run(dir.path()).unwrap();
    assert_eq!(s.valid, Validity::Unknown);
    check_well_formed(&read(&s.html)).unwrap();
}

#[test]
fn a_failing_plot_is_recorded_and_the_rest_written() {
    let dir = copy_fixture("valid");
    // A directory where the PNG should go makes that one file impossible to write.
    std::fs::create_dir(dir.path().join("rate.png")).unwrap();
    let s = render_run(dir.path()).unwrap();
    assert_eq!(s.failures.len(), 1, "{:?}", s.failures);
    assert_eq!(s.failures[0].artifact, "rate.png");
    let html = read(&s.html);
    assert!(html.contains("Could not produce <b>rate.png</b>"));
    assert!(html.contains(r#"<h1 class="verdict v-valid">VALID</h1>"#));
    assert_eq!(
        check_png(&std::fs::read(dir.path().join("latency-raw.png")).unwrap()).unwrap(),
        (1200, 600)
    );
    assert!(dir.path().join("rate.svg").is_file());
}

#[test]
fn index_lists_runs_newest_first() {
    let store = tempfile::tempdir().unwrap();
    // Older stores hold bare stamps; newer folders carry the seed, the bug and the verdict.
    let runs = [
        ("alpha", "20261123T100000.000Z", json!(true)),
        (
            "beta",
            "20261123T120000.000Z-seed7-stale-read-INVALID",
            json!(false),
        ),
        ("alpha", "20261123T110000.000Z", json!("unknown")),
    ];
    for (name, stamp, valid) in &runs {
        let d = store.path().join(name).join(stamp);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(
            d.join("results.json"),
            json!({"valid": valid, "ops": 10, "elapsed_ms": 1500.0}).to_string(),
        )
        .unwrap();
        let bugs = if *name == "beta" {
            json!(["stale-read"])
        } else {
            json!([])
        };
        std::fs::write(
            d.join("test.json"),
            json!({"name": name, "nemesis": ["partition"], "seed": 7, "bugs": bugs}).to_string(),
        )
        .unwrap();
        std::fs::write(d.join("report.html"), "<!DOCTYPE html><html></html>").unwrap();
    }
    std::fs::write(
        store
            .path()
            .join("beta/20261123T120000.000Z-seed7-stale-read-INVALID/history.jsonl"),
        "{\"index\":0,\"time\":9000000000,\"type\":\"invoke\",\"process\":0,\"f\":\"read\"}\n",
    )
    .unwrap();
    std::os::unix::fs::symlink("20261123T110000.000Z", store.path().join("alpha/latest")).unwrap();
    std::os::unix::fs::symlink("alpha/20261123T110000.000Z", store.path().join("latest")).unwrap();
    std::fs::create_dir_all(store.path().join("empty/notarun")).unwrap();
    render_index(store.path()).unwrap();
    let index = read(&store.path().join("index.html"));
    check_well_formed(&index).unwrap();
    let pos = |s: &str| index.find(s).unwrap_or_else(|| panic!("missing {s}"));
    let (b, a11, a10) = (
        pos("beta/20261123T120000.000Z-seed7-stale-read-INVALID/report.html"),
        pos("alpha/20261123T110000.000Z/report.html"),
        pos("alpha/20261123T100000.000Z/report.html"),
    );
    assert!(b < a11 && a11 < a10, "not newest first");
    assert!(index.contains("3 runs, newest first"));
    assert!(
        index.contains("v-invalid") && index.contains("v-valid") && index.contains("v-unknown")
    );
    assert!(index.contains("<td>partition</td>") && index.contains("1.500 s"));
    assert!(
        index.contains("<td class=\"num\">9.000 s</td>"),
        "duration from the history's last event"
    );
    assert!(!index.contains("latest/"));
    assert!(
        index.contains("<th>seed</th><th>bug</th>"),
        "seed and bug columns"
    );
    assert!(
        index.contains("<td class=\"num\">7</td><td>stale-read</td>"),
        "the invalid run's seed and bug"
    );
    assert!(index.contains("<td>none</td>"), "runs without a bug say so");
}

/// Regenerates tests/fixtures/report/{valid,invalid}/results.json with the real checker
/// (run after changing gen_history.py; not part of the normal test run).
#[test]
#[ignore]
fn regenerate_fixture_results() {
    use checker::linear::{check, LinearOptions};
    use checker::model::ModelKind;
    for name in ["valid", "invalid"] {
        let dir = fixture_dir(name);
        let read = checker::format::read_file(&dir.join("history.jsonl"), None).unwrap();
        let lin = check(
            &read.history,
            ModelKind::CasRegister,
            &LinearOptions::default(),
        )
        .unwrap();
        let stats = checker::checkers::stats::stats(&read.history);
        let valid = lin.valid.and(stats.valid);
        let results = json!({
            "valid": valid,
            "checkers": {"linearizable": lin, "stats": stats.to_value()},
            "ops": lin.ops,
            "elapsed_ms": lin.elapsed_ms,
        });
        std::fs::write(
            dir.join("results.json"),
            serde_json::to_string_pretty(&results).unwrap() + "\n",
        )
        .unwrap();
        assert_eq!(
            valid == Validity::Valid,
            name == "valid",
            "{name}: checker says {valid}"
        );
    }
}

/// Renders the run directory named by `$REPORT_DIR` (and the index of `$REPORT_STORE`,
/// if set): a manual tool for looking at reports, not part of the normal test run.
#[test]
#[ignore]
fn render_env_dir() {
    if let Ok(d) = std::env::var("REPORT_DIR") {
        let s = render_run(Path::new(&d)).unwrap();
        println!("{s:#?}");
    }
    if let Ok(d) = std::env::var("REPORT_STORE") {
        render_index(Path::new(&d)).unwrap();
    }
}

#[test]
fn check_report_is_named_after_the_file_and_has_no_time_plots() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../checker/tests/data/porcupine/test_data/jepsen/etcd_000.log");
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("rep");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_harness"))
        .arg("check")
        .arg(&file)
        .arg("--report")
        .arg(&dir)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(1), "etcd_000.log is not linearizable");
    let html = read(&dir.join("report.html"));
    check_well_formed(&html).unwrap();
    assert!(html.contains("<title>etcd_000.log — invalid</title>"));
    assert!(
        !html.contains("<b>rep</b>")
            && !html.contains(&format!(
                "<b>{}</b>",
                out.path().file_name().unwrap().to_string_lossy()
            ))
    );
    assert!(!dir.join("rate.png").exists());
    let why = html.find("id=\"why\"").unwrap();
    assert!(why < html.find("id=\"config\"").unwrap());
    assert!(html[why..].contains("is not linearizable:"));
    // Times are event positions, in the summary and in the counterexample.
    assert!(html[why..].contains("<td class=\"num\">event 84</td>"));
    assert!(!html.contains("0.000000 s"));
}

#[test]
fn a_long_counterexample_shows_the_failing_step_and_what_came_just_before() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = String::new();
    let mut ops = Vec::new();
    for i in 0..20u64 {
        let (f, v) = if i == 19 {
            ("read", json!(null))
        } else {
            ("write", json!(i))
        };
        let t = i as i64 * 1_000_000;
        lines.push_str(&format!("{}\n", json!({"index": 2*i, "time": t, "type": "invoke", "process": 0, "f": f, "key": "k", "value": v, "node": "n1"})));
        let out = if i == 19 { json!(3) } else { v.clone() };
        lines.push_str(&format!("{}\n", json!({"index": 2*i+1, "time": t + 500_000, "type": "ok", "process": 0, "f": f, "key": "k", "value": out})));
        ops.push(json!({"id": i, "process": 0, "f": f, "input": v, "output": out, "outcome": "ok",
            "invoke_index": 2*i, "complete_index": 2*i+1, "invoke_time": t, "complete_time": t + 500_000}));
    }
    std::fs::write(dir.path().join("history.jsonl"), lines).unwrap();
    let prefix: Vec<u64> = (0..19).collect();
    let cx = json!({"ops": ops, "minimal": true, "longest_prefix": prefix, "states": ["18"],
        "stuck": [{"op": 19, "why": "read 3 but register is 18"}]});
    let results = json!({"valid": false, "checkers": {"linearizable": {"valid": false,
        "keys": [{"key": "k", "valid": false, "ops": 20, "counterexample": cx}]}}});
    std::fs::write(dir.path().join("results.json"), results.to_string()).unwrap();
    let html = read(&render_run(dir.path()).unwrap().html);
    let why = &html[html.find("id=\"why\"").unwrap()..html.find("<nav>").unwrap()];
    assert!(why
        .contains("<tr class=\"bad\"><td>19</td><td>p0</td><td>n1</td><td><code>read → 3</code>"));
    assert!(
        why.contains("<tr><td>18</td>"),
        "the write just before the failing read"
    );
    assert!(!why.contains("<tr><td>0</td>"), "the oldest op makes room");
    assert!(why.contains("8 more in the full counterexample"));
}
