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
    // Fault schedule: one interval per kind, all healed.
    for (kind, from, to) in [
        ("partition", "1.000 s", "3.000 s"),
        ("pause", "4.000 s", "5.500 s"),
        ("kill", "6.500 s", "8.000 s"),
    ] {
        assert!(
            html.contains(&format!(
                "{kind}</td><td class=\"num\">{from}</td><td class=\"num\">{to}</td>"
            )),
            "fault row {kind}"
        );
    }
    // Counts per f with all three outcomes present somewhere.
    assert!(html.contains("<td>read</td>") && html.contains("<td>cas</td>"));
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
    // The timeline shows all 807 calls (below the cap) and no counterexample.
    assert!(html.contains("Showing 799 of 799 operations"));
    assert!(!html.contains("id=\"counterexample\""));
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
    let keys = &html[html.find("id=\"keys\"").unwrap()..html.find("id=\"faults\"").unwrap()];
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
        &html[html.find("id=\"counterexample\"").unwrap()..html.find("id=\"files\"").unwrap()];
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
        let why = harness::report::escape::html(st["why"].as_str().unwrap());
        assert!(section.contains(&why), "stuck reason {why}");
    }
    for state in cx["states"].as_array().unwrap() {
        let state = harness::report::escape::html(state.as_str().unwrap());
        assert!(section.contains(&format!("<li><code>{state}</code></li>")));
    }
    // The main timeline outlines the counterexample's operations.
    assert!(html.contains("part of the counterexample"));
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
    let runs = [
        ("alpha", "20261123T100000.000Z", json!(true)),
        ("beta", "20261123T120000.000Z", json!(false)),
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
        std::fs::write(
            d.join("test.json"),
            json!({"name": name, "nemesis": ["partition"]}).to_string(),
        )
        .unwrap();
        std::fs::write(d.join("report.html"), "<!DOCTYPE html><html></html>").unwrap();
    }
    std::fs::write(
        store.path().join("beta/20261123T120000.000Z/history.jsonl"),
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
        pos("beta/20261123T120000.000Z/report.html"),
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
