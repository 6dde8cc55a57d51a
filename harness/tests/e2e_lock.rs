//! End-to-end tests of `harness test --db lock-service --workload lock`: the real `harness`
//! binary, real `lock-node` processes, real faults (partitions, pauses, kills), short time
//! limits, one case at a time (the shared global lock). After each case nothing of the run
//! may be left running.

mod e2e_support;

use e2e_support::{require_lock_node, results_of, run_dir, serial};

#[test]
fn the_lock_workload_passes_on_the_correct_service_under_partitions_pauses_and_kills() {
    let _guard = serial();
    require_lock_node();
    let store = tempfile::tempdir().expect("temp store");
    let store_s = store.path().to_string_lossy().into_owned();
    let ran = e2e_support::harness(&[
        "test",
        "--db",
        "lock-service",
        "--workload",
        "lock",
        "--nemesis",
        "partition,pause,kill",
        "--nodes",
        "3",
        "--concurrency",
        "6",
        "--time-limit",
        "12",
        "--seed",
        "7",
        "--store",
        &store_s,
    ]);
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    let results = results_of(&run_dir(&ran));
    let overlap = &results["checkers"]["lock-overlap"];
    assert_eq!(overlap["valid"], true, "{overlap}");
    assert!(overlap["holds"].as_u64().unwrap_or(0) > 20, "{overlap}");
    assert_eq!(results["checkers"]["linearizable"]["valid"], true);
    let left = e2e_support::processes_naming(store.path(), |c| c.contains("lock-node"));
    assert!(left.is_empty(), "leftover lock-node processes: {left:?}");
}

#[test]
fn a_kv_workload_against_the_lock_service_is_refused_with_what_it_speaks() {
    let _guard = serial();
    require_lock_node();
    let store = tempfile::tempdir().expect("temp store");
    let store_s = store.path().to_string_lossy().into_owned();
    let ran = e2e_support::harness(&[
        "test",
        "--db",
        "lock-service",
        "--workload",
        "register",
        "--time-limit",
        "5",
        "--store",
        &store_s,
    ]);
    assert_ne!(ran.code, 0);
    let all = format!("{}{}", ran.stdout, ran.stderr);
    assert!(all.contains("lock"), "{all}");
}
