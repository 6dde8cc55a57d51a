//! Side-by-side throughput of the lock service and ZooKeeper (an ignored measurement, not a
//! test of speed): for each system and each client count, one `harness test --workload lock
//! --nemesis none` run of 3 nodes (both with fsync on: lock-node's default, ZooKeeper's
//! forceSync default), every client on its own lock (`--keys` = clients × 8, so pairs rarely
//! wait on each other), and the acquire/release pairs per second counted from the history
//! (ok releases over the main phase), with the latency of a pair (acquire invoke to release
//! ok). Prints one table.
//!
//! ```text
//! cargo build --release -p harness -p lock-service
//! HARNESS_BIN_DIR=$PWD/target/release LOCK_BENCH_SECS=10 \
//!   cargo test --release -p harness --test lock_throughput -- --ignored --nocapture
//! ```

mod e2e_support;

use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

fn secs() -> String {
    std::env::var("LOCK_BENCH_SECS").unwrap_or_else(|_| "10".into())
}

/// (pairs/s, p50 ms, p99 ms) from a run's history.
fn pairs(dir: &Path, secs: f64) -> (f64, f64, f64) {
    let text = std::fs::read_to_string(dir.join("history.jsonl")).expect("history");
    let mut started: HashMap<String, i64> = HashMap::new();
    let mut lat = Vec::new();
    for v in text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
    {
        let p = v["process"].to_string();
        let t = v["time"].as_i64().unwrap_or(0);
        match (v["f"].as_str(), v["type"].as_str()) {
            (Some("acquire"), Some("invoke")) => {
                started.insert(p, t);
            }
            (Some("release"), Some("ok")) => {
                if let Some(s) = started.remove(&p) {
                    lat.push((t - s) as f64 / 1e6);
                }
            }
            _ => {}
        }
    }
    lat.sort_by(|a, b| a.total_cmp(b));
    let q = |f: f64| {
        lat.get(((lat.len() as f64 - 1.0) * f) as usize)
            .copied()
            .unwrap_or(0.0)
    };
    (lat.len() as f64 / secs, q(0.5), q(0.99))
}

#[test]
#[ignore = "a measurement: several minutes of real clusters"]
fn lock_service_and_zookeeper_side_by_side() {
    let _guard = e2e_support::serial();
    let secs = secs();
    let mut rows = Vec::new();
    for db in ["lock-service", "zookeeper"] {
        for clients in [1usize, 8, 32] {
            let store = tempfile::tempdir().expect("store");
            let store_s = store.path().to_string_lossy().into_owned();
            let conc = clients.to_string();
            let keys = (clients * 8).to_string();
            let ran = e2e_support::harness(&[
                "test",
                "--db",
                db,
                "--workload",
                "lock",
                "--nemesis",
                "none",
                "--nodes",
                "3",
                "--concurrency",
                &conc,
                "--keys",
                &keys,
                "--time-limit",
                &secs,
                "--recovery-time",
                "0",
                "--no-report",
                "--seed",
                "1",
                "--store",
                &store_s,
            ]);
            assert!(
                ran.code == 0,
                "{db} {clients}: exit {}\n{}\n{}",
                ran.code,
                ran.stdout,
                ran.stderr
            );
            let (rate, p50, p99) = pairs(&e2e_support::run_dir(&ran), secs.parse().unwrap());
            rows.push(format!(
                "| {db} | {clients} | {rate:.0} | {p50:.1} ms | {p99:.1} ms |"
            ));
        }
    }
    println!("| system | clients | pairs/s | pair p50 | pair p99 |\n|---|---:|---:|---:|---:|");
    for r in rows {
        println!("{r}");
    }
}
