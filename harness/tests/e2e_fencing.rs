//! End-to-end tests of `harness test --db lock-service --workload fencing --nemesis stall`:
//! the real `harness` binary, real `lock-node` processes, lock clients frozen while they hold
//! a lock (their keep-alives stop), then woken to write to the protected resource without
//! re-checking. With `--fencing off` a stale write lands and the run is invalid (exit 1);
//! with fencing on (and the correct service) the resource rejects it and the run passes.
//! Short limits, one case at a time; nothing of a run may be left running.

mod e2e_support;

use e2e_support::{require_lock_node, results_of, run_dir, serial};
use std::path::Path;

/// One 12 s fencing run on 3 nodes, one lock (so every stall has a rival waiting).
fn run(store: &Path, nemesis: &str, fencing: &str, seed: &str) -> e2e_support::Ran {
    let store_s = store.to_string_lossy().into_owned();
    e2e_support::harness(&[
        "test",
        "--db",
        "lock-service",
        "--workload",
        "fencing",
        "--fencing",
        fencing,
        "--nemesis",
        nemesis,
        "--nemesis-interval",
        "1",
        "--keys",
        "1",
        "--nodes",
        "3",
        "--concurrency",
        "4",
        "--time-limit",
        "12",
        "--recovery-time",
        "1",
        "--seed",
        seed,
        "--store",
        &store_s,
    ])
}

fn history_fs(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("history.jsonl")).expect("history");
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["process"] == "nemesis")
        .filter_map(|v| v["f"].as_str().map(str::to_string))
        .collect()
}

fn assert_nothing_left(store: &Path) {
    let left = e2e_support::processes_naming(store, |c| c.contains("lock-node"));
    assert!(left.is_empty(), "leftover lock-node processes: {left:?}");
}

#[test]
fn without_fencing_a_stalled_holder_s_write_lands_and_the_run_is_invalid() {
    let _guard = serial();
    require_lock_node();
    let mut tried = Vec::new();
    // Half the stalls are long enough (over a TTL) to lose the lock; a seed may draw only
    // short ones, so a few seeds are tried.
    for seed in ["1", "2", "3"] {
        let store = tempfile::tempdir().expect("temp store");
        let ran = run(store.path(), "stall", "off", seed);
        assert_nothing_left(store.path());
        assert!(
            ran.code == 0 || ran.code == 1,
            "seed {seed}: exit {}: {}\n{}",
            ran.code,
            ran.stdout,
            ran.stderr
        );
        let dir = run_dir(&ran);
        let fs = history_fs(&dir);
        assert!(fs.iter().any(|f| f == "start-stall"), "no stall: {fs:?}");
        assert!(dir.join("resource.jsonl").is_file(), "the resource's log");
        if ran.code == 1 {
            let fencing = &results_of(&dir)["checkers"]["fencing"];
            assert!(
                fencing["stale_write_count"].as_u64().unwrap_or(0) >= 1,
                "{fencing}"
            );
            let stale = &fencing["stale_writes"][0];
            assert!(
                stale["newer_token"].as_u64() > stale["write"]["token"].as_u64(),
                "{stale}"
            );
            return;
        }
        tried.push(seed);
    }
    panic!("no stale write landed without fencing with seeds {tried:?}");
}

#[test]
fn with_fencing_the_correct_service_passes_under_stalls_partitions_pauses_and_kills() {
    let _guard = serial();
    require_lock_node();
    let store = tempfile::tempdir().expect("temp store");
    let ran = run(store.path(), "stall,partition,pause,kill", "on", "7");
    assert_nothing_left(store.path());
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    let dir = run_dir(&ran);
    let fencing = &results_of(&dir)["checkers"]["fencing"];
    assert_eq!(fencing["valid"], true, "{fencing}");
    assert!(fencing["writes"].as_u64().unwrap_or(0) > 10, "{fencing}");
    let test_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("test.json")).unwrap()).unwrap();
    assert_eq!(test_json["fencing"], true);
}

#[test]
fn a_stall_without_a_lock_workload_is_refused() {
    let _guard = serial();
    require_lock_node();
    let store = tempfile::tempdir().expect("temp store");
    let store_s = store.path().to_string_lossy().into_owned();
    let ran = e2e_support::harness(&[
        "test",
        "--workload",
        "register",
        "--nemesis",
        "stall",
        "--time-limit",
        "2",
        "--store",
        &store_s,
    ]);
    assert_eq!(ran.code, 254, "{}\n{}", ran.stdout, ran.stderr);
    assert!(ran.stderr.contains("--nemesis stall"), "{}", ran.stderr);
}
