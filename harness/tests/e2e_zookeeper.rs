//! End-to-end tests of ZooKeeper 3.8 (Debian's `zookeeper` package) as a system under test:
//! the real `harness` binary starting a real 3-server ensemble, each server a JVM in its own
//! network namespace, under real partitions and kills, with short time limits. Cases run one
//! at a time (a global lock). After each case no server JVM of the run may be left. If the
//! server jar or `java` is missing the tests FAIL (never skip): `bash scripts/setup.sh`
//! installs them.

mod e2e_support;

use e2e_support::{assert_history_has, first_caught, passed, serial, test_in};
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
    e2e_support::assert_none_left(store, "QuorumPeerMain");
}

fn run(store: &Path, extra: &[&str], nemesis: &str, seed: &str) -> e2e_support::Ran {
    let mut args = vec![
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
        "--seed",
        seed,
    ];
    args.extend_from_slice(extra);
    let r = test_in(store, &args);
    assert_no_leftovers(store);
    r
}

#[test]
fn zookeeper_under_partition_and_kill_is_linearizable() {
    require_zookeeper();
    let _g = serial();
    let store = tempfile::tempdir().expect("temp store");
    let r = run(store.path(), &[], "partition,kill", "7");
    let (dir, _) = passed(&r, 1000);
    // Faults really happened, and reads (sync + getData), not only writes.
    assert_history_has(&dir, &["start-partition", "kill", "read"]);
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
    first_caught(
        &["1", "3", "5", "2", "4"],
        "reads without sync",
        |store, seed| {
            run(
                store,
                &["--db-opt", "sync-reads=false", "--partition", "isolated"],
                "partition",
                seed,
            )
        },
    );
}

#[test]
fn a_missing_zookeeper_jar_is_a_harness_failure() {
    let _g = serial();
    let store = tempfile::tempdir().expect("temp store");
    let r = test_in(
        store.path(),
        &[
            "--db",
            "zookeeper",
            "--db-bin",
            "/nonexistent/zk.jar",
            "--time-limit",
            "5",
            "--nodes",
            "3",
        ],
    );
    assert_eq!(r.code, 255, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("/nonexistent/zk.jar"), "{}", r.stderr);
}
