//! End-to-end tests of the append workload and `harness hunt`: the real `harness` binary,
//! real `raft-node` (and `etcd`) processes, real faults, short limits. Cases run one at a
//! time (a global lock) and assert that no node process of their store is left.

mod e2e_support;

use e2e_support::{harness, require_raft_node, results_of, run_dir, serial};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn assert_no_leftovers(store: &Path) {
    let left =
        e2e_support::processes_naming(store, |c| c.contains("raft-node") || c.contains("etcd"));
    assert!(left.is_empty(), "leftover node processes: {left:?}");
}

/// Every `read` of the history returned a list text (`"3,8,"` or `""`) and at least one
/// read saw several elements.
fn assert_reads_show_lists(dir: &Path) {
    let history = std::fs::read_to_string(dir.join("history.jsonl")).expect("history");
    let mut longest = 0;
    let mut appends = 0;
    for line in history.lines() {
        let op: Value = serde_json::from_str(line).expect("history line is JSON");
        if op["type"] != "ok" {
            continue;
        }
        match op["f"].as_str() {
            Some("append") => appends += 1,
            Some("read") => {
                let text = op["value"].as_str().expect("a read records the list text");
                let elems = workloads::append::parse_list(text).expect("a list text");
                longest = longest.max(elems.len());
            }
            _ => {}
        }
    }
    assert!(appends >= 50, "only {appends} appends completed");
    assert!(longest >= 3, "no read saw more than {longest} elements");
}

fn append_case(db: &[&str], nemesis: &str) {
    let store = tempfile::tempdir().expect("temp store");
    let s = store.path().to_string_lossy().into_owned();
    let mut args = vec!["test"];
    args.extend_from_slice(db);
    args.extend([
        "--workload",
        "append",
        "--nemesis",
        nemesis,
        "--time-limit",
        "12",
        "--nemesis-interval",
        "2",
        "--recovery-time",
        "2",
        "--nodes",
        "3",
        "--net",
        "netns",
        "--seed",
        "5",
        "--store",
        &s,
        "--no-report",
    ]);
    let r = harness(&args);
    assert_no_leftovers(store.path());
    assert_eq!(
        r.code, 0,
        "append under {nemesis}: {}\n{}",
        r.stdout, r.stderr
    );
    let dir = run_dir(&r);
    let res = results_of(&dir);
    assert_eq!(res["valid"], Value::Bool(true));
    let lin = &res["checkers"]["linearizable"];
    assert_eq!(lin["valid"], Value::Bool(true), "{lin}");
    assert_reads_show_lists(&dir);
}

#[test]
fn e2e_append_on_raft_kv_is_valid_under_partitions_and_kills() {
    require_raft_node();
    let _g = serial();
    append_case(&[], "partition,kill");
}

#[test]
fn e2e_append_on_etcd_is_valid_under_kills() {
    let _g = serial();
    append_case(&["--db", "etcd"], "kill");
}

/// The line of the hunt's output that starts with `prefix`, without it.
fn line_after<'a>(stdout: &'a str, prefix: &str) -> Option<&'a str> {
    stdout.lines().find_map(|l| l.strip_prefix(prefix))
}

#[test]
fn e2e_hunt_finds_stale_read_and_prints_the_reproducing_command() {
    require_raft_node();
    let _g = serial();
    let store = tempfile::tempdir().expect("temp store");
    let s = store.path().to_string_lossy().into_owned();
    let r = harness(&[
        "hunt",
        "--bug",
        "stale-read",
        "--budget",
        "150s",
        "--time-limit",
        "8",
        "--nodes",
        "3",
        "--workloads",
        "register",
        "--schedules",
        "pause-leader,leader-cut-off",
        "--seed",
        "3",
        "--store",
        &s,
    ]);
    assert_no_leftovers(store.path());
    assert_eq!(
        r.code, 1,
        "stale-read must be found: {}\n{}",
        r.stdout, r.stderr
    );
    assert!(r.stdout.contains("hunt: FOUND after"), "{}", r.stdout);
    let dir = PathBuf::from(line_after(&r.stdout, "results: ").expect("results line"));
    assert_eq!(results_of(&dir)["valid"], Value::Bool(false));
    let repro = line_after(&r.stdout, "reproduce: ").expect("reproduce line");
    assert!(repro.starts_with("harness test --db raft-kv"), "{repro}");
    assert!(
        repro.contains("--bug stale-read") && repro.contains("--seed"),
        "{repro}"
    );
    // The recorded argv of the failing run is that command.
    let test: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("test.json")).unwrap()).unwrap();
    let seed = test["seed"].as_u64().expect("seed in test.json");
    assert!(
        repro.contains(&format!("--seed {seed}")),
        "{repro} vs {seed}"
    );
}

#[test]
fn e2e_hunt_on_correct_raft_kv_finds_nothing_and_writes_junit() {
    require_raft_node();
    let _g = serial();
    let store = tempfile::tempdir().expect("temp store");
    let s = store.path().to_string_lossy().into_owned();
    let junit = store.path().join("hunt.xml");
    let r = harness(&[
        "hunt",
        "--budget",
        "20s",
        "--time-limit",
        "5",
        "--nodes",
        "3",
        "--seed",
        "8",
        "--store",
        &s,
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_no_leftovers(store.path());
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let runs = r
        .stdout
        .lines()
        .filter(|l| l.starts_with("hunt run"))
        .count();
    assert!(runs >= 1, "{}", r.stdout);
    assert!(
        r.stdout
            .contains(&format!("hunt: nothing found in {runs} runs")),
        "{}",
        r.stdout
    );
    let xml = std::fs::read_to_string(&junit).expect("junit written");
    assert!(xml.contains("<testsuite"), "{xml}");
}

#[test]
fn e2e_hunt_refuses_bad_flags_with_254() {
    let r = harness(&["hunt", "--budget", "soon"]);
    assert_eq!(r.code, 254, "{}", r.stderr);
    assert!(r.stderr.contains("--budget soon"), "{}", r.stderr);
    let r = harness(&["hunt", "--schedules", "tornado", "--budget", "5s"]);
    assert_eq!(r.code, 254, "{}", r.stderr);
    assert!(r.stderr.contains("tornado"), "{}", r.stderr);
}
