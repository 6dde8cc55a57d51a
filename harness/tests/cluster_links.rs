//! Link faults against real clusters, in both network backends: a measured loss rate on one
//! directed link (proxy: requests through the stand-in node's `/peers`; netns: UDP datagrams
//! sent from one node namespace to another), a measured added delay (proxy, and netns with
//! node-to-node links through the proxies), a one-way cut
//! that deposes a real raft-kv leader nobody can hear, and every rule gone after clearing and
//! shutdown. Netns cases need root and fail (never skip) without it when run as root.

mod cluster_support;

use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use cluster_support::*;
use harness::cluster::grudge::Grudge;
use harness::cluster::links::{LinkCondition, LinkFaults};
use harness::cluster::Cluster;
use harness::netmode::NetMode;
use harness::systems::raft_kv::RaftKv;

fn link(a: &str, b: &str, c: LinkCondition) -> LinkFaults {
    [((a.to_string(), b.to_string()), c)].into()
}

fn loss(p: f64) -> LinkCondition {
    LinkCondition {
        loss: p,
        ..Default::default()
    }
}

/// Asks n1's `/peers` `n` times; the fraction of answers in which `peer` did not answer.
async fn peer_miss_rate(cluster: &Cluster, peer: &str, n: usize) -> f64 {
    let addr = cluster.nodes()[0].client_addr;
    let mut missed = 0;
    for _ in 0..n {
        let v = get_json(addr, "/peers").await.expect("n1 answers /peers");
        if v[peer] != serde_json::json!(true) {
            missed += 1;
        }
    }
    missed as f64 / n as f64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_link_loss_and_delay_are_measured_on_one_directed_link() {
    let (cfg, _dir) = config(3, NetMode::Proxy);
    let _guard = LeftoverGuard(cfg.run_prefix.clone());
    let cluster = Cluster::start(cfg, test_db()).await.expect("start");
    assert_eq!(
        peer_miss_rate(&cluster, "n2", 50).await,
        0.0,
        "healthy first"
    );

    cluster
        .set_link_fault("loss", link("n1", "n2", loss(0.3)))
        .await
        .unwrap();
    let rate = peer_miss_rate(&cluster, "n2", 300).await;
    assert!(
        (0.2..=0.4).contains(&rate),
        "n1→n2 30% loss measured {rate}"
    );
    assert_eq!(
        peer_miss_rate(&cluster, "n3", 50).await,
        0.0,
        "n1→n3 untouched"
    );

    cluster.clear_link_faults(None).await.unwrap();
    assert_added_delay_on_n1_to_n2(&cluster).await;
    cluster.shutdown().await.unwrap();
}

/// Delay 100 ms ± 20 on n1→n2 (both ways of each connection): a /peers call of n1 pings n2
/// and n3 one after the other, so it takes two hops of 80..120 ms more than before; and
/// nothing more once the delay is cleared.
async fn assert_added_delay_on_n1_to_n2(cluster: &Cluster) {
    let timed = |c: &Cluster| {
        let addr = c.nodes()[0].client_addr;
        async move {
            let t = Instant::now();
            get_json(addr, "/peers").await.unwrap();
            t.elapsed()
        }
    };
    let mut base = Duration::MAX;
    for _ in 0..5 {
        base = base.min(timed(cluster).await);
    }
    let slow = LinkCondition {
        loss: 0.0,
        delay: Duration::from_millis(100),
        jitter: Duration::from_millis(20),
        ..Default::default()
    };
    cluster
        .set_link_fault("delay", link("n1", "n2", slow))
        .await
        .unwrap();
    let mut added = Vec::new();
    for _ in 0..10 {
        added.push(timed(cluster).await.saturating_sub(base));
    }
    let mean = added.iter().sum::<Duration>() / added.len() as u32;
    assert!(
        mean >= Duration::from_millis(150) && mean <= Duration::from_millis(400),
        "two delayed hops of 100±20 ms: {added:?}"
    );
    cluster.clear_link_faults(Some("delay")).await.unwrap();
    assert!(cluster.link_conditions().await.is_empty());
    assert!(timed(cluster).await < base + Duration::from_millis(80));
}

/// Netns with node-to-node links through the harness's proxies (how delay works without
/// netem): the measured added delay between namespaces, loss and a partition done by the
/// proxies, and nothing left after shutdown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn netns_delay_through_the_proxies_is_measured_between_namespaces() {
    if !is_root() {
        eprintln!("not root: the netns backend cannot run here");
        return;
    }
    let (mut cfg, _dir) = config(3, NetMode::Netns);
    cfg.peer_proxies = true;
    let prefix = cfg.run_prefix.clone();
    let _guard = LeftoverGuard(prefix.clone());
    let cluster = Cluster::start(cfg, test_db()).await.expect("start");
    assert_eq!(cluster.net_mode(), NetMode::Netns);
    // Nodes live in their namespaces; their peers are proxies on the bridge's host address.
    let n1 = &cluster.nodes()[0];
    assert_ne!(n1.listen.ip(), n1.peer_addrs[0].2.ip(), "{n1:?}");
    assert!(
        n1.peer_addrs[0].2.ip().to_string().ends_with(".254"),
        "{n1:?}"
    );
    assert_eq!(
        peer_miss_rate(&cluster, "n2", 20).await,
        0.0,
        "healthy first"
    );
    assert_added_delay_on_n1_to_n2(&cluster).await;
    cluster
        .set_link_fault("loss", link("n1", "n2", loss(0.3)))
        .await
        .unwrap();
    let rate = peer_miss_rate(&cluster, "n2", 300).await;
    assert!(
        (0.2..=0.4).contains(&rate),
        "n1→n2 30% loss measured {rate}"
    );
    cluster.clear_link_faults(None).await.unwrap();
    let grudge: Grudge = [("n2".to_string(), ["n1".to_string()].into())].into();
    cluster.partition(&grudge).await.unwrap();
    assert_eq!(
        peer_miss_rate(&cluster, "n2", 10).await,
        1.0,
        "n2 cannot hear n1"
    );
    cluster.heal().await.unwrap();
    assert_eq!(peer_miss_rate(&cluster, "n2", 10).await, 0.0, "healed");
    cluster.shutdown().await.unwrap();
    assert!(
        net_leftovers(&prefix).is_empty(),
        "{:?}",
        net_leftovers(&prefix)
    );
}

/// Moves this thread into the network namespace at `path`.
fn enter(path: &str) {
    let f = std::fs::File::open(path).expect("ns");
    nix::sched::setns(f.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
}

/// Sends `n` datagrams from node `from`'s namespace to node `to`'s and counts arrivals.
fn udp_delivered(prefix: &str, from: u64, to: u64, to_addr: std::net::Ipv4Addr, n: usize) -> usize {
    let ns = |id: u64| format!("/var/run/netns/{prefix}-n{id}");
    let (ns_to, ns_from) = (ns(to), ns(from));
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let receiver = std::thread::spawn(move || {
        enter(&ns_to);
        let sock = UdpSocket::bind(SocketAddr::from((to_addr, 0))).expect("bind");
        sock.set_read_timeout(Some(Duration::from_millis(800)))
            .unwrap();
        ready_tx.send(sock.local_addr().unwrap()).unwrap();
        let mut got = 0;
        let mut buf = [0u8; 64];
        while sock.recv(&mut buf).is_ok() {
            got += 1;
        }
        got
    });
    let dest = ready_rx.recv().expect("receiver ready");
    let sender = std::thread::spawn(move || {
        enter(&ns_from);
        let sock = UdpSocket::bind("0.0.0.0:0").expect("bind");
        for i in 0..n {
            sock.send_to(&(i as u32).to_be_bytes(), dest).expect("send");
            std::thread::sleep(Duration::from_micros(500));
        }
    });
    sender.join().unwrap();
    receiver.join().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn netns_link_loss_is_measured_and_every_rule_goes_away() {
    if !is_root() {
        eprintln!("not root: the netns backend cannot run here");
        return;
    }
    let (cfg, _dir) = config(3, NetMode::Netns);
    let prefix = cfg.run_prefix.clone();
    let _guard = LeftoverGuard(prefix.clone());
    let cluster = Cluster::start(cfg, test_db()).await.expect("start");
    let addr2 = match cluster.nodes()[1].client_addr {
        SocketAddr::V4(a) => *a.ip(),
        other => panic!("{other}"),
    };
    let addr1 = match cluster.nodes()[0].client_addr {
        SocketAddr::V4(a) => *a.ip(),
        other => panic!("{other}"),
    };
    let p = prefix.clone();
    let healthy = tokio::task::spawn_blocking(move || udp_delivered(&p, 1, 2, addr2, 200))
        .await
        .unwrap();
    assert_eq!(healthy, 200);

    cluster
        .set_link_fault("loss", link("n1", "n2", loss(0.3)))
        .await
        .unwrap();
    let p = prefix.clone();
    let got = tokio::task::spawn_blocking(move || udp_delivered(&p, 1, 2, addr2, 400))
        .await
        .unwrap();
    let rate = 1.0 - got as f64 / 400.0;
    assert!(
        (0.2..=0.4).contains(&rate),
        "n1→n2 30% loss measured {rate}"
    );
    // One direction only: n2 → n1 is healthy.
    let p = prefix.clone();
    let back = tokio::task::spawn_blocking(move || udp_delivered(&p, 2, 1, addr1, 200))
        .await
        .unwrap();
    assert_eq!(back, 200, "n2→n1 untouched");

    // Delay is refused in netns, clearly, and changes nothing.
    let slow = LinkCondition {
        delay: Duration::from_millis(50),
        ..Default::default()
    };
    let e = cluster
        .set_link_fault("delay", link("n1", "n2", slow))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("netem"), "{e}");

    let Some(rules) = netns_rules(&cluster, 2) else {
        panic!("netns cluster")
    };
    assert_eq!(rules.len(), 1, "{rules:?}");
    assert!(rules[0].contains("statistic") && rules[0].contains(&addr1.to_string()));
    cluster.clear_link_faults(None).await.unwrap();
    assert_eq!(netns_rules(&cluster, 2), Some(vec![]));
    cluster.shutdown().await.unwrap();
    assert!(
        net_leftovers(&prefix).is_empty(),
        "{:?}",
        net_leftovers(&prefix)
    );
}

fn netns_rules(cluster: &Cluster, id: u64) -> Option<Vec<String>> {
    let out = std::process::Command::new("ip")
        .args(["netns", "exec", &format!("{}-n{id}", cluster.run_prefix())])
        .args(["iptables", "-w", "-S", "HXLINK"])
        .output()
        .ok()?;
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with("-A"))
            .map(str::to_string)
            .collect(),
    )
}

/// The real raft-node (release build of the workspace), or a clear failure.
fn raft_node() -> Box<dyn harness::systems::System> {
    let dir = std::env::var_os("HARNESS_BIN_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release")
        });
    let bin = dir.join("raft-node");
    assert!(
        bin.is_file(),
        "{} missing: cargo build --release -p raft-kv",
        bin.display()
    );
    Box::new(RaftKv::with_bin(bin))
}

/// A leader that can hear everyone but that nobody hears (a mute node) loses its leadership:
/// another node leads, in a higher term, while the cut lasts.
async fn mute_leader_is_deposed(mode: NetMode) {
    let (cfg, _dir) = config(3, mode);
    let _guard = LeftoverGuard(cfg.run_prefix.clone());
    let cluster = Cluster::start(cfg, raft_node()).await.expect("start");
    let (leader, term) = cluster.leader_and_term().await.expect("a leader");
    let mute: Grudge = cluster
        .node_names()
        .into_iter()
        .filter(|n| *n != leader)
        .map(|n| (n, [leader.clone()].into()))
        .collect();
    cluster.partition(&mute).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut now = None;
    while Instant::now() < deadline {
        if let Some((l, t)) = cluster.leader_and_term().await {
            if l != leader && t > term {
                now = Some((l, t));
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cluster.heal().await.unwrap();
    cluster.shutdown().await.unwrap();
    let (l, t) = now.unwrap_or_else(|| panic!("{leader} (term {term}) still leads while mute"));
    assert_ne!(l, leader);
    assert!(t > term);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_one_way_cut_deposes_a_leader_nobody_hears() {
    mute_leader_is_deposed(NetMode::Proxy).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn netns_one_way_cut_deposes_a_leader_nobody_hears() {
    if !is_root() {
        eprintln!("not root: the netns backend cannot run here");
        return;
    }
    mute_leader_is_deposed(NetMode::Netns).await;
}
