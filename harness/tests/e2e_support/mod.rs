//! Shared by the end-to-end suites (`e2e_harness_test`, `e2e_etcd`, `e2e_zookeeper`,
//! `e2e_usersys`, ...): one lock that runs their cases one at a time, running the `harness`
//! binary (`harness test ... --store S` in a store of its own) and reading its last JSON
//! line, the run directory and results of a run, the checks every passing or caught run
//! gets, trying seeds until a bug is caught, and the scan of `/proc` for processes a run
//! left behind.
#![allow(dead_code)]

use assert_cmd::Command;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

static SERIAL: Mutex<()> = Mutex::new(());

/// Held for the whole of a case: real clusters share two cores, so cases run one at a time.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// Fails (never skips) when `raft-node` is not next to the harness or in `$HARNESS_BIN_DIR`.
pub fn require_raft_node() {
    let bin = assert_cmd::cargo::cargo_bin("harness");
    let node = bin.with_file_name("raft-node");
    let env_node = std::env::var_os("HARNESS_BIN_DIR").map(|d| PathBuf::from(d).join("raft-node"));
    assert!(
        node.is_file() || env_node.as_ref().is_some_and(|p| p.is_file()),
        "raft-node not found next to {}: build the raft-kv bins first (bash scripts/test.sh does)",
        bin.display()
    );
}

/// Fails (never skips) when `lock-node` is not next to the harness or in `$HARNESS_BIN_DIR`.
pub fn require_lock_node() {
    let bin = assert_cmd::cargo::cargo_bin("harness");
    let beside = bin.with_file_name("lock-node");
    let env = std::env::var_os("HARNESS_BIN_DIR").map(|d| PathBuf::from(d).join("lock-node"));
    assert!(
        beside.is_file() || env.as_ref().is_some_and(|p| p.is_file()),
        "lock-node not found next to {}: build the workspace bins first",
        bin.display()
    );
}

/// The `harness` binary, once `raft-node` is known to be beside it.
pub fn harness_bin() -> PathBuf {
    require_raft_node();
    assert_cmd::cargo::cargo_bin("harness")
}

/// What one `harness` invocation did.
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// The last stdout line as JSON (null if it is not JSON).
    pub last: Value,
}

/// Runs `harness ARGS` to completion (at most 240 s).
pub fn harness(args: &[&str]) -> Ran {
    let out = Command::new(assert_cmd::cargo::cargo_bin("harness"))
        .args(args)
        .timeout(Duration::from_secs(240))
        .output()
        .expect("run harness");
    ran(&out)
}

/// What a finished `harness` process printed, as a [`Ran`].
pub fn ran(out: &std::process::Output) -> Ran {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let last = stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or(Value::Null);
    Ran {
        code: out.status.code().unwrap_or(-1),
        stdout,
        stderr,
        last,
    }
}

/// Runs `harness test ARGS --store STORE`.
pub fn test_in(store: &Path, args: &[&str]) -> Ran {
    let s = store.to_string_lossy().into_owned();
    let mut all = vec!["test"];
    all.extend_from_slice(args);
    all.extend(["--store", &s]);
    harness(&all)
}

/// A run that must pass: exit 0, `valid: true`, at least `min_ops` operations checked.
/// Returns its folder and results.
pub fn passed(r: &Ran, min_ops: u64) -> (PathBuf, Value) {
    assert_eq!(r.code, 0, "the run must pass: {}\n{}", r.stdout, r.stderr);
    let dir = run_dir(r);
    let res = results_of(&dir);
    assert_eq!(res["valid"], Value::Bool(true), "{res}");
    let ops = res["ops"].as_u64().unwrap_or(0);
    assert!(ops >= min_ops, "only {ops} ops checked");
    (dir, res)
}

/// Asserts that the run's history holds an event of every function in `fs` (`kill`,
/// `start-partition`, `read`).
pub fn assert_history_has(dir: &Path, fs: &[&str]) {
    let history = std::fs::read_to_string(dir.join("history.jsonl")).expect("history");
    for f in fs {
        assert!(
            history.contains(&format!("\"f\":\"{f}\"")),
            "no {f} event in the history"
        );
    }
}

/// Runs `run(store, seed)` for each seed in order, each in a fresh store, until one exits 1
/// (every run must exit 0 or 1). Returns the store (kept until dropped) and the results of
/// the caught run, whose linearizability verdict is asserted false; panics naming the
/// seeds tried when none is caught.
pub fn first_caught(
    seeds: &[&str],
    what: &str,
    mut run: impl FnMut(&Path, &str) -> Ran,
) -> (tempfile::TempDir, PathBuf, Value) {
    for seed in seeds {
        let store = tempfile::tempdir().expect("temp store");
        let r = run(store.path(), seed);
        assert!(
            r.code == 0 || r.code == 1,
            "seed {seed}: exit {}: {}\n{}",
            r.code,
            r.stdout,
            r.stderr
        );
        if r.code == 1 {
            let dir = run_dir(&r);
            let res = results_of(&dir);
            assert_eq!(res["valid"], Value::Bool(false));
            assert_eq!(
                res["checkers"]["linearizable"]["valid"],
                Value::Bool(false),
                "{res}"
            );
            return (store, dir, res);
        }
    }
    panic!("{what} passed with seeds {seeds:?}: it was not exposed");
}

/// Asserts that no process whose command line names `store` and contains `marker` is left.
pub fn assert_none_left(store: &Path, marker: &str) {
    let left = processes_naming(store, |cmd| cmd.contains(marker));
    assert!(left.is_empty(), "leftover {marker} processes: {left:?}");
}

/// The run directory named by the last JSON line.
pub fn run_dir(r: &Ran) -> PathBuf {
    PathBuf::from(
        r.last["results"]
            .as_str()
            .unwrap_or_else(|| panic!("no results dir: {}\n{}", r.stdout, r.stderr)),
    )
}

/// The run's results.json.
pub fn results_of(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("results.json")).expect("results.json");
    serde_json::from_str(&text).expect("results.json is JSON")
}

/// Command lines of live processes that name `store` and pass `keep`.
pub fn processes_naming(store: &Path, keep: impl Fn(&str) -> bool) -> Vec<String> {
    let store_s = store.to_string_lossy().into_owned();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(cmd) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if cmd.contains(&store_s) && keep(&cmd) {
            found.push(cmd);
        }
    }
    found
}
