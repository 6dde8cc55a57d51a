//! Measures the cluster runtime's own costs: `cluster_timing NODE_BIN NET NODES [ROUNDS]`
//! starts a cluster ROUNDS times (default 3) and prints, per round, the wall time of start (to
//! every node ready and a leader known), partition, heal, pause+resume, kill+restart (to ready)
//! and shutdown, as one JSON line each.

use std::time::{Duration, Instant};

use harness::cluster::cleanup::new_run_prefix;
use harness::cluster::nemesis::{plan_grudge, PartitionShape};
use harness::cluster::{Cluster, ClusterConfig};
use harness::systems::raft_kv::RaftKv;
use rand::SeedableRng;

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e5).round() / 100.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    if a.len() < 3 {
        eprintln!("usage: cluster_timing NODE_BIN NET NODES [ROUNDS]");
        std::process::exit(2);
    }
    let (Ok(net), Ok(nodes)) = (a[1].parse(), a[2].parse::<usize>()) else {
        eprintln!("bad NET or NODES");
        std::process::exit(2);
    };
    let rounds: usize = a.get(3).and_then(|r| r.parse().ok()).unwrap_or(3);
    for round in 0..rounds {
        let dir = match tempfile::tempdir() {
            Ok(d) => d,
            Err(e) => {
                eprintln!("tempdir: {e}");
                std::process::exit(1);
            }
        };
        let cfg = ClusterConfig {
            nodes,
            net,
            run_dir: dir.path().to_path_buf(),
            run_prefix: new_run_prefix(),
            startup_timeout: Duration::from_secs(30),
            fake_clocks: None,
            peer_proxies: false,
        };
        let db = Box::new(RaftKv::with_bin(a[0].clone()));
        let t = Instant::now();
        let c = match Cluster::start(cfg, db).await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("start: {e}");
                std::process::exit(1);
            }
        };
        let start = t.elapsed();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(round as u64);
        let g = plan_grudge(&PartitionShape::Halves, &c.node_names(), &mut rng);
        let t = Instant::now();
        let r1 = c.partition(&g).await;
        let partition = t.elapsed();
        let t = Instant::now();
        let r2 = c.heal().await;
        let heal = t.elapsed();
        let t = Instant::now();
        let r3 = c.pause("n2").and_then(|()| c.resume("n2"));
        let pause = t.elapsed();
        let t = Instant::now();
        let r4 = c.kill("n2");
        let r5 = c.restart("n2").await;
        let restart = t.elapsed();
        let t = Instant::now();
        let r6 = c.shutdown().await;
        let shutdown = t.elapsed();
        for r in [r1, r2, r3, r4, r5, r6] {
            if let Err(e) = r {
                eprintln!("error: {e}");
                std::process::exit(1);
            }
        }
        println!(
            "{}",
            serde_json::json!({
                "net": a[1], "nodes": nodes, "round": round,
                "start_ms": ms(start), "partition_ms": ms(partition), "heal_ms": ms(heal),
                "pause_resume_ms": ms(pause), "kill_restart_ms": ms(restart), "shutdown_ms": ms(shutdown),
            })
        );
    }
}
