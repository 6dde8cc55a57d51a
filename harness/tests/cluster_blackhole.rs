//! The netns backend's fallback for hosts without a working iptables: partitions as blackhole
//! routes inside the node namespaces. (A file of its own: the test sets an environment
//! variable, which would leak into other tests of the same binary; the other test here does not
//! partition, so it does not care which method is in force.)

mod cluster_support;

use std::time::Duration;

use cluster_support::*;
use harness::cluster::net::netns::NO_IPTABLES_ENV;
use harness::cluster::{Cluster, Grudge};
use harness::netmode::NetMode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blackhole_routes_partition_and_heal_without_iptables() {
    if !is_root() {
        eprintln!("skipped: netns needs root");
        return;
    }
    std::env::set_var(NO_IPTABLES_ENV, "1");
    let (cfg, _dir) = config(3, NetMode::Netns);
    let prefix = cfg.run_prefix.clone();
    let _guard = LeftoverGuard(prefix.clone());
    let body = async {
        let c = Cluster::start(cfg, test_db()).await.expect("start");
        let addr = |i: usize| c.nodes()[i].client_addr;
        let g: Grudge =
            serde_json::from_str(r#"{"n1":["n2","n3"],"n2":["n1"],"n3":["n1"]}"#).unwrap();
        c.partition(&g).await.unwrap();
        let ns = format!("{prefix}-n1");
        let routes = std::process::Command::new("ip")
            .args(["-n", &ns, "route", "show", "type", "blackhole"])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&routes.stdout).lines().count(), 2);
        assert_eq!(
            get_json(addr(0), "/peers").await.unwrap(),
            serde_json::json!({"n2": false, "n3": false})
        );
        assert_eq!(
            get_json(addr(1), "/peers").await.unwrap(),
            serde_json::json!({"n1": false, "n3": true})
        );
        c.heal().await.unwrap();
        assert_eq!(
            get_json(addr(0), "/peers").await.unwrap(),
            serde_json::json!({"n2": true, "n3": true})
        );
        c.shutdown().await.unwrap();
        assert!(net_leftovers(&prefix).is_empty());
    };
    tokio::time::timeout(Duration::from_secs(60), body)
        .await
        .expect("bounded");
}

/// `Cluster::start` must not need a multi-threaded runtime (a plain `#[tokio::test]`).
#[tokio::test]
async fn a_current_thread_runtime_can_start_a_netns_cluster() {
    if !is_root() {
        eprintln!("skipped: netns needs root");
        return;
    }
    let (cfg, _dir) = config(1, NetMode::Netns);
    let prefix = cfg.run_prefix.clone();
    let _guard = LeftoverGuard(prefix.clone());
    let c = Cluster::start(cfg, test_db()).await.expect("start");
    assert_eq!(c.net_mode(), NetMode::Netns);
    c.shutdown().await.unwrap();
    assert!(net_leftovers(&prefix).is_empty());
}
