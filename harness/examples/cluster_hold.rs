//! Starts a cluster and holds it until a signal arrives: the subject of the cluster runtime's
//! signal and crash tests. `cluster_hold NODE_BIN RUN_DIR PREFIX NET NODES` prints one JSON
//! line `{"pids":[...]}` once the cluster is up, with the Ctrl-C / SIGTERM cleanup installed.

use std::time::Duration;

use harness::cluster::{install_signal_cleanup, Cluster, ClusterConfig, RaftKvDb};

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
    };
    let db = Box::new(RaftKvDb {
        bin: a[0].clone().into(),
        bugs: vec![],
        extra_args: vec![],
    });
    if let Err(e) = install_signal_cleanup() {
        eprintln!("signal handler: {e}");
        std::process::exit(1);
    }
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
    loop {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}
