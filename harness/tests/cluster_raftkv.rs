//! The cluster runtime with the real `raft-node` (when it is built next to the test binaries):
//! startup waits for a leader; isolating the leader makes the majority elect another one (so
//! the partition really cuts peer traffic), healing and kill/restart on the same data dir work.

mod cluster_support;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use cluster_support::*;
use harness::cluster::{Cluster, Grudge};
use harness::netmode::NetMode;
use harness::systems::raft_kv::RaftKv;

fn raft_node() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let p = exe.parent()?.parent()?.join("raft-node");
    p.is_file().then_some(p)
}

async fn leaders(c: &Cluster, among: &[&str]) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    for n in c
        .nodes()
        .iter()
        .filter(|n| among.contains(&n.name.as_str()))
    {
        if let Ok(s) = get_json(n.client_addr, "/status").await {
            if s["role"] == "leader" {
                out.push((n.name.clone(), s["term"].as_u64().unwrap_or(0)));
            }
        }
    }
    out
}

async fn wait_leader(c: &Cluster, among: &[&str], not: Option<&str>) -> (String, u64) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let ls = leaders(c, among).await;
        if let Some(l) = ls.into_iter().find(|(n, _)| Some(n.as_str()) != not) {
            return l;
        }
        assert!(Instant::now() < deadline, "no leader among {among:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn exercise(mode: NetMode) {
    let Some(bin) = raft_node() else {
        eprintln!("skipped: raft-node not built (cargo build -p raft-kv)");
        return;
    };
    let (cfg, _dir) = config(3, mode);
    let _guard = LeftoverGuard(cfg.run_prefix.clone());
    let db = Box::new(RaftKv::with_bin(bin).with_args(&["--no-fsync"]));
    let c = Cluster::start(cfg, db).await.expect("raft cluster starts");
    let all = ["n1", "n2", "n3"];
    let (leader, term) = wait_leader(&c, &all, None).await;
    let asked = c.leader().await.expect("a leader is known");
    assert!(all.contains(&asked.as_str()));

    // Isolate the leader: the other two elect a new one in a later term.
    let others: Vec<&str> = all.iter().copied().filter(|n| *n != leader).collect();
    let mut g = Grudge::new();
    g.insert(
        leader.clone(),
        others.iter().map(|s| s.to_string()).collect(),
    );
    for o in &others {
        g.insert(o.to_string(), BTreeSet::from([leader.clone()]));
    }
    c.partition(&g).await.unwrap();
    let (new_leader, new_term) = wait_leader(&c, &others, None).await;
    assert_ne!(new_leader, leader);
    assert!(new_term > term);
    c.heal().await.unwrap();

    // Kill the follower that voted in the new term (not the old leader, which may not have
    // heard of it yet right after the heal) and restart it on the same data dir.
    let victim = others.iter().find(|n| **n != new_leader).unwrap();
    c.kill(victim).unwrap();
    c.restart(victim).await.expect("restart");
    let spec = c.nodes().iter().find(|n| n.name == *victim).unwrap();
    let s = get_json(spec.client_addr, "/status").await.unwrap();
    assert!(
        s["term"].as_u64().unwrap() >= new_term,
        "persisted term: {s}"
    );
    c.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raft_cluster_elects_again_when_the_leader_is_isolated_netns() {
    if !is_root() {
        eprintln!("skipped: netns needs root");
        return;
    }
    tokio::time::timeout(Duration::from_secs(90), exercise(NetMode::Netns))
        .await
        .expect("bounded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raft_cluster_elects_again_when_the_leader_is_isolated_proxy() {
    tokio::time::timeout(Duration::from_secs(90), exercise(NetMode::Proxy))
        .await
        .expect("bounded");
}
