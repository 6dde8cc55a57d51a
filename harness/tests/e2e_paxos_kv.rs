//! End-to-end tests of paxos-kv as a system under test: the real `harness` binary starting
//! real `paxos-node` processes (nodes/paxos-kv), each in its own network namespace, under
//! real faults, short time limits. The correct node must pass the combined nemesis; the
//! `stale-read` bug must be found, and `forget-promise` by its nemesis script (which the
//! correct node passes). Cases run one at a time (the shared lock) and each asserts
//! that no node process of its run is left.

mod e2e_support;

use e2e_support::{harness, results_of, run_dir, serial};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Fails (never skips) when `paxos-node` is not next to the harness or in `$HARNESS_BIN_DIR`.
fn require_paxos_node() {
    let bin = assert_cmd::cargo::cargo_bin("harness");
    let beside = bin.with_file_name("paxos-node");
    let env = std::env::var_os("HARNESS_BIN_DIR").map(|d| PathBuf::from(d).join("paxos-node"));
    assert!(
        beside.is_file() || env.is_some_and(|p| p.is_file()),
        "paxos-node not found next to {}: `cargo build -p paxos-kv` first",
        bin.display()
    );
}

fn assert_no_leftovers(store: &Path) {
    let left = e2e_support::processes_naming(store, |cmd| cmd.contains("paxos-node"));
    assert!(left.is_empty(), "leftover paxos-node processes: {left:?}");
}

/// A short 3-node register run of paxos-kv in `store` with `seed`, over `net`, for `secs`.
fn base_args<'a>(store: &'a str, seed: &'a str, net: &'a str, secs: &'a str) -> Vec<&'a str> {
    let mut args = vec![
        "test",
        "--db",
        "paxos-kv",
        "--workload",
        "register",
        "--nodes",
        "3",
    ];
    args.extend(["--net", net, "--time-limit", secs, "--recovery-time", "2"]);
    args.extend(["--seed", seed, "--store", store, "--no-report"]);
    args
}

fn paxos_args<'a>(store: &'a str, nemesis: &'a str, seed: &'a str) -> Vec<&'a str> {
    let mut args = base_args(store, seed, "netns", "15");
    args.extend(["--nemesis", nemesis, "--nemesis-interval", "2"]);
    args
}

#[test]
fn e2e_correct_paxos_kv_is_linearizable_under_partition_pause_kill() {
    require_paxos_node();
    let _g = serial();
    let store = tempfile::tempdir().expect("temp store");
    let s = store.path().to_string_lossy().into_owned();
    let r = harness(&paxos_args(&s, "partition,pause,kill", "5"));
    let dir = run_dir(&r);
    assert_no_leftovers(store.path());
    assert_eq!(r.code, 0, "paxos-kv must pass: {}\n{}", r.stdout, r.stderr);
    let res = results_of(&dir);
    assert_eq!(res["valid"], Value::Bool(true));
    let ops = res["ops"].as_u64().unwrap_or(0);
    assert!(ops >= 300, "only {ops} ops checked");
    let history = std::fs::read_to_string(dir.join("history.jsonl")).expect("history");
    for f in ["start-partition", "pause", "kill"] {
        assert!(
            history.contains(&format!("\"f\":\"{f}\"")),
            "no {f} event in the history"
        );
    }
}

/// `--bug stale-read`: a node cut off by an isolating partition answers reads from its old
/// state. Seeds are tried in order until one exposes it (at most 3 runs).
#[test]
fn e2e_paxos_kv_stale_read_is_found_under_partition() {
    require_paxos_node();
    let _g = serial();
    let store = tempfile::tempdir().expect("temp store");
    let s = store.path().to_string_lossy().into_owned();
    let mut codes = Vec::new();
    for seed in ["1", "2", "3"] {
        let mut args = paxos_args(&s, "partition", seed);
        args.extend(["--partition", "isolated", "--bug", "stale-read"]);
        let r = harness(&args);
        let dir = run_dir(&r);
        assert_no_leftovers(store.path());
        codes.push(r.code);
        if r.code == 1 {
            let res = results_of(&dir);
            assert_eq!(res["valid"], Value::Bool(false));
            assert_eq!(
                res["checkers"]["linearizable"]["valid"],
                Value::Bool(false),
                "{}",
                res["checkers"]
            );
            return;
        }
    }
    panic!("stale-read not found in 3 runs (exit codes {codes:?})");
}

/// The bundled nemesis script for `forget-promise`, with the election timeouts it is
/// written for (README, "Testing paxos-kv").
fn forget_promise_script_args<'a>(store: &'a str, seed: &'a str) -> Vec<&'a str> {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/nemesis/paxos-forget-promise.toml"
    );
    let mut args = base_args(store, seed, "proxy", "20");
    args.extend(["--nemesis-script", script]);
    args.extend(["--db-opt", "election-timeout-min-ms=1000"]);
    args.extend(["--db-opt", "election-timeout-max-ms=3000"]);
    args
}

/// `--bug forget-promise`: the script freezes the leader with unaccepted proposals, kills
/// the acceptor that promised the next leader's ballot before it accepts anything in it,
/// and lets the frozen leader's retransmission reach it first after its restart. Seeds are
/// tried in order until one exposes it (at most 3 runs; measured in the README).
#[test]
fn e2e_paxos_kv_forget_promise_is_found_by_its_nemesis_script() {
    require_paxos_node();
    let _g = serial();
    let (store, dir, _) =
        e2e_support::first_caught(&["1", "2", "3"], "forget-promise", |st, seed| {
            let s = st.to_string_lossy().into_owned();
            let mut args = forget_promise_script_args(&s, seed);
            args.extend(["--bug", "forget-promise"]);
            let r = harness(&args);
            assert_no_leftovers(st);
            r
        });
    e2e_support::assert_history_has(&dir, &["pause", "kill", "restart", "resume", "start-delay"]);
    drop(store);
}

/// The same script against the correct node: the forgotten-promise interleaving is
/// harmless when promises are persisted, so the run passes.
#[test]
fn e2e_correct_paxos_kv_passes_the_forget_promise_script() {
    require_paxos_node();
    let _g = serial();
    let store = tempfile::tempdir().expect("temp store");
    let s = store.path().to_string_lossy().into_owned();
    let mut args = forget_promise_script_args(&s, "1");
    args.retain(|a| *a != "--no-report");
    let r = harness(&args);
    assert_no_leftovers(store.path());
    let (dir, _) = e2e_support::passed(&r, 300);
    e2e_support::assert_history_has(&dir, &["pause", "kill", "restart", "start-partition"]);
    let report = std::fs::read_to_string(dir.join("report.html")).expect("report");
    assert!(report.contains("the nemesis script, as the run read it"));
    assert!(
        report.contains("wait-leader = &quot;new&quot;"),
        "the script's text is shown"
    );
}
