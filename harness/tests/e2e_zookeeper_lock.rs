//! End-to-end tests of the lock workloads on ZooKeeper 3.8 (Debian's `zookeeper`): the real
//! `harness` binary, a real 3-server ensemble in network namespaces, ZooKeeper's lock recipe
//! (`workloads/src/clients/lock/zookeeper.rs`), real partitions and kills, and stalled lock
//! holders, with short limits. Fails (never skips) when ZooKeeper is not installed. After
//! each case no server JVM of the run may be left.

mod e2e_support;

use e2e_support::{harness, results_of, run_dir, serial};
use std::path::Path;

fn require_zookeeper() {
    assert!(
        Path::new("/usr/share/java/zookeeper.jar").is_file(),
        "/usr/share/java/zookeeper.jar is missing: `bash scripts/setup.sh` installs Debian's zookeeper"
    );
}

fn run(store: &Path, workload: &str, nemesis: &str) -> e2e_support::Ran {
    let s = store.to_string_lossy().into_owned();
    let r = harness(&[
        "test",
        "--db",
        "zookeeper",
        "--workload",
        workload,
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
        "--concurrency",
        "4",
        "--net",
        "netns",
        "--seed",
        "3",
        "--store",
        &s,
    ]);
    let left = e2e_support::processes_naming(store, |c| c.contains("QuorumPeerMain"));
    assert!(left.is_empty(), "leftover zookeeper servers: {left:?}");
    r
}

#[test]
fn the_lock_workload_passes_on_zookeeper_under_partitions_and_kills() {
    require_zookeeper();
    let _g = serial();
    let store = tempfile::tempdir().expect("store");
    let ran = run(store.path(), "lock", "partition,kill");
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    let r = results_of(&run_dir(&ran));
    assert_eq!(r["checkers"]["lock-overlap"]["valid"], true);
    assert!(r["checkers"]["lock-overlap"]["holds"].as_u64().unwrap_or(0) > 10);
}

#[test]
fn the_fencing_workload_passes_on_zookeeper_with_stalled_holders() {
    require_zookeeper();
    let _g = serial();
    let store = tempfile::tempdir().expect("store");
    let ran = run(store.path(), "fencing", "stall,partition,kill");
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    let r = results_of(&run_dir(&ran));
    let f = &r["checkers"]["fencing"];
    assert_eq!(f["valid"], true, "{f}");
    assert!(f["writes"].as_u64().unwrap_or(0) > 10, "{f}");
}
