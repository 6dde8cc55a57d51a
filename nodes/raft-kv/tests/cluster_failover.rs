//! Crash tests with real processes: kill -9 the leader and every acknowledged write
//! survives under a new leader; a restarted node catches up from its data dir, also through
//! a snapshot (InstallSnapshot) when the leader compacted past it; a whole-cluster restart
//! recovers from snapshot + WAL.

mod cluster_support;

use cluster_support::Cluster;
use std::time::{Duration, Instant};

fn wait_applied(c: &Cluster, id: u64, at_least: u64, within: Duration) -> serde_json::Value {
    let deadline = Instant::now() + within;
    loop {
        if let Some(s) = c.status(id) {
            if s["applied_index"].as_u64().unwrap_or(0) >= at_least {
                return s;
            }
        }
        assert!(
            Instant::now() < deadline,
            "node {id} did not apply {at_least} within {within:?}: {:?}",
            c.status(id)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn cluster_kill_leader_keeps_acknowledged_writes_and_restart_catches_up() {
    let mut c = Cluster::start(3, &[]);
    let old = c.wait_leader(Duration::from_secs(10));
    for i in 0..30 {
        c.put(old, &format!("k{i}"), &format!("v{i}"));
    }
    c.kill(old);
    let new = c.wait_leader(Duration::from_secs(10));
    assert_ne!(new, old);
    for i in 0..30 {
        assert_eq!(c.get(new, &format!("k{i}")), Some(format!("v{i}")), "k{i}");
    }
    for i in 30..40 {
        c.put(new, &format!("k{i}"), &format!("v{i}"));
    }
    let commit = c.status(new).expect("status")["commit_index"]
        .as_u64()
        .expect("commit");
    c.restart(old);
    let s = wait_applied(&c, old, commit, Duration::from_secs(10));
    assert_eq!(s["role"], "follower");
    // All three nodes still agree on one leader and serve every write.
    let l = c.wait_leader(Duration::from_secs(10));
    for i in 0..40 {
        assert_eq!(c.get(old, &format!("k{i}")), Some(format!("v{i}")));
    }
    let _ = l;
}

#[test]
fn cluster_restarted_node_catches_up_from_a_snapshot() {
    let mut c = Cluster::start(3, &["--snapshot-threshold", "20"]);
    let leader = c.wait_leader(Duration::from_secs(10));
    let lagger = (1..=3).find(|&i| i != leader).expect("follower");
    c.put(leader, "first", "1");
    c.kill(lagger);
    for i in 0..120 {
        c.put(leader, &format!("k{i}"), &i.to_string());
    }
    let ls = c.status(leader).expect("status");
    let commit = ls["commit_index"].as_u64().expect("commit");
    assert!(
        ls["snapshot_index"].as_u64().unwrap_or(0) > 20,
        "leader compacted: {ls}"
    );
    assert!(ls["snapshot_bytes"].as_u64().unwrap_or(0) > 0);
    c.restart(lagger);
    let s = wait_applied(&c, lagger, commit, Duration::from_secs(15));
    assert!(
        s["snapshot_index"].as_u64().unwrap_or(0) > 20,
        "lagger installed a snapshot: {s}"
    );
    // Whole-cluster restart: every node recovers from its snapshot + WAL.
    for id in 1..=3 {
        c.kill(id);
    }
    for id in 1..=3 {
        c.start_node(id);
    }
    for id in 1..=3 {
        c.wait_serving(id);
    }
    let l = c.wait_leader(Duration::from_secs(10));
    assert_eq!(c.get(l, "first"), Some("1".into()));
    for i in 0..120 {
        assert_eq!(c.get(lagger, &format!("k{i}")), Some(i.to_string()), "k{i}");
    }
}

#[test]
fn cluster_installs_a_snapshot_larger_than_default_body_limits() {
    let mut c = Cluster::start(3, &["--snapshot-threshold", "10"]);
    let leader = c.wait_leader(Duration::from_secs(10));
    let lagger = (1..=3).find(|&i| i != leader).expect("follower");
    c.kill(lagger);
    let big = "v".repeat(200 * 1024);
    // Snapshots are taken every 11 entries; 25 writes (+ the no-op) leave one at index 22
    // holding 21 values of 200 KiB (> 4 MB; > 5 MB as base64 JSON on the wire).
    for i in 0..25 {
        c.put(leader, &format!("big{i}"), &format!("{i}{big}"));
    }
    let ls = c.status(leader).expect("status");
    assert!(ls["snapshot_bytes"].as_u64().unwrap_or(0) > 3 << 20, "{ls}");
    let commit = ls["commit_index"].as_u64().expect("commit");
    c.restart(lagger);
    let s = wait_applied(&c, lagger, commit, Duration::from_secs(20));
    assert!(s["snapshot_bytes"].as_u64().unwrap_or(0) > 3 << 20, "{s}");
}
