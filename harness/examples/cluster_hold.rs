//! Starts a cluster and holds it until a signal arrives: the subject of the cluster runtime's
//! signal and crash tests. `cluster_hold NODE_BIN RUN_DIR PREFIX NET NODES` prints one JSON
//! line `{"pids":[...]}` once the cluster is up; on SIGINT / SIGTERM (the runner's
//! [`Interrupt`]) it shuts the cluster down and exits 130 / 143.

use std::time::Duration;

use harness::cluster::{Cluster, ClusterConfig};
use harness::run::signals::Interrupt;
use harness::systems::raft_kv::RaftKv;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    if a.len() != 5 {
        eprintln!("usage: cluster_hold NODE_BIN RUN_DIR PREFIX NET NODES");
        std::process::exit(2);
    }
    let (Ok(net), Ok(nodes)) = (a[3].parse(), a[4].parse()) else {
        eprintln!("bad NET or NODES");
        std::process::exit(2);
    };
    let cfg = ClusterConfig {
        nodes,
        net,
        run_dir: a[1].clone().into(),
        run_prefix: a[2].clone(),
        startup_timeout: Duration::from_secs(15),
        fake_clocks: None,
        peer_proxies: false,
    };
    let db = Box::new(RaftKv::with_bin(a[0].clone()));
    let interrupt = match Interrupt::install() {
        Ok(i) => i,
        Err(e) => {
            eprintln!("signal handler: {e}");
            std::process::exit(1);
        }
    };
    let cluster = match Cluster::start(cfg, db).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("start: {e}");
            std::process::exit(1);
        }
    };
    let pids: Vec<i32> = cluster
        .node_names()
        .iter()
        .filter_map(|n| cluster.pid(n).ok().flatten())
        .collect();
    println!("{}", serde_json::json!({ "pids": pids }));
    interrupt.wait().await;
    let code = interrupt.exit_code().unwrap_or(1);
    if let Err(e) = cluster.shutdown().await {
        eprintln!("shutdown: {e}");
    }
    std::process::exit(code);
}
