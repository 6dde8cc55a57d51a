//! End-to-end tests of the Two Generals as a system under test: the real `harness` binary
//! starting two real `general` processes (A = n1, B = n2), playing rounds with K = 0..3
//! acknowledgements while the loss nemesis drops the packets between their namespaces. With
//! loss, some rounds end without a joint attack (one general alone, or both holding), so
//! the run is invalid (exit 1) and its report draws the agreement plot by loss rate and K;
//! without faults every round is a joint attack (exit 0). Cases run one at a time and leave
//! no `general` process behind.

mod e2e_support;

use e2e_support::{harness, results_of, run_dir, serial};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Fails (never skips) when `general` is not next to the harness or in `$HARNESS_BIN_DIR`.
fn require_general() {
    let bin = assert_cmd::cargo::cargo_bin("harness");
    let beside = bin.with_file_name("general");
    let env = std::env::var_os("HARNESS_BIN_DIR").map(|d| PathBuf::from(d).join("general"));
    assert!(
        beside.is_file() || env.is_some_and(|p| p.is_file()),
        "general not found next to {}: `cargo build -p two-generals` first",
        bin.display()
    );
}

fn assert_no_leftovers(store: &Path) {
    let left = e2e_support::processes_naming(store, |cmd| cmd.contains("general"));
    assert!(left.is_empty(), "leftover general processes: {left:?}");
}

fn generals_run(store: &Path, extra: &[&str]) -> (i32, Value, PathBuf) {
    let s = store.to_string_lossy().into_owned();
    let mut args = vec![
        "test",
        "--db",
        "two-generals",
        "--nodes",
        "2",
        "--workload",
        "generals",
        "--concurrency",
        "4",
        "--recovery-time",
        "1",
        "--seed",
        "1",
        "--store",
        &s,
    ];
    args.extend_from_slice(extra);
    let r = harness(&args);
    assert!(
        r.code == 0 || r.code == 1,
        "exit {}: {}\n{}",
        r.code,
        r.stdout,
        r.stderr
    );
    let dir = run_dir(&r);
    assert_no_leftovers(store);
    (r.code, results_of(&dir), dir)
}

#[test]
fn e2e_lossy_link_breaks_agreement_and_the_report_plots_it() {
    require_general();
    let _g = serial();
    let store = tempfile::tempdir().expect("temp store");
    let (code, res, dir) = generals_run(
        store.path(),
        &[
            "--nemesis",
            "loss",
            "--loss",
            "0.5",
            "--nemesis-interval",
            "2",
            "--net",
            "netns",
            "--time-limit",
            "12",
        ],
    );
    let g = &res["checkers"]["generals"];
    assert_eq!(code, 1, "rounds under 50% loss must disagree: {g}");
    assert_eq!(g["valid"], Value::Bool(false), "{g}");
    let rounds = g["rounds"].as_u64().unwrap_or(0);
    assert!(rounds >= 40, "only {rounds} rounds in 12 s: {g}");
    let bad = ["a_alone", "b_alone", "both_hold"]
        .iter()
        .map(|k| g[*k].as_u64().unwrap_or(0))
        .sum::<u64>();
    assert!(bad > 0 && bad < rounds, "{g}");
    // Rounds with and without loss, each with every K of the sweep.
    let cells = g["cells"].as_array().expect("cells");
    let losses: std::collections::BTreeSet<u64> = cells
        .iter()
        .map(|c| (c["loss"].as_f64().unwrap_or(-1.0) * 100.0).round() as u64)
        .collect();
    assert_eq!(losses, [0, 50].into(), "{cells:?}");
    let ks: std::collections::BTreeSet<u64> =
        cells.iter().filter_map(|c| c["acks"].as_u64()).collect();
    assert_eq!(ks, [0, 1, 2, 3].into());
    let lossless: u64 = cells
        .iter()
        .filter(|c| c["loss"].as_f64() == Some(0.0))
        .map(|c| c["rounds"].as_u64().unwrap_or(0) - c["both_attack"].as_u64().unwrap_or(0))
        .sum();
    assert!(
        lossless * 10 <= rounds,
        "too many disagreements without loss ({lossless}): {cells:?}"
    );
    let summary = g["summary"].as_str().unwrap_or_default();
    assert!(
        summary.contains("rounds without a joint attack"),
        "{summary}"
    );
    let history = std::fs::read_to_string(dir.join("history.jsonl")).expect("history");
    assert!(history.contains("\"f\":\"start-loss\""));
    assert!(history.contains("\"a_sent\":"), "rounds record messengers");
    let png = std::fs::metadata(dir.join("agreement.png")).expect("agreement.png");
    assert!(png.len() > 5_000);
    let page = std::fs::read_to_string(dir.join("report.html")).expect("report.html");
    assert!(page.contains("Chance of agreement") && page.contains("both attacked"));
}

#[test]
fn e2e_without_faults_every_round_is_a_joint_attack() {
    require_general();
    let _g = serial();
    let store = tempfile::tempdir().expect("temp store");
    let (code, res, _dir) = generals_run(
        store.path(),
        &["--nemesis", "none", "--net", "proxy", "--time-limit", "4"],
    );
    let g = &res["checkers"]["generals"];
    assert_eq!(code, 0, "{g}");
    assert_eq!(g["both_attack"], g["rounds"], "{g}");
    assert!(g["rounds"].as_u64().unwrap_or(0) >= 10, "{g}");
}

#[test]
fn e2e_two_generals_need_two_nodes_and_the_generals_workload() {
    let store = tempfile::tempdir().expect("temp store");
    let s = store.path().to_string_lossy().into_owned();
    let r = harness(&[
        "test",
        "--db",
        "two-generals",
        "--workload",
        "generals",
        "--store",
        &s,
    ]);
    assert_eq!(r.code, 254, "{}", r.stderr);
    assert!(r.stderr.contains("--nodes 2"), "{}", r.stderr);
    let r = harness(&[
        "test",
        "--db",
        "two-generals",
        "--nodes",
        "2",
        "--store",
        &s,
    ]);
    assert_eq!(r.code, 254, "{}", r.stderr);
    assert!(r.stderr.contains("speaks generals"), "{}", r.stderr);
}
