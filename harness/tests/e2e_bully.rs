//! End-to-end tests of the bully election as a system under test: the real `harness`
//! binary starting five real `bully-node` processes, each in its own network namespace, cut
//! into {n1,n2,n3} and {n4,n5} (the README's lesson) by the partition nemesis. The classic
//! algorithm must split (exit 1, the election checker naming two nodes acting at once); with
//! `--db-opt quorum=true` the same schedule must pass (exit 0) with the leadership having
//! moved. Cases run one at a time (the shared lock) and leave no node process behind.

mod e2e_support;

use e2e_support::{harness, results_of, run_dir, serial};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The README's partition: the minority {n4,n5} holds the leader n5.
const GRUDGE: &str = r#"{"n1":["n4","n5"],"n2":["n4","n5"],"n3":["n4","n5"],"n4":["n1","n2","n3"],"n5":["n1","n2","n3"]}"#;

/// Fails (never skips) when `bully-node` is not next to the harness or in `$HARNESS_BIN_DIR`.
fn require_bully_node() {
    let bin = assert_cmd::cargo::cargo_bin("harness");
    let beside = bin.with_file_name("bully-node");
    let env = std::env::var_os("HARNESS_BIN_DIR").map(|d| PathBuf::from(d).join("bully-node"));
    assert!(
        beside.is_file() || env.is_some_and(|p| p.is_file()),
        "bully-node not found next to {}: `cargo build -p bully` first",
        bin.display()
    );
}

fn assert_no_leftovers(store: &Path) {
    let left = e2e_support::processes_naming(store, |cmd| cmd.contains("bully-node"));
    assert!(left.is_empty(), "leftover bully-node processes: {left:?}");
}

/// Runs the election workload under the README's partition; `quorum` adds the db option.
fn election_run(store: &Path, quorum: bool) -> (i32, Value, PathBuf) {
    let s = store.to_string_lossy().into_owned();
    let mut args = vec![
        "test",
        "--db",
        "bully",
        "--workload",
        "election",
        "--nemesis",
        "partition",
        "--partition",
        GRUDGE,
        "--net",
        "netns",
        "--nodes",
        "5",
        "--time-limit",
        "12",
        "--nemesis-interval",
        "3",
        "--recovery-time",
        "2",
        "--rate",
        "400",
        "--seed",
        "1",
        "--store",
        &s,
        "--no-report",
    ];
    if quorum {
        args.extend(["--db-opt", "quorum=true"]);
    }
    let r = harness(&args);
    let dir = run_dir(&r);
    assert_no_leftovers(store);
    let res = results_of(&dir);
    (r.code, res, dir)
}

#[test]
fn e2e_classic_bully_splits_brain_under_partition() {
    require_bully_node();
    let _g = serial();
    let store = tempfile::tempdir().expect("temp store");
    let (code, res, dir) = election_run(store.path(), false);
    let el = &res["checkers"]["election"];
    assert_eq!(code, 1, "classic bully must split: {el}");
    assert_eq!(el["valid"], Value::Bool(false), "{el}");
    let sb = &el["split_brains"][0];
    assert_ne!(sb["first"]["leader_id"], sb["second"]["leader_id"], "{sb}");
    // The one line the report's "why" section shows names the two acting nodes.
    let summary = el["summary"].as_str().unwrap_or_default();
    assert!(summary.starts_with("split brain ("), "{el}");
    assert!(summary.matches(" acted ").count() == 2, "{summary}");
    let history = std::fs::read_to_string(dir.join("history.jsonl")).expect("history");
    assert!(history.contains("\"f\":\"start-partition\""));
}

#[test]
fn e2e_quorum_bully_never_has_two_leaders_under_the_same_partition() {
    require_bully_node();
    let _g = serial();
    let store = tempfile::tempdir().expect("temp store");
    let (code, res, _dir) = election_run(store.path(), true);
    let el = &res["checkers"]["election"];
    assert_eq!(code, 0, "quorum bully must pass: {el}");
    assert_eq!(el["valid"], Value::Bool(true), "{el}");
    // The partition really moved the leadership: more than one node acted (one at a time).
    let leaders = el["acts_by_leader"].as_object().map_or(0, |m| m.len());
    assert!(leaders >= 2, "only {leaders} node(s) ever acted: {el}");
}
