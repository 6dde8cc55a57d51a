//! Shared by the end-to-end suites (`e2e_harness_test`, `e2e_etcd`, `e2e_usersys`): one lock
//! that runs their cases one at a time, running the `harness` binary and reading its last
//! JSON line, the run directory and results of a run, and the scan of `/proc` for processes
//! a run left behind.
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
