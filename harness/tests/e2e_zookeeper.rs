//! End-to-end tests of ZooKeeper 3.8 (Debian's `zookeeper` package) as a system under test:
//! the real `harness` binary starting a real 3-server ensemble, each server a JVM in its own
//! network namespace, under real partitions and kills, with short time limits. Cases run one
//! at a time (a global lock). After each case no server JVM of the run may be left. If the
//! server jar or `java` is missing the tests FAIL (never skip): `bash scripts/setup.sh`
//! installs them.

mod e2e_support;

use e2e_support::{harness, results_of, run_dir, serial};
use serde_json::Value;
use std::path::Path;

/// Fails (never skips) when ZooKeeper is not installed.
fn require_zookeeper() {
    assert!(
        Path::new("/usr/share/java/zookeeper.jar").is_file(),
        "/usr/share/java/zookeeper.jar is missing: `bash scripts/setup.sh` installs Debian's zookeeper"
    );
}

/// No ZooKeeper server whose command line names `store` is left.
fn assert_no_leftovers(store: &Path) {
    let left = e2e_support::processes_naming(store, |cmd| cmd.contains("QuorumPeerMain"));
    assert!(left.is_empty(), "leftover zookeeper servers: {left:?}");
}

fn run(store: &Path, extra: &[&str], nemesis: &str, seed: &str) -> e2e_support::Ran {
    let s = store.to_string_lossy().into_owned();
    let mut args = vec![
        "test",
        "--db",
        "zookeeper",
        "--workload",
        "register",
        "--nemesis",
        nemesis,
        "--time-limit",
        "12",
        "--nemesis-interval",
        "3",
        "--nodes",
        "3",
        "--net",
        "netns",
        "--store",
        &s,
        "--seed",
        seed,
    ];
    args.extend_from_slice(extra);
    let r = harness(&args);
    assert_no_leftovers(store);
    r
}

#[test]
fn zookeeper_under_partition_and_kill_is_linearizable() {
    require_zookeeper();
    let _g = serial();
    let store = tempfile::tempdir().expect("temp store");
    let r = run(store.path(), &[], "partition,kill", "7");
    assert_eq!(r.code, 0, "zookeeper must pass: {}\n{}", r.stdout, r.stderr);
    let dir = run_dir(&r);
    let res = results_of(&dir);
    assert_eq!(res["valid"], Value::Bool(true));
    let ops = res["ops"].as_u64().unwrap_or(0);
    assert!(ops >= 1000, "only {ops} ops checked");
    let history = std::fs::read_to_string(dir.join("history.jsonl")).expect("history");
    for f in ["start-partition", "kill"] {
        assert!(
            history.contains(&format!("\"f\":\"{f}\"")),
            "no {f} event in the history"
        );
    }
    // Reads really happened and succeeded (sync + getData), not only writes.
    assert!(
        history.contains("\"f\":\"read\""),
        "no reads in the history"
    );
    let log = std::fs::read_to_string(dir.join("nodes/n1/stderr.log")).unwrap_or_default();
    assert!(log.contains("QuorumPeer"), "n1's server log should be kept");
    assert!(
        dir.join("nodes/n1/zoo.cfg").is_file(),
        "zoo.cfg written per run"
    );
}

/// Reads without `sync` are served from a server's local state, which may lag the leader.
/// Seeds are tried in order until one exposes it. Measured on 2026-12-02 (12 s runs,
/// `--partition isolated`, debug build): seeds 1, 3, 5 exposed it, 2, 4, 6 did not (3 of 6);
/// with the default partition planner 1 of 3 (seed 3).
#[test]
fn zookeeper_reads_without_sync_are_caught() {
    require_zookeeper();
    let _g = serial();
    let mut tried = Vec::new();
    for seed in ["1", "3", "5", "2", "4"] {
        let store = tempfile::tempdir().expect("temp store");
        let r = run(
            store.path(),
            &["--db-opt", "sync-reads=false", "--partition", "isolated"],
            "partition",
            seed,
        );
        assert!(
            r.code == 0 || r.code == 1,
            "seed {seed}: exit {}: {}\n{}",
            r.code,
            r.stdout,
            r.stderr
        );
        if r.code == 1 {
            let res = results_of(&run_dir(&r));
            assert_eq!(res["valid"], Value::Bool(false));
            assert_eq!(
                res["checkers"]["linearizable"]["valid"],
                Value::Bool(false),
                "{res}"
            );
            return;
        }
        tried.push(seed);
    }
    panic!("reads without sync passed with seeds {tried:?}: the stale read was not exposed");
}

#[test]
fn a_missing_zookeeper_jar_is_a_harness_failure() {
    let _g = serial();
    let store = tempfile::tempdir().expect("temp store");
    let s = store.path().to_string_lossy().into_owned();
    let r = harness(&[
        "test",
        "--db",
        "zookeeper",
        "--db-bin",
        "/nonexistent/zk.jar",
        "--time-limit",
        "5",
        "--nodes",
        "3",
        "--store",
        &s,
    ]);
    assert_eq!(r.code, 255, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("/nonexistent/zk.jar"), "{}", r.stderr);
}
