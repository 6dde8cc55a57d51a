//! End-to-end tests of etcd as a system under test: the real `harness` binary starting real
//! `etcd` 3.4 members (Debian's `etcd-server`), each in its own network namespace, under real
//! faults, with short time limits. Cases run one at a time (a global lock): they share the
//! machine's cores. After each case the test asserts that no etcd process of the run is left
//! and that a passing run's data directories (about 60-120 MB each) were deleted while its
//! logs were kept. If `etcd` is not installed the tests FAIL (never skip): `bash
//! scripts/setup.sh` installs it.

mod e2e_support;

use e2e_support::{assert_history_has, first_caught, passed, results_of, run_dir, serial, test_in};
use serde_json::Value;
use std::path::Path;

/// Fails (never skips) when etcd is missing.
fn require_etcd() {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path).any(|d| d.join("etcd").is_file());
    assert!(
        found,
        "`etcd` is not on PATH: `bash scripts/setup.sh` installs it (Debian's etcd-server)"
    );
}

/// No etcd process whose command line names `store` is left.
fn assert_no_leftovers(store: &Path) {
    e2e_support::assert_none_left(store, "etcd");
}

/// Every node's log is kept; after a passing run its data directory is gone.
fn assert_logs_kept_data_deleted(dir: &Path, nodes: usize) {
    for i in 1..=nodes {
        let node = dir.join("nodes").join(format!("n{i}"));
        let log = node.join("stderr.log");
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(
            text.contains("etcd"),
            "{} should hold the member's log",
            log.display()
        );
        assert!(
            !node.join("data").exists(),
            "{} should be deleted after a passing run",
            node.join("data").display()
        );
    }
}

fn passing_case(nemesis: &str) {
    require_etcd();
    let _g = serial();
    let store = tempfile::tempdir().expect("temp store");
    let r = test_in(
        store.path(),
        &[
            "--db",
            "etcd",
            "--workload",
            "register",
            "--nemesis",
            nemesis,
            "--time-limit",
            "15",
            "--nemesis-interval",
            "3",
            "--nodes",
            "3",
            "--net",
            "netns",
            "--seed",
            "7",
        ],
    );
    assert_no_leftovers(store.path());
    let (dir, res) = passed(&r, 1000);
    let lin = &res["checkers"]["linearizable"];
    assert_eq!(lin["valid"], Value::Bool(true), "{lin}");
    // The nemesis really acted: its events are in the history.
    let start = match nemesis {
        "partition" => "start-partition",
        other => other,
    };
    assert_history_has(&dir, &[start]);
    assert_logs_kept_data_deleted(&dir, 3);
}

#[test]
fn etcd_under_partition_is_linearizable() {
    passing_case("partition");
}

#[test]
fn etcd_under_kill_is_linearizable() {
    passing_case("kill");
}

/// Serializable reads are served from a member's local state: a member that is behind (cut
/// off by the partition, or merely a few milliseconds behind the leader in applying) answers
/// with an old value. Seeds are tried in order until one exposes it; measured on 2026-11-23:
/// seeds 1, 2 and 3 each exposed it (3 of 3), e.g. seed 1: a read on n3 returned 2 at 2.680 s
/// although a cas 2->4 had committed at 2.676 s, before the first partition.
#[test]
fn etcd_serializable_reads_are_caught_stale() {
    require_etcd();
    let _g = serial();
    let (_store, dir, res) = first_caught(&["1", "2", "3"], "serializable reads", |store, seed| {
        let r = test_in(
            store,
            &[
                "--db",
                "etcd",
                "--db-opt",
                "serializable-reads=true",
                "--workload",
                "register",
                "--nemesis",
                "partition",
                "--partition",
                "isolated",
                "--time-limit",
                "15",
                "--nemesis-interval",
                "3",
                "--nodes",
                "3",
                "--net",
                "netns",
                "--seed",
                seed,
            ],
        );
        assert_no_leftovers(store);
        r
    });
    let keys = res["checkers"]["linearizable"]["keys"]
        .as_array()
        .expect("keys");
    let bad: Vec<&Value> = keys
        .iter()
        .filter(|k| k["valid"] == Value::Bool(false))
        .collect();
    assert!(!bad.is_empty(), "invalid verdict without an invalid key");
    // The counterexample shows an observation the register could not give then: an ok read
    // (the stale read itself) or a failed cas (a compare made against the stale value); the
    // shrinker keeps every write such an observation may have seen (README, "Known limits").
    let ce = &bad[0]["counterexample"];
    let observed = |o: &&Value| {
        (o["f"] == "read" && o["outcome"] == "ok") || (o["f"] == "cas" && o["outcome"] == "fail")
    };
    let stuck_on_observation = ce["stuck"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| {
            s["why"]
                .as_str()
                .is_some_and(|w| w.contains("read") || w.contains("failed"))
        })
        .count();
    let observations = ce["ops"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(observed)
        .count();
    assert!(
        stuck_on_observation > 0 && observations > 0,
        "the counterexample should show a stale observation: {ce}"
    );
    // A failed run keeps its data directories for inspection.
    assert!(dir.join("nodes/n1/data").exists());
}

#[test]
fn a_missing_etcd_binary_is_a_harness_failure() {
    let _g = serial();
    let store = tempfile::tempdir().expect("temp store");
    let r = test_in(
        store.path(),
        &[
            "--db",
            "etcd",
            "--db-bin",
            "/nonexistent/etcd",
            "--time-limit",
            "5",
            "--nodes",
            "3",
        ],
    );
    assert_eq!(r.code, 255, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("/nonexistent/etcd"),
        "the message should name the binary: {}",
        r.stderr
    );
}

#[test]
fn an_etcd_member_that_cannot_start_points_at_its_log() {
    require_etcd();
    let _g = serial();
    let store = tempfile::tempdir().expect("temp store");
    let s = store.path().to_string_lossy().into_owned();
    // An etcd flag that does not exist: every member exits at once.
    let r = test_in(
        store.path(),
        &[
            "--db",
            "etcd",
            "--db-opt",
            "no-such-etcd-flag=1",
            "--time-limit",
            "5",
            "--nodes",
            "3",
            "--net",
            "netns",
        ],
    );
    assert_no_leftovers(store.path());
    assert_eq!(r.code, 255, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("stderr.log") && r.stderr.contains(&s),
        "the message should point at the node's log: {}",
        r.stderr
    );
}

#[test]
fn a_bad_serializable_reads_value_is_bad_input() {
    let _g = serial();
    let store = tempfile::tempdir().expect("temp store");
    let r = test_in(
        store.path(),
        &[
            "--db",
            "etcd",
            "--db-bin",
            "/bin/sh",
            "--db-opt",
            "serializable-reads=maybe",
            "--time-limit",
            "5",
        ],
    );
    assert_eq!(r.code, 254, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("serializable-reads"), "{}", r.stderr);
}

/// Without network namespaces etcd still runs, on loopback with direct peer links: pause and
/// kill faults work (and must pass), and the harness says why partitions are unavailable.
#[test]
fn etcd_on_loopback_runs_pause_and_kill() {
    require_etcd();
    let _g = serial();
    let store = tempfile::tempdir().expect("temp store");
    let r = test_in(
        store.path(),
        &[
            "--db",
            "etcd",
            "--workload",
            "register",
            "--nemesis",
            "pause,kill",
            "--time-limit",
            "15",
            "--nemesis-interval",
            "3",
            "--nodes",
            "3",
            "--net",
            "proxy",
            "--seed",
            "5",
        ],
    );
    assert_no_leftovers(store.path());
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("127.0.0.1") && r.stderr.contains("partitions need --net netns"),
        "the harness should say why partitions are unavailable: {}",
        r.stderr
    );
    let dir = run_dir(&r);
    let res = results_of(&dir);
    assert!(res["ops"].as_u64().unwrap_or(0) >= 1000, "{}", res["ops"]);
    let history = std::fs::read_to_string(dir.join("history.jsonl")).expect("history");
    assert!(history.contains("\"f\":\"pause\"") || history.contains("\"f\":\"kill\""));
    assert_logs_kept_data_deleted(&dir, 3);

    // A partition cannot be made there: refused up front, naming why.
    let r = test_in(
        store.path(),
        &[
            "--db",
            "etcd",
            "--nemesis",
            "partition",
            "--time-limit",
            "5",
            "--nodes",
            "3",
            "--net",
            "proxy",
        ],
    );
    assert_eq!(r.code, 254, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("--net netns") && r.stderr.contains("etcd"),
        "{}",
        r.stderr
    );
    assert_no_leftovers(store.path());
}
