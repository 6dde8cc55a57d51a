//! End-to-end tests of the clock nemesis: libfaketime really changes the time a started
//! process reads (and the host's clock is untouched); the correct raft-kv stays valid under
//! skews, rate changes and strobes, with every clock change recorded in the history and
//! undone, and no control file left; etcd, whose clocks libfaketime cannot reach, is refused
//! with exit 254. Cases run one at a time (a global lock).

mod e2e_support;

use e2e_support::{harness, require_raft_node, results_of, run_dir, serial};
use harness::cluster::clock::{locate_libfaketime, Clocks};
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// What `date` prints as seconds when started by `clocks` as node `n1` in `dir`.
fn date_of(clocks: &Clocks, dir: &Path) -> f64 {
    let mut cmd = Command::new("date");
    cmd.arg("+%s.%N");
    clocks.prepare("n1", dir, &mut cmd).expect("control file");
    let out = cmd.output().expect("run date");
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("date said {text:?}"))
}

#[test]
fn a_faked_clock_reaches_a_real_process_and_not_the_host() {
    let lib = locate_libfaketime().expect("libfaketime (bash scripts/setup.sh installs it)");
    let dir = tempfile::tempdir().expect("temp dir");
    let clocks = Clocks::new(lib);
    let real = date_of(&clocks, dir.path());
    assert!((real - now_secs()).abs() < 2.0, "unfaked: {real}");
    // A restarted process keeps its node's skew.
    clocks.bump("n1", 1000.0).unwrap();
    let ahead = date_of(&clocks, dir.path());
    assert!(
        (ahead - now_secs() - 1000.0).abs() < 2.0,
        "{ahead} vs {}",
        now_secs()
    );
    clocks.bump("n1", -3000.0).unwrap();
    let behind = date_of(&clocks, dir.path());
    assert!((behind - now_secs() + 2000.0).abs() < 2.0, "{behind}");
    clocks.reset("n1").unwrap();
    assert!((date_of(&clocks, dir.path()) - now_secs()).abs() < 2.0);
    // The host's clock was never touched.
    assert!((now_secs() - real).abs() < 60.0);
    clocks.remove_all();
    assert!(!dir.path().join("faketime").exists());
}

/// The nemesis events of a history, in order.
fn nemesis_events(dir: &Path) -> Vec<Value> {
    let history = std::fs::read_to_string(dir.join("history.jsonl")).expect("history");
    history
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("history line is JSON"))
        .filter(|e| e["process"] == "nemesis")
        .collect()
}

#[test]
fn e2e_correct_raft_kv_stays_valid_under_clock_faults() {
    require_raft_node();
    let _g = serial();
    let store = tempfile::tempdir().expect("temp store");
    let s = store.path().to_string_lossy().into_owned();
    let r = harness(&[
        "test",
        "--nemesis",
        "clock",
        "--clock-targets",
        "leader,minority",
        "--clock-skew",
        "8s",
        "--clock-strobe-period",
        "20ms",
        "--time-limit",
        "14",
        "--nemesis-interval",
        "1",
        "--recovery-time",
        "2",
        "--nodes",
        "3",
        "--net",
        "netns",
        "--seed",
        "11",
        "--store",
        &s,
    ]);
    let left = e2e_support::processes_naming(store.path(), |c| c.contains("raft-node"));
    assert!(left.is_empty(), "leftover node processes: {left:?}");
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let dir = run_dir(&r);
    assert_eq!(results_of(&dir)["valid"], Value::Bool(true));
    let events = nemesis_events(&dir);
    let starts: Vec<&Value> = events.iter().filter(|e| e["f"] == "start-clock").collect();
    let stops = events.iter().filter(|e| e["f"] == "stop-clock").count();
    assert!(starts.len() >= 2, "{events:?}");
    assert_eq!(starts.len(), stops, "every clock change undone: {events:?}");
    for e in &starts {
        let v = &e["value"];
        assert!(
            ["skew", "rate", "strobe"].contains(&v["fault"].as_str().unwrap_or("")),
            "{v}"
        );
        let nodes = v["nodes"].as_object().expect("amount per node");
        assert!(!nodes.is_empty() && nodes.len() <= 2, "{v}");
        for amount in nodes.values() {
            let a = amount.as_f64().expect("a number");
            assert!(a != 0.0 && a.abs() <= 8.0, "{v}");
        }
    }
    // The report says them in words; no control file is left.
    let report = std::fs::read_to_string(dir.join("report.html")).expect("report");
    assert!(report.contains("&#39;s clock"));
    for n in ["n1", "n2", "n3"] {
        let f = dir.join("nodes").join(n).join("faketime");
        assert!(!f.exists(), "{} left", f.display());
    }
    let ops_ok = r.last["ops"].as_u64().unwrap_or(0);
    assert!(ops_ok > 100, "{}", r.stdout);
}

#[test]
fn clock_faults_are_refused_for_etcd_and_bad_amounts_with_254() {
    let _g = serial();
    let r = harness(&["test", "--db", "etcd", "--nemesis", "clock", "--nodes", "3"]);
    assert_eq!(r.code, 254, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("cannot reach etcd") && r.stderr.contains("vDSO"),
        "{}",
        r.stderr
    );
    for (flag, value) in [
        ("--clock-rate", "1"),
        ("--clock-faults", "warp"),
        ("--clock-skew", "forever"),
        ("--clock-strobe-period", "0"),
    ] {
        let r = harness(&["test", "--nemesis", "clock", flag, value]);
        assert_eq!(r.code, 254, "{flag} {value}: {}", r.stderr);
        assert!(r.stderr.contains(flag), "{flag}: {}", r.stderr);
    }
}
