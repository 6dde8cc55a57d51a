//! Cleanup when the harness process ends abnormally: SIGTERM and SIGINT tear the cluster down
//! and exit 143 / 130; after a SIGKILL the nodes die with the harness (PR_SET_PDEATHSIG) and
//! `harness clean` removes the namespaces left behind.

mod cluster_support;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::prelude::*;
use cluster_support::*;
use harness::cluster::cleanup::new_run_prefix;

fn hold_bin() -> PathBuf {
    let node = stand_in_node_bin();
    let bin = node.with_file_name("cluster_hold");
    if !bin.is_file() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let st = Command::new(cargo)
            .args(["build", "-p", "harness", "--example", "cluster_hold"])
            .status()
            .unwrap();
        assert!(st.success());
    }
    bin
}

/// Kills the holder on drop so a failing test leaves no process.
struct Holder(Child);

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_holder(prefix: &str, net: &str, run_dir: &std::path::Path) -> (Holder, Vec<i32>) {
    let mut child = Command::new(hold_bin())
        .arg(stand_in_node_bin())
        .arg(run_dir)
        .arg(prefix)
        .arg(net)
        .arg("3")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let holder = Holder(child);
    let v: serde_json::Value = serde_json::from_str(&line).expect("ready line");
    let pids = v["pids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_i64().unwrap() as i32)
        .collect::<Vec<_>>();
    assert_eq!(pids.len(), 3);
    (holder, pids)
}

fn wait_gone(pids: &[i32]) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if pids.iter().all(|p| proc_state(*p).is_none()) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn signal_tears_down(sig: nix::sys::signal::Signal, code: i32) {
    let net = if is_root() { "netns" } else { "proxy" };
    let prefix = new_run_prefix();
    let _guard = LeftoverGuard(prefix.clone());
    let dir = tempfile::tempdir().unwrap();
    let (mut holder, pids) = start_holder(&prefix, net, dir.path());
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(holder.0.id() as i32), sig).unwrap();
    let st = holder.0.wait().unwrap();
    assert_eq!(st.code(), Some(code));
    assert!(wait_gone(&pids), "nodes gone");
    assert!(
        net_leftovers(&prefix).is_empty(),
        "{:?}",
        net_leftovers(&prefix)
    );
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("cleanup.json")).unwrap())
            .unwrap();
    assert_eq!(m["cleaned"], true);
}

#[test]
fn sigterm_tears_the_cluster_down_and_exits_143() {
    signal_tears_down(nix::sys::signal::Signal::SIGTERM, 143);
}

#[test]
fn sigint_tears_the_cluster_down_and_exits_130() {
    signal_tears_down(nix::sys::signal::Signal::SIGINT, 130);
}

#[test]
fn sigkill_nodes_die_with_the_harness_and_clean_removes_the_rest() {
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let prefix = new_run_prefix();
    let _guard = LeftoverGuard(prefix.clone());
    let dir = tempfile::tempdir().unwrap();
    let (mut holder, pids) = start_holder(&prefix, "netns", dir.path());
    holder.0.kill().unwrap();
    holder.0.wait().unwrap();
    assert!(wait_gone(&pids), "PR_SET_PDEATHSIG killed the nodes");
    assert_eq!(
        net_leftovers(&prefix).len(),
        5,
        "namespaces outlive a SIGKILLed harness"
    );
    let out = Command::cargo_bin("harness")
        .unwrap()
        .args(["clean", "--prefix", &prefix])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        net_leftovers(&prefix).is_empty(),
        "{:?}",
        net_leftovers(&prefix)
    );
}
