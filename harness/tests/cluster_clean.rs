//! `harness clean` against the leftovers of a simulated crashed run (namespaces, host link, an
//! orphaned node process, a stale manifest, whose harness is dead): `--dry-run` lists them and
//! removes nothing, a real run removes them all; a live run's resources are left alone.

mod cluster_support;

use std::process::{Command, Stdio};
use std::time::Duration;

use assert_cmd::prelude::*;
use cluster_support::*;
use harness::cluster::cleanup::{new_run_prefix, self_identity, Manifest};
use harness::cluster::net::netns::NetnsNet;
use harness::cluster::Cluster;
use harness::netmode::NetMode;

fn harness_cmd(state_dir: &std::path::Path) -> Command {
    let mut c = Command::cargo_bin("harness").expect("harness binary");
    c.env("HARNESS_STATE_DIR", state_dir);
    c
}

#[test]
fn clean_removes_leftovers_of_a_crashed_run() {
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let prefix = new_run_prefix();
    let _guard = LeftoverGuard(prefix.clone());
    let state = tempfile::tempdir().unwrap();
    let run_dir = tempfile::tempdir().unwrap();

    // A "harness" that dies: its pid is dead by the time we clean.
    let mut dead = Command::new("true").spawn().unwrap();
    let dead_pid = dead.id();
    dead.wait().unwrap();

    let net = NetnsNet::setup(&prefix, 2).expect("netns setup");
    let names = net.names().clone();
    drop(net); // no teardown: that is the point
    let mut orphan = Command::new("ip")
        .args(["netns", "exec", &names.node_ns[0], "sleep", "300"])
        .env("HARNESS_RUN", &prefix)
        .env("HARNESS_OWNER_PID", dead_pid.to_string())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let manifest = Manifest {
        prefix: prefix.clone(),
        harness_pid: dead_pid,
        harness_start: 1,
        run_dir: run_dir.path().to_path_buf(),
        net: "netns".into(),
        namespaces: names.node_ns.clone(),
        links: vec![names.host_link.clone()],
        pids: vec![orphan.id() as i32],
        cleaned: false,
    };
    std::fs::write(
        state.path().join(format!("{prefix}.json")),
        serde_json::to_string(&manifest).unwrap(),
    )
    .unwrap();
    // Wait until the orphan has exec'd sleep with its environment.
    for _ in 0..50 {
        if marked_pids(&prefix).len() == 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(marked_pids(&prefix).len(), 1);
    assert_eq!(
        net_leftovers(&prefix).len(),
        4,
        "{:?}",
        net_leftovers(&prefix)
    );

    let out = harness_cmd(state.path())
        .args(["clean", "--prefix", &prefix, "--dry-run"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("would remove namespace {prefix}-n1")),
        "{text}"
    );
    assert!(
        text.contains(&format!("would remove link {prefix}-h")),
        "{text}"
    );
    assert!(text.contains("would remove process"), "{text}");
    assert_eq!(net_leftovers(&prefix).len(), 4, "dry run removes nothing");
    assert_eq!(marked_pids(&prefix).len(), 1);

    let out = harness_cmd(state.path())
        .args(["clean", "--prefix", &prefix])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("removed namespace {prefix}-sw")),
        "{text}"
    );
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["namespaces"], 3);
    assert_eq!(last["processes"], 1);
    let st = orphan.wait().unwrap();
    assert!(!st.success(), "the orphan was killed");
    assert!(
        net_leftovers(&prefix).is_empty(),
        "{:?}",
        net_leftovers(&prefix)
    );
    assert!(!state.path().join(format!("{prefix}.json")).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_leaves_a_live_run_alone() {
    let mode = if is_root() {
        NetMode::Netns
    } else {
        NetMode::Proxy
    };
    let (cfg, _dir) = config(2, mode);
    let prefix = cfg.run_prefix.clone();
    let _guard = LeftoverGuard(prefix.clone());
    let cluster = Cluster::start(cfg, test_db()).await.expect("start");
    let before = net_leftovers(&prefix);
    let state = harness::cluster::cleanup::state_dir();
    let out = harness_cmd(&state)
        .args(["clean", "--prefix", &prefix])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("skipped run {prefix}")), "{text}");
    assert_eq!(net_leftovers(&prefix), before);
    assert!(cluster.is_running("n1").unwrap() && cluster.is_running("n2").unwrap());
    assert_eq!(marked_pids(&prefix).len(), 2);
    // Our own identity is what the manifest recorded.
    assert!(self_identity().1 > 0);
    cluster.shutdown().await.unwrap();
    assert!(net_leftovers(&prefix).is_empty());
}

#[test]
fn clean_rejects_a_bad_prefix() {
    let state = tempfile::tempdir().unwrap();
    harness_cmd(state.path())
        .args(["clean", "--prefix", "../x"])
        .assert()
        .code(254);
}
