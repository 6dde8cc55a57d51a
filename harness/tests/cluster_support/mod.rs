//! Shared helpers of the cluster runtime's integration tests: locating (or building) the
//! stand-in node, HTTP probes of a node, and listings of namespaces, links and processes used
//! to prove that nothing was left behind.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use harness::cluster::cleanup::new_run_prefix;
use harness::cluster::net::netns::{list_links, list_namespaces};
use harness::cluster::ClusterConfig;
use harness::netmode::NetMode;
use harness::systems::raft_kv::RaftKv;

/// `target/<profile>/examples/stand_in_node`, built on demand if `cargo test --test X` did not
/// build the examples.
pub fn stand_in_node_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    // target/<profile>/deps/<test> → target/<profile>
    let profile_dir = exe.parent().and_then(Path::parent).expect("profile dir");
    let bin = profile_dir.join("examples").join("stand_in_node");
    if !bin.is_file() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = std::process::Command::new(cargo);
        build.args(["build", "-p", "harness", "--example", "stand_in_node"]);
        if profile_dir.ends_with("release") {
            build.arg("--release");
        }
        let st = build
            .status()
            .expect("run cargo build --example stand_in_node");
        assert!(st.success(), "building the test node failed");
    }
    assert!(bin.is_file(), "{} missing", bin.display());
    bin
}

pub fn test_db() -> Box<dyn harness::systems::System> {
    Box::new(RaftKv::with_bin(stand_in_node_bin()))
}

/// A config for a `nodes`-node cluster in a fresh temp dir (returned so it lives as long as
/// the test) and a fresh run prefix.
pub fn config(nodes: usize, net: NetMode) -> (ClusterConfig, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = ClusterConfig {
        nodes,
        net,
        run_dir: dir.path().to_path_buf(),
        run_prefix: new_run_prefix(),
        startup_timeout: Duration::from_secs(15),
        fake_clocks: None,
        peer_proxies: false,
    };
    (cfg, dir)
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_millis(2500))
        .build()
        .expect("client")
}

/// `GET http://addr/path` as JSON, or the error text.
pub async fn get_json(addr: SocketAddr, path: &str) -> Result<serde_json::Value, String> {
    let r = http()
        .get(format!("http://{addr}{path}"))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    r.json().await.map_err(|e| e.to_string())
}

/// Namespaces and host links whose name starts with `prefix-`.
pub fn net_leftovers(prefix: &str) -> Vec<String> {
    let p = format!("{prefix}-");
    list_namespaces()
        .into_iter()
        .chain(list_links())
        .filter(|n| n.starts_with(&p))
        .collect()
}

/// Pids of processes whose environment carries `HARNESS_RUN=<prefix>`.
pub fn marked_pids(prefix: &str) -> Vec<i32> {
    let needle = format!("HARNESS_RUN={prefix}");
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) {
            if env.split(|b| *b == 0).any(|v| v == needle.as_bytes()) {
                // A zombie has an empty environ; a readable match means a live process.
                out.push(pid);
            }
        }
    }
    out
}

/// The state letter of a process (`R`, `S`, `T` stopped, `Z`), if it exists.
pub fn proc_state(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 2..].chars().next()
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Removes anything left under `prefix` when dropped (runs on test failure too).
pub struct LeftoverGuard(pub String);

impl Drop for LeftoverGuard {
    fn drop(&mut self) {
        let _ = harness::cluster::cleanup::clean_forced(&self.0, false);
    }
}
