//! End-to-end tests of the cluster runtime with real processes and real faults, on both
//! network backends: a 3-node cluster of the stand-in node (`examples/stand_in_node.rs`), a
//! partition that isolates a node (peer links fail, then work again after heal), pause/resume,
//! kill/restart on the same data dir, and a shutdown that leaves no namespace, link or process.

mod cluster_support;

use std::collections::BTreeSet;
use std::time::Duration;

use cluster_support::*;
use harness::cluster::{Cluster, ClusterError, Grudge};
use harness::netmode::NetMode;
use harness::systems::raft_kv::RaftKv;
use harness::systems::{Capabilities, NodeSpec, ReadyProbe, System, SystemError};

fn isolate(node: &str, all: &[&str]) -> Grudge {
    let mut g = Grudge::new();
    let others: BTreeSet<String> = all
        .iter()
        .filter(|n| **n != node)
        .map(|s| s.to_string())
        .collect();
    g.insert(node.to_string(), others.clone());
    for o in others {
        g.insert(o, [node.to_string()].into_iter().collect());
    }
    g
}

async fn peers_of(c: &Cluster, node: &str) -> serde_json::Value {
    let spec = c.nodes().iter().find(|n| n.name == node).unwrap();
    get_json(spec.client_addr, "/peers").await.expect("peers")
}

async fn exercise(mode: NetMode) {
    let (cfg, _dir) = config(3, mode);
    let prefix = cfg.run_prefix.clone();
    let run_dir = cfg.run_dir.clone();
    let _guard = LeftoverGuard(prefix.clone());
    let cluster = Cluster::start(cfg, test_db())
        .await
        .expect("cluster starts");
    assert_eq!(cluster.net_mode(), mode);
    let names = ["n1", "n2", "n3"];
    assert_eq!(cluster.node_names(), names);
    if mode == NetMode::Netns {
        assert_eq!(
            net_leftovers(&prefix).len(),
            5,
            "3 node ns + switch ns + host link"
        );
        // Each node is in its own namespace with its own address.
        let addrs: BTreeSet<_> = cluster.nodes().iter().map(|n| n.listen.ip()).collect();
        assert_eq!(addrs.len(), 3);
    } else {
        for n in cluster.nodes() {
            assert!(n.listen.ip().is_loopback());
            // Peers are reached through proxies, not directly.
            for (_, _, a) in &n.peer_addrs {
                assert!(cluster.nodes().iter().all(|m| m.listen != *a));
            }
        }
    }
    assert!(run_dir.join("cleanup.json").is_file());

    // Everyone hears everyone.
    for n in names {
        let p = peers_of(&cluster, n).await;
        assert!(
            p.as_object().unwrap().values().all(|v| v == true),
            "{n}: {p}"
        );
    }

    // Isolate n1: its peer links fail both ways, the others still talk; the harness still
    // reaches n1 (client traffic is never cut).
    cluster
        .partition(&isolate("n1", &names))
        .await
        .expect("partition");
    let p1 = peers_of(&cluster, "n1").await;
    assert_eq!(
        p1,
        serde_json::json!({"n2": false, "n3": false}),
        "n1 isolated"
    );
    let p2 = peers_of(&cluster, "n2").await;
    assert_eq!(
        p2,
        serde_json::json!({"n1": false, "n3": true}),
        "n2 sees only n3"
    );
    cluster.heal().await.expect("heal");
    let p1 = peers_of(&cluster, "n1").await;
    assert_eq!(p1, serde_json::json!({"n2": true, "n3": true}), "healed");

    // Pause n2: it stops answering and its process is stopped; resume brings it back.
    let pid2 = cluster.pid("n2").unwrap().unwrap();
    let n2 = cluster.nodes()[1].client_addr;
    cluster.pause("n2").expect("pause");
    assert_eq!(proc_state(pid2), Some('T'));
    assert!(
        get_json(n2, "/status").await.is_err(),
        "a paused node must not answer"
    );
    cluster.resume("n2").expect("resume");
    assert_eq!(get_json(n2, "/status").await.unwrap()["id"], 2);

    // Kill n3: the process is gone; restart runs it again on the same data dir.
    let pid3 = cluster.pid("n3").unwrap().unwrap();
    let n3 = cluster.nodes()[2].client_addr;
    assert_eq!(get_json(n3, "/status").await.unwrap()["boots"], 1);
    cluster.kill("n3").expect("kill");
    assert_eq!(proc_state(pid3), None, "killed and reaped");
    assert!(!cluster.is_running("n3").unwrap());
    assert!(get_json(n3, "/status").await.is_err());
    cluster.restart("n3").await.expect("restart");
    assert_ne!(cluster.pid("n3").unwrap(), Some(pid3));
    assert_eq!(
        get_json(n3, "/status").await.unwrap()["boots"],
        2,
        "same data dir"
    );
    let log = std::fs::read_to_string(run_dir.join("nodes/n3/stderr.log")).unwrap();
    assert_eq!(
        log.matches("listening on").count(),
        2,
        "log appended across restarts"
    );

    // Unknown nodes are errors, not panics.
    assert!(matches!(
        cluster.pause("n9"),
        Err(ClusterError::UnknownNode(_))
    ));

    // Shutdown (with a partition and a pause still active) leaves nothing behind.
    cluster.partition(&isolate("n2", &names)).await.unwrap();
    cluster.pause("n3").unwrap();
    let pids: Vec<i32> = names
        .iter()
        .map(|n| cluster.pid(n).unwrap().unwrap())
        .collect();
    cluster.shutdown().await.expect("shutdown");
    for pid in pids {
        assert_eq!(proc_state(pid), None, "pid {pid} gone");
    }
    assert!(marked_pids(&prefix).is_empty());
    assert!(
        net_leftovers(&prefix).is_empty(),
        "{:?}",
        net_leftovers(&prefix)
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("cleanup.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["cleaned"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn netns_cluster_partition_pause_kill_and_clean_shutdown() {
    if !is_root() {
        eprintln!("skipped: netns needs root");
        return;
    }
    tokio::time::timeout(Duration::from_secs(90), exercise(NetMode::Netns))
        .await
        .expect("bounded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_cluster_partition_pause_kill_and_clean_shutdown() {
    tokio::time::timeout(Duration::from_secs(90), exercise(NetMode::Proxy))
        .await
        .expect("bounded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_cluster_without_shutdown_cleans_up() {
    let mode = if is_root() {
        NetMode::Netns
    } else {
        NetMode::Proxy
    };
    let (cfg, _dir) = config(2, mode);
    let prefix = cfg.run_prefix.clone();
    let _guard = LeftoverGuard(prefix.clone());
    let cluster = Cluster::start(cfg, test_db()).await.expect("start");
    let pid = cluster.pid("n1").unwrap().unwrap();
    drop(cluster);
    assert_eq!(proc_state(pid), None);
    assert!(marked_pids(&prefix).is_empty());
    assert!(net_leftovers(&prefix).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_exits_at_startup_is_named_with_its_log() {
    let (cfg, _dir) = config(2, NetMode::Proxy);
    let prefix = cfg.run_prefix.clone();
    let _guard = LeftoverGuard(prefix.clone());
    // `false` exits at once with status 1.
    let db = Box::new(RaftKv::with_bin("/bin/false"));
    let err = match Cluster::start(cfg, db).await {
        Ok(_) => panic!("a node that exits must fail startup"),
        Err(e) => e,
    };
    match &err {
        ClusterError::NodeStart { node, reason, log } => {
            // Both nodes exit; whichever the harness sees first is named, with its own log.
            assert!(node == "n1" || node == "n2", "{node}");
            assert!(reason.contains("exit status: 1"), "{reason}");
            let own_log = format!("nodes/{node}/stderr.log");
            assert!(log.ends_with(&own_log), "{}", log.display());
        }
        other => panic!("unexpected error {other}"),
    }
    assert!(marked_pids(&prefix).is_empty());
}

/// A system whose nodes all try to listen on one fixed address (to provoke "port in use").
struct FixedPortDb {
    bin: std::path::PathBuf,
    addr: std::net::SocketAddr,
}

impl System for FixedPortDb {
    fn name(&self) -> &str {
        "fixed-port"
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            proxy: true,
            leader_in_status: false,
            workloads: vec![],
            protocol: workloads::clients::Protocol::RaftKv,
            discards_data_on_pass: false,
        }
    }
    fn command(
        &self,
        node: &NodeSpec,
        _cluster: &[NodeSpec],
    ) -> Result<std::process::Command, SystemError> {
        let mut c = std::process::Command::new(&self.bin);
        c.args([
            "--id",
            &node.id.to_string(),
            "--listen",
            &self.addr.to_string(),
        ]);
        c.arg("--data-dir").arg(&node.data_dir);
        Ok(c)
    }
    fn ready_probe(&self, _node: &NodeSpec) -> ReadyProbe {
        ReadyProbe::Tcp
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_in_use_is_reported_clearly() {
    let (cfg, _dir) = config(1, NetMode::Proxy);
    let _guard = LeftoverGuard(cfg.run_prefix.clone());
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let db = Box::new(FixedPortDb {
        bin: stand_in_node_bin(),
        addr: taken.local_addr().unwrap(),
    });
    let err = match Cluster::start(cfg, db).await {
        Ok(_) => panic!("must fail: the port is taken"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("node n1 failed to start"), "{err}");
    assert!(err.contains("already in use"), "{err}");
    assert!(err.contains("stderr.log"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_never_answers_times_out_naming_it() {
    let (mut cfg, _dir) = config(1, NetMode::Proxy);
    cfg.startup_timeout = Duration::from_millis(800);
    let prefix = cfg.run_prefix.clone();
    let _guard = LeftoverGuard(prefix.clone());
    // A "node" that ignores its arguments and never listens.
    let script = _dir.path().join("silent.sh");
    std::fs::write(&script, "#!/bin/sh\nexec sleep 30\n").unwrap();
    let mut perms = std::fs::metadata(&script).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&script, perms).unwrap();
    let db = Box::new(RaftKv::with_bin(script));
    let t = std::time::Instant::now();
    let err = match Cluster::start(cfg, db).await {
        Ok(_) => panic!("must time out"),
        Err(e) => e.to_string(),
    };
    assert!(t.elapsed() < Duration::from_secs(5));
    assert!(
        err.contains("n1") && err.contains("did not answer"),
        "{err}"
    );
    assert!(
        marked_pids(&prefix).is_empty(),
        "the silent node was killed"
    );
}

#[test]
fn cluster_can_be_shared_across_tasks() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Cluster>();
}
